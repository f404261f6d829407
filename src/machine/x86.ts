/**
 * x86-64 machine state for a torov guest: the system tables (GDT, IDT, TSS with its I/O
 * bitmap), the stub page, and the vCPU's initial special registers, MSRs, CPUID and XCR0.
 * Constants cite the Intel SDM Vol. 3A; the layout follows platform.md (verified on kvm_pvm).
 */
import { GuestMemory } from './memory';
import { SYS, SEL, PORT_SYSCALL, PORT_FAULT, PORT_NOP, PORT_KICK, PORT_WAIT, PORT_CTX } from './layout';
import { STUB_CODE, STUB_SYSCALL_ENTRY, STUB_SYSCALL_OUT, STUB_VECTORS } from './stub';
import { VcpuFd, Kvm, SREGS, writeSegment, KvmSegment } from '../kvm/kvm';

/** Control register and EFER bits (SDM 2.5, 2.2.1). */
export const CR0_PE = 1, CR0_MP = 2, CR0_ET = 0x10, CR0_NE = 0x20, CR0_WP = 0x10000, CR0_AM = 0x40000, CR0_PG = 0x80000000;
export const CR4_PAE = 0x20, CR4_OSFXSR = 0x200, CR4_OSXMMEXCPT = 0x400, CR4_FSGSBASE = 0x10000, CR4_OSXSAVE = 0x40000;
export const EFER_SCE = 0x1, EFER_LME = 0x100, EFER_LMA = 0x400, EFER_NXE = 0x800;

/** MSR numbers (SDM Vol. 4). */
export const MSR_STAR = 0xc0000081, MSR_LSTAR = 0xc0000082, MSR_CSTAR = 0xc0000083, MSR_SYSCALL_MASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100, MSR_GS_BASE = 0xc0000101, MSR_KERNEL_GS_BASE = 0xc0000102;

/** RFLAGS bits masked on `syscall` (FMASK), as Linux does: TF, DF, IF, IOPL, AC, NT. */
const SYSCALL_MASK = 0x100n | 0x400n | 0x200n | 0x3000n | 0x40000n | 0x4000n;

/** Size of the TSS (SDM 8.7) and of torov's I/O permission bitmap that follows it. */
const TSS_SIZE = 104;
const IOMAP_BYTES = 5;

