/**
 * Signals: dispositions (rt_sigaction), masks (rt_sigprocmask), the alternate stack,
 * sending (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo), waiting (pause,
 * rt_sigsuspend, rt_sigtimedwait, signalfd4), returning from a handler (rt_sigreturn) and the timers
 * that send them (alarm, setitimer, getitimer, timer_create and its calls).
 *
 * Delivery is the scheduler's (src/vmm/scheduler.ts): a signal is queued for a thread or
 * for the process and delivered when the thread next returns to its code (after a syscall,
 * or at once when its vCPU is kicked out of the guest): a frame as Linux builds it
 * (src/vmm/sigframe.ts) and the handler's entry, or the default action.
 */
import { Handler, HandlerTable, Kernel, SignalInfo } from './api';
import { EBADF, EINVAL, ENOMEM, EPERM, EPIPE, ESRCH } from '../linux/errno';
import { O_CLOEXEC, O_NONBLOCK } from '../linux/fcntl';
import { sys } from '../host/libc';
import { HOST } from './host-nr';
import {
  SIGKILL, SIGPIPE, SIGSTOP, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, SS_DISABLE, SS_ONSTACK, SS_AUTODISARM, MINSIGSTKSZ,
  sigmaskBit, SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID,
} from '../linux/signal';
import { KERNEL_SIGACTION, STACK_T, SIGINFO, SIGEVENT, ITIMERVAL, ITIMERSPEC } from '../linux/structs';
import { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI, TIMER_ABSTIME, ITIMER_REAL, ITIMER_PROF } from '../linux/time';
import { deadlineOf } from './thread';

const UNBLOCKABLE = sigmaskBit(SIGKILL) | sigmaskBit(SIGSTOP);
/** si_code values (asm-generic/siginfo.h). */
const SI_USER = 0, SI_TKILL = -6;

/** Implements rt_sigaction(2) (struct kernel_sigaction: handler, flags, restorer, mask; 32 bytes). */
const sysRtSigaction: Handler = (k, a) => {
  const sig = a.i(0), act = a.ptr(1), oact = a.ptr(2);
  if (a.n(3) !== 8 || sig < 1 || sig > 64) return -EINVAL;
  if (act && (sig === SIGKILL || sig === SIGSTOP)) return -EINVAL;
  const old = k.sigactions.get(sig) ?? { handler: 0n, flags: 0n, restorer: 0n, mask: 0n };
  let next = old;
  if (act) {
    const b = k.mem.read(act, KERNEL_SIGACTION.SIZE);
    next = { handler: b.readBigUInt64LE(KERNEL_SIGACTION.sa_handler), flags: b.readBigUInt64LE(KERNEL_SIGACTION.sa_flags),
      restorer: b.readBigUInt64LE(KERNEL_SIGACTION.sa_restorer), mask: b.readBigUInt64LE(KERNEL_SIGACTION.sa_mask) & ~UNBLOCKABLE };
  }
  if (oact) {
    const b = Buffer.alloc(KERNEL_SIGACTION.SIZE);
    b.writeBigUInt64LE(old.handler, KERNEL_SIGACTION.sa_handler); b.writeBigUInt64LE(old.flags, KERNEL_SIGACTION.sa_flags);
    b.writeBigUInt64LE(old.restorer, KERNEL_SIGACTION.sa_restorer); b.writeBigUInt64LE(old.mask, KERNEL_SIGACTION.sa_mask);
    k.mem.write(oact, b);
  }
  if (act) { k.sigactions.set(sig, next); k.sched.signalsChanged(k, sig); }
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
  } else if (how !== SIG_BLOCK && how !== SIG_UNBLOCK && how !== SIG_SETMASK) return -EINVAL;
  if (oset) { const b = Buffer.alloc(8); b.writeBigUInt64LE(old, 0); k.mem.write(oset, b); }
  if (set) k.sched.signalsChanged(k);
  return 0;
};

