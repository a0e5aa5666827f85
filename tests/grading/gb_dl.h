/* gb_dl.h -- driving a function-level exercise's library from its grading
 * suite (header-only; included by the suites of exercises 02, 03 and 04).
 *
 * The library is never loaded into the suite. gb_load() starts the
 * exercise's loader (build/tests/grading/loader/NN-slug, built from
 * loader/NN-slug.c against the exercise's contract header), which loads it
 * in a process of its own; the suite then sends it requests and checks the
 * answers (gb_proto.h has the messages):
 *
 *   #define GB_EXERCISE "04-event-flags"
 *   #include "gb_dl.h"
 *   struct gb_lib *l = gb_load("flags.so");      // $EVLAB_TARGET/flags.so
 *   int64_t base = gb_base_new(l);               // objects live in the loader
 *   struct gb_msg m = {.fn = OBSERVE, .a = {base, fd, EV_READ, 150}};
 *   gb_do(l, &m, "observe()");                   // m.v[0]: what it returned
 *
 * The loader holds no fd of the suite's but its socket and no EVLAB_*
 * variable, so the library cannot write the verdict. A library that is
 * missing or does not load, lacks a function, exits, crashes or does not
 * answer within GB_CALL_LIMIT seconds fails the test that was running, with
 * a sentence the student can act on; the suite goes on. The loader dies with
 * the test's process.
 *
 * Also here: gb_heap() and gb_fds(), the loader's heap in use and open fds,
 * to catch a function that leaks on every call.
 */
#ifndef EVLAB_GB_DL_H
#define EVLAB_GB_DL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtest.h"
#include "gb_proto.h"
#include "grading.h"

#ifndef GB_EXERCISE
#error "define GB_EXERCISE (\"NN-slug\", the loader's name) before including gb_dl.h"
#endif

#ifndef GB_CALL_LIMIT
#define GB_CALL_LIMIT 8.0 /* seconds one request may take */
#endif

struct gb_lib {
    pid_t pid;
    int fd;
    uint32_t seq;
    char path[1024];
};

/* One request and its reply: fill op (default GB_CALL), fn, a[], in/inlen
 * and, for a request that does many calls, limit (seconds; default
 * GB_CALL_LIMIT); read v[] and out/outlen. */
struct gb_msg {
    int op, fn;
    int64_t a[4];
    const void *in;
    size_t inlen;
    double limit;
    int64_t v[2];
    char out[GB_MAX + 1];
    size_t outlen;
};

/* The loader ended or stopped answering: say how, and fail the test. */
static inline void gb_died_(struct gb_lib *l, const char *during, double timed_out)
{
    int st = 0;
    if (timed_out)
        kill(l->pid, SIGKILL);
    while (waitpid(l->pid, &st, 0) < 0 && errno == EINTR)
        ;
    close(l->fd);
    l->fd = -1;
    if (timed_out)
        cr_assert_fail("%s did not return within %.0f s: the library was stopped", during,
                       timed_out);
    if (WIFSIGNALED(st))
        cr_assert_fail("the library crashed during %s: %s (signal %d) in the process that runs it",
                       during, strsignal(WTERMSIG(st)), WTERMSIG(st));
    cr_assert_fail("the library ended the process that runs it during %s (exit status %d): a "
                   "library must never exit%s",
                   during, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                   WIFEXITED(st) && WEXITSTATUS(st) ? " (a sanitizer that finds an error ends it "
                                                      "this way too: see its report on stderr)"
                                                    : "");
}

