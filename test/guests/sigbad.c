/* sigbad: signal and thread state a program forged on purpose. HOSTILE: run it only under
 * torov, never natively (it corrupts its own state on purpose). Each mode prints
 * "sigbad: MODE" (flushed), then does one bad thing. What Linux does, and so what torov
 * must do (the program's own death, never the VMM's):
 *   sigreturn-garbage        rt_sigreturn on a frame of 0x41 bytes               -> SIGSEGV (139)
 *   sigreturn-zero           rt_sigreturn on a frame of zeros (RIP 0)             -> 139
 *   sigreturn-unmapped       rt_sigreturn with rsp in an unmapped page           -> 139
 *   sigreturn-kernel-rip     a genuine frame with RIP at a kernel address        -> 139
 *   sigreturn-noncanonical-rip  ... with a non-canonical RIP                     -> 139
 *   sigreturn-bad-fpstate    ... with fpregs pointing at an unmapped page        -> 139
 *   sigreturn-kernel-fpstate ... with fpregs pointing at a kernel address        -> 139
 *   sigreturn-thread         a garbage frame from a second thread: the process   -> 139
 *   sigreturn-rflags         ... with IOPL 3, NT, VM, VIF, VIP, ID set in rflags: the program
 *                            goes on with none of them (Linux keeps only the arithmetic
 *                            flags, DF, TF, AC and RF): prints "rflags: IOPL 0 NT 0 VM 0
 *                            VIF 0 VIP 0 ID 0", exit 0
 *   sigreturn-kernel-cs      ... with CS and SS set to a ring-0 selector: either SIGSEGV (139)
 *                            or the program goes on in ring 3 ("CPL 3", exit 0); never CPL 0
 *   altstack-unmapped        SA_ONSTACK handler, the altstack unmapped           -> 139
 *   altstack-readonly        ... the altstack read-only                          -> 139
 *   altstack-kernel          ... the altstack at a kernel address                -> 139
 *   altstack-wrap            ... an altstack whose end wraps past 2^64           -> 139
 *   stack-unmapped-signal    a handler, rsp in an unmapped page, tgkill itself   -> 139
 *   clone-bad-stack          a thread (raw clone) whose stack is an unmapped address: it
 *                            faults at its first push and the whole process dies -> 139
 *   clone-noncanonical-stack ... a non-canonical stack                           -> 135 (#SS: Linux sends SIGBUS)
 *   clone-kernel-stack       ... a kernel-half stack                             -> 139
 *   clone-readonly-stack     ... a stack in read-only memory                     -> 139
 *   clone-bad-tid-pointers   CLONE_PARENT_SETTID, CHILD_SETTID and CHILD_CLEARTID at unmapped
 *                            and kernel addresses: the clone works, the bad writes are
 *                            dropped, the child exits: "survived", exit 0
 *   clone-kernel-tls         CLONE_SETTLS with a kernel address: "clone: -1 EPERM", exit 0
 * The tests accept only these outcomes and a VMM that is still well (no stack trace, no
 * status 125).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include "common.h"

#define KERNEL_ADDR 0xffff888000100000UL
#define NONCANON 0x8000000000001000UL

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void *unmapped_page(void)
{
    char *p = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED && munmap(p + 4096, 4096) == 0);
    return p + 4096;
}

/* rt_sigreturn with rsp at `frame` (the ucontext: the restorer's `ret` has popped pretcode). */
__attribute__((noreturn)) static void sigreturn_at(void *frame)
{
    __asm__ volatile("mov %0, %%rsp\n mov $15, %%eax\n syscall\n ud2\n" : : "r"(frame) : "memory");
    __builtin_unreachable();
}

/* A genuine frame, captured in a handler, as the template for the forged ones. */
static ucontext_t tmpl;
static int have_tmpl;
static void capture(int s, siginfo_t *si, void *uc)
{
    (void)s; (void)si;
    memcpy(&tmpl, uc, sizeof tmpl);
    have_tmpl = 1;
}

static char alt_stack[64 * 1024] __attribute__((aligned(16)));

