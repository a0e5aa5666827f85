/* time_wait.c -- who keeps TIME_WAIT, and what SO_REUSEADDR does about re-binding.
 *
 * Teaches: the side that closes a TCP connection first keeps its end in
 * TIME_WAIT (state 06 in /proc/net/tcp) for 60 s on Linux. If clients close
 * first, TIME_WAIT sits on their ephemeral ports and a restarted server can
 * bind its port again. If the server closes first, its accepted sockets keep
 * the server's own port in TIME_WAIT, and bind() fails with EADDRINUSE --
 * unless SO_REUSEADDR was set both on the old listener (accepted sockets
 * inherit it) and on the new socket. SO_REUSEADDR does not remove TIME_WAIT
 * and does not let two sockets listen on one port. evconnlistener sets it
 * only when asked with LEV_OPT_REUSEABLE.
 *
 * Builds on: note 5 of the blog post "libevent demo"; lesson 10 (evconnlistener).
 *
 * Build and run on its own:
 *   cc -Wall -o time_wait time_wait.c $(pkg-config --cflags --libs libevent)
 *   ./time_wait --closer server
 *   ./time_wait --closer server --reuseaddr
 *   ./time_wait --closer client
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <event2/listener.h>

#include "../lesson.h"

#define MAX_CONNS 16

static int nconns = 3, accepted[MAX_CONNS], naccepted;

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)sa, (void)len, (void)arg;
    accepted[naccepted++] = fd;
    if (naccepted == nconns)
        if (event_base_loopbreak(evconnlistener_get_base(l)) != 0)
            die("event_base_loopbreak() failed");
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_OK(fd);
    CHECK_OK(connect(fd, (struct sockaddr *)&sin, sizeof sin));
    return fd;
}

/* Close `first` (active close), then let `second` see EOF and close (passive).
 * `second` may be non-blocking (evconnlistener's sockets are): read() < 0
 * with EAGAIN is "not yet", not EOF, so wait for the FIN with poll(). */
static void close_pair(int first, int second)
{
    char c;
    close(first);
    for (;;) {
        ssize_t n = read(second, &c, 1);
        if (n == 0)
            break; /* EOF: the peer's FIN arrived */
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = second, .events = POLLIN};
            if (poll(&pfd, 1, 5000) == 0)
                die("no EOF within 5 s after the other side closed");
        } else if (n < 0 && errno != EINTR) {
            die("read() failed while waiting for EOF: %s", strerror(errno));
        }
    }
    close(second);
}

// [proc]
/* TIME_WAIT (state 06) sockets whose local / remote port is `port`. */
static void count_time_wait(int port, int *local, int *remote)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    unsigned lport, rport, st;
    *local = *remote = 0;
    if (!f)
        die("cannot open /proc/net/tcp");
    while (fgets(line, sizeof line, f))
        if (sscanf(line, " %*d: %*x:%x %*x:%x %x", &lport, &rport, &st) == 3 && st == 0x06) {
            *local += lport == (unsigned)port;
            *remote += rport == (unsigned)port;
        }
    fclose(f);
}
// [/proc]

static void try_bind(int port, bool reuse, const char *what)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (reuse)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    int rc = bind(fd, (struct sockaddr *)&sin, sizeof sin);
    printf("%s, %s SO_REUSEADDR: bind 127.0.0.1:%d %s%s\n", what, reuse ? "with" : "without", port,
           rc == 0 ? "ok" : "failed: ", rc == 0 ? "" : strerror(errno));
    close(fd);
}

static void usage(FILE *to)
{
    fprintf(
        to,
        "usage: time_wait [--closer client|server] [--reuseaddr] [--conns N] [--step] [--help]\n"
        "  --closer WHO   which side closes first (default client)\n"
        "  --reuseaddr    LEV_OPT_REUSEABLE on the listener and SO_REUSEADDR on the re-bind\n"
        "  --conns N      connections to open and close (1-%d, default 3)\n"
        "  --step         pause before each step (also EVLAB_STEP=1)\n"
        "  --help         show this text\n",
        MAX_CONNS);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"closer", required_argument, NULL, 'c'}, {"reuseaddr", no_argument, NULL, 'r'},
        {"conns", required_argument, NULL, 'n'},  {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    bool server_closes = false, reuse = false;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "c:rn:sh", opts, NULL)) != -1;) {
        switch (c) {
        case 'c':
            if (strcmp(optarg, "server") && strcmp(optarg, "client")) {
                fprintf(stderr, "time_wait: --closer must be client or server, not '%s'\n", optarg);
                usage(stderr);
                return 2;
            }
            server_closes = strcmp(optarg, "server") == 0;
            break;
        case 'r': reuse = true; break;
        case 'n': nconns = (int)lesson_num(optarg, 1, MAX_CONNS, "--conns"); break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "time_wait: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    step("1. an evconnlistener on a free port, %s LEV_OPT_REUSEABLE", reuse ? "with" : "without");
    struct event_base *base;
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // [listener]
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | (reuse ? LEV_OPT_REUSEABLE : 0);
    struct evconnlistener *l;
    l = evconnlistener_new_bind(base, on_accept, NULL, flags, 16, (struct sockaddr *)&sin,
                                sizeof sin);
    if (!l)
        die("evconnlistener_new_bind() failed");
    // [/listener]
    socklen_t len = sizeof sin;
    int on = 0, port;
    getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &len);
    port = ntohs(sin.sin_port);
    len = sizeof on;
    getsockopt(evconnlistener_get_fd(l), SOL_SOCKET, SO_REUSEADDR, &on, &len);
    printf("listener on 127.0.0.1:%d, SO_REUSEADDR is %s\n", port, on ? "on" : "off");

    step("2. %d clients connect; the loop accepts them", nconns);
    int clients[MAX_CONNS];
    for (int i = 0; i < nconns; i++)
        clients[i] = connect_to(port);
    event_base_dispatch(base);
    printf("accepted %d connections\n", naccepted);

    step("3. the %s closes first", server_closes ? "server" : "client");
    for (int i = 0; i < nconns; i++) {
        if (server_closes)
            close_pair(accepted[i], clients[i]);
        else
            close_pair(clients[i], accepted[i]);
    }
    int local, remote;
    count_time_wait(port, &local, &remote);
    printf("TIME_WAIT (state 06) in /proc/net/tcp: %d with local port %d (server side), "
           "%d with remote port %d (client side)\n",
           local, port, remote, port);

    step("4. re-bind the port: while the listener is open, then after closing it");
    try_bind(port, true, "listener still open");
    evconnlistener_free(l);
    try_bind(port, reuse, "listener closed");

    event_base_free(base);
    return 0;
}
