/**
 * Argument rules: the conditions a rule of torov's format may put on a syscall's
 * arguments (`"args"` in a rule), their parsing with field-named errors, and the pure
 * matching logic (paths, socket addresses, numeric comparisons). What a call's arguments
 * *are* (a guest path resolved on the host, a sockaddr read from guest memory) is worked
 * out at run time by src/syscalls/argcheck.ts; this module only compares.
 *
 * ```json
 * { "names": ["openat", "newfstatat"], "action": "allow",
 *   "args": { "paths": ["/etc/passwd", "/usr/share/zoneinfo/"], "access": "read-only" } }
 * { "names": ["write"], "action": "allow", "args": { "fd": [1, 2] } }
 * { "names": ["socket"], "action": "allow", "args": { "domain": ["inet"], "type": ["stream"] } }
 * { "names": ["connect"], "action": "allow", "args": { "addresses": ["127.0.0.1:8080", "unix:/run/app.sock"] } }
 * { "names": ["mmap"], "action": "allow", "args": { "compare": [{ "arg": 2, "op": "&==", "mask": 4, "value": 0 }] } }
 * ```
 *
 * Every condition of one rule must hold (AND); several rules naming the same syscall are
 * alternatives, the last matching one decides (see policy.ts).
 */
import { PolicyError, didYouMean, fieldPath, showValue } from './errors';
import { isJsonObject, mustBe, rejectUnknownKeys } from './json';
import { SYSCALL_BY_NR, syscallByName } from '../linux/syscalls';
import { AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, O_APPEND, O_CREAT, O_NOFOLLOW, O_RDWR, O_TRUNC, O_WRONLY, __O_TMPFILE } from '../linux/fcntl';
import {
  AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_UNIX, AF_VSOCK, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET, SOCK_STREAM, SOCK_TYPE_MASK,
} from '../linux/socket';

export type PathAccess = 'read-only' | 'read-write';
/** A path entry: an exact absolute path, or (written with a trailing "/") a directory and everything under it. */
export interface PathEntry { readonly path: string; readonly prefix: boolean }

/** A socket address entry (see parseAddress for the notation). */
export type AddrEntry =
  | { readonly family: 'unix'; readonly path: string; readonly prefix: boolean; readonly text: string }
  | { readonly family: 'inet' | 'inet6'; readonly addr: Uint8Array; readonly bits: number; readonly portLo: number; readonly portHi: number; readonly text: string };

export type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '&==';
export const CMP_OPS: readonly CmpOp[] = ['==', '!=', '<', '<=', '>', '>=', '&=='];
/** A seccomp-style comparison of the 64-bit register value of argument `arg`. `&==`: (value & mask) == value. */
export interface Compare { readonly arg: number; readonly op: CmpOp; readonly value: bigint; readonly mask?: bigint }

/** The conditions of one rule; every present one must hold. */
export interface ArgConditions {
  readonly paths?: readonly PathEntry[];
  readonly access?: PathAccess;
  readonly fd?: readonly number[];
  readonly domain?: readonly number[];
  readonly type?: readonly number[];
  readonly protocol?: readonly number[];
  readonly addresses?: readonly AddrEntry[];
  readonly compare?: readonly Compare[];
}

/** Fields of `args`. */
export const ARG_FIELDS: readonly string[] = Object.freeze(['paths', 'access', 'fd', 'domain', 'type', 'protocol', 'addresses', 'compare']);

// ---------------------------------------------------------------------------------------
// Which syscalls take which conditions

/**
 * Where a syscall's paths are: the argument index of each path, of its dirfd (absent: the
 * cwd, or -1 for "always relative to the cwd"), whether the last component is followed,
 * and whether the call modifies. `slot` is the VMM buffer the handler copies it into
 * (src/syscalls/fs.ts): the checked copy is handed over there.
 */
