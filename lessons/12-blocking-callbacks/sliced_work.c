/* sliced_work.c -- long CPU work cut into slices, so the loop keeps breathing.
 *
 * Teaches: a long computation in one callback stalls the loop like a sleep.
 * Cut it into short slices; after each slice, re-add a zero-timeout timer for
 * the next one and return. In between, the loop runs every other ready
 * callback (here: the heartbeat), so nothing waits longer than one slice.
 * --no-slice does the same work in one go: watch the heartbeat stall.
 * (The other way out, a worker thread that reports back with event_active,
 * is lesson 13's active_from_thread.c.)
 *
 * Builds on: blocking_accept.c (the heartbeat).
 *
 * Build and run on its own:
 *   cc -Wall -o sliced_work sliced_work.c $(pkg-config --cflags --libs libevent)
 *   ./sliced_work --work-ms 1000
 *   ./sliced_work --work-ms 1000 --no-slice
 */
#include <getopt.h>
#include <time.h>

#include "../lesson.h"

static struct event_base *base;
static struct event *hb, *job;
static long work_ms = 800, slice_ms = 5, done_ms;
static bool sliced = true;
static long t0;

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0;
}

/* CPU work standing for a real computation: spin for `ms`. */
static void compute(long ms)
{
    long until = mono_ms() + ms;
    while (mono_ms() < until)
        ; /* busy: reading the clock keeps the CPU as occupied as real work */
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    static long n, last;
    (void)fd, (void)what, (void)arg;
    long actual = mono_ms(), planned = n ? last + 100 : 100;
    printf("heartbeat %ld: planned +%ld ms, actual +%ld ms, late %ld ms\n", ++n, planned, actual,
           actual - planned);
    last = actual;
}

// [slice]
static void on_job(evutil_socket_t fd, short what, void *arg)
{
    static long slices;
    (void)fd, (void)what, (void)arg;
    long step_ms = sliced ? slice_ms : work_ms - done_ms;
    if (step_ms > work_ms - done_ms)
        step_ms = work_ms - done_ms;
    compute(step_ms);
    done_ms += step_ms;
    slices++;
    if (done_ms < work_ms) {
        struct timeval now = {0, 0};
        if (event_add(job, &now) != 0) /* next slice after the loop had its turn */
            die("event_add() failed for the next slice");
        return;
    }
    printf("job: %ld ms of work done in %ld slice(s), at +%ld ms\n", work_ms, slices, mono_ms());
    struct timeval beats = {0, 250000};
    if (event_base_loopexit(base, &beats) != 0) /* a few more heartbeats, then stop */
        die("event_base_loopexit() failed");
}
// [/slice]

static void usage(FILE *to)
{
    fprintf(to, "usage: sliced_work [--work-ms N] [--slice-ms N] [--no-slice] [--step] [--help]\n"
                "  --work-ms N   total CPU work (default 800)\n"
                "  --slice-ms N  work per callback (default 5)\n"
                "  --no-slice    do all the work in one callback\n"
                "  --step        pause before each step (also EVLAB_STEP=1)\n"
                "  --help        show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"work-ms", required_argument, NULL, 'w'}, {"slice-ms", required_argument, NULL, 'l'},
        {"no-slice", no_argument, NULL, 'n'},      {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "w:l:nsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'w': work_ms = lesson_num(optarg, 1, 60000, "--work-ms"); break;
        case 'l': slice_ms = lesson_num(optarg, 1, 60000, "--slice-ms"); break;
        case 'n': sliced = false; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sliced_work: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. a heartbeat and a %ld ms job, %s", work_ms,
         sliced ? "in slices" : "in one callback (--no-slice)");
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    t0 = mono_ms();
    hb = event_new(base, -1, EV_PERSIST, on_heartbeat, NULL);
    job = evtimer_new(base, on_job, NULL);
    struct timeval beat = {0, 100000}, start = {0, 150000};
    if (!hb || !job)
        die("event_new()/evtimer_new() failed");
    if (event_add(hb, &beat) != 0 || event_add(job, &start) != 0)
        die("event_add() failed");
    event_base_dispatch(base);

    step("2. free everything");
    event_free(job);
    event_free(hb);
    event_base_free(base);
    return 0;
}
