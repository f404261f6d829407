/**
 * Paths, files and directories: open and its variants, stat/statx, access, directory
 * listings, the working directory, creating, renaming, linking and removing entries,
 * permissions, owners, times, truncate, statfs, mknod, reading extended attributes.
 *
 * Paths are copied out of guest memory (at most PATH_MAX, with their NUL) into VMM
 * buffers before anything looks at them, and the host reads only those copies: the guest
 * cannot change a path between torov's checks and the host's use of it. Output structs
 * (stat, statx, statfs, dirents, link targets, the cwd) are written by the host straight
 * into guest memory that k.mem.host() has checked writable for their full size.
 * dirfd and fd arguments go through the fd table; results that are fds are installed in it.
 */
import { existsSync } from 'node:fs';
import { accessNode, Found, fold, listing, lookup, mayBeInTrees, openNode, readlinkNode, statfsOf, statNode, statOpen } from './synthetic';
import { packDirents } from './procfs';
import type { SyntheticFile } from './fdtable';
import { fdLink, hostFdPath } from './hostproc';
import { Handler, HandlerTable, Kernel, Args } from './api';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { E2BIG, EACCES, EBADF, EINVAL, ENAMETOOLONG, ENODATA, ENOENT, ENOSYS, ENOTDIR, EPERM, ERANGE, fail } from '../linux/errno';

import {
  AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_STATX_DONT_SYNC, AT_STATX_FORCE_SYNC, AT_SYMLINK_NOFOLLOW, SEEK_CUR, SEEK_SET, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_NOCTTY, O_NOFOLLOW, O_PATH, O_TRUNC, O_WRONLY, OPEN_HOW_SIZE_VER0 as OPEN_HOW_SIZE,
  PATH_MAX, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, VALID_OPEN_FLAGS, __O_TMPFILE,
} from '../linux/fcntl';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK, S_ISGID, S_ISUID } from '../linux/stat';
import { OPEN_HOW, STAT, STATFS, STATX, TIMESPEC, UTIMBUF } from '../linux/structs';

const SLASH = 0x2f;
/** The flags O_PATH keeps (fs/open.c: O_PATH_FLAGS). */
const O_PATH_FLAGS = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;
/** Sizes of what the host writes into guest memory (x86-64). */
const STAT_SIZE = STAT.SIZE, STATX_SIZE = STATX.SIZE, STATFS_SIZE = STATFS.SIZE;
/** utimensat's timespec[2] and utimes' timeval[2] (both 2 x 16 bytes); utime's struct utimbuf. */
const TIMES_SIZE = 2 * TIMESPEC.SIZE, UTIMBUF_SIZE = UTIMBUF.SIZE;

// ---------------------------------------------------------------------------------------
// Paths

/**
 * VMM buffers for the paths of one call (at most two) and for paths torov builds itself.
 * Permanent and referenced from the code that uses them, so they stay alive at a fixed
 * address while the host reads them (a Buffer known only by its address would be garbage-
 * collected and its memory reused). Handlers run one at a time, so one set is enough.
 */
class Slot {
  readonly buf = Buffer.alloc(PATH_MAX + 1);
  readonly addr = addressOf(this.buf);
  /** Copies `s` in with a NUL; returns the host address. */
  set(s: Uint8Array): number { this.buf.set(s); this.buf[s.length] = 0; return this.addr; }
}
const SLOTS = [new Slot(), new Slot()] as const;

/**
 * A guest path, copied into a slot: `addr` is the host address of the copy. `checked`:
 * the path was resolved and checked against the policy's path rules (argcheck.ts).
 */
interface Path { readonly addr: number; readonly text: Buffer; readonly absolute: boolean; readonly checked?: boolean }

/**
 * Paths the policy's argument rules checked for the current call (src/syscalls/argcheck.ts),
 * by slot: the guest pointer they were read from and the resolved absolute path the check
 * approved. The handler uses that copy instead of reading guest memory again, so what the
 * host gets is what was checked (no time-of-check/time-of-use gap). Cleared after the call.
 */
export const PINNED_PATHS: [PinnedPath | undefined, PinnedPath | undefined] = [undefined, undefined];
export interface PinnedPath { readonly ptr: number; readonly text: Buffer }

/**
 * Path argument at guest address `ptr`: copied (EFAULT if unreadable, ENAMETOOLONG without
 * a NUL within PATH_MAX) and, unless `guard` is false, refused if it is in torov's /proc or
 * /sys (guardProc: the calls that know those trees look there themselves). A path pinned
 * by the argument check for this slot and pointer is used as it was checked.
 * A relative path from a directory of those trees (guest dirfd `dfd`, or the cwd when it
 * is one) is made absolute: the host has no such directory to resolve it from. `dfd` null:
 * the path is text, not resolved (a symlink's target).
 */
function path(k: Kernel, ptr: number, slot: 0 | 1 = 0, guard = true, dfd: number | null = AT_FDCWD): Path {
  const pin = PINNED_PATHS[slot];
  const checked = pin !== undefined && pin.ptr === ptr;
  const text = checked ? pin.text : k.mem.readCString(ptr, PATH_MAX) ?? fail(ENAMETOOLONG);
  let p: Path = { addr: SLOTS[slot].set(text), text, absolute: text[0] === SLASH, checked };
  if (!p.absolute && text.length > 0 && dfd !== null) {
    const base = treeDir(k, dfd);
    if (base !== undefined) p = absolutePath(SLOTS[slot], fold(`${base}/${text.toString('latin1')}`));
  }
  if (guard) guardProc(k, p);
  return p;
}

