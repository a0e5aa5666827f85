/* Lesson 16: the backend bench runs, reports every backend with its interval
 * and the loop-pass control, writes its CSV, and refuses select past
 * FD_SETSIZE with a message; select_wall shows the abort is glibc's
 * __fdelt_chk and that libevent's select serves a large fd without it. No
 * timing is asserted: make bench measures, tests only check the method. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtest.h"

#define PROG evt_prog("lessons/16-backend-bench/backend_bench")
#define WALL evt_prog("lessons/16-backend-bench/select_wall")

Test(backend_bench, small_run_reports_all_three_backends_and_a_csv, .timeout = 120)
{
    char csv[] = "/tmp/evlab-bench-XXXXXX";
    int fd = mkstemp(csv);
    cr_assert_geq(fd, 0);
    close(fd);
    struct evt_run r;
    evt_run(&r, EVT_ARGV(PROG, "--fds", "10,50", "--rounds", "3", "--seed", "42", "--csv", csv),
            NULL, NULL, 60);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "epoll") && strstr(r.out, "poll") && strstr(r.out, "select"), "%s",
              r.out);
    cr_assert(strstr(r.out, "poll/epoll") && strstr(r.out, "select/epoll"), "ratios: %s", r.out);
    cr_assert(strstr(r.out, "seed 42"), "the seed is printed: %s", r.out);
    struct evt_run cat;
    evt_run(&cat, EVT_ARGV("/bin/cat", csv), NULL, NULL, 5);
    const char *header = "method,fds,active,writes,rounds,seed,cpu_us,cpu_lo,cpu_hi,wall_us,"
                         "loops_per_round,fds_scanned_per_round,ratio,ratio_lo,ratio_hi\n";
    cr_assert(strncmp(cat.out, header, strlen(header)) == 0, "%s", cat.out);
    /* 2 sizes x 3 backends */
    cr_assert_eq(evt_count(cat.out, "\n"), 7, "csv rows:\n%s", cat.out);
    /* the control: 1 active and 100 chained writes is 101 loop passes, and
     * poll passed 50 fds to the kernel on each of them */
    cr_assert(strstr(cat.out, "\npoll,50,1,100,3,42,"), "%s", cat.out);
    const char *row = strstr(cat.out, "\npoll,50,");
    double f[15];
    cr_assert_eq(sscanf(row + 1, "poll,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf",
                        &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10],
                        &f[11], &f[12], &f[13], &f[14]),
                 14, "%s", row);
    cr_assert(f[7] <= f[6] && f[6] <= f[8], "the median lies in its interval: %s", row);
    cr_assert_eq((int)f[10], 101, "loop passes per round: %s", row);
    cr_assert_eq((int)f[11], 101 * 50, "fds scanned per round: %s", row);
    unlink(csv);
    evt_run_free(&cat);
    evt_run_free(&r);
}

Test(backend_bench, hundred_active_needs_few_loop_passes, .timeout = 120)
{
    struct evt_run r;
    evt_run(&r, EVT_ARGV(PROG, "--fds", "200", "--active", "100", "--rounds", "3"), NULL, NULL, 60);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    /* "    200 poll   <cpu> [<lo>-<hi>]  <wall>  <loops>  <scanned> ..." */
    const char *row = strstr(r.out, "    200 poll ");
    cr_assert_not_null(row, "%s", r.out);
    double cpu, lo, hi, wall, loops;
    cr_assert_eq(sscanf(row, " 200 poll %lf [%lf-%lf] %lf %lf", &cpu, &lo, &hi, &wall, &loops), 5,
                 "%s", row);
    cr_assert(loops >= 2 && loops <= 20, "100 bytes at once are served in a few passes: %s", row);
    evt_run_free(&r);
}

Test(backend_bench, select_past_fd_setsize_is_skipped_not_aborted, .timeout = 120)
{
    struct evt_run r;
    /* 600 pairs = 1200 fds: beyond select's 1024 */
    evt_run(&r, EVT_ARGV(PROG, "--fds", "600", "--rounds", "1", "--writes", "10"), NULL, NULL, 120);
    cr_assert_eq(r.term_signal, 0, "crashed with signal %d: %s", r.term_signal, r.err);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "skipped (fd >= FD_SETSIZE)"), "%s", r.out);
    cr_assert(strstr(r.out, "FD_SETSIZE (1024)") && strstr(r.out, "__fdelt_chk"), "%s", r.out);
    cr_assert(strstr(r.out, "poll/epoll"), "epoll and poll still ran: %s", r.out);
    evt_run_free(&r);
}

Test(backend_bench, bad_arguments)
{
    struct evt_run r;
    evt_run(&r, EVT_ARGV(PROG, "--fds", "10,abc"), NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--fds wants a whole number"), "%s", r.err);
    cr_assert_eq(evt_count(r.out, "epoll/"), 0,
                 "nothing runs before the arguments are checked:\n%s", r.out);
    evt_run_free(&r);
    evt_run(&r, EVT_ARGV(PROG, "--rounds", "0"), NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 2, "%s", r.err);
    evt_run_free(&r);
    evt_run(&r, EVT_ARGV(PROG, "--help"), NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "--active") && strstr(r.out, "--seed"));
    evt_run_free(&r);
}

/* The abort happens in a child, and the parent says where it came from. */
Test(select_wall, the_abort_is_fortify_and_libevent_grows_its_sets, .timeout = 60)
{
    struct evt_run r;
    evt_run(&r, EVT_ARGV(WALL), NULL, NULL, 30);
    cr_assert_eq(r.exit_code, 0, "stdout: %s\nstderr: %s", r.out, r.err);
    cr_assert(strstr(r.out, "bit out of range 0 - FD_SETSIZE on fd_set"), "%s", r.out);
    cr_assert(strstr(r.out, "__fdelt_chk(1100) called from") && strstr(r.out, "libevent"), "%s",
              r.out);
    cr_assert(strstr(r.out, "child died of signal 6"), "%s", r.out);
    cr_assert(strstr(r.out, "select served fd 2406: read 'x'"), "%s", r.out);
    evt_run_free(&r);
}
