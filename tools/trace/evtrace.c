/* evtrace.c -- LD_PRELOAD library that records a libevent program's event loop.
 *
 * `evlab trace` runs a program with LD_PRELOAD=build/evtrace.so and
 * EVTRACE_FILE=PREFIX; this library then writes PREFIX.<pid> at exit. Without
 * EVTRACE_FILE every wrapper only passes its call on.
 *
 * What it sees, and why that is enough:
 * - The public event API (event_new/assign/add/del/active/free, the loop,
 *   loopexit/loopbreak), bufferevents and listeners, by defining the same
 *   symbols: the dynamic linker binds the program to these first, and each
 *   passes the call on to libevent with dlsym(RTLD_NEXT). Debian's libevent
 *   calls event_add, event_del and event_assign through its own PLT
 *   (objdump -d libevent_core-2.1.so.7: 17 calls to event_add@plt), so the
 *   events a bufferevent or listener makes inside libevent are seen too;
 *   they are marked EVTF_INTERNAL (the caller's address lies in libevent).
 * - Callbacks: event_assign() stores a trampoline instead of the callback
 *   (the argument is kept). The trampoline asks libevent which event is
 *   running (event_base_get_running_event), records its start and end and
 *   calls the real callback. event_get_callback()/event_get_assignment()
 *   still answer with the program's own callback.
 * - Backend waits: epoll_wait, poll and select from libc.
 * - While a callback runs 20 ms or more, a sampler thread polls (timeout 0,
 *   nothing is read) the fds of the loop's other pending events, to say what
 *   became ready and had to wait. It also writes a snapshot of the recording
 *   when PREFIX.req appears. EVTRACE_NO_SAMPLER=1 (evlab trace --no-sampler):
 *   no thread is added to the program, and no snapshots.
 *
 * Records go to an in-memory array with a cap (EVTRACE_CAP records, default
 * 1M); nothing is ever written to the program's stdout or stderr.
 *
 * Build: make build/evtrace.so   (cc -shared -fPIC evtrace.c -ldl -lpthread)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_compat.h>
#include <event2/listener.h>

#include "../evlab/evtrace.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- the record buffer ------------------------------------------------------ */

static bool g_on;                  /* EVTRACE_FILE was set, and we are that process */
static char g_path[4096];          /* EVTRACE_FILE */
static struct evtrace_rec *g_recs; /* mmap'd, g_cap records */
static uint64_t g_cap;
static _Atomic uint64_t g_n; /* records claimed (may exceed g_cap: dropped) */
static uint64_t g_t0;
static pid_t g_pid;
static atomic_bool g_flushed;
#define TLS __thread __attribute__((tls_model("initial-exec")))
static TLS pid_t t_tid;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Record times: the cycle counter where there is one (a few ns; the
 * kvm-clock behind clock_gettime costs ~150 ns here), else nanoseconds. */
static uint64_t g_tsc0;
static uint64_t ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#else
    return now_ns();
#endif
}

static pid_t my_tid(void)
{
    if (!t_tid)
        t_tid = (pid_t)syscall(SYS_gettid);
    return t_tid;
}

/* Page faults are slow (very slow in some VMs): the buffer is made present
 * one chunk ahead with a single madvise() instead of a fault per page. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
enum { CHUNK = 16384 }; /* records: 896 KiB */
static void populate(uint64_t from)
{
    if (from >= g_cap)
        return;
    uint64_t n = g_cap - from < CHUNK ? g_cap - from : CHUNK;
    int saved = errno;
    madvise(&g_recs[from], n * sizeof *g_recs, MADV_POPULATE_WRITE); /* a hint: may fail */
    errno = saved;
}

static void rec_tid(pid_t tid, int kind, int flags, const void *obj, int64_t a, int64_t b,
                    uint64_t c, uint64_t d)
{
    if (!g_on)
        return;
    uint64_t i = atomic_fetch_add_explicit(&g_n, 1, memory_order_relaxed);
    if (i >= g_cap)
        return;
    if (i % CHUNK == 0)
        populate(i + CHUNK);
    struct evtrace_rec *r = &g_recs[i];
    r->t = ticks();
    r->tid = tid;
    r->kind = (uint16_t)kind;
    r->flags = (uint16_t)flags;
    r->obj = (uint64_t)(uintptr_t)obj;
    r->a = a;
    r->b = b;
    r->c = c;
    r->d = d;
}

static void rec(int kind, int flags, const void *obj, int64_t a, int64_t b, uint64_t c, uint64_t d)
{
    if (g_on)
        rec_tid(my_tid(), kind, flags, obj, a, b, c, d);
}

#define FN(f) ((uint64_t)(uintptr_t)(f))

/* Write everything: only async-signal-safe calls (open, write, read, close). */
static void write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* sig > 0: from a fatal signal; 0: at exit; -1: a snapshot asked for while
 * the program runs (the exit still writes the file again, complete). */
