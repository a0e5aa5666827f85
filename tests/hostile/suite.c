/* suite.c -- the grading suite for the hostile corpus (exercise "00-hostile").
 *
 * One scored test: run $EVLAB_TARGET/hostile, expect "hello" on its stdout
 * and exit status 0. The program runs as the student's uid (evt_spawn_student),
 * as in every grading suite. It deliberately waits for the program without a limit of
 * its own (only Criterion's per-test timeout), so the grader's sandbox is what
 * has to contain whatever the program does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtest.h"
#include "grading.h"

GRADED(hostile, says_hello, 1, 3.0, "prints hello and exits 0")
{
    int pfd[2];
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    /* As every suite starts the student's code: as the student's uid. */
    pid_t pid =
        evt_spawn_student(EVT_ARGV(evt_target("hostile")), NULL, (const int[]){-1, pfd[1]}, 2);
    cr_assert(pid >= 0);
    close(pfd[1]);
    char out[4096];
    size_t len = 0;
    char sink[65536];
    for (;;) {
        ssize_t n = read(pfd[0], len < sizeof out - 1 ? out + len : sink,
                         len < sizeof out - 1 ? sizeof out - 1 - len : sizeof sink);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (len < sizeof out - 1)
            len += (size_t)n;
    }
    out[len] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st))
        cr_assert_fail("the program was killed by signal %d (SIG%s)", WTERMSIG(st),
                       sigabbrev_np(WTERMSIG(st)));
    cr_assert(strstr(out, "hello"), "expected 'hello' on stdout, got '%.60s'", out);
    cr_assert_eq(WEXITSTATUS(st), 0, "expected exit status 0, got %d", WEXITSTATUS(st));
}
