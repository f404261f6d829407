/**
 * Waiting for file descriptors: poll, ppoll, select, pselect6 and epoll.
 *
 * The host does the waiting, on host fds: pollfd arrays are copied to VMM memory with the
 * fds translated through the fd table, and only revents goes back; select and pselect6 are
 * built on the host's ppoll (guest fd_set bits -> a pollfd array -> guest fd_set bits), so
 * the host never sees a guest fd number or a guest bitmap. Timeouts are staged in VMM
 * memory too, and the time left is copied back where Linux writes it, if the guest's copy
 * is writable (Linux ignores a read-only one as well). Signal masks are checked and
 * ignored: signals are not delivered yet. Blocking waits block the VMM thread.
 */
import { Handler, HandlerTable, Kernel, Args } from './api';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { waitFds } from './nonblock';
import { GuestFault } from '../machine/memory';
import { EBADF, EINVAL } from '../linux/errno';


import {
  EPOLL_CLOEXEC, EPOLL_CTL_DEL, EP_MAX_EVENTS, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLPRI, POLLRDBAND, POLLRDNORM, POLLWRBAND,
  POLLWRNORM,
} from '../linux/poll';
import { SIGSET_SIZE } from '../linux/signal';
import { EPOLL_EVENT, POLLFD, TIMESPEC } from '../linux/structs';
import { nowMs } from '../host/clock';

/** What select asks for and what counts as ready, per set (fs/select.c). */
const IN_WANT = POLLIN | POLLRDNORM | POLLRDBAND, IN_READY = IN_WANT | POLLHUP | POLLERR;
const OUT_WANT = POLLOUT | POLLWRNORM | POLLWRBAND, OUT_READY = OUT_WANT | POLLERR;
const EX_WANT = POLLPRI, EX_READY = POLLPRI;

/**
 * A host fd number that is never open (above any possible RLIMIT_NOFILE: fs.nr_open is at
 * most 2^30), so the host reports POLLNVAL for it: the stand-in for a guest fd that is not
 * in the table.
 */
const CLOSED_FD = 0x7fffffff;

/** VMM scratch: a timespec the host reads and updates, an epoll_event. */
const small = Buffer.alloc(128);
const smallAddr = addressOf(small);
const S_TS = 0, S_EV = TIMESPEC.SIZE;

/** The pollfd array the host sees, grown to the largest fd limit seen. */
const PFD = POLLFD.SIZE;
let pfd = Buffer.alloc(1024 * PFD);
let pfdAddr = addressOf(pfd);
function pollfds(n: number): void {
  if (n * PFD > pfd.length) { pfd = Buffer.alloc(n * PFD); pfdAddr = addressOf(pfd); }
}

/** Checks an optional signal mask argument (pointer, size): EINVAL unless size is 8, EFAULT if unreadable. */
function checkSigmask(k: Kernel, ptr: number, size: number): number {
  if (ptr === 0) return 0;
  if (size !== SIGSET_SIZE) return -EINVAL;
  k.mem.host(ptr, SIGSET_SIZE, false);
  return 0;
}

/**
 * The longest timeout, in ns: INT64_MAX seconds. Any valid timespec or timeval (seconds up
 * to LONG_MAX, and a timeval's microseconds up to LONG_MAX too) is clamped to it, so the
 * staged seconds always fit a host time_t; the host kernel saturates its deadline there
 * as it does for the guest's own value, which is waiting forever in practice.
 */
const MAX_TIMEOUT_NS = (2n ** 63n - 1n) * 1000000000n;
const clampNs = (ns: bigint) => (ns > MAX_TIMEOUT_NS ? MAX_TIMEOUT_NS : ns);

/** Reads two 64-bit signed words (a timespec or timeval, checked) exactly. */
function readPair(k: Kernel, p: number): [bigint, bigint] {
  const v = k.mem.view(p, TIMESPEC.SIZE, false);
  const dv = new DataView(v.buffer, v.byteOffset, TIMESPEC.SIZE);
  return [dv.getBigInt64(TIMESPEC.tv_sec, true), dv.getBigInt64(TIMESPEC.tv_nsec, true)];
}

