/* backend_bench.c -- what a backend costs as the number of watched fds grows.
 *
 * Teaches: measuring one libevent call with care. N socketpairs; each read
 * end has a persistent read event in an epoll, a poll and a select base at
 * once (the same fds for all three). A round writes one byte to A of them;
 * every callback reads its byte and passes one on until W writes have
 * chained. Only the loop is timed, in this thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID: what other processes do to the machine is not
 * charged to the round) and also in wall time. One warm-up round per
 * backend is thrown away; then every round runs the three backends in an
 * order shuffled from a printed seed, so drift hits all of them alike. A
 * sample repeats the round until it holds 10 ms of CPU (--min-sample-ms),
 * the same number of times for every backend, so one interrupt in a 0.5 ms
 * round does not decide its figure. The
 * table gives the median and a bootstrap 95% interval, and the number of
 * loop passes per round: the control that explains the 100-active result.
 *
 * select cannot take an fd >= FD_SETSIZE (1024) on Debian: libevent's
 * select.c grows its own fd sets, but Debian builds libevent with
 * _FORTIFY_SOURCE, and glibc's __fdelt_chk aborts. This program skips those
 * sizes for select; select_wall.c shows both facts.
 *
 * Builds on: 01 (methods), 05 (loop modes: EVLOOP_ONCE|EVLOOP_NONBLOCK).
 *
 * Build and run on its own:
 *   cc -O2 -Wall -o backend_bench backend_bench.c $(pkg-config --cflags --libs libevent)
 *   ./backend_bench --fds 10,100,1000 --csv bench.csv
 */
#include <getopt.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>

#include "../lesson.h"

#define MAX_ROUNDS 1000
#define MAX_METHODS 3

struct bench {
    int nfds, active, writes;
    int (*pairs)[2]; /* pairs[i][0] is written, pairs[i][1] is watched */
    int fired, writes_left;
};

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct bench *b = arg;
    char byte;
    (void)what;
    if (read(fd, &byte, 1) == 1)
        b->fired++;
    if (b->writes_left > 0) { /* chain: pass the byte on to another pair */
        int next = (int)((fd + b->writes_left * 7919L) % b->nfds);
        if (write(b->pairs[next][0], "e", 1) == 1)
            b->writes_left--;
    }
}

static double clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double tmp[MAX_ROUNDS];
    memcpy(tmp, v, (size_t)n * sizeof *v);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static unsigned long long rng_state = 1;
static int rng_below(int n) /* xorshift64*, seeded from --seed */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (int)((rng_state * 2685821657736338717ULL) % (unsigned long long)n);
}

/* The median of v, and its bootstrap 95% interval (1000 resamples). */
static double median_ci(const double *v, int n, double *lo, double *hi)
{
    double meds[1000], pick[MAX_ROUNDS];
    for (int b = 0; b < 1000; b++) {
        for (int i = 0; i < n; i++)
            pick[i] = v[rng_below(n)];
        meds[b] = median(pick, n);
    }
    qsort(meds, 1000, sizeof *meds, cmp_double);
    *lo = meds[25];
    *hi = meds[974];
    return median(v, n);
}

struct round_cost {
    double cpu_us, wall_us;
    int loops; /* event_base_loop() calls: each is one epoll_wait/poll/select */
};

/* One timed round: A bytes in, run the loop until every byte was read. */
// [round]
static struct round_cost run_round(struct event_base *base, struct bench *b)
{
    struct round_cost cost = {0};
    b->fired = 0;
    b->writes_left = b->writes;
    int space = b->nfds / b->active;
    for (int i = 0; i < b->active; i++)
        if (write(b->pairs[i * space][0], "e", 1) != 1)
            die("write: %s", strerror(errno));
    double cpu0 = clock_us(CLOCK_THREAD_CPUTIME_ID), wall0 = clock_us(CLOCK_MONOTONIC);
    while (b->fired < b->active + b->writes) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        cost.loops++;
    }
    cost.cpu_us = clock_us(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    cost.wall_us = clock_us(CLOCK_MONOTONIC) - wall0;
    return cost;
}
// [/round]

