/* Grading suite for exercise 09 (a line protocol server with watermarks).
 * Program: line_server --port 0 [--max-line N]; "listening on 127.0.0.1:PORT".
 * SUM a b -> a+b, PING -> PONG, QUIT -> BYE + close, other -> ERR unknown
 * command, bad SUM -> ERR bad number, line > max -> ERR line too long + close. */
#include "gx_server.h"

#define PROG evt_target("line_server")
#define ARGV EVT_ARGV(PROG, "--port", "0")

static void start(struct evs_server *s)
{
    gx_start_probe(s, ARGV, "PING\n", "PONG\n", 2, "t01_commands");
}

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
    /* then nothing more may come before the close */
    size_t extra_n = 0;
    char *extra = r == wn ? evt_read_all(fd, &extra_n, 3) : NULL;
    bool eof = r == wn && evt_wait_eof(fd, 0.1);
    close(fd);
    cr_assert(r == wn && memcmp(got, want, wn) == 0,
              "%s: expected \"%s\", got \"%s\" (sent %zu of %zu bytes)", why, gx_show(want, wn),
              gx_show(got, r), w, req_n);
    char shown[300];
    snprintf(shown, sizeof shown, "%s", gx_show(extra ? extra : "", extra_n));
    free(extra);
    cr_assert(extra_n == 0,
              "%s: after \"%s\" the server sent \"%s\" too: once it has decided to close, it "
              "must answer nothing more (stop reading and stop parsing what is buffered)",
              why, gx_show(want, wn), shown);
    cr_assert(eof || extra_n == 0,
              "%s: the reply \"%s\" came, but the server did not close the connection within 3 s",
              why, gx_show(want, wn));
}

GRADED(watermarks, t01_commands, 2, 10, "SUM and PING are answered")
{
    struct evs_server s;
    gx_start(&s, ARGV); /* no probe: this test is the first exchange */
    expect(s.port, "SUM 2 3\n", "5\n");
    expect(s.port, "SUM -7 10\n", "3\n");
    expect(s.port, "PING\n", "PONG\n");
    expect(s.port, "SUM 4000000000 4000000000\nPING\n", "8000000000\nPONG\n");
    evs_free(&s);
}

GRADED(watermarks, t02_errors, 2, 10, "unknown commands and bad numbers get ERR lines")
{
    struct evs_server s;
    start(&s);
    expect(s.port, "FOO\n", "ERR unknown command\n");
    expect(s.port, "SUM 1\n", "ERR bad number\n");
    expect(s.port, "SUM 1 x\n", "ERR bad number\n");
    expect(s.port, "SUM 99999999999999999999 1\n", "ERR bad number\n");
    expect(s.port, "FOO\nPING\n", "ERR unknown command\nPONG\n");
    evs_free(&s);
}

GRADED(watermarks, t03_crlf, 1, 10, "lines may end in \\r\\n")
{
    struct evs_server s;
    start(&s);
    expect(s.port, "SUM 1 2\r\nPING\r\n", "3\nPONG\n");
    evs_free(&s);
}

GRADED(watermarks, t04_one_byte_at_a_time, 2, 10, "a command sent one byte at a time")
{
    struct evs_server s;
    start(&s);
    gx_check_one_byte(&s, "SUM 12 30\n", "42\n");
    evs_free(&s);
}

GRADED(watermarks, t05_pipelined, 3, 15, "20000 commands in one write: 20000 replies, in order")
{
    struct evs_server s;
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
    evs_free(&s);
}

GRADED(watermarks, t06_half_close, 2, 10,
       "half-close: replies still arrive, then the server closes")
{
    struct evs_server s;
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
    evs_free(&s);
}

GRADED(watermarks, t07_quit, 1, 10,
       "QUIT: BYE, then the server closes (nothing after QUIT is answered)")
{
    struct evs_server s;
    start(&s);
    const char req[] = "PING\nQUIT\nPING\n";
    expect_then_close(s.port, req, sizeof req - 1, "PONG\nBYE\n", "QUIT");
    evs_free(&s);
}

