/* hostile.c -- the grader's sandbox against tests/hostile/: every hostile
 * submission is graded by `evlab grade` with the tiny suite
 * build/tests/hostile/suites/00-hostile, in both sandbox modes
 * (EVLAB_SANDBOX=bwrap: namespaces; EVLAB_SANDBOX=uid: the fallback). For each:
 *   - the report gives the right reason;
 *   - the grader finishes within its limits;
 *   - no process of the submission survives (checked in /proc: no process
 *     runs a program from the sandbox, none has the sandbox uid);
 *   - no file outside the temporary copy changed: the submission itself, and
 *     tests/, solutions/, exercises/ planted where relative paths from the
 *     copy lead (TMPDIR is a fresh directory holding them).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evlab_test.h"
#include "evtest.h"

/* md5 of every file under the given directories, one line each. */
static char *snapshot(const char *dirs)
{
    char *cmd = xfmt("find %s -type f -exec md5sum {} + 2>/dev/null | sort", dirs);
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV("/bin/sh", "-c", cmd), NULL, NULL, 60), 0);
    free(cmd);
    char *s = strdup(r.out);
    evt_run_free(&r);
    return s;
}

/* A process whose executable lives under `dir`, or that runs as `uid`. */
static int survivors(const char *dir, int uid, char *what, size_t len)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], exe[4096] = "";
        snprintf(path, sizeof path, "/proc/%d/exe", pid);
        ssize_t l = readlink(path, exe, sizeof exe - 1);
        if (l > 0)
            exe[l] = '\0';
        bool hit = l > 0 && strncmp(exe, dir, strlen(dir)) == 0;
        if (uid >= 0 && !hit) {
            snprintf(path, sizeof path, "/proc/%d/status", pid);
            FILE *f = fopen(path, "r");
            char line[256];
            while (f && fgets(line, sizeof line, f))
                if (strncmp(line, "Uid:", 4) == 0) {
                    int ruid = -1, euid = -1;
                    sscanf(line + 4, "%d %d", &ruid, &euid);
                    hit = ruid == uid || euid == uid;
                }
            if (f)
                fclose(f);
        }
        if (hit) {
            if (!n)
                snprintf(what, len, "pid %d (%s)", pid, exe);
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Can the sandbox uid have namespaces here (bwrap run the way the grader runs it)? */
static bool bwrap_ok(void)
{
    if (geteuid() == 0)
        return sh("setpriv --reuid 62099 --regid 62099 --clear-groups bwrap --unshare-all "
                  "--die-with-parent --ro-bind / / --proc /proc true >/dev/null 2>&1") == 0;
    return sh("bwrap --unshare-all --die-with-parent --ro-bind / / --proc /proc true "
              ">/dev/null 2>&1") == 0;
}

struct hostile {
    const char *name;     /* tests/hostile/NAME, or a folder made by `make_sub` */
    const char *expect;   /* in the report */
    const char *expect2;  /* also (NULL: nothing) */
    const char *reject;   /* never in the report */
    const char *score;    /* "total 0/1" unless given; "" for any */
    bool strays_uid_only; /* expect2 is the stray note, which only the uid mode gives */
    void (*make_sub)(const char *tmpl, const char *sub, bool bwrap);
};

static void grade_hostile(const char *mode, int uid, const struct hostile *h)
{
    bool bw = strcmp(mode, "bwrap") == 0;
    if (bw && !bwrap_ok())
        cr_skip_test("bwrap cannot make namespaces here (user namespaces restricted?): "
                     "only the uid fallback can be tested");
    char tmpl[] = "/tmp/evlab-hostile-XXXXXX";
    cr_assert(mkdtemp(tmpl));
    /* Decoys where ../tests, ../../solutions ... from the sandbox copy lead. */
    cr_assert_eq(sh("cd %s && mkdir -p tests solutions exercises && echo keep > tests/t && "
                    "echo keep > solutions/s && echo keep > exercises/e && chmod 755 %s",
                    tmpl, tmpl),
                 0);
    char *sub = h->make_sub ? xfmt("%s/sub", tmpl) : xfmt("tests/hostile/%s", h->name);
    if (h->make_sub)
        h->make_sub(tmpl, sub, bw);
    char *dirs =
        xfmt("%s %s/tests %s/solutions %s/exercises", h->make_sub ? "" : sub, tmpl, tmpl, tmpl);
    char *before = snapshot(dirs);
    char *tmpdir = xfmt("TMPDIR=%s", tmpl);
    char *modev = xfmt("EVLAB_SANDBOX=%s", mode);
    char uidarg[16];
    snprintf(uidarg, sizeof uidarg, "%d", uid);
    char suites[4096];
    snprintf(suites, sizeof suites, "%s", evt_prog("tests/hostile/suites"));

    double t0 = evt_now();
    struct evt_run r =
        evlab(NULL, EVT_ENV(tmpdir, modev), "grade", "--suites", suites, "--submission", sub,
              "--suite-timeout", "10", "--mem", "512", "--uid", uidarg, NULL);
    double took = evt_now() - t0;

    const char *name = h->name;
    cr_assert_eq(r.exit_code, 0, "the grader itself failed (%d): %s", r.exit_code, r.err);
    cr_assert(strstr(r.out, bw ? "sandbox: bwrap" : "sandbox: uid fallback"),
              "the report must say which sandbox ran:\n%s", r.out);
    /* 10 s suite limit + the build + clean-up; a grader that waited on a hung
     * child would take the evlab run's own timeout instead. */
    cr_assert_lt(took, 45.0, "the grader took %.1f s (suite limit 10 s)", took);
    const char *score = h->score ? h->score : "total 0/1";
    cr_assert(!*score || strstr(r.out, score), "%s: expected '%s':\n%s", name, score, r.out);
    cr_assert(strstr(r.out, h->expect), "%s: expected '%s' in the report:\n%s", name, h->expect,
              r.out);
    if (h->expect2 && !(bw && h->strays_uid_only))
        cr_assert(strstr(r.out, h->expect2), "%s: expected '%s':\n%s", name, h->expect2, r.out);
    if (h->reject)
        cr_assert(!strstr(r.out, h->reject), "%s: '%s' is the wrong reason:\n%s", name, h->reject,
                  r.out);
    cr_assert(!strchr(r.out, '\033'), "%s: an escape character reached the text report:\n%s", name,
              r.out);

    /* As root the judge runs as `uid` and the student's code as uid + 250. */
    char what[4200] = "";
    int left = survivors(tmpl, geteuid() == 0 ? uid : -1, what, sizeof what);
    if (geteuid() == 0)
        left += survivors(tmpl, uid + 250, what, sizeof what);
    cr_assert_eq(left, 0, "%d process(es) survived, e.g. %s", left, what);

    char *after = snapshot(dirs);
    cr_assert_str_eq(after, before, "files outside the sandbox changed");
    DIR *d = opendir(tmpl);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert(strncmp(e->d_name, "evlab-grade-", 12) != 0, "the sandbox %s was left behind",
                  e->d_name);
    closedir(d);
    evt_run_free(&r);
    sh("rm -rf %s", tmpl);
    free(before);
    free(after);
    free(dirs);
    free(sub);
    free(tmpdir);
    free(modev);
}

/* Each case in both modes; distinct uids keep the parallel tests apart. */
#define HOSTILE(test, n, nm, ex, ...)                                                              \
    static const struct hostile h_##test = {.name = nm, .expect = ex, __VA_ARGS__};                \
    Test(hostile_bwrap, test, .timeout = 90) { grade_hostile("bwrap", 62000 + (n), &h_##test); }   \
    Test(hostile_uid, test, .timeout = 90) { grade_hostile("uid", 62100 + (n), &h_##test); }

HOSTILE(infinite_loop, 1, "loop", "TIMEOUT", .expect2 = "timed out after")
HOSTILE(ignores_sigterm, 2, "ignore-term", "TIMEOUT", .expect2 = "timed out after")
HOSTILE(swarm_of_children, 3, "swarm", "TIMEOUT", .expect2 = "stray processes were still running",
        .strays_uid_only = true)
/* A daemon that says hello first scores: what matters is that it does not survive. */
HOSTILE(setsid_double_fork_daemon, 4, "daemon", "00-hostile",
        .expect2 = "stray process was still running", .score = "", .strays_uid_only = true)
HOSTILE(memory_hog, 5, "memhog", "FAIL", .reject = "TIMEOUT")
HOSTILE(output_flood, 6, "flood", "output truncated after 65536 bytes")
HOSTILE(segfault, 7, "segv", "killed by signal 11 (SIGSEGV)")
HOSTILE(kills_parent_and_group, 8, "killparent", "signal 9", .reject = "PASS")
HOSTILE(closes_all_fds, 9, "closefds", "expected 'hello' on stdout, got ''")
HOSTILE(does_not_compile, 11, "nocompile", "does not compile", .expect2 = "hostile.c:4:")
/* Forged verdict lines, on every fd and every pipe in /proc, and a FIFO or a
 * symlink to /dev/zero where a report file used to be. */
HOSTILE(forges_the_report, 12, "forge", "prints hello", .reject = "9999")
HOSTILE(ptraces_the_judge, 13, "ptrace", "expected 'hello' on stdout, got ''")
HOSTILE(ansi_escapes_in_output, 14, "ansi", "00-hostile")
/* The judge (the suite) and the student's code never share a uid: signal 0
 * and SIGCONT to the suite's processes, opening their /proc/PID/fd, mem and
 * environ, and finding an ancestor of its own uid all fail (each says hello,
 * and so scores, only if it worked). */
HOSTILE(signals_the_judge, 21, "killjudge", "expected 'hello' on stdout, got ''")
HOSTILE(reads_the_judges_fds, 22, "judgefds", "expected 'hello' on stdout, got ''")
HOSTILE(shares_a_uid_with_the_judge, 23, "sameuid", "expected 'hello' on stdout, got ''")
/* `int` and `main(` on two lines is a program, and full marks. */
HOSTILE(split_main_is_a_program, 15, "splitmain", "PASS", .score = "total 1/1")

Test(hostile_bwrap, deletes_tests_by_relative_paths, .timeout = 90)
{
    static const struct hostile h = {.name = "rmtree", .expect = "PASS", .score = ""};
    grade_hostile("bwrap", 62010, &h);
}

Test(hostile_uid, deletes_tests_by_relative_paths, .timeout = 90)
{
    /* Without namespaces only the drop to the sandbox uid (as root) stops
     * "../../tests": a grader run by the files' owner cannot. */
    if (geteuid() != 0)
        cr_skip_test("needs root: in the uid fallback, the sandbox uid is what protects files");
    static const struct hostile h = {.name = "rmtree", .expect = "PASS", .score = ""};
    grade_hostile("uid", 62110, &h);
}

/* Leftovers in /tmp, /var/tmp, /dev/shm and SysV shared memory. */
static void no_leftovers(const char *mode, int uid)
{
    const char *paths[] = {"/tmp/evlab-leftover", "/var/tmp/evlab-leftover",
                           "/dev/shm/evlab-leftover"};
    for (int i = 0; i < 3; i++)
        unlink(paths[i]);
    static const struct hostile h = {.name = "leftovers", .expect = "00-hostile"};
    grade_hostile(mode, uid, &h);
    for (int i = 0; i < 3; i++)
        cr_assert_neq(access(paths[i], F_OK), 0, "%s outlived the run", paths[i]);
    /* key 0x45564c42 in decimal */
    cr_assert_neq(sh("grep -q '^ *1163283522 ' /proc/sysvipc/shm"), 0,
                  "the SysV segment outlived the run");
}

Test(hostile_bwrap, leaves_files_and_shm, .timeout = 90) { no_leftovers("bwrap", 62016); }

Test(hostile_uid, leaves_files_and_shm, .timeout = 90)
{
    if (geteuid() != 0)
        cr_skip_test("needs root: the uid fallback sweeps a job uid's files, never the user's own");
    no_leftovers("uid", 62116);
}

/* A solution reached by absolute path: #include at compile time, exec at run
 * time. The decoy course's solutions/ is where an instructor keeps it: in the
 * uid fallback that must be a folder other users cannot read (mode 0700). */
static void solution_sources(const char *tmpl, bool bwrap)
{
    cr_assert_eq(sh("cd %s/solutions && printf '#include <stdio.h>\\nint main(void) { "
                    "puts(\"hello\"); return 0; }\\n' > hello.c && cc -o hello hello.c && "
                    "chmod %s %s/solutions",
                    tmpl, bwrap ? "755" : "700", tmpl),
                 0);
}

static void include_solution(const char *tmpl, const char *sub, bool bwrap)
{
    solution_sources(tmpl, bwrap);
    cr_assert_eq(sh("mkdir -p %s/00-hostile && printf '/* int main( */\\n#include \"%s/solutions/"
                    "hello.c\"\\n' > %s/00-hostile/hostile.c",
                    sub, tmpl, sub),
                 0);
}

static void exec_solution(const char *tmpl, const char *sub, bool bwrap)
{
    solution_sources(tmpl, bwrap);
    cr_assert_eq(sh("mkdir -p %s/00-hostile && printf '#include <unistd.h>\\nint main(void) { "
                    "execl(\"%s/solutions/hello\", \"hello\", (char *)0); return 1; }\\n' > "
                    "%s/00-hostile/hostile.c",
                    sub, tmpl, sub),
                 0);
}

HOSTILE(includes_a_solution_by_absolute_path, 17, "include-solution", "00-hostile",
        .make_sub = include_solution)
HOSTILE(execs_a_solution_by_absolute_path, 18, "exec-solution", "00-hostile",
        .make_sub = exec_solution)

/* 1 GiB (sparse) and 100,000 files in one upload: capped, never copied whole. */
static void huge_upload(const char *tmpl, const char *sub, bool bwrap)
{
    (void)tmpl;
    (void)bwrap;
    cr_assert_eq(sh("mkdir -p %s/00-hostile && printf 'int main(void) { return 1; }\\n' > "
                    "%s/00-hostile/hostile.c && truncate -s 1G %s/00-hostile/huge.c",
                    sub, sub, sub),
                 0);
    char *dir = xfmt("%s/00-hostile", sub);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    cr_assert(dfd >= 0);
    for (int i = 0; i < 100000; i++) {
        char n[32];
        snprintf(n, sizeof n, "f%06d.h", i);
        int fd = openat(dfd, n, O_WRONLY | O_CREAT, 0644);
        cr_assert(fd >= 0, "creating %s", n);
        close(fd);
    }
    close(dfd);
    free(dir);
}

HOSTILE(one_gib_and_100000_files, 19, "huge", "00-hostile", .make_sub = huge_upload)

/* The build's own limits: a compiler fed /dev/zero stops at its memory cap. */
static void include_dev_zero(const char *tmpl, const char *sub, bool bwrap)
{
    (void)tmpl;
    (void)bwrap;
    cr_assert_eq(sh("mkdir -p %s/00-hostile && printf '#include \"/dev/zero\"\\nint main(void) "
                    "{ return 0; }\\n' > %s/00-hostile/hostile.c",
                    sub, sub),
                 0);
}

HOSTILE(includes_dev_zero, 20, "dev-zero", "the compiler ran out of memory",
        .make_sub = include_dev_zero)
