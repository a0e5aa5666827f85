/* student.c -- the student's commands: check, hint, reset, solution.
 *
 * check builds without -Werror unless asked (--werror), shows the compiler's
 * warnings, says which backend it graded on (--backend all: each of epoll,
 * poll and select), and lists every test even when the build fails ("not run:
 * needs a build"). hint and solution without NN work on the exercise check
 * looked at last; hints come from exercises/NN-slug/hints.md, one at a time.
 * A solution once earned stays open (the "earned." key in the state file).
 *
 * `check` grades the working tree on the student's own machine: no sandbox
 * (it is their own code and account), the suite's verdict still comes through
 * its own pipe (fd 3), never a file.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "evlab.h"
#include "grade.h"

/* ---- check -------------------------------------------------------------------------- */

int next_unfinished(const struct unit *ex, int n)
{
    for (int i = 0; i < n; i++) {
        char *key = xasprintf("exercise.%s", ex[i].name);
        char *st = state_get(key);
        bool passed = st && strncmp(st, "passed", 6) == 0;
        free(st);
        free(key);
        if (!passed)
            return i;
    }
    return -1;
}

static void record(const char *name, const char *status, int score, int max)
{
    char *key = xasprintf("exercise.%s", name);
    char *val = xasprintf("%s %d/%d", status, score, max);
    state_set(key, val);
    free(key);
    free(val);
    /* Once earned, the solution stays open: a later bad save does not lock it. */
    if (strcmp(status, "passed") == 0) {
        key = xasprintf("earned.%s", name);
        state_set(key, "1");
        free(key);
    }
    state_set("current", name);
}

bool exercise_earned(const struct unit *u)
{
    char *key = xasprintf("earned.%s", u->name);
    char *st = state_get(key);
    free(key);
    bool earned = st != NULL;
    free(st);
    key = xasprintf("exercise.%s", u->name);
    st = state_get(key);
    free(key);
    earned = earned || (st && strncmp(st, "passed", 6) == 0); /* passed before "earned" */
    free(st);
    return earned;
}

/* The exercise the student is on, for hint and solution without NN: the one
 * check looked at last (its "current" in the state file); for hint, if that
 * one passes already, the next unfinished one, as check would pick. */
static int current_exercise(const struct unit *ex, int n, bool for_hint)
{
    char *cur = state_get("current");
    int i = -1;
    for (int k = 0; cur && k < n; k++)
        if (strcmp(ex[k].name, cur) == 0)
            i = k;
    free(cur);
    if (i >= 0 && for_hint) {
        char *key = xasprintf("exercise.%s", ex[i].name);
        char *st = state_get(key);
        if (st && strncmp(st, "passed", 6) == 0)
            i = -1;
        free(st);
        free(key);
    }
    return i >= 0 ? i : next_unfinished(ex, n);
}

/* make targets for the .c files of `dir`: build/exercises/NAME/prog (or prog.so) */
static int exercise_targets(const char *dir, const char *name, enum ex_kind kind, char ***out)
{
    char **progs;
    int np = list_programs(dir, &progs);
    char **t = calloc((size_t)np + 1, sizeof *t);
    for (int i = 0; i < np; i++)
        t[i] = xasprintf("%s/exercises/%s/%s%s", g_build, name, progs[i],
                         kind == EX_LIBRARY ? ".so" : "");
    free_names(progs, np);
    *out = t;
    return np;
}

/* The suite's own list of tests (as grade asks for it), before anything runs. */
static int suite_tests(const char *suite, struct expect *x)
{
    struct sandbox sb = {.mode = SB_NONE, .uid_lock = -1, .top_fd = -1};
    const char *argv[] = {suite, NULL};
    const char *env[] = {"EVLAB_LIST_TESTS=1", "EVLAB_REPORT_FD=3", "EVLAB_REPORT", NULL};
    struct sb_cmd c = {.argv = argv,
                       .env = env,
                       .timeout_s = 30,
                       .cap_bytes = 4096,
                       .report = true,
                       .report_cap = 256 * 1024};
    struct proc_result r;
    int n = sandbox_run(&sb, &c, &r) == 0 ? expect_parse(x, r.rep) : 0;
    proc_result_free(&r);
    return n;
}

