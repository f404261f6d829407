/**
 * The debugged program: the vCPU's run loop with a debugger attached, its registers and
 * memory as gdb sees them, breakpoints, single-stepping and watchpoints, threads and
 * signals.
 *
 * While the program has one thread, its vCPU runs in this module's own loop on Node's
 * main thread. From its second thread on (or a timer, or a syscall that waits in the
 * scheduler) the scheduler runs it, and this session is the scheduler's DebugHook:
 * all-stop, every vCPU parked (Scheduler.stopWorld) while gdb has the program; the
 * registers gdb sees are those of the thread Hg chose; vCont says which thread steps
 * and whether the others run meanwhile (Scheduler.frozen). A signal stops the program
 * before it is delivered, as under ptrace (DebugHook.signal).
 *
 * How each mechanism works, and what was verified on kvm_pvm (see also docs in README):
 *  - Software breakpoints: 0xCC in guest memory (the original byte kept, and shown to gdb
 *    in memory reads). The `int3` raises #BP, which goes through the guest's IDT to the
 *    stub's exception entry and the fault port, like any guest fault; the frame's rip is
 *    after the 0xCC, so the stop is reported at rip-1 with `swbreak`. This works on every
 *    host (verified here). Where KVM's guest debugging works (the probe below; VMX hosts),
 *    KVM_GUESTDBG_USE_SW_BP is enabled as well and the #BP arrives as KVM_EXIT_DEBUG
 *    instead; on kvm_pvm that flag is accepted and ignored (#BP still reaches the IDT).
 *  - Single-step: the trap flag in the program's RFLAGS; the #DB after one instruction
 *    reaches the VMM through the same fault path (or as KVM_EXIT_DEBUG where KVM
 *    intercepts #DB). KVM_GUESTDBG_SINGLESTEP is not used: on kvm_pvm it steps torov's
 *    CPL0 exception entry instruction by instruction instead of the program (verified).
 *  - A step over `syscall` is done by the VMM itself: it performs the syscall as the
 *    instruction would (rcx = next rip, r11 = rflags, the call, rax = result) and stops
 *    at the next instruction, so `stepi` never enters torov's entry stub.
 *  - Hardware breakpoints and watchpoints (Z1-Z4): DR0-DR3/DR7 through
 *    KVM_SET_GUEST_DEBUG with KVM_GUESTDBG_USE_HW_BP, where a probe at attach time shows
 *    KVM honours it (a DR0 breakpoint on torov's stub must exit with KVM_EXIT_DEBUG). On
 *    kvm_pvm it does not (the guest runs past the breakpoint; guest-owned debug registers
 *    set with KVM_SET_DEBUGREGS do not trigger either), so there: Z1 is a software
 *    breakpoint, Z2 (write watchpoints) write-protects the watched pages in torov's page
 *    tables; a write faults, the VMM lifts the protection, single-steps the instruction,
 *    compares the watched bytes, protects the page again and reports `watch` when the
 *    range was written. Z3/Z4 (read/access watchpoints) need the debug registers.
 *  - A guest fault stops the program with its signal at the faulting instruction: the
 *    vCPU is put back in the program's state from the exception frame (rip, rsp, rflags,
 *    cs, ss; what the entry's iretq would do), so the registers are the program's and
 *    resuming or stepping from there needs nothing special.
 */
import { auxvBytes, librariesSvr4Xml } from './svr4';
import { GuestExit } from '../syscalls/api';
import { KVM_EXIT_DEBUG, KVM_SYNC_X86_REGS, RUN, REGS, SREGS, KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_USE_HW_BP,
  KVM_GUESTDBG_USE_SW_BP, writeSegment } from '../kvm/kvm';
import { PORT_NOP, SYS, SYS_VA, SEL, PAGE_SIZE } from '../machine/layout';
import { classifyExit, EXIT_SYSCALL, EXIT_FAULT, EXIT_INTERRUPTED, EXIT_DEBUG, EXIT_BUS } from '../vmm/exits';
import { MSR_FS_BASE, MSR_GS_BASE } from '../machine/x86';
import { sys, addressOf, NR } from '../host/libc';
import type { Vcpu } from '../vmm/vcpu';
import type { Machine } from '../vmm/machine';
import { CpuState, encodeAll, decodeAll, readReg, writeReg, REGISTERS } from './regs';
import { GdbServer, Target, Resume } from './server';
import { STUB_SYSCALL_OUT, STUB_FAULT_COMMON } from '../machine/stub';
import type { Task } from '../vmm/task';
import type { GuestMemory } from '../machine/memory';
import type { AddressSpace } from '../machine/mm';
import type { DebugHook } from '../vmm/scheduler';
import type { FaultFrame } from '../vmm/fault';
import { Listener } from './socket';
import { InterruptWatcher } from './interrupt';
import { gdbSignal, linuxSignal, GDB_SIGINT, GDB_SIGTRAP, IGNORED_BY_DEFAULT } from './signals';
import { EAGAIN, EINTR } from '../linux/errno';
import { SIGKILL, signalName, sigmaskBit } from '../linux/signal';
import { SI_USER } from '../vmm/sigstate';
import { describeFault } from '../vmm/fault';
import type { SignalInfo } from '../syscalls/api';
import { IOVEC } from '../linux/structs';
import { takeHostSignal, onHostSignal } from '../vmm/host-signals';

const TF = 0x100;
/** RFLAGS bits a program may change (as vcpu.ts): CF PF AF ZF SF TF IF DF OF AC ID, plus bit 1. */
const USER_RFLAGS = 0x240fd5;
const VALID = RUN.kvm_valid_regs, DIRTY = RUN.kvm_dirty_regs;
const STUB_START = SYS_VA + SYS.STUB, STUB_END = STUB_START + PAGE_SIZE;
/** Where a vCPU stands after the exit path's syscall report, and after a fault report (`out` is 2 bytes). */
const AT_SYSCALL = STUB_START + STUB_SYSCALL_OUT + 2, AT_FAULT = STUB_START + STUB_FAULT_COMMON + 2;
/** Where in the stub page (past the stub's code) the hardware-debugging probe runs. */
const PROBE_OFFSET = 0xf00;

/** A hardware breakpoint or watchpoint (Z1-Z4). */
interface HwPoint { type: number; addr: number; len: number }

/** The stop being reported. */
interface Stop { signal: number; extra?: string }

