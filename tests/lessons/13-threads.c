/* Lesson 13: the claims of lessons/13-threads/README.md, checked on the real
 * programs with real clients. Run also under ThreadSanitizer by make check-tsan
 * (EVLAB_BUILD=build/tsan): a TSan report makes a program exit non-zero
 * (exitcode 66), which these tests catch. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtest.h"

#define DIR "lessons/13-threads/"
/* halt_on_error: the first race ends the program, with a non-zero exit. */
#define TSAN_ENV "TSAN_OPTIONS=halt_on_error=1 exitcode=66"

static int start(struct evt_proc *p, const char *workers, const char *sleep_ms)
{
    cr_assert_eq(evt_spawn(p,
                           EVT_ARGV(evt_prog(DIR "dispatcher"), "--port", "0", "--workers", workers,
                                    "--sleep-ms", sleep_ms),
                           EVT_ENV(TSAN_ENV)),
                 0);
    int port = evt_wait_port(p, 20);
    cr_assert_gt(port, 0, "no 'listening on' line; stderr: %s", p->err);
    return port;
}

static void stop_clean(struct evt_proc *p)
{
    int st = evt_stop(p, SIGTERM, 15);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SIGTERM must exit 0 (status %d); stderr:\n%s",
              st, p->err);
}

static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap && evt_read_n(fd, buf + n, 1, 10) == 1 && buf[n] != '\n')
        n++;
    buf[n] = '\0';
    return (int)n;
}

Test(dispatcher, clients_spread_round_robin_over_workers, .timeout = 60)
{
    enum { N = 4 };
    struct evt_proc p;
    int port = start(&p, "4", "0");
    int fds[2 * N];
    for (int i = 0; i < 2 * N; i++) { /* one at a time: a known order */
        fds[i] = evt_connect(port, 5);
        cr_assert_geq(fds[i], 0);
        char line[128], want[128];
        cr_assert_gt(read_line(fds[i], line, sizeof line), 0, "client %d: no greeting", i + 1);
        snprintf(want, sizeof want, "worker %d serves client %d", i % N + 1, i + 1);
        cr_assert_str_eq(line, want, "round-robin over %d workers", N);
    }
    /* Each worker thread echoes its own clients. */
    for (int i = 0; i < 2 * N; i++) {
        char msg[16], back[16];
        int n = snprintf(msg, sizeof msg, "ping %d\n", i);
        cr_assert_eq(evt_write_all(fds[i], msg, (size_t)n, 5), (size_t)n);
        cr_assert_eq(evt_read_n(fds[i], back, (size_t)n, 10), (size_t)n);
        cr_assert(memcmp(msg, back, (size_t)n) == 0);
    }
    for (int i = 0; i < 2 * N; i++) {
        char want[64];
        snprintf(want, sizeof want, "worker %d took client %d", i % N + 1, i + 1);
        cr_assert_not_null(evt_wait_line(&p, want, 10), "server log:\n%s", p.out);
    }
    close(fds[0]); /* one leaves; the rest stay open */
    cr_assert_not_null(evt_wait_line(&p, "worker 1: client 1 closed", 10), "%s", p.out);
    stop_clean(&p);
    for (int i = 1; i < 2 * N; i++)
        close(fds[i]);
    evt_proc_free(&p);
}

/* --workers 1 behaves like lesson 12's fixed_server: one worker thread serves
 * two clients whose greetings are each delayed by 600 ms, at the same time. */
Test(dispatcher, one_worker_serves_clients_concurrently, .timeout = 60)
{
    struct evt_proc p;
    int port = start(&p, "1", "600");
    double t0 = evt_now();
    int a = evt_connect(port, 5), b = evt_connect(port, 5);
    cr_assert(a >= 0 && b >= 0);
    char line[128];
    cr_assert_gt(read_line(a, line, sizeof line), 0);
    cr_assert_str_eq(line, "worker 1 serves client 1");
    cr_assert_gt(read_line(b, line, sizeof line), 0);
    double t = evt_now() - t0;
    cr_assert_str_eq(line, "worker 1 serves client 2");
    cr_assert_geq(t, 0.5, "the greeting delay is there (%.3f s)", t);
    cr_assert_lt(t, 0.6 * 1.3 + 0.5, "both greetings after one delay, not two (%.3f s)", t);
    close(a);
    close(b);
    stop_clean(&p);
    evt_proc_free(&p);
}

Test(active_from_thread, event_active_wakes_the_loop_with_evthread, .timeout = 30)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(DIR "active_from_thread"), "--timeout-ms", "3000"),
                         EVT_ENV(TSAN_ENV), NULL, 20),
                 0);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    const char *s = strstr(r.out, "ran with result 42, ");
    cr_assert_not_null(s, "%s", r.out);
    long delay = atol(s + strlen("ran with result 42, "));
    cr_assert_lt(delay, 1000, "woken at once, not after the 3 s timeout (%ld ms)", delay);
    cr_assert(strstr(r.out, "woke the loop at once"));
    cr_assert_null(strstr(r.out, "woke up for its"), "the timeout never fired:\n%s", r.out);
    evt_run_free(&r);
}

