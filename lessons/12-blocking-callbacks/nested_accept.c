/* nested_accept.c -- the blog post's experiment: a new base and its loop inside the accept callback.
 *
 * Teaches: what the anonymous blog post "libevent demo" really saw before it
 * concluded (its point 3, "based on the above") that one thread cannot serve
 * several telnet clients. Its point 1 describes this experiment: the accept
 * callback makes a new event_base, adds the client's read event to it and
 * runs that base's loop. That inner loop serves client 1 -- and does not
 * return until client 1 leaves, so the outer loop never gets back to its
 * listening socket: client 2 connects (the kernel completes the handshake)
 * but is not accepted, and its bytes are not echoed, until client 1 is gone.
 * One client at a time: exactly the post's observation. The cause is the
 * nested loop, a blocking call like sleep(); fixed_server.c serves both
 * clients at once from one loop in one thread.
 *
 * Builds on: two_bases.c (a nested dispatch blocks the outer loop).
 *
 * Build and run on its own:
 *   cc -Wall -o nested_accept nested_accept.c $(pkg-config --cflags --libs libevent)
 *   ./nested_accept --port 9877
 *   (two other terminals: telnet 127.0.0.1 9877; type in both)
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "../lesson.h"

static struct event_base *outer;
static int next_client = 1;

struct client {
    int id, fd;
    struct event *ev;
};

/* The inner base's read callback: echo, and leave the inner loop at EOF. */
static void on_client_read(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    char buf[512];
    (void)what;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return; /* nothing to read after all: not an EOF */
    if (n <= 0) {
        printf("client %d: %s; the inner loop has nothing left\n", c->id,
               n == 0 ? "EOF" : strerror(errno));
        event_del(c->ev); /* the inner base is now empty: its dispatch returns */
        return;
    }
    printf("client %d: echoing %zd byte(s)\n", c->id, n);
    if (write(fd, buf, (size_t)n) < 0)
        printf("client %d: write failed: %s\n", c->id, strerror(errno));
}

// [nested]
/* The outer base's accept callback, as the blog post's point 1 describes it. */
static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what, (void)arg;
    struct client c = {.id = next_client++};
    c.fd = accept(lfd, NULL, NULL);
    if (c.fd < 0)
        return;
    if (evutil_make_socket_nonblocking(c.fd) < 0) {
        close(c.fd);
        return;
    }
    printf("client %d: accepted; a new base and its loop, inside the accept callback\n", c.id);
    struct event_base *inner = event_base_new();
    if (!inner) {
        fprintf(stderr, "event_base_new() failed\n");
        close(c.fd);
        return;
    }
    c.ev = event_new(inner, c.fd, EV_READ | EV_PERSIST, on_client_read, &c);
    if (!c.ev || event_add(c.ev, NULL) != 0)
        fprintf(stderr, "event_new()/event_add() failed for client %d\n", c.id);
    else
        event_base_dispatch(inner); /* returns only when client c has left */
    printf("client %d: inner loop returned; back in the outer loop\n", c.id);
    if (c.ev)
        event_free(c.ev);
    event_base_free(inner);
    close(c.fd);
}
// [/nested]

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)what, (void)arg;
    printf("signal %d: leaving the loop\n", (int)sig);
    if (event_base_loopexit(outer, NULL) != 0)
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
    fprintf(to, "usage: nested_accept [--port N] [--step] [--help]\n"
                "  --port N  listen on 127.0.0.1:N (0: any free port; default 9877)\n"
                "  --step    pause before each step (also EVLAB_STEP=1)\n"
                "  --help    show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long port = 9877;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "p:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': port = lesson_num(optarg, 0, 65535, "--port"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    step("1. the outer base and its listening socket");
    outer = event_base_new();
    if (!outer)
        die("event_base_new() failed");
    struct event *sigint = evsignal_new(outer, SIGINT, on_stop, NULL);
    struct event *sigterm = evsignal_new(outer, SIGTERM, on_stop, NULL);
    if (!sigint || !sigterm || event_add(sigint, NULL) != 0 || event_add(sigterm, NULL) != 0)
        die("evsignal_new()/event_add() failed");
    int lfd = listen_on((int)port);
    struct event *lev = event_new(outer, lfd, EV_READ | EV_PERSIST, on_accept, NULL);
    if (!lev)
        die("event_new() failed");
    if (event_add(lev, NULL) != 0)
        die("event_add() failed for the listener");

    step("2. the outer loop: connect two clients and type in both");
    event_base_dispatch(outer);

    step("3. free everything");
    event_free(lev);
    evutil_closesocket(lfd);
    event_free(sigint);
    event_free(sigterm);
    event_base_free(outer);
    return 0;
}
