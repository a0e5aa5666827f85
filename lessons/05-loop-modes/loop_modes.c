/* loop_modes.c -- one set of events, four ways to run the loop.
 *
 * Teaches: event_base_dispatch() and event_base_loop() with EVLOOP_ONCE,
 * EVLOOP_NONBLOCK and EVLOOP_NO_EXIT_ON_EMPTY. The same three events (a pipe
 * that is readable at once, timers at 50 ms and 100 ms) are run under the
 * mode you pick, and every call to the loop is narrated with what it ran and
 * what it returned, so the difference between the modes is the output.
 * NO_EXIT_ON_EMPTY keeps waiting on a base with no events at all; here a
 * second thread stops it with event_base_loopbreak() after --break-after-ms.
 * (A loopexit timer would not do: event_base_loopexit() adds an ordinary,
 * counted event, so even plain dispatch waits for it; try --exit-after-ms.)
 * The events are added after the step prompt, so waiting there changes
 * nothing.
 *
 * Builds on: lesson 03 (event lifecycle) and 04 (event flags).
 *
 * Build and run on its own:
 *   cc -Wall -o loop_modes loop_modes.c $(pkg-config --cflags --libs libevent libevent_pthreads)
 *   ./loop_modes --mode dispatch
 *   ./loop_modes --mode once
 *   ./loop_modes --mode nonblock
 *   ./loop_modes --mode no-exit-on-empty
 *   ./loop_modes --mode dispatch --exit-after-ms 300
 */
#include <getopt.h>
#include <pthread.h>
#include <time.h>

#include <event2/thread.h>

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

/* The other thread: sleeps, then asks the loop to stop. */
struct breaker {
    struct event_base *base;
    int after_ms;
};

static void *break_later(void *arg)
{
    struct breaker *b = arg;
    struct timespec ts = {b->after_ms / 1000, (b->after_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    printf("    [thread] event_base_loopbreak() at ~%d ms\n",
           (int)(ms_since_start() / 10 + 0.5) * 10);
    if (event_base_loopbreak(b->base) < 0)
        die("event_base_loopbreak failed");
    return NULL;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: loop_modes [--mode MODE] [--exit-after-ms N] [--break-after-ms N] [--step] "
                "[--help]\n"
                "  --mode MODE         dispatch (default), once, nonblock, no-exit-on-empty\n"
                "  --exit-after-ms N   call event_base_loopexit(N ms) before looping (0: none,\n"
                "                      the default)\n"
                "  --break-after-ms N  no-exit-on-empty: another thread calls\n"
                "                      event_base_loopbreak after N ms (default 300; 0: never,\n"
                "                      and then the loop never returns)\n"
                "  --step             pause before each step (also EVLAB_STEP=1)\n"
                "  --help             show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"mode", required_argument, NULL, 'm'},
                                         {"exit-after-ms", required_argument, NULL, 'x'},
                                         {"break-after-ms", required_argument, NULL, 'b'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *mode = "dispatch";
    int exit_after = 0, break_after = 300;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "m:x:b:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': mode = optarg; break;
        case 'x': exit_after = (int)lesson_num(optarg, 0, 60000, "--exit-after-ms"); break;
        case 'b': break_after = (int)lesson_num(optarg, 0, 60000, "--break-after-ms"); break;
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
    bool threads = flags == EVLOOP_NO_EXIT_ON_EMPTY && break_after > 0;
    if (threads)
        CHECK_OK(evthread_use_pthreads()); /* so that another thread may stop the loop */

    step("1. the same three events for every mode");
    struct event_base *base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");
    int fds[2];
    CHECK_OK(pipe(fds));
    CHECK(write(fds[1], "x", 1) == 1); /* readable right now */
    struct event *rd = event_new(base, fds[0], EV_READ, on_event, "pipe");
    struct event *t50 = evtimer_new(base, on_event, "t50");
    struct event *t100 = evtimer_new(base, on_event, "t100");
    CHECK(rd && t50 && t100);
    printf("pipe (readable now), t50 (timer, 50 ms), t100 (timer, 100 ms); all one-shot\n");

    step("2. add them, then run the loop with mode '%s'", mode);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = ts.tv_sec + ts.tv_nsec / 1e9;
    /* Added only now: time spent at a step prompt does not count. */
    // [events]
    struct timeval ms50 = {0, 50 * 1000}, ms100 = {0, 100 * 1000};
    if (event_add(rd, NULL) < 0 || evtimer_add(t50, &ms50) < 0 || evtimer_add(t100, &ms100) < 0)
        die("event_add failed");
    // [/events]
    if (exit_after > 0) {
        // [loopexit]
        struct timeval later = {exit_after / 1000, (exit_after % 1000) * 1000};
        if (event_base_loopexit(base, &later) < 0)
            die("event_base_loopexit failed");
        // [/loopexit]
        printf("  event_base_loopexit(%d ms): one more event in the base, counted like ours\n",
               exit_after);
    }
    pthread_t thread;
    struct breaker breaker = {base, break_after};
    if (threads) {
        if (pthread_create(&thread, NULL, break_later, &breaker) != 0)
            die("pthread_create failed");
        printf("  a second thread will call event_base_loopbreak() in %d ms\n", break_after);
    }
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
    if (threads)
        pthread_join(thread, NULL);

    step("3. why the last call returned %d", rv);
    if (rv == 1)
        printf("returned 1: no events were pending or active any more\n");
    else
        printf("returned 0: the loop was told to stop (got_exit=%d, got_break=%d)\n",
               event_base_got_exit(base), event_base_got_break(base));
    if (flags == EVLOOP_NO_EXIT_ON_EMPTY && rv == 0 && event_base_got_break(base))
        printf("from ~100 ms on the base held no event at all, and the loop still waited\n");
    if (exit_after > 0 && event_base_got_exit(base))
        printf("the loop waited for loopexit's event: it counts as an event like any other\n");

    event_free(rd);
    event_free(t50);
    event_free(t100);
    close(fds[0]);
    close(fds[1]);
    event_base_free(base);
    return 0;
}
