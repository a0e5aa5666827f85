/* methods.c -- exercise 01: the backends libevent has, and the one a
 * configured base picks. README.md next to this file has the interface.
 *
 * Usage: methods [--avoid NAME]... [--ignore-env] [--help]
 *
 * Build on its own:
 *   cc -Wall -o methods methods.c $(pkg-config --cflags --libs libevent)
 * Check:
 *   ./evlab check 01
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
    for (int c; (c = getopt_long(argc, argv, "a:ih", opts, NULL)) != -1;) {
        switch (c) {
        case 'a': /* TODO: reject unknown names (exit 2); avoid the method */ break;
        case 'i': /* TODO: ignore EVENT_NO* */ break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    printf("version: %s\n", event_get_version());
    printf("supported: epoll poll select\n"); /* TODO: ask libevent */

    /* TODO: a base from an event_config; exit 3 if there is none. */
    struct event_base *base = event_base_new();
    printf("picked: %s\n", event_base_get_method(base));
    event_base_free(base);
    return 0;
}
