/* read_write.c -- one event for both directions: EV_READ|EV_WRITE.
 *
 * Teaches: a single event may ask for EV_READ|EV_WRITE. Its callback gets
 * whichever happened, and both bits at once when the fd is readable and
 * writable in the same loop turn, so one callback must handle both. A
 * connected socket with room to send is always writable: keep EV_WRITE only
 * while you have something to send. The events of a pending event cannot be
 * changed; event_del, event_assign with the new flags, and event_add again.
 * (libevent merges all events on one fd into one kernel registration:
 * evmap_io_add_ in evmap.c.)
 *
 * Builds on: cb_func.c (what the `what` argument holds), persist.c.
 *
 * Build and run on its own:
 *   cc -Wall -o read_write read_write.c $(pkg-config --cflags --libs libevent)
 *   ./read_write
 *   ./read_write --method select
 */
#include <getopt.h>
#include <sys/socket.h>

#include "../lesson.h"

static int peer; /* the other end of the socketpair */

// [callback]
static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)arg;
    printf("  callback: what=%s\n", FLAGS(what));
    if (what & EV_READ) {
        char buf[64];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0)
            printf("    EV_READ:  read %zd bytes \"%.*s\"\n", n, (int)n, buf);
        else if (n == 0)
            printf("    EV_READ:  EOF\n");
        else
            printf("    EV_READ:  read failed: %s\n", strerror(errno));
    }
    if (what & EV_WRITE) {
        ssize_t n = write(fd, "ping", 4);
        printf("    EV_WRITE: wrote %zd bytes \"ping\"\n", n);
    }
}
// [/callback]

static void drain_peer(void)
{
    char buf[256];
    ssize_t n = read(peer, buf, sizeof buf);
    printf("  the peer reads %zd bytes and writes \"pong\"\n", n);
    if (write(peer, "pong", 4) != 4)
        die("write: %s", strerror(errno));
}

static void usage(FILE *to)
{
    fprintf(to, "usage: read_write [--method NAME] [--step] [--help]\n"
                "  --method NAME  use this backend (epoll, poll, select)\n"
                "  --step         pause before each step (also EVLAB_STEP=1)\n"
                "  --help         show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"method", required_argument, NULL, 'm'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *method = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "m:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': method = lesson_method(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "read_write: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK_OK(evutil_make_socket_nonblocking(sv[0]));
    peer = sv[1];
    struct event_base *base = base_for_method(method);
    printf("method %s\n", event_base_get_method(base));

    step("1. one event, EV_READ|EV_WRITE|EV_PERSIST, on one fd");
    // [event]
    struct event *ev = event_new(base, sv[0], EV_READ | EV_WRITE | EV_PERSIST, on_io, NULL);
    if (ev == NULL)
        die("event_new failed");
    if (event_add(ev, NULL) < 0)
        die("event_add failed");
    // [/event]
    printf("  pending on %s\n", FLAGS(event_pending(ev, EV_READ | EV_WRITE, NULL)));

    step("2. one loop turn: nothing to read yet, room to write");
    event_base_loop(base, EVLOOP_ONCE);

    step("3. the peer answers; one loop turn: readable AND writable");
    drain_peer();
    event_base_loop(base, EVLOOP_ONCE);
    printf("  one call with both bits: the callback handled both\n");

    step("4. nothing more to send: event_del, event_assign EV_READ|EV_PERSIST, event_add");
    // [reassign]
    if (event_del(ev) < 0)
        die("event_del failed");
    if (event_assign(ev, base, sv[0], EV_READ | EV_PERSIST, on_io, NULL) < 0)
        die("event_assign failed");
    if (event_add(ev, NULL) < 0)
        die("event_add failed");
    // [/reassign]
    drain_peer();
    event_base_loop(base, EVLOOP_ONCE);
    printf("  EV_READ alone now: a writable socket no longer wakes the loop\n");

    event_free(ev);
    event_base_free(base);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
