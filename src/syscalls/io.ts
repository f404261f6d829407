/**
 * File-descriptor I/O: read/write and their vector and positioned forms, close, close_range,
 * dup, pipes, lseek, fcntl, terminal ioctls, sendfile, splice, tee, fsync and sync. Every
 * buffer is checked against guest memory (k.mem.host) before the host sees it; every fd
 * goes through the fd table.
 */
import { Handler, HandlerTable, Kernel, Args } from './api';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { sigpipe } from './signal';
import { seekTreeDir } from './fs';
import { bufferIo, vectorIo } from './nonblock';
import { EBADF, EINVAL, ENOTTY, EPERM } from '../linux/errno';

import {
  CLOSE_RANGE_CLOEXEC, CLOSE_RANGE_UNSHARE, EFD_NONBLOCK, EFD_SEMAPHORE, F_ADD_SEALS, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL,
  F_GETLK, F_GETOWN, F_GETPIPE_SZ, F_GET_SEALS, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETFD, F_SETFL, F_SETLK, F_SETLKW,
  F_SETOWN, F_SETPIPE_SZ, FD_CLOEXEC, IOV_MAX, MAX_RW_COUNT as MAX_RW, O_ASYNC, O_CLOEXEC, O_DIRECT, O_NONBLOCK,
} from '../linux/fcntl';
import {
  FIOASYNC, FIOCLEX, FIONBIO, FIONCLEX, FIONREAD, TCGETS, TCSETS, TCSETSF, TCSETSW, TIOCGPGRP, TIOCGSID, TIOCGWINSZ, TIOCSPGRP,
  TIOCSWINSZ,
} from '../linux/ioctl';
import { TFD_CLOEXEC, TFD_NONBLOCK } from '../linux/time';
import { FLOCK, IOVEC, ITIMERSPEC, WINSIZE } from '../linux/structs';
import { mayGrow } from './memfd-budget';

/** fallocate(2)'s mode bit that frees a range. */
const FALLOC_FL_PUNCH_HOLE = 0x02;

/** A reusable host buffer for translated iovec arrays (IOV_MAX entries). */
const iovScratch = Buffer.alloc(IOV_MAX * IOVEC.SIZE);
const iovScratchAddr = addressOf(iovScratch);

/** Host fd for guest fd argument n, or -1. */
export function fdArg(k: Kernel, a: Args, n: number): number {
  return k.fds.get(a.i(n));
}

/**
 * Checks a guest iovec array (struct iovec: base, len) and writes the host equivalent into
 * the scratch buffer. Returns the count, or -errno. `write` = the kernel writes into the buffers.
 */
export function translateIov(k: Kernel, iov: number, cnt: number, write: boolean): number {
  if (cnt < 0 || cnt > IOV_MAX) return -EINVAL;
  if (cnt === 0) return 0;
  const src = k.mem.view(iov, cnt * IOVEC.SIZE, false);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  let total = 0;
  for (let i = 0, e = 0; i < cnt; i++, e += IOVEC.SIZE) {
    const base = dv.getUint32(e + IOVEC.iov_base, true) + dv.getUint32(e + IOVEC.iov_base + 4, true) * 4294967296;
    const lenHi = dv.getUint32(e + IOVEC.iov_len + 4, true);
    let len = dv.getUint32(e + IOVEC.iov_len, true);
    if (lenHi !== 0 || len > 0x7fffffff) return -EINVAL;
    if (total + len > MAX_RW) len = Math.max(0, MAX_RW - total);
    total += len;
    const host = k.mem.host(base, len, write);
    iovScratch.writeUInt32LE(host >>> 0, e + IOVEC.iov_base);
    iovScratch.writeUInt32LE(Math.floor(host / 4294967296), e + IOVEC.iov_base + 4);
    iovScratch.writeUInt32LE(len, e + IOVEC.iov_len);
    iovScratch.writeUInt32LE(0, e + IOVEC.iov_len + 4);
  }
  return cnt;
}

const count = (a: Args, n: number) => { const c = a.n(n); return c < 0 ? -1 : Math.min(c, MAX_RW); };

