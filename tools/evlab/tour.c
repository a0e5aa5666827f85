/* tour.c -- the tour: each lesson's goal, then its steps (the observation,
 * the command, its output), then "Try this" and the questions.
 *
 * A lesson's steps come from lessons/NN-slug/tour.md:
 *
 *   ## Step title
 *   run: program --flags            a lesson program, output shown live
 *   server: program --port 0        started in the background; the tour waits
 *                                   for "127.0.0.1:PORT" (or wait: TEXT)
 *   client: echo 3145728            bytes to the server, checked byte-exact
 *   client: line TEXT               one line, and the reply
 *   client: connect N               N clients at once; when each is answered
 *   write: TEXT                     one line into {tmp}/fifo, then close
 *   signal: HUP|INT|TERM            send the server a signal, show what it says
 *   stop: TERM|INT|HUP              signal the server, wait for it to exit
 *   predict: the question           then "- a: option" lines, and
 *   answer: a / expect: TEXT / why: the one-line reason
 *   needs: FILE PACKAGE             skip the step when FILE is missing
 *   after: TEXT                     a note shown right after the output
 *   other lines                     the observation (Markdown)
 *
 * {port} is the server's port, {tmp} a private temporary directory.
 * `expect` must appear in the step's output: `./evlab tour --check NN` runs a
 * lesson without questions and fails when a prediction's answer does not
 * match the program (tests/tools/tour.c runs it for every lesson).
 *
 * Keys (one key, no Enter): Enter next, b back, q quit (the tour resumes at
 * this step), ? help; Ctrl-C stops the running program and returns here.
 * On a terminal everything is shown one screen at a time (screen.c): a full
 * screen waits at "-- more --" while programs and servers run on, their
 * output kept for the next screen.
 * Without a terminal the tour runs straight through, with no escape codes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "evlab.h"
#include "screen.h"

extern char **environ;

/* ---- the script ------------------------------------------------------------------ */

#define MAX_ACTIONS 16
#define MAX_OPTS 6

struct step {
    char *title;
    struct buf observe;
    char *action[MAX_ACTIONS];
    int nactions;
    char *question;
    char opt_key[MAX_OPTS];
    char *opt[MAX_OPTS];
    int nopts;
    char answer;
    char *expect, *why;
    char *needs;      /* "FILE PACKAGE": the step is skipped when FILE is missing */
    struct buf after; /* shown right after the output */
};

static void steps_free(struct step *s, int n)
{
    for (int i = 0; i < n; i++) {
        free(s[i].title);
        buf_free(&s[i].observe);
        for (int a = 0; a < s[i].nactions; a++)
            free(s[i].action[a]);
        free(s[i].question);
        for (int o = 0; o < s[i].nopts; o++)
            free(s[i].opt[o]);
        free(s[i].expect);
        free(s[i].why);
        free(s[i].needs);
        buf_free(&s[i].after);
    }
    free(s);
}

static bool key_is(const char *line, const char *key, const char **val)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0 || line[k] != ':')
        return false;
    *val = line + k + 1 + strspn(line + k + 1, " ");
    return true;
}

