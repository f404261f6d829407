/**
 * The guest's address space: which ranges of the window are mapped, with what protection,
 * and the Linux memory calls on top (brk, mmap, munmap, mprotect, mremap). Per VM.
 *
 * Mappings (VMAs) are kept in a sorted array; the page tables (GuestMemory) hold the same
 * protections per page and are what the CPU and the pointer checks read.
 */
import { GuestMemory, PROT_R, PROT_W, PROT_X } from './memory';
import { PAGE_SIZE, MMAP_MIN_ADDR, STACK_SIZE, STACK_GUARD } from './layout';
import { sys, NR, addressOf, memcpy } from '../host/libc';
import { SYS as HOST } from '../linux/syscalls';
import {
  MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE, MREMAP_DONTUNMAP, MREMAP_FIXED,
  MREMAP_MAYMOVE, PROT_READ, PROT_WRITE,
} from '../linux/mman';
import { S_IFMT, S_IFREG } from '../linux/stat';
import { STAT } from '../linux/structs';
import { EACCES, EEXIST, EFAULT, EINVAL, ENOMEM } from '../linux/errno';

/** struct stat for fstat of a file being mapped. */
const statBuf = Buffer.alloc(STAT.SIZE);
const statAddr = addressOf(statBuf);

/** One mapping. */
export interface Vma {
  start: number;
  end: number;
  prot: number;
  /**
   * What it is: 'shared' is a MAP_SHARED file (the host's page cache, not charged to the
   * guest's memory); 'shmem' is shared anonymous memory.
   */
  kind: 'elf' | 'heap' | 'stack' | 'anon' | 'file' | 'shared' | 'shmem';
  /**
   * A MAP_SHARED file mapped without PROT_WRITE: the host mapping is PROT_READ (the file
   * may be open read-only), so it can never be made writable (EACCES, as Linux for a file
   * not open for writing) and invalidate() must give it back PROT_READ, not read-write.
   */
  hostRO?: boolean;
  /**
   * File mappings whose file ends before the mapping does: the page-aligned end of the
   * file's data. Pages from here to `end` stay not present in the page tables whatever
   * the protection, so neither the guest nor the VMM ever touches host pages past the end
   * of the file (a host SIGBUS would kill the VMM). See AddressSpace.mmap.
   */
  eof?: number;
  /**
   * A file mapping's file (host st_dev:st_ino) and the file offset of `start`: how the
   * syscall-site rewriter finds the ELF header of a library around one of its pages.
   */
  file?: { readonly id: string; readonly offset: number };
  /** 'shmem' whose host memory is MAP_SHARED (made so at the first fork, so that parent and child share it). */
  hostShared?: boolean;
  /**
   * 'shmem': which shared anonymous memory it is (one id per mmap, kept by a fork's
   * child and by the pieces of a split) and the offset of `start` in it: the identity of
   * a process-shared futex there (AddressSpace.futexKey).
   */
  shm?: { readonly id: number; readonly offset: number };
}

/** Ids of shared anonymous mappings (Vma.shm), unique in the VMM process. */
let nextShmId = 1;

/** `marks` without [start, end) (of one kind, or all kinds when `kind` is undefined). */
function subtractRange<T extends { start: number; end: number; kind: string }>(marks: T[], start: number, end: number, kind: string | undefined): T[] {
  const out: T[] = [];
  for (const m of marks) {
    if ((kind !== undefined && m.kind !== kind) || m.end <= start || m.start >= end) { out.push(m); continue; }
    if (m.start < start) out.push({ ...m, end: start });
    if (m.end > end) out.push({ ...m, start: end });
  }
  return out;
}

/** The pieces of [start, end) outside the marks of `kind`. */
function rangesWithout(start: number, end: number, marks: readonly { start: number; end: number; kind: string }[], kind: string): [number, number][] {
  let pieces: [number, number][] = [[start, end]];
  for (const m of marks) {
    if (m.kind !== kind || m.end <= start || m.start >= end) continue;
    const next: [number, number][] = [];
    for (const [a, b] of pieces) {
      if (m.end <= a || m.start >= b) { next.push([a, b]); continue; }
      if (a < m.start) next.push([a, m.start]);
      if (m.end < b) next.push([m.end, b]);
    }
    pieces = next;
  }
  return pieces;
}

