/* drift.c -- planned vs actual fire times: EV_PERSIST vs re-adding.
 *
 * Teaches: a timer usually fires a little after its time, but on libevent's
 * default clock (CLOCK_MONOTONIC_COARSE, a few ms per step) it can also fire
 * up to one clock step EARLY: the deadline is computed from a clock reading
 * that lags the real time. With EVENT_PRECISE_TIMER=1 (CLOCK_MONOTONIC) no
 * tick is early. A persistent timer plans each next tick from the previous
 * *planned* time, so lateness does not add up, as long as no tick is missed:
 * when the callback's work outlasts the interval, libevent plans the next
 * tick from *now* (event_persist_closure in event.c) and lateness grows
 * (try --work-ms 30). A one-shot timer that re-adds itself from its callback
 * always plans from now, after the callback's own work: it drifts.
 *
 * Builds on: timers.c and cached_time.c.
 *
 * Build and run on its own:
 *   cc -Wall -o drift drift.c $(pkg-config --cflags --libs libevent)
 *   ./drift                      # EV_PERSIST
 *   ./drift --re-add             # one-shot, re-added each time
 *   ./drift --re-add --work-ms 0
 *   ./drift --work-ms 30         # ticks missed: EV_PERSIST falls behind too
 *   ./drift --ticks 200 --interval-ms 3 --work-ms 0 ; EVENT_PRECISE_TIMER=1 ./drift ...
 */
#include <getopt.h>
#include <time.h>

#include "../lesson.h"

static struct event *timer;
static struct timeval interval;
static int interval_ms = 20, work_ms = 3, ticks = 10, n, early;
static double first_late, last_late;
static bool re_add, late_clock;
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

/* How far CLOCK_MONOTONIC_COARSE, libevent's default clock, is behind the
 * real monotonic time right now, in ms. */
static double coarse_lag_ms(void)
{
    struct timespec real, coarse;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse);
    clock_gettime(CLOCK_MONOTONIC, &real);
    return (real.tv_sec - coarse.tv_sec) * 1000.0 + (real.tv_nsec - coarse.tv_nsec) / 1e6;
}

/* Wait for the moment the coarse clock lags the most: just before its next
 * step. A deadline computed now is early by that lag. */
static void wait_for_coarse_lag(void)
{
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    double step_ms = res.tv_sec * 1000.0 + res.tv_nsec / 1e6;
    /* Tries for at most 100 ms: on a busy machine the moment can be missed. */
    double give_up = now_ms() + 100;
    for (;;) {
        while (coarse_lag_ms() > step_ms * 0.2 && now_ms() < give_up)
            ; /* the lag falls to ~0 at each step of the coarse clock... */
        while (coarse_lag_ms() < step_ms * 0.75 && now_ms() < give_up)
            ; /* ...and grows until the next one */
        if (coarse_lag_ms() >= step_ms * 0.75 || now_ms() >= give_up)
            return;
    }
}

// [tick]
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    n++;
    double actual = now_ms(), planned = (double)n * interval_ms, late = actual - planned;
    if (late < 0)
        early++;
    if (n == 1)
        first_late = late;
    last_late = late;
    if (ticks <= 20 || n <= 5 || n == ticks)
        printf("  tick %2d planned %5.0f ms actual %7.1f ms late %6.1f ms%s\n", n, planned, actual,
               late, late < 0 ? "  EARLY" : "");
    busy_wait(work_ms); /* the callback's own work */
    if (n == ticks) {
        if (event_del(timer) < 0)
            die("event_del failed");
    } else if (re_add && evtimer_add(timer, &interval) < 0) { /* planned from now: drift */
        die("evtimer_add failed");
    }
}
// [/tick]

static void usage(FILE *to)
{
    fprintf(
        to,
        "usage: drift [--re-add] [--interval-ms N] [--work-ms N] [--ticks N] [--late-clock] "
        "[--step] [--help]\n"
        "  --re-add         a one-shot timer re-added by its callback (default: EV_PERSIST)\n"
        "  --interval-ms N  planned interval (default 20)\n"
        "  --work-ms N      busy work in each callback (default 3)\n"
        "  --ticks N        how many ticks (default 10)\n"
        "  --late-clock     add the timer when the coarse clock lags the most\n"
        "  --step           pause before each step (also EVLAB_STEP=1)\n"
        "  --help           show this text\n"
        "environment: EVENT_PRECISE_TIMER=1 uses CLOCK_MONOTONIC instead of the coarse clock\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"re-add", no_argument, NULL, 'r'},        {"interval-ms", required_argument, NULL, 'i'},
        {"work-ms", required_argument, NULL, 'w'}, {"ticks", required_argument, NULL, 't'},
        {"late-clock", no_argument, NULL, 'l'},    {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "ri:w:t:lsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'r': re_add = true; break;
        case 'l': late_clock = true; break;
        case 'i': interval_ms = (int)lesson_num(optarg, 1, 10000, "--interval-ms"); break;
        case 'w': work_ms = (int)lesson_num(optarg, 0, 1000, "--work-ms"); break;
        case 't': ticks = (int)lesson_num(optarg, 1, 10000, "--ticks"); break;
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
    printf("  the clock: %s\n", getenv("EVENT_PRECISE_TIMER")
                                    ? "CLOCK_MONOTONIC (EVENT_PRECISE_TIMER is set)"
                                    : "CLOCK_MONOTONIC_COARSE (libevent's default)");

    step("2. add the timer, then planned vs actual (times vary from run to run)");
    /* t0 and the timer start only now: time at a step prompt does not count. */
    if (late_clock) {
        wait_for_coarse_lag();
        printf("  --late-clock: adding just before the coarse clock steps, when it lags most\n");
    }
    t0 = 0;
    t0 = now_ms();
    if (evtimer_add(timer, &interval) < 0)
        die("evtimer_add failed");
    event_base_dispatch(base);
    double total = now_ms();
    printf("last tick planned at %d ms; the run took %.0f ms\n", ticks * interval_ms, total);
    printf("early ticks: %d of %d; lateness went from %.1f ms to %.1f ms\n", early, ticks,
           first_late, last_late);
    if (!re_add && work_ms >= interval_ms)
        printf("the work outlasts the interval: each tick is missed, libevent plans the next\n"
               "from now, and even EV_PERSIST falls further behind\n");

    event_free(timer);
    event_base_free(base);
    return 0;
}
