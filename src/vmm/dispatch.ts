/**
 * Syscall dispatch: the policy's verdict, then the handler, for one call of one guest
 * thread. Every path a syscall takes into the VMM (a VM exit, the syscall channel, a
 * debugger's step over `syscall`) ends here, so the policy, the argument rules, learn mode
 * and --trace apply the same way to all of them.
 *
 * The policy is checked first: a denied call never reaches a handler or the host.
 * Handlers return the result or -errno; a SysError they throw (a bad guest pointer is
 * GuestFault, EFAULT) becomes -errno here and nowhere else.
 */
import { Args, BLOCKED, GuestExit, Handler } from '../syscalls/api';
import { HANDLERS } from '../syscalls/handlers';
import { writeAll, sys, addressOf } from '../host/libc';
import { HOST } from '../syscalls/host-nr';
import { AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_PATH } from '../linux/fcntl';
import { SYSCALL_BY_NR, syscallName, SYS as NRS } from '../linux/syscalls';
import { signalName } from '../linux/signal';

const NR_EXECVE = NRS.execve, NR_EXECVEAT = NRS.execveat;
import { Policy, verdict, denyErrno, ALLOW, DENY, KILL, LOG, CHECK } from '../policy/policy';
import { EFAULT, ENOSYS, SysError, errnoName } from '../linux/errno';
import { busFaults, restoreParked } from '../machine/bus-guard';
import type { Outcome, Observer } from '../syscalls/argcheck';
import type { TraceMemory, Verdict } from '../syscalls/trace';
import type { Task, ThreadGroup } from './task';
import { printable } from './task';

/** How many distinct refusals by argument rules --verbose reports. */
const REFUSALS_SHOWN = 100;
/** Arguments that are all zero (for asking a handler what it would answer, e.g. the fast paths). */
export const NO_ARGS: Args = { i: () => 0, u: () => 0, n: () => 0, ptr: () => 0, big: () => 0n };

/** What the vCPU loop and the syscall channel need of dispatch. */
export interface SyscallDispatcher {
  /** Performs syscall `nr` for `task`; returns the value for rax. Throws GuestExit when the call ends the program. */
  dispatch(task: Task, nr: number, a: Args): number;
  /** --trace: a process ended (its wait status). */
  traceEnd?(pid: number, waitStatus: number): void;
  /** --trace: a call that waited finished. */
  traceResumed?(task: Task, nr: number, result: number): void;
}

/** What a Dispatcher is made from. */
export interface DispatchOptions {
  policy: Policy;
  /** Where --trace lines go (a host fd), or undefined. */
  traceFd?: number;
  verbose: boolean;
  log: (line: string) => void;
  /** Learn mode: every call is recorded here, and allowed. The policy must give every number CHECK. */
  learner?: Observer;
}

/** "." for the host: the cwd a process leaves when another runs. */
const DOT = Buffer.from('.\0');

/** Policies with argument rules (a scan of the frozen table costs about 17 µs: once per policy, not per VM). */
const ARG_RULES = new WeakMap<Policy, boolean>();
function hasArgRules(p: Policy): boolean {
  let has = ARG_RULES.get(p);
  if (has === undefined) ARG_RULES.set(p, has = p.argRules.some((s) => s !== undefined));
  return has;
}

export class Dispatcher implements SyscallDispatcher {
  private readonly policy: Policy;
  private readonly handlers: readonly (Handler | undefined)[] = HANDLERS;
  private readonly traceFd: number | undefined;
  /** The trace formatter, loaded only when tracing (it is large; and under the sandbox's seccomp filter a later require could not read its file). */
  private readonly formatTraceLine: typeof import('../syscalls/trace').formatTraceLine | undefined;
  /** Argument checks (src/syscalls/argcheck.ts), loaded only when the policy has argument rules or learns. */
  private readonly argcheck: typeof import('../syscalls/argcheck') | undefined;
  private readonly learner: Observer | undefined;
  private readonly verbose: boolean;
  private readonly log: (l: string) => void;
  /** Refusals by argument rules reported so far (with --verbose). */
  private readonly refused = new Set<string>();