static void flush_trace(int sig)
{
    if (!g_on || getpid() != g_pid)
        return;
    if (sig >= 0 && atomic_exchange(&g_flushed, true))
        return;
    int saved = errno;
    char path[4200];
    /* PREFIX.<pid>, built without snprintf (async-signal-safe) */
    size_t l = strlen(g_path);
    memcpy(path, g_path, l);
    path[l++] = '.';
    char digits[16];
    int nd = 0;
    for (unsigned v = (unsigned)g_pid; v || !nd; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    while (nd)
        path[l++] = digits[--nd];
    path[l] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        errno = saved;
        return;
    }
    static char maps[1 << 20];
    size_t mlen = 0;
    int mfd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (mfd >= 0) {
        ssize_t r;
        while (mlen < sizeof maps && (r = read(mfd, maps + mlen, sizeof maps - mlen)) > 0)
            mlen += (size_t)r;
        close(mfd);
    }
    uint64_t n = atomic_load(&g_n);
    struct evtrace_hdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, EVTRACE_MAGIC, 8);
    h.version = 2;
    h.rec_size = sizeof(struct evtrace_rec);
    h.nrec = n < g_cap ? n : g_cap;
    h.dropped = n - h.nrec;
    h.t0 = g_t0;
    h.t_end = now_ns();
#if defined(__x86_64__) || defined(__i386__)
    h.tsc0 = g_tsc0;
    h.tsc_end = ticks();
#endif
    h.maps_len = mlen;
    h.pid = g_pid;
    h.main_tid = g_pid;
    h.exit_signal = sig > 0 ? sig : 0;
    write_all(fd, &h, sizeof h);
    write_all(fd, g_recs, h.nrec * sizeof(struct evtrace_rec));
    write_all(fd, maps, mlen);
    close(fd);
    errno = saved;
}

static void on_fatal(int sig)
{
    flush_trace(sig);
    /* SA_RESETHAND put the default action back: die of the same signal. */
    raise(sig);
}

static void after_fork_child(void) { g_on = false; /* a forked child is not the traced process */ }

/* ---- libevent's own code: where it lives ---------------------------------- */

static struct {
    uintptr_t lo, hi;
} g_lib[16];
static int g_nlib;

static int find_libevent(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libevent"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum && g_nlib < 16; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            g_lib[g_nlib].lo = info->dlpi_addr + ph->p_vaddr;
            g_lib[g_nlib].hi = g_lib[g_nlib].lo + ph->p_memsz;
            g_nlib++;
        }
    }
    return 0;
}

static bool in_libevent(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    for (int i = 0; i < g_nlib; i++)
        if (a >= g_lib[i].lo && a < g_lib[i].hi)
            return true;
    return false;
}

/* ---- real functions --------------------------------------------------------- */

#define REAL(name) static __typeof__(name) *real_##name
REAL(event_new);
REAL(event_assign);
REAL(event_set);
REAL(event_add);
REAL(event_del);
REAL(event_active);
REAL(event_free);
REAL(event_get_callback);
REAL(event_get_assignment);
REAL(event_base_loop);
REAL(event_base_loopexit);
REAL(event_base_loopbreak);
REAL(event_base_new);
REAL(event_base_new_with_config);
REAL(event_base_get_running_event);
REAL(bufferevent_socket_new);
REAL(bufferevent_setcb);
REAL(bufferevent_getcb);
REAL(bufferevent_enable);
REAL(bufferevent_disable);
REAL(bufferevent_free);
REAL(evconnlistener_new);
REAL(evconnlistener_new_bind);
REAL(evconnlistener_set_cb);
REAL(evconnlistener_free);
REAL(epoll_wait);
REAL(poll);
REAL(select);
REAL(event_self_cbarg);
REAL(evconnlistener_enable);
REAL(evconnlistener_get_fd);

/* dlsym(RTLD_NEXT) once; the answer never changes, so a race only repeats it. */
#define LOAD(name)                                                                                 \
    do {                                                                                           \
        if (!real_##name)                                                                          \
            real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);                             \
    } while (0)

static void load_all(void)
{
    LOAD(event_new);
    LOAD(event_assign);
    LOAD(event_set);
    LOAD(event_add);
    LOAD(event_del);
    LOAD(event_active);
    LOAD(event_free);
    LOAD(event_get_callback);
    LOAD(event_get_assignment);
    LOAD(event_base_loop);
    LOAD(event_base_loopexit);
    LOAD(event_base_loopbreak);
    LOAD(event_base_new);
    LOAD(event_base_new_with_config);
    LOAD(event_base_get_running_event);
    LOAD(bufferevent_socket_new);
    LOAD(bufferevent_setcb);
    LOAD(bufferevent_getcb);
    LOAD(bufferevent_enable);
    LOAD(bufferevent_disable);
    LOAD(bufferevent_free);
    LOAD(evconnlistener_new);
    LOAD(evconnlistener_new_bind);
    LOAD(evconnlistener_set_cb);
    LOAD(evconnlistener_free);
    LOAD(epoll_wait);
    LOAD(poll);
    LOAD(select);
    LOAD(event_self_cbarg);
    LOAD(evconnlistener_enable);
    LOAD(evconnlistener_get_fd);
}

