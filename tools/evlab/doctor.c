/* doctor.c -- what is installed, by dependency group, and the one command
 * that completes a group. The groups are tools/deps.sh's: tour, tests, docs,
 * bench; `make check` needs tour+tests+docs. */
#define _GNU_SOURCE
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "evlab.h"
#include "grade.h"

/* Output of a command (stdout+stderr), or NULL if it failed to run or exit 0. */
static char *command_output(const char *const *argv)
{
    struct proc_spec s = {.argv = argv,
                          .capture = true,
                          .cap_bytes = 8192,
                          .stdin_null = true,
                          .timeout_s = 10,
                          .own_pgrp = true};
    struct proc_result r;
    char *out = NULL;
    if (proc_run(&s, &r) == 0 && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)
        out = strdup(r.out ? r.out : "");
    proc_result_free(&r);
    return out;
}

/* The first version-looking word ("3.0", "12.2.0", "2.1.12-stable") of the
 * first line that has one, skipping copyright lines and a wrapper script's
 * complaints ("/usr/bin/chromium: 9: [: ..."). */
static char *version_of(const char *out)
{
    for (const char *line = out; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        bool skip = line[0] == '/' || strncasecmp(line, "copyright", 9) == 0 ||
                    memmem(line, len, "Copyright", 9) != NULL;
        for (size_t i = 0; !skip && i < len; i++) {
            bool start = i == 0 || !isalnum((unsigned char)line[i - 1]);
            if (start && (line[i] == 'v' || line[i] == 'V') && i + 1 < len &&
                isdigit((unsigned char)line[i + 1]))
                i++;
            if (!start && !(line[i - 1] == 'v' || line[i - 1] == 'V'))
                continue;
            if (!isdigit((unsigned char)line[i]))
                continue;
            size_t j = i;
            while (j < len && (isalnum((unsigned char)line[j]) || strchr(".-+~:", line[j])))
                j++;
            while (j > i && strchr(".-+~:", line[j - 1]))
                j--;
            if (memchr(line + i, '.', j - i))
                return strndup(line + i, j - i);
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

struct piece {
    const char *group; /* "tour", "tests", "docs", "bench" */
    const char *what;  /* row label */
    const char *const *argv;
    const char *header; /* instead of a command: a file that must exist */
    const char *debian, *brew, *why;
};

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})
static const struct piece pieces[] = {
    {"tour", "C compiler", ARGV("cc", "--version"), NULL, "gcc libc6-dev", "gcc",
     "builds every program"},
    {"tour", "make", ARGV("make", "--version"), NULL, "make", "make", "the build"},
    {"tour", "pkg-config", ARGV("pkg-config", "--version"), NULL, "pkg-config", "pkg-config",
     "finds libevent's flags"},
    {"tour", "libevent", ARGV("pkg-config", "--modversion", "libevent"), NULL, "libevent-dev",
     "libevent", "the library every lesson uses"},
    {"tour", "libevent_pthreads", ARGV("pkg-config", "--modversion", "libevent_pthreads"), NULL,
     "libevent-dev", "libevent", "the threads lesson"},
    {"tests", "criterion", ARGV("pkg-config", "--modversion", "criterion"), NULL,
     "libcriterion-dev", "criterion", "the tests and the grader"},
    {"tests", "valgrind", ARGV("valgrind", "--version"), NULL, "valgrind", "valgrind",
     "leak checks"},
    {"tests", "socat", ARGV("socat", "-V"), NULL, "socat", "socat", "clients in the tests"},
    {"tests", "strace", ARGV("strace", "-V"), NULL, "strace", "strace", "system-call checks"},
    {"tests", "ps", ARGV("ps", "--version"), NULL, "procps", "procps", "the stray-process check"},
    {"tests", "clang-format", ARGV("clang-format", "--version"), NULL, "clang-format",
     "clang-format", "make check-format"},
    {"tests", "git", ARGV("git", "--version"), NULL, "git", "git", "evlab reset, grader tests"},
    {"tests", "prove", ARGV("prove", "--version"), NULL, "perl", "perl", "checks the TAP output"},
    {"tests", "zip", ARGV("zip", "-v"), NULL, "zip", "zip", "make gradescope"},
    {"tests", "unzip", ARGV("unzip", "-v"), NULL, "unzip", "unzip", "checks the Gradescope zip"},
    {"tests", "xmllint", ARGV("xmllint", "--version"), NULL, "libxml2-utils", "libxml2",
     "checks the JUnit output"},
    {"tests", "bwrap", ARGV("bwrap", "--version"), NULL, "bubblewrap", "bubblewrap",
     "the grading sandbox"},
    {"tests", "libuv", ARGV("pkg-config", "--modversion", "libuv"), NULL, "libuv1-dev", "libuv",
     "lesson 17's uv_echo"},
    {"tests", "libev", NULL, "/usr/include/ev.h", "libev-dev", "libev", "lesson 17's ev_echo"},
    {"docs", "pandoc", ARGV("pandoc", "--version"), NULL, "pandoc", "pandoc",
     "slides and handouts"},
    {"docs", "weasyprint", ARGV("weasyprint", "--version"), NULL, "weasyprint", "weasyprint",
     "handout PDFs"},
    {"docs", "pdftotext", ARGV("pdftotext", "-v"), NULL, "poppler-utils", "poppler",
     "checks the handouts"},
    {"docs", "chromium", ARGV("chromium", "--version"), NULL, "chromium", "chromium",
     "renders the slides in tests"},
    {"bench", "libuv", ARGV("pkg-config", "--modversion", "libuv"), NULL, "libuv1-dev", "libuv",
     "the libuv echo server"},
    {"bench", "libev", NULL, "/usr/include/ev.h", "libev-dev", "libev", "the libev echo server"},
    {"bench", "gnuplot", ARGV("gnuplot", "--version"), NULL, "gnuplot-nox", "gnuplot", "plots"},
};

static const struct {
    const char *name, *target;
} groups[] = {
    {"tour", "make tour"},
    {"tests", "make check"},
    {"docs", "make check, make docs"},
    {"bench", "make bench"},
};
#define NGROUPS (sizeof groups / sizeof groups[0])

/* The Debian package's version (for a header, or a tool that prints none). */
static char *package_version(const char *debian)
{
    if (!in_path("dpkg-query"))
        return NULL;
    char pkg[64];
    snprintf(pkg, sizeof pkg, "%.*s", (int)strcspn(debian, " "), debian);
    char *out = command_output(ARGV("dpkg-query", "-W", "-f=${Version}", pkg));
    if (out && !*out) {
        free(out);
        out = NULL;
    }
    if (out) { /* upstream version only: "1:4.33-1" -> "4.33" */
        char *colon = strchr(out, ':'), *v = colon ? colon + 1 : out;
        v[strcspn(v, "-")] = '\0';
        memmove(out, v, strlen(v) + 1);
    }
    return out;
}

/* Found: a version string (or "installed"); NULL when missing. */
static char *probe(const struct piece *p)
{
    char *v = NULL;
    if (p->header) {
        if (!file_exists(p->header))
            return NULL;
    } else {
        if (!in_path(p->argv[0]))
            return NULL;
        char *out = command_output(p->argv);
        if (!out && strcmp(p->argv[0], "pkg-config") == 0)
            return NULL; /* pkg-config is there, the module is not */
        v = out ? version_of(out) : NULL;
        free(out);
    }
    if (!v)
        v = package_version(p->debian);
    return v ? v : strdup("installed");
}

static void add_word(struct buf *b, const char *words)
{
    char *copy = strdup(words), *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        bool dup = false;
        if (b->p) {
            for (const char *q = strstr(b->p, w); q && !dup; q = strstr(q + 1, w))
                dup = (q == b->p || q[-1] == ' ') && (q[strlen(w)] == ' ' || !q[strlen(w)]);
        }
        if (!dup)
            buf_printf(b, "%s%s", b->len ? " " : "", w);
    }
    free(copy);
}