  /** Sees every call before the policy (a snapshot's capture point, src/vmm/snapshot.ts); may throw GuestExit. */
  intercept: ((task: Task, nr: number, a: Args) => void) | undefined;

  /** A debugger's wrapper around every call (it lifts its watchpoints' page protection meanwhile), or undefined. */
  wrap: ((call: () => number) => number) | undefined;

  constructor(o: DispatchOptions) {
    this.policy = o.policy;
    this.traceFd = o.traceFd;
    this.verbose = o.verbose;
    this.log = o.log;
    this.learner = o.learner;
    this.formatTraceLine = o.traceFd !== undefined ? (require('../syscalls/trace') as typeof import('../syscalls/trace')).formatTraceLine : undefined;
    this.argcheck = o.learner !== undefined || hasArgRules(o.policy)
      ? require('../syscalls/argcheck') as typeof import('../syscalls/argcheck') : undefined;
  }

  /**
   * Dispatches one syscall: policy verdict, then the handler. Returns the value for rax.
   * The policy is checked first, so a denied call never reaches a handler or the host.
   */
  dispatch(task: Task, nr: number, a: Args): number {
    if (task.group !== this.active) this.activate(task.group);
    if (this.intercept !== undefined) this.intercept(task, nr, a);
    const w = this.wrap;
    if (w !== undefined) {
      this.wrap = undefined;
      try { return w(() => this.dispatch(task, nr, a)); } finally { this.wrap = w; }
    }
    const act = verdict(this.policy, nr);
    if (this.traceFd !== undefined) return this.dispatchTraced(task, nr, a, act);
    if (act === ALLOW) return this.call(task, nr, a);
    if (act === DENY) return this.denied(task, nr);
    if (act === LOG) {
      const r = this.call(task, nr, a);
      this.log(`torov: policy log: ${syscallName(nr)} = ${r}`);
      return r;
    }
    if (act === CHECK) return this.dispatchChecked(task, nr, a, this.checkArgs(task, nr, a));
    throw this.killed(nr);
  }

