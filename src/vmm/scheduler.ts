/**
 * The guest's threads, run: the kernel loop on Node's main thread.
 *
 * Every guest thread (a Task) has a vCPU. All VMM state is JavaScript on the main thread,
 * so the main thread serves every thread's syscalls; each vCPU runs on a host thread of
 * its own (src/vmm/vcpu-thread.ts, a HostThread) that loops on KVM_RUN and reports the
 * exits the VMM must see. No guest thread blocks another:
 *  - calls that may block on the host (a read on an empty pipe, accept, a poll with a
 *    timeout) run on the calling guest thread's own host thread, which is idle anyway
 *    while its guest thread waits (TaskServices.blockingCall);
 *  - waits that are the kernel's own (futexes, sleeps) are queues and timers here;
 *  - the main thread itself never blocks in a host call once there is more than one guest
 *    thread: it polls the channel pages and exit reports, and sleeps on the bell that
 *    every host thread rings, until the next timer at most.
 * A program with one thread runs as before threads existed: its vCPU may run on the main
 * thread ("direct": the exit path, and the channel until its host thread is ready or while
 * polling does not pay), and its blocking calls run on the main thread.
 *
 * Memory is one address space: every vCPU's page tables share the window's, and a change
 * that takes access away (munmap, mprotect) flips the host protection of the pages behind
 * it, which makes KVM drop every vCPU's cached translations before the call returns
 * (GuestMemory.invalidate: KVM's MMU notifier flushes all vCPUs' TLBs and waits for them).
 */
import { Args, BLOCKED, CloneSpec, GuestExit, Kernel, SigAction, SignalInfo, TaskServices, ThreadExit, ChildWait, ChildStatus, ExecImage, UserRegs } from '../syscalls/api';
import { CHAN, CHAN_BLOCKING, CHAN_DONE, CHAN_EXIT, VcpuPages } from '../machine/layout';
import { EAGAIN, EINTR, EINVAL, ESRCH, ETIMEDOUT, ENOSYS, ECHILD, ENOMEM, EMFILE, ENFILE, SysError } from '../linux/errno';
import { SIGKILL, SIGSTOP, SIGALRM, SIGVTALRM, SIGPROF, SA_RESTART, SA_RESTORER, SA_ONSTACK, SA_NODEFER, SA_RESETHAND,
  SS_DISABLE, MINSIGSTKSZ, sigmaskBit, defaultAction, signalName } from '../linux/signal';
import { encodeSiginfo, encodeSignalfdInfo, SIGNALFD_SIGINFO_SIZE, SI_USER, SI_KERNEL, SI_TIMER } from './sigstate';
import type { SignalFd } from '../syscalls/fdtable';
import { writeFrame, readFrame, belowRedZone } from './sigframe';
import { clockMs } from '../syscalls/thread';
import { inheritPrctl } from '../syscalls/process';
import type { FaultFrame } from './fault';
import { ThreadGroup } from './task';
import { RUN, REGS, KVM_EXIT_INTR } from '../kvm/kvm';
import { sys, addressOf } from '../host/libc';
import { F_GETFL, O_NONBLOCK, F_DUPFD_CLOEXEC } from '../linux/fcntl';
import { SYS as NR } from '../linux/syscalls';
import { Slot, HostThread, ChannelStats, SIG_KICK, installKick } from './channel';
import { Vcpu, VcpuHost } from './vcpu';
import { Task } from './task';
import { EXIT_KICK, EXIT_WAIT, EXIT_CTX, EXIT_SYSCALL, EXIT_INTERRUPTED, EXIT_FAULT } from './exits';
import { NEEDS_CONTEXT } from './needs-context';
import { takeHostSignal, onHostSignal, Stoppable } from './host-signals';
import { nowMs } from '../host/clock';

const CLONE_VM = 0x100, CLONE_FS = 0x200, CLONE_FILES = 0x400, CLONE_SIGHAND = 0x800, CLONE_VFORK = 0x4000, CLONE_THREAD = 0x10000,
  CLONE_SETTLS = 0x80000, CLONE_PARENT_SETTID = 0x100000, CLONE_CHILD_CLEARTID = 0x200000, CLONE_CHILD_SETTID = 0x1000000;
/** FUTEX_OWNER_DIED (linux/futex.h): set in a robust futex whose owner ended. */
const FUTEX_OWNER_DIED = 0x40000000, FUTEX_TID_MASK = 0x3fffffff, FUTEX_WAITERS = 0x80000000;
/** The most robust-list entries walked at a thread's end (Linux: ROBUST_LIST_LIMIT). */
const ROBUST_LIST_LIMIT = 2048;

/**
 * A single-threaded program's vCPU thread (the channel's) is started only after this many
 * exits, and takes its vCPU as soon as it is up: a Node worker costs a short run about
 * 15 ms here (starting it, the CPU it takes meanwhile, its memory at exit), which a
 * program making fewer calls than this (each exit 30-90 µs on kvm_pvm) would never win
 * back. bin/torov's early thread (a policy file) is used from the start.
 */
const LAZY_EXITS = 100;
/** How long the main thread polls without work before it sleeps. */
const IDLE_NS = 200_000n;
/**
 * Kicks in a row (for a pending signal) that may find a thread inside the stub with no call
 * in flight before the program is taken to be running there (see exit()). A real call spends
 * a few instructions there.
 */
const STUB_KICKS_MAX = 1000;
/** ...over at least this long (ms): a thread kicked often (Go's preemption signals) may take many kicks to leave the stub. */
const STUB_STALL_MS = 1000;
/** A call that took this long (ms) blocked: twice in a row, and the guest sleeps at once next time. */
const SLOW_MS = 1;
/** Syscalls that may block on the host (reads and writes of pipes and sockets, waits, sleeps, polls). */
const MAY_BLOCK = (() => {
  const t = new Uint8Array(512);
  for (const n of ['read', 'write', 'poll', 'ioctl', 'pread64', 'pwrite64', 'readv', 'writev', 'select', 'pause', 'nanosleep',
    'connect', 'accept', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'wait4', 'futex', 'clock_nanosleep', 'epoll_wait', 'waitid',
    'pselect6', 'ppoll', 'epoll_pwait', 'accept4', 'preadv', 'pwritev', 'recvmmsg', 'sendmmsg', 'rt_sigsuspend', 'rt_sigtimedwait',
    'epoll_pwait2'] as const) t[NR[n]] = 1;
  return t;
})();
/**
 * The calls of MAY_BLOCK that a signal already pending for a lone thread on the main thread
 * must be able to interrupt once they block (see beforeBlocking): there, nothing else
 * would. Not the signal waits (they take the signal), futex (a VMM wait) or ioctl.
 */
const SIGNAL_FIRST = (() => {
  const t = MAY_BLOCK.slice();
  for (const n of ['futex', 'ioctl', 'pause', 'rt_sigsuspend', 'rt_sigtimedwait'] as const) t[NR[n]] = 0;
  return t;
})();
/** The host's CPUs: guests that spin must leave one to the main thread and the threads that run. */
const HOST_CPUS: number = require('node:os').availableParallelism();
const DEBUG = process.env['TOROV_DEBUG_SCHED'] === '1';
/** How late a timer may fire (ms), so that it is never early for the guest's own clocks. */
export const TIMER_SLACK_MS = 0.25;
/** Requests per health check of the polling (see poll()). */
const WINDOW = 256;

/**
 * Where a futex's waiters queue: the process's own table by address (private memory, or a
 * FUTEX_PRIVATE_FLAG call), or the run's table of process-shared futexes by what the
 * memory is (AddressSpace.futexKey), so that a wake in one process reaches a waiter in another.
 */
interface FutexQueue { readonly map: Map<unknown, Task[]>; readonly key: unknown }

/** A thread's unfinished syscall: what it waits for. */
interface Wait {
  /**
   * host: a host call the thread's host thread performs for it; ready: its host thread
   * waits (ppoll) until host fds are ready, then the syscall is served again; futex, sleep:
   * the kernel's own queues and timers.
   */
  kind: 'host' | 'ready' | 'futex' | 'sleep' | 'signal' | 'sigwait' | 'child' | 'vfork';
  /** nowMs() ms when it times out (Infinity: never). */
  deadline: number;
  /** futex: the address and bitset waited on, and the queue it is on (Scheduler.futexQueue). */
  addr: number;
  bitset: number;
  fq: FutexQueue | undefined;
  /** host: what becomes of the host call's result. */
  then: ((r: number) => number) | undefined;
  /** sleep: nanosleep's remaining-time pointer (0: none). */
  rem: number;
  /** host, ready: memory the host call uses (pollfds, a copied iovec array), kept alive until it ends. */
  keep: Buffer | undefined;
  /** sigwait: the signals waited for, and where their siginfo goes (0: nowhere). */
  set: bigint;
  infop: number;
  /** sigwait on a signalfd read: how many struct signalfd_siginfo fit at infop (0: rt_sigtimedwait). */
  sfdMax: number;
  /** vfork: the child's pid, the parent's result once the child execs or ends. */
  child: number;
}

/** The main-thread tick's period (ms) once due. */
const TICK_MS = 2;
const tickSpec = Buffer.alloc(32);               // struct itimerspec: interval, value
const tickAddr = addressOf(tickSpec);

/** A one-shot CLOCK_MONOTONIC timer sending SIG_KICK to the calling (main) thread; undefined if the host refuses. */
function createMainTick(): number | undefined {
  installKick();
  const ev = Buffer.alloc(64);                   // struct sigevent: value, signo, notify, tid
  ev.writeInt32LE(SIG_KICK, 8);
  ev.writeInt32LE(4 /* SIGEV_THREAD_ID */, 12);
  ev.writeInt32LE(sys(NR.gettid), 16);
  const id = Buffer.alloc(4);
  return sys(NR.timer_create, 1 /* CLOCK_MONOTONIC */, addressOf(ev), addressOf(id)) < 0 ? undefined : id.readInt32LE(0);
}

/**
 * The main-thread tick, made once per process when this module loads on the main thread:
 * that is before the seccomp filter (src/cli/run.ts loads the VMM first), which allows
 * timer_settime but not timer_create. (The main thread is the one whose tid is the pid:
 * asking worker_threads would load it, about 2 ms of every start.)
 */
const MAIN_TICK = sys(NR.gettid) === sys(NR.getpid) ? createMainTick() : undefined;

/**
 * The time left to a timer's next expiry, as getitimer and timer_gettime report it. A
 * deadline that passed before the VMM fired the timer (the VMM was busy: the program is not
 * told before its next exit) counts as fired: a periodic timer reports what is left of the
 * current period, as Linux's, whose timer fires on time, would; a one-shot timer 0.
 */
function remainingMs(tm: { deadline: number; interval: number }): number {
  const left = tm.deadline - nowMs();
  if (left > 0) return left;
  if (tm.interval <= 0) return 0;
  return tm.interval - (-left % tm.interval);
}

/** Something for the main thread to sleep on (Atomics.wait) when it waits alone. */
const mainSleep = new Int32Array(new SharedArrayBuffer(4));

/** The 8-byte counter written to and read from signalfds' eventfds. */
const eventfdBuf = Buffer.alloc(8);
const eventfdAddr = addressOf(eventfdBuf);

/** Signals no mask can block. */
const UNBLOCKABLE = sigmaskBit(SIGKILL) | sigmaskBit(SIGSTOP);
/** The end of the user half of the address space (a sigreturn may not go above it). */
const USER_TOP = 0x7ffffffff000;
/** Syscalls Linux restarts after a handler with SA_RESTART (they return ERESTARTSYS when interrupted). */
const RESTARTABLE = (() => {
  const t = new Uint8Array(512);
  for (const n of ['read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'recvfrom', 'sendto', 'recvmsg',
    'sendmsg', 'accept', 'accept4', 'connect', 'wait4', 'waitid', 'flock', 'fcntl', 'ioctl', 'open', 'openat', 'futex', 'splice',
    'sendfile', 'tee', 'recvmmsg', 'sendmmsg'] as const) t[NR[n]] = 1;
  return t;
})();

/** Guest syscalls that a stop ends with EINTR though no handler runs (signal(7)): the epoll waits. */
const STOP_EINTR: ReadonlySet<number> = new Set((['epoll_wait', 'epoll_pwait', 'epoll_pwait2'] as const).map((n) => NR[n]));

/** True if signal `sig` is ignored by the process (SIG_IGN, or SIG_DFL for one ignored by default). */
function ignored(g: ThreadGroup, sig: number): boolean {
  const h = g.sigactions.get(sig)?.handler ?? 0n;
  if (h === 1n) return true;
  if (h !== 0n) return false;
  const d = defaultAction(sig);
  return d === 'ign' || d === 'cont';
}

/** True if `sig`'s action ends the program (SIG_DFL of a signal that terminates or dumps core). */
function isFatal(g: ThreadGroup, sig: number): boolean {
  if ((g.sigactions.get(sig)?.handler ?? 0n) !== 0n) return false;
  const d = defaultAction(sig);
  return d === 'term' || d === 'core';
}

/** A thread's alternate signal stack, if it has one enabled. */
function altstackOf(t: Task): { sp: number; size: number } | undefined {
  const a = Buffer.from(t.altstack);
  const size = Number(a.readBigUInt64LE(16));
  if (size === 0 || (a.readInt32LE(8) & SS_DISABLE)) return undefined;
  return { sp: Number(a.readBigUInt64LE(0)), size };
}

/** A process timer: setitimer's and POSIX timers. */
interface Timer {
  /** nowMs() ms of the next expiry (Infinity: disarmed). */
  deadline: number;
  interval: number;
  /** CLOCK_REALTIME timers set with an absolute time convert on that clock. */
  clock: number;
  notify: number;
  signo: number;
  value: bigint;
  /** SIGEV_THREAD_ID: the thread. */
  tid: number;
  overrun: number;
  /** The process it belongs to. */
  group: ThreadGroup;
}

/** Runtime state of a thread on the scheduler (its vCPU, host thread, channel page). */
export interface TaskRun {
  vcpu: Vcpu;
  slot: Slot | undefined;
  thread: HostThread | undefined;
  /** The unfinished syscall's wait, if the thread waits. */
  wait: Wait | undefined;
  /** A channel request that needs the thread's registers: served at its PORT_CTX exit. */
  ctxPending: boolean;
  /** The syscall being served came through the channel (else through a VM exit). */
  viaChannel: boolean;
  /** The number of the syscall being served (for restarting it after a handler, SA_RESTART). */
  sysNr: number;
  /** A signal interrupts its host call: the host thread is kicked until the call ends. */
  interrupted: boolean;
  /** A result to write when the guest leaves the VM at PORT_CTX so that a signal is delivered first. */
  ctxResult: number | undefined;
  /** The vCPU was kicked for a signal but stopped inside torov's stub: kick it again. */
  wantKick: boolean;
  /** Kicks in a row, with no call or other exit between them, that found the vCPU in the stub with no call in flight (STUB_KICKS_MAX). */
  stubKicks: number;
  /** When the first of those kicks came (nowMs() ms). */
  stubSince: number;
  /** The vCPU is out of KVM_RUN, parked until resume() (exit path, or after its exit). */
  parked: boolean;
  /** The syscall number being served (for adaptive spinning). */
  nr: number;
  /** An exit reported while a debugger stopped every vCPU (stopWorld), handled when the thread may run again. */
  held: number | undefined;
  t0: number;
  dead: boolean;
  /** Its host thread's CPU time (ns) when it was bound (-1: not bound, or counted). */
  cpu0: number;
}

