/* require_features.c -- ask for a backend by what it can do, or by what to avoid.
 *
 * Teaches: event_config_require_features() makes libevent skip every method
 * that lacks a feature; event_config_avoid_method() skips a method by name.
 * When no method is left, event_base_new_with_config() returns NULL (and
 * libevent logs "no event mechanism available"): a program must check for
 * that and say why, not crash. On Linux nothing offers O1 and FDS together.
 *
 * Builds on: features.c (the feature bits of each method).
 *
 * Build and run on its own:
 *   cc -Wall -o require_features require_features.c $(pkg-config --cflags --libs libevent)
 *   ./require_features                       # a tour of four requests
 *   ./require_features --require o1,fds      # one request of your own
 *   ./require_features --avoid epoll --require early-close
 */
#include <getopt.h>

#include "../lesson.h"

static const struct {
    const char *word;
    int bit;
} words[] = {{"et", EV_FEATURE_ET},
             {"o1", EV_FEATURE_O1},
             {"fds", EV_FEATURE_FDS},
             {"early-close", EV_FEATURE_EARLY_CLOSE}};

static const char *feature_names(int f, char *buf, size_t len)
{
    static const char *const names[] = {"ET", "O1", "FDS", "EARLY_CLOSE"};
    buf[0] = '\0';
    for (int i = 0; i < 4; i++)
        if (f & (1 << i))
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? "|" : "", names[i]);
    return buf[0] ? buf : "none";
}
#define FEATURES(f) feature_names((f), (char[64]){0}, 64)

/* "et,fds" -> EV_FEATURE_ET|EV_FEATURE_FDS; -1 if a word is unknown. */
static int parse_features(const char *list)
{
    int f = 0;
    char copy[128];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save, *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int bit = -1;
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (strcmp(w, words[i].word) == 0)
                bit = words[i].bit;
        if (bit < 0)
            return -1;
        f |= bit;
    }
    return f;
}

/* One request: returns true if a base came back. */
static bool request(int required, const char *const avoid[], int n_avoid)
{
    printf("  request: require %s", FEATURES(required));
    for (int i = 0; i < n_avoid; i++)
        printf(", avoid %s", avoid[i]);
    printf("\n");
    // [request]
    struct event_config *cfg = event_config_new();
    if (cfg == NULL)
        die("event_config_new failed");
    for (int i = 0; i < n_avoid; i++)
        event_config_avoid_method(cfg, avoid[i]);
    event_config_require_features(cfg, required);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg); /* the base keeps no pointer to it */
    if (!base) {
        /* Not an error in libevent's eyes: NULL means "no method fits". */
        printf("  result: NULL -- no method left that has %s\n", FEATURES(required));
        return false;
    }
    printf("  result: %s (features %s)\n", event_base_get_method(base),
           FEATURES(event_base_get_features(base)));
    event_base_free(base);
    // [/request]
    return true;
}

/* Why the NULL: list each supported method with the features it lacks. */
static void explain(int required)
{
    const char *names[8] = {NULL};
    const char **list = event_get_supported_methods(); /* copy: see features.c */
    for (int i = 0; list[i] && i < 7; i++)
        names[i] = list[i];
    for (int i = 0; names[i]; i++) {
        struct event_config *cfg = method_config(names[i]);
        struct event_base *base = event_base_new_with_config(cfg);
        event_config_free(cfg);
        if (!base) {
            printf("    %-7s disabled here (EVENT_NO*)\n", names[i]);
            continue;
        }
        int f = event_base_get_features(base);
        printf("    %-7s has %-18s lacks %s\n", names[i], FEATURES(f), FEATURES(required & ~f));
        event_base_free(base);
    }
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: require_features [--require LIST] [--avoid METHOD]... [--step] [--help]\n"
            "  --require LIST  features to require, comma-separated: et,o1,fds,early-close\n"
            "  --avoid METHOD  never use METHOD (may repeat); names are not checked by libevent\n"
            "  --step          pause before each step (also EVLAB_STEP=1)\n"
            "  --help          show this text\n"
            "with no --require/--avoid: a tour of four requests\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"require", required_argument, NULL, 'r'},
                                         {"avoid", required_argument, NULL, 'a'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int required = 0, n_avoid = 0;
    bool custom = false;
    const char *avoid[8];
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "r:a:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'r':
            if ((required = parse_features(optarg)) < 0) {
                fprintf(stderr, "require_features: bad --require '%s'\n", optarg);
                usage(stderr);
                return 2;
            }
            custom = true;
            break;
        case 'a':
            if (n_avoid == 8) {
                fprintf(stderr, "require_features: too many --avoid\n");
                usage(stderr);
                return 2;
            }
            avoid[n_avoid++] = optarg;
            custom = true;
            break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "require_features: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    if (custom) {
        step("1. your request");
        if (request(required, avoid, n_avoid))
            return 0;
        explain(required);
        return 1;
    }

    step("1. require edge-triggered events");
    request(EV_FEATURE_ET, NULL, 0);
    step("2. require every fd type (regular files too)");
    request(EV_FEATURE_FDS, NULL, 0);
    step("3. avoid epoll, require EV_CLOSED support");
    request(EV_FEATURE_EARLY_CLOSE, (const char *const[]){"epoll"}, 1);
    step("4. require O(1) and every fd type: nothing has both");
    if (!request(EV_FEATURE_O1 | EV_FEATURE_FDS, NULL, 0))
        explain(EV_FEATURE_O1 | EV_FEATURE_FDS);
    printf("  (a NULL base is an answer, not a crash: check it, then relax the request)\n");
    return 0;
}
