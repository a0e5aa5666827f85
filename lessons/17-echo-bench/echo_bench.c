/* echo_bench.c -- compare echo servers so that the comparison survives questions.
 *
 * Teaches: the method, not a server. For each round it starts every chosen
 * server afresh, in an order shuffled from a recorded seed, drives it with
 * load_gen (a warm-up, then a measured window) and records the server's CPU
 * time per message, its throughput and its latencies. Then, per server, the
 * ratio to a baseline server is taken round by round (the two ran seconds
 * apart, so slow drift of a shared machine cancels), and reported as the
 * median ratio with a bootstrap 95% confidence interval. An interval that
 * contains 1 is reported as a tie, in those words, and one wider than +-5%
 * is marked "(wide)".
 *
 *   --pin  runs the server on CPU 1 and load_gen on CPU 0 (sched_setaffinity,
 *          what taskset does). On 2 cores this keeps them from trading places
 *          but forbids the kernel to give the server the idle core; unpinned,
 *          they may share a core for a while, and a server's CPU per
 *          message then falls into two clusters about 35% apart (which one
 *          depends on where the scheduler put the two). make bench pins
 *          unless PIN=0; the CSV says which mode ran.
 *
 * Modes: load (closed loop: 100 connections x 16 messages of 1 KiB),
 * pingpong (one connection, one 64-byte message in flight), open (open loop
 * at --rates, latency from the intended send time; see load_gen.c).
 *
 * Builds on: 17 (load_gen.c and the servers).
 *
 * Build and run on its own (from the top of evlab, after make):
 *   cc -O2 -Wall -o echo_bench echo_bench.c $(pkg-config --cflags --libs libevent) -lm
 *   build/lessons/17-echo-bench/echo_bench --servers lesson,epoll --rounds 10 --csv rounds.csv
 */
#define _GNU_SOURCE /* sched_setaffinity */
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "../lesson.h"

#define MAX_SERVERS 16
#define MAX_ROUNDS 200
#define MAX_RATES 8

/* Every server the bench knows: a name, and its command under the build dir. */
static const struct server {
    const char *name, *prog, *args[4];
} servers[] = {
    {"lesson", "lessons/10-echo-server/bufferevent_echo", {"--quiet"}},
    {"bev", "lessons/17-echo-bench/bev_variants", {NULL}},
    {"evbuf", "lessons/17-echo-bench/evbuf_echo", {NULL}},
    {"evbufdefer", "lessons/17-echo-bench/evbuf_echo", {"--defer-write"}},
    {"epoll4k", "lessons/17-echo-bench/epoll_echo", {"--read-size", "4096"}},
    {"epoll", "lessons/17-echo-bench/epoll_echo", {NULL}},
    {"epollchurn", "lessons/17-echo-bench/epoll_echo", {"--churn"}},
    {"libuv", "lessons/17-echo-bench/uv_echo", {NULL}},
    {"libev", "lessons/17-echo-bench/ev_echo", {NULL}},
    {"libuv4k", "lessons/17-echo-bench/uv_echo", {"--read-size", "4096"}},
    {"libev4k", "lessons/17-echo-bench/ev_echo", {"--read-size", "4096"}},
    {"copy", "lessons/17-echo-bench/bev_variants", {"--copy"}},
    {"maxread64k", "lessons/17-echo-bench/bev_variants", {"--max-read", "65536"}},
};
#define NSERVERS (int)(sizeof servers / sizeof servers[0])

static struct {
    const char *build, *mode, *csv, *summary, *baseline;
    int rounds, ms, warmup_ms, boot;
    unsigned long seed;
    bool pin;
    int chosen[MAX_SERVERS], nchosen;
    long rates[MAX_RATES];
    int nrates;
    int pairs[MAX_SERVERS * 2][2]; /* --pairs a/b: indexes into chosen[] */
    int npairs;
} opt = {.build = "build",
         .mode = "load",
         .baseline = "lesson",
         .rounds = 10,
         .ms = 1000,
         .warmup_ms = 300,
         .boot = 2000};

/* One measured run: what load_gen's RESULT line said. */
struct sample {
    double cpu_ns, msgs_per_s, p50, p99, p999, lag_us, user_s, sys_s;
    bool ok;
};
static struct sample results[MAX_RATES][MAX_SERVERS][MAX_ROUNDS];

