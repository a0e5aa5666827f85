/* judge.c -- from a suite's own word to a score.
 *
 * Before any of the submission's code runs, the grader asks the suite for its
 * tests and weights (EVLAB_LIST_TESTS=1, see tests/support/report.c). The
 * suite's verdict then comes through a pipe on fd 3. judge_merge() trusts the
 * list, not the verdict: every listed test scores its listed weight only if it
 * is reported PASS exactly once; a test missing, duplicated or never reported
 * scores 0; a test the list does not know is ignored and named as an error.
 * A suite that died or timed out still counts every test's weight in the max.
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

void tres_add(struct eres *e, const char *name, const char *status, int weight, double secs,
              const char *title, const char *msg)
{
    e->t = realloc(e->t, sizeof *e->t * (size_t)(e->nt + 1));
    struct tres *t = &e->t[e->nt++];
    t->name = strdup(name);
    t->status = strdup(status);
    t->weight = weight;
    t->secs = secs;
    t->title = strdup(title);
    /* report.c writes newlines as "\n" */
    struct buf m = {0};
    buf_add(&m, "", 0);
    for (const char *p = msg; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n') {
            buf_add(&m, "\n", 1);
            p++;
        } else {
            buf_add(&m, p, 1);
        }
    }
    t->msg = m.p;
}

void eres_free(struct eres *e)
{
    for (int i = 0; i < e->nt; i++) {
        free(e->t[i].name);
        free(e->t[i].status);
        free(e->t[i].title);
        free(e->t[i].msg);
    }
    free(e->t);
    buf_free(&e->err);
    buf_free(&e->notes);
}

/* Split `line` (modified) at tabs into at most `max` fields. */
static int split_tabs(char *line, char **f, int max)
{
    int nf = 0;
    for (char *p = line; nf < max;) {
        f[nf++] = p;
        char *tab = nf < max ? strchr(p, '\t') : NULL;
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    return nf;
}

int expect_parse(struct expect *x, const char *text)
{
    memset(x, 0, sizeof *x);
    char *copy = strdup(text ? text : "");
    for (char *line = copy; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *f[3] = {0};
        if (split_tabs(line, f, 3) == 3 && strstr(f[0], "::") && atoi(f[1]) >= 0 && x->n < 1000) {
            x->name = realloc(x->name, sizeof *x->name * (size_t)(x->n + 1));
            x->title = realloc(x->title, sizeof *x->title * (size_t)(x->n + 1));
            x->weight = realloc(x->weight, sizeof *x->weight * (size_t)(x->n + 1));
            x->name[x->n] = strdup(f[0]);
            x->title[x->n] = strdup(f[2]);
            x->weight[x->n] = atoi(f[1]);
            x->n++;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
    return x->n;
}

void expect_free(struct expect *x)
{
    for (int i = 0; i < x->n; i++)
        free(x->name[i]), free(x->title[i]);
    free(x->name);
    free(x->title);
    free(x->weight);
    memset(x, 0, sizeof *x);
}

void judge_merge(struct eres *e, const struct expect *x, const char *report, const char *tag,
                 const char *died)
{
    int *seen = calloc((size_t)x->n + 1, sizeof *seen);
    char **status = calloc((size_t)x->n + 1, sizeof *status);
    char **msg = calloc((size_t)x->n + 1, sizeof *msg);
    double *secs = calloc((size_t)x->n + 1, sizeof *secs);
    int invented = 0;
    char *copy = strdup(report ? report : "");
    for (char *line = copy; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *f[6] = {0};
        int nf = split_tabs(line, f, 6);
        int k = -1;
        for (int i = 0; nf >= 4 && i < x->n && k < 0; i++)
            if (strcmp(x->name[i], f[0]) == 0)
                k = i;
        if (k < 0 && nf >= 1 && *f[0]) {
            if (invented++ < 3) {
                char *c = clean_text(f[0], false);
                buf_printf(&e->err,
                           "%s%s%sthe report named a test the suite does not have (%.80s): "
                           "ignored\n",
                           tag ? "[" : "", tag ? tag : "", tag ? "] " : "", c);
                free(c);
            }
        } else if (k >= 0 && seen[k]++ == 0) {
            status[k] = strdup(f[1]);
            msg[k] = strdup(nf >= 6 ? f[5] : "");
            secs[k] = atof(f[3]);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
    for (int i = 0; i < x->n; i++) {
        char *name = tag ? xasprintf("%s [%s]", x->name[i], tag) : strdup(x->name[i]);
        const char *st = "FAIL";
        const char *m = "";
        char *own = NULL;
        if (seen[i] == 1 &&
            (strcmp(status[i], "PASS") == 0 || strcmp(status[i], "FAIL") == 0 ||
             strcmp(status[i], "CRASH") == 0 || strcmp(status[i], "TIMEOUT") == 0)) {
            st = status[i];
            m = msg[i];
        } else if (seen[i] > 1) {
            m = "the test was reported more than once: it scores 0";
        } else {
            own = xasprintf("the test never reported a result%s%s", died ? ": " : "",
                            died ? died : "");
            m = own;
        }
        tres_add(e, name, st, x->weight[i], secs[i], x->title[i], m);
        free(own);
        free(name);
        free(status[i]);
        free(msg[i]);
    }
    free(seen);
    free(status);
    free(msg);
    free(secs);
}

void eres_total(struct eres *e)
{
    e->score = e->max = 0;
    for (int i = 0; i < e->nt; i++) {
        e->max += e->t[i].weight;
        if (strcmp(e->t[i].status, "PASS") == 0)
            e->score += e->t[i].weight;
    }
}

/* ---- compiler output --------------------------------------------------------------- */

/* The compiler's first errors, with file:line, paths made relative to `strip`. */
void first_errors(const char *out, const char *strip, struct buf *b)
{
    int shown = 0, lines = 0;
    bool started = false;
    size_t sl = strip ? strlen(strip) : 0;
    for (const char *line = out; line && *line && lines < 24;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *l = strndup(line, len);
        bool diag =
            strstr(l, ": error:") || strstr(l, ": warning:") || strstr(l, "undefined reference");
        if (diag) {
            started = true;
            shown++;
        }
        if (started && shown <= 5 && strncmp(l, "make", 4) != 0 && strncmp(l, "cc1:", 4) != 0) {
            char *p = l;
            char *at;
            while (sl && (at = strstr(p, strip))) {
                buf_add(b, p, (size_t)(at - p));
                p = at + sl;
                if (*p == '/')
                    p++;
            }
            buf_printf(b, "%s\n", p);
            lines++;
        }
        free(l);
        line = nl ? nl + 1 : NULL;
    }
    if (!started) {
        size_t n = strlen(out);
        buf_printf(b, "%s", n > 2000 ? out + n - 2000 : out);
    }
}