/* Parse tour.md; returns the number of steps (0: none / no file). */
int tour_parse(const char *text, struct step **out)
{
    struct step *s = NULL;
    int n = 0;
    char *copy = strdup(text);
    bool in_opts = false;
    for (char *line = copy; line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        const char *v;
        if (strncmp(line, "## ", 3) == 0) {
            s = realloc(s, sizeof *s * (size_t)(n + 1));
            memset(&s[n], 0, sizeof s[n]);
            s[n++].title = strdup(line + 3);
            in_opts = false;
        } else if (!n || line[0] == '#') {
            /* the file's own title and preamble */
        } else if (key_is(line, "run", &v) || key_is(line, "server", &v) ||
                   key_is(line, "client", &v) || key_is(line, "stop", &v) ||
                   key_is(line, "write", &v) || key_is(line, "wait", &v) ||
                   key_is(line, "signal", &v)) {
            if (s[n - 1].nactions < MAX_ACTIONS)
                s[n - 1].action[s[n - 1].nactions++] = strdup(line);
            in_opts = false;
        } else if (key_is(line, "predict", &v)) {
            s[n - 1].question = strdup(v);
            in_opts = true;
        } else if (key_is(line, "answer", &v)) {
            s[n - 1].answer = v[0];
            in_opts = false;
        } else if (key_is(line, "expect", &v)) {
            s[n - 1].expect = strdup(v);
        } else if (key_is(line, "why", &v)) {
            s[n - 1].why = strdup(v);
        } else if (key_is(line, "after", &v)) {
            buf_printf(&s[n - 1].after, "%s\n", v);
            in_opts = false;
        } else if (key_is(line, "needs", &v)) {
            s[n - 1].needs = strdup(v);
        } else if (in_opts && line[0] == '-' && line[1] == ' ' && line[2] && line[3] == ':') {
            struct step *st = &s[n - 1];
            if (st->nopts < MAX_OPTS) {
                st->opt_key[st->nopts] = line[2];
                st->opt[st->nopts++] = strdup(line + 4 + strspn(line + 4, " "));
            }
        } else {
            buf_printf(&s[n - 1].observe, "%s\n", line);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
    *out = s;
    return n;
}

/* ---- the terminal ------------------------------------------------------------ */

static int term_rows(void)
{
    const char *l = getenv("LINES");
    if (l && atoi(l) >= 5)
        return atoi(l);
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row >= 5)
        return ws.ws_row;
    return 24;
}

static bool interactive;
static void on_sigint(int sig)
{
    (void)sig;
    tour_sigint = 1;
}

/* The process groups the tour has started and not yet stopped: a program and
 * a server. A closed terminal window (SIGHUP) or a kill (SIGTERM) ends the
 * tour; it takes them with it, or a lesson's server would keep its port. */
static volatile sig_atomic_t live_group[2];

static void group_started(pid_t pgid)
{
    for (int i = 0; i < 2; i++)
        if (!live_group[i]) {
            live_group[i] = pgid;
            return;
        }
}

static void group_stopped(pid_t pgid)
{
    kill(-pgid, SIGKILL); /* anything the program left in its group */
    for (int i = 0; i < 2; i++)
        if (live_group[i] == pgid)
            live_group[i] = 0;
}

static void on_hangup(int sig)
{
    for (int i = 0; i < 2; i++)
        if (live_group[i])
            kill(-(pid_t)live_group[i], SIGKILL);
    scr_tty_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Long text (more than a screen) through $PAGER (default less -R; -X -F so
 * it stays on screen) on a terminal; shorter text, text without a terminal,
 * or when the pager cannot be run: through the screen (screen.c), which
 * stops at "-- more --" when the screen is full. */
static void page(const char *text)
{
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    const char *pager = getenv("PAGER");
    char *cmd = strdup(pager && *pager ? pager : "less -R -X -F");
    char *argv[16], *save = NULL;
    int a = 0;
    for (char *w = strtok_r(cmd, " ", &save); w && a < 15; w = strtok_r(NULL, " ", &save))
        argv[a++] = w;
    argv[a] = NULL;
    if (!interactive || lines <= term_rows() - 2 || !a || !in_path(argv[0])) {
        scr_write(text, strlen(text));
        free(cmd);
        return;
    }
    scr_flush();
    int p[2];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    if (pipe(p) != 0) {
        scr_write(text, strlen(text));
        free(cmd);
        return;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[0], STDIN_FILENO);
    posix_spawn_file_actions_addclose(&fa, p[1]);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[0]);
    if (rc != 0) {
        close(p[1]);
        scr_write(text, strlen(text));
    } else {
        size_t len = strlen(text), off = 0;
        while (off < len) {
            ssize_t w = write(p[1], text + off, len - off);
            if (w <= 0)
                break; /* the reader quit the pager */
            off += (size_t)w;
        }
        close(p[1]);
        waitpid(pid, NULL, 0);
        scr_keyed(); /* the reader left the pager with a key */
    }
    free(cmd);
}

static void wrapped(const char *text, const char *first, const char *rest)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f)
        return;
    render_wrapped(text, first, rest, f);
    fclose(f);
    scr_write(s, n);
    free(s);
}

static void md(const char *text)
{
    struct buf b = {0};
    render_markdown_buf(text, &b, term_width());
    page(b.p ? b.p : "");
    buf_free(&b);
}

/* ---- running steps ------------------------------------------------------------------ */

