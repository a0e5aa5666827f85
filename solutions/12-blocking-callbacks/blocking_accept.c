/* blocking_accept.c -- exercise 12, reference solution: one thread, many clients.
 *
 * The accept callback returns at once: it accepts, wraps the new socket in a
 * bufferevent and goes back to the loop. Each client then has its own read
 * callback, and the loop runs whichever client is ready. Nothing in a callback
 * ever waits. Events (the bufferevents) are added while the loop runs; that is
 * what the loop is for.
 *
 *   cc -Wall -Wextra -o blocking_accept blocking_accept.c $(pkg-config --cflags --libs libevent)
 *   ./blocking_accept --port 0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define MAX_PENDING (256 * 1024) /* stop reading a client with this much unsent */

static void on_read(struct bufferevent *bev, void *arg);

/* Every live connection, so that a shutdown can free them all. */
struct conn {
    struct bufferevent *bev;
    LIST_ENTRY(conn) link;
};
static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);

static void conn_free(struct conn *c)
{
    LIST_REMOVE(c, link);
    bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE closes the socket */
    free(c);
}

/* Output drained below the low watermark: read from this client again. */
static void on_write(struct bufferevent *bev, void *arg)
{
    (void)arg;
    if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
        on_read(bev, NULL);
    bufferevent_enable(bev, EV_READ);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *out = bufferevent_get_output(bev);
    evbuffer_add_buffer(out, bufferevent_get_input(bev)); /* echo, no copy */
    if (evbuffer_get_length(out) >= MAX_PENDING) {
        bufferevent_disable(bev, EV_READ); /* back-pressure */
        bufferevent_setwatermark(bev, EV_WRITE, MAX_PENDING / 2, 0);
    }
}

static void on_drained_close(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        /* half-close: finish the echo, then close */
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        bufferevent_setcb(bev, NULL, on_drained_close, on_event, arg);
        bufferevent_disable(bev, EV_READ);
        return;
    }
    conn_free(arg); /* EOF or error */
}

static void call_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                        int salen, void *arg)
{
    (void)sa;
    (void)salen;
    (void)arg;
    struct event_base *base = evconnlistener_get_base(lis);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    LIST_INSERT_HEAD(&conns, c, link);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void on_listen_error(struct evconnlistener *lis, void *arg)
{
    (void)lis;
    (void)arg;
    /* EMFILE and friends: the listener goes on; a real server would pause it */
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
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
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "error: event_base_new() failed\n");
        return 1;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)port);
    struct evconnlistener *lis =
        evconnlistener_new_bind(base, call_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                1024, (struct sockaddr *)&sin, sizeof sin);
    if (!lis) {
        perror("error: evconnlistener_new_bind");
        return 1;
    }
    evconnlistener_set_error_cb(lis, on_listen_error);
    socklen_t len = sizeof sin;
    if (getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&sin, &len) < 0) {
        perror("error: getsockname");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));

    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (!sigint) {
        fprintf(stderr, "error: evsignal_new(SIGINT) failed\n");
        return 1;
    }
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    if (!sigterm) {
        fprintf(stderr, "error: evsignal_new(SIGTERM) failed\n");
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

    while (!LIST_EMPTY(&conns))
        conn_free(LIST_FIRST(&conns));
    event_free(sigint);
    event_free(sigterm);
    evconnlistener_free(lis);
    event_base_free(base);
    return 0;
}