/* Which sandbox `evlab grade` would use here, and why (never "missing": the
 * uid fallback grades too, with weaker walls; README "For instructors"). */
static void sandbox_row(void)
{
    struct sandbox sb;
    const char *forced = getenv("EVLAB_SANDBOX");
    struct buf why = {0};
    bool ok = sandbox_open(&sb, 0) == 0;
    if (!ok)
        buf_printf(&why, "cannot prepare one (see above)");
    else if (forced && *forced)
        buf_printf(&why, "forced by EVLAB_SANDBOX=%s", forced);
    else if (sb.mode == SB_BWRAP)
        buf_printf(&why, "bwrap: user namespaces allowed");
    else if (!in_path("bwrap"))
        buf_printf(&why, "bwrap is not installed");
    else
        buf_printf(&why, "bwrap cannot make user namespaces here (a container?)");
    if (ok && sb.root)
        buf_printf(&why, "; judge uid %d, student uid %d", (int)sb.uid, (int)sb.suid);
    else if (ok)
        buf_printf(&why, "; not root: judge and student share uid %d", (int)sb.uid);
    const char *mode = !ok ? "none" : sb.mode == SB_BWRAP ? "bwrap" : "uid fallback";
    printf("  %s%-8s%s %-18s %-17.17s %s%s%s\n", col(ok && sb.mode == SB_BWRAP ? "32" : "33"),
           ok && sb.mode == SB_BWRAP ? "ok" : "note", col("0"), "grading sandbox", mode, col("2"),
           why.p, col("0"));
    sandbox_close(&sb);
    buf_free(&why);
}

