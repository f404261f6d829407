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
import { spawnSync } from '../helpers';
import { decode, memoryCandidates } from '../../src/machine/x86-decode';
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

test('memory candidates: ModRM/SIB, rip-relative, fs:, moffs, string instructions, VEX and EVEX operands', () => {
  // rax=0x1000 rcx=0x10 rdx=0 rbx=0x2000 rsp=0x8000 rbp=0 rsi=0x3000 rdi=0x4000, r8..r15 = 0x100 * n
  const R = [0x1000n, 0x10n, 0n, 0x2000n, 0x8000n, 0n, 0x3000n, 0x4000n, 0x800n, 0x900n, 0xa00n, 0xb00n, 0xc00n, 0xd00n, 0xe00n, 0xf00n];
  const c = (hex: string, rip = 0x400000) => memoryCandidates(Buffer.from(hex.replace(/ /g, ''), 'hex'), rip, (i) => R[i]!, 0x70000n, 0x90000n)
    .map((a) => '0x' + a.toString(16));
  const STACK = ['0x8000', '0x7ff8'];
  assert.deepEqual(c('8a 00'), ['0x1000', ...STACK]);                             // mov (%rax), %al
  assert.deepEqual(c('c6 40 05 01'), ['0x1005', ...STACK]);                       // movb $1, 5(%rax)
  assert.deepEqual(c('8b 44 8b 10'), ['0x2050', ...STACK]);                       // mov 0x10(%rbx,%rcx,4), %eax
  assert.deepEqual(c('41 8b 40 08'), ['0x808', ...STACK]);                        // mov 8(%r8), %eax (REX.B)
  assert.deepEqual(c('42 8b 04 0b'), ['0x2900', ...STACK]);                       // mov (%rbx,%r9), %eax (REX.X)
  assert.deepEqual(c('8b 04 25 00 10 40 00'), ['0x401000', ...STACK]);            // mov 0x401000, %eax (SIB, no base)
  assert.deepEqual(c('8b 05 10 00 00 00'), ['0x400016', ...STACK]);               // mov 0x10(%rip), %eax
  assert.deepEqual(c('64 8b 04 25 28 00 00 00'), ['0x70028', ...STACK]);          // mov %fs:0x28, %eax
  assert.deepEqual(c('67 8b 00'), ['0x1000', ...STACK]);                          // mov (%eax), %eax
  assert.deepEqual(c('f3 a4'), ['0x3000', '0x4000', ...STACK]);                   // rep movsb
  assert.deepEqual(c('f3 aa'), ['0x4000', ...STACK]);                             // rep stosb
  assert.deepEqual(c('a1 00 20 00 00 00 00 00 00'), ['0x2000', ...STACK]);        // movabs 0x2000, %eax
  assert.deepEqual(c('c5 fe 6f 07'), ['0x4000', ...STACK]);                       // vmovdqu (%rdi), %ymm0
  assert.deepEqual(c('c4 c1 7e 6f 40 20'), ['0x820', ...STACK]);                  // vmovdqu 0x20(%r8), %ymm0 (VEX.B)
  assert.deepEqual(c('62 f1 fe 48 6f 47 01').slice(0, 7),                         // vmovdqu64 disp8*N(%rdi), %zmm0
    ['0x4001', '0x4002', '0x4004', '0x4008', '0x4010', '0x4020', '0x4040']);
  assert.deepEqual(c('f0 83 00 01'), ['0x1000', ...STACK]);                       // lock addl $1, (%rax)
  assert.deepEqual(c('50'), STACK);                                               // push %rax
  assert.deepEqual(c('89 c0'), STACK);                                            // mov %eax, %eax: no memory operand
});
