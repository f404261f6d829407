/**
 * The gdb stub's TCP socket, with blocking host calls through sys(): the vCPU's run loop
 * is synchronous on Node's main thread, and while the guest is stopped for gdb the stub
 * simply waits for the next packet. Node's net module cannot be used there (its events
 * need the event loop, which the run loop holds).
 */
import { sys, addressOf } from '../host/libc';
import { endRunOnHostSignal } from '../vmm/host-signals';

const SYS_socket = 41, SYS_accept4 = 288, SYS_sendto = 44, SYS_recvfrom = 45, SYS_bind = 49,
  SYS_listen = 50, SYS_getsockname = 51, SYS_setsockopt = 54, SYS_close = 3;
const AF_INET = 2, AF_INET6 = 10, SOCK_STREAM = 1, SOCK_CLOEXEC = 0o2000000, SOL_SOCKET = 1, SO_REUSEADDR = 2,
  IPPROTO_TCP = 6, TCP_NODELAY = 1, MSG_NOSIGNAL = 0x4000, EINTR = 4;

/** Where the stub listens. */
export interface ListenAddress { host: string; port: number; family: 4 | 6 }

/**
 * Parses `--gdb` values: `PORT`, `:PORT`, `HOST:PORT` or `[IPV6]:PORT`. HOST is an IPv4
 * address, `localhost`, or an IPv6 address in brackets; without one the stub listens on
 * loopback only. Throws Error with a one-line message.
 */
export function parseListenAddress(spec: string): ListenAddress {
  let host = '127.0.0.1', portText = spec, family: 4 | 6 = 4;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(spec);
  if (v6) { host = v6[1]!; portText = v6[2]!; family = 6; }
  else if (spec.includes(':')) {
    const i = spec.lastIndexOf(':');
    host = spec.slice(0, i) || '127.0.0.1';
    portText = spec.slice(i + 1);
    if (host === 'localhost') host = '127.0.0.1';
    if (parseIpv4(host) === undefined) throw new Error(`${JSON.stringify(spec)}: the host must be an IPv4 address, localhost or [IPv6]`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new Error(`${JSON.stringify(spec)}: expected [HOST:]PORT with a port from 0 to 65535`);
  if (family === 6 && parseIpv6(host) === undefined) throw new Error(`${JSON.stringify(spec)}: bad IPv6 address`);
  return { host, port: Number(portText), family };
}

function parseIpv4(s: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? b : undefined;
}

function parseIpv6(s: string): Buffer | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (h: string) => (h === '' ? [] : h.split(':'));
  const head = words(halves[0]!), tail = halves.length === 2 ? words(halves[1]!) : [];
  const all = [...head, ...(halves.length === 2 ? Array(8 - head.length - tail.length).fill('0') : []), ...tail];
  if (all.length !== 8 || !all.every((w) => /^[0-9a-fA-F]{1,4}$/.test(w))) return undefined;
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(parseInt(w, 16), i * 2));
  return b;
}

/** `host:port` as gdb's `target remote` takes it. */
export function formatAddress(a: ListenAddress): string {
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function sockaddr(a: ListenAddress): Buffer {
  if (a.family === 6) {
    const b = Buffer.alloc(28);
    b.writeUInt16LE(AF_INET6, 0);
    b.writeUInt16BE(a.port, 2);
    parseIpv6(a.host)!.copy(b, 8);
    return b;
  }
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(a.port, 2);
  b.set(parseIpv4(a.host)!, 4);
  return b;
}

function setInt(fd: number, level: number, opt: number, v: number): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  sys(SYS_setsockopt, fd, level, opt, addressOf(b), 4);
}

/** The address a socket is bound to. */
function boundAddress(fd: number): ListenAddress {
  const got = Buffer.alloc(28), len = Buffer.alloc(4);
  len.writeUInt32LE(28, 0);
  sys(SYS_getsockname, fd, addressOf(got), addressOf(len));
  const port = got.readUInt16BE(2);
  if (got.readUInt16LE(0) === AF_INET6) {
    const words: string[] = [];
    for (let i = 0; i < 8; i++) words.push(got.readUInt16BE(8 + 2 * i).toString(16));
    return { host: words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::'), port, family: 6 };
  }
  return { host: [...got.subarray(4, 8)].join('.'), port, family: 4 };
}

/** A listening socket. Throws Error (EADDRINUSE and the like) with a one-line message. */
export class Listener {
  readonly fd: number;
  /** The address really bound (port 0 picks a free port). */
  readonly address: ListenAddress;

  /** A listening socket inherited from a parent process (its address read back with getsockname). */
  static adopt(fd: number): Listener {
    return new Listener(undefined, fd);
  }

  constructor(a: ListenAddress | undefined, inherited?: number) {
    if (a === undefined) {
      this.fd = inherited!;
      this.address = boundAddress(inherited!);
      return;
    }
    const fd = sys(SYS_socket, a.family === 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`cannot create a socket (errno ${-fd})`);
    setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    // Set here, before any sandbox filter: accepted sockets inherit it (no setsockopt later).
    setInt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    const sa = sockaddr(a);
    let r = sys(SYS_bind, fd, addressOf(sa), sa.length);
    if (r === 0) r = sys(SYS_listen, fd, 1);
    if (r < 0) {
      sys(SYS_close, fd);
      const why = r === -98 ? 'address already in use' : r === -99 ? 'address not available' : r === -13 ? 'permission denied' : `errno ${-r}`;
      throw new Error(`cannot listen on ${formatAddress(a)}: ${why}`);
    }
    this.fd = fd;
    this.address = boundAddress(fd);
  }

  /** Waits for gdb to connect (blocking). */
  accept(): Connection {
    for (;;) {
      const c = sys(SYS_accept4, this.fd, 0, 0, SOCK_CLOEXEC);
      if (c === -EINTR) { endRunOnHostSignal(); continue; }
      if (c < 0) throw new Error(`accept failed (errno ${-c})`);
      return new Connection(c);
    }
  }

  private closed = false;
  close(): void {
    if (this.closed) return;
    this.closed = true;
    sys(SYS_close, this.fd);
  }
}

/** One gdb connection: blocking reads and writes. */
export class Connection {
  private readonly rbuf = Buffer.alloc(0x10000);
  closed = false;
  constructor(readonly fd: number) {}

  /** Reads what is available (blocking until something is); undefined at end of stream or on error. */
  recv(): Buffer | undefined {
    if (this.closed) return undefined;
    for (;;) {
      const n = sys(SYS_recvfrom, this.fd, addressOf(this.rbuf), this.rbuf.length, 0, 0, 0);
      if (n === -EINTR) { endRunOnHostSignal(); continue; }
      if (n <= 0) return undefined;
      return Buffer.from(this.rbuf.subarray(0, n));
    }
  }

  /** Sends all of `data`; false if the connection is gone. */
  send(data: Uint8Array): boolean {
    if (this.closed) return false;
    const b = Buffer.from(data.buffer, data.byteOffset, data.length);
    let off = 0;
    while (off < b.length) {
      const n = sys(SYS_sendto, this.fd, addressOf(b) + off, b.length - off, MSG_NOSIGNAL, 0, 0);
      if (n === -EINTR) continue;
      if (n <= 0) return false;
      off += n;
    }
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    sys(SYS_close, this.fd);
  }
}
