/* Grading suite for exercise 11 (a FIFO reader that re-opens and does not spin).
 * Program: fifo_reader PATH -- creates the FIFO, prints "waiting on PATH",
 * then "line: TEXT" per line; SIGINT/SIGTERM remove PATH and exit 0. */
#include "gx_server.h"

#define PROG evt_target("fifo_reader")

struct fx {
    char dir[64];
    char path[128];
    struct evt_proc p;
};

/* Start the reader and wait for "waiting on PATH": 5 s in t01, whose check
 * this is, and 3 s in every later test (generous for a line printed at start,
 * and hanging code then costs 3 s per test rather than 5). */
static double start_limit = 3;

static void fx_start(struct fx *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/evlab-fifo-XXXXXX");
    cr_assert(mkdtemp(f->dir), "mkdtemp failed");
    snprintf(f->path, sizeof f->path, "%s/in.fifo", f->dir);
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(evt_spawn(&f->p, EVT_ARGV(PROG, f->path), NULL), 0);
    if (!evt_wait_line(&f->p, "waiting on", start_limit)) {
        evt_stop(&f->p, SIGKILL, 1);
        cr_assert_fail(
            "fifo_reader %s never printed \"waiting on %s\" within %.0f s (print it once the FIFO "
            "is open and watched, and flush stdout). stdout: \"%s\", stderr: \"%s\"",
            f->path, f->path, start_limit, gx_show(f->p.out, f->p.out_len),
            gx_show(f->p.err, f->p.err_len));
    }
}

static void fx_free(struct fx *f)
{
    evt_proc_free(&f->p);
    unlink(f->path);
    rmdir(f->dir);
}

/* Open the FIFO for writing (retrying while the reader re-opens), write, close. */
static void fx_write(struct fx *f, const char *data, size_t n, bool close_after, int *keep)
{
    double deadline = evt_now() + 3;
    int fd;
    while ((fd = open(f->path, O_WRONLY | O_NONBLOCK)) < 0 && errno == ENXIO &&
           evt_now() < deadline)
        gx_pause_ms(5); /* ENXIO: no reader has it open at this instant */
    cr_assert(fd >= 0,
              "could not open the FIFO %s for writing within 3 s (%s): is the reader keeping it "
              "open (O_RDONLY|O_NONBLOCK), and re-opening it after a writer leaves?",
              f->path, strerror(errno));
    fcntl(fd, F_SETFL, 0);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        cr_assert(w > 0, "writing to the FIFO failed: %s", strerror(errno));
        done += (size_t)w;
    }
    if (close_after)
        close(fd);
    else
        *keep = fd;
}

static void fx_expect(struct fx *f, const char *line, const char *why)
{
    if (!evt_wait_line(&f->p, line, 3)) {
        evt_drain(&f->p, 0.1);
        cr_assert_fail("%s: expected the line \"%s\" within 3 s; the output so far:\n%s", why, line,
                       gx_show(f->p.out, f->p.out_len));
    }
}

GRADED(fifo, t01_prints_lines, 3, 10, "each line a writer sends is printed as \"line: TEXT\"")
{
    struct fx f;
    start_limit = 5;
    fx_start(&f);
    fx_write(&f, "hello\nworld\n", 12, true, NULL);
    fx_expect(&f, "line: world", "after a writer sent \"hello\\nworld\\n\"");
    const char *h = strstr(f.p.out, "line: hello\n"), *w = strstr(f.p.out, "line: world\n");
    cr_assert(h && w && h < w,
              "expected \"line: hello\" then \"line: world\", one per line; got:\n%s",
              gx_show(f.p.out, f.p.out_len));
    fx_free(&f);
}

GRADED(fifo, t02_split_writes, 2, 10, "a line written in two pieces is printed once, whole")
{
    struct fx f;
    fx_start(&f);
    int fd = -1;
    fx_write(&f, "hel", 3, false, &fd);
    gx_pause_ms(100);
    cr_assert_eq(write(fd, "lo\nnext\n", 8), 8);
    close(fd);
    fx_expect(&f, "line: next", "after \"hel\", a pause, then \"lo\\nnext\\n\"");
    cr_assert(
        strstr(f.p.out, "line: hello\n") && !strstr(f.p.out, "line: hel\n"),
        "a read returns whatever has arrived, not a line: collect bytes until \"\\n\". Output:\n%s",
        gx_show(f.p.out, f.p.out_len));
    fx_free(&f);
}

