/* Lesson 10, robustness: fixed_echo and bufferevent_echo (and line_echo where
 * it applies) against hostile clients, over real sockets on 127.0.0.1.
 * seed_echo is not here: its failures are shown in 10-echo-server.c. */
#include "10-echo-common.h"

#define FIXED "fixed_echo"
#define BEV "bufferevent_echo"
#define LINE "line_echo"

/* 64 MiB in the normal build, 8 MiB under ASan (slower, more memory). */
static size_t big_size(void) { return echo_sanitized() ? (8u << 20) : (64u << 20); }

/* ---- byte-exact echo of a big random payload while the client reads slowly ---- */

static void t_big_slow(const char *prog)
{
    struct evs_server s;
    echo_start(&s, echo_prog(prog), EVT_ARGV("--quiet"), NULL);
    echo_big(s.port, big_size(), true, true, 42);
    cr_assert(evs_alive(&s));
    int st = evs_stop(&s, SIGTERM, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGTERM must exit 0; stderr: %s", s.p.err);
    evs_free(&s);
}
Test(fixed_echo, big_binary_echo_byte_exact_with_slow_reader, .timeout = 60) { t_big_slow(FIXED); }
Test(bufferevent_echo, big_binary_echo_byte_exact_with_slow_reader, .timeout = 60)
{
    t_big_slow(BEV);
}

/* ---- 1000 clients at the same time ------------------------------------------------ */

#define NCLIENTS 1000
#define MSG 64

static void t_thousand(const char *prog)
{
    evs_raise_nofile(4096);
    struct evs_server s;
    echo_start(&s, echo_prog(prog), EVT_ARGV("--quiet"), NULL);
    int base_fds = evt_count_fds(s.p.pid);
    static int fd[NCLIENTS];
    static size_t sent[NCLIENTS], got[NCLIENTS];
    static unsigned char back[NCLIENTS][MSG];
    struct pollfd *pf = calloc(NCLIENTS, sizeof *pf);
    for (int i = 0; i < NCLIENTS; i++) {
        fd[i] = evt_connect(s.port, 10);
        cr_assert_geq(fd[i], 0, "client %d could not connect: %s", i, strerror(errno));
        fcntl(fd[i], F_SETFL, fcntl(fd[i], F_GETFL) | O_NONBLOCK);
        sent[i] = got[i] = 0;
    }
    /* Every client sends its own 64 bytes (its number in each byte pair) and
     * reads them back; all 1000 stay connected until all are done. */
    int done = 0;
    double deadline = evt_now() + 30;
    while (done < NCLIENTS && evt_now() < deadline) {
        for (int i = 0; i < NCLIENTS; i++)
            pf[i] = (struct pollfd){
                fd[i], (short)(got[i] < MSG ? POLLIN : 0) | (short)(sent[i] < MSG ? POLLOUT : 0),
                0};
        poll(pf, NCLIENTS, 100);
        for (int i = 0; i < NCLIENTS; i++) {
            if ((pf[i].revents & POLLOUT) && sent[i] < MSG) {
                unsigned char msg[MSG];
                for (int k = 0; k < MSG; k++)
                    msg[k] = (unsigned char)(k % 2 ? i & 0xff : i >> 8);
                ssize_t w = send(fd[i], msg + sent[i], MSG - sent[i], MSG_NOSIGNAL);
                if (w > 0)
                    sent[i] += (size_t)w;
            }
            if ((pf[i].revents & (POLLIN | POLLHUP | POLLERR)) && got[i] < MSG) {
                ssize_t r = recv(fd[i], back[i] + got[i], MSG - got[i], 0);
                cr_assert(r > 0 || (r < 0 && errno == EAGAIN),
                          "client %d: the server closed or reset it after %zu bytes", i, got[i]);
                if (r > 0 && (got[i] += (size_t)r) == MSG)
                    done++;
            }
        }
    }
    cr_assert_eq(done, NCLIENTS, "only %d of %d clients got their echo", done, NCLIENTS);
    for (int i = 0; i < NCLIENTS; i++)
        for (int k = 0; k < MSG; k++)
            cr_assert_eq(back[i][k], (unsigned char)(k % 2 ? i & 0xff : i >> 8),
                         "client %d got another client's bytes at offset %d", i, k);
    int during = evt_count_fds(s.p.pid);
    cr_assert_geq(during, base_fds + NCLIENTS, "the server held %d fds with %d clients connected",
                  during, NCLIENTS);
    for (int i = 0; i < NCLIENTS; i++)
        close(fd[i]);
    int after = evs_wait_fds(s.p.pid, base_fds, 10);
    cr_assert_eq(after, base_fds, "fds: %d before, %d after 1000 clients left", base_fds, after);
    free(pf);
    evs_free(&s);
}
Test(fixed_echo, serves_1000_concurrent_clients, .timeout = 60) { t_thousand(FIXED); }
Test(bufferevent_echo, serves_1000_concurrent_clients, .timeout = 60) { t_thousand(BEV); }

/* ---- 1100 clients on select: more than FD_SETSIZE ------------------------------------ */

/* On select a server must never hold an fd >= FD_SETSIZE (1024): libevent's
 * FD_SET under glibc's _FORTIFY_SOURCE aborts with "bit out of range". The
 * servers lower RLIMIT_NOFILE to FD_SETSIZE on select, so accept() fails
 * with EMFILE and they pause accepting instead. 1100 clients connect at once
 * (the kernel's backlog holds those not yet accepted); each one that gets its
 * echo closes, which frees an fd for the next. All 1100 must be served. */
#define NSELECT 1100

static void t_select_1100(const char *prog, const char *msg, const char *reply)
{
    evs_raise_nofile(
        4096); /* the server inherits 4096: the cap, not the test, must keep it below */
    struct evs_server s;
    echo_start(&s, echo_prog(prog), EVT_ARGV("--quiet", "--method", "select"), NULL);
    size_t mlen = strlen(msg), rlen = strlen(reply);
    static int fd[NSELECT];
    static size_t got[NSELECT];
    static char back[NSELECT][16];
    struct pollfd *pf = calloc(NSELECT, sizeof *pf);
    cr_assert(pf && rlen < sizeof back[0]);
    for (int i = 0; i < NSELECT; i++) {
        fd[i] = evt_connect(s.port, 10);
        cr_assert_geq(fd[i], 0, "client %d could not connect: %s", i, strerror(errno));
        cr_assert_eq(evt_write_all(fd[i], msg, mlen, 5), mlen, "client %d", i);
        fcntl(fd[i], F_SETFL, fcntl(fd[i], F_GETFL) | O_NONBLOCK);
        got[i] = 0;
    }
    /* Phase 1 keeps every served client open, so the server must hold more
     * than 1000 connections at once and run into its cap (EMFILE) with 100
     * more waiting. Phase 2 (once at least 1000 are served and no echo came
     * for 0.5 s) closes each client as it is served, which lets the rest in. */
    int done = 0;
    bool closing = false;
    double deadline = evt_now() + 60, last_echo = evt_now();
    static bool served[NSELECT];
    while (done < NSELECT && evt_now() < deadline) {
        if (!closing && done >= 1000 && evt_now() - last_echo > 0.5) {
            closing = true;
            for (int i = 0; i < NSELECT; i++)
                if (served[i]) {
                    close(fd[i]); /* frees one of the server's fds */
                    fd[i] = -1;
                }
        }
        for (int i = 0; i < NSELECT; i++)
            pf[i] = (struct pollfd){fd[i], fd[i] >= 0 && !served[i] ? POLLIN : 0, 0};
        poll(pf, NSELECT, 100);
        for (int i = 0; i < NSELECT; i++) {
            if (fd[i] < 0 || served[i] || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = recv(fd[i], back[i] + got[i], rlen - got[i], 0);
            cr_assert(r > 0 || (r < 0 && errno == EAGAIN),
                      "client %d: closed or reset after %zu bytes (server alive: %d)", i, got[i],
                      evs_alive(&s));
            if (r > 0 && (got[i] += (size_t)r) == rlen) {
                cr_assert_eq(memcmp(back[i], reply, rlen), 0, "client %d", i);
                served[i] = true;
                done++;
                last_echo = evt_now();
                if (closing) {
                    close(fd[i]);
                    fd[i] = -1;
                }
            }
        }
        cr_assert(closing || done < NSELECT, "all %d served at once: the fd cap is missing", done);
    }
    free(pf);
    cr_assert(evs_alive(&s), "the server died on select:\n%s", s.p.err);
    cr_assert_eq(done, NSELECT, "only %d of %d clients got their echo", done, NSELECT);
    for (int i = 0; i < NSELECT; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    int st = evs_stop(&s, SIGTERM, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x\n%s", st, s.p.err);
    cr_assert(strstr(s.p.out, "select: RLIMIT_NOFILE lowered to 1024 (FD_SETSIZE)"), "%s", s.p.out);
    cr_assert(strstr(s.p.err, "Too many open files"),
              "1000 held, 100 waiting: EMFILE expected:\n%s", s.p.err);
    cr_assert_null(strstr(s.p.err, "bit out of range"), "%s", s.p.err);
    evs_free(&s);
}
Test(fixed_echo, serves_1100_clients_on_select, .timeout = 90)
{
    t_select_1100(FIXED, "ping", "ping");
}
Test(bufferevent_echo, serves_1100_clients_on_select, .timeout = 90)
{
    t_select_1100(BEV, "ping", "ping");
}
Test(line_echo, serves_1100_clients_on_select, .timeout = 90)
{
    t_select_1100(LINE, "ping\n", "PING\n");
}

/* ---- evbuffer_read's cap: READ_CHUNK is not what a read gets -------------------------- */

/* fixed_echo asks evbuffer_read for 64 KiB, but libevent 2.1's buffer.c caps
 * every read at EVBUFFER_MAX_READ (4096): 1 MiB arrives 4096 bytes at a time. */
Test(fixed_echo, evbuffer_read_takes_at_most_4096_bytes_per_call)
{
    struct evs_server s;
    echo_start(&s, echo_prog(FIXED), EVT_ARGV("--quiet"), NULL);
    echo_big(s.port, 1u << 20, false, false, 9);
    int st = evs_stop(&s, SIGTERM, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    cr_assert(strstr(s.p.out, "largest single read: 4096 bytes (asked for 65536)"), "%s", s.p.out);
    evs_free(&s);
}

/* ---- one byte at a time -------------------------------------------------------------- */

static void t_one_byte(const char *prog)
{
    struct evs_server s;
    echo_start(&s, echo_prog(prog), NULL, NULL);
    int fd = evt_connect(s.port, 5);
    cr_assert_geq(fd, 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    unsigned char data[300];
    evt_random_bytes(data, sizeof data, 7);
    data[10] = 0; /* NUL bytes are data too */
    for (size_t i = 0; i < sizeof data; i++) {
        unsigned char b;
        cr_assert_eq(evt_write_all(fd, &data[i], 1, 5), 1);
        cr_assert_eq(evt_read_n(fd, &b, 1, 5), 1, "no echo for byte %zu", i);
        cr_assert_eq(b, data[i], "byte %zu: sent 0x%02x, got 0x%02x", i, data[i], b);
    }
    close(fd);
    evs_free(&s);
}
Test(fixed_echo, one_byte_at_a_time) { t_one_byte(FIXED); }
Test(bufferevent_echo, one_byte_at_a_time) { t_one_byte(BEV); }

/* ---- half-close ------------------------------------------------------------------------ */

static void t_half_close(const char *prog)
{
    struct evs_server s;
    echo_start(&s, echo_prog(prog), NULL, NULL);
    /* Data then FIN: everything comes back, then the server closes. */
    echo_big(s.port, 3u << 20, false, true, 3);
    /* FIN with nothing sent: just a close. */
    int fd = evt_connect(s.port, 5);
    shutdown(fd, SHUT_WR);
    cr_assert(evt_wait_eof(fd, 5), "an immediate FIN must be answered by a close");
    close(fd);
    evs_drain_off(&s);
    evt_drain(&s.p, 0.2);
    cr_assert_geq(evt_count(s.p.out, "closed (EOF, all echoed)"), 2, "%s", s.p.out);
    evs_free(&s);
}
Test(fixed_echo, half_close_finishes_the_echo_then_closes) { t_half_close(FIXED); }
Test(bufferevent_echo, half_close_finishes_the_echo_then_closes) { t_half_close(BEV); }

/* ---- reset in the middle of a reply ------------------------------------------------------- */

static void t_reset(const char *prog)
{
    struct evs_server s;
    echo_start(&s, echo_prog(prog), NULL, NULL);
    int base_fds = evt_count_fds(s.p.pid);
    /* 1 MiB of short lines of digits: every server echoes them unchanged, and
     * line_echo gets lines well under its --max-line, so it keeps replying. */
    static unsigned char data[1 << 20];
    for (size_t k = 0; k < sizeof data; k++)
        data[k] = k % 64 == 63 ? '\n' : (unsigned char)('0' + k % 10);
    for (int i = 0; i < 20; i++) {
        int fd = evt_connect(s.port, 5);
        cr_assert_geq(fd, 0);
        cr_assert_eq(evt_write_all(fd, data, sizeof data, 10), sizeof data);
        unsigned char b;
        cr_assert_eq(evt_read_n(fd, &b, 1, 5), 1); /* the reply has started */
        evt_reset_close(fd);                       /* RST while it is still sending */
    }
    cr_assert(evs_alive(&s), "the server died (SIGPIPE?): %s", s.p.err);
    echo_once(s.port, "12345\n", 6); /* no letters: line_echo echoes it as is */
    int after = evs_wait_fds(s.p.pid, base_fds, 10);
    cr_assert_eq(after, base_fds, "fds: %d before, %d after 20 resets", base_fds, after);
    evs_free(&s);
}
Test(fixed_echo, survives_reset_mid_reply) { t_reset(FIXED); }
Test(bufferevent_echo, survives_reset_mid_reply) { t_reset(BEV); }
Test(line_echo, survives_reset_mid_reply) { t_reset(LINE); }

/* ---- a client that never reads: back-pressure, and everyone else is still served ---- */

static void t_never_read(const char *prog)
{
    struct evs_server s;
    echo_start(&s, echo_prog(prog), EVT_ARGV("--quiet"), NULL);
    int fd = evt_connect(s.port, 5);
    cr_assert_geq(fd, 0);
    size_t limit = 64u << 20;
    size_t pushed = echo_push_until_stall(fd, limit);
    /* Without back-pressure the server would read (and buffer) all 64 MiB.
     * With it, it stops at its high mark plus what the kernel buffers hold. */
    cr_assert_lt(pushed, 32u << 20,
                 "a non-reading client pushed %zu bytes: the server kept reading", pushed);
    echo_once(s.port, "12345\n", 6); /* others are served */
    /* Now read: every byte comes back, and reading resumes on the server. */
    unsigned char *back = malloc(pushed);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    size_t got = evt_read_n(fd, back, pushed, 30);
    cr_assert_eq(got, pushed, "pushed %zu, got %zu back", pushed, got);
    for (size_t k = 0; k < got; k++)
        cr_assert_eq(back[k], echo_push_byte(k), "echo differs at offset %zu", k);
    free(back);
    close(fd);
    evs_free(&s);
}
Test(fixed_echo, never_reading_client_is_throttled_others_served, .timeout = 60)
{
    t_never_read(FIXED);
}
Test(bufferevent_echo, never_reading_client_is_throttled_others_served, .timeout = 60)
{
    t_never_read(BEV);
}
Test(line_echo, never_reading_client_is_throttled_others_served, .timeout = 60)
{
    t_never_read(LINE);
}

/* ---- idle connections ------------------------------------------------------------------ */

Test(bufferevent_echo, idle_client_is_closed_after_idle_ms_active_one_is_not)
{
    struct evs_server s;
    echo_start(&s, echo_prog(BEV), EVT_ARGV("--idle-ms", "300"), NULL);
    int idle = evt_connect(s.port, 5), busy = evt_connect(s.port, 5);
    double t0 = evt_now();
    /* busy talks every 100 ms for 600 ms: each read restarts its timer */
    for (int i = 0; i < 6; i++) {
        char b[2];
        cr_assert_eq(evt_write_all(busy, "hi", 2, 5), 2);
        cr_assert_eq(evt_read_n(busy, b, 2, 5), 2, "the active client was cut off after %d rounds",
                     i);
        poll(NULL, 0, 100);
    }
    cr_assert(evt_wait_eof(idle, 5), "the idle client was never closed");
    double waited = evt_now() - t0;
    cr_assert_geq(waited, 0.25, "closed after %.3f s, before the 300 ms timeout", waited);
    echo_once(s.port, "x", 1);
    evs_drain_off(&s);
    evt_drain(&s.p, 0.2);
    cr_assert(strstr(s.p.out, "idle: nothing read"), "%s", s.p.out);
    close(idle);
    close(busy);
    evs_free(&s);
}

Test(bufferevent_echo, client_that_never_reads_is_closed_by_the_write_timeout, .timeout = 30)
{
    struct evs_server s;
    echo_start(&s, echo_prog(BEV), EVT_ARGV("--idle-ms", "300"), NULL);
    int fd = evt_connect(s.port, 5);
    echo_push_until_stall(fd, 64u << 20);
    /* The server holds queued output it cannot send: after 300 ms without
     * progress the write timeout fires and it drops the client. */
    evs_drain_off(&s);
    cr_assert(evt_wait_line(&s.p, "idle: peer not reading", 10), "%s", s.p.out);
    evs_drain_on(&s);
    close(fd);
    echo_once(s.port, "x", 1);
    evs_free(&s);
}

Test(fixed_echo, idle_client_does_not_disturb_anyone)
{
    /* fixed_echo has no idle timeout: an idle client costs one fd, nothing more. */
    struct evs_server s;
    echo_start(&s, echo_prog(FIXED), NULL, NULL);
    int idle = evt_connect(s.port, 5);
    for (int i = 0; i < 5; i++) {
        echo_once(s.port, "hello", 5);
        poll(NULL, 0, 100);
    }
    cr_assert_eq(evt_write_all(idle, "late", 4, 5), 4);
    char b[4];
    cr_assert_eq(evt_read_n(idle, b, 4, 5), 4, "the idle client must still be served");
    close(idle);
    evs_free(&s);
}

/* ---- no fd leak -------------------------------------------------------------------------- */

static void t_fd_leak(const char *prog)
{
    struct evs_server s;
    echo_start(&s, echo_prog(prog), EVT_ARGV("--quiet"), NULL);
    int before = evt_count_fds(s.p.pid);
    for (int i = 0; i < 200; i++) {
        int fd = evt_connect(s.port, 5);
        cr_assert_geq(fd, 0);
        cr_assert_eq(evt_write_all(fd, "ping\n", 5, 5), 5);
        char b[5];
        cr_assert_eq(evt_read_n(fd, b, 5, 5), 5);
        shutdown(fd, SHUT_WR);
        /* the server's close() is what sends us this EOF: its fd is gone now */
        cr_assert(evt_wait_eof(fd, 5));
        close(fd);
    }
    int after = evt_count_fds(s.p.pid);
    cr_assert_eq(after, before, "fds: %d before, %d after 200 connections", before, after);
    evs_free(&s);
}
Test(fixed_echo, no_fd_leak_over_200_connections) { t_fd_leak(FIXED); }
Test(bufferevent_echo, no_fd_leak_over_200_connections) { t_fd_leak(BEV); }
Test(line_echo, no_fd_leak_over_200_connections) { t_fd_leak(LINE); }

/* ---- clean shutdown, no memory leak --------------------------------------------------------- */

static void t_shutdown(const char *prog, int sig)
{
    struct evs_server s;
    echo_start(&s, echo_prog(prog), NULL, NULL);
    int a = evt_connect(s.port, 5), b = evt_connect(s.port, 5);
    echo_once(s.port, "42\n", 3);
    echo_push_until_stall(b, 8u << 20); /* one connection with queued output */
    cr_assert_eq(evt_write_all(a, "7\n", 2, 5), 2);
    char c[2];
    cr_assert_eq(evt_read_n(a, c, 2, 5), 2);
    int st = evs_stop(&s, sig, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "signal %d must give exit 0; status %#x\n%s",
              sig, st, s.p.err);
    cr_assert(strstr(s.p.out, "closing 2 connection(s)"), "%s", s.p.out);
    cr_assert(strstr(s.p.out, "all freed, bye"), "%s", s.p.out);
    /* In the ASan build LeakSanitizer runs at exit and would report here. */
    cr_assert_null(strstr(s.p.err, "LeakSanitizer"), "%s", s.p.err);
    cr_assert_null(strstr(s.p.err, "AddressSanitizer"), "%s", s.p.err);
    cr_assert(evt_wait_eof(a, 5), "clients are closed on shutdown");
    close(a);
    close(b);
    evs_free(&s);
}
Test(fixed_echo, sigterm_frees_everything_exit_0) { t_shutdown(FIXED, SIGTERM); }
Test(bufferevent_echo, sigint_frees_everything_exit_0) { t_shutdown(BEV, SIGINT); }
Test(line_echo, sigterm_frees_everything_exit_0) { t_shutdown(LINE, SIGTERM); }

Test(bufferevent_echo, valgrind_finds_no_leak, .timeout = 90)
{
    if (echo_sanitized())
        cr_skip_test(
            "the ASan build checks leaks with LeakSanitizer (sigint_frees_everything_exit_0)");
    if (access("/usr/bin/valgrind", X_OK) != 0)
        cr_skip_test("valgrind is not installed (Debian: apt-get install valgrind)");
    struct evs_server s;
    const char *argv[] = {"/usr/bin/valgrind",
                          "-q",
                          "--leak-check=full",
                          "--errors-for-leak-kinds=definite,indirect",
                          "--error-exitcode=99",
                          echo_prog(BEV),
                          "--port",
                          "0",
                          "--idle-ms",
                          "2000",
                          NULL};
    memset(&s, 0, sizeof s);
    cr_assert_eq(evt_spawn(&s.p, argv, NULL), 0);
    s.port = evt_wait_port(&s.p, 60);
    cr_assert_gt(s.port, 0, "%s", s.p.err);
    evs_drain_on(&s);
    echo_once(s.port, "under valgrind\n", 15);
    echo_big(s.port, 1u << 20, false, true, 5); /* half-close */
    int r = evt_connect(s.port, 5);             /* reset mid-reply */
    static unsigned char data[256 << 10];
    evt_write_all(r, data, sizeof data, 10);
    evt_read_n(r, data, 1, 10);
    evt_reset_close(r);
    int open_one = evt_connect(s.port, 5); /* still open at shutdown */
    echo_once(s.port, "last\n", 5);
    int st = evs_stop(&s, SIGTERM, 60);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "valgrind reported errors or leaks (exit %d):\n%s", WEXITSTATUS(st), s.p.err);
    close(open_one);
    evs_free(&s);
}

/* ---- the same on every backend -------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *const *env;
} backends[] = {
    {"epoll", NULL},
    {"poll", EVT_ENV("EVENT_NOEPOLL=1")},
    {"select", EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1")},
};

/* 20 clients at once, 256 KiB each with half-close, one byte-at-a-time client,
 * one reset: the same results whatever the backend. */
static void t_backends(const char *prog)
{
    for (size_t b = 0; b < 3; b++) {
        struct evs_server s;
        echo_start(&s, echo_prog(prog), EVT_ARGV("--quiet"), backends[b].env);
        evs_drain_off(&s);
        char want[64];
        snprintf(want, sizeof want, "method: %s", backends[b].name);
        cr_assert(strstr(s.p.out, want), "expected '%s' in:\n%s", want, s.p.out);
        evs_drain_on(&s);
        enum { N = 20, SZ = 256 << 10 };
        int fd[N];
        static unsigned char data[N][SZ], back[N][SZ];
        size_t sent[N] = {0}, got[N] = {0};
        bool eof[N] = {0};
        for (int i = 0; i < N; i++) {
            evt_random_bytes(data[i], SZ, (unsigned)(i + 1));
            fd[i] = evt_connect(s.port, 5);
            cr_assert_geq(fd[i], 0);
            fcntl(fd[i], F_SETFL, fcntl(fd[i], F_GETFL) | O_NONBLOCK);
        }
        int done = 0;
        double deadline = evt_now() + 30;
        while (done < N && evt_now() < deadline) {
            struct pollfd pf[N];
            for (int i = 0; i < N; i++)
                pf[i] = (struct pollfd){eof[i] ? -1 : fd[i],
                                        (short)(POLLIN | (sent[i] < SZ ? POLLOUT : 0)), 0};
            poll(pf, N, 100);
            for (int i = 0; i < N; i++) {
                if ((pf[i].revents & POLLOUT) && sent[i] < SZ) {
                    ssize_t w = send(fd[i], data[i] + sent[i], SZ - sent[i], MSG_NOSIGNAL);
                    if (w > 0 && (sent[i] += (size_t)w) == SZ)
                        shutdown(fd[i], SHUT_WR);
                }
                if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                    ssize_t r = recv(fd[i], back[i] + got[i], SZ - got[i] ? SZ - got[i] : 1, 0);
                    if (r > 0)
                        got[i] += (size_t)r;
                    else if (r == 0 || errno != EAGAIN) {
                        eof[i] = true;
                        done++;
                    }
                }
            }
        }
        for (int i = 0; i < N; i++) {
            cr_assert(eof[i], "[%s] client %d: no close after its half-close", backends[b].name, i);
            cr_assert_eq(got[i], (size_t)SZ, "[%s] client %d: %zu of %d bytes", backends[b].name, i,
                         got[i], SZ);
            cr_assert_eq(memcmp(back[i], data[i], SZ), 0, "[%s] client %d: not byte-exact at %zu",
                         backends[b].name, i, evt_first_diff(back[i], data[i], SZ));
            close(fd[i]);
        }
        int r = evt_connect(s.port, 5);
        evt_write_all(r, data[0], SZ, 5);
        evt_read_n(r, back[0], 1, 5);
        evt_reset_close(r);
        echo_once(s.port, "after a reset\n", 14);
        int st = evs_stop(&s, SIGTERM, 10);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "[%s] exit status %#x", backends[b].name,
                  st);
        evs_free(&s);
    }
}
Test(fixed_echo, same_results_on_epoll_poll_select, .timeout = 60) { t_backends(FIXED); }
Test(bufferevent_echo, same_results_on_epoll_poll_select, .timeout = 60) { t_backends(BEV); }