export class DebugSession implements Target, DebugHook {
  private readonly m: Machine;
  private server: GdbServer | undefined;
  /** Software breakpoints: address -> the original byte. */
  private readonly breakpoints = new Map<number, number>();
  /** Hardware points in DR0-DR3 (where the host supports them), or page-protection watchpoints. */
  private readonly hw: HwPoint[] = [];
  /** Window pages whose PTE lost its write bit for a watchpoint, while the program runs. */
  private readonly protectedPages = new Set<number>();
  /** KVM guest debugging works on this host (the probe); decides how Z1-Z4 are done. */
  private hwDebug = false;
  private guestDebugControl = -1;
  /** A gdb single-step is in progress. */
  private stepping = false;
  /** A write to a watched page is being single-stepped: its page and the watched bytes before it. */
  private watchStep: { page: number; before: Buffer[]; cr2: number; task?: Task; frozen?: Set<Task> } | undefined;
  /** The fault the program is stopped at: a continue with its signal ends the program with it. */
  private pendingFault: { signal: number; status: number; message: string } | undefined;
  /** Ctrl-C arrived while the vCPU was inside torov's stub: stop at the next exit. */
  private pendingInterrupt = false;
  private detached = false;
  private state: CpuState | undefined;
  /**
   * The program has more than one thread (or had): the scheduler runs every vCPU and this
   * session is its DebugHook; stops are all-stop (every vCPU parked).
   */
  private multi = false;
  /** The first thread's vCPU, whose loop run() is while the program has one thread. */
  private readonly first: Vcpu;
  /** The thread the last stop is about. */
  private event: Task | undefined;
  /** With threads: the thread being single-stepped with TF. */
  private stepTask: Task | undefined;
  /** With threads: a step over a syscall: the thread, and its rip when resumed (it stops once its rip moved on, out of the stub). */
  private stepOver: { task: Task; from: number } | undefined;
  /** gdb's signal numbers it lets the program have without a stop (QPassSignals). */
  private passed = new Set<number>();
  /** A Linux signal gdb sent (`signal SIG`): delivered without another stop. */
  private passOnce: number | undefined;
  /** The stop being reported is for this Linux signal (about to be delivered, or a handled fault). */
  private signalStop: number | undefined;

  constructor(m: Machine, private v: Vcpu, private readonly listener: Listener, private watcher: InterruptWatcher | undefined,
    private readonly log: (line: string) => void, private readonly trace?: (line: string) => void) {
    this.m = m;
    this.first = v;
    m.debugForked = (mem, as) => this.forked(mem, as);
  }

  /**
   * A fork of the debugged process: its copy of the memory gets the original bytes under
   * the breakpoints and the watched pages' protections back (gdb follows the parent only;
   * natively, gdb takes its breakpoints out of a child it detaches from).
   */
  private forked(mem: GuestMemory, as: AddressSpace): void {
    for (const [a, orig] of this.breakpoints) {
      const vma = as.find(a);
      if (vma && vma.kind !== 'shared' && vma.kind !== 'shmem') mem.load(a, Uint8Array.of(orig));
    }
    for (const pg of this.protectedPages) {
      const prot = this.savedProt.get(pg);
      if (prot !== undefined) mem.setPages(pg * PAGE_SIZE, PAGE_SIZE, prot);
    }
  }

  // ---- the run loop ------------------------------------------------------------------

  /** Runs the program under the debugger (Vcpu.run() calls this when one is attached). */
  run(): number {
    const v = this.v, m = this.m, fd = v.fd;
    // A restore's staged special registers and events reach KVM first (they would be
    // overwritten below, and gdb reads the special registers with ioctls).
    fd.flushStaged();
    fd.run.setBigUint64(VALID, BigInt(KVM_SYNC_X86_REGS), true);
    // Debug registers as on a new vCPU (a reused one keeps what its guests' traps left in DR6).
    fd.resetDebugRegs();
    try {
      // The registers setEntry() gave KVM, into the kvm_run page: from here on they are
      // read and written there (sync regs), as vcpu.ts does. Registers already waiting
      // there for KVM (a restore's) are the program's.
      if ((fd.run.getBigUint64(RUN.kvm_dirty_regs, true) & BigInt(KVM_SYNC_X86_REGS)) === 0n) fd.runU8.set(fd.getRegs(), RUN.regs);
      this.markDirty();
      this.hwDebug = this.probeHwDebug();
      const conn = this.listener.accept();
      this.listener.close();
      this.server = new GdbServer(conn, this, this.trace);
      m.scheduler.debug = this;
      this.watcher?.bind(conn.fd, fd.runU8, fd.runAddr);
      this.halt({ signal: GDB_SIGTRAP }, true);
      for (;;) {
        if (this.detached) { this.release(); v.debugger = undefined; return m.run(); }
        // Threads, a syscall that waits (pause, sigsuspend) or a timer: the scheduler runs the
        // program from here (this loop has no tick to fire timers with, nor a host thread to wait on).
        if (this.needsScheduler()) return this.runThreads();
        const sig = takeHostSignal();
        if (sig !== 0) onHostSignal(m, sig);
        if (m.stop.requested) throw new GuestExit(m.stop.status, m.stop.reason);
        // The same map from exit to meaning as the vCPU loop (src/vmm/exits.ts).
        switch (classifyExit(fd, fd.runOnce(), false)) {
          case EXIT_SYSCALL: this.syscall(); break;
          case EXIT_FAULT: this.fault(); break;
          case EXIT_BUS: this.busFault(); break;
          case EXIT_INTERRUPTED: if (this.watcher?.kicked()) this.interrupted(); break;
          case EXIT_DEBUG: this.debugExit(); break;
          default: break;                                   // EXIT_NOP
        }
      }
    } catch (e) {
      if (e instanceof GuestExit) {
        this.exited(e);
        return m.finish(e);
      }
      this.release();
      throw e;
    }
  }

  /** A syscall exit while debugging: watched pages are writable for the VMM meanwhile. */
  private syscall(): void {
    const prot = this.protectedPages.size > 0;
    if (prot) this.unprotectPages();
    this.v.syscall();
    if (prot) this.protectPages();
    const s = this.m.scheduler;
    if (this.needsScheduler()) return;                     // run() goes on in the scheduler
    s.deliverSignals(this.first.task);
    if (this.pendingInterrupt) {
      this.leaveStub();
      this.halt({ signal: GDB_SIGINT });
    }
  }

  /** True when the program needs more than this loop: threads, a wait in the scheduler, a timer. */
  private needsScheduler(): boolean {
    const s = this.m.scheduler;
    return s.tasks.length > 1 || s.timersArmed || s.threadState(this.first.task)?.waiting !== undefined;
  }

  /** KVM_RUN was kicked by the Ctrl-C watcher. */
  private interrupted(): void {
    const rip = this.rip();
    // Inside torov's stub (between `syscall` and its `out`, or in the exception entry):
    // the program's state is not whole yet; stop at the exit that follows.
    if (rip >= STUB_START && rip < STUB_END) { this.pendingInterrupt = true; return; }
    this.halt({ signal: GDB_SIGINT });
  }

  /** A fault report through the guest's IDT: breakpoints, steps, watchpoints and real faults. */
  private fault(): void {
    const f = this.v.faultFrame();
    if (f.vector === 14 && (f.error & 2) && this.protectedPages.has(pageOf(f.cr2))) {
      // A write to a page write-protected for a watchpoint: let this one instruction write.
      const page = pageOf(f.cr2);
      this.setPageWritable(page, true);
      this.watchStep = { page, before: this.watchedBytes(), cr2: f.cr2 };
      this.enterProgram(f, true);
      return;
    }
    if (f.vector === 1) {
      this.enterProgram(f, false);
      this.stepDone();
      return;
    }
    if (f.vector === 3) {
      this.enterProgram(f, false);
      const at = f.rip - 1;
      if (this.breakpoints.has(at)) { this.setReg(REGS.rip, at); this.halt({ signal: GDB_SIGTRAP, extra: 'swbreak:;' }); }
      else this.halt({ signal: GDB_SIGTRAP });            // the program's own int3
      return;
    }
    if (this.handledFault(this.first.task, f)) return;
    const verdict = this.m.onFault(this.v.task, f);
    if (verdict === 'resume') return;                     // the stub pops its words and iretq's
    this.enterProgram(f, false);
    const signal = verdict.status - 128;
    this.pendingFault = { signal, status: verdict.status, message: verdict.message };
    this.halt({ signal: gdbSignal(signal) });
  }

