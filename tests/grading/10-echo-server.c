/* Grading suite for exercise 10 (fix seed 002's echo server).
 * Program: echo_server --port 0; prints "listening on 127.0.0.1:PORT".
 * It must echo every byte exactly, survive hostile clients, and leak nothing. */
#include "gx_server.h"

#define PROG evt_target("echo_server")
#define ARGV EVT_ARGV(PROG, "--port", "0")

/* The line every test after t01 sends first: a NUL byte in the middle, so
 * that t01's check includes something seed 002's server gets wrong (it
 * measures what it echoes with strlen). */
static const char nul_line[] = "pro\0be\n";
#define NUL_LINE_N (sizeof nul_line - 1)

/* Exchange n bytes of req on a new connection; true if exactly they came
 * back within timeout_s, else a message in msg. */
static bool exchange_n(int port, const char *req, size_t n, double timeout_s, char *msg,
                       size_t msgsz)
{
    int fd = evt_connect(port, 3);
    if (fd < 0) {
        snprintf(msg, msgsz, "could not connect to 127.0.0.1:%d: %s", port, strerror(errno));
        return false;
    }
    char got[64] = "";
    size_t w = 0, r = gx_duplex(fd, req, n, got, n, timeout_s, &w, false);
    close(fd);
    if (r == n && memcmp(got, req, n) == 0)
        return true;
    char want[256];
    snprintf(want, sizeof want, "%s", gx_show(req, n));
    snprintf(
        msg, msgsz,
        "sent \"%s\" (%zu bytes), expected the same back within %.0f s, got \"%s\" (%zu bytes)",
        want, n, timeout_s, gx_show(got, r), r);
    return false;
}

/* Start, then t01's exchange with a NUL byte; if it fails, this test stops at
 * once with "not run: needs t01_text_line" (hanging code costs 2 s here). */
static void start(struct evs_server *s)
{
    gx_start(s, ARGV);
    gx_step("the first exchange (a line with a NUL byte) waited for its reply");
    char msg[1024];
    if (!exchange_n(s->port, nul_line, NUL_LINE_N, 2, msg, sizeof msg))
        gx_not_run(s, "t01_text_line", msg);
}

/* Echo n random bytes on one connection; optionally half-close after writing. */
static void echo_random(struct evs_server *s, size_t n, unsigned seed, bool half_close,
                        double timeout_s)
{
    int fd = evt_connect(s->port, 3);
    cr_assert(fd >= 0, "could not connect to the server");
    char *out = malloc(n), *in = malloc(n + 1);
    evt_random_bytes(out, n, seed);
    size_t w = 0, r = gx_duplex(fd, out, n, in, n, timeout_s, &w, half_close);
    char msg[512];
    bool ok = gx_compare("echo of random binary data", out, n, in, r, msg, sizeof msg);
    bool eof = !half_close || evt_wait_eof(fd, 3);
    close(fd);
    free(out);
    free(in);
    bool alive = evs_alive(s);
    cr_assert(ok, "%s (sent %zu of %zu)%s%s", msg, w, n,
              alive ? "" : "; the server died: ", alive ? "" : gx_death(s));
    cr_assert(eof,
              "after the client half-closed (shutdown SHUT_WR) and got everything back, the server "
              "did not close its side within 3 s: recv() returning 0 means the client is done");
}

GRADED(echo_server, t01_text_line, 1, 10,
       "echoes a short text line, and one with a NUL byte in it, exactly")
{
    struct evs_server s;
    gx_start(&s, ARGV); /* no probe: this test is the first exchange */
    char msg[1024];
    cr_assert(gx_exchange(s.port, "hello, echo\n", "hello, echo\n", 3, msg, sizeof msg), "%s", msg);
    bool ok = exchange_n(s.port, nul_line, NUL_LINE_N, 3, msg, sizeof msg);
    cr_assert(ok,
              "%s: a client may send any bytes, NUL included; echo exactly the number of bytes "
              "recv() returned (strlen() stops at the first NUL)",
              msg);
    evs_free(&s);
}

