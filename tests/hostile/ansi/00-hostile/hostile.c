/* hostile.c -- terminal escapes in its output: clear the screen, print a
 * fake "total 31/31" in green, hide the cursor. The report must show none of
 * it as escapes. */
#include <stdio.h>

int main(void)
{
    printf("\033[2J\033[H\033[32mtotal 31/31\033[0m\033[?25l\n");
    fprintf(stderr, "\033]0;pwned\007\233"
                    "2J\n");
    return 1;
}
