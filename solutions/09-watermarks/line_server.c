/* line_server.c -- exercise 09, reference solution: a line protocol with watermarks.
 *
 * Commands, one per line ("\n" or "\r\n"): "SUM a b" -> a+b, "PING" -> PONG,
 * "QUIT" -> BYE and close. Three watermarks do the work:
 *   - read high = 16 KiB + max line + 2: the input buffer never holds more
 *     than that, so a line with no end cannot eat memory (a high mark of just
 *     max line + 2 would work too, but read a few dozen bytes per call);
 *   - replies pile up past MAX_PENDING -> stop reading (back-pressure), and a
 *     write low watermark of MAX_PENDING/2 calls us back to read again;
 *   - write low 0 on close: free the bufferevent once the output is empty.
 * Every live connection is on a list, freed at SIGINT/SIGTERM.
 *
 *   cc -Wall -Wextra -o line_server line_server.c $(pkg-config --cflags --libs libevent)
 *   ./line_server --port 0 --max-line 64
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define MAX_PENDING (64 * 1024)
#define READ_HIGH (16 * 1024 + max_line + 2)

static size_t max_line = 64;

static bool parse_ll(const char *s, long long *v)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

/* Live connections, so that SIGINT/SIGTERM can free them all. */
struct conn {
    struct bufferevent *bev;
    struct conn *prev, *next;
};
static struct conn *conns;

static void conn_free(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bufferevent_free(c->bev);
    free(c);
}

static void on_drained_free(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg);

/* Stop reading, flush what is queued, then free. */
static void close_after_flush(struct bufferevent *bev, struct conn *c)
{
    bufferevent_disable(bev, EV_READ);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_setcb(bev, NULL, on_drained_free, on_event, c);
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c);
}

/* Answer one line. Returns false if the connection should close. */
static bool answer(struct evbuffer *out, char *line)
{
    char *save = NULL, *cmd = strtok_r(line, " ", &save);
    if (cmd && strcmp(cmd, "SUM") == 0) {
        char *a = strtok_r(NULL, " ", &save), *b = strtok_r(NULL, " ", &save);
        long long x, y, sum;
        if (!parse_ll(a, &x) || !parse_ll(b, &y) || strtok_r(NULL, " ", &save) ||
            __builtin_add_overflow(x, y, &sum))
            evbuffer_add_printf(out, "ERR bad number\n");
        else
            evbuffer_add_printf(out, "%lld\n", sum);
    } else if (cmd && strcmp(cmd, "PING") == 0 && !strtok_r(NULL, " ", &save)) {
        evbuffer_add_printf(out, "PONG\n");
    } else if (cmd && strcmp(cmd, "QUIT") == 0 && !strtok_r(NULL, " ", &save)) {
        evbuffer_add_printf(out, "BYE\n");
        return false;
    } else {
        evbuffer_add_printf(out, "ERR unknown command\n");
    }
    return true;
}

/* Answer every complete line that fits. Returns false if the connection is
 * closing (or already freed): the caller must not touch it again. */
static bool serve(struct bufferevent *bev, struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
    size_t len;
    char *line;
    while (evbuffer_get_length(out) < MAX_PENDING &&
           (line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF))) {
        bool go_on = len <= max_line;
        if (!go_on)
            evbuffer_add_printf(out, "ERR line too long\n");
        else
            go_on = answer(out, line);
        free(line);
        if (!go_on) {
            close_after_flush(bev, c);
            return false;
        }
    }
    /* No complete line, and already longer than a line may be ("\r" may follow). */
    if (evbuffer_get_length(out) < MAX_PENDING && evbuffer_get_length(in) > max_line + 1) {
        evbuffer_add_printf(out, "ERR line too long\n");
        close_after_flush(bev, c);
        return false;
    }
    if (evbuffer_get_length(out) >= MAX_PENDING)
        bufferevent_disable(bev, EV_READ); /* back-pressure: resume in on_write */
    return true;
}

static void on_read(struct bufferevent *bev, void *arg) { serve(bev, arg); }

static void on_write(struct bufferevent *bev, void *arg)
{
    /* output fell to MAX_PENDING/2: answer what is waiting, read again */
    bufferevent_enable(bev, EV_READ);
    on_read(bev, arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        if (!serve(bev, c)) /* lines still waiting behind back-pressure */
            return;
        if (evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
            close_after_flush(bev, c);
            return;
        }
    }
    conn_free(c);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)sa;
    (void)salen;
    (void)arg;
    struct conn *c = calloc(1, sizeof *c);
    struct bufferevent *bev =
        bufferevent_socket_new(evconnlistener_get_base(lis), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c || !bev) {
        free(c);
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        return;
    }
    c->bev = bev;
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(bev, EV_READ, 0, READ_HIGH);
    bufferevent_setwatermark(bev, EV_WRITE, MAX_PENDING / 2, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s --port N [--max-line N]\n"
            "  --port N       port on 127.0.0.1 (0 = any free port)\n"
            "  --max-line N   longest accepted line, without its end (default 64)\n",
            prog);
}

int main(int argc, char *argv[])
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"max-line", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long port = -1;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            errno = 0;
            port = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || port < 0 || port > 65535) {
                fprintf(stderr, "%s: bad --port '%s'\n", argv[0], optarg);
                usage(stderr, argv[0]);
                return 2;
            }
            break;
        case 'm': {
            errno = 0;
            long m = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || m < 1 || m > 1 << 20) {
                fprintf(stderr, "%s: bad --max-line '%s'\n", argv[0], optarg);
                usage(stderr, argv[0]);
                return 2;
            }
            max_line = (size_t)m;
            break;
        }
        case 'h': usage(stdout, argv[0]); return 0;
        default: usage(stderr, argv[0]); return 2;
        }
    }
    if (port < 0 || optind < argc) {
        usage(stderr, argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "error: event_base_new() failed\n");
        return 1;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((unsigned short)port);
    struct evconnlistener *lis =
        evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                1024, (struct sockaddr *)&sin, sizeof sin);
    if (!lis) {
        perror("error: evconnlistener_new_bind");
        return 1;
    }
    socklen_t slen = sizeof sin;
    if (getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&sin, &slen) < 0) {
        perror("error: getsockname");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));

    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (!sigint) {
        fprintf(stderr, "error: evsignal_new(SIGINT) failed\n");
        return 1;
    }
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    if (!sigterm) {
        fprintf(stderr, "error: evsignal_new(SIGTERM) failed\n");
        return 1;
    }
    if (event_add(sigint, NULL) < 0) {
        fprintf(stderr, "error: event_add(SIGINT) failed\n");
        return 1;
    }
    if (event_add(sigterm, NULL) < 0) {
        fprintf(stderr, "error: event_add(SIGTERM) failed\n");
        return 1;
    }
    event_base_dispatch(base);

    while (conns)
        conn_free(conns);
    event_free(sigint);
    event_free(sigterm);
    evconnlistener_free(lis);
    event_base_free(base);
    return 0;
}
