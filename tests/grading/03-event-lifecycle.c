/* Grading for exercise 03 (event-lifecycle): lifecycle.so, function level.
 *
 * The library runs in the suite's loader (gb_dl.h), never in the suite; so
 * do the events it is asked about. The suite has the loader create real
 * events in every state (zeroed, initialized, added with and without a
 * timeout, deleted, inside its own callback) and asks the student's
 * event_state(); the expected text is worked out here from the state the
 * suite put the event in. The ticker is run on a real base and checked with
 * libevent's own event_pending() and the suite's clock.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#define GB_EXERCISE "03-event-lifecycle"
#include "gb_dl.h"

/* The functions of lifecycle.h, as the loader (loader/03-event-lifecycle.c) calls them. */
enum { STATE = 1, STATE_RAW, LOOK_NEW, LOOK_SEEN, LOOK_FREE, START, TICKS, EVENT, FREE, CYCLE };

static struct gb_lib *lib(void) { return gb_load("lifecycle.so"); }

static int64_t call(int fn, int64_t a0, int64_t a1, int64_t a2, const char *during)
{
    struct gb_msg m = {.fn = fn, .a = {a0, a1, a2}};
    gb_do(lib(), &m, during);
    return m.v[0];
}

static void expect_state(int64_t ev, const char *want, const char *situation)
{
    char buf[128];
    memset(buf, 0, sizeof buf);
    struct gb_msg m = {.fn = STATE, .a = {ev, sizeof buf}, .in = buf, .inlen = sizeof buf};
    gb_do(lib(), &m, "event_state()");
    const char *got = m.v[0] ? m.out : NULL;
    cr_assert(got && strcmp(got, want) == 0, "%s: event_state() gave \"%s\", expected \"%s\"",
              situation, got ? got : "(NULL)", want);
}

/* A socketpair whose first end is also in the loader: sv[2] is its number there. */
static void pair(int sv[3])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    sv[2] = gb_send_fd(lib(), sv[0]);
}

GRADED(event_lifecycle, t01_state_outside_the_loop, 3, 10.0,
       "event_state: not initialized, not pending, pending on ...")
{
    struct gb_lib *l = lib();
    int64_t zeroed = gb_event_zeroed(l);
    expect_state(zeroed, "not initialized", "a zeroed struct event (calloc, never assigned)");
    gb_free(l, zeroed);

    int64_t base = gb_base_new(l);
    int sv[3];
    pair(sv);
    int64_t ev = gb_event_new(l, base, sv[2], EV_READ);
    expect_state(ev, "not pending", "right after event_new()");
    gb_event_add(l, ev, -1);
    expect_state(ev, "pending on READ", "after event_add(ev, NULL) of an EV_READ event");
    gb_event_add(l, ev, 5000);
    expect_state(ev, "pending on TIMEOUT|READ",
                 "after event_add() with a timeout (names lowest bit first)");
    gb_event_del(l, ev);
    expect_state(ev, "not pending", "after event_del()");
    gb_event_free(l, ev);

    ev = gb_event_new(l, base, sv[2], EV_READ | EV_WRITE | EV_PERSIST);
    gb_event_add(l, ev, -1);
    expect_state(ev, "pending on READ|WRITE",
                 "an added EV_READ|EV_WRITE|EV_PERSIST event (PERSIST is not "
                 "something an event is pending on)");
    gb_event_free(l, ev);

    ev = gb_event_new(l, base, -1, 0); /* evtimer_new */
    gb_event_add(l, ev, 5000);
    expect_state(ev, "pending on TIMEOUT", "an added timer (evtimer_new)");
    gb_event_free(l, ev);

    ev = gb_event_new(l, base, SIGUSR2, EV_SIGNAL | EV_PERSIST); /* evsignal_new */
    gb_event_add(l, ev, -1);
    expect_state(ev, "pending on SIGNAL", "an added signal event (evsignal_new)");
    gb_event_free(l, ev);

    char small[8];
    memset(small, '#', sizeof small);
    ev = gb_event_new(l, base, -1, 0);
    struct gb_msg m = {.fn = STATE_RAW, .a = {ev, 5}, .in = small, .inlen = sizeof small};
    gb_do(l, &m, "event_state(ev, buf, 5)");
    memcpy(small, m.out, sizeof small);
    cr_assert(small[4] == '\0' && small[5] == '#',
              "event_state(ev, buf, 5) must write at most 5 bytes, the "
              "last one a NUL (got \"%.5s\")",
              small);
    gb_event_free(l, ev);
    close(sv[0]);
    close(sv[1]);
    gb_base_free(l, base);
}

/* An event whose callback calls event_state() on itself, in the loader. */
static void seen_inside(int64_t base, int fd, short events, char *seen, size_t len)
{
    struct gb_lib *l = lib();
    int64_t in = call(LOOK_NEW, base, fd, events, "event_new() of an event calling event_state()");
    gb_loop(l, base, EVLOOP_ONCE);
    struct gb_msg m = {.fn = LOOK_SEEN, .a = {in}};
    gb_do(l, &m, "reading what event_state() gave in the callback");
    size_t n = m.outlen < len - 1 ? m.outlen : len - 1;
    memcpy(seen, m.out, n);
    seen[n] = '\0';
    call(LOOK_FREE, in, 0, 0, "event_free()");
}

