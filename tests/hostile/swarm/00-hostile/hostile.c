/* hostile.c -- a swarm of 20 children that ignore SIGTERM. */
#include <signal.h>
#include <unistd.h>

int main(void)
{
    signal(SIGTERM, SIG_IGN);
    for (int i = 0; i < 20; i++)
        if (fork() == 0)
            for (;;)
                pause();
    for (;;)
        pause();
}
