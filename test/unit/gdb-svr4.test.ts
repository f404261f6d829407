/** The GDB stub's auxv and shared-library list (src/gdb/svr4.ts), on a hand-made guest memory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auxvBytes, librariesSvr4Xml, rDebugAddress, loadedObjects, R_DEBUG, LINK_MAP } from '../../src/gdb/svr4';
import { PT_DYNAMIC, PT_LOAD, PT_PHDR } from '../../src/elf/elf';

/** A sparse guest memory: writes of u64s and strings, reads of what is there (short at the first hole). */
class Mem {
  private readonly bytes = new Map<number, number>();
  u64(addr: number, v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); b.forEach((x, i) => this.bytes.set(addr + i, x)); }
  u32(addr: number, v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); b.forEach((x, i) => this.bytes.set(addr + i, x)); }
  zero(addr: number, len: number): void { for (let i = 0; i < len; i++) this.bytes.set(addr + i, 0); }
  str(addr: number, s: string): void { Buffer.from(s + '\0', 'latin1').forEach((x, i) => this.bytes.set(addr + i, x)); }
  read = (addr: number, len: number): Buffer => {
    const out: number[] = [];
    for (let i = 0; i < len && this.bytes.has(addr + i); i++) out.push(this.bytes.get(addr + i)!);
    return Buffer.from(out);
  };
}

const BIAS = 0x15000000, PHDR = BIAS + 0x40, DYN = BIAS + 0x3de0, RDEBUG = 0x3f7f0100;

/** A PIE's headers (PT_PHDR, PT_LOAD, PT_DYNAMIC) and its dynamic section with DT_DEBUG = `debug`. */
function program(m: Mem, debug: number): Array<[number, number]> {
  m.zero(PHDR, 3 * 56);
  const ph = (i: number, type: number, vaddr: number) => { m.u32(PHDR + i * 56, type); m.u64(PHDR + i * 56 + 16, vaddr); };
  ph(0, PT_PHDR, 0x40); ph(1, PT_LOAD, 0); ph(2, PT_DYNAMIC, 0x3de0);
  m.u64(DYN, 1); m.u64(DYN + 8, 0x10);            // DT_NEEDED
  m.u64(DYN + 16, 21); m.u64(DYN + 24, debug);      // DT_DEBUG
  m.u64(DYN + 32, 0); m.u64(DYN + 40, 0);           // DT_NULL
  return [[3, PHDR], [5, 3], [7, 0x3f7bb000], [9, BIAS + 0x1070]];
}

/** link_map at `lm`. */
function linkMap(m: Mem, lm: number, o: { addr: number; name: number; ld: number; next: number; prev: number }): void {
  m.u64(lm + LINK_MAP.l_addr, o.addr); m.u64(lm + LINK_MAP.l_name, o.name); m.u64(lm + LINK_MAP.l_ld, o.ld);
  m.u64(lm + LINK_MAP.l_next, o.next); m.u64(lm + LINK_MAP.l_prev, o.prev);
}

test('auxv: pairs of u64 ending with AT_NULL', () => {
  const b = auxvBytes([[3, 0x400040], [7, 0x3f7bb000]]);
  assert.equal(b.length, 48);
  assert.deepEqual([0, 8, 16, 24, 32, 40].map((o) => Number(b.readBigUInt64LE(o))), [3, 0x400040, 7, 0x3f7bb000, 0, 0]);
});

