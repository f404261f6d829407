/**
 * The data behind the VMM's seccomp filter (src/sandbox/seccomp.ts builds the BPF from it):
 * every host syscall the VMM process may make once its guest runs, each with the reason.
 *
 * Two parts, as Firecracker keeps one rule list per thread kind, each rule a syscall, optional
 * argument conditions and a comment:
 * - RUNTIME: what Node.js 20, V8, libuv, glibc, koffi and torov's own VM loop need whatever
 *   the guest does. Found by tracing real runs (`strace -f` from the first KVM_RUN to the end,
 *   guests of every kind, stdio on pipes, files and terminals, one and several VMs in one
 *   process) and by reading src/vmm, src/machine and src/kvm. Everything Node does only at
 *   start-up (loading modules, creating threads, opening /dev/kvm) happens before the filter
 *   and is not here.
 * - GUEST: for each guest syscall that has a handler, the host syscalls that handler makes
 *   (read from src/syscalls/*.ts; test/unit/seccomp.test.ts fails when a handler file uses
 *   a HOST.<name> that no rule lists). The filter takes these only for the guest syscalls the
 *   policy allows or logs: a guest syscall the policy denies or kills never reaches its
 *   handler, so its host calls stay forbidden.
 * Host calls that many guest rules share (close on an fd-table error path, mmap/madvise of
 * the guest window) are also runtime rules; they are listed in both places so that each
 * guest rule reads complete on its own.
 *
 * An ioctl is allowed only for the listed request numbers (args[1]), named here.
 */
import type { SyscallName } from '../linux/syscalls';
import {
  KVM_RUN, KVM_GET_SREGS, KVM_SET_SREGS, KVM_SET_REGS, KVM_GET_REGS, KVM_SET_MSRS, KVM_SET_CPUID2, KVM_SET_XCRS,
  KVM_SET_XSAVE, KVM_SET_VCPU_EVENTS, KVM_SET_DEBUGREGS, KVM_GET_DEBUGREGS, KVM_SET_USER_MEMORY_REGION,
  KVM_CREATE_VM, KVM_CREATE_VCPU, KVM_GET_SUPPORTED_CPUID, KVM_SET_GUEST_DEBUG, KVM_GET_FPU, KVM_SET_FPU,
  KVM_GET_MSRS, KVM_GET_TSC_KHZ, KVM_GET_XSAVE,
} from '../kvm/kvm';
import { PR_SET_NAME } from '../linux/prctl';
import { WRITE_TRACK_IOCTLS } from '../machine/write-track';
import { FIOASYNC, FIONBIO, FIONREAD, TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGPGRP, TIOCGSID, TIOCGWINSZ, TIOCSWINSZ } from '../linux/ioctl';

/**
 * seccomp_data.args[arg] must equal `value` (all 64 bits). `'pid'` stands for the VMM's own
 * process id, filled in when the filter is built. `name` is what the number means (shown).
 */
export interface ArgEq {
  readonly arg: 0 | 1 | 2 | 3 | 4 | 5;
  readonly value: number | 'pid';
  readonly name: string;
}

/** One allowed host syscall: all its conditions must hold (none: any arguments). */
export interface HostRule {
  readonly syscall: SyscallName;
  readonly args?: readonly ArgEq[];
  readonly why: string;
  /** Refused with this errno instead of allowed (the caller has a fallback; the process is not killed). */
  readonly errno?: number;
}

/** Runtime rules with a common purpose. */
export interface RuleGroup {
  readonly name: string;
  readonly why: string;
  readonly rules: readonly HostRule[];
}

/** Terminal ioctl request numbers (src/linux/ioctl.ts), by name. */
export const TTY_IOCTLS = {
  TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGPGRP, TIOCGWINSZ, TIOCSWINSZ, FIONREAD, FIONBIO, TIOCGSID, FIOASYNC,
} as const;

/** Ioctl request numbers by name, for display (KVM's and the terminal ones). */
export const IOCTL_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [KVM_RUN, 'KVM_RUN'], [KVM_GET_REGS, 'KVM_GET_REGS'], [KVM_SET_REGS, 'KVM_SET_REGS'],
  [KVM_GET_SREGS, 'KVM_GET_SREGS'], [KVM_SET_SREGS, 'KVM_SET_SREGS'], [KVM_SET_MSRS, 'KVM_SET_MSRS'],
  [KVM_SET_CPUID2, 'KVM_SET_CPUID2'], [KVM_SET_XCRS, 'KVM_SET_XCRS'], [KVM_SET_XSAVE, 'KVM_SET_XSAVE'], [KVM_GET_XSAVE, 'KVM_GET_XSAVE'],
  [KVM_SET_VCPU_EVENTS, 'KVM_SET_VCPU_EVENTS'], [KVM_SET_DEBUGREGS, 'KVM_SET_DEBUGREGS'],
  [KVM_GET_DEBUGREGS, 'KVM_GET_DEBUGREGS'], [KVM_SET_USER_MEMORY_REGION, 'KVM_SET_USER_MEMORY_REGION'],
  [KVM_CREATE_VM, 'KVM_CREATE_VM'], [KVM_CREATE_VCPU, 'KVM_CREATE_VCPU'], [KVM_GET_SUPPORTED_CPUID, 'KVM_GET_SUPPORTED_CPUID'],
  [KVM_SET_GUEST_DEBUG, 'KVM_SET_GUEST_DEBUG'], [KVM_GET_FPU, 'KVM_GET_FPU'], [KVM_SET_FPU, 'KVM_SET_FPU'],
  [KVM_GET_MSRS, 'KVM_GET_MSRS'], [KVM_GET_TSC_KHZ, 'KVM_GET_TSC_KHZ'],
  ...Object.entries(TTY_IOCTLS).map(([n, v]) => [v, n] as [number, string]),
  ...Object.entries(WRITE_TRACK_IOCTLS).map(([n, v]) => [v, n] as [number, string]),
]);