Test(active_from_thread, without_evthread_the_loop_sleeps_until_its_timeout, .timeout = 30)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r,
                         EVT_ARGV(evt_prog(DIR "active_from_thread"), "--no-evthread",
                                  "--timeout-ms", "1500"),
                         EVT_ENV(TSAN_ENV), NULL, 20),
                 0);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    const char *s = strstr(r.out, "ran with result 42, ");
    cr_assert_not_null(s, "%s", r.out);
    long delay = atol(s + strlen("ran with result 42, "));
    cr_assert_geq(delay, 1000, "the loop should oversleep until ~1400 ms, got %ld ms", delay);
    cr_assert(strstr(r.out, "slept through event_active()"), "%s", r.out);
    cr_assert(strstr(r.out, "woke up for its 1500 ms timeout"), "%s", r.out);
    evt_run_free(&r);
}

Test(threads, help_and_bad_flags)
{
    const char *progs[] = {DIR "dispatcher", DIR "active_from_thread", DIR "del_from_thread",
                           DIR "threadsafe_bev", DIR "one_loop_per_base"};
    for (int i = 0; i < 5; i++) {
        struct evt_run r;
        cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(progs[i]), "--help"), NULL, NULL, 10), 0);
        cr_assert_eq(r.exit_code, 0);
        cr_assert(strstr(r.out, "usage:"));
        evt_run_free(&r);
        cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(progs[i]), "--bogus"), NULL, NULL, 10), 0);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "usage:"));
        evt_run_free(&r);
    }
}

Test(del_from_thread, event_del_waits_for_the_running_callback, .timeout = 30)
{
    struct evt_run r;
    cr_assert_eq(
        evt_run(&r, EVT_ARGV(evt_prog(DIR "del_from_thread")), EVT_ENV(TSAN_ENV), NULL, 20), 0);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    const char *s = strstr(r.out, "event_del() returned after ");
    cr_assert_not_null(s, "%s", r.out);
    long waited = atol(s + strlen("event_del() returned after "));
    cr_assert_geq(waited, 200, "event_del blocked for the 300 ms callback (%ld ms)", waited);
    const char *ret = strstr(r.out, "loop thread: callback returns");
    cr_assert(ret && ret < s, "the callback returned before event_del did:\n%s", r.out);
    cr_assert(strstr(r.out, "callback still running: no; runs: 1;"), "deleted: no second run\n%s",
              r.out);
    cr_assert(strstr(r.out, "loop returned 1"), "%s", r.out);
    evt_run_free(&r);
}

Test(del_from_thread, event_free_finalize_returns_at_once_finalizer_runs_after, .timeout = 30)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(DIR "del_from_thread"), "--finalize"),
                         EVT_ENV(TSAN_ENV), NULL, 20),
                 0);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    const char *s = strstr(r.out, "event_free_finalize() returned after ");
    cr_assert_not_null(s, "%s", r.out);
    long waited = atol(s + strlen("event_free_finalize() returned after "));
    cr_assert_lt(waited, 150, "event_free_finalize must not block (%ld ms)", waited);
    /* ... and not because of EV_FINALIZE: this event was made without it. */
    cr_assert(strstr(r.out, "timer without EV_FINALIZE"), "%s", r.out);
    const char *ret = strstr(r.out, "loop thread: callback returns");
    const char *fin =
        strstr(r.out, "finalizer: in the loop thread: yes; callback still running: no; runs: 1;");
    cr_assert(
        ret && fin && s < ret && ret < fin,
        "returns at once, then the callback ends, then the finalizer runs in the loop thread:\n%s",
        r.out);
    cr_assert(strstr(r.out, "loop returned 1"), "%s", r.out);
    evt_run_free(&r);
}

/* EV_FINALIZE changes event_del(): it returns while the callback still runs,
 * so freeing the callback's argument right after it is a use-after-free. The
 * program runs that in a child and says how the child ended. */
