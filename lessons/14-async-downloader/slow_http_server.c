/* slow_http_server.c -- a local HTTP server with slow, big and broken answers (evhttp).
 *
 * Teaches: libevent's own HTTP server, evhttp, in a few lines: one callback
 * per request, and replies sent later from a timer, so a thousand slow
 * requests cost a thousand timers, not a thousand threads. It exists so that
 * async_downloader has something measurable to fetch without the network:
 *   /delay/MS   answer "waited MS ms" after MS milliseconds
 *   /bytes/N    answer N bytes
 *   /close      close the connection (FIN), no answer
 *   /reset      close the connection with a TCP reset, no answer
 *
 * Builds on: lesson 06 (timers), lesson 07 (signals). evhttp lives in
 * libevent_extra, which pkg-config's "libevent" module includes.
 *
 * Build and run on its own:
 *   cc -Wall -o slow_http_server slow_http_server.c $(pkg-config --cflags --libs libevent)
 *   ./slow_http_server --port 0        # prints "listening on 127.0.0.1:PORT"
 *   curl http://127.0.0.1:PORT/delay/500
 */
#include <getopt.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

#include "../lesson.h"

static struct event_base *base;

/* A request whose answer waits for a timer. If the connection goes away
 * first, evhttp frees the request, so the close callback cancels the timer. */
struct delayed {
    struct evhttp_request *req;
    struct event *timer;
    long ms;
};

static void delayed_free(struct evhttp_connection *conn, void *arg)
{
    struct delayed *d = arg;
    (void)conn;
    event_free(d->timer);
    free(d);
}

// [delay]
static void delay_done(evutil_socket_t fd, short what, void *arg)
{
    struct delayed *d = arg;
    (void)fd, (void)what;
    struct evbuffer *body = evbuffer_new();
    evbuffer_add_printf(body, "waited %ld ms\n", d->ms);
    evhttp_connection_set_closecb(evhttp_request_get_connection(d->req), NULL, NULL);
    evhttp_send_reply(d->req, 200, "OK", body);
    evbuffer_free(body);
    event_free(d->timer);
    free(d);
}
// [/delay]

/* Free a connection from a zero timer, outside evhttp's own callback. If
 * the client leaves first, evhttp frees the connection and we drop the timer. */
struct closer {
    struct event *timer;
    struct evhttp_connection *conn;
};

static void closer_cancel(struct evhttp_connection *conn, void *arg)
{
    struct closer *c = arg;
    (void)conn;
    event_free(c->timer);
    free(c);
}

static void close_now(evutil_socket_t fd, short what, void *arg)
{
    struct closer *c = arg;
    struct evhttp_connection *conn = c->conn;
    (void)fd, (void)what;
    evhttp_connection_set_closecb(conn, NULL, NULL);
    closer_cancel(conn, c);
    evhttp_connection_free(conn);
}

static void close_soon(struct evhttp_connection *conn)
{
    struct closer *c = calloc(1, sizeof *c);
    struct timeval now = {0, 0};
    c->conn = conn;
    c->timer = evtimer_new(base, close_now, c);
    evhttp_connection_set_closecb(conn, closer_cancel, c);
    evtimer_add(c->timer, &now);
}

static void handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    long n = -1;
    char *end = NULL;
    printf("request %s\n", path ? path : "(none)");
    if (path && strncmp(path, "/delay/", 7) == 0) {
        n = strtol(path + 7, &end, 10);
        if (*end == '\0' && end != path + 7 && n >= 0 && n <= 60000) {
            struct delayed *d = calloc(1, sizeof *d);
            struct timeval tv = {n / 1000, (n % 1000) * 1000};
            d->req = req;
            d->ms = n;
            d->timer = evtimer_new(base, delay_done, d);
            evhttp_connection_set_closecb(evhttp_request_get_connection(req), delayed_free, d);
            evtimer_add(d->timer, &tv);
            return; /* evhttp keeps the request until we reply */
        }
    } else if (path && strncmp(path, "/bytes/", 7) == 0) {
        n = strtol(path + 7, &end, 10);
        if (*end == '\0' && end != path + 7 && n >= 0 && n <= 64L << 20) {
            struct evbuffer *body = evbuffer_new();
            char block[4096];
            memset(block, 'x', sizeof block);
            for (long left = n; left > 0; left -= (long)sizeof block)
                evbuffer_add(body, block, left < (long)sizeof block ? (size_t)left : sizeof block);
            evhttp_send_reply(req, 200, "OK", body);
            evbuffer_free(body);
            return;
        }
    } else if (path && strcmp(path, "/close") == 0) {
        close_soon(evhttp_request_get_connection(req)); /* an orderly close (FIN), no answer */
        return;
    } else if (path && strcmp(path, "/reset") == 0) {
        // [reset]
        /* evhttp_connection_free alone would send FIN (an orderly EOF).
         * connect() to AF_UNSPEC disconnects a TCP socket with a RST on
         * Linux; then close_soon frees the connection. */
        struct evhttp_connection *conn = evhttp_request_get_connection(req);
        evutil_socket_t s = bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
        struct sockaddr unspec = {.sa_family = AF_UNSPEC};
        if (connect(s, &unspec, sizeof unspec) < 0)
            printf("connect(AF_UNSPEC): %s\n", strerror(errno));
        close_soon(conn);
        // [/reset]
        return;
    }
    evhttp_send_error(req, 404, "try /delay/MS, /bytes/N, /close or /reset");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what, (void)arg;
    printf("signal %d: shutting down\n", (int)sig);
    event_base_loopbreak(base);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: slow_http_server [--port N] [--help]\n"
                "  --port N   listen on 127.0.0.1:N (default 0: any free port, printed)\n"
                "  --help     show this text\n"
                "paths: /delay/MS (0..60000), /bytes/N (0..67108864), /close, /reset\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long port = 0;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        char *end;
        switch (c) {
        case 'p':
            port = strtol(optarg, &end, 10);
            if (*end || end == optarg || port < 0 || port > 65535) {
                fprintf(stderr,
                        "slow_http_server: --port needs a number from 0 to 65535, not '%s'\n",
                        optarg);
                usage(stderr);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "slow_http_server: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    struct evhttp *http = evhttp_new(base);
    CHECK(http);
    evhttp_set_gencb(http, handle, NULL);
    // [bind]
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(http, "127.0.0.1", (uint16_t)port);
    if (!bound)
        die("cannot listen on 127.0.0.1:%ld: %s", port, strerror(errno));
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    CHECK_OK(getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &len));
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
    // [/bind]
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, NULL);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
    CHECK(sigint && sigterm);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);

    event_base_dispatch(base);

    event_free(sigint);
    event_free(sigterm);
    evhttp_free(http); /* closes every connection; their close callbacks free pending delays */
    event_base_free(base);
    return 0;
}
