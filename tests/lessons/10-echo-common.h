/* 10-echo-common.h -- what the lesson 10 suites (10-echo-server.c,
 * 10-echo-robustness.c) share about echo servers: where the servers are, how
 * to start one, and clients that talk to it over real sockets on 127.0.0.1.
 * Running a server and the client side of a transfer are the general helpers
 * of tests/support/evserver.h (evs_*); what is here is about echoing (echo_*).
 */
#ifndef EVLAB_ECHO_COMMON_H
#define EVLAB_ECHO_COMMON_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evserver.h"
#include "evtest.h"

/* build/lessons/10-echo-server/NAME (or the same under $EVLAB_BUILD) */
static inline const char *echo_prog(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "lessons/10-echo-server/%s", name);
    return evt_prog(rel);
}

/* Are the lesson 10 servers built with a sanitizer (slower, bigger)? */
static inline bool echo_sanitized(void) { return evs_is_sanitized(echo_prog("bufferevent_echo")); }

/* Start PROG --port 0 EXTRA... with env; wait for its port; drain its output. */
static inline void echo_start(struct evs_server *s, const char *prog, const char *const extra[],
                              const char *const env[])
{
    const char *argv[32] = {prog, "--port", "0"};
    int n = 3;
    for (int i = 0; extra && extra[i] && n < 30; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    evs_start(s, argv, env, 30);
}

/* ---- clients ------------------------------------------------------------------------ */

/* One round trip: send msg, expect exactly it back. */
static inline void echo_once(int port, const char *msg, size_t len)
{
    int fd = evt_connect(port, 5);
    cr_assert_geq(fd, 0, "connect: %s", strerror(errno));
    cr_assert_eq(evt_write_all(fd, msg, len, 5), len);
    char *back = malloc(len + 1);
    size_t got = evt_read_n(fd, back, len, 5);
    cr_assert_eq(got, len, "expected %zu bytes back, got %zu", len, got);
    cr_assert_eq(memcmp(back, msg, len), 0, "echo differs at offset %zu",
                 evt_first_diff(back, msg, len));
    free(back);
    close(fd);
}

/* Check a full echo of `n` random bytes; slow/half_close as in evs_duplex(). */
static inline void echo_big(int port, size_t n, bool slow, bool half_close, unsigned seed)
{
    unsigned char *data = malloc(n), *back = malloc(n);
    cr_assert(data && back);
    evt_random_bytes(data, n, seed);
    int fd = evt_connect(port, 5);
    cr_assert_geq(fd, 0);
    size_t got = evs_duplex(
        fd, data, n, back, n,
        (struct evs_duplex_opts){
            .timeout_s = 60, .slow = slow, .half_close = half_close, .to_eof = half_close});
    cr_assert_eq(got, n, "expected %zu bytes back, got %zu (first difference at %zu)", n, got,
                 evt_first_diff(data, back, got < n ? got : n));
    size_t d = evt_first_diff(data, back, n);
    cr_assert_eq(d, n, "echo is not byte-exact: first difference at offset %zu of %zu", d, n);
    if (half_close)
        cr_assert(evt_wait_eof(fd, 5), "after shutdown(SHUT_WR) the server must close");
    close(fd);
    free(data);
    free(back);
}

/* The stream echo_push_until_stall() sends: byte k is echo_push_byte(k). Lines of 63
 * digits, so line_echo answers them unchanged too, with a NUL byte every 512
 * (so seed_echo's printf("%s") stops inside its buffer: in the ASan build
 * the tests show its other failures, not the overflow again). */
static inline unsigned char echo_push_byte(size_t k)
{
    if (k % 512 == 510)
        return 0;
    return (k % 64 == 63) ? '\n' : (unsigned char)('0' + k % 8); /* period divides 64 KiB */
}

/* How many bytes a client that never reads can push before the server stops
 * taking them (nothing accepted for 300 ms), up to `limit`. */
static inline size_t echo_push_until_stall_for(int fd, size_t limit, double stall_s)
{
    static unsigned char chunk[65536];
    for (size_t k = 0; k < sizeof chunk; k++)
        chunk[k] = echo_push_byte(k);
    size_t sent = 0;
    double last = evt_now();
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (sent < limit && evt_now() - last < stall_s) {
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        size_t off = sent % sizeof chunk;
        ssize_t w = send(fd, chunk + off, sizeof chunk - off, MSG_NOSIGNAL);
        if (w > 0) {
            sent += (size_t)w;
            last = evt_now();
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            break;
        }
    }
    return sent;
}

static inline size_t echo_push_until_stall(int fd, size_t limit)
{
    return echo_push_until_stall_for(fd, limit, 0.3);
}

#endif
