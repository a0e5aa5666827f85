/* tour.c -- the tour (./evlab tour) and the terminal Markdown renderer.
 *
 * Every lesson's tour script runs against the real programs (a prediction
 * whose answer the output does not show fails), keys are typed through a
 * pseudo-terminal, and servers the tour starts are gone afterwards.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>

#include "evlab_test.h"

/* The tour in a pseudo-terminal, typed at like a person: each key string is
 * sent once its `after` text has appeared (not at the first pause, so a key
 * never races a program's start); a full screen's "-- more --" gets Enter.
 * Returns everything the tour printed. */
struct key_at {
    const char *after, *keys;
};

static char *tour_pty(const char *root, const char *const *env, const struct key_at *script,
                      int nscript, int *exit_code, const char *arg)
{
    int master;
    struct winsize ws = {.ws_row = 24, .ws_col = 80}; /* the 80x24 terminal */
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    cr_assert(pid >= 0, "forkpty");
    if (pid == 0) {
        setenv("EVLAB_ROOT", root, 1);
        setenv("EVLAB_BUILD", "build", 1);
        unsetenv("EVLAB_STATE");
        unsetenv("NO_COLOR");
        setenv("PAGER", "cat", 1);
        for (; env && *env; env++)
            putenv((char *)*env);
        execl(evt_prog("evlab"), "evlab", "tour", arg, (char *)NULL);
        _exit(127);
    }
    size_t len = 0, cap = 1 << 16, seen = 0;
    char *out = calloc(1, cap);
    int next = 0;
    double deadline = evt_now() + 60;
    size_t more_at = 0; /* "-- more --" lines answered so far */
    while (evt_now() < deadline) {
        const char *more = strstr(out + more_at, "-- more --");
        if (more && !(next < nscript && strcmp(script[next].after, "-- more --") == 0)) {
            /* a full screen: Enter, as a reader would (a script may say
             * otherwise with its own "-- more --" step) */
            more_at = (size_t)(more - out) + 10;
            cr_assert(write(master, "\r", 1) > 0);
            continue;
        }
        if (next < nscript && strstr(out + seen, script[next].after)) {
            seen =
                (size_t)(strstr(out + seen, script[next].after) - out) + strlen(script[next].after);
            cr_assert(write(master, script[next].keys, strlen(script[next].keys)) > 0);
            next++;
            continue;
        }
        struct pollfd pf = {master, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        if (len + 4096 + 1 > cap)
            out = realloc(out, cap *= 2);
        ssize_t n = read(master, out + len, 4096);
        if (n <= 0)
            break;
        len += (size_t)n;
        out[len] = '\0';
    }
    close(master);
    int st = 0;
    pid_t w;
    while ((w = waitpid(pid, &st, WNOHANG)) == 0 && evt_now() < deadline + 5)
        usleep(10000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        cr_assert_fail("the tour did not end within 60 s (%d of %d keys typed):\n%s", next, nscript,
                       out);
    }
    cr_assert_eq(next, nscript, "only %d of %d keys were typed:\n%s", next, nscript, out);
    *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

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

/* Each lesson's tour runs every program of the lesson (run: or server:). */
Test(tour, every_lesson_program_is_run_by_its_tour)
{
    DIR *d = opendir("lessons");
    cr_assert(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char *dir = xfmt("lessons/%s", e->d_name);
        char *script_path = xfmt("%s/tour.md", dir);
        char *script = get_file(script_path);
        DIR *ld = opendir(dir);
        cr_assert(ld);
        struct dirent *f;
        while ((f = readdir(ld))) {
            size_t n = strlen(f->d_name);
            if (n < 3 || strcmp(f->d_name + n - 2, ".c") != 0)
                continue;
            char *prog = strndup(f->d_name, n - 2);
            bool found = false;
            for (const char *l = script; l && *l && !found;) {
                const char *nl = strchr(l, '\n');
                bool action = strncmp(l, "run: ", 5) == 0 || strncmp(l, "server: ", 8) == 0;
                if (action) {
                    const char *w = strchr(l, ' ') + 1;
                    while (strchr(w, '=') && strchr(w, '=') < strchr(w, ' ')) /* VAR=x */
                        w = strchr(w, ' ') + 1;
                    size_t pl = strlen(prog);
                    found = strncmp(w, prog, pl) == 0 && (w[pl] == ' ' || w[pl] == '\n');
                }
                l = nl ? nl + 1 : NULL;
            }
            cr_expect(found, "%s: the tour never runs %s", script_path, prog);
            free(prog);
        }
        closedir(ld);
        free(script);
        free(script_path);
        free(dir);
    }
    closedir(d);
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
    int code;
    /* Step 1: a (right answer); Enter at its prompt; q at step 2's prompt. */
    const struct key_at keys[] = {
        {"to answer", "a"}, {"[Enter: next step", "\r"}, {"[Enter: the end of this lesson", "q"}};
    char *out = tour_pty(root, NULL, keys, 3, &code, NULL);
    cr_assert_eq(code, 0, "%s", out);
    cr_assert(strstr(out, "arg: --exit"), "step 2 ran:\n%s", out);
    cr_assert(strstr(out, "resumes at lesson 01, step 2"), "one q ends the tour:\n%s", out);
    cr_assert(!strstr(out, "Lesson 02"), "%s", out);
    free(out);
    char *state = state_of(root);
    cr_assert(strstr(state, "tour.last 01") && strstr(state, "tour.step 1"), "%s", state);
    cr_assert(!strstr(state, "lesson.01-hello seen"), "%s", state);
    free(state);
    /* The next tour starts at step 2 of lesson 01, not at lesson 02. */
    const struct key_at again[] = {{"[Enter: the end of this lesson", "q"}};
    out = tour_pty(root, NULL, again, 1, &code, NULL);
    cr_assert(strstr(out, "Resuming the tour at lesson 01, step 2"), "%s", out);
    cr_assert(strstr(out, "Step 2 of 2") && !strstr(out, "Step 1 of 2"), "%s", out);
    free(out);
    fixture_free(root);
}

Test(tour, q_at_a_prediction_quits_without_running_anything)
{
    char *root = fixture_copy();
    int code;
    const struct key_at keys[] = {{"to answer", "q"}};
    char *out = tour_pty(root, NULL, keys, 1, &code, NULL);
    cr_assert(!strstr(out, "== 1. greet"), "q ran nothing:\n%s", out);
    cr_assert(strstr(out, "resumes at lesson 01, step 1"), "%s", out);
    free(out);
    fixture_free(root);
}

Test(tour, a_right_and_a_wrong_prediction)
{
    char *root = fixture_copy();
    int code;
    const struct key_at right[] = {{"to answer", "a"}, {"[Enter: next step", "q"}};
    char *out = tour_pty(root, NULL, right, 2, &code, "01");
    cr_assert(strstr(out, "You chose a"), "%s", out);
    cr_assert(strstr(out, "Right."), "%s", out);
    free(out);
    const struct key_at wrong[] = {{"to answer", "b"}, {"[Enter: next step", "q"}};
    out = tour_pty(root, NULL, wrong, 2, &code, "01");
    cr_assert(strstr(out, "Not this time."), "%s", out);
    cr_assert(strstr(out, "a) hello from the fixture"), "the right answer is shown:\n%s", out);
    cr_assert(strstr(out, "it greets before anything else"), "with its reason:\n%s", out);
    free(out);
    fixture_free(root);
}

Test(tour, b_goes_back_and_question_mark_lists_the_keys)
{
    char *root = fixture_copy();
    int code;
    const struct key_at keys[] = {{"to answer", "\r"},
                                  {"[Enter: next step", "?"},
                                  {"q: quit (the tour resumes here)", "\r"},
                                  {"[Enter: the end of this lesson", "b"},
                                  {"to answer", "q"}};
    char *out = tour_pty(root, NULL, keys, 5, &code, "01");
    cr_assert_eq(evt_count(out, "Step 1 of 2"), 2, "b showed step 1 again:\n%s", out);
    free(out);
    fixture_free(root);
}

Test(tour, ctrl_c_stops_the_program_and_returns_to_the_prompt)
{
    char *root = fixture_copy();
    /* This copy's lesson gets a third step whose program never ends. */
    char *path = xfmt("%s/lessons/01-hello/tour.md", root);
    char *text = get_file(path);
    char *more = xfmt("%s\n## A program that hangs\nrun: hello --hang\n", text);
    put_file(path, more);
    int code;
    const struct key_at keys[] = {{"to answer", "a"},
                                  {"[Enter: next step", "\r"},
                                  {"[Enter: next step", "\r"},
                                  {"arg: --hang", "\003"},
                                  {"[Enter: run it again", "q"}};
    char *out = tour_pty(root, NULL, keys, 5, &code, NULL);
    cr_assert_eq(code, 0, "the tour itself was not interrupted:\n%s", out);
    cr_assert(strstr(out, "(stopped with Ctrl-C)"), "%s", out);
    cr_assert(strstr(out, "not marked as seen"), "%s", out);
    cr_assert(strstr(out, "resumes at lesson 01, step 3"), "%s", out);
    free(out);
    char *state = state_of(root);
    cr_assert(strstr(state, "tour.step 2"), "%s", state);
    cr_assert(!strstr(state, "lesson.01-hello seen"), "%s", state);
    free(state);
    free(more);
    free(text);
    free(path);
    fixture_free(root);
}

Test(tour, long_text_goes_through_the_pager_on_a_terminal_only)
{
    char *root = fixture_copy();
    int code;
    /* A pager that marks what it was given; 10 rows make the end text long. */
    const char *env[] = {"PAGER=sed s/^/PAGED:/", "LINES=10", NULL};
    const struct key_at keys[] = {{"to answer", "\r"},
                                  {"[Enter: next step", "\r"},
                                  {"[Enter: the end of this lesson", "\r"},
                                  {"[Enter: next lesson", "q"}};
    char *out = tour_pty(root, env, keys, 4, &code, "01");
    cr_assert(evt_count(out, "PAGED:") >= 5 && strstr(out, "Try this"),
              "the end text through $PAGER:\n%s", out);
    cr_assert(!strstr(out, "PAGED:── Step"), "short text is not paged:\n%s", out);
    free(out);
    struct evt_run r =
        evlab(root, EVT_ENV("PAGER=sed s/^/PAGED:/", "EVLAB_TOUR_TIMEOUT=5"), "tour", "01", NULL);
    cr_assert(!strstr(r.out, "PAGED:"), "no pager without a terminal:\n%s", r.out);
    evt_run_free(&r);
    fixture_free(root);
}

/* Every lesson program answers --help with its usage and exit 0 (the tour and
 * the READMEs send readers there; lesson 17's libuv and libev servers used to
 * print the usage and exit 2). A program that is not built (libuv or libev
 * missing) is a failure here: `make check` builds every lesson. */
Test(tour, every_lesson_program_answers_help_with_exit_0, .timeout = 120)
{
    DIR *d = opendir("lessons");
    cr_assert(d);
    struct dirent *e;
    int progs = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char *dir = xfmt("lessons/%s", e->d_name);
        DIR *ld = opendir(dir);
        cr_assert(ld);
        struct dirent *f;
        while ((f = readdir(ld))) {
            size_t n = strlen(f->d_name);
            if (n < 3 || strcmp(f->d_name + n - 2, ".c") != 0)
                continue;
            char *rel = xfmt("%s/%.*s", dir, (int)(n - 2), f->d_name);
            const char *prog = evt_prog(rel);
            cr_expect(access(prog, X_OK) == 0, "%s is not built", prog);
            struct evt_run r;
            cr_assert_eq(evt_run(&r, EVT_ARGV(prog, "--help"), NULL, NULL, 20), 0);
            cr_expect_eq(r.exit_code, 0, "%s --help exits %d:\n%s%s", rel, r.exit_code, r.out,
                         r.err);
            cr_expect(strstr(r.out, "usage") || strstr(r.out, "Usage"),
                      "%s --help prints its usage on stdout:\n%s", rel, r.out);
            evt_run_free(&r);
            free(rel);
            progs++;
        }
        closedir(ld);
        free(dir);
    }
    closedir(d);
    cr_assert(progs >= 40, "only %d lesson programs", progs);
}

/* ---- one screen at a time (80x24) -------------------------------------------------- */

/* A terminal's row count: line feeds, plus a wrap when a character does not
 * fit in the 80 columns (escape codes take no room, CJK takes two). The same
 * rules as xterm: a full row wraps only when the next character comes. */
struct term {
    int col, feeds, esc;
};

static int term_cp_width(unsigned cp)
{
    if ((cp >= 0x0300 && cp <= 0x036F) || cp == 0x200B)
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
        (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

static void term_put(struct term *t, const unsigned char *p, size_t n, int cols)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = p[i];
        int w = 0;
        if (t->esc == 1) {
            t->esc = ch == '[' ? 2 : ch == ']' ? 3 : 0;
        } else if (t->esc == 2) {
            t->esc = ch >= 0x40 && ch <= 0x7E ? 0 : 2;
        } else if (t->esc == 3) {
            t->esc = ch == '\a' ? 0 : ch == '\033' ? 1 : 3;
        } else if (ch == '\033') {
            t->esc = 1;
        } else if (ch == '\n') {
            t->feeds++;
            t->col = 0; /* the pty adds \r (onlcr) */
        } else if (ch == '\r') {
            t->col = 0;
        } else if (ch == '\t') {
            t->col = (t->col / 8 + 1) * 8 > cols ? cols : (t->col / 8 + 1) * 8;
        } else if (ch == '\b') {
            t->col -= t->col > 0;
        } else if (ch < 0x20 || ch == 0x7F || (ch & 0xC0) == 0x80) {
            w = 0;
        } else if (ch < 0x80) {
            w = 1;
        } else {
            size_t need = ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : 2;
            unsigned cp = ch & (ch >= 0xF0 ? 0x07u : ch >= 0xE0 ? 0x0Fu : 0x1Fu);
            for (size_t k = 1; k < need && i + k < n; k++)
                cp = cp << 6 | (p[i + k] & 0x3Fu);
            w = term_cp_width(cp);
        }
        if (w && t->col + w > cols) {
            t->feeds++;
            t->col = 0;
        }
        t->col += w;
    }
}

/* The tour in an 80x24 pseudo-terminal. After every read, decide() sees what
 * was printed since the last key (the current screen) and returns the keys
 * to type, or NULL to read on. Each screen's rows are counted as above. */
struct pty_tour {
    pid_t pid;
    int master;      /* the terminal's master side (a test may resize it) */
    char *out;       /* everything */
    int max_rows;    /* the most rows one screen printed */
    char *max_where; /* that screen */
    int screens, exit_code;
    void *arg;
};
typedef const char *(*pty_decide)(struct pty_tour *t, const char *screen);

static void pty_tour_run(struct pty_tour *t, const char *root, const char *const *env,
                         pty_decide decide, double limit_s, const char *arg)
{
    int master;
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    t->pid = forkpty(&master, NULL, NULL, &ws);
    cr_assert(t->pid >= 0, "forkpty");
    t->master = master;
    if (t->pid == 0) {
        setenv("EVLAB_ROOT", root, 1);
        setenv("EVLAB_BUILD", "build", 1);
        unsetenv("EVLAB_STATE");
        unsetenv("NO_COLOR");
        unsetenv("LINES");
        unsetenv("COLUMNS");
        setenv("PAGER", "evlab-test-no-such-pager", 1); /* the tour pages itself */
        for (; env && *env; env++)
            putenv((char *)*env);
        execl(evt_prog("evlab"), "evlab", "tour", arg, (char *)NULL);
        _exit(127);
    }
    size_t len = 0, cap = 1 << 16, from = 0;
    t->out = calloc(1, cap);
    t->max_where = strdup("");
    struct term term = {0};
    double deadline = evt_now() + limit_s;
    while (evt_now() < deadline) {
        struct pollfd pf = {master, POLLIN, 0};
        if (poll(&pf, 1, 200) <= 0)
            continue;
        if (len + 8192 + 1 > cap)
            t->out = realloc(t->out, cap *= 2);
        ssize_t n = read(master, t->out + len, 8192);
        if (n <= 0)
            break; /* EIO: the tour has ended */
        term_put(&term, (unsigned char *)t->out + len, (size_t)n, 80);
        len += (size_t)n;
        t->out[len] = '\0';
        const char *keys = decide(t, t->out + from);
        if (!keys)
            continue;
        if (!*keys)
            break; /* "": the reader closes the terminal */
        if (term.feeds > t->max_rows) {
            t->max_rows = term.feeds;
            free(t->max_where);
            t->max_where = strdup(t->out + from);
        }
        t->screens++;
        term.feeds = 0;
        from = len;
        cr_assert(write(master, keys, strlen(keys)) > 0);
    }
    if (term.feeds > t->max_rows) { /* the last screen */
        t->max_rows = term.feeds;
        free(t->max_where);
        t->max_where = strdup(t->out + from);
    }
    close(master);
    int st = 0;
    pid_t w;
    while ((w = waitpid(t->pid, &st, WNOHANG)) == 0 && evt_now() < deadline + 5)
        usleep(10000);
    if (w == 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, &st, 0);
        cr_assert_fail("the tour did not end within %g s:\n%s", limit_s, t->out + from);
    }
    t->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Enter at every key the tour waits for ("more", a prediction, a step). */
static const char *press_enter(struct pty_tour *t, const char *screen)
{
    (void)t;
    if (strstr(screen, "-- more --") || strstr(screen, "[press ") || strstr(screen, "[Enter: "))
        return "\r";
    return NULL;
}

/* A reader who presses only Enter sees the whole tour, 01 to the last
 * lesson, and no screen (what is printed between two keys) is more than the
 * 24 rows of the terminal. */
Test(tour, pressing_only_enter_shows_every_lesson_one_screen_at_a_time, .timeout = 900)
{
    char cwd[4096];
    cr_assert(getcwd(cwd, sizeof cwd));
    char *st = tour_env_state();
    const char *env[] = {st, NULL};
    struct pty_tour t = {0};
    pty_tour_run(&t, cwd, env, press_enter, 840, "01");
    cr_assert_eq(t.exit_code, 0, "%s", t.out);
    cr_assert(strstr(t.out, "That was the last lesson"), "the tour reached its end:\n%s",
              t.out + (strlen(t.out) > 4000 ? strlen(t.out) - 4000 : 0));
    cr_expect(t.max_rows <= 24, "a screen of %d rows (%d screens); it was:\n%s", t.max_rows,
              t.screens, t.max_where);
    cr_expect(strstr(t.out, "-- more --"), "long output was paged");
    cr_expect(!strstr(t.out, "did not build"), "every program built");
    unlink(st + strlen("EVLAB_STATE="));
    free(st);
    free(t.out);
    free(t.max_where);
}

/* The reader makes the window smaller (80x24 to 80x12) at the first prompt
 * of lesson 03: every screen after that fits in 12 rows, and the pager
 * still pages (the window is measured again, not only at the start). */
struct resize_state {
    int keys;
    int more_after; /* "-- more --" prompts after the resize */
};

static const char *resize_at_first_prompt(struct pty_tour *t, const char *screen)
{
    struct resize_state *s = t->arg;
    bool at_more = strstr(screen, "-- more --");
    if (!at_more && !strstr(screen, "[press ") && !strstr(screen, "[Enter: "))
        return NULL;
    if (s->keys == 0) {
        struct winsize small = {.ws_row = 12, .ws_col = 80};
        cr_assert(ioctl(t->master, TIOCSWINSZ, &small) == 0, "TIOCSWINSZ");
    } else if (s->keys == 1) {
        t->max_rows = 0; /* count only the screens printed since the resize */
    }
    s->more_after += s->keys > 0 && at_more;
    if (++s->keys > 40 || strstr(screen, "That was the last lesson") || strstr(screen, "lesson 04"))
        return "";
    return "\r";
}

Test(tour, a_smaller_window_gets_smaller_screens, .timeout = 180)
{
    char cwd[4096];
    cr_assert(getcwd(cwd, sizeof cwd));
    char *st = tour_env_state();
    const char *env[] = {st, NULL};
    struct resize_state s = {0};
    struct pty_tour t = {.arg = &s};
    pty_tour_run(&t, cwd, env, resize_at_first_prompt, 150, "03");
    cr_assert_gt(s.keys, 5, "the tour stopped early:\n%s", t.out);
    cr_expect(t.max_rows <= 12, "after the resize to 12 rows a screen had %d rows:\n%s", t.max_rows,
              t.max_where);
    cr_expect_gt(s.more_after, 0, "nothing was paged after the resize:\n%s", t.out);
    unlink(st + strlen("EVLAB_STATE="));
    free(st);
    free(t.out);
    free(t.max_where);
}

/* Ctrl-C while a server step runs: lesson 12's last step, nested_accept,
 * has accepted the tour's first client and runs a loop inside its accept
 * callback; the tour's two clients wait (10 s) for bytes that do not come.
 * The tour comes back to its prompt; the server (its pid, from the tour's own
 * line) is gone, the tour holds no socket (its clients are closed), and the
 * lesson is not marked seen. */
struct ctrl_c_state {
    int phase;
    pid_t server;
    bool server_gone;
    int sockets;
};

static int sockets_of(pid_t pid)
{
    char *dir = xfmt("/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    cr_assert(d, "%s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *link = xfmt("%s/%s", dir, e->d_name), target[256] = "";
        ssize_t l = readlink(link, target, sizeof target - 1);
        if (l > 0 && strncmp(target, "socket:", 7) == 0)
            n++;
        free(link);
    }
    closedir(d);
    free(dir);
    return n;
}

static const char *ctrl_c_in_a_server_step(struct pty_tour *t, const char *screen)
{
    struct ctrl_c_state *s = t->arg;
    static const char started[] = "started in the background as pid ";
    if (s->phase == 0 && strstr(screen, "client 1: accepted; a new base")) {
        for (const char *p = strstr(t->out, started); p; p = strstr(p + 1, started))
            s->server = atoi(p + strlen(started)); /* the last one started */
        return s->phase++, "\003";
    }
    if (s->phase == 1 && strstr(screen, "[Enter: run it again")) {
        /* The tour waits at its prompt: nothing of the step is left. The
         * server was the tour's child: gone means no /proc entry, or one
         * that is not the lesson's server (its pid used again). */
        char *cmdline = xfmt("/proc/%d/cmdline", (int)s->server);
        char *cmd = get_file(cmdline);
        s->server_gone = s->server > 0 && !strstr(cmd, "nested_accept");
        free(cmd);
        free(cmdline);
        s->sockets = sockets_of(t->pid);
        return s->phase++, "q";
    }
    if (strstr(screen, "[press ") || strstr(screen, "[Enter: ") || strstr(screen, "-- more --"))
        return "\r"; /* the steps before */
    return NULL;
}

Test(tour, ctrl_c_in_a_server_step_stops_server_and_clients, .timeout = 180)
{
    char cwd[4096];
    cr_assert(getcwd(cwd, sizeof cwd));
    char *st = tour_env_state();
    const char *env[] = {st, NULL};
    struct ctrl_c_state s = {0};
    struct pty_tour t = {.arg = &s};
    pty_tour_run(&t, cwd, env, ctrl_c_in_a_server_step, 150, "12");
    cr_assert_eq(s.phase, 2, "the tour did not get to its prompt after Ctrl-C:\n%s", t.out);
    cr_assert_eq(t.exit_code, 0, "the tour itself was not interrupted:\n%s", t.out);
    cr_assert(s.server > 0, "%s", t.out);
    cr_assert(s.server_gone, "the server (pid %d) still runs:\n%s", (int)s.server, t.out);
    cr_assert_eq(s.sockets, 0, "the tour still holds %d sockets (its clients)", s.sockets);
    cr_assert(strstr(t.out, "(stopped with Ctrl-C)"), "%s", t.out);
    cr_assert(strstr(t.out, "not marked as seen"), "%s", t.out);
    cr_assert(strstr(t.out, "resumes at lesson 12, step 7"), "%s", t.out);
    char *state = get_file(st + strlen("EVLAB_STATE="));
    cr_assert(!strstr(state, "lesson.12-blocking-callbacks seen"), "%s", state);
    cr_assert(strstr(state, "tour.last 12"), "%s", state);
    free(state);
    unlink(st + strlen("EVLAB_STATE="));
    free(st);
    free(t.out);
    free(t.max_where);
}

/* Processes whose command line names `needle` (a private temporary path:
 * only what this test started). */
static int procs_naming(const char *needle)
{
    DIR *d = opendir("/proc");
    cr_assert(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char *path = xfmt("/proc/%s/cmdline", e->d_name);
        char *cmd = get_file(path); /* argv[0] is the program's path */
        n += strstr(cmd, needle) != NULL;
        free(cmd);
        free(path);
    }
    closedir(d);
    return n;
}

/* A program whose output fills more than a screen and then hangs: the tour
 * stops at "-- more --" while it runs. Ctrl-C there stops it and returns to
 * the prompt; run again, q there ends the tour at once; nothing is left. */
static const char *more_keys(struct pty_tour *t, const char *screen)
{
    int *phase = t->arg;
    if (strstr(screen, "[press "))
        return "a";
    if (*phase < 2 && strstr(screen, "[Enter: next step"))
        return "\r";
    if (strstr(screen, "-- more --") && !strstr(screen, "arg: 30"))
        return "\r"; /* not yet the hanging program's second screen */
    if (*phase == 0 && strstr(screen, "-- more --"))
        return ++*phase, "\003";
    if (*phase == 1 && strstr(screen, "[Enter: run it again"))
        return ++*phase, "\r";
    if (*phase == 2 && strstr(screen, "-- more --"))
        return ++*phase, "q";
    return NULL;
}

Test(tour, at_more_ctrl_c_stops_the_program_and_q_quits_at_once, .timeout = 120)
{
    char *root = fixture_copy();
    char *path = xfmt("%s/lessons/01-hello/tour.md", root);
    char *text = get_file(path);
    char args[512] = ""; /* hello prints "arg: N" for each: 60 lines */
    for (int i = 1; i <= 60; i++)
        snprintf(args + strlen(args), sizeof args - strlen(args), " %d", i);
    char *more = xfmt("%s\n## Many lines, then it hangs\nrun: hello%s --hang\n", text, args);
    put_file(path, more);
    int phase = 0;
    struct pty_tour t = {.arg = &phase};
    pty_tour_run(&t, root, NULL, more_keys, 90, NULL);
    cr_assert_eq(phase, 3, "%s", t.out);
    cr_assert_eq(t.exit_code, 0, "%s", t.out);
    cr_assert(strstr(t.out, "(stopped with Ctrl-C)"), "%s", t.out);
    cr_assert(!strstr(t.out, "arg: 60"), "Ctrl-C and q skip the rest of the output:\n%s", t.out);
    cr_assert(strstr(t.out, "resumes at lesson 01, step 3"), "q ended the tour:\n%s", t.out);
    cr_expect(t.max_rows <= 24, "a screen of %d rows:\n%s", t.max_rows, t.max_where);
    cr_assert_eq(procs_naming(root), 0, "the program still runs");
    char *state = state_of(root);
    cr_assert(!strstr(state, "lesson.01-hello seen"), "%s", state);
    free(state);
    free(more);
    free(text);
    free(path);
    free(t.out);
    free(t.max_where);
    fixture_free(root);
}

/* The terminal window is closed while a program runs: the tour gets SIGHUP
 * and takes the program with it (it is in a process group of its own, which
 * the kernel's hang-up does not reach). */
static const char *close_when_running(struct pty_tour *t, const char *screen)
{
    (void)t;
    if (strstr(screen, "[press "))
        return "a";
    if (strstr(screen, "arg: --hang"))
        return "";
    if (strstr(screen, "[Enter: next step") || strstr(screen, "-- more --"))
        return "\r";
    return NULL;
}

Test(tour, a_closed_terminal_ends_the_tour_and_its_program, .timeout = 120)
{
    char *root = fixture_copy();
    char *path = xfmt("%s/lessons/01-hello/tour.md", root);
    char *text = get_file(path);
    char *more = xfmt("%s\n## A program that hangs\nrun: hello --hang\n", text);
    put_file(path, more);
    struct pty_tour t = {0};
    pty_tour_run(&t, root, NULL, close_when_running, 90, NULL);
    cr_assert(strstr(t.out, "arg: --hang"), "the program ran:\n%s", t.out);
    cr_assert_eq(t.exit_code, -1, "the tour ended on the hang-up signal:\n%s", t.out);
    for (int i = 0; i < 100 && procs_naming(root); i++)
        usleep(20000); /* SIGKILL is sent; the kernel reaps it in a moment */
    cr_assert_eq(procs_naming(root), 0, "the program outlived the tour");
    free(more);
    free(text);
    free(path);
    free(t.out);
    free(t.max_where);
    fixture_free(root);
}
