/**
 * What a syscall handler sees: its arguments, and the guest process it acts for.
 * Every handler has the same signature, `(k: Kernel, a: Args) => number`; only dispatch
 * writes rax. Handlers reach guest memory only through `k.mem` (checked), and guest fds
 * only through `k.fds`. Linux's constants and struct layouts come from src/linux.
 *
 * Errors, one convention:
 * - a handler returns its result, or `-errno` (an errno of src/linux/errno.ts);
 * - an error found deep inside a helper, where the helper's result has no room for
 *   -errno, is thrown as a `SysError` (src/linux/errno.ts): `fail(EBADF)` throws the
 *   shared instance of an errno, and every checked guest-memory accessor throws
 *   `GuestFault` (src/machine/memory.ts), the EFAULT case of SysError, with the range;
 * - dispatch (Machine.call in src/vmm/machine.ts) is the one place that turns a thrown
 *   SysError into `-errno`; handlers and helpers do not catch it to convert it.
 *   (argcheck.ts keeps a fact it cannot read as -errno, since the policy's checks run
 *   before the handler and must still decide.)
 * Throwing costs no allocation: GuestFault is one preallocated instance, and SysError.of
 * keeps one per errno. Anything else thrown (GuestExit ends the program; an Error is a
 * VMM bug) passes through dispatch untouched.
 */
import type { GuestMemory } from '../machine/memory';
import type { AddressSpace } from '../machine/mm';
import type { FdTable, SignalFd } from './fdtable';

/** Syscall arguments in the Linux x86-64 order (rdi, rsi, rdx, r10, r8, r9), read lazily from the vCPU's registers. */
export interface Args {
  /** Argument n as a signed 32-bit int (the low half, as the kernel reads an `int`). */
  i(n: number): number;
  /** Argument n as an unsigned 32-bit int. */
  u(n: number): number;
  /** Argument n as a signed 64-bit value in a number (exact within +-2^53). */
  n(n: number): number;
  /** Argument n as a guest address (unsigned; a value >= 2^53 never passes a memory check). */
  ptr(n: number): number;
  /** Argument n exactly, as a bigint (unsigned 64-bit). */
  big(n: number): bigint;
}

/** Ends the program: thrown by exit/exit_group, fatal signals and policy kills. */
export class GuestExit extends Error {
  override name = 'GuestExit';
  /**
   * `tainted`: the vCPU stopped in a state torov did not see through (a triple fault, a KVM
   * internal error), so it must not be reused for another VM.
   */
  constructor(readonly status: number, readonly reason?: string, readonly tainted = false) {
    super(reason ?? `exit ${status}`);
  }
  /** The signal that ended the program (a debugger reports it: gdb's "Program terminated with signal ..."). */
  signal: number | undefined;

  /** The end of a program killed by signal `sig` (status 128+sig). */
  static bySignal(sig: number, reason?: string): GuestExit {
    const e = new GuestExit(128 + sig, reason);
    e.signal = sig;
    return e;
  }
}

/**
 * Ends the calling thread only (exit(2) while other threads run): thrown by the handler,
 * caught by the scheduler, which retires the thread.
 */
export class ThreadExit extends Error {
  override name = 'ThreadExit';
  constructor(readonly status: number) { super(`thread exit ${status}`); }
}

/**
 * A handler's result meaning "the call waits": the calling thread's syscall is not
 * finished; the scheduler finishes it later (a futex wake, a timer, the end of a host
 * call its host thread performs). Never a Linux return value (those are >= -4095).
 */
export const BLOCKED = -(2 ** 40);

/** What a new thread is made from (clone and clone3 with CLONE_THREAD). */
export interface CloneSpec {
  flags: number;
  /** The child's stack pointer (0: the parent's). */
  stack: number;
  /** CLONE_PARENT_SETTID: where the child's tid goes in the parent; CLONE_CHILD_SETTID/CLEARTID: in the child. */
  parentTid: number;
  childTid: number;
  /** CLONE_SETTLS: the child's FS base. */
  tls: number;
  /** CLONE_PIDFD: where the parent gets the child's pidfd (an int), or 0. */
  pidfd?: number;
}