export interface PathArg {
  readonly ptr: number;
  readonly dirfd?: number;
  readonly slot: 0 | 1;
  /** true, false, or the index of a flags argument and the bit that says "do not follow" / "follow". */
  readonly follow: boolean | { readonly flags: number; readonly nofollow?: number; readonly followBit?: number };
  /** true, false, or 'open' (decided by the open flags in argument `openFlags`). */
  readonly write: boolean | 'open';
  readonly openFlags?: number;
  /** The flags argument whose AT_EMPTY_PATH makes an empty path mean the dirfd itself. */
  readonly emptyFlags?: number;
  /** A NULL path means the dirfd itself (utimensat). */
  readonly nullable?: boolean;
}

const F = (flags: number): PathArg['follow'] => ({ flags, nofollow: AT_SYMLINK_NOFOLLOW });
const RO = false, RW = true;

/** The path syscalls and their path arguments. openat2 is not here: its flags live in guest memory (see the README). */
export const PATH_SYSCALLS: Readonly<Record<string, readonly PathArg[]>> = Object.freeze({
  open: [{ ptr: 0, slot: 0, follow: { flags: 1, nofollow: O_NOFOLLOW }, write: 'open', openFlags: 1 }],
  openat: [{ ptr: 1, dirfd: 0, slot: 0, follow: { flags: 2, nofollow: O_NOFOLLOW }, write: 'open', openFlags: 2 }],
  creat: [{ ptr: 0, slot: 0, follow: true, write: RW }],
  stat: [{ ptr: 0, slot: 0, follow: true, write: RO }],
  lstat: [{ ptr: 0, slot: 0, follow: false, write: RO }],
  newfstatat: [{ ptr: 1, dirfd: 0, slot: 0, follow: F(3), write: RO, emptyFlags: 3 }],
  statx: [{ ptr: 1, dirfd: 0, slot: 0, follow: F(2), write: RO, emptyFlags: 2 }],
  statfs: [{ ptr: 0, slot: 0, follow: true, write: RO }],
  getxattr: [{ ptr: 0, slot: 0, follow: true, write: RO }],
  lgetxattr: [{ ptr: 0, slot: 0, follow: false, write: RO }],
  listxattr: [{ ptr: 0, slot: 0, follow: true, write: RO }],
  llistxattr: [{ ptr: 0, slot: 0, follow: false, write: RO }],
  access: [{ ptr: 0, slot: 0, follow: true, write: RO }],
  faccessat: [{ ptr: 1, dirfd: 0, slot: 0, follow: true, write: RO }],
  faccessat2: [{ ptr: 1, dirfd: 0, slot: 0, follow: F(3), write: RO }],
  readlink: [{ ptr: 0, slot: 0, follow: false, write: RO }],
  readlinkat: [{ ptr: 1, dirfd: 0, slot: 0, follow: false, write: RO }],
  chdir: [{ ptr: 0, slot: 0, follow: true, write: RO }],
  unlink: [{ ptr: 0, slot: 0, follow: false, write: RW }],
  unlinkat: [{ ptr: 1, dirfd: 0, slot: 0, follow: false, write: RW }],
  rmdir: [{ ptr: 0, slot: 0, follow: false, write: RW }],
  mkdir: [{ ptr: 0, slot: 0, follow: false, write: RW }],
  mkdirat: [{ ptr: 1, dirfd: 0, slot: 0, follow: false, write: RW }],
  mknod: [{ ptr: 0, slot: 0, follow: false, write: RW }],
  mknodat: [{ ptr: 1, dirfd: 0, slot: 0, follow: false, write: RW }],
  rename: [{ ptr: 0, slot: 0, follow: false, write: RW }, { ptr: 1, slot: 1, follow: false, write: RW }],
  renameat: [{ ptr: 1, dirfd: 0, slot: 0, follow: false, write: RW }, { ptr: 3, dirfd: 2, slot: 1, follow: false, write: RW }],
  renameat2: [{ ptr: 1, dirfd: 0, slot: 0, follow: false, write: RW }, { ptr: 3, dirfd: 2, slot: 1, follow: false, write: RW }],
  // A hard link gives a second name to the file: both names need write access, or a
  // read-write directory could collect links to files no rule allows.
  link: [{ ptr: 0, slot: 0, follow: false, write: RW }, { ptr: 1, slot: 1, follow: false, write: RW }],
  linkat: [{ ptr: 1, dirfd: 0, slot: 0, follow: { flags: 4, followBit: AT_SYMLINK_FOLLOW }, write: RW }, { ptr: 3, dirfd: 2, slot: 1, follow: false, write: RW }],
  // A symlink's target is text, resolved (and checked) when it is used; its new name is checked.
  symlink: [{ ptr: 1, slot: 1, follow: false, write: RW }],
  symlinkat: [{ ptr: 2, dirfd: 1, slot: 1, follow: false, write: RW }],
  chmod: [{ ptr: 0, slot: 0, follow: true, write: RW }],
  fchmodat: [{ ptr: 1, dirfd: 0, slot: 0, follow: true, write: RW }],
  fchmodat2: [{ ptr: 1, dirfd: 0, slot: 0, follow: F(3), write: RW }],
  chown: [{ ptr: 0, slot: 0, follow: true, write: RW }],
  lchown: [{ ptr: 0, slot: 0, follow: false, write: RW }],
  fchownat: [{ ptr: 1, dirfd: 0, slot: 0, follow: F(4), write: RW }],
  utimensat: [{ ptr: 1, dirfd: 0, slot: 0, follow: F(3), write: RW, nullable: true }],
  futimesat: [{ ptr: 1, dirfd: 0, slot: 0, follow: true, write: RW, nullable: true }],
  utime: [{ ptr: 0, slot: 0, follow: true, write: RW }],
  utimes: [{ ptr: 0, slot: 0, follow: true, write: RW }],
  truncate: [{ ptr: 0, slot: 0, follow: true, write: RW }],
  execve: [{ ptr: 0, slot: 0, follow: true, write: RO }],
  execveat: [{ ptr: 1, dirfd: 0, slot: 0, follow: F(4), write: RO, emptyFlags: 4 }],
});

