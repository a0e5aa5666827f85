/* lifecycle.c -- exercise 03, BROKEN VARIANT leaks-struct (see EXPECT): where an event is in its life, and
 * a self-stopping persistent timer.
 *
 * A function-level exercise: no main(); the grading suite loads lifecycle.so
 * and calls the functions below.
 *
 * Build on its own:
 *   cc -Wall -fPIC -shared -o lifecycle.so lifecycle.c $(pkg-config --cflags --libs libevent)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "lifecycle.h"

// [state]
const char *event_state(const struct event *ev, char *buf, size_t len)
{
    static const struct {
        short bit;
        const char *name;
    } names[] = {{EV_TIMEOUT, "TIMEOUT"},
                 {EV_READ, "READ"},
                 {EV_WRITE, "WRITE"},
                 {EV_SIGNAL, "SIGNAL"},
                 {EV_CLOSED, "CLOSED"}};
    /* First: event_pending() on a zeroed struct complains ("no event_base set"). */
    if (!event_initialized(ev)) {
        snprintf(buf, len, "not initialized");
        return buf;
    }
    short on = event_pending(ev, EV_TIMEOUT | EV_READ | EV_WRITE | EV_SIGNAL | EV_CLOSED, NULL);
    if (!on) {
        snprintf(buf, len, "not pending");
        return buf;
    }
    char text[96] = "pending on ";
    const char *sep = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (on & names[i].bit) {
            strcat(text, sep);
            strcat(text, names[i].name);
            sep = "|";
        }
    snprintf(buf, len, "%s", text);
    return buf;
}
// [/state]

struct ticker {
    struct event *ev;
    int ticks, max_ticks;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct ticker *t = arg;
    (void)fd;
    (void)what;
    if (++t->ticks == t->max_ticks)
        event_del(t->ev); /* EV_PERSIST keeps it pending: only event_del stops it */
}

struct ticker *ticker_start(struct event_base *base, int interval_ms, int max_ticks)
{
    struct ticker *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max_ticks = max_ticks;
    t->ev = event_new(base, -1, EV_PERSIST, on_tick, t);
    struct timeval tv = {interval_ms / 1000, (interval_ms % 1000) * 1000};
    if (!t->ev || event_add(t->ev, &tv) < 0) {
        if (t->ev)
            event_free(t->ev);
        free(t);
        return NULL;
    }
    return t;
}

int ticker_ticks(const struct ticker *t) { return t->ticks; }

struct event *ticker_event(struct ticker *t) { return t->ev; }

void ticker_free(struct ticker *t)
{
    if (!t)
        return;
    event_free(t->ev); /* BROKEN: the struct is never freed */
}