/** An ioctl rule for one request number. */
function ioctl(request: number, why: string): HostRule {
  return { syscall: 'ioctl', args: [{ arg: 1, value: request, name: IOCTL_NAMES.get(request) ?? `0x${request.toString(16)}` }], why };
}

/** What Node.js, V8, libuv, glibc, koffi and the VM loop need while (and after) a guest runs. */
export const RUNTIME_GROUPS: readonly RuleGroup[] = [
  {
    name: 'kvm',
    why: 'ioctls on the VMM\'s own /dev/kvm, VM and vCPU fds, by request number',
    rules: [
      ioctl(KVM_RUN, 'runs the vCPU until its next exit: once per guest syscall (first in the filter: the hottest call)'),
      ioctl(KVM_GET_SREGS, 'the first syscall\'s privilege-level probe, CR2 of a page fault, the template of a new vCPU'),
      ioctl(KVM_SET_MSRS, 'FS/GS base after the guest\'s arch_prctl; the MSRs of the next guest'),
      ioctl(KVM_SET_SREGS, 'long mode, segments and CR3 of the next guest (a VM reused in the same process)'),
      ioctl(KVM_SET_REGS, 'entry registers of the next guest'),
      ioctl(KVM_SET_XCRS, 'XCR0 of the next guest'),
      ioctl(KVM_SET_XSAVE, 'a reused vCPU starts with clean x87/SSE/AVX state; a new guest thread starts with its parent\'s'),
      ioctl(KVM_GET_XSAVE, 'a new guest thread starts with a copy of its parent\'s x87/SSE/AVX state'),
      ioctl(KVM_SET_VCPU_EVENTS, 'a reused vCPU starts with no pending exception or interrupt'),
      ioctl(KVM_SET_DEBUGREGS, 'a reused vCPU starts with clean debug registers'),
      ioctl(KVM_SET_USER_MEMORY_REGION, 'registers the next guest\'s memory slots (on reuse, first deletes the old ones)'),
      ioctl(KVM_CREATE_VM, 'a new VM when the next guest\'s memory size differs from the kept VM\'s'),
      ioctl(KVM_CREATE_VCPU, 'the vCPU of such a new VM, and one per new guest thread'),
      ioctl(KVM_SET_CPUID2, 'CPUID of such a new vCPU'),
      ioctl(KVM_GET_SUPPORTED_CPUID, 'CPU features for a new VM (read once per process and cached; harmless query)'),
      ioctl(KVM_GET_TSC_KHZ, 'the guest TSC frequency for the vDSO clock page (once per process; harmless query)'),
      ioctl(KVM_GET_MSRS, 'reads the guest TSC (IA32_TSC) to pair it with the host clock for the next guest\'s vDSO clock page'),
    ],
  },
  {
    name: 'memory',
    why: 'V8\'s heap and garbage collector, glibc\'s malloc, and the guest memory torov maps (own memory only)',
    rules: [
      { syscall: 'mmap', why: 'V8 reserves and commits heap pages, glibc maps large blocks; torov maps guest windows, file mappings into the window (MAP_FIXED) and a new vCPU\'s kvm_run page; the SIGBUS guard puts a zero page over a guest page that lost its backing (src/machine/bus-guard.ts)' },
      { syscall: 'munmap', why: 'V8 frees heap pages after a GC, glibc frees large blocks and thread stacks; torov unmaps released windows and a closed vCPU\'s kvm_run page' },
      { syscall: 'mprotect', why: 'V8 commits heap pages and toggles code-space permissions; torov flips the protection of guest pages so that KVM drops its cached translations' },
      { syscall: 'madvise', why: 'V8 decommits freed pages (MADV_DONTNEED, MADV_DONTFORK), glibc frees thread stacks at exit; torov gives guest pages back (MADV_DONTNEED)' },
      { syscall: 'mremap', why: 'glibc\'s realloc of a block it mmap-ed; the SIGBUS guard parks a guest page that lost its backing and moves it back (src/machine/bus-guard.ts)' },
      { syscall: 'mincore', why: 'a fork copies only the pages of the parent\'s window that are in memory (src/machine/memory.ts)' },
      { syscall: 'brk', why: 'glibc malloc\'s main arena grows (seen while formatting --trace lines)' },
      { syscall: 'sysinfo', why: 'V8 sizes its heap from the machine\'s memory (glibc\'s sysconf(_SC_PHYS_PAGES)), at times during a run (a harmless query; the guest\'s sysinfo is torov\'s own)' },
      { syscall: 'process_vm_readv', args: [{ arg: 0, value: 'pid', name: 'this process' }], why: 'torov reads guest pages backed by a file (a library\'s strings, a syscall\'s arguments there) through the kernel: a file truncated under its mapping then gives EFAULT instead of killing the VMM with SIGBUS' },
      { syscall: 'process_vm_writev', args: [{ arg: 0, value: 'pid', name: 'this process' }], why: 'torov writes guest pages backed by a file (results into a library\'s data, the loader\'s zeroed bss tail) through the kernel, for the same reason' },
    ],
  },
  {
    name: 'threads',
    why: 'Node\'s threads (V8 platform workers, libuv, the syscall channel\'s vCPU thread, started before the filter) keep running under it (SECCOMP_FILTER_FLAG_TSYNC); no new thread or process can be created',
    rules: [
      { syscall: 'futex', why: 'every lock and condition variable: V8\'s platform workers wait for GC tasks, Node joins them at exit; the syscall channel\'s threads sleep and wake each other (Atomics.wait/notify)' },
      { syscall: 'sched_yield', why: 'V8 and glibc spin locks (seen in a worker thread at exit); the syscall channel\'s polling thread gives its CPU away while idle' },
      { syscall: 'getpid', why: 'V8 and glibc ask for the process id (seen around the first KVM_RUN; glibc\'s raise())' },
      { syscall: 'clock_nanosleep', why: 'Node 24\'s V8 (Abseil\'s locks) sleeps a little when a lock stays contended' },
      { syscall: 'nanosleep', why: 'the same, through the older call' },
      { syscall: 'sched_getparam', why: 'Node 24\'s V8 reads its threads\' scheduling priority with pthread_getschedparam (a harmless query of this process)' },
      { syscall: 'sched_getscheduler', why: 'the other half of glibc\'s pthread_getschedparam (Node 24\'s V8; a harmless query)' },
      { syscall: 'sched_getaffinity', why: 'Node 24\'s V8 and libuv read which CPUs the process may use (a harmless query)' },
      { syscall: 'capget', why: 'Node 24 reads its own capabilities (none, here) when its worker threads read the environment (a harmless query)' },
      { syscall: 'gettid', why: 'V8 and glibc thread ids (a harmless query)' },
      { syscall: 'exit', why: 'a thread ends: Node stops its V8 platform workers at exit' },
      { syscall: 'exit_group', why: 'the VMM exits with the guest\'s status' },
    ],
  },
  {
    name: 'signals',
    why: 'signal handling of Node and glibc (the guest\'s signal state lives in the VMM and never reaches here)',
    rules: [
      { syscall: 'rt_sigaction', why: 'Node resets its signal handlers at exit (about 30 calls); the SIGBUS guard gives an unexpected SIGBUS its default action back' },
      { syscall: 'rt_sigprocmask', why: 'glibc blocks signals around thread exit and raise(); Node blocks SIGTTOU while it restores the terminal' },
      { syscall: 'rt_sigreturn', why: 'returns from a signal handler (KVM_RUN then fails with EINTR and the loop goes on; the SIGBUS guard\'s handler)' },
      { syscall: 'restart_syscall', why: 'the kernel restarts a call a stop interrupted (Ctrl-Z, SIGSTOP then SIGCONT) that has a timeout (poll, futex, nanosleep): only that same call, already allowed' },
      { syscall: 'timer_settime', why: 'host signals (src/vmm/host-signals.ts): a signal that ends the run arms a timer, made before the filter, that interrupts the main thread\'s host call until the run loop has taken it' },
      {
        syscall: 'tgkill', args: [{ arg: 0, value: 'pid', name: 'this process' }],
        why: 'Node\'s SIGINT/SIGTERM handler restores the terminal and raises the signal again, abort() raises SIGABRT, the syscall channel kicks its vCPU thread out of KVM_RUN (SIGUSR2): only at the VMM itself, so Ctrl-C ends it as Ctrl-C and not as a seccomp kill',
      },
    ],
  },
  {
    name: 'io',
    why: 'the VMM\'s own fds: stdio, libuv\'s epoll fd and eventfds, the KVM fds, the host fds behind the guest\'s table',
    rules: [
      { syscall: 'read', why: 'libuv reads its eventfd (the event loop runs once more at exit)' },
      { syscall: 'write', why: 'torov\'s own messages and --trace lines on stderr (fs.writeSync), libuv\'s eventfd wake-ups' },
      { syscall: 'close', why: 'torov closes the guest\'s host fds (fd table, VM release), libuv closes its fds at exit' },
      { syscall: 'epoll_pwait', why: 'libuv\'s event loop (Node runs it at exit)' },
      { syscall: 'epoll_wait', why: 'the same, for libuv builds that use epoll_wait' },
      { syscall: 'epoll_ctl', why: 'libuv registers its fds with its epoll fd (at exit)' },
      { syscall: 'fcntl', why: 'torov duplicates stdio for the next guest (F_DUPFD_CLOEXEC); Node reads and restores stdio flags at exit (F_GETFL, F_SETFL)' },
      { syscall: 'fstat', why: 'Node checks stdio at exit before it restores it' },
      { syscall: 'newfstatat', why: 'the same with C libraries whose fstat() is newfstatat(fd, "", AT_EMPTY_PATH)' },
      { syscall: 'fsync', why: 'Node flushes stdout and stderr at exit (fsync(1), fsync(2))' },
      ioctl(TTY_IOCTLS.TCGETS, 'Node reads the terminal mode of fds 0-2 at exit and on SIGINT/SIGTERM (tcgetattr)'),
      ioctl(TTY_IOCTLS.TCSETS, 'Node restores the terminal mode of fds 0-2 at exit and on SIGINT/SIGTERM (tcsetattr)'),
      { syscall: 'getrandom', why: 'the 16 AT_RANDOM bytes of the next guest (Machine), V8\'s entropy' },
      { syscall: 'getppid', why: 'each new guest (Machine) publishes the VMM\'s identity: process.ppid' },
      { syscall: 'getuid', why: 'the same: process.getuid()' },
      { syscall: 'getgid', why: 'the same: process.getgid()' },
      { syscall: 'getcwd', why: 'process.cwd(), when the next guest\'s path is relative (cached by Node after the first call)' },
    ],
  },
  {
    name: 'time',
    why: 'clocks: the vDSO answers without a syscall; these are its fallbacks on hosts whose clock source has no vDSO support',
    rules: [
      { syscall: 'clock_gettime', why: 'process.hrtime(), Date.now(), V8\'s and libuv\'s timers' },
      { syscall: 'gettimeofday', why: 'glibc\'s gettimeofday() fallback' },
    ],
  },
];

