/* grade.c -- grade and grade-class: which exercises, how each is built, the run.
 *
 * An exercise says what it is in exercises/NN-slug/exercise.mk:
 *   kind = program            (or: library -- built to NAME.so, no main())
 *   needs = tests/grading/preload/debug_mode.so   (build products its suite uses)
 * The Makefile and this file both read it; nothing looks for main() in a
 * student's file.
 *
 * For each submission (sandbox.c has the guarantees):
 *   1. a fresh root-owned folder; the suites and what they need are copied in;
 *   2. for each exercise, before any of the submission's code runs, the suite
 *      lists its tests and weights (judge.c);
 *   3. the submission's .c/.h files are copied, in C, with O_NOFOLLOW and caps,
 *      into a folder of their own that no earlier exercise could reach;
 *   4. the build: cc, one argument list per program, in the sandbox, with
 *      CPU, memory, file-size and output limits;
 *   5. the suite runs in the sandbox; its verdict comes through a pipe (fd 3)
 *      that the submission's processes never inherit;
 *   6. everything goes: the namespaces end, the job's uid is swept, the folder
 *      is removed without following links.
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

/* ---- options ------------------------------------------------------------------------ */

void gopts_default(struct gopts *o)
{
    memset(o, 0, sizeof *o);
    o->format = "text";
    o->suite_timeout = 120;
    o->submission_timeout = 900;
    o->output_cap = 64 * 1024;
    o->mem_mb = 1024;
}

static const char *san_flags(void)
{
    const char *s = getenv("EVLAB_SAN");
    return s && *s ? s : NULL;
}

