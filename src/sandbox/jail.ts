/**
 * The jail: the guest's filesystem view and the VMM's namespaces, set up inside the
 * sandboxed VMM process, which torov's launcher (src/launcher/launcher.c) started in new
 * user, mount, PID, IPC, UTS and network namespaces.
 *
 * Steps, in the order a jailer must take them:
 *  1. make every mount private, so nothing below propagates to the host;
 *  2. mount a small tmpfs as the new root (it is made read-only at the end);
 *  3. bind the policy's root directory entry by entry (read-only unless writable), the
 *     four safe device nodes, a tmpfs at /tmp when asked, and the --volume mounts;
 *  4. pivot_root into it and detach the old root, so no host path is reachable;
 * It is built over an existing directory (jailMountPoint) of the private mount namespace:
 * nothing is created on the host, and nothing is left there whatever ends the VMM.
 *  5. remount the new root read-only, set the hostname, bring up loopback.
 * Every step that fails throws a SandboxError naming the step and the path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sys, addressOf } from '../host/libc';
import { SYS } from '../linux/syscalls';
import { errnoName } from '../linux/errno';
import { AF_INET, SOCK_CLOEXEC, SOCK_DGRAM } from '../linux/socket';
import { AT_FDCWD as AT_FDCWD_, O_CLOEXEC as O_CLOEXEC_, O_DIRECTORY as O_DIRECTORY_, O_NONBLOCK as O_NONBLOCK_, O_PATH as O_PATH_, O_RDONLY as O_RDONLY_,
  RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS } from '../linux/fcntl';
import { OPEN_HOW } from '../linux/structs';

/** A sandbox step failed; the message is one line for the user. */
export class SandboxError extends Error {
  override name = 'SandboxError';
}

/** mount(2) flags (<linux/mount.h>). */
const MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REMOUNT = 32, MS_BIND = 4096, MS_REC = 16384, MS_PRIVATE = 1 << 18;
const MNT_DETACH = 2;

/** One --volume: a host path mounted at a guest path. */
export interface Volume { host: string; guest: string; readOnly: boolean }

/** What the jail is made of. */
export interface JailSpec {
  /** Host directory whose entries become the guest's "/" (none: the minimal default). */
  root?: string;
  /** true: the root is writable; a list: these guest paths are. */
  writable?: boolean | readonly string[];
  /** An empty tmpfs at /tmp. */
  tmp?: boolean;
  /**
   * The size of the guest's in-memory files, bytes: its /tmp (when `tmp`) and its memfds
   * share one tmpfs of this size (see shmDirFd), so that they end in ENOSPC, not in the
   * host's memory.
   */
  shmSize?: number;
  volumes: readonly Volume[];
  /** "none": loopback only, in the new network namespace. */
  network: 'none' | 'host';
  /** The guest's working directory (a guest path); default: the host's, if a volume holds it, else "/". */
  workdir?: string;
}

/** The guest path of host path `p` through the volumes (the last matching volume wins), or undefined. */
export function guestPathOf(p: string, volumes: readonly Volume[]): string | undefined {
  for (let i = volumes.length - 1; i >= 0; i--) {
    const v = volumes[i]!;
    const host = v.host.replace(/\/+$/, '');
    if (p === host) return v.guest;
    if (p.startsWith(host + '/')) return path.posix.join(v.guest, p.slice(host.length));
  }
  return undefined;
}

/** The guest path of host path `p` inside a root directory `root` (every path, for "/"), or undefined. */
function insideRoot(p: string, root: string | undefined): string | undefined {
  if (root === undefined) return undefined;
  const r = root.replace(/\/+$/, '');
  if (r === '') return p;
  if (p === r) return '/';
  return p.startsWith(r + '/') ? p.slice(r.length) : undefined;
}

/**
 * The guest's path of host path `p` (absolute): through the volumes (the last matching
 * one wins), else inside the jail's root directory, else undefined (the guest cannot see it).
 */
export function guestPathOfHost(p: string, volumes: readonly Volume[], root?: string): string | undefined {
  return guestPathOf(p, volumes) ?? insideRoot(p, root);
}

/**
 * The guest's working directories to try, in order: --workdir alone when given; else the
 * host's working directory as the guest sees it (through a volume, or inside the root,
 * as with --rootfs /), then "/".
 */
