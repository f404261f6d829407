/* procs: guest processes (fork, vfork, clone, execve, wait*, process groups, sessions),
 * one behaviour per mode; built with musl (`procs`) and with glibc (`procs_glibc`) from this
 * one source. Every line printed is deterministic: pids are never printed, only compared
 * ("getppid()==parent: yes"), so a run under torov compares byte for byte with a native one.
 * Only one process prints at a time (the others are blocked in wait or on a pipe), and
 * stdout is flushed before every fork. On failure: "FAIL ..." on stderr, exit 1 (a child's
 * failure shows as its status 1 in the parent's output).
 *
 * PROG below is the path of this program (procs or procs_glibc) as the guest sees it; DIR a
 * writable, empty directory. Modes:
 *   fork-pipe          fork; the child writes to a pipe and exits 3; 1 MiB through a pipe;
 *                      100 round trips between parent and child; waitpid, then ECHILD
 *   wait-signal        children that die of SIGTERM (kill self), SIGUSR1 (raise), SIGKILL
 *                      (from the parent), run a SIGTERM handler, ignore SIGTERM
 *   wait-stop          WUNTRACED/WCONTINUED: a child stopped by SIGSTOP and continued;
 *                      SIGCHLD comes for the stop, not with SA_NOCLDSTOP
 *   job-control        SIGTSTP/SIGTTIN/SIGTTOU stop a child in a group of its own (/proc
 *                      shows T); a handler runs instead; blocked, it stops when unblocked;
 *                      SIGCONT discards a pending stop; discarded in an orphaned group; a
 *                      SIGCONT handler; SIGCHLD's CLD_STOPPED/CLD_CONTINUED; every thread
 *                      stops; a read blocked while stopped returns only after SIGCONT;
 *                      SIGTERM to a stopped child waits for SIGCONT; a stopped process
 *                      whose group an exit orphans gets SIGHUP (and SIGCONT)
 *   stop-forever       torov only (PROCS_HOSTILE=1): two children stop for good and the
 *                      parent exits (with PROCS_WAIT=1 it first waits for one without
 *                      WUNTRACED: for ever, until --timeout or a signal ends the run)
 *   wnohang            WNOHANG before the child exits gives 0, after it the child
 *   echild             ECHILD without children, for a reaped child, for self and parent;
 *                      EINVAL for bad options, EFAULT for a bad status pointer (child reaped)
 *   waitid             waitid P_PID/P_ALL/P_PGID, WEXITED/WSTOPPED/WCONTINUED/WNOWAIT/
 *                      WNOHANG: si_signo, si_code, si_status, si_pid, si_uid
 *   zombie             an exited, unwaited child can still be signalled (kill 0); not after
 *   sigchld            a SA_SIGINFO SIGCHLD handler runs once per child (CLD_EXITED,
 *                      CLD_KILLED); SIG_IGN and SA_NOCLDWAIT reap children (wait: ECHILD)
 *   wait-any           five children, wait() collects all five statuses, then ECHILD
 *   wait-pgrp          waitpid(0) and waitpid(-pgid) choose children by process group
 *   exit-status        _exit(256) is 0, 257 is 1, exit(-1) is 255; exit from a thread; the
 *                      last thread after the main one's pthread_exit; atexit in a child
 *   nested             a chain of 5 processes, each the parent of the next
 *   fork-mem           copy-on-write data, heap and private mappings; MAP_SHARED shared;
 *                      MADV_DONTFORK absent (SIGSEGV) and MADV_WIPEONFORK zero in the child
 *   fork-fds           descriptors shared: file offset, status flags; FD_CLOEXEC per process
 *   fork-signals       handlers, ignored signals and the mask inherited; pending signals
 *                      and alarm() not
 *   fork-thread        fork in a process with another thread: the child has one thread and
 *                      can make new ones; fork from the second thread
 *   rusage             a child's CPU time reaches wait4's rusage and RUSAGE_CHILDREN
 *   pidfd              pidfd_open, poll on it, waitid(P_PIDFD), pidfd_send_signal,
 *                      clone3(CLONE_PIDFD)
 *   clone              raw clone(SIGCHLD) is a fork; a child with exit signal 0 needs __WALL
 *   ppid               the child's getppid() is the parent; an orphan's getppid() changes
 *                      (to init or a subreaper: only "changed" is printed)
 *   subreaper          PR_SET_CHILD_SUBREAPER: the orphan grandchild becomes our child
 *   pgrp PROG          setpgid/getpgid/getpgrp/setsid/getsid with their errors, kill(-pgid)
 *                      reaching a group of two children, kill(0) reaching ours
 *   vfork-exec PROG    vfork: the parent waits until the child execs (it sees the child's
 *                      stores), exec with argv and envp, _exit, a failed exec's errno
 *   stop-eintr         a stop and SIGCONT end epoll_wait and sigtimedwait with EINTR, with
 *                      no handler (signal(7)); nanosleep and read go on
 *   vfork-shared PROG  vfork shares the memory: a mapping the child makes is the parent's;
 *                      a parent with a second thread that keeps running; a child whose
 *                      parent is killed while it runs goes on and execs
 *   exec-self PROG     execve of PROG check-pid: same pid and parent after exec
 *   exec-thread PROG   execve from a second thread while others are blocked: one thread left
 *   exec-errors PROG DIR   ENOENT, EACCES (directory, no x bit), ENOEXEC (text, empty),
 *                      EIO (truncated ELF), ENOENT (missing #! interpreter), ELOOP, ENOTDIR,
 *                      ENAMETOOLONG, EFAULT, E2BIG (one 200 KiB string, 8 MiB in all); the
 *                      process goes on and can still exec
 *   shebang PROG DIR   #! scripts: the interpreter's argument and the script's path, spaces,
 *                      a script whose interpreter is a script
 *   cloexec PROG       O_CLOEXEC, FD_CLOEXEC, F_DUPFD_CLOEXEC and pipe2(O_CLOEXEC) fds are
 *                      closed in the exec'd program, others stay open (dup2 clears the flag)
 *   exec-state PROG    across exec: handlers reset, ignored stays ignored, mask and pending
 *                      signals kept, umask, cwd, rlimits, alarm kept, altstack cleared
 *   posix-spawn PROG   posix_spawn with argv/envp, a missing file (ENOENT), file actions (a
 *                      pipe as stdout, /dev/null), POSIX_SPAWN_SETPGROUP, SETSIGDEF/SETSIGMASK,
 *                      posix_spawnp through PATH
 *   pipeline PROG      PROG echo-args | PROG upper with two forks, dup2 and exec
 *   system             system(): echo, exit status, a killed shell, system(NULL) (needs /bin/sh)
 *   popen              popen "r" and "w", pclose's status (needs /bin/sh)
 *   forkbomb           HOSTILE, torov only (--pids), and only with PROCS_HOSTILE=1 in the
 *                      environment: forks until fork fails (at most 1024 children), prints
 *                      the errno, reaps every child, forks once more
 * Helpers that the modes above exec:
 *   echo-args ARGS...  prints its arguments and PROCS_VAR; exits with the number of ARGS
 *   check-pid PID PPID prints whether getpid()/getppid() are PID/PPID, and its thread count
 *   fd-check NAME=FD...  whether each FD is open (and its FD_CLOEXEC flag)
 *   exec-check PPID COMM  what exec-state set up, as seen after exec
 *   sig-state          SIGUSR1/SIGUSR2 dispositions and whether they are blocked
 *   pgid-self          whether getpgrp() == getpid()
 *   block-read FD      reads FD until EOF, exits 0
 *   upper              copies stdin to stdout in upper case
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef __WALL
#define __WALL 0x40000000
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

extern char **environ;

static const char *yesno(int c) { return c ? "yes" : "no"; }

static const char *signame(int s)
{
    switch (s) {
#define S(x) case x: return #x;
    S(SIGHUP) S(SIGINT) S(SIGQUIT) S(SIGILL) S(SIGTRAP) S(SIGABRT) S(SIGBUS) S(SIGFPE)
    S(SIGKILL) S(SIGUSR1) S(SIGSEGV) S(SIGUSR2) S(SIGPIPE) S(SIGALRM) S(SIGTERM)
    S(SIGCHLD) S(SIGCONT) S(SIGSTOP) S(SIGTSTP) S(SIGTTIN) S(SIGTTOU)
#undef S
    default: {
        static char buf[16];
        snprintf(buf, sizeof buf, "SIG?%d", s);
        return buf;
    }
    }
}

static const char *cldcode(int c)
{
    switch (c) {
    case CLD_EXITED: return "CLD_EXITED";
    case CLD_KILLED: return "CLD_KILLED";
    case CLD_DUMPED: return "CLD_DUMPED";
    case CLD_STOPPED: return "CLD_STOPPED";
    case CLD_CONTINUED: return "CLD_CONTINUED";
    case CLD_TRAPPED: return "CLD_TRAPPED";
    default: {
        static char buf[16];
        snprintf(buf, sizeof buf, "CLD?%d", c);
        return buf;
    }
    }
}

/* One line for a wait status: the macros that apply and their values. */
static void show_status(const char *what, int st)
{
    if (WIFCONTINUED(st))
        printf("%s: WIFCONTINUED=1\n", what);
    else if (WIFEXITED(st))
        printf("%s: WIFEXITED=1 WEXITSTATUS=%d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: WIFSIGNALED=1 WTERMSIG=%s\n", what, signame(WTERMSIG(st)));
    else if (WIFSTOPPED(st))
        printf("%s: WIFSTOPPED=1 WSTOPSIG=%s\n", what, signame(WSTOPSIG(st)));
    else
        printf("%s: unknown status 0x%x\n", what, st);
}

static void show_siginfo(const char *what, const siginfo_t *si, pid_t pid)
{
    int st = si->si_status;
    const char *sts = (si->si_code == CLD_EXITED) ? NULL : signame(st);
    char num[16];
    if (!sts) { snprintf(num, sizeof num, "%d", st); sts = num; }
    printf("%s: si_signo=%s si_code=%s si_status=%s si_pid==child %s si_uid==getuid() %s\n",
           what, signame(si->si_signo), cldcode(si->si_code), sts, yesno(si->si_pid == pid),
           yesno(si->si_uid == getuid()));
}

static pid_t xfork(void)
{
    fflush(NULL);
    pid_t p = fork();
    if (p < 0)
        FAIL("fork");
    return p;
}

static int xwait(pid_t pid)
{
    int st;
    pid_t r;
    do r = waitpid(pid, &st, 0); while (r < 0 && errno == EINTR);
    if (r != pid)
        FAIL("waitpid(child) returned %ld", (long)r);
    return st;
}

static void wait_show(const char *what, pid_t pid) { show_status(what, xwait(pid)); }

static void xpipe(int p[2])
{
    if (pipe(p))
        FAIL("pipe");
}

/* Reads until EOF (or n bytes); returns the count. */
static size_t readall(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            FAIL("read");
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static void writeall(int fd, const void *buf, size_t n)
{
    while (n) {
        ssize_t r = write(fd, buf, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            FAIL("write");
        buf = (const char *)buf + r;
        n -= (size_t)r;
    }
}

/* A child's side of a release pipe: blocks until the parent closes its end (EOF). */
static void await_release(int rel[2])
{
    char c;
    close(rel[1]);
    while (read(rel[0], &c, 1) < 0 && errno == EINTR) {}
}

static void msleep(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) && errno == EINTR) {}
}

static void set_handler(int sig, void (*h)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL))
        FAIL("sigaction(%s)", signame(sig));
}

static void block(int sig, int how)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    if (sigprocmask(how, &s, NULL))
        FAIL("sigprocmask");
}

static int is_pending(int sig)
{
    sigset_t s;
    sigemptyset(&s);
    if (sigpending(&s))
        FAIL("sigpending");
    return sigismember(&s, sig);
}

/* The "Threads:" line of /proc/self/status, -1 if there is none. */
static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8))
            n = atoi(line + 8);
    fclose(f);
    return n;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static char *num(long v)
{
    char *s = malloc(24);
    CHECK(s);
    snprintf(s, 24, "%ld", v);
    return s;
}

/* ------------------------------------------------------------------------------------ */
/* Helpers that other modes exec. */

