/** Pure machine logic: struct layouts, the stub bytes, the window, page tables and the address space. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from '../helpers';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RUN, REGS, SREGS, KVM_REGS_SIZE, KVM_SREGS_SIZE } from '../../src/kvm/kvm';
import { STUB_CODE, STUB_SYSCALL_OUT } from '../../src/machine/stub';
import { windowSize, MAX_WINDOW, PAGE_SIZE, STACK_SIZE } from '../../src/machine/layout';
import { GuestMemory, GuestFault, PROT_R, PROT_W, PROT_X } from '../../src/machine/memory';
import { AddressSpace } from '../../src/machine/mm';
import * as MAP_FLAGS from '../../src/linux/mman';

/** mmap flags by short name, as the tests write them. */
const MAP = { PRIVATE: MAP_FLAGS.MAP_PRIVATE, SHARED: MAP_FLAGS.MAP_SHARED, ANONYMOUS: MAP_FLAGS.MAP_ANONYMOUS, FIXED: MAP_FLAGS.MAP_FIXED, NORESERVE: MAP_FLAGS.MAP_NORESERVE } as const;
import { loadSegments } from '../../src/machine/loader';
import { parseElf, ElfError, ET_EXEC, ET_DYN, PT_LOAD, PF_R, PF_W, PF_X } from '../../src/elf/elf';
import { sys } from '../../src/host/libc';
import { SYS as HOST } from '../../src/linux/syscalls';
import { frameXfeatures, xsaveSize } from '../../src/machine/x86';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const MiB = 2 ** 20;

test('kvm struct layouts match <linux/kvm.h>', () => {
  assert.equal(KVM_REGS_SIZE, 144);
  assert.equal(REGS.rflags + 8, KVM_REGS_SIZE);
  assert.equal(KVM_SREGS_SIZE, 312);
  assert.equal(SREGS.apic_base + 8 + 32, KVM_SREGS_SIZE);   // then interrupt_bitmap[4]
  assert.equal(RUN.sregs, RUN.regs + KVM_REGS_SIZE);
  assert.equal(RUN.kvm_dirty_regs, RUN.kvm_valid_regs + 8);
});

test('the stub bytes are what stub.S assembles to', (t) => {
  if (spawnSync('as', ['--version']).status !== 0) { t.skip('binutils not installed'); return; }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-stub-'));
  const obj = path.join(dir, 's.o'), bin = path.join(dir, 's.bin');
  assert.equal(spawnSync('as', ['-o', obj, path.join(ROOT, 'src', 'machine', 'stub.S')]).status, 0);
  assert.equal(spawnSync('objcopy', ['-O', 'binary', '-j', '.text', obj, bin]).status, 0);
  assert.deepEqual(fs.readFileSync(bin), STUB_CODE);
  fs.rmSync(dir, { recursive: true });
  // the exit path: out %al,$0x10; sysretq
  assert.deepEqual([...STUB_CODE.subarray(STUB_SYSCALL_OUT, STUB_SYSCALL_OUT + 5)], [0xe6, 0x10, 0x48, 0x0f, 0x07]);
});

test('the window is larger than memory, bounded, 2 MiB-aligned', () => {
  assert.equal(windowSize(256 * MiB), 1024 * MiB);
  assert.equal(windowSize(16 * MiB), 64 * MiB);
  assert.equal(windowSize(2048 * MiB), 6144 * MiB);
  assert.equal(windowSize(16384 * MiB), 20480 * MiB);
  assert.ok(windowSize(MAX_WINDOW) <= MAX_WINDOW);
  assert.equal(windowSize(300 * MiB + 1) % (2 * MiB), 0);
});

