/* hostile.c -- is the judge within reach at all? Compares its own uid with
 * the uids of its parent (the suite's test process) and of every ancestor
 * (from /proc/PID/status, readable by anyone). Says hello if one matches:
 * a process of the same uid could signal, trace or read the judge whenever
 * anything else (non-dumpable, a PID namespace) slipped. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    int won = 0;
    for (pid_t p = getppid(); p > 1;) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", (int)p);
        FILE *f = fopen(path, "r");
        pid_t next = 0;
        while (f && fgets(line, sizeof line, f)) {
            int a, b, c, d;
            if (strncmp(line, "Uid:", 4) == 0 &&
                sscanf(line + 4, "%d %d %d %d", &a, &b, &c, &d) == 4)
                won += a == (int)getuid() || b == (int)getuid() || c == (int)getuid();
            if (strncmp(line, "PPid:", 5) == 0)
                sscanf(line + 5, "%d", &next);
        }
        if (f)
            fclose(f);
        p = next;
    }
    if (won)
        printf("hello\n");
    return won ? 0 : 1;
}