__attribute__((constructor)) static void evtrace_init(void)
{
    load_all();
    const char *p = getenv("EVTRACE_FILE");
    if (!p || !*p || strlen(p) >= sizeof g_path - 32)
        return;
    strcpy(g_path, p);
    g_cap = 1u << 20;
    const char *cap = getenv("EVTRACE_CAP");
    if (cap && atoll(cap) > 0)
        g_cap = (uint64_t)atoll(cap);
    void *m = mmap(NULL, g_cap * sizeof(struct evtrace_rec), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return;
    g_recs = m;
    populate(0);
    g_pid = getpid();
    g_t0 = now_ns();
    g_tsc0 = ticks();
    dl_iterate_phdr(find_libevent, NULL);
    pthread_atfork(NULL, NULL, after_fork_child);
    /* Fatal signals flush first, only where the program keeps the default. */
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
                                SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
        struct sigaction old;
        if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
            !(old.sa_flags & SA_SIGINFO)) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_fatal;
            sa.sa_flags = SA_RESETHAND | SA_NODEFER | SA_RESTART;
            sigemptyset(&sa.sa_mask);
            sigaction(fatal[i], &sa, NULL);
        }
    }
    g_on = true;
}

__attribute__((destructor)) static void evtrace_fini(void) { flush_trace(0); }

/* ---- what we know about each event, bufferevent and listener ------------- */

enum { TAB_SIZE = 1 << 16 };
#define TOMB ((uintptr_t)1)

struct ev_info {
    uintptr_t key; /* the event (0: empty, TOMB: deleted) */
    event_callback_fn cb;
    void *arg;
    struct event_base *base;
    int fd;
    short events;
    bool internal, pending;
};

struct bev_info {
    uintptr_t key;
    bufferevent_data_cb readcb, writecb;
    bufferevent_event_cb eventcb;
};

struct lev_info {
    uintptr_t key;
    evconnlistener_cb cb;
};

static struct ev_info *g_evs;
static struct bev_info *g_bevs;
static struct lev_info *g_levs;
static pthread_mutex_t g_tab_lock = PTHREAD_MUTEX_INITIALIZER;

