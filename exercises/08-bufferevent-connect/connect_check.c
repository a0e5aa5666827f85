/* connect_check.c -- exercise 08: connect with a bufferevent and report the outcome.
 *
 * connect_check [--timeout-ms N] HOST PORT
 * prints "connected to HOST:PORT" and exits 0 when the connection is made;
 * prints "error: cannot connect to HOST:PORT: REASON" on stderr and exits 1
 * when it is refused, fails, or takes longer than the timeout; exits 2 on
 * bad arguments. HOST may be a name such as localhost. See README.md.
 *
 * The argument parsing is done; the TODOs are the libevent part.
 *
 *   cc -Wall -Wextra -o connect_check connect_check.c $(pkg-config --cflags --libs libevent)
 *   ./connect_check 127.0.0.1 80; echo $?
 * Check it: ./evlab check 08
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
    (void)bev;
    (void)what;
    (void)o;
    /* TODO: BEV_EVENT_CONNECTED -> print "connected to HOST:PORT", code 0.
     * TODO: BEV_EVENT_ERROR -> the reason is in EVUTIL_SOCKET_ERROR() (or
     *       bufferevent_socket_get_dns_error() for a name), code 1.
     * TODO: BEV_EVENT_TIMEOUT -> "timed out", code 1.
     * TODO: then stop the loop. */
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

    /* TODO: a base; a bufferevent with no socket yet (fd -1, BEV_OPT_CLOSE_ON_FREE);
     * on_event as its event callback with &o; a write timeout of timeout_ms
     * (a pending connect waits to become writable); then connect to
     * o.host:o.port (bufferevent_socket_connect_hostname takes a name) and
     * run the loop. Free everything before returning. */
    (void)timeout_ms;
    (void)on_event;
    return o.code;
}
