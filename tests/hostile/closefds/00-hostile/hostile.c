/* hostile.c -- closes every file descriptor, then exits 0 without a word. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    for (int fd = 0; fd < 4096; fd++)
        close(fd);
    printf("hello\n"); /* goes nowhere */
    return 0;
}