GRADED(fifo, t03_reopens_for_next_writer, 3, 10,
       "writers come and go: every writer's lines are printed")
{
    struct fx f;
    fx_start(&f);
    char line[64], want[64];
    for (int i = 0; i < 5; i++) {
        snprintf(line, sizeof line, "writer %d\n", i);
        fx_write(&f, line, strlen(line), true, NULL);
        snprintf(want, sizeof want, "line: writer %d", i);
        fx_expect(&f, want, "writers open, write and close one after another");
    }
    fx_free(&f);
}

GRADED(fifo, t04_last_line_without_newline, 2, 10,
       "a last line without \"\\n\" is printed when its writer closes")
{
    struct fx f;
    fx_start(&f);
    fx_write(&f, "one\nno newline", 14, true, NULL);
    fx_expect(&f, "line: no newline",
              "a writer sent \"one\\nno newline\" and closed the FIFO (EOF)");
    fx_free(&f);
}

GRADED(fifo, t05_long_line, 1, 10, "a 100000-byte line is printed whole")
{
    struct fx f;
    fx_start(&f);
    size_t n = 100000;
    char *data = malloc(n + 2);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    data[n] = '\n';
    data[n + 1] = '\0';
    fx_write(&f, data, n + 1, true, NULL);
    data[40] = '\0';
    char want[64];
    snprintf(want, sizeof want, "line: %s", data);
    double deadline = evt_now() + 3;
    const char *s;
    while (!((s = strstr(f.p.out, want)) && strchr(s, '\n')) && evt_now() < deadline)
        evt_drain(&f.p, 0.05);
    size_t got = 0;
    if (s)
        got = (size_t)(strchr(s, '\n') ? strchr(s, '\n') - s : (long)strlen(s)) - 6;
    cr_assert(got == n,
              "expected one line of %zu bytes, got %zu bytes in the first \"line: \" line: do not "
              "cut lines at your read buffer's size",
              n, got);
    free(data);
    fx_free(&f);
}

/* read() calls so far (syscr in /proc/PID/io), or -1. */
static long read_calls(pid_t pid)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    long n = -1;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "syscr: %ld", &n) == 1)
            break;
    fclose(fp);
    return n;
}

struct idle {
    long ticks, reads;
};

/* CPU ticks (1/100 s) and read() calls of the reader over 1 s. A process that
 * spins on a readable fd shows one or the other (some kernels and sandboxes
 * charge little CPU time to a loop of cheap system calls). */
static struct idle one_second(pid_t pid)
{
    long t0 = evs_cpu_ticks(pid), r0 = read_calls(pid);
    gx_pause_ms(1000);
    long t1 = evs_cpu_ticks(pid), r1 = read_calls(pid);
    struct idle i = {t0 < 0 || t1 < 0 ? 0 : t1 - t0, r0 < 0 || r1 < 0 ? 0 : r1 - r0};
    return i;
}

GRADED(fifo, t06_no_spin_without_writer, 4, 15,
       "no busy loop: idle before and after a writer (CPU and reads via /proc)")
{
    struct fx f;
    fx_start(&f);
    struct idle before = one_second(f.p.pid);
    fx_write(&f, "bye\n", 4, true, NULL);
    fx_expect(&f, "line: bye", "a writer sent \"bye\\n\" and closed");
    gx_pause_ms(100);
    struct idle after = one_second(f.p.pid);
    cr_assert(before.ticks < 20 && before.reads < 200,
              "with no writer yet, the reader used %ld%% of a CPU and "
              "called read() %ld times in one second: it should be asleep in the event loop",
              before.ticks, before.reads);
    cr_assert(after.ticks < 20 && after.reads < 200,
              "after the writer closed, the reader used %ld%% of a CPU and "
              "called read() %ld times in one second while nobody was writing: at EOF a FIFO stays "
              "readable "
              "and read() returns 0 again and again, so a persistent read event spins. Re-open the "
              "FIFO at "
              "EOF.",
              after.ticks, after.reads);
    fx_free(&f);
}

static void check_signal(int sig)
{
    struct fx f;
    fx_start(&f);
    fx_write(&f, "x\n", 2, true, NULL);
    fx_expect(&f, "line: x", "a writer sent \"x\\n\"");
    int st = evt_stop(&f.p, sig, 3);
    struct stat sb;
    bool gone = lstat(f.path, &sb) < 0 && errno == ENOENT;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "after %s the reader should exit 0, but %s %d",
              strsignal(sig), WIFEXITED(st) ? "it exited with" : "it was killed by signal",
              WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    cr_assert(gone, "after %s the FIFO %s is still there: remove it (unlink) before exiting",
              strsignal(sig), f.path);
    fx_free(&f);
}

