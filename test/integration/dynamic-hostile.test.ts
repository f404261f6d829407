/**
 * Dynamically linked programs given bad input (issue 16): hostile interpreter paths,
 * symlinks out of the root, interpreters that are not x86-64 ELF files or have absurd
 * segments, libraries with absurd segments, a library truncated while mapped. Each must
 * end as Linux ends it (an exec error: one line, 126 or 127; the loader's own error; or
 * SIGSEGV/SIGBUS for the program), never with a VMM crash (125 "internal error", a stack
 * trace, or the VMM killed by a signal).
 *
 * Most cases put a copy of test/guests/hello_dyn (PT_INTERP /lib64/ld-linux-x86-64.so.2)
 * at /prog in a scratch root, with something hostile where its interpreter should be, and
 * run it with --rootfs on that root. The crafted files run only inside torov.
 */
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, guest, RunResult, spawnSync } from '../helpers';
import { PT_INTERP } from '../../src/elf/elf';

const INTERP = '/lib64/ld-linux-x86-64.so.2';
const HELLO_DYN = fs.readFileSync(guest('hello_dyn'));

/** A scratch root with /prog (hello_dyn, or `prog`) and /lib64; removed afterwards. */
function root(t: TestContext, prog: Buffer = HELLO_DYN): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-hostile-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  fs.mkdirSync(path.join(d, 'lib64'));
  fs.writeFileSync(path.join(d, 'prog'), prog, { mode: 0o755 });
  return d;
}

/** Puts `data` (or a symlink to `link`) where the interpreter is looked up. */
function interp(d: string, what: { data?: Buffer; link?: string; dir?: boolean; fifo?: boolean }, name = INTERP): void {
  const p = path.join(d, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  if (what.data) fs.writeFileSync(p, what.data, { mode: 0o755 });
  else if (what.link !== undefined) fs.symlinkSync(what.link, p);
  else if (what.dir) fs.mkdirSync(p);
  else if (what.fifo) assert.equal(spawnSync('mkfifo', [p]).status, 0);
}

/** hello_dyn with PT_INTERP pointing at `bytes` (appended at the end of the file). */
function withInterpBytes(bytes: Buffer): Buffer {
  const b = Buffer.concat([HELLO_DYN, bytes]);
  const phoff = Number(b.readBigUInt64LE(32)), phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * 56;
    if (b.readUInt32LE(o) !== PT_INTERP) continue;
    b.writeBigUInt64LE(BigInt(HELLO_DYN.length), o + 8);
    b.writeBigUInt64LE(BigInt(bytes.length), o + 32);
    return b;
  }
  throw new Error('hello_dyn has no PT_INTERP');
}
const withInterp = (p: string) => withInterpBytes(Buffer.from(p + '\0', 'latin1'));

/** A hand-made ELF file: the header, program headers, then `code` at file offset 0x1000. */
function elf(o: { cls?: 1 | 2; machine?: number; type?: number; entry?: number; code?: Buffer;
  phdrs: Array<{ type?: number; flags?: number; offset?: number; vaddr: number; filesz?: number; memsz: number; align?: number }> }): Buffer {
  const code = o.code ?? Buffer.from([0xcc]);
  const b = Buffer.alloc(0x1000 + Math.max(code.length, 0x1000));
  b.set([0x7f, 0x45, 0x4c, 0x46, o.cls ?? 2, 1, 1], 0);
  b.writeUInt16LE(o.type ?? 3, 16); b.writeUInt16LE(o.machine ?? 62, 18); b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(BigInt(o.entry ?? 0x1000), 24); b.writeBigUInt64LE(64n, 32);
  b.writeUInt16LE(64, 52); b.writeUInt16LE(56, 54); b.writeUInt16LE(o.phdrs.length, 56);
  o.phdrs.forEach((p, i) => {
    const h = 64 + i * 56;
    b.writeUInt32LE(p.type ?? 1, h); b.writeUInt32LE(p.flags ?? 5, h + 4); b.writeBigUInt64LE(BigInt(p.offset ?? 0x1000), h + 8);
    b.writeBigUInt64LE(BigInt(p.vaddr), h + 16); b.writeBigUInt64LE(BigInt(p.vaddr), h + 24);
    b.writeBigUInt64LE(BigInt(p.filesz ?? 0x1000), h + 32); b.writeBigUInt64LE(BigInt(p.memsz), h + 40);
    b.writeBigUInt64LE(BigInt(p.align ?? 0x1000), h + 48);
  });
  code.copy(b, 0x1000);
  return b;
}

