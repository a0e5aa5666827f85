/* trace.c -- `evlab trace` and its recorder build/evtrace.so, on the real lesson programs.
 *
 * Each test runs the runner (build/evlab trace) on a lesson program as a real
 * process: the recorder is preloaded into the program, clients connect over
 * 127.0.0.1, and the assertions read what the runner printed or wrote (the
 * state sequence, the stall report, the HTML page, the Chrome JSON).
 * Durations are only compared with generous bounds.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evtest.h"
#include "../../tools/trace/evtrace_grading.h"

#define L03 "lessons/03-event-lifecycle/lifecycle"
#define L05 "lessons/05-loop-modes/exit_vs_break"
#define L10 "lessons/10-echo-server/"
#define L12 "lessons/12-blocking-callbacks/"
#define L13 "lessons/13-threads/dispatcher"

/* build/evlab trace ARGS..., from the repository root, no colour. */
static struct evt_run trace(const char *const *args)
{
    const char *argv[40];
    int a = 0;
    argv[a++] = evt_prog("evlab");
    argv[a++] = "trace";
    for (; *args && a < 39; args++)
        argv[a++] = *args;
    argv[a] = NULL;
    char cwd[2048], root[2100], build[2100];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    snprintf(root, sizeof root, "EVLAB_ROOT=%s", cwd);
    snprintf(build, sizeof build, "EVLAB_BUILD=%s", evt_build_dir());
    const char *env[] = {root, build, "NO_COLOR=1", "LD_PRELOAD", NULL};
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, env, NULL, 90), 0);
    cr_assert(!r.timed_out, "evlab trace timed out:\n%s\n%s", r.out, r.err);
    return r;
}
#define TRACE(...) trace((const char *const[]){__VA_ARGS__, NULL})

