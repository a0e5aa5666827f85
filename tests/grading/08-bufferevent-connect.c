/* Grading suite for exercise 08 (connect with a bufferevent, report the outcome).
 * Program: connect_check [--timeout-ms N] HOST PORT
 *   0 + "connected to HOST:PORT" | 1 + "error: cannot connect to HOST:PORT: REASON" | 2 usage. */
#include "gx_server.h"

#include <netdb.h>

#define PROG evt_target("connect_check")

static struct evt_run run(const char *const argv[], double timeout_s)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, timeout_s), 0, "could not run %s", argv[0]);
    return r;
}

/* A port nobody listens on: bind, read the port, close. */
static int closed_port(void)
{
    int port, fd = evt_listen(&port);
    cr_assert(fd >= 0);
    close(fd);
    return port;
}

static bool listener_got_connection(int lfd)
{
    struct pollfd pf = {lfd, POLLIN, 0};
    return poll(&pf, 1, 1000) == 1;
}

/* Every test after t01 first checks the one thing they all rely on: with a
 * listener there, connect_check exits by itself (any exit code: what it
 * prints is t01's business). Hanging code so costs 3 s per test, "not run",
 * instead of each test waiting out its own deadlines. */
static void need_exit(void)
{
    int port, lfd = evt_listen(&port);
    cr_assert(lfd >= 0);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct evt_run r = run(EVT_ARGV(PROG, "127.0.0.1", ps), 3);
    close(lfd);
    bool hung = r.timed_out;
    evt_run_free(&r);
    if (hung)
        cr_assert_fail("not run: needs t01_connects: connect_check 127.0.0.1 %d, with a listener "
                       "there, did not exit within 3 s: stop the loop once the event callback "
                       "has the outcome",
                       port);
}

/* What became of a run, for messages: killed at our deadline, crashed, or an
 * exit code. */
static const char *fate(const struct evt_run *r)
{
    static char buf[96];
    if (r->timed_out)
        snprintf(buf, sizeof buf, "was still running after %.0f s (stopped)", r->seconds);
    else if (r->term_signal)
        snprintf(buf, sizeof buf, "crashed (signal %d, %s)", r->term_signal,
                 strsignal(r->term_signal));
    else
        snprintf(buf, sizeof buf, "exited %d", r->exit_code);
    return buf;
}

GRADED(connect, t01_connects, 3, 10,
       "connects to a listening port: exit 0 and \"connected to ...\"")
{
    int port, lfd = evt_listen(&port);
    cr_assert(lfd >= 0);
    char ps[16], want[64];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(want, sizeof want, "connected to 127.0.0.1:%d\n", port);
    struct evt_run r = run(EVT_ARGV(PROG, "127.0.0.1", ps), 5);
    bool seen = listener_got_connection(lfd);
    close(lfd);
    cr_assert(!r.timed_out,
              "connect_check 127.0.0.1 %d did not exit within 5 s (a listener was there): "
              "stop the loop once the event callback has the outcome",
              port);
    cr_assert_eq(r.exit_code, 0,
                 "connect_check 127.0.0.1 %d, with a listener on that port, exited %d "
                 "(want 0). stderr: %.300s",
                 port, r.exit_code, r.err);
    cr_assert(strstr(r.out, want),
              "expected the line \"connected to 127.0.0.1:%d\" on stdout, got \"%s\"", port,
              gx_show(r.out, r.out_len));
    cr_assert(seen, "exit 0, but the listener never saw a connection: report success only on "
                    "BEV_EVENT_CONNECTED");
    evt_run_free(&r);
}

GRADED(connect, t02_refused, 3, 10, "a refused port: exit 1 and \"Connection refused\" on stderr")
{
    need_exit();
    int port = closed_port();
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct evt_run r = run(EVT_ARGV(PROG, "127.0.0.1", ps), 8);
    cr_assert(!r.timed_out, "connect_check 127.0.0.1 %d (nobody listening) did not exit within 8 s",
              port);
    cr_assert(
        !strstr(r.out, "connected to"),
        "nobody listens on port %d, yet it printed \"%s\": "
        "bufferevent_socket_connect() returning 0 only means the connect has started; wait for "
        "the event callback",
        port, gx_show(r.out, r.out_len));
    cr_assert_eq(r.exit_code, 1,
                 "connect_check 127.0.0.1 %d with nobody listening exited %d (want 1)", port,
                 r.exit_code);
    cr_assert(
        strstr(r.err, "Connection refused"),
        "expected stderr to give the reason, \"Connection refused\" (from EVUTIL_SOCKET_ERROR() in "
        "the event callback), got \"%s\"",
        gx_show(r.err, r.err_len));
    evt_run_free(&r);
}