static int mode_echo_args(int argc, char **argv)
{
    printf("echo-args: argc=%d\n", argc);
    for (int i = 2; i < argc; i++)
        printf("  arg[%d]=%s\n", i - 2, argv[i]);
    const char *v = getenv("PROCS_VAR");
    printf("  PROCS_VAR=%s\n", v ? v : "(unset)");
    return argc - 2;
}

static int mode_check_pid(const char *pid, const char *ppid)
{
    printf("check-pid: getpid() unchanged across exec: %s\n", yesno(getpid() == atol(pid)));
    printf("check-pid: getppid() unchanged across exec: %s\n", yesno(getppid() == atol(ppid)));
    printf("check-pid: gettid()==getpid(): %s\n", yesno(syscall(SYS_gettid) == getpid()));
    printf("check-pid: threads=%d\n", thread_count());
    return 0;
}

static int mode_fd_check(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        CHECK(eq);
        int fd = atoi(eq + 1);
        int fl = fcntl(fd, F_GETFD);
        if (fl < 0)
            printf("fd-check: %.*s: closed (%s)\n", (int)(eq - argv[i]), argv[i], errname(errno));
        else
            printf("fd-check: %.*s: open, FD_CLOEXEC=%d\n", (int)(eq - argv[i]), argv[i], fl & FD_CLOEXEC);
    }
    return 0;
}

static const char *disposition(int sig)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa))
        FAIL("sigaction query");
    if (sa.sa_handler == SIG_DFL) return "SIG_DFL";
    if (sa.sa_handler == SIG_IGN) return "SIG_IGN";
    return "a handler";
}

static int blocked(int sig)
{
    sigset_t s;
    if (sigprocmask(SIG_BLOCK, NULL, &s))
        FAIL("sigprocmask");
    return sigismember(&s, sig);
}

static int mode_sig_state(void)
{
    printf("sig-state: SIGUSR1 %s, blocked %s\n", disposition(SIGUSR1), yesno(blocked(SIGUSR1)));
    printf("sig-state: SIGUSR2 %s, blocked %s\n", disposition(SIGUSR2), yesno(blocked(SIGUSR2)));
    return 0;
}

static int mode_exec_check(const char *ppid, const char *want_comm)
{
    mode_t um = umask(0);
    char cwd[256];
    struct rlimit rl;
    stack_t ss;
    printf("exec-check: getppid() unchanged: %s\n", yesno(getppid() == atol(ppid)));
    printf("exec-check: umask=%03o\n", (unsigned)um);
    printf("exec-check: cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : errname(errno));
    printf("exec-check: SIGUSR1 (handled before) is %s\n", disposition(SIGUSR1));
    printf("exec-check: SIGUSR2 (ignored before) is %s\n", disposition(SIGUSR2));
    printf("exec-check: SIGTERM still blocked: %s, still pending: %s\n", yesno(blocked(SIGTERM)), yesno(is_pending(SIGTERM)));
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    printf("exec-check: RLIMIT_NOFILE soft=%ld\n", (long)rl.rlim_cur);
    unsigned left = alarm(0);
    printf("exec-check: the alarm is still set: %s\n", yesno(left > 0 && left <= 100));
    CHECK(sigaltstack(NULL, &ss) == 0);
    printf("exec-check: sigaltstack disabled: %s\n", yesno(ss.ss_flags & SS_DISABLE));
    char comm[32] = "";
    CHECK(prctl(PR_GET_NAME, comm) == 0);
    printf("exec-check: comm is the file's name: %s\n", yesno(!strcmp(comm, want_comm)));
    return 0;
}

static int mode_block_read(const char *fd)
{
    char c;
    ssize_t r;
    do r = read(atoi(fd), &c, 1); while (r < 0 && errno == EINTR);
    return 0;
}

static int mode_upper(void)
{
    char buf[4096];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        writeall(1, buf, (size_t)n);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */

static void mode_fork_pipe(void)
{
    int p[2];
    pid_t parent = getpid();
    xpipe(p);
    pid_t pid = xfork();
    if (pid == 0) {
        char msg[160];
        close(p[0]);
        int n = snprintf(msg, sizeof msg, "child: getpid()!=parent %s, getppid()==parent %s\n",
                         yesno(getpid() != parent), yesno(getppid() == parent));
        writeall(p[1], msg, (size_t)n);
        _exit(3);
    }
    close(p[1]);
    printf("fork returned a pid > 0 in the parent: %s\n", yesno(pid > 0));
    char buf[256];
    size_t n = readall(p[0], buf, sizeof buf - 1);
    buf[n] = 0;
    close(p[0]);
    printf("parent read: %s", buf);
    int st;
    pid_t w = waitpid(pid, &st, 0);
    printf("waitpid returned the child: %s\n", yesno(w == pid));
    show_status("child", st);
    EXPECT_ERR("waitpid of the reaped child", waitpid(pid, &st, 0), ECHILD);

    /* 1 MiB from child to parent: the pipe fills and blocks the writer many times. */
    enum { MB = 1 << 20 };
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        static unsigned char big[MB];
        close(p[0]);
        for (size_t i = 0; i < MB; i++)
            big[i] = (unsigned char)(i * 7 + (i >> 12));
        writeall(p[1], big, MB);
        _exit(0);
    }
    close(p[1]);
    static unsigned char got[MB + 1];
    n = readall(p[0], got, sizeof got);
    close(p[0]);
    int ok = n == MB;
    for (size_t i = 0; ok && i < MB; i++)
        ok = got[i] == (unsigned char)(i * 7 + (i >> 12));
    printf("1 MiB through a pipe from the child, intact: %s\n", yesno(ok));
    wait_show("writer", pid);

    /* 100 round trips: each side blocks on the other in turn. */
    int a[2], b[2];
    xpipe(a);
    xpipe(b);
    pid = xfork();
    if (pid == 0) {
        close(a[1]);
        close(b[0]);
        unsigned char c;
        while (readall(a[0], &c, 1) == 1) {
            c++;
            writeall(b[1], &c, 1);
        }
        _exit(0);
    }
    close(a[0]);
    close(b[1]);
    unsigned char c = 0;
    int rounds = 0;
    for (int i = 0; i < 100; i++) {
        unsigned char sent = c;
        writeall(a[1], &c, 1);
        if (readall(b[0], &c, 1) != 1 || c != (unsigned char)(sent + 1))
            break;
        rounds++;
    }
    close(a[1]);
    close(b[0]);
    printf("round trips through two pipes: %d\n", rounds);
    wait_show("echoer", pid);
}

static void term_exit40(int sig) { (void)sig; _exit(40); }

static void mode_wait_signal(void)
{
    pid_t pid = xfork();
    if (pid == 0) {
        kill(getpid(), SIGTERM);
        _exit(99);
    }
    wait_show("kill(getpid(), SIGTERM)", pid);

    pid = xfork();
    if (pid == 0) {
        raise(SIGUSR1);
        _exit(99);
    }
    wait_show("raise(SIGUSR1)", pid);

    int rel[2];
    xpipe(rel);
    pid = xfork();
    if (pid == 0) {
        await_release(rel);
        _exit(99);
    }
    CHECK(kill(pid, SIGKILL) == 0);
    wait_show("SIGKILL from the parent", pid);

    /* A handler the child inherits: SIGTERM runs it, and it exits 40. */
    set_handler(SIGTERM, term_exit40, 0);
    pid = xfork();
    if (pid == 0) {
        await_release(rel);
        _exit(99);
    }
    set_handler(SIGTERM, SIG_DFL, 0);
    CHECK(kill(pid, SIGTERM) == 0);
    wait_show("SIGTERM to a child with a handler", pid);

    /* SIGTERM ignored: discarded when sent; the child exits 41 when released. */
    signal(SIGTERM, SIG_IGN);
    pid = xfork();
    if (pid == 0) {
        await_release(rel);
        _exit(41);
    }
    signal(SIGTERM, SIG_DFL);
    CHECK(kill(pid, SIGTERM) == 0);
    close(rel[1]);
    close(rel[0]);
    wait_show("SIGTERM to a child that ignores it", pid);
}

static void mode_wait_stop(void)
{
    block(SIGCHLD, SIG_BLOCK);
    for (int nocldstop = 0; nocldstop <= 1; nocldstop++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = nocldstop ? SA_NOCLDSTOP : 0;
        signal(SIGCHLD, SIG_IGN);          /* discards a pending SIGCHLD */
        CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
        int rel[2];
        xpipe(rel);
        pid_t pid = xfork();
        if (pid == 0) {
            raise(SIGSTOP);
            await_release(rel);
            _exit(7);
        }
        close(rel[0]);
        int st;
        CHECK(waitpid(pid, &st, WUNTRACED) == pid);
        show_status(nocldstop ? "stopped (SA_NOCLDSTOP)" : "stopped", st);
        /* The stopping child queues SIGCHLD just after its stop becomes visible to wait:
           take it with a timeout rather than look at the pending set at once. */
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        struct timespec to = { 0, 100 * 1000000L };
        int got = sigtimedwait(&chld, NULL, &to) == SIGCHLD;
        printf("SIGCHLD for the stop (within 100 ms): %s\n", yesno(got));
        CHECK(kill(pid, SIGCONT) == 0);
        CHECK(waitpid(pid, &st, WCONTINUED) == pid);
        show_status("after SIGCONT", st);
        close(rel[1]);
        wait_show("released", pid);
    }
    block(SIGCHLD, SIG_UNBLOCK);
    signal(SIGCHLD, SIG_DFL);

    /* A stopped child still dies of SIGKILL. */
    pid_t pid = xfork();
    if (pid == 0) {
        raise(SIGSTOP);
        _exit(99);
    }
    int st;
    CHECK(waitpid(pid, &st, WUNTRACED) == pid);
    show_status("stopped again", st);
    CHECK(kill(pid, SIGKILL) == 0);
    wait_show("SIGKILL while stopped", pid);
}

static volatile sig_atomic_t tstp_caught, cont_caught;
static void on_tstp(int sig) { (void)sig; tstp_caught++; }
static void on_cont(int sig) { (void)sig; cont_caught++; }

/* The state letter of /proc/PID/stat (the field after the parenthesised name), '?' if unreadable. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return '?';
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

/* waitpid(pid, options) for a status, retried on EINTR. */
static int xwaitopt(pid_t pid, int options)
{
    int st;
    pid_t r;
    do r = waitpid(pid, &st, options); while (r < 0 && errno == EINTR);
    if (r != pid)
        FAIL("waitpid(child, 0x%x) returned %ld", options, (long)r);
    return st;
}

static void *spin_counter(void *a)
{
    volatile unsigned long *c = a;
    for (;;)
        (*c)++;
    return NULL;
}

/* A child blocked in a call, stopped by SIGSTOP and continued: its exit status says what
   the call returned (10: EINTR, 20: it went on and returned normally). */
static void stop_cont_child(const char *what, int how)
{
    int ready[2];
    xpipe(ready);
    fflush(NULL);
    pid_t pid = xfork();
    if (pid == 0) {
        close(ready[0]);
        int r;
        if (how == 0) {                        /* epoll_wait on an empty pipe, 3 s */
            int p[2], ep = epoll_create1(0);
            xpipe(p);
            struct epoll_event ev = { .events = EPOLLIN };
            CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
            writeall(ready[1], "r", 1);
            r = epoll_wait(ep, &ev, 1, 3000);
        } else if (how == 1) {                 /* sigtimedwait for a blocked SIGUSR1, 3 s */
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGUSR1);
            sigprocmask(SIG_BLOCK, &set, NULL);
            struct timespec ts = { 3, 0 };
            writeall(ready[1], "r", 1);
            r = sigtimedwait(&set, NULL, &ts);
        } else if (how == 2) {                 /* nanosleep, 600 ms: restarted, not EINTR */
            struct timespec ts = { 0, 600 * 1000000L };
            writeall(ready[1], "r", 1);
            r = nanosleep(&ts, NULL);
        } else {                               /* read of a pipe written after the stop */
            int p[2];
            xpipe(p);
            writeall(ready[1], &p[1], sizeof p[1]);
            char c;
            r = (int)read(p[0], &c, 1);
        }
        _exit(r < 0 && errno == EINTR ? 10 : 20);
    }
    close(ready[1]);
    char c[4];
    CHECK(read(ready[0], c, sizeof c) > 0);
    msleep(200);                               /* blocked in the call by now */
    CHECK(kill(pid, SIGSTOP) == 0);
    CHECK(xwaitopt(pid, WUNTRACED) != 0);
    CHECK(kill(pid, SIGCONT) == 0);
    if (how == 3) {
        /* The child's write end is its own copy: it cannot be written from here; instead
           its read must still be blocked after the continue, and SIGKILL ends it. */
        msleep(100);
        int st;
        printf("%s: still blocked after SIGCONT: %s\n", what, yesno(waitpid(pid, &st, WNOHANG) == 0));
        CHECK(kill(pid, SIGKILL) == 0);
    }
    wait_show(what, pid);
    close(ready[0]);
}

