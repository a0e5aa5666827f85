/* load_gen.c -- an echo load generator written with libevent bufferevents.
 *
 * Teaches: how to measure a server honestly. C connections each keep K
 * messages of S bytes in flight for T seconds (K=1 is ping-pong). Every byte
 * that comes back is checked against what was sent and counted; a message's
 * latency runs from its send to the arrival of its last echoed byte, and is
 * kept in log-linear buckets (the HdrHistogram idea) for p50 and p99.
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
    double seconds;
} cfg = {0, 10, 1, 64, 0, 0, 1.0};

static unsigned char pattern[65536 + PATTERN_PERIOD];
static unsigned long long hist[BUCKETS];
static unsigned long long msgs, bytes_out, bytes_in, mismatches, errors;
static int connected, open_conns, idle_connected;
static long rss_before_kib;
static bool sending = true;
static double started, stopped;
static struct event_base *base;
static struct conn **all_conns; /* to free what is still open when time runs out */

struct conn {
    int id;
    struct bufferevent *bev;
    unsigned long long out, in; /* stream offsets sent and echoed */
    double *sent_at;            /* ring of send times, one per message in flight */
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
    return (msb - 3) * 16 + (int)((us >> (msb - 4)) & 15);
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
    for (int b = 0; b < BUCKETS && total; b++) {
        seen += hist[b];
        if (seen >= (unsigned long long)(p * total + 0.5))
            return (double)bucket_floor(b);
    }
    return 0;
}

static void send_message(struct conn *c)
{
    c->sent_at[c->next_msg % (unsigned)cfg.depth] = now_s();
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
        double t = now_s() - c->sent_at[c->done_msg % (unsigned)cfg.depth];
        hist[bucket_of((unsigned long long)(t * 1e6))]++;
        c->done_msg++;
        msgs++;
        if (sending)
            send_message(c);
    }
    if (!sending && c->in == c->out)
        close_conn(c);
}
// [/latency]

/* Everyone is connected: note the server's memory, start the clock, send. */
static void start_load(void)
{
    if (cfg.idle && cfg.server_pid) {
        long now_kib = rss_kib(cfg.server_pid);
        printf("server RSS %ld KiB before, %ld KiB with %d idle connections: %.0f bytes each\n",
               rss_before_kib, now_kib, cfg.idle, (now_kib - rss_before_kib) * 1024.0 / cfg.idle);
    }
    started = now_s();
    for (int i = 0; i < cfg.conns; i++)
        for (int k = 0; all_conns[i] && k < cfg.depth; k++)
            send_message(all_conns[i]);
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
    if (now_s() - started < cfg.seconds)
        return;
    if (sending) { /* time is up: stop sending, wait for the echoes in flight */
        sending = false;
        stopped = now_s();
        struct timeval grace = {5, 0};
        event_base_loopexit(base, &grace);
        event_del(arg);
        for (int i = cfg.conns; i < cfg.conns + cfg.idle; i++)
            if (all_conns[i]) /* idle connections have nothing in flight */
                close_conn(all_conns[i]);
    }
}

static void usage(FILE *to)
{
    fprintf(
        to,
        "usage: load_gen --port N [--conns C] [--depth K] [--size S] [--seconds T]\n"
        "                [--pingpong] [--help]\n"
        "  --conns    connections (default 10)    --depth  messages in flight each (default 1)\n"
        "  --size     bytes per message (64)      --seconds  how long to send (1)\n"
        "  --pingpong the same as --depth 1\n"
        "  --idle N   also hold N idle connections open during the run\n"
        "  --server-pid PID  report the server's RSS per idle connection\n"
        "prints a summary and a RESULT line; exits 1 if any byte went missing or changed\n");
}

static int number(const char *s, const char *flag, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "load_gen: %s needs a number from %ld to %ld, not '%s'\n", flag, lo, hi, s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},    {"conns", required_argument, NULL, 'c'},
        {"depth", required_argument, NULL, 'k'},   {"size", required_argument, NULL, 's'},
        {"seconds", required_argument, NULL, 't'}, {"pingpong", no_argument, NULL, '1'},
        {"idle", required_argument, NULL, 'i'},    {"server-pid", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': cfg.port = number(optarg, "--port", 1, 65535); break;
        case 'c': cfg.conns = number(optarg, "--conns", 1, 50000); break;
        case 'k': cfg.depth = number(optarg, "--depth", 1, 4096); break;
        case 's': cfg.size = number(optarg, "--size", 1, 1 << 24); break;
        case 't': cfg.seconds = number(optarg, "--seconds", 1, 3600); break;
        case '1': cfg.depth = 1; break;
        case 'i': cfg.idle = number(optarg, "--idle", 0, 100000); break;
        case 'P': cfg.server_pid = number(optarg, "--server-pid", 1, 1 << 30); break;
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
    CHECK(base = event_base_new());
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
        c->sent_at = calloc((size_t)cfg.depth, sizeof *c->sent_at);
        CHECK(c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE));
        bufferevent_setcb(c->bev, on_echo, NULL, on_event, c);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        open_conns++;
        if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
            errors++;
            close_conn(c);
        }
    }
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, event_self_cbarg());
    struct timeval every = {0, 10000};
    event_add(tick, &every);
    event_base_dispatch(base);
    event_free(tick);
    for (int i = 0; i < total; i++)
        if (all_conns[i])
            close_conn(all_conns[i]);
    free(all_conns);
    event_base_free(base);

    double secs = stopped > started ? stopped - started : now_s() - started;
    printf("connections %d, %d in flight each, %d-byte messages, %.1f s\n", cfg.conns, cfg.depth,
           cfg.size, secs);
    printf("messages/s %.0f, MB/s %.1f, latency p50 %.0f us, p99 %.0f us\n", msgs / secs,
           bytes_in / secs / 1e6, percentile(0.50), percentile(0.99));
    printf("bytes sent %llu, echoed %llu, changed chunks %llu, connection errors %llu\n", bytes_out,
           bytes_in, mismatches, errors);
    printf("RESULT msgs_per_s=%.0f mb_per_s=%.2f p50_us=%.0f p99_us=%.0f bytes_out=%llu "
           "bytes_in=%llu mismatches=%llu errors=%llu\n",
           msgs / secs, bytes_in / secs / 1e6, percentile(0.50), percentile(0.99), bytes_out,
           bytes_in, mismatches, errors);
    return bytes_in == bytes_out && mismatches == 0 && errors == 0 ? 0 : 1;
}
