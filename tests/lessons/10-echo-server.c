/* Lesson 10: the claims of lessons/10-echo-server/README.md. seed_echo's real
 * failures, each shown on the real program; bufferevent_echo's EMFILE
 * handling; line_echo's framing; a real client (socat). The hostile-client
 * robustness tests of the fixed servers are in 10-echo-robustness.c. */
#include "10-echo-common.h"
#include <sys/syscall.h>

#define SEED "seed_echo"

/* ---- seed_echo: what works, and what does not ----------------------------------- */

Test(seed_echo, built_on_the_1_4_compat_api_and_echoes_short_text)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r,
                         EVT_ARGV("/bin/grep", "-c", "-e", "#include <event.h>", "-e", "event_set(",
                                  "-e", "event_base_set(", "lessons/10-echo-server/seed_echo.c"),
                         NULL, NULL, 5),
                 0);
    cr_assert_geq(atoi(r.out), 4, "seed_echo.c must use <event.h>, event_set, event_base_set");
    evt_run_free(&r);

    struct evs_server s;
    echo_start(&s, echo_prog(SEED), NULL, NULL);
    echo_once(s.port, "hello\n", 6); /* typed by hand, it "works" */
    evs_drain_off(&s);
    cr_assert(evt_wait_line(&s.p, "receive data:hello", 5), "%s", s.p.out);
    evs_free(&s);
}

Test(seed_echo, binary_data_is_cut_at_the_first_nul)
{
    struct evs_server s;
    echo_start(&s, echo_prog(SEED), NULL, NULL);
    int fd = evt_connect(s.port, 5);
    cr_assert_eq(evt_write_all(fd, "ab\0cd", 5, 5), 5);
    char back[8] = {0};
    cr_assert_eq(evt_read_n(fd, back, 2, 5), 2);
    cr_assert_eq(memcmp(back, "ab", 2), 0);
    /* The next reply is "next" itself: "\0cd" was never sent (strlen stopped at the NUL). */
    cr_assert_eq(evt_write_all(fd, "next", 4, 5), 4);
    cr_assert_eq(evt_read_n(fd, back, 4, 5), 4);
    cr_assert_eq(memcmp(back, "next", 4), 0, "got '%.4s': the bytes after the NUL must be lost",
                 back);
    close(fd);
    evs_free(&s);
}

/* The ASan build of seed_echo: build/asan's if this suite runs there, else a
 * copy compiled now with -fsanitize=address into a temporary directory.
 * Children are started from argument lists: pkg-config's words are split
 * here, no shell is involved. */
static const char *asan_seed(char *tmpdir)
{
    if (echo_sanitized())
        return echo_prog(SEED);
    strcpy(tmpdir, "/tmp/evlab-seed-asan-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    static char exe[256];
    snprintf(exe, sizeof exe, "%s/seed_echo", tmpdir);
    struct evt_run pc;
    cr_assert_eq(evt_run(&pc, EVT_ARGV("/usr/bin/pkg-config", "--cflags", "--libs", "libevent"),
                         NULL, NULL, 10),
                 0);
    if (pc.exit_code != 0)
        cr_skip_test("pkg-config libevent failed (%s)", pc.err);
    const char *argv[64] = {"/usr/bin/cc",
                            "-fsanitize=address",
                            "-fno-omit-frame-pointer",
                            "-g",
                            "-O1",
                            "-o",
                            exe,
                            "lessons/10-echo-server/seed_echo.c"};
    int n = 8;
    for (char *save = NULL, *w = strtok_r(pc.out, " \t\n", &save); w && n < 63;
         w = strtok_r(NULL, " \t\n", &save))
        argv[n++] = w;
    argv[n] = NULL;
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 60), 0);
    if (r.exit_code != 0)
        cr_skip_test("cannot build an ASan copy of seed_echo (%s)", r.err);
    evt_run_free(&r);
    evt_run_free(&pc);
    return exe;
}

static void rm_tmpdir(const char *tmpdir)
{
    if (!tmpdir[0])
        return;
    char exe[256];
    snprintf(exe, sizeof exe, "%s/seed_echo", tmpdir);
    unlink(exe);
    rmdir(tmpdir);
}