export function guestCwdCandidates(spec: Pick<JailSpec, 'workdir' | 'volumes' | 'root'>, hostCwd: string): string[] {
  if (spec.workdir !== undefined) return [spec.workdir];
  const seen = guestPathOfHost(hostCwd, spec.volumes, spec.root);
  return seen !== undefined && seen !== '/' ? [seen, '/'] : ['/'];
}

/** A program named on the command line, opened as the guest's root shows it (see openInRoot). */
export interface ProgramFile { fd: number; guestPath: string }

/**
 * Opens PROGRAM for `torov run --rootfs ROOT`: as the guest will find it, before the jail
 * exists. A name without a slash is looked up on the guest's PATH; a relative path is
 * taken from the guest's working directory; then a path under a volume is the volume's
 * host file, and any other is resolved inside ROOT by the host kernel (openat2 with
 * RESOLVE_IN_ROOT: `..` stops at ROOT and absolute symlinks, as /bin -> usr/bin in a
 * merged-/usr image, point inside it). Throws SandboxError with `status` 127 when there is
 * no such file, 126 when it is not a regular file or cannot be opened.
 */
export function openInRoot(file: string, o: { root: string; volumes: readonly Volume[]; cwd: string; pathVar: string }): ProgramFile {
  const rootFd = call(`root ${o.root}`, SYS.openat, AT_FDCWD_, o.root, O_PATH_ | O_DIRECTORY_ | O_CLOEXEC_);
  try {
    const candidates = file.includes('/') ? [path.posix.resolve(o.cwd, file)]
      : o.pathVar.split(':').map((d) => path.posix.resolve(o.cwd, d || '.', file));
    let lastErr = -2;
    for (const guest of candidates) {
      const fd = openGuestPath(guest, rootFd, o.volumes);
      if (fd >= 0) {
        const st = fs.fstatSync(fd);
        if (st.isFile()) return { fd, guestPath: guest };
        fs.closeSync(fd);
        lastErr = -13;
        if (file.includes('/')) break;
        continue;
      }
      lastErr = fd;
    }
    const where = `the guest's root ${o.root}`;
    if (lastErr === -2 || lastErr === -20) {
      throw Object.assign(new SandboxError(file.includes('/') ? `${file}: no such file in ${where}` : `${file}: not found on the guest's PATH (${o.pathVar}) in ${where}`), { status: 127 });
    }
    throw Object.assign(new SandboxError(`${file}: ${lastErr === -13 ? 'not a regular file, or permission denied' : errnoName(-lastErr)} in ${where}`), { status: 126 });
  } finally {
    fs.closeSync(rootFd);
  }
}

/** Opens guest path `guest` (absolute) read-only: through a volume, else inside the root (rootFd). Returns an fd or -errno. */
function openGuestPath(guest: string, rootFd: number, volumes: readonly Volume[]): number {
  for (let i = volumes.length - 1; i >= 0; i--) {
    const v = volumes[i]!, g = v.guest.replace(/\/+$/, '');
    if (guest === g || guest.startsWith(g + '/')) {
      try { return fs.openSync(path.join(v.host, guest.slice(g.length)), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK); }
      catch (e) { const n = (e as NodeJS.ErrnoException).errno; return typeof n === 'number' && n < 0 ? n : -2; }
    }
  }
  const how = Buffer.alloc(OPEN_HOW.SIZE);
  how.writeBigUInt64LE(BigInt(O_RDONLY_ | O_CLOEXEC_ | O_NONBLOCK_), OPEN_HOW.flags);
  how.writeBigUInt64LE(BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), OPEN_HOW.resolve);
  const name = cstr(guest);
  return sys(SYS.openat2, rootFd, addressOf(name), addressOf(how), OPEN_HOW.SIZE);
}

/** The files of the default root's /etc (no host file is copied). */
export const MINIMAL_ETC: Readonly<Record<string, string>> = {
  passwd: 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  group: 'root:x:0:\nnogroup:x:65534:\n',
  hosts: '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  hostname: 'torov\n',
};

/** The device nodes a guest sees: harmless ones only. */
export const DEVICES = ['null', 'zero', 'full', 'random', 'urandom'] as const;

function cstr(s: string): Buffer { return Buffer.from(s + '\0'); }