const sysRead: Handler = (k, a) => {
  const h = fdArg(k, a, 0), c = count(a, 2);
  if (h < 0) return -EBADF;
  if (c < 0) return -EINVAL;
  const sfd = k.fds.signalfds.get(a.i(0));
  if (sfd) return k.sched.signalfdRead(k, sfd, h, a.ptr(1), c);
  const buf = k.mem.host(a.ptr(1), c, true);
  if (k.sched.concurrent) return bufferIo(k, a.i(0), h, true, buf, c);
  return sys(HOST.read, h, buf, c);
};
const sysWrite: Handler = (k, a) => {
  const h = fdArg(k, a, 0), c = count(a, 2);
  if (h < 0) return -EBADF;
  if (c < 0) return -EINVAL;
  const buf = k.mem.host(a.ptr(1), c, false);
  const g = mayGrow(k, a.i(0), h, undefined, c);
  if (g < 0) return g;
  if (k.sched.concurrent) return sigpipe(k, bufferIo(k, a.i(0), h, false, buf, c));
  return sigpipe(k, sys(HOST.write, h, buf, c));
};
const sysPread: Handler = (k, a) => {
  const h = fdArg(k, a, 0), c = count(a, 2);
  if (h < 0) return -EBADF;
  if (c < 0) return -EINVAL;
  return sys(HOST.pread64, h, k.mem.host(a.ptr(1), c, true), c, a.n(3));
};
const sysPwrite: Handler = (k, a) => {
  const h = fdArg(k, a, 0), c = count(a, 2);
  if (h < 0) return -EBADF;
  if (c < 0) return -EINVAL;
  const buf = k.mem.host(a.ptr(1), c, false);
  const g = mayGrow(k, a.i(0), h, Math.max(0, a.n(3)), c);
  if (g < 0) return g;
  return sigpipe(k, sys(HOST.pwrite64, h, buf, c, a.n(3)));
};

/** readv/writev/preadv/pwritev/preadv2/pwritev2 share this: translate the iovecs, call the host. */
function vectored(nr: number, write: boolean, extra: number): Handler {
  return (k, a) => {
    const h = fdArg(k, a, 0);
    if (h < 0) return -EBADF;
    const n = translateIov(k, a.ptr(1), a.i(2), write);
    if (n < 0) return n;
    if (!write) {
      // pwritev2's offset -1 is the file position, as writev's.
      const g = mayGrow(k, a.i(0), h, extra > 0 && a.n(3) >= 0 ? a.n(3) : undefined, iovTotal(n));
      if (g < 0) return g;
    }
    // readv/writev in a program with threads: without blocking the VMM (nonblock.ts).
    if (extra === 0 && k.sched.concurrent) {
      const r = vectorIo(k, a.i(0), h, write, iovScratchAddr, n, iovTotal(n), () => Buffer.from(iovScratch.subarray(0, n * IOVEC.SIZE)));
      return write ? r : sigpipe(k, r);
    }
    const r = sys(nr, h, iovScratchAddr, n, extra > 0 ? a.n(3) : 0, extra > 1 ? a.n(4) : 0, extra > 2 ? a.i(5) : 0);
    return write ? r : sigpipe(k, r);
  };
}

/** The bytes of the first n translated iovecs. */
function iovTotal(n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += Number(iovScratch.readBigUInt64LE(i * IOVEC.SIZE + IOVEC.iov_len));
  return t;
}

const sysClose: Handler = (k, a) => k.fds.close(a.i(0));

/** dup(2): a host dup, so each guest fd owns its host fd. */
const sysDup: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  const n = sys(HOST.fcntl, h, F_DUPFD_CLOEXEC, 3);
  if (n < 0) return n;
  const g = k.fds.add(n);
  if (g < 0) sys(HOST.close, n); else k.fds.duplicated(a.i(0), g);
  return g;
};

function dupTo(k: Kernel, oldfd: number, newfd: number, flags: number): number {
  const h = k.fds.get(oldfd);
  if (h < 0) return -EBADF;
  if (newfd < 0 || newfd >= k.fds.limit) return -EBADF;
  if (oldfd === newfd) return newfd;
  const n = sys(HOST.fcntl, h, F_DUPFD_CLOEXEC, 3);
  if (n < 0) return n;
  k.fds.set(newfd, n, (flags & O_CLOEXEC) !== 0);
  k.fds.duplicated(oldfd, newfd);
  return newfd;
}
const sysDup2: Handler = (k, a) => (a.i(0) === a.i(1) ? (k.fds.get(a.i(0)) < 0 ? -EBADF : a.i(1)) : dupTo(k, a.i(0), a.i(1), 0));
const sysDup3: Handler = (k, a) => {
  if (a.i(0) === a.i(1) || (a.i(2) & ~O_CLOEXEC)) return -EINVAL;
  return dupTo(k, a.i(0), a.i(1), a.i(2));
};

