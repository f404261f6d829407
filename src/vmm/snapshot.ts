/**
 * Snapshots of a running guest, in process: capture a program at a point after its
 * initialisation (its first read of stdin, or its first accept), then restore as many VMs
 * as wanted from it, each continuing from that point as if the program had just got there.
 *
 * What a snapshot holds (see docs/serving.md):
 * - the registers of its one thread, rewound so that the syscall it was making (the read
 *   or the accept) runs again: rip = the `syscall` instruction, rax = its number; the FPU,
 *   SSE and AVX state (XSAVE); the FS/GS bases, signal mask, altstack, clear_child_tid,
 *   robust list;
 * - the memory it touched, and only that: the resident pages of its private mappings and
 *   every page of its file mappings, written into one sealed memfd at their guest addresses.
 *   A restore maps those ranges of the memfd MAP_PRIVATE over the new window: copy-on-write,
 *   so a restored VM costs host memory only for the pages it writes;
 * - the system slot's pages in use (page tables, descriptor tables, stub, vDSO), copied;
 * - the address space's mappings, brk, argument and environment areas;
 * - the fd table: 0, 1 and 2 are the caller's at each restore; regular files and sockets
 *   the program opened are duplicated (the same open file), and each file's offset is put
 *   back before every run (runs of one VMM process never overlap, so that is exact);
 * - the process state torov keeps: signal handlers, umask, process group and session.
 *
 * Refused (SnapshotError, one line): more than one thread, child processes, armed timers,
 * shared memory mappings (MAP_SHARED), and fds of other kinds (pipes, eventfds, epoll,
 * signalfds, pidfds, torov's /proc files).
 */
