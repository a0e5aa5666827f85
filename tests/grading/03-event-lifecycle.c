/* Grading for exercise 03 (event-lifecycle): lifecycle.so, function level.
 *
 * The suite creates real events in every state (zeroed, initialized, added
 * with and without a timeout, deleted, inside its own callback) and asks the
 * student's event_state(); the expected text is worked out here from the
 * state the suite put the event in. The ticker is run on a real base and
 * checked with libevent's own event_pending() and the suite's clock.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "gb_dl.h"

typedef const char *(*state_fn)(const struct event *, char *, size_t);
struct ticker;
typedef struct ticker *(*start_fn)(struct event_base *, int, int);
typedef int (*ticks_fn)(const struct ticker *);
typedef struct event *(*tev_fn)(struct ticker *);
typedef void (*tfree_fn)(struct ticker *);

static void expect_state(state_fn f, const struct event *ev, const char *want,
                         const char *situation)
{
    char buf[128];
    memset(buf, 0, sizeof buf);
    const char *got = f(ev, buf, sizeof buf);
    cr_assert(got && strcmp(got, want) == 0, "%s: event_state() gave \"%s\", expected \"%s\"",
              situation, got ? got : "(NULL)", want);
}

static void noop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

GRADED(event_lifecycle, state_outside_the_loop, 3, 10.0,
       "event_state: not initialized, not pending, pending on ...")
{
    state_fn f = gb_sym(gb_load("lifecycle.so"), "event_state");
    struct event *zeroed = calloc(1, event_get_struct_event_size());
    expect_state(f, zeroed, "not initialized", "a zeroed struct event (calloc, never assigned)");
    free(zeroed);

    struct event_base *base = event_base_new();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct event *ev = event_new(base, sv[0], EV_READ, noop, NULL);
    expect_state(f, ev, "not pending", "right after event_new()");
    event_add(ev, NULL);
    expect_state(f, ev, "pending on READ", "after event_add(ev, NULL) of an EV_READ event");
    struct timeval tv = {5, 0};
    event_add(ev, &tv);
    expect_state(f, ev, "pending on TIMEOUT|READ",
                 "after event_add() with a timeout (names lowest bit first)");
    event_del(ev);
    expect_state(f, ev, "not pending", "after event_del()");
    event_free(ev);

    ev = event_new(base, sv[0], EV_READ | EV_WRITE | EV_PERSIST, noop, NULL);
    event_add(ev, NULL);
    expect_state(f, ev, "pending on READ|WRITE",
                 "an added EV_READ|EV_WRITE|EV_PERSIST event (PERSIST is not "
                 "something an event is pending on)");
    event_free(ev);

    ev = evtimer_new(base, noop, NULL);
    event_add(ev, &tv);
    expect_state(f, ev, "pending on TIMEOUT", "an added timer (evtimer_new)");
    event_free(ev);

    ev = evsignal_new(base, SIGUSR2, noop, NULL);
    event_add(ev, NULL);
    expect_state(f, ev, "pending on SIGNAL", "an added signal event (evsignal_new)");
    event_free(ev);

    char small[8];
    memset(small, '#', sizeof small);
    ev = evtimer_new(base, noop, NULL);
    f(ev, small, 5);
    cr_assert(small[4] == '\0' && small[5] == '#',
              "event_state(ev, buf, 5) must write at most 5 bytes, the "
              "last one a NUL (got \"%.5s\")",
              small);
    event_free(ev);
    close(sv[0]);
    close(sv[1]);
    event_base_free(base);
}

struct inside {
    state_fn f;
    struct event *ev;
    char seen[128];
};

static void look_inside(evutil_socket_t fd, short what, void *arg)
{
    struct inside *in = arg;
    (void)fd;
    (void)what;
    in->f(in->ev, in->seen, sizeof in->seen);
}

GRADED(event_lifecycle, state_inside_the_callback, 2, 10.0,
       "event_state: one-shot vs persistent, in its own callback")
{
    state_fn f = gb_sym(gb_load("lifecycle.so"), "event_state");
    struct event_base *base = event_base_new();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    struct inside in = {.f = f};
    in.ev = event_new(base, sv[0], EV_READ, look_inside, &in);
    event_add(in.ev, NULL);
    event_base_loop(base, EVLOOP_ONCE);
    cr_assert(strcmp(in.seen, "not pending") == 0,
              "inside the callback of a one-shot EV_READ event, "
              "event_state() gave \"%s\", expected \"not pending\" (libevent deletes a "
              "non-persistent event "
              "before it runs the callback)",
              in.seen);
    event_free(in.ev);
    in.seen[0] = '\0';
    in.ev = event_new(base, sv[0], EV_READ | EV_PERSIST, look_inside, &in);
    event_add(in.ev, NULL);
    event_base_loop(base, EVLOOP_ONCE);
    cr_assert(strcmp(in.seen, "pending on READ") == 0,
              "inside the callback of an EV_READ|EV_PERSIST event, "
              "event_state() gave \"%s\", expected \"pending on READ\" (a persistent event stays "
              "pending)",
              in.seen);
    event_free(in.ev);
    close(sv[0]);
    close(sv[1]);
    event_base_free(base);
}

struct tk {
    start_fn start;
    ticks_fn ticks;
    tev_fn event;
    tfree_fn free;
};

static struct tk load_ticker(void)
{
    void *lib = gb_load("lifecycle.so");
    struct tk t = {gb_sym(lib, "ticker_start"), gb_sym(lib, "ticker_ticks"),
                   gb_sym(lib, "ticker_event"), gb_sym(lib, "ticker_free")};
    return t;
}

static void expect_timer_pending(struct tk *k, struct ticker *t, const char *when)
{
    struct event *ev = k->event(t);
    cr_assert_not_null(
        ev, "%s: ticker_event() returned NULL: ticker_start() must create the timer event", when);
    cr_assert(event_pending(ev, EV_TIMEOUT, NULL),
              "%s: the ticker's event is not pending on a timeout: "
              "event_add() it with the interval",
              when);
}

GRADED(event_lifecycle, ticker_counts_then_stops, 3, 10.0,
       "ticker: N ticks of a persistent timer, then not pending")
{
    struct tk k = load_ticker();
    struct event_base *base = event_base_new();
    struct ticker *t = k.start(base, 30, 5);
    cr_assert_not_null(t, "ticker_start(base, 30, 5) returned NULL");
    expect_timer_pending(&k, t, "right after ticker_start(base, 30, 5)");
    double t0 = evt_now();
    int rc = event_base_dispatch(base);
    double took = evt_now() - t0;
    cr_assert_eq(k.ticks(t), 5,
                 "ticker_start(base, 30, 5) and event_base_dispatch(): %d ticks, expected 5%s",
                 k.ticks(t), k.ticks(t) == 1 ? " (a timer without EV_PERSIST fires once)" : "");
    cr_assert_eq(
        rc, 1,
        "event_base_dispatch() returned %d, expected 1: after the 5th tick no event may be "
        "left (event_del() the timer in the callback)",
        rc);
    cr_assert(took >= 0.14 && took < 3, "5 ticks 30 ms apart took %.0f ms", took * 1000);
    cr_assert_eq(event_pending(k.event(t), EV_TIMEOUT, NULL), 0,
                 "after the last tick the event must not be pending");
    k.free(t);
    event_base_free(base);
}

GRADED(event_lifecycle, ticker_free_while_pending, 2, 10.0,
       "ticker_free on a pending timer: it is gone from the base")
{
    struct tk k = load_ticker();
    struct event_base *base = event_base_new();
    struct ticker *t = k.start(base, 10, 1000);
    cr_assert_not_null(t, "ticker_start(base, 10, 1000) returned NULL");
    event_base_loop(base, EVLOOP_ONCE);
    event_base_loop(base, EVLOOP_ONCE);
    cr_assert_eq(k.ticks(t), 2,
                 "two rounds of EVLOOP_ONCE with a 10 ms ticker: %d ticks, expected 2", k.ticks(t));
    expect_timer_pending(&k, t, "between ticks");
    k.free(t);
    double t0 = evt_now();
    int rc = event_base_loop(base, EVLOOP_NONBLOCK);
    cr_assert_eq(rc, 1,
                 "after ticker_free() of a pending ticker the base must have no event left "
                 "(event_base_loop returned %d): event_free() the event, which also deletes it",
                 rc);
    cr_assert(evt_now() - t0 < 1.0);
    event_base_free(base);
}

GRADED(event_lifecycle, ticker_leaves_nothing, 2, 20.0,
       "ticker_start/ticker_free: no memory left behind")
{
    struct tk k = load_ticker();
    struct event_base *base = event_base_new();
    k.free(k.start(base, 1000, 3));
    size_t before = gb_heap_in_use();
    for (int i = 0; i < 3000; i++) {
        struct ticker *t = k.start(base, 1000, 3);
        cr_assert_not_null(t, "ticker_start returned NULL (call %d)", i);
        expect_timer_pending(&k, t, "after ticker_start");
        k.free(t);
    }
    long grew = (long)gb_heap_in_use() - (long)before;
    cr_assert(grew < 64 * 1024,
              "3000 ticker_start/ticker_free pairs made the heap grow by %ld bytes: free the "
              "event and the struct",
              grew);
    event_base_free(base);
}
