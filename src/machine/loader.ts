/**
 * Loads an ELF executable into a fresh address space and builds the initial stack as the
 * System V x86-64 psABI (3.4.1, "Initial Stack and Register State") specifies:
 *
 *   rsp -> argc | argv[0..argc-1] | NULL | envp[...] | NULL | auxv pairs | AT_NULL
 *          ... then the strings and the 16 AT_RANDOM bytes, near the top of the stack.
 */
import { ElfImage, ElfError, PT_LOAD, PT_PHDR, PF_R, PF_W, PF_X, ET_DYN, readElf } from '../elf/elf';
import { AddressSpace, pageUp, pageDown } from './mm';
import { sys, NR, addressOf } from '../host/libc';
import { AT_EMPTY_PATH, AT_FDCWD, O_CLOEXEC, O_NOCTTY, O_NONBLOCK, O_RDONLY, X_OK } from '../linux/fcntl';
import { S_IFMT, S_IFREG, ST_NOEXEC } from '../linux/stat';
import { STAT, STATFS } from '../linux/structs';
import { EACCES, ENOENT, errnoName, strerror } from '../linux/errno';
import { PROT_R, PROT_W, PROT_X } from './memory';
import { PIE_BASE, PAGE_SIZE, MMAP_MIN_ADDR, STACK_SIZE, MAX_MEMORY } from './layout';

/** Auxiliary vector types (<linux/auxvec.h>, <elf.h>). */
export const AT = {
  NULL: 0, PHDR: 3, PHENT: 4, PHNUM: 5, PAGESZ: 6, BASE: 7, FLAGS: 8, ENTRY: 9, UID: 11, EUID: 12, GID: 13, EGID: 14,
  PLATFORM: 15, HWCAP: 16, CLKTCK: 17, SECURE: 23, RANDOM: 25, HWCAP2: 26, EXECFN: 31, SYSINFO_EHDR: 33, MINSIGSTKSZ: 51,
} as const;

/** Identity and CPU facts published to the program through auxv. */
export interface AuxInfo {
  uid: number; euid: number; gid: number; egid: number;
  hwcap: number;
  random: Uint8Array;  // 16 bytes
}

/** Where the program starts. */
export interface LoadedProgram {
  entry: number;
  rsp: number;
  /** Load bias (0 for ET_EXEC). */
  base: number;
  /** Highest address of the image (the break starts here). */
  end: number;
}

/**
 * Where an ET_DYN image goes (an ET_EXEC one always goes at its own addresses):
 *  - { at }: its lowest address at `at` (aligned as its segments ask), or where it asks
 *    if that is higher: never a negative bias. A PIE with an interpreter goes at
 *    elfDynBase (layout.ts), as Linux puts it at ELF_ET_DYN_BASE;
 *  - 'pie': { at: PIE_BASE } (static PIEs given to loadSegments directly);
 *  - 'high': in the mmap area, top-down, as Linux places an ELF interpreter and a
 *    program without PT_INTERP (a loader run directly, or a static PIE): away from the
 *    low addresses where the program a loader loads may want to be.
 */
export type Placement = 'pie' | 'high' | { readonly at: number };

/** How loadSegments gets the file's bytes and places the image. */
export interface LoadOptions {
  /**
   * A host fd of the file: segments whose file offset and address agree modulo the page
   * size are mapped from it (MAP_PRIVATE, lazily, the host's page cache shared with every
   * other mapping of the file) instead of copied; the others are read with pread.
   */
  fd?: number;
  /** The file's size, when there is no `file` buffer. */
  size?: number;
  /** Placement of an ET_DYN image (default 'pie'). */
  place?: Placement;
  /** Charge the stack too in the memory-limit check (default true: the program's own image). */
  withStack?: boolean;
  /** What to call the image in messages ("the interpreter /lib/ld.so"; default "the image"). */
  what?: string;
}

