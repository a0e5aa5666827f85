/* line_echo.c -- a line protocol on bufferevent_echo.c's skeleton.
 *
 * Teaches: framing. TCP delivers bytes, not messages; evbuffer_readln() with
 * EVBUFFER_EOL_CRLF cuts the input into lines ("\n" or "\r\n"), however the
 * bytes were split across reads. Each line comes back upper-cased (or rot13'd
 * with --rot13). A line longer than --max-line gets a clear error message and
 * the connection is closed once that message is sent: without a limit one
 * client that never sends "\n" makes the server buffer without end.
 *
 * Builds on: bufferevent_echo.c (diff the two: only the read callback and the
 * knobs change), lesson 09 (evbuffer_readln).
 *
 * Build and run on its own:
 *   cc -Wall -o line_echo line_echo.c $(pkg-config --cflags --libs libevent)
 *   ./line_echo --port 0 --rot13   # then: socat - TCP:127.0.0.1:PORT
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/queue.h> /* LIST_*: the list of live connections */
#include <sys/resource.h>
#include <sys/select.h> /* FD_SETSIZE */
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "../lesson.h"

/* Between a "shared:" comment and its "end shared:" comment, the servers'
 * common parts are the same bytes in the same order (bufferevent_echo.c,
 * line_echo.c, and fixed_echo.c where it has them): diff two of them and only
 * what differs is left. `make check-shared` compares them. */
/* shared: conn */
#define HIGH_MARK (1024 * 1024) /* stop reading above this much queued output */
#define LOW_MARK (256 * 1024)   /* write callback (and resume) at or below this */

struct conn {
    struct bufferevent *bev; /* owns the fd, both buffers, both events */
    bool closing;            /* EOF seen: free once the output is empty */
    unsigned id;
    unsigned long long echoed;
    LIST_ENTRY(conn) link; /* in conns: all live connections, for shutdown */
};

static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);
static unsigned next_id = 1, live;
static bool quiet;
static struct timeval idle; /* {0,0}: no idle timeout */
static unsigned long accept_errors;
static struct evconnlistener *listener;
static struct event *resume_ev;

static void conn_free(struct conn *c, const char *why)
{
    if (!quiet)
        printf("conn #%u: closed (%s), echoed %llu bytes\n", c->id, why, c->echoed);
    bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE: closes the fd too */
    LIST_REMOVE(c, link);
    live--;
    free(c);
}
/* end shared: conn */

static size_t max_line = 4096; /* --max-line */
static bool rot13;
/* Pause accepting for this long when out of fds (bufferevent_echo.c makes it
 * --emfile-pause-ms). */
static const int pause_ms = 100;

static void transform(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (!rot13)
            p[i] = (char)toupper(ch);
        else if (isalpha(ch))
            p[i] = (char)((isupper(ch) ? 'A' : 'a') + (tolower(ch) - 'a' + 13) % 26);
    }
}

/* Too long: say why, stop reading, close once the message is out. */
static void reject(struct conn *c, struct evbuffer *in, struct evbuffer *out)
{
    evbuffer_add_printf(out, "error: line longer than %zu bytes; closing\n", max_line);
    evbuffer_drain(in, evbuffer_get_length(in));
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ);
}

/* No complete line is buffered. Too long already? A valid line may have all
 * max_line bytes here plus its "\r", with the "\n" still on its way in the
 * next packet: that is max_line + 1 bytes and not yet an error. */
static bool partial_too_long(struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    if (len <= max_line)
        return false;
    if (len > max_line + 1)
        return true;
    struct evbuffer_ptr last;
    char ch = 0;
    if (evbuffer_ptr_set(in, &last, len - 1, EVBUFFER_PTR_SET) < 0 ||
        evbuffer_copyout_from(in, &last, &ch, 1) != 1)
        return true;
    return ch != '\r';
}

// [lines]
static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
    char *line;
    size_t n;
    while (!c->closing && (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF))) {
        if (n > max_line) { /* a whole line, but too long */
            free(line);
            reject(c, in, out);
            break;
        }
        transform(line, n); /* line is malloc'd, NUL-terminated */
        evbuffer_add(out, line, n);
        evbuffer_add(out, "\n", 1);
        c->echoed += n + 1;
        free(line);
    }
    if (!c->closing && partial_too_long(in))
        reject(c, in, out); /* no end of line in sight */
    if (evbuffer_get_length(out) >= HIGH_MARK)
        bufferevent_disable(bev, EV_READ); /* back-pressure, as in bufferevent_echo */
}
// [/lines]

/* Runs each time a write leaves the output at or below LOW_MARK. */
static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->closing) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            conn_free(c, "done, all sent"); /* free only once everything is sent */
    } else if (!(bufferevent_get_enabled(bev) & EV_READ)) {
        bufferevent_enable(bev, EV_READ); /* drained: take more input */
    }
}