test('PTEs carry the protection; host() checks every page of a range', () => {
  const mem = GuestMemory.acquire(64 * MiB);
  try {
    mem.setPages(0x400000, 2 * PAGE_SIZE, PROT_R | PROT_X);
    mem.setPages(0x402000, PAGE_SIZE, PROT_R | PROT_W);
    assert.equal(mem.pageProt(0x400000), PROT_R | PROT_X);
    assert.equal(mem.pageProt(0x402000), PROT_R | PROT_W);
    assert.equal(mem.pageProt(0x403000), 0);
    // PTE of page p is the p-th u64 of the PT area: address | P | US (| RW), NX in bit 63.
    const pte = mem.sysDv.getBigUint64(mem.layout.ptOffset + (0x402000 / PAGE_SIZE) * 8, true);
    assert.equal(pte, 0x402000n | 7n | (1n << 63n));
    assert.equal(mem.host(0x400000, 3 * PAGE_SIZE, false), mem.hostBase + 0x400000);
    assert.throws(() => mem.host(0x400000, 3 * PAGE_SIZE, true), GuestFault);    // text is not writable
    assert.throws(() => mem.host(0x402ff0, 0x20, false), GuestFault);             // crosses into an unmapped page
    assert.throws(() => mem.host(-1, 1, false), GuestFault);
    assert.throws(() => mem.host(2 ** 53, 1, false), GuestFault);
    assert.throws(() => mem.host(64 * MiB - 1, 2, false), GuestFault);
    assert.equal(mem.host(0xdead0000, 0, true) >= mem.hostBase, true);            // zero length is fine
    mem.bytes(0x402000, 3).set(Buffer.from('hi\0'));
    assert.equal(mem.readCString(0x402000)?.toString(), 'hi');
    mem.bytes(0x402ffe, 2).set(Buffer.from('ab'));
    assert.throws(() => mem.readCString(0x402ffe), GuestFault);                     // no NUL before unmapped
  } finally { mem.release(); }
});

test('address space: mmap, hints, MAP_FIXED, munmap, mprotect, brk, commit limit', () => {
  const mem = GuestMemory.acquire(windowSize(64 * MiB));
  const as = new AddressSpace(mem, 64 * MiB);
  try {
    as.brkStart = as.brkEnd = 0x500000;
    const a = as.mmap(0, 3 * PAGE_SIZE, PROT_R | PROT_W, MAP.PRIVATE | MAP.ANONYMOUS, -1, 0);
    assert.ok(a > 0 && a % PAGE_SIZE === 0);
    assert.equal(mem.pageProt(a), PROT_R | PROT_W);
    const hint = 0x8000000;
    assert.equal(as.mmap(hint, PAGE_SIZE, PROT_R, MAP.PRIVATE | MAP.ANONYMOUS, -1, 0), hint);
    assert.equal(as.mmap(a + PAGE_SIZE, PAGE_SIZE, PROT_R, MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED, -1, 0), a + PAGE_SIZE);
    assert.equal(mem.pageProt(a + PAGE_SIZE), PROT_R);
    assert.equal(as.vmas.filter((v) => v.start >= a && v.end <= a + 3 * PAGE_SIZE).length, 3);
    assert.equal(as.munmap(a, PAGE_SIZE), 0);
    assert.equal(mem.pageProt(a), 0);
    assert.equal(as.mprotect(a, PAGE_SIZE, PROT_R), -12);              // not mapped: ENOMEM
    assert.equal(as.mprotect(a + PAGE_SIZE, 2 * PAGE_SIZE, PROT_R | PROT_W), 0);
    assert.equal(mem.pageProt(a + 2 * PAGE_SIZE), PROT_R | PROT_W);
    // brk grows into fresh zero pages and shrinks.
    assert.equal(as.brk(0), 0x500000);
    assert.equal(as.brk(0x500000 + 5000), 0x500000 + 5000);
    assert.equal(mem.pageProt(0x501000), PROT_R | PROT_W);
    assert.equal(as.brk(0x500000), 0x500000);
    assert.equal(mem.pageProt(0x500000), 0);
    // The commit limit: PROT_NONE reservations are free, accessible memory is charged.
    const before = as.committed;
    const r = as.mmap(0, 96 * MiB, 0, MAP.PRIVATE | MAP.ANONYMOUS | MAP.NORESERVE, -1, 0);
    assert.ok(r > 0);
    assert.equal(as.committed, before);
    assert.equal(as.mprotect(r, 2 * MiB, PROT_R | PROT_W), 0);
    assert.equal(as.committed, before + 2 * MiB);
    assert.equal(as.mprotect(r, 90 * MiB, PROT_R | PROT_W), -12);   // over the 64 MiB limit
    assert.equal(as.mmap(0, 100 * MiB, PROT_R | PROT_W, MAP.PRIVATE | MAP.ANONYMOUS, -1, 0), -12);
    assert.equal(as.munmap(r, 96 * MiB), 0);
    assert.equal(as.committed, before);
    // mremap keeps the contents when it moves.
    const m = as.mmap(0, PAGE_SIZE, PROT_R | PROT_W, MAP.PRIVATE | MAP.ANONYMOUS, -1, 0);
    mem.bytes(m + 10, 1)[0] = 42;
    as.mmap(m + PAGE_SIZE, PAGE_SIZE, PROT_R, MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED, -1, 0);  // block in-place growth
    const moved = as.mremap(m, PAGE_SIZE, 4 * PAGE_SIZE, 1 /* MAYMOVE */, 0);
    assert.ok(moved > 0 && moved !== m);
    assert.equal(mem.bytes(moved + 10, 1)[0], 42);
    assert.equal(mem.pageProt(m), 0);
  } finally { mem.release(); }
});

