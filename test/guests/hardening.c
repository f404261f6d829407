/* hardening: attempts that once reached past torov's checks; prints one line each.
 *   hardening sigio PID    F_SETOWN(PID) + O_ASYNC on a pipe, then make it readable: the
 *                          host must never send SIGIO to PID (or to the VMM)
 *   hardening stdin-dir    stdin is a host directory: openat(0, "..") and fchdir(0) must fail
 *   hardening fsbase       arch_prctl(ARCH_SET_FS/GS) with non-user addresses: EPERM, no crash */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "sigio") && argc > 2) {
        int p[2];
        CHECK(pipe(p) == 0);
        int r1 = fcntl(p[0], F_SETOWN, atoi(argv[2]));
        int r2 = fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC);
        int on = 1;
        int r3 = ioctl(p[0], FIOASYNC, &on);
        printf("setown=%d setfl=%d fioasync=%d getown_matches=%d async=%d\n", r1, r2, r3,
               fcntl(p[0], F_GETOWN) == atoi(argv[2]), (fcntl(p[0], F_GETFL) & O_ASYNC) != 0);
        CHECK(write(p[1], "x", 1) == 1);
        usleep(100000);
        printf("still running\n");
        return 0;
    }
    if (!strcmp(argv[1], "stdin-dir")) {
        int fd = openat(0, "../etc/hostname", O_RDONLY);
        printf("openat(0) %s\n", fd < 0 ? errname(errno) : "OK");
        printf("fchdir(0) %s\n", fchdir(0) < 0 ? errname(errno) : "OK");
        return 0;
    }
    if (!strcmp(argv[1], "fsbase")) {
        long vals[] = { -1L, 0x800000000000L, 0x7ffffffff000L };
        for (int i = 0; i < 3; i++) {
            long r = syscall(SYS_arch_prctl, 0x1001 /* ARCH_SET_GS */, vals[i]);
            printf("ARCH_SET_GS %#lx %s\n", vals[i], r < 0 ? errname(errno) : "0");
        }
        return 0;
    }
    return 2;
}
