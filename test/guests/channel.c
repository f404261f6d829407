/* channel: the syscall channel and syscall-site rewriting (src/vmm/channel.ts, rewrite.ts).
 *   channel redzone N   N times: fill the 128-byte red zone below rsp with a pattern, make a
 *                       raw getppid syscall, and check the red zone is intact (a rewritten
 *                       site must not push anything on the stack)
 *   channel branch N    N times: a syscall instruction that a branch jumps to directly, and
 *                       the same instruction reached by falling through
 *   channel leaf N      N times: a `mov %rcx,%rdx; syscall; ret` wrapper, as musl's
 *   channel ids         getpid, gettid, getuid, geteuid, getgid, getegid, getppid
 *   channel sleep MS    nanosleep for MS milliseconds (blocks on the host)
 *   channel forge NR    post syscall NR (no arguments) straight into torov's channel page and
 *                       kick it with `out` to port 0x14, as a hostile program could; print
 *                       the result
 *   channel forge-wait  `out` to port 0x15 (wait) with nothing posted; must return
 *   channel sharedtext F  map file F (opened read-only; created by the test) MAP_SHARED over
 *                       the page of this program's function victim(), call it 100 times
 *                       (its code there now makes a getppid syscall), and say whether the
 *                       file changed: torov must never rewrite a syscall site in a file
 * Prints what it saw; the tests compare with a native run where that makes sense. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <fcntl.h>

/* The red zone of this leaf function holds 16 words across the syscall. Returns the number
   of words that changed. */
