/* fixed_echo.c -- seed_echo.c's design (raw read/write events) done right.
 *
 * Teaches: an event-driven server needs one owner per buffer. Each connection
 * is a struct holding its fd, its two events and ONE evbuffer of output that
 * nobody else frees; the write event is pending only while that buffer holds
 * something; short writes and EAGAIN just leave the rest for the next
 * EV_WRITE; reading pauses while too much output is queued (back-pressure);
 * EOF or an error frees the whole connection, once. Uses the 2.x API
 * (event_new / event_base_dispatch) instead of event_set / event_base_set.
 *
 * Builds on: seed_echo.c (diff the two), lessons 03-06.
 *
 * Build and run on its own:
 *   cc -Wall -o fixed_echo fixed_echo.c $(pkg-config --cflags --libs libevent)
 *   ./fixed_echo --port 0          # then: socat - TCP:127.0.0.1:PORT
 */
#define _GNU_SOURCE /* accept4() */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/queue.h> /* LIST_*: the list of live connections */
#include <sys/resource.h>
#include <sys/select.h> /* FD_SETSIZE */
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "../lesson.h"

/* EAGAIN/EINTR: not an error, just "not now". */
#define RETRIABLE(e) ((e) == EAGAIN || (e) == EWOULDBLOCK || (e) == EINTR)

#define READ_CHUNK (64 * 1024)  /* bytes asked for per read; 2.1 reads <= 4096 (buffer.c) */
#define HIGH_MARK (1024 * 1024) /* stop reading above this much queued output */
#define LOW_MARK (256 * 1024)   /* ... and resume once it drains below this */

/* Between a "shared:" comment and its "end shared:" comment, the servers'
 * common parts are the same bytes in the same order (bufferevent_echo.c,
 * line_echo.c, and fixed_echo.c where it has them): diff two of them and only
 * what differs is left. `make check-shared` compares them. */

// [conn]
struct conn { /* everything one client owns, freed in one place */
    evutil_socket_t fd;
    struct event *read_ev;  /* EV_READ|EV_PERSIST, deleted while paused */
    struct event *write_ev; /* EV_WRITE|EV_PERSIST, pending only while out is non-empty */
    struct evbuffer *out;   /* bytes read and not yet sent back */
    bool eof;               /* the peer sent FIN: finish writing, then close */
    bool paused;            /* reading stopped for back-pressure */
    unsigned id;
    unsigned long long echoed;
    LIST_ENTRY(conn) link; /* in conns: all live connections, for shutdown */
};
// [/conn]

static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);
static unsigned next_id = 1, live;
static bool quiet;
static int largest_read; /* shown at exit: evbuffer_read's cap, not READ_CHUNK */
static struct event *listen_ev, *resume_ev;

static void conn_free(struct conn *c, const char *why)
{
    if (!quiet)
        printf("conn #%u: closed (%s), echoed %llu bytes\n", c->id, why, c->echoed);
    if (c->read_ev)
        event_free(c->read_ev); /* event_free deletes a pending event first */
    if (c->write_ev)
        event_free(c->write_ev);
    evbuffer_free(c->out);
    evutil_closesocket(c->fd);
    LIST_REMOVE(c, link);
    live--;
    free(c);
}

/* Send what we can. Returns false if the connection was freed. */
// [flush]
static bool flush(struct conn *c)
{
    while (evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, c->fd); /* drains only what the kernel took */
        if (n < 0) {
            if (RETRIABLE(errno))
                break;                     /* EAGAIN: the rest waits for EV_WRITE */
            conn_free(c, strerror(errno)); /* EPIPE, ECONNRESET: this client only */
            return false;
        }
    }
    // [/flush]
    // [flush_after]
    if (evbuffer_get_length(c->out) > 0) {
        if (event_add(c->write_ev, NULL) < 0) { /* something left: wake us when writable */
            conn_free(c, "event_add(write_ev) failed");
            return false;
        }
    } else {
        event_del(c->write_ev); /* nothing left: no busy EV_WRITE */
        if (c->eof) {
            conn_free(c, "EOF, all echoed");
            return false;
        }
    }
    if (c->paused && !c->eof && evbuffer_get_length(c->out) < LOW_MARK) {
        c->paused = false; /* drained enough: read again */
        if (event_add(c->read_ev, NULL) < 0) {
            conn_free(c, "event_add(read_ev) failed");
            return false;
        }
    }
    return true;
}
// [/flush_after]

// [on_read]
static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    int n = evbuffer_read(c->out, fd, READ_CHUNK); /* binary-safe: bytes, not strings */
    if (n > largest_read)
        largest_read = n;
    if (n < 0) {
        if (!RETRIABLE(errno))
            conn_free(c, strerror(errno));
        return;
    }
    if (n == 0) { /* FIN: stop reading, finish writing */
        c->eof = true;
        event_del(c->read_ev);
    }
    c->echoed += (unsigned)n;
    if (!flush(c))
        return;
    if (!c->eof && !c->paused && evbuffer_get_length(c->out) >= HIGH_MARK) {
        c->paused = true; /* slow reader: stop taking more */
        event_del(c->read_ev);
    }
}
// [/on_read]

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    flush(arg);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    if (event_add(listen_ev, NULL) < 0)
        fprintf(stderr, "event_add() failed for the listening socket: no more accepts\n");
}

