/* Grading for exercise 04 (event-flags): flags.so, function level.
 *
 * The library runs in the suite's loader (gb_dl.h), never in the suite; so
 * do the base and the events observe() makes.
 * flags_to_string() and flags_from_string() are checked against a table
 * written here from libevent's own EV_* constants (not from the student's
 * code); observe() is checked against real sockets: the suite makes the
 * socket readable, writable, silent or closed and sees what the callback
 * received.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#define GB_EXERCISE "04-event-flags"
#include "gb_dl.h"

/* The functions of flags.h, as the loader (loader/04-event-flags.c) calls them. */
enum { TO_STRING = 1, FROM_STRING, OBSERVE, OBSERVE_READ_N };

static struct gb_lib *lib(void) { return gb_load("flags.so"); }

/* flags_to_string(flags, buf, len) on the n bytes of buf, as filled here. */
static int to_string(short flags, char *buf, size_t n, size_t len)
{
    struct gb_msg m = {.fn = TO_STRING, .a = {flags, (int64_t)len}, .in = buf, .inlen = n};
    char during[64];
    snprintf(during, sizeof during, "flags_to_string(0x%x, buf, %zu)", (unsigned short)flags, len);
    gb_do(lib(), &m, during);
    memcpy(buf, m.out, n);
    return (int)m.v[0];
}

static int from_string(const char *text)
{
    struct gb_msg m = {.fn = FROM_STRING, .in = text, .inlen = strlen(text) + 1};
    char during[80];
    snprintf(during, sizeof during, "flags_from_string(\"%.40s\")", text);
    gb_do(lib(), &m, during);
    return (int)m.v[0];
}

static const struct {
    short bit;
    const char *name;
} want_names[] = {
    {EV_TIMEOUT, "EV_TIMEOUT"},   {EV_READ, "EV_READ"},       {EV_WRITE, "EV_WRITE"},
    {EV_SIGNAL, "EV_SIGNAL"},     {EV_PERSIST, "EV_PERSIST"}, {EV_ET, "EV_ET"},
    {EV_FINALIZE, "EV_FINALIZE"}, {EV_CLOSED, "EV_CLOSED"},
};

/* What flags_to_string must produce, built independently here. */
static void expected(short flags, char *out, size_t len)
{
    unsigned rest = (unsigned short)flags;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof want_names / sizeof want_names[0]; i++) {
        if (rest & (unsigned)want_names[i].bit) {
            if (out[0])
                strcat(out, "|");
            strcat(out, want_names[i].name);
            rest &= ~(unsigned)want_names[i].bit;
        }
    }
    if (rest) {
        char hex[16];
        snprintf(hex, sizeof hex, "0x%x", rest);
        if (out[0])
            strcat(out, "|");
        strcat(out, hex);
    }
    if (!out[0])
        strcpy(out, "0");
    (void)len;
}

static void check_to_string(short flags, const char *why)
{
    char want[256], got[256];
    expected(flags, want, sizeof want);
    memset(got, 'X', sizeof got);
    got[sizeof got - 1] = '\0';
    int n = to_string(flags, got, sizeof got, sizeof got);
    cr_assert(strcmp(got, want) == 0, "flags_to_string(0x%x) wrote \"%.100s\", expected \"%s\"%s%s",
              (unsigned short)flags, got, want, why ? ": " : "", why ? why : "");
    cr_assert_eq(n, (int)strlen(want),
                 "flags_to_string(0x%x) returned %d, expected %zu (the length "
                 "of \"%s\", like snprintf)",
                 (unsigned short)flags, n, strlen(want), want);
}

GRADED(event_flags, t01_to_string_single_bits, 2, 10.0, "flags_to_string: each EV_* bit by name")
{
    for (size_t i = 0; i < sizeof want_names / sizeof want_names[0]; i++)
        check_to_string(want_names[i].bit,
                        "every one of the eight EV_* bits in <event2/event.h> has a name");
}

