/* Lesson 06: the claims of lessons/06-timeouts/README.md, checked on the real
 * programs. No timing asserts except generous lower bounds. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtest.h"

#define DIR "lessons/06-timeouts/"

static struct evt_run run_env(const char *prog, const char *const env[], const char *a1,
                              const char *a2, const char *a3, const char *a4)
{
    struct evt_run r;
    const char *const argv[] = {evt_prog(prog), a1, a2, a3, a4, NULL};
    cr_assert_eq(evt_run(&r, argv, env, NULL, 15), 0);
    cr_assert_eq(r.exit_code, 0, "%s exited %d: %s", prog, r.exit_code, r.err);
    return r;
}
#define run(prog, ...) run_env(prog, NULL, __VA_ARGS__)

static void in_order(const char *out, const char *p, const char *q)
{
    const char *a = strstr(out, p), *b = strstr(out, q);
    cr_assert(a && b && a < b, "expected '%s' before '%s' in:\n%s", p, q, out);
}

Test(timers, one_shot_once_persistent_until_deleted)
{
    struct evt_run r = run(DIR "timers", "--ticks", "4", "--interval-ms", "15");
    cr_assert_eq(evt_count(r.out, "one-shot fired"), 1, "%s", r.out);
    cr_assert(strstr(r.out, "one-shot fired (EV_TIMEOUT); it is now not pending"), "%s", r.out);
    cr_assert_eq(evt_count(r.out, "(EV_TIMEOUT); the ticker is pending"), 4, "%s", r.out);
    cr_assert(strstr(r.out, "tick 4: event_del(ticker); it is now not pending"), "%s", r.out);
    cr_assert_null(strstr(r.out, "tick 5"));
    cr_assert(strstr(r.out, "dispatch returned 1: 4 tick(s)"), "%s", r.out);
    evt_run_free(&r);
}

Test(read_timeout, read_or_timeout_never_both)
{
    struct evt_run r = run(DIR "read_timeout", "--write-after-ms", "20", "--timeout-ms", "3000");
    cr_assert(strstr(r.out, "pending on: EV_TIMEOUT|EV_READ"), "%s", r.out);
    cr_assert(strstr(r.out, "reader: EV_READ fired (what=EV_READ): read 5 byte(s)"), "%s", r.out);
    cr_assert_null(strstr(r.out, "EV_TIMEOUT fired"));
    cr_assert(strstr(r.out, "the reader is not pending"));
    evt_run_free(&r);

    r = run(DIR "read_timeout", "--write-after-ms", "3000", "--timeout-ms", "20");
    cr_assert(strstr(r.out, "reader: EV_TIMEOUT fired (what=EV_TIMEOUT)"), "%s", r.out);
    cr_assert_null(strstr(r.out, "EV_READ fired"));
    in_order(r.out, "EV_TIMEOUT fired", "writer: wrote");
    evt_run_free(&r);

    r = run(DIR "read_timeout", "--no-write", "--timeout-ms", "20", NULL);
    cr_assert(strstr(r.out, "EV_TIMEOUT fired"), "%s", r.out);
    evt_run_free(&r);
}

Test(once, null_tv_first_fd_timeout_and_refusals)
{
    struct evt_run r = run(DIR "once", NULL, NULL, NULL, NULL);
    in_order(r.out, "'tv NULL' ran with EV_TIMEOUT", "'after 30 ms' ran with EV_TIMEOUT");
    cr_assert(strstr(r.out, "'empty pipe' ran with EV_TIMEOUT"), "%s", r.out);
    cr_assert(strstr(r.out, "'pipe with data' ran with EV_READ"), "%s", r.out);
    cr_assert(strstr(r.out, "event_base_once(EV_SIGNAL) returned -1"), "%s", r.out);
    cr_assert(strstr(r.out, "event_base_once(EV_TIMEOUT|EV_PERSIST) returned -1"), "%s", r.out);
    cr_assert_null(strstr(r.out, "'signal' ran"));
    cr_assert_null(strstr(r.out, "'persist' ran"));
    evt_run_free(&r);
}

static bool have_valgrind(void)
{
    return access("/usr/bin/valgrind", X_OK) == 0 || access("/usr/local/bin/valgrind", X_OK) == 0;
}

Test(once, base_free_frees_a_never_run_once_event, .timeout = 60)
{
    if (!have_valgrind() || strstr(evt_build_dir(), "asan"))
        cr_skip_test("valgrind missing, or an ASan build (valgrind cannot run it)");
    struct evt_run r;
    const char *const argv[] = {"/usr/bin/env",
                                "valgrind",
                                "--error-exitcode=99",
                                "--leak-check=full",
                                "--errors-for-leak-kinds=definite,indirect",
                                evt_prog(DIR "once"),
                                NULL};
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 50), 0);
    cr_assert_eq(r.exit_code, 0, "valgrind: %s", r.err);
    cr_assert(strstr(r.out, "scheduled for an hour from now"));
    cr_assert(strstr(r.err, "All heap blocks were freed") ||
                  strstr(r.err, "definitely lost: 0 bytes"),
              "%s", r.err);
    evt_run_free(&r);
}

Test(common_timeout, queue_keeps_order_heap_does_not)
{
    struct evt_run r = run(DIR "common_timeout", NULL, NULL, NULL, NULL);
    cr_assert(strstr(r.out, "tv_usec=0x5000c350"), "%s", r.out);
    cr_assert(strstr(r.out, "firing order: 0 1 2 3 4 5 6 7\n"), "%s", r.out);
    cr_assert(strstr(r.out, "8 timers fired"));
    evt_run_free(&r);

    r = run(DIR "common_timeout", "--no-common", NULL, NULL, NULL);
    cr_assert(strstr(r.out, "tv_usec=0x0000c350"), "%s", r.out);
    const char *o = strstr(r.out, "firing order:");
    cr_assert(o, "%s", r.out);
    cr_assert_null(strstr(o, "firing order: 0 1 2 3 4 5 6 7\n"),
                   "the heap kept insertion order?\n%s", r.out);
    for (int i = 0; i < 8; i++) {
        char want[8];
        snprintf(want, sizeof want, " %d", i);
        cr_assert(strstr(o, want), "timer %d missing:\n%s", i, r.out);
    }
    cr_assert(strstr(r.out, "8 timers fired"));
    evt_run_free(&r);
}

Test(cached_time, cache_stands_still_inside_a_callback)
{
    struct evt_run r = run(DIR "cached_time", NULL, NULL, NULL, NULL);
    cr_assert(strstr(r.out, "two calls 30 ms apart differ by the full time"), "%s", r.out);
    cr_assert(strstr(r.out, "gettimeofday moved the full time, the cached time moved 0 ms"), "%s",
              r.out);
    cr_assert(
        strstr(r.out, "after event_base_update_cache_time: the cached time moved the full time"),
        "%s", r.out);
    evt_run_free(&r);
}

Test(cached_time, precise_timer_opens_a_timerfd_on_epoll)
{
    struct evt_run r = run_env(DIR "cached_time", EVT_ENV("EVENT_PRECISE_TIMER", "EVENT_NOEPOLL"),
                               NULL, NULL, NULL, NULL);
    cr_assert(strstr(r.out, "method: epoll"), "%s", r.out);
    cr_assert(strstr(r.out, "timerfd open: 0"), "%s", r.out);
    cr_assert(strstr(r.out, "resolution here: "), "%s", r.out);
    evt_run_free(&r);
    r = run_env(DIR "cached_time", EVT_ENV("EVENT_PRECISE_TIMER=1", "EVENT_NOEPOLL"), NULL, NULL,
                NULL, NULL);
    cr_assert(strstr(r.out, "timerfd open: 1"), "%s", r.out);
    evt_run_free(&r);
    r = run_env(DIR "cached_time", EVT_ENV("EVENT_PRECISE_TIMER", "EVENT_NOEPOLL"), "--precise",
                NULL, NULL, NULL);
    cr_assert(strstr(r.out, "timerfd open: 1"), "%s", r.out);
    evt_run_free(&r);
    r = run_env(DIR "cached_time", EVT_ENV("EVENT_PRECISE_TIMER", "EVENT_NOEPOLL=1"), "--precise",
                NULL, NULL, NULL);
    cr_assert(strstr(r.out, "method: poll"), "%s", r.out);
    cr_assert(strstr(r.out, "timerfd open: 0"), "%s", r.out);
    evt_run_free(&r);
}

static double last_late(const char *out, int tick)
{
    char key[32];
    snprintf(key, sizeof key, "tick %2d planned", tick);
    const char *p = strstr(out, key);
    cr_assert(p, "no '%s' in:\n%s", key, out);
    p = strstr(p, " late ");
    cr_assert(p);
    return atof(p + 6);
}

Test(drift, re_adding_accumulates_lateness)
{
    struct evt_run r = run(DIR "drift", "--re-add", "--work-ms", "10", NULL);
    cr_assert_eq(evt_count(r.out, " ms late "), 10, "%s", r.out);
    /* nine re-adds each start after 10 ms of work; the coarse clock may take
     * back up to 4 ms per tick: at least 90 - 40 ms late */
    double late = last_late(r.out, 10);
    cr_assert_geq(late, 50.0, "the 10th re-added tick was only %.1f ms late:\n%s", late, r.out);
    evt_run_free(&r);
    r = run(DIR "drift", "--ticks", "3", NULL, NULL);
    cr_assert_eq(evt_count(r.out, " ms late "), 3, "%s", r.out);
    cr_assert(strstr(r.out, "EV_PERSIST"));
    evt_run_free(&r);
}

