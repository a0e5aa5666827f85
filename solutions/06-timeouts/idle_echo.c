/* idle_echo.c -- exercise 06 (reference): an echo server that closes a
 * connection once its client has sent nothing for --idle-ms.
 *
 * Usage: idle_echo --idle-ms MS [--port N]   (--port 0: ephemeral, the default)
 * Prints "listening on 127.0.0.1:PORT" when ready, and "idle: closed a
 * client" each time it closes one. SIGINT/SIGTERM: frees everything, exit 0.
 *
 * Build on its own:
 *   cc -Wall -o idle_echo idle_echo.c $(pkg-config --cflags --libs libevent)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

struct server;
struct client {
    struct bufferevent *bev;
    struct server *srv;
    struct client *prev, *next;
};
struct server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *sig[2];
    struct client *clients; /* every open connection, to free at the end */
    int nclients;
    struct timeval idle;
};

static void client_free(struct client *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->srv->nclients--;
    bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE: closes the socket */
    free(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

/* After a half-close: called when the output is empty. */
static void on_drained(struct bufferevent *bev, void *arg)
{
    (void)bev;
    client_free(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    // [idle]
    /* The read timeout restarts whenever data arrives; when it expires the
     * bufferevent reports READING|TIMEOUT (and stops reading). */
    if (what & BEV_EVENT_TIMEOUT) {
        printf("idle: closed a client\n");
        client_free(arg);
        return;
    }
    // [/idle]
    /* EOF with echo still queued (a half-close): the client still wants it.
     * Stop reading, and free once the output has drained. */
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        bufferevent_disable(bev, EV_READ);
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        bufferevent_setcb(bev, NULL, on_drained, on_event, arg);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        client_free(arg);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    struct server *srv = arg;
    (void)l;
    (void)sa;
    (void)len;
    struct client *c = calloc(1, sizeof *c);
    struct bufferevent *bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c || !bev) {
        free(c);
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        return;
    }
    c->bev = bev;
    c->srv = srv;
    c->next = srv->clients;
    if (c->next)
        c->next->prev = c;
    srv->clients = c;
    srv->nclients++;
    bufferevent_setcb(bev, on_read, NULL, on_event, c);
    bufferevent_set_timeouts(bev, &srv->idle, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* A signal event's callback runs in the loop like any other callback, so
 * it may print, free and call libevent: nothing async-signal-unsafe here. */
static void on_signal(evutil_socket_t signum, short what, void *arg)
{
    struct server *srv = arg;
    (void)what;
    (void)signum;
    event_base_loopbreak(srv->base);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"idle-ms", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long port = 0, idle_ms = 0; /* long: a value is range-checked before any cast */
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        char *end;
        switch (c) {
        case 'p':
            errno = 0;
            port = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || port < 0 || port > 65535) {
                fprintf(stderr, "idle_echo: bad port '%s'\n", optarg);
                return 2;
            }
            break;
        case 'i':
            errno = 0;
            idle_ms = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || idle_ms < 1 || idle_ms > 3600000) {
                fprintf(stderr, "idle_echo: bad --idle-ms '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': printf("usage: idle_echo --idle-ms MS [--port N]\n"); return 0;
        default: fprintf(stderr, "usage: idle_echo --idle-ms MS [--port N]\n"); return 2;
        }
    }
    if (!idle_ms) {
        fprintf(stderr,
                "idle_echo: --idle-ms is required\nusage: idle_echo --idle-ms MS [--port N]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    struct server srv = {.idle = {idle_ms / 1000, (idle_ms % 1000) * 1000}};
    srv.base = event_base_new();
    if (!srv.base) {
        fprintf(stderr, "idle_echo: event_base_new() failed\n");
        return 1;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv.listener = evconnlistener_new_bind(srv.base, on_accept, &srv,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
                                           (struct sockaddr *)&sin, sizeof sin);
    if (!srv.listener) {
        perror("idle_echo: evconnlistener_new_bind");
        event_base_free(srv.base);
        return 1;
    }
    const int signums[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        srv.sig[i] = evsignal_new(srv.base, signums[i], on_signal, &srv);
        if (!srv.sig[i]) {
            fprintf(stderr, "idle_echo: evsignal_new() failed\n");
            return 1;
        }
        if (evsignal_add(srv.sig[i], NULL) < 0) {
            fprintf(stderr, "idle_echo: evsignal_add() failed\n");
            return 1;
        }
    }
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    if (getsockname(evconnlistener_get_fd(srv.listener), (struct sockaddr *)&bound, &blen) < 0) {
        perror("idle_echo: getsockname");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(bound.sin_port));

    event_base_dispatch(srv.base);

    while (srv.clients)
        client_free(srv.clients); /* each peer sees EOF */
    evconnlistener_free(srv.listener);
    for (int i = 0; i < 2; i++)
        event_free(srv.sig[i]);
    event_base_free(srv.base);
    libevent_global_shutdown(); /* last: libevent's own globals */
    return 0;
}
