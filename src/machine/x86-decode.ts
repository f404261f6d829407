/**
 * An x86-64 instruction *length* decoder: how long an instruction is, whether it transfers
 * control (and where), and whether it addresses memory relative to rip. That is all the
 * syscall-site rewriter (src/vmm/rewrite.ts) needs to prove a rewrite safe; it does not
 * know what instructions do. Anything it does not recognise is `undefined`, and the caller
 * then leaves the code alone. Checked against objdump on whole binaries
 * (test/unit/x86-decode.test.ts).
 */

export type InsnKind =
  | 'plain'      // falls through to the next instruction
  | 'jmp'        // direct jump (target)
  | 'jcc'        // conditional direct jump, loop/jrcxz, xbegin (target, or falls through)
  | 'call'       // direct call (target)
  | 'ret'        // ret, retf, iret
  | 'ind-jmp'    // jmp through a register or memory (jump tables, tail calls)
  | 'ind-call'   // call through a register or memory
  | 'syscall'    // 0f 05
  | 'stop';      // ud2, int3, hlt: never falls through in compiled code

export interface Insn {
  len: number;
  kind: InsnKind;
  /** Target address of a direct jump or call. */
  target?: number;
  /** It has a rip-relative memory operand (so it cannot be moved elsewhere as is). */
  ripRel: boolean;
}

// One-byte opcode map. M: has a ModRM byte. Immediate: 1, 2, 4 = imm8/16/32, Z = 16 or 32
// by operand size, V = 16/32/64 (mov r, imm), O = a moffs, X = invalid in 64-bit mode.
const M = 0x100, I8 = 1, I16 = 2, Z = 4, V = 8, O = 16, X = 32, I16_8 = 64;
const ONE = new Uint16Array(256);
(() => {
  for (let row = 0; row < 8; row++) {
    const b = row * 8;
    ONE[b] = ONE[b + 1] = ONE[b + 2] = ONE[b + 3] = M;
    ONE[b + 4] = I8; ONE[b + 5] = Z;
    if (row < 4) { ONE[b + 6] = X; ONE[b + 7] = X; }
    else ONE[b + 7] = X;                        // daa, das, aaa, aas (b+6 are prefixes)
  }
  ONE[0x0f] = X;                                // handled separately (two-byte map)
  ONE[0x60] = X; ONE[0x61] = X; ONE[0x63] = M;
  ONE[0x68] = Z; ONE[0x69] = M | Z; ONE[0x6a] = I8; ONE[0x6b] = M | I8;
  for (let b = 0x70; b <= 0x7f; b++) ONE[b] = I8;   // jcc rel8
  ONE[0x80] = M | I8; ONE[0x81] = M | Z; ONE[0x82] = X; ONE[0x83] = M | I8;
  for (let b = 0x84; b <= 0x8f; b++) ONE[b] = M;
  ONE[0x9a] = X;
  ONE[0xa0] = ONE[0xa1] = ONE[0xa2] = ONE[0xa3] = O;
  ONE[0xa8] = I8; ONE[0xa9] = Z;
  for (let b = 0xb0; b <= 0xb7; b++) ONE[b] = I8;
  for (let b = 0xb8; b <= 0xbf; b++) ONE[b] = V;
  ONE[0xc0] = M | I8; ONE[0xc1] = M | I8; ONE[0xc2] = I16;
  ONE[0xc6] = M | I8; ONE[0xc7] = M | Z; ONE[0xc8] = I16_8; ONE[0xca] = I16; ONE[0xcd] = I8; ONE[0xce] = X;
  ONE[0xd0] = ONE[0xd1] = ONE[0xd2] = ONE[0xd3] = M;
  ONE[0xd4] = X; ONE[0xd5] = X; ONE[0xd6] = X;
  for (let b = 0xd8; b <= 0xdf; b++) ONE[b] = M;
  for (let b = 0xe0; b <= 0xe7; b++) ONE[b] = I8;   // loop*, jrcxz, in/out imm8
  ONE[0xe8] = Z; ONE[0xe9] = Z; ONE[0xea] = X; ONE[0xeb] = I8;
  ONE[0xf6] = M; ONE[0xf7] = M; ONE[0xfe] = M; ONE[0xff] = M;
})();

