/* backend_bench.c -- what a backend costs as the number of watched fds grows.
 *
 * Teaches: the classic libevent bench.c method. N socketpairs each have a
 * persistent read event; A of them get a byte, and every callback passes a
 * byte on until W writes have happened. Only the dispatch is timed, after a
 * warm-up round, and the median of R rounds is reported. epoll's cost stays
 * about flat as N grows; poll and select scan all N fds on every call.
 * select cannot watch an fd >= FD_SETSIZE (1024): glibc aborts inside
 * libevent, so this program says so and skips it instead.
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

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One timed round: A bytes in, run the loop until every byte was read. */
// [round]
static double run_round(struct event_base *base, struct bench *b)
{
    b->fired = 0;
    b->writes_left = b->writes;
    int space = b->nfds / b->active;
    for (int i = 0; i < b->active; i++)
        if (write(b->pairs[i * space][0], "e", 1) != 1)
            die("write: %s", strerror(errno));
    double start = now_us();
    while (b->fired < b->active + b->writes)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return now_us() - start;
}
// [/round]

/* Median microseconds per round for one backend at one N; -1 if skipped. */
static double measure(const char *method, int nfds, int active, int writes, int rounds)
{
    struct bench b = {.nfds = nfds, .active = active < nfds ? active : nfds, .writes = writes};
    b.pairs = calloc((size_t)nfds, sizeof *b.pairs);
    struct event **evs = calloc((size_t)nfds, sizeof *evs);
    struct event_base *base = base_for_method(method);
    int maxfd = 0;
    for (int i = 0; i < nfds; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, b.pairs[i]) < 0)
            die("socketpair (n=%d): %s; raise 'ulimit -n'", nfds, strerror(errno));
        evutil_make_socket_nonblocking(b.pairs[i][1]);
        maxfd = b.pairs[i][1] > maxfd ? b.pairs[i][1] : maxfd;
    }
    double result = -1;
    // [fdsetsize]
    if (strcmp(method, "select") == 0 && maxfd >= FD_SETSIZE) {
        /* glibc's FD_SET aborts past FD_SETSIZE ("bit out of range"). */
        goto out;
    }
    // [/fdsetsize]
    for (int i = 0; i < nfds; i++) {
        evs[i] = event_new(base, b.pairs[i][1], EV_READ | EV_PERSIST, on_read, &b);
        CHECK(evs[i] && event_add(evs[i], NULL) == 0);
    }
    double *samples = calloc((size_t)rounds, sizeof *samples);
    run_round(base, &b); /* warm-up: first-touch costs are not the backend's */
    for (int r = 0; r < rounds; r++)
        samples[r] = run_round(base, &b);
    qsort(samples, (size_t)rounds, sizeof *samples, cmp_double);
    result = samples[rounds / 2];
    free(samples);
out:
    for (int i = 0; i < nfds; i++) {
        if (evs[i])
            event_free(evs[i]);
        close(b.pairs[i][0]);
        close(b.pairs[i][1]);
    }
    event_base_free(base);
    free(evs);
    free(b.pairs);
    return result;
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
    fprintf(to, "usage: backend_bench [--fds N,N,...] [--active A] [--writes W] [--rounds R]\n"
                "                     [--csv FILE] [--step] [--help]\n"
                "  --fds     numbers of socketpairs to watch (default 10,100,1000)\n"
                "  --active  pairs that get a byte at the start of a round (default 1)\n"
                "  --writes  chained writes per round (default 100)\n"
                "  --rounds  timed rounds; the median is reported (default 15)\n"
                "  --csv     also write method,fds,active,writes,usec rows to FILE\n");
}

static int positive(const char *s, const char *flag)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > 200000) {
        fprintf(stderr, "backend_bench: %s needs a number from 1 to 200000, not '%s'\n", flag, s);
        exit(2);
    }
    return (int)v;
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
        sizes[n++] = positive(tok, "--fds");
    }
    if (n == 0)
        positive("", "--fds");
    return n;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"fds", required_argument, NULL, 'n'},    {"active", required_argument, NULL, 'a'},
        {"writes", required_argument, NULL, 'w'}, {"rounds", required_argument, NULL, 'r'},
        {"csv", required_argument, NULL, 'c'},    {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int sizes[32] = {10, 100, 1000}, nsizes = 3;
    int active = 1, writes = 100, rounds = 15;
    const char *csv_path = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': nsizes = parse_sizes(optarg, sizes, 32); break;
        case 'a': active = positive(optarg, "--active"); break;
        case 'w': writes = positive(optarg, "--writes"); break;
        case 'r': rounds = positive(optarg, "--rounds"); break;
        case 'c': csv_path = optarg; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv_path && !csv)
        die("cannot write %s: %s", csv_path, strerror(errno));
    if (csv)
        fprintf(csv, "method,fds,active,writes,usec\n");

    step("1. median microseconds per round (%d active, %d writes, %d rounds)", active, writes,
         rounds);
    /* Copy the list: each call of event_get_supported_methods() frees the
     * array it returned before, and base_for_method() calls it again. */
    const char *methods[8] = {NULL};
    const char **list = event_get_supported_methods();
    for (int m = 0; list[m] && m < 7; m++)
        methods[m] = list[m];
    printf("%8s", "fds");
    for (int m = 0; methods[m]; m++)
        printf(" %10s", methods[m]);
    printf("   ratios to %s\n", methods[0]);
    for (int i = 0; i < nsizes; i++) {
        int n = sizes[i];
        if (!raise_fd_limit((rlim_t)n * 2 + 64)) {
            printf("%8d   skipped: needs %d open fds, more than 'ulimit -n' allows\n", n,
                   n * 2 + 64);
            continue;
        }
        double base_us = 0;
        printf("%8d", n);
        char ratios[256] = "";
        for (int m = 0; methods[m]; m++) {
            double us = measure(methods[m], n, active, writes, rounds);
            if (us < 0) {
                printf(" %10s", "skipped");
                continue;
            }
            printf(" %10.1f", us);
            if (m == 0)
                base_us = us;
            else
                snprintf(ratios + strlen(ratios), sizeof ratios - strlen(ratios), "  %s/%s %.2fx",
                         methods[m], methods[0], us / base_us);
            if (csv)
                fprintf(csv, "%s,%d,%d,%d,%.1f\n", methods[m], n, active, writes, us);
        }
        printf(" %s\n", ratios);
    }
    printf("skipped: select cannot watch fds >= FD_SETSIZE (%d); glibc would abort.\n", FD_SETSIZE);
    if (csv)
        fclose(csv);
    return 0;
}