GRADED(event_flags, t02_to_string_combined, 2, 10.0,
       "flags_to_string: several bits, lowest first, joined by |")
{
    check_to_string(EV_READ | EV_PERSIST, "names go lowest bit first, joined by '|'");
    check_to_string(EV_TIMEOUT | EV_READ | EV_WRITE, "names go lowest bit first, joined by '|'");
    check_to_string(EV_WRITE | EV_ET | EV_PERSIST, NULL);
    check_to_string(EV_SIGNAL | EV_PERSIST, NULL);
}

GRADED(event_flags, t03_to_string_zero_and_unknown, 2, 10.0,
       "flags_to_string: 0, and bits with no name as one hex number")
{
    check_to_string(0, "no bits set is \"0\"");
    check_to_string(0x100, "a bit with no name is written as hex");
    check_to_string(0x0300, "all the unnamed bits together, as one hex number");
    check_to_string((short)(EV_READ | 0x4000), "named bits first, then the rest in hex");
    check_to_string((short)0x8012,
                    "flags is a short: 0x8000 is its sign bit, not a negative number to print");
}

GRADED(event_flags, t04_to_string_truncates_safely, 2, 10.0,
       "flags_to_string: never writes past len")
{
    char buf[32];
    const short fl = EV_READ | EV_WRITE | EV_PERSIST; /* "EV_READ|EV_WRITE|EV_PERSIST", 27 */
    for (size_t len = 1; len <= 12; len++) {
        memset(buf, '#', sizeof buf);
        int n = to_string(fl, buf, sizeof buf, len);
        cr_assert_eq(n, 27,
                     "flags_to_string(EV_READ|EV_WRITE|EV_PERSIST, buf, %zu) returned %d: it "
                     "must return the full length, 27, even when the text does not fit",
                     len, n);
        cr_assert_eq(buf[len - 1], '\0',
                     "with len=%zu the last byte, buf[%zu], must be the "
                     "terminating NUL",
                     len, len - 1);
        cr_assert(strncmp(buf, "EV_READ|EV_WRITE|EV_PERSIST", len - 1) == 0,
                  "with len=%zu the buffer must hold the first %zu characters; got \"%.*s\"", len,
                  len - 1, (int)(len - 1), buf);
        for (size_t k = len; k < sizeof buf; k++)
            cr_assert_eq(buf[k], '#',
                         "with len=%zu, flags_to_string wrote buf[%zu], past the end "
                         "of the buffer it was given",
                         len, k);
    }
    memset(buf, '#', sizeof buf);
    int n = to_string(fl, buf, sizeof buf, 0);
    cr_assert_eq(n, 27, "with len=0 nothing is written but the length is still returned");
    cr_assert_eq(buf[0], '#', "with len=0, flags_to_string must not write at all");
}

GRADED(event_flags, t05_from_string_roundtrip, 2, 10.0,
       "flags_from_string(flags_to_string(x)) == x for all 256 values")
{
    char text[256];
    for (int x = 0; x < 256; x++) {
        memset(text, 0, sizeof text);
        to_string((short)x, text, sizeof text, sizeof text);
        text[sizeof text - 1] = '\0';
        int back = from_string(text);
        cr_assert_eq(back, x, "flags_from_string(\"%s\") returned %d (0x%x), expected %d (0x%x)",
                     text, back, (unsigned)back, x, (unsigned)x);
    }
    cr_assert_eq(from_string(" EV_READ | EV_PERSIST "), EV_READ | EV_PERSIST,
                 "spaces around the names are allowed: \" EV_READ | EV_PERSIST \" is 0x12");
    cr_assert_eq(from_string("EV_PERSIST|EV_READ"), EV_READ | EV_PERSIST,
                 "the order of the names does not matter");
}

