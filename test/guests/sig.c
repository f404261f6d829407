/* sig: Linux signal delivery, one behaviour per mode; built with musl (`sig`) and with
 * glibc (`sig_glibc`) from this one source. Every line printed is deterministic (no pids,
 * addresses or times), so a run under torov compares byte for byte with a native one.
 * On failure: "FAIL ..." on stderr, exit 1.
 *   raise        a handler runs for raise, kill(getpid()), tgkill(getpid(), gettid()),
 *                tkill and sigqueue, synchronously, with the signal (and sa_mask) blocked
 *                inside and the mask restored after
 *   siginfo      SA_SIGINFO fields (si_signo, si_code SI_USER/SI_TKILL/SI_QUEUE, si_pid,
 *                si_uid, si_value) and the frame: rsp%16 == 8 at entry, the return address
 *                is sa_restorer, ucontext then siginfo right above it (rt_sigframe),
 *                uc_sigmask is the interrupted mask, fpregs inside the frame
 *   segv         SIGSEGV recovered with sigsetjmp/siglongjmp: unmapped page (SEGV_MAPERR),
 *                write to a PROT_READ page (SEGV_ACCERR), NULL, a kernel address and a
 *                non-canonical one, hlt; si_addr, RIP, trapno and error code; 100 recoveries
 *                in a row; a handler that mprotects the page and returns (the store is retried)
 *   fpe          SIGFPE from division by zero and INT64_MIN/-1 (FPE_INTDIV, si_addr = the
 *                div); the handler skips the instruction and sets rax, and execution goes on
 *   ill          SIGILL from ud2 (ILL_ILLOPN, si_addr), SIGTRAP from int3 (RIP after it);
 *                the handler moves RIP on and returns
 *   altstack     stack overflow caught by a SIGSEGV handler on a sigaltstack (SA_ONSTACK),
 *                in the main thread and in a second thread with its own altstack
 *   itimer       setitimer(ITIMER_REAL) every 10 ms, 10 ticks counted with pause(),
 *                getitimer, alarm's return values
 *   itimer-spin  ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF ticks reach a loop that makes
 *                no system calls
 *   itimer-io    a 1 ms timer without SA_RESTART never makes a write or read of a pipe
 *                with room (or data) fail with EINTR
 *   eintr        alarm(1) interrupts a read on an empty pipe: -1 EINTR
 *   interrupt    with SA_RESTART: a read restarts (the handler writes the byte on its 3rd
 *                tick), accept restarts (the handler connects), a futex wait restarts;
 *                nanosleep, poll and epoll_wait still give EINTR; without SA_RESTART a
 *                futex wait gives EINTR
 *   restart-thread  SA_RESTART read in main, interrupted by a 20 ms timer, completed by a
 *                second thread's write once the handler has run twice
 *   sigtimedwait a blocked, pending signal taken by sigtimedwait (and by sigwaitinfo), the
 *                timeout (EAGAIN, not early), a zero timeout, queued real-time signals in order
 *   mask         sigprocmask blocking: nothing delivered, rt_sigpending shows the signals,
 *                unblocking delivers them (standard signals once, real-time ones each time)
 *   suspend      sigsuspend with a pending signal and with a timer, pause
 *   resethand    SA_RESETHAND: the handler runs once, then the default action kills (138)
 *   nodefer      SA_NODEFER nests the handler, without it the signal waits; sa_mask
 *   signalfd     signalfd4 on a blocked signal: EAGAIN, poll, signalfd_siginfo fields
 *   timer        timer_create: SIGEV_SIGNAL (SI_TIMER, si_value), timer_gettime/getoverrun/
 *                delete, an absolute CLOCK_REALTIME timer, SIGEV_THREAD_ID to another
 *                thread, SIGEV_NONE
 *   fpu          xmm0-15, MXCSR, x87 (and ymm when AVX is there) survive a handler that
 *                clobbers them; the handler starts with the default MXCSR/FCW; a double
 *                computation hammered by a 1 ms timer gives the same bits
 *   wait handler|spin|nohandler|ignore
 *                prints "ready" and waits (pause, or a loop without syscalls) for signals
 *                sent from outside: handler: SIGHUP/SIGUSR1/SIGUSR2/SIGWINCH print "got X"
 *                and go on, SIGINT/SIGTERM print "got X" and exit 0; spin: SIGTERM ends the
 *                loop; nohandler: default actions (130/143); ignore: SIGINT ignored
 *   default ignored|abort|term|kill|segv-blocked|segv-ignored|thread-segv
 *                default actions: ignored ones do nothing (a blocked fatal one neither),
 *                then 134, 143, 137, 139, 139, 139
 *   threads      signals and threads: pthread_kill reaches the thread, a process signal the
 *                thread that does not block it, sigtimedwait woken from another thread,
 *                masks per thread and inherited, a thread spinning without syscalls
 *   errors       bad arguments, one line each with the result (errno name): sigaltstack (EFAULT, ENOMEM, EINVAL, EPERM on it), futex on
 *                unmapped or misaligned words, rt_sigaction/rt_sigprocmask/kill/tgkill/
 *                rt_sigtimedwait/timer_create/timer_settime/signalfd4 errors
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include "common.h"

#ifndef sigev_notify_thread_id                   /* glibc before 2.41 */
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* linux/futex.h (musl-gcc has no kernel headers) */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_WAIT_BITSET 9
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PRIVATE (FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_OP_PRIVATE (FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_OP_SET 0
#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP(op, oparg, cmp, cmparg) ((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))

#define PCHECK(call) do { int e_ = (call); if (e_) { errno = e_; FAIL("%s", #call); } } while (0)
#define YN(c) ((c) ? "yes" : "no")

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }
static int tgkill_(pid_t tg, pid_t t, int sig) { return (int)syscall(SYS_tgkill, tg, t, sig); }

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void on(int sig, void (*h)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0);
}

static void on_info(int sig, void (*h)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h;
    sa.sa_flags = flags | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0);
}

static int blocked(int sig)
{
    sigset_t cur;
    CHECK(pthread_sigmask(SIG_SETMASK, NULL, &cur) == 0);
    return sigismember(&cur, sig);
}

static void block(int sig, int how)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    CHECK(pthread_sigmask(how, &s, NULL) == 0);
}

static const char *signame(int s)
{
    switch (s) {
#define S(x) case x: return #x;
    S(SIGHUP) S(SIGINT) S(SIGQUIT) S(SIGILL) S(SIGTRAP) S(SIGABRT) S(SIGBUS) S(SIGFPE)
    S(SIGKILL) S(SIGUSR1) S(SIGSEGV) S(SIGUSR2) S(SIGPIPE) S(SIGALRM) S(SIGTERM)
    S(SIGCHLD) S(SIGCONT) S(SIGURG) S(SIGVTALRM) S(SIGPROF) S(SIGWINCH)
#undef S
    }
    static char buf[16];
    if (s >= SIGRTMIN && s <= SIGRTMAX) snprintf(buf, sizeof buf, "SIGRTMIN+%d", s - SIGRTMIN);
    else snprintf(buf, sizeof buf, "SIG?%d", s);
    return buf;
}

static const char *codename(int sig, int c)
{
    switch (c) {
    case SI_USER: return "SI_USER";
    case SI_KERNEL: return "SI_KERNEL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_TIMER: return "SI_TIMER";
    case SI_TKILL: return "SI_TKILL";
    }
    if (sig == SIGSEGV && c == SEGV_MAPERR) return "SEGV_MAPERR";
    if (sig == SIGSEGV && c == SEGV_ACCERR) return "SEGV_ACCERR";
    if (sig == SIGFPE && c == FPE_INTDIV) return "FPE_INTDIV";
    if (sig == SIGFPE && c == FPE_INTOVF) return "FPE_INTOVF";
    if (sig == SIGILL && c == ILL_ILLOPN) return "ILL_ILLOPN";
    if (sig == SIGTRAP && c == TRAP_BRKPT) return "TRAP_BRKPT";
    static char buf[16];
    snprintf(buf, sizeof buf, "code %d", c);
    return buf;
}

/* Instructions with known addresses, for si_addr and RIP checks. */
__asm__(
    ".text\n"
    ".globl g_load\n"       "g_load:\n"
    ".globl g_load_insn\n"  "g_load_insn: movq (%rdi), %rax\n ret\n"
    ".globl g_store\n"      "g_store:\n"
    ".globl g_store_insn\n" "g_store_insn: movb $42, (%rdi)\n ret\n"
    ".globl g_div\n"        "g_div: mov %rdi, %rax\n xor %edx, %edx\n"
    ".globl g_div_insn\n"   "g_div_insn: divq %rsi\n ret\n"
    ".globl g_idiv\n"       "g_idiv: mov %rdi, %rax\n cqo\n"
    ".globl g_idiv_insn\n"  "g_idiv_insn: idivq %rsi\n ret\n"
    ".globl g_ud2\n"        "g_ud2: xor %eax, %eax\n"
    ".globl g_ud2_insn\n"   "g_ud2_insn: ud2\n add $5, %eax\n ret\n"
    ".globl g_int3\n"       "g_int3: xor %eax, %eax\n"
    ".globl g_int3_insn\n"  "g_int3_insn: int3\n add $6, %eax\n ret\n"
    ".globl g_hlt\n"        "g_hlt:\n"
    ".globl g_hlt_insn\n"   "g_hlt_insn: hlt\n ret\n"
    /* A handler entry that records rsp as the kernel left it, then runs the C handler. */
    ".globl g_probe_entry\n" "g_probe_entry: mov %rsp, g_probe_rsp(%rip)\n jmp g_probe_handler\n"
);
long g_load(void *p);
void g_store(void *p);
unsigned long g_div(unsigned long a, unsigned long b);
long g_idiv(long a, long b);
int g_ud2(void);
int g_int3(void);
void g_hlt(void);
extern char g_load_insn[], g_store_insn[], g_div_insn[], g_idiv_insn[], g_ud2_insn[], g_int3_insn[], g_hlt_insn[];
void g_probe_entry(int, siginfo_t *, void *);
void g_probe_handler(int, siginfo_t *, void *);
void *g_probe_rsp;

