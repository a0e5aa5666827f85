/* hostile.c -- reads the judge: the open files (/proc/PID/fd, where the
 * verdict pipe is), the memory and the environment of its parent (the
 * suite's test process) and of every ancestor. Says hello only if one of
 * them could be opened, so a sandbox that allows it gives the point. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

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
    for (pid_t p = getppid(); p > 1; p = parent_of(p)) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/fd", (int)p);
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)))
                if (e->d_name[0] != '.') {
                    char fd[512];
                    snprintf(fd, sizeof fd, "%s/%s", path, e->d_name);
                    int f = open(fd, O_RDONLY | O_NONBLOCK);
                    won += f >= 0;
                    if (f >= 0)
                        close(f);
                }
            closedir(d);
        }
        const char *files[] = {"mem", "environ"};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "/proc/%d/%s", (int)p, files[i]);
            int f = open(path, O_RDONLY);
            char c;
            won += f >= 0 && read(f, &c, 1) == 1;
            if (f >= 0)
                close(f);
        }
    }
    if (won)
        printf("hello\n");
    return won ? 0 : 1;
}
