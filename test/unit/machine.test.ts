/** Pure machine logic: struct layouts, the stub bytes, the window, page tables and the address space. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RUN, REGS, SREGS, KVM_REGS_SIZE, KVM_SREGS_SIZE } from '../../src/kvm/kvm';
import { STUB_CODE } from '../../src/machine/stub';
import { windowSize, MAX_WINDOW, PAGE_SIZE } from '../../src/machine/layout';
import { GuestMemory, GuestFault, PROT_R, PROT_W, PROT_X } from '../../src/machine/memory';
import { AddressSpace, MAP } from '../../src/machine/mm';

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
  // syscall entry: out %al,$0x10; sysretq
  assert.deepEqual([...STUB_CODE.subarray(0, 5)], [0xe6, 0x10, 0x48, 0x0f, 0x07]);
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
