/* edge_triggered.c -- level-triggered against EV_ET, the same input for both.
 *
 * Teaches: a level-triggered event fires as long as data is waiting; an
 * edge-triggered one (EV_ET) fires once per arrival of new data, however
 * much is left unread. A callback that reads only part of the data therefore
 * strands the rest under EV_ET, unless it reads until EAGAIN (--drain).
 * Only epoll has EV_FEATURE_ET: on poll and select EV_ET is accepted and
 * silently acts level-triggered.
 *
 * Builds on: persist.c (persistent read events).
 *
 * Build and run on its own:
 *   cc -Wall -o edge_triggered edge_triggered.c $(pkg-config --cflags --libs libevent)
 *   ./edge_triggered
 *   ./edge_triggered --drain
 *   ./edge_triggered --method poll
 */
#include <getopt.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "../lesson.h"

struct side {
    const char *name;
    int sv[2];
    struct event *ev;
    int calls, got;
};

static int chunk = 2;
static bool drain;

// [callback]
static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct side *s = arg;
    char buf[4096];
    int want = chunk, got = 0;
    ssize_t n;
    s->calls++;
    /* Read `chunk` bytes, or with --drain until the socket says EAGAIN. */
    while ((n = read(fd, buf, drain ? sizeof buf : (size_t)(want - got))) > 0) {
        got += (int)n;
        if (!drain && got == want)
            break;
    }
    s->got += got;
    int left = 0;
    ioctl(fd, FIONREAD, &left);
    printf("  [%s] callback %d: what=%s, read %d, %d left\n", s->name, s->calls, FLAGS(what), got,
           left);
}
// [/callback]

/* Write n bytes into one side's pair, then run the loop until nothing is
 * ready any more (EVLOOP_NONBLOCK keeps turning while callbacks run). */
static void feed(struct event_base *base, struct side *s, int n)
{
    char data[4096];
    memset(data, 'x', (size_t)n);
    if (write(s->sv[1], data, (size_t)n) != n)
        die("write: %s", strerror(errno));
    int before = s->calls;
    printf("  [%s] the peer writes %d bytes\n", s->name, n);
    event_base_loop(base, EVLOOP_NONBLOCK);
    printf("  [%s] => %d callback%s for these %d bytes\n", s->name, s->calls - before,
           s->calls - before == 1 ? "" : "s", n);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: edge_triggered [--bytes N] [--chunk N] [--drain] [--method NAME] [--step] "
                "[--help]\n"
                "  --bytes N      bytes the peer writes in round 1 (default 8)\n"
                "  --chunk N      bytes a callback reads (default 2)\n"
                "  --drain        callbacks read until EAGAIN instead\n"
                "  --method NAME  use this backend (epoll, poll, select)\n"
                "  --step         pause before each step (also EVLAB_STEP=1)\n"
                "  --help         show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"bytes", required_argument, NULL, 'b'},
                                         {"chunk", required_argument, NULL, 'c'},
                                         {"drain", no_argument, NULL, 'd'},
                                         {"method", required_argument, NULL, 'm'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int bytes = 8;
    const char *method = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "b:c:dm:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'b': bytes = (int)lesson_num(optarg, 1, 4096, "--bytes"); break;
        case 'c': chunk = (int)lesson_num(optarg, 1, 4096, "--chunk"); break;
        case 'd': drain = true; break;
        case 'm': method = lesson_method(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "edge_triggered: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    struct event_base *base = base_for_method(method);
    int features = event_base_get_features(base);
    printf("method %s: EV_FEATURE_ET %s\n", event_base_get_method(base),
           (features & EV_FEATURE_ET) ? "yes" : "no (EV_ET will act level-triggered)");

    step("1. two socketpairs, one read event each");
    struct side lt = {.name = "LT"}, et = {.name = "ET"};
    struct side *sides[] = {&lt, &et};
    for (int i = 0; i < 2; i++) {
        struct side *s = sides[i];
        CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s->sv));
        CHECK_OK(evutil_make_socket_nonblocking(s->sv[0]));
        // [events]
        short flags = EV_READ | EV_PERSIST | (s == &et ? EV_ET : 0);
        s->ev = event_new(base, s->sv[0], flags, on_read, s);
        if (s->ev == NULL)
            die("event_new failed");
        int rc = event_add(s->ev, NULL);
        if (rc < 0)
            die("event_add failed");
        // [/events]
        printf("  [%s] event_new(%s), event_add -> %d\n", s->name, FLAGS(flags), rc);
    }
    printf("  each callback reads %s\n", drain ? "until EAGAIN" : "only a chunk of the data");

    step("2. round 1: %d bytes to each", bytes);
    feed(base, &lt, bytes);
    feed(base, &et, bytes);

    step("3. round 2: %d more bytes to each", chunk);
    feed(base, &lt, chunk);
    feed(base, &et, chunk);

    step("4. side by side");
    printf("  %-4s %9s %9s %9s\n", "mode", "callbacks", "read", "unread");
    for (int i = 0; i < 2; i++) {
        int left = 0;
        ioctl(sides[i]->sv[0], FIONREAD, &left);
        printf("  %-4s %9d %9d %9d\n", sides[i]->name, sides[i]->calls, sides[i]->got, left);
    }

    for (int i = 0; i < 2; i++) {
        event_free(sides[i]->ev);
        close(sides[i]->sv[0]);
        close(sides[i]->sv[1]);
    }
    event_base_free(base);
    return 0;
}
