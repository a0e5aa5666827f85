/* evserver.h -- helpers for suites that test servers: one server process in
 * the background, its output drained by a thread, and the client side of a
 * big transfer. Built on evtest.h; every name starts with evs_.
 *
 * One behaviour for each job (the lesson suites and the grading suites use
 * the same ones):
 *   - raising the fd limit: evs_raise_nofile() skips the test when the hard
 *     limit is too low, rather than running it with fewer fds than it needs;
 *   - a sanitized program: evs_is_sanitized() looks for the sanitizer's
 *     symbols in the binary, rather than guessing from the directory name;
 *   - a transfer: evs_duplex() writes and reads at the same time on one fd;
 *   - fds: evs_wait_fds() waits until a process holds at most N;
 *   - the server's output: all of it is kept (p.out, p.err), drained by one
 *     thread, complete once evs_stop() returns;
 *   - a dead server: evs_alive() leaves it a zombie, evs_exit_status() says
 *     how it ended, evs_stop() reaps it;
 *   - CPU: evs_cpu_seconds() in the scheduler's nanoseconds, all threads.
 * tests/grading/gx_server.h builds the grading checks on these.
 */
#ifndef EVLAB_EVSERVER_H
#define EVLAB_EVSERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "evtest.h"

/* ---- a server in the background --------------------------------------------- */
struct evs_server {
    struct evt_proc p; /* p.out / p.err grow with everything it prints */
    int port;
    pthread_t th;
    volatile int draining;
    bool thread_on;
};

/* Start argv (argv[0] a path; it should pass "--port", "0") with env (as for
 * evt_spawn), wait up to timeout_s for "listening on 127.0.0.1:PORT", then
 * drain its output in a thread. If no port appears, kills it and fails the
 * test with what it printed. */
void evs_start(struct evs_server *s, const char *const argv[], const char *const env[],
               double timeout_s);
void evs_drain_on(struct evs_server *s);
/* Stop the drainer, so that the test may read s->p.out / s->p.err. */
void evs_drain_off(struct evs_server *s);
/* Send sig and wait for the exit (SIGKILL at the deadline); returns the wait
 * status. The output is complete afterwards. */
int evs_stop(struct evs_server *s, int sig, double timeout_s);
void evs_free(struct evs_server *s);
/* Still running? (WNOWAIT: a dead child stays a zombie, so evs_stop still
 * gets its status.) */
bool evs_alive(const struct evs_server *s);
/* Its wait status once it has exited (without reaping it), -1 while it runs. */
int evs_exit_status(const struct evs_server *s);

/* ---- the process from outside ------------------------------------------------- */
/* Wait until pid holds at most `at_most` fds (a server closes asynchronously
 * after a reset). Returns the last count (-1 if it cannot be read). */
int evs_wait_fds(pid_t pid, int at_most, double timeout_s);
/* Seconds of CPU pid (all its threads) has used so far, -1 if unknown: the
 * scheduler's nanoseconds (/proc/PID/task/TID/schedstat), or the clock ticks of
 * /proc/PID/stat where schedstat is missing. */
double evs_cpu_seconds(pid_t pid);
/* utime + stime of pid (all its threads) in clock ticks, -1 if unknown. */
long evs_cpu_ticks(pid_t pid);
/* Resident memory (VmRSS) in KiB, and the number of threads; -1 if unknown. */
long evs_rss_kb(pid_t pid);
int evs_threads(pid_t pid);
/* Make sure this process (and the children it starts) may open `want` fds;
 * skips the test if the hard limit is lower. */
void evs_raise_nofile(rlim_t want);
/* Is the program at `path` built with ASan or TSan? */
bool evs_is_sanitized(const char *path);

/* ---- the client side ------------------------------------------------------------ */
struct evs_duplex_opts {
    double timeout_s; /* for the whole transfer */
    bool slow;        /* read <= 16 KiB a wake-up, pause 30 ms after each 4 MiB */
    bool half_close;  /* shutdown(SHUT_WR) once everything is written */
    bool to_eof;      /* read until EOF, not just in_cap bytes */
    size_t *written;  /* if not NULL: bytes written */
};
/* Write out[0..out_n) while reading into in[0..in_cap), on one fd (made
 * non-blocking), so that a big echo cannot deadlock. Stops once everything is
 * written and in_cap bytes are read, or with to_eof at EOF: bytes past in_cap
 * are then read and counted but not kept, so a reply longer than expected
 * shows. If a write fails (the peer is gone) it stops writing and goes on
 * reading. Returns the bytes read. */
size_t evs_duplex(int fd, const void *out, size_t out_n, void *in, size_t in_cap,
                  struct evs_duplex_opts o);

#endif