/** What the scheduler needs of a process's VM (src/vmm/machine.ts's Machine). */
export interface ProcessHost extends SchedulerHost {
  readonly group: ThreadGroup;
  readonly task: Task;
  readonly vcpu: Vcpu;
  /** Set when the process ended in a state that rules out reusing its VM. */
  tainted: boolean;
  /** Set when the vCPU's last KVM_RUN was made to complete a pending I/O exit (close() need not). */
  ioCompleted: boolean;
  /** A fork of the process as process `pid`, started from `regs` and `fpu`. */
  fork(task: Task, regs: Buffer, fpu: Buffer | undefined, pid: number): ProcessHost;
  /** A vfork child that borrows the VM, or why it cannot (it gets a copy: fork). */
  lend(task: Task, regs: Buffer, fpu: Buffer | undefined, pid: number): ProcessHost | string;
  /** A borrowing vfork child's own VM for its exec (only a Loan has it). */
  adopt?(task: Task, image: Uint8Array): ProcessHost;
  /** A borrowing vfork child left the lender's vCPU (only a Loan has it). */
  returned?(): void;
  /** The VM a borrowing vfork child runs on (only a Loan has it). */
  readonly lender?: ProcessHost;
  /** The channel page of a fork's first thread. */
  firstSlot(): Slot | undefined;
  /** Loads a new program into the process (execve). */
  exec(task: Task, prog: ExecImage): void;
  /** Releases the VM, its memory and the process's fds. */
  close(): void;
}

const WNOHANG = 1, WUNTRACED = 2, WEXITED = 4, WCONTINUED = 8, WNOWAIT = 0x01000000, __WALL = 0x40000000, __WCLONE = 0x80000000;
const SIGHUP = 1, SIGCHLD = 17, SIGCONT = 18, SA_NOCLDSTOP = 1, SA_NOCLDWAIT = 2;
/** The stop signals (signal(7)): SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU. */
const STOP_MASK = sigmaskBit(SIGSTOP) | sigmaskBit(20) | sigmaskBit(21) | sigmaskBit(22);
/** si_code of SIGCHLD (asm-generic/siginfo.h): the child exited, was killed, stopped, continued. */
const CLD_EXITED = 1, CLD_KILLED = 2, CLD_STOPPED = 5, CLD_CONTINUED = 6;

const cpuClockBuf = Buffer.alloc(16);
const cpuClockAddr = addressOf(cpuClockBuf);
/** CPU time (ns) of thread `tid` of this process, from its per-thread CPU clock (guest time on a vCPU thread included); 0 if unreadable. */
function threadCpuNs(tid: number): number {
  // MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED): ~tid << 3 | CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED.
  if (sys(NR.clock_gettime, (~tid << 3) | 6, cpuClockAddr) < 0) return 0;
  return Number(cpuClockBuf.readBigInt64LE(0)) * 1e9 + Number(cpuClockBuf.readBigInt64LE(8));
}

/** A new thread's or process's registers: the parent's (struct kvm_regs), rax 0, rsp the new stack if one is given. */
function childRegs(parent: UserRegs, spec: CloneSpec): Buffer {
  const regs = parent.snapshot();
  regs.writeBigUInt64LE(0n, REGS.rax);
  if (spec.stack !== 0) regs.writeBigUInt64LE(BigInt.asUintN(64, BigInt(spec.stack)), REGS.rsp);
  return regs;
}

/** The VM of process `g`. */
function vmOf(g: ThreadGroup): ProcessHost {
  return g.vm as unknown as ProcessHost;
}

/** What the scheduler needs of the VM. */
export interface SchedulerHost extends VcpuHost, Stoppable {
  /** A vCPU (new or reused) for a new thread, its registers a copy of `regs` (struct kvm_regs) and its FPU state `fpu`. */
  newVcpu(task: Task, regs: Buffer, fpu: Buffer | undefined): Vcpu | number;
  /** Gives a finished thread's vCPU back for reuse. */
  freeVcpu(v: Vcpu): void;
  /** A channel page for vCPU `index`, set up (fast paths published for `task`). */
  newSlot(pages: VcpuPages, task: Task): Slot | undefined;
  /** The thread limit (--threads). */
  readonly maxThreads: number;
  /** The XSAVE area's size and features for the guest's XCR0 (signal frames). */
  readonly xsave: { size: number; features: bigint };
  readonly cpus: number;
}

/**
 * A debugger attached to a program with threads (src/gdb/target.ts): the scheduler asks it
 * at the points where it may stop the program (all-stop: every vCPU parked).
 */
export interface DebugHook {
  /** True when the debugger wants the program stopped (Ctrl-C): checked in the run loops. */
  wantsStop(): boolean;
  /** Stop now (the hook parks every vCPU with stopWorld() and resumes them with startWorld()). */
  stop(): void;
  /** Thread `t` is about to run on (its syscall done): the debugger may stop first (a step over a syscall). */
  beforeResume(t: Task): void;
  /**
   * Signal `info` is about to be delivered to thread `t` (its handler run, or its default
   * action taken): the debugger may stop first. Returns what to deliver instead (the same,
   * another signal, or undefined: nothing).
   */
  signal(t: Task, info: SignalInfo): SignalInfo | undefined;
  /** Thread `t` ended (exit while others run). */
  threadExited(t: Task): void;
  /** The program ended. */
  exited(e: GuestExit): void;
}

export class Scheduler implements TaskServices {
  /** The debugger, when gdb debugs a program with threads. */
  debug: DebugHook | undefined;
  /** Threads a debugger keeps stopped while it resumes others (vCont;s:TID): resume() leaves them parked. */
  readonly frozen = new Set<Task>();
  /**
   * Threads parked for a debugger (stopWorld, or a resume refused while frozen or held):
   * startWorld() resumes these only. A thread parked because its exit is being handled
   * further up the stack (its syscall, its signal) is resumed by that handling, never here.
   */
  private readonly debugParked = new Set<Task>();
  /** Live threads of every process, in creation order; the first is the first program's first thread. */
  readonly tasks: Task[] = [];
  /** --trace is on (calls that waited get a "resumed" line). */
  private readonly tracing: boolean;
  /** True once a process was forked (see direct()). */
  private forked = false;
  /** The first process (the run's "init": its end ends the run). */
  initGroup!: ThreadGroup;
  /** Processes by pid: the live ones and the zombies not reaped yet. */
  readonly procs = new Map<number, ThreadGroup>();
  /** The most threads of all processes alive at once (fork and clone fail with EAGAIN past it). */
  taskLimit = 1024;
  private readonly runs = new Map<Task, TaskRun>();
  private readonly sleepers = new Set<Task>();
  private nextTid: number;
  readonly stats: ChannelStats = { served: 0, kicks: 0, waits: 0, exits: 0, sleeps: 0, handedOver: false, handoverAt: 0, backoffs: 0 };
  /** Single-threaded channel runs: the exits so far on the main thread, and the polling's health. */
  private directExits = 0;
  private threadWanted: boolean;
  private windowServed = 0;
  private late = 0;
  private lastKicks = 0;
  private backoffLevel = 0;
  private backoffChecks = 0;
  private directUntil = 0n;
  private siteHook: ((retAddr: number, nr: number) => void) | undefined;
  /** Process timers (alarm, setitimer, timer_create) by id; ITIMER_REAL/VIRTUAL/PROF are ids -1, -2, -3. */
  private readonly timers = new Map<number, Timer>();
  private nextTimerId = 0;
  /** How many timers are armed. */
  private armed = 0;
  private kickTick = 0;

  constructor(private readonly host: SchedulerHost, private readonly ring: boolean, private readonly spawn: boolean, firstTid: number) {
    this.nextTid = firstTid + 1;
    this.tracing = (host as { cfg?: { traceFd?: number } }).cfg?.traceFd !== undefined;
    // A sandboxed VMM's bin/torov started a vCPU thread early (before the jail): use it.
    this.threadWanted = (globalThis as { __torovEarlyWorker?: unknown }).__torovEarlyWorker !== undefined || HostThread.anyStarted();
  }

  /** A host timer that interrupts the main thread's KVM_RUN (SIG_KICK), for timers while a lone vCPU runs there. */
  private readonly tick: number | undefined = MAIN_TICK;

  /**
   * Arms the main-thread tick for the next timer, at most `cap` ms away (KVM_RUN: a host
   * thread may be ready by then). A host call the tick interrupts is restarted unless a
   * signal became deliverable (restartEintr).
   */
  private armTick(cap = Infinity): void {
    if (this.tick === undefined) return;
    const next = this.nextDeadline();
    if (next === Infinity && cap === Infinity) return;
    const ms = Math.max(0.05, Math.min(cap, next - nowMs()));
    // Then every TICK_MS: a tick that came while the main thread was not blocked in a host
    // call (it interrupts nothing then) is followed by another.
    tickSpec.writeBigInt64LE(BigInt(TICK_MS * 1e6), 8);
    tickSpec.writeBigInt64LE(0n, 16);
    tickSpec.writeBigInt64LE(BigInt(Math.round(ms * 1e6)), 24);
    if (sys(NR.timer_settime, this.tick, 0, tickAddr, 0) === 0) this.ticking = true;
  }

  private ticking = false;

  /** Stops the main-thread tick (no timer armed, or the vCPU went to a host thread). */
  private stopTick(): void {
    if (!this.ticking || this.tick === undefined) return;
    this.ticking = false;
    tickSpec.fill(0);
    sys(NR.timer_settime, this.tick, 0, tickAddr, 0);
  }

  /** True when the main thread must never block for a thread: more than one, or timers that must fire on time. */
  get concurrent(): boolean {
    if (this.tasks.length > 1) return true;
    // A lone thread with timers whose vCPU runs on the main thread (no host thread yet)
    // makes its host calls here: the main-thread tick interrupts them for the timers.
    return this.armed > 0 && this.tasks.length === 1 && this.runs.get(this.tasks[0]!)?.thread !== undefined;
  }
  get cpus(): number { return this.host.cpus; }
  /** How many process timers are armed (a snapshot refuses them). */
  get armedTimers(): number { return this.armed; }
  get threadCount(): number { return this.tasks.length; }

  /** Called with the return address of each trapped `syscall` served (site rewriting, src/vmm/rewrite.ts). */
  set onSite(f: ((retAddr: number, nr: number) => void) | undefined) {
    this.siteHook = f;
    // With sites rewritten, fast-path calls must reach the host once per site to be rewritten.
    for (const r of this.runs.values()) r.slot && Atomics.store(r.slot.page, CHAN.TRAPFAST >> 2, f ? 0 : 1);
  }

  /** Adds a thread with its vCPU (and channel page). */
  add(task: Task, vcpu: Vcpu, slot: Slot | undefined): TaskRun {
    if (!this.initGroup) this.initGroup = task.group;
    if (!this.procs.has(task.group.pid)) this.procs.set(task.group.pid, task.group);
    const r = this.newRun(vcpu, slot);
    this.tasks.push(task);
    this.runs.set(task, r);
    return r;
  }

  /** A thread's run on `vcpu`, parked until it is bound to a host thread. */
  private newRun(vcpu: Vcpu, slot: Slot | undefined): TaskRun {
    if (slot) vcpu.sink = this;
    return { vcpu, slot, thread: undefined, wait: undefined, ctxPending: false, viaChannel: false, sysNr: -1, interrupted: false,
      ctxResult: undefined, wantKick: false, stubKicks: 0, stubSince: 0, parked: true, nr: -1, t0: 0, dead: false, held: undefined, cpu0: -1 };
  }

  run_(task: Task): TaskRun { return this.runs.get(task)!; }

  // ---- the loop ----------------------------------------------------------------------------

  /** Runs the program until it ends; returns its exit status. */
  run(): number {
    try {
      for (;;) {
        if (this.loansReturned.length > 0) this.settleLoans();
        const first = this.runs.get(this.tasks[0]!)!;
        if (this.tasks.length === 1 && !this.tasks[0]!.group.stopped && this.direct(first)) {
          this.hostSignals();
          if (this.host.stop.requested) first.vcpu.stopNow();
          if (first.thread) { this.unbind(first); }
          if (!this.channelBusy(first)) first.viaChannel = false;
          if (this.armed > 0) this.armTick(10); else this.stopTick();
          this.tickForSignal = false;
          const held = first.held;
          first.held = undefined;
          const rc = held ?? first.vcpu.fd.runOnce();
          // The syscall's host calls made here are interrupted when the next timer is due.
          if (this.armed > 0) this.armTick();
          const kind = first.vcpu.handleExit(rc);
          this.directExits++;
          if (this.armed > 0) this.expireTimers();
          if (kind === EXIT_INTERRUPTED) this.hostSignals();
          if (this.debug && (kind === EXIT_INTERRUPTED || kind === EXIT_SYSCALL) && !first.vcpu.inStub() && this.debug.wantsStop()) this.debug.stop();
          // A signal is delivered where the vCPU holds the program's registers: after an
          // exit-path syscall, or at an interruption in its code (the channel's exits go
          // through PORT_CTX for that).
          if (!first.wait && this.tasks[0]!.sigFlag && (kind === EXIT_SYSCALL || (kind === EXIT_INTERRUPTED && !first.vcpu.inStub()))) {
            this.userReturn(this.tasks[0]!, first);
          }
          continue;
        }
        if (!this.bindAll()) { this.waitForThreads(); continue; }
        this.stopTick();
        if (DEBUG) this.debugState('poll');
        if (!this.stats.handedOver) { this.stats.handedOver = true; this.stats.handoverAt = this.directExits; }
        this.poll();
      }
    } catch (e) {
      if (e instanceof GuestExit) {
        this.stopAll();
        this.closeProcesses();
        this.debug?.exited(e);
        return this.host.finish(e);
      }
      this.stopAll();
      this.closeProcesses();
      throw e;
    }
  }

  /** The run ended: every other process's VM is released. */
  private closeProcesses(): void {
    for (const g of this.procs.values()) {
      if (g === this.initGroup || !g.alive) continue;
      g.alive = false;
      const vm = vmOf(g);
      try { vm.close(); } catch { /* the run's end is reported by the caller */ }
      if (vm.returned) this.loansReturned.push(vm);
    }
    this.settleLoans();
  }

  /**
   * A debugger stops the program: every vCPU leaves the guest and is parked. One that
   * stopped inside torov's stub (a syscall or exception entry, a few instructions) runs
   * on to the stub's report, so that every thread shows the program's state; an exit
   * reported meanwhile is kept (held) and handled when the thread may run again.
   */
  stopWorld(): void {
    for (const t of this.tasks) {
      const r = this.runs.get(t)!;
      const h = r.thread;
      if (!h?.running) continue;
      let rc = h.stopSync(r.vcpu.fd.runU8);
      for (let i = 0; i < 10 && rc !== undefined && interrupted(r.vcpu, rc) && r.vcpu.inStub(); i++) {
        h.go();
        Atomics.wait(h.ctl, 1 /* EXIT */, h.seen, 5);
        rc = h.exited() ? h.takeExit() : h.stopSync(r.vcpu.fd.runU8);
      }
      r.parked = true;
      this.debugParked.add(t);
      if (rc !== undefined && !interrupted(r.vcpu, rc)) r.held = rc;
    }
  }

  /**
   * The debugger lets the program run again: every parked thread that is not waiting, held
   * or frozen, but `except` (the thread whose exit is being handled: its handler resumes it).
   */
  startWorld(except?: Task): void {
    for (const t of [...this.debugParked]) {
      const r = this.runs.get(t);
      if (!r || r.dead) { this.debugParked.delete(t); continue; }
      if (t !== except && r.parked && !r.wait && r.held === undefined && r.thread) this.resume(r);
    }
  }

  /**
   * Delivers thread `t`'s deliverable signals now (a debugger's loop, after a syscall or at
   * a stop, where the vCPU holds the program's registers and is not running).
   */
  deliverSignals(t: Task): void {
    const r = this.runs.get(t);
    if (r && !r.wait && !r.dead && t.sigFlag) this.userReturn(t, r);
  }

