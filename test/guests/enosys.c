/* enosys: syscalls torov is not expected to implement or allow.
 *   syscall 1000 (beyond the x86-64 table)  -> ENOSYS (checked)
 *   syscall 400  (unassigned on x86-64)     -> ENOSYS (checked)
 *   reboot with bad magic numbers           -> printed; EPERM under torov's
 *                                              default policy (natively
 *                                              EINVAL as root, EPERM if not)
 *   mount("none", "/tmp", "torov-nofs", MS_RDONLY) (no such fs type)
 *                                           -> printed; EPERM under torov's
 *                                              default policy (natively
 *                                              ENODEV as root, EPERM if not)
 * Not syscall 335: it was unassigned until Linux 6.11 made it uretprobe,
 * which raises SIGILL when called from anywhere but a uprobe trampoline
 * (and 336 is uprobe since 6.16).
 *   inotify_init1(0) twice                  -> ENOSYS under torov (allowed by the
 *                                              default policy, not implemented);
 *                                              natively a new fd
 * Prints "<call> <ERRNO>" lines; exits 1 if a checked call is not ENOSYS. */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

static int expect_enosys(long nr)
{
    errno = 0;
    long r = syscall(nr, 0, 0, 0, 0, 0, 0);
    printf("syscall%ld %s\n", nr, r == -1 ? errname(errno) : "returned");
    if (r != -1 || errno != ENOSYS) {
        fprintf(stderr, "enosys: syscall %ld should fail with ENOSYS\n", nr);
        return 1;
    }
    return 0;
}

int main(void)
{
    int bad = expect_enosys(1000) + expect_enosys(400);

    /* Wrong magic numbers: the kernel refuses before doing anything. */
    errno = 0;
    long r = syscall(SYS_reboot, 0UL, 0UL, 0UL, NULL);
    printf("reboot %s\n", r == -1 ? errname(errno) : "0");

    /* "torov-nofs" is no file system type, so even as root natively this
     * fails (ENODEV) instead of mounting anything. */
    errno = 0;
    r = syscall(SYS_mount, "none", "/tmp", "torov-nofs", 1UL /* MS_RDONLY */, NULL);
    printf("mount %s\n", r == -1 ? errname(errno) : "0");
    if (r == 0)
        syscall(SYS_umount2, "/tmp", 0);

    for (int i = 0; i < 2; i++) {
        errno = 0;
        r = syscall(SYS_inotify_init1, 0);
        printf("inotify_init1 %s\n", r == -1 ? errname(errno) : "fd");
    }
    return bad ? 1 : 0;
}
