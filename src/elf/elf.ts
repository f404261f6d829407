/**
 * ELF64 parsing for x86-64 executables (System V gABI, "ELF-64 Object File Format").
 * Pure: takes the file's bytes, returns what the loader needs, or throws ElfError with a
 * one-line message. Every offset and size read from the file is bounds-checked here.
 */

export const ET_EXEC = 2, ET_DYN = 3;
export const EM_X86_64 = 62;
export const PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_PHDR = 6, PT_TLS = 7, PT_GNU_STACK = 0x6474e551;
export const PF_X = 1, PF_W = 2, PF_R = 4;

/** The largest program header table accepted, in bytes (Linux's limit). */
export const MAX_PHDRS_SIZE = 65536;

/** Names of common machines, for "built for another architecture" messages. */
const MACHINES: Readonly<Record<number, string>> = {
  3: 'i386', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 22: 'S/390', 40: 'ARM', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V',
};

/**
 * A malformed or unsupported ELF file. The message is one line for the user. `status` is
 * the exit status torov gives (126, "cannot execute", unless said otherwise: 127 for an
 * interpreter that does not exist, as a shell gives for ENOENT from execve).
 */
export class ElfError extends Error {
  override name = 'ElfError';
  constructor(message: string, readonly status = 126) { super(message); }
}

/** One Elf64_Phdr. */
export interface ProgramHeader {
  type: number; flags: number; offset: number; vaddr: number; filesz: number; memsz: number; align: number;
}

/** What the loader needs from an executable. */
export interface ElfImage {
  type: number;                 // ET_EXEC or ET_DYN
  entry: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  phdrs: ProgramHeader[];
  interp?: string;              // PT_INTERP, if any (the first one, as Linux takes)
}

/** The longest PT_INTERP accepted, NUL included (Linux: PATH_MAX). */
export const MAX_INTERP = 4096;

/** Parses and validates an x86-64 ELF executable held whole in memory. */
export function parseElf(b: Uint8Array): ElfImage {
  return readElf((off, len) => b.subarray(off, off + len), b.length);
}

/**
 * Parses and validates an x86-64 ELF executable of `size` bytes, reading only its header,
 * its program header table and its PT_INTERP through `read(offset, length)` (which returns
 * fewer bytes at the end of the file): what the loader needs of an interpreter or a
 * library, without reading the whole file. Every offset and size is checked against `size`.
 * `interp: false` leaves PT_INTERP alone (an interpreter's own is never used).
 */
export function readElf(read: (off: number, len: number) => Uint8Array, size: number, opts: { interp?: boolean } = {}): ElfImage {
  const h = read(0, 64);
  if (h.length < 4 || h[0] !== 0x7f || h[1] !== 0x45 || h[2] !== 0x4c || h[3] !== 0x46) {
    throw new ElfError('not an ELF executable (bad magic)');
  }
  if (h.length < 64) throw new ElfError(`truncated ELF file (${size} bytes, the header alone is 64)`);
  const dv = new DataView(h.buffer, h.byteOffset, 64);
  if (h[4] !== 2) throw new ElfError(h[4] === 1 ? 'a 32-bit ELF file: torov runs x86-64 programs only' : `bad ELF class ${h[4]}`);
  if (h[5] !== 1) throw new ElfError('a big-endian ELF file: torov runs x86-64 programs only');
  const type = dv.getUint16(16, true), machine = dv.getUint16(18, true);
  if (machine !== EM_X86_64) {
    throw new ElfError(`built for ${MACHINES[machine] ?? `machine ${machine}`}, not x86-64`);
  }
  if (type !== ET_EXEC && type !== ET_DYN) {
    throw new ElfError(type === 1 ? 'a relocatable object (.o), not an executable' : type === 4 ? 'a core dump, not an executable' : `unsupported ELF type ${type}`);
  }
  const entry = u64(dv, 24), phoff = u64(dv, 32);
  const phentsize = dv.getUint16(54, true), phnum = dv.getUint16(56, true);
  if (phnum === 0) throw new ElfError('no program headers');
  if (phentsize !== 56) throw new ElfError(`bad program header size ${phentsize}`);
  // Linux's limit (fs/binfmt_elf.c, load_elf_phdrs): it bounds the loader's work too.
  if (phnum * phentsize > MAX_PHDRS_SIZE) {
    throw new ElfError(`too many program headers (${phnum}; at most ${Math.floor(MAX_PHDRS_SIZE / phentsize)}, ${MAX_PHDRS_SIZE / 1024} KiB of them)`);
  }
  if (phoff + phnum * phentsize > size) throw new ElfError('truncated ELF file (program headers past the end)');
  const table = read(phoff, phnum * phentsize);
  if (table.length < phnum * phentsize) throw new ElfError('truncated ELF file (program headers past the end)');
  const tv = new DataView(table.buffer, table.byteOffset, table.length);
  const phdrs: ProgramHeader[] = [];
  let interp: string | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    const ph: ProgramHeader = {
      type: tv.getUint32(o, true), flags: tv.getUint32(o + 4, true), offset: u64(tv, o + 8), vaddr: u64(tv, o + 16),
      filesz: u64(tv, o + 32), memsz: u64(tv, o + 40), align: u64(tv, o + 48),
    };
    if (ph.type === PT_LOAD || (ph.type === PT_INTERP && opts.interp !== false)) {
      if (ph.offset + ph.filesz > size) throw new ElfError(`truncated ELF file (segment ${i} past the end)`);
      if (ph.type === PT_LOAD && ph.filesz > ph.memsz) throw new ElfError(`segment ${i}: file size larger than memory size`);
    }
    // An interpreter's own PT_INTERP is ignored, as Linux's load_elf_interp does (interp: false).
    if (ph.type === PT_INTERP && interp === undefined && opts.interp !== false) {
      // As Linux (load_elf_binary): 2 to PATH_MAX bytes, the last one NUL (else ENOEXEC).
      if (ph.filesz < 2 || ph.filesz > MAX_INTERP) throw new ElfError(`bad PT_INTERP (segment ${i}): ${ph.filesz} bytes, not 2 to ${MAX_INTERP}`);
      const raw = read(ph.offset, ph.filesz);
      if (raw.length < ph.filesz) throw new ElfError(`truncated ELF file (segment ${i} past the end)`);
      if (raw[ph.filesz - 1] !== 0) throw new ElfError(`bad PT_INTERP (segment ${i}): the interpreter's path does not end with a NUL byte`);
      interp = Buffer.from(raw.subarray(0, raw.indexOf(0))).toString('latin1');
    }
    phdrs.push(ph);
  }
  if (!phdrs.some((p) => p.type === PT_LOAD)) throw new ElfError('no loadable segments');
  return { type, entry, phoff, phentsize, phnum, phdrs, interp };
}

