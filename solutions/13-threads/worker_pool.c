/* worker_pool.c -- exercise 13, reference solution: a dispatcher and N worker threads.
 *
 * The main thread's base only accepts. Each accepted fd is handed, round
 * robin, to a worker: the dispatcher pushes it on the worker's queue and wakes
 * the worker with event_active() on an event of the worker's own base (safe
 * across threads once evthread_use_pthreads() has run). The worker then owns
 * the connection: a bufferevent on its base, served by its thread only. This
 * is memcached's pattern from seed 003, without a notification pipe.
 *
 *   cc -Wall -Wextra -o worker_pool worker_pool.c $(pkg-config --cflags --libs libevent libevent_pthreads)
 *   ./worker_pool --port 0 --workers 4
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
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

struct conn;

struct worker {
    int id;
    pthread_t thread;
    struct event_base *base;
    struct event *wake;   /* activated by the dispatcher */
    pthread_mutex_t lock; /* guards queue */
    int *queue;
    size_t queue_len, queue_cap;
    struct conn *conns; /* owned by this worker's thread only */
};

struct conn {
    struct worker *w;
    struct bufferevent *bev;
    struct conn *prev, *next;
};

static struct worker workers[MAX_WORKERS];
static int nworkers = 4;

static void conn_free(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bufferevent_free(c->bev);
    free(c);
}

static void on_flushed(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(arg);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
    char *line;
    size_t len;
    while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF))) {
        int ms;
        char extra;
        /* "sleep MS": deliberately block this worker, as CPU-heavy work would */
        if (sscanf(line, "sleep %d%c", &ms, &extra) == 1 && ms >= 0 && ms <= 10000)
            usleep((useconds_t)ms * 1000);
        evbuffer_add_printf(out, "worker %d: %s\n", c->w->id, line);
        free(line);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        bufferevent_disable(bev, EV_READ); /* half-close: flush, then free */
        bufferevent_setcb(bev, NULL, on_flushed, on_event, c);
        return;
    }
    conn_free(c);
}

/* Runs in the worker's thread: take every queued fd and serve it here. */
static void on_wake(evutil_socket_t fd_unused, short what, void *arg)
{
    (void)fd_unused;
    (void)what;
    struct worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int fd = w->queue_len ? w->queue[--w->queue_len] : -1;
        pthread_mutex_unlock(&w->lock);
        if (fd < 0)
            break;
        struct conn *c = calloc(1, sizeof *c);
        struct bufferevent *bev =
            c ? bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
        if (!bev) {
            free(c);
            evutil_closesocket(fd);
            continue;
        }
        c->w = w;
        c->bev = bev;
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        bufferevent_setcb(bev, on_read, NULL, on_event, c);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY); /* until loopbreak */
    while (w->conns)
        conn_free(w->conns);
    return NULL;
}

/* Main thread: hand the new connection to the next worker. */
static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)lis;
    (void)sa;
    (void)salen;
    (void)arg;
    static unsigned long next;
    struct worker *w = &workers[next++ % (unsigned long)nworkers];
    pthread_mutex_lock(&w->lock);
    if (w->queue_len == w->queue_cap) {
        size_t cap = w->queue_cap ? w->queue_cap * 2 : 16;
        int *q = realloc(w->queue, cap * sizeof *q);
        if (!q) {
            pthread_mutex_unlock(&w->lock);
            evutil_closesocket(fd);
            return;
        }
        w->queue = q;
        w->queue_cap = cap;
    }
    w->queue[w->queue_len++] = fd;
    pthread_mutex_unlock(&w->lock);
    event_active(w->wake, EV_READ, 0); /* wakes the worker's loop */
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
            errno = 0;
            port = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || port < 0 || port > 65535) {
                fprintf(stderr, "%s: bad --port '%s'\n", argv[0], optarg);
                usage(stderr, argv[0]);
                return 2;
            }
        } else if (c == 'w') {
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || n < 1 || n > MAX_WORKERS) {
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

    if (evthread_use_pthreads() < 0) { /* before any base exists */
        fprintf(stderr, "error: evthread_use_pthreads() failed\n");
        return 1;
    }
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "error: event_base_new() failed\n");
        return 1;
    }
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        w->id = i;
        pthread_mutex_init(&w->lock, NULL);
        w->base = event_base_new();
        if (!w->base) {
            fprintf(stderr, "error: event_base_new() failed for worker %d\n", i);
            return 1;
        }
        w->wake = event_new(w->base, -1, 0, on_wake, w);
        if (!w->wake) {
            fprintf(stderr, "error: event_new() failed for worker %d\n", i);
            return 1;
        }
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fprintf(stderr, "error: pthread_create() failed for worker %d\n", i);
            return 1;
        }
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

    evconnlistener_free(lis); /* no more hand-offs */
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        event_base_loopbreak(w->base); /* thread-safe: wakes that loop */
        pthread_join(w->thread, NULL);
        for (size_t k = 0; k < w->queue_len; k++)
            evutil_closesocket(w->queue[k]);
        free(w->queue);
        event_free(w->wake);
        event_base_free(w->base);
        pthread_mutex_destroy(&w->lock);
    }
    event_free(sigint);
    event_free(sigterm);
    event_base_free(base);
    libevent_global_shutdown();
    return 0;
}
