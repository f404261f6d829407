/**
 * Argument rules at run time: what a call's arguments are, and which rule they meet.
 *
 * Only syscalls whose policy entry is CHECK come here (src/vmm/machine.ts dispatch); every
 * other call costs what it did before. For those:
 * - guest memory is read only through the checked accessors (k.mem.readCString, k.mem.read:
 *   EFAULT for an unmapped pointer, as the kernel does);
 * - a path is read once, resolved the way the kernel will resolve it (relative to the
 *   dirfd or the cwd, inside the guest's root, ".." and every symlink followed by the host
 *   kernel itself: an O_PATH open of the parent, and of the file when the call follows it,
 *   named through /proc/self/fd), and the resolved absolute path is what the rules see;
 * - the handler then gets that same resolved path (PINNED_PATHS in fs.ts), never the
 *   guest's memory again, and opens add RESOLVE_NO_SYMLINKS: a symlink swapped in after
 *   the check makes the open fail instead of leading elsewhere;
 * - socket addresses are copied once and the handler gets that copy (PINNED_ADDR in net.ts).
 * When a path cannot be resolved (a missing directory, EACCES...), the rules see the
 * lexically folded path: a call the rules do not allow is denied as usual (so the guest
 * learns nothing about paths it may not touch), an allowed one fails with the host's errno.
 *
 * Learn mode (`torov policy learn`) goes through the same code, records what it saw, and
 * allows everything.
 */
import type { Args, Kernel } from './api';
import { PINNED_PATHS, cwdPath, hostFdPath } from './fs';
import { PINNED_ADDR } from './net';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { ALLOW, KILL, LOG, type ArgRule, type ArgRuleSet } from '../policy/policy';
import {
  ADDRESS_SYSCALLS, OPEN_WRITE_FLAGS, PATH_SYSCALLS, SOCKET_SYSCALLS, SOCK_TYPE_MASK, addressMatches, addressText,
  compareHolds, compareText, decodeSockaddr, domainName, pathEntryText, pathMatches, typeName, type PathArg, type SockAddr,
} from '../policy/args';
import { errnoName } from '../policy/errno';
import { SYSCALL_BY_NR } from '../linux/syscalls';
import { EBADF, EINVAL, ENAMETOOLONG, ENOENT, SysError } from '../linux/errno';

import {
  AT_EMPTY_PATH, AT_FDCWD, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH, OPEN_HOW_SIZE_VER0, PATH_MAX, RESOLVE_NO_MAGICLINKS,
} from '../linux/fcntl';
import { MSGHDR, OPEN_HOW, SOCKADDR_STORAGE } from '../linux/structs';

const SOCKADDR_MAX = SOCKADDR_STORAGE.SIZE;

/** A path of a call, as the rules see it. */
export interface CallPath {
  /** The resolved absolute path ('' for `fdOnly`). */
  readonly path: string;
  /** The call writes, creates, truncates or removes (not read-only). */
  readonly write: boolean;
  /** The call works on an open fd (AT_EMPTY_PATH with "", or a NULL path): no path is looked up. */
  readonly fdOnly: boolean;
  /** Resolving failed with this errno: an allowed call fails with it without running. */
  readonly errno?: number;
  /** What the handler gets (the resolved path), and where the guest's copy was. */
  readonly host?: Buffer;
  readonly ptr: number;
  readonly slot: 0 | 1;
}

/**
 * The facts of one call the rules may ask about (computed on first use). A fact that cannot
 * be read (a SysError: EFAULT from guest memory) is kept as its -errno, like the others: the
 * rules, learn mode and the trace ask for facts before any handler runs, so this is the one
 * place in argcheck that turns a thrown SysError into a value.
 */
class Facts {
  private pathsV: CallPath[] | number | undefined;
  private addrV: { addr: SockAddr; ptr: number; bytes: Uint8Array } | null | number | undefined;
  constructor(readonly k: Kernel, readonly name: string, readonly a: Args) {}

  /** The call's paths, or -errno (EFAULT, ENAMETOOLONG: the call fails as in Linux). */
  paths(): CallPath[] | number {
    if (this.pathsV === undefined) this.pathsV = orErrno(() => callPaths(this.k, this.name, this.a));
    return this.pathsV;
  }
  /** The destination address, null without one, or -errno. */
  address(): { addr: SockAddr; ptr: number; bytes: Uint8Array } | null | number {
    if (this.addrV === undefined) this.addrV = orErrno(() => callAddress(this.k, this.name, this.a));
    return this.addrV;
  }
}