/** Writes the GDT, IDT, TSS and stub into the system area. */
export function writeSystemTables(mem: GuestMemory): void {
  const d = mem.sysDv;
  // GDT (Linux-like; SDM 3.4.5): flat 64-bit code and data descriptors.
  const gdt = SYS.GDT;
  const desc = (sel: number, hi: number, lo: number) => { d.setUint32(gdt + sel, lo, true); d.setUint32(gdt + sel + 4, hi, true); };
  desc(SEL.KERNEL_CS, 0x00af9a00, 0x0000ffff);   // code, DPL0, L=1
  desc(SEL.KERNEL_DS, 0x00cf9200, 0x0000ffff);   // data, DPL0
  desc(SEL.USER_CS32 & ~3, 0x00cffa00, 0x0000ffff); // code32, DPL3 (unused; keeps STAR's layout)
  desc(SEL.USER_DS & ~3, 0x00cff200, 0x0000ffff);   // data, DPL3
  desc(SEL.USER_CS & ~3, 0x00affa00, 0x0000ffff);   // code, DPL3, L=1
  // 16-byte TSS descriptor (SDM 8.2.3): type 0x9 (available 64-bit TSS), present.
  const tssVa = mem.sysVa(SYS.TSS), limit = TSS_SIZE + IOMAP_BYTES - 1;
  d.setUint32(gdt + SEL.TSS, ((tssVa & 0xffff) << 16) | limit, true);
  d.setUint32(gdt + SEL.TSS + 4, (Math.floor(tssVa / 2 ** 24) & 0xff) << 24 | 0x8900 | ((Math.floor(tssVa / 2 ** 16)) & 0xff), true);
  d.setUint32(gdt + SEL.TSS + 8, Math.floor(tssVa / 2 ** 32), true);
  d.setUint32(gdt + SEL.TSS + 12, 0, true);

  // TSS: RSP0 and IST1 both point at the exception stack; I/O bitmap right after it.
  const tss = SYS.TSS, xtop = mem.sysVa(SYS.XSTACK_TOP);
  setU64(d, tss + 4, xtop);        // RSP0
  setU64(d, tss + 36, xtop);       // IST1
  d.setUint16(tss + 102, TSS_SIZE, true);   // I/O map base
  // One bit per port, 0 = allowed (SDM 19.5.2): open torov's ports only. The byte
  // after the last one must be 0xFF.
  const iomap = new Uint8Array(IOMAP_BYTES).fill(0xff);
  // Port 0x13 too: ToroV guests use a 4-byte `out %eax, $0x10`, which needs 0x10-0x13 open
  // (an I/O exit to 0x13 itself is refused by the run loop like any unknown port).
  for (const port of [PORT_SYSCALL, PORT_FAULT, PORT_NOP, PORT_SYSCALL + 3, PORT_KICK, PORT_WAIT, PORT_CTX]) iomap[port >> 3]! &= ~(1 << (port & 7));
  mem.sys8.set(iomap, tss + TSS_SIZE);

  // IDT (SDM 6.14.1): 32 interrupt gates, kernel CS, DPL0, IST1, to the stub's vector entries.
  for (let v = 0; v < 32; v++) {
    const target = mem.sysVa(SYS.STUB + STUB_VECTORS + v * 16), e = SYS.IDT + v * 16;
    d.setUint16(e, target & 0xffff, true);
    d.setUint16(e + 2, SEL.KERNEL_CS, true);
    d.setUint8(e + 4, 1);                 // IST1
    d.setUint8(e + 5, 0x8e);              // present, DPL0, 64-bit interrupt gate
    d.setUint16(e + 6, Math.floor(target / 2 ** 16) & 0xffff, true);
    d.setUint32(e + 8, Math.floor(target / 2 ** 32), true);
    d.setUint32(e + 12, 0, true);
  }
  mem.sys8.set(STUB_CODE, SYS.STUB);
}

function setU64(d: DataView, off: number, v: number): void {
  d.setUint32(off, v >>> 0, true);
  d.setUint32(off + 4, Math.floor(v / 2 ** 32), true);
}

function seg(selector: number, code: boolean, dpl: number): KvmSegment {
  return { base: 0n, limit: 0xffffffff, selector, type: code ? 11 : 3, present: 1, dpl, db: code ? 0 : 1, s: 1, l: code ? 1 : 0, g: 1 };
}

/** CPU features torov found for this vCPU, used for auxv (AT_HWCAP) and XCR0. */
export interface CpuFeatures {
  /** CPUID.1:EDX, which Linux reports as AT_HWCAP on x86. */
  hwcap: number;
  xsave: boolean;
  fsgsbase: boolean;
  /** XCR0 bits KVM supports (CPUID.(EAX=0DH,ECX=0):EAX/EDX). */
  xcr0: bigint;
  /** XSAVE state components' size and offset in the standard format (CPUID.(EAX=0DH,ECX=i):EAX/EBX), by component. */
  xcomponents: ReadonlyMap<number, { size: number; offset: number }>;
}

/** The XCR0 torov gives guests: x87, SSE, AVX and AVX-512 state (no MPX, bits 3-4), as far as the CPU has them. */
export function guestXcr0(feat: CpuFeatures): bigint {
  return feat.xsave ? feat.xcr0 & 0xe7n : 3n;
}

/**
 * The XSAVE state components a signal frame saves: the guest's XCR0 (guestXcr0). Except
 * where KVM's CPUID says the CPU has no XSAVE (leaf 1) and yet lists XSAVE components (leaf
 * 0xD): kvm_pvm on an AMD EPYC host does so, and its guests, whose CPUID and XGETBV run
 * natively at CPL3, find and use AVX all the same (KVM_GET_XSAVE returns their YMM state).
 * There the frame saves every user component KVM lists (x87, SSE, AVX, AVX-512, PKRU), or
 * a handler that uses AVX would clobber the interrupted code's upper YMM halves.
 */
