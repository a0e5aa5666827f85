/* Lesson 15: the claims of lessons/15-debugging/README.md, checked on the real
 * programs. Mistakes happen only in the programs' forked children. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evtest.h"

#define DIR "lessons/15-debugging/"

static struct evt_run run(const char *prog, const char *a1, const char *a2, const char *a3)
{
    struct evt_run r;
    const char *const argv[] = {evt_prog(prog), a1, a2, a3, NULL};
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 20), 0);
    return r;
}

/* The part of the output that belongs to step `name` (up to the next step). */
static char *section(const char *out, const char *name)
{
    const char *s = strstr(out, name);
    cr_assert(s, "no section '%s' in:\n%s", name, out);
    const char *e = strstr(s + 1, "\n== ");
    size_t n = e ? (size_t)(e - s) : strlen(s);
    return strndup(s, n);
}

static bool is_asan(void) { return strstr(evt_build_dir(), "asan") != NULL; }

static struct evt_run one(const char *mistake, bool debug)
{
    /* stderr merged into the right place: run each mistake alone */
    return run(DIR "debug_mode", "--mistake", mistake, debug ? NULL : "--no-debug");
}

Test(debug_mode, zeroed_event_is_refused_with_or_without_debug_mode)
{
    for (int d = 0; d < 2; d++) {
        struct evt_run r = one("zeroed", d);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_assert(strstr(r.err, "[warn] event_add: event has no event_base set."), "%s", r.err);
        cr_assert(strstr(r.out, "event_add on a zeroed struct returned -1"), "%s", r.out);
        cr_assert(strstr(r.out, "child exited 0"), "%s", r.out);
        evt_run_free(&r);
    }
}

Test(debug_mode, copied_event_caught_only_in_debug_mode)
{
    struct evt_run r = one("copied", true);
    cr_assert_eq(r.exit_code, 0, "the parent goes on: %s", r.err);
    cr_assert(
        strstr(r.err, "[err] event_debug_assert_is_setup_ called on a non-initialized event 0x"),
        "%s", r.err);
    cr_assert(strstr(r.out, "child killed by signal 6 (Aborted)"), "%s", r.out);
    cr_assert_null(strstr(r.out, "returned 0"), "%s", r.out);
    cr_assert(strstr(r.out, "the parent made no mistake and exits 0"));
    evt_run_free(&r);
    r = one("copied", false);
    cr_assert(strstr(r.out, "event_add on a copied struct event returned 0"), "%s", r.out);
    cr_assert(strstr(r.out, "child exited 0: libevent let the program go on"), "%s", r.out);
    cr_assert_eq(evt_count(r.err, "[err]"), 0, "%s", r.err);
    evt_run_free(&r);
}

Test(debug_mode, reassigning_a_pending_event)
{
    struct evt_run r = one("reassign", true);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(
        strstr(r.err, "[err] event_debug_assert_not_added_ called on an already added event 0x"),
        "%s", r.err);
    cr_assert(strstr(r.out, "child killed by signal 6 (Aborted)"), "%s", r.out);
    evt_run_free(&r);
    r = one("reassign", false);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "event_assign on a pending event returned; freeing the base"), "%s",
              r.out);
    cr_assert_null(strstr(r.out, "event_base_free returned"), "%s", r.out);
    cr_assert(strstr(r.out, "child hung and was killed by SIGALRM after 1 s"), "%s", r.out);
    evt_run_free(&r);
}

Test(debug_mode, use_after_free)
{
    struct evt_run r = one("use-after-free", true);
    cr_assert_eq(r.exit_code, 0, "the parent must survive: %s", r.err);
    bool libevent =
        strstr(r.err, "[err] event_debug_assert_is_setup_ called on a non-initialized event");
    bool asan = strstr(r.err, "AddressSanitizer");
    cr_assert(libevent || asan, "neither libevent's nor ASan's diagnostic:\n%s", r.err);
    cr_assert(strstr(r.out, "-> child killed by signal") || strstr(r.out, "-> child exited 1"),
              "%s", r.out);
    cr_assert_null(strstr(r.out, "event_add after event_free returned"), "%s", r.out);
    evt_run_free(&r);
    if (is_asan())
        return; /* without debug mode the outcome is whatever the allocator does */
    r = one("use-after-free", false);
    cr_assert(strstr(r.out, "event_add after event_free returned 0"), "%s", r.out);
    cr_assert(strstr(r.out, "child exited 0"), "%s", r.out);
    evt_run_free(&r);
}

/* Debug mode keys its table by address: a stale pointer to a freed event
 * whose address a new event took passes every check. */
