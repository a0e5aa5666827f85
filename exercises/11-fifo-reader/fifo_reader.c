/* fifo_reader.c -- exercise 11: seed 003's FIFO reader, to be done right.
 *
 * fifo_reader PATH creates the FIFO PATH, prints "waiting on PATH", then
 * prints "line: TEXT" for each line that writers send through it. Writers
 * come and go (echo hi > PATH); the reader stays. SIGINT/SIGTERM remove the
 * FIFO and exit 0. While no writer is connected it must use no CPU.
 * See README.md.
 *
 * This starter is seed 003's fifo_read example moved to the 2.x API: it
 * opens the FIFO O_RDONLY instead of the seed's O_RDWR (which hides EOF), and
 * it has the seed's problems. The TODOs mark them.
 *
 *   cc -Wall -Wextra -o fifo_reader fifo_reader.c $(pkg-config --cflags --libs libevent)
 *   ./fifo_reader /tmp/demo.fifo      # then: echo hello > /tmp/demo.fifo
 * Check it: ./evlab check 11
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

static void fifo_read(evutil_socket_t fd, short event, void *arg)
{
    (void)event;
    (void)arg;
    char buf[255];
    ssize_t len;

    len = read(fd, buf, sizeof(buf) - 1);
    if (len == -1) {
        perror("read");
        return;
    } else if (len == 0) {
        /* TODO: the writer has gone. read() will now return 0 at once, again
         * and again: this persistent event fires in a busy loop. Re-open the
         * FIFO instead (and print what is left of an unterminated line). */
        return;
    }
    buf[len] = '\0';
    /* TODO: a read returns any piece of the stream: half a line, or several
     * lines. Collect bytes (an evbuffer) and print one "line: TEXT" per
     * complete line (evbuffer_readln). */
    printf("line: %s\n", buf);
}

int main(int argc, char *argv[])
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s PATH\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *fifo = argv[1];

    if (mkfifo(fifo, 0600) == -1) {
        perror("mkfifo");
        return 1;
    }
    int fd = open(fifo, O_RDONLY | O_NONBLOCK);
    if (fd == -1) {
        perror("open");
        return 1;
    }

    struct event_base *base = event_base_new();
    struct event *evfifo = event_new(base, fd, EV_READ | EV_PERSIST, fifo_read, NULL);
    event_add(evfifo, NULL);
    /* TODO: SIGINT/SIGTERM: remove the FIFO, free everything, exit 0 */
    printf("waiting on %s\n", fifo);
    event_base_dispatch(base);

    event_free(evfifo);
    event_base_free(base);
    close(fd);
    return 0;
}
