/* cpuloop: argv[1] iterations (default 100000000) of a tight loop the
 * compiler cannot remove (an empty asm with a memory clobber on each
 * iteration). No syscalls inside the loop. Prints "done". Used to check
 * that CPU-bound guest code runs at native speed. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000000UL;
    unsigned long acc = 0;
    for (unsigned long i = 0; i < n; i++) {
        acc += i ^ (acc >> 3);
        __asm__ __volatile__("" : "+r"(acc) : : "memory");
    }
    printf("done\n");
    return acc == 1 ? 3 : 0; /* uses acc; practically never 3 */
}