// [accept_loop]
static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct event_base *base = arg;
    (void)what;
    for (int i = 0; i < 64; i++) { /* a few per wake-up: stay fair */
        evutil_socket_t fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* The listening fd stays readable: pause instead of spinning. */
                fprintf(stderr, "accept: %s: pausing accepts for 100 ms\n", strerror(errno));
                if (event_add(resume_ev, &(struct timeval){0, 100 * 1000}) == 0)
                    event_del(listen_ev); /* only pause if the timer will resume it */
            }
            return; /* EAGAIN: no more waiting */
        }
        // [/accept_loop]
        // [new_conn]
        struct conn *c = calloc(1, sizeof *c);
        if (!c || !(c->out = evbuffer_new())) {
            free(c);
            evutil_closesocket(fd);
            continue;
        }
        c->fd = fd;
        c->id = next_id++;
        c->read_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
        c->write_ev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
        LIST_INSERT_HEAD(&conns, c, link);
        live++;
        if (!c->read_ev || !c->write_ev) {
            conn_free(c, "out of memory");
            continue;
        }
        if (!quiet)
            printf("conn #%u: accepted fd %d\n", c->id, (int)fd);
        if (event_add(c->read_ev, NULL) < 0) /* the write event waits for output */
            conn_free(c, "event_add(read_ev) failed");
    }
}
// [/new_conn]

/* shared: signal */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    printf("got signal %d: shutting down, closing %u connection(s)\n", (int)sig, live);
    event_base_loopbreak(arg);
}

/* select() can watch only fds below FD_SETSIZE (1024). libevent's select.c
 * marks them with FD_SET, and glibc's _FORTIFY_SOURCE check in FD_SET
 * aborts the process ("bit out of range 0 - FD_SETSIZE on fd_set") for a
 * higher fd. So on select, keep every fd below FD_SETSIZE: lower the soft
 * RLIMIT_NOFILE, and accept() fails with EMFILE (handled above) instead. */
static void cap_fds_for_select(struct event_base *base)
{
    struct rlimit rl;
    if (strcmp(event_base_get_method(base), "select") != 0)
        return;
    CHECK_OK(getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= FD_SETSIZE)
        return;
    rl.rlim_cur = FD_SETSIZE;
    CHECK_OK(setrlimit(RLIMIT_NOFILE, &rl));
    printf("select: RLIMIT_NOFILE lowered to %d (FD_SETSIZE)\n", FD_SETSIZE);
}
/* end shared: signal */

static void usage(FILE *to)
{
    fprintf(to, "usage: fixed_echo [--port N] [--method NAME] [--quiet] [--step] [--help]\n"
                "  --port N       listen on 127.0.0.1:N (0: a free port, printed); default 0\n"
                "  --method NAME  epoll, poll or select (also EVENT_NOEPOLL=1 ...)\n"
                "  --quiet        no line per connection (for benchmarks)\n"
                "  --step         pause before each step (also EVLAB_STEP=1)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'}, {"method", required_argument, NULL, 'm'},
        {"quiet", no_argument, NULL, 'q'},      {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    const char *method = NULL;
    int port = 0;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "p:m:qsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': port = (int)lesson_num(optarg, 0, 65535, "--port"); break;
        case 'm': method = lesson_method(optarg); break;
        case 'q': quiet = true; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fixed_echo: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a write to a reset peer is EPIPE, not death */

    step("1. a base, a listening socket on 127.0.0.1");
    struct event_base *base = base_for_method(method);
    cap_fds_for_select(base);
    evutil_socket_t lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket() failed: %s", strerror(errno));
    CHECK_OK(evutil_make_listen_socket_reuseable(lfd));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    CHECK_OK(bind(lfd, (struct sockaddr *)&sin, sizeof sin));
    CHECK_OK(listen(lfd, SOMAXCONN));
    CHECK_OK(getsockname(lfd, (struct sockaddr *)&sin, &len));

    step("2. a persistent read event on it, created with event_new");
    // [setup]
    listen_ev = event_new(base, lfd, EV_READ | EV_PERSIST, on_accept, base);
    if (!listen_ev)
        die("event_new() failed for the listening socket");
    resume_ev = evtimer_new(base, on_resume, NULL);
    if (!resume_ev)
        die("evtimer_new() failed");
    if (event_add(listen_ev, NULL) < 0)
        die("event_add() failed for the listening socket");
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    if (!sigint || !sigterm)
        die("evsignal_new() failed");
    CHECK_OK(event_add(sigint, NULL));
    CHECK_OK(event_add(sigterm, NULL));
    // [/setup]
    printf("method: %s\n", event_base_get_method(base));
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));

    step("3. the loop");
    event_base_dispatch(base);

    // [shutdown]
    while (!LIST_EMPTY(&conns))
        conn_free(LIST_FIRST(&conns), "server shutting down");
    event_free(listen_ev);
    event_free(resume_ev);
    event_free(sigint);
    event_free(sigterm);
    evutil_closesocket(lfd);
    event_base_free(base);
    // [/shutdown]
    printf("largest single read: %d bytes (asked for %d)\n", largest_read, READ_CHUNK);
    printf("all freed, bye\n");
    return 0;
}