struct limits suite_limits(const struct gopts *o)
{
    struct limits l = {
        .set = true, .cpu_s = 120, .fsize_bytes = 64 << 20, .nproc = 512, .nofile = 4096};
    /* ASan and friends reserve terabytes of address space: no RLIMIT_AS then. */
    if (!san_flags())
        l.as_bytes = (rlim_t)o->mem_mb << 20;
    return l;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct backend {
    const char *name;
    const char *env[3];
} backends[] = {
    {"epoll", {"EVENT_NOEPOLL", "EVENT_NOPOLL"}},
    {"poll", {"EVENT_NOEPOLL=1", "EVENT_NOPOLL"}},
    {"select", {"EVENT_NOEPOLL=1", "EVENT_NOPOLL=1"}},
};

static bool backend_wanted(const struct gopts *o, int i)
{
    return o->backend && strcmp(o->backend, "default") &&
           (strcmp(o->backend, "all") == 0 || strcmp(o->backend, backends[i].name) == 0);
}

/* ---- exercises ------------------------------------------------------------------------ */

int read_manifest(const char *exdir, struct exdef *d)
{
    d->kind = EX_PROGRAM;
    char *p = xasprintf("%s/exercise.mk", exdir);
    char *text = read_file(p, NULL);
    free(p);
    if (!text)
        return -1;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *eq = strchr(line, '=');
        if (line[0] != '#' && eq) {
            char *k = line, *val = eq + 1;
            *eq = '\0';
            k[strcspn(k, " \t")] = '\0';
            if (strcmp(k, "kind") == 0)
                d->kind = strstr(val, "library") ? EX_LIBRARY : EX_PROGRAM;
            else if (strcmp(k, "needs") == 0)
                for (char *save = NULL, *t = strtok_r(val, " \t", &save); t;
                     t = strtok_r(NULL, " \t", &save)) {
                    if (strstr(t, "..") || t[0] == '/')
                        continue;
                    d->needs = realloc(d->needs, sizeof *d->needs * (size_t)(d->nneeds + 1));
                    d->needs[d->nneeds++] = strdup(t);
                }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return 0;
}

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
            /* Next to the suite: NN-slug.mk (its manifest) and NN-slug.d/ (its starter). */
            char *sd = xasprintf("%s/%s.d", o->suites, de->d_name);
            if (is_dir(sd)) {
                char *rs = realpath(sd, NULL);
                snprintf(v[n].u.dir, sizeof v[n].u.dir, "%s", rs ? rs : sd);
                free(rs);
                read_manifest(v[n].u.dir, &v[n]);
            }
            free(sd);
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
            read_manifest(u[i].dir, &v[n]);
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

static void free_exdef(struct exdef *d)
{
    free(d->suite_src);
    free(d->suite);
    free_names(d->needs, d->nneeds);
    d->needs = NULL;
    d->nneeds = 0;
}

static void free_exercises(struct exdef *v, int n)
{
    for (int i = 0; i < n; i++)
        free_exdef(&v[i]);
    free(v);
}

int build_suites(struct exdef *v, int n)
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

/* ---- one suite run, in or out of the sandbox -------------------------------------------- */

/* The suite's own list of tests; 0 tests is the grader's problem, not the student's. */
static int list_tests(struct sandbox *sb, const char *suite, const char *const *ro,
                      struct expect *x)
{
    const char *argv[] = {suite, NULL};
    const char *env[] = {"EVLAB_LIST_TESTS=1", "EVLAB_REPORT_FD=3", "EVLAB_REPORT", NULL};
    struct sb_cmd c = {.argv = argv,
                       .env = env,
                       .ro = ro,
                       .timeout_s = 30,
                       .cap_bytes = 4096,
                       .report = true,
                       .report_cap = 256 * 1024};
    struct proc_result r;
    int rc = sandbox_run(sb, &c, &r);
    int n = rc == 0 ? expect_parse(x, r.rep) : 0;
    if (!n)
        fprintf(stderr, "evlab: the suite %s lists no tests (%s)\n", suite,
                r.out && *r.out ? r.out : "no output");
    proc_result_free(&r);
    return n;
}

/* Run the suite once; scores into e (tag: the backend, or NULL). */
static void suite_once(const struct gopts *o, struct sandbox *sb, const char *suite,
                       const struct expect *x, const char *const *env_extra, const char *const *ro,
                       const char *cwd, double timeout, const char *tag, struct eres *e)
{
    const char *argv[] = {suite, "--jobs", "2", NULL};
    const char *env[16];
    int k = 0;
    env[k++] = "EVLAB_REPORT_FD=3";
    env[k++] = "EVLAB_REPORT";
    env[k++] = "EVLAB_LIST_TESTS";
    env[k++] = "EVLAB_STEP";
    for (int i = 0; env_extra && env_extra[i] && k < 15; i++)
        env[k++] = env_extra[i];
    env[k] = NULL;
    struct sb_cmd c = {.argv = argv,
                       .env = env,
                       .cwd = cwd,
                       .ro = ro,
                       .timeout_s = timeout,
                       .lim = suite_limits(o),
                       .cap_bytes = o->output_cap,
                       .report = true,
                       .report_cap = 1 << 20};
    struct proc_result pr;
    sandbox_run(sb, &c, &pr);
    struct buf why = {0};
    if (pr.timed_out) {
        buf_printf(&why, "the grading suite timed out after %g s and was stopped", timeout);
        buf_printf(&e->err, "%s%s%s%s\n", tag ? "[" : "", tag ? tag : "", tag ? "] " : "", why.p);
    } else if (!pr.rep || !pr.rep_len) {
        char d[96];
        buf_printf(&why, "the grading suite %s before it wrote its report",
                   describe_status(pr.status, d, sizeof d));
        buf_printf(&e->err, "%s%s%s%s", tag ? "[" : "", tag ? tag : "", tag ? "] " : "", why.p);
        if (pr.out && pr.out_len) {
            const char *t = pr.out_len > 600 ? pr.out + pr.out_len - 600 : pr.out;
            buf_printf(&e->err, "; its last output:\n%s", t);
        }
        buf_add(&e->err, "\n", 1);
    }
    judge_merge(e, x, pr.rep, tag, why.len ? why.p : NULL);
    buf_free(&why);
    if (pr.rep_total > pr.rep_len)
        buf_printf(&e->notes, "the suite's report was cut at %zu bytes\n", pr.rep_len);
    if (pr.out_total > pr.out_len)
        buf_printf(&e->notes, "output truncated after %zu bytes (%zu produced)\n", pr.out_len,
                   pr.out_total);
    if (pr.strays)
        buf_printf(&e->notes, "%d stray process%s still running after the tests; killed\n",
                   pr.strays, pr.strays == 1 ? " was" : "es were");
    e->secs += pr.seconds;
    proc_result_free(&pr);
}

/* All the backends asked for. */
static void suite_runs(const struct gopts *o, struct sandbox *sb, const char *suite,
                       const struct expect *x, const char *const *env_extra, const char *const *ro,
                       const char *cwd, double timeout, struct eres *e)
{
    bool any = false;
    for (int i = 0; i < 3; i++) {
        if (!backend_wanted(o, i))
            continue;
        any = true;
        const char *env[12] = {backends[i].env[0], backends[i].env[1]};
        int k = 2;
        for (int j = 0; env_extra && env_extra[j] && k < 11; j++)
            env[k++] = env_extra[j];
        env[k] = NULL;
        suite_once(o, sb, suite, x, env, ro, cwd, timeout, backends[i].name, e);
    }
    if (!any)
        suite_once(o, sb, suite, x, env_extra, ro, cwd, timeout, NULL, e);
    eres_total(e);
}

/* `evlab check`: the student's own tree, no sandbox, the same verdict channel. */
void run_suite_unsandboxed(const struct gopts *o, const struct exdef *d, const char *target,
                           struct eres *e)
{
    struct sandbox sb = {.mode = SB_NONE, .uid_lock = -1, .top_fd = -1};
    struct expect x;
    if (list_tests(&sb, d->suite, NULL, &x) == 0) {
        buf_printf(&e->err, "the grading suite lists no tests\n");
        return;
    }
    char *t = xasprintf("EVLAB_TARGET=%s", target);
    char *b = xasprintf("EVLAB_BUILD=%s/%s", g_root, g_build);
    const char *env[] = {t, b, NULL};
    suite_runs(o, &sb, d->suite, &x, env, NULL, g_root, o->suite_timeout, e);
    expect_free(&x);
    free(t);
    free(b);
}

/* ---- building a submission ---------------------------------------------------------------- */

/* The flags a program needs, read (by tools/buildflags.sh) from the header of
 * the course's own starter, never from the student's file. */
static int starter_flags(const char *starter, char ***out)
{
    char *script = xasprintf("%s/tools/buildflags.sh", g_root);
    const char *argv[] = {script, starter ? starter : "/dev/null", NULL};
    struct proc_spec s = {.argv = argv,
                          .capture = true,
                          .cap_bytes = 8192,
                          .stdin_null = true,
                          .own_pgrp = true,
                          .timeout_s = 30};
    struct proc_result r;
    char **v = NULL;
    int n = 0;
    if (!file_exists(script) || proc_run(&s, &r) != 0 || status_to_exit(r.status) != 0) {
        v = calloc(3, sizeof *v);
        v[n++] = strdup("-levent");
    } else {
        for (char *save = NULL, *t = strtok_r(r.out, " \t\n", &save); t;
             t = strtok_r(NULL, " \t\n", &save)) {
            v = realloc(v, sizeof *v * (size_t)(n + 2));
            v[n++] = strdup(t);
        }
    }
    if (file_exists(script))
        proc_result_free(&r);
    free(script);
    *out = v;
    return n;
}

/* Build each of the starter's programs from the copy in `exdir`. */
static void build_exercise(const struct gopts *o, struct sandbox *sb, const struct exdef *d,
                           const char *exdir, double left, struct eres *e)
{
    /* The starter's programs; with --suites and no starter, every .c of the copy. */
    char **progs;
    int np = list_programs(d->u.dir[0] ? d->u.dir : exdir, &progs);
    for (int k = 0; k < np && !e->err.len; k++) {
        char *src = xasprintf("%s/%s.c", exdir, progs[k]);
        char *starter = d->u.dir[0] ? xasprintf("%s/%s.c", d->u.dir, progs[k]) : NULL;
        char *outp = xasprintf("%s/%s%s", exdir, progs[k], d->kind == EX_LIBRARY ? ".so" : "");
        if (!file_exists(src)) {
            buf_printf(&e->err, "no %s.c in the submission's %s/\n", progs[k], d->u.name);
        } else {
            char **fl;
            int nf = starter_flags(starter, &fl);
            const char **argv = calloc((size_t)nf + 32, sizeof *argv);
            int a = 0;
            argv[a++] = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
            const char *fixed[] = {"-std=gnu11", "-Wall", "-Wextra", "-O2", "-g", NULL};
            for (int i = 0; fixed[i]; i++)
                argv[a++] = fixed[i];
            if (o->werror)
                argv[a++] = "-Werror";
            char *san = san_flags() ? strdup(san_flags()) : NULL;
            for (char *save = NULL, *t = san ? strtok_r(san, " ", &save) : NULL; t && a < 20;
                 t = strtok_r(NULL, " ", &save))
                argv[a++] = t;
            if (d->kind == EX_LIBRARY) {
                argv[a++] = "-fPIC";
                argv[a++] = "-shared";
            }
            argv[a++] = src;
            argv[a++] = "-o";
            argv[a++] = outp;
            for (int i = 0; i < nf; i++)
                argv[a++] = fl[i];
            argv[a] = NULL;
            const char *rw[] = {exdir, NULL};
            const char *env[] = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "TMPDIR=/tmp", NULL};
            struct sb_cmd c = {.argv = argv,
                               .env = sb->mode == SB_BWRAP ? env : env + 4,
                               .cwd = exdir,
                               .rw = rw,
                               .timeout_s = left < 120 ? left : 120,
                               .lim = {.set = true,
                                       .cpu_s = 60,
                                       .as_bytes = san_flags() ? 0 : (rlim_t)768 << 20,
                                       .fsize_bytes = 64 << 20,
                                       .nproc = 256,
                                       .nofile = 1024},
                               .cap_bytes = 64 * 1024};
            struct proc_result br;
            sandbox_run(sb, &c, &br);
            const char *out = br.out ? br.out : "";
            if (br.timed_out) {
                buf_printf(&e->err, "the build timed out after %g s\n", c.timeout_s);
            } else if (br.status == -1 || !WIFEXITED(br.status) || WEXITSTATUS(br.status)) {
                if (strstr(out, "out of memory") || strstr(out, "memory exhausted") ||
                    strstr(out, "Cannot allocate memory"))
                    buf_printf(&e->err, "does not compile: the compiler ran out of memory (the "
                                        "build may use 768 MiB); is a file including itself or "
                                        "a device?\n");
                else if (WIFSIGNALED(br.status) && WTERMSIG(br.status) == SIGXCPU)
                    buf_printf(&e->err, "does not compile: the compiler used its 60 s of CPU\n");
                else
                    buf_printf(&e->err, "does not compile:\n");
                first_errors(out, exdir, &e->err);
            } else if (strstr(out, ": warning:")) {
                buf_printf(&e->notes, "compiler warnings (not counted; --werror makes them "
                                      "errors):\n");
                first_errors(out, exdir, &e->notes);
            }
            proc_result_free(&br);
            free(san);
            free(argv);
            free_names(fl, nf);
        }
        free(src);
        free(starter);
        free(outp);
    }
    free_names(progs, np);
}

/* ---- a submission ------------------------------------------------------------------------- */

/* Where the submission keeps exercise NAME: DIR/NAME/ or, for a flat upload
 * (Gradescope), DIR itself when it holds the starter's file names. An fd
 * opened without following a link, or -1. */
static int submission_fd(int sub_fd, const struct exdef *d)
{
    int fd = openat(sub_fd, d->u.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    if (!d->u.dir[0])
        return -1;
    char **progs;
    int np = list_programs(d->u.dir, &progs);
    bool all = np > 0;
    for (int k = 0; k < np && all; k++) {
        char *f = xasprintf("%s.c", progs[k]);
        struct stat st;
        all = fstatat(sub_fd, f, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
        free(f);
    }
    free_names(progs, np);
    /* A fresh open of the folder, not dup(): a dup shares the directory offset,
     * and once the first exercise's copy had read to the end, every later
     * exercise of a flat upload found no files. */
    return all ? openat(sub_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
}

/* Copy one regular file (no link followed) from the course into the sandbox. */
static int copy_file(const char *from, int dst_dir, const char *name, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (out < 0)
        return close(in), -1;
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            rc = -1;
    fchmod(out, mode);
    close(in);
    close(out);
    return rc;
}

/* The build products a suite needs, at the same relative paths under `build_fd`. */
static void copy_needs(const struct exdef *d, int build_fd)
{
    for (int i = 0; i < d->nneeds; i++) {
        char *rel = strdup(d->needs[i]);
        int dir = dup(build_fd);
        char *save = NULL, *part = strtok_r(rel, "/", &save), *next;
        while (part && (next = strtok_r(NULL, "/", &save))) {
            mkdirat(dir, part, 0755);
            int nd = openat(dir, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            close(dir);
            dir = nd;
            if (dir < 0)
                break;
            part = next;
        }
        if (dir >= 0 && part) {
            char *from = xasprintf("%s/%s/%s", g_root, g_build, d->needs[i]);
            copy_file(from, dir, part, 0755);
            free(from);
        }
        if (dir >= 0)
            close(dir);
        free(rel);
    }
}

/* A function-level exercise's contract headers (the starter folder's *.h,
 * e.g. features.h) replace any file of that name in the copy: the student's
 * code is built against the course's declarations, the ones its suite's
 * loader was built against, never against an edited copy. */
static void copy_contract_headers(const struct exdef *d, int ex_fd, struct buf *notes)
{
    DIR *dir = d->u.dir[0] ? opendir(d->u.dir) : NULL;
    struct dirent *de;
    while (dir && (de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 3 || strcmp(de->d_name + len - 2, ".h") != 0)
            continue;
        char *from = xasprintf("%s/%s", d->u.dir, de->d_name);
        size_t ours_len = 0;
        char *ours = read_file(from, &ours_len), theirs[8192];
        int fd = openat(ex_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        ssize_t got = fd >= 0 ? read(fd, theirs, sizeof theirs) : -1;
        if (fd >= 0)
            close(fd);
        if (got >= 0 && (!ours || (size_t)got != ours_len || memcmp(ours, theirs, ours_len)))
            buf_printf(notes, "%s is the course's contract header: your edited copy was not used\n",
                       de->d_name);
        free(ours);
        unlinkat(ex_fd, de->d_name, 0);
        copy_file(from, ex_fd, de->d_name, 0644);
        free(from);
    }
    if (dir)
        closedir(dir);
}

/* Grade one submission into res[0..n). */
static int grade_submission(const struct gopts *o, struct sandbox *sb, const char *sub,
                            struct exdef *v, int n, struct eres *res)
{
    int sub_fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sub_fd < 0)
        return err2("cannot open the submission %s: %s", sub, strerror(errno));
    int suites_fd = -1, build_fd = -1;
    char *suites = sandbox_mkdir(sb, "suites", false, &suites_fd);
    char *build = sandbox_mkdir(sb, "build", false, &build_fd);
    if (!suites || !build) {
        close(sub_fd);
        free(suites);
        free(build);
        return err2("cannot prepare the sandbox in %s: %s", sb->top, strerror(errno));
    }
    double start = now_s();
    for (int i = 0; i < n; i++) {
        struct eres *e = &res[i];
        const struct exdef *d = &v[i];
        snprintf(e->name, sizeof e->name, "%s", d->u.name);
        snprintf(e->title, sizeof e->title, "%s", d->u.title);
        if (sb->interrupted) {
            buf_printf(&e->err, "not graded: the grader was interrupted\n");
            continue;
        }
        copy_file(d->suite, suites_fd, d->u.name, 0755);
        copy_needs(d, build_fd);
        char *suite = xasprintf("%s/%s", suites, d->u.name);
        const char *ro_list[] = {suites, build, NULL};
        struct expect x;
        if (list_tests(sb, suite, ro_list, &x) == 0) {
            buf_printf(&e->err, "not graded: the grading suite lists no tests (a grader "
                                "problem, not yours)\n");
            free(suite);
            continue;
        }
        /* A folder of its own, made now: no earlier exercise's code could reach it. */
        char *exname = xasprintf("ex-%s", d->u.name);
        int ex_fd = -1;
        char *exdir = sandbox_mkdir(sb, exname, true, &ex_fd);
        char *tmpname = xasprintf("tmp-%s", d->u.name);
        char *tmpdir = sb->mode == SB_UID ? sandbox_mkdir(sb, tmpname, true, NULL) : NULL;
        int src_fd = submission_fd(sub_fd, d);
        double left = o->submission_timeout - (now_s() - start);
        const char *needs = "a build";
        if (!exdir) {
            buf_printf(&e->err, "not graded: cannot make the sandbox folder\n");
            needs = "a sandbox folder";
        } else if (src_fd < 0) {
            buf_printf(&e->err, "not submitted (no %s/ in the submission)\n", d->u.name);
            needs = "a submission";
        } else if (left <= 1) {
            buf_printf(&e->err, "not graded: the submission's time limit (%g s) was used up\n",
                       o->submission_timeout);
            needs = "time (the submission's limit was used up)";
        } else {
            if (sandbox_copy_in(sb, src_fd, ex_fd, &e->notes) <= 0) {
                buf_printf(&e->err, "no .c files in the submission's %s/\n", d->u.name);
            } else {
                copy_contract_headers(d, ex_fd, &e->notes);
                build_exercise(o, sb, d, exdir, left, e);
            }
        }
        left = o->submission_timeout - (now_s() - start);
        bool built = !e->err.len;
        if (built && exdir && src_fd >= 0 && left > 1) {
            char *t = xasprintf("EVLAB_TARGET=%s", exdir);
            char *b = xasprintf("EVLAB_BUILD=%s", build);
            char *td = xasprintf("TMPDIR=%s", tmpdir ? tmpdir : "/tmp");
            const char *env[] = {t, b, td, NULL};
            const char *ro[] = {suites, build, exdir, NULL};
            suite_runs(o, sb, suite, &x, env, ro, exdir,
                       left < o->suite_timeout ? left : o->suite_timeout, e);
            free(t);
            free(b);
            free(td);
        } else {
            /* Not built or not run: every test still counts in the maximum. */
            eres_not_run(e, &x, needs);
            (void)built;
        }
        eres_total(e);
        if (src_fd >= 0)
            close(src_fd);
        if (ex_fd >= 0)
            close(ex_fd);
        expect_free(&x);
        free(exname);
        free(exdir);
        free(tmpname);
        free(tmpdir);
        free(suite);
    }
    close(sub_fd);
    close(suites_fd);
    close(build_fd);
    free(suites);
    free(build);
    return 0;
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
        } else if (strcmp(k, "--which-sandbox") == 0) {
            o->which = true;
            takes = false;
        } else if (strcmp(k, "--werror") == 0) {
            o->werror = true;
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
    if (o.which) { /* what a grading run here would get, and why */
        struct sandbox sb;
        int rc = sandbox_open(&sb, o.uid);
        if (rc == 0) {
            struct buf d = {0};
            sandbox_describe(&sb, &d);
            printf("sandbox: %s\n", d.p);
            if (sb.mode == SB_UID && !getenv("EVLAB_SANDBOX"))
                printf("(bwrap %s: %s)\n",
                       in_path("bwrap") ? "cannot make namespaces here" : "is not installed",
                       in_path("bwrap") ? "user namespaces are restricted (a container?)"
                                        : "apt-get install bubblewrap");
            buf_free(&d);
        }
        sandbox_close(&sb);
        return rc ? 2 : 0;
    }
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
                free_exdef(&v[i]);
        }
        n = keep;
        if (!n)
            return free(sub), free(v), err2("no exercise %s with a grading suite", o.only);
    }
    if (!o.suites && build_suites(v, n) != 0)
        return free(sub), free_exercises(v, n), 2;
    struct eres *res = calloc((size_t)n + 1, sizeof *res);
    double t0 = now_s();
    struct sandbox sb;
    if (sandbox_open(&sb, o.uid) != 0) {
        sandbox_close(&sb);
        free(res);
        free_exercises(v, n);
        free(sub);
        return 2;
    }
    struct buf desc = {0};
    sandbox_describe(&sb, &desc);
    g_build_rule = o.werror ? "-Wall -Wextra -Werror (--werror: a warning fails the build)"
                            : "-Wall -Wextra; warnings are notes, not fatal (--werror makes them "
                              "errors)";
    grade_submission(&o, &sb, sub, v, n, res);
    bool interrupted = sb.interrupted;
    sandbox_close(&sb);
    double secs = now_s() - t0;
    FILE *f = stdout;
    if (o.out) {
        int fd = open(o.out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f)
            return err2("cannot write %s: %s", o.out, strerror(errno));
    }
    if (strcmp(o.format, "tap") == 0)
        report_tap(f, res, n, desc.p);
    else if (strcmp(o.format, "junit") == 0)
        report_junit(f, res, n, desc.p);
    else if (strcmp(o.format, "gradescope") == 0)
        report_gradescope(f, res, n, secs, desc.p);
    else
        report_text(f, res, n, f == stdout && g_color, desc.p);
    if (f != stdout)
        fclose(f);
    buf_free(&desc);
    for (int i = 0; i < n; i++)
        eres_free(&res[i]);
    free(res);
    free_exercises(v, n);
    free(sub);
    if (interrupted)
        fprintf(stderr, "evlab: interrupted; the report above is incomplete\n");
    return interrupted ? 130 : 0;
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
            int lf = open(j->report, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
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
        } else if (strcmp(argv[a], "--werror") == 0) {
            tail[ntail++] = argv[a];
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
    for (int k = 0; k + 1 < ntail; k++)
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
    if (mkdir(out, 0755) != 0 && errno != EEXIST)
        return free(tail), err2("cannot create %s: %s", out, strerror(errno));
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
    int cfd = open(csv, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    FILE *f = cfd >= 0 ? fdopen(cfd, "w") : NULL;
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
        int tfd = open(txt, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        FILE *t = tfd >= 0 ? fdopen(tfd, "w") : NULL;
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
