/* fault: triggers the CPU exception selected by argv[1], so a test can check
 * how the VMM reports guest faults. Prints "fault: <mode>" (flushed) first.
 * If the fault does not happen, prints an error on stderr and exits 1.
 *   segv-null-write  write to address 0            -> SIGSEGV (#PF)
 *   segv-null-read   read from address 0           -> SIGSEGV (#PF)
 *   segv-exec        call into a malloc'd buffer   -> SIGSEGV (#PF, NX)
 *   ill              __builtin_trap() (ud2)        -> SIGILL  (#UD)
 *   fpe              integer division by zero      -> SIGFPE  (#DE)
 *   wprot            write into .rodata            -> SIGSEGV (#PF)
 *   stack-overflow   unbounded recursion           -> SIGSEGV (#PF)
 *   ok               exit 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rodata_str[] = "read-only string in .rodata";

static int recurse(int depth)
{
    volatile char big[64 * 1024];
    big[0] = (char)depth;
    big[sizeof big - 1] = (char)depth;
    /* Not a tail call: the result is used after the recursive call. */
    return recurse(depth + 1) + big[0] + big[sizeof big - 1];
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "ok";
    printf("fault: %s\n", mode);
    fflush(stdout);

    if (!strcmp(mode, "ok")) {
        return 0;
    } else if (!strcmp(mode, "segv-null-write")) {
        volatile int *p = (volatile int *)0;
        *p = 42;
    } else if (!strcmp(mode, "segv-null-read")) {
        volatile int *p = (volatile int *)0;
        printf("read %d\n", *p);
    } else if (!strcmp(mode, "segv-exec")) {
        unsigned char *buf = malloc(64);
        if (!buf) {
            fprintf(stderr, "malloc failed\n");
            return 2;
        }
        memset(buf, 0xc3, 64); /* ret: returns if the heap is executable */
        void (*volatile fn)(void) = (void (*)(void))buf;
        fn();
    } else if (!strcmp(mode, "ill")) {
        __builtin_trap();
    } else if (!strcmp(mode, "fpe")) {
        volatile int a = 1, b = 0;
        printf("div %d\n", a / b);
    } else if (!strcmp(mode, "wprot")) {
        char *volatile p = (char *)rodata_str;
        p[0] = 'X';
        char *volatile q = (char *)"string literal";
        q[0] = 'X';
    } else if (!strcmp(mode, "stack-overflow")) {
        printf("recurse %d\n", recurse(0));
    } else {
        fprintf(stderr, "fault: unknown mode '%s'\n", mode);
        return 2;
    }
    fprintf(stderr, "fault: mode '%s' did not fault\n", mode);
    return 1;
}
