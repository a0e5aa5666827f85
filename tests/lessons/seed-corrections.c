/* The course's source documents, checked where they are wrong (README.md, "Where the
 * source documents are wrong"). Each test runs the documents' claim against
 * libevent 2.1 here and fails if libevent behaved the way the document says.
 * Criterion runs each test in its own process, so the libevent state of one
 * test (bases, the legacy global base, environment) never reaches another.
 *
 * Sources: Jeff Zarnett, "Lecture 32 -- Event-Driven I/O with libevent"
 * (ECE 459, 2019); "libevent demo" (anonymous blog post); "Asynchronous I/O
 * with libevent" (forum thread started by "Jeff", 12 October 2009). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_compat.h>
#include <event2/event_struct.h>

#include "evtest.h"

static void count_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    ++*(long *)arg;
}

static void run_for_ms(struct event_base *base, long ms)
{
    struct timeval tv = {ms / 1000, ms % 1000 * 1000};
    cr_assert_eq(event_base_loopexit(base, &tv), 0);
    cr_assert_geq(event_base_dispatch(base), 0);
}

/* Lecture 32 watches fd2 with EV_WRITE|EV_PERSIST. A socket with room in its
 * send buffer is always writable, so a persistent, level-triggered write
 * event fires on every loop pass: the loop never sleeps (100% CPU). */
Test(lecture_32, ev_write_persist_on_an_always_writable_fd_spins)
{
    struct event_base *base = event_base_new();
    evutil_socket_t sv[2];
    cr_assert_eq(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    long persistent = 0, once = 0;
    struct event *w = event_new(base, sv[0], EV_WRITE | EV_PERSIST, count_cb, &persistent);
    struct event *w1 = event_new(base, sv[1], EV_WRITE, count_cb, &once);
    cr_assert_eq(event_add(w, NULL), 0);
    cr_assert_eq(event_add(w1, NULL), 0);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = evt_now();
    run_for_ms(base, 300);
    double wall = evt_now() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                          r0.ru_stime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                          r0.ru_stime.tv_usec) /
                     1e6;
    cr_assert_eq(once, 1, "a one-shot write event fires once");
    cr_assert_gt(persistent, 1000, "nothing to write, yet %ld callbacks in %.2f s", persistent,
                 wall);
    cr_log_info("EV_WRITE|EV_PERSIST: %ld callbacks in %.2f s, %.2f s of CPU", persistent, wall,
                cpu);
    event_free(w);
    event_free(w1);
    evutil_closesocket(sv[0]);
    evutil_closesocket(sv[1]);
    event_base_free(base);
}

struct got {
    char buf[16];
    size_t len;
};

static void on_read(struct bufferevent *bev, void *arg)
{
    struct got *g = arg;
    g->len += bufferevent_read(bev, g->buf + g->len, sizeof g->buf - 1 - g->len);
    if (g->len >= 5)
        event_base_loopexit(bufferevent_get_base(bev), NULL);
}

static void hello_through(struct event_base *base, struct bufferevent *from, struct bufferevent *to,
                          const char *what)
{
    struct got g = {{0}, 0};
    bufferevent_setcb(to, on_read, NULL, NULL, &g);
    cr_assert_eq(bufferevent_enable(to, EV_READ), 0);
    cr_assert_eq(bufferevent_write(from, "hello", 5), 0);
    struct timeval limit = {5, 0};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    cr_assert_str_eq(g.buf, "hello", "a bufferevent over %s", what);
}

/* Lecture 32: "Buffer events really only work for TCP communication". They
 * work on any stream fd -- a UNIX-domain socketpair, a pipe -- and a
 * bufferevent pair needs no fd at all. */
