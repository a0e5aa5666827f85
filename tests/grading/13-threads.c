/* Grading suite for exercise 13 (a dispatcher with N worker threads).
 * Program: worker_pool --port 0 [--workers N]; "listening on 127.0.0.1:PORT".
 * Each line L gets "worker K: L"; "sleep MS" blocks worker K for MS ms first.
 * Connections are handed to workers round robin. */
#include "gx_server.h"

#define PROG evt_target("worker_pool")

/* Every test needs the worker threads (the threads_exist test): without them
 * the starter's dispatcher answers on its own base, and a test would grade
 * the starter's echo rather than the student's workers. So each test first
 * checks that --workers N runs N+1 threads, and says "not run" otherwise. */
static void need_workers(struct evs_server *s, const char *workers)
{
    int want = atoi(workers) + 1, n = 0;
    for (double end = evt_now() + 1.0; (n = evs_threads(s->p.pid)) < want && evt_now() < end;)
        gx_pause_ms(20);
    if (n < want) {
        evs_stop(s, SIGKILL, 1);
        evs_free(s);
        cr_assert_fail(
            "not run: needs the worker threads (test t04_threads_exist): with --workers %s "
            "the process runs %d thread(s), not %d. Start one thread per worker, each "
            "with its own event base",
            workers, n, want);
    }
}

static void start(struct evs_server *s, const char *workers)
{
    gx_start(s, EVT_ARGV(PROG, "--port", "0", "--workers", workers));
    need_workers(s, workers);
}

/* Send one line on fd, read one reply line; return the worker id or -1. */
static int ask(int fd, const char *line, double timeout_s, char *reply, size_t replysz)
{
    char req[128];
    snprintf(req, sizeof req, "%s\n", line);
    reply[0] = '\0';
    if (evt_write_all(fd, req, strlen(req), 2) != strlen(req))
        return -1;
    size_t n = 0;
    double deadline = evt_now() + timeout_s;
    while (n < replysz - 1 && evt_now() < deadline) {
        if (evt_read_n(fd, reply + n, 1, deadline - evt_now()) != 1)
            break;
        if (reply[n++] == '\n')
            break;
    }
    reply[n] = '\0';
    int k;
    char rest[128];
    if (sscanf(reply, "worker %d: %127[^\n]", &k, rest) != 2 || strcmp(rest, line) != 0)
        return -1;
    return k;
}

GRADED(threads, t01_reply_names_worker, 2, 10, "a line gets \"worker K: line\" back")
{
    struct evs_server s;
    start(&s, "3");
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    char reply[256];
    int k = ask(fd, "hello there", 3, reply, sizeof reply);
    close(fd);
    cr_assert(k >= 0 && k < 3,
              "sent \"hello there\\n\" to a server with --workers 3: expected "
              "\"worker K: hello there\\n\" with K in 0..2, got \"%s\"",
              gx_show(reply, strlen(reply)));
    evs_free(&s);
}

GRADED(threads, t03_round_robin, 3, 10, "6 connections on 3 workers: each worker serves two")
{
    struct evs_server s;
    start(&s, "3");
    int fds[6], ids[6], count[3] = {0, 0, 0};
    char reply[256];
    for (int i = 0; i < 6; i++) {
        fds[i] = evt_connect(s.port, 3);
        cr_assert(fds[i] >= 0);
        ids[i] = ask(fds[i], "who", 3, reply, sizeof reply);
        cr_assert(ids[i] >= 0 && ids[i] < 3,
                  "connection %d: expected \"worker K: who\" with K in 0..2, got "
                  "\"%s\"",
                  i, gx_show(reply, strlen(reply)));
        count[ids[i]]++;
    }
    for (int i = 0; i < 6; i++)
        close(fds[i]);
    cr_assert(
        count[0] == 2 && count[1] == 2 && count[2] == 2,
        "6 connections (kept open) on --workers 3 were served by workers %d %d %d %d %d %d: hand "
        "each new connection to the next worker, round robin",
        ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]);
    evs_free(&s);
}

GRADED(threads, t02_one_worker_per_connection, 1, 10,
       "every line of a connection is served by the same worker")
{
    struct evs_server s;
    start(&s, "4");
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    char reply[256], line[32];
    int first = -1;
    for (int i = 0; i < 10; i++) {
        snprintf(line, sizeof line, "line %d", i);
        int k = ask(fd, line, 3, reply, sizeof reply);
        cr_assert(k >= 0, "line %d: got \"%s\"", i, gx_show(reply, strlen(reply)));
        if (first < 0)
            first = k;
        cr_assert_eq(k, first,
                     "the first line was served by worker %d, line %d by worker %d: a connection "
                     "belongs to one worker's base",
                     first, i, k);
    }
    close(fd);
    evs_free(&s);
}

GRADED(threads, t04_threads_exist, 2, 10, "--workers 4 runs at least 5 threads")
{
    struct evs_server s;
    gx_start(&s,
             EVT_ARGV(PROG, "--port", "0", "--workers", "4")); /* no need_workers(): this is it */
    int fd = evt_connect(s.port, 3);
    char reply[256];
    ask(fd, "hi", 3, reply, sizeof reply);
    int n = evs_threads(s.p.pid);
    close(fd);
    cr_assert(n >= 5,
              "with --workers 4 the process has %d thread(s): start one thread per worker (each "
              "running its own event_base) besides the dispatcher",
              n);
    evs_free(&s);
}

