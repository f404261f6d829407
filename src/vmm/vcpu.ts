/**
 * A vCPU and its run loop: KVM_RUN, then one branch per exit. Per vCPU; the VM-wide state
 * (memory, fds, policy) lives in Machine. Registers are read and written through the
 * kvm_run page's synchronised registers (KVM_CAP_SYNC_REGS): no ioctl per syscall.
 */
import { VcpuFd, RUN, REGS, KVM_SYNC_X86_REGS, KVM_EXIT_IO, KVM_EXIT_SHUTDOWN, KVM_EXIT_HLT, KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_INTR, EXIT_NAMES, SREGS } from '../kvm/kvm';
import { PORT_SYSCALL, PORT_FAULT, PORT_NOP, PORT_KICK, PORT_WAIT, SYS, SYS_VA } from '../machine/layout';
import { STUB_SYSCALL_OUT, STUB_FAULT_COMMON } from '../machine/stub';
import { Args, GuestExit } from '../syscalls/api';
import { MSR_FS_BASE, MSR_GS_BASE } from '../machine/x86';
import type { Machine } from './machine';
import type { Channel } from './channel';
import { FaultFrame } from './fault';
import { takeHostSignal, onHostSignal } from './host-signals';

const R = RUN.regs >> 2;                                 // kvm_run.s.regs, in 32-bit words
const W = (off: number) => R + (off >> 2);
const RAX = W(REGS.rax), RCX = W(REGS.rcx), R11 = W(REGS.r11), RIP = W(REGS.rip), RFLAGS = W(REGS.rflags), RSP = W(REGS.rsp);
/** Syscall argument registers in order: rdi, rsi, rdx, r10, r8, r9. */
const ARG = [W(REGS.rdi), W(REGS.rsi), W(REGS.rdx), W(REGS.r10), W(REGS.r8), W(REGS.r9)];
const VALID = RUN.kvm_valid_regs >> 2, DIRTY = RUN.kvm_dirty_regs >> 2, REASON = RUN.exit_reason >> 2;
const EINTR = 4, EAGAIN = 11;

/** RFLAGS bits a user program may hold (CF PF AF ZF SF TF IF DF OF AC ID), plus the fixed bit 1. */
const USER_RFLAGS = 0x240fd5;

