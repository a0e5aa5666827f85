/* Grading for exercise 15 (debugging): the `debug_me` program.
 *
 * The suite switches libevent's debug mode on itself, by preloading
 * build/tests/grading/preload/debug_mode.so (it calls
 * event_enable_debug_mode() before main), so the program is checked in debug
 * mode whatever it does with --debug. Timing is measured here, from the
 * moments the tick lines arrive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtest.h"
#include "grading.h"

#define PROG evt_target("debug_me")

static void check_lines(const char *out, int count, const char *cmd)
{
    const char *s = out;
    char want[32];
    for (int i = 1; i <= count; i++) {
        snprintf(want, sizeof want, "tick %d\n", i);
        const char *at = strstr(s, want);
        cr_assert(at, "%s: the line \"tick %d\" is missing (or out of order); stdout was: %.300s",
                  cmd, i, out);
        s = at + strlen(want);
    }
    cr_assert(strstr(s, "done\n"), "%s: \"done\" must follow \"tick %d\"; stdout was: %.300s", cmd,
              count, out);
    cr_assert_eq(evt_count(out, "tick "), count,
                 "%s: expected exactly %d tick lines; stdout was: %.300s", cmd, count, out);
}

static void stderr_clean(const struct evt_run *r, const char *cmd)
{
    const char *e = strstr(r->err, "[err]");
    if (!e)
        e = strstr(r->err, "[warn]");
    cr_assert_null(e, "%s: libevent's debug mode reported: %.300s", cmd, e);
}

GRADED(debugging, t01_output_correct, 3, 10.0, "tick 1..N then done, exit 0")
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(PROG, "--count", "5", "--start-ms", "80"), NULL, NULL, 5), 0);
    cr_assert(!r.timed_out,
              "debug_me --count 5 --start-ms 80 was still running after 5 s (stdout: %.200s): "
              "run it with --debug to see why",
              r.out);
    cr_assert_eq(r.term_signal, 0,
                 "debug_me --count 5 --start-ms 80 was killed by signal %d (%s); stderr: %.300s",
                 r.term_signal, strsignal(r.term_signal), r.err);
    cr_assert_eq(r.exit_code, 0, "debug_me --count 5 --start-ms 80 exited with %d; stderr: %.300s",
                 r.exit_code, r.err);
    check_lines(r.out, 5, "debug_me --count 5 --start-ms 80");
    cr_assert(r.seconds >= 0.14,
              "debug_me --count 5 --start-ms 80 waits 80+40+20+10+5 ms in all, but it "
              "finished after %.0f ms",
              r.seconds * 1000);
    evt_run_free(&r);
}

GRADED(debugging, t02_ticks_speed_up, 2, 10.0, "each wait is half the one before")
{
    struct evt_proc p;
    cr_assert_eq(evt_spawn(&p, EVT_ARGV(PROG, "--count", "4", "--start-ms", "400"), NULL), 0);
    double t0 = evt_now(), t[5] = {t0};
    for (int i = 1; i <= 4; i++) {
        char want[16];
        snprintf(want, sizeof want, "tick %d", i);
        const char *line = evt_wait_line(&p, want, 3);
        t[i] = evt_now();
        if (!line) {
            evt_proc_free(&p);
            cr_assert_fail(
                "debug_me --count 4 --start-ms 400: no \"tick %d\" within 3 s of the one before "
                "(stdout so far: %.200s)",
                i, p.out);
        }
    }
    evt_proc_free(&p);
    double g1 = t[1] - t[0], g2 = t[2] - t[1], g4 = t[4] - t[3];
    cr_assert(g1 >= 0.37, "the first tick must come after 400 ms; it came after %.0f ms",
              g1 * 1000);
    cr_assert(g2 >= 0.17 && g2 < g1,
              "the second wait must be about 200 ms (half of 400); it was %.0f ms", g2 * 1000);
    /* g1 also holds the program's start-up, so compare waits after it: a
     * countdown that halves gives g4/g2 = 0.25, one that never shrinks 1.0. */
    cr_assert(g4 >= 0.04 && g4 < 0.6 * g2,
              "the fourth wait must be about 50 ms (a quarter of the second); "
              "it was %.0f ms after a second wait of %.0f ms",
              g4 * 1000, g2 * 1000);
}

GRADED(debugging, t03_clean_in_debug_mode, 4, 10.0,
       "no misuse: libevent's debug mode reports nothing")
{
    const char *pre = evt_prog("tests/grading/preload/debug_mode.so");
    cr_assert_eq(access(pre, R_OK), 0, "%s is missing: run 'make tests' (the suite needs it)", pre);
    char env[4200];
    snprintf(env, sizeof env, "LD_PRELOAD=%s", pre);
    const char *cmd = "debug_me --count 6 --start-ms 64 (in debug mode)";
    struct evt_run r;
    cr_assert_eq(
        evt_run(&r, EVT_ARGV(PROG, "--count", "6", "--start-ms", "64"), EVT_ENV(env), NULL, 5), 0);
    cr_assert(!r.timed_out, "%s was still running after 5 s; stdout: %.200s", cmd, r.out);
    stderr_clean(&r, cmd);
    cr_assert_eq(r.term_signal, 0, "%s was killed by signal %d (%s); stderr: %.300s", cmd,
                 r.term_signal, strsignal(r.term_signal), r.err);
    cr_assert_eq(r.exit_code, 0, "%s exited with %d; stderr: %.300s", cmd, r.exit_code, r.err);
    check_lines(r.out, 6, cmd);
    evt_run_free(&r);
}

GRADED(debugging, t04_valgrind_clean, 2, 15.0,
       "valgrind: no invalid access, no double free, no leak")
{
    if (access("/usr/bin/valgrind", X_OK) != 0)
        cr_skip_test("valgrind is not installed");
    char log[128];
    snprintf(log, sizeof log, "--log-file=/tmp/evlab-15-vg-%d.log", (int)getpid());
    struct evt_run r;
    cr_assert_eq(evt_run(&r,
                         EVT_ARGV("/usr/bin/valgrind", "-q", "--error-exitcode=99",
                                  "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
                                  log, PROG, "--count", "4", "--start-ms", "40"),
                         NULL, NULL, 8),
                 0);
    char report[2048] = "";
    FILE *f = fopen(log + strlen("--log-file="), "r");
    if (f) {
        report[fread(report, 1, sizeof report - 1, f)] = '\0';
        fclose(f);
    }
    unlink(log + strlen("--log-file="));
    cr_assert(r.exit_code == 0 && r.term_signal == 0,
              "under valgrind, debug_me --count 4 --start-ms 40 "
              "ended with exit code %d (signal %d); valgrind said:\n%s",
              r.exit_code, r.term_signal, report);
    check_lines(r.out, 4, "debug_me under valgrind");
    evt_run_free(&r);
}
