/* priorities.c -- event priorities: who runs first, and who can starve.
 *
 * Teaches: event_base_priority_init(base, n) gives a base n priority levels,
 * 0 the most urgent; a new event gets n/2 until event_priority_set() changes
 * it. When several events are active, the loop runs the active callbacks of
 * the most urgent non-empty level, then looks again (event_process_active
 * in libevent's event.c): a level-0 event that keeps re-activating itself
 * starves every lower level. event_priority_set() refuses (-1) while an
 * event is active, and priority_init refuses once an event is active.
 *
 * Builds on: exit_vs_break.c (event_active, several callbacks in one turn);
 * lesson 03 used a priority to catch an event while it was active.
 *
 * Build and run on its own:
 *   cc -Wall -o priorities priorities.c $(pkg-config --cflags --libs libevent)
 *   ./priorities
 *   ./priorities --repeats 5
 */
#include <getopt.h>

#include "../lesson.h"

static int repeats = 3; /* how often "urgent" re-activates itself */

struct named {
    struct event *ev;
    const char *name;
};

// [callback]
static void on_named(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct named *n = arg;
    printf("  %-8s (priority %d) ran\n", n->name, event_get_priority(n->ev));
    if (strcmp(n->name, "urgent") == 0 && repeats-- > 0) {
        event_active(n->ev, EV_TIMEOUT, 0); /* again, at once */
        printf("  %-8s re-activates itself\n", n->name);
    }
}
// [/callback]

static void usage(FILE *to)
{
    fprintf(to,
            "usage: priorities [--repeats N] [--step] [--help]\n"
            "  --repeats N  times the priority-0 event re-activates itself (0..100, default 3)\n"
            "  --step       pause before each step (also EVLAB_STEP=1)\n"
            "  --help       show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"repeats", required_argument, NULL, 'r'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "r:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'r': repeats = (int)lesson_num(optarg, 0, 100, "--repeats"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "priorities: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct event_base *base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");

    step("1. three priority levels; a new event gets the middle one");
    // [init]
    if (event_base_priority_init(base, 3) < 0)
        die("event_base_priority_init failed");
    // [/init]
    printf("  event_base_get_npriorities -> %d\n", event_base_get_npriorities(base));
    struct named ev[3] = {{NULL, "low"}, {NULL, "normal"}, {NULL, "urgent"}};
    for (int i = 0; i < 3; i++) {
        ev[i].ev = event_new(base, -1, 0, on_named, &ev[i]);
        CHECK(ev[i].ev != NULL);
    }
    printf("  a new event's priority: %d (npriorities / 2)\n", event_get_priority(ev[1].ev));
    // [set]
    if (event_priority_set(ev[0].ev, 2) < 0 || event_priority_set(ev[2].ev, 0) < 0)
        die("event_priority_set failed");
    // [/set]
    printf("  low -> 2, urgent -> 0 (0 is the most urgent)\n");

    step("2. activate low, normal, urgent (in that order) and run the loop");
    for (int i = 0; i < 3; i++)
        event_active(ev[i].ev, EV_TIMEOUT, 0);
    printf("  event_priority_set on an active event -> %d (refused)\n",
           event_priority_set(ev[1].ev, 0));
    printf("  event_base_priority_init on a base with active events -> %d (refused)\n",
           event_base_priority_init(base, 5));
    int rv = event_base_dispatch(base);
    printf("  dispatch -> %d; the order is by priority, not by activation\n", rv);
    printf("  while urgent kept re-activating itself, lower levels waited:\n"
           "  priority is strict, and a busy urgent event starves the rest\n");

    for (int i = 0; i < 3; i++)
        event_free(ev[i].ev);
    event_base_free(base);
    return 0;
}