const pipeScratch = Buffer.alloc(8);
const pipeScratchAddr = addressOf(pipeScratch);
/** pipe(2)/pipe2(2): host pipe, two guest fds. */
function pipe(k: Kernel, out: number, flags: number): number {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return -EINVAL;
  k.mem.host(out, 8, true);
  const r = sys(HOST.pipe2, pipeScratchAddr, flags | O_CLOEXEC);
  if (r < 0) return r;
  return installPair(k, pipeScratch.readInt32LE(0), pipeScratch.readInt32LE(4), (flags & O_CLOEXEC) !== 0, out);
}

/**
 * Installs two new host fds (a pipe's or a socketpair's ends) as the lowest free guest fds
 * and writes them to the guest's int[2] at `out` (already checked for writing). On a full
 * table both host fds are closed and the guest gets EMFILE.
 */
export function installPair(k: Kernel, h0: number, h1: number, cloexec: boolean, out: number): number {
  const g0 = k.fds.add(h0, cloexec);
  const g1 = g0 < 0 ? g0 : k.fds.add(h1, cloexec);
  if (g1 < 0) {
    if (g0 >= 0) k.fds.close(g0); else sys(HOST.close, h0);
    sys(HOST.close, h1);
    return g1;
  }
  k.mem.writeU32(out, g0);
  k.mem.writeU32(out + 4, g1);
  return 0;
}

/** Implements lseek(2); a directory of torov's /proc or /sys keeps its own position (fs.ts). */
const sysLseek: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  return (k.fds.synthetic.size !== 0 ? seekTreeDir(k, a.i(0), a.n(1), a.i(2)) : undefined) ?? sys(HOST.lseek, h, a.n(1), a.i(2));
};

/** Implements fcntl(2). fd flags live in the fd table; file flags and locks are the host's. */
const sysFcntl: Handler = (k, a) => {
  const fd = a.i(0), h = k.fds.get(fd), cmd = a.i(1);
  if (h < 0) return -EBADF;
  switch (cmd) {
    case F_DUPFD: case F_DUPFD_CLOEXEC: {
      const min = a.i(2);
      if (min < 0 || min >= k.fds.limit) return -EINVAL;
      const n = sys(HOST.fcntl, h, F_DUPFD_CLOEXEC, 3);
      if (n < 0) return n;
      const g = k.fds.add(n, cmd === F_DUPFD_CLOEXEC, min);
      if (g < 0) sys(HOST.close, n); else k.fds.duplicated(fd, g);
      return g;
    }
    case F_GETFD: return k.fds.getFlags(fd);
    case F_SETFD: k.fds.setFlags(fd, a.i(2) & FD_CLOEXEC); return 0;
    // Signal-driven I/O never reaches the host: the host would send SIGIO (fatal by
    // default) to whatever owner the guest names, host processes included. O_ASYNC and the
    // owner are recorded per fd and read back; no signal is ever sent (none is delivered yet).
    case F_SETOWN: sigio(k, fd).owner = a.i(2); return 0;
    case F_GETOWN: return k.fds.sigio.get(fd)?.owner ?? 0;
    case F_GETFL: {
      const r = sys(HOST.fcntl, h, F_GETFL);
      return r < 0 ? r : r | (k.fds.sigio.get(fd)?.async ? O_ASYNC : 0);
    }
    case F_SETFL: {
      const v = a.i(2);
      sigio(k, fd).async = (v & O_ASYNC) !== 0;
      return sys(HOST.fcntl, h, F_SETFL, v & ~O_ASYNC);
    }
    case F_SETPIPE_SZ: case F_GETPIPE_SZ:
    case F_ADD_SEALS: case F_GET_SEALS:
      return sys(HOST.fcntl, h, cmd, a.n(2));
    case F_GETLK: case F_SETLK: case F_SETLKW: case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
      // A lock lives as long as the host fds that hold it: the table is not kept for a next run.
      if (cmd !== F_GETLK && cmd !== F_OFD_GETLK) k.fds.noteLock();
      // GETLK writes the struct flock back.
      return sys(HOST.fcntl, h, cmd, k.mem.host(a.ptr(2), FLOCK.SIZE, cmd === F_GETLK || cmd === F_OFD_GETLK));
    default:
      return -EINVAL;
  }
};

