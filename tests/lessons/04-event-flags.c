/* Lesson 04: the claims of lessons/04-event-flags/README.md, checked on the
 * real programs, on every backend where the claim depends on it. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "evtest.h"

#define DIR "lessons/04-event-flags/"
#define CB_FUNC evt_prog(DIR "cb_func")
#define PERSIST evt_prog(DIR "persist")
#define EDGE evt_prog(DIR "edge_triggered")
#define CLOSED evt_prog(DIR "closed")
#define SIGNAL evt_prog(DIR "signal_event")
#define READ_WRITE evt_prog(DIR "read_write")

static const char *const methods[] = {"epoll", "poll", "select"};

/* Run argv[] (NULL-terminated, up to 8 args) with "--method M" appended. */
static struct evt_run run_m(const char *prog, const char *method, const char *const args[],
                            const char *const env[])
{
    const char *argv[16] = {prog};
    int n = 1;
    for (int i = 0; args && args[i]; i++)
        argv[n++] = args[i];
    if (method) {
        argv[n++] = "--method";
        argv[n++] = method;
    }
    argv[n] = NULL;
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, env, NULL, 10), 0);
    cr_assert_eq(r.term_signal, 0, "%s died: %s", prog, r.err);
    cr_assert_not(r.timed_out, "%s hung:\n%s", prog, r.out);
    cr_assert_eq(r.exit_code, 0, "%s exit %d: %s", prog, r.exit_code, r.err);
    return r;
}
#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The LT/ET row of edge_triggered's table: callbacks, read, unread. */
static void row(const char *out, const char *mode, int v[3])
{
    char key[16];
    snprintf(key, sizeof key, "\n  %s ", mode);
    const char *t = strstr(out, "== 4. side by side");
    cr_assert(t, "%s", out);
    const char *r = strstr(t, key);
    cr_assert(r, "no %s row:\n%s", mode, out);
    cr_assert_eq(sscanf(r + strlen(key), "%d %d %d", &v[0], &v[1], &v[2]), 3);
}

static short got_what;
static void on_what(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)arg;
    got_what = what;
}

/* ---- cb_func ------------------------------------------------------------------ */

Test(cb_func, seed_callback_on_two_fds_with_timeout_as_a_result, .timeout = 20)
{
    for (int m = 0; m < 3; m++) {
        struct evt_run r = run_m(CB_FUNC, methods[m], ARGS("--timeout-ms", "150"), NULL);
        cr_assert(strstr(r.out, "pending on EV_TIMEOUT|EV_READ"), "%s", r.out);
        cr_assert_eq(evt_count(r.out, ": write [Writing event]\n"), 3, "%s", r.out);
        cr_assert_eq(evt_count(r.out, ": read [Reading event]\n"), 3, "%s", r.out);
        /* Writes and reads alternate strictly: w r w r w r. */
        const char *p = r.out;
        for (int i = 1; i <= 3; i++) {
            char w[32], rd[32];
            snprintf(w, sizeof w, "wrote \"message %d\"", i);
            snprintf(rd, sizeof rd, "read \"message %d\"", i);
            const char *a = strstr(p, w), *b = a ? strstr(a, rd) : NULL;
            cr_assert(a && b, "message %d out of order:\n%s", i, r.out);
            const char *next = strstr(a + 1, "wrote \"");
            cr_assert(!next || next > b, "a second write before read %d:\n%s", i, r.out);
            p = b;
        }
        const char *t = strstr(r.out, ": timeout [Reading event]\n");
        cr_assert(t && t > p, "EV_TIMEOUT after the last read:\n%s", r.out);
        cr_assert_eq(evt_count(r.out, " timeout ["), 1);
        cr_assert(strstr(r.out, "event_base_dispatch -> 1"), "%s", r.out);
        cr_assert_geq(r.seconds, 0.14, "the timeout waited %.3f s", r.seconds);
        evt_run_free(&r);
    }
}

