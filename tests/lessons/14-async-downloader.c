/* Lesson 14: the claims of lessons/14-async-downloader/README.md, checked with
 * the real downloader against the lesson's real server (and against raw
 * sockets made here). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtest.h"

#define SERVER evt_prog("lessons/14-async-downloader/slow_http_server")
#define DOWNLOADER evt_prog("lessons/14-async-downloader/async_downloader")

static struct evt_proc server;
static int port;
static char urls[8][128];

static void start_server(void)
{
    cr_assert_eq(evt_spawn(&server, EVT_ARGV(SERVER, "--port", "0"), NULL), 0);
    port = evt_wait_port(&server, 10);
    cr_assert_gt(port, 0, "no 'listening on' line; stderr: %s", server.err);
}

static void stop_server(void)
{
    int st = evt_stop(&server, SIGTERM, 5);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the server must exit 0 on SIGTERM; stderr:\n%s", server.err);
    cr_expect_eq(server.err_len, 0, "the server wrote to stderr:\n%s", server.err);
    evt_proc_free(&server);
}

TestSuite(async_downloader, .init = start_server, .fini = stop_server);
TestSuite(slow_http_server, .init = start_server, .fini = stop_server);

static const char *url(int i, const char *path)
{
    snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%d%s", port, path);
    return urls[i];
}

static struct evt_run run(const char *const argv[])
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 20), 0);
    cr_assert_eq(r.term_signal, 0, "crashed:\n%s\n%s", r.out, r.err);
    return r;
}

/* The summary row of URL number n ("  n. URL ..."), malloc'd. */
static char *row(const char *out, int n)
{
    char key[16];
    snprintf(key, sizeof key, "\n  %d. ", n);
    const char *s = strstr(out, "== 3.");
    cr_assert(s, "no summary:\n%s", out);
    s = strstr(s, key);
    cr_assert(s, "no row %d:\n%s", n, out);
    s++;
    return strndup(s, strcspn(s, "\n"));
}

static char *get(const char *path, int *err);

static long num_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    cr_assert(p, "'%s' not found in:\n%s", key, s);
    return strtol(p + strlen(key), NULL, 10);
}

Test(async_downloader, three_slow_fetches_take_the_time_of_one)
{
    struct evt_run r =
        run(EVT_ARGV(DOWNLOADER, url(0, "/delay/600"), url(1, "/delay/600"), url(2, "/delay/600")));
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    cr_assert_lt(r.seconds, 1.5, "three 600 ms fetches took %.2f s: not concurrent\n%s", r.seconds,
                 r.out);
    cr_assert_geq(r.seconds, 0.59, "the server delays 600 ms; took %.2f s", r.seconds);
    long total = num_after(r.out, "total ~"), sum = num_after(r.out, "add up to ~");
    cr_assert(total >= 590 && total < 1500, "%s", r.out);
    cr_assert_geq(sum, 1770, "each of the three took about 600 ms:\n%s", r.out);
    for (int i = 1; i <= 3; i++) {
        char *line = row(r.out, i);
        cr_assert(strstr(line, " 200 ") && strstr(line, "14 bytes"),
                  "'waited 600 ms\\n' is 14 bytes: %s", line);
        free(line);
    }
    evt_run_free(&r);
}

Test(async_downloader, sequential_takes_the_sum)
{
    struct evt_run r = run(EVT_ARGV(DOWNLOADER, "--sequential", url(0, "/delay/300"),
                                    url(1, "/delay/300"), url(2, "/delay/300")));
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert_geq(r.seconds, 0.89, "three 300 ms fetches one after the other: %.2f s", r.seconds);
    cr_assert_geq(num_after(r.out, "total ~"), 890, "%s", r.out);
    /* one at a time: [2] connects only after [1] is done */
    const char *done1 = strstr(r.out, "[1] done"), *conn2 = strstr(r.out, "[2] connecting");
    cr_assert(done1 && conn2 && done1 < conn2, "%s", r.out);
    evt_run_free(&r);
}

