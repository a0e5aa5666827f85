/* async_downloader.c -- fetch many URLs at once with bufferevents (the forum thread's Reactor, in C).
 *
 * Teaches: one thread, one loop, N connections in flight. Each URL gets a
 * bufferevent; when its connection is up (writable) the "writer" queues the
 * GET request, when the request has left the output buffer the write
 * callback chains into the "reader", and the reader parses the status line
 * and headers and counts body bytes until EOF. A failure (refused, reset,
 * timeout, a body shorter than its Content-Length) ends only that URL. The
 * whole run takes about as long as the slowest URL, not the sum;
 * --sequential shows the sum.
 *
 * It speaks HTTP/1.0 on purpose: a 1.0 request cannot get a chunked reply
 * (chunked encoding is HTTP/1.1), and the server closes the connection
 * after the reply. So the body is everything up to EOF, and when the reply
 * has a Content-Length, EOF before that many bytes is an error, not success.
 *
 * Builds on: lesson 08 (connect), lesson 09 (evbuffer_readln), lesson 06
 * (timeouts). Fetch from slow_http_server, which is in this folder.
 *
 * Build and run on its own:
 *   cc -Wall -o async_downloader async_downloader.c $(pkg-config --cflags --libs libevent)
 *   ./slow_http_server --port 0 &      # prints "listening on 127.0.0.1:PORT"
 *   ./async_downloader http://127.0.0.1:PORT/delay/600 http://127.0.0.1:PORT/bytes/100000
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

#include "../lesson.h"

struct job {
    int n; /* 1-based, in the order given */
    const char *url;
    struct evhttp_uri *uri;
    struct bufferevent *bev;
    double start_ms, end_ms;
    int status; /* HTTP status, 0 until the status line came */
    bool headers_done;
    long content_length; /* -1: the reply has none */
    bool chunked;        /* Transfer-Encoding: chunked (never, for HTTP/1.0) */
    size_t body;         /* body bytes received */
    char error[160];     /* empty if the fetch worked */
};

static struct event_base *base;
static struct job *jobs;
static int njobs, next_job;
static bool sequential;
static long timeout_ms;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Times are printed rounded to 10 ms, so runs compare. */
static long round10(double ms) { return ((long)(ms + 5) / 10) * 10; }

static void start(struct job *j);

static void finish(struct job *j, const char *error)
{
    j->end_ms = now_ms();
    if (error)
        snprintf(j->error, sizeof j->error, "%s", error);
    if (j->error[0])
        printf("[%d] failed after ~%ld ms: %s\n", j->n, round10(j->end_ms - j->start_ms), j->error);
    else
        printf("[%d] done after ~%ld ms: status %d, %zu body bytes\n", j->n,
               round10(j->end_ms - j->start_ms), j->status, j->body);
    bufferevent_free(j->bev); /* closes the socket; the other fetches go on */
    j->bev = NULL;
    if (sequential && next_job < njobs)
        start(&jobs[next_job++]);
}

// [reader]
/* The reader: status line, then headers, then count the body until EOF. */
static void reader(struct bufferevent *bev, void *arg)
{
    struct job *j = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char *line;
    while (!j->headers_done && (line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF))) {
        long n;
        if (!j->status && sscanf(line, "HTTP/%*d.%*d %d", &j->status) != 1)
            j->status = -1; /* not HTTP */
        else if (!*line)
            j->headers_done = true; /* the empty line ends the headers */
        else if (strncasecmp(line, "Content-Length:", 15) == 0 &&
                 (n = strtol(line + 15, NULL, 10)) >= 0)
            j->content_length = n;
        else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strstr(line + 18, "chunked"))
            j->chunked = true;
        free(line);
    }
    if (j->headers_done) {
        j->body += evbuffer_get_length(in);
        evbuffer_drain(in, evbuffer_get_length(in));
    }
}
// [/reader]