/* ---------------- raise ---------------- */
static volatile sig_atomic_t r_count, r_sig, r_self_blocked, r_mask_blocked;

static void r_handler(int sig)
{
    r_count++;
    r_sig = sig;
    r_self_blocked = blocked(sig);
    r_mask_blocked = blocked(SIGUSR2);
}

static void mode_raise(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = r_handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    union sigval v = { .sival_int = 1 };
    struct { const char *name; int r; } calls[5];
    int n = 0;
#define CALL(nm, expr) do { int before = r_count; int rr = (expr); calls[n].name = nm; calls[n].r = rr; \
        printf("raise: %s returned %d, handler ran %d time(s) before it returned, sig %s\n", nm, rr, r_count - before, signame(r_sig)); n++; } while (0)
    CALL("raise", raise(SIGUSR1));
    CALL("kill(getpid())", kill(getpid(), SIGUSR1));
    CALL("tgkill(getpid(), gettid())", tgkill_(getpid(), gettid_(), SIGUSR1));
    CALL("tkill(gettid())", (int)syscall(SYS_tkill, gettid_(), SIGUSR1));
    CALL("sigqueue(getpid())", sigqueue(getpid(), SIGUSR1, v));
    printf("raise: the signal was blocked inside the handler: %s; so was its sa_mask: %s\n", YN(r_self_blocked), YN(r_mask_blocked));
    printf("raise: neither is blocked after the handler: %s\n", YN(!blocked(SIGUSR1) && !blocked(SIGUSR2)));
    printf("raise: kill(getpid(), 0) = %d\n", kill(getpid(), 0));
    (void)calls;
}

/* ---------------- siginfo ---------------- */
static volatile int i_signo, i_code, i_pid, i_uid, i_value, i_errno;
static volatile int p_align, p_ret_restorer, p_uc_above, p_si_above, p_fpregs_in, p_mask_ok, p_usr1_in_mask;
static volatile long p_ss_flags;
static void *k_restorer;

static void i_handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    i_signo = si->si_signo;
    i_code = si->si_code;
    i_pid = si->si_pid;
    i_uid = si->si_uid;
    i_value = si->si_value.sival_int;
    i_errno = si->si_errno;
    (void)sig;
}

void g_probe_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    char *rsp = g_probe_rsp;
    p_align = ((uintptr_t)rsp & 15) == 8;
    p_ret_restorer = *(void **)rsp == k_restorer;
    p_uc_above = (char *)uc == rsp + 8;
    /* The kernel's struct ucontext: flags, link, stack_t (24), sigcontext (256), an 8-byte mask. */
    p_si_above = (char *)si == rsp + 8 + 8 + 8 + 24 + 256 + 8;
    char *fp = (char *)uc->uc_mcontext.fpregs;
    p_fpregs_in = fp > (char *)si && ((uintptr_t)fp & 63) == 0 && fp < rsp + 64 * 1024;
    p_mask_ok = sigismember(&uc->uc_sigmask, SIGUSR2) && !sigismember(&uc->uc_sigmask, SIGHUP);
    p_usr1_in_mask = sigismember(&uc->uc_sigmask, sig);
    p_ss_flags = uc->uc_stack.ss_flags;
    i_handler(sig, si, ucv);
}

struct ksigaction { void *handler; unsigned long flags; void *restorer; uint64_t mask; };

static void show_info(const char *how)
{
    printf("siginfo: %s: si_signo %s si_code %s si_pid %s si_uid %s si_errno %d\n", how, signame(i_signo),
           codename(i_signo, i_code), i_pid == getpid() ? "self" : "other", (uid_t)i_uid == getuid() ? "self" : "other", i_errno);
}

static void mode_siginfo(void)
{
    on_info(SIGUSR1, i_handler, 0);
    raise(SIGUSR1); show_info("raise");
    kill(getpid(), SIGUSR1); show_info("kill");
    tgkill_(getpid(), gettid_(), SIGUSR1); show_info("tgkill");
    union sigval v = { .sival_int = 1234 };
    sigqueue(getpid(), SIGUSR1, v); show_info("sigqueue");
    printf("siginfo: sigqueue: si_value %d\n", i_value);
    siginfo_t q;
    memset(&q, 0, sizeof q);
    q.si_signo = SIGUSR1;
    q.si_code = SI_QUEUE;
    q.si_pid = getpid();
    q.si_uid = getuid();
    q.si_value.sival_int = 5678;
    CHECK(syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid_(), SIGUSR1, &q) == 0);
    show_info("rt_tgsigqueueinfo");
    printf("siginfo: rt_tgsigqueueinfo: si_value %d\n", i_value);

    /* The frame, seen from an assembly entry that records rsp. */
    on_info(SIGUSR1, g_probe_entry, 0);
    struct ksigaction k;
    CHECK(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &k, 8) == 0);
    k_restorer = k.restorer;
    printf("siginfo: the C library set SA_RESTORER: %s\n", YN(k.flags & 0x04000000));
    block(SIGUSR2, SIG_BLOCK);
    raise(SIGUSR1);
    block(SIGUSR2, SIG_UNBLOCK);
    show_info("frame");
    printf("siginfo: frame: rsp %% 16 == 8 at the handler's first instruction: %s\n", YN(p_align));
    printf("siginfo: frame: the return address is sa_restorer: %s\n", YN(p_ret_restorer));
    printf("siginfo: frame: ucontext right above the return address: %s; siginfo right above the ucontext: %s\n", YN(p_uc_above), YN(p_si_above));
    printf("siginfo: frame: fpregs above them, 64-byte aligned: %s\n", YN(p_fpregs_in));
    printf("siginfo: frame: uc_sigmask is the interrupted mask: %s; it lacks the signal itself: %s\n", YN(p_mask_ok), YN(!p_usr1_in_mask));
    printf("siginfo: frame: uc_stack.ss_flags %ld (no altstack)\n", p_ss_flags);
}

/* ---------------- segv ---------------- */
static sigjmp_buf jb;
static volatile int f_sig, f_code, f_trapno, f_err;
static void *volatile f_addr, *volatile f_rip;
static char *volatile f_fix_page;

static void f_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    f_sig = sig;
    f_code = si->si_code;
    f_addr = si->si_addr;
    f_rip = (void *)uc->uc_mcontext.gregs[REG_RIP];
    f_trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
    f_err = (int)uc->uc_mcontext.gregs[REG_ERR];
    if (f_fix_page) {                             /* make the page writable and retry */
        CHECK(mprotect(f_fix_page, 4096, PROT_READ | PROT_WRITE) == 0);
        f_fix_page = NULL;
        return;
    }
    siglongjmp(jb, 1);
}

static void fault_report(const char *what, void *want_addr, void *want_rip)
{
    printf("segv: %s: %s %s, si_addr right: %s, RIP at the instruction: %s, trapno %d err %d\n", what, signame(f_sig),
           codename(f_sig, f_code), YN(f_addr == want_addr), YN(f_rip == want_rip), f_trapno, f_err);
}

#define TRY(what, expr, want_addr, want_rip) do { f_sig = 0; \
        if (sigsetjmp(jb, 1) == 0) { expr; printf("segv: %s: no fault\n", what); } \
        else fault_report(what, want_addr, want_rip); } while (0)

static void mode_segv(void)
{
    on_info(SIGSEGV, f_handler, 0);
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK(munmap(p + 4096, 4096) == 0);
    /* Touched first: a page Linux has not populated yet would fault "not present" (error
     * code bit 0 clear) where torov, which maps guest memory eagerly, reports a protection
     * fault. The lazy population is not something a program can rely on. */
    p[0] = 1;
    TRY("read of an unmapped page", g_load(p + 4096 + 8), p + 4096 + 8, g_load_insn);
    TRY("write to an unmapped page", g_store(p + 4096 + 16), p + 4096 + 16, g_store_insn);
    CHECK(mprotect(p, 4096, PROT_READ) == 0);
    TRY("write to a PROT_READ page", g_store(p + 24), p + 24, g_store_insn);
    CHECK(mprotect(p, 4096, PROT_NONE) == 0);
    TRY("read of a PROT_NONE page", g_load(p + 32), p + 32, g_load_insn);
    TRY("read at address 16", g_load((void *)16), (void *)16, g_load_insn);
    TRY("read of a kernel address", g_load((void *)0xffff900000000000UL), (void *)0xffff900000000000UL, g_load_insn);
    TRY("read of a non-canonical address", g_load((void *)0x8000000000000000UL), NULL, g_load_insn);
    TRY("hlt in user mode", g_hlt(), NULL, g_hlt_insn);
    volatile int ok = 0;
    for (volatile int i = 0; i < 100; i++) {
        f_sig = 0;
        if (sigsetjmp(jb, 1) == 0) g_load(p + 4096 + i * 8);
        else if (f_sig == SIGSEGV && f_addr == p + 4096 + i * 8) ok++;
    }
    printf("segv: recovered from %d faults in a row\n", ok);
    printf("segv: SIGSEGV not left blocked: %s\n", YN(!blocked(SIGSEGV)));
    CHECK(mprotect(p, 4096, PROT_READ) == 0);
    f_fix_page = p;
    f_sig = 0;
    g_store(p + 40);
    printf("segv: a handler made the page writable and returned: %s, the store was retried: %d\n", signame(f_sig), p[40]);
    munmap(p, 4096);
}

/* ---------------- fpe, ill ---------------- */
static volatile int x_skip, x_rax;