/** Calls a host syscall with string arguments kept alive; throws SandboxError on failure. */
function call(step: string, nr: number, ...args: Array<number | string | null>): number {
  const bufs = args.map((a) => (typeof a === 'string' ? cstr(a) : null));
  const nums = args.map((a, i) => (typeof a === 'string' ? addressOf(bufs[i]!) : a ?? 0));
  const r = sys(nr, ...nums);
  if (r < 0) throw new SandboxError(`${step}: ${errnoName(-r)}`);
  void bufs;
  return r;
}

function mount(step: string, source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  call(step, SYS.mount, source, target, fstype, flags, data);
}

/** statfs(2) f_flags bits that a remount must keep (in a user namespace they are locked). */
const KEEP_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 /* NOATIME */ | 2048 /* NODIRATIME */ | (1 << 21) /* RELATIME */;
const ST_RELATIME = 4096;

/** The mount flags of the file system holding `p` (statfs f_flags, offset 80). */
function mountFlags(p: string): number {
  const b = Buffer.alloc(120);
  const r = call(`statfs ${p}`, SYS.statfs, p, addressOf(b));
  void r;
  const f = b.readUInt32LE(80);
  return (f & (MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048)) | (f & ST_RELATIME ? 1 << 21 : 0);
}

/**
 * Opens guest path `p` inside host directory `rootFd` as the guest would resolve it: ".."
 * and symbolic links (absolute ones too) stay inside that directory (openat2's
 * RESOLVE_IN_ROOT, as a chroot). Returns an O_PATH fd, which pins what was found: binding
 * from it cannot be redirected by a link swapped in afterwards.
 */
function openBeneath(step: string, rootFd: number, p: string): number {
  const how = Buffer.alloc(OPEN_HOW.SIZE);
  how.writeBigUInt64LE(BigInt(O_PATH_ | O_CLOEXEC_), OPEN_HOW.flags);
  how.writeBigUInt64LE(BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), OPEN_HOW.resolve);
  const rel = Buffer.from((p.replace(/^\/+/, '') || '.') + '\0');
  const fd = sys(SYS.openat2, rootFd, addressOf(rel), addressOf(how), OPEN_HOW.SIZE);
  if (fd < 0) throw new SandboxError(`${step}: ${p}: ${errnoName(-fd)}`);
  return fd;
}

/** An O_PATH fd of a host directory (the root a policy names). */
function openDir(step: string, p: string): number {
  return call(step, SYS.openat, AT_FDCWD_, p, O_PATH_ | O_DIRECTORY_ | O_CLOEXEC_, 0);
}

/** The path through which the object behind an fd can be named (mount takes paths). */
const fdPath = (fd: number) => `/proc/self/fd/${fd}`;

/**
 * Bind-mounts host path `src` onto `dst` (created as a dir or an empty file), read-only
 * if asked. Device nodes need a mount without nodev; everything else gets nosuid, nodev.
 * `src` may be an fd's path (fdPath): it is then what that fd refers to.
 */
function bind(src: string, dst: string, readOnly: boolean, device = false, name = src): void {
  const st = fs.statSync(src);
  if (st.isDirectory()) fs.mkdirSync(dst, { recursive: true });
  else if (!fs.existsSync(dst)) fs.writeFileSync(dst, '');
  // Not recursive: mounts below a bound host directory stay out of the guest's view. Linux
  // refuses that for a directory whose submounts are locked in this user namespace, such
  // as the host's / (--allow-host-root lets the checks pass, this still refuses).
  const srcC = cstr(src), dstC = cstr(dst);
  const r = sys(SYS.mount, addressOf(srcC), addressOf(dstC), 0, MS_BIND, 0);
  void srcC; void dstC;
  if (r === -22 /* EINVAL */ && fs.realpathSync(src) === '/') {
    throw new SandboxError('the host\'s / cannot be bound into the jail: Linux binds it only with the file systems mounted below it (/proc, /sys, /dev), which the guest must not see');
  }
  if (r < 0) throw new SandboxError(`bind ${name}: ${errnoName(-r)}`);
  // A bind mount keeps the source's flags; read-only needs a remount of the bind itself,
  // and the remount must repeat the flags the source mount has.
  const flags = MS_REMOUNT | MS_BIND | (mountFlags(src) & KEEP_FLAGS) | MS_NOSUID | (device ? 0 : MS_NODEV) | (readOnly ? MS_RDONLY : 0);
  mount(`make ${dst} ${readOnly ? 'read-only' : 'writable'}`, null, dst, null, flags);
}