/* Where a forged frame that Linux accepts resumes: a fresh stack, a C function. */
__attribute__((noreturn)) void resumed(void)
{
    unsigned long fl;
    unsigned short cs;
    __asm__ volatile("pushfq\n pop %0\n mov %%cs, %1" : "=r"(fl), "=r"(cs));
    printf("rflags: IOPL %lu NT %lu VM %lu VIF %lu VIP %lu ID %lu\n", (fl >> 12) & 3, (fl >> 14) & 1, (fl >> 17) & 1,
           (fl >> 19) & 1, (fl >> 20) & 1, (fl >> 21) & 1);
    printf("CPL %d\n", cs & 3);
    fflush(stdout);
    _exit(0);
}

static ucontext_t *forged(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = capture;
    sa.sa_flags = SA_SIGINFO;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    raise(SIGUSR1);
    if (!have_tmpl) {
        fprintf(stderr, "sigbad: no signal was delivered: the frame is built from scratch\n");
        memset(&tmpl, 0, sizeof tmpl);
        tmpl.uc_mcontext.gregs[REG_CSGSFS] = 0x33 | (0x2bUL << 48);
        tmpl.uc_mcontext.gregs[REG_EFL] = 0x202;
    }
    static ucontext_t f;
    memcpy(&f, &tmpl, sizeof f);
    f.uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)resumed;
    f.uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)(alt_stack + sizeof alt_stack - 8);
    f.uc_mcontext.fpregs = NULL;                  /* no FPU state: the default one */
    sigemptyset(&f.uc_sigmask);
    return &f;
}

static void *garbage_thread(void *arg)
{
    (void)arg;
    static char frame[4096] __attribute__((aligned(16)));
    memset(frame, 0x41, sizeof frame);
    sigreturn_at(frame);
}

static void on_usr1(int s) { (void)s; }

static void altstack_case(void *sp, size_t size)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_ONSTACK;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    stack_t ss = { .ss_sp = sp, .ss_size = size, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0) { printf("sigaltstack: -1 %s\n", errname(errno)); return; }
    raise(SIGUSR1);
}

/* A raw thread: CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM plus
 * `extra`. The child pushes on its stack, then exits (the thread only). */