/** Terminal and fd ioctls torov forwards, with the size of what the argument points to. */
/** sizeof(struct termios) as libc declares it (60; the kernel's is smaller): the range checked for TCGETS and TCSETS*. */
const TERMIOS_SIZE = 60;
const IOCTLS: ReadonlyMap<number, { size: number; write: boolean }> = new Map([
  [TCGETS, { size: TERMIOS_SIZE, write: true }],
  [TCSETS, { size: TERMIOS_SIZE, write: false }],
  [TCSETSW, { size: TERMIOS_SIZE, write: false }],
  [TCSETSF, { size: TERMIOS_SIZE, write: false }],
  [TIOCGWINSZ, { size: WINSIZE.SIZE, write: true }],
  [TIOCSWINSZ, { size: WINSIZE.SIZE, write: false }],
  [FIONREAD, { size: 4, write: true }],    // int
  [FIONBIO, { size: 4, write: false }],    // int
]);
/** The recorded signal-driven I/O state of guest fd `fd` (see FdTable.sigio). */
function sigio(k: Kernel, fd: number): { owner: number; async: boolean } {
  let st = k.fds.sigio.get(fd);
  if (!st) { st = { owner: 0, async: false }; k.fds.sigio.set(fd, st); }
  return st;
}

/** The VMM's own process group and session on the host, read once. */
let hostPgrp = 0, hostSid = 0;
function hostJob(): void {
  if (hostPgrp === 0) { hostPgrp = sys(HOST.getpgid, 0); hostSid = sys(HOST.getsid, 0); }
}
const idScratch = Buffer.alloc(4);
const idScratchAddr = addressOf(idScratch);

/**
 * The terminal's process group and session, as the guest sees them. The first process is
 * its own process group and session leader (getpgrp() and getsid() are its pid), so the
 * VMM's host ids read as the guest's: the session as the caller's session, the foreground
 * group as the guest's foreground group (the first process's group until a shell's
 * TIOCSPGRP names another of its session). A shell that checks `tcgetpgrp(tty) ==
 * getpgrp()` before it reads (job control) sees itself in the foreground exactly when the
 * VMM is. TIOCSPGRP succeeds, recording the group, only when the VMM is in the foreground
 * and the group exists in the caller's session; otherwise EPERM.
 */
function ttyJobIoctl(k: Kernel, h: number, req: number, arg: number): number {
  hostJob();
  // The host call comes first, so that a non-terminal is ENOTTY before the pointer is looked at.
  const r = sys(HOST.ioctl, h, req === TIOCSPGRP ? TIOCGPGRP : req, idScratchAddr);
  if (r < 0) return r;
  const me = k.sched.process(k.pid)!;
  if (req === TIOCSPGRP) {
    const want = k.mem.readI32(arg);
    if (idScratch.readInt32LE(0) !== hostPgrp) return -EPERM;
    for (const p of k.sched.processes()) {
      if (p.alive && p.pgid === want && p.sid === me.sid) { guestForeground = want; return 0; }
    }
    return -EPERM;
  }
  const v = idScratch.readInt32LE(0);
  const mine = req === TIOCGSID ? me.sid : guestForeground || me.sid;
  k.mem.writeU32(arg, v === (req === TIOCGSID ? hostSid : hostPgrp) ? mine : v);
  return r;
}
/** The terminal's foreground process group as the guest set it (TIOCSPGRP); 0: the first process's. */
let guestForeground = 0;