  /** True while a timer (alarm, setitimer, timer_create) is armed. */
  get timersArmed(): boolean { return this.armed > 0; }

  /** Queues signal `info` for thread `t` (a debugger's `signal SIG`); GuestExit if its action ends the program. */
  queueSignal(t: Task, info: SignalInfo): void {
    this.post(t.group, t, info);
  }

  /** The thread `t`'s vCPU, and whether it waits in a syscall (for the debugger's thread list). */
  threadState(t: Task): { vcpu: Vcpu; waiting: string | undefined } | undefined {
    const r = this.runs.get(t);
    return r ? { vcpu: r.vcpu, waiting: r.wait?.kind } : undefined;
  }

  /**
   * True if the single thread's vCPU runs on the main thread now: always on the exit path
   * (nothing to gain from a second thread), and with the channel until a host thread is
   * ready and while a back-off (see poll()) lasts.
   */
  private direct(r: TaskRun): boolean {
    if (r.wait) return false;
    // A program that started processes stays on its host thread: moving its vCPU between
    // threads at each fork and each child's end costs KVM an RCU grace period each time.
    if (this.procs.size > 1 || (this.forked && (r.thread !== undefined || HostThread.available()))) return false;
    if (this.armed > 0) {
      // Timers need the main thread free to keep time, so the vCPU goes to a host thread;
      // until one is ready it runs here, and the timers are checked at each of its exits.
      if (r.thread || HostThread.available()) return false;
      HostThread.prestart();
      return true;
    }
    if (!this.ring) return true;
    if (!this.threadWanted && this.spawn && this.directExits >= LAZY_EXITS) this.threadWanted = true;
    if (!this.threadWanted) return true;
    // Only a thread not bound yet needs one started: after a back-off the bound one is
    // still there, and under the sandbox's filter no new thread may be made (SIGSYS).
    if (!r.thread) HostThread.prestart();
    if (!r.thread && !HostThread.available()) return true;
    return this.inBackoff();
  }

  /** True while polling has been given up for a while (see poll()); checks the clock every 64 calls. */
  private inBackoff(): boolean {
    if (this.directUntil === 0n) return false;
    if ((++this.backoffChecks & 63) !== 0) return true;
    if (process.hrtime.bigint() < this.directUntil) return true;
    this.directUntil = 0n;
    return false;
  }

  /** Gives every live thread a host thread; false if one is still starting. */
  private bindAll(): boolean {
    for (const t of this.tasks) {
      const r = this.runs.get(t)!;
      if (r.thread) continue;
      const h = HostThread.get(r.vcpu.fd.fd);
      if (!h) return false;
      r.thread = h;
      r.cpu0 = threadCpuNs(h.tid);
      h.bind(r.vcpu.fd.fd, r.vcpu.fd.runAddr, r.slot ? r.slot.addr : 0);
    }
    // Keep one spare starting, so the next clone finds a thread ready.
    if (this.tasks.length > 1) HostThread.prestart();
    return true;
  }

  /**
   * Runs `write` (a patch of the program's code, src/vmm/rewrite.ts) with every other
   * vCPU out of the guest; false (nothing written) if one of them stopped inside
   * (start, end). They run on afterwards.
   */
  patchGuard(start: number, end: number, write: () => void): boolean {
    // Only the first process's code is rewritten (its rewriter): its threads are the ones to stop.
    const mine = this.initGroup.tasks;
    if (mine.length <= 1) { write(); return true; }
    const stopped: Array<[Task, TaskRun, number | undefined]> = [];
    for (const t of mine) {
      const r = this.runs.get(t)!;
      if (!r.thread?.running || this.channelBusy(r)) continue;     // parked, or spinning in the stub
      stopped.push([t, r, r.thread.stopSync(r.vcpu.fd.runU8)]);
      r.parked = true;
    }
    let inside = false;
    for (const t of mine) {
      const r = this.runs.get(t)!;
      if (!r.parked) continue;
      const rip = r.vcpu.reg(RIP_W);
      if (rip > start && rip < end) inside = true;
    }
    if (!inside) write();
    for (const [t, r, rc] of stopped) {
      if (rc !== undefined) this.guard(t, () => this.exit(t, r, rc)); else this.resume(r);
    }
    return !inside;
  }

  /**
   * A host call made on the main thread returned EINTR: a host signal interrupted it (the
   * handlers are installed without SA_RESTART). The signal goes to the program now; true if
   * the program has nothing to take from it (ignored, blocked): the call is made again.
   */
  /**
   * Called before syscall `nr` of a lone thread served on the main thread. When a signal is
   * already deliverable (a timer fired while its vCPU was in the stub) and the call may
   * block, the main-thread tick is armed: if the host call blocks, the tick interrupts it
   * within TICK_MS and it returns EINTR (restartEintr sees the signal was there before);
   * if it does not block, it completes, as on Linux where the signal could as well have
   * come just after it, and the handler runs at its return. (Returning EINTR at once would
   * make a write to a pipe with room fail, and stdio lose the line.)
   */
  beforeBlocking(task: Task, nr: number): void {
    if (this.concurrent) return;
    if (this.armed > 0) this.expireTimers();
    if (task.sigFlag && nr >= 0 && nr < 512 && SIGNAL_FIRST[nr] === 1) {
      this.armTick(TICK_MS);
      this.tickForSignal = true;
    }
  }

  /** The tick was armed by beforeBlocking for a pending signal (stopped after the call). */
  private tickForSignal = false;

  restartEintr(task: Task): boolean {
    const before = task.sigFlag;
    this.hostSignals();
    if (this.armed > 0) { this.expireTimers(); this.armTick(); }
    // --timeout (or a stop) ends the run here: the call must not be made again.
    if (this.host.stop.requested) this.runs.get(task)!.vcpu.stopNow();
    return !before && !task.sigFlag;
  }

  /** Hands signals sent to torov from the host to the program (src/vmm/host-signals.ts). */
  private hostSignals(): void {
    const sig = takeHostSignal();
    if (sig !== 0) onHostSignal(this.host, sig);
  }

  private waitForThreads(): void {
    this.hostSignals();
    if (DEBUG) this.debugState('wait-threads');
    if (!HostThread.canStart()) {
      // No host thread can come (the seccomp filter forbids new ones): a lone thread's wait
      // is kept here, on the main thread, until a timer or a host signal ends it.
      if (this.tasks.length > 1) throw new Error('the program\'s threads need vCPU threads, which the VMM\'s seccomp filter forbids');
      const next = this.nextDeadline();
      const ms = next === Infinity ? 50 : Math.max(0, Math.min(50, next - nowMs()));
      if (ms > 0) Atomics.wait(mainSleep, 0, 0, ms);
      this.expireTimers();
      if (this.host.stop.requested) this.tasks[0] && this.runs.get(this.tasks[0])!.vcpu.stopNow();
      return;
    }
    const next = this.nextDeadline();
    if (!HostThread.waitReady(Math.max(1, Math.min(10, next - nowMs())))) {
      // Nothing can run until a host thread is ready; timers and stops still count.
      this.expireTimers();
      if (this.host.stop.requested) this.tasks[0] && this.runs.get(this.tasks[0])!.vcpu.stopNow();
    }
  }

  /** Takes a vCPU back onto the main thread (single-threaded direct runs). */
  private unbind(r: TaskRun): void {
    const h = r.thread!;
    if (h.running) this.settle(r, h.stopSync(r.vcpu.fd.runU8));
    this.account(r.vcpu.task, r, h);
    r.thread = undefined;
    HostThread.release(h);
  }

  /** A reported exit that arrived while the vCPU was being taken back: handle it now. */
  private settle(r: TaskRun, rc: number | undefined): void {
    if (rc === undefined) return;
    r.vcpu.handleExit(rc);
  }

  /**
   * Polling: host threads run the vCPUs, this thread serves the channel pages and the
   * exits they report. Returns when a single-threaded program's polling does not pay:
   * when, over a window of requests, a quarter or more found this thread asleep or late
   * (the guest had to kick it, or had given up spinning before the request was picked
   * up). That happens when the guest makes syscalls rarely (nothing to gain) or when the
   * machine has no CPU to spare for a polling thread. The vCPU then runs on this thread
   * for a back-off period (50 ms, doubling up to 1.6 s while it keeps happening).
   */
  private poll(): void {
    for (const t of this.tasks) { const r = this.runs.get(t)!; r.slot?.setPolling(true); if (r.parked && !r.wait && !r.dead && r.held === undefined) this.resume(r); }
    this.windowServed = 0; this.late = 0;
    this.lastKicks = 0;
    for (const t of this.tasks) this.lastKicks += this.runs.get(t)!.thread!.kicks();
    let giveUp = false;
    let idleSince = process.hrtime.bigint(), n = 0;
    try {
      for (;;) {
        let work = false;
        if (this.toResume.size > 0) { this.resumeContinued(); work = true; }
        if (this.loansReturned.length > 0) this.settleLoans();
        // A snapshot: clone adds to this.tasks, a thread's end removes from it.
        const tasks = this.tasks.length === 1 ? this.tasks : this.tasks.slice();
        for (let i = 0; i < tasks.length; i++) {
          const t = tasks[i]!, r = this.runs.get(t);
          if (!r || r.dead) continue;            // ended meanwhile (its process was killed)
          const h = r.thread;
          if (!h) return;                        // a new thread without a host thread yet
          try {
          if (r.held !== undefined && !this.frozen.has(t) && !t.group.stopped) {
            const rc = r.held;
            r.held = undefined;
            this.debugParked.delete(t);                  // handled now: resumed by exit(), as any exit
            this.exit(t, r, rc);
            work = true;
            if (r.dead) continue;
          }
          if (r.slot && r.slot.posted()) {
            if (h.waiting()) this.late++;
            this.serve(t, r);
            work = true;
            if (this.tasks.length === 1 && ++this.windowServed >= WINDOW) {
              const kicks = h.kicks();
              this.late += kicks - this.lastKicks;
              this.lastKicks = kicks;
              if (this.late * 4 >= WINDOW) { giveUp = true; r.slot.setPolling(false); } else this.backoffLevel = 0;
              this.windowServed = 0; this.late = 0;
              // The guest's waits (PORT_WAIT) stay on its host thread, so no exit may come
              // soon: take the vCPU back now, once the result is posted and it runs on.
              if (giveUp && !r.wait && h.running && !h.exited()) { h.kick(r.vcpu.fd.runU8, true); }
            }
          }
          if (h.exited()) {
            this.stats.exits++;
            const rc = h.takeExit();
            // A kick's immediate_exit has done its work: this exit is the VMM's chance.
            r.vcpu.fd.runU8[RUN.immediate_exit] = 0;
            r.parked = true;
            const backoff = giveUp && this.tasks.length === 1;
            this.exit(t, r, rc, !backoff);
            work = true;
            if (backoff && r.parked && !r.wait) {
              this.stats.backoffs++;
              this.directUntil = process.hrtime.bigint() + (50_000_000n << BigInt(this.backoffLevel));
              this.backoffLevel = Math.min(this.backoffLevel + 1, 5);
              return;
            }
          }
          if ((r.wait?.kind === 'host' || r.wait?.kind === 'ready') && h.hostDone()) { this.hostDone(t, r); work = true; }
          else if (r.interrupted && (++this.kickTick & 1023) === 0) h.kick(r.vcpu.fd.runU8, false);
          if (r.wantKick && !r.parked && (++this.kickTick & 1023) === 0) { r.wantKick = false; if (t.sigFlag) this.kickVcpu(r); }
          } catch (e) {
            // The thread's process ended (exit_group, a fatal signal or fault): only it, unless it is the first.
            if (!(e instanceof GuestExit) || t.group === this.initGroup || !t.group.alive) throw e;
            this.endProcess(t.group, e);
            work = true;
          }
        }
        if ((this.sleepers.size > 0 || this.armed > 0) && this.expireTimers()) work = true;
        this.hostSignals();
        if (this.debug?.wantsStop()) { this.debug.stop(); work = true; }
        if (this.host.stop.requested) this.runs.get(this.tasks[0]!)!.vcpu.stopNow();
        if (this.tasks.length === 1 && this.runs.get(this.tasks[0]!)!.thread === undefined) return;
        if (work) { n = 0; idleSince = 0n; continue; }
        if ((++n & 255) === 0) {
          // Let another thread that wants this CPU run (the guest's peer, a client): a
          // polling thread must not make the machine oversubscribed. Free when nothing waits.
          sys(NR.sched_yield);
          if ((n & 1023) !== 0) continue;
          const now = process.hrtime.bigint();
          if (idleSince === 0n) idleSince = now;
          else if (now - idleSince > IDLE_NS) { this.idleSleep(); idleSince = 0n; }
        }
      }
    } finally {
      for (const t of this.tasks) this.runs.get(t)!.slot?.setPolling(false);
    }
  }

  /** Nothing to do for a while: stop polling and sleep on the bell until a host thread rings it or a timer is due. */
  private idleSleep(): void {
    const { bell, BELL, MAIN_SLEEPING } = require('./vcpu-thread') as typeof import('./vcpu-thread');
    const seen = Atomics.load(bell, BELL);
    for (const t of this.tasks) this.runs.get(t)!.slot?.setPolling(false);
    Atomics.store(bell, MAIN_SLEEPING, 1);
    // Dekker: a guest posts then reads C_POLL; this side clears C_POLL then reads C_STATE.
    let work = false;
    for (const t of this.tasks) {
      const r = this.runs.get(t)!;
      if ((r.slot && r.slot.posted()) || r.thread?.exited() || ((r.wait?.kind === 'host' || r.wait?.kind === 'ready') && r.thread?.hostDone())) { work = true; break; }
    }
    if (!work) {
      if (DEBUG) this.debugState('sleep');
      this.stats.sleeps++;
      const next = this.nextDeadline();
      // At most 50 ms: a host signal (Atomics.wait does not wake for one) is taken then.
      const ms = next === Infinity ? 50 : Math.max(0, Math.min(50, next - nowMs()));
      if (ms > 0) Atomics.wait(bell, BELL, seen, ms);
    }
    Atomics.store(bell, MAIN_SLEEPING, 0);
    for (const t of this.tasks) this.runs.get(t)!.slot?.setPolling(true);
  }

  // ---- serving a thread ----------------------------------------------------------------------

  /** Serves a thread's posted channel request. */
  private serve(t: Task, r: TaskRun): void {
    const slot = r.slot!;
    const nr = slot.take();
    if (nr === -2) return;
    this.stats.served++;
    r.stubKicks = 0;                             // a call: the thread is not stuck in the stub
    const site = slot.site();
    if (site !== 0 && this.siteHook && t.group === this.initGroup) this.siteHook(site, nr);   // the first program's rewriter
    if (nr >= 0 && nr < 512 && NEEDS_CONTEXT[nr]) {
      // Its registers are needed: the guest leaves to the VMM (PORT_CTX) and the call is served there.
      r.ctxPending = true;
      slot.post(0, CHAN_EXIT);
      r.thread?.wake();
      return;
    }
    // Adaptive spinning: a call that may block and blocked long the last two times is
    // expected to block again, and the guest is told to sleep at once instead of spending
    // its spin budget; one quick return makes it spin again.
    const timed = nr >= 0 && nr < 512 && MAY_BLOCK[nr] === 1;
    if (timed) {
      if (slot.slow[nr]! >= 2) slot.setState(CHAN_BLOCKING);
      r.t0 = nowMs();
    }
    r.nr = timed ? nr : -1;
    r.viaChannel = true;
    r.sysNr = nr;
    this.beforeBlocking(t, nr);
    let result = this.dispatch(t, r, nr, slot.args);
    while (result === -EINTR && !this.concurrent && this.restartEintr(t)) result = this.dispatch(t, r, nr, slot.args);
    if (this.tickForSignal) { this.tickForSignal = false; if (this.armed === 0) this.stopTick(); }
    if (result === BLOCKED) {
      // A host call needs the thread's host thread, so the guest must sleep (PORT_WAIT)
      // at once, as for a wait for a child (it runs for a while). A kernel wait (futex, sleep) may end soon: the guest spins its budget, as
      // long as spinning guests leave a CPU for the threads that do the work.
      if (r.wait && (r.wait.kind === 'host' || r.wait.kind === 'ready' || r.wait.kind === 'child' || r.wait.kind === 'vfork' || this.spinners() >= HOST_CPUS - 1)) slot.setState(CHAN_BLOCKING);
      return;
    }
    this.finishChannel(t, r, result);
  }

