/* Lesson 09: the claims of lessons/09-watermarks/README.md, checked on the
 * three real programs (each drives a real socketpair). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtest.h"

#define READ_WM evt_prog("lessons/09-watermarks/read_watermarks")
#define WRITE_WM evt_prog("lessons/09-watermarks/write_watermarks")
#define READLN evt_prog("lessons/09-watermarks/readln")

static struct evt_run run(const char *const argv[])
{
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, NULL, NULL, 15), 0);
    cr_assert_eq(r.exit_code, 0, "%s exited %d\nstdout:\n%s\nstderr:\n%s", argv[0], r.exit_code,
                 r.out, r.err);
    return r;
}

static long num_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    cr_assert(p, "'%s' not found in:\n%s", key, s);
    return strtol(p + strlen(key), NULL, 10);
}

/* The byte counts of every "read callback #k: N bytes" line, in order. */
static int callback_sizes(const char *s, long *sizes, int max)
{
    int n = 0;
    for (const char *p = strstr(s, "read callback #"); p && n < max;
         p = strstr(p + 1, "read callback #")) {
        const char *colon = strchr(p, ':');
        sizes[n++] = strtol(colon + 1, NULL, 10);
    }
    return n;
}

Test(read_watermarks, low_mark_delays_the_read_callback)
{
    struct evt_run r = run(EVT_ARGV(READ_WM));
    char *s = evt_step_section(r.out, 2);
    long sizes[32];
    int n = callback_sizes(s, sizes, 32);
    cr_assert_eq(n, 3, "low mark 25, 10-byte writes: 3 callbacks expected:\n%s", s);
    for (int i = 0; i < n; i++)
        cr_assert_eq(sizes[i], 30, "each callback sees 30 bytes:\n%s", s);
    cr_assert_eq(num_after(s, "for 100 bytes; "), 10, "10 bytes wait below the mark:\n%s", s);
    free(s);
    evt_run_free(&r);

    r = run(EVT_ARGV(READ_WM, "--read-low", "0"));
    s = evt_step_section(r.out, 2);
    n = callback_sizes(s, sizes, 32);
    cr_assert_eq(n, 10, "%s", s);
    for (int i = 0; i < n; i++)
        cr_assert_eq(sizes[i], 10, "%s", s);
    free(s);
    evt_run_free(&r);

    r = run(EVT_ARGV(READ_WM, "--read-low", "100"));
    s = evt_step_section(r.out, 2);
    n = callback_sizes(s, sizes, 32);
    cr_assert(n == 1 && sizes[0] == 100, "one callback with all 100 bytes:\n%s", s);
    free(s);
    evt_run_free(&r);
}

Test(read_watermarks, high_mark_stops_reading_and_the_kernel_fills)
{
    struct evt_run r = run(EVT_ARGV(READ_WM));
    char *s = evt_step_section(r.out, 3);
    long sent = num_after(s, "sender: wrote "), held = num_after(s, "input buffer: "),
         kernel = num_after(s, "still in the kernel: "), more = num_after(s, "tries again: ");
    cr_assert_eq(held, 4096, "the input buffer stops at the mark:\n%s", s);
    cr_assert_gt(sent, 4 * 4096, "the sender wrote far more than the mark:\n%s", s);
    cr_assert_eq(kernel, sent - held, "%s", s);
    cr_assert(more > 0 && more <= held,
              "the sender gets back no more room than the reader took:\n%s", s);
    free(s);
    s = evt_step_section(r.out, 4);
    cr_assert_eq(num_after(s, "input buffer has "), 4096, "draining restarts reading:\n%s", s);
    free(s);
    evt_run_free(&r);

    r = run(EVT_ARGV(READ_WM, "--read-high", "0"));
    s = evt_step_section(r.out, 3);
    sent = num_after(s, "sender: wrote ");
    cr_assert_eq(num_after(s, "input buffer: "), sent, "no limit: the buffer takes everything:\n%s",
                 s);
    cr_assert_eq(num_after(s, "still in the kernel: "), 0, "%s", s);
    free(s);
    evt_run_free(&r);

    r = run(EVT_ARGV(READ_WM, "--read-high", "100"));
    s = evt_step_section(r.out, 3);
    cr_assert_eq(num_after(s, "input buffer: "), 100, "%s", s);
    free(s);
    evt_run_free(&r);
}

