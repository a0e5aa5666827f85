/* cb_func.c -- seed 000's cb_func example, run for real on two fds.
 *
 * Teaches: what the `what` argument of a callback holds. ev1 reads fd1 with
 * EV_TIMEOUT|EV_READ|EV_PERSIST and a timeout; ev2 writes fd2 with
 * EV_WRITE|EV_PERSIST. EV_TIMEOUT in event_new's flags does nothing: only
 * event_add's timeval makes a timeout, and EV_TIMEOUT then comes back as a
 * result. A socket with room to write is always writable, so a persistent
 * EV_WRITE event is deleted while there is nothing to send.
 *
 * Builds on: lesson 03 (pending, active, persistent).
 *
 * Build and run on its own:
 *   cc -Wall -o cb_func cb_func.c $(pkg-config --cflags --libs libevent)
 *   ./cb_func
 *   ./cb_func --no-timeout
 */
#include <getopt.h>
#include <sys/socket.h>

#include "../lesson.h"

static struct event *ev1, *ev2;
static int writes = 3, sent, got;

static void react(evutil_socket_t fd, short what);

// [cb_func]
/* The seed's callback: the same output, plus the missing newline, and a
 * call to react() that does the I/O the seed left to the reader. */
static void cb_func(evutil_socket_t fd, short what, void *arg)
{
    const char *data = arg;
    printf("Got an event on socket %d:%s%s%s%s [%s]\n", (int)fd,
           (what & EV_TIMEOUT) ? " timeout" : "", (what & EV_READ) ? " read" : "",
           (what & EV_WRITE) ? " write" : "", (what & EV_SIGNAL) ? " signal" : "", data);
    react(fd, what);
}
// [/cb_func]

static void react(evutil_socket_t fd, short what)
{
    if (what & EV_WRITE) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "message %d\n", ++sent);
        if (write(fd, msg, (size_t)len) != len)
            die("write: %s", strerror(errno));
        printf("  wrote \"message %d\"; event_del(ev2) until it has been read\n", sent);
        event_del(ev2); /* else it fires again on the very next loop turn */
        if (sent == writes && !event_pending(ev1, EV_TIMEOUT, NULL)) {
            shutdown(fd, SHUT_WR); /* no timeout to end on: end with EOF */
            printf("  that was the last one: shutdown(fd2, SHUT_WR)\n");
        }
    }
    if (what & EV_READ) {
        char buf[64];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = '\0';
            buf[strcspn(buf, "\n")] = '\0';
            printf("  read \"%s\"\n", buf);
            if (++got < writes)
                event_add(ev2, NULL); /* something more to say: watch fd2 again */
        } else {
            printf("  read returned %zd: EOF; event_del(ev1)\n", n);
            event_del(ev1);
        }
    }
    if (what & EV_TIMEOUT) {
        printf("  nothing arrived in time: EV_TIMEOUT is a result; event_del(ev1)\n");
        event_del(ev1);
    }
}

static void usage(FILE *to)
{
    fprintf(to, "usage: cb_func [--writes N] [--timeout-ms N] [--no-timeout] [--method NAME] "
                "[--step] [--help]\n"
                "  --writes N      messages ev2 sends to ev1 (default 3)\n"
                "  --timeout-ms N  ev1's timeout (default 1000; the seed used 5 s)\n"
                "  --no-timeout    event_add(ev1, NULL): EV_TIMEOUT in the flags alone\n"
                "  --method NAME   use this backend (epoll, poll, select)\n"
                "  --step          pause before each step (also EVLAB_STEP=1)\n"
                "  --help          show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"writes", required_argument, NULL, 'w'},
                                         {"timeout-ms", required_argument, NULL, 't'},
                                         {"no-timeout", no_argument, NULL, 'n'},
                                         {"method", required_argument, NULL, 'm'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int timeout_ms = 1000;
    bool use_timeout = true;
    const char *method = NULL;
    char *end;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "w:t:nm:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'w':
        case 't': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 100000) {
                fprintf(stderr, "cb_func: bad number '%s'\n", optarg);
                usage(stderr);
                return 2;
            }
            *(c == 'w' ? &writes : &timeout_ms) = (int)v;
            break;
        }
        case 'n': use_timeout = false; break;
        case 'm': method = optarg; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc ||
        (method && strcmp(method, "epoll") && strcmp(method, "poll") && strcmp(method, "select"))) {
        fprintf(stderr, "cb_func: bad argument '%s'\n", optind < argc ? argv[optind] : method);
        usage(stderr);
        return 2;
    }

    step("1. two fds: the ends of a socketpair, non-blocking");
    /* The seed says "the caller has already set up fd1, fd2 somehow". */
    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    evutil_socket_t fd1 = sv[0], fd2 = sv[1];
    CHECK_OK(evutil_make_socket_nonblocking(fd1));
    CHECK_OK(evutil_make_socket_nonblocking(fd2));
    struct event_base *base = base_for_method(method);
    printf("  fd1=%d (read end), fd2=%d (write end), method %s\n", (int)fd1, (int)fd2,
           event_base_get_method(base));

    step("2. the seed's two events");
    // [events]
    struct timeval timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ev1 = event_new(base, fd1, EV_TIMEOUT | EV_READ | EV_PERSIST, cb_func, (char *)"Reading event");
    ev2 = event_new(base, fd2, EV_WRITE | EV_PERSIST, cb_func, (char *)"Writing event");
    CHECK(ev1 && ev2);
    CHECK_OK(event_add(ev1, use_timeout ? &timeout : NULL));
    CHECK_OK(event_add(ev2, NULL));
    // [/events]
    printf("  ev1 asked for %s, pending on %s\n", FLAGS(event_get_events(ev1)),
           FLAGS(event_pending(ev1, EV_READ | EV_TIMEOUT, NULL)));
    printf("  ev2 asked for %s, pending on %s\n", FLAGS(event_get_events(ev2)),
           FLAGS(event_pending(ev2, EV_WRITE, NULL)));

    step("3. dispatch");
    int rc = event_base_dispatch(base);
    printf("event_base_dispatch -> %d (no events left)\n", rc);

    event_free(ev1);
    event_free(ev2);
    event_base_free(base);
    close(fd1);
    close(fd2);
    return 0;
}