/** End of the part of a VMA (or a piece of one) whose pages may be present. */
const presentEnd = (v: Vma) => (v.eof === undefined ? v.end : Math.min(v.end, Math.max(v.start, v.eof)));

/** Bytes of a mapping charged against the guest's memory: accessible memory that is not a shared file. */
const charge = (v: { start: number; end: number; prot: number; kind: Vma['kind'] }) =>
  v.prot !== 0 && v.kind !== 'shared' ? v.end - v.start : 0;


export const pageUp = (n: number) => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
export const pageDown = (n: number) => Math.floor(n / PAGE_SIZE) * PAGE_SIZE;


/**
 * The guest's virtual address space is the window, which is larger than its memory (so
 * PROT_NONE reservations and sparse layouts work); the memory limit is a commit charge,
 * as Linux does with vm.overcommit_memory=2: every accessible private or anonymous page
 * mapped counts, and a mapping that would exceed the limit fails with ENOMEM.
 */
export class AddressSpace {
  readonly vmas: Vma[] = [];
  /** Bytes currently charged, and the limit (the guest's --memory). */
  committed = 0;
  /**
   * What went into the window from files: bytes mapped from a host file (the host's page
   * cache, copied only where written) and bytes torov copied itself (a segment it could
   * not map, mremap of a file mapping). For --verbose and the benchmark.
   */
  readonly fileStats = { mapped: 0, copied: 0 };
  /**
   * The ELF images torov's loader mapped (the program, its interpreter): where each one's
   * ELF header is in memory and the range it spans. The syscall-site rewriter reads the
   * interpreter's unwind tables from there.
   */
  readonly loadedImages: { header: number; lo: number; hi: number }[] = [];
  brkStart = 0;
  /** Where the program's argument and environment strings are ([start, end), for /proc/self/cmdline and environ). */
  argArea = { start: 0, end: 0 };
  envArea = { start: 0, end: 0 };
  /** The program's path as execve was given it (AT_EXECFN): a new program's name (comm) is its last component, as Linux's. */
  execFn = '';
  brkEnd = 0;             // current program break (not page-aligned)
  readonly stackTop: number;
  /** mmap allocates top-down below this. */
  readonly mmapTop: number;

  /** True once the program has more than one thread (vCPUs that run while a call changes the mappings). */
  shared = false;

  /**
   * madvise's fork advice: ranges a fork's child gets zeroed (MADV_WIPEONFORK, kept in the
   * child) or not at all (MADV_DONTFORK). Sorted, disjoint per kind; unmapping drops them.
   */
  forkMarks: { start: number; end: number; kind: 'wipe' | 'dontfork' }[] = [];

  /** MADV_WIPEONFORK/KEEPONFORK (wipe) and MADV_DONTFORK/DOFORK (dontfork) on [addr, addr+len): 0 or -errno. */
  forkAdvice(addr: number, len: number, kind: 'wipe' | 'dontfork', on: boolean): number {
    if (addr % PAGE_SIZE !== 0 || len < 0) return -EINVAL;
    const end = pageUp(addr + len);
    if (end === addr) return 0;
    for (let p = addr; p < end;) {
      const v = this.find(p);
      if (!v) return -ENOMEM;
      // Linux: wipe-on-fork only for private anonymous memory.
      if (on && kind === 'wipe' && (v.kind === 'file' || v.kind === 'elf' || v.kind === 'shared' || v.kind === 'shmem')) return -EINVAL;
      p = v.end;
    }
    this.forkMarks = subtractRange(this.forkMarks, addr, end, kind);
    if (on) { this.forkMarks.push({ start: addr, end, kind }); this.forkMarks.sort((a, b) => a.start - b.start); }
    return 0;
  }

  constructor(readonly mem: GuestMemory, readonly limit: number) {
    this.stackTop = mem.memSize;
    this.mmapTop = this.stackTop - STACK_SIZE - STACK_GUARD;
  }