/* The bug is an over-READ, not an overflow by a write: recv() may fill all
 * 1024 bytes of the bzero'd buffer, leaving no NUL, and printf("%s") reads
 * on past its end (ASan: "READ of size 1025" in printf, called from
 * on_read). Any recv that fills the buffer does it: a 5000-byte message
 * trips it as surely as exactly 1024 bytes. */
static void seed_over_reads(const char *prog, size_t len)
{
    struct evs_server s;
    echo_start(&s, prog, NULL, NULL);
    static char msg[1024];
    memset(msg, 'A', sizeof msg);
    echo_once(s.port, msg, 1023); /* 1023 bytes: the bzero'd last byte ends it */
    cr_assert(evs_alive(&s), "1023 bytes must be fine");
    int fd = evt_connect(s.port, 5);
    for (size_t sent = 0; sent < len;) { /* len bytes of 'A', no NUL anywhere */
        size_t n = len - sent < sizeof msg ? len - sent : sizeof msg;
        if (evt_write_all(fd, msg, n, 5) != n)
            break; /* the server may already be gone */
        sent += n;
    }
    evs_drain_off(&s);
    int st = evt_wait_exit(&s.p, 20);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%zu bytes: ASan must stop the server (%#x)",
              len, st);
    cr_assert(strstr(s.p.err, "AddressSanitizer: heap-buffer-overflow"), "%s", s.p.err);
    cr_assert(strstr(s.p.err, "READ of size 1025"), "an over-read of the 1024-byte block:\n%s",
              s.p.err);
    cr_assert_null(strstr(s.p.err, "WRITE of size"), "nothing writes past the buffer:\n%s",
                   s.p.err);
    const char *pf = strstr(s.p.err, "printf"), *rd = strstr(s.p.err, "in on_read");
    cr_assert(pf && rd && pf < rd, "printf, called from on_read, does the reading:\n%s", s.p.err);
    close(fd);
    evs_free(&s);
}

Test(seed_echo, asan_over_read_whenever_recv_fills_the_buffer, .timeout = 120)
{
    char tmpdir[64] = "";
    const char *prog = asan_seed(tmpdir);
    seed_over_reads(prog, 1024);
    seed_over_reads(prog, 5000);
    rm_tmpdir(tmpdir);
}

Test(seed_echo, a_reset_mid_reply_kills_it_with_sigpipe)
{
    struct evs_server s;
    echo_start(&s, echo_prog(SEED), NULL, NULL);
    static char data[200000];
    for (size_t i = 0; i < sizeof data; i++) /* a NUL in every 1024 bytes: no overflow */
        data[i] = (i % 512 == 511) ? 0 : 'C';
    for (int i = 0; i < 10 && evs_alive(&s); i++) {
        int fd = evt_connect(s.port, 5);
        if (fd < 0)
            break;
        evt_write_all(fd, data, sizeof data, 5);
        char b;
        evt_read_n(fd, &b, 1, 5);
        evt_reset_close(fd); /* RST while it still sends */
        /* the next round trip (or its failure) tells us it handled the RST */
        int probe = evt_connect(s.port, 2);
        if (probe >= 0) {
            evt_write_all(probe, "p", 1, 2);
            evt_read_n(probe, &b, 1, 2);
            close(probe);
        }
    }
    evs_drain_off(&s);
    int st = evt_wait_exit(&s.p, 5);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE,
              "expected death by SIGPIPE (send to a reset peer, SIGPIPE not ignored); status %#x",
              st);
    evs_free(&s);
}