Test(cb_func, timeout_flag_alone_makes_no_timeout)
{
    for (int m = 0; m < 3; m++) {
        struct evt_run r = run_m(CB_FUNC, methods[m], ARGS("--no-timeout", "--writes", "5"), NULL);
        cr_assert(strstr(r.out, "ev1 asked for EV_TIMEOUT|EV_READ|EV_PERSIST\n"), "%s", r.out);
        cr_assert(strstr(r.out, "ev1 pending on EV_READ\n"), "%s", r.out);
        cr_assert_eq(evt_count(r.out, " timeout ["), 0, "%s", r.out);
        cr_assert_eq(evt_count(r.out, ": write [Writing event]"), 5, "%s", r.out);
        cr_assert(strstr(r.out, "read returned 0: EOF"), "%s", r.out);
        evt_run_free(&r);
    }
}

/* ---- persist ------------------------------------------------------------------- */

Test(persist, persistent_vs_one_shot_vs_readd)
{
    for (int m = 0; m < 3; m++) {
        struct evt_run r = run_m(PERSIST, methods[m], NULL, NULL);
        cr_assert(strstr(r.out, "read 'a'") && strstr(r.out, "read 'b'") &&
                      strstr(r.out, "read 'c'"),
                  "%s", r.out);
        cr_assert(strstr(r.out, "callback 4: EV_READ, read returned 0 (EOF), event_del"), "%s",
                  r.out);
        cr_assert(
            strstr(r.out, "event_base_dispatch -> 1 (no events left), 4 callbacks, 0 bytes unread"),
            "%s", r.out);
        evt_run_free(&r);

        r = run_m(PERSIST, methods[m], ARGS("--no-persist"), NULL);
        cr_assert(strstr(r.out, "callback 1: EV_READ, read 'a' -> pending: 0\n"), "%s", r.out);
        cr_assert(
            strstr(r.out, "event_base_dispatch -> 1 (no events left), 1 callback, 2 bytes unread"),
            "%s", r.out);
        evt_run_free(&r);

        r = run_m(PERSIST, methods[m], ARGS("--no-persist", "--readd"), NULL);
        cr_assert_eq(evt_count(r.out, "one-shot: event_add again"), 3, "%s", r.out);
        cr_assert(strstr(r.out, "4 callbacks, 0 bytes unread"), "%s", r.out);
        evt_run_free(&r);
    }
}

/* ---- edge_triggered --------------------------------------------------------- */

Test(edge_triggered, et_fires_once_per_arrival_on_epoll)
{
    struct evt_run r = run_m(EDGE, "epoll", NULL, NULL);
    cr_assert(strstr(r.out, "EV_FEATURE_ET yes"), "%s", r.out);
    cr_assert(strstr(r.out, "[LT] => 4 callbacks for these 8 bytes"), "%s", r.out);
    cr_assert(strstr(r.out, "[ET] => 1 callback for these 8 bytes"), "%s", r.out);
    cr_assert(strstr(r.out, "[ET] callback 1: what=EV_READ|EV_ET, read 2, 6 left"), "%s", r.out);
    cr_assert(strstr(r.out, "[ET] => 1 callback for these 2 bytes"), "%s", r.out);
    int lt[3], et[3];
    row(r.out, "LT", lt);
    row(r.out, "ET", et);
    cr_assert(lt[0] == 5 && lt[2] == 0, "LT row %d %d %d", lt[0], lt[1], lt[2]);
    cr_assert(et[0] == 2 && et[2] == 6, "ET row %d %d %d", et[0], et[1], et[2]);
    evt_run_free(&r);

    r = run_m(EDGE, "epoll", ARGS("--bytes", "20", "--chunk", "5"), NULL);
    cr_assert(strstr(r.out, "[LT] => 4 callbacks for these 20 bytes"), "%s", r.out);
    cr_assert(strstr(r.out, "[ET] => 1 callback for these 20 bytes"), "%s", r.out);
    evt_run_free(&r);
}

