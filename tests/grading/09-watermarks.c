/* Grading suite for exercise 09 (a line protocol server with watermarks).
 * Program: line_server --port 0 [--max-line N]; "listening on 127.0.0.1:PORT".
 * SUM a b -> a+b, PING -> PONG, QUIT -> BYE + close, other -> ERR unknown
 * command, bad SUM -> ERR bad number, line > max -> ERR line too long + close. */
#include "gx_server.h"

#define PROG evt_target("line_server")
#define ARGV EVT_ARGV(PROG, "--port", "0")

static void start(struct gx_srv *s) { gx_start(s, ARGV); }

static void expect(int port, const char *req, const char *want)
{
    char msg[1024];
    cr_assert(gx_exchange(port, req, want, 3, msg, sizeof msg), "%s", msg);
}

/* Send req, expect exactly `want` and then the server closing the connection. */
static void expect_then_close(int port, const char *req, size_t req_n, const char *want,
                              const char *why)
{
    int fd = evt_connect(port, 3);
    cr_assert(fd >= 0);
    size_t wn = strlen(want), w = 0;
    char got[256] = "";
    size_t r = gx_duplex(fd, req, req_n, got, wn, 4, &w, false);
    bool eof = r == wn && evt_wait_eof(fd, 3);
    close(fd);
    cr_assert(r == wn && memcmp(got, want, wn) == 0,
              "%s: expected \"%s\", got \"%s\" (sent %zu of %zu bytes)", why, gx_show(want, wn),
              gx_show(got, r), w, req_n);
    cr_assert(eof,
              "%s: the reply \"%s\" came, but the server did not close the connection within 3 s",
              why, gx_show(want, wn));
}

GRADED(watermarks, commands, 2, 10, "SUM and PING are answered")
{
    struct gx_srv s;
    start(&s);
    expect(s.port, "SUM 2 3\n", "5\n");
    expect(s.port, "SUM -7 10\n", "3\n");
    expect(s.port, "PING\n", "PONG\n");
    expect(s.port, "SUM 4000000000 4000000000\nPING\n", "8000000000\nPONG\n");
    gx_free(&s);
}

GRADED(watermarks, errors, 2, 10, "unknown commands and bad numbers get ERR lines")
{
    struct gx_srv s;
    start(&s);
    expect(s.port, "FOO\n", "ERR unknown command\n");
    expect(s.port, "SUM 1\n", "ERR bad number\n");
    expect(s.port, "SUM 1 x\n", "ERR bad number\n");
    expect(s.port, "SUM 99999999999999999999 1\n", "ERR bad number\n");
    expect(s.port, "FOO\nPING\n", "ERR unknown command\nPONG\n");
    gx_free(&s);
}

GRADED(watermarks, crlf, 1, 10, "lines may end in \\r\\n")
{
    struct gx_srv s;
    start(&s);
    expect(s.port, "SUM 1 2\r\nPING\r\n", "3\nPONG\n");
    gx_free(&s);
}

GRADED(watermarks, one_byte_at_a_time, 2, 10, "a command sent one byte at a time")
{
    struct gx_srv s;
    start(&s);
    gx_check_one_byte(&s, "SUM 12 30\n", "42\n");
    gx_free(&s);
}