  /**
   * The host's per-process state is the VMM's, one for all guest processes: the working
   * directory (relative paths, getcwd) and the umask. It is switched to the calling
   * process's when another process's call comes: the last one's cwd is kept as an O_PATH
   * fd (recorded again only after it changed it), the new one's restored with fchdir.
   */
  private activate(g: ThreadGroup): void {
    const prev = this.active;
    this.active = g;
    if (prev === undefined) return;               // the first process: the VMM's own state is its
    if (prev.alive && prev.cwdFd < 0) prev.cwdFd = sys(HOST.openat, AT_FDCWD, addressOf(DOT), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (g.cwdFd >= 0) sys(HOST.fchdir, g.cwdFd);
    if (prev.umask !== g.umask) sys(HOST.umask, g.umask);
  }
  private active: ThreadGroup | undefined;
  /** The process whose call came last (whose cwd and umask the VMM's are), if any came. */
  get activeGroup(): ThreadGroup | undefined { return this.active; }
  /** --trace tags each line with its thread once the run has more than one (set by the scheduler). */
  tagged = false;

  /** --trace: a call that waited (BLOCKED) finished with `result`: "<... wait4 resumed>) = 2". */
  traceResumed(task: Task, nr: number, result: number): void {
    if (this.traceFd === undefined || nr < 0) return;
    const tag = this.tagged || task.group.tasks.length > 1 ? `[pid ${task.tid}] ` : '';
    const r = result < 0 && result >= -4095 ? `-1 ${errnoName(-result)}` : String(result);
    writeAll(this.traceFd, `${tag}<... ${syscallName(nr)} resumed>) = ${r}\n`);
  }

  /** --trace: a process ended, as strace -f says it ("+++ exited with 3 +++", "+++ killed by SIGTERM +++"). */
  traceEnd(pid: number, waitStatus: number): void {
    if (this.traceFd === undefined) return;
    const sig = waitStatus & 0x7f;
    const what = sig !== 0 ? `killed by ${signalName(sig)}` : `exited with ${(waitStatus >> 8) & 0xff}`;
    writeAll(this.traceFd, `${this.tagged ? `[pid ${pid}] ` : ''}+++ ${what} +++\n`);
  }

  /** The verdict of a call with argument rules (or in learn mode): src/syscalls/argcheck.ts. */
  private checkArgs(task: Task, nr: number, a: Args): Outcome {
    const ac = this.argcheck!;
    return this.learner ? ac.observe(task, nr, a, this.learner) : ac.evaluate(task, nr, a, this.policy.argRules[nr]!, this.policy.source);
  }

  /**
   * Applies an argument check's outcome. The handler runs with the checked copies pinned
   * (paths, addresses) and they are dropped after it. A denial is reported with --verbose
   * (once per message; plain denials are silent too), a kill always.
   */
  private dispatchChecked(task: Task, nr: number, a: Args, o: Outcome): number {
    if (o.result !== undefined) { this.argcheck!.unpin(); return o.result; }
    if (o.code === DENY) {
      // Each distinct refusal once, and at most REFUSALS_SHOWN of them: a guest must not
      // be able to grow the VMM's memory or flood the terminal through these messages.
      if (this.verbose && o.message && this.refused.size <= REFUSALS_SHOWN && !this.refused.has(o.message)) {
        this.refused.add(o.message);
        this.log(this.refused.size > REFUSALS_SHOWN ? `torov: policy: more than ${REFUSALS_SHOWN} kinds of refused calls; no more are reported` : printable(o.message));
      }
      return nr >= 0 && SYSCALL_BY_NR[nr] !== undefined ? -o.errno : -ENOSYS;
    }
    if (o.code === KILL) throw new GuestExit(159, printable(o.message ?? `torov: SIGSYS: ${syscallName(nr)} (syscall ${nr}) is not allowed by the policy (${this.policy.source}): killed`));
    try {
      const r = this.call(task, nr, a);
      if (o.code === LOG) this.log(`torov: policy log: ${syscallName(nr)} = ${r}`);
      return r;
    } finally {
      this.argcheck!.unpin();
    }
  }

  /** A denied call returns the policy's errno; a number that is no Linux syscall is ENOSYS, as in Linux. */
  private denied(task: Task, nr: number): number {
    const known = nr >= 0 && SYSCALL_BY_NR[nr] !== undefined;
    // --verbose: each refused syscall once (note() keeps one per key).
    if (this.verbose) task.note(`deny-${nr}`, `policy: ${syscallName(nr)} (syscall ${nr}) is not allowed by the policy (${this.policy.source}): denied with ${known ? errnoName(denyErrno(this.policy, nr)) : 'ENOSYS'}`);
    return known ? -denyErrno(this.policy, nr) : -ENOSYS;
  }

  private killed(nr: number): GuestExit {
    return new GuestExit(159, `torov: SIGSYS: ${syscallName(nr)} (syscall ${nr}) is not allowed by the policy (${this.policy.source}): killed`);
  }

  /** Runs the handler; the one place where a thrown SysError (GuestFault: EFAULT) becomes -errno. */
  private call(task: Task, nr: number, a: Args): number {
    const h = nr >= 0 ? this.handlers[nr] : undefined;
    if (h === undefined) {
      task.note(`enosys-${nr}`, `${syscallName(nr)} (syscall ${nr}) is not implemented: returned ENOSYS`);
      return -ENOSYS;
    }
    // A guest page that lost its backing (a truncated file mapping) and faulted under the
    // VMM's own loads or stores was recovered by the SIGBUS guard (src/machine/bus-guard.ts):
    // the syscall during which it happened gets EFAULT, as Linux gives for such a pointer,
    // and the page is given back to the guest. One read of a shared word when nothing did.
    if (busFaults() !== 0) restoreBus(task);          // from outside a syscall (a signal frame, gdb)
    let r: number;
    try {
      r = h(task, a);
    } catch (e) {
      if (busFaults() !== 0) restoreBus(task);
      if (e instanceof SysError) return -e.errno;
      throw e;
    }
    if (busFaults() !== 0) {
      restoreBus(task);
      if (r !== BLOCKED) return -EFAULT;
    }
    return r;
  }

  private dispatchTraced(task: Task, nr: number, a: Args, act: number): number {
    const info = nr >= 0 ? SYSCALL_BY_NR[nr] : undefined;
    const args = [0, 1, 2, 3, 4, 5].map((i) => a.big(i));
    const tm = traceMemory(task);
    const o = act === CHECK ? this.checkArgs(task, nr, a) : undefined;
    const code = o ? (o.result !== undefined ? ALLOW : o.code) : act;
    const v: Verdict = code === ALLOW ? 'allow' : code === DENY ? 'deny' : code === KILL ? 'kill' : 'log';
    const formatTraceLine = this.formatTraceLine!;
    // As strace -f: once the program has more than one thread, each line names its thread.
    const tag = this.tagged || task.group.tasks.length > 1 ? `[pid ${task.tid}] ` : '';
    const out = (result: bigint) => writeAll(this.traceFd!, tag + formatTraceLine(info, nr, args, tm, result, v) + '\n');
    if (code === KILL) { out(0n); if (o) this.dispatchChecked(task, nr, a, o); throw this.killed(nr); }
    // execve's arguments are gone once it succeeds: its line is made before (as if it returned 0).
    const before = (nr === NR_EXECVE || nr === NR_EXECVEAT) && code !== DENY ? tag + formatTraceLine(info, nr, args, tm, 0n, v) + '\n' : undefined;
    let r: number;
    if (code === DENY) r = o ? this.dispatchChecked(task, nr, a, o) : this.denied(task, nr);
    else {
      try { r = o ? this.dispatchChecked(task, nr, a, o) : this.call(task, nr, a); } catch (e) { if (e instanceof GuestExit) out(0n); throw e; }
    }
    if (before !== undefined && r === 0) writeAll(this.traceFd!, before);
    else if (r === BLOCKED) {
      // As strace: the call waits; its result comes in a "resumed" line (traceResumed).
      const line = formatTraceLine(info, nr, args, tm, 0n, v);
      writeAll(this.traceFd!, `${tag}${line.slice(0, line.lastIndexOf(') = ') + 1)} <unfinished ...>\n`);
    } else out(BigInt.asUintN(64, BigInt(r)));
    if (busFaults() !== 0) restoreBus(task);          // the trace read a page that lost its backing
    return r;
  }
}

/** Gives the guest's pages back after a recovered SIGBUS (src/machine/bus-guard.ts). */
function restoreBus(task: Task): void {
  const mem = task.mem, as = task.as;
  restoreParked((host) => {
    const va = host - mem.hostBase;
    if (!(va >= 0 && va < mem.memSize)) return false;
    const v = as.find(va);
    return v !== undefined && (v.kind === 'file' || v.kind === 'shared');
  });
}

/**
 * Guest memory as the trace formatter reads it: never throws, never outside what the guest
 * may read. Memory that lost its backing (the SIGBUS guard recovered a read of it) is shown
 * as the pointer, as strace shows memory it cannot read.
 */
function traceMemory(task: Task): TraceMemory {
  const mem = task.mem;
  return {
    readString(addr: number, max: number) {
      try {
        let n = 0;
        const bytes: number[] = [];
        while (n < max + 1) {
          const v = mem.view(addr + n, 1, false)[0]!;
          if (busFaults() !== 0) return null;
          if (v === 0) return { s: Buffer.from(bytes).toString('latin1'), truncated: false };
          bytes.push(v); n++;
        }
        return { s: Buffer.from(bytes.slice(0, max)).toString('latin1'), truncated: true };
      } catch { return null; }
    },
    readBytes(addr: number, len: number) {
      try { const b = mem.read(addr, len); return busFaults() !== 0 ? null : b; } catch { return null; }
    },
  };
}
