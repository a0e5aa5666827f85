/* Lesson 08: the claims of lessons/08-bufferevent-connect/README.md, checked on
 * the real program, against its own listener and against listeners and closed
 * ports made here. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>

#include "evtest.h"

#define PROG evt_prog("lessons/08-bufferevent-connect/bev_connect")

static struct evt_run run(const char *const argv[])
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 15), 0);
    return r;
}

static int int_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    cr_assert(p, "'%s' not found in:\n%s", key, s);
    return atoi(p + strlen(key));
}

/* A TCP port on 127.0.0.1 that is bound but not listening: refused, race-free. */
static int closed_port(int *fd)
{
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    cr_assert(bind(*fd, (struct sockaddr *)&sin, sizeof sin) == 0);
    cr_assert(getsockname(*fd, (struct sockaddr *)&sin, &len) == 0);
    return ntohs(sin.sin_port);
}

Test(bev_connect, no_socket_until_connect_then_connected_event)
{
    struct evt_run r = run(EVT_ARGV(PROG));
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    char *s2 = evt_step_section(r.out, 2);
    cr_assert(strstr(s2, "fd is -1"), "%s", s2);
    cr_assert(strstr(s2, "returned 0; the socket now exists: fd set"), "%s", s2);
    cr_assert_eq(BEV_EVENT_CONNECTED, 0x80);
    cr_assert(strstr(s2, "event callback: 0x80 = BEV_EVENT_CONNECTED"), "%s", s2);
    free(s2);
    evt_run_free(&r);
}

Test(bev_connect, refused_port_returns_0_then_error_event)
{
    struct evt_run r = run(EVT_ARGV(PROG));
    char *s3 = evt_step_section(r.out, 3);
    cr_assert_eq(BEV_EVENT_ERROR, 0x20);
    const char *ret = strstr(s3, "bufferevent_socket_connect() returned 0");
    const char *ev = strstr(s3, "event callback: 0x20 = BEV_EVENT_ERROR");
    cr_assert(ret && ev && ret < ev, "return 0 first, then the error event:\n%s", s3);
    cr_assert(strstr(s3, "socket error: Connection refused"), "%s", s3);
    free(s3);
    evt_run_free(&r);
}

Test(bev_connect, port_knob_reaches_a_real_listener_or_is_refused)
{
    int port, lfd = evt_listen(&port);
    cr_assert_geq(lfd, 0);
    char arg[16];
    snprintf(arg, sizeof arg, "%d", port);
    struct evt_run r = run(EVT_ARGV(PROG, "--port", arg));
    char *s2 = evt_step_section(r.out, 2);
    cr_assert(strstr(s2, "BEV_EVENT_CONNECTED"), "%s", s2);
    free(s2);
    /* Our listener really got the connections (steps 2, 4 and 5). */
    struct pollfd pf = {lfd, POLLIN, 0};
    cr_assert_eq(poll(&pf, 1, 0), 1, "the test's listener has no pending connection");
    int c = accept(lfd, NULL, NULL);
    cr_assert_geq(c, 0);
    close(c);
    close(lfd);
    evt_run_free(&r);

    int cfd, cport = closed_port(&cfd);
    snprintf(arg, sizeof arg, "%d", cport);
    r = run(EVT_ARGV(PROG, "--port", arg));
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    s2 = evt_step_section(r.out, 2);
    cr_assert(strstr(s2, "BEV_EVENT_ERROR") && strstr(s2, "Connection refused"), "%s", s2);
    free(s2);
    close(cfd);
    evt_run_free(&r);
}

Test(bev_connect, hostname_resolves_from_hosts_and_bad_name_reports_dns_error)
{
    struct evt_run r = run(EVT_ARGV(PROG));
    char *s4 = evt_step_section(r.out, 4);
    const char *bad = strstr(s4, "connect_hostname('no-such-host.invalid'");
    cr_assert(bad, "%s", s4);
    const char *good = strstr(s4, "connect_hostname('localhost'");
    cr_assert(good && good < bad, "%s", s4);
    char *first = strndup(good, (size_t)(bad - good));
    cr_assert(strstr(first, "returned 0") && strstr(first, "BEV_EVENT_CONNECTED"), "%s", first);
    cr_assert(strstr(bad, "returned 0") && strstr(bad, "BEV_EVENT_ERROR"), "%s", bad);
    cr_assert(strstr(bad, "name lookup failed: nodename nor servname provided, or not known"), "%s",
              bad);
    cr_assert_null(strstr(bad, "socket error:"), "a DNS failure has no socket error:\n%s", bad);
    free(first);
    free(s4);
    evt_run_free(&r);

    r = run(EVT_ARGV(PROG, "--host", "no-such-host.invalid"));
    s4 = evt_step_section(r.out, 4);
    cr_assert_eq(evt_count(s4, "name lookup failed"), 2, "%s", s4);
    free(s4);
    evt_run_free(&r);
}

