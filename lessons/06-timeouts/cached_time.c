/* cached_time.c -- the loop's cached clock, and EVENT_PRECISE_TIMER.
 *
 * Teaches: while callbacks run, libevent reads the clock once per loop pass
 * and caches it. event_base_gettimeofday_cached() returns that cached time
 * (cheap, but it does not move during a slow callback); gettimeofday() moves;
 * event_base_update_cache_time() refreshes the cache. Outside the loop there
 * is no cache and the call reads the real clock. Timers use a monotonic clock:
 * CLOCK_MONOTONIC_COARSE by default (a few ms resolution), CLOCK_MONOTONIC
 * with EVENT_PRECISE_TIMER (set to anything) or EVENT_BASE_FLAG_PRECISE_TIMER
 * (event_base_new_with_config in event.c; evutil_configure_monotonic_time_
 * in evutil_time.c); the epoll backend then also opens a timerfd for
 * sub-millisecond waits. The program prints the resolution of the clock the
 * base really uses.
 *
 * Builds on: timers.c.
 *
 * Build and run on its own:
 *   cc -Wall -o cached_time cached_time.c $(pkg-config --cflags --libs libevent)
 *   ./cached_time
 *   EVENT_PRECISE_TIMER=1 ./cached_time
 */
#include <getopt.h>
#include <sys/time.h>
#include <time.h>
#include <dirent.h>

#include "../lesson.h"

static struct event_base *base;
static int busy_ms = 30;

static long ms_between(const struct timeval *a, const struct timeval *b)
{
    long long us = (b->tv_sec - a->tv_sec) * 1000000LL + (b->tv_usec - a->tv_usec);
    return (long)(us / 1000);
}

static void busy_wait(int ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do /* in nanoseconds: dividing a negative tv_nsec difference would stop early */
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec) <
           ms * 1000000LL);
}

// [cached]
static void on_slow_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    struct timeval cached0, cached1, real0, real1, cached2;
    event_base_gettimeofday_cached(base, &cached0);
    gettimeofday(&real0, NULL);
    busy_wait(busy_ms); /* a slow callback */
    event_base_gettimeofday_cached(base, &cached1);
    gettimeofday(&real1, NULL);
    printf("  after %d ms of work: gettimeofday moved %s, the cached time moved %ld ms\n", busy_ms,
           ms_between(&real0, &real1) >= busy_ms - 1 ? "the full time" : "less (?)",
           ms_between(&cached0, &cached1));
    event_base_update_cache_time(base);
    event_base_gettimeofday_cached(base, &cached2);
    /* The cache comes from the base's clock (COARSE: a few ms steps): allow one step. */
    printf("  after event_base_update_cache_time: the cached time moved %s\n",
           ms_between(&cached0, &cached2) >= busy_ms - 5 ? "the full time" : "less (?)");
}
// [/cached]

/* The kernel objects behind our fds: epoll shows up as [eventpoll], a timer
 * fd as [timerfd]. */
static int count_fds_named(const char *what)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));) {
        char path[300], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (strstr(target, what))
            n++;
    }
    closedir(d);
    return n;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: cached_time [--precise] [--busy-ms N] [--step] [--help]\n"
                "  --precise    create the base with EVENT_BASE_FLAG_PRECISE_TIMER\n"
                "  --busy-ms N  how long the slow callback works (default 30)\n"
                "  --step       pause before each step (also EVLAB_STEP=1)\n"
                "  --help       show this text\n"
                "environment: EVENT_PRECISE_TIMER=1 does what --precise does\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"precise", no_argument, NULL, 'p'},
                                         {"busy-ms", required_argument, NULL, 'b'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool precise = false;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "pb:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': precise = true; break;
        case 'b': busy_ms = (int)lesson_num(optarg, 5, 5000, "--busy-ms"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cached_time: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. the clock behind the timers");
    // [precise]
    struct event_config *cfg = event_config_new();
    if (cfg == NULL)
        die("event_config_new failed");
    if (precise)
        event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (base == NULL)
        die("event_base_new_with_config failed");
    // [/precise]
    printf("EVENT_PRECISE_TIMER is %s; --precise is %s; method: %s\n",
           getenv("EVENT_PRECISE_TIMER") ? "set" : "not set", precise ? "on" : "off",
           event_base_get_method(base));
    printf("timerfd open: %d (epoll opens one only for a precise timer)\n",
           count_fds_named("[timerfd]"));
    /* The flag, or EVENT_PRECISE_TIMER set to any value (libevent only asks
     * whether it is set), makes the base use CLOCK_MONOTONIC. */
    bool precise_clock = precise || getenv("EVENT_PRECISE_TIMER") != NULL;
    clockid_t clock = precise_clock ? CLOCK_MONOTONIC : CLOCK_MONOTONIC_COARSE;
    struct timespec res;
    clock_getres(clock, &res);
    printf("the timers' clock: %s, resolution here: %ld ns\n",
           precise_clock ? "CLOCK_MONOTONIC" : "CLOCK_MONOTONIC_COARSE", res.tv_nsec);

    step("2. outside the loop there is no cache");
    struct timeval a, b;
    event_base_gettimeofday_cached(base, &a);
    busy_wait(busy_ms);
    event_base_gettimeofday_cached(base, &b);
    /* gettimeofday (wall clock) against busy_wait (monotonic): allow 1 ms. */
    printf("two calls %d ms apart differ by %s\n", busy_ms,
           ms_between(&a, &b) >= busy_ms - 1 ? "the full time" : "less (?)");

    step("3. inside a callback the time is cached");
    CHECK_OK(event_base_once(base, -1, EV_TIMEOUT, on_slow_timer, NULL, NULL));
    event_base_dispatch(base);

    event_base_free(base);
    return 0;
}
