/* methods.c -- exercise 01, BROKEN VARIANT accepts-any-name (see EXPECT): the backends libevent has, and the
 * one a configured base picks.
 *
 * Usage: methods [--avoid NAME]... [--ignore-env] [--help]
 *
 * Build on its own:
 *   cc -Wall -o methods methods.c $(pkg-config --cflags --libs libevent)
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

static void usage(FILE *to)
{
    fprintf(to, "usage: methods [--avoid NAME]... [--ignore-env] [--help]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"avoid", required_argument, NULL, 'a'},
                                         {"ignore-env", no_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return 1;
    /* Copy the list: the next call of event_get_supported_methods() frees it. */
    const char *supported[16];
    const char **all = event_get_supported_methods();
    int n = 0;
    for (; all[n] && n < 15; n++)
        supported[n] = all[n];
    supported[n] = NULL;

    for (int c; (c = getopt_long(argc, argv, "a:ih", opts, NULL)) != -1;) {
        int known = 0;
        switch (c) {
        case 'a':
            for (int i = 0; i < n; i++)
                known |= strcmp(supported[i], optarg) == 0;
            if (known && 0) { /* BROKEN: any name is accepted */
                fprintf(stderr, "methods: unknown method '%s'\n", optarg);
                usage(stderr);
                event_config_free(cfg);
                return 2;
            }
            event_config_avoid_method(cfg, optarg);
            break;
        case 'i': event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV); break;
        case 'h':
            usage(stdout);
            event_config_free(cfg);
            return 0;
        default:
            usage(stderr);
            event_config_free(cfg);
            return 2;
        }
    }
    printf("version: %s\n", event_get_version());
    printf("supported:");
    for (int i = 0; i < n; i++)
        printf(" %s", supported[i]);
    printf("\n");
    fflush(stdout);

    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base) {
        fprintf(stderr, "methods: no backend is left\n");
        return 3;
    }
    printf("picked: %s\n", event_base_get_method(base));
    event_base_free(base);
    return 0;
}
