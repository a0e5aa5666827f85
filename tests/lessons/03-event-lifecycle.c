/* Lesson 03: the claims of lessons/03-event-lifecycle/README.md, checked on
 * the real program (every backend, persistent and one-shot) and, for two
 * library facts the program only mentions, on libevent directly. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "evtest.h"

#define PROG evt_prog("lessons/03-event-lifecycle/lifecycle")

static const char *const methods[] = {"epoll", "poll", "select"};

static struct evt_run run_life(const char *method, bool persist)
{
    struct evt_run r;
    const char *const argv[] = {PROG, "--method", method, persist ? "--step" : "--no-persist",
                                NULL};
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 10), 0);
    cr_assert_eq(r.term_signal, 0, "crashed: %s", r.err);
    cr_assert_eq(r.exit_code, 0, "%s: exit %d\n%s", method, r.exit_code, r.err);
    cr_assert(strstr(r.out, "method: "), "%s", r.out);
    return r;
}

/* ADDED as the program printed it after `label`. */
static int added_after(const char *text, const char *label)
{
    const char *at = strstr(text, label);
    cr_assert(at, "no '%s' in:\n%s", label, text);
    at = strstr(at, "ADDED=");
    cr_assert(at);
    return atoi(at + 6);
}

/* The count the README's rule predicts from a dump: per non-internal
 * inserted line 1, +1 if it has a Timeout=, +1 per active line. */
static int predicted(const char *text)
{
    const char *d = strstr(text, "--- event_base_dump_events ---");
    cr_assert(d, "no dump in:\n%s", text);
    const char *end = strstr(d, "--- end of dump ---");
    const char *act = strstr(d, "Active events:");
    cr_assert(end && act && act < end);
    int n = 0;
    for (const char *l = strstr(d, "Inserted events:"); l && l < act; l = strchr(l + 1, '\n')) {
        const char *eol = strchr(l + 1, '\n');
        if (!eol || eol >= act || strncmp(eol + 1, "  0x", 4) != 0)
            continue;
        char line[160];
        snprintf(line, sizeof line, "%.*s", (int)(strchr(eol + 1, '\n') - eol - 1), eol + 1);
        if (strstr(line, "Internal"))
            continue;
        n += 1 + (strstr(line, "Timeout=") != NULL);
    }
    for (const char *l = act; (l = strstr(l, " active\n")) && l < end; l++)
        n++;
    return n;
}

Test(lifecycle, initialized_self_cbarg_and_pending_flags)
{
    for (int m = 0; m < 3; m++) {
        struct evt_run r = run_life(methods[m], true);
        char *s1 = evt_step_section(r.out, 1), *s2 = evt_step_section(r.out, 2);
        cr_assert(strstr(s1, "zeroed memory:        event_initialized -> 0"), "%s", s1);
        cr_assert(strstr(s1, "0xff garbage:         event_initialized -> 1"), "%s", s1);
        cr_assert(strstr(s1, ":  event_initialized -> 1"), "%s", s1);
        cr_assert(strstr(s1, "callback arg is the event itself: yes"), "%s", s1);
        cr_assert(strstr(s1, "after event_new: event_pending -> 0 (not pending)"), "%s", s1);
        cr_assert(
            strstr(s2, "after event_add: event_pending -> EV_TIMEOUT|EV_READ (timeout in 5 s)"),
            "%s: %s", methods[m], s2);
        cr_assert(strstr(s2, "event_pending(ev, EV_WRITE) -> 0"), "%s", s2);
        cr_assert_eq(added_after(s2, "after event_add:"), 2,
                     "one event with a timeout counts 2:\n%s", s2);
        free(s1), free(s2);
        evt_run_free(&r);
    }
}

