/**
 * Sockets: socket, socketpair, bind, listen, accept, connect, the send and receive calls
 * (incl. the msghdr forms and their batched variants), shutdown, socket options and names.
 *
 * Every call is the host's, on host sockets behind the guest's fd table. What never
 * reaches the host as the guest wrote it:
 * - struct msghdr: rebuilt in a VMM buffer from checked fields (name, each iovec, control),
 *   so the host kernel only ever sees host addresses of checked guest ranges;
 * - input addresses (bind, connect, sendto, sendmsg): copied to VMM memory after the check;
 * - value-result lengths (socklen_t *): the host reads and writes a VMM copy, so the range
 *   it writes is the one that was checked, even if the guest changes the length meanwhile;
 * - SCM_RIGHTS control messages: fds are translated guest -> host on send and installed in
 *   the guest's table on receive (the guest never learns a host fd number); so are the
 *   pidfds of SCM_PIDFD messages.
 * Address families are limited to those a program needs (Unix, IPv4, IPv6, netlink route),
 * and the socket options that carry pointers to user memory (BPF filters, TCP zero-copy
 * receive) are refused: the host would follow those pointers in the VMM's address space.
 * So is SO_PEERPIDFD, whose value is a new host fd.
 */
import { sigpipe } from './signal';
import { installPair } from './io';
import { nonBlocking, waitFds } from './nonblock';
import { Handler, HandlerTable, Kernel, Args } from './api';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { EACCES, EAFNOSUPPORT, EAGAIN, EBADF, EINPROGRESS, EINVAL, EMSGSIZE, ENOBUFS, ENOPROTOOPT, EPROTONOSUPPORT } from '../linux/errno';
import { POLLIN, POLLOUT } from '../linux/poll';

import {
  AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, MSG_CMSG_CLOEXEC, MSG_CTRUNC,
  MSG_DONTWAIT, MSG_NOSIGNAL, MSG_OOB, MSG_WAITFORONE, NETLINK_ROUTE, SCM_PIDFD, SCM_RIGHTS, SO_ATTACH_BPF, SO_ATTACH_FILTER, SO_ERROR,
  SO_ATTACH_REUSEPORT_CBPF, SO_ATTACH_REUSEPORT_EBPF, SO_PEERPIDFD, SO_RCVBUF, SO_SNDBUF, SOCK_CLOEXEC, SOCK_RAW, SOCK_TYPE_MASK, SOL_SOCKET,
  TCP_ZEROCOPY_RECEIVE,
} from '../linux/socket';
import { F_GETFL, F_SETFL, IOV_MAX, MAX_RW_COUNT as MAX_RW, O_NONBLOCK } from '../linux/fcntl';
import { CMSGHDR as CMSG, IOVEC, MMSGHDR as MMSG, MSGHDR as MSG, SOCKADDR_STORAGE, TIMESPEC } from '../linux/structs';

/** sizeof(struct sockaddr_storage): the largest address the kernel takes or gives. */
const SOCKADDR_MAX = SOCKADDR_STORAGE.SIZE;
/** Largest control buffer passed on (the host's net.core.optmem_max default). */
const CONTROL_MAX = 131072;
/** Largest socket option value passed on. */
const OPTLEN_MAX = 65536;

/*
 * VMM scratch memory the host reads and writes instead of guest-controlled structures.
 * Handlers run one at a time on the VMM thread, so one set is enough. Offsets in `scratch`:
 */
const S_MSG = 0;          // struct msghdr (56 bytes)
const S_LEN = 64;         // a socklen_t (value-result lengths)
const S_PAIR = 72;        // int[2] (socketpair)
const S_IOV = 128;        // IOV_MAX struct iovec
const S_ADDR = S_IOV + IOV_MAX * IOVEC.SIZE; // an input address (128 bytes)
const scratch = Buffer.alloc(S_ADDR + SOCKADDR_MAX);
const scratchAddr = addressOf(scratch);
const control = Buffer.alloc(CONTROL_MAX);
const controlAddr = addressOf(control);