/**
 * Extra rules while a debugger is attached (src/gdb), from its code as it stands: the gdb
 * connection is served by blocking calls on the VMM's main thread, Ctrl-C is watched by a
 * worker thread that must already exist when the filter is installed (starting a Worker
 * needs clone3, module loading and more: far beyond this list).
 */
export const GDB_GROUP: RuleGroup = {
  name: 'gdb',
  why: 'only with a debugger attached (buildFilter(..., { gdb: true })): its socket, its Ctrl-C watcher, vCPU state',
  rules: [
    ioctl(KVM_GET_REGS, 'gdb reads the general registers of a stopped guest'),
    ioctl(KVM_SET_GUEST_DEBUG, 'single-step and hardware breakpoints'),
    ioctl(KVM_GET_DEBUGREGS, 'gdb reads the debug registers'),
    ioctl(KVM_GET_FPU, 'gdb reads x87/SSE registers'),
    ioctl(KVM_SET_FPU, 'gdb writes x87/SSE registers'),
    { syscall: 'accept4', why: 'accepts the gdb connection' },
    { syscall: 'recvfrom', why: 'reads gdb\'s packets' },
    { syscall: 'sendto', why: 'sends the replies' },
    { syscall: 'poll', why: 'waits for gdb\'s bytes (with a timeout; the Ctrl-C watcher)' },
    { syscall: 'eventfd2', why: 'the Ctrl-C watcher\'s wake-up eventfd' },
    { syscall: 'process_vm_readv', args: [{ arg: 0, value: 'pid', name: 'this process' }], why: 'reads guest memory for gdb without faulting the VMM' },
    { syscall: 'process_vm_writev', args: [{ arg: 0, value: 'pid', name: 'this process' }], why: 'writes guest memory (breakpoints) for gdb' },
  ],
};

