/* drift.c -- planned vs actual fire times: EV_PERSIST vs re-adding.
 *
 * Teaches: a timer never fires before its time, and usually a little after
 * it. A persistent timer plans each next tick from the previous *planned*
 * time, so lateness does not add up. A one-shot timer that re-adds itself
 * from its callback plans from *now*, after the callback's own work, so
 * every tick adds its lateness and the callback's run time: it drifts.
 *
 * Builds on: timers.c and cached_time.c.
 *
 * Build and run on its own:
 *   cc -Wall -o drift drift.c $(pkg-config --cflags --libs libevent)
 *   ./drift                      # EV_PERSIST
 *   ./drift --re-add             # one-shot, re-added each time
 *   ./drift --re-add --work-ms 0
 *   EVENT_PRECISE_TIMER=1 ./drift
 */
#include <getopt.h>
#include <time.h>

#include "../lesson.h"

static struct event *timer;
static struct timeval interval;
static int interval_ms = 20, work_ms = 3, ticks = 10, n;
static bool re_add;
static double t0;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6 - t0;
}

static void busy_wait(int ms)
{
    double until = now_ms() + ms;
    while (now_ms() < until)
        ;
}

// [tick]
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    n++;
    double actual = now_ms(), planned = (double)n * interval_ms;
    printf("  tick %2d planned %5.0f ms actual %7.1f ms late %6.1f ms\n", n, planned, actual,
           actual - planned);
    busy_wait(work_ms); /* the callback's own work */
    if (n == ticks)
        event_del(timer);
    else if (re_add)
        evtimer_add(timer, &interval); /* planned from now: drift adds up */
}
// [/tick]

static int parse_int(const char *flag, const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || !*s || v < lo || v > hi) {
        fprintf(stderr, "drift: %s wants %d..%d, got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    return (int)v;
}

static void usage(FILE *to)
{
    fprintf(
        to,
        "usage: drift [--re-add] [--interval-ms N] [--work-ms N] [--ticks N] [--step] [--help]\n"
        "  --re-add         a one-shot timer re-added by its callback (default: EV_PERSIST)\n"
        "  --interval-ms N  planned interval (default 20)\n"
        "  --work-ms N      busy work in each callback (default 3)\n"
        "  --ticks N        how many ticks (default 10)\n"
        "  --step           pause before each step (also EVLAB_STEP=1)\n"
        "  --help           show this text\n"
        "environment: EVENT_PRECISE_TIMER=1 uses CLOCK_MONOTONIC instead of the coarse clock\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"re-add", no_argument, NULL, 'r'},
                                         {"interval-ms", required_argument, NULL, 'i'},
                                         {"work-ms", required_argument, NULL, 'w'},
                                         {"ticks", required_argument, NULL, 't'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "ri:w:t:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'r': re_add = true; break;
        case 'i':
            if ((interval_ms = parse_int("--interval-ms", optarg, 1, 10000)) < 0)
                return usage(stderr), 2;
            break;
        case 'w':
            if ((work_ms = parse_int("--work-ms", optarg, 0, 1000)) < 0)
                return usage(stderr), 2;
            break;
        case 't':
            if ((ticks = parse_int("--ticks", optarg, 1, 10000)) < 0)
                return usage(stderr), 2;
            break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "drift: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct event_base *base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");

    step("1. %d ticks of %d ms, %d ms of work each, %s", ticks, interval_ms, work_ms,
         re_add ? "one-shot re-added in the callback" : "EV_PERSIST");
    interval.tv_sec = interval_ms / 1000;
    interval.tv_usec = (interval_ms % 1000) * 1000;
    timer = event_new(base, -1, re_add ? 0 : EV_PERSIST, on_tick, NULL);
    if (timer == NULL)
        die("event_new failed");
    t0 = 0;
    t0 = now_ms();
    CHECK_OK(evtimer_add(timer, &interval));

    step("2. planned vs actual (times vary from run to run)");
    event_base_dispatch(base);
    double total = now_ms();
    printf("last tick planned at %d ms; the run took %.0f ms\n", ticks * interval_ms, total);

    event_free(timer);
    event_base_free(base);
    return 0;
}
