/* labs.c -- the lab sheets, the home page and the instructor build as built.
 *
 * Each lab sheet has its sections in the order a TA hands them out; a lesson
 * whose lab.md lists checkpoints shows each of them; the points table of an
 * exercise adds up to the weights of the GRADED(...) lines of its grading
 * suite (parsed here, independently of tools/docs/points.sh); no output links
 * to the build machine (file:// or the absolute build path); an answer key
 * that quotes a program's output says what that program prints when run now.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

/* Calls fn(slug) for each lessons/NN-slug/ directory; returns how many. */
static int each_lesson(void (*fn)(const char *slug))
{
    DIR *d = opendir("lessons");
    cr_assert_not_null(d, "run from the repository root");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        fn(e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static const char *const sections[] = {
    "Objectives", "Prerequisites", "Time",        "Set-up",
    "Steps",      "Questions",     "Graded task", "How to check and submit",
};

static void check_sections(const char *slug)
{
    char path[512];
    snprintf(path, sizeof path, "build/handouts/%s.html", slug);
    char *html = slurp(path);
    cr_assert_not_null(html, "%s is missing: run make handouts", path);
    const char *at = html;
    for (size_t i = 0; i < sizeof sections / sizeof *sections; i++) {
        char want[128];
        snprintf(want, sizeof want, ">%s</h2>", sections[i]);
        const char *p = strstr(at, want);
        cr_expect_not_null(p, "%s: no section \"%s\" after \"%s\"", path, sections[i],
                           i ? sections[i - 1] : "the title");
        if (p)
            at = p;
    }
    /* Every checkpoint of lab.md is in the sheet. */
    snprintf(path, sizeof path, "lessons/%s/lab.md", slug);
    char *meta = slurp(path);
    cr_assert_not_null(meta, "%s is missing", path);
    const char *cp = strstr(meta, "\n## Checkpoints\n");
    int n = 0;
    if (cp) {
        const char *end = strstr(cp + 1, "\n## ");
        for (const char *l = cp; l && (!end || l < end); l = strchr(l + 1, '\n'))
            if (l[1] >= '1' && l[1] <= '9' && strchr(l + 1, '.') && strchr(l + 1, '.') < l + 4)
                n++;
    }
    for (int k = 1; k <= n; k++) {
        char want[64];
        snprintf(want, sizeof want, "Checkpoint %d.", k);
        cr_expect_not_null(strstr(html, want), "%s: \"%s\" is missing", slug, want);
    }
    free(meta);
    free(html);
}

Test(labs, sheets_have_their_sections_in_order_and_their_checkpoints)
{
    cr_assert_gt(each_lesson(check_sections), 0);
}

/* Sum of the weights of tests/grading/NN-*.c's GRADED(suite, name, weight, ...) lines. */
static int graded_points(const char *slug, int *tests)
{
    char path[512];
    snprintf(path, sizeof path, "tests/grading/%s.c", slug);
    char *src = slurp(path);
    if (!src)
        return -1;
    int sum = 0;
    *tests = 0;
    for (const char *p = src; (p = strstr(p, "\nGRADED(")); p++) {
        /* skip suite and name: the weight follows the second comma */
        const char *c = strchr(p, ',');
        c = c ? strchr(c + 1, ',') : NULL;
        cr_assert_not_null(c, "%s: a GRADED line without a weight", path);
        sum += atoi(c + 1);
        (*tests)++;
    }
    free(src);
    return sum;
}

static void check_points(const char *slug)
{
    int tests = 0, points = graded_points(slug, &tests);
    if (points < 0)
        return; /* no exercise: nothing to check */
    cr_assert_gt(tests, 0, "%s: no GRADED lines", slug);
    char path[512];
    snprintf(path, sizeof path, "build/handouts/%s.html", slug);
    char *html = slurp(path);
    cr_assert_not_null(html, "%s is missing", path);
    char want[128];
    snprintf(want, sizeof want, "%d tests</td>", tests);
    cr_expect_not_null(strstr(html, want), "%s: the points table does not say %d tests", slug,
                       tests);
    snprintf(want, sizeof want, "<strong>%d</strong>", points);
    const char *total = strstr(html, ">Points</h3>");
    cr_expect(total && strstr(total, want), "%s: the points table does not total %d", slug, points);
    free(html);
}

Test(labs, points_tables_match_the_grading_suites) { cr_assert_gt(each_lesson(check_points), 0); }

static void no_machine_paths(const char *path)
{
    char *s = slurp(path);
    if (!s)
        return;
    char cwd[2048];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_expect_null(strstr(s, "file://"), "%s links to file://", path);
    cr_expect_null(strstr(s, cwd), "%s names the build directory %s", path, cwd);
    free(s);
}

static void check_paths(const char *slug)
{
    char path[512];
    snprintf(path, sizeof path, "build/handouts/%s.html", slug);
    no_machine_paths(path);
    snprintf(path, sizeof path, "build/handouts/%s.pdf", slug);
    no_machine_paths(path);
    snprintf(path, sizeof path, "build/slides/%s.html", slug);
    no_machine_paths(path);
}

Test(labs, no_output_names_the_build_machine)
{
    cr_assert_gt(each_lesson(check_paths), 0);
    no_machine_paths("build/docs-index.html");
}

Test(labs, home_page_links_are_relative_and_lead_somewhere)
{
    char *html = slurp("build/docs-index.html");
    cr_assert_not_null(html, "build/docs-index.html is missing: run make docs");
    int links = 0;
    for (const char *p = html; (p = strstr(p, "href=\"")); p++) {
        p += 6;
        const char *q = strchr(p, '"');
        cr_assert_not_null(q);
        char target[512];
        snprintf(target, sizeof target, "%.*s", (int)(q - p), p);
        cr_expect(target[0] != '/' && !strstr(target, "://"), "absolute link %s", target);
        /* Student pages must exist; the instructor build is made separately. */
        if (strncmp(target, "instructor/", 11) != 0) {
            char file[600];
            snprintf(file, sizeof file, "build/%s", target);
            cr_expect_eq(access(file, R_OK), 0, "the home page links to %s, which is missing",
                         target);
        }
        links++;
    }
    cr_expect_gt(links, 40, "only %d links on the home page", links);
    cr_expect_not_null(strstr(html, "How to present"));
    free(html);
}

/* ---- answer keys against runs ---------------------------------------------------------
 * Each row: a lesson program run now (from $BUILD, default build/, stdin empty,
 * stderr merged), a line it must print, and the text the answer key quotes
 * from that run. Both must hold: the key cannot keep a figure the program
 * no longer prints. Only cheap, deterministic runs (socket pairs, forked
 * children), none timed. */
struct key_run {
    const char *answers;    /* lessons/NN-slug/answers.md */
    const char *argv[6];    /* program (relative to $BUILD) and arguments */
    const char *prints;     /* a substring of the program's output */
    const char *key_quotes; /* a substring of the answer key */
};

static const struct key_run key_runs[] = {
    {"lessons/04-event-flags/answers.md",
     {"lessons/04-event-flags/edge_triggered", "--method", "epoll"},
     "  ET           2         4         6",
     "ET 2 callbacks, 4 read, 6 unread"},
    {"lessons/04-event-flags/answers.md",
     {"lessons/04-event-flags/closed", "--method", "poll", "--reset"},
     "what=EV_CLOSED, 3 bytes still unread",
     "poll\n   `EV_CLOSED`"},
    {"lessons/04-event-flags/answers.md",
     {"lessons/04-event-flags/closed", "--method", "epoll", "--reset", "--with-read"},
     "what=EV_READ, 3 bytes still unread",
     "`what=EV_READ` on epoll"},
    {"lessons/04-event-flags/answers.md",
     {"lessons/04-event-flags/closed", "--method", "select"},
     "what=EV_TIMEOUT, 3 bytes still unread",
     "select `EV_TIMEOUT`"},
    {"lessons/13-threads/answers.md",
     {"lessons/13-threads/del_from_thread"},
     "(it waited for the running callback)",
     "(it waited for the\n   running callback)"},
    {"lessons/15-debugging/answers.md",
     {"lessons/15-debugging/debug_mode", "--no-debug", "--mistake", "use-after-free"},
     "event_add after event_free returned 0",
     "`event_add after event_free returned 0`"},
    {"lessons/15-debugging/answers.md",
     {"lessons/15-debugging/debug_mode", "--mistake", "copied"},
     "called on a non-initialized event",
     "called on a non-initialized event"},
    {"lessons/15-debugging/answers.md",
     {"lessons/15-debugging/log_callback", "--no-fatal-callback"},
     "child exited with status 1",
     "without a fatal callback, also status 1"},
};

/* Runs argv[0] (under $BUILD) with stdin empty; returns what it printed on stdout
 * and stderr, or NULL if it ran past `secs` (then it is killed: it is our child). */
static char *run_output(const char *const argv[], int secs)
{
    const char *build = getenv("EVLAB_BUILD") ? getenv("EVLAB_BUILD") : "build";
    char prog[512];
    snprintf(prog, sizeof prog, "%s/%s", build, argv[0]);
    cr_assert_eq(access(prog, X_OK), 0, "%s is not built", prog);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", 0);
        if (devnull >= 0)
            dup2(devnull, 0);
        setenv("EVLAB_STEP", "0", 1);
        execv(prog, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0, cap = 4096;
    char *out = malloc(cap);
    time_t deadline = time(NULL) + secs;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int left = (int)(deadline - time(NULL));
        if (left <= 0 || poll(&p, 1, left * 1000) <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            close(fds[0]);
            free(out);
            return NULL;
        }
        if (cap - len < 1024)
            out = realloc(out, cap *= 2);
        ssize_t n = read(fds[0], out + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return out;
}

Test(labs, answer_keys_quote_what_the_programs_print, .timeout = 300)
{
    for (size_t i = 0; i < sizeof key_runs / sizeof *key_runs; i++) {
        const struct key_run *k = &key_runs[i];
        char *key = slurp(k->answers);
        cr_assert_not_null(key, "%s is missing", k->answers);
        cr_expect_not_null(strstr(key, k->key_quotes), "%s no longer quotes \"%s\"", k->answers,
                           k->key_quotes);
        free(key);
        /* run_output's argv needs argv[0] as the program name: pass the path. */
        char *out = run_output(k->argv, 120);
        cr_expect_not_null(out, "%s did not finish in 120 s", k->argv[0]);
        if (out)
            cr_expect_not_null(strstr(out, k->prints),
                               "%s %s: the answer key quotes \"%s\", the program printed:\n%s",
                               k->argv[0], k->argv[1] ? k->argv[1] : "", k->prints, out);
        free(out);
    }
}

/* Speaker notes: every deck has them in its source (::: notes), and the student
 * decks do not carry them (include.lua keeps them for make instructor only). */
static void check_notes(const char *slug)
{
    char path[512];
    snprintf(path, sizeof path, "slides/%s.md", slug);
    char *md = slurp(path);
    if (!md)
        return; /* a lesson without a deck */
    int notes = 0, slides = 0;
    for (const char *p = md; (p = strstr(p, "\n::: notes\n")); p++)
        notes++;
    for (const char *p = md; (p = strstr(p, "\n## ")); p++)
        slides++;
    cr_expect_geq(notes * 2, slides, "%s: %d speaker notes for %d slides", path, notes, slides);
    free(md);
    snprintf(path, sizeof path, "build/slides/%s.html", slug);
    char *html = slurp(path);
    cr_assert_not_null(html, "%s is missing: run make slides", path);
    cr_expect_null(strstr(html, "<div class=\"notes\""), "%s carries speaker notes", path);
    free(html);
}

Test(labs, decks_have_speaker_notes_kept_out_of_the_student_build)
{
    cr_assert_gt(each_lesson(check_notes), 0);
}
