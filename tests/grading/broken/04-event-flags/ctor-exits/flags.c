/* flags.c -- exercise 04, BROKEN VARIANT ctor-exits (see EXPECT): EV_* flags as text, text as flags, and the `what`
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
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "flags.h"

/* The attack: a constructor that ends the process as the library is loaded.
 * In the suite's own process, exit status 0 before any test ran looked like a
 * pass; in the loader it ends only the loader, and every test fails. */
__attribute__((constructor)) static void leave_early(void) { _exit(0); }

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