static void x_handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    f_sig = sig;
    f_code = si->si_code;
    f_addr = si->si_addr;
    f_rip = (void *)uc->uc_mcontext.gregs[REG_RIP];
    f_trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
    uc->uc_mcontext.gregs[REG_RIP] += x_skip;
    uc->uc_mcontext.gregs[REG_RAX] = x_rax;
}

static void mode_fpe(void)
{
    on_info(SIGFPE, x_handler, 0);
    x_skip = 3;                                   /* divq %rsi / idivq %rsi: 48 f7 f6 / 48 f7 fe */
    x_rax = 77;
    unsigned long r = g_div(100, 0);
    printf("fpe: 100/0: %s %s, si_addr at the div: %s, RIP at the div: %s, trapno %d; the handler skipped it, result %lu\n",
           signame(f_sig), codename(f_sig, f_code), YN(f_addr == g_div_insn), YN(f_rip == g_div_insn), f_trapno, r);
    x_rax = 88;
    f_sig = 0;
    long q = g_idiv(INT64_MIN, -1);
    printf("fpe: INT64_MIN/-1: %s %s, si_addr at the idiv: %s, result %ld\n", signame(f_sig), codename(f_sig, f_code),
           YN(f_addr == g_idiv_insn), q);
    printf("fpe: 100/7 without a fault: %lu\n", g_div(100, 7));
}

static void mode_ill(void)
{
    on_info(SIGILL, x_handler, 0);
    on_info(SIGTRAP, x_handler, 0);
    x_skip = 2;                                   /* ud2 */
    x_rax = 10;
    int r = g_ud2();
    printf("ill: ud2: %s %s, si_addr at the ud2: %s, RIP at the ud2: %s, trapno %d; went on after it: %d\n",
           signame(f_sig), codename(f_sig, f_code), YN(f_addr == g_ud2_insn), YN(f_rip == g_ud2_insn), f_trapno, r);
    x_skip = 0;                                   /* int3 traps after itself */
    x_rax = 20;
    f_sig = 0;
    r = g_int3();
    printf("ill: int3: %s %s, RIP after the int3: %s, trapno %d; went on after it: %d\n",
           signame(f_sig), codename(f_sig, f_code), YN(f_rip == g_int3_insn + 1), f_trapno, r);
}

/* ---------------- altstack ---------------- */
static char *a_lo, *a_hi;
static volatile int a_on_alt, a_ss_onstack;
static __thread sigjmp_buf a_jb;
static __thread char *ta_lo, *ta_hi;

static void a_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)si; (void)uc;
    char local;
    a_on_alt = &local >= ta_lo && &local < ta_hi;
    stack_t cur;
    a_ss_onstack = sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK);
    siglongjmp(a_jb, 1);
}

static int a_recurse(int depth)
{
    volatile char big[16 * 1024];
    big[0] = (char)depth;
    big[sizeof big - 1] = (char)depth;
    return a_recurse(depth + 1) + big[0] + big[sizeof big - 1];
}

static void a_overflow(const char *who)
{
    enum { SZ = 64 * 1024 };
    char *alt = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(alt != MAP_FAILED);
    ta_lo = alt;
    ta_hi = alt + SZ;
    stack_t ss = { .ss_sp = alt, .ss_size = SZ, .ss_flags = 0 };
    CHECK(sigaltstack(&ss, NULL) == 0);
    a_on_alt = a_ss_onstack = 0;
    if (sigsetjmp(a_jb, 1) == 0) {
        printf("altstack: %s: %d\n", who, a_recurse(0));
        return;
    }
    stack_t after;
    CHECK(sigaltstack(NULL, &after) == 0);
    printf("altstack: %s: stack overflow caught, the handler ran on the altstack: %s, SS_ONSTACK inside: %s, not after: %s\n",
           who, YN(a_on_alt), YN(a_ss_onstack), YN(!(after.ss_flags & SS_ONSTACK)));
}

static void *a_thread(void *arg)
{
    (void)arg;
    a_overflow("thread");
    return NULL;
}

static void mode_altstack(void)
{
    on_info(SIGSEGV, a_handler, SA_ONSTACK);
    (void)a_lo; (void)a_hi;
    a_overflow("main");
    pthread_attr_t a;
    PCHECK(pthread_attr_init(&a));
    PCHECK(pthread_attr_setstacksize(&a, 256 * 1024));
    pthread_t t;
    PCHECK(pthread_create(&t, &a, a_thread, NULL));
    PCHECK(pthread_join(t, NULL));
}

/* ---------------- itimer ---------------- */
static volatile sig_atomic_t t_alrm, t_vt, t_prof;
static void t_on_alrm(int s) { (void)s; t_alrm++; }
static void t_on_vt(int s) { (void)s; t_vt++; }
static void t_on_prof(int s) { (void)s; t_prof++; }

static void set_itimer(int which, long interval_us, long value_us)
{
    struct itimerval it = { { interval_us / 1000000, interval_us % 1000000 }, { value_us / 1000000, value_us % 1000000 } };
    CHECK(setitimer(which, &it, NULL) == 0);
}

static void mode_itimer(void)
{
    on(SIGALRM, t_on_alrm, 0);
    /* Timed from before the timer is armed: a delay before the first pause (the printf
     * below, under load) must not count as ticks coming early. */
    long t0 = now_ns();
    set_itimer(ITIMER_REAL, 10000, 10000);
    struct itimerval g;
    CHECK(getitimer(ITIMER_REAL, &g) == 0);
    printf("itimer: getitimer: interval %ld us, value within it: %s\n", (long)(g.it_interval.tv_sec * 1000000 + g.it_interval.tv_usec),
           YN(g.it_value.tv_sec == 0 && g.it_value.tv_usec > 0 && g.it_value.tv_usec <= 10000));
    int eintr = 0, calls = 0;
    while (t_alrm < 10) { calls++; if (pause() == -1 && errno == EINTR) eintr++; }
    long ms = (now_ns() - t0) / 1000000;
    set_itimer(ITIMER_REAL, 0, 0);
    /* A tick may land between two pause() calls (then it interrupts none), and two ticks
     * may end one pause under load, natively too: so not a count of pauses, but each one
     * returned -1 EINTR. */
    printf("itimer: 10 ticks or more: %s, every pause returned EINTR: %s, not early: %s\n", YN(t_alrm >= 10), YN(calls >= 1 && eintr == calls), YN(ms >= 90));
    CHECK(getitimer(ITIMER_REAL, &g) == 0);
    printf("itimer: disarmed: %s\n", YN(g.it_value.tv_sec == 0 && g.it_value.tv_usec == 0));
    unsigned a5 = alarm(5), a0 = alarm(0);
    printf("itimer: alarm(5) = %u, then alarm(0) = %u\n", a5, a0);
}

static void spin_until(volatile sig_atomic_t *c, int want, long ms)
{
    long end = now_ns() + ms * 1000000L;       /* the vDSO clock: no system call in the loop */
    volatile unsigned long x = 0;
    while (*c < want && now_ns() < end) x++;
}

static void mode_itimer_spin(void)
{
    on(SIGALRM, t_on_alrm, 0);
    on(SIGVTALRM, t_on_vt, 0);
    on(SIGPROF, t_on_prof, 0);
    set_itimer(ITIMER_REAL, 10000, 10000);
    spin_until(&t_alrm, 5, 5000);
    set_itimer(ITIMER_REAL, 0, 0);
    printf("itimer-spin: ITIMER_REAL: 5 ticks reached a loop without system calls: %s\n", YN(t_alrm >= 5));
    set_itimer(ITIMER_VIRTUAL, 10000, 10000);
    spin_until(&t_vt, 3, 5000);
    set_itimer(ITIMER_VIRTUAL, 0, 0);
    printf("itimer-spin: ITIMER_VIRTUAL: 3 ticks: %s\n", YN(t_vt >= 3));
    set_itimer(ITIMER_PROF, 10000, 10000);
    spin_until(&t_prof, 3, 5000);
    set_itimer(ITIMER_PROF, 0, 0);
    printf("itimer-spin: ITIMER_PROF: 3 ticks: %s\n", YN(t_prof >= 3));
}

/* ---------------- itimer-io ---------------- */
static volatile int io_ticks;
static void io_on_alrm(int s) { (void)s; io_ticks++; }

/* A 1 ms timer whose handler has no SA_RESTART, while the program writes and reads a
 * pipe that always has room and data: such calls never block, so Linux never fails them
 * with EINTR, however often the timer fires (stdio would lose output otherwise). */
static void mode_itimer_io(void)
{
    struct sigaction sa = { 0 };
    sa.sa_handler = io_on_alrm;
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    int p[2];
    CHECK(pipe(p) == 0);
    struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    char buf[64] = { 0 };
    int bad = 0;
    for (int i = 0; i < 3000 && !(i >= 300 && io_ticks >= 20); i++) {
        if (write(p[1], buf, sizeof buf) != (ssize_t)sizeof buf) bad++;
        if (read(p[0], buf, sizeof buf) != (ssize_t)sizeof buf) bad++;
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);
    printf("itimer-io: ticks came: %s, writes and reads of a pipe with room never EINTR: %s\n", YN(io_ticks > 0), YN(bad == 0));
}

/* ---------------- eintr ---------------- */
static void mode_eintr(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    on(SIGALRM, t_on_alrm, 0);                    /* no SA_RESTART */
    alarm(1);
    char c;
    errno = 0;
    long r = read(p[0], &c, 1);
    printf("eintr: read on an empty pipe: %ld %s, after the alarm's handler ran %d time(s)\n", r, errname(errno), (int)t_alrm);
}

/* ---------------- interrupt ---------------- */
static int n_pipe[2], n_futex, n_port;
static volatile int n_action, n_ticks, n_ticks_wanted;