/** Implements rt_sigpending(2): the blocked signals pending for the thread or the process. */
const sysRtSigpending: Handler = (k, a) => {
  const size = a.n(1);
  if (size > 8 || size < 0) return -EINVAL;
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(k.pendingMask & k.sigmask, 0);
  k.mem.write(a.ptr(0), b.subarray(0, size));
  return 0;
};

/** True if stack pointer `sp` is on the thread's alternate stack. */
function onAltstack(k: Kernel, sp: number): boolean {
  const cur = Buffer.from(k.altstack);
  const base = Number(cur.readBigUInt64LE(STACK_T.ss_sp)), size = Number(cur.readBigUInt64LE(STACK_T.ss_size));
  return size > 0 && sp > base && sp <= base + size;
}

/** Implements sigaltstack(2) (stack_t: ss_sp, ss_flags, ss_size; 24 bytes). */
const sysSigaltstack: Handler = (k, a) => {
  const ss = a.ptr(0), oss = a.ptr(1);
  const next = ss ? k.mem.read(ss, STACK_T.SIZE) : undefined;
  const sp = k.regs ? Number(k.regs.snapshot().readBigUInt64LE(48 /* rsp */)) : 0;
  const on = sp !== 0 && onAltstack(k, sp);
  if (oss) {
    const cur = Buffer.from(k.altstack);
    const enabled = Number(cur.readBigUInt64LE(STACK_T.ss_size)) !== 0;
    cur.writeInt32LE(!enabled ? SS_DISABLE : on ? SS_ONSTACK : 0, STACK_T.ss_flags);
    if (!enabled) { cur.writeBigUInt64LE(0n, STACK_T.ss_sp); cur.writeBigUInt64LE(0n, STACK_T.ss_size); }
    k.mem.write(oss, cur);
  }
  if (next) {
    const flags = next.readInt32LE(STACK_T.ss_flags);
    if (on) return -EPERM;
    const mode = flags & ~SS_AUTODISARM;
    if (mode !== 0 && mode !== SS_DISABLE && mode !== SS_ONSTACK) return -EINVAL;
    if (mode === SS_DISABLE) { k.altstack = new Uint8Array(STACK_T.SIZE); return 0; }
    const size = Number(next.readBigUInt64LE(STACK_T.ss_size));
    if (size < MINSIGSTKSZ) return -ENOMEM;
    const rec = Buffer.from(next);
    rec.writeInt32LE(0, STACK_T.ss_flags);
    k.altstack = rec;
  }
  return 0;
};

/**
 * A write that failed with EPIPE also raises SIGPIPE in Linux (pipe_write, sk_stream_error):
 * the thread gets it (delivered when the call returns: its default action ends the program
 * with status 141, as `prog | head` does natively; a handler runs; ignored, only EPIPE).
 * Returns `r` unchanged. Write-side handlers pass their host result through it.
 */
export function sigpipe(k: Kernel, r: number): number {
  if (r !== -EPIPE) return r;
  const act = k.sigactions.get(SIGPIPE);
  if ((act === undefined || act.handler === 0n) && !(k.sigmask & sigmaskBit(SIGPIPE))) {
    k.note('sigpipe', 'SIGPIPE: the program wrote to a pipe or socket with no reader, with SIGPIPE at its default action: killed (status 141)');
  }
  k.sched.sendSignal(k, k.tid, { signo: SIGPIPE, code: SI_USER, pid: k.pid, uid: k.uid });
  return r;
}

/** Implements rt_sigreturn(2): the frame at the stack pointer is restored, registers, FPU state and mask. */
const sysRtSigreturn: Handler = (k) => k.sched.sigreturn(k);

/** The signal a kill-like call sends, with its checks: 0 only probes. */
function checkSig(sig: number): number {
  return sig < 0 || sig > 64 ? -EINVAL : 0;
}

/**
 * Implements kill(2): `pid` > 0 a guest process, 0 the caller's process group, -1 every
 * process but the first and the caller, < -1 a process group. Pids are the guest's own:
 * no host process is reachable (ESRCH).
 */