  /**
   * A fork: the child's address space in `child` (a new VM's window whose system slot, page
   * tables included, is a copy of this one's: GuestMemory.copySystemFrom). Private memory is
   * copied (the pages this window has in memory); MAP_SHARED files and shared anonymous
   * memory become the same host pages in both windows (mremap with old size 0 makes a
   * second mapping of shared pages). Returns the child's space, or -errno.
   */
  forkInto(child: GuestMemory): AddressSpace | number {
    const as = new AddressSpace(child, this.limit);
    const P = this.mem;
    for (const v of this.vmas) {
      const len = v.end - v.start;
      if (v.kind === 'shmem' && !v.hostShared) {
        // Shared anonymous memory has been private host memory so far: move its contents
        // into shared host memory, in place, once.
        const tmp = sys(NR.mmap, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (tmp < 0) return tmp;
        memcpy(tmp, P.hostBase + v.start, len);
        const r = sys(HOST.mremap, tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, P.hostBase + v.start);
        if (r < 0) { sys(NR.munmap, tmp, len); return r; }
        // (Other host memory behind the parent's range now: its window cannot be reset in place.)
        P.mapGen++;
        P.hostGen++;
        for (const w of this.vmas) if (w.kind === 'shmem' && w.start >= v.start && w.end <= v.end) w.hostShared = true;
      }
      if (v.kind === 'shared' || v.kind === 'shmem') {
        const r = sys(HOST.mremap, P.hostBase + v.start, 0, len, MREMAP_MAYMOVE | MREMAP_FIXED, child.hostBase + v.start);
        if (r < 0) return r;
      } else {
        // Private memory is copied, but for the ranges marked wipe-on-fork (zero in the child).
        for (const [s0, e0] of rangesWithout(v.start, v.end, this.forkMarks, 'wipe')) child.copyResidentFrom(P, s0, e0 - s0);
        // Copied: plain memory in the child, which no file can take away.
        child.markFile(v.start, len, false);
      }
      as.vmas.push({ ...v, ...(v.file ? { file: { ...v.file } } : {}) });
    }
    as.forkMarks = this.forkMarks.filter((m) => m.kind === 'wipe').map((m) => ({ ...m }));
    // MADV_DONTFORK ranges do not exist in the child.
    for (const m of this.forkMarks) {
      if (m.kind !== 'dontfork') continue;
      as.removeRange(m.start, m.end, true);
      child.setPages(m.start, m.end - m.start, 0);
    }
    as.committed = as.vmas.reduce((n, v) => n + charge(v), 0);
    return this.copyAreasTo(as);
  }

  /** Copies the loaded images, brk and argument areas into `as` (a fork's or a snapshot's); returns it. */
  private copyAreasTo(as: AddressSpace): AddressSpace {
    as.loadedImages.push(...this.loadedImages.map((i) => ({ ...i })));
    as.brkStart = this.brkStart;
    as.brkEnd = this.brkEnd;
    as.argArea = { ...this.argArea };
    as.envArea = { ...this.envArea };
    as.execFn = this.execFn;
    return as;
  }

  /**
   * The mappings, brk and areas of this address space over another window, without any
   * memory (a snapshot's template, and each restore's: src/vmm/snapshot.ts).
   */
  cloneInto(mem: GuestMemory): AddressSpace {
    const as = new AddressSpace(mem, this.limit);
    for (const v of this.vmas) as.vmas.push({ ...v, ...(v.file ? { file: { ...v.file } } : {}) });
    as.forkMarks = this.forkMarks.map((m) => ({ ...m }));
    as.committed = this.committed;
    return this.copyAreasTo(as);
  }

  /**
   * What a process-shared futex at `addr` is, the same in every process that maps the
   * memory: a MAP_SHARED file's (host file and offset: shm_open, sem_open) or shared
   * anonymous memory's (its id and offset, kept across fork). Undefined for private memory,
   * where a futex is the process's own whatever its flags (as Linux keys it by mm and address).
   */
  futexKey(addr: number): string | undefined {
    const v = this.find(addr);
    if (!v) return undefined;
    if (v.kind === 'shared' && v.file) return `f:${v.file.id}:${v.file.offset + (addr - v.start)}`;
    if (v.kind === 'shmem' && v.shm) return `m:${v.shm.id}:${v.shm.offset + (addr - v.start)}`;
    return undefined;
  }

  /** The VMA containing va, if any. */
  find(va: number): Vma | undefined {
    const v = this.vmas;
    let lo = 0, hi = v.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1, m = v[mid]!;
      if (va < m.start) hi = mid - 1; else if (va >= m.end) lo = mid + 1; else return m;
    }
    return undefined;
  }

  /** True if no VMA overlaps [start, end). */
  isFree(start: number, end: number): boolean {
    if (start < MMAP_MIN_ADDR || end > this.mem.memSize || start >= end) return false;
    for (const m of this.vmas) if (m.start < end && m.end > start) return false;
    return true;
  }

