/* run.c -- evlab run NN [program] [--timeout S] [--step] [-- ARGS]: build one
 * lesson program and run it. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evlab.h"

/* The lesson's main program: the first program named in its README (as a whole
 * word), else the first in alphabetical order. */
char *default_program(const struct unit *u, char **progs, int n)
{
    char *path = xasprintf("%s/README.md", u->dir);
    char *text = read_file(path, NULL);
    free(path);
    const char *best = n ? progs[0] : NULL, *best_at = NULL;
    for (int i = 0; text && i < n; i++) {
        size_t len = strlen(progs[i]);
        for (const char *p = strstr(text, progs[i]); p; p = strstr(p + 1, progs[i])) {
            bool left = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
            bool right = !(isalnum((unsigned char)p[len]) || p[len] == '_');
            if (left && right) {
                if (!best_at || p < best_at)
                    best = progs[i], best_at = p;
                break;
            }
        }
    }
    free(text);
    return best ? strdup(best) : NULL;
}

/* Build build/lessons/NN-slug/prog with make; print the compiler's complaint. */
int build_lesson_program(const struct unit *u, const char *prog)
{
    char *target = xasprintf("%s/lessons/%s/%s", g_build, u->name, prog);
    const char *targets[] = {target};
    struct proc_result r;
    int rc = run_make(g_root, g_build, targets, 1, &r);
    if (rc != 0) {
        fprintf(stderr, "evlab: building %s failed:\n%s", target, r.out ? r.out : "");
    }
    proc_result_free(&r);
    free(target);
    return rc;
}

/* Run a lesson program on our terminal; returns its exit code. */
static int run_program(const struct unit *u, const char *prog, char **args, int nargs,
                       double timeout_s, bool step)
{
    if (build_lesson_program(u, prog) != 0)
        return 2;
    char *path = xasprintf("%s/%s/lessons/%s/%s", g_root, g_build, u->name, prog);
    const char **argv = calloc((size_t)nargs + 2, sizeof *argv);
    argv[0] = path;
    for (int i = 0; i < nargs; i++)
        argv[i + 1] = args[i];
    const char *env[] = {step ? "EVLAB_STEP=1" : NULL, NULL};
    struct proc_spec s = {.argv = argv, .env = env, .timeout_s = timeout_s, .grace_s = 2};
    struct proc_result r;
    int rc = proc_run(&s, &r);
    int code = rc < 0 ? 127 : status_to_exit(r.status);
    if (r.timed_out)
        fprintf(stderr, "evlab: %s timed out after %g s and was stopped\n", prog, timeout_s);
    else if (rc == 0 && !WIFEXITED(r.status) && !r.interrupted) {
        char d[96];
        fprintf(stderr, "evlab: %s %s\n", prog, describe_status(r.status, d, sizeof d));
    }
    proc_result_free(&r);
    free(argv);
    free(path);
    return code;
}

static double parse_seconds(const char *s, bool *ok)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    *ok = s && end != s && *end == '\0' && v > 0 && v < 1e6;
    return v;
}

int cmd_run(int argc, char **argv)
{
    struct unit *les;
    int i;
    if (lesson_arg(argc, argv, &les, &i))
        return free(les), 2;
    char **progs;
    int np = list_programs(les[i].dir, &progs);
    int a = 2;
    char *prog = NULL;
    double timeout = 0;
    bool step = false;
    int rc = 0;
    for (; a < argc; a++) {
        if (strcmp(argv[a], "--") == 0) {
            a++;
            break;
        } else if (strcmp(argv[a], "--timeout") == 0) {
            bool ok;
            timeout = parse_seconds(a + 1 < argc ? argv[++a] : NULL, &ok);
            if (!ok) {
                rc = err2("--timeout needs a number of seconds");
                goto done;
            }
        } else if (strcmp(argv[a], "--step") == 0) {
            step = true;
        } else if (argv[a][0] == '-') {
            rc = err2("unknown option '%s' for run (program flags go after --)", argv[a]);
            goto done;
        } else if (!prog) {
            prog = strdup(argv[a]);
        } else {
            rc = err2("run takes one program name; put its arguments after --");
            goto done;
        }
    }
    if (!np) {
        rc = err2("lesson %s has no programs", les[i].name);
        goto done;
    }
    if (prog) {
        bool found = false;
        for (int k = 0; k < np; k++)
            found = found || strcmp(progs[k], prog) == 0;
        if (!found) {
            struct buf b = {0};
            for (int k = 0; k < np; k++)
                buf_printf(&b, "%s%s", k ? ", " : "", progs[k]);
            rc = err2("lesson %s has no program '%s' (it has: %s)", les[i].nn, prog, b.p);
            buf_free(&b);
            goto done;
        }
    } else {
        prog = default_program(&les[i], progs, np);
    }
    rc = run_program(&les[i], prog, argv + a, argc - a, timeout, step);
done:
    free(prog);
    free_names(progs, np);
    free(les);
    return rc;
}
