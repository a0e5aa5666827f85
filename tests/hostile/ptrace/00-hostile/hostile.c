/* hostile.c -- tries to ptrace the judge: its parent (the suite's test
 * process) and every other process it can see. Says hello only if an attach
 * worked, so a sandbox that allows it gives this submission the point. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static int try(pid_t pid)
{
    if (pid <= 1 || pid == getpid())
        return 0;
    if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) != 0)
        return 0;
    waitpid(pid, NULL, __WALL);
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    return 1;
}

int main(void)
{
    int won = try(getppid());
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)))
        won += try((pid_t)atoi(e->d_name));
    if (d)
        closedir(d);
    if (won)
        printf("hello\n");
    return won ? 0 : 1;
}