/** open flags that ask for writing, creating or truncating (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_TMPFILE). */
export const OPEN_WRITE_FLAGS = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | __O_TMPFILE;

/** The syscalls whose address argument `addresses` checks: [pointer index, length index, nullable]. */
export const ADDRESS_SYSCALLS: Readonly<Record<string, readonly [number, number, boolean]>> = Object.freeze({
  bind: [1, 2, false], connect: [1, 2, false], sendto: [4, 5, true], sendmsg: [1, -1, true],
});
/** The syscalls `domain`, `type` and `protocol` apply to (arguments 0, 1, 2). */
export const SOCKET_SYSCALLS: ReadonlySet<string> = new Set(['socket', 'socketpair']);
/** Whether argument 0 of `name` is a file descriptor (the `fd` condition). */
export function takesFd(name: string): boolean {
  return syscallByName(name)?.args[0]?.kind === 'fd';
}

export const DOMAINS: Readonly<Record<string, number>> = Object.freeze({
  unix: AF_UNIX, local: AF_UNIX, inet: AF_INET, inet6: AF_INET6, netlink: AF_NETLINK, packet: AF_PACKET, vsock: AF_VSOCK,
});
export const SOCK_TYPES: Readonly<Record<string, number>> = Object.freeze({
  stream: SOCK_STREAM, dgram: SOCK_DGRAM, raw: SOCK_RAW, rdm: SOCK_RDM, seqpacket: SOCK_SEQPACKET,
});
/** The low bits of socket(2)'s type: SOCK_NONBLOCK and SOCK_CLOEXEC are flags, not the type. */
export { SOCK_TYPE_MASK };
export const domainName = (n: number): string => Object.entries(DOMAINS).find(([k, v]) => v === n && k !== 'local')?.[0] ?? String(n);
export const typeName = (n: number): string => Object.entries(SOCK_TYPES).find(([, v]) => v === n)?.[0] ?? String(n);

// ---------------------------------------------------------------------------------------
// Parsing

/**
 * Validates a rule's `args` for the syscalls `names` (a condition must make sense for
 * every name) and returns the conditions. `at` is the field path of `args`.
 */
