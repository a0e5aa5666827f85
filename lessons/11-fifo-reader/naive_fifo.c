/* naive_fifo.c -- the FIFO reader without EOF handling: count the spin.
 *
 * Teaches: once the last writer closes a FIFO, read() returns 0 and the fd
 * stays readable. A persistent read event whose callback ignores that 0 runs
 * again at once, forever: a busy loop at 100 % CPU. This program counts how
 * often that happens in a short window (--watch-ms, default 200) that starts
 * with the first data read, then stops itself, so the spin is bounded.
 * --rdwr opens the FIFO O_RDWR like the blog post "libevent demo" does: the
 * process is then a writer itself, so the FIFO never reaches EOF. No spin,
 * but no way to notice that the real writer has gone either. (Linux
 * documents O_RDWR on a FIFO in fifo(7); POSIX leaves it undefined.)
 *
 * Builds on: fifo_reader.c (same skeleton; diff them).
 *
 * Build and run on its own:
 *   cc -Wall -o naive_fifo naive_fifo.c $(pkg-config --cflags --libs libevent)
 *   ./naive_fifo --path /tmp/n.fifo &  echo hello > /tmp/n.fifo
 */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "../lesson.h"

static char path[PATH_MAX], tmpdir[PATH_MAX - 64];
static struct event *stop_ev;
static struct timeval watch = {0, 200 * 1000};
static unsigned long calls, zeros, bytes;

// [naive_read]
static void on_read(evutil_socket_t fd, short what, void *arg)
{
    char buf[4096];
    (void)what, (void)arg;
    calls++;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
        bytes += (size_t)n;
        printf("read %zd bytes: %.*s%s", n, (int)n, buf, buf[n - 1] == '\n' ? "" : "\n");
        if (!event_pending(stop_ev, EV_TIMEOUT, NULL) && event_add(stop_ev, &watch) < 0)
            printf("event_add() failed for the stop timer\n"); /* watch, then stop */
    } else if (n == 0) {
        zeros++; /* the bug: EOF ignored, event left on */
    }
}
// [/naive_read]

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    event_base_loopbreak(arg);
}

static void usage(FILE *to)
{
    fprintf(
        to,
        "usage: naive_fifo [--path P] [--rdwr] [--watch-ms N] [--method NAME] [--step] [--help]\n"
        "  --path P       the FIFO to create and read (default: a new temp dir)\n"
        "  --rdwr         open it O_RDWR, as the blog post does (EOF never comes)\n"
        "  --watch-ms N   stop N ms after the first data (default 200)\n"
        "  --method NAME  epoll, poll or select\n"
        "  --step         pause before each step (also EVLAB_STEP=1)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"path", required_argument, NULL, 'p'},
                                         {"rdwr", no_argument, NULL, 'r'},
                                         {"watch-ms", required_argument, NULL, 'w'},
                                         {"method", required_argument, NULL, 'm'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *method = NULL;
    bool rdwr = false;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "p:rw:m:sh", opts, NULL)) != -1;) {
        long ms;
        switch (c) {
        case 'p':
            if (!*optarg || strlen(optarg) >= sizeof path)
                goto bad;
            snprintf(path, sizeof path, "%s", optarg);
            break;
        case 'r': rdwr = true; break;
        case 'w':
            ms = lesson_num(optarg, 1, 60000, "--watch-ms");
            watch.tv_sec = ms / 1000;
            watch.tv_usec = (ms % 1000) * 1000;
            break;
        case 'm': method = lesson_method(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default:
            usage(stderr);
            return 2;
        bad:
            fprintf(stderr, "naive_fifo: bad value '%s'\n", optarg);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "naive_fifo: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. mkfifo");
    if (!path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/evlab-fifo-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpdir))
            die("mkdtemp(%s) failed: %s", tmpdir, strerror(errno));
        snprintf(path, sizeof path, "%s/event.fifo", tmpdir);
    }
    if (mkfifo(path, 0600) < 0)
        die("mkfifo(%s) failed: %s", path, strerror(errno));

    step("2. open it %s, a persistent read event",
         rdwr ? "O_RDWR (as the blog post does)" : "O_RDONLY");
    struct event_base *base = base_for_method(method);
    // [naive_open]
    int fd = open(path, (rdwr ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
    // [/naive_open]
    if (fd < 0)
        die("open(%s) failed: %s", path, strerror(errno));
    struct event *read_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, base);
    if (!read_ev)
        die("event_new() failed for the FIFO");
    if (event_add(read_ev, NULL) < 0)
        die("event_add() failed for the FIFO");
    stop_ev = evtimer_new(base, on_stop, base);
    struct event *sigint = evsignal_new(base, SIGINT, on_stop, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_stop, base);
    if (!stop_ev || !sigint || !sigterm)
        die("evtimer_new() or evsignal_new() failed");
    CHECK_OK(event_add(sigint, NULL));
    CHECK_OK(event_add(sigterm, NULL));
    printf("method: %s\n", event_base_get_method(base));
    printf("fifo ready: %s (try: echo hello > %s)\n", path, path);

    step("3. the loop, until %ld ms after the first data",
         (long)(watch.tv_sec * 1000 + watch.tv_usec / 1000));
    event_base_dispatch(base);

    step("4. what happened");
    printf("callbacks: %lu, bytes: %lu, read() returned 0: %lu times in %ld ms\n", calls, bytes,
           zeros, (long)(watch.tv_sec * 1000 + watch.tv_usec / 1000));
    if (zeros > 0)
        printf("=> a busy loop: after EOF the fd stays readable and EV_PERSIST keeps firing\n");
    else if (rdwr && bytes > 0)
        printf("=> no EOF at all: with O_RDWR this process is a writer too, so the FIFO\n"
               "   never sees its last writer leave (the blog post's reader could not notice a "
               "writer quit)\n");
    event_free(read_ev);
    event_free(stop_ev);
    event_free(sigint);
    event_free(sigterm);
    close(fd);
    event_base_free(base);
    if (unlink(path) == 0)
        printf("removed %s\n", path);
    if (tmpdir[0] && rmdir(tmpdir) == 0)
        printf("removed %s\n", tmpdir);
    return 0;
}
