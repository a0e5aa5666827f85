/* evlab_test.h -- helpers shared by the runner's suites (header-only).
 *
 * evlab(root, env, args..., NULL) runs the runner under test
 * ($EVLAB_BUILD/evlab) with EVLAB_ROOT=root (NULL: the repository) and the
 * extra environment `env`; evlab_pty() does the same in a pseudo-terminal,
 * typing `keys`. fixture_copy() makes a private copy of the fixture course.
 */
#ifndef EVLAB_TEST_H
#define EVLAB_TEST_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtest.h"

static inline char *xfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    cr_assert(vasprintf(&s, fmt, ap) >= 0);
    va_end(ap);
    return s;
}

static inline void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static inline char *get_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *s = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&s, &cap, '\0', f);
    fclose(f);
    if (n < 0) {
        free(s);
        return strdup("");
    }
    return s;
}

static inline int sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    cr_assert(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    struct evt_run r;
    cr_assert_eq(evt_run(&r, EVT_ARGV("/bin/sh", "-c", cmd), NULL, NULL, 60), 0);
    int code = r.exit_code;
    evt_run_free(&r);
    free(cmd);
    return code;
}

static inline int mkdir_p(const char *dir) { return sh("mkdir -p '%s'", dir); }

/* A private copy of the built fixture course (mtimes kept: nothing rebuilds). */
static inline char *fixture_copy(void)
{
    char tmpl[] = "/tmp/evlab-fixture-XXXXXX";
    cr_assert(mkdtemp(tmpl), "mkdtemp");
    const char *src = evt_prog("tests/tools/fixture");
    cr_assert_eq(sh("cp -a '%s'/. '%s'/", src, tmpl), 0, "copying %s (run make %s/.stamp)", src,
                 src);
    return strdup(tmpl);
}

static inline void fixture_free(char *root)
{
    sh("chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", root, root);
    free(root);
}

static inline char *state_of(const char *root)
{
    char *p = xfmt("%s/.evlab-state", root);
    char *s = get_file(p);
    free(p);
    return s;
}

#define EVLAB_MAX_ARGS 32

static inline void evlab_setup(const char **argv, const char **envv, const char *root,
                               const char *const *env, va_list ap, char **rootvar)
{
    int a = 0, e = 0;
    argv[a++] = evt_prog("evlab");
    const char *s;
    while ((s = va_arg(ap, const char *)) && a < EVLAB_MAX_ARGS - 1)
        argv[a++] = s;
    argv[a] = NULL;
    char cwd[4096];
    cr_assert(getcwd(cwd, sizeof cwd));
    *rootvar = xfmt("EVLAB_ROOT=%s", root ? root : cwd);
    envv[e++] = *rootvar;
    envv[e++] = "EVLAB_STATE";
    envv[e++] = "NO_COLOR";
    envv[e++] = "EVLAB_INSTRUCTOR";
    envv[e++] = "EVLAB_BUILD=build"; /* the fixture's own build folder */
    for (; env && *env && e < EVLAB_MAX_ARGS - 1; env++)
        envv[e++] = *env;
    envv[e] = NULL;
}

static inline struct evt_run evlab(const char *root, const char *const *env, ...)
{
    const char *argv[EVLAB_MAX_ARGS], *envv[EVLAB_MAX_ARGS];
    char *rootvar;
    va_list ap;
    va_start(ap, env);
    evlab_setup(argv, envv, root, env, ap, &rootvar);
    va_end(ap);
    struct evt_run r;
    cr_assert_eq(evt_run(&r, argv, envv, NULL, 60), 0);
    free(rootvar);
    return r;
}

static inline struct evt_run evlab_pty(const char *root, const char *const *env, const char *keys,
                                       ...)
{
    const char *argv[EVLAB_MAX_ARGS], *envv[EVLAB_MAX_ARGS];
    char *rootvar;
    va_list ap;
    va_start(ap, keys);
    evlab_setup(argv, envv, root, env, ap, &rootvar);
    va_end(ap);
    struct evt_run r;
    cr_assert_eq(evt_run_pty(&r, argv, envv, keys, 30), 0);
    free(rootvar);
    return r;
}

#endif
