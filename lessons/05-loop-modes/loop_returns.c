/* loop_returns.c -- when event_base_loop() returns 1, 0 and -1.
 *
 * Teaches: the loop's return value says why it stopped. 1: no events were
 * pending or active (on an empty base it returns at once). 0: it was asked to
 * stop (loopexit/loopbreak), or an EVLOOP_ONCE/NONBLOCK pass ended normally.
 * -1: an error, for example starting the loop again from inside one of its
 * own callbacks, which libevent refuses with a "reentrant invocation" warning.
 *
 * Builds on: loop_modes.c.
 *
 * Build and run on its own:
 *   cc -Wall -o loop_returns loop_returns.c $(pkg-config --cflags --libs libevent)
 *   ./loop_returns
 */
#include <getopt.h>

#include "../lesson.h"

static struct event_base *base;

static void say(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    printf("  callback %s ran (%s)\n", (const char *)arg, FLAGS(what));
}

static void on_stop_here(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    printf("  callback calls event_base_loopexit(base, NULL)\n");
    if (event_base_loopexit(base, NULL) < 0)
        die("event_base_loopexit failed");
}

// [reentrant]
static void on_loop_again(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    printf("  callback calls event_base_dispatch(base) on its own, running base\n");
    int rv = event_base_dispatch(base); /* libevent warns on stderr and refuses */
    printf("  the nested event_base_dispatch returned %d\n", rv);
}
// [/reentrant]

static void usage(FILE *to)
{
    fprintf(to, "usage: loop_returns [--step] [--help]\n"
                "  --step   pause before each step (also EVLAB_STEP=1)\n"
                "  --help   show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"step", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "sh", opts, NULL)) != -1;) {
        switch (c) {
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loop_returns: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");
    struct event *ev = event_new(base, -1, 0, say, "A");
    if (ev == NULL)
        die("event_new failed");
    int rv;

    step("1. an empty base: dispatch returns 1 at once");
    rv = event_base_dispatch(base);
    printf("event_base_dispatch on an empty base returned %d\n", rv);

    step("2. one active event: it runs, then nothing is left");
    event_active(ev, EV_TIMEOUT, 0);
    rv = event_base_dispatch(base);
    printf("event_base_dispatch returned %d (the last event was used up)\n", rv);

    step("3. a callback asks the loop to exit");
    event_assign(ev, base, -1, 0, on_stop_here, NULL);
    event_active(ev, EV_TIMEOUT, 0);
    rv = event_base_dispatch(base);
    printf("event_base_dispatch returned %d (got_exit=%d)\n", rv, event_base_got_exit(base));

    step("4. EVLOOP_ONCE that ran something returns 0, even with nothing left");
    event_assign(ev, base, -1, 0, say, "B");
    event_active(ev, EV_TIMEOUT, 0);
    rv = event_base_loop(base, EVLOOP_ONCE);
    printf("event_base_loop(EVLOOP_ONCE) returned %d; pending or active now: %s\n", rv,
           event_pending(ev, EV_TIMEOUT | EV_READ | EV_WRITE | EV_SIGNAL, NULL) ? "yes" : "no");
    rv = event_base_loop(base, EVLOOP_ONCE);
    printf("the next EVLOOP_ONCE returned %d\n", rv);

    step("5. a callback starts the same loop again: -1");
    event_assign(ev, base, -1, 0, on_loop_again, NULL);
    event_active(ev, EV_TIMEOUT, 0);
    rv = event_base_dispatch(base);
    printf("the outer event_base_dispatch returned %d\n", rv);

    event_free(ev);
    event_base_free(base);
    return 0;
}
