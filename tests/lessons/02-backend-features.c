/* Lesson 02: the claims of lessons/02-backend-features/README.md, checked on
 * the real programs. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "evtest.h"

#define FEATURES evt_prog("lessons/02-backend-features/features")
#define REQUIRE evt_prog("lessons/02-backend-features/require_features")

static struct evt_run run(const char *const argv[], const char *const env[])
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, env, NULL, 10), 0, "could not start %s", argv[0]);
    cr_assert_eq(r.term_signal, 0, "%s died of signal %d\nstderr: %s", argv[0], r.term_signal,
                 r.err);
    return r;
}

/* The "method X: features 0xN" line and the yes/no of each flag after it. */
static void expect_method(const char *out, const char *method, const char *mask,
                          const char *const yes_no[4])
{
    char line[64];
    snprintf(line, sizeof line, "method %s: features %s\n", method, mask);
    const char *at = strstr(out, line);
    cr_assert(at, "expected '%s' in:\n%s", line, out);
    static const char *const names[] = {"EV_FEATURE_ET ", "EV_FEATURE_O1 ", "EV_FEATURE_FDS ",
                                        "EV_FEATURE_EARLY_CLOSE "};
    for (int i = 0; i < 4; i++) {
        const char *f = strstr(at, names[i]);
        cr_assert(f, "%s missing after %s", names[i], line);
        const char *v = f + strspn(f + strlen(names[i]), " ") + strlen(names[i]);
        cr_assert(strncmp(v, yes_no[i], strlen(yes_no[i])) == 0,
                  "%s on %s: expected %s, line: %.80s", names[i], method, yes_no[i], f);
    }
}

Test(backend_features, each_method_reports_its_mask_and_four_flags)
{
    struct evt_run r = run(EVT_ARGV(FEATURES), NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    expect_method(r.out, "epoll", "0xb", (const char *const[]){"yes", "yes", "no", "yes"});
    expect_method(r.out, "poll", "0xc", (const char *const[]){"no", "no", "yes", "yes"});
    expect_method(r.out, "select", "0x4", (const char *const[]){"no", "no", "yes", "no"});
    evt_run_free(&r);
}

Test(backend_features, masks_match_the_library_itself)
{
    /* Independent of the program: ask libevent directly for each method. */
    const char *names[] = {"epoll", "poll", "select"};
    const int want[] = {0xb, 0xc, 0x4};
    for (int i = 0; i < 3; i++) {
        struct event_config *cfg = event_config_new();
        for (int j = 0; j < 3; j++)
            if (j != i)
                event_config_avoid_method(cfg, names[j]);
        struct event_base *b = event_base_new_with_config(cfg);
        event_config_free(cfg);
        cr_assert(b, "no base for %s", names[i]);
        cr_assert_str_eq(event_base_get_method(b), names[i]);
        cr_assert_eq(event_base_get_features(b), want[i], "%s: 0x%x", names[i],
                     event_base_get_features(b));
        event_base_free(b);
    }
}

Test(backend_features, fds_flag_regular_file_refused_only_by_epoll)
{
    const char *m[] = {"epoll", "poll", "select"};
    for (int i = 0; i < 3; i++) {
        struct evt_run r = run(EVT_ARGV(FEATURES, "--method", m[i]), NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        if (i == 0) {
            cr_assert(strstr(r.out, "a regular file: event_add -> -1 Operation not permitted"),
                      "%s", r.out);
            cr_assert(strstr(r.err, "Epoll ADD"), "libevent's warning: %s", r.err);
        } else {
            cr_assert(strstr(r.out, "a regular file: event_add -> 0 (accepted)"), "%s: %s", m[i],
                      r.out);
        }
        evt_run_free(&r);
    }
}

Test(backend_features, env_disables_epoll_and_show_method_logs_each_base)
{
    struct evt_run r = run(EVT_ARGV(FEATURES), EVT_ENV("EVENT_NOEPOLL=1"));
    cr_assert(strstr(r.out, "epoll: no base"), "%s", r.out);
    cr_assert(strstr(r.out, "method poll: features 0xc"), "%s", r.out);
    evt_run_free(&r);

    r = run(EVT_ARGV(FEATURES), EVT_ENV("EVENT_SHOW_METHOD=1"));
    cr_assert_eq(evt_count(r.err, "[msg] libevent using: "), 3, "one line per base:\n%s", r.err);
    cr_assert(strstr(r.err, "[msg] libevent using: epoll") &&
                  strstr(r.err, "[msg] libevent using: poll") &&
                  strstr(r.err, "[msg] libevent using: select"),
              "%s", r.err);
    evt_run_free(&r);
}

Test(backend_features, seed_step_names_the_missing_flag)
{
    struct evt_run r = run(EVT_ARGV(FEATURES), NULL);
    cr_assert(strstr(r.out, "EV_FEATURE_EARLY_CLOSE (0x8)"), "%s", r.out);
    evt_run_free(&r);
}

Test(require_features, tour_of_four_requests)
{
    struct evt_run r = run(EVT_ARGV(REQUIRE), NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *a = strstr(r.out, "require ET\n  result: epoll");
    const char *b = strstr(r.out, "require FDS\n  result: poll");
    const char *c = strstr(r.out, "require EARLY_CLOSE, avoid epoll\n  result: poll");
    const char *d = strstr(r.out, "require O1|FDS\n  result: NULL");
    cr_assert(a && b && c && d && a < b && b < c && c < d, "%s", r.out);
    cr_assert(strstr(d, "epoll   has ET|O1|EARLY_CLOSE") && strstr(d, "lacks FDS"), "%s", d);
    cr_assert(strstr(d, "poll    has FDS|EARLY_CLOSE") && strstr(d, "lacks O1"), "%s", d);
    cr_assert(strstr(r.err, "no event mechanism available"), "libevent's warning: %s", r.err);
    evt_run_free(&r);
}

Test(require_features, impossible_requests_are_null_not_a_crash)
{
    const char *lists[] = {"o1,fds", "et,o1,fds,early-close"};
    for (int i = 0; i < 2; i++) {
        struct evt_run r = run(EVT_ARGV(REQUIRE, "--require", lists[i]), NULL);
        cr_assert_eq(r.exit_code, 1, "%s: exit %d", lists[i], r.exit_code);
        cr_assert(strstr(r.out, "result: NULL"), "%s", r.out);
        cr_assert(strstr(r.out, "lacks"), "explained: %s", r.out);
        evt_run_free(&r);
    }
    /* With epoll disabled, ET alone is impossible too. */
    struct evt_run r = run(EVT_ARGV(REQUIRE, "--require", "et"), EVT_ENV("EVENT_NOEPOLL=1"));
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.out, "result: NULL") && strstr(r.out, "epoll   disabled here"), "%s", r.out);
    evt_run_free(&r);
}

Test(require_features, avoid_by_name_and_unknown_names_are_ignored)
{
    struct evt_run r = run(EVT_ARGV(REQUIRE, "--avoid", "epoll"), NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "result: poll"), "%s", r.out);
    evt_run_free(&r);
    r = run(EVT_ARGV(REQUIRE, "--avoid", "kqueue"), NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "result: epoll"), "%s", r.out);
    evt_run_free(&r);
}