Test(edge_triggered, drain_makes_et_lose_nothing)
{
    for (int m = 0; m < 3; m++) {
        struct evt_run r = run_m(EDGE, methods[m], ARGS("--drain"), NULL);
        int lt[3], et[3];
        row(r.out, "LT", lt);
        row(r.out, "ET", et);
        cr_assert(lt[0] == 2 && lt[1] == 10 && lt[2] == 0, "%s", r.out);
        cr_assert(et[0] == 2 && et[1] == 10 && et[2] == 0, "%s", r.out);
        evt_run_free(&r);
    }
}

Test(edge_triggered, et_is_accepted_but_level_triggered_on_poll_and_select)
{
    for (int m = 1; m < 3; m++) {
        struct evt_run r = run_m(EDGE, methods[m], NULL, NULL);
        cr_assert(strstr(r.out, "EV_FEATURE_ET no"), "%s", r.out);
        cr_assert(strstr(r.out, "[ET] event_new(EV_READ|EV_PERSIST|EV_ET), event_add -> 0"), "%s",
                  r.out);
        cr_assert_eq(evt_count(r.err, "warn"), 0, "no warning: %s", r.err);
        int lt[3], et[3];
        row(r.out, "LT", lt);
        row(r.out, "ET", et);
        cr_assert(lt[0] == 5 && lt[2] == 0, "%s", r.out);
        cr_assert(memcmp(lt, et, sizeof lt) == 0, "%s: ET row must equal LT row:\n%s", methods[m],
                  r.out);
        cr_assert_null(strstr(r.out, "what=EV_READ|EV_ET"), "%s", r.out);
        evt_run_free(&r);
    }
    /* Same on the environment route to poll/select. */
    struct evt_run r = run_m(EDGE, NULL, NULL, EVT_ENV("EVENT_NOEPOLL=1"));
    cr_assert(strstr(r.out, "method poll"), "%s", r.out);
    int et[3];
    row(r.out, "ET", et);
    cr_assert(et[0] == 5 && et[2] == 0, "%s", r.out);
    evt_run_free(&r);
}

/* ---- closed ------------------------------------------------------------------- */

Test(closed, early_close_on_epoll_and_poll_with_unread_data)
{
    const char *how[] = {NULL, "--close"};
    for (int m = 0; m < 2; m++) {
        for (int h = 0; h < 2; h++) {
            /* A 3 s guard: EV_CLOSED must beat it by far. */
            struct evt_run r = run_m(
                CLOSED, methods[m],
                how[h] ? ARGS("--timeout-ms", "3000", how[h]) : ARGS("--timeout-ms", "3000"), NULL);
            cr_assert(strstr(r.out, "EV_FEATURE_EARLY_CLOSE yes"), "%s", r.out);
            cr_assert(strstr(r.out, "callback 1: what=EV_CLOSED, 3 bytes still unread"),
                      "%s %s:\n%s", methods[m], how[h] ? how[h] : "", r.out);
            cr_assert(strstr(r.out, "read -> 3 (the data was still there)\n  read -> 0"), "%s",
                      r.out);
            cr_assert_lt(r.seconds, 2.0, "EV_CLOSED must come long before the 3 s guard (%.3f s)",
                         r.seconds);
            evt_run_free(&r);
        }
        struct evt_run r = run_m(CLOSED, methods[m], ARGS("--with-read"), NULL);
        cr_assert(strstr(r.out, "callback 1: what=EV_READ|EV_CLOSED, 3 bytes still unread"), "%s",
                  r.out);
        evt_run_free(&r);
    }
    struct evt_run r = run_m(CLOSED, NULL, NULL, EVT_ENV("EVENT_NOEPOLL=1"));
    cr_assert(strstr(r.out, "method poll") && strstr(r.out, "what=EV_CLOSED"), "%s", r.out);
    evt_run_free(&r);
}