GRADED(watermarks, pipelined, 3, 15, "20000 commands in one write: 20000 replies, in order")
{
    struct gx_srv s;
    start(&s);
    enum { N = 20000 };
    char *req = malloc(N * 32), *want = malloc(N * 16);
    size_t rn = 0, wn = 0;
    for (int i = 0; i < N; i++) {
        rn += (size_t)sprintf(req + rn, "SUM %d %d\n", i, i);
        wn += (size_t)sprintf(want + wn, "%d\n", 2 * i);
    }
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    char *got = malloc(wn + 1);
    size_t w = 0, r = gx_duplex(fd, req, rn, got, wn, 10, &w, false);
    close(fd);
    size_t d = evt_first_diff(want, got, r < wn ? r : wn);
    if (r != wn || d != wn) {
        size_t line = 0;
        for (size_t i = 0; i < d && i < wn; i++)
            line += want[i] == '\n';
        cr_assert_fail(
            "sent %d commands in one go (%zu bytes): expected %zu bytes of replies, got %zu; the "
            "first difference is at offset %zu, in reply %zu (got \"%s\"). A read returns any "
            "number of bytes: keep the end of a line that has not arrived yet in the input "
            "buffer (evbuffer_readln leaves it there).",
            N, rn, wn, r, d, line + 1,
            gx_show(got + (d > 8 ? d - 8 : 0), r > d ? (r - d < 24 ? r - d + 8 : 32) : 0));
    }
    free(req);
    free(want);
    free(got);
    gx_free(&s);
}

GRADED(watermarks, half_close, 2, 10, "half-close: replies still arrive, then the server closes")
{
    struct gx_srv s;
    start(&s);
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    const char req[] = "SUM 20 22\nPING\n", want[] = "42\nPONG\n";
    char got[64] = "";
    size_t w = 0, r = gx_duplex(fd, req, sizeof req - 1, got, sizeof want - 1, 4, &w, true);
    bool eof = evt_wait_eof(fd, 3);
    close(fd);
    cr_assert(r == sizeof want - 1 && memcmp(got, want, r) == 0,
              "sent \"%s\" then shutdown(SHUT_WR): expected \"%s\", got \"%s\". EOF only means the "
              "client "
              "sends no more: queued replies must still go out",
              gx_show(req, sizeof req - 1), gx_show(want, sizeof want - 1), gx_show(got, r));
    cr_assert(
        eof,
        "after the client half-closed and got its replies, the server did not close within 3 s");
    gx_free(&s);
}

GRADED(watermarks, quit, 1, 10,
       "QUIT: BYE, then the server closes (nothing after QUIT is answered)")
{
    struct gx_srv s;
    start(&s);
    const char req[] = "PING\nQUIT\nPING\n";
    expect_then_close(s.port, req, sizeof req - 1, "PONG\nBYE\n", "QUIT");
    gx_free(&s);
}

GRADED(watermarks, max_line, 3, 10,
       "--max-line 32: 32 bytes pass, 33 get ERR line too long + close")
{
    struct gx_srv s;
    gx_start(&s, EVT_ARGV(PROG, "--port", "0", "--max-line", "32"));
    /* 32 bytes before the "\n" (spaces between fields are allowed) */
    expect(s.port, "SUM 1             2             \n", "3\n");
    const char longer[] = "SUM 1              2             \n"; /* 33 + \n */
    expect_then_close(s.port, longer, sizeof longer - 1, "ERR line too long\n",
                      "a 33-byte line with --max-line 32");
    char msg[1024];
    cr_assert(gx_exchange(s.port, "PING\n", "PONG\n", 3, msg, sizeof msg),
              "other clients go on after one sent a long line: %s", msg);
    gx_free(&s);
}

GRADED(watermarks, endless_line, 4, 15,
       "8 MiB with no newline: ERR line too long at once, memory stays flat")
{
    struct gx_srv s;
    start(&s);
    long rss0 = gx_rss_kb(s.p.pid);
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    size_t n = 8u << 20;
    char *junk = malloc(n);
    memset(junk, 'x', n);
    const char want[] = "ERR line too long\n";
    char got[64] = "";
    size_t w = 0, r = gx_duplex(fd, junk, n, got, sizeof want - 1, 4, &w, false);
    long rss1 = gx_rss_kb(s.p.pid);
    bool eof = r == sizeof want - 1 && evt_wait_eof(fd, 3);
    close(fd);
    free(junk);
    cr_assert(
        r == sizeof want - 1 && memcmp(got, want, r) == 0,
        "a client sent %zu bytes with no newline (max line 64): expected \"ERR line too long\\n\" "
        "within 4 s, got \"%s\". Check the length of what is buffered even when no complete line "
        "has arrived, and cap the input with a read high watermark.",
        w, gx_show(got, r));
    cr_assert(eof, "after \"ERR line too long\" the server must close the connection");
    cr_assert(
        rss1 - rss0 < 4096,
        "while a client sent %zu bytes without a newline the server's memory grew "
        "by %ld KiB: set a read high watermark (bufferevent_setwatermark(bev, EV_READ, 0, max+2))",
        w, rss1 - rss0);
    gx_free(&s);
}

