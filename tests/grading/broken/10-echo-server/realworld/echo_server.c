/* BROKEN VARIANT realworld: shaped like the libevent echo servers found in
 * tutorials and on GitHub, adapted only to take --port and print the
 * listening line: `int` and `main(` on two lines, listen(fd, 5), and the
 * connection freed at EOF with echo still queued. It must lose exactly the
 * half-close and backlog points. (The two-line main() is on purpose: a
 * grader that looks for "^int main(" must not mistake this for a library.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define HIGH_WATER (1 << 20)

static void echo_read_cb(struct bufferevent *bev, void *ctx)
{
    (void)ctx;
    struct evbuffer *input = bufferevent_get_input(bev);
    struct evbuffer *output = bufferevent_get_output(bev);
    evbuffer_add_buffer(output, input);
    if (evbuffer_get_length(output) > HIGH_WATER)
        bufferevent_disable(bev, EV_READ);
}

static void echo_write_cb(struct bufferevent *bev, void *ctx)
{
    (void)ctx;
    bufferevent_enable(bev, EV_READ);
}

static void echo_event_cb(struct bufferevent *bev, short events, void *ctx)
{
    (void)ctx;
    if (events & BEV_EVENT_ERROR)
        perror("Error from bufferevent");
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void accept_cb(evutil_socket_t listener, short event, void *arg)
{
    (void)event;
    struct event_base *base = arg;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    int fd = accept(listener, (struct sockaddr *)&ss, &slen);
    if (fd < 0) {
        perror("accept");
        return;
    }
    evutil_make_socket_nonblocking(fd);
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, echo_read_cb, echo_write_cb, echo_event_cb, NULL);
    bufferevent_setwatermark(bev, EV_WRITE, HIGH_WATER / 2, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void signal_cb(evutil_socket_t sig, short events, void *arg)
{
    (void)sig;
    (void)events;
    event_base_loopexit(arg, NULL);
}

/* the split is the point (see the header) */
// clang-format off
int
main(int argc, char **argv)
// clang-format on
{
    int port = 9995;
    if (argc == 3 && strcmp(argv[1], "--port") == 0)
        port = atoi(argv[2]);
    signal(SIGPIPE, SIG_IGN);

    struct event_base *base = event_base_new();
    if (!base)
        return 1;

    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port);

    evutil_socket_t listener = socket(AF_INET, SOCK_STREAM, 0);
    evutil_make_socket_nonblocking(listener);
    evutil_make_listen_socket_reuseable(listener);
    if (bind(listener, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        perror("bind");
        return 1;
    }
    if (listen(listener, 5) < 0) {
        perror("listen");
        return 1;
    }
    socklen_t len = sizeof(sin);
    getsockname(listener, (struct sockaddr *)&sin, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
    fflush(stdout);

    struct event *listener_event =
        event_new(base, listener, EV_READ | EV_PERSIST, accept_cb, (void *)base);
    event_add(listener_event, NULL);
    struct event *sigint = evsignal_new(base, SIGINT, signal_cb, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, signal_cb, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);

    event_base_dispatch(base);

    event_free(sigint);
    event_free(sigterm);
    event_free(listener_event);
    evutil_closesocket(listener);
    event_base_free(base);
    return 0;
}