static void n_handler(int s)
{
    (void)s;
    int saved = errno;
    /* Acts on exactly the wanted tick: under load one more tick may have come (pending,
     * blocked in here) before the handler disarms the timer, natively too. */
    if (++n_ticks != n_ticks_wanted) return;
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    if (n_action == 1) {
        write(n_pipe[1], "x", 1);
    } else if (n_action == 2) {
        int s2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(n_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        connect(s2, (struct sockaddr *)&a, sizeof a);  /* EINPROGRESS or 0: the accept completes */
    } else if (n_action == 3) {
        n_futex = 1;
    }
    errno = saved;
}

/* "3" when the wanted tick came; more than that only under load (see n_handler). */
static const char *ticks_seen(void)
{
    static char b[16];
    snprintf(b, sizeof b, "%d", n_ticks >= n_ticks_wanted ? n_ticks_wanted : n_ticks);
    return b;
}

static void arm(int action, int ticks)
{
    n_action = action;
    n_ticks = 0;
    n_ticks_wanted = ticks;
    set_itimer(ITIMER_REAL, 20000, 20000);
}

static void mode_interrupt(void)
{
    CHECK(pipe(n_pipe) == 0);
    on(SIGALRM, n_handler, SA_RESTART);
    char c = 0;

    arm(1, 3);
    errno = 0;
    long r = read(n_pipe[0], &c, 1);
    printf("interrupt: SA_RESTART read: %ld '%c' %s after %s handler runs (restarted each time)\n", r, c, errname(errno), ticks_seen());

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    CHECK(ls >= 0 && bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 4) == 0);
    CHECK(getsockname(ls, (struct sockaddr *)&a, &al) == 0);
    n_port = ntohs(a.sin_port);
    arm(2, 3);
    errno = 0;
    int cs = accept(ls, NULL, NULL);
    printf("interrupt: SA_RESTART accept: %s %s after %s handler runs\n", cs >= 0 ? "a connection" : "-1", errname(errno), ticks_seen());

    n_futex = 0;
    arm(3, 3);
    errno = 0;
    r = syscall(SYS_futex, &n_futex, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    printf("interrupt: SA_RESTART futex wait: %ld %s after %s handler runs (restarted, then the word had changed)\n", r, errname(errno), ticks_seen());

    arm(0, 1);
    struct timespec ts = { 5, 0 }, left = { 0, 0 };
    errno = 0;
    r = nanosleep(&ts, &left);
    printf("interrupt: SA_RESTART nanosleep(5 s): %ld %s after %s handler run, time left written: %s\n", r, errname(errno), ticks_seen(),
           YN(left.tv_sec >= 3 && left.tv_sec <= 5));
    arm(0, 1);
    struct pollfd pfd = { .fd = n_pipe[0], .events = POLLIN };
    errno = 0;
    r = poll(&pfd, 1, 5000);
    printf("interrupt: SA_RESTART poll(5 s): %ld %s after %s handler run\n", r, errname(errno), ticks_seen());
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN }, out;
    CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, n_pipe[0], &ev) == 0);
    arm(0, 1);
    errno = 0;
    r = epoll_wait(ep, &out, 1, 5000);
    printf("interrupt: SA_RESTART epoll_wait(5 s): %ld %s after %s handler run\n", r, errname(errno), ticks_seen());
    fd_set rset;
    FD_ZERO(&rset);
    FD_SET(n_pipe[0], &rset);
    struct timeval tv = { 5, 0 };
    arm(0, 1);
    errno = 0;
    r = select(n_pipe[0] + 1, &rset, NULL, NULL, &tv);
    printf("interrupt: SA_RESTART select(5 s): %ld %s after %s handler run\n", r, errname(errno), ticks_seen());
    struct timespec pts = { 5, 0 };
    arm(0, 1);
    errno = 0;
    r = pselect(0, NULL, NULL, NULL, &pts, NULL);
    printf("interrupt: SA_RESTART pselect(5 s, no fds): %ld %s after %s handler run\n", r, errname(errno), ticks_seen());

    on(SIGALRM, n_handler, 0);
    n_futex = 0;
    arm(3, 1);
    errno = 0;
    r = syscall(SYS_futex, &n_futex, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    printf("interrupt: futex wait without SA_RESTART: %ld %s after %s handler run\n", r, errname(errno), ticks_seen());
    arm(0, 1);
    errno = 0;
    r = read(n_pipe[0], &c, 1);
    printf("interrupt: read without SA_RESTART: %ld %s after %s handler run\n", r, errname(errno), ticks_seen());
    set_itimer(ITIMER_REAL, 0, 0);
}

/* ---------------- restart-thread ---------------- */
static int rt_pipe[2];
static void *rt_writer(void *arg)
{
    (void)arg;
    block(SIGALRM, SIG_BLOCK);                    /* the timer's signals go to main */
    for (int i = 0; i < 1000 && t_alrm < 2; i++) sleep_ms(5);   /* main's read was interrupted twice */
    sleep_ms(30);
    CHECK(write(rt_pipe[1], "y", 1) == 1);
    return NULL;
}

static void mode_restart_thread(void)
{
    CHECK(pipe(rt_pipe) == 0);
    on(SIGALRM, t_on_alrm, SA_RESTART);
    block(SIGALRM, SIG_BLOCK);
    pthread_t t;
    PCHECK(pthread_create(&t, NULL, rt_writer, NULL));
    block(SIGALRM, SIG_UNBLOCK);
    set_itimer(ITIMER_REAL, 20000, 20000);
    char c = 0;
    errno = 0;
    long r = read(rt_pipe[0], &c, 1);
    set_itimer(ITIMER_REAL, 0, 0);
    PCHECK(pthread_join(t, NULL));
    printf("restart-thread: read: %ld '%c' %s, interrupted and restarted at least twice: %s\n", r, c, errname(errno), YN(t_alrm >= 2));
}

/* ---------------- sigtimedwait ---------------- */
static void mode_sigtimedwait(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGRTMIN);
    CHECK(sigprocmask(SIG_BLOCK, &s, NULL) == 0);
    raise(SIGUSR1);
    siginfo_t si;
    struct timespec ts = { 1, 0 };
    int r = sigtimedwait(&s, &si, &ts);
    printf("sigtimedwait: pending SIGUSR1: returned %s, si_code %s, si_pid self: %s\n", signame(r), codename(r, si.si_code), YN(si.si_pid == getpid()));
    sigset_t pend;
    CHECK(sigpending(&pend) == 0);
    printf("sigtimedwait: no longer pending: %s\n", YN(!sigismember(&pend, SIGUSR1)));
    kill(getpid(), SIGUSR1);
    r = sigwaitinfo(&s, &si);
    printf("sigwaitinfo: after kill: returned %s, si_code %s\n", signame(r), codename(r, si.si_code));
    ts.tv_sec = 0;
    ts.tv_nsec = 50 * 1000000L;
    long t0 = now_ns();
    errno = 0;
    r = sigtimedwait(&s, &si, &ts);
    long ms = (now_ns() - t0) / 1000000;
    printf("sigtimedwait: nothing pending, 50 ms: %d %s, not early: %s\n", r, errname(errno), YN(ms >= 50));
    ts.tv_nsec = 0;
    errno = 0;
    r = sigtimedwait(&s, &si, &ts);
    printf("sigtimedwait: zero timeout: %d %s\n", r, errname(errno));
    for (int i = 1; i <= 3; i++) {
        union sigval v = { .sival_int = i * 100 };
        CHECK(sigqueue(getpid(), SIGRTMIN, v) == 0);
    }
    raise(SIGUSR1);
    printf("sigtimedwait: queued:");
    for (int i = 0; i < 4; i++) {
        ts.tv_sec = 1;
        r = sigtimedwait(&s, &si, &ts);
        printf(" %s", signame(r));
        if (r == SIGRTMIN) printf("(%d)", si.si_value.sival_int);
    }
    printf("\n");
}

/* ---------------- mask ---------------- */
static volatile int m_events[32], m_nev;
static void m_push(int v) { if (m_nev < 32) m_events[m_nev++] = v; }
static void m_handler(int sig) { m_push(sig); }
static void m_rt_handler(int sig, siginfo_t *si, void *uc) { (void)uc; (void)sig; m_push(1000 + si->si_value.sival_int); }

static void m_print(const char *what)
{
    printf("mask: %s:", what);
    for (int i = 0; i < m_nev; i++) {
        if (m_events[i] >= 1000) printf(" SIGRTMIN(%d)", m_events[i] - 1000);
        else printf(" %s", signame(m_events[i]));
    }
    printf("%s\n", m_nev ? "" : " nothing");
    m_nev = 0;
}

