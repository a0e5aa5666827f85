/* loop_continue.c -- event_base_loopcontinue() re-polls before the rest.
 *
 * Teaches: the loop runs every active callback of a priority before it polls
 * the kernel again. event_base_loopcontinue(), called from a callback, makes
 * it poll again right after that callback: here callback A makes a pipe
 * readable, and the pipe's read event (a higher priority) then runs before B
 * and C instead of after them. Nothing is skipped; only the order changes.
 *
 * Builds on: exit_vs_break.c; priorities are lesson 04's idea of "who first".
 *
 * Build and run on its own:
 *   cc -Wall -o loop_continue loop_continue.c $(pkg-config --cflags --libs libevent)
 *   ./loop_continue
 *   ./loop_continue --no-continue
 */
#include <getopt.h>

#include "../lesson.h"

static struct event_base *base;
static bool use_continue = true;
static int fds[2];

// [continue]
static void on_active(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    const char *name = arg;
    printf("  callback %s ran\n", name);
    if (strcmp(name, "A") == 0) {
        CHECK(write(fds[1], "x", 1) == 1); /* the pipe is readable from now on */
        if (use_continue) {
            printf("  A calls event_base_loopcontinue()\n");
            event_base_loopcontinue(base);
        }
    }
}
// [/continue]

static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
    (void)what, (void)arg;
    char c;
    CHECK(read(fd, &c, 1) == 1);
    printf("  callback pipe ran (priority 0)\n");
}

static void usage(FILE *to)
{
    fprintf(to, "usage: loop_continue [--no-continue] [--step] [--help]\n"
                "  --no-continue  A does not call event_base_loopcontinue()\n"
                "  --step         pause before each step (also EVLAB_STEP=1)\n"
                "  --help         show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"no-continue", no_argument, NULL, 'n'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "nsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': use_continue = false; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "loop_continue: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");
    CHECK_OK(event_base_priority_init(base, 2)); /* 0 runs before 1 */
    CHECK_OK(pipe(fds));

    step("1. a pipe reader at priority 0; A, B, C active at priority 1");
    struct event *rd = event_new(base, fds[0], EV_READ, on_pipe, NULL);
    if (rd == NULL)
        die("event_new failed");
    if (event_priority_set(rd, 0) < 0)
        die("event_priority_set failed");
    if (event_add(rd, NULL) < 0)
        die("event_add failed");
    const char *names[3] = {"A", "B", "C"};
    struct event *evs[3];
    for (int i = 0; i < 3; i++) {
        evs[i] = event_new(base, -1, 0, on_active, (void *)names[i]);
        CHECK(evs[i] != NULL);
        if (event_priority_set(evs[i], 1) < 0)
            die("event_priority_set failed");
        event_active(evs[i], EV_TIMEOUT, 0);
    }

    step("2. run the loop (%s)", use_continue ? "A calls loopcontinue" : "no loopcontinue");
    int rv = event_base_dispatch(base);
    printf("loop returned %d: all four callbacks ran\n", rv);

    event_free(rd);
    for (int i = 0; i < 3; i++)
        event_free(evs[i]);
    close(fds[0]);
    close(fds[1]);
    event_base_free(base);
    return 0;
}