static char *tmpname(const char *suffix)
{
    static int n;
    char *p = NULL;
    cr_assert(asprintf(&p, "/tmp/evlab-trace-test-%d-%d%s", (int)getpid(), n++, suffix) > 0);
    return p;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *s = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&s, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* The "states LABEL: ..." line of the first event whose label starts with `name`. */
static char *states_of(const char *out, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\nstates %s", name);
    const char *s = strstr(out, key);
    if (!s)
        return NULL;
    s = strchr(s + 1, ':');
    const char *e = strchr(s, '\n');
    return strndup(s + 2, (size_t)(e - s - 2));
}

/* Lesson 03: the trace's state sequence for the read event is the one its narration tells. */
Test(trace, lifecycle_states_follow_the_narration, .timeout = 120)
{
    struct evt_run r = TRACE("--states", "--", evt_prog(L03));
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    char *st = states_of(r.out, "on_read (fd");
    cr_assert_not_null(st, "no state line for on_read:\n%s", r.out);
    cr_assert_str_eq(st, "initialized pending active callback pending non-pending pending active "
                         "callback pending freed");
    /* The narration says the same, in the same order: each state's sentence
     * comes after the previous one's. */
    static const struct {
        const char *state, *said;
    } say[] = {{"initialized", "created and initialized"},
               {"pending", "after event_add: event_pending -> EV_"},
               {"active", "is now ACTIVE"},
               {"callback", "[callback]"},
               {"pending", "EV_PERSIST: pending again"},
               {"non-pending", "(not pending)"},
               {"pending", "after event_add(ev, NULL): event_pending -> EV_READ"},
               {"active", "the peer writes 1 byte"},
               {"callback", "[callback]"},
               {"pending", "after the loop: event_pending -> EV_"},
               {"freed", "after event_free(ev)"}};
    const char *at = r.out;
    char *tok = st, *save = NULL;
    size_t i = 0;
    for (char *w = strtok_r(tok, " ", &save); w; w = strtok_r(NULL, " ", &save), i++) {
        cr_assert_lt(i, sizeof say / sizeof say[0], "more states than the narration tells");
        cr_assert_str_eq(w, say[i].state, "state %zu is %s, the narration says %s", i, w,
                         say[i].state);
        const char *next = strstr(at, say[i].said);
        cr_assert_not_null(next, "the narration does not say '%s' after state %zu", say[i].said, i);
        at = next + 1;
    }
    cr_assert_eq(i, sizeof say / sizeof say[0]);
    /* The one-shot peek event: active, its callback, then non-pending. */
    char *peek = states_of(r.out, "on_peek (fd");
    cr_assert_not_null(peek);
    cr_assert_str_eq(peek, "initialized pending active callback non-pending freed");
    /* libevent's own signal socket event is seen, and marked internal. */
    cr_assert(strstr(r.out, "[internal]: initialized"), "%s", r.out);
    free(st);
    free(peek);
    evt_run_free(&r);
}

/* Lesson 05: loopbreak stops after the running callback; the loop call returns. */
Test(trace, loopbreak_ends_the_loop_call, .timeout = 120)
{
    struct evt_run r = TRACE("--", evt_prog(L05), "--stop", "break");
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    const char *brk = strstr(r.out, "| on_active ");
    cr_assert_not_null(brk, "%s", r.out);
    const char *eol = strchr(brk, '\n');
    const char *mark = strstr(brk, "!loopbreak");
    cr_assert(mark && mark < eol, "the first iteration runs one callback, then loopbreak:\n%s",
              r.out);
    cr_assert_eq(strncmp(eol + 1 + strspn(eol + 1, " 0123456789."), "event_base_loop(0) -> 0", 23),
                 0, "the loop call returns 0 right after the loopbreak:\n%s", r.out);
    const char *again = strstr(eol, "| on_active ");
    cr_assert(again && evt_count(again, "on_active") >= 2,
              "the two other callbacks run in the next call:\n%s", r.out);
    evt_run_free(&r);
}

/* Lesson 12: the seed's sleeping accept callback is a stall, the fixed server has none. */
Test(trace, stall_found_in_blocking_accept, .timeout = 120)
{
    char *html = tmpname(".html");
    struct evt_run r = TRACE("--quiet", "--fail-on-stall", "--html", html, "12", "blocking_accept",
                             "--", "--port", "0", "--sleep-ms", "600");
    cr_assert_eq(r.exit_code, 3, "--fail-on-stall exits 3 on a stall:\n%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "on_accept (fd "), "%s", r.out);
    const char *held = strstr(r.out, ") held the loop ");
    cr_assert_not_null(held, "%s", r.out);
    long ms = atol(held + strlen(") held the loop "));
    cr_assert(ms >= 550 && ms < 5000, "the stall lasts about the 600 ms sleep, not %ld", ms);
    cr_assert(strstr(r.out, "was readable for"), "the second client's fd waited:\n%s", r.out);
    cr_assert(strstr(r.out, "the timer of on_heartbeat was due"), "%s", r.out);
    char *page = slurp(html);
    cr_assert_not_null(page);
    cr_assert(strstr(page, "class=\"stallbar\""), "the HTML draws the stall");
    cr_assert(strstr(page, "on_accept (fd "), "the HTML names it");
    cr_assert(strstr(page, "class=\"ready\""), "the waiting fd is drawn under the stall");
    unlink(html);
    free(page);
    free(html);
    evt_run_free(&r);
}

Test(trace, no_stall_in_fixed_server, .timeout = 120)
{
    struct evt_run r;
    /* A loaded 2-core machine can preempt any callback for tens of ms: the
     * threshold is half the sleep that blocking_accept is caught with. */
    r = TRACE("--quiet", "--fail-on-stall", "--stall-ms", "300", "--clients", "2", "--",
              evt_prog(L12 "fixed_server"), "--port", "0", "--sleep-ms", "600");
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "no stall"), "%s", r.out);
    cr_assert(strstr(r.out, " 2 threads") == NULL);
    evt_run_free(&r);
}

/* Lesson 13: one lane per thread; each worker runs callbacks on its own thread. */
Test(trace, dispatcher_has_a_lane_per_thread, .timeout = 120)
{
    char *json = tmpname(".json"), *html = tmpname(".html");
    struct evt_run r = TRACE("--quiet", "--clients", "4", "--chrome", json, "--html", html, "--",
                             evt_prog(L13), "--port", "0", "--workers", "2");
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, " 3 threads"), "main + 2 workers:\n%s", r.out);
    char *j = slurp(json);
    cr_assert_not_null(j);
    /* tids of the threads that ran callbacks */
    int tids[8], nt = 0;
    for (const char *s = strstr(j, "\"cat\":\"callback"); s;
         s = strstr(s + 1, "\"cat\":\"callback")) {
        const char *t = strstr(s, "\"tid\":");
        int tid = atoi(t + 6), k;
        for (k = 0; k < nt && tids[k] != tid; k++)
            ;
        if (k == nt && nt < 8)
            tids[nt++] = tid;
    }
    cr_assert_geq(nt, 3, "callbacks on 3 threads, saw %d", nt);
    char *h = slurp(html);
    cr_assert_eq(evt_count(h, "data-lane=\"thread\""), 3, "three thread lanes");
    unlink(json);
    unlink(html);
    free(j);
    free(h);
    free(json);
    free(html);
    evt_run_free(&r);
}

