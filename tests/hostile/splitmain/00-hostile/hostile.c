/* hostile.c -- not hostile at all: real C often puts the return type of
 * main() on a line of its own. The grader must build it as a program. */
#include <stdio.h>

// clang-format off
int
main(void)
// clang-format on
{
    printf("hello\n");
    return 0;
}