GRADED(echo_server, t02_binary_with_nuls, 3, 10, "echoes 3000 random bytes (NULs included) exactly")
{
    struct evs_server s;
    start(&s);
    echo_random(&s, 3000, 7, false, 5);
    evs_free(&s);
}

GRADED(echo_server, t03_binary_4mib, 4, 20, "echoes 4 MiB of random binary data byte-exact")
{
    struct evs_server s;
    start(&s);
    echo_random(&s, 4 << 20, 42, false, 15);
    evs_free(&s);
}

GRADED(echo_server, t04_one_byte_at_a_time, 2, 10, "a client that sends one byte at a time")
{
    struct evs_server s;
    start(&s);
    gx_check_one_byte(&s, "one byte at a time\n", "one byte at a time\n");
    evs_free(&s);
}

GRADED(echo_server, t05_half_close, 2, 10,
       "half-close after the echo: the server closes its side too")
{
    struct evs_server s;
    start(&s);
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    static char text[100000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 26);
    char *in = malloc(sizeof text);
    /* Everything comes back before the half-close, so nothing is queued at
     * EOF here; t06 checks the case with the echo still queued. */
    size_t w = 0, r = gx_duplex(fd, text, sizeof text, in, sizeof text, 8, &w, false);
    shutdown(fd, SHUT_WR);
    char msg[512];
    bool ok = gx_compare("before a half-close", text, sizeof text, in, r, msg, sizeof msg);
    bool eof = evt_wait_eof(fd, 3);
    close(fd);
    free(in);
    cr_assert(ok, "%s", msg);
    cr_assert(eof,
              "the client got its echo, then half-closed (shutdown SHUT_WR), and the server "
              "did not close its side within 3 s: recv() returning 0 means the client is done");
    evs_free(&s);
}

GRADED(echo_server, t06_half_close_queued, 3, 15,
       "half-close with the echo still queued: every byte comes back, then the server closes")
{
    struct evs_server s;
    start(&s);
    gx_check_halfclose_queued(&s, 4u << 20, 6);
    evs_free(&s);
}

GRADED(echo_server, t07_reset_mid_reply, 3, 15,
       "clients that reset mid-reply do not kill the server")
{
    struct evs_server s;
    start(&s);
    size_t n = 1 << 20;
    char *bulk = malloc(n);
    memset(bulk, 'x', n);
    gx_check_reset(&s, bulk, n, 1000, "still there?\n", "still there?\n");
    free(bulk);
    evs_free(&s);
}

GRADED(echo_server, t08_never_reading_client, 4, 15,
       "a client that stops reading stalls neither the loop nor the memory, and loses nothing")
{
    struct evs_server s;
    start(&s);
    long rss0 = evs_rss_kb(s.p.pid);
    int a = gx_connect_small(s.port);
    cr_assert(a >= 0);
    size_t n = 32u << 20;
    char *bulk = malloc(n);
    evt_random_bytes(bulk, n, 8);
    size_t sent = evt_write_all(a, bulk, n, 1.0); /* A does not read its echo (yet) */
    char situation[200];
    snprintf(situation, sizeof situation, "while client A has sent %zu bytes and not read its echo",
             sent);
    gx_check_round_trip(&s, 2.0, situation);
    long rss1 = evs_rss_kb(s.p.pid);
    cr_assert(
        rss1 - rss0 < 8 * 1024,
        "client A sent %zu bytes without reading its echo and the server's memory grew by %ld KiB: "
        "stop reading from a client while its unsent echo is waiting (back-pressure)",
        sent, rss1 - rss0);
    /* Now A reads: every byte it sent must come back, in order. */
    gx_check_reads_back(a, bulk, sent,
                        "Data a client has not read yet must wait in the server, not be dropped: "
                        "when send() cannot take more, keep the rest and stop reading from that "
                        "client");
    free(bulk);
    evs_free(&s);
}

