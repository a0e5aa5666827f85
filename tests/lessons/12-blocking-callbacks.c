/* Lesson 12: the claims of lessons/12-blocking-callbacks/README.md, checked
 * with real clients against the real servers. Bounds are generous: only the
 * order of magnitude of a stall is asserted, never performance. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtest.h"

#define DIR "lessons/12-blocking-callbacks/"
#define SLEEP_MS 600

struct timing {
    double first, second; /* seconds from connect to each client's greeting */
    long max_late;        /* worst heartbeat lateness seen, in ms */
};

static long max_late(const char *out)
{
    long worst = -1;
    for (const char *s = strstr(out, "late "); s; s = strstr(s + 5, "late ")) {
        long v = atol(s + 5);
        if (v > worst)
            worst = v;
    }
    return worst;
}

/* Start the server, connect two clients at once, time both greetings, check
 * that both clients are echoed, stop the server cleanly. */
static struct timing two_clients(const char *prog)
{
    struct evt_proc p;
    char ms[16];
    snprintf(ms, sizeof ms, "%d", SLEEP_MS);
    cr_assert_eq(evt_spawn(&p, EVT_ARGV(evt_prog(prog), "--port", "0", "--sleep-ms", ms), NULL), 0);
    int port = evt_wait_port(&p, 10);
    cr_assert_gt(port, 0, "no 'listening on' line; stderr: %s", p.err);

    double t0 = evt_now();
    int a = evt_connect(port, 5), b = evt_connect(port, 5);
    cr_assert(a >= 0 && b >= 0, "connect failed");
    char buf[6];
    struct timing t;
    cr_assert_eq(evt_read_n(a, buf, 6, 10), 6, "client 1 got no greeting");
    t.first = evt_now() - t0;
    cr_assert_eq(evt_read_n(b, buf, 6, 10), 6, "client 2 got no greeting");
    t.second = evt_now() - t0;
    cr_assert(memcmp(buf, "hello\n", 6) == 0);

    /* Both are echoed: the server really serves both connections. */
    cr_assert_eq(evt_write_all(b, "xyz", 3, 5), 3);
    cr_assert_eq(evt_write_all(a, "abc", 3, 5), 3);
    char e[3];
    cr_assert_eq(evt_read_n(a, e, 3, 5), 3);
    cr_assert(memcmp(e, "abc", 3) == 0);
    cr_assert_eq(evt_read_n(b, e, 3, 5), 3);
    cr_assert(memcmp(e, "xyz", 3) == 0);
    close(a); /* one client leaves, the server goes on */

