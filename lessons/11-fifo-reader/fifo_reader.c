/* fifo_reader.c -- the FIFO reader of the blog post "libevent demo", done right.
 *
 * Teaches: a named pipe (FIFO) in an event loop. Open it O_RDONLY|O_NONBLOCK
 * (the open does not wait for a writer), watch it with a persistent EV_READ
 * event, and treat read() == 0 as what it is: the last writer has gone. Then
 * close and re-open it (a fresh open has no EOF pending, so the loop sleeps
 * until the next writer), or exit with --exit-on-eof. The FIFO is removed on
 * exit and on SIGINT/SIGTERM.
 *
 * Builds on: lesson 04 (EV_PERSIST), lesson 07 (signals). naive_fifo.c shows
 * what goes wrong without the EOF handling, and with that post's O_RDWR.
 *
 * Build and run on its own:
 *   cc -Wall -o fifo_reader fifo_reader.c $(pkg-config --cflags --libs libevent)
 *   ./fifo_reader --path /tmp/event.fifo &
 *   echo hello > /tmp/event.fifo; echo again > /tmp/event.fifo; kill -INT %1
 */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "../lesson.h"

static char path[PATH_MAX], tmpdir[PATH_MAX - 64]; /* tmpdir: set if we made it */
static struct event *read_ev;
static bool exit_on_eof;
static unsigned long calls, eofs, bytes;

static int open_fifo(void)
{
    /* O_NONBLOCK: without it open() blocks until a writer opens the FIFO,
     * and read() would block the whole loop. */
    return open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

// [on_read]
static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct event_base *base = arg;
    char buf[4096];
    (void)what;
    calls++;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
        bytes += (size_t)n;
        printf("read %zd bytes: %.*s%s", n, (int)n, buf, buf[n - 1] == '\n' ? "" : "\n");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            printf("read: %s\n", strerror(errno));
        return; /* nothing there after all */
    }
    // [/on_read]
    // [on_eof]
    /* n == 0: every writer has closed. The FIFO stays "readable at EOF":
     * this event would fire again at once, forever. */
    eofs++;
    printf("EOF: the last writer closed the FIFO\n");
    event_del(read_ev);
    close(fd);
    if (exit_on_eof) {
        event_base_loopbreak(base);
        return;
    }
    int nfd = open_fifo(); /* a fresh open: no EOF pending */
    if (nfd < 0 || event_assign(read_ev, base, nfd, EV_READ | EV_PERSIST, on_read, base) < 0 ||
        event_add(read_ev, NULL) < 0) {
        printf("cannot re-open %s: %s\n", path, strerror(errno));
        event_base_loopbreak(base);
        return;
    }
    printf("re-opened %s, waiting for the next writer\n", path);
}
// [/on_eof]

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    printf("got signal %d: stopping\n", (int)sig);
    event_base_loopbreak(arg);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: fifo_reader [--path P] [--exit-on-eof] [--method NAME] [--step] [--help]\n"
                "  --path P        the FIFO to create and read (default: a new temp dir)\n"
                "  --exit-on-eof   stop when the writer closes, instead of re-opening\n"
                "  --method NAME   epoll, poll or select\n"
                "  --step          pause before each step (also EVLAB_STEP=1)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"path", required_argument, NULL, 'p'},   {"exit-on-eof", no_argument, NULL, 'x'},
        {"method", required_argument, NULL, 'm'}, {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *method = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "p:xm:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'p':
            if (!*optarg || strlen(optarg) >= sizeof path) {
                fprintf(stderr, "fifo_reader: bad --path '%s'\n", optarg);
                usage(stderr);
                return 2;
            }
            snprintf(path, sizeof path, "%s", optarg);
            break;
        case 'x': exit_on_eof = true; break;
        case 'm': method = lesson_method(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fifo_reader: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. mkfifo");
    // [mkfifo]
    if (!path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/evlab-fifo-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir))
            die("mkdtemp(%s) failed: %s", tmpdir, strerror(errno));
        snprintf(path, sizeof path, "%s/event.fifo", tmpdir);
    }
    if (mkfifo(path, 0600) < 0)
        die("mkfifo(%s) failed: %s", path, strerror(errno)); /* never reuse a stranger's file */
    // [/mkfifo]

    step("2. open it O_RDONLY|O_NONBLOCK: returns at once, no writer needed");
    struct event_base *base = base_for_method(method);
    // [open]
    int fd = open_fifo();
    if (fd < 0)
        die("open(%s) failed: %s", path, strerror(errno));
    read_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, base);
    if (!read_ev)
        die("event_new() failed for the FIFO");
    if (event_add(read_ev, NULL) < 0)
        die("event_add() failed for the FIFO");
    // [/open]
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    if (!sigint || !sigterm)
        die("evsignal_new() failed");
    CHECK_OK(event_add(sigint, NULL));
    CHECK_OK(event_add(sigterm, NULL));
    printf("method: %s\n", event_base_get_method(base));
    printf("fifo ready: %s (try: echo hello > %s)\n", path, path);

    step("3. the loop: no writer yet, so no event and no CPU");
    event_base_dispatch(base);

    step("4. clean up: the FIFO is a file; nobody else will remove it");
    // [cleanup]
    int cur = event_get_fd(read_ev);
    if (event_initialized(read_ev) && event_pending(read_ev, EV_READ, NULL))
        close(cur); /* still open (not closed at EOF) */
    event_free(read_ev);
    event_free(sigint);
    event_free(sigterm);
    event_base_free(base);
    if (unlink(path) == 0)
        printf("removed %s\n", path);
    if (tmpdir[0] && rmdir(tmpdir) == 0)
        printf("removed %s\n", tmpdir);
    // [/cleanup]
    printf("callbacks: %lu, bytes: %lu, EOFs: %lu\n", calls, bytes, eofs);
    return 0;
}