static void mode_mask(void)
{
    on(SIGUSR1, m_handler, 0);
    on(SIGUSR2, m_handler, 0);
    on_info(SIGRTMIN, m_rt_handler, 0);
    sigset_t s, pend;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGUSR2);
    sigaddset(&s, SIGRTMIN);
    CHECK(sigprocmask(SIG_BLOCK, &s, NULL) == 0);
    raise(SIGUSR2);
    raise(SIGUSR1);
    raise(SIGUSR1);
    kill(getpid(), SIGUSR1);
    for (int i = 1; i <= 3; i++) {
        union sigval v = { .sival_int = i };
        CHECK(sigqueue(getpid(), SIGRTMIN, v) == 0);
    }
    m_print("delivered while blocked");
    uint64_t raw = 0;
    CHECK(syscall(SYS_rt_sigpending, &raw, 8) == 0);
    printf("mask: rt_sigpending: SIGUSR1 %s, SIGUSR2 %s, SIGRTMIN %s, SIGTERM %s\n", YN(raw & (1ULL << (SIGUSR1 - 1))),
           YN(raw & (1ULL << (SIGUSR2 - 1))), YN(raw & (1ULL << (SIGRTMIN - 1))), YN(raw & (1ULL << (SIGTERM - 1))));
    CHECK(sigpending(&pend) == 0);
    printf("mask: sigpending agrees: %s\n", YN(sigismember(&pend, SIGUSR1) && sigismember(&pend, SIGUSR2) && !sigismember(&pend, SIGHUP)));
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    CHECK(sigprocmask(SIG_UNBLOCK, &one, NULL) == 0);
    m_print("unblocking SIGUSR2 delivered");
    /* raise left SIGUSR1 pending on the thread, kill on the process: two deliveries. */
    CHECK(sigprocmask(SIG_UNBLOCK, &s, NULL) == 0);
    m_print("unblocking the rest delivered");
    CHECK(sigpending(&pend) == 0);
    printf("mask: nothing pending after: %s\n", YN(!sigismember(&pend, SIGUSR1) && !sigismember(&pend, SIGRTMIN)));
    sigset_t old;
    CHECK(sigprocmask(SIG_SETMASK, &s, &old) == 0);
    printf("mask: SIG_SETMASK returned the old mask, which was empty of them: %s\n", YN(!sigismember(&old, SIGUSR1)));
    sigaddset(&s, SIGKILL);
    sigaddset(&s, SIGSTOP);
    CHECK(sigprocmask(SIG_SETMASK, &s, NULL) == 0);
    CHECK(sigprocmask(SIG_SETMASK, NULL, &old) == 0);
    printf("mask: SIGKILL and SIGSTOP cannot be blocked: %s\n", YN(!sigismember(&old, SIGKILL) && !sigismember(&old, SIGSTOP)));
    /* A blocked signal whose default action is to ignore it (SIGCHLD, SIGWINCH) stays
       pending: another mask change or another signal's action keeps it; only setting its
       own action to be ignored discards it (POSIX). */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigaddset(&chld, SIGWINCH);
    CHECK(sigprocmask(SIG_BLOCK, &chld, NULL) == 0);
    kill(getpid(), SIGCHLD);
    kill(getpid(), SIGWINCH);
    CHECK(sigprocmask(SIG_BLOCK, &one, NULL) == 0);
    on(SIGUSR2, m_handler, 0);
    CHECK(sigpending(&pend) == 0);
    printf("mask: blocked SIGCHLD and SIGWINCH stay pending across a mask change and another action: %s %s\n",
           YN(sigismember(&pend, SIGCHLD)), YN(sigismember(&pend, SIGWINCH)));
    signal(SIGWINCH, SIG_IGN);
    CHECK(sigpending(&pend) == 0);
    printf("mask: SIG_IGN discards only its own signal: SIGCHLD %s, SIGWINCH %s\n",
           YN(sigismember(&pend, SIGCHLD)), YN(sigismember(&pend, SIGWINCH)));
    int taken = 0;
    struct timespec zero = { 0, 0 };
    CHECK(sigtimedwait(&chld, NULL, &zero) == SIGCHLD);
    taken = 1;
    printf("mask: sigtimedwait takes the pending SIGCHLD: %s\n", YN(taken));
}

/* ---------------- suspend ---------------- */
static void mode_suspend(void)
{
    on(SIGUSR1, m_handler, 0);
    on(SIGALRM, m_handler, 0);
    block(SIGUSR1, SIG_BLOCK);
    raise(SIGUSR1);
    sigset_t empty;
    sigemptyset(&empty);
    errno = 0;
    int r = sigsuspend(&empty);
    printf("suspend: sigsuspend with SIGUSR1 pending: %d %s\n", r, errname(errno));
    m_print("suspend delivered");
    printf("suspend: SIGUSR1 blocked again after it: %s\n", YN(blocked(SIGUSR1)));
    block(SIGALRM, SIG_BLOCK);
    set_itimer(ITIMER_REAL, 0, 20000);
    errno = 0;
    r = sigsuspend(&empty);
    printf("suspend: sigsuspend until a timer's SIGALRM: %d %s\n", r, errname(errno));
    m_print("suspend delivered");
    printf("suspend: SIGALRM blocked again after it: %s\n", YN(blocked(SIGALRM)));
    block(SIGALRM, SIG_UNBLOCK);
    set_itimer(ITIMER_REAL, 0, 20000);
    errno = 0;
    r = pause();
    printf("suspend: pause until SIGALRM: %d %s\n", r, errname(errno));
    m_print("pause delivered");
}

/* ---------------- resethand, nodefer ---------------- */
static volatile int rh_runs, rh_blocked;
static void rh_handler(int s) { rh_runs++; rh_blocked = blocked(s); }

static void mode_resethand(void)
{
    on(SIGUSR1, rh_handler, SA_RESETHAND);
    raise(SIGUSR1);
    struct sigaction cur;
    CHECK(sigaction(SIGUSR1, NULL, &cur) == 0);
    printf("resethand: the handler ran %d time(s), the signal blocked inside it: %s\n", rh_runs, YN(rh_blocked));
    printf("resethand: the disposition is now SIG_DFL: %s\n", YN(cur.sa_handler == SIG_DFL));
    printf("resethand: raising it again kills the program\n");
    fflush(stdout);
    raise(SIGUSR1);
    printf("resethand: still alive\n");
}

static volatile int nd_depth, nd_entries;
static void nd_handler(int s)
{
    int d = ++nd_depth;
    m_push(100 + d);
    if (++nd_entries == 1) {
        raise(s);
        m_push(110 + d);                          /* after the raise returned */
        raise(SIGUSR2);                           /* in sa_mask: waits for the return */
        m_push(120 + d);
    }
    m_push(200 + d);
    nd_depth--;
}
static void nd_usr2(int s) { (void)s; m_push(300); }

static void nd_print(const char *what)
{
    printf("nodefer: %s:", what);
    for (int i = 0; i < m_nev; i++) {
        int v = m_events[i];
        if (v == 300) printf(" usr2");
        else printf(" %s%d", v >= 200 ? "leave" : v >= 120 ? "after-usr2@" : v >= 110 ? "after-raise@" : "enter", v % 10);
    }
    printf("\n");
    m_nev = 0;
}

static void mode_nodefer(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nd_handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    on(SIGUSR2, nd_usr2, 0);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    raise(SIGUSR1);
    nd_print("without SA_NODEFER");
    sa.sa_flags = SA_NODEFER;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    nd_entries = 0;
    raise(SIGUSR1);
    nd_print("with SA_NODEFER");
}

/* ---------------- signalfd ---------------- */
static void mode_signalfd(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    CHECK(sigprocmask(SIG_BLOCK, &s, NULL) == 0);
    int fd = signalfd(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(fd >= 0);
    struct signalfd_siginfo i;
    errno = 0;
    long r = read(fd, &i, sizeof i);
    printf("signalfd: nothing pending: %ld %s\n", r, errname(errno));
    struct pollfd p = { .fd = fd, .events = POLLIN };
    printf("signalfd: poll before: %d\n", poll(&p, 1, 0));
    raise(SIGUSR1);
    p.revents = 0;
    int pr = poll(&p, 1, 1000);
    printf("signalfd: poll after raise: %d revents POLLIN: %s\n", pr, YN(p.revents & POLLIN));
    memset(&i, 0, sizeof i);
    r = read(fd, &i, sizeof i);
    printf("signalfd: read %ld bytes: ssi_signo %s ssi_code %s ssi_pid self: %s ssi_uid self: %s\n", r, signame((int)i.ssi_signo),
           codename((int)i.ssi_signo, i.ssi_code), YN(i.ssi_pid == (uint32_t)getpid()), YN(i.ssi_uid == getuid()));
    sigset_t pend;
    CHECK(sigpending(&pend) == 0);
    printf("signalfd: the read consumed it: %s\n", YN(!sigismember(&pend, SIGUSR1)));
    union sigval v = { .sival_int = 4242 };
    CHECK(sigqueue(getpid(), SIGUSR1, v) == 0);
    r = read(fd, &i, sizeof i);
    printf("signalfd: sigqueue: ssi_code %s ssi_int %d\n", codename(SIGUSR1, i.ssi_code), i.ssi_int);
    errno = 0;
    r = read(fd, &i, 8);
    printf("signalfd: a short buffer: %ld %s\n", r, errname(errno));
    close(fd);
}

/* ---------------- timer ---------------- */
static volatile int tm_ticks, tm_code, tm_value, tm_wrong_tid;
static volatile pid_t tm_target;

static void tm_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    tm_ticks++;
    tm_code = si->si_code;
    tm_value = si->si_value.sival_int;
    if (tm_target && gettid_() != tm_target) tm_wrong_tid++;
}

static atomic_int tm_stop;
static atomic_int tm_tid;
static void *tm_thread(void *arg)
{
    (void)arg;
    atomic_store(&tm_tid, gettid_());
    while (!atomic_load(&tm_stop)) pause();
    return NULL;
}

static void tm_stopper(int s) { (void)s; }

