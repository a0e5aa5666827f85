/* report.c -- the verdict channel between a grading suite and the grader.
 *
 * Line format (tab-separated, one test per line):
 *   suite::name  STATUS  weight  seconds  title  message
 * STATUS is PASS, FAIL, CRASH or TIMEOUT. Tabs and newlines inside the
 * message become spaces and "\n". Suites that are not graded get weight 1.
 *
 * Where the lines go:
 *   - EVLAB_REPORT_FD=N (how `evlab grade` and `evlab check` run a suite):
 *     fd N is a pipe to the grader. At start-up the suite marks it
 *     close-on-exec and removes the variable, so no program the suite starts
 *     inherits it; the suite also makes itself non-dumpable, so a process of
 *     the same uid can neither ptrace it nor open /proc/PID/fd/N.
 *   - EVLAB_REPORT=PATH (tools/check-exercises.sh, trusted code only): a file.
 * With EVLAB_LIST_TESTS=1 the suite writes one line per test it has,
 *   suite::name  weight  title
 * and exits before running any: the grader learns the tests and weights from
 * the suite itself, before the submission's code runs.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include "evtest.h"

static int report_fd = -1;

__attribute__((constructor)) static void report_channel_init(void)
{
    /* The runner found the channel and left EVLAB_JUDGE=1 for its test workers
     * (which Criterion starts by exec): every process of the suite is
     * non-dumpable, so the code it runs cannot ptrace it or read its memory. */
    const char *judge = getenv("EVLAB_JUDGE");
    if (judge && strcmp(judge, "1") == 0)
        prctl(PR_SET_DUMPABLE, 0);
    /* As the judge uid, of the capabilities the grader gave, only KILL stays
     * effective (evtest.h, evt_judge_caps); the rest wait in the permitted set. */
    evt_judge_caps(false);
    const char *v = getenv("EVLAB_REPORT_FD");
    if (!v || !*v)
        return;
    char *end;
    long fd = strtol(v, &end, 10);
    if (*end || fd < 3 || fd > 1023 || fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0)
        return;
    report_fd = (int)fd;
    unsetenv("EVLAB_REPORT_FD");
    setenv("EVLAB_JUDGE", "1", 1);
    prctl(PR_SET_DUMPABLE, 0);
}

static FILE *report_open(void)
{
    if (report_fd >= 0) {
        FILE *f = fdopen(report_fd, "w");
        report_fd = -1;
        return f;
    }
    const char *path = getenv("EVLAB_REPORT");
    if (!path || !*path)
        return NULL;
    return fopen(path, "w");
}

static void put_clean(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\n')
            fputs("\\n", f);
        else if (*s == '\t' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static int weight_of(const char *desc, const char **title)
{
    *title = desc ? desc : "";
    if (!desc || strncmp(desc, "w=", 2) != 0)
        return 1;
    const char *bar = strchr(desc, '|');
    *title = bar ? bar + 1 : "";
    return atoi(desc + 2);
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    const char *list = getenv("EVLAB_LIST_TESTS");
    if (!list || strcmp(list, "1") != 0)
        return;
    FILE *f = report_open();
    if (!f)
        f = stdout;
    for (struct criterion_ordered_set_node *n = set->suites->first; n; n = n->next) {
        struct criterion_suite_set *ss = (struct criterion_suite_set *)(void *)(n + 1);
        for (struct criterion_ordered_set_node *m = ss->tests ? ss->tests->first : NULL; m;
             m = m->next) {
            struct criterion_test *t = (struct criterion_test *)(void *)(m + 1);
            if (t->data->disabled)
                continue;
            const char *title;
            int w = weight_of(t->data->description, &title);
            fprintf(f, "%s::%s\t%d\t", t->category, t->name, w);
            put_clean(f, title);
            fputc('\n', f);
        }
    }
    fflush(f);
    _exit(0);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    FILE *f = report_open();
    if (!f)
        return;
    for (struct criterion_suite_stats *ss = stats->suites; ss; ss = ss->next) {
        for (struct criterion_test_stats *ts = ss->tests; ts; ts = ts->next) {
            const char *title;
            int weight = weight_of(ts->test->data->description, &title);
            const char *status = ts->timed_out                         ? "TIMEOUT"
                                 : ts->crashed                         ? "CRASH"
                                 : ts->test_status == CR_STATUS_PASSED ? "PASS"
                                                                       : "FAIL";
            if (ts->test_status == CR_STATUS_SKIPPED)
                continue;
            fprintf(f, "%s::%s\t%s\t%d\t%.2f\t", ts->test->category, ts->test->name, status, weight,
                    ts->elapsed_time);
            put_clean(f, title);
            fputc('\t', f);
            int first = 1;
            for (struct criterion_assert_stats *as = ts->asserts; as; as = as->next) {
                if (as->passed)
                    continue;
                if (!first)
                    fputs("\\n", f);
                put_clean(f, as->message);
                first = 0;
            }
            if (ts->crashed) {
                if (!first)
                    fputs("\\n", f);
                fprintf(f, "the test crashed (signal %d)", ts->signal);
            } else if (ts->timed_out) {
                if (!first)
                    fputs("\\n", f);
                fprintf(f, "timed out after %.1f s", ts->test->data->timeout);
            }
            fputc('\n', f);
        }
    }
    fclose(f);
}
