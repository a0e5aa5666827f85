/* hostile.c -- writes through a NULL pointer. */
#include <stdio.h>

int main(void)
{
    volatile int *p = NULL;
    *p = 42;
    printf("hello\n");
    return 0;
}
