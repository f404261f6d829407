/* mm: memory-management syscalls: brk, mmap (anonymous, hinted, fixed,
 * PROT_NONE reservations, file-backed), mprotect, mremap, munmap, and a
 * 2 GiB map/touch/unmap loop proving memory is given back.
 * argv[1], optional: a readable file to map MAP_PRIVATE (first line printed).
 * One line per step; exits 1 with a message on stderr on failure. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "common.h"

#define MiB (1024UL * 1024UL)
#define PAGE 4096UL

static int all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    /* malloc/free, small and large (musl uses mmap above ~128 KiB) */
    char *s = malloc(100);
    CHECK(s != NULL);
    strcpy(s, "small");
    char *l = malloc(4 * MiB);
    CHECK(l != NULL);
    memset(l, 0x5a, 4 * MiB);
    CHECK(all_bytes((unsigned char *)l, 4 * MiB, 0x5a) && !strcmp(s, "small"));
    free(l);
    free(s);
    printf("malloc/free ok\n");

    /* brk: musl's sbrk()/brk() refuse to move the break (ENOMEM) because
     * malloc owns it, so use the raw syscall: grow 1 MiB, write, shrink back */
    errno = 0;
    char *refused = sbrk(MiB);
    printf("musl sbrk(1MiB) %s\n", refused == (char *)-1 ? errname(errno) : "moved");
    CHECK(sbrk(0) != (char *)-1);
    uintptr_t brk0 = (uintptr_t)syscall(SYS_brk, 0);
    CHECK(brk0 != 0);
    uintptr_t brk1 = (uintptr_t)syscall(SYS_brk, brk0 + MiB);
    CHECK(brk1 == brk0 + MiB);
    memset((void *)brk0, 0xab, MiB);
    CHECK(all_bytes((unsigned char *)brk0, MiB, 0xab));
    printf("brk grow 1MiB ok\n");
    CHECK((uintptr_t)syscall(SYS_brk, brk0) == brk0);
    CHECK((uintptr_t)syscall(SYS_brk, 0) == brk0);
    printf("brk shrink ok\n");
    /* growing again gives zero-filled memory */
    CHECK((uintptr_t)syscall(SYS_brk, brk0 + PAGE) == brk0 + PAGE);
    CHECK(all_bytes((unsigned char *)brk0, PAGE, 0));
    CHECK((uintptr_t)syscall(SYS_brk, brk0) == brk0);
    printf("brk regrow zeroed ok\n");

    /* anonymous mmap: zero-filled, writable */
    unsigned char *a = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(a != MAP_FAILED && ((uintptr_t)a & (PAGE - 1)) == 0);
    CHECK(all_bytes(a, 16 * PAGE, 0));
    for (size_t i = 0; i < 16 * PAGE; i++)
        a[i] = (unsigned char)(i * 7);
    for (size_t i = 0; i < 16 * PAGE; i++)
        CHECK(a[i] == (unsigned char)(i * 7));
    printf("mmap anon ok\n");

    /* mmap with an address hint (not MAP_FIXED): any address is acceptable */
    void *hint = (void *)0x200000000000UL;
    unsigned char *h = mmap(hint, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(h != MAP_FAILED);
    h[0] = 1;
    h[4 * PAGE - 1] = 2;
    printf("mmap hint ok\n");
    CHECK(munmap(h, 4 * PAGE) == 0);

    /* MAP_FIXED over the middle of the existing mapping: fresh zero pages */
    unsigned char *f = mmap(a + 4 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(f == a + 4 * PAGE);
    CHECK(all_bytes(f, 2 * PAGE, 0));
    CHECK(a[4 * PAGE - 1] == (unsigned char)((4 * PAGE - 1) * 7));
    CHECK(a[6 * PAGE] == (unsigned char)((6 * PAGE) * 7));
    printf("mmap fixed ok\n");

    /* mprotect read-only (just call it; do not fault), then back to RW */
    CHECK(mprotect(a, PAGE, PROT_READ) == 0);
    CHECK(a[1] == 7);
    CHECK(mprotect(a, PAGE, PROT_READ | PROT_WRITE) == 0);
    a[1] = 9;
    printf("mprotect ro/rw ok\n");
    CHECK(munmap(a, 16 * PAGE) == 0);
    printf("munmap ok\n");

    /* PROT_NONE reservation, then mprotect part of it RW and use it */
    unsigned char *r = mmap(NULL, 256 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(r != MAP_FAILED);
    CHECK(mprotect(r + MiB, 2 * MiB, PROT_READ | PROT_WRITE) == 0);
    memset(r + MiB, 0x11, 2 * MiB);
    CHECK(all_bytes(r + MiB, 2 * MiB, 0x11));
    printf("prot_none reserve + mprotect rw ok\n");
    CHECK(munmap(r, 256 * MiB) == 0);

    /* mremap grow with MREMAP_MAYMOVE: contents preserved */
    unsigned char *m = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    for (size_t i = 0; i < 8 * PAGE; i++)
        m[i] = (unsigned char)(i ^ 0x5c);
    unsigned char *m2 = mremap(m, 8 * PAGE, 64 * MiB, MREMAP_MAYMOVE);
    CHECK(m2 != MAP_FAILED);
    for (size_t i = 0; i < 8 * PAGE; i++)
        CHECK(m2[i] == (unsigned char)(i ^ 0x5c));
    CHECK(all_bytes(m2 + 8 * PAGE, 64 * MiB - 8 * PAGE, 0));
    m2[64 * MiB - 1] = 1;
    printf("mremap grow ok\n");
    unsigned char *m3 = mremap(m2, 64 * MiB, 4 * PAGE, 0);
    CHECK(m3 == m2 && m3[0] == 0x5c);
    printf("mremap shrink ok\n");
    CHECK(munmap(m3, 4 * PAGE) == 0);

    /* 32 x (map 64 MiB, touch every page, unmap) = 2 GiB in total */
    for (int round = 0; round < 32; round++) {
        unsigned char *big = mmap(NULL, 64 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (big == MAP_FAILED)
            FAIL("loop round %d: mmap", round);
        for (size_t i = 0; i < 64 * MiB; i += PAGE)
            big[i] = (unsigned char)round;
        CHECK(big[64 * MiB - PAGE] == (unsigned char)round);
        CHECK(munmap(big, 64 * MiB) == 0);
    }
    printf("mmap/touch/munmap 32 x 64MiB ok\n");

    /* file-backed MAP_PRIVATE mapping */
    if (argc > 1) {
        int fd = open(argv[1], O_RDONLY);
        CHECK(fd >= 0);
        struct stat st;
        CHECK(fstat(fd, &st) == 0 && st.st_size > 0);
        size_t len = (size_t)st.st_size;
        char *fm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        CHECK(fm != MAP_FAILED);
        CHECK(close(fd) == 0); /* the mapping outlives the descriptor */
        size_t eol = 0;
        while (eol < len && eol < 200 && fm[eol] != '\n')
            eol++;
        printf("mmap file first line: %.*s\n", (int)eol, fm);
        fm[0] ^= 1; /* private copy-on-write: must not reach the file */
        CHECK(munmap(fm, len) == 0);
    } else {
        printf("mmap file skipped (no argv[1])\n");
    }

    /* a 64 GiB mapping should not fit */
    errno = 0;
    void *huge = mmap(NULL, 64UL * 1024 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (huge == MAP_FAILED && errno == ENOMEM) {
        printf("big mmap ENOMEM\n");
    } else if (huge == MAP_FAILED) {
        printf("big mmap %s\n", errname(errno));
    } else {
        printf("big mmap succeeded\n");
        munmap(huge, 64UL * 1024 * MiB);
    }
    printf("mm done\n");
    return 0;
}
