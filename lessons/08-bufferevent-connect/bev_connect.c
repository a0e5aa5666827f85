/* bev_connect.c -- a bufferevent client: connected, refused, by name, closed on free.
 *
 * Teaches: bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE) makes a
 * bufferevent with no socket yet; bufferevent_socket_connect() creates the
 * socket and starts a non-blocking connect. Success and failure both arrive
 * later in the event callback (BEV_EVENT_CONNECTED or BEV_EVENT_ERROR), even
 * for a refused port. bufferevent_socket_connect_hostname() resolves a name
 * with evdns first. BEV_OPT_CLOSE_ON_FREE decides who closes the socket.
 *
 * Builds on: lesson 05 (the loop) and the last example of Jeff Zarnett's
 * "Lecture 32 -- Event-Driven I/O with libevent" (ECE 459), fixed: it
 * included no <netinet/in.h>, never freed the bufferevent or the base, and
 * its comment "an error occurred while connecting" ignores later errors.
 *
 * Build and run on its own:
 *   cc -Wall -o bev_connect bev_connect.c $(pkg-config --cflags --libs libevent)
 *   ./bev_connect
 *   ./bev_connect --port 1 --no-close-on-free
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "../lesson.h"

static struct event_base *base;

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = -1; /* opendir's own fd is in the list: do not count it */
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static const char *bev_events(short ev, char *buf, size_t len)
{
    static const struct {
        short bit;
        const char *name;
    } names[] = {{BEV_EVENT_READING, "READING"}, {BEV_EVENT_WRITING, "WRITING"},
                 {BEV_EVENT_EOF, "EOF"},         {BEV_EVENT_ERROR, "ERROR"},
                 {BEV_EVENT_TIMEOUT, "TIMEOUT"}, {BEV_EVENT_CONNECTED, "CONNECTED"}};
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (ev & names[i].bit)
            snprintf(buf + strlen(buf), len - strlen(buf), "%sBEV_EVENT_%s", buf[0] ? "|" : "",
                     names[i].name);
    return buf;
}

// [eventcb]
static void on_event(struct bufferevent *bev, short events, void *arg)
{
    bool *done = arg;
    printf("   event callback: 0x%02x = %s\n", (unsigned)events,
           bev_events(events, (char[128]){0}, 128));
    if (events & BEV_EVENT_CONNECTED) {
        printf("   connected; the socket is fd %d\n", bufferevent_getfd(bev));
    } else if (events & BEV_EVENT_ERROR) {
        int dns_err = bufferevent_socket_get_dns_error(bev);
        if (dns_err) /* the name did not resolve: errno says nothing here */
            printf("   name lookup failed: %s\n", evutil_gai_strerror(dns_err));
        else
            printf("   socket error: %s\n", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
    *done = true;
    event_base_loopbreak(base); /* the listener would keep the loop running */
}
// [/eventcb]

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    event_base_loopbreak(base);
}

/* Run the loop until the event callback has run, or 1 s has passed. */
static void wait_for(bool *done)
{
    struct timeval one_s = {1, 0};
    struct event *guard = evtimer_new(base, on_guard, NULL);
    if (!guard)
        die("evtimer_new() failed");
    CHECK_OK(evtimer_add(guard, &one_s));
    event_base_dispatch(base);
    event_free(guard);
    if (!*done)
        printf("   no callback within 1 s: the request is still waiting\n");
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)l, (void)sa, (void)len, (void)arg;
    evutil_closesocket(fd); /* the lesson is about the client side */
}

/* A stub DNS server on 127.0.0.1: it answers "no such name" to everything,
 * so a failed lookup never needs the network. */
static void on_dns_request(struct evdns_server_request *req, void *arg)
{
    (void)arg;
    evdns_server_request_respond(req, DNS_ERR_NOTEXIST);
}

