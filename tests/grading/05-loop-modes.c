/* Grading for exercise 05 (loop-modes): the `loop_report` program.
 *
 * Each test runs the program with one loop mode and checks its report
 * against the wall time the suite measured itself: a program that prints
 * numbers without running a loop gets the timing wrong. Bounds are generous
 * (a loaded machine fires timers late, never early).
 */
#include "gx_server.h" /* gx_cpu_over(), the per-test watchdog */

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
    /* The longest correct run is 0.4 s, and a wrong one that runs out its
     * --run-ms takes 3 s: 3.5 s tells both apart, and a loop that never
     * returns costs 3.5 s per test rather than 5. */
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 3.5), 0, "could not run %s", argv[0]);
    cr_assert(!r.timed_out, "%s did not finish within 3.5 s: does the loop ever return?", rep.cmd);
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
    char range[64];
    if (cb_min == cb_max)
        snprintf(range, sizeof range, "%d", cb_min);
    else
        snprintf(range, sizeof range, "%d to %d", cb_min, cb_max);
    cr_assert(r->callbacks >= cb_min && r->callbacks <= cb_max,
              "%s: %d callbacks ran, expected %s (%s)", r->cmd, r->callbacks, range, hint);
    cr_assert(r->seconds >= t_min && r->seconds <= t_max,
              "%s took %.0f ms, expected %.0f to %.0f ms (%s)", r->cmd, r->seconds * 1000,
              t_min * 1000, t_max * 1000, hint);
}

GRADED(loop_modes, t01_run_for_n_ms, 3, 10.0, "--run-ms: event_base_loopexit with a timeout")
{
    struct report r = run(EVT_ARGV("--run-ms", "400", "--tick-ms", "20"));
    expect(&r, 2, 21, 0, "exit", 0.38, 4.0,
           "a persistent 20 ms timer and event_base_loopexit(base, 400 ms): got_exit is set");
}

GRADED(loop_modes, t02_returns_1_when_empty, 3, 10.0,
       "--ticks: the loop returns 1 when no event is left")
{
    struct report r = run(EVT_ARGV("--ticks", "5", "--tick-ms", "30"));
    expect(&r, 5, 5, 1, "empty", 0.14, 4.0,
           "the timer deletes itself after 5 ticks; with nothing pending the loop returns 1");
}

GRADED(loop_modes, t03_loopbreak, 3, 10.0, "--break-after: event_base_loopbreak from a callback")
{
    struct report r = run(EVT_ARGV("--break-after", "3", "--tick-ms", "30", "--run-ms", "3000"));
    expect(&r, 3, 3, 0, "break", 0.08, 2.5,
           "event_base_loopbreak() in the 3rd callback: the loop returns 0 at once and got_break "
           "is set");
}

GRADED(loop_modes, t04_no_exit_on_empty, 2, 10.0,
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
    evt_drain(&p, 0.8); /* returns early if the program closes its output */
    int st = 0;
    pid_t w = waitpid(p.pid, &st, WNOHANG);
    /* Output closed means it is exiting: a process closes its fds a moment
     * before it can be reaped, longer on a loaded machine. Wait for that. */
    for (double end = evt_now() + 5; w == 0 && p.out_fd < 0 && p.err_fd < 0 && evt_now() < end;
         w = waitpid(p.pid, &st, WNOHANG))
        poll(NULL, 0, 10);
    char out[256];
    snprintf(out, sizeof out, "%s", p.out ? p.out : "");
    evt_proc_free(&p);
    cr_assert_eq(
        w, 0,
        "loop_report --ticks 3 --tick-ms 20 --no-exit-on-empty exited within 800 ms (stdout: "
        "%.200s): with EVLOOP_NO_EXIT_ON_EMPTY the loop must keep running after the last event "
        "is gone, until a loopexit or loopbreak",
        out);
    /* and without the flag the same run ends by itself */
    struct report r = run(EVT_ARGV("--ticks", "3", "--tick-ms", "20"));
    expect(&r, 3, 3, 1, "empty", 0.05, 4.0,
           "without the flag the loop returns 1 once the timer is gone");
}