static void mode_stop_eintr(void)
{
    stop_cont_child("epoll_wait, stopped and continued (10: EINTR)", 0);
    stop_cont_child("sigtimedwait, stopped and continued (10: EINTR; musl retries: 20)", 1);
    stop_cont_child("nanosleep, stopped and continued (20: completed)", 2);
    stop_cont_child("read of a pipe, stopped and continued", 3);
}

static void mode_job_control(void)
{
    int rel[2], ready[2], st;
    char c;
    /* SIGTSTP, SIGTTIN and SIGTTOU at their default action stop a child in a process group
       of its own (not orphaned: its parent is in another group of the same session). */
    const int stops[] = { SIGTSTP, SIGTTIN, SIGTTOU };
    for (int i = 0; i < 3; i++) {
        xpipe(rel);
        pid_t pid = xfork();
        if (pid == 0) {
            CHECK(setpgid(0, 0) == 0);
            raise(stops[i]);
            await_release(rel);
            _exit(2);
        }
        close(rel[0]);
        char what[64];
        snprintf(what, sizeof what, "raise(%s) in a group of its own", signame(stops[i]));
        show_status(what, xwaitopt(pid, WUNTRACED));
        printf("  /proc/PID/stat state while stopped: %c\n", proc_state(pid));
        CHECK(kill(pid, SIGCONT) == 0);
        show_status("  after SIGCONT", xwaitopt(pid, WCONTINUED));
        close(rel[1]);
        wait_show("  released", pid);
    }

    /* With a handler, SIGTSTP runs it and does not stop. */
    pid_t pid = xfork();
    if (pid == 0) {
        CHECK(setpgid(0, 0) == 0);
        set_handler(SIGTSTP, on_tstp, 0);
        raise(SIGTSTP);
        _exit(tstp_caught == 1 ? 3 : 99);
    }
    show_status("SIGTSTP with a handler", xwaitopt(pid, WUNTRACED));

    /* Blocked, SIGTSTP stays pending; it stops the child when unblocked. */
    xpipe(ready);
    xpipe(rel);
    pid = xfork();
    if (pid == 0) {
        close(ready[0]);
        CHECK(setpgid(0, 0) == 0);
        block(SIGTSTP, SIG_BLOCK);
        raise(SIGTSTP);
        writeall(ready[1], "p", 1);
        await_release(rel);
        block(SIGTSTP, SIG_UNBLOCK);
        _exit(4);
    }
    close(ready[1]);
    close(rel[0]);
    printf("blocked SIGTSTP: the child runs on: %s\n", yesno(readall(ready[0], &c, 1) == 1));
    close(ready[0]);
    close(rel[1]);
    show_status("then unblocked", xwaitopt(pid, WUNTRACED));
    CHECK(kill(pid, SIGCONT) == 0);
    wait_show("continued", pid);

    /* SIGCONT discards a pending stop signal. */
    xpipe(ready);
    xpipe(rel);
    pid = xfork();
    if (pid == 0) {
        close(ready[0]);
        CHECK(setpgid(0, 0) == 0);
        block(SIGTSTP, SIG_BLOCK);
        writeall(ready[1], "r", 1);
        await_release(rel);
        int was = is_pending(SIGTSTP);
        block(SIGTSTP, SIG_UNBLOCK);
        _exit(was ? 98 : 5);
    }
    close(ready[1]);
    close(rel[0]);
    CHECK(readall(ready[0], &c, 1) == 1);
    close(ready[0]);
    CHECK(kill(pid, SIGTSTP) == 0);
    CHECK(kill(pid, SIGCONT) == 0);
    close(rel[1]);
    show_status("SIGTSTP pending, then SIGCONT", xwaitopt(pid, WUNTRACED));

    /* In an orphaned process group (a session of its own), SIGTSTP is discarded. */
    pid = xfork();
    if (pid == 0) {
        CHECK(setsid() > 0);
        raise(SIGTSTP);
        _exit(8);
    }
    show_status("SIGTSTP in an orphaned process group", xwaitopt(pid, WUNTRACED));

    /* A SIGCONT handler runs once the child continues, before raise(SIGSTOP) returns. */
    pid = xfork();
    if (pid == 0) {
        set_handler(SIGCONT, on_cont, 0);
        raise(SIGSTOP);
        _exit(cont_caught == 1 ? 6 : 97);
    }
    show_status("SIGSTOP", xwaitopt(pid, WUNTRACED));
    CHECK(kill(pid, SIGCONT) == 0);
    wait_show("its SIGCONT handler ran after the stop", pid);

    /* SIGCHLD's siginfo for a stop and a continue. */
    block(SIGCHLD, SIG_BLOCK);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    struct timespec to = { 5, 0 };
    siginfo_t si;
    xpipe(rel);
    pid = xfork();
    if (pid == 0) {
        raise(SIGSTOP);
        await_release(rel);
        _exit(10);
    }
    close(rel[0]);
    CHECK(sigtimedwait(&chld, &si, &to) == SIGCHLD);
    show_siginfo("SIGCHLD at the stop", &si, pid);
    CHECK(kill(pid, SIGCONT) == 0);
    CHECK(sigtimedwait(&chld, &si, &to) == SIGCHLD);
    show_siginfo("SIGCHLD at the continue", &si, pid);
    close(rel[1]);
    wait_show("released", pid);
    signal(SIGCHLD, SIG_IGN);              /* discards the exit's SIGCHLD */
    signal(SIGCHLD, SIG_DFL);
    block(SIGCHLD, SIG_UNBLOCK);

    /* Every thread stops: a second thread that spins stops counting. */
    volatile unsigned long *counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(counter != MAP_FAILED);
    xpipe(ready);
    pid = xfork();
    if (pid == 0) {
        close(ready[0]);
        pthread_t th;
        CHECK(pthread_create(&th, NULL, spin_counter, (void *)counter) == 0);
        while (*counter == 0) {}
        writeall(ready[1], "t", 1);
        for (;;)
            pause();
    }
    close(ready[1]);
    CHECK(readall(ready[0], &c, 1) == 1);
    close(ready[0]);
    CHECK(kill(pid, SIGSTOP) == 0);
    show_status("a child with a spinning thread", xwaitopt(pid, WUNTRACED));
    unsigned long a = *counter;
    msleep(50);
    unsigned long b = *counter;
    printf("  its spinning thread stopped too: %s\n", yesno(a == b));
    CHECK(kill(pid, SIGCONT) == 0);
    show_status("  continued", xwaitopt(pid, WCONTINUED));
    for (int i = 0; i < 1000 && *counter == b; i++)
        msleep(1);
    printf("  and counts again: %s\n", yesno(*counter != b));
    CHECK(kill(pid, SIGKILL) == 0);
    wait_show("  killed", pid);

    /* A stopped child blocked in read does not return to its program until continued. */
    int in[2], out[2];
    xpipe(in);
    xpipe(out);
    pid = xfork();
    if (pid == 0) {
        close(in[1]);
        close(out[0]);
        char b1;
        while (readall(in[0], &b1, 1) == 1)
            writeall(out[1], &b1, 1);
        _exit(9);
    }
    close(in[0]);
    close(out[1]);
    writeall(in[1], "a", 1);
    CHECK(readall(out[0], &c, 1) == 1);
    msleep(20);
    CHECK(kill(pid, SIGSTOP) == 0);
    show_status("an echoing child blocked in read", xwaitopt(pid, WUNTRACED));
    writeall(in[1], "b", 1);
    struct pollfd pf = { out[0], POLLIN, 0 };
    printf("  while stopped it does not echo (poll, 100 ms): %d\n", poll(&pf, 1, 100));
    CHECK(kill(pid, SIGCONT) == 0);
    printf("  after SIGCONT it echoes: %s\n", yesno(readall(out[0], &c, 1) == 1 && c == 'b'));
    close(in[1]);
    wait_show("  at EOF", pid);
    close(out[0]);

    /* A fatal signal other than SIGKILL waits for SIGCONT. */
    pid = xfork();
    if (pid == 0) {
        raise(SIGSTOP);
        _exit(96);
    }
    show_status("stopped", xwaitopt(pid, WUNTRACED));
    CHECK(kill(pid, SIGTERM) == 0);
    msleep(50);
    printf("  SIGTERM leaves it stopped: %s\n", yesno(waitpid(pid, &st, WNOHANG) == 0 && proc_state(pid) == 'T'));
    CHECK(kill(pid, SIGCONT) == 0);
    wait_show("  then SIGCONT: it dies of the SIGTERM", pid);

    /* A process group that an exit orphans, with a stopped member, gets SIGHUP and SIGCONT:
       P (a session of its own) has a child A in another group of P's session; A stops and
       P exits. We are the subreaper, so A becomes our child either way. */
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    int apid[2];
    xpipe(apid);
    pid = xfork();
    if (pid == 0) {
        close(apid[0]);
        CHECK(setsid() > 0);
        pid_t a = xfork();
        if (a == 0) {
            CHECK(setpgid(0, 0) == 0);
            raise(SIGSTOP);
            _exit(11);
        }
        CHECK(xwaitopt(a, WUNTRACED) != 0);
        writeall(apid[1], &a, sizeof a);
        _exit(0);
    }
    close(apid[1]);
    pid_t orphan = 0;
    CHECK(readall(apid[0], &orphan, sizeof orphan) == sizeof orphan);
    close(apid[0]);
    wait_show("the stopped child's parent", pid);
    wait_show("a stopped process whose group the exit orphaned", orphan);
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 0) == 0);
}

/* torov only: children stopped for good, and the parent ends (natively they would stay). */
static void mode_stop_forever(void)
{
    if (!getenv("PROCS_HOSTILE")) {
        fprintf(stderr, "procs stop-forever: leaves stopped processes behind, runs only under torov with PROCS_HOSTILE=1\n");
        exit(2);
    }
    pid_t pid = xfork();
    if (pid == 0) {
        raise(SIGSTOP);
        _exit(99);
    }
    show_status("child", xwaitopt(pid, WUNTRACED));
    pid = xfork();
    if (pid == 0) {
        CHECK(setsid() > 0);
        raise(SIGSTOP);
        _exit(99);
    }
    show_status("a session leader", xwaitopt(pid, WUNTRACED));
    if (getenv("PROCS_WAIT")) {
        printf("waiting for it without WUNTRACED\n");
        xwait(pid);
    }
    printf("exiting with both stopped\n");
}

static void mode_wnohang(void)
{
    int rel[2], st;
    xpipe(rel);
    pid_t pid = xfork();
    if (pid == 0) {
        await_release(rel);
        _exit(5);
    }
    close(rel[0]);
    printf("WNOHANG while the child runs: %ld\n", (long)waitpid(pid, &st, WNOHANG));
    printf("WNOHANG, any child, while it runs: %ld\n", (long)waitpid(-1, &st, WNOHANG));
    close(rel[1]);
    pid_t r = 0;
    for (int i = 0; i < 5000 && r == 0; i++) {
        r = waitpid(pid, &st, WNOHANG);
        if (r == 0)
            msleep(1);
    }
    printf("WNOHANG after the child exited returns it: %s\n", yesno(r == pid));
    show_status("child", st);
    EXPECT_ERR("WNOHANG with no child left", waitpid(-1, &st, WNOHANG), ECHILD);
}

