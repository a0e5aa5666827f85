/* del_from_thread.c -- stopping an event from another thread while its callback runs.
 *
 * Teaches: with locking on (evthread_use_pthreads), event_del() from a thread
 * that is not running the loop waits until a callback of that event that is
 * running right now has returned. That makes "event_del, then free the
 * callback's argument" safe, but the deleting thread blocks, and if it holds
 * a lock the callback wants, both wait forever. An event made with
 * EV_FINALIZE and freed with event_free_finalize() never blocks: the call
 * returns at once, and the finalizer runs later in the loop thread, after the
 * callback -- the one safe place to free the argument.
 *
 * Builds on: active_from_thread.c (evthread_use_pthreads), lesson 03.
 *
 * Build and run on its own:
 *   cc -Wall -o del_from_thread del_from_thread.c $(pkg-config --cflags --libs libevent libevent_pthreads)
 *   ./del_from_thread
 *   ./del_from_thread --finalize
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <event2/thread.h>

#include "../lesson.h"

struct job { /* the callback's argument */
    atomic_int runs;
    atomic_bool in_callback;
};

static struct event_base *base;
static struct event *ev;
static pthread_t loop_thread;
static long work_ms = 300;
static bool finalize;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started = PTHREAD_COND_INITIALIZER;
static bool callback_started;

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void work_cb(evutil_socket_t fd, short what, void *arg)
{
    struct job *job = arg;
    (void)fd, (void)what;
    atomic_store(&job->in_callback, true);
    printf("loop thread: callback run %d starts its %ld ms of work\n",
           atomic_fetch_add(&job->runs, 1) + 1, work_ms);
    pthread_mutex_lock(&lock);
    callback_started = true;
    pthread_cond_signal(&started);
    pthread_mutex_unlock(&lock);
    usleep(work_ms * 1000);
    printf("loop thread: callback returns\n");
    atomic_store(&job->in_callback, false);
}

// [finalizer]
static void finalizer(struct event *e, void *arg)
{
    struct job *job = arg;
    (void)e;
    printf("finalizer: in the loop thread: %s; callback still running: %s; runs: %d; freeing the "
           "job\n",
           pthread_equal(pthread_self(), loop_thread) ? "yes" : "no",
           atomic_load(&job->in_callback) ? "yes" : "no", atomic_load(&job->runs));
    free(job);
}
// [/finalizer]

static void *stopper_main(void *arg)
{
    struct job *job = arg;
    pthread_mutex_lock(&lock); /* wait until the callback is running */
    while (!callback_started)
        pthread_cond_wait(&started, &lock);
    pthread_mutex_unlock(&lock);
    long t = mono_ms();
    // [stop]
    if (finalize) {
        event_free_finalize(0, ev, finalizer); /* never blocks */
    } else {
        event_del(ev); /* blocks while the callback runs */
    }
    // [/stop]
    long waited = mono_ms() - t;
    printf("other thread: %s returned after %ld ms%s\n",
           finalize ? "event_free_finalize()" : "event_del()", waited,
           waited >= work_ms / 2 ? " (it waited for the running callback)" : " (at once)");
    if (!finalize) {
        printf(
            "other thread: callback still running: %s; runs: %d; freeing the job and the event\n",
            atomic_load(&job->in_callback) ? "yes" : "no", atomic_load(&job->runs));
        free(job);
        event_free(ev);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"finalize", no_argument, NULL, 'f'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "fsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'f': finalize = true; break;
        case 's': lesson_stepping = true; break;
        case 'h':
            printf("usage: del_from_thread [--finalize] [--step] [--help]\n"
                   "  --finalize  EV_FINALIZE + event_free_finalize() instead of event_del()\n");
            return 0;
        default:
            fprintf(stderr, "usage: del_from_thread [--finalize] [--step] [--help]\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "usage: del_from_thread [--finalize] [--step] [--help]\n");
        return 2;
    }

    step("1. locking on, a persistent 50 ms timer%s", finalize ? " with EV_FINALIZE" : "");
    CHECK_OK(evthread_use_pthreads());
    CHECK(base = event_base_new());
    struct job *job = calloc(1, sizeof *job);
    ev = event_new(base, -1, EV_PERSIST | (finalize ? EV_FINALIZE : 0), work_cb, job);
    struct timeval every = {0, 50000};
    event_add(ev, &every);
    loop_thread = pthread_self();

    step("2. another thread stops the event while its callback runs");
    pthread_t th;
    CHECK_OK(-pthread_create(&th, NULL, stopper_main, job));
    int rc = event_base_dispatch(base);
    pthread_join(th, NULL);
    printf("loop returned %d: no events left\n", rc);

    step("3. free the base");
    event_base_free(base);
    libevent_global_shutdown();
    return 0;
}
