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
 * The byte is only a wake-up. When the pipe is full the write fails (EAGAIN)
 * and that byte is lost, so what must not be lost (SIGTERM) is also kept in a
 * volatile sig_atomic_t flag that the loop checks after every read.
 * --fill-pipe shows it: the pipe is filled before SIGTERM arrives.
 *
 * Builds on: graceful_shutdown.c.
 *
 * Build and run on its own:
 *   cc -Wall -o self_pipe self_pipe.c $(pkg-config --cflags --libs libevent)
 *   ./self_pipe       # then: kill -USR1 PID (a few times), kill -TERM PID
 *   ./self_pipe --fill-pipe   # SIGTERM's byte is dropped; the flag still ends the loop
 */
#define _GNU_SOURCE /* pipe2() */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>

#include "../lesson.h"

static int sig_pipe[2];
static struct event_base *base;
static int usr1_count;
static volatile sig_atomic_t term_requested; /* set by the handler, read by the loop */
static volatile sig_atomic_t bytes_dropped;  /* writes that found the pipe full */

// [handler]
/* Runs inside the signal: write(), errno and sig_atomic_t flags only.
 * No libevent, no printf. */
static void handler(int sig)
{
    int saved = errno;
    if (sig == SIGTERM)
        term_requested = 1; /* the flag carries the meaning ... */
    unsigned char b = (unsigned char)sig;
    if (write(sig_pipe[1], &b, 1) < 0) /* ... the byte only wakes the loop */
        bytes_dropped = 1;             /* EAGAIN: the pipe is full, so it is readable anyway */
    errno = saved;
}
// [/handler]

// [in-loop]
/* Runs in the loop: anything goes here. */
static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
    (void)what, (void)arg;
    unsigned char buf[4096];
    ssize_t n;
    int usr1_now = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) /* drain: one wake-up may carry many bytes */
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == SIGUSR1)
                usr1_now++;
    usr1_count += usr1_now;
    if (usr1_now == 1)
        printf("loop: SIGUSR1 number %d handled\n", usr1_count);
    else if (usr1_now > 1)
        printf("loop: %d SIGUSR1 bytes read at once (%d so far)\n", usr1_now, usr1_count);
    if (bytes_dropped) {
        bytes_dropped = 0;
        printf("loop: the pipe was full: at least one byte was dropped\n");
    }
    if (term_requested) { /* checked on every wake-up, whether or not its byte arrived */
        printf("loop: SIGTERM, leaving the loop\n");
        if (event_base_loopexit(base, NULL) < 0)
            printf("loop: event_base_loopexit() failed\n");
    }
}
// [/in-loop]

static void usage(FILE *to)
{
    fprintf(to, "usage: self_pipe [--fill-pipe] [--step] [--help]\n"
                "  runs until SIGTERM; counts SIGUSR1\n"
                "  --fill-pipe  fill the pipe, then SIGTERM arrives: its byte is dropped\n"
                "  --step       pause before each step (also EVLAB_STEP=1)\n"
                "  --help       show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"fill-pipe", no_argument, NULL, 'f'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool fill = false;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "fsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'f': fill = true; break;
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
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    CHECK_OK(pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC)); /* the handler must never block */
    struct event *rd = event_new(base, sig_pipe[0], EV_READ | EV_PERSIST, on_pipe, NULL);
    if (!rd)
        die("event_new() failed for the pipe");
    if (event_add(rd, NULL) < 0)
        die("event_add() failed for the pipe");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
    CHECK_OK(sigaction(SIGTERM, &sa, NULL));

    if (fill) {
        step("1b. fill the pipe as a burst of signals would, then SIGTERM arrives");
        // [fill]
        unsigned char b = SIGUSR1;
        long filled = 0;
        while (write(sig_pipe[1], &b, 1) == 1)
            filled++;
        printf("pipe full after %ld SIGUSR1 bytes (write: %s)\n", filled, strerror(errno));
        kill(getpid(), SIGTERM); /* the handler runs now; its write() fails with EAGAIN */
        printf("SIGTERM handled: term_requested=%d, byte dropped=%d\n", (int)term_requested,
               (int)bytes_dropped);
        // [/fill]
    }

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
