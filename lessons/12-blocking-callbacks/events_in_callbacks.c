/* events_in_callbacks.c -- adding, deleting and freeing events from callbacks while the loop runs.
 *
 * Teaches: the blog post "libevent demo" concluded that adding events after
 * event_base_loop() starts crashes. It does not: a callback may add new
 * events, delete pending ones and free its own event, and the running loop
 * picks the changes up. The post does not show the code that crashed; its
 * commented-out lines suggest the most likely cause, an event whose memory
 * dies while it is still pending (`struct event read_ev` on the callback's
 * stack, gone when the callback returns) -- so events made in callbacks
 * live on the heap (event_new). The legacy event_set() without a base is refused by 2.1
 * (event_add returns -1 and warns), not a crash.
 *
 * Builds on: lesson 03 (event lifecycle), lesson 06 (timers).
 *
 * Build and run on its own:
 *   cc -Wall -o events_in_callbacks events_in_callbacks.c $(pkg-config --cflags --libs libevent)
 *   ./events_in_callbacks
 */
#include <getopt.h>

#include <event2/event_struct.h> /* struct event by value, legacy style (before compat) */
#include <event2/event_compat.h>

#include "../lesson.h"

static struct event_base *base;
static struct event *victim; /* pending, then deleted from a callback */
static int children_fired;

static void on_child(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct event *self = arg;
    printf("  child event %p ran; freeing itself from its own callback\n", (void *)self);
    children_fired++;
    event_free(self); /* allowed: libevent is done with it */
}

static void on_victim(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    printf("  victim ran (it should have been deleted!)\n");
}

// [tick]
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    static int n;
    struct event *self = arg;
    (void)fd, (void)what;
    printf("tick %d: the loop is running; adding a new event from this callback\n", ++n);
    struct event *child = event_new(base, -1, 0, on_child, event_self_cbarg());
    struct timeval soon = {0, 10000};
    if (!child)
        die("event_new() failed in a callback");
    int rc = event_add(child, &soon);
    printf("  event_add(new child) = %d\n", rc);
    if (rc != 0)
        die("event_add() failed in a callback");
    if (n == 2) {
        printf("  event_del(victim) = %d: it will not run\n", event_del(victim));
    }
    if (n == 3) {
        printf("  deleting and freeing the ticking event itself\n");
        event_free(self);
    }
}
// [/tick]

static void on_noop(int fd, short what, void *arg) { (void)fd, (void)what, (void)arg; }

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"step", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "sh", opts, NULL)) != -1;) {
        switch (c) {
        case 's': lesson_stepping = true; break;
        case 'h': printf("usage: events_in_callbacks [--step] [--help]\n"); return 0;
        default: fprintf(stderr, "usage: events_in_callbacks [--step] [--help]\n"); return 2;
        }
    }

    step("1. a ticking timer and a victim timer; then the loop");
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, event_self_cbarg());
    victim = evtimer_new(base, on_victim, NULL);
    struct timeval every = {0, 50000}, late = {0, 400000};
    if (!tick || !victim)
        die("event_new()/evtimer_new() failed");
    if (event_add(tick, &every) != 0 || event_add(victim, &late) != 0)
        die("event_add() failed");
    int rc = event_base_dispatch(base);
    printf("loop returned %d: no events left (%d children ran, victim deleted, all freed)\n", rc,
           children_fired);

    step("2. the legacy API: event_set() on an event that never gets a base");
    // [legacy]
    struct event legacy; /* event_set() uses the base of event_init(), if any */
    event_set(&legacy, -1, 0, on_noop, NULL);
    struct timeval tv = {1, 0};
    printf("event_add() without event_base_set() = %d (refused, not a crash)\n",
           event_add(&legacy, &tv));
    // [/legacy]

    event_free(victim);
    event_base_free(base);
    return 0;
}