    /* A few more heartbeats after the stall, then SIGTERM. */
    cr_assert_not_null(evt_wait_line(&p, "client 1: closed", 5), "%s", p.out);
    int st = evt_stop(&p, SIGTERM, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGTERM must exit 0; stderr: %s", p.err);
    cr_assert(strstr(p.out, "client 2: closed"), "open clients are freed at exit:\n%s", p.out);
    close(b);
    t.max_late = max_late(p.out);
    cr_assert_geq(t.max_late, 0, "no heartbeat lines:\n%s", p.out);
    evt_proc_free(&p);
    return t;
}

Test(blocking, second_client_waits_for_the_first_ones_sleep, .timeout = 30)
{
    struct timing t = two_clients(DIR "blocking_accept");
    double s = SLEEP_MS / 1000.0;
    cr_assert_geq(t.first, 0.8 * s, "first greeting after %.3f s", t.first);
    /* Its own delay plus the first client's sleep. */
    cr_assert_geq(t.second, 1.8 * s,
                  "the second greeting came %.3f s after connecting; expected about %.1f s",
                  t.second, 2 * s);
    cr_assert_geq(t.max_late, (long)(0.8 * SLEEP_MS), "heartbeat was at most %ld ms late",
                  t.max_late);
}

Test(fixed, one_thread_serves_both_clients_at_once, .timeout = 30)
{
    struct timing t = two_clients(DIR "fixed_server");
    double s = SLEEP_MS / 1000.0;
    cr_assert_geq(t.first, 0.8 * s, "the delay is still there: first greeting after %.3f s",
                  t.first);
    cr_assert_lt(t.second, 1.3 * s,
                 "the second greeting came %.3f s after connecting; expected about %.1f s",
                 t.second, s);
    cr_assert_lt(t.second - t.first, 0.3 * s, "both greetings should come together");
    cr_assert_lt(t.max_late, (long)(0.3 * SLEEP_MS), "heartbeat was %ld ms late", t.max_late);
}

/* The blog post's point 1 experiment, which its point 3 ("based on the
 * above") generalises: a nested loop in the accept callback serves one
 * client at a time. Client 2 connects but is neither accepted nor echoed
 * until client 1 leaves. (fixed::one_thread_serves_both_clients_at_once is
 * the same thread serving both.) */
Test(nested_accept, a_loop_inside_the_accept_callback_serves_one_client_at_a_time, .timeout = 30)
{
    struct evt_proc p;
    cr_assert_eq(evt_spawn(&p, EVT_ARGV(evt_prog(DIR "nested_accept"), "--port", "0"), NULL), 0);
    int port = evt_wait_port(&p, 10);
    cr_assert_gt(port, 0, "stderr: %s", p.err);
    int a = evt_connect(port, 5);
    cr_assert_geq(a, 0);
    cr_assert_not_null(evt_wait_line(&p, "client 1: accepted", 5), "%s", p.out);
    char e[4] = {0};
    cr_assert_eq(evt_write_all(a, "one", 3, 5), 3);
    cr_assert_eq(evt_read_n(a, e, 3, 5), 3, "client 1 is echoed by the inner loop");
    cr_assert_str_eq(e, "one");

    int b = evt_connect(port, 5); /* the kernel completes the handshake */
    cr_assert_geq(b, 0, "connect itself works: the listen backlog takes it");
    cr_assert_eq(evt_write_all(b, "two", 3, 5), 3);
    cr_assert_eq(evt_read_n(b, e, 3, 1.0), 0, "client 2 must wait while client 1 is connected");
    evt_drain(&p, 0.1);
    cr_assert_null(strstr(p.out, "client 2: accepted"), "%s", p.out);

    close(a); /* client 1 leaves: the inner loop returns, the outer accepts */
    cr_assert_eq(evt_read_n(b, e, 3, 5), 3, "client 2 is served once client 1 left");
    cr_assert_str_eq(e, "two");
    cr_assert_not_null(evt_wait_line(&p, "client 2: accepted", 5), "%s", p.out);
    const char *ret = strstr(p.out, "client 1: inner loop returned");
    const char *acc = strstr(p.out, "client 2: accepted");
    cr_assert(ret && acc && ret < acc, "%s", p.out);
    close(b);
    cr_assert_not_null(evt_wait_line(&p, "client 2: inner loop returned", 5), "%s", p.out);
    int st = evt_stop(&p, SIGTERM, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGTERM must exit 0; stderr: %s", p.err);
    evt_proc_free(&p);
}

Test(servers, help_and_bad_flags)
{
    const char *progs[] = {DIR "blocking_accept", DIR "fixed_server", DIR "events_in_callbacks",
                           DIR "two_bases",       DIR "sliced_work",  DIR "time_wait",
                           DIR "nested_accept"};
    for (int i = 0; i < 7; i++) {
        struct evt_run r;
        cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(progs[i]), "--help"), NULL, NULL, 10), 0);
        cr_assert_eq(r.exit_code, 0, "%s --help", progs[i]);
        cr_assert(strstr(r.out, "usage:"), "%s", progs[i]);
        evt_run_free(&r);
        cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(progs[i]), "--bogus"), NULL, NULL, 10), 0);
        cr_assert_eq(r.exit_code, 2, "%s --bogus", progs[i]);
        cr_assert(strstr(r.err, "usage:"), "%s", progs[i]);
        evt_run_free(&r);
    }
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(progs[0]), "--sleep-ms", "x"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--sleep-ms wants a whole number"), "%s", r.err);
    evt_run_free(&r);
    /* too big for an int: rejected before any cast (was: port 1) */
    cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(progs[1]), "--port", "4294967297"), NULL, NULL, 10),
                 0);
    cr_assert_eq(r.exit_code, 2, "%s", r.out);
    cr_assert(strstr(r.err, "--port wants a whole number from 0 to 65535"), "%s", r.err);
    evt_run_free(&r);
}