/* Bufferevents: the user's callbacks are wrapped, libevent's own events are internal. */
Test(trace, bufferevent_echo_callbacks_and_internal_events, .timeout = 120)
{
    char *json = tmpname(".json");
    struct evt_run r = TRACE("--states", "--clients", "2", "--chrome", json, "--",
                             evt_prog(L10 "bufferevent_echo"), "--port", "0");
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "states bufferevent read (fd ") &&
                  strstr(r.out, "states bufferevent write (fd "),
              "each bufferevent's two internal events:\n%s", r.out);
    cr_assert(strstr(r.out, "evconnlistener read (fd "), "%s", r.out);
    char *j = slurp(json);
    cr_assert(strstr(j, "\"cat\":\"bufferevent\""), "bufferevent callbacks recorded");
    cr_assert(strstr(j, "\"cat\":\"evconnlistener\""), "listener callback recorded");
    unlink(json);
    free(j);
    free(json);
    evt_run_free(&r);
}

/* The Chrome trace event format: every event has name, ph, ts, pid, tid; X has dur. */
Test(trace, chrome_json_has_the_required_fields, .timeout = 120)
{
    char *json = tmpname(".json");
    struct evt_run r = TRACE("--quiet", "--chrome", json, "--", evt_prog(L03));
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char *j = slurp(json);
    cr_assert_not_null(j);
    cr_assert_eq(strncmp(j, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", 39), 0);
    int n = 0, braces = 0;
    for (const char *c = j; *c; c++)
        braces += *c == '{' ? 1 : *c == '}' ? -1 : 0;
    cr_assert_eq(braces, 0, "balanced");
    for (char *save = NULL, *line = strtok_r(j, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != '{' && line[0] != ',')
            continue;
        if (!strstr(line, "\"ph\":"))
            continue;
        n++;
        cr_assert(strstr(line, "\"name\":\"") && strstr(line, "\"pid\":") &&
                      strstr(line, "\"tid\":") && strstr(line, "\"ts\":"),
                  "missing a required field: %s", line);
        if (strstr(line, "\"ph\":\"X\""))
            cr_assert(strstr(line, "\"dur\":"), "X without dur: %s", line);
    }
    cr_assert_gt(n, 5);
    unlink(json);
    free(j);
    free(json);
    evt_run_free(&r);
}

/* The page opens in headless Chromium: its script runs, lanes are there, no console error. */
Test(trace, html_opens_in_chromium, .timeout = 180)
{
    if (access("/usr/bin/chromium", X_OK) != 0)
        cr_skip_test("chromium is not installed (make deps)");
    char *html = tmpname(".html");
    struct evt_run r = TRACE("--quiet", "--html", html, "--", evt_prog(L05), "--stop", "exit");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    evt_run_free(&r);
    char *page = slurp(html);
    int lanes = evt_count(page, "class=\"lanelabel\"");
    cr_assert_geq(lanes, 3);
    /* self-contained: the only URL is the SVG namespace */
    int urls = evt_count(page, "http://") + evt_count(page, "https://");
    cr_assert_eq(urls, evt_count(page, "http://www.w3.org/2000/svg"), "no network references");
    char profile[] = "/tmp/evlab-chromium-XXXXXX", profile_arg[64], url[512];
    cr_assert_not_null(mkdtemp(profile));
    snprintf(profile_arg, sizeof profile_arg, "--user-data-dir=%s", profile);
    snprintf(url, sizeof url, "file://%s#selftest", html);
    cr_assert_eq(
        evt_run(&r,
                EVT_ARGV("/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--no-first-run", profile_arg, "--enable-logging=stderr",
                         "--v=0", "--window-size=1400,800", "--virtual-time-budget=2000",
                         "--dump-dom", url),
                NULL, NULL, 120),
        0);
    struct evt_run rm;
    evt_run(&rm, EVT_ARGV("/bin/rm", "-rf", profile), NULL, NULL, 30);
    evt_run_free(&rm);
    cr_assert_eq(r.exit_code, 0, "chromium failed: %s", r.err);
    cr_assert(strstr(r.out, "data-ready=\"1\""), "the page's script did not finish:\n%.2000s",
              r.err);
    char want[64];
    snprintf(want, sizeof want, "data-lanes=\"%d\"", lanes);
    cr_assert(strstr(r.out, want), "the script counts %d lanes", lanes);
    cr_assert(strstr(r.out, "data-selftest=\"ok\""), "zoom and hover work");
    cr_assert_eq(evt_count(r.err, ":CONSOLE"), 0, "console output:\n%s", r.err);
    unlink(html);
    free(page);
    free(html);
    evt_run_free(&r);
}

/* The recorder changes nothing the program prints. */
Test(trace, preloaded_program_prints_the_same, .timeout = 60)
{
    char so[1024], file[512];
    snprintf(so, sizeof so, "LD_PRELOAD=%s/evtrace.so", evt_build_dir());
    if (so[11] != '/') {
        char cwd[512];
        cr_assert_not_null(getcwd(cwd, sizeof cwd));
        snprintf(so, sizeof so, "LD_PRELOAD=%s/%s/evtrace.so", cwd, evt_build_dir());
    }
    snprintf(file, sizeof file, "EVTRACE_FILE=/tmp/evlab-trace-same-%d", (int)getpid());
    struct evt_run plain, traced;
    cr_assert_eq(evt_run(&plain, EVT_ARGV(evt_prog(L05), "--stop", "break"), NULL, NULL, 30), 0);
    const char *env[] = {so, file, NULL};
    cr_assert_eq(evt_run(&traced, EVT_ARGV(evt_prog(L05), "--stop", "break"), env, NULL, 30), 0);
    cr_assert_eq(traced.exit_code, plain.exit_code);
    /* the tick count is timing (the lesson says so): compare the rest */
    char *a = evt_mask_addrs(plain.out), *b = evt_mask_addrs(traced.out);
    char *ta = strstr(a, "== 4."), *tb = strstr(b, "== 4.");
    cr_assert(ta && tb);
    *ta = *tb = '\0';
    cr_assert_str_eq(b, a);
    cr_assert_eq(traced.err_len, plain.err_len, "stderr differs: %s", traced.err);
    char rec[600];
    snprintf(rec, sizeof rec, "%s", file + strlen("EVTRACE_FILE="));
    /* one recording, named after the pid */
    struct evt_run ls;
    cr_assert_eq(evt_run(&ls, EVT_ARGV("/bin/sh", "-c", "ls /tmp | grep -c \"^$0\\.\"", rec + 5),
                         NULL, NULL, 10),
                 0);
    cr_assert_eq(atoi(ls.out), 1, "exactly one recording: %s", ls.out);
    evt_run_free(&ls);
    evt_run(&ls, EVT_ARGV("/bin/sh", "-c", "rm -f \"$0\".*", rec), NULL, NULL, 10);
    evt_run_free(&ls);
    free(a);
    free(b);
    evt_run_free(&plain);
    evt_run_free(&traced);
}

/* What LD_PRELOAD cannot trace gets a reason, not an empty trace. */
Test(trace, not_libevent_or_bad_input_is_refused, .timeout = 60)
{
    struct evt_run r = TRACE("--", "/bin/true");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "does not link libevent"), "%s", r.err);
    evt_run_free(&r);
    if (access("/sbin/ldconfig", X_OK) == 0) { /* statically linked on Debian */
        r = TRACE("--", "/sbin/ldconfig", "-p");
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "statically linked"), "%s", r.err);
        evt_run_free(&r);
    }
    r = TRACE("--stall-ms", "soon", "--", "/bin/true");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--stall-ms needs"), "%s", r.err);
    evt_run_free(&r);
    r = TRACE("--read", "/etc/hostname");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "not an evtrace recording"), "%s", r.err);
    evt_run_free(&r);
    r = TRACE("99");
    cr_assert_eq(r.exit_code, 2);
    evt_run_free(&r);
}