/** Reads a struct timespec (checked) into nanoseconds (clamped); -EINVAL if it is not a valid one. */
function readTimespec(k: Kernel, p: number): bigint | number {
  const [sec, nsec] = readPair(k, p);
  if (sec < 0n || nsec < 0n || nsec >= 1000000000n) return -EINVAL;
  return clampNs(sec * 1000000000n + nsec);
}

/** Stages a timeout (ns, clamped again here) in the scratch timespec; returns its host address. */
function stageTimespec(ns: bigint): number {
  ns = clampNs(ns < 0n ? 0n : ns);
  small.writeBigInt64LE(ns / 1000000000n, S_TS + TIMESPEC.tv_sec);
  small.writeBigInt64LE(ns % 1000000000n, S_TS + TIMESPEC.tv_nsec);
  return smallAddr + S_TS;
}

/**
 * Writes back the time left (seconds and the sub-second part, both below 2^63), as Linux
 * does, unless the guest's copy is not writable (ignored, like Linux).
 */
function writeBack(k: Kernel, p: number, secs: bigint, sub: bigint): void {
  let v: Uint8Array;
  try {
    v = k.mem.view(p, TIMESPEC.SIZE, true);
  } catch (e) {
    if (e instanceof GuestFault) return;
    throw e;
  }
  const dv = new DataView(v.buffer, v.byteOffset, TIMESPEC.SIZE);
  dv.setBigInt64(TIMESPEC.tv_sec, secs, true);
  dv.setBigInt64(TIMESPEC.tv_nsec, sub, true);
}

/**
 * Copies the guest's pollfd array (checked for reading and writing) to `pfd`, with each
 * guest fd replaced by its host fd: negative fds stay negative (ignored, revents 0), fds
 * not in the table become CLOSED_FD (POLLNVAL, as Linux reports them).
 */
function stagePollfds(k: Kernel, ufds: number, n: number): number {
  if (n > k.fds.limit) return -EINVAL;
  pollfds(n);
  const src = k.mem.view(ufds, n * PFD, true);
  pfd.set(src);
  for (let i = 0; i < n; i++) {
    const fd = pfd.readInt32LE(i * PFD + POLLFD.fd);
    if (fd >= 0) { const h = k.fds.get(fd); pfd.writeInt32LE(h < 0 ? CLOSED_FD : h, i * PFD + POLLFD.fd); }
    pfd.writeInt16LE(0, i * PFD + POLLFD.revents);
  }
  return 0;
}

/** Copies revents back into the guest's array (only revents, like Linux). */
function copyRevents(k: Kernel, ufds: number, n: number): void {
  const dst = k.mem.view(ufds, n * PFD, true);
  for (let i = 0; i < n; i++) {
    dst[i * PFD + POLLFD.revents] = pfd[i * PFD + POLLFD.revents]!;
    dst[i * PFD + POLLFD.revents + 1] = pfd[i * PFD + POLLFD.revents + 1]!;
  }
}

/** Implements poll(2). */
const sysPoll: Handler = (k, a) => {
  const ufds = a.ptr(0), n = a.u(1);
  const s = stagePollfds(k, ufds, n);
  if (s < 0) return s;
  if (k.sched.concurrent && a.i(2) !== 0) {
    const deadline = a.i(2) < 0 ? Infinity : nowMs() + a.i(2);
    return pollConcurrent(k, ufds, n, deadline, 0);
  }
  const r = sys(HOST.poll, pfdAddr, n, a.i(2));
  copyRevents(k, ufds, n);
  return r;
};

/**
 * poll and ppoll in a program with threads: a poll that returns at once, and if nothing
 * is ready before `deadline` (nowMs() ms), a wait on the thread's own host
 * thread, after which the call is tried again (src/syscalls/nonblock.ts). `tsp`: ppoll's
 * timespec, which gets the time left.
 */