const u64 = (b: Buffer, off: number) => b.readUInt32LE(off) + b.readUInt32LE(off + 4) * 4294967296;
function putU64(b: Buffer, off: number, v: number): void {
  b.writeUInt32LE(v >>> 0, off);
  b.writeUInt32LE(Math.floor(v / 4294967296) >>> 0, off + 4);
}

/** Host fd for guest fd argument n, or -1. */
const fdArg = (k: Kernel, a: Args, n: number) => k.fds.get(a.i(n));

/** Installs a new host fd (or passes on -errno); on a full table the host fd is closed. */
function install(k: Kernel, h: number, cloexec: boolean): number {
  if (h < 0) return h;
  const g = k.fds.add(h, cloexec);
  if (g < 0) sys(HOST.close, h);
  return g;
}

/** A byte count argument, clamped like the kernel does (MAX_RW_COUNT; size_t, so "negative" is huge). */
function countArg(a: Args, n: number): number {
  const c = a.n(n);
  return c < 0 || c > MAX_RW ? MAX_RW : c;
}

/**
 * An input address (bind, connect, sendto, sendmsg): checks [addr, addr+len) for reading,
 * with 0 <= len <= 128 (EINVAL otherwise, as move_addr_to_kernel), and copies it to VMM
 * memory, as the kernel does, so the host reads the bytes that were there at the check
 * (Unix socket paths included). Returns the host address of the copy, 0 for a NULL
 * address when `nullable`, or -errno.
 */
function sockaddrIn(k: Kernel, addr: number, len: number, nullable: boolean): number {
  if (nullable && addr === 0) return 0;
  if (len < 0 || len > SOCKADDR_MAX) return -EINVAL;
  const pin = PINNED_ADDR.pin;
  if (pin !== undefined) {
    // The policy's address rules checked this call's address: the host gets that copy. A
    // different address (a msghdr changed since the check) is refused, never read again.
    if (pin.ptr !== addr || pin.bytes.length !== len) return -EACCES;
    scratch.set(pin.bytes, S_ADDR);
    return scratchAddr + S_ADDR;
  }
  scratch.set(k.mem.view(addr, len, false), S_ADDR);
  return scratchAddr + S_ADDR;
}

/**
 * The socket address the policy's argument rules checked for the current call
 * (src/syscalls/argcheck.ts): its guest pointer and the checked copy. Cleared after the call.
 */
export const PINNED_ADDR: { pin: { readonly ptr: number; readonly bytes: Uint8Array } | undefined } = { pin: undefined };

/**
 * An output address with a value-result length (accept, recvfrom, getsockname,
 * getpeername). Checks the socklen_t at `lenp` (read and write) and the buffer for its
 * current value bounded to 128 bytes, and stages that value at S_LEN, where the host
 * reads and updates it (writeLen copies it back). Returns the host address of the buffer,
 * 0 when `nullable` and addr is NULL (no address wanted: the length is not used), or -errno.
 */
function sockaddrOut(k: Kernel, addr: number, lenp: number, nullable: boolean): number {
  if (nullable && addr === 0) return 0;
  k.mem.host(lenp, 4, true);
  const len = k.mem.readI32(lenp);
  if (len < 0) return -EINVAL;
  const n = Math.min(len, SOCKADDR_MAX);
  const host = k.mem.host(addr, n, true);
  scratch.writeUInt32LE(n, S_LEN);
  return host;
}
/** Copies the staged length back to the guest's socklen_t. */
const writeLen = (k: Kernel, lenp: number) => k.mem.writeU32(lenp, scratch.readUInt32LE(S_LEN));

/** The address families and protocols a guest may open; anything else never reaches the host. */
function checkFamily(k: Kernel, domain: number, type: number, protocol: number): number {
  switch (domain) {
    case AF_UNIX:
      return 0;
    case AF_INET: case AF_INET6:
      // Raw sockets need CAP_NET_RAW on the host, which decides.
      if ((type & SOCK_TYPE_MASK) === SOCK_RAW) return 0;
      if (protocol === 0 || protocol === IPPROTO_TCP || protocol === IPPROTO_UDP || protocol === IPPROTO_ICMP || protocol === IPPROTO_ICMPV6) return 0;
      k.note(`socket-proto-${protocol}`, `socket protocol ${protocol} is not supported: returned EPROTONOSUPPORT`);
      return -EPROTONOSUPPORT;
    case AF_NETLINK:
      if (protocol === NETLINK_ROUTE) return 0;
      k.note(`socket-netlink-${protocol}`, `netlink protocol ${protocol} is not supported: returned EPROTONOSUPPORT`);
      return -EPROTONOSUPPORT;
    default:
      k.note(`socket-af-${domain}`, `address family ${domain} is not supported: returned EAFNOSUPPORT`);
      return -EAFNOSUPPORT;
  }
}

/** Implements socket(2): a host socket (always close-on-exec on the host), installed in the fd table. */
const sysSocket: Handler = (k, a) => {
  const domain = a.i(0), type = a.i(1), protocol = a.i(2);
  const ok = checkFamily(k, domain, type, protocol);
  if (ok < 0) return ok;
  return install(k, sys(HOST.socket, domain, type | SOCK_CLOEXEC, protocol), (type & SOCK_CLOEXEC) !== 0);
};

/** Implements socketpair(2): two connected host sockets, two guest fds written to sv[2]. */
const sysSocketpair: Handler = (k, a) => {
  const domain = a.i(0), type = a.i(1), protocol = a.i(2), out = a.ptr(3);
  const ok = checkFamily(k, domain, type, protocol);
  if (ok < 0) return ok;
  k.mem.host(out, 8, true);
  const r = sys(HOST.socketpair, domain, type | SOCK_CLOEXEC, protocol, scratchAddr + S_PAIR);
  if (r < 0) return r;
  return installPair(k, scratch.readInt32LE(S_PAIR), scratch.readInt32LE(S_PAIR + 4), (type & SOCK_CLOEXEC) !== 0, out);
};

/** bind(2) and connect(2): fd, address, length. */
function addrCall(nr: number): Handler {
  return (k, a) => {
    const h = fdArg(k, a, 0);
    if (h < 0) return -EBADF;
    const len = a.i(2);
    const addr = sockaddrIn(k, a.ptr(1), len, false);
    if (addr < 0) return addr;
    return sys(nr, h, addr, len);
  };
}
/** Implements bind(2). */
const sysBind: Handler = addrCall(HOST.bind);
/**
 * Implements connect(2). In a program with threads, a blocking connect that cannot finish
 * at once waits on the thread's own host thread (nonblock.ts): it is started non-blocking,
 * the thread waits for the socket to become writable, and the second try reports the
 * outcome (SO_ERROR), as a blocking connect would.
 */
const sysConnect: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  if (k.sched.concurrent && k.sched.retryDeadline(k) !== undefined) return socketError(h);
  const len = a.i(2);
  const addr = sockaddrIn(k, a.ptr(1), len, false);
  if (addr < 0) return addr;
  if (!k.sched.concurrent || nonBlocking(h)) return sys(HOST.connect, h, addr, len);
  const r = withNonblock(h, () => sys(HOST.connect, h, addr, len));
  if (r !== -EINPROGRESS) return r;
  return waitFds(k, [[h, POLLOUT]], Infinity);
};

/** The pending error of a socket (SO_ERROR) as a result: 0 or -errno. */
function socketError(h: number): number {
  scratch.writeInt32LE(4, S_LEN);
  const r = sys(HOST.getsockopt, h, SOL_SOCKET, SO_ERROR, scratchAddr, scratchAddr + S_LEN);
  if (r < 0) return r;
  const e = scratch.readInt32LE(0);
  return e === 0 ? 0 : -e;
}

/**
 * Runs `f` with host fd `h` in non-blocking mode, then puts its mode back: the call cannot
 * block the VMM. Used for calls with no per-call non-blocking flag (accept, connect) on
 * sockets, which are the guest's own (no other process shares their open file).
 */
function withNonblock(h: number, f: () => number): number {
  const fl = sys(HOST.fcntl, h, F_GETFL);
  if (fl < 0) return fl;
  if (fl & O_NONBLOCK) return f();
  sys(HOST.fcntl, h, F_SETFL, fl | O_NONBLOCK);
  try { return f(); } finally { sys(HOST.fcntl, h, F_SETFL, fl); }
}

/** Implements listen(2). */
const sysListen: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  return h < 0 ? -EBADF : sys(HOST.listen, h, a.i(1));
};

/** accept and accept4: the new host socket is close-on-exec on the host; the guest's flag goes to the table. */
function accept(k: Kernel, a: Args, flags: number): number {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  const addrp = a.ptr(1), lenp = a.ptr(2);
  const addr = sockaddrOut(k, addrp, lenp, true);
  if (addr < 0) return addr;
  const call = () => sys(HOST.accept4, h, addr, addr ? scratchAddr + S_LEN : 0, flags | SOCK_CLOEXEC);
  // With threads, accept must not block the VMM: non-blocking, and a wait on the thread's own host thread.
  const r = k.sched.concurrent ? withNonblock(h, call) : call();
  if (r === -EAGAIN && k.sched.concurrent && !nonBlocking(h)) return waitFds(k, [[h, POLLIN]], Infinity);
  if (r < 0) return r;
  if (addr) writeLen(k, lenp);
  return install(k, r, (flags & SOCK_CLOEXEC) !== 0);
}
/** Implements accept(2). */
const sysAccept: Handler = (k, a) => accept(k, a, 0);
/** Implements accept4(2). */
const sysAccept4: Handler = (k, a) => accept(k, a, a.i(3));

/** getsockname(2)/getpeername(2): the address buffer is not optional (NULL with a non-zero length is EFAULT). */
function nameCall(nr: number): Handler {
  return (k, a) => {
    const h = fdArg(k, a, 0);
    if (h < 0) return -EBADF;
    const addr = sockaddrOut(k, a.ptr(1), a.ptr(2), false);
    if (addr < 0) return addr;
    const r = sys(nr, h, addr, scratchAddr + S_LEN);
    if (r >= 0) writeLen(k, a.ptr(2));
    return r;
  };
}
/** Implements getsockname(2). */
const sysGetsockname: Handler = nameCall(HOST.getsockname);
/** Implements getpeername(2). */
const sysGetpeername: Handler = nameCall(HOST.getpeername);

/** Implements sendto(2) (and send(2), which is sendto with no address). */
const sysSendto: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  const len = countArg(a, 2);
  const buf = k.mem.host(a.ptr(1), len, false);
  const addrLen = a.i(5);
  const addr = sockaddrIn(k, a.ptr(4), addrLen, true);
  if (addr < 0) return addr;
  const r = sys(HOST.sendto, h, buf, len, a.i(3) | dontWait(k), addr, addr ? addrLen : 0);
  if (r === -EAGAIN && mustWait(k, h, a.i(3))) return waitFds(k, [[h, POLLOUT]], Infinity);
  return a.i(3) & MSG_NOSIGNAL ? r : sigpipe(k, r);
};

/** Implements recvfrom(2) (and recv(2)). */
const sysRecvfrom: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  const len = countArg(a, 2);
  const buf = k.mem.host(a.ptr(1), len, true);
  const lenp = a.ptr(5);
  const addr = sockaddrOut(k, a.ptr(4), lenp, true);
  if (addr < 0) return addr;
  const r = sys(HOST.recvfrom, h, buf, len, a.i(3) | dontWait(k), addr, addr ? scratchAddr + S_LEN : 0);
  if (r === -EAGAIN && mustWait(k, h, a.i(3))) return waitFds(k, [[h, POLLIN]], Infinity);
  if (r >= 0 && addr) writeLen(k, lenp);
  return r;
};

/** Implements shutdown(2). */
const sysShutdown: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  return h < 0 ? -EBADF : sys(HOST.shutdown, h, a.i(1));
};

/**
 * Socket options whose value holds pointers into user memory (BPF programs, zero-copy
 * receive), a BPF fd, or a new host fd (SO_PEERPIDFD): never forwarded.
 */
function refusedOption(k: Kernel, level: number, name: number): boolean {
  const bad = (level === SOL_SOCKET && (name === SO_ATTACH_FILTER || name === SO_ATTACH_BPF
    || name === SO_ATTACH_REUSEPORT_CBPF || name === SO_ATTACH_REUSEPORT_EBPF || name === SO_PEERPIDFD))
    || (level === IPPROTO_TCP && name === TCP_ZEROCOPY_RECEIVE);
  if (bad) k.note(`sockopt-${level}-${name}`, `socket option ${level}/${name} is not supported: returned ENOPROTOOPT`);
  return bad;
}

/**
 * The largest socket buffer a guest may ask for (SO_SNDBUF, SO_RCVBUF): Linux's own default
 * ceiling (net.core.wmem_max and rmem_max). Socket buffers are host kernel memory the guest's
 * --memory does not count; a host tuned for more (several MiB per socket) would let a guest
 * with a thousand sockets hold gigabytes. Within this, they fit the run's cgroup allowance
 * for kernel buffers (src/sandbox/cgroup.ts).
 */
export const SOCKET_BUFFER_MAX = 212992;

/** Implements setsockopt(2): optval is checked for optlen bytes (0 <= optlen <= 64 KiB). */
const sysSetsockopt: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  const level = a.i(1), name = a.i(2), optlen = a.i(4);
  if (refusedOption(k, level, name)) return -ENOPROTOOPT;
  if (optlen < 0 || optlen > OPTLEN_MAX) return -EINVAL;
  const optval = a.ptr(3);
  const host = optval || optlen ? k.mem.host(optval, optlen, false) : 0;
  if (level === SOL_SOCKET && (name === SO_SNDBUF || name === SO_RCVBUF) && optlen >= 4) {
    // The value capped (SOCKET_BUFFER_MAX), as the kernel caps it at its wmem_max/rmem_max.
    const v = k.mem.readI32(optval);
    scratch.writeInt32LE(v > SOCKET_BUFFER_MAX ? SOCKET_BUFFER_MAX : v, S_LEN);
    return sys(HOST.setsockopt, h, level, name, scratchAddr + S_LEN, 4);
  }
  return sys(HOST.setsockopt, h, level, name, host, optlen);
};

/**
 * Implements getsockopt(2): *optlen is staged in VMM memory (bounded to 64 KiB), optval is
 * checked for that many bytes, and the length the host returns is copied back.
 */
const sysGetsockopt: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  const level = a.i(1), name = a.i(2), optval = a.ptr(3), lenp = a.ptr(4);
  if (refusedOption(k, level, name)) return -ENOPROTOOPT;
  k.mem.host(lenp, 4, true);
  const len = k.mem.readI32(lenp);
  if (len < 0) return -EINVAL;
  const n = Math.min(len, OPTLEN_MAX);
  const host = optval || n ? k.mem.host(optval, n, true) : 0;
  scratch.writeUInt32LE(n, S_LEN);
  const r = sys(HOST.getsockopt, h, level, name, host, scratchAddr + S_LEN);
  if (r >= 0) writeLen(k, lenp);
  return r;
};

/**
 * Checks a guest iovec array and writes the host equivalent at S_IOV (like readv's, with
 * the kernel's rules: a length with the sign bit set is EINVAL, the total is capped at
 * MAX_RW_COUNT). `write` = the kernel writes into the buffers. Returns 0 or -errno.
 */
function translateIovec(k: Kernel, iov: number, cnt: number, write: boolean): number {
  if (cnt === 0) return 0;
  const src = k.mem.read(iov, cnt * IOVEC.SIZE);
  let total = 0;
  for (let i = 0, e = 0; i < cnt; i++, e += IOVEC.SIZE) {
    const base = u64(src, e + IOVEC.iov_base);
    if (src.readUInt32LE(e + IOVEC.iov_len + 4) !== 0 || src.readUInt32LE(e + IOVEC.iov_len) > 0x7fffffff) return -EINVAL;
    let len = src.readUInt32LE(e + IOVEC.iov_len);
    if (total + len > MAX_RW) len = MAX_RW - total;
    total += len;
    putU64(scratch, S_IOV + e + IOVEC.iov_base, k.mem.host(base, len, write));
    putU64(scratch, S_IOV + e + IOVEC.iov_len, len);
  }
  return 0;
}

/** A guest msghdr as read, with the guest pointers the results go back to. */
interface Msg { name: number; control: number; controlLen: number }

/**
 * Reads the guest msghdr at `msgp` and builds the host one at S_MSG: the name and every
 * iovec checked (for writing when receiving), control data staged in `control` (for
 * sendmsg, with SCM_RIGHTS fds translated to host fds). Returns the guest pointers, or -errno.
 */
function buildMsg(k: Kernel, msgp: number, recv: boolean): Msg | number {
  if (recv) k.mem.host(msgp, MSG.SIZE, true);
  const m = k.mem.read(msgp, MSG.SIZE);
  const name = u64(m, MSG.msg_name), iov = u64(m, MSG.msg_iov), iovlen = u64(m, MSG.msg_iovlen);
  const ctl = u64(m, MSG.msg_control), ctlLen = u64(m, MSG.msg_controllen);
  let namelen = name === 0 ? 0 : m.readInt32LE(MSG.msg_namelen);
  if (namelen < 0) return -EINVAL;
  if (namelen > SOCKADDR_MAX) namelen = SOCKADDR_MAX;
  if (iovlen > IOV_MAX) return -EMSGSIZE;
  // Receiving, the host writes at most namelen bytes into the checked name; sending, it
  // reads a copy.
  const hostName = name === 0 ? 0 : recv ? k.mem.host(name, namelen, true) : sockaddrIn(k, name, namelen, false);
  const r = translateIovec(k, iov, iovlen, recv);
  if (r < 0) return r;
  let hostCtl = 0, hostCtlLen = 0;
  if (recv) {
    // No control buffer: the host gets none either, and reports MSG_CTRUNC if it had some.
    if (ctl !== 0) {
      hostCtlLen = Math.min(ctlLen, CONTROL_MAX);
      k.mem.host(ctl, hostCtlLen, true);
      hostCtl = controlAddr;
    }
  } else if (ctlLen > 0) {
    if (ctlLen > CONTROL_MAX) return -ENOBUFS;
    control.set(k.mem.view(ctl, ctlLen, false));
    const t = sendRights(k, ctlLen);
    if (t < 0) return t;
    hostCtl = controlAddr;
    hostCtlLen = ctlLen;
  }
  putU64(scratch, S_MSG + MSG.msg_name, hostName);
  scratch.writeUInt32LE(namelen, S_MSG + MSG.msg_namelen);
  scratch.writeUInt32LE(0, S_MSG + MSG.msg_namelen + 4);
  putU64(scratch, S_MSG + MSG.msg_iov, iovlen === 0 ? 0 : scratchAddr + S_IOV);
  putU64(scratch, S_MSG + MSG.msg_iovlen, iovlen);
  putU64(scratch, S_MSG + MSG.msg_control, hostCtl);
  putU64(scratch, S_MSG + MSG.msg_controllen, hostCtlLen);
  scratch.writeInt32LE(recv ? 0 : m.readInt32LE(MSG.msg_flags), S_MSG + MSG.msg_flags);
  scratch.writeUInt32LE(0, S_MSG + MSG.msg_flags + 4);
  return { name, control: ctl, controlLen: hostCtlLen };
}

const cmsgAlign = (n: number) => (n + 7) & ~7;

/**
 * Walks the staged control data of a sendmsg (len bytes) and replaces the guest fds of
 * every SCM_RIGHTS message with host fds. A malformed header is EINVAL (as __scm_send),
 * a guest fd not in the table EBADF. Other messages pass through as they are.
 */
function sendRights(k: Kernel, len: number): number {
  for (let off = 0; off + CMSG.SIZE <= len;) {
    const clen = u64(control, off + CMSG.cmsg_len);
    if (clen < CMSG.SIZE || clen > len - off) return -EINVAL;
    if (control.readInt32LE(off + CMSG.cmsg_level) === SOL_SOCKET && control.readInt32LE(off + CMSG.cmsg_type) === SCM_RIGHTS) {
      for (let p = off + CMSG.SIZE; p + 4 <= off + clen; p += 4) {
        const h = k.fds.get(control.readInt32LE(p));
        if (h < 0) return -EBADF;
        control.writeInt32LE(h, p);
      }
    }
    off += cmsgAlign(clen);
  }
  return 0;
}

/**
 * After a recvmsg: installs every host fd received in SCM_RIGHTS (and SCM_PIDFD) messages
 * (len bytes of staged control data) in the guest's table and rewrites the messages with
 * guest fds.
 * Fds that do not fit in the table are closed, their message shortened (or removed) and
 * MSG_CTRUNC set, as Linux does. Returns the new length and whether something was cut.
 */
function receiveRights(k: Kernel, len: number, cloexec: boolean): { len: number; cut: boolean } {
  let cut = false;
  for (let off = 0; off + CMSG.SIZE <= len;) {
    const clen = u64(control, off + CMSG.cmsg_len);
    if (clen < CMSG.SIZE || clen > len - off) break;
    const type = control.readInt32LE(off + CMSG.cmsg_type);
    if (control.readInt32LE(off + CMSG.cmsg_level) !== SOL_SOCKET || (type !== SCM_RIGHTS && type !== SCM_PIDFD)) {
      off += cmsgAlign(clen);
      continue;
    }
    const n = Math.floor((clen - CMSG.SIZE) / 4);
    let installed = 0;
    for (let i = 0; i < n; i++) {
      const p = off + CMSG.SIZE + i * 4;
      const h = control.readInt32LE(p);
      const g = installed === i ? k.fds.add(h, cloexec) : -1;
      if (g < 0) { sys(HOST.close, h); continue; }
      control.writeInt32LE(g, p);
      installed++;
    }
    if (installed === n) { off += cmsgAlign(clen); continue; }
    // Shorten this message to the fds installed and close the gap.
    cut = true;
    const newLen = CMSG.SIZE + installed * 4;
    const keep = installed > 0 ? cmsgAlign(newLen) : 0;
    if (installed > 0) putU64(control, off + CMSG.cmsg_len, newLen);
    const next = Math.min(len, off + cmsgAlign(clen));
    control.copyWithin(off + keep, next, len);
    len -= next - (off + keep);
    off += keep;
  }
  return { len, cut };
}

/** MSG_DONTWAIT in a program with threads: socket calls are tried without blocking first (nonblock.ts). */
const dontWait = (k: Kernel) => (k.sched.concurrent ? MSG_DONTWAIT : 0);
/** True if a socket call that would block must wait (threads, and neither the call nor the socket is non-blocking). */
const mustWait = (k: Kernel, h: number, flags: number) => k.sched.concurrent && !(flags & MSG_DONTWAIT) && !nonBlocking(h);

/** sendmsg on host fd h with the guest msghdr at msgp. */
function doSendmsg(k: Kernel, h: number, msgp: number, flags: number): number {
  const m = buildMsg(k, msgp, false);
  if (typeof m === 'number') return m;
  const r = sys(HOST.sendmsg, h, scratchAddr + S_MSG, flags | dontWait(k));
  if (r === -EAGAIN && mustWait(k, h, flags)) return waitFds(k, [[h, POLLOUT]], Infinity);
  return flags & MSG_NOSIGNAL ? r : sigpipe(k, r);
}

/** recvmsg on host fd h with the guest msghdr at msgp; writes back namelen, controllen and flags. */
function doRecvmsg(k: Kernel, h: number, msgp: number, flags: number): number {
  const m = buildMsg(k, msgp, true);
  if (typeof m === 'number') return m;
  const r = sys(HOST.recvmsg, h, scratchAddr + S_MSG, flags | MSG_CMSG_CLOEXEC | dontWait(k));
  if (r === -EAGAIN && mustWait(k, h, flags)) return waitFds(k, [[h, POLLIN]], Infinity);
  if (r < 0) return r;
  let msgFlags = scratch.readInt32LE(S_MSG + MSG.msg_flags);
  let ctlLen = 0;
  if (m.control !== 0) {
    const got = receiveRights(k, Math.min(u64(scratch, S_MSG + MSG.msg_controllen), m.controlLen), (flags & MSG_CMSG_CLOEXEC) !== 0);
    if (got.cut) msgFlags |= MSG_CTRUNC;
    ctlLen = got.len;
    k.mem.write(m.control, control.subarray(0, ctlLen));
  }
  if (m.name !== 0) k.mem.writeU32(msgp + MSG.msg_namelen, scratch.readUInt32LE(S_MSG + MSG.msg_namelen));
  k.mem.writeU64(msgp + MSG.msg_controllen, ctlLen);
  k.mem.writeU32(msgp + MSG.msg_flags, msgFlags);
  return r;
}

/** Implements sendmsg(2). */
const sysSendmsg: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  return h < 0 ? -EBADF : doSendmsg(k, h, a.ptr(1), a.i(2));
};

/** Implements recvmsg(2). */
const sysRecvmsg: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  return h < 0 ? -EBADF : doRecvmsg(k, h, a.ptr(1), a.i(2));
};

/**
 * Implements sendmmsg(2) as a loop of sendmsg: stops at the first error, which is returned
 * only if nothing was sent; msg_len of each message sent is written back.
 */
const sysSendmmsg: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  const vec = a.ptr(1), vlen = Math.min(a.u(2), IOV_MAX), flags = a.i(3);
  let i = 0;
  for (; i < vlen; i++) {
    const p = vec + i * MMSG.SIZE;
    k.mem.host(p + MMSG.msg_len, 4, true);
    const r = doSendmsg(k, h, p + MMSG.msg_hdr, flags);
    if (r < 0) { if (i === 0) return r; break; }
    k.mem.writeU32(p + MMSG.msg_len, r);
  }
  return i;
};

/**
 * Implements recvmmsg(2) as a loop of recvmsg, with Linux's rules: MSG_WAITFORONE makes
 * every receive after the first non-blocking; the timeout is checked after each message
 * (it does not bound the wait for one) and the time left is written back.
 */
const sysRecvmmsg: Handler = (k, a) => {
  const h = fdArg(k, a, 0);
  if (h < 0) return -EBADF;
  const vec = a.ptr(1), vlen = Math.min(a.u(2), IOV_MAX), tsp = a.ptr(4);
  let flags = a.i(3) & ~MSG_WAITFORONE;
  let deadline = 0n;
  if (tsp !== 0) {
    const sec = k.mem.readI64(tsp + TIMESPEC.tv_sec), nsec = k.mem.readI64(tsp + TIMESPEC.tv_nsec);
    if (sec < 0 || nsec < 0 || nsec >= 1e9) return -EINVAL;
    deadline = process.hrtime.bigint() + BigInt(sec) * 1000000000n + BigInt(nsec);
  }
  let got = 0;
  while (got < vlen) {
    const p = vec + got * MMSG.SIZE;
    k.mem.host(p + MMSG.msg_len, 4, true);
    const r = doRecvmsg(k, h, p + MMSG.msg_hdr, flags);
    if (r < 0) { if (got === 0) return r; break; }
    k.mem.writeU32(p + MMSG.msg_len, r);
    got++;
    if (a.i(3) & MSG_WAITFORONE) flags |= MSG_DONTWAIT;
    if (tsp !== 0 && process.hrtime.bigint() >= deadline) break;
    if (k.mem.readI32(p + MMSG.msg_hdr + MSG.msg_flags) & MSG_OOB) break;
  }
  if (tsp !== 0) {
    let left = deadline - process.hrtime.bigint();
    if (left < 0n) left = 0n;
    k.mem.writeU64(tsp + TIMESPEC.tv_sec, Number(left / 1000000000n));
    k.mem.writeU64(tsp + TIMESPEC.tv_nsec, Number(left % 1000000000n));
  }
  return got;
};

export const netHandlers: HandlerTable = {
  socket: sysSocket,
  socketpair: sysSocketpair,
  bind: sysBind,
  listen: sysListen,
  accept: sysAccept,
  accept4: sysAccept4,
  connect: sysConnect,
  sendto: sysSendto,
  recvfrom: sysRecvfrom,
  sendmsg: sysSendmsg,
  recvmsg: sysRecvmsg,
  sendmmsg: sysSendmmsg,
  recvmmsg: sysRecvmmsg,
  shutdown: sysShutdown,
  setsockopt: sysSetsockopt,
  getsockopt: sysGetsockopt,
  getsockname: sysGetsockname,
  getpeername: sysGetpeername,
};