static void mode_echild(void)
{
    int st;
    siginfo_t si;
    EXPECT_ERR("waitpid(-1) without children", waitpid(-1, &st, 0), ECHILD);
    EXPECT_ERR("wait() without children", wait(&st), ECHILD);
    EXPECT_ERR("waitpid(0) without children", waitpid(0, &st, 0), ECHILD);
    EXPECT_ERR("waitpid(getpid())", waitpid(getpid(), &st, 0), ECHILD);
    EXPECT_ERR("waitpid(getppid())", waitpid(getppid(), &st, 0), ECHILD);
    EXPECT_ERR("waitpid(-getpgrp())", waitpid(-getpgrp(), &st, 0), ECHILD);
    EXPECT_ERR("waitid(P_ALL) without children", waitid(P_ALL, 0, &si, WEXITED), ECHILD);

    pid_t pid = xfork();
    if (pid == 0)
        _exit(0);
    wait_show("child", pid);
    EXPECT_ERR("waitpid(reaped child)", waitpid(pid, &st, 0), ECHILD);

    int rel[2];
    xpipe(rel);
    pid = xfork();
    if (pid == 0) {
        await_release(rel);
        _exit(0);
    }
    close(rel[0]);
    EXPECT_ERR("waitpid with unknown option bits", waitpid(pid, &st, 0x1000), EINVAL);
    EXPECT_ERR("waitpid with WNOWAIT (waitid only)", waitpid(pid, &st, WNOWAIT), EINVAL);
    EXPECT_ERR("waitid without WEXITED/WSTOPPED/WCONTINUED", waitid(P_PID, (id_t)pid, &si, 0), EINVAL);
    EXPECT_ERR("waitid with idtype 42", syscall(SYS_waitid, 42, pid, &si, WEXITED, NULL), EINVAL);
    EXPECT_ERR("waitid(P_PID, 0)", waitid(P_PID, 0, &si, WEXITED), EINVAL);
    close(rel[1]);
    EXPECT_ERR("wait4 with a bad status pointer", syscall(SYS_wait4, pid, BAD, 0, NULL), EFAULT);
    EXPECT_ERR("the child was reaped anyway", waitpid(pid, &st, 0), ECHILD);
}

static void mode_waitid(void)
{
    siginfo_t si;
    pid_t pid = xfork();
    if (pid == 0)
        _exit(4);
    memset(&si, 0, sizeof si);
    printf("waitid(P_PID) returns %d\n", waitid(P_PID, (id_t)pid, &si, WEXITED));
    show_siginfo("P_PID, exit 4", &si, pid);

    pid = xfork();
    if (pid == 0) {
        raise(SIGUSR2);
        _exit(99);
    }
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_ALL, 0, &si, WEXITED) == 0);
    show_siginfo("P_ALL, raise(SIGUSR2)", &si, pid);

    pid = xfork();
    if (pid == 0)
        _exit(6);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
    show_siginfo("WNOWAIT", &si, pid);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PGID, (id_t)getpgrp(), &si, WEXITED) == 0);
    show_siginfo("P_PGID after WNOWAIT", &si, pid);
    int st;
    EXPECT_ERR("then waitpid", waitpid(pid, &st, 0), ECHILD);

    int rel[2];
    xpipe(rel);
    pid = xfork();
    if (pid == 0) {
        raise(SIGSTOP);
        await_release(rel);
        _exit(8);
    }
    close(rel[0]);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PID, (id_t)pid, &si, WSTOPPED) == 0);
    show_siginfo("WSTOPPED", &si, pid);
    CHECK(kill(pid, SIGCONT) == 0);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PID, (id_t)pid, &si, WCONTINUED) == 0);
    show_siginfo("WCONTINUED", &si, pid);
    memset(&si, 0, sizeof si);
    si.si_pid = 12345;
    si.si_signo = 77;
    printf("WNOHANG while it runs returns %d\n", waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG));
    printf("  and zeroes si_pid: %s, si_signo: %s\n", yesno(si.si_pid == 0), yesno(si.si_signo == 0));
    close(rel[1]);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PID, (id_t)pid, &si, WEXITED) == 0);
    show_siginfo("released", &si, pid);
    EXPECT_ERR("waitid(P_ALL) with none left", waitid(P_ALL, 0, &si, WEXITED), ECHILD);
}

static void mode_zombie(void)
{
    siginfo_t si;
    pid_t pid = xfork();
    if (pid == 0)
        _exit(0);
    CHECK(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
    printf("kill(zombie, 0) = %d\n", kill(pid, 0));
    printf("getpgid(zombie)==getpgrp(): %s\n", yesno(getpgid(pid) == getpgrp()));
    wait_show("reaped", pid);
    EXPECT_ERR("kill(reaped, 0)", kill(pid, 0), ESRCH);
    EXPECT_ERR("getpgid(reaped)", getpgid(pid), ESRCH);
    EXPECT_ERR("getsid(reaped)", getsid(pid), ESRCH);
}

static volatile sig_atomic_t chld_count, chld_code, chld_status;
static volatile pid_t chld_pid;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    chld_count++;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}

static void chld_action(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
}

static void await_chld(void)
{
    sigset_t empty;
    sigemptyset(&empty);
    while (chld_count == 0)
        sigsuspend(&empty);
}

static void mode_sigchld(void)
{
    chld_action(0);
    block(SIGCHLD, SIG_BLOCK);
    pid_t pid = xfork();
    if (pid == 0)
        _exit(2);
    await_chld();
    printf("handler ran %d time(s): %s si_status=%d si_pid==child %s\n", (int)chld_count,
           cldcode(chld_code), (int)chld_status, yesno(chld_pid == pid));
    wait_show("then waitpid", pid);

    chld_count = 0;
    pid = xfork();
    if (pid == 0) {
        raise(SIGTERM);
        _exit(99);
    }
    await_chld();
    printf("handler ran %d time(s): %s si_status=%s si_pid==child %s\n", (int)chld_count,
           cldcode(chld_code), signame(chld_status), yesno(chld_pid == pid));
    wait_show("then waitpid", pid);

    /* SIG_IGN: the child is reaped when it exits; waitpid blocks until then, then ECHILD. */
    signal(SIGCHLD, SIG_IGN);
    pid = xfork();
    if (pid == 0) {
        msleep(20);
        _exit(0);
    }
    int st;
    EXPECT_ERR("SIG_IGN: waitpid(child)", waitpid(pid, &st, 0), ECHILD);
    /* Reaped, but it may stay visible for a moment after wait says ECHILD. */
    int gone = 0;
    for (int i = 0; i < 5000 && !gone; i++) {
        gone = kill(pid, 0) == -1 && errno == ESRCH;
        if (!gone)
            msleep(1);
    }
    printf("SIG_IGN: the child is gone (kill(child, 0) is ESRCH): %s\n", yesno(gone));

    /* SA_NOCLDWAIT with a handler: reaped too, and the handler still runs (Linux). */
    chld_count = 0;
    chld_action(SA_NOCLDWAIT);
    pid = xfork();
    if (pid == 0) {
        msleep(20);
        _exit(0);
    }
    EXPECT_ERR("SA_NOCLDWAIT: waitpid(child)", waitpid(pid, &st, 0), ECHILD);
    block(SIGCHLD, SIG_UNBLOCK);
    printf("SA_NOCLDWAIT: the handler ran %d time(s) once SIGCHLD was unblocked\n", (int)chld_count);
    signal(SIGCHLD, SIG_DFL);
}

/* Makes us a process group leader (already one when we lead a session: then setpgid is EPERM). */
static void own_group(void)
{
    if (getpgrp() != getpid())
        CHECK(setpgid(0, 0) == 0);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static void mode_wait_any(void)
{
    pid_t pids[5];
    int codes[5], st;
    for (int i = 0; i < 5; i++) {
        pids[i] = xfork();
        if (pids[i] == 0)
            _exit(10 + i);
    }
    for (int i = 0; i < 5; i++) {
        pid_t r = wait(&st);
        int ours = 0;
        for (int j = 0; j < 5; j++)
            if (pids[j] == r) { ours = 1; pids[j] = -1; }
        CHECK(ours);
        CHECK(WIFEXITED(st));
        codes[i] = WEXITSTATUS(st);
    }
    qsort(codes, 5, sizeof codes[0], cmp_int);
    printf("wait() collected exit statuses %d %d %d %d %d\n", codes[0], codes[1], codes[2], codes[3], codes[4]);
    EXPECT_ERR("a sixth wait()", wait(&st), ECHILD);
}

static void mode_wait_pgrp(void)
{
    int rel[2], st;
    own_group();
    xpipe(rel);
    pid_t x = xfork();
    if (x == 0) {
        setpgid(0, 0);
        await_release(rel);
        _exit(31);
    }
    setpgid(x, x);                 /* both sides, so it is done whoever runs first */
    pid_t y = xfork();
    if (y == 0) {
        await_release(rel);
        _exit(32);
    }
    close(rel[0]);
    printf("getpgid(x)==x: %s, getpgid(y)==getpgrp(): %s\n", yesno(getpgid(x) == x), yesno(getpgid(y) == getpgrp()));
    close(rel[1]);
    pid_t r = waitpid(0, &st, 0);
    printf("waitpid(0) returned y: %s\n", yesno(r == y));
    show_status("y", st);
    r = waitpid(-x, &st, 0);
    printf("waitpid(-x) returned x: %s\n", yesno(r == x));
    show_status("x", st);
    EXPECT_ERR("waitpid(0) again", waitpid(0, &st, 0), ECHILD);
}

static void *thread_exit6(void *a) { (void)a; exit(6); }
static void *thread_exit8_later(void *a) { (void)a; msleep(20); exit(8); }
static void at_exit_child(void) { printf(" + the atexit handler's line\n"); }

static void mode_exit_status(void)
{
    static const int codes[] = { 0, 1, 255, 256, 257, 1000 };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        pid_t pid = xfork();
        if (pid == 0)
            _exit(codes[i]);
        char what[32];
        snprintf(what, sizeof what, "_exit(%d)", codes[i]);
        wait_show(what, pid);
    }
    pid_t pid = xfork();
    if (pid == 0)
        exit(-1);
    wait_show("exit(-1)", pid);

    pid = xfork();
    if (pid == 0) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, thread_exit6, NULL) == 0);
        for (;;)
            pause();               /* exit(6) in the thread ends us */
    }
    wait_show("exit(6) from a second thread", pid);

    pid = xfork();
    if (pid == 0) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, thread_exit8_later, NULL) == 0);
        pthread_exit(NULL);
    }
    wait_show("pthread_exit in main, exit(8) in the other thread", pid);

    pid = xfork();
    if (pid == 0) {
        atexit(at_exit_child);
        printf("child: a line without newline, flushed by exit()");
        exit(9);
    }
    wait_show("exit(9) with atexit", pid);
}

static int nest(int depth)
{
    if (depth == 0)
        return 0;
    pid_t me = getpid();
    pid_t pid = xfork();
    if (pid == 0) {
        if (getppid() != me)
            _exit(100);
        _exit(nest(depth - 1));
    }
    int st = xwait(pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) + 1 : 200;
}

static void mode_nested(void)
{
    printf("a chain of 5 processes returns %d\n", nest(5));
}

static int g_data = 1;

