/* loop_modes.c -- one set of events, four ways to run the loop.
 *
 * Teaches: event_base_dispatch() and event_base_loop() with EVLOOP_ONCE,
 * EVLOOP_NONBLOCK and EVLOOP_NO_EXIT_ON_EMPTY. The same three events (a pipe
 * that is readable at once, timers at 50 ms and 100 ms) are run under the
 * mode you pick, and every call to the loop is narrated with what it ran and
 * what it returned, so the difference between the modes is the output.
 *
 * Builds on: lesson 03 (event lifecycle) and 04 (event flags).
 *
 * Build and run on its own:
 *   cc -Wall -o loop_modes loop_modes.c $(pkg-config --cflags --libs libevent)
 *   ./loop_modes --mode dispatch
 *   ./loop_modes --mode once
 *   ./loop_modes --mode nonblock
 *   ./loop_modes --mode no-exit-on-empty
 */
#include <getopt.h>
#include <time.h>

#include "../lesson.h"

static double t0;
static int ran; /* callbacks run during the current loop call */

static double ms_since_start(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ts.tv_sec + ts.tv_nsec / 1e9 - t0) * 1000.0;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    if (what & EV_READ) {
        char c;
        if (read(fd, &c, 1) != 1) /* drain the byte, or it stays readable */
            die("read from pipe failed");
    }
    ran++;
    /* times rounded to 10 ms; a test only looks at the order */
    printf("    callback %-8s ran (%s) at ~%d ms\n", (const char *)arg, FLAGS(what),
           (int)(ms_since_start() / 10 + 0.5) * 10);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: loop_modes [--mode MODE] [--exit-after-ms N] [--step] [--help]\n"
                "  --mode MODE        dispatch (default), once, nonblock, no-exit-on-empty\n"
                "  --exit-after-ms N  call event_base_loopexit(N ms) before looping\n"
                "                     (default: 300 for no-exit-on-empty, none otherwise;\n"
                "                     0 means none, and then no-exit-on-empty never returns)\n"
                "  --step             pause before each step (also EVLAB_STEP=1)\n"
                "  --help             show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"mode", required_argument, NULL, 'm'},
                                         {"exit-after-ms", required_argument, NULL, 'x'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *mode = "dispatch";
    int exit_after = -1;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "m:x:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': mode = optarg; break;
        case 'x': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 60000) {
                fprintf(stderr, "loop_modes: --exit-after-ms wants 0..60000, got '%s'\n", optarg);
                usage(stderr);
                return 2;
            }
            exit_after = (int)v;
            break;
        }
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int flags;
    if (strcmp(mode, "dispatch") == 0)
        flags = 0;
    else if (strcmp(mode, "once") == 0)
        flags = EVLOOP_ONCE;
    else if (strcmp(mode, "nonblock") == 0)
        flags = EVLOOP_NONBLOCK;
    else if (strcmp(mode, "no-exit-on-empty") == 0)
        flags = EVLOOP_NO_EXIT_ON_EMPTY;
    else {
        fprintf(stderr, "loop_modes: unknown --mode '%s'\n", mode);
        usage(stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "loop_modes: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (exit_after < 0)
        exit_after = flags == EVLOOP_NO_EXIT_ON_EMPTY ? 300 : 0;

    step("1. the same three events for every mode");
    struct event_base *base = event_base_new();
    CHECK(base);
    int fds[2];
    CHECK_OK(pipe(fds));
    CHECK(write(fds[1], "x", 1) == 1); /* readable right now */
    // [events]
    struct event *rd = event_new(base, fds[0], EV_READ, on_event, "pipe");
    struct event *t50 = evtimer_new(base, on_event, "t50");
    struct event *t100 = evtimer_new(base, on_event, "t100");
    CHECK(rd && t50 && t100);
    CHECK_OK(event_add(rd, NULL));
    struct timeval ms50 = {0, 50 * 1000}, ms100 = {0, 100 * 1000};
    CHECK_OK(evtimer_add(t50, &ms50));
    CHECK_OK(evtimer_add(t100, &ms100));
    // [/events]
    printf("added: pipe (readable now), t50 (timer, 50 ms), t100 (timer, 100 ms); all one-shot\n");
    if (exit_after > 0) {
        /* loopexit(tv) is itself a timer inside the base */
        struct timeval later = {exit_after / 1000, (exit_after % 1000) * 1000};
        CHECK_OK(event_base_loopexit(base, &later));
        printf("event_base_loopexit(%d ms) scheduled as a way out\n", exit_after);
    }

    step("2. run the loop with mode '%s'", mode);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = ts.tv_sec + ts.tv_nsec / 1e9;
    long idle_calls = 0;
    int calls = 0, rv;
    // [loop]
    for (;;) {
        ran = 0;
        rv = flags == 0 ? event_base_dispatch(base) : event_base_loop(base, flags);
        calls++;
        if (ran == 0 && rv == 0 && flags == EVLOOP_NONBLOCK) {
            idle_calls++; /* nothing was ready: NONBLOCK never waits */
            continue;
        }
        printf("  call %d returned %d after running %d callback(s) at ~%d ms\n", calls, rv, ran,
               (int)(ms_since_start() / 10 + 0.5) * 10);
        if (rv != 0 || (flags != EVLOOP_ONCE && flags != EVLOOP_NONBLOCK))
            break; /* 1: nothing left; dispatch and no-exit return only once */
    }
    // [/loop]
    if (flags == EVLOOP_NONBLOCK)
        printf("  idle calls that ran nothing: %ld (busy polling: NONBLOCK never sleeps)\n",
               idle_calls);

    step("3. why the last call returned %d", rv);
    if (rv == 1)
        printf("returned 1: no events were pending or active any more\n");
    else
        printf("returned 0: the loop was told to stop (got_exit=%d, got_break=%d)\n",
               event_base_got_exit(base), event_base_got_break(base));

    event_free(rd);
    event_free(t50);
    event_free(t100);
    close(fds[0]);
    close(fds[1]);
    event_base_free(base);
    return 0;
}
