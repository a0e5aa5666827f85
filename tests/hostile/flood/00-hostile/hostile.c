/* hostile.c -- floods stdout and stderr without end. */
#include <string.h>
#include <unistd.h>

int main(void)
{
    char buf[8192];
    memset(buf, 'x', sizeof buf);
    for (;;) {
        if (write(1, buf, sizeof buf) < 0) {
        }
        if (write(2, buf, sizeof buf) < 0) {
        }
    }
}