import { sys, NR, addressOf } from '../host/libc';
import { REGS } from '../kvm/kvm';
import { PAGE_SIZE, SYS } from '../machine/layout';
import { GuestMemory } from '../machine/memory';
import { AddressSpace, Vma } from '../machine/mm';
import { FdTable, DEFAULT_OPEN_FILES } from '../syscalls/fdtable';
import { STAT } from '../linux/structs';
import { S_IFMT, S_IFREG, S_IFSOCK, S_IFCHR } from '../linux/stat';
import { F_DUPFD_CLOEXEC, F_GETFL } from '../linux/fcntl';
import { MADV_DONTNEED, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../linux/mman';
import { openWriteTracking, trackWrites, forWritten, protect } from '../machine/write-track';
import { SYS as NRS } from '../linux/syscalls';
import type { SigAction } from '../syscalls/api';
import type { EntryState } from './personality';

/** Where a snapshot is taken. */
export type CapturePoint = 'stdin' | 'accept';

/** A snapshot could not be taken or used: one line for the user. */
export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

/** A guest fd a restore gives the program again (beyond 0, 1 and 2). */
export interface SnapFd {
  fd: number;
  /** A host fd of the same open file, kept by the snapshot (duplicated for each restore). */
  host: number;
  cloexec: boolean;
  /** A regular file's offset at capture time (undefined for a socket). */
  offset: number | undefined;
  /** A listening socket: what a snapshot file needs to listen again (socket(2)'s arguments, the bound address). */
  listen?: { domain: number; type: number; protocol: number; addr: Buffer };
}

export interface Snapshot {
  /** The program, as the guest names it (/proc/self/exe). */
  readonly exe: string;
  readonly point: CapturePoint;
  /** Window size and vCPU count: a restore needs a window of the same shape. */
  readonly memSize: number;
  readonly maxVcpus: number;
  /** struct kvm_regs, rewound to the syscall instruction. */
  readonly regs: Buffer;
  /** KVM_GET_XSAVE's area, or undefined (fresh FPU state). */
  readonly fpu: Buffer | undefined;
  /** How the stub returns on this host (src/vmm/vcpu.ts). */
  readonly mode: 'unknown' | 'cpl0' | 'cpl3';
  readonly task: { fsBase: number; gsBase: number; sigmask: bigint; altstack: Uint8Array; clearTid: number; robustList: number };
  readonly group: { sigactions: ReadonlyMap<number, SigAction>; umask: number; cwdFd: number };
  readonly loaded: EntryState;
  readonly vdso: boolean;
  /** The address space, without memory (AddressSpace.cloneInto makes each restore's). */
  readonly as: AddressSpace;
  /** The memfd holding the captured pages at their guest addresses, and the ranges it holds. */
  readonly memfd: number;
  readonly ranges: ReadonlyArray<readonly [number, number]>;
  /** The system slot's pages in use: [offset, bytes]. */
  readonly sys: ReadonlyArray<readonly [number, Uint8Array]>;
  readonly fds: readonly SnapFd[];
  /**
   * Where the environment's pointer array is on the stack, and how many slots it has; the
   * anonymous mapping made at capture for a restore's environment strings (absent in files
   * of older versions: a restore then maps one).
   */
  readonly envp: { addr: number; slots: number; area?: number; areaLen?: number };
  /** Bytes of guest memory captured (for metrics and the benchmark). */
  readonly bytes: number;
}

/** True when syscall `nr` with first argument `fd0` is the capture point. */
export function isCapturePoint(point: CapturePoint, nr: number, fd0: number): boolean {
  if (point === 'accept') return nr === NRS.accept || nr === NRS.accept4;
  return fd0 === 0 && (nr === NRS.read || nr === NRS.readv || nr === NRS.pread64 || nr === NRS.preadv || nr === NRS.preadv2);
}

const statBuf = Buffer.alloc(STAT.SIZE);
/** Bytes of the environment area a snapshot reserves (a CGI request's variables, headers included, fit). */
const ENV_AREA = 64 * 1024;

/** What capture() needs of the machine (src/vmm/machine.ts). */
export interface CaptureSource {
  mem: GuestMemory;
  as: AddressSpace;
  fds: FdTable;
  exe: string;
  regs: Buffer;
  fpu: Buffer | undefined;
  mode: 'unknown' | 'cpl0' | 'cpl3';
  task: Snapshot['task'];
  sigactions: ReadonlyMap<number, SigAction>;
  umask: number;
  loaded: EntryState;
  vdso: boolean;
  /** Refusals the machine found (threads, children, timers). */
  refuse: string | undefined;
  argc: number;
  envc: number;
}

/**
 * Takes a snapshot of a guest stopped in syscall `nr` (the capture point) at the stub's
 * exit. `memfd` is an empty memfd made before the seccomp filter, owned by the snapshot.
 */
export function capture(src: CaptureSource, nr: number, point: CapturePoint, memfd: number): Snapshot {
  if (src.refuse) throw new SnapshotError(src.refuse);
  for (const v of src.as.vmas) {
    if (v.kind === 'shared' || v.kind === 'shmem') {
      throw new SnapshotError(`a shared memory mapping at 0x${v.start.toString(16)} (MAP_SHARED) cannot be restored copy-on-write`);
    }
  }
  // Registers: the syscall runs again at restore. rcx/r11 hold where `syscall` came from.
  const regs = Buffer.from(src.regs);
  const rcx = regs.readBigUInt64LE(REGS.rcx), r11 = regs.readBigUInt64LE(REGS.r11);
  regs.writeBigUInt64LE(rcx - 2n, REGS.rip);
  regs.writeBigUInt64LE(r11, REGS.rflags);
  regs.writeBigUInt64LE(BigInt(nr), REGS.rax);
  const mem = src.mem;
  // The fds.
  const fds: SnapFd[] = [];
  for (const fd of src.fds.list()) {
    if (fd <= 2) continue;
    const h = src.fds.get(fd);
    if (src.fds.synthetic.has(fd) || src.fds.signalfds.has(fd) || src.fds.pidfds.has(fd)) throw new SnapshotError(`fd ${fd} (a torov /proc file, signalfd or pidfd) cannot be restored`);
    if (sys(NR.fstat, h, addressOf(statBuf)) < 0) throw new SnapshotError(`fd ${fd} cannot be inspected`);
    const kind = statBuf.readUInt32LE(STAT.st_mode) & S_IFMT;
    const fl = sys(NR.fcntl, h, F_GETFL);
    let offset: number | undefined;
    if (kind === S_IFREG) {
      if ((fl & 3) !== 0) throw new SnapshotError(`fd ${fd} is a file open for writing: only read-only files are restored`);
      offset = sys(NR.lseek, h, 0, 1);
    } else if (kind !== S_IFSOCK && kind !== S_IFCHR) {
      throw new SnapshotError(`fd ${fd} (${kindName(kind)}) cannot be restored: only stdio, read-only files, devices and sockets are`);
    }
    const dup = sys(NR.fcntl, h, F_DUPFD_CLOEXEC, 3);
    if (dup < 0) throw new SnapshotError(`fd ${fd}: cannot keep it (errno ${-dup})`);
    const listen = kind === S_IFSOCK ? listeningSocket(h) : undefined;
    fds.push({ fd, host: dup, cloexec: (src.fds.getFlags(fd) & 1) !== 0, offset, ...(listen ? { listen } : {}) });
  }
  // A mapping for the environment strings of each restore (setEnvironment): part of the
  // snapshot, so a run that fills it changes no mapping and can be reset in place.
  const area = src.as.mmap(0, ENV_AREA, PROT_READ | PROT_WRITE, 0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, -1, 0);
  // Memory: into the memfd at guest addresses.
  const ranges: Array<[number, number]> = [];
  const add = (s: number, len: number) => {
    const last = ranges[ranges.length - 1];
    if (last && last[0] + last[1] === s) last[1] += len; else ranges.push([s, len]);
  };
  let r = sys(NR.ftruncate, memfd, mem.memSize);
  if (r < 0) throw new SnapshotError(`cannot size the snapshot's memory file (errno ${-r})`);
  let bytes = 0;
  const vec = Buffer.alloc(4096);
  for (const v of src.as.vmas) {
    const file = mem.isFile(v.start, v.end - v.start);
    for (let base = v.start; base < v.end; base += vec.length * PAGE_SIZE) {
      const n = Math.min(vec.length, (v.end - base) / PAGE_SIZE);
      if (file || sys(NR.mincore, mem.hostBase + base, n * PAGE_SIZE, addressOf(vec)) < 0) vec.fill(1, 0, n);
      for (let i = 0; i < n; i++) {
        if (!(vec[i]! & 1)) continue;
        const va = base + i * PAGE_SIZE;
        // pwrite from the window: a file page past its file's end fails (EFAULT) instead of faulting the VMM.
        if (sys(NR.pwrite64, memfd, mem.hostBase + va, PAGE_SIZE, va) !== PAGE_SIZE) continue;
        add(va, PAGE_SIZE);
        bytes += PAGE_SIZE;
      }
    }
  }
  // Sealed: nothing can change or shrink it under the restored VMs' mappings.
  const F_ADD_SEALS = 1033, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_WRITE = 8, F_SEAL_SEAL = 1;
  r = sys(NR.fcntl, memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  if (r < 0) throw new SnapshotError(`cannot seal the snapshot's memory file (errno ${-r})`);
  const sysPages = mem.systemPages();
  const DOT = Buffer.from('.\0');
  const cwdFd = sys(NRS.openat, -100, addressOf(DOT), 0o10000000 | 0o200000 | 0o2000000);   // O_PATH | O_DIRECTORY | O_CLOEXEC
  return {
    exe: src.exe, point, memSize: mem.memSize, maxVcpus: mem.layout.maxVcpus, regs, fpu: src.fpu, mode: src.mode,
    task: { ...src.task, altstack: src.task.altstack.slice() },
    group: { sigactions: new Map([...src.sigactions].map(([k, a]) => [k, { ...a }])), umask: src.umask, cwdFd },
    loaded: src.loaded, vdso: src.vdso, as: src.as.cloneInto(src.mem), memfd, ranges, sys: sysPages, fds,
    envp: { addr: src.loaded.rsp + 8 * (1 + src.argc + 1), slots: src.envc, ...(area > 0 && area < 2 ** 47 ? { area, areaLen: ENV_AREA } : {}) }, bytes,
  };
}

/** A listening socket's domain, type, protocol and bound address; undefined for another socket. */
function listeningSocket(h: number): SnapFd['listen'] {
  const v = Buffer.alloc(4), len = Buffer.alloc(4);
  const opt = (name: number): number | undefined => {
    len.writeUInt32LE(4);
    return sys(NRS.getsockopt, h, 1 /* SOL_SOCKET */, name, addressOf(v), addressOf(len)) < 0 ? undefined : v.readInt32LE(0);
  };
  if (opt(30 /* SO_ACCEPTCONN */) !== 1) return undefined;
  const domain = opt(39 /* SO_DOMAIN */), type = opt(3 /* SO_TYPE */), protocol = opt(38 /* SO_PROTOCOL */);
  if (domain === undefined || type === undefined || protocol === undefined) return undefined;
  const addr = Buffer.alloc(128);
  len.writeUInt32LE(addr.length);
  if (sys(NRS.getsockname, h, addressOf(addr), addressOf(len)) < 0) return undefined;
  return { domain, type, protocol, addr: addr.subarray(0, len.readUInt32LE(0)) };
}

/**
 * A new listening socket like `l` (a snapshot file's): socket, SO_REUSEADDR, bind to the
 * same address, listen. Returns the host fd; throws SnapshotError.
 */
export function listenAgain(l: NonNullable<SnapFd['listen']>, what: string): number {
  const fd = sys(NRS.socket, l.domain, l.type | 0o2000000 /* SOCK_CLOEXEC */, l.protocol);
  if (fd < 0) throw new SnapshotError(`${what}: cannot make its listening socket again (errno ${-fd})`);
  const one = Buffer.alloc(4); one.writeInt32LE(1);
  sys(NRS.setsockopt, fd, 1, 2 /* SO_REUSEADDR */, addressOf(one), 4);
  const addr = Buffer.from(l.addr);
  let r = sys(NRS.bind, fd, addressOf(addr), addr.length);
  if (r >= 0) r = sys(NRS.listen, fd, 128);
  if (r < 0) {
    sys(NR.close, fd);
    const port = l.domain === 2 || l.domain === 10 ? ` port ${addr.readUInt16BE(2)}` : '';
    throw new SnapshotError(`${what}: cannot listen again on its address${port} (${r === -98 ? 'address in use' : `errno ${-r}`})`);
  }
  return fd;
}

/**
 * Gives `mem` the snapshot's memory: its system pages copied, its pages mapped copy-on-write.
 * A window that holds this snapshot's state already (reset in place by resetInPlace after
 * its last run: its system pages too) is taken as it is, with its pages and KVM's
 * translations of them. Returns true for that case.
 */
export function restoreMemory(s: Snapshot, mem: GuestMemory): boolean {
  if (mem.memSize !== s.memSize || mem.layout.maxVcpus !== s.maxVcpus) throw new SnapshotError('restore: a window of another size');
  if (mem.held === s) {
    mem.held = undefined;
    return true;
  }
  // (Most of a restore's time: the released window's system slot is fresh memory, and each
  // of these pages is a fault, a few µs in this nested VM. It must be fresh: replacing the
  // memory is what makes KVM drop the shadow pages it built from the last guest's tables.)
  for (const [off, b] of s.sys) mem.sys8.set(b, off);
  for (const [start, len] of s.ranges) {
    const r = sys(NR.mmap, mem.hostBase + start, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, s.memfd, start);
    if (r < 0) throw new SnapshotError(`restore: cannot map the snapshot's memory (errno ${-r})`);
  }
  mem.snapshotBacked = s.ranges.map(([start, len]) => [start, start + len]);
  markFiles(s, mem);
  systemImage(s, mem);
  // Every page written from now on, in the window and in the system pages below the vCPU
  // blocks, is listed by the kernel, so that after the run this window can be put back in
  // place (resetInPlace) instead of mapped afresh.
  mem.tracked = openWriteTracking() && trackWrites(mem.hostBase, mem.memSize, hostRanges(s, mem))
    && trackWrites(mem.sysHost, mem.layout.sysSize, [[mem.sysHost, mem.layout.vcpuOffset]]) ? s : undefined;
  mem.trackedRanges = mem.tracked ? s.as.vmas.map((v) => [v.start, v.end] as const) : [];
  return false;
}

/**
 * Per snapshot: its system pages below the vCPU blocks as a restore leaves them (the
 * snapshot's copies, their file marks cleared by markFiles), by page index. Every other
 * page there is zero after a restore. What resetInPlace puts back over the pages a run wrote.
 */
const SYS_IMAGE = new WeakMap<Snapshot, Map<number, Uint8Array>>();

/** Records the snapshot's system image from `mem`, just restored (the first time only: it is the same at every restore). */
function systemImage(s: Snapshot, mem: GuestMemory): Map<number, Uint8Array> {
  let img = SYS_IMAGE.get(s);
  if (!img) {
    img = new Map();
    const pages = mem.layout.vcpuOffset / PAGE_SIZE;
    for (const [off, b] of s.sys) {
      for (let p = off / PAGE_SIZE; p < Math.min(pages, (off + b.length) / PAGE_SIZE); p++) img.set(p, mem.sys8.slice(p * PAGE_SIZE, (p + 1) * PAGE_SIZE));
    }
    SYS_IMAGE.set(s, img);
  }
  return img;
}

/** The memfd is sealed: no page of it can go away, so the VMM's accessors need no care there. */
function markFiles(s: Snapshot, mem: GuestMemory): void {
  // (The stack, the heap and anonymous memory never had a file behind them: skipped, the
  // stack alone is 2,048 pages.)
  for (const v of s.as.vmas) if (v.kind !== 'stack' && v.kind !== 'heap' && v.kind !== 'anon') mem.markFile(v.start, v.end - v.start, false);
}

/**
 * The host ranges of the snapshot's mappings, adjacent ones merged: with the mappings as the
 * snapshot has them (which resetInPlace requires), the only guest pages anything can write.
 * The guest reaches no other page (its page tables are the snapshot's), and the VMM and the
 * host kernel write guest memory only through ranges checked against those page tables.
 */
function hostRanges(s: Snapshot, mem: GuestMemory): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const v of s.as.vmas) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === mem.hostBase + v.start) last[1] += v.end - v.start;
    else out.push([mem.hostBase + v.start, v.end - v.start]);
  }
  return out;
}