/**
 * Extra rules for torov serve (src/serve/server.ts): Node's HTTP server on the listening
 * socket the launcher made, the snapshot's memory file, the per-run stdin/stdout memfds,
 * the program's working directory put back before each run and the private /tmp emptied
 * after each. Everything else the server needs is made before the filter.
 */
export const SERVE_WORKER_GROUP: RuleGroup = {
  name: 'serve-worker',
  why: 'only for a worker of torov serve --workers N (buildFilter(..., { serveWorker: true })): its front\'s channel',
  rules: [
    { syscall: 'recvmsg', args: [{ arg: 0, value: 5, name: 'the front\'s channel' }], why: 'reads its front\'s messages and the connections they carry (Node\'s IPC channel, fd 5: src/serve/front.ts)' },
  ],
};

export const SERVE_GROUP: RuleGroup = {
  name: 'serve',
  why: 'only for torov serve (buildFilter(..., { serve: true })): the HTTP server, snapshots, per-request stdio and /tmp',
  rules: [
    { syscall: 'accept4', why: 'accepts HTTP connections on the listening socket' },
    { syscall: 'listen', why: 'Node listens again on the launcher\'s socket (its backlog) as it adopts it' },
    { syscall: 'setsockopt', why: 'Node sets TCP_NODELAY and keep-alive on each connection' },
    { syscall: 'getsockopt', why: 'libuv reads a socket\'s pending error' },
    { syscall: 'getsockname', why: 'the server\'s address (SERVER_PORT) and Node\'s listen on an fd' },
    { syscall: 'getpeername', why: 'the client\'s address (REMOTE_ADDR)' },
    { syscall: 'shutdown', why: 'ends a connection\'s sending side' },
    { syscall: 'writev', why: 'Node writes a reply\'s header and body in one call' },
    { syscall: 'readv', why: 'libuv reads a connection' },
    { syscall: 'recvfrom', why: 'reads a connection' },
    { syscall: 'sendto', why: 'writes a connection' },
    { syscall: 'epoll_create1', why: 'libuv\'s loop' },
    ioctl(TTY_IOCTLS.FIONBIO, 'libuv makes accepted sockets non-blocking'),
    ioctl(WRITE_TRACK_IOCTLS.UFFDIO_REGISTER, 'registers a restored VM\'s window with the VMM\'s own userfaultfd, in asynchronous write-protect mode (src/machine/write-track.ts)'),
    ioctl(WRITE_TRACK_IOCTLS.UFFDIO_WRITEPROTECT, 'protects a restored VM\'s pages as its window is registered for write tracking, and again after a run that wrote many (src/vmm/snapshot.ts, resetInPlace)'),
    ioctl(WRITE_TRACK_IOCTLS.PAGEMAP_SCAN, 'lists the pages of a restored VM\'s window written during its run (/proc/self/pagemap, opened before the filter)'),
    { syscall: 'pread64', why: 'reads the program\'s answer from its stdout memfd' },
    { syscall: 'pwrite64', why: 'writes a request body into the stdin memfd; the snapshot\'s pages into its memory file' },
    { syscall: 'ftruncate', why: 'empties the stdin and stdout memfds before a run; sizes the snapshot\'s memory file' },
    { syscall: 'lseek', why: 'rewinds the stdin and stdout memfds, and the program\'s files to their offsets at the snapshot' },
    { syscall: 'openat', why: 'keeps the program\'s working directory at the snapshot (O_PATH); lists the private /tmp to empty it' },
    { syscall: 'fchdir', why: 'puts the program\'s working directory back before each run' },
    { syscall: 'getdents64', why: 'lists the private /tmp to empty it after each request' },
    { syscall: 'unlinkat', why: 'empties the private /tmp after each request' },
  ],
};

/** A host call of a guest rule: a syscall name, or a rule with conditions (ioctl requests). */
export type HostCall = SyscallName | { readonly syscall: SyscallName; readonly args: readonly ArgEq[] } | { readonly syscall: SyscallName; readonly errno: number };

/** What one guest syscall's handler asks of the host, and why. */
export interface GuestRule {
  readonly host: readonly HostCall[];
  readonly why: string;
}

/** The ioctl requests the guest's ioctl handler forwards (src/syscalls/io.ts: IOCTLS, and the job-control ones). */
export const GUEST_IOCTL_REQUESTS: readonly (keyof typeof TTY_IOCTLS)[] = [
  'TCGETS', 'TCSETS', 'TCSETSW', 'TCSETSF', 'TIOCGWINSZ', 'TIOCSWINSZ', 'FIONREAD', 'FIONBIO', 'TIOCGPGRP', 'TIOCGSID',
];

const none = (why: string): GuestRule => ({ host: [], why });
const same = (name: SyscallName, why = 'the same call on the host fd'): GuestRule => ({ host: [name], why });
/** Handlers that install a new host fd in the guest's table close it when the table is full. */
const newFd = (name: SyscallName, why: string): GuestRule => ({ host: [name, 'close'], why });
/**
 * Calls that can make a file larger first check a real memfd's size against the run's budget
 * (src/syscalls/memfd-budget.ts): fstat, and the write position (fcntl F_GETFL, lseek).
 */