/** Two-byte (0f xx) opcodes without a ModRM byte. */
const TWO_NO_MODRM = new Set([0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37, 0x77,
  0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf]);
/** Two-byte opcodes with an imm8 after the ModRM byte. */
const TWO_IMM8 = new Set([0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6]);

function isLegacyPrefix(b: number): boolean {
  return b === 0x66 || b === 0x67 || b === 0xf0 || b === 0xf2 || b === 0xf3 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0x26 || b === 0x64 || b === 0x65;
}

/** Bytes of a ModRM operand (ModRM, SIB, displacement), and whether it is rip-relative. */
function modrmLen(code: Uint8Array, p: number): { len: number; ripRel: boolean; reg: number; modrm: number } | undefined {
  if (p >= code.length) return undefined;
  const m = code[p]!, mod = m >> 6, rm = m & 7, reg = (m >> 3) & 7;
  if (mod === 3) return { len: 1, ripRel: false, reg, modrm: m };
  let len = 1, ripRel = false;
  if (rm === 4) {
    if (p + 1 >= code.length) return undefined;
    len++;
    if (mod === 0 && (code[p + 1]! & 7) === 5) len += 4;
  } else if (mod === 0 && rm === 5) { len += 4; ripRel = true; }
  if (mod === 1) len += 1; else if (mod === 2) len += 4;
  return { len, ripRel, reg, modrm: m };
}

const s8 = (b: number) => (b << 24) >> 24;

/**
 * Decodes the instruction at `code[off]`, which is at guest address `addr`. Undefined when
 * the bytes are not an instruction it knows (or run past the end of `code`).
 */
