/* evtest.c -- see evtest.h. */
#define _GNU_SOURCE
#include "evtest.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

/* ---- paths ------------------------------------------------------------------ */

const char *evt_build_dir(void)
{
    const char *b = getenv("EVLAB_BUILD");
    return b && *b ? b : "build";
}

static char *ring_buf(void)
{
    static char bufs[8][4096];
    static int next;
    return bufs[next++ % 8];
}

const char *evt_prog(const char *relpath)
{
    char *b = ring_buf();
    snprintf(b, 4096, "%s/%s", evt_build_dir(), relpath);
    return b;
}

const char *evt_target(const char *name)
{
    const char *t = getenv("EVLAB_TARGET");
    if (!t || !*t)
        cr_assert_fail("EVLAB_TARGET is not set: run this suite through 'evlab check' or make "
                       "check-exercises");
    char *b = ring_buf();
    snprintf(b, 4096, "%s/%s", t, name);
    return b;
}

double evt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- child set-up ------------------------------------------------------------- */

static void apply_env(const char *const env[])
{
    for (int i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq) {
            unsetenv(env[i]);
            continue;
        }
        char key[256];
        size_t n = (size_t)(eq - env[i]) < sizeof key - 1 ? (size_t)(eq - env[i]) : sizeof key - 1;
        memcpy(key, env[i], n);
        key[n] = '\0';
        setenv(key, eq + 1, 1);
    }
}

/* If the test dies (a Criterion timeout kills it with SIGKILL), its child
 * must not live on: the kernel sends it SIGKILL when the parent goes. */
static void die_with_parent(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(127); /* the parent is already gone */
}

/* ---- the student's uid -------------------------------------------------------- */

/* Set the effective capabilities to `caps` (a subset of the permitted ones). */
static int set_effective(unsigned long long caps)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0}};
    if (syscall(SYS_capget, &h, d) != 0)
        return -1;
    d[0].effective = (__u32)caps & d[0].permitted;
    d[1].effective = (__u32)(caps >> 32) & d[1].permitted;
    return (int)syscall(SYS_capset, &h, d);
}

static bool judging(uid_t *uid, gid_t *gid)
{
    const char *u = getenv("EVLAB_STUDENT_UID"), *g = getenv("EVLAB_STUDENT_GID");
    if (!u || !*u || !g || !*g)
        return false;
    *uid = (uid_t)strtoul(u, NULL, 10);
    *gid = (gid_t)strtoul(g, NULL, 10);
    return *uid != 0 && *gid != 0;
}

#define CAP_BIT(c) (1ULL << (c))

int evt_judge_caps(bool look)
{
    uid_t u;
    gid_t g;
    if (!judging(&u, &g))
        return 0;
    return set_effective(CAP_BIT(CAP_KILL) |
                         (look ? CAP_BIT(CAP_SYS_PTRACE) | CAP_BIT(CAP_DAC_READ_SEARCH) : 0));
}

int evt_drop_to_student(void)
{
    uid_t uid;
    gid_t gid;
    if (!judging(&uid, &gid))
        return 0;
    const char *tmp = getenv("EVLAB_STUDENT_TMPDIR");
    if (tmp && *tmp)
        setenv("TMPDIR", tmp, 1);
    unsetenv("EVLAB_STUDENT_UID");
    unsetenv("EVLAB_STUDENT_GID");
    unsetenv("EVLAB_STUDENT_TMPDIR");
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[2] = {{0}};
    if (set_effective(CAP_BIT(CAP_SETUID) | CAP_BIT(CAP_SETGID)) != 0 || setgroups(0, NULL) != 0 ||
        setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0 ||
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) ||
        syscall(SYS_capset, &h, none) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return getuid() == uid && geteuid() == uid && getgid() == gid ? 0 : -1;
}

int evt_drop_caps(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[2] = {{0}};
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 ||
        syscall(SYS_capset, &h, none) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    unsetenv("EVLAB_STUDENT_UID"); /* nobody to drop to any more */
    unsetenv("EVLAB_STUDENT_GID");
    return 0;
}

