/* Lesson 05: the claims of lessons/05-loop-modes/README.md, checked on the
 * real programs. Times are never asserted, only orders and counts. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtest.h"

#define DIR "lessons/05-loop-modes/"

static struct evt_run run(const char *prog, const char *a1, const char *a2, const char *a3,
                          double timeout)
{
    struct evt_run r;
    const char *const argv[] = {evt_prog(prog), a1, a2, a3, NULL};
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, timeout), 0);
    return r;
}

/* p appears before q (both present). */
static void in_order(const char *out, const char *p, const char *q)
{
    const char *a = strstr(out, p), *b = strstr(out, q);
    cr_assert(a && b && a < b, "expected '%s' before '%s' in:\n%s", p, q, out);
}

Test(loop_modes, dispatch_runs_all_three_in_one_call_and_returns_1)
{
    struct evt_run r = run(DIR "loop_modes", "--mode", "dispatch", NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    in_order(r.out, "callback pipe", "callback t50");
    in_order(r.out, "callback t50", "callback t100");
    in_order(r.out, "callback t100", "call 1 returned 1 after running 3 callback(s)");
    cr_assert_eq(evt_count(r.out, "  call "), 1, "%s", r.out);
    cr_assert(strstr(r.out, "no events were pending or active"));
    evt_run_free(&r);
}

Test(loop_modes, once_runs_one_batch_per_call)
{
    struct evt_run r = run(DIR "loop_modes", "--mode", "once", NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    in_order(r.out, "callback pipe", "call 1 returned 0 after running 1 callback(s)");
    in_order(r.out, "call 1 returned 0", "callback t50");
    in_order(r.out, "callback t50", "call 2 returned 0 after running 1 callback(s)");
    in_order(r.out, "call 2 returned 0", "callback t100");
    in_order(r.out, "callback t100", "call 3 returned 0 after running 1 callback(s)");
    cr_assert(strstr(r.out, "call 4 returned 1 after running 0 callback(s)"), "%s", r.out);
    evt_run_free(&r);
}

Test(loop_modes, nonblock_busy_polls_and_the_draining_call_returns_1)
{
    struct evt_run r = run(DIR "loop_modes", "--mode", "nonblock", NULL, 20);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "call 1 returned 0 after running 1 callback(s)"), "%s", r.out);
    /* t50's call returns 0; t100's call returns 1 */
    const char *t50 = strstr(r.out, "callback t50");
    cr_assert(t50);
    const char *ret50 = strstr(t50, " returned ");
    cr_assert(ret50 && strncmp(ret50, " returned 0 after running 1 callback(s)", 39) == 0, "%s",
              r.out);
    const char *t100 = strstr(r.out, "callback t100");
    cr_assert(t100);
    const char *ret = strstr(t100, " returned ");
    cr_assert(ret && strncmp(ret, " returned 1 after running 1 callback(s)", 39) == 0, "%s", r.out);
    const char *idle = strstr(r.out, "idle calls that ran nothing: ");
    cr_assert(idle);
    long n = atol(idle + strlen("idle calls that ran nothing: "));
    cr_assert_gt(n, 10, "a call that waits for nothing must happen many times: %ld", n);
    evt_run_free(&r);
}

