/* runner.c -- the evlab runner's first part: help, list, show, run, tour,
 * doctor and the error paths. Each test works on a private copy of the
 * fixture course (build/tests/tools/fixture, made by mk/evlab.mk), so the
 * state file and any added lesson stay in a temporary directory. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtest.h"
#include "evlab_test.h"

Test(runner, help_lists_every_command)
{
    struct evt_run r = evlab(NULL, NULL, "help", NULL);
    cr_assert_eq(r.exit_code, 0);
    const char *cmds[] = {"list", "show",  "run",      "tour",  "check",       "watch",
                          "hint", "reset", "solution", "grade", "grade-class", "doctor"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        cr_assert(strstr(r.out, cmds[i]), "help does not mention %s:\n%s", cmds[i], r.out);
    evt_run_free(&r);
}

Test(runner, unknown_command_is_one_line_and_exit_2)
{
    struct evt_run r = evlab(NULL, NULL, "frobnicate", NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert_eq(evt_count(r.err, "\n"), 1, "one line expected: %s", r.err);
    cr_assert(strstr(r.err, "frobnicate"), "%s", r.err);
    cr_assert_eq(r.out_len, 0);
    evt_run_free(&r);
}

Test(runner, bad_numbers_are_one_line_and_exit_2)
{
    char *root = fixture_copy();
    const char *bad[][3] = {{"show", "99"}, {"show", "abc"}, {"run", "1x"},
                            {"show", ""},   {"tour", "42"},  {"run", "01", "nosuchprog"},
                            {"show", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct evt_run r = evlab(root, NULL, bad[i][0], bad[i][1], bad[i][2], NULL);
        cr_assert_eq(r.exit_code, 2, "%s %s: exit %d", bad[i][0], bad[i][1], r.exit_code);
        cr_assert_eq(evt_count(r.err, "\n"), 1, "%s %s: one line expected:\n%s", bad[i][0],
                     bad[i][1], r.err);
        evt_run_free(&r);
    }
    fixture_free(root);
}

Test(runner, list_takes_titles_from_readmes_and_finds_new_lessons)
{
    char *root = fixture_copy();
    struct evt_run r = evlab(root, NULL, "list", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "01  Hello fixture"), "%s", r.out);
    cr_assert(strstr(r.out, "02  A pair of programs"), "%s", r.out);
    cr_assert(strstr(r.out, "Add two numbers"), "%s", r.out);
    cr_assert_eq(evt_count(r.out, "not started"), 2, "%s", r.out);
    cr_assert_eq(evt_count(r.out, "\033["), 0, "no colour through a pipe");
    evt_run_free(&r);

    /* A lesson added by dropping in a folder shows up, with its title. */
    char *dir = xfmt("%s/lessons/07-added-later", root);
    cr_assert_eq(mkdir_p(dir), 0);
    char *readme = xfmt("%s/README.md", dir);
    put_file(readme, "# 07 · Added later\n\nText.\n");
    r = evlab(root, NULL, "list", NULL);
    cr_assert(strstr(r.out, "07  Added later"), "%s", r.out);
    evt_run_free(&r);
    free(readme);
    free(dir);
    fixture_free(root);
}

Test(runner, show_renders_headings_and_code_without_colour_in_a_pipe)
{
    char *root = fixture_copy();
    struct evt_run r = evlab(root, NULL, "show", "01", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "01 · Hello fixture\n=================="), "%s", r.out);
    cr_assert(strstr(r.out, "Run\n---\n"), "%s", r.out);
    cr_assert(strstr(r.out, "\n    ./evlab run 01\n"), "code stays indented:\n%s", r.out);
    cr_assert(strstr(r.out, "\n    fenced line\n"), "fenced code is indented:\n%s", r.out);
    cr_assert(strstr(r.out, "Goal. A lesson"), "bold markers go:\n%s", r.out);
    cr_assert_eq(evt_count(r.out, "\033["), 0, "no escape codes in a pipe");
    cr_assert_eq(evt_count(r.out, "```"), 0);
    evt_run_free(&r);
    fixture_free(root);
}

