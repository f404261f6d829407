/**
 * The x86-64 registers as gdb numbers them, the target description that tells gdb so,
 * and the conversion between gdb's register bytes and KVM's structures. Pure.
 *
 * Numbering (it is also the order of the `g` packet): rax rbx rcx rdx rsi rdi rbp rsp
 * r8-r15 (0-15), rip (16), eflags (17, 32 bits), cs ss ds es fs gs (18-23, 32 bits),
 * st0-st7 (24-31, 80 bits), fctrl fstat ftag fiseg fioff foseg fooff fop (32-39), xmm0-15
 * (40-55), mxcsr (56), orig_rax (57), fs_base (58), gs_base (59): the layout gdb itself
 * uses for amd64 GNU/Linux, so its own register names, types and ABI code apply.
 */
import { REGS, SREGS } from '../kvm/kvm';

/** Which KVM structure a register lives in. */
type Source = 'regs' | 'sregs' | 'fpu' | 'none';

export interface RegDef {
  readonly name: string;
  readonly bits: number;
  /** gdb's type name in the target description. */
  readonly type: string;
  readonly group?: string;
  readonly feature: 'core' | 'sse' | 'linux' | 'segments';
  readonly source: Source;
}

const GPR_NAMES = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const SEG_NAMES = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'];
const FPU_CTL_NAMES = ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'];

/** Every register, by gdb register number. */
export const REGISTERS: readonly RegDef[] = [
  ...GPR_NAMES.map((name): RegDef => ({ name, bits: 64, type: name === 'rbp' || name === 'rsp' ? 'data_ptr' : 'int64', feature: 'core', source: 'regs' })),
  { name: 'rip', bits: 64, type: 'code_ptr', feature: 'core', source: 'regs' },
  { name: 'eflags', bits: 32, type: 'i386_eflags', feature: 'core', source: 'regs' },
  ...SEG_NAMES.map((name): RegDef => ({ name, bits: 32, type: 'int32', feature: 'core', source: 'sregs' })),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((i): RegDef => ({ name: `st${i}`, bits: 80, type: 'i387_ext', feature: 'core', source: 'fpu' })),
  ...FPU_CTL_NAMES.map((name): RegDef => ({ name, bits: 32, type: 'int', group: 'float', feature: 'core', source: 'fpu' })),
  ...Array.from({ length: 16 }, (_, i): RegDef => ({ name: `xmm${i}`, bits: 128, type: 'vec128', feature: 'sse', source: 'fpu' })),
  { name: 'mxcsr', bits: 32, type: 'i386_mxcsr', group: 'vector', feature: 'sse', source: 'fpu' },
  { name: 'orig_rax', bits: 64, type: 'int', group: 'system', feature: 'linux', source: 'none' },
  { name: 'fs_base', bits: 64, type: 'int', feature: 'segments', source: 'sregs' },
  { name: 'gs_base', bits: 64, type: 'int', feature: 'segments', source: 'sregs' },
];

export const REG = {
  rsp: 7, rip: 16, eflags: 17, cs: 18, ss: 19, st0: 24, fctrl: 32, xmm0: 40, mxcsr: 56, orig_rax: 57, fs_base: 58, gs_base: 59,
} as const;

/** Byte offset of each register in the `g` packet, and the packet's size. */
export const REG_OFFSETS: readonly number[] = (() => {
  const o: number[] = [];
  let off = 0;
  for (const r of REGISTERS) { o.push(off); off += r.bits / 8; }
  return o;
})();
export const G_PACKET_BYTES = REGISTERS.reduce((n, r) => n + r.bits / 8, 0);

/** kvm_regs offsets for gdb registers 0-16 (kvm's order puts rsp before rbp). */
const KVM_GPR: readonly number[] = [REGS.rax, REGS.rbx, REGS.rcx, REGS.rdx, REGS.rsi, REGS.rdi, REGS.rbp, REGS.rsp,
  REGS.r8, REGS.r9, REGS.r10, REGS.r11, REGS.r12, REGS.r13, REGS.r14, REGS.r15, REGS.rip];
const KVM_SEG: readonly number[] = [SREGS.cs, SREGS.ss, SREGS.ds, SREGS.es, SREGS.fs, SREGS.gs];

/** struct kvm_fpu offsets. */
export const FPU = { fpr: 0, fcw: 128, fsw: 130, ftwx: 132, last_opcode: 134, last_ip: 136, last_dp: 144, xmm: 152, mxcsr: 408 } as const;

/** The vCPU state gdb's registers are made of: struct kvm_regs, kvm_sregs and kvm_fpu. */
export interface CpuState {
  regs: Buffer;
  sregs: Buffer;
  /** undefined when the host cannot report x87/SSE state (those registers read as unavailable). */
  fpu: Buffer | undefined;
}