static bool tables(void)
{
    if (g_evs)
        return true;
    g_evs = mmap(NULL, TAB_SIZE * sizeof *g_evs, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    g_bevs = mmap(NULL, TAB_SIZE * sizeof *g_bevs, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    g_levs = mmap(NULL, 1024 * sizeof *g_levs, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (g_evs == MAP_FAILED || g_bevs == MAP_FAILED || g_levs == MAP_FAILED) {
        g_evs = NULL;
        g_on = false;
        return false;
    }
    return true;
}

static size_t hash_ptr(uintptr_t k, size_t size)
{
    k ^= k >> 17;
    k *= 0x9E3779B97F4A7C15u;
    return (size_t)(k >> 20) & (size - 1);
}

/* Linear probing over an array of structs whose first member is the key.
 * Returns the slot holding key, or (insert) the first free one; NULL if none. */
static void *slot_for(void *tab, size_t size, size_t elem, uintptr_t key, bool insert)
{
    char *t = tab;
    size_t h = hash_ptr(key, size);
    void *free_slot = NULL;
    for (size_t i = 0; i < size; i++) {
        uintptr_t *k = (uintptr_t *)(t + ((h + i) & (size - 1)) * elem);
        if (*k == key)
            return k;
        if (*k == TOMB && !free_slot)
            free_slot = k;
        if (*k == 0)
            return insert ? (free_slot ? free_slot : k) : NULL;
    }
    return insert ? free_slot : NULL;
}

/* ---- events and their trampoline ------------------------------------------- */

static TLS struct event_base *t_base; /* the loop this thread is running */
static TLS const void *t_user_caller; /* set by event_new/event_set for event_assign */

/* Per-thread slot the sampler reads: which callback runs since when. */
enum { MAX_THREADS = 256 };
static struct tslot {
    _Atomic pid_t tid;
    _Atomic uint64_t cb_start;
    _Atomic(struct event_base *) base;
    const void *running;
} g_threads[MAX_THREADS];
static TLS struct tslot *t_slot;

static struct tslot *my_slot(void)
{
    if (t_slot)
        return t_slot;
    pid_t me = my_tid();
    for (int i = 0; i < MAX_THREADS; i++) {
        pid_t zero = 0;
        if (atomic_compare_exchange_strong(&g_threads[i].tid, &zero, me)) {
            t_slot = &g_threads[i];
            return t_slot;
        }
    }
    return NULL;
}

static void ev_trampoline(evutil_socket_t fd, short what, void *arg);

static void forget_event(const struct event *ev)
{
    pthread_mutex_lock(&g_tab_lock);
    struct ev_info *e = slot_for(g_evs, TAB_SIZE, sizeof *g_evs, (uintptr_t)ev, false);
    if (e)
        e->key = TOMB;
    pthread_mutex_unlock(&g_tab_lock);
}

EXPORT int event_assign(struct event *ev, struct event_base *base, evutil_socket_t fd, short events,
                        event_callback_fn cb, void *arg)
{
    LOAD(event_assign);
    const void *caller = t_user_caller ? t_user_caller : __builtin_return_address(0);
    t_user_caller = NULL;
    if (!g_on || !cb || cb == ev_trampoline || !tables())
        return real_event_assign(ev, base, fd, events, cb, arg);
    /* What event_assign itself does with event_self_cbarg() and a NULL base. */
    if (real_event_self_cbarg && arg == real_event_self_cbarg())
        arg = ev;
    bool internal = in_libevent(caller);
    pthread_mutex_lock(&g_tab_lock);
    struct ev_info *e = slot_for(g_evs, TAB_SIZE, sizeof *g_evs, (uintptr_t)ev, true);
    if (e) {
        e->key = (uintptr_t)ev;
        e->cb = cb;
        e->arg = arg;
        e->base = base;
        e->fd = fd;
        e->events = events;
        e->internal = internal;
        e->pending = false;
    }
    pthread_mutex_unlock(&g_tab_lock);
    int rc = real_event_assign(ev, base, fd, events, e ? ev_trampoline : cb, arg);
    if (rc == 0 && e) {
        struct event_base *b = base;
        if (!b)
            real_event_get_assignment(ev, &b, NULL, NULL, NULL, NULL);
        rec(EVT_ASSIGN, internal ? EVTF_INTERNAL : 0, ev, fd, events, FN(cb), FN(b));
    } else if (e) {
        forget_event(ev);
    }
    return rc;
}

EXPORT struct event *event_new(struct event_base *base, evutil_socket_t fd, short events,
                               event_callback_fn cb, void *arg)
{
    LOAD(event_new);
    t_user_caller = __builtin_return_address(0);
    struct event *ev = real_event_new(base, fd, events, cb, arg);
    t_user_caller = NULL;
    return ev;
}

EXPORT void event_set(struct event *ev, evutil_socket_t fd, short events, event_callback_fn cb,
                      void *arg)
{
    LOAD(event_set);
    t_user_caller = __builtin_return_address(0);
    real_event_set(ev, fd, events, cb, arg);
    t_user_caller = NULL;
}

static void set_pending(const struct event *ev, bool pending)
{
    if (!g_evs)
        return;
    pthread_mutex_lock(&g_tab_lock);
    struct ev_info *e = slot_for(g_evs, TAB_SIZE, sizeof *g_evs, (uintptr_t)ev, false);
    if (e)
        e->pending = pending;
    pthread_mutex_unlock(&g_tab_lock);
}

EXPORT int event_add(struct event *ev, const struct timeval *tv)
{
    LOAD(event_add);
    int flags = in_libevent(__builtin_return_address(0)) ? EVTF_INTERNAL : 0;
    int rc = real_event_add(ev, tv);
    if (g_on && rc == 0) {
        set_pending(ev, true);
        rec(EVT_ADD, flags, ev, tv ? (int64_t)tv->tv_sec * 1000000 + tv->tv_usec : -1, 0, 0, 0);
    }
    return rc;
}

EXPORT int event_del(struct event *ev)
{
    LOAD(event_del);
    int flags = in_libevent(__builtin_return_address(0)) ? EVTF_INTERNAL : 0;
    int rc = real_event_del(ev);
    if (g_on && rc == 0) {
        set_pending(ev, false);
        rec(EVT_DEL, flags, ev, 0, 0, 0, 0);
    }
    return rc;
}

EXPORT void event_active(struct event *ev, int res, short ncalls)
{
    LOAD(event_active);
    rec(EVT_ACTIVE, in_libevent(__builtin_return_address(0)) ? EVTF_INTERNAL : 0, ev, res, 0, 0, 0);
    real_event_active(ev, res, ncalls);
}

EXPORT void event_free(struct event *ev)
{
    LOAD(event_free);
    if (g_on && ev) {
        rec(EVT_FREE, 0, ev, 0, 0, 0, 0);
        /* Forget first: once freed, another thread may get the same address
         * from malloc and assign it before we could remove the entry. */
        forget_event(ev);
        real_event_free(ev);
        return;
    }
    real_event_free(ev);
}

static event_callback_fn original_cb(const struct event *ev, event_callback_fn cb)
{
    if (cb != ev_trampoline || !g_evs)
        return cb;
    pthread_mutex_lock(&g_tab_lock);
    struct ev_info *e = slot_for(g_evs, TAB_SIZE, sizeof *g_evs, (uintptr_t)ev, false);
    event_callback_fn orig = e ? e->cb : NULL;
    pthread_mutex_unlock(&g_tab_lock);
    return orig;
}

EXPORT event_callback_fn event_get_callback(const struct event *ev)
{
    LOAD(event_get_callback);
    return original_cb(ev, real_event_get_callback(ev));
}

EXPORT void event_get_assignment(const struct event *ev, struct event_base **base_out,
                                 evutil_socket_t *fd_out, short *events_out,
                                 event_callback_fn *callback_out, void **arg_out)
{
    LOAD(event_get_assignment);
    real_event_get_assignment(ev, base_out, fd_out, events_out, callback_out, arg_out);
    if (callback_out)
        *callback_out = original_cb(ev, *callback_out);
}

/* The callback libevent calls for every event we saw assigned. */
static void ev_trampoline(evutil_socket_t fd, short what, void *arg)
{
    struct event *ev = NULL;
    if (t_base && real_event_base_get_running_event)
        ev = real_event_base_get_running_event(t_base);
    struct ev_info info = {0};
    for (int tries = 0; !info.cb; tries++) {
        pthread_mutex_lock(&g_tab_lock);
        struct ev_info *e =
            ev ? slot_for(g_evs, TAB_SIZE, sizeof *g_evs, (uintptr_t)ev, false) : NULL;
        if (!e) {
            /* No loop of ours on this thread: the one event with this fd and arg. */
            for (size_t i = 0; i < TAB_SIZE && !e; i++)
                if (g_evs[i].key > TOMB && g_evs[i].arg == arg && g_evs[i].fd == fd)
                    e = &g_evs[i];
        }
        if (e) {
            info = *e;
            if (!(e->events & EV_PERSIST))
                e->pending = false;
        }
        pthread_mutex_unlock(&g_tab_lock);
        if (!info.cb) {
            if (tries > 1000)
                abort(); /* cannot happen: every trampoline was installed with an entry */
            sched_yield();
        }
    }
    struct tslot *s = my_slot();
    uint64_t prev_start = 0;
    const void *prev_running = NULL;
    if (s) {
        prev_start = atomic_load(&s->cb_start);
        prev_running = s->running;
        s->running = ev;
        atomic_store(&s->base, t_base);
    }
    rec(EVT_CB_BEGIN, info.internal ? EVTF_INTERNAL : 0, ev ? (void *)ev : (void *)info.key, fd,
        what, FN(info.cb), FN(info.base));
    if (s && !prev_start)
        atomic_store(&s->cb_start, ticks());
    info.cb(fd, what, arg);
    if (s) {
        atomic_store(&s->cb_start, prev_start);
        s->running = prev_running;
    }
    rec(EVT_CB_END, 0, ev ? (void *)ev : (void *)info.key, 0, 0, 0, 0);
}

/* ---- the sampler: what becomes ready while a callback holds the loop ------ */

/* The fds a long callback keeps waiting: collected from the table when the
 * callback is first seen running long, and again every 100 ms. */
struct watch {
    struct pollfd pfd[256];
    const void *evp[256];
    int n;
    int seen[64], nseen;
    uint64_t start;
    unsigned samples;
};

static void collect(struct watch *w, struct event_base *base)
{
    w->n = 0;
    pthread_mutex_lock(&g_tab_lock);
    for (size_t i = 0; i < TAB_SIZE && w->n < 256; i++) {
        struct ev_info *e = &g_evs[i];
        if (e->key <= TOMB || !e->pending || e->base != base || e->fd < 0 ||
            (e->events & EV_SIGNAL) || !(e->events & (EV_READ | EV_WRITE)))
            continue;
        w->pfd[w->n].fd = e->fd;
        w->pfd[w->n].events =
            (short)(((e->events & EV_READ) ? POLLIN : 0) | ((e->events & EV_WRITE) ? POLLOUT : 0));
        w->evp[w->n++] = (const void *)e->key;
    }
    pthread_mutex_unlock(&g_tab_lock);
}

static void sample_once(struct tslot *s, struct watch *w)
{
    if (w->samples++ % 10 == 0)
        collect(w, atomic_load(&s->base));
    for (int i = 0; i < w->n; i++)
        w->pfd[i].revents = 0;
    if (w->n == 0 || real_poll(w->pfd, (nfds_t)w->n, 0) <= 0)
        return;
    if (atomic_load(&s->cb_start) != w->start)
        return; /* the callback ended meanwhile */
    for (int i = 0; i < w->n; i++) {
        short rev = w->pfd[i].revents;
        if (!rev || (rev & POLLNVAL))
            continue;
        int bits =
            ((rev & (POLLIN | POLLHUP | POLLERR)) ? EV_READ : 0) | ((rev & POLLOUT) ? EV_WRITE : 0);
        int key = w->pfd[i].fd * 8 + bits;
        bool dup = false;
        for (int j = 0; j < w->nseen && !dup; j++)
            dup = w->seen[j] == key;
        if (dup || w->nseen >= 64)
            continue;
        w->seen[w->nseen++] = key;
        rec_tid(atomic_load(&s->tid), EVT_SEEN_READY, 0, w->evp[i], w->pfd[i].fd, bits, 0, 0);
    }
}

static void *sampler(void *unused)
{
    (void)unused;
    static struct watch watch[MAX_THREADS];
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    /* ticks per 10 ms, measured once */
    uint64_t n0 = now_ns(), k0 = ticks();
    nanosleep(&ten_ms, NULL);
    uint64_t n1 = now_ns(), k1 = ticks();
    uint64_t per10ms = n1 > n0 ? (uint64_t)((double)(k1 - k0) * 1e7 / (double)(n1 - n0)) : 1;
    /* PREFIX.req, made by a grader that wants the recording now (a server
     * that hangs cannot be asked to exit): checked every 100 ms. */
    char req[sizeof g_path + 8];
    snprintf(req, sizeof req, "%s.req", g_path);
    for (unsigned tick = 0;; tick++) {
        nanosleep(&ten_ms, NULL);
        if (!g_on)
            continue;
        if (tick % 10 == 0 && access(req, F_OK) == 0 && unlink(req) == 0)
            flush_trace(-1);
        uint64_t now = ticks();
        for (int i = 0; i < MAX_THREADS; i++) {
            struct tslot *s = &g_threads[i];
            if (!atomic_load(&s->tid))
                break;
            uint64_t start = atomic_load(&s->cb_start);
            if (!start || now - start < 2 * per10ms) /* running 20 ms or more */
                continue;
            struct watch *w = &watch[i];
            if (start != w->start) {
                w->start = start;
                w->nseen = 0;
                w->samples = 0;
            }
            sample_once(s, w);
        }
    }
    return NULL;
}

static void start_sampler(void)
{
    pthread_t th;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay the program's */
    if (pthread_create(&th, NULL, sampler, NULL) == 0)
        pthread_detach(th);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- the loop -------------------------------------------------------------- */

EXPORT struct event_base *event_base_new(void)
{
    LOAD(event_base_new);
    struct event_base *b = real_event_base_new();
    rec(EVT_BASE_NEW, 0, b, 0, 0, 0, 0);
    return b;
}

EXPORT struct event_base *event_base_new_with_config(const struct event_config *cfg)
{
    LOAD(event_base_new_with_config);
    struct event_base *b = real_event_base_new_with_config(cfg);
    rec(EVT_BASE_NEW, in_libevent(__builtin_return_address(0)) ? EVTF_INTERNAL : 0, b, 0, 0, 0, 0);
    return b;
}

EXPORT int event_base_loop(struct event_base *base, int flags)
{
    LOAD(event_base_loop);
    if (!g_on)
        return real_event_base_loop(base, flags);
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    if (!getenv("EVTRACE_NO_SAMPLER"))
        pthread_once(&once, start_sampler);
    struct event_base *outer = t_base;
    t_base = base;
    rec(EVT_LOOP_BEGIN, 0, base, flags, 0, 0, 0);
    int rc = real_event_base_loop(base, flags);
    int saved = errno;
    rec(EVT_LOOP_END, 0, base, rc, 0, 0, 0);
    t_base = outer;
    errno = saved;
    return rc;
}

EXPORT int event_base_loopexit(struct event_base *base, const struct timeval *tv)
{
    LOAD(event_base_loopexit);
    rec(EVT_LOOPEXIT, 0, base, tv ? (int64_t)tv->tv_sec * 1000000 + tv->tv_usec : -1, 0, 0, 0);
    return real_event_base_loopexit(base, tv);
}

EXPORT int event_base_loopbreak(struct event_base *base)
{
    LOAD(event_base_loopbreak);
    rec(EVT_LOOPBREAK, in_libevent(__builtin_return_address(0)) ? EVTF_INTERNAL : 0, base, 0, 0, 0,
        0);
    return real_event_base_loopbreak(base);
}

/* ---- bufferevents ----------------------------------------------------------- */

static struct bev_info bev_lookup(struct bufferevent *bev)
{
    struct bev_info info = {0};
    for (int tries = 0; tries < 1000; tries++) {
        pthread_mutex_lock(&g_tab_lock);
        struct bev_info *b = slot_for(g_bevs, TAB_SIZE, sizeof *g_bevs, (uintptr_t)bev, false);
        if (b)
            info = *b;
        pthread_mutex_unlock(&g_tab_lock);
        if (b)
            break;
        sched_yield();
    }
    return info;
}

static void bev_call(struct bufferevent *bev, int which, short what, void *ctx)
{
    struct bev_info b = bev_lookup(bev);
    uint64_t fn = which == 0 ? FN(b.readcb) : which == 1 ? FN(b.writecb) : FN(b.eventcb);
    if (!fn)
        return; /* cannot happen: the trampoline is set only with a callback */
    rec(EVT_BEV_CB_BEGIN, 0, bev, which, what, fn, 0);
    if (which == 2)
        b.eventcb(bev, what, ctx);
    else
        (which ? b.writecb : b.readcb)(bev, ctx);
    rec(EVT_BEV_CB_END, 0, bev, which, 0, 0, 0);
}

static void bev_read_tramp(struct bufferevent *bev, void *ctx) { bev_call(bev, 0, 0, ctx); }
static void bev_write_tramp(struct bufferevent *bev, void *ctx) { bev_call(bev, 1, 0, ctx); }
static void bev_event_tramp(struct bufferevent *bev, short what, void *ctx)
{
    bev_call(bev, 2, what, ctx);
}

EXPORT struct bufferevent *bufferevent_socket_new(struct event_base *base, evutil_socket_t fd,
                                                  int options)
{
    LOAD(bufferevent_socket_new);
    struct bufferevent *bev = real_bufferevent_socket_new(base, fd, options);
    if (bev)
        rec(EVT_BEV_NEW, in_libevent(__builtin_return_address(0)) ? EVTF_INTERNAL : 0, bev, fd,
            options, 0, FN(base));
    return bev;
}

EXPORT void bufferevent_setcb(struct bufferevent *bev, bufferevent_data_cb readcb,
                              bufferevent_data_cb writecb, bufferevent_event_cb eventcb,
                              void *cbarg)
{
    LOAD(bufferevent_setcb);
    if (!g_on || !bev || !tables() || in_libevent(__builtin_return_address(0))) {
        real_bufferevent_setcb(bev, readcb, writecb, eventcb, cbarg);
        return;
    }
    if (readcb == bev_read_tramp || writecb == bev_write_tramp || eventcb == bev_event_tramp) {
        real_bufferevent_setcb(bev, readcb, writecb, eventcb, cbarg);
        return;
    }
    pthread_mutex_lock(&g_tab_lock);
    struct bev_info *b = slot_for(g_bevs, TAB_SIZE, sizeof *g_bevs, (uintptr_t)bev, true);
    if (b) {
        b->key = (uintptr_t)bev;
        b->readcb = readcb;
        b->writecb = writecb;
        b->eventcb = eventcb;
    }
    pthread_mutex_unlock(&g_tab_lock);
    rec(EVT_BEV_SETCB, 0, bev, (int64_t)FN(readcb), (int64_t)FN(writecb), FN(eventcb), 0);
    if (!b) {
        real_bufferevent_setcb(bev, readcb, writecb, eventcb, cbarg);
        return;
    }
    real_bufferevent_setcb(bev, readcb ? bev_read_tramp : NULL, writecb ? bev_write_tramp : NULL,
                           eventcb ? bev_event_tramp : NULL, cbarg);
}

EXPORT void bufferevent_getcb(struct bufferevent *bev, bufferevent_data_cb *readcb_ptr,
                              bufferevent_data_cb *writecb_ptr, bufferevent_event_cb *eventcb_ptr,
                              void **cbarg_ptr)
{
    LOAD(bufferevent_getcb);
    bufferevent_data_cb r = NULL, w = NULL;
    bufferevent_event_cb e = NULL;
    real_bufferevent_getcb(bev, &r, &w, &e, cbarg_ptr);
    if (r == bev_read_tramp || w == bev_write_tramp || e == bev_event_tramp) {
        struct bev_info b = bev_lookup(bev);
        r = r ? b.readcb : NULL;
        w = w ? b.writecb : NULL;
        e = e ? b.eventcb : NULL;
    }
    if (readcb_ptr)
        *readcb_ptr = r;
    if (writecb_ptr)
        *writecb_ptr = w;
    if (eventcb_ptr)
        *eventcb_ptr = e;
}

EXPORT int bufferevent_enable(struct bufferevent *bev, short what)
{
    LOAD(bufferevent_enable);
    rec(EVT_BEV_ENABLE, in_libevent(__builtin_return_address(0)) ? EVTF_INTERNAL : 0, bev, what, 0,
        0, 0);
    return real_bufferevent_enable(bev, what);
}

EXPORT int bufferevent_disable(struct bufferevent *bev, short what)
{
    LOAD(bufferevent_disable);
    rec(EVT_BEV_DISABLE, in_libevent(__builtin_return_address(0)) ? EVTF_INTERNAL : 0, bev, what, 0,
        0, 0);
    return real_bufferevent_disable(bev, what);
}

EXPORT void bufferevent_free(struct bufferevent *bev)
{
    LOAD(bufferevent_free);
    rec(EVT_BEV_FREE, 0, bev, 0, 0, 0, 0);
    /* The entry stays until the address is reused: a callback already queued
     * (deferred) may still run after this call. */
    real_bufferevent_free(bev);
}

/* ---- listeners -------------------------------------------------------------- */

static void lev_tramp(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *ptr)
{
    evconnlistener_cb cb = NULL;
    for (int tries = 0; !cb && tries < 1000; tries++) {
        pthread_mutex_lock(&g_tab_lock);
        struct lev_info *l = slot_for(g_levs, 1024, sizeof *g_levs, (uintptr_t)lev, false);
        cb = l ? l->cb : NULL;
        pthread_mutex_unlock(&g_tab_lock);
        if (!cb)
            sched_yield(); /* evconnlistener_new has not returned to us yet */
    }
    if (!cb)
        abort();
    rec(EVT_LEV_CB_BEGIN, 0, lev, fd, 0, FN(cb), 0);
    cb(lev, fd, sa, socklen, ptr);
    rec(EVT_LEV_CB_END, 0, lev, 0, 0, 0, 0);
}

static bool lev_remember(struct evconnlistener *lev, evconnlistener_cb cb)
{
    pthread_mutex_lock(&g_tab_lock);
    struct lev_info *l = slot_for(g_levs, 1024, sizeof *g_levs, (uintptr_t)lev, true);
    if (l) {
        l->key = (uintptr_t)lev;
        l->cb = cb;
    }
    pthread_mutex_unlock(&g_tab_lock);
    return l != NULL;
}

EXPORT struct evconnlistener *evconnlistener_new(struct event_base *base, evconnlistener_cb cb,
                                                 void *ptr, unsigned flags, int backlog,
                                                 evutil_socket_t fd)
{
    LOAD(evconnlistener_new);
    LOAD(evconnlistener_set_cb);
    if (!g_on || !cb || cb == lev_tramp || !tables())
        return real_evconnlistener_new(base, cb, ptr, flags, backlog, fd);
    /* Made disabled, remembered, then enabled: no callback can come first. */
    struct evconnlistener *lev =
        real_evconnlistener_new(base, lev_tramp, ptr, flags | LEV_OPT_DISABLED, backlog, fd);
    if (!lev)
        return NULL;
    if (!lev_remember(lev, cb)) {
        real_evconnlistener_set_cb(lev, cb, ptr);
    } else {
        rec(EVT_LEV_NEW, 0, lev, fd, 0, FN(cb), FN(base));
    }
    if (!(flags & LEV_OPT_DISABLED))
        real_evconnlistener_enable(lev);
    return lev;
}

EXPORT struct evconnlistener *evconnlistener_new_bind(struct event_base *base, evconnlistener_cb cb,
                                                      void *ptr, unsigned flags, int backlog,
                                                      const struct sockaddr *sa, int socklen)
{
    LOAD(evconnlistener_new_bind);
    LOAD(evconnlistener_set_cb);
    if (!g_on || !cb || !tables())
        return real_evconnlistener_new_bind(base, cb, ptr, flags, backlog, sa, socklen);
    struct evconnlistener *lev = real_evconnlistener_new_bind(
        base, lev_tramp, ptr, flags | LEV_OPT_DISABLED, backlog, sa, socklen);
    if (!lev)
        return NULL;
    if (!lev_remember(lev, cb))
        real_evconnlistener_set_cb(lev, cb, ptr);
    else
        rec(EVT_LEV_NEW, 0, lev, real_evconnlistener_get_fd(lev), 0, FN(cb), FN(base));
    if (!(flags & LEV_OPT_DISABLED))
        real_evconnlistener_enable(lev);
    return lev;
}

EXPORT void evconnlistener_set_cb(struct evconnlistener *lev, evconnlistener_cb cb, void *arg)
{
    LOAD(evconnlistener_set_cb);
    if (g_on && cb && cb != lev_tramp && g_levs && lev_remember(lev, cb)) {
        rec(EVT_LEV_NEW, 0, lev, real_evconnlistener_get_fd(lev), 0, FN(cb), 0);
        cb = lev_tramp;
    }
    real_evconnlistener_set_cb(lev, cb, arg);
}

EXPORT void evconnlistener_free(struct evconnlistener *lev)
{
    LOAD(evconnlistener_free);
    rec(EVT_LEV_FREE, 0, lev, 0, 0, 0, 0);
    real_evconnlistener_free(lev);
}

/* ---- backend waits ---------------------------------------------------------- */

EXPORT int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    LOAD(epoll_wait);
    if (!g_on || !t_base)
        return real_epoll_wait(epfd, events, maxevents, timeout);
    rec(EVT_WAIT_BEGIN, 0, NULL, timeout, 1, 0, 0);
    int n = real_epoll_wait(epfd, events, maxevents, timeout);
    int saved = errno;
    rec(EVT_WAIT_END, 0, NULL, n, 0, 0, 0);
    /* libevent's epoll backend keeps the fd in data.fd. */
    for (int i = 0; i < n; i++)
        rec(EVT_READY, 0, NULL, events[i].data.fd,
            ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) ? EV_READ : 0) |
                ((events[i].events & EPOLLOUT) ? EV_WRITE : 0),
            0, 0);
    errno = saved;
    return n;
}

EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    LOAD(poll);
    if (!g_on || !t_base)
        return real_poll(fds, nfds, timeout);
    rec(EVT_WAIT_BEGIN, 0, NULL, timeout, 2, 0, 0);
    int n = real_poll(fds, nfds, timeout);
    int saved = errno;
    rec(EVT_WAIT_END, 0, NULL, n, 0, 0, 0);
    for (nfds_t i = 0; n > 0 && i < nfds; i++)
        if (fds[i].revents)
            rec(EVT_READY, 0, NULL, fds[i].fd,
                ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ? EV_READ : 0) |
                    ((fds[i].revents & POLLOUT) ? EV_WRITE : 0),
                0, 0);
    errno = saved;
    return n;
}

EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    LOAD(select);
    if (!g_on || !t_base)
        return real_select(nfds, r, w, e, tv);
    rec(EVT_WAIT_BEGIN, 0, NULL, tv ? tv->tv_sec * 1000 + tv->tv_usec / 1000 : -1, 3, 0, 0);
    int n = real_select(nfds, r, w, e, tv);
    int saved = errno;
    rec(EVT_WAIT_END, 0, NULL, n, 0, 0, 0);
    for (int fd = 0; n > 0 && fd < nfds && fd < FD_SETSIZE; fd++) {
        int bits = ((r && FD_ISSET(fd, r)) ? EV_READ : 0) | ((w && FD_ISSET(fd, w)) ? EV_WRITE : 0);
        if (bits)
            rec(EVT_READY, 0, NULL, fd, bits, 0, 0);
    }
    errno = saved;
    return n;
}
