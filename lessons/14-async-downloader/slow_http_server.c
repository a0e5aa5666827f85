/* slow_http_server.c -- a local HTTP server with slow, big and broken answers (evhttp).
 *
 * Teaches: libevent's own HTTP server, evhttp, in a few lines: one callback
 * per request, and replies sent later from a timer, so a thousand slow
 * requests cost a thousand timers, not a thousand threads. It exists so that
 * async_downloader has something measurable to fetch without the network:
 *   /delay/MS   answer "waited MS ms" after MS milliseconds
 *   /bytes/N    answer N bytes (with Content-Length)
 *   /stream/N   answer N bytes without Content-Length: chunked to an
 *               HTTP/1.1 client, ended by closing to an HTTP/1.0 one
 *   /truncate   promise Content-Length: 1000, send 10 bytes, close
 *   /close      close the connection (FIN), no answer
 *   /reset      close the connection with a TCP reset, no answer
 *
 * evhttp stops reading a connection once it has parsed a request
 * (http.c, evhttp_handle_request disables EV_READ) and reads again only
 * after the reply. So while a /delay waits, a client that leaves is not
 * noticed: the socket sits in CLOSE-WAIT until the timer fires. This
 * server watches for that itself: a read event of its own on the
 * connection's fd, which fires on the client's FIN; then it cancels the
 * timer and frees the connection at once. --no-watch turns that off.
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

static bool watch_close = true;

/* A request whose answer waits for a timer, and (unless --no-watch) a read
 * event on its socket that notices the client leaving meanwhile. */
struct delayed {
    struct evhttp_request *req;
    struct event *timer, *gone;
    long ms;
};

static void delayed_release(struct delayed *d)
{
    event_free(d->timer);
    if (d->gone)
        event_free(d->gone);
    free(d);
}

/* evhttp's close callback: the server freed the connection (at exit). */
static void delayed_free(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    delayed_release(arg);
}

// [gone]
/* The client's socket became readable while we wait: EOF means it left. */
static void client_gone(evutil_socket_t fd, short what, void *arg)
{
    struct delayed *d = arg;
    char c;
    (void)what;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;  /* nothing after all */
    if (n > 0) { /* a pipelined request: evhttp reads it after our reply */
        event_del(d->gone);
        return;
    }
    long ms = d->ms;
    struct evhttp_connection *conn = evhttp_request_get_connection(d->req);
    evhttp_connection_set_closecb(conn, NULL, NULL);
    delayed_release(d);
    evhttp_connection_free(conn); /* frees the request too, and closes the socket */
    printf("client left during /delay/%ld: its connection is freed\n", ms);
}
// [/gone]

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
    delayed_release(d);
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
    if (!c || !(c->timer = evtimer_new(base, close_now, c)) || evtimer_add(c->timer, &now) != 0) {
        printf("close_soon: out of memory, closing at once\n");
        if (c && c->timer)
            event_free(c->timer);
        free(c);
        evhttp_connection_free(conn);
        return;
    }
    c->conn = conn;
    evhttp_connection_set_closecb(conn, closer_cancel, c);
}

// [truncate]
/* A reply that breaks its promise: Content-Length 1000, then 10 bytes and
 * the connection closes. Only the client can tell that the body is short. */
static void send_truncated(struct evhttp_request *req)
{
    struct evbuffer *ten = evbuffer_new();
    if (!ten) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add(ten, "0123456789", 10);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", "1000");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    evhttp_send_reply_start(req, 200, "OK"); /* a Content-Length is set: not chunked */
    evhttp_send_reply_chunk(req, ten);
    evhttp_send_reply_end(req); /* evhttp closes after writing: "Connection: close" */
    evbuffer_free(ten);
}
// [/truncate]

/* N bytes with no Content-Length: evhttp_send_reply_start() picks chunked
 * encoding for an HTTP/1.1 request, and plain bytes ended by a close for an
 * HTTP/1.0 one (http.c, evhttp_send_reply_start). */
static void send_stream(struct evhttp_request *req, long n)
{
    struct evbuffer *part = evbuffer_new();
    if (!part) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evhttp_send_reply_start(req, 200, "OK");
    char block[1000];
    memset(block, 's', sizeof block);
    for (long left = n; left > 0; left -= (long)sizeof block) {
        evbuffer_add(part, block, left < (long)sizeof block ? (size_t)left : sizeof block);
        evhttp_send_reply_chunk(req, part); /* drains part */
    }
    evhttp_send_reply_end(req);
    evbuffer_free(part);
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
            struct evhttp_connection *conn = evhttp_request_get_connection(req);
            evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(conn));
            if (!d || !(d->timer = evtimer_new(base, delay_done, d)) ||
                evtimer_add(d->timer, &tv) != 0) {
                if (d && d->timer)
                    event_free(d->timer);
                free(d);
                evhttp_send_error(req, 500, "cannot start a timer");
                return;
            }
            d->req = req;
            d->ms = n;
            // [watch]
            if (watch_close) { /* evhttp no longer reads this socket: we watch it */
                d->gone = event_new(base, fd, EV_READ, client_gone, d);
                if (!d->gone || event_add(d->gone, NULL) != 0)
                    printf("cannot watch the connection for a close; going on without\n");
            }
            // [/watch]
            evhttp_connection_set_closecb(conn, delayed_free, d);
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
    } else if (path && strncmp(path, "/stream/", 8) == 0) {
        n = strtol(path + 8, &end, 10);
        if (*end == '\0' && end != path + 8 && n >= 0 && n <= 64L << 20) {
            send_stream(req, n);
            return;
        }
    } else if (path && strcmp(path, "/truncate") == 0) {
        send_truncated(req);
        return;
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
    evhttp_send_error(req, 404, "try /delay/MS, /bytes/N, /stream/N, /truncate, /close or /reset");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what, (void)arg;
    printf("signal %d: shutting down\n", (int)sig);
    event_base_loopbreak(base);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: slow_http_server [--port N] [--no-watch] [--help]\n"
                "  --port N    listen on 127.0.0.1:N (default 0: any free port, printed)\n"
                "  --no-watch  do not watch a waiting /delay connection for the client leaving\n"
                "              (it then sits in CLOSE-WAIT until the timer fires)\n"
                "  --help      show this text\n"
                "paths: /delay/MS (0..60000), /bytes/N, /stream/N (0..67108864), /truncate,\n"
                "       /close, /reset\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"no-watch", no_argument, NULL, 'W'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long port = 0;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': port = lesson_num(optarg, 0, 65535, "--port"); break;
        case 'W': watch_close = false; break;
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
    if (!http)
        die("evhttp_new() failed");
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
    if (!sigint || !sigterm || evsignal_add(sigint, NULL) != 0 || evsignal_add(sigterm, NULL) != 0)
        die("evsignal_new()/evsignal_add() failed");

    event_base_dispatch(base);

    event_free(sigint);
    event_free(sigterm);
    evhttp_free(http); /* closes every connection; their close callbacks free pending delays */
    event_base_free(base);
    return 0;
}
