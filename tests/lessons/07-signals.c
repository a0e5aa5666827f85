/* Lesson 07: the claims of lessons/07-signals/README.md. Real signals are sent
 * to the real programs once they say they are ready. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtest.h"

#define DIR "lessons/07-signals/"

static void spawn_ready(struct evt_proc *p, const char *const argv[], double timeout)
{
    cr_assert_eq(evt_spawn(p, argv, NULL), 0);
    cr_assert(evt_wait_line(p, "ready:", timeout), "never said ready; stdout: %s\nstderr: %s",
              p->out, p->err);
}

Test(graceful_shutdown, sighup_keeps_running_sigterm_exits_0)
{
    struct evt_proc p;
    spawn_ready(&p, EVT_ARGV(evt_prog(DIR "graceful_shutdown")), 10);
    kill(p.pid, SIGHUP);
    cr_assert(evt_wait_line(&p, "still running", 10), "%s", p.out);
    kill(p.pid, SIGTERM);
    int st = evt_wait_exit(&p, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x\n%s\n%s", st, p.out, p.err);
    cr_assert(strstr(p.out, "got Hangup (EV_SIGNAL), in the loop"), "%s", p.out);
    cr_assert(strstr(p.out, "got Terminated (EV_SIGNAL)"), "%s", p.out);
    cr_assert(strstr(p.out, "loop returned 0 (got_exit=1)"), "%s", p.out);
    cr_assert(strstr(p.out, "libevent_global_shutdown() done"), "%s", p.out);
    evt_proc_free(&p);
}

Test(graceful_shutdown, sigint_exits_0)
{
    struct evt_proc p;
    spawn_ready(&p, EVT_ARGV(evt_prog(DIR "graceful_shutdown")), 10);
    kill(p.pid, SIGINT);
    int st = evt_wait_exit(&p, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x\n%s", st, p.out);
    cr_assert(strstr(p.out, "got Interrupt (EV_SIGNAL)"), "%s", p.out);
    cr_assert(strstr(p.out, "loop returned 0 (got_exit=1)"), "%s", p.out);
    evt_proc_free(&p);
}

static bool have_valgrind(void) { return access("/usr/bin/valgrind", X_OK) == 0; }

Test(graceful_shutdown, clean_under_valgrind, .timeout = 90)
{
    if (!have_valgrind() || strstr(evt_build_dir(), "asan"))
        cr_skip_test("valgrind missing, or an ASan build (valgrind cannot run it)");
    struct evt_proc p;
    spawn_ready(&p,
                EVT_ARGV("/usr/bin/valgrind", "--error-exitcode=99", "--leak-check=full",
                         "--errors-for-leak-kinds=definite,indirect",
                         evt_prog(DIR "graceful_shutdown")),
                60);
    kill(p.pid, SIGTERM); /* valgrind runs the program in this very process */
    int st = evt_wait_exit(&p, 60);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x (99: valgrind found errors)\n%s",
              st, p.err);
    cr_assert(strstr(p.err, "All heap blocks were freed"), "%s", p.err);
    cr_assert(strstr(p.err, "ERROR SUMMARY: 0 errors"), "%s", p.err);
    evt_proc_free(&p);
}

Test(self_pipe, each_signal_handled_in_the_loop)
{
    struct evt_proc p;
    spawn_ready(&p, EVT_ARGV(evt_prog(DIR "self_pipe")), 10);
    for (int i = 1; i <= 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "SIGUSR1 number %d handled", i);
        kill(p.pid, SIGUSR1);
        cr_assert(evt_wait_line(&p, want, 10), "%s", p.out);
    }
    kill(p.pid, SIGTERM);
    int st = evt_wait_exit(&p, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x\n%s", st, p.out);
    cr_assert(strstr(p.out, "loop: SIGTERM, leaving the loop"), "%s", p.out);
    cr_assert(strstr(p.out, "loop returned 0 after 3 SIGUSR1"), "%s", p.out);
    evt_proc_free(&p);
}

/* A full pipe drops SIGTERM's byte (write: EAGAIN). If the byte were the
 * only record of SIGTERM the loop would read the SIGUSR1 bytes and wait
 * forever; the sig_atomic_t flag makes it leave. */
