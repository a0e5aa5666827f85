/* 10-echo-common.h -- helpers shared by the lesson 10 suites (10-echo-server.c,
 * 10-echo-robustness.c): a server running in the background whose output is
 * drained by a thread (so a chatty server never blocks on a full pipe), and
 * clients that talk to it over real sockets on 127.0.0.1.
 */
#ifndef EVLAB_ECHO_COMMON_H
#define EVLAB_ECHO_COMMON_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evtest.h"

/* build/lessons/10-echo-server/NAME (or the same under $EVLAB_BUILD) */
static inline const char *LESSON10(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "lessons/10-echo-server/%s", name);
    return evt_prog(rel);
}

static inline bool asan_build(void) { return strstr(evt_build_dir(), "asan") != NULL; }

/* ---- a server in the background ------------------------------------------------ */

struct srv {
    struct evt_proc p;
    int port;
    pthread_t th;
    volatile int draining;
    bool thread_on;
};

static void *srv_drain_main(void *arg)
{
    struct srv *s = arg;
    while (s->draining && (s->p.out_fd >= 0 || s->p.err_fd >= 0))
        evt_drain(&s->p, 0.02);
    return NULL;
}

static inline void srv_drain_on(struct srv *s)
{
    if (s->thread_on)
        return;
    s->draining = 1;
    pthread_create(&s->th, NULL, srv_drain_main, s);
    s->thread_on = true;
}

/* Stop the drainer so the test may read s->p.out / s->p.err safely. */
static inline void srv_drain_off(struct srv *s)
{
    if (!s->thread_on)
        return;
    s->draining = 0;
    pthread_join(s->th, NULL);
    s->thread_on = false;
}

/* Start PROG --port 0 EXTRA... with env; wait for its port. */
static inline void srv_start(struct srv *s, const char *prog, const char *const extra[],
                             const char *const env[])
{
    const char *argv[32] = {prog, "--port", "0"};
    int n = 3;
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    memset(s, 0, sizeof *s);
    cr_assert_eq(evt_spawn(&s->p, argv, env), 0, "cannot start %s", prog);
    s->port = evt_wait_port(&s->p, 30);
    cr_assert_gt(s->port, 0,
                 "%s never printed 'listening on 127.0.0.1:PORT'.\nstdout: %s\nstderr: %s", prog,
                 s->p.out, s->p.err);
    srv_drain_on(s);
}

/* Send sig, wait for the exit; returns the wait status. Output is complete afterwards. */
static inline int srv_stop(struct srv *s, int sig, double timeout_s)
{
    srv_drain_off(s);
    return evt_stop(&s->p, sig, timeout_s);
}

static inline void srv_free(struct srv *s)
{
    srv_drain_off(s);
    evt_proc_free(&s->p);
}

/* Still running? (WNOWAIT: a dead child stays a zombie, so evt_stop or
 * evt_wait_exit still gets its status.) */
static inline bool srv_alive(struct srv *s)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (s->p.pid <= 0)
        return false;
    if (waitid(P_PID, (id_t)s->p.pid, &info, WEXITED | WNOHANG | WNOWAIT) < 0)
        return false;
    return info.si_pid == 0;
}

/* Wait until the server holds at most `target` fds (it closes asynchronously
 * after a reset). Returns the last count. */
static inline int wait_fds_at_most(pid_t pid, int target, double timeout_s)
{
    double deadline = evt_now() + timeout_s;
    int n;
    while ((n = evt_count_fds(pid)) > target && evt_now() < deadline)
        poll(NULL, 0, 10);
    return n;
}

/* ---- clients ------------------------------------------------------------------------ */

static inline void raise_nofile(rlim_t want)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        cr_skip_test("RLIMIT_NOFILE hard limit is %lu, this test needs %lu",
                     (unsigned long)rl.rlim_max, (unsigned long)want);
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
}

/* One round trip: send msg, expect exactly it back. */
static inline void echo_once(int port, const char *msg, size_t len)
{
    int fd = evt_connect(port, 5);
    cr_assert_geq(fd, 0, "connect: %s", strerror(errno));
    cr_assert_eq(evt_write_all(fd, msg, len, 5), len);
    char *back = malloc(len + 1);
    size_t got = evt_read_n(fd, back, len, 5);
    cr_assert_eq(got, len, "expected %zu bytes back, got %zu", len, got);
    cr_assert_eq(memcmp(back, msg, len), 0, "echo differs at offset %zu",
                 evt_first_diff(back, msg, len));
    free(back);
    close(fd);
}

