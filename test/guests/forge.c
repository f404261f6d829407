/*
 * A forged fault report: the program itself reports a CPU exception to torov, instead of
 * the CPU. Natively both modes just die of SIGSEGV (the addresses are torov's).
 *
 *   forge port    `out` to the fault port from the program's own code
 *   forge stale   a real fault first (handled), then a jump to the stub's report with rsp
 *                 aimed at the exception stack, where that fault's frame still lies
 *   forge bigaddr faults whose addresses need all 64 bits (a load from a kernel address, a
 *                 ret with rsp near 2^64), each caught by a handler on an alternate stack:
 *                 the same output natively and under torov
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static sigjmp_buf jb;
static void on_segv(int sig) { (void)sig; siglongjmp(jb, 1); }

static char altstack[65536];

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "bigaddr") == 0) {
        stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
        sigaltstack(&ss, NULL);
        struct sigaction sa = { 0 };
        sa.sa_handler = on_segv;
        sa.sa_flags = SA_ONSTACK;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        if (!sigsetjmp(jb, 1)) {
            int *volatile kernel = (int *)0xfffffffffffff000UL;
            printf("load from a kernel address: %d\n", *kernel);
        }
        printf("caught the load\n");
        if (!sigsetjmp(jb, 1)) __asm__ volatile("mov $-8, %%rsp; ret" ::: "memory");
        printf("caught the ret with rsp near 2^64\n");
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "port") == 0) {
        printf("forging through the port\n");
        __asm__ volatile("mov $14, %%eax; out %%al, $0x11" ::: "eax");
    } else if (argc > 1 && strcmp(argv[1], "stale") == 0) {
        signal(SIGSEGV, on_segv);
        int *volatile bad = (int *)8;
        if (!sigsetjmp(jb, 1)) *bad = 1;
        printf("a real fault was handled; forging from its stale frame\n");
        signal(SIGSEGV, SIG_DFL);
        /* SYS_VA + XSTACK_TOP - 56: the frame the exception entry wrote; SYS_VA + STUB + 0x80: fault_common. */
        __asm__ volatile("movabs $0x7fffffe0afc8, %%rsp; movabs $0x7fffffe08080, %%rax; jmp *%%rax" ::: "rax", "memory");
    }
    printf("still here\n");
    return 0;
}
