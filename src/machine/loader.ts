/**
 * Loads an ELF executable into a fresh address space and builds the initial stack as the
 * System V x86-64 psABI (3.4.1, "Initial Stack and Register State") specifies:
 *
 *   rsp -> argc | argv[0..argc-1] | NULL | envp[...] | NULL | auxv pairs | AT_NULL
 *          ... then the strings and the 16 AT_RANDOM bytes, near the top of the stack.
 */
import { ElfImage, ElfError, PT_LOAD, PT_PHDR, PF_R, PF_W, PF_X, ET_DYN } from '../elf/elf';
import { AddressSpace, pageUp, pageDown } from './mm';
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
 * Maps the PT_LOAD segments of `elf` (bytes in `file`) with their permissions, after
 * checking that they, the entry point and the stack fit: in the window, and in the memory
 * limit (the image's accessible pages and the stack are charged like any mapping).
 * Throws ElfError (one line) otherwise, before anything is mapped.
 */
export function loadSegments(as: AddressSpace, elf: ElfImage, file: Uint8Array): { base: number; end: number; phdrAddr: number } {
  const loads = elf.phdrs.filter((p) => p.type === PT_LOAD);
  let lo = Infinity, hi = 0, align = PAGE_SIZE;
  for (const p of loads) {
    lo = Math.min(lo, p.vaddr);
    hi = Math.max(hi, p.vaddr + p.memsz);
    align = Math.max(align, p.align || PAGE_SIZE);
  }
  lo = pageDown(lo); hi = pageUp(hi);
  let base = 0;
  if (elf.type === ET_DYN) {
    // A static PIE goes at PIE_BASE, or where it asks if that is higher (never a negative bias).
    base = Math.max(0, Math.ceil(PIE_BASE / align) * align - lo);
  }
  const mem = as.mem;
  if (lo + base < MMAP_MIN_ADDR) throw new ElfError(`loads at 0x${(lo + base).toString(16)}, below the lowest allowed address 0x${MMAP_MIN_ADDR.toString(16)}`);
  if (hi + base > as.mmapTop) {
    const need = Math.ceil((hi + base) / 2 ** 20) + 16;
    throw new ElfError(`the image ends at 0x${(hi + base).toString(16)}, beyond guest memory: ${memoryAdvice(need)}`);
  }
  const entry = elf.entry + base;
  if (entry < MMAP_MIN_ADDR || entry >= as.mmapTop) {
    throw new ElfError(`entry point 0x${entry.toString(16)} is outside the program's memory (0x${MMAP_MIN_ADDR.toString(16)}-0x${as.mmapTop.toString(16)})`);
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
  if (as.committed + image + STACK_SIZE > as.limit) {
    const need = Math.ceil((as.committed + image + STACK_SIZE) / 2 ** 20);
    throw new ElfError(`needs more memory than --memory ${Math.floor(as.limit / 2 ** 20)}M allows (${Math.ceil(image / 2 ** 20)} MiB of program image and ${STACK_SIZE / 2 ** 20} MiB of stack): ${memoryAdvice(need)}`);
  }
  for (const r of runs) as.map(r.start, r.end - r.start, r.prot, 'elf');
  // Copy file bytes; the rest (bss) is fresh zero memory.
  for (const p of loads) {
    if (p.filesz > 0) mem.load(p.vaddr + base, file.subarray(p.offset, p.offset + p.filesz));
  }
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
  auxv: ReadonlyArray<readonly [number, number]>, random: Uint8Array): { rsp: number; strings: Record<string, number> } {
  const mem = as.mem;
  let sp = as.stackTop;
  const put = (bytes: Uint8Array): number => { sp -= bytes.length; mem.bytes(sp, bytes.length).set(bytes); return sp; };
  const str = (s: string): number => put(Buffer.from(s + '\0', 'utf8'));
  // A 16-byte guard at the very top (Linux leaves the end marker there).
  sp -= 16;
  const execfnAddr = str(execfn);
  const envAddrs = envp.map(str);
  const argAddrs = argv.map(str);
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
  return { rsp: sp, strings: { execfn: execfnAddr, random: randomAddr, platform: platformAddr } };
}

/** "run with --memory NM or more", or that no --memory torov accepts is enough. */
function memoryAdvice(needMiB: number): string {
  return needMiB * 2 ** 20 <= MAX_MEMORY ? `run with --memory ${needMiB}M or more` : `more than torov's largest guest memory (${MAX_MEMORY / 2 ** 30}G)`;
}
