/**
 * Signal bookkeeping: the pending queues of a thread and of a process, and siginfo as
 * Linux lays it out. Standard signals (1-31) are pending at most once; real-time signals
 * (32-64) queue, each with its own siginfo, up to a limit (RLIMIT_SIGPENDING's role).
 */
import { SIGINFO } from '../linux/structs';
import { SIGRTMIN, sigmaskBit } from '../linux/signal';

/** si_code values (asm-generic/siginfo.h). */
export const SI_USER = 0, SI_KERNEL = 0x80, SI_QUEUE = -1, SI_TIMER = -2, SI_TKILL = -6;
export const SEGV_MAPERR = 1, SEGV_ACCERR = 2, BUS_ADRALN = 1, BUS_ADRERR = 2, ILL_ILLOPN = 2, FPE_INTDIV = 1, FPE_FLTDIV = 3,
  TRAP_BRKPT = 1;

/** One signal's information (struct siginfo's fields torov fills). */
export interface SigInfo {
  signo: number;
  code: number;
  /** kill-like senders: pid and uid; faults: the address. */
  pid?: number;
  uid?: number;
  addr?: number;
  /** sigqueue and timers: sigval (an int or pointer). */
  value?: bigint;
  /** POSIX timers: the timer id and overrun count. */
  timerid?: number;
  overrun?: number;
}

/** How many real-time signals may be queued per queue (Linux's default RLIMIT_SIGPENDING is far larger; this bounds the VMM's memory). */
export const MAX_QUEUED = 1024;

/** Pending signals: a mask and the siginfo of each. */
export class SigQueue {
  mask = 0n;
  private readonly infos: SigInfo[] = [];

  /** Queues a signal; false if a real-time one did not fit (EAGAIN for sigqueue). A standard one already pending is merged. */
  add(info: SigInfo): boolean {
    const bit = sigmaskBit(info.signo);
    if (info.signo < SIGRTMIN && (this.mask & bit)) return true;
    if (this.infos.length >= MAX_QUEUED) return false;
    this.infos.push(info);
    this.mask |= bit;
    return true;
  }

  /** Takes the lowest-numbered pending signal in `allowed` (a mask), or undefined. */
  take(allowed: bigint): SigInfo | undefined {
    const m = this.mask & allowed;
    if (m === 0n) return undefined;
    let sig = 1;
    while (!(m & sigmaskBit(sig))) sig++;
    const i = this.infos.findIndex((x) => x.signo === sig);
    const info = this.infos.splice(i, 1)[0]!;
    if (!this.infos.some((x) => x.signo === sig)) this.mask &= ~sigmaskBit(sig);
    return info;
  }

  /** Drops every pending instance of `sig` (it became ignored). */
  drop(sig: number): void {
    const bit = sigmaskBit(sig);
    if (!(this.mask & bit)) return;
    for (let i = this.infos.length - 1; i >= 0; i--) if (this.infos[i]!.signo === sig) this.infos.splice(i, 1);
    this.mask &= ~bit;
  }
}

/** struct siginfo (128 bytes) for `i`, as Linux lays out each kind. */
export function encodeSiginfo(i: SigInfo): Buffer {
  const b = Buffer.alloc(SIGINFO.SIZE);
  b.writeInt32LE(i.signo, SIGINFO.si_signo);
  b.writeInt32LE(i.code, SIGINFO.si_code);
  if (i.addr !== undefined) {
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(i.addr)), SIGINFO.si_addr);   // _sigfault (a kernel address read as a number may round to 2^64)
  } else if (i.timerid !== undefined) {
    b.writeInt32LE(i.timerid, 16);                                 // _timer: si_tid, si_overrun, si_sigval
    b.writeInt32LE(i.overrun ?? 0, 20);
    b.writeBigUInt64LE(i.value ?? 0n, 24);
  } else {
    b.writeInt32LE(i.pid ?? 0, SIGINFO.si_pid);                    // _kill / _rt
    b.writeUInt32LE(i.uid ?? 0, SIGINFO.si_uid);
    if (i.value !== undefined) b.writeBigUInt64LE(i.value, SIGINFO.si_value);
  }
  return b;
}

/** struct signalfd_siginfo's size: what one read of a signalfd returns per signal. */
export const SIGNALFD_SIGINFO_SIZE = 128;

/** struct signalfd_siginfo (linux/signalfd.h) for `i`. */
export function encodeSignalfdInfo(i: SigInfo): Buffer {
  const b = Buffer.alloc(SIGNALFD_SIGINFO_SIZE);
  b.writeUInt32LE(i.signo, 0);                       // ssi_signo
  b.writeInt32LE(i.code, 8);                         // ssi_code (ssi_errno at 4 stays 0)
  b.writeUInt32LE((i.pid ?? 0) >>> 0, 12);           // ssi_pid
  b.writeUInt32LE((i.uid ?? 0) >>> 0, 16);           // ssi_uid
  if (i.timerid !== undefined) {
    b.writeUInt32LE(i.timerid >>> 0, 24);            // ssi_tid
    b.writeUInt32LE((i.overrun ?? 0) >>> 0, 32);     // ssi_overrun
  }
  if (i.value !== undefined) {
    b.writeInt32LE(Number(BigInt.asIntN(32, i.value)), 44); // ssi_int
    b.writeBigUInt64LE(i.value, 48);                 // ssi_ptr
  }
  if (i.addr !== undefined) b.writeBigUInt64LE(BigInt(i.addr), 72); // ssi_addr
  return b;
}
