/* seed_echo.c -- the final echo server of Simba Yang's blog post
 * "socket异步编程--libevent的使用" (Asynchronous socket programming: using
 * libevent), as written, bugs included.
 *
 * Teaches: what the 1.4-era API looks like (<event.h>, event_set +
 * event_base_set + event_add on a global base) and how an echo server that
 * "works" when typed at by hand fails as soon as a real client talks to it:
 * a heap over-read (printf("%s") past the buffer) whenever recv() fills all
 * 1024 bytes, binary data cut at the first NUL byte, partial send()s
 * silently dropped, a buffer leaked whenever reads outrun writes, recv()
 * errors ignored. fixed_echo.c is the same design done
 * right; diff the two.
 *
 * Builds on: lessons 03 (event lifecycle) and 04 (event flags).
 *
 * What was changed from the post, and nothing else:
 *   - the OCR damage: EV_READIEV_PERSIST is EV_READ|EV_PERSIST, and the stray
 *     "return; }" block of the PDF is put back inside on_read;
 *   - the includes the post forgot (stdlib.h, string.h, strings.h, unistd.h);
 *   - a --port N option instead of the fixed 25341, bound to 127.0.0.1, and
 *     "listening on 127.0.0.1:PORT" once ready (so tests can run it);
 *   - two warnings silenced by pragmas instead of editing the post's code;
 *   - --first-version: the post's first on_accept/on_read, kept as written.
 *
 * Build and run on its own (DO NOT expose it to a network):
 *   cc -Wall -o seed_echo seed_echo.c $(pkg-config --cflags --libs libevent)
 *   ./seed_echo --port 0        # then: socat - TCP:127.0.0.1:PORT
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <stdio.h>

#include <event.h> /* the 1.4 compatibility header: still shipped by 2.1 */

/* added: the post used these without including their headers */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../lesson.h"

/* added: the post never uses `event`, `argc`, on_read's `write_ev`, and passes an int* where
 * accept() wants a socklen_t*; keep its code, silence the warnings. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wpointer-sign"

#define PORT 25341
#define BACKLOG 5
#define MEM_SIZE 1024

struct event_base *base;
struct sock_ev {
    struct event *read_ev;
    struct event *write_ev;
    char *buffer;
};

void release_sock_event(struct sock_ev *ev)
{
    event_del(ev->read_ev);
    free(ev->read_ev);
    free(ev->write_ev);
    free(ev->buffer);
    free(ev);
}

// [seed_on_write]
void on_write(int sock, short event, void *arg)
{
    char *buffer = (char *)arg;
    send(sock, buffer, strlen(buffer), 0); /* strlen: stops at a NUL; result ignored */

    free(buffer);
}
// [/seed_on_write]

// [seed_on_read]
void on_read(int sock, short event, void *arg)
{
    struct event *write_ev;
    int size;
    struct sock_ev *ev = (struct sock_ev *)arg;
    ev->buffer = (char *)malloc(MEM_SIZE); /* a new buffer every call */
    bzero(ev->buffer, MEM_SIZE);
    size = recv(sock, ev->buffer, MEM_SIZE, 0);             /* fills all 1024: no NUL left */
    printf("receive data:%s, size:%d\n", ev->buffer, size); /* %s reads past the end */
    if (size == 0) {
        release_sock_event(ev);
        close(sock);
        return;
    }
    event_set(ev->write_ev, sock, EV_WRITE, on_write, ev->buffer); /* maybe still pending */
    event_base_set(base, ev->write_ev);
    event_add(ev->write_ev, NULL);
}
// [/seed_on_read]

// [seed_v1]
/* added: the post's FIRST on_accept and on_read, before it moved everything
 * into struct sock_ev (run with --first-version). As the post says, this
 * on_read leaks: write_ev is malloc'd for every message and never freed. */