const GROW = ['fstat', 'fcntl', 'lseek'] as const;
const GROW_WHY = 'a real memfd\'s size is checked first (fstat, fcntl F_GETFL, lseek)';
const grows = (name: SyscallName, why = 'the same call on the host fd'): GuestRule => ({ host: [name, ...GROW], why: `${why}; ${GROW_WHY}` });
/**
 * Handlers that take a path: the host call, and access(2) of fs.ts's /proc guard, which
 * asks whether /proc/<n> is one of the VMM's own threads (existsSync of /proc/<pid>/task/<n>).
 */
const pathCall = (name: SyscallName, why = 'the same call on a VMM copy of the path'): GuestRule =>
  ({ host: [name, 'access'], why: `${why} (access: the /proc guard)` });

/**
 * The stat family (src/syscalls/fs.ts, statAt): newfstatat or statx on a VMM copy of the
 * path, fstat or statx on an fd for /dev/fd/N and synthetic /proc files, access for the
 * /proc guard.
 */
const STAT: GuestRule = {
  host: ['newfstatat', 'statx', 'fstat', 'access'],
  why: 'newfstatat or statx on a VMM copy of the path; fstat or statx on the guest\'s own fd for /dev/fd/N and on a synthetic /proc file\'s fd (access: the /proc guard)',
};

/** After a rename, a set-id file at either name loses those bits (src/syscalls/fs.ts, dropSetId). */
const SETID_DROP = ['newfstatat', 'fchmodat'] as const;
const SETID_WHY = 'newfstatat and fchmodat take set-id bits off the file renamed';

const OPEN: GuestRule = {
  host: ['openat2', 'openat', 'readlinkat', 'access', 'close', 'memfd_create', 'write', 'lseek', 'fcntl', 'statfs', 'stat', 'fstat', 'getcwd'],
  why: 'openat2 with RESOLVE_NO_MAGICLINKS (openat on hosts before Linux 5.6), readlinkat of the new fd\'s /proc/self/fd link and access() for the /proc guard, close when refused or the table is full; a synthetic file (/sys/devices/system/cpu/online) is a sealed memfd written here (/proc/mounts: statfs and stat of each mount; links: getcwd)',
};
/**
 * With more than one guest thread, a call that may wait for a peer is tried without
 * blocking, and otherwise waits on the calling thread's own host thread (src/syscalls/nonblock.ts).
 */
const NONBLOCK_WHY = 'with threads, tried without blocking (RWF_NOWAIT, MSG_DONTWAIT, O_NONBLOCK, a zero timeout: fcntl reads the file\'s mode) and otherwise waited for on the thread\'s own host thread (ppoll), or made there (a terminal)';
const NONBLOCK_IO = ['preadv2', 'pwritev2', 'readv', 'writev', 'fcntl', 'ppoll'] as const;
const NONBLOCK_NET = ['fcntl', 'ppoll'] as const;
/** glibc's pthread_create flags: CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID. */
export const PTHREAD_CLONE_FLAGS = 0x3d0f00;
/**
 * A guest thread runs on a vCPU thread of its own: a Node worker the VMM starts when the
 * guest's first threads appear (src/vmm/vcpu-thread.ts). Starting one is glibc's
 * pthread_create (clone with exactly the thread flags: never a process; clone3, whose
 * flags a filter cannot read, is refused with ENOSYS so that glibc falls back to clone)
 * and a Node environment's start-up (its thread registration, CPU count, event loop,
 * signal mask, identity checks, and files under /proc it cannot open in the jail).
 */
const THREAD: GuestRule = {
  host: [
    { syscall: 'clone', args: [{ arg: 0, value: PTHREAD_CLONE_FLAGS, name: 'a thread, with pthread_create\'s flags' }] },
    { syscall: 'clone3', errno: 38 /* ENOSYS */ },
    'set_robust_list', 'rseq', 'sched_getaffinity', 'epoll_create1', 'eventfd2', 'pipe2', 'capget', 'readlink', 'openat', 'sigaltstack', 'geteuid', 'getegid',
    // Node 24 (libuv 1.50) names each new thread ("WorkerThread") from the thread itself.
    { syscall: 'prctl', args: [{ arg: 0, value: PR_SET_NAME, name: 'PR_SET_NAME' }] },
    // Node 24's libuv tries io_uring for each new event loop and falls back to epoll.
    { syscall: 'io_uring_setup', errno: 38 /* ENOSYS */ },
  ],
  why: 'a new guest thread gets a vCPU thread (a Node worker) when no finished one can be reused: pthread_create and Node\'s worker start-up',
};
/**
 * A new guest process (src/vmm/machine.ts, Machine.fork) is a new VM in this process: its
 * window gets a copy of the parent's memory (mincore finds the pages to copy; shared
 * mappings are mapped twice with mremap), its fds are host duplicates, its thread gets a
 * vCPU thread as a guest thread does; while several processes run, the VMM's cwd and umask
 * follow the one whose call is served (openat of ".", fchdir, umask: src/vmm/dispatch.ts).
 */
const FORK: GuestRule = {
  host: [...THREAD.host, 'mremap', 'mincore', 'fcntl', 'fchdir', 'umask', 'close', 'mmap', 'munmap', 'madvise', 'eventfd2', 'write'],
  why: 'a new process: a new VM with a copy of the parent\'s memory and fds, and a vCPU thread',
};
/** execve: the program's file is read and mapped through the VMM's root (the guest's), as the first program's is. */
const EXEC: GuestRule = {
  host: ['openat', 'fstat', 'fstatfs', 'faccessat2', 'faccessat', 'pread64', 'close', 'fcntl', 'getcwd', 'mmap', 'munmap', 'madvise', 'fchdir', 'umask'],
  why: 'the new program\'s file (and its interpreter) read and mapped as at start; the process\'s other threads end',
};