export function frameXfeatures(feat: CpuFeatures): bigint {
  return feat.xsave ? guestXcr0(feat) : (feat.xcr0 & 0x2e7n) | 3n;
}

/** The size of the XSAVE area (standard format) holding `features` (default: the guest's XCR0): what a signal frame saves. */
export function xsaveSize(feat: CpuFeatures, features = guestXcr0(feat)): number {
  let size = 512 + 64;                            // legacy region + XSAVE header
  const x = features;
  for (let i = 2; i < 64; i++) {
    if (!(x & (1n << BigInt(i)))) continue;
    const c = feat.xcomponents.get(i);
    if (c) size = Math.max(size, c.offset + c.size);
  }
  return size;
}

/** Reads the features the guest will see out of KVM's supported CPUID. */
export function cpuFeatures(kvm: Kvm): CpuFeatures {
  // The same for every VM of this KVM handle: read once (each Machine asks, a restore too).
  let f = FEATURES.get(kvm);
  if (f === undefined) FEATURES.set(kvm, f = readCpuFeatures(kvm));
  return f;
}
const FEATURES = new WeakMap<Kvm, CpuFeatures>();

function readCpuFeatures(kvm: Kvm): CpuFeatures {
  const c = kvm.supportedCpuid();
  const n = c.readUInt32LE(0);
  let hwcap = 0, xsave = false, fsgsbase = false, xcr0 = 3n;
  const xcomponents = new Map<number, { size: number; offset: number }>();
  for (let i = 0; i < n; i++) {
    const e = 8 + i * 40, fn = c.readUInt32LE(e), idx = c.readUInt32LE(e + 4);
    const ebx = c.readUInt32LE(e + 16), ecx = c.readUInt32LE(e + 20), edx = c.readUInt32LE(e + 24), eax = c.readUInt32LE(e + 12);
    if (fn === 1) { hwcap = edx; xsave = (ecx & (1 << 26)) !== 0; }
    if (fn === 7 && idx === 0) fsgsbase = (ebx & 1) !== 0;
    if (fn === 0xd && idx === 0) xcr0 = BigInt(eax) | (BigInt(edx) << 32n);
    if (fn === 0xd && idx >= 2 && eax > 0) xcomponents.set(idx, { size: eax, offset: ebx });
  }
  return { hwcap: hwcap >>> 0, xsave, fsgsbase, xcr0, xcomponents };
}

/** The last special registers initVcpu made from a reused vCPU's reset state, and what they were made for. */
const MADE_SREGS = new WeakMap<Buffer, { key: readonly (number | bigint | boolean)[]; sregs: Buffer }>();

