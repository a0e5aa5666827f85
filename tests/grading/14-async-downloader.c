/* Grading suite for exercise 14 (seed 004's concurrent downloader).
 * Program: downloader [--timeout-ms N] URL... -> per URL "OK URL STATUS BYTES"
 * or "FAIL URL REASON"; exit 0 all OK, 1 any FAIL, 2 usage.
 * The suite runs its own servers in threads of the test process:
 *   - an evhttp server: /bytes/N (N bytes now), /slow/MS/N (N bytes after MS
 *     ms, without blocking its loop), /pair/N (N bytes, held until two /pair
 *     requests are in flight at once); it records the most requests in flight;
 *   - a "reset" server that accepts, reads the request and resets;
 *   - a "silent" server whose accept queue is full: connects never complete. */
#include "gx_server.h"

#include <stdatomic.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#define PROG evt_target("downloader")

/* ---- the slow HTTP server ------------------------------------------------------ */

static atomic_int inflight, max_inflight, pair_seen;
static int http_port;
static struct evhttp_request *pair_held;

struct pending {
    struct evhttp_request *req;
    size_t n;
};

static void send_body(struct evhttp_request *req, size_t n)
{
    struct evbuffer *b = evbuffer_new();
    char chunk[4096];
    for (size_t i = 0; i < sizeof chunk; i++)
        chunk[i] = (char)('A' + i % 23);
    for (size_t done = 0; done < n; done += sizeof chunk)
        evbuffer_add(b, chunk, n - done < sizeof chunk ? n - done : sizeof chunk);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
    atomic_fetch_sub(&inflight, 1);
}

static void on_slow_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct pending *p = arg;
    send_body(p->req, p->n);
    free(p);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct event_base *base = arg;
    const char *uri = evhttp_request_get_uri(req);
    int now = atomic_fetch_add(&inflight, 1) + 1;
    int m = atomic_load(&max_inflight);
    while (now > m && !atomic_compare_exchange_weak(&max_inflight, &m, now))
        ;
    unsigned long n, ms;
    if (sscanf(uri, "/bytes/%lu", &n) == 1) {
        send_body(req, n);
    } else if (sscanf(uri, "/pair/%lu", &n) == 1) {
        atomic_fetch_add(&pair_seen, 1);
        if (!pair_held) { /* the first of the two waits for the second */
            pair_held = req;
            return;
        }
        send_body(pair_held, n);
        pair_held = NULL;
        send_body(req, n);
    } else if (sscanf(uri, "/slow/%lu/%lu", &ms, &n) == 2) {
        struct pending *p = malloc(sizeof *p);
        p->req = req;
        p->n = n;
        struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
        event_base_once(base, -1, EV_TIMEOUT, on_slow_timer, p, &tv);
    } else {
        evhttp_send_error(req, 404, "not here");
        atomic_fetch_sub(&inflight, 1);
    }
}

static void *http_thread(void *arg)
{
    event_base_dispatch(arg);
    return NULL;
}

static void start_http(void)
{
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    cr_assert(base && http);
    evhttp_set_gencb(http, on_request, base);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    cr_assert(bs, "the test's HTTP server could not bind");
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len);
    http_port = ntohs(sin.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, http_thread, base);
    pthread_detach(th);
}

/* ---- the reset server and the silent server ------------------------------------ */

static void *reset_thread(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        char buf[1024];
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 2000) > 0)
            (void)!recv(fd, buf, sizeof buf, 0); /* the request, then RST */
        evt_reset_close(fd);
    }
    return NULL;
}

static int start_reset_server(void)
{
    int port, lfd = evt_listen(&port);
    cr_assert(lfd >= 0);
    pthread_t th;
    pthread_create(&th, NULL, reset_thread, (void *)(intptr_t)lfd);
    pthread_detach(th);
    return port;
}

/* A listener with a full accept queue: further connects hang in SYN_SENT. */
static int start_silent_server(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    cr_assert(bind(lfd, (struct sockaddr *)&sin, sizeof sin) == 0 && listen(lfd, 0) == 0 &&
              getsockname(lfd, (struct sockaddr *)&sin, &len) == 0);
    for (int i = 0; i < 3; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fd, (struct sockaddr *)&sin, sizeof sin); /* kept open: fills the queue */
    }
    gx_pause_ms(50);
    return ntohs(sin.sin_port);
}

