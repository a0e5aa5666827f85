/* Grading for exercise 01 (supported-methods): the `methods` program.
 *
 * Expected answers come from libevent in the suite's own process, with the
 * same environment the program gets: the method list from
 * event_get_supported_methods(), the pick from a real event_config. A program
 * that prints fixed text fails as soon as the arguments or EVENT_NO* change.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "evtest.h"
#include "grading.h"

#define PROG evt_target("methods")

/* Set the same environment here that the program will get. */
static void apply_env(const char *const env[])
{
    for (int i = 0; env && env[i]; i++) {
        char key[64];
        const char *eq = strchr(env[i], '=');
        if (!eq) {
            unsetenv(env[i]);
            continue;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - env[i]), env[i]);
        setenv(key, eq + 1, 1);
    }
}

/* What a config that avoids `avoid` (NULL-terminated) would pick, or NULL. */
static const char *truth_pick(const char *const avoid[], int ignore_env)
{
    struct event_config *cfg = event_config_new();
    for (int i = 0; avoid && avoid[i]; i++)
        event_config_avoid_method(cfg, avoid[i]);
    if (ignore_env)
        event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV);
    struct event_base *b = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!b)
        return NULL;
    const char *m = event_base_get_method(b);
    event_base_free(b);
    return m;
}

static void truth_list(char *out, size_t len)
{
    const char **all = event_get_supported_methods();
    snprintf(out, len, "supported:");
    for (int i = 0; all[i]; i++)
        snprintf(out + strlen(out), len - strlen(out), " %s", all[i]);
}

static const char *line_of(const char *out, const char *prefix)
{
    static char lines[4][512];
    static int next;
    char *line = lines[next++ % 4];
    for (const char *s = out; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        if (strncmp(s, prefix, strlen(prefix)) == 0) {
            snprintf(line, sizeof lines[0], "%.*s", (int)n, s);
            return line;
        }
        s = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/* Run methods with `args` (NULL-terminated) and env; check every line. */
static void check_run(const char *const env[], const char *const args[], int ignore_env)
{
    apply_env(env);
    const char *argv[16] = {PROG};
    const char *avoid[8] = {NULL};
    char cmd[256];
    snprintf(cmd, sizeof cmd, "methods");
    for (int i = 0, a = 0; args && args[i]; i++) {
        argv[i + 1] = args[i];
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s", args[i]);
        if (strcmp(args[i], "--avoid") == 0 && args[i + 1])
            avoid[a++] = args[i + 1];
    }
    for (int i = 0; env && env[i]; i++)
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), "%s%s", i ? " " : "  (with ", env[i]);
    if (env && env[0])
        strcat(cmd, ")");

    struct evt_run r;
    /* It prints three lines and exits: 4 s is generous, and hanging code
     * costs 4 s per test rather than 10. */
    cr_assert_eq(evt_run(&r, argv, env, NULL, 4), 0, "could not run %s", PROG);
    cr_assert(!r.timed_out, "%s was still running after 4 s: print the lines and exit", cmd);
    cr_assert_eq(r.term_signal, 0, "%s was killed by signal %d (%s); stderr: %.300s", cmd,
                 r.term_signal, strsignal(r.term_signal), r.err);
    const char *want = truth_pick(avoid, ignore_env);
    char list[256], ver[128];
    truth_list(list, sizeof list);
    snprintf(ver, sizeof ver, "version: %s", event_get_version());
    const char *v = line_of(r.out, "version:"), *s = line_of(r.out, "supported:");
    cr_assert(v && strcmp(v, ver) == 0, "%s: expected the line \"%s\", got \"%s\"", cmd, ver,
              v ? v : "(none)");
    cr_assert(s && strcmp(s, list) == 0,
              "%s: expected the line \"%s\" (event_get_supported_methods() "
              "lists what this build has; neither --avoid nor EVENT_NO* changes it), got \"%s\"",
              cmd, list, s ? s : "(none)");
    if (want) {
        char pick[128];
        snprintf(pick, sizeof pick, "picked: %s", want);
        const char *p = line_of(r.out, "picked:");
        cr_assert_eq(r.exit_code, 0, "%s: expected exit code 0, got %d; stderr: %.300s", cmd,
                     r.exit_code, r.err);
        cr_assert(p && strcmp(p, pick) == 0, "%s: expected \"%s\", got \"%s\"", cmd, pick,
                  p ? p : "(none)");
    } else {
        cr_assert_eq(r.exit_code, 3,
                     "%s: no backend is left, so the exit code must be 3; it was %d "
                     "(event_base_new_with_config() returns NULL: check it before using the base)",
                     cmd, r.exit_code);
        cr_assert_null(line_of(r.out, "picked:"),
                       "%s: no backend is left, so there must be no \"picked:\" "
                       "line; got \"%s\"",
                       cmd, line_of(r.out, "picked:"));
        cr_assert(strstr(r.err, "methods:"),
                  "%s: say on stderr, in a line starting \"methods:\", that no "
                  "backend is left; stderr was: %.300s",
                  cmd, r.err);
    }
    evt_run_free(&r);
}

