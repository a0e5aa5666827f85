/* lifecycle.c -- exercise 03, BROKEN VARIANT ctor-exits (see EXPECT): where an event is in its life, and a
 * self-stopping persistent timer.
 *
 * A function-level exercise: there is no main(). `make` builds this file to
 * build/exercises/03-event-lifecycle/lifecycle.so and the grading suite
 * calls the functions below. README.md next to this file has the rules.
 *
 * Build on its own:
 *   cc -Wall -fPIC -shared -o lifecycle.so lifecycle.c $(pkg-config --cflags --libs libevent)
 * Check:
 *   ./evlab check 03
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "lifecycle.h"

/* The attack: a constructor that ends the process as the library is loaded.
 * In the suite's own process, exit status 0 before any test ran looked like a
 * pass; in the loader it ends only the loader, and every test fails. */
__attribute__((constructor)) static void leave_early(void) { _exit(0); }

/* event_state: "not initialized", "not pending", or "pending on " and the
 * names TIMEOUT READ WRITE SIGNAL CLOSED joined by "|" (for example
 * "pending on TIMEOUT|READ"). Writes at most len bytes; returns buf. */
const char *event_state(const struct event *ev, char *buf, size_t len)
{
    /* TODO: event_initialized(), event_pending(). */
    (void)ev;
    snprintf(buf, len, "TODO");
    return buf;
}

/* A ticker: a persistent timer that fires every interval_ms, counts its
 * ticks, and after max_ticks stops itself (it is then no longer pending).
 *   ticker_start()  create it and start it (NULL on failure)
 *   ticker_ticks()  how many times it has fired
 *   ticker_event()  its struct event (the suite checks it with event_pending)
 *   ticker_free()   free it, whether it is still pending or not */
struct ticker {
    struct event *ev;
    int ticks, max_ticks;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct ticker *t = arg;
    (void)fd;
    (void)what;
    /* TODO: count the tick; stop after max_ticks. */
    (void)t;
}

struct ticker *ticker_start(struct event_base *base, int interval_ms, int max_ticks)
{
    struct ticker *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max_ticks = max_ticks;
    /* TODO: a timer that fires every interval_ms and calls on_tick. */
    (void)base;
    (void)interval_ms;
    (void)on_tick;
    return t;
}

int ticker_ticks(const struct ticker *t) { return t->ticks; }

struct event *ticker_event(struct ticker *t) { return t->ev; }

void ticker_free(struct ticker *t)
{
    if (!t)
        return;
    /* TODO: free what ticker_start() made. */
    free(t);
}