/**
 * The largest segment alignment honoured when torov chooses the address (2 MiB, a huge
 * page): larger powers of two are placed at this one, so that a hostile p_align cannot
 * make a small image need a huge free range.
 */
const MAX_ALIGN = 2 * 1024 * 1024;

/**
 * Maps the PT_LOAD segments of `elf` with their permissions, after checking that they,
 * the entry point and the stack fit: in the window, and in the memory limit (the image's
 * accessible pages and the stack are charged like any mapping). The bytes come from
 * `file` (the whole file in memory) or from `opts.fd`. Throws ElfError (one line)
 * otherwise, before anything is mapped; a failure of the host while mapping (a file
 * truncated meanwhile) is an ElfError too, with the image partly mapped.
 */
export function loadSegments(as: AddressSpace, elf: ElfImage, file: Uint8Array | undefined, opts: LoadOptions = {}): { base: number; end: number; phdrAddr: number } {
  const what = opts.what ?? 'the image';
  const loads = elf.phdrs.filter((p) => p.type === PT_LOAD);
  let lo = Infinity, hi = 0, align = PAGE_SIZE;
  for (const p of loads) {
    lo = Math.min(lo, p.vaddr);
    hi = Math.max(hi, p.vaddr + p.memsz);
    // Only powers of two are alignments (Linux's maximum_alignment() ignores the rest).
    if (p.align > align && Number.isInteger(Math.log2(p.align))) align = Math.min(p.align, MAX_ALIGN);
  }
  lo = pageDown(lo); hi = pageUp(hi);
  let base = 0;
  if (elf.type === ET_DYN) {
    const place = opts.place ?? 'pie';
    if (place !== 'high') {
      // At `at`, or where it asks if that is higher (never a negative bias).
      const at = place === 'pie' ? PIE_BASE : place.at;
      base = Math.max(0, Math.ceil(at / align) * align - lo);
    } else {
      // Top-down in the mmap area, aligned as the segments ask.
      const size = hi - lo;
      const at = size > 0 && size <= as.mmapTop ? as.findFree(size + align - PAGE_SIZE) : -1;
      if (at < 0) throw new ElfError(`${what} (${Math.ceil(size / 2 ** 20)} MiB) does not fit in guest memory: run with a larger --memory`);
      base = Math.ceil(at / align) * align - lo;
    }
  }
  const mem = as.mem;
  if (lo + base < MMAP_MIN_ADDR) throw new ElfError(`${what === 'the image' ? 'loads' : `${what} loads`} at 0x${(lo + base).toString(16)}, below the lowest allowed address 0x${MMAP_MIN_ADDR.toString(16)}`);
  if (hi + base > as.mmapTop) {
    const need = Math.ceil((hi + base) / 2 ** 20) + 16;
    throw new ElfError(`${what} ends at 0x${(hi + base).toString(16)}, beyond guest memory: ${memoryAdvice(need)}`);
  }
  const entry = elf.entry + base;
  if (entry < MMAP_MIN_ADDR || entry >= as.mmapTop) {
    throw new ElfError(`${what === 'the image' ? '' : `${what}: `}entry point 0x${entry.toString(16)} is outside the program's memory (0x${MMAP_MIN_ADDR.toString(16)}-0x${as.mmapTop.toString(16)})`);
  }
  if (hi > lo && !as.isFree(lo + base, hi + base)) {
    throw new ElfError(`${what} (0x${(lo + base).toString(16)}-0x${(hi + base).toString(16)}) overlaps memory already mapped (the program's own image)`);
  }
  // Each page gets the union of the permissions of the segments that touch it: a sweep
  // over the segments' page-aligned edges, counting per permission bit how many segments
  // cover the pages between two edges (any number of segments of any size costs
  // O(segments log segments), not a step per page).
  const edges: Array<{ at: number; prot: number; d: 1 | -1 }> = [];
  for (const p of loads) {
    const prot = (p.flags & PF_R ? PROT_R : 0) | (p.flags & PF_W ? PROT_W : 0) | (p.flags & PF_X ? PROT_X : 0);
    const s = pageDown(p.vaddr + base), e = pageUp(p.vaddr + base + p.memsz);
    if (s < e) edges.push({ at: s, prot, d: 1 }, { at: e, prot, d: -1 });
  }
  edges.sort((a, b) => a.at - b.at);
  // Runs of pages with equal permissions, merged when adjacent.
  const runs: Array<{ start: number; end: number; prot: number }> = [];
  const count = [0, 0, 0, 0];    // segments covering: any, R, W, X
  for (let i = 0; i < edges.length;) {
    const at = edges[i]!.at;
    for (; i < edges.length && edges[i]!.at === at; i++) {
      const { prot, d } = edges[i]!;
      count[0]! += d;
      if (prot & PROT_R) count[1]! += d;
      if (prot & PROT_W) count[2]! += d;
      if (prot & PROT_X) count[3]! += d;
    }
    if (i === edges.length || count[0] === 0) continue;
    const prot = (count[1] ? PROT_R : 0) | (count[2] ? PROT_W : 0) | (count[3] ? PROT_X : 0);
    const next = edges[i]!.at, last = runs[runs.length - 1];
    if (last && last.end === at && last.prot === prot) last.end = next;
    else runs.push({ start: at, end: next, prot });
  }
  // The memory limit: the image's accessible pages and the stack (mapped next).
  const image = runs.reduce((n, r) => n + (r.prot ? r.end - r.start : 0), 0);
  const stack = opts.withStack === false ? 0 : STACK_SIZE;
  if (as.committed + image + stack > as.limit) {
    const need = Math.ceil((as.committed + image + stack) / 2 ** 20);
    throw new ElfError(`${what === 'the image' ? '' : `${what}: `}needs more memory than --memory ${Math.floor(as.limit / 2 ** 20)}M allows (${Math.ceil(image / 2 ** 20)} MiB of program image${stack ? ` and ${STACK_SIZE / 2 ** 20} MiB of stack` : ''}): ${memoryAdvice(need)}`);
  }
  for (const r of runs) as.map(r.start, r.end - r.start, r.prot, 'elf');
  // The file's bytes; the rest (bss) is fresh zero memory.
  for (const p of loads) {
    if (p.filesz === 0) continue;
    const va = p.vaddr + base, page = pageDown(va), off = p.offset - (va - page);
    if (opts.fd !== undefined && off >= 0 && off % PAGE_SIZE === 0) {
      // As Linux's elf_map: the file's pages, copy-on-write. When the segment has a bss,
      // the last one's bytes after the file part are zeroed up to the end of the page
      // (padzero): glibc's ld.so allocates from the rest of that page and relies on it.
      const r = as.hostMapFile(page, pageUp(va + p.filesz) - page, opts.fd, off, false, false);
      if (r < 0) throw new ElfError(`${what}: cannot map a segment from the file (errno ${-r})`);
      const fileEnd = va + p.filesz, zeroEnd = pageUp(fileEnd);
      if (p.memsz > p.filesz && zeroEnd > fileEnd) {
        try { mem.copyIn(fileEnd, new Uint8Array(zeroEnd - fileEnd)); }
        catch { throw new ElfError(`${what}: the file changed while it was loaded (truncated?)`); }
      }
    } else if (file) {
      mem.load(va, file.subarray(p.offset, p.offset + p.filesz));
      as.fileStats.copied += p.filesz;
    } else if (opts.fd !== undefined) {
      // Offset and address disagree modulo the page size: read it (the kernel writes the window).
      for (let done = 0; done < p.filesz;) {
        const r = sys(NR.pread64, opts.fd, mem.hostBase + va + done, p.filesz - done, p.offset + done);
        if (r <= 0) throw new ElfError(`${what}: cannot read a segment from the file (${r < 0 ? `errno ${-r}` : 'it is shorter than its headers say'})`);
        done += r;
      }
      as.fileStats.copied += p.filesz;
    } else throw new Error('loadSegments: neither the file nor an fd');
  }
  const first = loads.find((p) => p.offset === 0);
  if (first) as.loadedImages.push({ header: first.vaddr + base, lo: lo + base, hi: hi + base });
  const phdrSeg = elf.phdrs.find((p) => p.type === PT_PHDR);
  let phdrAddr: number;
  if (phdrSeg) phdrAddr = phdrSeg.vaddr + base;
  else {
    const seg = loads.find((p) => elf.phoff >= p.offset && elf.phoff < p.offset + p.filesz);
    phdrAddr = seg ? seg.vaddr + (elf.phoff - seg.offset) + base : 0;
  }
  return { base, end: hi + base, phdrAddr };
}

