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
import { PIE_BASE, PAGE_SIZE, MMAP_MIN_ADDR } from './layout';

/** Auxiliary vector types (<linux/auxvec.h>, <elf.h>). */
export const AT = {
  NULL: 0, PHDR: 3, PHENT: 4, PHNUM: 5, PAGESZ: 6, BASE: 7, FLAGS: 8, ENTRY: 9, UID: 11, EUID: 12, GID: 13, EGID: 14,
  PLATFORM: 15, HWCAP: 16, CLKTCK: 17, SECURE: 23, RANDOM: 25, HWCAP2: 26, EXECFN: 31, MINSIGSTKSZ: 51,
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

/** Maps the PT_LOAD segments of `elf` (bytes in `file`) with their permissions. */
export function loadSegments(as: AddressSpace, elf: ElfImage, file: Uint8Array): { base: number; end: number; phdrAddr: number } {
  const loads = elf.phdrs.filter((p) => p.type === PT_LOAD);
  const lo = pageDown(Math.min(...loads.map((p) => p.vaddr)));
  const hi = pageUp(Math.max(...loads.map((p) => p.vaddr + p.memsz)));
  let base = 0;
  if (elf.type === ET_DYN) {
    const align = Math.max(PAGE_SIZE, ...loads.map((p) => p.align || PAGE_SIZE));
    base = Math.ceil(PIE_BASE / align) * align - lo;
  }
  const mem = as.mem;
  if (lo + base < MMAP_MIN_ADDR) throw new ElfError(`loads at 0x${(lo + base).toString(16)}, below the lowest allowed address 0x${MMAP_MIN_ADDR.toString(16)}`);
  if (hi + base > as.mmapTop) {
    const need = Math.ceil((hi + base) / 2 ** 20) + 16;
    throw new ElfError(`the image ends at 0x${(hi + base).toString(16)}, beyond guest memory: run with --memory ${need}M or more`);
  }
  // Each page gets the union of the permissions of the segments that touch it.
  const perms = new Map<number, number>();
  for (const p of loads) {
    const prot = (p.flags & PF_R ? PROT_R : 0) | (p.flags & PF_W ? PROT_W : 0) | (p.flags & PF_X ? PROT_X : 0);
    for (let pg = pageDown(p.vaddr + base); pg < pageUp(p.vaddr + base + p.memsz); pg += PAGE_SIZE) {
      perms.set(pg, (perms.get(pg) ?? 0) | prot);
    }
  }
  // One VMA per run of pages with equal permissions.
  const pages = [...perms.keys()].sort((a, b) => a - b);
  let runStart = -1, runProt = -1, prev = -1;
  const flush = () => { if (runStart >= 0) as.map(runStart, prev + PAGE_SIZE - runStart, runProt, 'elf'); };
  for (const pg of pages) {
    const prot = perms.get(pg)!;
    if (pg !== prev + PAGE_SIZE || prot !== runProt) { flush(); runStart = pg; runProt = prot; }
    prev = pg;
  }
  flush();
  // Copy file bytes; the rest (bss) is fresh zero memory.
  for (const p of loads) {
    if (p.filesz > 0) mem.bytes(p.vaddr + base, p.filesz).set(file.subarray(p.offset, p.offset + p.filesz));
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