  /** The program touched memory that lost its backing: its SIGBUS handler, or a stop with SIGBUS. */
  private busFault(): void {
    const verdict = this.m.onBusFault(this.v.task, this.v);
    if (verdict === 'resume') return;
    const signal = verdict.status - 128;
    this.pendingFault = { signal, status: verdict.status, message: verdict.message };
    this.halt({ signal: gdbSignal(signal) });
  }

  /** KVM_EXIT_DEBUG: where KVM intercepts #DB/#BP (hardware points, and steps then). */
  private debugExit(): void {
    const r = this.v.fd.run;
    const exception = r.getUint32(RUN.debug_exception, true), pc = Number(r.getBigUint64(RUN.debug_pc, true));
    const dr6 = Number(r.getBigUint64(RUN.debug_dr6, true) & 0xffffn);
    if (exception === 3) {
      if (this.breakpoints.has(pc)) { this.setReg(REGS.rip, pc); this.halt({ signal: GDB_SIGTRAP, extra: 'swbreak:;' }); }
      else { this.setReg(REGS.rip, pc + 1); this.halt({ signal: GDB_SIGTRAP }); }
      return;
    }
    for (let i = 0; i < this.hw.length && i < 4; i++) {
      if (!(dr6 & (1 << i))) continue;
      const p = this.hw[i]!;
      this.stepping = false;
      if (p.type === 1) { this.halt({ signal: GDB_SIGTRAP, extra: 'hwbreak:;' }); return; }
      const what = p.type === 2 ? 'watch' : p.type === 3 ? 'rwatch' : 'awatch';
      this.halt({ signal: GDB_SIGTRAP, extra: `${what}:${p.addr.toString(16)};` });
      return;
    }
    this.setReg(REGS.rflags, this.reg(REGS.rflags) & ~TF);
    this.stepDone();
  }

  /** One instruction ran with TF set (a gdb step, or the write to a watched page). */
  private stepDone(): void {
    const w = this.watchStep;
    if (w) {
      this.watchStep = undefined;
      this.setPageWritable(w.page, false);
      const hit = this.watchHit(w);
      if (hit >= 0) { this.stepping = false; this.halt({ signal: GDB_SIGTRAP, extra: `watch:${this.hw[hit]!.addr.toString(16)};` }); return; }
      if (!this.stepping) return;                         // not ours to report: run on
    }
    this.stepping = false;
    this.halt({ signal: GDB_SIGTRAP });
  }

  /** The watchpoint the single-stepped write to a watched page hit (-1: none). */
  private watchHit(w: { page: number; before: Buffer[]; cr2: number }): number {
    const after = this.watchedBytes();
    return this.hw.findIndex((p, i) => p.type === 2 && pageOf(p.addr) <= w.page && pageOf(p.addr + p.len - 1) >= w.page &&
      ((w.cr2 >= p.addr && w.cr2 < p.addr + p.len) || !w.before[i]!.equals(after[i]!)));
  }

  /** The program ended: tell gdb (W or X), unless it is gone or asked for the kill. */
  exited(e: GuestExit): void {
    const s = this.server;
    if (s?.connected && !this.killedByGdb) {
      const sig = e.signal ?? (e.reason?.startsWith('torov: SIG') && e.status > 128 ? e.status - 128 : 0);
      s.finish(sig ? `X${hex2(gdbSignal(sig))}` : `W${hex2(e.status & 0xff)}`);
    }
    this.release();
  }
  private killedByGdb = false;

  // ---- with threads: the scheduler runs every vCPU, this session is its DebugHook ------

  /**
   * The program started a second thread: from here on the scheduler runs every thread's
   * vCPU (each on a host thread, or the last one left on the main thread) and calls this
   * session where a stop may happen: CPU exceptions of any thread (Machine.debugFault),
   * Ctrl-C (wantsStop), a thread's syscall end (beforeResume). A stop parks every vCPU
   * (Scheduler.stopWorld) until gdb resumes. Returns the program's exit status.
   */
  private runThreads(): number {
    const m = this.m, s = m.scheduler;
    this.multi = true;
    if (this.hwDebug) {
      // KVM's guest debugging is per vCPU and its exits are the debugger loop's alone:
      // with threads, breakpoints are int3 bytes and watchpoints page protection.
      try { this.first.fd.setGuestDebug(0); } catch { /* not set */ }
      this.hwDebug = false;
      this.guestDebugControl = 0;
      // Hardware breakpoints become int3 bytes; write watchpoints page protection (in
      // protectPages from now on); read/access watchpoints have no such form and go.
      for (const p of this.hw) if (p.type === 1) this.insertSoftware(p.addr);
      for (let i = this.hw.length - 1; i >= 0; i--) if (this.hw[i]!.type !== 2) this.hw.splice(i, 1);
    }
    if (this.stepping) { this.stepTask = this.first.task; this.stepping = false; }
    this.event ??= this.first.task;
    s.debug = this;
    m.debugFault = (t, f) => this.threadFault(t, f);
    // Watched pages stay protected while a syscall is served: other threads run meanwhile,
    // and a write of theirs must still fault (giving the pages their write bit back here
    // let such writes through unseen). The VMM's own writes there are allowed anyway
    // (GuestMemory.debugWatched); a syscall that changed a watched page's protection
    // (mprotect, mmap) is followed: the page is protected again from its new state.
    m.dispatcher.wrap = (call) => {
      if (this.protectedPages.size === 0) return call();
      try { return call(); } finally { this.followProtections(); }
    };
    this.rebindWatcher();
    return s.run();
  }

  /** The Ctrl-C watcher kicks the vCPU that may run on the main thread (the first live thread's). */
  private rebindWatcher(): void {
    const t = this.m.group.tasks[0];
    const v = t ? this.m.scheduler.threadState(t)?.vcpu : undefined;
    if (v && this.server) this.watcher?.bind(this.server.fd, v.fd.runU8, v.fd.runAddr);
  }

  /**
   * DebugHook: a thread ended. If gdb was stepping it (the others held stopped), nothing
   * would ever stop again: the others run on, and the next stop or the exit is reported.
   */
  threadExited(t: Task): void {
    if (this.event === t) this.event = undefined;
    if (this.stepTask !== t && this.stepOver?.task !== t) return;
    if (this.stepTask === t) this.stepTask = undefined;
    if (this.stepOver?.task === t) this.stepOver = undefined;
    this.m.scheduler.frozen.clear();
    this.m.scheduler.startWorld();
  }

