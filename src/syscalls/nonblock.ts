/**
 * I/O that may block, in a program with several threads. The VMM's main thread serves
 * every thread's syscalls, so it must never sit in a host call that waits for a peer
 * (an empty pipe, a socket with no data, a full buffer): the thread that made the call
 * waits instead, on its own host thread (src/vmm/scheduler.ts). So a call is first tried
 * without blocking:
 *  - reads and writes of pipes, sockets, FIFOs and character devices use preadv2/pwritev2
 *    with RWF_NOWAIT; sockets' send and receive calls add MSG_DONTWAIT;
 *  - when that would block (EAGAIN) on a file the guest has not made non-blocking, the
 *    thread's host thread waits until the file is ready (ppoll) and the call is tried again
 *    from the start, non-blocking again, so nothing the VMM does on the main thread waits;
 *  - a file that cannot tell (EOPNOTSUPP: terminals, some devices) has the whole call made
 *    by the thread's host thread, its buffers kept alive until it ends.
 * Regular files and block devices are read and written here: they do not wait for a peer.
 * A write that would block after part of it went through finishes on the thread's host
 * thread, so a blocking write writes everything, as Linux's does.
 * With one thread none of this happens: the calls block the VMM as before, which has
 * nothing else to do.
 */
import { Kernel } from './api';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { EAGAIN, EOPNOTSUPP } from '../linux/errno';
import { F_GETFL, O_NONBLOCK, RWF_NOWAIT } from '../linux/fcntl';
import { POLLIN, POLLOUT } from '../linux/poll';
import { S_IFREG, S_IFBLK, S_IFDIR } from '../linux/stat';
import { IOVEC, POLLFD, TIMESPEC } from '../linux/structs';
import { SIGSET_SIZE } from '../linux/signal';
import { nowMs } from '../host/clock';

/** One iovec for read(2)/write(2)'s single buffer (used synchronously only). */
const one = Buffer.alloc(IOVEC.SIZE);
const oneAddr = addressOf(one);

/**
 * Waits on the calling thread's own host thread until one of the host fds is ready for
 * its poll events, or `deadline` (nowMs() ms) passes; then the syscall is served
 * again from the start. Returns BLOCKED.
 */
export function waitFds(k: Kernel, fds: ReadonlyArray<readonly [number, number]>, deadline: number): number {
  // struct pollfd[] (fd, events, revents), then a struct timespec for ppoll's timeout.
  const n = fds.length, b = Buffer.alloc(n * POLLFD.SIZE + TIMESPEC.SIZE);
  fds.forEach(([fd, ev], i) => { b.writeInt32LE(fd, i * POLLFD.SIZE + POLLFD.fd); b.writeInt16LE(ev, i * POLLFD.SIZE + POLLFD.events); });
  let ts = 0;
  if (deadline !== Infinity) {
    const ms = Math.max(0, deadline - nowMs()), at = n * POLLFD.SIZE;
    b.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), at + TIMESPEC.tv_sec);
    b.writeBigInt64LE(BigInt(Math.floor((ms % 1000) * 1e6)), at + TIMESPEC.tv_nsec);
    ts = addressOf(b) + at;
  }
  return k.sched.waitReady(k, HOST.ppoll, [addressOf(b), n, ts, 0, SIGSET_SIZE], b, deadline);
}

/** True if the host file is in non-blocking mode (the guest set O_NONBLOCK): EAGAIN is the guest's answer then. */
export function nonBlocking(h: number): boolean {
  const fl = sys(HOST.fcntl, h, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK) !== 0;
}

/** True if a call on guest fd `fd` may wait for a peer (not a regular file, block device or directory). */
export function mayWait(k: Kernel, fd: number): boolean {
  const kind = k.fds.kindOf(fd);
  return kind !== S_IFREG && kind !== S_IFBLK && kind !== S_IFDIR;
}

/**
 * A vectored read (`read`) or write of host fd `h` (guest fd `fd`) with the host iovec
 * array at `iov` (`cnt` entries, `total` bytes), for a program with several threads.
 * `copyIov` returns a copy of the array that stays valid after this returns (the array at
 * `iov` is a shared scratch buffer). Returns the result, -errno, or BLOCKED.
 */
export function vectorIo(k: Kernel, fd: number, h: number, read: boolean, iov: number, cnt: number, total: number, copyIov: () => Buffer): number {
  if (!mayWait(k, fd)) return sys(read ? HOST.readv : HOST.writev, h, iov, cnt);
  const r = sys(read ? HOST.preadv2 : HOST.pwritev2, h, iov, cnt, -1, -1, RWF_NOWAIT);
  if (r === -EAGAIN) {
    if (nonBlocking(h)) return r;
    return waitFds(k, [[h, read ? POLLIN : POLLOUT]], Infinity);
  }
  if (r === -EOPNOTSUPP) {
    const b = copyIov();
    return k.sched.blockingCall(k, read ? HOST.readv : HOST.writev, [h, addressOf(b), cnt], undefined, b);
  }
  if (!read && r > 0 && r < total && !nonBlocking(h)) {
    // A blocking write writes everything: the rest, on the thread's host thread.
    const rest = skip(copyIov(), cnt, r);
    return k.sched.blockingCall(k, HOST.writev, [h, addressOf(rest.b), rest.cnt], (r2) => (r2 > 0 ? r + r2 : r), rest.b);
  }
  return r;
}

/** read(2)/write(2) of one buffer at host address `buf`, as vectorIo. */
export function bufferIo(k: Kernel, fd: number, h: number, read: boolean, buf: number, len: number): number {
  one.writeBigUInt64LE(BigInt(buf), IOVEC.iov_base);
  one.writeBigUInt64LE(BigInt(len), IOVEC.iov_len);
  return vectorIo(k, fd, h, read, oneAddr, 1, len, () => Buffer.from(one));
}

/** The iovec array `b` (`cnt` entries) without its first `n` bytes. */
function skip(b: Buffer, cnt: number, n: number): { b: Buffer; cnt: number } {
  let i = 0;
  for (; i < cnt; i++) {
    const len = Number(b.readBigUInt64LE(i * IOVEC.SIZE + IOVEC.iov_len));
    if (n < len) break;
    n -= len;
  }
  const out = Buffer.from(b.subarray(i * IOVEC.SIZE, cnt * IOVEC.SIZE));
  if (out.length > 0) {
    out.writeBigUInt64LE(out.readBigUInt64LE(IOVEC.iov_base) + BigInt(n), IOVEC.iov_base);
    out.writeBigUInt64LE(out.readBigUInt64LE(IOVEC.iov_len) - BigInt(n), IOVEC.iov_len);
  }
  return { b: out, cnt: cnt - i };
}