/** What a wait4/waitid looks for: which children, and how (see Scheduler.waitChild). */
export interface ChildWait {
  /** 'any' child, the child with pid `id`, or any in process group `id`. */
  which: 'any' | 'pid' | 'pgid';
  id: number;
  /** WNOHANG, WNOWAIT, WEXITED (ended children), WUNTRACED/WSTOPPED (stopped ones), WCONTINUED (continued ones), __WALL, __WCLONE. */
  options: number;
}

/** A child that ended, stopped or was continued, as a wait reports it. */
export interface ChildStatus {
  pid: number;
  /**
   * The wait status: exit code << 8, or the signal that killed it; 0x7f | sig << 8 when it
   * stopped (WIFSTOPPED); 0xffff when it was continued (WIFCONTINUED).
   */
  status: number;
  uid: number;
  /** Its CPU time and its reaped children's (ns). */
  cpuNs: number;
}

/** A new program for a process (execve). */
export interface ExecImage {
  image: Uint8Array;
  /** The path as the guest gave it (AT_EXECFN), and as /proc/self/exe shows it. */
  path: string;
  argv: readonly string[];
  env: readonly string[];
  /** A host fd of the file (its segments are mapped from it); the caller closes it. */
  fd: number;
  /** The absolute path /proc/self/exe shows. */
  exe: string;
}

/** A guest process as handlers see it (src/vmm/task.ts's ThreadGroup). */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  pgid: number;
  sid: number;
  readonly alive: boolean;
  readonly exe: string;
  readonly uid: number;
  readonly gid: number;
  readonly started: number;
  /** Its working directory as a host O_PATH fd while another process runs (-1: the VMM's cwd is it). */
  cwdFd: number;
  /** Its file mode creation mask. */
  umask: number;
  /** True once it called execve. */
  readonly execed: boolean;
  /** PR_SET_CHILD_SUBREAPER: orphans below it come to it rather than to the first process. */
  subreaper: boolean;
  /** CPU time (ns) of its reaped children (RUSAGE_CHILDREN, times' tms_cutime). */
  readonly childCpuNs: number;
  // What /proc shows of it (src/syscalls/synthetic.ts). Its memory, address space and fds
  // are released when it ends: read them only while it is alive.
  /** Its threads, the first one (tid == pid) first; empty once it ended. */
  readonly tasks: readonly Kernel[];
  readonly mem: GuestMemory;
  readonly as: AddressSpace;
  readonly fds: FdTable;
  /** Its signal dispositions. */
  readonly sigactions: ReadonlyMap<number, SigAction>;
  /** Its wait status once it ended (exit code << 8, or the signal). */
  readonly waitStatus: number;
  /** Stopped by a stop signal until SIGCONT (/proc shows T). */
  readonly stopped: boolean;
}

/**
 * The kernel's services to handlers: thread creation and ending, futexes, sleeping and
 * waiting on host calls. Implemented by src/vmm/scheduler.ts; reached as `k.sched`.
 */
