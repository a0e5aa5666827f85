/* hostile.c -- the grader's sandbox against tests/hostile/: every hostile
 * submission is graded by `evlab grade` with the tiny suite
 * build/tests/hostile/suites/00-hostile. For each one:
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

static void grade_hostile(const char *name, int uid, const char *expect, const char *expect2,
                          const char *reject)
{
    char tmpl[] = "/tmp/evlab-hostile-XXXXXX";
    cr_assert(mkdtemp(tmpl));
    /* Decoys where ../tests, ../../solutions ... from the sandbox copy lead. */
    cr_assert_eq(sh("cd %s && mkdir -p tests solutions exercises && echo keep > tests/t && "
                    "echo keep > solutions/s && echo keep > exercises/e && chmod 755 %s",
                    tmpl, tmpl),
                 0);
    char *sub = xfmt("tests/hostile/%s", name);
    char *dirs = xfmt("%s %s/tests %s/solutions %s/exercises", sub, tmpl, tmpl, tmpl);
    char *before = snapshot(dirs);
    char *tmpdir = xfmt("TMPDIR=%s", tmpl);
    char uidarg[16];
    snprintf(uidarg, sizeof uidarg, "%d", uid);
    char suites[4096];
    snprintf(suites, sizeof suites, "%s", evt_prog("tests/hostile/suites"));

    double t0 = evt_now();
    struct evt_run r = evlab(NULL, EVT_ENV(tmpdir), "grade", "--suites", suites, "--submission",
                             sub, "--suite-timeout", "10", "--mem", "512", "--uid", uidarg, NULL);
    double took = evt_now() - t0;

    cr_assert_eq(r.exit_code, 0, "the grader itself failed (%d): %s", r.exit_code, r.err);
    /* 10 s suite limit + the build + clean-up; a grader that waited on a hung
     * child would take the evlab run's own timeout instead. */
    cr_assert_lt(took, 45.0, "the grader took %.1f s (suite limit 10 s)", took);
    cr_assert(strstr(r.out, "total 0/1") || !strcmp(name, "daemon") || !strcmp(name, "rmtree"),
              "%s must not score:\n%s", name, r.out);
    cr_assert(strstr(r.out, expect), "%s: expected '%s' in the report:\n%s", name, expect, r.out);
    if (expect2)
        cr_assert(strstr(r.out, expect2), "%s: expected '%s':\n%s", name, expect2, r.out);
    if (reject)
        cr_assert(!strstr(r.out, reject), "%s: '%s' is the wrong reason:\n%s", name, reject, r.out);

    char what[4200] = "";
    int left = survivors(tmpl, geteuid() == 0 ? uid : -1, what, sizeof what);
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
}

/* Distinct sandbox uids (unassigned numbers, no account is created) keep
 * the parallel tests' final kill(-1) from reaching each other. */
Test(hostile, infinite_loop, .timeout = 60)
{
    grade_hostile("loop", 62001, "TIMEOUT", "timed out after", NULL);
}

Test(hostile, ignores_sigterm, .timeout = 60)
{
    grade_hostile("ignore-term", 62002, "TIMEOUT", "timed out after", NULL);
}

Test(hostile, swarm_of_children, .timeout = 60)
{
    grade_hostile("swarm", 62003, "TIMEOUT", "stray processes were still running", NULL);
}

Test(hostile, setsid_double_fork_daemon, .timeout = 60)
{
    grade_hostile("daemon", 62004, "stray process was still running", NULL, NULL);
}

Test(hostile, memory_hog, .timeout = 60)
{
    grade_hostile("memhog", 62005, "FAIL", NULL, "TIMEOUT");
}

Test(hostile, output_flood, .timeout = 60)
{
    grade_hostile("flood", 62006, "output truncated after 65536 bytes", NULL, NULL);
}

Test(hostile, segfault, .timeout = 60)
{
    grade_hostile("segv", 62007, "killed by signal 11 (SIGSEGV)", NULL, NULL);
}

Test(hostile, kills_parent_and_group, .timeout = 60)
{
    grade_hostile("killparent", 62008, "signal 9", NULL, "PASS");
}

Test(hostile, closes_all_fds, .timeout = 60)
{
    grade_hostile("closefds", 62009, "expected 'hello' on stdout, got ''", NULL, NULL);
}

Test(hostile, deletes_tests_by_relative_paths, .timeout = 60)
{
    /* Only the drop to the sandbox uid (as root) stops "../../tests"; a
     * grader run by the files' owner cannot (no Landlock/namespaces yet). */
    if (geteuid() != 0)
        cr_skip_test("needs root: the sandbox uid is what protects files outside the copy");
    grade_hostile("rmtree", 62010, "PASS", NULL, NULL);
}

Test(hostile, does_not_compile, .timeout = 60)
{
    grade_hostile("nocompile", 62011, "does not compile", "hostile.c:4:", NULL);
}
