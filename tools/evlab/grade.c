/* grade.c -- check, hint, reset, solution, grade and grade-class.
 *
 * A grading suite (tests/grading/NN-slug.c, Criterion) writes one line per
 * test to $EVLAB_REPORT (tests/support/report.c):
 *   suite::name  STATUS  weight  seconds  title  message
 * This file runs the suites, reads those lines and prints them as text, TAP
 * 14, JUnit XML or Gradescope's results.json.
 *
 * The sandbox (grade, grade-class): the submission is copied to a fresh
 * temporary directory together with what the build needs (Makefile, tools/
 * scripts, shared headers), built there with make and graded there. Each
 * suite runs in its own process group with CPU, address-space, file-size,
 * open-file and (as non-root) process limits, a wall-clock limit, and a cap on
 * the output kept. We are a child subreaper, so a daemon that escaped with
 * setsid and a double fork is re-parented to us and killed by the sweep.
 * Run as root, the build and the suites run as an unprivileged uid (65534,
 * nobody, or --uid N) that owns only the temporary copy, and a process of
 * that uid ends with kill(-1, SIGKILL) so nothing of it survives.
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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "evlab.h"

/* ---- results ------------------------------------------------------------------ */

struct tres {
    char *name, *status, *title, *msg;
    int weight;
    double secs;
};
struct eres {
    char name[128];
    char title[256];
    struct tres *t;
    int nt;
    int score, max;
    struct buf err;   /* build failure, no report, not submitted ... */
    struct buf notes; /* truncated output, stray processes */
    double secs;
};

static void tres_add(struct eres *e, const char *name, const char *status, int weight, double secs,
                     const char *title, const char *msg)
{
    e->t = realloc(e->t, sizeof *e->t * (size_t)(e->nt + 1));
    struct tres *t = &e->t[e->nt++];
    t->name = strdup(name);
    t->status = strdup(status);
    t->weight = weight;
    t->secs = secs;
    t->title = strdup(title);
    /* report.c writes newlines as "\n" */
    struct buf m = {0};
    buf_add(&m, "", 0);
    for (const char *p = msg; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n') {
            buf_add(&m, "\n", 1);
            p++;
        } else {
            buf_add(&m, p, 1);
        }
    }
    t->msg = m.p;
}

static void eres_free(struct eres *e)
{
    for (int i = 0; i < e->nt; i++) {
        free(e->t[i].name);
        free(e->t[i].status);
        free(e->t[i].title);
        free(e->t[i].msg);
    }
    free(e->t);
    buf_free(&e->err);
    buf_free(&e->notes);
}

