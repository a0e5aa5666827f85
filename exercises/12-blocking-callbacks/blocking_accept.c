/* blocking_accept.c -- exercise 12: fix seed 003's blocking accept.
 *
 * Seed 003 ("libevent demo") concluded that one thread cannot serve two
 * telnet clients, because its accept callback sleep()s and then serves one
 * client to the end before the next is accepted. That conclusion is wrong:
 * the callback is. Make this server echo for many clients at once, in one
 * thread, with one event loop. See README.md.
 *
 * Changes from the seed: `--port N` (0 = any free port) instead of 9877, the
 * socket binds 127.0.0.1, "listening on 127.0.0.1:PORT" is printed; the seed's
 * commented-out str_echo() call is done (a blocking echo loop, which is what
 * the seed describes: "telnet -> call_accept -> str_echo, then the next");
 * its sleep(10) is sleep(2); `clilen` is initialized (-Werror rejects the
 * seed's uninitialized use); unused callback arguments are cast to void.
 *
 *   cc -Wall -Wextra -o blocking_accept blocking_accept.c $(pkg-config --cflags --libs libevent)
 *   ./blocking_accept --port 0
 * Check it: ./evlab check 12
 */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <event.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <string.h>

typedef struct sockaddr *SA;
struct event_base *main_base;

/* The seed's echo: read up to 100 bytes, write them back. */
void str_echo(int fd, short event, void *arg)
{
    (void)event;
    (void)arg;
    char buf[100];
    int n;

    n = read(fd, buf, 100);
    fputs("a socket has come\n", stdout);
    if (n <= 0) {
        return;
    }
    if (write(fd, buf, n) < 0)
        perror("write");
}

void call_accept(int fd, short event, void *arg)
{
    (void)event;
    (void)arg;
    sleep(2); /* TODO: the whole loop sleeps here: nobody is served meanwhile */
    printf("come in a new accept\n");
    struct sockaddr_in cliaddr;
    socklen_t clilen = sizeof(cliaddr);
    int connfd;
    connfd = accept(fd, (struct sockaddr *)&cliaddr, &clilen);
    printf("accept from cliaddr\n");
    /* TODO: this serves one client until it hangs up, blocking every other
     * client. Instead, give connfd its own persistent read event (the seed's
     * commented-out event_set(&read_ev, ...) had the right idea, but not on
     * the stack) and return at once. Adding events while the loop runs is
     * fine, whatever the seed says. */
    char buf[100];
    int n;
    while ((n = read(connfd, buf, sizeof(buf))) > 0)
        if (write(connfd, buf, n) < 0)
            break;
    close(connfd);
}

int main(int argc, char *argv[])
{
    int listenfd;
    struct sockaddr_in servaddr;
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
    setvbuf(stdout, NULL, _IOLBF, 0);

    listenfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&servaddr, 0, sizeof(servaddr));
    servaddr.sin_family = AF_INET;
    servaddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    servaddr.sin_port = htons(port);
    bind(listenfd, (struct sockaddr *)&servaddr, sizeof(servaddr));
    listen(listenfd, 10);
    socklen_t len = sizeof(servaddr);
    getsockname(listenfd, (struct sockaddr *)&servaddr, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(servaddr.sin_port));

    struct event ev;
    main_base = event_init();
    event_set(&ev, listenfd, EV_READ | EV_PERSIST, call_accept, &ev);
    //event_base_set(main_base, &ev);
    event_add(&ev, NULL);
    printf("block before accept\n");
    event_base_loop(main_base, 0);
    printf("after event_dispatch\n");
    return 0;
}
