/* features.c -- what each backend can do: event_base_get_features, all four flags.
 *
 * Teaches: a base runs on one method (event_base_get_method); its features
 * are a bit mask (event_base_get_features) of EV_FEATURE_ET, EV_FEATURE_O1,
 * EV_FEATURE_FDS and EV_FEATURE_EARLY_CLOSE. The program in Jeff Zarnett's ECE 459 lecture
 * notes (Lecture 32) tests only the
 * first three (and misspells EV_FEATURE_O1 as EV_FEATURE_01). We build one
 * base per method, print the raw mask and what every bit means, prove the
 * FDS bit by adding a regular file, and free each base with event_base_free.
 *
 * Builds on: lesson 01 (the supported methods and EVENT_NO*).
 *
 * Build and run on its own:
 *   cc -Wall -o features features.c $(pkg-config --cflags --libs libevent)
 *   ./features
 *   ./features --method poll
 *   EVENT_SHOW_METHOD=1 ./features
 */
#include <getopt.h>

#include "../lesson.h"

static const struct {
    int bit;
    const char *name, *yes, *no;
} feature[] = {
    {EV_FEATURE_ET, "EV_FEATURE_ET", "edge-triggered events (EV_ET) work",
     "no edge-triggered mode: EV_ET is accepted but acts level-triggered"},
    {EV_FEATURE_O1, "EV_FEATURE_O1", "adding, deleting and waking one event costs O(1)",
     "each wait costs O(number of fds): the whole set is handed to the kernel"},
    {EV_FEATURE_FDS, "EV_FEATURE_FDS", "any kind of fd works, regular files too",
     "only some fd kinds (sockets, pipes...): a regular file is refused"},
    {EV_FEATURE_EARLY_CLOSE, "EV_FEATURE_EARLY_CLOSE",
     "EV_CLOSED reports a peer's close even with unread data",
     "no EV_CLOSED: only a read() returning 0 tells you the peer closed"},
};

static void on_file(evutil_socket_t fd, short what, void *arg) { (void)fd, (void)what, (void)arg; }

/* EV_FEATURE_FDS for real: can this base watch a regular file? */
static void try_regular_file(struct event_base *base)
{
    FILE *f = tmpfile();
    if (f == NULL)
        die("tmpfile failed");
    struct event *ev = event_new(base, fileno(f), EV_READ, on_file, NULL);
    if (ev == NULL)
        die("event_new failed");
    errno = 0;
    int rc = event_add(ev, NULL);
    printf("    a regular file: event_add -> %d%s%s\n", rc, rc < 0 ? " " : " (accepted)",
           rc < 0 ? strerror(errno) : "");
    event_free(ev);
    fclose(f);
}

static void usage(FILE *to)
{
    fprintf(to, "usage: features [--method NAME] [--step] [--help]\n"
                "  --method NAME  show only this backend (epoll, poll, select)\n"
                "  --step         pause before each step (also EVLAB_STEP=1)\n"
                "  --help         show this text\n"
                "environment: EVENT_SHOW_METHOD=1 logs each base's method on stderr\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"method", required_argument, NULL, 'm'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *only = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "m:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'm': only = lesson_method(optarg); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "features: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    /* Copy the list: each call to event_get_supported_methods() frees the
     * array the previous call returned, and method_config() calls it too. */
    const char *methods[8] = {NULL};
    const char **list = event_get_supported_methods();
    for (int i = 0; list[i] && i < 7; i++)
        methods[i] = list[i];

    int n = 0;
    for (int i = 0; methods[i]; i++) {
        if (only && strcmp(only, methods[i]) != 0)
            continue;
        step("%d. a base that may use only %s", ++n, methods[i]);
        /* method_config() avoids every other method (lesson.h). */
        // [features]
        struct event_config *cfg = method_config(methods[i]);
        struct event_base *base = event_base_new_with_config(cfg);
        event_config_free(cfg);
        if (!base) {
            printf("  %s: no base (disabled by EVENT_NO*?)\n", methods[i]);
            continue;
        }
        int f = event_base_get_features(base);
        printf("  method %s: features 0x%x\n", event_base_get_method(base), f);
        for (size_t k = 0; k < sizeof feature / sizeof feature[0]; k++)
            printf("    %-22s %s: %s\n", feature[k].name, (f & feature[k].bit) ? "yes" : "no ",
                   (f & feature[k].bit) ? feature[k].yes : feature[k].no);
        // [/features]
        try_regular_file(base);
        // [free]
        event_base_free(base); /* frees the base; events must be freed first */
        // [/free]
    }

    step("%d. what the lecture notes' program would have printed", ++n);
    printf("  It tests EV_FEATURE_ET, EV_FEATURE_01 [sic: the macro is EV_FEATURE_O1]\n"
           "  and EV_FEATURE_FDS. It never looks at EV_FEATURE_EARLY_CLOSE (0x%x),\n"
           "  so a student never learns that epoll and poll can report EV_CLOSED.\n",
           EV_FEATURE_EARLY_CLOSE);
    return 0;
}
