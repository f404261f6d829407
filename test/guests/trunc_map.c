/*
 * trunc_map MODE FILE: a file (a copy of a shared library) mapped, then truncated to one
 * page through another descriptor while mapped, as another process replacing a library in
 * place would do. Pages past the new end are gone (Linux drops even pages already copied
 * on write). FILE must be writable and at least 3 pages long; it is left truncated.
 *   syscalls  pointers into the lost pages given to syscalls: each fails with EFAULT (the
 *             kernel, or torov, reads or writes them); pages before the end still work
 *   touch     reads a lost page: SIGBUS (status 135)
 *   exec      calls into a lost page mapped executable: SIGBUS (status 135)
 * Prints one line per check; exit 0 (syscalls), or dies of SIGBUS.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: trunc_map syscalls|touch|exec FILE\n"); return 2; }
    const char *mode = argv[1], *file = argv[2];
    long pg = sysconf(_SC_PAGESIZE);
    int fd = open(file, O_RDONLY);
    if (fd < 0) FAIL("open %s", file);
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < 3 * pg) FAIL("%s must be at least 3 pages", file);
    int prot = PROT_READ | (strcmp(mode, "exec") == 0 ? PROT_EXEC : 0);
    char *p = mmap(NULL, 3 * pg, prot, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) FAIL("mmap");
    char first = p[0], before = p[2 * pg];          /* every page was readable */
    (void)before;
    int w = open(file, O_WRONLY);
    if (w < 0 || ftruncate(w, pg) < 0) FAIL("truncate");
    close(w);
    printf("truncated to one page\n");
    fflush(stdout);
    char *lost = p + pg + 16;
    if (strcmp(mode, "syscalls") == 0) {
        int pfd[2];
        if (pipe(pfd) < 0) FAIL("pipe");
        errno = 0; long r = write(pfd[1], lost, 32);
        printf("write from a lost page: %ld %s\n", r, errname(errno));
        errno = 0; r = write(pfd[1], p, 32);
        printf("write from the page kept: %ld %s\n", r, errname(errno));
        /* A path in a lost page: torov reads it itself (the VMM, not the host kernel). */
        errno = 0; r = open(lost, O_RDONLY);
        printf("open of a path in a lost page: %ld %s\n", r, errname(errno));
        struct iovec iov = { lost, 8 };
        errno = 0; r = writev(pfd[1], &iov, 1);
        printf("writev from a lost page: %ld %s\n", r, errname(errno));
        errno = 0; r = access(lost, F_OK);
        printf("access of a path in a lost page: %ld %s\n", r, errname(errno));
        printf("first byte still there: %d\n", p[0] == first);
        return 0;
    }
    if (strcmp(mode, "touch") == 0) {
        printf("read: %d\n", *(volatile char *)lost);
        return 1;
    }
    if (strcmp(mode, "exec") == 0) {
        ((void (*)(void))(p + pg))();
        return 1;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