/* Which backend libevent picks under the environment the suite will inherit. */
static void set_backend_env(const char *backend)
{
    if (!backend || strcmp(backend, "default") == 0 || strcmp(backend, "all") == 0)
        return;
    bool noepoll = strcmp(backend, "epoll") != 0, nopoll = strcmp(backend, "select") == 0;
    if (noepoll)
        setenv("EVENT_NOEPOLL", "1", 1);
    else
        unsetenv("EVENT_NOEPOLL");
    if (nopoll)
        setenv("EVENT_NOPOLL", "1", 1);
    else
        unsetenv("EVENT_NOPOLL");
}

static char *picked_backend(void)
{
    struct event_base *b = event_base_new();
    char *m = strdup(b ? event_base_get_method(b) : "none");
    if (b)
        event_base_free(b);
    return m;
}

int check_parse(int argc, char **argv, struct check_opts *co, const char **num)
{
    memset(co, 0, sizeof *co);
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--werror") == 0) {
            co->werror = true;
        } else if (strcmp(argv[a], "--backend") == 0) {
            if (a + 1 >= argc)
                return err2("--backend needs a value (all, epoll, poll or select)");
            co->backend = argv[++a];
            if (strcmp(co->backend, "all") && strcmp(co->backend, "epoll") &&
                strcmp(co->backend, "poll") && strcmp(co->backend, "select") &&
                strcmp(co->backend, "default"))
                return err2("unknown backend '%s' (all, epoll, poll or select)", co->backend);
        } else if (argv[a][0] == '-' && argv[a][1]) {
            return err2("unknown option '%s' (--backend B, --werror)", argv[a]);
        } else if (!*num) {
            *num = argv[a];
        } else {
            return err2("%s takes at most one exercise number", argv[0]);
        }
    }
    return 0;
}

/* The record of the last build's output is newer than every program (nobody
 * rebuilt them since, e.g. with `make`). */
static bool cache_fresh(const char *record, char **targets, int nt)
{
    struct stat rs, ts;
    if (stat(record, &rs) != 0)
        return false;
    for (int i = 0; i < nt; i++) {
        char *p =
            targets[i][0] == '/' ? strdup(targets[i]) : xasprintf("%s/%s", g_root, targets[i]);
        bool ok =
            stat(p, &ts) == 0 &&
            (ts.st_mtim.tv_sec < rs.st_mtim.tv_sec ||
             (ts.st_mtim.tv_sec == rs.st_mtim.tv_sec && ts.st_mtim.tv_nsec <= rs.st_mtim.tv_nsec));
        free(p);
        if (!ok)
            return false;
    }
    return true;
}

/* Not built: the compiler's output once, every test "not run: needs a build". */
static void build_failed(const struct unit *u, const char *suite, const char *out, bool werror)
{
    struct buf b = {0};
    first_errors(out, g_root, &b);
    struct eres e = {0};
    snprintf(e.name, sizeof e.name, "%s", u->name);
    snprintf(e.title, sizeof e.title, "%s", u->title);
    buf_printf(&e.err, "does not build%s:\n%s", werror ? " (--werror: a warning is an error)" : "",
               b.p ? b.p : "");
    buf_free(&b);
    struct expect x;
    if (suite_tests(suite, &x) > 0)
        eres_not_run(&e, &x, "a build");
    else
        buf_printf(&e.err, "(the grading suite lists no tests: a course problem, not yours)\n");
    eres_total(&e);
    printf("%sYour code does not build yet.%s\n", col("31"), col("0"));
    print_text_exercise(stdout, &e, g_color);
    printf("0 of %d points. Fix the compiler's first error above and run ./evlab check %s "
           "again.\n",
           e.max, u->nn);
    record(u->name, "build-failed", 0, e.max);
    expect_free(&x);
    eres_free(&e);
}

