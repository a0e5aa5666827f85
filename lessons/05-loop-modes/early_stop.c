/* early_stop.c -- a loopbreak issued before the loop starts is lost.
 *
 * Teaches: event_base_loopbreak() only sets a flag, and entering the loop
 * clears the flag, so a break requested while no loop runs does nothing: the
 * loop that starts next runs its timer as if nothing happened.
 * event_base_loopexit() is different: it adds an ordinary one-shot event
 * (event_base_once, in libevent's event.c) whose callback sets the exit
 * flag, so an exit requested before the loop starts is kept and stops the
 * next loop.
 *
 * Builds on: exit_vs_break.c.
 *
 * Build and run on its own:
 *   cc -Wall -o early_stop early_stop.c $(pkg-config --cflags --libs libevent)
 *   ./early_stop
 */
#include <getopt.h>

#include "../lesson.h"

static int fired;

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    fired++;
    printf("  timer callback ran\n");
}

static void usage(FILE *to)
{
    fprintf(to, "usage: early_stop [--step] [--help]\n"
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
        fprintf(stderr, "early_stop: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct event_base *base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");
    struct event *timer = evtimer_new(base, on_timer, NULL);
    if (timer == NULL)
        die("evtimer_new failed");
    struct timeval soon = {0, 20 * 1000};
    struct timeval later = {0, 200 * 1000}; /* far enough that it cannot be due yet */

    step("1. loopbreak before the loop starts");
    // [early-break]
    if (evtimer_add(timer, &soon) < 0)
        die("evtimer_add failed");
    if (event_base_loopbreak(base) < 0)
        die("event_base_loopbreak failed");
    printf("right after event_base_loopbreak(): got_break=%d\n", event_base_got_break(base));
    int rv = event_base_dispatch(base);
    // [/early-break]
    printf("dispatch returned %d, the timer fired %d time(s): the break was lost\n", rv, fired);
    printf("got_break=%d (entering the loop cleared it)\n", event_base_got_break(base));

    step("2. loopexit before the loop starts");
    fired = 0;
    // [early-exit]
    if (evtimer_add(timer, &later) < 0)
        die("evtimer_add failed");
    if (event_base_loopexit(base, NULL) < 0)
        die("event_base_loopexit failed");
    printf("right after event_base_loopexit(NULL): got_exit=%d (nothing has run yet)\n",
           event_base_got_exit(base));
    rv = event_base_dispatch(base);
    // [/early-exit]
    printf("dispatch returned %d, the timer fired %d time(s): the exit was kept; got_exit=%d\n", rv,
           fired, event_base_got_exit(base));
    printf("timer still pending: %s\n", evtimer_pending(timer, NULL) ? "yes" : "no");

    step("3. the next loop starts fresh");
    rv = event_base_dispatch(base);
    printf("dispatch returned %d, the timer fired %d time(s); got_exit=%d got_break=%d\n", rv,
           fired, event_base_got_exit(base), event_base_got_break(base));

    event_free(timer);
    event_base_free(base);
    return 0;
}