/* A hosts file that cannot be read makes evdns_base_load_hosts() return -1,
 * but libevent has added localhost first (minimal containers have no
 * /etc/hosts); a readable empty file adds nothing, so there localhost is
 * unknown. The second run shows the first is not luck. */
Test(bev_connect, a_missing_hosts_file_still_knows_localhost)
{
    struct evt_run r = run(EVT_ARGV(PROG, "--hosts", "/nonexistent/evlab/hosts"));
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    char *s4 = evt_step_section(r.out, 4);
    cr_assert(strstr(s4, "evdns_base_load_hosts(/nonexistent/evlab/hosts) returned -1"), "%s", s4);
    const char *bad = strstr(s4, "connect_hostname('no-such-host.invalid'");
    cr_assert(bad && strstr(s4, "BEV_EVENT_CONNECTED") < bad, "localhost still connects:\n%s", s4);
    free(s4);
    evt_run_free(&r);

    char empty[] = "/tmp/evlab-hosts-XXXXXX";
    int fd = mkstemp(empty);
    cr_assert(fd >= 0);
    close(fd);
    r = run(EVT_ARGV(PROG, "--hosts", empty));
    unlink(empty);
    s4 = evt_step_section(r.out, 4);
    cr_assert_null(strstr(s4, "returned -1"), "%s", s4);
    cr_assert_eq(evt_count(s4, "name lookup failed"), 2,
                 "an empty hosts file leaves even localhost unknown:\n%s", s4);
    free(s4);
    evt_run_free(&r);
}

Test(bev_connect, without_a_nameserver_a_lookup_just_waits)
{
    struct evt_run r = run(EVT_ARGV(PROG, "--no-dns-server"));
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    char *s4 = evt_step_section(r.out, 4);
    const char *bad = strstr(s4, "connect_hostname('no-such-host.invalid'");
    cr_assert(bad, "%s", s4);
    cr_assert(strstr(s4, "BEV_EVENT_CONNECTED") < bad, "localhost comes from /etc/hosts:\n%s", s4);
    const char *wait = strstr(bad, "no callback within 1 s"),
               *freed = strstr(bad, "evdns_base_free(dns, 1) fails");
    cr_assert(wait && freed && wait < freed, "%s", bad);
    cr_assert(strstr(bad, "event callback") > freed,
              "the only callback comes from evdns_base_free:\n%s", bad);
    cr_assert(strstr(freed, "name lookup failed: non-recoverable failure in name resolution"), "%s",
              bad);
    free(s4);
    evt_run_free(&r);

    r = run(EVT_ARGV(PROG, "--no-dns-server", "--host", "127.0.0.1"));
    s4 = evt_step_section(r.out, 4);
    bad = strstr(s4, "connect_hostname('no-such-host.invalid'");
    const char *ok = strstr(s4, "BEV_EVENT_CONNECTED");
    cr_assert(ok && ok < bad, "a numeric address needs no lookup:\n%s", s4);
    free(s4);
    evt_run_free(&r);
}

Test(bev_connect, close_on_free_closes_the_socket_on_the_next_loop_pass)
{
    struct evt_run r = run(EVT_ARGV(PROG));
    char *s5 = evt_step_section(r.out, 5);
    int before = int_after(s5, "open fds: "), right = int_after(s5, "before bufferevent_free, "),
        after = int_after(s5, "right after it, ");
    cr_assert_eq(right, before, "the close is deferred to the loop:\n%s", s5);
    cr_assert_eq(after, before - 1, "one fd fewer after the loop ran:\n%s", s5);
    cr_assert(strstr(s5, "was closed by bufferevent_free"), "%s", s5);
    free(s5);
    evt_run_free(&r);

    r = run(EVT_ARGV(PROG, "--no-close-on-free"));
    s5 = evt_step_section(r.out, 5);
    cr_assert(strstr(s5, "without BEV_OPT_CLOSE_ON_FREE"), "%s", s5);
    before = int_after(s5, "open fds: ");
    after = int_after(s5, "right after it, ");
    cr_assert_eq(after, before, "%s", s5);
    cr_assert(strstr(s5, "is still open"), "%s", s5);
    free(s5);
    evt_run_free(&r);
}