export function parseArgConditions(source: string, at: readonly (string | number)[], v: unknown, names: readonly string[]): ArgConditions {
  if (!isJsonObject(v)) mustBe(source, at, 'an object of conditions (paths, access, fd, domain, type, protocol, addresses, compare)', v);
  rejectUnknownKeys(source, at, v, ARG_FIELDS);
  const keys = Object.keys(v);
  if (keys.length === 0) throw new PolicyError(source, fieldPath(...at), 'empty: give at least one condition, or leave "args" out');
  const only = (key: string, ok: (n: string) => boolean, what: string): void => {
    const bad = names.find((n) => !ok(n));
    if (bad !== undefined) throw new PolicyError(source, fieldPath(...at, key), `${bad} ${what}; put it in a rule of its own`);
  };
  const out: { -readonly [K in keyof ArgConditions]: ArgConditions[K] } = {};

  if (v.paths !== undefined) {
    const bad = names.find((n) => PATH_SYSCALLS[n] === undefined);
    if (bad !== undefined) {
      throw new PolicyError(source, fieldPath(...at, 'paths'), bad === 'openat2'
        ? 'openat2 cannot have path rules (its flags are in guest memory): allow openat instead, or deny openat2 (ENOSYS makes libcs fall back)'
        : `${bad} takes no path torov checks (see PATH_SYSCALLS: open, openat, creat, the stat, access, readlink, unlink, rename, mkdir, chmod, chown, utime and truncate families, chdir, link, symlink, mknod, execve); put it in a rule of its own`);
    }
    out.paths = list(source, [...at, 'paths'], v.paths, 'absolute paths ("/etc/passwd", or "/data/" for a directory and everything under it)', parsePathEntry, true);
    if (v.access === undefined) throw new PolicyError(source, fieldPath(...at, 'access'), 'required with "paths" ("read-only" or "read-write")');
  }
  if (v.access !== undefined) {
    if (v.paths === undefined) throw new PolicyError(source, fieldPath(...at, 'access'), 'only allowed with "paths"');
    if (v.access !== 'read-only' && v.access !== 'read-write') {
      const hint = typeof v.access === 'string' ? didYouMean(v.access, ['read-only', 'read-write']) : '';
      throw new PolicyError(source, fieldPath(...at, 'access'), `must be "read-only" or "read-write" (got ${showValue(v.access)})${hint}`);
    }
    out.access = v.access;
  }
  if (v.fd !== undefined) {
    only('fd', takesFd, 'has no file descriptor as its first argument');
    out.fd = list(source, [...at, 'fd'], v.fd, 'file descriptor numbers (0 to 2147483647)', (s, p, x) => {
      if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0x7fffffff) return x;
      return mustBe(s, p, 'a file descriptor number (0 to 2147483647)', x);
    });
  }
  for (const [key, table] of [['domain', DOMAINS], ['type', SOCK_TYPES]] as const) {
    if (v[key] === undefined) continue;
    only(key, (n) => SOCKET_SYSCALLS.has(n), 'is not socket or socketpair');
    const names = Object.keys(table);
    out[key] = list(source, [...at, key], v[key], `${key === 'domain' ? 'address families' : 'socket types'} (${names.join(', ')}, or numbers)`, (s, p, x) => {
      if (typeof x === 'string') {
        const n = table[x.toLowerCase()];
        if (n !== undefined) return n;
        throw new PolicyError(s, fieldPath(...p), `unknown ${key} ${JSON.stringify(x)}${didYouMean(x, names)} (known: ${names.join(', ')})`);
      }
      if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= (key === 'type' ? SOCK_TYPE_MASK : 0xffff)) return x;
      return mustBe(s, p, `a ${key} name such as ${JSON.stringify(names[0])} or a number`, x);
    });
  }
  if (v.protocol !== undefined) {
    only('protocol', (n) => SOCKET_SYSCALLS.has(n), 'is not socket or socketpair');
    out.protocol = list(source, [...at, 'protocol'], v.protocol, 'protocol numbers (0 = the default, 6 = TCP, 17 = UDP)', (s, p, x) => {
      if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff) return x;
      return mustBe(s, p, 'a protocol number (0 = the default, 6 = TCP, 17 = UDP)', x);
    });
  }
  if (v.addresses !== undefined) {
    only('addresses', (n) => ADDRESS_SYSCALLS[n] !== undefined, 'takes no socket address (addresses apply to bind, connect, sendto and sendmsg)');
    out.addresses = list(source, [...at, 'addresses'], v.addresses, 'socket addresses ("127.0.0.1:8080", "[::1]:*", "10.0.0.0/8:443", "unix:/run/app.sock")', (s, p, x) => {
      if (typeof x !== 'string') return mustBe(s, p, 'a socket address such as "127.0.0.1:8080" or "unix:/run/app.sock"', x);
      try { return parseAddress(x); } catch (e) { throw new PolicyError(s, fieldPath(...p), (e as Error).message); }
    }, true);
  }
  if (v.compare !== undefined) {
    out.compare = list(source, [...at, 'compare'], v.compare, 'comparisons ({"arg": 1, "op": "==", "value": 5})', parseCompare);
  }
  return Object.freeze(out);
}