static void parse_report(struct eres *e, const char *text)
{
    char *copy = strdup(text);
    for (char *line = copy; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *f[6] = {0};
        int nf = 0;
        for (char *p = line; nf < 6;) {
            f[nf++] = p;
            char *tab = nf < 6 ? strchr(p, '\t') : NULL;
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (nf >= 4)
            tres_add(e, f[0], f[1], atoi(f[2]), atof(f[3]), f[4] ? f[4] : "", f[5] ? f[5] : "");
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
}

static int cmp_tres(const void *a, const void *b)
{
    return strcmp(((const struct tres *)a)->name, ((const struct tres *)b)->name);
}

static void eres_total(struct eres *e)
{
    e->score = e->max = 0;
    for (int i = 0; i < e->nt; i++) {
        e->max += e->t[i].weight;
        if (strcmp(e->t[i].status, "PASS") == 0)
            e->score += e->t[i].weight;
    }
}

/* ---- options shared by check and grade ------------------------------------------ */

struct gopts {
    const char *submission; /* NULL: the working tree */
    const char *suites;     /* directory of suite binaries (NN-slug) instead of tests/grading */
    const char *format;
    const char *backend; /* NULL/"default", epoll, poll, select, all */
    double suite_timeout, submission_timeout;
    size_t output_cap;
    rlim_t mem_mb;
    uid_t uid;
    bool kill_all;    /* finish with kill(-1) as the sandbox uid */
    const char *only; /* one exercise */
    const char *out;  /* write the report here instead of stdout */
};

static void gopts_default(struct gopts *o)
{
    memset(o, 0, sizeof *o);
    o->format = "text";
    o->suite_timeout = 120;
    o->submission_timeout = 900;
    o->output_cap = 64 * 1024;
    o->mem_mb = 1024;
    o->uid = 65534;
    o->kill_all = true;
}

static const char *san_flags(void)
{
    const char *s = getenv("EVLAB_SAN");
    return s && *s ? s : NULL;
}

static struct limits suite_limits(const struct gopts *o)
{
    struct limits l = {
        .set = true, .cpu_s = 120, .fsize_bytes = 64 << 20, .nproc = 512, .nofile = 4096};
    /* ASan and friends reserve terabytes of address space: no RLIMIT_AS then. */
    if (!san_flags())
        l.as_bytes = (rlim_t)o->mem_mb << 20;
    return l;
}

/* ---- running one suite ------------------------------------------------------------ */

struct backend {
    const char *name;
    const char *env[3];
} backends[] = {
    {"epoll", {"EVENT_NOEPOLL", "EVENT_NOPOLL"}},
    {"poll", {"EVENT_NOEPOLL=1", "EVENT_NOPOLL"}},
    {"select", {"EVENT_NOEPOLL=1", "EVENT_NOPOLL=1"}},
};

struct sandbox {
    bool active; /* drop privileges */
    uid_t uid;
    gid_t gid;
    bool kill_all;
    char *tmp; /* the temporary directory (owned by us) */
};

/* Kill every process of the sandbox uid, from a process of that uid.
 * Graders running at the same time with the same uid hold a shared flock on
 * /tmp/evlab-uid-UID.lock; kill(-1) happens only when we can take it
 * exclusively, so one grader never kills another's suite. (The subreaper
 * sweep has already killed everything that descends from us.) */
static int uid_lock = -1;

static void kill_uid(const struct sandbox *sb)
{
    if (!sb->active || !sb->kill_all)
        return;
    if (uid_lock < 0) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/evlab-uid-%d.lock", (int)sb->uid);
        uid_lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (uid_lock < 0)
            return;
        flock(uid_lock, LOCK_SH);
    }
    if (flock(uid_lock, LOCK_EX | LOCK_NB) != 0) {
        flock(uid_lock, LOCK_SH);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(sb->gid) == 0 && setuid(sb->uid) == 0)
            kill(-1, SIGKILL);
        _exit(0);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    sweep_children();
    flock(uid_lock, LOCK_SH);
}

/* Run `suite` against `target` once; append its tests to e. */
static void run_suite_once(const struct gopts *o, const struct sandbox *sb, const char *suite,
                           const char *target, const char *cwd, const char *report,
                           const struct backend *be, double timeout, struct eres *e)
{
    unlink(report);
    char *t = xasprintf("EVLAB_TARGET=%s", target);
    char *r = xasprintf("EVLAB_REPORT=%s", report);
    char *b = xasprintf("EVLAB_BUILD=%s/%s", g_root, g_build);
    /* The suite's own temporary files go inside the sandbox (Criterion needs
     * a writable TMPDIR; the sandbox uid may write nowhere else). */
    char *td = sb->tmp ? xasprintf("TMPDIR=%s/tmp", sb->tmp) : strdup("EVLAB_X");
    const char *env[] = {
        t, r, b, be ? be->env[0] : "EVLAB_X", be ? be->env[1] : "EVLAB_X", "EVLAB_STEP", td, NULL};
    const char *argv[] = {suite, "--jobs", "2", NULL};
    struct proc_spec s = {.argv = argv,
                          .env = env,
                          .cwd = cwd,
                          .timeout_s = timeout,
                          .capture = true,
                          .cap_bytes = o->output_cap,
                          .own_pgrp = true,
                          .stdin_null = true,
                          .sweep = true,
                          .lim = suite_limits(o),
                          .drop = sb->active,
                          .uid = sb->uid,
                          .gid = sb->gid};
    struct proc_result pr;
    proc_run(&s, &pr);
    kill_uid(sb);
    size_t len = 0;
    char *text = read_file(report, &len);
    const char *tag = be ? be->name : NULL;
    if (pr.timed_out) {
        buf_printf(&e->err, "%s%s%sthe grading suite timed out after %g s and was stopped\n",
                   tag ? "[" : "", tag ? tag : "", tag ? "] " : "", timeout);
    } else if (!text || !len) {
        char d[96];
        buf_printf(&e->err, "%s%s%sthe grading suite %s before it wrote its report", tag ? "[" : "",
                   tag ? tag : "", tag ? "] " : "", describe_status(pr.status, d, sizeof d));
        if (pr.out && pr.out_len) {
            const char *tail = pr.out_len > 600 ? pr.out + pr.out_len - 600 : pr.out;
            buf_printf(&e->err, "; its last output:\n%s", tail);
        }
        buf_add(&e->err, "\n", 1);
    }
    if (text && len) {
        struct eres tmp = {0};
        parse_report(&tmp, text);
        for (int i = 0; i < tmp.nt; i++) {
            char *name = tag ? xasprintf("%s [%s]", tmp.t[i].name, tag) : strdup(tmp.t[i].name);
            tres_add(e, name, tmp.t[i].status, tmp.t[i].weight, tmp.t[i].secs, tmp.t[i].title, "");
            free(e->t[e->nt - 1].msg);
            e->t[e->nt - 1].msg = strdup(tmp.t[i].msg);
            free(name);
        }
        eres_free(&tmp);
        qsort(e->t, (size_t)e->nt, sizeof *e->t, cmp_tres);
    }
    if (pr.out_total > pr.out_len)
        buf_printf(&e->notes, "output truncated after %zu bytes (%zu produced)\n", pr.out_len,
                   pr.out_total);
    if (pr.strays)
        buf_printf(&e->notes, "%d stray process%s still running after the tests; killed\n",
                   pr.strays, pr.strays == 1 ? " was" : "es were");
    e->secs += pr.seconds;
    free(text);
    proc_result_free(&pr);
    free(t);
    free(r);
    free(b);
    free(td);
}

static void run_suite(const struct gopts *o, const struct sandbox *sb, const char *suite,
                      const char *target, const char *cwd, const char *report, double timeout,
                      struct eres *e)
{
    const char *bk = o->backend;
    if (!bk || strcmp(bk, "default") == 0) {
        run_suite_once(o, sb, suite, target, cwd, report, NULL, timeout, e);
    } else {
        for (size_t i = 0; i < 3; i++)
            if (strcmp(bk, "all") == 0 || strcmp(bk, backends[i].name) == 0)
                run_suite_once(o, sb, suite, target, cwd, report, &backends[i], timeout, e);
    }
    eres_total(e);
}

/* ---- compiler output --------------------------------------------------------------- */

/* The compiler's first errors, with file:line, paths made relative to `strip`. */
static void first_errors(const char *out, const char *strip, struct buf *b)
{
    int shown = 0, lines = 0;
    bool started = false;
    size_t sl = strip ? strlen(strip) : 0;
    for (const char *line = out; line && *line && lines < 24;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *l = strndup(line, len);
        bool diag =
            strstr(l, ": error:") || strstr(l, ": warning:") || strstr(l, "undefined reference");
        if (diag) {
            started = true;
            shown++;
        }
        if (started && shown <= 5 && strncmp(l, "make", 4) != 0 && strncmp(l, "cc1:", 4) != 0) {
            char *p = l;
            char *at;
            while (sl && (at = strstr(p, strip))) {
                buf_add(b, p, (size_t)(at - p));
                p = at + sl;
                if (*p == '/')
                    p++;
            }
            buf_printf(b, "%s\n", p);
            lines++;
        }
        free(l);
        line = nl ? nl + 1 : NULL;
    }
    if (!started) {
        size_t n = strlen(out);
        buf_printf(b, "%s", n > 2000 ? out + n - 2000 : out);
    }
}

/* ---- exercises ---------------------------------------------------------------------- */

struct exdef {
    struct unit u;
    char *suite_src; /* tests/grading/NN-slug.c (NULL with --suites) */
    char *suite;     /* built suite binary */
};

static int find_exercises(const struct gopts *o, struct exdef **out)
{
    struct exdef *v = NULL;
    int n = 0;
    if (o && o->suites) {
        DIR *d = opendir(o->suites);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (!isdigit((unsigned char)de->d_name[0]) || !isdigit((unsigned char)de->d_name[1]) ||
                de->d_name[2] != '-')
                continue;
            char *p = xasprintf("%s/%s", o->suites, de->d_name);
            if (access(p, X_OK) != 0) {
                free(p);
                continue;
            }
            v = realloc(v, sizeof *v * (size_t)(n + 1));
            memset(&v[n], 0, sizeof v[n]);
            snprintf(v[n].u.nn, sizeof v[n].u.nn, "%.2s", de->d_name);
            snprintf(v[n].u.name, sizeof v[n].u.name, "%.120s", de->d_name);
            snprintf(v[n].u.title, sizeof v[n].u.title, "%.120s", de->d_name + 3);
            char *real = realpath(p, NULL);
            v[n].suite = real ? real : p;
            if (real)
                free(p);
            n++;
        }
        if (d)
            closedir(d);
    } else {
        struct unit *u;
        int nu = find_units("exercises", &u);
        for (int i = 0; i < nu; i++) {
            char *src = xasprintf("%s/tests/grading/%s.c", g_root, u[i].name);
            if (!file_exists(src)) {
                free(src);
                continue;
            }
            v = realloc(v, sizeof *v * (size_t)(n + 1));
            memset(&v[n], 0, sizeof v[n]);
            v[n].u = u[i];
            v[n].suite_src = src;
            v[n].suite = xasprintf("%s/%s/tests/grading/%s", g_root, g_build, u[i].name);
            n++;
        }
        free(u);
    }
    /* sorted by name */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(v[j - 1].u.name, v[j].u.name) > 0; j--) {
            struct exdef t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *out = v;
    return n;
}

