/* main.c -- the evlab runner: command dispatch, help and small utilities.
 *
 * evlab is itself a libevent program: every child it runs (make, a lesson
 * program, a grading suite) is watched from an event loop with a SIGCHLD
 * event, a timer for the time limit and SIGINT/SIGTERM events (proc.c).
 *
 * Build: make build/evlab   (every .c in tools/evlab/, pkg-config --cflags --libs libevent)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evlab.h"

const char *g_root;
const char *g_build;
const char *g_self;
bool g_color;

/* ---- buffers and strings ------------------------------------------------------ */

void buf_add(struct buf *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            perror("evlab: realloc");
            exit(1);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        perror("evlab: vasprintf");
        exit(1);
    }
    buf_add(b, s, (size_t)n);
    free(s);
}

void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        perror("evlab: vasprintf");
        exit(1);
    }
    return s;
}

char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct buf b = {0};
    char tmp[8192];
    ssize_t n;
    buf_add(&b, "", 0);
    while ((n = read(fd, tmp, sizeof tmp)) > 0)
        buf_add(&b, tmp, (size_t)n);
    close(fd);
    if (len)
        *len = b.len;
    return b.p;
}

int write_file(const char *path, const char *data, size_t len)
{
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            free(tmp);
            return -1;
        }
        off += (size_t)n;
    }
    close(fd);
    int rc = rename(tmp, path);
    free(tmp);
    return rc;
}

bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char *p = xasprintf("%s/%s", d, prog);
        found = access(p, X_OK) == 0;
        free(p);
    }
    free(copy);
    return found;
}

int err2(const char *fmt, ...)
{
    va_list ap;
    fputs("evlab: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

bool color_for(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    if (nc && *nc)
        return false;
    return isatty(fileno(f));
}

const char *col(const char *sgr)
{
    static char ring[8][24];
    static int i;
    if (!g_color)
        return "";
    char *b = ring[i++ % 8];
    snprintf(b, sizeof ring[0], "\033[%sm", sgr);
    return b;
}

bool stdin_tty(void) { return isatty(STDIN_FILENO); }

char *ask_line(const char *prompt)
{
    static char line[256];
    if (prompt) {
        fputs(prompt, stdout);
        fflush(stdout);
    }
    if (!fgets(line, sizeof line, stdin))
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

/* ---- commands ----------------------------------------------------------------- */

static int cmd_help(int argc, char **argv);
int cmd_trace(int argc, char **argv); /* trace.c */

static const struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *args;
    const char *what;
} commands[] = {
    {"list", cmd_list, "", "lessons and exercises, with your progress"},
    {"show", cmd_show, "NN", "the lesson text in the terminal"},
    {"run", cmd_run, "NN [program] [--timeout S] [-- args]", "build a lesson program and run it"},
    {"tour", cmd_tour, "[NN]",
     "lesson by lesson: text, command, output; Enter between steps, q quits"},
    {"trace", cmd_trace, "[NN [program] | -- PROGRAM ARGS]",
     "a libevent loop as a timeline; stalls"},
    {"check", cmd_check, "[NN] [--backend all|epoll|poll|select] [--werror]",
     "grade your exercise (the next unfinished one by default)"},
    {"watch", cmd_watch, "[NN] [--backend B] [--werror]",
     "re-check on every save or touch; Enter re-runs, n moves on, q quits"},
    {"hint", cmd_hint, "[NN]", "the next hint for your exercise (the one you checked last)"},
    {"reset", cmd_reset, "NN [--yes]", "restore the starter (your file is kept as a backup)"},
    {"solution", cmd_solution, "[NN]", "the reference solution and its diff, once you pass"},
    {"grade", cmd_grade,
     "[--submission DIR] [--format text|tap|junit|gradescope] [--backend all|epoll|poll|select]\n"
     "      [--werror]",
     "every exercise of one submission, scored, in a sandbox"},
    {"grade-class", cmd_grade_class, "DIR [-j N] [-o OUTDIR]",
     "each sub-folder of DIR as one student; a CSV gradebook"},
    {"doctor", cmd_doctor, "", "what is installed, what is missing, and the command that fixes it"},
    {"help", cmd_help, "", "this text"},
};

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("usage: ./evlab COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        printf("  %s%s%s %s\n      %s\n", col("1"), commands[i].name, col("0"), commands[i].args,
               commands[i].what);
    }
    printf("\nNN is a two-digit number (01, 02, ...). Lessons and exercises are found\n"
           "from lessons/NN-slug/ and exercises/NN-slug/. Progress is kept in %s.\n"
           "Environment: NO_COLOR, EVLAB_STATE (state file), EVLAB_INSTRUCTOR=1 (solutions).\n",
           state_path());
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *root = getenv("EVLAB_ROOT");
    static char cwd[PATH_MAX];
    if (!root || !*root)
        root = getcwd(cwd, sizeof cwd) ? cwd : ".";
    char *real = realpath(root, NULL);
    g_root = real ? real : root;
    g_build = getenv("EVLAB_BUILD");
    if (!g_build || !*g_build)
        g_build = "build";
    static char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    g_self = n > 0 ? (self[n] = '\0', self) : argv[0];
    g_color = color_for(stdout);

    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    return err2("unknown command '%s' (try: ./evlab help)", argv[1]);
}
