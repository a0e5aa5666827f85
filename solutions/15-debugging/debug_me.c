/* debug_me.c -- exercise 15 (reference): a countdown whose ticks come faster
 * and faster, written so that libevent's debug mode finds nothing wrong.
 *
 * Usage: debug_me [--count N] [--start-ms MS] [--debug]
 * Prints "tick 1" ... "tick N" and "done"; the first tick comes after MS ms,
 * and each wait is half the one before (at least 1 ms).
 *
 * Build on its own:
 *   cc -Wall -o debug_me debug_me.c $(pkg-config --cflags --libs libevent)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

struct countdown {
    struct event *timer;
    int tick, count, ms;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct countdown *cd = arg;
    (void)fd;
    (void)what;
    printf("tick %d\n", ++cd->tick);
    if (cd->tick == cd->count) {
        /* Only delete here: main() frees the event exactly once. */
        event_del(cd->timer);
        return;
    }
    cd->ms = cd->ms > 1 ? cd->ms / 2 : 1;
    struct timeval tv = {cd->ms / 1000, (cd->ms % 1000) * 1000};
    // [reschedule]
    /* The event is still pending (EV_PERSIST): event_add() with a new
     * timeout reschedules it. event_assign() on a pending event is the bug
     * debug mode reports as "already added". */
    if (event_add(cd->timer, &tv) < 0) {
        fprintf(stderr, "debug_me: event_add() failed\n");
        event_del(cd->timer); /* nothing left: the loop returns */
    }
    // [/reschedule]
}

static int number(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 100000) {
        fprintf(stderr, "debug_me: '%s' is not a number from 1 to 100000\n", s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"count", required_argument, NULL, 'c'},
                                         {"start-ms", required_argument, NULL, 's'},
                                         {"debug", no_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct countdown cd = {.count = 5, .ms = 160};
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'c': cd.count = number(optarg); break;
        case 's': cd.ms = number(optarg); break;
        case 'd': event_enable_debug_mode(); break; /* before any base exists */
        case 'h': printf("usage: debug_me [--count N] [--start-ms MS] [--debug]\n"); return 0;
        default:
            fprintf(stderr, "usage: debug_me [--count N] [--start-ms MS] [--debug]\n");
            return 2;
        }
    }
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "debug_me: event_base_new() failed\n");
        return 1;
    }
    cd.timer = event_new(base, -1, EV_PERSIST, on_tick, &cd);
    if (!cd.timer) {
        fprintf(stderr, "debug_me: event_new() failed\n");
        return 1;
    }
    struct timeval tv = {cd.ms / 1000, (cd.ms % 1000) * 1000};
    if (event_add(cd.timer, &tv) < 0) {
        fprintf(stderr, "debug_me: event_add() failed\n");
        return 1;
    }
    event_base_dispatch(base);
    printf("done\n");
    event_free(cd.timer);
    event_base_free(base);
    return 0;
}