function list<T>(source: string, at: readonly (string | number)[], v: unknown, what: string,
  item: (source: string, at: readonly (string | number)[], x: unknown) => T, allowEmpty = false): T[] {
  if (!Array.isArray(v) || (v.length === 0 && !allowEmpty)) mustBe(source, at, `${allowEmpty ? 'an array' : 'a non-empty array'} of ${what}`, v);
  return (v as unknown[]).map((x, i) => item(source, [...at, i], x));
}

function parsePathEntry(source: string, at: readonly (string | number)[], x: unknown): PathEntry {
  if (typeof x !== 'string') return mustBe(source, at, 'an absolute path', x);
  try { return pathEntry(x); } catch (e) { throw new PolicyError(source, fieldPath(...at), (e as Error).message); }
}

/** "/etc/passwd" -> exact; "/data/" -> /data and everything under it; "/" -> everything. Throws an Error with the problem. */
export function pathEntry(s: string): PathEntry {
  if (!s.startsWith('/')) throw new Error(`must be an absolute path (got ${JSON.stringify(s)})`);
  if (s.includes('\0')) throw new Error('must not contain a NUL byte');
  const parts = s.split('/');
  if (parts.includes('..')) throw new Error(`must not contain ".." (got ${JSON.stringify(s)}): write the path it means`);
  const prefix = s.endsWith('/');
  const path = '/' + parts.filter((c) => c !== '' && c !== '.').join('/');
  return { path, prefix: prefix || path === '/' };
}

/** How a path entry is written back (trailing "/" for a prefix). */
export function pathEntryText(e: PathEntry): string {
  return e.prefix && e.path !== '/' ? `${e.path}/` : e.path;
}

function parseCompare(source: string, at: readonly (string | number)[], x: unknown): Compare {
  if (!isJsonObject(x)) return mustBe(source, at, 'an object {"arg": N, "op": "==", "value": V} (and "mask" for "&==")', x);
  rejectUnknownKeys(source, at, x, ['arg', 'op', 'value', 'mask']);
  if (x.arg === undefined) throw new PolicyError(source, fieldPath(...at, 'arg'), 'required (the argument index, 0 to 5)');
  if (typeof x.arg !== 'number' || !Number.isInteger(x.arg) || x.arg < 0 || x.arg > 5) mustBe(source, [...at, 'arg'], 'an argument index from 0 to 5', x.arg);
  if (x.op === undefined) throw new PolicyError(source, fieldPath(...at, 'op'), `required (one of ${CMP_OPS.join(' ')})`);
  if (typeof x.op !== 'string' || !(CMP_OPS as readonly string[]).includes(x.op)) {
    throw new PolicyError(source, fieldPath(...at, 'op'), `must be one of ${CMP_OPS.join(' ')} (got ${showValue(x.op)})`);
  }
  const op = x.op as CmpOp;
  if (x.value === undefined) throw new PolicyError(source, fieldPath(...at, 'value'), 'required (a number, or a string such as "0x1000")');
  const value = parseU64(source, [...at, 'value'], x.value);
  if (op === '&==') {
    if (x.mask === undefined) throw new PolicyError(source, fieldPath(...at, 'mask'), 'required with "&==" (the bits to compare)');
    const mask = parseU64(source, [...at, 'mask'], x.mask);
    if ((value & ~mask) !== 0n) throw new PolicyError(source, fieldPath(...at, 'value'), `has bits outside the mask (0x${value.toString(16)} & ~0x${mask.toString(16)}): the rule could never match`);
    return { arg: x.arg as number, op, value, mask };
  }
  if (x.mask !== undefined) throw new PolicyError(source, fieldPath(...at, 'mask'), `only allowed with "&==" (this comparison's op is "${op}")`);
  return { arg: x.arg as number, op, value };
}

