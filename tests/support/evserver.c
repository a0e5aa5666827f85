/* evserver.c -- see evserver.h. */
#define _GNU_SOURCE
#include "evserver.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void *drain_main(void *arg)
{
    struct evs_server *s = arg;
    while (s->draining && (s->p.out_fd >= 0 || s->p.err_fd >= 0))
        evt_drain(&s->p, 0.02);
    return NULL;
}

void evs_drain_on(struct evs_server *s)
{
    if (s->thread_on)
        return;
    s->draining = 1;
    cr_assert_eq(pthread_create(&s->th, NULL, drain_main, s), 0, "pthread_create failed");
    s->thread_on = true;
}

void evs_drain_off(struct evs_server *s)
{
    if (!s->thread_on)
        return;
    s->draining = 0;
    pthread_join(s->th, NULL);
    s->thread_on = false;
}

void evs_start(struct evs_server *s, const char *const argv[], const char *const env[],
               double timeout_s)
{
    memset(s, 0, sizeof *s);
    cr_assert_eq(evt_spawn(&s->p, argv, env), 0, "could not start %s", argv[0]);
    s->port = evt_wait_port(&s->p, timeout_s);
    if (s->port <= 0) {
        evt_stop(&s->p, SIGKILL, 1);
        cr_assert_fail("%s never printed 'listening on 127.0.0.1:PORT' (within %.0f s).\n"
                       "stdout: %.600s\nstderr: %.600s",
                       argv[0], timeout_s, s->p.out, s->p.err);
    }
    evs_drain_on(s);
}

int evs_stop(struct evs_server *s, int sig, double timeout_s)
{
    evs_drain_off(s);
    return evt_stop(&s->p, sig, timeout_s);
}

void evs_free(struct evs_server *s)
{
    evs_drain_off(s);
    evt_proc_free(&s->p);
}

bool evs_alive(const struct evs_server *s)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (s->p.pid <= 0)
        return false;
    if (waitid(P_PID, (id_t)s->p.pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
        return false;
    return info.si_pid == 0;
}

int evs_exit_status(const struct evs_server *s)
{
    if (s->p.pid <= 0)
        return s->p.status; /* reaped by evs_stop */
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)s->p.pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0 || info.si_pid == 0)
        return -1;
    return info.si_code == CLD_EXITED ? W_EXITCODE(info.si_status, 0)
                                      : W_EXITCODE(0, info.si_status);
}

int evs_wait_fds(pid_t pid, int at_most, double timeout_s)
{
    double deadline = evt_now() + timeout_s;
    int n;
    while ((n = evt_count_fds(pid)) > at_most && evt_now() < deadline)
        poll(NULL, 0, 10);
    return n;
}

long evs_cpu_ticks(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name in parentheses may hold anything */
    long ut = 0, st = 0;
    /* after ")": state(3) ... utime(14) stime(15) */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) != 2)
        return -1;
    return ut + st;
}

double evs_cpu_seconds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    double ns = 0;
    bool any = false;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char sp[300];
        snprintf(sp, sizeof sp, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(sp, "r");
        unsigned long long t = 0;
        if (f && fscanf(f, "%llu", &t) == 1) {
            ns += (double)t;
            any = true;
        }
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    if (any)
        return ns / 1e9;
    long ticks = evs_cpu_ticks(pid), hz = sysconf(_SC_CLK_TCK);
    return ticks < 0 || hz <= 0 ? -1 : (double)ticks / (double)hz;
}

/* The number after `key` in /proc/PID/status, -1 if missing. */
static long status_field(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, k) == 0) {
            v = strtol(line + k, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

long evs_rss_kb(pid_t pid) { return status_field(pid, "VmRSS:"); }

int evs_threads(pid_t pid) { return (int)status_field(pid, "Threads:"); }

void evs_raise_nofile(rlim_t want)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0, "getrlimit: %s", strerror(errno));
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        cr_skip_test("RLIMIT_NOFILE hard limit is %lu, this test needs %lu",
                     (unsigned long)rl.rlim_max, (unsigned long)want);
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "setrlimit: %s", strerror(errno));
    }
}

bool evs_is_sanitized(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static char buf[1 << 16];
    bool found = false;
    size_t n, keep = 0;
    while (!found && (n = fread(buf + keep, 1, sizeof buf - keep, f)) > 0) {
        n += keep;
        if (memmem(buf, n, "__asan_init", 11) || memmem(buf, n, "__tsan_init", 11))
            found = true;
        keep = n > 16 ? 16 : n;
        memmove(buf, buf + n - keep, keep);
    }
    fclose(f);
    return found;
}

size_t evs_duplex(int fd, const void *out, size_t out_n, void *in, size_t in_cap,
                  struct evs_duplex_opts o)
{
    const unsigned char *data = out;
    unsigned char *back = in;
    double deadline = evt_now() + o.timeout_s, resume_at = 0;
    size_t sent = 0, got = 0, next_pause = 4u << 20;
    bool shut = false;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (evt_now() < deadline) {
        if (!o.to_eof && got >= in_cap && sent >= out_n)
            break;
        bool paused = evt_now() < resume_at; /* slow: a pause after each 4 MiB */
        /* past in_cap, read on only to find EOF (to_eof) */
        bool reading = !paused && (got < in_cap || o.to_eof);
        struct pollfd pf = {fd, (short)((reading ? POLLIN : 0) | (sent < out_n ? POLLOUT : 0)), 0};
        if (sent >= out_n && o.half_close && !shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        int ms = paused ? (int)((resume_at - evt_now()) * 1000) + 1 : 100;
        if (poll(&pf, 1, ms) < 0 && errno != EINTR)
            break;
        if (pf.revents & POLLOUT) {
            size_t chunk = out_n - sent > 262144 ? 262144 : out_n - sent;
            ssize_t w = send(fd, data + sent, chunk, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                out_n = sent; /* the peer is gone: stop writing, read what it sent */
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            size_t room = got < in_cap ? in_cap - got : 0;
            if (o.slow && room > 16384)
                room = 16384;
            if (room == 0) {
                char sink[4096]; /* more than expected: count it, keep nothing */
                ssize_t r = recv(fd, sink, sizeof sink, 0);
                if (r <= 0)
                    break;
                got += (size_t)r;
                continue;
            }
            ssize_t r = recv(fd, back + got, room, 0);
            if (r == 0)
                break; /* EOF */
            if (r < 0 && errno != EAGAIN && errno != EINTR)
                break;
            if (r > 0)
                got += (size_t)r;
            if (o.slow && got >= next_pause) {
                next_pause += 4u << 20;
                resume_at = evt_now() + 0.03;
            }
        }
    }
    if (sent >= out_n && o.half_close && !shut)
        shutdown(fd, SHUT_WR);
    if (o.written)
        *o.written = sent;
    return got;
}
