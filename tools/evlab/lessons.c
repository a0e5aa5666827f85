/* lessons.c -- list and show. (run is run.c, the tour tour.c, doctor doctor.c.) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int lesson_arg(int argc, char **argv, struct unit **les, int *idx)
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