Test(loop_modes, no_exit_on_empty_waits_on_a_really_empty_base)
{
    struct evt_run r = run(DIR "loop_modes", "--mode", "no-exit-on-empty", NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    in_order(r.out, "callback t100", "[thread] event_base_loopbreak()");
    in_order(r.out, "[thread] event_base_loopbreak()",
             "call 1 returned 0 after running 3 callback(s)");
    cr_assert(strstr(r.out, "got_exit=0, got_break=1"), "%s", r.out);
    cr_assert_null(strstr(r.out, "loopexit("), "no loopexit event may keep it alive:\n%s", r.out);
    /* it sat on an empty base until the other thread's break at 300 ms */
    cr_assert_geq(r.seconds, 0.29);
    evt_run_free(&r);

    /* no way out: it never returns */
    r = run(DIR "loop_modes", "--mode", "no-exit-on-empty", "--break-after-ms=0", 1.5);
    cr_assert(r.timed_out, "on an empty base the loop must not return:\n%s", r.out);
    cr_assert(strstr(r.out, "callback t100"), "the events still ran:\n%s", r.out);
    cr_assert_null(strstr(r.out, "  call 1 returned"), "%s", r.out);
    evt_run_free(&r);

    /* the same set under dispatch returns 1 as soon as t100 has run */
    r = run(DIR "loop_modes", "--mode", "dispatch", NULL, 10);
    in_order(r.out, "callback t100", "call 1 returned 1 after running 3 callback(s)");
    cr_assert_lt(r.seconds, 5.0);
    evt_run_free(&r);
}

/* loopexit's event is an ordinary, counted event: plain dispatch, with no
 * NO_EXIT_ON_EMPTY, waits for it too. (This is why a loopexit timer cannot
 * show what NO_EXIT_ON_EMPTY does.) */
Test(loop_modes, loopexit_event_is_counted_so_dispatch_waits_for_it)
{
    struct evt_run r = run(DIR "loop_modes", "--mode", "dispatch", "--exit-after-ms=300", 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    in_order(r.out, "callback t100", "call 1 returned 0 after running 3 callback(s)");
    cr_assert(strstr(r.out, "got_exit=1, got_break=0"), "%s", r.out);
    cr_assert(strstr(r.out, "it counts as an event like any other"), "%s", r.out);
    cr_assert_geq(r.seconds, 0.29, "dispatch returned before the loopexit timer");
    evt_run_free(&r);
}

Test(lesson05, loopexit_is_never_called_internal)
{
    const char *files[] = {"lessons/05-loop-modes/README.md", "slides/05-loop-modes.md",
                           "lessons/05-loop-modes/early_stop.c",
                           "lessons/05-loop-modes/exit_vs_break.c"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *buf = evt_read_file(files[i]);
        cr_assert_null(strstr(buf, "internal event"),
                       "%s: lesson 03 uses \"internal event\" for libevent's own events", files[i]);
        free(buf);
    }
}

Test(loop_returns, one_zero_and_minus_one)
{
    struct evt_run r = run(DIR "loop_returns", NULL, NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "event_base_dispatch on an empty base returned 1"), "%s", r.out);
    in_order(r.out, "callback A ran", "event_base_dispatch returned 1 (the last event");
    cr_assert(strstr(r.out, "event_base_dispatch returned 0 (got_exit=1)"), "%s", r.out);
    cr_assert(strstr(r.out, "event_base_loop(EVLOOP_ONCE) returned 0; pending or active now: no"),
              "%s", r.out);
    cr_assert(strstr(r.out, "the next EVLOOP_ONCE returned 1"), "%s", r.out);
    cr_assert(strstr(r.out, "the nested event_base_dispatch returned -1"), "%s", r.out);
    cr_assert(strstr(r.out, "the outer event_base_dispatch returned 1"), "%s", r.out);
    cr_assert(strstr(r.err, "[warn] event_base_loop: reentrant invocation.  Only one "
                            "event_base_loop can run on each event_base at once."),
              "stderr: %s", r.err);
    evt_run_free(&r);
}

Test(exit_vs_break, break_runs_one_and_leaves_two_active)
{
    struct evt_run r = run(DIR "exit_vs_break", "--stop", "break", NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "loop returned 0: 1 of 3 callbacks ran; got_exit=0 got_break=1"), "%s",
              r.out);
    cr_assert(strstr(r.out, "B: still active") && strstr(r.out, "C: still active"), "%s", r.out);
    cr_assert(strstr(r.out, "loop returned 1: 2 more callback(s) ran; got_exit=0 got_break=0"),
              "%s", r.out);
    evt_run_free(&r);
}

Test(exit_vs_break, exit_runs_all_three)
{
    struct evt_run r = run(DIR "exit_vs_break", "--stop", "exit", NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "loop returned 0: 3 of 3 callbacks ran; got_exit=1 got_break=0"), "%s",
              r.out);
    cr_assert(strstr(r.out, "loop returned 1: 0 more callback(s) ran; got_exit=0 got_break=0"),
              "%s", r.out);
    evt_run_free(&r);
    r = run(DIR "exit_vs_break", "--stop", "none", NULL, 10);
    cr_assert(strstr(r.out, "loop returned 1: 3 of 3 callbacks ran; got_exit=0 got_break=0"), "%s",
              r.out);
    evt_run_free(&r);
}

