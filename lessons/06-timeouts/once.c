/* once.c -- event_base_once: a callback without an event to manage.
 *
 * Teaches: event_base_once(base, fd, what, cb, arg, tv) schedules a callback
 * once; libevent allocates the event and frees it after the callback. With a
 * NULL tv a timer runs at once (on the next loop pass). It may watch an fd
 * with a timeout, like read_timeout.c. It refuses EV_SIGNAL and EV_PERSIST
 * (returns -1), and event_base_free() frees a once-event that never ran.
 *
 * Builds on: timers.c and read_timeout.c.
 *
 * Build and run on its own:
 *   cc -Wall -o once once.c $(pkg-config --cflags --libs libevent)
 *   ./once
 *   valgrind --leak-check=full ./once     # the never-run event is freed too
 */
#include <getopt.h>
#include <signal.h>

#include "../lesson.h"

static void on_once(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    printf("  once callback '%s' ran with %s\n", (const char *)arg, FLAGS(what));
}

static void usage(FILE *to)
{
    fprintf(to, "usage: once [--step] [--help]\n"
                "  --step   pause before each step (also EVLAB_STEP=1)\n"
                "  --help   show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"step", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "sh", opts, NULL)) != -1;) {
        switch (c) {
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "once: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct event_base *base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");
    int fds[2];
    CHECK_OK(pipe(fds));

    step("1. a 30 ms once-timer and a once-timer with tv = NULL");
    // [once]
    struct timeval ms30 = {0, 30 * 1000};
    if (event_base_once(base, -1, EV_TIMEOUT, on_once, "after 30 ms", &ms30) < 0)
        die("event_base_once failed");
    if (event_base_once(base, -1, EV_TIMEOUT, on_once, "tv NULL", NULL) < 0)
        die("event_base_once failed");
    // [/once]
    int rv = event_base_dispatch(base);
    printf("dispatch returned %d: both ran and were freed by libevent\n", rv);

    step("2. a once-read on a pipe, with a timeout");
    struct timeval ms20 = {0, 20 * 1000}, sec5 = {5, 0};
    if (event_base_once(base, fds[0], EV_READ, on_once, "empty pipe", &ms20) < 0)
        die("event_base_once failed");
    event_base_dispatch(base);
    CHECK(write(fds[1], "x", 1) == 1);
    if (event_base_once(base, fds[0], EV_READ, on_once, "pipe with data", &sec5) < 0)
        die("event_base_once failed");
    event_base_dispatch(base);

    step("3. what event_base_once refuses");
    // [refuse]
    rv = event_base_once(base, SIGUSR1, EV_SIGNAL, on_once, "signal", NULL);
    printf("event_base_once(EV_SIGNAL) returned %d\n", rv);
    rv = event_base_once(base, -1, EV_TIMEOUT | EV_PERSIST, on_once, "persist", &ms30);
    printf("event_base_once(EV_TIMEOUT|EV_PERSIST) returned %d\n", rv);
    // [/refuse]

    step("4. a once-event that never runs");
    struct timeval hour = {3600, 0};
    if (event_base_once(base, -1, EV_TIMEOUT, on_once, "in an hour", &hour) < 0)
        die("event_base_once failed");
    printf("scheduled for an hour from now; event_base_free() below frees it\n");
    close(fds[0]);
    close(fds[1]);
    event_base_free(base);
    libevent_global_shutdown();
    return 0;
}