static void mode_fork_mem(void)
{
    enum { HEAP = 1 << 20 };
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *heap = malloc(HEAP);
    CHECK(heap);
    for (size_t i = 0; i < HEAP; i++)
        heap[i] = (unsigned char)(i % 251);
    char *shared = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char *priv = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *wipe = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *dont = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(shared != MAP_FAILED && priv != MAP_FAILED && wipe != MAP_FAILED && dont != MAP_FAILED);
    strcpy(shared, "parent");
    strcpy(priv, "parent");
    strcpy(wipe, "parent");
    strcpy(dont, "parent");
    CHECK(madvise(wipe, (size_t)pg, MADV_WIPEONFORK) == 0);
    CHECK(madvise(dont, (size_t)pg, MADV_DONTFORK) == 0);
    int local = 10;

    pid_t pid = xfork();
    if (pid == 0) {
        int ok = 1;
        for (size_t i = 0; ok && i < HEAP; i++)
            ok = heap[i] == (unsigned char)(i % 251);
        printf("child: heap copied: %s, data g=%d, stack local=%d\n", yesno(ok), g_data, local);
        printf("child: MAP_SHARED \"%s\", MAP_PRIVATE \"%s\", MADV_WIPEONFORK page zero: %s\n",
               shared, priv, yesno(wipe[0] == 0 && wipe[pg - 1] == 0));
        g_data = 2;
        local = 20;
        memset(heap, 0xee, HEAP);
        strcpy(shared, "child");
        strcpy(priv, "child");
        _exit(0);
    }
    wait_show("child", pid);
    int ok = 1;
    for (size_t i = 0; ok && i < HEAP; i++)
        ok = heap[i] == (unsigned char)(i % 251);
    printf("parent: heap unchanged: %s, data g=%d, stack local=%d\n", yesno(ok), g_data, local);
    printf("parent: MAP_SHARED \"%s\", MAP_PRIVATE \"%s\", wiped page kept: \"%s\"\n", shared, priv, wipe);

    pid = xfork();
    if (pid == 0) {
        prctl(PR_SET_DUMPABLE, 0);     /* no core file natively */
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);
        volatile char c = dont[0];     /* not mapped in the child: SIGSEGV */
        (void)c;
        _exit(0);
    }
    wait_show("child reading a MADV_DONTFORK page", pid);
    printf("parent: the MADV_DONTFORK page still reads \"%s\"\n", dont);
}

static void mode_fork_fds(void)
{
    int fd = (int)syscall(SYS_memfd_create, "procs", 0);
    CHECK(fd >= 0);
    writeall(fd, "abc", 3);
    int p[2];
    xpipe(p);
    pid_t pid = xfork();
    if (pid == 0) {
        writeall(fd, "defgh", 5);
        CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);       /* the open file's flags: shared */
        CHECK(fcntl(p[1], F_SETFD, FD_CLOEXEC) == 0);       /* the descriptor's flag: ours */
        _exit(0);
    }
    wait_show("child", pid);
    printf("file offset after the child's write: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    char buf[16] = "";
    CHECK(pread(fd, buf, sizeof buf - 1, 0) == 8);
    printf("file contents: %s\n", buf);
    printf("O_NONBLOCK set by the child on the pipe: %s\n", yesno(fcntl(p[0], F_GETFL) & O_NONBLOCK));
    printf("FD_CLOEXEC set by the child: %s\n", yesno(fcntl(p[1], F_GETFD) & FD_CLOEXEC));
    EXPECT_ERR("read of the empty non-blocking pipe", read(p[0], buf, 1), EAGAIN);

    /* The child closes its copy: the parent's copy stays usable. */
    pid = xfork();
    if (pid == 0) {
        close(p[0]);
        close(p[1]);
        close(fd);
        _exit(0);
    }
    wait_show("child closing its copies", pid);
    writeall(p[1], "x", 1);
    printf("parent's pipe still works: %s\n", yesno(read(p[0], buf, 1) == 1 && buf[0] == 'x'));

    /* The last writer gone (parent closed, child exits): the reader sees EOF. */
    CHECK(fcntl(p[0], F_SETFL, 0) == 0);
    pid = xfork();
    if (pid == 0) {
        close(p[0]);
        writeall(p[1], "from child", 10);
        _exit(0);
    }
    close(p[1]);
    size_t n = readall(p[0], buf, sizeof buf - 1);
    buf[n] = 0;
    printf("read until EOF: \"%s\"\n", buf);
    wait_show("writer", pid);
    close(p[0]);
    close(fd);
}

static void on_usr1(int sig) { (void)sig; }

static void mode_fork_signals(void)
{
    set_handler(SIGUSR1, on_usr1, 0);
    signal(SIGUSR2, SIG_IGN);
    block(SIGTERM, SIG_BLOCK);
    raise(SIGTERM);                        /* pending in the parent */
    alarm(100);
    struct sigaction parent_sa;
    CHECK(sigaction(SIGUSR1, NULL, &parent_sa) == 0);
    pid_t pid = xfork();
    if (pid == 0) {
        struct sigaction sa;
        CHECK(sigaction(SIGUSR1, NULL, &sa) == 0);
        printf("child: SIGUSR1 handler inherited: %s\n", yesno(sa.sa_handler == parent_sa.sa_handler));
        printf("child: SIGUSR2 %s\n", disposition(SIGUSR2));
        printf("child: SIGTERM blocked: %s, pending: %s\n", yesno(blocked(SIGTERM)), yesno(is_pending(SIGTERM)));
        printf("child: alarm() left from the parent: %u\n", alarm(0));
        _exit(0);
    }
    wait_show("child", pid);
    printf("parent: SIGTERM still pending: %s\n", yesno(is_pending(SIGTERM)));
    unsigned left = alarm(0);
    printf("parent: its alarm is still set: %s\n", yesno(left > 0 && left <= 100));
    signal(SIGTERM, SIG_IGN);              /* discard the pending SIGTERM */
    block(SIGTERM, SIG_UNBLOCK);
    signal(SIGTERM, SIG_DFL);
}

static int ft_rel[2];

static void *blocked_thread(void *a)
{
    (void)a;
    char c;
    while (read(ft_rel[0], &c, 1) < 0 && errno == EINTR) {}
    return NULL;
}

static void *nop_thread(void *a) { return a; }

static void *forking_thread(void *a)
{
    (void)a;
    pid_t pid = xfork();
    if (pid == 0) {
        printf("child of the second thread: gettid()==getpid(): %s, threads=%d\n",
               yesno(syscall(SYS_gettid) == getpid()), thread_count());
        _exit(4);
    }
    wait_show("child of the second thread", pid);
    return NULL;
}

static void mode_fork_thread(void)
{
    pthread_t t, t2;
    xpipe(ft_rel);
    CHECK(pthread_create(&t, NULL, blocked_thread, NULL) == 0);
    printf("parent threads=%d\n", thread_count());
    pid_t pid = xfork();
    if (pid == 0) {
        printf("child threads=%d\n", thread_count());
        void *r;
        CHECK(pthread_create(&t2, NULL, nop_thread, (void *)42) == 0);
        CHECK(pthread_join(t2, &r) == 0);
        printf("child: a new thread ran and was joined: %s\n", yesno(r == (void *)42));
        _exit(0);
    }
    wait_show("child", pid);
    CHECK(pthread_create(&t2, NULL, forking_thread, NULL) == 0);
    CHECK(pthread_join(t2, NULL) == 0);
    close(ft_rel[1]);
    CHECK(pthread_join(t, NULL) == 0);
    /* A joined thread may be counted for a moment more (its tid is cleared before it is gone). */
    int n = 0;
    for (int i = 0; i < 5000 && (n = thread_count()) != 1; i++)
        msleep(1);
    printf("parent threads after joining=%d\n", n);
}

static long cpu_ms(const struct timeval *u, const struct timeval *s)
{
    return (u->tv_sec + s->tv_sec) * 1000L + (u->tv_usec + s->tv_usec) / 1000;
}

static void mode_rusage(void)
{
    struct rusage self0, ru, ch;
    CHECK(getrusage(RUSAGE_SELF, &self0) == 0);
    pid_t pid = xfork();
    if (pid == 0) {
        struct timespec ts;
        volatile unsigned long x = 0;
        do {
            for (int i = 0; i < 100000; i++)
                x += (unsigned long)i;
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        } while (ts.tv_sec == 0 && ts.tv_nsec < 60 * 1000000L);
        _exit(0);
    }
    int st;
    CHECK(wait4(pid, &st, 0, &ru) == pid);
    show_status("child", st);
    printf("wait4 rusage: child CPU time >= 40 ms: %s\n", yesno(cpu_ms(&ru.ru_utime, &ru.ru_stime) >= 40));
    CHECK(getrusage(RUSAGE_CHILDREN, &ch) == 0);
    printf("RUSAGE_CHILDREN >= 40 ms: %s\n", yesno(cpu_ms(&ch.ru_utime, &ch.ru_stime) >= 40));
    struct rusage self1;
    CHECK(getrusage(RUSAGE_SELF, &self1) == 0);
    printf("RUSAGE_SELF did not take the child's time: %s\n",
           yesno(cpu_ms(&self1.ru_utime, &self1.ru_stime) - cpu_ms(&self0.ru_utime, &self0.ru_stime) < 40));
    struct tms tm;
    CHECK(times(&tm) != (clock_t)-1);
    long hz = sysconf(_SC_CLK_TCK);
    printf("times: children's CPU time >= 40 ms: %s\n", yesno((tm.tms_cutime + tm.tms_cstime) * 1000 / hz >= 40));
    printf("times: own CPU time below the child's: %s\n", yesno((tm.tms_utime + tm.tms_stime) * 1000 / hz < 40));
}

/* execveat: by an fd of the program (AT_EMPTY_PATH), and by a name relative to a directory fd. */
static void mode_exec_at(const char *prog)
{
    char dir[PATH_MAX], *slash;
    snprintf(dir, sizeof dir, "%s", prog);
    slash = strrchr(dir, '/');
    CHECK(slash);
    *slash = 0;
    const char *name = slash + 1;
    for (int how = 0; how < 3; how++) {
        pid_t pid = xfork();
        if (pid == 0) {
            char *argv[] = { (char *)prog, "check-pid", num(getpid()), num(getppid()), NULL };
            char *envp[] = { NULL };
            if (how == 0) {
                int fd = open(prog, O_PATH | O_CLOEXEC);
                CHECK(fd >= 0);
                syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
            } else if (how == 1) {
                int dfd = open(dir, O_RDONLY | O_DIRECTORY);
                CHECK(dfd >= 0);
                syscall(SYS_execveat, dfd, name, argv, envp, 0);
            } else {
                int fd = open(prog, O_PATH | O_CLOEXEC);
                CHECK(fd >= 0);
                syscall(SYS_execveat, fd, "", argv, envp, 0);          /* no AT_EMPTY_PATH: ENOENT */
                printf("execveat(fd, \"\") without AT_EMPTY_PATH: %s\n", errname(errno));
                fflush(NULL);
                _exit(3);
            }
            printf("execveat failed: %s\n", errname(errno));
            fflush(NULL);
            _exit(99);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        show_status(how == 0 ? "by fd" : how == 1 ? "by dirfd and name" : "empty path", st);
    }
}

/* The thread's name (PR_SET_NAME) is the child's too after a fork. */
static void mode_fork_comm(void)
{
    CHECK(prctl(PR_SET_NAME, "renamed-proc") == 0);
    pid_t pid = xfork();
    if (pid == 0) {
        char name[17] = {0};
        CHECK(prctl(PR_GET_NAME, name) == 0);
        printf("child's name: %s\n", name);
        fflush(NULL);
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    show_status("child", st);
}

struct clone_args_v0 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static void mode_pidfd(void)
{
    int rel[2];
    xpipe(rel);
    pid_t pid = xfork();
    if (pid == 0) {
        await_release(rel);
        _exit(12);
    }
    close(rel[0]);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    CHECK(pfd >= 0);
    struct pollfd pf = { pfd, POLLIN, 0 };
    printf("poll(pidfd) while the child runs: %d\n", poll(&pf, 1, 0));
    close(rel[1]);
    pf.revents = 0;
    int ready = poll(&pf, 1, 5000);
    printf("poll(pidfd) after it exits: %d, POLLIN %s\n", ready, yesno(pf.revents & POLLIN));
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PIDFD, (id_t)pfd, &si, WEXITED) == 0);
    show_siginfo("waitid(P_PIDFD)", &si, pid);
    EXPECT_ERR("pidfd_send_signal to the reaped child", syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0), ESRCH);
    close(pfd);
    EXPECT_ERR("pidfd_open(reaped)", syscall(SYS_pidfd_open, pid, 0), ESRCH);

    /* clone3 with CLONE_PIDFD, like fork (no stack): the pidfd comes back in pidfd. */
    xpipe(rel);
    int cfd = -1;
    struct clone_args_v0 ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_PIDFD;
    ca.pidfd = (uint64_t)(uintptr_t)&cfd;
    ca.exit_signal = SIGCHLD;
    fflush(NULL);
    long r = syscall(SYS_clone3, &ca, sizeof ca);
    if (r == 0) {
        char c;
        close(rel[1]);
        while (read(rel[0], &c, 1) < 0 && errno == EINTR) {}
        syscall(SYS_exit_group, 99);
    }
    CHECK(r > 0);
    close(rel[0]);
    printf("clone3(CLONE_PIDFD) gave a pidfd: %s\n", yesno(cfd >= 0));
    CHECK(syscall(SYS_pidfd_send_signal, cfd, SIGTERM, NULL, 0) == 0);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PIDFD, (id_t)cfd, &si, WEXITED) == 0);
    show_siginfo("pidfd_send_signal(SIGTERM)", &si, (pid_t)r);
    close(rel[1]);
    close(cfd);
}