static int bound_socket(int type, struct sockaddr_in *sin)
{
    int fd = socket(AF_INET, type, 0);
    socklen_t len = sizeof *sin;
    *sin = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || bind(fd, (struct sockaddr *)sin, sizeof *sin) < 0 ||
        getsockname(fd, (struct sockaddr *)sin, &len) < 0)
        die("socket/bind on 127.0.0.1:0: %s", strerror(errno));
    evutil_make_socket_nonblocking(fd);
    return fd;
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: bev_connect [--host NAME] [--hosts FILE] [--port N] [--no-close-on-free]\n"
            "                   [--no-dns-server] [--step] [--help]\n"
            "  --host NAME          the name step 4 connects to (default localhost)\n"
            "  --hosts FILE         the hosts file step 4 loads (default /etc/hosts)\n"
            "  --port N             connect to 127.0.0.1:N instead of the lesson's own listener\n"
            "  --no-close-on-free   step 5 without BEV_OPT_CLOSE_ON_FREE\n"
            "  --no-dns-server      give evdns no nameserver at all (only /etc/hosts)\n"
            "  --step               pause before each step (also EVLAB_STEP=1)\n"
            "  --help               show this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},    {"hosts", required_argument, NULL, 'f'},
        {"port", required_argument, NULL, 'p'},    {"no-close-on-free", no_argument, NULL, 'n'},
        {"no-dns-server", no_argument, NULL, 'd'}, {"step", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *host = "localhost", *hosts_file = "/etc/hosts";
    int port = -1;
    bool close_on_free = true, dns_server = true;
    lesson_init();
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'H': host = optarg; break;
        case 'f': hosts_file = optarg; break;
        case 'p': port = (int)lesson_num(optarg, 1, 65535, "--port"); break;
        case 'n': close_on_free = false; break;
        case 'd': dns_server = false; break;
        case 's': lesson_stepping = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bev_connect: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    base = event_base_new();
    if (!base)
        die("event_base_new() failed");

    step("1. somewhere to connect to, and somewhere that refuses");
    struct evconnlistener *listener = NULL;
    struct sockaddr_in target, closed;
    int closed_fd = bound_socket(SOCK_STREAM, &closed); /* bound, never listening */
    if (port < 0) {
        int lfd = bound_socket(SOCK_STREAM, &target);
        listener = evconnlistener_new(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, 16, lfd);
        if (!listener)
            die("evconnlistener_new() failed");
        printf("lesson listener on 127.0.0.1:%d (an evconnlistener in this process)\n",
               ntohs(target.sin_port));
    } else {
        target = (struct sockaddr_in){.sin_family = AF_INET,
                                      .sin_port = htons((uint16_t)port),
                                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        printf("target 127.0.0.1:%d (--port: whatever listens there, if anything)\n", port);
    }
    printf("closed port 127.0.0.1:%d (bound but not listening: connects are refused)\n",
           ntohs(closed.sin_port));

    step("2. connect to 127.0.0.1:%d", ntohs(target.sin_port));
    // [connect]
    bool done = false;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        die("bufferevent_socket_new() failed");
    printf("bufferevent_socket_new(base, -1, ...): fd is %d (no socket yet: connect makes one)\n",
           bufferevent_getfd(bev));
    bufferevent_setcb(bev, NULL, NULL, on_event, &done);
    int rc = bufferevent_socket_connect(bev, (struct sockaddr *)&target, sizeof target);
    printf("bufferevent_socket_connect() returned %d; the socket now exists: fd %s\n", rc,
           bufferevent_getfd(bev) >= 0 ? "set" : "unset");
    wait_for(&done);
    bufferevent_free(bev);
    // [/connect]

    step("3. connect to the closed port 127.0.0.1:%d", ntohs(closed.sin_port));
    done = false;
    bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        die("bufferevent_socket_new() failed");
    bufferevent_setcb(bev, NULL, NULL, on_event, &done);
    rc = bufferevent_socket_connect(bev, (struct sockaddr *)&closed, sizeof closed);
    printf("bufferevent_socket_connect() returned %d: the refusal is not known yet\n", rc);
    wait_for(&done);
    bufferevent_free(bev);

    step("4. connect by name: '%s', then 'no-such-host.invalid'", host);
    // [hostname]
    struct evdns_base *dns = evdns_base_new(base, 0); /* 0: no resolv.conf, no network */
    if (!dns)
        die("evdns_base_new() failed");
    if (evdns_base_load_hosts(dns, hosts_file) < 0)
        /* Not fatal: when the file cannot be read, libevent still adds
         * localhost (127.0.0.1 and ::1) before returning -1
         * (evdns_base_load_hosts_impl in evdns.c). Minimal containers have
         * no /etc/hosts at all. */
        printf("evdns_base_load_hosts(%s) returned -1: the file cannot be read; "
               "libevent added localhost anyway\n",
               hosts_file);
    // [/hostname]
    struct evdns_server_port *dns_port = NULL;
    int dns_fd = -1;
    if (dns_server) {
        struct sockaddr_in ns;
        char addr[32];
        dns_fd = bound_socket(SOCK_DGRAM, &ns);
        dns_port = evdns_add_server_port_with_base(base, dns_fd, 0, on_dns_request, NULL);
        if (!dns_port)
            die("evdns_add_server_port_with_base() failed");
        snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(ns.sin_port));
        CHECK_OK(evdns_base_nameserver_ip_add(dns, addr));
        printf("evdns: %s, then a stub nameserver on 127.0.0.1 that knows no names\n", hosts_file);
    } else {
        printf("evdns: %s only, no nameserver\n", hosts_file);
    }
    const char *names[] = {host, "no-such-host.invalid"};
    for (int i = 0; i < 2; i++) {
        done = false;
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!bev)
            die("bufferevent_socket_new() failed");
        bufferevent_setcb(bev, NULL, NULL, on_event, &done);
        rc = bufferevent_socket_connect_hostname(bev, dns, AF_INET, names[i],
                                                 ntohs(target.sin_port));
        printf("connect_hostname('%s', %d) returned %d\n", names[i], ntohs(target.sin_port), rc);
        wait_for(&done);
        if (!done) { /* fail the waiting lookup, so the bufferevent it holds is let go */
            printf("evdns_base_free(dns, 1) fails the lookups still waiting:\n");
            evdns_base_free(dns, 1);
            dns = NULL;
            event_base_loop(base, EVLOOP_NONBLOCK);
        }
        bufferevent_free(bev);
        if (!dns)
            break;
    }

    step("5. bufferevent_free %s BEV_OPT_CLOSE_ON_FREE", close_on_free ? "with" : "without");
    // [close_on_free]
    done = false;
    bev = bufferevent_socket_new(base, -1, close_on_free ? BEV_OPT_CLOSE_ON_FREE : 0);
    if (!bev)
        die("bufferevent_socket_new() failed");
    bufferevent_setcb(bev, NULL, NULL, on_event, &done);
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&target, sizeof target) < 0)
        die("bufferevent_socket_connect() failed");
    wait_for(&done);
    int fd = bufferevent_getfd(bev), before = count_open_fds();
    bufferevent_free(bev);
    int right_after = count_open_fds();
    /* The real teardown is a finalizer that runs in the loop, so run it once. */
    event_base_loop(base, EVLOOP_NONBLOCK);
    int after = count_open_fds();
    bool still_open = fcntl(fd, F_GETFD) != -1;
    printf("open fds: %d before bufferevent_free, %d right after it, %d after one more loop pass\n",
           before, right_after, after);
    printf("the socket %s\n", still_open ? "is still open: it is yours to close (closing it now)"
                                         : "was closed by bufferevent_free");
    if (still_open)
        evutil_closesocket(fd);
    // [/close_on_free]

    if (dns_port)
        evdns_close_server_port(dns_port); /* closes dns_fd too */
    if (dns)
        evdns_base_free(dns, 1);
    if (listener)
        evconnlistener_free(listener);
    evutil_closesocket(closed_fd);
    event_base_free(base);
    return 0;
}
