/* uv_echo.c -- the same echo server on libuv, for a side-by-side measurement.
 *
 * Teaches: libuv's shape next to libevent's. libuv hands you a buffer it
 * asked you to allocate (alloc_cb), and a write completes through a callback
 * that frees the request; back-pressure is your job. The server echoes each
 * chunk as one uv_write, so the buffer lives until that write is done.
 *
 * Builds on: 10 (bufferevent_echo.c is the libevent version).
 *
 * Build and run on its own:
 *   cc -O2 -Wall -o uv_echo uv_echo.c $(pkg-config --cflags --libs libuv)
 *   ./uv_echo --port 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

struct write_req {
    uv_write_t req;
    uv_buf_t buf;
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void on_closed(uv_handle_t *h) { free(h); }

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    (void)status; /* an error shows up again as a read error, which closes */
    free(w->buf.base);
    free(w);
}

static void on_read(uv_stream_t *client, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0) {
        struct write_req *w = malloc(sizeof *w);
        w->buf = uv_buf_init(buf->base, (unsigned)n);
        uv_write(&w->req, client, &w->buf, 1, on_written);
        return;
    }
    free(buf->base);
    if (n < 0) /* UV_EOF or an error */
        uv_close((uv_handle_t *)client, on_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *client = malloc(sizeof *client);
    uv_tcp_init(server->loop, client);
    if (uv_accept(server, (uv_stream_t *)client) == 0)
        uv_read_start((uv_stream_t *)client, on_alloc, on_read);
    else
        uv_close((uv_handle_t *)client, on_closed);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    (void)signum;
    uv_stop(sig->loop);
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--port") != 0) {
        fprintf(stderr, "usage: uv_echo --port N   (0 picks a free port and prints it)\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", atoi(argv[2]), &addr);
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