GRADED(event_flags, t06_from_string_rejects_bad_text, 2, 10.0,
       "flags_from_string: -1 for anything that is not flags")
{
    int ok = from_string("EV_READ|EV_PERSIST");
    cr_assert_eq(ok, EV_READ | EV_PERSIST,
                 "flags_from_string(\"EV_READ|EV_PERSIST\") must be 0x12 (it returned %d)", ok);
    static const char *bad[] = {
        "",     "EV_READIEV_PERSIST", "EV_READ||EV_WRITE", "EV_READ|", "|EV_READ",  "EV_read",
        "READ", "EV_READ EV_WRITE",   "EV_READX",          "EV_REA",   "0|EV_READ", "1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = from_string(bad[i]);
        cr_assert_eq(r, -1,
                     "flags_from_string(\"%s\") returned %d; expected -1 (not a valid list of "
                     "EV_* names)%s",
                     bad[i], r,
                     strcmp(bad[i], "EV_READIEV_PERSIST") == 0
                         ? ": this is seed 000's OCR error for EV_READ|EV_PERSIST"
                         : "");
    }
}

/* ---- observe(): real sockets --------------------------------------------- */

/* A base in the loader, and a socketpair whose first end the loader has too
 * (as fd sv[2] there): the suite writes to and shuts down sv[1]. */
struct rig {
    int64_t base;
    int sv[3];
};

static void rig_up(struct rig *r)
{
    r->base = gb_base_new(lib());
    cr_assert(r->base, "event_base_new() failed in the loader");
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, r->sv), 0, "socketpair: %s", strerror(errno));
    evutil_make_socket_nonblocking(r->sv[0]);
    r->sv[2] = gb_send_fd(lib(), r->sv[0]);
}

static void rig_down(struct rig *r)
{
    close(r->sv[0]);
    close(r->sv[1]);
    gb_base_free(lib(), r->base);
}

/* observe(base, fd, events, timeout_ms) in the loader; fd -1 stays -1. */
static int r_observe(struct rig *r, int fd, short events, int timeout_ms)
{
    struct gb_msg m = {.fn = OBSERVE,
                       .a = {r->base, fd == r->sv[0] ? r->sv[2] : fd, events, timeout_ms}};
    gb_do(lib(), &m, "observe()");
    return (int)m.v[0];
}

static void check_what(int got, int want, const char *situation)
{
    char g[128], w[128];
    expected((short)got, g, sizeof g);
    expected((short)want, w, sizeof w);
    cr_assert_eq(got, want, "%s: observe() returned %d (%s), expected %s", situation, got, g, w);
}

GRADED(event_flags, t07_observe_read_and_write, 3, 10.0,
       "observe: EV_READ and EV_WRITE as the callback sees them")
{
    struct rig r;
    rig_up(&r);
    check_what(r_observe(&r, r.sv[0], EV_WRITE, 2000), EV_WRITE,
               "asked for EV_WRITE on an empty socket (always writable)");
    cr_assert_eq(write(r.sv[1], "x", 1), 1);
    check_what(r_observe(&r, r.sv[0], EV_READ, 2000), EV_READ,
               "asked for EV_READ on a socket with one unread byte");
    check_what(r_observe(&r, r.sv[0], EV_READ | EV_WRITE, 2000), EV_READ | EV_WRITE,
               "asked for EV_READ|EV_WRITE on a socket that is readable and writable: one callback "
               "gets both bits");
    char c;
    cr_assert_eq(read(r.sv[0], &c, 1), 1);
    check_what(r_observe(&r, r.sv[0], EV_READ | EV_WRITE, 2000), EV_WRITE,
               "asked for EV_READ|EV_WRITE once the byte was read: only writable now");
    rig_down(&r);
}