static void mode_clone(void)
{
    fflush(NULL);
    long r = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (r == 0)
        syscall(SYS_exit_group, 13);
    CHECK(r > 0);
    wait_show("clone(SIGCHLD)", (pid_t)r);

    r = syscall(SYS_clone, 0, 0, NULL, NULL, 0);       /* exit signal 0: a "clone" child */
    if (r == 0)
        syscall(SYS_exit_group, 14);
    CHECK(r > 0);
    int st;
    EXPECT_ERR("waitpid of a child with exit signal 0 (no __WALL)", waitpid((pid_t)r, &st, 0), ECHILD);
    CHECK(waitpid((pid_t)r, &st, __WALL) == r);
    show_status("waitpid(__WALL)", st);
}

static void mode_ppid(void)
{
    pid_t parent = getpid();
    pid_t pid = xfork();
    if (pid == 0) {
        printf("child: getppid()==parent's getpid(): %s\n", yesno(getppid() == parent));
        _exit(0);
    }
    wait_show("child", pid);

    /* An orphan: the middle process exits, the grandchild's parent changes. */
    int p[2];
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        close(p[0]);
        pid_t middle = getpid();
        pid_t g = xfork();
        if (g == 0) {
            int changed = 0;
            for (int i = 0; i < 5000 && !changed; i++) {
                changed = getppid() != middle;
                if (!changed)
                    msleep(1);
            }
            char msg[64];
            int n = snprintf(msg, sizeof msg, "orphan: getppid() changed: %s\n", yesno(changed));
            writeall(p[1], msg, (size_t)n);
            _exit(0);
        }
        _exit(0);
    }
    close(p[1]);
    wait_show("middle process", pid);
    char buf[128];
    size_t n = readall(p[0], buf, sizeof buf - 1);   /* EOF when the grandchild exited */
    buf[n] = 0;
    printf("%s", buf);
    int st;
    /*
     * The init of a PID namespace (pid 1: a torov guest, a container) gets the orphans;
     * another process does not. Silent when it holds, so that a run under torov (pid 1)
     * and a native one (not init) print the same.
     */
    if (getpid() == 1) {
        pid_t r = 0;
        for (int i = 0; i < 200 && (r = waitpid(-1, &st, WNOHANG)) <= 0; i++) usleep(5000);
        if (r <= 0) printf("init: the orphan was not given to us\n");
    } else if (waitpid(-1, &st, WNOHANG) != -1 || errno != ECHILD) {
        printf("the orphan became our child, yet we are neither init nor a subreaper\n");
    }
}

static void mode_subreaper(void)
{
    int v = -1;
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    CHECK(prctl(PR_GET_CHILD_SUBREAPER, &v) == 0);
    printf("PR_GET_CHILD_SUBREAPER: %d\n", v);
    pid_t me = getpid();
    int rel[2];
    xpipe(rel);
    pid_t pid = xfork();
    pid_t g = 0;
    if (pid == 0) {
        pid_t middle = getpid();
        g = xfork();
        if (g == 0) {
            await_release(rel);
            int changed = 0;
            for (int i = 0; i < 5000 && !changed; i++) {
                changed = getppid() != middle;
                if (!changed)
                    msleep(1);
            }
            _exit(getppid() == me ? 42 : 43);
        }
        _exit(0);
    }
    close(rel[0]);
    wait_show("middle process", pid);
    close(rel[1]);
    int st;
    pid_t r = waitpid(-1, &st, 0);
    printf("reaped the orphaned grandchild: %s\n", yesno(r > 0 && r != pid));
    show_status("grandchild (42: its parent became us)", st);
    EXPECT_ERR("nothing left", waitpid(-1, &st, 0), ECHILD);
}

static volatile sig_atomic_t usr_count;
static void count_sig(int sig) { (void)sig; usr_count++; }

static void mode_pgrp(const char *prog)
{
    pid_t me = getpid();
    printf("getpgrp()==getpgid(0): %s\n", yesno(getpgrp() == getpgid(0)));
    printf("getsid(0)==getsid(getpid()): %s\n", yesno(getsid(0) == getsid(me)));
    /* A group of our own, so that kill(0) reaches only us and our children. */
    own_group();
    printf("setpgid(0, 0): getpgrp()==getpid(): %s\n", yesno(getpgrp() == me));
    pid_t sid = getsid(0);

    int rel[2];
    xpipe(rel);
    pid_t pid = xfork();
    if (pid == 0) {
        printf("child: in the parent's group: %s, session: %s\n", yesno(getpgrp() == me), yesno(getsid(0) == sid));
        CHECK(setpgid(0, 0) == 0);
        printf("child: setpgid(0, 0): getpgid(0)==getpid(): %s\n", yesno(getpgid(0) == getpid()));
        EXPECT_ERR("child: setsid() as a group leader", setsid(), EPERM);
        CHECK(setpgid(0, me) == 0);
        printf("child: setpgid(0, parent's group): back in it: %s\n", yesno(getpgrp() == me));
        _exit(0);
    }
    wait_show("child", pid);

    int ready[2];
    xpipe(ready);
    pid = xfork();
    if (pid == 0) {
        close(ready[0]);
        pid_t s = setsid();
        printf("child: setsid()==getpid(): %s, getsid(0)==getpid(): %s, getpgrp()==getpid(): %s\n",
               yesno(s == getpid()), yesno(getsid(0) == getpid()), yesno(getpgrp() == getpid()));
        EXPECT_ERR("child: setsid() again", setsid(), EPERM);
        EXPECT_ERR("child: setpgid(0, group in the old session)", setpgid(0, me), EPERM);
        fflush(NULL);
        writeall(ready[1], "r", 1);
        await_release(rel);
        _exit(0);
    }
    close(ready[1]);
    char c1;
    CHECK(readall(ready[0], &c1, 1) == 1);
    close(ready[0]);
    printf("parent: getsid(child)==child: %s, getpgid(child)==child: %s\n", yesno(getsid(pid) == pid), yesno(getpgid(pid) == pid));
    EXPECT_ERR("parent: setpgid(session leader child, our group)", setpgid(pid, me), EPERM);
    EXPECT_ERR("parent: setpgid(0, the child's group in another session)", setpgid(0, pid), EPERM);
    close(rel[1]);
    close(rel[0]);
    wait_show("session leader child", pid);

    EXPECT_ERR("setpgid(0, -1)", setpgid(0, -1), EINVAL);
    EXPECT_ERR("setpgid(reaped child, 0)", setpgid(pid, 0), ESRCH);
    EXPECT_ERR("setpgid(0, a group that does not exist)", setpgid(0, pid), EPERM);
    EXPECT_ERR("getpgid(reaped child)", getpgid(pid), ESRCH);
    EXPECT_ERR("kill(-reaped child's group, 0)", kill(-pid, 0), ESRCH);

    /* kill(-pgid): a group of two children, not us. */
    set_handler(SIGUSR1, count_sig, 0);
    xpipe(ready);
    xpipe(rel);
    block(SIGUSR1, SIG_BLOCK);
    pid_t a = xfork();
    if (a == 0) {
        setpgid(0, 0);
        close(ready[0]);
        writeall(ready[1], "a", 1);
        sigset_t empty;
        sigemptyset(&empty);
        while (!usr_count)
            sigsuspend(&empty);
        _exit(11);
    }
    setpgid(a, a);
    pid_t b = xfork();
    if (b == 0) {
        setpgid(0, a);
        close(ready[0]);
        writeall(ready[1], "b", 1);
        sigset_t empty;
        sigemptyset(&empty);
        while (!usr_count)
            sigsuspend(&empty);
        _exit(12);
    }
    setpgid(b, a);
    close(ready[1]);
    char two[2];
    CHECK(readall(ready[0], two, 2) == 2);
    close(ready[0]);
    printf("getpgid(a)==a: %s, getpgid(b)==a: %s\n", yesno(getpgid(a) == a), yesno(getpgid(b) == a));
    CHECK(kill(-a, SIGUSR1) == 0);
    wait_show("a", a);
    wait_show("b", b);
    block(SIGUSR1, SIG_UNBLOCK);
    printf("SIGUSR1 reached the parent: %d time(s)\n", (int)usr_count);

    /* kill(0): our group, which holds us and a child. */
    set_handler(SIGUSR2, count_sig, 0);
    usr_count = 0;
    xpipe(ready);
    block(SIGUSR2, SIG_BLOCK);
    pid_t c = xfork();
    if (c == 0) {
        close(ready[0]);
        writeall(ready[1], "c", 1);
        sigset_t empty;
        sigemptyset(&empty);
        while (!usr_count)
            sigsuspend(&empty);
        _exit(21);
    }
    close(ready[1]);
    CHECK(readall(ready[0], two, 1) == 1);
    close(ready[0]);
    block(SIGUSR2, SIG_UNBLOCK);
    CHECK(kill(0, SIGUSR2) == 0);
    printf("kill(0, SIGUSR2): the parent's handler ran %d time(s)\n", (int)usr_count);
    wait_show("c", c);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);

    /* setpgid of a child that has exec'd: EACCES. The exec is seen as EOF on a
       close-on-exec pipe. */
    int execd[2], hold[2];
    CHECK(pipe2(execd, O_CLOEXEC) == 0);
    xpipe(hold);
    pid = xfork();
    if (pid == 0) {
        close(execd[0]);
        close(hold[1]);
        char *fd = num(hold[0]);
        execl(prog, prog, "block-read", fd, (char *)NULL);
        _exit(127);
    }
    close(execd[1]);
    close(hold[0]);
    CHECK(readall(execd[0], &c1, 1) == 0);
    close(execd[0]);
    EXPECT_ERR("setpgid(child after its exec)", setpgid(pid, pid), EACCES);
    close(hold[1]);
    wait_show("exec'd child", pid);
}

static void mode_vfork_exec(const char *prog)
{
    static volatile int shared;
    static volatile int exec_errno;
    char *av[] = { (char *)prog, "echo-args", "vforked", "two words", NULL };
    char *ev[] = { "PROCS_VAR=from-vfork", NULL };
    fflush(NULL);
    pid_t pid = vfork();
    if (pid == 0) {
        shared = 1;
        struct timespec ts = { 0, 30 * 1000000L };
        nanosleep(&ts, NULL);      /* the parent stays suspended meanwhile */
        shared = 2;
        execve(prog, av, ev);
        _exit(127);
    }
    CHECK(pid > 0);
    int seen = shared;             /* printed after the wait: the child prints meanwhile */
    wait_show("vforked child", pid);
    printf("vfork: the parent resumed after the child's exec, seeing its last store: %s\n", yesno(seen == 2));

    fflush(NULL);
    pid = vfork();
    if (pid == 0)
        _exit(9);
    wait_show("vfork then _exit(9)", pid);

    char *bad[] = { "/nonexistent/prog", NULL };
    fflush(NULL);
    pid = vfork();
    if (pid == 0) {
        execve(bad[0], bad, ev);
        exec_errno = errno;
        _exit(127);
    }
    printf("a failed exec's errno seen through the shared memory: %s\n", errname(exec_errno));
    wait_show("vfork with a failed exec", pid);
}

static volatile unsigned long spin_count;
static volatile int spin_stop;
static void *spinner(void *arg)
{
    (void)arg;
    while (!spin_stop)
        spin_count++;
    return NULL;
}

