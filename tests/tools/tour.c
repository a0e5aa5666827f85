/* tour.c -- the tour (./evlab tour) and the terminal Markdown renderer.
 *
 * Every lesson's tour script runs against the real programs (a prediction
 * whose answer the output does not show fails), keys are typed through a
 * pseudo-terminal, and servers the tour starts are gone afterwards.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>

#include "evlab_test.h"

static char *tour_env_state(void)
{
    char tmpl[] = "/tmp/evlab-tour-state-XXXXXX";
    int fd = mkstemp(tmpl);
    cr_assert(fd >= 0);
    close(fd);
    return xfmt("EVLAB_STATE=%s", tmpl);
}

/* Each lesson's predictions agree with its programs; 01-15 have one at least. */
Test(tour, every_prediction_matches_the_real_output, .timeout = 900)
{
    DIR *d = opendir("lessons");
    cr_assert(d);
    struct dirent *e;
    int lessons = 0;
    char *st = tour_env_state();
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char nn[3] = {e->d_name[0], e->d_name[1], 0};
        char *script = xfmt("lessons/%s/tour.md", e->d_name);
        char *text = get_file(script);
        cr_assert(*text, "%s is missing", script);
        struct evt_run r = evlab(NULL, EVT_ENV(st), "tour", "--check", nn, NULL);
        cr_expect_eq(r.exit_code, 0, "tour --check %s:\n%s", nn, r.err);
        cr_expect(!strstr(r.out, "\033"), "no escape codes without a terminal (%s)", nn);
        int n = evt_count(r.err, ": prediction ");
        if (atoi(nn) <= 15)
            cr_expect(n >= 1, "lesson %s has no prediction", nn);
        cr_expect_eq(evt_count(text, "\npredict:"), n, "every prediction of %s was checked", nn);
        evt_run_free(&r);
        free(text);
        free(script);
        lessons++;
    }
    closedir(d);
    cr_assert(lessons >= 15);
    unlink(st + strlen("EVLAB_STATE="));
    free(st);
}

/* A server lesson end to end: started, driven, stopped, nothing left. */
Test(tour, a_server_lesson_runs_end_to_end_and_leaves_nothing, .timeout = 120)
{
    char *st = tour_env_state();
    struct evt_run r = evlab(NULL, EVT_ENV(st), "tour", "--check", "10", NULL);
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "got 3145728 back, byte-exact"), "%s", r.out);
    cr_assert(strstr(r.out, "got \"HELLO, LIBEVENT\""), "%s", r.out);
    /* Every server the tour started was stopped: its pid is gone (or reused
     * by something that is not a lesson program). */
    int servers = 0;
    for (const char *p = strstr(r.out, "$ kill -"); p; p = strstr(p + 1, "$ kill -")) {
        int pid = atoi(strchr(p + 8, ' ') + 1);
        cr_assert(pid > 1);
        servers++;
        char *exe = xfmt("/proc/%d/cmdline", pid);
        char *cmd = get_file(exe);
        cr_expect(!strstr(cmd, "10-echo-server"), "server %d still runs: %s", pid, cmd);
        free(cmd);
        free(exe);
    }
    cr_assert_eq(servers, 4, "four servers started and stopped:\n%s", r.out);
    evt_run_free(&r);
    unlink(st + strlen("EVLAB_STATE="));
    free(st);
}