function pollConcurrent(k: Kernel, ufds: number, n: number, deadline: number, tsp: number): number {
  deadline = k.sched.retryDeadline(k) ?? deadline;
  const r = sys(HOST.ppoll, pfdAddr, n, stageTimespec(0n), 0, SIGSET_SIZE);
  if (r !== 0 || nowMs() >= deadline) {
    copyRevents(k, ufds, n);
    if (tsp !== 0) {
      const left = deadline === Infinity ? 0 : Math.max(0, deadline - nowMs());
      writeBack(k, tsp, BigInt(Math.floor(left / 1000)), BigInt(Math.floor((left % 1000) * 1e6)));
    }
    return r;
  }
  const fds: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) fds.push([pfd.readInt32LE(i * PFD + POLLFD.fd), pfd.readInt16LE(i * PFD + POLLFD.events)]);
  return waitFds(k, fds, deadline);
}

/** Implements ppoll(2): the timeout is staged (and the time left written back); the signal mask is checked, not applied. */
const sysPpoll: Handler = (k, a) => {
  const ufds = a.ptr(0), n = a.u(1), tsp = a.ptr(2);
  let ts = 0, timed = false;
  if (tsp !== 0) {
    const t = readTimespec(k, tsp);
    if (typeof t === 'number') return t;
    ts = stageTimespec(t);
    timed = t !== 0n;
  }
  const m = checkSigmask(k, a.ptr(3), a.n(4));
  if (m < 0) return m;
  const s = stagePollfds(k, ufds, n);
  if (s < 0) return s;
  if (k.sched.concurrent && (tsp === 0 || timed)) {
    const deadline = tsp === 0 ? Infinity : nowMs() + Number(small.readBigInt64LE(S_TS + TIMESPEC.tv_sec)) * 1000
      + Number(small.readBigInt64LE(S_TS + TIMESPEC.tv_nsec)) / 1e6;
    return pollConcurrent(k, ufds, n, deadline, tsp);
  }
  const r = sys(HOST.ppoll, pfdAddr, n, ts, 0, SIGSET_SIZE);
  copyRevents(k, ufds, n);
  // The host updated the staged timespec with the time left (not for a zero timeout).
  if (timed) writeBack(k, tsp, small.readBigInt64LE(S_TS + TIMESPEC.tv_sec), small.readBigInt64LE(S_TS + TIMESPEC.tv_nsec));
  return r;
};

/**
 * select(2) and pselect6(2), on top of the host's ppoll. `timeout` is in ns (null: wait
 * forever). Returns the number of bits set, or -errno; `left` gets the time left.
 *
 * A fd whose host revents matches none of the sets it is in (POLLHUP for a fd only in
 * exceptfds) would make ppoll return at once with nothing for select to report; such fds
 * are dropped from the array and the wait goes on, as select would keep waiting.
 */