/** The path of the directory of torov's trees that guest dirfd `dfd` (AT_FDCWD: the cwd) is, else undefined. */
function treeDir(k: Kernel, dfd: number): string | undefined {
  if (dfd === AT_FDCWD) return k.fds.synCwd;
  const f = k.fds.synthetic.size === 0 ? undefined : k.fds.synthetic.get(dfd);
  return f?.dir ? f.path : undefined;
}

/** Absolute path `text`, copied into `slot` (it must fit: paths torov folds are no longer than PATH_MAX). */
function absolutePath(slot: Slot, text: string): Path {
  const b = Buffer.from(text, 'latin1');
  if (b.length > PATH_MAX) fail(ENAMETOOLONG);
  return { addr: slot.set(b), text: b, absolute: true };
}

/** A path argument that may be NULL when `flags` has AT_EMPTY_PATH (statx, fstatat since Linux 6.11): NULL reads as "". */
function pathOrEmpty(k: Kernel, ptr: number, flags: number, guard = true, dfd = AT_FDCWD): Path {
  return ptr === 0 && (flags & AT_EMPTY_PATH) ? EMPTY : path(k, ptr, 0, guard, dfd);
}
/** "" for the host. `text` views the same memory: a buffer only known by its address would be garbage-collected. */
const EMPTY: Path = (() => { const b = Buffer.alloc(1); return { addr: addressOf(b), text: b.subarray(0, 0), absolute: false }; })();

/** Host dirfd for guest `fd` with path `p`: AT_FDCWD as is, others through the fd table (EBADF); unused for an absolute path, as in Linux. */
function dirfd(k: Kernel, fd: number, p: Path | null): number {
  if (fd === AT_FDCWD || p?.absolute) return AT_FDCWD;
  const h = k.fds.get(fd);
  return h < 0 ? fail(EBADF) : h;
}

/** Host fd for guest fd argument n (EBADF if not open). */
function fdArg(k: Kernel, a: Args, n: number): number {
  const h = k.fds.get(a.i(n));
  return h < 0 ? fail(EBADF) : h;
}

/** Host address of guest output buffer [ptr, ptr+len), checked writable. */
const out = (k: Kernel, ptr: number, len: number) => k.mem.host(ptr, len, true);
/** Host address of an optional guest input struct (NULL stays NULL). */
const optIn = (k: Kernel, ptr: number, len: number) => (ptr === 0 ? 0 : k.mem.host(ptr, len, false));

