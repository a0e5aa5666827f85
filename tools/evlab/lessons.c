/* lessons.c -- list, show, run, tour and doctor. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "evlab.h"

/* ---- Markdown for the terminal ------------------------------------------------- */

/* Inline: **bold** and `code`; the markers go, the style stays (on a TTY). */
static void render_inline(const char *s, FILE *out)
{
    bool bold = false, code = false;
    for (; *s; s++) {
        if (!code && s[0] == '*' && s[1] == '*') {
            bold = !bold;
            fputs(bold ? col("1") : col("22"), out);
            s++;
        } else if (*s == '`') {
            code = !code;
            if (g_color)
                fputs(code ? col("36") : col("39"), out);
            else
                fputc('`', out);
        } else {
            fputc(*s, out);
        }
    }
    if (bold || code)
        fputs(col("0"), out);
}

void render_markdown(const char *text, FILE *out)
{
    char *copy = strdup(text);
    bool fenced = false, in_comment = false;
    for (char *line = copy; line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (in_comment || strncmp(line, "<!--", 4) == 0) {
            in_comment = strstr(line, "-->") == NULL;
        } else if (strncmp(line, "```", 3) == 0) {
            fenced = !fenced;
        } else if (fenced) {
            fprintf(out, "    %s%s%s\n", col("36"), line, col("0"));
        } else if (strncmp(line, "    ", 4) == 0) {
            fprintf(out, "    %s%s%s\n", col("36"), line + 4, col("0"));
        } else if (line[0] == '#') {
            int level = (int)strspn(line, "#");
            const char *h = line + level + strspn(line + level, " ");
            fprintf(out, "%s%s%s\n", col(level == 1 ? "1;4" : "1"), h, col("0"));
            if (!g_color) { /* underline the heading with plain characters */
                size_t w = 0;
                for (const char *p = h; *p; p++)
                    w += ((unsigned char)*p & 0xC0) != 0x80;
                for (size_t i = 0; i < w; i++)
                    fputc(level == 1 ? '=' : '-', out);
                fputc('\n', out);
            }
        } else {
            render_inline(line, out);
            fputc('\n', out);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
}

char *md_section(const char *text, const char *heading)
{
    size_t hl = strlen(heading);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, "## ", 3) == 0 && strncasecmp(p + 3, heading, hl) == 0) {
            const char *start = strchr(p, '\n');
            if (!start)
                return strdup("");
            start++;
            const char *end = strstr(start, "\n## ");
            return end ? strndup(start, (size_t)(end - start + 1)) : strdup(start);
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

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
static char *default_program(const struct unit *u, char **progs, int n)
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
static int build_lesson_program(const struct unit *u, const char *prog)
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

/* ---- tour ------------------------------------------------------------------------ */

/* An optional "<!-- evlab-tour: program args... -->" line in a README picks
 * what the tour runs (for lessons whose main program is a server). */
static char **tour_command(const struct unit *u, char **progs, int np, int *nargs)
{
    char *path = xasprintf("%s/README.md", u->dir);
    char *text = read_file(path, NULL);
    free(path);
    char **v = NULL;
    *nargs = 0;
    const char *m = text ? strstr(text, "<!-- evlab-tour:") : NULL;
    if (m) {
        m += strlen("<!-- evlab-tour:");
        const char *end = strstr(m, "-->");
        char *spec = end ? strndup(m, (size_t)(end - m)) : strdup(m);
        char *save = NULL;
        for (char *w = strtok_r(spec, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
            v = realloc(v, sizeof *v * (size_t)(*nargs + 1));
            v[(*nargs)++] = strdup(w);
        }
        free(spec);
    }
    if (!*nargs) {
        v = malloc(sizeof *v);
        v[0] = default_program(u, progs, np);
        *nargs = v[0] ? 1 : 0;
    }
    free(text);
    return v;
}

int cmd_tour(int argc, char **argv)
{
    struct unit *les;
    int n = find_units("lessons", &les);
    if (argc > 2)
        return free(les), err2("tour takes at most one lesson number");
    if (!n)
        return free(les), err2("there are no lessons yet");
    int start = 0;
    if (argc > 1) {
        start = pick_unit(argv[1], "lessons", les, n);
        if (start < 0)
            return free(les), 2;
    } else {
        char *last = state_get("tour.last");
        for (int i = 0; last && i < n; i++)
            if (strcmp(les[i].nn, last) == 0)
                start = i;
        if (last && start > 0)
            printf("%sResuming the tour at lesson %s%s (./evlab tour 01 starts over).\n", col("2"),
                   les[start].nn, col("0"));
        free(last);
    }
    bool tty = stdin_tty();
    /* Without a terminal nobody can press Enter or Ctrl-C: bound each program. */
    double timeout = tty ? 0 : 60;
    int rc = 0;
    for (int i = start; i < n; i++) {
        state_set("tour.last", les[i].nn);
        printf("\n%s━━ Lesson %s of %s: %s ━━%s\n\n", col("1;35"), les[i].nn, les[n - 1].nn,
               les[i].title, col("0"));
        show_lesson(&les[i]);
        char **progs;
        int np = list_programs(les[i].dir, &progs), nargs;
        char **cmd = tour_command(&les[i], progs, np, &nargs);
        if (nargs) {
            struct buf b = {0};
            for (int k = 1; k < nargs; k++)
                buf_printf(&b, "%s%s", k == 1 ? " -- " : " ", cmd[k]);
            printf("\n%s$ EVLAB_STEP=1 ./evlab run %s %s%s%s\n", col("1;32"), les[i].nn, cmd[0],
                   b.p ? b.p : "", col("0"));
            buf_free(&b);
            if (tty) {
                char *l = ask_line("[Enter: run it, s: skip this lesson, q: quit] ");
                if (!l || l[0] == 'q') {
                    free_names(cmd, nargs);
                    free_names(progs, np);
                    break;
                }
                if (l[0] != 's')
                    run_program(&les[i], cmd[0], cmd + 1, nargs - 1, timeout, true);
            } else {
                int code = run_program(&les[i], cmd[0], cmd + 1, nargs - 1, timeout, true);
                if (code != 0)
                    printf("%s(the program exited with status %d)%s\n", col("33"), code, col("0"));
            }
        }
        free_names(cmd, nargs);
        free_names(progs, np);
        if (i + 1 == n) {
            printf("\n%sThat was the last lesson. Next: ./evlab list, ./evlab check.%s\n", col("1"),
                   col("0"));
            state_set("tour.last", NULL);
        } else if (tty) {
            char *l = ask_line("\n[Enter: next lesson, q: quit] ");
            if (!l || l[0] == 'q') {
                state_set("tour.last", les[i + 1].nn);
                printf("The tour resumes at lesson %s next time.\n", les[i + 1].nn);
                break;
            }
        }
    }
    free(les);
    return rc;
}

/* ---- doctor ------------------------------------------------------------------------ */

/* First line of a command's output, or NULL if it failed. */
static char *first_line(const char *const *argv)
{
    struct proc_spec s = {.argv = argv,
                          .capture = true,
                          .cap_bytes = 4096,
                          .stdin_null = true,
                          .timeout_s = 10,
                          .own_pgrp = true};
    struct proc_result r;
    char *line = NULL;
    if (proc_run(&s, &r) == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && r.out) {
        /* Skip a wrapper script's own complaints ("/usr/bin/chromium: 9: [: ...",
         * on stderr, captured with stdout): a version line never starts with '/'. */
        char *p = r.out;
        while (*p == '/' && strchr(p, '\n'))
            p = strchr(p, '\n') + 1;
        p[strcspn(p, "\n")] = '\0';
        line = strdup(p);
    }
    proc_result_free(&r);
    return line;
}

static int missing;

static void report(const char *what, const char *found, const char *apt, const char *why)
{
    if (found) {
        printf("  %sok%s       %-16s %s\n", col("32"), col("0"), what, found);
    } else {
        missing++;
        printf("  %smissing%s  %-16s %s\n           fix: %s\n", col("31"), col("0"), what, why,
               apt);
    }
}

static char *fix_cmd(const char *debian, const char *brew)
{
    if (in_path("apt-get"))
        return xasprintf("%sapt-get install -y %s", getuid() == 0 ? "" : "sudo ", debian);
    if (in_path("brew"))
        return xasprintf("brew install %s", brew);
    return xasprintf("install the package %s (Debian name)", debian);
}

int cmd_doctor(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return err2("doctor takes no arguments");
    missing = 0;
    printf("%sevlab doctor%s (root: %s)\n", col("1"), col("0"), g_root);
    struct {
        const char *what, *const *argv, *debian, *brew, *why;
    } tools[] = {
        {"C compiler", (const char *const[]){"cc", "--version", NULL}, "gcc libc6-dev", "gcc",
         "builds every program"},
        {"make", (const char *const[]){"make", "--version", NULL}, "make", "make", "the build"},
        {"pkg-config", (const char *const[]){"pkg-config", "--version", NULL}, "pkg-config",
         "pkg-config", "finds libevent's flags"},
        {"libevent (dev)", (const char *const[]){"pkg-config", "--modversion", "libevent", NULL},
         "libevent-dev", "libevent", "the library every lesson uses"},
        {"libevent_pthreads",
         (const char *const[]){"pkg-config", "--modversion", "libevent_pthreads", NULL},
         "libevent-dev", "libevent", "the threads lesson"},
        {"criterion", (const char *const[]){"pkg-config", "--modversion", "criterion", NULL},
         "libcriterion-dev", "criterion", "the tests and the grader"},
        {"git", (const char *const[]){"git", "--version", NULL}, "git", "git", "evlab reset"},
        {"valgrind", (const char *const[]){"valgrind", "--version", NULL}, "valgrind", "valgrind",
         "leak checks in make check"},
        {"pandoc", (const char *const[]){"pandoc", "--version", NULL}, "pandoc", "pandoc",
         "slides and handouts"},
        {"chromium", (const char *const[]){"chromium", "--version", NULL}, "chromium", "chromium",
         "renders the slides in tests"},
        {"pdftoppm", (const char *const[]){"pdftoppm", "-v", NULL}, "poppler-utils", "poppler",
         "checks the handouts"},
        {"prove", (const char *const[]){"prove", "--version", NULL}, "perl", "perl",
         "checks the TAP output"},
        {"xmllint", (const char *const[]){"xmllint", "--version", NULL}, "libxml2-utils", "libxml2",
         "checks the JUnit output"},
        {"zip", (const char *const[]){"zip", "-v", NULL}, "zip", "zip", "make gradescope"},
        {"socat", (const char *const[]){"socat", "-V", NULL}, "socat", "socat",
         "talking to the servers by hand"},
    };
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        char *line = in_path(tools[i].argv[0]) ? first_line(tools[i].argv) : NULL;
        if (!line && in_path(tools[i].argv[0]) && strcmp(tools[i].argv[0], "pkg-config") != 0)
            line = strdup("(installed)");
        char *fix = fix_cmd(tools[i].debian, tools[i].brew);
        report(tools[i].what, line, fix, tools[i].why);
        free(fix);
        free(line);
    }
    /* The libevent this runner itself runs against. */
    printf("\n%slibevent in this process%s: %s\n", col("1"), col("0"), event_get_version());
    const char **m = event_get_supported_methods();
    printf("  backends: ");
    for (int i = 0; m && m[i]; i++)
        printf("%s%s", i ? ", " : "", m[i]);
    struct event_base *b = event_base_new();
    printf("\n  a default base picks: %s\n", b ? event_base_get_method(b) : "(none!)");
    if (b)
        event_base_free(b);
    printf("\n%s\n", missing ? "Some pieces are missing: run the fix commands above, or: make deps"
                             : "Everything is in place.");
    return missing ? 1 : 0;
}
