/* gx_server.h -- shared checks for the server/client grading suites 05-14
 * (header-only; each suite includes it).
 *
 * The server process, its drained output, transfers, fd counts, the fd limit,
 * sanitizer detection and /proc readings are tests/support/evserver.h's (one
 * behaviour for each, shared with the lesson suites). What is here is what
 * grading adds on top:
 *   gx_start()/gx_start_probe()  evs_start() under a per-test watchdog that
 *                          says what the test was waiting for;
 *   gx_exchange(), gx_compare(), gx_show()   one request, one exact reply, and
 *                          messages that show the difference;
 *   gx_check_*()           hostile clients: one byte at a time, half-close,
 *                          reset mid-reply, a client that never reads, 1000
 *                          connections, idle connections, a stalled loop, idle
 *                          CPU, fd and memory leaks.
 *
 * Every wait has a deadline; nothing sleeps to wait for readiness.
 */
#ifndef EVLAB_GX_SERVER_H
#define EVLAB_GX_SERVER_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evserver.h"
#include "evtest.h"
#include "grading.h"

/* ---- a time limit per test, that says what it was waiting for ---------------- */

/* Criterion 2.4 does not enforce .timeout here (a test that waits 100 s passes
 * after 100 s), so each test arms its own alarm from the limit GRADED gave it.
 * When it rings, the server is killed and the test fails naming the step it
 * was on (gx_step), instead of the whole suite being cut off. */
static char gx_step_buf[300] = "starting";
static pid_t gx_watch_pid;

static inline void gx_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void gx_step(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(gx_step_buf, sizeof gx_step_buf, fmt, ap);
    va_end(ap);
}

static void gx_on_alarm(int sig)
{
    (void)sig;
    if (gx_watch_pid > 0)
        kill(-gx_watch_pid, SIGKILL);
    cr_assert_fail("this test's time limit (%.0f s) ran out while %s",
                   criterion_current_test->data->timeout, gx_step_buf);
}

static inline void gx_watchdog(void)
{
    static bool armed;
    if (armed)
        return;
    armed = true;
    double t = criterion_current_test && criterion_current_test->data->timeout > 0
                   ? criterion_current_test->data->timeout
                   : 20;
    signal(SIGALRM, gx_on_alarm);
    alarm(t >= 3 ? (unsigned)t - 1 : 2); /* before Criterion's own, when that one works */
}

/* Start argv (its last args should include "--port", "0") with evs_start, under
 * the watchdog. On failure the test fails with what the program printed. */
static inline void gx_start_env(struct evs_server *s, const char *const argv[],
                                const char *const env[], double timeout_s)
{
    signal(SIGPIPE, SIG_IGN);
    gx_watchdog();
    gx_step("waiting for %s to print 'listening on 127.0.0.1:PORT'", argv[0]);
    evs_start(s, argv, env, timeout_s);
    gx_watch_pid = s->p.pid;
    gx_step("talking to the server");
}

static inline void gx_start(struct evs_server *s, const char *const argv[])
{
    gx_start_env(s, argv, NULL, 5);
}

/* How a server that is no longer alive (evs_alive) ended, for a message. */
static inline const char *gx_death(const struct evs_server *s)
{
    static char why[256];
    int st = evs_exit_status(s);
    if (st == -1)
        snprintf(why, sizeof why, "it is still running");
    else if (WIFSIGNALED(st))
        snprintf(why, sizeof why, "it was killed by signal %d (%s)%s", WTERMSIG(st),
                 strsignal(WTERMSIG(st)),
                 WTERMSIG(st) == SIGPIPE ? ": ignore SIGPIPE, or send with MSG_NOSIGNAL" : "");
    else
        snprintf(why, sizeof why, "it exited with code %d", WEXITSTATUS(st));
    return why;
}

static inline void gx_pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- talking to it ------------------------------------------------------------ */

/* evs_duplex() in the suites' argument order: write `out` while reading up to
 * `in_n` bytes; if shut_after, half-close once everything is written. Returns
 * the bytes read; *written gets the bytes written. */
static inline size_t gx_duplex(int fd, const void *out, size_t out_n, void *in, size_t in_n,
                               double timeout_s, size_t *written, bool shut_after)
{
    struct evs_duplex_opts o = {
        .timeout_s = timeout_s, .half_close = shut_after, .written = written};
    return evs_duplex(fd, out, out_n, in, in_n, o);
}

