/* course.c -- lessons and exercises are whatever NN-slug folders exist; the
 * state file remembers progress (key value lines, rewritten atomically). */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evlab.h"

static int cmp_unit(const void *a, const void *b)
{
    return strcmp(((const struct unit *)a)->name, ((const struct unit *)b)->name);
}

static bool nn_slug(const char *s)
{
    return isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && s[2] == '-' && s[3];
}

/* "# 01 · Supported methods" -> "Supported methods" */
static void title_from_readme(const char *dir, char *title, size_t len)
{
    char *path = xasprintf("%s/README.md", dir);
    char *text = read_file(path, NULL);
    free(path);
    title[0] = '\0';
    if (!text)
        return;
    char *line = text + strspn(text, "# ");
    line[strcspn(line, "\n")] = '\0';
    /* skip "NN" and a separator such as " · " or " - " or ":" */
    char *p = line;
    while (isdigit((unsigned char)*p))
        p++;
    if (p != line) {
        while (*p == ' ' || *p == '-' || *p == ':' || *p == '.' || (unsigned char)*p >= 0x80)
            p++;
    }
    snprintf(title, len, "%s", *p ? p : line);
    free(text);
}

int find_units(const char *kind, struct unit **out)
{
    char *path = xasprintf("%s/%s", g_root, kind);
    DIR *d = opendir(path);
    int n = 0, cap = 0;
    struct unit *u = NULL;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!nn_slug(e->d_name) || strlen(e->d_name) >= sizeof u->name)
                continue;
            char *dir = xasprintf("%s/%s", path, e->d_name);
            if (!is_dir(dir)) {
                free(dir);
                continue;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                u = realloc(u, sizeof *u * (size_t)cap);
            }
            memset(&u[n], 0, sizeof u[n]);
            snprintf(u[n].nn, sizeof u[n].nn, "%.2s", e->d_name);
            snprintf(u[n].name, sizeof u[n].name, "%s", e->d_name);
            snprintf(u[n].dir, sizeof u[n].dir, "%s", dir);
            title_from_readme(dir, u[n].title, sizeof u[n].title);
            if (!u[n].title[0])
                snprintf(u[n].title, sizeof u[n].title, "%s", e->d_name + 3);
            free(dir);
            n++;
        }
        closedir(d);
    }
    free(path);
    if (n)
        qsort(u, (size_t)n, sizeof *u, cmp_unit);
    *out = u;
    return n;
}

int pick_unit(const char *arg, const char *kind, const struct unit *u, int n)
{
    const char *what = strcmp(kind, "lessons") == 0 ? "lesson" : "exercise";
    if (!arg || !*arg) {
        err2("which %s? give its number, e.g. 01", what);
        return -1;
    }
    size_t digits = strspn(arg, "0123456789");
    if (digits == 0 || digits > 3 || (arg[digits] && arg[digits] != '-')) {
        err2("'%s' is not a %s number (try: ./evlab list)", arg, what);
        return -1;
    }
    int num = atoi(arg);
    for (int i = 0; i < n; i++) {
        if (atoi(u[i].nn) != num)
            continue;
        if (arg[digits] == '-' && strcmp(arg, u[i].name) != 0)
            break;
        return i;
    }
    if (n)
        err2("there is no %s %s (there are %s to %s; try: ./evlab list)", what, arg, u[0].nn,
             u[n - 1].nn);
    else
        err2("there is no %s %s (no %s yet)", what, arg, kind);
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int list_programs(const char *dir, char ***names)
{
    DIR *d = opendir(dir);
    int n = 0;
    char **v = NULL;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0 || e->d_name[0] == '.')
                continue;
            v = realloc(v, sizeof *v * (size_t)(n + 1));
            v[n++] = strndup(e->d_name, len - 2);
        }
        closedir(d);
    }
    if (n)
        qsort(v, (size_t)n, sizeof *v, cmp_str);
    *names = v;
    return n;
}

void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- state -------------------------------------------------------------------- */

const char *state_path(void)
{
    static char *path;
    if (!path) {
        const char *env = getenv("EVLAB_STATE");
        path = env && *env ? strdup(env) : xasprintf("%s/.evlab-state", g_root);
    }
    return path;
}

char *state_get(const char *key)
{
    char *text = read_file(state_path(), NULL);
    if (!text)
        return NULL;
    size_t klen = strlen(key);
    char *val = NULL;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            free(val);
            val = strdup(line + klen + 1);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return val;
}

void state_set(const char *key, const char *value)
{
    char *text = read_file(state_path(), NULL);
    struct buf b = {0};
    buf_add(&b, "", 0);
    size_t klen = strlen(key);
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!(strncmp(line, key, klen) == 0 && line[klen] == ' ') && *line)
            buf_printf(&b, "%s\n", line);
        line = nl ? nl + 1 : NULL;
    }
    if (value)
        buf_printf(&b, "%s %s\n", key, value);
    if (write_file(state_path(), b.p, b.len) != 0)
        fprintf(stderr, "evlab: cannot write the state file %s\n", state_path());
    buf_free(&b);
    free(text);
}
