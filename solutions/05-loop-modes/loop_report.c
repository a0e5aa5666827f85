/* loop_report.c -- exercise 05 (reference): run the loop in a given mode,
 * then report how many callbacks ran and why the loop returned.
 *
 * Usage: loop_report [--tick-ms T] [--ticks K] [--run-ms N] [--break-after M]
 *                    [--once | --nonblock] [--no-exit-on-empty]
 *
 * Build on its own:
 *   cc -Wall -o loop_report loop_report.c $(pkg-config --cflags --libs libevent)
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

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct state *st = arg;
    (void)fd;
    (void)what;
    st->callbacks++;
    if (st->break_after && st->callbacks == st->break_after)
        event_base_loopbreak(st->base); /* stop now, skip whatever else is active */
    if (st->ticks && st->callbacks == st->ticks)
        event_del(st->tick); /* no event left: the loop may return 1 */
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
        case 'o': flags |= EVLOOP_ONCE; break;
        case 'n': flags |= EVLOOP_NONBLOCK; break;
        case 'e': flags |= EVLOOP_NO_EXIT_ON_EMPTY; break;
        case 'h':
            printf("usage: loop_report [--tick-ms T] [--ticks K] [--run-ms N] [--break-after M] "
                   "[--once | --nonblock] [--no-exit-on-empty]\n");
            return 0;
        default: fprintf(stderr, "usage: loop_report [options]; see --help\n"); return 2;
        }
    }
    st.base = event_base_new();
    if (!st.base) {
        fprintf(stderr, "loop_report: event_base_new() failed\n");
        return 1;
    }
    st.tick = event_new(st.base, -1, EV_PERSIST, on_tick, &st);
    if (!st.tick) {
        fprintf(stderr, "loop_report: event_new() failed\n");
        return 1;
    }
    struct timeval tv = {tick_ms / 1000, (tick_ms % 1000) * 1000};
    if (event_add(st.tick, &tv) < 0) {
        fprintf(stderr, "loop_report: event_add() failed\n");
        return 1;
    }
    if (run_ms >= 0) {
        struct timeval run = {run_ms / 1000, (run_ms % 1000) * 1000};
        if (event_base_loopexit(st.base, &run) < 0) {
            fprintf(stderr, "loop_report: event_base_loopexit() failed\n");
            return 1;
        }
    }
    // [report]
    int rc = event_base_loop(st.base, flags);
    const char *why = event_base_got_break(st.base)  ? "break"
                      : event_base_got_exit(st.base) ? "exit"
                      : rc == 1                      ? "empty"
                                                     : "once";
    printf("callbacks: %d\nreturned: %d\nreason: %s\n", st.callbacks, rc, why);
    // [/report]
    event_free(st.tick);
    event_base_free(st.base);
    return 0;
}