Test(tour, without_a_terminal_it_runs_straight_through_with_no_escape_codes)
{
    char *root = fixture_copy();
    struct evt_run r = evlab(root, EVT_ENV("EVLAB_TOUR_TIMEOUT=2"), "tour", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(!strstr(r.out, "\033"), "escape codes:\n%s", r.out);
    cr_assert(strstr(r.out, "Goal."), "the goal first:\n%s", r.out);
    const char *a = strstr(r.out, "Step 1 of 2: Greeting"), *b = strstr(r.out, "Try this");
    cr_assert(a && b && a < b, "steps, then Try this:\n%s", r.out);
    cr_assert(strstr(r.out, "Answer: a) hello from the fixture"), "%s", r.out);
    cr_assert(strstr(r.out, "this is second"), "lesson 02 (no tour.md) runs too:\n%s", r.out);
    evt_run_free(&r);
    fixture_free(root);
}

Test(tour, a_table_is_drawn_in_80_columns)
{
    char *root = fixture_copy();
    struct evt_run r =
        evlab(root, EVT_ENV("COLUMNS=80", "EVLAB_TOUR_TIMEOUT=2"), "tour", "01", NULL);
    cr_assert(strstr(r.out, "┌"), "a box:\n%s", r.out);
    int rows = 0;
    for (char *line = r.out; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        int w = 0;
        for (size_t i = 0; i < len; i++)
            w += ((unsigned char)line[i] & 0xC0) != 0x80;
        if (line[0] == '\xe2' && (strncmp(line, "│", 3) == 0 || strncmp(line, "┌", 3) == 0)) {
            rows++;
            cr_expect(w <= 80, "table line wider than 80 columns: '%.*s'", (int)len, line);
            rows += w == 80 ? 100 : 0; /* the wrapped table fills the width */
        }
        cr_expect(w <= 80, "nothing wider than 80 columns: '%.*s'", (int)len, line);
        line = nl ? nl + 1 : NULL;
    }
    cr_assert(rows >= 500, "a wrapped table is exactly 80 columns wide:\n%s", r.out);
    cr_assert(!strstr(r.out, "`--exit N`"), "code spans lose their backticks:\n%s", r.out);
    cr_assert(strstr(r.out, "--exit N"), "%s", r.out);
    evt_run_free(&r);
    fixture_free(root);
}

Test(tour, q_quits_at_once_and_the_tour_resumes_at_that_step)
{
    char *root = fixture_copy();
    /* "a" answers step 1 (right), Enter goes on, q at step 2's prompt... but
     * step 2 hangs: q here is typed at the prediction of step 1 instead. */
    struct evt_run r = evlab_pty(root, NULL, "q", "tour", NULL);
    cr_assert(strstr(r.out, "resumes at lesson 01, step 1"), "%s", r.out);
    cr_assert(!strstr(r.out, "== 1. greet"), "q ran nothing:\n%s", r.out);
    cr_assert(r.seconds < 20, "q quit at once");
    evt_run_free(&r);
    char *state = state_of(root);
    cr_assert(strstr(state, "tour.last 01"), "%s", state);
    free(state);
    r = evlab(root, EVT_ENV("EVLAB_TOUR_TIMEOUT=2"), "tour", NULL);
    cr_assert(strstr(r.out, "Resuming the tour at lesson 01, step 1"), "%s", r.out);
    evt_run_free(&r);
    fixture_free(root);
}

Test(tour, a_right_and_a_wrong_prediction)
{
    char *root = fixture_copy();
    struct evt_run r = evlab_pty(root, NULL, "aq", "tour", NULL);
    cr_assert(strstr(r.out, "You chose a"), "%s", r.out);
    cr_assert(strstr(r.out, "Right."), "%s", r.out);
    evt_run_free(&r);
    r = evlab_pty(root, NULL, "bq", "tour", "01", NULL);
    cr_assert(strstr(r.out, "Not this time."), "%s", r.out);
    cr_assert(strstr(r.out, "a) hello from the fixture"), "the right answer is shown:\n%s", r.out);
    evt_run_free(&r);
    fixture_free(root);
}

/* Disabled: the pty helper types Ctrl-C at the first pause in output, which can
 * come before the program starts; it needs a "wait for this text" key helper. */
Test(tour, ctrl_c_stops_the_program_and_returns_to_the_prompt, .disabled = true)
{
    char *root = fixture_copy();
    /* Resume at step 2, which hangs; Ctrl-C; then q at the prompt. */
    char *sf = xfmt("%s/.evlab-state", root);
    put_file(sf, "tour.last 01\ntour.step 1\n");
    free(sf);
    struct evt_run r = evlab_pty(root, NULL, "\003q", "tour", NULL);
    cr_assert(strstr(r.out, "(stopped with Ctrl-C)"), "%s", r.out);
    cr_assert(strstr(r.out, "not marked as seen"), "%s", r.out);
    cr_assert(strstr(r.out, "resumes at lesson 01, step 2"), "%s", r.out);
    cr_assert(!r.timed_out);
    evt_run_free(&r);
    char *state = state_of(root);
    cr_assert(strstr(state, "tour.step 1"), "%s", state);
    cr_assert(!strstr(state, "lesson.01-hello seen"), "%s", state);
    free(state);
    fixture_free(root);
}
