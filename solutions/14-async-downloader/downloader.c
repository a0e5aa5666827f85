/* downloader.c -- exercise 14, reference solution: concurrent HTTP GETs on one event loop.
 *
 * Seed 004's Reactor idea in C: every URL gets its own bufferevent, and all
 * connects start at once. Each download is a little chain of callbacks:
 * connected -> the request is queued (writer) -> the response is read until
 * the server closes (reader) -> one result line. An error or a timeout ends
 * only that download; the loop ends when none is left.
 *
 *   cc -Wall -Wextra -o downloader downloader.c $(pkg-config --cflags --libs libevent)
 *   ./downloader --timeout-ms 2000 http://127.0.0.1:8080/a http://127.0.0.1:8080/b
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

struct download {
    const char *url;
    char host[256], path[1024];
    int port;
    struct bufferevent *bev;
    int *left; /* downloads still running */
    int *failed;
};

/* http://HOST[:PORT][/PATH] -> host, port, path. */
static int parse_url(struct download *d)
{
    const char *u = d->url;
    if (strncmp(u, "http://", 7) != 0)
        return -1;
    u += 7;
    size_t hl = strcspn(u, ":/");
    if (hl == 0 || hl >= sizeof d->host)
        return -1;
    memcpy(d->host, u, hl);
    d->host[hl] = '\0';
    u += hl;
    d->port = 80;
    if (*u == ':') {
        char *end;
        long p = strtol(u + 1, &end, 10);
        if (end == u + 1 || p < 1 || p > 65535)
            return -1;
        d->port = (int)p;
        u = end;
    }
    if (*u && *u != '/')
        return -1;
    snprintf(d->path, sizeof d->path, "%s", *u ? u : "/");
    return 0;
}

static void finish(struct download *d, const char *fail_reason)
{
    if (fail_reason) {
        printf("FAIL %s %s\n", d->url, fail_reason);
        (*d->failed)++;
    } else {
        /* The whole response is in the input buffer: status line, headers, body. */
        struct evbuffer *in = bufferevent_get_input(d->bev);
        size_t len;
        char *status = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
        int code = 0;
        struct evbuffer_ptr hdr_end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (!status || sscanf(status, "HTTP/%*d.%*d %d", &code) != 1 || hdr_end.pos < 0) {
            printf("FAIL %s bad response\n", d->url);
            (*d->failed)++;
        } else {
            size_t body = evbuffer_get_length(in) - (size_t)hdr_end.pos - 4;
            printf("OK %s %d %zu\n", d->url, code, body);
        }
        free(status);
    }
    if (d->bev)
        bufferevent_free(d->bev); /* the loop ends by itself when none is left */
    d->bev = NULL;
    --*d->left;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct download *d = arg;
    if (what & BEV_EVENT_CONNECTED) {
        /* the writer: queue the request, then the reader takes over */
        evbuffer_add_printf(bufferevent_get_output(bev),
                            "GET %s HTTP/1.0\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", d->path,
                            d->host, d->port);
        bufferevent_enable(bev, EV_READ);
        return;
    }
    const char *reason = NULL;
    if (what & BEV_EVENT_TIMEOUT)
        reason = "timed out";
    else if (what & BEV_EVENT_ERROR) {
        int dns = bufferevent_socket_get_dns_error(bev);
        reason =
            dns ? evutil_gai_strerror(dns) : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
    }
    /* BEV_EVENT_EOF: the server closed after the response (Connection: close) */
    finish(d, reason);
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--timeout-ms N] URL...\n"
            "  downloads every http://HOST:PORT/PATH at once; prints per URL\n"
            "  \"OK URL STATUS BYTES\" or \"FAIL URL REASON\"; exit 0 if all OK, else 1\n"
            "  --timeout-ms N   inactivity timeout per download (default 10000)\n",
            prog);
}

int main(int argc, char *argv[])
{
    static const struct option opts[] = {{"timeout-ms", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long timeout_ms = 10000;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 't') {
            errno = 0;
            timeout_ms = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || timeout_ms < 1 || timeout_ms > 86400000) {
                fprintf(stderr, "%s: bad --timeout-ms '%s'\n", argv[0], optarg);
                usage(stderr, argv[0]);
                return 2;
            }
        } else if (c == 'h') {
            usage(stdout, argv[0]);
            return 0;
        } else {
            usage(stderr, argv[0]);
            return 2;
        }
    }
    int n = argc - optind;
    if (n < 1) {
        usage(stderr, argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "error: event_base_new() failed\n");
        return 1;
    }
    struct download *dl = calloc((size_t)n, sizeof *dl);
    if (!dl) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    int left = n, failed = 0;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    for (int i = 0; i < n; i++) {
        struct download *d = &dl[i];
        d->url = argv[optind + i];
        d->left = &left;
        d->failed = &failed;
        if (parse_url(d) < 0) {
            finish(d, "bad URL");
            continue;
        }
        /* Deferred callbacks run from the loop, never from inside the
         * connect call (a name that does not resolve fails inside it). */
        d->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!d->bev) {
            finish(d, "cannot create a bufferevent");
            continue;
        }
        bufferevent_setcb(d->bev, NULL, NULL, on_event, d);
        bufferevent_set_timeouts(d->bev, &tv, &tv); /* bounds connect and each read */
        if (bufferevent_socket_connect_hostname(d->bev, NULL, AF_INET, d->host, d->port) < 0)
            finish(d, "cannot connect");
    }
    if (left > 0)
        event_base_dispatch(base);

    for (int i = 0; i < n; i++)
        if (dl[i].bev)
            bufferevent_free(dl[i].bev);
    free(dl);
    event_base_free(base);
    return failed ? 1 : 0;
}
