/* ev_echo.c -- the same echo server on libev, for a side-by-side measurement.
 *
 * Teaches: libev's shape next to libevent's. libev gives you watchers and
 * nothing else: no buffers. This server uses epoll_echo.c's write strategy
 * line for line: read once per wake-up (--read-size, default 65536, as
 * epoll_echo), send at once, queue only what the kernel would not take, and
 * while anything is queued watch for writability instead of readability.
 * The watcher is re-set only when that changes; libev itself turns the
 * change into one epoll_ctl at the next loop turn.
 *
 * Builds on: 10 (fixed_echo.c), 17 (epoll_echo.c).
 *
 * Build and run on its own (Debian ships libev without a pkg-config file):
 *   cc -O2 -Wall -o ev_echo ev_echo.c -lev
 *   ./ev_echo --port 0 [--read-size 4096]
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
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

static size_t read_size = 65536; /* --read-size */

static void drop(struct ev_loop *loop, struct conn *c)
{
    ev_io_stop(loop, &c->io);
    close(c->io.fd);
    free(c->pending);
    free(c);
}

/* Send from `data`; queue whatever the kernel does not take (as epoll_echo). */
static int send_or_queue(struct conn *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->io.fd, data + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0)
            return -1;
        off += (size_t)n;
    }
    if (off < len) {
        if (c->len + (len - off) > c->cap) {
            c->cap = (c->len + (len - off)) * 2;
            c->pending = realloc(c->pending, c->cap);
            if (!c->pending)
                return -1;
        }
        memmove(c->pending + c->len, data + off, len - off);
        c->len += len - off;
    }
    return 0;
}

static void on_client(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = (struct conn *)w;
    int rc;
    if (revents & EV_WRITE) {
        size_t queued = c->len;
        c->len = 0;
        rc = send_or_queue(c, c->pending, queued);
    } else {
        char buf[65536];
        ssize_t n = recv(w->fd, buf, read_size, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        rc = n > 0 ? send_or_queue(c, buf, (size_t)n) : -1;
    }
    if (rc < 0) {
        drop(loop, c);
        return;
    }
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

static long number(const char *s, long lo, long hi, const char *flag)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "ev_echo: %s needs %ld to %ld, not '%s'\n", flag, lo, hi, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long port = -1;
    bool help = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            help = true;
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = number(argv[++i], 0, 65535, "--port");
        else if (strcmp(argv[i], "--read-size") == 0 && i + 1 < argc)
            read_size = (size_t)number(argv[++i], 1, 65536, "--read-size");
        else
            port = -2;
    }
    if (help || port < 0) { /* --help: the usage on stdout, exit 0; a mistake: stderr, 2 */
        fprintf(help ? stdout : stderr,
                "usage: ev_echo --port N [--read-size BYTES]   (port 0 picks a free "
                "port and prints it)\n");
        return help ? 0 : 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
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
