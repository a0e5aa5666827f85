/* evtest.h -- helpers for evlab's Criterion suites: real processes, real sockets.
 *
 * Paths: evt_prog("lessons/01-supported-methods/supported_methods") is the
 * program built under $EVLAB_BUILD (default "build"); grading suites use
 * evt_target("name"), the program under $EVLAB_TARGET (a build dir of an
 * exercise, a solution or a broken variant).
 *
 * Nothing here sleeps to wait: every wait is on a pipe, a socket or a child,
 * with a deadline.
 */
#ifndef EVLAB_EVTEST_H
#define EVLAB_EVTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- paths ---------------------------------------------------------------- */
const char *evt_build_dir(void);           /* $EVLAB_BUILD or "build" */
const char *evt_prog(const char *relpath); /* build dir + "/" + relpath (static ring of buffers) */
const char *evt_target(const char *name); /* $EVLAB_TARGET + "/" + name; aborts the test if unset */

/* ---- running a program to completion ------------------------------------------ */
struct evt_run {
    int status;      /* raw wait status */
    int exit_code;   /* -1 if killed by a signal */
    int term_signal; /* 0 if it exited */
    bool timed_out;  /* killed by us at the deadline */
    char *out;       /* NUL-terminated stdout (also binary-safe via out_len) */
    size_t out_len;
    char *err; /* NUL-terminated stderr */
    size_t err_len;
    double seconds; /* wall time */
};

/* Run argv (argv[0] is a path) with extra environment entries ("K=V", or "K"
 * alone to unset K; NULL-terminated list or NULL), feeding `input` (may be NULL)
 * on stdin, killing its process group after `timeout_s`. Returns 0, or -1 if
 * it could not start. Free with evt_run_free(). */
int evt_run(struct evt_run *r, const char *const argv[], const char *const env[], const char *input,
            double timeout_s);
void evt_run_free(struct evt_run *r);

/* Same, in a pseudo-terminal: stdin/stdout are a tty. `keys` is typed in
 * whenever the program waits (each byte sent after output has paused).
 * Output lands in r->out (stderr merged). */
int evt_run_pty(struct evt_run *r, const char *const argv[], const char *const env[],
                const char *keys, double timeout_s);

/* ---- a program running in the background (servers) ------------------------ */
struct evt_proc {
    pid_t pid;
    int out_fd; /* read end of its stdout */
    int err_fd; /* read end of its stderr */
    int in_fd;  /* write end of its stdin (-1 if closed) */
    char *out;  /* what has been read from stdout so far */
    size_t out_len, out_cap;
    char *err;
    size_t err_len, err_cap;
    int status; /* valid after evt_stop */
};

int evt_spawn(struct evt_proc *p, const char *const argv[], const char *const env[]);
/* Read stdout until a line containing `needle` arrives; returns that line
 * (static buffer) or NULL at EOF/timeout. */
const char *evt_wait_line(struct evt_proc *p, const char *needle, double timeout_s);
/* Servers print "listening on 127.0.0.1:PORT". Returns PORT or -1. */
int evt_wait_port(struct evt_proc *p, double timeout_s);
/* Drain whatever output is available now (non-blocking) and for up to timeout. */
void evt_drain(struct evt_proc *p, double timeout_s);
/* Send `sig`, wait up to timeout_s, then SIGKILL the group. Returns the wait
 * status; collects the remaining output. */
int evt_stop(struct evt_proc *p, int sig, double timeout_s);
/* Wait for exit without sending anything (SIGKILL at the deadline). */
int evt_wait_exit(struct evt_proc *p, double timeout_s);
void evt_proc_free(struct evt_proc *p);
int evt_count_fds(pid_t pid); /* entries in /proc/PID/fd, -1 on error */

/* ---- the student's uid (evlab grade) ------------------------------------------- */
/* When `evlab grade` runs a suite as root, the suite (the judge) runs as a
 * judge uid and every program it starts runs as the student's uid, with no
 * capabilities: the student's code cannot signal, ptrace or read the judge
 * (tools/evlab/sandbox.c). The grader says which uid in EVLAB_STUDENT_UID and
 * EVLAB_STUDENT_GID (and EVLAB_STUDENT_TMPDIR); without them (evlab check,
 * make check) these do nothing and everything runs as the caller.
 *
 * Every program started by evt_run, evt_spawn, evt_run_pty and evt_run_step
 * is dropped already. Student code started any other way must go through
 * evt_spawn_student() (fork + own process group + drop + exec; `fds[i]`, if
 * >= 0, becomes the child's fd i, e.g. {in, out, err, sock} for a loader
 * driven over a socketpair; other fds should be close-on-exec), or, after a
 * fork of your own, evt_drop_to_student() before exec or dlopen. Returns the
 * pid (in its own process group, SIGKILLed if we die), or -1. */