/**
 * A call that can leave a single-threaded program waiting in the VMM (a signal wait) or
 * with a timer armed: its vCPU then runs on a vCPU thread while the main thread keeps the
 * time, so that thread may have to be started.
 */
function waits(rule: GuestRule): GuestRule {
  return { host: [...rule.host, ...THREAD.host], why: `${rule.why}; the program's vCPU moves to a vCPU thread meanwhile (started as for a guest thread)` };
}
const WINDOW = 'guest memory is served in the VMM; the host memory behind the window is replaced (mmap MAP_FIXED) and given back (madvise)';

/** Guest syscall name -> the host syscalls its handler makes. Every handler has an entry. */
export const GUEST_RULES: Readonly<Record<string, GuestRule>> = {
  // process.ts
  exit: none('ends the VM (GuestExit)'),
  exit_group: none('ends the VM (GuestExit)'),
  getpid: none('identity published at start'),
  gettid: none('identity published at start'),
  getppid: none('identity published at start'),
  getuid: none('identity published at start'),
  geteuid: none('identity published at start'),
  getgid: none('identity published at start'),
  getegid: none('identity published at start'),
  getpgrp: none('process groups are the VMM\'s'),
  getpgid: none('process groups are the VMM\'s'),
  getsid: none('sessions are the VMM\'s'),
  setpgid: none('process groups are the VMM\'s'),
  setsid: none('sessions are the VMM\'s'),
  setuid: none('only to the ids it has'),
  setgid: none('only to the ids it has'),
  setreuid: none('only to the ids it has'),
  setregid: none('only to the ids it has'),
  setresuid: none('only to the ids it has'),
  setresgid: none('only to the ids it has'),
  getresuid: none('identity published at start'),
  getresgid: none('identity published at start'),
  getgroups: same('getgroups', 'the VMM\'s supplementary groups'),
  uname: none('built from the kernel release read at start-up'),
  arch_prctl: none('recorded; the vCPU applies the FS base with KVM_SET_MSRS (a runtime rule)'),
  set_tid_address: none('recorded'),
  // thread.ts
  clone: FORK,
  clone3: FORK,
  fork: FORK,
  vfork: FORK,
  execve: EXEC,
  execveat: EXEC,
  wait4: none('the children are the VMM\'s own processes'),
  pidfd_open: { host: ['eventfd2', 'fcntl', 'close'], why: 'a pidfd is a host eventfd the VMM signals when the process ends (write: a runtime rule)' },
  pidfd_send_signal: none('queued in the VMM: guest processes only'),
  waitid: none('the children are the VMM\'s own processes'),
  membarrier: none('the other vCPUs leave the guest and enter it again (KVM_RUN, a runtime rule)'),
  sched_setaffinity: none('accepted, not applied'),
  set_robust_list: none('recorded'),
  get_robust_list: none('recorded'),
  rseq: none('ENOSYS'),
  prlimit64: same('prlimit64', 'reads the VMM\'s own limits (new ones are recorded, not applied)'),
  getrlimit: same('prlimit64', 'reads the VMM\'s own limits'),
  setrlimit: same('prlimit64', 'reads the VMM\'s limit to check the new one (recorded, not applied)'),
  getrandom: same('getrandom', 'the host\'s generator'),
  sched_yield: none('nothing to yield to: guest threads run on vCPUs of their own'),
  sched_getaffinity: none('the --cpus CPUs'),
  getcpu: none('the vCPU\'s index'),
  kill: none('queued in the VMM: the guest\'s own processes only'),
  tkill: none('queued in the VMM: the guest\'s own threads only'),
  tgkill: none('queued in the VMM: the guest\'s own threads only'),
  futex: { host: ['nanosleep'], why: 'futexes are queues in the VMM; a program with one thread sleeps out a timed wait nobody can end (nanosleep)' },
  getrusage: same('getrusage', 'the VMM\'s own usage'),
  times: same('times', 'the VMM\'s own times'),
  sysinfo: none('the guest\'s figures, made up by torov'),
  umask: same('umask', 'the VMM\'s umask, which the host applies to the guest\'s new files'),
  getpriority: none('constant'),
  setpriority: none('accepted, ignored'),
  prctl: none('name, dumpable, pdeathsig and no_new_privs are recorded'),
  // signal.ts
  rt_sigaction: none('kept in the VMM'),
  rt_sigprocmask: none('kept in the VMM'),
  rt_sigpending: none('kept in the VMM'),
  sigaltstack: none('kept in the VMM'),
  rt_sigreturn: none('the frame is read from guest memory; the FPU state goes back with KVM_SET_XSAVE (a runtime rule)'),
  rt_sigqueueinfo: none('queued in the VMM'),
  rt_tgsigqueueinfo: none('queued in the VMM'),
  pause: waits(none('a wait in the VMM')),
  rt_sigsuspend: waits(none('a wait in the VMM')),
  rt_sigtimedwait: waits(none('a wait in the VMM')),
  alarm: waits(none('a timer of the VMM\'s scheduler')),
  setitimer: waits(none('a timer of the VMM\'s scheduler')),
  getitimer: none('a timer of the VMM\'s scheduler'),
  timer_create: waits(none('a timer of the VMM\'s scheduler')),
  signalfd: waits({ host: ['eventfd2', 'fcntl', 'read', 'write'], why: 'an eventfd the VMM keeps readable while a signal of the set is pending (written and drained by the VMM); reads are served from the VMM\'s queues' }),
  signalfd4: waits({ host: ['eventfd2', 'fcntl', 'read', 'write'], why: 'an eventfd the VMM keeps readable while a signal of the set is pending (written and drained by the VMM); reads are served from the VMM\'s queues' }),
  timer_settime: { host: ['clock_gettime'], why: 'a timer of the VMM\'s scheduler; an absolute time is read against the timer\'s clock' },
  timer_gettime: none('a timer of the VMM\'s scheduler'),
  timer_getoverrun: none('a timer of the VMM\'s scheduler'),
  timer_delete: none('a timer of the VMM\'s scheduler'),
  // mm.ts
  brk: { host: ['mmap', 'madvise'], why: `${WINDOW} when the break shrinks` },
  mmap: { host: ['mmap', 'madvise'], why: 'file mappings map the host file over the window (MAP_FIXED); a failed one puts fresh memory back (mmap, madvise)' },
  munmap: { host: ['mmap', 'madvise'], why: WINDOW },
  mprotect: { host: ['mprotect'], why: 'when access is reduced, the host pages\' protection is flipped so that KVM drops its cached translations' },
  mremap: { host: ['mmap', 'madvise', 'mprotect'], why: `${WINDOW}; the moved range keeps its protection (mprotect)` },
  madvise: { host: ['mmap', 'madvise'], why: `MADV_DONTNEED/FREE/REMOVE: ${WINDOW}` },
  msync: same('msync', 'shared file mappings are the host\'s page cache'),
  mlock: none('checked against the guest\'s mappings'),
  mlock2: none('checked against the guest\'s mappings'),
  munlock: none('nothing to do'),
  mlockall: none('nothing to do'),
  munlockall: none('nothing to do'),
  memfd_create: { host: ['memfd_create', 'openat', 'close', 'fstat'], why: 'an anonymous host file in the guest\'s table: an unnamed file (openat O_TMPFILE) in the run\'s bounded tmpfs, or a real memfd when it must take seals (fstat learns the memfd device, whose files memfd-budget.ts bounds); close when the table is full' },
  // io.ts
  read: { host: ['read', ...NONBLOCK_IO], why: `the same call on the host fd; ${NONBLOCK_WHY}` },
  write: { host: ['write', ...NONBLOCK_IO, ...GROW], why: `the same call on the host fd; ${NONBLOCK_WHY}; ${GROW_WHY}` },
  pread64: same('pread64'),
  pwrite64: grows('pwrite64'),
  readv: { host: ['readv', ...NONBLOCK_IO], why: `the host call on translated iovecs; ${NONBLOCK_WHY}` },
  writev: { host: ['writev', ...NONBLOCK_IO, ...GROW], why: `the host call on translated iovecs; ${NONBLOCK_WHY}; ${GROW_WHY}` },
  preadv: same('preadv', 'the host call on translated iovecs'),
  pwritev: grows('pwritev', 'the host call on translated iovecs'),
  preadv2: same('preadv2', 'the host call on translated iovecs'),
  pwritev2: grows('pwritev2', 'the host call on translated iovecs'),
  close: same('close', 'closes the host fd behind the guest fd'),
  dup: { host: ['fcntl', 'close'], why: 'F_DUPFD_CLOEXEC on the host fd (close when the table is full)' },
  dup2: { host: ['fcntl', 'close'], why: 'F_DUPFD_CLOEXEC on the host fd; the replaced host fd is closed' },
  dup3: { host: ['fcntl', 'close'], why: 'F_DUPFD_CLOEXEC on the host fd; the replaced host fd is closed' },
  pipe: newFd('pipe2', 'a host pipe (always O_CLOEXEC there)'),
  pipe2: newFd('pipe2', 'a host pipe (always O_CLOEXEC there)'),
  lseek: same('lseek'),
  fcntl: { host: ['fcntl', 'close'], why: 'file flags, locks, pipe sizes and seals are the host\'s (F_DUPFD closes on a full table)' },
  ioctl: {
    host: [...GUEST_IOCTL_REQUESTS.map((n) => ({ syscall: 'ioctl' as const, args: [{ arg: 1 as const, value: TTY_IOCTLS[n], name: n }] })), 'getpgid', 'getsid'],
    why: 'only the terminal and fd requests the handler forwards (anything else is ENOTTY in the VMM); getpgid and getsid read the VMM\'s job for TIOCGPGRP/TIOCSPGRP/TIOCGSID',
  },
  sendfile: grows('sendfile'),
  copy_file_range: grows('copy_file_range'),
  eventfd: newFd('eventfd2', 'a host eventfd'),
  eventfd2: newFd('eventfd2', 'a host eventfd'),
  timerfd_create: newFd('timerfd_create', 'a host timerfd'),
  timerfd_settime: same('timerfd_settime'),
  timerfd_gettime: same('timerfd_gettime'),
  close_range: same('close', 'closes each guest fd in the range'),
  splice: grows('splice'),
  tee: same('tee'),
  sync: same('sync', 'flushes the host\'s filesystems'),
  sync_file_range: same('sync_file_range'),
  readahead: same('readahead'),
  fsync: same('fsync'),
  fdatasync: same('fdatasync'),
  syncfs: same('syncfs'),
  ftruncate: grows('ftruncate'),
  fallocate: grows('fallocate'),
  flock: same('flock'),
  fadvise64: same('fadvise64'),
  // fs.ts
  open: OPEN,
  openat: OPEN,
  openat2: OPEN,
  creat: OPEN,
  stat: STAT,
  lstat: STAT,
  fstat: same('fstat'),
  newfstatat: STAT,
  statx: STAT,
  statfs: { host: ['statfs', 'fstatfs', 'access'], why: 'statfs on a VMM copy of the path; fstatfs on a synthetic /proc file\'s fd (access: the /proc guard)' },
  fstatfs: same('fstatfs'),
  getxattr: pathCall('getxattr'),
  lgetxattr: pathCall('lgetxattr'),
  fgetxattr: same('fgetxattr'),
  listxattr: pathCall('listxattr'),
  llistxattr: pathCall('llistxattr'),
  flistxattr: same('flistxattr'),
  access: { host: ['faccessat', 'faccessat2', 'access'], why: 'faccessat on a VMM copy of the path; faccessat2 on a synthetic /proc file\'s fd (AT_EMPTY_PATH)' },
  faccessat: { host: ['faccessat', 'faccessat2', 'access'], why: 'the same call on a VMM copy of the path; faccessat2 on a synthetic /proc file\'s fd' },
  faccessat2: pathCall('faccessat2'),
  getdents64: same('getdents64'),
  getdents: same('getdents'),
  getcwd: same('getcwd', 'the VMM\'s cwd'),
  chdir: { host: ['chdir', 'fchdir', 'access'], why: 'chdir on a VMM copy of the path; fchdir into a synthetic /proc directory\'s fd (access: the /proc guard)' },
  fchdir: same('fchdir'),
  mkdir: pathCall('mkdir'),
  mkdirat: pathCall('mkdirat'),
  rmdir: pathCall('rmdir'),
  unlink: pathCall('unlink'),
  unlinkat: pathCall('unlinkat'),
  rename: { host: ['rename', 'access', ...SETID_DROP], why: `the same call on VMM copies of the paths (access: the /proc guard); ${SETID_WHY}` },
  renameat: { host: ['renameat', 'access', ...SETID_DROP], why: `the same call on VMM copies of the paths (access: the /proc guard); ${SETID_WHY}` },
  renameat2: { host: ['renameat2', 'access', ...SETID_DROP], why: `the same call on VMM copies of the paths (access: the /proc guard); ${SETID_WHY}` },
  link: pathCall('link'),
  linkat: pathCall('linkat'),
  symlink: pathCall('symlink'),
  symlinkat: pathCall('symlinkat'),
  readlink: pathCall('readlinkat', 'readlinkat on the path (the exe link is answered in the VMM)'),
  readlinkat: pathCall('readlinkat', 'readlinkat on the path (the exe link is answered in the VMM)'),
  chmod: pathCall('chmod'),
  fchmod: same('fchmod'),
  fchmodat: pathCall('fchmodat'),
  fchmodat2: pathCall('fchmodat2'),
  chown: pathCall('chown'),
  fchown: same('fchown'),
  lchown: pathCall('lchown'),
  fchownat: pathCall('fchownat'),
  utimensat: pathCall('utimensat'),
  futimesat: pathCall('futimesat'),
  utime: pathCall('utime'),
  utimes: pathCall('utimes'),
  truncate: pathCall('truncate'),
  mknod: pathCall('mknodat', 'mknodat for regular files and FIFOs (devices and sockets are EPERM in the VMM)'),
  mknodat: pathCall('mknodat', 'regular files and FIFOs (devices and sockets are EPERM in the VMM)'),
  // net.ts
  socket: newFd('socket', 'a host socket of an allowed family'),
  socketpair: newFd('socketpair', 'two connected host sockets'),
  bind: same('bind', 'the address is copied into VMM memory'),
  listen: same('listen'),
  accept: { host: ['accept4', 'close', ...NONBLOCK_NET], why: `accept4 (always SOCK_CLOEXEC on the host); ${NONBLOCK_WHY}` },
  accept4: { host: ['accept4', 'close', ...NONBLOCK_NET], why: `always SOCK_CLOEXEC on the host; ${NONBLOCK_WHY}` },
  connect: { host: ['connect', 'getsockopt', ...NONBLOCK_NET], why: `the address is copied into VMM memory; ${NONBLOCK_WHY} (the outcome through SO_ERROR)` },
  sendto: { host: ['sendto', ...NONBLOCK_NET], why: `the same call; ${NONBLOCK_WHY}` },
  recvfrom: { host: ['recvfrom', ...NONBLOCK_NET], why: `the same call; ${NONBLOCK_WHY}` },
  sendmsg: { host: ['sendmsg', ...NONBLOCK_NET], why: `a msghdr rebuilt in VMM memory; ${NONBLOCK_WHY}` },
  recvmsg: { host: ['recvmsg', 'close', ...NONBLOCK_NET], why: `a msghdr rebuilt in VMM memory; received fds that do not fit the table are closed; ${NONBLOCK_WHY}` },
  sendmmsg: same('sendmsg', 'a loop of sendmsg'),
  recvmmsg: { host: ['recvmsg', 'close', 'clock_gettime'], why: 'a loop of recvmsg; the timeout is measured with process.hrtime()' },
  shutdown: same('shutdown'),
  setsockopt: same('setsockopt', 'options with user pointers are refused in the VMM'),
  getsockopt: same('getsockopt', 'options with user pointers are refused in the VMM'),
  getsockname: same('getsockname'),
  getpeername: same('getpeername'),
  // poll.ts
  poll: { host: ['poll', 'ppoll'], why: `on a pollfd array of host fds; ${NONBLOCK_WHY}` },
  ppoll: same('ppoll', 'on a pollfd array of host fds'),
  select: { host: ['ppoll', 'clock_gettime'], why: 'built on the host\'s ppoll; the timeout is measured with process.hrtime()' },
  pselect6: { host: ['ppoll', 'clock_gettime'], why: 'built on the host\'s ppoll; the timeout is measured with process.hrtime()' },
  epoll_create: newFd('epoll_create1', 'a host epoll fd'),
  epoll_create1: newFd('epoll_create1', 'a host epoll fd'),
  epoll_ctl: same('epoll_ctl', 'both fds translated; the event copied into VMM memory'),
  epoll_wait: { host: ['epoll_wait', 'ppoll'], why: `the same call; ${NONBLOCK_WHY}` },
  epoll_pwait: { host: ['epoll_wait', 'ppoll'], why: `epoll_wait (the signal mask is checked, not applied); ${NONBLOCK_WHY}` },
  epoll_pwait2: { host: ['epoll_pwait2', 'epoll_wait', 'ppoll'], why: `the same call; ${NONBLOCK_WHY}` },
  // time.ts
  clock_gettime: same('clock_gettime', 'the host clock (when the vDSO cannot answer in the VMM)'),
  clock_getres: same('clock_getres', 'the host clock'),
  gettimeofday: same('gettimeofday', 'the host clock'),
  time: { host: ['clock_gettime'], why: 'Date.now()' },
  nanosleep: same('nanosleep', 'sleeps on the host (blocks the VMM thread)'),
  clock_nanosleep: same('clock_nanosleep', 'sleeps on the host (blocks the VMM thread)'),
};