GRADED(watermarks, never_reading_client, 3, 20,
       "back-pressure: a client that never reads its replies does not grow memory or stall others")
{
    struct gx_srv s;
    start(&s);
    long rss0 = gx_rss_kb(s.p.pid);
    int a = evt_connect(s.port, 3);
    cr_assert(a >= 0);
    /* Pipeline up to 48 MiB of PINGs; stop once the server has taken nothing
     * for 1 s (it stopped reading: back-pressure) or after 8 s. */
    size_t n = 48u << 20;
    char *req = malloc(n);
    for (size_t i = 0; i < n; i += 5)
        memcpy(req + i, "PING\n", 5);
    size_t sent = 0;
    double start = evt_now(), progress = start;
    while (sent < n && evt_now() - progress < 1.0 && evt_now() - start < 8.0) {
        size_t k = evt_write_all(a, req + sent, n - sent > 65536 ? 65536 : n - sent, 0.2);
        if (k > 0)
            progress = evt_now();
        sent += k;
    }
    free(req);
    char msg[1024];
    bool ok = gx_exchange(s.port, "SUM 1 1\n", "2\n", 3, msg, sizeof msg);
    long rss1 = gx_rss_kb(s.p.pid);
    if (getenv("GX_DEBUG"))
        fprintf(stderr, "sent %zu rss %ld -> %ld\n", sent, rss0, rss1);
    close(a);
    cr_assert(ok, "while client A pipelined %zu bytes of PINGs and never read, client B: %s", sent,
              msg);
    cr_assert(rss1 - rss0 < 4 * 1024,
              "client A sent %zu bytes of PINGs without reading a single PONG, and the server's "
              "memory grew "
              "by %ld KiB: stop reading from a client whose replies pile up (bufferevent_disable "
              "EV_READ), "
              "and read again from the write callback (write low watermark)",
              sent, rss1 - rss0);
    gx_free(&s);
}

GRADED(watermarks, reset_mid_reply, 1, 15, "clients that reset mid-reply do not kill the server")
{
    struct gx_srv s;
    start(&s);
    size_t n = 1 << 20;
    char *bulk = malloc(n);
    for (size_t i = 0; i < n; i += 5)
        memcpy(bulk + i, "PING\n", 5);
    gx_check_reset(&s, bulk, n, 1000, "PING\n", "PONG\n");
    free(bulk);
    gx_free(&s);
}

GRADED(watermarks, thousand_connections, 2, 20, "1000 connections open at once")
{
    struct gx_srv s;
    start(&s);
    gx_check_many(&s, 1000, "SUM %d 0\n", "%d\n");
    gx_free(&s);
}

GRADED(watermarks, idle_connections, 1, 10, "idle connections do not block others")
{
    struct gx_srv s;
    start(&s);
    gx_check_idle(&s, "PING\n", "PONG\n");
    gx_free(&s);
}

GRADED(watermarks, fd_leak, 1, 15, "no fd leak: 200 clients come and go")
{
    struct gx_srv s;
    start(&s);
    gx_check_fd_leak(&s, "SUM 1 2\n", "3\n");
    gx_free(&s);
}

GRADED(watermarks, memory_leak, 2, 40, "no leak (valgrind/LSan), exit 0 on SIGTERM")
{
    const char req[] = "SUM 5 6\nPING\nFOO\n";
    gx_check_memory(ARGV, true, 20, req, sizeof req - 1, strlen("11\nPONG\nERR unknown command\n"));
}