/**
 * The full x87 tag word (2 bits per physical register: valid, zero, special, empty) from
 * the abridged one FXSAVE keeps (1 bit: not empty) and the register contents.
 */
export function fullTag(fpu: Buffer): number {
  const abridged = fpu[FPU.ftwx]!, top = (fpu.readUInt16LE(FPU.fsw) >> 11) & 7;
  let tag = 0;
  for (let phys = 0; phys < 8; phys++) {
    let t = 3;
    if (abridged & (1 << phys)) {
      const st = (phys - top + 8) & 7, off = FPU.fpr + st * 16;
      const exp = fpu.readUInt16LE(off + 8) & 0x7fff;
      const hi = fpu.readUInt32LE(off + 4), lo = fpu.readUInt32LE(off);
      if (exp === 0x7fff) t = 2;
      else if (exp === 0) t = hi === 0 && lo === 0 ? 1 : 2;
      else t = hi & 0x80000000 ? 0 : 2;
    }
    tag |= t << (2 * phys);
  }
  return tag;
}

/** The abridged tag byte from a full tag word (a register is in use unless tagged empty). */
export function abridgedTag(full: number): number {
  let a = 0;
  for (let phys = 0; phys < 8; phys++) if (((full >> (2 * phys)) & 3) !== 3) a |= 1 << phys;
  return a;
}

/** Register n's bytes (little-endian, gdb's size); undefined if unavailable. */
export function readReg(s: CpuState, n: number): Buffer | undefined {
  const def = REGISTERS[n];
  if (!def) return undefined;
  const out = Buffer.alloc(def.bits / 8);
  if (n <= 16) { s.regs.copy(out, 0, KVM_GPR[n]!, KVM_GPR[n]! + 8); return out; }
  if (n === REG.eflags) { s.regs.copy(out, 0, REGS.rflags, REGS.rflags + 4); return out; }
  if (n >= REG.cs && n < REG.st0) { out.writeUInt32LE(s.sregs.readUInt16LE(KVM_SEG[n - REG.cs]! + 12)); return out; }
  if (n === REG.orig_rax) { out.writeBigInt64LE(-1n); return out; }
  if (n === REG.fs_base) { s.sregs.copy(out, 0, SREGS.fs, SREGS.fs + 8); return out; }
  if (n === REG.gs_base) { s.sregs.copy(out, 0, SREGS.gs, SREGS.gs + 8); return out; }
  const f = s.fpu;
  if (!f) return undefined;
  if (n < REG.fctrl) { f.copy(out, 0, FPU.fpr + (n - REG.st0) * 16, FPU.fpr + (n - REG.st0) * 16 + 10); return out; }
  if (n >= REG.xmm0 && n < REG.mxcsr) { f.copy(out, 0, FPU.xmm + (n - REG.xmm0) * 16, FPU.xmm + (n - REG.xmm0) * 16 + 16); return out; }
  if (n === REG.mxcsr) { f.copy(out, 0, FPU.mxcsr, FPU.mxcsr + 4); return out; }
  const ip = f.readBigUInt64LE(FPU.last_ip), dp = f.readBigUInt64LE(FPU.last_dp);
  const v = [f.readUInt16LE(FPU.fcw), f.readUInt16LE(FPU.fsw), fullTag(f), Number(ip >> 32n) >>> 0, Number(ip & 0xffffffffn),
    Number(dp >> 32n) >>> 0, Number(dp & 0xffffffffn), f.readUInt16LE(FPU.last_opcode) & 0x7ff][n - REG.fctrl]!;
  out.writeUInt32LE(v >>> 0);
  return out;
}

/**
 * Writes register n from gdb's bytes into the state. Returns which structure changed, or
 * undefined if the register cannot be written (segment selectors and orig_rax are
 * accepted and ignored: a program cannot change its code segment either).
 */