/** `f()`, or -errno for a SysError it throws. */
function orErrno<T>(f: () => T): T | number {
  try { return f(); } catch (e) { if (e instanceof SysError) return -e.errno; throw e; }
}

/** What the dispatcher does with a checked call. */
export interface Outcome {
  /** ALLOW, DENY, KILL or LOG. */
  readonly code: number;
  /** For DENY: the errno. */
  readonly errno: number;
  /** Return this instead of running the handler (a -errno the call fails with: EFAULT, or a path that cannot be resolved). */
  readonly result?: number;
  /** For DENY and KILL: what was lacking, for the log. */
  readonly message?: string;
}

/**
 * Evaluates the argument rules of syscall `nr` for this call: the last rule whose
 * conditions all hold decides, else the fallback. On ALLOW/LOG the checked copies are
 * pinned for the handler; the dispatcher calls unpin() after it.
 */
export function evaluate(k: Kernel, nr: number, a: Args, set: ArgRuleSet, source: string): Outcome {
  unpin();
  const name = SYSCALL_BY_NR[nr]?.name ?? `syscall ${nr}`;
  const facts = new Facts(k, name, a);
  const misses: string[] = [];
  let decided: ArgRule | undefined;
  for (let i = set.rules.length - 1; i >= 0; i--) {
    const r = set.rules[i]!;
    const miss = mismatch(r, facts);
    if (typeof miss === 'number') return { code: ALLOW, errno: 0, result: miss };
    if (miss === null) { decided = r; break; }
    misses.push(`syscalls[${r.index}] ${miss}`);
  }
  const code = decided ? decided.code : set.fallbackCode;
  const errno = decided ? decided.errno : set.fallbackErrno;
  if (code === ALLOW || code === LOG) {
    const r = pinFacts(facts);
    return r === undefined ? { code, errno } : { code: ALLOW, errno: 0, result: r };
  }
  const what = code === KILL ? 'killed' : `denied with ${errnoName(errno) ?? errno}`;
  const message = decided
    ? `torov: policy: ${name}: ${describeCall(facts)} matches syscalls[${decided.index}] of ${source}${decided.why ? ` (${decided.why})` : ''}: ${what}`
    : `torov: policy: ${name}: ${describeCall(facts)} is allowed by no rule of ${source}: ${misses.slice(0, 3).join('; ')}${misses.length > 3 ? `; and ${misses.length - 3} more` : ''}: ${what}`;
  return { code, errno, message };
}

/** Clears the checked copies of the last call. */
export function unpin(): void {
  PINNED_PATHS[0] = undefined;
  PINNED_PATHS[1] = undefined;
  PINNED_ADDR.pin = undefined;
}

/** Hands the checked copies to the handlers; returns a -errno the call must fail with, if any (nothing stays pinned then). */
function pinFacts(f: Facts): number | undefined {
  const r = pinAll(f);
  if (r !== undefined) unpin();
  return r;
}

function pinAll(f: Facts): number | undefined {
  if (PATH_SYSCALLS[f.name] !== undefined) {
    const ps = f.paths();
    if (typeof ps === 'number') return ps;
    for (const p of ps) {
      if (p.errno !== undefined) return -p.errno;
      if (p.host !== undefined) PINNED_PATHS[p.slot] = { ptr: p.ptr, text: p.host };
    }
  }
  if (ADDRESS_SYSCALLS[f.name] !== undefined) {
    const ad = f.address();
    if (typeof ad === 'number') return ad;
    if (ad !== null) PINNED_ADDR.pin = { ptr: ad.ptr, bytes: ad.bytes };
  }
  return undefined;
}