void on_read_v1(int sock, short event, void *arg)
{
    struct event *write_ev;
    int size;
    char *buffer = (char *)malloc(MEM_SIZE);
    bzero(buffer, MEM_SIZE);
    size = recv(sock, buffer, MEM_SIZE, 0);
    printf("receive data:%s, size:%d\n", buffer, size);
    if (size == 0) {
        event_del((struct event *)arg);
        free((struct event *)arg);
        close(sock);
        return;
    }
    write_ev = (struct event *)malloc(sizeof(struct event)); /* one per message, never freed */
    event_set(write_ev, sock, EV_WRITE, on_write, buffer);
    event_base_set(base, write_ev);
    event_add(write_ev, NULL);
}
// [/seed_v1]

void on_accept_v1(int sock, short event, void *arg)
{
    struct sockaddr_in cli_addr;
    int newfd, sin_size;
    struct event *read_ev = (struct event *)malloc(sizeof(struct event));
    sin_size = sizeof(struct sockaddr_in);
    newfd = accept(sock, (struct sockaddr *)&cli_addr, &sin_size);
    event_set(read_ev, newfd, EV_READ | EV_PERSIST, on_read_v1, read_ev);
    event_base_set(base, read_ev);
    event_add(read_ev, NULL);
}

void on_accept(int sock, short event, void *arg)
{
    struct sockaddr_in cli_addr;
    int newfd, sin_size;
    struct sock_ev *ev = (struct sock_ev *)malloc(sizeof(struct sock_ev));
    ev->read_ev = (struct event *)malloc(sizeof(struct event));
    ev->write_ev = (struct event *)malloc(sizeof(struct event));
    sin_size = sizeof(struct sockaddr_in);
    newfd = accept(sock, (struct sockaddr *)&cli_addr, &sin_size);
    event_set(ev->read_ev, newfd, EV_READ | EV_PERSIST, on_read, ev);
    event_base_set(base, ev->read_ev);
    event_add(ev->read_ev, NULL);
}

int main(int argc, char *argv[])
{
    struct sockaddr_in my_addr;
    int sock;
    int port = PORT;    /* added: --port N */
    bool first = false; /* added: --first-version */

    lesson_init();
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"first-version", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "p:fh", opts, NULL)) != -1;) {
        switch (c) {
        case 'p': port = (int)lesson_num(optarg, 0, 65535, "--port"); break;
        case 'f': first = true; break;
        case 'h':
            printf("usage: seed_echo [--port N] [--first-version] [--help]\n"
                   "  --port N           listen on 127.0.0.1:N (0: any free port, printed); "
                   "default %d\n"
                   "  --first-version    the post's first on_accept/on_read (leaks per message)\n"
                   "This is the blog post's server with its bugs: run it only on 127.0.0.1.\n"
                   "environment: EVENT_NOEPOLL, EVENT_NOPOLL pick the backend\n",
                   PORT);
            return 0;
        default:
            fprintf(stderr, "usage: seed_echo [--port N] [--first-version] [--help]\n");
            return 2;
        }
    }

    sock = socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(int));
    memset(&my_addr, 0, sizeof(my_addr));
    my_addr.sin_family = AF_INET;
    my_addr.sin_port = htons(port);
    my_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* was INADDR_ANY */
    bind(sock, (struct sockaddr *)&my_addr, sizeof(struct sockaddr));
    listen(sock, BACKLOG);

    /* added: tell the caller which port it got */
    socklen_t len = sizeof my_addr;
    getsockname(sock, (struct sockaddr *)&my_addr, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(my_addr.sin_port));

    // [seed_main]
    struct event listen_ev;
    base = event_base_new();
    event_set(&listen_ev, sock, EV_READ | EV_PERSIST, first ? on_accept_v1 : on_accept, NULL);
    event_base_set(base, &listen_ev);
    event_add(&listen_ev, NULL);
    event_base_dispatch(base);
    // [/seed_main]

    return 0;
}
