/* exit_vs_break.c -- loopexit vs loopbreak with three active callbacks.
 *
 * Teaches: three callbacks are active at once; the first one stops the loop.
 * event_base_loopbreak() stops right after the running callback: the other
 * two stay active and run the next time the loop runs.
 * event_base_loopexit(base, NULL) does not stop at once: it activates a
 * one-shot event (event_base_once in libevent's event.c) at the default
 * priority, and the loop stops when that event's callback has run. Callbacks
 * of its priority that were active before it run first; with --priorities
 * (3 priorities, A=0, B=1, C=2) C is of a lower priority and is left active,
 * so loopexit does not "finish all active callbacks". got_break/got_exit
 * tell afterwards which one stopped the loop, until the loop is entered
 * again. loopexit(tv) stops after a delay.
 *
 * Builds on: loop_returns.c.
 *
 * Build and run on its own:
 *   cc -Wall -o exit_vs_break exit_vs_break.c $(pkg-config --cflags --libs libevent)
 *   ./exit_vs_break --stop break
 *   ./exit_vs_break --stop exit
 *   ./exit_vs_break --stop exit --priorities
 */
#include <getopt.h>

#include "../lesson.h"

static struct event_base *base;
static const char *stop = "break";
static int ran, ticks;

// [three]
static void on_active(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    const char *name = arg;
    ran++;
    printf("  callback %s ran\n", name);
    if (strcmp(name, "A") != 0)
        return;
    if (strcmp(stop, "break") == 0) {
        printf("  A calls event_base_loopbreak()\n");
        if (event_base_loopbreak(base) < 0)
            die("event_base_loopbreak failed");
    } else if (strcmp(stop, "exit") == 0) {
        printf("  A calls event_base_loopexit(base, NULL)\n");
        if (event_base_loopexit(base, NULL) < 0)
            die("event_base_loopexit failed");
    }
}
// [/three]

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    ticks++;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: exit_vs_break [--stop break|exit|none] [--priorities] [--step] [--help]\n"
                "  --stop HOW    what callback A does: break (default), exit, or none\n"
                "  --priorities  3 priorities: A at 0, B at 1 (the default), C at 2\n"
                "  --step      pause before each step (also EVLAB_STEP=1)\n"
                "  --help      show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"stop", required_argument, NULL, 'x'},
                                         {"priorities", no_argument, NULL, 'p'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool prios = false;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "x:psh", opts, NULL)) != -1;) {
        switch (c) {
        case 'x': stop = optarg; break;
        case 'p': prios = true; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (strcmp(stop, "break") && strcmp(stop, "exit") && strcmp(stop, "none")) {
        fprintf(stderr, "exit_vs_break: --stop wants break, exit or none, got '%s'\n", stop);
        usage(stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "exit_vs_break: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");
    if (prios)
        CHECK_OK(event_base_priority_init(base, 3)); /* new events get 3/2 = 1 */

    step("1. make A, B and C active at once, then run the loop (--stop %s%s)", stop,
         prios ? ", priorities 0, 1, 2" : "");
    const char *names[3] = {"A", "B", "C"};
    struct event *evs[3];
    for (int i = 0; i < 3; i++) {
        evs[i] = event_new(base, -1, 0, on_active, (void *)names[i]);
        CHECK(evs[i] != NULL);
        if (prios)
            CHECK_OK(event_priority_set(evs[i], i));
        event_active(evs[i], EV_TIMEOUT, 0);
    }
    int rv = event_base_dispatch(base);
    printf("loop returned %d: %d of 3 callbacks ran; got_exit=%d got_break=%d\n", rv, ran,
           event_base_got_exit(base), event_base_got_break(base));

    step("2. what is still active");
    for (int i = 0; i < 3; i++)
        printf("  %s: %s\n", names[i],
               event_pending(evs[i], EV_TIMEOUT, NULL) ? "still active" : "done");

    step("3. run the loop again");
    ran = 0;
    rv = event_base_dispatch(base);
    printf("loop returned %d: %d more callback(s) ran; got_exit=%d got_break=%d\n", rv, ran,
           event_base_got_exit(base), event_base_got_break(base));

    step("4. loopexit with a delay: a 20 ms ticker, loopexit(110 ms)");
    // [delay]
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    if (tick == NULL)
        die("event_new failed");
    struct timeval every = {0, 20 * 1000}, later = {0, 110 * 1000};
    if (event_add(tick, &every) < 0)
        die("event_add failed");
    if (event_base_loopexit(base, &later) < 0)
        die("event_base_loopexit failed");
    rv = event_base_dispatch(base);
    // [/delay]
    printf("loop returned %d after %d ticks (about 5; the count is timing, not a rule); "
           "got_exit=%d\n",
           rv, ticks, event_base_got_exit(base));

    event_free(tick);
    for (int i = 0; i < 3; i++)
        event_free(evs[i]);
    event_base_free(base);
    return 0;
}