struct run_ctx {
    const struct unit *u;
    pid_t server;
    int server_fd;
    int port;
    char tmp[64];
    struct buf out; /* everything the step showed, for `expect` */
    bool interrupted;
    bool broken; /* a program did not build or start */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "{port}" and "{tmp}" substituted; then split at spaces. */
static int split_args(struct run_ctx *c, const char *spec, char ***argv)
{
    struct buf b = {0};
    for (const char *p = spec; *p; p++) {
        if (strncmp(p, "{port}", 6) == 0) {
            buf_printf(&b, "%d", c->port);
            p += 5;
        } else if (strncmp(p, "{tmp}", 5) == 0) {
            buf_printf(&b, "%s", c->tmp);
            p += 4;
        } else {
            buf_add(&b, p, 1);
        }
    }
    int n = 0;
    *argv = calloc(64, sizeof **argv);
    char *save = NULL;
    for (char *w = strtok_r(b.p, " ", &save); w && n < 63; w = strtok_r(NULL, " ", &save))
        (*argv)[n++] = strdup(w);
    buf_free(&b);
    return n;
}

static void say(struct run_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct run_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        return;
    scr_printf("%s%s%s\n", col("33"), s, col("0"));
    buf_printf(&c->out, "%s\n", s);
    free(s);
}

/* Read what the server printed into the step's output and onto the screen;
 * false at EOF. */
static bool server_read(struct run_ctx *c)
{
    char tmp[4096];
    ssize_t n = read(c->server_fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR)
        return true;
    if (n <= 0) {
        close(c->server_fd);
        c->server_fd = -1;
        return false;
    }
    buf_add(&c->out, tmp, (size_t)n);
    scr_output(tmp, (size_t)n); /* may read more of it while at "-- more --" */
    return true;
}

/* Copy what the server printed in the next `secs` (or until `needle`). */
static bool server_output(struct run_ctx *c, double secs, const char *needle)
{
    double end = now_s() + secs;
    size_t from = c->out.len;
    for (;;) {
        if (needle && c->out.p && strstr(c->out.p + from, needle))
            return true;
        double left = end - now_s();
        if (left <= 0 || c->server_fd < 0)
            return false;
        if (tour_sigint) {
            c->interrupted = true;
            return false;
        }
        struct pollfd pf = {c->server_fd, POLLIN, 0};
        if (poll(&pf, 1, (int)(left * 1000) + 1) > 0)
            server_read(c);
    }
}

/* What the server has printed so far, without waiting. */
static void server_drain(struct run_ctx *c)
{
    while (c->server_fd >= 0) {
        struct pollfd pf = {c->server_fd, POLLIN, 0};
        if (poll(&pf, 1, 0) <= 0 || !server_read(c))
            return;
    }
}

static void server_stop(struct run_ctx *c, int sig, const char *name)
{
    if (c->server <= 0)
        return;
    scr_printf("%s$ kill -%s %d%s   (the server)\n", col("1;32"), name, (int)c->server, col("0"));
    kill(-c->server, sig);
    int st = 0;
    double end = now_s() + 5;
    pid_t w = 0;
    scr_hold(true); /* the 5 s are the server's, not the reader's */
    while ((w = waitpid(c->server, &st, WNOHANG)) == 0 && now_s() < end)
        server_output(c, 0.05, NULL);
    scr_hold(false);
    scr_flush();
    if (w == 0) {
        kill(-c->server, SIGKILL);
        waitpid(c->server, &st, 0);
        say(c, "(the server did not stop within 5 s; the tour killed it)");
    } else if (w > 0) {
        char d[96];
        server_output(c, 0.3, NULL);
        say(c, "(the server %s)", describe_status(st, d, sizeof d));
    }
    group_stopped(c->server);
    if (c->server_fd >= 0)
        close(c->server_fd);
    c->server_fd = -1;
    c->server = 0;
}

static int build_prog(struct run_ctx *c, const char *prog, char **path)
{
    if (build_lesson_program(c->u, prog) != 0)
        return -1;
    *path = xasprintf("%s/%s/lessons/%s/%s", g_root, g_build, c->u->name, prog);
    return 0;
}

static void show_cmd(char **argv, int n)
{
    scr_printf("%s$ ", col("1;32"));
    for (int i = 0; i < n; i++)
        scr_printf("%s%s", i ? " " : "", argv[i]);
    scr_printf("%s\n", col("0"));
}

/* Start path with argv in its own process group (stopped whole by the tour,
 * never by the terminal's Ctrl-C), stdin from /dev/null, stdout and stderr
 * into a pipe whose read end goes to *out. envp NULL: our environment. */
static int spawn_prog(const char *path, char **argv, char **envp, pid_t *pid, int *out)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return errno;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t def, none;
    sigemptyset(&def);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaddset(&def, sig); /* (glibc's own signals are refused: fine) */
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawn(pid, path, &fa, &at, argv, envp ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        *pid = 0;
        return rc;
    }
    group_started(*pid);
    *out = p[0];
    return 0;
}

/* spawn_prog with the built program's path in argv[0] for the call; on a
 * failure the step is marked broken. Frees path (the words are the caller's). */
static bool start_prog(struct run_ctx *c, char *path, char **argv, char **env, pid_t *pid, int *out)
{
    char *name = argv[0];
    argv[0] = path;
    int rc = spawn_prog(path, argv, env, pid, out);
    argv[0] = name;
    if (rc != 0) {
        say(c, "(could not start %s: %s)", path, strerror(rc));
        c->broken = true;
    }
    free(path);
    return rc == 0;
}