/**
 * Where the new root is built: an existing directory of the host (in this process's own
 * mount namespace, so mounting over it changes nothing outside) that holds none of the
 * paths bound into the jail. Nothing is created on the host.
 */
export function jailMountPoint(sources: readonly string[]): string {
  const real = sources.map((p) => { try { return fs.realpathSync(p); } catch { return p; } });
  for (const c of ['/mnt', '/media', '/srv', '/opt', '/boot', '/var', '/usr', '/run', '/tmp', '/home', '/etc']) {
    let st: fs.Stats;
    try { st = fs.lstatSync(c); } catch { continue; }
    if (!st.isDirectory()) continue;
    if (real.some((r) => r === c || r.startsWith(c + '/'))) continue;
    return c;
  }
  throw new SandboxError('no directory to build the root on (every candidate holds a volume)');
}

/**
 * The top-level entry of `root` that is the jail's mount point `dir` (--rootfs /: every
 * candidate is one), which the tmpfs about to cover it would hide: cloned now, while it is
 * still visible, as a detached bind mount (open_tree OPEN_TREE_CLONE, Linux 5.2) to be
 * attached in the new root later (attachClone). In a user namespace the mounts below it
 * are locked to it: then only the whole tree can be cloned (AT_RECURSIVE), and it is made
 * read-only as a whole. Undefined when no entry is in the way.
 */
function shadowedEntry(root: string | undefined, dir: string): { name: string; tree: number; whole: boolean } | undefined {
  if (root === undefined) return undefined;
  let real: string;
  try { real = fs.realpathSync(root); } catch { return undefined; }
  const rel = path.relative(real, dir);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || rel.includes('/')) return undefined;
  const OPEN_TREE_CLONE = 1;
  const name = cstr(dir);
  let tree = sys(SYS.open_tree, AT_FDCWD_, addressOf(name), OPEN_TREE_CLONE | O_CLOEXEC_);
  const whole = tree === -EINVAL_;
  if (whole) tree = sys(SYS.open_tree, AT_FDCWD_, addressOf(name), OPEN_TREE_CLONE | O_CLOEXEC_ | AT_RECURSIVE);
  if (tree < 0) throw new SandboxError(`bind ${dir}: ${errnoName(-tree)}`);
  return { name: rel, tree, whole };
}

/** Attaches a clone made by shadowedEntry at `dst`, read-only. `src` names it in errors. */
function attachClone(c: { tree: number; whole: boolean }, src: string, dst: string): void {
  fs.mkdirSync(dst, { recursive: true });
  const MOVE_MOUNT_F_EMPTY_PATH = 4;
  call(`bind ${src}`, SYS.move_mount, c.tree, '', AT_FDCWD_, dst, MOVE_MOUNT_F_EMPTY_PATH);
  if (c.whole) { readOnlyTree(dst); return; }
  const flags = MS_REMOUNT | MS_BIND | (mountFlags(dst) & KEEP_FLAGS) | MS_NOSUID | MS_NODEV | MS_RDONLY;
  mount(`make ${dst} read-only`, null, dst, null, flags);
}

/** AT_RECURSIVE (open_tree, mount_setattr) and MOUNT_ATTR_* (linux/mount.h). */
const AT_RECURSIVE = 0x8000, MOUNT_ATTR_RDONLY = 1, MOUNT_ATTR_NOSUID = 2, MOUNT_ATTR_NODEV = 4;
const EINVAL_ = 22;

/** Makes the mount at `dst` and every mount below it read-only, nosuid, nodev (mount_setattr, Linux 5.12). */
function readOnlyTree(dst: string): void {
  const attr = Buffer.alloc(32);            // struct mount_attr: attr_set, attr_clr, propagation, userns_fd
  attr.writeBigUInt64LE(BigInt(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV), 0);
  call(`make ${dst} read-only`, SYS.mount_setattr, AT_FDCWD_, dst, AT_RECURSIVE, addressOf(attr), 32);
}

/**
 * Binds a root entry read-only. Where mounts below it are locked to the user namespace
 * (a non-recursive bind is then EINVAL), the whole tree is bound, made read-only as a whole.
 */
