/* dispatcher.c -- the memcached pattern: one accept thread, N worker threads, one event_base each.
 *
 * Teaches: a base belongs to the thread that runs its loop. The main thread
 * only accepts; each new connection goes, round-robin, to a worker thread
 * through that worker's locked queue plus one byte on its notify pipe
 * (memcached's dispatch thread writes it to the worker's notify_send_fd; the
 * worker listens on notify_receive_fd). The byte wakes the worker's loop; if
 * the worker is busy, the bytes simply wait in the pipe and the
 * level-triggered read event fires once per byte when the worker is back in
 * its loop. From then on the connection lives only in that worker's base.
 *
 * --notify active swaps the pipe for event_active() on a worker event. That
 * is NOT a drop-in swap: activations of an event that is already active
 * merge into one callback (event.c, event_active_nolock_), so a worker that
 * takes one connection per wake-up strands the rest on its queue. --drain
 * takes every queued connection per wake-up, which works with both.
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
    struct event *notify_ev; /* read event on notify[0], or the event_active() target */
    pthread_mutex_t lock;    /* protects queue */
    STAILQ_HEAD(, item) queue;
    LIST_HEAD(, conn) conns;
};

static struct worker workers[MAX_WORKERS];
static int nworkers = 2, next_client = 1, next_worker;
static long sleep_ms, busy_ms;
static bool use_active, drain; /* --notify active, --drain */

static void conn_free(struct conn *c)
{
    printf("worker %d: client %d closed\n", c->w->id, c->client);
    LIST_REMOVE(c, link);
    if (c->delay)
        event_free(c->delay);
    bufferevent_free(c->bev);
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
    conn_free(arg);
}

static void on_greet(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd, (void)what;
    evbuffer_add_printf(bufferevent_get_output(c->bev), "worker %d serves client %d\n", c->w->id,
                        c->client);
}

static void serve(struct worker *w, struct item *it);

// [take]
/* Runs in the worker thread when the notify pipe is readable (or when the
 * accept thread called event_active() on notify_ev, with --notify active). */
static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    char byte;
    (void)what;
    if (!use_active && read(fd, &byte, 1) != 1) /* one byte per handed-over connection */
        return;
    do { /* one item per wake-up; all of them with --drain */
        pthread_mutex_lock(&w->lock);
        struct item *it = STAILQ_FIRST(&w->queue);
        if (it)
            STAILQ_REMOVE_HEAD(&w->queue, next);
        pthread_mutex_unlock(&w->lock);
        if (!it)
            return;
        serve(w, it);
    } while (drain);
}
// [/take]

/* The worker owns the connection from here on. */
static void serve(struct worker *w, struct item *it)
{
    // [take_conn]
    printf("worker %d took client %d\n", w->id, it->client);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "calloc() failed: dropping client %d\n", it->client);
        close(it->fd);
        free(it);
        return;
    }
    c->client = it->client;
    c->w = w;
    c->bev = bufferevent_socket_new(w->base, it->fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        fprintf(stderr, "bufferevent_socket_new() failed: dropping client %d\n", it->client);
        close(it->fd);
        free(it);
        free(c);
        return;
    }
    free(it);
    LIST_INSERT_HEAD(&w->conns, c, link);
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_enable(c->bev, EV_READ);
    struct timeval wait = {sleep_ms / 1000, sleep_ms % 1000 * 1000};
    c->delay = evtimer_new(w->base, on_greet, c);
    if (!c->delay || evtimer_add(c->delay, &wait) != 0) { /* lesson 12's fix: wait with a timer */
        fprintf(stderr, "evtimer_new()/evtimer_add() failed: dropping client %d\n", c->client);
        conn_free(c);
        return;
    }
    if (busy_ms) { /* --busy-ms: this worker blocks (lesson 12's bug, on purpose) */
        printf("worker %d: busy for %ld ms\n", w->id, busy_ms);
        usleep(busy_ms * 1000);
    }
}
// [/take_conn]

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    /* Only this thread runs w->base. With --notify active nothing is pending
     * in it until a client comes, so it must not return when empty. */
    event_base_loop(w->base, use_active ? EVLOOP_NO_EXIT_ON_EMPTY : 0);
    while (!LIST_EMPTY(&w->conns))
        conn_free(LIST_FIRST(&w->conns));
    return NULL;
}