Test(del_from_thread, ev_finalize_makes_event_del_return_early_and_free_is_use_after_free,
     .timeout = 30)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(evt_prog(DIR "del_from_thread"), "--ev-finalize"),
                         EVT_ENV(TSAN_ENV), NULL, 20),
                 0);
    cr_assert_eq(r.exit_code, 0, "the parent reports and exits 0; stderr: %s", r.err);
    cr_assert(strstr(r.out, "timer with EV_FINALIZE"), "%s", r.out);
    const char *s = strstr(r.out, "event_del() returned after ");
    cr_assert_not_null(s, "%s", r.out);
    long waited = atol(s + strlen("event_del() returned after "));
    cr_assert_lt(waited, 150, "with EV_FINALIZE event_del() does not wait (%ld ms)", waited);
    cr_assert(strstr(r.out, "callback still running: yes"), "%s", r.out);
    cr_assert_null(strstr(r.out, "loop thread: callback returns"),
                   "the callback must not survive touching the freed job:\n%s", r.out);
    cr_assert(strstr(r.out, "parent: the child was killed by signal") ||
                  (strstr(r.out, "parent: the child exited with status ") &&
                   !strstr(r.out, "parent: the child exited with status 0")),
              "the child must die of the use-after-free:\n%s", r.out);
    evt_run_free(&r);
}

Test(threadsafe_bev, many_threads_write_one_bufferevent, .timeout = 30)
{
    struct evt_run r;
    cr_assert_eq(
        evt_run(&r, EVT_ARGV(evt_prog(DIR "threadsafe_bev"), "--threads", "4", "--lines", "2000"),
                EVT_ENV(TSAN_ENV), NULL, 20),
        0);
    cr_assert_eq(r.exit_code, 0, "stdout: %s\nstderr: %s", r.out, r.err);
    cr_assert(
        strstr(r.out, "received 8000 lines, 0 bad: every line whole, each thread's lines in order"),
        "%s", r.out);
    evt_run_free(&r);
}

/* Without BEV_OPT_THREADSAFE the same writers race inside libevent. It is a
 * race: the threads must really run at once, which a loaded machine makes
 * rarer (10000 lines each came out clean five times in a row at load 15). So
 * each thread writes 50000 lines, long enough to overlap with the others on
 * two cores, and up to ten runs are tried: here 6 of 6 crashed. The same
 * writers with the option are clean. */
Test(threadsafe_bev, without_the_option_the_writers_break_it, .timeout = 120)
{
    int failed = 0;
    char last[512] = "";
    for (int i = 0; i < 10 && !failed; i++) {
        struct evt_run r;
        cr_assert_eq(evt_run(&r,
                             EVT_ARGV(evt_prog(DIR "threadsafe_bev"), "--no-threadsafe",
                                      "--threads", "8", "--lines", "50000"),
                             EVT_ENV(TSAN_ENV), NULL, 30),
                     0);
        cr_assert_eq(r.exit_code, 0, "the parent reports and exits 0; stderr: %s", r.err);
        const char *s = strstr(r.out, "parent: the child ");
        cr_assert_not_null(s, "%s", r.out);
        snprintf(last, sizeof last, "%s", s);
        failed = !strstr(s, "got lucky");
        evt_run_free(&r);
    }
    cr_assert(failed, "ten unlocked runs all came out clean; last: %s", last);

    struct evt_run r;
    cr_assert_eq(
        evt_run(&r, EVT_ARGV(evt_prog(DIR "threadsafe_bev"), "--threads", "8", "--lines", "10000"),
                EVT_ENV(TSAN_ENV), NULL, 60),
        0);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "received 80000 lines, 0 bad"), "%s", r.out);
    evt_run_free(&r);
}

/* Only one thread may run a base's loop: a second event_base_dispatch() on
 * the same base, from another thread, is refused with -1. */
Test(one_loop_per_base, a_second_thread_cannot_dispatch_a_running_base, .timeout = 30)
{
    struct evt_run r;
    cr_assert_eq(
        evt_run(&r, EVT_ARGV(evt_prog(DIR "one_loop_per_base")), EVT_ENV(TSAN_ENV), NULL, 20), 0);
    cr_assert_eq(r.exit_code, 0, "stdout: %s\nstderr: %s", r.out, r.err);
    cr_assert(strstr(r.out, "main thread: event_base_dispatch() on the same base returned -1"),
              "%s", r.out);
    cr_assert(strstr(r.err, "reentrant invocation"), "libevent's warning: %s", r.err);
    cr_assert(strstr(r.out, "thread L: its event_base_dispatch() returned 0"), "%s", r.out);
    evt_run_free(&r);
}

/* "libevent demo", note 4: a busy worker does not lose a hand-over; the byte waits in
 * the pipe and the worker takes the client when it is back in its loop. */
