/* worker_pool.c -- exercise 13: a dispatcher thread and N worker threads.
 *
 * Right now everything runs in one thread on one event_base, and every reply
 * says "worker 0". Make --workers N real: N threads, each running its own
 * event_base; the main thread only accepts and hands each new connection,
 * round robin, to the next worker, which then serves it on its own base.
 * A "sleep MS" line blocks the worker that serves it (on purpose: it stands
 * for CPU-heavy work), so with real workers the other workers' clients are
 * still answered meanwhile. See README.md.
 *
 *   cc -Wall -Wextra -o worker_pool worker_pool.c $(pkg-config --cflags --libs libevent libevent_pthreads)
 *   ./worker_pool --port 0 --workers 4
 * Check it: ./evlab check 13
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h> /* for your workers */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#define MAX_WORKERS 64

struct worker {
    int id;
    struct event_base *base;
    /* TODO: a thread, a queue of fds handed over by the dispatcher (with a
     * mutex), and an event on this worker's base that the dispatcher
     * activates to say "there is something in your queue". */
};

static struct worker workers[MAX_WORKERS];
static int nworkers = 4;

static void on_flushed(struct bufferevent *bev, void *arg)
{
    (void)arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        bufferevent_free(bev);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct worker *w = arg;
    struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
    char *line;
    size_t len;
    while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF))) {
        int ms;
        char extra;
        /* "sleep MS": deliberately block this worker, as CPU-heavy work would */
        if (sscanf(line, "sleep %d%c", &ms, &extra) == 1 && ms >= 0 && ms <= 10000)
            usleep((useconds_t)ms * 1000);
        evbuffer_add_printf(out, "worker %d: %s\n", w->id, line);
        free(line);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        bufferevent_disable(bev, EV_READ); /* half-close: flush, then free */
        bufferevent_setcb(bev, NULL, on_flushed, on_event, arg);
        return;
    }
    bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)sa;
    (void)salen;
    (void)arg;
    /* TODO: pick the next worker (round robin), queue fd for it and wake it
     * with event_active(); the worker's thread then creates the bufferevent
     * on ITS base. Here everything is served on the dispatcher's base. */
    struct worker *w = &workers[0];
    struct bufferevent *bev =
        bufferevent_socket_new(evconnlistener_get_base(lis), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, on_read, NULL, on_event, w);
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
            "usage: %s --port N [--workers N]\n"
            "  --port N      port on 127.0.0.1 (0 = any free port)\n"
            "  --workers N   worker threads, 1..%d (default 4)\n",
            prog, MAX_WORKERS);
}

int main(int argc, char *argv[])
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long port = -1;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'p') {
            port = strtol(optarg, &end, 10);
            if (*end || port < 0 || port > 65535) {
                fprintf(stderr, "%s: bad --port '%s'\n", argv[0], optarg);
                usage(stderr, argv[0]);
                return 2;
            }
        } else if (c == 'w') {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > MAX_WORKERS) {
                fprintf(stderr, "%s: bad --workers '%s'\n", argv[0], optarg);
                usage(stderr, argv[0]);
                return 2;
            }
            nworkers = (int)n;
        } else if (c == 'h') {
            usage(stdout, argv[0]);
            return 0;
        } else {
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (port < 0 || optind < argc) {
        usage(stderr, argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* TODO: evthread_use_pthreads() first, before any base exists */
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "error: event_base_new() failed\n");
        return 1;
    }
    for (int i = 0; i < nworkers; i++) {
        workers[i].id = i;
        /* TODO: a base per worker, its wake-up event, and its thread
         * (event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY) keeps an idle
         * worker's loop running) */
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
    getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&sin, &slen);
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));

    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_base_dispatch(base);

    evconnlistener_free(lis);
    /* TODO: stop each worker (event_base_loopbreak is safe from another
     * thread once locking is on), join it, free what it owns. */
    event_free(sigint);
    event_free(sigterm);
    event_base_free(base);
    return 0;
}