function doSelect(k: Kernel, nfds: number, ptrs: readonly number[], timeout: bigint | null, left: { ns: bigint }): number {
  if (nfds < 0) return -EINVAL;
  // Like Linux, which clamps nfds to the size of the fd table.
  const n = Math.min(nfds, k.fds.limit);
  const bytes = Math.ceil(n / 64) * 8;
  const sets = ptrs.map((p) => (p === 0 ? null : (k.mem.host(p, bytes, true), k.mem.read(p, bytes))));
  const isSet = (s: Buffer | null, fd: number) => s !== null && ((s[fd >> 3]! >> (fd & 7)) & 1) === 1;
  const [ins, outs, exs] = sets as [Buffer | null, Buffer | null, Buffer | null];
  pollfds(n);
  const guestFd: number[] = [];
  for (let fd = 0; fd < n; fd++) {
    const ev = (isSet(ins, fd) ? IN_WANT : 0) | (isSet(outs, fd) ? OUT_WANT : 0) | (isSet(exs, fd) ? EX_WANT : 0);
    if (ev === 0) continue;
    const h = k.fds.get(fd);
    if (h < 0) return -EBADF;
    const i = guestFd.length;
    pfd.writeInt32LE(h, i * PFD + POLLFD.fd);
    pfd.writeInt16LE(ev, i * PFD + POLLFD.events);
    guestFd.push(fd);
  }
  const cnt = guestFd.length;
  if (k.sched.concurrent && timeout !== 0n) return selectConcurrent(k, ptrs, sets, guestFd, timeout, left);
  const deadline = timeout === null ? null : process.hrtime.bigint() + timeout;
  const res = sets.map((s) => (s === null ? null : Buffer.alloc(s.length)));
  let total = 0;
  for (;;) {
    for (let i = 0; i < cnt; i++) pfd.writeInt16LE(0, i * PFD + POLLFD.revents);
    let rest = 0n;
    if (deadline !== null) { rest = deadline - process.hrtime.bigint(); if (rest < 0n) rest = 0n; }
    const r = sys(HOST.ppoll, pfdAddr, cnt, deadline === null ? 0 : stageTimespec(rest), 0, SIGSET_SIZE);
    if (r < 0) return r;
    total += markReady(cnt, guestFd, res);
    if (total > 0 || r === 0) break;
  }
  if (deadline !== null) { const l = deadline - process.hrtime.bigint(); left.ns = l < 0n ? 0n : l; }
  res.forEach((s, j) => { if (s) k.mem.write(ptrs[j]!, s); });
  return total;
}

/** Marks the staged pollfds' ready fds in select's result sets; returns how many bits it set. */
function markReady(cnt: number, guestFd: readonly number[], res: ReadonlyArray<Buffer | null>): number {
  let total = 0;
  for (let i = 0; i < cnt; i++) {
    const rev = pfd.readUInt16LE(i * PFD + POLLFD.revents), want = pfd.readUInt16LE(i * PFD + POLLFD.events), fd = guestFd[i]!;
    let hit = false;
    const mark = (s: Buffer | null | undefined) => { if (s) { s[fd >> 3]! |= 1 << (fd & 7); total++; hit = true; } };
    if ((want & IN_WANT) && (rev & IN_READY)) mark(res[0]);
    if ((want & OUT_WANT) && (rev & OUT_READY)) mark(res[1]);
    if ((want & EX_WANT) && (rev & EX_READY)) mark(res[2]);
    if (!hit && rev !== 0) pfd.writeInt32LE(-1, i * PFD + POLLFD.fd);
  }
  return total;
}

/**
 * select and pselect6 in a program with threads (or whose vCPU runs on a host thread, as
 * on the syscall channel): as poll (pollConcurrent), a look that returns at once, then a
 * wait on the thread's own host thread until a fd is ready or the deadline passes, after
 * which the call is served again from the start. A blocking ppoll here would hold the
 * VMM's main thread: no other thread's syscall, and no timer signal, until it returned.
 */
function selectConcurrent(k: Kernel, ptrs: readonly number[], sets: ReadonlyArray<Buffer | null>, guestFd: readonly number[],
  timeout: bigint | null, left: { ns: bigint }): number {
  const deadline = k.sched.retryDeadline(k) ?? (timeout === null ? Infinity : nowMs() + Number(timeout) / 1e6);
  const cnt = guestFd.length;
  const res = sets.map((s) => (s === null ? null : Buffer.alloc(s.length)));
  for (let i = 0; i < cnt; i++) pfd.writeInt16LE(0, i * PFD + POLLFD.revents);
  const r = sys(HOST.ppoll, pfdAddr, cnt, stageTimespec(0n), 0, SIGSET_SIZE);
  if (r < 0) return r;
  const total = markReady(cnt, guestFd, res);
  if (total > 0 || nowMs() >= deadline) {
    const l = deadline === Infinity ? 0 : Math.max(0, deadline - nowMs());
    left.ns = BigInt(Math.floor(l * 1e6));
    res.forEach((s, j) => { if (s) k.mem.write(ptrs[j]!, s); });
    return total;
  }
  // Wait for the fds whose readiness select reports (one ready for nothing it asked about
  // would end every wait at once).
  const fds: Array<[number, number]> = [];
  for (let i = 0; i < cnt; i++) {
    const h = pfd.readInt32LE(i * PFD + POLLFD.fd);
    if (h >= 0) fds.push([h, pfd.readInt16LE(i * PFD + POLLFD.events)]);
  }
  return waitFds(k, fds, deadline);
}

