/* hostile.c -- forges the verdict: writes "PASS" lines (and an invented
 * 9999-point test) to every fd it might have inherited, to $EVLAB_REPORT and
 * $EVLAB_REPORT_FD if set, and to every pipe it can open in /proc/PID/fd of
 * any process it can see; plants a FIFO and a symlink to /dev/zero where a
 * report file used to be. It never prints hello, so its honest score is 0. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char forged[] = "hostile::says_hello\tPASS\t1\t0.01\tprints hello\t\n"
                             "hostile::invented\tPASS\t9999\t0.01\tfree points\t\n";

static void forge_fd(int fd)
{
    if (write(fd, forged, sizeof forged - 1) < 0)
        return;
}

int main(void)
{
    for (int fd = 3; fd < 1024; fd++)
        forge_fd(fd);
    const char *names[] = {"EVLAB_REPORT", "EVLAB_REPORT_FD"};
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) {
            int fd = i == 0 ? open(v, O_WRONLY | O_CREAT | O_TRUNC, 0666) : atoi(v);
            if (fd >= 0)
                forge_fd(fd);
        }
    }
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (atoi(e->d_name) <= 0 || atoi(e->d_name) == getpid())
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/fd", e->d_name);
        DIR *f = opendir(path);
        struct dirent *g;
        while (f && (g = readdir(f))) {
            char p2[600];
            snprintf(p2, sizeof p2, "%s/%s", path, g->d_name);
            int fd = open(p2, O_WRONLY | O_NONBLOCK);
            if (fd >= 0) {
                forge_fd(fd);
                close(fd);
            }
        }
        if (f)
            closedir(f);
    }
    if (d)
        closedir(d);
    /* Where the old grader kept its reports: ../reports/00-hostile.tsv */
    mkfifo("../reports/00-hostile.tsv", 0666);
    symlink("/dev/zero", "../reports/00-hostile.tsv");
    mkfifo("report", 0666);
    return 1;
}