Test(lifecycle, active_is_seen_before_the_callback_and_in_both_dump_lists)
{
    for (int m = 0; m < 3; m++) {
        for (int p = 0; p < 2; p++) {
            struct evt_run r = run_life(methods[m], p);
            char *s3 = evt_step_section(r.out, 3);
            char ptr[32];
            const char *n = strstr(r.out, "event_new -> ");
            cr_assert(n);
            sscanf(n, "event_new -> %31[0-9a-fx]", ptr);
            const char *peek = strstr(s3, "[peek] got EV_READ"), *cb = strstr(s3, "[callback] fd ");
            cr_assert(peek && cb && peek < cb, "peek runs first:\n%s", s3);
            const char *ins = strstr(s3, "Inserted events:"), *act = strstr(s3, "Active events:");
            cr_assert(ins && act);
            char want[64];
            snprintf(want, sizeof want, "  %s [fd ", ptr);
            const char *i1 = strstr(ins, want), *a1 = strstr(act, want);
            cr_assert(i1 && i1 < act && a1, "our event %s in both lists:\n%s", ptr, s3);
            cr_assert(strstr(a1, "priority=1] Read active"), "%s", s3);
            cr_assert(strstr(s3, "ADDED=3 ACTIVE=1"), "%s", s3);
            cr_assert_eq(added_after(s3, "[peek]:"), predicted(s3), "%s", s3);
            cr_assert(strstr(s3, "what=EV_READ, arg==event: yes, read 1 byte"), "%s", s3);
            if (p)
                cr_assert(strstr(s3, "inside the callback: event_pending -> EV_TIMEOUT|EV_READ "
                                     "(timeout in 5 s)"),
                          "%s", s3);
            else
                cr_assert(strstr(s3, "inside the callback: event_pending -> 0 (not pending)"), "%s",
                          s3);
            char *s4 = strstr(s3, "after the callback:");
            cr_assert(s4 && strstr(s4, p ? "after the loop: event_pending -> EV_TIMEOUT|EV_READ"
                                         : "after the loop: event_pending -> 0 (not pending)"),
                      "%s", s4);
            free(s3);
            evt_run_free(&r);
        }
    }
}

Test(lifecycle, del_readd_and_the_persistent_timeout_that_comes_back)
{
    for (int m = 0; m < 3; m++) {
        for (int p = 0; p < 2; p++) {
            struct evt_run r = run_life(methods[m], p);
            char *s5 = evt_step_section(r.out, 4);
            cr_assert(strstr(s5, "event_del -> 0\n  after event_del: event_pending -> 0"), "%s",
                      s5);
            cr_assert(strstr(s5, "event_del again -> 0"), "%s", s5);
            cr_assert(strstr(s5, "after event_add(ev, NULL): event_pending -> EV_READ\n"), "%s",
                      s5);
            cr_assert(strstr(s5, "[callback] fd "), "re-added event fires again:\n%s", s5);
            const char *after = strstr(s5, "after the loop: event_pending -> ");
            cr_assert(after);
            if (p)
                cr_assert(strstr(after, "EV_TIMEOUT|EV_READ (timeout in 5 s)"), "timeout back:\n%s",
                          s5);
            else
                cr_assert(strstr(after, "-> 0 (not pending)"), "%s", s5);
            free(s5);
            evt_run_free(&r);
        }
    }
}

Test(lifecycle, dump_format_internal_events_and_what_the_count_counts)
{
    for (int m = 0; m < 3; m++) {
        for (int p = 0; p < 2; p++) {
            struct evt_run r = run_life(methods[m], p);
            char *s3 = evt_step_section(r.out, 3), *s6 = evt_step_section(r.out, 5),
                 *s7 = evt_step_section(r.out, 7);
            cr_assert_null(strstr(s3, "Internal"), "no internal event before a signal:\n%s", s3);
            cr_assert_eq(evt_count(s6, " Internal\n"), 1, "%s", s6);
            cr_assert(strstr(s6, "[sig 10] Signal Persist"), "%s", s6);
            cr_assert_eq(added_after(s6, "two events of ours:"), p ? 3 : 2, "%s", s6);
            cr_assert_eq(added_after(s6, "two events of ours:"), predicted(s6), "%s", s6);
            /* Timeout= is an absolute wall-clock time, about 5 s ahead. */
            const char *t = strstr(s3, "Timeout=");
            cr_assert(t);
            double when = atof(t + 8), now = (double)time(NULL);
            cr_assert(when > now + 2 && when < now + 7, "Timeout=%f vs now %f", when, now);
            /* Free of a pending event, then no events of ours: dispatch returns 1. */
            cr_assert_eq(added_after(s7, "after event_free(ev):"), 1, "%s", s7);
            cr_assert_eq(added_after(s7, "after event_free(sig):"), 0, "%s", s7);
            cr_assert_eq(evt_count(s7, " Internal\n"), 1, "internal event still there:\n%s", s7);
            cr_assert(strstr(s7, "event_base_dispatch -> 1"), "%s", s7);
            char *masked = evt_mask_addrs(s6);
            cr_assert(strstr(masked, "  0xADDR [fd "), "%s", masked);
            free(masked);
            free(s3), free(s6), free(s7);
            evt_run_free(&r);
        }
    }
}

static void nop(evutil_socket_t fd, short what, void *arg) { (void)fd, (void)what, (void)arg; }

