/**
 * Containment (issue 13): a guest cannot take the host's memory, crash its VMM or plant
 * set-id files, and hostile inputs end fast with one line. Each test reproduces a finding
 * of the security review and checks what torov does now.
 */
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, guest, native } from '../helpers';

function tmpdir(t: TestContext, prefix = 'torov-contain-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

// ---- Guest memory that loses its backing ------------------------------------------------

for (const where of ['memfd', 'file'] as const) {
  for (const p of ['exit', 'ring'] as const) {
    test(`a truncated ${where} mapping: syscall pointers into it are EFAULT and the VMM survives (--syscall-path ${p})`, (t) => {
      const dir = tmpdir(t);
      const arg = where === 'memfd' ? 'memfd' : dir;
      const r = torov(['run', '--syscall-path', p, guest('trunc'), 'syscalls', arg]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      const n = native(guest('trunc'), ['syscalls', arg]);
      assert.equal(n.status, 0, n.stderr);
      assert.deepEqual(r.stdout.split('\n'), n.stdout.split('\n'));
      assert.match(r.stdout, /^open\(path in the mapping\) EFAULT$/m);
      assert.match(r.stdout, /^writev\(iovec in the mapping\) EFAULT$/m);
      assert.match(r.stdout, /^poll\(pollfds in the mapping\) EFAULT$/m);
      assert.match(r.stdout, /^pread after a store through the mapping: through the mapping$/m);
      assert.match(r.stdout, /^trunc syscalls done$/m);
    });
  }
}

test('a truncated mapping under --trace: the trace shows the pointer, the VMM survives', () => {
  const r = torov(['run', '--trace', guest('trunc'), 'syscalls', 'memfd']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^open\(0x[0-9a-f]+, O_RDONLY\) = -1 EFAULT \(Bad address\)$/m);
  assert.match(r.stderr, /^write\(\d+, 0x[0-9a-f]+, 8\) = -1 EFAULT \(Bad address\)$/m);
  assert.doesNotMatch(r.stderr, /internal error|killed/);
});

test('the program\'s own load from a truncated mapping is SIGBUS, as natively', () => {
  const r = torov(['run', guest('trunc'), 'touch', 'memfd']);
  assert.equal(r.status, 135, r.stderr);
  assert.match(r.stdout, /^touching the truncated page$/m);
  assert.match(r.stderr, /^torov: SIGBUS: guest memory at rip=0x[0-9a-f]+ is no longer backed \(a mapped file was truncated, or its file system is full\)$/m);
  assert.equal(native(guest('trunc'), ['touch', 'memfd']).signal, 'SIGBUS');
});

// ---- No set-id bits from a guest ------------------------------------------------------------

const BUSYBOX = '/bin/busybox';
const NO_BUSYBOX = fs.existsSync(BUSYBOX) ? false : 'busybox-static is not installed';
const SETID = 0o6000;

test('no set-id bits from a guest: creation modes, the chmod family and a rename (run as the volume\'s owner)', (t) => {
  const dir = tmpdir(t);
  // A set-id file put there from the host: a guest that renames it must not keep the bits.
  const src = path.join(dir, 'planted');
  fs.writeFileSync(src, '');
  fs.chmodSync(src, 0o4755);
  const r = torov(['run', '-v', `${dir}:/data`, guest('setid'), '/data', '/data/planted'], { plain: true });
  assert.equal(r.status, 0, r.stderr);
  for (const call of ['open O_CREAT 06755', 'creat 04755', 'openat O_CREAT 02755', 'fchmod 06755', 'mknod S_IFREG 06755', 'mkdir 02755',
    'chmod 06755', 'fchmodat 06755', 'fchmodat2 06755', 'chmod dir 03777', 'rename of a set-id file']) {
    assert.match(r.stdout, new RegExp(`^${call.replace(/[()]/g, '\\$&')} returned \\d+$`, 'm'), call);
  }
  const names = ['open', 'creat', 'openat', 'mknod', 'dir', 'chmod', 'fchmodat', 'renamed'];
  for (const n of names) {
    const mode = fs.statSync(path.join(dir, n)).mode;
    assert.equal(mode & SETID, 0, `${n}: ${(mode & 0o7777).toString(8)}`);
  }
  // The rest of the mode is the guest's: the sticky bit of the directory stays.
  assert.equal(fs.statSync(path.join(dir, 'dir')).mode & 0o7777, 0o1777);
  assert.equal(fs.statSync(path.join(dir, 'chmod')).mode & 0o7777, 0o755);
});

test('busybox chmod 6755 in a volume leaves the file without set-id bits on the host', { skip: NO_BUSYBOX }, (t) => {
  const dir = tmpdir(t);
  fs.writeFileSync(path.join(dir, 'f'), '');
  const r = torov(['run', '-v', `${dir}:/data`, BUSYBOX, 'chmod', '6755', '/data/f'], { plain: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(fs.statSync(path.join(dir, 'f')).mode & 0o7777, 0o755);
});

test('the device nodes a guest sees cannot be changed on the host (a root guest owns /dev/null)', { skip: NO_BUSYBOX }, (t) => {
  const dir = tmpdir(t);
  const before = fs.statSync('/dev/null');
  // A root-owned writable volume makes the VMM act as root, the owner of /dev/null.
  const r = torov(['run', '-v', `${dir}:/data`, BUSYBOX, 'chmod', '1711', '/dev/null'], { plain: true });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Read-only file system/);
  const after = fs.statSync('/dev/null');
  assert.equal(after.mode, before.mode);
  assert.equal(after.ctimeMs, before.ctimeMs);
  // ...and they still work.
  const w = torov(['run', '-v', `${dir}:/data`, BUSYBOX, 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=16', 'count=1'], { plain: true });
  assert.equal(w.status, 0, w.stderr);
});

// ---- Faults reported by the CPU only ----------------------------------------------------------

test('a fault report the program forges is refused as such, not printed as a real fault', () => {
  const port = torov(['run', guest('forge'), 'port']);
  assert.equal(port.status, 139);
  assert.match(port.stderr, /^torov: SIGSEGV: forged fault report at rip=0x[0-9a-f]+$/m);
  const stale = torov(['run', guest('forge'), 'stale']);
  assert.equal(stale.status, 139, stale.stderr);
  assert.match(stale.stdout, /a real fault was handled/);
  assert.doesNotMatch(stale.stdout, /still here/);
  assert.match(stale.stderr, /^torov: SIGSEGV: forged fault report at rip=0x[0-9a-f]+ \(from user mode\)$/m);
  assert.doesNotMatch(stale.stderr, /page fault/);
});

/** A static x86-64 executable of one PT_LOAD segment at `vaddr` (exit(0) at its start). */
function elfAt(vaddr: bigint, memsz = 0x1000n): Buffer {
  const code = Buffer.from([0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]);
  const b = Buffer.alloc(0x1000 + code.length);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeUInt16LE(2, 16); b.writeUInt16LE(62, 18); b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(vaddr, 24); b.writeBigUInt64LE(64n, 32);
  b.writeUInt16LE(64, 52); b.writeUInt16LE(56, 54); b.writeUInt16LE(1, 56);
  b.writeUInt32LE(1, 64); b.writeUInt32LE(5, 68); b.writeBigUInt64LE(0x1000n, 72);
  b.writeBigUInt64LE(vaddr, 80); b.writeBigUInt64LE(vaddr, 88);
  b.writeBigUInt64LE(BigInt(code.length), 96); b.writeBigUInt64LE(memsz, 104); b.writeBigUInt64LE(0x1000n, 112);
  code.copy(b, 0x1000);
  return b;
}

test('a program that cannot fit is told so, never to use a --memory above the largest', (t) => {
  const dir = tmpdir(t);
  const high = path.join(dir, 'high');
  fs.writeFileSync(high, elfAt(0x7fff00000000n), { mode: 0o755 });
  const r = torov(['run', high]);
  assert.equal(r.status, 126);
  assert.match(r.stderr, /^torov: .*high: the image ends at 0x7fff00001000, beyond guest memory: more than torov's largest guest memory \(32G\)\n$/);
  const fits = path.join(dir, 'fits');
  fs.writeFileSync(fits, elfAt(0x40000000n), { mode: 0o755 });
  assert.match(torov(['run', '--memory', '64M', fits]).stderr, /run with --memory \d+M or more/);
});

test('faults at addresses that need all 64 bits reach the program\'s handler, as natively (no VMM error)', () => {
  const r = torov(['run', guest('forge'), 'bigaddr']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const n = native(guest('forge'), ['bigaddr']);
  assert.equal(r.stdout, n.stdout);
  assert.match(r.stdout, /caught the ret with rsp near 2\^64/);
});