/* ---- a seeded PRNG, so a run's order can be replayed --------------------- */
static unsigned long long rng_state;
static unsigned long long rng(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static int rng_below(int n) { return (int)(rng() % (unsigned long long)n); }

/* ---- processes ------------------------------------------------------------ */

static void pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        fprintf(stderr, "echo_bench: sched_setaffinity(CPU %d): %s\n", cpu, strerror(errno));
}

/* fork + exec from an argument list; stdout to out_fd; optionally pinned. */
static pid_t spawn(char *const argv[], int out_fd, int cpu)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        if (cpu >= 0)
            pin_to(cpu);
        dup2(out_fd, STDOUT_FILENO);
        execv(argv[0], argv);
        fprintf(stderr, "echo_bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start a server on port 0 and read the port it printed (from a temp file,
 * so that a chatty server can never block on a full pipe). */
static pid_t start_server(const struct server *s, int *port)
{
    char path[4096], tmpl[] = "/tmp/echo_bench-XXXXXX";
    snprintf(path, sizeof path, "%s/%s", opt.build, s->prog);
    char *argv[8] = {path, "--port", "0"};
    int argc = 3;
    for (int i = 0; s->args[i]; i++)
        argv[argc++] = (char *)s->args[i];
    int fd = mkstemp(tmpl);
    if (fd < 0)
        die("mkstemp: %s", strerror(errno));
    unlink(tmpl);
    pid_t pid = spawn(argv, fd, opt.pin ? 1 : -1);
    *port = 0;
    for (double end = now_s() + 10; now_s() < end && !*port;) {
        char buf[4096] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        char *at = n > 0 ? strstr(buf, "listening on 127.0.0.1:") : NULL;
        if (at && strchr(at, '\n'))
            *port = atoi(at + strlen("listening on 127.0.0.1:"));
        else if (waitpid(pid, NULL, WNOHANG) == pid)
            break;
        else
            usleep(10000);
    }
    close(fd);
    if (!*port) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        die("%s did not print 'listening on 127.0.0.1:PORT' (is it built? make all)", path);
    }
    return pid;
}

static void stop_server(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static double field(const char *line, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, " %s=", name);
    const char *p = strstr(line, key);
    return p ? atof(p + strlen(key)) : NAN;
}

/* Run load_gen once against the server; parse its RESULT line. */
static struct sample run_load(int port, pid_t server, long rate, int ms)
{
    char path[4096], port_s[16], pid_s[16], ms_s[16], warm_s[16], rate_s[24];
    snprintf(path, sizeof path, "%s/lessons/17-echo-bench/load_gen", opt.build);
    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(pid_s, sizeof pid_s, "%d", (int)server);
    snprintf(ms_s, sizeof ms_s, "%d", ms);
    snprintf(warm_s, sizeof warm_s, "%d", opt.warmup_ms);
    snprintf(rate_s, sizeof rate_s, "%ld", rate);
    char *common[] = {path,   "--port", port_s,        "--server-pid", pid_s,
                      "--ms", ms_s,     "--warmup-ms", warm_s};
    char *argv[20];
    int argc = 0;
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
        argv[argc++] = common[i];
    if (strcmp(opt.mode, "load") == 0) { /* closed loop, 1,600 messages in flight */
        char *more[] = {"--conns", "100", "--depth", "16", "--size", "1024"};
        for (int i = 0; i < 6; i++)
            argv[argc++] = more[i];
    } else if (strcmp(opt.mode, "pingpong") == 0) { /* one connection, one message */
        char *more[] = {"--conns", "1", "--depth", "1", "--size", "64"};
        for (int i = 0; i < 6; i++)
            argv[argc++] = more[i];
    } else { /* open loop at a fixed rate */
        char *more[] = {"--conns", "10", "--size", "1024", "--rate", rate_s};
        for (int i = 0; i < 6; i++)
            argv[argc++] = more[i];
    }
    argv[argc] = NULL;
    int fds[2];
    if (pipe(fds) < 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = spawn(argv, fds[1], opt.pin ? 0 : -1);
    close(fds[1]);
    char out[8192];
    size_t len = 0;
    for (ssize_t n; (n = read(fds[0], out + len, sizeof out - 1 - len)) > 0;)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    struct sample s = {0};
    const char *line = strstr(out, "RESULT ");
    if (!line || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "echo_bench: load_gen failed (status %d):\n%s\n", status, out);
        return s;
    }
    s.cpu_ns = field(line, "cpu_ns_per_msg");
    s.msgs_per_s = field(line, "msgs_per_s");
    s.p50 = field(line, "p50_us");
    s.p99 = field(line, "p99_us");
    s.p999 = field(line, "p999_us");
    s.lag_us = field(line, "max_lag_us");
    s.user_s = field(line, "server_user_s");
    s.sys_s = field(line, "server_sys_s");
    s.ok = s.cpu_ns > 0 && s.msgs_per_s > 0;
    return s;
}