GRADED(event_lifecycle, t02_state_inside_the_callback, 2, 10.0,
       "event_state: one-shot vs persistent, in its own callback")
{
    int64_t base = gb_base_new(lib());
    int sv[3];
    pair(sv);
    cr_assert_eq(write(sv[1], "x", 1), 1);
    char seen[128];
    seen_inside(base, sv[2], EV_READ, seen, sizeof seen);
    cr_assert(strcmp(seen, "not pending") == 0,
              "inside the callback of a one-shot EV_READ event, "
              "event_state() gave \"%s\", expected \"not pending\" (libevent deletes a "
              "non-persistent event "
              "before it runs the callback)",
              seen);
    seen_inside(base, sv[2], EV_READ | EV_PERSIST, seen, sizeof seen);
    cr_assert(strcmp(seen, "pending on READ") == 0,
              "inside the callback of an EV_READ|EV_PERSIST event, "
              "event_state() gave \"%s\", expected \"pending on READ\" (a persistent event stays "
              "pending)",
              seen);
    close(sv[0]);
    close(sv[1]);
    gb_base_free(lib(), base);
}

static int ticks(int64_t t) { return (int)call(TICKS, t, 0, 0, "ticker_ticks()"); }

static void expect_timer_pending(int64_t t, const char *when)
{
    int64_t ev = call(EVENT, t, 0, 0, "ticker_event()");
    cr_assert(ev, "%s: ticker_event() returned NULL: ticker_start() must create the timer event",
              when);
    cr_assert(gb_pending(lib(), ev, EV_TIMEOUT),
              "%s: the ticker's event is not pending on a timeout: "
              "event_add() it with the interval",
              when);
}

GRADED(event_lifecycle, t03_ticker_counts_then_stops, 3, 10.0,
       "ticker: N ticks of a persistent timer, then not pending")
{
    struct gb_lib *l = lib();
    int64_t base = gb_base_new(l);
    /* The clock starts before ticker_start(): its event_add() starts the
     * interval, and the check below may take a while on a loaded machine. */
    double t0 = evt_now();
    int64_t t = call(START, base, 30, 5, "ticker_start(base, 30, 5)");
    cr_assert(t, "ticker_start(base, 30, 5) returned NULL");
    expect_timer_pending(t, "right after ticker_start(base, 30, 5)");
    int rc = (int)gb_dispatch(l, base);
    double took = evt_now() - t0;
    int n = ticks(t);
    cr_assert_eq(n, 5,
                 "ticker_start(base, 30, 5) and event_base_dispatch(): %d ticks, expected 5%s", n,
                 n == 1 ? " (a timer without EV_PERSIST fires once)" : "");
    cr_assert_eq(
        rc, 1,
        "event_base_dispatch() returned %d, expected 1: after the 5th tick no event may be "
        "left (event_del() the timer in the callback)",
        rc);
    cr_assert(took >= 0.14 && took < 3, "5 ticks 30 ms apart took %.0f ms", took * 1000);
    cr_assert_eq(gb_pending(l, call(EVENT, t, 0, 0, "ticker_event()"), EV_TIMEOUT), 0,
                 "after the last tick the event must not be pending");
    call(FREE, t, 0, 0, "ticker_free()");
    gb_base_free(l, base);
}

GRADED(event_lifecycle, t04_ticker_free_while_pending, 2, 10.0,
       "ticker_free on a pending timer: it is gone from the base")
{
    struct gb_lib *l = lib();
    int64_t base = gb_base_new(l);
    int64_t t = call(START, base, 10, 1000, "ticker_start(base, 10, 1000)");
    cr_assert(t, "ticker_start(base, 10, 1000) returned NULL");
    gb_loop(l, base, EVLOOP_ONCE);
    gb_loop(l, base, EVLOOP_ONCE);
    cr_assert_eq(ticks(t), 2, "two rounds of EVLOOP_ONCE with a 10 ms ticker: %d ticks, expected 2",
                 ticks(t));
    expect_timer_pending(t, "between ticks");
    call(FREE, t, 0, 0, "ticker_free()");
    double t0 = evt_now();
    int rc = (int)gb_loop(l, base, EVLOOP_NONBLOCK);
    cr_assert_eq(rc, 1,
                 "after ticker_free() of a pending ticker the base must have no event left "
                 "(event_base_loop returned %d): event_free() the event, which also deletes it",
                 rc);
    cr_assert(evt_now() - t0 < 1.0);
    gb_base_free(l, base);
}

GRADED(event_lifecycle, t05_ticker_leaves_nothing, 2, 20.0,
       "ticker_start/ticker_free: no memory left behind")
{
    struct gb_lib *l = lib();
    int64_t base = gb_base_new(l);
    call(FREE, call(START, base, 1000, 3, "ticker_start()"), 0, 0, "ticker_free()");
    size_t before = gb_heap(l);
    /* 3000 times ticker_start, ticker_event, event_pending and ticker_free, in the loader. */
    struct gb_msg m = {.fn = CYCLE, .a = {base, 1000, 3, 3000}, .limit = 18};
    gb_do(l, &m, "3000 ticker_start/ticker_free pairs");
    static const char *why[] = {"", "ticker_start returned NULL",
                                "ticker_event() returned NULL: ticker_start() must create the "
                                "timer event",
                                "the ticker's event is not pending on a timeout: event_add() it "
                                "with the interval"};
    cr_assert(m.v[0] == 3000, "call %d after ticker_start: %s", (int)m.v[0],
              why[m.v[1] >= 1 && m.v[1] <= 3 ? m.v[1] : 0]);
    long grew = (long)gb_heap(l) - (long)before;
    cr_assert(grew < 64 * 1024,
              "3000 ticker_start/ticker_free pairs made the heap grow by %ld bytes: free the "
              "event and the struct",
              grew);
    gb_base_free(l, base);
}