/* "A timer never fires before its time" is false on libevent's default
 * coarse clock. Early ticks depend on the scheduler, so up to 6 runs may
 * look for one; with EVENT_PRECISE_TIMER none may ever be early. */
static int early_ticks(const char *const env[])
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r,
                         EVT_ARGV(evt_prog(DIR "drift"), "--ticks", "60", "--interval-ms", "7",
                                  "--work-ms", "0", "--late-clock"),
                         env, NULL, 30),
                 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *e = strstr(r.out, "early ticks: ");
    cr_assert(e, "%s", r.out);
    int n = atoi(e + strlen("early ticks: "));
    evt_run_free(&r);
    return n;
}

Test(drift, coarse_clock_fires_early_precise_clock_never, .timeout = 120)
{
    int coarse = 0;
    for (int i = 0; i < 6 && coarse == 0; i++)
        coarse = early_ticks(EVT_ENV("EVENT_PRECISE_TIMER"));
    cr_assert_gt(coarse, 0, "no early tick in 6 runs on the coarse clock");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(early_ticks(EVT_ENV("EVENT_PRECISE_TIMER=1")), 0,
                     "a tick came early on CLOCK_MONOTONIC");
}

/* "Lateness does not add up" holds only while no tick is missed: with 30 ms
 * of work per 20 ms tick, each tick starts >= 30 ms after the previous one,
 * so lateness grows by >= 10 ms a tick even with EV_PERSIST. */
