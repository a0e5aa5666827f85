/* load_gen.c -- an echo load generator written with libevent bufferevents.
 *
 * Teaches: how to measure a server honestly. Two ways to offer load:
 *   closed loop (default): C connections each keep K messages of S bytes in
 *     flight for T seconds (--conns 1 --pingpong is a true ping-pong). A slow
 *     server slows the sender down, so latency here mirrors throughput;
 *   open loop (--rate R): R messages per second in all, sent on a fixed
 *     schedule whatever the server does, and each latency counts from the
 *     message's *intended* send time (as wrk2 does), so a stall is charged
 *     to every message it delayed, not hidden (coordinated omission).
 * Every byte that comes back is checked against what was sent and counted;
 * latencies go into log-linear buckets (the HdrHistogram idea) for p50, p99
 * and p99.9. With --server-pid it reads the server's CPU time at the start
 * and the end of the timed window (/proc/PID/task/.../schedstat, in ns; the
 * user/system split from /proc/PID/stat): CPU per message is the figure
 * that a busy, shared machine disturbs least.
 *
 * Builds on: 08 (bufferevent connect), 09 (watermarks), 10 (echo servers).
 *
 * Build and run on its own:
 *   cc -O2 -Wall -o load_gen load_gen.c $(pkg-config --cflags --libs libevent)
 *   ./load_gen --port 5555 --conns 100 --depth 16 --size 1024 --seconds 3
 */
#include <dirent.h>
#include <getopt.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "../lesson.h"

#define PATTERN_PERIOD 251 /* a prime, so the pattern never lines up with a message */
#define BUCKETS (40 * 16)

static struct {
    int port, conns, depth, size, idle, server_pid;
    double seconds, rate; /* rate > 0: open loop, messages per second in all */
    double warmup;        /* seconds of load before the measured window opens */
} cfg = {0, 10, 1, 64, 0, 0, 1.0, 0, 0};

static unsigned char pattern[65536 + PATTERN_PERIOD];
static unsigned long long hist[BUCKETS];
static unsigned long long msgs, bytes_out, bytes_in, mismatches, errors;
static unsigned long long msgs_in_window, scheduled;
static int connected, open_conns, idle_connected;
static long rss_before_kib;
static bool sending = true;
static double started, stopped, max_lag;
static struct event_base *base;
static struct event *pacer;     /* open loop: fires when the next message is due */
static struct conn **all_conns; /* to free what is still open when time runs out */

