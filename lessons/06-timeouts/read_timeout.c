/* read_timeout.c -- a read event with a timeout: which one fired?
 *
 * Teaches: event_add(ev, &tv) on an EV_READ event waits for data *or* the
 * timeout, whichever comes first. The callback's `what` says which:
 * EV_READ when data arrived, EV_TIMEOUT when the time ran out. A timer here
 * writes into the pipe after --write-after-ms, so you choose the winner.
 * Both are added after the last step prompt, so waiting there changes
 * nothing.
 *
 * Builds on: timers.c; the lecture's cb_func (lesson 04) with EV_TIMEOUT|EV_READ.
 *
 * Build and run on its own:
 *   cc -Wall -o read_timeout read_timeout.c $(pkg-config --cflags --libs libevent)
 *   ./read_timeout --write-after-ms 20 --timeout-ms 500    # EV_READ wins
 *   ./read_timeout --write-after-ms 500 --timeout-ms 20    # EV_TIMEOUT wins
 *   ./read_timeout --no-write --timeout-ms 50
 */
#include <getopt.h>

#include "../lesson.h"

static int fds[2];

// [which]
static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)arg;
    if (what & EV_TIMEOUT) {
        printf("  reader: EV_TIMEOUT fired (what=%s): no data in time\n", FLAGS(what));
    } else if (what & EV_READ) {
        char buf[64];
        ssize_t n = read(fd, buf, sizeof buf);
        printf("  reader: EV_READ fired (what=%s): read %zd byte(s)\n", FLAGS(what), n);
    }
}
// [/which]

static void on_writer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    CHECK(write(fds[1], "hello", 5) == 5);
    printf("  writer: wrote 5 bytes into the pipe\n");
}

static void usage(FILE *to)
{
    fprintf(
        to,
        "usage: read_timeout [--timeout-ms N] [--write-after-ms N | --no-write] [--step] [--help]\n"
        "  --timeout-ms N      the read event's timeout (default 200)\n"
        "  --write-after-ms N  a timer writes into the pipe after N ms (default 50)\n"
        "  --no-write          nobody writes\n"
        "  --step              pause before each step (also EVLAB_STEP=1)\n"
        "  --help              show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"timeout-ms", required_argument, NULL, 't'},
                                         {"write-after-ms", required_argument, NULL, 'w'},
                                         {"no-write", no_argument, NULL, 'n'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int timeout = 200, write_after = 50;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "t:w:nsh", opts, NULL)) != -1;) {
        switch (c) {
        case 't': timeout = (int)lesson_num(optarg, 1, 60000, "--timeout-ms"); break;
        case 'w': write_after = (int)lesson_num(optarg, 1, 60000, "--write-after-ms"); break;
        case 'n': write_after = 0; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "read_timeout: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct event_base *base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");
    CHECK_OK(pipe(fds));

    step("1. a one-shot read event and a writer timer");
    struct event *reader = event_new(base, fds[0], EV_READ, on_read, NULL);
    if (reader == NULL)
        die("event_new failed");
    struct event *writer = evtimer_new(base, on_writer, NULL);
    if (writer == NULL)
        die("evtimer_new failed");
    if (write_after)
        printf("a writer will write %d ms after the start\n", write_after);
    else
        printf("nobody will write\n");

    step("2. add the read event with a %d ms timeout, then run the loop", timeout);
    // [add]
    struct timeval tv = {timeout / 1000, (timeout % 1000) * 1000};
    if (event_add(reader, &tv) < 0)
        die("event_add failed");
    // [/add]
    printf("pending on: %s\n", FLAGS(event_pending(reader, EV_READ | EV_TIMEOUT, NULL)));
    if (write_after) {
        struct timeval wtv = {write_after / 1000, (write_after % 1000) * 1000};
        if (evtimer_add(writer, &wtv) < 0)
            die("evtimer_add failed");
    }
    int rv = event_base_dispatch(base);
    printf("dispatch returned %d; the reader is %s\n", rv,
           event_pending(reader, EV_READ | EV_TIMEOUT, NULL) ? "still pending" : "not pending");

    event_free(reader);
    event_free(writer);
    close(fds[0]);
    close(fds[1]);
    event_base_free(base);
    return 0;
}