Test(drift, persist_falls_behind_once_ticks_are_missed)
{
    struct evt_run r = run(DIR "drift", "--work-ms", "30", NULL, NULL);
    double first = last_late(r.out, 1), last = last_late(r.out, 10);
    cr_assert_geq(last - first, 60.0, "lateness %.1f -> %.1f ms:\n%s", first, last, r.out);
    cr_assert(strstr(r.out, "even EV_PERSIST falls further behind"), "%s", r.out);
    evt_run_free(&r);
}

Test(cached_time, prints_the_resolution_of_the_clock_in_use)
{
    struct evt_run r =
        run_env(DIR "cached_time", EVT_ENV("EVENT_PRECISE_TIMER"), NULL, NULL, NULL, NULL);
    const char *c = strstr(r.out, "the timers' clock: CLOCK_MONOTONIC_COARSE, resolution here: ");
    cr_assert(c, "%s", r.out);
    cr_assert_gt(atol(c + strlen("the timers' clock: CLOCK_MONOTONIC_COARSE, resolution here: ")),
                 1, "%s", r.out);
    evt_run_free(&r);
    /* any value turns it on, "0" included: libevent only asks if it is set */
    const char *on[] = {"EVENT_PRECISE_TIMER=1", "EVENT_PRECISE_TIMER=0"};
    for (int i = 0; i < 2; i++) {
        r = run_env(DIR "cached_time", EVT_ENV(on[i]), NULL, NULL, NULL, NULL);
        cr_assert(strstr(r.out, "the timers' clock: CLOCK_MONOTONIC, resolution here: 1 ns"),
                  "%s: %s", on[i], r.out);
        evt_run_free(&r);
    }
    r = run_env(DIR "cached_time", EVT_ENV("EVENT_PRECISE_TIMER"), "--precise", NULL, NULL, NULL);
    cr_assert(strstr(r.out, "the timers' clock: CLOCK_MONOTONIC, resolution here: 1 ns"), "%s",
              r.out);
    evt_run_free(&r);
}

