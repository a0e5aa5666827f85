/* grader.c -- check, hint, reset, solution, watch, grade (text, TAP, JUnit,
 * Gradescope) and grade-class, on a private copy of the fixture course
 * (exercise 01-add is function-level, 02-greet is a program). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "evlab_test.h"
#include "evtest.h"

static void solve(const char *root, const char *ex, const char *file)
{
    cr_assert_eq(sh("cp %s/solutions/%s/%s %s/exercises/%s/%s", root, ex, file, root, ex, file), 0);
}

Test(grader, check_reports_each_test_with_score_and_message)
{
    char *root = fixture_copy();
    double t0 = evt_now();
    struct evt_run r = evlab(root, NULL, "check", "01", NULL);
    double took = evt_now() - t0;
    cr_assert_eq(r.exit_code, 1, "a failing check exits 1: %s", r.err);
    cr_assert(strstr(r.out, "PASS     1/1   adds zero"), "%s", r.out);
    cr_assert(strstr(r.out, "FAIL     0/2   adds small numbers"), "%s", r.out);
    cr_assert(strstr(r.out, "add(2, 3) should be 5, got 2"), "the suite's message:\n%s", r.out);
    cr_assert(strstr(r.out, "1/3"), "%s", r.out);
    cr_log_info("evlab check 01 (function level) took %.2f s", took);
    evt_run_free(&r);
    char *st = state_of(root);
    cr_assert(strstr(st, "exercise.01-add failed 1/3"), "%s", st);
    free(st);
    fixture_free(root);
}

Test(grader, check_without_number_takes_the_next_unfinished_and_records_progress)
{
    char *root = fixture_copy();
    solve(root, "01-add", "add.c");
    struct evt_run r = evlab(root, NULL, "check", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "Checking 01-add"), "%s", r.out);
    cr_assert(strstr(r.out, "All tests pass"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "check", NULL);
    cr_assert(strstr(r.out, "Checking 02-greet"), "01 passed, so 02 is next:\n%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "list", NULL);
    cr_assert(strstr(r.out, "passed 3/3"), "%s", r.out);
    cr_assert(strstr(r.out, "1 of 2 exercises passed"), "%s", r.out);
    /* Statuses differ in length ("passed 3/3", "not started"); titles still line up. */
    const char *t1 = strstr(r.out, "Add two numbers"), *t2 = strstr(r.out, "Greet");
    cr_assert(t1 && t2, "%s", r.out);
    const char *l1 = t1, *l2 = t2;
    while (l1 > r.out && l1[-1] != '\n')
        l1--;
    while (l2 > r.out && l2[-1] != '\n')
        l2--;
    cr_assert_eq(t1 - l1, t2 - l2, "exercise titles start in different columns:\n%s", r.out);
    evt_run_free(&r);
    fixture_free(root);
}

Test(grader, check_shows_compiler_errors_with_file_and_line)
{
    char *root = fixture_copy();
    char *src = xfmt("%s/exercises/02-greet/greet.c", root);
    put_file(src, "#include <stdio.h>\nint main(void)\n{\n    return missing_name;\n}\n");
    struct evt_run r = evlab(root, NULL, "check", "02", NULL);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.out, "does not build"), "%s", r.out);
    cr_assert(strstr(r.out, "exercises/02-greet/greet.c:4:"), "file:line, relative:\n%s", r.out);
    cr_assert(strstr(r.out, "missing_name"), "%s", r.out);
    evt_run_free(&r);
    free(src);
    fixture_free(root);
}

