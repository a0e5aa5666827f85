/* echo_server.c -- exercise 10, reference solution: seed 002's echo server, fixed.
 *
 * Same shape as the seed (one read event, one write event and one buffer per
 * connection), with one owner per buffer and these fixes:
 *   - the buffer belongs to the connection and is freed once, with it;
 *   - lengths come from recv(), never from strlen(): binary data and full
 *     buffers echo exactly;
 *   - while a buffer waits to be written the read event is off, so a client
 *     that never reads cannot make the server buffer without limit, and the
 *     write event is on only while there is something to write;
 *   - sockets are non-blocking and partial send()s are resumed;
 *   - recv() < 0 (a reset) frees the connection like EOF does;
 *   - SIGPIPE is ignored; SIGINT/SIGTERM free everything and exit 0.
 * It uses the 2.x API (event_new) instead of event_set/event_base_set.
 *
 *   cc -Wall -Wextra -o echo_server echo_server.c $(pkg-config --cflags --libs libevent)
 *   ./echo_server --port 0
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
    if (event_add(c->read_ev, NULL) < 0) { /* buffer empty: read again */
        fprintf(stderr, "error: event_add() failed for a read event\n");
        conn_free(c);
    }
}

static void on_read(evutil_socket_t sock, short event, void *arg)
{
    (void)event;
    struct conn *c = arg;
    ssize_t n = recv(sock, c->buffer, sizeof c->buffer, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) { /* EOF, or an error such as a reset */
        conn_free(c);
        return;
    }
    c->len = (size_t)n;
    c->off = 0;
    event_del(c->read_ev); /* one buffer: no reading until it is sent */
    if (event_add(c->write_ev, NULL) < 0) {
        fprintf(stderr, "error: event_add() failed for a write event\n");
        conn_free(c);
    }
}

static void on_accept(evutil_socket_t sock, short event, void *arg)
{
    (void)event;
    (void)arg;
    int fd = accept(sock, NULL, NULL);
    if (fd < 0)
        return; /* EAGAIN, ECONNABORTED, EMFILE...: go on */
    if (evutil_make_socket_nonblocking(fd) < 0) {
        close(fd);
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->read_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->write_ev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    if (!c->read_ev || !c->write_ev) {
        fprintf(stderr, "error: event_new() failed for a connection\n");
        conn_free(c);
        return;
    }
    if (event_add(c->read_ev, NULL) < 0) {
        fprintf(stderr, "error: event_add() failed for a connection\n");
        conn_free(c);
    }
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
    long port = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            const char *arg = argv[++i];
            char *end;
            errno = 0;
            port = strtol(arg, &end, 10);
            if (end == arg || *end || errno || port < 0 || port > 65535) {
                fprintf(stderr, "%s: --port wants a number from 0 to 65535, not '%s'\n", argv[0],
                        arg);
                return 2;
            }
        } else if (strcmp(argv[i], "--help") == 0) {
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
    if (sock < 0) {
        perror("error: socket");
        return 1;
    }
    int yes = 1;
    if (setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) < 0) {
        perror("error: setsockopt(SO_REUSEADDR)");
        return 1;
    }
    struct sockaddr_in my_addr;
    memset(&my_addr, 0, sizeof my_addr);
    my_addr.sin_family = AF_INET;
    my_addr.sin_port = htons((unsigned short)port);
    my_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(sock, (struct sockaddr *)&my_addr, sizeof my_addr) < 0) {
        perror("error: bind");
        return 1;
    }
    if (listen(sock, BACKLOG) < 0) {
        perror("error: listen");
        return 1;
    }
    socklen_t len = sizeof my_addr;
    if (getsockname(sock, (struct sockaddr *)&my_addr, &len) < 0) {
        perror("error: getsockname");
        return 1;
    }
    if (evutil_make_socket_nonblocking(sock) < 0) {
        fprintf(stderr, "error: evutil_make_socket_nonblocking() failed\n");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(my_addr.sin_port));
    fflush(stdout);

    base = event_base_new();
    if (!base) {
        fprintf(stderr, "error: event_base_new() failed\n");
        return 1;
    }
    struct event *listen_ev = event_new(base, sock, EV_READ | EV_PERSIST, on_accept, NULL);
    if (!listen_ev) {
        fprintf(stderr, "error: event_new() failed for the listening socket\n");
        return 1;
    }
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, NULL);
    if (!sigint) {
        fprintf(stderr, "error: evsignal_new(SIGINT) failed\n");
        return 1;
    }
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
    if (!sigterm) {
        fprintf(stderr, "error: evsignal_new(SIGTERM) failed\n");
        return 1;
    }
    if (event_add(listen_ev, NULL) < 0) {
        fprintf(stderr, "error: event_add() failed for the listening socket\n");
        return 1;
    }
    if (event_add(sigint, NULL) < 0) {
        fprintf(stderr, "error: event_add(SIGINT) failed\n");
        return 1;
    }
    if (event_add(sigterm, NULL) < 0) {
        fprintf(stderr, "error: event_add(SIGTERM) failed\n");
        return 1;
    }
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
