/* Grading suite for exercise 12 (fix seed 003's blocking accept).
 * Program: blocking_accept --port 0; prints "listening on 127.0.0.1:PORT";
 * echoes every client, many at once, in one thread.
 * Timing bounds are generous (seconds, for work that takes milliseconds). */
#include "gx_server.h"

#define PROG evt_target("blocking_accept")
#define ARGV EVT_ARGV(PROG, "--port", "0")

/* Start, then what every later test needs: the stalled-loop check of t02 in
 * short. Client A connects and sends half a message; client B must get its
 * echo within 2 s. Seed 003's server (the starter) serves A until A hangs up,
 * so B waits: without this, the untouched starter would pass every test that
 * uses one client at a time. If it fails, the test stops at once with "not
 * run", and hanging code costs 2 s here. */
static void start(struct evs_server *s)
{
    gx_start(s, ARGV);
    int a = evt_connect(s->port, 3);
    cr_assert(a >= 0, "could not connect to the server");
    (void)!write(a, "A is", 4);
    gx_step("the stalled-loop check (client B's \"probe\" while A is silent)");
    char msg[1024];
    bool ok = gx_exchange(s->port, "probe\n", "probe\n", 2, msg, sizeof msg);
    close(a);
    if (ok)
        return;
    char what[1200];
    snprintf(what, sizeof what,
             "while client A was connected and had sent half a message, client B %s", msg);
    gx_not_run(s, "t01_echo and t02_second_client_while_first_stalls", what);
}

GRADED(blocking_callbacks, t01_echo, 1, 10, "echoes a line at once (within 1.5 s)")
{
    struct evs_server s;
    gx_start(&s, ARGV); /* no probe: this test is the first exchange */
    char msg[1024];
    gx_step("the first exchange (\"hello\") waited for its reply");
    bool ok = gx_exchange(s.port, "hello\n", "hello\n", 1.5, msg, sizeof msg);
    cr_assert(ok,
              "%s. Answering takes milliseconds; 1.5 s without an answer means the loop was "
              "waiting inside a callback (a sleep(), or a blocking call) instead of returning",
              msg);
    evs_free(&s);
}

GRADED(blocking_callbacks, t02_second_client_while_first_stalls, 4, 10,
       "stalled-loop check: B is answered while A is connected and silent")
{
    struct evs_server s;
    gx_start_probe(&s, ARGV, "probe\n", "probe\n", 3, "t01_echo"); /* this test is the check */
    int a = evt_connect(s.port, 3);
    cr_assert(a >= 0);
    /* A sends half a message and stalls; B must still be served at once. */
    cr_assert_eq(evt_write_all(a, "A is thinking...", 16, 1), 16);
    gx_check_round_trip(&s, 1.0, "while client A is connected and has stopped sending");
    close(a);
    evs_free(&s);
}

GRADED(blocking_callbacks, t03_twenty_clients_at_once, 4, 15,
       "20 clients connect at once; all answered within 3 s")
{
    struct evs_server s;
    start(&s);
    int fds[20];
    double t0 = evt_now();
    for (int i = 0; i < 20; i++) {
        fds[i] = evt_connect(s.port, 3);
        cr_assert(fds[i] >= 0, "could not connect client %d", i);
    }
    for (int i = 0; i < 20; i++) {
        char req[32];
        snprintf(req, sizeof req, "client %02d\n", i);
        evt_write_all(fds[i], req, strlen(req), 1);
    }
    int answered = 0;
    /* read them in reverse order: the last to connect must not wait for the first to leave */
    for (int i = 19; i >= 0; i--) {
        char want[32], got[32] = "";
        snprintf(want, sizeof want, "client %02d\n", i);
        double left = 3.0 - (evt_now() - t0);
        if (left > 0 && evt_read_n(fds[i], got, strlen(want), left) == strlen(want) &&
            memcmp(got, want, strlen(want)) == 0)
            answered++;
    }
    double dt = evt_now() - t0;
    for (int i = 0; i < 20; i++)
        close(fds[i]);
    cr_assert_eq(answered, 20,
                 "20 clients connected at once and each sent one line; %d of them got "
                 "their echo within 3 s (%.1f s in all). The seed's conclusion that one thread "
                 "serves one client at a time is wrong: accept, register a read event, return.",
                 answered, dt);
    evs_free(&s);
}

GRADED(blocking_callbacks, t04_clients_interleave, 2, 10,
       "two open connections take turns: A, B, A, B (events added while the loop runs)")
{
    struct evs_server s;
    start(&s);
    int a = evt_connect(s.port, 3), b = evt_connect(s.port, 3);
    cr_assert(a >= 0 && b >= 0);
    const char *who[] = {"A1\n", "B1\n", "A2\n", "B2\n"};
    for (int i = 0; i < 4; i++) {
        int fd = i % 2 ? b : a;
        char got[8] = "";
        evt_write_all(fd, who[i], 3, 1);
        size_t r = evt_read_n(fd, got, 3, 3);
        cr_assert(r == 3 && memcmp(got, who[i], 3) == 0,
                  "turn %d: client %c sent \"%s\" and got \"%s\" back within 3 s, while the other "
                  "client stayed connected",
                  i + 1, i % 2 ? 'B' : 'A', gx_show(who[i], 3), gx_show(got, r));
    }
    close(a);
    close(b);
    evs_free(&s);
}