Test(dispatcher, a_busy_worker_takes_the_next_client_when_back_in_its_loop, .timeout = 60)
{
    struct evt_proc p;
    cr_assert_eq(evt_spawn(&p,
                           EVT_ARGV(evt_prog(DIR "dispatcher"), "--port", "0", "--workers", "1",
                                    "--busy-ms", "600"),
                           EVT_ENV(TSAN_ENV)),
                 0);
    int port = evt_wait_port(&p, 20);
    cr_assert_gt(port, 0, "stderr: %s", p.err);
    double t0 = evt_now();
    int a = evt_connect(port, 5);
    cr_assert_not_null(evt_wait_line(&p, "worker 1: busy", 10), "%s", p.out);
    int b = evt_connect(port, 5);
    cr_assert_not_null(evt_wait_line(&p, "accept thread: client 2 -> worker 1", 10), "%s", p.out);
    double handed = evt_now() - t0;
    char line[128];
    cr_assert_gt(read_line(b, line, sizeof line), 0, "client 2 is served in the end");
    double served = evt_now() - t0;
    cr_assert_str_eq(line, "worker 1 serves client 2");
    cr_assert_lt(handed, 0.45, "the accept thread hands over at once (%.3f s)", handed);
    cr_assert_geq(served, 0.5, "client 2 waits for the busy worker (%.3f s)", served);
    cr_assert_not_null(evt_wait_line(&p, "worker 1 took client 2", 10), "%s", p.out);
    const char *took = strstr(p.out, "worker 1 took client 2");
    const char *acc = strstr(p.out, "accept thread: client 2 -> worker 1");
    cr_assert(took && acc && acc < took, "%s", p.out);
    close(a);
    close(b);
    stop_clean(&p);
    evt_proc_free(&p);
}

/* event_active() is not a drop-in for the notify pipe: activations of an
 * event that is already active merge into one callback. Clients 2 and 3
 * arrive while the only worker is busy: two pipe bytes give two callbacks,
 * two event_active() calls give one, and a worker that takes one client per
 * wake-up strands client 3. --drain (take all per wake-up) fixes it. */
static bool third_client_served(const char *notify, bool drain)
{
    struct evt_proc p;
    const char *const with[] = {evt_prog(DIR "dispatcher"),
                                "--port",
                                "0",
                                "--workers",
                                "1",
                                "--busy-ms",
                                "1500",
                                "--notify",
                                notify,
                                "--drain",
                                NULL};
    const char *const without[] = {evt_prog(DIR "dispatcher"),
                                   "--port",
                                   "0",
                                   "--workers",
                                   "1",
                                   "--busy-ms",
                                   "1500",
                                   "--notify",
                                   notify,
                                   NULL};
    cr_assert_eq(evt_spawn(&p, drain ? with : without, EVT_ENV(TSAN_ENV)), 0);
    int port = evt_wait_port(&p, 20);
    cr_assert_gt(port, 0, "stderr: %s", p.err);
    int a = evt_connect(port, 5);
    cr_assert_not_null(evt_wait_line(&p, "worker 1: busy", 10), "%s", p.out);
    int b = evt_connect(port, 5), c = evt_connect(port, 5);
    cr_assert(a >= 0 && b >= 0 && c >= 0);
    cr_assert_not_null(evt_wait_line(&p, "accept thread: client 3 -> worker 1", 10), "%s", p.out);
    cr_assert_not_null(evt_wait_line(&p, "worker 1 took client 1", 1), "%s", p.out);
    /* Both hand-overs happened while the worker was still busy with client 1. */
    cr_assert_null(strstr(p.out, "worker 1 took client 2"), "too slow to overlap:\n%s", p.out);
    char line[128];
    cr_assert_gt(read_line(b, line, sizeof line), 0, "client 2 is served");
    cr_assert_str_eq(line, "worker 1 serves client 2");
    /* Client 2 was taken and its busy time is over; is client 3 served? */
    char byte;
    bool served = evt_read_n(c, &byte, 1, drain ? 10 : 2) == 1;
    close(a);
    close(b);
    close(c);
    stop_clean(&p);
    if (!served)
        cr_assert(strstr(p.out, "worker 1: client 3 was never taken off the queue"), "%s", p.out);
    evt_proc_free(&p);
    return served;
}

Test(dispatcher, event_active_wakeups_merge_and_strand_a_client, .timeout = 60)
{
    cr_assert_not(third_client_served("active", false),
                  "two event_active() calls while the worker was busy should run one callback");
}

Test(dispatcher, pipe_bytes_or_draining_serve_every_client, .timeout = 90)
{
    cr_assert(third_client_served("pipe", false), "one pipe byte per client: all are taken");
    cr_assert(third_client_served("active", true), "draining the queue per wake-up takes all");
}

/* Step mode must not change the lesson: active_from_thread arms its 2 s
 * timeout only after the last pause (armed before it, a 2 s pause would let
 * the timeout fire first). */
Test(step_mode, active_from_thread_and_del_from_thread_show_the_same_at_a_slow_pace, .timeout = 120)
{
    static const char *const numbers[] = {"-?[0-9]+", NULL};
    evt_assert_step_same(EVT_ARGV(evt_prog(DIR "active_from_thread")), NULL, numbers, 2.0, 60);
    evt_assert_step_same(EVT_ARGV(evt_prog(DIR "del_from_thread"), "--finalize"), NULL, numbers,
                         2.0, 60);
}
