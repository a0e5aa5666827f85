/* blocking_accept.c -- the blog post's accept callback: a sleep() in it stalls everyone.
 *
 * Teaches: a callback runs on the loop's only thread, so while it blocks
 * (here: a sleep standing for slow work) no other callback can run. A second
 * client waits for the first one's sleep, then for its own, and the heartbeat
 * timer stops ticking. The accept callback posted in "libevent demo" (an
 * anonymous blog post) starts with sleep(10), and then only accepts: it
 * never reads what it accepted. This server greets and echoes, so you can
 * see who is served when. (The post's conclusion that one thread cannot
 * serve two clients came from another experiment, a loop nested in the
 * accept callback: nested_accept.c.) Diff this file with fixed_server.c:
 * the only change is that the wait becomes a timer event.
 *
 * Builds on: lesson 06 (timers), lesson 10 (echo with bufferevents).
 *
 * Build and run on its own:
 *   cc -Wall -o blocking_accept blocking_accept.c $(pkg-config --cflags --libs libevent)
 *   ./blocking_accept --port 9877 --sleep-ms 3000
 *   (two other terminals: telnet 127.0.0.1 9877, at once)
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "../lesson.h"

static struct event_base *base;
static struct timeval t0; /* the loop's start, for relative times */
static long sleep_ms = 1000, heartbeat_ms = 100;
static int next_client = 1;

/* Milliseconds since t0, from the loop's cached clock. */
static long now_ms(void)
{
    struct timeval tv;
    event_base_gettimeofday_cached(base, &tv);
    return (tv.tv_sec - t0.tv_sec) * 1000 + (tv.tv_usec - t0.tv_usec) / 1000;
}

// [heartbeat]
/* A timer that should fire every heartbeat_ms. When a callback blocks, the
 * actual time drifts away from the planned one: that is the stall. */
static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    static long n, last;
    (void)fd, (void)what, (void)arg;
    long actual = now_ms(), planned = n ? last + heartbeat_ms : heartbeat_ms;
    printf("heartbeat %ld: planned +%ld ms, actual +%ld ms, late %ld ms\n", ++n, planned, actual,
           actual - planned);
    last = actual;
}
// [/heartbeat]

struct conn {
    int id;
    struct bufferevent *bev;
    LIST_ENTRY(conn) link; /* every open client, to free them at exit */
};
static LIST_HEAD(, conn) conns = LIST_HEAD_INITIALIZER(conns);

static void conn_free(struct conn *c)
{
    printf("client %d: closed at +%ld ms\n", c->id, now_ms());
    LIST_REMOVE(c, link);
    bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE closes the socket */
    free(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev, (void)what;
    conn_free(arg); /* EOF or error: free this client, go on */
}

static void greet(struct conn *c)
{
    printf("client %d: greeted at +%ld ms\n", c->id, now_ms());
    bufferevent_write(c->bev, "hello\n", 6);
    bufferevent_enable(c->bev, EV_READ);
}

// [accept]
static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what, (void)arg;
    printf(
        "accept callback: a client is waiting, now sleeping %ld ms (the blog post's sleep(10))\n",
        sleep_ms);
    usleep(sleep_ms * 1000); /* the bug: the whole loop stops here */
    event_base_update_cache_time(base);
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return; /* e.g. the client already left */
    if (evutil_make_socket_nonblocking(fd) < 0) {
        evutil_closesocket(fd);
        return;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "calloc() failed: dropping a client\n");
        evutil_closesocket(fd);
        return;
    }
    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        fprintf(stderr, "bufferevent_socket_new() failed: dropping a client\n");
        evutil_closesocket(fd);
        free(c);
        return;
    }
    c->id = next_client++;
    printf("client %d: accepted at +%ld ms\n", c->id, now_ms());
    LIST_INSERT_HEAD(&conns, c, link);
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    greet(c); /* adding events from a callback is fine */
}
// [/accept]

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)what, (void)arg;
    printf("signal %d: leaving the loop\n", (int)sig);
    if (event_base_loopexit(base, NULL) != 0)
        die("event_base_loopexit() failed");
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sin;
    CHECK_OK(fd);
    CHECK_OK(evutil_make_listen_socket_reuseable(fd));
    CHECK_OK(bind(fd, (struct sockaddr *)&sin, sizeof sin));
    CHECK_OK(listen(fd, 16));
    CHECK_OK(getsockname(fd, (struct sockaddr *)&sin, &len));
    CHECK_OK(evutil_make_socket_nonblocking(fd));
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
    return fd;
}

static void usage(FILE *to)
{
    fprintf(
        to,
        "usage: blocking_accept [--port N] [--sleep-ms N] [--heartbeat-ms N] [--step] [--help]\n"
        "  --port N          listen on 127.0.0.1:N (0: any free port; default 9877)\n"
        "  --sleep-ms N      how long the accept callback sleeps (default 1000)\n"
        "  --heartbeat-ms N  period of the heartbeat timer (default 100, 0: none)\n"
        "  --step            pause before each step (also EVLAB_STEP=1)\n"
        "  --help            show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"sleep-ms", required_argument, NULL, 'S'},
                                         {"heartbeat-ms", required_argument, NULL, 'H'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long port = 9877;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "p:S:H:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': port = lesson_num(optarg, 0, 65535, "--port"); break;
        case 'S': sleep_ms = lesson_num(optarg, 0, 600000, "--sleep-ms"); break;
        case 'H': heartbeat_ms = lesson_num(optarg, 0, 600000, "--heartbeat-ms"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "blocking_accept: bad arguments\n");
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    step("1. a base, a heartbeat, and a listening socket");
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    struct event *hb = event_new(base, -1, EV_PERSIST, on_heartbeat, NULL);
    struct timeval period = {heartbeat_ms / 1000, heartbeat_ms % 1000 * 1000};
    if (!hb)
        die("event_new() failed for the heartbeat");
    struct event *sigint = evsignal_new(base, SIGINT, on_stop, NULL);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_stop, NULL);
    if (!sigint || !sigterm || event_add(sigint, NULL) != 0 || event_add(sigterm, NULL) != 0)
        die("evsignal_new()/event_add() failed for SIGINT/SIGTERM");
    int lfd = listen_on((int)port);
    struct event *lev = event_new(base, lfd, EV_READ | EV_PERSIST, on_accept, NULL);
    if (!lev)
        die("event_new() failed for the listener");
    if (event_add(lev, NULL) != 0)
        die("event_add() failed for the listener");

    step("2. the loop: connect two clients at once and watch the heartbeat");
    /* Armed only now, so that time spent at a --step prompt does not count. */
    if (heartbeat_ms && event_add(hb, &period) != 0)
        die("event_add() failed for the heartbeat");
    gettimeofday(&t0, NULL);
    event_base_dispatch(base);

    step("3. free everything");
    while (!LIST_EMPTY(&conns))
        conn_free(LIST_FIRST(&conns));
    event_free(lev);
    evutil_closesocket(lfd);
    event_free(hb);
    event_free(sigint);
    event_free(sigterm);
    event_base_free(base);
    return 0;
}
