/* Grading for exercise 07 (signals): the `graceful` echo server.
 *
 * Real signals to a real process with real client sockets: the server must
 * turn SIGINT/SIGTERM into a clean exit 0 (each client sees EOF), answer
 * SIGHUP with its live client count, and leave nothing for valgrind to find.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtest.h"
#include "grading.h"

#define PROG evt_target("graceful")

static int start(struct evt_proc *p, const char *const argv[], double timeout_s)
{
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(evt_spawn(p, argv, NULL), 0, "could not start %s", argv[0]);
    int port = evt_wait_port(p, timeout_s);
    if (port <= 0) {
        evt_stop(p, SIGKILL, 1);
        cr_assert_fail(
            "graceful --port 0 never printed \"listening on 127.0.0.1:PORT\" (within %.0f s); "
            "stdout: %.300s stderr: %.300s",
            timeout_s, p->out, p->err);
    }
    return port;
}

/* A client the server has certainly accepted: its echo came back. */
static int client(int port, int i)
{
    int fd = evt_connect(port, 3);
    cr_assert(fd >= 0, "could not connect to the server (client %d): %s", i, strerror(errno));
    char msg[32], got[32] = "";
    snprintf(msg, sizeof msg, "hello %d\n", i);
    evt_write_all(fd, msg, strlen(msg), 3);
    size_t n = evt_read_n(fd, got, strlen(msg), 3);
    cr_assert(n == strlen(msg) && memcmp(got, msg, n) == 0,
              "client %d sent \"hello %d\\n\" and got %zu bytes "
              "back: \"%.*s\" (the starter's echo works; keep it)",
              i, i, n, (int)n, got);
    return fd;
}

static const char *status_text(int st)
{
    static char buf[160];
    if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf,
                 "it was killed by signal %d (%s): the default action of that signal ran, "
                 "so nothing was freed; catch it with evsignal_new()",
                 WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(buf, sizeof buf, "it exited with code %d", WEXITSTATUS(st));
    return buf;
}

static void check_shutdown(int sig, const char *name)
{
    struct evt_proc p;
    int port = start(&p, EVT_ARGV(PROG, "--port", "0"), 5);
    int a = client(port, 1), b = client(port, 2);
    int st = evt_stop(&p, sig, 3);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "after %s the server must free everything and exit 0; %s. "
              "stderr: %.300s",
              name, status_text(st), p.err);
    char want[64];
    snprintf(want, sizeof want, "shutting down (%s)", name);
    cr_assert(strstr(p.out, want), "after %s, stdout must have the line \"%s\"; it was: %.300s",
              name, want, p.out);
    cr_assert(evt_wait_eof(a, 2) && evt_wait_eof(b, 2),
              "after %s both connected clients must see the "
              "connection close",
              name);
    close(a);
    close(b);
    evt_proc_free(&p);
}

GRADED(signals, t01_sigterm_exits_0, 3, 10.0, "SIGTERM: clients closed, exit 0")
{
    check_shutdown(SIGTERM, "SIGTERM");
}

GRADED(signals, t02_sigint_exits_0, 2, 10.0, "SIGINT: clients closed, exit 0")
{
    check_shutdown(SIGINT, "SIGINT");
}

/* Send SIGHUP until the line "clients: N" appears (the server may not have
 * seen a close yet); true if it did within timeout_s. */
static bool hup_until(struct evt_proc *p, int n, double timeout_s)
{
    char want[32];
    snprintf(want, sizeof want, "clients: %d\n", n);
    double deadline = evt_now() + timeout_s;
    size_t from = p->out_len;
    while (evt_now() < deadline) {
        kill(p->pid, SIGHUP);
        evt_drain(p, 0.1);
        if (strstr(p->out + from, want))
            return true;
    }
    return false;
}

GRADED(signals, t03_sighup_counts_clients, 2, 10.0,
       "SIGHUP: prints the number of connected clients, keeps running")
{
    struct evt_proc p;
    int port = start(&p, EVT_ARGV(PROG, "--port", "0"), 5);
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = client(port, i);
    bool three = hup_until(&p, 3, 3);
    int st = 0;
    bool alive = waitpid(p.pid, &st, WNOHANG) == 0;
    cr_assert(alive, "after SIGHUP the server is gone: %s", status_text(st));
    cr_assert(three,
              "with 3 clients connected, SIGHUP must print \"clients: 3\"; stdout was: %.300s",
              p.out);
    close(fds[0]);
    bool two = hup_until(&p, 2, 3);
    cr_assert(
        two,
        "after one of 3 clients closed its connection, SIGHUP must print \"clients: 2\" (count "
        "a client out when its connection ends); stdout was: %.300s",
        p.out);
    close(client(port, 9));
    int st2 = evt_stop(&p, SIGTERM, 3);
    cr_assert(WIFEXITED(st2) && WEXITSTATUS(st2) == 0, "after SIGHUPs and SIGTERM: %s",
              status_text(st2));
    close(fds[1]);
    close(fds[2]);
    evt_proc_free(&p);
}

GRADED(signals, t04_valgrind_clean_shutdown, 4, 25.0,
       "valgrind: every block freed, no socket left open at exit")
{
    if (access("/usr/bin/valgrind", X_OK) != 0)
        cr_skip_test("valgrind is not installed here");
    char log[128], logarg[160];
    snprintf(log, sizeof log, "/tmp/evlab-07-vg-%d.log", (int)getpid());
    snprintf(logarg, sizeof logarg, "--log-file=%s", log);
    struct evt_proc p;
    int port = start(&p,
                     EVT_ARGV("/usr/bin/valgrind", "--error-exitcode=99", "--leak-check=full",
                              "--show-leak-kinds=all", "--errors-for-leak-kinds=all",
                              "--track-fds=yes", logarg, PROG, "--port", "0"),
                     20);
    for (int i = 0; i < 5; i++)
        close(client(port, 10 + i)); /* connections that came and went */
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = client(port, i); /* and three still open at the end */
    int st = evt_stop(&p, SIGTERM, 15);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    char rep[4096] = "";
    FILE *f = fopen(log, "r");
    if (f) {
        rep[fread(rep, 1, sizeof rep - 1, f)] = '\0';
        fclose(f);
    }
    unlink(log);
    evt_proc_free(&p);
    cr_assert(WIFEXITED(st), "under valgrind, after SIGTERM: %s", status_text(st));
    const char *sock = strstr(rep, "Open AF_INET socket");
    cr_assert_null(
        sock,
        "a TCP socket was still open at exit (valgrind --track-fds): free every "
        "connection's bufferevent (BEV_OPT_CLOSE_ON_FREE closes it) and the listener:\n%.700s",
        sock);
    const char *heap = strstr(rep, "HEAP SUMMARY");
    cr_assert(
        !strstr(rep, "LEAK SUMMARY") && WEXITSTATUS(st) != 99,
        "valgrind found memory still allocated, "
        "or a memory error, at exit (3 clients were connected at SIGTERM): free every client, the "
        "listener, the signal events and the base before main() returns:\n%.1500s",
        heap ? heap : rep);
    cr_assert_eq(WEXITSTATUS(st), 0,
                 "under valgrind the server exited with %d after SIGTERM:\n%.1500s",
                 WEXITSTATUS(st), rep);
}