static void action_server(struct run_ctx *c, char **argv, int n)
{
    char *path;
    if (build_prog(c, argv[0], &path) != 0) {
        c->broken = true;
        return;
    }
    show_cmd(argv, n);
    if (!start_prog(c, path, argv, NULL, &c->server, &c->server_fd))
        return;
    scr_printf("%s(started in the background as pid %d; its output follows as it comes)%s\n",
               col("2"), (int)c->server, col("0"));
    /* Wait for the port (servers print "listening on 127.0.0.1:PORT"); a
     * program without --port is followed by a wait: line instead. */
    bool has_port = false;
    for (int i = 1; i < n; i++)
        has_port = has_port || strcmp(argv[i], "--port") == 0;
    double end = now_s() + (has_port ? 10 : 0);
    while (now_s() < end && c->server_fd >= 0) {
        size_t from = c->out.len;
        server_output(c, 0.1, NULL);
        const char *at_ =
            c->out.p ? strstr(c->out.p + (from > 64 ? from - 64 : 0), "127.0.0.1:") : NULL;
        if (at_ && atoi(at_ + 10) > 0) {
            c->port = atoi(at_ + 10);
            break;
        }
    }
}

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void client_echo(struct run_ctx *c, size_t total)
{
    int fd = connect_port(c->port);
    if (fd < 0) {
        say(c, "client: cannot connect to 127.0.0.1:%d: %s", c->port, strerror(errno));
        return;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    unsigned char *data = malloc(total), *back = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    size_t sent = 0, got = 0;
    double end = now_s() + 20;
    while (got < total && now_s() < end && !tour_sigint) {
        server_drain(c);
        struct pollfd pf = {fd, (short)(POLLIN | (sent < total ? POLLOUT : 0)), 0};
        if (poll(&pf, 1, 200) <= 0)
            continue;
        if (pf.revents & POLLOUT) {
            ssize_t w = send(fd, data + sent, total - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
        }
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(fd, back + got, total - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
    }
    close(fd);
    bool same = got == total && memcmp(data, back, total) == 0;
    say(c, "client: sent %zu bytes (%.1f MiB), got %zu back%s", sent, (double)sent / 1048576, got,
        same           ? ", byte-exact"
        : got == total ? ", but they DIFFER"
                       : " (then it stopped)");
    free(data);
    free(back);
}

static void client_line(struct run_ctx *c, const char *text)
{
    int fd = connect_port(c->port);
    if (fd < 0) {
        say(c, "client: cannot connect to 127.0.0.1:%d: %s", c->port, strerror(errno));
        return;
    }
    char *msg = xasprintf("%s\n", text);
    if (send(fd, msg, strlen(msg), MSG_NOSIGNAL) < 0)
        say(c, "client: send: %s", strerror(errno));
    char reply[4096];
    size_t got = 0;
    double end = now_s() + 3;
    while (got < sizeof reply - 1 && now_s() < end && !memchr(reply, '\n', got) && !tour_sigint) {
        server_drain(c);
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, reply + got, sizeof reply - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    reply[got] = '\0';
    reply[strcspn(reply, "\n")] = '\0';
    say(c, "client: sent \"%s\", got %s%s%s", text, got ? "\"" : "nothing", got ? reply : "",
        got ? "\"" : "");
    close(fd);
    free(msg);
}

/* N clients connect at once; when does each get its first bytes? */
static void client_connect(struct run_ctx *c, int n)
{
    if (n < 1 || n > 16)
        n = 2;
    int fds[16];
    double t0 = now_s(), when[16];
    for (int i = 0; i < n; i++) {
        fds[i] = connect_port(c->port);
        when[i] = -1;
    }
    int left = 0;
    for (int i = 0; i < n; i++)
        left += fds[i] >= 0;
    while (left && now_s() < t0 + 10 && !tour_sigint) {
        server_drain(c);
        struct pollfd pf[16];
        for (int i = 0; i < n; i++)
            pf[i] = (struct pollfd){when[i] < 0 ? fds[i] : -1, POLLIN, 0};
        if (poll(pf, (nfds_t)n, 100) <= 0)
            continue;
        for (int i = 0; i < n; i++)
            if (pf[i].fd >= 0 && pf[i].revents) {
                when[i] = now_s() - t0;
                left--;
            }
    }
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            say(c, "client %d: could not connect", i + 1);
        else if (when[i] < 0)
            say(c, "client %d: nothing within 10 s", i + 1);
        else
            say(c, "client %d: first bytes after %.1f s", i + 1, when[i]);
        if (fds[i] >= 0)
            close(fds[i]);
    }
}

static void action_write(struct run_ctx *c, const char *text)
{
    char *path = xasprintf("%s/fifo", c->tmp);
    scr_printf("%s$ echo '%s' > %s%s\n", col("1;32"), text, path, col("0"));
    int fd = -1;
    double end = now_s() + 5;
    while (fd < 0 && now_s() < end) {
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            server_output(c, 0.05, NULL);
    }
    if (fd < 0) {
        say(c, "(nobody has %s open for reading: %s)", path, strerror(errno));
    } else {
        char *line = xasprintf("%s\n", text);
        if (write(fd, line, strlen(line)) < 0)
            say(c, "write: %s", strerror(errno));
        free(line);
        close(fd);
    }
    free(path);
    server_output(c, 0.5, NULL);
}

/* Our environment without EVLAB_STEP (step mode is the reader's choice, not
 * the tour's) and Criterion's BXFI_ variables, with `set` (VAR=value) added. */
static char **prog_env(char **set, int nset)
{
    int n = 0;
    while (environ[n])
        n++;
    char **env = calloc((size_t)(n + nset + 1), sizeof *env);
    int k = 0;
    for (int i = 0; i < n; i++) {
        const char *e = environ[i];
        size_t kl = strcspn(e, "=");
        bool drop = strncmp(e, "EVLAB_STEP=", 11) == 0 || strncmp(e, "BXFI_", 5) == 0;
        for (int j = 0; j < nset && !drop; j++)
            drop = strncmp(e, set[j], kl + 1) == 0;
        if (!drop)
            env[k++] = environ[i];
    }
    for (int j = 0; j < nset; j++)
        env[k++] = set[j];
    return env;
}

/* Run a program and show its output as it comes (through the screen, which
 * keeps reading it while the reader looks at "-- more --"). Ctrl-C sends it
 * SIGINT, the time limit SIGTERM; SIGKILL 2 s later. argv[-nenv .. -1] are
 * VAR=value words that came before the program. */
static void action_run(struct run_ctx *c, char **argv, int n, int nenv, double timeout)
{
    char *path;
    if (build_prog(c, argv[0], &path) != 0) {
        say(c, "(%s did not build)", argv[0]);
        c->broken = true;
        return;
    }
    show_cmd(argv - nenv, n + nenv);
    char **env = prog_env(argv - nenv, nenv);
    pid_t pid;
    int fd = -1;
    bool started = start_prog(c, path, argv, env, &pid, &fd);
    free(env);
    if (!started)
        return;
    scr_sources(&c->server_fd, &fd, &c->out);
    double t0 = now_s(), kill_at = 0;
    bool timed_out = false, interrupted = false, quit = false;
    int st = 0;
    pid_t w = 0;
    for (;;) {
        if ((w = waitpid(pid, &st, WNOHANG)) != 0) {
            /* What it wrote before it ended is in the pipe (a child it left
             * behind may hold the pipe open: no waiting for EOF). */
            for (struct pollfd pf = {fd, POLLIN, 0}; fd >= 0 && poll(&pf, 1, 0) > 0;) {
                char tmp[4096];
                ssize_t r = read(fd, tmp, sizeof tmp);
                if (r <= 0)
                    break;
                if (c->out.len < (1u << 20))
                    buf_add(&c->out, tmp, (size_t)r);
                scr_output(tmp, (size_t)r);
                pf.fd = fd;
            }
            break;
        }
        double now = now_s();
        if ((tour_sigint || scr_quit()) && !interrupted && !quit) {
            interrupted = tour_sigint, quit = !tour_sigint;
            kill(-pid, quit ? SIGTERM : SIGINT);
            kill_at = now + 2;
        }
        if (!timed_out && !interrupted && !quit && now - t0 >= timeout) {
            timed_out = true;
            kill(-pid, SIGTERM);
            kill_at = now + 2;
        }
        if (kill_at && now >= kill_at)
            kill(-pid, SIGKILL);
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, fd >= 0 ? 100 : 20) <= 0 || fd < 0)
            continue;
        char tmp[4096];
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            fd = -1;
            continue;
        }
        if (c->out.len < (1u << 20))
            buf_add(&c->out, tmp, (size_t)r);
        scr_output(tmp, (size_t)r);
    }
    if (w < 0)
        st = -1;
    group_stopped(pid);
    if (fd >= 0)
        close(fd);
    scr_sources(&c->server_fd, NULL, &c->out);
    if (interrupted) {
        c->interrupted = true;
        say(c, "(stopped with Ctrl-C)");
    } else if (quit) {
        /* q at "-- more --": the tour ends; nothing to say */
    } else if (timed_out) {
        say(c, "(stopped after %g s)", timeout);
    } else if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
        say(c, "(exit status %d)", WEXITSTATUS(st));
    } else if (st != -1 && !WIFEXITED(st)) {
        char d[96];
        say(c, "(the program %s)", describe_status(st, d, sizeof d));
    }
}

