/* write_watermarks.c -- when the write callback runs, and what the write high mark does not do.
 *
 * Teaches: the write callback runs after libevent has written to the socket
 * and left at most "write low-water mark" bytes in the output buffer. With
 * the default mark 0 that is once, when the buffer is empty; with a higher
 * mark it runs earlier and after every write below the mark, which is when
 * a sender should refill. The write high-water mark limits nothing on a
 * socket bufferevent: bufferevent_write takes all you give it.
 *
 * Builds on: read_watermarks.c (same socketpair skeleton, other direction).
 *
 * Build and run on its own:
 *   cc -Wall -o write_watermarks write_watermarks.c $(pkg-config --cflags --libs libevent)
 *   ./write_watermarks
 *   ./write_watermarks --write-low 0
 */
#include <getopt.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "../lesson.h"

#define TOTAL (256 * 1024)

struct writer {
    int calls;
    size_t max_left; /* the most bytes still queued when the callback ran */
};

// [writecb]
static void on_write(struct bufferevent *bev, void *arg)
{
    struct writer *w = arg;
    size_t left = evbuffer_get_length(bufferevent_get_output(bev));
    w->calls++;
    if (left > w->max_left)
        w->max_left = left;
    printf("   write callback #%d: %zu bytes still in the output buffer\n", w->calls, left);
}
// [/writecb]

/* The reader end: take whatever the kernel has, without blocking. */
static size_t read_available(int fd)
{
    static char buf[65536];
    size_t got = 0;
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
        got += (size_t)n;
    return got;
}

/* Loop passes, reading the far end after each, until `want` bytes arrived. */
static int run_until_received(struct event_base *base, int fd, size_t want)
{
    int passes = 0;
    for (size_t got = 0; got < want; passes++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        got += read_available(fd);
    }
    return passes;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: write_watermarks [--write-low N] [--step] [--help]\n"
                "  --write-low N   write low-water mark (default 65536; 0 = only when empty)\n"
                "  --step          pause before each step (also EVLAB_STEP=1)\n"
                "  --help          show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"write-low", required_argument, NULL, 'l'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long low = 65536;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'l': low = lesson_num(optarg, 0, TOTAL, "--write-low"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "write_watermarks: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct event_base *base = event_base_new();
    if (!base)
        die("event_base_new() failed");

    step("1. a bufferevent writes one end of a socketpair; we read the other end");
    int fds[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
    CHECK_OK(evutil_make_socket_nonblocking(fds[0]));
    CHECK_OK(evutil_make_socket_nonblocking(fds[1]));
    struct bufferevent *bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        die("bufferevent_socket_new() failed");
    struct writer w = {0};
    bufferevent_setcb(bev, NULL, on_write, NULL, &w);
    static char data[TOTAL];
    if (bufferevent_write(bev, data, sizeof data) < 0)
        die("bufferevent_write() failed");
    printf("queued %zu bytes with bufferevent_write; nothing is sent until the loop runs\n",
           evbuffer_get_length(bufferevent_get_output(bev)));

    step("2. write low-water mark %ld: the loop sends, we read", low);
    // [low]
    bufferevent_setwatermark(bev, EV_WRITE, (size_t)low, 0);
    int passes = run_until_received(base, fds[1], TOTAL);
    // [/low]
    printf("write callback ran %d times in %d loop passes, never with more than %zu bytes left\n",
           w.calls, passes, w.max_left);

    step("3. write high-water mark 1024: does bufferevent_write stop at it?");
    // [high]
    bufferevent_setwatermark(bev, EV_WRITE, 0, 1024);
    if (bufferevent_write(bev, data, 100000) < 0)
        die("bufferevent_write() failed");
    printf("after bufferevent_write(100000 bytes): %zu bytes in the output buffer\n",
           evbuffer_get_length(bufferevent_get_output(bev)));
    // [/high]
    w = (struct writer){0};
    run_until_received(base, fds[1], 100000);
    printf("all 100000 bytes arrived; the write callback ran %d times\n", w.calls);

    bufferevent_free(bev);
    close(fds[1]);
    event_base_free(base);
    return 0;
}