/** Which way the syscall entry behaves on this host (see stub.S). */
export type EntryMode = 'unknown' | 'cpl3' | 'cpl0';

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
  /** The syscall channel (src/vmm/channel.ts), with --syscall-path ring. */
  channel: Channel | undefined;
  private readonly stubSyscallRip: number;
  private readonly stubFaultRip: number;

  constructor(readonly machine: Machine, readonly fd: VcpuFd, readonly id: number) {
    this.u32 = fd.runU32;
    this.args = new RegArgs(this.u32);
    // `out imm8` is 2 bytes: on an I/O exit rip already points past it.
    this.stubSyscallRip = SYS_VA + SYS.STUB + STUB_SYSCALL_OUT + 2;
    this.stubFaultRip = SYS_VA + SYS.STUB + STUB_FAULT_COMMON + 2;
  }

  /** Sets the entry registers (only at start, through KVM_SET_REGS). */
  setEntry(rip: number, rsp: number): void {
    const b = Buffer.alloc(144);
    b.writeBigUInt64LE(BigInt(rip), REGS.rip);
    b.writeBigUInt64LE(BigInt(rsp), REGS.rsp);
    b.writeBigUInt64LE(0x202n, REGS.rflags);       // IF set, as Linux starts user programs; IOPL 0
    this.fd.setRegs(b);
  }

  private reg(w: number): number { return this.u32[w + 1]! * 4294967296 + this.u32[w]!; }

  /** Runs until the program exits; returns its exit status. */
  run(): number {
    if (this.debugger) return this.debugger.run();
    const m = this.machine;
    this.u32[VALID] = KVM_SYNC_X86_REGS;
    try {
      if (this.channel) this.channel.run(() => this.step());
      else for (;;) this.step();
      throw new Error('the run loop ended without an exit');
    } catch (e) {
      if (e instanceof GuestExit) return m.finish(e);
      throw e;
    }
  }

  /** One KVM_RUN on this thread, and its exit. */
  private step(): void {
    const sig = takeHostSignal();
    if (sig !== 0) onHostSignal(this.machine, sig);
    if (this.machine.stopRequested) this.stopNow();
    const rc = this.fd.runOnce();
    if (rc < 0) {
      if (rc === -EINTR || rc === -EAGAIN) return;
      throw new Error(`KVM_RUN failed: errno ${-rc}`);
    }
    this.handleExit();
  }

  /** Ends the run at a stop request (requestStop). */
  stopNow(): never {
    const m = this.machine;
    throw new GuestExit(m.stopStatus, m.stopReason);
  }

  /** Handles the exit KVM reported in the kvm_run page (on whichever thread ran KVM_RUN). */
  handleExit(): void {
    const reason = this.u32[REASON]!;
    if (reason === KVM_EXIT_IO) {
      const port = this.fd.run.getUint16(RUN.io_port, true);
      // torov's ports are for `out` only: an `in` would read data torov never provides.
      if (this.fd.runU8[RUN.io_direction] !== 1 /* KVM_EXIT_IO_OUT */) {
        throw new GuestExit(139, `torov: SIGSEGV: in from port 0x${port.toString(16)} at rip=0x${this.reg(RIP).toString(16)}`);
      }
      if (port === PORT_SYSCALL) { this.syscall(); return; }
      if (port === PORT_FAULT) { this.fault(); return; }
      if (port === PORT_NOP) return;
      if ((port === PORT_KICK || port === PORT_WAIT) && this.channel) { this.channel.port(port); return; }
      throw new GuestExit(139, `torov: SIGSEGV: I/O to port 0x${port.toString(16)} at rip=0x${this.reg(RIP).toString(16)}`);
    }
    this.otherExit(reason);
  }

  /** One syscall: the number is in rax, arguments in rdi, rsi, rdx, r10, r8, r9. */
  syscall(): void {
    const u = this.u32;
    const fromStub = this.reg(RIP) === this.stubSyscallRip;
    if (this.mode === 'unknown' && fromStub) this.probe();
    const nr = u[RAX + 1] === 0 ? u[RAX]! : -1;
    const result = fromStub ? this.machine.dispatch(nr, this.args) : this.directHypercall(nr);
    u[RAX] = result >>> 0;
    u[RAX + 1] = Math.floor(result / 4294967296) >>> 0;
    if (fromStub && this.mode === 'cpl3') {
      // kvm_pvm: the stub runs at CPL3 and cannot sysretq; return to the caller here.
      u[RIP] = u[RCX]!; u[RIP + 1] = u[RCX + 1]!;
      u[RFLAGS] = (u[R11]! & USER_RFLAGS) | 2; u[RFLAGS + 1] = 0;
    }
    if (this.machine.kernel.fsBaseDirty) this.applyBasesNow();
    u[DIRTY] = KVM_SYNC_X86_REGS;
  }

  /**
   * A hypercall `out` from the program's own code, not from torov's syscall stub: the
   * ToroV guest ABI (see personality.ts). A Linux program never does this; it is refused.
   */
  private directHypercall(nr: number): number {
    const p = this.machine.personality;
    if (!p.directHypercalls) {
      throw new GuestExit(139, `torov: SIGSEGV: hypercall from program code at rip=0x${this.reg(RIP).toString(16)} (not the ${p.name} ABI)`);
    }
    const own = p.hypercall?.(nr, this.machine.kernel, this.reg(RCX));
    return own !== undefined ? own : this.machine.dispatch(nr, this.args);
  }

  /** The first syscall tells at which privilege level the entry stub runs on this host. */
  private probe(): void {
    const s = this.fd.getSregs();
    const cpl = s.readUInt16LE(SREGS.cs + 12) & 3;
    this.mode = cpl === 3 ? 'cpl3' : 'cpl0';
    this.machine.kernel.note('entry-mode', `syscall entry runs at CPL${cpl} (${cpl === 3 ? 'kvm_pvm-style' : 'VMX/SVM-style'} host)`);
  }

  /** Loads FS/GS bases set by arch_prctl into the vCPU (which must not be in KVM_RUN). */
  applyBasesNow(): void {
    const k = this.machine.kernel;
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
    const verdict = this.machine.onFault(frame);
    if (verdict === 'resume') return;          // the stub pops its words and iretq's
    throw new GuestExit(verdict.status, verdict.message);
  }

  /** Reads the frame of a fault report (ss is the word after rsp); a forged or corrupt report ends the program. */
  faultFrame(): FaultFrame & { ss: number } {
    if (this.reg(RIP) !== this.stubFaultRip) {
      throw new GuestExit(139, `torov: SIGSEGV: forged fault report at rip=0x${this.reg(RIP).toString(16)}`);
    }
    const rsp = this.reg(RSP), d = this.machine.mem.sysDv;
    const off = rsp - SYS_VA;
    if (!(off >= SYS.XSTACK && off + 56 <= SYS.XSTACK_TOP)) throw new GuestExit(139, 'torov: SIGSEGV: corrupt exception frame');
    const q = (i: number) => d.getUint32(off + i * 8, true) + d.getUint32(off + i * 8 + 4, true) * 4294967296;
    const frame = { vector: q(0), error: q(1), rip: q(2), cs: q(3), rflags: q(4), rsp: q(5), ss: q(6), cr2: 0 };
    if (frame.vector === 14) frame.cr2 = Number(this.fd.getSregs().readBigUInt64LE(SREGS.cr2));
    return frame;
  }

  otherExit(reason: number): void {
    const rip = () => this.reg(RIP).toString(16);
    if (reason !== KVM_EXIT_INTR) this.machine.tainted = true;   // never reuse this vCPU
    switch (reason) {
      case KVM_EXIT_INTR: return;
      case KVM_EXIT_SHUTDOWN:
        throw new GuestExit(139, `torov: SIGSEGV: the guest triple-faulted (unrecoverable CPU exception) at rip=0x${rip()}`);
      case KVM_EXIT_HLT:
        throw new GuestExit(139, `torov: SIGSEGV: hlt at rip=0x${rip()}`);
      case KVM_EXIT_FAIL_ENTRY:
        throw new Error(`KVM could not enter the guest (hardware reason 0x${this.fd.run.getBigUint64(RUN.fail_entry_reason, true).toString(16)})`);
      case KVM_EXIT_INTERNAL_ERROR:
        throw new GuestExit(139, `torov: SIGSEGV: KVM internal error (suberror ${this.fd.run.getUint32(RUN.internal_suberror, true)}) at rip=0x${rip()}`);
      default:
        throw new Error(`unexpected VM exit ${EXIT_NAMES[reason] ?? reason} at rip=0x${rip()}`);
    }
  }
}