bool evt_shared_dir(char *buf, size_t len, const char *prefix)
{
    const char *base = getenv("EVLAB_STUDENT_TMPDIR");
    uid_t u;
    gid_t g;
    bool graded = judging(&u, &g);
    if (!graded || !base || !*base)
        base = "/tmp";
    if ((size_t)snprintf(buf, len, "%s/%s-XXXXXX", base, prefix) >= len || !mkdtemp(buf))
        return false;
    return !graded || chmod(buf, 0777) == 0;
}

int evt_open_fifo(const char *path, int flags)
{
    uid_t u;
    gid_t g;
    bool graded = judging(&u, &g);
    if (graded)
        set_effective(CAP_BIT(CAP_KILL) | CAP_BIT(CAP_DAC_OVERRIDE));
    int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    if (graded)
        evt_judge_caps(false);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))) {
        close(fd);
        fd = -1;
        e = EINVAL;
    }
    errno = e;
    return fd;
}

/* The child's own process group (we kill the whole group). Graded, its own
 * session too: the kernel lets any process send SIGCONT within its session,
 * whatever its uid. The parent calls own_group(pid) as well (whichever runs
 * first); graded, only the child acts, as setsid() fails for a group leader. */
static void own_group(pid_t pid)
{
    uid_t u;
    gid_t g;
    if (judging(&u, &g)) {
        if (pid == 0 && setsid() < 0)
            _exit(127);
    } else {
        setpgid(pid, pid);
    }
}

