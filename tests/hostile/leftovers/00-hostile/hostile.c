/* hostile.c -- leaves things behind: files in /tmp, /var/tmp and /dev/shm,
 * and a SysV shared memory segment (key 0x45564c42, "EVLB"). None of them
 * may outlive the grading run. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(void)
{
    const char *paths[] = {"/tmp/evlab-leftover", "/var/tmp/evlab-leftover",
                           "/dev/shm/evlab-leftover"};
    for (int i = 0; i < 3; i++) {
        int fd = open(paths[i], O_WRONLY | O_CREAT, 0666);
        if (fd >= 0)
            close(fd);
    }
    shmget(0x45564c42, 4096, IPC_CREAT | 0666);
    return 1;
}
