/* legacy_api.c -- event_init()/event_dispatch() (1.4) beside their 2.x replacements.
 *
 * Teaches: the 1.4 API still compiles in 2.1 (event2/event_compat.h), and the
 * one thing that makes it dangerous: a hidden global. event_init() makes a
 * base AND makes it the "current base"; event_set() and event_dispatch() use
 * whatever that global holds at the time of the call. Call event_init() a
 * second time (a library, a thread) and the next event_set() quietly lands on
 * the new base. The 2.x calls name the base every time: event_base_new(),
 * event_new(base, ...), event_base_dispatch(base).
 *
 * Builds on: seed_echo.c (event_set + event_base_set), fixed_echo.c (2.x).
 *
 * Build and run on its own:
 *   cc -Wall -o legacy_api legacy_api.c $(pkg-config --cflags --libs libevent)
 *   ./legacy_api
 */
#include <getopt.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/event_compat.h> /* event_init, event_set, event_dispatch */
#include <event2/event_struct.h> /* struct event by value, as 1.4 code has it */

#include "../lesson.h"

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    char c;
    if (read(fd, &c, 1) != 1)
        printf("   read() on fd %d failed\n", (int)fd);
    printf("   %s: callback ran (%s)\n", (const char *)arg, FLAGS(what));
}

static const char *which(struct event_base *b, struct event_base *one, struct event_base *two)
{
    return b == one ? "base #1" : b == two ? "base #2" : "another base";
}

static void usage(FILE *to)
{
    fprintf(to, "usage: legacy_api [--step] [--help]\n"
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
        fprintf(stderr, "legacy_api: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    int fds[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds));

    step("1. 1.4: event_init, event_set, event_add, event_dispatch");
    // [legacy]
    struct event_base *one = event_init(); /* a base, and now the hidden current base */
    if (!one)
        die("event_init() failed");
    struct event ev1;
    event_set(&ev1, fds[0], EV_READ, on_read, "1.4 event"); /* no base argument */
    if (event_add(&ev1, NULL) < 0)
        die("event_add() failed");
    CHECK(write(fds[1], "x", 1) == 1);
    int rv = event_dispatch(); /* runs the current base */
    // [/legacy]
    printf("event_set() put the event on %s; event_dispatch() returned %d (no events left)\n",
           which(event_get_base(&ev1), one, NULL), rv);

    step("2. a second event_init(): the hidden global moves");
    // [global]
    struct event_base *two = event_init(); /* a library or a thread calls it too */
    if (!two)
        die("event_init() failed");
    struct event ev2;
    event_set(&ev2, fds[0], EV_READ, on_read, "second 1.4 event");
    if (event_add(&ev2, NULL) < 0)
        die("event_add() failed");
    CHECK(write(fds[1], "y", 1) == 1);
    printf("event_set() put the new event on %s, not on base #1\n",
           which(event_get_base(&ev2), one, two));
    int rv1 = event_base_loop(one, EVLOOP_NONBLOCK);
    printf("base #1's loop returned %d: it has no events; the new one is not on it\n", rv1);
    int rv2 = event_dispatch();
    printf("event_dispatch() now runs base #2: returned %d\n", rv2);
    // [/global]
    event_base_free(two);
    event_base_free(one);

    step("3. 2.x: the base is named in every call");
    // [modern]
    struct event_base *base = event_base_new(); /* no global is touched */
    if (!base)
        die("event_base_new() failed");
    struct event *ev = event_new(base, fds[0], EV_READ, on_read, "2.x event");
    if (!ev)
        die("event_new() failed");
    if (event_add(ev, NULL) < 0)
        die("event_add() failed");
    CHECK(write(fds[1], "z", 1) == 1);
    rv = event_base_dispatch(base);
    printf("event_base_dispatch(base) returned %d\n", rv);
    event_free(ev); /* libevent allocated it: sizeof(struct event) stays its business */
    event_base_free(base);
    // [/modern]

    close(fds[0]);
    close(fds[1]);
    return 0;
}
