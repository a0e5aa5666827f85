/* Lesson 17: the load generator counts correctly (every byte sent comes back
 * and is checked), and each peer server echoes under load. Speed is measured
 * by make bench, never here. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "evtest.h"

#define LOADGEN evt_prog("lessons/17-echo-bench/load_gen")
#define EPOLL_ECHO evt_prog("lessons/17-echo-bench/epoll_echo")

static unsigned long long result_field(const char *out, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, " %s=", name);
    const char *p = strstr(out, key);
    cr_assert_not_null(p, "no %s in: %s", name, out);
    return strtoull(p + strlen(key), NULL, 10);
}

static void load_server_args(const char *prog, const char *a1, const char *a2)
{
    struct evt_proc srv;
    cr_assert_eq(evt_spawn(&srv, EVT_ARGV(prog, "--port", "0", a1, a2), NULL), 0);
    int port = evt_wait_port(&srv, 10);
    cr_assert_gt(port, 0, "%s did not print its port: %s", prog, srv.err);
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    struct evt_run r;
    evt_run(&r,
            EVT_ARGV(LOADGEN, "--port", port_s, "--conns", "20", "--depth", "4", "--size", "3000",
                     "--seconds", "1"),
            NULL, NULL, 30);
    cr_assert_eq(r.exit_code, 0, "%s: %s %s", prog, r.out, r.err);
    unsigned long long out = result_field(r.out, "bytes_out"), in = result_field(r.out, "bytes_in");
    cr_assert_gt(out, 20ULL * 4 * 3000, "%s: the clients sent only %llu bytes", prog, out);
    cr_assert_eq(in, out, "%s: sent %llu, echoed %llu", prog, out, in);
    cr_assert_eq(result_field(r.out, "mismatches"), 0);
    evt_run_free(&r);
    int st = evt_stop(&srv, SIGTERM, 5);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s did not exit cleanly on SIGTERM", prog);
    evt_proc_free(&srv);
}

static void load_server(const char *prog) { load_server_args(prog, NULL, NULL); }

#define VARIANTS evt_prog("lessons/17-echo-bench/bev_variants")
Test(echo_bench, bufferevent_variants_echo_everything)
{
    load_server(VARIANTS);
    load_server_args(VARIANTS, "--copy", NULL);
    load_server_args(VARIANTS, "--max-read", "65536");
    load_server_args(VARIANTS, "--high-water", "4096"); /* back-pressure on, still exact */
}

Test(echo_bench, load_gen_reports_server_rss_with_idle_connections)
{
    struct evt_proc srv;
    cr_assert_eq(evt_spawn(&srv, EVT_ARGV(EPOLL_ECHO, "--port", "0"), NULL), 0);
    char port_s[16], pid_s[16];
    snprintf(port_s, sizeof port_s, "%d", evt_wait_port(&srv, 10));
    snprintf(pid_s, sizeof pid_s, "%d", (int)srv.pid);
    struct evt_run r;
    evt_run(&r,
            EVT_ARGV(LOADGEN, "--port", port_s, "--conns", "2", "--idle", "300", "--server-pid",
                     pid_s, "--seconds", "1"),
            NULL, NULL, 30);
    cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
    cr_assert(strstr(r.out, "with 300 idle connections"), "%s", r.out);
    /* the run started only once the server held every connection */
    evt_run_free(&r);
    evt_stop(&srv, SIGTERM, 5);
    evt_proc_free(&srv);
}

Test(echo_bench, raw_epoll_server_echoes_everything)
{
    load_server(EPOLL_ECHO);
    load_server_args(EPOLL_ECHO, "--read-size",
                     "4096"); /* libevent 2.1's read cap: slower, still exact */
    load_server_args(EPOLL_ECHO, "--read-size", "1"); /* one byte per recv(): still exact */
}

Test(echo_bench, raw_epoll_server_rejects_a_bad_read_size)
{
    struct evt_run r;
    evt_run(&r, EVT_ARGV(EPOLL_ECHO, "--port", "0", "--read-size", "70000"), NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 2, "exit %d; stderr: %s", r.exit_code, r.err);
    cr_assert(strstr(r.err, "--read-size needs 1 to 65536 bytes"), "%s", r.err);
    evt_run_free(&r);
}
Test(echo_bench, libuv_server_echoes_everything)
{
    load_server(evt_prog("lessons/17-echo-bench/uv_echo"));
}
Test(echo_bench, libev_server_echoes_everything)
{
    load_server(evt_prog("lessons/17-echo-bench/ev_echo"));
}

/* A server that changes one byte in every chunk: the generator must notice
 * and fail, or its "every byte came back" would be a claim it cannot check. */
Test(echo_bench, load_gen_detects_a_corrupting_server)
{
    int port, lfd = evt_listen(&port);
    cr_assert_geq(lfd, 0);
    pid_t pid = fork();
    if (pid == 0) {
        int c = accept(lfd, NULL, NULL);
        char buf[4096];
        ssize_t n;
        while ((n = read(c, buf, sizeof buf)) > 0) {
            buf[0] ^= 0x5a;
            if (write(c, buf, (size_t)n) != n)
                break;
        }
        _exit(0);
    }
    close(lfd);
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    struct evt_run r;
    evt_run(&r, EVT_ARGV(LOADGEN, "--port", port_s, "--conns", "1", "--seconds", "1"), NULL, NULL,
            30);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    cr_assert_gt(result_field(r.out, "mismatches"), 0, "%s", r.out);
    evt_run_free(&r);
}

Test(echo_bench, load_gen_reports_refused_connections)
{
    int port, lfd = evt_listen(&port);
    close(lfd); /* nothing listens there now */
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    struct evt_run r;
    evt_run(&r, EVT_ARGV(LOADGEN, "--port", port_s, "--conns", "3", "--seconds", "1"), NULL, NULL,
            30);
    cr_assert_eq(r.exit_code, 1);
    cr_assert_eq(result_field(r.out, "errors"), 3, "%s", r.out);
    cr_assert(strstr(r.err, "Connection refused"), "%s", r.err);
    evt_run_free(&r);
}

Test(echo_bench, load_gen_usage_errors)
{
    struct evt_run r;
    evt_run(&r, EVT_ARGV(LOADGEN, "--conns", "5"), NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--port is required"), "%s", r.err);
    evt_run_free(&r);
}
