/**
 * A vCPU and its run loop: KVM_RUN, then the exit's meaning (src/vmm/exits.ts) and its
 * handling. Registers are read and written through the kvm_run page's synchronised
 * registers (KVM_CAP_SYNC_REGS): no ioctl per syscall. A Vcpu runs one guest thread (a
 * Task); what it needs of the VM (dispatch, memory, fault policy) comes through the
 * VcpuHost interface, so this module does not depend on the Machine that owns it.
 */
import { VcpuFd, RUN, REGS, KVM_SYNC_X86_REGS, KVM_EXIT_IO, SREGS, writeSegment } from '../kvm/kvm';
import { SYS, SYS_VA, SEL, VcpuPages, PORT_SYSCALL } from '../machine/layout';
import { STUB_SYSCALL_OUT, STUB_FAULT_COMMON } from '../machine/stub';
import { Args, GuestExit, BLOCKED, UserRegs } from '../syscalls/api';
import { MSR_FS_BASE, MSR_GS_BASE } from '../machine/x86';
import type { GuestMemory } from '../machine/memory';
import type { Personality } from './personality';
import type { SyscallDispatcher } from './dispatch';
import type { Task } from './task';
import { FaultFrame } from './fault';
import { classifyExit, EXIT_SYSCALL, EXIT_FAULT, EXIT_NOP, EXIT_KICK, EXIT_WAIT, EXIT_INTERRUPTED, EXIT_CTX, EXIT_BUS } from './exits';
import { NEEDS_CONTEXT } from './needs-context';

const R = RUN.regs >> 2;                                 // kvm_run.s.regs, in 32-bit words
const W = (off: number) => R + (off >> 2);
const RAX = W(REGS.rax), RCX = W(REGS.rcx), R11 = W(REGS.r11), RIP = W(REGS.rip), RFLAGS = W(REGS.rflags), RSP = W(REGS.rsp);
/** Syscall argument registers in order: rdi, rsi, rdx, r10, r8, r9. */
const ARG = [W(REGS.rdi), W(REGS.rsi), W(REGS.rdx), W(REGS.r10), W(REGS.r8), W(REGS.r9)];
const VALID = RUN.kvm_valid_regs >> 2, DIRTY = RUN.kvm_dirty_regs >> 2;

const EINTR_ = 4;

/** RFLAGS bits a user program may hold (CF PF AF ZF SF TF IF DF OF AC ID), plus the fixed bit 1. */
export const USER_RFLAGS = 0x240fd5;

/** Which way the syscall entry behaves on this host (see stub.S). */
export type EntryMode = 'unknown' | 'cpl3' | 'cpl0';

/** A request to end the run from outside the run loop (a timeout, a signal to torov). */
export interface StopState { requested: boolean; status: number; reason: string | undefined }

/** What a vCPU needs of the VM it belongs to. */
export interface VcpuHost {
  readonly dispatcher: SyscallDispatcher;
  readonly personality: Personality;
  readonly mem: GuestMemory;
  readonly stop: StopState;
  /** Decides what a CPU exception does: resume (spurious) or end the program with a signal. */
  onFault(task: Task, f: FaultFrame): 'resume' | { status: number; message: string };
  /** The program touched guest memory that lost its host backing (KVM_RUN's EFAULT). */
  onBusFault(task: Task, v: Vcpu): 'resume' | { status: number; message: string };
  /** Called with the program's end; returns its exit status. */
  finish(e: GuestExit): number;
  /**
   * A host call returned EINTR: takes the host signals that caused it; true if the program
   * has no signal to take (the call is then made again, as Linux restarts a call no signal
   * interrupted for the program).
   */
  restartEintr(task: Task): boolean;
  /** Before a syscall that may block: lets a signal already deliverable interrupt it (see Scheduler.beforeBlocking). */
  beforeBlocking(task: Task, nr: number): void;
}

/** Where the channel's exits go (the scheduler). */
export interface ChannelSink {
  /** EXIT_KICK, EXIT_WAIT (on the main thread) or EXIT_CTX. */
  port(v: Vcpu, exit: number): void;
}

