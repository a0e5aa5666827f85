/* proc.c -- run one child from a libevent loop.
 *
 * The loop has: a SIGCHLD event (the child ended), a timer (the time limit:
 * SIGTERM, then SIGKILL after a grace period), SIGINT/SIGTERM events (we were
 * interrupted: a child in its own group is stopped, one sharing our terminal
 * got the signal itself) and, when the output is captured, a read event on
 * the pipe that keeps at most cap_bytes and counts the rest.
 *
 * The signal events are added before fork(), so a child that exits at once
 * still wakes the loop. After the child has gone, its process group is
 * killed, and with `sweep` every process re-parented to us (we are a child
 * subreaper) is killed and reaped as well.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "evlab.h"

struct ctx {
    const struct proc_spec *s;
    struct proc_result *r;
    struct event_base *base;
    struct event *ev_out, *ev_rep, *ev_kill;
    pid_t pid;
    int out_fd, rep_fd;
    size_t cap;
    bool done;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void signal_child(struct ctx *c, int sig)
{
    if (c->s->own_pgrp)
        kill(-c->pid, sig);
    kill(c->pid, sig);
}

static void drain(struct ctx *c)
{
    char tmp[16384];
    for (;;) {
        ssize_t n = read(c->out_fd, tmp, sizeof tmp);
        if (n <= 0) {
            if (n == 0 || (errno != EINTR)) {
                if (n == 0 && c->ev_out) {
                    event_del(c->ev_out);
                }
                return;
            }
            continue;
        }
        c->r->out_total += (size_t)n;
        if (c->s->echo)
            fwrite(tmp, 1, (size_t)n, stdout);
        size_t room = c->r->out_len < c->cap ? c->cap - c->r->out_len : 0;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        if (keep) {
            memcpy(c->r->out + c->r->out_len, tmp, keep);
            c->r->out_len += keep;
            c->r->out[c->r->out_len] = '\0';
        }
    }
}

/* The report pipe: at most report_cap bytes kept, never blocking. */
static void drain_rep(struct ctx *c)
{
    char tmp[16384];
    size_t cap = c->s->report_cap ? c->s->report_cap : 256 * 1024;
    for (;;) {
        ssize_t n = read(c->rep_fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 && c->ev_rep)
                event_del(c->ev_rep);
            return;
        }
        c->r->rep_total += (size_t)n;
        size_t room = c->r->rep_len < cap ? cap - c->r->rep_len : 0;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        if (keep) {
            memcpy(c->r->rep + c->r->rep_len, tmp, keep);
            c->r->rep_len += keep;
            c->r->rep[c->r->rep_len] = '\0';
        }
    }
}

static void on_rep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drain_rep(arg);
}

static void on_out(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drain(arg);
}

static void on_child(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct ctx *c = arg;
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
        if (p == c->pid) {
            c->r->status = st;
            c->done = true;
        }
    }
    if (c->done) {
        if (c->out_fd >= 0)
            drain(c);
        if (c->rep_fd >= 0)
            drain_rep(c);
        event_base_loopbreak(c->base);
    }
}

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    signal_child(arg, SIGKILL);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ctx *c = arg;
    c->r->timed_out = true;
    if (c->s->grace_s > 0) {
        signal_child(c, SIGTERM);
        struct timeval tv = {(time_t)c->s->grace_s,
                             (suseconds_t)((c->s->grace_s - (time_t)c->s->grace_s) * 1e6)};
        evtimer_add(c->ev_kill, &tv);
    } else {
        signal_child(c, SIGKILL);
    }
}

static void on_interrupt(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct ctx *c = arg;
    c->r->interrupted = true;
    if (c->s->own_pgrp) {
        signal_child(c, (int)sig);
        struct timeval tv = {2, 0};
        evtimer_add(c->ev_kill, &tv);
    }
    /* otherwise the child shares our terminal and got the signal itself */
}

static void set_limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    if (v)
        setrlimit(res, &rl);
}

/* After a drop with PR_SET_KEEPCAPS: `caps` permitted, effective, inheritable
 * and ambient (so that they survive exec as a non-root uid), nothing else. */
static int keep_caps(unsigned long long caps)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{0}};
    d[0].permitted = d[0].effective = d[0].inheritable = (uint32_t)caps;
    d[1].permitted = d[1].effective = d[1].inheritable = (uint32_t)(caps >> 32);
    if (syscall(SYS_capset, &h, d) != 0)
        return -1;
    for (int c = 0; c < 64; c++)
        if ((caps >> c & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0)
            return -1;
    return 0;
}