Test(closed, select_never_reports_closed)
{
    struct evt_run r = run_m(CLOSED, "select", ARGS("--timeout-ms", "100"), NULL);
    cr_assert(strstr(r.out, "EV_FEATURE_EARLY_CLOSE no"), "%s", r.out);
    cr_assert(strstr(r.out, "event_add with a 100 ms timeout, then dispatch"), "%s", r.out);
    cr_assert(strstr(r.out, "callback 1: what=EV_TIMEOUT, 3 bytes still unread"), "%s", r.out);
    cr_assert_null(strstr(r.out, "what=EV_CLOSED"), "%s", r.out);
    cr_assert(strstr(r.out, "read -> 3 (the data was still there)\n  read -> 0 (EOF"), "%s", r.out);
    cr_assert_geq(r.seconds, 0.09);
    evt_run_free(&r);

    r = run_m(CLOSED, NULL, ARGS("--with-read", "--close"),
              EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1"));
    cr_assert(strstr(r.out, "method select"), "%s", r.out);
    cr_assert(strstr(r.out, "callback 1: what=EV_READ, 3 bytes still unread"), "%s", r.out);
    evt_run_free(&r);
}

Test(closed, persistent_closed_keeps_firing)
{
    for (int m = 0; m < 2; m++) {
        struct evt_run r = run_m(CLOSED, methods[m], ARGS("--persist", "--close"), NULL);
        cr_assert_eq(evt_count(r.out, "what=EV_CLOSED"), 3, "%s", r.out);
        cr_assert(strstr(r.out, "it keeps firing (level-triggered): event_del"), "%s", r.out);
        cr_assert(strstr(r.out, "event_base_dispatch -> 1 after 3 callbacks"), "%s", r.out);
        evt_run_free(&r);
    }
}

/* ---- signal_event ------------------------------------------------------------- */

Test(signal_event, signals_arrive_as_callbacks_counted_per_delivery)
{
    for (int m = 0; m < 3; m++) {
        struct evt_run r = run_m(SIGNAL, methods[m], NULL, NULL);
        char want[96];
        snprintf(want, sizeof want,
                 "evsignal_new gave EV_SIGNAL|EV_PERSIST, event_get_fd -> %d (SIGUSR1 is %d)",
                 SIGUSR1, SIGUSR1);
        cr_assert(strstr(r.out, want), "%s", r.out);
        cr_assert(strstr(r.out, "raised; nothing ran yet: 0 callbacks"), "%s", r.out);
        snprintf(want, sizeof want, "callback 1: fd argument %d (SIGUSR1), what=EV_SIGNAL",
                 SIGUSR1);
        cr_assert(strstr(r.out, want), "%s", r.out);
        cr_assert(strstr(r.out, "3 callbacks in that turn"), "%s", r.out);
        /* Five signals while blocked merge into one: not counted per signal. */
        cr_assert(strstr(r.out, "1 callback for 5 signals"), "%s: %s", methods[m], r.out);
        /* A one-shot EV_SIGNAL event is allowed, and after it fires the
         * default action is back: the second SIGUSR2 kills the child. */
        cr_assert(strstr(r.out, "[child] one-shot callback: signal 12, what=EV_SIGNAL"), "%s",
                  r.out);
        cr_assert(strstr(r.out, "[child] pending after it ran: 0"), "%s", r.out);
        cr_assert(strstr(r.out, "the child was killed by signal 12"), "%s", r.out);
        cr_assert_null(strstr(r.out, "still alive"), "%s", r.out);
        cr_assert(strstr(r.out, "still pending (EV_PERSIST): EV_SIGNAL"), "%s", r.out);
        evt_run_free(&r);
    }
}

Test(signal_event, external_signals_and_sigint_exit_cleanly)
{
    struct evt_proc p;
    cr_assert_eq(evt_spawn(&p, EVT_ARGV(SIGNAL, "--wait"), NULL), 0);
    cr_assert(evt_wait_line(&p, "send SIGUSR1", 10), "never waited:\n%s", p.out);
    kill(p.pid, SIGUSR1);
    cr_assert(evt_wait_line(&p, "callback 6: fd argument", 10), "no callback for kill -USR1:\n%s",
              p.out);
    int st = evt_stop(&p, SIGINT, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d\n%s", st, p.out);
    cr_assert(strstr(p.out, "SIGINT: leaving the loop") && strstr(p.out, "done: 7 callbacks"), "%s",
              p.out);
    evt_proc_free(&p);
}

/* The same without the program: a TCP connection reset by its peer. epoll
 * reports EPOLLERR as EV_READ|EV_WRITE and drops EV_CLOSED (epoll.c); poll
 * keeps it (poll.c). */
static short reset_what(const char *method)
{
    int lport;
    int lfd = evt_listen(&lport);
    cr_assert_geq(lfd, 0);
    int c = evt_connect(lport, 5);
    cr_assert_geq(c, 0);
    int s = accept(lfd, NULL, NULL);
    cr_assert_geq(s, 0);
    struct event_config *cfg = event_config_new();
    const char *all[] = {"epoll", "poll", "select"};
    for (int i = 0; i < 3; i++)
        if (strcmp(all[i], method))
            event_config_avoid_method(cfg, all[i]);
    struct event_base *b = event_base_new_with_config(cfg);
    event_config_free(cfg);
    cr_assert_not_null(b);
    cr_assert_str_eq(event_base_get_method(b), method);
    evt_reset_close(c); /* RST */
    usleep(1000);
    struct event *ev = event_new(b, s, EV_READ | EV_WRITE | EV_CLOSED, on_what, NULL);
    cr_assert_not_null(ev);
    cr_assert_eq(event_add(ev, &(struct timeval){5, 0}), 0);
    got_what = 0;
    event_base_dispatch(b);
    event_free(ev);
    event_base_free(b);
    close(s);
    close(lfd);
    return got_what;
}

Test(closed, a_reset_hides_closed_on_epoll_but_not_on_poll)
{
    short e = reset_what("epoll"), p = reset_what("poll");
    cr_assert_eq(e, EV_READ | EV_WRITE, "epoll after RST: what=0x%x", e);
    cr_assert(p & EV_CLOSED, "poll after RST: what=0x%x", p);

    /* The program's --reset (an AF_UNIX close with our byte unread). */
    struct evt_run r = run_m(CLOSED, "epoll", ARGS("--reset", "--timeout-ms", "200"), NULL);
    cr_assert(strstr(r.out, "callback 1: what=EV_TIMEOUT"), "%s", r.out);
    cr_assert_null(strstr(r.out, "EV_CLOSED,"), "%s", r.out);
    cr_assert(strstr(r.out, "read -> -1 (Connection reset by peer): an error, not EOF"), "%s",
              r.out);
    evt_run_free(&r);
    r = run_m(CLOSED, "epoll", ARGS("--reset", "--with-read"), NULL);
    cr_assert(strstr(r.out, "callback 1: what=EV_READ, 3 bytes"), "%s", r.out);
    cr_assert(strstr(r.out, "a close without EV_CLOSED"), "%s", r.out);
    evt_run_free(&r);
    r = run_m(CLOSED, "poll", ARGS("--reset", "--timeout-ms", "3000"), NULL);
    cr_assert(strstr(r.out, "callback 1: what=EV_CLOSED, 3 bytes"), "%s", r.out);
    evt_run_free(&r);
}

Test(closed, shut_wr_is_a_half_close_and_the_select_line_is_only_on_select)
{
    for (int m = 0; m < 3; m++) {
        struct evt_run r = run_m(CLOSED, methods[m], ARGS("--timeout-ms", "100"), NULL);
        cr_assert(strstr(r.out, "the peer, which shut down only its writing side, reads 2 bytes"),
                  "%s", r.out);
        cr_assert_null(strstr(r.out, "peer is gone"), "%s", r.out);
        cr_assert_eq(evt_count(r.out, "the only close signal select gives"), m == 2, "%s: %s",
                     methods[m], r.out);
        evt_run_free(&r);
    }
}

/* ---- read_write ------------------------------------------------------------------ */

Test(read_write, one_event_gets_both_bits_in_one_call)
{
    for (int m = 0; m < 3; m++) {
        struct evt_run r = run_m(READ_WRITE, methods[m], NULL, NULL);
        const char *s2 = strstr(r.out, "== 2."), *s3 = strstr(r.out, "== 3."),
                   *s4 = strstr(r.out, "== 4.");
        cr_assert(s2 && s3 && s4, "%s", r.out);
        cr_assert(strstr(s2, "callback: what=EV_WRITE\n") < s3, "%s", r.out);
        cr_assert(strstr(s3, "callback: what=EV_READ|EV_WRITE\n") < s4, "%s", r.out);
        cr_assert(strstr(s3, "EV_READ:  read 4 bytes \"pong\"") < s4, "%s", r.out);
        cr_assert(strstr(s4, "callback: what=EV_READ\n"), "%s", r.out);
        cr_assert_eq(evt_count(s4, "EV_WRITE:"), 0, "%s", r.out);
        evt_run_free(&r);
    }
}

/* ---- every program: --help, bad flags, step mode ---------------------------- */

Test(lesson04, help_and_bad_flags)
{
    const char *progs[] = {CB_FUNC, PERSIST, EDGE, CLOSED, SIGNAL, READ_WRITE};
    for (int i = 0; i < 6; i++) {
        evt_assert_usage(progs[i], EVT_ARGV("--method", "--step"));
        struct evt_run r;
        cr_assert_eq(evt_run(&r, EVT_ARGV(progs[i], "--method", "kqueue"), NULL, NULL, 10), 0);
        cr_assert_eq(r.exit_code, 2, "%s --method kqueue", progs[i]);
        evt_run_free(&r);
    }
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(CB_FUNC, "--timeout-ms", "0"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--timeout-ms wants a whole number"), "%s", r.err);
    evt_run_free(&r);
    /* Range checks come before any cast: 2^32 + 300 must not become 300. */
    const char *const bad[][3] = {{CB_FUNC, "--timeout-ms", "4294967596"},
                                  {CB_FUNC, "--writes", "-1"},
                                  {CLOSED, "--timeout-ms", "4294967596"},
                                  {EDGE, "--bytes", "4294967304"},
                                  {EDGE, "--chunk", "2x"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(evt_run(&r, EVT_ARGV(bad[i][0], bad[i][1], bad[i][2]), NULL, NULL, 10), 0);
        cr_assert_eq(r.exit_code, 2, "%s %s %s accepted", bad[i][0], bad[i][1], bad[i][2]);
        cr_assert(strstr(r.err, "wants a whole number"), "%s", r.err);
        evt_run_free(&r);
    }
}

Test(lesson04, step_mode_on_a_tty)
{
    struct evt_run r;
    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(CLOSED, "--step"), NULL, "\n\nq\n", 10), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "== 3. event_add with a 300 ms timeout, then dispatch"), "%s", r.out);
    cr_assert_null(strstr(r.out, "callback 1:"), "q stops before dispatch:\n%s", r.out);
    evt_run_free(&r);

    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(EDGE, "--step"), NULL, "\n\n\n\n", 10), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "== 4. side by side"), "%s", r.out);
    cr_assert_geq(evt_count(r.out, "[Enter: run this step"), 4);
    evt_run_free(&r);
}

/* Waiting 2 s at every prompt changes nothing. Before, cb_func's 1 s timeout
 * ran out at the prompt (no reads at all) and closed's 300 ms guard beat
 * EV_CLOSED. One test per program, so that Criterion runs them side by side. */
#define STEP_SAME(name, ...)                                                                       \
    Test(step_mode, name, .timeout = 60)                                                           \
    {                                                                                              \
        evt_assert_step_same(EVT_ARGV(__VA_ARGS__), NULL, NULL, 2.0, 40);                          \
    }
STEP_SAME(cb_func_keeps_its_reads, CB_FUNC)
STEP_SAME(closed_keeps_ev_closed, CLOSED)
STEP_SAME(closed_reset_on_poll, CLOSED, "--reset", "--method", "poll")
STEP_SAME(persist, PERSIST)
STEP_SAME(edge_triggered, EDGE)
STEP_SAME(signal_event, SIGNAL)
STEP_SAME(read_write, READ_WRITE)
