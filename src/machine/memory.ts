/**
 * Guest memory: the host mappings behind the window and the system slot, the page tables
 * torov builds, and the one checked path from a guest range to host memory.
 *
 * Host memory is reserved lazily (MAP_NORESERVE, anonymous): an idle guest costs only the
 * pages it touched. Page tables are linear: the PTE of window page p is the p-th 64-bit
 * word of the PT area, so changing a mapping is a store, and checking a guest range reads
 * the same PTEs the CPU uses (the page tables are the single source of truth for access).
 */
import { sys, NR, viewOf, addressOf, memcpy } from '../host/libc';
import { EFAULT, SysError } from '../linux/errno';
import { MADV_DONTNEED, MADV_POPULATE_WRITE, MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE } from '../linux/mman';
import { IOVEC } from '../linux/structs';
import { PAGE_SIZE, SYS, SYS_VA, systemLayout, SystemLayout, vcpuPages, VcpuPages } from './layout';
import { guardWindow, unguardWindow } from './bus-guard';

/** A guest virtual address (a number; distinct name so signatures say what they take). */
export type GuestAddr = number;

/** Page-table entry bits (Intel SDM Vol. 3A, 4.5: "4-Level Paging"). */
export const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_PS = 0x80;
/**
 * torov's own mark in a window PTE: the host memory behind the page is a file mapping.
 * Bits 11:9 of a PTE are ignored by the processor (SDM Vol. 3A, table 4-20), and every
 * bit but P of a not-present entry is; the mark is kept whatever the page's protection
 * (setPages) and dropped when the page gets fresh memory (discard). See fileSafe below.
 */
export const PTE_FILE = 0x200;
/** Bit 63 (execute-disable), as the high 32-bit word's top bit. */
const PTE_NX_HI = 0x80000000;

/** Linux protection bits, as mmap/mprotect take them (short names for linux/mman's). */
export const PROT_R = PROT_READ, PROT_W = PROT_WRITE, PROT_X = PROT_EXEC;

/**
 * A guest range that is not mapped with the needed access: the EFAULT case of SysError, so
 * the syscall gets EFAULT from dispatch like any other SysError.
 */
export class GuestFault extends SysError {
  override name = 'GuestFault';
  constructor(readonly addr: number, readonly len: number) {
    super(EFAULT, `bad guest range 0x${addr.toString(16)}+${len}`);
  }
}

/** Thrown by every checked accessor; one instance, because a bad pointer is not exceptional for a guest. */
const FAULT = new GuestFault(0, 0);

/** Host memory of one VM, with checked access. Per VM (shared by its vCPUs). */
export class GuestMemory {
  /** Size of the window (guest virtual == guest physical [0, memSize)); see windowSize(). */
  readonly memSize: number;
  readonly layout: SystemLayout;
  /** Host address of guest physical 0 (== guest virtual 0 in the window). */
  readonly hostBase: number;
  readonly sysHost: number;
  /**
   * Guest ranges [start, end) whose host memory is still a restored snapshot's memory file
   * (src/vmm/snapshot.ts maps it copy-on-write there). MADV_DONTNEED over such a range
   * would give back the snapshot's contents, not zeros: dropSnapshotBacking gives it fresh
   * memory instead where the guest expects zeros.
   */
  snapshotBacked: Array<[number, number]> = [];
  /**
   * Counts the changes to the window's mappings (PTEs, file mappings, host protection):
   * a restored VM whose run changed none can be put back in place (src/vmm/snapshot.ts).
   */
  mapGen = 0;
  /**
   * Counts the changes to the window's host mappings and protections (a file or fresh
   * memory mapped over it, pages dropped, protections flipped): a subset of `mapGen`'s. A
   * restored VM whose run changed its guest mappings only by adding some (brk growth, new
   * anonymous mappings) can still be put back in place; after one of these it cannot.
   */
  hostGen = 0;
  /**
   * The guest ranges whose pages write tracking protected at the restore (the snapshot's
   * mappings: write-track.ts): a host change elsewhere in the window (to memory a run
   * mapped itself and gave back) loses nothing an in-place reset needs, and leaves
   * `hostGen` as it was. Empty but for a tracked restored window.
   */
  trackedRanges: ReadonlyArray<readonly [number, number]> = [];

  /** A change to the host memory behind [va, va+len) made outside this class (AddressSpace.dontneed): counted as the class's own are. */
  noteHostChange(va: number, len: number): void {
    if (this.touchesTracked(va, len)) this.hostGen++;
  }