function bindRootEntry(src: string, dst: string, name = src): void {
  try { bind(src, dst, true, false, name); return; }
  catch (e) { if (!(e instanceof SandboxError) || !/EINVAL/.test(e.message)) throw e; }
  mount(`bind ${name}`, src, dst, null, MS_BIND | MS_REC);
  readOnlyTree(dst);
}

/**
 * Binds a volume. Mounts below the host directory stay out of the guest's view when Linux
 * allows it; where they are locked to it in this user namespace (a container runtime's
 * mounts under the directory, say), a non-recursive bind is EINVAL, and the directory is
 * bound with them, as `docker run -v` always does, every one of them made nosuid and nodev
 * (and read-only for a read-only volume).
 */
function bindVolume(src: string, dst: string, readOnly: boolean): void {
  try { bind(src, dst, readOnly); return; }
  catch (e) { if (!(e instanceof SandboxError) || !/: EINVAL$/.test(e.message)) throw e; }
  mount(`bind ${src}`, src, dst, null, MS_BIND | MS_REC);
  const attr = Buffer.alloc(32);            // struct mount_attr: attr_set, attr_clr, propagation, userns_fd
  attr.writeBigUInt64LE(BigInt(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (readOnly ? MOUNT_ATTR_RDONLY : 0)), 0);
  call(`make ${dst} ${readOnly ? 'read-only' : 'nosuid'}`, SYS.mount_setattr, AT_FDCWD_, dst, AT_RECURSIVE, addressOf(attr), 32);
}