Test(debug_mode, a_freed_event_whose_address_was_reused_goes_unnoticed)
{
    struct evt_run r = one("reused", true);
    cr_assert_eq(r.exit_code, 0, "the parent must survive: %s", r.err);
    if (is_asan()) { /* ASan quarantines freed memory: no reuse, so the bug is caught */
        cr_assert(strstr(r.err, "AddressSanitizer") ||
                      strstr(r.err, "event_debug_assert_is_setup_ called on a non-initialized"),
                  "%s", r.err);
        evt_run_free(&r);
        return;
    }
    cr_assert(strstr(r.out, "the new event is at the freed one's address"),
              "malloc did not reuse the address; the demonstration needs it:\n%s", r.out);
    cr_assert(strstr(r.out, "event_add through the stale pointer returned 0"), "%s", r.out);
    cr_assert(strstr(r.out, "child exited 0: libevent let the program go on"), "%s", r.out);
    cr_assert_eq(evt_count(r.err, "[err]"), 0, "debug mode says nothing: %s", r.err);
    evt_run_free(&r);
}

Test(debug_mode, blocking_fd)
{
    struct evt_run r = one("blocking-fd", true);
    cr_assert(strstr(r.err, "[err] event.c:385: Assertion flags & O_NONBLOCK failed in "
                            "event_debug_assert_socket_nonblocking_"),
              "%s", r.err);
    cr_assert(strstr(r.out, "child killed by signal 6 (Aborted)"), "%s", r.out);
    evt_run_free(&r);
    r = one("blocking-fd", false);
    cr_assert(strstr(r.out, "event_add with a blocking fd returned 0"), "%s", r.out);
    evt_run_free(&r);
}

Test(debug_mode, all_mistakes_in_one_run_parent_exits_0)
{
    struct evt_run r = run(DIR "debug_mode", NULL, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert_eq(evt_count(r.out, "  -> child "), 6, "%s", r.out);
    cr_assert_geq(evt_count(r.out, "killed by signal 6 (Aborted)"), is_asan() ? 3 : 4, "%s", r.out);
    cr_assert(strstr(r.out, "the parent made no mistake and exits 0"));
    evt_run_free(&r);
}

Test(log_callback, warnings_come_to_the_callback_not_stderr)
{
    struct evt_run r = run(DIR "log_callback", NULL, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "my log [WARN] event_add: event has no event_base set."), "%s", r.out);
    cr_assert_null(strstr(r.err, "[warn]"), "%s", r.err);
    cr_assert(strstr(r.out, "messages seen by my callback: debug=0 msg=0 warn=1 err=0"), "%s",
              r.out);
    evt_run_free(&r);
    r = run(DIR "log_callback", "--no-callback", NULL, NULL);
    cr_assert(strstr(r.err, "[warn] event_add: event has no event_base set."), "%s", r.err);
    cr_assert_null(strstr(r.out, "my log"), "%s", r.out);
    evt_run_free(&r);
}

Test(log_callback, debug_logging_only_when_enabled)
{
    struct evt_run r = run(DIR "log_callback", "--debug-log", NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "my log [DEBUG] event_add: event: 0x"), "%s", r.out);
    cr_assert_geq(evt_count(r.out, "my log [DEBUG]"), 5, "%s", r.out);
    cr_assert_null(strstr(r.out, "debug=0 "), "%s", r.out);
    evt_run_free(&r);
    r = run(DIR "log_callback", "--no-callback", "--debug-log", NULL);
    cr_assert_geq(evt_count(r.err, "[debug] "), 5, "%s", r.err);
    evt_run_free(&r);
}

Test(log_callback, fatal_callback_runs_then_libevent_exits)
{
    struct evt_run r = run(DIR "log_callback", NULL, NULL, NULL);
    char *s = section(r.out, "== 4.");
    cr_assert(strstr(s, "my log [ERR] event_enable_debug_mode must be called *before* creating any "
                        "events or event_bases"),
              "%s", s);
    cr_assert(strstr(s, "my fatal callback: err=0x1"), "%s", s);
    cr_assert_null(strstr(s, "child: still running?"), "%s", s);
    cr_assert(strstr(s, "child exited with status 1"), "%s", s);
    free(s);
    evt_run_free(&r);
}

/* Without a fatal callback the same fatal error exits 1: libevent aborts only
 * for its internal assertions (log.c, event_exit). */