/* Write `n` bytes of `data` while reading the reply into `back`, on one fd.
 * slow: read at most 16 KiB per wake-up and stop reading for 30 ms after each
 * 4 MiB, so the server's output backs up. half_close: shutdown(SHUT_WR) once
 * everything is written, then read until EOF. Returns the bytes read back. */
static inline size_t transfer(int fd, const unsigned char *data, size_t n, unsigned char *back,
                              size_t back_cap, bool slow, bool half_close, double timeout_s)
{
    double deadline = evt_now() + timeout_s, resume_at = 0;
    size_t sent = 0, got = 0, next_pause = 4u << 20;
    bool shut = false;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (evt_now() < deadline) {
        if (half_close ? false : got >= n)
            break;
        bool reading = evt_now() >= resume_at;
        struct pollfd pf = {fd, (short)((reading ? POLLIN : 0) | (sent < n ? POLLOUT : 0)), 0};
        if (sent >= n && half_close && !shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        int ms = reading ? 100 : (int)((resume_at - evt_now()) * 1000) + 1;
        if (poll(&pf, 1, ms) < 0 && errno != EINTR)
            break;
        if (pf.revents & POLLOUT) {
            ssize_t w = send(fd, data + sent, n - sent > 262144 ? 262144 : n - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                break;
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            size_t room = back_cap - got;
            if (slow && room > 16384)
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
            if (slow && got >= next_pause) {
                next_pause += 4u << 20;
                resume_at = evt_now() + 0.03;
            }
        }
    }
    return got;
}

/* Check a full echo of `n` random bytes; slow/half_close as in transfer(). */
static inline void big_echo(int port, size_t n, bool slow, bool half_close, unsigned seed)
{
    unsigned char *data = malloc(n), *back = malloc(n);
    cr_assert(data && back);
    evt_random_bytes(data, n, seed);
    int fd = evt_connect(port, 5);
    cr_assert_geq(fd, 0);
    size_t got = transfer(fd, data, n, back, n, slow, half_close, 60);
    cr_assert_eq(got, n, "expected %zu bytes back, got %zu (first difference at %zu)", n, got,
                 evt_first_diff(data, back, got < n ? got : n));
    size_t d = evt_first_diff(data, back, n);
    cr_assert_eq(d, n, "echo is not byte-exact: first difference at offset %zu of %zu", d, n);
    if (half_close)
        cr_assert(evt_wait_eof(fd, 5), "after shutdown(SHUT_WR) the server must close");
    close(fd);
    free(data);
    free(back);
}

/* The stream push_until_stall() sends: byte k is push_byte(k). Lines of 63
 * digits, so line_echo answers them unchanged too, with a NUL byte every 512
 * (so seed_echo's printf("%s") stops inside its buffer: in the ASan build
 * the tests show its other failures, not the overflow again). */
static inline unsigned char push_byte(size_t k)
{
    if (k % 512 == 510)
        return 0;
    return (k % 64 == 63) ? '\n' : (unsigned char)('0' + k % 8); /* period divides 64 KiB */
}

/* How many bytes a client that never reads can push before the server stops
 * taking them (nothing accepted for 300 ms), up to `limit`. */
static inline size_t push_until_stall_for(int fd, size_t limit, double stall_s)
{
    static unsigned char chunk[65536];
    for (size_t k = 0; k < sizeof chunk; k++)
        chunk[k] = push_byte(k);
    size_t sent = 0;
    double last = evt_now();
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (sent < limit && evt_now() - last < stall_s) {
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        size_t off = sent % sizeof chunk;
        ssize_t w = send(fd, chunk + off, sizeof chunk - off, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
            last = evt_now();
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            break;
        }
    }
    return sent;
}

static inline size_t push_until_stall(int fd, size_t limit)
{
    return push_until_stall_for(fd, limit, 0.3);
}

/* Seconds of CPU (user+system) the process has used so far. */
static inline double proc_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

#endif