/** Reads a u64 as a number, rejecting values that cannot be exact (2^53 and up). */
function u64(dv: DataView, off: number): number {
  const lo = dv.getUint32(off, true), hi = dv.getUint32(off + 4, true);
  if (hi >= 0x200000) throw new ElfError(`value out of range at file offset ${off}`);
  return hi * 2 ** 32 + lo;
}

/** One section header, with its name; every section lies inside the file. */
interface SectionHeader { name: string; type: number; addr: number; off: number; size: number; entsize: number }

/**
 * The section headers (empty when there are none, or they are malformed). A section whose
 * data would lie past the end of the file is left out. May throw ElfError (u64 range).
 */
function sectionHeaders(b: Uint8Array, dv: DataView): SectionHeader[] {
  const shoff = u64(dv, 40), shentsize = dv.getUint16(58, true), shnum = dv.getUint16(60, true), shstrndx = dv.getUint16(62, true);
  if (shoff === 0 || shnum === 0 || shentsize !== 64 || shoff + shnum * 64 > b.length) return [];
  const strOff = shstrndx < shnum ? u64(dv, shoff + shstrndx * 64 + 24) : -1;
  const out: SectionHeader[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * 64;
    const sh = { name: '', type: dv.getUint32(o + 4, true), addr: u64(dv, o + 16), off: u64(dv, o + 24), size: u64(dv, o + 32), entsize: u64(dv, o + 56) };
    if (sh.type !== 8 /* SHT_NOBITS */ && sh.off + sh.size > b.length) continue;
    const n = strOff + dv.getUint32(o, true);
    if (strOff >= 0 && n < b.length) {
      const end = b.indexOf(0, n);
      sh.name = Buffer.from(b.subarray(n, end < 0 ? b.length : end)).toString('latin1');
    }
    out.push(sh);
  }
  return out;
}

/** One symbol of the static symbol table (.symtab). */
export interface ElfSymbol { value: number; size: number; type: number }
export const STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2;

/**
 * The symbols of .symtab (SHT_SYMTAB) with an address, sorted by address: what the
 * syscall-site rewriter uses to find function boundaries. Empty for a stripped binary, and
 * for any malformed section table (never throws: symbols are an optimisation, not needed
 * to run the program).
 */
export function parseSymbols(b: Uint8Array): ElfSymbol[] {
  try {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out: ElfSymbol[] = [];
    for (const sh of sectionHeaders(b, dv)) {
      if (sh.type !== 2 /* SHT_SYMTAB */) continue;
      const { off, size, entsize } = sh;
      if (entsize !== 24) return [];
      for (let s = off; s + 24 <= off + size; s += 24) {
        const info = b[s + 4]!, shndx = dv.getUint16(s + 6, true), value = u64(dv, s + 8), symSize = u64(dv, s + 16);
        const type = info & 0xf;
        if (shndx === 0 || shndx >= 0xff00 || (type !== STT_NOTYPE && type !== STT_FUNC && type !== STT_OBJECT) || value === 0) continue;
        out.push({ value, size: symSize, type });
      }
    }
    return out.sort((x, y) => x.value - y.value);
  } catch {
    return [];
  }
}

