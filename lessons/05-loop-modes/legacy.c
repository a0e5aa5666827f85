/* legacy.c -- the libevent 1.x pair event_init/event_dispatch, beside 2.x.
 *
 * Teaches: old code (and old tutorials) call event_init(), which creates a
 * base and makes it the hidden global "current_base", then event_set(),
 * event_add() and event_dispatch(), which all use that global. libevent 2
 * keeps them in <event2/event_compat.h> as deprecated. The 2.x replacement
 * names its base: event_base_new(), event_new(base, ...) or event_assign(),
 * event_base_dispatch(base). The two runs below do the same work and print
 * the same lines. Prefer the 2.x calls: a hidden global base is not safe
 * with threads or with more than one base.
 *
 * Builds on: loop_modes.c (dispatch).
 *
 * Build and run on its own:
 *   cc -Wall -o legacy legacy.c $(pkg-config --cflags --libs libevent)
 *   ./legacy
 */
#include <getopt.h>

#include "../lesson.h"

/* After event2/event.h (lesson.h includes it): the 1.x API and struct event
 * by value, as 1.x code had it. */
#include <event2/event_compat.h>
#include <event2/event_struct.h>

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    printf("  %s: timer fired, what=%s\n", (const char *)arg, FLAGS(what));
}

static void usage(FILE *to)
{
    fprintf(to, "usage: legacy [--step] [--help]\n"
                "  --step  pause before each step (also EVLAB_STEP=1)\n"
                "  --help  show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"step", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "sh", opts, NULL)) != -1;) {
        switch (c) {
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "legacy: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    struct timeval ten_ms = {0, 10 * 1000};

    step("1. libevent 1.x style: a hidden global base");
    // [legacy]
    struct event_base *global = event_init(); /* also sets the global current_base */
    if (global == NULL)
        die("event_init failed");
    struct event old_style;
    event_set(&old_style, -1, 0, on_timer, "1.x"); /* no base argument: uses current_base */
    if (event_add(&old_style, &ten_ms) < 0)
        die("event_add failed");
    int rv = event_dispatch(); /* runs current_base */
    // [/legacy]
    printf("  event_dispatch() -> %d\n", rv);
    event_base_free(global);

    step("2. libevent 2.x style: the base is named everywhere");
    // [modern]
    struct event_base *base = event_base_new();
    if (base == NULL)
        die("event_base_new failed");
    struct event *ev = evtimer_new(base, on_timer, "2.x");
    if (ev == NULL)
        die("evtimer_new failed");
    if (evtimer_add(ev, &ten_ms) < 0)
        die("evtimer_add failed");
    rv = event_base_dispatch(base);
    // [/modern]
    printf("  event_base_dispatch(base) -> %d\n", rv);
    event_free(ev);
    event_base_free(base);
    return 0;
}