GRADED(fifo, t07_sigterm_removes_fifo, 2, 10, "SIGTERM: the FIFO is removed, exit 0")
{
    check_signal(SIGTERM);
}

GRADED(fifo, t08_sigint_removes_fifo, 1, 10, "SIGINT: the FIFO is removed, exit 0")
{
    check_signal(SIGINT);
}

GRADED(fifo, t09_usage_and_errors, 1, 10,
       "no PATH: exit 2; PATH already a regular file: exit 1, file kept")
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(PROG), NULL, NULL, 3), 0);
    cr_assert(r.exit_code == 2 && r.err_len > 0,
              "with no argument: expected exit 2 and usage on stderr, got exit %d%s", r.exit_code,
              r.timed_out ? " (it was still running after 3 s)" : "");
    evt_run_free(&r);
    char dir[] = "/tmp/evlab-fifo-XXXXXX", path[64];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *fp = fopen(path, "w");
    fputs("keep me\n", fp);
    fclose(fp);
    cr_assert_eq(evt_run(&r, EVT_ARGV(PROG, path), NULL, NULL, 3), 0);
    struct stat sb;
    bool kept = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
    unlink(path);
    rmdir(dir);
    cr_assert(r.exit_code == 1 && r.err_len > 0,
              "PATH is an existing regular file: expected an error on "
              "stderr and exit 1, got exit %d%s",
              r.exit_code, r.timed_out ? " (it hung)" : "");
    cr_assert(
        kept,
        "PATH was an existing regular file and it is gone or changed: never remove what you did "
        "not create");
    evt_run_free(&r);
}

GRADED(fifo, t10_fd_leak, 1, 15, "no fd leak: 30 writers come and go")
{
    struct fx f;
    fx_start(&f);
    fx_write(&f, "warm\n", 5, true, NULL);
    fx_expect(&f, "line: warm", "first writer");
    int before = evt_count_fds(f.p.pid);
    char line[32], want[32];
    for (int i = 0; i < 30; i++) {
        snprintf(line, sizeof line, "w%d\n", i);
        fx_write(&f, line, strlen(line), true, NULL);
        snprintf(want, sizeof want, "line: w%d", i);
        fx_expect(&f, want, "writers one after another");
    }
    int after = evs_wait_fds(f.p.pid, before, 2);
    cr_assert(after <= before,
              "the reader had %d fds open after the first writer and %d after 30 more: "
              "close the old fd when you re-open the FIFO",
              before, after);
    fx_free(&f);
}

GRADED(fifo, t11_memory, 1, 40, "no leak or memory error (valgrind/LSan), exit 0 on SIGTERM")
{
    /* First without valgrind: a reader that never starts costs 3 s here, not
     * valgrind's 20 s. */
    struct fx probe;
    fx_start(&probe);
    evt_stop(&probe.p, SIGKILL, 1);
    fx_free(&probe);
    char dir[] = "/tmp/evlab-fifo-XXXXXX", path[64];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/in.fifo", dir);
    struct gx_mem m;
    if (!gx_mem_argv(&m, EVT_ARGV(PROG, path), true))
        cr_skip_test("neither valgrind nor a sanitizer build is available");
    struct fx f;
    memset(&f, 0, sizeof f);
    snprintf(f.dir, sizeof f.dir, "%s", dir);
    snprintf(f.path, sizeof f.path, "%s", path);
    cr_assert_eq(evt_spawn(&f.p, m.argv, NULL), 0);
    cr_assert(evt_wait_line(&f.p, "waiting on", 20),
              "under valgrind it never printed \"waiting on\"");
    for (int i = 0; i < 5; i++) {
        char line[32], want[32];
        snprintf(line, sizeof line, i == 4 ? "m%d\nrest" : "m%d\n", i);
        fx_write(&f, line, strlen(line), true, NULL);
        snprintf(want, sizeof want, "line: m%d", i);
        fx_expect(&f, want, "under valgrind");
    }
    gx_pause_ms(200);
    int st = evt_stop(&f.p, SIGTERM, 20);
    const char *rep = gx_mem_report(&m, f.p.err);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strstr(rep, "definitely lost") &&
                  !strstr(rep, "Invalid "),
              "under %s, after 5 writers and SIGTERM: %s %d\n%s",
              m.valgrind ? "valgrind" : "the sanitizer",
              WIFEXITED(st) ? "exit code" : "killed by signal",
              WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), rep);
    fx_free(&f);
}
