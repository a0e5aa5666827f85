/* sandbox.c -- where `evlab grade` builds and runs a submission.
 *
 * Two modes, chosen once per grading run (EVLAB_SANDBOX=bwrap|uid forces one):
 *
 * bwrap  bubblewrap gives every command its own user, mount, PID, network
 *        (loopback only), IPC, UTS and cgroup namespaces. The command sees,
 *        read-only, the system directories (/usr, /etc and the /bin, /lib
 *        links) and the paths it is given; /tmp, /var/tmp and /dev/shm are
 *        private tmpfs mounts with a size cap that vanish with it. When the
 *        namespace's first process ends, every process in it ends.
 * uid    where namespaces are not allowed (some containers): the command runs
 *        as this job's own uid (when we are root) with rlimits, in its own
 *        process group, under our subreaper sweep; afterwards everything of
 *        that uid is killed and its files in /tmp, /var/tmp, /dev/shm and its
 *        SysV IPC objects are removed.
 *
 * Run as root, each job takes a uid of its own from a pool (60600-61099,
 * claimed with a lock under /run/evlab), so concurrent jobs (grade-class -j)
 * never share a uid: not for kill(-1), ptrace, /proc, process limits or files.
 * The job's files live in a fresh root-owned directory (mode 0711); only the
 * directories the job must write are given to its uid.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evlab.h"
#include "grade.h"

/* Between systemd-homed's range (60001-60513) and DynamicUser's (61184-65519);
 * a uid that has an account (getpwuid) is skipped. */
#define UID_POOL_FIRST 60600
#define UID_POOL_LAST 61099
#define TMPFS_BYTES "67108864" /* 64 MiB for each private tmpfs */

const char *sandbox_mode_name(enum sb_mode m)
{
    return m == SB_BWRAP ? "bwrap" : m == SB_UID ? "uid" : "none";
}

void sandbox_describe(const struct sandbox *sb, struct buf *b)
{
    if (sb->mode == SB_BWRAP)
        buf_printf(b, "bwrap (own user, mount, PID, network, IPC and UTS namespaces; private /tmp; "
                      "system directories read-only)");
    else if (sb->mode == SB_UID)
        buf_printf(b, "uid fallback (no namespaces: rlimits, process group and subreaper)");
    else
        buf_printf(b, "none (your own working tree)");
    if (sb->root)
        buf_printf(b, ", job uid %d", (int)sb->uid);
}

/* A run of `bwrap ... true` as the job's uid: can we have namespaces here? */
static bool bwrap_works(const struct sandbox *sb)
{
    if (!in_path("bwrap"))
        return false;
    const char *argv[] = {"bwrap",
                          "--unshare-all",
                          "--die-with-parent",
                          "--ro-bind",
                          "/",
                          "/",
                          "--proc",
                          "/proc",
                          "true",
                          NULL};
    struct proc_spec s = {.argv = argv,
                          .capture = true,
                          .cap_bytes = 4096,
                          .stdin_null = true,
                          .own_pgrp = true,
                          .timeout_s = 20,
                          .drop = sb->root,
                          .uid = sb->uid,
                          .gid = sb->gid};
    struct proc_result r;
    bool ok = proc_run(&s, &r) == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
    proc_result_free(&r);
    return ok;
}

enum sb_mode sandbox_probe(const struct sandbox *sb)
{
    const char *want = getenv("EVLAB_SANDBOX");
    if (want && strcmp(want, "uid") == 0)
        return SB_UID;
    if (want && strcmp(want, "bwrap") == 0)
        return SB_BWRAP; /* forced: a failure then shows in every run */
    return bwrap_works(sb) ? SB_BWRAP : SB_UID;
}

/* A root-owned folder for the pool's locks that no other user can write. */
static const char *lock_dir(void)
{
    static const char *const dirs[] = {"/run/evlab", "/var/lib/evlab", "/var/tmp/evlab-uids"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        if (mkdir(dirs[i], 0700) != 0 && errno != EEXIST)
            continue;
        struct stat st;
        if (lstat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
            !(st.st_mode & 0022))
            return dirs[i];
    }
    return NULL;
}