static void free_exercises(struct exdef *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].suite_src);
        free(v[i].suite);
    }
    free(v);
}

/* make targets for the .c files of `dir`, as build/exercises/NAME/prog[.so] */
static int exercise_targets(const char *dir, const char *name, const char *build, char ***out)
{
    char **progs;
    int np = list_programs(dir, &progs);
    char **t = calloc((size_t)np + 1, sizeof *t);
    for (int i = 0; i < np; i++) {
        char *src = xasprintf("%s/%s.c", dir, progs[i]);
        t[i] = xasprintf("%s/exercises/%s/%s%s", build, name, progs[i],
                         source_has_main(src) ? "" : ".so");
        free(src);
    }
    free_names(progs, np);
    *out = t;
    return np;
}

static int build_suites(struct exdef *v, int n)
{
    const char **t = calloc((size_t)n + 1, sizeof *t);
    int nt = 0;
    for (int i = 0; i < n; i++)
        if (v[i].suite_src)
            t[nt++] = xasprintf("%s/tests/grading/%s", g_build, v[i].u.name);
    int rc = 0;
    if (nt) {
        struct proc_result r;
        rc = run_make(g_root, g_build, t, nt, &r);
        if (rc != 0)
            fprintf(stderr, "evlab: building the grading suites failed:\n%s", r.out ? r.out : "");
        proc_result_free(&r);
    }
    for (int i = 0; i < nt; i++)
        free((char *)t[i]);
    free(t);
    return rc;
}

/* ---- text report ------------------------------------------------------------------ */

static void print_text_exercise(FILE *f, const struct eres *e, bool color)
{
    bool saved = g_color;
    g_color = color;
    bool pass = e->max > 0 && e->score == e->max && !e->err.len;
    fprintf(f, "%s%s%s  %s  %s%d/%d%s\n", col("1"), e->name, col("0"), e->title,
            col(pass ? "32" : "31"), e->score, e->max, col("0"));
    if (e->err.len) {
        fprintf(f, "%s", col("31"));
        for (const char *p = e->err.p; *p;) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            fprintf(f, "    %.*s\n", len, p);
            p = nl ? nl + 1 : p + len;
        }
        fprintf(f, "%s", col("0"));
    }
    for (int i = 0; i < e->nt; i++) {
        const struct tres *t = &e->t[i];
        bool ok = strcmp(t->status, "PASS") == 0;
        fprintf(f, "  %s%-7s%s %2d/%-2d  %s  %s(%s)%s\n", col(ok ? "32" : "31"), t->status,
                col("0"), ok ? t->weight : 0, t->weight, t->title, col("2"), t->name, col("0"));
        if (!ok && t->msg[0]) {
            for (const char *p = t->msg; *p;) {
                const char *nl = strchr(p, '\n');
                int len = nl ? (int)(nl - p) : (int)strlen(p);
                fprintf(f, "                 %.*s\n", len, p);
                p = nl ? nl + 1 : p + len;
            }
        }
    }
    if (e->notes.len) {
        for (const char *p = e->notes.p; *p;) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            fprintf(f, "  %snote: %.*s%s\n", col("33"), len, p, col("0"));
            p = nl ? nl + 1 : p + len;
        }
    }
    g_color = saved;
}

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
}

