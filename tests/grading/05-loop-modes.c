/* Grading for exercise 05 (loop-modes): the `loop_report` program.
 *
 * Each test runs the program with one loop mode and checks its report
 * against the wall time the suite measured itself: a program that prints
 * numbers without running a loop gets the timing wrong. Bounds are generous
 * (a loaded machine fires timers late, never early).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "evtest.h"
#include "grading.h"

struct report {
    int callbacks, returned;
    char reason[32];
    double seconds;
    char cmd[200];
};

static struct report run(const char *const args[])
{
    const char *argv[16] = {evt_target("loop_report")};
    struct report rep = {.callbacks = -1, .returned = -99};
    snprintf(rep.cmd, sizeof rep.cmd, "loop_report");
    for (int i = 0; args[i] && i < 14; i++) {
        argv[i + 1] = args[i];
        snprintf(rep.cmd + strlen(rep.cmd), sizeof rep.cmd - strlen(rep.cmd), " %s", args[i]);
    }
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 8), 0, "could not run %s", argv[0]);
    cr_assert(!r.timed_out, "%s did not finish within 8 s: does the loop ever return?", rep.cmd);
    cr_assert_eq(r.exit_code, 0, "%s exited with %d (signal %d); stderr: %.300s", rep.cmd,
                 r.exit_code, r.term_signal, r.err);
    const char *c = strstr(r.out, "callbacks: "), *ret = strstr(r.out, "returned: "),
               *why = strstr(r.out, "reason: ");
    cr_assert(c && ret && why,
              "%s: expected the three lines \"callbacks: N\", \"returned: R\", "
              "\"reason: WHY\"; stdout was: %.300s",
              rep.cmd, r.out);
    rep.callbacks = atoi(c + 11);
    rep.returned = atoi(ret + 10);
    sscanf(why + 8, "%31s", rep.reason);
    rep.seconds = r.seconds;
    evt_run_free(&r);
    return rep;
}

static void expect(const struct report *r, int cb_min, int cb_max, int returned, const char *reason,
                   double t_min, double t_max, const char *hint)
{
    cr_assert(strcmp(r->reason, reason) == 0, "%s: reason is \"%s\", expected \"%s\" (%s)", r->cmd,
              r->reason, reason, hint);
    cr_assert_eq(r->returned, returned, "%s: event_base_loop() returned %d, expected %d (%s)",
                 r->cmd, r->returned, returned, hint);
    cr_assert(r->callbacks >= cb_min && r->callbacks <= cb_max,
              "%s: %d callbacks ran, expected %d%s%d (%s)", r->cmd, r->callbacks, cb_min,
              cb_min == cb_max ? "" : " to ", cb_max, hint);
    if (cb_min == cb_max)
        cr_assert_eq(r->callbacks, cb_min);
    cr_assert(r->seconds >= t_min && r->seconds <= t_max,
              "%s took %.0f ms, expected %.0f to %.0f ms (%s)", r->cmd, r->seconds * 1000,
              t_min * 1000, t_max * 1000, hint);
}

GRADED(loop_modes, run_for_n_ms, 3, 10.0, "--run-ms: event_base_loopexit with a timeout")
{
    struct report r = run(EVT_ARGV("--run-ms", "400", "--tick-ms", "20"));
    expect(&r, 8, 21, 0, "exit", 0.38, 4.0,
           "a persistent 20 ms timer and event_base_loopexit(base, 400 ms): got_exit is set");
}

GRADED(loop_modes, returns_1_when_empty, 3, 10.0,
       "--ticks: the loop returns 1 when no event is left")
{
    struct report r = run(EVT_ARGV("--ticks", "5", "--tick-ms", "30"));
    expect(&r, 5, 5, 1, "empty", 0.14, 4.0,
           "the timer deletes itself after 5 ticks; with nothing pending the loop returns 1");
}

GRADED(loop_modes, loopbreak, 3, 10.0, "--break-after: event_base_loopbreak from a callback")
{
    struct report r = run(EVT_ARGV("--break-after", "3", "--tick-ms", "30", "--run-ms", "3000"));
    expect(&r, 3, 3, 0, "break", 0.08, 2.5,
           "event_base_loopbreak() in the 3rd callback: the loop returns 0 at once and got_break "
           "is set");
}

GRADED(loop_modes, no_exit_on_empty, 2, 10.0,
       "--no-exit-on-empty: keep running with nothing pending")
{
    /* Nothing but the flag keeps this loop alive once the timer has deleted
     * itself (no --run-ms: event_base_loopexit's timer would be an event too). */
    struct evt_proc p;
    const char *prog = evt_target("loop_report");
    cr_assert_eq(evt_spawn(&p,
                           EVT_ARGV(prog, "--ticks", "3", "--tick-ms", "20", "--no-exit-on-empty"),
                           NULL),
                 0);
    evt_drain(&p, 0.8);
    int st = 0;
    pid_t w = waitpid(p.pid, &st, WNOHANG);
    evt_proc_free(&p);
    cr_assert_eq(
        w, 0,
        "loop_report --ticks 3 --tick-ms 20 --no-exit-on-empty exited within 800 ms (stdout: "
        "%.200s): with EVLOOP_NO_EXIT_ON_EMPTY the loop must keep running after the last event "
        "is gone, until a loopexit or loopbreak",
        p.out ? p.out : "");
    /* and without the flag the same run ends by itself */
    struct report r = run(EVT_ARGV("--ticks", "3", "--tick-ms", "20"));
    expect(&r, 3, 3, 1, "empty", 0.05, 4.0,
           "without the flag the loop returns 1 once the timer is gone");
}

GRADED(loop_modes, once, 2, 10.0, "--once: EVLOOP_ONCE waits for one round, then returns")
{
    struct report r = run(EVT_ARGV("--once", "--tick-ms", "150", "--run-ms", "3000"));
    expect(&r, 1, 1, 0, "once", 0.14, 2.5,
           "EVLOOP_ONCE blocks until the first tick (150 ms), runs it, and returns 0 without exit "
           "or break");
}

GRADED(loop_modes, nonblock, 2, 10.0, "--nonblock: EVLOOP_NONBLOCK does not wait")
{
    struct report r = run(EVT_ARGV("--nonblock", "--tick-ms", "1500"));
    expect(&r, 0, 0, 0, "once", 0.0, 1.0,
           "EVLOOP_NONBLOCK runs what is ready (nothing: the tick is 1500 ms away) and returns 0 "
           "at once");
}