test('mremap moves 64 MiB across view chunks with its contents; bytes() refuses huge views', () => {
  const mem = GuestMemory.acquire(windowSize(512 * MiB));
  const as = new AddressSpace(mem, 512 * MiB);
  try {
    const n = 64 * MiB;
    const a = as.mmap(0, n, PROT_R | PROT_W, MAP.PRIVATE | MAP.ANONYMOUS, -1, 0);
    assert.ok(a > 0);
    const mark = (base: number, i: number) => new DataView(mem.bytes(base + i * PAGE_SIZE, 8).slice().buffer);
    for (let i = 0; i < n / PAGE_SIZE; i++) {
      const b = mem.bytes(a + i * PAGE_SIZE, 8);
      new DataView(b.buffer, b.byteOffset, 8).setUint32(0, i * 2654435761 >>> 0, true);
      b[7] = 0x5a;
    }
    // Block growth in place, so the region must move (and lands at another chunk offset).
    assert.equal(as.mmap(a + n, PAGE_SIZE, PROT_R, MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED, -1, 0), a + n);
    const moved = as.mremap(a, n, n + 2 * MiB, 1 /* MREMAP_MAYMOVE */, 0);
    assert.ok(moved > 0 && moved !== a, `mremap: ${moved}`);
    let bad = 0;
    for (let i = 0; i < n / PAGE_SIZE; i++) {
      const d = mark(moved, i);
      if (d.getUint32(0, true) !== (i * 2654435761 >>> 0) || d.getUint8(7) !== 0x5a) bad++;
    }
    assert.equal(bad, 0);
    assert.equal(mem.pageProt(a), 0);
    assert.equal(mem.pageProt(moved + n), PROT_R | PROT_W);
    // copy() works in pieces; bytes() makes no view above 1 GiB (a plain Error, not a crash).
    mem.copy(moved + n, moved + 16 * MiB - 4, 8);
    assert.deepEqual([...mem.bytes(moved + n, 8)], [...mem.bytes(moved + 16 * MiB - 4, 8)]);
    assert.throws(() => mem.bytes(0, 1024 * MiB + PAGE_SIZE), (e: Error) => e.constructor === Error && /longer than/.test(e.message));
  } finally { mem.release(); }
});