GRADED(threads, t05_workers_run_in_parallel, 4, 15,
       "while worker A sleeps 1.5 s, a client of another worker is answered at once")
{
    struct evs_server s;
    start(&s, "2");
    char reply[256];
    int a = evt_connect(s.port, 3);
    cr_assert(a >= 0);
    int ka = ask(a, "who", 3, reply, sizeof reply);
    cr_assert(ka >= 0, "got \"%s\"", gx_show(reply, strlen(reply)));
    int b = -1, kb = -1, tries[4] = {-1, -1, -1, -1};
    for (int i = 0; i < 4 && kb < 0; i++) {
        tries[i] = evt_connect(s.port, 3);
        int k = ask(tries[i], "who", 3, reply, sizeof reply);
        if (k >= 0 && k != ka) {
            b = tries[i];
            kb = k;
        }
    }
    cr_assert(kb >= 0,
              "4 more connections were all served by worker %d, the same as the first: "
              "connections must be spread over the workers",
              ka);
    cr_assert_eq(evt_write_all(a, "sleep 1500\n", 11, 1), 11);
    gx_pause_ms(100); /* let worker A start sleeping */
    double t0 = evt_now();
    int k = ask(b, "quick", 3, reply, sizeof reply);
    double dt = evt_now() - t0;
    cr_assert(
        k == kb && dt < 1.0,
        "worker %d is busy for 1.5 s (\"sleep 1500\"); a client of worker %d sent \"quick\" and "
        "got "
        "\"%s\" after %.2f s: each worker needs its own thread and its own event_base, so one busy "
        "worker cannot hold up the others",
        ka, kb, gx_show(reply, strlen(reply)), dt);
    char slept[64] = "";
    size_t want = strlen("worker 0: sleep 1500\n");
    size_t r = evt_read_n(a, slept, want, 4);
    cr_assert(r == want && strstr(slept, "sleep 1500"),
              "the sleeping worker never answered \"sleep 1500\" "
              "(got \"%s\")",
              gx_show(slept, r));
    close(a);
    for (int i = 0; i < 4; i++)
        if (tries[i] >= 0)
            close(tries[i]);
    evs_free(&s);
}

GRADED(threads, t06_one_byte_at_a_time, 1, 10, "a line sent one byte at a time")
{
    struct evs_server s;
    start(&s, "1");
    gx_check_one_byte(&s, "drip\n", "worker 0: drip\n");
    evs_free(&s);
}

GRADED(threads, t07_half_close, 1, 10, "half-close: replies still arrive, then the server closes")
{
    struct evs_server s;
    start(&s, "1");
    int fd = evt_connect(s.port, 3);
    cr_assert(fd >= 0);
    const char req[] = "one\ntwo\n", want[] = "worker 0: one\nworker 0: two\n";
    char got[128] = "";
    size_t w = 0, r = gx_duplex(fd, req, sizeof req - 1, got, sizeof want - 1, 4, &w, true);
    bool eof = evt_wait_eof(fd, 3);
    close(fd);
    cr_assert(r == sizeof want - 1 && memcmp(got, want, r) == 0,
              "sent \"one\\ntwo\\n\" then shutdown(SHUT_WR) "
              "on --workers 1: expected \"%s\", got \"%s\"",
              gx_show(want, sizeof want - 1), gx_show(got, r));
    cr_assert(
        eof,
        "after the client half-closed and got its replies, the server did not close within 3 s");
    evs_free(&s);
}

GRADED(threads, t08_reset_mid_reply, 1, 15, "clients that reset mid-reply do not kill the server")
{
    struct evs_server s;
    start(&s, "1");
    size_t n = 1 << 20;
    char *bulk = malloc(n);
    for (size_t i = 0; i < n; i += 8)
        memcpy(bulk + i, "abcdefg\n", 8);
    gx_check_reset(&s, bulk, n, 1000, "alive\n", "worker 0: alive\n");
    free(bulk);
    evs_free(&s);
}

GRADED(threads, t09_thousand_connections, 2, 20, "1000 connections open at once")
{
    struct evs_server s;
    start(&s, "1");
    gx_check_many(&s, 1000, "conn %d\n", "worker 0: conn %d\n");
    evs_free(&s);
}

GRADED(threads, t10_fd_leak, 2, 15, "no fd leak: 200 clients come and go")
{
    struct evs_server s;
    start(&s, "1");
    gx_check_fd_leak(&s, "fd\n", "worker 0: fd\n");
    evs_free(&s);
}

GRADED(threads, t11_memory_leak, 2, 60, "no leak per connection (valgrind/LSan), exit 0 on SIGTERM")
{
    struct evs_server s;
    start(&s, "1"); /* the workers first, outside valgrind */
    evs_stop(&s, SIGTERM, 3);
    evs_free(&s);
    const char req[] = "leak?\n";
    gx_check_memory(EVT_ARGV(PROG, "--port", "0", "--workers", "1"), true, 20, req, sizeof req - 1,
                    strlen("worker 0: leak?\n"));
}