/* --keep, then --stall-line: the one line the grader attaches to a stall failure. */
Test(trace, stall_line_from_a_kept_recording, .timeout = 120)
{
    char *rec = tmpname(".rec");
    struct evt_run r = TRACE("--quiet", "--keep", rec, "--clients", "2", "--",
                             evt_prog(L12 "blocking_accept"), "--port", "0", "--sleep-ms", "300");
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    evt_run_free(&r);
    r = TRACE("--stall-line", rec);
    cr_assert_eq(r.exit_code, 3, "a stall: exit 3\n%s%s", r.out, r.err);
    cr_assert_eq(evt_count(r.out, "\n"), 1, "one line: %s", r.out);
    cr_assert(strncmp(r.out, "on_accept (fd ", 14) == 0, "%s", r.out);
    evt_run_free(&r);
    r = TRACE("--stall-line", rec, "--stall-ms", "5000");
    cr_assert_eq(r.exit_code, 0, "no stall that long");
    cr_assert_eq(r.out_len, 0);
    evt_run_free(&r);
    unlink(rec);
    free(rec);
}

/* Lesson 10: seed 002's echo server and a client that never reads: the loop never comes back. */
Test(trace, seed_echo_is_stuck_on_a_slow_reader, .timeout = 120)
{
    struct evt_run r = TRACE("--quiet", "--fail-on-stall", "--slow-reader", "--clients", "1",
                             "--hold", "2", "--", evt_prog(L10 "seed_echo"), "--port", "0");
    cr_assert_eq(r.exit_code, 3, "%s\n%s", r.err,
                 r.out + (r.out_len > 2000 ? r.out_len - 2000 : 0));
    cr_assert(strstr(r.out, "the loop never came back"), "%s",
              r.out + (r.out_len > 2000 ? r.out_len - 2000 : 0));
    evt_run_free(&r);
}