/* Build and grade one exercise of the working tree; 0 when every test passes. */
int check_exercise(const struct unit *u, bool quiet_pass)
{
    (void)quiet_pass;
    struct exdef d = {.u = *u};
    d.suite_src = xasprintf("%s/tests/grading/%s.c", g_root, u->name);
    d.suite = xasprintf("%s/%s/tests/grading/%s", g_root, g_build, u->name);
    int rc = 1;
    if (!file_exists(d.suite_src)) {
        rc = err2("exercise %s has no grading suite yet (tests/grading/%s.c)", u->nn, u->name);
        goto out;
    }
    printf("%sChecking %s%s: %s\n", col("1"), u->name, col("0"), u->title);
    if (build_suites(&d, 1) != 0) {
        rc = 2;
        goto out;
    }
    char **targets;
    int nt = exercise_targets(u->dir, u->name, g_build, &targets);
    struct proc_result br;
    int brc = nt ? run_make(g_root, g_build, (const char *const *)targets, nt, &br) : 0;
    free_names(targets, nt);
    if (nt && brc != 0) {
        struct buf b = {0};
        first_errors(br.out ? br.out : "", g_root, &b);
        printf("%sYour code does not build yet%s (the build uses -Wall -Wextra -Werror):\n%s",
               col("31"), col("0"), b.p ? b.p : "");
        buf_free(&b);
        proc_result_free(&br);
        record(u->name, "build-failed", 0, 0);
        goto out;
    }
    if (nt)
        proc_result_free(&br);
    struct gopts o;
    gopts_default(&o);
    o.suite_timeout = 300;
    struct sandbox sb = {0};
    char tmpl[] = "/tmp/evlab-check-XXXXXX";
    char *dir = mkdtemp(tmpl);
    char *report = xasprintf("%s/report", dir ? dir : "/tmp");
    char *target = xasprintf("%s/%s/exercises/%s", g_root, g_build, u->name);
    struct eres e = {0};
    snprintf(e.name, sizeof e.name, "%s", u->name);
    snprintf(e.title, sizeof e.title, "%s", u->title);
    run_suite(&o, &sb, d.suite, target, g_root, report, o.suite_timeout, &e);
    unlink(report);
    if (dir)
        rmdir(dir);
    print_text_exercise(stdout, &e, g_color);
    bool pass = e.max > 0 && e.score == e.max && !e.err.len;
    record(u->name, pass ? "passed" : "failed", e.score, e.max);
    if (pass)
        printf("%sAll tests pass.%s ./evlab solution %s shows the reference; ./evlab check "
               "moves on to the next exercise.\n",
               col("1;32"), col("0"), u->nn);
    else
        printf("%d of %d points. Fix the first failure above and run ./evlab check %s again "
               "(./evlab hint %s for a hint).\n",
               e.score, e.max, u->nn, u->nn);
    rc = pass ? 0 : 1;
    eres_free(&e);
    free(report);
    free(target);
out:
    free(d.suite_src);
    free(d.suite);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    struct unit *ex;
    int n = find_units("exercises", &ex);
    if (argc > 2)
        return free(ex), err2("check takes at most one exercise number");
    int i;
    if (argc > 1) {
        i = pick_unit(argv[1], "exercises", ex, n);
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
    int rc = check_exercise(&ex[i], false);
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

int cmd_hint(int argc, char **argv)
{
    struct unit *ex;
    int n = find_units("exercises", &ex);
    if (argc > 2)
        return free(ex), err2("hint takes one exercise number");
    int i = pick_unit(argc > 1 ? argv[1] : NULL, "exercises", ex, n);
    if (i < 0)
        return free(ex), 2;
    char *path = xasprintf("%s/README.md", ex[i].dir);
    char *text = read_file(path, NULL);
    free(path);
    char *sec = text ? md_section(text, "Hints") : NULL;
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
                printf("%d more hint%s left (./evlab hint %s).\n", ni - k, ni - k == 1 ? "" : "s",
                       ex[i].nn);
            else
                printf("That was the last hint.\n");
        }
        free(key);
    }
    free_names(items, ni);
    free(sec);
    free(text);
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
    int i = pick_unit(num, "exercises", ex, n);
    if (i < 0)
        return free(ex), 2;
    char *key = xasprintf("exercise.%s", ex[i].name);
    char *st = state_get(key);
    free(key);
    bool passed = st && strncmp(st, "passed", 6) == 0;
    free(st);
    int rc = 0;
    if (!passed && !force) {
        printf("The solution of exercise %s opens once your version passes: ./evlab check %s\n"
               "(instructors: --force or EVLAB_INSTRUCTOR=1)\n",
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

/* ---- the sandbox --------------------------------------------------------------------- */

static int sh_run(const char *cmd, struct proc_result *out)
{
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct proc_spec s = {.argv = argv,
                          .stdin_null = true,
                          .timeout_s = 120,
                          .capture = true,
                          .cap_bytes = 16384,
                          .own_pgrp = true};
    struct proc_result r;
    int rc = proc_run(&s, &r) == 0 ? status_to_exit(r.status) : 127;
    if (out)
        *out = r;
    else
        proc_result_free(&r);
    return rc;
}

static char *shq(const char *s) /* single-quoted for sh */
{
    struct buf b = {0};
    buf_add(&b, "'", 1);
    for (; *s; s++) {
        if (*s == '\'')
            buf_add(&b, "'\\''", 4);
        else
            buf_add(&b, s, 1);
    }
    buf_add(&b, "'", 1);
    return b.p;
}

/* Where the submission keeps exercise NAME: DIR/NAME/ or, for a flat upload
 * (Gradescope), DIR itself when it holds the starter's file names. */
static char *submission_dir(const char *sub, const struct exdef *d)
{
    char *p = xasprintf("%s/%s", sub, d->u.name);
    if (is_dir(p))
        return p;
    free(p);
    if (!d->u.dir[0])
        return NULL;
    char **progs;
    int np = list_programs(d->u.dir, &progs);
    bool all = np > 0;
    for (int k = 0; k < np && all; k++) {
        char *f = xasprintf("%s/%s.c", sub, progs[k]);
        all = file_exists(f);
        free(f);
    }
    free_names(progs, np);
    return all ? strdup(sub) : NULL;
}

/* Grade one submission into e[0..n). Returns 0. */
static int grade_submission(const struct gopts *o, const char *sub, struct exdef *v, int n,
                            struct eres *res)
{
    struct sandbox sb = {.uid = o->uid, .gid = 65534, .kill_all = o->kill_all};
    sb.active = geteuid() == 0;
    if (sb.active && sb.kill_all) { /* share the uid's lock from the start */
        char path[64];
        snprintf(path, sizeof path, "/tmp/evlab-uid-%d.lock", (int)sb.uid);
        uid_lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (uid_lock >= 0)
            flock(uid_lock, LOCK_SH);
    }
    const char *tmpdir = getenv("TMPDIR");
    char *tmpl = xasprintf("%s/evlab-grade-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(tmpl)) {
        free(tmpl);
        return err2("cannot create a temporary directory: %s", strerror(errno));
    }
    sb.tmp = tmpl;
    chmod(tmpl, 0755);
    char *work = xasprintf("%s/work", tmpl);
    char *reports = xasprintf("%s/reports", tmpl);
    char *suites = xasprintf("%s/suites", tmpl);
    /* What the build needs: the Makefile, its scripts, the shared headers. */
    char *qroot = shq(g_root), *qwork = shq(work);
    char *cmd = xasprintf("set -e; mkdir -p %s/exercises %s/lessons %s/tools %s/../tmp '%s' '%s'; "
                          "cp %s/Makefile %s/; "
                          "cp %s/tools/*.sh %s/tools/ 2>/dev/null || true; "
                          "for h in %s/lessons/*.h %s/exercises/*.h; do [ -f \"$h\" ] && cp \"$h\" "
                          "%s/\"${h#%s/}\"; done; "
                          "true",
                          qwork, qwork, qwork, qwork, reports, suites, qroot, qwork, qroot, qwork,
                          qroot, qroot, qwork, g_root);
    struct proc_result pr;
    if (sh_run(cmd, &pr) != 0)
        fprintf(stderr, "evlab: preparing the sandbox: %s\n", pr.out ? pr.out : "");
    proc_result_free(&pr);
    free(cmd);
    double start = 0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        start = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
    for (int i = 0; i < n; i++) {
        struct eres *e = &res[i];
        snprintf(e->name, sizeof e->name, "%s", v[i].u.name);
        snprintf(e->title, sizeof e->title, "%s", v[i].u.title);
        char *sdir = submission_dir(sub, &v[i]);
        char *edir = xasprintf("%s/exercises/%s", work, v[i].u.name);
        char *qs = sdir ? shq(sdir) : NULL, *qe = shq(edir), *qsuite = shq(v[i].suite);
        /* Copy the regular files only (no symlinks out of the submission), at most 1 MiB each. */
        cmd =
            xasprintf("mkdir -p %s && %s cp %s %s/%s && chmod 755 %s/%s", qe, qs ? "find" : "true",
                      qs ? qs : "", suites, v[i].u.name, suites, v[i].u.name);
        if (qs) {
            free(cmd);
            cmd = xasprintf("mkdir -p %s && find %s -maxdepth 1 -type f -size -1025k "
                            "-exec cp {} %s/ \\; && cp %s %s/%s && chmod 755 %s/%s",
                            qe, qs, qe, qsuite, suites, v[i].u.name, suites, v[i].u.name);
        } else {
            free(cmd);
            cmd = xasprintf("mkdir -p %s && cp %s %s/%s && chmod 755 %s/%s", qe, qsuite, suites,
                            v[i].u.name, suites, v[i].u.name);
        }
        sh_run(cmd, NULL);
        free(cmd);
        if (sb.active) {
            cmd = xasprintf("chown -R %d:%d %s '%s' '%s/tmp'", (int)sb.uid, (int)sb.gid, qwork,
                            reports, tmpl);
            sh_run(cmd, NULL);
            free(cmd);
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double left =
            o->submission_timeout - ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - start);
        if (!sdir)
            buf_printf(&e->err, "not submitted (no %s/ in the submission)\n", v[i].u.name);
        if (left <= 1) {
            buf_printf(&e->err, "not graded: the submission's time limit (%g s) was used up\n",
                       o->submission_timeout);
        } else {
            /* Build, as the sandbox user, inside the copy. */
            char **targets;
            int nt = exercise_targets(edir, v[i].u.name, "build", &targets);
            if (nt) {
                const char **argv = calloc((size_t)nt + 8, sizeof *argv);
                int a = 0;
                argv[a++] = "make";
                argv[a++] = "-s";
                argv[a++] = "--no-print-directory";
                argv[a++] = "BUILD=build";
                char *sanv = san_flags() ? xasprintf("SAN=%s", san_flags()) : NULL;
                if (sanv)
                    argv[a++] = sanv;
                for (int k = 0; k < nt; k++)
                    argv[a++] = targets[k];
                struct limits bl = {.set = true,
                                    .cpu_s = 120,
                                    .fsize_bytes = 256 << 20,
                                    .nproc = 512,
                                    .nofile = 1024};
                struct proc_spec s = {
                    .argv = argv,
                    .cwd = work,
                    .capture = true,
                    .cap_bytes = 64 * 1024,
                    .stdin_null = true,
                    .own_pgrp = true,
                    .sweep = true,
                    .timeout_s = left < 120 ? left : 120,
                    .lim = bl,
                    .drop = sb.active,
                    .uid = sb.uid,
                    .gid = sb.gid,
                    .env = (const char *const[]){"MAKEFLAGS", "MFLAGS", "MAKELEVEL", NULL}};
                struct proc_result br;
                proc_run(&s, &br);
                kill_uid(&sb);
                if (br.timed_out)
                    buf_printf(&e->err, "the build timed out after %g s\n", s.timeout_s);
                else if (br.status == -1 || !WIFEXITED(br.status) || WEXITSTATUS(br.status)) {
                    buf_printf(&e->err, "does not compile:\n");
                    first_errors(br.out ? br.out : "", work, &e->err);
                }
                proc_result_free(&br);
                free(sanv);
                free(argv);
            } else if (sdir) {
                buf_printf(&e->err, "no .c files in the submission's %s/\n", v[i].u.name);
            }
            free_names(targets, nt);
            clock_gettime(CLOCK_MONOTONIC, &ts);
            left = o->submission_timeout - ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - start);
            char *suite = xasprintf("%s/%s", suites, v[i].u.name);
            char *report = xasprintf("%s/%s.tsv", reports, v[i].u.name);
            char *target = xasprintf("%s/build/exercises/%s", work, v[i].u.name);
            run_suite(o, &sb, suite, target, work, report,
                      left < o->suite_timeout ? left : o->suite_timeout, e);
            free(suite);
            free(report);
            free(target);
        }
        eres_total(e);
        free(qs);
        free(qe);
        free(qsuite);
        free(sdir);
        free(edir);
    }
    kill_uid(&sb);
    char *qt = shq(tmpl);
    cmd = xasprintf("rm -rf %s", qt);
    free(qt);
    sh_run(cmd, NULL);
    free(cmd);
    free(qroot);
    free(qwork);
    free(work);
    free(reports);
    free(suites);
    free(tmpl);
    return 0;
}

/* ---- report formats --------------------------------------------------------------------- */

/* Bytes that are not valid UTF-8 or are control characters become '?'. */
static char *clean_text(const char *s, bool keep_newlines)
{
    struct buf b = {0};
    buf_add(&b, "", 0);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = *p < 0x80         ? 1
                  : (*p >> 5) == 6  ? 2
                  : (*p >> 4) == 14 ? 3
                  : (*p >> 3) == 30 ? 4
                                    : 0;
        bool ok = len > 0;
        for (int k = 1; ok && k < len; k++)
            ok = (p[k] & 0xC0) == 0x80;
        if (!ok) {
            buf_add(&b, "?", 1);
            p++;
        } else if (len == 1 && *p < 0x20 && !(keep_newlines && (*p == '\n' || *p == '\t'))) {
            buf_add(&b, *p == '\n' ? " " : "?", 1);
            p++;
        } else {
            buf_add(&b, p, (size_t)len);
            p += len;
        }
    }
    return b.p;
}

static void put_json_str(FILE *f, const char *s)
{
    char *c = clean_text(s, true);
    fputc('"', f);
    for (const char *p = c; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else
            fputc(*p, f);
    }
    fputc('"', f);
    free(c);
}

static void put_xml(FILE *f, const char *s)
{
    char *c = clean_text(s, true);
    for (const char *p = c; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*p, f);
        }
    }
    free(c);
}

