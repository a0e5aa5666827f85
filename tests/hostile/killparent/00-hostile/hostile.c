/* hostile.c -- kills its parent and its whole process group. */
#include <signal.h>
#include <unistd.h>

int main(void)
{
    kill(getppid(), SIGKILL);
    kill(0, SIGKILL);
    for (;;)
        pause();
}
