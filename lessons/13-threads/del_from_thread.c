/* del_from_thread.c -- stopping an event from another thread while its callback runs.
 *
 * Teaches: with locking on (evthread_use_pthreads), event_del() from a thread
 * that is not running the loop waits until a callback of that event that is
 * running right now has returned. That makes "event_del, then free the
 * callback's argument" safe, but the deleting thread blocks, and if it holds
 * a lock the callback wants, both wait forever.
 *
 * Two ways not to wait, which are easy to mix up (event.c, event_del_nolock_
 * and event_finalize_nolock_ in libevent 2.1.12):
 *   - EV_FINALIZE on the event makes a plain event_del() return at once, even
 *     while the callback runs. Then freeing the argument right after
 *     event_del() is a use-after-free: --ev-finalize shows it, in a forked
 *     child, with the argument on its own mmap()ed page so that the
 *     callback's next touch faults instead of silently corrupting memory.
 *   - event_free_finalize() never waits, with or without EV_FINALIZE (it
 *     always deletes with EVENT_DEL_NOBLOCK); its finalizer runs later in the
 *     loop thread, after the callback -- the one safe place to free the
 *     argument. --finalize uses it on an event made WITHOUT EV_FINALIZE.
 *
 * Builds on: active_from_thread.c (evthread_use_pthreads), lesson 03.
 *
 * Build and run on its own:
 *   cc -Wall -o del_from_thread del_from_thread.c $(pkg-config --cflags --libs libevent libevent_pthreads)
 *   ./del_from_thread
 *   ./del_from_thread --ev-finalize
 *   ./del_from_thread --finalize
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
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
static bool finalize, ev_finalize;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started = PTHREAD_COND_INITIALIZER;
static bool callback_started;

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The job lives on a page of its own, so that "free" (munmap) makes every
 * later touch fault at once: a use-after-free you can see. */
static struct job *job_new(void)
{
    void *p =
        mmap(NULL, sizeof(struct job), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap() failed: %s", strerror(errno));
    return p; /* zero-filled */
}

static void job_free(struct job *job) { munmap(job, sizeof *job); }

static void on_work(evutil_socket_t fd, short what, void *arg)
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
    printf("loop thread: callback touches its job again\n");
    atomic_store(&job->in_callback, false); /* faults if the job was freed meanwhile */
    printf("loop thread: callback returns\n");
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
    job_free(job);
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
    int rc;
    if (finalize)
        rc = event_free_finalize(0, ev, finalizer); /* never blocks, EV_FINALIZE or not */
    else
        rc = event_del(ev); /* blocks while the callback runs, unless EV_FINALIZE */
    if (rc != 0)
        die("%s failed", finalize ? "event_free_finalize()" : "event_del()");
    // [/stop]
    long waited = mono_ms() - t;
    printf("other thread: %s returned after %ld ms%s\n",
           finalize ? "event_free_finalize()" : "event_del()", waited,
           waited >= work_ms / 2 ? " (it waited for the running callback)" : " (at once)");
    if (!finalize) {
        printf(
            "other thread: callback still running: %s; runs: %d; freeing the job and the event\n",
            atomic_load(&job->in_callback) ? "yes" : "no", atomic_load(&job->runs));
        job_free(job); /* with EV_FINALIZE the callback is still using it */
        event_free(ev);
    }
    return NULL;
}

static int demo(void)
{
    step("1. locking on, a persistent 50 ms timer %s EV_FINALIZE",
         ev_finalize ? "with" : "without");
    if (evthread_use_pthreads() != 0)
        die("evthread_use_pthreads() failed");
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    struct job *job = job_new();
    ev = event_new(base, -1, EV_PERSIST | (ev_finalize ? EV_FINALIZE : 0), on_work, job);
    if (!ev)
        die("event_new() failed");
    struct timeval every = {0, 50000};
    if (event_add(ev, &every) != 0)
        die("event_add() failed");
    loop_thread = pthread_self();

    step("2. another thread stops the event with %s while its callback runs",
         finalize ? "event_free_finalize()" : "event_del()");
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

static void usage(FILE *to)
{
    fprintf(to, "usage: del_from_thread [--ev-finalize] [--finalize] [--work-ms N] [--step] "
                "[--help]\n"
                "  --ev-finalize  make the event with EV_FINALIZE: event_del() no longer waits\n"
                "                 (the run that then frees the job is done in a forked child)\n"
                "  --finalize     stop it with event_free_finalize() instead of event_del()\n"
                "  --work-ms N    how long each callback works (10-10000, default 300)\n"
                "  --step         pause before each step (also EVLAB_STEP=1)\n"
                "  --help         show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ev-finalize", no_argument, NULL, 'E'},   {"finalize", no_argument, NULL, 'f'},
        {"work-ms", required_argument, NULL, 'w'}, {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "Efw:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'E': ev_finalize = true; break;
        case 'f': finalize = true; break;
        case 'w': work_ms = lesson_num(optarg, 10, 10000, "--work-ms"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (!ev_finalize || finalize)
        return demo();

    /* EV_FINALIZE + event_del() + free: a use-after-free. Run it in a child
     * (forked before any thread exists) and report how the child ended. */
    printf("EV_FINALIZE, then event_del() and free while the callback runs: in a child process\n");
    pid_t pid = fork();
    if (pid < 0)
        die("fork() failed: %s", strerror(errno));
    if (pid == 0)
        _exit(demo());
    int st;
    if (waitpid(pid, &st, 0) < 0)
        die("waitpid() failed: %s", strerror(errno));
    if (WIFSIGNALED(st))
        printf("parent: the child was killed by signal %d (%s): the callback touched the freed "
               "job\n",
               WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        printf("parent: the child exited with status %d%s\n", WEXITSTATUS(st),
               WEXITSTATUS(st) ? " (a sanitizer caught the use-after-free)" : "");
    return 0;
}