/** Whether ASCII `word` occurs in `b` (a byte loop: cheaper than Buffer#includes on short paths). */
function has(b: Uint8Array, word: string): boolean {
  const c0 = word.charCodeAt(0), n = word.length;
  for (let i = b.indexOf(c0); i >= 0 && i + n <= b.length; i = b.indexOf(c0, i + 1)) {
    let j = 1;
    while (j < n && b[i + j] === word.charCodeAt(j)) j++;
    if (j === n) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// /proc and /sys
//
// Both are torov's (src/syscalls/synthetic.ts): the calls that look at files (open, the
// stat family, access, readlink, chdir, getcwd, getdents, statfs, reading extended
// attributes) look a path up there first, and a path in those trees never reaches the
// host; every other call with such a path (mkdir, unlink, chmod...) is EACCES (guardProc).
// A guest path lexically under /proc is therefore never the host's /proc, which would be
// the VMM's own process (its memory, its fds: /dev/kvm, Node's) or other host processes
// without a sandbox. What is left is a route the host resolves: a symlink, a dirfd or a
// cwd leading into the host's /proc, which only a run without a sandbox has (the jail has
// no /proc). For open, what the host opened is checked (the new fd's /proc/self/fd link),
// and refused if it is in the VMM's own /proc; opens also resolve with
// RESOLVE_NO_MAGICLINKS, so no route reaches the VMM's fds through /proc/<pid>/fd magic
// links; /dev/stdin, /dev/stdout, /dev/stderr and /dev/fd/N are the guest's own fds, so
// torov opens those itself. Not covered: calls other than open that reach the host's
// /proc through such a route (stat, readlink...) without a sandbox.

/** Whether `pid` is the VMM process or one of its threads. */
const isVmmTask = (pid: number) => pid === process.pid || existsSync(`/proc/${process.pid}/task/${pid}`);

/** Whether folded absolute path `p` is in the VMM's own /proc directory. */
function inVmmProc(p: string): boolean {
  const m = /^\/proc\/([^/]+)(?:\/|$)/.exec(p);
  if (!m) return false;
  const who = m[1]!;
  return who === 'self' || who === 'thread-self' || (/^\d+$/.test(who) && isVmmTask(Number(who)));
}

function refuse(k: Kernel, what: string): never {
  k.note(`proc:${what}`, `${what}: the VMM's own /proc is not available to the program: returned EACCES`);
  return fail(EACCES);
}

/** A call that does not look into torov's trees was given a path in them: EACCES (they hold nothing it could change). */
function guardProc(_k: Kernel, p: Path): void {
  if (!maybeSynthetic(p)) return;
  const f = fold(p.text.toString('latin1'));
  if (f === '/proc' || f === '/sys' || f.startsWith('/proc/') || f.startsWith('/sys/')) fail(EACCES);
}

/** The bytes of "/proc" and "/sys". */
const PROC = Buffer.from('/proc'), SYS = Buffer.from('/sys');
const startsWith = (b: Uint8Array, w: Uint8Array) => {
  if (b.length < w.length || (b.length > w.length && b[w.length] !== SLASH)) return false;
  for (let i = 1; i < w.length; i++) if (b[i] !== w[i]) return false;
  return true;
};

/**
 * A cheap first test, on the bytes, before any folding or string: whether `p` can be in
 * torov's trees (/proc, /sys and below, or a path beginning "//" or "/." that folding may
 * lead there). Ordinary paths ("/usr/lib/...", "/home/...", relative ones) fail it at once.
 */
function maybeSynthetic(p: Path): boolean {
  if (!p.absolute || p.text.length < 2) return false;
  const c = p.text[1];
  if (c === 0x70 /* p */) return startsWith(p.text, PROC);
  if (c === 0x73 /* s */) return startsWith(p.text, SYS);
  return c === SLASH || c === 0x2e /* . */;
}

/** A third slot: the guest path a link of the trees leads to, for the host call that follows it. */
const OUTSIDE = new Slot();

/**
 * What `p` names in torov's trees (synthetic.ts: lookup), undefined when it is not in them.
 * A link followed out of the trees gives the guest path it leads to as a Path, ready for
 * the host: the caller goes on with that instead of `p`.
 */
function syn(k: Kernel, p: Path, follow: boolean, resolve = 0): Exclude<Found, { outside: string }> | { outside: Path } | undefined {
  if (!maybeSynthetic(p)) return undefined;
  const f = lookup(k, p.text.toString('latin1'), follow, resolve);
  if (f === undefined || typeof f === 'number' || !('outside' in f)) return f;
  // A path out of the trees, folded: never in them again (at most once more for a host
  // /proc path a followed fd names, which the trees then answer as ENOENT).
  if (mayBeInTrees(f.outside)) return -ENOENT;
  return { outside: absolutePath(OUTSIDE, f.outside) };
}

/** The open file of torov's trees behind guest fd `fd`, if it is one. */
const synFile = (k: Kernel, fd: number): SyntheticFile | undefined => (k.fds.synthetic.size === 0 ? undefined : k.fds.synthetic.get(fd));

const fstatBuf = Buffer.alloc(STAT_SIZE), fstatAddr = addressOf(fstatBuf);
/** fstat (statx with `statx`) of guest fd `fd` when it is a file of torov's trees, written to guest `buf` (0); undefined otherwise. */
function synFdStat(k: Kernel, fd: number, buf: number, statx: boolean): number | undefined {
  const f = synFile(k, fd);
  if (!f) return undefined;
  const r = sys(HOST.fstat, k.fds.get(fd), fstatAddr);
  k.mem.write(buf, statOpen(f, r < 0 ? 0 : Number(fstatBuf.readBigInt64LE(STAT.st_size)), statx));
  return 0;
}

/**
 * stat(2), lstat(2), newfstatat(2) (statx(2) when `statx` holds its flags and mask) of
 * guest path `p` from guest dirfd `dfd`, into guest `buf`: a file of torov's trees, an fd
 * of one (AT_EMPTY_PATH), or the host's.
 */
function statAt(k: Kernel, dfd: number, p: Path, buf: number, flags: number, statx?: { mask: number }): number {
  if (p.text.length === 0 && flags & AT_EMPTY_PATH) {
    const r = synFdStat(k, dfd, buf, statx !== undefined);
    if (r !== undefined) return r;
  }
  const f = syn(k, p, !(flags & AT_SYMLINK_NOFOLLOW));
  if (f !== undefined) {
    if (typeof f === 'number') return f;
    if ('node' in f) {
      k.mem.write(buf, statNode(f.node, f.path, statx !== undefined));
      return 0;
    }
    if ('fd' in f) {
      return statx ? sys(HOST.statx, f.fd, EMPTY.addr, AT_EMPTY_PATH | (flags & (AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC)), statx.mask, out(k, buf, STATX_SIZE))
        : sys(HOST.fstat, f.fd, out(k, buf, STAT_SIZE));
    }
    p = f.outside;
  }
  // /dev/fd/N, /dev/stdin...: the guest's own fd (the host's would be the VMM's), as open does.
  const g = flags & AT_SYMLINK_NOFOLLOW ? -1 : devFd(p);
  if (g >= 0) {
    const h = k.fds.get(g);
    if (h < 0) return -ENOENT;
    return statx ? sys(HOST.statx, h, EMPTY.addr, AT_EMPTY_PATH | (flags & (AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC)), statx.mask, out(k, buf, STATX_SIZE))
      : sys(HOST.fstat, h, out(k, buf, STAT_SIZE));
  }
  guardProc(k, p);
  return statx ? sys(HOST.statx, dirfd(k, dfd, p), p.addr, flags, statx.mask, out(k, buf, STATX_SIZE))
    : sys(HOST.newfstatat, dirfd(k, dfd, p), p.addr, out(k, buf, STAT_SIZE), flags);
}

/** access(2), faccessat(2), faccessat2(2) of `p` from `dfd` with faccessat2's `flags`. */
function accessAt(k: Kernel, dfd: number, p: Path, mode: number, flags: number): number {
  const f = syn(k, p, !(flags & AT_SYMLINK_NOFOLLOW));
  if (f !== undefined) {
    if (typeof f === 'number') return f;
    if ('node' in f) return accessNode(k, f.node, mode);
    if ('fd' in f) return sys(HOST.faccessat2, f.fd, EMPTY.addr, mode, AT_EMPTY_PATH | (flags & AT_EACCESS));
    p = f.outside;
  }
  const g = flags & AT_SYMLINK_NOFOLLOW ? -1 : devFd(p);
  if (g >= 0) {
    const h = k.fds.get(g);
    return h < 0 ? -ENOENT : sys(HOST.faccessat2, h, EMPTY.addr, mode, AT_EMPTY_PATH | (flags & AT_EACCESS));
  }
  guardProc(k, p);
  return flags === 0 ? sys(HOST.faccessat, dirfd(k, dfd, p), p.addr, mode) : sys(HOST.faccessat2, dirfd(k, dfd, p), p.addr, mode, flags);
}

/** The guest fd that /dev/stdin, /dev/stdout, /dev/stderr or /dev/fd/N names, or -1. */
function devFd(p: Path): number {
  if (!p.absolute || !has(p.text, 'dev')) return -1;
  const f = fold(p.text.toString('latin1'));
  const std = ['/dev/stdin', '/dev/stdout', '/dev/stderr'].indexOf(f);
  if (std >= 0) return std;
  const m = /^\/dev\/fd\/(\d{1,9})$/.exec(f);
  return m ? Number(m[1]) : -1;
}

export { useProcDir, cwdPath, hostFdPath } from './hostproc';

// ---------------------------------------------------------------------------------------
// open

/** open_how for the host's openat2 (flags, mode, resolve: three u64). */
const HOW = Buffer.alloc(OPEN_HOW_SIZE);
const HOW_ADDR = addressOf(HOW);
function setU64(b: Buffer, off: number, v: number): void {
  b.writeUInt32LE(v >>> 0, off);
  b.writeUInt32LE(Math.floor(v / 2 ** 32) >>> 0, off + 4);
}

/**
 * Opens guest path `p` relative to guest dirfd `dfd` on the host (always O_CLOEXEC and
 * O_NOCTTY there: the guest's close-on-exec lives in the fd table, and a guest tty must
 * not become the VMM's controlling terminal) and installs the host fd at the lowest free
 * guest fd. `resolve` holds the guest's openat2 RESOLVE_* flags (0 for open/openat).
 */
function openFile(k: Kernel, dfd: number, p: Path, flags: number, mode: number, resolve: number): number {
  // torov's /proc and /sys first (the callers' path() left the guard to this).
  let reopen = -1;
  const f = syn(k, p, !(flags & O_NOFOLLOW), resolve);
  if (f !== undefined) {
    if (typeof f === 'number') return f;
    if ('node' in f) {
      const o = openNode(k, f.node, f.path, flags);
      if (typeof o === 'number') return o;
      const fd = k.fds.add(o.h, (flags & O_CLOEXEC) !== 0);
      if (fd < 0) sys(HOST.close, o.h); else k.fds.synthetic.set(fd, o.file);
      return fd;
    }
    if ('fd' in f) reopen = f.fd;
    else p = f.outside;
  }
  if (reopen < 0) guardProc(k, p);
  let dir: number, addr: number;
  const g = reopen >= 0 ? -1 : devFd(p);
  if (reopen >= 0) {
    // A process's fd or cwd (/proc/PID/fd/N, /proc/PID/cwd): a new open of what it has open.
    ({ dir, addr } = fdLink(reopen));
  } else if (g >= 0) {
    // The guest's own fd, reopened through the VMM's /proc/self/fd (as Linux does for it).
    const h = k.fds.get(g);
    if (h < 0) return -ENOENT;
    const own = synFile(k, g);
    if (own) return openFile(k, AT_FDCWD, absolutePath(OUTSIDE, own.path), flags, mode, resolve);
    ({ dir, addr } = fdLink(h));
  } else {
    dir = dirfd(k, dfd, p);
    addr = p.addr;
    resolve |= RESOLVE_NO_MAGICLINKS;
    // A checked path is absolute with every symlink already resolved (the last component
    // only when it is not followed): a symlink appearing since the check fails the open
    // (ELOOP) instead of leading elsewhere.
    if (p.checked) resolve |= RESOLVE_NO_SYMLINKS;
  }
  // O_PATH takes only O_PATH_FLAGS (openat2 refuses others), and needs no O_NOCTTY.
  const hostFlags = (flags | O_CLOEXEC | (flags & O_PATH ? 0 : O_NOCTTY)) >>> 0;
  setU64(HOW, OPEN_HOW.flags, hostFlags);
  setU64(HOW, OPEN_HOW.mode, noSetId(mode));
  setU64(HOW, OPEN_HOW.resolve, resolve);
  let h = sys(HOST.openat2, dir, addr, HOW_ADDR, OPEN_HOW_SIZE);
  if (h === -ENOSYS && (resolve & ~RESOLVE_NO_MAGICLINKS) === 0) {
    // A host older than Linux 5.6: plain openat (without the magic-link guard).
    h = sys(HOST.openat, dir, addr, hostFlags, noSetId(mode));
  }
  if (h < 0) return h;
  const where = hostFdPath(h);
  if (where.startsWith('/proc/') && inVmmProc(where)) {
    sys(HOST.close, h);
    return refuse(k, where);
  }
  const fd = k.fds.add(h, (flags & O_CLOEXEC) !== 0);
  if (fd < 0) sys(HOST.close, h);
  return fd;
}

/**
 * No set-id bits from a guest on host files. The VMM acts on the host as a real user
 * (root, when a root-owned volume is writable), so a set-user-ID or set-group-ID file the
 * guest leaves in a volume would run with that user's rights for whoever runs it on the
 * host later. Every mode the guest gives (chmod family, open and mknod's creation modes,
 * mkdir's) loses S_ISUID and S_ISGID, silently, as Linux's chmod drops S_ISGID for a caller
 * outside the file's group; a file a rename moves keeps neither (dropSetId). The volumes
 * are also mounted nosuid (src/sandbox/jail.ts), so no set-id bit takes effect through them.
 */
const SETID = S_ISUID | S_ISGID;
const noSetId = (mode: number) => mode & ~SETID;

/** struct stat for dropSetId. */
const setIdStat = Buffer.alloc(STAT_SIZE);
const setIdStatAddr = addressOf(setIdStat);

/**
 * After a rename: the regular file now at host path `addr` (relative to host dirfd `dir`)
 * loses its set-id bits, should it have any (one planted in a volume from the host side).
 */
function dropSetId(dir: number, addr: number): void {
  if (sys(HOST.newfstatat, dir, addr, setIdStatAddr, AT_SYMLINK_NOFOLLOW) < 0) return;
  const mode = setIdStat.readUInt32LE(STAT.st_mode);
  if ((mode & S_IFMT) === S_IFREG && (mode & SETID)) sys(HOST.fchmodat, dir, addr, noSetId(mode & 0o7777));
}

/** A rename's result: on success, neither name holds a set-id file afterwards (RENAME_EXCHANGE swaps both). */
function renamed(r: number, od: number, o: Path, nd: number, n: Path): number {
  if (r === 0) { dropSetId(nd, n.addr); dropSetId(od, o.addr); }
  return r;
}

/** open(2)/openat(2)/creat(2): flags and mode as the kernel's build_open_how keeps them. */
function openLegacy(k: Kernel, dfd: number, p: Path, flags: number, mode: number): number {
  flags &= VALID_OPEN_FLAGS;
  if (flags & O_PATH) flags &= O_PATH_FLAGS;
  mode = flags & (O_CREAT | __O_TMPFILE) ? mode & 0o7777 : 0;
  return openFile(k, dfd, p, flags, mode, 0);
}

/** Implements openat2(2): struct open_how is read (extensible: trailing bytes must be zero). */
const sysOpenat2: Handler = (k, a) => {
  const size = a.n(3);
  if (size < OPEN_HOW_SIZE) return -EINVAL;
  if (size > PATH_MAX) return -E2BIG;
  const how = k.mem.read(a.ptr(2), size);
  if (how.subarray(OPEN_HOW_SIZE).some((b) => b !== 0)) return -E2BIG;
  // Flags and resolve bits above 32 are unknown to Linux: EINVAL. A bad mode is the host's to refuse.
  if (how.readUInt32LE(OPEN_HOW.flags + 4) !== 0 || how.readUInt32LE(OPEN_HOW.resolve + 4) !== 0) return -EINVAL;
  const mode = how.readUInt32LE(OPEN_HOW.mode) + how.readUInt32LE(OPEN_HOW.mode + 4) * 2 ** 32;
  const p = path(k, a.ptr(1), 0, false, a.i(0));
  return openFile(k, a.i(0), p, how.readUInt32LE(OPEN_HOW.flags), mode, how.readUInt32LE(OPEN_HOW.resolve));
};

// ---------------------------------------------------------------------------------------
// readlink, getcwd, mknod

/** readlink(2)/readlinkat(2); the links of torov's /proc are its own (exe is the program as the guest named it). */
function readlink(k: Kernel, dfd: number, ptr: number, buf: number, size: number): number {
  if (size <= 0) return -EINVAL;
  let p = path(k, ptr, 0, false, dfd);
  const f = syn(k, p, false);
  if (f !== undefined) {
    if (typeof f === 'number') return f;
    if ('fd' in f) return -EINVAL;
    if ('node' in f) {
      const t = readlinkNode(f.node);
      if (typeof t === 'number') return t;
      const b = Buffer.from(t, 'latin1').subarray(0, Math.min(size, PATH_MAX));
      k.mem.write(buf, b);
      return b.length;
    }
    p = f.outside;
  }
  guardProc(k, p);
  // A link target is at most PATH_MAX bytes: a larger size needs no more guest memory.
  const n = Math.min(size, PATH_MAX);
  return sys(HOST.readlinkat, dirfd(k, dfd, p), p.addr, out(k, buf, n), n);
}

/** The longest extended attribute name, and the largest value or list (linux/limits.h: XATTR_NAME_MAX, XATTR_SIZE_MAX, XATTR_LIST_MAX). */
const XATTR_NAME_MAX = 255, XATTR_SIZE_MAX = 65536;

/** An extended attribute's name, copied into path slot 1 (ERANGE when longer than XATTR_NAME_MAX, as Linux). */
function xattrName(k: Kernel, ptr: number): number {
  const name = k.mem.readCString(ptr, XATTR_NAME_MAX + 1) ?? fail(ERANGE);
  if (name.length === 0) fail(ERANGE);
  return SLOTS[1].set(name);
}

/** A value or list buffer of `size` bytes (size 0 asks for the size: no buffer), checked writable. */
const xattrOut = (k: Kernel, ptr: number, size: number) => (size === 0 ? 0 : out(k, ptr, Math.min(size, XATTR_SIZE_MAX)));

/**
 * getxattr(2), lgetxattr(2), listxattr(2), llistxattr(2): reading extended attributes (ls
 * asks for SELinux labels and ACLs). Setting and removing them is not supported (ENOSYS).
 */
function xattrGet(k: Kernel, a: Args, nr: number): number {
  const p = path(k, a.ptr(0), 0, false);
  const f = syn(k, p, nr !== HOST.lgetxattr);
  if (f !== undefined) return typeof f === 'number' ? f : -ENODATA;
  guardProc(k, p);
  const size = a.n(3);
  return sys(nr, p.addr, xattrName(k, a.ptr(1)), xattrOut(k, a.ptr(2), size), Math.min(size, XATTR_SIZE_MAX));
}
function xattrList(k: Kernel, a: Args, nr: number): number {
  const p = path(k, a.ptr(0), 0, false);
  const f = syn(k, p, nr !== HOST.llistxattr);
  if (f !== undefined) return typeof f === 'number' ? f : 0;
  guardProc(k, p);
  const size = a.n(2);
  return sys(nr, p.addr, xattrOut(k, a.ptr(1), size), Math.min(size, XATTR_SIZE_MAX));
}

/** mknod(2)/mknodat(2): regular files and FIFOs only; devices and sockets are EPERM. */
function mknod(k: Kernel, dfd: number, ptr: number, mode: number): number {
  const p = path(k, ptr, 0, true, dfd);
  switch (mode & S_IFMT) {
    case 0: case S_IFREG: case S_IFIFO:
      return sys(HOST.mknodat, dirfd(k, dfd, p), p.addr, noSetId(mode), 0);
    case S_IFDIR: case S_IFCHR: case S_IFBLK: case S_IFSOCK:
      return -EPERM;
    default:
      return -EINVAL;
  }
}

/** utimensat(2)/futimesat(2): a NULL path means the dirfd itself. */
function utimesAt(k: Kernel, nr: number, a: Args, withFlags: boolean): number {
  const ptr = a.ptr(1);
  const p = ptr === 0 ? null : path(k, ptr, 0, true, a.i(0));
  const times = optIn(k, a.ptr(2), TIMES_SIZE);
  return sys(nr, dirfd(k, a.i(0), p), p ? p.addr : 0, times, withFlags ? a.i(3) : 0);
}

// ---------------------------------------------------------------------------------------
// The table. Each entry implements the Linux syscall of its name on the host, with the
// paths, fds and buffers translated as above. The helpers throw SysError (fail(), and
// GuestFault for guest memory); dispatch turns it into -errno (see api.ts).

/** After a chdir: the process's recorded cwd (kept while others run, see Dispatcher) is stale, and it is no longer in torov's trees. */
function cwdChanged(k: Kernel, r: number): number {
  const p = k.process;
  if (r === 0) {
    if (p.cwdFd >= 0) { sys(HOST.close, p.cwdFd); p.cwdFd = -1; }
    k.fds.synCwd = undefined;
  }
  return r;
}

/** chdir(2): into a directory of torov's trees (kept as the fd table's synCwd: the host's cwd stays where it was), or the host's. */
function chdir(k: Kernel, ptr: number): number {
  let p = path(k, ptr, 0, false);
  const f = syn(k, p, true);
  if (f !== undefined) {
    if (typeof f === 'number') return f;
    if ('node' in f) {
      if (f.node.t !== 'dir') return -ENOTDIR;
      k.fds.synCwd = f.path;
      return 0;
    }
    if ('fd' in f) return cwdChanged(k, sys(HOST.fchdir, f.fd));
    p = f.outside;
  }
  guardProc(k, p);
  return cwdChanged(k, sys(HOST.chdir, p.addr));
}

/**
 * getdents64(2) and getdents(2) (`legacy`) of a directory of torov's trees: its entries
 * from the position on, as many as fit in `count` bytes (EINVAL if not even one does).
 */
function readTreeDir(k: Kernel, f: SyntheticFile, buf: number, count: number, legacy: boolean): number {
  const d = f.dir;
  if (!d) return -ENOTDIR;
  if (d.entries === undefined) {
    const l = listing(k, f);
    if (typeof l === 'number') return l;
    d.entries = l;
  }
  if (d.pos >= d.entries.length) return 0;
  const { bytes, next } = packDirents(d.entries, d.pos, count, legacy);
  if (bytes.length === 0) return -EINVAL;
  k.mem.write(buf, bytes);
  d.pos = next;
  return bytes.length;
}

/**
 * lseek(2) on a directory of torov's trees: SEEK_SET to a position getdents gave (0 makes
 * the listing anew, as a rewinddir expects fresh entries), SEEK_CUR by 0 to ask where it is.
 * Undefined when guest fd `fd` is not such a directory.
 */
export function seekTreeDir(k: Kernel, fd: number, offset: number, whence: number): number | undefined {
  const d = synFile(k, fd)?.dir;
  if (!d) return undefined;
  if (whence === SEEK_SET && offset >= 0) {
    d.pos = offset;
    if (offset === 0) d.entries = undefined;
    return offset;
  }
  if (whence === SEEK_CUR && offset === 0) return d.pos;
  return -EINVAL;
}

export const fsHandlers: HandlerTable = {
  /** Implements open(2). */
  open: (k, a) => openLegacy(k, AT_FDCWD, path(k, a.ptr(0), 0, false), a.i(1), a.u(2)),
  /** Implements openat(2). */
  openat: (k, a) => openLegacy(k, a.i(0), path(k, a.ptr(1), 0, false, a.i(0)), a.i(2), a.u(3)),
  openat2: sysOpenat2,
  /** Implements creat(2): open(O_CREAT | O_WRONLY | O_TRUNC). */
  creat: (k, a) => openLegacy(k, AT_FDCWD, path(k, a.ptr(0), 0, false), O_CREAT | O_WRONLY | O_TRUNC, a.u(1)),

  /** Implements stat(2), lstat(2), fstat(2), newfstatat(2) and statx(2). */
  stat: (k, a) => statAt(k, AT_FDCWD, path(k, a.ptr(0), 0, false), a.ptr(1), 0),
  lstat: (k, a) => statAt(k, AT_FDCWD, path(k, a.ptr(0), 0, false), a.ptr(1), AT_SYMLINK_NOFOLLOW),
  fstat: (k, a) => synFdStat(k, a.i(0), a.ptr(1), false) ?? sys(HOST.fstat, fdArg(k, a, 0), out(k, a.ptr(1), STAT_SIZE)),
  newfstatat: (k, a) => statAt(k, a.i(0), pathOrEmpty(k, a.ptr(1), a.i(3), false, a.i(0)), a.ptr(2), a.i(3)),
  statx: (k, a) => statAt(k, a.i(0), pathOrEmpty(k, a.ptr(1), a.i(2), false, a.i(0)), a.ptr(4), a.i(2), { mask: a.u(3) }),
  /** Implements statfs(2) and fstatfs(2); torov's /proc and /sys are proc and sysfs. */
  statfs: (k, a) => {
    let p = path(k, a.ptr(0), 0, false);
    const f = syn(k, p, true);
    if (f !== undefined) {
      if (typeof f === 'number') return f;
      if ('node' in f) { k.mem.write(a.ptr(1), statfsOf(f.path)); return 0; }
      if ('fd' in f) return sys(HOST.fstatfs, f.fd, out(k, a.ptr(1), STATFS_SIZE));
      p = f.outside;
    }
    guardProc(k, p);
    return sys(HOST.statfs, p.addr, out(k, a.ptr(1), STATFS_SIZE));
  },
  fstatfs: (k, a) => {
    const f = synFile(k, a.i(0));
    if (f) { k.mem.write(a.ptr(1), statfsOf(f.path)); return 0; }
    return sys(HOST.fstatfs, fdArg(k, a, 0), out(k, a.ptr(1), STATFS_SIZE));
  },
  /** Implements getxattr(2), lgetxattr(2), fgetxattr(2), listxattr(2), llistxattr(2) and flistxattr(2). */
  getxattr: (k, a) => xattrGet(k, a, HOST.getxattr),
  lgetxattr: (k, a) => xattrGet(k, a, HOST.lgetxattr),
  fgetxattr: (k, a) => { const size = a.n(3); return sys(HOST.fgetxattr, fdArg(k, a, 0), xattrName(k, a.ptr(1)), xattrOut(k, a.ptr(2), size), Math.min(size, XATTR_SIZE_MAX)); },
  listxattr: (k, a) => xattrList(k, a, HOST.listxattr),
  llistxattr: (k, a) => xattrList(k, a, HOST.llistxattr),
  flistxattr: (k, a) => { const size = a.n(2); return sys(HOST.flistxattr, fdArg(k, a, 0), xattrOut(k, a.ptr(1), size), Math.min(size, XATTR_SIZE_MAX)); },

  /** Implements access(2), faccessat(2) and faccessat2(2). */
  access: (k, a) => accessAt(k, AT_FDCWD, path(k, a.ptr(0), 0, false), a.i(1), 0),
  faccessat: (k, a) => accessAt(k, a.i(0), path(k, a.ptr(1), 0, false, a.i(0)), a.i(2), 0),
  faccessat2: (k, a) => accessAt(k, a.i(0), path(k, a.ptr(1), 0, false, a.i(0)), a.i(2), a.i(3)),

  /** Implements getdents64(2) and getdents(2): the host fills up to `count` bytes of the guest's buffer (torov's trees: readTreeDir). */
  getdents64: (k, a) => { const f = synFile(k, a.i(0)); return f ? readTreeDir(k, f, a.ptr(1), a.u(2), false) : sys(HOST.getdents64, fdArg(k, a, 0), out(k, a.ptr(1), a.u(2)), a.u(2)); },
  getdents: (k, a) => { const f = synFile(k, a.i(0)); return f ? readTreeDir(k, f, a.ptr(1), a.u(2), true) : sys(HOST.getdents, fdArg(k, a, 0), out(k, a.ptr(1), a.u(2)), a.u(2)); },

  /** Implements getcwd(2): returns the length with the NUL, like the raw syscall. The cwd is the VMM's, or a directory of torov's trees. */
  getcwd: (k, a) => {
    const tree = k.fds.synCwd;
    if (tree !== undefined) {
      const b = Buffer.from(`${tree}\0`, 'latin1');
      if (a.n(1) < b.length) return -ERANGE;
      k.mem.write(a.ptr(0), b);
      return b.length;
    }
    // The cwd is at most PATH_MAX bytes with its NUL: a larger size needs no more guest memory.
    const size = a.n(1), n = size < 0 || size > PATH_MAX ? PATH_MAX : size;
    return sys(HOST.getcwd, out(k, a.ptr(0), n), n);
  },
  /** Implements chdir(2) and fchdir(2). */
  chdir: (k, a) => chdir(k, a.ptr(0)),
  fchdir: (k, a) => {
    const f = synFile(k, a.i(0));
    if (f) { if (!f.dir) return -ENOTDIR; k.fds.synCwd = f.path; return 0; }
    return cwdChanged(k, sys(HOST.fchdir, fdArg(k, a, 0)));
  },

  /** Implements mkdir(2), mkdirat(2), rmdir(2), unlink(2) and unlinkat(2). */
  mkdir: (k, a) => { const p = path(k, a.ptr(0)); return sys(HOST.mkdir, p.addr, noSetId(a.u(1))); },
  mkdirat: (k, a) => { const p = path(k, a.ptr(1), 0, true, a.i(0)); return sys(HOST.mkdirat, dirfd(k, a.i(0), p), p.addr, noSetId(a.u(2))); },
  rmdir: (k, a) => { const p = path(k, a.ptr(0)); return sys(HOST.rmdir, p.addr); },
  unlink: (k, a) => { const p = path(k, a.ptr(0)); return sys(HOST.unlink, p.addr); },
  unlinkat: (k, a) => { const p = path(k, a.ptr(1), 0, true, a.i(0)); return sys(HOST.unlinkat, dirfd(k, a.i(0), p), p.addr, a.i(2)); },

  /** Implements rename(2), renameat(2) and renameat2(2); the file moved keeps no set-id bit. */
  rename: (k, a) => {
    const o = path(k, a.ptr(0), 0), n = path(k, a.ptr(1), 1);
    return renamed(sys(HOST.rename, o.addr, n.addr), AT_FDCWD, o, AT_FDCWD, n);
  },
  renameat: (k, a) => {
    const o = path(k, a.ptr(1), 0, true, a.i(0)), n = path(k, a.ptr(3), 1, true, a.i(2)), od = dirfd(k, a.i(0), o), nd = dirfd(k, a.i(2), n);
    return renamed(sys(HOST.renameat, od, o.addr, nd, n.addr), od, o, nd, n);
  },
  renameat2: (k, a) => {
    const o = path(k, a.ptr(1), 0, true, a.i(0)), n = path(k, a.ptr(3), 1, true, a.i(2)), od = dirfd(k, a.i(0), o), nd = dirfd(k, a.i(2), n);
    return renamed(sys(HOST.renameat2, od, o.addr, nd, n.addr, a.u(4)), od, o, nd, n);
  },

  /** Implements link(2), linkat(2), symlink(2) and symlinkat(2). A symlink's target is text: not checked. */
  link: (k, a) => { const o = path(k, a.ptr(0), 0), n = path(k, a.ptr(1), 1); return sys(HOST.link, o.addr, n.addr); },
  linkat: (k, a) => {
    const o = path(k, a.ptr(1), 0, true, a.i(0)), n = path(k, a.ptr(3), 1, true, a.i(2));
    return sys(HOST.linkat, dirfd(k, a.i(0), o), o.addr, dirfd(k, a.i(2), n), n.addr, a.i(4));
  },
  symlink: (k, a) => { const t = path(k, a.ptr(0), 0, false, null), n = path(k, a.ptr(1), 1); return sys(HOST.symlink, t.addr, n.addr); },
  symlinkat: (k, a) => {
    const t = path(k, a.ptr(0), 0, false, null), n = path(k, a.ptr(2), 1, true, a.i(1));
    return sys(HOST.symlinkat, t.addr, dirfd(k, a.i(1), n), n.addr);
  },
  /** Implements readlink(2) and readlinkat(2). */
  readlink: (k, a) => readlink(k, AT_FDCWD, a.ptr(0), a.ptr(1), a.i(2)),
  readlinkat: (k, a) => readlink(k, a.i(0), a.ptr(1), a.ptr(2), a.i(3)),

  /** Implements chmod(2), fchmod(2), fchmodat(2) and fchmodat2(2), without set-id bits (noSetId). */
  chmod: (k, a) => { const p = path(k, a.ptr(0)); return sys(HOST.chmod, p.addr, noSetId(a.u(1))); },
  fchmod: (k, a) => sys(HOST.fchmod, fdArg(k, a, 0), noSetId(a.u(1))),
  fchmodat: (k, a) => { const p = path(k, a.ptr(1), 0, true, a.i(0)); return sys(HOST.fchmodat, dirfd(k, a.i(0), p), p.addr, noSetId(a.u(2))); },
  fchmodat2: (k, a) => { const p = path(k, a.ptr(1), 0, true, a.i(0)); return sys(HOST.fchmodat2, dirfd(k, a.i(0), p), p.addr, noSetId(a.u(2)), a.i(3)); },

  /** Implements chown(2), fchown(2), lchown(2) and fchownat(2) (-1 keeps an id). */
  chown: (k, a) => { const p = path(k, a.ptr(0)); return sys(HOST.chown, p.addr, a.u(1), a.u(2)); },
  fchown: (k, a) => sys(HOST.fchown, fdArg(k, a, 0), a.u(1), a.u(2)),
  lchown: (k, a) => { const p = path(k, a.ptr(0)); return sys(HOST.lchown, p.addr, a.u(1), a.u(2)); },
  fchownat: (k, a) => {
    const p = path(k, a.ptr(1), 0, true, a.i(0));
    return sys(HOST.fchownat, dirfd(k, a.i(0), p), p.addr, a.u(2), a.u(3), a.i(4));
  },

  /** Implements utimensat(2), futimesat(2), utime(2) and utimes(2); NULL times means now. */
  utimensat: (k, a) => utimesAt(k, HOST.utimensat, a, true),
  futimesat: (k, a) => utimesAt(k, HOST.futimesat, a, false),
  utime: (k, a) => { const p = path(k, a.ptr(0)); return sys(HOST.utime, p.addr, optIn(k, a.ptr(1), UTIMBUF_SIZE)); },
  utimes: (k, a) => { const p = path(k, a.ptr(0)); return sys(HOST.utimes, p.addr, optIn(k, a.ptr(1), TIMES_SIZE)); },

  /** Implements truncate(2). */
  truncate: (k, a) => { const p = path(k, a.ptr(0)); return sys(HOST.truncate, p.addr, a.n(1)); },
  /** Implements mknod(2) and mknodat(2). */
  mknod: (k, a) => mknod(k, AT_FDCWD, a.ptr(0), a.u(1)),
  mknodat: (k, a) => mknod(k, a.i(0), a.ptr(1), a.u(2)),
};