Test(grader, hint_gives_one_more_each_time_and_counts_what_remains)
{
    char *root = fixture_copy();
    struct evt_run r = evlab(root, NULL, "hint", "01", NULL);
    cr_assert(strstr(r.out, "Hint 1 of 3: The operator is `+`."), "%s", r.out);
    cr_assert(strstr(r.out, "2 more hints left"), "%s", r.out);
    cr_assert(!strstr(r.out, "Hint 2"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "hint", "01", NULL);
    cr_assert(strstr(r.out, "Hint 2 of 3: Return the sum"), "%s", r.out);
    cr_assert(strstr(r.out, "1 more hint left"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "hint", "01", NULL);
    cr_assert(strstr(r.out, "Hint 3 of 3") && strstr(r.out, "last hint"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "hint", "01", NULL);
    cr_assert(strstr(r.out, "No hints left"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "hint", "77", NULL);
    cr_assert_eq(r.exit_code, 2);
    evt_run_free(&r);
    fixture_free(root);
}

Test(grader, solution_only_after_passing_or_for_instructors)
{
    char *root = fixture_copy();
    struct evt_run r = evlab(root, NULL, "solution", "01", NULL);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(!strstr(r.out, "return a + b"), "no solution before passing:\n%s", r.out);
    evt_run_free(&r);
    r = evlab(root, EVT_ENV("EVLAB_INSTRUCTOR=1"), "solution", "01", NULL);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "return a + b"), "%s", r.out);
    cr_assert(strstr(r.out, "-    return a; /* TODO */"), "a diff against the student's file:\n%s",
              r.out);
    evt_run_free(&r);
    solve(root, "01-add", "add.c");
    r = evlab(root, NULL, "check", "01", NULL);
    evt_run_free(&r);
    r = evlab(root, NULL, "solution", "01", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "(identical)"), "%s", r.out);
    evt_run_free(&r);
    fixture_free(root);
}

Test(grader, reset_asks_restores_from_git_and_keeps_a_backup)
{
    char *root = fixture_copy();
    cr_assert_eq(sh("cd %s && git init -q && git add -A exercises && git -c user.name=t "
                    "-c user.email=t@t commit -qm starter",
                    root),
                 0);
    char *src = xfmt("%s/exercises/01-add/add.c", root);
    put_file(src, "/* my work */\n");
    struct evt_run r;
    const char *argv[] = {evt_prog("evlab"), "reset", "01", NULL};
    char *rv = xfmt("EVLAB_ROOT=%s", root);
    cr_assert_eq(evt_run(&r, argv, EVT_ENV(rv), "n\n", 30), 0);
    char *now = get_file(src);
    cr_assert_str_eq(now, "/* my work */\n", "answering n changes nothing");
    free(now);
    evt_run_free(&r);
    cr_assert_eq(evt_run(&r, argv, EVT_ENV(rv), "y\n", 30), 0);
    cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
    now = get_file(src);
    cr_assert(strstr(now, "return a; /* TODO */"), "the starter is back:\n%s", now);
    free(now);
    cr_assert_eq(sh("grep -q 'my work' %s/.evlab-backup/01-add/*/add.c", root), 0,
                 "the backup keeps the student's version");
    evt_run_free(&r);
    free(rv);
    free(src);
    fixture_free(root);
}

Test(grader, grade_text_scores_every_exercise)
{
    char *root = fixture_copy();
    char *sub = xfmt("%s/solutions", root);
    struct evt_run r = evlab(root, NULL, "grade", "--submission", sub, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "01-add") && strstr(r.out, "02-greet"), "%s", r.out);
    cr_assert(strstr(r.out, "total 6/6"), "%s", r.out);
    cr_assert_eq(evt_count(r.out, "\033["), 0, "no colour in a pipe");
    evt_run_free(&r);
    r = evlab(root, NULL, "grade", "--backend", "all", "--submission", sub, NULL);
    cr_assert(strstr(r.out, "[poll]") && strstr(r.out, "[select]") && strstr(r.out, "[epoll]"),
              "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "grade", "--format", "yaml", NULL);
    cr_assert_eq(r.exit_code, 2);
    evt_run_free(&r);
    free(sub);
    fixture_free(root);
}

/* prove(1) before 3.48 knows TAP up to 13 only; TAP 14 differs from 13 in the
 * version line and the subtests, which 13 parsers read as comments/ignored
 * indented lines. So an old prove checks the stream with the version line
 * set to 13; a new one checks it as it is. */
static int prove(const char *file)
{
    return sh("v=$(prove --version | sed -n 's/.*Harness v\\([0-9.]*\\).*/\\1/p'); "
              "if awk -v v=\"$v\" 'BEGIN{exit !(v >= 3.48)}'; then prove -e cat %s; "
              "else sed '1s/TAP version 14/TAP version 13/' %s > %s.13 && prove -e cat %s.13; fi",
              file, file, file, file);
}

Test(grader, tap_output_passes_prove)
{
    char *root = fixture_copy();
    char *sol = xfmt("%s/solutions", root), *start = xfmt("%s/exercises", root);
    char *f1 = xfmt("%s/sol.tap", root), *f2 = xfmt("%s/start.tap", root);
    struct evt_run r = evlab(root, NULL, "grade", "--format", "tap", "--submission", sol, NULL);
    cr_assert(strncmp(r.out, "TAP version 14\n1..2\n# sandbox: ", 31) == 0, "%s", r.out);
    cr_assert(strstr(r.out, "\n# Subtest: 01-add\n    1..2\n"), "%s", r.out);
    put_file(f1, r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "grade", "--format", "tap", "--submission", start, NULL);
    cr_assert(strstr(r.out, "not ok 1 - 01-add 1/3"), "%s", r.out);
    cr_assert(strstr(r.out, "      message: \"add(2, 3) should be 5, got 2\""), "%s", r.out);
    put_file(f2, r.out);
    evt_run_free(&r);
    cr_assert_eq(prove(f1), 0, "prove accepts the solutions' TAP");
    cr_assert_neq(prove(f2), 0, "prove reports the starters' failures");
    cr_assert_eq(sh("prove -e cat %s%s 2>&1 | grep -q 'Parse errors'", f2,
                    access(xfmt("%s.13", f2), F_OK) == 0 ? ".13" : ""),
                 1, "failures, but no parse errors");
    free(sol), free(start), free(f1), free(f2);
    fixture_free(root);
}

Test(grader, junit_is_well_formed_xml)
{
    char *root = fixture_copy();
    char *sub = xfmt("%s/exercises", root), *f = xfmt("%s/junit.xml", root);
    /* A message with XML metacharacters and a control byte. */
    char *src = xfmt("%s/exercises/02-greet/greet.c", root);
    put_file(src, "#include <stdio.h>\nint main(void)\n{\n    printf(\"<&\\\"\\001>\\n\");\n"
                  "    return 0;\n}\n");
    struct evt_run r = evlab(root, NULL, "grade", "--format", "junit", "--submission", sub, NULL);
    put_file(f, r.out);
    cr_assert(strstr(r.out, "<testsuites name=\"evlab\" tests=\"3\" failures=\"2\""), "%s", r.out);
    cr_assert(strstr(r.out, "<failure type=\"FAIL\""), "%s", r.out);
    evt_run_free(&r);
    if (sh("command -v xmllint >/dev/null || command -v python3 >/dev/null") != 0)
        cr_skip_test("neither xmllint nor python3 is installed to parse the XML");
    int rc = sh("if command -v xmllint >/dev/null; then xmllint --noout %s; "
                "else python3 -c 'import sys,xml.dom.minidom as m; m.parse(sys.argv[1])' %s; fi",
                f, f);
    cr_assert_eq(rc, 0, "the JUnit XML does not parse");
    free(sub), free(f), free(src);
    fixture_free(root);
}

Test(grader, gradescope_results_json_has_the_published_fields)
{
    char *root = fixture_copy();
    char *sub = xfmt("%s/exercises", root), *f = xfmt("%s/results.json", root);
    struct evt_run r =
        evlab(root, NULL, "grade", "--format", "gradescope", "--submission", sub, NULL);
    put_file(f, r.out);
    evt_run_free(&r);
    /* perl's JSON::PP is part of perl itself (git brings perl along). */
    int rc =
        sh("perl -MJSON::PP -e '"
           "local $/; open my $f, q(<), $ARGV[0] or die; my $d = decode_json(<$f>);"
           "die qq(score\\n) unless $d->{score} == 1 && $d->{max_score} == 6;"
           "die qq(time\\n) unless $d->{execution_time} =~ /^[0-9.]+$/;"
           "my @t = @{$d->{tests}}; die qq(count\\n) unless @t == 3; my $sum = 0;"
           "for my $t (@t) { for my $k (qw(name number score max_score status output visibility))"
           " { die qq(missing $k\\n) unless exists $t->{$k} }"
           " die qq(status\\n) unless $t->{status} =~ /^(passed|failed)$/;"
           " die qq(visibility\\n) unless $t->{visibility} =~ "
           "/^(visible|hidden|after_due_date|after_published)$/;"
           " $sum += $t->{score} }"
           "die qq(sum\\n) unless $sum == $d->{score};' %s",
           f);
    cr_assert_eq(rc, 0, "results.json does not match Gradescope's format");
    free(sub), free(f);
    fixture_free(root);
}

Test(grader, grade_class_writes_a_gradebook_in_parallel, .timeout = 60)
{
    char *root = fixture_copy();
    cr_assert_eq(sh("cd %s && mkdir -p class/ada class/bob class/eve && "
                    "cp -r solutions/* class/ada/ && cp -r exercises/* class/bob/ && "
                    "mkdir -p class/eve/01-add && printf 'int add(int a, int b) { for (;;); }\\n' "
                    "> class/eve/01-add/add.c",
                    root),
                 0);
    char *cls = xfmt("%s/class", root), *out = xfmt("%s/grades", root);
    struct evt_run r = evlab(root, NULL, "grade-class", cls, "-j", "2", "-o", out, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    evt_run_free(&r);
    char *csvp = xfmt("%s/gradebook.csv", out);
    char *csv = get_file(csvp);
    cr_assert(strstr(csv, "student,01-add,02-greet,total,max\n"), "%s", csv);
    char *log = xfmt("%s/bob.log", out);
    char *logt = get_file(log);
    cr_log_info("bob.log: %s", logt);
    free(logt), free(log);
    cr_assert(strstr(csv, "\"ada\",3,3,6,6\n"), "%s", csv);
    cr_assert(strstr(csv, "\"bob\",1,0,1,6\n"), "%s", csv);
    cr_assert(strstr(csv, "\"eve\",0,0,0,"), "the hanging one scores 0, the others are fine:\n%s",
              csv);
    char *rep = xfmt("%s/ada.txt", out);
    char *txt = get_file(rep);
    cr_assert(strstr(txt, "total 6/6"), "%s", txt);
    free(txt), free(rep), free(csv), free(csvp), free(cls), free(out);
    fixture_free(root);
}

/* watch: in a pseudo-terminal; a save re-checks (inotify), q quits. */
static bool read_until(int fd, const char *needle, char *acc, size_t cap, double timeout)
{
    size_t len = strlen(acc);
    double end = evt_now() + timeout;
    while (!strstr(acc, needle)) {
        double left = end - evt_now();
        if (left <= 0)
            return false;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        ssize_t n = read(fd, acc + len, cap - len - 1);
        if (n <= 0)
            return false;
        len += (size_t)n;
        acc[len] = '\0';
    }
    return true;
}

/* evlab watch NN in a pseudo-terminal on a copy of the fixture; *master
 * is the terminal's other side. */
static pid_t watch_start(const char *root, const char *nn, int *master)
{
    pid_t pid = forkpty(master, NULL, NULL, NULL);
    cr_assert(pid >= 0);
    if (pid == 0) {
        setenv("EVLAB_ROOT", root, 1);
        unsetenv("EVLAB_STATE");
        setenv("NO_COLOR", "1", 1);
        setenv("EVLAB_BUILD", "build", 1);
        unsetenv("BXFI_MAP");
        execl(evt_prog("evlab"), "evlab", "watch", nn, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait up to limit_s for watch to end, draining its output so it never
 * blocks on a full terminal; kill it after that. Returns waitpid's answer
 * (0: it had to be killed). */
static pid_t watch_end(pid_t pid, int master, double limit_s, int *st)
{
    double end = evt_now() + limit_s;
    pid_t w = 0;
    while ((w = waitpid(pid, st, WNOHANG)) == 0 && evt_now() < end) {
        char tmp[4096];
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 100) > 0)
            (void)!read(master, tmp, sizeof tmp);
    }
    if (w == 0)
        kill(pid, SIGKILL), waitpid(pid, st, 0);
    return w;
}

Test(grader, watch_rechecks_on_save_and_quits_on_q, .timeout = 60)
{
    char *root = fixture_copy();
    int master;
    pid_t pid = watch_start(root, "01", &master);
    static char acc[1 << 16];
    acc[0] = '\0';
    cr_assert(read_until(master, "watching exercises/01-add/", acc, sizeof acc, 20), "%s", acc);
    cr_assert(strstr(acc, "0/2"), "the first check fails:\n%s", acc);
    solve(root, "01-add", "add.c");
    cr_assert(read_until(master, "All tests pass", acc, sizeof acc, 20), "no re-check:\n%s", acc);
    cr_assert(strstr(acc, "a file changed"), "%s", acc);
    cr_assert(read_until(master, "n: next exercise", acc, sizeof acc, 10), "%s", acc);
    /* Enter re-runs by hand. */
    acc[0] = '\0';
    cr_assert_eq(write(master, "\n", 1), 1);
    cr_assert(read_until(master, "Checking 01-add", acc, sizeof acc, 20), "%s", acc);
    cr_assert(read_until(master, "watching", acc, sizeof acc, 20), "%s", acc);
    /* n moves on, because it passed. */
    acc[0] = '\0';
    cr_assert_eq(write(master, "n\n", 2), 2);
    cr_assert(read_until(master, "Checking 02-greet", acc, sizeof acc, 20), "%s", acc);
    cr_assert(read_until(master, "watching exercises/02-greet/", acc, sizeof acc, 20), "%s", acc);
    cr_assert_eq(write(master, "q\n", 2), 2);
    int st = 0;
    pid_t w = watch_end(pid, master, 10, &st);
    cr_assert(w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "q did not end watch");
    close(master);
    fixture_free(root);
}

/* watch in a pseudo-terminal: a touch re-checks (nothing written), keys work
 * without Enter, and a bad save after a pass keeps "n" and the solution. */
Test(grader, watch_touch_rechecks_keys_need_no_enter_and_a_bad_save_locks_nothing, .timeout = 120)
{
    char *root = fixture_copy();
    int master;
    pid_t pid = watch_start(root, "01", &master);
    static char acc[1 << 16];
    acc[0] = '\0';
    cr_assert(read_until(master, "(no Enter needed)", acc, sizeof acc, 30), "%s", acc);
    solve(root, "01-add", "add.c");
    cr_assert(read_until(master, "All tests pass", acc, sizeof acc, 30), "no re-check:\n%s", acc);
    cr_assert(read_until(master, "n: next exercise", acc, sizeof acc, 20), "%s", acc);
    /* touch: the content is the same, the check runs again */
    acc[0] = '\0';
    cr_assert_eq(sh("touch %s/exercises/01-add/add.c", root), 0);
    cr_assert(read_until(master, "a file changed", acc, sizeof acc, 30), "touch: no re-check:\n%s",
              acc);
    cr_assert(read_until(master, "(no Enter needed)", acc, sizeof acc, 30), "%s", acc);
    /* a bad save: the check fails, n is still offered */
    acc[0] = '\0';
    char *src = xfmt("%s/exercises/01-add/add.c", root);
    put_file(src, "int add(int a, int b);\nint add(int a, int b) { return a - b; }\n");
    cr_assert(read_until(master, "points. Fix the first failure", acc, sizeof acc, 30), "%s", acc);
    cr_assert(read_until(master, "(no Enter needed)", acc, sizeof acc, 30), "%s", acc);
    cr_assert(strstr(acc, "n: next exercise"), "a bad save took back n:\n%s", acc);
    /* one key, no Enter */
    acc[0] = '\0';
    cr_assert_eq(write(master, "n", 1), 1);
    cr_assert(read_until(master, "Checking 02-greet", acc, sizeof acc, 30), "n alone:\n%s", acc);
    cr_assert(read_until(master, "watching exercises/02-greet/", acc, sizeof acc, 30), "%s", acc);
    cr_assert_eq(write(master, "q", 1), 1);
    int st = 0;
    pid_t w = watch_end(pid, master, 15, &st);
    cr_assert(w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "q alone did not end watch");
    close(master);
    struct evt_run r = evlab(root, NULL, "solution", "01", NULL);
    cr_assert_eq(r.exit_code, 0, "the earned solution is locked again:\n%s", r.out);
    evt_run_free(&r);
    free(src);
    fixture_free(root);
}

/* While watch runs, its terminal reads single keys (no ICANON, no echo);
 * Ctrl-C ends it and the terminal is as before (checked on the pty pair). */
Test(grader, watch_restores_the_terminal_on_ctrl_c, .timeout = 60)
{
    char *root = fixture_copy();
    int master;
    pid_t pid = watch_start(root, "02", &master);
    struct termios before;
    cr_assert_eq(tcgetattr(master, &before), 0);
    cr_assert(before.c_lflag & ICANON, "a new pty starts canonical");
    static char acc[1 << 16];
    acc[0] = '\0';
    cr_assert(read_until(master, "(no Enter needed)", acc, sizeof acc, 30), "%s", acc);
    struct termios during;
    cr_assert_eq(tcgetattr(master, &during), 0);
    cr_assert(!(during.c_lflag & ICANON) && !(during.c_lflag & ECHO),
              "watch reads single keys without echo");
    cr_assert_eq(write(master, "\003", 1), 1);
    int st = 0;
    pid_t w = watch_end(pid, master, 15, &st);
    cr_assert(w == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "Ctrl-C did not end watch");
    struct termios after;
    cr_assert_eq(tcgetattr(master, &after), 0);
    cr_assert((after.c_lflag & (ICANON | ECHO)) == (before.c_lflag & (ICANON | ECHO)),
              "the terminal was left without ICANON/ECHO");
    close(master);
    fixture_free(root);
}

/* ---- not run, warnings, backends (issue 14) ------------------------------------------- */

/* A suite (a script, real process) whose second test says "not run: needs"
 * the first, as the grading suites do: NOT RUN in text, a failure with its
 * reason in TAP (never "# SKIP": it scores 0), JUnit and Gradescope. */
Test(grader, not_run_is_its_own_status_in_every_format, .timeout = 90)
{
    char *root = fixture_copy();
    cr_assert_eq(sh("mkdir -p %s/nr/suites %s/nr/sub/00-fake && printf 'int main(void) { return "
                    "0; }\\n' > %s/nr/sub/00-fake/x.c",
                    root, root, root),
                 0);
    char *suite = xfmt("%s/nr/suites/00-fake", root);
    put_file(suite, "#!/bin/sh\n"
                    "if [ \"${EVLAB_LIST_TESTS:-}\" = 1 ]; then\n"
                    "  printf 'fake::a\\t2\\tfirst\\nfake::b\\t3\\tsecond\\nfake::c\\t4\\tthird\\n"
                    "fake::d\\t1\\tfourth\\n' "
                    ">&3; exit 0\nfi\n"
                    "printf 'fake::a\\tFAIL\\t2\\t0\\tfirst\\twrong answer\\n"
                    "fake::b\\tFAIL\\t3\\t0\\tsecond\\tnot run: needs fake::a to pass first\\n"
                    "fake::c\\tPASS\\t4\\t0\\tthird\\t\\n"
                    "fake::d\\tFAIL\\t1\\t0\\tfourth\\tnot run: needs fake::a to pass first (it "
                    "failed)\\n' >&3\n");
    cr_assert_eq(sh("chmod 755 %s", suite), 0);
    char *suites = xfmt("%s/nr/suites", root), *sub = xfmt("%s/nr/sub", root);
    struct evt_run r = evlab(root, NULL, "grade", "--suites", suites, "--submission", sub, NULL);
    cr_assert(strstr(r.out, "FAIL     0/2   first"), "%s", r.out);
    cr_assert(strstr(r.out, "NOT RUN  0/3   second"), "not run is its own status:\n%s", r.out);
    cr_assert(strstr(r.out, "PASS     4/4   third"), "%s", r.out);
    cr_assert(strstr(r.out, "NOT RUN  0/1   fourth  (fake::d)\n"
                            "                 not run: needs fake::a to pass first (as above)\n"),
              "the same cause once in full:\n%s", r.out);
    cr_assert(strstr(r.out, "total 4/10"), "not run scores 0 and stays in the maximum:\n%s", r.out);
    cr_assert(strstr(r.out,
                     "Fix first: first (fake::a), the first failure in task order; the tests "
                     "marked NOT RUN need it"),
              "%s", r.out);
    cr_assert(strstr(r.out, "build: -Wall -Wextra; warnings are notes"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "grade", "--format", "tap", "--suites", suites, "--submission", sub,
              NULL);
    cr_assert(strstr(r.out, "    not ok 2 - fake::b: second\n"), "%s", r.out);
    cr_assert(strstr(r.out, "      status: not run\n"), "%s", r.out);
    cr_assert(!strstr(r.out, "# SKIP") && !strstr(r.out, "# TODO"), "a 0-point test is not ok:\n%s",
              r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "grade", "--format", "junit", "--suites", suites, "--submission", sub,
              NULL);
    cr_assert(strstr(r.out, "<failure type=\"NOT_RUN\" message=\"second\">not run: needs fake::a"),
              "%s", r.out);
    cr_assert(strstr(r.out, "tests=\"4\" failures=\"3\""), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "grade", "--format", "gradescope", "--suites", suites, "--submission",
              sub, NULL);
    cr_assert(strstr(r.out, "\"score\": 4,\n  \"max_score\": 10,"), "%s", r.out);
    cr_assert(strstr(r.out, "(fake::b) [not run]\", \"number\": \"0.2\", \"score\": 0, "
                            "\"max_score\": 3, \"status\": \"failed\""),
              "%s", r.out);
    cr_assert(strstr(r.out, "fix first: first (fake::a)"), "%s", r.out);
    evt_run_free(&r);
    free(suite), free(suites), free(sub);
    fixture_free(root);
}

/* A build that fails: the compiler's output once, every test listed as
 * "not run: needs a build", the maximum unchanged (check, grade, JUnit). */
Test(grader, build_failure_lists_every_test_as_not_run, .timeout = 90)
{
    char *root = fixture_copy();
    char *src = xfmt("%s/exercises/02-greet/greet.c", root);
    put_file(src, "int main(void)\n{\n    return missing_name;\n}\n");
    struct evt_run r = evlab(root, NULL, "check", "02", NULL);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    cr_assert(strstr(r.out, "NOT RUN  0/3   greets by name"), "%s", r.out);
    cr_assert(strstr(r.out, "not run: needs a build"), "%s", r.out);
    cr_assert_eq(evt_count(r.out, "error:"), 1, "the compiler's output once:\n%s", r.out);
    cr_assert(strstr(r.out, "0 of 3 points"), "%s", r.out);
    evt_run_free(&r);
    char *st = state_of(root);
    cr_assert(strstr(st, "exercise.02-greet build-failed 0/3"), "the maximum stays:\n%s", st);
    free(st);
    char *sub = xfmt("%s/exercises", root);
    r = evlab(root, NULL, "grade", "--submission", sub, NULL);
    cr_assert(strstr(r.out, "02-greet  Greet  0/3"), "%s", r.out);
    cr_assert(strstr(r.out, "NOT RUN  0/3   greets by name"), "%s", r.out);
    cr_assert_eq(evt_count(r.out, "error:"), 1, "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "grade", "--format", "junit", "--submission", sub, NULL);
    cr_assert(strstr(r.out, "<failure type=\"NOT_RUN\""), "%s", r.out);
    cr_assert_eq(evt_count(r.out, "error:"), 1, "%s", r.out);
    evt_run_free(&r);
    free(src), free(sub);
    fixture_free(root);
}

/* Warnings are feedback; --werror is the strict rule; the header says which. */
Test(grader, warnings_are_feedback_and_werror_is_the_strict_rule, .timeout = 90)
{
    char *root = fixture_copy();
    char *src = xfmt("%s/exercises/02-greet/greet.c", root);
    put_file(src, "#include <stdio.h>\nint main(int argc, char **argv)\n{\n    int unused_var;\n"
                  "    printf(\"hello, %s\\n\", argv[1]);\n    return 0;\n}\n");
    struct evt_run r = evlab(root, NULL, "check", "02", NULL);
    cr_assert_eq(r.exit_code, 0, "a warning costs nothing:\n%s", r.out);
    cr_assert(strstr(r.out, "warnings are shown, not fatal"), "%s", r.out);
    cr_assert(strstr(r.out, "greet.c:4:") && strstr(r.out, "unused_var"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "check", "02", NULL);
    cr_assert(strstr(r.out, "unused_var"), "nothing rebuilt, the warnings still shown:\n%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "check", "02", "--werror", NULL);
    cr_assert_eq(r.exit_code, 1, "the rule changed, so it rebuilt:\n%s", r.out);
    cr_assert(strstr(r.out, "-Werror (--werror"), "%s", r.out);
    cr_assert(strstr(r.out, "NOT RUN  0/3"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "check", "02", NULL);
    cr_assert_eq(r.exit_code, 0, "and back:\n%s", r.out);
    evt_run_free(&r);
    char *sub = xfmt("%s/exercises", root);
    r = evlab(root, NULL, "grade", "--submission", sub, NULL);
    cr_assert(strstr(r.out, "\nbuild: -Wall -Wextra; warnings are notes"), "%s", r.out);
    cr_assert(strstr(r.out, "02-greet  Greet  3/3"), "%s", r.out);
    cr_assert(strstr(r.out, "note: compiler warnings") && strstr(r.out, "unused_var"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "grade", "--werror", "--submission", sub, NULL);
    cr_assert(strstr(r.out, "\nbuild: -Wall -Wextra -Werror"), "%s", r.out);
    cr_assert(strstr(r.out, "02-greet  Greet  0/3"), "%s", r.out);
    evt_run_free(&r);
    /* grade-class passes the rule on to each grade */
    cr_assert_eq(sh("cd %s && mkdir -p class/ann && cp -r solutions/01-add exercises/02-greet "
                    "class/ann/",
                    root),
                 0);
    char *cls = xfmt("%s/class", root), *out = xfmt("%s/g1", root), *out2 = xfmt("%s/g2", root);
    r = evlab(root, NULL, "grade-class", cls, "-o", out, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    evt_run_free(&r);
    r = evlab(root, NULL, "grade-class", cls, "--werror", "-o", out2, NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    evt_run_free(&r);
    char *p1 = xfmt("%s/gradebook.csv", out), *p2 = xfmt("%s/gradebook.csv", out2);
    char *c1 = get_file(p1), *c2 = get_file(p2);
    cr_assert(strstr(c1, "\"ann\",3,3,6,6\n"), "%s", c1);
    cr_assert(strstr(c2, "\"ann\",3,0,3,6\n"), "--werror: %s", c2);
    free(c1), free(c2), free(p1), free(p2), free(cls), free(out), free(out2);
    free(src), free(sub);
    fixture_free(root);
}

/* A program that fails only on select (it reads what the grader sets to pick
 * the backend): check names its backend, --backend all finds the failure and
 * names select, grade --backend all too. */
Test(grader, check_names_its_backend_and_all_finds_a_select_only_failure, .timeout = 90)
{
    char *root = fixture_copy();
    char *src = xfmt("%s/exercises/02-greet/greet.c", root);
    put_file(src, "#include <stdio.h>\n#include <stdlib.h>\nint main(int argc, char **argv)\n{\n"
                  "    if (argc < 2 || getenv(\"EVENT_NOPOLL\"))\n        return 1;\n"
                  "    printf(\"hello, %s\\n\", argv[1]);\n    return 0;\n}\n");
    struct evt_run r = evlab(root, EVT_ENV("EVENT_NOEPOLL", "EVENT_NOPOLL"), "check", "02", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "backend: epoll (libevent's choice here"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "check", "02", "--backend", "poll", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "backend: poll (--backend)"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "check", "--backend", "all", "02", NULL);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    cr_assert(strstr(r.out, "backends: epoll, poll and select"), "%s", r.out);
    cr_assert(strstr(r.out, "PASS     3/3   greets by name  (greet::says_hello [poll])"), "%s",
              r.out);
    cr_assert(strstr(r.out, "FAIL     0/3   greets by name  (greet::says_hello [select])"), "%s",
              r.out);
    cr_assert(strstr(r.out, "6 of 9 points"), "%s", r.out);
    cr_assert(strstr(r.out, "by backend: epoll 3/3, poll 3/3, select 0/3"), "%s", r.out);
    cr_assert(strstr(r.out, "Fix first: greets by name (greet::says_hello [select])"), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "check", "02", "--backend", "kqueue", NULL);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "kqueue"), "%s", r.err);
    evt_run_free(&r);
    char *sub = xfmt("%s/exercises", root);
    r = evlab(root, NULL, "grade", "--backend", "all", "--submission", sub, NULL);
    cr_assert(strstr(r.out, "02-greet  Greet  6/9"), "%s", r.out);
    cr_assert(strstr(r.out, "FAIL     0/3   greets by name  (greet::says_hello [select])"), "%s",
              r.out);
    evt_run_free(&r);
    free(src), free(sub);
    fixture_free(root);
}

/* hint and solution without NN follow the exercise checked last; a solution
 * once earned stays open after a bad save; the lock names no --force. */
Test(grader, hint_and_solution_follow_the_exercise_checked_last, .timeout = 90)
{
    char *root = fixture_copy();
    struct evt_run r = evlab(root, NULL, "hint", NULL);
    cr_assert(strstr(r.out, "Hint 1 of 3: The operator is `+`."), "nothing checked: 01:\n%s",
              r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "check", "02", NULL);
    evt_run_free(&r);
    r = evlab(root, NULL, "hint", NULL);
    cr_assert(strstr(r.out, "Hint 1 of 1: Use `printf`."), "after check 02, 02's hint:\n%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "solution", NULL);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    cr_assert(strstr(r.out, "opens once your version passes: ./evlab check 02"), "%s", r.out);
    cr_assert(!strstr(r.out, "force") && !strstr(r.out, "INSTRUCTOR"),
              "the lock does not advertise a way round it:\n%s", r.out);
    evt_run_free(&r);
    solve(root, "02-greet", "greet.c");
    r = evlab(root, NULL, "check", "02", NULL);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    evt_run_free(&r);
    char *src = xfmt("%s/exercises/02-greet/greet.c", root);
    put_file(src, "int main(void) { return 1; }\n");
    r = evlab(root, NULL, "check", "02", NULL);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "solution", NULL);
    cr_assert_eq(r.exit_code, 0, "one bad save does not lock an earned solution:\n%s", r.out);
    cr_assert(strstr(r.out, "== solutions/02-greet/greet.c =="), "%s", r.out);
    evt_run_free(&r);
    r = evlab(root, NULL, "hint", NULL);
    cr_assert(strstr(r.out, "Hint 1 of 1") || strstr(r.out, "No hints left"), "%s", r.out);
    evt_run_free(&r);
    free(src);
    fixture_free(root);
}

/* ---- integrity: each case in both sandbox modes ---------------------------------------- */

static const char *const MODES[] = {"bwrap", "uid"};

static bool mode_usable(const char *mode)
{
    if (strcmp(mode, "bwrap") != 0)
        return true;
    if (geteuid() == 0)
        return sh("setpriv --reuid 62099 --regid 62099 --clear-groups bwrap --unshare-all "
                  "--die-with-parent --ro-bind / / --proc /proc true >/dev/null 2>&1") == 0;
    return sh("bwrap --unshare-all --die-with-parent --ro-bind / / --proc /proc true "
              ">/dev/null 2>&1") == 0;
}

/* A library whose constructor calls _exit(0): Criterion would call that a pass. */
Test(grader, constructor_that_exits_scores_nothing, .timeout = 90)
{
    for (int m = 0; m < 2; m++) {
        if (!mode_usable(MODES[m]))
            continue;
        char *root = fixture_copy();
        char *src = xfmt("%s/exercises/01-add/add.c", root);
        put_file(src, "#include <unistd.h>\n"
                      "__attribute__((constructor)) static void f(void) { _exit(0); }\n"
                      "int add(int a, int b) { return a - b; }\n");
        char *sub = xfmt("%s/exercises", root), *mv = xfmt("EVLAB_SANDBOX=%s", MODES[m]);
        struct evt_run r = evlab(root, EVT_ENV(mv), "grade", "--submission", sub, NULL);
        cr_assert(strstr(r.out, "01-add  Add two numbers  0/3"), "[%s] %s", MODES[m], r.out);
        cr_assert(strstr(r.out, "ended the process"), "[%s] %s", MODES[m], r.out);
        evt_run_free(&r);
        free(src), free(sub), free(mv);
        fixture_free(root);
    }
}

/* Exercise 01's code plants symlinks where exercise 02's copy, the suites and
 * the build would go, pointing at a folder outside; 02 is graded as usual and
 * nothing is written through them. */
Test(grader, symlink_planted_between_exercises_is_never_followed, .timeout = 90)
{
    for (int m = 0; m < 2; m++) {
        if (!mode_usable(MODES[m]))
            continue;
        char *root = fixture_copy();
        cr_assert_eq(sh("mkdir -p %s/victim && echo keep > %s/victim/file && chmod 777 %s/victim "
                        "&& mkdir -p %s/sub && cp -r %s/solutions/* %s/sub/",
                        root, root, root, root, root, root),
                     0);
        char *src = xfmt("%s/sub/01-add/add.c", root);
        char *code = xfmt("#include <unistd.h>\n"
                          "__attribute__((constructor)) static void plant(void)\n{\n"
                          "    const char *at[] = {\"../ex-02-greet\", \"../suites/02-greet\", "
                          "\"../build/x\", \"../tmp-02-greet\", \"/tmp/ex-02-greet\"};\n"
                          "    for (int i = 0; i < 5; i++)\n"
                          "        if (symlink(\"%s/victim\", at[i]) != 0) { /* blocked */ }\n}\n"
                          "int add(int a, int b) { return a + b; }\n",
                          root);
        put_file(src, code);
        char *sub = xfmt("%s/sub", root), *mv = xfmt("EVLAB_SANDBOX=%s", MODES[m]);
        struct evt_run r = evlab(root, EVT_ENV(mv), "grade", "--submission", sub, NULL);
        cr_assert(strstr(r.out, "02-greet  Greet  3/3"), "[%s] %s", MODES[m], r.out);
        cr_assert_eq(
            sh("test \"$(ls -A %s/victim)\" = file && grep -qx keep %s/victim/file", root, root), 0,
            "[%s] something was written into the victim folder", MODES[m]);
        evt_run_free(&r);
        unlink("/tmp/ex-02-greet");
        free(src), free(code), free(sub), free(mv);
        fixture_free(root);
    }
}

/* grade-class -j 4: mallory's code goes after three honest peers graded at the
 * same time (kill(-1), /proc, the shared /tmp, a fork bomb). */
Test(grader, grade_class_peers_are_out_of_reach, .timeout = 120)
{
    for (int m = 0; m < 2; m++) {
        if (!mode_usable(MODES[m]))
            continue;
        char *root = fixture_copy();
        char cwd[4096];
        cr_assert(getcwd(cwd, sizeof cwd));
        cr_assert_eq(sh("cd %s && for s in ada bob cat; do mkdir -p class/$s && "
                        "cp -r solutions/* class/$s/; done && mkdir -p class/mallory/02-greet && "
                        "cp -r solutions/01-add class/mallory/ && "
                        "cp %s/tests/hostile/peers/00-hostile/hostile.c class/mallory/02-greet/"
                        "greet.c",
                        root, cwd),
                     0);
        char *cls = xfmt("%s/class", root), *out = xfmt("%s/grades", root);
        char *mv = xfmt("EVLAB_SANDBOX=%s", MODES[m]);
        struct evt_run r = evlab(root, EVT_ENV(mv), "grade-class", cls, "-j", "4", "-o", out, NULL);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        evt_run_free(&r);
        char *csvp = xfmt("%s/gradebook.csv", out);
        char *csv = get_file(csvp);
        cr_assert(strstr(csv, "\"ada\",3,3,6,6\n") && strstr(csv, "\"bob\",3,3,6,6\n") &&
                      strstr(csv, "\"cat\",3,3,6,6\n"),
                  "[%s] a peer lost points:\n%s", MODES[m], csv);
        cr_assert(strstr(csv, "\"mallory\",3,0,3,6\n"), "[%s] mallory reached a peer:\n%s",
                  MODES[m], csv);
        free(csv), free(csvp), free(cls), free(out), free(mv);
        fixture_free(root);
    }
}

/* A library that writes forged verdict lines wherever a report could go: the
 * inherited fds, $EVLAB_REPORT, $EVLAB_REPORT_FD. */
Test(grader, library_forging_the_report_scores_nothing, .timeout = 90)
{
    for (int m = 0; m < 2; m++) {
        if (!mode_usable(MODES[m]))
            continue;
        char *root = fixture_copy();
        char *src = xfmt("%s/exercises/01-add/add.c", root);
        put_file(src,
                 "#include <fcntl.h>\n#include <stdlib.h>\n#include <string.h>\n"
                 "#include <unistd.h>\n"
                 "static const char l[] = \"add::zero\\tPASS\\t1\\t0\\tx\\t\\n"
                 "add::small\\tPASS\\t2\\t0\\tx\\t\\nadd::bonus\\tPASS\\t9999\\t0\\tx\\t\\n\";\n"
                 "__attribute__((constructor)) static void forge(void)\n{\n"
                 "    for (int fd = 3; fd < 1024; fd++)\n"
                 "        if (write(fd, l, sizeof l - 1) < 0) { }\n"
                 "    const char *p = getenv(\"EVLAB_REPORT\");\n"
                 "    int fd = p ? open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666) : -1;\n"
                 "    if (fd >= 0 && write(fd, l, sizeof l - 1) < 0) { }\n}\n"
                 "int add(int a, int b) { (void)a; (void)b; return 0; }\n");
        char *sub = xfmt("%s/exercises", root), *mv = xfmt("EVLAB_SANDBOX=%s", MODES[m]);
        struct evt_run r = evlab(root, EVT_ENV(mv), "grade", "--submission", sub, NULL);
        cr_assert(strstr(r.out, "01-add  Add two numbers  0/3"), "[%s] %s", MODES[m], r.out);
        cr_assert(!strstr(r.out, "/9999") && !strstr(r.out, "add::bonus)"),
                  "[%s] the invented test was scored:\n%s", MODES[m], r.out);
        evt_run_free(&r);
        free(src), free(sub), free(mv);
        fixture_free(root);
    }
}

/* The grader believes the suite's own list, not its report: a duplicated line
 * scores 0, a missing one 0 (still in the maximum), an invented one is ignored
 * and named, and a weight in the report changes nothing. */
Test(grader, judge_trusts_the_list_not_the_report, .timeout = 60)
{
    char *root = fixture_copy();
    cr_assert_eq(
        sh("cd %s && mkdir -p fake/suites fake/sub/00-fake && "
           "printf 'int main(void) { return 0; }\\n' > fake/sub/00-fake/x.c && "
           "printf '#!/bin/sh\\nif [ \"${EVLAB_LIST_TESTS:-}\" = 1 ]; then\\n"
           "printf \"fake::a\\\\t2\\\\tA\\\\nfake::b\\\\t3\\\\tB\\\\nfake::c\\\\t4\\\\tC\\\\n\" "
           ">&3; "
           "exit 0; fi\\n"
           "printf "
           "\"fake::a\\\\tPASS\\\\t2\\\\t0\\\\tA\\\\t\\\\nfake::b\\\\tPASS\\\\t99\\\\t0\\\\tB"
           "\\\\t\\\\nfake::b\\\\tPASS\\\\t3\\\\t0\\\\tB\\\\t\\\\nfake::zz\\\\tPASS\\\\t9999\\\\t0"
           "\\\\tZ\\\\t\\\\n\" >&3\\n' > fake/suites/00-fake && chmod 755 fake/suites/00-fake",
           root),
        0);
    char *suites = xfmt("%s/fake/suites", root), *sub = xfmt("%s/fake/sub", root);
    struct evt_run r = evlab(root, NULL, "grade", "--suites", suites, "--submission", sub, NULL);
    cr_assert(strstr(r.out, "total 2/9"), "%s", r.out);
    cr_assert(strstr(r.out, "reported more than once"), "%s", r.out);
    cr_assert(strstr(r.out, "never reported"), "%s", r.out);
    cr_assert(strstr(r.out, "does not have (fake::zz)"), "%s", r.out);
    evt_run_free(&r);
    free(suites), free(sub);
    fixture_free(root);
}