  /** Whether [va, va+len) meets a tracked range (see trackedRanges). */
  private touchesTracked(va: number, len: number): boolean {
    for (const [s, e] of this.trackedRanges) if (va < e && va + len > s) return true;
    return false;
  }
  /** The snapshot whose restore registered this window for write tracking (write-track.ts). */
  tracked: object | undefined;
  /** The snapshot whose state this window holds again after an in-place reset (ready for its next restore). */
  held: object | undefined;
  /** What else the next restore in place takes along with `held` (the last run's fds: src/vmm/snapshot.ts); closed when the window is emptied. */
  heldFds: { close(): void } | undefined;
  /**
   * The window is seen through views of CHUNK bytes, made when first touched. One view
   * of the whole window would make V8 count all of it as external memory and collect
   * garbage for it at every VM start (and Node 20 cannot make one above 4 GiB).
   */
  private readonly chunks: (Uint8Array | undefined)[] = [];
  /** The system slot as bytes, DataView and 32-bit words (the PTEs are read as words). */
  readonly sys8: Uint8Array;
  readonly sysDv: DataView;
  private readonly sys32: Uint32Array;
  /** Index into sys32 of the low word of window page 0's PTE. */
  private readonly pteBase: number;

  /** Released windows kept for the next VM of the same size (see release()). */
  private static readonly pool: GuestMemory[] = [];

  /**
   * A window of memSize bytes: a released one of that size if there is one (creating the
   * host mapping and its ArrayBuffer views is the costly part of a VM start, and V8 counts
   * each new view as external memory, which triggers garbage collections), else a new one.
   */
  static acquire(memSize: number, maxVcpus = 1): GuestMemory {
    const i = GuestMemory.pool.findIndex((m) => m.memSize === memSize && m.layout.maxVcpus === maxVcpus);
    if (i < 0) return new GuestMemory(memSize, maxVcpus);
    const m = GuestMemory.pool.splice(i, 1)[0]!;
    m.buildPageTables();
    return m;
  }

  private constructor(memSize: number, maxVcpus: number) {
    this.memSize = memSize;
    this.layout = systemLayout(memSize, maxVcpus);
    // The window, a guard page, then the system slot: one host range, so that a restored
    // VM's release lists the pages written in its stack and in its system pages with one
    // scan (src/vmm/snapshot.ts, resetInPlace). The guard page (no access) keeps a load or
    // store past the window's end from reaching the page tables.
    this.hostBase = mmapAnon(memSize + PAGE_SIZE + this.layout.sysSize);
    sys(NR.mprotect, this.hostBase + memSize, PAGE_SIZE, PROT_NONE);
    // A guest file mapping can lose its backing under the VMM's loads and stores (bus-guard.ts).
    guardWindow(this.hostBase, memSize);
    this.sysHost = this.hostBase + memSize + PAGE_SIZE;
    const sysBuf = viewOf(this.sysHost, this.layout.sysSize);
    this.sys8 = new Uint8Array(sysBuf);
    this.sysDv = new DataView(sysBuf);
    this.sys32 = new Uint32Array(sysBuf);
    this.pteBase = this.layout.ptOffset >> 2;
    this.buildPageTables();
  }

  /** Guest physical address of a system-slot offset. */
  sysGpa(off: number): number { return this.layout.sysGpa + off; }

  /** Guest virtual address of a system-slot offset (for pages below SYS.MAPPED_END). */
  sysVa(off: number): number { return SYS_VA + off; }

  /** Builds the fixed upper levels; window PTEs start not present. */
  private buildPageTables(): void {
    const L = this.layout;
    const table = P_RW_US;
    this.setEntry(SYS.PML4, 0, this.sysGpa(SYS.PDPT_LOW) + table);
    for (let i = 0; i < L.nPd; i++) this.setEntry(SYS.PDPT_LOW, i, this.sysGpa(SYS.PD_WINDOW + i * PAGE_SIZE) + table);
    for (let i = 0; i < L.nPt; i++) {
      this.setEntry(SYS.PD_WINDOW + (i >> 9) * PAGE_SIZE, i & 511, this.sysGpa(L.ptOffset + i * PAGE_SIZE) + table);
    }
    // System area: SYS_VA = PML4[255] / PDPT[511] / PD[511] / PT[0..].
    const pml4i = Math.floor(SYS_VA / 2 ** 39) & 511, pdpti = Math.floor(SYS_VA / 2 ** 30) & 511, pdi = Math.floor(SYS_VA / 2 ** 21) & 511;
    this.setEntry(SYS.PML4, pml4i, this.sysGpa(SYS.PDPT_SYS) + table);
    this.setEntry(SYS.PDPT_SYS, pdpti, this.sysGpa(SYS.PD_SYS) + table);
    this.setEntry(SYS.PD_SYS, pdi, this.sysGpa(SYS.PT_SYS) + table);
    for (let off = 0; off < SYS.MAPPED_END; off += PAGE_SIZE) {
      // GDT, IDT, TSS and the exception stack are supervisor-only; the stub page must be
      // user-executable because on kvm_pvm `syscall` reaches LSTAR still at CPL3.
      let flags = PTE_P;
      let nx = true;
      if (off === SYS.STUB || off === SYS.VDSO) { flags |= PTE_US; nx = false; }
      else if (off === SYS.VVAR) flags |= PTE_US;
      else if (off === SYS.CHAN) flags |= PTE_US | PTE_RW;
      else if (off === SYS.XSTACK || off === SYS.XSTACK + PAGE_SIZE || off === SYS.TSS || off === SYS.GDT) flags |= PTE_RW;
      this.setEntry(SYS.PT_SYS, off / PAGE_SIZE, this.sysGpa(off) + flags, nx);
    }
  }

