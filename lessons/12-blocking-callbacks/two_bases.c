/* two_bases.c -- one thread, two event_bases: both work; a nested loop blocks like sleep().
 *
 * Teaches: the blog post "libevent demo" concluded that a thread can have
 * only one event_base and that "later bases stack up". Neither is a
 * libevent rule. A base is plain data; it does something only while some
 * thread runs its loop. Part 1
 * drives a second base from a callback of the first with EVLOOP_NONBLOCK:
 * both bases deliver their events in one thread. Part 2 repeats the post's
 * experiment: a callback calls event_base_dispatch() on another base. That
 * inner loop runs until its own events are done, and meanwhile the outer
 * loop is stuck inside the callback -- exactly like the sleep() in
 * blocking_accept.c. The "stack" the post saw is just the call stack.
 *
 * Builds on: blocking_accept.c (the heartbeat), lesson 05 (loop modes).
 *
 * Build and run on its own:
 *   cc -Wall -o two_bases two_bases.c $(pkg-config --cflags --libs libevent)
 *   ./two_bases --nested-ms 500
 */
#include <getopt.h>
#include <sys/time.h>

#include "../lesson.h"

static struct event_base *outer, *inner;
static struct timeval t0;
static long nested_ms = 500;
static int part; /* 1: drive inner without blocking; 2: nested dispatch */

static long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (tv.tv_sec - t0.tv_sec) * 1000 + (tv.tv_usec - t0.tv_usec) / 1000;
}

static void on_inner_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    printf("  inner base: its timer fired at +%ld ms\n", now_ms());
}

// [heartbeat]
static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    static long n, last;
    struct event *self = arg;
    (void)fd, (void)what;
    long actual = now_ms(), planned = n ? last + 100 : 100;
    printf("outer heartbeat %ld: planned +%ld ms, actual +%ld ms, late %ld ms\n", ++n, planned,
           actual, actual - planned);
    last = actual;
    if (part == 1) {
        /* Give the inner base a turn without waiting: both bases make progress. */
        event_base_loop(inner, EVLOOP_NONBLOCK);
    } else if (n == 2) {
        printf("  outer callback: event_base_dispatch(inner) -- the post's nested loop\n");
        event_base_dispatch(inner); /* returns when inner has no events left */
        printf("  outer callback: inner loop returned at +%ld ms\n", now_ms());
    }
    if (n % 6 == 0) {
        if (event_del(self) != 0) /* six beats per part */
            die("event_del() failed");
        n = 0;
    }
}
// [/heartbeat]

static void run_part(int which)
{
    part = which;
    struct event *hb = event_new(outer, -1, EV_PERSIST, on_heartbeat, event_self_cbarg());
    struct event *t = evtimer_new(inner, on_inner_timer, NULL);
    struct timeval beat = {0, 100000};
    struct timeval when = {nested_ms / 1000, nested_ms % 1000 * 1000};
    if (which == 1)
        when = (struct timeval){0, 250000};
    gettimeofday(&t0, NULL);
    if (!hb || !t)
        die("event_new()/evtimer_new() failed");
    if (event_add(hb, &beat) != 0 || evtimer_add(t, &when) != 0)
        die("event_add()/evtimer_add() failed");
    printf("inner base: timer added for +%ld ms\n",
           (long)(when.tv_sec * 1000 + when.tv_usec / 1000));
    event_base_dispatch(outer);
    event_free(hb);
    event_free(t);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: two_bases [--nested-ms N] [--step] [--help]\n"
                "  --nested-ms N  the inner base's timer in part 2 (default 500)\n"
                "  --step         pause before each step (also EVLAB_STEP=1)\n"
                "  --help         show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"nested-ms", required_argument, NULL, 'n'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "n:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': nested_ms = lesson_num(optarg, 0, 60000, "--nested-ms"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "two_bases: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. two bases in one thread");
    outer = event_base_new();
    if (!outer)
        die("event_base_new() failed");
    inner = event_base_new();
    if (!inner)
        die("event_base_new() failed");
    printf("outer base %p, inner base %p, same thread\n", (void *)outer, (void *)inner);

    step("2. part 1: the outer heartbeat gives the inner base a non-blocking turn");
    run_part(1);

    step("3. part 2: the post's experiment, a nested event_base_dispatch() in a callback");
    run_part(2);

    step("4. free both bases");
    event_base_free(inner);
    event_base_free(outer);
    return 0;
}