test('file mappings: read-only shared pages keep their host protection; pages past the end of the file are never present', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-mm-'));
  const file = path.join(dir, 'data');
  fs.writeFileSync(file, Buffer.concat([Buffer.from('file data'), Buffer.alloc(PAGE_SIZE - 9, 0x46)]));
  const fd = fs.openSync(file, 'r');
  const mem = GuestMemory.acquire(windowSize(64 * MiB));
  const as = new AddressSpace(mem, 64 * MiB);
  try {
    const p = as.mmap(0, 4 * PAGE_SIZE, 0, MAP.PRIVATE | MAP.ANONYMOUS | MAP.NORESERVE, -1, 0);
    // Two pages of a one-page file, read-only and shared (the file is open O_RDONLY).
    assert.equal(as.mmap(p, 2 * PAGE_SIZE, PROT_R, MAP.SHARED | MAP.FIXED, fd, 0), p);
    assert.equal(mem.pageProt(p), PROT_R);
    assert.equal(mem.pageProt(p + PAGE_SIZE), 0);
    assert.throws(() => mem.host(p + PAGE_SIZE, 4, false), GuestFault);
    assert.equal(as.find(p + PAGE_SIZE)?.kind, 'shared');               // still mapped, not present
    assert.equal(as.mmap(p + 2 * PAGE_SIZE, 2 * PAGE_SIZE, PROT_R | PROT_W, MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED, -1, 0), p + 2 * PAGE_SIZE);
    // Reduce the whole range, then give the anonymous part its write access back.
    assert.equal(as.mprotect(p, 4 * PAGE_SIZE, PROT_R), 0);
    assert.equal(as.mprotect(p + 2 * PAGE_SIZE, 2 * PAGE_SIZE, PROT_R | PROT_W), 0);
    assert.equal(as.mprotect(p, 4 * PAGE_SIZE, PROT_R | PROT_W), -13);   // EACCES: the file is read-only
    // The host pages of the anonymous part are writable again: a host read(2) into them
    // works (EFAULT if they had been left read-only) and so does a VMM store.
    assert.equal(sys(HOST.pread64, fd, mem.hostBase + p + 2 * PAGE_SIZE, PAGE_SIZE, 0), PAGE_SIZE);
    assert.equal(Buffer.from(mem.bytes(p + 2 * PAGE_SIZE, 9)).toString(), 'file data');
    mem.bytes(p + 4 * PAGE_SIZE - 1, 1)[0] = 1;
    // PROT_NONE and back keeps pages past the end not present, and the file page readable.
    assert.equal(as.mprotect(p, 4 * PAGE_SIZE, 0), 0);
    assert.equal(as.mprotect(p, 2 * PAGE_SIZE, PROT_R), 0);
    assert.equal(mem.pageProt(p + PAGE_SIZE), 0);
    assert.equal(mem.read(p, 9).toString(), 'file data');
    // A private mapping past the end of the file: the same; mremap moves only the file's page.
    const q = as.mmap(0, 2 * PAGE_SIZE, PROT_R | PROT_W, MAP.PRIVATE, fd, 0);
    assert.ok(q > 0);
    assert.equal(mem.pageProt(q + PAGE_SIZE), 0);
    assert.throws(() => mem.writeU32(q + PAGE_SIZE, 1), GuestFault);
    mem.write(q, Buffer.from('private'));
    assert.equal(as.mmap(q + 2 * PAGE_SIZE, PAGE_SIZE, PROT_R, MAP.PRIVATE | MAP.ANONYMOUS | MAP.FIXED, -1, 0), q + 2 * PAGE_SIZE);
    const moved = as.mremap(q, 2 * PAGE_SIZE, 4 * PAGE_SIZE, 1 /* MREMAP_MAYMOVE */, 0);
    assert.ok(moved > 0 && moved !== q);
    assert.equal(mem.read(moved, 9).toString(), 'privateta');
    assert.equal(mem.readU32(moved + PAGE_SIZE), 0);                   // anonymous now: zero
    // A mapping that starts past the end of the file has no present page at all.
    const o = as.mmap(0, PAGE_SIZE, PROT_R, MAP.SHARED, fd, 2 * PAGE_SIZE);
    assert.ok(o > 0);
    assert.equal(mem.pageProt(o), 0);
  } finally {
    mem.release();
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true });
  }
});