/** Writes argv, envp and auxv at the top of the stack; returns the initial rsp. */
export function buildStack(as: AddressSpace, argv: readonly string[], envp: readonly string[], execfn: string,
  auxv: ReadonlyArray<readonly [number, number]>, random: Uint8Array): { rsp: number; strings: Record<string, number>; auxv: ReadonlyArray<readonly [number, number]> } {
  const mem = as.mem;
  let sp = as.stackTop;
  const put = (bytes: Uint8Array): number => { sp -= bytes.length; mem.bytes(sp, bytes.length).set(bytes); return sp; };
  const str = (s: string): number => put(Buffer.from(s + '\0', 'utf8'));
  // A 16-byte guard at the very top (Linux leaves the end marker there).
  sp -= 16;
  const execfnAddr = str(execfn);
  // The environment's strings, then the arguments' below them, each block in order and
  // contiguous as Linux lays them out: /proc/self/cmdline and environ are these ranges.
  const block = (strs: readonly string[]): { addrs: number[]; start: number; end: number } => {
    const bufs = strs.map((x) => Buffer.from(x + '\0', 'utf8'));
    const end = sp;
    sp -= bufs.reduce((n, b) => n + b.length, 0);
    let at = sp;
    const addrs = bufs.map((b) => { mem.bytes(at, b.length).set(b); at += b.length; return at - b.length; });
    return { addrs, start: sp, end };
  };
  const env = block(envp), args = block(argv);
  const envAddrs = env.addrs, argAddrs = args.addrs;
  as.argArea = { start: args.start, end: args.end };
  as.envArea = { start: env.start, end: env.end };
  as.execFn = execfn;
  const platformAddr = str('x86_64');
  sp = Math.floor(sp / 16) * 16;
  const randomAddr = put(random);
  sp = Math.floor(sp / 16) * 16;
  const aux: Array<readonly [number, number]> = [...auxv, [AT.RANDOM, randomAddr], [AT.EXECFN, execfnAddr], [AT.PLATFORM, platformAddr], [AT.NULL, 0]];
  const words = 1 + argAddrs.length + 1 + envAddrs.length + 1 + aux.length * 2;
  sp -= words * 8;
  sp = Math.floor(sp / 16) * 16;   // rsp is 16-byte aligned at entry (psABI 3.4.1)
  const area = mem.bytes(sp, words * 8);
  const dv = new DataView(area.buffer, area.byteOffset, area.byteLength);
  let p = 0;
  const w = (v: number) => { dv.setUint32(p, v >>> 0, true); dv.setUint32(p + 4, Math.floor(v / 2 ** 32), true); p += 8; };
  w(argAddrs.length);
  argAddrs.forEach(w); w(0);
  envAddrs.forEach(w); w(0);
  for (const [k, v] of aux) { w(k); w(v); }
  return { rsp: sp, strings: { execfn: execfnAddr, random: randomAddr, platform: platformAddr }, auxv: aux.slice(0, -1) };
}

