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

// ---- Inputs are checked before they are read ------------------------------------------------

/** stderr is one line, with no control byte in it. */
function oneCleanLine(stderr: string): void {
  assert.match(stderr, /^[^\n]*\n$/, JSON.stringify(stderr));
  assert.doesNotMatch(stderr.slice(0, -1), /[\x00-\x1f\x7f-\x9f]/, JSON.stringify(stderr));
}

test('a FIFO, a device or a /proc file is refused as the program, the policy or a ToroV Binary, at once', (t) => {
  const dir = tmpdir(t);
  const fifo = path.join(dir, 'fifo');
  assert.equal(require('node:child_process').spawnSync('mkfifo', [fifo]).status, 0);
  const cfg = path.join(dir, 'zero.json');
  fs.writeFileSync(cfg, JSON.stringify({ Binary: '/dev/zero', Hypercalls: [] }));
  const cases: Array<[string[], number, RegExp]> = [
    [['run', fifo], 126, /^torov: .*fifo: not a regular file \(a FIFO\)$/],
    [['run', '/dev/zero'], 126, /^torov: \/dev\/zero: not a regular file \(a character device\)$/],
    [['run', '/proc/self/status'], 126, /^torov: \/proc\/self\/status: not a regular file \(a file of \/proc\)$/],
    [['run', '--policy', fifo, guest('hello')], 125, /^torov: policy: .*fifo: cannot read the policy file: not a regular file \(a FIFO\)$/],
    [['run', '--policy', '/dev/zero', guest('hello')], 125, /^torov: policy: \/dev\/zero: cannot read the policy file: not a regular file \(a character device\)$/],
    [['run', cfg], 125, /^torov: policy: .*zero\.json: Binary: \/dev\/zero: not a regular file \(a character device\)$/],
    [['policy', 'check', fifo], 125, /^torov: policy: .*fifo: cannot read the policy file: not a regular file \(a FIFO\)$/],
    [['policy', 'check', cfg], 125, /^torov: policy: .*zero\.json: Binary: \/dev\/zero: not a regular file \(a character device\)$/],
  ];
  for (const [args, status, message] of cases) {
    const t0 = Date.now();
    const r = torov(args, { timeout: 20_000 });
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
    oneCleanLine(r.stderr);
    assert.match(r.stderr.trim(), message);
    assert.ok(Date.now() - t0 < 15_000, `${args.join(' ')} took ${Date.now() - t0} ms`);
  }
});

test('errors quote names and files without their control bytes, in one line', (t) => {
  const dir = tmpdir(t);
  const cases: Array<[string, Buffer]> = [
    ['binary.json', Buffer.from([0, 1, 2, 0x7b, 0x1b, 0x5b, 0x33, 0x31, 0x6d])],
    ['utf16.json', Buffer.from('\ufeff{"memory": "64M"}', 'utf16le')],
    ['latin1.json', Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d])],
    ['escape.json', Buffer.from('{"\\u001b[31mred": 1}')],
    ['newline.json', Buffer.from('{\n"syscalls": [{"names": ["write\\n\\rnext"], "action": "allow"}]}')],
  ];
  for (const [name, bytes] of cases) {
    const f = path.join(dir, name);
    fs.writeFileSync(f, bytes);
    for (const args of [['policy', 'check', f], ['run', '--policy', f, guest('hello')]]) {
      const r = torov(args);
      assert.equal(r.status, 125, `${name}: ${r.stderr}`);
      oneCleanLine(r.stderr);
    }
  }
  const weird = torov(['run', path.join(dir, 'no\x1b[31mthere\rreally')]);
  assert.equal(weird.status, 127);
  oneCleanLine(weird.stderr);
  assert.match(weird.stderr, /no\\x1b\[31mthere really/);
});

test('--timeout counts from the start of torov run: a deadline before the guest starts stops it before its first instruction', () => {
  // Node alone takes longer than 1 ms to start: the program never runs.
  const r = torov(['run', '--timeout', '1ms', guest('hello')]);
  assert.equal(r.status, 124, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^torov: timeout: the VM was stopped after 1ms$/m);
});

// ---- Policies: what run refuses, policy check refuses ------------------------------------------

