/* evtrace_grading.h -- for a grading suite: record a server it starts, and
 * name the callback that stalled its loop in one line. Header-only.
 *
 *   struct evtrace_job tj;
 *   evtrace_begin(&tj, "build");                 // EVLAB_BUILD: has evtrace.so and evlab
 *   const char *env[] = {tj.preload, tj.file, NULL};
 *   evt_spawn(&server, argv, env);               // the server runs recorded
 *   ... the stall test fails ...
 *   char why[512];
 *   if (evtrace_explain(&tj, server.pid, why, sizeof why))
 *       cr_fail("the heartbeat stopped: %s", why);  // "on_accept (fd 6) held the loop ..."
 *   evtrace_end(&tj);
 *
 * evtrace_explain() works on a server that is still running (even one whose
 * loop hangs: the recorder writes a snapshot when PREFIX.req appears) and on
 * one that has exited. It runs `evlab trace --stall-line`, from an argument
 * list, never a shell. A server run under ASan cannot take the preload (ASan
 * must come first); trace the plain build.
 */
#ifndef EVTRACE_GRADING_H
#define EVTRACE_GRADING_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct evtrace_job {
    char dir[64];       /* private directory for the recordings */
    char preload[1100]; /* "LD_PRELOAD=/abs/build/evtrace.so" */
    char file[128];     /* "EVTRACE_FILE=DIR/rec" */
    char evlab[1100];   /* /abs/build/evlab */
};

static inline bool evtrace_begin(struct evtrace_job *j, const char *build)
{
    char cwd[1024];
    memset(j, 0, sizeof *j);
    if (!getcwd(cwd, sizeof cwd))
        return false;
    const char *sep = build[0] == '/' ? "" : "/";
    snprintf(j->preload, sizeof j->preload, "LD_PRELOAD=%s%s%s/evtrace.so",
             build[0] == '/' ? "" : cwd, sep, build);
    snprintf(j->evlab, sizeof j->evlab, "%s%s%s/evlab", build[0] == '/' ? "" : cwd, sep, build);
    snprintf(j->dir, sizeof j->dir, "/tmp/evtrace-grade-XXXXXX");
    if (!mkdtemp(j->dir))
        return false;
    snprintf(j->file, sizeof j->file, "EVTRACE_FILE=%s/rec", j->dir);
    return access(j->preload + strlen("LD_PRELOAD="), R_OK) == 0;
}

/* The worst stall of process `pid`, in one line, into `out`. Returns true
 * when there was one; false (and "" in out) when none was recorded. */
static inline bool evtrace_explain(struct evtrace_job *j, pid_t pid, char *out, size_t len)
{
    char rec[160], req[160];
    struct stat st;
    out[0] = '\0';
    snprintf(rec, sizeof rec, "%s/rec.%d", j->dir, (int)pid);
    snprintf(req, sizeof req, "%s/rec.req", j->dir);
    if (kill(pid, 0) == 0) { /* still running: ask for a snapshot, wait up to 2 s */
        unlink(rec);
        int fd = open(req, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
        for (int i = 0; i < 200 && (stat(rec, &st) != 0 || access(req, F_OK) == 0); i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        /* the file is complete once its size stops changing */
        for (off_t last = -1; stat(rec, &st) == 0 && st.st_size != last;) {
            last = st.st_size;
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (stat(rec, &st) != 0)
        return false;
    int p[2];
    if (pipe(p) != 0)
        return false;
    pid_t c = fork();
    if (c == 0) {
        dup2(p[1], STDOUT_FILENO);
        close(p[0]);
        close(p[1]);
        execl(j->evlab, j->evlab, "trace", "--stall-line", rec, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (c > 0 && n + 1 < len && (r = read(p[0], out + n, len - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(p[0]);
    int status = 0;
    if (c > 0)
        waitpid(c, &status, 0);
    out[strcspn(out, "\n")] = '\0';
    return c > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 3 && out[0];
}

static inline void evtrace_end(struct evtrace_job *j)
{
    char path[160];
    if (!j->dir[0])
        return;
    snprintf(path, sizeof path, "%s/rec.req", j->dir);
    unlink(path);
    char cmd_dir[80];
    snprintf(cmd_dir, sizeof cmd_dir, "%s", j->dir);
    pid_t c = fork();
    if (c == 0) {
        execl("/bin/rm", "rm", "-rf", cmd_dir, (char *)NULL);
        _exit(127);
    }
    if (c > 0)
        waitpid(c, NULL, 0);
    j->dir[0] = '\0';
}

#endif