int cmd_doctor(int argc, char **argv)
{
    /* Which groups must be complete for exit 0: tour by default. */
    bool want[NGROUPS] = {true, false, false, false};
    if (argc > 2)
        return err2("doctor takes at most one group: tour, check (tour+tests+docs), bench or all");
    if (argc == 2) {
        const char *g = argv[1];
        memset(want, 0, sizeof want);
        if (strcmp(g, "check") == 0)
            want[0] = want[1] = want[2] = true;
        else if (strcmp(g, "all") == 0)
            want[0] = want[1] = want[2] = want[3] = true;
        else {
            bool found = false;
            for (size_t i = 0; i < NGROUPS; i++)
                if (strcmp(g, groups[i].name) == 0)
                    want[i] = found = true;
            if (!found)
                return err2("doctor: unknown group '%s' (tour, tests, docs, bench, check, all)", g);
        }
    }
    printf("%sevlab doctor%s (root: %s)\n", col("1"), col("0"), g_root);
    bool asked_complete = true;
    bool apt = in_path("apt-get"), brew = !apt && in_path("brew");
    for (size_t gi = 0; gi < NGROUPS; gi++) {
        struct buf fix = {0};
        int nmissing = 0;
        printf("\n%s%s%s  (%s)%s\n", col("1"), groups[gi].name, col("0"), groups[gi].target,
               want[gi] ? "  <- asked for" : "");
        for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
            const struct piece *p = &pieces[i];
            if (strcmp(p->group, groups[gi].name) != 0)
                continue;
            char *v = probe(p);
            if (v) {
                printf("  %sok%s       %-18s %-17.17s %s%s%s\n", col("32"), col("0"), p->what, v,
                       col("2"), p->why, col("0"));
            } else {
                nmissing++;
                printf("  %smissing%s  %-18s %-17.17s %s%s%s\n", col("31"), col("0"), p->what,
                       brew ? p->brew : p->debian, col("2"), p->why, col("0"));
                add_word(&fix, brew ? p->brew : p->debian);
            }
            free(v);
            if (strcmp(p->what, "bwrap") == 0)
                sandbox_row();
        }
        if (nmissing) {
            if (want[gi])
                asked_complete = false;
            if (apt)
                printf("  fix: %sapt-get install -y --no-install-recommends %s   (or: make %s)\n",
                       getuid() == 0 ? "" : "sudo ", fix.p,
                       gi == 0   ? "deps-tour"
                       : gi == 3 ? "deps-bench"
                                 : "deps");
            else if (brew)
                printf("  fix: brew install %s\n", fix.p);
            else
                printf("  fix: install these packages (Debian names): %s\n", fix.p);
        } else {
            printf("  %scomplete%s\n", col("32"), col("0"));
        }
        buf_free(&fix);
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
    /* Lesson 08 and grading 08 connect to "localhost" by name; a bare
     * container with no /etc/hosts cannot resolve it. */
    struct addrinfo hints = {.ai_family = AF_INET}, *ai = NULL;
    int gai = getaddrinfo("localhost", NULL, &hints, &ai);
    if (ai)
        freeaddrinfo(ai);
    printf("  \"localhost\" resolves: %s\n",
           gai == 0 ? "yes" : "NO (is /etc/hosts missing? grading 08 connects to it by name)");
    struct buf names = {0};
    for (size_t i = 0; i < NGROUPS; i++)
        if (want[i])
            buf_printf(&names, "%s%s", names.len ? "+" : "", groups[i].name);
    printf("\n%s\n", asked_complete ? "Everything the asked-for group needs is in place."
                                    : "Something the asked-for group needs is missing: run the "
                                      "fix line above.");
    printf("(checked: %s; ./evlab doctor tour|tests|docs|bench|check|all)\n", names.p);
    buf_free(&names);
    return asked_complete ? 0 : 1;
}