static const struct {
    const char *name;
    int sig;
} sigs[] = {{"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},
            {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"KILL", SIGKILL}};

/* Run one step's actions. Output goes to the terminal and into c->out. */
static void run_step(struct run_ctx *c, const struct step *st, double timeout)
{
    tour_sigint = 0;
    scr_new_step();
    scr_sources(&c->server_fd, NULL, &c->out);
    for (int a = 0; a < st->nactions && !c->interrupted && !tour_sigint && !scr_quit(); a++) {
        const char *line = st->action[a], *v;
        char **argv;
        int n;
        if (key_is(line, "run", &v)) {
            n = split_args(c, v, &argv);
            int nenv = 0;
            while (nenv < n && strchr(argv[nenv], '=') && argv[nenv][0] != '-')
                nenv++;
            if (n > nenv)
                action_run(c, argv + nenv, n - nenv, nenv, timeout);
            server_output(c, 0.2, NULL);
        } else if (key_is(line, "server", &v)) {
            server_stop(c, SIGTERM, "TERM");
            n = split_args(c, v, &argv);
            if (n)
                action_server(c, argv, n);
        } else if (key_is(line, "wait", &v)) {
            if (!server_output(c, 10, v))
                say(c, "(waited 10 s for \"%s\")", v);
            continue;
        } else if (key_is(line, "write", &v)) {
            action_write(c, v);
            continue;
        } else if (key_is(line, "signal", &v)) {
            for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
                if (strcmp(v, sigs[k].name) == 0 && c->server > 0) {
                    scr_printf("%s$ kill -%s %d%s\n", col("1;32"), v, (int)c->server, col("0"));
                    kill(-c->server, sigs[k].sig);
                }
            server_output(c, 0.5, NULL);
            continue;
        } else if (key_is(line, "stop", &v)) {
            int sig = SIGTERM;
            const char *name = "TERM";
            for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
                if (strcmp(v, sigs[k].name) == 0)
                    sig = sigs[k].sig, name = sigs[k].name;
            server_stop(c, sig, name);
            continue;
        } else if (key_is(line, "client", &v)) {
            scr_hold(true); /* the client's timing is not the reader's */
            if (strncmp(v, "echo ", 5) == 0)
                client_echo(c, (size_t)strtoul(v + 5, NULL, 10));
            else if (strncmp(v, "line ", 5) == 0)
                client_line(c, v + 5);
            else if (strncmp(v, "connect ", 8) == 0)
                client_connect(c, atoi(v + 8));
            scr_hold(false);
            scr_flush();
            server_output(c, 0.3, NULL);
            continue;
        } else {
            continue;
        }
        for (int i = 0; i < n; i++)
            free(argv[i]);
        free(argv);
    }
    if (tour_sigint && !c->interrupted) {
        c->interrupted = true;
        say(c, "(stopped with Ctrl-C)");
    } else if (tour_sigint) {
        say(c, "(stopped with Ctrl-C)");
    }
    server_stop(c, SIGTERM, "TERM"); /* nothing is left running after a step */
    scr_new_step();                  /* c is gone after this step */
}

/* ---- the tour ------------------------------------------------------------------------ */

static char *lesson_text(const struct unit *u, const char *file)
{
    char *path = xasprintf("%s/%s", u->dir, file);
    char *t = read_file(path, NULL);
    free(path);
    return t;
}

/* The README's "**Goal.** ..." paragraph (or its first paragraph). */
static char *goal_of(const char *readme)
{
    const char *g = strstr(readme, "**Goal.**");
    if (!g) {
        g = strstr(readme, "\n\n");
        g = g ? g + 2 : readme;
    }
    const char *end = strstr(g, "\n\n");
    return end ? strndup(g, (size_t)(end - g + 1)) : strdup(g);
}

static void help_keys(void)
{
    scr_printf("%sKeys%s (one key, no Enter): Enter or space: go on, b: back a step,\n"
               "  q: quit (the tour resumes here), ?: this help.\n"
               "  While a program runs, Ctrl-C stops it and brings you back here.\n"
               "  A full screen stops at a \"more\" line: Enter shows the next one.\n",
               col("1"), col("0"));
}

/* The prompt between steps; returns '\n', 'b' or 'q'. */
static int prompt(const char *what)
{
    for (;;) {
        if (scr_quit())
            return 'q'; /* q at "-- more --" */
        scr_raw();
        scr_printf("%s[Enter: %s   b: back   q: quit   ?: keys]%s ", col("7"), what, col("0"));
        int k = scr_key();
        scr_printf("\n");
        if (k == '\n' || k == ' ')
            return '\n';
        if (k == 'q' || k == 'Q' || k == 3 || k == 4)
            return 'q';
        if (k == 'b' || k == 'B')
            return 'b';
        help_keys();
    }
}

struct tour_opts {
    bool check; /* run one lesson, no questions; fail on a wrong answer */
    double timeout;
};

enum { GO_NEXT, GO_BACK, GO_QUIT };

/* One step: observation, prediction, run, verdict. Returns GO_*; *failed
 * counts predictions whose expected output did not appear. */
static int do_step(const struct unit *u, const struct step *st, int k, int nsteps,
                   const struct tour_opts *o, int *failed)
{
    scr_printf("\n%s── Step %d of %d: %s%s\n", col("1;36"), k + 1, nsteps, st->title, col("0"));
    if (st->observe.p)
        md(st->observe.p);
    if (scr_quit())
        return GO_QUIT;
    if (st->needs) {
        char file[512] = "", pkg[128] = "";
        sscanf(st->needs, "%511s %127s", file, pkg);
        if (!file_exists(file)) {
            scr_printf("%s(This step needs %s, which the tour group does not install: "
                       "make bench does. Skipped.)%s\n",
                       col("33"), pkg[0] ? pkg : file, col("0"));
            if (!interactive || o->check)
                return GO_NEXT;
            int key = prompt(k + 1 < nsteps ? "next step" : "the end of this lesson");
            return key == 'q' ? GO_QUIT : key == 'b' ? GO_BACK : GO_NEXT;
        }
    }
    int choice = 0;
    if (st->question) {
        scr_printf("\n%sPredict:%s\n", col("1;33"), col("0"));
        wrapped(st->question, "", "");
        for (int i = 0; i < st->nopts; i++) {
            char *first = xasprintf("  %c) ", st->opt_key[i]);
            wrapped(st->opt[i], first, "     ");
            free(first);
        }
        if (interactive) {
            for (;;) {
                scr_raw();
                scr_printf("%s[press %c-%c to answer, Enter to skip, b, q, ?]%s ", col("7"),
                           st->opt_key[0], st->opt_key[st->nopts ? st->nopts - 1 : 0], col("0"));
                int key = scr_key();
                scr_printf("\n");
                if (key == 'q' || key == 3 || key == 4)
                    return GO_QUIT;
                if (key == 'b' && !memchr(st->opt_key, 'b', (size_t)st->nopts))
                    return GO_BACK;
                if (key == '?') {
                    help_keys();
                    continue;
                }
                if (key == '\n' || key == ' ')
                    break;
                if (memchr(st->opt_key, key, (size_t)st->nopts)) {
                    choice = key;
                    scr_printf("You chose %c. Running it:\n", key);
                    break;
                }
            }
        } else {
            scr_printf("(Think of your answer: it is given after the output.)\n");
        }
    }
    struct run_ctx c = {.u = u, .server_fd = -1};
    snprintf(c.tmp, sizeof c.tmp, "/tmp/evlab-tour-XXXXXX");
    if (!mkdtemp(c.tmp))
        c.tmp[0] = '\0';
    run_step(&c, st, o->timeout);
    bool quit = scr_quit();
    if (c.tmp[0]) {
        char *f = xasprintf("%s/fifo", c.tmp);
        unlink(f);
        free(f);
        rmdir(c.tmp);
    }
    if (quit) {
        buf_free(&c.out);
        return GO_QUIT;
    }
    if (st->after.p && !c.interrupted) {
        scr_printf("\n");
        struct buf b = {0};
        buf_printf(&b, "> %s", st->after.p);
        for (char *nl = strchr(b.p, '\n'); nl && nl[1]; nl = strchr(nl + 1, '\n')) {
            /* every line of the note stays in the quote */
            size_t off = (size_t)(nl - b.p) + 1;
            struct buf t = {0};
            buf_add(&t, b.p, off);
            buf_printf(&t, "> %s", b.p + off);
            buf_free(&b);
            b = t;
            nl = b.p + off;
        }
        md(b.p);
        buf_free(&b);
    }
    bool seen = c.out.p && st->expect && strstr(c.out.p, st->expect);
    if (st->question && !c.interrupted) {
        const char *ans = "";
        for (int i = 0; i < st->nopts; i++)
            if (st->opt_key[i] == st->answer)
                ans = st->opt[i];
        if (choice)
            scr_printf("\n%s%s%s ", col(choice == st->answer ? "1;32" : "1;31"),
                       choice == st->answer ? "Right." : "Not this time.", col("0"));
        else
            scr_printf("\n%sAnswer:%s ", col("1"), col("0"));
        scr_printf("%c) %s", st->answer, ans);
        if (st->expect)
            scr_printf(" (the output shows \"%s\")", st->expect);
        scr_printf("\n");
        if (st->why)
            md(st->why);
        if (st->expect && !seen) {
            (*failed)++;
            scr_printf("%sThis run did not show \"%s\": the lesson and its tour disagree "
                       "(please report it).%s\n",
                       col("1;31"), st->expect, col("0"));
        }
    }
    if (o->check && st->question)
        fprintf(stderr, "tour %s step %d (%s): prediction %c: %s\n", u->nn, k + 1, st->title,
                st->answer, seen ? "ok" : "the output does not show the expected text");
    if (o->check && c.broken) {
        (*failed)++;
        fprintf(stderr, "tour %s step %d (%s): a program did not build or start\n", u->nn, k + 1,
                st->title);
    }
    bool stopped = c.interrupted;
    buf_free(&c.out);
    if (stopped) {
        scr_printf("%sStopped. The lesson is not marked as seen.%s\n", col("33"), col("0"));
        if (!interactive)
            return GO_QUIT;
        int k2 = prompt("run it again");
        return k2 == 'q' ? GO_QUIT : k2 == 'b' ? GO_BACK : -1; /* -1: repeat */
    }
    if (!interactive || o->check)
        return GO_NEXT;
    int key = prompt(k + 1 < nsteps ? "next step" : "the end of this lesson");
    return key == 'q' ? GO_QUIT : key == 'b' ? GO_BACK : GO_NEXT;
}

/* A lesson without a tour.md: the text, then its main program. */
static void fallback_steps(const struct unit *u, struct step **out)
{
    char **progs;
    int np = list_programs(u->dir, &progs);
    struct step *s = calloc(1, sizeof *s);
    s->title = strdup("the lesson's program");
    char *main_prog = np ? default_program(u, progs, np) : NULL;
    if (main_prog) {
        s->action[0] = xasprintf("run: %s", main_prog);
        s->nactions = 1;
    }
    free(main_prog);
    free_names(progs, np);
    *out = s;
}

/* Returns GO_NEXT (lesson done), GO_BACK (to the previous lesson) or GO_QUIT;
 * *step is where it stopped. */
static int do_lesson(const struct unit *u, int nn_last, int *step, const struct tour_opts *o,
                     int *failed)
{
    (void)nn_last;
    char *readme = lesson_text(u, "README.md");
    char *script = lesson_text(u, "tour.md");
    struct step *st;
    int ns = script ? tour_parse(script, &st) : 0;
    if (!ns) {
        fallback_steps(u, &st);
        ns = 1;
    }
    if (*step >= ns)
        *step = 0;
    if (*step == 0 && readme) {
        char *goal = goal_of(readme);
        md(goal);
        free(goal);
    }
    int rc = GO_NEXT;
    for (int k = *step; k < ns;) {
        *step = k;
        state_set("tour.last", u->nn);
        char *sv = xasprintf("%d", k);
        state_set("tour.step", sv);
        free(sv);
        int r = do_step(u, &st[k], k, ns, o, failed);
        if (r == GO_QUIT) {
            rc = GO_QUIT;
            break;
        }
        if (r == GO_BACK) {
            if (k == 0) {
                rc = GO_BACK;
                break;
            }
            k--;
        } else if (r == GO_NEXT) {
            k++;
        }
    }
    if (rc == GO_NEXT && readme) {
        struct buf end = {0};
        char *t = md_section(readme, "Try this"), *q = md_section(readme, "Questions");
        if (t)
            buf_printf(&end, "## Try this\n\n%s\n", t);
        if (q)
            buf_printf(&end, "## Questions\n\n%s\n", q);
        if (end.p) {
            scr_printf("\n");
            md(end.p);
        }
        free(t);
        free(q);
        buf_free(&end);
        char *key = xasprintf("lesson.%s", u->name);
        state_set(key, "seen");
        free(key);
        *step = 0;
    }
    steps_free(st, ns);
    free(script);
    free(readme);
    return rc;
}

int cmd_tour(int argc, char **argv)
{
    struct tour_opts o = {0};
    const char *which = NULL;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--check") == 0)
            o.check = true;
        else if (argv[a][0] == '-')
            return err2("tour: unknown option '%s' (tour [NN] [--check])", argv[a]);
        else if (!which)
            which = argv[a];
        else
            return err2("tour takes at most one lesson number");
    }
    if (o.check && !which)
        return err2("tour --check needs a lesson number");
    struct unit *les;
    int n = find_units("lessons", &les);
    if (!n)
        return free(les), err2("there are no lessons yet");
    interactive = stdin_tty() && isatty(STDOUT_FILENO) && !o.check;
    scr_init(interactive, term_rows(), term_width()); /* one screen at a time on a terminal */
    if (!stdin_tty())
        g_color = false; /* make tour </dev/null: plain text, no escape codes */
    o.timeout = interactive ? 300 : 60;
    const char *tt = getenv("EVLAB_TOUR_TIMEOUT"); /* seconds per program (tests) */
    if (tt && atof(tt) > 0)
        o.timeout = atof(tt);
    /* Ctrl-C between programs (a server step, a client) stops the step, not the
     * tour; while a program runs, proc_run catches it the same way. */
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction hup = {.sa_handler = on_hangup};
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    sigaction(SIGTERM, &hup, NULL);
    int start = 0, step = 0;
    if (which) {
        start = pick_unit(which, "lessons", les, n);
        if (start < 0)
            return free(les), 2;
    } else {
        char *last = state_get("tour.last"), *sv = state_get("tour.step");
        for (int i = 0; last && i < n; i++)
            if (strcmp(les[i].nn, last) == 0)
                start = i;
        step = sv ? atoi(sv) : 0;
        if (last)
            scr_printf(
                "%sResuming the tour at lesson %s, step %d (./evlab tour 01 starts over).%s\n",
                col("2"), les[start].nn, step + 1, col("0"));
        free(last);
        free(sv);
    }
    if (interactive)
        help_keys();
    int failed = 0, rc = 0;
    for (int i = start; i < n;) {
        scr_printf("\n%s━━ Lesson %s of %s: %s ━━%s\n\n", col("1;35"), les[i].nn, les[n - 1].nn,
                   les[i].title, col("0"));
        int r = do_lesson(&les[i], n, &step, &o, &failed);
        if (r == GO_QUIT) {
            scr_printf("The tour resumes at lesson %s, step %d, next time (./evlab tour).\n",
                       les[i].nn, step + 1);
            break;
        }
        if (r == GO_BACK) {
            i = i > 0 ? i - 1 : 0;
            step = 0;
            continue;
        }
        if (o.check)
            break;
        if (i + 1 == n) {
            scr_printf("\n%sThat was the last lesson. Next: ./evlab list, ./evlab check.%s\n",
                       col("1"), col("0"));
            state_set("tour.last", NULL);
            state_set("tour.step", NULL);
            break;
        }
        i++;
        step = 0;
        state_set("tour.last", les[i].nn);
        state_set("tour.step", NULL);
        if (interactive && prompt("next lesson") == 'q') {
            scr_printf("The tour resumes at lesson %s next time.\n", les[i].nn);
            break;
        }
    }
    if (o.check && failed)
        rc = 1;
    free(les);
    return rc;
}