/* What a grading suite calls (tools/trace/evtrace_grading.h): the stall
 * named while the server still sleeps in its callback. */
Test(trace, grading_helper_names_a_stall_in_progress, .timeout = 60)
{
    struct evtrace_job tj;
    cr_assert(evtrace_begin(&tj, evt_build_dir()), "no %s", tj.preload);
    const char *env[] = {tj.preload, tj.file, NULL};
    struct evt_proc p;
    cr_assert_eq(
        evt_spawn(&p,
                  EVT_ARGV(evt_prog(L12 "blocking_accept"), "--port", "0", "--sleep-ms", "1500"),
                  env),
        0);
    int port = evt_wait_port(&p, 10);
    cr_assert_gt(port, 0, "%s", p.err);
    int a = evt_connect(port, 5), b = evt_connect(port, 5);
    cr_assert(a >= 0 && b >= 0);
    cr_assert_not_null(evt_wait_line(&p, "now sleeping", 10));
    /* the stall itself: let the callback hold the loop a while */
    struct timespec ts = {0, 400 * 1000 * 1000};
    nanosleep(&ts, NULL);
    char why[512];
    bool found = evtrace_explain(&tj, p.pid, why, sizeof why);
    cr_assert(found, "no stall named: '%s'", why);
    cr_assert_eq(strncmp(why, "on_accept (fd ", 14), 0, "%s", why);
    cr_assert(strstr(why, "held the loop"), "%s", why);
    close(a);
    close(b);
    evt_stop(&p, SIGTERM, 20);
    evt_proc_free(&p);
    evtrace_end(&tj);
}

/* Killed by SIGTERM (its default action): the recording is written first,
 * and a loop idle in its backend wait is not called stuck. */
Test(trace, recording_survives_a_fatal_signal, .timeout = 60)
{
    struct evt_run r = TRACE("--duration", "1", "--stall-ms", "500", "--",
                             evt_prog("lessons/04-event-flags/signal_event"), "--wait");
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    cr_assert(strstr(r.out, "killed by signal 15"), "%s", r.out);
    cr_assert(strstr(r.out, "on_signal"), "the callbacks before the signal are there:\n%s", r.out);
    cr_assert(strstr(r.out, "no stall"), "%s", r.out);
    cr_assert_null(strstr(r.out, "stuck:"), "%s", r.out);
    evt_run_free(&r);
}
