/* evbuf_echo.c -- libevent without bufferevents: raw events + one evbuffer.
 *
 * Teaches: what a bufferevent adds on top of libevent's loop and buffers.
 * This server has epoll_echo.c's design, with libevent doing the I/O: one
 * persistent EV_READ event and one EV_WRITE event per connection, and an
 * evbuffer for the bytes in transit. evbuffer_read() takes what the socket
 * has (at most 4096 bytes in 2.1, and it asks the kernel how much with
 * ioctl(FIONREAD) first), evbuffer_write() sends it at once, and only if
 * something is left does the server swap the read event for the write
 * event, as epoll_echo swaps EPOLLIN for EPOLLOUT.
 *
 * Side by side in lesson 17: against `epoll_echo --read-size 4096` this
 * measures libevent's loop and evbuffers; against `bev_variants` (the same
 * echo with a bufferevent) it measures the bufferevent's bookkeeping.
 *
 * --defer-write is the control for one piece of that bookkeeping: a
 * bufferevent never writes from the read callback; adding output turns its
 * write event on, and the write happens in a later loop turn. With this
 * flag the server does the same: after a read it adds the write event and
 * writes only when that event fires, then deletes it again.
 *
 * Builds on: 10 (fixed_echo.c), 17 (epoll_echo.c).
 *
 * Build and run on its own:
 *   cc -O2 -Wall -o evbuf_echo evbuf_echo.c $(pkg-config --cflags --libs libevent)
 *   ./evbuf_echo --port 0 [--defer-write]
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>

#include <event2/buffer.h>
#include <event2/listener.h>

#include "../lesson.h"

static bool defer_write; /* --defer-write */

struct conn {
    struct event *readable, *writable;
    struct evbuffer *queue; /* read in, not yet written out */
};

static void drop(struct conn *c)
{
    evutil_socket_t fd = event_get_fd(c->readable);
    event_free(c->readable);
    event_free(c->writable);
    evbuffer_free(c->queue);
    evutil_closesocket(fd);
    free(c);
}

// [echo]
/* Write what is queued; watch for writability only while something is left. */
static int flush(struct conn *c, evutil_socket_t fd)
{
    if (evbuffer_write(c->queue, fd) < 0 && errno != EAGAIN && errno != EINTR)
        return -1;
    bool behind = evbuffer_get_length(c->queue) > 0;
    if (behind && !event_pending(c->writable, EV_WRITE, NULL)) {
        event_del(c->readable); /* stop reading while the peer is behind */
        event_add(c->writable, NULL);
    } else if (!behind && event_pending(c->writable, EV_WRITE, NULL)) {
        event_del(c->writable);
        event_add(c->readable, NULL);
    }
    return 0;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    int n = evbuffer_read(c->queue, fd, -1); /* at most 4096 bytes in libevent 2.1 */
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(c);
        return;
    }
    if (n > 0 && defer_write) { /* as a bufferevent does: write in a later loop turn */
        if (!event_pending(c->writable, EV_WRITE, NULL))
            event_add(c->writable, NULL);
        return;
    }
    if (n > 0 && flush(c, fd) < 0)
        drop(c);
}
// [/echo]

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    if (defer_write) { /* write, and stop watching for writability once all is out */
        if (evbuffer_write(c->queue, fd) < 0 && errno != EAGAIN && errno != EINTR) {
            drop(c);
            return;
        }
        if (evbuffer_get_length(c->queue) == 0)
            event_del(c->writable);
        return;
    }
    if (flush(c, fd) < 0)
        drop(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)sa, (void)len, (void)arg;
    struct event_base *base = evconnlistener_get_base(l);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->readable = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->writable = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    c->queue = evbuffer_new();
    if (!c->readable || !c->writable || !c->queue || event_add(c->readable, NULL) < 0) {
        fprintf(stderr, "evbuf_echo: event_new/evbuffer_new/event_add failed\n");
        if (c->readable)
            event_free(c->readable);
        if (c->writable)
            event_free(c->writable);
        if (c->queue)
            evbuffer_free(c->queue);
        evutil_closesocket(fd);
        free(c);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *base)
{
    (void)sig, (void)what;
    event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"defer-write", no_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long port = -1;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': port = lesson_num(optarg, 0, 65535, "--port"); break;
        case 'd': defer_write = true; break;
        case 'h':
            puts("usage: evbuf_echo --port N   (0 picks a free port and prints it)");
            return 0;
        default: fputs("usage: evbuf_echo --port N\n", stderr); return 2;
        }
    }
    if (port < 0) {
        fputs("usage: evbuf_echo --port N   (0 picks a free port and prints it)\n", stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* evbuffer_write uses writev(): a closed peer must not kill us */
    struct event_base *base = event_base_new();
    if (!base)
        die("event_base_new failed");
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *listener =
        evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                1024, (struct sockaddr *)&sin, sizeof sin);
    if (!listener)
        die("evconnlistener_new_bind: %s", strerror(errno));
    socklen_t len = sizeof sin;
    getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&sin, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    if (!sigint || !sigterm)
        die("evsignal_new failed");
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_base_dispatch(base);
    event_free(sigint);
    event_free(sigterm);
    evconnlistener_free(listener);
    event_base_free(base);
    return 0;
}
