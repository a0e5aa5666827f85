/* screen.c -- the tour's output, one screen at a time.
 *
 * On a terminal everything the tour shows (its own text, a program's live
 * output, a server's) goes through here. Rows are counted the way the
 * terminal counts them: a line feed, or a line wider than the terminal that
 * wraps (escape codes take no room, CJK characters take two columns). Once a
 * screenful has been shown since the reader last pressed a key, the next
 * line waits behind "-- more --" for a key:
 *   Enter or space: the next screen; q: quit the tour at once;
 *   Ctrl-C: stop the running program and skip the rest of its output.
 * Output that arrives meanwhile (a server, a timer program) is read and
 * kept, so a program never blocks on the reader, and is shown after the key:
 * live output stays live until the screen is full.
 *
 * A resized terminal (SIGWINCH) is measured again before the next row is
 * counted, so a smaller window gets smaller screens from then on.
 *
 * Without a terminal (make tour </dev/null) this is fwrite: no pauses, no
 * escape codes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "screen.h"

volatile sig_atomic_t tour_sigint;

#define HELD_MAX (1u << 20) /* beyond this, sources wait (their pipes fill) */

static struct {
    bool on, quit, skip, hold;
    int rows, cols;
    int feeds; /* line feeds since the last key */
    int col;
    int esc;         /* 0; 1 after ESC; 2 in CSI; 3 in OSC */
    struct buf held; /* written but not shown yet */
    size_t off;
    int *src[2];
    struct buf *cap;
} S;

/* ---- one key, raw ------------------------------------------------------------ */

static struct termios saved_tio;
static bool raw_saved;

/* Async-signal-safe: the tour calls it from its SIGHUP/SIGTERM handler too. */
void scr_tty_restore(void)
{
    if (raw_saved)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
}

/* Read what the sources have into the kept output (and the capture). */
static void read_sources(struct pollfd *pf, int n)
{
    for (int i = 0; i < n; i++) {
        if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)) || pf[i].fd < 0)
            continue;
        int *fd = S.src[i];
        char tmp[4096];
        ssize_t r = read(*fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(*fd);
            *fd = -1;
            continue;
        }
        if (S.cap && S.cap->len < HELD_MAX)
            buf_add(S.cap, tmp, (size_t)r);
        if (!S.skip)
            buf_add(&S.held, tmp, (size_t)r);
    }
}

/* Raw first, prompt second: a reader who answers a prompt at once must find
 * the terminal raw, or Ctrl-C becomes a signal instead of a key. So callers
 * that print a prompt call this before printing it; scr_key calls it too. */
bool scr_raw(void)
{
    if (!raw_saved) {
        if (tcgetattr(STDIN_FILENO, &saved_tio) != 0)
            return false;
        raw_saved = true;
        atexit(scr_tty_restore);
    }
    struct termios raw = saved_tio;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw); /* keys typed ahead are kept */
    return true;
}

int scr_key(void)
{
    if (!scr_raw())
        return 'q';
    fflush(stdout);
    int key = 'q';
    for (;;) {
        struct pollfd pf[3];
        int n = 0;
        for (int i = 0; i < 2; i++) {
            bool live = S.src[i] && *S.src[i] >= 0 && S.held.len < HELD_MAX;
            pf[n++] = (struct pollfd){live ? *S.src[i] : -1, POLLIN, 0};
        }
        pf[n++] = (struct pollfd){STDIN_FILENO, POLLIN, 0};
        if (poll(pf, (nfds_t)n, -1) < 0) {
            if (errno == EINTR && tour_sigint) {
                key = 3; /* Ctrl-C typed before the terminal went raw */
                break;
            }
            if (errno == EINTR)
                continue;
            break;
        }
        read_sources(pf, 2);
        if (pf[2].revents & (POLLIN | POLLHUP | POLLERR)) {
            unsigned char c;
            ssize_t r = read(STDIN_FILENO, &c, 1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 1)
                key = c == '\r' ? '\n' : c;
            break;
        }
    }
    scr_tty_restore();
    S.feeds = 0;
    return key;
}

void scr_keyed(void)
{
    S.feeds = 0;
    S.col = 0;
}

/* ---- counting rows -------------------------------------------------------------- */