/**
 * Function ranges from .eh_frame (the unwind tables, which `strip` keeps): one per FDE,
 * at link addresses. What the syscall-site rewriter uses when there is no symbol table.
 * Empty when absent or malformed (never throws). Handles the pointer encodings compilers
 * emit (absolute or pc-relative; 2, 4 or 8 bytes, signed or not). Signal-frame FDEs are
 * left out (they start one byte early on purpose).
 */
export function parseEhFrame(b: Uint8Array): { value: number; size: number }[] {
  try {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const sec = sectionHeaders(b, dv).find((sh) => sh.name === '.eh_frame');
    if (!sec) return [];
    return ehFrameFunctions(b.subarray(sec.off, sec.off + sec.size), sec.addr);
  } catch {
    return [];
  }
}

/**
 * The function ranges of the .eh_frame bytes `b`, which sit at address `addr` (a link
 * address in a file, or where a library's .eh_frame is loaded in memory: the ranges are
 * then where the functions are). Parses until the zero terminator or the end of `b`.
 * Empty when malformed (never throws).
 */
export function ehFrameFunctions(b: Uint8Array, addr: number): { value: number; size: number }[] {
  try {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const sec = { off: 0, size: b.length, addr };
    const end = sec.off + sec.size, out: { value: number; size: number }[] = [];
    const cies = new Map<number, number>();
    const uleb = (p: { o: number }) => { let r = 0, shift = 0, byte; do { byte = b[p.o++]!; r += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80 && shift < 64); return r; };
    /** Reads an encoded pointer at p.o; undefined for an encoding it does not know. */
    const ptr = (p: { o: number }, enc: number, valueOnly: boolean): number | undefined => {
      const at = sec!.addr + (p.o - sec!.off);
      let v: number;
      switch (enc & 0x0f) {
        case 0x00: case 0x04: v = Number(dv.getBigUint64(p.o, true)); p.o += 8; break;
        case 0x0c: v = Number(dv.getBigInt64(p.o, true)); p.o += 8; break;
        case 0x03: v = dv.getUint32(p.o, true); p.o += 4; break;
        case 0x0b: v = dv.getInt32(p.o, true); p.o += 4; break;
        case 0x02: v = dv.getUint16(p.o, true); p.o += 2; break;
        case 0x0a: v = dv.getInt16(p.o, true); p.o += 2; break;
        default: return undefined;
      }
      if (valueOnly) return v;
      const app = enc & 0x70;
      if (app === 0x10) return at + v;
      return app === 0 ? v : undefined;
    };
    for (let off = sec.off; off + 4 <= end;) {
      let len = dv.getUint32(off, true), hdr = 4;
      if (len === 0) break;
      if (len === 0xffffffff) { len = u64(dv, off + 4); hdr = 12; }
      const rec = off + hdr, recEnd = rec + len;
      if (recEnd > end) break;
      const id = dv.getUint32(rec, true);
      if (id === 0) {
        // CIE: version, augmentation, alignments, return register, augmentation data.
        const p = { o: rec + 5 };
        let aug = '';
        while (p.o < recEnd && b[p.o] !== 0) aug += String.fromCharCode(b[p.o++]!);
        p.o++;
        uleb(p); uleb(p);
        if (b[rec + 4] === 1) p.o++; else uleb(p);
        let fdeEnc = 0x00;
        // 'S': a signal frame (glibc's __restore_rt). Its FDE starts one byte before the
        // code on purpose, for unwinders, so it is no function boundary: left out.
        if (aug.includes('S')) { off = recEnd; cies.set(rec - hdr, -1); continue; }
        if (aug.startsWith('z')) {
          uleb(p);
          for (const c of aug.slice(1)) {
            if (c === 'R') fdeEnc = b[p.o++]!;
            else if (c === 'L') p.o++;
            else if (c === 'P') { const e = b[p.o++]!; if (ptr(p, e, true) === undefined) { fdeEnc = -1; break; } }
            else if (c !== 'S' && c !== 'B') { fdeEnc = -1; break; }
          }
        } else if (aug !== '') fdeEnc = -1;
        // -1: an augmentation this parser does not know; its FDEs are left out rather than
        // read with a guessed encoding.
        cies.set(off, fdeEnc);
      } else {
        const enc = cies.get(rec - id);
        if (enc !== undefined && enc >= 0) {
          const p = { o: rec + 4 };
          const start = ptr(p, enc, false), size = ptr(p, enc, true);
          if (start !== undefined && size !== undefined && start > 0 && size > 0) out.push({ value: start, size });
        }
      }
      off = recEnd;
    }
    return out.sort((x, y) => x.value - y.value);
  } catch {
    return [];
  }
}
