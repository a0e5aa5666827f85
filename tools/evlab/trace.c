/* trace.c -- `evlab trace`: a libevent program's loop as a timeline, and the stalled loop.
 *
 *   ./evlab trace [options] -- PROGRAM [ARGS]
 *   ./evlab trace NN [program] [options] [-- ARGS]
 *   ./evlab trace --read FILE [options]      render a recording kept with --keep FILE
 *   ./evlab trace --stall-line FILE          one line: the worst stall of a recording
 *
 * The program runs with LD_PRELOAD=build/evtrace.so (tools/trace/evtrace.c),
 * which records the event API, every callback and every backend wait into
 * memory and writes it out at exit. This file runs the program (and, for a
 * lesson server, its clients), then turns the recording into: one terminal
 * line per loop iteration, the stall report, a self-contained HTML page with
 * an SVG timeline (--html), and Chrome Trace Event JSON (--chrome).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/bufferevent.h>

#include "evlab.h"
#include "evtrace.h"

static double g_busy = -1; /* CPU share of the program in its last half second (-1: unknown) */
static char g_state;       /* its /proc state letter when stopped: R running, S sleeping */

/* ---- options ------------------------------------------------------------------- */

struct topts {
    const char *html, *chrome, *keep, *read, *svg;
    double stall_ms;
    bool fail_on_stall, quiet, states, stall_line, slow_reader, no_sampler;
    int clients;     /* -1: default (2 for a lesson server, else 0) */
    double hold_s;   /* how long clients wait for answers */
    double duration; /* stop the program after this many seconds (0: never) */
    int lines;       /* iteration lines shown at most */
    long cap;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- ELF: is it dynamic, does it need libevent, and symbol names -------------- */

struct sym {
    uint64_t lo, hi;
    const char *name;
};
struct elfsyms {
    char *path;
    char *data;
    size_t len;
    struct sym *syms;
    size_t n;
    Elf64_Phdr *ph;
    int phnum;
};

static int sym_cmp(const void *a, const void *b)
{
    const struct sym *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool elf_ok(const char *d, size_t len)
{
    return len >= sizeof(Elf64_Ehdr) && memcmp(d, ELFMAG, SELFMAG) == 0 &&
           d[EI_CLASS] == ELFCLASS64;
}

static void elf_load(struct elfsyms *e, const char *path)
{
    memset(e, 0, sizeof *e);
    e->path = strdup(path);
    e->data = read_file(path, &e->len);
    if (!e->data || !elf_ok(e->data, e->len))
        return;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)e->data;
    if (eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf64_Phdr) <= e->len) {
        e->ph = (Elf64_Phdr *)(e->data + eh->e_phoff);
        e->phnum = eh->e_phnum;
    }
    if (eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > e->len)
        return;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(e->data + eh->e_shoff);
    for (int pass = 0; pass < 2; pass++) { /* .symtab if there is one, else .dynsym */
        for (int i = 0; i < eh->e_shnum; i++) {
            if (sh[i].sh_type != (pass ? SHT_DYNSYM : SHT_SYMTAB) || sh[i].sh_link >= eh->e_shnum)
                continue;
            const Elf64_Shdr *str = &sh[sh[i].sh_link];
            if (sh[i].sh_offset + sh[i].sh_size > e->len || str->sh_offset + str->sh_size > e->len)
                continue;
            const Elf64_Sym *s = (const Elf64_Sym *)(e->data + sh[i].sh_offset);
            size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
            e->syms = realloc(e->syms, (e->n + n) * sizeof *e->syms);
            for (size_t k = 0; k < n; k++) {
                if (ELF64_ST_TYPE(s[k].st_info) != STT_FUNC || !s[k].st_value ||
                    s[k].st_name >= str->sh_size)
                    continue;
                e->syms[e->n++] = (struct sym){s[k].st_value, s[k].st_value + s[k].st_size,
                                               e->data + str->sh_offset + s[k].st_name};
            }
        }
        if (e->n)
            break;
    }
    qsort(e->syms, e->n, sizeof *e->syms, sym_cmp);
}

static const char *elf_name(const struct elfsyms *e, uint64_t fileoff)
{
    uint64_t va = fileoff;
    for (int i = 0; i < e->phnum; i++)
        if (e->ph[i].p_type == PT_LOAD && fileoff >= e->ph[i].p_offset &&
            fileoff < e->ph[i].p_offset + e->ph[i].p_filesz)
            va = fileoff - e->ph[i].p_offset + e->ph[i].p_vaddr;
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (e->syms[mid].lo <= va)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo && va >= e->syms[lo - 1].lo &&
        va < e->syms[lo - 1].hi + (e->syms[lo - 1].hi == e->syms[lo - 1].lo))
        return e->syms[lo - 1].name;
    return NULL;
}

/* "static": no PT_INTERP; "nolibevent": dynamic, but no libevent in DT_NEEDED;
 * "" when fine or not an ELF file at all (a script: we find out afterwards). */
static const char *elf_check(const char *path)
{
    size_t len;
    char *d = read_file(path, &len);
    const char *verdict = "";
    if (!d || !elf_ok(d, len))
        goto out;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)d;
    if (eh->e_phoff + (size_t)eh->e_phnum * sizeof(Elf64_Phdr) > len)
        goto out;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(d + eh->e_phoff);
    const Elf64_Phdr *dyn = NULL;
    bool interp = false;
    for (int i = 0; i < eh->e_phnum; i++) {
        interp = interp || ph[i].p_type == PT_INTERP;
        if (ph[i].p_type == PT_DYNAMIC)
            dyn = &ph[i];
    }
    if (!interp || !dyn) {
        verdict = "static";
        goto out;
    }
    /* DT_STRTAB is an address: map it back to a file offset. */
    const Elf64_Dyn *dt = (const Elf64_Dyn *)(d + dyn->p_offset);
    size_t nd = dyn->p_filesz / sizeof *dt;
    uint64_t strva = 0;
    for (size_t i = 0; i < nd && dyn->p_offset + dyn->p_filesz <= len; i++)
        if (dt[i].d_tag == DT_STRTAB)
            strva = dt[i].d_un.d_ptr;
    uint64_t stroff = 0;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && strva >= ph[i].p_vaddr &&
            strva < ph[i].p_vaddr + ph[i].p_filesz)
            stroff = strva - ph[i].p_vaddr + ph[i].p_offset;
    bool found = false;
    for (size_t i = 0; i < nd && stroff; i++)
        if (dt[i].d_tag == DT_NEEDED && stroff + dt[i].d_un.d_val < len &&
            strstr(d + stroff + dt[i].d_un.d_val, "libevent"))
            found = true;
    if (stroff && !found)
        verdict = "nolibevent";
out:
    free(d);
    return verdict;
}

/* ---- the recording --------------------------------------------------------------- */

struct mapping {
    uint64_t lo, hi, off;
    char *path;
};

struct trace {
    struct evtrace_hdr h;
    struct evtrace_rec *r;
    size_t n;
    struct mapping *maps;
    size_t nmaps;
    struct elfsyms *elves;
    size_t nelves;
};