/** An executable file opened for loading: its host fd (the caller closes it), size and headers. */
export interface ExecFile { fd: number; size: number; elf: ElfImage }

/**
 * Opens `path` as Linux's execve opens an ELF interpreter (open_exec): resolved by the host
 * kernel from the VMM's root and working directory, which in the sandbox are the guest's
 * (so `..` stops at the guest's root and an absolute symlink points inside it); it must be
 * a regular file (else EACCES: a FIFO is opened non-blocking, so it can never hang the
 * VMM), executable by the VMM's user and not on a noexec mount. Then reads its ELF and
 * program headers (not the whole file). Throws ElfError: status 127 and "not found in
 * `where`" for ENOENT, else 126 naming the errno or what is wrong with the file.
 * `what` names the file in messages ("the interpreter /lib/ld.so").
 */
export function openExec(path: string, what: string, where: string): ExecFile {
  const name = Buffer.from(path + '\0', 'latin1');
  const fd = path === '' ? -ENOENT : sys(NR.openat, AT_FDCWD, addressOf(name), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd === -ENOENT) throw new ElfError(`${what} not found in ${where}`, 127);
  if (fd < 0) throw new ElfError(`cannot open ${what}: ${strerror(-fd)} (${errnoName(-fd)})`);
  try {
    const st = new Uint8Array(STAT.SIZE), sdv = new DataView(st.buffer);
    let r = sys(NR.fstat, fd, addressOf(st));
    if (r < 0) throw new ElfError(`cannot open ${what}: ${strerror(-r)} (${errnoName(-r)})`);
    if ((sdv.getUint32(STAT.st_mode, true) & S_IFMT) !== S_IFREG) throw new ElfError(`cannot run ${what}: not a regular file (${errnoName(EACCES)})`);
    const size = Number(sdv.getBigInt64(STAT.st_size, true));
    const sf = new Uint8Array(STATFS.SIZE);
    if (sys(NR.fstatfs, fd, addressOf(sf)) === 0 && Number(new DataView(sf.buffer).getBigUint64(STATFS.f_flags, true)) & ST_NOEXEC) {
      throw new ElfError(`cannot run ${what}: its file system is mounted noexec (${errnoName(EACCES)})`);
    }
    // Execute permission, as the kernel checks it (faccessat2 with AT_EMPTY_PATH: Linux 5.8).
    r = sys(NR.faccessat2, fd, addressOf(EMPTY), X_OK, AT_EMPTY_PATH);
    if (r === -EACCES) throw new ElfError(`cannot run ${what}: ${strerror(EACCES)} (no execute permission)`);
    const read = (off: number, len: number): Uint8Array => {
      const b = new Uint8Array(len);
      let done = 0;
      while (done < len) {
        const n = sys(NR.pread64, fd, addressOf(b) + done, len - done, off + done);
        if (n <= 0) break;
        done += n;
      }
      return b.subarray(0, done);
    };
    let elf: ElfImage;
    try { elf = readElf(read, size, { interp: false }); }
    catch (e) { if (e instanceof ElfError) throw new ElfError(`cannot run ${what}: ${e.message}`); throw e; }
    return { fd, size, elf };
  } catch (e) {
    sys(NR.close, fd);
    throw e;
  }
}
const EMPTY = new Uint8Array(1);

/** A path as messages show it: as it is when plain, else quoted (JSON), so a hostile one stays on one line. */
export function shownPath(p: string): string {
  return /^[\x21-\x7e]+$/.test(p) ? p : JSON.stringify(p);
}

/** "run with --memory NM or more", or that no --memory torov accepts is enough. */
function memoryAdvice(needMiB: number): string {
  return needMiB * 2 ** 20 <= MAX_MEMORY ? `run with --memory ${needMiB}M or more` : `more than torov's largest guest memory (${MAX_MEMORY / 2 ** 30}G)`;
}
