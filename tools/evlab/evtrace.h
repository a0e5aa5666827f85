/* evtrace.h -- the recording format shared by the preload library
 * (tools/trace/evtrace.c, build/evtrace.so) and its renderer (`evlab trace`,
 * tools/evlab/trace.c). It lives here, in tools/evlab/, so that everything
 * that copies tools/evlab/ (the Gradescope zip) still builds the runner.
 *
 * A traced process writes one file, $EVTRACE_FILE.<pid>, when it exits (or
 * dies of a fatal signal): a header, `nrec` fixed-size records in the order
 * they were taken, then the text of /proc/self/maps so the renderer can turn
 * callback addresses into names. Times are CLOCK_MONOTONIC nanoseconds.
 */
#ifndef EVTRACE_H
#define EVTRACE_H

#include <stdint.h>

#define EVTRACE_MAGIC "EVTRACE2"

struct evtrace_hdr {
    char magic[8];
    uint32_t version, rec_size;
    uint64_t nrec;    /* records that follow */
    uint64_t dropped; /* records lost to the cap */
    uint64_t t0;      /* when the library was loaded */
    uint64_t t_end;   /* when the file was written */
    uint64_t maps_len;
    int32_t pid, main_tid;
    int32_t exit_signal; /* flushed from a fatal signal handler: its number */
    int32_t pad;
    /* Records carry a cycle counter (x86 TSC) when tsc_end > tsc0: a record's
     * time is t0 + (t - tsc0) * (t_end - t0) / (tsc_end - tsc0). Otherwise
     * (other CPUs) they carry nanoseconds. */
    uint64_t tsc0, tsc_end;
};

/* Every record: obj is the event, bufferevent, listener or base. */
struct evtrace_rec {
    uint64_t t; /* cycles or nanoseconds: see evtrace_hdr */
    int32_t tid;
    uint16_t kind;
    uint16_t flags;
    uint64_t obj;
    int64_t a, b;
    uint64_t c, d;
};

enum evtrace_kind {
    EVT_ASSIGN = 1,   /* obj=ev a=fd b=events c=callback d=base */
    EVT_ADD,          /* obj=ev a=timeout in us (-1: none) */
    EVT_DEL,          /* obj=ev */
    EVT_ACTIVE,       /* obj=ev a=res (event_active() called) */
    EVT_FREE,         /* obj=ev */
    EVT_CB_BEGIN,     /* obj=ev a=fd b=what c=callback d=base */
    EVT_CB_END,       /* obj=ev */
    EVT_LOOP_BEGIN,   /* obj=base a=flags */
    EVT_LOOP_END,     /* obj=base a=return value */
    EVT_LOOPEXIT,     /* obj=base a=delay in us (-1: none) */
    EVT_LOOPBREAK,    /* obj=base */
    EVT_WAIT_BEGIN,   /* a=timeout in ms (-1: forever) b=backend (1 epoll 2 poll 3 select) */
    EVT_WAIT_END,     /* a=number ready (-1: error) */
    EVT_READY,        /* a=fd b=EV_READ/EV_WRITE bits; follows its WAIT_END */
    EVT_SEEN_READY,   /* a=fd b=bits obj=ev: seen by the sampler while a callback ran */
    EVT_BEV_NEW,      /* obj=bev a=fd b=options d=base */
    EVT_BEV_SETCB,    /* obj=bev a=readcb b=writecb c=eventcb */
    EVT_BEV_ENABLE,   /* obj=bev a=EV_READ/EV_WRITE */
    EVT_BEV_DISABLE,  /* obj=bev a=EV_READ/EV_WRITE */
    EVT_BEV_FREE,     /* obj=bev */
    EVT_BEV_CB_BEGIN, /* obj=bev a=0 read 1 write 2 event b=what (event) c=callback */
    EVT_BEV_CB_END,   /* obj=bev */
    EVT_LEV_NEW,      /* obj=listener a=fd c=callback d=base */
    EVT_LEV_CB_BEGIN, /* obj=listener a=new fd c=callback */
    EVT_LEV_CB_END,   /* obj=listener */
    EVT_LEV_FREE,     /* obj=listener */
    EVT_BASE_NEW,     /* obj=base */
    EVT_KIND_MAX
};

#define EVTF_INTERNAL 1 /* made or called by libevent itself, not by the program */

#endif