  /** DebugHook: Ctrl-C arrived while the program ran. */
  wantsStop(): boolean { return this.watcher?.pending() ?? false; }

  /** DebugHook: stop every thread for Ctrl-C; the stop is reported for the last stop's thread (or the first). */
  stop(): void {
    const t = this.event && this.m.group.tasks.includes(this.event) ? this.event : this.m.group.tasks[0]!;
    this.allStop(t, { signal: GDB_SIGINT });
  }

  /** DebugHook: thread `t` is about to run on; a step over a syscall stops once the call is done. */
  beforeResume(t: Task): void {
    const o = this.stepOver;
    if (!o || o.task !== t) return;
    const v = this.vcpuOf(t);
    if (!v || v.inStub() || v.reg(RIP_W) === o.from) return;
    this.stepOver = undefined;
    this.allStop(t, { signal: GDB_SIGTRAP }, t);
  }

  private vcpuOf(t: Task): Vcpu | undefined { return this.m.scheduler.threadState(t)?.vcpu; }

  /**
   * A CPU exception of thread `task` (its vCPU parked at the fault report): breakpoints,
   * steps and watchpoints are the debugger's; a real fault goes to the program's handler,
   * or stops the program with its signal. Undefined: not the debugger's (never, today).
   */
  private threadFault(task: Task, f: FaultFrame): 'resume' | { status: number; message: string } | undefined {
    const v = this.vcpuOf(task);
    if (!v) return undefined;
    this.v = v;
    this.state = undefined;
    if (f.vector === 14 && (f.error & 2) && this.protectedPages.has(pageOf(f.cr2))) {
      // A write to a watched page: this thread alone runs while it makes the write (one
      // step with the page writable), so that no other thread's write goes unseen or is
      // taken for its.
      const page = pageOf(f.cr2), s = this.m.scheduler;
      s.stopWorld();
      const frozen = new Set(s.frozen);
      for (const t of this.m.group.tasks) if (t !== task) s.frozen.add(t);
      this.setPageWritable(page, true);
      this.watchStep = { page, before: this.watchedBytes(), cr2: f.cr2, task, frozen };
      this.enterProgram(f, true);
      return 'resume';
    }
    if (f.vector === 14 && (f.error & 2) && this.savedProt.has(pageOf(f.cr2)) && (this.m.mem.pageProt(f.cr2) & 2)) {
      // A write to a page a watchpoint protected, handled after the watchpoint went (the
      // exit was held while the program was stopped): the page is writable again, retry.
      return 'resume';
    }
    if (f.vector === 1) {
      this.enterProgram(f, false);
      const w = this.watchStep;
      if (w && w.task === task) {
        this.watchStep = undefined;
        this.setPageWritable(w.page, false);
        const s = this.m.scheduler;
        s.frozen.clear();
        for (const t of w.frozen ?? []) s.frozen.add(t);
        s.startWorld(task);
        const hit = this.watchHit(w);
        if (hit >= 0) {
          if (this.stepTask === task) this.stepTask = undefined;
          this.allStop(task, { signal: GDB_SIGTRAP, extra: `watch:${this.hw[hit]!.addr.toString(16)};` }, task);
          return 'resume';
        }
      }
      if (this.stepTask === task) { this.stepTask = undefined; this.allStop(task, { signal: GDB_SIGTRAP }, task); }
      return 'resume';                                    // a trap flag left over: run on
    }
    if (f.vector === 3) {
      this.enterProgram(f, false);
      const at = f.rip - 1;
      if (this.breakpoints.has(at)) { this.setReg(REGS.rip, at); this.allStop(task, { signal: GDB_SIGTRAP, extra: 'swbreak:;' }, task); }
      else if (this.readRaw(at, 1)[0] !== 0xcc) this.setReg(REGS.rip, at);   // a breakpoint gdb removed since (the hit was held): run on
      else this.allStop(task, { signal: GDB_SIGTRAP }, task);               // the program's own int3
      return 'resume';
    }
    if (this.handledFault(task, f)) return 'resume';
    const verdict = this.m.faultVerdict(task, f);
    if (verdict === 'resume') return 'resume';
    this.v = v;
    this.enterProgram(f, false);
    const signal = verdict.status - 128;
    this.pendingFault = { signal, status: verdict.status, message: verdict.message };
    this.allStop(task, { signal: gdbSignal(signal) }, task);
    return 'resume';
  }

  /** Stops every thread and hands the program to gdb, the stop being thread `task`'s. */
  private allStop(task: Task, stop: Stop, except?: Task): number {
    this.m.scheduler.stopWorld();
    this.event = task;
    this.v = this.vcpuOf(task) ?? this.v;
    this.exceptTask = except;
    return this.halt(stop);
  }
  /** The thread the resume after this stop must leave parked (its exit is being handled; its handler resumes it). */
  private exceptTask: Task | undefined;

  /** gdb resumes a program with threads: which thread steps, which stay stopped; then every other vCPU runs. */
  private resumeThreads(r: { kind: 'continue' | 'step'; tid?: number | undefined; others: boolean }, inject: number): void {
    const s = this.m.scheduler;
    const target = this.m.group.tasks.find((t) => t.tid === r.tid) ?? (this.event && this.m.group.tasks.includes(this.event) ? this.event : this.m.group.tasks[0]!);
    if (this.stepTask) {
      const v = this.vcpuOf(this.stepTask);
      if (v && !v.inStub()) this.setRflagsOf(v, this.regOf(v, REGS.rflags) & ~TF);
      this.stepTask = undefined;
    }
    this.stepOver = undefined;
    if (r.kind === 'step') {
      const v = this.vcpuOf(target)!;
      if (v.inStub() || this.atSyscallInstruction(v)) {
        // The syscall is made by the scheduler as any other; the stop comes when it is done.
        this.stepOver = { task: target, from: v.reg(RIP_W) };
      } else {
        this.setRflagsOf(v, this.regOf(v, REGS.rflags) | TF);
        this.stepTask = target;
      }
    }
    s.frozen.clear();
    if (!r.others) for (const t of this.m.group.tasks) if (t !== target) s.frozen.add(t);
    this.v = this.first;
    if (inject) this.inject(target, inject);
    this.protectPages();
    this.rebindWatcher();
    this.watcher?.running();
    const except = this.exceptTask;
    this.exceptTask = undefined;
    s.startWorld(except);
  }

  /** gdb detached from a program with threads: no point, no trap flag, no hook; every thread runs on. */
  private detachThreads(): void {
    const m = this.m, s = m.scheduler;
    this.removeAllPoints();
    for (const t of this.m.group.tasks) {
      const v = this.vcpuOf(t);
      if (v && !v.inStub()) this.setRflagsOf(v, this.regOf(v, REGS.rflags) & ~TF);
    }
    this.stepTask = undefined;
    this.stepOver = undefined;
    s.frozen.clear();
    s.debug = undefined;
    m.debugFault = undefined;
    m.dispatcher.wrap = undefined;
    this.first.debugger = undefined;
    this.release();
    s.startWorld();
  }