Test(bev_connect, help_and_bad_arguments)
{
    evt_assert_usage(PROG, EVT_ARGV("--host", "--port", "--no-close-on-free", "--step"));
    struct evt_run r;
    const char *bad[] = {"http", "0", "65536", "4294967297", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = run(EVT_ARGV(PROG, "--port", bad[i]));
        cr_assert_eq(r.exit_code, 2, "--port %s", bad[i]);
        cr_assert(strstr(r.err, "--port wants a whole number from 1 to 65535"), "%s", r.err);
        cr_assert_null(strstr(r.out, "target 127.0.0.1"), "--port %s was used:\n%s", bad[i], r.out);
        evt_run_free(&r);
    }
    r = run(EVT_ARGV(PROG, "extra"));
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "unexpected argument 'extra'"), "%s", r.err);
    evt_run_free(&r);
}

Test(bev_connect, step_mode_waits_for_enter_on_a_tty)
{
    struct evt_run r;
    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(PROG, "--step"), NULL, "\n\nq\n", 10), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "== 3."), "%s", r.out);
    cr_assert_null(strstr(r.out, "Connection refused"), "q must stop before step 3 runs:\n%s",
                   r.out);
    cr_assert_geq(evt_count(r.out, "[Enter: run this step"), 3);
    evt_run_free(&r);
}

/* ---- bev_talk: after CONNECTED ---------------------------------------------- */

#define TALK evt_prog("lessons/08-bufferevent-connect/bev_talk")

static void check_talk(const char *const env[])
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(TALK), env, NULL, 15), 0);
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    /* a new bufferevent: EV_WRITE only (bufferevent.c sets enabled = EV_WRITE) */
    cr_assert(strstr(r.out, "bufferevent_get_enabled(new bev): EV_WRITE\n"), "%s", r.out);
    const char *order[] = {"event callback: 0x80 = BEV_EVENT_CONNECTED",
                           "connected; enabled: EV_WRITE\n",
                           "wrote 'ping 1'",
                           "bufferevent_enable(bev, EV_READ); enabled: EV_READ|EV_WRITE",
                           "peer: got 'ping 1'",
                           "read callback: 'pong 1'; writing 'ping 2'",
                           "peer: got 'ping 2'",
                           "event callback: 0x21 = BEV_EVENT_READING|BEV_EVENT_ERROR",
                           "socket error: Connection reset by peer",
                           "== 4."};
    const char *at = r.out;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *next = strstr(at, order[i]);
        cr_assert(next, "'%s' missing or out of order in:\n%s", order[i], r.out);
        at = next;
    }
    cr_assert_eq(evt_count(r.out, "event callback:"), 2, "CONNECTED, then ERROR:\n%s", r.out);
    cr_assert_null(strstr(r.out, "no read callback"), "%s", r.out);
    evt_run_free(&r);
}

Test(bev_talk, writes_reads_then_error_after_connected_epoll) { check_talk(NULL); }
Test(bev_talk, writes_reads_then_error_after_connected_poll_select)
{
    check_talk(EVT_ENV("EVENT_NOEPOLL=1"));
    check_talk(EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1"));
}

Test(bev_talk, without_enable_read_no_read_callback_runs)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(TALK, "--no-enable-read"), NULL, NULL, 15), 0);
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "peer: sent 'pong 1'"), "%s", r.out);
    cr_assert_null(strstr(r.out, "read callback:"), "%s", r.out);
    cr_assert_null(strstr(r.out, "bufferevent_enable"), "%s", r.out);
    cr_assert(strstr(r.out, "no read callback within 1 s; 7 byte(s) wait in the socket, unread"),
              "%s", r.out);
    evt_run_free(&r);
}

Test(bev_talk, help_and_bad_arguments)
{
    evt_assert_usage(TALK, EVT_ARGV("--no-enable-read", "--step"));
}