/* Read n bytes before the deadline; 0, or -1 at EOF, -2 at the deadline. */
static inline int gb_read_(int fd, void *p, size_t n, double deadline)
{
    for (size_t got = 0; got < n;) {
        double left = deadline - evt_now();
        struct pollfd pf = {fd, POLLIN, 0};
        int k = left > 0 ? poll(&pf, 1, (int)(left * 1000) + 1) : 0;
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0)
            return -2;
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* The reply to request `seq`, into m; fails the test if there is none. */
static inline void gb_reply_(struct gb_lib *l, uint32_t seq, struct gb_msg *m, const char *during)
{
    struct gb_rep r;
    double limit = m->limit > 0 ? m->limit : GB_CALL_LIMIT;
    double deadline = evt_now() + limit;
    int rc = gb_read_(l->fd, &r, sizeof r, deadline);
    if (rc == 0 && (r.magic != GB_MAGIC || r.seq != seq || r.len > GB_MAX ||
                    (r.status != GB_OK && r.status != GB_ERR)))
        cr_assert_fail("during %s, the process running the library sent something that is not "
                       "a reply: the library wrote to a file descriptor it does not own",
                       during);
    if (rc == 0)
        rc = gb_read_(l->fd, m->out, r.len, deadline);
    if (rc != 0)
        gb_died_(l, during, rc == -2 ? limit : 0);
    m->out[r.len] = '\0';
    m->outlen = r.len;
    m->v[0] = r.v[0];
    m->v[1] = r.v[1];
    if (r.status == GB_ERR)
        cr_assert_fail("%s", m->out);
}

/* Send one request (with fd, if >= 0) and wait for its reply. */
static inline void gb_do_fd(struct gb_lib *l, struct gb_msg *m, int fd, const char *during)
{
    cr_assert(l->fd >= 0, "the library's process is gone (an earlier failure)");
    cr_assert(m->inlen <= GB_MAX, "a request of %zu bytes is too big", m->inlen);
    struct gb_req q = {.magic = GB_MAGIC,
                       .seq = ++l->seq,
                       .op = m->op ? m->op : GB_CALL,
                       .fn = m->fn,
                       .a = {m->a[0], m->a[1], m->a[2], m->a[3]},
                       .len = (uint32_t)m->inlen};
    char buf[sizeof q + GB_MAX];
    memcpy(buf, &q, sizeof q);
    if (m->inlen)
        memcpy(buf + sizeof q, m->in, m->inlen);
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, sizeof q + m->inlen};
    struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(ctl, 0, sizeof ctl);
        h.msg_control = ctl;
        h.msg_controllen = sizeof ctl;
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    ssize_t k;
    while ((k = sendmsg(l->fd, &h, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (k != (ssize_t)iov.iov_len)
        gb_died_(l, during, 0);
    gb_reply_(l, q.seq, m, during);
}

static inline void gb_do(struct gb_lib *l, struct gb_msg *m, const char *during)
{
    gb_do_fd(l, m, -1, during);
}

/* Start the loader on $EVLAB_TARGET/name; fails the test if it cannot load it. */
static inline struct gb_lib *gb_load(const char *name)
{
    static struct gb_lib lib = {.pid = -1, .fd = -1};
    struct gb_lib *l = &lib;
    if (l->fd >= 0)
        return l;
    snprintf(l->path, sizeof l->path, "%s", evt_target(name));
    if (access(l->path, F_OK) != 0)
        cr_assert_fail("%s does not exist: build it first (make %s), and check that the file "
                       "builds: a function-level exercise builds to a shared object",
                       l->path, l->path);
    char loader[1024];
    snprintf(loader, sizeof loader, "%s/tests/grading/loader/%s", evt_build_dir(), GB_EXERCISE);
    cr_assert(access(loader, X_OK) == 0,
              "the suite's loader %s is missing (a grader problem, not yours: make %s)", loader,
              loader);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair: %s",
                 strerror(errno));
    /* The loader is student code: evt_spawn_student() runs it as the
     * student's uid under `evlab grade` (nothing changes outside grading), in
     * a group of its own, killed if this test's process dies, holding only
     * stdin (/dev/null), stdout, stderr and its socket. */
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const char *argv[] = {loader, l->path, NULL};
    const int fds[GB_SOCK + 1] = {[0] = nul, [1] = -1, [2] = -1, [GB_SOCK] = sv[1]};
    pid_t pid = evt_spawn_student(argv, NULL, fds, GB_SOCK + 1);
    if (nul >= 0)
        close(nul);
    cr_assert(pid > 0, "fork: %s", strerror(errno));
    close(sv[1]);
    l->pid = pid;
    l->fd = sv[0];
    l->seq = 0;
    struct gb_msg m = {0};
    char during[1100];
    snprintf(during, sizeof during, "loading %s, before any test ran", name);
    gb_reply_(l, 0, &m, during);
    return l;
}

/* libevent in the loader: the objects live there; these are their addresses. */
static inline int64_t gb_op(struct gb_lib *l, int op, int64_t a0, int64_t a1, int64_t a2,
                            const char *during)
{
    struct gb_msg m = {.op = op, .a = {a0, a1, a2}};
    gb_do(l, &m, during);
    return m.v[0];
}
#define gb_base_new(l) gb_op((l), GB_BASE_NEW, 0, 0, 0, "event_base_new()")
#define gb_base_free(l, b) gb_op((l), GB_BASE_FREE, (b), 0, 0, "event_base_free()")
#define gb_loop(l, b, flags) gb_op((l), GB_LOOP, (b), (flags), 0, "event_base_loop()")
#define gb_dispatch(l, b) gb_op((l), GB_LOOP, (b), 0, 0, "event_base_dispatch()")
#define gb_num_events(l, b, f) gb_op((l), GB_NUM_EVENTS, (b), (f), 0, "event_base_get_num_events()")
#define gb_features(l, b) gb_op((l), GB_FEATURES, (b), 0, 0, "event_base_get_features()")
#define gb_event_new(l, b, fd, ev) gb_op((l), GB_EVENT_NEW, (b), (fd), (ev), "event_new()")
#define gb_event_zeroed(l) gb_op((l), GB_EVENT_ZEROED, 0, 0, 0, "calloc()")
#define gb_event_add(l, e, ms) gb_op((l), GB_EVENT_ADD, (e), (ms), 0, "event_add()")
#define gb_event_del(l, e) gb_op((l), GB_EVENT_DEL, (e), 0, 0, "event_del()")
#define gb_event_free(l, e) gb_op((l), GB_EVENT_FREE, (e), 0, 0, "event_free()")
#define gb_free(l, p) gb_op((l), GB_FREE, (p), 0, 0, "free()")
#define gb_pending(l, e, what) gb_op((l), GB_PENDING, (e), (what), 0, "event_pending()")
/* Bytes malloc() has handed out in the loader and not had back; its open fds. */
#define gb_heap(l) ((size_t)gb_op((l), GB_HEAP, 0, 0, 0, "measuring the heap"))
#define gb_fds(l) ((int)gb_op((l), GB_FDS, 0, 0, 0, "counting open fds"))

/* A copy of fd in the loader; returns its number there. */
static inline int gb_send_fd(struct gb_lib *l, int fd)
{
    struct gb_msg m = {.op = GB_TAKE_FD};
    gb_do_fd(l, &m, fd, "passing an fd");
    return (int)m.v[0];
}

/* setenv() in the suite and in the loader alike. */
static inline void gb_setenv(struct gb_lib *l, const char *name, const char *value)
{
    char in[256];
    int n = snprintf(in, sizeof in, "%s%c%s", name, '\0', value);
    setenv(name, value, 1);
    struct gb_msg m = {.op = GB_SETENV, .in = in, .inlen = (size_t)n + 1};
    gb_do(l, &m, "setenv()");
}

#endif
