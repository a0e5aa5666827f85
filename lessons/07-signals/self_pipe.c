/* self_pipe.c -- the safe way to get from a signal handler into the loop.
 *
 * Teaches: a signal handler interrupts your program anywhere, possibly in the
 * middle of libevent changing its own lists or holding malloc's lock. Only
 * async-signal-safe calls (write(), setting a volatile sig_atomic_t) are
 * allowed there; event_add(), event_active(), event_base_loopbreak() and
 * printf() are not. The safe pattern: the handler writes one byte into a
 * pipe; a read event on the pipe does the real work in the loop. This is what
 * evsignal_new() does for you inside libevent.
 *
 * Builds on: graceful_shutdown.c.
 *
 * Build and run on its own:
 *   cc -Wall -o self_pipe self_pipe.c $(pkg-config --cflags --libs libevent)
 *   ./self_pipe       # then: kill -USR1 PID (a few times), kill -TERM PID
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>

#include "../lesson.h"

static int sig_pipe[2];
static struct event_base *base;
static int usr1_count;

// [handler]
/* Runs inside the signal: write() and errno only. No libevent, no printf. */
static void handler(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(sig_pipe[1], &b, 1); /* if the pipe is full, a byte is already waiting */
    (void)n;
    errno = saved;
}
// [/handler]

// [in-loop]
/* Runs in the loop: anything goes here. */
static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
    (void)what, (void)arg;
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == SIGUSR1) {
                usr1_count++;
                printf("loop: SIGUSR1 number %d handled\n", usr1_count);
            } else if (buf[i] == SIGTERM) {
                printf("loop: SIGTERM, leaving the loop\n");
                event_base_loopexit(base, NULL);
            }
        }
    }
}
// [/in-loop]

static void usage(FILE *to)
{
    fprintf(to, "usage: self_pipe [--step] [--help]\n"
                "  runs until SIGTERM; counts SIGUSR1\n"
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
        fprintf(stderr, "self_pipe: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. a non-blocking pipe, a read event on it, and plain sigaction handlers");
    CHECK(base = event_base_new());
    CHECK_OK(pipe(sig_pipe));
    for (int i = 0; i < 2; i++) /* the handler must never block */
        CHECK_OK(fcntl(sig_pipe[i], F_SETFL, O_NONBLOCK));
    struct event *rd = event_new(base, sig_pipe[0], EV_READ | EV_PERSIST, on_pipe, NULL);
    CHECK(rd);
    CHECK_OK(event_add(rd, NULL));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
    CHECK_OK(sigaction(SIGTERM, &sa, NULL));

    step("2. run until SIGTERM");
    printf("ready: pid %d; send SIGUSR1 any number of times, then SIGTERM\n", (int)getpid());
    int rv = event_base_dispatch(base);
    printf("loop returned %d after %d SIGUSR1\n", rv, usr1_count);

    signal(SIGUSR1, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    event_free(rd);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    event_base_free(base);
    libevent_global_shutdown();
    return 0;
}
