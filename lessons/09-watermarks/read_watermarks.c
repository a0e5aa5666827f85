/* read_watermarks.c -- the read low- and high-water marks of a bufferevent.
 *
 * Teaches: the read low-water mark holds the read callback back until the
 * input buffer has at least that many bytes; the read high-water mark makes
 * the bufferevent stop reading once its input buffer is that full, so the
 * rest waits in the kernel and the sender soon cannot write any more
 * (back-pressure). Draining the input buffer starts reading again.
 *
 * Builds on: lesson 08 (bufferevents). Uses a socketpair, so every byte and
 * every callback is deterministic; a bufferevent works on any stream socket,
 * not only TCP.
 *
 * Build and run on its own:
 *   cc -Wall -o read_watermarks read_watermarks.c $(pkg-config --cflags --libs libevent)
 *   ./read_watermarks
 *   ./read_watermarks --read-low 0 --read-high 0
 */
#include <getopt.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "../lesson.h"

struct reader {
    int calls;
    bool drain;     /* step 2 takes the data out; step 5 leaves it in */
    int iterations; /* step 5: loop iterations seen by the tick timer */
    int seen_calls; /* calls counted at the previous tick */
    int max_per_it; /* most read callbacks between two ticks */
    struct event *tick;
};

// [readcb]
static void on_read(struct bufferevent *bev, void *arg)
{
    struct reader *r = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    r->calls++;
    if (r->drain) {
        printf("   read callback #%d: %zu bytes in the input buffer\n", r->calls,
               evbuffer_get_length(in));
        evbuffer_drain(in, evbuffer_get_length(in));
    } else if (r->calls == 1000) {
        /* Still at the high-water mark: libevent schedules us again
         * (bufferevent_inbuf_wm_check in bufferevent.c). Only taking data
         * out or disabling EV_READ ends that. */
        printf(
            "   read callback #%d: still %zu bytes; bufferevent_disable(EV_READ) stops the spin\n",
            r->calls, evbuffer_get_length(in));
        bufferevent_disable(bev, EV_READ);
    }
}
// [/readcb]

// [tick]
/* A timer with a zero timeout that adds itself again: timeout_process() in
 * event.c makes it active once in every iteration of the loop, so it counts
 * iterations. (EV_PERSIST would not do: a zero timeout is not re-armed.) */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct reader *r = arg;
    r->iterations++;
    int calls_now = r->calls - r->seen_calls; /* since the previous tick */
    if (calls_now > r->max_per_it)
        r->max_per_it = calls_now;
    r->seen_calls = r->calls;
    if (calls_now > 0 && event_add(r->tick, &(struct timeval){0, 0}) < 0)
        die("event_add() failed for the tick"); /* an iteration with no call: stop */
}
// [/tick]

/* Run non-blocking loop passes until the input buffer stops growing. */
static void pump(struct event_base *base, struct bufferevent *bev)
{
    size_t last;
    do {
        last = evbuffer_get_length(bufferevent_get_input(bev));
        event_base_loop(base, EVLOOP_NONBLOCK);
    } while (evbuffer_get_length(bufferevent_get_input(bev)) != last);
}

/* Write 4 KiB blocks to a non-blocking fd until the kernel says EAGAIN. */
static size_t write_until_full(int fd)
{
    static const char block[4096];
    size_t total = 0;
    for (ssize_t n; (n = write(fd, block, sizeof block)) > 0;)
        total += (size_t)n;
    if (errno != EAGAIN)
        die("write: %s", strerror(errno));
    return total;
}