Test(runner, show_uses_colour_on_a_tty_unless_NO_COLOR)
{
    char *root = fixture_copy();
    struct evt_run r = evlab_pty(root, NULL, "", "show", "01", NULL);
    cr_assert(strstr(r.out, "\033[1;4m01 · Hello fixture"), "bold heading on a tty:\n%s", r.out);
    cr_assert(strstr(r.out, "\033[0;1mGoal."), "bold text on a tty:\n%s", r.out);
    evt_run_free(&r);
    r = evlab_pty(root, EVT_ENV("NO_COLOR=1"), "", "show", "01", NULL);
    cr_assert_eq(evt_count(r.out, "\033["), 0, "NO_COLOR: no escapes:\n%s", r.out);
    cr_assert(strstr(r.out, "01 · Hello fixture"), "%s", r.out);
    evt_run_free(&r);
    fixture_free(root);
}

Test(runner, run_builds_and_runs_with_args_and_exit_status)
{
    char *root = fixture_copy();
    /* Remove the built program: run must build it. */
    char *bin = xfmt("%s/build/lessons/01-hello/hello", root);
    unlink(bin);
    struct evt_run r = evlab(root, NULL, "run", "01", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "hello from the fixture"), "%s", r.out);
    cr_assert(strstr(r.out, "bye (step mode off)"), "%s", r.out);
    cr_assert_eq(access(bin, X_OK), 0, "run built the program");
    evt_run_free(&r);

    r = evlab(root, NULL, "run", "01", "--", "--exit", "3", NULL);
    cr_assert_eq(r.exit_code, 3, "the program's exit status comes back: %d", r.exit_code);
    cr_assert(strstr(r.out, "arg: --exit\n"), "%s", r.out);
    evt_run_free(&r);
    free(bin);
    fixture_free(root);
}

Test(runner, run_picks_the_program_the_readme_names_first)
{
    char *root = fixture_copy();
    struct evt_run r = evlab(root, NULL, "run", "02", NULL);
    cr_assert(strstr(r.out, "this is second"), "alphabetical would be 'first':\n%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "run", "2", "first", NULL);
    cr_assert(strstr(r.out, "this is first"), "%s", r.out);
    cr_assert_eq(r.exit_code, 0);
    evt_run_free(&r);
    fixture_free(root);
}

Test(runner, run_timeout_stops_a_hanging_program)
{
    char *root = fixture_copy();
    double t0 = evt_now();
    struct evt_run r = evlab(root, NULL, "run", "01", "--timeout", "0.5", "--", "--hang", NULL);
    cr_assert_lt(evt_now() - t0, 8.0);
    cr_assert_neq(r.exit_code, 0);
    cr_assert(strstr(r.err, "timed out after 0.5 s"), "%s", r.err);
    evt_run_free(&r);
    fixture_free(root);
}

Test(runner, run_report_a_build_failure)
{
    char *root = fixture_copy();
    char *src = xfmt("%s/lessons/01-hello/hello.c", root);
    put_file(src, "int main(void) { return nope; }\n");
    struct evt_run r = evlab(root, NULL, "run", "01", NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "hello.c:1:"), "the compiler's file:line:\n%s", r.err);
    evt_run_free(&r);
    free(src);
    fixture_free(root);
}

Test(runner, run_step_mode_waits_for_enter_on_a_tty)
{
    char *root = fixture_copy();
    struct evt_run r = evlab_pty(root, NULL, "\n\n", "run", "01", "--step", NULL);
    cr_assert(strstr(r.out, "[Enter: run this step"), "%s", r.out);
    cr_assert(strstr(r.out, "bye (step mode on)"), "%s", r.out);
    evt_run_free(&r);
    fixture_free(root);
}