static int closed_port(void)
{
    int port, fd = evt_listen(&port);
    close(fd);
    return port;
}

/* ---- running the downloader ----------------------------------------------------- */

static char urls[64][128];

static const char *url(int i, const char *fmt, int port, const char *path)
{
    snprintf(urls[i], sizeof urls[i], fmt, port, path);
    return urls[i];
}
#define LOCAL(i, path) url(i, "http://127.0.0.1:%d%s", http_port, path)

static struct evt_run run(const char *const argv[], double timeout_s)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, timeout_s), 0);
    return r;
}

/* The output line for URL u, or NULL. */
static const char *line_for(struct evt_run *r, const char *u)
{
    static char line[512];
    for (const char *s = r->out; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char a[8], b[256];
        if (n < sizeof line) {
            memcpy(line, s, n);
            line[n] = '\0';
            if (sscanf(line, "%7s %255s", a, b) == 2 && strcmp(b, u) == 0)
                return line;
        }
        s = nl ? nl + 1 : s + n;
    }
    return NULL;
}

static void expect_ok(struct evt_run *r, const char *u, int status, size_t bytes)
{
    char want[256];
    snprintf(want, sizeof want, "OK %s %d %zu", u, status, bytes);
    const char *l = line_for(r, u);
    cr_assert(l && strcmp(l, want) == 0,
              "expected the line \"%s\", got \"%s\". Whole output:\n%s\nstderr: %.300s", want,
              l ? l : "(no line for this URL)", gx_show(r->out, r->out_len), r->err);
}

static void expect_fail(struct evt_run *r, const char *u, const char *reason, const char *what)
{
    const char *l = line_for(r, u);
    cr_assert(
        l && strncmp(l, "FAIL ", 5) == 0 && strstr(l, reason),
        "%s: expected a line \"FAIL %s ...\" containing \"%s\", got \"%s\". Whole output:\n%s",
        what, u, reason, l ? l : "(no line for this URL)", gx_show(r->out, r->out_len));
}

/* Every test but t03 needs what the exercise is about (t03_concurrent): the
 * downloads overlap. Two /pair URLs, whose replies the server holds until both
 * requests are in flight at once: a downloader that starts each download only
 * after the previous one ends (the starter, seed 004's synchronous get-url)
 * waits for ever on the first, and is stopped after 4 s. Without this, the
 * untouched starter would pass every single-URL test. The check also keeps
 * hanging code to 4 s per test: "not run", with the reason. */
static void need_overlap(void)
{
    gx_step("the overlap check (two URLs whose replies wait for each other)");
    const char *a = LOCAL(60, "/pair/7"), *b = LOCAL(61, "/pair/8");
    struct evt_run r = run(EVT_ARGV(PROG, a, b), 4);
    int seen = atomic_load(&pair_seen);
    bool ok = !r.timed_out && seen == 2;
    char out[400];
    snprintf(out, sizeof out, "%s", gx_show(r.out, r.out_len));
    evt_run_free(&r);
    if (ok)
        return;
    if (seen == 1)
        cr_assert_fail("not run: needs t03_concurrent: with 2 URLs whose replies the test server "
                       "holds until both requests are in flight, your downloader sent the first "
                       "request and then waited for its reply before sending the second (stopped "
                       "after 4 s). Start every download before waiting for any: one event loop, "
                       "a bufferevent per URL. Output: %s",
                       out);
    cr_assert_fail("not run: needs t01_single: with 2 quick URLs the downloader %s within 4 s "
                   "(the server saw %d request(s)). Output: %s",
                   seen == 0 ? "sent no request" : "did not finish", seen, out);
}

/* ---- tests ---------------------------------------------------------------------------- */

GRADED(downloader, t01_single, 2, 10, "one URL: \"OK URL 200 BYTES\", exit 0")
{
    start_http();
    const char *u = LOCAL(0, "/bytes/1000");
    gx_step("one URL, /bytes/1000");
    struct evt_run r = run(EVT_ARGV(PROG, u), 5);
    cr_assert(!r.timed_out,
              "with one URL of 1000 bytes the downloader was still running after 5 s: stop the "
              "loop when the last download has finished. Output: %s",
              gx_show(r.out, r.out_len));
    expect_ok(&r, u, 200, 1000);
    cr_assert_eq(r.exit_code, 0, "every URL was OK, so the exit code must be 0, got %d",
                 r.exit_code);
    evt_run_free(&r);
    need_overlap();
}

