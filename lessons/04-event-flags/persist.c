/* persist.c -- EV_PERSIST against a one-shot event, same input for both.
 *
 * Teaches: a persistent event stays pending after its callback and fires
 * again while there is something to read; a one-shot event fires once and
 * is then non-pending, so the rest of the data sits unread and the loop
 * ends (it has no events). A one-shot event that re-adds itself in its
 * callback behaves like a persistent one.
 *
 * Builds on: cb_func.c (the callback's `what`), lesson 03 (pending).
 *
 * Build and run on its own:
 *   cc -Wall -o persist persist.c $(pkg-config --cflags --libs libevent)
 *   ./persist
 *   ./persist --no-persist
 *   ./persist --no-persist --readd
 */
#include <getopt.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "../lesson.h"

static bool readd;
static int calls;

// [callback]
static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct event *self = arg;
    char c;
    ssize_t n = read(fd, &c, 1); /* one byte per call, on purpose */
    calls++;
    if (n == 1)
        printf("  callback %d: %s, read '%c'", calls, FLAGS(what), c);
    else if (n == 0)
        printf("  callback %d: %s, read returned 0 (EOF)", calls, FLAGS(what));
    else
        printf("  callback %d: %s, read failed: %s", calls, FLAGS(what), strerror(errno));
    if (n <= 0) {
        event_del(self); /* the peer is done (or broken): stop watching */
        printf(", event_del\n");
        return;
    }
    if (readd && !event_pending(self, EV_READ, NULL)) {
        if (event_add(self, NULL) < 0)
            die("event_add failed");
        printf(", one-shot: event_add again");
    }
    printf(" -> pending: %s\n", FLAGS(event_pending(self, EV_READ, NULL)));
}
// [/callback]

static void usage(FILE *to)
{
    fprintf(to, "usage: persist [--no-persist] [--readd] [--method NAME] [--step] [--help]\n"
                "  --no-persist   EV_READ alone: a one-shot event\n"
                "  --readd        the callback adds the event again if it is not pending\n"
                "  --method NAME  use this backend (epoll, poll, select)\n"
                "  --step         pause before each step (also EVLAB_STEP=1)\n"
                "  --help         show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"no-persist", no_argument, NULL, 'n'},   {"readd", no_argument, NULL, 'r'},
        {"method", required_argument, NULL, 'm'}, {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    bool persist = true;
    const char *method = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "nrm:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': persist = false; break;
        case 'r': readd = true; break;
        case 'm': method = lesson_method(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "persist: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK_OK(evutil_make_socket_nonblocking(sv[0]));
    struct event_base *base = base_for_method(method);

    step("1. the peer sends \"abc\" and closes its side");
    if (write(sv[1], "abc", 3) != 3)
        die("write: %s", strerror(errno));
    shutdown(sv[1], SHUT_WR);

    step("2. one read event, %s", persist ? "EV_READ|EV_PERSIST" : "EV_READ (one-shot)");
    // [event]
    short flags = EV_READ | (persist ? EV_PERSIST : 0);
    struct event *ev = event_new(base, sv[0], flags, on_read, event_self_cbarg());
    if (ev == NULL)
        die("event_new failed");
    if (event_add(ev, NULL) < 0)
        die("event_add failed");
    // [/event]
    printf("  method %s, event %s%s\n", event_base_get_method(base), FLAGS(flags),
           readd ? ", re-added by its callback" : "");

    step("3. dispatch");
    int rc = event_base_dispatch(base);
    int unread = 0;
    CHECK_OK(ioctl(sv[0], FIONREAD, &unread));
    printf("event_base_dispatch -> %d (no events left), %d callback%s, %d byte%s unread\n", rc,
           calls, calls == 1 ? "" : "s", unread, unread == 1 ? "" : "s");

    event_free(ev);
    event_base_free(base);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