struct result {
    bool skipped;
    double cpu, cpu_lo, cpu_hi, wall, loops, ratio, ratio_lo, ratio_hi;
};

/* All backends at one N, interleaved round by round. methods[0] is the
 * baseline of the ratios (epoll where there is one). */
static double min_sample_us = 10000; /* --min-sample-ms */

static void measure(const char **methods, int nm, int nfds, int active, int writes, int rounds,
                    struct result *res)
{
    struct bench b = {.nfds = nfds, .active = active < nfds ? active : nfds, .writes = writes};
    b.pairs = calloc((size_t)nfds, sizeof *b.pairs);
    struct event_base *bases[MAX_METHODS] = {NULL};
    struct event **evs = calloc((size_t)nfds * MAX_METHODS, sizeof *evs);
    int maxfd = 0;
    for (int i = 0; i < nfds; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, b.pairs[i]) < 0)
            die("socketpair (n=%d): %s; raise 'ulimit -n'", nfds, strerror(errno));
        evutil_make_socket_nonblocking(b.pairs[i][1]);
        maxfd = b.pairs[i][1] > maxfd ? b.pairs[i][1] : maxfd;
    }
    for (int m = 0; m < nm; m++) {
        res[m] = (struct result){.skipped = true};
        // [fdsetsize]
        if (strcmp(methods[m], "select") == 0 && maxfd >= FD_SETSIZE)
            continue; /* Debian's fortified FD_SET would abort: see select_wall.c */
        // [/fdsetsize]
        res[m].skipped = false;
        bases[m] = base_for_method(methods[m]);
        for (int i = 0; i < nfds; i++) {
            struct event *ev =
                event_new(bases[m], b.pairs[i][1], EV_READ | EV_PERSIST, on_read, &b);
            if (!ev || event_add(ev, NULL) < 0)
                die("event_new/event_add (%s, fd %d) failed", methods[m], b.pairs[i][1]);
            evs[m * nfds + i] = ev;
        }
        run_round(bases[m], &b); /* warm-up: first-touch costs are not the backend's */
    }
    /* A round of 100 writes over 10 fds costs about 0.5 ms of CPU: one
     * interrupt or cache refill is a large part of that. So each sample
     * repeats the round until it holds at least min_sample_us of the cheapest
     * backend's CPU, the same number of times for every backend, and is
     * divided back to one round. (libevent's test/bench.c times single runs.) */
    double cheapest = 0;
    for (int m = 0; m < nm; m++)
        if (bases[m]) {
            double c = run_round(bases[m], &b).cpu_us;
            cheapest = cheapest == 0 || c < cheapest ? c : cheapest;
        }
    int reps = cheapest > 0 && cheapest < min_sample_us ? (int)(min_sample_us / cheapest) + 1 : 1;
    static double cpu[MAX_METHODS][MAX_ROUNDS], wall[MAX_METHODS][MAX_ROUNDS],
        loops[MAX_METHODS][MAX_ROUNDS];
    // [interleave]
    for (int r = 0; r < rounds; r++) {
        int order[MAX_METHODS];
        for (int m = 0; m < nm; m++)
            order[m] = m;
        for (int m = nm - 1; m > 0; m--) { /* a new shuffled order every round */
            int j = rng_below(m + 1), t = order[m];
            order[m] = order[j];
            order[j] = t;
        }
        for (int k = 0; k < nm; k++) {
            int m = order[k];
            if (!bases[m])
                continue;
            struct round_cost sum = {0};
            for (int i = 0; i < reps; i++) {
                struct round_cost c = run_round(bases[m], &b);
                sum.cpu_us += c.cpu_us;
                sum.wall_us += c.wall_us;
                sum.loops += c.loops;
            }
            cpu[m][r] = sum.cpu_us / reps;
            wall[m][r] = sum.wall_us / reps;
            loops[m][r] = (double)sum.loops / reps;
        }
    }
    // [/interleave]
    for (int m = 0; m < nm; m++) {
        if (res[m].skipped)
            continue;
        res[m].cpu = median_ci(cpu[m], rounds, &res[m].cpu_lo, &res[m].cpu_hi);
        res[m].wall = median(wall[m], rounds);
        res[m].loops = median(loops[m], rounds);
        if (m > 0 && bases[0]) { /* ratio to the baseline, round by round */
            double ratio[MAX_ROUNDS];
            for (int r = 0; r < rounds; r++)
                ratio[r] = cpu[m][r] / cpu[0][r];
            res[m].ratio = median_ci(ratio, rounds, &res[m].ratio_lo, &res[m].ratio_hi);
        } else {
            res[m].ratio = res[m].ratio_lo = res[m].ratio_hi = 1;
        }
    }
    for (int m = 0; m < nm; m++) {
        for (int i = 0; bases[m] && i < nfds; i++)
            event_free(evs[m * nfds + i]);
        if (bases[m])
            event_base_free(bases[m]);
    }
    for (int i = 0; i < nfds; i++) {
        close(b.pairs[i][0]);
        close(b.pairs[i][1]);
    }
    free(evs);
    free(b.pairs);
}