/* The lesson shows the ordering only: no speed claim it does not show. */
Test(common_timeout, no_unshown_speed_claim)
{
    const char *files[] = {"lessons/06-timeouts/README.md", "lessons/06-timeouts/common_timeout.c",
                           "slides/06-timeouts.md"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *buf = evt_read_file(files[i]);
        cr_assert_null(strstr(buf, "O(1)"), "%s claims O(1) adds", files[i]);
        free(buf);
    }
}

Test(timeouts, help_bad_flags_and_bad_values)
{
    const char *progs[] = {"timers",         "read_timeout", "once",
                           "common_timeout", "cached_time",  "drift"};
    char path[256];
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        snprintf(path, sizeof path, DIR "%s", progs[i]);
        evt_assert_usage(evt_prog(path), EVT_ARGV("--step"));
    }
    struct evt_run r;
    cr_assert_eq(
        evt_run(&r, EVT_ARGV(evt_prog(DIR "read_timeout"), "--timeout-ms", "soon"), NULL, NULL, 10),
        0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--timeout-ms wants"), "%s", r.err);
    evt_run_free(&r);
    /* range before cast: 2^32 + 300 must not run as 300 */
    const char *const bad[][3] = {{"read_timeout", "--timeout-ms", "4294967596"},
                                  {"read_timeout", "--write-after-ms", "0"},
                                  {"timers", "--ticks", "4294967297"},
                                  {"drift", "--work-ms", "-1"},
                                  {"common_timeout", "--count", "0"},
                                  {"cached_time", "--busy-ms", "4294967326"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, DIR "%s", bad[i][0]);
        cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(path), bad[i][1], bad[i][2]), NULL, NULL, 10),
                     0);
        cr_assert_eq(r.exit_code, 2, "%s %s %s accepted", bad[i][0], bad[i][1], bad[i][2]);
        cr_assert(strstr(r.err, "wants a whole number"), "%s", r.err);
        evt_run_free(&r);
    }
}

Test(timeouts, step_mode_waits_for_enter_on_a_tty)
{
    struct evt_run r;
    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(evt_prog(DIR "timers"), "--step"), NULL, "\nq\n", 10), 0);
    cr_assert_eq(r.exit_code, 0, "output: %s", r.out);
    cr_assert(strstr(r.out, "== 2."), "%s", r.out);
    cr_assert_null(strstr(r.out, "tick 1"), "q must stop before the loop runs:\n%s", r.out);
    cr_assert_geq(evt_count(r.out, "[Enter: run this step"), 2);
    evt_run_free(&r);
}

/* Waiting 2 s at every prompt changes nothing. Before, read_timeout timed
 * out although the writer wrote, and drift's ticks were ~2 s late. Times
 * under a second are masked; a 2 s shift is not. */
static const char *const time_masks[] = {
    " +-?[0-9]{1,3}[.][0-9] ms(  EARLY)?", /* early: by chance */
    "took [0-9]+ ms",
    "early ticks: [0-9]+",
    "  EARLY",
    "in [0-9]+ us",
    NULL};
#define STEP_SAME(name, ...)                                                                       \
    Test(step_mode, name, .timeout = 60)                                                           \
    {                                                                                              \
        evt_assert_step_same(EVT_ARGV(__VA_ARGS__), EVT_ENV("EVENT_PRECISE_TIMER"), time_masks,    \
                             2.0, 40);                                                             \
    }
STEP_SAME(read_timeout, evt_prog(DIR "read_timeout"))
STEP_SAME(read_timeout_times_out, evt_prog(DIR "read_timeout"), "--no-write", "--timeout-ms", "50")
STEP_SAME(drift, evt_prog(DIR "drift"))
STEP_SAME(drift_re_add, evt_prog(DIR "drift"), "--re-add")
STEP_SAME(timers, evt_prog(DIR "timers"))
STEP_SAME(once, evt_prog(DIR "once"))
STEP_SAME(common_timeout, evt_prog(DIR "common_timeout"))
STEP_SAME(cached_time, evt_prog(DIR "cached_time"))