export interface TaskServices {
  /** Starts a thread; returns its tid or -errno. The caller must run with its registers available (NEEDS_CONTEXT). */
  cloneThread(k: Kernel, spec: CloneSpec): number;
  /** Ends the calling thread (the whole program when it is the last one). */
  exitThread(k: Kernel, status: number): never;
  /** FUTEX_WAIT[_BITSET]: BLOCKED, or -errno. `deadline`: nowMs() ms, or Infinity. */
  futexWait(k: Kernel, addr: number, val: number, bitset: number, deadline: number, shared?: boolean): number;
  /** FUTEX_WAKE[_BITSET]: how many threads were woken. */
  futexWake(k: Kernel, addr: number, n: number, bitset: number, shared?: boolean): number;
  /** FUTEX_REQUEUE: wakes n, moves up to `move` of the rest to addr2; returns woken (+ moved when `countMoved`). */
  futexRequeue(k: Kernel, addr: number, n: number, addr2: number, move: number, countMoved: boolean, shared?: boolean): number;
  /** Sleeps until `deadline` (nowMs() ms): BLOCKED; `rem` is where nanosleep reports what is left if interrupted. */
  sleep(k: Kernel, deadline: number, rem: number): number;
  /**
   * Performs a host syscall that may block. With one guest thread it runs here; with
   * several it runs on the calling thread's own host thread (the call returns BLOCKED
   * and `then` turns the host's result into the guest's when it ends).
   */
  blockingCall(k: Kernel, nr: number, args: readonly number[], then?: (r: number) => number, keep?: Buffer): number;
  /**
   * Makes the calling thread's host thread perform host call `nr` (a ppoll on the host fds
   * it waits for, nonblock.ts's waitFds; `keep` holds its memory), then serves the syscall again
   * from the start, with retryDeadline() telling it so. Returns BLOCKED. Only with
   * `concurrent`: the handler first tried without blocking (MSG_DONTWAIT, RWF_NOWAIT, a
   * zero timeout) and would have blocked.
   */
  waitReady(k: Kernel, nr: number, args: readonly number[], keep: Buffer, deadline: number): number;
  /** The deadline of the wait a retried syscall was in (undefined on its first try). */
  retryDeadline(k: Kernel): number | undefined;
  /** True if `tid` is a live thread of the program. */
  hasThread(tid: number): boolean;
  /** The CPU a thread is said to run on (getcpu). */
  cpuOf(k: Kernel): number;
  /** CPU time (ns) of process `pid` so far, from its threads' host threads (for /proc). */
  processCpuNs(pid: number): number;
  /** The calling process's or thread's CPU time (ns), or undefined where the VMM's own clocks stand for it (no process forked yet). */
  cpuTime(k: Kernel, thread: boolean): number | undefined;
  /** Makes every other thread of the program pass a full memory barrier (membarrier). */
  barrier(k: Kernel): void;
  /**
   * Sends a signal: to thread `tid` of the program (tkill, tgkill), or to the program when
   * `tid` is 0 (kill; a thread that does not block it takes it). Returns 0 or -errno
   * (ESRCH: no such thread; EAGAIN: the real-time queue is full).
   */
  sendSignal(k: Kernel, tid: number, info: SignalInfo): number;
  /** The calling thread's mask changed, or signal `action`'s disposition: pending signals may now be deliverable, or (`action`'s, if now ignored) dropped. */
  signalsChanged(k: Kernel, action?: number): void;
  /** rt_sigreturn: restores the frame at the caller's stack (needs its registers); returns the restored rax. */
  sigreturn(k: Kernel): number;
  /** rt_sigsuspend and pause: waits for a signal with `mask` (undefined: the current one) as the mask meanwhile. */
  suspend(k: Kernel, mask: bigint | undefined): number;
  /**
   * rt_sigtimedwait: takes a pending signal of `set` (its number; its siginfo to `infop`),
   * or waits for one until `deadline` (-EAGAIN then); -EINTR for another signal.
   */
  sigwait(k: Kernel, set: bigint, infop: number, deadline: number): number;
  /**
   * read(2) on a signalfd: takes pending signals of its set as struct signalfd_siginfo
   * (bytes written), or waits for one unless the fd (host fd `host`) is non-blocking.
   */
  signalfdRead(k: Kernel, sfd: SignalFd, host: number, buf: number, count: number): number;
  /** signalfd4 created or changed a signalfd: its readiness follows the signals pending now. */
  signalfdChanged(): void;
  /** alarm/setitimer: sets process timer `which` (ms; 0 disarms) and returns the old value and interval (ms). */
  itimer(k: Kernel, which: number, value: number | undefined, interval: number): { value: number; interval: number };
  /** timer_create: a POSIX timer sending `signo` (notify: SIGEV_*), to thread `tid` for SIGEV_THREAD_ID. Returns its id or -errno. */
  timerCreate(k: Kernel, clock: number, notify: number, signo: number, value: bigint, tid: number): number;
  /** timer_settime/timer_gettime: `value` undefined only reads. Values in ms, relative unless `abs` (then on the timer's clock). */
  timerSet(k: Kernel, id: number, value: number | undefined, interval: number, abs: boolean): { value: number; interval: number } | number;
  timerOverrun(k: Kernel, id: number): number;
  timerDelete(k: Kernel, id: number): number;
  /** fork, vfork and clone without CLONE_THREAD: a new process; its pid, BLOCKED (vfork) or -errno. Needs the caller's registers. */
  fork(k: Kernel, spec: CloneSpec, exitSignal: number): number;
  /** execve once the program is read: 0 (the caller runs the new program) or -errno. Needs the caller's registers. */
  exec(k: Kernel, prog: ExecImage): number;
  /** wait4/waitid: an ended child (reaped unless WNOWAIT), null (WNOHANG, none yet), -ECHILD, or BLOCKED. */
  waitChild(k: Kernel, w: ChildWait): ChildStatus | null | number;
  /** kill(2) with a pid other than the caller's own: 0 or -errno. */
  killProcesses(k: Kernel, pid: number, info: SignalInfo): number;
  /** The process `pid` (live or a zombie). */
  process(pid: number): ProcessInfo | undefined;
  /** pidfd_open: host eventfd `efd` becomes a guest fd, readable once process `pid` ends; -errno (efd closed). */
  pidfdOpen(k: Kernel, pid: number, efd: number): number;
  /** Every process (for /proc). */
  processes(): IterableIterator<ProcessInfo>;
  /** True when blocking host calls must not run on the main thread (more than one guest thread). */
  readonly concurrent: boolean;
  /** How many CPUs the guest sees (--cpus). */
  readonly cpus: number;
  /** How many threads the program has now. */
  readonly threadCount: number;
}

