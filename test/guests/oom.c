/* oom: mallocs 1 MiB chunks, touching every page, until malloc returns NULL.
 * Prints "malloc failed after N MiB" and exits 0. It must not crash.
 * argv[1], optional: stop after this many MiB (prints "limit reached after
 * N MiB"), so it can also run natively without exhausting the host. */
#include <stdio.h>
#include <stdlib.h>

#define CHUNK (1024UL * 1024UL)

int main(int argc, char **argv)
{
    unsigned long limit = argc > 1 ? strtoul(argv[1], NULL, 0) : 0;
    unsigned long n = 0;
    for (;;) {
        if (limit && n >= limit) {
            printf("limit reached after %lu MiB\n", n);
            return 0;
        }
        unsigned char *p = malloc(CHUNK);
        if (!p)
            break;
        for (unsigned long i = 0; i < CHUNK; i += 4096)
            p[i] = 1;
        n++;
        /* chunks are leaked on purpose */
    }
    printf("malloc failed after %lu MiB\n", n);
    return 0;
}
