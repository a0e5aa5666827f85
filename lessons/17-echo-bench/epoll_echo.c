/* epoll_echo.c -- the floor: a minimal single-threaded echo server on raw epoll.
 *
 * Teaches: what libevent saves you from writing, and what it costs. No
 * library at all: one epoll set, level-triggered. The write strategy, which
 * the libuv and libev servers share: read once per wake-up into a buffer,
 * send it at once, queue only what the kernel would not take, and while
 * anything is queued stop reading and wait for EPOLLOUT instead.
 *
 * The interest set changes only when that state changes (queue empty <->
 * not empty): one epoll_ctl per stall, not one per recv(). Two controls,
 * each changing one thing, for lesson 17's attribution:
 *   --read-size N  caps each recv() at N bytes (default 65536; 4096 is the
 *                  most libevent 2.1's evbuffer_read() takes per call);
 *   --churn        calls epoll_ctl(EPOLL_CTL_MOD) after every recv() and
 *                  send, changed or not (what this server did before).
 *
 * Builds on: 10 (fixed_echo.c has the same shape on libevent).
 *
 * Build and run on its own:
 *   cc -O2 -Wall -o epoll_echo epoll_echo.c
 *   ./epoll_echo --port 0 [--read-size 4096] [--churn]
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int fd;
    unsigned interest; /* what epoll watches now: EPOLLIN or EPOLLOUT */
    char *pending;     /* echoed bytes the kernel has not accepted yet */
    size_t len, cap;
};

static volatile sig_atomic_t stop;
static size_t read_size = 65536; /* --read-size */
static bool churn;               /* --churn */
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

// [interest]
/* Watch EPOLLOUT while bytes wait, EPOLLIN otherwise; tell the kernel only
 * when that changes (always, with --churn). */
static int want(int ep, struct conn *c)
{
    unsigned events = c->len ? EPOLLOUT : EPOLLIN;
    if (events == c->interest && !churn)
        return 0;
    c->interest = events;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}
// [/interest]

/* Send from `data`; queue whatever the kernel does not take. */
static int send_or_queue(struct conn *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
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

static int on_writable(int ep, struct conn *c)
{
    size_t queued = c->len;
    c->len = 0; /* send_or_queue re-queues the rest at the front */
    if (send_or_queue(c, c->pending, queued) < 0)
        return -1;
    return want(ep, c);
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
    if (send_or_queue(c, buf, (size_t)n) < 0)
        return -1;
    return want(ep, c);
}

static void usage(FILE *to)
{
    fputs("usage: epoll_echo --port N [--read-size BYTES] [--churn]\n"
          "  --port N           0 picks a free port and prints it\n"
          "  --read-size BYTES  at most this much per recv(); default 65536\n"
          "  --churn            epoll_ctl(MOD) after every recv() and send, changed or not\n",
          to);
}

int main(int argc, char **argv)
{
    int port = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            long p = strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || p < 0 || p > 65535) {
                fprintf(stderr, "epoll_echo: --port needs 0 to 65535, not '%s'\n", argv[i]);
                return 2;
            }
            port = (int)p;
        } else if (strcmp(argv[i], "--read-size") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || n < 1 || n > 65536) {
                fprintf(stderr, "epoll_echo: --read-size needs 1 to 65536 bytes, not '%s'\n",
                        argv[i]);
                return 2;
            }
            read_size = (size_t)n;
        } else if (strcmp(argv[i], "--churn") == 0) {
            churn = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "epoll_echo: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (port < 0) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    if (lfd < 0) {
        perror("epoll_echo: socket");
        return 1;
    }
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
    if (ep < 0) {
        perror("epoll_echo: epoll_create1");
        return 1;
    }
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("epoll_echo: epoll_ctl(ADD listener)");
        return 1;
    }
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
                    nc->interest = EPOLLIN;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        close(fd);
                        free(nc);
                    }
                }
                continue;
            }
            int rc = (evs[i].events & EPOLLOUT) ? on_writable(ep, c) : on_readable(ep, c);
            if (rc < 0 || (evs[i].events & EPOLLERR))
                drop(ep, c);
        }
    }
    close(ep);
    close(lfd);
    return 0;
}
