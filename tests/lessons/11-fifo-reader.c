/* Lesson 11: the claims of lessons/11-fifo-reader/README.md, on the real
 * programs and a real FIFO. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtest.h"

#define READER evt_prog("lessons/11-fifo-reader/fifo_reader")
#define NAIVE evt_prog("lessons/11-fifo-reader/naive_fifo")

/* Start prog with args; return the FIFO path it printed (static). */
static const char *start(struct evt_proc *p, const char *const argv[], const char *const env[])
{
    static char path[PATH_MAX];
    cr_assert_eq(evt_spawn(p, argv, env), 0);
    const char *line = evt_wait_line(p, "fifo ready: ", 10);
    cr_assert_not_null(line, "no 'fifo ready' line.\nstdout: %s\nstderr: %s", p->out, p->err);
    snprintf(path, sizeof path, "%s", strstr(line, "fifo ready: ") + strlen("fifo ready: "));
    char *sp = strchr(path, ' ');
    if (sp)
        *sp = '\0';
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s should exist", path);
    cr_assert(S_ISFIFO(st.st_mode), "%s should be a FIFO", path);
    return path;
}

/* One writer: open (non-blocking: the reader is there), write, close. */
static void write_fifo(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open(%s, O_WRONLY): %s (is the reader there?)", path, strerror(errno));
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static unsigned long stat_of(const char *out, const char *key)
{
    const char *s = strstr(out, key);
    cr_assert_not_null(s, "no '%s' in:\n%s", key, out);
    return strtoul(s + strlen(key), NULL, 10);
}

static char tmp_path[PATH_MAX];
static const char *fresh_path(void)
{
    char dir[] = "/tmp/evlab-t11-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(tmp_path, sizeof tmp_path, "%s/my.fifo", dir);
    return tmp_path;
}
static void drop_dir_of(const char *path)
{
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", path);
    *strrchr(d, '/') = '\0';
    unlink(path);
    rmdir(d);
}

/* ---- fifo_reader ------------------------------------------------------------------ */

static void two_writers(const char *const env[], const char *method_line)
{
    struct evt_proc p;
    const char *path = start(&p, EVT_ARGV(READER), env);
    if (method_line)
        cr_assert(strstr(p.out, method_line), "%s", p.out);
    write_fifo(path, "hello\n");
    cr_assert_not_null(evt_wait_line(&p, "read 6 bytes: hello", 5), "%s", p.out);
    cr_assert_not_null(evt_wait_line(&p, "re-opened", 5), "%s", p.out);
    write_fifo(path, "again\n");
    cr_assert_not_null(evt_wait_line(&p, "read 6 bytes: again", 5), "%s", p.out);
    cr_assert_not_null(evt_wait_line(&p, "EOF: the last writer", 5), "%s", p.out);
    evt_drain(&p, 0.2); /* a spin would show up here */
    cr_assert_eq(evt_count(p.out, "EOF: the last writer"), 2, "one EOF per writer:\n%s", p.out);
    int st = evt_stop(&p, SIGINT, 5);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x; %s", st, p.err);
    cr_assert_eq(stat_of(p.out, "EOFs: "), 2);
    cr_assert_leq(stat_of(p.out, "callbacks: "), 6, "no busy loop:\n%s", p.out);
    cr_assert_eq(stat_of(p.out, ", bytes: "), 12);
    cr_assert_neq(access(path, F_OK), 0, "the FIFO %s must be gone after SIGINT", path);
    evt_proc_free(&p);
}

Test(fifo_reader, eof_once_per_writer_then_reopen_no_spin) { two_writers(NULL, "method: epoll"); }

Test(fifo_reader, same_on_poll_and_select)
{
    two_writers(EVT_ENV("EVENT_NOEPOLL=1"), "method: poll");
    two_writers(EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1"), "method: select");
}

/* EOF comes when the LAST writer closes: two writers open at once share one
 * EOF. (So `echo a > f; echo b > f` usually gives one read and one EOF: the
 * second open comes before the reader sees the first close.) */
static void overlapping_writers(const char *const env[])
{
    struct evt_proc p;
    const char *path = start(&p, EVT_ARGV(READER), env);
    int w1 = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    int w2 = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    cr_assert(w1 >= 0 && w2 >= 0, "open(%s, O_WRONLY): %s", path, strerror(errno));
    cr_assert_eq(write(w1, "a\n", 2), 2);
    cr_assert_not_null(evt_wait_line(&p, "read 2 bytes: a", 5), "%s", p.out);
    close(w1);
    evt_drain(&p, 0.5); /* an EOF here would be wrong: w2 is still open */
    cr_assert_null(strstr(p.out, "EOF"), "EOF while a writer was still open:\n%s", p.out);
    cr_assert_eq(write(w2, "b\n", 2), 2);
    cr_assert_not_null(evt_wait_line(&p, "read 2 bytes: b", 5), "%s", p.out);
    close(w2);
    cr_assert_not_null(evt_wait_line(&p, "EOF: the last writer", 5), "%s", p.out);
    evt_drain(&p, 0.2);
    int st = evt_stop(&p, SIGTERM, 5);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x; %s", st, p.err);
    cr_assert_eq(stat_of(p.out, "EOFs: "), 1, "two writers, one EOF:\n%s", p.out);
    cr_assert(strstr(p.out, "read 2 bytes: b") < strstr(p.out, "EOF: the last writer"), "%s",
              p.out);
    evt_proc_free(&p);
}

Test(fifo_reader, overlapping_writers_share_one_eof)
{
    overlapping_writers(NULL);
    overlapping_writers(EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1"));
}

Test(fifo_reader, no_writer_no_callback_and_sigterm_removes_fifo_and_temp_dir)
{
    struct evt_proc p;
    const char *path = start(&p, EVT_ARGV(READER), NULL);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    cr_assert(strstr(dir, "evlab-fifo-"), "default path is in a new temp dir: %s", path);
    evt_drain(&p, 0.2);
    int st = evt_stop(&p, SIGTERM, 5);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    cr_assert_eq(stat_of(p.out, "callbacks: "), 0, "no writer, no event:\n%s", p.out);
    cr_assert_neq(access(path, F_OK), 0, "%s must be gone", path);
    cr_assert_neq(access(dir, F_OK), 0, "%s must be gone", dir);
    evt_proc_free(&p);
}

Test(fifo_reader, exit_on_eof_stops_and_cleans_up)
{
    const char *want = fresh_path();
    struct evt_proc p;
    const char *path = start(&p, EVT_ARGV(READER, "--path", want, "--exit-on-eof"), NULL);
    cr_assert_str_eq(path, want);
    write_fifo(path, "bye\n");
    int st = evt_wait_exit(&p, 5);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x\n%s", st, p.out);
    cr_assert(strstr(p.out, "read 4 bytes: bye"), "%s", p.out);
    cr_assert_eq(stat_of(p.out, "EOFs: "), 1);
    cr_assert_neq(access(want, F_OK), 0, "%s must be gone", want);
    evt_proc_free(&p);
    drop_dir_of(want);
}

Test(fifo_reader, refuses_an_existing_file_and_leaves_it_alone)
{
    const char *path = fresh_path();
    FILE *f = fopen(path, "w");
    fputs("precious\n", f);
    fclose(f);
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(READER, "--path", path), NULL, NULL, 5), 0);
    cr_assert_eq(r.exit_code, 1, "%s", r.err);
    cr_assert(strstr(r.err, "mkfifo"), "%s", r.err);
    cr_assert_eq(access(path, F_OK), 0, "the existing file must not be removed");
    evt_run_free(&r);
    drop_dir_of(path);
}

/* ---- naive_fifo ---------------------------------------------------------------------- */

Test(naive_fifo, ignoring_eof_spins_until_it_stops_itself)
{
    struct evt_proc p;
    const char *path = start(&p, EVT_ARGV(NAIVE, "--watch-ms", "200"), NULL);
    write_fifo(path, "hello\n");
    int st = evt_wait_exit(&p, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    cr_assert(strstr(p.out, "read 6 bytes: hello"), "%s", p.out);
    unsigned long zeros = stat_of(p.out, "read() returned 0: ");
    cr_assert_geq(zeros, 100, "expected a busy loop after EOF, got %lu zero reads in 200 ms",
                  zeros);
    cr_assert(strstr(p.out, "a busy loop"), "%s", p.out);
    cr_assert_neq(access(path, F_OK), 0, "%s must be gone", path);
    evt_proc_free(&p);
}

Test(naive_fifo, blog_posts_o_rdwr_hides_eof)
{
    struct evt_proc p;
    const char *path = start(&p, EVT_ARGV(NAIVE, "--rdwr", "--watch-ms", "200"), NULL);
    write_fifo(path, "hello\n");
    int st = evt_wait_exit(&p, 10);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    cr_assert(strstr(p.out, "read 6 bytes: hello"), "%s", p.out);
    cr_assert_eq(stat_of(p.out, "read() returned 0: "), 0, "%s", p.out);
    cr_assert_eq(stat_of(p.out, "callbacks: "), 1, "%s", p.out);
    cr_assert(strstr(p.out, "no EOF at all"), "%s", p.out);
    evt_proc_free(&p);
}

Test(naive_fifo, sigint_before_any_writer_removes_fifo)
{
    struct evt_proc p;
    const char *path = start(&p, EVT_ARGV(NAIVE), NULL);
    int st = evt_stop(&p, SIGINT, 5);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    cr_assert_neq(access(path, F_OK), 0, "%s must be gone", path);
    evt_proc_free(&p);
}

/* ---- command lines ------------------------------------------------------------------- */

Test(cli, help_and_bad_flags)
{
    const char *progs[] = {READER, NAIVE};
    for (int i = 0; i < 2; i++) {
        struct evt_run r;
        cr_assert_eq(evt_run(&r, EVT_ARGV(progs[i], "--help"), NULL, NULL, 5), 0);
        cr_assert_eq(r.exit_code, 0);
        cr_assert(strstr(r.out, "--path"), "%s", r.out);
        evt_run_free(&r);
        cr_assert_eq(evt_run(&r, EVT_ARGV(progs[i], "--bogus"), NULL, NULL, 5), 0);
        cr_assert_eq(r.exit_code, 2);
        cr_assert(strstr(r.err, "usage:"), "%s", r.err);
        evt_run_free(&r);
    }
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(NAIVE, "--watch-ms", "soon"), NULL, NULL, 5), 0);
    cr_assert_eq(r.exit_code, 2);
    evt_run_free(&r);
    cr_assert_eq(evt_run(&r, EVT_ARGV(NAIVE, "--watch-ms", "4294967496"), NULL, NULL, 5), 0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--watch-ms wants a whole number from 1 to 60000"), "%s", r.err);
    evt_run_free(&r);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(evt_run(&r, EVT_ARGV(progs[i], "--method", "kqueue"), NULL, NULL, 5), 0);
        cr_assert_eq(r.exit_code, 2, "%s", r.err);
        cr_assert(strstr(r.err, "--method 'kqueue' is not a backend"), "%s", r.err);
        cr_assert_null(strstr(r.out, "fifo ready"), "%s", r.out);
        evt_run_free(&r);
    }
}