/** Arguments read straight out of the kvm_run page. */
class RegArgs implements Args {
  constructor(private readonly w: Uint32Array) {}
  i(n: number): number { return this.w[ARG[n]!]! | 0; }
  u(n: number): number { return this.w[ARG[n]!]!; }
  n(n: number): number { const x = ARG[n]!; return (this.w[x + 1]! | 0) * 4294967296 + this.w[x]!; }
  ptr(n: number): number { const x = ARG[n]!; return this.w[x + 1]! * 4294967296 + this.w[x]!; }
  big(n: number): bigint { const x = ARG[n]!; return (BigInt(this.w[x + 1]!) << 32n) | BigInt(this.w[x]!); }
}

export class Vcpu {
  readonly u32: Uint32Array;
  readonly args: RegArgs;
  mode: EntryMode = 'unknown';
  /**
   * A debugger's own run loop (src/gdb), used instead of run()'s when one is attached.
   * The choice is made once per run, so the loop below has no debugger branch at all.
   */
  debugger: { run(): number } | undefined;
  /** Where the syscall channel's exits go, with --syscall-path ring (src/vmm/scheduler.ts). */
  sink: ChannelSink | undefined;
  /** The syscall that waits (BLOCKED) came through the stub (not a ToroV direct hypercall). */
  private pendingFromStub = false;
  /** The registers are the program's (rip in its code, CPL3) while a syscall is served: do not return through the stub. */
  private inUser = false;
  private readonly stubSyscallRip: number;
  private readonly stubFaultRip: number;
  private readonly regsView: UserRegs;

  constructor(readonly host: VcpuHost, readonly fd: VcpuFd, readonly id: number, readonly task: Task, readonly pages: VcpuPages) {
    this.regsView = { snapshot: () => Buffer.from(this.fd.runU8.subarray(RUN.regs, RUN.regs + 144)) };
    this.u32 = fd.runU32;
    this.args = new RegArgs(this.u32);
    // `out imm8` is 2 bytes: on an I/O exit rip already points past it.
    this.stubSyscallRip = SYS_VA + SYS.STUB + STUB_SYSCALL_OUT + 2;
    this.stubFaultRip = SYS_VA + SYS.STUB + STUB_FAULT_COMMON + 2;
  }

  /** The number of the last syscall served on the exit path (a trace's "resumed" line). */
  lastNr = -1;

  /** Sets the entry registers (only at start, through KVM_SET_REGS). */
  setEntry(rip: number, rsp: number): void {
    const b = Buffer.alloc(144);
    b.writeBigUInt64LE(BigInt(rip), REGS.rip);
    b.writeBigUInt64LE(BigInt(rsp), REGS.rsp);
    b.writeBigUInt64LE(0x202n, REGS.rflags);       // IF set, as Linux starts user programs; IOPL 0
    this.fd.setRegs(b);
  }

  reg(w: number): number { return this.u32[w + 1]! * 4294967296 + this.u32[w]!; }

  /** Makes KVM keep the general registers in the kvm_run page (sync regs) from now on. */
  syncRegs(): void { this.u32[VALID] = KVM_SYNC_X86_REGS; }

  /** Ends the run at a stop request (requestStop). */
  stopNow(): never {
    const s = this.host.stop;
    throw new GuestExit(s.status, s.reason);
  }

  /**
   * Handles KVM_RUN's return code `rc` and the exit in the kvm_run page (on whichever thread
   * ran KVM_RUN); returns the exit's kind (src/vmm/exits.ts).
   */
  handleExit(rc: number): number {
    const exit = classifyExit(this.fd, rc, this.sink !== undefined);
    switch (exit) {
      case EXIT_SYSCALL: this.syscall(); return exit;
      case EXIT_FAULT: this.fault(); return exit;
      case EXIT_BUS: {
        // Handled as a fault: the program's SIGBUS handler runs, or the program ends.
        const verdict = this.host.onBusFault(this.task, this);
        if (verdict !== 'resume') throw new GuestExit(verdict.status, verdict.message, true);
        return EXIT_FAULT;
      }
      case EXIT_NOP: case EXIT_INTERRUPTED: return exit;
      case EXIT_KICK: case EXIT_WAIT: case EXIT_CTX: this.sink!.port(this, exit); return exit;
      default: throw new Error(`unexpected VM exit (KVM_EXIT_DEBUG) at rip=0x${this.reg(RIP).toString(16)}`);
    }
  }