Test(log_callback, without_a_fatal_callback_the_error_exits_1_not_abort)
{
    struct evt_run r = run(DIR "log_callback", "--no-fatal-callback", NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char *s = section(r.out, "== 4.");
    cr_assert(strstr(s, "must be called *before* creating any events"), "%s", s);
    cr_assert_null(strstr(s, "my fatal callback"), "%s", s);
    cr_assert_null(strstr(s, "child: still running?"), "%s", s);
    cr_assert(strstr(s, "child exited with status 1"), "exit(1), not abort():\n%s", s);
    cr_assert_null(strstr(s, "killed by signal"), "%s", s);
    free(s);
    evt_run_free(&r);
}

/* event_set_mem_functions: libevent's allocations go through our counters,
 * and all of them come back -- unless an event_free() is skipped. */
Test(mem_functions, every_block_comes_back_and_a_skipped_free_shows)
{
    struct evt_run r = run(DIR "mem_functions", NULL, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    const char *s = strstr(r.out, "after event_base_new():");
    cr_assert_not_null(s, "%s", r.out);
    long blocks = -1;
    cr_assert_eq(sscanf(s, "after event_base_new(): live: %ld blocks", &blocks), 1, "%s", s);
    cr_assert_gt(blocks, 0, "the base was allocated through count_malloc:\n%s", r.out);
    cr_assert(strstr(r.out, "after libevent_global_shutdown():            live:   0 blocks,      0 "
                            "bytes"),
              "%s", r.out);
    cr_assert(strstr(r.out, "nothing left"), "%s", r.out);
    evt_run_free(&r);

    r = run(DIR "mem_functions", "--leak", NULL, NULL);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    cr_assert(strstr(r.out, "after libevent_global_shutdown():            live:   1 blocks"),
              "the skipped event_free leaves one block:\n%s", r.out);
    evt_run_free(&r);
}

static bool have_valgrind(void) { return access("/usr/bin/valgrind", X_OK) == 0; }

static struct evt_run valgrind(const char *arg)
{
    struct evt_run r;
    const char *const argv[] = {"/usr/bin/valgrind",
                                "--error-exitcode=99",
                                "--leak-check=full",
                                "--errors-for-leak-kinds=definite,indirect",
                                evt_prog(DIR "clean_run"),
                                arg,
                                NULL};
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 60), 0);
    return r;
}

Test(clean_run, valgrind_reports_nothing, .timeout = 120)
{
    if (!have_valgrind() || is_asan())
        cr_skip_test("valgrind missing, or an ASan build (valgrind cannot run it)");
    struct evt_run r = valgrind(NULL);
    cr_assert_eq(r.exit_code, 0, "valgrind found something:\n%s", r.err);
    cr_assert(strstr(r.out, "pipe reader got 4 byte(s)"), "%s", r.out);
    cr_assert(strstr(r.err, "All heap blocks were freed"), "%s", r.err);
    cr_assert(strstr(r.err, "ERROR SUMMARY: 0 errors"), "%s", r.err);
    evt_run_free(&r);
}

/* Separate, so the two valgrind runs can go side by side. */
Test(clean_run, valgrind_catches_a_skipped_event_free, .timeout = 120)
{
    if (!have_valgrind() || is_asan())
        cr_skip_test("valgrind missing, or an ASan build (valgrind cannot run it)");
    struct evt_run r = valgrind("--leak");
    cr_assert_eq(r.exit_code, 99, "valgrind must catch the skipped event_free:\n%s", r.err);
    cr_assert(strstr(r.err, "definitely lost"), "%s", r.err);
    evt_run_free(&r);
}

Test(clean_run, runs_cleanly_in_this_build)
{
    /* In the ASan build, LeakSanitizer checks the same at exit. */
    struct evt_run r = run(DIR "clean_run", NULL, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "every event, the base, and libevent's globals freed"), "%s", r.out);
    cr_assert_eq(r.err_len, 0, "nothing on stderr: %s", r.err);
    evt_run_free(&r);
}

Test(debugging, help_bad_flags_and_step_mode)
{
    const char *progs[] = {"debug_mode", "log_callback", "clean_run", "mem_functions"};
    char path[256];
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, DIR "%s", progs[i]);
        struct evt_run r = run(path, "--help", NULL, NULL);
        cr_assert_eq(r.exit_code, 0, "%s --help", progs[i]);
        cr_assert(strstr(r.out, "usage:") && strstr(r.out, "--step"), "%s", r.out);
        evt_run_free(&r);
        r = run(path, "--bogus", NULL, NULL);
        cr_assert_eq(r.exit_code, 2, "%s --bogus", progs[i]);
        cr_assert(strstr(r.err, "usage:"), "%s", r.err);
        evt_run_free(&r);
    }
    struct evt_run r = run(DIR "debug_mode", "--mistake", "typo", NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "unknown --mistake 'typo'"), "%s", r.err);
    evt_run_free(&r);
    /* step mode: Enter once (first mistake runs), then q */
    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(evt_prog(DIR "debug_mode"), "--step"), NULL, "\nq\n", 20),
                 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "== 2."), "%s", r.out);
    cr_assert_eq(evt_count(r.out, "-> child"), 1, "%s", r.out);
    cr_assert_geq(evt_count(r.out, "[Enter: run this step"), 2);
    evt_run_free(&r);
}

/* Step mode must not change the lesson: the same narration with 2 s at every
 * prompt (numbers and addresses masked). */
Test(step_mode, clean_run_mem_functions_and_log_callback_show_the_same_at_a_slow_pace,
     .timeout = 150)
{
    static const char *const numbers[] = {"-?[0-9]+", NULL};
    evt_assert_step_same(EVT_ARGV(evt_prog(DIR "clean_run")), NULL, numbers, 2.0, 60);
    evt_assert_step_same(EVT_ARGV(evt_prog(DIR "mem_functions")), NULL, numbers, 2.0, 60);
    evt_assert_step_same(EVT_ARGV(evt_prog(DIR "log_callback")), NULL, numbers, 2.0, 60);
}