// [dispatch]
/* Runs in the accept (main) thread: pick a worker, queue, wake it. */
static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)l, (void)sa, (void)len, (void)arg;
    struct worker *w = &workers[next_worker];
    next_worker = (next_worker + 1) % nworkers; /* round-robin */
    struct item *it = calloc(1, sizeof *it);
    if (!it) {
        fprintf(stderr, "calloc() failed: refusing a connection\n");
        evutil_closesocket(fd);
        return;
    }
    it->fd = fd;
    it->client = next_client++;
    printf("accept thread: client %d -> worker %d\n", it->client, w->id);
    pthread_mutex_lock(&w->lock);
    STAILQ_INSERT_TAIL(&w->queue, it, next);
    pthread_mutex_unlock(&w->lock);
    if (use_active)
        event_active(w->notify_ev, EV_READ, 0); /* merges with a pending activation */
    else if (write(w->notify[1], "c", 1) != 1)  /* the memcached byte */
        perror("write notify pipe");
}
// [/dispatch]

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    printf("signal %d: stopping the workers and the accept loop\n", (int)sig);
    if (event_base_loopexit(arg, NULL) != 0)
        die("event_base_loopexit() failed");
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: dispatcher [--port N] [--workers N] [--sleep-ms N] [--busy-ms N]\n"
            "                  [--notify pipe|active] [--drain] [--step] [--help]\n"
            "  --port N      listen on 127.0.0.1:N (0: any free port; default 9877)\n"
            "  --workers N   worker threads, each with its own event_base (1-%d, default 2)\n"
            "  --sleep-ms N  delay before each client is greeted, as a timer (default 0)\n"
            "  --busy-ms N   a worker blocks N ms after taking each client (default 0)\n"
            "  --notify H    wake a worker with a pipe byte (pipe, default) or with\n"
            "                event_active() (active: activations merge, see --drain)\n"
            "  --drain       a worker takes every queued client per wake-up, not one\n"
            "  --step        pause before each step (also EVLAB_STEP=1)\n"
            "  --help        show this text\n",
            MAX_WORKERS);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"sleep-ms", required_argument, NULL, 'S'},
                                         {"busy-ms", required_argument, NULL, 'B'},
                                         {"notify", required_argument, NULL, 'n'},
                                         {"drain", no_argument, NULL, 'd'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long port = 9877;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "p:w:S:B:n:dsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': port = lesson_num(optarg, 0, 65535, "--port"); break;
        case 'w': nworkers = (int)lesson_num(optarg, 1, MAX_WORKERS, "--workers"); break;
        case 'S': sleep_ms = lesson_num(optarg, 0, 600000, "--sleep-ms"); break;
        case 'B': busy_ms = lesson_num(optarg, 0, 600000, "--busy-ms"); break;
        case 'n':
            if (strcmp(optarg, "pipe") != 0 && strcmp(optarg, "active") != 0) {
                fprintf(stderr, "error: --notify wants pipe or active, not '%s'\n", optarg);
                return 2;
            }
            use_active = strcmp(optarg, "active") == 0;
            break;
        case 'd': drain = true; break;
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
    if (evthread_use_pthreads() != 0)
        die("evthread_use_pthreads() failed");
    // [/evthread]

    step("2. %d worker threads, one event_base each, woken by %s%s", nworkers,
         use_active ? "event_active()" : "a notify pipe",
         drain ? ", taking every queued client per wake-up" : ", one client per wake-up");
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        w->id = i + 1;
        w->base = event_base_new();
        if (!w->base)
            die("event_base_new() failed");
        CHECK_OK(pipe(w->notify));
        evutil_make_socket_nonblocking(w->notify[0]);
        pthread_mutex_init(&w->lock, NULL);
        STAILQ_INIT(&w->queue);
        LIST_INIT(&w->conns);
        if (use_active) { /* never added: only event_active() runs it */
            w->notify_ev = event_new(w->base, -1, 0, on_notify, w);
            if (!w->notify_ev)
                die("event_new() failed");
        } else {
            w->notify_ev = event_new(w->base, w->notify[0], EV_READ | EV_PERSIST, on_notify, w);
            if (!w->notify_ev)
                die("event_new() failed");
            if (event_add(w->notify_ev, NULL) != 0)
                die("event_add(notify_ev) failed");
        }
        printf("worker %d: base %p\n", w->id, (void *)w->base);
        CHECK_OK(-pthread_create(&w->thread, NULL, worker_main, w));
    }

    step("3. the accept thread: a listener on the main base");
    struct event_base *base;
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l;
    l = evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                64, (struct sockaddr *)&sin, sizeof sin);
    if (!l)
        die("evconnlistener_new_bind() failed");
    socklen_t len = sizeof sin;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &len);
    struct event *sigint = evsignal_new(base, SIGINT, on_stop, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_stop, base);
    if (!sigint || !sigterm || event_add(sigint, NULL) != 0 || event_add(sigterm, NULL) != 0)
        die("evsignal_new()/event_add() failed for SIGINT/SIGTERM");
    printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
    event_base_dispatch(base);

    step("4. stop: loopexit on each worker base (from this thread), join, free");
    evconnlistener_free(l);
    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        if (event_base_loopexit(w->base, NULL) != 0) /* safe across threads: locking is on */
            die("event_base_loopexit() failed for worker %d", w->id);
        pthread_join(w->thread, NULL);
        for (struct item *it; (it = STAILQ_FIRST(&w->queue));) {
            STAILQ_REMOVE_HEAD(&w->queue, next);
            printf("worker %d: client %d was never taken off the queue\n", w->id, it->client);
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