static void child_exec(const struct proc_spec *s, int out_w, int rep_w)
{
    if (rep_w >= 0) { /* out of the way of fds 0-3 first */
        int high = fcntl(rep_w, F_DUPFD, 10);
        if (high < 0)
            _exit(127);
        rep_w = high;
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    if (s->own_pgrp)
        setpgid(0, 0);
    if (s->stdin_null) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 0);
            if (fd > 0)
                close(fd);
        }
    }
    if (out_w >= 0) {
        dup2(out_w, 1);
        dup2(out_w, 2);
        if (out_w > 2)
            close(out_w);
    }
    if (rep_w >= 0) {
        if (dup2(rep_w, 3) != 3) /* dup2 clears close-on-exec */
            _exit(127);
        close(rep_w);
    }
    if (s->cwd && chdir(s->cwd) != 0) {
        fprintf(stderr, "evlab: cannot enter %s: %s\n", s->cwd, strerror(errno));
        _exit(127);
    }
    /* A Criterion worker's BXFI_MAP would make a grading suite we start
     * believe it is that worker's sandboxed child (it then aborts). */
    for (bool again = true; again;) {
        again = false;
        for (char **e = environ; *e; e++)
            if (strncmp(*e, "BXFI_", 5) == 0) {
                char *k = strndup(*e, strcspn(*e, "="));
                unsetenv(k);
                free(k);
                again = true;
                break;
            }
    }
    for (const char *const *e = s->env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (eq) {
            char *k = strndup(*e, (size_t)(eq - *e));
            setenv(k, eq + 1, 1);
            free(k);
        } else {
            unsetenv(*e);
        }
    }
    if (s->lim.set) {
        set_limit(RLIMIT_CPU, s->lim.cpu_s);
        set_limit(RLIMIT_AS, s->lim.as_bytes);
        set_limit(RLIMIT_FSIZE, s->lim.fsize_bytes);
        set_limit(RLIMIT_NOFILE, s->lim.nofile);
        struct rlimit core = {0, 0};
        setrlimit(RLIMIT_CORE, &core);
    }
    if (s->pass_fd > 2 && fcntl(s->pass_fd, F_SETFD, 0) != 0)
        _exit(127);
    if (s->drop) {
        /* A Criterion suite binds ipc:///tmp/criterion_<its pid>.sock. A file
         * of that name left by a killed runner of another uid cannot be
         * replaced once we are the judge's uid (/tmp is sticky), and the
         * suite would not start. No live process has our pid, so such a file
         * is stale: remove it while we are still root (unlink never follows
         * a link). */
        char stale[64];
        snprintf(stale, sizeof stale, "/tmp/criterion_%ld.sock", (long)getpid());
        unlink(stale);
        if (s->keep_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
            _exit(127);
        if (setgroups(0, NULL) != 0 || setgid(s->gid) != 0 || setuid(s->uid) != 0) {
            fprintf(stderr, "evlab: cannot drop to uid %d: %s\n", (int)s->uid, strerror(errno));
            _exit(127);
        }
        if (s->keep_caps && keep_caps(s->keep_caps) != 0) {
            fprintf(stderr, "evlab: cannot keep the judge's capabilities: %s\n", strerror(errno));
            _exit(127);
        }
        /* RLIMIT_NPROC binds only a non-root user: set it after the drop. */
        if (s->lim.set)
            set_limit(RLIMIT_NPROC, s->lim.nproc);
        /* If the grader is killed outright, so is this child (the setting
         * is cleared by a change of uid, hence here). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    }
    execvp(s->argv[0], (char *const *)s->argv);
    fprintf(stderr, "evlab: cannot run %s: %s\n", s->argv[0], strerror(errno));
    _exit(127);
}

int proc_run(const struct proc_spec *s, struct proc_result *r)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    struct ctx c = {
        .s = s, .r = r, .out_fd = -1, .rep_fd = -1, .cap = s->cap_bytes ? s->cap_bytes : 1 << 20};
    if (s->sweep)
        prctl(PR_SET_CHILD_SUBREAPER, 1);
    struct event_config *cfg = event_config_new();
    c.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!c.base)
        return -1;
    struct event *ev_chld = evsignal_new(c.base, SIGCHLD, on_child, &c);
    struct event *ev_int = evsignal_new(c.base, SIGINT, on_interrupt, &c);
    struct event *ev_term = evsignal_new(c.base, SIGTERM, on_interrupt, &c);
    struct event *ev_time = evtimer_new(c.base, on_timeout, &c);
    c.ev_kill = evtimer_new(c.base, on_kill, &c);
    evsignal_add(ev_chld, NULL);
    evsignal_add(ev_int, NULL);
    evsignal_add(ev_term, NULL);

    int pfd[2] = {-1, -1};
    if (s->capture) {
        if (pipe2(pfd, O_CLOEXEC) != 0)
            goto out;
        r->out = malloc(c.cap + 1);
        r->out[0] = '\0';
        c.out_fd = pfd[0];
        fcntl(c.out_fd, F_SETFL, O_NONBLOCK);
        c.ev_out = event_new(c.base, c.out_fd, EV_READ | EV_PERSIST, on_out, &c);
        event_add(c.ev_out, NULL);
    }
    int rfd[2] = {-1, -1};
    if (s->report) {
        if (pipe2(rfd, O_CLOEXEC) != 0)
            goto out;
        size_t cap = s->report_cap ? s->report_cap : 256 * 1024;
        r->rep = malloc(cap + 1);
        r->rep[0] = '\0';
        c.rep_fd = rfd[0];
        fcntl(c.rep_fd, F_SETFL, O_NONBLOCK);
        c.ev_rep = event_new(c.base, c.rep_fd, EV_READ | EV_PERSIST, on_rep, &c);
        event_add(c.ev_rep, NULL);
    }
    double start = now_s();
    fflush(NULL);
    c.pid = fork();
    if (c.pid < 0)
        goto out;
    if (c.pid == 0)
        child_exec(s, pfd[1], rfd[1]);
    if (s->own_pgrp)
        setpgid(c.pid, c.pid);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (rfd[1] >= 0)
        close(rfd[1]);
    if (s->timeout_s > 0) {
        struct timeval tv = {(time_t)s->timeout_s,
                             (suseconds_t)((s->timeout_s - (time_t)s->timeout_s) * 1e6)};
        evtimer_add(ev_time, &tv);
    }
    /* A child that ended before the SIGCHLD event could see it. */
    on_child(SIGCHLD, EV_SIGNAL, &c);
    if (!c.done)
        event_base_dispatch(c.base);
    if (!c.done) { /* the loop stopped without the child: make sure */
        signal_child(&c, SIGKILL);
        waitpid(c.pid, &r->status, 0);
    }
    r->seconds = now_s() - start;
    if (s->own_pgrp)
        kill(-c.pid, SIGKILL);
    if (s->sweep)
        r->strays = sweep_children();
out:
    if (c.ev_rep)
        event_free(c.ev_rep);
    if (c.rep_fd >= 0)
        close(c.rep_fd);
    if (c.ev_out)
        event_free(c.ev_out);
    if (c.out_fd >= 0)
        close(c.out_fd);
    event_free(ev_chld);
    event_free(ev_int);
    event_free(ev_term);
    event_free(ev_time);
    event_free(c.ev_kill);
    event_base_free(c.base);
    return r->status == -1 ? -1 : 0;
}

void proc_result_free(struct proc_result *r)
{
    free(r->out);
    r->out = NULL;
    free(r->rep);
    r->rep = NULL;
}

int status_to_exit(int status)
{
    if (status == -1)
        return 127;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

const char *describe_status(int status, char *buf, size_t len)
{
    if (status == -1)
        snprintf(buf, len, "could not start");
    else if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (SIG%s)", WTERMSIG(status),
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        snprintf(buf, len, "status 0x%x", status);
    return buf;
}

/* Our children, from /proc (PPid == us). */
static int our_children(pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    int n = 0;
    if (!d)
        return 0;
    pid_t me = getpid();
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        if (fgets(line, sizeof line, f)) {
            char *rp = strrchr(line, ')');
            char state;
            int ppid;
            if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == me)
                out[n++] = pid;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

int sweep_children(void)
{
    int killed = 0;
    for (int round = 0; round < 1000; round++) {
        pid_t kids[512];
        int n = our_children(kids, 512);
        int alive = 0;
        for (int i = 0; i < n; i++) {
            char path[64], line[512];
            snprintf(path, sizeof path, "/proc/%d/stat", (int)kids[i]);
            FILE *f = fopen(path, "re");
            bool zombie = false;
            if (f && fgets(line, sizeof line, f)) {
                char *rp = strrchr(line, ')');
                zombie = rp && rp[2] == 'Z';
            }
            if (f)
                fclose(f);
            if (!zombie) {
                kill(kids[i], SIGKILL);
                alive++;
            }
        }
        killed += alive;
        for (int i = 0; i < n; i++)
            waitpid(kids[i], NULL, 0);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (n == 0)
            break;
    }
    return killed;
}

int run_make(const char *dir, const char *build, const char *const *targets, int ntargets,
             struct proc_result *r)
{
    const char **argv = calloc((size_t)ntargets + 8, sizeof *argv);
    int a = 0;
    char *bvar = xasprintf("BUILD=%s", build);
    argv[a++] = "make";
    argv[a++] = "-s";
    argv[a++] = "--no-print-directory";
    argv[a++] = "-C";
    argv[a++] = dir;
    argv[a++] = bvar;
    for (int i = 0; i < ntargets; i++)
        argv[a++] = targets[i];
    argv[a] = NULL;
    struct proc_spec s = {.argv = argv,
                          .capture = true,
                          .cap_bytes = 256 * 1024,
                          .stdin_null = true,
                          .own_pgrp = true,
                          .timeout_s = 300,
                          .env = (const char *const[]){"MAKEFLAGS", "MFLAGS", "MAKELEVEL", NULL}};
    int rc = proc_run(&s, r);
    free(bvar);
    free(argv);
    return rc < 0 ? 127 : status_to_exit(r->status);
}