/** Why rule `r` does not apply to the call (text), null if it does, or -errno when the facts cannot be read. */
function mismatch(r: ArgRule, f: Facts): string | null | number {
  const c = r.args;
  const a = f.a;
  if (c.fd !== undefined) {
    const fd = a.i(0);
    if (!c.fd.includes(fd)) return `allows only fd ${c.fd.join(' ')} (not ${fd})`;
  }
  if (c.domain !== undefined && !c.domain.includes(a.i(0))) return `allows only domain ${c.domain.map(domainName).join(' ')} (not ${domainName(a.i(0))})`;
  if (c.type !== undefined && !c.type.includes(a.i(1) & SOCK_TYPE_MASK)) return `allows only type ${c.type.map(typeName).join(' ')} (not ${typeName(a.i(1) & SOCK_TYPE_MASK)})`;
  if (c.protocol !== undefined && !c.protocol.includes(a.i(2))) return `allows only protocol ${c.protocol.join(' ')} (not ${a.i(2)})`;
  if (c.compare !== undefined) {
    for (const cmp of c.compare) {
      const x = a.big(cmp.arg);
      if (!compareHolds(cmp, x)) return `needs ${compareText(cmp)} (arg${cmp.arg} is 0x${x.toString(16)})`;
    }
  }
  if (c.paths !== undefined) {
    const ps = f.paths();
    if (typeof ps === 'number') return ps;
    for (const p of ps) {
      if (p.fdOnly) continue;
      if (!c.paths.some((e) => pathMatches(e, p.path))) {
        const allowed = c.paths.length === 0 ? 'no path (only the fd forms)' : `only paths ${c.paths.map(pathEntryText).join(' ')} (${c.access})`;
        return `allows ${allowed}, not ${JSON.stringify(p.path)}`;
      }
      if (p.write && c.access === 'read-only') return `allows ${JSON.stringify(p.path)} read-only, and this call writes`;
    }
  }
  if (c.addresses !== undefined) {
    const ad = f.address();
    if (typeof ad === 'number') return ad;
    if (ad !== null && !(ad.addr.family === 'unspec' && f.name === 'connect')) {
      if (!c.addresses.some((e) => addressMatches(e, ad.addr))) {
        return `allows only addresses ${c.addresses.length ? c.addresses.map((e) => e.text).join(' ') : '(none: connected sockets only)'}, not ${addressText(ad.addr)}`;
      }
    }
  }
  return null;
}

/** The call's arguments the rules looked at, for a message. */
function describeCall(f: Facts): string {
  const parts: string[] = [];
  if (PATH_SYSCALLS[f.name] !== undefined) {
    const ps = f.paths();
    if (typeof ps !== 'number') for (const p of ps) if (!p.fdOnly) parts.push(`path ${JSON.stringify(p.path)} (${p.write ? 'read-write' : 'read-only'})`);
  }
  if (ADDRESS_SYSCALLS[f.name] !== undefined) {
    const ad = f.address();
    if (ad !== null && typeof ad !== 'number') parts.push(`address ${addressText(ad.addr)}`);
  }
  if (SOCKET_SYSCALLS.has(f.name)) parts.push(`domain ${domainName(f.a.i(0))} type ${typeName(f.a.i(1) & SOCK_TYPE_MASK)} protocol ${f.a.i(2)}`);
  else if (SYSCALL_BY_NR.find((s) => s?.name === f.name)?.args[0]?.kind === 'fd') parts.push(`fd ${f.a.i(0)}`);
  if (parts.length === 0) parts.push(`(${[0, 1, 2, 3, 4, 5].map((i) => `0x${f.a.big(i).toString(16)}`).join(', ')})`);
  return parts.join(', ');
}

// ---------------------------------------------------------------------------------------
// Paths

/** The paths of a path syscall, resolved; or -errno (a guest path that cannot be read throws GuestFault). */
function callPaths(k: Kernel, name: string, a: Args): CallPath[] | number {
  const specs = PATH_SYSCALLS[name];
  if (specs === undefined) return [];
  const out: CallPath[] = [];
  for (const s of specs) {
    const ptr = a.ptr(s.ptr);
    if (s.nullable && ptr === 0) { out.push({ path: '', write: isWrite(s, a), fdOnly: true, ptr, slot: s.slot }); continue; }
    const text = k.mem.readCString(ptr, PATH_MAX);
    if (text === null) return -ENAMETOOLONG;
    if (text.length === 0) {
      if (s.emptyFlags !== undefined && (a.i(s.emptyFlags) & AT_EMPTY_PATH)) { out.push({ path: '', write: isWrite(s, a), fdOnly: true, ptr, slot: s.slot }); continue; }
      return -ENOENT;
    }
    const dfd = s.dirfd === undefined ? AT_FDCWD : a.i(s.dirfd);
    const r = resolvePath(k, dfd, text.toString('latin1'), follows(s, a));
    // The resolved path can be longer than the guest's (a relative name in a deep cwd).
    const errno = r.errno ?? (Buffer.byteLength(r.host!, 'latin1') >= PATH_MAX ? ENAMETOOLONG : undefined);
    out.push({ path: r.check, write: isWrite(s, a), fdOnly: false, ptr, slot: s.slot,
      ...(errno !== undefined ? { errno } : { host: Buffer.from(r.host!, 'latin1') }) });
  }
  return out;
}