/* Claim a uid of the pool (or `want`) with an exclusive lock held until exit. */
static int claim_uid(uid_t want, uid_t *out)
{
    const char *dir = lock_dir();
    if (!dir)
        return -1;
    for (uid_t u = want ? want : UID_POOL_FIRST; u <= (want ? want : UID_POOL_LAST); u++) {
        if (!want && getpwuid(u))
            continue;
        char path[128];
        snprintf(path, sizeof path, "%s/uid-%d.lock", dir, (int)u);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *out = u;
            return fd;
        }
        close(fd);
    }
    return -1;
}

int sandbox_open(struct sandbox *sb, uid_t want_uid)
{
    memset(sb, 0, sizeof *sb);
    sb->uid_lock = -1;
    sb->top_fd = -1;
    sb->root = geteuid() == 0;
    if (sb->root) {
        sb->uid_lock = claim_uid(want_uid, &sb->uid);
        if (sb->uid_lock < 0)
            return err2("no free sandbox uid (%s): is another grader using it?",
                        want_uid ? "the one given with --uid" : "60600-61099");
        sb->gid = (gid_t)sb->uid;
    } else {
        sb->uid = getuid();
        sb->gid = getgid();
    }
    const char *tmpdir = getenv("TMPDIR");
    sb->top = xasprintf("%s/evlab-grade-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(sb->top)) {
        int e = errno;
        free(sb->top);
        sb->top = NULL;
        return err2("cannot create a temporary directory: %s", strerror(e));
    }
    chmod(sb->top, 0711);
    sb->top_fd = open(sb->top, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sb->top_fd < 0)
        return err2("cannot open %s: %s", sb->top, strerror(errno));
    sb->mode = sandbox_probe(sb);
    return 0;
}

