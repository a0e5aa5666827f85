/* grade.h -- what the grader's files share (internal to tools/evlab/).
 *
 * grade.c    grade and grade-class: exercises, their manifests, the run
 * sandbox.c  the sandbox (bwrap namespaces, or the per-job uid fallback)
 * judge.c    a suite's tests from its own --list, its verdict channel, scores
 * formats.c  text, TAP, JUnit and Gradescope reports
 * student.c  check, hint, reset, solution
 */
#ifndef EVLAB_GRADE_H
#define EVLAB_GRADE_H

#include "evlab.h"

/* ---- results ---------------------------------------------------------------------- */
struct tres {
    char *name, *status, *title, *msg;
    int weight;
    double secs;
};
struct eres {
    char name[128];
    char title[256];
    struct tres *t;
    int nt;
    int score, max;
    struct buf err;   /* build failure, not submitted, suite died ... */
    struct buf notes; /* truncated output, stray processes, invented tests */
    double secs;
};
void tres_add(struct eres *e, const char *name, const char *status, int weight, double secs,
              const char *title, const char *msg);
void eres_free(struct eres *e);
void eres_total(struct eres *e);

/* ---- exercises -------------------------------------------------------------------- */
enum ex_kind { EX_PROGRAM, EX_LIBRARY };
struct exdef {
    struct unit u;
    char *suite_src; /* tests/grading/NN-slug.c (NULL with --suites) */
    char *suite;     /* built suite binary */
    enum ex_kind kind;
    char **needs; /* build products the suite uses, relative to the build folder */
    int nneeds;
};
/* exercises/NN-slug/exercise.mk: "kind = program|library", "needs = path ...". */
int read_manifest(const char *exdir, struct exdef *d);

/* ---- options ------------------------------------------------------------------------ */
struct gopts {
    const char *submission; /* NULL: the working tree */
    const char *suites;     /* directory of suite binaries (NN-slug) instead of tests/grading */
    const char *format;
    const char *backend; /* NULL/"default", epoll, poll, select, all */
    double suite_timeout, submission_timeout;
    size_t output_cap;
    rlim_t mem_mb;
    uid_t uid;        /* 0: one from the pool */
    const char *only; /* one exercise */
    const char *out;  /* write the report here instead of stdout */
    bool which;       /* --which-sandbox: say which sandbox, grade nothing */
    bool werror;      /* --werror: a warning fails the build (default: a note) */
};

/* ---- the sandbox ---------------------------------------------------------------------- */
enum sb_mode { SB_NONE, SB_BWRAP, SB_UID };
struct sandbox {
    enum sb_mode mode;
    bool root; /* we are root: commands run as uid/gid */
    uid_t uid;
    gid_t gid;
    int uid_lock;
    char *top; /* the job's root-owned temporary folder */
    int top_fd;
    bool interrupted; /* SIGINT/SIGTERM reached us during a run: stop */
};
struct sb_cmd {
    const char *const *argv;
    const char *const *env;
    const char *cwd;
    const char *const *ro; /* host paths visible read-only (same path inside) */
    const char *const *rw; /* host paths visible read-write */
    double timeout_s;
    struct limits lim;
    size_t cap_bytes;
    bool report; /* fd 3: the verdict channel */
    size_t report_cap;
};
#define SB_MAX_FILES 64
#define SB_MAX_FILE (1 << 20)
#define SB_MAX_TOTAL (4 << 20)
#define SB_MAX_ENTRIES 200000

int sandbox_open(struct sandbox *sb, uid_t want_uid);
enum sb_mode sandbox_probe(const struct sandbox *sb);
const char *sandbox_mode_name(enum sb_mode m);
void sandbox_describe(const struct sandbox *sb, struct buf *b);
char *sandbox_mkdir(struct sandbox *sb, const char *name, bool for_job, int *fd_out);
int sandbox_copy_in(struct sandbox *sb, int src_fd, int dst_fd, struct buf *notes);
int sandbox_run(struct sandbox *sb, const struct sb_cmd *c, struct proc_result *r);
void sandbox_kill(struct sandbox *sb);
void sandbox_close(struct sandbox *sb);

/* ---- judge.c -------------------------------------------------------------------------- */
struct expect {
    char **name, **title;
    int *weight;
    int n;
};
/* Parse a suite's test list (report.c's EVLAB_LIST_TESTS output). */
int expect_parse(struct expect *x, const char *text);
void expect_free(struct expect *x);
/* Score one run: every listed test once, weights from the list; `tag` is the
 * backend or NULL; `died` says why there is no full report (NULL if none). */
void judge_merge(struct eres *e, const struct expect *x, const char *report, const char *tag,
                 const char *died);
void first_errors(const char *out, const char *strip, struct buf *b);

/* ---- formats.c ------------------------------------------------------------------------ */
char *clean_text(const char *s, bool keep_newlines);
/* Every listed test as not run ("not run: needs <needs>"): 0 of its weight. */
void eres_not_run(struct eres *e, const struct expect *x, const char *needs);
/* A test that did not run because what it needs failed first: the suite's
 * "not run: needs X" message. Shown as NOT RUN; it scores 0 like a failure. */
bool tres_not_run(const struct tres *t);
/* How the submission was built, for report headers (set by grade). */
extern const char *g_build_rule;
void print_text_exercise(FILE *f, const struct eres *e, bool color);
void report_text(FILE *f, const struct eres *r, int n, bool color, const char *sandbox);
void report_tap(FILE *f, const struct eres *r, int n, const char *sandbox);
void report_junit(FILE *f, const struct eres *r, int n, const char *sandbox);
void report_gradescope(FILE *f, const struct eres *r, int n, double secs, const char *sandbox);

/* ---- grade.c, for student.c ----------------------------------------------------------- */
struct limits suite_limits(const struct gopts *o);
void gopts_default(struct gopts *o);
int build_suites(struct exdef *v, int n);
/* Run `suite` (already built) on `target` in the working tree; scores into e. */
void run_suite_unsandboxed(const struct gopts *o, const struct exdef *d, const char *target,
                           struct eres *e);

#endif