/* ---- statistics ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n == 0)
        return NAN;
    double tmp[MAX_ROUNDS];
    memcpy(tmp, v, (size_t)n * sizeof *v);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

// [bootstrap]
/* Median of v and its bootstrap 95% interval: resample the rounds with
 * replacement opt.boot times, take each resample's median, and keep the
 * 2.5th and 97.5th percentiles of those medians. */
static double median_ci(double *v, int n, double *lo, double *hi)
{
    static double meds[100000];
    double pick[MAX_ROUNDS];
    *lo = *hi = NAN;
    if (n == 0)
        return NAN;
    for (int b = 0; b < opt.boot; b++) {
        for (int i = 0; i < n; i++)
            pick[i] = v[rng_below(n)];
        meds[b] = median(pick, n);
    }
    qsort(meds, (size_t)opt.boot, sizeof *meds, cmp_double);
    *lo = meds[(int)(0.025 * opt.boot)];
    *hi = meds[(int)(0.975 * opt.boot) - 1];
    return median(v, n);
}
// [/bootstrap]

/* The verdict on a ratio with its 95% interval. An interval that contains 1
 * is a tie; one wider than +-5% of the ratio is marked "(wide)": this run
 * did not pin the ratio down to that precision, whatever the verdict. */
static const char *verdict_of(double ratio, double lo, double hi)
{
    bool tie = lo <= 1 && hi >= 1, wide = (hi - lo) / 2 > 0.05 * ratio;
    if (tie)
        return wide ? "tie (wide)" : "tie";
    if (ratio < 1)
        return wide ? "lower (wide)" : "lower";
    return wide ? "higher (wide)" : "higher";
}

enum metric { CPU, RATE, P50, P99, P999, NMETRICS };
static const char *metric_names[] = {"cpu_ns_per_msg", "msgs_per_s", "p50_us", "p99_us", "p999_us"};
static double metric(const struct sample *s, enum metric m)
{
    switch (m) {
    case CPU: return s->cpu_ns;
    case RATE: return s->msgs_per_s;
    case P50: return s->p50;
    case P99: return s->p99;
    default: return s->p999;
    }
}

/* Summary: per server and metric, the median over rounds with its CI and
 * the per-round ratio server/baseline, median and CI, and a verdict. */