  /** How many threads' vCPUs spin in the channel now (a request not answered, not asleep in PORT_WAIT). */
  private spinners(): number {
    let n = 0;
    for (const t of this.tasks) {
      const r = this.runs.get(t)!;
      if (r.slot && r.slot.state() === 2 /* CHAN_BUSY */ && r.thread && !r.thread.waiting()) n++;
    }
    return n;
  }

  /** Dispatches for a thread, turning a thread's own end into its retirement. */
  private dispatch(t: Task, r: TaskRun, nr: number, a: Args): number {
    try {
      return this.host.dispatcher.dispatch(t, nr, a);
    } catch (e) {
      if (e instanceof ThreadExit) { this.retire(t, r); return BLOCKED; }
      throw e;
    }
  }

  /** Writes a channel request's result, and lets its vCPU thread know. */
  private finishChannel(t: Task, r: TaskRun, result: number): void {
    const slot = r.slot!;
    // Its process stopped meanwhile: the result is posted, but the vCPU must not take it
    // before SIGCONT (resume() leaves it parked).
    if (t.group.stopped) this.parkForStop(t, r);
    if (r.nr >= 0) {
      const ms = nowMs() - r.t0;
      slot.slow[r.nr] = ms >= SLOW_MS ? Math.min(slot.slow[r.nr]! + 1, 2) : 0;
    }
    if (t.sigFlag) {
      // A signal to deliver: the guest leaves the VM at PORT_CTX, where the VMM writes the
      // result into its registers and builds the signal frame.
      r.ctxResult = result;
      slot.post(result, CHAN_EXIT);
    } else {
      slot.post(result, CHAN_DONE);
    }
    if (r.parked) this.resume(r); else r.thread?.wake();
  }

  /** An exit a host thread reported (the vCPU is parked). */
  private exit(t: Task, r: TaskRun, rc: number, resume = true): void {
    // An exit while a channel request is in flight (PORT_WAIT reported for a stop) is not a
    // syscall of the exit path: the request's answer still goes through the channel.
    if (!this.channelBusy(r)) r.viaChannel = false;
    const v = r.vcpu;
    let kind: number;
    try {
      kind = v.handleExit(rc);
    } catch (e) {
      if (!(e instanceof ThreadExit)) throw e;
      this.retire(t, r);
      return;
    }
    // Only kicks in a row that find the thread in the stub count: any other exit is progress.
    if (kind !== EXIT_INTERRUPTED || !v.inStub()) r.stubKicks = 0;
    if (r.dead || r.wait || !r.parked) return;
    if (t.sigFlag && kind !== EXIT_FAULT && kind !== EXIT_CTX) {
      if (kind === EXIT_SYSCALL || !v.inStub()) this.userReturn(t, r);
      else if (r.slot && r.slot.state() === CHAN_DONE) {
        // Kicked while its syscall's result waits to be read: make the guest leave at
        // PORT_CTX instead of returning, so the signal is delivered then.
        r.ctxResult = r.slot.result();
        r.slot.setState(CHAN_EXIT);
      } else if (!r.slot || r.slot.state() === 0) {
        // In the stub with no call in flight: on the way into or out of a call (a few
        // instructions), so the next kick finds it in its own code. A program that stays
        // there jumped into the stub (it is torov's, not the program's: Linux's entry code
        // is not even mapped for a program); a signal cannot be delivered there, so end it
        // rather than kick it for ever.
        if (r.stubKicks++ === 0) r.stubSince = nowMs();
        else if (r.stubKicks > STUB_KICKS_MAX && nowMs() - r.stubSince > STUB_STALL_MS) throw new GuestExit(139, `torov: SIGSEGV: the program runs inside torov's syscall stub at rip=0x${v.reg(RIP_W).toString(16)} (not the linux ABI)`);
        r.wantKick = true;
      }
    }
    if (resume) this.resume(r);
  }

  /** True while a channel request of the thread is posted or being served (not yet answered). */
  private channelBusy(r: TaskRun): boolean {
    if (!r.slot) return false;
    const st = r.slot.state();
    return st !== 0 && st !== CHAN_DONE;
  }

  /** Lets a parked vCPU run again. */
  private resume(r: TaskRun): void {
    if (r.dead || !r.thread) return;
    // A stopped process's threads stay parked until SIGCONT (continueGroup).
    if (r.vcpu.task.group.stopped) return;
    if (this.debug) {
      const t = r.vcpu.task;
      this.debug.beforeResume(t);
      if (r.dead) return;
      if (this.frozen.has(t) || r.held !== undefined) { this.debugParked.add(t); return; }
      this.debugParked.delete(t);
    }
    if (this.host.stop.requested) r.vcpu.stopNow();
    r.parked = false;
    r.thread.go();
    // A signal became deliverable while it was parked (a timer fired while the vCPU moved
    // to its host thread): the program must not run on without it. Not when it stopped in
    // the stub (wantKick): it must run a little to leave it, and the poll kicks it soon.
    if (r.vcpu.task.sigFlag && !r.wantKick) this.kickVcpu(r);
  }

  /** Called by a Vcpu for the channel's exits (KICK and WAIT on the main thread, CTX anywhere). */
  port(v: Vcpu, exit: number): void {
    const t = v.task, r = this.runs.get(t)!;
    if (exit === EXIT_KICK || exit === EXIT_WAIT) {
      const st = r.slot?.state() ?? 0;
      if (st <= 0 || st > CHAN_EXIT) {
        throw new GuestExit(139, `torov: SIGSEGV: channel ${exit === EXIT_KICK ? 'kick' : 'wait'} without a request at rip=0x${v.reg(RIP_W).toString(16)}`);
      }
      if (exit === EXIT_KICK) { this.stats.kicks++; this.late++; } else this.stats.waits++;
      if (r.slot && r.slot.posted()) this.serve(t, r);
      return;
    }
    if (exit === EXIT_CTX) this.contextExit(t, r);
  }

  /**
   * The guest left the VM at PORT_CTX: make the vCPU's registers the program's again (as the
   * stub would on return), then serve the request that needed them.
   */
  private contextExit(t: Task, r: TaskRun): void {
    const slot = r.slot!, v = r.vcpu;
    if (slot.state() !== CHAN_EXIT) throw new GuestExit(139, `torov: SIGSEGV: channel exit without a request at rip=0x${v.reg(RIP_W).toString(16)}`);
    v.enterUser(slot.u64(CHAN.RET), slot.u64(CHAN.FLAGS), slot.u64(CHAN.RSP), slot.u64(CHAN.ARGS + 16));
    slot.setState(0);                            // idle: the stub will not look at it again for this call
    if (r.ctxPending) {
      r.ctxPending = false;
      const nr = slot.req[1] === 0 ? slot.req[0]! : -1;
      r.sysNr = nr;
      const result = v.withRegs(() => this.dispatch(t, r, nr, slot.args));
      // Finished later in the registers (complete(): not through the channel, which it left).
      if (result === BLOCKED) { r.viaChannel = false; return; }
      v.setResult(result);
    } else if (r.ctxResult !== undefined) {
      v.setResult(r.ctxResult);
    }
    r.ctxResult = undefined;
    if (t.sigFlag && !r.dead) this.userReturn(t, r);
  }

  // ---- waits -----------------------------------------------------------------------------------

  /** Finishes a thread's waiting syscall with `result`. */
  private complete(t: Task, r: TaskRun, result: number): void {
    r.wait = undefined;
    if (this.tracing) this.host.dispatcher.traceResumed?.(t, r.viaChannel ? r.sysNr : r.vcpu.lastNr, result);
    this.sleepers.delete(t);
    if (r.viaChannel) {
      this.finishChannel(t, r, result);
      return;
    }
    r.vcpu.completeSyscall(result);
    if (t.sigFlag && !this.guard(t, () => this.userReturn(t, r))) return;
    this.resume(r);
  }

  /**
   * Runs `f`, work done for thread `t` (its syscall, its exit, its signals): a GuestExit
   * from it ends t's process only, unless that is the first process (the run ends: rethrown).
   * False if the process ended.
   */
  private guard(t: Task, f: () => void): boolean {
    try {
      f();
      return true;
    } catch (e) {
      if (!(e instanceof GuestExit) || t.group === this.initGroup || !t.group.alive) throw e;
      this.endProcess(t.group, e);
      return false;
    }
  }

  private hostDone(t: Task, r: TaskRun): void {
    const w = r.wait!;
    const res = r.thread!.hostResult();
    r.wait = undefined;
    if (r.interrupted) {
      // A signal ended the wait: EINTR (restarted after the handler when SA_RESTART allows).
      r.interrupted = false;
      if (w.kind === 'ready' || res === -EINTR) { this.complete(t, r, -EINTR); return; }
    }
    if (w.kind === 'ready') { this.retry(t, r, w.deadline); return; }
    let out: number;
    try {
      out = w.then ? w.then(res) : res;
    } catch (e) {
      if (e instanceof SysError) out = -e.errno;
      else throw e;
    }
    if (out === BLOCKED) return;                   // `then` waits again
    this.complete(t, r, out);
  }

  /**
   * Serves a waiting syscall again, from the start (its host fds are ready, or its time
   * is up): handlers that wait for readiness are written to be tried again.
   */
  private retry(t: Task, r: TaskRun, deadline: number): void {
    t.retryDeadline = deadline;
    try {
      if (r.viaChannel) {
        const slot = r.slot!;
        const nr = slot.req[1] === 0 ? slot.req[0]! : -1;
        const result = this.dispatch(t, r, nr, slot.args);
        if (result === BLOCKED) return;
        this.finishChannel(t, r, result);
      } else {
        let done: boolean;
        try { done = r.vcpu.syscall(); } catch (e) { if (e instanceof ThreadExit) { this.retire(t, r); return; } throw e; }
        if (done) { if (t.sigFlag) this.userReturn(t, r); this.resume(r); }
      }
    } finally {
      t.retryDeadline = undefined;
    }
  }

  private nextDeadline(): number {
    let d = Infinity;
    for (const t of this.sleepers) { const w = this.runs.get(t)?.wait; if (w && w.deadline < d) d = w.deadline; }
    for (const tm of this.timers.values()) if (tm.deadline < d) d = tm.deadline;
    return d;
  }

  /** Finishes the waits whose time is up; true if any was. */
  private expireTimers(): boolean {
    if (this.sleepers.size === 0 && this.armed === 0) return false;
    // A little late rather than early: the guest reads its clocks through the vDSO (the
    // TSC), which was measured here to lag the host's clocks by 30-80 µs on kvm_pvm.
    const now = nowMs() - TIMER_SLACK_MS;
    let any = false;
    if (this.armed > 0) any = this.fireTimers(now);
    for (const t of [...this.sleepers]) {
      const r = this.runs.get(t);
      const w = r?.wait;
      if (!r || !w || w.deadline > now) continue;
      any = true;
      if (w.kind === 'futex') { this.unqueue(t, w); this.complete(t, r, -ETIMEDOUT); }
      else if (w.kind === 'sigwait') this.complete(t, r, -EAGAIN);
      else this.complete(t, r, 0);
    }
    return any;
  }

  private newWait(kind: Wait['kind'], deadline: number): Wait {
    return { kind, deadline, addr: 0, bitset: 0, fq: undefined, then: undefined, rem: 0, keep: undefined, set: 0n, infop: 0, sfdMax: 0, child: 0 };
  }

  // ---- TaskServices ------------------------------------------------------------------------------

  blockingCall(k: Kernel, nr: number, args: readonly number[], then?: (r: number) => number, keep?: Buffer): number {
    const t = k as unknown as Task, r = this.runs.get(t);
    if (!r || !this.concurrent || !r.thread) {
      // One thread: the call runs here, as a single-threaded kernel would.
      const res = sys(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
      return then ? then(res) : res;
    }
    const w = this.newWait('host', Infinity);
    w.then = then;
    w.keep = keep;
    r.wait = w;
    r.thread.hostCall(nr, args);
    // A signal that came before the call (a kill just before it) interrupts it if it blocks,
    // as on Linux; nothing else would wake the wait for it. A call that does not block completes.
    if (t.sigFlag) { r.interrupted = true; r.thread.kick(r.vcpu.fd.runU8, false); }
    return BLOCKED;
  }

  waitReady(k: Kernel, nr: number, args: readonly number[], keep: Buffer, deadline: number): number {
    const t = k as unknown as Task, r = this.runs.get(t);
    if (!r || !r.thread) return -EAGAIN;
    // It would block (tried without blocking first): a deliverable signal ends it now, as on Linux.
    if (t.sigFlag) return -EINTR;
    const w = this.newWait('ready', deadline);
    w.keep = keep;
    r.wait = w;
    r.thread.hostCall(nr, args);
    return BLOCKED;
  }

  /** The deadline of the wait a retried syscall is in (undefined on its first try). */
  retryDeadline(k: Kernel): number | undefined {
    return (k as unknown as Task).retryDeadline;
  }

  sleep(k: Kernel, deadline: number, rem: number): number {
    const t = k as unknown as Task, r = this.runs.get(t);
    if (!r || !this.concurrent) return -ENOSYS;    // the caller sleeps on the host itself
    if (t.sigFlag) { if (rem) { const w = this.newWait('sleep', deadline); w.rem = rem; this.writeRem(t, w); } return -EINTR; }
    const w = this.newWait('sleep', deadline);
    w.rem = rem;
    r.wait = w;
    this.sleepers.add(t);
    return BLOCKED;
  }

  /** Process-shared futexes of every process of the run, by what their memory is (FutexQueue). */
  private readonly sharedFutexes = new Map<unknown, Task[]>();

  /** The queue of the futex word at `addr` for thread `t` (`shared`: the call lacks FUTEX_PRIVATE_FLAG). */
  private futexQueue(t: Task, addr: number, shared: boolean): FutexQueue {
    const key = shared ? t.group.as.futexKey(addr) : undefined;
    return key !== undefined ? { map: this.sharedFutexes, key } : { map: t.group.futexes, key: addr };
  }

  futexWait(k: Kernel, addr: number, val: number, bitset: number, deadline: number, shared = false): number {
    const t = k as unknown as Task, r = this.runs.get(t)!;
    if ((addr & 3) !== 0) return -EINVAL;
    if (bitset === 0) return -EINVAL;
    const cur = k.mem.readU32(addr);             // GuestFault -> EFAULT
    if (cur !== (val >>> 0)) return -EAGAIN;
    if (!this.concurrent) {
      // Nobody else could wake it: a wait with a timeout times out (the handler sleeps
      // until then); one without would wait forever, and returns instead (with a note).
      if (deadline === Infinity) k.note('futex-wait', 'futex WAIT with no other thread to wake it and no timeout: returned EAGAIN instead of waiting forever');
      return deadline === Infinity ? -EAGAIN : -ETIMEDOUT;
    }
    if (t.sigFlag) return -EINTR;
    const w = this.newWait('futex', deadline);
    const fq = this.futexQueue(t, addr, shared);
    w.addr = addr;
    w.bitset = bitset >>> 0;
    w.fq = fq;
    r.wait = w;
    let q = fq.map.get(fq.key);
    if (!q) fq.map.set(fq.key, q = []);
    q.push(t);
    if (deadline !== Infinity) this.sleepers.add(t);
    return BLOCKED;
  }

  futexWake(k: Kernel, addr: number, n: number, bitset: number, shared = false): number {
    if ((addr & 3) !== 0 || bitset === 0) return -EINVAL;
    k.mem.readU32(addr);                          // Linux faults on an unmapped futex word too
    const fq = this.futexQueue(k as unknown as Task, addr, shared);
    const q = fq.map.get(fq.key);
    if (!q) return 0;
    let woken = 0;
    for (let i = 0; i < q.length && woken < n;) {
      const t = q[i]!, r = this.runs.get(t)!;
      if ((r.wait!.bitset & (bitset >>> 0)) === 0) { i++; continue; }
      q.splice(i, 1);
      this.complete(t, r, 0);
      woken++;
    }
    if (q.length === 0) fq.map.delete(fq.key);
    return woken;
  }

  futexRequeue(k: Kernel, addr: number, n: number, addr2: number, move: number, countMoved: boolean, shared = false): number {
    if ((addr & 3) !== 0 || (addr2 & 3) !== 0) return -EINVAL;
    k.mem.readU32(addr2);                         // both words must be mapped (EFAULT)
    const t0 = k as unknown as Task;
    const woken = this.futexWake(k, addr, n, 0xffffffff, shared);
    if (woken < 0) return woken;
    const from = this.futexQueue(t0, addr, shared), to = this.futexQueue(t0, addr2, shared);
    const q = from.map.get(from.key);
    let moved = 0;
    if (q && (to.map !== from.map || to.key !== from.key)) {
      let q2 = to.map.get(to.key);
      while (q.length > 0 && moved < move) {
        const t = q.shift()!;
        const w = this.runs.get(t)!.wait!;
        w.addr = addr2;
        w.fq = to;
        if (!q2) to.map.set(to.key, q2 = []);
        q2.push(t);
        moved++;
      }
      if (q.length === 0) from.map.delete(from.key);
    }
    return countMoved ? woken + moved : woken;
  }

  /** Takes a thread that waits on a futex off its queue. */
  private unqueue(t: Task, w: Wait): void {
    const fq = w.fq;
    if (!fq) return;
    const q = fq.map.get(fq.key);
    if (!q) return;
    const i = q.indexOf(t);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) fq.map.delete(fq.key);
  }

