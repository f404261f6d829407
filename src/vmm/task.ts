/**
 * The guest's kernel state, split as Linux splits it:
 *  - a ThreadGroup is a guest process: its memory and address space, fd table, signal
 *    handlers, identity, limits; shared by its threads;
 *  - a Task is one guest thread: its vCPU, tid, signal mask and pending set, alternate
 *    signal stack, clear_child_tid, robust list and TLS bases.
 * Handlers see a Task through the Kernel interface (src/syscalls/api.ts); what the clone
 * flags share (CLONE_VM, CLONE_FILES, CLONE_SIGHAND) is what a new Task takes by
 * reference from its parent's group.
 */
import type { GuestMemory } from '../machine/memory';
import type { AddressSpace } from '../machine/mm';
import type { FdTable } from '../syscalls/fdtable';
import type { Kernel, SigAction, TaskServices, UserRegs } from '../syscalls/api';
import { SigQueue } from './sigstate';
import { nowMs } from '../host/clock';

/** Where a ThreadGroup's diagnostics go, and whether --verbose notes are shown. */
export interface Diagnostics {
  readonly verbose: boolean;
  log(line: string): void;
}

/** What a process needs of its VM (src/vmm/machine.ts's Machine). */
export interface ProcessVm {
  /** Releases the VM, its memory and the process's fds (a process's end). */
  close(): void;
}

/** A guest process: what its threads share. */
export class ThreadGroup {
  /** Signal dispositions (rt_sigaction), shared by every thread (CLONE_SIGHAND). */
  readonly sigactions = new Map<number, SigAction>();
  /** Signals sent to the process (kill), for whichever thread does not block them. */
  readonly shared = new SigQueue();
  /**
   * Futex waiters by address, for the process's private memory (a vfork child borrowing it
   * shares its parent's). Futexes in shared memory are the scheduler's (Scheduler.futexQueue).
   */
  futexes = new Map<number, Task[]>();
  /** The group's threads, the first one (the leader, tid == pid) first. */
  readonly tasks: Task[] = [];
  /** Identity published to the guest (getpid & co, auxv). */
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
  private readonly noted: Set<string>;

  // ---- the process tree (src/vmm/processes.ts) ----
  /** The VM the process runs in (its Machine). */
  vm: ProcessVm | undefined;
  /** The parent process (undefined for the first one, and once the parent is gone: re-parented to the first). */
  parent: ThreadGroup | undefined;
  /** The parent's pid as the guest sees it (getppid). */
  ppid: number;
  readonly children: ThreadGroup[] = [];
  /** Process group and session (setpgid, setsid). */
  pgid: number;
  sid: number;
  /** False once the process ended (a zombie until its parent reaps it). */
  alive = true;
  /** Its wait status (exit code << 8, or the signal number) once it ended. */
  waitStatus = 0;
  /**
   * Stopped by a stop signal (SIGSTOP, or SIGTSTP/SIGTTIN/SIGTTOU at their default action):
   * its threads do not enter the guest until SIGCONT (src/vmm/scheduler.ts, stopGroup).
   */
  stopped = false;
  /** A stop its parent's wait has not reported yet (WUNTRACED, WSTOPPED): the stop signal, else 0. */
  stopReport = 0;
  /** A continue (SIGCONT after a stop) its parent's wait has not reported yet (WCONTINUED). */
  contReport = false;
  /** The signal its parent gets when it ends (SIGCHLD, or clone's exit signal). */
  exitSignal = 17;
  /** PR_SET_CHILD_SUBREAPER: orphans below it come to it rather than to the first process. */
  subreaper = false;
  /** True once it called execve (its parent can no longer change its process group: EACCES). */
  execed = false;
  /** A vfork parent's thread, suspended until this process execs or ends. */
  vforkParent: Task | undefined;
  /**
   * A vfork child (CLONE_VM|CLONE_VFORK) runs over its parent's memory and address space,
   * on a vCPU of its parent's VM (Machine.lend), until it execs (it moves to a VM of its
   * own) or ends: true meanwhile.
   */
  borrowing = false;
  /** The process's working directory as a host O_PATH fd (-1: the VMM's own cwd is it, nobody else ran since). */
  get cwdFd(): number { return this.cwd; }
  set cwdFd(fd: number) { this.cwd = fd; this.cwdChanges++; }
  private cwd = -1;
  /** Counts the assignments of cwdFd (a restored VM keeps its cwd fd only if none happened: Machine.close). */
  cwdChanges = 0;
  /** The file mode creation mask (umask). */
  umask = 0o022;
  /** nowMs() when it started (/proc's start times). */
  readonly started = nowMs();
  /** CPU time (ns) its threads' host threads spent for it, and that of its reaped children (wait4's rusage, times). */
  cpuNs = 0;
  childCpuNs = 0;