/* Describe how `got` differs from `want`, into msg. Returns true if equal. */
static inline bool gx_compare(const char *what, const void *want, size_t want_n, const void *got,
                              size_t got_n, char *msg, size_t msgsz)
{
    size_t n = want_n < got_n ? want_n : got_n;
    size_t d = evt_first_diff(want, got, n);
    if (got_n == want_n && d == n)
        return true;
    if (d < n)
        snprintf(msg, msgsz,
                 "%s: expected %zu bytes back, got %zu; the first difference is at offset %zu "
                 "(expected byte 0x%02x, got 0x%02x)",
                 what, want_n, got_n, d, ((const unsigned char *)want)[d],
                 ((const unsigned char *)got)[d]);
    else
        snprintf(msg, msgsz,
                 "%s: expected %zu bytes back, got %zu (what came back was correct as far "
                 "as it went)",
                 what, want_n, got_n);
    return false;
}

/* A printable copy of a reply, for messages. */
static inline const char *gx_show(const char *s, size_t n)
{
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof buf[0] - 8; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            b[o++] = '\\';
            b[o++] = 'n';
        } else if (c == '\r') {
            b[o++] = '\\';
            b[o++] = 'r';
        } else if (c < 32 || c > 126)
            o += (size_t)snprintf(b + o, 8, "\\x%02x", c);
        else
            b[o++] = (char)c;
    }
    b[o] = '\0';
    return b;
}

/* One request, one exact reply, on a new connection. */
static inline bool gx_exchange(int port, const char *req, const char *want, double timeout_s,
                               char *msg, size_t msgsz)
{
    int fd = evt_connect(port, timeout_s);
    if (fd < 0) {
        snprintf(msg, msgsz, "could not connect to 127.0.0.1:%d: %s", port, strerror(errno));
        return false;
    }
    size_t wn = strlen(want);
    char *got = calloc(1, wn + 1);
    size_t w = 0, r = gx_duplex(fd, req, strlen(req), got, wn, timeout_s, &w, false);
    close(fd);
    bool ok = r == wn && memcmp(got, want, wn) == 0;
    if (!ok)
        snprintf(msg, msgsz,
                 "sent \"%s\", expected \"%s\" back within %.1f s, got \"%s\" (%zu of %zu bytes)",
                 gx_show(req, strlen(req)), gx_show(want, wn), timeout_s, gx_show(got, r), r, wn);
    free(got);
    return ok;
}

/* Start, then one short exchange that every other check needs. If it fails,
 * the test stops at once with "not run: needs ...", instead of each test
 * waiting out its own deadlines on a server that answers nothing: feedback
 * on hanging code stays within seconds, and the first test (which does this
 * exchange as its own check) carries the real message. */
/* The server failed an exchange every later check needs: stop it and end
 * the test as "not run: needs NEEDS to pass first (WHAT[; the server died:
 * ...])". */
static inline void gx_not_run(struct evs_server *s, const char *needs, const char *what)
{
    bool alive = evs_alive(s);
    char death[256];
    snprintf(death, sizeof death, "%s", alive ? "" : gx_death(s));
    evs_stop(s, SIGKILL, 1);
    evs_free(s);
    cr_assert_fail("not run: needs %s to pass first (%s%s%s)", needs, what,
                   alive ? "" : "; the server died: ", death);
}

static inline void gx_start_probe(struct evs_server *s, const char *const argv[], const char *req,
                                  const char *want, double timeout_s, const char *first_test)
{
    gx_start_env(s, argv, NULL, 5);
    char msg[1024];
    gx_step("the first exchange (\"%s\") waited for its reply", gx_show(req, strlen(req)));
    if (!gx_exchange(s->port, req, want, timeout_s, msg, sizeof msg))
        gx_not_run(s, first_test, msg);
}

/* ---- memory checking ---------------------------------------------------------------- */

static inline bool gx_have_valgrind(void) { return access("/usr/bin/valgrind", X_OK) == 0; }

struct gx_mem {
    const char *argv[32];
    int log_fd; /* valgrind's report: an anonymous file, gone with this process */
    bool valgrind;
};

/* Build argv that runs prog under valgrind (leaks: check definite leaks too),
 * or directly when prog is sanitized (ASan/LSan report at exit) or there is no
 * valgrind. Returns false if neither tool can check prog. */
