/* Grading for exercise 02 (backend-features): features.so, function level.
 *
 * The library runs in the suite's loader (gb_dl.h), never in the suite. The
 * expected answers are worked out here from libevent itself, one backend at a
 * time, in the same environment as the student's code (gb_setenv() changes
 * both): so EVENT_NOEPOLL / EVENT_NOPOLL change both sides alike, and a
 * hard-coded "epoll" fails as soon as epoll is disabled.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define GB_EXERCISE "02-backend-features"
#include "gb_dl.h"

/* The functions of features.h, as the loader (loader/02-backend-features.c) calls them. */
enum { DESCRIBE = 1, METHOD_WITH, METHOD_FEATURES, BOTH_N };

static struct gb_lib *lib(void) { return gb_load("features.so"); }

/* describe_features(features, got, len) on a buffer of size n; returns what it returned. */
static int describe(int features, char *got, size_t n, size_t len)
{
    struct gb_msg m = {.fn = DESCRIBE, .a = {features, (int64_t)len}, .in = got, .inlen = n};
    char during[64];
    snprintf(during, sizeof during, "describe_features(0x%x, buf, %zu)", features, len);
    gb_do(lib(), &m, during);
    memcpy(got, m.out, n);
    return (int)m.v[0];
}

/* method_with(required, avoid): the name it returned, or NULL (in a static buffer). */
static const char *method_with(int required, const char *avoid)
{
    static char name[GB_MAX + 1];
    struct gb_msg m = {.fn = METHOD_WITH,
                       .a = {required, avoid != NULL},
                       .in = avoid,
                       .inlen = avoid ? strlen(avoid) + 1 : 0};
    gb_do(lib(), &m, "method_with()");
    memcpy(name, m.out, m.outlen + 1);
    return m.v[0] ? name : NULL;
}

static int method_features(const char *method)
{
    struct gb_msg m = {.fn = METHOD_FEATURES, .in = method, .inlen = strlen(method) + 1};
    char during[64];
    snprintf(during, sizeof during, "method_features(\"%.32s\")", method);
    gb_do(lib(), &m, during);
    return (int)m.v[0];
}

static const struct {
    int bit;
    const char *name;
} fnames[] = {{EV_FEATURE_ET, "ET"},
              {EV_FEATURE_O1, "O1"},
              {EV_FEATURE_FDS, "FDS"},
              {EV_FEATURE_EARLY_CLOSE, "EARLY_CLOSE"}};

static void expected_text(int features, char *out)
{
    unsigned rest = (unsigned)features;
    out[0] = '\0';
    for (size_t i = 0; i < 4; i++)
        if (rest & (unsigned)fnames[i].bit) {
            if (out[0])
                strcat(out, "|");
            strcat(out, fnames[i].name);
            rest &= ~(unsigned)fnames[i].bit;
        }
    if (rest)
        sprintf(out + strlen(out), "%s0x%x", out[0] ? "|" : "", rest);
    if (!out[0])
        strcpy(out, "none");
}

/* A copy of event_get_supported_methods(): libevent frees the array it
 * returned last time on every call (the names themselves stay valid), so a
 * loop over it must not call anything that calls it again. */
static const char **methods(void)
{
    static const char *copy[16];
    const char **all = event_get_supported_methods();
    int i = 0;
    for (; all[i] && i < 15; i++)
        copy[i] = all[i];
    copy[i] = NULL;
    return copy;
}

/* The features of one backend, found the long way: a base that may use only it. */
static int truth_features(const char *method)
{
    const char **all = event_get_supported_methods();
    struct event_config *cfg = event_config_new();
    int known = 0;
    for (int i = 0; all[i]; i++) {
        if (strcmp(all[i], method) == 0)
            known = 1;
        else
            event_config_avoid_method(cfg, all[i]);
    }
    struct event_base *b = known ? event_base_new_with_config(cfg) : NULL;
    event_config_free(cfg);
    if (!b)
        return -1;
    int f = event_base_get_features(b);
    event_base_free(b);
    return f;
}

/* The first backend, in libevent's order of preference, that is available,
 * not avoided, and has every required feature. */
static const char *truth_pick(int required, const char *avoid)
{
    const char **all = methods();
    for (int i = 0; all[i]; i++) {
        if (avoid && strcmp(all[i], avoid) == 0)
            continue;
        int f = truth_features(all[i]);
        if (f >= 0 && (f & required) == required)
            return all[i];
    }
    return NULL;
}

static void check_describe(int features, const char *why)
{
    char want[128], got[128];
    expected_text(features, want);
    memset(got, 0, sizeof got);
    int n = describe(features, got, sizeof got, sizeof got);
    cr_assert(strcmp(got, want) == 0, "describe_features(0x%x) wrote \"%s\", expected \"%s\"%s%s",
              features, got, want, why ? ": " : "", why ? why : "");
    cr_assert_eq(n, (int)strlen(want),
                 "describe_features(0x%x) returned %d, expected %zu (the length, "
                 "like snprintf)",
                 features, n, strlen(want));
}

GRADED(backend_features, t01_describe_each_flag, 2, 10.0,
       "describe_features: all four EV_FEATURE_* flags")
{
    check_describe(EV_FEATURE_ET, NULL);
    check_describe(EV_FEATURE_O1, NULL);
    check_describe(EV_FEATURE_FDS, NULL);
    check_describe(EV_FEATURE_EARLY_CLOSE,
                   "EV_FEATURE_EARLY_CLOSE (0x08) is the fourth flag, the one "
                   "seed 000's program does not check");
}

