/* Grading suite for exercise 10 (fix seed 002's echo server).
 * Program: echo_server --port 0; prints "listening on 127.0.0.1:PORT".
 * It must echo every byte exactly, survive hostile clients, and leak nothing. */
#include "gx_server.h"

#define PROG evt_target("echo_server")
#define ARGV EVT_ARGV(PROG, "--port", "0")

static void start(struct gx_srv *s) { gx_start(s, ARGV); }

/* Echo n random bytes on one connection; optionally half-close after writing. */
static void echo_random(struct gx_srv *s, size_t n, unsigned seed, bool half_close,
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
    bool alive = gx_alive(s);
    cr_assert(ok, "%s (sent %zu of %zu)%s%s", msg, w, n,
              alive ? "" : "; the server died: ", alive ? "" : gx_death(s));
    cr_assert(eof,
              "after the client half-closed (shutdown SHUT_WR) and got everything back, the server "
              "did not close its side within 3 s: recv() returning 0 means the client is done");
}

GRADED(echo_server, text_line, 1, 10, "echoes a short text line")
{
    struct gx_srv s;
    start(&s);
    char msg[1024];
    cr_assert(gx_exchange(s.port, "hello, echo\n", "hello, echo\n", 3, msg, sizeof msg), "%s", msg);
    gx_free(&s);
}

GRADED(echo_server, binary_with_nuls, 3, 10, "echoes 3000 random bytes (NULs included) exactly")
{
    struct gx_srv s;
    start(&s);
    echo_random(&s, 3000, 7, false, 5);
    gx_free(&s);
}

GRADED(echo_server, binary_4mib, 4, 20, "echoes 4 MiB of random binary data byte-exact")
{
    struct gx_srv s;
    start(&s);
    echo_random(&s, 4 << 20, 42, false, 15);
    gx_free(&s);
}

GRADED(echo_server, one_byte_at_a_time, 2, 10, "a client that sends one byte at a time")
{
    struct gx_srv s;
    start(&s);
    gx_check_one_byte(&s, "one byte at a time\n", "one byte at a time\n");
    gx_free(&s);
}

GRADED(echo_server, half_close, 2, 10, "half-close: everything comes back, then the server closes")
{
    struct gx_srv s;
    start(&s);
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    static char text[100000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 26);
    char *in = malloc(sizeof text);
    size_t w = 0, r = gx_duplex(fd, text, sizeof text, in, sizeof text, 8, &w, true);
    char msg[512];
    bool ok = gx_compare("after a half-close", text, sizeof text, in, r, msg, sizeof msg);
    bool eof = evt_wait_eof(fd, 3);
    close(fd);
    free(in);
    cr_assert(ok, "%s", msg);
    cr_assert(eof,
              "after the client half-closed (shutdown SHUT_WR) and got everything back, the server "
              "did not close its side within 3 s: recv() returning 0 means the client is done");
    gx_free(&s);
}

GRADED(echo_server, reset_mid_reply, 3, 15, "clients that reset mid-reply do not kill the server")
{
    struct gx_srv s;
    start(&s);
    size_t n = 1 << 20;
    char *bulk = malloc(n);
    memset(bulk, 'x', n);
    gx_check_reset(&s, bulk, n, 1000, "still there?\n", "still there?\n");
    free(bulk);
    gx_free(&s);
}

GRADED(echo_server, never_reading_client, 4, 15,
       "a client that never reads stalls neither the loop nor the memory")
{
    struct gx_srv s;
    start(&s);
    long rss0 = gx_rss_kb(s.p.pid);
    int a = evt_connect(s.port, 3);
    cr_assert(a >= 0);
    size_t n = 32u << 20;
    char *bulk = malloc(n);
    memset(bulk, 'z', n);
    size_t sent = evt_write_all(a, bulk, n, 1.5); /* A never reads its echo */
    free(bulk);
    char msg[1024];
    double t0 = evt_now();
    bool ok = gx_exchange(s.port, "are you stalled?\n", "are you stalled?\n", 3, msg, sizeof msg);
    double dt = evt_now() - t0;
    long rss1 = gx_rss_kb(s.p.pid);
    close(a);
    cr_assert(
        ok,
        "client A sent %zu bytes and never read its echo; then client B was not served: %s "
        "(%.1f s). The loop is stuck: a blocking send() to A waits for A to read. Make sockets "
        "non-blocking and wait for EV_WRITE instead.",
        sent, msg, dt);
    cr_assert(
        rss1 - rss0 < 8 * 1024,
        "client A sent %zu bytes without reading its echo and the server's memory grew by %ld KiB: "
        "stop reading from a client while its unsent echo is waiting (back-pressure)",
        sent, rss1 - rss0);
    gx_free(&s);
}

GRADED(echo_server, thousand_connections, 3, 20, "1000 connections open at once, each echoed")
{
    struct gx_srv s;
    start(&s);
    gx_check_many(&s, 1000, "client %d\n", "client %d\n");
    gx_free(&s);
}

GRADED(echo_server, idle_connections, 1, 10, "idle connections do not block others")
{
    struct gx_srv s;
    start(&s);
    gx_check_idle(&s, "idle?\n", "idle?\n");
    gx_free(&s);
}

GRADED(echo_server, fd_leak, 2, 15, "no fd leak: 200 clients come and go")
{
    struct gx_srv s;
    start(&s);
    gx_check_fd_leak(&s, "fd\n", "fd\n");
    gx_free(&s);
}

GRADED(echo_server, memory_errors, 3, 40, "no overflow: full 1 KiB reads under valgrind/ASan")
{
    /* 4 KiB without a single NUL: every recv() can fill the whole buffer. */
    static char req[4096];
    memset(req, 'A', sizeof req);
    gx_check_memory(ARGV, false, 5, req, sizeof req, sizeof req);
}

GRADED(echo_server, memory_leak, 3, 40,
       "no leak per connection (valgrind/LSan), clean exit on SIGTERM")
{
    const char req[] = "leak check\n";
    gx_check_memory(ARGV, true, 20, req, sizeof req - 1, sizeof req - 1);
}
