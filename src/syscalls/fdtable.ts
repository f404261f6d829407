/**
 * The guest's file descriptor table: guest fd -> host fd. Per VM.
 *
 * Guest fds are not host fds: the VMM process has its own (/dev/kvm, the VM and vCPU,
 * Node's event loop), and a guest must never be able to read, write or close those. Every
 * fd argument goes through get(); a guest fd that is not in the table is EBADF.
 */
import { sys, NR, addressOf } from '../host/libc';
import { STAT } from '../linux/structs';
import { S_IFMT } from '../linux/stat';
import { EBADF, EINTR, EMFILE } from '../linux/errno';
import { FD_CLOEXEC, F_DUPFD_CLOEXEC } from '../linux/fcntl';

const statBuf = Buffer.alloc(STAT.SIZE);
const statAddr = addressOf(statBuf);

/**
 * A signalfd: the signals it reports. Its host fd is an eventfd that torov keeps readable
 * exactly while one of those signals is pending, so poll and epoll see it as Linux would;
 * reads are served by torov from the pending queues.
 */
export interface SignalFd {
  mask: bigint;
  /** Whether the eventfd is readable now. */
  ready: boolean;
}

/**
 * A file or directory of torov's /proc or /sys the guest opened (src/syscalls/synthetic.ts).
 * Its host fd is a sealed memfd (a file's text; empty for a directory): what the guest
 * learns through the fd (fstat, readlink of /proc/PID/fd/N, a directory's entries) comes
 * from here. Shared by the guest fds that duplicate it, as an open file is.
 */
export interface SyntheticFile {
  /** The guest path it was opened by, its links resolved (/proc/1/status, not /proc/self/status). */
  readonly path: string;
  /** Mode (type and permissions) and owner, as stat shows them. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** The open flags the guest gave (fdinfo shows them; the memfd's own are O_RDWR). */
  readonly flags: number;
  /** A directory's entries, made at the first getdents and again at a rewind, and the position in them. */
  dir?: { entries: ReadonlyArray<{ name: string; type: number; ino: number }> | undefined; pos: number };
}

/** A guest's fd table size (RLIMIT_NOFILE) unless its policy sets one. */
export const DEFAULT_OPEN_FILES = 1024;

/** Guest fds an FdTable has room for before it grows: 16 (its arrays then stay on the JavaScript heap). */
const FIRST_SIZE = 16;

export class FdTable {
  // Per guest fd, grown as fds are used (up to `limit`): a program holds a few fds, and a
  // table of 1,024 costs an allocation of 7 KiB off the JavaScript heap, several µs here, at
  // every restore of a served program. An fd past the tables' length is not in use.
  private host: Int32Array;
  private flags: Uint8Array;
  /** File type (S_IFMT >> 12) of each guest fd's host file, 0 until asked (kindOf). */
  private kinds: Uint8Array;
  /** Per guest fd: 0 not yet asked, 1 its host file is not on the device asked about, 2 it is (onDevice). */
  private devs: Uint8Array;
  /** Highest guest fd in use + 1 (for scans). */
  private top = 0;
  /** Counts the changes to which host fd, with which flags, each guest fd is (see unchangedSince). */
  private changes = 0;

  constructor(readonly limit = DEFAULT_OPEN_FILES) {
    const n = Math.min(limit, FIRST_SIZE);
    this.host = new Int32Array(n).fill(-1);
    this.flags = new Uint8Array(n);
    this.kinds = new Uint8Array(n);
    this.devs = new Uint8Array(n);
  }

  /** Makes room for guest fd `fd` (< limit). */
  private grow(fd: number): void {
    const n = Math.min(this.limit, Math.max(fd + 1, this.host.length * 2));
    const host = new Int32Array(n).fill(-1);
    host.set(this.host);
    this.host = host;
    for (const k of ['flags', 'kinds', 'devs'] as const) {
      const a = new Uint8Array(n);
      a.set(this[k]);
      this[k] = a;
    }
  }

