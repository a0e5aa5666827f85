/* lesson.h -- the little every lesson program shares (header-only).
 *
 * What lives here, and nothing more:
 *   - step mode: --step or EVLAB_STEP=1 pauses before each step until Enter
 *     (when stdin is not a terminal it runs straight through);
 *   - die()/CHECK(): a failed set-up call prints the call and the reason and
 *     exits non-zero;
 *   - flags_to_str(): EV_READ|EV_PERSIST as text, for narration;
 *   - lesson_num()/lesson_method(): one parser for every numeric option and
 *     for --method; a bad value exits 2 with a message naming the option;
 *   - method_config(): an event_config that leaves only one backend.
 *
 * Lessons include it as "../lesson.h", so a lesson still builds on its own:
 *   cc -Wall lessons/NN-slug/prog.c -o prog $(pkg-config --cflags --libs libevent)
 */
#ifndef EVLAB_LESSON_H
#define EVLAB_LESSON_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

/* ---- errors ---------------------------------------------------------------- */

__attribute__((noreturn, format(printf, 1, 2))) static inline void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(EXIT_FAILURE);
}

/* CHECK(call): the call must return a non-NULL pointer or a non-negative int.
 * On failure: "error: event_base_new() failed: <errno text>" and exit 1. */
#define CHECK(call)                                                                                \
    do {                                                                                           \
        errno = 0;                                                                                 \
        if (!(call))                                                                               \
            die("%s failed%s%s", #call, errno ? ": " : "", errno ? strerror(errno) : "");          \
    } while (0)
#define CHECK_OK(call) CHECK((call) >= 0)

/* ---- arguments --------------------------------------------------------------- */

/* lesson_num(optarg, min, max, "--port"): the whole number in `arg`, which
 * must lie in [min, max]. Anything else ("", "12x", "-1" for a count, a value
 * that does not fit in a long) is rejected before it is used, never cast
 * first: "--port 4294967297" must not become port 1. Exit status 2 means
 * "bad usage", like getopt's own complaints. */
static inline long lesson_num(const char *arg, long min, long max, const char *name)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(arg, &end, 10);
    if (errno == ERANGE || end == arg || *end != '\0' || value < min || value > max) {
        fprintf(
            stderr,
            "error: %s wants a whole number from %ld to %ld, not '%s' (--help lists the options)\n",
            name, min, max, arg);
        exit(2);
    }
    return value;
}

/* lesson_method(optarg): `arg` if this libevent has a backend of that name
 * (see lesson 01); otherwise exit 2 listing the ones it has. */
static inline const char *lesson_method(const char *arg)
{
    const char **all = event_get_supported_methods();
    for (int i = 0; all[i]; i++)
        if (strcmp(all[i], arg) == 0)
            return arg;
    fprintf(stderr, "error: --method '%s' is not a backend of this libevent; it has:", arg);
    for (int i = 0; all[i]; i++)
        fprintf(stderr, " %s", all[i]);
    fprintf(stderr, "\n");
    exit(2);
}

/* ---- step mode --------------------------------------------------------------- */

static bool lesson_stepping;

/* Call first thing in main(): line-buffered stdout keeps narration in order
 * when a test or the runner reads it through a pipe. */
static inline void lesson_init(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *env = getenv("EVLAB_STEP");
    if (env && *env && strcmp(env, "0") != 0)
        lesson_stepping = true;
}

/* Print a step heading; in step mode, wait for Enter first ("q" quits). */
static inline void step(const char *fmt, ...)
{
    va_list ap;
    printf("\n== ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!lesson_stepping || !isatty(STDIN_FILENO))
        return;
    printf("   [Enter: run this step, q: quit] ");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin) || line[0] == 'q')
        exit(EXIT_SUCCESS);
}

/* ---- narration helpers ------------------------------------------------------- */

/* "EV_READ|EV_PERSIST" for a flags value; "0" for none. */
static inline const char *flags_to_str(short what, char *buf, size_t len)
{
    static const struct {
        short bit;
        const char *name;
    } names[] = {
        {EV_TIMEOUT, "EV_TIMEOUT"},   {EV_READ, "EV_READ"},       {EV_WRITE, "EV_WRITE"},
        {EV_SIGNAL, "EV_SIGNAL"},     {EV_PERSIST, "EV_PERSIST"}, {EV_ET, "EV_ET"},
        {EV_FINALIZE, "EV_FINALIZE"}, {EV_CLOSED, "EV_CLOSED"},
    };
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(what & names[i].bit))
            continue;
        if (buf[0])
            strncat(buf, "|", len - strlen(buf) - 1);
        strncat(buf, names[i].name, len - strlen(buf) - 1);
    }
    if (!buf[0])
        snprintf(buf, len, "0");
    return buf;
}
#define FLAGS(what) flags_to_str((what), (char[96]){0}, 96)

/* An event_config that avoids every backend except `method` (NULL: default).
 * The caller frees it with event_config_free(). */
static inline struct event_config *method_config(const char *method)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        die("event_config_new() failed");
    if (!method)
        return cfg;
    /* Careful: each call frees the array the previous call returned. */
    const char **all = event_get_supported_methods();
    bool known = false;
    for (int i = 0; all[i]; i++) {
        if (strcmp(all[i], method) == 0)
            known = true;
        else
            event_config_avoid_method(cfg, all[i]);
    }
    if (!known)
        die("unknown method '%s' (this libevent supports: see lesson 01)", method);
    return cfg;
}

/* A base on the chosen backend (NULL: libevent's default choice). */
static inline struct event_base *base_for_method(const char *method)
{
    struct event_config *cfg = method_config(method);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base)
        die("event_base_new_with_config() failed for method '%s'", method ? method : "default");
    return base;
}

#endif