/** x86-64 code: exit_group(n). */
const exitCode = (n: number) => Buffer.from([0xb8, 0xe7, 0, 0, 0, 0xbf, n, 0, 0, 0, 0x0f, 0x05]);

/** Runs /prog in root `d`; checks it is no VMM crash: one line on stderr, a status of an exec error, the program, or a signal. */
function run(d: string, args: readonly string[] = [], extra: readonly string[] = []): RunResult {
  const r = torov(['run', '--rootfs', d, ...extra, '/prog', ...args], { timeout: 30_000 });
  assert.equal(r.signal, null, 'ended on its own');
  assert.notEqual(r.status, 125, `not a torov failure: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|killed by|at .*\.js:\d+/, r.stderr);
  return r;
}

/** Exactly one line on stderr, matching `re`. */
function oneLine(r: RunResult, re: RegExp): void {
  assert.match(r.stderr, re);
  assert.equal(r.stderr.split('\n').length, 2, `one line: ${JSON.stringify(r.stderr)}`);
}

test('interpreter paths that try to leave the root stay in it: "..", absolute and relative symlinks', (t) => {
  // Each would reach the host's real ld.so (and print hello) if it escaped the guest's root.
  const dotdot = root(t, withInterp('/../../../../../../../../lib64/ld-linux-x86-64.so.2'));
  const r1 = run(dotdot);
  assert.equal(r1.status, 127);
  oneLine(r1, /^torov: \/prog: the interpreter \/\.\.\/\.\.\/.*ld-linux-x86-64\.so\.2 not found in the guest's root \/tmp\/torov-hostile-/);
  const hostLd = '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2';
  assert.ok(fs.existsSync(hostLd));
  for (const link of [`/../../../../../..${hostLd}`, `../../../../../../../..${hostLd}`, `/proc/self/root${hostLd}`, `/.oldroot${hostLd}`]) {
    const d = root(t);
    interp(d, { link });
    const r = run(d);
    assert.equal(r.status, 127, `${link}: ${r.stderr}`);
    oneLine(r, /the interpreter \/lib64\/ld-linux-x86-64\.so\.2 not found in the guest's root/);
  }
  // A symlink to itself (".." stops at the root): ELOOP, as Linux.
  const loop = root(t);
  interp(loop, { link: '/../../../../lib64/ld-linux-x86-64.so.2' });
  const l = run(loop);
  assert.equal(l.status, 126);
  oneLine(l, /cannot open the interpreter \/lib64\/ld-linux-x86-64\.so\.2: Too many levels of symbolic links \(ELOOP\)/);
  // A symlink inside the root is followed inside it, as a kernel with that root does.
  const inside = root(t);
  interp(inside, { data: fs.readFileSync(INTERP) }, '/real/ld.so');
  interp(inside, { link: '../../../real/ld.so' });
  const ok = run(inside);
  // The real ld.so is there, but libc is not: the loader itself says so.
  assert.equal(ok.status, 127, ok.stderr);
  assert.match(ok.stderr, /error while loading shared libraries: libc\.so\.6: cannot open shared object file/);
});

test('an interpreter that is not an x86-64 ELF file: one line, 126 (Linux: ELIBBAD)', (t) => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['a text file', Buffer.from('#!/bin/sh\necho no\n'), /not an ELF executable \(bad magic\)/],
    ['an empty file', Buffer.alloc(0), /not an ELF executable/],
    ['a 32-bit ELF', elf({ cls: 1, machine: 3, phdrs: [{ vaddr: 0x1000, memsz: 0x1000 }] }), /a 32-bit ELF file/],
    ['an AArch64 ELF', fs.readFileSync(guest('arm64_elf')), /built for AArch64, not x86-64/],
    ['a relocatable object', (() => { const b = elf({ phdrs: [{ vaddr: 0, memsz: 0x1000 }] }); b.writeUInt16LE(1, 16); return b; })(), /a relocatable object/],
    ['headers cut short', elf({ phdrs: [{ vaddr: 0, memsz: 0x1000 }] }).subarray(0, 100), /truncated ELF file/],
    ['a segment past the end of the file', elf({ phdrs: [{ vaddr: 0, memsz: 0x100000, filesz: 0x100000 }] }), /truncated ELF file \(segment 0 past the end\)/],
    ['no loadable segment', elf({ phdrs: [{ type: 4, vaddr: 0, memsz: 0x1000 }] }), /no loadable segments/],
  ];
  for (const [what, data, re] of cases) {
    const d = root(t);
    interp(d, { data });
    const r = run(d);
    assert.equal(r.status, 126, `${what}: ${r.stderr}`);
    oneLine(r, new RegExp(`^torov: /prog: cannot run the interpreter /lib64/ld-linux-x86-64\\.so\\.2: ${re.source}`));
  }
});

test('an interpreter that is a directory, a FIFO, /dev/zero or not executable: 126 at once (Linux: EACCES)', (t) => {
  const dir = root(t);
  interp(dir, { dir: true });
  oneLine(run(dir), /cannot run the interpreter \/lib64\/ld-linux-x86-64\.so\.2: not a regular file \(EACCES\)/);
  // A FIFO with no writer would block an open for reading forever: it must not hang the VMM.
  const fifo = root(t);
  interp(fifo, { fifo: true });
  const f = run(fifo);
  assert.equal(f.status, 126);
  oneLine(f, /not a regular file \(EACCES\)/);
  const dev = root(t, withInterp('/dev/zero'));
  oneLine(run(dev), /cannot run the interpreter \/dev\/zero: not a regular file \(EACCES\)/);
  if (process.getuid?.() === 0) return;        // root may execute anything: no permission check to see
  const noexec = root(t);
  interp(noexec, { data: fs.readFileSync(INTERP) });
  fs.chmodSync(path.join(noexec, INTERP), 0o644);
  oneLine(run(noexec), /Permission denied/);
});

test('hostile PT_INTERP strings: too long, no NUL, empty, control characters', (t) => {
  const long = run(root(t, withInterpBytes(Buffer.alloc(5000, 0x61))));
  assert.equal(long.status, 126);
  oneLine(long, /^torov: \/prog: bad PT_INTERP \(segment \d+\): 5000 bytes, not 2 to 4096$/m);
  const nonul = run(root(t, withInterpBytes(Buffer.from('/lib64/ld-linux-x86-64.so.2'))));
  assert.equal(nonul.status, 126);
  oneLine(nonul, /bad PT_INTERP \(segment \d+\): the interpreter's path does not end with a NUL byte/);
  const empty = run(root(t, withInterpBytes(Buffer.alloc(2))));
  assert.equal(empty.status, 127);
  oneLine(empty, /the interpreter "" not found/);
  // A path with a newline and an escape sequence is shown quoted, on one line.
  const ctl = run(root(t, withInterp('/lib\n\x1b[31m/ld.so')));
  assert.equal(ctl.status, 127);
  oneLine(ctl, /the interpreter "\/lib\\n\\u001b\[31m\/ld\.so" not found/);
});

test('an interpreter with its own PT_INTERP is loaded as any ELF file, its PT_INTERP ignored (as Linux)', (t) => {
  // hello_dyn as its own interpreter: it starts unrelocated and faults, as on Linux.
  const d = root(t);
  interp(d, { data: HELLO_DYN });
  const r = run(d);
  assert.equal(r.status, 139, r.stderr);
  oneLine(r, /^torov: SIGSEGV: page fault at rip=0x[0-9a-f]+ addr=0x[0-9a-f]+ \(/);
  // A static program as the interpreter simply runs (Linux jumps to the interpreter's entry).
  const s = root(t);
  interp(s, { data: fs.readFileSync(guest('hello')) });
  const ok = run(s);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, 'hello from torov\n');
});

test('interpreters with absurd or overlapping segments: an exec error or a fault, never a VMM crash', (t) => {
  const cases: Array<[string, Buffer, number, RegExp]> = [
    ['a 1 PiB segment', elf({ phdrs: [{ vaddr: 0, memsz: 2 ** 50 }] }), 126, /cannot|does not fit in guest memory/],
    ['a segment linked at 2^52', elf({ code: exitCode(9), entry: 2 ** 52, phdrs: [{ vaddr: 2 ** 52, memsz: 0x1000 }] }), 9, /^$/],
    ['an ET_EXEC interpreter beyond memory', elf({ type: 2, entry: 2 ** 45, phdrs: [{ vaddr: 2 ** 45, memsz: 0x1000 }] }), 126, /beyond guest memory/],
    ['an ET_EXEC interpreter below the lowest address', elf({ type: 2, entry: 0x1000, phdrs: [{ vaddr: 0x1000, memsz: 0x1000 }] }), 126, /below the lowest allowed address/],
    ['an entry point far outside', elf({ entry: 2 ** 50, phdrs: [{ vaddr: 0, memsz: 0x1000 }] }), 126, /entry point 0x[0-9a-f]+ is outside/],
    ['an entry point in no segment', elf({ entry: 0x1000, phdrs: [{ vaddr: 0x10000, memsz: 0x2000 }] }), 139, /SIGSEGV: page fault at rip=0x[0-9a-f]+ addr=0x[0-9a-f]+ \(exec, not mapped\)/],
    ['65535 program headers', (() => { const b = elf({ phdrs: [{ vaddr: 0, memsz: 0x1000 }] }); b.writeUInt16LE(65535, 56); return b; })(), 126, /too many program headers/],
    ['a file size larger than the memory size', elf({ phdrs: [{ vaddr: 0, memsz: 0x10, filesz: 0x1000 }] }), 126, /file size larger than memory size/],
    ['an alignment that is no power of two', elf({ code: exitCode(7), phdrs: [{ vaddr: 0x1000, memsz: 0x1000, align: 12345 }] }), 7, /^$/],
    ['a huge alignment', elf({ code: exitCode(8), phdrs: [{ vaddr: 0x1000, memsz: 0x1000, align: 2 ** 40 }] }), 8, /^$/],
  ];
  for (const [what, data, status, re] of cases) {
    const d = root(t);
    interp(d, { data });
    const r = run(d);
    assert.equal(r.status, status, `${what}: ${r.stderr}`);
    if (status === 0 || status < 126) { assert.equal(r.stderr, '', what); continue; }
    oneLine(r, re);
  }
  // Two segments over the same page, with different bytes: the later one is what the page
  // holds, as Linux maps them one after the other (MAP_FIXED).
  const code = Buffer.alloc(0x2000);
  exitCode(1).copy(code, 0);
  exitCode(42).copy(code, 0x1000);
  const over = root(t);
  interp(over, { data: elf({ code, phdrs: [{ vaddr: 0x1000, memsz: 0x1000, offset: 0x1000 }, { vaddr: 0x1000, memsz: 0x1000, offset: 0x2000 }] }) });
  const r = run(over);
  assert.equal(r.status, 42, r.stderr);
  // An ET_EXEC interpreter that overlaps the program's own image is refused before it runs.
  const clash = root(t, fs.readFileSync(guest('hello_dyn_nopie')));
  interp(clash, { data: elf({ type: 2, entry: 0x401000, phdrs: [{ vaddr: 0x400000, memsz: 0x2000 }] }) });
  const c = run(clash);
  assert.equal(c.status, 126);
  oneLine(c, /the interpreter \/lib64\/ld-linux-x86-64\.so\.2 \(0x400000-0x402000\) overlaps memory already mapped/);
});

/** A hand-made shared object: elf() with a PT_DYNAMIC (an empty dynamic section, at 0x1800 of the first page). */
function lib(phdrs: Array<{ vaddr: number; memsz: number; offset?: number; flags?: number }>): Buffer {
  const b = elf({ phdrs: [...phdrs.map((p) => ({ ...p, offset: p.offset ?? 0 })), { type: 2, flags: 6, offset: 0x1800, vaddr: 0x1800, filesz: 16, memsz: 16, align: 8 }] });
  b.fill(0, 0x1000);
  return b;
}

test('a library with absurd or overlapping segments: the loader refuses it or the program faults, as natively', (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-badlib-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  // Each library once, in its own python3 (-u: what it printed before a fault is kept).
  const script = 'import ctypes, sys\ntry:\n  ctypes.CDLL(sys.argv[1]); print("loaded")\nexcept OSError as e:\n  print("refused:", str(e).split(": ")[-1])';
  const both = (name: string, data: Buffer) => {
    const f = path.join(d, `${name}.so`);
    fs.writeFileSync(f, data);
    const n = spawnSync('/usr/bin/python3', ['-u', '-c', script, f], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    const v = torov(['run', '--rootfs', '/', '/usr/bin/python3', '-u', '-c', script, f]);
    assert.notEqual(v.status, 125, v.stderr);
    assert.doesNotMatch(v.stderr, /internal error|killed by/);
    return { n: { status: n.status ?? 128 + (n.signal === 'SIGSEGV' ? 11 : 0), stdout: n.stdout }, v };
  };
  // A 64 TiB segment: mapping it fails (ENOMEM), natively too.
  const huge = both('huge', lib([{ vaddr: 0, memsz: 2 ** 46, flags: 6 }]));
  assert.deepEqual([huge.v.status, huge.v.stdout], [huge.n.status, huge.n.stdout]);
  assert.equal(huge.v.stdout, 'refused: failed to map segment from shared object\n');
  // Segments over each other: mapped in order; the empty dynamic section then makes
  // glibc's loader fault, natively and in torov alike.
  const over = both('overlap', lib([{ vaddr: 0, memsz: 0x3000, flags: 5 }, { vaddr: 0x1000, memsz: 0x1000, flags: 6 }]));
  assert.equal(over.v.status, over.n.status);
  assert.equal(over.v.status, 139);
  oneLine(over.v, /^torov: SIGSEGV: page fault at rip=0x[0-9a-f]+ addr=0x[0-9a-f]+ \(read, not mapped\)$/m);
  // Segments 1 TiB long or 32 TiB apart: the host's address space holds them and the
  // guest's (its window: --memory and 4 GiB more) does not, so here the loader's first
  // mmap fails with ENOMEM, where natively a later step fails (or the empty dynamic
  // section faults): a refusal either way.
  for (const [name, segs] of [['bss1t', [{ vaddr: 0, memsz: 0x2000, flags: 5 }, { vaddr: 0x2000, memsz: 2 ** 40, flags: 6 }]],
    ['far', [{ vaddr: 0, memsz: 0x2000, flags: 5 }, { vaddr: 2 ** 45, memsz: 0x1000, flags: 6 }]]] as const) {
    const r = both(name, lib([...segs]));
    assert.equal(r.v.status, 0, `${name}: ${r.v.stderr}`);
    assert.equal(r.v.stdout, 'refused: failed to map segment from shared object\n', name);
    assert.equal(r.v.stderr, '');
  }
});

test('a library truncated while mapped: EFAULT for syscalls, SIGBUS for the program, as natively; the VMM lives', (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-trunc-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  const lib = path.join(d, 'lib.so');
  for (const [mode, status] of [['syscalls', 0], ['touch', 135], ['exec', 135]] as const) {
    fs.copyFileSync('/lib/x86_64-linux-gnu/libc.so.6', lib);
    const native = spawnSync(guest('trunc_map'), [mode, lib], { encoding: 'utf8' });
    fs.copyFileSync('/lib/x86_64-linux-gnu/libc.so.6', lib);
    const r = torov(['run', guest('trunc_map'), mode, lib]);
    assert.equal(native.status ?? 128 + (native.signal === 'SIGBUS' ? 7 : 0), status, `natively: ${mode}`);
    assert.equal(r.status, status, `${mode}: ${r.stderr}`);
    assert.equal(r.stdout, native.stdout, mode);
    if (status === 0) {
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /open of a path in a lost page: -1 EFAULT/);
    } else {
      oneLine(r, /^torov: SIGBUS: bus error at rip=0x[0-9a-f]+ addr=0x[0-9a-f]+ \(guest memory no longer backed: a mapped file was truncated, or its file system is full\)$/m);
    }
  }
});