static int trace_load(struct trace *t, const char *path)
{
    memset(t, 0, sizeof *t);
    size_t len;
    char *d = read_file(path, &len);
    if (!d)
        return err2("cannot read the recording %s: %s", path, strerror(errno));
    if (len < sizeof t->h || memcmp(d, EVTRACE_MAGIC, 8) != 0) {
        free(d);
        return err2("%s is not an evtrace recording", path);
    }
    memcpy(&t->h, d, sizeof t->h);
    size_t need = sizeof t->h + t->h.nrec * sizeof(struct evtrace_rec) + t->h.maps_len;
    if (t->h.rec_size != sizeof(struct evtrace_rec) || need > len) {
        free(d);
        return err2("%s is truncated or from another version", path);
    }
    t->n = t->h.nrec;
    t->r = malloc(t->n * sizeof *t->r + 1);
    memcpy(t->r, d + sizeof t->h, t->n * sizeof *t->r);
    if (t->h.tsc_end > t->h.tsc0 && t->h.t_end > t->h.t0) { /* cycles to nanoseconds */
        double rate = (double)(t->h.t_end - t->h.t0) / (double)(t->h.tsc_end - t->h.tsc0);
        for (size_t i = 0; i < t->n; i++)
            t->r[i].t = t->h.t0 + (uint64_t)((double)(int64_t)(t->r[i].t - t->h.tsc0) * rate);
    }
    char *maps = strndup(d + sizeof t->h + t->n * sizeof *t->r, t->h.maps_len);
    free(d);
    for (char *save = NULL, *line = strtok_r(maps, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        unsigned long lo, hi, off;
        char perms[8];
        int pos = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s%n", &lo, &hi, perms, &off, &pos) < 4)
            continue;
        const char *p = line + pos;
        while (*p == ' ')
            p++;
        if (*p != '/')
            continue;
        t->maps = realloc(t->maps, (t->nmaps + 1) * sizeof *t->maps);
        t->maps[t->nmaps++] = (struct mapping){lo, hi, off, strdup(p)};
    }
    free(maps);
    return 0;
}

static void trace_free(struct trace *t)
{
    free(t->r);
    for (size_t i = 0; i < t->nmaps; i++)
        free(t->maps[i].path);
    free(t->maps);
    for (size_t i = 0; i < t->nelves; i++) {
        free(t->elves[i].path);
        free(t->elves[i].data);
        free(t->elves[i].syms);
    }
    free(t->elves);
}

/* A function's name from its address: the mapping, then the file's symbols. */
static char *fn_name(struct trace *t, uint64_t addr)
{
    if (!addr)
        return strdup("(none)");
    for (size_t i = 0; i < t->nmaps; i++) {
        struct mapping *m = &t->maps[i];
        if (addr < m->lo || addr >= m->hi)
            continue;
        struct elfsyms *e = NULL;
        for (size_t k = 0; k < t->nelves && !e; k++)
            if (strcmp(t->elves[k].path, m->path) == 0)
                e = &t->elves[k];
        if (!e) {
            t->elves = realloc(t->elves, (t->nelves + 1) * sizeof *t->elves);
            e = &t->elves[t->nelves++];
            elf_load(e, m->path);
        }
        uint64_t off = addr - m->lo + m->off;
        const char *n = elf_name(e, off);
        if (n)
            return strdup(n);
        const char *base = strrchr(m->path, '/');
        return xasprintf("%s+0x%lx", base ? base + 1 : m->path, (unsigned long)off);
    }
    return xasprintf("0x%lx", (unsigned long)addr);
}

/* ---- the model: events, callbacks, waits, iterations ------------------------- */

enum { ST_NONE, ST_PENDING, ST_ACTIVE, ST_RUNNING, ST_READY }; /* READY: seen ready, waiting */

struct tev {                     /* one assignment of one struct event */
    uint64_t ev, addr, base, cb; /* ev: 0 once freed; addr stays */
    int fd, events, tid;
    bool internal;
    char *name;  /* "accept_cb" or "bufferevent read" */
    char *label; /* with its fd: "accept_cb (fd 5)" */
    struct buf states;
    uint64_t pend_since, active_since, due; /* due: when its timeout fires (0: none) */
    int64_t timeout_us;
    bool pending;
    int lane;
};

struct span {
    int tid;
    int kind; /* 0 wait, 1 event callback, 2 bufferevent callback, 3 listener callback,
               * 4 a mark (loopbreak, loopexit), 5 a loop call (event_base_loop) */
    uint64_t t0, t1;
    int tev;      /* event index, or -1 */
    char *name;   /* callback name */
    char *detail; /* hover text */
    int depth;
    bool internal, stall;
};

struct band { /* a state of one event over a time range */
    int tev, state;
    uint64_t t0, t1;
};

struct stall {
    int span;
    struct buf why;
    uint64_t dur;
};

struct thread {
    int tid;
    int lane;
};

struct model {
    struct trace *t;
    struct tev *ev;
    size_t nev;
    struct span *sp;
    size_t nsp;
    struct band *bd;
    size_t nbd;
    struct stall *st;
    size_t nst;
    struct thread th[256];
    int nth;
    uint64_t tmin, tmax;
    size_t libevent_calls;
    uint64_t stuck_from, stuck_ns; /* nothing recorded at the end, while the loop ran */
    int stuck_tid;
    struct {
        uint64_t obj, readcb, writecb, eventcb, cb;
        int fd;
        bool lev;
    } * owners; /* bufferevents and listeners, for naming */
    size_t nown;
};

#define PUSH(arr, n, val)                                                                          \
    do {                                                                                           \
        (arr) = realloc((arr), ((n) + 1) * sizeof *(arr));                                         \
        (arr)[(n)++] = (val);                                                                      \
    } while (0)

static int thread_index(struct model *m, int tid)
{
    for (int i = 0; i < m->nth; i++)
        if (m->th[i].tid == tid)
            return i;
    if (m->nth == 256)
        return 255;
    m->th[m->nth].tid = tid;
    return m->nth++;
}

static int find_ev(struct model *m, uint64_t ev)
{
    for (size_t i = m->nev; i-- > 0;)
        if (m->ev[i].ev == ev)
            return (int)i;
    return -1;
}

static const char *what_str(int w, char *b, size_t len)
{
    b[0] = '\0';
    static const struct {
        int bit;
        const char *name;
    } f[] = {{EV_TIMEOUT, "EV_TIMEOUT"}, {EV_READ, "EV_READ"},       {EV_WRITE, "EV_WRITE"},
             {EV_SIGNAL, "EV_SIGNAL"},   {EV_PERSIST, "EV_PERSIST"}, {EV_ET, "EV_ET"},
             {EV_CLOSED, "EV_CLOSED"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (w & f[i].bit)
            snprintf(b + strlen(b), len - strlen(b), "%s%s", b[0] ? "|" : "", f[i].name);
    if (!b[0])
        snprintf(b, len, "0");
    return b;
}

static void add_state(struct tev *e, const char *s)
{
    buf_printf(&e->states, "%s%s", e->states.len ? " " : "", s);
}

static void band(struct model *m, int tev, int state, uint64_t t0, uint64_t t1)
{
    if (t1 >= t0)
        PUSH(m->bd, m->nbd, ((struct band){tev, state, t0, t1}));
}

static void set_pending(struct model *m, int i, bool on, uint64_t t)
{
    struct tev *e = &m->ev[i];
    if (on && !e->pending) {
        e->pending = true;
        e->pend_since = t;
    } else if (!on && e->pending) {
        e->pending = false;
        band(m, i, ST_PENDING, e->pend_since, t);
    }
}

/* Name an event from what we know: its callback, or whose internal event it is. */
static void name_event(struct model *m, struct tev *e)
{
    char *fn = fn_name(m->t, e->cb);
    if (e->internal) {
        const char *role = NULL;
        for (size_t i = 0; i < m->nown && !role; i++)
            if (m->owners[i].fd == e->fd && e->fd >= 0 && !(e->events & EV_SIGNAL))
                role = m->owners[i].lev ? "evconnlistener" : "bufferevent";
        if (role)
            e->name = xasprintf("%s %s", role,
                                (e->events & EV_WRITE)  ? "write"
                                : (e->events & EV_READ) ? "read"
                                                        : "timer");
        else if (e->events & EV_SIGNAL)
            e->name = xasprintf("libevent signal %d", e->fd);
        else if (strstr(fn, "libevent") || fn[0] == '0')
            e->name = xasprintf("libevent internal");
        else
            e->name = strdup(fn); /* e.g. event_base_once's user callback */
        free(fn);
    } else {
        e->name = fn;
    }
    if (e->events & EV_SIGNAL)
        e->label = xasprintf("%s (signal %d)", e->name, e->fd);
    else if (e->fd >= 0)
        e->label = xasprintf("%s (fd %d)", e->name, e->fd);
    else
        e->label = xasprintf("%s (timer)", e->name);
}

static void build(struct model *m, struct trace *t, double stall_ms)
{
    memset(m, 0, sizeof *m);
    m->t = t;
    m->tmin = t->n ? t->r[0].t : t->h.t0;
    m->tmax = t->h.t_end;
    /* per thread: a stack of open callbacks, the last wait end */
    struct tstate {
        int stack[64];
        int depth;
        uint64_t last_wait_end, wait_begin;
        int64_t wait_timeout;
        uint64_t loop_begin;
        int loop_flags;
        bool in_wait;
        struct buf ready;
    } *ts = calloc(256, sizeof *ts);
    for (size_t i = 0; i < t->n; i++) {
        struct evtrace_rec *r = &t->r[i];
        if (r->t > m->tmax)
            m->tmax = r->t;
        int ti = thread_index(m, r->tid);
        struct tstate *s = &ts[ti];
        int k = r->kind;
        if (k != EVT_WAIT_BEGIN && k != EVT_WAIT_END && k != EVT_READY)
            m->libevent_calls++;
        int e = k == EVT_ASSIGN ? -1 : find_ev(m, r->obj);
        char w[96];
        switch (k) {
        case EVT_ASSIGN: {
            struct tev v = {.ev = r->obj,
                            .addr = r->obj,
                            .base = r->d,
                            .cb = r->c,
                            .fd = (int)r->a,
                            .events = (int)r->b,
                            .tid = r->tid,
                            .internal = r->flags & EVTF_INTERNAL,
                            .lane = -1};
            int old = find_ev(m, r->obj);
            if (old >= 0)
                set_pending(m, old, false, r->t);
            PUSH(m->ev, m->nev, v);
            add_state(&m->ev[m->nev - 1], "initialized");
            break;
        }
        case EVT_ADD:
            if (e >= 0) {
                if (!m->ev[e].pending)
                    add_state(&m->ev[e], "pending");
                set_pending(m, e, true, r->t);
                m->ev[e].timeout_us = r->a;
                m->ev[e].due = r->a >= 0 ? r->t + (uint64_t)r->a * 1000 : 0;
            }
            break;
        case EVT_DEL:
            if (e >= 0 && m->ev[e].pending) {
                add_state(&m->ev[e], "non-pending");
                set_pending(m, e, false, r->t);
                m->ev[e].due = 0;
            }
            break;
        case EVT_ACTIVE:
            if (e >= 0) {
                m->ev[e].active_since = r->t;
                add_state(&m->ev[e], "active");
            }
            break;
        case EVT_FREE:
            if (e >= 0) {
                set_pending(m, e, false, r->t);
                add_state(&m->ev[e], "freed");
                m->ev[e].ev = 0; /* the address may be reused */
            }
            break;
        case EVT_WAIT_BEGIN:
            s->in_wait = true;
            s->wait_begin = r->t;
            s->wait_timeout = r->a;
            s->ready.len = 0;
            if (s->ready.p)
                s->ready.p[0] = '\0';
            break;
        case EVT_WAIT_END:
            if (s->in_wait) {
                struct span sp = {.tid = r->tid,
                                  .kind = 0,
                                  .t0 = s->wait_begin,
                                  .t1 = r->t,
                                  .tev = -1,
                                  .depth = 0};
                sp.name = strdup("wait");
                sp.detail = xasprintf("backend wait: %.3f ms, timeout %s%lld%s, %lld ready",
                                      (double)(r->t - s->wait_begin) / 1e6,
                                      s->wait_timeout < 0 ? "none" : "",
                                      s->wait_timeout < 0 ? 0LL : (long long)s->wait_timeout,
                                      s->wait_timeout < 0 ? "" : " ms", (long long)r->a);
                sp.internal = (int)r->a; /* reuse: number ready, read by the terminal view */
                PUSH(m->sp, m->nsp, sp);
            }
            s->in_wait = false;
            s->last_wait_end = r->t;
            break;
        case EVT_READY: {
            struct span *last = m->nsp ? &m->sp[m->nsp - 1] : NULL;
            for (size_t j = m->nsp; j-- > 0;)
                if (m->sp[j].tid == r->tid && m->sp[j].kind == 0) {
                    last = &m->sp[j];
                    break;
                }
            if (last && last->kind == 0) {
                char *d = xasprintf("%s%s%d%s", last->name, strcmp(last->name, "wait") ? " " : ": ",
                                    (int)r->a,
                                    (r->b & EV_READ) && (r->b & EV_WRITE) ? "rw"
                                    : (r->b & EV_WRITE)                   ? "w"
                                                                          : "r");
                free(last->name);
                last->name = d;
            }
            break;
        }
        case EVT_CB_BEGIN:
        case EVT_BEV_CB_BEGIN:
        case EVT_LEV_CB_BEGIN: {
            struct span sp = {.tid = r->tid, .t0 = r->t, .t1 = 0, .tev = -1, .depth = s->depth};
            sp.kind = k == EVT_CB_BEGIN ? 1 : k == EVT_BEV_CB_BEGIN ? 2 : 3;
            if (k == EVT_CB_BEGIN) {
                if (e < 0) { /* assigned before we were loaded: should not happen */
                    struct tev v = {.ev = r->obj,
                                    .addr = r->obj,
                                    .base = r->d,
                                    .cb = r->c,
                                    .fd = (int)r->a,
                                    .tid = r->tid,
                                    .lane = -1};
                    PUSH(m->ev, m->nev, v);
                    e = (int)m->nev - 1;
                }
                struct tev *v = &m->ev[e];
                v->tid = r->tid;
                uint64_t act =
                    v->active_since > s->last_wait_end ? v->active_since : s->last_wait_end;
                if (!act || act > r->t)
                    act = r->t;
                band(m, e, ST_ACTIVE, act, r->t);
                if (!v->active_since || v->active_since < s->last_wait_end)
                    add_state(v, "active");
                v->active_since = 0;
                add_state(v, "callback");
                if (!(v->events & EV_PERSIST)) {
                    set_pending(m, e, false, r->t);
                    v->due = 0;
                } else if (v->timeout_us > 0) {
                    v->due = r->t + (uint64_t)v->timeout_us * 1000;
                }
                sp.tev = e;
                sp.internal = v->internal;
                sp.name = strdup(v->name ? v->name : "?");
                sp.detail = xasprintf("%s: %s", v->label ? v->label : "?",
                                      what_str((int)r->b, w, sizeof w));
            } else {
                const char *which = k == EVT_LEV_CB_BEGIN ? "listener"
                                    : r->a == 0           ? "read"
                                    : r->a == 1           ? "write"
                                                          : "event";
                int fd = -1;
                for (size_t j = 0; j < m->nown; j++)
                    if (m->owners[j].obj == r->obj)
                        fd = m->owners[j].fd;
                sp.name = fn_name(t, r->c);
                if (k == EVT_LEV_CB_BEGIN)
                    sp.detail = xasprintf("%s: evconnlistener (fd %d) accepted fd %d", sp.name, fd,
                                          (int)r->a);
                else
                    sp.detail = xasprintf("%s: bufferevent (fd %d) %s callback%s%s", sp.name, fd,
                                          which, r->a == 2 ? ", what " : "",
                                          r->a == 2 ? what_str((int)r->b, w, sizeof w) : "");
            }
            PUSH(m->sp, m->nsp, sp);
            if (s->depth < 64)
                s->stack[s->depth] = (int)m->nsp - 1;
            s->depth++;
            break;
        }
        case EVT_CB_END:
        case EVT_BEV_CB_END:
        case EVT_LEV_CB_END:
            if (s->depth > 0) {
                s->depth--;
                if (s->depth < 64) {
                    struct span *sp = &m->sp[s->stack[s->depth]];
                    sp->t1 = r->t;
                    if (sp->kind == 1 && sp->tev >= 0) {
                        struct tev *v = &m->ev[sp->tev];
                        band(m, sp->tev, ST_RUNNING, sp->t0, r->t);
                        if (v->pending && (v->events & EV_PERSIST))
                            add_state(v, "pending");
                        else if (v->pending)
                            add_state(v, "pending"); /* added again inside its callback */
                        else
                            add_state(v, "non-pending");
                    }
                }
            }
            break;
        case EVT_LOOPBREAK:
        case EVT_LOOPEXIT: {
            struct span sp = {
                .tid = r->tid, .kind = 4, .t0 = r->t, .t1 = r->t, .tev = -1, .depth = s->depth};
            sp.internal = r->flags & EVTF_INTERNAL;
            sp.name = strdup(k == EVT_LOOPBREAK ? "loopbreak" : "loopexit");
            if (k == EVT_LOOPEXIT && r->a >= 0)
                sp.detail = xasprintf("event_base_loopexit(base, %.3f ms)", (double)r->a / 1e3);
            else
                sp.detail = xasprintf("event_base_%s", sp.name);
            PUSH(m->sp, m->nsp, sp);
            break;
        }
        case EVT_LOOP_BEGIN:
            s->loop_begin = r->t;
            s->loop_flags = (int)r->a;
            break;
        case EVT_LOOP_END: {
            struct span sp = {.tid = r->tid,
                              .kind = 5,
                              .t0 = s->loop_begin ? s->loop_begin : r->t,
                              .t1 = r->t,
                              .tev = -1,
                              .depth = 0};
            int f = s->loop_flags;
            sp.name = xasprintf(
                "event_base_loop(%s%s%s%s) -> %d", f ? "" : "0", (f & EVLOOP_ONCE) ? "ONCE" : "",
                (f & EVLOOP_NONBLOCK) ? ((f & EVLOOP_ONCE) ? "|NONBLOCK" : "NONBLOCK") : "",
                (f & EVLOOP_NO_EXIT_ON_EMPTY) ? (f & 3 ? "|NO_EXIT_ON_EMPTY" : "NO_EXIT_ON_EMPTY")
                                              : "",
                (int)r->a);
            sp.detail = strdup(sp.name);
            PUSH(m->sp, m->nsp, sp);
            break;
        }
        case EVT_BEV_NEW:
        case EVT_LEV_NEW: {
            bool found = false;
            for (size_t j = 0; j < m->nown; j++)
                if (m->owners[j].obj == r->obj) {
                    found = true;
                    if (k == EVT_LEV_NEW)
                        m->owners[j].cb = r->c;
                }
            if (!found) {
                m->owners = realloc(m->owners, (m->nown + 1) * sizeof *m->owners);
                memset(&m->owners[m->nown], 0, sizeof *m->owners);
                m->owners[m->nown].obj = r->obj;
                m->owners[m->nown].fd = (int)r->a;
                m->owners[m->nown].lev = k == EVT_LEV_NEW;
                m->owners[m->nown].cb = r->c;
                m->nown++;
            }
            break;
        }
        default: break;
        }
    }
    /* Close what is still open at the end. */
    for (size_t i = 0; i < m->nev; i++)
        set_pending(m, (int)i, false, m->tmax);
    for (int i = 0; i < m->nth; i++) {
        for (int d = 0; d < ts[i].depth && d < 64; d++)
            m->sp[ts[i].stack[d]].t1 = m->tmax;
        if (ts[i].in_wait) { /* still waiting when the recording ended */
            struct span sp = {
                .tid = m->th[i].tid, .kind = 0, .t0 = ts[i].wait_begin, .t1 = m->tmax, .tev = -1};
            sp.name = strdup("wait");
            sp.detail = xasprintf("backend wait, still waiting at the end: %.3f ms",
                                  (double)(m->tmax - ts[i].wait_begin) / 1e6);
            PUSH(m->sp, m->nsp, sp);
        }
    }
    for (int i = 0; i < 256; i++)
        buf_free(&ts[i].ready);
    free(ts);
    /* Names: events are named once the owners (bufferevents, listeners) are known. */
    for (size_t i = 0; i < m->nev; i++) {
        if (!m->ev[i].name)
            name_event(m, &m->ev[i]);
    }
    for (size_t i = 0; i < m->nsp; i++) {
        struct span *sp = &m->sp[i];
        if (sp->kind == 1 && sp->tev >= 0 && strcmp(sp->name, m->ev[sp->tev].name) != 0) {
            free(sp->name);
            sp->name = strdup(m->ev[sp->tev].name);
            struct tev *v = &m->ev[sp->tev];
            char *colon = strchr(sp->detail, ':');
            char *d = xasprintf("%s%s", v->label, colon ? colon : "");
            free(sp->detail);
            sp->detail = d;
        }
    }
    (void)stall_ms;
}

/* ---- stalls -------------------------------------------------------------------- */

static void commas(char *b, size_t len, uint64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    size_t n = strlen(tmp), o = 0;
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            b[o++] = ',';
        b[o++] = tmp[i];
    }
    b[o] = '\0';
}

/* The callback to blame inside a top-level span: the longest user callback in it. */
static int blame(struct model *m, size_t top)
{
    struct span *t = &m->sp[top];
    if (!t->internal)
        return (int)top;
    int best = (int)top;
    uint64_t bd = 0;
    for (size_t j = top + 1; j < m->nsp && m->sp[j].t0 < t->t1; j++) {
        struct span *s = &m->sp[j];
        if (s->tid != t->tid || s->kind == 0 || s->kind >= 4 || s->internal)
            continue;
        if (s->t1 - s->t0 > bd) {
            bd = s->t1 - s->t0;
            best = (int)j;
        }
    }
    return best;
}

static void find_stalls(struct model *m, double stall_ms)
{
    struct trace *t = m->t;
    uint64_t limit = (uint64_t)(stall_ms * 1e6);
    for (size_t i = 0; i < m->nsp; i++) {
        struct span *sp = &m->sp[i];
        if (sp->kind == 0 || sp->kind >= 4 || sp->depth != 0 || sp->t1 - sp->t0 < limit)
            continue;
        struct buf why = {0};
        char num[32];
        int waiters = 0;
        int seen_fds[64], nseen = 0;
        /* (a) fds the sampler saw ready while it ran */
        for (size_t k = 0; k < t->n && t->r[k].t <= sp->t1; k++) {
            struct evtrace_rec *r = &t->r[k];
            if (r->kind != EVT_SEEN_READY || r->tid != sp->tid || r->t < sp->t0)
                continue;
            commas(num, sizeof num, (sp->t1 - r->t) / 1000000);
            buf_printf(&why, "; fd %d was %s for %s ms of it", (int)r->a,
                       (r->b & EV_READ) ? "readable" : "writable", num);
            if (nseen < 64)
                seen_fds[nseen++] = (int)r->a;
            waiters++;
        }
        /* (b) fds the next wait returned at once, not seen by the sampler */
        for (size_t k = 0; k < t->n; k++) {
            struct evtrace_rec *r = &t->r[k];
            if (r->t < sp->t1 || r->tid != sp->tid)
                continue;
            if (r->kind == EVT_WAIT_BEGIN || r->kind == EVT_WAIT_END)
                continue;
            if (r->kind != EVT_READY)
                if (r->kind == EVT_LOOP_END || r->kind == EVT_CB_BEGIN)
                    break;
            if (r->kind == EVT_READY) {
                bool dup = false;
                for (int j = 0; j < nseen; j++)
                    dup = dup || seen_fds[j] == (int)r->a;
                if (!dup) {
                    buf_printf(&why, "; fd %d was %s when it returned", (int)r->a,
                               (r->b & EV_READ) ? "readable" : "writable");
                    if (nseen < 64)
                        seen_fds[nseen++] = (int)r->a;
                    waiters++;
                }
            }
        }
        /* (c) timers that fell due while it ran: armed (added, or fired when
         * persistent) before the span, with a timeout ending inside it */
        for (size_t k = 0; k < m->nev; k++) {
            struct tev *v = &m->ev[k];
            if (v->timeout_us <= 0 || v->tid != sp->tid || (int)k == sp->tev)
                continue;
            uint64_t armed = 0;
            for (size_t j = 0; j < t->n && t->r[j].t < sp->t0; j++) {
                const struct evtrace_rec *r = &t->r[j];
                if (r->obj != v->addr || r->tid != sp->tid)
                    continue;
                if (r->kind == EVT_ADD && r->a > 0)
                    armed = r->t;
                else if (r->kind == EVT_CB_BEGIN && (v->events & EV_PERSIST))
                    armed = r->t;
                else if (r->kind == EVT_DEL || r->kind == EVT_CB_BEGIN)
                    armed = 0;
            }
            if (!armed)
                continue;
            uint64_t due = armed + (uint64_t)v->timeout_us * 1000;
            if (due >= sp->t1)
                continue;
            if (due < sp->t0)
                due = sp->t0;
            commas(num, sizeof num, (sp->t1 - due) / 1000000);
            buf_printf(&why, "; the timer of %s was due and waited %s ms", v->name, num);
            waiters++;
        }
        if (!waiters) {
            buf_free(&why);
            continue;
        }
        sp->stall = true;
        struct stall st = {.span = blame(m, i), .why = why, .dur = sp->t1 - sp->t0};
        m->sp[st.span].stall = true;
        PUSH(m->st, m->nst, st);
    }
}

/* The end of the recording: a loop that was still running (no LOOP_END) but
 * recorded nothing for a long time before the process ended was stuck inside
 * libevent or a system call (a spin, or a blocking send()). */
static void find_stuck(struct model *m, double stall_ms)
{
    struct trace *t = m->t;
    if (!t->n || t->h.dropped)
        return;
    for (int ti = 0; ti < m->nth; ti++) {
        int tid = m->th[ti].tid, open_loops = 0;
        const struct evtrace_rec *last = NULL;
        for (size_t i = 0; i < t->n; i++) {
            if (t->r[i].tid != tid || t->r[i].kind == EVT_SEEN_READY)
                continue;
            last = &t->r[i];
            open_loops += last->kind == EVT_LOOP_BEGIN ? 1 : last->kind == EVT_LOOP_END ? -1 : 0;
        }
        /* waiting in the backend is idle, not stuck */
        if (!last || open_loops <= 0 || last->kind == EVT_WAIT_BEGIN)
            continue;
        uint64_t gap = t->h.t_end > last->t ? t->h.t_end - last->t : 0;
        if (gap >= (uint64_t)(stall_ms * 1e6) && gap > m->stuck_ns) {
            m->stuck_from = last->t;
            m->stuck_ns = gap;
            m->stuck_tid = tid;
        }
    }
}

static char *stuck_text(struct model *m)
{
    char num[32];
    commas(num, sizeof num, m->stuck_ns / 1000000);
    char why[200];
    if (g_state == 'R')
        snprintf(why, sizeof why,
                 "when stopped it was running (state R, %.0f%% of a CPU on this machine): a "
                 "busy spin",
                 g_busy < 0 ? 0 : g_busy * 100);
    else if (g_state)
        snprintf(why, sizeof why,
                 "when stopped it was asleep (state %c): blocked in a system call, e.g. a "
                 "blocking send()",
                 g_state);
    else
        snprintf(why, sizeof why, "it was stuck inside libevent or a system call");
    return xasprintf("the loop never came back: nothing was recorded in its last %s ms (from "
                     "+%.1f ms to the end), no wait and no callback; %s",
                     num, (double)(m->stuck_from - m->tmin) / 1e6, why);
}

static char *stall_text(struct model *m, const struct stall *st)
{
    struct span *s = &m->sp[st->span];
    char num[32];
    commas(num, sizeof num, st->dur / 1000000);
    const char *d = s->detail ? s->detail : s->name;
    /* detail is "name (fd N): flags" or "name: bufferevent (fd N) ..." */
    char who[256];
    snprintf(who, sizeof who, "%s", d);
    char *colon = strstr(who, ": ");
    if (s->kind == 1 && colon)
        *colon = '\0';
    else if (colon) {
        char *fd = strstr(colon, "(fd ");
        char *close = fd ? strchr(fd, ')') : NULL;
        if (fd && close) {
            close[1] = '\0';
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%.*s %s", (int)(colon - who), who, fd);
            snprintf(who, sizeof who, "%s", tmp);
        }
    }
    return xasprintf("%s held the loop %s ms%s", who, num, st->why.p ? st->why.p : "");
}

/* ---- terminal view ------------------------------------------------------------ */

static void print_fit(struct buf *line, int width)
{
    /* Cut at `width` visible characters (ANSI escapes are not counted). */
    int vis = 0;
    size_t i = 0;
    const char *p = line->p;
    for (; p[i] && vis < width; i++) {
        if (p[i] == '\033') {
            while (p[i] && p[i] != 'm')
                i++;
            continue;
        }
        if (((unsigned char)p[i] & 0xC0) != 0x80)
            vis++;
    }
    if (p[i]) {
        /* back up one visible character for the ellipsis */
        size_t j = i;
        while (j > 0 && ((unsigned char)p[j - 1] & 0xC0) == 0x80)
            j--;
        if (j > 0)
            j--;
        fwrite(p, 1, j, stdout);
        fputs("\u2026", stdout);
        fputs(col("0"), stdout);
    } else {
        fputs(p, stdout);
    }
    fputc('\n', stdout);
}

static void fmt_ms(char *b, size_t len, uint64_t ns)
{
    double ms = (double)ns / 1e6;
    if (ms >= 100)
        snprintf(b, len, "%.0fms", ms);
    else if (ms >= 1)
        snprintf(b, len, "%.1fms", ms);
    else
        snprintf(b, len, "%.2fms", ms);
}

struct it {
    size_t wait; /* index of the span that opened it (ties keep span order) */
    struct buf line;
    bool stall;
    uint64_t t;
};

static int it_cmp(const void *a, const void *b)
{
    const struct it *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->wait < y->wait ? -1 : x->wait > y->wait; /* span order: stable */
}

static void terminal(struct model *m, const struct topts *o)
{
    /* An iteration: a wait and the top-level callbacks after it, per thread. */
    struct it *its = NULL;
    size_t nit = 0;
    int cur[256];
    for (int i = 0; i < 256; i++)
        cur[i] = -1;
    for (size_t i = 0; i < m->nsp; i++) {
        struct span *s = &m->sp[i];
        int ti = thread_index(m, s->tid);
        char d[32];
        if (s->kind == 0) {
            struct it it = {.wait = i, .t = s->t0};
            fmt_ms(d, sizeof d, s->t1 - s->t0);
            char rel[32];
            snprintf(rel, sizeof rel, "%9.1f", (double)(s->t0 - m->tmin) / 1e6);
            buf_printf(&it.line, "%s%s%s ", col("2"), rel, col("0"));
            if (m->nth > 1)
                buf_printf(&it.line, "t%d ", ti + 1);
            const char *ready = strchr(s->name, ':');
            buf_printf(&it.line, "%swait %s%s", col("2"), d, col("0"));
            if (ready)
                buf_printf(&it.line, " ready%s", ready + 1);
            buf_printf(&it.line, " |");
            PUSH(its, nit, it);
            cur[ti] = (int)nit - 1;
        } else if (s->kind == 4) {
            if (cur[ti] < 0) { /* called outside the loop */
                struct it it = {.wait = i, .t = s->t0};
                char rel[32];
                snprintf(rel, sizeof rel, "%9.1f", (double)(s->t0 - m->tmin) / 1e6);
                buf_printf(&it.line, "%s%s%s ", col("2"), rel, col("0"));
                if (m->nth > 1)
                    buf_printf(&it.line, "t%d ", ti + 1);
                buf_printf(&it.line, "(outside the loop)");
                PUSH(its, nit, it);
                cur[ti] = (int)nit - 1;
            }
            buf_printf(&its[cur[ti]].line, " %s!%s%s", col("1;35"), s->name, col("0"));
        } else if (s->kind == 5) {
            struct it it = {.wait = i, .t = s->t1};
            char rel[32];
            snprintf(rel, sizeof rel, "%9.1f", (double)(s->t1 - m->tmin) / 1e6);
            buf_printf(&it.line, "%s%s%s ", col("2"), rel, col("0"));
            if (m->nth > 1)
                buf_printf(&it.line, "t%d ", ti + 1);
            buf_printf(&it.line, "%s%s%s", col("1;34"), s->name, col("0"));
            PUSH(its, nit, it);
            cur[ti] = -1;
        } else if (s->depth == 0) {
            if (cur[ti] < 0) {
                struct it it = {.wait = i, .t = s->t0};
                char rel[32];
                snprintf(rel, sizeof rel, "%9.1f", (double)(s->t0 - m->tmin) / 1e6);
                buf_printf(&it.line, "%s%s%s ", col("2"), rel, col("0"));
                if (m->nth > 1)
                    buf_printf(&it.line, "t%d ", ti + 1);
                buf_printf(&it.line, "(no wait) |");
                PUSH(its, nit, it);
                cur[ti] = (int)nit - 1;
            }
            struct it *it = &its[cur[ti]];
            int b = s->stall ? (int)i : blame(m, i);
            const char *name = m->sp[b].name;
            bool stall = false;
            for (size_t k = 0; k < m->nst; k++)
                stall =
                    stall || (m->sp[m->st[k].span].t0 >= s->t0 && m->sp[m->st[k].span].t1 <= s->t1);
            fmt_ms(d, sizeof d, s->t1 - s->t0);
            char where[32] = "";
            const struct span *bs = &m->sp[b];
            if (bs->kind == 1 && bs->tev >= 0 && !(m->ev[bs->tev].events & EV_SIGNAL) &&
                m->ev[bs->tev].fd >= 0)
                snprintf(where, sizeof where, " fd%d", m->ev[bs->tev].fd);
            buf_printf(&it->line, " %s%s%s %s%s", stall ? col("1;31") : col("32"), name, where, d,
                       col("0"));
            it->stall = it->stall || stall;
        }
    }
    /* Threads interleave: show iterations in time order (stable). */
    qsort(its, nit, sizeof *its, it_cmp);
    int limit = o->lines > 0 ? o->lines : 60;
    size_t head = nit > (size_t)limit ? (size_t)limit - 10 : nit;
    size_t skipped = 0;
    for (size_t i = 0; i < nit; i++) {
        if (i < head || i >= nit - 10 || its[i].stall) {
            if (skipped) {
                printf("%s          ... %zu iterations not shown (all are in --html)%s\n", col("2"),
                       skipped, col("0"));
                skipped = 0;
            }
            print_fit(&its[i].line, 80);
        } else {
            skipped++;
        }
        buf_free(&its[i].line);
    }
    if (skipped)
        printf("          ... %zu iterations not shown (all are in --html)\n", skipped);
    free(its);
}

/* On a terminal, long sentences wrap at 80 columns with an indent; into a
 * pipe or a file each stays one line (for grep and for tests). */
static void say_wrapped(const char *text)
{
    if (!isatty(STDOUT_FILENO)) {
        puts(text);
        return;
    }
    int col0 = 0;
    const char *p = text;
    while (*p) {
        const char *w = p + strspn(p, " ");
        size_t wl = strcspn(w, " ");
        int vis = 0;
        for (size_t k = 0; k < wl; k++) {
            if (w[k] == '\033') {
                while (k < wl && w[k] != 'm')
                    k++;
                continue;
            }
            vis += ((unsigned char)w[k] & 0xC0) != 0x80;
        }
        if (col0 > 4 && col0 + 1 + vis > 79) {
            fputs("\n    ", stdout);
            col0 = 4;
        } else if (p != text || w != p) {
            fwrite(p, 1, (size_t)(w - p), stdout);
            col0 += (int)(w - p);
        }
        fwrite(w, 1, wl, stdout);
        col0 += vis;
        p = w + wl;
    }
    fputc('\n', stdout);
}

static void report(struct model *m, const struct topts *o)
{
    size_t cbs = 0, waits = 0;
    uint64_t cb_ns = 0, wait_ns = 0;
    for (size_t i = 0; i < m->nsp; i++) {
        if (m->sp[i].kind == 0) {
            waits++;
            wait_ns += m->sp[i].t1 - m->sp[i].t0;
        } else if (m->sp[i].depth == 0 && m->sp[i].kind < 4) {
            cbs++;
            cb_ns += m->sp[i].t1 - m->sp[i].t0;
        }
    }
    size_t internal = 0;
    for (size_t i = 0; i < m->nev; i++)
        internal += m->ev[i].internal;
    printf("%s%zu waits (%.1f ms), %zu callbacks (%.1f ms), %zu events (%zu internal), %d "
           "thread%s%s\n",
           col("1"), waits, (double)wait_ns / 1e6, cbs, (double)cb_ns / 1e6, m->nev, internal,
           m->nth, m->nth == 1 ? "" : "s", col("0"));
    if (m->t->h.dropped)
        printf("%s(the recording hit its cap: %llu later records were dropped; EVTRACE_CAP "
               "raises it)%s\n",
               col("33"), (unsigned long long)m->t->h.dropped, col("0"));
    if (m->stuck_ns) {
        char *s = stuck_text(m);
        char *line = xasprintf("%sstuck:%s %s", col("1;31"), col("0"), s);
        say_wrapped(line);
        free(line);
        free(s);
    }
    if (!m->nst && m->stuck_ns)
        return;
    if (!m->nst && !m->stuck_ns) {
        printf("no stall: no callback held the loop %g ms or more while another event waited\n",
               o->stall_ms);
        return;
    }
    printf("%s%zu stall%s (a callback held the loop >= %g ms while others waited):%s\n",
           col("1;31"), m->nst, m->nst == 1 ? "" : "s", o->stall_ms, col("0"));
    for (size_t i = 0; i < m->nst && i < 20; i++) {
        char *s = stall_text(m, &m->st[i]);
        char *line = xasprintf("  stall at +%.1f ms: %s",
                               (double)(m->sp[m->st[i].span].t0 - m->tmin) / 1e6, s);
        say_wrapped(line);
        free(line);
        free(s);
    }
}

/* ---- HTML + SVG ------------------------------------------------------------------ */

static void xml_esc(struct buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': buf_add(b, "&lt;", 4); break;
        case '>': buf_add(b, "&gt;", 4); break;
        case '&': buf_add(b, "&amp;", 5); break;
        case '"': buf_add(b, "&quot;", 6); break;
        default: buf_add(b, s, 1);
        }
    }
}