/* Build and grade one exercise of the working tree; 0 when every test passes. */
int check_exercise(const struct unit *u, const struct check_opts *co)
{
    static const struct check_opts plain;
    if (!co)
        co = &plain;
    struct exdef d = {.u = *u};
    d.suite_src = xasprintf("%s/tests/grading/%s.c", g_root, u->name);
    d.suite = xasprintf("%s/%s/tests/grading/%s", g_root, g_build, u->name);
    int rc = 1;
    if (!file_exists(d.suite_src)) {
        rc = err2("exercise %s has no grading suite yet (tests/grading/%s.c)", u->nn, u->name);
        goto out;
    }
    printf("%sChecking %s%s: %s\n", col("1"), u->name, col("0"), u->title);
    bool all = co->backend && strcmp(co->backend, "all") == 0;
    set_backend_env(co->backend);
    if (all) {
        printf("%sbackends:%s epoll, poll and select, one after the other (a failure names its "
               "backend)\n",
               col("2"), col("0"));
    } else {
        char *m = picked_backend();
        printf("%sbackend:%s %s%s\n", col("2"), col("0"), m,
               co->backend && strcmp(co->backend, "default") ? " (--backend)"
                                                             : " (libevent's choice here; "
                                                               "--backend all tries poll and "
                                                               "select too)");
        free(m);
    }
    printf("%sbuild:%s %s\n", col("2"), col("0"),
           co->werror ? "-Wall -Wextra -Werror (--werror: a warning fails the build)"
                      : "-Wall -Wextra; warnings are shown, not fatal (--werror makes them "
                        "errors)");
    if (build_suites(&d, 1) != 0) {
        rc = 2;
        goto out;
    }
    char **targets;
    read_manifest(u->dir, &d);
    int nt = exercise_targets(u->dir, u->name, d.kind, &targets);
    /* WARN is the Makefile's warning set: -Werror only with --werror. Make
     * does not see a change of flags, so a change of rule rebuilds (-B), and
     * so does a missing warnings record: the compiler's output of the last
     * build is kept next to the programs and shown again while nothing has
     * been rebuilt since. */
    const char *rule = co->werror ? "werror" : "warn";
    char *rule_key = xasprintf("buildrule.%s", u->name);
    char *last_rule = state_get(rule_key);
    char *wpath = xasprintf("%s/%s/exercises/%s/.evlab-build-output", g_root, g_build, u->name);
    bool force = !last_rule || strcmp(last_rule, rule) != 0 || !cache_fresh(wpath, targets, nt);
    free(last_rule);
    targets = realloc(targets, sizeof *targets * (size_t)(nt + 3));
    int na = nt;
    targets[na++] = strdup(co->werror ? "WARN=-std=gnu11 -Wall -Wextra -Werror"
                                      : "WARN=-std=gnu11 -Wall -Wextra");
    if (force)
        targets[na++] = strdup("-B");
    targets[na] = NULL;
    struct proc_result br;
    int brc = nt ? run_make(g_root, g_build, (const char *const *)targets, na, &br) : 0;
    free_names(targets, na);
    state_set(rule_key, rule);
    free(rule_key);
    if (nt && brc != 0) {
        build_failed(u, d.suite, br.out ? br.out : "", co->werror);
        proc_result_free(&br);
        unlink(wpath);
        free(wpath);
        goto out;
    }
    char *shown = NULL;
    if (nt && br.out && br.out_len) { /* something was compiled: this is the record now */
        write_file(wpath, br.out, br.out_len);
        shown = strdup(br.out);
    } else if (nt) {
        shown = read_file(wpath, NULL);
    }
    free(wpath);
    if (shown && strstr(shown, ": warning:")) {
        struct buf b = {0};
        first_errors(shown, g_root, &b);
        printf("%sThe compiler warns%s (not counted; ./evlab check %s --werror makes warnings "
               "errors):\n%s",
               col("33"), col("0"), u->nn, b.p ? b.p : "");
        buf_free(&b);
    }
    free(shown);
    if (nt)
        proc_result_free(&br);
    struct gopts o;
    gopts_default(&o);
    o.suite_timeout = 300;
    o.backend = all ? "all" : NULL;
    char *target = xasprintf("%s/%s/exercises/%s", g_root, g_build, u->name);
    struct eres e = {0};
    snprintf(e.name, sizeof e.name, "%s", u->name);
    snprintf(e.title, sizeof e.title, "%s", u->title);
    run_suite_unsandboxed(&o, &d, target, &e);
    print_text_exercise(stdout, &e, g_color);
    if (all) { /* the score per backend: which one fails */
        static const char *const names[] = {"epoll", "poll", "select"};
        printf("by backend:");
        for (int b = 0; b < 3; b++) {
            char *tag = xasprintf(" [%s]", names[b]);
            int sc = 0, mx = 0;
            for (int k = 0; k < e.nt; k++) {
                size_t nl = strlen(e.t[k].name), tl = strlen(tag);
                if (nl >= tl && strcmp(e.t[k].name + nl - tl, tag) == 0) {
                    mx += e.t[k].weight;
                    sc += strcmp(e.t[k].status, "PASS") == 0 ? e.t[k].weight : 0;
                }
            }
            printf("%s %s %s%d/%d%s", b ? "," : "", names[b], col(sc == mx ? "32" : "31"), sc, mx,
                   col("0"));
            free(tag);
        }
        printf("\n");
    }
    bool pass = e.max > 0 && e.score == e.max && !e.err.len;
    record(u->name, pass ? "passed" : "failed", e.score, e.max);
    if (pass)
        printf("%sAll tests pass.%s ./evlab solution shows the reference; ./evlab check "
               "moves on to the next exercise.\n",
               col("1;32"), col("0"));
    else
        printf("%d of %d points. Fix the first failure above (tests are in task order) and run "
               "./evlab check %s again (./evlab hint for a hint).\n",
               e.score, e.max, u->nn);
    rc = pass ? 0 : 1;
    eres_free(&e);
    free(target);
out:
    free(d.suite_src);
    free(d.suite);
    free_names(d.needs, d.nneeds);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    struct check_opts co;
    const char *num = NULL;
    if (check_parse(argc, argv, &co, &num))
        return 2;
    struct unit *ex;
    int n = find_units("exercises", &ex);
    int i;
    if (num) {
        i = pick_unit(num, "exercises", ex, n);
        if (i < 0)
            return free(ex), 2;
    } else {
        if (!n)
            return free(ex), err2("there are no exercises yet");
        i = next_unfinished(ex, n);
        if (i < 0) {
            printf("Every exercise passes. Well done! (./evlab check NN re-checks one.)\n");
            free(ex);
            return 0;
        }
    }
    int rc = check_exercise(&ex[i], &co);
    free(ex);
    return rc;
}

