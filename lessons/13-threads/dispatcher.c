/* dispatcher.c -- the memcached pattern: one accept thread, N worker threads, one event_base each.
 *
 * Teaches: a base belongs to the thread that runs its loop. The main thread
 * only accepts; each new connection goes, round-robin, to a worker thread
 * through that worker's locked queue plus one byte on its notify pipe (what
 * memcached's dispatch thread writes to notify_receive_fd). The byte wakes the
 * worker's loop; if the worker is busy, the byte simply waits in the pipe and
 * the level-triggered read event fires as soon as the worker is back in its
 * loop. From then on the connection lives only in that worker's base.
 *
 * Builds on: lesson 12's fixed_server.c (same greeting, same --sleep-ms
 * delay as a timer); with --workers 1 it behaves the same.
 *
 * Build and run on its own:
 *   cc -Wall -o dispatcher dispatcher.c $(pkg-config --cflags --libs libevent libevent_pthreads)
 *   ./dispatcher --port 9877 --workers 4
 *   (other terminals: telnet 127.0.0.1 9877)
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "../lesson.h"

#define MAX_WORKERS 64

struct item { /* one handed-over connection */
    int fd, client;
    STAILQ_ENTRY(item) next;
};

struct conn { /* owned by one worker thread only */
    int client;
    struct worker *w;
    struct bufferevent *bev;
    struct event *delay;
    LIST_ENTRY(conn) link;
};

struct worker {
    int id;
    pthread_t thread;
    struct event_base *base; /* this thread's own base */
    int notify[2];           /* [0]: worker reads, [1]: accept thread writes */
    struct event *notify_ev;
    pthread_mutex_t lock; /* protects queue */
    STAILQ_HEAD(, item) queue;
    LIST_HEAD(, conn) conns;
};

static struct worker workers[MAX_WORKERS];
static int nworkers = 2, next_client = 1, next_worker;
static long sleep_ms, busy_ms;

static void conn_free(struct conn *c)
{
    printf("worker %d: client %d closed\n", c->w->id, c->client);
    LIST_REMOVE(c, link);
    if (c->delay)
        event_free(c->delay);
    bufferevent_free(c->bev);
    free(c);
}

static void echo_read_cb(struct bufferevent *bev, void *arg)
{
    (void)arg;
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev, (void)what;
    conn_free(arg);
}

static void greet_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd, (void)what;
    evbuffer_add_printf(bufferevent_get_output(c->bev), "worker %d serves client %d\n", c->w->id,
                        c->client);
}

// [take]
/* Runs in the worker thread when the notify pipe is readable. */
static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    char byte;
    (void)what;
    if (read(fd, &byte, 1) != 1) /* one byte per handed-over connection */
        return;
    pthread_mutex_lock(&w->lock);
    struct item *it = STAILQ_FIRST(&w->queue);
    if (it)
        STAILQ_REMOVE_HEAD(&w->queue, next);
    pthread_mutex_unlock(&w->lock);
    if (!it)
        return;
    // [/take]
    // [take_conn]
    printf("worker %d took client %d\n", w->id, it->client);
    struct conn *c = calloc(1, sizeof *c);
    c->client = it->client;
    c->w = w;
    c->bev = bufferevent_socket_new(w->base, it->fd, BEV_OPT_CLOSE_ON_FREE);
    free(it);
    LIST_INSERT_HEAD(&w->conns, c, link);
    bufferevent_setcb(c->bev, echo_read_cb, NULL, conn_event_cb, c);
    bufferevent_enable(c->bev, EV_READ);
    struct timeval wait = {sleep_ms / 1000, sleep_ms % 1000 * 1000};
    c->delay = evtimer_new(w->base, greet_cb, c);
    evtimer_add(c->delay, &wait); /* lesson 12's fix: wait with a timer */
    if (busy_ms) {                /* --busy-ms: this worker blocks (lesson 12's bug, on purpose) */
        printf("worker %d: busy for %ld ms\n", w->id, busy_ms);
        usleep(busy_ms * 1000);
    }
}
// [/take_conn]

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    event_base_dispatch(w->base); /* only this thread runs w->base */
    while (!LIST_EMPTY(&w->conns))
        conn_free(LIST_FIRST(&w->conns));
    return NULL;
}

