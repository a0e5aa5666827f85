/* screen.h -- the tour's output, one screen at a time (screen.c). */
#ifndef EVLAB_SCREEN_H
#define EVLAB_SCREEN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "evlab.h"

/* Ctrl-C: set by the tour's SIGINT handler, or by Ctrl-C typed at a
 * "-- more --" line (the terminal is in raw mode there). */
extern volatile sig_atomic_t tour_sigint;

void scr_init(bool on, int rows, int cols); /* on: stdout and stdin are a terminal */
void scr_write(const char *p, size_t n);    /* the tour's own text */
void scr_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void scr_output(const char *p, size_t n); /* a program's output (dropped after Ctrl-C at more) */
/* While the tour's own client talks to a server, it must not wait for the
 * reader: output that does not fit on the screen is kept, and shown by the
 * next scr_flush() (or write) after scr_hold(false). */
void scr_hold(bool hold);
void scr_flush(void);
/* What is read while the reader looks at "-- more --": these fds (set to -1
 * at EOF) into the kept output and into *cap (NULL fds are skipped). */
void scr_sources(int *fd1, int *fd2, struct buf *cap);
void scr_new_step(void);    /* forget a Ctrl-C at "more"; no sources */
bool scr_raw(void);         /* the terminal raw: before printing a prompt for scr_key */
void scr_tty_restore(void); /* the terminal as it was before scr_key (signal-safe) */
int scr_key(void);          /* one key, raw (Ctrl-C reads as 3, EOF as 'q') */
void scr_keyed(void);       /* a key was pressed elsewhere (an external pager) */
bool scr_quit(void);        /* q was pressed at "-- more --" */

#endif