  /**
   * One syscall on the exit path: the number is in rax, arguments in rdi, rsi, rdx, r10,
   * r8, r9. Returns false if it waits (BLOCKED): completeSyscall() finishes it later.
   */
  syscall(): boolean {
    const u = this.u32;
    const fromStub = this.reg(RIP) === this.stubSyscallRip;
    if (this.mode === 'unknown' && fromStub) this.probe();
    const nr = u[RAX + 1] === 0 ? u[RAX]! : -1;
    this.lastNr = nr;
    let result: number;
    if (fromStub && nr < 512 && NEEDS_CONTEXT[nr]) {
      // Served with the program's registers in place (clone copies them).
      this.enterUser(this.reg(RCX), this.reg(R11), this.reg(RSP), this.reg(W(REGS.rdx)));
      result = this.withRegs(() => this.host.dispatcher.dispatch(this.task, nr, this.args));
    } else {
      if (fromStub) this.host.beforeBlocking(this.task, nr);
      result = !fromStub ? this.directHypercall(nr) : this.host.dispatcher.dispatch(this.task, nr, this.args);
      while (result === -EINTR_ && fromStub && this.host.restartEintr(this.task)) result = this.host.dispatcher.dispatch(this.task, nr, this.args);
    }
    if (result === BLOCKED) { this.pendingFromStub = fromStub; return false; }
    this.finish(result, fromStub);
    return true;
  }

  /**
   * A restored vCPU whose registers are a snapshot's, rewound to its `syscall` instruction
   * (src/vmm/snapshot.ts): makes the kvm_run page say what the trap would (the stub's
   * syscall exit, rcx and r11 as the snapshot has them), so that the first KVM_RUN of the
   * restore is spent after the call instead of on the trap and exit (about 90 µs on
   * kvm_pvm). The call goes through syscall() as any other: policy, trace, blocking.
   * Only where the stub runs at CPL3 (kvm_pvm), where finish() returns to the caller
   * itself; false otherwise (the vCPU then runs the instruction).
   */
  fakeSyscallExit(): boolean {
    if (this.mode !== 'cpl3' || this.debugger) return false;
    const r = this.fd.run;
    this.fd.runU32[RUN.exit_reason >> 2] = KVM_EXIT_IO;
    r.setUint8(RUN.io_direction, 1);      // KVM_EXIT_IO_OUT
    r.setUint8(RUN.io_size, 1);
    r.setUint16(RUN.io_port, PORT_SYSCALL, true);
    r.setUint32(RUN.io_count, 1, true);
    this.setReg(RIP, this.stubSyscallRip);
    return true;
  }

  /** Finishes a syscall that waited, with its result. */
  completeSyscall(result: number): void {
    this.finish(result, this.pendingFromStub);
  }

  private finish(result: number, fromStub: boolean): void {
    const u = this.u32;
    u[RAX] = result >>> 0;
    u[RAX + 1] = Math.floor(result / 4294967296) >>> 0;
    if (this.inUser) this.inUser = false;
    else if (fromStub && this.mode === 'cpl3') {
      // kvm_pvm: the stub runs at CPL3 and cannot sysretq; return to the caller here.
      u[RIP] = u[RCX]!; u[RIP + 1] = u[RCX + 1]!;
      u[RFLAGS] = (u[R11]! & USER_RFLAGS) | 2; u[RFLAGS + 1] = 0;
    }
    if (this.task.fsBaseDirty) this.applyBasesNow();
    u[DIRTY] = u[DIRTY]! | KVM_SYNC_X86_REGS;
  }

  /** Writes a result into rax of a vCPU whose registers are the program's (after enterUser). */
  setResult(result: number): void {
    this.finish(result, false);
  }

