/* closed.c -- EV_CLOSED: hearing that the peer closed, before reading its data.
 *
 * Teaches: with EV_CLOSED, a backend that has EV_FEATURE_EARLY_CLOSE (epoll,
 * poll) reports the peer's shutdown or close at once, even while the peer's
 * last bytes are still unread. select has no such feature: EV_CLOSED alone
 * never fires there (our timeout fires instead), and only a read() that
 * returns 0 tells you. EV_CLOSED is level-triggered: a persistent one fires
 * on every loop turn until you delete it or close the fd.
 *
 * Builds on: persist.c and edge_triggered.c (read events on a socketpair),
 * lesson 02 (the EARLY_CLOSE feature bit).
 *
 * Build and run on its own:
 *   cc -Wall -o closed closed.c $(pkg-config --cflags --libs libevent)
 *   ./closed
 *   ./closed --method select
 *   ./closed --with-read
 */
#include <getopt.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "../lesson.h"

static int calls;

// [callback]
static void on_event(evutil_socket_t fd, short what, void *arg)
{
    struct event *self = arg;
    int unread = 0;
    ioctl(fd, FIONREAD, &unread);
    calls++;
    printf("  callback %d: what=%s, %d byte%s still unread\n", calls, FLAGS(what), unread,
           unread == 1 ? "" : "s");
    if (what & EV_CLOSED)
        printf("  -> the peer has closed: no need to read first\n");
    if (what & EV_TIMEOUT)
        printf("  -> no EV_CLOSED in time: this backend cannot report it\n");
    if (calls == 3 && event_pending(self, EV_CLOSED | EV_READ, NULL)) {
        printf("  -> it keeps firing (level-triggered): event_del\n");
        event_del(self);
    }
}
// [/callback]

static void usage(FILE *to)
{
    fprintf(to, "usage: closed [--with-read] [--persist] [--close] [--timeout-ms N] [--method "
                "NAME] [--step] [--help]\n"
                "  --with-read     watch EV_READ|EV_CLOSED instead of EV_CLOSED alone\n"
                "  --persist       add EV_PERSIST (stops itself after 3 callbacks)\n"
                "  --close         the peer calls close() instead of shutdown(SHUT_WR)\n"
                "  --timeout-ms N  give up waiting after N ms (default 300)\n"
                "  --method NAME   use this backend (epoll, poll, select)\n"
                "  --step          pause before each step (also EVLAB_STEP=1)\n"
                "  --help          show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"with-read", no_argument, NULL, 'r'},    {"persist", no_argument, NULL, 'p'},
        {"close", no_argument, NULL, 'c'},        {"timeout-ms", required_argument, NULL, 't'},
        {"method", required_argument, NULL, 'm'}, {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    bool with_read = false, persist = false, full_close = false;
    int timeout_ms = 300;
    const char *method = NULL;
    char *end;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "rpct:m:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'r': with_read = true; break;
        case 'p': persist = true; break;
        case 'c': full_close = true; break;
        case 't':
            timeout_ms = (int)strtol(optarg, &end, 10);
            if (*end || timeout_ms < 1 || timeout_ms > 100000) {
                fprintf(stderr, "closed: bad number '%s'\n", optarg);
                usage(stderr);
                return 2;
            }
            break;
        case 'm': method = optarg; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc ||
        (method && strcmp(method, "epoll") && strcmp(method, "poll") && strcmp(method, "select"))) {
        fprintf(stderr, "closed: bad argument '%s'\n", optind < argc ? argv[optind] : method);
        usage(stderr);
        return 2;
    }

    struct event_base *base = base_for_method(method);
    printf("method %s: EV_FEATURE_EARLY_CLOSE %s\n", event_base_get_method(base),
           (event_base_get_features(base) & EV_FEATURE_EARLY_CLOSE) ? "yes" : "no");
    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK_OK(evutil_make_socket_nonblocking(sv[0]));

    step("1. watch for the peer closing");
    // [event]
    short flags = EV_CLOSED | (with_read ? EV_READ : 0) | (persist ? EV_PERSIST : 0);
    struct event *ev = event_new(base, sv[0], flags, on_event, event_self_cbarg());
    CHECK(ev);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int rc = event_add(ev, &tv);
    // [/event]
    printf("  event_new(%s), event_add with a %d ms timeout -> %d\n", FLAGS(flags), timeout_ms, rc);

    step("2. the peer writes \"bye\" and %s",
         full_close ? "closes its socket" : "shuts down its side");
    if (write(sv[1], "bye", 3) != 3)
        die("write: %s", strerror(errno));
    if (full_close) {
        close(sv[1]);
        sv[1] = -1;
    } else {
        shutdown(sv[1], SHUT_WR);
    }

    step("3. dispatch");
    rc = event_base_dispatch(base);
    printf("event_base_dispatch -> %d after %d callback%s\n", rc, calls, calls == 1 ? "" : "s");

    step("4. what read() says");
    char buf[16];
    ssize_t n = read(sv[0], buf, sizeof buf);
    printf("  read -> %zd%s\n", n, n > 0 ? " (the data was still there)" : "");
    n = read(sv[0], buf, sizeof buf);
    printf("  read -> %zd%s\n", n, n == 0 ? " (EOF: the only close signal select gives)" : "");

    event_free(ev);
    event_base_free(base);
    close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return 0;
}
