/**
 * The gdb stub's TCP socket, with blocking host calls through sys(): the vCPU's run loop
 * is synchronous on Node's main thread, and while the guest is stopped for gdb the stub
 * simply waits for the next packet. Node's net module cannot be used there (its events
 * need the event loop, which the run loop holds).
 */
import { sys, addressOf, NR } from '../host/libc';
import { EADDRINUSE, EADDRNOTAVAIL, EACCES, EINTR } from '../linux/errno';
import { AF_INET, AF_INET6, IPPROTO_TCP, MSG_NOSIGNAL, SOCK_CLOEXEC, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, TCP_NODELAY } from '../linux/socket';
import { SOCKADDR_IN, SOCKADDR_IN6 } from '../linux/structs';
import { endRunOnHostSignal } from '../vmm/host-signals';

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
    const b = Buffer.alloc(SOCKADDR_IN6.SIZE);
    b.writeUInt16LE(AF_INET6, SOCKADDR_IN6.sin6_family);
    b.writeUInt16BE(a.port, SOCKADDR_IN6.sin6_port);
    parseIpv6(a.host)!.copy(b, SOCKADDR_IN6.sin6_addr);
    return b;
  }
  const b = Buffer.alloc(SOCKADDR_IN.SIZE);
  b.writeUInt16LE(AF_INET, SOCKADDR_IN.sin_family);
  b.writeUInt16BE(a.port, SOCKADDR_IN.sin_port);
  b.set(parseIpv4(a.host)!, SOCKADDR_IN.sin_addr);
  return b;
}

function setInt(fd: number, level: number, opt: number, v: number): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  sys(NR.setsockopt, fd, level, opt, addressOf(b), 4);
}

/** The address a socket is bound to. */
function boundAddress(fd: number): ListenAddress {
  const got = Buffer.alloc(SOCKADDR_IN6.SIZE), len = Buffer.alloc(4);
  len.writeUInt32LE(SOCKADDR_IN6.SIZE, 0);
  sys(NR.getsockname, fd, addressOf(got), addressOf(len));
  // sin_port and sin6_port are at the same offset, as are the families.
  const port = got.readUInt16BE(SOCKADDR_IN.sin_port);
  if (got.readUInt16LE(SOCKADDR_IN.sin_family) === AF_INET6) {
    const words: string[] = [];
    for (let i = 0; i < 8; i++) words.push(got.readUInt16BE(SOCKADDR_IN6.sin6_addr + 2 * i).toString(16));
    return { host: words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::'), port, family: 6 };
  }
  return { host: [...got.subarray(SOCKADDR_IN.sin_addr, SOCKADDR_IN.sin_addr + 4)].join('.'), port, family: 4 };
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
    const fd = sys(NR.socket, a.family === 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`cannot create a socket (errno ${-fd})`);
    setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    // Set here, before any sandbox filter: accepted sockets inherit it (no setsockopt later).
    setInt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    const sa = sockaddr(a);
    let r = sys(NR.bind, fd, addressOf(sa), sa.length);
    if (r === 0) r = sys(NR.listen, fd, 1);
    if (r < 0) {
      sys(NR.close, fd);
      const why = r === -EADDRINUSE ? 'address already in use' : r === -EADDRNOTAVAIL ? 'address not available' : r === -EACCES ? 'permission denied' : `errno ${-r}`;
      throw new Error(`cannot listen on ${formatAddress(a)}: ${why}`);
    }
    this.fd = fd;
    this.address = boundAddress(fd);
  }

  /** Waits for gdb to connect (blocking). */
  accept(): Connection {
    for (;;) {
      const c = sys(NR.accept4, this.fd, 0, 0, SOCK_CLOEXEC);
      if (c === -EINTR) { endRunOnHostSignal(); continue; }
      if (c < 0) throw new Error(`accept failed (errno ${-c})`);
      return new Connection(c);
    }
  }

  private closed = false;
  close(): void {
    if (this.closed) return;
    this.closed = true;
    sys(NR.close, this.fd);
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
      const n = sys(NR.recvfrom, this.fd, addressOf(this.rbuf), this.rbuf.length, 0, 0, 0);
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
      const n = sys(NR.sendto, this.fd, addressOf(b) + off, b.length - off, MSG_NOSIGNAL, 0, 0);
      if (n === -EINTR) continue;
      if (n <= 0) return false;
      off += n;
    }
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    sys(NR.close, this.fd);
  }
}