  private regOf(v: Vcpu, off: number): number { return Number(v.fd.run.getBigUint64(RUN.regs + off, true)); }
  private setRflagsOf(v: Vcpu, x: number): void {
    v.fd.run.setBigUint64(RUN.regs + REGS.rflags, BigInt(x), true);
    v.fd.run.setBigUint64(DIRTY, BigInt(KVM_SYNC_X86_REGS), true);
  }

  // ---- signals ------------------------------------------------------------------------------

  /** True if the program has a handler for Linux signal `sig`. */
  private hasHandler(sig: number): boolean {
    return (this.m.group.sigactions.get(sig)?.handler ?? 0n) > 1n;
  }

  /** Stops for thread `t` and hands the program to gdb: the thread stays parked (its exit is being handled). */
  private stopFor(t: Task, stop: Stop): number {
    if (!this.multi) return this.halt(stop);
    return this.allStop(t, stop, t);
  }

  /**
   * DebugHook: signal `info` is about to be delivered to thread `t`. The program stops
   * first, as under ptrace (gdb: "Program received signal ..."), unless gdb passes it
   * silently (QPassSignals) or gdb itself sent it; what gdb resumes with is delivered.
   */
  signal(t: Task, info: SignalInfo): SignalInfo | undefined {
    const sig = info.signo;
    if (this.passOnce === sig) { this.passOnce = undefined; return info; }
    if (this.passed.has(gdbSignal(sig)) || !this.server?.connected) return info;
    if (!this.vcpuOf(t)) return info;
    this.signalStop = sig;
    const got = this.stopFor(t, { signal: gdbSignal(sig) });
    if (got === 0) return undefined;
    return got === sig ? info : { signo: got, code: SI_USER, pid: 0, uid: 0 };
  }

  /**
   * A CPU exception the program has a handler for (and does not block): stop first with
   * its signal; continuing with it runs the handler, without it (`signal 0`) the
   * instruction runs again. False if the fault is not such (the caller goes on).
   */
  private handledFault(task: Task, f: FaultFrame): boolean {
    const { signal } = describeFault(f);
    if (f.vector === 1 || f.vector === 3 || !this.hasHandler(signal) || (task.sigmask & sigmaskBit(signal))) return false;
    if (this.passed.has(gdbSignal(signal)) || !this.server?.connected) return false;
    const v = this.vcpuOf(task);
    if (!v) return false;
    this.v = v;
    this.enterProgram(f, false);
    this.signalStop = signal;
    const got = this.stopFor(task, { signal: gdbSignal(signal) });
    if (got !== signal) return true;                      // re-executed (or gdb's other signal runs first)
    this.v = v;
    // The handler's frame, from the registers as they are now (gdb may have changed them).
    const now = { ...f, rip: this.regOf(v, REGS.rip), rsp: this.regOf(v, REGS.rsp), rflags: this.regOf(v, REGS.rflags) };
    const verdict = this.m.faultVerdict(task, now);
    if (verdict !== 'resume') throw new GuestExit(verdict.status, verdict.message);
    return true;
  }

  /** gdb resumes with signal `sig` the program was not stopped for: a handler gets it before the program runs on. */
  private inject(t: Task, sig: number): void {
    this.passOnce = sig;
    const s = this.m.scheduler;
    s.queueSignal(t, { signo: sig, code: SI_USER, pid: 0, uid: 0 });
    const v = this.vcpuOf(t);
    if (v && !v.inStub()) s.deliverSignals(t);
  }

  passSignals(gdbSignals: number[]): void { this.passed = new Set(gdbSignals); }

  // ---- Target: threads -------------------------------------------------------------------------

  threads(): number[] { return this.m.group.tasks.map((t) => t.tid); }

  currentThread(): number {
    return (this.event && this.m.group.tasks.includes(this.event) ? this.event : this.m.group.tasks[0] ?? this.first.task).tid;
  }

  selectThread(tid: number): boolean {
    const t = this.m.group.tasks.find((x) => x.tid === tid);
    const v = t ? this.vcpuOf(t) : undefined;
    if (!v) return false;
    this.v = v;
    this.state = undefined;
    return true;
  }

  threadInfo(tid: number): string | undefined {
    const t = this.m.group.tasks.find((x) => x.tid === tid);
    const st = t ? this.m.scheduler.threadState(t) : undefined;
    if (!st) return undefined;
    return st.waiting ? `in a syscall (${st.waiting} wait)` : st.vcpu.reg(RIP_W) === AT_SYSCALL ? 'in a syscall' : undefined;
  }

  private release(): void {
    this.m.debugForked = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    this.v.fd.runU8[RUN.immediate_exit] = 0;             // the vCPU may be reused
    this.server?.close();
    try { this.listener.close(); } catch { /* closed */ }
    if (this.guestDebugControl > 0) { try { this.v.fd.setGuestDebug(0); } catch { /* the vCPU is going away */ } }
    this.guestDebugControl = 0;
  }

  // ---- stopping and resuming -----------------------------------------------------------

  /**
   * The program is stopped: hand it to gdb until it resumes. Returns with the vCPU ready to
   * run (TF, debug registers and watched pages set up); throws GuestExit when gdb kills it
   * or continues it into a fatal signal.
   */
  private halt(stop: Stop, initial = false): number {
    this.watcher?.stopped();
    this.pendingInterrupt = false;
    this.watchStep = undefined;
    this.unprotectPages();
    const tid = (this.multi ? this.event ?? this.first.task : this.first.task).tid.toString(16);
    let reply = `T${hex2(stop.signal)}thread:${tid};${stop.extra ?? ''}`;
    for (;;) {
      this.state = undefined;
      const r: Resume = this.server!.stopped(reply, initial);
      initial = false;
      this.flushState();
      if (r.kind === 'kill') {
        this.killedByGdb = true;
        // A lost connection ends the program too, as with gdbserver: nobody could stop it.
        throw new GuestExit(128 + SIGKILL, `torov: SIGKILL: ${this.server!.connected ? 'killed by the debugger' : 'the debugger disconnected'}`);
      }
      if (r.kind === 'detach' && this.multi) {
        this.detachThreads();
        this.log('torov: gdb detached; the program runs on');
        return 0;
      }
      if (r.kind === 'detach') {
        this.v = this.first;
        this.removeAllPoints();
        this.setReg(REGS.rflags, this.reg(REGS.rflags) & ~TF);
        this.detached = true;
        this.m.scheduler.debug = undefined;
        this.server!.close();
        this.log('torov: gdb detached; the program runs on');
        return 0;
      }
      const fault = this.pendingFault, sigStop = this.signalStop;
      this.pendingFault = undefined;
      this.signalStop = undefined;
      // The signal gdb resumes with: the one the program stopped for is delivered by the
      // caller; another goes to the program's handler (inject), or has its default action.
      let deliver = 0, inject = 0;
      const sig = r.signal !== 0 ? linuxSignal(r.signal) : undefined;
      if (sig !== undefined && sig === sigStop) deliver = sig;
      else if (r.signal !== 0 && r.signal !== GDB_SIGTRAP && r.signal !== GDB_SIGINT) {
        if (fault && r.signal === gdbSignal(fault.signal)) throw new GuestExit(fault.status, fault.message);
        const h = sig === undefined ? 0n : this.m.group.sigactions.get(sig)?.handler ?? 0n;
        if (sig !== undefined && h > 1n) inject = sig;
        else if (sig !== undefined && h === 0n && !IGNORED_BY_DEFAULT.has(sig)) throw new GuestExit(128 + sig, describeSignal(sig));
      }
      if (this.multi) { this.resumeThreads(r, inject); return deliver; }
      this.v = this.first;
      this.state = undefined;
      if (r.kind === 'step') {
        if (this.atSyscallInstruction(this.v)) {
          this.stepSyscall();                             // may end the program (exit)
          reply = `T${hex2(GDB_SIGTRAP)}thread:${tid};`;
          continue;
        }
        this.stepping = true;
        this.setReg(REGS.rflags, this.reg(REGS.rflags) | TF);
      } else {
        this.stepping = false;
        this.setReg(REGS.rflags, this.reg(REGS.rflags) & ~TF);
      }
      this.applyGuestDebug();
      if (inject) this.inject(this.first.task, inject);
      this.protectPages();
      this.watcher?.running();
      return deliver;
    }
  }

