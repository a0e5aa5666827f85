/* echo_server.c -- exercise 10, a second correct solution in another style:
 * evconnlistener + one bufferevent per connection (the reference uses raw
 * events and one fixed buffer). It exists so that the grading suite is
 * proven not to be tuned to the reference: it must pass everywhere.
 *
 *   - back-pressure: reading stops while 256 KiB of echo wait to be sent and
 *     starts again once half of it has gone (the write low watermark);
 *   - half-close: on EOF with echo still queued, stop reading, let the output
 *     drain, then free;
 *   - every live connection is on a list and is freed at SIGINT/SIGTERM.
 *
 *   cc -Wall -Wextra -o echo_server echo_server.c $(pkg-config --cflags --libs libevent)
 *   ./echo_server --port 0
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define MAX_PENDING (256 * 1024)

struct conn {
    struct bufferevent *bev;
    int closing; /* EOF seen: free once the output is empty */
    struct conn *prev, *next;
};
static struct conn *conns;

static void conn_free(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE closes the socket */
    free(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *out = bufferevent_get_output(bev);
    evbuffer_add_buffer(out, bufferevent_get_input(bev));
    if (evbuffer_get_length(out) >= MAX_PENDING)
        bufferevent_disable(bev, EV_READ); /* the write callback turns it back on */
}

/* Called when the output has drained to the low watermark (MAX_PENDING / 2),
 * or to 0 once the connection is closing. */
static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->closing) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            conn_free(c);
        return;
    }
    bufferevent_enable(bev, EV_READ);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        on_read(bev, c); /* whatever arrived with the EOF */
        if (evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
            c->closing = 1;
            bufferevent_disable(bev, EV_READ);
            bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
            return;
        }
    }
    conn_free(c); /* EOF with nothing queued, or an error (a reset) */
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)sa;
    (void)salen;
    (void)arg;
    struct conn *c = calloc(1, sizeof *c);
    struct bufferevent *bev =
        bufferevent_socket_new(evconnlistener_get_base(lis), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c || !bev) {
        free(c);
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        return;
    }
    c->bev = bev;
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(bev, EV_WRITE, MAX_PENDING / 2, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_listen_error(struct evconnlistener *lis, void *arg)
{
    (void)lis;
    (void)arg; /* EMFILE and friends: keep listening */
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char *argv[])
{
    int port = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s --port N\n", argv[0]);
            return 2;
        }
    }
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s --port N\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "event_base_new failed\n");
        return 1;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)port);
    struct evconnlistener *lis =
        evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                SOMAXCONN, (struct sockaddr *)&sin, sizeof sin);
    if (!lis) {
        perror("evconnlistener_new_bind");
        event_base_free(base);
        return 1;
    }
    evconnlistener_set_error_cb(lis, on_listen_error);
    socklen_t len = sizeof sin;
    getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&sin, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
    fflush(stdout);

    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_base_dispatch(base);

    while (conns)
        conn_free(conns);
    event_free(sigint);
    event_free(sigterm);
    evconnlistener_free(lis);
    event_base_free(base);
    return 0;
}
