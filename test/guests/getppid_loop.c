/* getppid_loop: syscall benchmark. argv[1] = N (default 100000).
 *   getppid_loop N         N raw getppid syscalls
 *   getppid_loop N write   N one-byte write()s to /dev/null (opened once)
 *   getppid_loop N read F  N 4 KiB pread()s at offset 0 of file F (opened once)
 *   getppid_loop N getpid  N getpid() calls (answered in the guest by torov's fast path)
 *   getppid_loop N sleep US  N nanosleep()s of US microseconds (calls that block on the host)
 * Prints nothing unless something fails (then a message on stderr, exit 1). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
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
    } else if (argc > 3 && !strcmp(argv[2], "read")) {
        static char buf[4096];
        int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror("getppid_loop: open");
            return 1;
        }
        for (long i = 0; i < n; i++) {
            if (pread(fd, buf, sizeof buf, 0) != sizeof buf) {
                perror("getppid_loop: pread");
                return 1;
            }
        }
        close(fd);
    } else if (argc > 3 && !strcmp(argv[2], "sleep")) {
        long us = strtol(argv[3], NULL, 0);
        struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
        for (long i = 0; i < n; i++) {
            if (nanosleep(&ts, NULL) != 0) return 1;
        }
    } else if (argc > 2 && !strcmp(argv[2], "getpid")) {
        for (long i = 0; i < n; i++) {
            if (getpid() < 0) return 1;
        }
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