static struct bufferevent *new_reader(struct event_base *base, int fds[2], struct reader *r)
{
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
    CHECK_OK(evutil_make_socket_nonblocking(fds[0]));
    CHECK_OK(evutil_make_socket_nonblocking(fds[1]));
    struct bufferevent *bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        die("bufferevent_socket_new() failed");
    bufferevent_setcb(bev, on_read, NULL, NULL, r);
    if (bufferevent_enable(bev, EV_READ) < 0)
        die("bufferevent_enable(EV_READ) failed");
    return bev;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: read_watermarks [--read-low N] [--read-high N] [--step] [--help]\n"
                "  --read-low N    read low-water mark for step 2 (default 25; 0 = every read)\n"
                "  --read-high N   read high-water mark for step 3 (default 4096; 0 = unlimited)\n"
                "  --step          pause before each step (also EVLAB_STEP=1)\n"
                "  --help          show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"read-low", required_argument, NULL, 'l'},
                                         {"read-high", required_argument, NULL, 'H'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long low = 25, high = 4096;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'l': low = lesson_num(optarg, 0, 1 << 24, "--read-low"); break;
        case 'H': high = lesson_num(optarg, 0, 1 << 24, "--read-high"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "read_watermarks: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct event_base *base = event_base_new();
    if (!base)
        die("event_base_new() failed");

    step("1. a bufferevent reads one end of a socketpair; we write the other end");
    int fds[2];
    struct reader r = {.drain = true};
    struct bufferevent *bev = new_reader(base, fds, &r);
    printf("default read watermarks: low 0 (call back on any data), high 0 (no limit)\n");

    step("2. read low-water mark %ld: ten writes of 10 bytes", low);
    // [low]
    bufferevent_setwatermark(bev, EV_READ, (size_t)low, 0);
    for (int i = 0; i < 10; i++) {
        CHECK(write(fds[1], "0123456789", 10) == 10);
        pump(base, bev); /* one pass reads the 10 new bytes */
    }
    // [/low]
    printf("read callback ran %d times for 100 bytes; %zu bytes wait below the mark\n", r.calls,
           evbuffer_get_length(bufferevent_get_input(bev)));
    bufferevent_free(bev);
    close(fds[1]);

    step("3. read high-water mark %ld: the sender writes until the kernel is full", high);
    r = (struct reader){.drain = false};
    bev = new_reader(base, fds, &r);
    bufferevent_setcb(bev, NULL, NULL, NULL, NULL); /* no read callback: see step 5 */
    // [high]
    bufferevent_setwatermark(bev, EV_READ, 0, (size_t)high);
    size_t sent = write_until_full(fds[1]);
    printf("sender: wrote %zu bytes, then write() said EAGAIN\n", sent);
    pump(base, bev);
    size_t held = evbuffer_get_length(bufferevent_get_input(bev));
    printf("input buffer: %zu bytes; still in the kernel: %zu bytes\n", held, sent - held);
    size_t more = write_until_full(fds[1]);
    printf("sender tries again: %zu more bytes fit\n", more);
    // [/high]

    step("4. take the data out: reading starts again");
    // [resume]
    evbuffer_drain(bufferevent_get_input(bev), held);
    pump(base, bev);
    printf("after draining %zu bytes the input buffer has %zu bytes again\n", held,
           evbuffer_get_length(bufferevent_get_input(bev)));
    // [/resume]

    step("5. a read callback that leaves the buffer at the high-water mark");
    // [spin]
    bufferevent_setcb(bev, on_read, NULL, NULL, &r);
    r.tick = evtimer_new(base, on_tick, &r);
    if (!r.tick)
        die("evtimer_new() failed");
    CHECK_OK(event_add(r.tick, &(struct timeval){0, 0}));
    evbuffer_drain(bufferevent_get_input(bev), 1);    /* room for one byte... */
    if (write(fds[1], "!", 1) < 0 && errno != EAGAIN) /* ...and something to read */
        die("write: %s", strerror(errno));
    if (event_base_loop(base, EVLOOP_NONBLOCK) < 0)
        die("event_base_loop() failed");
    printf("one event_base_loop(EVLOOP_NONBLOCK) call ran the read callback %d times\n", r.calls);
    printf("over %d iterations of the loop, at most %d read callbacks in one iteration\n",
           r.iterations, r.max_per_it);
    // [/spin]

    event_free(r.tick);
    bufferevent_free(bev);
    close(fds[1]);
    event_base_free(base);
    return 0;
}