Test(async_downloader, each_url_goes_connect_write_read_eof)
{
    struct evt_run r = run(EVT_ARGV(DOWNLOADER, url(0, "/delay/100"), url(1, "/bytes/1000")));
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    for (int i = 1; i <= 2; i++) {
        char k[4][40];
        snprintf(k[0], 40, "[%d] connecting for", i);
        snprintf(k[1], 40, "[%d] connected, sending GET", i);
        snprintf(k[2], 40, "[%d] request sent, reading", i);
        snprintf(k[3], 40, "[%d] done after", i);
        const char *prev = r.out;
        for (int s = 0; s < 4; s++) {
            const char *p = strstr(r.out, k[s]);
            cr_assert(p && p >= prev, "'%s' missing or out of order:\n%s", k[s], r.out);
            prev = p;
        }
    }
    /* both were started before either finished */
    cr_assert(strstr(r.out, "[2] connecting") < strstr(r.out, "[1] done"), "%s", r.out);
    evt_run_free(&r);
}

Test(async_downloader, reports_status_and_exact_body_bytes)
{
    struct evt_run r =
        run(EVT_ARGV(DOWNLOADER, url(0, "/bytes/5000000"), url(1, "/bytes/0"), url(2, "/nope")));
    cr_assert_eq(r.exit_code, 0, "a 404 is an answer, not a failure:\n%s", r.out);
    char *a = row(r.out, 1), *b = row(r.out, 2), *c = row(r.out, 3);
    cr_assert(strstr(a, " 200 ") && strstr(a, " 5000000 bytes"), "%s", a);
    cr_assert(strstr(b, " 200 ") && strstr(b, " 0 bytes"), "%s", b);
    cr_assert(strstr(c, " 404 "), "%s", c);
    free(a), free(b), free(c);
    evt_run_free(&r);
}

Test(async_downloader, failures_stay_per_url)
{
    int closed = socket(AF_INET, SOCK_STREAM, 0); /* bound, not listening: refused */
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    cr_assert(bind(closed, (struct sockaddr *)&sin, sizeof sin) == 0);
    getsockname(closed, (struct sockaddr *)&sin, &len);
    char refused[64];
    snprintf(refused, sizeof refused, "http://127.0.0.1:%d/", ntohs(sin.sin_port));

    struct evt_run r = run(EVT_ARGV(DOWNLOADER, "--timeout-ms", "300", url(0, "/bytes/1000"),
                                    refused, url(1, "/reset"), url(2, "/delay/3000"),
                                    url(3, "/delay/100"), url(4, "/close")));
    close(closed);
    cr_assert_eq(r.exit_code, 1, "any failure: exit 1\n%s", r.out);
    cr_assert_lt(r.seconds, 2.0, "the timeout, not the 3 s delay, ends the run: %.2f s", r.seconds);
    char *ok = row(r.out, 1), *ref = row(r.out, 2), *rst = row(r.out, 3), *slow = row(r.out, 4),
         *ok2 = row(r.out, 5);
    cr_assert(strstr(ok, " 200 ") && strstr(ok, "1000 bytes"), "%s", ok);
    cr_assert(strstr(ref, "FAILED") && strstr(ref, "Connection refused"), "%s", ref);
    cr_assert(strstr(rst, "FAILED") && strstr(rst, "Connection reset by peer"), "%s", rst);
    cr_assert(strstr(slow, "FAILED") && strstr(slow, "timed out"), "%s", slow);
    long ms = num_after(slow, "FAILED ~");
    cr_assert(ms >= 290 && ms < 1500, "timed out after about 300 ms, not 3000: %s", slow);
    cr_assert(strstr(ok2, " 200 ") && strstr(ok2, "14 bytes"), "%s", ok2);
    char *fin = row(r.out, 6);
    cr_assert(strstr(fin, "FAILED") && strstr(fin, "connection closed before a complete response"),
              "%s", fin);
    cr_assert(strstr(r.out, "4 failed"), "%s", r.out);
    free(ok), free(ref), free(rst), free(slow), free(ok2), free(fin);
    evt_run_free(&r);
}

