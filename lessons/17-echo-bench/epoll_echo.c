/* epoll_echo.c -- the floor: a minimal single-threaded echo server on raw epoll.
 *
 * Teaches: what libevent saves you from writing, and what it costs. No
 * library at all: one epoll set, level-triggered, each connection with a
 * small queue for the bytes the kernel would not take yet. With nothing
 * between the loop and the syscalls, this is as fast as one thread can echo
 * on loopback; lesson 17 measures the others against it.
 *
 * --read-size N caps each recv() at N bytes (default 65536). With 4096, the
 * cap libevent 2.1's evbuffer_read() has, this floor falls to the speed of
 * the bufferevent server: that read size, not the library, is the gap.
 *
 * Builds on: 10 (fixed_echo.c has the same shape on libevent).
 *
 * Build and run on its own:
 *   cc -O2 -Wall -o epoll_echo epoll_echo.c
 *   ./epoll_echo --port 0 [--read-size 4096]
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int fd;
    char *pending; /* echoed bytes the kernel has not accepted yet */
    size_t len, cap;
};

static volatile sig_atomic_t stop;
static size_t read_size = 65536; /* --read-size */
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void drop(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pending);
    free(c);
}

/* Send what is queued; then wait for EPOLLOUT only while something is left. */
static int flush(int ep, struct conn *c)
{
    size_t off = 0;
    while (off < c->len) {
        ssize_t n = send(c->fd, c->pending + off, c->len - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0)
            return -1;
        off += (size_t)n;
    }
    memmove(c->pending, c->pending + off, c->len - off);
    c->len -= off;
    struct epoll_event ev = {.events = c->len ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

// [read_size]
static int on_readable(int ep, struct conn *c)
{
    char buf[65536];
    ssize_t n = recv(c->fd, buf, read_size, 0); /* 65536, or 4096 as libevent 2.1 reads */
                                                // [/read_size]
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return -1;
    if (n < 0)
        return 0;
    if (c->len + (size_t)n > c->cap) {
        c->cap = (c->len + (size_t)n) * 2;
        c->pending = realloc(c->pending, c->cap);
    }
    memcpy(c->pending + c->len, buf, (size_t)n);
    c->len += (size_t)n;
    return flush(ep, c);
}

int main(int argc, char **argv)
{
    int port = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--read-size") == 0 && i + 1 < argc) {
            long n = atol(argv[++i]);
            if (n < 1 || n > 65536) {
                fprintf(stderr, "epoll_echo: --read-size needs 1 to 65536 bytes, not '%s'\n",
                        argv[i]);
                return 2;
            }
            read_size = (size_t)n;
        } else if (strcmp(argv[i], "--help") == 0) {
            puts("usage: epoll_echo --port N [--read-size BYTES]\n"
                 "  --port N           0 picks a free port and prints it\n"
                 "  --read-size BYTES  at most this much per recv(); default 65536");
            return 0;
        } else {
            fprintf(stderr,
                    "epoll_echo: unknown argument '%s'\nusage: epoll_echo --port N [--read-size "
                    "BYTES]\n",
                    argv[i]);
            return 2;
        }
    }
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: epoll_echo --port N\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
        perror("epoll_echo: bind/listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));

    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) { /* the listener: accept everything that is waiting */
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct conn *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            int rc = (evs[i].events & EPOLLOUT) ? flush(ep, c) : on_readable(ep, c);
            if (rc < 0 || (evs[i].events & EPOLLERR))
                drop(ep, c);
        }
    }
    close(ep);
    close(lfd);
    return 0;
}