const sysKill: Handler = (k, a) => {
  const pid = a.i(0), sig = a.i(1);
  if (checkSig(sig) < 0) return -EINVAL;
  const info = { signo: sig, code: SI_USER, pid: k.pid, uid: k.uid };
  if (pid === k.pid) return k.sched.sendSignal(k, 0, info);
  if (pid === -2147483648) return -ESRCH;
  return k.sched.killProcesses(k, pid, info);
};

/** Implements tkill(2): a thread of the program. */
const sysTkill: Handler = (k, a) => {
  const tid = a.i(0), sig = a.i(1);
  if (tid <= 0 || checkSig(sig) < 0) return -EINVAL;
  return k.sched.sendSignal(k, tid, { signo: sig, code: SI_TKILL, pid: k.pid, uid: k.uid });
};

/** Implements tgkill(2). */
const sysTgkill: Handler = (k, a) => {
  const tgid = a.i(0), tid = a.i(1), sig = a.i(2);
  if (tgid <= 0 || tid <= 0 || checkSig(sig) < 0) return -EINVAL;
  if (tgid !== k.pid && k.sched.process(tgid)?.alive !== true) return -ESRCH;
  if (tgid !== k.pid && tid !== tgid) return -ESRCH;
  return k.sched.sendSignal(k, tid, { signo: sig, code: SI_TKILL, pid: k.pid, uid: k.uid });
};

/**
 * rt_sigqueueinfo and rt_tgsigqueueinfo: the caller's siginfo, with the rules Linux keeps
 * (a process may not pretend to be the kernel or kill(): si_code >= 0 is EPERM unless
 * sending to itself... which a torov program always does; si_code SI_TKILL is EPERM).
 */
function queued(k: Kernel, tid: number, sig: number, infop: number): number {
  if (checkSig(sig) < 0) return -EINVAL;
  const b = k.mem.read(infop, SIGINFO.SIZE);
  const code = b.readInt32LE(SIGINFO.si_code);
  if (code === SI_TKILL) return -EPERM;
  const info: SignalInfo = { signo: sig, code, pid: b.readInt32LE(SIGINFO.si_pid), uid: b.readUInt32LE(SIGINFO.si_uid), value: b.readBigUInt64LE(SIGINFO.si_value) };
  return k.sched.sendSignal(k, tid, info);
}
const sysRtSigqueueinfo: Handler = (k, a) => (a.i(0) !== k.pid ? -ESRCH : queued(k, 0, a.i(1), a.ptr(2)));
const sysRtTgsigqueueinfo: Handler = (k, a) => (a.i(0) !== k.pid ? -ESRCH : a.i(1) <= 0 ? -EINVAL : queued(k, a.i(1), a.i(2), a.ptr(3)));

/** Implements pause(2): waits for a signal. */
const sysPause: Handler = (k) => k.sched.suspend(k, undefined);

/** Implements rt_sigsuspend(2): waits for a signal with the given mask meanwhile. */
const sysRtSigsuspend: Handler = (k, a) => {
  if (a.n(1) !== 8) return -EINVAL;
  return k.sched.suspend(k, k.mem.read(a.ptr(0), 8).readBigUInt64LE(0));
};

/** Implements rt_sigtimedwait(2): takes a signal of the set, waiting for one up to the timeout. */
const sysRtSigtimedwait: Handler = (k, a) => {
  if (a.n(3) !== 8) return -EINVAL;
  const set = k.mem.read(a.ptr(0), 8).readBigUInt64LE(0) & ~UNBLOCKABLE;
  const infop = a.ptr(1);
  if (infop) k.mem.check(infop, SIGINFO.SIZE, true);
  const deadline = k.sched.retryDeadline(k) ?? deadlineOf(k, a.ptr(2), false, false);
  if (deadline < 0) return deadline;
  return k.sched.sigwait(k, set, infop, deadline);
};

/**
 * Implements signalfd4(2) (and signalfd(2), no flags): a new signalfd for the set, or a new
 * set for an existing one. Its host fd is an eventfd torov keeps readable while one of the
 * set's signals is pending; reads take them (src/vmm/scheduler.ts).
 */