/* ---- hint ---------------------------------------------------------------------------- */

/* The items of the first ordered list in `text` (malloc'd strings). */
static int ordered_items(const char *text, char ***out)
{
    char **v = NULL;
    int n = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        size_t d = strspn(line, "0123456789");
        if (d > 0 && d < len && line[d] == '.' && line[d + 1] == ' ') {
            v = realloc(v, sizeof *v * (size_t)(n + 1));
            v[n++] = strndup(line + d + 2, len - d - 2);
        } else if (n && len && (line[0] == ' ' || line[0] == '\t')) {
            char *more = xasprintf("%s\n%.*s", v[n - 1], (int)len, line);
            free(v[n - 1]);
            v[n - 1] = more;
        }
        line = nl ? nl + 1 : NULL;
    }
    *out = v;
    return n;
}

static void print_hint(int k, int n, const char *text)
{
    printf("%sHint %d of %d:%s ", col("1"), k, n, col("0"));
    char *copy = strdup(text);
    /* continuation lines keep their indentation under the first */
    bool first = true;
    for (char *p = strtok(copy, "\n"); p; p = strtok(NULL, "\n")) {
        printf("%s%s\n", first ? "" : "  ", first ? p : p + strspn(p, " \t"));
        first = false;
    }
    free(copy);
}

/* hint and solution: NN, or the exercise the student is on (as check picks it). */
static int pick_current(const char *num, const struct unit *ex, int n, bool for_hint,
                        const char *cmd)
{
    if (num)
        return pick_unit(num, "exercises", ex, n);
    if (!n)
        return err2("there are no exercises yet"), -1;
    int i = current_exercise(ex, n, for_hint);
    if (i < 0) {
        printf("Every exercise passes. ./evlab %s NN shows one exercise's %s.\n", cmd,
               for_hint ? "hints" : "solution");
        return -2;
    }
    return i;
}

