/* evlab.h -- what the parts of the evlab runner share.
 *
 * main.c     command dispatch, help, small utilities (buffers, files, colour)
 * course.c   lessons and exercises found from the directories; the state file
 * proc.c     running a child through a libevent loop: timeouts, signals,
 *            captured output with a cap, process groups, limits, the sweep
 * lessons.c  list, show
 * run.c      run: building a lesson program on demand, then running it
 * markdown.c Markdown for the terminal: wrapping, box tables, attributes
 * tour.c     the tour: lesson scripts (lessons/NN-slug/tour.md), keys, predictions
 * doctor.c   what is installed, per dependency group (tools/deps.sh)
 * grade.c    grade, grade-class (grade.h lists the grader's other files:
 *            sandbox.c, judge.c, formats.c, student.c for check/hint/...)
 * watch.c    watch: inotify and the keyboard in one event loop
 */
#ifndef EVLAB_H
#define EVLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

/* ---- main.c: utilities ------------------------------------------------------ */
struct buf {
    char *p;
    size_t len, cap;
};
void buf_add(struct buf *b, const void *data, size_t n);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *read_file(const char *path, size_t *len); /* NUL-terminated, or NULL */
int write_file(const char *path, const char *data, size_t len);
bool file_exists(const char *path);
bool is_dir(const char *path);
bool in_path(const char *prog);
int err2(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* "evlab: ..." -> 2 */

extern const char *g_root;  /* EVLAB_ROOT or the current directory */
extern const char *g_build; /* EVLAB_BUILD or "build", relative to the root */
extern const char *g_self;  /* path of this executable */
extern bool g_color;        /* stdout is a terminal and NO_COLOR is unset */
bool color_for(FILE *f);
const char *col(const char *sgr); /* "\033[<sgr>m" when g_color, else "" */
bool stdin_tty(void);
char *ask_line(const char *prompt); /* a line from stdin (static), NULL at EOF */

/* ---- course.c: lessons, exercises, state ------------------------------------ */
struct unit {
    char nn[8];     /* "01" */
    char name[128]; /* "01-supported-methods" */
    char dir[1024]; /* absolute */
    char title[256];
};
/* Units under <root>/<kind>/NN-slug/ (kind "lessons" or "exercises"), sorted. */
int find_units(const char *kind, struct unit **out);
/* Index of the unit NN (arg is "1", "01" or "01-slug"); prints an error and
 * returns -1 when it is not a number or not there. */
int pick_unit(const char *arg, const char *kind, const struct unit *u, int n);
/* Program sources (*.c basenames without .c) of a directory, sorted. */
int list_programs(const char *dir, char ***names);
void free_names(char **names, int n);

const char *state_path(void);
char *state_get(const char *key);                   /* malloc'd value or NULL */
void state_set(const char *key, const char *value); /* NULL removes */

/* ---- proc.c: children through the event loop ------------------------------ */
struct limits {
    bool set;
    rlim_t cpu_s, as_bytes, fsize_bytes, nproc, nofile;
};
struct proc_spec {
    const char *const *argv;
    const char *const *env; /* extra "K=V" (or "K" to unset), NULL-terminated */
    const char *cwd;
    double timeout_s; /* 0: none */
    double grace_s;   /* SIGTERM first, SIGKILL after grace (0: SIGKILL at once) */
    bool capture;     /* stdout+stderr into result.out (capped) */
    bool echo;        /* with capture: also copy to our stdout */
    size_t cap_bytes; /* 0: 1 MiB */
    bool own_pgrp;    /* new process group, killed whole at the end */
    bool stdin_null;  /* stdin from /dev/null */
    bool drop;        /* setuid(uid)/setgid(gid) before exec */
    uid_t uid;
    gid_t gid;
    struct limits lim;
    bool sweep; /* as a subreaper: kill what is left of the tree */
    /* The verdict channel: a pipe whose write end the child gets as fd 3 (not
     * close-on-exec); we read it without blocking, keeping report_cap bytes. */
    bool report;
    size_t report_cap;
};
struct proc_result {
    int status; /* raw wait status (-1: did not start) */
    bool timed_out;
    bool interrupted; /* we got SIGINT/SIGTERM meanwhile */
    char *out;
    size_t out_len;   /* kept */
    size_t out_total; /* produced */
    double seconds;
    int strays; /* processes killed by the sweep */
    char *rep;  /* what came through fd 3 (NUL-terminated) */
    size_t rep_len, rep_total;
};
int proc_run(const struct proc_spec *s, struct proc_result *r);
void proc_result_free(struct proc_result *r);
int status_to_exit(int status);
const char *describe_status(int status, char *buf, size_t len);
int sweep_children(void); /* kill and reap every child we have; returns count */
/* Run `make -s -C root BUILD=... targets` capturing output. Returns exit code. */
int run_make(const char *dir, const char *build, const char *const *targets, int ntargets,
             struct proc_result *r);

/* ---- commands ------------------------------------------------------------------ */
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_tour(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_hint(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_solution(int argc, char **argv);
int cmd_grade(int argc, char **argv);
int cmd_grade_class(int argc, char **argv);
int cmd_watch(int argc, char **argv);

/* lessons.c: the lessons and the one argv[1] picks; non-zero (after a message)
 * when it names none. */
int lesson_arg(int argc, char **argv, struct unit **les, int *idx);
/* run.c: make build/lessons/NN-slug/prog; prints the compiler's complaint */
int build_lesson_program(const struct unit *u, const char *prog);
/* The program a lesson's README names first (else the first by name), malloc'd. */
char *default_program(const struct unit *u, char **progs, int n);

/* markdown.c */
void render_markdown(const char *text, FILE *out); /* at the terminal's width */
void render_markdown_buf(const char *text, struct buf *out, int width);
/* One paragraph of inline Markdown, wrapped; `first` and `rest` are plain
 * prefixes of the same width (the first line's and the others'). */
void render_wrapped(const char *text, const char *first, const char *rest, FILE *out);
int term_width(void);             /* COLUMNS, the tty's width, or 80 */
int display_width(const char *s); /* columns, SGR codes skipped */
/* The text of a "## Heading" section (up to the next "## "), malloc'd or NULL. */
char *md_section(const char *text, const char *heading);

/* student.c, shared with watch.c */
struct check_opts {
    bool werror;         /* build with -Werror (default: warnings shown, not fatal) */
    const char *backend; /* NULL/"default", epoll, poll, select or all */
};
/* Options of check and watch: [NN] [--backend B] [--werror]; non-zero (after
 * a message) on bad input. *num is the NN given, or NULL. */
int check_parse(int argc, char **argv, struct check_opts *co, const char **num);
int check_exercise(const struct unit *ex, const struct check_opts *co);
/* The exercise passed once (its solution is open, whatever came later). */
bool exercise_earned(const struct unit *ex);
int next_unfinished(const struct unit *ex, int n);

#endif