GRADED(downloader, t02_status_and_big_body, 2, 15,
       "a 404 is reported with its status; a 3 MB body counts exactly")
{
    start_http();
    need_overlap();
    const char *a = LOCAL(0, "/nothing-here"), *b = LOCAL(1, "/bytes/3000000");
    struct evt_run r = run(EVT_ARGV(PROG, a, b), 12);
    const char *l = line_for(&r, a);
    cr_assert(l && strncmp(l, "OK ", 3) == 0 && strstr(l, " 404 "),
              "a 404 response is still a response: "
              "expected \"OK %s 404 BYTES\", got \"%s\"",
              a, l ? l : "(nothing)");
    expect_ok(&r, b, 200, 3000000);
    evt_run_free(&r);
}

GRADED(downloader, t03_concurrent, 5, 15,
       "5 URLs that each take 1 s: all 5 in flight, done in under 4 s")
{
    start_http();
    const char *u[5];
    for (int i = 0; i < 5; i++) {
        char path[64];
        snprintf(path, sizeof path, "/slow/1000/%d", 100 + i);
        u[i] = LOCAL(i, path);
    }
    struct evt_run r = run(EVT_ARGV(PROG, u[0], u[1], u[2], u[3], u[4]), 8);
    for (int i = 0; i < 5; i++)
        expect_ok(&r, u[i], 200, (size_t)(100 + i));
    int most = atomic_load(&max_inflight);
    cr_assert(
        most == 5,
        "the server saw at most %d request(s) in flight at once (want 5; the run took %.1f s): "
        "start every download before waiting for any (one event loop, a bufferevent per URL)",
        most, r.seconds);
    /* 1 s when they overlap, 5 s one after another: the bound sits between,
     * with room for a loaded grading machine. */
    cr_assert(r.seconds < 4.0,
              "5 downloads of 1 s each took %.1f s: they should overlap (about 1 s in all)",
              r.seconds);
    evt_run_free(&r);
}

GRADED(downloader, t04_fifty_urls, 2, 15, "50 URLs of 300 ms each, all OK within 3 s")
{
    start_http();
    need_overlap();
    const char *argv[60];
    int k = 0;
    argv[k++] = PROG;
    for (int i = 0; i < 50; i++) {
        char path[64];
        snprintf(path, sizeof path, "/slow/300/%d", i + 1);
        argv[k++] = LOCAL(i, path);
    }
    argv[k] = NULL;
    struct evt_run r = run(argv, 12);
    for (int i = 0; i < 50; i++)
        expect_ok(&r, urls[i], 200, (size_t)(i + 1));
    cr_assert(r.seconds < 3.0, "50 downloads of 300 ms took %.1f s", r.seconds);
    cr_assert_eq(r.exit_code, 0);
    evt_run_free(&r);
}

GRADED(downloader, t05_refused, 2, 10,
       "a refused URL: FAIL with the reason; the others are OK; exit 1")
{
    start_http();
    need_overlap();
    const char *a = LOCAL(0, "/bytes/10"),
               *b = url(1, "http://127.0.0.1:%d%s", closed_port(), "/x"),
               *c = LOCAL(2, "/slow/200/20");
    struct evt_run r = run(EVT_ARGV(PROG, a, b, c), 8);
    expect_fail(&r, b, "Connection refused", "nobody listens on that port");
    expect_ok(&r, a, 200, 10);
    expect_ok(&r, c, 200, 20);
    cr_assert_eq(r.exit_code, 1, "one URL failed, so the exit code must be 1, got %d", r.exit_code);
    evt_run_free(&r);
}