// [on_event]
static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if (what & BEV_EVENT_EOF) { /* half-close: echo the rest, then close */
        struct evbuffer *in = bufferevent_get_input(bev);
        size_t n = evbuffer_get_length(in); /* a last line without "\n" */
        if (n > 0 && !c->closing) {
            char *rest = (char *)evbuffer_pullup(in, -1);
            transform(rest, n);
            c->echoed += n;
            evbuffer_add_buffer(bufferevent_get_output(bev), in);
        }
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
            conn_free(c, "EOF, all echoed");
        } else {
            c->closing = true;
            bufferevent_disable(bev, EV_READ);
        }
    } else if (what & BEV_EVENT_TIMEOUT) {
        conn_free(c, (what & BEV_EVENT_READING) ? "idle: nothing read" : "idle: peer not reading");
    } else if (what & BEV_EVENT_ERROR) {
        conn_free(c, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
}
// [/on_event]

/* shared: accept */
static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)sa, (void)socklen, (void)arg;
    struct event_base *base = evconnlistener_get_base(l);
    struct conn *c = calloc(1, sizeof *c);
    if (!c || !(c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE))) {
        free(c);
        evutil_closesocket(fd); /* no memory: drop this one, go on */
        return;
    }
    c->id = next_id++;
    LIST_INSERT_HEAD(&conns, c, link);
    live++;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, LOW_MARK, 0);
    bufferevent_set_max_single_read(c->bev, 64 * 1024); /* 2.1 still reads <= 4096 per call */
    bufferevent_set_max_single_write(c->bev, 64 * 1024);
    if (idle.tv_sec || idle.tv_usec)
        bufferevent_set_timeouts(c->bev, &idle, &idle); /* read idle, write stalled */
    bufferevent_enable(c->bev, EV_READ);                /* a new bufferevent only has EV_WRITE */
    if (!quiet)
        printf("conn #%u: accepted fd %d\n", c->id, (int)fd);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    if (accept_errors++ == 0 || pause_ms > 0)
        fprintf(stderr, "accept: %s%s\n", evutil_socket_error_to_string(err),
                pause_ms > 0 ? ": pausing accepts" : ": listener left on (it will spin)");
    if (pause_ms > 0 && (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)) {
        /* The pending connection keeps the listening fd readable: a listener
         * left enabled would call us again at once, forever. Stop listening
         * for a while; connections wait in the kernel's backlog. */
        if (event_add(resume_ev, &(struct timeval){pause_ms / 1000, (pause_ms % 1000) * 1000}) == 0)
            evconnlistener_disable(l); /* only pause if the timer will resume it */
    }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    evconnlistener_enable(listener);
}
/* end shared: accept */

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
    fprintf(to,
            "usage: line_echo [--port N] [--method NAME] [--idle-ms N] [--max-line N] [--rot13]\n"
            "                 [--quiet] [--step] [--help]\n"
            "  --port N              listen on 127.0.0.1:N (0: a free port, printed); default 0\n"
            "  --method NAME         epoll, poll or select (also EVENT_NOEPOLL=1 ...)\n"
            "  --idle-ms N           close a connection idle for N ms (0: never); default 60000\n"
            "  --max-line N          longest line accepted, in bytes; default 4096\n"
            "  --rot13               rot13 each line instead of upper-casing it\n"
            "  --quiet               no line per connection (for benchmarks)\n"
            "  --step                pause before each step (also EVLAB_STEP=1)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"method", required_argument, NULL, 'm'},
                                         {"idle-ms", required_argument, NULL, 'i'},
                                         {"max-line", required_argument, NULL, 'l'},
                                         {"rot13", no_argument, NULL, 'r'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *method = NULL;
    long port = 0, idle_ms = 60000;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "p:m:i:l:rqsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': port = lesson_num(optarg, 0, 65535, "--port"); break;
        case 'm': method = lesson_method(optarg); break;
        case 'i': idle_ms = lesson_num(optarg, 0, 86400000, "--idle-ms"); break;
        case 'l': max_line = (size_t)lesson_num(optarg, 1, 1 << 30, "--max-line"); break;
        case 'r': rot13 = true; break;
        case 'q': quiet = true; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "line_echo: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    idle.tv_sec = idle_ms / 1000;
    idle.tv_usec = (idle_ms % 1000) * 1000;
    signal(SIGPIPE, SIG_IGN); /* libevent does not: a reset peer would kill us */

    /* shared: listen */
    step("1. a base and a listener on 127.0.0.1");
    struct event_base *base = base_for_method(method);
    cap_fds_for_select(base);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener = evconnlistener_new_bind(
        base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        SOMAXCONN, (struct sockaddr *)&sin, sizeof sin);
    if (!listener)
        die("evconnlistener_new_bind(127.0.0.1:%ld) failed: %s", port, strerror(errno));
    evconnlistener_set_error_cb(listener, on_accept_error);
    resume_ev = evtimer_new(base, on_resume, NULL);
    if (!resume_ev)
        die("evtimer_new() failed");
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    if (!sigint || !sigterm)
        die("evsignal_new() failed");
    CHECK_OK(event_add(sigint, NULL));
    CHECK_OK(event_add(sigterm, NULL));
    socklen_t len = sizeof sin;
    CHECK_OK(getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&sin, &len));
    /* end shared: listen */
    printf("method: %s, idle timeout: %ld ms, max line: %zu bytes, %s\n",
           event_base_get_method(base), idle_ms, max_line, rot13 ? "rot13" : "upper-case");
    /* shared: run */
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));

    step("2. the loop");
    event_base_dispatch(base);

    while (!LIST_EMPTY(&conns))
        conn_free(LIST_FIRST(&conns), "server shutting down");
    evconnlistener_free(listener);
    event_free(resume_ev);
    event_free(sigint);
    event_free(sigterm);
    event_base_free(base);
    printf("accept errors: %lu\n", accept_errors);
    printf("all freed, bye\n");
    return 0;
    /* end shared: run */
}
