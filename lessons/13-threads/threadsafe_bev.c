/* threadsafe_bev.c -- several threads write into one bufferevent: BEV_OPT_THREADSAFE.
 *
 * Teaches: a bufferevent is not locked unless it is created with
 * BEV_OPT_THREADSAFE (and evthread_use_pthreads() ran first). With the
 * option, any thread may call bufferevent_write(): each call appends its
 * bytes as one piece under the bufferevent's lock, and the loop thread sends
 * them. Here T producer threads each write K lines into one end of a
 * socketpair; the loop thread reads the other end and checks that every line
 * arrived whole and that each thread's lines kept their order.
 *
 * --no-threadsafe makes the writer without the option and runs the same
 * program in a forked child: the threads then race inside libevent's
 * evbuffer code, and the child usually crashes, hangs or loses lines (the
 * parent says which; a 10 s alarm ends a hang). It is a race, so a single
 * run may get lucky -- run it a few times.
 *
 * Builds on: active_from_thread.c, lesson 09 (evbuffer_readln).
 *
 * Build and run on its own:
 *   cc -Wall -o threadsafe_bev threadsafe_bev.c $(pkg-config --cflags --libs libevent libevent_pthreads)
 *   ./threadsafe_bev --threads 4 --lines 1000
 *   ./threadsafe_bev --no-threadsafe
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/thread.h>

#include "../lesson.h"

#define MAX_THREADS 16

static struct bufferevent *writer, *reader;
static int nthreads = 4, nlines = 1000, received, bad;
static int last_seen[MAX_THREADS];
static bool threadsafe = true;

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

static void on_read(struct bufferevent *bev, void *arg)
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
            if (event_base_loopexit(bufferevent_get_base(bev), NULL) != 0)
                die("event_base_loopexit() failed");
    }
}

static struct bufferevent *new_bev(struct event_base *base, evutil_socket_t fd, int options)
{
    struct bufferevent *bev = bufferevent_socket_new(base, fd, options);
    if (!bev)
        die("bufferevent_socket_new() failed");
    return bev;
}

static int demo(void)
{
    step("1. evthread_use_pthreads(), a base, a socketpair, two bufferevents");
    if (evthread_use_pthreads() != 0)
        die("evthread_use_pthreads() failed");
    struct event_base *base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    evutil_socket_t sv[2];
    CHECK_OK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK_OK(evutil_make_socket_nonblocking(sv[0]));
    CHECK_OK(evutil_make_socket_nonblocking(sv[1]));
    // [threadsafe]
    writer = new_bev(base, sv[0], BEV_OPT_CLOSE_ON_FREE | (threadsafe ? BEV_OPT_THREADSAFE : 0));
    // [/threadsafe]
    reader = new_bev(base, sv[1], BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(reader, on_read, NULL, NULL, NULL);
    if (bufferevent_enable(reader, EV_READ) != 0)
        die("bufferevent_enable() failed");

    step("2. %d threads write %d lines each into the writer (%s); the loop reads", nthreads, nlines,
         threadsafe ? "BEV_OPT_THREADSAFE" : "no lock");
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

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"threads", required_argument, NULL, 't'}, {"lines", required_argument, NULL, 'l'},
        {"no-threadsafe", no_argument, NULL, 'n'}, {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *use = "usage: threadsafe_bev [--threads N] [--lines N] [--step] [--help]\n"
                      "  --threads N  producer threads (1-16, default 4)\n"
                      "  --lines N    lines per thread (1-1000000, default 1000)\n"
                      "  --no-threadsafe  no BEV_OPT_THREADSAFE, in a forked child: a race\n";
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "t:l:nsh", opts, NULL)) != -1;) {
        switch (c) {
        case 't': nthreads = (int)lesson_num(optarg, 1, MAX_THREADS, "--threads"); break;
        case 'l': nlines = (int)lesson_num(optarg, 1, 1000000, "--lines"); break;
        case 'n': threadsafe = false; break;
        case 's': lesson_stepping = true; break;
        case 'h': fputs(use, stdout); return 0;
        default: fputs(use, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "threadsafe_bev: bad arguments\n");
        fputs(use, stderr);
        return 2;
    }

    if (threadsafe)
        return demo();

    /* Without the lock the threads race inside libevent: in a child, which
     * the parent watches. Forked before any thread exists. */
    printf("without BEV_OPT_THREADSAFE: the same program in a child process\n");
    pid_t pid = fork();
    if (pid < 0)
        die("fork() failed: %s", strerror(errno));
    if (pid == 0) {
        alarm(10); /* a hang ends as SIGALRM */
        _exit(demo());
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        die("waitpid() failed: %s", strerror(errno));
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
        printf("parent: the child hung and was ended by its 10 s alarm\n");
    else if (WIFSIGNALED(st))
        printf("parent: the child crashed: signal %d (%s)\n", WTERMSIG(st),
               strsignal(WTERMSIG(st)));
    else if (WEXITSTATUS(st) != 0)
        printf("parent: the child exited with status %d: lines were lost or torn, or a sanitizer "
               "saw the race\n",
               WEXITSTATUS(st));
    else
        printf("parent: the child got lucky this time: no crash, every line whole\n");
    return 0;
}
