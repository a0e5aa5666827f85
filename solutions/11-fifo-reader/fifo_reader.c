/* fifo_reader.c -- exercise 11, reference solution: seed 003's FIFO reader done right.
 *
 * The FIFO is opened O_RDONLY|O_NONBLOCK (the open does not wait for a
 * writer) and watched by a persistent read event. Bytes go into an evbuffer
 * and come out as lines with evbuffer_readln. When the writer closes, read()
 * returns 0, and keeps returning 0 at once: the fd stays readable, and a
 * persistent event on it would spin. So at EOF we print the unterminated
 * rest, then re-open the FIFO (new end first, then close the old one): a
 * fresh reader end with no writer is not readable, and the loop sleeps until
 * the next writer opens it.
 *
 *   cc -Wall -Wextra -o fifo_reader fifo_reader.c $(pkg-config --cflags --libs libevent)
 *   ./fifo_reader /tmp/demo.fifo      # then: echo hello > /tmp/demo.fifo
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

struct reader {
    const char *path;
    struct event_base *base;
    struct event *ev;
    struct evbuffer *buf;
    int fd;
};

static void on_readable(evutil_socket_t fd, short what, void *arg);

static int open_fifo(struct reader *r)
{
    r->fd = open(r->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (r->fd < 0) {
        fprintf(stderr, "error: open %s: %s\n", r->path, strerror(errno));
        return -1;
    }
    r->ev = event_new(r->base, r->fd, EV_READ | EV_PERSIST, on_readable, r);
    if (!r->ev) {
        fprintf(stderr, "error: event_new() failed for %s\n", r->path);
        return -1;
    }
    if (event_add(r->ev, NULL) < 0) {
        fprintf(stderr, "error: event_add() failed for %s\n", r->path);
        return -1;
    }
    return 0;
}

static void close_fifo(struct reader *r)
{
    if (r->ev)
        event_free(r->ev);
    if (r->fd >= 0)
        close(r->fd);
    r->ev = NULL;
    r->fd = -1;
}

static void print_lines(struct reader *r)
{
    char *line;
    size_t len;
    while ((line = evbuffer_readln(r->buf, &len, EVBUFFER_EOL_LF))) {
        printf("line: %s\n", line);
        free(line);
    }
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct reader *r = arg;
    int n = evbuffer_read(r->buf, fd, 65536);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        print_lines(r);
        return;
    }
    /* EOF (or an error): the writer has gone. */
    print_lines(r);
    size_t rest = evbuffer_get_length(r->buf);
    if (rest > 0) { /* a last line without "\n" */
        char *tail = malloc(rest + 1);
        if (tail) {
            evbuffer_remove(r->buf, tail, rest);
            tail[rest] = '\0';
            printf("line: %s\n", tail);
            free(tail);
        }
        evbuffer_drain(r->buf, evbuffer_get_length(r->buf));
    }
    printf("writer closed\n");
    /* Open the new reader end before closing the old one: a writer may have
     * come, written and gone in between, and a FIFO with neither readers nor
     * writers throws its data away. */
    struct event *old_ev = r->ev;
    int old_fd = r->fd;
    r->ev = NULL;
    if (open_fifo(r) < 0)
        event_base_loopbreak(r->base);
    event_free(old_ev);
    close(old_fd);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct reader *r = arg;
    printf("got signal %d, removing %s\n", (int)sig, r->path);
    event_base_loopbreak(r->base);
}

int main(int argc, char *argv[])
{
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s PATH   (creates the FIFO PATH, prints each line written to it)\n",
               argv[0]);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s PATH\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct reader r = {.path = argv[1], .fd = -1};
    if (mkfifo(r.path, 0600) < 0) {
        fprintf(stderr, "error: mkfifo %s: %s\n", r.path, strerror(errno));
        return 1;
    }
    int code = 1;
    struct event *sigint = NULL, *sigterm = NULL;
    r.base = event_base_new();
    if (!r.base) {
        fprintf(stderr, "error: event_base_new() failed\n");
        goto out;
    }
    r.buf = evbuffer_new();
    if (!r.buf) {
        fprintf(stderr, "error: evbuffer_new() failed\n");
        goto out;
    }
    sigint = evsignal_new(r.base, SIGINT, on_signal, &r);
    if (!sigint) {
        fprintf(stderr, "error: evsignal_new(SIGINT) failed\n");
        goto out;
    }
    sigterm = evsignal_new(r.base, SIGTERM, on_signal, &r);
    if (!sigterm) {
        fprintf(stderr, "error: evsignal_new(SIGTERM) failed\n");
        goto out;
    }
    if (event_add(sigint, NULL) < 0) {
        fprintf(stderr, "error: event_add(SIGINT) failed\n");
        goto out;
    }
    if (event_add(sigterm, NULL) < 0) {
        fprintf(stderr, "error: event_add(SIGTERM) failed\n");
        goto out;
    }
    if (open_fifo(&r) < 0)
        goto out;
    printf("waiting on %s\n", r.path);
    event_base_dispatch(r.base);
    code = 0;
out:
    close_fifo(&r);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (r.buf)
        evbuffer_free(r.buf);
    if (r.base)
        event_base_free(r.base);
    unlink(r.path);
    return code;
}
