/**
 * One map from a KVM_RUN return and its exit to what it means for torov. The vCPU run loop,
 * the syscall channel's vCPU threads and the GDB stub all go through classifyExit(), so
 * a rule about exits (which ports a guest may use, what a triple fault means, which KVM
 * errors are the guest's doing) is written once.
 *
 * Outcomes are small integers (no allocation on the hot path). Exits that end the program
 * throw GuestExit (marked `tainted` when the vCPU must not be reused); exits that mean torov
 * or KVM is broken throw Error.
 */
import { VcpuFd, RUN, REGS, KVM_EXIT_IO, KVM_EXIT_SHUTDOWN, KVM_EXIT_HLT, KVM_EXIT_FAIL_ENTRY, KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_INTR, KVM_EXIT_DEBUG, EXIT_NAMES } from '../kvm/kvm';
import { PORT_SYSCALL, PORT_FAULT, PORT_NOP, PORT_KICK, PORT_WAIT, PORT_CTX } from '../machine/layout';
import { GuestExit } from '../syscalls/api';

/** `out` to PORT_SYSCALL: a syscall (or a ToroV hypercall). */
export const EXIT_SYSCALL = 1;
/** `out` to PORT_FAULT: a CPU exception reported by the stub's exception entry. */
export const EXIT_FAULT = 2;
/** `out` to PORT_NOP: nothing to do (the benchmark's bare exit). */
export const EXIT_NOP = 3;
/** `out` to PORT_KICK: the syscall channel has a request and no host thread polls it. */
export const EXIT_KICK = 4;
/** `out` to PORT_WAIT: the guest spun out its budget waiting for a channel result. */
export const EXIT_WAIT = 5;
/** `out` to PORT_CTX: the channel's guest left the VM because the VMM asked (C_STATE 5). */
export const EXIT_CTX = 8;
/** KVM_RUN was interrupted (a signal, immediate_exit): nothing happened in the guest. */
export const EXIT_INTERRUPTED = 6;
/** KVM_EXIT_DEBUG: a breakpoint or single-step KVM intercepted (debugger only). */
export const EXIT_DEBUG = 7;
/** KVM_RUN failed with EFAULT: the program touched guest memory that lost its host backing (SIGBUS). */
export const EXIT_BUS = 9;

const EINTR = 4, EAGAIN = 11;
const REASON = RUN.exit_reason >> 2;
const RIP = (RUN.regs + REGS.rip) >> 2;

/**
 * What KVM_RUN's return code `rc` (0 or -errno) and the exit in `fd`'s kvm_run page mean.
 * `channel`: the run uses the syscall channel (its two ports are valid only then).
 */
export function classifyExit(fd: VcpuFd, rc: number, channel: boolean): number {
  if (rc < 0) {
    if (rc === -EINTR || rc === -EAGAIN) return EXIT_INTERRUPTED;
    // EFAULT: the guest touched a page whose host memory cannot be faulted in (a file
    // mapping truncated under it, a page of its full tmpfs): the program's fault, for
    // which Linux sends it SIGBUS (src/vmm/machine.ts: onBusFault).
    if (rc === -14) return EXIT_BUS;
    throw new Error(`KVM_RUN failed: errno ${-rc}`);
  }
  const reason = fd.runU32[REASON]!;
  if (reason === KVM_EXIT_IO) {
    const port = fd.run.getUint16(RUN.io_port, true);
    // torov's ports are for `out` only: an `in` would read data torov never provides.
    if (fd.runU8[RUN.io_direction] !== 1 /* KVM_EXIT_IO_OUT */) {
      throw new GuestExit(139, `torov: SIGSEGV: in from port 0x${port.toString(16)} at rip=0x${rip(fd).toString(16)}`);
    }
    if (port === PORT_SYSCALL) return EXIT_SYSCALL;
    if (port === PORT_FAULT) return EXIT_FAULT;
    if (port === PORT_NOP) return EXIT_NOP;
    if (channel && port === PORT_KICK) return EXIT_KICK;
    if (channel && port === PORT_WAIT) return EXIT_WAIT;
    if (channel && port === PORT_CTX) return EXIT_CTX;
    throw new GuestExit(139, `torov: SIGSEGV: I/O to port 0x${port.toString(16)} at rip=0x${rip(fd).toString(16)}`);
  }
  switch (reason) {
    case KVM_EXIT_INTR: return EXIT_INTERRUPTED;
    case KVM_EXIT_DEBUG: return EXIT_DEBUG;
    case KVM_EXIT_SHUTDOWN:
      throw new GuestExit(139, `torov: SIGSEGV: the guest triple-faulted (unrecoverable CPU exception) at rip=0x${rip(fd).toString(16)}`, true);
    case KVM_EXIT_HLT:
      throw new GuestExit(139, `torov: SIGSEGV: hlt at rip=0x${rip(fd).toString(16)}`, true);
    case KVM_EXIT_INTERNAL_ERROR:
      throw new GuestExit(139, `torov: SIGSEGV: KVM internal error (suberror ${fd.run.getUint32(RUN.internal_suberror, true)}) at rip=0x${rip(fd).toString(16)}`, true);
    case KVM_EXIT_FAIL_ENTRY:
      throw new Error(`KVM could not enter the guest (hardware reason 0x${fd.run.getBigUint64(RUN.fail_entry_reason, true).toString(16)})`);
    default:
      throw new Error(`unexpected VM exit ${EXIT_NAMES[reason] ?? reason} at rip=0x${rip(fd).toString(16)}`);
  }
}

function rip(fd: VcpuFd): number {
  const u = fd.runU32;
  return u[RIP + 1]! * 4294967296 + u[RIP]!;
}
