/* flags.c -- exercise 04, BROKEN VARIANT forges-report (see EXPECT): EV_* flags as text, text as flags, and the `what`
 * a callback really receives.
 *
 * A function-level exercise: there is no main(). `make` builds this file to
 * build/exercises/04-event-flags/flags.so and the grading suite calls the
 * three functions below. Read README.md next to this file for the rules.
 *
 * Build on its own:
 *   cc -Wall -fPIC -shared -o flags.so flags.c $(pkg-config --cflags --libs libevent)
 * Check:
 *   ./evlab check 04
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "flags.h"

/* The attack: a constructor that writes made-up verdict lines ("PASS" for
 * every test, and an invented 9999-point one) to every fd it might have
 * inherited and to $EVLAB_REPORT / $EVLAB_REPORT_FD. The loader holds only its
 * socket to the suite (the lines garble the first reply) and no EVLAB_*
 * variable; the functions below are the starter's, so every test fails. */
static void forge_verdict(int fd, const char *suite)
{
    char line[256];
    int n = snprintf(line, sizeof line, "%s::anything\tPASS\t9999\t0.01\tfree points\t\n", suite);
    if (n > 0 && write(fd, line, (size_t)n) < 0)
        return;
}

__attribute__((constructor)) static void forge(void)
{
    for (int fd = 3; fd < 1024; fd++)
        forge_verdict(fd, "event_flags");
    const char *path = getenv("EVLAB_REPORT"), *fd = getenv("EVLAB_REPORT_FD");
    int out = path ? open(path, O_WRONLY | O_CREAT | O_APPEND, 0644) : fd ? atoi(fd) : -1;
    if (out >= 0)
        forge_verdict(out, "event_flags");
}

/* flags_to_string: the names of the bits set in `flags`, lowest bit first,
 * joined by "|" ("EV_READ|EV_PERSIST"); bits without a name at the end as one
 * hex number ("0x300"); "0" when no bit is set. Writes at most `len` bytes
 * (always NUL-terminated when len > 0) and returns the length of the whole
 * text, like snprintf. */
int flags_to_string(short flags, char *buf, size_t len)
{
    /* TODO: name every EV_* bit. Only two are done, and unknown bits, "0",
     * truncation and the return value are missing. */
    buf[0] = '\0';
    if (flags & EV_READ)
        strcat(buf, "EV_READ");
    if (flags & EV_WRITE)
        strcat(buf, "|EV_WRITE");
    (void)len;
    return 0;
}

/* flags_from_string: the reverse. "EV_READ|EV_PERSIST" -> 0x12; spaces
 * around a name are allowed; "0" -> 0; anything else -> -1. */
int flags_from_string(const char *text)
{
    /* TODO: split at '|', trim spaces, look each name up. */
    (void)text;
    return -1;
}

/* observe: create an event for `events` on fd, add it with a timeout of
 * timeout_ms milliseconds (none if timeout_ms < 0), let the loop run one
 * round, free the event, and return the `what` its callback received (0 if
 * it did not run). */
int observe(struct event_base *base, evutil_socket_t fd, short events, int timeout_ms)
{
    /* TODO: event_new() with a callback that stores `what` where observe()
     * can read it; event_add(); one round of the loop; event_free(). */
    (void)base;
    (void)fd;
    (void)events;
    (void)timeout_ms;
    return 0;
}
