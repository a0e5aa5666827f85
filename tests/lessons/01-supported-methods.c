/* Lesson 01: the claims of lessons/01-supported-methods/README.md, checked on
 * the real program. */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <string.h>

#include "evtest.h"

#define PROG evt_prog("lessons/01-supported-methods/supported_methods")

static struct evt_run run_with(const char *const env[], const char *arg)
{
    struct evt_run r;
    const char *const argv[] = {PROG, arg, NULL};
    cr_assert_eq(evt_run(&r, argv, env, NULL, 10), 0);
    return r;
}

Test(supported_methods, lists_version_and_three_linux_methods_in_order)
{
    struct evt_run r = run_with(EVT_ENV("EVENT_NOEPOLL", "EVENT_NOPOLL", "EVENT_NOSELECT"), NULL);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "runtime libevent:  2.1."), "%s", r.out);
    const char *e = strstr(r.out, "1. epoll"), *p = strstr(r.out, "2. poll"),
               *s = strstr(r.out, "3. select");
    cr_assert(e && p && s && e < p && p < s, "order epoll, poll, select:\n%s", r.out);
    const char *list = strstr(r.out, "== 2."), *end = strstr(r.out, "(the list is fixed");
    cr_assert(list && end);
    cr_assert_null(memmem(list, (size_t)(end - list), "kqueue", 6), "Linux has no kqueue");
    cr_assert(strstr(r.out, "the new base uses: epoll"), "%s", r.out);
    evt_run_free(&r);
}

Test(supported_methods, env_disables_a_method_but_not_the_list)
{
    struct evt_run r = run_with(EVT_ENV("EVENT_NOEPOLL=1"), NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "1. epoll"), "the supported list still has epoll");
    cr_assert(strstr(r.out, "the new base uses: poll"), "%s", r.out);
    evt_run_free(&r);

    /* Only presence counts: "0" disables epoll too. */
    r = run_with(EVT_ENV("EVENT_NOEPOLL=0"), NULL);
    cr_assert(strstr(r.out, "the new base uses: poll"), "%s", r.out);
    evt_run_free(&r);

    r = run_with(EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1"), NULL);
    cr_assert(strstr(r.out, "the new base uses: select"), "%s", r.out);
    evt_run_free(&r);
}

Test(supported_methods, show_method_logs_the_choice)
{
    struct evt_run r = run_with(EVT_ENV("EVENT_SHOW_METHOD=1", "EVENT_NOEPOLL=1"), NULL);
    cr_assert(strstr(r.err, "[msg] libevent using: poll"), "stderr was: %s", r.err);
    evt_run_free(&r);
}

Test(supported_methods, all_disabled_is_a_clear_error_not_a_crash)
{
    struct evt_run r =
        run_with(EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1", "EVENT_NOSELECT=1"), NULL);
    cr_assert_eq(r.term_signal, 0, "must not crash");
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err, "no event mechanism available"), "libevent's own warning: %s", r.err);
    cr_assert(strstr(r.err, "error: event_base_new_with_config() returned NULL"), "%s", r.err);
    evt_run_free(&r);
}

Test(supported_methods, ignore_env_flag_overrides_the_environment)
{
    struct evt_run r =
        run_with(EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1", "EVENT_NOSELECT=1"), "--ignore-env");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "the new base uses: epoll"), "%s", r.out);
    evt_run_free(&r);
}

/* EVENT_SHOW_METHOD is read even under EVENT_BASE_FLAG_IGNORE_ENV (event.c
 * checks it unconditionally), and any value, "0" too, turns it on. */
Test(supported_methods, show_method_is_not_covered_by_ignore_env)
{
    struct evt_run r = run_with(EVT_ENV("EVENT_SHOW_METHOD=0", "EVENT_NOEPOLL=1"), "--ignore-env");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "the new base uses: epoll"), "NOEPOLL ignored: %s", r.out);
    cr_assert(strstr(r.err, "[msg] libevent using: epoll"),
              "SHOW_METHOD=0 must still log, under IGNORE_ENV too; stderr: %s", r.err);
    cr_assert(strstr(r.out, "IGNORE_ENV does not"), "%s", r.out);
    evt_run_free(&r);
    r = run_with(EVT_ENV("EVENT_SHOW_METHOD"), "--ignore-env");
    cr_assert_null(strstr(r.err, "libevent using"), "%s", r.err);
    cr_assert_null(strstr(r.out, "IGNORE_ENV does not"), "%s", r.out);
    evt_run_free(&r);
}

Test(supported_methods, names_the_other_systems_backends_windows_included)
{
    struct evt_run r = run_with(NULL, NULL);
    cr_assert(strstr(r.out, "kqueue (BSD, macOS)"), "%s", r.out);
    cr_assert(strstr(r.out, "win32 (Windows; there IOCP is used only for bufferevents"), "%s",
              r.out);
    evt_run_free(&r);
}

Test(supported_methods, help_and_bad_flags)
{
    struct evt_run r = run_with(NULL, "--help");
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "--ignore-env") && strstr(r.out, "--step"));
    evt_run_free(&r);
    r = run_with(NULL, "--bogus");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "usage:"));
    evt_run_free(&r);
}

Test(supported_methods, step_mode_waits_for_enter_on_a_tty)
{
    struct evt_run r;
    /* Two Enters then q: the third step heading is shown, the fourth never is. */
    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(PROG, "--step"), NULL, "\n\nq\n", 10), 0);
    cr_assert_eq(r.exit_code, 0, "output: %s", r.out);
    cr_assert(strstr(r.out, "== 3."), "%s", r.out);
    cr_assert_null(strstr(r.out, "the new base uses"), "q must stop before step 4:\n%s", r.out);
    cr_assert_geq(evt_count(r.out, "[Enter: run this step"), 3);
    evt_run_free(&r);

    /* Without a tty --step runs straight through. */
    r = run_with(NULL, "--step");
    cr_assert(strstr(r.out, "the new base uses"));
    cr_assert_eq(evt_count(r.out, "[Enter"), 0);
    evt_run_free(&r);
}

Test(supported_methods, waiting_at_every_prompt_changes_nothing, .timeout = 60)
{
    evt_assert_step_same(EVT_ARGV(PROG), EVT_ENV("EVENT_SHOW_METHOD"), NULL, 2.0, 40);
}