  /**
   * Makes the vCPU's registers the program's, as if the syscall instruction had returned:
   * rip, rflags and rsp given, rcx = rip and r11 = rflags as `syscall` leaves them, rdx
   * (the channel's spin clobbered it). Where the stub runs at CPL0 (VMX), the code and
   * stack segments become the program's too (the sysretq that will not run would have).
   */
  enterUser(rip: number, rflags: number, rsp: number, rdx: number): void {
    const flags = (rflags & USER_RFLAGS) | 2;
    this.setReg(RIP, rip); this.setReg(RCX, rip);
    this.setReg(RFLAGS, flags); this.setReg(R11, flags);
    this.setReg(RSP, rsp); this.setReg(W(REGS.rdx), rdx);
    this.u32[DIRTY] = this.u32[DIRTY]! | KVM_SYNC_X86_REGS;
    this.inUser = true;
    if (this.mode === 'cpl0') {
      const s = this.fd.getSregs();
      if ((s.readUInt16LE(SREGS.cs + 12) & 3) !== 3) {
        writeSegment(s, SREGS.cs, { base: 0n, limit: 0xffffffff, selector: SEL.USER_CS, type: 11, present: 1, dpl: 3, db: 0, s: 1, l: 1, g: 1 });
        writeSegment(s, SREGS.ss, { base: 0n, limit: 0xffffffff, selector: SEL.USER_DS, type: 3, present: 1, dpl: 3, db: 1, s: 1, l: 0, g: 1 });
        this.fd.setSregs(s);
      }
    }
  }

  /** Makes the code and stack segments the program's (CPL3): after an exception entry, which runs at CPL0 on every host. */
  toUserSegments(): void {
    const s = this.fd.getSregs();
    writeSegment(s, SREGS.cs, { base: 0n, limit: 0xffffffff, selector: SEL.USER_CS, type: 11, present: 1, dpl: 3, db: 0, s: 1, l: 1, g: 1 });
    writeSegment(s, SREGS.ss, { base: 0n, limit: 0xffffffff, selector: SEL.USER_DS, type: 3, present: 1, dpl: 3, db: 1, s: 1, l: 0, g: 1 });
    this.fd.setSregs(s);
  }

  /** Runs `f` (a handler) with the program's registers visible to it as task.regs. */
  withRegs<T>(f: () => T): T {
    this.task.regs = this.regsView;
    try { return f(); } finally { this.task.regs = undefined; }
  }

  private setReg(w: number, v: number): void {
    this.u32[w] = v >>> 0;
    this.u32[w + 1] = Math.floor(v / 4294967296) >>> 0;
  }

  /** The general registers, rip and rflags (struct kvm_regs, a copy of the sync registers). */
  regs(): Buffer { return Buffer.from(this.fd.runU8.subarray(RUN.regs, RUN.regs + 144)); }

  /** Replaces the general registers, rip and rflags (struct kvm_regs) of a parked vCPU; rflags keeps only what a program may set. */
  setRegs(b: Buffer): void {
    const fl = (Number(b.readBigUInt64LE(REGS.rflags) & 0xffffffffn) & USER_RFLAGS) | 2;
    this.fd.runU8.set(b, RUN.regs);
    this.setReg(RFLAGS, fl);
    this.u32[DIRTY] = this.u32[DIRTY]! | KVM_SYNC_X86_REGS;
  }

  /** True if the vCPU stopped inside torov's stub page (a syscall or exception entry), not in the program's code. */
  inStub(): boolean {
    const rip = this.reg(RIP);
    return rip >= SYS_VA + SYS.STUB && rip < SYS_VA + SYS.STUB + 4096;
  }

  /** Where the exit path's syscall returns to (rcx), when the vCPU stopped at the stub's `out`. */
  syscallReturn(): { rip: number; rflags: number; rsp: number; rdx: number } {
    return { rip: this.reg(RCX), rflags: this.reg(R11), rsp: this.reg(RSP), rdx: this.reg(W(REGS.rdx)) };
  }