  /** The system-slot offsets of vCPU `i`'s own pages (layout.ts, VCPU_BLOCK). */
  vcpuPages(i: number): VcpuPages { return vcpuPages(this.layout, i); }

  /**
   * Builds vCPU `i`'s own system pages (i >= 1; vCPU 0's are built with the window's):
   * a PML4 sharing the window's tables, its own system-area branch that maps its TSS,
   * exception stack and channel page where vCPU 0's are, and a copy of vCPU 0's TSS
   * (the same stack pointers and I/O bitmap, which then point at its own pages).
   * The channel page starts zeroed (the channel is off).
   */
  setupVcpuPages(i: number): void {
    if (i === 0) return;
    const P = this.vcpuPages(i), s = this.sys32, table = P_RW_US;
    this.sys8.fill(0, P.pml4, P.chan + PAGE_SIZE);
    // PML4[0] -> the shared window tables; PML4[255] -> this vCPU's system-area branch.
    s[(P.pml4 >> 2)] = s[SYS.PML4 >> 2]!; s[(P.pml4 >> 2) + 1] = s[(SYS.PML4 >> 2) + 1]!;
    const pml4i = Math.floor(SYS_VA / 2 ** 39) & 511, pdpti = Math.floor(SYS_VA / 2 ** 30) & 511, pdi = Math.floor(SYS_VA / 2 ** 21) & 511;
    this.setEntry(P.pml4, pml4i, this.sysGpa(P.pdptSys) + table);
    this.setEntry(P.pdptSys, pdpti, this.sysGpa(P.pdSys) + table);
    this.setEntry(P.pdSys, pdi, this.sysGpa(P.ptSys) + table);
    this.sys8.copyWithin(P.ptSys, SYS.PT_SYS, SYS.PT_SYS + PAGE_SIZE);
    const own = (sysOff: number, mine: number) => {
      const w = (P.ptSys >> 2) + (sysOff / PAGE_SIZE) * 2;
      const lo = s[w]!, hi = s[w + 1]!;
      const pa = this.sysGpa(mine);
      s[w] = ((pa >>> 0) & ~0xfff) | (lo & 0xfff);
      s[w + 1] = (Math.floor(pa / 2 ** 32) & 0x7fffffff) | (hi & PTE_NX_HI);
    };
    own(SYS.TSS, P.tss);
    own(SYS.XSTACK, P.xstack);
    own(SYS.XSTACK + PAGE_SIZE, P.xstack + PAGE_SIZE);
    own(SYS.CHAN, P.chan);
    this.sys8.copyWithin(P.tss, SYS.TSS, SYS.TSS + PAGE_SIZE);
  }

  private setEntry(tableOff: number, index: number, value: number, nx = false): void {
    const w = (tableOff >> 2) + index * 2;
    this.sys32[w] = value >>> 0;
    this.sys32[w + 1] = Math.floor(value / 2 ** 32) | (nx ? PTE_NX_HI : 0);
  }

  /**
   * Sets the PTEs of window pages [va, va+len) for Linux protection `prot`
   * (PROT_NONE: not present). va and len must be page-aligned and inside the window.
   * Reducing access also needs invalidate(): see there.
   */
  setPages(va: number, len: number, prot: number): void {
    this.mapGen++;
    const first = va / PAGE_SIZE, n = len / PAGE_SIZE;
    const s = this.sys32;
    let w = this.pteBase + first * 2;
    if (prot === 0) {
      for (let i = 0; i < n; i++, w += 2) { s[w] = s[w]! & PTE_FILE; s[w + 1] = 0; }
      return;
    }
    const lo = PTE_P | PTE_US | ((prot & PROT_W) ? PTE_RW : 0);
    const nx = (prot & PROT_X) ? 0 : PTE_NX_HI;
    let pa = va;
    for (let i = 0; i < n; i++, w += 2, pa += PAGE_SIZE) {
      s[w] = (pa >>> 0) | lo | (s[w]! & PTE_FILE);
      s[w + 1] = Math.floor(pa / 2 ** 32) | nx;
    }
  }