Test(exit_vs_break, loopexit_with_delay_stops_a_ticker)
{
    struct evt_run r = run(DIR "exit_vs_break", NULL, NULL, NULL, 10);
    const char *p = strstr(r.out, "loop returned 0 after ");
    cr_assert(p, "%s", r.out);
    int ticks = atoi(p + strlen("loop returned 0 after "));
    /* generous: 110 ms of a 20 ms ticker */
    cr_assert(ticks >= 1 && ticks <= 6, "ticks=%d\n%s", ticks, r.out);
    cr_assert(strstr(p, "got_exit=1"));
    evt_run_free(&r);
}

/* With 3 priorities, loopexit's event runs at the default priority (1): B,
 * activated before it at that priority, runs; C, at 2, is left active. */
Test(exit_vs_break, loopexit_does_not_finish_lower_priorities)
{
    struct evt_run r = run(DIR "exit_vs_break", "--stop", "exit", "--priorities", 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "loop returned 0: 2 of 3 callbacks ran; got_exit=1 got_break=0"), "%s",
              r.out);
    cr_assert(strstr(r.out, "A: done") && strstr(r.out, "B: done") &&
                  strstr(r.out, "C: still active"),
              "%s", r.out);
    cr_assert(strstr(r.out, "callback C ran\nloop returned 1: 1 more callback(s) ran"), "%s",
              r.out);
    evt_run_free(&r);
}

Test(priorities, urgent_first_starvation_and_refusals)
{
    struct evt_run r = run(DIR "priorities", NULL, NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "event_base_get_npriorities -> 3"), "%s", r.out);
    cr_assert(strstr(r.out, "a new event's priority: 1"), "%s", r.out);
    cr_assert(strstr(r.out, "event_priority_set on an active event -> -1"), "%s", r.out);
    cr_assert(strstr(r.out, "event_base_priority_init on a base with active events -> -1"), "%s",
              r.out);
    /* activated low, normal, urgent; run urgent x4 (3 repeats), normal, low */
    cr_assert_eq(evt_count(r.out, "urgent   (priority 0) ran"), 4, "%s", r.out);
    const char *last_urgent = r.out, *p;
    while ((p = strstr(last_urgent + 1, "urgent   (priority 0) ran")))
        last_urgent = p;
    in_order(last_urgent, "urgent   (priority 0) ran", "normal   (priority 1) ran");
    in_order(r.out, "normal   (priority 1) ran", "low      (priority 2) ran");
    evt_run_free(&r);
    r = run(DIR "priorities", "--repeats", "0", NULL, 10);
    cr_assert_eq(evt_count(r.out, "urgent   (priority 0) ran"), 1, "%s", r.out);
    evt_run_free(&r);
    r = run(DIR "priorities", "--repeats", "4294967299", NULL, 10);
    cr_assert_eq(r.exit_code, 2, "2^32 + 3 must be refused, not cast to 3");
    evt_run_free(&r);
}

Test(legacy, event_init_and_event_dispatch_do_what_the_2x_calls_do)
{
    struct evt_run r = run(DIR "legacy", NULL, NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "1.x: timer fired, what=EV_TIMEOUT"), "%s", r.out);
    cr_assert(strstr(r.out, "event_dispatch() -> 1"), "%s", r.out);
    cr_assert(strstr(r.out, "2.x: timer fired, what=EV_TIMEOUT"), "%s", r.out);
    cr_assert(strstr(r.out, "event_base_dispatch(base) -> 1"), "%s", r.out);
    evt_run_free(&r);
}

Test(early_stop, early_break_is_lost_early_exit_is_kept)
{
    struct evt_run r = run(DIR "early_stop", NULL, NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "right after event_base_loopbreak(): got_break=1"), "%s", r.out);
    cr_assert(strstr(r.out, "dispatch returned 1, the timer fired 1 time(s): the break was lost"),
              "%s", r.out);
    cr_assert(strstr(r.out, "got_break=0 (entering the loop cleared it)"), "%s", r.out);
    cr_assert(strstr(r.out, "right after event_base_loopexit(NULL): got_exit=0"), "%s", r.out);
    cr_assert(strstr(r.out, "dispatch returned 0, the timer fired 0 time(s): the exit was kept; "
                            "got_exit=1"),
              "%s", r.out);
    cr_assert(strstr(r.out, "timer still pending: yes"), "%s", r.out);
    cr_assert(
        strstr(r.out, "dispatch returned 1, the timer fired 1 time(s); got_exit=0 got_break=0"),
        "%s", r.out);
    evt_run_free(&r);
}