Test(async_downloader, sends_crlf_lines_not_rn)
{
    /* Here the "server" is a raw socket: what exactly does the writer send? */
    int lport, lfd = evt_listen(&lport);
    cr_assert_geq(lfd, 0);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x?y=1", lport);
    struct evt_proc p;
    cr_assert_eq(evt_spawn(&p, EVT_ARGV(DOWNLOADER, u), NULL), 0);
    struct pollfd pf = {lfd, POLLIN, 0};
    cr_assert_eq(poll(&pf, 1, 5000), 1, "the downloader never connected");
    int c = accept(lfd, NULL, NULL);
    char want[128], got[256] = {0};
    int n = snprintf(want, sizeof want, "GET /x?y=1 HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", lport);
    size_t have = evt_read_n(c, got, (size_t)n, 5);
    cr_assert_eq(have, (size_t)n, "request: got %zu bytes: '%s'", have, got);
    cr_assert_str_eq(got, want);
    const char *reply = "HTTP/1.1 200 OK\r\nX-A: b\r\n\r\nhello";
    evt_write_all(c, reply, strlen(reply), 5);
    close(c);
    int st = evt_wait_exit(&p, 5);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s\n%s", p.out, p.err);
    cr_assert(strstr(p.out, "status 200, 5 body bytes"), "%s", p.out);
    evt_proc_free(&p);
    close(lfd);
}

/* A reply that promises Content-Length: 1000 and closes after 10 bytes is
 * an error, not a 10-byte success. */
Test(async_downloader, a_body_cut_short_is_an_error)
{
    struct evt_run r = run(EVT_ARGV(DOWNLOADER, url(0, "/truncate"), url(1, "/bytes/1000")));
    cr_assert_eq(r.exit_code, 1, "a short body is a failure:\n%s", r.out);
    char *a = row(r.out, 1), *b = row(r.out, 2);
    cr_assert(strstr(a, "FAILED") && strstr(a, "body cut short: 10 of 1000 bytes"), "%s", a);
    cr_assert(strstr(b, " 200 ") && strstr(b, " 1000 bytes"), "a full body is fine: %s", b);
    free(a), free(b);
    evt_run_free(&r);
}

/* /stream/N has no Content-Length. Asked with HTTP/1.1 the server sends it
 * chunked (a client that counts raw bytes would count the chunk framing);
 * the downloader asks with HTTP/1.0 and gets exactly N plain bytes. */
Test(async_downloader, http_1_0_gets_no_chunked_reply)
{
    int err;
    char *raw = get("/stream/2500", &err); /* HTTP/1.1 */
    cr_assert(strstr(raw, "Transfer-Encoding: chunked"), "HTTP/1.1 gets chunks:\n%.300s", raw);
    free(raw);
    struct evt_run r = run(EVT_ARGV(DOWNLOADER, url(0, "/stream/2500")));
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    char *a = row(r.out, 1);
    cr_assert(strstr(a, " 200 ") && strstr(a, " 2500 bytes"), "exactly the body: %s", a);
    free(a);
    evt_run_free(&r);
}

/* If a chunked reply comes anyway, the downloader says it cannot decode it
 * instead of counting the framing as body bytes. */