/** A hand-made ELF64 x86-64 executable: the headers, then 16 bytes of data after them. */
function elfImage(type: number, entry: number, segs: ReadonlyArray<{ vaddr: number; memsz: number; flags: number; filesz?: number }>): Buffer {
  const data = Math.ceil((64 + segs.length * 56) / PAGE_SIZE) * PAGE_SIZE;
  const b = Buffer.alloc(data + 16, 0xcc);
  b.fill(0, 0, data);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeUInt16LE(type, 16); b.writeUInt16LE(62, 18); b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(BigInt(entry), 24); b.writeBigUInt64LE(64n, 32);
  b.writeUInt16LE(64, 52); b.writeUInt16LE(56, 54); b.writeUInt16LE(segs.length, 56);
  segs.forEach((s, i) => {
    const o = 64 + i * 56;
    b.writeUInt32LE(PT_LOAD, o); b.writeUInt32LE(s.flags, o + 4); b.writeBigUInt64LE(BigInt(data), o + 8);
    b.writeBigUInt64LE(BigInt(s.vaddr), o + 16); b.writeBigUInt64LE(BigInt(s.vaddr), o + 24);
    b.writeBigUInt64LE(BigInt(s.filesz ?? 16), o + 32); b.writeBigUInt64LE(BigInt(s.memsz), o + 40);
    b.writeBigUInt64LE(BigInt(PAGE_SIZE), o + 48);
  });
  return b;
}

/** Loads a hand-made image into a fresh address space of `memory` bytes; returns what loadSegments says. */
function load(memory: number, image: Buffer, check?: (as: AddressSpace) => void): ReturnType<typeof loadSegments> {
  const mem = GuestMemory.acquire(windowSize(memory));
  const as = new AddressSpace(mem, memory);
  try {
    const r = loadSegments(as, parseElf(image), image);
    check?.(as);
    return r;
  } finally { mem.release(); }
}

const isElfError = (re: RegExp) => (e: Error) => e instanceof ElfError && re.test(e.message) && !e.message.includes('\n');

test('loader: a static PIE above PIE_BASE keeps its addresses; entry points outside memory are refused', () => {
  const RX = PF_R | PF_X;
  // Lowest vaddr above PIE_BASE: no negative bias, the image stays where it asked to be.
  const r = load(64 * MiB, elfImage(ET_DYN, 0x1000000, [{ vaddr: 0x1000000, memsz: 0x2000, flags: RX }]), (as) => {
    assert.equal(as.mem.pageProt(0x1000000), PROT_R | PROT_X);
    assert.equal(as.mem.bytes(0x1000000, 1)[0], 0xcc);
  });
  assert.equal(r.base, 0);
  // An entry outside the segments that would have been negative, or is below the lowest
  // address, or beyond the window: one-line ElfErrors.
  assert.throws(() => load(64 * MiB, elfImage(ET_DYN, 0, [{ vaddr: 0x1000000, memsz: 0x1000, flags: RX }])), isElfError(/entry point 0x0 is outside/));
  assert.throws(() => load(64 * MiB, elfImage(ET_EXEC, 0x1000, [{ vaddr: 0x400000, memsz: 0x1000, flags: RX }])), isElfError(/entry point 0x1000 is outside/));
  assert.throws(() => load(64 * MiB, elfImage(ET_EXEC, 2 ** 40, [{ vaddr: 0x400000, memsz: 0x1000, flags: RX }])), isElfError(/entry point 0x10000000000 is outside/));
  // A PIE still goes to PIE_BASE when it asks for less.
  assert.equal(load(64 * MiB, elfImage(ET_DYN, 0x1000, [{ vaddr: 0, memsz: 0x2000, flags: RX }])).base, 0x400000);
});

test('loader: the image and the stack are charged against --memory', () => {
  const RW = PF_R | PF_W;
  // A 900 MiB .bss fits the window of --memory 256M (1 GiB) but not the limit.
  const big = elfImage(ET_EXEC, 0x400000, [{ vaddr: 0x400000, memsz: 0x1000, flags: PF_R | PF_X }, { vaddr: 0x401000, memsz: 900 * MiB, flags: RW }]);
  assert.throws(() => load(256 * MiB, big, () => assert.fail('loaded')),
    isElfError(/^needs more memory than --memory 256M allows \(901 MiB of program image and 8 MiB of stack\): run with --memory 909M or more$/));
  // 200 MiB of .bss and the stack fit 256 MiB; the charge is what was mapped.
  load(256 * MiB, elfImage(ET_EXEC, 0x400000, [{ vaddr: 0x400000, memsz: 200 * MiB, flags: RW | PF_X }]), (as) => {
    assert.equal(as.committed, 200 * MiB);
    as.mapStack();
    assert.equal(as.committed, 200 * MiB + STACK_SIZE);
  });
});