Test(seed_echo, a_client_that_reads_slowly_hangs_the_whole_server, .timeout = 30)
{
    struct evs_server s;
    echo_start(&s, echo_prog(SEED), NULL, NULL);
    int slow = evt_connect(s.port, 5);
    /* A big upload, not read yet, until 1 s without progress; then a ping
     * from another client. On a loaded machine the server may merely be
     * slow, so push more and ask again, a few rounds. */
    size_t pushed = 0;
    bool hung = false;
    int other = -1;
    for (int round = 0; round < 4 && !hung; round++) {
        pushed += echo_push_until_stall_for(slow, 64u << 20, 1.0);
        if (other >= 0)
            close(other);
        other = evt_connect(s.port, 5);
        cr_assert_eq(evt_write_all(other, "ping", 4, 2), 4);
        char b[4];
        hung = evt_read_n(other, b, 4, 2) == 0;
    }
    cr_assert_gt(pushed, 0);
    cr_assert(hung, "the server still answered other clients: it did not hang");
    /* /proc/PID/syscall: "running" when on a CPU or runnable, else the
     * syscall it waits in. A healthy idle server waits in epoll_wait. On a
     * busy machine a spinning process gets little CPU, so sample it. */
    char path[64], sc[128] = "";
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)s.p.pid);
    int running = 0, sending = 0;
    double c0 = evs_cpu_seconds(s.p.pid), t0 = evt_now();
    for (int i = 0; i < 10; i++) {
        poll(NULL, 0, 50);
        FILE *f = fopen(path, "r");
        if (!f || !fgets(sc, sizeof sc, f))
            sc[0] = '\0';
        if (f)
            fclose(f);
        if (strncmp(sc, "running", 7) == 0)
            running++;
        else if (atoi(sc) == SYS_sendto)
            sending++;
    }
    double cpu = evs_cpu_seconds(s.p.pid) - c0, wall = evt_now() - t0;
    bool spinning = running >= 5 || cpu > 0.2 * wall;
    bool in_send = sending >= 5;
    cr_assert(spinning || in_send,
              "neither spinning (%.2f s CPU in %.2f s, running in %d of 10 samples) nor blocked "
              "in send() (%d of 10)",
              cpu, wall, running, sending);
    if (spinning && access("/usr/bin/gdb", X_OK) == 0) { /* where it spins, if gdb can attach */
        char pid[16];
        snprintf(pid, sizeof pid, "%d", (int)s.p.pid);
        struct evt_run g;
        cr_assert_eq(
            evt_run(&g, EVT_ARGV("/usr/bin/gdb", "-p", pid, "-batch", "-ex", "bt"), NULL, NULL, 30),
            0);
        if (strstr(g.out, "#0 "))
            cr_assert(strstr(g.out, "evmap_io_active_") || strstr(g.out, "event_base_loop"),
                      "gdb backtrace:\n%s", g.out);
        evt_run_free(&g);
    }
    /* Reading now does not help: the echo never completes. */
    unsigned char *back = malloc(pushed);
    size_t got = evt_read_n(slow, back, pushed, 1);
    cr_assert_lt(got, pushed, "all %zu bytes came back", pushed);
    free(back);
    close(slow);
    close(other);
    evs_free(&s);
}

static void valgrind_seed_args(struct evs_server *s, const char *extra)
{
    if (echo_sanitized())
        cr_skip_test("runs in the normal build (valgrind and ASan do not mix)");
    if (access("/usr/bin/valgrind", X_OK) != 0)
        cr_skip_test("valgrind is not installed (Debian: apt-get install valgrind)");
    memset(s, 0, sizeof *s);
    const char *argv[] = {"/usr/bin/valgrind",
                          "-q",
                          "--leak-check=full",
                          echo_prog(SEED),
                          "--port",
                          "0",
                          extra,
                          NULL};
    cr_assert_eq(evt_spawn(&s->p, argv, NULL), 0);
    s->port = evt_wait_port(&s->p, 60);
    cr_assert_gt(s->port, 0, "%s", s->p.err);
    evs_drain_on(s);
}

static void valgrind_seed(struct evs_server *s) { valgrind_seed_args(s, NULL); }

/* The post says its FIRST version leaks on every call of on_read, and it
 * does: 50 polite round trips lose 50 struct events (write_ev). The final
 * version, below, loses nothing on the same client. */
Test(seed_echo, valgrind_first_version_leaks_one_event_per_message, .timeout = 60)
{
    struct evs_server s;
    valgrind_seed_args(&s, "--first-version");
    int fd = evt_connect(s.port, 5);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    for (int i = 0; i < 50; i++) {
        char b[6];
        cr_assert_eq(evt_write_all(fd, "hello\n", 6, 5), 6);
        cr_assert_eq(evt_read_n(fd, b, 6, 10), 6);
    }
    close(fd);
    evs_stop(&s, SIGTERM, 30);
    cr_assert(strstr(s.p.err, "in 50 blocks are definitely lost"),
              "one lost write_ev per message:\n%s", s.p.err);
    cr_assert(strstr(s.p.err, "on_read_v1"), "%s", s.p.err);
    evs_free(&s);
}