/* "libevent demo" (blog post), point 1: "a thread can have only one event_base; later bases
 * stack up". Two bases work in one thread; a nested dispatch blocks. */
Test(two_bases, both_bases_serve_one_thread_and_a_nested_loop_blocks, .timeout = 30)
{
    struct evt_run r;
    cr_assert_eq(
        evt_run(&r, EVT_ARGV(evt_prog(DIR "two_bases"), "--nested-ms", "600"), NULL, NULL, 20), 0);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    const char *p1 = strstr(r.out, "part 1"), *p2 = strstr(r.out, "part 2");
    cr_assert(p1 && p2 && p1 < p2, "%s", r.out);
    /* Part 1: the inner timer fires while the outer heartbeat goes on. */
    const char *fired = strstr(p1, "inner base: its timer fired");
    cr_assert(fired && fired < p2, "inner base delivered its event in part 1:\n%s", r.out);
    char *part1 = strndup(p1, (size_t)(p2 - p1));
    cr_assert_eq(evt_count(part1, " ms, late "), 6, "%s", part1);
    cr_assert_lt(max_late(part1), 150, "part 1 heartbeat never stalls:\n%s", part1);
    free(part1);
    /* Part 2: the nested dispatch stalls the outer heartbeat by about the inner timer. */
    cr_assert(strstr(p2, "inner loop returned"), "%s", r.out);
    cr_assert_geq(max_late(p2), 300, "nested loop blocks the outer one:\n%s", p2);
    evt_run_free(&r);
}

static void time_wait_run(struct evt_run *r, const char *closer, bool reuse)
{
    const char *const with[] = {evt_prog(DIR "time_wait"), "--closer", closer, "--reuseaddr", NULL};
    const char *const without[] = {evt_prog(DIR "time_wait"), "--closer", closer, NULL};
    cr_assert_eq(evt_run(r, reuse ? with : without, NULL, NULL, 20), 0);
    cr_assert_eq(r->exit_code, 0, "stderr: %s", r->err);
}

static void tw_counts(const char *out, int *local, int *remote)
{
    const char *s = strstr(out, "in /proc/net/tcp: ");
    cr_assert_not_null(s, "%s", out);
    cr_assert_eq(
        sscanf(s, "in /proc/net/tcp: %d with local port %*d (server side), %d", local, remote), 2,
        "%s", s);
}

Test(time_wait, the_side_that_closes_first_keeps_time_wait, .timeout = 30)
{
    struct evt_run r;
    int local, remote;
    time_wait_run(&r, "client", false);
    tw_counts(r.out, &local, &remote);
    cr_assert_geq(remote, 3, "clients closed first: their sockets are in TIME_WAIT\n%s", r.out);
    cr_assert_eq(local, 0, "%s", r.out);
    cr_assert(strstr(r.out, "SO_REUSEADDR is off"), "evconnlistener does not set it unasked");
    cr_assert(strstr(r.out, "listener closed, without SO_REUSEADDR: bind 127.0.0.1:") &&
                  strstr(r.out, " ok\n"),
              "re-binding works when clients closed first:\n%s", r.out);
    evt_run_free(&r);

    time_wait_run(&r, "server", false);
    tw_counts(r.out, &local, &remote);
    cr_assert_geq(local, 3, "server closed first: the server port is in TIME_WAIT\n%s", r.out);
    cr_assert(strstr(r.out, "listener closed, without SO_REUSEADDR: bind") &&
                  strstr(r.out, "Address already in use"),
              "%s", r.out);
    evt_run_free(&r);
}