GRADED(backend_features, t02_describe_real_backends, 2, 10.0,
       "describe_features: what epoll, poll and select report")
{
    const char **all = methods();
    for (int i = 0; all[i]; i++) {
        int feat = truth_features(all[i]);
        if (feat >= 0) {
            char why[64];
            snprintf(why, sizeof why, "these are %s's features", all[i]);
            check_describe(feat, why);
        }
    }
    check_describe(EV_FEATURE_ET | EV_FEATURE_O1 | EV_FEATURE_EARLY_CLOSE,
                   "names joined by '|', lowest bit first");
    check_describe(0, "no feature at all is \"none\"");
    check_describe(0x30, "bits with no name, as one hex number");
    check_describe(EV_FEATURE_FDS | 0x100, "named bits first, then the rest in hex");
}

static void check_pick(int required, const char *avoid)
{
    const char *want = truth_pick(required, avoid);
    const char *got = method_with(required, avoid);
    char req[128];
    expected_text(required, req);
    if (!want)
        cr_assert_null(got,
                       "method_with(%s, %s%s%s) returned \"%s\", but no backend here has %s%s: "
                       "return NULL when event_base_new_with_config() does",
                       req, avoid ? "\"" : "", avoid ? avoid : "NULL", avoid ? "\"" : "", got, req,
                       avoid ? " without the avoided one" : "");
    else
        cr_assert(
            got && strcmp(got, want) == 0,
            "method_with(%s, %s%s%s) returned %s%s%s, expected \"%s\" "
            "(the first backend in event_get_supported_methods() order that is not avoided, not "
            "disabled by EVENT_NO*, and has every required feature)",
            req, avoid ? "\"" : "", avoid ? avoid : "NULL", avoid ? "\"" : "", got ? "\"" : "",
            got ? got : "NULL", got ? "\"" : "", want);
}

GRADED(backend_features, t03_method_with_requirements, 3, 10.0,
       "method_with: event_config_require_features")
{
    check_pick(EV_FEATURE_FDS, NULL);
    check_pick(EV_FEATURE_ET, NULL);
    check_pick(EV_FEATURE_EARLY_CLOSE, NULL);
    check_pick(EV_FEATURE_O1 | EV_FEATURE_FDS, NULL); /* nothing on Linux */
    check_pick(0, NULL);
}

GRADED(backend_features, t04_method_with_avoid, 3, 10.0, "method_with: event_config_avoid_method")
{
    check_pick(0, "epoll");
    check_pick(EV_FEATURE_EARLY_CLOSE, "epoll");
    check_pick(EV_FEATURE_ET, "epoll");
    check_pick(0, "poll");
    check_pick(0, "select");
    check_pick(0, "kqueue"); /* not here: avoids nothing */
}

GRADED(backend_features, t05_method_with_follows_environment, 2, 10.0,
       "method_with: EVENT_NOEPOLL/EVENT_NOPOLL count")
{
    gb_setenv(lib(), "EVENT_NOEPOLL", "1");
    check_pick(0, NULL);
    check_pick(EV_FEATURE_ET, NULL);
    gb_setenv(lib(), "EVENT_NOPOLL", "1");
    check_pick(0, NULL);
    check_pick(EV_FEATURE_EARLY_CLOSE, NULL);
}

GRADED(backend_features, t06_method_features_per_backend, 3, 10.0,
       "method_features: the features of one named backend")
{
    const char **all = methods();
    for (int i = 0; all[i]; i++) {
        int want = truth_features(all[i]), got = method_features(all[i]);
        char w[128], g[128];
        expected_text(want, w);
        expected_text(got, g);
        cr_assert_eq(got, want, "method_features(\"%s\") returned %d (%s), expected %d (%s)%s",
                     all[i], got, got >= 0 ? g : "-", want, want >= 0 ? w : "-",
                     want < 0 ? ": this backend is disabled by the environment here" : "");
    }
    cr_assert_eq(method_features("kqueue"), -1,
                 "method_features(\"kqueue\") must be -1: this libevent has no kqueue");
    cr_assert_eq(method_features("bogus"), -1, "method_features(\"bogus\") must be -1");
}

GRADED(backend_features, t07_nothing_left_behind, 3, 30.0,
       "method_with/method_features free their config and base")
{
    const char *first = methods()[0];
    int want_f = truth_features(first);
    const char *want_m = truth_pick(EV_FEATURE_FDS, NULL);
    method_with(EV_FEATURE_FDS, NULL);
    method_features(first);
    int fds = gb_fds(lib());
    size_t heap = gb_heap(lib());
    cr_assert(want_m, "no backend here has FDS (a grader problem)");
    /* 2000 calls of each in the loader; it stops at the first wrong answer. */
    char in[128];
    int n = snprintf(in, sizeof in, "%s%c%s", first, '\0', want_m);
    struct gb_msg m = {.fn = BOTH_N,
                       .a = {EV_FEATURE_FDS, want_f, 2000},
                       .in = in,
                       .inlen = (size_t)n + 1,
                       .limit = 25};
    gb_do(lib(), &m, "2000 calls of method_with() and method_features()");
    cr_assert(m.v[1] != 1, "call %d: method_with(FDS, NULL) returned %s, expected %s", (int)m.v[0],
              m.out, want_m);
    cr_assert(m.v[1] != 2, "call %d: method_features(\"%s\") returned %s, expected %d", (int)m.v[0],
              first, m.out, want_f);
    int fds_after = gb_fds(lib());
    long grew = (long)gb_heap(lib()) - (long)heap;
    cr_assert(fds_after <= fds,
              "after 2000 calls of each function %d more fds are open: every "
              "event_base holds an fd (epoll's, or a signal pipe) until event_base_free()",
              fds_after - fds);
    cr_assert(grew < 64 * 1024,
              "after 2000 calls of each function the heap grew by %ld bytes: "
              "event_config_free() the config and event_base_free() the base before returning",
              grew);
}
