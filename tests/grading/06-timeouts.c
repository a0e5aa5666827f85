/* Grading for exercise 06 (timeouts): the `idle_echo` server.
 *
 * Real sockets and the suite's own clock: an idle client must be closed
 * after about --idle-ms, a client that keeps talking must not be, each
 * connection has its own clock, and closed connections leave no fd behind.
 * Bounds are generous; the only pacing is the client's own traffic.
 */
#include "gx_server.h" /* CPU, pause-then-resume, half-close with echo queued, watchdog */

#define IDLE_MS "300"
#define IDLE 0.3

static int start(struct evt_proc *p)
{
    signal(SIGPIPE, SIG_IGN);
    const char *prog = evt_target("idle_echo");
    cr_assert_eq(evt_spawn(p, EVT_ARGV(prog, "--idle-ms", IDLE_MS, "--port", "0"), NULL), 0);
    int port = evt_wait_port(p, 5);
    if (port <= 0) {
        evt_stop(p, SIGKILL, 1);
        cr_assert_fail("idle_echo --idle-ms " IDLE_MS
                       " --port 0 never printed \"listening on 127.0.0.1:PORT\"; "
                       "stdout: %.300s stderr: %.300s",
                       p->out, p->err);
    }
    return port;
}

static void pause_s(double s) { poll(NULL, 0, (int)(s * 1000)); }

/* Send `msg` and expect it back; fails the test with `who` in the message. */
static void echo(int fd, const char *msg, size_t n, const char *who)
{
    char *got = malloc(n + 1);
    cr_assert_eq(evt_write_all(fd, msg, n, 3), n,
                 "%s: could not send %zu bytes (the server closed?)", who, n);
    size_t r = evt_read_n(fd, got, n, 3);
    size_t at = evt_first_diff(got, msg, r);
    cr_assert(r == n && at == n,
              "%s: sent %zu bytes, got %zu back%s (first difference at offset %zu)", who, n, r,
              r < n ? ": the connection closed or stalled" : "", at);
    free(got);
}

/* Wait for EOF; returns seconds from `since`, or -1 if none within limit. */
static double eof_after(int fd, double since, double limit)
{
    return evt_wait_eof(fd, limit) ? evt_now() - since : -1;
}

GRADED(timeouts, t01_idle_client_closed, 3, 10.0,
       "a client silent for --idle-ms is closed, not sooner")
{
    struct evt_proc p;
    int port = start(&p);
    int fd = evt_connect(port, 3);
    cr_assert(fd >= 0, "could not connect: %s", strerror(errno));
    echo(fd, "hi\n", 3, "client");
    double t0 = evt_now();
    double t = eof_after(fd, t0, 3);
    cr_assert(t >= 0,
              "the client sent nothing for 3 s and the connection is still open: it must be closed "
              "after " IDLE_MS " ms of silence");
    cr_assert(t >= IDLE - 0.05,
              "the connection closed %.0f ms after the client's last bytes; the idle limit "
              "is " IDLE_MS " ms",
              t * 1000);
    cr_assert(t <= IDLE + 1.5,
              "the connection closed only %.0f ms after the client went quiet "
              "(--idle-ms " IDLE_MS ")",
              t * 1000);
    close(fd);
    evt_drain(&p, 0.3);
    bool printed = strstr(p.out, "idle: closed a client") != NULL;
    int st = evt_stop(&p, SIGTERM, 3);
    cr_assert(printed || !strstr(p.out, "idle: closed a client"),
              "\"idle: closed a client\" appeared only when the server exited, not when it "
              "closed the client: your output was not flushed. stdout is a pipe here, so printf() "
              "output waits in a buffer: call fflush(stdout) after printing, or "
              "setvbuf(stdout, NULL, _IOLBF, 0) once at the start");
    cr_assert(printed, "print \"idle: closed a client\" when you close one; stdout: %.300s", p.out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "SIGTERM must end the server with exit 0 (as the "
              "starter does)");
    evt_proc_free(&p);
}

GRADED(timeouts, t02_active_client_kept, 3, 10.0, "every byte received restarts the idle clock")
{
    struct evt_proc p;
    int port = start(&p);
    int fd = evt_connect(port, 3);
    cr_assert(fd >= 0);
    /* 12 small messages 100 ms apart: 1.2 s in all, four times the limit */
    double t0 = evt_now();
    for (int i = 0; i < 12; i++) {
        char msg[32], who[64];
        snprintf(msg, sizeof msg, "ping %d\n", i);
        snprintf(who, sizeof who, "message %d, %.0f ms after the first", i,
                 (evt_now() - t0) * 1000);
        echo(fd, msg, strlen(msg), who);
        pause_s(0.1);
    }
    size_t big = 256 * 1024;
    char *data = malloc(big);
    evt_random_bytes(data, big, 6);
    echo(fd, data, big, "256 KiB of random bytes (binary, with NULs) after the pings");
    free(data);
    double t = eof_after(fd, evt_now(), 3);
    cr_assert(t >= 0,
              "after the client went quiet the connection stayed open for 3 s (--idle-ms " IDLE_MS
              ")");
    close(fd);
    evt_proc_free(&p);
}