Test(lifecycle, dump_names_closed_as_eof_and_timeout_as_result)
{
    struct event_base *b = event_base_new();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct event *e =
        event_new(b, sv[0], EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST, nop, NULL);
    event_add(e, NULL);
    event_active(e, EV_READ | EV_TIMEOUT, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    event_base_dump_events(b, f);
    fclose(f);
    cr_assert(strstr(buf, "] Read Write EOF Persist ET\n"), "%s", buf);
    cr_assert(strstr(buf, "priority=0] Read Timeout active"), "%s", buf);
    free(buf);
    event_free(e);
    event_base_free(b);
    close(sv[0]), close(sv[1]);
}

Test(lifecycle, reassign_drops_a_persistent_timeout)
{
    struct event_base *b = event_base_new();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct event *e = event_new(b, sv[0], EV_READ | EV_PERSIST, nop, NULL);
    event_add(e, &(struct timeval){5, 0});
    event_del(e);
    cr_assert_eq(event_assign(e, b, sv[0], EV_READ | EV_PERSIST, nop, NULL), 0);
    event_add(e, NULL);
    cr_assert_eq(write(sv[1], "xy", 2), 2);
    event_base_loop(b, EVLOOP_ONCE);
    cr_assert_eq(event_pending(e, EV_READ | EV_TIMEOUT, NULL), EV_READ,
                 "no timeout after event_assign");
    /* Control: without event_assign the timeout does come back. */
    event_del(e);
    event_add(e, &(struct timeval){5, 0});
    event_del(e);
    event_add(e, NULL);
    event_base_loop(b, EVLOOP_ONCE);
    cr_assert_eq(event_pending(e, EV_READ | EV_TIMEOUT, NULL), EV_READ | EV_TIMEOUT);
    event_free(e);
    event_base_free(b);
    close(sv[0]), close(sv[1]);
}

Test(lifecycle, help_bad_flags_and_step)
{
    evt_assert_usage(PROG, EVT_ARGV("--no-persist", "--method", "--step"));
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(PROG, "--method", "kqueue"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--method 'kqueue' is not a backend"), "%s", r.err);
    evt_run_free(&r);
    /* Out of range is refused before any cast: 2^32 + 5 must not become 5. */
    const char *bad[] = {"0", "3601", "4294967301", "5s", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(evt_run(&r, EVT_ARGV(PROG, "--timeout-s", bad[i]), NULL, NULL, 10), 0);
        cr_assert_eq(r.exit_code, 2, "--timeout-s '%s' accepted:\n%s", bad[i], r.out);
        cr_assert(strstr(r.err, "--timeout-s wants a whole number"), "%s", r.err);
        evt_run_free(&r);
    }

    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(PROG, "--step"), NULL, "\n\n\nq\n", 10), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "== 3."), "%s", r.out);
    cr_assert_null(strstr(r.out, "event_del -> "), "q stops before step 4:\n%s", r.out);
    cr_assert_geq(evt_count(r.out, "[Enter: run this step"), 4);
    evt_run_free(&r);
}

Test(lifecycle, free_of_an_active_event_cancels_its_callback)
{
    for (int m = 0; m < 3; m++) {
        struct evt_run r = run_life(methods[m], true);
        char *s7 = evt_step_section(r.out, 6);
        cr_assert(strstr(s7, "[other] our event "), "%s", s7);
        cr_assert(
            strstr(s7, "[other] before event_free: event_base_get_num_events ADDED=2 ACTIVE=1"),
            "the victim is active when it is freed:\n%s", s7);
        cr_assert(
            strstr(s7, "[other] after event_free: event_base_get_num_events ADDED=0 ACTIVE=0"),
            "%s", s7);
        cr_assert_null(strstr(s7, "[callback]"), "a freed active event must not run:\n%s", s7);
        free(s7);
        evt_run_free(&r);
    }
}

/* Step mode changes nothing: a 1 s timeout and 2 s at every prompt. Before
 * the timeout was re-armed after the step-3 prompt, the event fired with
 * EV_TIMEOUT and no byte was read. */
Test(lifecycle, waiting_at_every_prompt_changes_nothing, .timeout = 90)
{
    static const char *const masks[] = {"Timeout=[0-9.]+", NULL};
    evt_assert_step_same(EVT_ARGV(PROG, "--timeout-s", "1"), NULL, masks, 2.0, 60);
    evt_assert_step_same(EVT_ARGV(PROG, "--timeout-s", "1", "--no-persist"), NULL, masks, 2.0, 60);
}