  /**
   * Marks window pages [va, va+len) (page-aligned) as backed by a host file mapping, or
   * not. The mark tells the VMM's own accessors to copy through the kernel (fileSafe).
   */
  markFile(va: number, len: number, file: boolean): void {
    if (file) { this.mapGen++; this.hostGen++; }
    const s = this.sys32;
    const end = this.pteBase + ((va + len) / PAGE_SIZE) * 2;
    for (let w = this.pteBase + (va / PAGE_SIZE) * 2; w < end; w += 2) s[w] = file ? (s[w]! | PTE_FILE) : (s[w]! & ~PTE_FILE);
  }

  /** True if any page of [va, va+len) is backed by a host file mapping (len > 0, inside the window). */
  isFile(va: number, len: number): boolean {
    const s = this.sys32;
    const last = this.pteBase + Math.floor((va + len - 1) / PAGE_SIZE) * 2;
    for (let w = this.pteBase + Math.floor(va / PAGE_SIZE) * 2; w <= last; w += 2) if (s[w]! & PTE_FILE) return true;
    return false;
  }

  /** Linux protection of window page containing va (0 if not present), read from its PTE. */
  pageProt(va: number): number {
    const w = this.pteBase + Math.floor(va / PAGE_SIZE) * 2;
    const lo = this.sys32[w]!;
    if (!(lo & PTE_P)) return 0;
    return PROT_R | ((lo & PTE_RW) ? PROT_W : 0) | ((this.sys32[w + 1]! & PTE_NX_HI) ? 0 : PROT_X);
  }

  /**
   * Makes the vCPU forget translations of [va, va+len) after their PTEs lost access.
   * KVM caches guest translations (shadow pages on kvm_pvm, the TLB under EPT), and stores
   * from the host into guest page tables are not seen by it. Changing the protection of the
   * host mapping behind those pages fires KVM's MMU notifier, which drops every cached
   * mapping of them (and flushes the guest TLB); the next guest access walks the new PTEs.
   *
   * `hostProt` is the protection the host mapping of the range has and gets back: read-write
   * for the window's own memory and writable file mappings, PROT_READ for a MAP_SHARED file
   * mapped without write (its file may be open read-only: the host refuses write there). The
   * range is flipped to less than that (PROT_READ, or PROT_NONE for a read-only one: an
   * mprotect to the same protection is a no-op that fires nothing) and back.
   * Returns 0, or -errno when the host refused the flip (ENOMEM at vm.max_map_count); the
   * range has its protection back either way. Throws if it cannot be given back, since the
   * VMM's own stores into it would then crash.
   */
  invalidate(va: number, len: number, hostProt = PROT_READ | PROT_WRITE): number {
    this.mapGen++;
    if (this.touchesTracked(va, len)) this.hostGen++;
    const addr = this.hostBase + va;
    const r = sys(NR.mprotect, addr, len, hostProt & PROT_WRITE ? PROT_READ : PROT_NONE);
    const back = sys(NR.mprotect, addr, len, hostProt);
    if (back < 0) throw new Error(`cannot restore the host protection of guest pages 0x${va.toString(16)}+${len} (errno ${-back})`);
    return r < 0 ? r : 0;
  }

