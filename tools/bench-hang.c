/* bench-hang.c -- the "hanging code" of `make bench-check`: a program that
 * never finishes anything. As a server it listens on --port (0: any), prints
 * the listening line, and then never accepts, reads or answers; otherwise it
 * just waits. A grading suite must still give all its feedback within 30 s.
 *
 *   cc -Wall -o bench-hang tools/bench-hang.c
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--port") != 0)
            continue;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons((unsigned short)atoi(argv[i + 1]))};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sin;
        if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 1024) < 0 ||
            getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
            return 1;
        printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
        fflush(stdout);
        break;
    }
    for (;;)
        pause();
}