/** A signal being sent (struct siginfo's fields torov fills; src/vmm/sigstate.ts). */
export interface SignalInfo {
  signo: number;
  code: number;
  pid?: number;
  uid?: number;
  addr?: number;
  value?: bigint;
  timerid?: number;
  overrun?: number;
}

/** A recorded rt_sigaction (struct kernel_sigaction). */
export interface SigAction { handler: bigint; flags: bigint; restorer: bigint; mask: bigint }

/**
 * What a handler acts on: the calling guest thread (its tid, signal mask, TLS) and,
 * through it, its process (memory, fds, signal handlers, identity). Implemented by
 * src/vmm/task.ts's Task.
 */
export interface Kernel {
  readonly mem: GuestMemory;
  readonly as: AddressSpace;
  readonly fds: FdTable;
  /** The program's path as the guest knows it (AT_EXECFN, readlink /proc/self/exe). */
  readonly exe: string;
  /** The calling thread's process. */
  readonly process: ProcessInfo;
  /** The calling thread's id (gettid). */
  readonly tid: number;
  /** The kernel's thread, futex and blocking services. */
  readonly sched: TaskServices;
  /** The calling thread's registers while its syscall runs with them available (clone), else undefined. */
  readonly regs: UserRegs | undefined;
  /** Identity published to the guest (getpid & co, auxv). */
  readonly pid: number;
  readonly ppid: number;
  readonly uid: number;
  readonly gid: number;
  /** Signal dispositions (the process's) and the thread's mask. */
  readonly sigactions: Map<number, SigAction>;
  sigmask: bigint;
  /** The signals pending for this thread and for the process (their masks). */
  readonly pendingMask: bigint;
  /** sigaltstack's stack_t (24 bytes), recorded. */
  altstack: Uint8Array;
  /** set_tid_address pointer, robust list head (recorded). */
  clearTid: number;
  robustList: number;
  /** FS base for TLS (arch_prctl); the vCPU applies a change when fsBaseDirty is set. */
  fsBase: number;
  gsBase: number;
  fsBaseDirty: boolean;
  /** Writes a line of the guest's debug console (ToroV's hypercall 499) to torov's stderr. */
  console(text: Uint8Array): void;
  /** Warns once per name on stderr when --verbose (unimplemented syscalls and the like). */
  note(key: string, message: string): void;
}

/** The program's registers of the calling thread (sync registers of its parked vCPU). */
export interface UserRegs {
  /** All general registers, rip and rflags, as struct kvm_regs (144 bytes, a copy). */
  snapshot(): Buffer;
}

/** A syscall handler: returns the result, or -errno; its helpers may throw SysError (see above). */
export type Handler = (k: Kernel, a: Args) => number;

/** Handlers by syscall name, as each area module exports them. */
export type HandlerTable = Readonly<Record<string, Handler>>;