static void summarize(FILE *sum, int base_idx)
{
    for (int r = 0; r < opt.nrates; r++) {
        long rate = opt.rates[r];
        if (strcmp(opt.mode, "open") == 0)
            printf("\n-- open loop at %ld messages/s offered (latency from the intended send "
                   "time)\n",
                   rate);
        printf("%-11s %20s %9s %8s %8s %8s   %s\n", "server", "CPU ns/msg [95% CI]", "msgs/s",
               "p50 us", "p99 us", "p99.9 us", "CPU/msg ratio to baseline");
        for (int si = 0; si < opt.nchosen; si++) {
            double med[NMETRICS], lo[NMETRICS], hi[NMETRICS], ratio[NMETRICS], rlo[NMETRICS],
                rhi[NMETRICS];
            const char *verdict[NMETRICS];
            for (int m = 0; m < NMETRICS; m++) {
                double v[MAX_ROUNDS], rv[MAX_ROUNDS];
                int n = 0, nr = 0;
                for (int k = 0; k < opt.rounds; k++) {
                    const struct sample *s = &results[r][si][k], *b = &results[r][base_idx][k];
                    if (!s->ok)
                        continue;
                    v[n++] = metric(s, (enum metric)m);
                    if (b->ok && metric(b, (enum metric)m) > 0)
                        rv[nr++] = metric(s, (enum metric)m) / metric(b, (enum metric)m);
                }
                med[m] = median_ci(v, n, &lo[m], &hi[m]);
                ratio[m] = median_ci(rv, nr, &rlo[m], &rhi[m]);
                verdict[m] =
                    si == base_idx || nr == 0 ? "baseline" : verdict_of(ratio[m], rlo[m], rhi[m]);
                fprintf(sum, "%s,%s,%ld,%s,%s,%d,%.6g,%.6g,%.6g,%.4f,%.4f,%.4f,%s\n", opt.mode,
                        opt.pin ? "pinned" : "unpinned", rate, servers[opt.chosen[si]].name,
                        metric_names[m], n, med[m], lo[m], hi[m], ratio[m], rlo[m], rhi[m],
                        verdict[m]);
            }
            char cpu[48], rat[64];
            snprintf(cpu, sizeof cpu, "%.0f [%.0f-%.0f]", med[CPU], lo[CPU], hi[CPU]);
            if (si == base_idx)
                snprintf(rat, sizeof rat, "(baseline)");
            else
                snprintf(rat, sizeof rat, "%.3fx [%.3f-%.3f] %s", ratio[CPU], rlo[CPU], rhi[CPU],
                         verdict[CPU]);
            printf("%-11s %20s %9.0f %8.0f %8.0f %8.0f   %s\n", servers[opt.chosen[si]].name, cpu,
                   med[RATE], med[P50], med[P99], med[P999], rat);
        }
    }
}

/* Controls: each pair differs in one thing. The ratio a/b is taken round
 * by round (a and b ran in the same round) and summarized as above. */
static void summarize_pairs(FILE *sum)
{
    if (!opt.npairs)
        return;
    for (int r = 0; r < opt.nrates; r++) {
        printf("\ncontrols%s: ratio a/b of CPU per message and of msgs/s, median [95%% CI]\n",
               strcmp(opt.mode, "open") == 0 ? " (open loop)" : "");
        if (strcmp(opt.mode, "open") == 0)
            printf("at %ld messages/s offered\n", opt.rates[r]);
        for (int p = 0; p < opt.npairs; p++) {
            int a = opt.pairs[p][0], b = opt.pairs[p][1];
            char name[64], cell[2][64];
            snprintf(name, sizeof name, "%s/%s", servers[opt.chosen[a]].name,
                     servers[opt.chosen[b]].name);
            for (int m = 0; m < 2; m++) {
                enum metric which = m == 0 ? CPU : RATE;
                double rv[MAX_ROUNDS], lo, hi;
                int n = 0;
                for (int k = 0; k < opt.rounds; k++) {
                    const struct sample *x = &results[r][a][k], *y = &results[r][b][k];
                    if (x->ok && y->ok && metric(y, which) > 0)
                        rv[n++] = metric(x, which) / metric(y, which);
                }
                double ratio = median_ci(rv, n, &lo, &hi);
                const char *verdict = n == 0 ? "no data" : verdict_of(ratio, lo, hi);
                snprintf(cell[m], sizeof cell[m], "%.3fx [%.3f-%.3f] %s", ratio, lo, hi, verdict);
                fprintf(sum, "%s,%s,%ld,%s,pair_%s,%d,,,,%.4f,%.4f,%.4f,%s\n", opt.mode,
                        opt.pin ? "pinned" : "unpinned", opt.rates[r], name, metric_names[which], n,
                        ratio, lo, hi, verdict);
            }
            printf("  %-20s CPU/msg %-30s msgs/s %s\n", name, cell[0], cell[1]);
        }
    }
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: echo_bench [--servers a,b,...] [--baseline NAME] [--mode load|pingpong|open]\n"
            "                  [--rates R,R,...] [--rounds N] [--ms MS] [--warmup-ms MS]\n"
            "                  [--seed S] [--pin] [--boot B] [--build DIR] [--csv FILE]\n"
            "                  [--summary FILE] [--pairs a/b,...] [--step] [--help]\n"
            "  --servers   which servers (default lesson,epoll); known:");
    for (int i = 0; i < NSERVERS; i++)
        fprintf(to, " %s", servers[i].name);
    fprintf(to, "\n"
                "  --baseline  ratios are server/baseline, round by round (default lesson)\n"
                "  --pairs     a/b,c/d,...: controls, ratios a/b round by round\n"
                "  --mode      load (100 conns x 16 x 1 KiB), pingpong (1 conn, 1 x 64 B), open\n"
                "  --rates     open loop: messages/s offered (default 5000,20000)\n"
                "  --rounds    rounds; each runs every server once, in a shuffled order (10)\n"
                "  --ms        measured window per run (1000); --warmup-ms load before it (300)\n"
                "  --seed      shuffle and bootstrap seed (default: from the clock; printed)\n"
                "  --pin       server on CPU 1, load_gen on CPU 0\n"
                "  --boot      bootstrap resamples (2000)\n"
                "  --csv       one row per run; --summary one row per server and metric\n");
}