/* event_get_supported_methods() frees its previous array: watch it through
 * libevent's own allocator hooks. */
static void *last_freed[16];
static int n_freed;
static void *t_malloc(size_t n) { return malloc(n); }
static void *t_realloc(void *p, size_t n) { return realloc(p, n); }
static void t_free(void *p)
{
    if (n_freed < 16)
        last_freed[n_freed++] = p;
    free(p);
}

Test(require_features, supported_methods_array_is_freed_by_the_next_call)
{
    event_set_mem_functions(t_malloc, t_realloc, t_free);
    const char **first = event_get_supported_methods();
    uintptr_t first_addr = (uintptr_t)first;
    n_freed = 0;
    const char **second = event_get_supported_methods();
    bool freed = false;
    for (int i = 0; i < n_freed; i++)
        freed |= (uintptr_t)last_freed[i] == first_addr;
    cr_assert(freed, "the first array was not freed by the second call");
    cr_assert_str_eq(second[0], "epoll");
}

Test(lesson02, help_bad_flags_and_step)
{
    struct evt_run r = run(EVT_ARGV(FEATURES, "--help"), NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "--method") && strstr(r.out, "--step"));
    evt_run_free(&r);
    r = run(EVT_ARGV(REQUIRE, "--help"), NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "--require") && strstr(r.out, "--avoid"));
    evt_run_free(&r);
    r = run(EVT_ARGV(FEATURES, "--bogus"), NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "usage:"));
    evt_run_free(&r);
    r = run(EVT_ARGV(FEATURES, "--method", "kqueue"), NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--method 'kqueue' is not a backend"), "%s", r.err);
    evt_run_free(&r);
    r = run(EVT_ARGV(REQUIRE, "--require", "fast"), NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "bad --require") && strstr(r.err, "usage:"), "%s", r.err);
    evt_run_free(&r);

    /* Step mode on a tty: Enter once, then q before step 3. */
    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(REQUIRE, "--step"), NULL, "\n\nq\n", 10), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "== 3."), "%s", r.out);
    cr_assert_null(strstr(r.out, "result: NULL"), "q must stop before step 4:\n%s", r.out);
    evt_run_free(&r);
}

Test(lesson02, waiting_at_every_prompt_changes_nothing, .timeout = 60)
{
    evt_assert_step_same(EVT_ARGV(FEATURES), NULL, NULL, 2.0, 40);
    evt_assert_step_same(EVT_ARGV(REQUIRE), NULL, NULL, 2.0, 40);
}