/** Implements ioctl(2) for terminals and fds; anything else is ENOTTY, as for a non-terminal. */
const sysIoctl: Handler = (k, a) => {
  const fd = a.i(0), h = k.fds.get(fd), req = a.u(1);
  if (h < 0) return -EBADF;
  if (req === FIOCLEX) { k.fds.setFlags(fd, FD_CLOEXEC); return 0; }
  if (req === FIONCLEX) { k.fds.setFlags(fd, 0); return 0; }
  if (req === FIOASYNC) {
    sigio(k, fd).async = k.mem.readU32(a.ptr(2)) !== 0;
    return 0;
  }
  if (req === TIOCGPGRP || req === TIOCSPGRP || req === TIOCGSID) return ttyJobIoctl(k, h, req, a.ptr(2));
  const spec = IOCTLS.get(req);
  if (!spec) {
    k.note(`ioctl-${req}`, `ioctl request 0x${req.toString(16)} is not supported: returned ENOTTY`);
    return -ENOTTY;
  }
  return sys(HOST.ioctl, h, req, k.mem.host(a.ptr(2), spec.size, spec.write));
};

/** Implements sendfile(2); the optional offset is read and updated in guest memory. */
const sysSendfile: Handler = (k, a) => {
  const out = fdArg(k, a, 0), inp = fdArg(k, a, 1);
  if (out < 0 || inp < 0) return -EBADF;
  const off = a.ptr(2);
  const c = count(a, 3);
  if (c < 0) return -EINVAL;
  const g = mayGrow(k, a.i(0), out, undefined, c);
  if (g < 0) return g;
  return sigpipe(k, sys(HOST.sendfile, out, inp, off ? k.mem.host(off, 8, true) : 0, c));
};

/** Installs a new host fd in the guest table (cloexec from the guest's flag), closing it on EMFILE. */
function install(k: Kernel, host: number, cloexec: boolean): number {
  if (host < 0) return host;
  const g = k.fds.add(host, cloexec);
  if (g < 0) sys(HOST.close, host);
  return g;
}

/** Implements eventfd2(2) (and eventfd(2) with no flags). */
function eventfd(k: Kernel, initval: number, flags: number): number {
  if (flags & ~(O_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) return -EINVAL;
  return install(k, sys(HOST.eventfd2, initval, flags | O_CLOEXEC), (flags & O_CLOEXEC) !== 0);
}

/** Implements timerfd_create(2). */
const sysTimerfdCreate: Handler = (k, a) => {
  const flags = a.i(1);
  if (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK)) return -EINVAL;
  return install(k, sys(HOST.timerfd_create, a.i(0), flags | O_CLOEXEC), (flags & O_CLOEXEC) !== 0);
};

/** Implements timerfd_settime(2). */
const sysTimerfdSettime: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  return sys(HOST.timerfd_settime, h, a.i(1), k.mem.host(a.ptr(2), ITIMERSPEC.SIZE, false), a.ptr(3) ? k.mem.host(a.ptr(3), ITIMERSPEC.SIZE, true) : 0);
};

const sysTimerfdGettime: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  return h < 0 ? -EBADF : sys(HOST.timerfd_gettime, h, k.mem.host(a.ptr(1), ITIMERSPEC.SIZE, true));
};

/**
 * copy_file_range(2) and splice(2) share one shape: (fd_in, loff_t *off_in, fd_out,
 * loff_t *off_out, len, flags); the optional offsets are read and updated in guest memory.
 */
function fdToFd(nr: number): Handler {
  return (k, a) => {
    const fin = fdArg(k, a, 0), fout = fdArg(k, a, 2);
    if (fin < 0 || fout < 0) return -EBADF;
    const c = count(a, 4);
    if (c < 0) return -EINVAL;
    const offOut = a.ptr(3) ? k.mem.read(a.ptr(3), 8).readBigInt64LE(0) : undefined;
    const g = mayGrow(k, a.i(2), fout, offOut === undefined ? undefined : Math.max(0, Number(offOut)), c);
    if (g < 0) return g;
    return sigpipe(k, sys(nr, fin, a.ptr(1) ? k.mem.host(a.ptr(1), 8, true) : 0, fout,
      a.ptr(3) ? k.mem.host(a.ptr(3), 8, true) : 0, c, a.u(5)));
  };
}

/**
 * Implements close_range(2) on the guest's fd table: closes (or, with CLOSE_RANGE_CLOEXEC,
 * marks close-on-exec) every open guest fd in [first, last]. CLOSE_RANGE_UNSHARE is a
 * no-op: the table is never shared.
 */
