/* 03-event-lifecycle.c -- the loader of exercise 03's grading suite: runs
 * the student's lifecycle.so in a process of its own (gb_loader.h says why
 * and how), and calls event_state() and the ticker functions for the suite.
 *
 * Built by the Makefile as a need of the suite (exercises/03-event-lifecycle/
 * exercise.mk); the types come from the exercise's contract header.
 *   cc -Wall -o 03-event-lifecycle 03-event-lifecycle.c $(pkg-config --cflags --libs libevent)
 */
#include "gb_loader.h"

#include "../../../exercises/03-event-lifecycle/lifecycle.h"

/* GB_CALL fn values; the suite (tests/grading/03-event-lifecycle.c) has the same. */
enum { STATE = 1, STATE_RAW, LOOK_NEW, LOOK_SEEN, LOOK_FREE, START, TICKS, EVENT, FREE, CYCLE };

/* An event whose callback asks event_state() about itself (LOOK_*). */
struct inside {
    __typeof__(event_state) *f;
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

static void gb_exercise(const struct gb_req *q, const char *in, struct gb_rep *r, char *out)
{
    const int64_t *a = q->a;
    switch (q->fn) {
    case STATE:       /* a0 event, a1 len -> v0 1 unless NULL; output: the text returned */
    case STATE_RAW: { /* a0 event, a1 len; input: the buffer -> output: the buffer after */
        __typeof__(event_state) *f = gb_sym("event_state", r, out);
        if (!f)
            return;
        char buf[GB_MAX];
        memcpy(buf, in, q->len);
        const char *s = f(GB_PTR(a[0]), buf, (size_t)a[1]);
        r->v[0] = s != NULL;
        if (q->fn == STATE_RAW) {
            memcpy(out, buf, q->len);
            r->len = q->len;
        } else if (s) {
            r->len = (uint32_t)strnlen(s, GB_MAX - 1);
            memcpy(out, s, r->len);
        }
        return;
    }
    case LOOK_NEW: { /* a0 base, a1 fd, a2 events -> v0 the struct inside */
        struct inside *x = calloc(1, sizeof *x);
        if (!x || !(x->f = gb_sym("event_state", r, out)))
            return free(x);
        x->ev = event_new(GB_PTR(a[0]), (evutil_socket_t)a[1], (short)a[2], look_inside, x);
        event_add(x->ev, NULL);
        r->v[0] = GB_NUM(x);
        return;
    }
    case LOOK_SEEN: { /* a0 the struct inside -> output: what the callback saw */
        struct inside *x = GB_PTR(a[0]);
        r->len = (uint32_t)strnlen(x->seen, sizeof x->seen - 1);
        memcpy(out, x->seen, r->len);
        return;
    }
    case LOOK_FREE: {
        struct inside *x = GB_PTR(a[0]);
        event_free(x->ev);
        free(x);
        return;
    }
    case START: { /* a0 base, a1 interval_ms, a2 max_ticks -> v0 ticker */
        __typeof__(ticker_start) *f = gb_sym("ticker_start", r, out);
        if (f)
            r->v[0] = GB_NUM(f(GB_PTR(a[0]), (int)a[1], (int)a[2]));
        return;
    }
    case TICKS: {
        __typeof__(ticker_ticks) *f = gb_sym("ticker_ticks", r, out);
        if (f)
            r->v[0] = f(GB_PTR(a[0]));
        return;
    }
    case EVENT: {
        __typeof__(ticker_event) *f = gb_sym("ticker_event", r, out);
        if (f)
            r->v[0] = GB_NUM(f(GB_PTR(a[0])));
        return;
    }
    case FREE: {
        __typeof__(ticker_free) *f = gb_sym("ticker_free", r, out);
        if (f)
            f(GB_PTR(a[0]));
        return;
    }
    case CYCLE: { /* a0 base, a1 interval_ms, a2 max_ticks, a3 n: start, check, free, n times;
                     -> v0 calls done (n: all well), v1 why the next one failed */
        __typeof__(ticker_start) *start = gb_sym("ticker_start", r, out);
        __typeof__(ticker_event) *event = start ? gb_sym("ticker_event", r, out) : NULL;
        __typeof__(ticker_free) *tfree = event ? gb_sym("ticker_free", r, out) : NULL;
        int64_t i = 0;
        for (; tfree && i < a[3]; i++) {
            struct ticker *t = start(GB_PTR(a[0]), (int)a[1], (int)a[2]);
            struct event *ev = t ? event(t) : NULL;
            r->v[1] = !t ? 1 : !ev ? 2 : !event_pending(ev, EV_TIMEOUT, NULL) ? 3 : 0;
            if (r->v[1])
                break;
            tfree(t);
        }
        r->v[0] = i;
        return;
    }
    }
    gb_fail(r, out, "unknown function %d", q->fn);
}