Test(lecture_32, bufferevents_are_not_only_for_tcp)
{
    struct event_base *base = event_base_new();
    evutil_socket_t sv[2];
    cr_assert_eq(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    struct bufferevent *a = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    struct bufferevent *b = bufferevent_socket_new(base, sv[1], BEV_OPT_CLOSE_ON_FREE);
    cr_assert(a && b);
    hello_through(base, a, b, "an AF_UNIX socketpair");
    bufferevent_free(a);
    bufferevent_free(b);

    int p[2];
    cr_assert_eq(pipe(p), 0);
    evutil_make_socket_nonblocking(p[0]);
    evutil_make_socket_nonblocking(p[1]);
    struct bufferevent *w = bufferevent_socket_new(base, p[1], BEV_OPT_CLOSE_ON_FREE);
    struct bufferevent *r = bufferevent_socket_new(base, p[0], BEV_OPT_CLOSE_ON_FREE);
    cr_assert(w && r);
    hello_through(base, w, r, "a pipe");
    bufferevent_free(w);
    bufferevent_free(r);

    struct bufferevent *pair[2];
    cr_assert_eq(bufferevent_pair_new(base, 0, pair), 0);
    hello_through(base, pair[0], pair[1], "bufferevent_pair_new (no fd)");
    bufferevent_free(pair[0]);
    bufferevent_free(pair[1]);
    event_base_free(base);
}

/* "libevent demo": "libevent is a wrapper around select". It has several
 * backends and on Linux picks epoll; select is only the last resort. */
Test(libevent_demo, libevent_is_not_a_wrapper_around_select)
{
    const char **all = event_get_supported_methods();
    bool epoll = false, poll = false, select = false;
    for (int i = 0; all[i]; i++) {
        epoll |= strcmp(all[i], "epoll") == 0;
        poll |= strcmp(all[i], "poll") == 0;
        select |= strcmp(all[i], "select") == 0;
    }
    cr_assert(epoll && poll && select, "this Linux libevent has epoll, poll and select");
    struct event_base *base = event_base_new();
    cr_assert_str_eq(event_base_get_method(base), "epoll", "the default on Linux");
    event_base_free(base);
    setenv("EVENT_NOEPOLL", "1", 1);
    base = event_base_new();
    cr_assert_str_eq(event_base_get_method(base), "poll", "without epoll: poll, still not select");
    event_base_free(base);
}

static void legacy_timer_cb(int fd, short what, void *arg)
{
    (void)fd;
    ++*(long *)arg;
    cr_assert(what & EV_TIMEOUT);
}

/* "libevent demo": event_dispatch() "only returns on error". The legacy pair
 * event_init()/event_dispatch() (2.x: event_base_new()/
 * event_base_dispatch()) returns 1 when no events are left, and 0 after a
 * loopexit: both are normal ends. */
Test(libevent_demo, event_dispatch_returns_when_no_events_are_left)
{
    struct event_base *base = event_init(); /* the legacy global base */
    cr_assert_not_null(base);
    struct event ev;
    long fired = 0;
    evtimer_set(&ev, legacy_timer_cb, &fired);
    struct timeval tv = {0, 50000};
    cr_assert_eq(evtimer_add(&ev, &tv), 0);
    cr_assert_eq(event_dispatch(), 1, "1: nothing left to wait for -- not an error");
    cr_assert_eq(fired, 1);

    long forever = 0;
    struct event persist;
    event_set(&persist, -1, EV_PERSIST, legacy_timer_cb, &forever);
    cr_assert_eq(event_add(&persist, &tv), 0);
    struct timeval soon = {0, 200000};
    cr_assert_eq(event_loopexit(&soon), 0);
    cr_assert_eq(event_dispatch(), 0, "0: left by event_loopexit, not an error");
    cr_assert_geq(forever, 1);
    event_del(&persist);
    event_base_free(base);
}

/* "libevent demo": to watch several event types, OR them: EV_READ |
 * EV_TIMEOUT. EV_TIMEOUT in the events mask is ignored (the lecture says so
 * too); a timeout comes only from event_add()'s timeval. */
Test(libevent_demo, ev_timeout_in_the_events_mask_is_ignored)
{
    struct event_base *base = event_base_new();
    evutil_socket_t sv[2];
    cr_assert_eq(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    long calls = 0;
    struct event *ev = event_new(base, sv[0], EV_READ | EV_TIMEOUT, count_cb, &calls);
    cr_assert_eq(event_add(ev, NULL), 0);
    cr_assert(event_pending(ev, EV_READ, NULL), "pending for EV_READ");
    cr_assert_not(event_pending(ev, EV_TIMEOUT, NULL), "but no timeout is pending");
    run_for_ms(base, 300);
    cr_assert_eq(calls, 0, "no data and no timeval: EV_TIMEOUT never fired");
    event_free(ev);

    /* EV_TIMEOUT alone, no timeval: nothing to wait for at all. */
    struct event *t = event_new(base, -1, EV_TIMEOUT, count_cb, &calls);
    cr_assert_eq(event_add(t, NULL), 0);
    cr_assert_not(event_pending(t, EV_TIMEOUT | EV_READ | EV_WRITE, NULL));
    cr_assert_eq(event_base_dispatch(base), 1, "no events: the loop returns at once");
    cr_assert_eq(calls, 0);
    event_free(t);
    evutil_closesocket(sv[0]);
    evutil_closesocket(sv[1]);
    event_base_free(base);
}

/* "libevent demo"'s fifo_read, as posted: it reads only on its 20th call
 * (`if (++count == 20)`), on a persistent, level-triggered read event. The
 * first message is read after 20 calls; a second is never read, so the fd
 * stays readable and the callback runs without end. */
static long fifo_calls;
static void fifo_read(evutil_socket_t fd, short what, void *arg)
{
    static int count;
    char buf[255];
    (void)what, (void)arg;
    fifo_calls++;
    if (++count == 20) {
        ssize_t len = read(fd, buf, sizeof buf - 1);
        cr_assert_gt(len, 0);
    }
}

Test(libevent_demo, its_fifo_callback_spins_on_a_second_message)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/evlab-fifo-%d", (int)getpid());
    unlink(path);
    cr_assert_eq(mkfifo(path, 0600), 0, "%s", strerror(errno));
    int fd = open(path, O_RDWR | O_NONBLOCK); /* as the post does */
    cr_assert_geq(fd, 0);
    struct event_base *base = event_base_new();
    struct event *ev = event_new(base, fd, EV_READ | EV_PERSIST, fifo_read, NULL);
    cr_assert_eq(event_add(ev, NULL), 0);
    cr_assert_eq(write(fd, "heihei\n", 7), 7);
    run_for_ms(base, 200);
    cr_assert_eq(fifo_calls, 20, "the first message: 20 calls, then read, then quiet");
    cr_assert_eq(write(fd, "again\n", 6), 6);
    run_for_ms(base, 200);
    cr_assert_gt(fifo_calls, 1000, "the second message is never read: %ld calls and counting",
                 fifo_calls);
    event_free(ev);
    event_base_free(base);
    close(fd);
    unlink(path);
}

/* "Asynchronous I/O with libevent" offers async I/O instead of "threading and
 * multiprocessing ... to take advantage of multi-core systems". A reactor is
 * one thread: CPU-bound callbacks run one after another on one core, so 4 x
 * 150 ms of work take about 600 ms, even with several cores free. */
static void busy_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    double until = evt_now() + 0.150;
    while (evt_now() < until)
        ;
}