  constructor(public exe: string, public mem: GuestMemory, public as: AddressSpace, public fds: FdTable,
    private readonly diag: Diagnostics, ids: { pid: number; ppid: number; uid: number; gid: number }, noted?: Set<string>) {
    this.pid = ids.pid;
    this.ppid = ids.ppid;
    this.uid = ids.uid;
    this.gid = ids.gid;
    this.pgid = ids.pid;
    this.sid = ids.pid;
    // Notes are once per run, not once per process.
    this.noted = noted ?? new Set<string>();
  }

  /** The set of notes already shown (shared with the processes this one forks). */
  get notedKeys(): Set<string> { return this.noted; }
  get diagnostics(): Diagnostics { return this.diag; }

  /** Writes a line of the guest's debug console (ToroV's hypercall 499) to torov's stderr. */
  console(text: Uint8Array): void {
    this.diag.log(`torov: console: ${printable(Buffer.from(text).toString('utf8'))}`);
  }

  /** Warns once per key on stderr when --verbose. */
  note(key: string, message: string): void {
    if (!this.diag.verbose || this.noted.has(key)) return;
    this.noted.add(key);
    this.diag.log(`torov: ${printable(message)}`);
  }
}

/** One guest thread. Implements what a syscall handler sees (Kernel). */
export class Task implements Kernel {
  /** Blocked signals (rt_sigprocmask). */
  sigmask = 0n;
  /** Signals sent to this thread (tkill, tgkill, its own faults and timers). */
  readonly pending = new SigQueue();
  /** The mask to restore after a handler that interrupted rt_sigsuspend (it ran with the temporary one). */
  savedMask: bigint | undefined;
  /** True when a signal is pending that this thread does not block (kept by the scheduler). */
  sigFlag = false;
  /** sigaltstack's stack_t (24 bytes). */
  altstack: Uint8Array = new Uint8Array(24);
  /** set_tid_address / CLONE_CHILD_CLEARTID: cleared and woken when the thread ends. */
  clearTid = 0;
  /** set_robust_list's head. */
  robustList = 0;
  /** FS and GS bases for TLS (arch_prctl); the vCPU applies a change when fsBaseDirty is set. */
  fsBase = 0;
  gsBase = 0;
  fsBaseDirty = false;
  /** The program's registers while a syscall that needs them is served (clone), else undefined. */
  regs: UserRegs | undefined;
  /** CPU time (ns) its host threads spent for it (CLOCK_THREAD_CPUTIME_ID once processes exist). */
  cpuNs = 0;
  /** While a syscall that waited for host fds is served again: the deadline of that wait. */
  retryDeadline: number | undefined;

  constructor(readonly group: ThreadGroup, public tid: number, readonly sched: TaskServices) {}

  get mem(): GuestMemory { return this.group.mem; }
  get as(): AddressSpace { return this.group.as; }
  get fds(): FdTable { return this.group.fds; }
  get exe(): string { return this.group.exe; }
  get process(): ThreadGroup { return this.group; }
  get pid(): number { return this.group.pid; }
  get ppid(): number { return this.group.ppid; }
  get uid(): number { return this.group.uid; }
  get gid(): number { return this.group.gid; }
  get sigactions(): Map<number, SigAction> { return this.group.sigactions; }
  get pendingMask(): bigint { return this.pending.mask | this.group.shared.mask; }
  console(text: Uint8Array): void { this.group.console(text); }
  note(key: string, message: string): void { this.group.note(key, message); }
}

/** Text from a guest, made safe for a terminal: control characters (escape sequences) as \xNN. */
export function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
