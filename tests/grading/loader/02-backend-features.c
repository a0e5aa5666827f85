/* 02-backend-features.c -- the loader of exercise 02's grading suite: runs
 * the student's features.so in a process of its own (gb_loader.h says why
 * and how), and calls its three functions for the suite.
 *
 * Built by the Makefile as a need of the suite (exercises/02-backend-features/
 * exercise.mk); the types come from the exercise's contract header.
 *   cc -Wall -o 02-backend-features 02-backend-features.c $(pkg-config --cflags --libs libevent)
 */
#include "gb_loader.h"

#include "../../../exercises/02-backend-features/features.h"

/* GB_CALL fn values; the suite (tests/grading/02-backend-features.c) has the same. */
enum { DESCRIBE = 1, METHOD_WITH, METHOD_FEATURES, BOTH_N };

static void gb_exercise(const struct gb_req *q, const char *in, struct gb_rep *r, char *out)
{
    switch (q->fn) {
    case DESCRIBE: { /* a0 features, a1 len; input: the buffer as the suite filled it */
        __typeof__(describe_features) *f = gb_sym("describe_features", r, out);
        if (!f)
            return;
        char buf[GB_MAX];
        memcpy(buf, in, q->len);
        r->v[0] = f((int)q->a[0], buf, (size_t)q->a[1]);
        memcpy(out, buf, q->len);
        r->len = q->len;
        return;
    }
    case METHOD_WITH: { /* a0 required, a1 1 if input is the method to avoid -> v0 NULL? */
        __typeof__(method_with) *f = gb_sym("method_with", r, out);
        if (!f)
            return;
        const char *m = f((int)q->a[0], q->a[1] ? in : NULL);
        r->v[0] = m != NULL;
        if (m) {
            r->len = (uint32_t)strnlen(m, GB_MAX - 1);
            memcpy(out, m, r->len);
        }
        return;
    }
    case METHOD_FEATURES: { /* input: the method's name */
        __typeof__(method_features) *f = gb_sym("method_features", r, out);
        if (f)
            r->v[0] = f(in);
        return;
    }
    case BOTH_N: { /* a0 required, a1 want_f, a2 n; input "METHOD\0WANT_M\0": n times
                      method_with(required, NULL) == WANT_M and method_features(METHOD) ==
                      want_f -> v0 calls that did, v1 1 or 2 for which one did not; output: what
                      it returned */
        __typeof__(method_with) *mw = gb_sym("method_with", r, out);
        __typeof__(method_features) *mf = mw ? gb_sym("method_features", r, out) : NULL;
        const char *method = in, *want_m = in + strlen(in) + 1;
        int64_t i = 0;
        for (; mf && i < q->a[2]; i++) {
            const char *m = mw((int)q->a[0], NULL);
            if (!m || strcmp(m, want_m) != 0) {
                r->v[1] = 1;
                r->len = (uint32_t)snprintf(out, GB_MAX, "%.100s", m ? m : "NULL");
                break;
            }
            int f = mf(method);
            if (f != q->a[1]) {
                r->v[1] = 2;
                r->len = (uint32_t)snprintf(out, GB_MAX, "%d", f);
                break;
            }
        }
        r->v[0] = i;
        return;
    }
    }
    gb_fail(r, out, "unknown function %d", q->fn);
}