static void mode_timer(void)
{
    on_info(SIGUSR1, tm_handler, 0);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 77;
    timer_t t;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0);
    struct itimerspec its = { { 0, 10 * 1000000L }, { 0, 10 * 1000000L } }, cur;
    CHECK(timer_settime(t, 0, &its, NULL) == 0);
    CHECK(timer_gettime(t, &cur) == 0);
    printf("timer: timer_gettime: interval %ld ms, value within it: %s\n", cur.it_interval.tv_nsec / 1000000,
           YN(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 10 * 1000000L));
    while (tm_ticks < 5) pause();
    int ov = timer_getoverrun(t);
    CHECK(timer_delete(t) == 0);
    printf("timer: SIGEV_SIGNAL: 5 ticks or more: %s, si_code %s, si_value %d, overrun not negative: %s\n", YN(tm_ticks >= 5), codename(SIGUSR1, tm_code),
           tm_value, YN(ov >= 0));
    errno = 0;
    int gr = timer_gettime(t, &cur);
    printf("timer: timer_gettime after timer_delete: %d %s\n", gr, errname(errno));

    /* An absolute CLOCK_REALTIME timer, 30 ms ahead. */
    sev.sigev_value.sival_int = 78;
    CHECK(timer_create(CLOCK_REALTIME, &sev, &t) == 0);
    struct timespec nowr;
    clock_gettime(CLOCK_REALTIME, &nowr);
    its.it_interval.tv_sec = 0; its.it_interval.tv_nsec = 0;
    its.it_value = nowr;
    its.it_value.tv_nsec += 30 * 1000000L;
    if (its.it_value.tv_nsec >= 1000000000L) { its.it_value.tv_sec++; its.it_value.tv_nsec -= 1000000000L; }
    tm_ticks = 0;
    CHECK(timer_settime(t, TIMER_ABSTIME, &its, NULL) == 0);
    while (tm_ticks < 1) pause();
    printf("timer: absolute CLOCK_REALTIME: fired, si_value %d\n", tm_value);
    timer_delete(t);

    /* SIGEV_THREAD_ID: to one thread, while main sleeps without blocking the signal. */
    on(SIGUSR2, tm_stopper, 0);
    pthread_t th;
    PCHECK(pthread_create(&th, NULL, tm_thread, NULL));
    while (!atomic_load(&tm_tid)) sched_yield();
    tm_target = atomic_load(&tm_tid);
    tm_ticks = 0;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 79;
    sev.sigev_notify_thread_id = tm_target;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0);
    its.it_interval.tv_nsec = its.it_value.tv_nsec = 10 * 1000000L;
    its.it_interval.tv_sec = its.it_value.tv_sec = 0;
    CHECK(timer_settime(t, 0, &its, NULL) == 0);
    int main_interrupted = 0;
    long end = now_ns() + 5000 * 1000000L;
    while (tm_ticks < 3 && now_ns() < end) {
        struct timespec ts = { 0, 5 * 1000000L };
        if (nanosleep(&ts, NULL) == -1 && errno == EINTR) main_interrupted++;
    }
    timer_delete(t);
    atomic_store(&tm_stop, 1);
    pthread_kill(th, SIGUSR2);
    PCHECK(pthread_join(th, NULL));
    printf("timer: SIGEV_THREAD_ID: 3 ticks: %s, all in the target thread: %s, main never interrupted: %s, si_value %d\n",
           YN(tm_ticks >= 3), YN(tm_wrong_tid == 0), YN(main_interrupted == 0), tm_value);
    tm_target = 0;

    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0);
    its.it_interval.tv_nsec = 0;
    its.it_value.tv_sec = 0;
    its.it_value.tv_nsec = 200 * 1000000L;
    tm_ticks = 0;
    CHECK(timer_settime(t, 0, &its, NULL) == 0);
    sleep_ms(20);
    CHECK(timer_gettime(t, &cur) == 0);
    printf("timer: SIGEV_NONE: counting down: %s, no signal: %s\n",
           YN(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec < 200 * 1000000L), YN(tm_ticks == 0));
    timer_delete(t);
}

/* ---------------- fpu ---------------- */
static unsigned char fx_in[16][16], fx_out[16][16], fy_in[16][32], fy_out[16][32];
static unsigned fx_mxcsr_in = 0x3f80, fx_mxcsr_out, fh_mxcsr;
static unsigned short fx_fcw_in = 0x0f7f, fx_fcw_out, fh_fcw;
static long double fx_st_out[2];
static volatile int fh_runs, fh_xmm15_zero;
static int have_avx;

static void fh_handler(int s)
{
    (void)s;
    unsigned char x15[16];
    __asm__ volatile("stmxcsr %0\n fnstcw %1\n movdqu %%xmm15, %2" : "=m"(fh_mxcsr), "=m"(fh_fcw), "=m"(x15));
    int z = 1;
    for (int i = 0; i < 16; i++) if (x15[i]) z = 0;
    fh_xmm15_zero = z;
    unsigned m = 0x7f80;
    unsigned short cw = 0x037f | 0x0c00;
    __asm__ volatile(
        "pcmpeqb %%xmm0, %%xmm0\n pcmpeqb %%xmm1, %%xmm1\n pcmpeqb %%xmm2, %%xmm2\n pcmpeqb %%xmm3, %%xmm3\n"
        "pcmpeqb %%xmm4, %%xmm4\n pcmpeqb %%xmm5, %%xmm5\n pcmpeqb %%xmm6, %%xmm6\n pcmpeqb %%xmm7, %%xmm7\n"
        "pcmpeqb %%xmm8, %%xmm8\n pcmpeqb %%xmm9, %%xmm9\n pcmpeqb %%xmm10, %%xmm10\n pcmpeqb %%xmm11, %%xmm11\n"
        "pcmpeqb %%xmm12, %%xmm12\n pcmpeqb %%xmm13, %%xmm13\n pcmpeqb %%xmm14, %%xmm14\n pcmpeqb %%xmm15, %%xmm15\n"
        "ldmxcsr %0\n fldcw %1\n fldz\n fldz\n fldz\n"
        : : "m"(m), "m"(cw) : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
    if (have_avx)
        __asm__ volatile("vpcmpeqb %%ymm0, %%ymm0, %%ymm0\n vpcmpeqb %%ymm7, %%ymm7, %%ymm7\n vpcmpeqb %%ymm15, %%ymm15, %%ymm15\n"
                         "vpcmpeqb %%ymm8, %%ymm8, %%ymm8\n" : : : "xmm0", "xmm7", "xmm8", "xmm15");
    fh_runs++;
}

__attribute__((noinline)) static double fx_series(long n)
{
    double s = 0;
    for (long k = 1; k <= n; k++) s += 1.0 / ((double)k * (double)k);
    return s;
}

static volatile sig_atomic_t fx_ticks;
static void fx_tick(int s)
{
    (void)s;
    volatile double h = 0;
    for (int i = 1; i < 50; i++) h += (double)i / 3.0;
    fx_ticks++;
}

static void mode_fpu(void)
{
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if ((c & (1u << 27)) && (c & (1u << 28))) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        have_avx = (lo & 6) == 6;
    }
    fprintf(stderr, "sig fpu: AVX %s\n", have_avx ? "used" : "not available: ymm not checked");
    for (int i = 0; i < 16; i++) for (int j = 0; j < 16; j++) fx_in[i][j] = (unsigned char)(i * 16 + j + 1);
    for (int i = 0; i < 16; i++) for (int j = 0; j < 32; j++) fy_in[i][j] = (unsigned char)(255 - i * 7 - j);
    on(SIGUSR1, fh_handler, 0);
    pid_t pid = getpid(), tid = gettid_();
    unsigned mx_saved;
    __asm__ volatile("stmxcsr %0" : "=m"(mx_saved));
    __asm__ volatile(
        "ldmxcsr %[mxin]\n fldcw %[fcwin]\n fldpi\n fld1\n"
        "movdqu 0(%[in]), %%xmm0\n movdqu 16(%[in]), %%xmm1\n movdqu 32(%[in]), %%xmm2\n movdqu 48(%[in]), %%xmm3\n"
        "movdqu 64(%[in]), %%xmm4\n movdqu 80(%[in]), %%xmm5\n movdqu 96(%[in]), %%xmm6\n movdqu 112(%[in]), %%xmm7\n"
        "movdqu 128(%[in]), %%xmm8\n movdqu 144(%[in]), %%xmm9\n movdqu 160(%[in]), %%xmm10\n movdqu 176(%[in]), %%xmm11\n"
        "movdqu 192(%[in]), %%xmm12\n movdqu 208(%[in]), %%xmm13\n movdqu 224(%[in]), %%xmm14\n movdqu 240(%[in]), %%xmm15\n"
        "mov %[nr], %%eax\n mov %[pid], %%edi\n mov %[tid], %%esi\n mov %[sig], %%edx\n syscall\n"
        "movdqu %%xmm0, 0(%[out])\n movdqu %%xmm1, 16(%[out])\n movdqu %%xmm2, 32(%[out])\n movdqu %%xmm3, 48(%[out])\n"
        "movdqu %%xmm4, 64(%[out])\n movdqu %%xmm5, 80(%[out])\n movdqu %%xmm6, 96(%[out])\n movdqu %%xmm7, 112(%[out])\n"
        "movdqu %%xmm8, 128(%[out])\n movdqu %%xmm9, 144(%[out])\n movdqu %%xmm10, 160(%[out])\n movdqu %%xmm11, 176(%[out])\n"
        "movdqu %%xmm12, 192(%[out])\n movdqu %%xmm13, 208(%[out])\n movdqu %%xmm14, 224(%[out])\n movdqu %%xmm15, 240(%[out])\n"
        "stmxcsr %[mxout]\n fnstcw %[fcwout]\n fstpt 0(%[st])\n fstpt 16(%[st])\n"
        "ldmxcsr %[mxsaved]\n fldcw %[fcwdef]\n"
        : [mxout] "=m"(fx_mxcsr_out), [fcwout] "=m"(fx_fcw_out)
        : [in] "r"(fx_in), [out] "r"(fx_out), [st] "r"(fx_st_out), [mxin] "m"(fx_mxcsr_in), [fcwin] "m"(fx_fcw_in),
          [mxsaved] "m"(mx_saved), [fcwdef] "m"((unsigned short){ 0x037f }),
          [nr] "i"(SYS_tgkill), [pid] "r"(pid), [tid] "r"(tid), [sig] "i"(SIGUSR1)
        : "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
          "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    printf("fpu: the handler ran %d time(s), starting with MXCSR 0x%x, FCW 0x%x, xmm15 zeroed: %s\n", fh_runs, fh_mxcsr, fh_fcw,
           YN(fh_xmm15_zero));
    printf("fpu: xmm0-15 preserved: %s\n", YN(!memcmp(fx_in, fx_out, sizeof fx_in)));
    printf("fpu: MXCSR preserved: %s, x87 control word preserved: %s\n", YN(fx_mxcsr_out == fx_mxcsr_in), YN(fx_fcw_out == fx_fcw_in));
    printf("fpu: x87 stack preserved: %s\n", YN(fx_st_out[0] == 1.0L && fx_st_out[1] > 3.14159L && fx_st_out[1] < 3.1416L));
    int ymm_ok = 1;
    if (have_avx) {
        fh_runs = 0;
        __asm__ volatile(
            "vmovdqu 0(%[in]), %%ymm0\n vmovdqu 224(%[in]), %%ymm7\n vmovdqu 256(%[in]), %%ymm8\n vmovdqu 480(%[in]), %%ymm15\n"
            "mov %[nr], %%eax\n mov %[pid], %%edi\n mov %[tid], %%esi\n mov %[sig], %%edx\n syscall\n"
            "vmovdqu %%ymm0, 0(%[out])\n vmovdqu %%ymm7, 224(%[out])\n vmovdqu %%ymm8, 256(%[out])\n vmovdqu %%ymm15, 480(%[out])\n"
            "vzeroupper\n"
            : : [in] "r"(fy_in), [out] "r"(fy_out), [nr] "i"(SYS_tgkill), [pid] "r"(pid), [tid] "r"(tid), [sig] "i"(SIGUSR1)
            : "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory", "xmm0", "xmm7", "xmm8", "xmm15");
        ymm_ok = fh_runs == 1 && !memcmp(fy_in[0], fy_out[0], 32) && !memcmp(fy_in[7], fy_out[7], 32) && !memcmp(fy_in[8], fy_out[8], 32)
                 && !memcmp(fy_in[15], fy_out[15], 32);
    }
    printf("fpu: ymm upper halves preserved (or no AVX): %s\n", YN(ymm_ok));

    double ref = fx_series(2000000);
    on(SIGALRM, fx_tick, 0);
    set_itimer(ITIMER_REAL, 1000, 1000);
    int same = 1, rounds = 0;
    long end = now_ns() + 5000 * 1000000L;
    while ((fx_ticks < 20 || rounds < 3) && now_ns() < end) {
        if (fx_series(2000000) != ref) same = 0;
        rounds++;
    }
    set_itimer(ITIMER_REAL, 0, 0);
    printf("fpu: a double series under a 1 ms timer: 20 handler runs: %s, every result equal to the reference: %s (%.17g)\n",
           YN(fx_ticks >= 20), YN(same), ref);
}

