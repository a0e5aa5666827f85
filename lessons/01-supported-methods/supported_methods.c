/* supported_methods.c -- which backends libevent has, and which one it picks.
 *
 * Teaches: libevent wraps the OS's readiness APIs ("methods" or "backends":
 * epoll, poll, select here; kqueue on BSD and macOS, devpoll and evport on
 * Solaris, win32 on Windows, where IOCP serves only bufferevents).
 * event_get_supported_methods() lists what this build has, in order of
 * preference (the eventops[] array in libevent's event.c); a new event_base
 * takes the first one not disabled. The EVENT_NOEPOLL / EVENT_NOPOLL /
 * EVENT_NOSELECT environment variables disable one each (set to anything,
 * even 0), and a base created with EVENT_BASE_FLAG_IGNORE_ENV ignores those.
 * EVENT_SHOW_METHOD (also set to anything) makes libevent log its choice,
 * and it is read even under EVENT_BASE_FLAG_IGNORE_ENV
 * (event_base_new_with_config in event.c checks it unconditionally).
 *
 * Builds on: nothing; this is lesson 01.
 *
 * Build and run on its own:
 *   cc -Wall -o supported_methods supported_methods.c $(pkg-config --cflags --libs libevent)
 *   ./supported_methods
 *   EVENT_NOEPOLL=1 ./supported_methods
 *   EVENT_NOEPOLL=1 EVENT_NOPOLL=1 EVENT_NOSELECT=1 ./supported_methods
 *   EVENT_SHOW_METHOD=0 EVENT_NOEPOLL=1 ./supported_methods --ignore-env
 */
#include <getopt.h>

#include "../lesson.h"

static const char *const backend_env[] = {"EVENT_NOEPOLL", "EVENT_NOPOLL", "EVENT_NOSELECT",
                                          "EVENT_SHOW_METHOD"};

static void usage(FILE *to)
{
    fprintf(to, "usage: supported_methods [--ignore-env] [--step] [--help]\n"
                "  --ignore-env  create the base with EVENT_BASE_FLAG_IGNORE_ENV\n"
                "  --step        pause before each step (also EVLAB_STEP=1)\n"
                "  --help        show this text\n"
                "environment: EVENT_NOEPOLL, EVENT_NOPOLL, EVENT_NOSELECT, EVENT_SHOW_METHOD\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"ignore-env", no_argument, NULL, 'i'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool ignore_env = false;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "ish", opts, NULL)) != -1;) {
        switch (c) {
        case 'i': ignore_env = true; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "supported_methods: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. the library version");
    // [version]
    printf("runtime libevent:  %s (event_get_version)\n", event_get_version());
    printf("compiled against:  %s (LIBEVENT_VERSION)\n", LIBEVENT_VERSION);
    // [/version]

    step("2. the methods this build supports, most preferred first");
    // [methods]
    const char **methods = event_get_supported_methods();
    for (int i = 0; methods[i] != NULL; i++)
        printf("  %d. %s\n", i + 1, methods[i]);
    // [/methods]
    printf("(the list is fixed at build time: environment variables do not change it)\n");
    printf("other systems' builds list others: kqueue (BSD, macOS), evport and devpoll\n"
           "(Solaris), win32 (Windows; there IOCP is used only for bufferevents, with\n"
           "EVENT_BASE_FLAG_STARTUP_IOCP: it is not a method of its own)\n");

    step("3. the environment that steers the choice");
    for (size_t i = 0; i < sizeof backend_env / sizeof backend_env[0]; i++) {
        const char *v = getenv(backend_env[i]);
        printf("  %-18s %s\n", backend_env[i], v ? "set" : "not set");
    }

    step("4. the method a new base picks%s", ignore_env ? " (ignoring the environment)" : "");
    // [pick]
    struct event_config *cfg = event_config_new();
    if (cfg == NULL)
        die("event_config_new failed");
    if (ignore_env)
        event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base) {
        /* Not a crash: libevent returns NULL and logs "[warn] ... no event
         * mechanism available" when every backend is disabled. */
        fprintf(stderr, "error: event_base_new_with_config() returned NULL: no backend is left.\n"
                        "       Every method is disabled; unset one of EVENT_NOEPOLL,\n"
                        "       EVENT_NOPOLL, EVENT_NOSELECT (or run with --ignore-env).\n");
        return 1;
    }
    printf("the new base uses: %s (event_base_get_method)\n", event_base_get_method(base));
    if (ignore_env && getenv("EVENT_SHOW_METHOD"))
        printf("(EVENT_SHOW_METHOD still logged the choice on stderr: IGNORE_ENV does not\n"
               "cover it)\n");
    // [/pick]
    event_base_free(base);
    return 0;
}