GRADED(timeouts, t03_each_client_has_its_own_clock, 2, 10.0,
       "an idle client is closed while an active one stays")
{
    struct evt_proc p;
    int port = start(&p);
    int a = evt_connect(port, 3), b = evt_connect(port, 3);
    cr_assert(a >= 0 && b >= 0);
    echo(a, "a\n", 2, "client A");
    echo(b, "b\n", 2, "client B");
    double t0 = evt_now();
    bool b_closed = false;
    for (int i = 0; i < 10; i++) { /* A talks every 100 ms for 1 s; B is silent */
        pause_s(0.1);
        char who[80];
        snprintf(who, sizeof who, "client A, which sends every 100 ms (%.0f ms in)",
                 (evt_now() - t0) * 1000);
        echo(a, "ping\n", 5, who);
        if (!b_closed)
            b_closed = evt_wait_eof(b, 0);
    }
    if (!b_closed)
        b_closed = evt_wait_eof(b, 1.0);
    cr_assert(b_closed,
              "client B was silent for over 1 s while client A kept talking, and B's connection is "
              "still open: each connection needs its own idle clock");
    close(a);
    close(b);
    evt_proc_free(&p);
}

GRADED(timeouts, t04_closed_clients_leave_no_fd, 2, 15.0,
       "connections closed for idleness free their fds")
{
    struct evt_proc p;
    int port = start(&p);
    pause_s(0.1);
    int before = evt_count_fds(p.pid);
    cr_assert(before > 0, "cannot read /proc/%d/fd", (int)p.pid);
    int fds[30];
    for (int i = 0; i < 30; i++) {
        fds[i] = evt_connect(port, 3);
        cr_assert(fds[i] >= 0, "could not open connection %d", i);
        echo(fds[i], "x", 1, "a new connection");
    }
    for (int i = 0; i < 30; i++) {
        double t = eof_after(fds[i], evt_now(), 3);
        cr_assert(t >= 0, "idle connection %d of 30 was not closed", i);
        close(fds[i]);
    }
    int after = -1;
    for (double end = evt_now() + 2; evt_now() < end && (after = evt_count_fds(p.pid)) > before;)
        pause_s(0.02);
    cr_assert(after <= before,
              "the server had %d fds open before 30 idle clients came, and %d after all of "
              "them had been closed for idleness: free each connection (and its socket)",
              before, after);
    evt_proc_free(&p);
}

/* The checks below run the server with a long idle limit (5 s), so that only
 * what they test can close a connection. */
#define ARGV_LONG EVT_ARGV(evt_target("idle_echo"), "--idle-ms", "5000", "--port", "0")

GRADED(timeouts, t05_eof_closes_at_once, 2, 10.0,
       "a client that closes is closed at once (not by the timer), and waiting costs no CPU")
{
    struct evs_server s;
    gx_start(&s, ARGV_LONG);
    gx_pause_ms(100);
    int before = evt_count_fds(s.p.pid);
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    echo(fd, "bye\n", 4, "a client about to close");
    close(fd);
    gx_step("waiting for the server to close a connection whose client closed");
    int after = evs_wait_fds(s.p.pid, before, 1.0);
    gx_check_idle_cpu(s.p.pid, "after a client closed its connection (--idle-ms 5000)",
                      "recv() returning 0 (or a bufferevent's BEV_EVENT_EOF) means the client "
                      "has gone: close the connection then. Ignoring it leaves a read event that "
                      "is ready forever.");
    cr_assert(after <= before,
              "a client closed its connection and 1 s later the server still had it open (%d fds, "
              "%d before): on EOF close the connection at once, do not leave it to the idle timer",
              after, before);
    evs_free(&s);
}

GRADED(timeouts, t06_slow_reader, 2, 15.0,
       "a client that pauses reading for 0.6 s, then reads, gets every byte")
{
    struct evs_server s;
    gx_start(&s, ARGV_LONG);
    int fd = gx_check_pause_resume(&s, 4u << 20, 0.6, 2.0, 61);
    close(fd);
    evs_free(&s);
}

GRADED(timeouts, t07_half_close_queued, 2, 15.0,
       "half-close with the echo still queued: every byte comes back, then the server closes")
{
    struct evs_server s;
    gx_start(&s, ARGV_LONG);
    gx_check_halfclose_queued(&s, 4u << 20, 62);
    evs_free(&s);
}
