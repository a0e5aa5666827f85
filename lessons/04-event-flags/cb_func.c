/* cb_func.c -- the cb_func example of Jeff Zarnett's lecture notes ("Lecture
 * 32 — Event-Driven I/O with libevent", ECE 459), run for real on two fds.
 *
 * Teaches: what the `what` argument of a callback holds. ev1 reads fd1 with
 * EV_TIMEOUT|EV_READ|EV_PERSIST and a timeout; ev2 writes fd2 with
 * EV_WRITE|EV_PERSIST. EV_TIMEOUT in event_new's flags does nothing: only
 * event_add's timeval makes a timeout, and EV_TIMEOUT then comes back as a
 * result. A socket with room to write is always writable, so a persistent
 * EV_WRITE event is deleted while there is nothing to send.
 *
 * Step mode: the events are added after the last prompt, just before the
 * dispatch, so the time you spend reading does not eat ev1's timeout.
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
/* The lecture's callback: the same output, plus the missing newline, and a
 * call to react() that does the I/O the notes left to the reader. */
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
        if (event_del(ev2) < 0) /* else it fires again on the very next loop turn */
            die("event_del(ev2) failed");
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
            if (++got < writes && event_add(ev2, NULL) < 0) /* more to say: watch fd2 again */
                die("event_add(ev2) failed");
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
                "  --timeout-ms N  ev1's timeout (default 1000; the notes used 5 s)\n"
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
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "w:t:nm:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'w': writes = (int)lesson_num(optarg, 1, 100000, "--writes"); break;
        case 't': timeout_ms = (int)lesson_num(optarg, 1, 100000, "--timeout-ms"); break;
        case 'n': use_timeout = false; break;
        case 'm': method = lesson_method(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cb_func: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. two fds: the ends of a socketpair, non-blocking");
    /* The notes say only that the caller has already set up fd1 and fd2. */
    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    evutil_socket_t fd1 = sv[0], fd2 = sv[1];
    CHECK_OK(evutil_make_socket_nonblocking(fd1));
    CHECK_OK(evutil_make_socket_nonblocking(fd2));
    struct event_base *base = base_for_method(method);
    printf("  fd1=%d (read end), fd2=%d (write end), method %s\n", (int)fd1, (int)fd2,
           event_base_get_method(base));

    step("2. the lecture's two events");
    // [events]
    ev1 = event_new(base, fd1, EV_TIMEOUT | EV_READ | EV_PERSIST, cb_func, (char *)"Reading event");
    if (ev1 == NULL)
        die("event_new(ev1) failed");
    ev2 = event_new(base, fd2, EV_WRITE | EV_PERSIST, cb_func, (char *)"Writing event");
    if (ev2 == NULL)
        die("event_new(ev2) failed");
    // [/events]
    printf("  ev1 asked for %s\n", FLAGS(event_get_events(ev1)));
    printf("  ev2 asked for %s\n", FLAGS(event_get_events(ev2)));

    step("3. add them, then dispatch");
    // [add]
    struct timeval timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    if (event_add(ev1, use_timeout ? &timeout : NULL) < 0)
        die("event_add(ev1) failed");
    if (event_add(ev2, NULL) < 0)
        die("event_add(ev2) failed");
    // [/add]
    printf("  ev1 pending on %s\n", FLAGS(event_pending(ev1, EV_READ | EV_TIMEOUT, NULL)));
    printf("  ev2 pending on %s\n", FLAGS(event_pending(ev2, EV_WRITE, NULL)));
    int rc = event_base_dispatch(base);
    printf("event_base_dispatch -> %d (no events left)\n", rc);

    event_free(ev1);
    event_free(ev2);
    event_base_free(base);
    close(fd1);
    close(fd2);
    return 0;
}
