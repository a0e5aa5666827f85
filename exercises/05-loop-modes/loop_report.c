/* loop_report.c -- exercise 05: run the loop in a given mode, then report how
 * many callbacks ran and why the loop returned. README.md has the interface.
 *
 * Usage: loop_report [--tick-ms T] [--ticks K] [--run-ms N] [--break-after M]
 *                    [--once | --nonblock] [--no-exit-on-empty]
 *
 * Build on its own:
 *   cc -Wall -o loop_report loop_report.c $(pkg-config --cflags --libs libevent)
 * Check:
 *   ./evlab check 05
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

struct state {
    struct event_base *base;
    struct event *tick;
    int callbacks, ticks, break_after;
};

/* Called every --tick-ms (once the timer exists). */
void on_tick(evutil_socket_t fd, short what, void *arg);
void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct state *st = arg;
    (void)fd;
    (void)what;
    st->callbacks++;
    /* TODO: break the loop after --break-after callbacks; remove the timer
     * after --ticks callbacks. */
}

static int number(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 1000000) {
        fprintf(stderr, "loop_report: '%s' is not a number from 0 to 1000000\n", s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"tick-ms", required_argument, NULL, 't'},
                                         {"ticks", required_argument, NULL, 'k'},
                                         {"run-ms", required_argument, NULL, 'r'},
                                         {"break-after", required_argument, NULL, 'b'},
                                         {"once", no_argument, NULL, 'o'},
                                         {"nonblock", no_argument, NULL, 'n'},
                                         {"no-exit-on-empty", no_argument, NULL, 'e'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct state st = {0};
    int tick_ms = 10, run_ms = -1, flags = 0;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 't': tick_ms = number(optarg); break;
        case 'k': st.ticks = number(optarg); break;
        case 'r': run_ms = number(optarg); break;
        case 'b': st.break_after = number(optarg); break;
        case 'o': /* TODO */ break;
        case 'n': /* TODO */ break;
        case 'e': /* TODO */ break;
        case 'h':
            printf("usage: loop_report [--tick-ms T] [--ticks K] [--run-ms N] [--break-after M] "
                   "[--once | --nonblock] [--no-exit-on-empty]\n");
            return 0;
        default: fprintf(stderr, "usage: loop_report [options]; see --help\n"); return 2;
        }
    }
    st.base = event_base_new();
    if (!st.base)
        return 1;
    /* TODO: a persistent timer every tick_ms calling on_tick, and a loop
     * that ends after run_ms (if given). */
    (void)tick_ms;
    (void)run_ms;
    int rc = event_base_loop(st.base, flags);
    printf("callbacks: %d\nreturned: %d\nreason: %s\n", st.callbacks, rc,
           "empty"); /* TODO: the reason */
    event_base_free(st.base);
    return 0;
}
