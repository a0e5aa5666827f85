/* grading.h -- how a grading suite declares a scored test.
 *
 *   GRADED(echo, binary_1mib, 3, 10.0, "echoes 1 MiB of random bytes exactly")
 *   { ... cr_assert(..., "expected %zu bytes back, got %zu", ...); }
 *
 * The weight and the human title travel in Criterion's description as
 * "w=3|title". The suite sends one line per test to the grader through the
 * verdict channel (report.c): a pipe on EVLAB_REPORT_FD that no program the
 * suite starts inherits. The grader takes the tests and weights from the
 * suite's own list, asked before the submission runs, so a line that a
 * submission manages to forge cannot invent a test or a weight.
 * A crash or a timeout costs only that test.
 *
 * graded_dlopen(path) loads a function-level exercise's shared object in the
 * test process, with no capabilities left (still the judge's uid, which the
 * runner needs), after loading it once as the student's uid in a throw-away
 * child: a library whose constructor ends the
 * process (exit(0) looks like a pass to Criterion) fails the test instead.
 */
#ifndef EVLAB_GRADING_H
#define EVLAB_GRADING_H

#include <criterion/criterion.h>
#include <dlfcn.h>

#include "evtest.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GRADED(suite, name, weight, timeout_s, title)                                              \
    Test(suite, name, .description = "w=" #weight "|" title, .timeout = (timeout_s))

static inline void *graded_dlopen(const char *path)
{
    /* The library is the student's code: the throw-away child loads it as the
     * student's uid; this test process keeps the judge's uid (Criterion's
     * runner must still hear from it) but gives up every capability first. */
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (evt_drop_to_student() != 0)
            _exit(99);
        alarm(10);
        _exit(dlopen(path, RTLD_NOW | RTLD_LOCAL) ? 97 : 98);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || (WEXITSTATUS(st) != 97 && WEXITSTATUS(st) != 98))
        cr_assert_fail("loading %s ended the process (%s %d) before any test ran: a library "
                       "must not exit, abort or crash when it is loaded",
                       path, WIFSIGNALED(st) ? "signal" : "exit status",
                       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    cr_assert_eq(evt_drop_caps(), 0, "cannot give up the judge's capabilities: %s",
                 strerror(errno));
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

#endif