export function writeReg(s: CpuState, n: number, bytes: Uint8Array): Source | undefined {
  const def = REGISTERS[n];
  if (!def || bytes.length !== def.bits / 8) return undefined;
  const b = Buffer.from(bytes);
  if (n <= 16) { b.copy(s.regs, KVM_GPR[n]!); return 'regs'; }
  if (n === REG.eflags) { s.regs.writeBigUInt64LE(BigInt(b.readUInt32LE(0)), REGS.rflags); return 'regs'; }
  if (n >= REG.cs && n < REG.st0) return 'none';
  if (n === REG.orig_rax) return 'none';
  if (n === REG.fs_base) { b.copy(s.sregs, SREGS.fs); return 'sregs'; }
  if (n === REG.gs_base) { b.copy(s.sregs, SREGS.gs); return 'sregs'; }
  const f = s.fpu;
  if (!f) return undefined;
  if (n < REG.fctrl) { b.copy(f, FPU.fpr + (n - REG.st0) * 16); return 'fpu'; }
  if (n >= REG.xmm0 && n < REG.mxcsr) { b.copy(f, FPU.xmm + (n - REG.xmm0) * 16); return 'fpu'; }
  if (n === REG.mxcsr) { b.copy(f, FPU.mxcsr); return 'fpu'; }
  const v = b.readUInt32LE(0);
  switch (n - REG.fctrl) {
    case 0: f.writeUInt16LE(v & 0xffff, FPU.fcw); break;
    case 1: f.writeUInt16LE(v & 0xffff, FPU.fsw); break;
    case 2: f[FPU.ftwx] = abridgedTag(v); break;
    case 3: f.writeUInt32LE(v, FPU.last_ip + 4); break;
    case 4: f.writeUInt32LE(v, FPU.last_ip); break;
    case 5: f.writeUInt32LE(v, FPU.last_dp + 4); break;
    case 6: f.writeUInt32LE(v, FPU.last_dp); break;
    default: f.writeUInt16LE(v & 0x7ff, FPU.last_opcode); break;
  }
  return 'fpu';
}

/** The `g` reply: every register in order, `xx` for unavailable bytes. */
export function encodeAll(s: CpuState): string {
  let out = '';
  for (let n = 0; n < REGISTERS.length; n++) {
    const b = readReg(s, n);
    out += b ? b.toString('hex') : 'xx'.repeat(REGISTERS[n]!.bits / 8);
  }
  return out;
}

/**
 * Applies a `G` packet's bytes (a prefix of the `g` layout is accepted, as gdb may send
 * fewer registers). Returns the structures that changed.
 */
export function decodeAll(s: CpuState, bytes: Uint8Array): Set<Source> {
  const changed = new Set<Source>();
  for (let n = 0; n < REGISTERS.length; n++) {
    const off = REG_OFFSETS[n]!, len = REGISTERS[n]!.bits / 8;
    if (off + len > bytes.length) break;
    const src = writeReg(s, n, bytes.subarray(off, off + len));
    if (src) changed.add(src);
  }
  return changed;
}

/**
 * The target description (qXfer:features:read:target.xml). gdb's amd64 support needs
 * the x87 registers in the core feature; when the host cannot report them they read as
 * unavailable (`xx`), the layout stays the same.
 */
export function targetXml(): string {
  const regs = REGISTERS.map((r, n) => ({ r, n }));
  const feature = (name: string, which: RegDef['feature'], types = '') => {
    const rs = regs.filter(({ r }) => r.feature === which);
    if (rs.length === 0) return '';
    return `<feature name="${name}">${types}` + rs.map(({ r, n }) =>
      `<reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${n}"${r.group ? ` group="${r.group}"` : ''}/>`).join('') + '</feature>';
  };
  const flag = (id: string, bits: ReadonlyArray<readonly [number, string]>) =>
    `<flags id="${id}" size="4">` + bits.map(([b, name]) => `<field name="${name}" start="${b}" end="${b}"/>`).join('') + '</flags>';
  const eflags = flag('i386_eflags', [[0, 'CF'], [1, ''], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [9, 'IF'],
    [10, 'DF'], [11, 'OF'], [14, 'NT'], [16, 'RF'], [17, 'VM'], [18, 'AC'], [19, 'VIF'], [20, 'VIP'], [21, 'ID']]);
  const mxcsr = flag('i386_mxcsr', [[0, 'IE'], [1, 'DE'], [2, 'ZE'], [3, 'OE'], [4, 'UE'], [5, 'PE'], [6, 'DAZ'], [7, 'IM'],
    [8, 'DM'], [9, 'ZM'], [10, 'OM'], [11, 'UM'], [12, 'PM'], [15, 'FZ']]);
  const vec = '<vector id="v4f" type="ieee_single" count="4"/><vector id="v2d" type="ieee_double" count="2"/>' +
    '<vector id="v16i8" type="int8" count="16"/><vector id="v8i16" type="int16" count="8"/>' +
    '<vector id="v4i32" type="int32" count="4"/><vector id="v2i64" type="int64" count="2"/>' +
    '<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>' +
    '<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>' +
    '<field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/></union>';
  return '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">' +
    '<architecture>i386:x86-64</architecture><osabi>GNU/Linux</osabi>' +
    feature('org.gnu.gdb.i386.core', 'core', eflags) +
    feature('org.gnu.gdb.i386.sse', 'sse', vec + mxcsr) +
    feature('org.gnu.gdb.i386.linux', 'linux') +
    feature('org.gnu.gdb.i386.segments', 'segments') +
    '</target>';
}