const sysCloseRange: Handler = (k, a) => {
  const first = a.u(0), last = a.u(1), flags = a.u(2);
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) || first > last) return -EINVAL;
  for (const fd of k.fds.list()) {
    if (fd < first || fd > last) continue;
    if (flags & CLOSE_RANGE_CLOEXEC) k.fds.setFlags(fd, FD_CLOEXEC);
    else k.fds.close(fd);
  }
  return 0;
};

/** Implements tee(2) (pipe to pipe, no memory involved). */
const sysTee: Handler = (k, a) => {
  const fin = fdArg(k, a, 0), fout = fdArg(k, a, 1);
  if (fin < 0 || fout < 0) return -EBADF;
  const c = count(a, 2);
  if (c < 0) return -EINVAL;
  return sigpipe(k, sys(HOST.tee, fin, fout, c, a.u(3)));
};

const fdOnly = (nr: number): Handler => (k, a) => { const h = fdArg(k, a, 0); return h < 0 ? -EBADF : sys(nr, h); };

export const ioHandlers: HandlerTable = {
  read: sysRead,
  write: sysWrite,
  pread64: sysPread,
  pwrite64: sysPwrite,
  readv: vectored(HOST.readv, true, 0),
  writev: vectored(HOST.writev, false, 0),
  preadv: vectored(HOST.preadv, true, 2),
  pwritev: vectored(HOST.pwritev, false, 2),
  preadv2: vectored(HOST.preadv2, true, 3),
  pwritev2: vectored(HOST.pwritev2, false, 3),
  close: sysClose,
  dup: sysDup,
  dup2: sysDup2,
  dup3: sysDup3,
  pipe: (k, a) => pipe(k, a.ptr(0), 0),
  pipe2: (k, a) => pipe(k, a.ptr(0), a.i(1)),
  lseek: sysLseek,
  fcntl: sysFcntl,
  ioctl: sysIoctl,
  sendfile: sysSendfile,
  copy_file_range: fdToFd(HOST.copy_file_range),
  eventfd: (k, a) => eventfd(k, a.u(0), 0),
  eventfd2: (k, a) => eventfd(k, a.u(0), a.i(1)),
  timerfd_create: sysTimerfdCreate,
  timerfd_settime: sysTimerfdSettime,
  timerfd_gettime: sysTimerfdGettime,
  close_range: sysCloseRange,
  splice: fdToFd(HOST.splice),
  tee: sysTee,
  /** sync(2) flushes every filesystem's dirty data: harmless, and what `sync` expects. Never fails. */
  sync: () => { sys(HOST.sync); return 0; },
  sync_file_range: (k, a) => { const h = fdArg(k, a, 0); return h < 0 ? -EBADF : sys(HOST.sync_file_range, h, a.n(1), a.n(2), a.u(3)); },
  readahead: (k, a) => { const h = fdArg(k, a, 0); return h < 0 ? -EBADF : sys(HOST.readahead, h, a.n(1), a.n(2)); },
  fsync: fdOnly(HOST.fsync),
  fdatasync: fdOnly(HOST.fdatasync),
  syncfs: fdOnly(HOST.syncfs),
  ftruncate: (k, a) => {
    const h = fdArg(k, a, 0);
    if (h < 0) return -EBADF;
    const g = mayGrow(k, a.i(0), h, 0, a.n(1), true);
    return g < 0 ? g : sys(HOST.ftruncate, h, a.n(1));
  },
  fallocate: (k, a) => {
    const h = fdArg(k, a, 0);
    if (h < 0) return -EBADF;
    // Punching a hole frees (FALLOC_FL_PUNCH_HOLE); every other mode may allocate up to offset + len.
    const g = a.i(1) & FALLOC_FL_PUNCH_HOLE ? 0 : mayGrow(k, a.i(0), h, Math.max(0, a.n(2)), a.n(3));
    return g < 0 ? g : sys(HOST.fallocate, h, a.i(1), a.n(2), a.n(3));
  },
  flock: (k, a) => { const h = fdArg(k, a, 0); if (h < 0) return -EBADF; k.fds.noteLock(); return sys(HOST.flock, h, a.i(1)); },
  fadvise64: (k, a) => { const h = fdArg(k, a, 0); return h < 0 ? -EBADF : sys(HOST.fadvise64, h, a.n(1), a.n(2), a.i(3)); },
};