  /** Bytes charged today inside [start, end). */
  private chargedIn(start: number, end: number): number {
    let n = 0;
    for (const m of this.vmas) {
      if (m.end <= start || m.start >= end) continue;
      n += charge({ start: Math.max(m.start, start), end: Math.min(m.end, end), prot: m.prot, kind: m.kind });
    }
    return n;
  }

  /** True if replacing [start, end) by a mapping of (prot, kind) stays within the limit. */
  fits(start: number, end: number, prot: number, kind: Vma['kind']): boolean {
    return this.committed - this.chargedIn(start, end) + charge({ start, end, prot, kind }) <= this.limit;
  }

  /** Maps [start, start+len) (page-aligned) with prot, replacing whatever was there. */
  map(start: number, len: number, prot: number, kind: Vma['kind']): void {
    this.removeRange(start, start + len, true);
    this.insert({ start, end: start + len, prot, kind, ...(kind === 'shmem' ? { shm: { id: nextShmId++, offset: 0 } } : {}) });
    this.mem.setPages(start, len, prot);
  }

  private insert(v: Vma): void {
    this.committed += charge(v);
    let i = 0;
    while (i < this.vmas.length && this.vmas[i]!.start < v.start) i++;
    this.vmas.splice(i, 0, v);
  }

  /**
   * Removes [start, end) from the VMA list, splitting VMAs at the edges. When `release`,
   * the pages are also unmapped and given back to the host. Returns the removed pieces.
   */
  private removeRange(start: number, end: number, release: boolean): Vma[] {
    if (this.forkMarks.length) this.forkMarks = subtractRange(this.forkMarks, start, end, undefined);
    const removed: Vma[] = [];
    const out: Vma[] = [];
    // A piece of a file mapping keeps the file offset of its own start.
    const at = (m: Vma, a: number): Vma => {
      if (a === m.start) return { ...m };
      const v: Vma = { ...m, start: a };
      if (m.file) v.file = { id: m.file.id, offset: m.file.offset + (a - m.start) };
      if (m.shm) v.shm = { id: m.shm.id, offset: m.shm.offset + (a - m.start) };
      return v;
    };
    for (const m of this.vmas) {
      if (m.end <= start || m.start >= end) { out.push(m); continue; }
      if (m.start < start) out.push({ ...m, end: start });
      if (m.end > end) out.push(at(m, end));
      removed.push({ ...at(m, Math.max(m.start, start)), end: Math.min(m.end, end) });
    }
    if (removed.length === 0) return removed;
    for (const r of removed) this.committed -= charge(r);
    this.vmas.length = 0;
    this.vmas.push(...out);
    if (release) {
      for (const r of removed) {
        this.mem.setPages(r.start, r.end - r.start, 0);
        this.mem.discard(r.start, r.end - r.start);
      }
    }
    return removed;
  }

  /** Finds a free range of len bytes, top-down from `below`. Returns -1 if none. */
  findFree(len: number, below = this.mmapTop): number {
    const floor = this.brkReserveEnd();
    let top = below;
    for (let i = this.vmas.length - 1; i >= -1 && top > floor; i--) {
      const m = i >= 0 ? this.vmas[i]! : undefined;
      if (m && m.start >= top) continue;            // entirely above the search point
      const lowest = Math.max(m ? m.end : MMAP_MIN_ADDR, floor);
      if (top - lowest >= len) return top - len;
      if (m) top = m.start;
    }
    return -1;
  }

  /** mmap keeps out of the first MiB above the break so small brk growth keeps working. */
  private brkReserveEnd(): number {
    return this.brkStart ? pageUp(this.brkEnd) + 1024 * 1024 : MMAP_MIN_ADDR;
  }

  /** Implements brk(2): returns the new break, or the old one when it cannot move. */
  brk(addr: number): number {
    if (addr === 0 || addr < this.brkStart) return this.brkEnd;
    const oldTop = pageUp(this.brkEnd), newTop = pageUp(addr);
    if (newTop > oldTop) {
      if (!this.isFree(oldTop, newTop) || !this.fits(oldTop, newTop, PROT_R | PROT_W, 'heap')) return this.brkEnd;
      this.insert({ start: oldTop, end: newTop, prot: PROT_R | PROT_W, kind: 'heap' });
      this.mem.setPages(oldTop, newTop - oldTop, PROT_R | PROT_W);
      this.mergeHeap();
    } else if (newTop < oldTop) {
      this.removeRange(newTop, oldTop, true);
    }
    this.brkEnd = addr;
    return addr;
  }