GRADED(event_flags, t08_observe_timeout, 3, 10.0,
       "observe: EV_TIMEOUT comes back as a result after timeout_ms")
{
    struct rig r;
    rig_up(&r);
    double t0 = evt_now();
    int got = r_observe(&r, r.sv[0], EV_READ, 150);
    double took = evt_now() - t0;
    check_what(got, EV_TIMEOUT,
               "asked for EV_READ with a 150 ms timeout on a socket where nothing arrives");
    cr_assert(took >= 0.12 && took < 3.0,
              "the timeout was 150 ms but observe() returned after %.0f ms: "
              "pass timeout_ms to event_add() as a struct timeval (seconds and microseconds)",
              took * 1000);
    t0 = evt_now();
    got = r_observe(&r, -1, 0, 1200);
    took = evt_now() - t0;
    check_what(got, EV_TIMEOUT, "a pure timer (fd -1, events 0) with a 1200 ms timeout");
    cr_assert(took >= 1.1 && took < 4.0,
              "the timeout was 1200 ms (1 s and 200000 us) but observe() "
              "returned after %.0f ms",
              took * 1000);
    rig_down(&r);
}

GRADED(event_flags, t09_observe_persist_is_not_a_result, 2, 10.0,
       "observe: EV_PERSIST events return after one round")
{
    struct rig r;
    rig_up(&r);
    cr_assert_eq(write(r.sv[1], "x", 1), 1);
    check_what(
        r_observe(&r, r.sv[0], EV_READ | EV_PERSIST, 2000), EV_READ,
        "asked for EV_READ|EV_PERSIST on a readable socket (EV_PERSIST is a request, never a "
        "result; "
        "and a persistent event stays pending, so run the loop with EVLOOP_ONCE, not dispatch)");
    cr_assert_eq(
        gb_num_events(lib(), r.base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE), 0,
        "after observe() returned, the base still has an event added or active: event_free() "
        "the event before returning (it deletes a pending event too)");
    rig_down(&r);
}

GRADED(event_flags, t10_observe_closed, 2, 10.0,
       "observe: a peer's shutdown as EV_READ, and as EV_CLOSED where the backend can")
{
    struct rig r;
    rig_up(&r);
    shutdown(r.sv[1], SHUT_WR);
    check_what(r_observe(&r, r.sv[0], EV_READ, 2000), EV_READ,
               "asked for EV_READ after the peer called shutdown(SHUT_WR): end of file is readable "
               "(read() returns 0)");
    /* select cannot tell a close from data: libevent offers EV_CLOSED only on
     * backends with EV_FEATURE_EARLY_CLOSE (epoll, poll). */
    if (gb_features(lib(), r.base) & EV_FEATURE_EARLY_CLOSE)
        check_what(r_observe(&r, r.sv[0], EV_CLOSED, 2000), EV_CLOSED,
                   "asked for EV_CLOSED after the peer called shutdown(SHUT_WR)");
    rig_down(&r);
}

GRADED(event_flags, t11_observe_frees_its_event, 3, 20.0,
       "observe: no memory or events left behind")
{
    struct rig r;
    rig_up(&r);
    cr_assert_eq(write(r.sv[1], "x", 1), 1);
    r_observe(&r, r.sv[0], EV_READ, 1000); /* warm up libevent's own allocations */
    size_t before = gb_heap(lib());
    /* 3000 calls in the loader; it stops at the first that does not return EV_READ. */
    struct gb_msg m = {.fn = OBSERVE_READ_N, .a = {r.base, r.sv[2], 1000, 3000}, .limit = 18};
    gb_do(lib(), &m, "3000 calls of observe()");
    if (m.v[0] < 3000)
        check_what((int)m.v[1], EV_READ, "asked for EV_READ on a readable socket, again and again");
    size_t after = gb_heap(lib());
    long grew = (long)after - (long)before;
    cr_assert(grew < 64 * 1024,
              "after 3000 calls of observe() the heap grew by %ld bytes (%ld per call): "
              "event_free() the event that observe() created",
              grew, grew / 3000);
    rig_down(&r);
}
