/* gb_loader.h -- the loader a function-level grading suite drives: the one
 * process that loads the student's library (header-only; each exercise's
 * loader, loader/NN-slug.c, includes it and defines gb_exercise()).
 *
 * Started by the suite (gb_dl.h) with a socketpair on fd GB_SOCK and the
 * library as argv[1]. Before the library is loaded, every other fd above 2 is
 * closed and every EVLAB_* variable removed, so neither the library's
 * constructors nor its functions can reach the grader's verdict channel: they
 * can only answer the suite's questions, and the suite checks the answers.
 * A library that exits, crashes or hangs ends this process; the suite sees
 * that, and fails only the test that was running, with the reason.
 * gb_proto.h describes the messages.
 */
#ifndef EVLAB_GB_LOADER_H
#define EVLAB_GB_LOADER_H

#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "../gb_proto.h"

static void *gb_lib;

/* Defined by each exercise's loader: serve GB_CALL request q (input in, its
 * length q->len); fill r->v and up to GB_MAX bytes of out (r->len). */
static void gb_exercise(const struct gb_req *q, const char *in, struct gb_rep *r, char *out);

static void gb_fail(struct gb_rep *r, char *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void gb_fail(struct gb_rep *r, char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, GB_MAX, fmt, ap);
    va_end(ap);
    r->status = GB_ERR;
    r->len = n < 0 ? 0 : n >= GB_MAX ? GB_MAX - 1 : (uint32_t)n;
}

/* The student's function `name`, or NULL with the reply saying it is missing. */
static void *gb_sym(const char *name, struct gb_rep *r, char *out)
{
    void *p = dlsym(gb_lib, name);
    if (!p)
        gb_fail(r, out,
                "the library does not define %s(): keep the function's name and signature "
                "exactly as the contract header declares them, and do not make it static",
                name);
    return p;
}

/* A pointer or a number in a message. */
#define GB_PTR(x) ((void *)(intptr_t)(x))
#define GB_NUM(p) ((int64_t)(intptr_t)(p))

static void gb_noop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static int gb_read_full(int fd, void *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = read(fd, (char *)p + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

static int gb_send(const struct gb_rep *r, const char *out)
{
    char msg[sizeof *r + GB_MAX];
    memcpy(msg, r, sizeof *r);
    memcpy(msg + sizeof *r, out, r->len);
    for (size_t sent = 0, n = sizeof *r + r->len; sent < n;) {
        ssize_t k = write(GB_SOCK, msg + sent, n - sent);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        sent += (size_t)k;
    }
    return 0;
}

/* One request header, and the fd that came with it (or -1). */
static int gb_receive(struct gb_req *q, int *fd)
{
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {q, sizeof *q};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    *fd = -1;
    ssize_t k;
    while ((k = recvmsg(GB_SOCK, &m, MSG_WAITALL | MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (k != (ssize_t)sizeof *q)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(fd, CMSG_DATA(c), sizeof *fd);
    return q->magic == GB_MAGIC && q->len <= GB_MAX ? 0 : -1;
}

static int64_t gb_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int64_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void gb_serve(const struct gb_req *q, int fd, const char *in, struct gb_rep *r, char *out)
{
    const int64_t *a = q->a;
    switch (q->op) {
    case GB_BASE_NEW: r->v[0] = GB_NUM(event_base_new()); break;
    case GB_BASE_FREE: event_base_free(GB_PTR(a[0])); break;
    case GB_LOOP: r->v[0] = event_base_loop(GB_PTR(a[0]), (int)a[1]); break;
    case GB_NUM_EVENTS: r->v[0] = event_base_get_num_events(GB_PTR(a[0]), (int)a[1]); break;
    case GB_FEATURES: r->v[0] = event_base_get_features(GB_PTR(a[0])); break;
    case GB_TAKE_FD:
        if (fd < 0)
            gb_fail(r, out, "no fd came with the message");
        r->v[0] = fd;
        break;
    case GB_EVENT_NEW:
        r->v[0] =
            GB_NUM(event_new(GB_PTR(a[0]), (evutil_socket_t)a[1], (short)a[2], gb_noop, NULL));
        break;
    case GB_EVENT_ZEROED: r->v[0] = GB_NUM(calloc(1, event_get_struct_event_size())); break;
    case GB_EVENT_ADD: {
        struct timeval tv = {a[1] / 1000, (a[1] % 1000) * 1000};
        r->v[0] = event_add(GB_PTR(a[0]), a[1] < 0 ? NULL : &tv);
        break;
    }
    case GB_EVENT_DEL: r->v[0] = event_del(GB_PTR(a[0])); break;
    case GB_EVENT_FREE: event_free(GB_PTR(a[0])); break;
    case GB_FREE: free(GB_PTR(a[0])); break;
    case GB_PENDING: r->v[0] = event_pending(GB_PTR(a[0]), (short)a[1], NULL); break;
    case GB_SETENV:
        if (q->len < 2 || in[q->len - 1] || strlen(in) + 1 >= q->len)
            gb_fail(r, out, "GB_SETENV wants NAME\\0VALUE\\0");
        else
            setenv(in, in + strlen(in) + 1, 1);
        break;
    case GB_HEAP: {
        struct mallinfo2 mi = mallinfo2();
        r->v[0] = (int64_t)(mi.uordblks + mi.hblkhd);
        break;
    }
    case GB_FDS: r->v[0] = gb_open_fds(); break;
    case GB_CALL: gb_exercise(q, in, r, out); break;
    default: gb_fail(r, out, "unknown request %d", q->op);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s LIBRARY.so (started by a grading suite, fd %d its socket)\n",
                argv[0], GB_SOCK);
        return 2;
    }
    /* Nothing but the suite's socket and stdio reaches the library. */
    closefrom(GB_SOCK + 1);
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e; e++)
            if (strncmp(*e, "EVLAB_", 6) == 0) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
                unsetenv(name);
                again = 1;
                break;
            }
    }
    signal(SIGPIPE, SIG_IGN);
    static char in[GB_MAX + 1], out[GB_MAX];
    struct gb_rep r = {.magic = GB_MAGIC};
    dlerror();
    gb_lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!gb_lib) {
        const char *e = dlerror();
        gb_fail(&r, out, "cannot load %s: %s", argv[1], e ? e : "unknown dlopen error");
    }
    if (gb_send(&r, out) != 0 || !gb_lib)
        return 1;
    struct gb_req q;
    int fd;
    while (gb_receive(&q, &fd) == 0 && gb_read_full(GB_SOCK, in, q.len) == 0) {
        in[q.len] = '\0';
        r = (struct gb_rep){.magic = GB_MAGIC, .seq = q.seq};
        gb_serve(&q, fd, in, &r, out);
        if (gb_send(&r, out) != 0)
            break;
    }
    return 0;
}

#endif