  /** True if the program's next instruction is `syscall` (0f 05). */
  private atSyscallInstruction(v: Vcpu): boolean {
    const b = this.readMemory(this.regOf(v, REGS.rip), 2);
    return b.length === 2 && b[0] === 0x0f && b[1] === 0x05;
  }

  /**
   * Steps over a `syscall` instruction in the VMM: what the CPU and torov's stub do
   * together, without entering the stub (so a step never stops inside it).
   */
  private stepSyscall(): void {
    const rip = this.rip(), rflags = this.reg(REGS.rflags) & ~TF;
    this.setReg(REGS.rcx, rip + 2);
    this.setReg(REGS.r11, rflags);
    this.setReg(REGS.rip, rip + 2);
    const lo = this.v.u32[(RUN.regs + REGS.rax) >> 2]!, hi = this.v.u32[(RUN.regs + REGS.rax + 4) >> 2]!;
    const result = this.m.dispatch(hi === 0 ? lo : -1, this.v.args);
    this.setReg(REGS.rax, BigInt.asUintN(64, BigInt(result)));
    const k = this.v.task;
    if (k.fsBaseDirty) {
      this.v.fd.setMsrs([[MSR_FS_BASE, BigInt(k.fsBase)], [MSR_GS_BASE, BigInt(k.gsBase)]]);
      k.fsBaseDirty = false;
    }
  }

  /**
   * After a syscall exit on a host where the stub runs at CPL0 (VMX), the vCPU sits in the
   * stub before its `sysretq`: do the return here, so a stop shows the program's state.
   */
  private leaveStub(): void {
    const rip = this.rip();
    if (rip < STUB_START || rip >= STUB_END) return;
    this.setReg(REGS.rip, this.reg(REGS.rcx));
    this.setReg(REGS.rflags, (this.reg(REGS.r11) & USER_RFLAGS) | 2);
    this.userSegments();
  }

  /**
   * Puts the vCPU back in the program's state from an exception frame, as the stub's
   * iretq would: rip, rsp, rflags (TF as asked), and the user code and stack segments.
   */
  private enterProgram(f: { rip: number; rsp: number; rflags: number }, tf: boolean): void {
    this.setReg(REGS.rip, f.rip);
    this.setReg(REGS.rsp, f.rsp);
    this.setReg(REGS.rflags, (f.rflags & ~TF) | (tf ? TF : 0));
    this.userSegments();
  }

  private userSegments(): void {
    const s = this.v.fd.getSregs();
    writeSegment(s, SREGS.cs, { base: 0n, limit: 0xffffffff, selector: SEL.USER_CS, type: 11, present: 1, dpl: 3, db: 0, s: 1, l: 1, g: 1 });
    writeSegment(s, SREGS.ss, { base: 0n, limit: 0xffffffff, selector: SEL.USER_DS, type: 3, present: 1, dpl: 3, db: 1, s: 1, l: 0, g: 1 });
    this.v.fd.setSregs(s);
  }

  // ---- hardware debugging ----------------------------------------------------------------

  /**
   * Does KVM honour KVM_GUESTDBG_USE_HW_BP for code running natively at CPL3? A probe
   * writes `nop; out %al, $PORT_NOP` into an unused part of torov's stub page (user-
   * executable), puts DR0 on the nop and runs the vCPU there once: a working host exits
   * with KVM_EXIT_DEBUG before the nop. kvm_pvm runs the nop natively and only its
   * instruction emulator (which handles the `out`) looks at the debug registers, so
   * breakpoints on ordinary program code would never fire there. The stub bytes and the
   * registers are put back afterwards; the program has not started.
   */
  private probeHwDebug(): boolean {
    const fd = this.v.fd, sys8 = this.m.mem.sys8;
    const saved = Buffer.from(fd.runU8.subarray(RUN.regs, RUN.regs + 144));
    const probeOff = SYS.STUB + PROBE_OFFSET, probeVa = STUB_START + PROBE_OFFSET;
    const savedCode = Buffer.from(sys8.subarray(probeOff, probeOff + 3));
    sys8.set([0x90, 0xe6, PORT_NOP], probeOff);
    let ok = false;
    try {
      this.setReg(REGS.rip, probeVa);
      fd.setGuestDebug(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP, [BigInt(probeVa), 0n, 0n, 0n, 0n, 0n, 0n, 0x401n]);
      for (let i = 0; i < 3; i++) {
        const rc = fd.runOnce();
        if (rc === -EINTR || rc === -EAGAIN) continue;
        ok = rc === 0 && fd.exitReason() === KVM_EXIT_DEBUG && (fd.run.getBigUint64(RUN.debug_dr6, true) & 1n) === 1n;
        break;
      }
    } catch { ok = false; }
    try { fd.setGuestDebug(0); } catch { /* unsupported: nothing set */ }
    sys8.set(savedCode, probeOff);
    fd.runU8.set(saved, RUN.regs);
    this.markDirty();
    this.guestDebugControl = 0;
    this.trace?.(`gdb: KVM hardware debugging ${ok ? 'works' : 'does not work'} on this host`);
    return ok;
  }

  /** Loads DR0-DR3/DR7 for the hardware points (only where KVM supports it). */
  private applyGuestDebug(): void {
    if (!this.hwDebug) return;
    const dr: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
    let dr7 = 0x400n;
    this.hw.forEach((p, i) => {
      dr[i] = BigInt(p.addr);
      const rw = p.type === 1 ? 0n : p.type === 2 ? 1n : 3n;
      const len = p.type === 1 ? 0n : ({ 1: 0n, 2: 1n, 4: 3n, 8: 2n } as Record<number, bigint>)[p.len]!;
      dr7 |= (1n << BigInt(2 * i)) | (rw << BigInt(16 + 4 * i)) | (len << BigInt(18 + 4 * i));
    });
    dr[7] = dr7;
    const control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP | (this.hw.length ? KVM_GUESTDBG_USE_HW_BP : 0);
    this.v.fd.setGuestDebug(control, dr);
    this.guestDebugControl = control;
  }

