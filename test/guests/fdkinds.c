/* fdkinds: eventfd, timerfd and copy_file_range. argv[1] = a writable directory.
 * Prints one line per check; exits 0 when all pass. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    if (chdir(argv[1]) != 0) FAIL("chdir");

    int e = eventfd(3, EFD_CLOEXEC);
    CHECK(e >= 0);
    uint64_t v = 4;
    CHECK(write(e, &v, 8) == 8);
    CHECK(read(e, &v, 8) == 8 && v == 7);
    CHECK((fcntl(e, F_GETFD) & FD_CLOEXEC) != 0);
    printf("eventfd 7\n");
    close(e);

    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    CHECK(t >= 0);
    struct itimerspec its = { .it_value = { .tv_nsec = 10 * 1000 * 1000 } }, cur;
    CHECK(timerfd_settime(t, 0, &its, NULL) == 0);
    CHECK(timerfd_gettime(t, &cur) == 0);
    uint64_t n = 0;
    CHECK(read(t, &n, 8) == 8 && n >= 1);
    printf("timerfd expired\n");
    close(t);

    int a = open("src.txt", O_CREAT | O_RDWR | O_TRUNC, 0600), b = open("dst.txt", O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(a >= 0 && b >= 0);
    CHECK(write(a, "copy me\n", 8) == 8);
    loff_t off = 0;
    ssize_t c = copy_file_range(a, &off, b, NULL, 8, 0);
    CHECK(c == 8 && off == 8);
    char buf[9] = {0};
    CHECK(pread(b, buf, 8, 0) == 8);
    printf("copy_file_range \"%.7s\"\n", buf);
    unlink("src.txt"); unlink("dst.txt");
    return 0;
}