static void json_esc(struct buf *b, const char *s)
{
    buf_add(b, "\"", 1);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            buf_printf(b, "\\u%04x", c);
        else
            buf_add(b, s, 1);
    }
    buf_add(b, "\"", 1);
}

static const char *html_head =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>evlab trace: %s</title>\n<style>\n"
    "body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}\n"
    "h1{font-size:18px;margin:0 0 4px}\n.stall{color:#b00;margin:2px 0}\n"
    "#wrap{border:1px solid #ccc;overflow:hidden;position:relative;cursor:grab}\n"
    "svg text{font:11px monospace;fill:#333}\n"
    ".wait{fill:#ddd}.cb{fill:#3a7}.cbi{fill:#8bc}.cbn{fill:#2a6}.stallbar{fill:#d33}\n"
    ".pending{fill:#cde3f7}.active{fill:#f5c542}.running{fill:#3a7}.ready{fill:#e67e22}\n"
    ".lane{fill:#fafafa}.lane2{fill:#f0f0f0}\n"
    "#tip{position:fixed;background:#222;color:#fff;padding:4px 8px;border-radius:3px;"
    "font:12px monospace;pointer-events:none;display:none;white-space:pre}\n"
    ".key span{display:inline-block;width:12px;height:10px;margin:0 4px 0 12px}\n"
    "</style></head><body>\n";