/* The whole failure text of a test (message + exercise-level error). */
static char *test_output(const struct eres *e, const struct tres *t)
{
    struct buf b = {0};
    buf_add(&b, "", 0);
    if (strcmp(t->status, "PASS") != 0) {
        buf_printf(&b, "%s", t->msg[0] ? t->msg : t->status);
        if (e->err.len)
            buf_printf(&b, "\n%s", e->err.p);
    }
    return b.p;
}

static void tap_line(FILE *f, const char *indent, bool ok, int num, const char *desc)
{
    char *c = clean_text(desc, false);
    fprintf(f, "%s%s %d - ", indent, ok ? "ok" : "not ok", num);
    for (const char *p = c; *p; p++) {
        if (*p == '#' || *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    fputc('\n', f);
    free(c);
}

static void tap_yaml(FILE *f, const char *indent, const char *msg, int score, int max)
{
    fprintf(f, "%s  ---\n%s  message: ", indent, indent);
    put_json_str(f, msg);
    fprintf(f, "\n%s  score: %d\n%s  max_score: %d\n%s  ...\n", indent, score, indent, max, indent);
}

static void report_tap(FILE *f, const struct eres *r, int n)
{
    fprintf(f, "TAP version 14\n1..%d\n", n);
    for (int i = 0; i < n; i++) {
        const struct eres *e = &r[i];
        fprintf(f, "# Subtest: %s\n", e->name);
        int count = e->nt ? e->nt : 1;
        fprintf(f, "    1..%d\n", count);
        for (int k = 0; k < e->nt; k++) {
            const struct tres *t = &e->t[k];
            bool ok = strcmp(t->status, "PASS") == 0;
            char *desc = xasprintf("%s: %s", t->name, t->title);
            tap_line(f, "    ", ok, k + 1, desc);
            free(desc);
            if (!ok) {
                char *out = test_output(e, t);
                tap_yaml(f, "    ", out, 0, t->weight);
                free(out);
            }
        }
        if (!e->nt) {
            tap_line(f, "    ", false, 1, "grading");
            tap_yaml(f, "    ", e->err.len ? e->err.p : "no tests ran", 0, 0);
        }
        bool pass = e->nt && e->score == e->max && !e->err.len;
        char *desc = xasprintf("%s %d/%d", e->name, e->score, e->max);
        tap_line(f, "", pass, i + 1, desc);
        free(desc);
        if (!pass)
            tap_yaml(f, "", e->err.len ? e->err.p : "some tests failed", e->score, e->max);
    }
}

static void report_junit(FILE *f, const struct eres *r, int n)
{
    int tests = 0, fails = 0;
    double secs = 0;
    for (int i = 0; i < n; i++) {
        tests += r[i].nt ? r[i].nt : 1;
        for (int k = 0; k < r[i].nt; k++)
            fails += strcmp(r[i].t[k].status, "PASS") != 0;
        if (!r[i].nt)
            fails++;
        secs += r[i].secs;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"evlab\" tests=\"%d\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n",
            tests, fails, secs);
    for (int i = 0; i < n; i++) {
        const struct eres *e = &r[i];
        int ef = 0;
        for (int k = 0; k < e->nt; k++)
            ef += strcmp(e->t[k].status, "PASS") != 0;
        fprintf(f, "  <testsuite name=\"");
        put_xml(f, e->name);
        fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n",
                e->nt ? e->nt : 1, e->nt ? ef : 1, e->secs);
        fprintf(f,
                "    <properties><property name=\"score\" value=\"%d\"/>"
                "<property name=\"max_score\" value=\"%d\"/></properties>\n",
                e->score, e->max);
        for (int k = 0; k < e->nt; k++) {
            const struct tres *t = &e->t[k];
            fprintf(f, "    <testcase classname=\"");
            put_xml(f, e->name);
            fprintf(f, "\" name=\"");
            put_xml(f, t->name);
            fprintf(f, "\" time=\"%.3f\"", t->secs);
            if (strcmp(t->status, "PASS") == 0) {
                fprintf(f, "/>\n");
                continue;
            }
            char *out = test_output(e, t);
            fprintf(f, ">\n      <failure type=\"%s\" message=\"", t->status);
            put_xml(f, t->title);
            fprintf(f, "\">");
            put_xml(f, out);
            fprintf(f, "</failure>\n    </testcase>\n");
            free(out);
        }
        if (!e->nt) {
            fprintf(f, "    <testcase classname=\"");
            put_xml(f, e->name);
            fprintf(f, "\" name=\"grading\"><failure type=\"ERROR\" message=\"not graded\">");
            put_xml(f, e->err.len ? e->err.p : "no tests ran");
            fprintf(f, "</failure></testcase>\n");
        }
        if (e->notes.len) {
            fprintf(f, "    <system-out>");
            put_xml(f, e->notes.p);
            fprintf(f, "</system-out>\n");
        }
        fprintf(f, "  </testsuite>\n");
    }
    fprintf(f, "</testsuites>\n");
}

static void report_gradescope(FILE *f, const struct eres *r, int n, double secs)
{
    int score = 0, max = 0;
    for (int i = 0; i < n; i++)
        score += r[i].score, max += r[i].max;
    fprintf(f, "{\n  \"score\": %d,\n  \"max_score\": %d,\n  \"execution_time\": %.0f,\n", score,
            max, secs < 1 ? 1 : secs);
    fprintf(f, "  \"visibility\": \"visible\",\n  \"stdout_visibility\": \"visible\",\n");
    struct buf all = {0};
    buf_add(&all, "", 0);
    for (int i = 0; i < n; i++)
        buf_printf(&all, "%s: %d/%d\n", r[i].name, r[i].score, r[i].max);
    fprintf(f, "  \"output\": ");
    put_json_str(f, all.p);
    buf_free(&all);
    fprintf(f, ",\n  \"tests\": [");
    bool first = true;
    for (int i = 0; i < n; i++) {
        const struct eres *e = &r[i];
        for (int k = 0; k < e->nt || (k == 0 && !e->nt); k++) {
            fprintf(f, "%s\n    {", first ? "" : ",");
            first = false;
            char *name, *out;
            int sc = 0, mx = 0;
            bool ok = false;
            if (e->nt) {
                const struct tres *t = &e->t[k];
                name = xasprintf("%s: %s (%s)", e->name, t->title, t->name);
                out = test_output(e, t);
                ok = strcmp(t->status, "PASS") == 0;
                sc = ok ? t->weight : 0;
                mx = t->weight;
            } else {
                name = xasprintf("%s: grading", e->name);
                out = strdup(e->err.len ? e->err.p : "no tests ran");
            }
            if (e->notes.len) {
                char *more = xasprintf("%s%s%s", out, out[0] ? "\n" : "", e->notes.p);
                free(out);
                out = more;
            }
            fprintf(f, "\"name\": ");
            put_json_str(f, name);
            fprintf(f,
                    ", \"number\": \"%d.%d\", \"score\": %d, \"max_score\": %d, "
                    "\"status\": \"%s\", \"output\": ",
                    atoi(e->name), k + 1, sc, mx, ok ? "passed" : "failed");
            put_json_str(f, out);
            fprintf(f, ", \"visibility\": \"visible\"}");
            free(name);
            free(out);
        }
    }
    fprintf(f, "\n  ]\n}\n");
}

static void report_text(FILE *f, const struct eres *r, int n, bool color)
{
    int score = 0, max = 0;
    for (int i = 0; i < n; i++) {
        print_text_exercise(f, &r[i], color);
        score += r[i].score;
        max += r[i].max;
    }
    fprintf(f, "total %d/%d\n", score, max);
}

/* ---- grade ------------------------------------------------------------------------------ */

static int parse_gopts(int argc, char **argv, struct gopts *o, const char **positional)
{
    for (int a = 1; a < argc; a++) {
        const char *k = argv[a];
        const char *val = a + 1 < argc ? argv[a + 1] : NULL;
        bool takes = true;
        if (strcmp(k, "--submission") == 0)
            o->submission = val;
        else if (strcmp(k, "--suites") == 0)
            o->suites = val;
        else if (strcmp(k, "--format") == 0)
            o->format = val;
        else if (strcmp(k, "--backend") == 0)
            o->backend = val;
        else if (strcmp(k, "--exercise") == 0)
            o->only = val;
        else if (strcmp(k, "-o") == 0 || strcmp(k, "--out") == 0)
            o->out = val;
        else if (strcmp(k, "--suite-timeout") == 0 || strcmp(k, "--timeout") == 0 ||
                 strcmp(k, "--mem") == 0 || strcmp(k, "--output-limit") == 0 ||
                 strcmp(k, "--uid") == 0) {
            char *end;
            double d = val ? strtod(val, &end) : 0;
            if (!val || end == val || *end || d <= 0)
                return err2("%s needs a positive number", k);
            if (k[2] == 's')
                o->suite_timeout = d;
            else if (k[2] == 't')
                o->submission_timeout = d;
            else if (k[2] == 'm')
                o->mem_mb = (rlim_t)d;
            else if (k[2] == 'o')
                o->output_cap = (size_t)d;
            else
                o->uid = (uid_t)d;
        } else if (strcmp(k, "--no-kill-all") == 0) {
            o->kill_all = false;
            takes = false;
        } else if (k[0] == '-' && k[1]) {
            return err2("unknown option '%s' (try: ./evlab help)", k);
        } else {
            takes = false;
            if (positional && !*positional)
                *positional = k;
            else
                return err2("unexpected argument '%s'", k);
        }
        if (takes) {
            if (!val)
                return err2("%s needs a value", k);
            a++;
        }
    }
    const char *fmts[] = {"text", "tap", "junit", "gradescope"};
    bool ok = false;
    for (int i = 0; i < 4; i++)
        ok = ok || strcmp(o->format, fmts[i]) == 0;
    if (!ok)
        return err2("unknown format '%s' (text, tap, junit or gradescope)", o->format);
    if (o->backend && strcmp(o->backend, "all") && strcmp(o->backend, "epoll") &&
        strcmp(o->backend, "poll") && strcmp(o->backend, "select") && strcmp(o->backend, "default"))
        return err2("unknown backend '%s' (all, epoll, poll or select)", o->backend);
    return 0;
}

int cmd_grade(int argc, char **argv)
{
    struct gopts o;
    gopts_default(&o);
    if (parse_gopts(argc, argv, &o, NULL))
        return 2;
    char *sub = NULL;
    if (o.submission) {
        sub = realpath(o.submission, NULL);
        if (!sub || !is_dir(sub))
            return free(sub), err2("no submission directory %s", o.submission);
    } else {
        sub = xasprintf("%s/exercises", g_root);
    }
    struct exdef *v;
    int n = find_exercises(&o, &v);
    if (o.only) {
        int keep = 0;
        for (int i = 0; i < n; i++) {
            if (strncmp(v[i].u.name, o.only, strlen(o.only)) == 0)
                v[keep++] = v[i];
            else
                free(v[i].suite_src), free(v[i].suite);
        }
        n = keep;
        if (!n)
            return free(sub), free(v), err2("no exercise %s with a grading suite", o.only);
    }
    if (!o.suites && build_suites(v, n) != 0)
        return free(sub), free_exercises(v, n), 2;
    struct eres *res = calloc((size_t)n + 1, sizeof *res);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    grade_submission(&o, sub, v, n, res);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    FILE *f = stdout;
    if (o.out) {
        f = fopen(o.out, "w");
        if (!f)
            return err2("cannot write %s: %s", o.out, strerror(errno));
    }
    if (strcmp(o.format, "tap") == 0)
        report_tap(f, res, n);
    else if (strcmp(o.format, "junit") == 0)
        report_junit(f, res, n);
    else if (strcmp(o.format, "gradescope") == 0)
        report_gradescope(f, res, n, secs);
    else
        report_text(f, res, n, f == stdout && g_color);
    if (f != stdout)
        fclose(f);
    for (int i = 0; i < n; i++)
        eres_free(&res[i]);
    free(res);
    free_exercises(v, n);
    free(sub);
    return 0;
}

/* ---- grade-class --------------------------------------------------------------------------- */

struct job {
    char *student;
    pid_t pid;
    char *report, *tsv;
    bool done;
};

struct class_ctx {
    struct event_base *base;
    struct job *jobs;
    int n, next, running, max;
    char **argv_tail; /* the options passed on to each grade */
    int ntail;
    const char *dir, *out;
};

static void start_jobs(struct class_ctx *c);

static void on_class_child(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct class_ctx *c = arg;
    pid_t p;
    int st;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < c->n; i++)
            if (c->jobs[i].pid == p && !c->jobs[i].done) {
                c->jobs[i].done = true;
                c->running--;
                fprintf(stderr, "graded %s\n", c->jobs[i].student);
            }
    }
    start_jobs(c);
    if (c->running == 0 && c->next >= c->n)
        event_base_loopbreak(c->base);
}