int cmd_hint(int argc, char **argv)
{
    struct unit *ex;
    int n = find_units("exercises", &ex);
    if (argc > 2)
        return free(ex), err2("hint takes at most one exercise number");
    int i = pick_current(argc > 1 ? argv[1] : NULL, ex, n, true, "hint");
    if (i < 0)
        return free(ex), i == -2 ? 0 : 2;
    /* exercises/NN-slug/hints.md (its numbered list); an older course kept
     * them in the README's "Hints" section. */
    char *path = xasprintf("%s/hints.md", ex[i].dir);
    char *sec = read_file(path, NULL);
    free(path);
    if (!sec) {
        path = xasprintf("%s/README.md", ex[i].dir);
        char *text = read_file(path, NULL);
        free(path);
        sec = text ? md_section(text, "Hints") : NULL;
        free(text);
    }
    char **items = NULL;
    int ni = sec ? ordered_items(sec, &items) : 0;
    int rc = 0;
    if (!ni) {
        printf("Exercise %s has no hints. Re-read its README: ./evlab check %s tells what fails.\n",
               ex[i].nn, ex[i].nn);
    } else {
        char *key = xasprintf("hint.%s", ex[i].name);
        char *seen = state_get(key);
        int k = seen ? atoi(seen) : 0;
        free(seen);
        if (k >= ni) {
            printf("No hints left: you have seen all %d. Here they are again:\n", ni);
            for (int h = 0; h < ni; h++)
                print_hint(h + 1, ni, items[h]);
        } else {
            print_hint(k + 1, ni, items[k]);
            k++;
            char val[16];
            snprintf(val, sizeof val, "%d", k);
            state_set(key, val);
            if (k < ni)
                printf("%d more hint%s left for exercise %s (./evlab hint).\n", ni - k,
                       ni - k == 1 ? "" : "s", ex[i].nn);
            else
                printf("That was the last hint.\n");
        }
        free(key);
    }
    free_names(items, ni);
    free(sec);
    free(ex);
    return rc;
}

/* ---- reset ------------------------------------------------------------------------- */

/* The starter's content: git's HEAD version, else a pristine copy. */
static char *pristine(const char *name, const char *file, size_t *len)
{
    char *rel = xasprintf("HEAD:exercises/%s/%s", name, file);
    const char *argv[] = {"git", "-C", g_root, "show", rel, NULL};
    struct proc_spec s = {.argv = argv,
                          .capture = true,
                          .cap_bytes = 4 << 20,
                          .stdin_null = true,
                          .timeout_s = 30,
                          .own_pgrp = true};
    struct proc_result r;
    char *text = NULL;
    if (in_path("git") && proc_run(&s, &r) == 0 && WIFEXITED(r.status) &&
        WEXITSTATUS(r.status) == 0) {
        text = r.out;
        *len = r.out_len;
        r.out = NULL;
    }
    proc_result_free(&r);
    free(rel);
    if (!text) {
        const char *pd = getenv("EVLAB_PRISTINE");
        char *p = pd && *pd ? xasprintf("%s/%s/%s", pd, name, file)
                            : xasprintf("%s/.evlab-pristine/%s/%s", g_root, name, file);
        text = read_file(p, len);
        free(p);
    }
    return text;
}

int cmd_reset(int argc, char **argv)
{
    struct unit *ex;
    int n = find_units("exercises", &ex);
    bool yes = false;
    const char *num = NULL;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--yes") == 0 || strcmp(argv[a], "-y") == 0)
            yes = true;
        else if (!num)
            num = argv[a];
        else
            return free(ex), err2("reset takes one exercise number");
    }
    int i = pick_unit(num, "exercises", ex, n);
    if (i < 0)
        return free(ex), 2;
    char **progs;
    int np = list_programs(ex[i].dir, &progs);
    char **files = calloc((size_t)np + 1, sizeof *files);
    size_t *lens = calloc((size_t)np + 1, sizeof *lens);
    int rc = 0;
    for (int k = 0; k < np; k++) {
        char *f = xasprintf("%s.c", progs[k]);
        files[k] = pristine(ex[i].name, f, &lens[k]);
        if (!files[k]) {
            rc = err2("no pristine starter for exercises/%s/%s (not in git, no .evlab-pristine/)",
                      ex[i].name, f);
            free(f);
            goto out;
        }
        free(f);
    }
    if (!yes) {
        printf("Reset exercise %s to its starter? Your files are kept as a backup. [y/N] ",
               ex[i].nn);
        fflush(stdout);
        char *l = ask_line(NULL);
        if (!l || (l[0] != 'y' && l[0] != 'Y')) {
            printf("Nothing changed.\n");
            rc = 1;
            goto out;
        }
    }
    time_t now = time(NULL);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
    char *bdir = xasprintf("%s/.evlab-backup/%s/%s", g_root, ex[i].name, stamp);
    char *mk = xasprintf("mkdir -p '%s'", bdir);
    const char *argv2[] = {"/bin/sh", "-c", mk, NULL};
    struct proc_spec s = {.argv = argv2, .stdin_null = true, .timeout_s = 10};
    struct proc_result r;
    proc_run(&s, &r);
    proc_result_free(&r);
    free(mk);
    for (int k = 0; k < np; k++) {
        char *cur = xasprintf("%s/%s.c", ex[i].dir, progs[k]);
        char *bak = xasprintf("%s/%s.c", bdir, progs[k]);
        size_t len;
        char *old = read_file(cur, &len);
        if (old && write_file(bak, old, len) != 0) {
            rc = err2("cannot write the backup %s; nothing reset", bak);
            free(old), free(cur), free(bak);
            break;
        }
        free(old);
        if (write_file(cur, files[k], lens[k]) != 0)
            rc = err2("cannot write %s", cur);
        else
            printf("restored exercises/%s/%s.c (backup: %s)\n", ex[i].name, progs[k],
                   bak + strlen(g_root) + 1);
        free(cur);
        free(bak);
    }
    free(bdir);
    char *key = xasprintf("exercise.%s", ex[i].name);
    state_set(key, NULL);
    free(key);
