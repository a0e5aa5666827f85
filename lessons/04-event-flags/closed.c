/* closed.c -- EV_CLOSED: hearing that the peer closed, before reading its data.
 *
 * Teaches: with EV_CLOSED, a backend that has EV_FEATURE_EARLY_CLOSE (epoll,
 * poll) reports the peer's shutdown or close at once, even while the peer's
 * last bytes are still unread. Those bytes are still data you must read, and
 * after shutdown(SHUT_WR) the peer is not gone: it is a half-close, and the
 * peer can still read what you send. select has no such feature: EV_CLOSED
 * alone never fires there (our timeout fires instead), and only a read() that
 * returns 0 tells you. A close that comes with an error (--reset: the peer
 * closes with our data unread, like a TCP RST) differs by backend: epoll
 * reports EV_READ|EV_WRITE and no EV_CLOSED (epoll.c: EPOLLERR wins over
 * EPOLLRDHUP), poll still reports EV_CLOSED (poll.c). EV_CLOSED is
 * level-triggered: a persistent one fires on every loop turn until you delete
 * it or close the fd.
 *
 * Builds on: persist.c and edge_triggered.c (read events on a socketpair),
 * lesson 02 (the EARLY_CLOSE feature bit).
 *
 * Build and run on its own:
 *   cc -Wall -o closed closed.c $(pkg-config --cflags --libs libevent)
 *   ./closed
 *   ./closed --method select
 *   ./closed --with-read
 *   ./closed --reset --method epoll ; ./closed --reset --method poll
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
        printf("  -> the peer will send nothing more; what it sent before is still to read\n");
    if ((what & (EV_READ | EV_WRITE)) && !(what & EV_CLOSED))
        printf("  -> a close without EV_CLOSED: only read() can tell what happened\n");
    if (what & EV_TIMEOUT)
        printf("  -> no EV_CLOSED in time\n");
    if (calls == 3 && event_pending(self, EV_CLOSED | EV_READ, NULL)) {
        printf("  -> it keeps firing (level-triggered): event_del\n");
        event_del(self);
    }
}
// [/callback]

static void usage(FILE *to)
{
    fprintf(to,
            "usage: closed [--with-read] [--persist] [--close|--reset] [--timeout-ms N] [--method "
            "NAME] [--step] [--help]\n"
            "  --with-read     watch EV_READ|EV_CLOSED instead of EV_CLOSED alone\n"
            "  --persist       add EV_PERSIST (stops itself after 3 callbacks)\n"
            "  --close         the peer calls close() instead of shutdown(SHUT_WR)\n"
            "  --reset         we write a byte the peer never reads, then it closes:\n"
            "                  a close with an error (ECONNRESET), like a TCP RST\n"
            "  --timeout-ms N  give up waiting after N ms (default 300)\n"
            "  --method NAME   use this backend (epoll, poll, select)\n"
            "  --step          pause before each step (also EVLAB_STEP=1)\n"
            "  --help          show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"with-read", no_argument, NULL, 'r'},
                                         {"persist", no_argument, NULL, 'p'},
                                         {"close", no_argument, NULL, 'c'},
                                         {"timeout-ms", required_argument, NULL, 't'},
                                         {"reset", no_argument, NULL, 'x'},
                                         {"method", required_argument, NULL, 'm'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool with_read = false, persist = false, full_close = false, reset = false;
    int timeout_ms = 300;
    const char *method = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "rpcxt:m:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'r': with_read = true; break;
        case 'p': persist = true; break;
        case 'c': full_close = true; break;
        case 'x': reset = full_close = true; break;
        case 't': timeout_ms = (int)lesson_num(optarg, 1, 100000, "--timeout-ms"); break;
        case 'm': method = lesson_method(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "closed: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    struct event_base *base = base_for_method(method);
    printf("method %s: EV_FEATURE_EARLY_CLOSE %s\n", event_base_get_method(base),
           (event_base_get_features(base) & EV_FEATURE_EARLY_CLOSE) ? "yes" : "no");
    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK_OK(evutil_make_socket_nonblocking(sv[0]));

    bool is_select = strcmp(event_base_get_method(base), "select") == 0;

    step("1. an event that watches for the peer closing");
    // [event]
    short flags = EV_CLOSED | (with_read ? EV_READ : 0) | (persist ? EV_PERSIST : 0);
    struct event *ev = event_new(base, sv[0], flags, on_event, event_self_cbarg());
    if (ev == NULL)
        die("event_new failed");
    // [/event]
    printf("  event_new(%s)\n", FLAGS(flags));

    step("2. the peer writes \"bye\" and %s", reset        ? "closes, our byte unread"
                                              : full_close ? "closes its socket"
                                                           : "shuts down its side (SHUT_WR)");
    if (reset) {
        CHECK(write(sv[0], "?", 1) == 1); /* the peer never reads it */
        printf("  we wrote 1 byte the peer will never read\n");
    }
    if (write(sv[1], "bye", 3) != 3)
        die("write: %s", strerror(errno));
    if (full_close) {
        close(sv[1]);
        sv[1] = -1;
    } else {
        CHECK_OK(shutdown(sv[1], SHUT_WR));
    }

    step("3. event_add with a %d ms timeout, then dispatch", timeout_ms);
    /* Added only now, so time spent at a step prompt never uses up the timeout. */
    // [add]
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    if (event_add(ev, &tv) < 0)
        die("event_add failed");
    // [/add]
    int rc = event_base_dispatch(base);
    printf("event_base_dispatch -> %d after %d callback%s\n", rc, calls, calls == 1 ? "" : "s");

    step("4. what read() says");
    char buf[16];
    for (int i = 0; i < 2; i++) {
        ssize_t n = read(sv[0], buf, sizeof buf);
        if (n > 0)
            printf("  read -> %zd (the data was still there)\n", n);
        else if (n == 0)
            printf("  read -> 0 (EOF)%s\n",
                   is_select ? ": the only close signal select gives" : "");
        else
            printf("  read -> -1 (%s): an error, not EOF\n", strerror(errno));
    }
    if (!full_close) {
        /* A half-close: the peer only said it will send no more. */
        // [half]
        CHECK(write(sv[0], "ok", 2) == 2);
        ssize_t n = read(sv[1], buf, sizeof buf);
        // [/half]
        printf("  we write \"ok\"; the peer, which shut down only its writing side, reads %zd "
               "bytes:\n  SHUT_WR is a half-close, not a goodbye\n",
               n);
    }

    event_free(ev);
    event_base_free(base);
    close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return 0;
}