Test(forum_thread, a_reactor_runs_its_callbacks_on_one_core, .timeout = 30)
{
    struct event_base *base = event_base_new();
    struct timeval zero = {0, 0};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(event_base_once(base, -1, EV_TIMEOUT, busy_cb, NULL, &zero), 0);
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = evt_now();
    cr_assert_eq(event_base_dispatch(base), 1);
    double wall = evt_now() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
                 (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                 (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
    cr_assert_geq(wall, 0.59, "four 150 ms callbacks one after another: %.3f s", wall);
    cr_assert_leq(cpu, wall * 1.1 + 0.02, "never more than one core: %.3f s CPU in %.3f s", cpu,
                  wall);
    event_base_free(base);
}

/* The forum thread's downloader opens each connection with a blocking
 * net-connect before it registers the writer. A blocking connect in a
 * reactor stalls every other download for as long as the handshake takes.
 * Here the handshake is made slow for real: the listener's accept queue is
 * full, so the kernel drops our SYN until a slot frees up (the test frees
 * one after 500 ms) and the SYN is sent again. A heartbeat timer shows the
 * stall; bufferevent_socket_connect() (lesson 14) does not block. */
static long hb_worst_ms;
static double hb_last;
static void heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    double now = evt_now();
    long late = (long)((now - hb_last - 0.05) * 1000);
    if (late > hb_worst_ms)
        hb_worst_ms = late;
    hb_last = now;
}

struct slow_listener {
    int lfd, filler, port;
    pthread_t th;
};

static void *free_a_slot(void *arg)
{
    struct slow_listener *s = arg;
    usleep(500 * 1000);
    int c = accept(s->lfd, NULL, NULL); /* the filler: now our SYN can get in */
    if (c >= 0)
        close(c);
    return NULL;
}

static void slow_listener_start(struct slow_listener *s)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&sin, &len), 0);
    cr_assert_eq(listen(s->lfd, 0), 0);
    s->port = ntohs(sin.sin_port);
    s->filler = evt_connect(s->port, 5); /* fills the one-slot accept queue */
    cr_assert_geq(s->filler, 0);
    cr_assert_eq(pthread_create(&s->th, NULL, free_a_slot, s), 0);
}

