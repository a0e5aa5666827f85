/* formats.c -- the grader's reports: text, TAP 14, JUnit XML, Gradescope JSON.
 *
 * Everything that came from a submission (test messages, compiler output, the
 * tail of a suite's output) passes through clean_text(): control characters
 * and escape sequences become '?', so a program cannot clear the screen, move
 * the cursor or paint a fake score into `--format text`. Every report names
 * the sandbox that ran.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evlab.h"
#include "grade.h"

/* ---- not run ---------------------------------------------------------------------------- */

const char *g_build_rule;

bool tres_not_run(const struct tres *t)
{
    return strcmp(t->status, "PASS") != 0 && strncmp(t->msg, "not run: needs ", 15) == 0;
}

/* What a reader shows as the status: NOT RUN (the suite said "not run: needs
 * X") or the suite's own PASS/FAIL/CRASH/TIMEOUT. */
static const char *shown_status(const struct tres *t)
{
    return tres_not_run(t) ? "NOT RUN" : t->status;
}

void eres_not_run(struct eres *e, const struct expect *x, const char *needs)
{
    char *msg = xasprintf("not run: needs %s", needs);
    for (int i = 0; i < x->n; i++)
        tres_add(e, x->name[i], "FAIL", x->weight[i], 0, x->title[i], msg);
    free(msg);
}

/* The first test, in task order, that failed on its own (not "not run"). */
static const struct tres *first_failure(const struct eres *e)
{
    for (int i = 0; i < e->nt; i++)
        if (strcmp(e->t[i].status, "PASS") != 0 && !tres_not_run(&e->t[i]))
            return &e->t[i];
    return NULL;
}

static int count_not_run(const struct eres *e)
{
    int n = 0;
    for (int i = 0; i < e->nt; i++)
        n += tres_not_run(&e->t[i]);
    return n;
}

/* ---- report formats --------------------------------------------------------------------- */

/* Bytes that are not valid UTF-8 or are control characters become '?'. */
char *clean_text(const char *s, bool keep_newlines)
{
    struct buf b = {0};
    buf_add(&b, "", 0);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = *p < 0x80         ? 1
                  : (*p >> 5) == 6  ? 2
                  : (*p >> 4) == 14 ? 3
                  : (*p >> 3) == 30 ? 4
                                    : 0;
        bool ok = len > 0;
        for (int k = 1; ok && k < len; k++)
            ok = (p[k] & 0xC0) == 0x80;
        if (!ok) {
            buf_add(&b, "?", 1);
            p++;
        } else if (len == 1 && (*p < 0x20 || *p == 0x7f) &&
                   !(keep_newlines && (*p == '\n' || *p == '\t'))) {
            buf_add(&b, *p == '\n' ? " " : "?", 1);
            p++;
        } else if (len == 2 && p[0] == 0xC2 && p[1] < 0xA0) { /* C1 controls (8-bit CSI) */
            buf_add(&b, "?", 1);
            p += 2;
        } else {
            buf_add(&b, p, (size_t)len);
            p += len;
        }
    }
    return b.p;
}

static void put_json_str(FILE *f, const char *s)
{
    char *c = clean_text(s, true);
    fputc('"', f);
    for (const char *p = c; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else
            fputc(*p, f);
    }
    fputc('"', f);
    free(c);
}

static void put_xml(FILE *f, const char *s)
{
    char *c = clean_text(s, true);
    for (const char *p = c; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*p, f);
        }
    }
    free(c);
}

/* The whole failure text of a test (message + exercise-level error). */
static char *test_output(const struct eres *e, const struct tres *t)
{
    struct buf b = {0};
    buf_add(&b, "", 0);
    /* Tests that did not run share one cause (a build, say): its text goes
     * with the first of them only, so the compiler's output appears once. */
    const struct tres *first_nr = NULL;
    for (int i = 0; i < e->nt && !first_nr; i++)
        if (tres_not_run(&e->t[i]))
            first_nr = &e->t[i];
    if (strcmp(t->status, "PASS") != 0) {
        buf_printf(&b, "%s", t->msg[0] ? t->msg : t->status);
        if (e->err.len && (!tres_not_run(t) || t == first_nr))
            buf_printf(&b, "\n%s", e->err.p);
    }
    return b.p;
}

