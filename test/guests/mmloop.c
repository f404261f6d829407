/* mmloop: argv[1] MiB per round (default 256), argv[2] rounds (default 16).
 * Each round: mmap anonymous, memset every byte, munmap. Prints "ok".
 * Used to check that the host RSS of the VMM stays small. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "common.h"

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 256;
    long rounds = argc > 2 ? strtol(argv[2], NULL, 0) : 16;
    size_t len = mib * 1024 * 1024;
    for (long r = 0; r < rounds; r++) {
        unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            FAIL("round %ld: mmap %zu MiB", r, mib);
        memset(p, (int)(r + 1), len);
        if (len && (p[0] != (unsigned char)(r + 1) || p[len - 1] != (unsigned char)(r + 1)))
            FAIL("round %ld: memory content lost", r);
        if (munmap(p, len) != 0)
            FAIL("round %ld: munmap", r);
    }
    printf("ok\n");
    return 0;
}