// [dispatch]
/* Runs in the accept (main) thread: pick a worker, queue, wake it. */
static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)l, (void)sa, (void)len, (void)arg;
    struct worker *w = &workers[next_worker];
    next_worker = (next_worker + 1) % nworkers; /* round-robin */
    struct item *it = calloc(1, sizeof *it);
    it->fd = fd;
    it->client = next_client++;
    printf("accept thread: client %d -> worker %d\n", it->client, w->id);
    pthread_mutex_lock(&w->lock);
    STAILQ_INSERT_TAIL(&w->queue, it, next);
    pthread_mutex_unlock(&w->lock);
    if (write(w->notify[1], "c", 1) != 1) /* the memcached byte */
        perror("write notify pipe");
}
// [/dispatch]

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    printf("signal %d: stopping the workers and the accept loop\n", (int)sig);
    event_base_loopexit(arg, NULL);
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: dispatcher [--port N] [--workers N] [--sleep-ms N] [--busy-ms N] [--step] "
            "[--help]\n"
            "  --port N      listen on 127.0.0.1:N (0: any free port; default 9877)\n"
            "  --workers N   worker threads, each with its own event_base (1-%d, default 2)\n"
            "  --sleep-ms N  delay before each client is greeted, as a timer (default 0)\n"
            "  --busy-ms N   a worker blocks N ms after taking each client (default 0)\n"
            "  --step        pause before each step (also EVLAB_STEP=1)\n"
            "  --help        show this text\n",
            MAX_WORKERS);
}

static long parse_num(const char *s, const char *what, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "dispatcher: bad value for %s: '%s'\n", what, s);
        usage(stderr);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"sleep-ms", required_argument, NULL, 'S'},
                                         {"busy-ms", required_argument, NULL, 'B'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long port = 9877;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "p:w:S:B:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': port = parse_num(optarg, "--port", 0, 65535); break;
        case 'w': nworkers = (int)parse_num(optarg, "--workers", 1, MAX_WORKERS); break;
        case 'S': sleep_ms = parse_num(optarg, "--sleep-ms", 0, 600000); break;
        case 'B': busy_ms = parse_num(optarg, "--busy-ms", 0, 600000); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dispatcher: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    step("1. evthread_use_pthreads(), before any base exists");
    // [evthread]
    CHECK_OK(evthread_use_pthreads());
    // [/evthread]

    step("2. %d worker threads, one event_base each", nworkers);
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        w->id = i + 1;
        CHECK(w->base = event_base_new());
        CHECK_OK(pipe(w->notify));
        evutil_make_socket_nonblocking(w->notify[0]);
        pthread_mutex_init(&w->lock, NULL);
        STAILQ_INIT(&w->queue);
        LIST_INIT(&w->conns);
        w->notify_ev = event_new(w->base, w->notify[0], EV_READ | EV_PERSIST, notify_cb, w);
        CHECK_OK(event_add(w->notify_ev, NULL));
        printf("worker %d: base %p\n", w->id, (void *)w->base);
        CHECK_OK(-pthread_create(&w->thread, NULL, worker_main, w));
    }

    step("3. the accept thread: a listener on the main base");
    struct event_base *base;
    CHECK(base = event_base_new());
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l;
    CHECK(l = evconnlistener_new_bind(base, accept_cb, NULL,
                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
                                      (struct sockaddr *)&sin, sizeof sin));
    socklen_t len = sizeof sin;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &len);
    struct event *sigint = evsignal_new(base, SIGINT, stop_cb, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, stop_cb, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
    event_base_dispatch(base);

    step("4. stop: loopexit on each worker base (from this thread), join, free");
    evconnlistener_free(l);
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        event_base_loopexit(w->base, NULL); /* safe across threads: locking is on */
        pthread_join(w->thread, NULL);
        for (struct item *it; (it = STAILQ_FIRST(&w->queue));) {
            STAILQ_REMOVE_HEAD(&w->queue, next);
            close(it->fd);
            free(it);
        }
        event_free(w->notify_ev);
        close(w->notify[0]);
        close(w->notify[1]);
        pthread_mutex_destroy(&w->lock);
        event_base_free(w->base);
    }
    event_free(sigint);
    event_free(sigterm);
    event_base_free(base);
    libevent_global_shutdown();
    return 0;
}
