/* Lesson 16: the backend bench runs, reports every backend, and refuses
 * select past FD_SETSIZE with a message instead of glibc's abort. No timing
 * is asserted: make bench measures, tests only check the method. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evtest.h"

#define PROG evt_prog("lessons/16-backend-bench/backend_bench")

Test(backend_bench, small_run_reports_all_three_backends_and_a_csv)
{
    char csv[] = "/tmp/evlab-bench-XXXXXX";
    int fd = mkstemp(csv);
    cr_assert_geq(fd, 0);
    close(fd);
    struct evt_run r;
    evt_run(&r, EVT_ARGV(PROG, "--fds", "10,50", "--rounds", "3", "--csv", csv), NULL, NULL, 60);
    cr_assert_eq(r.exit_code, 0, "stderr: %s", r.err);
    cr_assert(strstr(r.out, "epoll") && strstr(r.out, "poll") && strstr(r.out, "select"), "%s",
              r.out);
    cr_assert(strstr(r.out, "poll/epoll") && strstr(r.out, "select/epoll"), "ratios: %s", r.out);
    struct evt_run cat;
    evt_run(&cat, EVT_ARGV("/bin/cat", csv), NULL, NULL, 5);
    cr_assert(strncmp(cat.out, "method,fds,active,writes,usec\n", 30) == 0, "%s", cat.out);
    /* 2 sizes x 3 backends */
    cr_assert_eq(evt_count(cat.out, "\n"), 7, "csv rows:\n%s", cat.out);
    cr_assert(strstr(cat.out, "select,50,1,100,"), "%s", cat.out);
    unlink(csv);
    evt_run_free(&cat);
    evt_run_free(&r);
}

Test(backend_bench, select_past_fd_setsize_is_skipped_not_aborted)
{
    struct evt_run r;
    /* 600 pairs = 1200 fds: beyond select's 1024 */
    evt_run(&r, EVT_ARGV(PROG, "--fds", "600", "--rounds", "1", "--writes", "10"), NULL, NULL, 120);
    cr_assert_eq(r.term_signal, 0, "crashed with signal %d: %s", r.term_signal, r.err);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "skipped"), "%s", r.out);
    cr_assert(strstr(r.out, "FD_SETSIZE (1024)"), "%s", r.out);
    cr_assert(strstr(r.out, "poll/epoll"), "epoll and poll still ran: %s", r.out);
    evt_run_free(&r);
}

Test(backend_bench, bad_arguments)
{
    struct evt_run r;
    evt_run(&r, EVT_ARGV(PROG, "--fds", "10,abc"), NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--fds needs a number"), "%s", r.err);
    cr_assert_eq(evt_count(r.out, "epoll/"), 0,
                 "nothing runs before the arguments are checked:\n%s", r.out);
    evt_run_free(&r);
    evt_run(&r, EVT_ARGV(PROG, "--help"), NULL, NULL, 10);
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "--active"));
    evt_run_free(&r);
}
