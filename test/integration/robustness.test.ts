/**
 * Guest-triggered VMM crashes found by a security review: each guest below once killed
 * torov ("internal error", SIGBUS, KVM_RUN EFAULT); now each behaves as natively, or
 * fails with the guest's own error, and the VMM survives.
 */
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, guest, native, vmAndNative } from '../helpers';

test('the largest valid timeouts to ppoll, pselect6, select and epoll_pwait2 return normally', () => {
  const { vm, host } = vmAndNative('robust_poll');
  assert.deepEqual(vm, host);
  for (const call of ['ppoll', 'pselect6', 'epoll_pwait2']) {
    assert.ok(vm.includes(`${call} {LONG_MAX,0} returned 1 left_ok=1`), call);
    assert.ok(vm.includes(`${call} {LONG_MAX,999999999} returned 1 left_ok=1`), call);
  }
  assert.ok(vm.includes('select {LONG_MAX,0} returned 1 left_ok=1'));
  assert.ok(vm.includes('select {0,LONG_MAX} returned 1 left_ok=1'));
  assert.ok(vm.includes('ppoll empty 20ms returned 0 left_ok=1'));
  assert.ok(vm.includes('robust_poll done'));
});

test('mprotect across a read-only shared file mapping leaves the anonymous pages after it usable', (t: TestContext) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-robust-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { vm, host } = vmAndNative('robust_mm', ['mprotect', dir]);
  assert.deepEqual(vm, host);
  assert.ok(vm.includes('mprotect all PROT_READ=0'));
  assert.ok(vm.includes('anon after store: bac'));
  assert.ok(vm.includes('mprotect all RW=-1 EACCES'));
  assert.ok(vm.includes('anon after read: file data'));
  assert.ok(vm.includes('pipe says ok'));
  assert.ok(vm.includes('robust_mm mprotect done'));
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('syscall buffers past the end of a mapped file are EFAULT, not a SIGBUS in the VMM', () => {
  const { vm, host } = vmAndNative('robust_mm', ['eof']);
  assert.deepEqual(vm, host);
  assert.ok(vm.includes('shared first page pipe=0'));
  assert.ok(vm.includes('shared past end pipe=-1 EFAULT'));
  assert.ok(vm.includes('shared past end after mprotect write=-1 EFAULT'));
  assert.ok(vm.includes('private past end read=-1 EFAULT'));
  assert.ok(vm.includes('msync over the end=0'));
  assert.ok(vm.includes('offset past end pipe=-1 EFAULT'));
  assert.ok(vm.includes('robust_mm eof done'));
});

test('a guest store past the end of a mapped file is SIGBUS, as on Linux', () => {
  const r = torov(['run', guest('robust_mm'), 'eof-touch']);
  assert.equal(r.status, 135, r.stderr);
  assert.match(r.stdout, /^touching the page past the end$/m);
  assert.doesNotMatch(r.stdout, /no fault/);
  assert.match(r.stderr, /^torov: SIGBUS: bus error at rip=0x[0-9a-f]+ addr=0x[0-9a-f]+ \(past the end of a mapped file\)$/m);
  assert.equal(native(guest('robust_mm'), ['eof-touch']).signal, 'SIGBUS');
});

/** A hand-made static x86-64 executable: `code` at 0x401000, one RX segment, then `extra` program headers. */
function elf(extra: ReadonlyArray<{ type: number; flags: number; vaddr: number; memsz: number }>, phnum?: number): Buffer {
  const code = Buffer.from([0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]);   // exit(0)
  const n = 1 + extra.length;
  const b = Buffer.alloc(0x1000 + code.length);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeUInt16LE(2 /* ET_EXEC */, 16); b.writeUInt16LE(62, 18); b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(0x401000n, 24); b.writeBigUInt64LE(64n, 32);
  b.writeUInt16LE(64, 52); b.writeUInt16LE(56, 54); b.writeUInt16LE(phnum ?? n, 56);
  const ph = (i: number, type: number, flags: number, off: number, vaddr: number, filesz: number, memsz: number) => {
    const o = 64 + i * 56;
    b.writeUInt32LE(type, o); b.writeUInt32LE(flags, o + 4); b.writeBigUInt64LE(BigInt(off), o + 8);
    b.writeBigUInt64LE(BigInt(vaddr), o + 16); b.writeBigUInt64LE(BigInt(vaddr), o + 24);
    b.writeBigUInt64LE(BigInt(filesz), o + 32); b.writeBigUInt64LE(BigInt(memsz), o + 40); b.writeBigUInt64LE(0x1000n, o + 48);
  };
  ph(0, 1 /* PT_LOAD */, 5 /* R+X */, 0x1000, 0x401000, code.length, code.length);
  extra.forEach((e, i) => ph(i + 1, e.type, e.flags, 0, e.vaddr, 0, e.memsz));
  code.copy(b, 0x1000);
  return b;
}

test('a program larger than --memory, or with too many program headers, is refused with one line', (t: TestContext) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-robust-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, b: Buffer) => { const p = path.join(dir, name); fs.writeFileSync(p, b, { mode: 0o755 }); return p; };
  // The hand-made program runs as it is.
  const ok = write('small', elf([{ type: 1, flags: 6, vaddr: 0x402000, memsz: 0x1000 }]));
  assert.equal(torov(['run', ok]).status, 0);
  // A 900 MiB .bss fits the window of --memory 256M, not its limit.
  const big = write('bigbss', elf([{ type: 1, flags: 6 /* R+W */, vaddr: 0x402000, memsz: 900 * 2 ** 20 }]));
  let r = torov(['run', '--memory', '256M', big]);
  assert.equal(r.status, 126, r.stderr);
  assert.match(r.stderr, /^torov: \S*bigbss: needs more memory than --memory 256M allows \(901 MiB of program image and 8 MiB of stack\): run with --memory 909M or more$/m);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.equal(torov(['run', '--memory', '1G', big]).status, 0);
  // 65535 program headers: refused at once (Linux's 64 KiB limit), not hours of page work.
  const many = write('many', elf([], 65535));
  const t0 = Date.now();
  r = torov(['run', many]);
  assert.equal(r.status, 126, r.stderr);
  assert.match(r.stderr, /^torov: \S*many: too many program headers \(65535; at most 1170, 64 KiB of them\)$/m);
  assert.ok(Date.now() - t0 < 30_000);
});
