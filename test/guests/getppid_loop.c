/* getppid_loop: syscall benchmark. argv[1] = N (default 100000).
 *   getppid_loop N         N raw getppid syscalls
 *   getppid_loop N write   N one-byte write()s to /dev/null (opened once)
 * Prints nothing unless something fails (then a message on stderr, exit 1). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 0) : 100000;
    if (argc > 2 && !strcmp(argv[2], "write")) {
        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            perror("getppid_loop: open /dev/null");
            return 1;
        }
        for (long i = 0; i < n; i++) {
            if (write(fd, "x", 1) != 1) {
                perror("getppid_loop: write");
                return 1;
            }
        }
        close(fd);
    } else {
        for (long i = 0; i < n; i++) {
            if (syscall(SYS_getppid) < 0) {
                perror("getppid_loop: getppid");
                return 1;
            }
        }
    }
    return 0;
}