/**
 * After a restored VM's run: puts its window back to the snapshot's state in place, if
 * that can be done exactly: the window was registered for write tracking at its restore,
 * the host memory behind the snapshot's mappings was not changed (`hostGen`), and those
 * mappings are all still there as they were (the run may have added others, `as`: they
 * are dropped whole). Each page written since (by the
 * guest, by the host kernel for it, by the VMM) gets the snapshot's contents again: a
 * window page from the snapshot's memfd (which reads zero where the snapshot had no page),
 * a system page from the snapshot's system image (zero where it has none). KVM forgets
 * only those pages. Returns false when it cannot; the caller then empties the window.
 */
export function resetInPlace(s: Snapshot, mem: GuestMemory, atRestore: { mapGen: number; hostGen: number }, as: AddressSpace): boolean {
  if (mem.tracked !== s || mem.hostGen !== atRestore.hostGen) return false;
  const img = SYS_IMAGE.get(s);
  if (!img) return false;
  // The mappings the run added (none if it changed none): the snapshot's must all be there as they were.
  const added = mem.mapGen === atRestore.mapGen ? [] : addedRanges(s.as, as);
  if (added === undefined) return false;
  const { own, scan } = resetRanges(s, mem);
  const written: Array<[number, number]> = [], stray: Array<[number, number]> = [], sysWritten: number[] = [];
  const winEnd = mem.hostBase + mem.memSize;
  let pages = 0;
  for (const [start, len] of scan) {
    const ok = forWritten(start, len, (h, n) => {
      if (h < winEnd) {
        // Pages of the snapshot's mappings get its contents back; any other (of a mapping
        // the run added, in a gap scanned with its neighbours) is dropped.
        let at = h;
        const end = Math.min(h + n, winEnd);
        for (const [os, ol] of own) {
          const a = Math.max(at, os), b = Math.min(end, os + ol);
          if (a >= b) continue;
          if (at < a) stray.push([at, a - at]);
          written.push([a, b - a]);
          pages += (b - a) / PAGE_SIZE;
          at = b;
        }
        if (at < end) stray.push([at, end - at]);
      }
      for (let a = Math.max(h, mem.sysHost); a < h + n; a += PAGE_SIZE) sysWritten.push((a - mem.sysHost) / PAGE_SIZE);
    });
    if (!ok) return false;
  }
  // Mappings the run added, and stray written pages: dropped (fresh memory reads zero), which
  // also makes KVM forget its translations of them (the page tables that mapped them are put
  // back below, by the VMM's stores, which KVM does not see).
  for (const [h, n] of [...stray, ...added.map(([a, b]) => [mem.hostBase + a, b - a] as [number, number])]) {
    if (sys(NR.madvise, h, n, MADV_DONTNEED) !== 0) return false;
  }
  // A program's few hot pages (its stack, its data): the snapshot's contents are read back
  // over them from the memfd (which reads zero where the snapshot had no page), and they stay
  // mapped and writable: KVM keeps its translations, and the next run writes them without a
  // fault. They are listed as written after every run from then on, and read back each time:
  // a copy costs less than dropping a page, protecting it and the two faults that take it
  // back. A run that wrote more than HOT_PAGES (with the hot pages of earlier runs) has them
  // all dropped and protected again instead, so that one large request does not leave its
  // pages resident in the window and copied back after every later request.
  const hot = pages <= HOT_PAGES;
  for (const [h, n] of written) {
    const ok = hot ? sys(NR.pread64, s.memfd, h, n, h - mem.hostBase) === n : sys(NR.madvise, h, n, MADV_DONTNEED) === 0 && protect(h, n);
    if (!ok) return false;
  }
  // The system pages written (the clock page at each restore; an exception's frame on the
  // exception stack; few others): copied back, and kept writable as hot pages are.
  const sysPages = mem.layout.vcpuOffset / PAGE_SIZE, clock = SYS.VVAR / PAGE_SIZE;
  for (const p of sysWritten) {
    if (p >= sysPages) return false;
    // The clock page, left as the VMM wrote it: every restore of a snapshot with the vDSO
    // writes it anew before the guest runs (where its bytes differ), and the guest cannot.
    if (p === clock && s.vdso) continue;
    const b = img.get(p);
    if (b) mem.sys8.set(b, p * PAGE_SIZE); else mem.sys8.fill(0, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
  }
  mem.held = s;
  return true;
}

/**
 * The parts of `run`'s mappings (a restored VM's after its run) outside the snapshot's
 * (`snap`), as [start, end) guest ranges; undefined unless every mapping of the snapshot is
 * still there, whole, with the same protection and kind (it may have grown: a heap).
 */
function addedRanges(snap: AddressSpace, run: AddressSpace): Array<[number, number]> | undefined {
  for (const v of snap.vmas) {
    const w = run.find(v.start);
    if (!w || w.end < v.end || !sameMapping(v, w)) return undefined;
  }
  const out: Array<[number, number]> = [];
  const own = snap.vmas;
  for (const w of run.vmas) {
    let at = w.start;
    for (const v of own) {
      if (v.end <= at || v.start >= w.end) continue;
      if (at < v.start) out.push([at, v.start]);
      at = Math.max(at, v.end);
    }
    if (at < w.end) out.push([at, w.end]);
  }
  return out;
}

/** Whether `w` (a mapping after a run) maps what `v` (the snapshot's, inside it) did, as it did. */
function sameMapping(v: Vma, w: Vma): boolean {
  return v.prot === w.prot && v.kind === w.kind && v.hostRO === w.hostRO && v.eof === w.eof && v.hostShared === w.hostShared
    && v.shm?.id === w.shm?.id && (v.shm === undefined || v.shm.offset === w.shm!.offset + (v.start - w.start))
    && v.file?.id === w.file?.id && (v.file === undefined || v.file.offset === w.file!.offset + (v.start - w.start));
}

/**
 * The host ranges resetInPlace works on, made once per window and snapshot: `own`, the
 * snapshot's mappings (hostRanges); `scan`, what it scans: those and the system pages
 * below the vCPU blocks (right after the window and its guard page: GuestMemory), ranges
 * less than SCAN_GAP apart scanned as one. Each scan costs several µs here whatever its
 * length, and a gap between mappings has no page written but of a mapping the run added.
 */
function resetRanges(s: Snapshot, mem: GuestMemory): ResetRanges {
  const c = RESET_RANGES.get(mem);
  if (c && c.s === s) return c;
  const own = hostRanges(s, mem);
  const scan: Array<[number, number]> = [];
  const all = [...own.map(([a, n]) => [a, n] as [number, number]), [mem.sysHost, mem.layout.vcpuOffset] as [number, number]].sort((a, b) => a[0] - b[0]);
  for (const [start, len] of all) {
    const last = scan[scan.length - 1];
    if (last && start - (last[0] + last[1]) <= SCAN_GAP) last[1] = Math.max(last[1], start + len - last[0]);
    else scan.push([start, len]);
  }
  const r = { s, own, scan };
  RESET_RANGES.set(mem, r);
  return r;
}
interface ResetRanges { s: Snapshot; own: ReadonlyArray<readonly [number, number]>; scan: ReadonlyArray<readonly [number, number]> }
const RESET_RANGES = new WeakMap<GuestMemory, ResetRanges>();

/** The widest gap between two ranges scanned as one (resetInPlace): 2 MiB, one page table's worth. */
const SCAN_GAP = 2 << 20;

/** Most pages a window kept in place keeps writable and reads back after each run (resetInPlace): 256 KiB. */
const HOT_PAGES = 64;

/**
 * A restored run's fds as its restore made them (its table unchanged, its working directory
 * the same fd), kept with its window after a reset in place (GuestMemory.heldFds): the next
 * restore in place takes them instead of duplicating every host fd again, and its release
 * closes none. The guest cannot tell: the same host files, the same guest fds and flags.
 */
export class KeptFds {
  constructor(readonly fds: FdTable, readonly cwdFd: number, readonly stdio: readonly number[]) {}
  close(): void {
    this.fds.closeAll();
    if (this.cwdFd >= 0) sys(NR.close, this.cwdFd);
  }
}

/** A restore in place: the fds its window kept, if they were made from the same `stdio` and limit; else undefined (and they are closed). */
export function takeKeptFds(mem: GuestMemory, limit: number | undefined, stdio: readonly number[]): KeptFds | undefined {
  const k = mem.heldFds;
  mem.heldFds = undefined;
  if (!(k instanceof KeptFds)) { k?.close(); return undefined; }
  if (k.fds.limit === (limit ?? DEFAULT_OPEN_FILES) && k.stdio.length === stdio.length && k.stdio.every((fd, i) => fd === stdio[i])) return k;
  k.close();
  return undefined;
}

/** The restored fd table: stdio from `stdio` (duplicated), then the snapshot's other fds. */
export function restoreFds(s: Snapshot, limit: number | undefined, stdio: readonly number[]): FdTable {
  const t = new FdTable(limit);
  for (let fd = 0; fd <= 2; fd++) {
    const src = stdio[fd] ?? -1;
    if (src < 0) continue;
    const h = sys(NR.fcntl, src, F_DUPFD_CLOEXEC, 3);
    if (h >= 0) t.set(fd, h);
  }
  for (const f of s.fds) {
    const h = sys(NR.fcntl, f.host, F_DUPFD_CLOEXEC, 3);
    if (h < 0) { t.closeAll(); throw new SnapshotError(`restore: out of host fds (errno ${-h})`); }
    t.set(f.fd, h, f.cloexec);
  }
  return t;
}

/** Before each run of a restored VM: the files' offsets as they were at capture time. */
export function rewindFiles(s: Snapshot): void {
  for (const f of s.fds) if (f.offset !== undefined) sys(NR.lseek, f.host, f.offset, 0);
}

/**
 * Gives a restored guest a new environment before it runs (a CGI request's variables):
 * the strings go into a new anonymous mapping, and the stack's envp array (the one the
 * program's libc points `environ` at) is rewritten in place, NULL-terminated. The array
 * has the slots the snapshot's program started with (serve starts it with spare ones);
 * variables beyond them are dropped: returns how many were.
 */
export function setEnvironment(s: Snapshot, as: AddressSpace, mem: GuestMemory, env: readonly string[]): number {
  const slots = s.envp.slots;
  const take = env.slice(0, Math.max(0, slots));
  const blob = Buffer.from(take.map((e) => e + '\0').join(''));
  let at = 0;
  if (blob.length > 0 && s.envp.area !== undefined && blob.length <= (s.envp.areaLen ?? 0)) {
    // The snapshot's area (zero at each restore): no new mapping.
    at = s.envp.area;
    mem.write(at, blob);
  } else if (blob.length > 0) {
    const len = Math.ceil(blob.length / PAGE_SIZE) * PAGE_SIZE;
    at = as.mmap(0, len, PROT_READ | PROT_WRITE, 0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, -1, 0);
    if (at < 0 || at >= 2 ** 47) throw new SnapshotError(`restore: no room for the environment (errno ${-at})`);
    mem.write(at, blob);
  }
  const ptrs = Buffer.alloc(8 * (slots + 1));
  let p = at;
  take.forEach((e, i) => { ptrs.writeBigUInt64LE(BigInt(p), 8 * i); p += Buffer.byteLength(e) + 1; });
  mem.write(s.envp.addr, ptrs);
  return env.length - take.length;
}

/** Releases what the snapshot holds on the host. */
export function releaseSnapshot(s: Snapshot): void {
  sys(NR.close, s.memfd);
  if (s.group.cwdFd >= 0) sys(NR.close, s.group.cwdFd);
  for (const f of s.fds) sys(NR.close, f.host);
}

function kindName(kind: number): string {
  switch (kind >> 12) {
    case 1: return 'a pipe';
    case 2: return 'a character device';
    case 4: return 'a directory';
    case 6: return 'a block device';
    case 10: return 'a symbolic link';
    default: return 'an eventfd, epoll or other anonymous file';
  }
}

/** An empty sealable memfd for capture() (made before the sandbox's seccomp filter, which may not allow it). */
export function snapshotMemfd(): number {
  const name = Buffer.from('torov-snapshot\0');
  const fd = sys(NRS.memfd_create, addressOf(name), 1 | 2 /* MFD_CLOEXEC | MFD_ALLOW_SEALING */);
  if (fd < 0) throw new SnapshotError(`cannot create the snapshot's memory file (errno ${-fd})`);
  return fd;
}