/**
 * A 64-bit argument value: a safe integer (negative ones are two's complement, as the
 * register holds them: -1 is 0xffffffffffffffff) or a string in decimal or 0x hex.
 */
function parseU64(source: string, at: readonly (string | number)[], v: unknown): bigint {
  let b: bigint | undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else if (typeof v === 'string' && /^-?(0x[0-9a-f]+|\d+)$/i.test(v.trim())) {
    const t = v.trim();
    b = t.startsWith('-') ? -BigInt(t.slice(1)) : BigInt(t);
  }
  if (b === undefined || b < -(2n ** 63n) || b >= 2n ** 64n) {
    return mustBe(source, at, 'a 64-bit integer: a number, or a string such as "0x1000" or "18446744073709551615"', v);
  }
  return BigInt.asUintN(64, b);
}

/**
 * A socket address entry:
 * - `unix:/run/app.sock` (exact), `unix:/run/app/` (a directory and everything under it),
 *   `unix:@name` (abstract), `unix:` (an unnamed socket: autobind);
 * - `127.0.0.1:8080`, `10.0.0.0/8:443`, `0.0.0.0/0:*` (any port), `127.0.0.1:8000-8999`;
 * - `[::1]:8080`, `[fd00::]/8:*`.
 * Throws an Error naming the problem.
 */
export function parseAddress(s: string): AddrEntry {
  const bad = (why: string): never => { throw new Error(`invalid address ${JSON.stringify(s)}: ${why}`); };
  if (s.startsWith('unix:')) {
    const p = s.slice(5);
    if (p === '' || p.startsWith('@')) return { family: 'unix', path: p, prefix: false, text: s };
    if (!p.startsWith('/')) bad('a unix path must be absolute ("unix:/run/app.sock"), abstract ("unix:@name") or empty ("unix:")');
    let e: PathEntry;
    try { e = pathEntry(p); } catch (err) { return bad((err as Error).message); }
    return { family: 'unix', path: e.path, prefix: e.prefix, text: s };
  }
  let host: string, rest: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) bad('missing "]" after an IPv6 address');
    host = s.slice(1, close);
    rest = s.slice(close + 1);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) bad('expected HOST:PORT, e.g. "127.0.0.1:8080", "[::1]:*" or "unix:/path"');
    host = s.slice(0, colon).replace(/\/\d+$/, '');
    rest = s.slice(host.length);
  }
  let bitsText: string | undefined;
  const m = /^(?:\/(\d{1,3}))?:(\*|\d{1,5}(?:-\d{1,5})?)$/.exec(rest);
  if (!m) bad('expected HOST[/BITS]:PORT with PORT a number, a range LO-HI or *');
  bitsText = m![1];
  const portText = m![2]!;
  const v4 = parseIpv4(host);
  const v6 = v4 === undefined ? parseIpv6(host) : undefined;
  if (v4 === undefined && v6 === undefined) bad(`${JSON.stringify(host)} is not an IPv4 or IPv6 address (IPv6 goes in brackets: "[::1]:80")`);
  if (v6 !== undefined && !s.startsWith('[')) bad('an IPv6 address goes in brackets: "[::1]:80"');
  const addr = (v4 ?? v6)!;
  const max = addr.length * 8;
  const bits = bitsText === undefined ? max : Number(bitsText);
  if (bits > max) bad(`/${bits} is longer than the address (${max} bits)`);
  let portLo = 0, portHi = 65535;
  if (portText !== '*') {
    const [lo, hi] = portText.split('-').map(Number) as [number, number | undefined];
    portLo = lo; portHi = hi ?? lo;
    if (portHi > 65535 || portLo > portHi) bad(`port ${portText} is not a port from 0 to 65535 or a range LO-HI`);
  }
  return { family: v4 ? 'inet' : 'inet6', addr, bits, portLo, portHi, text: s };
}