static void slow_listener_stop(struct slow_listener *s)
{
    pthread_join(s->th, NULL);
    close(s->filler);
    close(s->lfd);
}

static double blocking_connect_at;
static int blocking_port;
static void blocking_connect_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)blocking_port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    double t0 = evt_now();
    int rc = connect(c, (struct sockaddr *)&sin, sizeof sin); /* the forum's net-connect */
    blocking_connect_at = evt_now() - t0;
    cr_assert_eq(rc, 0, "connect: %s", strerror(errno));
    close(c);
}

static void on_connected(struct bufferevent *bev, short what, void *arg)
{
    *(short *)arg = what;
    event_base_loopexit(bufferevent_get_base(bev), NULL);
}

static long worst_lateness(bool blocking)
{
    struct slow_listener s;
    slow_listener_start(&s);
    struct event_base *base = event_base_new();
    struct event *hb = event_new(base, -1, EV_PERSIST, heartbeat, NULL);
    struct timeval every = {0, 50000}, zero = {0, 0};
    hb_worst_ms = 0;
    hb_last = evt_now();
    cr_assert_eq(event_add(hb, &every), 0);
    short what = 0;
    struct bufferevent *bev = NULL;
    if (blocking) {
        blocking_port = s.port;
        cr_assert_eq(event_base_once(base, -1, EV_TIMEOUT, blocking_connect_cb, NULL, &zero), 0);
        struct timeval stop = {2, 500000};
        cr_assert_eq(event_base_loopexit(base, &stop), 0);
    } else {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(bev, NULL, NULL, on_connected, &what);
        cr_assert_eq(bufferevent_socket_connect(bev, (struct sockaddr *)&sin, sizeof sin), 0);
        struct timeval limit = {10, 0};
        cr_assert_eq(event_base_loopexit(base, &limit), 0);
    }
    event_base_dispatch(base);
    if (!blocking) {
        cr_assert(what & BEV_EVENT_CONNECTED, "the non-blocking connect got through (%#x)", what);
        bufferevent_free(bev);
    }
    event_free(hb);
    event_base_free(base);
    slow_listener_stop(&s);
    return hb_worst_ms;
}

Test(forum_thread, a_blocking_connect_stalls_the_reactor, .timeout = 30)
{
    long blocked = worst_lateness(true);
    cr_assert_geq(blocking_connect_at, 0.4, "the handshake was slow (%.3f s)", blocking_connect_at);
    cr_assert_geq(blocked, 300, "a blocking connect stalls the heartbeat (%ld ms late)", blocked);
    long free_running = worst_lateness(false);
    cr_assert_lt(free_running, blocked / 2,
                 "bufferevent_socket_connect keeps the heartbeat (%ld ms late vs %ld)",
                 free_running, blocked);
}
