/**
 * Syscall-site rewriting (src/vmm/rewrite.ts) on the real test guest `channel`, loaded into
 * a guest address space without a VM: which bytes are replaced, what the trampoline holds,
 * and what is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GuestMemory, PROT_R, PROT_W, PROT_X } from '../../src/machine/memory';
import { MAP_PRIVATE, MAP_SHARED, MAP_FIXED } from '../../src/linux/mman';
import { AddressSpace } from '../../src/machine/mm';
import { loadSegments } from '../../src/machine/loader';
import { parseElf, PT_LOAD } from '../../src/elf/elf';
import { windowSize } from '../../src/machine/layout';
import { SiteRewriter } from '../../src/vmm/rewrite';

const IMAGE = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'test', 'guests', 'channel'));
const CHAN_CALL = 0x7fffffe08300;
const MiB = 2 ** 20;

/** Guest address of the first occurrence of `hex` in the program's loaded segments, plus `delta`. */
function find(hex: string, delta: number): number {
  const needle = Buffer.from(hex.replace(/ /g, ''), 'hex');
  for (const p of parseElf(IMAGE).phdrs) {
    if (p.type !== PT_LOAD) continue;
    const i = IMAGE.subarray(p.offset, p.offset + p.filesz).indexOf(needle);
    if (i >= 0) return p.vaddr + i + delta;
  }
  throw new Error(`${hex} not found`);
}

function setup(): { mem: GuestMemory; rw: SiteRewriter; hex: (a: number, n: number) => string } {
  const mem = GuestMemory.acquire(windowSize(64 * MiB));
  const as = new AddressSpace(mem, 64 * MiB);
  const img = loadSegments(as, parseElf(IMAGE), IMAGE);
  const rw = new SiteRewriter(mem, as, IMAGE, img.base, CHAN_CALL);
  return { mem, rw, hex: (a, n) => Buffer.from(mem.bytes(a, n)).toString('hex') };
}

/** Follows the `jmp rel32` at `at`; checks the trampoline there; returns its address. */
function checkTrampoline(mem: GuestMemory, at: number, moved: string, ret: number): void {
  const b = Buffer.from(mem.bytes(at, 5));
  assert.equal(b[0], 0xe9);
  const t = at + 5 + b.readInt32LE(1);
  const code = Buffer.from(mem.bytes(t, moved.length / 2 + 13));
  assert.equal(code.subarray(0, moved.length / 2).toString('hex'), moved);          // the moved instructions
  const lea = code.subarray(moved.length / 2);
  assert.equal(lea.subarray(0, 3).toString('hex'), '488d0d');                       // lea ret(%rip), %rcx
  assert.equal(t + moved.length / 2 + 7 + lea.readInt32LE(3), ret);
  assert.equal(lea.subarray(7, 9).toString('hex'), 'ff25');                         // jmp *slot(%rip)
  const slot = t + moved.length / 2 + 13 + lea.readInt32LE(9);
  assert.equal(Buffer.from(mem.bytes(slot, 8)).readBigUInt64LE(0), BigInt(CHAN_CALL));
  assert.ok(Math.abs(t - at) < 2 ** 31);
}

test('mov $nr,%eax; syscall: the mov becomes a jump to a trampoline, the syscall stays', () => {
  const { mem, rw, hex } = setup();
  try {
    const site = find('b86e0000000f054989e8', 5);            // redzone_once
    rw.consider(site);
    assert.equal(rw.stats.rewritten, 1, [...rw.stats.reasons].join());
    assert.equal(hex(site, 2), '0f05');
    checkTrampoline(mem, site - 5, 'b86e000000', site + 2);
    rw.consider(site);                                        // once per site
    assert.equal(rw.stats.rewritten + rw.stats.refused, 1);
  } finally { mem.release(); }
});

test('a syscall that a branch targets is kept, and the 5 bytes before it are moved', () => {
  const { mem, rw, hex } = setup();
  try {
    const site = find('bf000000000f05c3', 5);                 // branch_once: jne lands on the syscall
    rw.consider(site);
    assert.equal(rw.stats.rewritten, 1, [...rw.stats.reasons].join());
    assert.equal(hex(site, 2), '0f05');
    checkTrampoline(mem, site - 5, 'bf00000000', site + 2);
  } finally { mem.release(); }
});

test('a leaf wrapper: whole register moves before the syscall are moved, the rest padded with int3', () => {
  const { mem, rw, hex } = setup();
  try {
    const site = find('4889d64889ca0f05c30f0b', 6);            // leaf_syscall
    rw.consider(site);
    assert.equal(rw.stats.rewritten, 1, [...rw.stats.reasons].join());
    assert.equal(hex(site - 6, 8), hex(site - 6, 5) + 'cc' + '0f05');
    checkTrampoline(mem, site - 6, '4889d64889ca', site + 2);
    // musl's __syscall_cp_c moves an rsp-relative load (the trampoline is jumped to: same rsp).
    const cp = find('4c8b4c24084889ca0f05c3', 8);
    rw.consider(cp);
    assert.equal(rw.stats.rewritten, 2, [...rw.stats.reasons].join());
    checkTrampoline(mem, cp - 8, '4c8b4c24084889ca', cp + 2);
  } finally { mem.release(); }
});