  /** Host fd behind guest fd `fd`, or -1. */
  get(fd: number): number {
    return fd >= 0 && fd < this.host.length ? this.host[fd]! : -1;
  }

  /** Installs host fd `hostFd` at the lowest free guest fd >= min; returns it, or -EMFILE. */
  add(hostFd: number, cloexec = false, min = 0): number {
    for (let fd = min; fd < this.limit; fd++) {
      if (this.get(fd) === -1) { this.set(fd, hostFd, cloexec); return fd; }
    }
    return -EMFILE;
  }

  /** Installs host fd at exactly guest fd `fd` (dup2/dup3); closes what was there. */
  set(fd: number, hostFd: number, cloexec = false): void {
    if (fd >= this.host.length) this.grow(fd);
    this.changes++;
    const old = this.host[fd]!;
    this.host[fd] = hostFd;
    this.flags[fd] = cloexec ? FD_CLOEXEC : 0;
    this.kinds[fd] = 0;
    this.devs[fd] = 0;
    this.sigio.delete(fd);
    this.signalfds.delete(fd);
    this.pidfds.delete(fd);
    this.synthetic.delete(fd);
    if (fd >= this.top) this.top = fd + 1;
    if (old >= 0 && old !== hostFd) sys(NR.close, old);
  }

  /**
   * Signal-driven I/O the guest asked for per fd (F_SETOWN, O_ASYNC, FIOASYNC): recorded
   * here and read back, never forwarded (the host would send SIGIO to the owner it names).
   * Cleared with the fd.
   */
  readonly sigio = new Map<number, { owner: number; async: boolean }>();

  /** Guest fds that are signalfds (a dup shares the object). Cleared with the fd. */
  readonly signalfds = new Map<number, SignalFd>();
  /** Guest fds that are pidfds (pidfd_open, CLONE_PIDFD): the pid each refers to. Cleared with the fd. */
  readonly pidfds = new Map<number, number>();

  /** Guest fds of torov's /proc and /sys (a dup shares the object). Cleared with the fd. */
  readonly synthetic = new Map<number, SyntheticFile>();

  /**
   * The process's working directory when it is a directory of torov's /proc or /sys (the
   * host's cwd cannot be there), else undefined. Kept here so that a fork copies it and an
   * exec keeps it, as they do the cwd.
   */
  synCwd: string | undefined;

  /** Guest fd `to` was made a duplicate of `from`: what torov keeps per open file follows. */
  duplicated(from: number, to: number): void {
    this.changes++;
    const s = this.signalfds.get(from);
    if (s) this.signalfds.set(to, s);
    const pd = this.pidfds.get(from);
    if (pd !== undefined) this.pidfds.set(to, pd);
    const y = this.synthetic.get(from);
    if (y) this.synthetic.set(to, y);
  }

  getFlags(fd: number): number { return this.flags[fd] ?? 0; }

  /** The file type (S_IFMT bits) of guest fd `fd`'s host file (fstat once, then remembered), or 0. */
  kindOf(fd: number): number {
    const k = this.kinds[fd];
    if (k === undefined) return 0;
    if (k !== 0) return k << 12;
    const h = this.get(fd);
    if (h < 0 || sys(NR.fstat, h, statAddr) < 0) return 0;
    const mode = statBuf.readUInt32LE(STAT.st_mode) & S_IFMT;
    this.kinds[fd] = mode >> 12;
    return mode;
  }
  setFlags(fd: number, f: number): void { if (fd >= 0 && fd < this.flags.length) { this.flags[fd] = f; this.changes++; } }

  /**
   * True if guest fd `fd`'s host file is on device `dev` (fstat once, then remembered; the
   * run asks about one device only: src/syscalls/memfd-budget.ts). False for -1.
   */
  onDevice(fd: number, dev: number): boolean {
    if (dev < 0) return false;
    const d = this.devs[fd];
    if (d === undefined) return false;
    if (d !== 0) return d === 2;
    const h = this.get(fd);
    if (h < 0 || sys(NR.fstat, h, statAddr) < 0) return false;
    const on = Number(statBuf.readBigUInt64LE(STAT.st_dev)) === dev;
    this.devs[fd] = on ? 2 : 1;
    return on;
  }