static char *stall_text(struct model *m, const struct stall *st);
static char *stuck_text(struct model *m);

static void svg_head(struct model *m, const char *title, FILE *f, int w, int h)
{
    struct buf b = {0};
    char *cap = NULL;
    size_t worst = 0;
    for (size_t i = 1; i < m->nst; i++)
        if (m->st[i].dur > m->st[worst].dur)
            worst = i;
    if (m->nst)
        cap = stall_text(m, &m->st[worst]);
    else if (m->stuck_ns)
        cap = stuck_text(m);
    else
        cap = strdup("no stall");
    buf_printf(&b, "evlab trace: %s. %s", title, cap);
    free(cap);
    struct buf e = {0};
    xml_esc(&e, b.p);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n<style>text{font:11px monospace;fill:#333}"
            ".caption{font:12px sans-serif;fill:#b00}"
            ".wait{fill:#ddd}.cb{fill:#3a7}.cbi{fill:#8bc}.stallbar{fill:#d33}"
            ".pending{fill:#cde3f7}.active{fill:#f5c542}.running{fill:#3a7}.ready{fill:#e67e22}"
            ".lane{fill:#fafafa}.lane2{fill:#f0f0f0}</style>\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>"
            "<text class=\"caption\" x=\"4\" y=\"16\">%s</text>\n"
            "<g transform=\"translate(0,22)\"><svg width=\"%d\" height=\"%d\">\n",
            w, h + 22, w, h + 22, e.p, w, h);
    buf_free(&e);
    buf_free(&b);
}

