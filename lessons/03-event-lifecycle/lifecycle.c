/* lifecycle.c -- one event from creation to freeing, state by state.
 *
 * Teaches: an event is initialized (event_new/event_assign), pending once
 * added, active when its condition happens, and then its callback runs. A
 * persistent event is pending again after that; a one-shot one is not.
 * event_pending() reports the flags an event waits for, event_del() makes it
 * non-pending, event_add() again re-arms it (and restarts its timeout),
 * event_self_cbarg() passes the event to its own callback, and event_free()
 * is safe on a pending event and on an active one (its callback never runs).
 * event_base_dump_events() and event_base_get_num_events() show the base's
 * view (libevent's internal events included in one, not in the other; see
 * event_base_dump_events and event_base_get_num_events in libevent's event.c).
 *
 * Step mode: the timeout is armed again after the step-3 prompt, so the time
 * you spend reading never turns the event's EV_READ into an EV_TIMEOUT.
 *
 * Builds on: lesson 02 (a base on a chosen method).
 *
 * Build and run on its own:
 *   cc -Wall -o lifecycle lifecycle.c $(pkg-config --cflags --libs libevent)
 *   ./lifecycle
 *   ./lifecycle --no-persist
 *   ./lifecycle --method select --step
 *   ./lifecycle --timeout-s 1 --step     # wait at the prompts: nothing changes
 */
#include <getopt.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "../lesson.h"

static struct event_base *base;
static int peer; /* the other end of the socketpair: we write here */

/* What event_pending() says, for narration. */
static void show_pending(const char *when, struct event *ev)
{
    struct timeval tv;
    short p = event_pending(ev, EV_READ | EV_WRITE | EV_SIGNAL | EV_TIMEOUT, &tv);
    printf("  %s: event_pending -> %s", when, FLAGS(p));
    if (p & EV_TIMEOUT) {
        /* tv is an absolute wall-clock time; print it relative, in seconds. */
        struct timeval now;
        evutil_gettimeofday(&now, NULL);
        double left = (double)(tv.tv_sec - now.tv_sec) + (tv.tv_usec - now.tv_usec) / 1e6;
        printf(" (timeout in %.0f s)", left);
    }
    printf("%s\n", p ? "" : " (not pending)");
}

static void counts(struct event_base *b, const char *when)
{
    printf("  %s: event_base_get_num_events ADDED=%d ACTIVE=%d\n", when,
           event_base_get_num_events(b, EVENT_BASE_COUNT_ADDED),
           event_base_get_num_events(b, EVENT_BASE_COUNT_ACTIVE));
}

static void dump(void)
{
    printf("  --- event_base_dump_events ---\n");
    event_base_dump_events(base, stdout);
    printf("  --- end of dump ---\n");
}

/* A higher-priority one-shot watcher on the same fd: it runs first in the
 * loop turn in which the data arrives, so it can see our event while it is
 * active but its callback has not run yet. */
static void on_peek(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct event *ev = arg;
    printf("  [peek] got %s; our event %p is now ACTIVE, its callback not run yet\n", FLAGS(what),
           (void *)ev);
    counts(base, "[peek]");
    dump();
    printf("  [peek] ACTIVE counts it once more: ADDED counts every queue an event of\n"
           "  [peek] ours sits in (fd list, timeout heap, active queue), not events\n");
}

// [callback]
static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct event *self = arg; /* event_self_cbarg(): the event itself */
    char c;
    ssize_t n = read(fd, &c, 1);
    printf("  [callback] fd %d, what=%s, arg==event: %s, read %zd byte\n", (int)fd, FLAGS(what),
           self == event_get_callback_arg(self) ? "yes" : "no", n);
    show_pending("[callback] inside the callback", self);
}
// [/callback]

/* Priority 0 as well: frees the event passed to it, which is active at that
 * moment (its callback has not run yet). */
static void on_free_other(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct event *victim = arg;
    printf("  [other] our event %p is ACTIVE; event_free(it) from this callback\n", (void *)victim);
    counts(event_get_base(victim), "[other] before event_free");
    // [free_active]
    event_free(victim); /* removed from the active queue: its callback never runs */
    // [/free_active]
    counts(event_get_base(victim), "[other] after event_free");
}