GRADED(downloader, t06_reset, 2, 10,
       "a server that resets: FAIL with the reason; the others are OK")
{
    start_http();
    need_overlap();
    const char *a = LOCAL(0, "/slow/300/30"),
               *b = url(1, "http://127.0.0.1:%d%s", start_reset_server(), "/r");
    struct evt_run r = run(EVT_ARGV(PROG, a, b), 8);
    expect_fail(&r, b, "reset", "the server read the request and reset the connection");
    expect_ok(&r, a, 200, 30);
    cr_assert_eq(r.exit_code, 1);
    evt_run_free(&r);
}

GRADED(downloader, t07_timeout, 2, 10,
       "--timeout-ms 500: a silent server gives FAIL \"timed out\"; others are OK")
{
    start_http();
    need_overlap();
    const char *a = url(0, "http://127.0.0.1:%d%s", start_silent_server(), "/never"),
               *b = LOCAL(1, "/slow/200/5");
    struct evt_run r = run(EVT_ARGV(PROG, "--timeout-ms", "500", a, b), 8);
    cr_assert(!r.timed_out,
              "with --timeout-ms 500 and a server that never answers, the downloader was still "
              "running after 8 s: set read and write timeouts on each bufferevent");
    expect_fail(&r, a, "timed out", "a connect that never completes, with --timeout-ms 500");
    expect_ok(&r, b, 200, 5);
    cr_assert(r.seconds < 3.0, "giving up after 500 ms took %.1f s", r.seconds);
    evt_run_free(&r);
}

GRADED(downloader, t08_errors_do_not_stop_others, 3, 15,
       "refused + reset + silent + bad URL + 2 slow OKs together: the OKs finish, all in < 3 s")
{
    start_http();
    need_overlap();
    const char *ok1 = LOCAL(0, "/slow/1000/11"), *ok2 = LOCAL(1, "/slow/1000/22"),
               *ref = url(2, "http://127.0.0.1:%d%s", closed_port(), "/a"),
               *rst = url(3, "http://127.0.0.1:%d%s", start_reset_server(), "/b"),
               *sil = url(4, "http://127.0.0.1:%d%s", start_silent_server(), "/c"),
               *bad = "not-a-url";
    struct evt_run r =
        run(EVT_ARGV(PROG, "--timeout-ms", "1500", ref, ok1, rst, bad, sil, ok2), 10);
    expect_ok(&r, ok1, 200, 11);
    expect_ok(&r, ok2, 200, 22);
    expect_fail(&r, ref, "refused", "refused");
    expect_fail(&r, rst, "reset", "reset");
    expect_fail(&r, sil, "timed out", "silent");
    expect_fail(&r, bad, "bad URL", "not a URL");
    cr_assert_eq(r.exit_code, 1);
    cr_assert(r.seconds < 3.0,
              "took %.1f s: the downloads (and the 1.5 s timeout) should all overlap", r.seconds);
    evt_run_free(&r);
}

GRADED(downloader, t09_usage, 1, 10, "no URL: exit 2 with a usage message")
{
    start_http();
    need_overlap();
    struct evt_run r = run(EVT_ARGV(PROG), 5);
    cr_assert(r.exit_code == 2 && r.err_len > 0,
              "with no URL: expected exit 2 and usage on stderr, got exit %d", r.exit_code);
    evt_run_free(&r);
}

GRADED(downloader, t10_memory, 1, 40,
       "no leak or memory error (valgrind/LSan) with OK and failed URLs")
{
    start_http();
    need_overlap();
    const char *a = LOCAL(0, "/bytes/5000"),
               *b = url(1, "http://127.0.0.1:%d%s", closed_port(), "/x"),
               *c = url(2, "http://127.0.0.1:%d%s", start_reset_server(), "/y");
    struct gx_mem m;
    if (!gx_mem_argv(&m, EVT_ARGV(PROG, a, b, c, "bad"), true))
        cr_skip_test("neither valgrind nor a sanitizer build is available");
    struct evt_run r;
    cr_assert_eq(evt_run(&r, m.argv, NULL, NULL, 30), 0);
    const char *rep = gx_mem_report(&m, r.err);
    cr_assert(r.exit_code == 1 && !strstr(rep, "definitely lost") && !strstr(rep, "Invalid "),
              "under %s: exit %d (want 1: some URLs fail)\n%s",
              m.valgrind ? "valgrind" : "the sanitizer", r.exit_code, rep);
    expect_ok(&r, a, 200, 5000);
    evt_run_free(&r);
}