out:
    for (int k = 0; k < np; k++)
        free(files[k]);
    free(files);
    free(lens);
    free_names(progs, np);
    free(ex);
    return rc;
}

/* ---- solution ------------------------------------------------------------------------ */

int cmd_solution(int argc, char **argv)
{
    struct unit *ex;
    int n = find_units("exercises", &ex);
    bool force = false;
    const char *num = NULL;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--force") == 0)
            force = true;
        else if (!num)
            num = argv[a];
        else
            return free(ex), err2("solution takes one exercise number");
    }
    const char *inst = getenv("EVLAB_INSTRUCTOR");
    if (inst && *inst && strcmp(inst, "0") != 0)
        force = true;
    int i = pick_current(num, ex, n, false, "solution");
    if (i < 0)
        return free(ex), i == -2 ? 0 : 2;
    bool earned = exercise_earned(&ex[i]);
    int rc = 0;
    if (!earned && !force) {
        printf("The solution of exercise %s opens once your version passes: ./evlab check %s\n",
               ex[i].nn, ex[i].nn);
        free(ex);
        return 1;
    }
    char *sdir = xasprintf("%s/solutions/%s", g_root, ex[i].name);
    char **progs;
    int np = list_programs(sdir, &progs);
    if (!np)
        rc = err2("exercise %s has no reference solution (solutions/%s/)", ex[i].nn, ex[i].name);
    for (int k = 0; k < np; k++) {
        char *sol = xasprintf("%s/%s.c", sdir, progs[k]);
        char *mine = xasprintf("%s/%s.c", ex[i].dir, progs[k]);
        char *text = read_file(sol, NULL);
        printf("%s== solutions/%s/%s.c ==%s\n%s\n", col("1"), ex[i].name, progs[k], col("0"),
               text ? text : "");
        free(text);
        printf("%s== diff: your exercises/%s/%s.c -> the reference ==%s\n", col("1"), ex[i].name,
               progs[k], col("0"));
        const char *argv2[] = {"diff", "-u", mine, sol, NULL};
        struct proc_spec s = {.argv = argv2, .stdin_null = true, .timeout_s = 30, .capture = true};
        struct proc_result r;
        if (proc_run(&s, &r) == 0) {
            size_t rl = strlen(g_root) + 1;
            for (char *line = r.out; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                    *nl = '\0';
                if ((strncmp(line, "--- ", 4) == 0 || strncmp(line, "+++ ", 4) == 0) &&
                    strncmp(line + 4, g_root, rl - 1) == 0)
                    printf("%.4s%s\n", line, line + 4 + rl);
                else
                    printf("%s%s%s\n",
                           col(line[0] == '+'   ? "32"
                               : line[0] == '-' ? "31"
                                                : "0"),
                           line, col("0"));
                line = nl ? nl + 1 : NULL;
            }
            if (r.out_len == 0)
                printf("(identical)\n");
        }
        proc_result_free(&r);
        free(sol);
        free(mine);
    }
    free_names(progs, np);
    free(sdir);
    free(ex);
    return rc;
}