static inline bool gx_mem_argv(struct gx_mem *m, const char *const prog_argv[], bool leaks)
{
    memset(m, 0, sizeof *m);
    m->log_fd = -1;
    int i = 0;
    if (!evs_is_sanitized(prog_argv[0])) {
        if (!gx_have_valgrind())
            return false;
        /* Not a file in /tmp: a test that fails before it reads the report
         * would leave the file behind. The child inherits this descriptor. */
        m->log_fd = memfd_create("evlab-valgrind-log", 0);
        if (m->log_fd < 0)
            return false;
        static char logarg[32];
        snprintf(logarg, sizeof logarg, "--log-fd=%d", m->log_fd);
        m->argv[i++] = "/usr/bin/valgrind";
        m->argv[i++] = "-q";
        m->argv[i++] = "--error-exitcode=99";
        m->argv[i++] = leaks ? "--leak-check=full" : "--leak-check=no";
        m->argv[i++] = "--errors-for-leak-kinds=definite";
        m->argv[i++] = "--show-leak-kinds=definite";
        m->argv[i++] = logarg;
        m->valgrind = true;
    }
    for (int k = 0; prog_argv[k] && i < 31; k++)
        m->argv[i++] = prog_argv[k];
    m->argv[i] = NULL;
    return true;
}

/* What valgrind said (or the sanitizer's stderr from its "ERROR: " on, else
 * the end of stderr), trimmed, for a message. */
static inline const char *gx_mem_report(struct gx_mem *m, const char *stderr_text)
{
    static char out[2048];
    out[0] = '\0';
    if (m->valgrind) {
        ssize_t n = pread(m->log_fd, out, sizeof out - 1, 0);
        out[n > 0 ? n : 0] = '\0';
        close(m->log_fd);
        m->log_fd = -1;
    } else if (stderr_text) {
        const char *s = strstr(stderr_text, "ERROR: ");
        size_t n = strlen(stderr_text);
        if (!s)
            s = n > 2000 ? stderr_text + n - 2000 : stderr_text;
        snprintf(out, sizeof out, "%.2000s", s);
    }
    return out;
}

/* ---- the checks issue 14 added: CPU, stalls, pauses, half-close with data queued -- */

/* CPU seconds the process used during window_s of wall time. */
static inline double gx_cpu_over(pid_t pid, double window_s)
{
    double c0 = evs_cpu_seconds(pid);
    gx_pause_ms((int)(window_s * 1000));
    double c1 = evs_cpu_seconds(pid);
    return c0 < 0 || c1 < 0 ? -1 : c1 - c0;
}

/* The server is waiting (`situation` says on what): over 0.8 s it must use
 * less than 5% of one CPU. A loop that spins (a level-triggered event that is
 * always ready, EV_WRITE left on with nothing to write, a read of 0 ignored, a
 * busy poll) uses all the CPU it is given, even on a loaded machine far more
 * than that; a loop that waits in the kernel uses none. */
static inline void gx_check_idle_cpu(pid_t pid, const char *situation, const char *hint)
{
    double cpu = gx_cpu_over(pid, 0.8);
    cr_assert(cpu >= 0, "cannot read the CPU time of process %d from /proc", (int)pid);
    cr_assert(cpu < 0.04,
              "%s, the process used %.0f ms of CPU in 800 ms: it spins instead of waiting in the "
              "loop. %s",
              situation, cpu * 1000, hint);
}

/* A socket connected to 127.0.0.1:port whose receive buffer is small (32 KiB,
 * set before connect so the window stays small): a client that reads slowly
 * then really makes the server queue its output, as a client across a network
 * would, instead of the kernel's buffers absorbing megabytes. */