static int server_index(const char *name)
{
    for (int i = 0; i < NSERVERS; i++)
        if (strcmp(servers[i].name, name) == 0)
            return i;
    fprintf(stderr, "echo_bench: no server called '%s' (--help lists them)\n", name);
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"servers", required_argument, NULL, 'S'},
                                         {"baseline", required_argument, NULL, 'B'},
                                         {"mode", required_argument, NULL, 'M'},
                                         {"rates", required_argument, NULL, 'R'},
                                         {"rounds", required_argument, NULL, 'n'},
                                         {"ms", required_argument, NULL, 't'},
                                         {"warmup-ms", required_argument, NULL, 'w'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"pin", no_argument, NULL, 'p'},
                                         {"boot", required_argument, NULL, 'b'},
                                         {"build", required_argument, NULL, 'd'},
                                         {"csv", required_argument, NULL, 'c'},
                                         {"summary", required_argument, NULL, 'u'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"pairs", required_argument, NULL, 'P'},
                                         {"step", no_argument, NULL, 'T'},
                                         {NULL, 0, NULL, 0}};
    char server_list[512] = "lesson,epoll", rate_list[256] = "5000,20000", pair_list[512] = "";
    bool seeded = false;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'S': snprintf(server_list, sizeof server_list, "%s", optarg); break;
        case 'B': opt.baseline = optarg; break;
        case 'M': opt.mode = optarg; break;
        case 'R': snprintf(rate_list, sizeof rate_list, "%s", optarg); break;
        case 'n': opt.rounds = (int)lesson_num(optarg, 2, MAX_ROUNDS, "--rounds"); break;
        case 't': opt.ms = (int)lesson_num(optarg, 100, 600000, "--ms"); break;
        case 'w': opt.warmup_ms = (int)lesson_num(optarg, 0, 60000, "--warmup-ms"); break;
        case 's':
            opt.seed = (unsigned long)lesson_num(optarg, 1, 2147483647, "--seed");
            seeded = true;
            break;
        case 'p': opt.pin = true; break;
        case 'b': opt.boot = (int)lesson_num(optarg, 100, 100000, "--boot"); break;
        case 'd': opt.build = optarg; break;
        case 'c': opt.csv = optarg; break;
        case 'u': opt.summary = optarg; break;
        case 'P': snprintf(pair_list, sizeof pair_list, "%s", optarg); break;
        case 'T': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (strcmp(opt.mode, "load") && strcmp(opt.mode, "pingpong") && strcmp(opt.mode, "open")) {
        fprintf(stderr, "echo_bench: --mode is load, pingpong or open, not '%s'\n", opt.mode);
        return 2;
    }
    for (char *tok = strtok(server_list, ","); tok; tok = strtok(NULL, ",")) {
        if (opt.nchosen == MAX_SERVERS)
            die("at most %d servers", MAX_SERVERS);
        opt.chosen[opt.nchosen++] = server_index(tok);
    }
    int base_idx = -1, want = server_index(opt.baseline);
    for (int i = 0; i < opt.nchosen; i++)
        if (opt.chosen[i] == want)
            base_idx = i;
    if (base_idx < 0) {
        fprintf(stderr, "echo_bench: the baseline '%s' is not among --servers\n", opt.baseline);
        return 2;
    }
    for (char *tok = strtok(pair_list, ","); tok; tok = strtok(NULL, ",")) {
        char *slash = strchr(tok, '/');
        if (!slash || opt.npairs == MAX_SERVERS * 2) {
            fprintf(stderr, "echo_bench: --pairs wants a/b,c/d,..., not '%s'\n", tok);
            return 2;
        }
        *slash = '\0';
        for (int side = 0; side < 2; side++) {
            int want_i = server_index(side ? slash + 1 : tok), found = -1;
            for (int i = 0; i < opt.nchosen; i++)
                if (opt.chosen[i] == want_i)
                    found = i;
            if (found < 0) {
                fprintf(stderr, "echo_bench: '%s' in --pairs is not among --servers\n",
                        side ? slash + 1 : tok);
                return 2;
            }
            opt.pairs[opt.npairs][side] = found;
        }
        opt.npairs++;
    }
    if (strcmp(opt.mode, "open") == 0)
        for (char *tok = strtok(rate_list, ","); tok; tok = strtok(NULL, ",")) {
            if (opt.nrates == MAX_RATES)
                die("at most %d rates", MAX_RATES);
            opt.rates[opt.nrates++] = lesson_num(tok, 1, 10000000, "--rates");
        }
    else
        opt.rates[opt.nrates++] = 0;
    if (!seeded)
        opt.seed = (unsigned long)time(NULL) % 2147483647 + 1;
    rng_state = opt.seed * 0x9E3779B97F4A7C15ULL + 1;
    signal(SIGPIPE, SIG_IGN);

    FILE *csv = opt.csv ? fopen(opt.csv, "w") : NULL;
    FILE *sum = opt.summary ? fopen(opt.summary, "w") : NULL;
    if ((opt.csv && !csv) || (opt.summary && !sum))
        die("cannot write %s: %s", opt.csv && !csv ? opt.csv : opt.summary, strerror(errno));
    if (csv)
        fprintf(csv, "mode,pin,seed,round,slot,rate,server,cpu_ns_per_msg,msgs_per_s,p50_us,"
                     "p99_us,p999_us,server_user_s,server_sys_s,max_lag_us\n");
    if (!sum)
        sum = fopen("/dev/null", "w");
    fprintf(sum, "mode,pin,rate,server,metric,n,median,lo,hi,ratio,ratio_lo,ratio_hi,verdict\n");

    step("%s: %d servers x %d rounds, %d ms measured after %d ms of warm-up, %s, seed %lu",
         opt.mode, opt.nchosen, opt.rounds, opt.ms, opt.warmup_ms,
         opt.pin ? "pinned (server CPU 1, load_gen CPU 0)" : "unpinned", opt.seed);
    // [rounds]
    /* Round 0 is a warm-up of every server (caches, page faults, CPU
     * frequency) and is thrown away. In every round the order is shuffled. */
    for (int k = -1; k < opt.rounds; k++) {
        int order[MAX_SERVERS];
        for (int i = 0; i < opt.nchosen; i++)
            order[i] = i;
        for (int i = opt.nchosen - 1; i > 0; i--) { /* Fisher-Yates */
            int j = rng_below(i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int slot = 0; slot < opt.nchosen; slot++) {
            int si = order[slot], port;
            const struct server *s = &servers[opt.chosen[si]];
            pid_t pid = start_server(s, &port);
            for (int r = 0; r < opt.nrates; r++) {
                struct sample smp = run_load(port, pid, opt.rates[r], k < 0 ? 300 : opt.ms);
                if (k < 0)
                    continue; /* warm-up round: not recorded */
                results[r][si][k] = smp;
                if (csv && smp.ok)
                    fprintf(csv, "%s,%s,%lu,%d,%d,%ld,%s,%.1f,%.0f,%.0f,%.0f,%.0f,%.2f,%.2f,%.0f\n",
                            opt.mode, opt.pin ? "pinned" : "unpinned", opt.seed, k + 1, slot + 1,
                            opt.rates[r], s->name, smp.cpu_ns, smp.msgs_per_s, smp.p50, smp.p99,
                            smp.p999, smp.user_s, smp.sys_s, smp.lag_us);
            }
            stop_server(pid);
        }
        if (k >= 0)
            fprintf(stderr, "echo_bench: round %d/%d done\n", k + 1, opt.rounds);
    }
    // [/rounds]
    summarize(sum, base_idx);
    summarize_pairs(sum);
    printf("ratios are server/%s per round: median [bootstrap 95%% interval, %d resamples]; "
           "an interval containing 1 is a tie; (wide): wider than +-5%%\n",
           opt.baseline, opt.boot);
    if (csv)
        fclose(csv);
    fclose(sum);
    return 0;
}
