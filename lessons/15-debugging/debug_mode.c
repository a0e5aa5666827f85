/* debug_mode.c -- event_enable_debug_mode() catching real mistakes.
 *
 * Teaches: in debug mode libevent remembers every event it has set up, so it
 * can tell when you add an event it never initialized (here: a struct event
 * that was copied, as happens when an array of events is realloc'd), assign
 * an event that is still pending, or use an event after event_free(). It
 * then logs "[err] ..." and aborts, right at the mistake. Each mistake runs in
 * its own child process (fork), so this program shows the diagnostic and goes
 * on. With --no-debug the same mistakes pass silently or go wrong later.
 *
 * Debug mode is not a memory checker, though: it keys its table by the
 * event's address (event.c, the event_debug_map hash table). The mistake
 * "reused" frees an event, makes a new one that malloc places at the same
 * address, and adds the stale pointer: debug mode sees a set-up event there
 * and says nothing. (AddressSanitizer, which does not reuse freed memory at
 * once, catches it.)
 *
 * Builds on: lesson 03 (event lifecycle).
 *
 * Build and run on its own:
 *   cc -Wall -o debug_mode debug_mode.c $(pkg-config --cflags --libs libevent)
 *   ./debug_mode
 *   ./debug_mode --no-debug
 *   ./debug_mode --mistake reassign
 */
#include <getopt.h>
#include <signal.h>
#include <sys/wait.h>

#include <event2/event_struct.h> /* struct event's size, for the copy mistake */

#include "../lesson.h"

static void nothing(evutil_socket_t fd, short what, void *arg) { (void)fd, (void)what, (void)arg; }

static struct timeval one_sec = {1, 0};

/* Each mistake returns normally only if libevent let it pass. */
static void zeroed(struct event_base *base)
{
    (void)base;
    // [zeroed]
    struct event *ev = calloc(1, event_get_struct_event_size()); /* never assigned */
    int rv = event_add(ev, &one_sec);
    // [/zeroed]
    printf("    child: event_add on a zeroed struct returned %d\n", rv);
    free(ev);
}

static void copied(struct event_base *base)
{
    // [copied]
    struct event *orig = event_new(base, -1, 0, nothing, NULL);
    struct event copy = *orig; /* e.g. an array of struct event that was realloc'd */
    int rv = event_add(&copy, &one_sec);
    // [/copied]
    printf("    child: event_add on a copied struct event returned %d\n", rv);
}

static void reassign(struct event_base *base)
{
    // [reassign]
    struct event ev;
    event_assign(&ev, base, -1, 0, nothing, NULL);
    event_add(&ev, &one_sec);
    event_assign(&ev, base, -1, 0, nothing, NULL); /* still pending! */
    // [/reassign]
    printf("    child: event_assign on a pending event returned; freeing the base\n");
    event_base_free(base); /* the base's timer heap still points at ev */
    printf("    child: event_base_free returned\n");
}

static void use_after_free(struct event_base *base)
{
    // [uaf]
    struct event *ev = event_new(base, -1, 0, nothing, NULL);
    event_free(ev);
    int rv = event_add(ev, &one_sec); /* ev is freed memory */
    // [/uaf]
    printf("    child: event_add after event_free returned %d\n", rv);
}

static void reused(struct event_base *base)
{
    // [reused]
    struct event *ev = event_new(base, -1, 0, nothing, NULL);
    event_free(ev);
    struct event *other = event_new(base, -1, 0, nothing, NULL); /* often the same address */
    int rv = event_add(ev, &one_sec); /* ev is stale: it points at `other` now, or at nothing */
    // [/reused]
    printf("    child: the new event is %s the freed one's address\n",
           (void *)other == (void *)ev ? "at" : "NOT at");
    printf("    child: event_add through the stale pointer returned %d\n", rv);
}

static void blocking_fd(struct event_base *base)
{
    // [blocking]
    int fds[2];
    if (pipe(fds) < 0) /* blocking, as pipe() makes them */
        _exit(3);
    struct event *ev = event_new(base, fds[0], EV_READ, nothing, NULL);
    int rv = event_add(ev, NULL);
    // [/blocking]
    printf("    child: event_add with a blocking fd returned %d\n", rv);
}

static const struct mistake {
    const char *name, *what;
    void (*run)(struct event_base *);
} mistakes[] = {
    {"zeroed", "event_add on a zeroed, never-assigned struct event", zeroed},
    {"copied", "event_add on a copy of an event (never set up by libevent)", copied},
    {"reassign", "event_assign on an event that is still pending", reassign},
    {"use-after-free", "event_add on an event after event_free", use_after_free},
    {"reused", "event_add after event_free, when a new event took the same address", reused},
    {"blocking-fd", "event_add of a read event on a blocking fd", blocking_fd},
};

static void run_child(const struct mistake *m, bool debug)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed: %s", strerror(errno));
    if (pid == 0) {
        alarm(1); /* a mistake that hangs is reported as a hang */
        // [enable]
        if (debug)
            event_enable_debug_mode(); /* first libevent call, before any base */
        // [/enable]
        struct event_base *base = event_base_new();
        if (!base)
            _exit(3);
        m->run(base);
        fflush(stdout);
        _exit(0); /* no cleanup: the child may have corrupted its base */
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st))
        printf("  -> child exited %d: %s\n", WEXITSTATUS(st),
               WEXITSTATUS(st) == 0 ? "libevent let the program go on" : "it failed");
    else if (WTERMSIG(st) == SIGALRM)
        printf("  -> child hung and was killed by SIGALRM after 1 s\n");
    else
        printf("  -> child killed by signal %d (%s)\n", WTERMSIG(st), strsignal(WTERMSIG(st)));
}

static void usage(FILE *to)
{
    fprintf(to, "usage: debug_mode [--no-debug] [--mistake NAME] [--step] [--help]\n"
                "  --no-debug      commit the mistakes without event_enable_debug_mode()\n"
                "  --mistake NAME  only one: zeroed, copied, reassign, use-after-free,\n"
                "                  reused, blocking-fd\n"
                "  --step          pause before each step (also EVLAB_STEP=1)\n"
                "  --help          show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"no-debug", no_argument, NULL, 'n'},
                                         {"mistake", required_argument, NULL, 'm'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool debug = true;
    const char *only = NULL;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "nm:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': debug = false; break;
        case 'm': only = optarg; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    size_t n = sizeof mistakes / sizeof mistakes[0];
    bool found = !only;
    for (size_t i = 0; only && i < n; i++)
        found |= strcmp(only, mistakes[i].name) == 0;
    if (!found) {
        fprintf(stderr, "debug_mode: unknown --mistake '%s'\n", only);
        usage(stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "debug_mode: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
#ifdef __SANITIZE_ADDRESS__
    printf(
        "(built with AddressSanitizer: a child may report the sanitizer's diagnostic instead)\n");
#endif
    printf("debug mode in the children: %s; libevent's messages go to stderr\n",
           debug ? "on" : "off");
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, mistakes[i].name) != 0)
            continue;
        step("%d. %s: %s", ++k, mistakes[i].name, mistakes[i].what);
        fflush(stderr);
        run_child(&mistakes[i], debug);
    }
    printf("the parent made no mistake and exits 0\n");
    return 0;
}
