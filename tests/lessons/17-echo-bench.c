/* Lesson 17: the load generator counts correctly (every byte sent comes back
 * and is checked) in closed and open loop, each peer server and control
 * echoes under load, echo_bench runs, replays its order from a seed and
 * writes its CSVs, and make bench's script writes its CSVs and plots. Speed
 * is measured by make bench, never asserted here. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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
    load_server_args(EPOLL_ECHO, "--churn", NULL); /* the epoll_ctl-per-recv control */
    load_server_args(EPOLL_ECHO, "--read-size",
                     "4096"); /* libevent 2.1's read cap: slower, still exact */
    /* 7 bytes per recv(): still exact (not 1: on a loaded 2-core machine a
     * byte-at-a-time echo of this load outlasts load_gen's grace period) */
    load_server_args(EPOLL_ECHO, "--read-size", "7");
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
    load_server_args(evt_prog("lessons/17-echo-bench/uv_echo"), "--read-size", "4096");
}
Test(echo_bench, libev_server_echoes_everything)
{
    load_server(evt_prog("lessons/17-echo-bench/ev_echo"));
    load_server_args(evt_prog("lessons/17-echo-bench/ev_echo"), "--read-size", "4096");
}
Test(echo_bench, raw_events_and_evbuffer_server_echoes_everything)
{
    load_server(evt_prog("lessons/17-echo-bench/evbuf_echo"));
    load_server_args(evt_prog("lessons/17-echo-bench/evbuf_echo"), "--defer-write", NULL);
}

/* Start SERVER, run load_gen with the extra arguments and --server-pid; the
 * caller checks r. */
static void with_server(const char *prog, struct evt_run *r, const char *a1, const char *a2,
                        const char *a3, const char *a4)
{
    struct evt_proc srv;
    cr_assert_eq(evt_spawn(&srv, EVT_ARGV(prog, "--port", "0"), NULL), 0);
    char port_s[16], pid_s[16];
    snprintf(port_s, sizeof port_s, "%d", evt_wait_port(&srv, 10));
    snprintf(pid_s, sizeof pid_s, "%d", (int)srv.pid);
    evt_run(
        r,
        EVT_ARGV(LOADGEN, "--port", port_s, "--server-pid", pid_s, "--ms", "500", a1, a2, a3, a4),
        NULL, NULL, 60);
    evt_stop(&srv, SIGTERM, 5);
    evt_proc_free(&srv);
}

Test(echo_bench, open_loop_counts_every_byte_and_reports_the_tail, .timeout = 90)
{
    struct evt_run r;
    with_server(EPOLL_ECHO, &r, "--rate", "2000", "--conns", "4");
    cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
    cr_assert(strstr(r.out, "open loop: 2000 messages/s offered"), "%s", r.out);
    cr_assert(strstr(r.out, "from the intended send time"), "%s", r.out);
    unsigned long long out = result_field(r.out, "bytes_out");
    cr_assert_eq(result_field(r.out, "bytes_in"), out);
    /* about 1,000 messages of 64 bytes were scheduled in 0.5 s; allow a slow machine */
    cr_assert_gt(out, 64ULL * 200, "only %llu bytes were sent", out);
    cr_assert(strstr(r.out, " p999_us=") && strstr(r.out, " max_lag_us="), "%s", r.out);
    evt_run_free(&r);
}

Test(echo_bench, load_gen_reads_the_servers_cpu_time, .timeout = 90)
{
    struct evt_run r;
    with_server(EPOLL_ECHO, &r, "--conns", "1", "--pingpong", NULL);
    cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
    cr_assert(strstr(r.out, "closed loop: 1 connections, 1 in flight each"), "%s", r.out);
    const char *p = strstr(r.out, " server_cpu_s=");
    cr_assert_not_null(p, "%s", r.out);
    cr_assert_gt(atof(p + strlen(" server_cpu_s=")), 0, "the server did work: %s", r.out);
    p = strstr(r.out, " cpu_ns_per_msg=");
    cr_assert_gt(atof(p + strlen(" cpu_ns_per_msg=")), 0, "%s", r.out);
    evt_run_free(&r);
}

#define BENCH evt_prog("lessons/17-echo-bench/echo_bench")

static size_t slurped; /* bytes in the last file slurp() read */
static char *slurp(const char *path)
{
    struct evt_run cat;
    evt_run(&cat, EVT_ARGV("/bin/cat", path), NULL, NULL, 5);
    char *s = malloc(cat.out_len + 1);
    memcpy(s, cat.out, cat.out_len + 1);
    slurped = cat.out_len;
    evt_run_free(&cat);
    return s;
}

/* The order of the servers in each round, as "round,slot,server" lines. */
static char *order_of(const char *csv)
{
    static char buf[4096];
    buf[0] = '\0';
    char *copy = strdup(csv);
    char *line = strtok(copy, "\n");
    for (line = strtok(NULL, "\n"); line; line = strtok(NULL, "\n")) {
        char round[16], slot[16], server[32];
        /* mode,pin,seed,round,slot,rate,server,... */
        if (sscanf(line, "%*[^,],%*[^,],%*[^,],%15[^,],%15[^,],%*[^,],%31[^,]", round, slot,
                   server) == 3)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s,%s,%s\n", round, slot,
                     server);
    }
    free(copy);
    return buf;
}