function sameKey(a: readonly (number | bigint | boolean)[], b: readonly (number | bigint | boolean)[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return a.length === b.length;
}

/**
 * Puts a vCPU in 64-bit long mode at CPL3, at `rip` with stack `rsp`: segments, control
 * registers (paging with NX, SSE and XSAVE enabled), the system tables, the syscall MSRs,
 * CPUID and XCR0.
 */
export function initVcpu(vcpu: VcpuFd, kvm: Kvm, mem: GuestMemory, feat: CpuFeatures, resetSregs?: Buffer, index = 0,
  bases?: { fs: bigint; gs: bigint }, stage = false): void {
  // `stage` (a reused vCPU only): the special registers, and a reset of pending events, go
  // through the kvm_run page into the next KVM_RUN (VcpuFd.stageSregsAndEvents).
  const put = (b: Buffer) => { if (stage && resetSregs) vcpu.stageSregsAndEvents(b); else vcpu.setSregs(b); };
  // A reused vCPU keeps its CPUID (KVM refuses to change it after the first KVM_RUN) and
  // starts from the special registers it had when new, so nothing of the last guest stays.
  if (!resetSregs) vcpu.setCpuid(kvm.supportedCpuid());
  // A reused vCPU's special registers depend only on these: made once per combination
  // (a served program's restores all have the same; building them costs tens of µs of BigInt work).
  const pml4 = mem.sysGpa(mem.vcpuPages(index).pml4);
  const key = resetSregs ? [index, pml4, mem.sysVa(SYS.TSS), mem.sysVa(SYS.GDT), mem.sysVa(SYS.IDT), bases?.fs ?? 0n, bases?.gs ?? 0n, feat.xsave, feat.fsgsbase] : [];
  const made = resetSregs ? MADE_SREGS.get(resetSregs) : undefined;
  if (made && sameKey(made.key, key)) {
    put(made.sregs);
    return;
  }
  const s = resetSregs ? Buffer.from(resetSregs) : vcpu.getSregs();
  writeSegment(s, SREGS.cs, seg(SEL.USER_CS, true, 3));
  for (const off of [SREGS.ds, SREGS.es, SREGS.ss]) writeSegment(s, off, seg(SEL.USER_DS, false, 3));
  // FS and GS with their bases (the same as MSR_FS_BASE/MSR_GS_BASE, which KVM keeps there).
  writeSegment(s, SREGS.fs, { ...seg(SEL.USER_DS, false, 3), base: bases?.fs ?? 0n });
  writeSegment(s, SREGS.gs, { ...seg(SEL.USER_DS, false, 3), base: bases?.gs ?? 0n });
  writeSegment(s, SREGS.tr, { base: BigInt(mem.sysVa(SYS.TSS)), limit: TSS_SIZE + IOMAP_BYTES - 1, selector: SEL.TSS,
    type: 11 /* busy 64-bit TSS */, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0 });
  s.writeBigUInt64LE(BigInt(mem.sysVa(SYS.GDT)), SREGS.gdt);
  s.writeUInt16LE(0x4f, SREGS.gdt + 8);
  s.writeBigUInt64LE(BigInt(mem.sysVa(SYS.IDT)), SREGS.idt);
  s.writeUInt16LE(32 * 16 - 1, SREGS.idt + 8);
  s.writeBigUInt64LE(BigInt(CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG) & 0xffffffffn, SREGS.cr0);
  // Each vCPU has its own page-table root, which maps its own TSS, exception stack and
  // channel page at the shared addresses (layout.ts, VCPU_BLOCK).
  s.writeBigUInt64LE(BigInt(pml4), SREGS.cr3);
  let cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
  if (feat.xsave) cr4 |= CR4_OSXSAVE;
  if (feat.fsgsbase) cr4 |= CR4_FSGSBASE;
  s.writeBigUInt64LE(BigInt(cr4), SREGS.cr4);
  s.writeBigUInt64LE(BigInt(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE), SREGS.efer);
  put(s);
  // A reused vCPU keeps XCR0 and the MSRs below as a new one got them: only xsetbv, wrmsr
  // and swapgs could change them, all privileged, and torov's stub runs none of them. (Its
  // FS/GS bases, which the program changes, were set with the segments above.)
  if (resetSregs) { MADE_SREGS.set(resetSregs, { key, sregs: s }); return; }
  if (feat.xsave) vcpu.setXcr0(guestXcr0(feat));
  vcpu.setMsrs([
    // STAR (SDM 5.8.8): SYSCALL loads CS=0x10/SS=0x18; SYSRET loads CS=0x23+16, SS=0x23+8.
    [MSR_STAR, (0x23n << 48n) | (BigInt(SEL.KERNEL_CS) << 32n)],
    [MSR_LSTAR, BigInt(mem.sysVa(SYS.STUB + STUB_SYSCALL_ENTRY))],
    // A `syscall` from 32-bit compatibility mode would enter at CSTAR at CPL0 (on VMX): point
    // it at the stub's int3 padding, so it faults at once instead of running anything.
    [MSR_CSTAR, BigInt(mem.sysVa(SYS.STUB + STUB_SYSCALL_OUT + 5))],
    [MSR_SYSCALL_MASK, SYSCALL_MASK],
    [MSR_FS_BASE, bases?.fs ?? 0n], [MSR_GS_BASE, bases?.gs ?? 0n], [MSR_KERNEL_GS_BASE, 0n],
  ]);
}