Test(async_downloader, a_chunked_reply_is_refused_not_miscounted)
{
    int lport, lfd = evt_listen(&lport);
    cr_assert_geq(lfd, 0);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", lport);
    struct evt_proc p;
    cr_assert_eq(evt_spawn(&p, EVT_ARGV(DOWNLOADER, u), NULL), 0);
    struct pollfd pf = {lfd, POLLIN, 0};
    cr_assert_eq(poll(&pf, 1, 5000), 1, "the downloader never connected");
    int c = accept(lfd, NULL, NULL);
    char got[256] = {0}, want[128];
    int n = snprintf(want, sizeof want, "GET / HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", lport);
    cr_assert_eq(evt_read_n(c, got, (size_t)n, 5), (size_t)n, "%s", got);
    const char *reply =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    evt_write_all(c, reply, strlen(reply), 5);
    close(c);
    int st = evt_wait_exit(&p, 5);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s\n%s", p.out, p.err);
    cr_assert(strstr(p.out, "chunked reply: this HTTP/1.0 client cannot decode it"), "%s", p.out);
    evt_proc_free(&p);
    close(lfd);
}

Test(async_downloader, bad_urls_and_flags_exit_2)
{
    struct {
        const char *arg, *msg;
    } bad[] = {
        {"https://127.0.0.1:8443/", "only the http scheme is supported"},
        {"ftp://127.0.0.1:21/", "only the http scheme is supported"},
        {"http://example.com:80/", "the host must be 127.0.0.1"},
        {"http://127.0.0.1/", "a port is needed"},
        {"http://[::1", "not a URL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct evt_run r = run(EVT_ARGV(DOWNLOADER, url(0, "/delay/0"), bad[i].arg));
        cr_assert_eq(r.exit_code, 2, "%s: exit %d", bad[i].arg, r.exit_code);
        cr_assert(strstr(r.err, "bad URL") && strstr(r.err, bad[i].msg), "%s: %s", bad[i].arg,
                  r.err);
        cr_assert_null(strstr(r.out, "connecting"),
                       "nothing starts before every URL is checked:\n%s", r.out);
        evt_run_free(&r);
    }
    struct evt_run r = run(EVT_ARGV(DOWNLOADER));
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "give at least one URL"), "%s", r.err);
    evt_run_free(&r);
    r = run(EVT_ARGV(DOWNLOADER, "--timeout-ms", "0", url(0, "/")));
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--timeout-ms wants a whole number"), "%s", r.err);
    evt_run_free(&r);
    /* too big for an int: rejected, never cast first */
    r = run(EVT_ARGV(DOWNLOADER, "--timeout-ms", "4294967596", url(0, "/")));
    cr_assert_eq(r.exit_code, 2, "%s", r.out);
    evt_run_free(&r);
    r = run(EVT_ARGV(DOWNLOADER, "--bogus"));
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "usage:"), "%s", r.err);
    evt_run_free(&r);
    r = run(EVT_ARGV(DOWNLOADER, "--help"));
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "--sequential") && strstr(r.out, "--timeout-ms") &&
                  strstr(r.out, "--step"),
              "%s", r.out);
    evt_run_free(&r);
}

Test(async_downloader, step_mode_waits_for_enter_on_a_tty)
{
    struct evt_run r;
    cr_assert_eq(
        evt_run_pty(&r, EVT_ARGV(DOWNLOADER, "--step", url(0, "/delay/0")), NULL, "\nq\n", 10), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "== 2."), "%s", r.out);
    cr_assert_null(strstr(r.out, "connected, sending"), "q must stop before the loop runs:\n%s",
                   r.out);
    evt_run_free(&r);
}

/* Time spent at a --step prompt is not counted: nothing starts before the
 * last pause. With 2 s at each prompt, two 300 ms fetches still report a
 * total near 300 ms. */
Test(async_downloader, time_at_a_step_prompt_is_not_counted, .timeout = 60)
{
    struct evt_run r;
    cr_assert_eq(
        evt_run_step(&r, EVT_ARGV(DOWNLOADER, "--step", url(0, "/delay/300"), url(1, "/delay/300")),
                     NULL, 2.0, 40),
        0);
    cr_assert_eq(evt_step_prompts(r.out), 3, "it paused at every step:\n%s", r.out);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    long total = num_after(r.out, "total ~");
    cr_assert_lt(total, 1500, "the 2 s pauses leaked into the total (%ld ms):\n%s", total, r.out);
    cr_assert_lt(num_after(r.out, "[1] done after ~"), 1500, "%s", r.out);
    evt_run_free(&r);
}