  /** The vCPU's x87/SSE/AVX state (KVM_GET_XSAVE), for a thread that starts as a copy of this one. */
  fpuState(): Buffer | undefined {
    try { return this.fd.getXsave(); } catch { return undefined; }
  }

  /**
   * A hypercall `out` from the program's own code, not from torov's syscall stub: the
   * ToroV guest ABI (see personality.ts). A Linux program never does this; it is refused.
   */
  private directHypercall(nr: number): number {
    const p = this.host.personality;
    if (!p.directHypercalls) {
      throw new GuestExit(139, `torov: SIGSEGV: hypercall from program code at rip=0x${this.reg(RIP).toString(16)} (not the ${p.name} ABI)`);
    }
    const own = p.hypercall?.(nr, this.task, this.reg(RCX));
    return own !== undefined ? own : this.host.dispatcher.dispatch(this.task, nr, this.args);
  }

  /** The first syscall tells at which privilege level the entry stub runs on this host. */
  private probe(): void {
    const s = this.fd.getSregs();
    const cpl = s.readUInt16LE(SREGS.cs + 12) & 3;
    this.mode = cpl === 3 ? 'cpl3' : 'cpl0';
    this.task.note('entry-mode', `syscall entry runs at CPL${cpl} (${cpl === 3 ? 'kvm_pvm-style' : 'VMX/SVM-style'} host)`);
  }

  /** Loads FS/GS bases set by arch_prctl into the vCPU (which must not be in KVM_RUN). */
  applyBasesNow(): void {
    const k = this.task;
    k.fsBaseDirty = false;
    try {
      this.fd.setMsrs([[MSR_FS_BASE, BigInt(k.fsBase)], [MSR_GS_BASE, BigInt(k.gsBase)]]);
    } catch (e) {
      // arch_prctl accepts only canonical user addresses; should KVM still refuse, the
      // program ends instead of the VMM.
      throw new GuestExit(139, `torov: SIGSEGV: cannot set the FS/GS base (${(e as Error).message})`);
    }
  }

  /** A CPU exception, reported by the stub's exception entry on torov's exception stack. */
  private fault(): void {
    const frame = this.faultFrame();
    const verdict = this.host.onFault(this.task, frame);
    if (verdict === 'resume') return;          // the stub pops its words and iretq's
    throw new GuestExit(verdict.status, verdict.message);
  }

  /** Reads the frame of a fault report (ss is the word after rsp); a forged or corrupt report ends the program. */
  faultFrame(): FaultFrame & { ss: number } {
    if (this.reg(RIP) !== this.stubFaultRip) {
      throw new GuestExit(139, `torov: SIGSEGV: forged fault report at rip=0x${this.reg(RIP).toString(16)}`);
    }
    const rsp = this.reg(RSP), d = this.host.mem.sysDv;
    const va = rsp - SYS_VA;
    if (!(va >= SYS.XSTACK && va + 56 <= SYS.XSTACK_TOP)) throw new GuestExit(139, 'torov: SIGSEGV: corrupt exception frame');
    // A real report comes from an exception entry, at CPL0; the program jumping to the
    // stub's `out` itself (at CPL3, rsp aimed at the exception stack) would replay a stale frame.
    const sregs = this.fd.getSregs();
    if ((sregs.readUInt16LE(SREGS.cs + 12) & 3) !== 0) throw new GuestExit(139, `torov: SIGSEGV: forged fault report at rip=0x${this.reg(RIP).toString(16)} (from user mode)`);
    // This vCPU's own exception stack, mapped at the shared address (layout.ts, VCPU_BLOCK).
    const off = this.pages.xstack + (va - SYS.XSTACK);
    const q = (i: number) => d.getUint32(off + i * 8, true) + d.getUint32(off + i * 8 + 4, true) * 4294967296;
    const frame = { vector: q(0), error: q(1), rip: q(2), cs: q(3), rflags: q(4), rsp: q(5), ss: q(6), cr2: 0 };
    if (frame.vector === 14) frame.cr2 = Number(sregs.readBigUInt64LE(SREGS.cr2));
    return frame;
  }
}