/* ---------------- wait ---------------- */
static volatile sig_atomic_t w_stop;
static void w_say(const char *s) { write(1, s, strlen(s)); }

static void w_handler(int s)
{
    switch (s) {
    case SIGHUP: w_say("got SIGHUP\n"); break;
    case SIGUSR1: w_say("got SIGUSR1\n"); break;
    case SIGUSR2: w_say("got SIGUSR2\n"); break;
    case SIGWINCH: w_say("got SIGWINCH\n"); break;
    case SIGCONT: w_say("got SIGCONT\n"); break;
    case SIGINT: w_say("got SIGINT, exiting 0\n"); _exit(0);
    case SIGTERM: w_say("got SIGTERM, exiting 0\n"); _exit(0);
    }
}

static void w_spin_handler(int s) { (void)s; w_stop = 1; }

static void mode_wait(const char *how)
{
    if (!strcmp(how, "handler") || !strcmp(how, "ignore")) {
        int sigs[] = { SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGINT, SIGTERM };
        for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) on(sigs[i], w_handler, 0);
        if (!strcmp(how, "ignore")) signal(SIGINT, SIG_IGN);
    } else if (!strcmp(how, "spin")) {
        on(SIGTERM, w_spin_handler, 0);
    } else if (strcmp(how, "nohandler")) {
        FAIL("wait: unknown variant %s", how);
    }
    w_say("ready\n");
    if (!strcmp(how, "spin")) {
        volatile unsigned long x = 0;
        while (!w_stop) x++;
        w_say("got SIGTERM in a loop without system calls, exiting 0\n");
        exit(0);
    }
    for (;;) pause();
}

/* ---------------- default ---------------- */
static void *ds_thread(void *arg)
{
    (void)arg;
    sleep_ms(20);
    g_load((void *)16);
    return NULL;
}

static void mode_default(const char *how)
{
    if (!strcmp(how, "ignored")) {
        signal(SIGUSR1, SIG_IGN);
        raise(SIGUSR1);
        printf("default: ignored SIGUSR1: still alive\n");
        raise(SIGURG); raise(SIGWINCH); raise(SIGCHLD);
        printf("default: SIGURG, SIGWINCH, SIGCHLD (ignored by default): still alive\n");
        block(SIGTERM, SIG_BLOCK);
        raise(SIGTERM);
        sigset_t pend;
        CHECK(sigpending(&pend) == 0);
        printf("default: blocked SIGTERM: still alive, pending: %s\n", YN(sigismember(&pend, SIGTERM)));
        signal(SIGTERM, SIG_IGN);
        CHECK(sigpending(&pend) == 0);
        printf("default: SIG_IGN discarded it: %s\n", YN(!sigismember(&pend, SIGTERM)));
        block(SIGTERM, SIG_UNBLOCK);
        signal(SIGTERM, SIG_DFL);
        printf("default: unblocked: still alive\n");
        return;
    }
    printf("default: %s\n", how);
    fflush(stdout);
    if (!strcmp(how, "abort")) abort();
    else if (!strcmp(how, "term")) raise(SIGTERM);
    else if (!strcmp(how, "kill")) kill(getpid(), SIGKILL);
    else if (!strcmp(how, "segv-blocked")) {
        on_info(SIGSEGV, f_handler, 0);
        block(SIGSEGV, SIG_BLOCK);
        g_load((void *)16);
    } else if (!strcmp(how, "segv-ignored")) {
        signal(SIGSEGV, SIG_IGN);
        g_load((void *)16);
    } else if (!strcmp(how, "thread-segv")) {
        pthread_t t;
        PCHECK(pthread_create(&t, NULL, ds_thread, NULL));
        pthread_join(t, NULL);
    } else FAIL("default: unknown variant %s", how);
    printf("default: %s: still alive\n", how);
}

/* ---------------- threads ---------------- */
static atomic_int th_ready, th_stop;
static volatile pid_t th_handler_tid;
static volatile int th_handled;
static pid_t th_tid;

static void th_handler(int s) { (void)s; th_handler_tid = gettid_(); th_handled++; }

static void *th_pauser(void *arg)
{
    (void)arg;
    th_tid = gettid_();
    atomic_store(&th_ready, 1);
    while (!atomic_load(&th_stop)) pause();
    return NULL;
}

static pthread_t th_main;
static void *th_poker(void *arg)
{
    (void)arg;
    sleep_ms(30);
    pthread_kill(th_main, SIGUSR2);
    return NULL;
}

static volatile int th_child_blocked, th_child_changed;
static void *th_masker(void *arg)
{
    (void)arg;
    th_child_blocked = blocked(SIGUSR2);
    block(SIGHUP, SIG_BLOCK);
    th_child_changed = blocked(SIGHUP);
    return NULL;
}

static volatile sig_atomic_t th_spin_stop;
static atomic_int th_spinning;
static void th_spin_handler(int s) { (void)s; th_spin_stop = 1; }
static void *th_spinner(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    atomic_store(&th_spinning, 1);
    while (!th_spin_stop) x++;
    return NULL;
}

static void mode_threads(void)
{
    on(SIGUSR1, th_handler, 0);
    pthread_t t;
    PCHECK(pthread_create(&t, NULL, th_pauser, NULL));
    while (!atomic_load(&th_ready)) sched_yield();
    sleep_ms(10);
    PCHECK(pthread_kill(t, SIGUSR1));
    while (!th_handled) sched_yield();
    printf("threads: pthread_kill: the handler ran in the target thread: %s\n", YN(th_handler_tid == th_tid));
    block(SIGUSR1, SIG_BLOCK);
    th_handled = 0;
    th_handler_tid = 0;
    kill(getpid(), SIGUSR1);
    while (!th_handled) sched_yield();
    printf("threads: kill(getpid()) with SIGUSR1 blocked in main: handled by the other thread: %s\n", YN(th_handler_tid == th_tid));
    atomic_store(&th_stop, 1);
    PCHECK(pthread_kill(t, SIGUSR1));
    PCHECK(pthread_join(t, NULL));
    block(SIGUSR1, SIG_UNBLOCK);

    /* sigtimedwait in main, woken by a signal another thread sends it. */
    block(SIGUSR2, SIG_BLOCK);
    th_main = pthread_self();
    PCHECK(pthread_create(&t, NULL, th_poker, NULL));
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    struct timespec ts = { 5, 0 };
    siginfo_t si;
    int r = sigtimedwait(&s, &si, &ts);
    PCHECK(pthread_join(t, NULL));
    printf("threads: sigtimedwait woken by pthread_kill from another thread: %s %s\n", signame(r), codename(r, si.si_code));

    /* Masks: inherited at creation, then per thread. */
    PCHECK(pthread_create(&t, NULL, th_masker, NULL));
    PCHECK(pthread_join(t, NULL));
    printf("threads: a new thread inherits the mask: %s; its own change stays its own: %s\n", YN(th_child_blocked),
           YN(th_child_changed && !blocked(SIGHUP)));
    block(SIGUSR2, SIG_UNBLOCK);

    /* A thread in a loop without system calls. */
    on(SIGUSR1, th_spin_handler, 0);
    PCHECK(pthread_create(&t, NULL, th_spinner, NULL));
    while (!atomic_load(&th_spinning)) sched_yield();
    sleep_ms(10);
    PCHECK(pthread_kill(t, SIGUSR1));
    PCHECK(pthread_join(t, NULL));
    printf("threads: pthread_kill reached a thread spinning without system calls: %s\n", YN(th_spin_stop));
}