static inline int gx_connect_small(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int sz = 32 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connect, send the n random bytes of `out`, read nothing for pause_s, then read
 * everything: every byte must come back in order, with no gap of stall_s
 * without progress. Returns the fd (still open) for more checks; on failure
 * the test fails with what was missing. */
static inline int gx_check_pause_resume(struct evs_server *s, size_t n, double pause_s,
                                        double stall_s, unsigned seed)
{
    int fd = gx_connect_small(s->port);
    cr_assert(fd >= 0, "could not connect to the server");
    char *out = malloc(n), *in = malloc(n);
    evt_random_bytes(out, n, seed);
    double t0 = evt_now(), last = t0;
    size_t w = 0, r = 0;
    bool gone = false;
    while (r < n) {
        double now = evt_now();
        bool reading = now - t0 >= pause_s;
        if (reading && now - last > stall_s)
            break;
        struct pollfd pf = {fd, (short)((reading ? POLLIN : 0) | (w < n ? POLLOUT : 0)), 0};
        int wait_ms = reading ? 50 : (int)((t0 + pause_s - now) * 1000) + 1;
        if (poll(&pf, 1, wait_ms > 50 ? 50 : wait_ms) <= 0)
            continue;
        if ((pf.revents & POLLOUT) && w < n) {
            ssize_t k =
                send(fd, out + w, n - w > 65536 ? 65536 : n - w, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (k > 0)
                w += (size_t)k;
            else if (k < 0 && errno != EAGAIN && errno != EINTR) {
                gone = true;
                break;
            }
        }
        if (reading && (pf.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t k = recv(fd, in + r, n - r, MSG_DONTWAIT);
            if (k > 0) {
                r += (size_t)k;
                last = evt_now();
            } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                gone = true;
                break;
            }
        } else if (!reading)
            last = evt_now();
    }
    size_t d = evt_first_diff(out, in, r);
    free(out);
    free(in);
    bool alive = evs_alive(s);
    cr_assert(alive, "a client paused reading for %.1f s while sending, and the server died: %s",
              pause_s, gx_death(s));
    cr_assert(d == r,
              "a client sent %zu random bytes and read nothing for %.1f s, then read: the echo "
              "differs from what was sent at offset %zu. Unsent data was dropped or reordered: "
              "keep what send() could not take and send it later, in order",
              w, pause_s, d);
    cr_assert(r == n,
              "a client sent %zu random bytes and read nothing for %.1f s, then read everything: "
              "%zu of %zu bytes came back (%zu sent), then %s%.1f s. %s",
              n, pause_s, r, n, w,
              gone ? "the server closed the connection after " : "nothing more for ",
              gone ? evt_now() - t0 : stall_s,
              gone    ? "A slow reader is not an error: keep the connection and wait for EV_WRITE"
              : w < n ? "Reading from this client was switched off and never switched on again: "
                        "when the queued echo has drained, enable EV_READ again"
                      : "Part of the echo was lost: when send() takes only part of a buffer (or "
                        "fails with EAGAIN), keep the rest and send it on the next EV_WRITE");
    return fd;
}

/* Has the server (pid, listening on port) stopped reading from the client
 * connected on fd? True when it sleeps (state S in /proc/PID/stat) while its end
 * of the connection holds bytes it has not read (rx_queue in /proc/net/tcp): a
 * loop that watched that socket for EV_READ would be running, not sleeping.
 * Unlike "nothing has moved for a while", a server that is merely descheduled
 * on a loaded machine (state R) does not count. */
static inline bool gx_stopped_reading(pid_t pid, int port, int fd)
{
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    if (getsockname(fd, (struct sockaddr *)&me, &len) < 0)
        return false;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *st = strrchr(buf, ')');
    if (!st || st[1] != ' ' || st[2] != 'S')
        return false;
    f = fopen("/proc/net/tcp", "r");
    if (!f)
        return false;
    unsigned long rx = 0;
    bool found = false;
    char line[512];
    while (!found && fgets(line, sizeof line, f)) {
        unsigned lport, rport;
        unsigned long tx, q;
        if (sscanf(line, " %*d: %*x:%x %*x:%x %*x %lx:%lx", &lport, &rport, &tx, &q) == 4 &&
            (int)lport == port && rport == ntohs(me.sin_port)) {
            rx = q;
            found = true;
        }
    }
    fclose(f);
    return found && rx > 0;
}

/* Client A (fd) sent the first `sent` bytes of `bulk` without reading its echo;
 * now it reads: every byte must come back, in order, with no gap of 2 s. Closes
 * fd; on failure the test fails with `hint`. */
static inline void gx_check_reads_back(int fd, const char *bulk, size_t sent, const char *hint)
{
    char *in = malloc(sent + 1);
    size_t r = 0;
    for (double last = evt_now(); r < sent && evt_now() - last < 2;) {
        size_t k = evt_read_n(fd, in + r, sent - r, 0.2);
        if (k)
            last = evt_now();
        r += k;
    }
    size_t d = evt_first_diff(bulk, in, r);
    close(fd);
    free(in);
    cr_assert(d == r && r == sent,
              "client A sent %zu bytes without reading, then read: %zu came back%s%zu. %s", sent, r,
              d < r ? ", and they differ from what was sent at offset " : ", the first ",
              d < r ? d : r, hint);
}

/* Half-close with data queued: send up to n random bytes without reading a
 * single one (stop once the server has taken nothing for 0.3 s), shut down the
 * write side, wait 0.3 s, and only then read. Everything sent must come back,
 * then EOF. n must be more than the kernel's buffers hold (over 2 MiB on
 * loopback), so that the server has echo queued when it sees the EOF. */
static inline void gx_check_halfclose_queued(struct evs_server *s, size_t n, unsigned seed)
{
    int fd = gx_connect_small(s->port);
    cr_assert(fd >= 0, "could not connect to the server");
    char *out = malloc(n), *in = malloc(n);
    evt_random_bytes(out, n, seed);
    size_t w = 0;
    double last = evt_now();
    while (w < n && evt_now() - last < 0.3) {
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        ssize_t k = send(fd, out + w, n - w > 65536 ? 65536 : n - w, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
            w += (size_t)k;
            last = evt_now();
        } else if (k < 0 && errno != EAGAIN && errno != EINTR)
            break;
    }
    shutdown(fd, SHUT_WR);
    /* Give the server time to read the EOF while its echo is still queued
     * (what kernel buffers cannot hold), before reading anything. */
    gx_pause_ms(300);
    /* Then read slowly (16 KiB a millisecond at most). A client that reads
     * as fast as the kernel lets the server's queue drain into the kernel
     * before the server reaches the EOF, and a server that frees at EOF would
     * lose nothing by luck; a slow reader keeps the queue full at EOF. */
    size_t r = 0;
    bool eof = false, reset = false;
    last = evt_now();
    while (evt_now() - last < 3) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        size_t want = r < n ? n - r : 1;
        ssize_t k = recv(fd, in + r, want > 16384 ? 16384 : want, MSG_DONTWAIT);
        if (k > 0) {
            r += (size_t)k;
            last = evt_now();
            if (r > n)
                break;
            gx_pause_ms(1);
        } else if (k == 0) {
            eof = true;
            break;
        } else if (errno != EAGAIN && errno != EINTR) {
            reset = true;
            break;
        }
    }
    size_t d = evt_first_diff(out, in, r < w ? r : w);
    if (getenv("GX_DEBUG"))
        fprintf(stderr, "halfclose: sent %zu got %zu eof %d reset %d\n", w, r, eof, reset);
    close(fd);
    free(out);
    free(in);
    bool alive = evs_alive(s);
    cr_assert(alive, "a client half-closed with its echo still queued, and the server died: %s",
              gx_death(s));
    cr_assert(r >= w && d == w,
              "a client sent %zu bytes without reading any, shut down its write side (half-close), "
              "then read: it got %zu of them back before %s. On EOF the client still wants its "
              "echo: stop reading, let the queued output drain, and close only when it is empty",
              w, r < w ? r : d,
              reset ? "the connection was reset"
              : eof ? "the server closed the connection"
                    : "nothing more came for 3 s");
    cr_assert(
        eof,
        "a client sent %zu bytes, half-closed and got every byte back, but the server did not "
        "close its side within 3 s: once the queued echo has drained after EOF, close",
        w);
}

/* Stalled-loop detector: client B's round trip, while `situation` holds, must
 * take under limit_s. It waits up to limit_s + 4 s to measure how long the
 * loop really left B waiting, and says so. */
static inline void gx_check_round_trip(struct evs_server *s, double limit_s, const char *situation)
{
    int b = evt_connect(s->port, limit_s + 4);
    cr_assert(b >= 0, "%s, client B could not connect", situation);
    const char req[] = "B here\n";
    char got[sizeof req] = "";
    double t0 = evt_now();
    size_t w = evt_write_all(b, req, sizeof req - 1, limit_s + 4);
    size_t r = w == sizeof req - 1 ? evt_read_n(b, got, sizeof req - 1, limit_s + 4) : 0;
    double dt = evt_now() - t0;
    close(b);
    bool alive = evs_alive(s);
    cr_assert(alive, "%s, the server died: %s", situation, gx_death(s));
    bool answered = r == sizeof req - 1 && memcmp(got, req, r) == 0;
    cr_assert(answered && dt < limit_s,
              "%s, the loop did not answer client B for %.1f s%s: something in a callback blocks "
              "(a sleep, a blocking send() or recv(), a loop that waits for one client). Return "
              "to the loop and let an event call you back",
              situation, dt, answered ? "" : " (no answer at all)");
}

/* SIGTERM with one client connected: the server must exit 0 within 5 s. */
static inline void gx_check_sigterm(struct evs_server *s)
{
    int fd = evt_connect(s->port, 3);
    cr_assert(fd >= 0, "could not connect to the server");
    char msg[1024];
    bool ok = gx_exchange(s->port, "bye\n", "bye\n", 3, msg, sizeof msg);
    int st = evs_stop(s, SIGTERM, 5);
    close(fd);
    (void)ok;
    cr_assert(!(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM),
              "SIGTERM killed the server (the default action) instead of ending its loop: add "
              "evsignal_new(base, SIGTERM, cb, ...) whose callback calls event_base_loopbreak(), "
              "then free everything and return 0 from main");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "after SIGTERM (one client still connected) the server did not exit 0: %s%s",
              WIFSIGNALED(st) ? "it died of signal " : "exit code ",
              WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : (WEXITSTATUS(st) ? "non-zero" : "0"));
}