test('policy check refuses exactly what run refuses, with the same line', (t) => {
  const dir = tmpdir(t);
  const root = path.join(dir, 'root');
  fs.mkdirSync(path.join(root, 'data'), { recursive: true });
  fs.symlinkSync('/etc', path.join(root, 'etc'));             // an absolute link: /etc of the root, which loops here
  fs.symlinkSync('../../../../../../tmp', path.join(root, 'up'));
  fs.writeFileSync(path.join(dir, 'afile'), 'x');
  const cases: Array<[string, unknown, RegExp]> = [
    ['1-byte memory', { memory: 1 }, /memory: must be from 16M to 32G \(got 1\)$/],
    ['0.5K memory', { memory: '0.5K' }, /memory: must be from 16M to 32G \(got "0\.5K"\)$/],
    ['missing root', { root: './nope' }, /root: .*\/nope: no such directory$/],
    ['a file as root', { root: './afile' }, /root: .*\/afile: not a directory \(a regular file\)$/],
    ['writable ..', { root: './root', writable: ['/../../'] }, /writable\[0\]: must not contain "\.\."/],
    ['writable missing', { root: './root', writable: ['/nothing'] }, /writable\[0\]: \/nothing does not exist in the root/],
    ['writable through a link out', { root: './root', writable: ['/up/x'] }, /writable\[0\]: \/tmp does not exist in the root|writable\[0\]: \/tmp\/x does not exist in the root/],
    ['openFiles 1e20', { rlimits: { openFiles: 1e20 } }, /rlimits\.openFiles: must be a whole number from 3 to 1048576/],
    ['missing Binary', { Binary: './nobinary', Hypercalls: [] }, /Binary: .*\/nobinary: no such file$/],
    ['a MountPoint of /', { Binary: guest('hello'), MountPoint: '/', Hypercalls: [] }, /MountPoint: the host's \/ as a writable root .* add --allow-host-root to mean it$/],
    ['a writable root of /', { root: '/', writable: true }, /root: the host's \/ as a writable root .* add --allow-host-root to mean it$/],
  ];
  for (const [what, doc, message] of cases) {
    const f = path.join(dir, `${what.replace(/\W+/g, '-')}.json`);
    fs.writeFileSync(f, JSON.stringify(doc));
    const check = torov(['policy', 'check', f]);
    assert.equal(check.status, 125, `${what}: policy check: ${check.stdout}${check.stderr}`);
    oneCleanLine(check.stderr);
    assert.match(check.stderr.trim(), message, what);
    const isConfig = (doc as { Binary?: string }).Binary !== undefined;
    const run = torov(isConfig ? ['run', f] : ['run', '--policy', f, guest('hello')]);
    assert.equal(run.status, 125, `${what}: run: ${run.stderr}`);
    assert.equal(run.stderr, check.stderr, what);
  }
  // What check accepts, run accepts: a writable path inside the root, through a link inside it.
  fs.symlinkSync('data', path.join(root, 'link'));
  const ok = path.join(dir, 'ok.json');
  fs.writeFileSync(ok, JSON.stringify({ defaultAction: 'allow', root, writable: ['/link'], memory: '16M' }));
  const check = torov(['policy', 'check', ok]);
  assert.equal(check.status, 0, check.stderr);
  const run = torov(['run', '--policy', ok, guest('hello')], { plain: true });
  assert.equal(run.status, 0, run.stderr);
});

test('the host\'s / as a writable root, a MountPoint or a volume needs --allow-host-root', { skip: NO_BUSYBOX }, (t) => {
  const dir = tmpdir(t);
  const r = torov(['run', '-v', '/:/host:ro', BUSYBOX, 'true'], { plain: true });
  assert.equal(r.status, 125);
  assert.match(r.stderr, /^torov: --volume \/:\/host: the host's \/ as a volume gives the guest every host file: add --allow-host-root to mean it\n$/);
  // With the flag the checks pass; the jail still cannot bind / without the host's /proc,
  // /sys and /dev below it, and says so.
  const flagged = torov(['run', '--allow-host-root', '-v', '/:/host:ro', BUSYBOX, 'true'], { plain: true });
  assert.equal(flagged.status, 125);
  assert.match(flagged.stderr, /^torov: sandbox: the host's \/ cannot be bound into the jail: Linux binds it only with the file systems mounted below it/);
  const f = path.join(dir, 'p.json');
  fs.writeFileSync(f, JSON.stringify({ Binary: guest('hello'), MountPoint: '/', Hypercalls: [] }));
  assert.equal(torov(['policy', 'check', f]).status, 125);
  assert.equal(torov(['policy', 'check', '--allow-host-root', f]).status, 0);
});

test('a standard fd closed when torov starts is closed for the program too (EBADF, as natively)', { skip: NO_BUSYBOX }, () => {
  const sh = (prefix: string[]) => require('node:child_process').spawnSync('sh', ['-c', `"$@" >&-; echo "status $?" >&2`, 'sh', ...prefix, BUSYBOX, 'echo', 'hi'], { encoding: 'utf8' });
  const vm = sh([require('../helpers').TOROV, 'run']);
  const host = sh([]);
  assert.match(host.stderr, /Bad file descriptor/);
  assert.equal(vm.stderr, host.stderr);
});
