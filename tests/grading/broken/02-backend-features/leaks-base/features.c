/* features.c -- exercise 02, BROKEN VARIANT leaks-base (see EXPECT): backend features as text, and the
 * backend an event_config would pick.
 *
 * A function-level exercise: no main(); the grading suite loads features.so
 * and calls the three functions below.
 *
 * Build on its own:
 *   cc -Wall -fPIC -shared -o features.so features.c $(pkg-config --cflags --libs libevent)
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "features.h"

static const struct {
    int bit;
    const char *name;
} names[] = {
    {EV_FEATURE_ET, "ET"},
    {EV_FEATURE_O1, "O1"},
    {EV_FEATURE_FDS, "FDS"},
    {EV_FEATURE_EARLY_CLOSE, "EARLY_CLOSE"}, /* the one seed 000 forgets */
};

int describe_features(int features, char *buf, size_t len)
{
    char text[128] = "";
    unsigned rest = (unsigned)features;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(rest & (unsigned)names[i].bit))
            continue;
        if (text[0])
            strcat(text, "|");
        strcat(text, names[i].name);
        rest &= ~(unsigned)names[i].bit;
    }
    if (rest)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s0x%x", text[0] ? "|" : "",
                 rest);
    return snprintf(buf, len, "%s", text[0] ? text : "none");
}

// [method_with]
const char *method_with(int required, const char *avoid)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return NULL;
    if (avoid)
        event_config_avoid_method(cfg, avoid);
    event_config_require_features(cfg, required);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base)
        return NULL; /* no backend has all of `required` */
    /* The name points into libevent's static backend table: it stays valid
     * after the base is gone. */
    const char *name = event_base_get_method(base);
    return name; /* BROKEN: the base is never freed */
}
// [/method_with]

int method_features(const char *method)
{
    const char **all = event_get_supported_methods();
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return -1;
    int known = 0;
    for (int i = 0; all[i]; i++) {
        if (strcmp(all[i], method) == 0)
            known = 1;
        else
            event_config_avoid_method(cfg, all[i]);
    }
    struct event_base *base = known ? event_base_new_with_config(cfg) : NULL;
    event_config_free(cfg);
    if (!base)
        return -1; /* unknown here, or disabled by EVENT_NO* */
    int f = event_base_get_features(base);
    event_base_free(base);
    return f;
}
