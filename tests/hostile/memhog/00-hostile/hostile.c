/* hostile.c -- allocates and touches memory until malloc fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    size_t total = 0;
    for (;;) {
        char *p = malloc(64 << 20);
        if (!p) {
            fprintf(stderr, "malloc failed after %zu MiB\n", total >> 20);
            return 3;
        }
        memset(p, 1, 1 << 20); /* touch a little: the address space is what is limited */
        total += 64 << 20;
    }
}
