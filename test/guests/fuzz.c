/*
 * A syscall fuzzer guest (issue 13's fuzz kit). HOSTILE: run it only inside torov, never
 * natively: it makes random system calls with hostile arguments and runs random code.
 *
 *   fuzz SEED CALLS CLASSES PROGRESS
 *
 * SEED picks the sequence (the same seed gives the same calls), CALLS is how many to make,
 * CLASSES a string of letters: s random syscalls, c forged syscall-channel requests and
 * `out`s to torov's ports, x random code. PROGRESS is a file (in a volume) the fuzzer maps
 * and counts in: its calls so far, the last one's number and arguments, and a done flag,
 * so the harness (test/fuzz/) knows how far a run got however it ended.
 *
 * Inputs, per call:
 *  - numbers: any of the 460-odd syscalls and some beyond (-1, 512.., 2^32+n, x32's bit);
 *  - pointers into, around and outside guest memory: NULL, low pages, a buffer of random
 *    bytes or of hostile pointers (iovecs, strings, sockaddrs), a buffer whose end runs into
 *    an unmapped page, a PROT_NONE page, read-only text, a memfd mapping whose file was
 *    truncated (no backing), the top of the stack, torov's own pages at 0x7fffffe00000
 *    (its stub, its channel, the vDSO), kernel and non-canonical addresses;
 *  - fds of many kinds (pipes, sockets, memfd, eventfd, epoll, timerfd, /dev/null, a file
 *    in the volume) and random ones; flags, sizes and plain random words.
 * The fuzzer keeps itself alive only as much as a long run needs: it never calls exit,
 * exit_group or rt_sigreturn at random, keeps mm calls off its own code, data, stack and
 * progress page, strips CLONE_VM/CLONE_THREAD (a thread on a random stack), never sends
 * itself SIGKILL or SIGSTOP, and after any call that can change them restores its signal
 * handlers, mask, interval timer and FS base. A SIGALRM every 20 ms interrupts any call
 * that blocks. Its own output goes nowhere: fds 0-2 are /dev/null from the start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096UL
#define SYS_VA 0x7fffffe00000UL         /* src/machine/layout.ts */
#define SYS_STUB (SYS_VA + 0x8000)
#define SYS_CHAN (SYS_VA + 0xd000)

/* ---- Progress, shared with the harness ---------------------------------------------------- */

struct progress {
    volatile uint64_t calls;            /* syscalls (and other steps) started */
    volatile uint64_t nr, args[6];      /* the last syscall */
    volatile uint64_t step;             /* 1 syscall, 2 channel forgery, 3 random code */
    volatile uint64_t done;             /* 1: every call was made */
    volatile uint64_t signals;          /* signals the handlers caught */
    volatile uint64_t code_runs, code_faults;
};
static struct progress *prog;

/* ---- Randomness --------------------------------------------------------------------------- */

static uint64_t rs;
static uint64_t rnd(void)
{
    rs ^= rs >> 12; rs ^= rs << 25; rs ^= rs >> 27;
    return rs * 0x2545F4914F6CDD1DULL;
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static int chance(int percent) { return (int)below(100) < percent; }

/* ---- What the fuzzer keeps for itself ----------------------------------------------------- */

extern char __executable_start[], _end[];
static uintptr_t stack_lo, stack_hi;
static char *code_page, *code_stack;      /* random code runs here */

static int overlaps_own(uint64_t a, uint64_t len)
{
    uint64_t e = a + len;
    if (len == 0) e = a + 1;
    if (e < a) return 1;                                    /* wraps: covers everything */
    uint64_t lo[] = { (uintptr_t)__executable_start, stack_lo, (uintptr_t)prog, (uintptr_t)code_page, (uintptr_t)code_stack };
    uint64_t hi[] = { ((uintptr_t)_end + PAGE - 1) & ~(PAGE - 1), stack_hi, (uintptr_t)prog + PAGE, (uintptr_t)code_page + PAGE, (uintptr_t)code_stack + 64 * 1024 };
    for (int i = 0; i < 5; i++) if (a < hi[i] && e > lo[i]) return 1;
    return 0;
}

/* ---- Signals ------------------------------------------------------------------------------ */

static sigjmp_buf code_jb;
static volatile int in_code, code_ticks;
static char altstack[64 * 1024];
static unsigned long fs_base;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    prog->signals++;
    if (in_code && (sig != SIGALRM || ++code_ticks >= 3)) { in_code = 0; siglongjmp(code_jb, 1); }
    /* A fault in the fuzzer's own code (random code wrote over its data): returning would
     * fault again for ever. The default action then ends it, a guest death. */
    if ((sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP) && si->si_code > 0) signal(sig, SIG_DFL);
}

