/* uv_echo.c -- the same echo server on libuv, for a side-by-side measurement.
 *
 * Teaches: libuv's shape next to libevent's. libuv asks you for a buffer
 * (alloc_cb) before each read, and a uv_write completes through a callback.
 * To compare fairly, this server uses epoll_echo.c's read size and write
 * strategy: one reusable buffer per connection of --read-size bytes (default
 * 65536, as epoll_echo), uv_try_write() at once, and only what the kernel
 * would not take goes to a queued uv_write, with reading stopped until it
 * completes. What remains different is libuv's own machinery: its read
 * loop inside a wake-up, and its handle and request queues.
 *
 * Builds on: 10 (bufferevent_echo.c is the libevent version), 17 (epoll_echo.c).
 *
 * Build and run on its own:
 *   cc -O2 -Wall -o uv_echo uv_echo.c $(pkg-config --cflags --libs libuv)
 *   ./uv_echo --port 0 [--read-size 4096]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

static size_t read_size = 65536; /* --read-size */

struct conn {
    uv_tcp_t tcp; /* first member: the handle pointer is the conn pointer */
    char *buf;    /* read_size bytes, reused for every read */
};

struct write_req {
    uv_write_t req;
    uv_buf_t buf; /* the bytes uv_try_write could not send */
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested; /* libuv suggests 65536 */
    struct conn *c = (struct conn *)h;
    *buf = uv_buf_init(c->buf, (unsigned)read_size);
}

static void on_closed(uv_handle_t *h)
{
    struct conn *c = (struct conn *)h;
    free(c->buf);
    free(c);
}

static void on_read(uv_stream_t *client, ssize_t n, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    uv_stream_t *client = req->handle;
    free(w->buf.base);
    free(w);
    if (status == 0) /* the queue drained: read again (an error shows up as a read error) */
        uv_read_start(client, on_alloc, on_read);
}

static void on_read(uv_stream_t *client, ssize_t n, const uv_buf_t *buf)
{
    if (n < 0) { /* UV_EOF or an error */
        uv_close((uv_handle_t *)client, on_closed);
        return;
    }
    if (n == 0)
        return;
    int sent = uv_try_write(client, &(uv_buf_t){.base = buf->base, .len = (size_t)n}, 1);
    if (sent == UV_EAGAIN)
        sent = 0;
    if (sent < 0) {
        uv_close((uv_handle_t *)client, on_closed);
        return;
    }
    if (sent == n)
        return;
    struct write_req *w = malloc(sizeof *w);
    w->buf = uv_buf_init(malloc((size_t)n - (size_t)sent), (unsigned)(n - sent));
    memcpy(w->buf.base, buf->base + sent, (size_t)n - (size_t)sent);
    uv_read_stop(client); /* stop reading while the peer is behind */
    uv_write(&w->req, client, &w->buf, 1, on_written);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof *c);
    c->buf = malloc(read_size);
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    (void)signum;
    uv_stop(sig->loop);
}

static long number(const char *s, long lo, long hi, const char *flag)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "uv_echo: %s needs %ld to %ld, not '%s'\n", flag, lo, hi, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long port = -1;
    bool help = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            help = true;
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = number(argv[++i], 0, 65535, "--port");
        else if (strcmp(argv[i], "--read-size") == 0 && i + 1 < argc)
            read_size = (size_t)number(argv[++i], 1, 65536, "--read-size");
        else
            port = -2;
    }
    if (help || port < 0) { /* --help: the usage on stdout, exit 0; a mistake: stderr, 2 */
        fprintf(help ? stdout : stderr,
                "usage: uv_echo --port N [--read-size BYTES]   (port 0 picks a free "
                "port and prints it)\n");
        return help ? 0 : 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", (int)port, &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (rc != 0) {
        fprintf(stderr, "uv_echo: %s\n", uv_strerror(rc));
        return 1;
    }
    int len = sizeof addr;
    uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    uv_signal_t sigint, sigterm;
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