/* Everything the server printed on stdout after the "listening on" line (once
 * it is stopped: evs_stop() collects the rest of its output). */
static inline const char *gx_stdout_after_port(const struct evs_server *s)
{
    const char *rest = s->p.out ? s->p.out : "";
    const char *nl = strstr(rest, "listening on ");
    if (nl && (nl = strchr(nl, '\n')))
        rest = nl + 1;
    return rest;
}

/* ---- ready-made hostile-client checks (they assert) ---------------------------- */

/* A request sent one byte at a time (TCP_NODELAY, 2 ms apart) must get `want`. */
static inline void gx_check_one_byte(struct evs_server *s, const char *req, const char *want)
{
    int fd = evt_connect(s->port, 3);
    cr_assert(fd >= 0, "could not connect to the server");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (size_t i = 0; req[i]; i++) {
        cr_assert_eq(evt_write_all(fd, req + i, 1, 2), 1, "could not send byte %zu", i);
        gx_pause_ms(2);
    }
    size_t wn = strlen(want);
    char *got = calloc(1, wn + 1);
    size_t r = evt_read_n(fd, got, wn, 4);
    close(fd);
    cr_assert(r == wn && memcmp(got, want, wn) == 0,
              "sent \"%s\" one byte at a time; expected \"%s\" back, got \"%s\": a read may return "
              "any part of what the client sent, so keep what has arrived until it is complete",
              gx_show(req, strlen(req)), gx_show(want, wn), gx_show(got, r));
    free(got);
}