Test(time_wait, reuseaddr_allows_rebinding_but_not_two_listeners, .timeout = 30)
{
    struct evt_run r;
    int local, remote;
    time_wait_run(&r, "server", true);
    tw_counts(r.out, &local, &remote);
    cr_assert(strstr(r.out, "SO_REUSEADDR is on"), "LEV_OPT_REUSEABLE sets it:\n%s", r.out);
    cr_assert_geq(local, 3, "SO_REUSEADDR does not remove TIME_WAIT:\n%s", r.out);
    cr_assert(strstr(r.out, "listener still open, with SO_REUSEADDR: bind") &&
                  strstr(r.out, "failed: Address already in use"),
              "no second listener:\n%s", r.out);
    const char *s = strstr(r.out, "listener closed, with SO_REUSEADDR: bind");
    cr_assert(s && strstr(s, " ok"), "re-bind over TIME_WAIT works:\n%s", r.out);
    evt_run_free(&r);
}

/* "libevent demo", point 2: "adding events after the loop starts segfaults". */
Test(events_in_callbacks, add_delete_free_from_callbacks_is_fine, .timeout = 20)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(DIR "events_in_callbacks")), NULL, NULL, 10), 0);
    cr_assert_eq(r.term_signal, 0, "no crash; stderr: %s", r.err);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    cr_assert_eq(evt_count(r.out, "event_add(new child) = 0"), 3, "%s", r.out);
    cr_assert_eq(evt_count(r.out, "ran; freeing itself"), 3, "%s", r.out);
    cr_assert(strstr(r.out, "event_del(victim) = 0"), "%s", r.out);
    cr_assert_null(strstr(r.out, "victim ran"), "a deleted event must not run:\n%s", r.out);
    cr_assert(strstr(r.out, "loop returned 1: no events left"), "%s", r.out);
    cr_assert(strstr(r.out, "event_add() without event_base_set() = -1"), "%s", r.out);
    cr_assert(strstr(r.err, "event has no event_base set"), "libevent's warning: %s", r.err);
    evt_run_free(&r);
}

static long sliced_worst(bool slice)
{
    struct evt_run r;
    const char *const a[] = {evt_prog(DIR "sliced_work"), "--work-ms", "600",
                             slice ? NULL : "--no-slice", NULL};
    cr_assert_eq(evt_run(&r, a, NULL, NULL, 20), 0);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "job: 600 ms of work done in "), "%s", r.out);
    long worst = max_late(r.out);
    cr_assert_geq(evt_count(r.out, " ms, late "), 2, "%s", r.out);
    evt_run_free(&r);
    return worst;
}

Test(sliced_work, slices_keep_the_heartbeat_one_callback_stalls_it, .timeout = 30)
{
    long sliced = sliced_worst(true), whole = sliced_worst(false);
    cr_assert_geq(whole, 450, "one 600 ms callback delays the heartbeat (%ld ms)", whole);
    cr_assert_lt(sliced, 200, "5 ms slices keep it within a slice or so (%ld ms)", sliced);
}

/* Numbers (times, lateness with its sign) are masked: only the narration counts. */
static const char *const NUMBERS[] = {"-?[0-9]+", NULL};

/* two_bases arms each part's timers after that part's pause: with them armed
 * before it, the inner timer would fire on the first outer beat. */
Test(step_mode, two_bases_shows_the_same_at_a_slow_pace, .timeout = 120)
{
    evt_assert_step_same(EVT_ARGV(evt_prog(DIR "two_bases")), NULL, NUMBERS, 2.0, 90);
}