Test(echo_bench, rounds_csv_summary_and_a_replayable_order, .timeout = 240)
{
    char csv[] = "/tmp/evlab-echo-XXXXXX", sum[] = "/tmp/evlab-sum-XXXXXX";
    close(mkstemp(csv));
    close(mkstemp(sum));
    char *orders[2] = {NULL, NULL};
    for (int run = 0; run < 2; run++) {
        struct evt_run r;
        evt_run(&r,
                EVT_ARGV(BENCH, "--build", evt_build_dir(), "--mode", "pingpong", "--servers",
                         "lesson,epoll,libev", "--baseline", "epoll", "--pairs", "lesson/epoll",
                         "--rounds", "3", "--ms", "200", "--warmup-ms", "0", "--seed", "12345",
                         "--csv", csv, "--summary", sum),
                NULL, NULL, 200);
        cr_assert_eq(r.exit_code, 0, "%s %s", r.out, r.err);
        cr_assert(strstr(r.out, "seed 12345") && strstr(r.out, "unpinned"), "%s", r.out);
        cr_assert(strstr(r.out, "lesson/epoll") && strstr(r.out, "CPU/msg"), "%s", r.out);
        cr_assert(strstr(r.out, " tie") || strstr(r.out, " higher") || strstr(r.out, " lower"),
                  "every ratio has a verdict: %s", r.out);
        char *rows = slurp(csv);
        cr_assert(strncmp(rows, "mode,pin,seed,round,slot,rate,server,cpu_ns_per_msg,", 52) == 0 &&
                      strstr(rows, "\npingpong,unpinned,12345,"),
                  "%s", rows);
        cr_assert_eq(evt_count(rows, "\n"), 1 + 3 * 3, "3 servers x 3 rounds:\n%s", rows);
        orders[run] = strdup(order_of(rows));
        free(rows);
        char *s = slurp(sum);
        cr_assert(strstr(s, "pingpong,unpinned,0,epoll,cpu_ns_per_msg,3,"), "%s", s);
        cr_assert(strstr(s, ",baseline\n"), "%s", s);
        cr_assert(strstr(s, "lesson/epoll,pair_cpu_ns_per_msg,3,"), "%s", s);
        free(s);
        evt_run_free(&r);
    }
    cr_assert_str_eq(orders[0], orders[1], "the same seed gives the same order");
    free(orders[0]);
    free(orders[1]);
    unlink(csv);
    unlink(sum);
}

Test(echo_bench, echo_bench_bad_arguments)
{
    struct evt_run r;
    evt_run(&r, EVT_ARGV(BENCH, "--servers", "lesson,nginx"), NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "no server called 'nginx'"), "%s", r.err);
    evt_run_free(&r);
    evt_run(&r, EVT_ARGV(BENCH, "--servers", "epoll", "--baseline", "lesson"), NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "not among --servers"), "%s", r.err);
    evt_run_free(&r);
    evt_run(&r, EVT_ARGV(BENCH, "--rounds", "1"), NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 2, "one round has no interval: %s", r.err);
    evt_run_free(&r);
}

/* make bench's script, in its smoke mode, into a temporary directory: it
 * runs, and writes every CSV and every plot (SVG and PNG). */
Test(echo_bench, bench_script_writes_its_csvs_and_plots, .timeout = 600)
{
    char dir[] = "/tmp/evlab-benchout-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char out_env[64], build_env[256];
    snprintf(out_env, sizeof out_env, "BENCH_OUT=%s", dir);
    snprintf(build_env, sizeof build_env, "EVLAB_BUILD=%s", evt_build_dir());
    struct evt_run r;
    evt_run(&r, EVT_ARGV("tools/bench.sh"),
            EVT_ARGV("BENCH_QUICK=1", "BENCH_PUBLISH=0", "SEED=777", out_env, build_env), NULL,
            500);
    cr_assert_eq(r.exit_code, 0, "stdout:\n%s\nstderr:\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "seed: 777"), "%s", r.out);
    const char *files[] = {"RUN.txt",           "backend-1active.csv",  "backend-100active.csv",
                           "echo-load.csv",     "echo-load-rounds.csv", "echo-pingpong.csv",
                           "echo-open.csv",     "backend-cpu.svg",      "backend-cpu.png",
                           "backend-loops.svg", "echo-load.svg",        "echo-load.png",
                           "echo-controls.svg", "echo-pingpong.svg",    "echo-open.svg",
                           "echo-open.png"};
    char path[128];
    snprintf(path, sizeof path, "%s/RUN.txt", dir);
    char *run = slurp(path);
    cr_assert(strstr(run, "machine: ") && strstr(run, "seed: 777"), "%s", run);
    free(run);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        char *body = slurp(path);
        cr_assert_gt(slurped, 10, "%s is missing or empty", files[i]);
        if (strstr(files[i], ".svg"))
            cr_assert(strstr(body, "<svg"), "%s is not an SVG", files[i]);
        if (strstr(files[i], ".png"))
            cr_assert(strncmp(body, "\x89PNG", 4) == 0, "%s is not a PNG", files[i]);
        free(body);
        unlink(path);
    }
    struct evt_run rm;
    evt_run(&rm, EVT_ARGV("/bin/rm", "-rf", dir), NULL, NULL, 10);
    evt_run_free(&rm);
    evt_run_free(&r);
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
