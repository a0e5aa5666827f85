/* two_bases.c -- two bases watch the same signal: only one gets it.
 *
 * Teaches: with the epoll, poll and select backends libevent catches signals
 * with one process-wide handler that forwards them to a single base. Adding a
 * signal event to a second base logs a warning, and from then on the base
 * that most recently added a signal or entered its loop receives them; the
 * other base's signal event never fires. Keep all signal events on one base
 * (usually the main thread's).
 *
 * Builds on: graceful_shutdown.c.
 *
 * Build and run on its own:
 *   cc -Wall -o two_bases two_bases.c $(pkg-config --cflags --libs libevent)
 *   ./two_bases                 # sends SIGUSR1 to itself
 *   ./two_bases --external      # waits for: kill -USR1 PID
 *   ./two_bases --method poll
 */
#include <getopt.h>
#include <signal.h>

#include "../lesson.h"

static bool external;
static int seen_a, seen_b, sent;

static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    const char *name = arg;
    (*name == 'A' ? &seen_a : &seen_b)[0]++;
    printf("  base %s: SIGUSR1 callback ran\n", name);
}

static void on_send_self(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    kill(getpid(), SIGUSR1); /* a real signal, sent from inside the loop */
}

/* Printed from inside the loop: only a running loop has claimed the signals
 * (before it runs, they still go to whichever base added one last). */
static void on_announce(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    printf("ready: base %s's loop is running; send SIGUSR1 to pid %d\n", (const char *)arg,
           (int)getpid());
}

static void on_sigusr1(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    if (event_base_loopexit(arg, NULL) < 0)
        fprintf(stderr, "event_base_loopexit() failed\n");
}

/* Run `base`'s loop for `ms`; with `signal`, one SIGUSR1 arrives meanwhile
 * and the loop stops soon after it. */
static void run(struct event_base *base, const char *name, int ms, bool signal)
{
    struct timeval limit = {ms / 1000, (ms % 1000) * 1000};
    printf("base %s's loop runs for up to %d ms; %s\n", name, ms,
           signal ? "one SIGUSR1 arrives meanwhile" : "no signal is sent");
    struct event *stopper = NULL;
    if (signal) {
        sent++;
        if (external) {
            /* a second SIGUSR1 watcher on the same base ends the wait */
            stopper = evsignal_new(base, SIGUSR1, on_sigusr1, base);
            if (!stopper)
                die("evsignal_new(SIGUSR1) failed");
            if (evsignal_add(stopper, NULL) < 0)
                die("evsignal_add(SIGUSR1) failed");
            CHECK_OK(event_base_once(base, -1, EV_TIMEOUT, on_announce, (void *)name, NULL));
        } else {
            CHECK_OK(event_base_once(base, -1, EV_TIMEOUT, on_send_self, NULL, NULL));
        }
    }
    CHECK_OK(event_base_loopexit(base, &limit));
    event_base_dispatch(base);
    if (stopper)
        event_free(stopper);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: two_bases [--method NAME] [--external] [--step] [--help]\n"
                "  --method NAME  epoll, poll or select\n"
                "  --external     wait for SIGUSR1 from outside instead of sending it\n"
                "  --step         pause before each step (also EVLAB_STEP=1)\n"
                "  --help         show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"method", required_argument, NULL, 'm'},
                                         {"external", no_argument, NULL, 'e'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *method = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "m:esh", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': method = lesson_method(optarg); break;
        case 'e': external = true; break;
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
    int wait_ms = external ? 10000 : 200;

    step("1. base A and base B each add a SIGUSR1 event");
    struct event_base *a = base_for_method(method), *b = base_for_method(method);
    printf("method: %s\n", event_base_get_method(a));
    // [two]
    struct event *ea = evsignal_new(a, SIGUSR1, on_usr1, "A");
    struct event *eb = evsignal_new(b, SIGUSR1, on_usr1, "B");
    if (!ea || !eb)
        die("evsignal_new() failed");
    if (evsignal_add(ea, NULL) < 0)
        die("evsignal_add() failed on base A");
    if (evsignal_add(eb, NULL) <
        0) /* succeeds, but libevent warns: only one base can have signals */
        die("evsignal_add() failed on base B");
    // [/two]
    fflush(stderr);

    step("2. SIGUSR1 arrives while A's loop runs");
    run(a, "A", wait_ms, true);
    step("3. B's loop runs: does B get that signal too, late?");
    run(b, "B", 100, false);
    step("4. SIGUSR1 arrives while B's loop runs");
    run(b, "B", wait_ms, true);
    step("5. A's loop runs: does A get that one late?");
    run(a, "A", 100, false);
    printf("signals sent: %d; base A saw %d, base B saw %d: each signal reached %s\n", sent, seen_a,
           seen_b, seen_a + seen_b == sent ? "exactly one base" : "an unexpected number of bases");

    event_free(ea);
    event_free(eb);
    event_base_free(a);
    event_base_free(b);
    return 0;
}