function signalfd(k: Kernel, fd: number, maskp: number, size: number, flags: number): number {
  if (size !== 8 || (flags & ~(O_CLOEXEC | O_NONBLOCK))) return -EINVAL;
  const mask = k.mem.read(maskp, 8).readBigUInt64LE(0) & ~UNBLOCKABLE;
  if (fd !== -1) {
    const s = k.fds.signalfds.get(fd);
    if (!s) return k.fds.get(fd) < 0 ? -EBADF : -EINVAL;
    s.mask = mask;
    k.sched.signalfdChanged();
    return fd;
  }
  const h = sys(HOST.eventfd2, 0, O_CLOEXEC | (flags & O_NONBLOCK));
  if (h < 0) return h;
  const g = k.fds.add(h, (flags & O_CLOEXEC) !== 0);
  if (g < 0) { sys(HOST.close, h); return g; }
  k.fds.signalfds.set(g, { mask, ready: false });
  k.sched.signalfdChanged();
  return g;
}

/** Milliseconds of a struct timeval or timespec (`nsec`: the second word is nanoseconds); -EINVAL if bad. */
function msOf(k: Kernel, p: number, nsec: boolean): number {
  const sec = k.mem.readI64(p), sub = k.mem.readI64(p + 8);
  if (sec < 0 || sub < 0 || sub >= (nsec ? 1e9 : 1e6)) return -EINVAL;
  return sec * 1000 + (nsec ? sub / 1e6 : sub / 1e3);
}

/** Writes milliseconds as a struct timeval (or timespec). */
function putMs(b: Buffer, off: number, ms: number, nsec: boolean): void {
  b.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), off);
  b.writeBigInt64LE(BigInt(Math.round((ms % 1000) * (nsec ? 1e6 : 1e3))), off + 8);
}

/** Implements alarm(2): SIGALRM after that many seconds; returns the seconds left of the last one. */
const sysAlarm: Handler = (k, a) => {
  const old = k.sched.itimer(k, ITIMER_REAL, a.u(0) * 1000, 0);
  return old.value > 0 ? Math.max(1, Math.round(old.value / 1000)) : 0;
};

/** Implements setitimer(2): REAL, VIRTUAL and PROF (the last two count wall time while the program runs). */
const sysSetitimer: Handler = (k, a) => {
  const which = a.i(0);
  if (which < ITIMER_REAL || which > ITIMER_PROF) return -EINVAL;
  let value = 0, interval = 0;
  if (a.ptr(1)) {
    interval = msOf(k, a.ptr(1) + ITIMERVAL.it_interval, false);
    value = msOf(k, a.ptr(1) + ITIMERVAL.it_value, false);
    if (interval < 0 || value < 0) return -EINVAL;
  }
  if (a.ptr(2)) k.mem.check(a.ptr(2), ITIMERVAL.SIZE, true);
  const old = k.sched.itimer(k, which, value, interval);
  if (which !== ITIMER_REAL) k.note('itimer-cpu', 'setitimer VIRTUAL/PROF count wall time while the program runs, not its CPU time');
  if (a.ptr(2)) {
    const b = Buffer.alloc(ITIMERVAL.SIZE);
    putMs(b, ITIMERVAL.it_interval, old.interval, false);
    putMs(b, ITIMERVAL.it_value, old.value, false);
    k.mem.write(a.ptr(2), b);
  }
  return 0;
};

/** Implements getitimer(2). */
const sysGetitimer: Handler = (k, a) => {
  const which = a.i(0);
  if (which < ITIMER_REAL || which > ITIMER_PROF) return -EINVAL;
  const old = k.sched.itimer(k, which, undefined, 0);
  const b = Buffer.alloc(ITIMERVAL.SIZE);
  putMs(b, ITIMERVAL.it_interval, old.interval, false);
  putMs(b, ITIMERVAL.it_value, old.value, false);
  k.mem.write(a.ptr(1), b);
  return 0;
};

/** Clocks a POSIX timer may use. */
const TIMER_CLOCKS = new Set([CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI]);

