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
import type { FdTable } from './fdtable';

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
  constructor(readonly status: number, readonly reason?: string) {
    super(reason ?? `exit ${status}`);
  }
}

/** A recorded rt_sigaction (signals are not delivered yet). */
export interface SigAction { handler: bigint; flags: bigint; restorer: bigint; mask: bigint }

/** Per-process (per-VM) state the handlers share. */
export interface Kernel {
  readonly mem: GuestMemory;
  readonly as: AddressSpace;
  readonly fds: FdTable;
  /** The program's path as the guest knows it (AT_EXECFN, readlink /proc/self/exe). */
  readonly exe: string;
  /** Identity published to the guest (getpid & co, auxv). */
  readonly pid: number;
  readonly ppid: number;
  readonly uid: number;
  readonly gid: number;
  /** Signal dispositions and mask, recorded. */
  readonly sigactions: Map<number, SigAction>;
  sigmask: bigint;
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

/** A syscall handler: returns the result, or -errno; its helpers may throw SysError (see above). */
export type Handler = (k: Kernel, a: Args) => number;

/** Handlers by syscall name, as each area module exports them. */
export type HandlerTable = Readonly<Record<string, Handler>>;
