/* gb_proto.h -- the messages between a function-level grading suite and the
 * loader that runs the student's library (header-only; included by gb_dl.h
 * on the suite's side and by loader/gb_loader.h on the loader's side).
 *
 * The suite starts the loader with one end of a socketpair as fd GB_SOCK and
 * the library's path as argv[1]. The loader dlopen()s the library and says so
 * in a first reply (seq 0); then, for each request, it does one thing (make a
 * base, add an event, call one of the student's functions, measure its heap)
 * and sends one reply with the same seq. Objects stay in the loader: the suite
 * holds their addresses as opaque numbers and never dereferences them.
 *
 *   request: struct gb_req, then len bytes of input (an fd travels with
 *            GB_TAKE_FD as SCM_RIGHTS)
 *   reply:   struct gb_rep, then len bytes of output; status GB_ERR carries a
 *            sentence for the student (e.g. a function the library lacks)
 */
#ifndef EVLAB_GB_PROTO_H
#define EVLAB_GB_PROTO_H

#include <stdint.h>

#define GB_MAGIC 0x674c6231u /* "gLb1" */
#define GB_MAX 4096          /* bytes of input or output in one message */
#define GB_SOCK 3            /* the loader's end of the socketpair */

enum gb_op {
    GB_BASE_NEW = 1, /* -> v0 base (0: NULL) */
    GB_BASE_FREE,    /* a0 base */
    GB_LOOP,         /* a0 base, a1 flags -> v0 event_base_loop() */
    GB_NUM_EVENTS,   /* a0 base, a1 flags -> v0 event_base_get_num_events() */
    GB_FEATURES,     /* a0 base -> v0 event_base_get_features() */
    GB_TAKE_FD,      /* the fd sent with it -> v0 its number in the loader */
    GB_EVENT_NEW,    /* a0 base, a1 fd, a2 events -> v0 event (a callback doing nothing) */
    GB_EVENT_ZEROED, /* -> v0 a calloc()ed struct event, never assigned */
    GB_EVENT_ADD,    /* a0 event, a1 timeout in ms (< 0: none) -> v0 event_add() */
    GB_EVENT_DEL,    /* a0 event -> v0 event_del() */
    GB_EVENT_FREE,   /* a0 event */
    GB_FREE,         /* a0 pointer (from GB_EVENT_ZEROED) */
    GB_PENDING,      /* a0 event, a1 what -> v0 event_pending(ev, what, NULL) */
    GB_SETENV,       /* input "NAME\0VALUE\0" */
    GB_HEAP,         /* -> v0 bytes malloc() has handed out and not had back */
    GB_FDS,          /* -> v0 open fds */
    GB_CALL,         /* fn: which of the exercise's functions; the rest is the exercise's */
};

enum gb_status { GB_OK = 0, GB_ERR = 1 };

struct gb_req {
    uint32_t magic, seq;
    int32_t op, fn;
    int64_t a[4];
    uint32_t len;
};

struct gb_rep {
    uint32_t magic, seq;
    int32_t status;
    int64_t v[2];
    uint32_t len;
};

#endif