Test(runner, tour_without_a_terminal_runs_straight_through)
{
    char *root = fixture_copy();
    struct evt_run r = evlab(root, NULL, "tour", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *a = strstr(r.out, "Lesson 01"), *b = strstr(r.out, "Lesson 02");
    cr_assert(a && b && a < b, "%s", r.out);
    cr_assert(strstr(r.out, "$ hello"), "%s", r.out);
    cr_assert(strstr(r.out, "bye (step mode off)"), "the tour steps, not the program:\n%s", r.out);
    cr_assert(strstr(r.out, "this is second"), "%s", r.out);
    cr_assert(strstr(r.out, "last lesson"), "%s", r.out);
    evt_run_free(&r);
    char *state = state_of(root);
    cr_assert(!strstr(state, "tour.last"), "a finished tour starts over:\n%s", state);
    cr_assert(strstr(state, "lesson.01-hello seen"), "%s", state);
    free(state);
    fixture_free(root);
}

/* (q, resume, Ctrl-C and predictions through a terminal: tests/tools/tour.c) */

Test(runner, list_shows_where_the_tour_resumes)
{
    char *root = fixture_copy();
    char *path = xfmt("%s/.evlab-state", root);
    put_file(path, "tour.last 02\n");
    struct evt_run r = evlab(root, NULL, "list", NULL);
    cr_assert(strstr(r.out, "A pair of programs") && strstr(r.out, "tour resumes here"), "%s",
              r.out);
    evt_run_free(&r);
    free(path);
    fixture_free(root);
}

Test(runner, doctor_reports_libevent_and_backends)
{
    struct evt_run r = evlab(NULL, NULL, "doctor", NULL);
    cr_assert(r.exit_code == 0 || r.exit_code == 1);
    cr_assert(strstr(r.out, "libevent in this process: 2.1."), "%s", r.out);
    cr_assert(strstr(r.out, "backends: epoll, poll, select"), "%s", r.out);
    cr_assert(strstr(r.out, "a default base picks: epoll"), "%s", r.out);
    cr_assert(strstr(r.out, "ok       C compiler"), "%s", r.out);
    /* Its localhost line says what this machine's resolver says. */
    struct addrinfo hints = {.ai_family = AF_INET}, *ai = NULL;
    int gai = getaddrinfo("localhost", NULL, &hints, &ai);
    if (ai)
        freeaddrinfo(ai);
    cr_assert(strstr(r.out, gai == 0 ? "\"localhost\" resolves: yes"
                                     : "\"localhost\" resolves: NO (is /etc/hosts missing?"),
              "getaddrinfo(\"localhost\") gave %d here; doctor said:\n%s", gai, r.out);
    evt_run_free(&r);
}

Test(runner, doctor_names_what_is_missing_and_the_fix)
{
    /* An empty PATH: every tool is missing. */
    struct evt_run r = evlab(NULL, EVT_ENV("PATH=/nonexistent"), "doctor", NULL);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.out, "missing  pkg-config"), "%s", r.out);
    cr_assert(strstr(r.out, "missing  criterion"), "%s", r.out);
    cr_assert(strstr(r.out, "fix: "), "%s", r.out);
    cr_assert(strstr(r.out, "libcriterion-dev"), "names the package:\n%s", r.out);
    evt_run_free(&r);
}

/* The course's own exercises: each README shows `./evlab check NN --backend
 * all` and prints no hints; `./evlab hint NN` reveals the first of its
 * hints.md, and only that one. */
Test(runner, exercise_readmes_show_backend_all_and_hints_come_one_at_a_time)
{
    char state[] = "/tmp/evlab-hint-state-XXXXXX";
    int fd = mkstemp(state);
    cr_assert(fd >= 0);
    close(fd);
    char *sv = xfmt("EVLAB_STATE=%s", state);
    for (int nn = 1; nn <= 15; nn++) {
        char *glob = xfmt("exercises/%02d-*/README.md", nn);
        char *readme_path = NULL;
        struct evt_run g;
        char *ls = xfmt("ls %s", glob);
        cr_assert_eq(evt_run(&g, EVT_ARGV("/bin/sh", "-c", ls), NULL, NULL, 10), 0);
        free(ls);
        cr_assert_eq(g.exit_code, 0, "no %s", glob);
        g.out[strcspn(g.out, "\n")] = '\0';
        readme_path = strdup(g.out);
        evt_run_free(&g);
        char *readme = get_file(readme_path);
        char *want = xfmt("./evlab check %02d --backend all", nn);
        cr_assert(strstr(readme, want), "%s does not show '%s'", readme_path, want);
        cr_assert(!strstr(readme, "## Hints"), "%s still prints every hint", readme_path);
        char num[8];
        snprintf(num, sizeof num, "%02d", nn);
        struct evt_run r = evlab(NULL, EVT_ENV(sv), "hint", num, NULL);
        cr_assert_eq(r.exit_code, 0, "hint %s: %s", num, r.err);
        cr_assert(strstr(r.out, "Hint 1 of "), "hint %s:\n%s", num, r.out);
        cr_assert(!strstr(r.out, "Hint 2 of "), "hint %s shows more than one:\n%s", num, r.out);
        evt_run_free(&r);
        free(readme), free(want), free(readme_path), free(glob);
    }
    unlink(state);
    free(sv);
}
