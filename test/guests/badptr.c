/* badptr: syscalls with bad user pointers. Raw syscall() so no libc wrapper
 * looks at the pointers. Prints "<call> <ERRNO>" per line; each must be
 * EFAULT (exit 1 otherwise). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

static int failures;

static void expect_efault(const char *label, long r)
{
    int e = r == -1 ? errno : 0;
    if (r != -1)
        printf("%s returned %ld\n", label, r);
    else
        printf("%s %s\n", label, errname(e));
    if (r != -1 || e != EFAULT) {
        fprintf(stderr, "badptr: %s: expected EFAULT\n", label);
        failures++;
    }
}

int main(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(write(p[1], "0123456789", 10) == 10); /* so read() has data to copy */

    errno = 0;
    expect_efault("write", syscall(SYS_write, 1, (void *)1, 10));
    errno = 0;
    expect_efault("read", syscall(SYS_read, p[0], (void *)0xdead0000UL, 10));
    errno = 0;
    expect_efault("open", syscall(SYS_open, (char *)1, O_RDONLY, 0));
    errno = 0;
    expect_efault("openat", syscall(SYS_openat, AT_FDCWD, (char *)1, O_RDONLY, 0));
    /* a bad base in the only iovec must fail outright (a bad base after a
     * good one may give a short write instead, so that case is not tested) */
    struct iovec bad1 = { (void *)0xdead0000UL, 10 };
    errno = 0;
    expect_efault("writev", syscall(SYS_writev, p[1], &bad1, 1));
    errno = 0;
    expect_efault("writev iov array", syscall(SYS_writev, p[1], (void *)8, 2));
    errno = 0;
    expect_efault("poll", syscall(SYS_poll, (void *)0xdead0000UL, 1, 0));
    errno = 0;
    expect_efault("clock_gettime", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)8));
    errno = 0;
    expect_efault("uname", syscall(SYS_uname, (void *)8));
    errno = 0;
    expect_efault("pipe2", syscall(SYS_pipe2, (void *)8, 0));

    if (failures) {
        fprintf(stderr, "badptr: %d failure(s)\n", failures);
        return 1;
    }
    printf("badptr done\n");
    return 0;
}