export function decode(code: Uint8Array, off: number, addr: number): Insn | undefined {
  let p = off, op16 = false, addr32 = false, rexW = false, repne = false;
  for (let n = 0; ; n++) {
    if (p >= code.length || n > 14) return undefined;
    const b = code[p]!;
    if (isLegacyPrefix(b)) { if (b === 0x66) op16 = true; if (b === 0x67) addr32 = true; if (b === 0xf2) repne = true; rexW = false; p++; continue; }
    if ((b & 0xf0) === 0x40) { rexW = (b & 8) !== 0; p++; continue; }
    break;
  }
  const done = (end: number, kind: InsnKind, ripRel = false, target?: number): Insn | undefined => {
    if (end > code.length || end - off > 15) return undefined;
    return target === undefined ? { len: end - off, kind, ripRel } : { len: end - off, kind, ripRel, target };
  };
  const b = code[p++]!;

  // VEX (c4, c5) and EVEX (62): in 64-bit mode these bytes are always these prefixes.
  if (b === 0xc4 || b === 0xc5 || b === 0x62) {
    let map: number;
    if (b === 0xc5) { map = 1; p += 1; }
    else if (b === 0xc4) { if (p >= code.length) return undefined; map = code[p]! & 0x1f; p += 2; }
    else { if (p >= code.length) return undefined; map = code[p]! & 7; p += 3; }
    if (p >= code.length || map < 1 || map > 3) return undefined;
    const o = code[p++]!;
    if (b !== 0x62 && map === 1 && o === 0x77) return done(p, 'plain');       // vzeroupper / vzeroall
    const mr = modrmLen(code, p);
    if (!mr) return undefined;
    p += mr.len;
    if (map === 3 || (map === 1 && TWO_IMM8.has(o))) p += 1;
    return done(p, 'plain', mr.ripRel);
  }

  if (b === 0x0f) {
    if (p >= code.length) return undefined;
    const o = code[p++]!;
    if (o === 0x0f) return undefined;                                        // 3DNow!
    if (o === 0x38 || o === 0x3a) {
      if (p >= code.length) return undefined;
      p++;
      const mr = modrmLen(code, p);
      if (!mr) return undefined;
      return done(p + mr.len + (o === 0x3a ? 1 : 0), 'plain', mr.ripRel);
    }
    if (o >= 0x80 && o <= 0x8f) {                                            // jcc rel32
      if (p + 4 > code.length) return undefined;
      const rel = code[p]! | (code[p + 1]! << 8) | (code[p + 2]! << 16) | (code[p + 3]! << 24);
      const end = p + 4;
      return done(end, 'jcc', false, addr + (end - off) + rel);
    }
    if (TWO_NO_MODRM.has(o)) {
      const kind: InsnKind = o === 0x05 ? 'syscall' : o === 0x0b || o === 0x07 ? 'stop' : 'plain';
      return done(p, kind);
    }
    const mr = modrmLen(code, p);
    if (!mr) return undefined;
    // AMD SSE4a extrq/insertq (66/f2 0f 78) carry two imm8; plain 0f 78 is vmread.
    const imm = TWO_IMM8.has(o) ? 1 : o === 0x78 && (op16 || repne) ? 2 : 0;
    return done(p + mr.len + imm, 'plain', mr.ripRel);
  }

  const f = ONE[b]!;
  if (f & X) return undefined;
  // 8f is pop r/m only with ModRM.reg = 0; otherwise it is AMD's XOP prefix: not known here.
  if (b === 0x8f && (p >= code.length || ((code[p]! >> 3) & 7) !== 0)) return undefined;
  let ripRel = false, reg = 0, modrm = -1;
  if (f & M) {
    const mr = modrmLen(code, p);
    if (!mr) return undefined;
    p += mr.len; ripRel = mr.ripRel; reg = mr.reg; modrm = mr.modrm;
  }
  if (f & I8) p += 1;
  if (f & I16) p += 2;
  if (f & I16_8) p += 3;
  if (f & Z) p += op16 && b !== 0xe8 && b !== 0xe9 ? 2 : 4;
  if (f & V) p += rexW ? 8 : op16 ? 2 : 4;
  if (f & O) p += addr32 ? 4 : 8;
  if (b === 0xf6 && reg <= 1) p += 1;                                        // test r/m8, imm8
  if (b === 0xf7 && reg <= 1) p += op16 ? 2 : 4;                             // test r/m, imm
  const len = p - off;
  if (p > code.length) return undefined;
  const rel8 = () => addr + len + s8(code[p - 1]!);
  const rel32 = () => addr + len + (code[p - 4]! | (code[p - 3]! << 8) | (code[p - 2]! << 16) | (code[p - 1]! << 24));
  if (b >= 0x70 && b <= 0x7f) return done(p, 'jcc', false, rel8());
  if (b >= 0xe0 && b <= 0xe3) return done(p, 'jcc', false, rel8());
  if (b === 0xeb) return done(p, 'jmp', false, rel8());
  if (b === 0xe9) return done(p, 'jmp', false, rel32());
  if (b === 0xe8) return done(p, 'call', false, rel32());
  if (b === 0xc7 && modrm === 0xf8) return done(p, 'jcc', false, rel32());  // xbegin
  if (b === 0xc2 || b === 0xc3 || b === 0xca || b === 0xcb || b === 0xcf) return done(p, 'ret');
  if (b === 0xcc || b === 0xf4) return done(p, 'stop');
  if (b === 0xff && (reg === 2 || reg === 3)) return done(p, 'ind-call', ripRel);
  if (b === 0xff && (reg === 4 || reg === 5)) return done(p, 'ind-jmp', ripRel);
  return done(p, 'plain', ripRel);
}

/**
 * The addresses an instruction may touch in memory, for a fault that KVM reports without
 * its address: a guest page whose host backing is gone makes KVM_RUN fail with EFAULT and
 * no address (src/vmm/machine.ts: onBusFault). `reg(n)` reads general register n in the
 * instruction encoding's numbering (0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp, 5 rbp, 6 rsi, 7 rdi,
 * 8-15 r8-r15); `fsBase`/`gsBase` apply to fs:/gs: operands. Candidates, most likely first:
 * the ModRM/SIB operand (an EVEX disp8 in each of its possible scales), a moffs operand,
 * the string instructions' rsi and rdi, and the stack's top (push, pop, call, ret). The
 * caller checks which of them is really unbacked; this never claims to be exact.
 */
