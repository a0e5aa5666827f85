/* flags.c -- exercise 04, BROKEN VARIANT dispatch-not-once (see EXPECT): EV_* flags as text, text as flags, and
 * the `what` a callback really receives.
 *
 * A function-level exercise: no main(); the grading suite loads flags.so and
 * calls the three functions below.
 *
 * Build on its own:
 *   cc -Wall -fPIC -shared -o flags.so flags.c $(pkg-config --cflags --libs libevent)
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "flags.h"

static const struct {
    short bit;
    const char *name;
} names[] = {
    {EV_TIMEOUT, "EV_TIMEOUT"},   {EV_READ, "EV_READ"},       {EV_WRITE, "EV_WRITE"},
    {EV_SIGNAL, "EV_SIGNAL"},     {EV_PERSIST, "EV_PERSIST"}, {EV_ET, "EV_ET"},
    {EV_FINALIZE, "EV_FINALIZE"}, {EV_CLOSED, "EV_CLOSED"},
};
#define NNAMES (sizeof names / sizeof names[0])

/* Append s to buf like snprintf would: count everything, store what fits. */
static void put(char *buf, size_t len, size_t *at, const char *s)
{
    for (; *s; s++, (*at)++)
        if (*at + 1 < len)
            buf[*at] = *s;
    if (len)
        buf[*at < len ? *at : len - 1] = '\0';
}

int flags_to_string(short flags, char *buf, size_t len)
{
    unsigned rest = (unsigned short)flags;
    size_t at = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < NNAMES; i++) {
        if (!(rest & (unsigned)names[i].bit))
            continue;
        if (at)
            put(buf, len, &at, "|");
        put(buf, len, &at, names[i].name);
        rest &= ~(unsigned)names[i].bit;
    }
    if (rest) {
        char hex[16];
        snprintf(hex, sizeof hex, "0x%x", rest);
        if (at)
            put(buf, len, &at, "|");
        put(buf, len, &at, hex);
    }
    if (!at)
        put(buf, len, &at, "0");
    return (int)at;
}

int flags_from_string(const char *text)
{
    if (!text)
        return -1;
    const char *t = text + strspn(text, " ");
    if (t[0] == '0' && t[1 + strspn(t + 1, " ")] == '\0')
        return 0; /* "0" alone: no flags */
    int flags = 0;
    const char *s = text;
    for (;;) {
        while (*s == ' ')
            s++;
        const char *start = s;
        while (*s && *s != '|' && *s != ' ')
            s++;
        size_t n = (size_t)(s - start);
        while (*s == ' ')
            s++;
        if (n == 0)
            return -1; /* "" or "EV_READ||EV_WRITE" */
        size_t i = 0;
        for (; i < NNAMES; i++)
            if (strlen(names[i].name) == n && strncmp(names[i].name, start, n) == 0)
                break;
        if (i == NNAMES)
            return -1;
        flags |= names[i].bit;
        if (!*s)
            return flags;
        if (*s != '|')
            return -1; /* "EV_READ EV_WRITE" */
        s++;
    }
}

// [observe]
static void record_what(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    *(short *)arg = what;
}

int observe(struct event_base *base, evutil_socket_t fd, short events, int timeout_ms)
{
    short got = 0;
    struct event *ev = event_new(base, fd, events, record_what, &got);
    if (!ev)
        return -1;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    if (event_add(ev, timeout_ms >= 0 ? &tv : NULL) < 0) {
        event_free(ev);
        return -1;
    }
    /* One round: wait for the first thing to happen, run the callbacks, return.
     * A persistent event stays pending, so dispatch() would never return. */
    event_base_dispatch(base); /* BROKEN: never returns for EV_PERSIST */
    event_free(ev);            /* deletes it too if still pending */
    return got;
}
// [/observe]