test('loader: page permissions are the union of overlapping segments, at any number of them', () => {
  // The largest header table Linux accepts, every segment 512 MiB and overlapping: the
  // permission sweep does not step through pages (this took hours with a Map per page).
  const n = 1170, segs: Array<{ vaddr: number; memsz: number; flags: number; filesz: number }> = [];
  for (let i = 0; i < n; i++) segs.push({ vaddr: 0x400000 + (i % 3) * PAGE_SIZE, memsz: 512 * MiB, flags: i % 3 === 0 ? PF_R : i % 3 === 1 ? PF_W : PF_X, filesz: 0 });
  const t0 = Date.now();
  assert.throws(() => load(256 * MiB, elfImage(ET_EXEC, 0x400000, segs)), isElfError(/needs more memory than --memory 256M/));
  assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
  // Segments that touch a page share it; a gap stays unmapped; runs are merged into VMAs.
  load(64 * MiB, elfImage(ET_EXEC, 0x400000, [
    { vaddr: 0x400000, memsz: 0x1800, flags: PF_R | PF_X },        // text, ends mid-page
    { vaddr: 0x401800, memsz: 0x1000, flags: PF_R | PF_W },        // data shares page 0x401000
    { vaddr: 0x404000, memsz: 0x1000, flags: PF_R },               // after a one-page gap
    { vaddr: 0x405000, memsz: 0x1000, flags: PF_R },
    { vaddr: 0x406000, memsz: 0x1000, flags: 0 },                  // no access: mapped, not present
  ]), (as) => {
    const m = as.mem;
    assert.equal(m.pageProt(0x400000), PROT_R | PROT_X);
    assert.equal(m.pageProt(0x401000), PROT_R | PROT_W | PROT_X);
    assert.equal(m.pageProt(0x402000), PROT_R | PROT_W);
    assert.equal(m.pageProt(0x403000), 0);
    assert.equal(as.find(0x403000), undefined);
    assert.equal(m.pageProt(0x404000), PROT_R);
    assert.deepEqual(as.vmas.map((v) => [v.start.toString(16), v.end.toString(16), v.prot]),
      [['400000', '401000', 5], ['401000', '402000', 7], ['402000', '403000', 3], ['404000', '406000', 1], ['406000', '407000', 0]]);
    assert.equal(as.committed, 5 * PAGE_SIZE);
  });
});

test('signal frames save the XSAVE components the guest can use, even where KVM\'s CPUID hides XSAVE (kvm_pvm on AMD)', () => {
  const components = new Map([[2, { size: 256, offset: 576 }], [9, { size: 8, offset: 2432 }], [5, { size: 64, offset: 832 }]]);
  // A CPU with XSAVE: the XCR0 torov gives the guest (x87, SSE, AVX, AVX-512; not PKRU).
  const intel = { hwcap: 0, xsave: true, fsgsbase: true, xcr0: 0x227n, xcomponents: components };
  assert.equal(frameXfeatures(intel), 0x27n);
  assert.equal(xsaveSize(intel, frameXfeatures(intel)), 832 + 64);
  // KVM's leaf 1 says no XSAVE, leaf 0xD lists AVX and PKRU: the guest uses them anyway (CPUID, XGETBV native at CPL3).
  const pvmAmd = { hwcap: 0, xsave: false, fsgsbase: true, xcr0: 0x207n, xcomponents: components };
  assert.equal(frameXfeatures(pvmAmd), 0x207n);
  assert.equal(xsaveSize(pvmAmd, frameXfeatures(pvmAmd)), 2440);
  // No XSAVE at all: the legacy FXSAVE region and a header.
  const old = { hwcap: 0, xsave: false, fsgsbase: false, xcr0: 3n, xcomponents: new Map() };
  assert.equal(frameXfeatures(old), 3n);
  assert.equal(xsaveSize(old, frameXfeatures(old)), 576);
});