/* ---- the server on its own, with raw sockets ------------------------------ */

static char *get(const char *path, int *err)
{
    int fd = evt_connect(port, 5);
    cr_assert_geq(fd, 0);
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    evt_write_all(fd, req, strlen(req), 5);
    char *buf = calloc(1, 1 << 16);
    size_t len = 0;
    *err = 0;
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 5000) != 1)
            break;
        ssize_t n = recv(fd, buf + len, (1 << 16) - 1 - len, 0);
        if (n < 0)
            *err = errno;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    return buf;
}

Test(slow_http_server, delay_bytes_reset_and_404)
{
    int err;
    double t = evt_now();
    char *a = get("/delay/200", &err);
    t = evt_now() - t;
    cr_assert(strstr(a, "HTTP/1.1 200") && strstr(a, "\r\n\r\nwaited 200 ms\n"), "%s", a);
    cr_assert_geq(t, 0.19, "answered after %.3f s", t);
    free(a);
    char *b = get("/bytes/3000", &err);
    const char *body = strstr(b, "\r\n\r\n");
    cr_assert(body && strlen(body + 4) == 3000, "%s", b);
    free(b);
    char *c = get("/reset", &err);
    cr_assert_eq(err, ECONNRESET, "a reset, not an EOF: errno %d, got '%s'", err, c);
    cr_assert_eq(c[0], 0, "no answer at all: '%s'", c);
    free(c);
    char *f = get("/close", &err);
    cr_assert(err == 0 && f[0] == 0, "/close: a plain EOF, no answer: errno %d, '%s'", err, f);
    free(f);
    char *d = get("/nope", &err);
    cr_assert(strstr(d, "HTTP/1.1 404"), "%s", d);
    free(d);
    /* it still serves after all that */
    char *e = get("/delay/0", &err);
    cr_assert(strstr(e, "waited 0 ms"), "%s", e);
    free(e);
}

Test(slow_http_server, without_connection_close_the_server_keeps_the_connection)
{
    int fd = evt_connect(port, 5);
    const char *req = "GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n";
    evt_write_all(fd, req, strlen(req), 5);
    char buf[512] = {0};
    size_t n = 0;
    while (!strstr(buf, "xxxxxxxxxx") && n < sizeof buf - 1) {
        size_t got = evt_read_n(fd, buf + n, 1, 5);
        if (!got)
            break;
        n += got;
    }
    cr_assert(strstr(buf, "HTTP/1.1 200") && strstr(buf, "xxxxxxxxxx"), "%s", buf);
    cr_assert_not(evt_wait_eof(fd, 0.3),
                  "HTTP/1.1 keeps the connection open without 'Connection: close'");
    close(fd);
}

Test(slow_http_server, the_forum_posts_rn_request_gets_no_answer)
{
    int fd = evt_connect(port, 5);
    const char *req = "GET /delay/0 HTTP/1.1rnHost: xrnConnection: closernrn";
    evt_write_all(fd, req, strlen(req), 5);
    char buf[64];
    cr_assert_eq(evt_read_n(fd, buf, 1, 0.5), 0, "no line end, no answer");
    close(fd);
    int err;
    char *a = get("/delay/0", &err); /* the proper request is answered */
    cr_assert(strstr(a, "waited 0 ms"), "%s", a);
    free(a);
}