function isWrite(s: PathArg, a: Args): boolean {
  return s.write === 'open' ? (a.i(s.openFlags!) & OPEN_WRITE_FLAGS) !== 0 : s.write;
}

function follows(s: PathArg, a: Args): boolean {
  if (typeof s.follow === 'boolean') return s.follow;
  const flags = a.i(s.follow.flags);
  if (s.follow.followBit !== undefined) return (flags & s.follow.followBit) !== 0;
  // open(O_CREAT|O_EXCL) never follows a final symlink either.
  if (s.write === 'open' && (flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) return false;
  return (flags & s.follow.nofollow!) === 0;
}

/** VMM buffers for the resolution's host calls (one call at a time). */
const PBUF = Buffer.alloc(PATH_MAX + 1);
const PADDR = addressOf(PBUF);
const HOW = Buffer.alloc(OPEN_HOW_SIZE_VER0);
const HOW_ADDR = addressOf(HOW);

/** An O_PATH fd for `p` relative to host dir fd `dir` (no magic links), or -errno. */
function opath(dir: number, p: string, flags: number): number {
  const n = Buffer.byteLength(p, 'latin1');
  if (n >= PATH_MAX) return -ENAMETOOLONG;
  PBUF.write(p, 0, 'latin1');
  PBUF[n] = 0;
  HOW.fill(0);
  HOW.writeUInt32LE((O_PATH | O_CLOEXEC | flags) >>> 0, OPEN_HOW.flags);
  HOW.writeUInt32LE(RESOLVE_NO_MAGICLINKS, OPEN_HOW.resolve);
  return sys(HOST.openat2, dir, PADDR, HOW_ADDR, OPEN_HOW_SIZE_VER0);
}

/** The name of O_PATH fd `fd` (then closed). */
function nameOf(fd: number): string {
  const s = hostFdPath(fd);
  sys(HOST.close, fd);
  return s;
}

const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** An absolute path with "//", "." and ".." folded (symlinks are not looked at). */
export function foldPath(p: string): string {
  const parts: string[] = [];
  for (const c of p.split('/')) {
    if (c === '..') parts.pop();
    else if (c !== '' && c !== '.') parts.push(c);
  }
  return '/' + parts.join('/');
}

/**
 * Resolves guest path `raw` relative to guest dirfd `dfd` as the kernel will: `check` is
 * the absolute path with every symlink and ".." resolved (the last component only when
 * `follow`), `host` what the handler passes on. On failure, `errno` and the lexical path.
 */
export function resolvePath(k: Kernel, dfd: number, raw: string, follow: boolean): { check: string; host?: string; errno?: number } {
  const absolute = raw.startsWith('/');
  let base = AT_FDCWD;
  if (!absolute && dfd !== AT_FDCWD) {
    base = k.fds.get(dfd);
    if (base < 0) return { check: foldPath(`/${raw}`), errno: EBADF };
  }
  const lexical = () => foldPath(`${absolute ? '' : base === AT_FDCWD ? cwdPath() : hostFdPath(base)}/${raw}`);
  const trailing = raw.length > 1 && raw.endsWith('/') ? '/' : '';
  const s = raw.replace(/\/+$/, '') || '/';
  if (s === '/') return { check: '/', host: '/' };
  const i = s.lastIndexOf('/');
  const parent = i < 0 ? '.' : i === 0 ? '/' : s.slice(0, i);
  const last = s.slice(i + 1);
  const pfd = opath(base, parent, O_DIRECTORY);
  if (pfd < 0) return { check: lexical(), errno: -pfd };
  const dir = nameOf(pfd);
  if (!dir.startsWith('/')) return { check: lexical(), errno: ENOENT };
  if (last === '.' || last === '..') {
    // The kernel treats a final "." or ".." itself (EBUSY, EINVAL...): the host gets it as is.
    const t = last === '.' ? dir : dir.slice(0, dir.lastIndexOf('/')) || '/';
    return { check: t, host: join(dir, last) + trailing };
  }
  const full = join(dir, last);
  if (follow) {
    const f = opath(AT_FDCWD, full, 0);
    if (f >= 0) {
      const target = nameOf(f);
      if (target.startsWith('/')) return { check: target, host: target + (target === '/' ? '' : trailing) };
      return { check: full, errno: ENOENT };
    }
    const nf = opath(AT_FDCWD, full, O_NOFOLLOW);
    if (nf >= 0) {
      // A symlink whose target does not resolve (dangling, or a loop): nothing to check
      // the target against, so the call fails as it does for a missing file.
      sys(HOST.close, nf);
      return { check: full, errno: -f };
    }
  }
  return { check: full, host: full + trailing };
}

// ---------------------------------------------------------------------------------------
// Socket addresses

/** The destination/bound address of bind, connect, sendto, sendmsg: null without one, or -errno (unreadable memory throws GuestFault). */
function callAddress(k: Kernel, name: string, a: Args): { addr: SockAddr; ptr: number; bytes: Uint8Array } | null | number {
  const where = ADDRESS_SYSCALLS[name];
  if (where === undefined) return null;
  let ptr: number, len: number;
  if (name === 'sendmsg') {
    const m = k.mem.read(a.ptr(1), MSGHDR.SIZE);
    ptr = m.readUInt32LE(MSGHDR.msg_name) + m.readUInt32LE(MSGHDR.msg_name + 4) * 2 ** 32;
    if (ptr === 0) return null;
    len = m.readInt32LE(MSGHDR.msg_namelen);
    if (len < 0) return -EINVAL;
    if (len > SOCKADDR_MAX) len = SOCKADDR_MAX;   // as the handler clamps it
  } else {
    ptr = a.ptr(where[0]);
    len = a.i(where[1]);
    if (where[2] && ptr === 0) return null;
    if (len < 0 || len > SOCKADDR_MAX) return -EINVAL;
  }
  const bytes = k.mem.read(ptr, len);
  let addr = decodeSockaddr(bytes, len);
  if (addr.family === 'unix' && addr.path !== '' && !addr.path.startsWith('@')) {
    // A socket file is a path: resolved like any other (bind creates it: not followed).
    const r = resolvePath(k, AT_FDCWD, addr.path, name !== 'bind');
    addr = { family: 'unix', path: r.check };
  }
  return { addr, ptr, bytes };
}

// ---------------------------------------------------------------------------------------
// Learn mode

/** What learn mode records (src/policy/learn.ts builds the policy from it). */
export interface Observer {
  call(name: string): void;
  path(name: string, path: string, write: boolean, fdOnly: boolean): void;
  socket(name: string, domain: number, type: number, protocol: number): void;
  address(name: string, addr: string | null): void;
  fd(name: string, fd: number): void;
}

/** Learn mode: records the call's facts, pins them as a checked call would be, and allows it. */
export function observe(k: Kernel, nr: number, a: Args, o: Observer): Outcome {
  unpin();
  const name = SYSCALL_BY_NR[nr]?.name ?? `syscall ${nr}`;
  o.call(name);
  const f = new Facts(k, name, a);
  if (PATH_SYSCALLS[name] !== undefined) {
    const ps = f.paths();
    if (typeof ps !== 'number') for (const p of ps) o.path(name, p.path, p.write, p.fdOnly);
  }
  if (ADDRESS_SYSCALLS[name] !== undefined) {
    const ad = f.address();
    // connect(AF_UNSPEC) only dissolves an association: it passes every address rule.
    if (typeof ad !== 'number') o.address(name, ad === null || (ad.addr.family === 'unspec' && name === 'connect') ? null : addressText(ad.addr));
  }
  if (SOCKET_SYSCALLS.has(name)) o.socket(name, a.i(0), a.i(1) & SOCK_TYPE_MASK, a.i(2));
  if (SYSCALL_BY_NR[nr]?.args[0]?.kind === 'fd') o.fd(name, a.i(0));
  const r = pinFacts(f);
  return r === undefined ? { code: ALLOW, errno: 0 } : { code: ALLOW, errno: 0, result: r };
}