/** Implements select(2): the timeval is validated, and the time left written back as Linux does. */
const sysSelect: Handler = (k, a) => {
  const tvp = a.ptr(4);
  let timeout: bigint | null = null;
  if (tvp !== 0) {
    const [sec, usec] = readPair(k, tvp);
    if (sec < 0n || usec < 0n) return -EINVAL;
    timeout = clampNs(sec * 1000000000n + usec * 1000n);
  }
  const left = { ns: 0n };
  const r = doSelect(k, a.i(0), [a.ptr(1), a.ptr(2), a.ptr(3)], timeout, left);
  if (r >= 0 && timeout !== null && timeout !== 0n) {
    writeBack(k, tvp, left.ns / 1000000000n, (left.ns % 1000000000n) / 1000n);
  }
  return r;
};

/**
 * Implements pselect6(2): the timespec is validated (time left written back); the sixth
 * argument points to { const sigset_t *ss; size_t ss_len }: read and checked, the mask ignored.
 */
const sysPselect6: Handler = (k, a) => {
  const tsp = a.ptr(4);
  let timeout: bigint | null = null;
  if (tsp !== 0) {
    const t = readTimespec(k, tsp);
    if (typeof t === 'number') return t;
    timeout = t;
  }
  const sig = a.ptr(5);
  if (sig !== 0) {
    const m = checkSigmask(k, k.mem.readU64(sig), k.mem.readU64(sig + 8));
    if (m < 0) return m;
  }
  const left = { ns: 0n };
  const r = doSelect(k, a.i(0), [a.ptr(1), a.ptr(2), a.ptr(3)], timeout, left);
  if (r >= 0 && timeout !== null && timeout !== 0n) {
    writeBack(k, tsp, left.ns / 1000000000n, left.ns % 1000000000n);
  }
  return r;
};

/** Installs a new host epoll fd (or passes on -errno). */
function installEpoll(k: Kernel, h: number, cloexec: boolean): number {
  if (h < 0) return h;
  const g = k.fds.add(h, cloexec);
  if (g < 0) sys(HOST.close, h);
  return g;
}

/** Implements epoll_create(2): size must be positive, and is otherwise unused. */
const sysEpollCreate: Handler = (k, a) =>
  (a.i(0) <= 0 ? -EINVAL : installEpoll(k, sys(HOST.epoll_create1, EPOLL_CLOEXEC), false));

/** Implements epoll_create1(2); EPOLL_CLOEXEC goes to the fd table (the host fd always has it). */
const sysEpollCreate1: Handler = (k, a) => {
  const flags = a.i(0);
  if (flags & ~EPOLL_CLOEXEC) return -EINVAL;
  return installEpoll(k, sys(HOST.epoll_create1, EPOLL_CLOEXEC), (flags & EPOLL_CLOEXEC) !== 0);
};

/**
 * Implements epoll_ctl(2): both fds are translated; the epoll_event (not read for
 * EPOLL_CTL_DEL, as Linux) is copied to VMM memory. The data field is the guest's, opaque.
 */
const sysEpollCtl: Handler = (k, a) => {
  const op = a.i(1);
  let ev = 0;
  if (op !== EPOLL_CTL_DEL) {
    small.set(k.mem.view(a.ptr(3), EPOLL_EVENT.SIZE, false), S_EV);
    ev = smallAddr + S_EV;
  }
  const ep = k.fds.get(a.i(0)), t = k.fds.get(a.i(2));
  if (ep < 0 || t < 0) return -EBADF;
  return sys(HOST.epoll_ctl, ep, op, t, ev);
};

