/* hostile.c -- signals the judge: its parent (the suite's test process), the
 * parent's parent (the suite's runner) and so on up, with signal 0 and
 * SIGCONT (neither harms; signal 0 needs the right to kill, and SIGCONT
 * that or the same session). Says hello only if one was allowed, so a sandbox that allows it gives this submission the
 * point (it could as well have sent SIGKILL or SIGSTOP). */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

/* The parent of pid, from /proc/PID/stat (readable by anyone), or 0. */
static pid_t parent_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    int ppid = 0;
    if (f) {
        if (fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1)
            ppid = 0;
        fclose(f);
    }
    return (pid_t)ppid;
}

int main(void)
{
    int won = 0;
    for (pid_t p = getppid(); p > 1; p = parent_of(p))
        if (kill(p, 0) == 0 || kill(p, SIGCONT) == 0)
            won++;
    if (won)
        printf("hello\n");
    return won ? 0 : 1;
}