struct conn {
    int id;
    struct bufferevent *bev;
    unsigned long long out, in; /* stream offsets sent and echoed */
    double *sent_at;            /* ring of (intended) send times, one per message in flight */
    unsigned long long cap;     /* its size: grows in open loop, where nothing bounds it */
    unsigned long long next_msg, done_msg;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The server's resident memory, from /proc (same machine: loopback only). */
static long rss_kib(int pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

// [cpu]
/* User and system CPU seconds of a whole process (all its threads) so far:
 * fields 14 and 15 of /proc/PID/stat, in clock ticks. The command name
 * (field 2) may hold spaces, so parse from the last ')'. */
static bool proc_cpu(int pid, double *user, double *sys)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    char *p = ok ? strrchr(line, ')') : NULL;
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return false;
    double hz = (double)sysconf(_SC_CLK_TCK);
    *user = ut / hz;
    *sys = st / hz;
    return true;
}

/* The same CPU time in nanoseconds, summed over the process's threads: the
 * first field of /proc/PID/task/TID/schedstat. Ticks (above) are 10 ms
 * apart, too coarse for a 1-second round; this is exact. */
static double proc_cpu_ns(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    double ns = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char stat[300];
        snprintf(stat, sizeof stat, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(stat, "r");
        unsigned long long run = 0;
        if (f && fscanf(f, "%llu", &run) == 1)
            ns += (double)run;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return ns;
}
// [/cpu]

static double self_cpu(void) /* this generator's own CPU seconds (getrusage) */
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int count_fds(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* Log-linear bucket: 16 sub-buckets per power of two microseconds. */
static int bucket_of(unsigned long long us)
{
    if (us < 16)
        return (int)us;
    int msb = 63 - __builtin_clzll(us);
    int b = (msb - 3) * 16 + (int)((us >> (msb - 4)) & 15);
    return b < BUCKETS ? b : BUCKETS - 1;
}

static unsigned long long bucket_floor(int b)
{
    if (b < 16)
        return (unsigned long long)b;
    int msb = b / 16 + 3;
    return (1ULL << msb) | ((unsigned long long)(b % 16) << (msb - 4));
}

static double percentile(double p)
{
    unsigned long long total = 0, seen = 0;
    for (int b = 0; b < BUCKETS; b++)
        total += hist[b];
    unsigned long long rank = (unsigned long long)(p * (double)total + 0.5);
    for (int b = 0; b < BUCKETS && total; b++) {
        seen += hist[b];
        if (seen >= (rank ? rank : 1))
            return (double)bucket_floor(b);
    }
    return 0;
}

/* Send one message; `intended` is when the schedule wanted it sent. */
static void send_message(struct conn *c, double intended)
{
    if (c->next_msg - c->done_msg == c->cap) { /* open loop: grow the ring, keep the order */
        unsigned long long cap = c->cap * 2;
        double *ring = calloc(cap, sizeof *ring);
        if (!ring)
            die("out of memory for %llu messages in flight", cap);
        for (unsigned long long m = c->done_msg; m < c->next_msg; m++)
            ring[m % cap] = c->sent_at[m % c->cap];
        free(c->sent_at);
        c->sent_at = ring;
        c->cap = cap;
    }
    c->sent_at[c->next_msg % c->cap] = intended;
    for (int left = cfg.size; left > 0;) {
        int n = left < 65536 ? left : 65536;
        bufferevent_write(c->bev, pattern + c->out % PATTERN_PERIOD, (size_t)n);
        c->out += (unsigned)n;
        left -= n;
    }
    bytes_out += (unsigned)cfg.size;
    c->next_msg++;
}

static void close_conn(struct conn *c)
{
    all_conns[c->id] = NULL;
    bufferevent_free(c->bev);
    free(c->sent_at);
    free(c);
    if (--open_conns == 0)
        event_base_loopexit(base, NULL);
}

// [on_echo]
static void on_echo(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *input = bufferevent_get_input(bev);
    struct evbuffer_iovec chunks[64];
    /* Check the echoed bytes where they lie (evbuffer_peek), then drain them:
     * no copy, so the generator is not the bottleneck it measures. */
    while (evbuffer_get_length(input) > 0) {
        int n = evbuffer_peek(input, -1, NULL, chunks, 64);
        size_t total = 0;
        for (int i = 0; i < n && i < 64; i++) {
            for (size_t off = 0; off < chunks[i].iov_len;) {
                size_t len = chunks[i].iov_len - off < 65536 ? chunks[i].iov_len - off : 65536;
                if (memcmp((char *)chunks[i].iov_base + off,
                           pattern + (c->in + off) % PATTERN_PERIOD, len))
                    mismatches++;
                off += len;
            }
            c->in += chunks[i].iov_len;
            total += chunks[i].iov_len;
        }
        evbuffer_drain(input, total);
        bytes_in += total;
    }
    // [/on_echo]
    // [latency]
    /* Each time the echo passes a message boundary, that message is done. */
    while (c->in >= (c->done_msg + 1) * (unsigned)cfg.size) {
        double t = now_s() - c->sent_at[c->done_msg % c->cap];
        hist[bucket_of((unsigned long long)(t * 1e6))]++;
        c->done_msg++;
        msgs++;
        if (sending && cfg.rate == 0) /* closed loop: the answer sends the next one */
            send_message(c, now_s());
    }
    if (!sending && c->in == c->out)
        close_conn(c);
}
// [/latency]

// [pace]
/* Open loop: send every message that is due by now, each stamped with the
 * time the schedule meant it to leave (message k at start + k / rate), then
 * sleep until the next one is due. A late send is the generator's fault and
 * shows up as latency; max_lag says how late it ever was. */
static void on_pace(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    double now = now_s();
    while (sending && started + scheduled / cfg.rate <= now) {
        double intended = started + scheduled / cfg.rate;
        struct conn *c = all_conns[scheduled % (unsigned)cfg.conns];
        if (now - intended > max_lag)
            max_lag = now - intended;
        if (c)
            send_message(c, intended);
        scheduled++;
    }
    double wait = started + scheduled / cfg.rate - now_s();
    long us = wait > 0 ? (long)(wait * 1e6) : 0;
    struct timeval tv = {us / 1000000, us % 1000000};
    if (sending)
        event_add(pacer, &tv);
}
// [/pace]

static double cpu_user0, cpu_sys0, cpu_ns0, self0, window_start;

static double cpu_user, cpu_sys, cpu_ns_used, self_used;
static bool have_cpu, measuring;
static unsigned long long msgs_at_open;

/* The warm-up is over: forget what it measured, note the CPU clocks. */
static void open_window(void)
{
    memset(hist, 0, sizeof hist);
    msgs_at_open = msgs;
    max_lag = 0;
    if (cfg.server_pid) {
        proc_cpu(cfg.server_pid, &cpu_user0, &cpu_sys0);
        cpu_ns0 = proc_cpu_ns(cfg.server_pid);
    }
    self0 = self_cpu();
    window_start = now_s();
    measuring = true;
}

/* Everyone is connected: note the server's memory, start the clock, send. */
/* (the CPU clocks are read when the warm-up ends: open_window) */
static void start_load(void)
{
    if (cfg.idle && cfg.server_pid) {
        long now_kib = rss_kib(cfg.server_pid);
        printf("server RSS %ld KiB before, %ld KiB with %d idle connections: %.0f bytes each\n",
               rss_before_kib, now_kib, cfg.idle, (now_kib - rss_before_kib) * 1024.0 / cfg.idle);
    }
    started = now_s();
    if (cfg.warmup == 0)
        open_window();
    if (cfg.rate > 0) {
        on_pace(-1, 0, NULL);
        return;
    }
    for (int i = 0; i < cfg.conns; i++)
        for (int k = 0; all_conns[i] && k < cfg.depth; k++)
            send_message(all_conns[i], now_s());
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        if (c->id < cfg.conns)
            connected++;
        else
            idle_connected++; /* idle connections stay silent */
        return;               /* on_tick starts the load once everyone is in */
    }
    fprintf(stderr, "load_gen: connection error: %s\n",
            evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    errors++;
    close_conn(c);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    if (started == 0) {
        /* Start once every client is connected and, when we can see the
         * server, once it has accepted them all (connect() completes in the
         * kernel, before the server's accept). */
        if (connected == cfg.conns && idle_connected == cfg.idle &&
            (!cfg.server_pid || count_fds(cfg.server_pid) >= cfg.conns + cfg.idle))
            start_load();
        return;
    }
    if (!measuring && now_s() - started >= cfg.warmup)
        open_window();
    if (!measuring || now_s() - window_start < cfg.seconds)
        return;
    if (sending) { /* time is up: note the CPU, stop sending, wait for the echoes in flight */
        stopped = now_s();
        msgs_in_window = msgs - msgs_at_open;
        if (cfg.server_pid && proc_cpu(cfg.server_pid, &cpu_user, &cpu_sys)) {
            cpu_user -= cpu_user0;
            cpu_sys -= cpu_sys0;
            cpu_ns_used = proc_cpu_ns(cfg.server_pid) - cpu_ns0;
            have_cpu = true;
        }
        self_used = self_cpu() - self0;
        sending = false;
        struct timeval grace = {5, 0};
        event_base_loopexit(base, &grace);
        event_del(arg);
        for (int i = 0; i < cfg.conns + cfg.idle; i++)
            if (all_conns[i] && (i >= cfg.conns || all_conns[i]->in == all_conns[i]->out))
                close_conn(all_conns[i]); /* idle, or nothing in flight */
    }
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: load_gen --port N [--conns C] [--depth K] [--size S] [--seconds T]\n"
            "                [--pingpong] [--rate R] [--idle N] [--server-pid PID] [--help]\n"
            "  --conns    connections (default 10)    --depth  messages in flight each (default "
            "1)\n"
            "  --size     bytes per message (64)      --seconds  how long to measure (1)\n"
            "  --ms N     the same in milliseconds    --warmup-ms N  load before measuring (0)\n"
            "  --pingpong the same as --depth 1 (with --conns 1: one message in flight in all)\n"
            "  --rate R   open loop: R messages/s in all on a fixed schedule; latency counts\n"
            "             from each message's intended send time (--depth is ignored)\n"
            "  --idle N   also hold N idle connections open during the run\n"
            "  --server-pid PID  the server's CPU time over the timed window (/proc/PID/stat),\n"
            "             and its RSS per idle connection\n"
            "prints a summary and a RESULT line; exits 1 if any byte went missing or changed\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"conns", required_argument, NULL, 'c'},
                                         {"depth", required_argument, NULL, 'k'},
                                         {"size", required_argument, NULL, 's'},
                                         {"seconds", required_argument, NULL, 't'},
                                         {"pingpong", no_argument, NULL, '1'},
                                         {"idle", required_argument, NULL, 'i'},
                                         {"server-pid", required_argument, NULL, 'P'},
                                         {"rate", required_argument, NULL, 'r'},
                                         {"ms", required_argument, NULL, 'm'},
                                         {"warmup-ms", required_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': cfg.port = (int)lesson_num(optarg, 1, 65535, "--port"); break;
        case 'c': cfg.conns = (int)lesson_num(optarg, 1, 50000, "--conns"); break;
        case 'k': cfg.depth = (int)lesson_num(optarg, 1, 4096, "--depth"); break;
        case 's': cfg.size = (int)lesson_num(optarg, 1, 1 << 24, "--size"); break;
        case 't': cfg.seconds = (double)lesson_num(optarg, 1, 3600, "--seconds"); break;
        case '1': cfg.depth = 1; break;
        case 'i': cfg.idle = (int)lesson_num(optarg, 0, 100000, "--idle"); break;
        case 'P': cfg.server_pid = (int)lesson_num(optarg, 1, 1 << 30, "--server-pid"); break;
        case 'm': cfg.seconds = (double)lesson_num(optarg, 100, 3600000, "--ms") / 1e3; break;
        case 'w': cfg.warmup = (double)lesson_num(optarg, 0, 60000, "--warmup-ms") / 1e3; break;
        case 'r': cfg.rate = (double)lesson_num(optarg, 1, 10000000, "--rate"); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!cfg.port) {
        fprintf(stderr, "load_gen: --port is required\n");
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (unsigned char)((i % PATTERN_PERIOD) * 97 + 13);
    /* Open loop sleeps until the next send is due: ask for a timer finer
     * than epoll_wait's milliseconds (timerfd, lesson 06). */
    struct event_config *conf = event_config_new();
    if (!conf)
        die("event_config_new failed");
    if (cfg.rate > 0)
        event_config_set_flag(conf, EVENT_BASE_FLAG_PRECISE_TIMER);
    base = event_base_new_with_config(conf);
    event_config_free(conf);
    if (!base)
        die("event_base_new_with_config failed");
    int total = cfg.conns + cfg.idle;
    all_conns = calloc((size_t)total, sizeof *all_conns);
    if (cfg.server_pid)
        rss_before_kib = rss_kib(cfg.server_pid);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)total + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)total + 64 ? rl.rlim_max : (rlim_t)total + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
    sin.sin_addr.s_addr = htonl(0x7f000001);
    for (int i = 0; i < total; i++) {
        struct conn *c = all_conns[i] = calloc(1, sizeof *c);
        c->id = i;
        c->cap = (unsigned long long)cfg.depth;
        c->sent_at = calloc(c->cap, sizeof *c->sent_at);
        c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!c->bev)
            die("bufferevent_socket_new failed");
        bufferevent_setcb(c->bev, on_echo, NULL, on_event, c);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        open_conns++;
        if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
            errors++;
            close_conn(c);
        }
    }
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, event_self_cbarg());
    pacer = event_new(base, -1, 0, on_pace, NULL);
    if (!tick || !pacer)
        die("event_new failed");
    struct timeval every = {0, 10000};
    event_add(tick, &every);
    event_base_dispatch(base);
    event_free(tick);
    event_free(pacer);
    for (int i = 0; i < total; i++)
        if (all_conns[i])
            close_conn(all_conns[i]);
    free(all_conns);
    event_base_free(base);

    double secs = stopped > window_start ? stopped - window_start : now_s() - window_start;
    if (stopped == 0)
        msgs_in_window = msgs - msgs_at_open;
    double rate = msgs_in_window / secs;
    double cpu_ns = have_cpu && msgs_in_window ? cpu_ns_used / msgs_in_window : 0;
    if (cfg.rate > 0)
        printf("open loop: %.0f messages/s offered over %d connections, %d-byte messages, %.1f s; "
               "latency from the intended send time\n",
               cfg.rate, cfg.conns, cfg.size, secs);
    else
        printf("closed loop: %d connections, %d in flight each, %d-byte messages, %.1f s\n",
               cfg.conns, cfg.depth, cfg.size, secs);
    printf("messages/s %.0f, MB/s %.1f, latency p50 %.0f us, p99 %.0f us, p99.9 %.0f us\n", rate,
           msgs_in_window * (double)cfg.size / secs / 1e6, percentile(0.50), percentile(0.99),
           percentile(0.999));
    if (have_cpu)
        printf("server CPU %.3f s (%.2f s user + %.2f s system in ticks) = %.0f ns per message; "
               "generator %.3f s\n",
               cpu_ns_used / 1e9, cpu_user, cpu_sys, cpu_ns, self_used);
    if (cfg.rate > 0)
        printf("the generator sent at most %.0f us late\n", max_lag * 1e6);
    printf("bytes sent %llu, echoed %llu, changed chunks %llu, connection errors %llu\n", bytes_out,
           bytes_in, mismatches, errors);
    printf(
        "RESULT msgs_per_s=%.0f mb_per_s=%.2f p50_us=%.0f p99_us=%.0f p999_us=%.0f "
        "server_cpu_s=%.4f server_user_s=%.2f server_sys_s=%.2f cpu_ns_per_msg=%.1f gen_cpu_s=%.3f "
        "max_lag_us=%.0f bytes_out=%llu bytes_in=%llu mismatches=%llu errors=%llu\n",
        rate, msgs_in_window * (double)cfg.size / secs / 1e6, percentile(0.50), percentile(0.99),
        percentile(0.999), cpu_ns_used / 1e9, cpu_user, cpu_sys, cpu_ns, self_used, max_lag * 1e6,
        bytes_out, bytes_in, mismatches, errors);
    return bytes_in == bytes_out && mismatches == 0 && errors == 0 ? 0 : 1;
}
