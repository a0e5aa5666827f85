/* downloader.c -- exercise 14: seed 004's downloader, made concurrent.
 *
 * downloader [--timeout-ms N] URL...   (URL = http://HOST:PORT/PATH)
 * prints, per URL, "OK URL STATUS BYTES" or "FAIL URL REASON"; exit 0 if
 * every URL is OK, 1 otherwise, 2 on bad arguments. See README.md.
 *
 * This starter is the synchronous get-url of seed 004: one URL after the
 * other, with blocking sockets. Ten slow URLs take ten times as long as one,
 * and a server that never answers blocks it for ever. Rewrite the download
 * part as seed 004's Reactor does it: one event loop, a bufferevent per URL,
 * every download started at once, each connect chaining into a writer and
 * the writer into a reader.
 *
 *   cc -Wall -Wextra -o downloader downloader.c $(pkg-config --cflags --libs libevent)
 *   ./downloader http://127.0.0.1:8080/a http://127.0.0.1:8080/b
 * Check it: ./evlab check 14
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>

struct download {
    const char *url;
    char host[256], path[1024];
    int port;
    /* TODO: what each concurrent download needs: its bufferevent, and a
     * way to count the downloads still running and the failures */
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

/* Blocking: connect, send the request, read until the server closes. */
static void download_blocking(struct download *d, int *failed)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
    char port[16];
    snprintf(port, sizeof port, "%d", d->port);
    int rc = getaddrinfo(d->host, port, &hints, &ai);
    if (rc != 0) {
        printf("FAIL %s %s\n", d->url, gai_strerror(rc));
        (*failed)++;
        return;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) { /* TODO: blocks */
        printf("FAIL %s %s\n", d->url, strerror(errno));
        (*failed)++;
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        return;
    }
    freeaddrinfo(ai);
    char req[1400];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                     d->path, d->host, d->port);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        printf("FAIL %s %s\n", d->url, strerror(errno));
        (*failed)++;
        close(fd);
        return;
    }
    struct evbuffer *in = evbuffer_new();
    int r;
    while ((r = evbuffer_read(in, fd, 65536)) > 0) /* TODO: blocks, with no timeout */
        ;
    close(fd);
    size_t len;
    char *status = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
    int code = 0;
    struct evbuffer_ptr hdr_end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (r < 0) {
        printf("FAIL %s %s\n", d->url, strerror(errno));
        (*failed)++;
    } else if (!status || sscanf(status, "HTTP/%*d.%*d %d", &code) != 1 || hdr_end.pos < 0) {
        printf("FAIL %s bad response\n", d->url);
        (*failed)++;
    } else {
        printf("OK %s %d %zu\n", d->url, code, evbuffer_get_length(in) - (size_t)hdr_end.pos - 4);
    }
    free(status);
    evbuffer_free(in);
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
            timeout_ms = strtol(optarg, &end, 10);
            if (*end || timeout_ms < 1) {
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
    (void)timeout_ms; /* TODO: bound each download (bufferevent_set_timeouts) */
    int failed = 0;
    /* TODO: one URL after the other. Start them all at once instead, each
     * with its own bufferevent on one event_base, and run the loop. */
    for (int i = 0; i < n; i++) {
        struct download d;
        memset(&d, 0, sizeof d);
        d.url = argv[optind + i];
        if (parse_url(&d) < 0) {
            printf("FAIL %s bad URL\n", d.url);
            failed++;
            continue;
        }
        download_blocking(&d, &failed);
    }
    return failed ? 1 : 0;
}
