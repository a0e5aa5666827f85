/* exit_vs_break.c -- loopexit vs loopbreak with three active callbacks.
 *
 * Teaches: three callbacks are active at once; the first one stops the loop.
 * event_base_loopbreak() stops right after the running callback: the other
 * two stay active and run the next time the loop runs.
 * event_base_loopexit(base, NULL) lets the loop finish the active callbacks
 * first. got_break/got_exit tell afterwards which one stopped the loop, until
 * the loop is entered again. loopexit(tv) stops after a delay.
 *
 * Builds on: loop_returns.c.
 *
 * Build and run on its own:
 *   cc -Wall -o exit_vs_break exit_vs_break.c $(pkg-config --cflags --libs libevent)
 *   ./exit_vs_break --stop break
 *   ./exit_vs_break --stop exit
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
        event_base_loopbreak(base);
    } else if (strcmp(stop, "exit") == 0) {
        printf("  A calls event_base_loopexit(base, NULL)\n");
        event_base_loopexit(base, NULL);
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
    fprintf(to, "usage: exit_vs_break [--stop break|exit|none] [--step] [--help]\n"
                "  --stop HOW  what callback A does: break (default), exit, or none\n"
                "  --step      pause before each step (also EVLAB_STEP=1)\n"
                "  --help      show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"stop", required_argument, NULL, 'x'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "x:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'x': stop = optarg; break;
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
    CHECK(base);

    step("1. make A, B and C active at once, then run the loop (--stop %s)", stop);
    const char *names[3] = {"A", "B", "C"};
    struct event *evs[3];
    for (int i = 0; i < 3; i++) {
        CHECK(evs[i] = event_new(base, -1, 0, on_active, (void *)names[i]));
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
    CHECK(tick);
    struct timeval every = {0, 20 * 1000}, later = {0, 110 * 1000};
    CHECK_OK(event_add(tick, &every));
    CHECK_OK(event_base_loopexit(base, &later));
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
