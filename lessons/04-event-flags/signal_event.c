/* signal_event.c -- EV_SIGNAL: a signal delivered as an ordinary callback.
 *
 * Teaches: evsignal_new(base, SIGNUM, cb, arg) is event_new with
 * EV_SIGNAL|EV_PERSIST and the signal number in place of an fd. The callback
 * runs in the loop, not in the signal handler, so it may call anything. The
 * callback's fd argument is the signal number. raise() delivers at once, so
 * three raise() calls run the handler three times and give three callbacks;
 * but a standard signal that arrives while the same signal is already
 * pending merges with it: five signals sent while SIGUSR1 is blocked give
 * ONE callback (the same happens to rapid kill -USR1 from another process).
 * Signal events need not be persistent: a one-shot EV_SIGNAL event fires
 * once, then libevent deletes it and puts back the previous action (the
 * default, which kills), see evsig_del and evsig_restore_handler_ in
 * libevent's signal.c. --wait keeps the loop running for signals sent from
 * outside (kill -USR1 PID).
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
#include <sys/wait.h>

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

static void on_once(evutil_socket_t fd, short what, void *arg)
{
    (void)arg;
    printf("  [child] one-shot callback: signal %d, what=%s\n", (int)fd, FLAGS(what));
}

/* In a child, so that the signal that kills it kills only the child. */
static void one_shot_in_a_child(struct event_base *b)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        if (event_reinit(b) < 0) /* a forked child re-creates the base's kernel state */
            die("event_reinit failed");
        // [oneshot]
        struct event *once = event_new(b, SIGUSR2, EV_SIGNAL, on_once, NULL); /* no EV_PERSIST */
        if (once == NULL)
            die("event_new(SIGUSR2) failed");
        if (event_add(once, NULL) < 0)
            die("event_add failed");
        raise(SIGUSR2);
        event_base_loop(b, EVLOOP_ONCE);
        printf("  [child] pending after it ran: %s; raising SIGUSR2 again...\n",
               FLAGS(event_pending(once, EV_SIGNAL, NULL)));
        fflush(stdout);
        raise(SIGUSR2); /* the default action is back: this kills the child */
        // [/oneshot]
        printf("  [child] still alive: the handler was NOT restored\n");
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        die("waitpid: %s", strerror(errno));
    if (WIFSIGNALED(st))
        printf("  the child was killed by signal %d (%s): the default action was back\n",
               WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        printf("  the child exited with status %d\n", WEXITSTATUS(st));
}

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
        case 'm': method = lesson_method(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "signal_event: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct event_base *base = base_for_method(method);

    step("1. a signal event for SIGUSR1");
    // [event]
    struct event *usr1 = evsignal_new(base, SIGUSR1, on_signal, event_self_cbarg());
    if (usr1 == NULL)
        die("evsignal_new failed");
    if (event_add(usr1, NULL) < 0)
        die("event_add failed");
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
    printf("  %d callbacks in that turn: raise() runs the handler at once, three times\n",
           calls - before);
    printf("  still pending (EV_PERSIST): %s\n", FLAGS(event_pending(usr1, EV_SIGNAL, NULL)));

    step("4. five SIGUSR1 while it is blocked, then one loop turn");
    // [merge]
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    CHECK_OK(sigprocmask(SIG_BLOCK, &set, NULL));
    for (int i = 0; i < 5; i++)
        kill(getpid(), SIGUSR1); /* pending already: the kernel merges it */
    CHECK_OK(sigprocmask(SIG_UNBLOCK, &set, NULL));
    // [/merge]
    before = calls;
    event_base_loop(base, EVLOOP_ONCE);
    printf("  %d callback%s for 5 signals: a standard signal is not queued; while one is\n"
           "  pending, more of the same merge into it (rapid kill -USR1 from another\n"
           "  process merges the same way)\n",
           calls - before, calls - before == 1 ? "" : "s");

    step("5. a one-shot EV_SIGNAL event (in a child process)");
    one_shot_in_a_child(base);

    if (wait) {
        step("6. waiting for signals from outside");
        struct event *intr = evsignal_new(base, SIGINT, on_signal, event_self_cbarg());
        if (intr == NULL)
            die("evsignal_new failed");
        if (event_add(intr, NULL) < 0)
            die("event_add failed");
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
