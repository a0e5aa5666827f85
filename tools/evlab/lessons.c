/* lessons.c -- list, show and run. (The tour is tour.c, doctor doctor.c.) */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "evlab.h"

/* ---- list ----------------------------------------------------------------------- */

int cmd_list(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return err2("list takes no arguments");
    struct unit *les, *ex;
    int nl = find_units("lessons", &les), ne = find_units("exercises", &ex);
    char *last = state_get("tour.last");
    printf("%sLessons%s  (./evlab show NN, ./evlab run NN, ./evlab tour)\n", col("1"), col("0"));
    if (!nl)
        printf("  (none yet)\n");
    for (int i = 0; i < nl; i++) {
        char *key = xasprintf("lesson.%s", les[i].name);
        char *seen = state_get(key);
        const char *mark = last && strcmp(last, les[i].nn) == 0 ? "  <- tour resumes here"
                           : seen                               ? "  seen"
                                                                : "";
        printf("  %s  %-40s%s%s%s\n", les[i].nn, les[i].title, col("2"), mark, col("0"));
        free(seen);
        free(key);
    }
    printf("\n%sExercises%s  (./evlab check NN, ./evlab hint NN)\n", col("1"), col("0"));
    if (!ne)
        printf("  (none yet)\n");
    int passed = 0;
    for (int i = 0; i < ne; i++) {
        char *key = xasprintf("exercise.%s", ex[i].name);
        char *st = state_get(key);
        const char *c = "0";
        char status[64] = "not started";
        if (st) {
            char word[32] = "", score[32] = "";
            sscanf(st, "%31s %31s", word, score);
            if (strcmp(word, "passed") == 0) {
                passed++;
                c = "32";
                snprintf(status, sizeof status, "passed %s", score);
            } else if (strcmp(word, "build-failed") == 0) {
                c = "31";
                snprintf(status, sizeof status, "does not build yet");
            } else {
                c = "33";
                snprintf(status, sizeof status, "in progress %s", score);
            }
        }
        /* Status first, in a fixed width: titles vary in length, statuses barely. */
        printf("  %s  %s%-18s%s  %s\n", ex[i].nn, col(c), status, col("0"), ex[i].title);
        free(st);
        free(key);
    }
    if (ne)
        printf("\n%d of %d exercises passed.\n", passed, ne);
    free(last);
    free(les);
    free(ex);
    return 0;
}

/* ---- show ------------------------------------------------------------------------ */

static int lesson_arg(int argc, char **argv, struct unit **les, int *idx)
{
    int n = find_units("lessons", les);
    *idx = pick_unit(argc > 1 ? argv[1] : NULL, "lessons", *les, n);
    return *idx < 0 ? 2 : 0;
}

static int show_lesson(const struct unit *u)
{
    char *path = xasprintf("%s/README.md", u->dir);
    char *text = read_file(path, NULL);
    free(path);
    if (!text)
        return err2("lesson %s has no README.md", u->name);
    render_markdown(text, stdout);
    free(text);
    char *key = xasprintf("lesson.%s", u->name);
    state_set(key, "seen");
    free(key);
    return 0;
}

int cmd_show(int argc, char **argv)
{
    struct unit *les;
    int i;
    if (lesson_arg(argc, argv, &les, &i))
        return free(les), 2;
    if (argc > 2)
        return free(les), err2("show takes one lesson number");
    int rc = show_lesson(&les[i]);
    free(les);
    return rc;
}

/* ---- run -------------------------------------------------------------------------- */

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
