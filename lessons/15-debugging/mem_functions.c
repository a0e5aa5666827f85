/* mem_functions.c -- event_set_mem_functions(): every allocation libevent makes, counted.
 *
 * Teaches: libevent allocates through three pointers that
 * event_set_mem_functions(malloc_fn, realloc_fn, free_fn) replaces (mm_malloc
 * and friends in event.c). Here they count calls and live bytes, so you can
 * watch what a base, an event and a bufferevent cost, and check that after
 * freeing everything and libevent_global_shutdown() nothing is left. It must
 * be the very first libevent call: memory allocated before it would later be
 * handed to the wrong free(). --leak skips one event_free(), and the count
 * at the end shows it. (Debian's libevent is built with this replacement on;
 * a build with --disable-malloc-replacement has no such function.)
 *
 * Builds on: clean_run.c (free everything), lesson 03.
 *
 * Build and run on its own:
 *   cc -Wall -o mem_functions mem_functions.c $(pkg-config --cflags --libs libevent)
 *   ./mem_functions
 *   ./mem_functions --leak
 */
#include <getopt.h>
#include <stddef.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>

#include "../lesson.h"

/* Each block carries its size in front, so that realloc and free can keep
 * the byte count. max_align_t keeps the caller's pointer aligned. */
union header {
    size_t size;
    max_align_t align;
};

static long n_malloc, n_realloc, n_free;
static long live_blocks, live_bytes;

// [counting]
static void *count_malloc(size_t n)
{
    union header *h = malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->size = n;
    n_malloc++, live_blocks++, live_bytes += (long)n;
    return h + 1;
}

static void count_free(void *p)
{
    if (!p)
        return;
    union header *h = (union header *)p - 1;
    n_free++, live_blocks--, live_bytes -= (long)h->size;
    free(h);
}

static void *count_realloc(void *p, size_t n)
{
    if (!p)
        return count_malloc(n);
    union header *h = (union header *)p - 1;
    size_t old = h->size;
    union header *nh = realloc(h, sizeof *nh + n);
    if (!nh)
        return NULL;
    nh->size = n;
    n_realloc++, live_bytes += (long)n - (long)old;
    return nh + 1;
}
// [/counting]

static void report(const char *when)
{
    printf("%-44s live: %3ld blocks, %6ld bytes (malloc %ld, realloc %ld, free %ld)\n", when,
           live_blocks, live_bytes, n_malloc, n_realloc, n_free);
}

static void nothing(evutil_socket_t fd, short what, void *arg) { (void)fd, (void)what, (void)arg; }

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"leak", no_argument, NULL, 'l'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *use = "usage: mem_functions [--leak] [--step] [--help]\n"
                      "  --leak  skip one event_free(): the count at the end is not zero\n"
                      "  --step  pause before each step (also EVLAB_STEP=1)\n"
                      "  --help  show this text\n";
    bool leak = false;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "lsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'l': leak = true; break;
        case 's': lesson_stepping = true; break;
        case 'h': fputs(use, stdout); return 0;
        default: fputs(use, stderr); return 2;
        }
    }
    if (optind < argc) {
        fputs(use, stderr);
        return 2;
    }

    step("1. event_set_mem_functions(), before any other libevent call");
    // [set]
    event_set_mem_functions(count_malloc, count_realloc, count_free);
    // [/set]
    report("before any base:");

    step("2. a base, an event, a bufferevent: what each allocates");
    struct event_base *base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    report("after event_base_new():");
    static struct event *ev; /* static: still reachable with --leak, so LeakSanitizer stays quiet */
    ev = event_new(base, -1, 0, nothing, NULL);
    if (!ev)
        die("event_new() failed");
    report("after event_new():");
    evutil_socket_t sv[2];
    CHECK_OK(evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    struct bufferevent *bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        die("bufferevent_socket_new() failed");
    report("after bufferevent_socket_new():");
    if (bufferevent_write(bev, "hello", 5) != 0)
        die("bufferevent_write() failed");
    report("after bufferevent_write() of 5 bytes:");

    step("3. free everything%s, then libevent_global_shutdown()",
         leak ? " except the event (--leak)" : "");
    bufferevent_free(bev);
    evutil_closesocket(sv[1]);
    if (!leak)
        event_free(ev);
    event_base_free(base);
    report("after the frees:");
    libevent_global_shutdown();
    report("after libevent_global_shutdown():");
    if (live_blocks == 0)
        printf("nothing left: every block libevent took from count_malloc came back\n");
    else
        printf("%ld block(s) never came back: a leak\n", live_blocks);
    return live_blocks == 0 ? 0 : 1;
}