__attribute__((noinline)) static long redzone_once(long seed)
{
    long bad;
    __asm__ volatile(
        "mov %[seed], %%r8\n\t"
        "mov $-128, %%rcx\n"
        "1:\n\t"
        "mov %%r8, (%%rsp,%%rcx)\n\t"
        "add $0x1111, %%r8\n\t"
        "add $8, %%rcx\n\t"
        "jnz 1b\n\t"
        "mov $110, %%eax\n\t"          /* getppid */
        "syscall\n\t"
        "mov %[seed], %%r8\n\t"
        "xor %[bad], %[bad]\n\t"
        "mov $-128, %%rcx\n"
        "2:\n\t"
        "cmp %%r8, (%%rsp,%%rcx)\n\t"
        "je 3f\n\t"
        "inc %[bad]\n"
        "3:\n\t"
        "add $0x1111, %%r8\n\t"
        "add $8, %%rcx\n\t"
        "jnz 2b\n\t"
        : [bad] "=&r"(bad)
        : [seed] "r"(seed)
        : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
    return bad;
}

/* `which` = 0: fall through to the syscall; 1: jump straight onto it. */
__attribute__((noinline)) static long branch_once(long which)
{
    long r;
    __asm__ volatile(
        "mov $110, %%eax\n\t"
        "test %[w], %[w]\n\t"
        "jnz 1f\n\t"
        "mov $110, %%eax\n\t"
        "mov $0, %%edi\n"
        "1:\n\t"
        "syscall\n\t"
        : "=a"(r)
        : [w] "r"(which)
        : "rcx", "rdi", "r11", "memory", "cc");
    return r;
}

/* A leaf wrapper like musl's __syscall_cp_c: a register move, the syscall, ret. */
__attribute__((naked, noinline)) static long leaf_syscall(long nr __attribute__((unused)), long a __attribute__((unused)),
                                                          long b __attribute__((unused)), long c __attribute__((unused)))
{
    __asm__ volatile(
        "mov %rdi, %rax\n\t"
        "mov %rsi, %rdi\n\t"
        "mov %rdx, %rsi\n\t"
        "mov %rcx, %rdx\n\t"
        "syscall\n\t"
        "ret\n\t");
}

#define CHAN_PAGE 0x7fffffe0d000UL

/* A whole page of its own, so that a file can be mapped over exactly it: getppid, then nops
   (the test's file holds the same bytes). */
__attribute__((naked, noinline, aligned(4096))) long victim(void)
{
    __asm__ volatile("mov $110, %eax\n\tsyscall\n\tret\n\t.fill 4088, 1, 0x90\n");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "ids";
    long n = argc > 2 ? strtol(argv[2], NULL, 0) : 1000;
    if (!strcmp(mode, "redzone")) {
        long bad = 0;
        for (long i = 0; i < n; i++) bad += redzone_once(i * 7919);
        printf("redzone: %ld words changed in %ld calls\n", bad, n);
        return bad != 0;
    }
    if (!strcmp(mode, "branch")) {
        long ppid = getppid(), bad = 0;
        for (long i = 0; i < n; i++) if (branch_once(i & 1) != ppid) bad++;
        printf("branch: %ld wrong results in %ld calls\n", bad, n);
        return bad != 0;
    }
    if (!strcmp(mode, "leaf")) {
        long bad = 0;
        for (long i = 0; i < n; i++) if (leaf_syscall(SYS_write, 1, (long)"", 0) != 0) bad++;
        if (leaf_syscall(SYS_write, 1, (long)"leaf: ok\n", 9) != 9) bad++;
        printf("leaf: %ld wrong results in %ld calls\n", bad, n);
        return bad != 0;
    }
    if (!strcmp(mode, "ids")) {
        printf("pid=%ld tid=%ld uid=%ld euid=%ld gid=%ld egid=%ld ppid=%ld\n", (long)getpid(), (long)syscall(SYS_gettid),
               (long)getuid(), (long)geteuid(), (long)getgid(), (long)getegid(), (long)getppid());
        return 0;
    }
    if (!strcmp(mode, "sleep")) {
        struct timespec ts = { n / 1000, (n % 1000) * 1000000 };
        return nanosleep(&ts, NULL) != 0;
    }
    if (!strcmp(mode, "forge")) {
        volatile unsigned long *page = (volatile unsigned long *)CHAN_PAGE;
        page[0x80 / 8] = n;                    /* number */
        for (int i = 0; i < 6; i++) page[0x88 / 8 + i] = 0;
        page[0xb8 / 8] = 0;                    /* no site */
        *(volatile unsigned *)CHAN_PAGE = 1;   /* posted */
        __asm__ volatile("outb %%al, $0x14" ::: "memory");
        while (*(volatile unsigned *)CHAN_PAGE != 3) {}
        long r = (long)page[0xc0 / 8];
        *(volatile unsigned *)CHAN_PAGE = 0;
        printf("forge %ld: %ld\n", n, r);
        return 0;
    }
    if (!strcmp(mode, "forge-wait") || !strcmp(mode, "forge-kick")) {
        /* A wait or a kick with nothing posted: never the stub's doing (torov ends the program). */
        fflush(stdout);
        if (mode[6] == 'w') __asm__ volatile("outb %%al, $0x15" ::: "memory");
        else __asm__ volatile("outb %%al, $0x14" ::: "memory");
        printf("%s: returned\n", mode);
        return 0;
    }
    if (!strcmp(mode, "sharedtext")) {
        if (argc < 3) return 2;
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) { perror("channel: open"); return 1; }
        unsigned char before[4096], now[4096];
        if (pread(fd, before, sizeof before, 0) != sizeof before) return 1;
        void *p = mmap((void *)victim, 4096, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, fd, 0);
        if (p != (void *)victim) { perror("channel: mmap"); return 1; }
        long sum = 0;
        for (int i = 0; i < 100; i++) sum += victim();
        if (pread(fd, now, sizeof now, 0) != sizeof now) return 1;
        printf("sharedtext: %s, sum %s\n", memcmp(before, now, sizeof now) ? "the file changed" : "the file is unchanged",
               sum == 100L * getppid() ? "right" : "wrong");
        return 0;
    }
    fprintf(stderr, "channel: unknown mode %s\n", mode);
    return 2;
}