pid_t evt_spawn_student(const char *const argv[], const char *const env[], const int fds[],
                        int nfds);
/* In a child, before running student code: become the student's uid with no
 * capabilities and no way to gain any (no_new_privs). 0, or -1 (then _exit). */
int evt_drop_to_student(void);
/* A fresh folder that the judge and the student's programs both write (a
 * FIFO's, a file's to be left alone): "$TMP/PREFIX-XXXXXX" in the student's
 * temporary folder, which no other job can reach; mode 0777 when graded.
 * false if it could not be made. */
bool evt_shared_dir(char *buf, size_t len, const char *prefix);
/* Open a FIFO the student's program made (its mode may be 0600): with
 * CAP_DAC_OVERRIDE for the open alone, never following a link, and only if it
 * is a FIFO (else -1, EINVAL). Like open(2) otherwise. */
int evt_open_fifo(const char *path, int flags);
/* Give up every capability for good (no_new_privs): a test process about to
 * run the student's code in-process (graded_dlopen) that must still talk to
 * Criterion's runner as the judge's uid. 0, or -1. */
int evt_drop_caps(void);
/* The judge's effective capabilities: KILL always (to signal the student's
 * programs); with look, also SYS_PTRACE and DAC_READ_SEARCH to read their
 * /proc/PID files. Raise them around such a read only, never around a path the
 * student could have planted. 0, or -1. */
int evt_judge_caps(bool look);

/* ---- sockets on 127.0.0.1 --------------------------------------------------- */
int evt_connect(int port, double timeout_s); /* blocking fd, or -1 */
int evt_listen(int *port);                   /* listening fd on port 0; *port set */
/* Write all / read exactly n bytes with a deadline; return bytes done. */
size_t evt_write_all(int fd, const void *buf, size_t n, double timeout_s);
size_t evt_read_n(int fd, void *buf, size_t n, double timeout_s);
/* Read until EOF or deadline (malloc'd, NUL-terminated); *len set. */
char *evt_read_all(int fd, size_t *len, double timeout_s);
/* true if the peer closed (read returns 0) within timeout. */
bool evt_wait_eof(int fd, double timeout_s);
void evt_reset_close(int fd); /* close with RST (SO_LINGER 0) */

/* ---- text --------------------------------------------------------------------- */
/* Count non-overlapping occurrences of needle in hay. */
int evt_count(const char *hay, const char *needle);
/* Copy of s with 0x... hex addresses replaced by "0xADDR". malloc'd. */
char *evt_mask_addrs(const char *s);
double evt_now(void); /* monotonic seconds */
void evt_random_bytes(void *buf, size_t n, unsigned seed);
/* Offset of the first difference, or n if equal. */
size_t evt_first_diff(const void *a, const void *b, size_t n);

/* ---- step mode through a pseudo-terminal (lessons' --step) ------------------ */
/* Run argv in a pty; each time the program prints step()'s prompt
 * ("[Enter: run this step, q: quit]"), wait `wait_s` seconds, as a presenter
 * talking would, then type Enter. r->out holds the tty's output (stderr
 * merged); r->exit_code etc. as for evt_run. Returns -1 if it could not start. */
int evt_run_step(struct evt_run *r, const char *const argv[], const char *const env[],
                 double wait_s, double timeout_s);
/* How many prompts a run's output shows. */
int evt_step_prompts(const char *out);
/* The output of a pty run as a straight run prints it: "\r" removed, and each
 * prompt with the Enter it echoed removed. malloc'd. */
char *evt_step_transcript(const char *out);
/* Copy of s with every match of the POSIX extended regex `re` replaced by
 * `with`. malloc'd; aborts the test on a bad regex. */
char *evt_mask_re(const char *s, const char *re, const char *with);
/* The test of "step mode changes nothing": run argv straight in a pty, then
 * with "--step" appended, waiting wait_s at every prompt; mask addresses and
 * every match of the regexes in `masks` (NULL-terminated, or NULL) with "#";
 * assert that both exited 0, that the stepped run paused at every step, and
 * that the two transcripts are equal. */
void evt_assert_step_same(const char *const argv[], const char *const env[],
                          const char *const masks[], double wait_s, double timeout_s);

/* ---- what every lesson program shares ------------------------------------------ */
/* The text of step n in a program's output: from "== n." up to the next
 * "\n== " heading. malloc'd; fails the test if there is no step n. */
char *evt_step_section(const char *out, int n);
/* prog --help exits 0 and prints "usage:" and each of `words` (NULL-terminated
 * list, or NULL); prog --bogus exits 2 with "usage:" on stderr. */
void evt_assert_usage(const char *prog, const char *const words[]);
/* The whole text file at `path` (relative to the top of the tree), malloc'd and
 * NUL-terminated; fails the test if it cannot be read. */
char *evt_read_file(const char *path);

#define EVT_ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define EVT_ENV(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif
