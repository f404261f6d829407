/**
 * process.terminal for torov-oci: a pseudo-terminal whose slave is the container's stdin,
 * stdout, stderr and controlling terminal, and whose master goes to the caller through
 * --console-socket (a Unix socket; the fd travels as SCM_RIGHTS, as runc sends it), so
 * that containerd's shim (`ctr run -t`) copies between its FIFOs and the master.
 * Node has no fd passing and no pty calls: they are raw syscalls and ioctls here.
 */
import * as fs from 'node:fs';
import { OciError } from './config';

const TIOCGPTN = 0x80045430, TIOCSPTLCK = 0x40045431, TIOCSWINSZ = 0x5414;
const AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0o2000000, SOL_SOCKET = 1, SCM_RIGHTS = 1;

/** A new pseudo-terminal: the master and slave fds and the slave's path. */
export interface Pty { master: number; slave: number; path: string }

/** Opens a pseudo-terminal (the size of `size` when given). */
export function openPty(size?: { width: number; height: number }): Pty {
  const { ioctlPtr } = require('../host/libc') as typeof import('../host/libc');
  const master = fs.openSync('/dev/ptmx', fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  try {
    const n = Buffer.alloc(4);
    if (ioctlPtr(master, TIOCSPTLCK, n) < 0) throw new OciError('cannot unlock the pseudo-terminal');
    if (ioctlPtr(master, TIOCGPTN, n) < 0) throw new OciError('cannot name the pseudo-terminal');
    const path = `/dev/pts/${n.readUInt32LE(0)}`;
    const slave = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    if (size) {
      const ws = Buffer.alloc(8);
      ws.writeUInt16LE(Math.min(size.height, 0xffff), 0);
      ws.writeUInt16LE(Math.min(size.width, 0xffff), 2);
      ioctlPtr(slave, TIOCSWINSZ, ws);
    }
    return { master, slave, path };
  } catch (e) {
    fs.closeSync(master);
    throw e instanceof OciError ? e : new OciError(`cannot open a pseudo-terminal: ${(e as Error).message}`);
  }
}

/** Sends `fd` over the Unix socket at `socketPath` with one byte-stream message naming it. */
export function sendFd(socketPath: string, fd: number, name: string): void {
  const { sys, NR, addressOf } = require('../host/libc') as typeof import('../host/libc');
  const pathBytes = Buffer.from(socketPath);
  if (pathBytes.length >= 108) throw new OciError(`--console-socket ${socketPath}: the path is too long for a Unix socket`);
  const s = sys(NR.socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw new OciError(`--console-socket: socket: errno ${-s}`);
  try {
    const addr = Buffer.alloc(110);
    addr.writeUInt16LE(AF_UNIX, 0);
    pathBytes.copy(addr, 2);
    const c = sys(NR.connect, s, addressOf(addr), 2 + pathBytes.length + 1);
    if (c < 0) throw new OciError(`--console-socket ${socketPath}: cannot connect (errno ${-c})`);
    const data = Buffer.from(name);
    const iov = Buffer.alloc(16);
    iov.writeBigUInt64LE(BigInt(addressOf(data)), 0);
    iov.writeBigUInt64LE(BigInt(data.length), 8);
    // struct cmsghdr { size_t len; int level; int type; int fd; } padded to CMSG_SPACE(4) = 24.
    const cmsg = Buffer.alloc(24);
    cmsg.writeBigUInt64LE(20n, 0);
    cmsg.writeInt32LE(SOL_SOCKET, 8);
    cmsg.writeInt32LE(SCM_RIGHTS, 12);
    cmsg.writeInt32LE(fd, 16);
    // struct msghdr: name, namelen, iov, iovlen, control, controllen, flags.
    const msg = Buffer.alloc(56);
    msg.writeBigUInt64LE(BigInt(addressOf(iov)), 16);
    msg.writeBigUInt64LE(1n, 24);
    msg.writeBigUInt64LE(BigInt(addressOf(cmsg)), 32);
    msg.writeBigUInt64LE(24n, 40);
    const r = sys(NR.sendmsg, s, addressOf(msg), 0);
    if (r < 0) throw new OciError(`--console-socket ${socketPath}: cannot send the terminal (errno ${-r})`);
    void data;
  } finally {
    sys(NR.close, s);
  }
}
