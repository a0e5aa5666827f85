/* clean_run.c -- a run that valgrind (or ASan/LSan) has nothing to say about.
 *
 * Teaches: with debug mode on, a small program uses a timer, a pipe reader,
 * a signal event and an event_base_once, then frees each event, the base,
 * and finally calls libevent_global_shutdown(), which also frees debug
 * mode's table and libevent's other globals. Under valgrind that reads "All
 * heap blocks were freed". --leak forgets one event_free() on purpose, so
 * you can see valgrind (and the test) catch it.
 *
 * Builds on: debug_mode.c, lesson 07's graceful_shutdown.c.
 *
 * Build and run on its own:
 *   cc -Wall -g -o clean_run clean_run.c $(pkg-config --cflags --libs libevent)
 *   valgrind --leak-check=full ./clean_run
 *   valgrind --leak-check=full ./clean_run --leak
 */
#include <getopt.h>
#include <signal.h>

#include "../lesson.h"

static int fds[2];

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what, (void)arg;
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf);
    printf("  pipe reader got %zd byte(s)\n", n);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    printf("  timer fired; writing to the pipe\n");
    CHECK(write(fds[1], "ping", 4) == 4);
}

static void on_once(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    printf("  once-callback ran\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what, (void)arg;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: clean_run [--leak] [--step] [--help]\n"
                "  --leak   skip one event_free() on purpose\n"
                "  --step   pause before each step (also EVLAB_STEP=1)\n"
                "  --help   show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"leak", no_argument, NULL, 'l'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool leak = false;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "lsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'l': leak = true; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "clean_run: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. debug mode, a base, four kinds of event");
    event_enable_debug_mode();
    struct event_base *base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    CHECK_OK(pipe(fds));
    CHECK_OK(evutil_make_socket_nonblocking(fds[0])); /* debug mode insists */
    struct event *rd = event_new(base, fds[0], EV_READ, on_read, NULL);
    struct event *tm = evtimer_new(base, on_timer, NULL);
    struct event *sg = evsignal_new(base, SIGUSR2, on_signal, NULL);
    if (!rd || !tm || !sg)
        die("event_new()/evtimer_new()/evsignal_new() failed");
    struct timeval ms10 = {0, 10 * 1000};
    CHECK_OK(event_add(rd, NULL));
    CHECK_OK(evtimer_add(tm, &ms10));
    CHECK_OK(evsignal_add(sg, NULL));
    CHECK_OK(event_base_once(base, -1, EV_TIMEOUT, on_once, NULL, NULL));

    step("2. run until the pipe has been read");
    struct timeval limit = {2, 0};
    if (event_base_loopexit(base, &limit) != 0)
        die("event_base_loopexit() failed");
    while (event_pending(rd, EV_READ, NULL) && !event_base_got_exit(base))
        event_base_loop(base, EVLOOP_ONCE);

    step("3. free everything%s", leak ? " (except the timer: --leak)" : "");
    // [free-all]
    event_free(rd);
    if (!leak)
        event_free(tm);
    event_free(sg); /* a pending signal event: event_free deletes it first */
    event_base_free(base);
    close(fds[0]);
    close(fds[1]);
    libevent_global_shutdown();
    // [/free-all]
    printf("done: %s\n", leak ? "one event was not freed"
                              : "every event, the base, and libevent's globals freed");
    return 0;
}
