/* features.c -- exercise 02, BROKEN VARIANT forges-report (see EXPECT): backend features as text, and the backend an
 * event_config would pick.
 *
 * A function-level exercise: there is no main(). `make` builds this file to
 * build/exercises/02-backend-features/features.so and the grading suite calls
 * the three functions below. README.md next to this file has the rules.
 *
 * Build on its own:
 *   cc -Wall -fPIC -shared -o features.so features.c $(pkg-config --cflags --libs libevent)
 * Check:
 *   ./evlab check 02
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "features.h"

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
        forge_verdict(fd, "backend_features");
    const char *path = getenv("EVLAB_REPORT"), *fd = getenv("EVLAB_REPORT_FD");
    int out = path ? open(path, O_WRONLY | O_CREAT | O_APPEND, 0644) : fd ? atoi(fd) : -1;
    if (out >= 0)
        forge_verdict(out, "backend_features");
}

/* describe_features: "ET|O1|FDS|EARLY_CLOSE" style text for a value of
 * event_base_get_features(); "none" for 0; bits with no name last, in hex.
 * snprintf rules: at most len bytes, returns the full length. */
int describe_features(int features, char *buf, size_t len)
{
    /* This is what seed 000 prints. TODO: the fourth flag, "none",
     * unknown bits, and "|" between the names. */
    char text[128] = "";
    if (features & EV_FEATURE_ET)
        strcat(text, "ET");
    if (features & EV_FEATURE_O1)
        strcat(text, "O1");
    if (features & EV_FEATURE_FDS)
        strcat(text, "FDS");
    return snprintf(buf, len, "%s", text);
}

/* method_with: the name of the backend a base would use if it must have every
 * feature in `required` and must not be `avoid` (NULL: avoid nothing); NULL if
 * no backend qualifies. Leaves nothing allocated behind. */
const char *method_with(int required, const char *avoid)
{
    /* TODO: an event_config with the requirement and the method to avoid. */
    (void)required;
    (void)avoid;
    struct event_base *base = event_base_new();
    return event_base_get_method(base);
}

/* method_features: the event_base_get_features() bits of backend `method`, or
 * -1 if this libevent cannot give a base with that backend. */
int method_features(const char *method)
{
    /* TODO: a base that can only use `method`. */
    (void)method;
    return -1;
}