/* Each pair is two fds: raise the soft limit (never lower it) as N grows. */
static bool raise_fd_limit(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return false;
    if (rl.rlim_cur >= want)
        return true;
    rl.rlim_cur = want;
    if (rl.rlim_max < want)
        rl.rlim_max = want; /* only a privileged process may raise the hard limit */
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: backend_bench [--fds N,N,...] [--active A] [--writes W] [--rounds R]\n"
            "                     [--seed S] [--min-sample-ms MS] [--csv FILE] [--step] [--help]\n"
            "  --fds     numbers of socketpairs to watch (default 10,100,1000)\n"
            "  --active  pairs that get a byte at the start of a round (default 1)\n"
            "  --writes  chained writes per round (default 100)\n"
            "  --rounds  timed rounds, backends shuffled in each (default 15)\n"
            "  --seed    the shuffle's seed (default: from the clock; printed)\n"
            "  --min-sample-ms  repeat a round until a sample holds this much CPU (default 10)\n"
            "  --csv     also write one row per backend and size to FILE\n");
}

/* "10,100,1000" -> sizes; any bad item is an error before anything runs. */
static int parse_sizes(const char *list, int *sizes, int max)
{
    char copy[256];
    int n = 0;
    snprintf(copy, sizeof copy, "%s", list);
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        if (n == max) {
            fprintf(stderr, "backend_bench: at most %d sizes in --fds\n", max);
            exit(2);
        }
        sizes[n++] = (int)lesson_num(tok, 1, 200000, "--fds");
    }
    if (n == 0)
        lesson_num("", 1, 200000, "--fds");
    return n;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"fds", required_argument, NULL, 'n'},
                                         {"active", required_argument, NULL, 'a'},
                                         {"writes", required_argument, NULL, 'w'},
                                         {"rounds", required_argument, NULL, 'r'},
                                         {"csv", required_argument, NULL, 'c'},
                                         {"seed", required_argument, NULL, 'S'},
                                         {"min-sample-ms", required_argument, NULL, 'M'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int sizes[32] = {10, 100, 1000}, nsizes = 3;
    int active = 1, writes = 100, rounds = 15;
    long seed = 0;
    const char *csv_path = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': nsizes = parse_sizes(optarg, sizes, 32); break;
        case 'a': active = (int)lesson_num(optarg, 1, 200000, "--active"); break;
        case 'w': writes = (int)lesson_num(optarg, 1, 200000, "--writes"); break;
        case 'r': rounds = (int)lesson_num(optarg, 1, MAX_ROUNDS, "--rounds"); break;
        case 'S': seed = lesson_num(optarg, 1, 2147483647, "--seed"); break;
        case 'M': min_sample_us = 1000.0 * lesson_num(optarg, 0, 10000, "--min-sample-ms"); break;
        case 'c': csv_path = optarg; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!seed)
        seed = (long)(time(NULL) % 2147483647) + 1;
    rng_state = (unsigned long long)seed * 0x9E3779B97F4A7C15ULL + 1;
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv_path && !csv)
        die("cannot write %s: %s", csv_path, strerror(errno));
    if (csv)
        fprintf(csv, "method,fds,active,writes,rounds,seed,cpu_us,cpu_lo,cpu_hi,wall_us,"
                     "loops_per_round,fds_scanned_per_round,ratio,ratio_lo,ratio_hi\n");

    /* Copy the list: each call of event_get_supported_methods() frees the
     * array it returned before, and base_for_method() calls it again. */
    const char *methods[MAX_METHODS] = {NULL};
    int nm = 0;
    const char **list = event_get_supported_methods();
    for (int m = 0; list[m] && nm < MAX_METHODS; m++)
        methods[nm++] = list[m];
    step("1. thread CPU microseconds per round: median [95%% interval] (%d active, %d writes, "
         "%d rounds, seed %ld)",
         active, writes, rounds, seed);
    printf("%7s %-7s %22s %9s %7s %14s %s\n", "fds", "backend", "CPU us [95% CI]", "wall us",
           "loops", "fds scanned", "CPU ratio to epoll [95% CI]");
    for (int i = 0; i < nsizes; i++) {
        int n = sizes[i];
        if (!raise_fd_limit((rlim_t)n * 2 + 64)) {
            printf("%7d   skipped: needs %d open fds, more than 'ulimit -n' allows\n", n,
                   n * 2 + 64);
            continue;
        }
        struct result res[MAX_METHODS];
        measure(methods, nm, n, active, writes, rounds, res);
        for (int m = 0; m < nm; m++) {
            if (res[m].skipped) {
                printf("%7d %-7s %22s\n", n, methods[m], "skipped (fd >= FD_SETSIZE)");
                continue;
            }
            /* epoll hands back only ready fds; poll and select pass all N each call */
            double scanned = strcmp(methods[m], "epoll") == 0 ? 0 : res[m].loops * n;
            char cpu[48], ratio[48] = "";
            snprintf(cpu, sizeof cpu, "%.1f [%.1f-%.1f]", res[m].cpu, res[m].cpu_lo, res[m].cpu_hi);
            if (m > 0)
                snprintf(ratio, sizeof ratio, "%s/%s %.2fx [%.2f-%.2f]%s%s", methods[m], methods[0],
                         res[m].ratio, res[m].ratio_lo, res[m].ratio_hi,
                         res[m].ratio_lo <= 1 && res[m].ratio_hi >= 1 ? " tie" : "",
                         res[m].ratio_hi - res[m].ratio_lo > 0.1 * res[m].ratio ? " (wide)" : "");
            printf("%7d %-7s %22s %9.1f %7.0f %14.0f %s\n", n, methods[m], cpu, res[m].wall,
                   res[m].loops, scanned, ratio);
            if (csv)
                fprintf(csv, "%s,%d,%d,%d,%d,%ld,%.2f,%.2f,%.2f,%.2f,%.0f,%.0f,%.4f,%.4f,%.4f\n",
                        methods[m], n, active, writes, rounds, seed, res[m].cpu, res[m].cpu_lo,
                        res[m].cpu_hi, res[m].wall, res[m].loops, scanned, res[m].ratio,
                        res[m].ratio_lo, res[m].ratio_hi);
        }
    }
    printf("tie: the interval contains 1; (wide): the interval is wider than +-5%%.\n"
           "loops: event_base_loop() passes per round, each one epoll_wait, poll or select call.\n"
           "skipped: select with an fd >= FD_SETSIZE (%d) aborts in Debian's fortified FD_SET\n"
           "(__fdelt_chk); libevent itself would grow its sets. See select_wall.\n",
           FD_SETSIZE);
    if (csv)
        fclose(csv);
    return 0;
}