  cloneThread(k: Kernel, spec: CloneSpec): number {
    const parent = k as unknown as Task, pr = this.runs.get(parent);
    const need = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
    if ((spec.flags & need) !== need) return -EINVAL;
    if (!(spec.flags & CLONE_FS) || !(spec.flags & CLONE_FILES)) {
      k.note('clone-unshared', 'clone: a thread without CLONE_FS or CLONE_FILES shares them anyway (one fd table and cwd per process)');
    }
    // From now on a change to the mappings must assume other vCPUs run meanwhile.
    k.as.shared = true;
    if (parent.group.tasks.length >= this.host.maxThreads) {
      k.note('threads-limit', `clone: the thread limit (${this.host.maxThreads}, --threads) is reached: EAGAIN`);
      return -EAGAIN;
    }
    if (!pr || !parent.regs) return -ENOSYS;
    const room = this.roomForTask(k, 'clone');
    if (room < 0) return room;
    const regs = childRegs(parent.regs, spec);
    const tid = this.nextTid++;
    const child = new Task(parent.group, tid, this);
    inheritPrctl(k, child);
    child.sigmask = parent.sigmask;
    child.fsBase = spec.flags & CLONE_SETTLS ? spec.tls : parent.fsBase;
    child.gsBase = parent.gsBase;
    child.fsBaseDirty = true;
    // The tid stores of CLONE_PARENT_SETTID / CHILD_SETTID are done before the child runs;
    // like Linux (which ignores put_user's failure there), a bad pointer is not an error.
    const store = (p: number) => { try { k.mem.writeU32(p, tid); } catch (e) { if (!(e instanceof SysError)) throw e; } };
    if (spec.flags & CLONE_PARENT_SETTID) store(spec.parentTid);
    if (spec.flags & CLONE_CHILD_SETTID) store(spec.childTid);
    if (spec.flags & CLONE_CHILD_CLEARTID) child.clearTid = spec.childTid;
    const vm = vmOf(parent.group);
    const v = vm.newVcpu(child, regs, pr.vcpu.fpuState());
    if (typeof v === 'number') return v;
    const slot = vm.newSlot(v.pages, child);
    parent.group.tasks.push(child);
    this.add(child, v, slot);
    return tid;
  }

  hasThread(tid: number): boolean {
    return this.tasks.some((t) => t.tid === tid);
  }

  cpuOf(k: Kernel): number {
    const r = this.runs.get(k as unknown as Task);
    return r ? r.vcpu.id % this.host.cpus : 0;
  }

  /**
   * Every other thread's vCPU leaves the guest and enters it again (a VM exit and entry
   * serialise the CPU): membarrier. Threads parked or waiting are out of the guest already.
   */
  barrier(k: Kernel): void {
    Atomics.add(new Int32Array(new SharedArrayBuffer(4)), 0, 0);   // this thread's own full fence
    for (const t of this.tasks) {
      if (t === (k as unknown as Task) || t.group !== (k as unknown as Task).group) continue;
      const r = this.runs.get(t)!;
      const h = r.thread;
      if (!h || !h.running) continue;
      const rc = h.stopSync(r.vcpu.fd.runU8);
      r.parked = true;
      if (rc !== undefined) this.guard(t, () => this.exit(t, r, rc));
    }
  }

  exitThread(k: Kernel, status: number): never {
    if ((k as unknown as Task).group.tasks.length <= 1) throw new GuestExit(status & 0xff);
    throw new ThreadExit(status & 0xff);
  }

  /**
   * A thread ended (exit(2) while others run): its clear_child_tid word is cleared and
   * woken (pthread_join waits on it), its robust futexes are marked OWNER_DIED and woken,
   * its vCPU and host thread go back for reuse.
   */
  private retire(t: Task, r: TaskRun): void {
    r.dead = true;
    if (t.clearTid) {
      try { t.mem.writeU32(t.clearTid, 0); this.futexWake(t, t.clearTid, 1, 0xffffffff); } catch { /* unmapped: Linux ignores it too */ }
    }
    this.robustExit(t);
    const i = this.tasks.indexOf(t);
    if (i >= 0) this.tasks.splice(i, 1);
    const g = t.group.tasks.indexOf(t);
    if (g >= 0) t.group.tasks.splice(g, 1);
    this.runs.delete(t);
    this.sleepers.delete(t);
    this.releaseThread(t, r);
    vmOf(t.group).freeVcpu(r.vcpu);
    this.frozen.delete(t);
    this.debugParked.delete(t);
    this.debug?.threadExited(t);
  }

  /** Thread `t`'s vCPU leaves its host thread for good (stopped if it runs), its CPU time counted; the host thread goes back to the pool. */
  private releaseThread(t: Task, r: TaskRun): void {
    const h = r.thread;
    if (!h) return;
    if (h.running) h.stopSync(r.vcpu.fd.runU8);
    this.account(t, r, h);
    r.thread = undefined;
    HostThread.release(h);
  }

  /** Walks a dead thread's robust list (struct robust_list_head: list, futex_offset, list_op_pending). */
  private robustExit(t: Task): void {
    const head = t.robustList;
    if (!head) return;
    try {
      const mem = t.mem;
      const offset = mem.readI64(head + 8);
      const pending = mem.readU64(head + 16);
      const mark = (entry: number) => {
        const addr = entry + offset;
        if (addr < 0 || (addr & 3)) return;
        const v = mem.readU32(addr);
        if ((v & FUTEX_TID_MASK) !== t.tid) return;
        mem.writeU32(addr, ((v & FUTEX_WAITERS) | FUTEX_OWNER_DIED) >>> 0);
        if (v & FUTEX_WAITERS) this.futexWake(t, addr, 1, 0xffffffff);
      };
      let entry = mem.readU64(head), n = 0;
      while (entry !== head && entry !== 0 && n++ < ROBUST_LIST_LIMIT) {
        const next = mem.readU64(entry);
        if (entry !== pending) mark(entry);
        entry = next;
      }
      if (pending) mark(pending);
    } catch { /* a bad list is the program's problem; Linux stops walking too */ }
  }

  /** Parks every vCPU (the program ended). */
  private stopAll(): void {
    for (const t of this.tasks) {
      const r = this.runs.get(t)!;
      const h = r.thread;
      if (!h) continue;
      try { if (h.running) h.stopSync(r.vcpu.fd.runU8); } catch { /* reported by the caller's error */ }
      if ((r.wait?.kind === 'host' || r.wait?.kind === 'ready') && !h.hostDone()) {
        // A host call still blocks on that thread: interrupt it, so the thread is free.
        for (let i = 0; i < 100 && !h.hostDone(); i++) { h.kick(r.vcpu.fd.runU8, false); Atomics.wait(h.ctl, 0, Atomics.load(h.ctl, 0), 2); }
      }
      r.thread = undefined;
      HostThread.release(h);
    }
  }

  private debugState(what: string): void {
    const parts = this.tasks.map((t) => {
      const r = this.runs.get(t)!;
      if (what === 'sleep' && r.thread?.running && process.env['TOROV_DEBUG_RIP']) {
        const rc = r.thread.stopSync(r.vcpu.fd.runU8);
        process.stderr.write(`  rip=0x${r.vcpu.reg(RIP_W).toString(16)} rc=${rc} imm=${r.vcpu.fd.runU8[1]}\n`);
        r.parked = true;
        if (rc !== undefined) this.exit(t, r, rc);
      }
      const h = r.thread;
      return `${t.tid}:${r.parked ? 'P' : 'R'}${r.wait ? r.wait.kind : ''} slot=${r.slot?.state()} thr=${h ? `${h.running ? 'run' : 'idle'}${h.waiting() ? ',W' : ''}${h.exited() ? ',X' : ''}` : '-'}`;
    });
    process.stderr.write(`sched ${what} ${nowMs().toFixed(1)}: ${parts.join(' | ')}\n`);
  }

  // ---- signals ----------------------------------------------------------------------------------

  /** Recomputes whether thread `t` has a signal to deliver (pending and not blocked). */
  private recalc(t: Task): void {
    t.sigFlag = ((t.pending.mask | t.group.shared.mask) & ~t.sigmask) !== 0n;
  }

  signalsChanged(k: Kernel, action?: number): void {
    const t = k as unknown as Task;
    // A signal whose action became to ignore it (SIG_IGN, or SIG_DFL where the default is
    // to ignore) is dropped, blocked or not (POSIX; Linux's do_sigaction). Only that one: a
    // blocked signal whose default action is to ignore it (SIGCHLD) stays pending across
    // mask changes and other signals' actions, until it is taken or delivered (and then
    // ignored). Dropping them all at every sigprocmask lost a SIGCHLD queued while musl's
    // fork blocked every signal.
    if (action !== undefined && (t.pendingMask & sigmaskBit(action)) && ignored(t.group, action)) {
      t.group.shared.drop(action);
      for (const u of t.group.tasks) u.pending.drop(action);
    }
    for (const u of t.group.tasks) this.recalc(u);
    this.syncSignalfds();
  }

  sendSignal(k: Kernel, tid: number, info: SignalInfo): number {
    const g = (k as unknown as Task).group;
    const target = tid === 0 ? undefined : this.tasks.find((t) => t.tid === tid);
    if (tid !== 0 && !target) return -ESRCH;
    if (info.signo === 0) return 0;
    return this.post(target ? target.group : g, target, info, g);
  }

  /** A signal from outside the program (torov was sent it): to the process, from "the kernel". */
  hostSignal(sig: number): void {
    const first = this.initGroup?.tasks[0];
    if (!first) return;
    const h = first.group.sigactions.get(sig)?.handler ?? 0n;
    const what = h > 1n ? 'to the program\'s handler' : ignored(first.group, sig) ? 'ignored by the program' + (h === 0n ? ' (its default action)' : '')
      : isFatal(first.group, sig) ? `the program ends with status ${128 + sig} (its default action)` : 'pending for the program';
    first.note(`host-signal-${sig}`, `${signalName(sig)} from the host: ${what}`);
    this.post(first.group, undefined, { signo: sig, code: SI_USER, pid: 0, uid: 0 });
  }

  /**
   * Queues a signal for thread `target` or, undefined, for the process; ends the program
   * when its action is to (the default action of a fatal signal nobody blocks, SIGKILL),
   * and otherwise gets a thread that will take it to the VMM: its wait is interrupted, or
   * its running vCPU kicked.
   */
  private post(g: ThreadGroup, target: Task | undefined, info: SignalInfo, from?: ThreadGroup): number {
    const sig = info.signo, bit = sigmaskBit(sig);
    if (!g.alive) return 0;
    // Job control acts as the signal is sent, whatever its disposition (Linux:
    // prepare_signal): SIGCONT continues a stopped process and discards its pending stop
    // signals; a stop signal discards a pending SIGCONT.
    if (sig === SIGCONT) this.continueGroup(g);
    else if (STOP_MASK & bit) this.dropPending(g, sigmaskBit(SIGCONT));
    const takers = target ? [target] : g.tasks;
    const blockedByAll = takers.every((t) => (t.sigmask & bit) !== 0n);
    if (sig !== SIGKILL && ignored(g, sig) && !blockedByAll) return 0;
    // A stop signal at its default action stops the process now (SIGSTOP always: it can be
    // neither caught nor blocked); one that every thread blocks waits in the queue.
    if ((STOP_MASK & bit) && (sig === SIGSTOP || ((g.sigactions.get(sig)?.handler ?? 0n) === 0n && !blockedByAll))) {
      this.defaultStop(g, sig);
      return 0;
    }
    // A stopped process is ended at once by SIGKILL only: another fatal signal stays pending
    // until SIGCONT, as on Linux (complete_signal finds no thread that wants it).
    if (sig === SIGKILL || (!blockedByAll && isFatal(g, sig) && !g.stopped)) {
      const e = GuestExit.bySignal(sig, sig === SIGKILL || defaultAction(sig) === 'term' ? undefined : `torov: ${signalName(sig)}: ${info.code === SI_USER && info.pid === 0 ? 'sent to torov' : 'sent by the program'}, no handler: killed`);
      // The sender's own process (or the first one: the run ends) unwinds from here;
      // another process ends now, and the sender goes on.
      if (g === from || g === this.initGroup) throw e;
      this.endProcess(g, e);
      return 0;
    }
    if (!(target ? target.pending : g.shared).add(info)) return -EAGAIN;
    // Who takes it: a thread waiting for it (sigtimedwait, a signalfd read), else the target,
    // or a thread that does not block it (the first one free).
    const waiter = (target ? [target] : g.tasks).find((t) => {
      const w = this.runs.get(t)?.wait;
      return w !== undefined && w.kind === 'sigwait' && (w.set & bit) !== 0n;
    });
    const taker = waiter ?? target ?? g.tasks.find((t) => !(t.sigmask & bit));
    for (const t of g.tasks) this.recalc(t);
    this.syncSignalfds();
    if (taker) this.wake(taker, sig);
    return 0;
  }