/* n connections open at once; each sends `req` (with %d replaced by its index
 * if fmt) and must get its reply. Raises RLIMIT_NOFILE first. */
static inline void gx_check_many(struct evs_server *s, int n, const char *req_fmt,
                                 const char *want_fmt)
{
    evs_raise_nofile((rlim_t)n * 2 + 64);
    int *fds = calloc((size_t)n, sizeof *fds);
    /* All n connect()s start at once (non-blocking), as n clients arriving
     * together would: the listen() backlog has to hold what the loop has not
     * accepted yet. A SYN the kernel drops is retried only after 1 s, then 3 s. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((unsigned short)s->port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fds[i] >= 0 && connect(fds[i], (struct sockaddr *)&sin, sizeof sin) < 0 &&
            errno != EINPROGRESS) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
    gx_step("%d clients were connecting at once", n);
    double cdeadline = evt_now() + 4;
    int opened = 0;
    for (; opened < n; opened++) {
        int fd = fds[opened];
        if (fd < 0)
            break;
        struct pollfd pf = {fd, POLLOUT, 0};
        double left = cdeadline - evt_now();
        int err = 0;
        socklen_t el = sizeof err;
        if (poll(&pf, 1, left > 0 ? (int)(left * 1000) + 1 : 0) <= 0) {
            errno = ETIMEDOUT;
            break;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
            errno = err ? err : errno;
            break;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    }
    if (opened < n)
        for (int i = opened; i < n; i++)
            if (fds[i] >= 0)
                close(fds[i]);
    bool alive = evs_alive(s);
    cr_assert(opened == n, "only %d of %d connections could be opened at once (%s)%s%s%s", opened,
              n, strerror(errno), alive ? "" : "; the server died: ", alive ? "" : gx_death(s),
              alive ? ". The kernel queues connections the loop has not accepted yet only up to "
                      "the listen() backlog: either the backlog is small (for example "
                      "listen(fd, 5); use 128 or more, or SOMAXCONN), or the loop is not "
                      "accepting because a callback blocks"
                    : "");
    char req[256], want[256], got[256];
    for (int i = 0; i < n; i++) {
        snprintf(req, sizeof req, req_fmt, i);
        cr_assert_eq(evt_write_all(fds[i], req, strlen(req), 3), strlen(req),
                     "could not send a request on connection %d of %d", i, n);
    }
    int bad = -1, answered = 0;
    size_t r = 0;
    /* One deadline for all the replies: a few seconds in all, never 5 s each. */
    double deadline = evt_now() + 6;
    for (int i = 0; i < n; i++) {
        snprintf(want, sizeof want, want_fmt, i);
        memset(got, 0, sizeof got);
        double left = deadline - evt_now();
        r = evt_read_n(fds[i], got, strlen(want), left > 0.05 ? left : 0.05);
        if (r != strlen(want) || memcmp(got, want, r) != 0) {
            bad = i;
            break;
        }
        answered++;
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    if (bad >= 0) {
        snprintf(req, sizeof req, req_fmt, bad);
        alive = evs_alive(s);
        cr_assert_fail(
            "with %d connections open at once, connection %d sent \"%s\" and expected \"%s\", "
            "got \"%s\"%s%s%s",
            n, bad, gx_show(req, strlen(req)), gx_show(want, strlen(want)), gx_show(got, r),
            alive ? "" : "; the server died: ", alive ? "" : gx_death(s),
            alive && answered > 0 && r == 0
                ? ". The connections before it were answered: the likely cause is a small listen() "
                  "backlog (for example listen(fd, 5)), so the kernel dropped connections it could "
                  "not queue; use 128 or more, or SOMAXCONN"
                : "");
    }
}

/* 50 idle connections stay open; a new client is still served. */
static inline void gx_check_idle(struct evs_server *s, const char *req, const char *want)
{
    int fds[50];
    for (int i = 0; i < 50; i++) {
        fds[i] = evt_connect(s->port, 3);
        cr_assert(fds[i] >= 0, "could not open idle connection %d", i);
    }
    char msg[1024];
    bool ok = gx_exchange(s->port, req, want, 3, msg, sizeof msg);
    for (int i = 0; i < 50; i++)
        close(fds[i]);
    cr_assert(ok, "with 50 idle connections open: %s", msg);
}

/* Client A sends a request and resets the connection before reading the
 * reply; repeat; the server must survive and serve client B. */
static inline void gx_check_reset(struct evs_server *s, const char *bulk, size_t bulk_n,
                                  size_t read_first, const char *req, const char *want)
{
    for (int round = 0; round < 20; round++) {
        int fd = evt_connect(s->port, 3);
        if (fd < 0) {
            gx_pause_ms(100);
            bool alive = evs_alive(s);
            cr_assert_fail("could not connect after %d clients closed or reset mid-reply%s%s",
                           round, alive ? "" : "; the server died: ", alive ? "" : gx_death(s));
        }
        char *tmp = malloc(read_first + 1);
        size_t w = 0;
        if (round % 2) {
            /* Send a request and close without reading: an orderly close
             * (FIN), so the server's socket is in CLOSE_WAIT when its first
             * echo comes back as a reset, and its next send() fails with
             * EPIPE, which raises SIGPIPE. TCP_CORK holds the request (less
             * than one loopback segment) until close(), so no echo can
             * arrive first and turn the close into a reset. */
            int on = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
            evt_write_all(fd, bulk, bulk_n < 32768 ? bulk_n : 32768, 3);
            close(fd);
        } else {
            gx_duplex(fd, bulk, bulk_n, tmp, read_first, 3, &w, false);
            evt_reset_close(fd);
        }
        free(tmp);
    }
    char msg[1024];
    bool ok = gx_exchange(s->port, req, want, 3, msg, sizeof msg);
    bool alive = evs_alive(s);
    cr_assert(alive,
              "20 clients closed or reset their connection in the middle of a reply and the "
              "server died: %s",
              gx_death(s));
    cr_assert(ok, "after 20 clients reset in the middle of a reply: %s", msg);
}

/* Open and close (FIN or RST) 200 connections, each doing one exchange; the
 * server's fd count must return to where it was. */
static inline void gx_check_fd_leak(struct evs_server *s, const char *req, const char *want)
{
    char msg[1024];
    cr_assert(gx_exchange(s->port, req, want, 3, msg, sizeof msg), "%s", msg);
    int before = evs_wait_fds(s->p.pid, 0, 0.3);
    cr_assert(before > 0, "cannot read /proc/%d/fd", (int)s->p.pid);
    for (int i = 0; i < 200; i++) {
        gx_step("client %d of 200 (each connects, sends \"%s\" and waits for its echo) was "
                "waiting: the loop is slow to accept or to answer",
                i + 1, gx_show(req, strlen(req)));
        int fd = evt_connect(s->port, 3);
        cr_assert(fd >= 0, "could not connect (connection %d)", i);
        size_t wn = strlen(want);
        char got[512];
        size_t w = 0, r = gx_duplex(fd, req, strlen(req), got, wn, 3, &w, false);
        cr_assert_eq(r, wn, "connection %d: expected %zu bytes back, got %zu", i, wn, r);
        if (i % 2)
            evt_reset_close(fd);
        else
            close(fd);
    }
    int after = evs_wait_fds(s->p.pid, before, 3);
    cr_assert(after <= before,
              "the server had %d fds open before 200 clients came and went, and %d "
              "after they had all closed (waited 3 s): close() each connection's socket when "
              "the client goes (EOF or error)",
              before, after);
}

/* Run argv under valgrind (or LSan), do `rounds` exchanges on fresh
 * connections (closed by the client), then SIGTERM: the exit must be clean. */
static inline void gx_check_memory(const char *const argv[], bool leaks, int rounds,
                                   const char *req, size_t req_n, size_t reply_n)
{
    struct gx_mem m;
    if (!gx_mem_argv(&m, argv, leaks))
        cr_skip_test("neither valgrind nor a sanitizer build is available");
    struct evs_server s;
    gx_start_env(&s, m.argv, NULL, 10);
    char *got = malloc(reply_n + 1);
    /* One deadline for all the rounds, so that a server that hangs costs this
     * test at most a few seconds, never rounds x the per-round limit. */
    double deadline = evt_now() + 6;
    for (int i = 0; i < rounds; i++) {
        gx_step("connection %d of %d under %s waited for its reply", i + 1, rounds,
                m.valgrind ? "valgrind" : "the sanitizer");
        double left = deadline - evt_now();
        int fd = evt_connect(s.port, left > 1 ? left : 1);
        cr_assert(fd >= 0, "could not connect (connection %d)", i);
        size_t w = 0, r = gx_duplex(fd, req, req_n, got, reply_n, left > 1 ? left : 1, &w, false);
        close(fd);
        if (r != reply_n || !evs_alive(&s)) {
            evs_stop(&s, SIGKILL, 2);
            const char *rep = gx_mem_report(&m, s.p.err);
            cr_assert_fail("connection %d: expected %zu bytes back, got %zu under %s.\n%s", i,
                           reply_n, r, m.valgrind ? "valgrind" : "the sanitizer", rep);
        }
    }
    free(got);
    gx_pause_ms(200); /* let it see the last EOFs before the signal */
    int st = evs_stop(&s, SIGTERM, 20);
    const char *rep = gx_mem_report(&m, s.p.err);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strstr(rep, "definitely lost") &&
        !strstr(rep, "Invalid ") && !strstr(rep, "ERROR: ")) {
        evs_free(&s);
        return;
    }
    bool found =
        strstr(rep, "definitely lost") || strstr(rep, "Invalid ") || strstr(rep, "ERROR: ");
    /* Valgrind checks leaks even when SIGTERM kills the program (it runs its
     * exit path for a fatal signal), so a missing SIGTERM handler costs only
     * the test that checks for one, not this one. */
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM && m.valgrind && !found) {
        evs_free(&s);
        return;
    }
    if (WIFSIGNALED(st) && !found)
        cr_assert_fail(
            "after SIGTERM the server died of signal %d instead of freeing everything and "
            "exiting 0, so its memory cannot be checked: handle SIGINT/SIGTERM with "
            "evsignal_new() and break the loop.\n%s",
            WTERMSIG(st), rep);
    cr_assert_fail("%s found %s after %d connections and SIGTERM (exit code %d):\n%s",
                   m.valgrind ? "valgrind" : "the sanitizer",
                   leaks ? "leaked memory or memory errors" : "memory errors", rounds,
                   WIFEXITED(st) ? WEXITSTATUS(st) : -1, rep);
}

#endif