static void mode_vfork_shared(const char *prog)
{
    static char *volatile child_map;
    static volatile int last;

    /* A mapping made by the vfork child is in the parent's memory. */
    fflush(NULL);
    pid_t pid = vfork();
    if (pid == 0) {
        char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED)
            strcpy(m, "written by the vfork child");
        child_map = m;
        _exit(0);
    }
    wait_show("vfork child that maps a page", pid);
    printf("the child's mapping, read by the parent: %s\n",
           child_map && child_map != MAP_FAILED ? child_map : "(none)");

    /* A second thread keeps running (and writing memory) while the first one is suspended. */
    pthread_t th;
    CHECK(pthread_create(&th, NULL, spinner, NULL) == 0);
    char *av[] = { (char *)prog, "quiet-exit", "0", NULL };
    char *ev[] = { NULL };
    volatile int bad = 0;
    unsigned long before = spin_count;
    for (volatile int i = 1; i <= 20; i++) {
        fflush(NULL);
        pid = vfork();
        if (pid == 0) {
            last = i;
            execve(prog, av, ev);
            _exit(127);
        }
        if (last != i)
            bad++;
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
    }
    spin_stop = 1;
    pthread_join(th, NULL);
    printf("20 vforks from a threaded parent: stores seen and exits clean: %s\n", yesno(bad == 0));
    printf("the other thread ran meanwhile: %s\n", yesno(spin_count > before));

    /* The parent is killed while its vfork child runs: the child goes on, and execs or exits. */
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    for (volatile int exits = 0; exits <= 1; exits++) {
    fflush(NULL);
    pid_t middle = xfork();
    if (middle == 0) {
        pid_t c = vfork();
        if (c == 0) {
            char *av2[] = { (char *)prog, "echo-args", "orphaned vfork child", NULL };
            kill(getppid(), SIGKILL);
            last = 100;                   /* the dead parent's memory, still the child's */
            struct timespec ts = { 0, 20 * 1000000L };
            nanosleep(&ts, NULL);
            if (last == 100 && exits)
                _exit(5);
            if (last == 100)
                execve(prog, av2, ev);
            _exit(127);
        }
        _exit(3);                         /* not reached: killed in vfork */
    }
    wait_show("the vfork parent, killed while its child ran", middle);
    int st;
    CHECK(wait(&st) > 0);
    show_status(exits ? "its orphaned vfork child that exits, reaped by the subreaper"
                      : "its orphaned vfork child that execs, reaped by the subreaper", st);
    }
}

static void mode_exec_self(const char *prog)
{
    printf("exec-self: before exec\n");
    fflush(NULL);
    execl(prog, prog, "check-pid", num(getpid()), num(getppid()), (char *)NULL);
    FAIL("execl");
}

static const char *et_prog;
static int et_hold[2], et_go[2];

static void *reader_thread(void *a)
{
    (void)a;
    char c;
    while (read(et_hold[0], &c, 1) < 0 && errno == EINTR) {}
    return NULL;
}

static void *exec_thread(void *a)
{
    (void)a;
    char c;
    CHECK(readall(et_go[0], &c, 1) == 1);
    msleep(10);                    /* main is blocked in pthread_join by now, most likely */
    fflush(NULL);
    execl(et_prog, et_prog, "check-pid", num(getpid()), num(getppid()), (char *)NULL);
    FAIL("execl from a thread");
}

static void mode_exec_thread(const char *prog)
{
    pthread_t r, e;
    et_prog = prog;
    xpipe(et_hold);
    xpipe(et_go);
    CHECK(pthread_create(&r, NULL, reader_thread, NULL) == 0);
    CHECK(pthread_create(&e, NULL, exec_thread, NULL) == 0);
    printf("exec-thread: threads before exec=%d\n", thread_count());
    writeall(et_go[1], "g", 1);
    pthread_join(e, NULL);         /* blocked here when the other thread execs */
    FAIL("exec_thread returned");
}

static void make_file(const char *dir, const char *name, const void *data, size_t n, mode_t mode, char *path)
{
    sprintf(path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        FAIL("create %s", path);
    writeall(fd, data, n);
    CHECK(fchmod(fd, mode) == 0);
    CHECK(close(fd) == 0);
}

static void mode_exec_errors(const char *prog, const char *dir)
{
    char path[4096 + 64];
    char *ev[] = { "PROCS_VAR=x", NULL };
    char *av[] = { "prog", NULL };
    char text[4096 + 64], empty[4096 + 64], noexec[4096 + 64], badinterp[4096 + 64], trunc[4096 + 64], loop[4096 + 64];

    EXPECT_ERR("missing file", execve("/nonexistent/prog", av, ev), ENOENT);
    EXPECT_ERR("a directory", execve(dir, av, ev), EACCES);
    make_file(dir, "text", "just some text\n", 15, 0755, text);
    EXPECT_ERR("text without #!", execve(text, av, ev), ENOEXEC);
    make_file(dir, "empty", "", 0, 0755, empty);
    EXPECT_ERR("an empty file", execve(empty, av, ev), ENOEXEC);
    make_file(dir, "noexec", "#!/bin/sh\necho hi\n", 18, 0644, noexec);
    EXPECT_ERR("no execute permission", execve(noexec, av, ev), EACCES);
    make_file(dir, "badinterp", "#!/nonexistent/interp\n", 22, 0755, badinterp);
    EXPECT_ERR("#! with a missing interpreter", execve(badinterp, av, ev), ENOENT);
    {
        char head[100];
        int fd = open(prog, O_RDONLY);
        CHECK(fd >= 0 && readall(fd, head, sizeof head) == sizeof head);
        close(fd);
        make_file(dir, "trunc", head, sizeof head, 0755, trunc);
        errno = 0;
        long r = execve(trunc, av, ev);
        printf("an ELF cut after 100 bytes: %s\n", r == -1 ? errname(errno) : "executed?");
    }
    sprintf(loop, "%s/loop", dir);
    CHECK(symlink("loop", loop) == 0);
    EXPECT_ERR("a symlink loop", execve(loop, av, ev), ELOOP);
    sprintf(path, "%s/x", prog);
    EXPECT_ERR("a file as a directory", execve(path, av, ev), ENOTDIR);
    memset(path, 'a', 4096 + 10);
    path[0] = '/';
    path[4096 + 10] = 0;
    EXPECT_ERR("a path longer than PATH_MAX", execve(path, av, ev), ENAMETOOLONG);
    EXPECT_ERR("a bad path pointer", syscall(SYS_execve, BAD, av, ev), EFAULT);
    EXPECT_ERR("a bad argv pointer", syscall(SYS_execve, prog, BAD, ev), EFAULT);
    EXPECT_ERR("a bad envp pointer", syscall(SYS_execve, prog, av, BAD), EFAULT);
    char *badargv[] = { "prog", BAD, NULL };
    EXPECT_ERR("a bad pointer in argv", syscall(SYS_execve, prog, badargv, ev), EFAULT);

    enum { ONE = 200 * 1024, PIECE = 64 * 1024, PIECES = 128 };
    char *huge = malloc(ONE + 1);
    CHECK(huge);
    memset(huge, 'x', ONE);
    huge[ONE] = 0;
    char *one[] = { "prog", huge, NULL };
    EXPECT_ERR("one 200 KiB argument", execve(prog, one, ev), E2BIG);
    huge[PIECE] = 0;
    char **many = calloc(PIECES + 2, sizeof *many);
    CHECK(many);
    many[0] = "prog";
    for (int i = 1; i <= PIECES; i++)
        many[i] = huge;
    EXPECT_ERR("8 MiB of 64 KiB arguments", execve(prog, many, ev), E2BIG);
    char **manyenv = calloc(PIECES + 1, sizeof *manyenv);
    CHECK(manyenv);
    huge[0] = 'V';
    huge[1] = '=';
    for (int i = 0; i < PIECES; i++)
        manyenv[i] = huge;
    EXPECT_ERR("8 MiB of environment", execve(prog, av, manyenv), E2BIG);
    free(many);
    free(manyenv);
    free(huge);

    const char *made[] = { text, empty, noexec, badinterp, trunc, loop };
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
        CHECK(unlink(made[i]) == 0);
    printf("still running after the failed execs; now a good one\n");
    fflush(NULL);
    execl(prog, prog, "echo-args", "after the errors", (char *)NULL);
    FAIL("execl");
}

static void mode_shebang(const char *prog, const char *dir)
{
    char script[4200], script2[4200], spaced[4200], line[4200];
    int n = snprintf(line, sizeof line, "#!%s echo-args\nthe kernel never reads this\n", prog);
    make_file(dir, "script", line, (size_t)n, 0755, script);
    n = snprintf(line, sizeof line, "#!  %s   echo-args  \t\n", prog);
    make_file(dir, "spaced", line, (size_t)n, 0755, spaced);
    n = snprintf(line, sizeof line, "#!%s\n", script);
    make_file(dir, "script2", line, (size_t)n, 0755, script2);
    char *ev[] = { "PROCS_VAR=script", NULL };
    const char *runs[] = { script, spaced, script2 };
    for (int i = 0; i < 3; i++) {
        pid_t pid = xfork();
        if (pid == 0) {
            char *av[] = { "argv0-is-replaced", "a1", "a 2", NULL };
            execve(runs[i], av, ev);
            FAIL("execve %s", runs[i]);
        }
        wait_show(base_name(runs[i]), pid);
    }
    CHECK(unlink(script) == 0 && unlink(spaced) == 0 && unlink(script2) == 0);
}

static void mode_cloexec(const char *prog)
{
    int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int b = open("/dev/null", O_RDONLY);
    int c = open("/dev/null", O_RDONLY);
    CHECK(a >= 0 && b >= 0 && c >= 0);
    CHECK(fcntl(c, F_SETFD, FD_CLOEXEC) == 0);
    int d = fcntl(b, F_DUPFD_CLOEXEC, 20);
    int e = dup2(a, 30);               /* dup2 gives a descriptor without FD_CLOEXEC */
    int f = dup3(b, 31, O_CLOEXEC);
    int p[2];
    CHECK(d >= 0 && e == 30 && f == 31 && pipe2(p, O_CLOEXEC) == 0);
    char arg[8][32];
    snprintf(arg[0], 32, "O_CLOEXEC=%d", a);
    snprintf(arg[1], 32, "plain=%d", b);
    snprintf(arg[2], 32, "FD_CLOEXEC-by-fcntl=%d", c);
    snprintf(arg[3], 32, "F_DUPFD_CLOEXEC=%d", d);
    snprintf(arg[4], 32, "dup2-of-cloexec=%d", e);
    snprintf(arg[5], 32, "dup3-O_CLOEXEC=%d", f);
    snprintf(arg[6], 32, "pipe2-read=%d", p[0]);
    snprintf(arg[7], 32, "pipe2-write=%d", p[1]);
    pid_t pid = xfork();
    if (pid == 0) {
        execl(prog, prog, "fd-check", arg[0], arg[1], arg[2], arg[3], arg[4], arg[5], arg[6], arg[7], (char *)NULL);
        FAIL("execl");
    }
    wait_show("fd-check", pid);
    int all = 1;
    const int fds[] = { a, b, c, d, e, f, p[0], p[1] };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        all &= fcntl(fds[i], F_GETFD) >= 0;
    printf("the parent's descriptors are all still open: %s\n", yesno(all));
}

static void mode_exec_state(const char *prog)
{
    pid_t me = getpid();
    pid_t pid = xfork();
    if (pid != 0) {
        wait_show("exec-check", pid);
        return;
    }
    umask(027);
    CHECK(chdir("/") == 0);
    set_handler(SIGUSR1, on_usr1, 0);
    signal(SIGUSR2, SIG_IGN);
    block(SIGTERM, SIG_BLOCK);
    raise(SIGTERM);
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rl.rlim_cur = 200;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    static char altstack[1 << 16];
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
    CHECK(sigaltstack(&ss, NULL) == 0);
    alarm(100);
    /* comm becomes the file's name (not argv[0], which is made different here). */
    char comm[16];
    snprintf(comm, sizeof comm, "%s", base_name(prog));
    execl(prog, "argv0-differs", "exec-check", num(me), comm, (char *)NULL);
    FAIL("execl");
}

static void mode_posix_spawn(const char *prog)
{
    pid_t pid;
    char *av[] = { (char *)prog, "echo-args", "spawned", "x y", NULL };
    char *ev[] = { "PROCS_VAR=from-spawn", NULL };
    fflush(NULL);
    int e = posix_spawn(&pid, prog, NULL, NULL, av, ev);
    CHECK(e == 0);
    wait_show("posix_spawn", pid);

    fflush(NULL);
    char *missing[] = { "/nonexistent/prog", NULL };
    e = posix_spawn(&pid, missing[0], NULL, NULL, missing, ev);
    printf("posix_spawn of a missing file: %s\n", errname(e));
    int st;
    EXPECT_ERR("  and no child is left", waitpid(-1, &st, WNOHANG), ECHILD);

    /* stdout to a pipe (adddup2), the read end closed in the child (addclose). */
    int p[2];
    xpipe(p);
    posix_spawn_file_actions_t fa;
    CHECK(posix_spawn_file_actions_init(&fa) == 0);
    CHECK(posix_spawn_file_actions_adddup2(&fa, p[1], 1) == 0);
    CHECK(posix_spawn_file_actions_addclose(&fa, p[0]) == 0);
    char *av2[] = { (char *)prog, "echo-args", "through a pipe", NULL };
    fflush(NULL);
    CHECK(posix_spawn(&pid, prog, &fa, NULL, av2, ev) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    char buf[512];
    size_t n = readall(p[0], buf, sizeof buf - 1);
    buf[n] = 0;
    close(p[0]);
    printf("read from the child's stdout:\n%s", buf);
    wait_show("spawned with a pipe", pid);

    CHECK(posix_spawn_file_actions_init(&fa) == 0);
    CHECK(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) == 0);
    fflush(NULL);
    CHECK(posix_spawn(&pid, prog, &fa, NULL, av2, ev) == 0);
    posix_spawn_file_actions_destroy(&fa);
    wait_show("spawned with stdout on /dev/null (nothing printed)", pid);

    CHECK(posix_spawn_file_actions_init(&fa) == 0);
    CHECK(posix_spawn_file_actions_addopen(&fa, 5, "/nonexistent/file", O_RDONLY, 0) == 0);
    fflush(NULL);
    e = posix_spawn(&pid, prog, &fa, NULL, av2, ev);
    posix_spawn_file_actions_destroy(&fa);
    printf("a file action that fails: %s\n", errname(e));
    EXPECT_ERR("  and no child is left", waitpid(-1, &st, WNOHANG), ECHILD);

    posix_spawnattr_t at;
    CHECK(posix_spawnattr_init(&at) == 0);
    CHECK(posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP) == 0);
    CHECK(posix_spawnattr_setpgroup(&at, 0) == 0);
    char *av3[] = { (char *)prog, "pgid-self", NULL };
    fflush(NULL);
    CHECK(posix_spawn(&pid, prog, NULL, &at, av3, ev) == 0);
    posix_spawnattr_destroy(&at);
    wait_show("POSIX_SPAWN_SETPGROUP", pid);

    /* SIGUSR1 ignored here, default in the child; SIGUSR2 blocked in the child only. */
    signal(SIGUSR1, SIG_IGN);
    sigset_t def, mask;
    sigemptyset(&def);
    sigaddset(&def, SIGUSR1);
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    CHECK(posix_spawnattr_init(&at) == 0);
    CHECK(posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) == 0);
    CHECK(posix_spawnattr_setsigdefault(&at, &def) == 0);
    CHECK(posix_spawnattr_setsigmask(&at, &mask) == 0);
    char *av4[] = { (char *)prog, "sig-state", NULL };
    fflush(NULL);
    CHECK(posix_spawn(&pid, prog, NULL, &at, av4, ev) == 0);
    posix_spawnattr_destroy(&at);
    wait_show("SETSIGDEF and SETSIGMASK", pid);
    fflush(NULL);
    CHECK(posix_spawn(&pid, prog, NULL, NULL, av4, ev) == 0);
    wait_show("without them (SIGUSR1 ignored here)", pid);
    signal(SIGUSR1, SIG_DFL);

    /* posix_spawnp: the file name found through PATH. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", prog);
    *strrchr(dir, '/') = 0;
    CHECK(setenv("PATH", dir, 1) == 0);
    char *av5[] = { (char *)base_name(prog), "echo-args", "found in PATH", NULL };
    fflush(NULL);
    e = posix_spawnp(&pid, base_name(prog), NULL, NULL, av5, ev);
    CHECK(e == 0);
    wait_show("posix_spawnp", pid);
    fflush(NULL);
    e = posix_spawnp(&pid, "procs-not-there", NULL, NULL, av5, ev);
    printf("posix_spawnp of a name not in PATH: %s\n", errname(e));
}

static void mode_pipeline(const char *prog)
{
    int p[2];
    xpipe(p);
    pid_t w = xfork();
    if (w == 0) {
        CHECK(dup2(p[1], 1) == 1);
        close(p[0]);
        close(p[1]);
        execl(prog, prog, "echo-args", "down the pipeline", (char *)NULL);
        FAIL("execl");
    }
    pid_t r = xfork();
    if (r == 0) {
        CHECK(dup2(p[0], 0) == 0);
        close(p[0]);
        close(p[1]);
        execl(prog, prog, "upper", (char *)NULL);
        FAIL("execl");
    }
    close(p[0]);
    close(p[1]);
    wait_show("reader", r);        /* it ends after the writer: its output is all out */
    wait_show("writer", w);
}