test('what is not a syscall instruction start, or outside any function, is left alone', () => {
  const { mem, rw, hex } = setup();
  try {
    const site = find('b86e0000000f054989e8', 5);
    const before = hex(site - 5, 16);
    rw.consider(site + 1);                                    // inside the syscall
    rw.consider(site - 2);                                    // inside the mov
    rw.consider(0x7fffffe08000);                              // torov's stub
    rw.consider(0x10);                                        // nothing there
    assert.equal(rw.stats.rewritten, 0);
    assert.equal(rw.stats.refused, 4);
    assert.equal(hex(site - 5, 16), before);
    assert.deepEqual([...rw.stats.reasons.keys()].sort(), ['not a syscall instruction', 'not inside a function of the symbol table']);
  } finally { mem.release(); }
});

/**
 * A shared library the program mapped itself, as ld.so maps one: the whole file read-only,
 * then its segments over it (MAP_FIXED), text read+execute. Debian's glibc libc.so.6
 * (stripped: function boundaries from its .eh_frame, read from guest memory).
 */
const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
const MAP = { PRIVATE: MAP_PRIVATE, SHARED: MAP_SHARED, FIXED: MAP_FIXED } as const;
function mapLibrary(as: AddressSpace, shared = false): { base: number; site: number } {
  const file = fs.readFileSync(LIBC), fd = fs.openSync(LIBC, 'r');
  try {
    const elf = parseElf(file);
    const loads = elf.phdrs.filter((p) => p.type === PT_LOAD);
    const span = Math.ceil(Math.max(...loads.map((p) => p.vaddr + p.memsz)) / 4096) * 4096;
    const base = as.mmap(0, span, PROT_R, shared ? MAP.SHARED : MAP.PRIVATE, fd, 0);
    assert.ok(base > 0, `mmap ${base}`);
    for (const p of loads) {
      const start = base + Math.floor(p.vaddr / 4096) * 4096, off = Math.floor(p.offset / 4096) * 4096;
      const len = Math.ceil((p.vaddr + p.filesz) / 4096) * 4096 - Math.floor(p.vaddr / 4096) * 4096;
      // (Shared: the file is open read-only, so nothing is writable.)
      const prot = (p.flags & 4 ? PROT_R : 0) | (p.flags & 2 && !shared ? PROT_W : 0) | (p.flags & 1 ? PROT_X : 0);
      assert.equal(as.mmap(start, len, prot, (shared ? MAP.SHARED : MAP.PRIVATE) | MAP.FIXED, fd, off), start);
    }
    // getpid: mov $39,%eax; syscall
    const at = file.indexOf(Buffer.from('b8270000000f05', 'hex'));
    assert.ok(at > 0);
    const seg = loads.find((p) => at >= p.offset && at < p.offset + p.filesz)!;
    return { base, site: base + seg.vaddr + (at - seg.offset) + 5 };
  } finally { fs.closeSync(fd); }
}

test('a site in a shared library the program mapped (glibc\'s getpid): rewritten, its file pages copied on write', { skip: fs.existsSync(LIBC) ? false : `${LIBC} is missing` }, () => {
  const { mem, rw, hex } = setup();
  const as = (rw as unknown as { as: AddressSpace }).as;
  try {
    const { site } = mapLibrary(as);
    assert.equal(hex(site - 5, 7), 'b8270000000f05');
    rw.consider(site);
    assert.equal(rw.stats.rewritten, 1, [...rw.stats.reasons].join());
    assert.equal(hex(site, 2), '0f05');
    checkTrampoline(mem, site - 5, 'b827000000', site + 2);
    // The file is unchanged (the page was copied on write).
    const file = fs.readFileSync(LIBC);
    assert.ok(file.indexOf(Buffer.from('b8270000000f05', 'hex')) > 0);
  } finally { mem.release(); }
});

test('a shared library mapped MAP_SHARED, or made writable, is left alone', { skip: fs.existsSync(LIBC) ? false : `${LIBC} is missing` }, () => {
  const { mem, rw, hex } = setup();
  const as = (rw as unknown as { as: AddressSpace }).as;
  try {
    const shared = mapLibrary(as, true);
    rw.consider(shared.site);
    assert.equal(rw.stats.rewritten, 0);
    assert.equal(hex(shared.site - 5, 7), 'b8270000000f05');
    const priv = mapLibrary(as);
    assert.equal(as.mprotect(Math.floor(priv.site / 4096) * 4096, 4096, PROT_R | PROT_W | PROT_X), 0);
    rw.consider(priv.site);
    assert.equal(rw.stats.rewritten, 0);
    assert.equal(hex(priv.site - 5, 7), 'b8270000000f05');
    assert.equal(rw.stats.refused, 2);
  } finally { mem.release(); }
});
