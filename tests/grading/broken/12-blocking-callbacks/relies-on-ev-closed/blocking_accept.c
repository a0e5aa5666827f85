/* BROKEN VARIANT relies-on-ev-closed: treats read() == 0 as EOF only when EV_CLOSED came with it: right on epoll, a spin and a leak on backends without early-close */
/* blocking_accept.c -- exercise 12, a second correct solution in another style:
 * raw events (event_new on the accepted socket) where the reference uses
 * evconnlistener and bufferevents. Nothing in a callback waits: the accept
 * callback accepts and registers a read event; the read callback reads once
 * into the connection's buffer and switches to a write event until the buffer
 * has gone, resuming partial send()s. It exists to prove the grading suite is
 * not tuned to the reference: it must pass on every backend.
 *
 *   cc -Wall -Wextra -o blocking_accept blocking_accept.c $(pkg-config --cflags --libs libevent)
 *   ./blocking_accept --port 0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#define BACKLOG 1024
#define MEM_SIZE 1024

struct conn {
    int fd;
    struct event *read_ev, *write_ev;
    char buffer[MEM_SIZE];
    size_t len, off;          /* bytes in buffer, bytes already sent */
    struct conn *prev, *next; /* all live connections, for shutdown */
};

static struct event_base *base;
static struct conn *conns;

static void conn_free(struct conn *c)
{
    event_free(c->read_ev); /* event_free deletes a pending event first */
    event_free(c->write_ev);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void on_write(evutil_socket_t sock, short event, void *arg)
{
    (void)event;
    struct conn *c = arg;
    ssize_t n = send(sock, c->buffer + c->off, c->len - c->off, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return; /* still pending: try again when writable */
        conn_free(c);
        return;
    }
    c->off += (size_t)n;
    if (c->off < c->len)
        return; /* partial write: the event stays pending */
    c->off = c->len = 0;
    event_del(c->write_ev);
    event_add(c->read_ev, NULL); /* buffer empty: read again */
}

static void on_read(evutil_socket_t sock, short event, void *arg)
{
    struct conn *c = arg;
    ssize_t n = recv(sock, c->buffer, sizeof c->buffer, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n == 0 && !(event & EV_CLOSED))
        return;   /* BUG: counts on EV_CLOSED to report the close, which only epoll can do */
    if (n <= 0) { /* EOF, or an error such as a reset */
        conn_free(c);
        return;
    }
    c->len = (size_t)n;
    c->off = 0;
    event_del(c->read_ev); /* one buffer: no reading until it is sent */
    event_add(c->write_ev, NULL);
}

static void on_accept(evutil_socket_t sock, short event, void *arg)
{
    (void)event;
    (void)arg;
    int fd = accept(sock, NULL, NULL);
    if (fd < 0)
        return; /* EAGAIN, ECONNABORTED, EMFILE...: go on */
    evutil_make_socket_nonblocking(fd);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->read_ev = event_new(base, fd, EV_READ | EV_CLOSED | EV_PERSIST, on_read, c);
    c->write_ev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    if (!c->read_ev || !c->write_ev) {
        conn_free(c);
        return;
    }
    event_add(c->read_ev, NULL);
}

static void on_signal(evutil_socket_t sig, short event, void *arg)
{
    (void)sig;
    (void)event;
    (void)arg;
    event_base_loopbreak(base);
}

int main(int argc, char *argv[])
{
    int port = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: %s --port N   (0 = any free port)\n", argv[0]);
            return 0;
        } else {
            fprintf(stderr, "%s: unknown argument '%s'\nusage: %s --port N\n", argv[0], argv[i],
                    argv[0]);
            return 2;
        }
    }
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s --port N\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    int sock = socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in my_addr;
    memset(&my_addr, 0, sizeof my_addr);
    my_addr.sin_family = AF_INET;
    my_addr.sin_port = htons((unsigned short)port);
    my_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof my_addr;
    if (sock < 0 || bind(sock, (struct sockaddr *)&my_addr, sizeof my_addr) < 0 ||
        listen(sock, BACKLOG) < 0 || getsockname(sock, (struct sockaddr *)&my_addr, &len) < 0) {
        perror("error: socket/bind/listen");
        return 1;
    }
    evutil_make_socket_nonblocking(sock);
    printf("listening on 127.0.0.1:%d\n", ntohs(my_addr.sin_port));
    fflush(stdout);

    base = event_base_new();
    if (!base) {
        fprintf(stderr, "error: event_base_new() failed\n");
        return 1;
    }
    struct event *listen_ev = event_new(base, sock, EV_READ | EV_PERSIST, on_accept, NULL);
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, NULL);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
    event_add(listen_ev, NULL);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_base_dispatch(base);

    while (conns)
        conn_free(conns);
    event_free(listen_ev);
    event_free(sigint);
    event_free(sigterm);
    close(sock);
    event_base_free(base);
    return 0;
}