Test(read_watermarks, callback_that_keeps_the_buffer_full_spins)
{
    struct evt_run r = run(EVT_ARGV(READ_WM));
    char *s = evt_step_section(r.out, 5);
    cr_assert_eq(num_after(s, "ran the read callback "), 1000, "%s", s);
    cr_assert(strstr(s, "bufferevent_disable(EV_READ) stops the spin"), "%s", s);
    /* Not one pass: the re-triggers are deferred callbacks, and event.c
     * queues at most MAX_DEFERREDS_QUEUED (32) + 1 of them per iteration; the
     * rest wait for the next one. 2.1.12 gives 34 calls per iteration (33
     * queued + 1 carried over), so 1000 calls need about 30 iterations. */
    long its = num_after(s, "over "), per = num_after(s, "iterations of the loop, at most ");
    cr_assert(its >= 25 && its <= 40, "about 30 iterations, not one pass:\n%s", s);
    cr_assert(per >= 32 && per <= 34, "at most 32 + 2 callbacks per iteration:\n%s", s);
    cr_assert_geq(its * per, 1000, "%s", s);
    cr_assert(strstr(s, "one event_base_loop(EVLOOP_NONBLOCK) call ran"), "%s", s);
    free(s);
    evt_run_free(&r);

    r = run(EVT_ARGV(READ_WM, "--read-high", "0"));
    s = evt_step_section(r.out, 5);
    cr_assert_eq(num_after(s, "ran the read callback "), 1, "no high mark, no spin:\n%s", s);
    cr_assert_eq(num_after(s, "at most "), 1, "%s", s);
    free(s);
    evt_run_free(&r);
}

/* Sizes in "write callback #k: N bytes" lines. */
static int write_sizes(const char *s, long *sizes, int max)
{
    int n = 0;
    for (const char *p = strstr(s, "write callback #"); p && n < max;
         p = strstr(p + 1, "write callback #"))
        sizes[n++] = strtol(strchr(p, ':') + 1, NULL, 10);
    return n;
}

Test(write_watermarks, low_mark_decides_when_the_write_callback_runs)
{
    struct evt_run r = run(EVT_ARGV(WRITE_WM, "--write-low", "0"));
    char *s = evt_step_section(r.out, 2);
    long sizes[256];
    int n = write_sizes(s, sizes, 256);
    cr_assert(n == 1 && sizes[0] == 0, "mark 0: once, when empty:\n%s", s);
    free(s);
    evt_run_free(&r);

    r = run(EVT_ARGV(WRITE_WM));
    s = evt_step_section(r.out, 2);
    n = write_sizes(s, sizes, 256);
    cr_assert_gt(n, 1, "mark 65536: several callbacks:\n%s", s);
    for (int i = 0; i < n; i++)
        cr_assert_leq(sizes[i], 65536, "never above the mark:\n%s", s);
    cr_assert_gt(sizes[0], 0, "the first one comes before the buffer is empty:\n%s", s);
    cr_assert_eq(sizes[n - 1], 0, "the last one at 0:\n%s", s);
    free(s);
    evt_run_free(&r);
}

Test(write_watermarks, write_high_mark_limits_nothing)
{
    struct evt_run r = run(EVT_ARGV(WRITE_WM));
    char *s = evt_step_section(r.out, 3);
    cr_assert_eq(num_after(s, "after bufferevent_write(100000 bytes): "), 100000, "%s", s);
    cr_assert(strstr(s, "all 100000 bytes arrived"), "%s", s);
    free(s);
    evt_run_free(&r);
}

/* The quoted lines the program printed, joined with '|'. */
static char *lines_of(const char *out)
{
    char *joined = calloc(1, strlen(out) + 1);
    for (const char *p = strstr(out, "   line "); p; p = strstr(p + 1, "   line ")) {
        const char *q = strchr(p, '"'), *end = strstr(q + 1, "\" (");
        if (joined[0])
            strcat(joined, "|");
        strncat(joined, q + 1, (size_t)(end - q - 1));
    }
    return joined;
}