static void send_byte(void)
{
    if (write(peer, "x", 1) != 1)
        die("write: %s", strerror(errno));
    printf("  the peer writes 1 byte\n");
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: lifecycle [--no-persist] [--timeout-s N] [--method NAME] [--step] [--help]\n"
            "  --no-persist   a one-shot event instead of EV_READ|EV_PERSIST\n"
            "  --timeout-s N  the event's timeout in seconds, 1 to 3600 (default 5)\n"
            "  --method NAME  use this backend (epoll, poll, select)\n"
            "  --step         pause before each step (also EVLAB_STEP=1)\n"
            "  --help         show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"no-persist", no_argument, NULL, 'n'},   {"timeout-s", required_argument, NULL, 't'},
        {"method", required_argument, NULL, 'm'}, {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    bool persist = true;
    const char *method = NULL;
    struct timeval timeout = {5, 0};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "nt:m:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': persist = false; break;
        case 't': timeout.tv_sec = lesson_num(optarg, 1, 3600, "--timeout-s"); break;
        case 'm': method = lesson_method(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lifecycle: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK_OK(evutil_make_socket_nonblocking(sv[0]));
    peer = sv[1];
    base = base_for_method(method);
    CHECK_OK(event_base_priority_init(base, 2)); /* 0 = peek, 1 = ours */
    printf("method: %s, event: %s\n", event_base_get_method(base),
           persist ? "EV_READ|EV_PERSIST" : "EV_READ (one-shot)");

    step("1. created and initialized");
    // [initialized]
    void *raw = calloc(1, event_get_struct_event_size());
    if (raw == NULL)
        die("calloc failed");
    printf("  zeroed memory:        event_initialized -> %d\n", event_initialized(raw));
    memset(raw, 0xff, event_get_struct_event_size());
    printf("  0xff garbage:         event_initialized -> %d (it tests one bit: not a validity "
           "check)\n",
           event_initialized(raw));
    free(raw);
    struct event *ev =
        event_new(base, sv[0], EV_READ | (persist ? EV_PERSIST : 0), on_read, event_self_cbarg());
    if (ev == NULL)
        die("event_new failed");
    printf("  event_new -> %p:  event_initialized -> %d\n", (void *)ev, event_initialized(ev));
    // [/initialized]
    printf("  event_self_cbarg(): callback arg is the event itself: %s\n",
           event_get_callback_arg(ev) == ev ? "yes" : "no");
    show_pending("after event_new", ev);

    step("2. pending: event_add with a %ld s timeout", (long)timeout.tv_sec);
    // [pending]
    if (event_add(ev, &timeout) < 0)
        die("event_add failed");
    show_pending("after event_add", ev);
    printf("  event_pending(ev, EV_WRITE) -> %s (only the flags you ask about)\n",
           FLAGS(event_pending(ev, EV_WRITE, NULL)));
    // [/pending]
    counts(base, "after event_add");
    printf("  (one event, counted twice: once in the fd list, once in the timeout heap)\n");

    step("3. active: data arrives, the loop turns once");
    /* event_add on a pending event moves its timeout to now + timeout: the
     * time spent at the prompt above does not count. */
    if (event_add(ev, &timeout) < 0)
        die("event_add failed");
    printf("  event_add again: the timeout restarts from now\n");
    struct event *peek = event_new(base, sv[0], EV_READ, on_peek, ev);
    if (peek == NULL)
        die("event_new failed");
    if (event_priority_set(peek, 0) < 0)
        die("event_priority_set failed");
    if (event_add(peek, NULL) < 0)
        die("event_add failed");
    send_byte();
    int rc = event_base_loop(base, EVLOOP_ONCE);
    printf("  event_base_loop(EVLOOP_ONCE) -> %d\n", rc);
    event_free(peek);

    printf("  after the callback:\n");
    show_pending("after the loop", ev);
    printf("  %s\n", persist ? "EV_PERSIST: pending again, the timeout restarted"
                             : "one-shot: non-pending; add it again to hear more");

    step("4. event_del, then add again");
    // [del]
    printf("  event_del -> %d\n", event_del(ev));
    show_pending("after event_del", ev);
    printf("  event_del again -> %d (deleting a non-pending event is harmless)\n", event_del(ev));
    if (event_add(ev, NULL) < 0) /* NULL: no timeout this time */
        die("event_add failed");
    show_pending("after event_add(ev, NULL)", ev);
    // [/del]
    send_byte();
    printf("  event_base_loop(EVLOOP_ONCE) -> %d\n", event_base_loop(base, EVLOOP_ONCE));
    show_pending("after the loop", ev);
    if (event_pending(ev, EV_TIMEOUT, NULL))
        printf("  the timeout of step 2 is back: a persistent event keeps its timeout\n"
               "  across event_del, and event_add(ev, NULL) does not clear it\n");

    step("5. what the base holds: our event plus a SIGUSR1 event");
    if (event_add(ev, NULL) < 0) /* pending again, whatever step 4 left */
        die("event_add failed");
    struct event *sig = evsignal_new(base, SIGUSR1, on_read, event_self_cbarg());
    if (sig == NULL)
        die("evsignal_new failed");
    if (event_add(sig, NULL) < 0)
        die("event_add failed");
    printf("  our events: %p (read) and %p (signal)\n", (void *)ev, (void *)sig);
    dump();
    counts(base, "two events of ours");
    printf("  the dump also lists libevent's own signal socket (\"Internal\");\n"
           "  event_base_get_num_events never counts internal events\n");

    step("6. event_free of an active event");
    /* A base and a socketpair of its own, so that our first event (and its
     * timeout) play no part here. */
    struct event_base *b2 = base_for_method(method);
    CHECK_OK(event_base_priority_init(b2, 2));
    int sp[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
    struct event *doomed = event_new(b2, sp[0], EV_READ, on_read, event_self_cbarg());
    struct event *other = event_new(b2, sp[0], EV_READ, on_free_other, doomed);
    CHECK(doomed && other);
    if (event_priority_set(other, 0) < 0) /* runs first; doomed has priority 1 */
        die("event_priority_set failed");
    if (event_add(doomed, NULL) < 0)
        die("event_add failed");
    if (event_add(other, NULL) < 0)
        die("event_add failed");
    printf("  a new base with a read event %p (priority 1) and a one-shot\n"
           "  watcher of the same fd at priority 0 that frees it\n",
           (void *)doomed);
    CHECK(write(sp[1], "x", 1) == 1);
    printf("  event_base_loop(EVLOOP_ONCE) -> %d\n", event_base_loop(b2, EVLOOP_ONCE));
    printf("  and no line from the freed event's callback: it never ran\n");
    event_free(other);
    event_base_free(b2);
    close(sp[0]);
    close(sp[1]);

    step("7. event_free of a pending event");
    // [free]
    event_free(ev); /* deletes it first: no need to event_del */
    // [/free]
    counts(base, "after event_free(ev)");
    event_free(sig);
    counts(base, "after event_free(sig)");
    dump();
    /* The internal event is still inserted, yet the loop sees no events:
     * it uses the same count, so libevent's own events never keep it alive. */
    printf("  event_base_dispatch -> %d (1: no events of ours left)\n", event_base_dispatch(base));

    event_base_free(base);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