export function memoryCandidates(code: Uint8Array, rip: number, reg: (n: number) => bigint, fsBase: bigint, gsBase: bigint): bigint[] {
  const out: bigint[] = [], first: bigint[] = [];
  const M64 = (1n << 64n) - 1n;
  let p = 0, seg = 0n, addr32 = false, rex = 0;
  for (let n = 0; n < 15 && p < code.length; n++) {
    const b = code[p]!;
    if (isLegacyPrefix(b)) { if (b === 0x64) seg = fsBase; if (b === 0x65) seg = gsBase; if (b === 0x67) addr32 = true; rex = 0; p++; continue; }
    if ((b & 0xf0) === 0x40) { rex = b; p++; continue; }
    break;
  }
  if (p >= code.length) return out;
  let X = (rex >> 1) & 1, B = rex & 1, hasModrm = false, evex = false;
  const b = code[p++]!;
  if (b === 0xc5 && p < code.length) { p += 1; X = 0; B = 0; hasModrm = !(code[p] === 0x77); p++; }
  else if (b === 0xc4 && p + 1 < code.length) {
    const p1 = code[p]!; X = (~p1 >> 6) & 1; B = (~p1 >> 5) & 1; p += 2;
    hasModrm = !((p1 & 0x1f) === 1 && code[p] === 0x77); p++;
  } else if (b === 0x62 && p + 2 < code.length) {
    const p0 = code[p]!; X = (~p0 >> 6) & 1; B = (~p0 >> 5) & 1; p += 3; evex = true; hasModrm = true; p++;
  } else if (b === 0x0f) {
    const o = code[p++];
    if (o === 0x38 || o === 0x3a) { p++; hasModrm = true; }
    else if (o !== undefined) hasModrm = !TWO_NO_MODRM.has(o) && !(o >= 0x80 && o <= 0x8f);
  } else {
    hasModrm = (ONE[b]! & M) !== 0;
    const rsi = reg(6), rdi = reg(7);
    const mask = (v: bigint) => (addr32 ? v & 0xffffffffn : v);
    if ((b >= 0xa4 && b <= 0xa7) || b === 0xac || b === 0xad) out.push(mask(rsi) + seg);        // movs, cmps, lods: [rsi]
    if ((b >= 0xa4 && b <= 0xa7) || (b >= 0xaa && b <= 0xaf && b !== 0xac && b !== 0xad)) out.push(mask(rdi)); // movs, cmps, stos, scas: [rdi]
    if (b >= 0xa0 && b <= 0xa3 && p + (addr32 ? 4 : 8) <= code.length) {                          // mov al/eax, moffs
      let a = 0n;
      for (let i = (addr32 ? 4 : 8) - 1; i >= 0; i--) a = (a << 8n) | BigInt(code[p + i]!);
      out.push(a + seg);
    }
    if (b === 0xd7) out.push(mask(reg(3) + (reg(0) & 0xffn)) + seg);                               // xlat
  }
  if (hasModrm && p < code.length) {
    const m = code[p]!, mod = m >> 6, rm = m & 7;
    if (mod !== 3) {
      let q = p + 1, base: bigint | undefined, index = 0n, scale = 1n, disp = 0n, ripRel = false;
      if (rm === 4 && q < code.length) {
        const s = code[q++]!;
        scale = 1n << BigInt(s >> 6);
        const idx = ((s >> 3) & 7) | (X << 3);
        if (idx !== 4) index = reg(idx);
        if ((s & 7) === 5 && mod === 0) { base = 0n; disp = BigInt(readS32(code, q)); q += 4; }
        else base = reg((s & 7) | (B << 3));
      } else if (rm === 5 && mod === 0) { ripRel = true; disp = BigInt(readS32(code, q)); q += 4; }
      else base = reg(rm | (B << 3));
      let disps = [0n];
      if (mod === 1 && q < code.length) {
        const d8 = BigInt(s8(code[q]!));
        disps = evex ? [1n, 2n, 4n, 8n, 16n, 32n, 64n].map((n) => d8 * n) : [d8];
      } else if (mod === 2) disps = [BigInt(readS32(code, q))];
      if (ripRel) {
        const insn = decode(code, 0, rip);
        if (insn) first.push((BigInt(rip + insn.len) + disp + seg) & M64);
      } else {
        for (const d of disps) {
          let a = (base ?? 0n) + index * scale + disp + d;
          if (addr32) a &= 0xffffffffn;
          first.push((a + seg) & M64);
        }
      }
    }
  }
  const rsp = reg(4);
  out.push(rsp, (rsp - 8n) & M64);                                                               // push, pop, call, ret
  return [...first, ...out].map((a) => a & M64);
}

function readS32(code: Uint8Array, q: number): number {
  if (q + 4 > code.length) return 0;
  return code[q]! | (code[q + 1]! << 8) | (code[q + 2]! << 16) | (code[q + 3]! << 24);
}