  /**
   * Puts fresh anonymous memory (zeros) where [start, end) overlaps a restored snapshot's
   * memory file, and forgets those parts; KVM's mappings of them are dropped as by an munmap.
   */
  dropSnapshotBacking(start: number, end: number): void {
    if (this.snapshotBacked.length === 0) return;
    const keep: Array<[number, number]> = [];
    for (const [s, e] of this.snapshotBacked) {
      const a = Math.max(s, start), b = Math.min(e, end);
      if (a >= b) { keep.push([s, e]); continue; }
      this.mapGen++;
      this.hostGen++;
      sys(NR.mmap, this.hostBase + a, b - a, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
      if (s < a) keep.push([s, a]);
      if (b < e) keep.push([b, e]);
    }
    this.snapshotBacked = keep;
  }

  /** Gives pages back to the host (they read as zero afterwards) and drops KVM's mappings of them. */
  discard(va: number, len: number): void {
    this.mapGen++;
    if (this.touchesTracked(va, len)) this.hostGen++;
    // A file mapping may sit there: put fresh anonymous memory back first.
    sys(NR.mmap, this.hostBase + va, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    sys(NR.madvise, this.hostBase + va, len, MADV_DONTNEED);
    this.markFile(va, len, false);
  }

  /**
   * The one checked path from a guest range to host memory: returns the host address of
   * [va, va+len) if every page of it is mapped user-accessible (and writable when `write`),
   * otherwise throws GuestFault. A zero length is always allowed, as in Linux.
   */
  host(va: number, len: number, write: boolean): number {
    if (len === 0) return this.hostBase + (va >= 0 && va < this.memSize ? va : 0);
    if (!(va >= 0 && len > 0 && va + len <= this.memSize)) throw FAULT;
    const need = write ? (PTE_P | PTE_US | PTE_RW) : (PTE_P | PTE_US);
    const s = this.sys32;
    const last = Math.floor((va + len - 1) / PAGE_SIZE);
    let any = 0;
    for (let p = Math.floor(va / PAGE_SIZE), w = this.pteBase + p * 2; p <= last; p++, w += 2) {
      const e = s[w]!;
      if ((e & need) !== need && !(write && (e & (PTE_P | PTE_US)) === (PTE_P | PTE_US) && this.debugWatched?.has(p))) throw FAULT;
      any |= e;
    }
    this.lastFile = (any & PTE_FILE) !== 0;
    return this.hostBase + va;
  }

  /**
   * Pages whose write bit a debugger took for a watchpoint (src/gdb/target.ts): the
   * program may write them (it only faults to the debugger), so the VMM's own writes for
   * it (a signal frame, clear_child_tid, a syscall's result) are allowed there.
   */
  debugWatched: Set<number> | undefined;

  /** Set by host(): the range it last accepted has a page backed by a host file mapping. */
  private lastFile = false;

  /** The view of chunk i. */
  private chunk(i: number): Uint8Array {
    let c = this.chunks[i];
    if (!c) {
      const start = i * CHUNK;
      c = new Uint8Array(viewOf(this.hostBase + start, Math.min(CHUNK, this.memSize - start)));
      this.chunks[i] = c;
    }
    return c;
  }

  /**
   * Window bytes [off, off+len) as a view, without checks (the VMM's own use: loading the
   * program, building the stack, after a check). A range across two chunks gets a view
   * of its own; a range longer than MAX_VIEW is refused (an Error, never a view of
   * gigabytes: above 4 GiB koffi cannot make one): copy large ranges with copy() or load().
   */
  bytes(off: number, len: number): Uint8Array {
    // Unchecked against the page tables, but never outside the window: a slip in a caller
    // must throw, not make a view of host memory below or above it.
    if (!(off >= 0 && len >= 0 && off + len <= this.memSize)) {
      throw new Error(`no view of window bytes 0x${off.toString(16)}+${len}: outside the window`);
    }
    const i = Math.floor(off / CHUNK), o = off - i * CHUNK;
    if (o + len <= CHUNK) return this.chunk(i).subarray(o, o + len);
    if (!(len <= MAX_VIEW)) {
      throw new Error(`no view of window bytes 0x${off.toString(16)}+${len}: longer than ${MAX_VIEW} bytes or outside the window`);
    }
    return new Uint8Array(viewOf(this.hostBase + off, len));
  }

  /**
   * Copies window bytes [src, src+n) to [dest, dest+n) (unchecked; the ranges must not
   * overlap), in pieces that never cross a chunk, so any length works.
   */
  copy(dest: number, src: number, n: number): void {
    while (n > 0) {
      const k = Math.min(n, CHUNK - (src % CHUNK), CHUNK - (dest % CHUNK));
      this.bytes(dest, k).set(this.bytes(src, k));
      dest += k; src += k; n -= k;
    }
  }

  /** Copies VMM bytes to window offset `off` (unchecked), in pieces that never cross a chunk. */
  load(off: number, data: Uint8Array): void {
    for (let done = 0; done < data.length;) {
      const k = Math.min(data.length - done, CHUNK - ((off + done) % CHUNK));
      this.bytes(off + done, k).set(data.subarray(done, done + k));
      done += k;
    }
  }

  /** A DataView over window bytes [off, off+len) (unchecked). */
  private dvAt(off: number, len: number): DataView {
    const b = this.bytes(off, len);
    return new DataView(b.buffer, b.byteOffset, len);
  }

  /** Like host(), returning the window offset (for reading through bytes()). */
  check(va: number, len: number, write: boolean): number {
    return this.host(va, len, write) - this.hostBase;
  }

  /*
   * The VMM's own loads and stores into guest memory. Pages backed by a host file mapping
   * (PTE_FILE) are never touched through a view: if the file shrinks under the mapping
   * (another process truncates a library, or the guest truncates a file it mapped), a load
   * or store there raises SIGBUS in the VMM, which would kill it. Even private pages the
   * guest already wrote are dropped by a truncation (Linux unmaps copy-on-write pages
   * past the new end too). So those ranges are copied through the kernel instead
   * (process_vm_readv/writev on the VMM itself), which fails with EFAULT where a load
   * would fault: the guest's syscall then gets EFAULT, as it does on Linux.
   */

  /** Copies guest bytes out (checked). */
  read(va: number, len: number): Buffer {
    const off = this.check(va, len, false);
    if (this.lastFile) return this.copyOut(va, len);
    return Buffer.from(this.bytes(off, len));
  }

  /**
   * Guest bytes without copying (checked), valid until the mapping changes. For a range
   * backed by a file: a copy when reading; when writing, the pages are first made present
   * and private (MADV_POPULATE_WRITE, which fails instead of faulting), so only a
   * truncation by another process at that very moment could still fault the VMM.
   */
  view(va: number, len: number, write: boolean): Uint8Array {
    const off = this.check(va, len, write);
    if (this.lastFile) {
      if (!write) return this.copyOut(va, len);
      const a = Math.floor(va / PAGE_SIZE) * PAGE_SIZE;
      if (sys(NR.madvise, this.hostBase + a, Math.ceil((va + len) / PAGE_SIZE) * PAGE_SIZE - a, MADV_POPULATE_WRITE) < 0) throw FAULT;
    }
    return this.bytes(off, len);
  }

  /** Copies bytes into the guest (checked for write). */
  write(va: number, data: Uint8Array): void {
    const off = this.check(va, data.length, true);
    if (this.lastFile) { this.copyIn(va, data); return; }
    this.bytes(off, data.length).set(data);
  }

  /** A DataView of `len` (<= 8) guest bytes at va for reading (checked): the window, or a copy of a file-backed range. */
  private small(va: number, len: number): DataView {
    const off = this.check(va, len, false);
    if (this.lastFile) { const c = this.copyOut(va, len); return new DataView(c.buffer, c.byteOffset, len); }
    return this.dvAt(off, len);
  }

  readU32(va: number): number { return this.small(va, 4).getUint32(0, true); }
  readI32(va: number): number { return this.small(va, 4).getInt32(0, true); }
  /** Reads a u64 as a number (exact below 2^53; callers use it for addresses, sizes, times). */
  readU64(va: number): number {
    const d = this.small(va, 8);
    return d.getUint32(0, true) + d.getUint32(4, true) * 2 ** 32;
  }
  readI64(va: number): number {
    const d = this.small(va, 8);
    return d.getUint32(0, true) + d.getInt32(4, true) * 2 ** 32;
  }
  writeU32(va: number, v: number): void {
    const off = this.check(va, 4, true);
    if (this.lastFile) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.copyIn(va, b); return; }
    this.dvAt(off, 4).setUint32(0, v >>> 0, true);
  }
  writeU64(va: number, v: number): void {
    const off = this.check(va, 8, true);
    const d = this.lastFile ? new DataView(new ArrayBuffer(8)) : this.dvAt(off, 8);
    d.setUint32(0, v >>> 0, true);
    d.setUint32(4, Math.floor(v / 2 ** 32) >>> 0, true);
    if (this.lastFile) this.copyIn(va, new Uint8Array(d.buffer));
  }

  /**
   * Copies [va, va+len) of the window out through the kernel (unchecked against the page
   * tables; never faults the VMM). Returns the bytes, or throws GuestFault if the host
   * could not read them all (a file mapping past its file's end).
   */
  copyOut(va: number, len: number): Buffer {
    const b = Buffer.alloc(len);
    if (this.kernelCopy(va, b, false) !== len) throw FAULT;
    return b;
  }

  /** Copies `data` into the window at va through the kernel (unchecked); GuestFault if it could not write it all. */
  copyIn(va: number, data: Uint8Array): void {
    if (this.kernelCopy(va, data, true) !== data.length) throw FAULT;
  }

  /** Like copyOut, returning how many bytes could be read (0 for none); for the VMM's own best-effort reads. */
  tryRead(va: number, buf: Uint8Array): number {
    return this.kernelCopy(va, buf, false);
  }

  /** process_vm_readv/writev of the VMM's own memory: window bytes <-> `buf`. Returns the bytes copied. */
  private kernelCopy(va: number, buf: Uint8Array, toGuest: boolean): number {
    if (buf.length === 0) return 0;
    if (!(va >= 0 && va + buf.length <= this.memSize)) return 0;
    const iov = this.iov;
    iov.setBigUint64(IOVEC.iov_base, BigInt(addressOf(buf)), true);
    iov.setBigUint64(IOVEC.iov_len, BigInt(buf.length), true);
    iov.setBigUint64(IOVEC.SIZE + IOVEC.iov_base, BigInt(this.hostBase + va), true);
    iov.setBigUint64(IOVEC.SIZE + IOVEC.iov_len, BigInt(buf.length), true);
    const a = addressOf(this.iovBytes);
    const r = sys(toGuest ? NR.process_vm_writev : NR.process_vm_readv, process.pid, a, 1, a + IOVEC.SIZE, 1, 0);
    return r < 0 ? 0 : r;
  }
  private readonly iovBytes = new Uint8Array(2 * IOVEC.SIZE);
  private readonly iov = new DataView(this.iovBytes.buffer);

  /**
   * Reads a NUL-terminated string of at most `max` bytes (checked page by page).
   * Throws GuestFault if unmapped before the NUL; returns null if no NUL within max.
   */
  readCString(va: number, max = 4096): Buffer | null {
    let end = va;
    const limit = va + max;
    while (end < limit) {
      const pageEnd = Math.min(limit, (Math.floor(end / PAGE_SIZE) + 1) * PAGE_SIZE);
      const off = this.check(end, pageEnd - end, false);
      if (this.lastFile) return this.readCStringCopied(va, max);
      const idx = this.bytes(off, pageEnd - end).indexOf(0);
      if (idx >= 0) return Buffer.from(this.bytes(va, end + idx - va));
      end = pageEnd;
    }
    return null;
  }

  /** readCString for a string that reaches a file-backed page: page by page, through copies. */
  private readCStringCopied(va: number, max: number): Buffer | null {
    const parts: Buffer[] = [];
    for (let end = va, limit = va + max; end < limit;) {
      const pageEnd = Math.min(limit, (Math.floor(end / PAGE_SIZE) + 1) * PAGE_SIZE);
      const off = this.check(end, pageEnd - end, false);
      const piece = this.lastFile ? this.copyOut(end, pageEnd - end) : this.bytes(off, pageEnd - end);
      const idx = piece.indexOf(0);
      if (idx >= 0) { parts.push(Buffer.from(piece.subarray(0, idx))); return Buffer.concat(parts); }
      parts.push(Buffer.from(piece));
      end = pageEnd;
    }
    return null;
  }

  /**
   * A fork: this (new) VM's system slot takes the parent's page tables, descriptor tables,
   * stub and vDSO (everything up to the vCPU blocks), so the child sees the same mappings
   * with the same protections; vCPU 0's channel page starts idle.
   */
  copySystemFrom(parent: GuestMemory): void {
    if (parent.memSize !== this.memSize || parent.layout.maxVcpus !== this.layout.maxVcpus) throw new Error('fork: windows of different sizes');
    // Only the pages the parent's slot has in memory: most page-table pages of a large
    // window were never touched (and this slot reads as zero there, as a fresh one does).
    copyResident(this.sysHost, parent.sysHost, 0, this.layout.vcpuOffset);
    this.sys8.fill(0, SYS.CHAN, SYS.CHAN + PAGE_SIZE);
  }

  /**
   * The system slot's pages in use below the vCPU blocks (page tables, descriptor tables,
   * stub, vDSO), as copies [offset, bytes] with vCPU 0's channel page idle: a snapshot's
   * (src/vmm/snapshot.ts). Pages never touched read as zero in a fresh slot too.
   */
  systemPages(): Array<[number, Uint8Array]> {
    const pages = this.layout.vcpuOffset / PAGE_SIZE;
    const vec = Buffer.alloc(pages);
    if (sys(NR.mincore, this.sysHost, pages * PAGE_SIZE, addressOf(vec)) < 0) vec.fill(1);
    const out: Array<[number, Uint8Array]> = [];
    for (let i = 0; i < pages;) {
      if (!(vec[i]! & 1)) { i++; continue; }
      let j = i + 1;
      while (j < pages && (vec[j]! & 1)) j++;
      const b = this.sys8.slice(i * PAGE_SIZE, j * PAGE_SIZE);
      if (SYS.CHAN >= i * PAGE_SIZE && SYS.CHAN < j * PAGE_SIZE) b.fill(0, SYS.CHAN - i * PAGE_SIZE, SYS.CHAN - i * PAGE_SIZE + PAGE_SIZE);
      out.push([i * PAGE_SIZE, b]);
      i = j;
    }
    return out;
  }

  /**
   * A fork: copies the pages of [va, va+len) that the parent's window has in memory (mincore:
   * pages it never touched are not copied, and read as zero here too). Returns the bytes copied.
   */
  copyResidentFrom(parent: GuestMemory, va: number, len: number): number {
    return copyResident(this.hostBase, parent.hostBase, va, len);
  }

  /**
   * An exec: the window becomes empty, as a new VM's: the ranges the old program mapped
   * (`ranges`; `file`: a host file or shared memory sits there) get fresh memory, and every
   * page-table page is zero again. Dropping the pages fires KVM's MMU notifier for each, so
   * KVM forgets every cached translation to them (as after an munmap). Only what was mapped
   * is touched: tearing down a whole large window costs milliseconds on kvm_pvm.
   */
  resetWindow(ranges: readonly { start: number; end: number; file: boolean }[]): void {
    this.mapGen++;
    this.hostGen++;
    this.dropSnapshotBacking(0, this.memSize);
    for (const r of ranges) {
      const addr = this.hostBase + r.start, len = r.end - r.start;
      if (r.file) sys(NR.mmap, addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
      else sys(NR.madvise, addr, len, MADV_DONTNEED);
    }
    sys(NR.madvise, this.sysHost + this.layout.ptOffset, this.layout.nPt * PAGE_SIZE, MADV_DONTNEED);
  }

  /**
   * Empties the window and the system slot (fresh anonymous memory over both, which fires
   * KVM's MMU notifier for every page the last guest had) for a VM kept with this memory
   * registered (Machine's warm VMs): `renew()` then makes it a new guest's.
   */
  scrub(): void {
    this.snapshotBacked = [];
    this.mapGen++;
    this.hostGen++;
    this.tracked = this.held = undefined;
    this.trackedRanges = [];
    const fds = this.heldFds;
    this.heldFds = undefined;
    fds?.close();
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED;
    sys(NR.mmap, this.hostBase, this.memSize, PROT_READ | PROT_WRITE, flags, -1, 0);
    sys(NR.mmap, this.sysHost, this.layout.sysSize, PROT_READ | PROT_WRITE, flags, -1, 0);
  }

  /** A scrubbed memory for a new guest: its fixed page-table levels built again. */
  renew(): GuestMemory {
    this.buildPageTables();
    return this;
  }

  /**
   * Gives the memory back once its VM is closed: fresh anonymous memory replaces the whole
   * window and system slot (dropping every page the guest touched and any file mapping),
   * and the emptied window is kept for the next VM of the same size (at most two are kept).
   */
  release(): void {
    this.scrub();
    if (GuestMemory.pool.length < 2) { GuestMemory.pool.push(this); return; }
    unguardWindow(this.hostBase);
    sys(NR.munmap, this.hostBase, this.memSize + PAGE_SIZE + this.layout.sysSize);
  }
}

const P_RW_US = PTE_P | PTE_RW | PTE_US;

/** Size of one view of the window (see GuestMemory.chunks). */
const CHUNK = 16 * 1024 * 1024;
/** The longest range bytes() makes a view of. */
const MAX_VIEW = 1024 * 1024 * 1024;

/**
 * Copies the pages of host range [src+off, src+off+len) that are in memory (mincore) to
 * dest+off (page-aligned offsets); pages never touched are left alone. Returns the bytes copied.
 */
function copyResident(dest: number, src: number, off: number, len: number): number {
  const pages = Math.ceil(len / PAGE_SIZE);
  const vec = mincoreVec.length >= Math.min(pages, 65536) ? mincoreVec : (mincoreVec = Buffer.allocUnsafe(Math.min(pages, 65536)));
  let copied = 0;
  for (let first = 0; first < pages; first += vec.length) {
    const n = Math.min(vec.length, pages - first);
    const base = off + first * PAGE_SIZE;
    if (sys(NR.mincore, src + base, n * PAGE_SIZE, addressOf(vec)) < 0) vec.fill(1, 0, n);
    for (let i = 0; i < n;) {
      if (!(vec[i]! & 1)) { i++; continue; }
      let j = i + 1;
      while (j < n && (vec[j]! & 1)) j++;
      const at = base + i * PAGE_SIZE, bytes = (j - i) * PAGE_SIZE;
      memcpy(dest + at, src + at, bytes);
      copied += bytes;
      i = j;
    }
  }
  return copied;
}
let mincoreVec = Buffer.allocUnsafe(4096);

function mmapAnon(len: number): number {
  const addr = sys(NR.mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (addr < 0) throw new Error(`cannot reserve ${len} bytes of host memory (errno ${-addr})`);
  return addr;
}