Test(seed_echo, valgrind_ping_pong_leaks_nothing_but_1024_bytes_over_read, .timeout = 60)
{
    struct evs_server s;
    valgrind_seed(&s);
    /* A client that waits for each echo: no buffer is lost. */
    int fd = evt_connect(s.port, 5);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    for (int i = 0; i < 200; i++) {
        char b[6];
        cr_assert_eq(evt_write_all(fd, "hello\n", 6, 5), 6);
        cr_assert_eq(evt_read_n(fd, b, 6, 10), 6);
    }
    static char a1024[1024]; /* no NUL in the buffer: over-reads */
    memset(a1024, 'A', sizeof a1024);
    cr_assert_eq(evt_write_all(fd, a1024, sizeof a1024, 5), sizeof a1024);
    cr_assert_geq(evt_read_n(fd, a1024, sizeof a1024, 10), 1);
    shutdown(fd, SHUT_WR);
    cr_assert(evt_wait_eof(fd, 10));
    close(fd);
    evs_stop(&s, SIGTERM, 30);
    cr_assert(strstr(s.p.err, "Invalid read"), "the reads past the 1024-byte buffer:\n%s", s.p.err);
    cr_assert(strstr(s.p.err, "printf") && strstr(s.p.err, "on_write"),
              "printf in on_read and strlen in on_write read past it:\n%s", s.p.err);
    cr_assert_null(strstr(s.p.err, "definitely lost"), "%s", s.p.err);
    evs_free(&s);
}

Test(seed_echo, valgrind_a_read_while_a_write_is_pending_leaks_the_buffer, .timeout = 120)
{
    /* Whether the server first blocks in send() or first reads again while
     * its write event is pending depends on timing: try up to three times. */
    bool leaked = false;
    char *last = NULL;
    for (int attempt = 0; attempt < 3 && !leaked; attempt++) {
        struct evs_server s;
        valgrind_seed(&s);
        int fd = evt_connect(s.port, 5);
        /* push until the server answers nobody (valgrind makes it slow) */
        for (int round = 0; round < 4; round++) {
            echo_push_until_stall_for(fd, 64u << 20, 1.0);
            int other = evt_connect(s.port, 5);
            char b[4];
            bool hung = other >= 0 && evt_write_all(other, "ping", 4, 2) == 4 &&
                        evt_read_n(other, b, 4, 2) == 0;
            if (other >= 0)
                close(other);
            if (hung)
                break;
        }
        evs_stop(&s, SIGTERM, 30);
        leaked = strstr(s.p.err, "definitely lost") && strstr(s.p.err, "on_read");
        free(last);
        last = strdup(s.p.err);
        close(fd);
        evs_free(&s);
    }
    cr_assert(leaked, "valgrind reported no buffer lost in on_read:\n%s", last);
    free(last);
}

/* ---- bufferevent_echo: running out of file descriptors ------------------------------ */

/* --max-fds 32, 60 clients: accept() fails with EMFILE. Returns the server's
 * "accept errors: N" after a 500 ms window and a shutdown. */