GRADED(watermarks, t08_max_line, 3, 10,
       "--max-line 32: 32 bytes pass, 33 get ERR line too long + close")
{
    struct evs_server s;
    gx_start(&s, EVT_ARGV(PROG, "--port", "0", "--max-line", "32"));
    /* 32 bytes before the "\n" (spaces between fields are allowed) */
    expect(s.port, "SUM 1             2             \n", "3\n");
    const char longer[] = "SUM 1              2             \n"; /* 33 + \n */
    expect_then_close(s.port, longer, sizeof longer - 1, "ERR line too long\n",
                      "a 33-byte line with --max-line 32");
    char msg[1024];
    cr_assert(gx_exchange(s.port, "PING\n", "PONG\n", 3, msg, sizeof msg),
              "other clients go on after one sent a long line: %s", msg);
    evs_free(&s);
}

GRADED(watermarks, t09_endless_line, 4, 15,
       "8 MiB with no newline: ERR line too long at once, memory stays flat")
{
    struct evs_server s;
    start(&s);
    long rss0 = evs_rss_kb(s.p.pid);
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    size_t n = 8u << 20;
    char *junk = malloc(n);
    memset(junk, 'x', n);
    const char want[] = "ERR line too long\n";
    char got[64] = "";
    size_t w = 0, r = gx_duplex(fd, junk, n, got, sizeof want - 1, 4, &w, false);
    long rss1 = evs_rss_kb(s.p.pid);
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
    evs_free(&s);
}

GRADED(watermarks, t10_never_reading_client, 3, 20,
       "back-pressure: a client that never reads its replies does not grow memory or stall others")
{
    struct evs_server s;
    start(&s);
    long rss0 = evs_rss_kb(s.p.pid);
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
    long rss1 = evs_rss_kb(s.p.pid);
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
    evs_free(&s);
}