static void expect_lines(const char *eol, const char *want, const char *rest)
{
    struct evt_run r = run(EVT_ARGV(READLN, "--eol", eol));
    char *got = lines_of(r.out);
    cr_assert_str_eq(got, want, "--eol %s:\n%s", eol, r.out);
    char tail[128];
    snprintf(tail, sizeof tail, "EOF: the unterminated rest is \"%s\"", rest);
    cr_assert(strstr(r.out, tail), "--eol %s: want %s\n%s", eol, tail, r.out);
    free(got);
    evt_run_free(&r);
}

Test(readln, each_eol_style_cuts_differently)
{
    expect_lines("lf", "alpha\\r|beta||gamma\\r\\r|delta\\0epsilon", "zeta");
    expect_lines("crlf", "alpha|beta||gamma\\r|delta\\0epsilon", "zeta");
    expect_lines("crlf_strict", "alpha|beta\\n\\ngamma\\r", "delta\\0epsilon\\nzeta");
    expect_lines("any", "alpha|beta|gamma|delta\\0epsilon", "zeta");
    expect_lines("nul", "alpha\\r\\nbeta\\n\\ngamma\\r\\r\\ndelta", "epsilon\\nzeta");
}

Test(readln, unterminated_last_line_stays_and_n_counts_nul)
{
    struct evt_run r = run(EVT_ARGV(READLN));
    cr_assert(strstr(r.out, "\"delta\\0epsilon\" (13 bytes)"), "n counts past the NUL:\n%s", r.out);
    cr_assert(strstr(r.out, "no complete line left; 4 bytes stay"), "%s", r.out);
    cr_assert(strstr(r.out, "(4 bytes, taken with evbuffer_remove)"), "%s", r.out);
    evt_run_free(&r);
    r = run(EVT_ARGV(READLN, "--eol", "crlf_strict"));
    cr_assert(strstr(r.out, "18 bytes stay"), "%s", r.out);
    evt_run_free(&r);
}

Test(watermarks, help_and_bad_arguments)
{
    const char *progs[] = {READ_WM, WRITE_WM, READLN};
    for (int i = 0; i < 3; i++) {
        evt_assert_usage(progs[i], EVT_ARGV("--step"));
    }
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV(READ_WM, "--read-low", "-3"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--read-low wants a whole number from 0 to 16777216"), "%s", r.err);
    evt_run_free(&r);
    cr_assert_eq(evt_run(&r, EVT_ARGV(READ_WM, "--read-high", "4294967296"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--read-high wants a whole number"), "%s", r.err);
    evt_run_free(&r);
    cr_assert_eq(evt_run(&r, EVT_ARGV(WRITE_WM, "--write-low", "lots"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--write-low wants a whole number"), "%s", r.err);
    evt_run_free(&r);
    cr_assert_eq(evt_run(&r, EVT_ARGV(READLN, "--eol", "cr"), NULL, NULL, 10), 0);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "unknown --eol 'cr'"), "%s", r.err);
    evt_run_free(&r);
}

Test(watermarks, step_mode_waits_for_enter_on_a_tty)
{
    struct evt_run r;
    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(READ_WM, "--step"), NULL, "\n\nq\n", 10), 0);
    cr_assert_eq(r.exit_code, 0, "%s", r.out);
    cr_assert(strstr(r.out, "== 3."), "%s", r.out);
    cr_assert_null(strstr(r.out, "sender: wrote"), "q must stop before step 3 runs:\n%s", r.out);
    evt_run_free(&r);
    cr_assert_eq(evt_run_pty(&r, EVT_ARGV(READLN, "--step"), NULL, "\nq\n", 10), 0);
    cr_assert(strstr(r.out, "== 2."), "%s", r.out);
    cr_assert_null(strstr(r.out, "line 1:"), "%s", r.out);
    evt_run_free(&r);
}
