/* graceful_shutdown.c -- SIGINT/SIGTERM stop the loop, everything is freed.
 *
 * Teaches: evsignal_new() turns a signal into an ordinary event: libevent's
 * own tiny handler only notes the signal, and your callback runs later from
 * the loop, where calling libevent is safe. SIGHUP here just says "reload"
 * and keeps going; SIGINT and SIGTERM ask the loop to exit, after which main()
 * frees every event and the base and calls libevent_global_shutdown(), so
 * valgrind finds nothing left.
 *
 * Builds on: lesson 05 (loopexit) and 06 (a persistent timer).
 *
 * Build and run on its own:
 *   cc -Wall -o graceful_shutdown graceful_shutdown.c $(pkg-config --cflags --libs libevent)
 *   ./graceful_shutdown            # then Ctrl-C, or kill -HUP / -TERM the pid it prints
 *   valgrind --leak-check=full ./graceful_shutdown
 */
#include <getopt.h>
#include <signal.h>

#include "../lesson.h"

static struct event_base *base;
static int ticks;

// [on-signal]
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)arg;
    printf("got %s (%s), in the loop, not in a signal handler\n", strsignal((int)sig), FLAGS(what));
    if (sig == SIGHUP) {
        printf("SIGHUP: would reload the configuration; still running\n");
        return;
    }
    printf("shutting down: event_base_loopexit()\n");
    if (event_base_loopexit(base, NULL) < 0)
        fprintf(stderr, "event_base_loopexit() failed\n");
}
// [/on-signal]

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    ticks++; /* stands in for the program's real work */
}

static void usage(FILE *to)
{
    fprintf(to, "usage: graceful_shutdown [--step] [--help]\n"
                "  runs until SIGINT or SIGTERM; SIGHUP is reported and ignored\n"
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
        fprintf(stderr, "graceful_shutdown: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. one signal event per signal, and some work");
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    // [signals]
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct event *sig_ev[3];
    for (int i = 0; i < 3; i++) {
        sig_ev[i] = evsignal_new(base, sigs[i], on_signal, NULL);
        if (!sig_ev[i])
            die("evsignal_new(%s) failed", strsignal(sigs[i]));
        if (evsignal_add(sig_ev[i], NULL) < 0)
            die("evsignal_add(%s) failed", strsignal(sigs[i]));
    }
    // [/signals]
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    if (!tick)
        die("event_new() failed for the tick");
    struct timeval every = {0, 50 * 1000};
    if (event_add(tick, &every) < 0)
        die("event_add() failed for the tick");

    step("2. run until SIGINT or SIGTERM");
    printf("ready: pid %d; send SIGINT (Ctrl-C), SIGTERM or SIGHUP\n", (int)getpid());
    int rv = event_base_dispatch(base);
    printf("loop returned %d (got_exit=%d)\n", rv, event_base_got_exit(base));

    step("3. free everything, then libevent's globals");
    // [cleanup]
    event_free(tick);
    for (int i = 0; i < 3; i++)
        event_free(sig_ev[i]);
    event_base_free(base);
    libevent_global_shutdown(); /* last libevent call of the process */
    // [/cleanup]
    printf("freed 4 events and the base; libevent_global_shutdown() done; exit 0\n");
    return 0;
}