  /** Gets thread `t` to the VMM to take signal `sig`: ends an interruptible wait, or kicks its vCPU out of the guest. */
  private wake(t: Task, sig: number): void {
    const r = this.runs.get(t);
    if (DEBUG) this.debugState(`wake ${sig} flag=${t.sigFlag}`);
    if (!r || r.dead) return;
    const w = r.wait;
    if (w) {
      if (w.kind === 'sigwait' && (w.set & sigmaskBit(sig))) {
        if (w.sfdMax) {
          const n = this.drainSignalfd(t, w.set, w.infop, w.sfdMax);
          if (n) this.complete(t, r, n);
          return;
        }
        const got = this.takeFrom(t, w.set);
        if (got) { this.writeInfo(t, w.infop, got); this.complete(t, r, got.signo); }
        return;
      }
      if (!t.sigFlag || w.kind === 'vfork') return;
      if (w.kind === 'host' || w.kind === 'ready') { r.interrupted = true; r.thread?.kick(r.vcpu.fd.runU8, false); return; }
      if (w.kind === 'futex') this.unqueue(t, w);
      if (w.kind === 'sleep' && w.rem) this.writeRem(t, w);
      this.complete(t, r, -EINTR);
      return;
    }
    if (t.sigFlag && !r.parked && r.thread) this.kickVcpu(r);
  }

  /** Kicks a running vCPU out of the guest (its exit is then a chance to deliver a signal). */
  private kickVcpu(r: TaskRun): void {
    if (!r.thread || !r.thread.running) return;
    // Not while a syscall is in flight through the channel: its return delivers.
    if (r.slot) { const st = r.slot.state(); if (st !== 0 && st !== CHAN_DONE) return; }
    r.thread.kick(r.vcpu.fd.runU8, true);
  }

  private writeRem(t: Task, w: Wait): void {
    const left = Math.max(0, w.deadline - nowMs());
    try {
      t.mem.writeU64(w.rem, Math.floor(left / 1000));
      t.mem.writeU64(w.rem + 8, Math.floor((left % 1000) * 1e6));
    } catch { /* Linux ignores a rem it cannot write too */ }
  }

  private takeFrom(t: Task, allowed: bigint): SignalInfo | undefined {
    const info = t.pending.take(allowed) ?? t.group.shared.take(allowed);
    if (info) {
      for (const u of t.group.tasks) this.recalc(u);
      this.syncSignalfds();
    }
    return info;
  }

  private writeInfo(t: Task, p: number, info: SignalInfo): void {
    if (p) { try { t.mem.write(p, encodeSiginfo(info)); } catch { /* the caller's bad pointer */ } }
  }

  /**
   * Delivers the first signal thread `t` does not block, at a point where its vCPU holds
   * the program's registers (after a syscall, at a kick in its code): the default action,
   * or a frame on its stack and its handler's entry in the registers.
   */
  private userReturn(t: Task, r: TaskRun): void {
    const v = r.vcpu;
    if (v.inStub()) {
      // The exit path on a host where the stub runs at CPL0: return to the program first.
      const u = v.syscallReturn();
      v.enterUser(u.rip, u.rflags, u.rsp, u.rdx);
    }
    for (;;) {
      let info = this.takeFrom(t, ~t.sigmask);
      if (!info) return;
      if (this.debug) {
        // A debugger sees the signal first (gdb: "Program received signal ..."), and says what to deliver.
        info = this.debug.signal(t, info);
        if (!info) continue;
      }
      const sig = info.signo;
      const act = t.group.sigactions.get(sig);
      const handler = act?.handler ?? 0n;
      if (handler === 1n) continue;                              // SIG_IGN
      if (handler === 0n) {
        const d = defaultAction(sig);
        if (d === 'ign' || d === 'cont') continue;
        if (d === 'stop') {
          // A stop signal that was blocked when it came: it stops the process now. The
          // other pending signals wait for SIGCONT (resume() kicks the thread for them).
          if (this.defaultStop(t.group, sig)) return;
          continue;
        }
        throw GuestExit.bySignal(sig, d === 'core' ? `torov: ${signalName(sig)}: killed (default action)` : undefined);
      }
      this.runHandler(t, r, info, act!, undefined);
      // Like Linux, every other deliverable signal gets its frame too before the thread
      // runs (the handlers run last-delivered first).
    }
  }

  /** Builds the frame and enters the handler (the vCPU holds the program's registers `regs`). */
  private runHandler(t: Task, r: TaskRun, info: SignalInfo, act: SigAction, trap: { trapno: number; err: number; cr2: number; regs: Buffer } | undefined): void {
    const v = r.vcpu, sig = info.signo;
    const flags = Number(act.flags & 0xffffffffn);
    const regs = trap ? trap.regs : v.regs();
    // A syscall that a signal interrupted is restarted after the handler with SA_RESTART,
    // as Linux does: rip back on the `syscall` instruction, rax its number again.
    if (!trap && regs.readBigInt64LE(REGS.rax) === -BigInt(EINTR) && (flags & SA_RESTART) && r.sysNr >= 0 && RESTARTABLE[r.sysNr]) {
      const rip = Number(regs.readBigUInt64LE(REGS.rip));
      try {
        const b = t.mem.read(rip - 2, 2);
        if (b[0] === 0x0f && b[1] === 0x05) { regs.writeBigUInt64LE(BigInt(rip - 2), REGS.rip); regs.writeBigUInt64LE(BigInt(r.sysNr), REGS.rax); }
      } catch { /* not readable: EINTR */ }
    }
    r.sysNr = -1;
    if (!(flags & SA_RESTORER)) throw new GuestExit(139, `torov: SIGSEGV: ${signalName(sig)}'s handler has no SA_RESTORER: no way back from it`);
    const rsp = Number(regs.readBigUInt64LE(REGS.rsp));
    const alt = altstackOf(t);
    let top = belowRedZone(rsp);
    const onAlt = alt !== undefined && rsp > alt.sp && rsp <= alt.sp + alt.size;
    if ((flags & SA_ONSTACK) && alt !== undefined && !onAlt) top = alt.sp + alt.size;
    const ucStack = Buffer.alloc(24);
    // Linux saves the thread's alternate stack as it was set (sas_ss_flags: 0 or SS_AUTODISARM).
    if (alt) { ucStack.writeBigUInt64LE(BigInt(alt.sp), 0); ucStack.writeBigUInt64LE(BigInt(alt.size), 16); }
    const fpu = v.fpuState();
    const x = this.host.xsave;
    let out;
    try {
      out = writeFrame(t.mem, { regs, xsave: fpu, xsaveSize: x.size, xfeatures: x.features, info: encodeSiginfo(info), mask: t.savedMask ?? t.sigmask,
        ucStack, top, restorer: Number(act.restorer), ...(trap ? { trap } : {}) });
    } catch (e) {
      if (!(e instanceof SysError)) throw e;
      throw new GuestExit(139, `torov: SIGSEGV: no room for ${signalName(sig)}'s signal frame on the stack at 0x${top.toString(16)}`);
    }
    t.savedMask = undefined;
    // The handler starts with the FPU in its initial state (Linux: fpu__clear_user_states).
    if (fpu) v.fd.resetFpu();
    const next = Buffer.from(regs);
    next.writeBigUInt64LE(act.handler, REGS.rip);
    next.writeBigUInt64LE(BigInt(out.rsp), REGS.rsp);
    next.writeBigUInt64LE(BigInt(sig), REGS.rdi);
    next.writeBigUInt64LE(BigInt(out.info), REGS.rsi);
    next.writeBigUInt64LE(BigInt(out.uc), REGS.rdx);
    next.writeBigUInt64LE(0n, REGS.rax);
    next.writeBigUInt64LE(next.readBigUInt64LE(REGS.rflags) & ~0x10500n, REGS.rflags);   // TF, DF, RF clear
    v.setRegs(next);
    if (trap) v.toUserSegments();
    t.sigmask = (t.sigmask | act.mask | (flags & SA_NODEFER ? 0n : sigmaskBit(sig))) & ~UNBLOCKABLE;
    if (flags & SA_RESETHAND) t.group.sigactions.set(sig, { handler: 0n, flags: 0n, restorer: 0n, mask: 0n });
    this.recalc(t);
  }

  /**
   * A CPU exception in thread `task`: its signal goes to the program's handler when there
   * is one it does not block; true if so (the vCPU then enters the handler). Otherwise
   * the caller reports the fault and ends the program (Linux forces the default action).
   */
  deliverFault(task: Task, f: FaultFrame, sig: number, info: SignalInfo): boolean {
    const r = this.runs.get(task);
    const act = task.group.sigactions.get(sig);
    if (!r || !act || act.handler <= 1n || (task.sigmask & sigmaskBit(sig))) return false;
    const regs = r.vcpu.regs();
    // (The frame's words are numbers: one above 2^53, a garbage rsp, may round up to 2^64.)
    regs.writeBigUInt64LE(BigInt.asUintN(64, BigInt(f.rip)), REGS.rip);
    regs.writeBigUInt64LE(BigInt.asUintN(64, BigInt(f.rsp)), REGS.rsp);
    regs.writeBigUInt64LE(BigInt.asUintN(64, BigInt(f.rflags)), REGS.rflags);
    r.sysNr = -1;
    // The kernel half is mapped (supervisor-only) under Linux, so a user access there is a
    // protection fault: the present bit is set in the error code the program sees.
    const err = f.vector === 14 && f.cr2 >= 0xffff800000000000 ? f.error | 1 : f.error;
    this.runHandler(task, r, info, act, { trapno: f.vector, err, cr2: f.cr2, regs });
    return true;
  }

  sigreturn(k: Kernel): number {
    const t = k as unknown as Task, r = this.runs.get(t)!, v = r.vcpu;
    const rsp = Number(v.regs().readBigUInt64LE(REGS.rsp));
    let f;
    try { f = readFrame(t.mem, rsp, this.host.xsave.size); } catch (e) {
      if (!(e instanceof SysError)) throw e;
      throw new GuestExit(139, `torov: SIGSEGV: rt_sigreturn with no readable signal frame at 0x${rsp.toString(16)}`);
    }
    const rip = Number(f.regs.readBigUInt64LE(REGS.rip));
    if (!(rip < USER_TOP) || !(Number(f.regs.readBigUInt64LE(REGS.rsp)) < 2 ** 64)) {
      throw new GuestExit(139, `torov: SIGSEGV: rt_sigreturn to a non-user address 0x${rip.toString(16)}`);
    }
    if (f.xsave) {
      try { v.fd.setXsave(f.xsave); } catch { throw new GuestExit(139, 'torov: SIGSEGV: rt_sigreturn with a bad FPU state in the signal frame'); }
    } else {
      v.fd.resetFpu();
    }
    t.sigmask = f.mask & ~UNBLOCKABLE;
    const ss = f.ucStack;
    const sp = Number(ss.readBigUInt64LE(0)), size = Number(ss.readBigUInt64LE(16)), fl = ss.readInt32LE(8);
    if (!(fl & SS_DISABLE) && size >= MINSIGSTKSZ) { const a = Buffer.alloc(24); a.writeBigUInt64LE(BigInt(sp), 0); a.writeBigUInt64LE(BigInt(size), 16); t.altstack = a; }
    // Linux takes only the arithmetic flags, TF, DF and AC from the frame (FIX_EFLAGS):
    // never IOPL, NT, VM, VIF, VIP or ID.
    f.regs.writeBigUInt64LE((f.regs.readBigUInt64LE(REGS.rflags) & 0x40dd5n) | 0x202n, REGS.rflags);
    v.setRegs(f.regs);
    this.recalc(t);
    return Number(f.regs.readBigInt64LE(REGS.rax));
  }

  suspend(k: Kernel, mask: bigint | undefined): number {
    const t = k as unknown as Task, r = this.runs.get(t)!;
    if (mask !== undefined) { t.savedMask = t.sigmask; t.sigmask = mask & ~UNBLOCKABLE; }
    this.recalc(t);
    if (t.sigFlag) return -EINTR;
    r.wait = this.newWait('signal', Infinity);
    return BLOCKED;
  }

  signalfdRead(k: Kernel, sfd: SignalFd, host: number, buf: number, count: number): number {
    const t = k as unknown as Task, r = this.runs.get(t)!;
    if (count < SIGNALFD_SIGINFO_SIZE) return -EINVAL;
    const max = Math.min(Math.floor(count / SIGNALFD_SIGINFO_SIZE), 64);
    t.mem.check(buf, max * SIGNALFD_SIGINFO_SIZE, true);
    const n = this.drainSignalfd(t, sfd.mask, buf, max);
    if (n) return n;
    const fl = sys(NR.fcntl, host, F_GETFL);
    if (fl < 0) return fl;
    if (fl & O_NONBLOCK) return -EAGAIN;
    const w = this.newWait('sigwait', Infinity);
    w.set = sfd.mask;
    w.infop = buf;
    w.sfdMax = max;
    r.wait = w;
    return BLOCKED;
  }

  /** Takes up to `max` pending signals of `mask` for thread `t` into struct signalfd_siginfo at `buf`; the bytes written. */
  private drainSignalfd(t: Task, mask: bigint, buf: number, max: number): number {
    let n = 0;
    for (; n < max; n++) {
      const info = this.takeFrom(t, mask);
      if (!info) break;
      try { t.mem.write(buf + n * SIGNALFD_SIGINFO_SIZE, encodeSignalfdInfo(info)); } catch { break; }
    }
    return n * SIGNALFD_SIGINFO_SIZE;
  }

  /**
   * Keeps each signalfd's eventfd readable exactly while one of its signals is pending (for
   * any thread: Linux looks at the reader's own queue too, which torov approximates by all).
   */
  private syncSignalfds(): void {
    const fds = this.tasks[0]?.fds;
    if (!fds || fds.signalfds.size === 0) return;
    let pending = this.tasks[0]!.group.shared.mask;
    for (const t of this.tasks) pending |= t.pending.mask;
    const done = new Set<SignalFd>();
    for (const [fd, s] of fds.signalfds) {
      if (done.has(s)) continue;
      done.add(s);
      const want = (pending & s.mask) !== 0n;
      const h = fds.get(fd);
      if (want === s.ready || h < 0) continue;
      eventfdBuf.writeBigUInt64LE(1n, 0);
      const rc = want ? sys(NR.write, h, eventfdAddr, 8) : sys(NR.read, h, eventfdAddr, 8);
      if (rc === 8) s.ready = want;
    }
  }

  /** signalfd4 created or changed a signalfd: its readiness follows the signals pending now. */
  signalfdChanged(): void {
    this.syncSignalfds();
  }

  sigwait(k: Kernel, set: bigint, infop: number, deadline: number): number {
    const t = k as unknown as Task, r = this.runs.get(t)!;
    const got = this.takeFrom(t, set);
    if (got) { this.writeInfo(t, infop, got); return got.signo; }
    if (deadline <= nowMs()) return -EAGAIN;
    const w = this.newWait('sigwait', deadline);
    w.set = set;
    w.infop = infop;
    r.wait = w;
    if (deadline !== Infinity) this.sleepers.add(t);
    return BLOCKED;
  }

  // ---- processes ------------------------------------------------------------------------------------

