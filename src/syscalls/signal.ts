/**
 * Signal setup: rt_sigaction, rt_sigprocmask, sigaltstack and friends are recorded so that
 * programs which install handlers can start. Signals are not delivered yet (see kill in
 * process.ts for what happens to fatal ones).
 */
import { Handler, HandlerTable, GuestExit, Kernel } from './api';
import { EINVAL, EPIPE } from '../linux/errno';
import { SIGKILL, SIGPIPE, SIGSTOP, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK } from '../linux/signal';

const UNBLOCKABLE = (1n << BigInt(SIGKILL - 1)) | (1n << BigInt(SIGSTOP - 1));

/** Implements rt_sigaction(2) (struct kernel_sigaction: handler, flags, restorer, mask; 32 bytes). */
const sysRtSigaction: Handler = (k, a) => {
  const sig = a.i(0), act = a.ptr(1), oact = a.ptr(2);
  if (a.n(3) !== 8 || sig < 1 || sig > 64) return -EINVAL;
  if (act && (sig === SIGKILL || sig === SIGSTOP)) return -EINVAL;
  const old = k.sigactions.get(sig) ?? { handler: 0n, flags: 0n, restorer: 0n, mask: 0n };
  let next = old;
  if (act) {
    const b = k.mem.read(act, 32);
    next = { handler: b.readBigUInt64LE(0), flags: b.readBigUInt64LE(8), restorer: b.readBigUInt64LE(16), mask: b.readBigUInt64LE(24) };
  }
  if (oact) {
    const b = Buffer.alloc(32);
    b.writeBigUInt64LE(old.handler, 0); b.writeBigUInt64LE(old.flags, 8); b.writeBigUInt64LE(old.restorer, 16); b.writeBigUInt64LE(old.mask, 24);
    k.mem.write(oact, b);
  }
  k.sigactions.set(sig, next);
  return 0;
};

/** Implements rt_sigprocmask(2). */
const sysRtSigprocmask: Handler = (k, a) => {
  const how = a.i(0), set = a.ptr(1), oset = a.ptr(2);
  if (a.n(3) !== 8) return -EINVAL;
  const old = k.sigmask;
  if (set) {
    const m = k.mem.read(set, 8).readBigUInt64LE(0);
    if (how === SIG_BLOCK) k.sigmask |= m;
    else if (how === SIG_UNBLOCK) k.sigmask &= ~m;
    else if (how === SIG_SETMASK) k.sigmask = m;
    else return -EINVAL;
    k.sigmask &= ~UNBLOCKABLE;
  }
  if (oset) { const b = Buffer.alloc(8); b.writeBigUInt64LE(old, 0); k.mem.write(oset, b); }
  return 0;
};

/** Implements rt_sigpending(2): nothing is ever pending. */
const sysRtSigpending: Handler = (k, a) => {
  if (a.n(1) > 8) return -EINVAL;
  k.mem.write(a.ptr(0), Buffer.alloc(Math.max(0, a.n(1))));
  return 0;
};

/** Implements sigaltstack(2) (stack_t: ss_sp, ss_flags, ss_size; 24 bytes): recorded. */
const sysSigaltstack: Handler = (k, a) => {
  const ss = a.ptr(0), oss = a.ptr(1);
  const next = ss ? k.mem.read(ss, 24) : undefined;
  if (oss) {
    const cur = Buffer.from(k.altstack);
    if (cur.readBigUInt64LE(16) === 0n) cur.writeInt32LE(2 /* SS_DISABLE */, 8);
    k.mem.write(oss, cur);
  }
  if (next) {
    const flags = next.readInt32LE(8);
    if (flags & ~(2 | 0x80000000)) return -EINVAL;
    k.altstack = next;
  }
  return 0;
};

/**
 * A write that failed with EPIPE also raises SIGPIPE in Linux (pipe_write, sk_stream_error).
 * Signals are not delivered yet, so: when SIGPIPE has its default action and is not
 * blocked, the program dies of it (status 141, silently, as `prog | head` does natively);
 * when it is ignored, blocked or has a handler, the call returns EPIPE.
 * Returns `r` unchanged otherwise. Write-side handlers pass their host result through it.
 */
export function sigpipe(k: Kernel, r: number): number {
  if (r !== -EPIPE) return r;
  const act = k.sigactions.get(SIGPIPE);
  if ((act === undefined || act.handler === 0n) && !(k.sigmask & (1n << BigInt(SIGPIPE - 1)))) {
    k.note('sigpipe', 'SIGPIPE: the program wrote to a pipe or socket with no reader, with SIGPIPE at its default action: killed (status 141)');
    throw new GuestExit(128 + SIGPIPE);
  }
  if (act !== undefined && act.handler > 1n) {
    k.note(`sig-${SIGPIPE}`, 'SIGPIPE not delivered to the program\'s handler (signal delivery is not supported yet): the call returned EPIPE');
  }
  return r;
}

/** rt_sigreturn(2) without a delivered signal is a corrupt frame; Linux sends SIGSEGV. */
const sysRtSigreturn: Handler = () => {
  throw new GuestExit(139, 'torov: SIGSEGV: rt_sigreturn without a signal frame');
};

export const signalHandlers: HandlerTable = {
  rt_sigaction: sysRtSigaction,
  rt_sigprocmask: sysRtSigprocmask,
  rt_sigpending: sysRtSigpending,
  sigaltstack: sysSigaltstack,
  rt_sigreturn: sysRtSigreturn,
};
