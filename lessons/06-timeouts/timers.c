/* timers.c -- a one-shot timer and a persistent timer.
 *
 * Teaches: a timer is an event with no fd (evtimer_new). Added with a
 * timeval, a one-shot timer fires once and is then no longer pending; a timer
 * made with EV_PERSIST fires again and again at the same interval until
 * something deletes it (here its own callback, after N ticks). When nothing
 * is pending any more, dispatch returns 1.
 *
 * Builds on: lesson 03 (pending / non-pending) and 05 (the loop).
 *
 * Build and run on its own:
 *   cc -Wall -o timers timers.c $(pkg-config --cflags --libs libevent)
 *   ./timers
 *   ./timers --ticks 5 --interval-ms 20
 */
#include <getopt.h>

#include "../lesson.h"

static struct event *one_shot, *ticker;
static int ticks, max_ticks = 3;

static const char *pending(struct event *ev)
{
    return evtimer_pending(ev, NULL) ? "pending" : "not pending";
}

static void on_one_shot(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)arg;
    printf("  one-shot fired (%s); it is now %s\n", FLAGS(what), pending(one_shot));
}

// [persist]
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)arg;
    ticks++;
    printf("  tick %d (%s); the ticker is %s\n", ticks, FLAGS(what), pending(ticker));
    if (ticks == max_ticks) {
        if (event_del(ticker) < 0) /* the only way a persistent timer stops */
            die("event_del failed");
        printf("  tick %d: event_del(ticker); it is now %s\n", ticks, pending(ticker));
    }
}
// [/persist]

static void usage(FILE *to)
{
    fprintf(to, "usage: timers [--interval-ms N] [--ticks N] [--step] [--help]\n"
                "  --interval-ms N  the persistent timer's interval (default 40)\n"
                "  --ticks N        ticks before the ticker deletes itself (default 3)\n"
                "  --step           pause before each step (also EVLAB_STEP=1)\n"
                "  --help           show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"interval-ms", required_argument, NULL, 'i'},
                                         {"ticks", required_argument, NULL, 't'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int interval = 40;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "i:t:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'i': interval = (int)lesson_num(optarg, 1, 10000, "--interval-ms"); break;
        case 't': max_ticks = (int)lesson_num(optarg, 1, 1000, "--ticks"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "timers: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct event_base *base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");

    step("1. a one-shot timer and a persistent timer");
    // [make]
    one_shot = evtimer_new(base, on_one_shot, NULL);
    if (one_shot == NULL)
        die("evtimer_new failed");
    ticker = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    if (ticker == NULL)
        die("event_new failed");
    // [/make]

    step("2. add them, then run the loop until nothing is pending");
    /* Added after the prompt: time spent there does not count. */
    // [add]
    struct timeval once_tv = {0, 10 * 1000};
    struct timeval every = {interval / 1000, (interval % 1000) * 1000};
    if (evtimer_add(one_shot, &once_tv) < 0)
        die("evtimer_add failed");
    if (event_add(ticker, &every) < 0)
        die("event_add failed");
    // [/add]
    printf("one-shot: %s (10 ms); ticker: %s (every %d ms, stops after %d ticks)\n",
           pending(one_shot), pending(ticker), interval, max_ticks);
    int rv = event_base_dispatch(base);
    printf("dispatch returned %d: %d tick(s), one-shot %s, ticker %s\n", rv, ticks,
           pending(one_shot), pending(ticker));

    event_free(one_shot);
    event_free(ticker);
    event_base_free(base);
    return 0;
}