/** Implements timer_create(2): SIGEV_SIGNAL, SIGEV_THREAD_ID and SIGEV_NONE (SIGEV_THREAD is the C library's). */
const sysTimerCreate: Handler = (k, a) => {
  const clock = a.i(0), sevp = a.ptr(1), idp = a.ptr(2);
  if (!TIMER_CLOCKS.has(clock)) return -EINVAL;
  k.mem.check(idp, 4, true);
  let notify = SIGEV_SIGNAL, signo = 14 /* SIGALRM */, value = 0n, tid = 0;
  if (sevp) {
    const b = k.mem.read(sevp, SIGEVENT.SIZE);
    notify = b.readInt32LE(SIGEVENT.sigev_notify);
    signo = b.readInt32LE(SIGEVENT.sigev_signo);
    value = b.readBigUInt64LE(SIGEVENT.sigev_value);
    tid = b.readInt32LE(SIGEVENT.sigev_notify_thread_id);
    if (notify !== SIGEV_SIGNAL && notify !== SIGEV_NONE && notify !== SIGEV_THREAD_ID) return -EINVAL;
    if (notify !== SIGEV_NONE && (signo < 1 || signo > 64)) return -EINVAL;
  }
  const id = k.sched.timerCreate(k, clock, notify, signo, value, tid);
  if (id < 0) return id;
  k.mem.writeU32(idp, id);
  return 0;
};

/** Writes an itimerspec (value and interval in ms). */
function putSpec(k: Kernel, p: number, v: { value: number; interval: number }): void {
  const b = Buffer.alloc(ITIMERSPEC.SIZE);
  putMs(b, ITIMERSPEC.it_interval, v.interval, true);
  putMs(b, ITIMERSPEC.it_value, v.value, true);
  k.mem.write(p, b);
}

/** Implements timer_settime(2). */
const sysTimerSettime: Handler = (k, a) => {
  const id = a.i(0), flags = a.i(1), newp = a.ptr(2), oldp = a.ptr(3);
  const interval = msOf(k, newp + ITIMERSPEC.it_interval, true), value = msOf(k, newp + ITIMERSPEC.it_value, true);
  if (interval < 0 || value < 0 || (flags & ~TIMER_ABSTIME)) return -EINVAL;
  if (oldp) k.mem.check(oldp, ITIMERSPEC.SIZE, true);
  const old = k.sched.timerSet(k, id, value, interval, (flags & TIMER_ABSTIME) !== 0);
  if (typeof old === 'number') return old;
  if (oldp) putSpec(k, oldp, old);
  return 0;
};

/** Implements timer_gettime(2). */
const sysTimerGettime: Handler = (k, a) => {
  k.mem.check(a.ptr(1), ITIMERSPEC.SIZE, true);
  const cur = k.sched.timerSet(k, a.i(0), undefined, 0, false);
  if (typeof cur === 'number') return cur;
  putSpec(k, a.ptr(1), cur);
  return 0;
};

export const signalHandlers: HandlerTable = {
  rt_sigaction: sysRtSigaction,
  rt_sigprocmask: sysRtSigprocmask,
  rt_sigpending: sysRtSigpending,
  sigaltstack: sysSigaltstack,
  rt_sigreturn: sysRtSigreturn,
  kill: sysKill,
  tkill: sysTkill,
  tgkill: sysTgkill,
  rt_sigqueueinfo: sysRtSigqueueinfo,
  rt_tgsigqueueinfo: sysRtTgsigqueueinfo,
  pause: sysPause,
  rt_sigsuspend: sysRtSigsuspend,
  rt_sigtimedwait: sysRtSigtimedwait,
  alarm: sysAlarm,
  setitimer: sysSetitimer,
  getitimer: sysGetitimer,
  signalfd: (k, a) => signalfd(k, a.i(0), a.ptr(1), a.n(2), 0),
  signalfd4: (k, a) => signalfd(k, a.i(0), a.ptr(1), a.n(2), a.i(3)),
  timer_create: sysTimerCreate,
  timer_settime: sysTimerSettime,
  timer_gettime: sysTimerGettime,
  timer_getoverrun: (k, a) => k.sched.timerOverrun(k, a.i(0)),
  timer_delete: (k, a) => k.sched.timerDelete(k, a.i(0)),
};

