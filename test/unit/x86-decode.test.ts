/**
 * The x86-64 length decoder against objdump: every instruction of whole static binaries
 * (musl, glibc, busybox) must decode to the same length, and every direct branch to the
 * same target. Where the decoder gives up (undefined) the rewriter leaves the code alone,
 * which is safe; those cases are counted and must stay rare.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { decode } from '../../src/machine/x86-decode';
import { parseElf, parseEhFrame } from '../../src/elf/elf';

const ROOT = path.join(__dirname, '..', '..', '..');
const GUESTS = path.join(ROOT, 'test', 'guests');

/** objdump's instruction starts (address -> length and text) of a binary's executable sections. */
function objdump(file: string): Map<number, { len: number; text: string }> {
  const r = spawnSync('objdump', ['-d', '-w', '--no-show-raw-insn', '--insn-width=16', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const raw = spawnSync('objdump', ['-d', '-w', '--insn-width=16', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0);
  const out = new Map<number, { len: number; text: string }>();
  for (const line of raw.stdout.split('\n')) {
    const m = /^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t(.*)$/.exec(line);
    if (m) out.set(parseInt(m[1]!, 16), { len: m[2]!.trim().split(' ').length, text: m[3]! });
  }
  return out;
}

function check(file: string, t: { diagnostic(s: string): void }): void {
  const image = fs.readFileSync(file);
  const elf = parseElf(image);
  const ref = objdump(file);
  let n = 0, unknown = 0, mismatches: string[] = [];
  for (const p of elf.phdrs) {
    if (p.type !== 1 || !(p.flags & 1)) continue;
    const code = image.subarray(p.offset, p.offset + p.filesz);
    for (const [addr, want] of ref) {
      if (addr < p.vaddr || addr >= p.vaddr + p.filesz) continue;
      n++;
      const got = decode(code, addr - p.vaddr, addr);
      if (!got) { if (!/\(bad\)/.test(want.text)) unknown++; continue; }
      if (got.len !== want.len) { mismatches.push(`${addr.toString(16)}: length ${got.len}, objdump ${want.len}: ${want.text}`); continue; }
      const tm = /^(?:bnd |notrack )?(?:j\w+|call|loop\w*|jrcxz|xbegin)\s+([0-9a-f]+)\b/.exec(want.text);
      if (tm && got.target !== undefined && got.target !== parseInt(tm[1]!, 16)) mismatches.push(`${addr.toString(16)}: target ${got.target.toString(16)}: ${want.text}`);
      if (tm && got.target === undefined && !/\*/.test(want.text)) mismatches.push(`${addr.toString(16)}: no target: ${want.text}`);
      if (/\(%rip\)/.test(want.text) !== got.ripRel) mismatches.push(`${addr.toString(16)}: ripRel ${got.ripRel}: ${want.text}`);
    }
  }
  t.diagnostic(`${path.basename(file)}: ${n} instructions, ${unknown} not decoded`);
  assert.deepEqual(mismatches.slice(0, 10), []);
  assert.ok(n > 1000, `${file}: too few instructions (${n})`);
  assert.ok(unknown <= n / 1000, `${file}: ${unknown} of ${n} instructions not decoded`);
}

const HAVE_OBJDUMP = spawnSync('objdump', ['--version']).status === 0;

for (const name of ['hello', 'hello_glibc', 'gdb_demo']) {
  test(`decoder agrees with objdump on test/guests/${name}`, { skip: !HAVE_OBJDUMP && 'objdump (binutils) is not installed' }, (t) => {
    check(path.join(GUESTS, name), t);
  });
}

test('decoder agrees with objdump on busybox', { skip: (!HAVE_OBJDUMP && 'objdump (binutils) is not installed') || (!fs.existsSync('/bin/busybox') && 'busybox-static is not installed') }, (t) => {
  check('/bin/busybox', t);
});

test('decoder: lengths, branches and rip-relative operands of hand-picked instructions', () => {
  const d = (hex: string, addr = 0x1000) => decode(Buffer.from(hex.replace(/ /g, ''), 'hex'), 0, addr);
  assert.deepEqual(d('0f 05'), { len: 2, kind: 'syscall', ripRel: false });
  assert.deepEqual(d('b8 27 00 00 00'), { len: 5, kind: 'plain', ripRel: false });
  assert.deepEqual(d('48 b8 01 02 03 04 05 06 07 08'), { len: 10, kind: 'plain', ripRel: false });   // movabs
  assert.deepEqual(d('66 b8 01 02'), { len: 4, kind: 'plain', ripRel: false });                      // mov $imm16, %ax
  assert.deepEqual(d('48 8d 0d 10 00 00 00'), { len: 7, kind: 'plain', ripRel: true });             // lea 0x10(%rip), %rcx
  assert.deepEqual(d('4c 8b 4c 24 08'), { len: 5, kind: 'plain', ripRel: false });                  // mov 0x8(%rsp), %r9
  assert.deepEqual(d('eb fe'), { len: 2, kind: 'jmp', ripRel: false, target: 0x1000 });
  assert.deepEqual(d('e8 00 00 00 00'), { len: 5, kind: 'call', ripRel: false, target: 0x1005 });
  assert.deepEqual(d('0f 84 fa ff ff ff'), { len: 6, kind: 'jcc', ripRel: false, target: 0x1000 });
  assert.deepEqual(d('ff e0'), { len: 2, kind: 'ind-jmp', ripRel: false });                         // jmp *%rax
  assert.deepEqual(d('ff 24 c5 00 10 40 00'), { len: 7, kind: 'ind-jmp', ripRel: false });          // jmp *0x401000(,%rax,8)
  assert.deepEqual(d('c3'), { len: 1, kind: 'ret', ripRel: false });
  assert.deepEqual(d('c5 f8 77'), { len: 3, kind: 'plain', ripRel: false });                        // vzeroupper
  assert.deepEqual(d('c4 e3 79 16 c0 01'), { len: 6, kind: 'plain', ripRel: false });               // vpextrd $1, %xmm0, %eax
  assert.deepEqual(d('62 f1 fe 48 6f 05 00 00 00 00'), { len: 10, kind: 'plain', ripRel: true });   // vmovdqu64 0(%rip), %zmm0
  assert.equal(d('0f'), undefined);                                                                 // truncated
  assert.equal(d('06'), undefined);                                                                 // push %es: invalid in 64-bit mode
  assert.equal(d('f7 05 00 00 00 00 01 00 00 00')?.len, 10);                                        // testl $1, 0(%rip)
});

test('.eh_frame function ranges of a stripped glibc binary start and end on instruction boundaries', { skip: !HAVE_OBJDUMP && 'objdump (binutils) is not installed' }, () => {
  const file = path.join(GUESTS, 'hello_glibc');
  const ref = objdump(file);
  const fdes = parseEhFrame(fs.readFileSync(file));
  assert.ok(fdes.length > 500, `${fdes.length} FDEs`);
  const bad = fdes.filter((f) => !ref.has(f.value)).map((f) => f.value.toString(16));
  assert.deepEqual(bad.slice(0, 10), []);
});