pid_t evt_spawn_student(const char *const argv[], const char *const env[], const int fds[],
                        int nfds)
{
    pid_t pid = fork();
    if (pid != 0) {
        if (pid > 0)
            own_group(pid);
        return pid;
    }
    /* fds[i] becomes fd i: first out of the way (above every target), then in place. */
    int moved[16];
    for (int i = 0; i < nfds && i < 16; i++)
        moved[i] = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD_CLOEXEC, 16) : -1;
    for (int i = 0; i < nfds && i < 16; i++)
        if (moved[i] >= 0 && dup2(moved[i], i) != i)
            _exit(127);
    own_group(0);
    if (evt_drop_to_student() != 0) {
        fprintf(stderr, "evtest: cannot become the student's uid: %s\n", strerror(errno));
        _exit(127);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_DFL);
    apply_env(env);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "evtest: cannot exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static void exec_child(const char *const argv[], const char *const env[])
{
    own_group(0); /* its own group: we kill the whole group */
    /* Graded: the program is the student's and runs as the student's uid (a
     * change of uid clears the parent-death signal: drop first). */
    if (evt_drop_to_student() != 0) {
        fprintf(stderr, "evtest: cannot become the student's uid: %s\n", strerror(errno));
        _exit(127);
    }
    die_with_parent();
    signal(SIGPIPE, SIG_DFL);
    apply_env(env);
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "evtest: cannot exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        *buf = realloc(*buf, c);
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void fill_status(struct evt_run *r, int status)
{
    r->status = status;
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

/* Reap pid, killing its group at the deadline. */
static int reap(pid_t pid, double deadline, bool *timed_out)
{
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -1;
        if (evt_now() > deadline) {
            if (timed_out)
                *timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL); /* leave no grandchildren behind */
    return status;
}

/* ---- run to completion -------------------------------------------------------- */

/* Start argv in its own process group with pipes on stdin, stdout and stderr:
 * in[1], out[0] and err[0] are ours. Returns the pid, or -1. */
static pid_t spawn_piped(const char *const argv[], const char *const env[], int in[2], int out[2],
                         int err[2])
{
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        exec_child(argv, env);
    }
    own_group(pid);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    return pid;
}

int evt_run(struct evt_run *r, const char *const argv[], const char *const env[], const char *input,
            double timeout_s)
{
    memset(r, 0, sizeof *r);
    int in[2], out[2], err[2];
    double start = evt_now(), deadline = start + timeout_s;
    pid_t pid = spawn_piped(argv, env, in, out, err);
    if (pid < 0)
        return -1;
    size_t in_len = input ? strlen(input) : 0, in_off = 0;
    if (!in_len) {
        close(in[1]);
        in[1] = -1;
    } else {
        fcntl(in[1], F_SETFL, O_NONBLOCK);
    }
    size_t out_cap = 0, err_cap = 0;
    append(&r->out, &r->out_len, &out_cap, "", 0);
    append(&r->err, &r->err_len, &err_cap, "", 0);
    int open_fds = 2;
    while (open_fds > 0 && evt_now() < deadline) {
        struct pollfd pf[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
        int ms = (int)((deadline - evt_now()) * 1000) + 1;
        if (poll(pf, in[1] >= 0 ? 3 : 2, ms) < 0 && errno != EINTR)
            break;
        char buf[65536];
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(pf[i].fd, buf, sizeof buf);
            if (n > 0) {
                if (i == 0)
                    append(&r->out, &r->out_len, &out_cap, buf, (size_t)n);
                else
                    append(&r->err, &r->err_len, &err_cap, buf, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(pf[i].fd);
                if (i == 0)
                    out[0] = -1;
                else
                    err[0] = -1;
                open_fds--;
            }
        }
        if (in[1] >= 0 && (pf[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(in[1], input + in_off, in_len - in_off);
            if (n > 0)
                in_off += (size_t)n;
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                in_off = in_len;
            if (in_off >= in_len) {
                close(in[1]);
                in[1] = -1;
            }
        }
    }
    if (in[1] >= 0)
        close(in[1]);
    if (out[0] >= 0)
        close(out[0]);
    if (err[0] >= 0)
        close(err[0]);
    fill_status(r, reap(pid, open_fds > 0 ? evt_now() : deadline, &r->timed_out));
    r->seconds = evt_now() - start;
    return 0;
}

void evt_run_free(struct evt_run *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Start argv on a new pseudo-terminal (*master is our side). Returns the pid, or -1. */
static pid_t spawn_pty(const char *const argv[], const char *const env[], int *master)
{
    pid_t pid = forkpty(master, NULL, NULL, NULL);
    if (pid == 0) {
        /* forkpty made us a session leader; keep that (a pty needs it). */
        if (evt_drop_to_student() != 0)
            _exit(127);
        die_with_parent();
        signal(SIGPIPE, SIG_DFL);
        apply_env(env);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Append what the pty has to r->out; false once the child has gone (EIO). */
static bool pty_read(int master, struct evt_run *r, size_t *cap)
{
    char buf[4096];
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0)
        return false;
    append(&r->out, &r->out_len, cap, buf, (size_t)n);
    return true;
}

static void pty_finish(struct evt_run *r, int master, pid_t pid, double start, double deadline)
{
    close(master);
    fill_status(r, reap(pid, deadline, &r->timed_out));
    r->seconds = evt_now() - start;
}

int evt_run_pty(struct evt_run *r, const char *const argv[], const char *const env[],
                const char *keys, double timeout_s)
{
    memset(r, 0, sizeof *r);
    int master;
    double start = evt_now(), deadline = start + timeout_s;
    pid_t pid = spawn_pty(argv, env, &master);
    if (pid < 0)
        return -1;
    size_t cap = 0, key_off = 0, key_len = keys ? strlen(keys) : 0;
    append(&r->err, &r->err_len, &cap, "", 0);
    cap = 0;
    append(&r->out, &r->out_len, &cap, "", 0);
    for (;;) {
        double left = deadline - evt_now();
        if (left <= 0)
            break;
        struct pollfd pf = {master, POLLIN, 0};
        /* Output that pauses for 150 ms means the program waits for a key. */
        int rc = poll(&pf, 1, left < 0.15 ? (int)(left * 1000) + 1 : 150);
        if (rc == 0) {
            if (key_off < key_len) {
                if (write(master, keys + key_off, 1) == 1)
                    key_off++;
            }
            continue;
        }
        if (!pty_read(master, r, &cap))
            break;
    }
    pty_finish(r, master, pid, start, deadline);
    return 0;
}

/* ---- background processes ---------------------------------------------------- */

int evt_spawn(struct evt_proc *p, const char *const argv[], const char *const env[])
{
    memset(p, 0, sizeof *p);
    int in[2], out[2], err[2];
    pid_t pid = spawn_piped(argv, env, in, out, err);
    if (pid < 0)
        return -1;
    p->pid = pid;
    p->in_fd = in[1];
    p->out_fd = out[0];
    p->err_fd = err[0];
    fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(p->err_fd, F_SETFL, O_NONBLOCK);
    append(&p->out, &p->out_len, &p->out_cap, "", 0);
    append(&p->err, &p->err_len, &p->err_cap, "", 0);
    return 0;
}

/* Read what is there from both pipes, waiting at most `ms`. Returns false once
 * stdout is at EOF. */
static bool pump(struct evt_proc *p, int ms)
{
    struct pollfd pf[2] = {{p->out_fd, POLLIN, 0}, {p->err_fd, POLLIN, 0}};
    if (p->out_fd < 0 && p->err_fd < 0)
        return false; /* poll() skips a negative fd */
    poll(pf, 2, ms);
    char buf[65536];
    for (int i = 0; i < 2; i++) {
        int *fd = i == 0 ? &p->out_fd : &p->err_fd;
        if (*fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n > 0) {
            if (i == 0)
                append(&p->out, &p->out_len, &p->out_cap, buf, (size_t)n);
            else
                append(&p->err, &p->err_len, &p->err_cap, buf, (size_t)n);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            close(*fd);
            *fd = -1;
        }
    }
    return p->out_fd >= 0;
}

const char *evt_wait_line(struct evt_proc *p, const char *needle, double timeout_s)
{
    static char line[4096];
    double deadline = evt_now() + timeout_s;
    for (;;) {
        /* look for a complete line that contains needle */
        const char *s = p->out;
        while (s && *s) {
            const char *nl = strchr(s, '\n');
            if (!nl)
                break;
            size_t n = (size_t)(nl - s);
            if (n >= sizeof line)
                n = sizeof line - 1;
            memcpy(line, s, n);
            line[n] = '\0';
            if (strstr(line, needle))
                return line;
            s = nl + 1;
        }
        double left = deadline - evt_now();
        if (left <= 0)
            return NULL;
        if (!pump(p, (int)(left * 1000) + 1) && p->out_fd < 0) {
            /* EOF: one more scan happened above; nothing left to read */
            if (!strstr(p->out, needle))
                return NULL;
        }
    }
}

int evt_wait_port(struct evt_proc *p, double timeout_s)
{
    const char *line = evt_wait_line(p, "listening on 127.0.0.1:", timeout_s);
    if (!line)
        return -1;
    return atoi(strstr(line, "127.0.0.1:") + strlen("127.0.0.1:"));
}

void evt_drain(struct evt_proc *p, double timeout_s)
{
    double deadline = evt_now() + timeout_s;
    do {
        if (!pump(p, 10) && p->err_fd < 0)
            break;
    } while (evt_now() < deadline);
}

static int finish(struct evt_proc *p, double deadline)
{
    if (p->in_fd >= 0) {
        close(p->in_fd);
        p->in_fd = -1;
    }
    int status = 0;
    for (;;) {
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        if (w == p->pid || (w < 0 && errno != EINTR))
            break;
        if (evt_now() > deadline) {
            kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            break;
        }
        pump(p, 5);
    }
    kill(-p->pid, SIGKILL);         /* leave no grandchildren behind */
    double until = evt_now() + 1.0; /* then collect what the pipes still hold */
    while ((p->out_fd >= 0 || p->err_fd >= 0) && evt_now() < until)
        pump(p, 10);
    p->status = status;
    p->pid = 0;
    return status;
}

int evt_stop(struct evt_proc *p, int sig, double timeout_s)
{
    if (p->pid <= 0)
        return p->status;
    kill(p->pid, sig);
    return finish(p, evt_now() + timeout_s);
}

int evt_wait_exit(struct evt_proc *p, double timeout_s)
{
    if (p->pid <= 0)
        return p->status;
    return finish(p, evt_now() + timeout_s);
}

void evt_proc_free(struct evt_proc *p)
{
    if (p->pid > 0)
        evt_stop(p, SIGKILL, 1);
    if (p->out_fd >= 0)
        close(p->out_fd);
    if (p->err_fd >= 0)
        close(p->err_fd);
    if (p->in_fd >= 0)
        close(p->in_fd);
    free(p->out);
    free(p->err);
    memset(p, 0, sizeof *p);
    p->out_fd = p->err_fd = p->in_fd = -1;
}

int evt_count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    evt_judge_caps(true); /* the program runs as the student's uid */
    DIR *d = opendir(path);
    evt_judge_caps(false);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* ---- sockets ---------------------------------------------------------------- */

static int wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - evt_now();
        if (left <= 0)
            return 0;
        struct pollfd pf = {fd, events, 0};
        int rc = poll(&pf, 1, (int)(left * 1000) + 1);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

int evt_connect(int port, double timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
    if (rc < 0 && errno == EINPROGRESS) {
        if (wait_fd(fd, POLLOUT, evt_now() + timeout_s) <= 0) {
            close(fd);
            return -1;
        }
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err ? -1 : 0;
        errno = err;
    }
    if (rc < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

int evt_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 1024) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

size_t evt_write_all(int fd, const void *buf, size_t n, double timeout_s)
{
    double deadline = evt_now() + timeout_s;
    size_t done = 0;
    while (done < n) {
        if (wait_fd(fd, POLLOUT, deadline) <= 0)
            break;
        ssize_t w = send(fd, (const char *)buf + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0)
            done += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR)
            break;
    }
    return done;
}

size_t evt_read_n(int fd, void *buf, size_t n, double timeout_s)
{
    double deadline = evt_now() + timeout_s;
    size_t done = 0;
    while (done < n) {
        if (wait_fd(fd, POLLIN, deadline) <= 0)
            break;
        ssize_t r = recv(fd, (char *)buf + done, n - done, MSG_DONTWAIT);
        if (r > 0)
            done += (size_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            break;
    }
    return done;
}

char *evt_read_all(int fd, size_t *len, double timeout_s)
{
    double deadline = evt_now() + timeout_s;
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    append(&buf, len, &cap, "", 0);
    for (;;) {
        if (wait_fd(fd, POLLIN, deadline) <= 0)
            break;
        char tmp[65536];
        ssize_t r = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (r > 0)
            append(&buf, len, &cap, tmp, (size_t)r);
        else if (r == 0 || (errno != EAGAIN && errno != EINTR))
            break;
    }
    return buf;
}

bool evt_wait_eof(int fd, double timeout_s)
{
    double deadline = evt_now() + timeout_s;
    for (;;) {
        if (wait_fd(fd, POLLIN, deadline) <= 0)
            return false;
        char tmp[4096];
        ssize_t r = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            return false;
    }
}

void evt_reset_close(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* ---- text ---------------------------------------------------------------- */

int evt_count(const char *hay, const char *needle)
{
    int n = 0;
    size_t len = strlen(needle);
    if (!hay || !len)
        return 0;
    for (const char *s = strstr(hay, needle); s; s = strstr(s + len, needle))
        n++;
    return n;
}

char *evt_mask_addrs(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] == '0' && s[i + 1] == 'x' && i + 2 < len &&
            strchr("0123456789abcdefABCDEF", s[i + 2]) && s[i + 2]) {
            size_t j = i + 2;
            while (j < len && strchr("0123456789abcdefABCDEF", s[j]) && s[j])
                j++;
            if (j - i > 6) { /* short hex like flag values (0x12) stay */
                memcpy(out + o, "0xADDR", 6);
                o += 6;
                i = j;
                continue;
            }
        }
        out[o++] = s[i++];
    }
    out[o] = '\0';
    return out;
}

void evt_random_bytes(void *buf, size_t n, unsigned seed)
{
    /* xorshift: deterministic, fast, full of NULs and high bytes */
    uint32_t x = seed ? seed : 2463534242u;
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(x >> 11);
    }
}

size_t evt_first_diff(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return i;
    return n;
}

/* ---- step mode through a pseudo-terminal --------------------------------------- */

#include <regex.h>

#define EVT_STEP_PROMPT "   [Enter: run this step, q: quit] "

int evt_step_prompts(const char *out) { return evt_count(out, EVT_STEP_PROMPT); }

int evt_run_step(struct evt_run *r, const char *const argv[], const char *const env[],
                 double wait_s, double timeout_s)
{
    memset(r, 0, sizeof *r);
    int master;
    double start = evt_now(), deadline = start + timeout_s;
    pid_t pid = spawn_pty(argv, env, &master);
    if (pid < 0)
        return -1;
    size_t cap = 0;
    append(&r->err, &r->err_len, &cap, "", 0);
    cap = 0;
    append(&r->out, &r->out_len, &cap, "", 0);
    int answered = 0;
    double enter_at = 0; /* when to type the next Enter; 0: no prompt waiting */
    for (;;) {
        double now = evt_now();
        if (now >= deadline)
            break;
        if (enter_at > 0 && now >= enter_at) {
            if (write(master, "\n", 1) == 1)
                answered++;
            enter_at = 0;
        }
        double until = enter_at > 0 && enter_at < deadline ? enter_at : deadline;
        struct pollfd pf = {master, POLLIN, 0};
        int rc = poll(&pf, 1, (int)((until - now) * 1000) + 1);
        if (rc == 0)
            continue;
        if (!pty_read(master, r, &cap))
            break;
        if (enter_at == 0 && evt_step_prompts(r->out) > answered)
            enter_at = evt_now() + wait_s;
    }
    pty_finish(r, master, pid, start, deadline);
    return 0;
}

char *evt_step_transcript(const char *out)
{
    size_t len = strlen(out), o = 0, plen = strlen(EVT_STEP_PROMPT);
    char *t = malloc(len + 1);
    cr_assert_not_null(t);
    for (size_t i = 0; i < len; i++)
        if (out[i] != '\r')
            t[o++] = out[i];
    t[o] = '\0';
    /* prompt + the echoed newline */
    char *p;
    while ((p = strstr(t, EVT_STEP_PROMPT)) != NULL) {
        size_t cut = plen + (p[plen] == '\n' ? 1 : 0);
        memmove(p, p + cut, strlen(p + cut) + 1);
    }
    return t;
}

char *evt_mask_re(const char *s, const char *re, const char *with)
{
    regex_t rx;
    cr_assert_eq(regcomp(&rx, re, REG_EXTENDED), 0, "bad regex %s", re);
    size_t cap = 0, len = 0, wlen = strlen(with);
    char *out = NULL;
    append(&out, &len, &cap, "", 0);
    regmatch_t m;
    const char *p = s;
    int eflags = 0;
    while (*p && regexec(&rx, p, 1, &m, eflags) == 0) {
        append(&out, &len, &cap, p, (size_t)m.rm_so);
        append(&out, &len, &cap, with, wlen);
        if (m.rm_eo == m.rm_so) { /* empty match: move on one byte */
            if (!p[m.rm_eo])
                break;
            append(&out, &len, &cap, p + m.rm_eo, 1);
            p += m.rm_eo + 1;
        } else {
            p += m.rm_eo;
        }
        eflags = REG_NOTBOL;
    }
    append(&out, &len, &cap, p, strlen(p));
    regfree(&rx);
    return out;
}

static char *step_masked(const char *out, const char *const masks[])
{
    char *t = evt_step_transcript(out), *m = evt_mask_addrs(t);
    free(t);
    for (int i = 0; masks && masks[i]; i++) {
        char *next = evt_mask_re(m, masks[i], "#");
        free(m);
        m = next;
    }
    return m;
}

void evt_assert_step_same(const char *const argv[], const char *const env[],
                          const char *const masks[], double wait_s, double timeout_s)
{
    const char *stepped[64];
    int n = 0;
    while (argv[n] && n < 62) {
        stepped[n] = argv[n];
        n++;
    }
    stepped[n] = "--step";
    stepped[n + 1] = NULL;
    struct evt_run a, b;
    cr_assert_eq(evt_run_pty(&a, argv, env, NULL, timeout_s), 0);
    cr_assert_eq(evt_run_step(&b, stepped, env, wait_s, timeout_s), 0);
    cr_assert_eq(a.exit_code, 0, "straight run of %s: exit %d\n%s", argv[0], a.exit_code, a.out);
    cr_assert_eq(b.exit_code, 0, "stepped run of %s: exit %d\n%s", argv[0], b.exit_code, b.out);
    int heads = evt_count(a.out, "\n== ");
    cr_assert_gt(heads, 0, "no step headings in:\n%s", a.out);
    cr_assert_eq(evt_step_prompts(b.out), heads, "%s paused %d times for %d steps:\n%s", argv[0],
                 evt_step_prompts(b.out), heads, b.out);
    char *ma = step_masked(a.out, masks), *mb = step_masked(b.out, masks);
    size_t at = evt_first_diff(ma, mb, strlen(ma) + 1);
    cr_assert_str_eq(ma, mb,
                     "%s: waiting %.1f s at each prompt changed the output at byte %zu\n"
                     "--- straight:\n%s\n--- stepped:\n%s",
                     argv[0], wait_s, at, ma, mb);
    free(ma);
    free(mb);
    evt_run_free(&a);
    evt_run_free(&b);
}

char *evt_step_section(const char *out, int n)
{
    char head[16];
    snprintf(head, sizeof head, "== %d.", n);
    const char *s = strstr(out, head);
    cr_assert(s, "no step %d in:\n%s", n, out);
    const char *e = strstr(s + 1, "\n== ");
    char *copy = strndup(s, e ? (size_t)(e - s) : strlen(s));
    cr_assert_not_null(copy);
    return copy;
}

void evt_assert_usage(const char *prog, const char *const words[])
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(prog, "--help"), NULL, NULL, 10), 0, "cannot run %s", prog);
    cr_assert_eq(r.exit_code, 0, "%s --help: exit %d\n%s", prog, r.exit_code, r.err);
    cr_assert(strstr(r.out, "usage:"), "%s --help prints no 'usage:':\n%s", prog, r.out);
    for (int i = 0; words && words[i]; i++)
        cr_assert(strstr(r.out, words[i]), "%s --help does not mention %s:\n%s", prog, words[i],
                  r.out);
    evt_run_free(&r);
    cr_assert_eq(evt_run(&r, EVT_ARGV(prog, "--bogus"), NULL, NULL, 10), 0, "cannot run %s", prog);
    cr_assert_eq(r.exit_code, 2, "%s --bogus: exit %d", prog, r.exit_code);
    cr_assert(strstr(r.err, "usage:"), "%s --bogus: no usage on stderr:\n%s", prog, r.err);
    evt_run_free(&r);
}

char *evt_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s (run from the top of the tree)", path, strerror(errno));
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (size_t n; (n = fread(buf + len, 1, cap - len - 1, f)) > 0;) {
        len += n;
        if (cap - len - 1 == 0) {
            buf = realloc(buf, cap *= 2);
            cr_assert_not_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}