  private mergeHeap(): void {
    for (let i = 0; i + 1 < this.vmas.length; i++) {
      const a = this.vmas[i]!, b = this.vmas[i + 1]!;
      if (a.kind === 'heap' && b.kind === 'heap' && a.end === b.start && a.prot === b.prot) {
        a.end = b.end;
        this.vmas.splice(i + 1, 1);
        i--;
      }
    }
  }

  /**
   * Implements mmap(2) for anonymous and file mappings. `hostFd` is the host fd behind the
   * guest's fd (file mappings), or -1. Returns the address or -errno.
   */
  mmap(addr: number, len: number, prot: number, flags: number, hostFd: number, offset: number): number {
    if (len <= 0 || offset % PAGE_SIZE !== 0 || offset < 0) return -EINVAL;
    const type = flags & MAP_TYPE;
    if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
    if (len > this.mem.memSize) return -ENOMEM;
    len = pageUp(len);
    prot &= PROT_R | PROT_W | PROT_X;
    const anon = (flags & MAP_ANONYMOUS) !== 0;
    let start: number;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
      if (addr % PAGE_SIZE !== 0) return -EINVAL;
      if (addr < MMAP_MIN_ADDR || addr + len > this.mem.memSize) return -ENOMEM;
      if ((flags & MAP_FIXED_NOREPLACE) && !this.isFree(addr, addr + len)) return -EEXIST;
      start = addr;
    } else {
      const hint = pageDown(addr);
      start = hint && this.isFree(hint, hint + len) ? hint : this.findFree(len);
      if (start < 0) return -ENOMEM;
    }
    const shared = type !== MAP_PRIVATE;
    const kind: Vma['kind'] = anon ? (shared ? 'shmem' : 'anon') : (shared ? 'shared' : 'file');
    if (!this.fits(start, start + len, prot, kind)) return -ENOMEM;
    if (!anon) {
      // The file's pages go straight into the window: the host maps the file over the
      // window's range (MAP_FIXED on the host side), and KVM's MMU notifier makes the
      // guest see them. MAP_PRIVATE gets copy-on-write, MAP_SHARED the page cache.
      this.removeRange(start, start + len, true);
      const hostRO = shared && !(prot & PROT_W);
      const r = this.hostMapFile(start, len, hostFd, offset, shared, hostRO);
      if (r < 0) return r === -EACCES ? -EACCES : r;
      // Host pages of a file mapping past the end of the file raise SIGBUS when touched,
      // and a SIGBUS in the VMM's own loads and stores (a syscall's buffer there) kills it.
      // So only the pages up to the end of a regular file (rounded up to a page) are made
      // present; the rest of the VMA stays not present: every VMM check of it is EFAULT and
      // a guest access is a page fault, which becomes SIGBUS as on Linux (Machine.onFault).
      // Limits: the end is taken now, so a file that grows later does not make more pages
      // present (those accesses fault, where Linux would see the new data). A file
      // truncated after the mmap leaves present pages past its new end: the guest touching
      // one gets SIGBUS (KVM cannot fault it in), and the VMM never loads or stores there
      // itself (the pages are marked PTE_FILE: see GuestMemory's accessors).
      const st = sys(HOST.fstat, hostFd, statAddr);
      if (st < 0) { this.mem.discard(start, len); return st; }
      let eof: number | undefined;
      if ((statBuf.readUInt32LE(STAT.st_mode) & S_IFMT) === S_IFREG) {
        const size = Number(statBuf.readBigInt64LE(STAT.st_size));
        const present = Math.min(len, Math.max(0, pageUp(size) - offset));
        if (present < len) eof = start + present;
      }
      const v: Vma = { start, end: start + len, prot, kind,
        file: { id: `${statBuf.readBigUInt64LE(STAT.st_dev)}:${statBuf.readBigUInt64LE(STAT.st_ino)}`, offset } };
      if (hostRO) v.hostRO = true;
      if (eof !== undefined) v.eof = eof;
      this.insert(v);
      this.mem.setPages(start, presentEnd(v) - start, prot);
      return start;
    }
    this.map(start, len, prot, kind);
    return start;
  }

  /**
   * Puts host file `hostFd` (from `offset`, page-aligned) behind window pages [start,
   * start+len) (page-aligned), MAP_FIXED on the host side, and marks them PTE_FILE; the
   * VMAs and the PTEs' protection are the caller's. Private mappings are read-write on the
   * host (copy-on-write: the VMM may write them, the guest only through its PTEs); shared
   * ones read-write unless `hostRO`. On failure the range gets fresh memory back and
   * -errno is returned.
   */
  hostMapFile(start: number, len: number, hostFd: number, offset: number, shared: boolean, hostRO: boolean): number {
    const r = sys(NR.mmap, this.mem.hostBase + start, len, hostRO ? PROT_READ : PROT_READ | PROT_WRITE,
      (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, hostFd, offset);
    if (r < 0) { this.mem.discard(start, len); return r; }
    this.mem.markFile(start, len, true);
    this.fileStats.mapped += len;
    return 0;
  }

  /** Implements munmap(2). */
  munmap(addr: number, len: number): number {
    if (addr % PAGE_SIZE !== 0 || len <= 0) return -EINVAL;
    const end = Math.min(pageUp(addr + len), this.mem.memSize);
    if (addr >= this.mem.memSize) return 0;
    this.removeRange(addr, end, true);
    return 0;
  }

  /** Implements mprotect(2): the whole range must be mapped. */
  mprotect(addr: number, len: number, prot: number): number {
    if (addr % PAGE_SIZE !== 0) return -EINVAL;
    if (len === 0) return 0;
    const end = pageUp(addr + len);
    if (!(addr >= 0 && end <= this.mem.memSize)) return -ENOMEM;
    prot &= PROT_R | PROT_W | PROT_X;
    // Every page must be mapped.
    let cur = addr;
    for (const m of this.vmas) {
      if (m.end <= cur || m.start >= end) continue;
      if (m.start > cur) return -ENOMEM;
      cur = m.end;
      if (cur >= end) break;
    }
    if (cur < end) return -ENOMEM;
    for (const m of this.vmas) {
      if (m.end <= addr || m.start >= end) continue;
      if (m.hostRO && (prot & PROT_W)) return -EACCES;
    }
    let delta = 0;
    for (const m of this.vmas) {
      if (m.end <= addr || m.start >= end) continue;
      const s = Math.max(m.start, addr), e = Math.min(m.end, end);
      delta += charge({ start: s, end: e, prot, kind: m.kind }) - charge({ start: s, end: e, prot: m.prot, kind: m.kind });
    }
    if (this.committed + delta > this.limit) return -ENOMEM;
    // Where access is reduced, KVM must drop its cached translations (see invalidate()):
    // done first, so that a host refusal (ENOMEM) leaves the mapping as it was, and again
    // once the new PTEs are in: another thread's vCPU, running meanwhile, may have cached
    // the old translation again in between (a write to a page just made read-only would
    // then still work for it).
    // Each piece gets its own host protection back; adjacent pieces with the same one are
    // flipped together.
    const runs: Array<[number, number, number]> = [];
    let runStart = 0, runEnd = 0, runProt = 0;
    for (const m of this.vmas) {
      if (m.end <= addr || m.start >= end || (m.prot & ~prot) === 0) continue;
      const s = Math.max(m.start, addr), e = Math.min(m.end, end);
      const hp = m.hostRO ? PROT_READ : PROT_READ | PROT_WRITE;
      if (s === runEnd && hp === runProt) { runEnd = e; continue; }
      if (runEnd > runStart) runs.push([runStart, runEnd - runStart, runProt]);
      runStart = s; runEnd = e; runProt = hp;
    }
    if (runEnd > runStart) runs.push([runStart, runEnd - runStart, runProt]);
    for (const [s, l, hp] of runs) { const r = this.mem.invalidate(s, l, hp); if (r < 0) return r; }
    const pieces = this.removeRange(addr, end, false);
    for (const p of pieces) {
      const v = { ...p, prot };
      this.insert(v);
      this.mem.setPages(v.start, presentEnd(v) - v.start, prot);
    }
    if (this.shared) for (const [s, l, hp] of runs) { const r = this.mem.invalidate(s, l, hp); if (r < 0) return r; }
    return 0;
  }

  /** Implements mremap(2). */
  mremap(old: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
    if (old % PAGE_SIZE !== 0 || newLen <= 0) return -EINVAL;
    if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) return -EINVAL;
    if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) return -EINVAL;
    if (flags & MREMAP_DONTUNMAP) return -EINVAL;
    oldLen = pageUp(oldLen); newLen = pageUp(newLen);
    const vma = this.find(old);
    if (!vma || old + oldLen > vma.end) return -EFAULT;
    if (vma.kind === 'shared' || vma.kind === 'shmem') return -EINVAL;
    if (!(flags & MREMAP_FIXED)) {
      if (newLen <= oldLen) {
        if (newLen < oldLen) this.removeRange(old + newLen, old + oldLen, true);
        return old;
      }
      if (!this.fits(old + oldLen, old + newLen, vma.prot, vma.kind)) return -ENOMEM;
      if (this.isFree(old + oldLen, old + newLen)) {
        this.insert({ start: old + oldLen, end: old + newLen, prot: vma.prot, kind: vma.kind });
        this.mem.setPages(old + oldLen, newLen - oldLen, vma.prot);
        return old;
      }
      if (!(flags & MREMAP_MAYMOVE)) return -ENOMEM;
    }
    let dest: number;
    if (flags & MREMAP_FIXED) {
      if (newAddr % PAGE_SIZE !== 0) return -EINVAL;
      if (newAddr < MMAP_MIN_ADDR || newAddr + newLen > this.mem.memSize) return -ENOMEM;
      if (newAddr < old + oldLen && newAddr + newLen > old) return -EINVAL;
      dest = newAddr;
    } else {
      dest = this.findFree(newLen);
      if (dest < 0) return -ENOMEM;
    }
    // The old range is released after the copy, so only the growth counts.
    if (this.committed + charge({ start: 0, end: newLen, prot: vma.prot, kind: vma.kind }) - this.chargedIn(old, old + oldLen) > this.limit) return -ENOMEM;
    this.map(dest, newLen, vma.prot | PROT_W, vma.kind === 'file' ? 'anon' : vma.kind);
    // The ranges never overlap. A file mapping's pages past the end of its file are not
    // copied (touching them would SIGBUS the VMM): they read as zero at the new place.
    const n = Math.min(oldLen, newLen, presentEnd(vma) - old);
    if (n > 0) {
      if (this.mem.isFile(old, n)) {
        // File pages are read through the kernel (never a fault in the VMM); a page that
        // cannot be read any more (its file was truncated) reads as zero at the new place.
        for (let o = 0; o < n; o += PAGE_SIZE) {
          const k = Math.min(PAGE_SIZE, n - o), page = Buffer.alloc(k);
          this.mem.tryRead(old + o, page);
          this.mem.load(dest + o, page);
        }
        this.fileStats.copied += n;
      } else this.mem.copy(dest, old, n);
    }
    if (!(vma.prot & PROT_W)) this.mprotect(dest, newLen, vma.prot);
    this.removeRange(old, old + oldLen, true);
    return dest;
  }

  /**
   * madvise(MADV_DONTNEED) on private memory: anonymous pages read as zero afterwards, pages
   * of a private file mapping read the file again (the host's own MADV_DONTNEED on the
   * range does both, and KVM's MMU notifier drops the guest's translations).
   */
  dontneed(addr: number, len: number): number {
    if (addr % PAGE_SIZE !== 0) return -EINVAL;
    const end = Math.min(pageUp(addr + len), this.mem.memSize);
    this.mem.mapGen++;
    for (const m of this.vmas) {
      if (m.end <= addr || m.start >= end || m.kind === 'shared' || m.kind === 'shmem') continue;
      const s = Math.max(m.start, addr), e = Math.min(m.end, end);
      // (The host's zap drops write tracking's protection: no in-place reset after it, but
      // in memory the run mapped itself, which the reset drops whole.)
      this.mem.noteHostChange(s, e - s);
      // Private memory of a restored VM may still be its snapshot's memory file, which
      // MADV_DONTNEED would read again: anonymous memory (and torov's loaded images) reads zero.
      if (m.kind !== 'file') this.mem.dropSnapshotBacking(s, e);
      sys(NR.madvise, this.mem.hostBase + s, e - s, MADV_DONTNEED);
    }
    return 0;
  }

  /** Maps the stack region at the top of the window. */
  mapStack(): void {
    this.map(this.stackTop - STACK_SIZE, STACK_SIZE, PROT_R | PROT_W, 'stack');
  }
}