static unsigned long emfile_run(const char *pause_ms, char **err_out)
{
    struct evs_server s;
    echo_start(&s, echo_prog("bufferevent_echo"),
               EVT_ARGV("--max-fds", "32", "--emfile-pause-ms", pause_ms), NULL);
    enum { N = 60 };
    int fd[N];
    for (int i = 0; i < N; i++) {
        fd[i] = evt_connect(s.port, 5); /* the kernel's backlog accepts them all */
        cr_assert_geq(fd[i], 0);
    }
    poll(NULL, 0, 500); /* the window we observe */
    cr_assert(evs_alive(&s));
    for (int i = 0; i < N; i++)
        close(fd[i]);
    /* fds free again: the server accepts new clients */
    echo_once(s.port, "back\n", 5);
    int st = evs_stop(&s, SIGTERM, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    const char *line = strstr(s.p.out, "accept errors: ");
    cr_assert_not_null(line, "%s", s.p.out);
    unsigned long n = strtoul(line + strlen("accept errors: "), NULL, 10);
    *err_out = strdup(s.p.err);
    evs_free(&s);
    return n;
}

Test(bufferevent_echo, emfile_pauses_the_listener_instead_of_spinning, .timeout = 30)
{
    char *err;
    unsigned long n = emfile_run("100", &err);
    cr_assert_geq(n, 1, "the server never ran out of fds");
    cr_assert_leq(n, 30, "%lu accept errors in ~0.5 s with a 100 ms pause", n);
    cr_assert(strstr(err, "Too many open files: pausing accepts"), "%s", err);
    free(err);
}

Test(bufferevent_echo, emfile_without_a_pause_spins, .timeout = 30)
{
    char *err;
    unsigned long n = emfile_run("0", &err);
    /* the listening fd stays readable: the error callback runs again at once */
    cr_assert_geq(n, 1000, "only %lu accept errors: expected a busy loop", n);
    cr_assert(strstr(err, "listener left on"), "%s", err);
    free(err);
}

/* ---- line_echo: framing ------------------------------------------------------------------ */

static char *converse(int port, const char *send_, bool half_close, size_t *len)
{
    int fd = evt_connect(port, 5);
    cr_assert_geq(fd, 0);
    cr_assert_eq(evt_write_all(fd, send_, strlen(send_), 5), strlen(send_));
    if (half_close)
        shutdown(fd, SHUT_WR);
    char *all = evt_read_all(fd, len, 5);
    close(fd);
    return all;
}

Test(line_echo, upper_cases_each_line_crlf_or_lf)
{
    struct evs_server s;
    echo_start(&s, echo_prog("line_echo"), NULL, NULL);
    size_t n;
    char *r = converse(s.port, "hello World\r\nsecond line\n", true, &n);
    cr_assert_str_eq(r, "HELLO WORLD\nSECOND LINE\n");
    free(r);
    evs_free(&s);
}

Test(line_echo, rot13_knob)
{
    struct evs_server s;
    echo_start(&s, echo_prog("line_echo"), EVT_ARGV("--rot13"), NULL);
    size_t n;
    char *r = converse(s.port, "Hello, World!\n", true, &n);
    cr_assert_str_eq(r, "Uryyb, Jbeyq!\n");
    free(r);
    evs_free(&s);
}

Test(line_echo, a_line_split_into_single_bytes_is_answered_once_whole)
{
    struct evs_server s;
    echo_start(&s, echo_prog("line_echo"), NULL, NULL);
    int fd = evt_connect(s.port, 5);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    const char *line = "abc def\n";
    for (size_t i = 0; line[i]; i++) {
        cr_assert_eq(evt_write_all(fd, line + i, 1, 5), 1);
        if (line[i] != '\n') {
            struct pollfd pf = {fd, POLLIN, 0};
            cr_assert_eq(poll(&pf, 1, 50), 0, "a reply came before the end of the line");
        }
    }
    char back[9] = {0};
    cr_assert_eq(evt_read_n(fd, back, 8, 5), 8);
    cr_assert_str_eq(back, "ABC DEF\n");
    close(fd);
    evs_free(&s);
}

Test(line_echo, too_long_line_gets_a_clear_error_then_close)
{
    struct evs_server s;
    echo_start(&s, echo_prog("line_echo"), EVT_ARGV("--max-line", "16"), NULL);
    size_t n;
    char *r;
    int fd = evt_connect(s.port, 5);
    cr_assert_eq(evt_write_all(fd, "0123456789abcdef\n", 17, 5), 17);
    char back[18] = {0}; /* exactly 16 + "\n": fine */
    cr_assert_eq(evt_read_n(fd, back, 17, 5), 17);
    cr_assert_str_eq(back, "0123456789ABCDEF\n");
    close(fd);
    /* 17 bytes and no end of line yet: rejected without waiting for one */
    r = converse(s.port, "0123456789abcdefg", false, &n);
    cr_assert_str_eq(r, "error: line longer than 16 bytes; closing\n");
    free(r);
    /* a complete line that is too long: the same */
    r = converse(s.port, "ok\n0123456789abcdefghij\nnever\n", false, &n);
    cr_assert_str_eq(r, "OK\nerror: line longer than 16 bytes; closing\n");
    free(r);
    echo_once(s.port, "123\n", 4);
    evs_free(&s);
}

/* --max-line 8 accepts an 8-byte line even when its "\r" and "\n" arrive in
 * separate packets (9 bytes buffered with no complete line is not yet too
 * long), and still rejects 9 bytes, or a "\r" that turns out to be data. */
static void split_crlf(int port, const char *first, const char *second, const char *want)
{
    int fd = evt_connect(port, 5);
    cr_assert_geq(fd, 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    cr_assert_eq(evt_write_all(fd, first, strlen(first), 5), strlen(first));
    poll(NULL, 0, 200); /* let the server read the first packet on its own */
    evt_write_all(fd, second, strlen(second), 5); /* may fail: the server may have closed */
    shutdown(fd, SHUT_WR);                        /* EOF: the server answers, then closes */
    size_t len = 0;
    char *got = evt_read_all(fd, &len, 5);
    cr_assert_str_eq(got, want, "sent '%s' + '%s'", first, second);
    free(got);
    close(fd);
}

Test(line_echo, max_line_allows_crlf_split_across_packets)
{
    struct evs_server s;
    echo_start(&s, echo_prog("line_echo"), EVT_ARGV("--max-line", "8"), NULL);
    const char *too_long = "error: line longer than 8 bytes; closing\n";
    split_crlf(s.port, "abcdefgh\r", "\nbye\n", "ABCDEFGH\nBYE\n");
    split_crlf(s.port, "abcdefgh", "\r\nbye\n", "ABCDEFGH\nBYE\n");
    split_crlf(s.port, "abcdefghi\r", "\n", too_long);
    split_crlf(s.port, "abcdefgh\r", "X\n", too_long);
    cr_assert(evs_alive(&s));
    evs_free(&s);
}

Test(line_echo, half_close_answers_the_last_unterminated_line)
{
    struct evs_server s;
    echo_start(&s, echo_prog("line_echo"), NULL, NULL);
    size_t n;
    char *r = converse(s.port, "abc\ndef", true, &n);
    cr_assert_str_eq(r, "ABC\nDEF");
    free(r);
    evs_free(&s);
}

Test(line_echo, same_results_on_epoll_poll_select)
{
    const char *const *envs[] = {NULL, EVT_ENV("EVENT_NOEPOLL=1"),
                                 EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1")};
    const char *names[] = {"method: epoll", "method: poll", "method: select"};
    for (int b = 0; b < 3; b++) {
        struct evs_server s;
        echo_start(&s, echo_prog("line_echo"), EVT_ARGV("--rot13"), envs[b]);
        evs_drain_off(&s);
        cr_assert(strstr(s.p.out, names[b]), "%s", s.p.out);
        evs_drain_on(&s);
        size_t n;
        char *r = converse(s.port, "Uryyb\r\nabc\nxyz", true, &n);
        cr_assert_str_eq(r, "Hello\nnop\nklm", "[%s]", names[b]);
        free(r);
        evs_free(&s);
    }
}

/* ---- a real client from Debian: socat ------------------------------------------------------ */

static void socat_or_skip(void)
{
    if (access("/usr/bin/socat", X_OK) != 0)
        cr_skip_test("socat is not installed (Debian: apt-get install socat); "
                     "this test talks to the servers with it");
}

Test(socat, talks_to_line_echo_and_bufferevent_echo)
{
    socat_or_skip();
    struct evs_server s;
    echo_start(&s, echo_prog("line_echo"), NULL, NULL);
    char addr[64];
    snprintf(addr, sizeof addr, "TCP:127.0.0.1:%d", s.port);
    struct evt_run r;
    cr_assert_eq(
        evt_run(&r, EVT_ARGV("/usr/bin/socat", "-", addr), NULL, "hello from socat\nbye\n", 10), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert_str_eq(r.out, "HELLO FROM SOCAT\nBYE\n");
    evt_run_free(&r);
    evs_free(&s);

    echo_start(&s, echo_prog("bufferevent_echo"), NULL, NULL);
    snprintf(addr, sizeof addr, "TCP:127.0.0.1:%d", s.port);
    static char big[200001];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)('a' + i % 26);
    cr_assert_eq(evt_run(&r, EVT_ARGV("/usr/bin/socat", "-", addr), NULL, big, 10), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert_eq(r.out_len, sizeof big - 1, "socat got %zu of %zu bytes back", r.out_len,
                 sizeof big - 1);
    cr_assert_eq(memcmp(r.out, big, sizeof big - 1), 0);
    evt_run_free(&r);
    evs_free(&s);
}

/* ---- legacy_api: event_init/event_dispatch beside the 2.x calls ----------------------- */

Test(legacy_api, event_dispatch_runs_the_hidden_current_base)
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(echo_prog("legacy_api")), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 0, "%s\n%s", r.out, r.err);
    const char *order[] = {
        "1.4 event: callback ran (EV_READ)",
        "event_set() put the event on base #1; event_dispatch() returned 1",
        "event_set() put the new event on base #2, not on base #1",
        "base #1's loop returned 1: it has no events",
        "second 1.4 event: callback ran (EV_READ)",
        "event_dispatch() now runs base #2: returned 1",
        "2.x event: callback ran (EV_READ)",
        "event_base_dispatch(base) returned 1",
    };
    const char *at = r.out;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *next = strstr(at, order[i]);
        cr_assert(next, "'%s' missing or out of order:\n%s", order[i], r.out);
        at = next;
    }
    evt_run_free(&r);
}

/* ---- command lines ------------------------------------------------------------------------- */

Test(cli, help_bad_flags_and_method_for_all_four)
{
    struct evt_run lr;
    cr_assert_eq(evt_run(&lr, EVT_ARGV(echo_prog("legacy_api"), "--bogus"), NULL, NULL, 10), 0);
    cr_assert_eq(lr.exit_code, 2);
    evt_run_free(&lr);
    const char *progs[] = {SEED, "fixed_echo", "bufferevent_echo", "line_echo"};
    for (int i = 0; i < 4; i++) {
        struct evt_run r;
        cr_assert_eq(evt_run(&r, EVT_ARGV(echo_prog(progs[i]), "--help"), NULL, NULL, 10), 0);
        cr_assert_eq(r.exit_code, 0, "%s --help", progs[i]);
        cr_assert(strstr(r.out, "--port"), "%s", r.out);
        evt_run_free(&r);
        cr_assert_eq(evt_run(&r, EVT_ARGV(echo_prog(progs[i]), "--bogus"), NULL, NULL, 10), 0);
        cr_assert_eq(r.exit_code, 2, "%s --bogus", progs[i]);
        cr_assert(strstr(r.err, "usage:"), "%s", r.err);
        evt_run_free(&r);
        const char *bad_ports[] = {"http", "4294967297", "65536", "-1"};
        for (int k = 0; k < 4; k++) { /* rejected before any cast: 4294967297 is not port 1 */
            cr_assert_eq(
                evt_run(&r, EVT_ARGV(echo_prog(progs[i]), "--port", bad_ports[k]), NULL, NULL, 10),
                0);
            cr_assert_eq(r.exit_code, 2, "%s --port %s", progs[i], bad_ports[k]);
            cr_assert(strstr(r.err, "--port wants a whole number from 0 to 65535"), "%s", r.err);
            cr_assert_null(strstr(r.out, "listening on"), "%s", r.out);
            evt_run_free(&r);
        }
        if (i == 0)
            continue; /* the seed keeps its event_base_new() */
        cr_assert_eq(
            evt_run(&r, EVT_ARGV(echo_prog(progs[i]), "--method", "kqueue"), NULL, NULL, 10), 0);
        cr_assert_eq(r.exit_code, 2, "%s --method kqueue", progs[i]);
        cr_assert(strstr(r.err, "--method 'kqueue' is not a backend"), "%s", r.err);
        evt_run_free(&r);
        struct evs_server s;
        echo_start(&s, echo_prog(progs[i]), EVT_ARGV("--method", "select"), NULL);
        evs_drain_off(&s);
        cr_assert(strstr(s.p.out, "method: select"), "%s", s.p.out);
        evs_free(&s);
    }
}