Test(self_pipe, a_full_pipe_drops_the_byte_but_not_the_sigterm)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(DIR "self_pipe"), "--fill-pipe"), NULL, NULL, 20),
                 0);
    cr_assert_not(r.timed_out, "never left the loop: SIGTERM was lost with its byte\n%s", r.out);
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "SIGTERM handled: term_requested=1, byte dropped=1"), "%s", r.out);
    cr_assert(strstr(r.out, "loop: the pipe was full: at least one byte was dropped"), "%s", r.out);
    cr_assert(strstr(r.out, "loop: SIGTERM, leaving the loop"), "%s", r.out);
    const char *full = strstr(r.out, "pipe full after ");
    cr_assert(full, "%s", r.out);
    long filled = strtol(full + strlen("pipe full after "), NULL, 10);
    cr_assert_gt(filled, 0, "%s", r.out);
    char want[96];
    snprintf(want, sizeof want, "loop returned 0 after %ld SIGUSR1", filled);
    cr_assert(strstr(r.out, want), "every byte in the pipe was read: %s\n%s", want, r.out);
    evt_run_free(&r);
}

static void check_two_bases(const char *method)
{
    struct evt_run r;
    cr_assert_eq(
        evt_run(&r, EVT_ARGV(evt_prog(DIR "two_bases"), "--method", method), NULL, NULL, 15), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char warn[128];
    snprintf(warn, sizeof warn, "Only one can have signals at a time with the %s backend", method);
    cr_assert(strstr(r.err, warn), "stderr: %s", r.err);
    cr_assert_eq(evt_count(r.out, "base A: SIGUSR1 callback ran"), 1, "%s", r.out);
    cr_assert_eq(evt_count(r.out, "base B: SIGUSR1 callback ran"), 1, "%s", r.out);
    const char *s3 = strstr(r.out, "== 3."), *s4 = strstr(r.out, "== 4.");
    cr_assert(s3 && s4);
    cr_assert(strstr(r.out, "base A: SIGUSR1") < s3, "A got the signal during its own loop");
    cr_assert(strstr(r.out, "base B: SIGUSR1") > s4, "B never saw A's signal late");
    cr_assert(
        strstr(r.out,
               "signals sent: 2; base A saw 1, base B saw 1: each signal reached exactly one base"),
        "%s", r.out);
    evt_run_free(&r);
}

Test(two_bases, one_base_gets_each_signal_epoll) { check_two_bases("epoll"); }
Test(two_bases, one_base_gets_each_signal_poll_and_select)
{
    check_two_bases("poll");
    check_two_bases("select");
}

Test(two_bases, external_signal_reaches_the_running_base)
{
    struct evt_proc p;
    spawn_ready(&p, EVT_ARGV(evt_prog(DIR "two_bases"), "--external"), 10);
    kill(p.pid, SIGUSR1);
    cr_assert(evt_wait_line(&p, "base A: SIGUSR1 callback ran", 10), "%s", p.out);
    cr_assert(evt_wait_line(&p, "ready: base B's loop is running", 10), "%s", p.out);
    cr_assert_null(strstr(p.out, "base B: SIGUSR1"), "%s", p.out);
    kill(p.pid, SIGUSR1);
    int st = evt_wait_exit(&p, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x\n%s", st, p.out);
    cr_assert(strstr(p.out, "base A saw 1, base B saw 1"), "%s", p.out);
    evt_proc_free(&p);
}

Test(signals, help_bad_flags_and_step_mode)
{
    const char *progs[] = {"graceful_shutdown", "self_pipe", "two_bases"};
    char path[256];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, DIR "%s", progs[i]);
        evt_assert_usage(evt_prog(path), EVT_ARGV("--step"));
    }
    struct evt_run r;
    cr_assert_eq(
        evt_run(&r, EVT_ARGV(evt_prog(DIR "two_bases"), "--method", "kqueue"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 2, "%s", r.err);
    cr_assert(strstr(r.err, "--method 'kqueue' is not a backend"), "%s", r.err);
    evt_run_free(&r);
    /* step mode: Enter once, then q before the loop ever runs */
    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(evt_prog(DIR "two_bases"), "--step"), NULL, "\nq\n", 10),
                 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "== 2."), "%s", r.out);
    cr_assert_null(strstr(r.out, "callback ran"), "%s", r.out);
    cr_assert_geq(evt_count(r.out, "[Enter: run this step"), 2);
    evt_run_free(&r);
}
