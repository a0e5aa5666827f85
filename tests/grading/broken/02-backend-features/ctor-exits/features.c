/* features.c -- exercise 02, BROKEN VARIANT ctor-exits (see EXPECT): backend features as text, and the backend an
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
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "features.h"

/* The attack: a constructor that ends the process as the library is loaded.
 * In the suite's own process, exit status 0 before any test ran looked like a
 * pass; in the loader it ends only the loader, and every test fails. */
__attribute__((constructor)) static void leave_early(void) { _exit(0); }

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
