/* signal_event.c -- EV_SIGNAL: a signal delivered as an ordinary callback.
 *
 * Teaches: evsignal_new(base, SIGNUM, cb, arg) is event_new with
 * EV_SIGNAL|EV_PERSIST and the signal number in place of an fd. The callback
 * runs in the loop, not in the signal handler, so it may call anything. The
 * callback's fd argument is the signal number. A signal raised three times
 * before the loop runs gives three callbacks in one loop turn. --wait keeps
 * the loop running for signals sent from outside (kill -USR1 PID).
 *
 * Builds on: cb_func.c (the callback's `what`). Lesson 07 uses signals for
 * a clean shutdown.
 *
 * Build and run on its own:
 *   cc -Wall -o signal_event signal_event.c $(pkg-config --cflags --libs libevent)
 *   ./signal_event
 *   ./signal_event --wait      # then, elsewhere: kill -USR1 <pid>; kill -INT <pid>
 */
#include <getopt.h>
#include <signal.h>

#include "../lesson.h"

static int calls;

// [callback]
static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    struct event *self = arg;
    calls++;
    printf("  callback %d: fd argument %d (%s), what=%s\n", calls, (int)fd,
           fd == SIGUSR1  ? "SIGUSR1"
           : fd == SIGINT ? "SIGINT"
                          : "?",
           FLAGS(what));
    if (fd == SIGINT) {
        printf("  SIGINT: leaving the loop\n");
        event_base_loopexit(event_get_base(self), NULL);
    }
}
// [/callback]

static void usage(FILE *to)
{
    fprintf(to, "usage: signal_event [--wait] [--method NAME] [--step] [--help]\n"
                "  --wait         then wait for SIGUSR1 from outside, until SIGINT\n"
                "  --method NAME  use this backend (epoll, poll, select)\n"
                "  --step         pause before each step (also EVLAB_STEP=1)\n"
                "  --help         show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"wait", no_argument, NULL, 'w'},
                                         {"method", required_argument, NULL, 'm'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool wait = false;
    const char *method = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "wm:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'w': wait = true; break;
        case 'm': method = optarg; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc ||
        (method && strcmp(method, "epoll") && strcmp(method, "poll") && strcmp(method, "select"))) {
        fprintf(stderr, "signal_event: bad argument '%s'\n", optind < argc ? argv[optind] : method);
        usage(stderr);
        return 2;
    }
    struct event_base *base = base_for_method(method);

    step("1. a signal event for SIGUSR1");
    // [event]
    struct event *usr1 = evsignal_new(base, SIGUSR1, on_signal, event_self_cbarg());
    CHECK(usr1);
    CHECK_OK(event_add(usr1, NULL));
    // [/event]
    printf("  method %s; evsignal_new gave %s, event_get_fd -> %d (SIGUSR1 is %d)\n",
           event_base_get_method(base), FLAGS(event_get_events(usr1)), (int)event_get_fd(usr1),
           SIGUSR1);

    step("2. raise(SIGUSR1) once, then one loop turn");
    raise(SIGUSR1);
    printf("  raised; nothing ran yet: %d callbacks\n", calls);
    event_base_loop(base, EVLOOP_ONCE);

    step("3. raise(SIGUSR1) three times, then one loop turn");
    int before = calls;
    for (int i = 0; i < 3; i++)
        raise(SIGUSR1);
    event_base_loop(base, EVLOOP_ONCE);
    printf("  %d callbacks in that turn: libevent counted each delivery\n", calls - before);
    printf("  still pending (EV_PERSIST): %s\n", FLAGS(event_pending(usr1, EV_SIGNAL, NULL)));

    if (wait) {
        step("4. waiting for signals from outside");
        struct event *intr = evsignal_new(base, SIGINT, on_signal, event_self_cbarg());
        CHECK(intr);
        CHECK_OK(event_add(intr, NULL));
        printf("pid %d: send SIGUSR1 (kill -USR1 %d), or SIGINT to stop\n", (int)getpid(),
               (int)getpid());
        event_base_dispatch(base);
        event_free(intr);
    }

    event_free(usr1);
    event_base_free(base);
    printf("done: %d callbacks in all\n", calls);
    return 0;
}