export function parseIpv4(s: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? Uint8Array.from(b) : undefined;
}

export function parseIpv6(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  if (s.includes('.')) {
    // A dotted IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
    const colon = s.lastIndexOf(':');
    const v4 = parseIpv4(s.slice(colon + 1));
    if (!v4) return undefined;
    s = `${s.slice(0, colon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!), back = halves.length === 2 ? groups(halves[1]!) : [];
  if ([...head, ...back].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const fill = 8 - head.length - back.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...head, ...new Array<string>(halves.length === 1 ? 0 : fill).fill('0'), ...back].map((g) => parseInt(g, 16));
  const out = new Uint8Array(16);
  all.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

// ---------------------------------------------------------------------------------------
// Matching

/** A socket address as a call gives it (decoded from a sockaddr). */
export type SockAddr =
  | { readonly family: 'unix'; readonly path: string }          // "" unnamed, "@x" abstract, else a path
  | { readonly family: 'inet' | 'inet6'; readonly addr: Uint8Array; readonly port: number }
  | { readonly family: 'unspec' }
  | { readonly family: 'other'; readonly af: number };

/** Whether canonical absolute path `p` (no trailing slash, no "." or "..") is covered by `e`. */
export function pathMatches(e: PathEntry, p: string): boolean {
  if (p === e.path) return true;
  if (!e.prefix) return false;
  return e.path === '/' ? p.startsWith('/') : p.startsWith(e.path + '/');
}

/** Whether address `a` is covered by entry `e`. */
export function addressMatches(e: AddrEntry, a: SockAddr): boolean {
  if (e.family === 'unix') {
    if (a.family !== 'unix') return false;
    if (e.path === '' || e.path.startsWith('@') || !a.path.startsWith('/')) return e.path === a.path;
    return pathMatches(e, a.path);
  }
  if (a.family !== e.family) return false;
  if (a.port < e.portLo || a.port > e.portHi) return false;
  for (let bit = 0; bit < e.bits; bit += 8) {
    const n = Math.min(8, e.bits - bit);
    const mask = (0xff << (8 - n)) & 0xff;
    if (((a.addr[bit / 8]! ^ e.addr[bit / 8]!) & mask) !== 0) return false;
  }
  return true;
}

/** How address `a` is written in a policy (the notation parseAddress reads). */
export function addressText(a: SockAddr): string {
  switch (a.family) {
    case 'unix': return `unix:${a.path}`;
    case 'inet': return `${Array.from(a.addr).join('.')}:${a.port}`;
    case 'inet6': return `[${ipv6Text(a.addr)}]:${a.port}`;
    case 'unspec': return 'AF_UNSPEC';
    case 'other': return `address family ${a.af}`;
  }
}

function ipv6Text(b: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[i]! << 8) | b[i + 1]!);
  // The longest run of zero words becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i; while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(w) : `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/**
 * Decodes a sockaddr of `len` bytes: AF_UNIX (path, "@abstract" or "" unnamed), AF_INET,
 * AF_INET6, AF_UNSPEC; any other family is 'other'. A truncated address is 'other' too
 * (the host refuses it with EINVAL).
 */
export function decodeSockaddr(b: Uint8Array, len: number): SockAddr {
  if (len < 2) return { family: 'other', af: -1 };
  const af = b[0]! | (b[1]! << 8);
  if (af === 0) return { family: 'unspec' };
  if (af === 1) {
    if (len === 2) return { family: 'unix', path: '' };
    if (b[2] === 0) return { family: 'unix', path: '@' + Buffer.from(b.subarray(3, len)).toString('latin1') };
    let end = 2;
    while (end < len && b[end] !== 0) end++;
    return { family: 'unix', path: Buffer.from(b.subarray(2, end)).toString('latin1') };
  }
  if (af === 2 && len >= 8) return { family: 'inet', addr: b.slice(4, 8), port: (b[2]! << 8) | b[3]! };
  if (af === 10 && len >= 24) return { family: 'inet6', addr: b.slice(8, 24), port: (b[2]! << 8) | b[3]! };
  return { family: 'other', af };
}

/** seccomp's comparison of the 64-bit argument value `x`. */
export function compareHolds(c: Compare, x: bigint): boolean {
  switch (c.op) {
    case '==': return x === c.value;
    case '!=': return x !== c.value;
    case '<': return x < c.value;
    case '<=': return x <= c.value;
    case '>': return x > c.value;
    case '>=': return x >= c.value;
    case '&==': return (x & c.mask!) === c.value;
  }
}

/** How a comparison is written ("arg1 == 0x5401", "arg2 & 0x4 == 0"). */
export function compareText(c: Compare): string {
  const h = (v: bigint) => (v < 10n ? v.toString() : `0x${v.toString(16)}`);
  return c.op === '&==' ? `arg${c.arg} & ${h(c.mask!)} == ${h(c.value)}` : `arg${c.arg} ${c.op} ${h(c.value)}`;
}

/** The conditions as torov's JSON format writes them (for convert and learn). */
export function conditionsToJson(c: ArgConditions): Record<string, unknown> {
  const num = (v: bigint) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : `0x${v.toString(16)}`);
  return {
    ...(c.paths ? { paths: c.paths.map(pathEntryText) } : {}),
    ...(c.access ? { access: c.access } : {}),
    ...(c.fd ? { fd: [...c.fd] } : {}),
    ...(c.domain ? { domain: c.domain.map(domainName) } : {}),
    ...(c.type ? { type: c.type.map(typeName) } : {}),
    ...(c.protocol ? { protocol: [...c.protocol] } : {}),
    ...(c.addresses ? { addresses: c.addresses.map((a) => a.text) } : {}),
    ...(c.compare ? { compare: c.compare.map((x) => ({ arg: x.arg, op: x.op, ...(x.mask !== undefined ? { mask: num(x.mask) } : {}), value: num(x.value) })) } : {}),
  };
}

/** One line for a human: `paths /etc/passwd /data/ (read-only), fd 1 2`. */
export function conditionsText(c: ArgConditions): string {
  const parts: string[] = [];
  if (c.paths) parts.push(`paths ${c.paths.map(pathEntryText).join(' ')} (${c.access})`);
  if (c.fd) parts.push(`fd ${c.fd.join(' ')}`);
  if (c.domain) parts.push(`domain ${c.domain.map(domainName).join(' ')}`);
  if (c.type) parts.push(`type ${c.type.map(typeName).join(' ')}`);
  if (c.protocol) parts.push(`protocol ${c.protocol.join(' ')}`);
  if (c.addresses) parts.push(`addresses ${c.addresses.map((a) => a.text).join(' ')}`);
  if (c.compare) parts.push(c.compare.map(compareText).join(' and '));
  return parts.join(', ');
}

/** Whether every condition can be written as seccomp comparisons of register values (Docker's SCMP args). */
export function numericOnly(c: ArgConditions): boolean {
  return c.paths === undefined && c.addresses === undefined;
}

/** The numeric conditions as alternatives of comparisons (OR of ANDs), for seccomp-style formats. */
export function numericAlternatives(c: ArgConditions): Compare[][] {
  let alts: Compare[][] = [[...(c.compare ?? [])]];
  const anyOf = (arg: number, values: readonly number[] | undefined, mask?: bigint) => {
    if (values === undefined) return;
    const next: Compare[][] = [];
    for (const alt of alts) for (const v of values) {
      next.push([...alt, mask === undefined ? { arg, op: '==', value: BigInt(v) } : { arg, op: '&==', mask, value: BigInt(v) }]);
    }
    alts = next;
  };
  anyOf(0, c.fd);
  anyOf(0, c.domain);
  anyOf(1, c.type, BigInt(SOCK_TYPE_MASK));
  anyOf(2, c.protocol);
  return alts;
}

/** The syscall name for messages. */
export const nameOfNr = (nr: number): string => SYSCALL_BY_NR[nr]?.name ?? `syscall ${nr}`;