GRADED(connect, t03_hostname, 2, 10, "HOST may be a name: localhost")
{
    need_exit();
    int port, lfd = evt_listen(&port);
    cr_assert(lfd >= 0);
    char ps[16], want[64];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(want, sizeof want, "connected to localhost:%d\n", port);
    struct evt_run r = run(EVT_ARGV(PROG, "localhost", ps), 8);
    close(lfd);
    /* A machine with no /etc/hosts (a bare container) cannot resolve the
     * name at all: say that it is the machine, not the program. */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo("localhost", ps, &hints, &ai);
    if (ai)
        freeaddrinfo(ai);
    cr_assert(gai == 0 || (r.exit_code == 0 && strstr(r.out, want)),
              "this machine cannot resolve \"localhost\" (getaddrinfo: %s; is /etc/hosts "
              "missing?), so no program can pass this test here: it is not your code",
              gai_strerror(gai));
    cr_assert(r.exit_code == 0 && strstr(r.out, want),
              "connect_check localhost %d (listening on 127.0.0.1) %s with stdout \"%s\" and "
              "stderr \"%s\"%s",
              port, fate(&r), gx_show(r.out, r.out_len), gx_show(r.err, r.err_len),
              r.exit_code == 1 || (r.exit_code == 0 && !strstr(r.out, "connected"))
                  ? ": a name needs resolving (bufferevent_socket_connect_hostname)"
                  : "");
    int cport = closed_port();
    snprintf(ps, sizeof ps, "%d", cport);
    evt_run_free(&r);
    r = run(EVT_ARGV(PROG, "localhost", ps), 8);
    cr_assert(r.exit_code == 1 && strstr(r.err, "Connection refused"),
              "connect_check localhost %d (nobody listening) %s, stderr \"%s\" (want exit 1 "
              "and \"Connection refused\")",
              cport, fate(&r), gx_show(r.err, r.err_len));
    evt_run_free(&r);
}

GRADED(connect, t04_timeout, 2, 10,
       "--timeout-ms 500 against a port that never answers: exit 1, \"timed out\"")
{
    need_exit();
    /* A listener with a full accept queue: the kernel drops further SYNs, so
     * a connect to it neither succeeds nor fails. */
    int port;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    cr_assert(bind(lfd, (struct sockaddr *)&sin, sizeof sin) == 0 && listen(lfd, 0) == 0 &&
              getsockname(lfd, (struct sockaddr *)&sin, &len) == 0);
    port = ntohs(sin.sin_port);
    int fill[3];
    for (int i = 0; i < 3; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&sin, sizeof sin);
    }
    gx_pause_ms(50);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct evt_run r = run(EVT_ARGV(PROG, "--timeout-ms", "500", "127.0.0.1", ps), 6);
    for (int i = 0; i < 3; i++)
        close(fill[i]);
    close(lfd);
    cr_assert(!r.timed_out,
              "with --timeout-ms 500 against a port that never completes the handshake, "
              "connect_check was still running after 6 s: bound the connect with a write timeout "
              "(bufferevent_set_timeouts)");
    cr_assert(
        r.exit_code == 1 && strstr(r.err, "timed out") && !strstr(r.out, "connected"),
        "expected exit 1 and \"timed out\" on stderr, got exit %d, stdout \"%s\", stderr \"%s\"",
        r.exit_code, gx_show(r.out, r.out_len), gx_show(r.err, r.err_len));
    cr_assert(r.seconds < 3, "it took %.1f s to give up with --timeout-ms 500", r.seconds);
    evt_run_free(&r);
}

GRADED(connect, t05_usage, 1, 10, "bad arguments: exit 2 with a usage message")
{
    need_exit();
    const char *const *cases[] = {
        EVT_ARGV(PROG),
        EVT_ARGV(PROG, "127.0.0.1"),
        EVT_ARGV(PROG, "127.0.0.1", "http"),
        EVT_ARGV(PROG, "127.0.0.1", "0"),
        EVT_ARGV(PROG, "127.0.0.1", "70000"),
        EVT_ARGV(PROG, "127.0.0.1", "80", "extra"),
        EVT_ARGV(PROG, "--bogus", "127.0.0.1", "80"),
    };
    const char *names[] = {"no arguments",
                           "no port",
                           "port \"http\"",
                           "port 0",
                           "port 70000",
                           "an extra argument",
                           "an unknown option --bogus"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct evt_run r = run(cases[i], 5);
        cr_assert(
            r.exit_code == 2 && r.err_len > 0,
            "with %s: expected exit 2 and a usage message on stderr, got exit %d, stderr \"%s\"",
            names[i], r.exit_code, gx_show(r.err, r.err_len));
        cr_assert(!strstr(r.out, "connected"), "with %s it tried to connect", names[i]);
        evt_run_free(&r);
    }
}

GRADED(connect, t06_memory, 1, 30, "no leak and no memory error (valgrind/LSan), both outcomes")
{
    need_exit();
    int port, lfd = evt_listen(&port);
    cr_assert(lfd >= 0);
    char ps[16], cps[16];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(cps, sizeof cps, "%d", closed_port());
    const char *const *cases[] = {EVT_ARGV(PROG, "127.0.0.1", ps),
                                  EVT_ARGV(PROG, "127.0.0.1", cps)};
    const int want[] = {0, 1};
    for (int i = 0; i < 2; i++) {
        struct gx_mem m;
        if (!gx_mem_argv(&m, cases[i], true))
            cr_skip_test("neither valgrind nor a sanitizer build is available");
        struct evt_run r;
        cr_assert_eq(evt_run(&r, m.argv, NULL, NULL, 25), 0);
        const char *rep = gx_mem_report(&m, r.err);
        cr_assert(r.exit_code == want[i],
                  "under %s, connecting to a %s port exited %d (want %d):\n%s",
                  m.valgrind ? "valgrind" : "the sanitizer", i ? "closed" : "listening",
                  r.exit_code, want[i], rep);
        evt_run_free(&r);
    }
    close(lfd);
}