GRADED(echo_server, t09_pause_then_resume, 3, 15,
       "a client that pauses reading for 0.6 s, then reads, gets every byte and can go on")
{
    struct evs_server s;
    start(&s);
    int fd = gx_check_pause_resume(&s, 4u << 20, 0.6, 2.0, 9);
    char msg[1024];
    const char more[] = "and more\n";
    char got[sizeof more] = "";
    size_t w = 0, r = gx_duplex(fd, more, sizeof more - 1, got, sizeof more - 1, 3, &w, false);
    close(fd);
    snprintf(msg, sizeof msg, "%s", gx_show(got, r));
    cr_assert(r == sizeof more - 1 && memcmp(got, more, r) == 0,
              "after the paused client had read all 4 MiB, it sent \"and more\\n\" on the same "
              "connection and got \"%s\" back within 3 s: the connection must go on",
              msg);
    evs_free(&s);
}

GRADED(echo_server, t10_thousand_connections, 3, 20, "1000 connections open at once, each echoed")
{
    struct evs_server s;
    start(&s);
    gx_check_many(&s, 1000, "client %d\n", "client %d\n");
    evs_free(&s);
}

GRADED(echo_server, t11_idle_connections, 1, 10, "idle connections do not block others")
{
    struct evs_server s;
    start(&s);
    gx_check_idle(&s, "idle?\n", "idle?\n");
    evs_free(&s);
}

GRADED(echo_server, t12_idle_cpu, 2, 10, "waiting costs no CPU (one idle client connected)")
{
    struct evs_server s;
    start(&s);
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    char got[8];
    cr_assert_eq(evt_write_all(fd, "idle?\n", 6, 2), 6);
    cr_assert_eq(evt_read_n(fd, got, 6, 3), 6, "\"idle?\\n\" did not come back within 3 s");
    gx_check_idle_cpu(s.p.pid, "with one client connected and silent after its echo",
                      "Keep EV_WRITE pending only while there is something to send, and treat "
                      "recv() returning 0 as the end of the connection.");
    close(fd);
    evs_free(&s);
}

GRADED(echo_server, t13_quiet_stdout, 1, 15,
       "stdout has only the listening line (nothing per read or per connection)")
{
    struct evs_server s;
    start(&s);
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    for (int i = 0; i < 400; i++) {
        char got[16];
        cr_assert_eq(evt_write_all(fd, "quiet please\n", 13, 2), 13);
        cr_assert_eq(evt_read_n(fd, got, 13, 3), 13, "exchange %d: no echo within 3 s", i);
    }
    close(fd);
    gx_pause_ms(100);
    evs_stop(&s, SIGTERM, 5);
    const char *extra = gx_stdout_after_port(&s);
    cr_assert(extra[0] == '\0',
              "after 400 echoes and SIGTERM, stdout had more than the listening line: \"%.200s\". "
              "The interface allows exactly one line on stdout; log to stderr if you must",
              gx_show(extra, strlen(extra)));
    evs_free(&s);
}

GRADED(echo_server, t14_fd_leak, 2, 10, "no fd leak: 200 clients come and go")
{
    struct evs_server s;
    start(&s);
    gx_check_fd_leak(&s, "fd\n", "fd\n");
    evs_free(&s);
}

GRADED(echo_server, t15_sigterm_exit, 2, 10, "exit 0 on SIGTERM, a client still connected")
{
    struct evs_server s;
    start(&s);
    gx_check_sigterm(&s);
    evs_free(&s);
}

GRADED(echo_server, t16_memory_errors, 3, 20, "no overflow: full 1 KiB reads under valgrind/ASan")
{
    /* 4 KiB without a single NUL: every recv() can fill the whole buffer. */
    static char req[4096];
    memset(req, 'A', sizeof req);
    struct evs_server probe; /* plainly first: hanging code costs 2 s, not valgrind's */
    start(&probe);
    evs_stop(&probe, SIGKILL, 1);
    evs_free(&probe);
    gx_check_memory(ARGV, false, 5, req, sizeof req, sizeof req);
}

GRADED(echo_server, t17_memory_leak, 3, 20,
       "no leak per connection (valgrind/LSan), clean exit on SIGTERM")
{
    const char req[] = "leak check\n";
    struct evs_server probe; /* plainly first: what every other test needs (t01) */
    start(&probe);
    evs_stop(&probe, SIGKILL, 1);
    evs_free(&probe);
    gx_check_memory(ARGV, true, 20, req, sizeof req - 1, sizeof req - 1);
}
