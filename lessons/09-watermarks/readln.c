/* readln.c -- line framing with evbuffer_readln and its end-of-line styles.
 *
 * Teaches: a read callback gets bytes, not lines; evbuffer_readln cuts one
 * line off the front of the input buffer, or returns NULL when no complete
 * line is there yet. Each EOL style ends lines differently. The line is a
 * malloc'd copy (free it), and a last line with no end-of-line stays in the
 * buffer: at EOF it is yours to take with evbuffer_remove.
 *
 * Builds on: read_watermarks.c (same socketpair skeleton).
 *
 * Build and run on its own:
 *   cc -Wall -o readln readln.c $(pkg-config --cflags --libs libevent)
 *   ./readln --eol lf
 *   ./readln --eol any
 */
#include <getopt.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "../lesson.h"

/* What the sender writes: every kind of line end, an empty line, a NUL, and
 * a last line with no end at all. */
static const char input[] = "alpha\r\nbeta\n\ngamma\r\r\ndelta\0epsilon\nzeta";

static const struct {
    const char *name, *macro;
    enum evbuffer_eol_style style;
} styles[] = {{"lf", "EVBUFFER_EOL_LF", EVBUFFER_EOL_LF},
              {"crlf", "EVBUFFER_EOL_CRLF", EVBUFFER_EOL_CRLF},
              {"crlf_strict", "EVBUFFER_EOL_CRLF_STRICT", EVBUFFER_EOL_CRLF_STRICT},
              {"any", "EVBUFFER_EOL_ANY", EVBUFFER_EOL_ANY},
              {"nul", "EVBUFFER_EOL_NUL", EVBUFFER_EOL_NUL}};

static enum evbuffer_eol_style style;

/* Print bytes with \r, \n and \0 visible. */
static void show(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r')
            fputs("\\r", stdout);
        else if (s[i] == '\n')
            fputs("\\n", stdout);
        else if (s[i] == '\0')
            fputs("\\0", stdout);
        else
            putchar(s[i]);
    }
    putchar('"');
}

// [readcb]
static void on_read(struct bufferevent *bev, void *arg)
{
    int *lines = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char *line;
    size_t n;
    while ((line = evbuffer_readln(in, &n, style)) != NULL) {
        printf("   line %d: ", ++*lines);
        show(line, n);
        printf(" (%zu bytes)\n", n);
        free(line); /* a malloc'd copy: the buffer no longer has it */
    }
    printf("   no complete line left; %zu bytes stay in the input buffer\n",
           evbuffer_get_length(in));
}
// [/readcb]

// [eof]
static void on_event(struct bufferevent *bev, short events, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (events & BEV_EVENT_EOF) {
        char rest[64];
        int n = evbuffer_remove(in, rest, sizeof rest);
        printf("   EOF: the unterminated rest is ");
        show(rest, n > 0 ? (size_t)n : 0);
        printf(" (%d bytes, taken with evbuffer_remove)\n", n);
    }
    bufferevent_disable(bev, EV_READ);
}
// [/eof]

static void usage(FILE *to)
{
    fprintf(to, "usage: readln [--eol lf|crlf|crlf_strict|any|nul] [--step] [--help]\n"
                "  --eol STYLE   the evbuffer_eol_style for evbuffer_readln (default lf)\n"
                "  --step        pause before each step (also EVLAB_STEP=1)\n"
                "  --help        show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"eol", required_argument, NULL, 'e'},
                                         {"step", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *name = "lf";
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'e': name = optarg; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "readln: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    size_t i = 0;
    while (i < sizeof styles / sizeof styles[0] && strcmp(styles[i].name, name) != 0)
        i++;
    if (i == sizeof styles / sizeof styles[0]) {
        fprintf(stderr, "readln: unknown --eol '%s' (lf, crlf, crlf_strict, any, nul)\n", name);
        usage(stderr);
        return 2;
    }
    style = styles[i].style;
    struct event_base *base = event_base_new();
    if (!base)
        die("event_base_new() failed");

    step("1. the sender writes %zu bytes and closes its end", sizeof input - 1);
    int fds[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
    CHECK_OK(evutil_make_socket_nonblocking(fds[0]));
    printf("   sent: ");
    show(input, sizeof input - 1);
    printf("\n");
    CHECK(write(fds[1], input, sizeof input - 1) == (ssize_t)(sizeof input - 1));
    close(fds[1]);

    step("2. the read callback cuts lines with %s", styles[i].macro);
    int lines = 0;
    struct bufferevent *bev = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        die("bufferevent_socket_new() failed");
    bufferevent_setcb(bev, on_read, NULL, on_event, &lines);
    if (bufferevent_enable(bev, EV_READ) < 0)
        die("bufferevent_enable(EV_READ) failed");
    event_base_dispatch(base);
    printf("%d lines with %s\n", lines, styles[i].macro);

    bufferevent_free(bev);
    event_base_free(base);
    return 0;
}