// [writer]
/* The request has left the output buffer: the writer hands over to the reader. */
static void request_sent(struct bufferevent *bev, void *arg)
{
    struct job *j = arg;
    printf("[%d] request sent, reading\n", j->n);
    if (bufferevent_enable(bev, EV_READ) != 0)
        finish(j, "bufferevent_enable(EV_READ) failed");
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
    struct job *j = arg;
    char msg[160];
    if (events & BEV_EVENT_CONNECTED) {
        /* Writable: queue the request. "\r\n", not the forum post's "rn".
         * HTTP/1.0: no chunked reply, and the server closes when done. */
        const char *path = evhttp_uri_get_path(j->uri), *query = evhttp_uri_get_query(j->uri);
        evbuffer_add_printf(bufferevent_get_output(bev),
                            "GET %s%s%s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n",
                            path && *path ? path : "/", query ? "?" : "", query ? query : "",
                            evhttp_uri_get_port(j->uri));
        printf("[%d] connected, sending GET %s\n", j->n, path && *path ? path : "/");
        return;
    }
    // [/writer]
    // [failures]
    if (events & BEV_EVENT_TIMEOUT) {
        snprintf(msg, sizeof msg, "timed out: nothing for %ld ms while %s", timeout_ms,
                 events & BEV_EVENT_READING ? "reading" : "connecting or writing");
        finish(j, msg);
    } else if (events & BEV_EVENT_ERROR) {
        snprintf(msg, sizeof msg, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        finish(j, msg);
    } else if (events & BEV_EVENT_EOF) {
        reader(bev, j); /* anything still in the input buffer */
        if (!j->headers_done)
            finish(j, "connection closed before a complete response");
        else if (j->chunked)
            finish(j, "chunked reply: this HTTP/1.0 client cannot decode it");
        else if (j->content_length >= 0 && j->body != (size_t)j->content_length) {
            snprintf(msg, sizeof msg, "body cut short: %zu of %ld bytes (Content-Length)", j->body,
                     j->content_length);
            finish(j, msg);
        } else
            finish(j, NULL);
    }
}
// [/failures]

static void start(struct job *j)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)evhttp_uri_get_port(j->uri)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    j->start_ms = now_ms();
    j->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!j->bev)
        die("bufferevent_socket_new() failed");
    bufferevent_setcb(j->bev, reader, request_sent, on_event, j);
    if (timeout_ms > 0) {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        bufferevent_set_timeouts(j->bev, &tv, &tv);
    }
    printf("[%d] connecting for %s\n", j->n, j->url);
    if (bufferevent_socket_connect(j->bev, (struct sockaddr *)&sin, sizeof sin) < 0)
        finish(j, "bufferevent_socket_connect failed");
}

/* Only http://127.0.0.1:PORT/path: say what is wrong, exit 2. */
static struct evhttp_uri *parse_url(const char *url)
{
    struct evhttp_uri *uri = evhttp_uri_parse(url);
    const char *why = NULL;
    if (!uri)
        why = "not a URL";
    else if (!evhttp_uri_get_scheme(uri) || strcmp(evhttp_uri_get_scheme(uri), "http") != 0)
        why = "only the http scheme is supported";
    else if (!evhttp_uri_get_host(uri) || strcmp(evhttp_uri_get_host(uri), "127.0.0.1") != 0)
        why = "the host must be 127.0.0.1";
    else if (evhttp_uri_get_port(uri) <= 0)
        why = "a port is needed (http://127.0.0.1:PORT/path)";
    if (why) {
        fprintf(stderr, "async_downloader: bad URL '%s': %s\n", url, why);
        exit(2);
    }
    return uri;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: async_downloader [--sequential] [--timeout-ms N] [--step] [--help] URL...\n"
                "  URL              http://127.0.0.1:PORT/path (try slow_http_server)\n"
                "  --sequential     one fetch at a time, to compare the total time\n"
                "  --timeout-ms N   give up on a URL after N ms without progress (default: never)\n"
                "  --step           pause before each step (also EVLAB_STEP=1)\n"
                "  --help           show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"sequential", no_argument, NULL, 'S'},
                                         {"timeout-ms", required_argument, NULL, 't'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'S': sequential = true; break;
        case 't': timeout_ms = lesson_num(optarg, 1, 3600000, "--timeout-ms"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind == argc) {
        fprintf(stderr, "async_downloader: give at least one URL\n");
        usage(stderr);
        return 2;
    }
    njobs = argc - optind;
    jobs = calloc((size_t)njobs, sizeof *jobs);
    if (!jobs)
        die("calloc() failed");
    for (int i = 0; i < njobs; i++)
        jobs[i] = (struct job){.n = i + 1,
                               .url = argv[optind + i],
                               .uri = parse_url(argv[optind + i]),
                               .content_length = -1};
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");

    step("1. %d URL(s), all http://127.0.0.1:PORT/...; %s", njobs,
         sequential ? "--sequential: one fetch at a time" : "all fetches at once");

    /* Nothing starts before this pause, so time at a --step prompt is not counted. */
    step("2. %s, then run the loop: each connection goes connect -> write -> read -> EOF",
         sequential ? "start the first fetch (the next starts when it ends)" : "start every fetch");
    double t0 = now_ms();
    // [start]
    next_job = sequential ? 1 : njobs;
    for (int i = 0; i < next_job; i++)
        start(&jobs[i]);
    // [/start]
    event_base_dispatch(base);
    double total = now_ms() - t0;

    step("3. results, in the order given");
    double sum = 0;
    int failed = 0;
    for (int i = 0; i < njobs; i++) {
        struct job *j = &jobs[i];
        double ms = j->end_ms - j->start_ms;
        sum += ms;
        if (j->error[0]) {
            failed++;
            printf("  %d. %-40s FAILED ~%5ld ms  %s\n", j->n, j->url, round10(ms), j->error);
        } else {
            printf("  %d. %-40s %3d    ~%5ld ms  %zu bytes\n", j->n, j->url, j->status, round10(ms),
                   j->body);
        }
        evhttp_uri_free(j->uri);
    }
    printf("total ~%ld ms for %d URLs; the per-URL times add up to ~%ld ms; %d failed\n",
           round10(total), njobs, round10(sum), failed);
    free(jobs);
    event_base_free(base);
    return failed ? 1 : 0;
}