test('libraries-svr4: the objects after the program, from DT_DEBUG and r_debug', () => {
  const m = new Mem();
  const auxv = program(m, RDEBUG);
  m.u32(RDEBUG + R_DEBUG.r_version, 1);
  m.u64(RDEBUG + R_DEBUG.r_map, 0x1000);
  linkMap(m, 0x1000, { addr: BIAS, name: 0x5000, ld: DYN, next: 0x2000, prev: 0 });
  linkMap(m, 0x2000, { addr: 0, name: 0x5100, ld: 0x7fffffe0c3a0, next: 0x3000, prev: 0x1000 });
  linkMap(m, 0x3000, { addr: 0x3f5ce000, name: 0x5200, ld: 0x3f79fbc0, next: 0x4000, prev: 0x2000 });
  linkMap(m, 0x4000, { addr: 0x3f7bb000, name: 0x5300, ld: 0x3f7ede40, next: 0, prev: 0x3000 });
  m.str(0x5000, ''); m.str(0x5100, 'linux-vdso.so.1'); m.str(0x5200, '/lib/x86_64-linux-gnu/libc.so.6'); m.str(0x5300, '/lib64/ld-linux-x86-64.so.2');
  assert.equal(rDebugAddress(m.read, auxv), RDEBUG);
  assert.equal(librariesSvr4Xml(m.read, auxv),
    '<library-list-svr4 version="1.0" main-lm="0x1000">'
    + '<library name="linux-vdso.so.1" lm="0x2000" l_addr="0x0" l_ld="0x7fffffe0c3a0" lmid="0x0"/>'
    + '<library name="/lib/x86_64-linux-gnu/libc.so.6" lm="0x3000" l_addr="0x3f5ce000" l_ld="0x3f79fbc0" lmid="0x0"/>'
    + '<library name="/lib64/ld-linux-x86-64.so.2" lm="0x4000" l_addr="0x3f7bb000" l_ld="0x3f7ede40" lmid="0x0"/>'
    + '</library-list-svr4>');
});

test('libraries-svr4: empty before the loader fills DT_DEBUG, and for a static program', () => {
  const m = new Mem();
  const auxv = program(m, 0);
  assert.equal(librariesSvr4Xml(m.read, auxv), '<library-list-svr4 version="1.0"/>');
  assert.equal(librariesSvr4Xml(new Mem().read, [[3, 0x400040], [5, 4]]), '<library-list-svr4 version="1.0"/>');
  assert.equal(librariesSvr4Xml(m.read, []), '<library-list-svr4 version="1.0"/>');
});

test('libraries-svr4: garbage from the guest (a loop, names with markup, a pointer into nothing) stays bounded and escaped', () => {
  const m = new Mem();
  const auxv = program(m, RDEBUG);
  m.u64(RDEBUG + R_DEBUG.r_map, 0x1000);
  linkMap(m, 0x1000, { addr: 0, name: 0, ld: 0, next: 0x2000, prev: 0 });
  linkMap(m, 0x2000, { addr: 1, name: 0x5000, ld: 2, next: 0x3000, prev: 0 });
  linkMap(m, 0x3000, { addr: 3, name: 0x6000, ld: 4, next: 0x2000, prev: 0 });   // back to 0x2000: a loop
  m.str(0x5000, '/x/"<lib>&\x01.so');
  // 0x6000: no string there (unreadable): an empty name, left out of the list.
  const r = loadedObjects(m.read, RDEBUG)!;
  assert.deepEqual(r.objects.map((o) => o.lm), [0x2000, 0x3000]);
  assert.equal(librariesSvr4Xml(m.read, auxv),
    '<library-list-svr4 version="1.0" main-lm="0x1000"><library name="/x/&#34;&#60;lib&#62;&#38;&#1;.so" lm="0x2000" l_addr="0x1" l_ld="0x2" lmid="0x0"/></library-list-svr4>');
  // A link_map that cannot be read ends the list; a program header count beyond reason is ignored.
  const n = new Mem();
  const a2 = program(n, RDEBUG);
  n.u64(RDEBUG + R_DEBUG.r_map, 0x1000);
  linkMap(n, 0x1000, { addr: 0, name: 0, ld: 0, next: 0x9999000, prev: 0 });
  assert.equal(librariesSvr4Xml(n.read, a2), '<library-list-svr4 version="1.0" main-lm="0x1000"></library-list-svr4>');
  assert.equal(rDebugAddress(n.read, [[3, PHDR], [5, 100000]]), undefined);
});