/* svg: the timeline alone, as one SVG file with its style and the worst
 * stall as its caption (for slides); else the whole page. */
static void html(struct model *m, const char *title, FILE *f, bool svg)
{
    /* Lanes: per thread, its loop lane, then its events (those with any band). */
    int lanes = 0;
    struct lane {
        int thread, tev; /* tev -1: the thread's loop lane */
    } *ln = NULL;
    size_t nln = 0;
    for (int ti = 0; ti < m->nth; ti++) {
        bool any = false;
        for (size_t i = 0; i < m->nsp && !any; i++)
            any = m->sp[i].tid == m->th[ti].tid;
        if (!any)
            continue;
        PUSH(ln, nln, ((struct lane){ti, -1}));
        m->th[ti].lane = lanes++;
        for (size_t e = 0; e < m->nev; e++) {
            if (m->ev[e].tid != m->th[ti].tid)
                continue;
            bool has = false;
            for (size_t b = 0; b < m->nbd && !has; b++)
                has = m->bd[b].tev == (int)e;
            if (!has)
                continue;
            m->ev[e].lane = lanes++;
            PUSH(ln, nln, ((struct lane){ti, (int)e}));
        }
    }
    const int LH = 18, LW = 230, W = 1100;
    double span = (double)(m->tmax - m->tmin);
    if (span <= 0)
        span = 1;
#define X(t) ((double)((t)-m->tmin) / span * W)
    struct buf b = {0};
    if (svg) {
        svg_head(m, title, f, LW + W + 10, (int)nln * LH + 24);
    } else {
        fprintf(f, html_head, title);
        xml_esc(&b, title);
        fprintf(f, "<h1>evlab trace: %s</h1>\n", b.p ? b.p : "");
        buf_free(&b);
        fprintf(f,
                "<p>%.1f ms recorded. Wheel: zoom, drag: pan, double-click: reset. Hover a bar for "
                "details.<span class=\"key\"><span class=\"pending\" style=\"background:#cde3f7\">"
                "</span>pending<span style=\"background:#f5c542\"></span>active"
                "<span style=\"background:#3a7\"></span>callback running"
                "<span style=\"background:#ddd\"></span>backend wait"
                "<span style=\"background:#d33\"></span>stall"
                "<span style=\"background:#e67e22\"></span>ready, waiting</span></p>\n",
                span / 1e6);
        fprintf(f, "<div id=\"stalls\">\n");
        for (size_t i = 0; i < m->nst; i++) {
            char *s = stall_text(m, &m->st[i]);
            b = (struct buf){0};
            xml_esc(&b, s);
            fprintf(f, "<p class=\"stall\">stall at +%.1f ms: %s</p>\n",
                    (double)(m->sp[m->st[i].span].t0 - m->tmin) / 1e6, b.p);
            buf_free(&b);
            free(s);
        }
        if (m->stuck_ns) {
            char *s = stuck_text(m);
            b = (struct buf){0};
            xml_esc(&b, s);
            fprintf(f, "<p class=\"stall\">stuck: %s</p>\n", b.p);
            buf_free(&b);
            free(s);
        }
        if (!m->nst && !m->stuck_ns)
            fprintf(f, "<p>no stall found</p>\n");
        fprintf(f,
                "</div>\n<div id=\"wrap\"><svg id=\"svg\" xmlns=\"http://www.w3.org/2000/svg\" "
                "width=\"%d\" height=\"%d\">\n",
                LW + W + 10, (int)nln * LH + 24);
    }
    /* lane backgrounds and labels */
    for (size_t i = 0; i < nln; i++) {
        b = (struct buf){0};
        if (ln[i].tev < 0)
            buf_printf(&b, "thread %d%s: loop", m->th[ln[i].thread].tid,
                       m->th[ln[i].thread].tid == m->t->h.main_tid ? " (main)" : "");
        else
            buf_printf(&b, "  %s%s", m->ev[ln[i].tev].label,
                       m->ev[ln[i].tev].internal ? " [internal]" : "");
        struct buf e = {0};
        xml_esc(&e, b.p);
        fprintf(f,
                "<rect class=\"%s\" x=\"0\" y=\"%zu\" width=\"%d\" height=\"%d\"/>"
                "<text class=\"lanelabel\" data-lane=\"%s\" x=\"4\" y=\"%zu\">%s</text>\n",
                ln[i].tev < 0 ? "lane2" : "lane", i * LH + 20, LW + W + 10, LH,
                ln[i].tev < 0 ? "thread" : "event", i * LH + 33, e.p);
        buf_free(&e);
        buf_free(&b);
    }
    fprintf(f,
            "<svg x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\" overflow=\"hidden\">"
            "<g id=\"tl\">\n",
            LW, W + 10, (int)nln * LH + 24);
    /* time axis ticks */
    double step = 1e3;
    while (span / step > 12)
        step *= (span / step > 60) ? 10 : 2;
    for (double t = 0; t <= span; t += step)
        fprintf(f,
                "<rect x=\"%.2f\" y=\"14\" width=\"0.5\" height=\"%d\" fill=\"#ccc\" "
                "class=\"tick\"/><text class=\"ticklabel\" x=\"%.2f\" y=\"11\">%.*f ms</text>\n",
                t / span * W, (int)nln * LH + 6, t / span * W + 2,
                step >= 1e6   ? 0
                : step >= 1e5 ? 1
                : step >= 1e4 ? 2
                              : 3,
                t / 1e6);
    static const char *cls[] = {"", "pending", "active", "running", "ready"};
    static const char *sname[] = {"", "pending", "active", "running",
                                  "ready (seen by the sampler) and waiting"};
    /* pending underneath, then active, then running, then the ready strips */
    for (size_t i = 0, pass = ST_PENDING; pass <= ST_READY;
         i = (i + 1 < m->nbd) ? i + 1 : (pass++, 0)) {
        if (!m->nbd)
            break;
        struct band *d = &m->bd[i];
        int lane = m->ev[d->tev].lane;
        if (lane < 0 || d->state != (int)pass)
            continue;
        double x = X(d->t0), w = X(d->t1) - x;
        b = (struct buf){0};
        buf_printf(&b, "%s: %s for %.3f ms from +%.3f ms", m->ev[d->tev].label, sname[d->state],
                   (double)(d->t1 - d->t0) / 1e6, (double)(d->t0 - m->tmin) / 1e6);
        struct buf e = {0};
        xml_esc(&e, b.p);
        int inset = d->state == ST_PENDING ? 3 : 1;
        int y = lane * LH + 20 + inset, h = LH - 2 * inset;
        if (d->state == ST_READY) { /* a strip along the bottom of the lane */
            y = lane * LH + 20 + LH - 6;
            h = 5;
        }
        fprintf(f,
                "<rect class=\"%s\" x=\"%.3f\" y=\"%d\" width=\"%.3f\" height=\"%d\" "
                "data-tip=\"%s\"><title>%s</title></rect>\n",
                cls[d->state], x, y, w < 0.3 ? 0.3 : w, h, e.p, e.p);
        buf_free(&e);
        buf_free(&b);
    }
    for (size_t i = 0; i < m->nsp; i++) {
        struct span *s = &m->sp[i];
        int ti = thread_index(m, s->tid);
        int lane = m->th[ti].lane;
        double x = X(s->t0), w = X(s->t1) - x;
        if (s->kind == 4) { /* loopbreak / loopexit: a mark across the lane */
            b = (struct buf){0};
            xml_esc(&b, s->detail);
            fprintf(f,
                    "<rect class=\"mark\" x=\"%.3f\" y=\"%d\" width=\"1\" height=\"%d\" "
                    "fill=\"#a0a\" data-tip=\"%s\"><title>%s</title></rect>\n",
                    x, lane * LH + 20, LH, b.p, b.p);
            buf_free(&b);
            continue;
        }
        if (s->kind == 5) { /* one call of event_base_loop: a line under the lane */
            b = (struct buf){0};
            xml_esc(&b, s->detail);
            fprintf(f,
                    "<rect class=\"loopcall\" x=\"%.3f\" y=\"%d\" width=\"%.3f\" height=\"2\" "
                    "fill=\"#36c\" data-tip=\"%s\"><title>%s</title></rect>\n",
                    x, lane * LH + 20 + LH - 2, w < 0.3 ? 0.3 : w, b.p, b.p);
            buf_free(&b);
            continue;
        }
        const char *c = s->kind == 0 ? "wait" : s->stall ? "stallbar" : s->internal ? "cbi" : "cb";
        b = (struct buf){0};
        buf_printf(&b, "%s\n%.3f ms at +%.3f ms", s->detail ? s->detail : s->name,
                   (double)(s->t1 - s->t0) / 1e6, (double)(s->t0 - m->tmin) / 1e6);
        struct buf e = {0};
        xml_esc(&e, b.p);
        int y = lane * LH + 20 + (s->kind == 0 ? 5 : 1 + 3 * (s->depth > 3 ? 3 : s->depth));
        int h = s->kind == 0 ? LH - 10 : LH - 2 - 6 * (s->depth > 3 ? 3 : s->depth);
        fprintf(f,
                "<rect class=\"%s\" x=\"%.3f\" y=\"%d\" width=\"%.3f\" height=\"%d\" "
                "data-tip=\"%s\"><title>%s</title></rect>\n",
                c, x, y, w < 0.3 ? 0.3 : w, h < 2 ? 2 : h, e.p, e.p);
        buf_free(&e);
        buf_free(&b);
    }
    if (m->stuck_ns) {
        int lane = m->th[thread_index(m, m->stuck_tid)].lane;
        double x = X(m->stuck_from);
        fprintf(f,
                "<rect class=\"stallbar stuck\" x=\"%.3f\" y=\"%d\" width=\"%.3f\" "
                "height=\"%d\" data-tip=\"stuck: no wait, no callback\"><title>stuck: no "
                "wait, no callback</title></rect>\n",
                x, lane * LH + 21, X(m->tmax) - x, LH - 2);
    }
#undef X
    if (svg) {
        fprintf(f, "</g></svg></svg></g></svg>\n");
        free(ln);
        return;
    }
    fprintf(f,
            "</g></svg></svg></div>\n<div id=\"tip\"></div>\n<script>\n"
            "(function(){\n"
            "var svg=document.getElementById('svg'),g=document.getElementById('tl'),\n"
            "tip=document.getElementById('tip'),wrap=document.getElementById('wrap');\n"
            "var W=%d,k=1,tx=0,drag=null;\n"
            "function apply(){k=Math.max(1,Math.min(k,1e6));\n"
            " tx=Math.min(0,Math.max(tx,W-W*k));\n"
            " g.setAttribute('transform','translate('+tx+',0) scale('+k+',1)');\n"
            " var ts=g.querySelectorAll('text.ticklabel');\n"
            " for(var i=0;i<ts.length;i++){ts[i].setAttribute('transform',"
            "'scale('+(1/k)+',1)');ts[i].setAttribute('x',(parseFloat(ts[i].dataset.x||"
            "(ts[i].dataset.x=ts[i].getAttribute('x'))))*k);}}\n"
            "wrap.addEventListener('wheel',function(e){e.preventDefault();\n"
            " var r=svg.getBoundingClientRect(),mx=e.clientX-r.left-%d;\n"
            " var f=e.deltaY<0?1.25:0.8,t=(mx-tx)/k;k*=f;tx=mx-t*k;apply();},{passive:false});\n"
            "wrap.addEventListener('mousedown',function(e){drag={x:e.clientX,tx:tx};});\n"
            "window.addEventListener('mouseup',function(){drag=null;});\n"
            "window.addEventListener('mousemove',function(e){\n"
            " if(drag){tx=drag.tx+e.clientX-drag.x;apply();}\n"
            " var d=e.target.getAttribute&&e.target.getAttribute('data-tip');\n"
            " if(d){tip.textContent=d;tip.style.display='block';\n"
            "  tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';}\n"
            " else tip.style.display='none';});\n"
            "wrap.addEventListener('dblclick',function(){k=1;tx=0;apply();});\n"
            "window.evlabTrace={lanes:document.querySelectorAll('text.lanelabel').length,"
            "zoom:function(f){k*=f;apply();return k;}};\n"
            "document.body.setAttribute('data-lanes',window.evlabTrace.lanes);\n"
            "if(location.hash=='#selftest'){var r=g.querySelector('rect.cb,rect.stallbar,"
            "rect.wait');var z=window.evlabTrace.zoom(8);\n"
            " if(r)r.dispatchEvent(new MouseEvent('mousemove',{bubbles:true,clientX:10,"
            "clientY:10}));\n"
            " document.body.setAttribute('data-selftest',(z==8&&(!r||tip.textContent.length>0))"
            "?'ok':'fail');}\n"
            "document.body.setAttribute('data-ready','1');\n"
            "})();\n</script>\n</body></html>\n",
            W, LW);
    free(ln);
}