GRADED(supported_methods, t01_avoid_one, 3, 10.0,
       "--avoid NAME: the next backend is picked; the list stays")
{
    check_run(NULL, EVT_ARGV("--avoid", "epoll"), 0);
    check_run(NULL, EVT_ARGV("--avoid", "poll"), 0);
    check_run(NULL, EVT_ARGV("--avoid", "select"), 0);
}

GRADED(supported_methods, t02_avoid_and_environment, 2, 10.0,
       "--avoid and EVENT_NOEPOLL/EVENT_NOPOLL together")
{
    check_run(EVT_ENV("EVENT_NOEPOLL=1"), EVT_ARGV("--avoid", "poll"), 0);
    check_run(EVT_ENV("EVENT_NOPOLL=1"), EVT_ARGV("--avoid", "epoll"), 0);
}

GRADED(supported_methods, t03_nothing_left_exits_3, 3, 10.0,
       "no backend left: exit 3 and a message, no crash")
{
    check_run(NULL, EVT_ARGV("--avoid", "epoll", "--avoid", "poll", "--avoid", "select"), 0);
    check_run(EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1", "EVENT_NOSELECT=1"), NULL, 0);
}

GRADED(supported_methods, t04_ignore_env, 2, 10.0, "--ignore-env: EVENT_BASE_FLAG_IGNORE_ENV")
{
    check_run(EVT_ENV("EVENT_NOEPOLL=1", "EVENT_NOPOLL=1", "EVENT_NOSELECT=1"),
              EVT_ARGV("--ignore-env"), 1);
    check_run(EVT_ENV("EVENT_NOEPOLL=1"), EVT_ARGV("--ignore-env", "--avoid", "poll"), 1);
}

GRADED(supported_methods, t05_unknown_method_exits_2, 1, 10.0,
       "--avoid with a name this build lacks: exit 2")
{
    const char *names[] = {"kqueue", "bogus", "EPOLL"};
    for (int i = 0; i < 3; i++) {
        struct evt_run r;
        cr_assert_eq(evt_run(&r, EVT_ARGV(PROG, "--avoid", names[i]), NULL, NULL, 4), 0);
        cr_assert(!r.timed_out, "methods --avoid %s was still running after 4 s", names[i]);
        cr_assert_eq(r.exit_code, 2,
                     "methods --avoid %s: this libevent has no method \"%s\", so the exit "
                     "code must be 2 (it was %d)",
                     names[i], names[i], r.exit_code);
        cr_assert(strstr(r.err, names[i]),
                  "methods --avoid %s: name the bad method on stderr; stderr was: "
                  "%.300s",
                  names[i], r.err);
        evt_run_free(&r);
    }
}