/**
 * The epoll_wait family's first three arguments, checked in Linux's order: maxevents and
 * the events array (for writing), then the epoll fd. Returns the host fd and the events
 * array's host address, or -errno.
 */
function epollTarget(k: Kernel, a: Args): { h: number; ev: number } | number {
  const max = a.i(2);
  if (max <= 0 || max > EP_MAX_EVENTS) return -EINVAL;
  const ev = k.mem.host(a.ptr(1), max * EPOLL_EVENT.SIZE, true);
  const h = k.fds.get(a.i(0));
  if (h < 0) return -EBADF;
  return { h, ev };
}

/**
 * epoll_wait and its forms in a program with threads: a wait that returns at once, and if
 * nothing is ready before `deadline`, a wait for the epoll fd itself to become readable on
 * the thread's own host thread, after which the call is tried again (nonblock.ts).
 */
function epollConcurrent(k: Kernel, t: { h: number; ev: number }, max: number, deadline: number): number {
  deadline = k.sched.retryDeadline(k) ?? deadline;
  const r = sys(HOST.epoll_wait, t.h, t.ev, max, 0);
  if (r !== 0 || nowMs() >= deadline) return r;
  return waitFds(k, [[t.h, POLLIN]], deadline);
}

/** A timeout in milliseconds (negative: none) as a deadline. */
const msDeadline = (ms: number) => (ms < 0 ? Infinity : nowMs() + ms);

/** Implements epoll_wait(2). */
const sysEpollWait: Handler = (k, a) => {
  const t = epollTarget(k, a);
  if (typeof t === 'number') return t;
  if (k.sched.concurrent && a.i(3) !== 0) return epollConcurrent(k, t, a.i(2), msDeadline(a.i(3)));
  return sys(HOST.epoll_wait, t.h, t.ev, a.i(2), a.i(3));
};

/** Implements epoll_pwait(2): the signal mask is checked, not applied. */
const sysEpollPwait: Handler = (k, a) => {
  const t = epollTarget(k, a);
  if (typeof t === 'number') return t;
  const m = checkSigmask(k, a.ptr(4), a.n(5));
  if (m < 0) return m;
  if (k.sched.concurrent && a.i(3) !== 0) return epollConcurrent(k, t, a.i(2), msDeadline(a.i(3)));
  return sys(HOST.epoll_wait, t.h, t.ev, a.i(2), a.i(3));
};

/** Implements epoll_pwait2(2): the timespec timeout is staged; the signal mask is checked, not applied. */
const sysEpollPwait2: Handler = (k, a) => {
  const t = epollTarget(k, a);
  if (typeof t === 'number') return t;
  let ts = 0, ns: bigint | null = null;
  const tsp = a.ptr(3);
  if (tsp !== 0) {
    const r = readTimespec(k, tsp);
    if (typeof r === 'number') return r;
    ns = r;
    ts = stageTimespec(r);
  }
  const m = checkSigmask(k, a.ptr(4), a.n(5));
  if (m < 0) return m;
  if (k.sched.concurrent && ns !== 0n) return epollConcurrent(k, t, a.i(2), ns === null ? Infinity : nowMs() + Number(ns) / 1e6);
  return sys(HOST.epoll_pwait2, t.h, t.ev, a.i(2), ts, 0, SIGSET_SIZE);
};

export const pollHandlers: HandlerTable = {
  poll: sysPoll,
  ppoll: sysPpoll,
  select: sysSelect,
  pselect6: sysPselect6,
  epoll_create: sysEpollCreate,
  epoll_create1: sysEpollCreate1,
  epoll_ctl: sysEpollCtl,
  epoll_wait: sysEpollWait,
  epoll_pwait: sysEpollPwait,
  epoll_pwait2: sysEpollPwait2,
};