static void start_jobs(struct class_ctx *c)
{
    while (c->running < c->max && c->next < c->n) {
        struct job *j = &c->jobs[c->next++];
        char *sub = xasprintf("%s/%s", c->dir, j->student);
        const char **argv = calloc((size_t)c->ntail + 16, sizeof *argv);
        int a = 0;
        argv[a++] = g_self;
        argv[a++] = "grade";
        argv[a++] = "--submission";
        argv[a++] = sub;
        argv[a++] = "--format";
        argv[a++] = "junit";
        argv[a++] = "--out";
        argv[a++] = j->tsv;
        for (int k = 0; k < c->ntail; k++)
            argv[a++] = c->argv_tail[k];
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            /* A text report too: the same grading run writes JUnit for the
             * gradebook; the readable report is made from it below. */
            int fd = open("/dev/null", O_RDONLY);
            dup2(fd, 0);
            int lf = open(j->report, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (lf >= 0) {
                dup2(lf, 1);
                dup2(lf, 2);
            }
            execv(g_self, (char *const *)argv);
            _exit(127);
        }
        j->pid = pid;
        if (pid > 0)
            c->running++;
        else
            j->done = true;
        free(argv);
        free(sub);
    }
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* score and max_score of each testsuite in a JUnit file we wrote */
static void junit_scores(const char *path, char **names, int *score, int *max, int n)
{
    char *x = read_file(path, NULL);
    for (int i = 0; i < n; i++)
        score[i] = max[i] = -1;
    for (const char *p = x; p && (p = strstr(p, "<testsuite name=\""));) {
        p += strlen("<testsuite name=\"");
        const char *q = strchr(p, '"');
        if (!q)
            break;
        const char *s = strstr(p, "name=\"score\" value=\"");
        const char *m = strstr(p, "name=\"max_score\" value=\"");
        for (int i = 0; s && m && i < n; i++)
            if (strlen(names[i]) == (size_t)(q - p) && strncmp(names[i], p, (size_t)(q - p)) == 0) {
                score[i] = atoi(s + strlen("name=\"score\" value=\""));
                max[i] = atoi(m + strlen("name=\"max_score\" value=\""));
            }
    }
    free(x);
}

int cmd_grade_class(int argc, char **argv)
{
    const char *dir = NULL, *out = "grades";
    int jobs = 1;
    char **tail = calloc((size_t)argc + 1, sizeof *tail);
    int ntail = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-j") == 0 || strcmp(argv[a], "--jobs") == 0) {
            char *end;
            long v = a + 1 < argc ? strtol(argv[a + 1], &end, 10) : 0;
            if (a + 1 >= argc || *end || v < 1 || v > 64)
                return free(tail), err2("-j needs a number of jobs (1-64)");
            jobs = (int)v;
            a++;
        } else if (strcmp(argv[a], "-o") == 0 || strcmp(argv[a], "--out") == 0) {
            if (a + 1 >= argc)
                return free(tail), err2("-o needs a directory");
            out = argv[++a];
        } else if (strcmp(argv[a], "--suites") == 0 || strcmp(argv[a], "--backend") == 0 ||
                   strcmp(argv[a], "--suite-timeout") == 0 || strcmp(argv[a], "--timeout") == 0 ||
                   strcmp(argv[a], "--mem") == 0) {
            if (a + 1 >= argc)
                return free(tail), err2("%s needs a value", argv[a]);
            tail[ntail++] = argv[a];
            tail[ntail++] = argv[++a];
        } else if (argv[a][0] == '-') {
            return free(tail), err2("unknown option '%s' for grade-class", argv[a]);
        } else if (!dir) {
            dir = argv[a];
        } else {
            return free(tail), err2("grade-class takes one directory");
        }
    }
    if (!dir || !is_dir(dir))
        return free(tail), err2("grade-class needs a directory with one sub-folder per student");
    struct gopts o;
    gopts_default(&o);
    for (int k = 0; k + 1 < ntail; k += 2)
        if (strcmp(tail[k], "--suites") == 0)
            o.suites = tail[k + 1];
    struct exdef *v;
    int ne = find_exercises(&o, &v);
    if (!o.suites && build_suites(v, ne) != 0)
        return free(tail), free_exercises(v, ne), 2;
    char *rdir = realpath(dir, NULL);
    DIR *d = opendir(rdir);
    char **students = NULL;
    int ns = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = xasprintf("%s/%s", rdir, de->d_name);
        if (is_dir(p)) {
            students = realloc(students, sizeof *students * (size_t)(ns + 1));
            students[ns++] = strdup(de->d_name);
        }
        free(p);
    }
    if (d)
        closedir(d);
    if (ns)
        qsort(students, (size_t)ns, sizeof *students, cmp_cstr);
    char *qo = shq(out);
    char *mk = xasprintf("mkdir -p %s", qo);
    free(qo);
    sh_run(mk, NULL);
    free(mk);
    struct class_ctx c = {
        .n = ns, .max = jobs, .argv_tail = tail, .ntail = ntail, .dir = rdir, .out = out};
    c.jobs = calloc((size_t)ns + 1, sizeof *c.jobs);
    for (int i = 0; i < ns; i++) {
        c.jobs[i].student = students[i];
        c.jobs[i].report = xasprintf("%s/%s.log", out, students[i]);
        c.jobs[i].tsv = xasprintf("%s/%s.junit.xml", out, students[i]);
    }
    c.base = event_base_new();
    struct event *ev = evsignal_new(c.base, SIGCHLD, on_class_child, &c);
    evsignal_add(ev, NULL);
    start_jobs(&c);
    if (c.running)
        event_base_dispatch(c.base);
    event_free(ev);
    event_base_free(c.base);
    /* gradebook.csv and a readable report per student */
    char *csv = xasprintf("%s/gradebook.csv", out);
    FILE *f = fopen(csv, "w");
    if (!f)
        return err2("cannot write %s", csv);
    fprintf(f, "student");
    char **names = calloc((size_t)ne + 1, sizeof *names);
    for (int i = 0; i < ne; i++) {
        names[i] = v[i].u.name;
        fprintf(f, ",%s", names[i]);
    }
    fprintf(f, ",total,max\n");
    int *sc = calloc((size_t)ne + 1, sizeof *sc), *mx = calloc((size_t)ne + 1, sizeof *mx);
    for (int s = 0; s < ns; s++) {
        junit_scores(c.jobs[s].tsv, names, sc, mx, ne);
        fputc('"', f);
        for (const char *p = students[s]; *p; p++) {
            if (*p == '"')
                fputc('"', f);
            fputc(*p, f);
        }
        fputc('"', f);
        int total = 0, tmax = 0;
        for (int i = 0; i < ne; i++) {
            fprintf(f, ",%d", sc[i] < 0 ? 0 : sc[i]);
            total += sc[i] < 0 ? 0 : sc[i];
            tmax += mx[i] < 0 ? 0 : mx[i];
        }
        fprintf(f, ",%d,%d\n", total, tmax);
        char *txt = xasprintf("%s/%s.txt", out, students[s]);
        FILE *t = fopen(txt, "w");
        if (t) {
            fprintf(t, "student: %s\n", students[s]);
            for (int i = 0; i < ne; i++)
                fprintf(t, "%-32s %d/%d\n", names[i], sc[i] < 0 ? 0 : sc[i], mx[i] < 0 ? 0 : mx[i]);
            fprintf(t, "total %d/%d\n(details: %s.junit.xml)\n", total, tmax, students[s]);
            fclose(t);
        }
        free(txt);
    }
    fclose(f);
    printf("graded %d student%s: %s\n", ns, ns == 1 ? "" : "s", csv);
    for (int i = 0; i < ns; i++) {
        free(c.jobs[i].report);
        free(c.jobs[i].tsv);
        free(students[i]);
    }
    free(sc);
    free(mx);
    free(names);
    free(csv);
    free(c.jobs);
    free(students);
    free(rdir);
    free(tail);
    free_exercises(v, ne);
    return 0;
}