Test(loop_continue, continue_polls_before_the_rest)
{
    struct evt_run r = run(DIR "loop_continue", NULL, NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    in_order(r.out, "callback A ran", "callback pipe ran");
    in_order(r.out, "callback pipe ran", "callback B ran");
    in_order(r.out, "callback B ran", "callback C ran");
    evt_run_free(&r);
    r = run(DIR "loop_continue", "--no-continue", NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    in_order(r.out, "callback A ran", "callback B ran");
    in_order(r.out, "callback B ran", "callback C ran");
    in_order(r.out, "callback C ran", "callback pipe ran");
    evt_run_free(&r);
}

Test(loop_modes, help_bad_flags_and_bad_values)
{
    const char *progs[] = {"loop_modes",    "loop_returns", "exit_vs_break", "early_stop",
                           "loop_continue", "priorities",   "legacy"};
    char path[256];
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        snprintf(path, sizeof path, DIR "%s", progs[i]);
        evt_assert_usage(evt_prog(path), EVT_ARGV("--step"));
    }
    struct evt_run r = run(DIR "loop_modes", "--mode", "sometimes", NULL, 10);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "unknown --mode 'sometimes'"), "%s", r.err);
    evt_run_free(&r);
    r = run(DIR "exit_vs_break", "--stop", "later", NULL, 10);
    cr_assert_eq(r.exit_code, 2);
    evt_run_free(&r);
    /* range before cast: 2^32 + 300 must not become 300 */
    r = run(DIR "loop_modes", "--exit-after-ms", "4294967596", NULL, 10);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--exit-after-ms wants a whole number"), "%s", r.err);
    evt_run_free(&r);
    r = run(DIR "loop_modes", "--break-after-ms", "-1", NULL, 10);
    cr_assert_eq(r.exit_code, 2);
    evt_run_free(&r);
}

Test(loop_modes, step_mode_waits_for_enter_on_a_tty)
{
    struct evt_run r;
    /* One Enter, then q: step 2 heading shown, the loop never runs. */
    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(evt_prog(DIR "loop_modes"), "--step"), NULL, "\nq\n", 10),
                 0);
    cr_assert_eq(r.exit_code, 0, "output: %s", r.out);
    cr_assert(strstr(r.out, "== 2."), "%s", r.out);
    cr_assert_null(strstr(r.out, "callback pipe"), "q must stop before the loop runs:\n%s", r.out);
    cr_assert_geq(evt_count(r.out, "[Enter: run this step"), 2);
    evt_run_free(&r);
}

/* Waiting 2 s at every prompt changes nothing. Before, --mode once ran all
 * three callbacks in one call: both timers were due by the time the loop
 * ran. Times and busy-poll counts are masked; order and counts are not. */
static const char *const loop_masks[] = {"~[0-9]+ ms", "call [0-9]+ returned", "nothing: [0-9]+",
                                         "after [0-9]+ ticks", NULL};
#define STEP_SAME(name, ...)                                                                       \
    Test(step_mode, name, .timeout = 60)                                                           \
    {                                                                                              \
        evt_assert_step_same(EVT_ARGV(__VA_ARGS__), NULL, loop_masks, 2.0, 40);                    \
    }
STEP_SAME(once, evt_prog(DIR "loop_modes"), "--mode", "once")
STEP_SAME(dispatch, evt_prog(DIR "loop_modes"), "--mode", "dispatch")
/* (Not nonblock: a busy-polling process that the scheduler stalls for 50 ms
 * sees both timers due in one call, stepped or not.) */
STEP_SAME(no_exit_on_empty, evt_prog(DIR "loop_modes"), "--mode", "no-exit-on-empty")
STEP_SAME(exit_vs_break, evt_prog(DIR "exit_vs_break"), "--stop", "exit", "--priorities")
STEP_SAME(early_stop, evt_prog(DIR "early_stop"))
STEP_SAME(loop_continue, evt_prog(DIR "loop_continue"))
STEP_SAME(loop_returns, evt_prog(DIR "loop_returns"))
STEP_SAME(priorities, evt_prog(DIR "priorities"))
STEP_SAME(legacy, evt_prog(DIR "legacy"))
