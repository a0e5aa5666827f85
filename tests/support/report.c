/* report.c -- write one line per test to $EVLAB_REPORT, for the grader.
 *
 * Line format (tab-separated, one test per line):
 *   suite::name  STATUS  weight  seconds  title  message
 * STATUS is PASS, FAIL, CRASH or TIMEOUT. Tabs and newlines inside the
 * message become spaces and "\n". Suites that are not graded get weight 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>

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

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    const char *path = getenv("EVLAB_REPORT");
    if (!path || !*path)
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    for (struct criterion_suite_stats *ss = stats->suites; ss; ss = ss->next) {
        for (struct criterion_test_stats *ts = ss->tests; ts; ts = ts->next) {
            const char *desc = ts->test->data->description;
            int weight = 1;
            const char *title = desc ? desc : "";
            if (desc && strncmp(desc, "w=", 2) == 0) {
                weight = atoi(desc + 2);
                const char *bar = strchr(desc, '|');
                title = bar ? bar + 1 : "";
            }
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