/* ---------------- errors ---------------- */
static volatile int e_alt_r, e_alt_errno;
static void e_alt_handler(int s)
{
    (void)s;
    static char other[65536];
    stack_t ss = { .ss_sp = other, .ss_size = sizeof other, .ss_flags = 0 };
    errno = 0;
    e_alt_r = (int)syscall(SYS_sigaltstack, &ss, NULL);
    e_alt_errno = errno;
}

static void mode_errors(void)
{
    char *mem = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    /* An unmapped page between two PROT_NONE ones (no mmap follows that could fill it). */
    char *guard = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(guard != MAP_FAILED && munmap(guard + 4096, 4096) == 0);
    void *hole = guard + 4096;
    stack_t ss = { .ss_sp = mem, .ss_size = 1024, .ss_flags = 0 };
    show("sigaltstack(bad pointer)", syscall(SYS_sigaltstack, BAD, NULL));
    show("sigaltstack(old: bad pointer)", syscall(SYS_sigaltstack, NULL, BAD));
    show("sigaltstack(a kernel address)", syscall(SYS_sigaltstack, 0xffff888000100000UL, NULL));
    show("sigaltstack(size 1024)", syscall(SYS_sigaltstack, &ss, NULL));
    ss.ss_size = 65536;
    ss.ss_flags = 0x1234;
    show("sigaltstack(flags 0x1234)", syscall(SYS_sigaltstack, &ss, NULL));
    ss.ss_flags = SS_DISABLE;
    show("sigaltstack(SS_DISABLE)", syscall(SYS_sigaltstack, &ss, NULL));
    int word = 5;
    show("futex WAIT on an unmapped word", syscall(SYS_futex, hole, FUTEX_WAIT, 0, NULL, NULL, 0));
    show("futex WAIT_PRIVATE on an unmapped word", syscall(SYS_futex, hole, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
    show("futex WAIT at NULL", syscall(SYS_futex, NULL, FUTEX_WAIT, 0, NULL, NULL, 0));
    show("futex WAIT at a kernel address", syscall(SYS_futex, 0xffff888000100000UL, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
    show("futex WAIT at a non-canonical address", syscall(SYS_futex, 0x8000000000001000UL, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0));
    show("futex WAIT misaligned", syscall(SYS_futex, (char *)&word + 1, FUTEX_WAIT, 5, NULL, NULL, 0));
    show("futex WAIT value differs", syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 6, NULL, NULL, 0));
    show("futex WAIT bad timeout pointer", syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 5, BAD, NULL, 0));
    struct timespec badts = { 0, 2000000000L };
    show("futex WAIT timeout tv_nsec 2e9", syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 5, &badts, NULL, 0));
    struct timespec shortts = { 0, 1000000L };
    show("futex WAIT 1 ms timeout", syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 5, &shortts, NULL, 0));
    show("futex WAKE on an unmapped word", syscall(SYS_futex, hole, FUTEX_WAKE, 1, NULL, NULL, 0));
    show("futex WAKE_PRIVATE nobody waiting", syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    show("futex CMP_REQUEUE (shared) to an unmapped word", syscall(SYS_futex, &word, FUTEX_CMP_REQUEUE, 1, (void *)1, hole, 5));
    show("futex CMP_REQUEUE value differs", syscall(SYS_futex, &word, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)1, &word + 1, 6));
    show("futex WAKE_OP on an unmapped second word", syscall(SYS_futex, &word, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, hole,
                                                                    FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0)));
    show("futex WAIT_BITSET bitset 0", syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE, 5, NULL, NULL, 0));
    /* An absolute deadline long past (the clock's epoch): it times out at once. */
    struct timespec epoch = { 0, 1 };
    show("futex WAIT_BITSET until the monotonic epoch", syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE, 5, &epoch, NULL, ~0U));
    show("futex WAIT_BITSET until 1970 (CLOCK_REALTIME)", syscall(SYS_futex, &word, FUTEX_WAIT_BITSET_PRIVATE | 256, 5, &epoch, NULL, ~0U));
    show("futex op 99", syscall(SYS_futex, &word, 99, 0, NULL, NULL, 0));
    show("rt_sigaction(bad act)", syscall(SYS_rt_sigaction, SIGUSR1, BAD, NULL, 8));
    show("rt_sigaction(bad oldact)", syscall(SYS_rt_sigaction, SIGUSR1, NULL, BAD, 8));
    show("rt_sigaction(act at a kernel address)", syscall(SYS_rt_sigaction, SIGUSR1, 0xffff888000100000UL, NULL, 8));
    show("rt_sigaction(sigsetsize 4)", syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4));
    show("rt_sigaction(signal 65)", syscall(SYS_rt_sigaction, 65, NULL, NULL, 8));
    show("rt_sigaction(SIGSTOP)", syscall(SYS_rt_sigaction, SIGSTOP, mem, NULL, 8));
    uint64_t set = 0;
    show("rt_sigprocmask(how 99)", syscall(SYS_rt_sigprocmask, 99, &set, NULL, 8));
    show("rt_sigprocmask(bad set)", syscall(SYS_rt_sigprocmask, SIG_BLOCK, BAD, NULL, 8));
    show("rt_sigpending(sigsetsize 16)", syscall(SYS_rt_sigpending, &set, 16));
    show("rt_sigpending(bad set)", syscall(SYS_rt_sigpending, BAD, 8));
    show("kill(self, 65)", kill(getpid(), 65));
    show("tgkill(self, no such tid)", tgkill_(getpid(), 0x3ffffff0, SIGUSR1));
    show("tgkill(self, tid 0)", tgkill_(getpid(), 0, SIGUSR1));
    show("tkill(-1)", syscall(SYS_tkill, -1, SIGUSR1));
    struct timespec zero = { 0, 0 };
    show("rt_sigtimedwait(bad set)", syscall(SYS_rt_sigtimedwait, BAD, NULL, &zero, 8));
    set = 1ULL << (SIGUSR1 - 1);
    show("rt_sigtimedwait(bad timeout)", syscall(SYS_rt_sigtimedwait, &set, NULL, BAD, 8));
    show("rt_sigtimedwait(sigsetsize 4)", syscall(SYS_rt_sigtimedwait, &set, NULL, &zero, 4));
    show("rt_sigsuspend(bad set)", syscall(SYS_rt_sigsuspend, BAD, 8));
    show("rt_sigqueueinfo(bad info)", syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, BAD));
    int kt;
    show("timer_create(clock 99)", syscall(SYS_timer_create, 99, NULL, &kt));
    show("timer_create(bad timer id pointer)", syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, BAD));
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_notify_thread_id = 0x3ffffff0;
    show("timer_create(SIGEV_THREAD_ID, no such thread)", syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &kt));
    struct itimerspec its = { { 0, 0 }, { 1, 0 } };
    show("timer_settime(timer 12345)", syscall(SYS_timer_settime, 12345, 0, &its, NULL));
    show("timer_delete(timer 12345)", syscall(SYS_timer_delete, 12345));
    show("signalfd4(bad mask)", syscall(SYS_signalfd4, -1, BAD, 8, 0));
    show("signalfd4(sigsetsize 4)", syscall(SYS_signalfd4, -1, &set, 4, 0));
    show("signalfd4(flags 1)", syscall(SYS_signalfd4, -1, &set, 8, 1));
    show("setitimer(which 5)", syscall(SYS_setitimer, 5, NULL, NULL));
    struct itimerval badit = { { 0, 2000000 }, { 0, 0 } };
    show("setitimer(tv_usec 2e6)", syscall(SYS_setitimer, ITIMER_REAL, &badit, NULL));

    /* Changing the altstack while running on it is EPERM. */
    ss.ss_sp = mem;
    ss.ss_size = 65536;
    ss.ss_flags = 0;
    CHECK(sigaltstack(&ss, NULL) == 0);
    on(SIGUSR1, e_alt_handler, SA_ONSTACK);
    raise(SIGUSR1);
    printf("sigaltstack while running on it: %d %s\n", e_alt_r, errname(e_alt_errno));
    ss.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&ss, NULL) == 0);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "", *arg = argc > 2 ? argv[2] : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "raise")) mode_raise();
    else if (!strcmp(mode, "siginfo")) mode_siginfo();
    else if (!strcmp(mode, "segv")) mode_segv();
    else if (!strcmp(mode, "fpe")) mode_fpe();
    else if (!strcmp(mode, "ill")) mode_ill();
    else if (!strcmp(mode, "altstack")) mode_altstack();
    else if (!strcmp(mode, "itimer")) mode_itimer();
    else if (!strcmp(mode, "itimer-spin")) mode_itimer_spin();
    else if (!strcmp(mode, "itimer-io")) mode_itimer_io();
    else if (!strcmp(mode, "eintr")) mode_eintr();
    else if (!strcmp(mode, "interrupt")) mode_interrupt();
    else if (!strcmp(mode, "restart-thread")) mode_restart_thread();
    else if (!strcmp(mode, "sigtimedwait")) mode_sigtimedwait();
    else if (!strcmp(mode, "mask")) mode_mask();
    else if (!strcmp(mode, "suspend")) mode_suspend();
    else if (!strcmp(mode, "resethand")) mode_resethand();
    else if (!strcmp(mode, "nodefer")) mode_nodefer();
    else if (!strcmp(mode, "signalfd")) mode_signalfd();
    else if (!strcmp(mode, "timer")) mode_timer();
    else if (!strcmp(mode, "fpu")) mode_fpu();
    else if (!strcmp(mode, "wait")) mode_wait(arg);
    else if (!strcmp(mode, "default")) mode_default(arg);
    else if (!strcmp(mode, "threads")) mode_threads();
    else if (!strcmp(mode, "errors")) mode_errors();
    else {
        fprintf(stderr, "usage: sig MODE [ARG] (see sig.c for the modes)\n");
        return 2;
    }
    return 0;
}
