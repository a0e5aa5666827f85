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
 *        as this job's own uids (when we are root) with rlimits, in its own
 *        process group, under our subreaper sweep; afterwards everything of
 *        those uids is killed and their files in /tmp, /var/tmp, /dev/shm and
 *        their SysV IPC objects are removed.
 *
 * Two uids per job: the judge's and the student's. Run as root, each job
 * takes a judge uid from a pool (60600-60849, claimed with a lock under
 * /run/evlab) and the student uid 250 above it, so concurrent jobs
 * (grade-class -j) never share a uid: not for kill(-1), ptrace, /proc,
 * process limits or files. The grading suite (the judge) runs as the judge
 * uid; the build, and every program the suite starts, run as the student uid
 * (tests/support/evtest.c drops each child before exec: setgroups, setresgid,
 * setresuid, no capabilities, no_new_privs). The student's code therefore
 * cannot signal, ptrace or read the judge's /proc/PID/fd or mem, and the
 * verdict is a pipe only the judge holds.
 *
 * Why this way. The judge must start children as another uid, signal them
 * and read their /proc/PID/fd: it holds CAP_SETUID, CAP_SETGID, CAP_KILL,
 * CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH and CAP_DAC_OVERRIDE (only KILL
 * effective; evtest.c raises the rest for a moment, never for a path the
 * student could have planted a link at). A privileged launcher process was the other
 * choice: it would have to hand the suite pids, pipes and signals by proxy,
 * and every suite would change. An unprivileged bwrap maps one uid only, so
 * in bwrap mode the grader (root) makes the user namespace itself: owned by
 * the judge uid and mapping exactly the two uids, which root may write and an
 * unprivileged process may not; bwrap, still run as the judge, joins it with
 * --userns and gives the suite its capabilities there with --cap-add. They
 * then reach only those two uids' processes and files: nothing outside. In
 * the uid fallback the capabilities are ambient ones in the host's namespace,
 * and CAP_SETUID there is as good as root; that holds only because the judge
 * is the course's code, never runs the student's code with a capability (a
 * function-level exercise's test process gives up all of them, for good,
 * before it loads the .so) and never trusts a file the student wrote. The build and
 * the test listing keep the plain unprivileged bwrap (one uid each).
 * Run by a user other than root there is one uid for both: no such wall.
 *
 * The job's files live in a fresh root-owned directory (mode 0711); the
 * student's folders are the student's (with the judge's group, 0750), the
 * judge's temporary folder the judge's (0700).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
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
#define UID_POOL_LAST 60849
#define STUDENT_UID_OFFSET 250 /* the student's uid: the judge's + 250 (60850-61099) */
/* The judge's capabilities: to become the student uid in a child (SETUID,
 * SETGID), to signal the student's processes (KILL), to look at them in
 * /proc (SYS_PTRACE, DAC_READ_SEARCH) and to open a FIFO a program made
 * with mode 0600 (DAC_OVERRIDE, evt_open_fifo). The suite keeps only KILL effective
 * (tests/support/report.c); evtest.c raises the others where it needs them. */
#define JUDGE_CAPS                                                                                 \
    ((1ULL << 7) | (1ULL << 6) | (1ULL << 5) | (1ULL << 19) | (1ULL << 2) | (1ULL << 1))
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
        buf_printf(b, ", judge uid %d, student uid %d", (int)sb->uid, (int)sb->suid);
    else if (sb->mode != SB_NONE)
        buf_printf(b, ", judge and student share uid %d (not run as root)", (int)sb->uid);
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

/* A user namespace owned by the judge's uid that maps the judge's and the
 * student's uids (and gids) to themselves: root may write such a map, an
 * unprivileged bwrap may not. bwrap, run as the judge, joins it (--userns)
 * and gives the suite its capabilities there, and only there. An fd, or -1. */
static int make_userns(const struct sandbox *sb)
{
    int ready[2], go[2];
    if (pipe2(ready, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(go, O_CLOEXEC) != 0) {
        close(ready[0]);
        close(ready[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        char c = 'x';
        close(go[1]); /* else the read below would never see the end */
        close(ready[0]);
        if (setgroups(0, NULL) == 0 && setresgid(sb->gid, sb->gid, sb->gid) == 0 &&
            setresuid(sb->uid, sb->uid, sb->uid) == 0 && unshare(CLONE_NEWUSER) == 0 &&
            write(ready[1], &c, 1) == 1)
            (void)!read(go[0], &c, 1);
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    int fd = -1;
    char c;
    if (pid > 0 && read(ready[0], &c, 1) == 1) {
        char map[96], path[64];
        snprintf(map, sizeof map, "%d %d 1\n%d %d 1\n", (int)sb->uid, (int)sb->uid, (int)sb->suid,
                 (int)sb->suid);
        bool ok = true;
        static const char *const files[] = {"uid_map", "gid_map"};
        for (int i = 0; i < 2 && ok; i++) {
            snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, files[i]);
            int m = open(path, O_WRONLY | O_CLOEXEC);
            ok = m >= 0 && write(m, map, strlen(map)) == (ssize_t)strlen(map);
            if (m >= 0)
                close(m);
        }
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        if (ok)
            fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    close(ready[0]);
    close(go[1]); /* the helper ends; the fd keeps the namespace */
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return fd;
}

int sandbox_open(struct sandbox *sb, uid_t want_uid)
{
    memset(sb, 0, sizeof *sb);
    sb->uid_lock = sb->suid_lock = sb->userns_fd = -1;
    sb->top_fd = -1;
    sb->root = geteuid() == 0;
    if (sb->root) {
        /* The judge's uid from the pool's first half; the student's is 250 above. */
        for (uid_t u = want_uid ? want_uid : UID_POOL_FIRST;
             u <= (want_uid ? want_uid : UID_POOL_LAST) && sb->suid_lock < 0; u++) {
            if (!want_uid && (getpwuid(u) || getpwuid(u + STUDENT_UID_OFFSET)))
                continue;
            sb->uid_lock = claim_uid(u, &sb->uid);
            if (sb->uid_lock < 0)
                continue;
            sb->suid_lock = claim_uid(u + STUDENT_UID_OFFSET, &sb->suid);
            if (sb->suid_lock < 0) {
                close(sb->uid_lock);
                sb->uid_lock = -1;
            }
        }
        if (sb->suid_lock < 0)
            return err2("no free sandbox uids (%s): is another grader using them?",
                        want_uid ? "the one given with --uid, and 250 above it"
                                 : "60600-60849 and 250 above");
        sb->gid = (gid_t)sb->uid;
        sb->sgid = (gid_t)sb->suid;
    } else {
        sb->uid = sb->suid = getuid();
        sb->gid = sb->sgid = getgid();
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
    if (sb->mode == SB_BWRAP && sb->root && (sb->userns_fd = make_userns(sb)) < 0)
        return err2("cannot make the sandbox's user namespace for uids %d and %d: %s", (int)sb->uid,
                    (int)sb->suid, strerror(errno));
    return 0;
}

char *sandbox_mkdir(struct sandbox *sb, const char *name, enum sb_owner owner, int *fd_out)
{
    mode_t mode = owner == SB_OWN_ROOT ? 0755 : owner == SB_OWN_JUDGE ? 0700 : 0750;
    if (mkdirat(sb->top_fd, name, 0700) != 0)
        return NULL;
    int fd = openat(sb->top_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (owner != SB_OWN_ROOT && sb->root &&
        fchown(fd, owner == SB_OWN_JUDGE ? sb->uid : sb->suid, sb->gid) != 0) {
        close(fd);
        return NULL;
    }
    fchmod(fd, mode);
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
            fchown(out, sb->suid, sb->gid);
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
    char *keep[48];
    int nkeep = 0;
    /* The judge in the namespace that maps both uids, with its capabilities
     * there; everything else (list, build) unprivileged in a namespace of its own. */
    bool judge_ns = c->judge && sb->userns_fd >= 0;
    char nsfd[16], uidv[16], gidv[16], suid[40], sgid[40];
    snprintf(nsfd, sizeof nsfd, "%d", sb->userns_fd);
    snprintf(uidv, sizeof uidv, "%d", (int)sb->uid);
    snprintf(gidv, sizeof gidv, "%d", (int)sb->gid);
    if (sb->mode == SB_BWRAP) {
        static const char *const all[] = {"--unshare-all", "--cap-drop", "ALL", NULL};
        static const char *const ns[] = {"--unshare-ipc",
                                         "--unshare-pid",
                                         "--unshare-net",
                                         "--unshare-uts",
                                         "--unshare-cgroup-try",
                                         "--cap-add",
                                         "CAP_SETUID",
                                         "--cap-add",
                                         "CAP_SETGID",
                                         "--cap-add",
                                         "CAP_KILL",
                                         "--cap-add",
                                         "CAP_SYS_PTRACE",
                                         "--cap-add",
                                         "CAP_DAC_READ_SEARCH",
                                         "--cap-add",
                                         "CAP_DAC_OVERRIDE",
                                         NULL};
        static const char *const opts[] = {"--die-with-parent",
                                           "--new-session",
                                           "--hostname",
                                           "evlab",
                                           "--proc",
                                           "/proc",
                                           "--dev",
                                           "/dev",
                                           NULL};
        add(&v, &n, &cap, "bwrap");
        if (judge_ns) {
            const char *u[] = {"--userns", nsfd, "--uid", uidv, "--gid", gidv, NULL};
            for (int i = 0; u[i]; i++)
                add(&v, &n, &cap, u[i]);
        }
        for (int i = 0; (judge_ns ? ns : all)[i]; i++)
            add(&v, &n, &cap, (judge_ns ? ns : all)[i]);
        for (int i = 0; opts[i]; i++)
            add(&v, &n, &cap, opts[i]);
        system_dirs(&v, &n, &cap, keep, &nkeep);
        static const char *const tmps[] = {"/tmp", "/var/tmp", "/dev/shm", NULL};
        for (int i = 0; tmps[i]; i++) {
            add(&v, &n, &cap, "--perms"); /* both uids write there (sticky) */
            add(&v, &n, &cap, "1777");
            add(&v, &n, &cap, "--size");
            add(&v, &n, &cap, TMPFS_BYTES);
            add(&v, &n, &cap, "--tmpfs");
            add(&v, &n, &cap, tmps[i]);
        }
        /* The folders above the job's (made by bwrap, 0700 by default): both
         * uids pass through, none lists them. */
        for (char *p = sb->top ? strchr(sb->top + 1, '/') : NULL; p && nkeep < 40;
             p = strchr(p + 1, '/')) {
            char *dir = strndup(sb->top, (size_t)(p - sb->top));
            if (strcmp(dir, "/tmp") && strcmp(dir, "/var") && strcmp(dir, "/var/tmp") &&
                strcmp(dir, "/dev") && strcmp(dir, "/dev/shm")) {
                add(&v, &n, &cap, "--perms");
                add(&v, &n, &cap, "0711");
                add(&v, &n, &cap, "--dir");
                add(&v, &n, &cap, dir);
            }
            keep[nkeep++] = dir;
        }
        if (sb->top) {
            add(&v, &n, &cap, "--perms");
            add(&v, &n, &cap, "0711");
            add(&v, &n, &cap, "--dir");
            add(&v, &n, &cap, sb->top);
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
    /* The judge learns the student's uid (tests/support/evtest.c drops each
     * program it starts to it); nobody else sees these variables. */
    const char *env[40];
    int ne = 0;
    for (int i = 0; c->env && c->env[i] && ne < 34; i++)
        env[ne++] = c->env[i];
    snprintf(suid, sizeof suid, "EVLAB_STUDENT_UID=%d", (int)sb->suid);
    snprintf(sgid, sizeof sgid, "EVLAB_STUDENT_GID=%d", (int)sb->sgid);
    bool two = c->judge && sb->root && (sb->mode == SB_UID || judge_ns);
    env[ne++] = two ? suid : "EVLAB_STUDENT_UID";
    env[ne++] = two ? sgid : "EVLAB_STUDENT_GID";
    if (!c->judge)
        env[ne++] = "EVLAB_STUDENT_TMPDIR";
    env[ne] = NULL;
    bool as_judge = c->judge || !sb->root;
    struct proc_spec s = {.argv = v,
                          .env = env,
                          .cwd = sb->mode == SB_BWRAP ? NULL : c->cwd,
                          .timeout_s = c->timeout_s,
                          .capture = true,
                          .cap_bytes = c->cap_bytes,
                          .own_pgrp = true,
                          .stdin_null = true,
                          .sweep = true,
                          .lim = c->lim,
                          .drop = sb->root,
                          .uid = as_judge ? sb->uid : sb->suid,
                          .gid = as_judge ? sb->gid : sb->sgid,
                          /* bwrap gives the judge its capabilities in the namespace */
                          .keep_caps = two && sb->mode == SB_UID ? JUDGE_CAPS : 0,
                          .pass_fd = judge_ns ? sb->userns_fd : 0,
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

static void kill_uid(uid_t uid, gid_t gid)
{
    if (uid == 0 || gid == 0) /* never: kill(-1) as root ends every process */
        return;
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) == 0 && setgid(gid) == 0 && setuid(uid) == 0)
            kill(-1, SIGKILL);
        _exit(0);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

/* Everything of the job's two uids ends (uids of our own: nobody else's). */
void sandbox_kill(struct sandbox *sb)
{
    /* Only uids this job holds (sandbox_open may have failed before it had any). */
    if (!sb->root || sb->uid_lock < 0 || sb->suid_lock < 0)
        return;
    kill_uid(sb->suid, sb->sgid);
    kill_uid(sb->uid, sb->gid);
    kill_uid(sb->suid, sb->sgid); /* what the judge started meanwhile */
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
static void sweep_shared(uid_t owner)
{
    if (owner == 0)
        return;
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
                fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == owner)
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
            if (uid != owner)
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
    if (sb->root && sb->mode == SB_UID && sb->uid_lock >= 0 && sb->suid_lock >= 0 && sb->uid &&
        sb->suid) {
        sweep_shared(sb->suid);
        sweep_shared(sb->uid);
    }
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
    if (sb->suid_lock >= 0)
        close(sb->suid_lock);
    if (sb->userns_fd >= 0)
        close(sb->userns_fd);
    free(sb->top);
    sb->top = NULL;
    sb->top_fd = sb->uid_lock = sb->suid_lock = sb->userns_fd = -1;
}