/* Handlers for every signal (all: after a call that may have changed any), or only for
 * those the fuzzer needs to stay alive and to bound random code (cheaper, after random code). */
static void restore_handlers(int all)
{
    static const int needed[] = { SIGALRM, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;      /* no SA_RESTART: a blocked call gets EINTR */
    if (all) { for (int s = 1; s < 65; s++) if (s != SIGKILL && s != SIGSTOP && s != 32 && s != 33) sigaction(s, &sa, NULL); }
    else for (unsigned i = 0; i < sizeof needed / sizeof *needed; i++) sigaction(needed[i], &sa, NULL);
}

static void restore_signals_as(int all)
{
    restore_handlers(all);
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
    sigaltstack(&ss, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void restore_signals(void) { restore_signals_as(1); }

static void restore_timer(void)
{
    struct itimerval it = { { 0, 20000 }, { 0, 20000 } };
    setitimer(ITIMER_REAL, &it, NULL);
}

/* ---- Argument pools ----------------------------------------------------------------------- */

static int fds[32], nfds;
static char scratch[256 * 1024] __attribute__((aligned(4096)));
static char *edge;          /* a page whose successor is unmapped */
static char *noaccess;      /* a PROT_NONE page */
static char *lost;          /* a memfd mapping whose file was truncated to 0 */
static char *dir;           /* the volume's directory (argv) */

static const char *const PATHS[] = {
    "/", ".", "..", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/full", "/proc/self/maps", "/proc/self/fd/0",
    "/proc/self/exe", "/etc/passwd", "/tmp", "/tmp/f", "/../../../../etc/shadow", "/sys/kernel", "//", "/dev/kvm",
    "x", "a/b/c", "/nonexistent/x",
};

static void fill_random(char *p, size_t n) { for (size_t i = 0; i < n; i += 8) { uint64_t v = rnd(); memcpy(p + i, &v, n - i < 8 ? n - i : 8); } }

static uint64_t hostile_ptr(void);
static int depth;

/* A buffer in scratch filled with something a syscall may read as a struct or a string. */
static uint64_t scratch_buf(void)
{
    if (depth > 1) return (uintptr_t)scratch + (below(sizeof scratch) & ~7UL);
    depth++;
    size_t off = below(sizeof scratch - 8192) & ~7UL;
    char *b = scratch + off;
    switch (below(6)) {
    case 0: fill_random(b, 4096); break;
    case 1: for (int i = 0; i < 512; i++) { uint64_t p = i % 2 ? below(8192) : hostile_ptr(); memcpy(b + 8 * i, &p, 8); } break;  /* iovecs */
    case 2: { /* a path */
        const char *p = PATHS[below(sizeof PATHS / sizeof *PATHS)];
        if (chance(30)) { size_t n = strlen(dir); memcpy(b, dir, n); b[n] = '/'; fill_random(b + n + 1, 16); for (int i = 0; i < 16; i++) b[n + 1 + i] = 'a' + (b[n + 1 + i] & 15); b[n + 17] = 0; }
        else if (chance(10)) { memset(b, 'a', 4095); b[4095] = 0; }           /* PATH_MAX */
        else strcpy(b, p);
        break;
    }
    case 3: memset(b, 0, 4096); break;
    case 4: { /* small timespecs, so a wait ends soon */
        uint64_t ts[4] = { 0, below(2000000), 0, below(2000000) };
        memcpy(b, ts, sizeof ts); break;
    }
    default: memset(b, 0xff, 4096); break;
    }
    depth--;
    return (uintptr_t)b;
}

static uint64_t hostile_ptr(void)
{
    switch (below(18)) {
    case 0: return 0;
    case 1: return below(PAGE);
    case 2: return (uint64_t)-1 - below(64);
    case 3: return rnd();
    case 4: return 0xffff800000000000ULL + below(1UL << 40);                   /* kernel half */
    case 5: return 0x0000800000000000ULL + below(1UL << 40);                   /* non-canonical */
    case 6: return (uintptr_t)edge + PAGE - below(64);                         /* runs into an unmapped page */
    case 7: return (uintptr_t)noaccess + below(PAGE);
    case 8: return (uintptr_t)__executable_start + below(PAGE);                /* read-only text */
    case 9: return (uintptr_t)lost + below(2 * PAGE);                          /* no backing */
    case 10: return stack_hi - below(64);                                      /* the stack's top */
    case 11: return SYS_VA + below(0x10000);                                   /* torov's own pages */
    case 12: return SYS_VA - below(PAGE);                                      /* just below them */
    case 13: return 0x7ffffffff000ULL + below(PAGE);                           /* the top of user space */
    default: return scratch_buf();
    }
}

static uint64_t any_fd(void)
{
    if (nfds && chance(70)) return (uint64_t)fds[below(nfds)];
    switch (below(5)) {
    case 0: return (uint64_t)-1;
    case 1: return below(16);
    case 2: return 1000 + below(100);
    case 3: return (uint64_t)(int)rnd();
    default: return (uint64_t)-100;                                            /* AT_FDCWD */
    }
}

static uint64_t any_arg(void)
{
    switch (below(10)) {
    case 0: case 1: case 2: case 3: return hostile_ptr();
    case 4: case 5: return any_fd();
    case 6: return below(70) - 2;
    case 7: return 1ULL << below(64);
    case 8: { static const uint64_t sizes[] = { 0, 1, 8, 4095, 4096, 65536, 1UL << 31, (uint64_t)-1, 0x7fffffff, 1UL << 40 }; return sizes[below(10)]; }
    default: return rnd() & (chance(50) ? 0xffffffff : (uint64_t)-1);
    }
}

static uint64_t any_nr(void)
{
    if (chance(95)) return below(463);
    static const uint64_t odd[] = { (uint64_t)-1, 512, 547, 1000, 0x40000000 | 1, 0x40000000 | 39, 0x100000000ULL + 39, 0xffffffff, 0x8000000000000000ULL };
    return odd[below(sizeof odd / sizeof *odd)];
}

static long raw(uint64_t nr, uint64_t *a)
{
    long r;
    register uint64_t r10 __asm__("r10") = a[3], r8 __asm__("r8") = a[4], r9 __asm__("r9") = a[5];
    __asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return r;
}

/* exit_group through a raw syscall (a forked child must not run libc's exit handlers). */
static void raw_exit(int code)
{
    uint64_t a[6] = { (uint64_t)code, 0, 0, 0, 0, 0 };
    for (;;) raw(SYS_exit_group, a);
}

/* ---- One random syscall ------------------------------------------------------------------- */

static void one_syscall(void)
{
    uint64_t nr, a[6];
    for (;;) {
        nr = any_nr();
        if (nr != SYS_exit && nr != SYS_exit_group && nr != SYS_rt_sigreturn) break;
    }
    for (int i = 0; i < 6; i++) a[i] = any_arg();
    /* Keep the fuzzer alive (see the top). */
    switch (nr) {
    case SYS_clone: a[0] &= ~(uint64_t)(CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_SETTLS | CLONE_VFORK); break;
    case SYS_clone3: {
        uint64_t *c = (uint64_t *)scratch_buf();
        c[0] &= ~(uint64_t)(CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_SETTLS | CLONE_VFORK);
        a[0] = (uintptr_t)c; break;
    }
    case SYS_kill: case SYS_tkill: if (a[1] == SIGKILL || a[1] == SIGSTOP) a[1] = 0; break;
    case SYS_tgkill: case SYS_rt_tgsigqueueinfo: if (a[2] == SIGKILL || a[2] == SIGSTOP) a[2] = 0; break;
    case SYS_rt_sigqueueinfo: case SYS_pidfd_send_signal: if (a[1] == SIGKILL || a[1] == SIGSTOP) a[1] = 0; break;
    case SYS_mmap: if ((a[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && overlaps_own(a[0], a[1])) a[3] &= ~(uint64_t)(MAP_FIXED | MAP_FIXED_NOREPLACE); break;
    case SYS_munmap: case SYS_mprotect: case SYS_madvise: case SYS_pkey_mprotect: case SYS_remap_file_pages: case 462 /* mseal */:
        if (overlaps_own(a[0], a[1])) { a[0] = (uintptr_t)edge; a[1] = PAGE; }
        break;
    case SYS_mremap:
        if (overlaps_own(a[0], a[1])) { a[0] = (uintptr_t)edge; a[1] = PAGE; }
        if ((a[3] & MREMAP_FIXED) && overlaps_own(a[4], a[2])) a[3] &= ~(uint64_t)MREMAP_FIXED;
        break;
    case SYS_process_madvise: a[0] = (uint64_t)-1; break;
    case SYS_shmat: a[1] = 0; break;
    case SYS_brk: if (a[0] < (uintptr_t)_end) a[0] = 0; break;
    case SYS_rt_sigsuspend: {
        /* A mask that blocks SIGALRM too would wait for ever, natively as well. */
        static uint64_t mask;
        int own = (a[0] >= (uintptr_t)__executable_start && a[0] + 8 <= (uintptr_t)_end) || (a[0] >= stack_lo && a[0] + 8 <= stack_hi);
        if (own) { memcpy(&mask, (void *)a[0], 8); mask &= ~(1ULL << (SIGALRM - 1)); a[0] = (uintptr_t)&mask; }
        break;
    }
    }
    prog->nr = nr;
    for (int i = 0; i < 6; i++) prog->args[i] = a[i];
    prog->step = 1;
    long r = raw(nr, a);
    /* A new process (fork, vfork, clone without CLONE_THREAD): the child ends at once, so a
       run stays one fuzzer and ends when it does (its children are reaped by the run's end). */
    if (r == 0 && (nr == SYS_fork || nr == SYS_vfork || nr == SYS_clone || nr == SYS_clone3)) raw_exit(0);
    switch (nr) {
    case SYS_rt_sigaction: case SYS_rt_sigprocmask: case SYS_sigaltstack: case SYS_rt_sigsuspend: case SYS_signalfd: case SYS_signalfd4:
        restore_signals(); break;
    case SYS_setitimer: case SYS_alarm: case SYS_timer_create: case SYS_timer_settime:
        restore_timer(); break;
    case SYS_arch_prctl:
        syscall(SYS_arch_prctl, 0x1002 /* ARCH_SET_FS */, fs_base); break;
    case SYS_close: case SYS_close_range: case SYS_dup2: case SYS_dup3:
        dup2(fds[0], 0); dup2(fds[0], 1); dup2(fds[0], 2); break;       /* stdio stays /dev/null */
    }
}

/* ---- Random code, and forged channel requests --------------------------------------------- */

uint64_t code_regs[18] __attribute__((used));            /* rax rbx rcx rdx rsi rdi rbp r8..r15, rsp, rip */

/* Loads every register from code_regs and jumps to its rip with its rsp. */
__asm__(
    ".text\n"
    "enter_code:\n"
    "  lea code_regs(%rip), %rdi\n"
    "  mov 128(%rdi), %rsp\n"
    "  pushq 136(%rdi)\n"
    "  mov 0(%rdi), %rax\n  mov 8(%rdi), %rbx\n  mov 16(%rdi), %rcx\n  mov 24(%rdi), %rdx\n"
    "  mov 32(%rdi), %rsi\n  mov 48(%rdi), %rbp\n  mov 56(%rdi), %r8\n  mov 64(%rdi), %r9\n"
    "  mov 72(%rdi), %r10\n  mov 80(%rdi), %r11\n  mov 88(%rdi), %r12\n  mov 96(%rdi), %r13\n"
    "  mov 104(%rdi), %r14\n  mov 112(%rdi), %r15\n  mov 40(%rdi), %rdi\n"
    "  ret\n");
void enter_code(void);

static void run_code(uint64_t rip)
{
    for (int i = 0; i < 16; i++) code_regs[i] = chance(50) ? rnd() : chance(50) ? scratch_buf() : below(512);
    /* rax: what a `syscall` met first would do; mostly calls that leave the fuzzer standing. */
    static const uint64_t safe[] = { SYS_getpid, SYS_getppid, SYS_sched_yield, SYS_read, SYS_write, SYS_clock_gettime, SYS_uname, 1000 };
    if (chance(80)) code_regs[0] = safe[below(sizeof safe / sizeof *safe)];
    code_regs[16] = (uintptr_t)code_stack + 60 * 1024 - 8 * below(64);
    code_regs[17] = rip;
    prog->code_runs++;
    code_ticks = 0;
    if (sigsetjmp(code_jb, 1) == 0) {
        in_code = 1;
        enter_code();
    }
    in_code = 0;
    prog->code_faults++;
    /* What random code may have left: flags (AC would make our own unaligned accesses
     * fault, DF run string instructions backwards), the FS base, signals, the timer. */
    __asm__ volatile("pushfq; andq $~0x40400, (%%rsp); popfq" ::: "memory", "cc");
    syscall(SYS_arch_prctl, 0x1002, fs_base);
    restore_signals_as(0);
    restore_timer();
}

static void random_code(void)
{
    prog->step = 3;
    if (sigsetjmp(code_jb, 1) != 0) { in_code = 0; return; }     /* (random code before may have broken the page) */
    in_code = 1;
    mprotect(code_page, PAGE, PROT_READ | PROT_WRITE);
    fill_random(code_page, PAGE);
    /* Some instructions worth meeting more often than chance gives them. */
    static const unsigned char seeds[][4] = {
        { 0x0f, 0x05 }, { 0xe6, 0x10 }, { 0xe6, 0x11 }, { 0xe6, 0x12 }, { 0xe6, 0x14 }, { 0xe6, 0x15 }, { 0xe6, 0x16 },
        { 0xcd, 0x80 }, { 0xf4 }, { 0x0f, 0x0b }, { 0x48, 0xcf }, { 0x0f, 0x07 }, { 0x0f, 0x01, 0xf8 }, { 0x0f, 0xa2 },
        { 0x0f, 0x32 }, { 0x0f, 0x30 }, { 0xcc }, { 0xfa }, { 0x0f, 0x00, 0xd8 }, { 0x9d },
    };
    for (int i = 0; i < 24; i++) memcpy(code_page + below(PAGE - 4), seeds[below(sizeof seeds / sizeof *seeds)], 4);
    mprotect(code_page, PAGE, PROT_READ | PROT_EXEC);
    in_code = 0;
    run_code((uintptr_t)code_page + below(PAGE));
}

static void forge_channel(void)
{
    prog->step = 2;
    static const unsigned offs[] = { 0x000, 0x044, 0x048, 0x080, 0x088, 0x090, 0x0b8, 0x0c0, 0x100, 0x108, 0x110, 0x118, 0x140, 0x200, 0x208 };
    volatile uint64_t *chan = (volatile uint64_t *)SYS_CHAN;
    uint64_t saved[16];
    /* The channel page is the program's own (torov's stub uses it on its behalf): random words
     * at its fields, then torov is made to look at them. Natively this page does not exist:
     * the writes fault (a signal, caught). */
    if (sigsetjmp(code_jb, 1) == 0) {
        in_code = 1;
        for (int i = 0; i < 16; i++) saved[i] = chan[offs[i % 15] / 8];
        for (int i = 0; i < 1 + (int)below(6); i++) {
            unsigned o = offs[below(15)];
            uint64_t v = chance(50) ? below(8) : chance(50) ? hostile_ptr() : rnd();
            if (chance(50)) *(volatile uint32_t *)(SYS_CHAN + o) = (uint32_t)v; else chan[o / 8] = v;
        }
        in_code = 0;
    } else {
        in_code = 0;
        return;
    }
    switch (below(4)) {
    case 0: { /* an `out` to one of torov's ports, random registers */
        static const unsigned char ports[] = { 0x10, 0x11, 0x12, 0x14, 0x15, 0x16, 0x13, 0x17, 0x80 };
        if (sigsetjmp(code_jb, 1) != 0) { in_code = 0; break; }
        in_code = 1;
        mprotect(code_page, PAGE, PROT_READ | PROT_WRITE);
        code_page[0] = 0xe6; code_page[1] = ports[below(sizeof ports)];           /* out %al, $port */
        code_page[2] = 0x0f; code_page[3] = 0x0b;                                   /* ud2: back to us */
        mprotect(code_page, PAGE, PROT_READ | PROT_EXEC);
        in_code = 0;
        run_code((uintptr_t)code_page);
        break;
    }
    case 1: run_code(SYS_STUB + below(0x500)); break;                              /* anywhere in the stub */
    default: { /* a plain syscall after the forgery (on the channel path it goes through that page) */
        uint64_t a[6] = { 0, 0, 0, 0, 0, 0 };
        raw(SYS_getppid, a);
        break;
    }
    }
    if (sigsetjmp(code_jb, 1) == 0) {
        in_code = 1;
        for (int i = 0; i < 16; i++) chan[offs[i % 15] / 8] = saved[i];
    }
    in_code = 0;
}

/* ---- Set-up --------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc < 5) return 2;
    rs = strtoull(argv[1], NULL, 0) * 2654435761ULL + 0x9e3779b97f4a7c15ULL;
    uint64_t calls = strtoull(argv[2], NULL, 0);
    const char *classes = argv[3];
    int pfd = open(argv[4], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (pfd < 0 || ftruncate(pfd, PAGE) < 0) return 3;
    prog = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
    if (prog == MAP_FAILED) return 4;
    close(pfd);
    dir = strdup(argv[4]);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;

    uintptr_t sp = (uintptr_t)&argc;
    stack_lo = (sp & ~(PAGE - 1)) - 1024 * 1024;
    stack_hi = ((uintptr_t)argv[argc - 1] + strlen(argv[argc - 1]) + PAGE) & ~(PAGE - 1);
    syscall(SYS_arch_prctl, 0x1003 /* ARCH_GET_FS */, &fs_base);

    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2);
    fds[nfds++] = devnull;
    int p[2];
    if (pipe2(p, O_NONBLOCK) == 0) { fds[nfds++] = p[0]; fds[nfds++] = p[1]; }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p) == 0) { fds[nfds++] = p[0]; fds[nfds++] = p[1]; }
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, p) == 0) { fds[nfds++] = p[0]; fds[nfds++] = p[1]; }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0); if (s >= 0) fds[nfds++] = s;
    s = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0); if (s >= 0) fds[nfds++] = s;
    s = eventfd(0, EFD_NONBLOCK); if (s >= 0) fds[nfds++] = s;
    s = epoll_create1(0); if (s >= 0) fds[nfds++] = s;
    s = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK); if (s >= 0) fds[nfds++] = s;
    s = open("/dev/zero", O_RDONLY); if (s >= 0) fds[nfds++] = s;
    s = open("/", O_PATH | O_DIRECTORY); if (s >= 0) fds[nfds++] = s;
    s = open(dir, O_RDONLY | O_DIRECTORY); if (s >= 0) fds[nfds++] = s;
    char f[4096];
    snprintf(f, sizeof f, "%s/file", dir);
    s = open(f, O_RDWR | O_CREAT | O_NONBLOCK, 0644); if (s >= 0) { if (write(s, "fuzz", 4) < 0) {} fds[nfds++] = s; }
    int m = memfd_create("fuzz", MFD_ALLOW_SEALING);
    if (m >= 0) {
        if (ftruncate(m, 2 * PAGE) == 0) lost = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
        if (lost == MAP_FAILED) lost = NULL;
        if (ftruncate(m, 0) < 0) {}
        fds[nfds++] = m;
    }
    if (!lost) lost = scratch;
    edge = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(edge + PAGE, PAGE);
    noaccess = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    code_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    code_stack = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fill_random(scratch, sizeof scratch);

    restore_signals();
    restore_timer();
    int do_s = strchr(classes, 's') != NULL, do_c = strchr(classes, 'c') != NULL, do_x = strchr(classes, 'x') != NULL;
    for (uint64_t i = 0; i < calls; i++) {
        prog->calls = i + 1;
        if ((i & 63) == 63) restore_handlers(1);
        int pick = (int)below(100);
        if (do_x && pick < 4) random_code();
        else if (do_c && pick < 8) forge_channel();
        else if (do_s) one_syscall();
        else if (do_c) forge_channel();
        else if (do_x) random_code();
    }
    prog->done = 1;
    syscall(SYS_exit_group, 0);
    return 0;
}