static int cp_width(unsigned cp)
{
    if ((cp >= 0x0300 && cp <= 0x036F) || cp == 0x200B) /* combining, zero width */
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
        (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

static volatile sig_atomic_t resized;
static void on_winch(int sig)
{
    (void)sig;
    resized = 1;
}

/* The terminal's new size, unless LINES or COLUMNS fixed it. */
static void follow_resize(void)
{
    struct winsize ws;
    resized = 0;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
        return;
    if (!getenv("LINES") && ws.ws_row >= 5)
        S.rows = ws.ws_row;
    if (!getenv("COLUMNS") && ws.ws_col >= 20)
        S.cols = ws.ws_col;
}

/* The screen is full: "-- more --" on the next row, then a key. Returns
 * false when the rest of the kept output is to be dropped (q, Ctrl-C). */
static bool more(void)
{
    fputc('\n', stdout);
    S.feeds++;
    fputs(col("7"), stdout);
    fputs("-- more --  Enter: next screen   q: quit   Ctrl-C: stop the program", stdout);
    fputs(col("0"), stdout);
    int k = scr_key();
    fputs("\r\033[K", stdout);
    S.col = 0;
    if (k == 'q' || k == 'Q' || k == 4) {
        S.quit = true;
        return false;
    }
    if (k == 3) {
        tour_sigint = 1;
        S.skip = true;
        return false;
    }
    return true;
}

/* Show the kept output; stop before a row that does not fit when the reader
 * may not be waited for (S.hold). A UTF-8 character is one unit, so "more"
 * never lands inside it. */
static void run(void)
{
    while (S.off < S.held.len) {
        if (resized)
            follow_resize();
        const unsigned char *p = (const unsigned char *)S.held.p + S.off;
        size_t left = S.held.len - S.off, len = 1;
        unsigned char ch = p[0];
        bool feed = false;
        int w = 0;
        if (S.esc == 1) {
            S.esc = ch == '[' ? 2 : ch == ']' ? 3 : 0;
        } else if (S.esc == 2) {
            if (ch >= 0x40 && ch <= 0x7E)
                S.esc = 0;
        } else if (S.esc == 3) {
            if (ch == '\a' || ch == '\033')
                S.esc = ch == '\033' ? 1 : 0;
        } else if (ch == '\033') {
            S.esc = 1;
        } else if (ch == '\n') {
            feed = true;
        } else if (ch == '\r') {
            S.col = 0;
        } else if (ch == '\t') {
            int next = (S.col / 8 + 1) * 8;
            S.col = next < S.cols ? next : S.cols;
        } else if (ch == '\b') {
            S.col -= S.col > 0;
        } else if (ch < 0x20 || ch == 0x7F) {
            /* takes no room */
        } else if (ch < 0x80) {
            w = 1;
        } else if (ch >= 0xC0) {
            size_t need = ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : 2;
            unsigned cp = ch & (ch >= 0xF0 ? 0x07u : ch >= 0xE0 ? 0x0Fu : 0x1Fu);
            bool ok = need <= left;
            for (size_t i = 1; ok && i < need; i++) {
                ok = (p[i] & 0xC0) == 0x80;
                cp = cp << 6 | (p[i] & 0x3Fu);
            }
            len = ok ? need : 1;
            w = ok ? cp_width(cp) : 1;
        } /* else a stray continuation byte: no room */
        bool wrap = w && S.col + w > S.cols;
        if ((feed || wrap) && !S.quit && S.feeds >= S.rows - 2) {
            if (S.hold) {
                fflush(stdout);
                return; /* shown after the client is done */
            }
            if (!more()) {
                S.off = S.held.len;
                break;
            }
            if (feed) {
                S.off += len;
                continue;
            }
            wrap = false; /* the wrapped text starts on the "more" line's row */
            p = (const unsigned char *)S.held.p + S.off; /* more() may have grown it */
        }
        if (feed || wrap) {
            S.feeds++;
            S.col = 0;
        }
        S.col += w;
        fwrite(p, 1, len, stdout);
        S.off += len;
    }
    S.held.len = 0;
    S.off = 0;
    fflush(stdout);
}

/* ---- the interface -------------------------------------------------------------- */

void scr_init(bool on, int rows, int cols)
{
    S.on = on;
    S.rows = rows < 5 ? 5 : rows;
    S.cols = cols < 20 ? 20 : cols;
    if (on) { /* SA_RESTART: a resize must not cut a read short */
        struct sigaction sa = {.sa_handler = on_winch, .sa_flags = SA_RESTART};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGWINCH, &sa, NULL);
    }
}

void scr_write(const char *p, size_t n)
{
    if (!n)
        return;
    if (!S.on) {
        fwrite(p, 1, n, stdout);
        fflush(stdout);
        return;
    }
    buf_add(&S.held, p, n);
    run();
}

void scr_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n > 0)
        scr_write(s, (size_t)n);
    free(s);
}

void scr_output(const char *p, size_t n)
{
    if (!S.skip)
        scr_write(p, n);
}

void scr_hold(bool hold) { S.hold = hold; }

void scr_flush(void)
{
    if (S.on)
        run();
    fflush(stdout);
}

void scr_sources(int *fd1, int *fd2, struct buf *cap)
{
    S.src[0] = fd1;
    S.src[1] = fd2;
    S.cap = cap;
}

void scr_new_step(void)
{
    S.skip = false;
    scr_sources(NULL, NULL, NULL);
}

bool scr_quit(void) { return S.quit; }
