/* echo_server.c -- exercise 10: fix seed 002's echo server.
 *
 * This is the final program of seed 002 ("socket async programming with
 * libevent"), in libevent's 1.4 API (<event.h>, event_set, event_base_set).
 * It echoes what a client sends... sometimes. Your job: make it echo every
 * byte, binary included, without overflowing a buffer, without leaking, and
 * without ever blocking the loop. See README.md.
 *
 * Changes from the seed, and nothing else:
 *   - the OCR damage EV_READIEV_PERSIST is repaired to EV_READ|EV_PERSIST;
 *   - `--port N` replaces the fixed PORT 25341, the socket binds 127.0.0.1,
 *     and "listening on 127.0.0.1:PORT" is printed once it listens;
 *   - only what -Wall -Wextra -Werror rejects was fixed: the missing headers
 *     (stdlib.h, string.h, strings.h, unistd.h), `int sin_size` became
 *     `socklen_t` (accept() takes a socklen_t *), the unused callback
 *     arguments are cast to void, and the code of the seed's broken
 *     fragment after `if (size == 0)` is put back in order.
 * The TODO comments mark the defects; there are more than the seed admits.
 *
 * Build and run it standalone:
 *   cc -Wall -Wextra -o echo_server echo_server.c $(pkg-config --cflags --libs libevent)
 *   ./echo_server --port 0
 * Check it: ./evlab check 10
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event.h>

#define BACKLOG 5 /* TODO: 1000 clients connect at once */
#define MEM_SIZE 1024

struct event_base *base;
struct sock_ev {
    struct event *read_ev;
    struct event *write_ev;
    char *
        buffer; /* TODO: who owns this buffer? on_write frees it, release_sock_event frees it again */
};

void release_sock_event(struct sock_ev *ev)
{
    event_del(ev->read_ev);
    free(ev->read_ev);
    free(ev->write_ev); /* TODO: write_ev may still be pending here */
    free(ev->buffer);
    free(ev);
}

void on_write(int sock, short event, void *arg)
{
    (void)event;
    char *buffer = (char *)arg;
    /* TODO: strlen stops at the first NUL byte of binary data, and runs past
     * the end when recv() filled all MEM_SIZE bytes; send() may also write
     * only part, or block the whole loop when the client does not read. */
    send(sock, buffer, strlen(buffer), 0);

    free(buffer);
}

void on_read(int sock, short event, void *arg)
{
    (void)event;
    int size;
    struct sock_ev *ev = (struct sock_ev *)arg;
    /* TODO: a new buffer on every read; the previous one leaks if on_write
     * has not run yet. */
    ev->buffer = (char *)malloc(MEM_SIZE);
    bzero(ev->buffer, MEM_SIZE);
    size = recv(sock, ev->buffer, MEM_SIZE, 0);
    /* TODO: %s on data that is not a string (no NUL when 1024 bytes came) */
    printf("receive data:%s, size:%d\n", ev->buffer, size);
    if (size == 0) { /* TODO: and size < 0 (a reset)? */
        release_sock_event(ev);
        close(sock);
        return;
    }
    /* TODO: event_set on an event that may still be pending */
    event_set(ev->write_ev, sock, EV_WRITE, on_write, ev->buffer);
    event_base_set(base, ev->write_ev);
    event_add(ev->write_ev, NULL);
}

void on_accept(int sock, short event, void *arg)
{
    (void)event;
    (void)arg;
    struct sockaddr_in cli_addr;
    int newfd;
    socklen_t sin_size;
    struct sock_ev *ev = (struct sock_ev *)malloc(sizeof(struct sock_ev));
    ev->read_ev = (struct event *)malloc(sizeof(struct event));
    ev->write_ev = (struct event *)malloc(sizeof(struct event));
    sin_size = sizeof(struct sockaddr_in);
    /* TODO: accept() can fail; the new socket is blocking */
    newfd = accept(sock, (struct sockaddr *)&cli_addr, &sin_size);
    event_set(ev->read_ev, newfd, EV_READ | EV_PERSIST, on_read, ev);
    event_base_set(base, ev->read_ev);
    event_add(ev->read_ev, NULL);
}

int main(int argc, char *argv[])
{
    struct sockaddr_in my_addr;
    int sock;
    int port = -1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: %s --port N   (0 = any free port)\n", argv[0]);
            return 0;
        } else {
            fprintf(stderr, "%s: unknown argument '%s'\nusage: %s --port N\n", argv[0], argv[i],
                    argv[0]);
            return 2;
        }
    }
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s --port N\n", argv[0]);
        return 2;
    }

    sock = socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(int));
    memset(&my_addr, 0, sizeof(my_addr));
    my_addr.sin_family = AF_INET;
    my_addr.sin_port = htons(port);
    my_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(sock, (struct sockaddr *)&my_addr, sizeof(struct sockaddr));
    listen(sock, BACKLOG);

    socklen_t len = sizeof(my_addr);
    getsockname(sock, (struct sockaddr *)&my_addr, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(my_addr.sin_port));
    fflush(stdout);

    struct event listen_ev;
    base = event_base_new();
    event_set(&listen_ev, sock, EV_READ | EV_PERSIST, on_accept, NULL);
    event_base_set(base, &listen_ev);
    event_add(&listen_ev, NULL);
    /* TODO: SIGPIPE kills the server when a client resets; SIGINT/SIGTERM
     * should free everything and exit 0 */
    event_base_dispatch(base);

    return 0;
}
