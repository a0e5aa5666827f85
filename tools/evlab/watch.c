/* watch.c -- re-check an exercise whenever one of its files is saved.
 *
 * One event loop with two read events: the inotify descriptor watching the
 * exercise folder (editors often save by writing a new file and renaming it
 * over the old one, so the folder is watched, not the file; IN_ATTRIB makes
 * a plain `touch` count too) and standard input (Enter re-runs the check by
 * hand, for file systems where inotify says nothing, such as some network and
 * VM shares; n moves on; q quits). On a terminal the keys work without Enter:
 * the terminal is put in non-canonical mode (no echo) while watch runs and
 * restored when it ends, also by Ctrl-C. A burst of file events is folded
 * into one check by a short timer.
 *
 * The loop has no signal events: the checks run their children from their
 * own loops (proc.c), and libevent lets only one base handle signals at a
 * time. Ctrl-C ends watch the ordinary way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/inotify.h>
#include <termios.h>
#include <unistd.h>

#include <event2/event.h>

#include "evlab.h"

struct watch {
    struct event_base *base;
    struct event *ev_inotify, *ev_stdin, *ev_settle;
    struct unit *ex;
    int n, cur;
    int ifd, wd;
    bool passed;
    bool raw; /* keys without Enter (stdin is a terminal) */
    struct check_opts co;
};

/* ---- the terminal: single keys while watching -------------------------------------- */

static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void restore_tty(void)
{
    if (tty_changed) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
        tty_changed = 0;
    }
}

static void on_fatal_signal(int sig)
{
    restore_tty(); /* tcsetattr is async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static bool raw_keys(void)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) != 0)
        return false;
    struct termios t = saved_tty;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    struct sigaction sa = {.sa_handler = on_fatal_signal};
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    atexit(restore_tty);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) != 0)
        return false;
    tty_changed = 1;
    return true;
}

static void prompt(struct watch *w)
{
    printf("\n%swatching exercises/%s/%s: save a file to re-check. %s: check now, %sq: quit%s\n",
           col("2"), w->ex[w->cur].name, col("0"), w->raw ? "Enter or c" : "Enter",
           w->passed ? "n: next exercise, " : "", w->raw ? " (no Enter needed)" : "");
    fflush(stdout);
}

static void check_now(struct watch *w)
{
    int rc = check_exercise(&w->ex[w->cur], &w->co);
    /* A solution once earned stays earned: a bad save afterwards does not take
     * back "n" (nor the solution, see student.c). */
    w->passed = rc == 0 || exercise_earned(&w->ex[w->cur]);
    if (w->raw) /* keys typed while the check ran are stale (dropped before the prompt) */
        tcflush(STDIN_FILENO, TCIFLUSH);
    prompt(w);
}

static void add_watch(struct watch *w)
{
    if (w->ifd < 0)
        return;
    if (w->wd >= 0)
        inotify_rm_watch(w->ifd, w->wd);
    w->wd = inotify_add_watch(w->ifd, w->ex[w->cur].dir,
                              IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB);
    if (w->wd < 0)
        printf("(inotify cannot watch %s: %s; press Enter to check)\n", w->ex[w->cur].dir,
               strerror(errno));
}

/* Only sources count: not editor swap files, backups or the build. */
static bool relevant(const char *name)
{
    size_t len = strlen(name);
    if (!len || name[0] == '.' || name[len - 1] == '~')
        return false;
    return (len > 2 && (strcmp(name + len - 2, ".c") == 0 || strcmp(name + len - 2, ".h") == 0));
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct watch *w = arg;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n = read(fd, buf, sizeof buf);
    bool any = false;
    for (char *p = buf; n > 0 && p < buf + n;) {
        struct inotify_event *e = (struct inotify_event *)p;
        if (e->len && relevant(e->name))
            any = true;
        p += sizeof *e + e->len;
    }
    if (any) {
        struct timeval settle = {0, 150 * 1000};
        evtimer_add(w->ev_settle, &settle); /* re-arming folds a burst into one */
    }
}

static void on_settle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct watch *w = arg;
    printf("\n%s-- a file changed: checking again --%s\n", col("1;34"), col("0"));
    check_now(w);
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct watch *w = arg;
    char line[256];
    ssize_t n = read(fd, line, sizeof line - 1);
    if (n <= 0) { /* EOF: keep watching the files, stop reading keys */
        event_del(w->ev_stdin);
        return;
    }
    line[n] = '\0';
    /* One key (raw) or one line: its first non-blank character decides. */
    char c = line[strspn(line, " \t")];
    if (c == 'q' || c == 'Q' || c == 4 /* Ctrl-D */) {
        event_base_loopbreak(w->base);
    } else if (c == 'n') {
        if (!w->passed) {
            printf("Exercise %s does not pass yet; stay with it (or: ./evlab watch NN).\n",
                   w->ex[w->cur].nn);
            prompt(w);
            return;
        }
        /* The next unfinished one after this one (this one may read "failed"
         * after a bad save, but it was earned). */
        int next = -1;
        for (int k = 1; k < w->n && next < 0; k++) {
            int j = (w->cur + k) % w->n;
            if (!exercise_earned(&w->ex[j]))
                next = j;
        }
        if (next < 0) {
            printf("%sEvery exercise passes. Well done!%s\n", col("1;32"), col("0"));
            event_base_loopbreak(w->base);
            return;
        }
        w->cur = next;
        add_watch(w);
        check_now(w);
    } else {
        check_now(w);
    }
}

int cmd_watch(int argc, char **argv)
{
    struct watch w = {.ifd = -1, .wd = -1};
    const char *num = NULL;
    if (check_parse(argc, argv, &w.co, &num))
        return 2;
    w.n = find_units("exercises", &w.ex);
    if (num) {
        w.cur = pick_unit(num, "exercises", w.ex, w.n);
        if (w.cur < 0)
            return free(w.ex), 2;
    } else {
        if (!w.n)
            return free(w.ex), err2("there are no exercises yet");
        w.cur = next_unfinished(w.ex, w.n);
        if (w.cur < 0) {
            printf("Every exercise passes. (./evlab watch NN watches one anyway.)\n");
            free(w.ex);
            return 0;
        }
    }
    w.base = event_base_new();
    w.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w.ifd < 0)
        printf("(inotify is not available: %s; press Enter to check)\n", strerror(errno));
    add_watch(&w);
    if (w.ifd >= 0) {
        w.ev_inotify = event_new(w.base, w.ifd, EV_READ | EV_PERSIST, on_inotify, &w);
        event_add(w.ev_inotify, NULL);
    }
    w.ev_settle = evtimer_new(w.base, on_settle, &w);
    w.ev_stdin = event_new(w.base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin, &w);
    if (event_add(w.ev_stdin, NULL) != 0) /* e.g. /dev/null: epoll refuses it */
        printf("(no keyboard: watching the files only; Ctrl-C ends)\n");
    else
        w.raw = raw_keys();
    check_now(&w);
    event_base_dispatch(w.base);
    if (w.ev_inotify)
        event_free(w.ev_inotify);
    event_free(w.ev_stdin);
    event_free(w.ev_settle);
    event_base_free(w.base);
    restore_tty();
    if (w.ifd >= 0)
        close(w.ifd);
    free(w.ex);
    return 0;
}
