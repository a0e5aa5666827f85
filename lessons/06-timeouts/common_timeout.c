/* common_timeout.c -- many timers with the same duration: heap vs queue.
 *
 * Teaches: libevent keeps timers in a binary min-heap (minheap-internal.h),
 * and timers that are due at the same moment come out of it in no useful
 * order. event_base_init_common_timeout(base, &tv) returns a special timeval
 * (its tv_usec carries a marker); timers added with it go into one FIFO queue
 * per duration, and only the queue's head sits in the heap (event.c:
 * common_timeout_schedule). What this program shows is the ordering: timers
 * with equal deadlines fire in the order they were added. It makes no speed
 * claim: equal deadlines are the heap's best case, and here the heap is not
 * slower (lesson 16 is where speed is measured).
 *
 * Builds on: timers.c.
 *
 * Build and run on its own:
 *   cc -Wall -o common_timeout common_timeout.c $(pkg-config --cflags --libs libevent)
 *   ./common_timeout
 *   ./common_timeout --no-common
 */
#include <getopt.h>
#include <time.h>

#include "../lesson.h"

static struct event_base *base;
static struct event **timers;
static int count = 8, fired;
static bool use_common = true;
static const struct timeval *duration;

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    if (count <= 16)
        printf(" %d", (int)(intptr_t)arg);
    fired++;
}

/* Runs inside the loop: the cached time is the same for every event_add
 * below, so all the timers have exactly the same deadline. */
static void on_add_all(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    // [add]
    for (int i = 0; i < count; i++)
        if (evtimer_add(timers[i], duration) < 0)
            die("evtimer_add failed");
    // [/add]
    printf("added %d timers, all due at the same moment\n", count);
    if (count <= 16)
        printf("firing order:");
}

static void usage(FILE *to)
{
    fprintf(to, "usage: common_timeout [--no-common] [--count N] [--step] [--help]\n"
                "  --no-common  add the timers with a plain timeval (the heap)\n"
                "  --count N    how many timers (default 8; orders print up to 16)\n"
                "  --step       pause before each step (also EVLAB_STEP=1)\n"
                "  --help       show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"no-common", no_argument, NULL, 'n'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "nc:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': use_common = false; break;
        case 'c': count = (int)lesson_num(optarg, 1, 1000000, "--count"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "common_timeout: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");
    static const struct timeval plain = {0, 50 * 1000};

    step("1. the duration: %s", use_common ? "a common timeout" : "a plain timeval");
    // [common]
    if (use_common) {
        duration = event_base_init_common_timeout(base, &plain);
        if (duration == NULL)
            die("event_base_init_common_timeout failed");
    } else {
        duration = &plain;
    }
    // [/common]
    printf("timeval used: tv_sec=%ld tv_usec=0x%08lx (%s)\n", (long)duration->tv_sec,
           (long)duration->tv_usec,
           use_common ? "the high bits mark a common-timeout queue; the low 20 bits are 50000 us"
                      : "an ordinary 50000 us");

    step("2. add %d timers of 50 ms from one callback, then watch them fire", count);
    timers = calloc((size_t)count, sizeof *timers);
    if (timers == NULL)
        die("calloc failed");
    for (int i = 0; i < count; i++)
        if ((timers[i] = evtimer_new(base, on_timer, (void *)(intptr_t)i)) == NULL)
            die("evtimer_new failed");
    CHECK_OK(event_base_once(base, -1, EV_TIMEOUT, on_add_all, NULL, NULL));
    int rv = event_base_dispatch(base);
    if (count <= 16)
        printf("\n");
    printf("dispatch returned %d; %d timers fired\n", rv, fired);

    for (int i = 0; i < count; i++)
        event_free(timers[i]);
    free(timers);
    event_base_free(base);
    return 0;
}
