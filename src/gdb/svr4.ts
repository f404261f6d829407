/**
 * What gdb needs to debug a dynamically linked program: the auxiliary vector
 * (qXfer:auxv:read: gdb finds the dynamic loader's load address in AT_BASE and the
 * program's in AT_ENTRY/AT_PHDR) and the list of loaded shared objects
 * (qXfer:libraries-svr4:read), read from the dynamic loader's own records in guest memory
 * as the System V ABI defines them: the program's PT_DYNAMIC has a DT_DEBUG entry that the
 * loader points at its `struct r_debug`, whose r_map is the chain of `struct link_map`
 * (glibc's <link.h>; musl keeps the same layout for debuggers).
 *
 * Pure: guest memory is read through `read(addr, len)`, which returns what is readable
 * (maybe fewer bytes). Everything read is the guest's and may be garbage: lengths and the
 * chain are bounded, names are escaped, and a broken record ends the list.
 */
import { PT_DYNAMIC, PT_PHDR } from '../elf/elf';

/** Auxiliary vector types used here (<elf.h>). */
const AT_PHDR = 3, AT_PHNUM = 5;
/** d_tag values (<elf.h>). */
const DT_NULL = 0, DT_DEBUG = 21;

/** struct r_debug and struct link_map offsets on x86-64 (glibc <link.h>). */
export const R_DEBUG = { r_version: 0, r_map: 8, r_brk: 16, r_state: 24, r_ldbase: 32 } as const;
export const LINK_MAP = { l_addr: 0, l_name: 8, l_ld: 16, l_next: 24, l_prev: 32 } as const;

/** The most dynamic entries and shared objects walked (a loop or garbage ends there). */
const MAX_DYN = 4096, MAX_OBJECTS = 4096, MAX_NAME = 4096;

/** The auxiliary vector as the kernel lays it out (pairs of u64, AT_NULL last): qXfer:auxv's data. */
export function auxvBytes(pairs: ReadonlyArray<readonly [number, number]>): Buffer {
  const b = Buffer.alloc((pairs.length + 1) * 16);
  pairs.forEach(([k, v], i) => { b.writeBigUInt64LE(BigInt(k), i * 16); b.writeBigUInt64LE(BigInt(v), i * 16 + 8); });
  return b;
}

type Read = (addr: number, len: number) => Buffer;

function u64(read: Read, addr: number): number | undefined {
  const b = read(addr, 8);
  if (b.length < 8) return undefined;
  const v = b.readBigUInt64LE(0);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
}

/**
 * The address of the loader's `struct r_debug`: DT_DEBUG of the program's PT_DYNAMIC,
 * found through its program headers in memory (AT_PHDR, AT_PHNUM; the load bias from
 * PT_PHDR). Undefined for a static program, or before the loader has filled it in.
 */
export function rDebugAddress(read: Read, auxv: ReadonlyArray<readonly [number, number]>, loadBias = 0): number | undefined {
  const phdr = auxv.find(([k]) => k === AT_PHDR)?.[1], phnum = auxv.find(([k]) => k === AT_PHNUM)?.[1];
  if (!phdr || !phnum || phnum > 4096) return undefined;
  const table = read(phdr, phnum * 56);
  if (table.length < phnum * 56) return undefined;
  let bias: number | undefined, dyn: number | undefined;
  for (let i = 0; i < phnum; i++) {
    const type = table.readUInt32LE(i * 56), vaddr = Number(table.readBigUInt64LE(i * 56 + 16));
    if (type === PT_PHDR) bias = phdr - vaddr;
    if (type === PT_DYNAMIC) dyn = vaddr;
  }
  // Without PT_PHDR: the load bias the VMM used (0 for ET_EXEC).
  if (dyn === undefined) return undefined;
  const at = dyn + (bias ?? loadBias);
  for (let i = 0; i < MAX_DYN; i++) {
    const tag = u64(read, at + i * 16), val = u64(read, at + i * 16 + 8);
    if (tag === undefined || val === undefined || tag === DT_NULL) return undefined;
    if (tag === DT_DEBUG) return val || undefined;
  }
  return undefined;
}

/** One loaded shared object, as gdb's library-list-svr4 describes it. */
export interface SharedObject { name: string; lm: number; l_addr: number; l_ld: number }

/** The loaded objects after the program itself (the first link_map), and the program's link_map. */
export function loadedObjects(read: Read, rDebug: number): { main: number; objects: SharedObject[] } | undefined {
  const first = u64(read, rDebug + R_DEBUG.r_map);
  if (!first) return undefined;
  const objects: SharedObject[] = [];
  const seen = new Set<number>();
  for (let lm: number | undefined = u64(read, first + LINK_MAP.l_next); lm && !seen.has(lm) && objects.length < MAX_OBJECTS; lm = u64(read, lm + LINK_MAP.l_next)) {
    seen.add(lm);
    const l_addr = u64(read, lm + LINK_MAP.l_addr), namep = u64(read, lm + LINK_MAP.l_name), l_ld = u64(read, lm + LINK_MAP.l_ld);
    if (l_addr === undefined || namep === undefined || l_ld === undefined) break;
    const raw = namep ? read(namep, MAX_NAME) : Buffer.alloc(0);
    const nul = raw.indexOf(0);
    objects.push({ name: raw.subarray(0, nul >= 0 ? nul : raw.length).toString('latin1'), lm, l_addr, l_ld });
  }
  return { main: first, objects };
}

/** XML-escapes text for an attribute value. */
function attr(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`).replace(/[\x00-\x1f\x7f-\xff]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The qXfer:libraries-svr4:read document (gdb's features/library-list-svr4.dtd). */
export function librariesSvr4Xml(read: Read, auxv: ReadonlyArray<readonly [number, number]>, loadBias = 0): string {
  const r = rDebugAddress(read, auxv, loadBias);
  const list = r === undefined ? undefined : loadedObjects(read, r);
  if (!list) return '<library-list-svr4 version="1.0"/>';
  const hex = (n: number) => `0x${n.toString(16)}`;
  const libs = list.objects.filter((o) => o.name !== '')
    .map((o) => `<library name="${attr(o.name)}" lm="${hex(o.lm)}" l_addr="${hex(o.l_addr)}" l_ld="${hex(o.l_ld)}" lmid="0x0"/>`);
  return `<library-list-svr4 version="1.0" main-lm="${hex(list.main)}">${libs.join('')}</library-list-svr4>`;
}
