/* select_wall.c -- who stops select at FD_SETSIZE: libevent, or the distribution?
 *
 * Teaches: to find the real cause of a crash before explaining it. An fd of
 * 1024 (FD_SETSIZE) or more in libevent's select backend aborts on Debian
 * with "*** bit out of range 0 - FD_SETSIZE on fd_set ***". That message is
 * not libevent's: Debian compiles libevent with -D_FORTIFY_SOURCE=2, which
 * turns every FD_SET into a call to glibc's __fdelt_chk(), and that check
 * aborts for fd >= FD_SETSIZE. libevent's select.c itself does not care: it
 * allocates its fd sets and grows them (select_resize) to fit the highest fd.
 *
 *   1. a child puts fd 1100 into a select base: it dies of SIGABRT, and its
 *      backtrace shows __fdelt_chk called from libevent;
 *   2. a child that replaces __fdelt_chk with the unchecked arithmetic (this
 *      file defines it; libevent's call resolves to it, only when asked)
 *      puts fd 2406 into a select base, and select serves it.
 * Each runs in its own process, so the abort cannot take this one with it.
 *
 * Builds on: 01 (methods), 16 (backend_bench.c skips these sizes).
 *
 * Build and run on its own:
 *   cc -O2 -Wall -o select_wall select_wall.c $(pkg-config --cflags --libs libevent)
 *   ./select_wall
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <execinfo.h>
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "../lesson.h"

static bool unchecked; /* step 2 only */

// [fdelt]
/* glibc's fortify check, as libevent (built with _FORTIFY_SOURCE) calls it
 * from every FD_SET. Defined here, it takes the call; unless step 2 asked
 * otherwise it hands it straight to glibc's own __fdelt_chk. */
long int __fdelt_chk(long int fd);
long int __fdelt_chk(long int fd)
{
    if (unchecked)
        return fd / (8 * (long)sizeof(fd_mask)); /* what FD_SET computes without the check */
    long int (*glibc_check)(long int) = (long int (*)(long int))dlsym(RTLD_NEXT, "__fdelt_chk");
    if (!glibc_check)
        die("dlsym(__fdelt_chk): %s", dlerror());
    Dl_info caller;
    if (fd >= FD_SETSIZE && dladdr(__builtin_return_address(0), &caller))
        fprintf(stderr, "__fdelt_chk(%ld) called from %s; handing it to glibc's check\n", fd,
                caller.dli_fname);
    volatile long int elt = glibc_check(fd); /* not a tail call: keep this frame */
    return elt;
}
// [/fdelt]

static void on_abort(int sig) /* print where the abort came from, then die of it */
{
    void *frames[32];
    int n = backtrace(frames, 32);
    fputs("backtrace of the abort:\n", stderr);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    char byte;
    (void)what;
    if (read(fd, &byte, 1) == 1)
        printf("select served fd %d: read '%c'\n", (int)fd, byte);
    event_base_loopexit(arg, NULL);
}

/* In the child: one socketpair, its read end moved to `fd`, in a base that
 * may use select only. */
static void child(int fd)
{
    struct rlimit rl = {(rlim_t)fd + 16, (rlim_t)fd + 16};
    struct rlimit now;
    getrlimit(RLIMIT_NOFILE, &now);
    if (now.rlim_cur < rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("setrlimit(%d fds): %s", fd + 16, strerror(errno));
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0 || dup2(pair[1], fd) < 0)
        die("socketpair/dup2(%d): %s", fd, strerror(errno));
    close(pair[1]);
    struct event_base *base = base_for_method("select");
    struct event *ev = event_new(base, fd, EV_READ, on_read, base);
    if (!ev)
        die("event_new failed");
    printf("event_add(fd %d) in a select base (FD_SETSIZE is %d)\n", fd, FD_SETSIZE);
    if (event_add(ev, NULL) < 0) /* select_add: grow the sets, then FD_SET */
        die("event_add failed");
    if (write(pair[0], "x", 1) != 1)
        die("write: %s", strerror(errno));
    if (event_base_dispatch(base) < 0)
        die("event_base_dispatch failed");
    event_free(ev);
    event_base_free(base);
    exit(0);
}

/* Run child(fd) in a new process; show its stderr; report how it ended. */
static int run_child(int fd)
{
    int err[2];
    if (pipe(err) < 0)
        die("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(err[0]);
        dup2(err[1], STDERR_FILENO);
        signal(SIGABRT, on_abort);
        child(fd);
    }
    close(err[1]);
    char buf[8192];
    size_t len = 0;
    for (ssize_t n; (n = read(err[0], buf + len, sizeof buf - 1 - len)) > 0;)
        len += (size_t)n;
    buf[len] = '\0';
    close(err[0]);
    int status;
    waitpid(pid, &status, 0);
    if (len)
        printf("child's stderr:\n%s", buf);
    if (strstr(buf, "bit out of range") && strstr(buf, "__fdelt_chk"))
        printf("=> the abort is glibc's fortify check (__fdelt_chk), called from inside "
               "libevent's event_add\n");
    if (WIFSIGNALED(status))
        printf("child died of signal %d (%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        printf("child exited with status %d\n", WEXITSTATUS(status));
    return status;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"fd", required_argument, NULL, 'f'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int fd = 1100, big = 2406;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'f': big = (int)lesson_num(optarg, FD_SETSIZE, 60000, "--fd"); break;
        case 's': lesson_stepping = true; break;
        case 'h':
            puts("usage: select_wall [--fd N] [--step]\n"
                 "  --fd N  the fd step 2 serves with the check replaced (default 2406)");
            return 0;
        default: return 2;
        }
    }
    step("1. fd %d in libevent's select backend, with Debian's fortify check", fd);
    run_child(fd);
    step("2. fd %d, with __fdelt_chk replaced by the unchecked arithmetic", big);
    unchecked = true;
    int st = run_child(big);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
