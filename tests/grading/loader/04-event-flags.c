/* 04-event-flags.c -- the loader of exercise 04's grading suite: runs the
 * student's flags.so in a process of its own (gb_loader.h says why and how),
 * and calls its three functions for the suite.
 *
 * Built by the Makefile as a need of the suite (exercises/04-event-flags/
 * exercise.mk); the types come from the exercise's contract header.
 *   cc -Wall -o 04-event-flags 04-event-flags.c $(pkg-config --cflags --libs libevent)
 */
#include "gb_loader.h"

#include "../../../exercises/04-event-flags/flags.h"

/* GB_CALL fn values; the suite (tests/grading/04-event-flags.c) has the same. */
enum { TO_STRING = 1, FROM_STRING, OBSERVE, OBSERVE_READ_N };

static void gb_exercise(const struct gb_req *q, const char *in, struct gb_rep *r, char *out)
{
    switch (q->fn) {
    case TO_STRING: { /* a0 flags, a1 len; input: the buffer as the suite filled it */
        __typeof__(flags_to_string) *f = gb_sym("flags_to_string", r, out);
        if (!f)
            return;
        char buf[GB_MAX];
        memcpy(buf, in, q->len);
        r->v[0] = f((short)q->a[0], buf, (size_t)q->a[1]);
        memcpy(out, buf, q->len);
        r->len = q->len;
        return;
    }
    case FROM_STRING: { /* input: the text */
        __typeof__(flags_from_string) *f = gb_sym("flags_from_string", r, out);
        if (f)
            r->v[0] = f(in);
        return;
    }
    case OBSERVE: { /* a0 base, a1 fd, a2 events, a3 timeout_ms */
        __typeof__(observe) *f = gb_sym("observe", r, out);
        if (f)
            r->v[0] = f(GB_PTR(q->a[0]), (evutil_socket_t)q->a[1], (short)q->a[2], (int)q->a[3]);
        return;
    }
    case OBSERVE_READ_N: { /* a0 base, a1 fd, a2 timeout_ms, a3 n: observe(EV_READ) n times
                              -> v0 calls that returned EV_READ before one did not, v1 its value */
        __typeof__(observe) *f = gb_sym("observe", r, out);
        int64_t i = 0;
        for (; f && i < q->a[3]; i++)
            if ((r->v[1] = f(GB_PTR(q->a[0]), (evutil_socket_t)q->a[1], EV_READ, (int)q->a[2])) !=
                EV_READ)
                break;
        r->v[0] = i;
        return;
    }
    }
    gb_fail(r, out, "unknown function %d", q->fn);
}