  // ---- page-protection watchpoints (hosts without hardware debugging) -----------------------

  /** The prot the program's page had before torov took its write bit (by page number). */
  private readonly savedProt = new Map<number, number>();

  /** Pages that hold a write watchpoint (software kind). */
  private watchPages(): number[] {
    const pages = new Set<number>();
    for (const p of this.hw) if (p.type === 2) for (let pg = pageOf(p.addr); pg <= pageOf(p.addr + p.len - 1); pg++) pages.add(pg);
    return [...pages];
  }

  /** Takes the write bit of every watched page that has one (before the program runs). */
  private protectPages(): void {
    if (this.hwDebug) return;
    const mem = this.m.mem;
    for (const pg of this.watchPages()) {
      const va = pg * PAGE_SIZE;
      if (va >= mem.memSize) continue;
      const prot = mem.pageProt(va);
      if (!(prot & 2)) continue;
      this.savedProt.set(pg, prot);
      (mem.debugWatched ??= new Set()).add(pg);
      mem.setPages(va, PAGE_SIZE, prot & ~2);
      mem.invalidate(va, PAGE_SIZE);
      this.protectedPages.add(pg);
    }
  }

  /**
   * After a syscall: a protected page whose protection the program changed (mprotect,
   * munmap, mmap over it) is no longer taken for one torov protected; pages writable
   * again are protected anew.
   */
  private followProtections(): void {
    const mem = this.m.mem;
    for (const pg of [...this.protectedPages]) {
      const prot = mem.pageProt(pg * PAGE_SIZE), saved = this.savedProt.get(pg);
      if (saved !== undefined && prot === (saved & ~2)) continue;
      this.protectedPages.delete(pg);
      this.savedProt.delete(pg);
      mem.debugWatched?.delete(pg);
    }
    this.protectPages();
  }

  /** Gives the watched pages their write bit back (while stopped). */
  private unprotectPages(): void {
    for (const pg of this.protectedPages) this.setPageWritable(pg, true);
    this.protectedPages.clear();
  }

  private setPageWritable(pg: number, writable: boolean): void {
    const prot = this.savedProt.get(pg);
    if (prot === undefined) return;
    const va = pg * PAGE_SIZE;
    if (writable) this.m.mem.debugWatched?.delete(pg); else (this.m.mem.debugWatched ??= new Set()).add(pg);
    this.m.mem.setPages(va, PAGE_SIZE, writable ? prot : prot & ~2);
    if (!writable) this.m.mem.invalidate(va, PAGE_SIZE);
  }

  /** The bytes of each watchpoint, in the order of this.hw. */
  private watchedBytes(): Buffer[] {
    return this.hw.map((p) => (p.type === 2 ? this.readRaw(p.addr, p.len) : Buffer.alloc(0)));
  }

  // ---- Target: registers -----------------------------------------------------------------

  private cpu(): CpuState {
    if (!this.state) {
      const fd = this.v.fd;
      let fpu: Buffer | undefined;
      try { fpu = fd.getFpu(); } catch { fpu = undefined; }
      const regs = Buffer.from(fd.runU8.subarray(RUN.regs, RUN.regs + 144));
      this.programView(regs);
      this.state = { regs, sregs: fd.getSregs(), fpu };
    }
    return this.state;
  }

  /**
   * A thread stopped inside torov's stub (with threads: in a syscall, or with a fault report
   * not yet handled) is shown as the program sees it: where the syscall returns to (rcx,
   * r11), or where the fault happened (the exception frame). True if `regs` was changed.
   */
  private programView(regs: Buffer): boolean {
    const rip = Number(regs.readBigUInt64LE(REGS.rip));
    if (rip === AT_SYSCALL && this.v.mode === 'cpl3') {
      regs.writeBigUInt64LE(regs.readBigUInt64LE(REGS.rcx), REGS.rip);
      regs.writeBigUInt64LE((regs.readBigUInt64LE(REGS.r11) & BigInt(USER_RFLAGS)) | 2n, REGS.rflags);
      return true;
    }
    if (rip === AT_FAULT) {
      try {
        const f = this.v.faultFrame();
        regs.writeBigUInt64LE(BigInt(f.rip), REGS.rip);
        regs.writeBigUInt64LE(BigInt(f.rsp), REGS.rsp);
        regs.writeBigUInt64LE(BigInt(f.rflags), REGS.rflags);
        return true;
      } catch { return false; }
    }
    return false;
  }

  /** Writes what gdb changed back to the vCPU. */
  private commit(s: CpuState, what: Set<string>): void {
    const fd = this.v.fd;
    if (what.has('regs')) {
      const real = Buffer.from(fd.runU8.subarray(RUN.regs, RUN.regs + 144));
      if (this.programView(Buffer.from(real))) {
        // In the stub: what gdb wrote as rip and rflags is where the syscall returns (rcx,
        // r11); the stub's own rip, rsp and rflags stay (a fault report: the frame's).
        const rip = Number(real.readBigUInt64LE(REGS.rip));
        if (rip === AT_SYSCALL) {
          s.regs.writeBigUInt64LE(s.regs.readBigUInt64LE(REGS.rip), REGS.rcx);
          s.regs.writeBigUInt64LE(s.regs.readBigUInt64LE(REGS.rflags), REGS.r11);
        }
        for (const off of [REGS.rip, REGS.rflags, ...(rip === AT_FAULT ? [REGS.rsp] : [])]) s.regs.writeBigUInt64LE(real.readBigUInt64LE(off), off);
      }
      const fl = s.regs.readBigUInt64LE(REGS.rflags);
      const cur = this.reg(REGS.rflags);
      s.regs.writeBigUInt64LE((fl & BigInt(USER_RFLAGS)) | 2n | BigInt(cur & 0x200), REGS.rflags);
      fd.runU8.set(s.regs, RUN.regs);
      this.markDirty();
    }
    if (what.has('sregs')) {
      const k = this.v.task;
      k.fsBase = Number(s.sregs.readBigUInt64LE(SREGS.fs));
      k.gsBase = Number(s.sregs.readBigUInt64LE(SREGS.gs));
      fd.setMsrs([[MSR_FS_BASE, BigInt(k.fsBase)], [MSR_GS_BASE, BigInt(k.gsBase)]]);
      k.fsBaseDirty = false;
    }
    if (what.has('fpu') && s.fpu) fd.setFpu(s.fpu);
    this.state = undefined;
  }

  /** Nothing to do: registers are written through as gdb changes them. */
  private flushState(): void { this.state = undefined; }

  readRegisters(): string { return encodeAll(this.cpu()); }

  writeRegisters(bytes: Buffer): boolean {
    const s = this.cpu();
    this.commit(s, decodeAll(s, bytes));
    return true;
  }

  readRegister(n: number): string | undefined {
    const def = REGISTERS[n];
    if (!def) return undefined;
    const b = readReg(this.cpu(), n);
    return b ? b.toString('hex') : 'xx'.repeat(def.bits / 8);
  }