Test(slow_http_server, client_leaving_during_a_delay_is_harmless)
{
    int fd = evt_connect(port, 5);
    const char *req = "GET /delay/100 HTTP/1.1\r\nHost: x\r\n\r\n";
    evt_write_all(fd, req, strlen(req), 5);
    cr_assert(evt_wait_line(&server, "request /delay/100", 5), "%s", server.out);
    close(fd); /* gone before the timer fires */
    int err;
    char *a = get("/delay/200", &err); /* outlives the first timer */
    cr_assert(strstr(a, "waited 200 ms"), "%s", a);
    free(a);
    /* and a delay still pending at SIGTERM: stop_server checks exit 0, no stderr */
    int fd2 = evt_connect(port, 5);
    const char *req2 = "GET /delay/5000 HTTP/1.1\r\nHost: x\r\n\r\n";
    evt_write_all(fd2, req2, strlen(req2), 5);
    cr_assert(evt_wait_line(&server, "request /delay/5000", 5), "%s", server.out);
    evt_stop(&server, SIGINT, 5);
    cr_assert(WIFEXITED(server.status) && WEXITSTATUS(server.status) == 0, "SIGINT: exit 0\n%s",
              server.err);
    cr_assert(strstr(server.out, "signal 2: shutting down"), "%s", server.out);
    close(fd2);
}

/* TCP connections to `port` in CLOSE-WAIT (state 08) on the server's side. */
static int close_wait_count(int server_port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    cr_assert_not_null(f);
    char line[512];
    unsigned lport, st;
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &st) == 2 && st == 0x08 &&
            lport == (unsigned)server_port)
            n++;
    fclose(f);
    return n;
}

/* The client leaves during a 3 s /delay. evhttp has stopped reading the
 * socket (http.c, evhttp_handle_request), so by itself it notices nothing:
 * with --no-watch the server's socket sits in CLOSE-WAIT. The lesson's
 * server watches the fd itself and frees the connection at once. */
static void leave_during_delay(bool watch)
{
    struct evt_proc srv;
    const char *const with[] = {SERVER, "--port", "0", NULL};
    const char *const without[] = {SERVER, "--port", "0", "--no-watch", NULL};
    cr_assert_eq(evt_spawn(&srv, watch ? with : without, NULL), 0);
    int sport = evt_wait_port(&srv, 10);
    cr_assert_gt(sport, 0, "%s", srv.err);
    int fd = evt_connect(sport, 5);
    const char *req = "GET /delay/3000 HTTP/1.1\r\nHost: x\r\n\r\n";
    evt_write_all(fd, req, strlen(req), 5);
    cr_assert(evt_wait_line(&srv, "request /delay/3000", 5), "%s", srv.out);
    double t0 = evt_now();
    close(fd);
    if (watch) {
        cr_assert(evt_wait_line(&srv, "client left during /delay/3000", 5), "%s", srv.out);
        cr_assert_lt(evt_now() - t0, 2.0, "noticed at once, not when the 3 s timer fired");
        cr_assert_eq(close_wait_count(sport), 0, "no socket left in CLOSE-WAIT");
    } else {
        int n = 0;
        for (int i = 0; i < 40 && !n; i++) { /* the FIN needs a moment to arrive */
            n = close_wait_count(sport);
            if (!n)
                evt_wait_line(&srv, "never printed", 0.05);
        }
        cr_assert_eq(n, 1, "without the watch the server's socket sits in CLOSE-WAIT");
        cr_assert_null(strstr(srv.out, "client left"), "%s", srv.out);
    }
    int st = evt_stop(&srv, SIGTERM, 5);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", srv.err);
    evt_proc_free(&srv);
}

Test(slow_http_server_args, evhttp_does_not_notice_a_client_leaving_the_server_watches)
{
    leave_during_delay(false);
    leave_during_delay(true);
}

Test(slow_http_server_args, help_and_bad_flags)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(SERVER, "--help"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "--port") && strstr(r.out, "/delay/MS"), "%s", r.out);
    evt_run_free(&r);
    cr_assert_eq(evt_run(&r, EVT_ARGV(SERVER, "--port", "70000"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--port wants a whole number from 0 to 65535"), "%s", r.err);
    evt_run_free(&r);
    cr_assert_eq(evt_run(&r, EVT_ARGV(SERVER, "--bogus"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "usage:"), "%s", r.err);
    evt_run_free(&r);
}