GRADED(watermarks, t11_pause_then_resume, 3, 15,
       "a client that stops reading until the server stops taking commands, then reads: every "
       "reply, and it can go on")
{
    struct evs_server s;
    start(&s);
    int fd = gx_connect_small(s.port);
    cr_assert(fd >= 0);
    size_t n =
        1000000; /* PINGs: 5 MB of commands, 5 MB of replies: more than kernel buffers hold */
    char *req = malloc(n * 5), *in = malloc(n * 5 + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(req + i * 5, "PING\n", 5);
    gx_step("a client pipelining PINGs paused reading, then read the replies");
    double t0 = evt_now(), last = t0, sampled = 0;
    int stopped = 0; /* samples in a row that found the server no longer reading */
    size_t w = 0, r = 0;
    bool reading = false;
    while (r < n * 5) {
        double now = evt_now();
        /* the pause: at least 0.6 s, until the server has stopped reading
         * this client (back-pressure: the kernel's buffers on the way back are
         * full, so the server has replies queued), seen twice 50 ms or more
         * apart; after 8 s, read anyway */
        if (!reading && now - t0 >= 0.6 && now - sampled >= 0.05) {
            sampled = now;
            stopped = gx_stopped_reading(s.p.pid, s.port, fd) ? stopped + 1 : 0;
            if (stopped >= 2 || now - t0 >= 8)
                reading = true;
        }
        if (reading && now - last > 2)
            break;
        struct pollfd pf = {fd, (short)((reading ? POLLIN : 0) | (w < n * 5 ? POLLOUT : 0)), 0};
        if (poll(&pf, 1, 50) <= 0) {
            if (!reading)
                last = evt_now();
            continue;
        }
        if ((pf.revents & POLLOUT) && w < n * 5) {
            ssize_t k = send(fd, req + w, n * 5 - w > 65536 ? 65536 : n * 5 - w,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (k > 0)
                w += (size_t)k;
        }
        if (reading && (pf.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t k = recv(fd, in + r, n * 5 - r, MSG_DONTWAIT);
            if (k > 0) {
                r += (size_t)k;
                last = evt_now();
            } else if (k == 0 || (errno != EAGAIN && errno != EINTR))
                break;
        } else if (!reading)
            last = evt_now();
    }
    size_t pongs = 0;
    while (pongs < r / 5 && memcmp(in + pongs * 5, "PONG\n", 5) == 0)
        pongs++;
    free(req);
    free(in);
    cr_assert(
        pongs == n,
        "a client pipelined %zu PINGs (%zu bytes sent) and read nothing until the replies stopped "
        "coming, then read: "
        "%zu PONGs came back, then %s. When the replies have drained (the write callback at "
        "the low watermark), enable reading again and answer what is buffered",
        n, w, pongs, r / 5 > pongs ? "something else" : "nothing more for 2 s");
    char msg[1024];
    bool ok = gx_exchange(s.port, "SUM 2 2\n", "4\n", 3, msg, sizeof msg);
    close(fd);
    cr_assert(ok, "after the paused client: %s", msg);
    evs_free(&s);
}

GRADED(watermarks, t12_reset_mid_reply, 1, 15,
       "clients that reset mid-reply do not kill the server")
{
    struct evs_server s;
    start(&s);
    size_t n = 1 << 20;
    char *bulk = malloc(n);
    for (size_t i = 0; i < n; i += 5)
        memcpy(bulk + i, "PING\n", 5);
    gx_check_reset(&s, bulk, n, 1000, "PING\n", "PONG\n");
    free(bulk);
    evs_free(&s);
}

GRADED(watermarks, t13_thousand_connections, 2, 20, "1000 connections open at once")
{
    struct evs_server s;
    start(&s);
    gx_check_many(&s, 1000, "SUM %d 0\n", "%d\n");
    evs_free(&s);
}

GRADED(watermarks, t14_idle_connections, 1, 10, "idle connections do not block others")
{
    struct evs_server s;
    start(&s);
    gx_check_idle(&s, "PING\n", "PONG\n");
    evs_free(&s);
}

GRADED(watermarks, t15_fd_leak, 1, 15, "no fd leak: 200 clients come and go")
{
    struct evs_server s;
    start(&s);
    gx_check_fd_leak(&s, "SUM 1 2\n", "3\n");
    evs_free(&s);
}

GRADED(watermarks, t16_sigterm_with_clients, 2, 20,
       "SIGTERM with clients connected: every connection freed (valgrind/LSan), exit 0")
{
    struct gx_mem m;
    if (!gx_mem_argv(&m, ARGV, true))
        cr_skip_test("neither valgrind nor a sanitizer build is available");
    /* still reachable counts too: a live connection nobody frees at exit */
    if (m.valgrind) {
        for (int i = 0; m.argv[i]; i++)
            if (strcmp(m.argv[i], "--errors-for-leak-kinds=definite") == 0)
                m.argv[i] = "--errors-for-leak-kinds=definite,indirect,possible,reachable";
            else if (strcmp(m.argv[i], "--show-leak-kinds=definite") == 0)
                m.argv[i] = "--show-leak-kinds=definite,indirect,possible,reachable";
    }
    struct evs_server s;
    gx_start_env(&s, m.argv, NULL, 10);
    int fds[3];
    char msg[1024];
    for (int i = 0; i < 3; i++) {
        fds[i] = evt_connect(s.port, 3);
        cr_assert(fds[i] >= 0);
        cr_assert_eq(evt_write_all(fds[i], "PING\n", 5, 3), 5);
        char got[8];
        cr_assert_eq(evt_read_n(fds[i], got, 5, 5), 5, "no PONG within 5 s under valgrind");
    }
    cr_assert(gx_exchange(s.port, "PING\n", "PONG\n", 5, msg, sizeof msg), "%s", msg);
    gx_step("waiting for the server to exit after SIGTERM, three clients connected");
    int st = evs_stop(&s, SIGTERM, 10);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    const char *rep = gx_mem_report(&m, s.p.err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "after SIGTERM with three clients connected the server did not exit 0 (%s %d):\n%s",
              WIFSIGNALED(st) ? "signal" : "exit code",
              WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), rep);
    cr_assert(!strstr(rep, "lost") && !strstr(rep, "reachable") && !strstr(rep, "ERROR: "),
              "after SIGTERM with three clients connected, memory was left allocated: keep a list "
              "of live connections and free each one after the loop returns.\n%s",
              rep);
    evs_free(&s);
}

GRADED(watermarks, t17_memory_leak, 2, 40, "no leak (valgrind/LSan), exit 0 on SIGTERM")
{
    const char req[] = "SUM 5 6\nPING\nFOO\n";
    gx_check_memory(ARGV, true, 20, req, sizeof req - 1, strlen("11\nPONG\nERR unknown command\n"));
}