GRADED(loop_modes, t05_no_exit_on_empty_waits, 2, 10.0,
       "--no-exit-on-empty waits in the kernel: no CPU while nothing is pending")
{
    gx_watchdog();
    struct evt_proc p;
    const char *prog = evt_target("loop_report");
    cr_assert_eq(evt_spawn(&p,
                           EVT_ARGV(prog, "--ticks", "3", "--tick-ms", "20", "--no-exit-on-empty"),
                           NULL),
                 0);
    gx_watch_pid = p.pid;
    gx_step("measuring the CPU time of loop_report --no-exit-on-empty");
    gx_pause_ms(300); /* the three ticks are over */
    double cpu = gx_cpu_over(p.pid, 0.8);
    int st = 0;
    pid_t w = waitpid(p.pid, &st, WNOHANG);
    evt_stop(&p, SIGKILL, 1);
    evt_proc_free(&p);
    cr_assert(w == 0, "loop_report --ticks 3 --tick-ms 20 --no-exit-on-empty exited on its own "
                      "(see the no-exit-on-empty test)");
    cr_assert(cpu >= 0 && cpu < 0.04,
              "loop_report --ticks 3 --tick-ms 20 --no-exit-on-empty used %.0f ms of CPU in 800 ms "
              "with nothing pending: it spins (calling event_base_loop() again and again, or "
              "EVLOOP_NONBLOCK in a loop). Pass EVLOOP_NO_EXIT_ON_EMPTY to one event_base_loop() "
              "call: it waits in the kernel",
              cpu * 1000);
    /* and it is a loop that ran: without the flag the same run ends by itself */
    struct report r = run(EVT_ARGV("--ticks", "3", "--tick-ms", "20"));
    expect(&r, 3, 3, 1, "empty", 0.05, 4.0,
           "without the flag the loop returns 1 once the timer is gone");
}

GRADED(loop_modes, t06_once, 2, 10.0, "--once: EVLOOP_ONCE waits for one round, then returns")
{
    struct report r = run(EVT_ARGV("--once", "--tick-ms", "150", "--run-ms", "3000"));
    expect(&r, 1, 1, 0, "once", 0.14, 2.5,
           "EVLOOP_ONCE blocks until the first tick (150 ms), runs it, and returns 0 without exit "
           "or break");
}

GRADED(loop_modes, t07_once_then_exit, 2, 10.0,
       "--once --run-ms: the reason comes from got_exit, not from the options")
{
    /* The exit timer (100 ms) fires before the first tick (1000 ms): the one
     * EVLOOP_ONCE round ends because of loopexit, so got_exit is set. */
    struct report r = run(EVT_ARGV("--once", "--run-ms", "100", "--tick-ms", "1000"));
    expect(&r, 0, 0, 0, "exit", 0.09, 0.9,
           "the loopexit timer fires first, at 100 ms, and ends the single round: "
           "event_base_got_exit() is true, so the reason is exit, whatever the options were");
}

GRADED(loop_modes, t08_nonblock, 2, 10.0, "--nonblock: EVLOOP_NONBLOCK does not wait")
{
    struct report r = run(EVT_ARGV("--nonblock", "--tick-ms", "1500"));
    expect(&r, 0, 0, 0, "once", 0.0, 1.0,
           "EVLOOP_NONBLOCK runs what is ready (nothing: the tick is 1500 ms away) and returns 0 "
           "at once");
}

/* Run under valgrind: no invalid access (use after event_base_free) and no
 * memory left allocated at exit. */
static void memcheck(const char *const args[])
{
    gx_watchdog();
    if (!gx_have_valgrind() || evs_is_sanitized(evt_target("loop_report")))
        cr_skip_test("valgrind is not available, or this is a sanitizer build");
    const char *argv[24] = {"/usr/bin/valgrind",
                            "-q",
                            "--error-exitcode=99",
                            "--leak-check=full",
                            "--show-leak-kinds=definite,indirect,possible",
                            "--errors-for-leak-kinds=definite,indirect,possible",
                            evt_target("loop_report")};
    char cmd[200] = "loop_report";
    for (int i = 0; args[i] && i < 14; i++) {
        argv[7 + i] = args[i];
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s", args[i]);
    }
    gx_step("%s ran under valgrind", cmd);
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 8), 0, "could not run valgrind");
    bool ok = !r.timed_out && r.exit_code == 0;
    char err[1500];
    snprintf(err, sizeof err, "%s", r.err);
    bool timed_out = r.timed_out;
    int code = r.exit_code;
    evt_run_free(&r);
    cr_assert(!timed_out, "%s did not finish within 8 s under valgrind", cmd);
    cr_assert(ok || !strstr(err, "Invalid "),
              "%s: valgrind found an invalid memory access (use after free? everything made from "
              "a base must be used before event_base_free(), and nothing after it):\n%s",
              cmd, err);
    cr_assert(ok,
              "%s exited with %d under valgrind: memory was left allocated at exit "
              "(event_free() the timer, then event_base_free() the base):\n%s",
              cmd, code, err);
}

GRADED(loop_modes, t09_memory, 2, 20.0, "no use after free and nothing leaked at exit (valgrind)")
{
    memcheck(EVT_ARGV("--break-after", "2", "--tick-ms", "10", "--run-ms", "2000"));
}
