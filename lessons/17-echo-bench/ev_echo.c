/* ev_echo.c -- the same echo server on libev, for a side-by-side measurement.
 *
 * Teaches: libev's shape next to libevent's. libev gives you watchers and
 * nothing else: no buffers, so each connection keeps its own queue of bytes
 * the kernel has not taken, and turns its write watcher on only while that
 * queue is not empty (the same design as fixed_echo.c in lesson 10).
 *
 * Builds on: 10 (fixed_echo.c), 17 (epoll_echo.c).
 *
 * Build and run on its own (Debian ships libev without a pkg-config file):
 *   cc -O2 -Wall -o ev_echo ev_echo.c -lev
 *   ./ev_echo --port 0
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

struct conn {
    ev_io io; /* first member: the watcher pointer is the conn pointer */
    char *pending;
    size_t len, cap;
};

static void drop(struct ev_loop *loop, struct conn *c)
{
    ev_io_stop(loop, &c->io);
    close(c->io.fd);
    free(c->pending);
    free(c);
}

static void on_client(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = (struct conn *)w;
    if (revents & EV_READ) {
        char buf[65536];
        ssize_t n = recv(w->fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            drop(loop, c);
            return;
        }
        if (n > 0) {
            if (c->len + (size_t)n > c->cap) {
                c->cap = (c->len + (size_t)n) * 2;
                c->pending = realloc(c->pending, c->cap);
            }
            memcpy(c->pending + c->len, buf, (size_t)n);
            c->len += (size_t)n;
        }
    }
    size_t off = 0;
    while (off < c->len) {
        ssize_t n = send(w->fd, c->pending + off, c->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0) {
            drop(loop, c);
            return;
        }
        off += (size_t)n;
    }
    memmove(c->pending, c->pending + off, c->len - off);
    c->len -= off;
    int want = c->len ? EV_WRITE : EV_READ; /* stop reading while the peer is behind */
    if ((w->events & (EV_READ | EV_WRITE)) != want) {
        ev_io_stop(loop, w);
        ev_io_set(w, w->fd, want);
        ev_io_start(loop, w);
    }
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    int fd;
    while ((fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        struct conn *c = calloc(1, sizeof *c);
        ev_io_init(&c->io, on_client, fd, EV_READ);
        ev_io_start(loop, &c->io);
    }
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w, (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--port") != 0) {
        fprintf(stderr, "usage: ev_echo --port N   (0 picks a free port and prints it)\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
        perror("ev_echo: bind/listen");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
    struct ev_loop *loop = EV_DEFAULT;
    ev_io accept_w;
    ev_io_init(&accept_w, on_accept, lfd, EV_READ);
    ev_io_start(loop, &accept_w);
    ev_signal sigint_w, sigterm_w;
    ev_signal_init(&sigint_w, on_signal, SIGINT);
    ev_signal_start(loop, &sigint_w);
    ev_signal_init(&sigterm_w, on_signal, SIGTERM);
    ev_signal_start(loop, &sigterm_w);
    ev_run(loop, 0);
    close(lfd);
    return 0;
}
