/* bev_variants.c -- one bufferevent echo server, three knobs that change its speed.
 *
 * Teaches: where a bufferevent server spends its time, by turning one cost
 * on or off at a time and measuring with load_gen:
 *   --copy          read into a stack buffer and write it back (two copies)
 *                   instead of moving the chains with bufferevent_write_buffer;
 *   --max-read N    bufferevent_set_max_single_read: the bufferevent's own
 *                   read limit (16 KiB by default). In 2.1 evbuffer_read()
 *                   still reads at most 4096 bytes per call, so raising it
 *                   changes nothing you can measure; lowering it does;
 *   --high-water N  stop reading while N bytes wait to be written (back-
 *                   pressure), resume when the output drains.
 * Run it under EVENT_EPOLL_USE_CHANGELIST=1 and count epoll_ctl calls with
 * `strace -c -f` to see the changelist merge add/del pairs.
 *
 * Builds on: 09 (watermarks), 10 (bufferevent_echo.c).
 *
 * Build and run on its own:
 *   cc -O2 -Wall -o bev_variants bev_variants.c $(pkg-config --cflags --libs libevent)
 *   ./bev_variants --port 0 --max-read 65536
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "../lesson.h"

static bool copy_mode;
static size_t max_read, high_water;

// [echo]
static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    if (copy_mode) { /* two memcpy()s per byte: into buf, then into the output */
        char buf[4096];
        size_t n;
        while ((n = bufferevent_read(bev, buf, sizeof buf)) > 0)
            bufferevent_write(bev, buf, n);
    } else { /* moves the chains: no user-space copy */
        bufferevent_write_buffer(bev, bufferevent_get_input(bev));
    }
    if (high_water && evbuffer_get_length(bufferevent_get_output(bev)) > high_water)
        bufferevent_disable(bev, EV_READ); /* the peer is not keeping up */
}
// [/echo]

static void on_drained(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_enable(bev, EV_READ); /* output fell to the low-water mark (0) */
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what, (void)arg;
    bufferevent_free(bev); /* EOF or error: this connection only */
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)sa, (void)len, (void)arg;
    struct bufferevent *bev =
        bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    // [max_read]
    if (max_read)
        bufferevent_set_max_single_read(bev, max_read);
    // [/max_read]
    bufferevent_setcb(bev, on_read, high_water ? on_drained : NULL, on_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_signal(evutil_socket_t sig, short what, void *base)
{
    (void)sig, (void)what;
    event_base_loopbreak(base);
}

static long number(const char *s, const char *flag)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 1 << 30) {
        fprintf(stderr, "bev_variants: %s needs a number from 0 to %d, not '%s'\n", flag, 1 << 30,
                s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},     {"copy", no_argument, NULL, 'c'},
        {"max-read", required_argument, NULL, 'm'}, {"high-water", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    long port = -1;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': port = number(optarg, "--port"); break;
        case 'c': copy_mode = true; break;
        case 'm': max_read = (size_t)number(optarg, "--max-read"); break;
        case 'w': high_water = (size_t)number(optarg, "--high-water"); break;
        case 'h':
            puts("usage: bev_variants --port N [--copy] [--max-read BYTES] [--high-water BYTES]");
            return 0;
        default:
            fputs("usage: bev_variants --port N [--copy] [--max-read BYTES] [--high-water BYTES]\n",
                  stderr);
            return 2;
        }
    }
    if (port < 0 || port > 65535)
        die("--port N is required (0 picks a free port)");
    signal(SIGPIPE, SIG_IGN); /* a write to a closed peer must not kill the server */
    struct event_base *base;
    CHECK(base = event_base_new());
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *listener;
    CHECK(listener = evconnlistener_new_bind(base, on_accept, NULL,
                                             LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                             (struct sockaddr *)&sin, sizeof sin));
    socklen_t len = sizeof sin;
    getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&sin, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_base_dispatch(base);
    event_free(sigint);
    event_free(sigterm);
    evconnlistener_free(listener);
    event_base_free(base);
    return 0;
}