static void tap_line(FILE *f, const char *indent, bool ok, int num, const char *desc)
{
    char *c = clean_text(desc, false);
    fprintf(f, "%s%s %d - ", indent, ok ? "ok" : "not ok", num);
    for (const char *p = c; *p; p++) {
        if (*p == '#' || *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    fputc('\n', f);
    free(c);
}

static void tap_yaml(FILE *f, const char *indent, const char *msg, int score, int max,
                     const char *status)
{
    fprintf(f, "%s  ---\n%s  message: ", indent, indent);
    put_json_str(f, msg);
    if (status)
        fprintf(f, "\n%s  status: %s", indent, status);
    fprintf(f, "\n%s  score: %d\n%s  max_score: %d\n%s  ...\n", indent, score, indent, max, indent);
}

void report_tap(FILE *f, const struct eres *r, int n, const char *sandbox)
{
    fprintf(f, "TAP version 14\n1..%d\n", n);
    fprintf(f, "# sandbox: %s\n", sandbox);
    if (g_build_rule)
        fprintf(f, "# build: %s\n", g_build_rule);
    for (int i = 0; i < n; i++) {
        const struct eres *e = &r[i];
        fprintf(f, "# Subtest: %s\n", e->name);
        int count = e->nt ? e->nt : 1;
        fprintf(f, "    1..%d\n", count);
        for (int k = 0; k < e->nt; k++) {
            const struct tres *t = &e->t[k];
            bool ok = strcmp(t->status, "PASS") == 0;
            char *desc = xasprintf("%s: %s", t->name, t->title);
            tap_line(f, "    ", ok, k + 1, desc);
            free(desc);
            if (!ok) {
                /* "not ok", never "# SKIP" or "# TODO": both directives make a
                 * harness count the point as passed, and a test that did not
                 * run scores 0. The reason is in the diagnostic. */
                char *out = test_output(e, t);
                tap_yaml(f, "    ", out, 0, t->weight, tres_not_run(t) ? "not run" : "failed");
                free(out);
            }
        }
        if (!e->nt) {
            tap_line(f, "    ", false, 1, "grading");
            tap_yaml(f, "    ", e->err.len ? e->err.p : "no tests ran", 0, 0, NULL);
        }
        bool pass = e->nt && e->score == e->max && !e->err.len;
        char *desc = xasprintf("%s %d/%d", e->name, e->score, e->max);
        tap_line(f, "", pass, i + 1, desc);
        free(desc);
        if (!pass)
            tap_yaml(f, "", e->err.len ? e->err.p : "some tests failed", e->score, e->max, NULL);
    }
}

void report_junit(FILE *f, const struct eres *r, int n, const char *sandbox)
{
    int tests = 0, fails = 0;
    double secs = 0;
    for (int i = 0; i < n; i++) {
        tests += r[i].nt ? r[i].nt : 1;
        for (int k = 0; k < r[i].nt; k++)
            fails += strcmp(r[i].t[k].status, "PASS") != 0;
        if (!r[i].nt)
            fails++;
        secs += r[i].secs;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"evlab\" tests=\"%d\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n",
            tests, fails, secs);
    for (int i = 0; i < n; i++) {
        const struct eres *e = &r[i];
        int ef = 0;
        for (int k = 0; k < e->nt; k++)
            ef += strcmp(e->t[k].status, "PASS") != 0;
        fprintf(f, "  <testsuite name=\"");
        put_xml(f, e->name);
        fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n",
                e->nt ? e->nt : 1, e->nt ? ef : 1, e->secs);
        fprintf(f,
                "    <properties><property name=\"score\" value=\"%d\"/>"
                "<property name=\"max_score\" value=\"%d\"/><property name=\"sandbox\" value=\"",
                e->score, e->max);
        put_xml(f, sandbox);
        if (g_build_rule) {
            fprintf(f, "\"/><property name=\"build\" value=\"");
            put_xml(f, g_build_rule);
        }
        fprintf(f, "\"/></properties>\n");
        for (int k = 0; k < e->nt; k++) {
            const struct tres *t = &e->t[k];
            fprintf(f, "    <testcase classname=\"");
            put_xml(f, e->name);
            fprintf(f, "\" name=\"");
            put_xml(f, t->name);
            fprintf(f, "\" time=\"%.3f\"", t->secs);
            if (strcmp(t->status, "PASS") == 0) {
                fprintf(f, "/>\n");
                continue;
            }
            /* A test that did not run is a <failure type="NOT_RUN">, not
             * <skipped>: it scores 0, and CI readers count a skipped test as
             * nothing lost (a build that failed would show no failures). */
            char *out = test_output(e, t);
            fprintf(f, ">\n      <failure type=\"%s\" message=\"",
                    tres_not_run(t) ? "NOT_RUN" : t->status);
            put_xml(f, t->title);
            fprintf(f, "\">");
            put_xml(f, out);
            fprintf(f, "</failure>\n    </testcase>\n");
            free(out);
        }
        if (!e->nt) {
            fprintf(f, "    <testcase classname=\"");
            put_xml(f, e->name);
            fprintf(f, "\" name=\"grading\"><failure type=\"ERROR\" message=\"not graded\">");
            put_xml(f, e->err.len ? e->err.p : "no tests ran");
            fprintf(f, "</failure></testcase>\n");
        }
        if (e->notes.len) {
            fprintf(f, "    <system-out>");
            put_xml(f, e->notes.p);
            fprintf(f, "</system-out>\n");
        }
        fprintf(f, "  </testsuite>\n");
    }
    fprintf(f, "</testsuites>\n");
}

void report_gradescope(FILE *f, const struct eres *r, int n, double secs, const char *sandbox)
{
    int score = 0, max = 0;
    for (int i = 0; i < n; i++)
        score += r[i].score, max += r[i].max;
    fprintf(f, "{\n  \"score\": %d,\n  \"max_score\": %d,\n  \"execution_time\": %.0f,\n", score,
            max, secs < 1 ? 1 : secs);
    fprintf(f, "  \"visibility\": \"visible\",\n  \"stdout_visibility\": \"visible\",\n");
    struct buf all = {0};
    buf_add(&all, "", 0);
    buf_printf(&all, "sandbox: %s\n", sandbox);
    if (g_build_rule)
        buf_printf(&all, "build: %s\n", g_build_rule);
    for (int i = 0; i < n; i++) {
        buf_printf(&all, "%s: %d/%d\n", r[i].name, r[i].score, r[i].max);
        const struct tres *ff = first_failure(&r[i]);
        int nr = count_not_run(&r[i]);
        if (ff)
            buf_printf(&all, "  fix first: %s (%s)%s\n", ff->title, ff->name,
                       nr ? "; the tests marked \"not run\" need it" : "");
    }
    fprintf(f, "  \"output\": ");
    put_json_str(f, all.p);
    buf_free(&all);
    fprintf(f, ",\n  \"tests\": [");
    bool first = true;
    for (int i = 0; i < n; i++) {
        const struct eres *e = &r[i];
        for (int k = 0; k < e->nt || (k == 0 && !e->nt); k++) {
            fprintf(f, "%s\n    {", first ? "" : ",");
            first = false;
            char *name, *out;
            int sc = 0, mx = 0;
            bool ok = false;
            if (e->nt) {
                const struct tres *t = &e->t[k];
                /* Gradescope knows "passed" and "failed" only: a test that did
                 * not run is "failed" (0 points), its name and output say why. */
                name = xasprintf("%s: %s (%s)%s", e->name, t->title, t->name,
                                 tres_not_run(t) ? " [not run]" : "");
                out = test_output(e, t);
                ok = strcmp(t->status, "PASS") == 0;
                sc = ok ? t->weight : 0;
                mx = t->weight;
            } else {
                name = xasprintf("%s: grading", e->name);
                out = strdup(e->err.len ? e->err.p : "no tests ran");
            }
            if (e->notes.len) {
                char *more = xasprintf("%s%s%s", out, out[0] ? "\n" : "", e->notes.p);
                free(out);
                out = more;
            }
            fprintf(f, "\"name\": ");
            put_json_str(f, name);
            fprintf(f,
                    ", \"number\": \"%d.%d\", \"score\": %d, \"max_score\": %d, "
                    "\"status\": \"%s\", \"output\": ",
                    atoi(e->name), k + 1, sc, mx, ok ? "passed" : "failed");
            put_json_str(f, out);
            fprintf(f, ", \"visibility\": \"visible\"}");
            free(name);
            free(out);
        }
    }
    fprintf(f, "\n  ]\n}\n");
}

void report_text(FILE *f, const struct eres *r, int n, bool color, const char *sandbox)
{
    int score = 0, max = 0;
    fprintf(f, "sandbox: %s\n", sandbox);
    if (g_build_rule)
        fprintf(f, "build: %s\n", g_build_rule);
    for (int i = 0; i < n; i++) {
        print_text_exercise(f, &r[i], color);
        score += r[i].score;
        max += r[i].max;
    }
    fprintf(f, "total %d/%d\n", score, max);
}

/* ---- text report ------------------------------------------------------------------ */

/* Lines of `text` (from the submission: cleaned), each after `indent`. */
static void put_lines(FILE *f, const char *indent, const char *pre, const char *text,
                      const char *post)
{
    char *c = clean_text(text, true);
    for (const char *p = c; *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(f, "%s%s%.*s%s\n", indent, pre, len, p, post);
        p = nl ? nl + 1 : p + len;
    }
    free(c);
}

/* "not run: needs X" of a longer "not run: needs X (details)" or "...: details". */
static size_t cause_len(const char *msg)
{
    size_t n = strlen(msg);
    const char *ends[] = {" (", ": ", "\n"};
    for (int k = 0; k < 3; k++) {
        const char *p = strstr(msg + 15, ends[k]);
        if (p && (size_t)(p - msg) < n)
            n = (size_t)(p - msg);
    }
    return n;
}

void print_text_exercise(FILE *f, const struct eres *e, bool color)
{
    bool saved = g_color;
    g_color = color;
    bool pass = e->max > 0 && e->score == e->max && !e->err.len;
    fprintf(f, "%s%s%s  %s  %s%d/%d%s\n", col("1"), e->name, col("0"), e->title,
            col(pass ? "32" : "31"), e->score, e->max, col("0"));
    if (e->err.len) {
        fprintf(f, "%s", col("31"));
        put_lines(f, "    ", "", e->err.p, "");
        fprintf(f, "%s", col("0"));
    }
    for (int i = 0; i < e->nt; i++) {
        const struct tres *t = &e->t[i];
        bool ok = strcmp(t->status, "PASS") == 0;
        bool nr = tres_not_run(t);
        char *title = clean_text(t->title, false), *name = clean_text(t->name, false);
        fprintf(f, "  %s%-7s%s %2d/%-2d  %s  %s(%s)%s\n",
                col(ok   ? "32"
                    : nr ? "33"
                         : "31"),
                shown_status(t), col("0"), ok ? t->weight : 0, t->weight, title, col("2"), name,
                col("0"));
        free(title);
        free(name);
        /* Tests waiting on the same thing: its details once, then the cause. */
        size_t cl = nr ? cause_len(t->msg) : 0;
        bool again = false;
        for (int k = 0; nr && k < i && !again; k++)
            again = tres_not_run(&e->t[k]) && cause_len(e->t[k].msg) == cl &&
                    strncmp(e->t[k].msg, t->msg, cl) == 0;
        if (again) {
            char *cause = strndup(t->msg, cl);
            put_lines(f, "                 ", "", cause, " (as above)");
            free(cause);
        } else if (!ok && t->msg[0]) {
            put_lines(f, "                 ", "", t->msg, "");
        }
    }
    const struct tres *ff = first_failure(e);
    int nr = count_not_run(e);
    if (ff) {
        char *title = clean_text(ff->title, false), *name = clean_text(ff->name, false);
        fprintf(f, "  %sFix first:%s %s (%s), the first failure in task order%s\n", col("1"),
                col("0"), title, name,
                nr ? "; the tests marked NOT RUN need it and run again once it passes" : "");
        free(title);
        free(name);
    }
    if (e->notes.len) {
        char *pre = xasprintf("%snote: ", col("33"));
        put_lines(f, "  ", pre, e->notes.p, col("0"));
        free(pre);
    }
    g_color = saved;
}
