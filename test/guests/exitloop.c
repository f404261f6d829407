/* exitloop: the floors of the exit path, for the benchmark (torov only; natively the
 * `out` faults). argv[1] = mode, argv[2] = N:
 *   exitloop out N      N bare `out` instructions to torov's no-op port 0x12 (one VM exit each)
 *   exitloop enosys N   N raw syscalls of a number that does not exist (entry stub + exit + ENOSYS)
 *   exitloop in 1       one `in` from torov's syscall port: refused (the program ends with SIGSEGV)
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    long n = strtol(argv[2], NULL, 0);
    if (!strcmp(argv[1], "in")) {
        unsigned char v;
        __asm__ __volatile__("inb $0x10, %0" : "=a"(v) :: "memory");
        return v;
    }
    if (!strcmp(argv[1], "out")) {
        for (long i = 0; i < n; i++) __asm__ __volatile__("outb %%al, $0x12" ::: "memory");
    } else {
        for (long i = 0; i < n; i++) {
            long r;
            __asm__ __volatile__("syscall" : "=a"(r) : "a"(1000L) : "rcx", "r11", "memory");
            if (r != -38) return 1;
        }
    }
    return 0;
}