  /**
   * fork, vfork, clone without CLONE_THREAD: a new process in a VM of its own with a copy of
   * the calling thread's process (memory, fds, handlers; Machine.fork). `exitSignal` is what
   * its parent gets when it ends. With CLONE_VFORK the caller waits until the child execs or
   * ends (BLOCKED; its result is then the child's pid). Returns the pid, or -errno.
   */
  fork(k: Kernel, spec: CloneSpec, exitSignal: number): number {
    const parent = k as unknown as Task, pr = this.runs.get(parent);
    if (!pr || !parent.regs) return -ENOSYS;
    const room = this.roomForTask(k, 'fork');
    if (room < 0) return room;
    const regs = childRegs(parent.regs, spec);
    const pid = this.nextTid++;
    let vm: ProcessHost | undefined;
    try {
      const from = vmOf(parent.group), fpu = pr.vcpu.fpuState();
      // CLONE_VM|CLONE_VFORK (vfork, posix_spawn): the child borrows the parent's memory; a
      // copy when the parent's VM has no vCPU left for it.
      if (spec.flags & CLONE_VM) {
        const lent = from.lend(parent, regs, fpu, pid);
        if (typeof lent === 'string') k.note('vfork-copy', `vfork: ${lent}: the child gets a copy of the memory instead of sharing it`);
        else vm = lent;
      }
      vm ??= from.fork(parent, regs, fpu, pid);
    } catch (e) {
      if (e instanceof SysError) return e.errno === ENOMEM || e.errno === EMFILE || e.errno === ENFILE ? -EAGAIN : -e.errno;
      throw e;
    }
    const g = vm.group, child = vm.task;
    inheritPrctl(k, child);
    this.forked = true;
    g.parent = parent.group;
    g.exitSignal = exitSignal;
    parent.group.children.push(g);
    this.procs.set(pid, g);
    this.tagProcesses();
    if (spec.flags & CLONE_SETTLS) { child.fsBase = spec.tls; vm.vcpu.applyBasesNow(); }
    const store = (mem: Kernel['mem'], p: number) => { try { mem.writeU32(p, pid); } catch (e) { if (!(e instanceof SysError)) throw e; } };
    if (spec.flags & CLONE_PARENT_SETTID) store(k.mem, spec.parentTid);
    if (spec.flags & CLONE_CHILD_SETTID) store(g.mem, spec.childTid);
    if (spec.flags & CLONE_CHILD_CLEARTID) child.clearTid = spec.childTid;
    this.add(child, vm.vcpu, vm.firstSlot());
    if (spec.flags & CLONE_VFORK) {
      g.vforkParent = parent;
      const w = this.newWait('vfork', Infinity);
      w.child = pid;
      pr.wait = w;
      return BLOCKED;
    }
    return pid;
  }

  /**
   * Whether a new thread or process may start: the run's limit (--pids) counts live threads
   * and zombies (each holds a pid, as on Linux, so unreaped children are bounded too), and
   * a host thread must be ready for it. 0, or -EAGAIN (noted once under --verbose).
   */
  private roomForTask(k: Kernel, what: 'fork' | 'clone'): number {
    if (this.tasks.length + this.zombies >= this.taskLimit) {
      k.note('pids-limit', `${what}: the run's limit of processes and threads (${this.taskLimit}, --pids; zombies count) is reached: EAGAIN`);
      return -EAGAIN;
    }
    if (HostThread.canStart() && !HostThread.spare(this.unbound() + 1)) {
      k.note('pids-host', `${what}: the host refused another thread (${HostThread.refused ?? 'no thread may be started'}): EAGAIN`);
      return -EAGAIN;
    }
    return 0;
  }

  /** Processes that ended and are not reaped yet. */
  private zombies = 0;

  /** How many threads have no host thread yet (each new one needs one of the idle ones). */
  private unbound(): number {
    let n = 0;
    for (const r of this.runs.values()) if (!r.thread && !r.dead) n++;
    // A lone thread may run on the main thread: it needs none.
    return this.tasks.length === 1 ? 0 : n;
  }

  /** --trace names each line's thread once there is more than one process or thread. */
  private tagProcesses(): void {
    (this.host.dispatcher as { tagged?: boolean }).tagged = true;
  }

  /**
   * execve, once the new program is read and checked: the process's other threads end,
   * its VM gets the program (Machine.exec), its POSIX timers are deleted, and a vfork
   * parent goes on. Returns 0 (the registers are the new program's), or -errno before
   * anything changed.
   */
  exec(k: Kernel, prog: ExecImage): number {
    const t = k as unknown as Task, g = t.group;
    if (!this.runs.get(t)) return -ENOSYS;
    for (const u of [...g.tasks]) if (u !== t) this.kill(u);
    // vfork children that still borrow this process's memory lose it: Linux keeps the old
    // memory for them; torov ends them (an exec racing a vfork child, from another thread).
    const vm = vmOf(g);
    for (const c of [...this.procs.values()]) {
      if (c.alive && c.borrowing && vmOf(c).lender === vm) {
        this.endProcess(c, GuestExit.bySignal(SIGKILL, `torov: [pid ${c.pid}] killed: its parent exec'd while it ran over the parent's memory (vfork)`));
      }
    }
    if (g.borrowing) this.moveOut(t, prog); else vm.exec(t, prog);
    // Exec from another thread than the leader: it becomes the leader, with the pid as its tid.
    if (t.tid !== g.pid) {
      t.tid = g.pid;
      this.runs.get(t)?.slot?.republish(NR.gettid, g.pid);
    }
    g.execed = true;
    for (const [id, tm] of this.timers) if (id >= 0 && tm.group === g) this.arm(id, undefined);
    this.releaseVforkParent(g);
    return 0;
  }

  /**
   * A vfork child execs: its process gets a VM of its own (Loan.adopt), its thread moves
   * from the lender's vCPU to the new VM's and the program is loaded there. Throws before
   * anything changed (a bad ELF, no VM).
   */
  private moveOut(t: Task, prog: ExecImage): void {
    const loan = vmOf(t.group), old = this.runs.get(t)!;
    const vm = loan.adopt!(t, prog.image);
    this.releaseThread(t, old);
    // The syscall finishes on the old run (its result is the new program's registers): it is done with.
    old.dead = true;
    old.wait = undefined;
    loan.freeVcpu(old.vcpu);
    // The lender may be released then (its process ended): not before this syscall is done with the old vCPU.
    this.loansReturned.push(loan);
    const r = this.newRun(vm.vcpu, vm.firstSlot());
    this.runs.set(t, r);
    try {
      vm.exec(t, prog);
    } catch (e) {
      if (e instanceof SysError) throw new GuestExit(128 + SIGKILL, `torov: execve of ${prog.path} failed after the old program was gone (errno ${e.errno}): killed`);
      throw e;
    }
  }

  /** Loans of vfork children that moved out (moveOut), given back once their exec is done (settleLoans). */
  private readonly loansReturned: ProcessHost[] = [];

  private settleLoans(): void {
    for (const l of this.loansReturned.splice(0)) l.returned!();
  }

  /** A vfork child exec'd or ended: its parent's vfork returns the child's pid. */
  private releaseVforkParent(g: ThreadGroup): void {
    const p = g.vforkParent;
    if (!p) return;
    g.vforkParent = undefined;
    const r = this.runs.get(p);
    if (r && r.wait?.kind === 'vfork') this.complete(p, r, r.wait.child);
  }

  /**
   * Thread `t` stops for good (its process execs or ends): out of the guest, out of any
   * wait, its host thread free (a blocking host call interrupted first), its vCPU back.
   */
  private kill(t: Task, ending = false): void {
    const r = this.runs.get(t);
    if (!r) return;
    const w = r.wait;
    if (w?.kind === 'futex') this.unqueue(t, w);
    const h = r.thread;
    if (h) {
      try { if (h.running) h.stopSync(r.vcpu.fd.runU8); } catch { /* it is gone either way */ }
      if ((w?.kind === 'host' || w?.kind === 'ready') && !h.hostDone()) {
        for (let i = 0; i < 100 && !h.hostDone(); i++) { h.kick(r.vcpu.fd.runU8, false); Atomics.wait(h.ctl, 0, Atomics.load(h.ctl, 0), 2); }
        h.hostResult();
      }
      // The process ends and its VM may serve the next fork: the I/O exit KVM still holds is
      // completed now, by the thread that ran the vCPU (a KVM_RUN that returns at once),
      // not later on the main thread (Machine.close): KVM_RUN from another thread than a
      // vCPU's last costs an RCU grace period, and the next child gets this thread back.
      if (ending && r.vcpu.id === 0) {
        try {
          r.vcpu.fd.runU8[RUN.immediate_exit] = 1;
          h.go();
          h.stopSync(r.vcpu.fd.runU8);
          vmOf(t.group).ioCompleted = true;
        } catch { /* Machine.close completes it */ }
      }
    }
    r.wait = undefined;
    r.dead = true;
    const i = this.tasks.indexOf(t);
    if (i >= 0) this.tasks.splice(i, 1);
    const gi = t.group.tasks.indexOf(t);
    if (gi >= 0) t.group.tasks.splice(gi, 1);
    this.runs.delete(t);
    this.sleepers.delete(t);
    if (h) { this.account(t, r, h); r.thread = undefined; HostThread.release(h); }
    vmOf(t.group).freeVcpu(r.vcpu);
    this.frozen.delete(t);
    this.debugParked.delete(t);
    this.debug?.threadExited(t);
  }

  /**
   * Process `g` ended (`e`: its exit status or the signal that killed it). Its threads
   * stop, its VM and fds are released, its children go to the first process, and it
   * stays a zombie for its parent's wait, which gets its exit signal (SIGCHLD), unless
   * the parent ignores that: then it is reaped at once. The first process's end is the
   * run's (thrown further, not here).
   */
  endProcess(g: ThreadGroup, e: GuestExit): void {
    if (!g.alive) return;
    g.alive = false;
    g.stopped = false;
    g.stopReport = 0;
    g.contReport = false;
    const sig = e.signal ?? (e.reason !== undefined && e.status > 128 && e.status < 128 + 65 ? e.status - 128 : undefined);
    g.waitStatus = sig !== undefined ? sig : (e.status & 0xff) << 8;
    if (e.reason && sig !== undefined) g.note(`end-${g.pid}`, `[pid ${g.pid}] ${e.reason.replace(/^torov: /, '')}`);
    this.host.dispatcher.traceEnd?.(g.pid, g.waitStatus);
    for (const t of [...g.tasks]) this.kill(t, true);
    for (const [id, tm] of this.timers) if (tm.group === g) this.arm(id, undefined);
    // Its pidfds become readable.
    const watch = this.pidWatch.get(g.pid);
    if (watch !== undefined) {
      eventfdBuf.writeBigUInt64LE(1n, 0);
      sys(NR.write, watch, eventfdAddr, 8);
      sys(NR.close, watch);
      this.pidWatch.delete(g.pid);
    }
    const vm = vmOf(g);
    if (e.tainted) vm.tainted = true;
    vm.close();
    // A vfork child's end: the lender may be released once this exit is done with its vCPU.
    if (vm.returned) this.loansReturned.push(vm);
    this.releaseVforkParent(g);
    // Orphans go to the nearest living subreaper above, else the first process (it reaps
    // them, or the run's end does).
    let reaper = this.initGroup;
    for (let a = g.parent; a; a = a.parent) if (a.alive && a.subreaper) { reaper = a; break; }
    const kids = g.children.splice(0);
    for (const c of kids) {
      c.parent = reaper;
      c.ppid = reaper.pid;
      reaper.children.push(c);
      if (!c.alive) this.childChanged(reaper, c);
    }
    this.hangUpOrphans(g, kids);
    const p = g.parent;
    if (!p || !p.alive) { this.procs.delete(g.pid); return; }
    this.zombies++;
    this.childChanged(p, g);
  }

  // ---- job control: stops and continues -----------------------------------------------------------

  /** Threads of processes continued (SIGCONT): the poll loop lets them run again (resumeContinued). */
  private readonly toResume = new Set<Task>();

  /**
   * A stop signal at its default action reaches process `g`; true if it stopped. The first
   * process ignores it: it is the init of the run's PID namespace, and Linux ignores every
   * signal at its default action sent to a namespace's init from inside (and a stopped
   * first process would leave torov running with nothing to show for it; Ctrl-Z stops
   * torov itself). SIGTSTP, SIGTTIN and SIGTTOU are discarded for a process in an orphaned
   * process group (nobody is left to continue it), as on Linux; SIGSTOP is not.
   */
  private defaultStop(g: ThreadGroup, sig: number): boolean {
    if (!g.alive) return false;
    if (g === this.initGroup) {
      g.note(`stop-init-${sig}`, `${signalName(sig)} to the first process (pid ${g.pid}, the init of the run) at its default action: ignored, as by the init of a PID namespace`);
      return false;
    }
    if (sig !== SIGSTOP && this.orphanedPgrp(g.pgid)) return false;
    this.stopGroup(g, sig);
    return g.stopped;
  }

  /**
   * Process `g` stops: its threads leave the guest and stay parked (a thread blocked in a
   * host call stays blocked; it is parked when the call ends), its parent's waits
   * (WUNTRACED) are served again, and its parent gets SIGCHLD with CLD_STOPPED unless it
   * set SA_NOCLDSTOP.
   */
  private stopGroup(g: ThreadGroup, sig: number): void {
    if (!g.alive || g.stopped) return;
    g.stopped = true;
    g.stopReport = sig;
    g.contReport = false;
    for (const t of g.tasks) {
      this.toResume.delete(t);
      const r = this.runs.get(t);
      if (!r) continue;
      this.interruptForStop(t, r);
      this.parkForStop(t, r);
    }
    this.notifyParent(g, CLD_STOPPED, sig);
  }

  /**
   * A stop ends some waits with EINTR, though no handler runs (signal(7)): epoll_wait and
   * sigtimedwait (the program sees it once continued). Other calls go on after the stop.
   */
  private interruptForStop(t: Task, r: TaskRun): void {
    const w = r.wait;
    if (!w || r.dead) return;
    if (w.kind === 'sigwait' && !w.sfdMax) { this.complete(t, r, -EINTR); return; }
    const nr = r.viaChannel ? r.sysNr : r.vcpu.lastNr;
    if ((w.kind === 'host' || w.kind === 'ready') && STOP_EINTR.has(nr)) {
      r.interrupted = true;
      r.thread?.kick(r.vcpu.fd.runU8, false);
    }
  }

  /**
   * SIGCONT to process `g`, whatever its disposition: its pending stop signals are
   * discarded and, if it was stopped, its threads run again (from the poll loop, once the
   * work on the stack is done), its parent's waits (WCONTINUED) are served again and its
   * parent gets SIGCHLD with CLD_CONTINUED unless it set SA_NOCLDSTOP.
   */
  private continueGroup(g: ThreadGroup): void {
    this.dropPending(g, STOP_MASK);
    if (!g.stopped) return;
    g.stopped = false;
    g.stopReport = 0;
    g.contReport = true;
    for (const t of g.tasks) this.toResume.add(t);
    this.notifyParent(g, CLD_CONTINUED, SIGCONT);
  }

  /** Lets the threads of continued processes run again: those parked, with no wait and no exit held for them. */
  private resumeContinued(): void {
    const ts = [...this.toResume];
    this.toResume.clear();
    for (const t of ts) {
      const r = this.runs.get(t);
      if (!r || r.dead || !r.parked || r.wait || r.held !== undefined || t.group.stopped) continue;
      // A signal came while it was stopped (SIGCONT's handler) and its syscall's result
      // waits to be read: the guest leaves at PORT_CTX to take it, so the handler runs
      // before the program goes on, as on Linux.
      if (t.sigFlag && r.slot && r.slot.state() === CHAN_DONE) { r.ctxResult = r.slot.result(); r.slot.setState(CHAN_EXIT); }
      this.resume(r);
    }
  }

  /**
   * Takes thread `t`'s vCPU out of the guest for a stop and leaves it parked; an exit it
   * reported meanwhile is held until the process continues (the poll loop handles it then).
   * A host call in progress is not interrupted (that would be an EINTR the program never
   * sees on Linux): the thread is parked when it ends (finishChannel).
   */
  private parkForStop(t: Task, r: TaskRun): void {
    const h = r.thread;
    if (r.dead || r.parked || !h || !h.running) return;
    if ((r.wait?.kind === 'host' || r.wait?.kind === 'ready') && !h.hostDone()) return;
    const rc = h.stopSync(r.vcpu.fd.runU8);
    r.parked = true;
    if (rc !== undefined && !interrupted(r.vcpu, rc)) r.held = rc;
  }

