/* BROKEN VARIANT no-timeout: never bounds the connect: a silent port hangs it */
/* connect_check.c -- exercise 08, reference solution: connect with a bufferevent, report the outcome.
 *
 * bufferevent_socket_new(base, -1, ...) makes the socket itself;
 * bufferevent_socket_connect_hostname() resolves HOST (a NULL evdns base
 * means a blocking getaddrinfo(), fine for "localhost" or a literal) and
 * starts a non-blocking connect. The outcome arrives in the event callback:
 * BEV_EVENT_CONNECTED, or BEV_EVENT_ERROR with the reason in errno
 * (EVUTIL_SOCKET_ERROR()), or BEV_EVENT_TIMEOUT from the write timeout that
 * bounds the connect.
 *
 *   cc -Wall -Wextra -o connect_check connect_check.c $(pkg-config --cflags --libs libevent)
 *   ./connect_check 127.0.0.1 80; echo $?
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

struct outcome {
    const char *host;
    int port;
    int code; /* exit code: 0 connected, 1 failed */
    int done; /* the event callback has run */
};

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct outcome *o = arg;
    if (what & BEV_EVENT_CONNECTED) {
        printf("connected to %s:%d\n", o->host, o->port);
        o->code = 0;
    } else if (what & BEV_EVENT_TIMEOUT) {
        fprintf(stderr, "error: cannot connect to %s:%d: timed out\n", o->host, o->port);
        o->code = 1;
    } else {
        int err = EVUTIL_SOCKET_ERROR();
        int dns = bufferevent_socket_get_dns_error(bev);
        fprintf(stderr, "error: cannot connect to %s:%d: %s\n", o->host, o->port,
                dns ? evutil_gai_strerror(dns) : evutil_socket_error_to_string(err));
        o->code = 1;
    }
    o->done = 1;
    event_base_loopbreak(bufferevent_get_base(bev));
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--timeout-ms N] HOST PORT\n"
            "  connects to HOST:PORT; exit 0 connected, 1 refused/unreachable/timed out, 2 usage\n"
            "  --timeout-ms N   give up after N ms (default 5000)\n",
            prog);
}

int main(int argc, char *argv[])
{
    static const struct option opts[] = {{"timeout-ms", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long timeout_ms = 5000;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 't') {
            timeout_ms = strtol(optarg, &end, 10);
            if (*end || timeout_ms < 1 || timeout_ms > 600000) {
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
    if (argc - optind != 2) {
        fprintf(stderr, "%s: expected HOST and PORT\n", argv[0]);
        usage(stderr, argv[0]);
        return 2;
    }
    struct outcome o = {argv[optind], 0, 1, 0};
    long port = strtol(argv[optind + 1], &end, 10);
    if (*end || end == argv[optind + 1] || port < 1 || port > 65535) {
        fprintf(stderr, "%s: bad port '%s' (1..65535)\n", argv[0], argv[optind + 1]);
        usage(stderr, argv[0]);
        return 2;
    }
    o.port = (int)port;

    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "error: event_base_new() failed\n");
        return 1;
    }
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        fprintf(stderr, "error: bufferevent_socket_new() failed\n");
        event_base_free(base);
        return 1;
    }
    bufferevent_setcb(bev, NULL, NULL, on_event, &o);
    /* A pending connect waits for EV_WRITE, so the write timeout bounds it. */
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    (void)tv;
    if (bufferevent_socket_connect_hostname(bev, NULL, AF_INET, o.host, o.port) < 0) {
        /* failed at once (e.g. the name does not resolve): the callback may not run */
        int dns = bufferevent_socket_get_dns_error(bev);
        fprintf(stderr, "error: cannot connect to %s:%d: %s\n", o.host, o.port,
                dns ? evutil_gai_strerror(dns)
                    : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        bufferevent_free(bev);
        event_base_free(base);
        return 1;
    }
    /* With a NULL evdns base, a name that does not resolve calls on_event
     * from inside connect_hostname(): its loopbreak, made before the loop
     * runs, would be lost, so do not start the loop at all then. */
    if (!o.done)
        event_base_dispatch(base);

    bufferevent_free(bev);
    event_base_free(base);
    return o.code;
}
