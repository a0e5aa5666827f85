/* bev_talk.c -- after BEV_EVENT_CONNECTED: write, read, and an error later on.
 *
 * Teaches: a new bufferevent has only EV_WRITE enabled
 * (bufferevent_get_enabled), so it sends at once but calls no read callback
 * until you bufferevent_enable(bev, EV_READ). Once connected, the same
 * bufferevent writes and reads; and BEV_EVENT_ERROR is not only "the connect
 * failed": when the peer resets an established connection it arrives too,
 * with BEV_EVENT_READING, long after BEV_EVENT_CONNECTED.
 *
 * Builds on: bev_connect.c (connecting, the event callback).
 *
 * Build and run on its own:
 *   cc -Wall -o bev_talk bev_talk.c $(pkg-config --cflags --libs libevent)
 *   ./bev_talk
 *   ./bev_talk --no-enable-read   # the reply arrives, but no read callback runs
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "../lesson.h"

static struct event_base *base;
static bool enable_read = true;
static int server_fd = -1;
static struct event *server_ev;

static const char *bev_events(short ev, char *buf, size_t len)
{
    static const struct {
        short bit;
        const char *name;
    } names[] = {{BEV_EVENT_READING, "READING"}, {BEV_EVENT_WRITING, "WRITING"},
                 {BEV_EVENT_EOF, "EOF"},         {BEV_EVENT_ERROR, "ERROR"},
                 {BEV_EVENT_TIMEOUT, "TIMEOUT"}, {BEV_EVENT_CONNECTED, "CONNECTED"}};
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ev & names[i].bit)
            snprintf(buf + strlen(buf), len - strlen(buf), "%sBEV_EVENT_%s", buf[0] ? "|" : "",
                     names[i].name);
    return buf;
}

/* ---- the peer: a raw socket in this process that answers once, then resets ---- */

static void on_server_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what, (void)arg;
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;   /* nothing after all */
    if (n <= 0) { /* EOF or an error: a persistent event would fire forever */
        printf("   peer: %s; closing\n", n == 0 ? "EOF" : strerror(errno));
        event_free(server_ev);
        server_ev = NULL;
        evutil_closesocket(fd);
        server_fd = -1;
        return;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    printf("   peer: got '%s'\n", buf);
    if (strcmp(buf, "ping 1") == 0) {
        const char reply[] = "pong 1\n";
        if (send(fd, reply, sizeof reply - 1, 0) != (ssize_t)(sizeof reply - 1))
            die("send() of the peer's reply failed");
        printf("   peer: sent 'pong 1'\n");
        return;
    }
    /* SO_LINGER with a zero timeout: close() sends RST instead of FIN. */
    struct linger lin = {.l_onoff = 1, .l_linger = 0};
    CHECK_OK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin));
    event_free(server_ev);
    server_ev = NULL;
    evutil_closesocket(fd);
    server_fd = -1;
    printf("   peer: closed with SO_LINGER 0: a TCP RST is on its way\n");
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)l, (void)sa, (void)len, (void)arg;
    server_fd = fd;
    server_ev = event_new(base, fd, EV_READ | EV_PERSIST, on_server_read, NULL);
    if (!server_ev)
        die("event_new() for the peer failed");
    CHECK_OK(event_add(server_ev, NULL));
}

/* ---- the client: one bufferevent ------------------------------------------- */

// [readcb]
static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    char *line = evbuffer_readln(bufferevent_get_input(bev), NULL, EVBUFFER_EOL_LF);
    if (!line)
        return;
    printf("   read callback: '%s'; writing 'ping 2'\n", line);
    free(line);
    if (bufferevent_write(bev, "ping 2\n", 7) < 0)
        die("bufferevent_write() failed");
}
// [/readcb]

// [eventcb]
static void on_event(struct bufferevent *bev, short events, void *arg)
{
    (void)arg;
    printf("   event callback: 0x%02x = %s\n", (unsigned)events,
           bev_events(events, (char[128]){0}, 128));
    if (events & BEV_EVENT_CONNECTED) {
        printf("   connected; enabled: %s\n", FLAGS(bufferevent_get_enabled(bev)));
        if (bufferevent_write(bev, "ping 1\n", 7) < 0) /* EV_WRITE is on: this is sent */
            die("bufferevent_write() failed");
        printf("   wrote 'ping 1'\n");
        if (enable_read) {
            if (bufferevent_enable(bev, EV_READ) < 0)
                die("bufferevent_enable(EV_READ) failed");
            printf("   bufferevent_enable(bev, EV_READ); enabled: %s\n",
                   FLAGS(bufferevent_get_enabled(bev)));
        }
        return;
    }
    if (events & BEV_EVENT_ERROR) /* after CONNECTED: an error on a working connection */
        printf("   socket error: %s\n", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    event_base_loopbreak(base);
}
// [/eventcb]

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct bufferevent *bev = arg;
    int queued = -1;
    CHECK_OK(ioctl(bufferevent_getfd(bev), FIONREAD, &queued)); /* bytes the kernel holds */
    printf("   no read callback within 1 s; %d byte(s) wait in the socket, unread\n", queued);
    event_base_loopbreak(base);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: bev_talk [--no-enable-read] [--step] [--help]\n"
                "  --no-enable-read  never call bufferevent_enable(bev, EV_READ)\n"
                "  --step            pause before each step (also EVLAB_STEP=1)\n"
                "  --help            show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"no-enable-read", no_argument, NULL, 'n'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': enable_read = false; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bev_talk: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");

    step("1. a peer on 127.0.0.1 that answers 'ping 1' and resets on 'ping 2'");
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct evconnlistener *listener =
        evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                16, (struct sockaddr *)&sin, sizeof sin);
    if (!listener)
        die("evconnlistener_new_bind() failed");
    socklen_t len = sizeof sin;
    CHECK_OK(getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&sin, &len));
    printf("peer listening on 127.0.0.1 (port from the kernel)\n");

    step("2. a new bufferevent: what is enabled?");
    // [new]
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        die("bufferevent_socket_new() failed");
    printf("bufferevent_get_enabled(new bev): %s\n", FLAGS(bufferevent_get_enabled(bev)));
    // [/new]
    bufferevent_setcb(bev, on_read, NULL, on_event, NULL);

    step("3. connect, then write and %s", enable_read ? "read" : "(without EV_READ) wait");
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&sin, sizeof sin) < 0)
        die("bufferevent_socket_connect() failed");
    struct timeval one_s = {1, 0};
    struct event *guard = evtimer_new(base, on_guard, bev);
    if (!guard)
        die("evtimer_new() failed");
    CHECK_OK(evtimer_add(guard, &one_s));
    event_base_dispatch(base);
    event_free(guard);

    step("4. free everything");
    bufferevent_free(bev);
    if (server_ev)
        event_free(server_ev);
    if (server_fd >= 0)
        evutil_closesocket(server_fd);
    evconnlistener_free(listener);
    event_base_free(base);
    printf("done\n");
    return 0;
}