/* ---- Chrome Trace Event JSON ---------------------------------------------------- */

static void chrome(struct model *m, FILE *f)
{
    struct buf b = {0};
    int pid = m->t->h.pid;
    buf_printf(&b, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    bool first = true;
#define SEP() (first ? (first = false, "") : ",\n")
    for (int i = 0; i < m->nth; i++) {
        buf_printf(&b,
                   "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"ts\":0,"
                   "\"args\":{\"name\":\"%s %d\"}}",
                   SEP(), pid, m->th[i].tid,
                   m->th[i].tid == m->t->h.main_tid ? "main thread" : "thread", m->th[i].tid);
    }
    for (size_t i = 0; i < m->nsp; i++) {
        struct span *s = &m->sp[i];
        buf_printf(&b, "%s{\"name\":", SEP());
        json_esc(&b, s->kind == 0 ? "backend wait" : s->name);
        static const char *cat[] = {"wait",           "callback", "bufferevent",
                                    "evconnlistener", "loop",     "loop"};
        if (s->kind == 4)
            buf_printf(&b,
                       ",\"cat\":\"loop\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,\"pid\":%d,"
                       "\"tid\":%d,\"args\":{\"detail\":",
                       (double)(s->t0 - m->tmin) / 1e3, pid, s->tid);
        else
            buf_printf(&b,
                       ",\"cat\":\"%s%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%d,"
                       "\"tid\":%d,\"args\":{\"detail\":",
                       cat[s->kind], s->internal && s->kind ? ",internal" : "",
                       (double)(s->t0 - m->tmin) / 1e3, (double)(s->t1 - s->t0) / 1e3, pid, s->tid);
        json_esc(&b, s->detail ? s->detail : s->name);
        buf_printf(&b, ",\"stall\":%s}}", s->stall ? "true" : "false");
    }
    /* State changes of each event as instant events on its thread. */
    static const char *sname[] = {"", "pending", "active", "running"};
    for (size_t i = 0; i < m->nbd; i++) {
        struct band *d = &m->bd[i];
        if (d->state == ST_RUNNING)
            continue;
        buf_printf(&b, "%s{\"name\":", SEP());
        char *n = xasprintf("%s %s", m->ev[d->tev].label, sname[d->state]);
        json_esc(&b, n);
        free(n);
        buf_printf(&b,
                   ",\"cat\":\"state\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%d,"
                   "\"tid\":%d,\"args\":{}}",
                   (double)(d->t0 - m->tmin) / 1e3, (double)(d->t1 - d->t0) / 1e3, pid,
                   1000000 + d->tev);
    }
    buf_printf(&b, "\n]}\n");
#undef SEP
    fwrite(b.p, 1, b.len, f);
    buf_free(&b);
}

/* ---- running the program ------------------------------------------------------- */

static volatile sig_atomic_t g_interrupted;

static double cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (p && p[1] == ' ' && p[2])
        g_state = p[2];
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Samples (wall, cpu) every 100 ms; at the stop, the share of the last ~0.5 s. */
static struct {
    double wall, cpu;
} g_samples[8];
static int g_nsamples;
static void sample_cpu(pid_t pid, bool final)
{
    double now = mono();
    int last = (g_nsamples - 1 + 8) % 8;
    if (!final && g_nsamples && now - g_samples[last].wall < 0.1)
        return;
    double c = cpu_seconds(pid);
    if (c < 0)
        return;
    if (final) {
        int old = g_nsamples >= 5 ? (g_nsamples - 5) % 8 : 0;
        if (g_nsamples && now - g_samples[old].wall > 0.2)
            g_busy = (c - g_samples[old].cpu) / (now - g_samples[old].wall);
        return;
    }
    g_samples[g_nsamples % 8].wall = now;
    g_samples[g_nsamples % 8].cpu = c;
    g_nsamples++;
}
static void on_int(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

/* Run argv under the recorder; drive clients when asked. Returns the recording path. */
static char *run_traced(char **argv, const struct topts *o, int *status)
{
    /* EVLAB_TRACE_PRELOAD replaces the whole preload list (the ASan check
     * puts libasan first, then build/asan/evtrace.so). */
    const char *forced = getenv("EVLAB_TRACE_PRELOAD");
    char *so = forced && *forced ? strdup(forced) : xasprintf("%s/%s/evtrace.so", g_root, g_build);
    if (!(forced && *forced) && !file_exists(so)) {
        const char *targets[] = {"trace"};
        struct proc_result r;
        if (run_make(g_root, g_build, targets, 1, &r) != 0 || !file_exists(so)) {
            fprintf(stderr, "evlab: building %s failed:\n%s", so, r.out ? r.out : "");
            proc_result_free(&r);
            free(so);
            return NULL;
        }
        proc_result_free(&r);
    }
    char dir[] = "/tmp/evlab-trace-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("evlab: mkdtemp");
        free(so);
        return NULL;
    }
    char *prefix = xasprintf("%s/rec", dir);
    int out[2] = {-1, -1};
    bool drive = o->clients > 0;
    if (drive && pipe2(out, O_CLOEXEC) < 0) {
        perror("evlab: pipe");
        return NULL;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("evlab: fork");
        return NULL;
    }
    if (pid == 0) {
        const char *old = getenv("LD_PRELOAD");
        char *pre = old && *old && !(forced && *forced) ? xasprintf("%s:%s", so, old) : strdup(so);
        setenv("LD_PRELOAD", pre, 1);
        setenv("EVTRACE_FILE", prefix, 1);
        if (o->no_sampler)
            setenv("EVTRACE_NO_SAMPLER", "1", 1);
        if (o->cap > 0) {
            char c[32];
            snprintf(c, sizeof c, "%ld", o->cap);
            setenv("EVTRACE_CAP", c, 1);
        }
        if (drive) {
            dup2(out[1], STDOUT_FILENO);
            if (!isatty(STDIN_FILENO)) {
                int nul = open("/dev/null", O_RDONLY);
                dup2(nul, STDIN_FILENO);
            }
        }
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        fprintf(stderr, "evlab: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    struct sigaction sa = {0}, old_int;
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, &old_int);
    double start = mono();
    int st = -1;
    if (drive) {
        close(out[1]);
        struct buf seen = {0};
        int port = 0;
        int cl[64];
        int ncl = 0;
        bool *got = calloc(64, 1);
        double connected_at = 0, done_at = 0;
        bool stopped = false, eof = false;
        for (;;) {
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid)
                break;
            double now = mono();
            if (!stopped && ((done_at && now - done_at > 0.3) ||
                             (connected_at && now - connected_at > o->hold_s) ||
                             (!port && now - start > 10) || g_interrupted)) {
                sample_cpu(pid, true);
                for (int i = 0; i < ncl; i++)
                    close(cl[i]);
                ncl = 0;
                kill(pid, SIGTERM);
                stopped = true;
                done_at = now;
            }
            if (stopped && now - done_at > 5)
                kill(pid, SIGKILL);
            if (!stopped)
                sample_cpu(pid, false);
            struct pollfd pf[65];
            int np = 0;
            if (!eof)
                pf[np++] = (struct pollfd){.fd = out[0], .events = POLLIN};
            for (int i = 0; i < ncl; i++)
                pf[np++] = (struct pollfd){.fd = cl[i], .events = POLLIN};
            poll(pf, (nfds_t)np, 20);
            int k = 0;
            if (!eof) {
                if (pf[0].revents) {
                    char tmp[4096];
                    ssize_t r = read(out[0], tmp, sizeof tmp);
                    if (r <= 0) {
                        eof = true;
                    } else {
                        fwrite(tmp, 1, (size_t)r, stdout);
                        buf_add(&seen, tmp, (size_t)r);
                    }
                }
                k = 1;
            }
            for (int i = 0; i < ncl; i++, k++) {
                if (!pf[k].revents)
                    continue;
                char tmp[4096];
                ssize_t r = o->slow_reader ? 0 : read(cl[i], tmp, sizeof tmp);
                if (r != 0 || !o->slow_reader)
                    got[i] = true;
            }
            if (!port && seen.p && strstr(seen.p, "127.0.0.1:")) {
                port = atoi(strstr(seen.p, "127.0.0.1:") + 10);
                if (port > 0) {
                    printf("%s[evlab trace: %d client%s connect to port %d at once]%s\n", col("36"),
                           o->clients, o->clients == 1 ? "" : "s", port, col("0"));
                    for (int i = 0; i < o->clients && i < 64; i++) {
                        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        struct sockaddr_in a = {.sin_family = AF_INET,
                                                .sin_port = htons((uint16_t)port)};
                        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
                            cl[ncl++] = fd;
                        else if (fd >= 0)
                            close(fd);
                    }
                    /* Each says one line (an echo server answers it; a greeting server
                     * has already spoken), or, as a slow reader, floods and never reads. */
                    for (int i = 0; i < ncl && !o->slow_reader; i++)
                        if (write(cl[i], "hello from evlab trace\n", 23) < 0)
                            got[i] = true; /* nothing more to wait for */
                    if (o->slow_reader) {
                        /* Send a lot, read nothing: the server's writes pile up. */
                        for (int i = 0; i < ncl; i++) {
                            int fl = fcntl(cl[i], F_GETFL);
                            fcntl(cl[i], F_SETFL, fl | O_NONBLOCK);
                            static char junk[1 << 16];
                            memset(junk, 'x', sizeof junk);
                            for (int j = 0; j < 64; j++)
                                if (write(cl[i], junk, sizeof junk) < 0)
                                    break;
                        }
                    }
                    connected_at = mono();
                }
            }
            if (ncl && !o->slow_reader && !done_at) {
                bool all = true;
                for (int i = 0; i < ncl; i++)
                    all = all && got[i];
                if (all)
                    done_at = mono(); /* everyone answered: a little more, then stop */
            }
        }
        for (int i = 0; i < ncl; i++)
            close(cl[i]);
        free(got);
        buf_free(&seen);
        close(out[0]);
    } else {
        double stop_at = o->duration > 0 ? start + o->duration : 0;
        bool termed = false;
        for (;;) {
            pid_t w = waitpid(pid, &st, WNOHANG);
            if (w == pid || (w < 0 && errno != EINTR))
                break;
            if (!termed)
                sample_cpu(pid, false);
            if (stop_at && mono() > stop_at && !termed) {
                sample_cpu(pid, true);
                kill(pid, SIGTERM);
                termed = true;
                stop_at = mono() + 5;
            } else if (termed && mono() > stop_at) {
                kill(pid, SIGKILL);
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    *status = st;
    char *path = xasprintf("%s.%d", prefix, (int)pid);
    /* Keep only the traced process's file; remove the directory's other files. */
    char *dst = xasprintf("%s.rec", dir);
    if (rename(path, dst) != 0) {
        free(dst);
        dst = NULL;
    }
    char *cmd_dir = strdup(dir);
    /* remove leftovers (grandchildren's recordings) without a shell */
    char *ls[] = {"rm", "-rf", cmd_dir, NULL};
    pid_t rm = fork();
    if (rm == 0) {
        execvp("rm", ls);
        _exit(127);
    }
    if (rm > 0)
        waitpid(rm, NULL, 0);
    free(cmd_dir);
    free(path);
    free(prefix);
    free(so);
    return dst;
}

/* ---- the command ------------------------------------------------------------------ */

static int usage(void)
{
    fprintf(stderr,
            "usage: ./evlab trace [options] -- PROGRAM [ARGS]\n"
            "       ./evlab trace NN [program] [options] [-- ARGS]\n"
            "       ./evlab trace --read FILE [options]\n"
            "       ./evlab trace --stall-line FILE [--stall-ms N]\n"
            "options:\n"
            "  --html FILE        write the timeline as one self-contained HTML page\n"
            "  --chrome FILE      write Chrome Trace Event JSON (Perfetto, chrome://tracing)\n"
            "  --svg FILE         write the timeline alone as an SVG file (for slides)\n"
            "  --keep FILE        keep the raw recording (for --read)\n"
            "  --stall-ms N       a callback this long while others wait is a stall (default 50)\n"
            "  --fail-on-stall    exit 3 when a stall was found\n"
            "  --clients N        connect N clients at once when the program prints its port\n"
            "                     (default 2 for a lesson server, which also gets --port 0)\n"
            "  --slow-reader      the clients send 4 MiB each and never read\n"
            "  --hold S           stop the server S seconds after the clients connected (10)\n"
            "  --duration S       stop the program (SIGTERM) after S seconds\n"
            "  --lines N          terminal lines at most (default 60; stalls are always shown)\n"
            "  --states           also print each event's state sequence\n"
            "  --quiet            only the summary and the stall report\n"
            "  --cap N            records kept in memory at most (default 1048576)\n"
            "  --no-sampler       no sampler thread in the program: cheaper, but a stall\n"
            "                     names only what was ready when it ended\n");
    return 2;
}

static bool num_opt(char **argv, int argc, int *a, double *out, double lo, double hi)
{
    if (*a + 1 >= argc)
        return false;
    char *end;
    double v = strtod(argv[++*a], &end);
    if (*end || end == argv[*a] || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->nev; i++) {
        free(m->ev[i].name);
        free(m->ev[i].label);
        buf_free(&m->ev[i].states);
    }
    for (size_t i = 0; i < m->nsp; i++) {
        free(m->sp[i].name);
        free(m->sp[i].detail);
    }
    for (size_t i = 0; i < m->nst; i++)
        buf_free(&m->st[i].why);
    free(m->ev);
    free(m->sp);
    free(m->bd);
    free(m->st);
    free(m->owners);
}

/* What the sampler saw ready while a callback held the loop: a band on the
 * waiting event's lane, from when it was seen to the end of that callback. */
static void ready_bands(struct model *m)
{
    struct trace *t = m->t;
    for (size_t k = 0; k < t->n; k++) {
        const struct evtrace_rec *r = &t->r[k];
        if (r->kind != EVT_SEEN_READY)
            continue;
        int e = -1;
        for (size_t i = 0; i < m->nev; i++)
            if (m->ev[i].addr == r->obj && (e < 0 || m->ev[i].tid == r->tid))
                e = (int)i;
        if (e < 0)
            continue;
        for (size_t i = 0; i < m->nsp; i++) {
            const struct span *sp = &m->sp[i];
            if (sp->tid == r->tid && sp->depth == 0 && sp->kind >= 1 && sp->kind <= 3 &&
                sp->t0 <= r->t && r->t <= sp->t1) {
                band(m, e, ST_READY, r->t, sp->t1);
                break;
            }
        }
    }
}

static int render(struct trace *t, const struct topts *o, const char *title)
{
    struct model m;
    build(&m, t, o->stall_ms);
    if (m.libevent_calls == 0) {
        model_free(&m);
        fprintf(stderr,
                "evlab: no libevent calls were seen in %s: it is not a libevent 2.1 program, or "
                "it is linked statically (LD_PRELOAD sees only dynamic calls)\n",
                title);
        return 2;
    }
    find_stalls(&m, o->stall_ms);
    ready_bands(&m);
    find_stuck(&m, o->stall_ms);
    if (o->stall_line) {
        size_t worst = 0;
        for (size_t i = 1; i < m.nst; i++)
            if (m.st[i].dur > m.st[worst].dur)
                worst = i;
        if (m.nst && (!m.stuck_ns || m.st[worst].dur >= m.stuck_ns)) {
            char *s = stall_text(&m, &m.st[worst]);
            printf("%s\n", s);
            free(s);
        } else if (m.stuck_ns) {
            char *s = stuck_text(&m);
            printf("%s\n", s);
            free(s);
        }
        int found = m.nst || m.stuck_ns;
        model_free(&m);
        return found ? 3 : 0;
    }
    if (!o->quiet) {
        printf("%s-- %s: one line per loop iteration --%s\n", col("1"), title, col("0"));
        printf("%s   ms since start, backend wait, fds ready | callbacks that ran%s\n", col("2"),
               col("0"));
        terminal(&m, o);
    }
    if (o->states) {
        for (size_t i = 0; i < m.nev; i++)
            printf("states %s%s: %s\n", m.ev[i].label, m.ev[i].internal ? " [internal]" : "",
                   m.ev[i].states.p ? m.ev[i].states.p : "");
    }
    report(&m, o);
    int rc = 0;
    if (o->html) {
        FILE *f = fopen(o->html, "w");
        if (!f) {
            rc = err2("cannot write %s: %s", o->html, strerror(errno));
        } else {
            html(&m, title, f, false);
            fclose(f);
            printf("timeline: %s\n", o->html);
        }
    }
    if (o->svg) {
        FILE *f = fopen(o->svg, "w");
        if (!f) {
            rc = err2("cannot write %s: %s", o->svg, strerror(errno));
        } else {
            html(&m, title, f, true);
            fclose(f);
            printf("svg: %s\n", o->svg);
        }
    }
    if (o->chrome) {
        FILE *f = fopen(o->chrome, "w");
        if (!f) {
            rc = err2("cannot write %s: %s", o->chrome, strerror(errno));
        } else {
            chrome(&m, f);
            fclose(f);
            printf("chrome trace: %s\n", o->chrome);
        }
    }
    if (!rc && o->fail_on_stall && (m.nst || m.stuck_ns))
        rc = 3;
    model_free(&m);
    return rc;
}

int cmd_trace(int argc, char **argv)
{
    struct topts o = {.stall_ms = 50, .clients = -1, .hold_s = 10, .lines = 60};
    int a = 1;
    const char *nn = NULL, *prog = NULL;
    char **args = NULL;
    int nargs = 0;
    for (; a < argc; a++) {
        const char *s = argv[a];
        double v;
        if (strcmp(s, "--") == 0) {
            args = argv + a + 1;
            nargs = argc - a - 1;
            break;
        } else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            usage();
            return 0;
        } else if (!strcmp(s, "--html") || !strcmp(s, "--chrome") || !strcmp(s, "--keep") ||
                   !strcmp(s, "--svg") || !strcmp(s, "--read") || !strcmp(s, "--stall-line")) {
            if (a + 1 >= argc)
                return err2("%s needs a file name", s);
            const char *f = argv[++a];
            if (!strcmp(s, "--html"))
                o.html = f;
            else if (!strcmp(s, "--chrome"))
                o.chrome = f;
            else if (!strcmp(s, "--keep"))
                o.keep = f;
            else if (!strcmp(s, "--svg"))
                o.svg = f;
            else {
                o.read = f;
                o.stall_line = !strcmp(s, "--stall-line");
            }
        } else if (!strcmp(s, "--stall-ms")) {
            if (!num_opt(argv, argc, &a, &o.stall_ms, 0.001, 1e7))
                return err2("--stall-ms needs a number of milliseconds (0.001 to 10000000)");
        } else if (!strcmp(s, "--clients")) {
            if (!num_opt(argv, argc, &a, &v, 0, 64) || v != (int)v)
                return err2("--clients needs a whole number from 0 to 64");
            o.clients = (int)v;
        } else if (!strcmp(s, "--hold")) {
            if (!num_opt(argv, argc, &a, &o.hold_s, 0, 3600))
                return err2("--hold needs a number of seconds (0 to 3600)");
        } else if (!strcmp(s, "--duration")) {
            if (!num_opt(argv, argc, &a, &o.duration, 0.001, 86400))
                return err2("--duration needs a number of seconds");
        } else if (!strcmp(s, "--lines")) {
            if (!num_opt(argv, argc, &a, &v, 11, 1e6) || v != (int)v)
                return err2("--lines needs a whole number from 11");
            o.lines = (int)v;
        } else if (!strcmp(s, "--cap")) {
            if (!num_opt(argv, argc, &a, &v, 1000, 1e8) || v != (long)v)
                return err2("--cap needs a whole number from 1000 to 100000000");
            o.cap = (long)v;
        } else if (!strcmp(s, "--fail-on-stall")) {
            o.fail_on_stall = true;
        } else if (!strcmp(s, "--quiet")) {
            o.quiet = true;
        } else if (!strcmp(s, "--states")) {
            o.states = true;
        } else if (!strcmp(s, "--slow-reader")) {
            o.slow_reader = true;
        } else if (!strcmp(s, "--no-sampler")) {
            o.no_sampler = true;
        } else if (s[0] == '-') {
            return err2("unknown option '%s' for trace (try: ./evlab trace --help)", s);
        } else if (!nn) {
            nn = s;
        } else if (!prog) {
            prog = s;
        } else {
            return err2("trace takes a lesson number and one program; its arguments go after --");
        }
    }
    if (o.read) {
        if (nn || args)
            return err2("--read and --stall-line take no program");
        struct trace t;
        if (trace_load(&t, o.read))
            return 2;
        int rc = render(&t, &o, o.read);
        trace_free(&t);
        return rc;
    }
    /* What to run: a lesson program, or the command after --. */
    char *path = NULL;
    char **cmd = NULL;
    int ncmd = 0;
    char *title = NULL;
    bool server = false;
    if (nn) {
        struct unit *les;
        int n = find_units("lessons", &les);
        int i = pick_unit(nn, "lessons", les, n);
        if (i < 0)
            return free(les), 2;
        char **progs;
        int np = list_programs(les[i].dir, &progs);
        const char *pick = prog ? prog : np ? progs[0] : NULL;
        bool found = false;
        for (int k = 0; k < np; k++)
            found = found || (pick && strcmp(progs[k], pick) == 0);
        if (!found) {
            struct buf b = {0};
            for (int k = 0; k < np; k++)
                buf_printf(&b, "%s%s", k ? ", " : "", progs[k]);
            int rc = err2("lesson %s has no program '%s' (it has: %s)", les[i].nn, pick ? pick : "",
                          b.p ? b.p : "none");
            buf_free(&b);
            free_names(progs, np);
            free(les);
            return rc;
        }
        char *target = xasprintf("%s/lessons/%s/%s", g_build, les[i].name, pick);
        const char *targets[] = {target};
        struct proc_result r;
        if (run_make(g_root, g_build, targets, 1, &r) != 0) {
            fprintf(stderr, "evlab: building %s failed:\n%s", target, r.out ? r.out : "");
            proc_result_free(&r);
            return 2;
        }
        proc_result_free(&r);
        free(target);
        path = xasprintf("%s/%s/lessons/%s/%s", g_root, g_build, les[i].name, pick);
        char *src = xasprintf("%s/%s.c", les[i].dir, pick);
        char *text = read_file(src, NULL);
        server = text && strstr(text, "listening on 127.0.0.1:");
        free(text);
        free(src);
        title = xasprintf("lesson %s %s", les[i].nn, pick);
        free_names(progs, np);
        free(les);
        ncmd = 1 + (nargs ? nargs : server ? 2 : 0);
        cmd = calloc((size_t)ncmd + 1, sizeof *cmd);
        cmd[0] = path;
        if (nargs)
            memcpy(cmd + 1, args, (size_t)nargs * sizeof *cmd);
        else if (server) {
            cmd[1] = "--port";
            cmd[2] = "0";
        }
    } else {
        if (!args || !nargs)
            return usage();
        cmd = calloc((size_t)nargs + 1, sizeof *cmd);
        memcpy(cmd, args, (size_t)nargs * sizeof *cmd);
        ncmd = nargs;
        title = strdup(args[0]);
    }
    if (o.clients < 0)
        o.clients = server ? 2 : 0;
    /* Refuse what LD_PRELOAD cannot see, with the reason. */
    char *exe = NULL;
    if (strchr(cmd[0], '/'))
        exe = strdup(cmd[0]);
    else {
        const char *p = getenv("PATH");
        char *copy = strdup(p ? p : "/usr/bin:/bin"), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d && !exe; d = strtok_r(NULL, ":", &save)) {
            char *c = xasprintf("%s/%s", d, cmd[0]);
            if (access(c, X_OK) == 0)
                exe = c;
            else
                free(c);
        }
        free(copy);
    }
    int rc = 0;
    if (!exe || access(exe, X_OK) != 0) {
        rc = err2("cannot run '%s': not found or not executable", cmd[0]);
        goto out;
    }
    const char *v = elf_check(exe);
    if (!strcmp(v, "static")) {
        rc = err2("%s is statically linked: LD_PRELOAD cannot see its libevent calls, so there "
                  "is nothing to trace (link it dynamically: pkg-config --libs libevent)",
                  exe);
        goto out;
    }
    if (!strcmp(v, "nolibevent")) {
        rc = err2("%s does not link libevent (no libevent in its DT_NEEDED): evlab trace records "
                  "libevent 2.1 event loops only",
                  exe);
        goto out;
    }
    int status = 0;
    char *recpath = run_traced(cmd, &o, &status);
    if (!recpath) {
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            rc = err2("%s was killed (SIGKILL) before it could write its recording", cmd[0]);
        else
            rc = err2("%s left no recording (did it exit with _exit() or exec another "
                      "program?)",
                      cmd[0]);
        goto out;
    }
    char d[96];
    printf("%s[evlab trace: %s %s]%s\n", col("36"), title, describe_status(status, d, sizeof d),
           col("0"));
    struct trace t;
    if (trace_load(&t, recpath)) {
        rc = 2;
    } else {
        rc = render(&t, &o, title);
        trace_free(&t);
    }
    if (o.keep && rename(recpath, o.keep) != 0) {
        /* another file system: copy */
        size_t len;
        char *data = read_file(recpath, &len);
        if (!data || write_file(o.keep, data, len) != 0)
            fprintf(stderr, "evlab: cannot keep the recording as %s\n", o.keep);
        free(data);
    }
    unlink(recpath);
    free(recpath);
out:
    free(exe);
    free(cmd);
    free(path);
    free(title);
    return rc;
}
