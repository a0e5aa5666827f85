/* one_loop_per_base.c -- only one thread at a time may run a base's loop.
 *
 * Teaches: the lecture's rule "only one thread may dispatch a base", across
 * threads (lesson 12's two_bases.c shows the same thing inside one thread).
 * Thread L runs event_base_dispatch(base). While it runs, the main thread
 * calls event_base_dispatch() on the same base: libevent refuses it at once,
 * returns -1 and logs "reentrant invocation. Only one event_base_loop can run
 * on each event_base at once." (event.c, event_base_loop checks
 * base->running_loop under the base lock). Other calls from other threads --
 * event_active(), event_base_loopexit() -- are fine once locking is on.
 *
 * Builds on: active_from_thread.c (evthread_use_pthreads).
 *
 * Build and run on its own:
 *   cc -Wall -o one_loop_per_base one_loop_per_base.c $(pkg-config --cflags --libs libevent libevent_pthreads)
 *   ./one_loop_per_base
 */
#include <getopt.h>
#include <pthread.h>

#include <event2/thread.h>

#include "../lesson.h"

static struct event_base *base;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ticked = PTHREAD_COND_INITIALIZER;
static int ticks;

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    pthread_mutex_lock(&lock);
    ticks++;
    pthread_cond_signal(&ticked);
    pthread_mutex_unlock(&lock);
}

static void *loop_main(void *arg)
{
    (void)arg;
    int rc = event_base_dispatch(base);
    printf("thread L: its event_base_dispatch() returned %d\n", rc);
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"step", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *use = "usage: one_loop_per_base [--step] [--help]\n";
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "sh", opts, NULL)) != -1;) {
        switch (c) {
        case 's': lesson_stepping = true; break;
        case 'h': fputs(use, stdout); return 0;
        default: fputs(use, stderr); return 2;
        }
    }
    if (optind < argc) {
        fputs(use, stderr);
        return 2;
    }

    step("1. locking on, one base with a 20 ms persistent timer");
    if (evthread_use_pthreads() != 0)
        die("evthread_use_pthreads() failed");
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    if (!tick)
        die("event_new() failed");
    struct timeval every = {0, 20000};
    if (event_add(tick, &every) != 0)
        die("event_add() failed");

    step("2. thread L runs the loop; once it has ticked, the main thread dispatches too");
    pthread_t th;
    CHECK_OK(-pthread_create(&th, NULL, loop_main, NULL));
    pthread_mutex_lock(&lock);
    while (ticks < 1) /* the loop is certainly running now */
        pthread_cond_wait(&ticked, &lock);
    pthread_mutex_unlock(&lock);
    // [second]
    int rc = event_base_dispatch(base); /* a second loop on the same base */
    printf("main thread: event_base_dispatch() on the same base returned %d%s\n", rc,
           rc == -1 ? ": refused, thread L's loop is running" : "");
    // [/second]

    step("3. the main thread stops thread L's loop (allowed across threads)");
    if (event_base_loopexit(base, NULL) != 0)
        die("event_base_loopexit() failed");
    pthread_join(th, NULL);
    event_free(tick);
    event_base_free(base);
    libevent_global_shutdown();
    return rc == -1 ? 0 : 1;
}