static long raw_clone(unsigned long extra, void *stack, void *ptid, void *ctid, unsigned long tls)
{
    unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | extra;
    register void *r10 __asm__("r10") = ctid;
    register unsigned long r8 __asm__("r8") = tls;
    long r;
    __asm__ volatile(
        "syscall\n"
        "test %%rax, %%rax\n jnz 1f\n"
        "push %%rax\n pop %%rax\n"                /* the child's first use of its stack */
        "mov $60, %%eax\n xor %%edi, %%edi\n syscall\n ud2\n"
        "1:\n"
        : "=a"(r) : "a"(SYS_clone), "D"(flags), "S"(stack), "d"(ptid), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
    return r;
}

static void clone_case(void *stack)
{
    long r = raw_clone(0, stack, NULL, NULL, 0);
    if (r < 0) { printf("clone: -1 %s\n", errname((int)-r)); return; }
    sleep_ms(2000);
    printf("clone: the process survived its thread's fault\n");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    printf("sigbad: %s\n", mode);
    fflush(stdout);
    static char frame[4096] __attribute__((aligned(16)));

    if (!strcmp(mode, "sigreturn-garbage")) {
        memset(frame, 0x41, sizeof frame);
        sigreturn_at(frame);
    } else if (!strcmp(mode, "sigreturn-zero")) {
        memset(frame, 0, sizeof frame);
        sigreturn_at(frame);
    } else if (!strcmp(mode, "sigreturn-unmapped")) {
        sigreturn_at(unmapped_page());
    } else if (!strcmp(mode, "sigreturn-kernel-rip")) {
        ucontext_t *f = forged();
        f->uc_mcontext.gregs[REG_RIP] = (greg_t)0xffffffff81000000UL;
        sigreturn_at(f);
    } else if (!strcmp(mode, "sigreturn-noncanonical-rip")) {
        ucontext_t *f = forged();
        f->uc_mcontext.gregs[REG_RIP] = (greg_t)NONCANON;
        sigreturn_at(f);
    } else if (!strcmp(mode, "sigreturn-bad-fpstate")) {
        ucontext_t *f = forged();
        f->uc_mcontext.fpregs = unmapped_page();
        sigreturn_at(f);
    } else if (!strcmp(mode, "sigreturn-kernel-fpstate")) {
        ucontext_t *f = forged();
        f->uc_mcontext.fpregs = (void *)KERNEL_ADDR;
        sigreturn_at(f);
    } else if (!strcmp(mode, "sigreturn-thread")) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, garbage_thread, NULL) == 0);
        sleep_ms(2000);
        printf("sigreturn-thread: the process survived\n");
    } else if (!strcmp(mode, "sigreturn-rflags")) {
        ucontext_t *f = forged();
        f->uc_mcontext.gregs[REG_EFL] |= (3L << 12) | (1L << 14) | (1L << 17) | (1L << 19) | (1L << 20) | (1L << 21);
        sigreturn_at(f);
    } else if (!strcmp(mode, "sigreturn-kernel-cs")) {
        ucontext_t *f = forged();
        f->uc_mcontext.gregs[REG_CSGSFS] = 0x10 | (0x18UL << 48);
        sigreturn_at(f);
    } else if (!strcmp(mode, "altstack-unmapped")) {
        char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(p != MAP_FAILED);
        altstack_case(p, 65536);                  /* set while mapped, then unmapped */
        stack_t ss = { .ss_sp = p, .ss_size = 65536, .ss_flags = 0 };
        CHECK(sigaltstack(&ss, NULL) == 0 && munmap(p, 65536) == 0);
        raise(SIGUSR1);
    } else if (!strcmp(mode, "altstack-readonly")) {
        char *p = mmap(NULL, 65536, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(p != MAP_FAILED);
        altstack_case(p, 65536);
    } else if (!strcmp(mode, "altstack-kernel")) {
        altstack_case((void *)KERNEL_ADDR, 65536);
    } else if (!strcmp(mode, "altstack-wrap")) {
        altstack_case((void *)0xfffffffffffff000UL, 65536);
    } else if (!strcmp(mode, "stack-unmapped-signal")) {
        signal(SIGUSR1, on_usr1);
        pid_t pid = getpid(), tid = (pid_t)syscall(SYS_gettid);
        void *sp = (char *)unmapped_page() + 2048;
        __asm__ volatile("mov %0, %%rsp\n mov %1, %%eax\n syscall\n ud2\n"
                         : : "r"(sp), "i"(SYS_tgkill), "D"(pid), "S"(tid), "d"(SIGUSR1) : "memory");
    } else if (!strcmp(mode, "clone-bad-stack")) {
        clone_case((char *)unmapped_page() + 2048);
    } else if (!strcmp(mode, "clone-noncanonical-stack")) {
        clone_case((void *)NONCANON);
    } else if (!strcmp(mode, "clone-kernel-stack")) {
        clone_case((void *)KERNEL_ADDR);
    } else if (!strcmp(mode, "clone-readonly-stack")) {
        char *p = mmap(NULL, 65536, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(p != MAP_FAILED);
        clone_case(p + 65536);
    } else if (!strcmp(mode, "clone-bad-tid-pointers")) {
        char *stk = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(stk != MAP_FAILED);
        long r = raw_clone(CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID, stk + 65536, unmapped_page(),
                           (void *)KERNEL_ADDR, 0);
        if (r < 0) printf("clone: -1 %s\n", errname((int)-r));
        sleep_ms(100);
        printf("survived\n");
        return 0;
    } else if (!strcmp(mode, "clone-kernel-tls")) {
        char *stk = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(stk != MAP_FAILED);
        long r = raw_clone(CLONE_SETTLS, stk + 65536, NULL, NULL, KERNEL_ADDR);
        if (r < 0) printf("clone: -1 %s\n", errname((int)-r));
        else printf("clone: created a thread with a kernel TLS address\n");
        sleep_ms(100);
        return 0;
    } else {
        fprintf(stderr, "sigbad: unknown mode '%s'\n", mode);
        return 2;
    }
    printf("sigbad: %s: no fault\n", mode);
    return 1;
}