  writeRegister(n: number, bytes: Buffer): boolean {
    const s = this.cpu();
    const src = writeReg(s, n, bytes);
    if (src === undefined) return false;
    this.commit(s, new Set([src]));
    return true;
  }

  setPc(addr: number): void { this.setReg(REGS.rip, addr); this.state = undefined; }

  // ---- Target: memory ----------------------------------------------------------------------

  /**
   * Host address of guest virtual `va` for `len` bytes within one page, or undefined:
   * window pages whose PTE is present (va == pa there), and torov's stub page read-only
   * (it is user-executable, so the program can read it too). Nothing else of the system
   * area is reachable.
   */
  private hostOf(va: number, write: boolean): number | undefined {
    const mem = this.m.mem;
    if (va >= 0 && va < mem.memSize) return mem.pageProt(va) !== 0 ? mem.hostBase + va : undefined;
    if (!write && va >= STUB_START && va < STUB_END) return mem.sysHost + SYS.STUB + (va - STUB_START);
    return undefined;
  }

  /**
   * Copies guest memory page by page with process_vm_readv/writev on torov's own process:
   * a page the host maps read-only (a shared read-only file mapping) fails with EFAULT
   * instead of crashing the VMM.
   */
  private copy(va: number, buf: Buffer, write: boolean): number {
    let done = 0;
    while (done < buf.length) {
      const a = va + done, n = Math.min(buf.length - done, PAGE_SIZE - (a % PAGE_SIZE));
      const h = this.hostOf(a, write);
      if (h === undefined) break;
      // Two struct iovec: the local buffer, then the remote (guest) range.
      const iov = Buffer.alloc(2 * IOVEC.SIZE), remote = IOVEC.SIZE;
      iov.writeBigUInt64LE(BigInt(addressOf(buf) + done), IOVEC.iov_base);
      iov.writeBigUInt64LE(BigInt(n), IOVEC.iov_len);
      iov.writeBigUInt64LE(BigInt(h), remote + IOVEC.iov_base);
      iov.writeBigUInt64LE(BigInt(n), remote + IOVEC.iov_len);
      const r = sys(write ? NR.process_vm_writev : NR.process_vm_readv, process.pid, addressOf(iov), 1, addressOf(iov) + remote, 1, 0);
      if (r <= 0) break;
      done += r;
      if (r < n) break;
    }
    return done;
  }

  /** Memory as it is, breakpoints included. */
  private readRaw(addr: number, len: number): Buffer {
    const b = Buffer.alloc(len);
    return b.subarray(0, this.copy(addr, b, false));
  }

  readMemory(addr: number, len: number): Buffer {
    const b = this.readRaw(addr, len);
    for (const [a, orig] of this.breakpoints) if (a >= addr && a < addr + b.length) b[a - addr] = orig;
    return b;
  }

  writeMemory(addr: number, data: Buffer): boolean {
    const d = Buffer.from(data);
    for (const [a] of this.breakpoints) {
      if (a >= addr && a < addr + d.length) { this.breakpoints.set(a, d[a - addr]!); d[a - addr] = 0xcc; }
    }
    return this.copy(addr, d, true) === d.length;
  }

  // ---- Target: what gdb needs for shared libraries ------------------------------------------

  /** The auxiliary vector the program started with (a Linux program; none for a ToroV binary). */
  auxv(): Buffer | undefined {
    const a = this.m.loaded?.auxv;
    return a ? auxvBytes(a) : undefined;
  }

  /** The loaded shared objects, from the dynamic loader's r_debug (src/gdb/svr4.ts). */
  librariesSvr4(): string | undefined {
    const a = this.m.loaded?.auxv;
    return a ? librariesSvr4Xml((addr, len) => this.readRaw(addr, len), a, this.m.loaded.bias ?? 0) : undefined;
  }

  // ---- Target: breakpoints and watchpoints ---------------------------------------------------

  insertPoint(type: number, addr: number, kind: number): 'ok' | 'error' | 'unsupported' {
    if (type === 0 || (type === 1 && !this.hwDebug)) return this.insertSoftware(addr);
    if (type === 1) return this.addHw({ type, addr, len: 1 });
    if (type === 2 || type === 4 || type === 3) {
      if (!this.hwDebug && type !== 2) return 'unsupported';
      if (this.hwDebug && (type === 3 || ![1, 2, 4, 8].includes(kind) || addr % kind !== 0)) return 'unsupported';
      if (!this.hwDebug && (kind < 1 || kind > 8 || !this.hostOf(addr, false))) return 'error';
      return this.addHw({ type, addr, len: kind });
    }
    return 'unsupported';
  }

  removePoint(type: number, addr: number, kind: number): 'ok' | 'error' | 'unsupported' {
    if (type === 0 || (type === 1 && !this.hwDebug)) {
      const orig = this.breakpoints.get(addr);
      if (orig === undefined) return 'ok';
      this.breakpoints.delete(addr);
      this.copy(addr, Buffer.from([orig]), true);
      return 'ok';
    }
    if (type > 4) return 'unsupported';
    const i = this.hw.findIndex((p) => p.type === type && p.addr === addr && (type === 1 || p.len === kind));
    if (i >= 0) this.hw.splice(i, 1);
    return 'ok';
  }

  private insertSoftware(addr: number): 'ok' | 'error' {
    if (this.breakpoints.has(addr)) return 'ok';
    const orig = this.readRaw(addr, 1);
    if (orig.length !== 1) return 'error';
    if (this.copy(addr, Buffer.from([0xcc]), true) !== 1) return 'error';
    this.breakpoints.set(addr, orig[0]!);
    return 'ok';
  }

  private addHw(p: HwPoint): 'ok' | 'error' {
    if (this.hwDebug && this.hw.length >= 4) return 'error';
    if (this.hw.some((q) => q.type === p.type && q.addr === p.addr && q.len === p.len)) return 'ok';
    this.hw.push(p);
    return 'ok';
  }

  private removeAllPoints(): void {
    for (const a of [...this.breakpoints.keys()]) this.removePoint(0, a, 1);
    this.hw.length = 0;
    this.unprotectPages();
    if (this.hwDebug) { this.v.fd.setGuestDebug(0); this.guestDebugControl = 0; }
  }

  // ---- registers in the kvm_run page -----------------------------------------------------------

  private reg(off: number): number { return Number(this.v.fd.run.getBigUint64(RUN.regs + off, true)); }
  private rip(): number { return this.reg(REGS.rip); }
  private setReg(off: number, v: number | bigint): void {
    this.v.fd.run.setBigUint64(RUN.regs + off, typeof v === 'bigint' ? v : BigInt(v), true);
    this.markDirty();
  }
  private markDirty(): void { this.v.fd.run.setBigUint64(DIRTY, BigInt(KVM_SYNC_X86_REGS), true); }
}

const pageOf = (va: number) => Math.floor(va / PAGE_SIZE);
const RIP_W = (RUN.regs + REGS.rip) >> 2;
const hex2 = (n: number) => (n & 0xff).toString(16).padStart(2, '0');

function describeSignal(sig: number): string {
  return `torov: ${signalName(sig)}: sent by the debugger`;
}