static void mode_system(void)
{
    static const char *cmds[] = { "echo hi from system", "exit 7", "echo \"$0 $#\"; kill -USR1 $$; echo survived" };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        fflush(NULL);
        int st = system(cmds[i]);
        if (st == -1)
            FAIL("system(\"%s\")", cmds[i]);
        char what[160];
        snprintf(what, sizeof what, "system(\"%s\")", cmds[i]);
        show_status(what, st);
    }
    fflush(NULL);
    printf("system(NULL) says a shell exists: %s\n", yesno(system(NULL) != 0));
    int st;
    EXPECT_ERR("no child is left", waitpid(-1, &st, WNOHANG), ECHILD);
}

static void mode_popen(void)
{
    char line[256];
    fflush(NULL);
    FILE *f = popen("echo from popen; echo line two", "r");
    CHECK(f);
    while (fgets(line, sizeof line, f))
        printf("read: %s", line);
    int st = pclose(f);
    if (st == -1)
        FAIL("pclose");
    show_status("pclose(\"r\")", st);
    fflush(NULL);
    f = popen("read l; echo \"the shell got: $l\"; exit 5", "w");
    CHECK(f);
    fputs("written to popen\n", f);
    st = pclose(f);
    if (st == -1)
        FAIL("pclose");
    show_status("pclose(\"w\")", st);
    EXPECT_ERR("no child is left", waitpid(-1, &st, WNOHANG), ECHILD);
}

/* HOSTILE: never natively. Forks until fork fails (torov --pids bounds it; the cap is a
   last resort), then releases and reaps every child. */
static void mode_forkbomb(void)
{
    enum { CAP = 1024 };
    if (!getenv("PROCS_HOSTILE")) {
        fprintf(stderr, "procs forkbomb: hostile, runs only under torov with PROCS_HOSTILE=1 in its environment\n");
        exit(2);
    }
    int rel[2];
    xpipe(rel);
    int created = 0, err = 0;
    fflush(NULL);
    while (created < CAP) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            char c;
            close(rel[1]);
            while (read(rel[0], &c, 1) < 0 && errno == EINTR) {}
            _exit(0);
        }
        created++;
    }
    if (err)
        printf("fork failed: %s\n", errname(err));
    else
        printf("fork never failed in %d tries\n", CAP);
    printf("created some children: %s\n", yesno(created > 0));
    close(rel[1]);
    int reaped = 0, st, bad = 0;
    pid_t r;
    while ((r = wait(&st)) > 0 || errno == EINTR)
        if (r > 0) {
            reaped++;
            bad += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
    printf("wait ended with %s\n", errname(errno));
    printf("reaped == created: %s, all exited 0: %s\n", yesno(reaped == created), yesno(bad == 0));
    pid_t pid = xfork();
    if (pid == 0)
        _exit(0);
    wait_show("a fork after reaping them all", pid);
    printf("created=%d\n", created);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *a2 = argc > 2 ? argv[2] : NULL, *a3 = argc > 3 ? argv[3] : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
#define IS(m) (!strcmp(mode, m))
#define NEED(x) do { if (!(x)) { fprintf(stderr, "procs %s: missing argument\n", mode); return 2; } } while (0)
    if (IS("echo-args")) return mode_echo_args(argc, argv);
    if (IS("quiet-exit")) return a2 ? atoi(a2) : 0;
    if (IS("check-pid")) { NEED(a3); return mode_check_pid(a2, a3); }
    if (IS("fd-check")) return mode_fd_check(argc, argv);
    if (IS("exec-check")) { NEED(a3); return mode_exec_check(a2, a3); }
    if (IS("sig-state")) return mode_sig_state();
    if (IS("pgid-self")) { printf("pgid-self: getpgrp()==getpid(): %s\n", yesno(getpgrp() == getpid())); return 0; }
    if (IS("block-read")) { NEED(a2); return mode_block_read(a2); }
    if (IS("upper")) return mode_upper();

    if (IS("fork-pipe")) mode_fork_pipe();
    else if (IS("wait-signal")) mode_wait_signal();
    else if (IS("wait-stop")) mode_wait_stop();
    else if (IS("job-control")) mode_job_control();
    else if (IS("stop-eintr")) mode_stop_eintr();
    else if (IS("stop-forever")) mode_stop_forever();   /* torov only */
    else if (IS("wnohang")) mode_wnohang();
    else if (IS("echild")) mode_echild();
    else if (IS("waitid")) mode_waitid();
    else if (IS("zombie")) mode_zombie();
    else if (IS("sigchld")) mode_sigchld();
    else if (IS("wait-any")) mode_wait_any();
    else if (IS("wait-pgrp")) mode_wait_pgrp();
    else if (IS("exit-status")) mode_exit_status();
    else if (IS("nested")) mode_nested();
    else if (IS("fork-mem")) mode_fork_mem();
    else if (IS("fork-fds")) mode_fork_fds();
    else if (IS("fork-signals")) mode_fork_signals();
    else if (IS("fork-thread")) mode_fork_thread();
    else if (IS("rusage")) mode_rusage();
    else if (IS("exec-at")) { NEED(a2); mode_exec_at(a2); }
    else if (IS("fork-comm")) mode_fork_comm();
    else if (IS("pidfd")) mode_pidfd();
    else if (IS("clone")) mode_clone();
    else if (IS("ppid")) mode_ppid();
    else if (IS("subreaper")) mode_subreaper();
    else if (IS("pgrp")) { NEED(a2); mode_pgrp(a2); }
    else if (IS("vfork-exec")) { NEED(a2); mode_vfork_exec(a2); }
    else if (IS("vfork-shared")) { NEED(a2); mode_vfork_shared(a2); }
    else if (IS("exec-self")) { NEED(a2); mode_exec_self(a2); }
    else if (IS("exec-thread")) { NEED(a2); mode_exec_thread(a2); }
    else if (IS("exec-errors")) { NEED(a3); mode_exec_errors(a2, a3); }
    else if (IS("shebang")) { NEED(a3); mode_shebang(a2, a3); }
    else if (IS("cloexec")) { NEED(a2); mode_cloexec(a2); }
    else if (IS("exec-state")) { NEED(a2); mode_exec_state(a2); }
    else if (IS("posix-spawn")) { NEED(a2); mode_posix_spawn(a2); }
    else if (IS("pipeline")) { NEED(a2); mode_pipeline(a2); }
    else if (IS("system")) mode_system();
    else if (IS("popen")) mode_popen();
    else if (IS("forkbomb")) mode_forkbomb();   /* hostile: torov only */
    else {
        fprintf(stderr, "usage: procs MODE [ARGS] (the modes are listed in procs.c)\n");
        return 2;
    }
    return 0;
}