GRADED(blocking_callbacks, t05_one_byte_at_a_time, 1, 10, "a client that sends one byte at a time")
{
    struct evs_server s;
    start(&s);
    gx_check_one_byte(&s, "drip\n", "drip\n");
    evs_free(&s);
}

GRADED(blocking_callbacks, t06_big_echo, 2, 15, "echoes 2 MiB of random binary data byte-exact")
{
    struct evs_server s;
    start(&s);
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    size_t n = 2 << 20;
    char *out = malloc(n), *in = malloc(n);
    evt_random_bytes(out, n, 12);
    size_t w = 0, r = gx_duplex(fd, out, n, in, n, 10, &w, true);
    char msg[512];
    bool ok = gx_compare("2 MiB echo", out, n, in, r, msg, sizeof msg);
    bool eof = evt_wait_eof(fd, 3);
    close(fd);
    free(out);
    free(in);
    cr_assert(ok, "%s", msg);
    cr_assert(
        eof, "the client half-closed after sending and got everything back, but the server did not "
             "close the connection within 3 s: on EOF, finish writing, then close");
    evs_free(&s);
}

GRADED(blocking_callbacks, t07_half_close_queued, 2, 15,
       "half-close with the echo still queued: every byte comes back, then the server closes")
{
    struct evs_server s;
    start(&s);
    gx_check_halfclose_queued(&s, 4u << 20, 12);
    evs_free(&s);
}

GRADED(blocking_callbacks, t08_never_reading_client, 4, 15,
       "stalled-loop check: while A never reads, B's round trip stays short and A loses nothing")
{
    struct evs_server s;
    start(&s);
    int a = gx_connect_small(s.port);
    cr_assert(a >= 0);
    size_t n = 16u << 20;
    char *bulk = malloc(n);
    evt_random_bytes(bulk, n, 13);
    size_t sent = evt_write_all(a, bulk, n, 1.0); /* A does not read its echo (yet) */
    char situation[200];
    snprintf(situation, sizeof situation, "while client A has sent %zu bytes and not read its echo",
             sent);
    gx_check_round_trip(&s, 1.0, situation);
    gx_check_reads_back(a, bulk, sent,
                        "A write() that cannot send everything must keep the rest for the next "
                        "EV_WRITE, not drop it (a bufferevent does this for you)");
    free(bulk);
    evs_free(&s);
}

GRADED(blocking_callbacks, t09_pause_then_resume, 2, 15,
       "a client that pauses reading for 0.6 s, then reads, gets every byte and can go on")
{
    struct evs_server s;
    start(&s);
    int fd = gx_check_pause_resume(&s, 4u << 20, 0.6, 2.0, 14);
    const char more[] = "and more\n";
    char got[sizeof more] = "";
    size_t w = 0, r = gx_duplex(fd, more, sizeof more - 1, got, sizeof more - 1, 3, &w, false);
    close(fd);
    cr_assert(r == sizeof more - 1 && memcmp(got, more, r) == 0,
              "after the paused client had read all 4 MiB, it sent \"and more\\n\" on the same "
              "connection and got \"%s\" back within 3 s: the connection must go on",
              gx_show(got, r));
    evs_free(&s);
}

GRADED(blocking_callbacks, t10_reset_mid_reply, 2, 15,
       "clients that reset mid-reply do not kill the server")
{
    struct evs_server s;
    start(&s);
    size_t n = 1 << 20;
    char *bulk = malloc(n);
    memset(bulk, 'r', n);
    gx_check_reset(&s, bulk, n, 1000, "alive?\n", "alive?\n");
    free(bulk);
    evs_free(&s);
}

GRADED(blocking_callbacks, t11_thousand_connections, 2, 20, "1000 connections open at once")
{
    struct evs_server s;
    start(&s);
    gx_check_many(&s, 1000, "c%d\n", "c%d\n");
    evs_free(&s);
}

GRADED(blocking_callbacks, t12_idle_cpu, 2, 10, "waiting costs no CPU (one idle client connected)")
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
                      "read() returning 0 as the end of the connection.");
    close(fd);
    evs_free(&s);
}

GRADED(blocking_callbacks, t13_fd_leak, 2, 10, "no fd leak: 200 clients come and go")
{
    struct evs_server s;
    start(&s);
    gx_check_fd_leak(&s, "fd?\n", "fd?\n");
    evs_free(&s);
}

GRADED(blocking_callbacks, t14_sigterm_exit, 1, 10, "exit 0 on SIGTERM, a client still connected")
{
    struct evs_server s;
    start(&s);
    gx_check_sigterm(&s);
    evs_free(&s);
}

GRADED(blocking_callbacks, t15_memory_leak, 2, 20,
       "no leak per connection (valgrind/LSan), exit 0 on SIGTERM")
{
    const char req[] = "leak?\n";
    struct evs_server probe; /* plainly first: what every other test needs (t01, t02) */
    start(&probe);
    evs_stop(&probe, SIGKILL, 1);
    evs_free(&probe);
    gx_check_memory(ARGV, true, 20, req, sizeof req - 1, sizeof req - 1);
}