/** Sets up the jail and enters it. After this, "/" is the guest's root and the host's is gone. */
export function enterJail(spec: JailSpec): void {
  // 1. Nothing we mount may propagate back to the host's mount namespace.
  mount('make mounts private', null, '/', null, MS_REC | MS_PRIVATE);
  const sources = [...spec.volumes.map((v) => v.host), ...(spec.root !== undefined ? [spec.root] : []), ...DEVICES.map((d) => `/dev/${d}`)];
  const dir = jailMountPoint(sources);
  // What the guest will see mounted, by its own paths, in order (guestMounts).
  const mounted: string[] = ['/'];
  const seen = (dst: string) => { mounted.push(`/${path.relative(dir, dst)}`); };
  // The guest's in-memory files live in one tmpfs of a bounded size: its memfds (unnamed
  // files at the top, which only the VMM reaches: memfd_create), its /dev/shm (POSIX shared
  // memory and semaphores: shm_open, sem_open) and its /tmp when asked (3c), each a
  // directory of it bound into place below. It is mounted here first; the new root then
  // covers it, and it goes with the old root (4): the guest never sees its top.
  shmDirFd = -1;
  let memShm = -1, memTmp = -1;
  if (spec.shmSize !== undefined) {
    mount('mount the guest\'s in-memory files', 'tmpfs', dir, 'tmpfs', MS_NOSUID | MS_NODEV, `mode=1777,size=${spec.shmSize}`);
    for (const d of ['shm', 'tmp']) { fs.mkdirSync(path.join(dir, d)); fs.chmodSync(path.join(dir, d), 0o1777); }
    shmDirFd = openDir('open the guest\'s in-memory files', dir);
    memShm = openDir('open the guest\'s /dev/shm', path.join(dir, 'shm'));
    memTmp = openDir('open the guest\'s /tmp', path.join(dir, 'tmp'));
  }
  // 2. The new root: the policy's root itself when it is writable as a whole (new files
  // at its top land in it, as under the original ToroV's chroot), else a small tmpfs.
  const writableAll = spec.writable === true;
  const rootItself = spec.root !== undefined && writableAll;
  // The policy's root, opened once: every path of it is resolved from this fd, inside it.
  const rootFd = spec.root !== undefined ? openDir(`root ${spec.root}`, spec.root) : -1;
  let shadowed: { name: string; tree: number; whole: boolean } | undefined;
  if (rootItself) {
    try { if (!fs.statSync(spec.root!).isDirectory()) throw new Error('ENOTDIR'); }
    catch (e) { throw new SandboxError(`root ${spec.root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
    bind(fdPath(rootFd), dir, false, false, spec.root!);
  } else {
    // The root's own entry the new root is built on (--rootfs /: every candidate is one)
    // would show the new root itself once the tmpfs covers it: cloned first.
    shadowed = shadowedEntry(spec.root, dir);
    mount('mount the new root', 'tmpfs', dir, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0755,size=4m');
  }
  // In a root that is the user's own directory, torov creates nothing: its /dev, /tmp and
  // volumes go over directories that exist there, or are left out (and said so).
  // In the user's own root, a guest path is resolved inside it (a symbolic link planted
  // there cannot send a mount elsewhere) and must exist.
  const jailFd = rootItself ? openDir('open the new root', dir) : -1;
  const inRoot = (guest: string, what: string): string | undefined => {
    if (!rootItself) return path.join(dir, guest);
    let fd: number;
    try { fd = openBeneath(what || guest, jailFd, guest); }
    catch (e) {
      if (what) throw new SandboxError(`${what}: ${guest} does not exist in the root ${spec.root} (torov does not create it in your directory)`);
      void e;
      return undefined;
    }
    try {
      const real = fs.readlinkSync(fdPath(fd));
      if (real !== dir && !real.startsWith(dir + '/')) throw new SandboxError(`${what || guest}: ${guest} resolves outside the root ${spec.root}`);
      return real;
    } finally { sys(SYS.close, fd); }
  };
  // 3a. A read-only policy root, entry by entry (so /dev and /tmp can be torov's own).
  if (spec.root && !rootItself) {
    let entries: fs.Dirent[];
    try { entries = fs.readdirSync(spec.root, { withFileTypes: true }); }
    catch (e) { throw new SandboxError(`root ${spec.root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
    for (const e of entries) {
      if (e.name === 'dev' || e.name === 'proc' || e.name === 'sys' || (e.name === 'tmp' && spec.tmp)) continue;
      const src = path.join(spec.root, e.name), dst = path.join(dir, e.name);
      if (e.isSymbolicLink()) { fs.symlinkSync(fs.readlinkSync(src), dst); continue; }
      if (shadowed?.name === e.name) { attachClone(shadowed, src, dst); seen(dst); continue; }
      withFd(openBeneath(`root ${spec.root}`, rootFd, e.name), (fd) => bindRootEntry(fdPath(fd), dst, src));
      seen(dst);
    }
    if (shadowed) fs.closeSync(shadowed.tree);
    if (Array.isArray(spec.writable)) {
      for (const g of spec.writable as readonly string[]) {
        // The source inside the root as the guest resolves it; the target is the same path
        // in the jail, resolved there too (the entries above are read-only binds of the root).
        const src = (() => { try { return openBeneath(`writable ${g}`, rootFd, g); } catch { throw new SandboxError(`writable ${g}: no such path in the root ${spec.root}`); } })();
        withFd(src, (fd) => {
          const jail = openDir('open the new root', dir);
          let dst: string;
          try { dst = withFd(openBeneath(`writable ${g}`, jail, g), (t) => fs.readlinkSync(fdPath(t))); }
          finally { sys(SYS.close, jail); }
          if (dst !== dir && !dst.startsWith(dir + '/')) throw new SandboxError(`writable ${g}: resolves outside the root ${spec.root}`);
          bind(fdPath(fd), dst, false);
          seen(dst);
        });
      }
    }
  }
  // 3a'. Without a root: the documented minimal default, a few synthetic files in /etc
  // (user and group names for the ids a guest runs as, and localhost).
  if (!spec.root) {
    const etc = path.join(dir, 'etc');
    fs.mkdirSync(etc);
    for (const [name, text] of Object.entries(MINIMAL_ETC)) fs.writeFileSync(path.join(etc, name), text, { mode: 0o644 });
  }
  // 3b. /dev: a tmpfs with the harmless device nodes bound from the host.
  const dev = inRoot('/dev', '');
  if (dev !== undefined) {
    if (!rootItself) fs.mkdirSync(dev, { recursive: true });
    mount('mount /dev', 'tmpfs', dev, 'tmpfs', MS_NOSUID | MS_NOEXEC, 'mode=0755,size=64k');
    seen(dev);
    // Read-only binds: the devices still read and write (a device node ignores a read-only
    // mount), but their host inodes cannot be changed. The guest may run as root, the
    // owner of /dev/null on the host, and chmod it there otherwise.
    for (const d of DEVICES) { bind(`/dev/${d}`, path.join(dev, d), true, true); seen(path.join(dev, d)); }
    if (memShm >= 0) { bind(fdPath(memShm), path.join(dev, 'shm'), false, false, '/dev/shm'); seen(path.join(dev, 'shm')); }
    mount('make /dev read-only', null, dev, null, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC);
  } else {
    noJailDev = true;
  }
  // 3c. /tmp.
  if (spec.tmp) {
    const tmp = inRoot('/tmp', 'tmp')!;
    if (!rootItself) fs.mkdirSync(tmp, { recursive: true });
    // The in-memory files' tmpfs (above): one budget with /dev/shm and the memfds.
    if (memTmp >= 0) bind(fdPath(memTmp), tmp, false, false, '/tmp');
    else mount('mount /tmp', 'tmpfs', tmp, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=1777');
    seen(tmp);
  }
  // 3d. Volumes, in order (a later one may sit inside an earlier one).
  for (const v of spec.volumes) {
    if (!fs.existsSync(v.host)) throw new SandboxError(`volume ${v.host}: no such file or directory on the host`);
    const dst = inRoot(v.guest, `volume ${v.host}:${v.guest}`)!;
    try { bindVolume(v.host, dst, v.readOnly); seen(dst); }
    catch (e) {
      if (e instanceof SandboxError) throw e;
      throw new SandboxError(`volume ${v.host}:${v.guest}: cannot create ${v.guest} in the guest's root (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  if (jailFd >= 0) sys(SYS.close, jailFd);
  if (rootFd >= 0) sys(SYS.close, rootFd);
  for (const fd of [memShm, memTmp]) if (fd >= 0) sys(SYS.close, fd);
  const hostCwd = process.cwd();
  // 4. Enter it: pivot_root with the new root as both arguments stacks the old root on
  // top of it, and detaching that leaves the new one (no directory for the old root needed).
  process.chdir(dir);
  call('pivot_root', SYS.pivot_root, '.', '.');
  call('detach the old root', SYS.umount2, '.', MNT_DETACH);
  process.chdir('/');
  // 5. A tmpfs root's own directory is read-only; the guest writes only where allowed.
  if (!rootItself) mount('make / read-only', null, '/', null, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV);
  guestMounts = mounted;
  call('sethostname', SYS.sethostname, 'torov', 5);
  if (spec.network === 'none') loopbackUp();
  // The working directory: --workdir, else the host's as the guest sees it when it can
  // (through a volume or inside the root), else "/".
  const cwds = guestCwdCandidates(spec, hostCwd);
  for (const [i, cwd] of cwds.entries()) {
    try { process.chdir(cwd); break; }
    catch { if (i === cwds.length - 1) throw new SandboxError(`working directory ${cwd}: no such directory in the guest's root`); }
  }
}

/**
 * The mount points of the guest's root, as the guest names them, in the order they were
 * mounted (the root first): the guest's /proc/mounts (src/syscalls/synthetic.ts), which
 * asks the kernel (statfs) for each one's type and flags. Empty without a jail.
 * Binds of whole trees (a root entry with mounts below it) show as one mount.
 */
export let guestMounts: readonly string[] = [];

/** True when the last jail's root (the user's own writable directory) had no dev/ for torov's /dev. */
export let noJailDev = false;

/**
 * An O_PATH fd of the tmpfs that holds the guest's in-memory files (its /tmp, or a detached
 * one), or -1: memfd_create makes its files there (src/syscalls/mm.ts), within its size.
 */
export let shmDirFd = -1;

/** Runs f(fd), then closes fd. */
function withFd<T>(fd: number, f: (fd: number) => T): T {
  try { return f(fd); } finally { sys(SYS.close, fd); }
}

/** Brings up "lo" in the new network namespace (SIOCGIFFLAGS / SIOCSIFFLAGS on a socket). */
function loopbackUp(): void {
  const s = call('socket for loopback', SYS.socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  try {
    const ifr = Buffer.alloc(40);
    ifr.write('lo', 0);
    const SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914, IFF_UP = 1;
    if (sys(SYS.ioctl, s, SIOCGIFFLAGS, addressOf(ifr)) < 0) throw new SandboxError('loopback: SIOCGIFFLAGS failed');
    ifr.writeUInt16LE(ifr.readUInt16LE(16) | IFF_UP, 16);
    const r = sys(SYS.ioctl, s, SIOCSIFFLAGS, addressOf(ifr));
    if (r < 0) throw new SandboxError(`loopback up: ${errnoName(-r)}`);
  } finally {
    sys(SYS.close, s);
  }
}
