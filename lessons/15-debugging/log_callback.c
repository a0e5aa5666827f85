/* log_callback.c -- where libevent's messages go, and its fatal errors.
 *
 * Teaches: libevent writes "[warn] ..." and "[err] ..." to stderr unless you
 * give it a log callback (event_set_log_callback); then every message comes
 * to your function with a severity, for your own log. Debug-level messages
 * (every event_add, every loop pass) appear only after
 * event_enable_debug_logging(EVENT_DBG_ALL). event_set_fatal_callback() is
 * called on a fatal error; libevent still ends the process when it returns
 * (exit with the error code). Without a fatal callback a fatal error does
 * not necessarily abort either: event_exit() in log.c calls exit(errcode),
 * and abort() only for a failed internal assertion (EVENT_ERR_ABORT_). So
 * the "too late" error of step 4 exits with status 1 either way
 * (--no-fatal-callback). A log callback must not call libevent itself.
 *
 * Builds on: debug_mode.c.
 *
 * Build and run on its own:
 *   cc -Wall -o log_callback log_callback.c $(pkg-config --cflags --libs libevent)
 *   ./log_callback
 *   ./log_callback --debug-log
 *   ./log_callback --no-callback
 *   ./log_callback --no-fatal-callback
 */
#include <getopt.h>
#include <sys/wait.h>

#include "../lesson.h"

static int counts[4];

// [log-cb]
static void my_log(int severity, const char *msg)
{
    static const char *names[] = {"DEBUG", "MSG", "WARN", "ERR"};
    if (severity < 0 || severity > 3)
        severity = 3;
    counts[severity]++;
    /* only plain C here: no libevent calls from inside the log callback */
    printf("  my log [%s] %s\n", names[severity], msg);
}
// [/log-cb]

// [fatal-cb]
static void my_fatal(int err)
{
    printf(
        "  my fatal callback: err=0x%x; cleaning up what I can, then libevent ends the process\n",
        (unsigned)err);
    fflush(stdout);
}
// [/fatal-cb]

static void nothing(evutil_socket_t fd, short what, void *arg) { (void)fd, (void)what, (void)arg; }

static void usage(FILE *to)
{
    fprintf(to, "usage: log_callback [--no-callback] [--debug-log] [--no-fatal-callback] [--step]\n"
                "                    [--help]\n"
                "  --no-callback        leave libevent's default logging (stderr) in place\n"
                "  --debug-log          event_enable_debug_logging(EVENT_DBG_ALL)\n"
                "  --no-fatal-callback  step 4 without event_set_fatal_callback()\n"
                "  --step               pause before each step (also EVLAB_STEP=1)\n"
                "  --help               show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"no-callback", no_argument, NULL, 'n'},
                                         {"debug-log", no_argument, NULL, 'd'},
                                         {"no-fatal-callback", no_argument, NULL, 'F'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool callback = true, debug_log = false, fatal_callback = true;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "ndFsh", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': callback = false; break;
        case 'd': debug_log = true; break;
        case 'F': fatal_callback = false; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "log_callback: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. set up logging: callback %s, debug logging %s", callback ? "on" : "off",
         debug_log ? "on" : "off");
    // [setup]
    if (callback)
        event_set_log_callback(my_log);
    if (debug_log)
        event_enable_debug_logging(EVENT_DBG_ALL);
    // [/setup]

    step("2. provoke a warning: event_add on a zeroed event");
    struct event_base *base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    struct event *zero = calloc(1, event_get_struct_event_size());
    if (!zero)
        die("calloc() failed");
    printf("event_add returned %d\n", event_add(zero, NULL));
    free(zero);

    step("3. run a 10 ms timer");
    struct event *t = evtimer_new(base, nothing, NULL);
    if (!t)
        die("evtimer_new() failed");
    struct timeval ms10 = {0, 10 * 1000};
    if (evtimer_add(t, &ms10) != 0)
        die("evtimer_add() failed");
    event_base_dispatch(base);
    event_free(t);
    event_base_free(base);
    printf("messages seen by my callback: debug=%d msg=%d warn=%d err=%d\n", counts[0], counts[1],
           counts[2], counts[3]);

    step("4. a fatal error in a child: event_enable_debug_mode() after a base existed (%s)",
         fatal_callback ? "with a fatal callback" : "no fatal callback");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed: %s", strerror(errno));
    if (pid == 0) {
        // [too-late]
        if (fatal_callback)
            event_set_fatal_callback(my_fatal);
        /* A base was created (and freed) above, before the fork: too late. */
        event_enable_debug_mode();
        // [/too-late]
        printf("  child: still running?\n");
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st))
        printf("child exited with status %d%s\n", WEXITSTATUS(st),
               fatal_callback ? "" : " (no abort: libevent's event_exit() calls exit(1))");
    else
        printf("child killed by signal %d (%s)\n", WTERMSIG(st), strsignal(WTERMSIG(st)));
    return 0;
}