  /** Removes guest fd `fd`, closing the host fd unless another guest fd shares it. Returns 0 or -EBADF. */
  close(fd: number): number {
    const h = this.get(fd);
    if (h < 0) return -EBADF;
    this.changes++;
    this.host[fd] = -1;
    this.flags[fd] = 0;
    this.kinds[fd] = 0;
    this.devs[fd] = 0;
    this.sigio.delete(fd);
    this.signalfds.delete(fd);
    this.pidfds.delete(fd);
    this.synthetic.delete(fd);
    const r = sys(NR.close, h);
    // close(2) always frees the descriptor; only EIO-like errors are worth reporting.
    return r < 0 && r !== -EINTR ? r : 0;
  }

  /**
   * A file lock was taken or dropped through one of these fds (fcntl F_SETLK, flock): it
   * lives as long as the host fds that hold it, so the table counts as changed.
   */
  noteLock(): void { this.changes++; }

  /** A mark of the table's state now, for unchangedSince. */
  mark(): number { return this.changes; }

  /**
   * True if, since `mark()` returned `m`, no guest fd was opened, closed, duplicated or had
   * its flags changed, no lock was taken through one, and none has anything torov keeps per fd (F_SETOWN, a signalfd, a
   * pidfd, a file of torov's /proc) nor a working directory there: the guest sees the
   * table as it was. (A restored VM's table then serves the next restore: Machine.close.)
   */
  unchangedSince(m: number): boolean {
    return this.changes === m && this.sigio.size === 0 && this.signalfds.size === 0 && this.pidfds.size === 0
      && this.synthetic.size === 0 && this.synCwd === undefined;
  }

  /** Guest fds in use, ascending. */
  list(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.top; i++) if (this.host[i]! >= 0) out.push(i);
    return out;
  }

  /**
   * A fork: a new table with a host duplicate of every fd (the same open file, as fork
   * shares it: a pipe's ends stay one pipe), their close-on-exec flags and what torov keeps
   * per fd. Returns -errno (EMFILE) if the host runs out of fds; nothing is left open then.
   */
  fork(): FdTable | number {
    const t = new FdTable(this.limit);
    for (let i = 0; i < this.top; i++) {
      const h = this.host[i]!;
      if (h < 0) continue;
      const d = sys(NR.fcntl, h, F_DUPFD_CLOEXEC, 3);
      if (d < 0) { t.closeAll(); return d; }
      t.set(i, d, (this.flags[i]! & FD_CLOEXEC) !== 0);
      t.kinds[i] = this.kinds[i]!;
      t.devs[i] = this.devs[i]!;
    }
    for (const [fd, s] of this.sigio) t.sigio.set(fd, { ...s });
    for (const [fd, s] of this.signalfds) t.signalfds.set(fd, s);
    for (const [fd, pd] of this.pidfds) t.pidfds.set(fd, pd);
    for (const [fd, s] of this.synthetic) t.synthetic.set(fd, s);
    t.synCwd = this.synCwd;
    return t;
  }

  /** An exec: closes the close-on-exec fds. */
  closeOnExec(): void {
    for (let i = 0; i < this.top; i++) if (this.host[i]! >= 0 && (this.flags[i]! & FD_CLOEXEC)) this.close(i);
  }

  /** Closes every host fd the guest holds. */
  closeAll(): void {
    this.changes++;
    this.sigio.clear();
    this.signalfds.clear();
    this.pidfds.clear();
    this.synthetic.clear();
    this.kinds.fill(0);
    this.devs.fill(0);
    for (let i = 0; i < this.top; i++) {
      const h = this.host[i]!;
      if (h >= 0) sys(NR.close, h);
      this.host[i] = -1;
    }
    this.top = 0;
  }
}
