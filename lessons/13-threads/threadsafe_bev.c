/* threadsafe_bev.c -- several threads write into one bufferevent: BEV_OPT_THREADSAFE.
 *
 * Teaches: a bufferevent is not locked unless it is created with
 * BEV_OPT_THREADSAFE (and evthread_use_pthreads() ran first). With the
 * option, any thread may call bufferevent_write(): each call appends its
 * bytes as one piece under the bufferevent's lock, and the loop thread sends
 * them. Here T producer threads each write K lines into one end of a
 * socketpair; the loop thread reads the other end and checks that every line
 * arrived whole and that each thread's lines kept their order. (Without the
 * option the same program would race inside libevent; we do not run that.)
 *
 * Builds on: active_from_thread.c, lesson 09 (evbuffer_readln).
 *
 * Build and run on its own:
 *   cc -Wall -o threadsafe_bev threadsafe_bev.c $(pkg-config --cflags --libs libevent libevent_pthreads)
 *   ./threadsafe_bev --threads 4 --lines 1000
 */
#include <getopt.h>
#include <pthread.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/thread.h>

#include "../lesson.h"

#define MAX_THREADS 16

static struct bufferevent *writer, *reader;
static int nthreads = 4, nlines = 1000, received, bad;
static int last_seen[MAX_THREADS];

// [producer]
static void *producer_main(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int k = 1; k <= nlines; k++) {
        char line[64];
        int n = snprintf(line, sizeof line, "thread %d line %d\n", t, k);
        bufferevent_write(writer, line, (size_t)n); /* locked: BEV_OPT_THREADSAFE */
    }
    return NULL;
}
// [/producer]

static void read_cb(struct bufferevent *bev, void *arg)
{
    (void)arg;
    char *line;
    while ((line = evbuffer_readln(bufferevent_get_input(bev), NULL, EVBUFFER_EOL_LF))) {
        int t, k;
        char extra;
        if (sscanf(line, "thread %d line %d%c", &t, &k, &extra) != 2 || t < 1 || t > nthreads ||
            k != last_seen[t - 1] + 1) {
            if (bad++ < 5)
                printf("loop thread: bad line '%s'\n", line);
        } else {
            last_seen[t - 1] = k;
        }
        free(line);
        if (++received == nthreads * nlines)
            event_base_loopexit(bufferevent_get_base(bev), NULL);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"threads", required_argument, NULL, 't'},
                                         {"lines", required_argument, NULL, 'l'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *use = "usage: threadsafe_bev [--threads N] [--lines N] [--step] [--help]\n"
                      "  --threads N  producer threads (1-16, default 4)\n"
                      "  --lines N    lines per thread (default 1000)\n";
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "t:l:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 't': nthreads = atoi(optarg); break;
        case 'l': nlines = atoi(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': fputs(use, stdout); return 0;
        default: fputs(use, stderr); return 2;
        }
    }
    if (optind < argc || nthreads < 1 || nthreads > MAX_THREADS || nlines < 1 || nlines > 1000000) {
        fprintf(stderr, "threadsafe_bev: bad arguments\n");
        fputs(use, stderr);
        return 2;
    }

    step("1. evthread_use_pthreads(), a base, a socketpair, two bufferevents");
    CHECK_OK(evthread_use_pthreads());
    struct event_base *base;
    CHECK(base = event_base_new());
    evutil_socket_t sv[2];
    CHECK_OK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    // [threadsafe]
    writer = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE | BEV_OPT_THREADSAFE);
    // [/threadsafe]
    reader = bufferevent_socket_new(base, sv[1], BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(reader, read_cb, NULL, NULL, NULL);
    bufferevent_enable(reader, EV_READ);

    step("2. %d threads write %d lines each into the writer; the loop reads", nthreads, nlines);
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < nthreads; i++)
        CHECK_OK(-pthread_create(&th[i], NULL, producer_main, (void *)(intptr_t)(i + 1)));
    event_base_dispatch(base);
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    printf("loop thread: received %d lines, %d bad: %s\n", received, bad,
           bad ? "lines were torn or reordered" : "every line whole, each thread's lines in order");

    step("3. free everything");
    bufferevent_free(writer);
    bufferevent_free(reader);
    event_base_free(base);
    libevent_global_shutdown();
    return bad ? 1 : 0;
}