  /** Drops the pending signals of `mask` from process `g` and its threads. */
  private dropPending(g: ThreadGroup, mask: bigint): void {
    if (((g.shared.mask | g.tasks.reduce((m, t) => m | t.pending.mask, 0n)) & mask) === 0n) return;
    for (let sig = 1; sig <= 64; sig++) {
      if (!(mask & sigmaskBit(sig))) continue;
      g.shared.drop(sig);
      for (const t of g.tasks) t.pending.drop(sig);
    }
    for (const t of g.tasks) this.recalc(t);
    this.syncSignalfds();
  }

  /** Process `g` stopped or continued: its parent's waits are served again, and it gets SIGCHLD unless SA_NOCLDSTOP. */
  private notifyParent(g: ThreadGroup, code: number, status: number): void {
    const p = g.parent;
    if (!p || !p.alive) return;
    this.wakeChildWaiters(p);
    const act = p.sigactions.get(SIGCHLD);
    if (act && (act.flags & BigInt(SA_NOCLDSTOP)) !== 0n) return;
    this.post(p, undefined, { signo: SIGCHLD, code, pid: g.pid, uid: g.uid, value: BigInt(status) });
  }

  /**
   * Threads of `p` waiting for a child try again (wait4 and waitid are served anew), as
   * Linux wakes them before the signal can interrupt their wait.
   */
  private wakeChildWaiters(p: ThreadGroup): void {
    for (const t of [...p.tasks]) {
      const r = this.runs.get(t);
      if (r && r.wait?.kind === 'child') { r.wait = undefined; this.guard(t, () => this.retry(t, r, Infinity)); }
    }
  }

  /** True if process group `pgid` is orphaned: no live member has a parent in another group of its session (POSIX). */
  private orphanedPgrp(pgid: number): boolean {
    for (const g of this.procs.values()) {
      if (!g.alive || g.pgid !== pgid) continue;
      const p = g.parent;
      if (p && p.alive && p.pgid !== pgid && p.sid === g.sid) return false;
    }
    return true;
  }

  /**
   * Process `g` ended, `kids` its children: a process group its end orphans (its own, or a
   * child's in the same session) that has a stopped member gets SIGHUP then SIGCONT, as
   * POSIX and Linux (kill_orphaned_pgrp) do, so that a stopped job nobody can continue any
   * more does not stay stopped for ever. The first process is spared (init).
   */
  private hangUpOrphans(g: ThreadGroup, kids: readonly ThreadGroup[]): void {
    const groups = new Set<number>();
    const p = g.parent;
    if (p && p.pgid !== g.pgid && p.sid === g.sid) groups.add(g.pgid);
    for (const c of kids) if (c.alive && c.pgid !== g.pgid && c.sid === g.sid) groups.add(c.pgid);
    for (const pgid of groups) {
      const members = () => [...this.procs.values()].filter((x) => x.alive && x.pgid === pgid && x !== this.initGroup);
      if (!members().some((x) => x.stopped) || !this.orphanedPgrp(pgid)) continue;
      for (const x of members()) this.post(x, undefined, { signo: SIGHUP, code: SI_KERNEL });
      for (const x of members()) this.post(x, undefined, { signo: SIGCONT, code: SI_KERNEL });
    }
  }

  /** Child `c` of `p` ended: SIGCHLD (its exit signal) and the waits; reaped at once where the parent ignores SIGCHLD. */
  private childChanged(p: ThreadGroup, c: ThreadGroup): void {
    const act = p.sigactions.get(SIGCHLD);
    const autoReap = c.exitSignal === SIGCHLD && act !== undefined && (act.handler === 1n || (act.flags & BigInt(SA_NOCLDWAIT)) !== 0n);
    if (autoReap) this.reap(p, c);
    this.wakeChildWaiters(p);
    // SA_NOCLDWAIT with a handler: reaped at once, and the handler still runs (as on Linux).
    if (c.exitSignal > 0 && p.alive && !(autoReap && act!.handler === 1n)) {
      const killed = (c.waitStatus & 0x7f) !== 0;
      this.post(p, undefined, { signo: c.exitSignal, code: killed ? CLD_KILLED : CLD_EXITED, pid: c.pid, uid: c.uid,
        value: BigInt(killed ? c.waitStatus & 0x7f : (c.waitStatus >> 8) & 0xff) });
    }
  }

  /** Adds the CPU time thread `t`'s host thread spent for it since it was bound to its process. */
  private account(t: Task, r: TaskRun, h: HostThread): void {
    if (r.cpu0 < 0) return;
    const now = threadCpuNs(h.tid);
    if (now >= r.cpu0) { t.group.cpuNs += now - r.cpu0; t.cpuNs += now - r.cpu0; }
    r.cpu0 = -1;
  }

  /**
   * CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID of the calling thread's process or
   * thread (ns): what its host threads spent for it, guest time included. Undefined before
   * the first fork: a lone program's clocks are then the VMM's own (its vCPU may run on
   * the main thread, whose time is not the program's alone).
   */
  cpuTime(k: Kernel, thread: boolean): number | undefined {
    if (!this.forked) return undefined;
    const t = k as unknown as Task;
    return thread ? t.cpuNs + this.liveCpu(t) : this.processCpuNs(t.group.pid);
  }

  /** CPU time (ns) of process `pid` so far (its threads' host threads; 0 for one that never had any), for /proc. */
  processCpuNs(pid: number): number {
    const g = this.procs.get(pid);
    if (!g) return 0;
    let n = g.cpuNs;
    for (const u of g.tasks) n += this.liveCpu(u);
    return n;
  }

  /** What thread `t`'s host thread has spent for it since it was bound (not yet in its counters). */
  private liveCpu(t: Task): number {
    const r = this.runs.get(t);
    return r && r.thread && r.cpu0 >= 0 ? Math.max(0, threadCpuNs(r.thread.tid) - r.cpu0) : 0;
  }

  /** Removes zombie `c` from `p`'s children: its pid is free. */
  private reap(p: ThreadGroup, c: ThreadGroup): void {
    if (this.procs.has(c.pid)) this.zombies--;
    p.childCpuNs += c.cpuNs + c.childCpuNs;
    const i = p.children.indexOf(c);
    if (i >= 0) p.children.splice(i, 1);
    this.procs.delete(c.pid);
  }

  /**
   * wait4 and waitid: a child of the calling process that matches `w` and ended (WEXITED;
   * reaped unless WNOWAIT), stopped (WUNTRACED) or was continued (WCONTINUED); null when
   * none has yet and WNOHANG; -ECHILD when no child matches; BLOCKED while it waits (served
   * again when a child ends, stops or continues; EINTR on a signal).
   */
  waitChild(k: Kernel, w: ChildWait): ChildStatus | null | number {
    const t = k as unknown as Task, g = t.group;
    const match = (c: ThreadGroup) => {
      if (w.which === 'pid' && c.pid !== w.id) return false;
      if (w.which === 'pgid' && c.pgid !== w.id) return false;
      if (w.options & __WALL) return true;
      return ((w.options & __WCLONE) !== 0) === (c.exitSignal !== SIGCHLD);
    };
    let any = false;
    const keep = (w.options & WNOWAIT) !== 0;
    for (const c of g.children) {
      if (!match(c)) continue;
      any = true;
      if (!c.alive) {
        if (!(w.options & WEXITED)) continue;
        if (!keep) this.reap(g, c);
        return { pid: c.pid, status: c.waitStatus, uid: c.uid, cpuNs: c.cpuNs + c.childCpuNs };
      }
      // A stop or a continue is reported once (WNOWAIT leaves it reportable), as Linux does.
      if ((w.options & WUNTRACED) && c.stopReport) {
        const status = 0x7f | (c.stopReport << 8);
        if (!keep) c.stopReport = 0;
        return { pid: c.pid, status, uid: c.uid, cpuNs: this.processCpuNs(c.pid) + c.childCpuNs };
      }
      if ((w.options & WCONTINUED) && c.contReport) {
        if (!keep) c.contReport = false;
        return { pid: c.pid, status: 0xffff, uid: c.uid, cpuNs: this.processCpuNs(c.pid) + c.childCpuNs };
      }
    }
    if (!any) return -ECHILD;
    if (w.options & WNOHANG) return null;
    const r = this.runs.get(t);
    if (!r) return -ECHILD;
    if (t.sigFlag) return -EINTR;
    r.wait = this.newWait('child', Infinity);
    return BLOCKED;
  }

  /** The process with pid `pid` (live or a zombie), if any. */
  process(pid: number): ThreadGroup | undefined {
    return this.procs.get(pid);
  }

  /**
   * kill(2) to other processes: `pid` > 0 one process, 0 the caller's process group, -1
   * every process but the first, < -1 process group -pid. 0, or -ESRCH when none exists.
   * A zombie takes a signal without effect, as on Linux.
   */
  killProcesses(k: Kernel, pid: number, info: SignalInfo): number {
    const from = (k as unknown as Task).group;
    let targets: ThreadGroup[];
    if (pid > 0) { const g = this.procs.get(pid); targets = g ? [g] : []; }
    else if (pid === -1) targets = [...this.procs.values()].filter((g) => g !== this.initGroup && g !== from && g.alive);
    else { const pg = pid === 0 ? from.pgid : -pid; targets = [...this.procs.values()].filter((g) => g.pgid === pg); }
    if (targets.length === 0) return -ESRCH;
    if (info.signo === 0) return 0;
    // The sender's own process last: a fatal signal to it unwinds from here.
    targets.sort((a, b) => (a === from ? 1 : 0) - (b === from ? 1 : 0));
    let rc = 0;
    for (const g of targets) if (g.alive) { const r = this.post(g, undefined, info, from); if (r < 0) rc = r; }
    return rc;
  }

  /** Per live process with pidfds: the host eventfd they all share (a duplicate each), signalled when it ends. */
  private readonly pidWatch = new Map<number, number>();

  /**
   * pidfd_open, CLONE_PIDFD: makes host eventfd `efd` (made by the handler, counter 0) a
   * guest fd for process `pid` (live or a zombie) that becomes readable (POLLIN) once it
   * has ended. All pidfds of a process share one eventfd (the first one's; later ones are
   * duplicates of it), so the host fds torov keeps are one per watched process, whatever
   * the guest opens and closes. Returns the guest fd, or -errno (-ESRCH: no such
   * process); `efd` is closed whatever happens to it.
   */
  pidfdOpen(k: Kernel, pid: number, efd: number): number {
    const g = this.procs.get(pid);
    if (!g) { sys(NR.close, efd); return -ESRCH; }
    let h = efd;
    if (!g.alive) {
      eventfdBuf.writeBigUInt64LE(1n, 0);
      sys(NR.write, efd, eventfdAddr, 8);
    } else {
      const w = this.pidWatch.get(pid);
      if (w !== undefined) {
        sys(NR.close, efd);
        h = sys(NR.fcntl, w, F_DUPFD_CLOEXEC, 3);
      } else {
        const d = sys(NR.fcntl, efd, F_DUPFD_CLOEXEC, 3);
        if (d < 0) { sys(NR.close, efd); return d; }
        this.pidWatch.set(pid, d);
      }
      if (h < 0) return h;
    }
    const fd = k.fds.add(h, true);
    if (fd < 0) { sys(NR.close, h); return fd; }
    k.fds.pidfds.set(fd, pid);
    return fd;
  }

  /** The processes, for /proc (live ones and zombies). */
  processes(): IterableIterator<ThreadGroup> {
    return this.procs.values();
  }

  // ---- timers ---------------------------------------------------------------------------------------

  itimer(k: Kernel, which: number, value: number | undefined, interval: number): { value: number; interval: number } {
    // Each process has its own three (ids below zero, by pid).
    const id = -1 - which - 4 * k.pid;
    const tm = this.timers.get(id);
    const old = tm && tm.deadline !== Infinity ? { value: remainingMs(tm), interval: tm.interval } : { value: 0, interval: 0 };
    if (value === undefined) return old;
    const signo = which === 0 ? SIGALRM : which === 1 ? SIGVTALRM : SIGPROF;
    this.arm(id, { deadline: value > 0 ? nowMs() + value : Infinity, interval: value > 0 ? interval : 0, clock: 1, notify: 0, signo, value: 0n, tid: 0, overrun: 0,
      group: (k as unknown as Task).group });
    return old;
  }

  timerCreate(k: Kernel, clock: number, notify: number, signo: number, value: bigint, tid: number): number {
    if (notify === 4 /* SIGEV_THREAD_ID */ && !this.hasThread(tid)) return -EINVAL;
    if (this.timers.size >= 4096) return -EAGAIN;
    const id = this.nextTimerId++;
    this.timers.set(id, { deadline: Infinity, interval: 0, clock, notify, signo, value, tid, overrun: 0, group: (k as unknown as Task).group });
    return id;
  }

  timerSet(k: Kernel, id: number, value: number | undefined, interval: number, abs: boolean): { value: number; interval: number } | number {
    const tm = this.timers.get(id);
    if (!tm || id < 0 || tm.group !== (k as unknown as Task).group) return -EINVAL;
    const old = { value: tm.deadline === Infinity ? 0 : remainingMs(tm), interval: tm.interval };
    if (value === undefined) return old;
    let deadline = Infinity;
    if (value > 0) deadline = abs ? nowMs() + (value - clockMs(tm.clock)) : nowMs() + value;
    this.arm(id, { ...tm, deadline: value > 0 ? deadline : Infinity, interval: value > 0 ? interval : 0, overrun: 0 });
    return old;
  }

  timerOverrun(k: Kernel, id: number): number {
    const tm = this.timers.get(id);
    return tm && id >= 0 && tm.group === (k as unknown as Task).group ? Math.min(tm.overrun, 0x7fffffff) : -EINVAL;
  }

  timerDelete(k: Kernel, id: number): number {
    if (id < 0 || this.timers.get(id)?.group !== (k as unknown as Task).group) return -EINVAL;
    this.arm(id, undefined);
    return 0;
  }

  /** Sets (or deletes, undefined) timer `id`, keeping the count of armed timers. */
  private arm(id: number, tm: Timer | undefined): void {
    const old = this.timers.get(id);
    if (old && old.deadline !== Infinity) this.armed--;
    if (tm) this.timers.set(id, tm); else this.timers.delete(id);
    if (tm && tm.deadline !== Infinity) this.armed++;
  }

  /** Sends the signals of the timers that expired (`now`, slack included); true if any did. */
  private fireTimers(now: number): boolean {
    let any = false;
    for (const [id, tm] of this.timers) {
      if (tm.deadline > now) continue;
      any = true;
      let missed = 0;
      if (tm.interval > 0) {
        missed = Math.floor((now - tm.deadline) / tm.interval);
        tm.deadline += (missed + 1) * tm.interval;
      } else {
        this.armed--;
        tm.deadline = Infinity;
      }
      const g = tm.group;
      if (tm.notify === 1 /* SIGEV_NONE */ || !g.alive) continue;
      const target = tm.notify === 4 ? g.tasks.find((t) => t.tid === tm.tid) : undefined;
      const q = target ? target.pending : g.shared;
      if (q.mask & sigmaskBit(tm.signo)) { tm.overrun += missed + 1; continue; }     // still pending: an overrun
      tm.overrun = missed;
      const info: SignalInfo = id < 0 ? { signo: tm.signo, code: SI_KERNEL } : { signo: tm.signo, code: SI_TIMER, timerid: id, overrun: missed, value: tm.value };
      this.post(g, target, info);
    }
    return any;
  }

  /** The channel's counters for --verbose and the benchmark. */
  channelStats(): ChannelStats { return this.stats; }
}

const RIP_W = (RUN.regs + REGS.rip) >> 2;

/** True if KVM_RUN's return `rc` for `v` was an interruption (a kick), not an exit to handle. */
function interrupted(v: Vcpu, rc: number): boolean {
  if (rc < 0) return rc === -EINTR || rc === -EAGAIN;
  return v.fd.runU32[RUN.exit_reason >> 2] === KVM_EXIT_INTR;
}
