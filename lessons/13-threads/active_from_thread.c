/* active_from_thread.c -- a worker thread reports back to the loop with event_active().
 *
 * Teaches: a thread that finishes a job can wake the loop with
 * event_active(ev, ...) -- but only if evthread_use_pthreads() ran before the
 * base was created. That call gives every base a lock and a notification fd;
 * without it, event_active() from another thread queues the callback but
 * nothing wakes the loop, which sleeps on until its next timeout. Run with
 * --no-evthread to watch that happen: the program measures the delay and
 * explains it. (It does not race the loop: the loop is asleep in its
 * backend the whole time the worker touches the base, so memory stays sound;
 * any real program without locking would not be so lucky.)
 *
 * Builds on: lesson 12 (long work off the loop), lesson 06 (timers).
 *
 * Build and run on its own:
 *   cc -Wall -o active_from_thread active_from_thread.c $(pkg-config --cflags --libs libevent libevent_pthreads)
 *   ./active_from_thread
 *   ./active_from_thread --no-evthread
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <event2/thread.h>

#include "../lesson.h"

static struct event_base *base;
static struct event *done_ev;
static long job_ms = 100, timeout_ms = 2000;
static atomic_long result;       /* the job's answer, written by the worker */
static atomic_long activated_at; /* ms on the monotonic clock */
static pthread_mutex_t go_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static bool go;

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// [worker]
static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&go_lock); /* wait until the loop runs */
    while (!go)
        pthread_cond_wait(&go_cond, &go_lock);
    pthread_mutex_unlock(&go_lock);
    usleep(job_ms * 1000); /* the slow job, off the loop */
    atomic_store(&result, 42);
    atomic_store(&activated_at, mono_ms());
    printf("worker: job done, event_active() from the worker thread\n");
    event_active(done_ev, EV_READ, 0); /* "run on_done in the loop thread" */
    return NULL;
}
// [/worker]

static void on_loop_started(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    printf("loop: running; the worker starts its %ld ms job\n", job_ms);
    pthread_mutex_lock(&go_lock);
    go = true;
    pthread_cond_signal(&go_cond);
    pthread_mutex_unlock(&go_lock);
}

// [done]
static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    bool locking = *(bool *)arg;
    long delay = mono_ms() - atomic_load(&activated_at);
    printf("loop: on_done ran with result %ld, %ld ms after event_active()\n", atomic_load(&result),
           delay);
    if (delay < timeout_ms / 2)
        printf("=> event_active() woke the loop at once: %s\n",
               locking ? "evthread_use_pthreads() made the base notifiable"
                       : "(unexpected without locking)");
    else
        printf("=> the loop slept through event_active() until its own timeout:\n"
               "   without evthread_use_pthreads() the base has no lock and no\n"
               "   notification fd, so another thread cannot wake it.\n");
    if (event_base_loopexit(base, NULL) != 0)
        die("event_base_loopexit() failed");
}
// [/done]

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    printf("loop: woke up for its %ld ms timeout\n", timeout_ms);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: active_from_thread [--no-evthread] [--job-ms N] [--timeout-ms N] [--step] "
                "[--help]\n"
                "  --no-evthread   skip evthread_use_pthreads() (watch the loop oversleep)\n"
                "  --job-ms N      how long the worker's job takes (1-600000, default 100)\n"
                "  --timeout-ms N  the loop's own timer, its only other reason to wake\n"
                "                  (1-600000, default 2000)\n"
                "  --step          pause before each step (also EVLAB_STEP=1)\n"
                "  --help          show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"no-evthread", no_argument, NULL, 'n'},
                                         {"job-ms", required_argument, NULL, 'j'},
                                         {"timeout-ms", required_argument, NULL, 't'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool locking = true;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "nj:t:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': locking = false; break;
        case 'j': job_ms = lesson_num(optarg, 1, 600000, "--job-ms"); break;
        case 't': timeout_ms = lesson_num(optarg, 1, 600000, "--timeout-ms"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "active_from_thread: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. %s", locking ? "evthread_use_pthreads() before any base"
                          : "no evthread_use_pthreads() (--no-evthread)");
    // [setup]
    if (locking && evthread_use_pthreads() != 0)
        die("evthread_use_pthreads() failed");
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    done_ev = event_new(base, -1, 0, on_done, &locking); /* never added: only activated */
    if (!done_ev)
        die("event_new() failed");
    // [/setup]
    struct event *tmo = evtimer_new(base, on_timeout, NULL);
    struct timeval tv = {timeout_ms / 1000, timeout_ms % 1000 * 1000}, zero = {0, 0};
    if (!tmo)
        die("evtimer_new() failed");

    step("2. a worker thread does the job and calls event_active()");
    /* Armed only now, so that time spent at a --step prompt does not count. */
    if (evtimer_add(tmo, &tv) != 0)
        die("evtimer_add() failed");
    if (event_base_once(base, -1, EV_TIMEOUT, on_loop_started, NULL, &zero) != 0)
        die("event_base_once() failed");
    pthread_t th;
    CHECK_OK(-pthread_create(&th, NULL, worker_main, NULL));
    event_base_dispatch(base);
    pthread_join(th, NULL);

    step("3. free everything");
    event_free(tmo);
    event_free(done_ev);
    event_base_free(base);
    if (locking)
        libevent_global_shutdown();
    return 0;
}