char *sandbox_mkdir(struct sandbox *sb, const char *name, bool for_job, int *fd_out)
{
    if (mkdirat(sb->top_fd, name, for_job ? 0700 : 0755) != 0)
        return NULL;
    int fd = openat(sb->top_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (for_job && sb->root && fchown(fd, sb->uid, sb->gid) != 0) {
        close(fd);
        return NULL;
    }
    if (!for_job)
        fchmod(fd, 0755);
    if (fd_out)
        *fd_out = fd;
    else
        close(fd);
    return xasprintf("%s/%s", sb->top, name);
}

/* ---- copying in: never following a link, regular files only, capped ---------------- */

static bool wanted_name(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && l > 2 && l < 128 && n[l - 2] == '.' &&
           (n[l - 1] == 'c' || n[l - 1] == 'h');
}

int sandbox_copy_in(struct sandbox *sb, int src_fd, int dst_fd, struct buf *notes)
{
    int dfd = dup(src_fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    int count = 0, skipped = 0;
    size_t total = 0;
    long seen = 0;
    struct dirent *de;
    char buf[65536];
    while ((de = readdir(d))) {
        if (++seen > SB_MAX_ENTRIES) {
            buf_printf(notes,
                       "the submission folder has more than %d entries; the rest were "
                       "not looked at\n",
                       SB_MAX_ENTRIES);
            break;
        }
        if (!wanted_name(de->d_name))
            continue;
        if (count >= SB_MAX_FILES) {
            if (skipped++ == 0)
                buf_printf(notes, "only the first %d .c/.h files of the submission were copied\n",
                           SB_MAX_FILES);
            continue;
        }
        int in = openat(src_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SB_MAX_FILE ||
            total + (size_t)st.st_size > SB_MAX_TOTAL) {
            if (skipped++ < 5)
                buf_printf(notes,
                           "%s was not copied (not a regular file, or over the limits: "
                           "%d files of at most %d KiB, %d KiB in all)\n",
                           de->d_name, SB_MAX_FILES, SB_MAX_FILE / 1024, SB_MAX_TOTAL / 1024);
            if (in >= 0)
                close(in);
            continue;
        }
        int out =
            openat(dst_fd, de->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (out < 0) {
            close(in);
            continue;
        }
        size_t copied = 0;
        ssize_t n;
        while (copied <= (size_t)SB_MAX_FILE && (n = read(in, buf, sizeof buf)) > 0) {
            if (write(out, buf, (size_t)n) != n)
                break;
            copied += (size_t)n;
        }
        if (sb->root)
            fchown(out, sb->uid, sb->gid);
        close(out);
        close(in);
        total += copied;
        count++;
    }
    closedir(d);
    return count;
}

/* ---- running a command ------------------------------------------------------------------ */

static void add(const char ***v, int *n, int *cap, const char *s)
{
    if (*n + 2 > *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = realloc(*v, sizeof **v * (size_t)*cap);
    }
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

/* /bin, /lib ... are links into /usr on a merged-/usr system, directories elsewhere. */
static void system_dirs(const char ***v, int *n, int *cap, char **keep, int *nkeep)
{
    add(v, n, cap, "--ro-bind");
    add(v, n, cap, "/usr");
    add(v, n, cap, "/usr");
    add(v, n, cap, "--ro-bind");
    add(v, n, cap, "/etc");
    add(v, n, cap, "/etc");
    static const char *const top[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++) {
        struct stat st;
        if (lstat(top[i], &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            char t[256];
            ssize_t l = readlink(top[i], t, sizeof t - 1);
            if (l <= 0)
                continue;
            t[l] = '\0';
            keep[(*nkeep)++] = strdup(t);
            add(v, n, cap, "--symlink");
            add(v, n, cap, keep[*nkeep - 1]);
            add(v, n, cap, top[i]);
        } else if (S_ISDIR(st.st_mode)) {
            add(v, n, cap, "--ro-bind");
            add(v, n, cap, top[i]);
            add(v, n, cap, top[i]);
        }
    }
}

int sandbox_run(struct sandbox *sb, const struct sb_cmd *c, struct proc_result *r)
{
    const char **v = NULL;
    int n = 0, cap = 0;
    char *keep[8];
    int nkeep = 0;
    if (sb->mode == SB_BWRAP) {
        static const char *const opts[] = {"bwrap",
                                           "--unshare-all",
                                           "--die-with-parent",
                                           "--new-session",
                                           "--cap-drop",
                                           "ALL",
                                           "--hostname",
                                           "evlab",
                                           "--proc",
                                           "/proc",
                                           "--dev",
                                           "/dev",
                                           NULL};
        for (int i = 0; opts[i]; i++)
            add(&v, &n, &cap, opts[i]);
        system_dirs(&v, &n, &cap, keep, &nkeep);
        static const char *const tmps[] = {"/tmp", "/var/tmp", "/dev/shm", NULL};
        for (int i = 0; tmps[i]; i++) {
            add(&v, &n, &cap, "--size");
            add(&v, &n, &cap, TMPFS_BYTES);
            add(&v, &n, &cap, "--tmpfs");
            add(&v, &n, &cap, tmps[i]);
        }
        for (int i = 0; c->ro && c->ro[i]; i++) {
            add(&v, &n, &cap, "--ro-bind");
            add(&v, &n, &cap, c->ro[i]);
            add(&v, &n, &cap, c->ro[i]);
        }
        for (int i = 0; c->rw && c->rw[i]; i++) {
            add(&v, &n, &cap, "--bind");
            add(&v, &n, &cap, c->rw[i]);
            add(&v, &n, &cap, c->rw[i]);
        }
        if (c->cwd) {
            add(&v, &n, &cap, "--chdir");
            add(&v, &n, &cap, c->cwd);
        }
        add(&v, &n, &cap, "--");
    }
    for (int i = 0; c->argv[i]; i++)
        add(&v, &n, &cap, c->argv[i]);
    struct proc_spec s = {.argv = v,
                          .env = c->env,
                          .cwd = sb->mode == SB_BWRAP ? NULL : c->cwd,
                          .timeout_s = c->timeout_s,
                          .capture = true,
                          .cap_bytes = c->cap_bytes,
                          .own_pgrp = true,
                          .stdin_null = true,
                          .sweep = true,
                          .lim = c->lim,
                          .drop = sb->root,
                          .uid = sb->uid,
                          .gid = sb->gid,
                          .report = c->report,
                          .report_cap = c->report_cap};
    int rc = proc_run(&s, r);
    if (r->interrupted)
        sb->interrupted = true;
    /* With namespaces the sweep may catch bwrap's own init, which outlives the
     * command by a moment: not a stray. Everything in the namespace is gone. */
    if (sb->mode == SB_BWRAP)
        r->strays = 0;
    sandbox_kill(sb);
    free(v);
    for (int i = 0; i < nkeep; i++)
        free(keep[i]);
    return rc;
}

/* Everything of the job's uid ends (a uid of our own: nobody else's). */
void sandbox_kill(struct sandbox *sb)
{
    if (!sb->root)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) == 0 && setgid(sb->gid) == 0 && setuid(sb->uid) == 0)
            kill(-1, SIGKILL);
        _exit(0);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    sweep_children();
}

/* ---- cleaning up: never following a link --------------------------------------------------- */

static void rm_at(int dirfd, const char *name, int depth)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        unlinkat(dirfd, name, 0);
        return;
    }
    DIR *d = fdopendir(fd);
    if (d && depth < 64) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                rm_at(fd, de->d_name, depth + 1);
    }
    if (d)
        closedir(d);
    else
        close(fd);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* What the uid fallback cannot keep private: the job uid's files at the top of
 * the shared temporary folders, and its SysV IPC objects. */
static void sweep_shared(const struct sandbox *sb)
{
    static const char *const dirs[] = {"/tmp", "/var/tmp", "/dev/shm"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        int fd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        struct dirent *de;
        struct stat st;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
                fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == sb->uid)
                rm_at(fd, de->d_name, 0);
        closedir(d);
    }
    static const char *const ipc[] = {"/proc/sysvipc/shm", "/proc/sysvipc/sem",
                                      "/proc/sysvipc/msg"};
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(ipc[k], "re");
        char line[512];
        if (!f)
            continue;
        if (!fgets(line, sizeof line, f)) { /* the header */
            fclose(f);
            continue;
        }
        while (fgets(line, sizeof line, f)) {
            /* shm: key shmid perms size cpid lpid nattch uid ...; sem: key semid perms
             * nsems uid ...; msg: key msqid perms cbytes qnum lspid lrpid uid ... */
            int want = k == 1 ? 5 : 8;
            long id = -1;
            unsigned long uid = (unsigned long)-1;
            char *save = NULL;
            int i = 1;
            for (char *tok = strtok_r(line, " \t", &save); tok;
                 tok = strtok_r(NULL, " \t", &save), i++) {
                if (i == 2)
                    id = atol(tok);
                if (i == want)
                    uid = strtoul(tok, NULL, 10);
            }
            if (uid != sb->uid)
                continue;
            if (k == 0)
                shmctl((int)id, IPC_RMID, NULL);
            else if (k == 1)
                semctl((int)id, 0, IPC_RMID);
            else
                msgctl((int)id, IPC_RMID, NULL);
        }
        fclose(f);
    }
}

void sandbox_close(struct sandbox *sb)
{
    sandbox_kill(sb);
    if (sb->root && sb->mode == SB_UID)
        sweep_shared(sb);
    if (sb->top_fd >= 0)
        close(sb->top_fd);
    if (sb->top) {
        char *slash = strrchr(sb->top, '/');
        char *parent = strndup(sb->top, (size_t)(slash - sb->top));
        int pfd = open(*parent ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd >= 0) {
            rm_at(pfd, slash + 1, 0);
            close(pfd);
        }
        free(parent);
    }
    if (sb->uid_lock >= 0)
        close(sb->uid_lock);
    free(sb->top);
    sb->top = NULL;
    sb->top_fd = sb->uid_lock = -1;
}
