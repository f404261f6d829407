/**
 * KVM API bindings: ioctl numbers, struct layouts and thin wrappers over the /dev/kvm,
 * VM and vCPU file descriptors. Numbers and offsets come from <linux/kvm.h> and
 * <asm/kvm.h> for x86-64; each struct has a size test in test/unit/kvm-layout.test.ts.
 */
import { ioctlInt, ioctlPtr, errno, sys, NR, viewOf, addressOf } from '../host/libc';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../linux/mman';
import { O_CLOEXEC, O_RDWR } from '../linux/fcntl';
import { EINTR } from '../linux/errno';

// ioctl numbers: _IO(KVMIO=0xAE, n) and _IOR/_IOW/_IOWR with the struct size.
export const KVM_GET_API_VERSION = 0xae00;
export const KVM_CREATE_VM = 0xae01;
export const KVM_CHECK_EXTENSION = 0xae03;
export const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
export const KVM_GET_SUPPORTED_CPUID = 0xc008ae05;   // _IOWR(0xAE, 0x05, struct kvm_cpuid2)
export const KVM_CREATE_VCPU = 0xae41;
export const KVM_SET_USER_MEMORY_REGION = 0x4020ae46; // _IOW(0xAE, 0x46, struct kvm_userspace_memory_region)
export const KVM_RUN = 0xae80;
export const KVM_GET_REGS = 0x8090ae81;              // _IOR(0xAE, 0x81, struct kvm_regs)
export const KVM_SET_REGS = 0x4090ae82;
export const KVM_GET_SREGS = 0x8138ae83;             // _IOR(0xAE, 0x83, struct kvm_sregs)
export const KVM_SET_SREGS = 0x4138ae84;
export const KVM_SET_MSRS = 0x4008ae89;              // _IOW(0xAE, 0x89, struct kvm_msrs)
export const KVM_GET_MSRS = 0xc008ae88;              // _IOWR(0xAE, 0x88, struct kvm_msrs)
export const KVM_GET_TSC_KHZ = 0xaea3;               // _IO(0xAE, 0xa3): the vCPU's TSC frequency
export const KVM_SET_CPUID2 = 0x4008ae90;            // _IOW(0xAE, 0x90, struct kvm_cpuid2)
export const KVM_SET_XCRS = 0x4188aea7;              // _IOW(0xAE, 0xa7, struct kvm_xcrs)
export const KVM_SET_XSAVE = 0x5000aea5;             // _IOW(0xAE, 0xa5, struct kvm_xsave), 4096 bytes
export const KVM_GET_XSAVE = 0x9000aea4;             // _IOR(0xAE, 0xa4, struct kvm_xsave)
export const KVM_XSAVE_SIZE = 4096;
export const KVM_SET_VCPU_EVENTS = 0x4040aea0;       // _IOW(0xAE, 0xa0, struct kvm_vcpu_events), 64 bytes
export const KVM_SET_DEBUGREGS = 0x4080aea2;         // _IOW(0xAE, 0xa2, struct kvm_debugregs), 128 bytes
export const KVM_GET_DEBUGREGS = 0x8080aea1;         // _IOR(0xAE, 0xa1, struct kvm_debugregs)
export const KVM_SET_GUEST_DEBUG = 0x4048ae9b;       // _IOW(0xAE, 0x9b, struct kvm_guest_debug), 72 bytes
export const KVM_GET_FPU = 0x81a0ae8c;               // _IOR(0xAE, 0x8c, struct kvm_fpu), 416 bytes
export const KVM_SET_FPU = 0x41a0ae8d;               // _IOW(0xAE, 0x8d, struct kvm_fpu)
export const KVM_FPU_SIZE = 416;

/** struct kvm_guest_debug.control bits (<linux/kvm.h>, <asm/kvm.h>). */
export const KVM_GUESTDBG_ENABLE = 0x1, KVM_GUESTDBG_SINGLESTEP = 0x2,
  KVM_GUESTDBG_USE_SW_BP = 0x10000, KVM_GUESTDBG_USE_HW_BP = 0x20000;

export const KVM_API_VERSION = 12;
export const KVM_CAP_SYNC_REGS = 74;
export const KVM_SYNC_X86_REGS = 1;
export const KVM_SYNC_X86_SREGS = 2;
export const KVM_SYNC_X86_EVENTS = 4;

/** KVM_EXIT_* reasons (<linux/kvm.h>). */
export const KVM_EXIT_UNKNOWN = 0, KVM_EXIT_EXCEPTION = 1, KVM_EXIT_IO = 2, KVM_EXIT_HYPERCALL = 3,
  KVM_EXIT_DEBUG = 4, KVM_EXIT_HLT = 5, KVM_EXIT_MMIO = 6, KVM_EXIT_SHUTDOWN = 8, KVM_EXIT_FAIL_ENTRY = 9,
  KVM_EXIT_INTR = 10, KVM_EXIT_INTERNAL_ERROR = 17, KVM_EXIT_SYSTEM_EVENT = 24;

/** Names for messages about unexpected exits. */
export const EXIT_NAMES: Readonly<Record<number, string>> = {
  0: 'KVM_EXIT_UNKNOWN', 1: 'KVM_EXIT_EXCEPTION', 2: 'KVM_EXIT_IO', 3: 'KVM_EXIT_HYPERCALL', 4: 'KVM_EXIT_DEBUG',
  5: 'KVM_EXIT_HLT', 6: 'KVM_EXIT_MMIO', 8: 'KVM_EXIT_SHUTDOWN', 9: 'KVM_EXIT_FAIL_ENTRY', 10: 'KVM_EXIT_INTR',
  17: 'KVM_EXIT_INTERNAL_ERROR', 24: 'KVM_EXIT_SYSTEM_EVENT',
};

/**
 * struct kvm_run offsets. The `s.regs` area (struct kvm_sync_regs) starts at 304:
 * kvm_regs (144 bytes) then kvm_sregs (312 bytes).
 */
export const RUN = {
  immediate_exit: 1,
  exit_reason: 8,
  io_direction: 32, io_size: 33, io_port: 34, io_count: 36, io_data_offset: 40,
  fail_entry_reason: 32,
  internal_suberror: 32,
  /** KVM_EXIT_DEBUG: struct kvm_debug_exit_arch {exception, pad, pc, dr6, dr7}. */
  debug_exception: 32, debug_pc: 40, debug_dr6: 48, debug_dr7: 56,
  kvm_valid_regs: 288,
  kvm_dirty_regs: 296,
  regs: 304,
  sregs: 448,
  /** struct kvm_vcpu_events (64 bytes), after kvm_sregs in struct kvm_sync_regs. */
  events: 760,
} as const;
const KVM_EVENTS_SIZE = 64;

/** struct kvm_regs field offsets (144 bytes). */
export const REGS = {
  rax: 0, rbx: 8, rcx: 16, rdx: 24, rsi: 32, rdi: 40, rsp: 48, rbp: 56,
  r8: 64, r9: 72, r10: 80, r11: 88, r12: 96, r13: 104, r14: 112, r15: 120, rip: 128, rflags: 136,
} as const;
export const KVM_REGS_SIZE = 144;

/** struct kvm_sregs offsets (312 bytes); each struct kvm_segment is 24 bytes, each kvm_dtable 16. */
export const SREGS = {
  cs: 0, ds: 24, es: 48, fs: 72, gs: 96, ss: 120, tr: 144, ldt: 168, gdt: 192, idt: 208,
  cr0: 224, cr2: 232, cr3: 240, cr4: 248, cr8: 256, efer: 264, apic_base: 272,
} as const;
export const KVM_SREGS_SIZE = 312;

/** struct kvm_segment, as torov sets it. */
export interface KvmSegment {
  base: bigint; limit: number; selector: number; type: number;
  present: number; dpl: number; db: number; s: number; l: number; g: number;
}

/** Writes a struct kvm_segment (24 bytes) at `off`. */
export function writeSegment(b: Buffer, off: number, seg: KvmSegment): void {
  b.writeBigUInt64LE(seg.base, off);
  b.writeUInt32LE(seg.limit >>> 0, off + 8);
  b.writeUInt16LE(seg.selector, off + 12);
  b.set([seg.type, seg.present, seg.dpl, seg.db, seg.s, seg.l, seg.g, 0 /* avl */, 0 /* unusable */, 0], off + 14);
}

/** An error from the KVM API, with the ioctl that failed and the errno. */
export class KvmError extends Error {
  override name = 'KvmError';
  constructor(readonly what: string, readonly errno: number) {
    super(`${what} failed: errno ${errno}`);
  }
}

function check(rc: number, what: string): number {
  if (rc < 0) throw new KvmError(what, rc === -1 ? errno() : -rc);
  return rc;
}

/** ioctl with an integer argument, retried when a signal interrupts it (KVM_CREATE_VM can be). */
function ioctlIntRetry(fd: number, req: number, arg: number): number {
  for (;;) {
    const rc = ioctlInt(fd, req, arg);
    if (rc !== -1 || errno() !== EINTR) return rc;
  }
}
/** ioctl with a pointer argument, retried on EINTR. */
function ioctlPtrRetry(fd: number, req: number, arg: Buffer): number {
  for (;;) {
    const rc = ioctlPtr(fd, req, arg);
    if (rc !== -1 || errno() !== EINTR) return rc;
  }
}

/** /dev/kvm: one per process. */
export class Kvm {
  readonly fd: number;
  readonly vcpuMmapSize: number;
  private cpuid: Buffer | undefined;

  /** What the kvm_run page can carry into KVM_RUN (KVM_SYNC_X86_*: 7, all three, on x86 since Linux 4.17). */
  readonly syncRegs: number;

  private constructor(fd: number) {
    this.fd = fd;
    const version = ioctlInt(fd, KVM_GET_API_VERSION, 0);
    if (version !== KVM_API_VERSION) throw new KvmError(`KVM API version ${version} (want ${KVM_API_VERSION})`, 0);
    this.syncRegs = ioctlInt(fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
    if (this.syncRegs <= 0 || !(this.syncRegs & KVM_SYNC_X86_REGS)) {
      throw new KvmError('KVM_CAP_SYNC_REGS (this kernel lacks synchronised registers)', 0);
    }
    this.vcpuMmapSize = check(ioctlIntRetry(fd, KVM_GET_VCPU_MMAP_SIZE, 0), 'KVM_GET_VCPU_MMAP_SIZE');
  }

  /** Opens /dev/kvm. Throws KvmError with the errno (ENOENT, EACCES...) on failure. */
  static open(path = '/dev/kvm'): Kvm {
    const p = Buffer.from(path + '\0');
    const fd = sys(NR.open, addressOf(p), O_RDWR | O_CLOEXEC);
    if (fd < 0) throw new KvmError(`open ${path}`, -fd);
    return new Kvm(fd);
  }

  /** The CPUID entries KVM supports (struct kvm_cpuid2 with 40-byte entries), cached. */
  supportedCpuid(): Buffer {
    if (this.cpuid) return this.cpuid;
    // 128 entries first: hosts report about 60-80 (75 here), and each try costs the ioctl's
    // whole walk (a quarter of a millisecond on kvm_pvm).
    for (let n = 128; n <= 4096; n *= 2) {
      const b = Buffer.alloc(8 + 40 * n);
      b.writeUInt32LE(n, 0);
      const rc = ioctlPtr(this.fd, KVM_GET_SUPPORTED_CPUID, b);
      if (rc >= 0) { this.cpuid = b.subarray(0, 8 + 40 * b.readUInt32LE(0)); return this.cpuid; }
      if (errno() !== 7 /* E2BIG */) throw new KvmError('KVM_GET_SUPPORTED_CPUID', errno());
    }
    throw new KvmError('KVM_GET_SUPPORTED_CPUID', 7);
  }

  createVm(): VmFd {
    return new VmFd(this, check(ioctlIntRetry(this.fd, KVM_CREATE_VM, 0), 'KVM_CREATE_VM'));
  }
}

/** A VM file descriptor: memory slots and vCPUs. */
export class VmFd {
  constructor(readonly kvm: Kvm, readonly fd: number) {}

  /** KVM_SET_USER_MEMORY_REGION: guest physical [gpa, gpa+size) backed by host memory at hva. */
  setMemoryRegion(slot: number, gpa: number, size: number, hva: number): void {
    const r = Buffer.alloc(32);
    r.writeUInt32LE(slot, 0);
    r.writeUInt32LE(0, 4);                     // flags
    r.writeBigUInt64LE(BigInt(gpa), 8);
    r.writeBigUInt64LE(BigInt(size), 16);
    r.writeBigUInt64LE(BigInt(hva), 24);
    check(ioctlPtrRetry(this.fd, KVM_SET_USER_MEMORY_REGION, r), 'KVM_SET_USER_MEMORY_REGION');
  }

  createVcpu(id: number): VcpuFd {
    const fd = check(ioctlIntRetry(this.fd, KVM_CREATE_VCPU, id), 'KVM_CREATE_VCPU');
    return new VcpuFd(fd, this.kvm.vcpuMmapSize);
  }

  close(): void { sys(NR.close, this.fd); }
}

/** A vCPU file descriptor and its shared struct kvm_run page. */
export class VcpuFd {
  /** The kvm_run page as bytes, 32-bit words and a DataView (all views of one mapping). */
  readonly run: DataView;
  readonly runU32: Uint32Array;
  readonly runU8: Uint8Array;
  /** Host address of the kvm_run mapping (the gdb stub's interrupt thread sets immediate_exit there). */
  readonly runAddr: number;

  constructor(readonly fd: number, readonly runSize: number) {
    const addr = sys(NR.mmap, 0, runSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr < 0) throw new KvmError('mmap kvm_run', -addr);
    this.runAddr = addr;
    const ab = viewOf(addr, runSize);
    this.run = new DataView(ab);
    this.runU32 = new Uint32Array(ab);
    this.runU8 = new Uint8Array(ab);
  }

  /** KVM_RUN. Returns 0, or -errno (EINTR when a signal interrupted it). */
  runOnce(): number {
    const rc = ioctlInt(this.fd, KVM_RUN, 0);
    return rc < 0 ? -errno() : rc;
  }

  exitReason(): number { return this.runU32[RUN.exit_reason >> 2]!; }

  getRegs(): Buffer { const b = Buffer.alloc(KVM_REGS_SIZE); check(ioctlPtrRetry(this.fd, KVM_GET_REGS, b), 'KVM_GET_REGS'); return b; }
  setRegs(b: Buffer): void { check(ioctlPtrRetry(this.fd, KVM_SET_REGS, b), 'KVM_SET_REGS'); }
  getSregs(): Buffer { this.flushStaged(); const b = Buffer.alloc(KVM_SREGS_SIZE); check(ioctlPtrRetry(this.fd, KVM_GET_SREGS, b), 'KVM_GET_SREGS'); return b; }
  setSregs(b: Buffer): void { this.flushStaged(); check(ioctlPtrRetry(this.fd, KVM_SET_SREGS, b), 'KVM_SET_SREGS'); }

  /**
   * Stages special registers and a reset of pending events (exceptions, interrupts, NMIs,
   * the interrupt shadow) for the next KVM_RUN, through the kvm_run page (sync regs:
   * KVM_SYNC_X86_SREGS, KVM_SYNC_X86_EVENTS), instead of KVM_SET_SREGS and
   * KVM_SET_VCPU_EVENTS now: two vCPU ioctls less (8-16 µs each on kvm_pvm). A restore
   * does this. Anything that reads or writes the special registers or MSRs with an ioctl
   * before that KVM_RUN applies the staged state first (flushStaged).
   */
  stageSregsAndEvents(sregs: Buffer): void {
    this.runU8.set(sregs.subarray(0, KVM_SREGS_SIZE), RUN.sregs);
    this.runU8.fill(0, RUN.events, RUN.events + KVM_EVENTS_SIZE);
    const d = this.run.getBigUint64(RUN.kvm_dirty_regs, true);
    this.run.setBigUint64(RUN.kvm_dirty_regs, d | BigInt(KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS), true);
  }

  /** Applies staged special registers and events now, with a KVM_RUN that returns at once (KVM takes the kvm_run page's state first). */
  flushStaged(): void {
    if ((this.runU32[RUN.kvm_dirty_regs >> 2]! & (KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)) === 0) return;
    const was = this.runU8[RUN.immediate_exit]!;
    this.runU8[RUN.immediate_exit] = 1;
    const rc = this.runOnce();
    this.runU8[RUN.immediate_exit] = was;
    if (rc < 0 && rc !== -4 /* EINTR */) throw new KvmError('KVM_RUN (applying staged registers)', -rc);
  }

  /** KVM_SET_MSRS with (index, value) pairs. */
  setMsrs(msrs: ReadonlyArray<readonly [number, bigint]>): void {
    this.flushStaged();
    const b = Buffer.alloc(8 + 16 * msrs.length);
    b.writeUInt32LE(msrs.length, 0);
    msrs.forEach(([index, value], i) => {
      b.writeUInt32LE(index, 8 + 16 * i);
      b.writeBigUInt64LE(value, 8 + 16 * i + 8);
    });
    const n = check(ioctlPtrRetry(this.fd, KVM_SET_MSRS, b), 'KVM_SET_MSRS');
    if (n !== msrs.length) throw new KvmError(`KVM_SET_MSRS (MSR 0x${msrs[n]?.[0].toString(16)} rejected)`, 0);
  }

  /** KVM_GET_MSRS of one MSR; undefined if KVM refuses it. */
  getMsr(index: number): bigint | undefined {
    const b = Buffer.alloc(8 + 16);
    b.writeUInt32LE(1, 0);
    b.writeUInt32LE(index, 8);
    return ioctlPtrRetry(this.fd, KVM_GET_MSRS, b) === 1 ? b.readBigUInt64LE(16) : undefined;
  }

  /** KVM_GET_TSC_KHZ: the guest TSC's frequency in kHz, or a negative value if KVM cannot tell. */
  tscKhz(): number { return ioctlInt(this.fd, KVM_GET_TSC_KHZ, 0); }

  setCpuid(cpuid: Buffer): void { check(ioctlPtrRetry(this.fd, KVM_SET_CPUID2, cpuid), 'KVM_SET_CPUID2'); }

  /** KVM_SET_XCRS: XCR0 (struct kvm_xcrs: nr_xcrs, flags, 16 x {xcr, reserved, value}, padding). */
  setXcr0(value: bigint): void {
    const b = Buffer.alloc(392);
    b.writeUInt32LE(1, 0);
    b.writeUInt32LE(0, 8);              // xcrs[0].xcr = XCR0
    b.writeBigUInt64LE(value, 16);
    check(ioctlPtrRetry(this.fd, KVM_SET_XCRS, b), 'KVM_SET_XCRS');
  }

  /**
   * Puts the x87/SSE/AVX state in its initial state (KVM_SET_XSAVE): FCW 0x37f, MXCSR
   * 0x1f80, every register zero, no other component in use (XSTATE_BV = x87|SSE).
   */
  resetFpu(): void {
    const b = Buffer.alloc(4096);
    b.writeUInt16LE(0x37f, 0);              // FCW
    b.writeUInt32LE(0x1f80, 24);            // MXCSR
    b.writeBigUInt64LE(3n, 512);            // XSAVE header: XSTATE_BV = x87 | SSE (explicit init values above)
    check(ioctlPtrRetry(this.fd, KVM_SET_XSAVE, b), 'KVM_SET_XSAVE');
  }

  /** KVM_GET_XSAVE: the x87/SSE/AVX state in XSAVE's standard format (struct kvm_xsave, 4096 bytes). */
  getXsave(): Buffer { const b = Buffer.alloc(KVM_XSAVE_SIZE); check(ioctlPtrRetry(this.fd, KVM_GET_XSAVE, b), 'KVM_GET_XSAVE'); return b; }
  /** KVM_SET_XSAVE: KVM refuses (EINVAL) a state with bits the vCPU's XCR0 does not allow. */
  setXsave(b: Buffer): void { check(ioctlPtrRetry(this.fd, KVM_SET_XSAVE, b), 'KVM_SET_XSAVE'); }

  /** Clears pending exceptions, interrupts, NMIs and the interrupt shadow (KVM_SET_VCPU_EVENTS). */
  resetEvents(): void {
    check(ioctlPtrRetry(this.fd, KVM_SET_VCPU_EVENTS, Buffer.alloc(64)), 'KVM_SET_VCPU_EVENTS');
  }

  /**
   * A debugger set this vCPU's debug registers or guest-debug flags (setGuestDebug,
   * setDebugRegs): a reused vCPU gets its debug registers reset only then. A program at
   * CPL3 can neither read nor write them; only a debugger reads them (DR6 at a debug exit),
   * and it resets them when it attaches (src/gdb/target.ts).
   */
  debugTouched = false;

  /** Clears DR0-DR3 and sets DR6/DR7 to their reset values (KVM_SET_DEBUGREGS). */
  resetDebugRegs(): void {
    const b = Buffer.alloc(128);
    b.writeBigUInt64LE(0xffff0ff0n, 32);    // dr6
    b.writeBigUInt64LE(0x400n, 40);         // dr7
    check(ioctlPtrRetry(this.fd, KVM_SET_DEBUGREGS, b), 'KVM_SET_DEBUGREGS');
  }

  /**
   * KVM_SET_GUEST_DEBUG: `control` is KVM_GUESTDBG_* bits; `dr` holds DR0-DR3 and DR7
   * (indexes 0-3 and 7) for KVM_GUESTDBG_USE_HW_BP. Throws KvmError (EINVAL where the
   * host does not support a requested bit).
   */
  setGuestDebug(control: number, dr: readonly bigint[] = []): void {
    this.debugTouched = true;
    const b = Buffer.alloc(72);
    b.writeUInt32LE(control >>> 0, 0);
    for (let i = 0; i < 8; i++) b.writeBigUInt64LE(dr[i] ?? 0n, 8 + 8 * i);
    check(ioctlPtrRetry(this.fd, KVM_SET_GUEST_DEBUG, b), 'KVM_SET_GUEST_DEBUG');
  }

  /** KVM_GET_DEBUGREGS: struct kvm_debugregs {db[4], dr6, dr7, flags, reserved[9]}. */
  getDebugRegs(): Buffer { const b = Buffer.alloc(128); check(ioctlPtrRetry(this.fd, KVM_GET_DEBUGREGS, b), 'KVM_GET_DEBUGREGS'); return b; }
  setDebugRegs(b: Buffer): void { this.debugTouched = true; check(ioctlPtrRetry(this.fd, KVM_SET_DEBUGREGS, b), 'KVM_SET_DEBUGREGS'); }

  /** KVM_GET_FPU / KVM_SET_FPU: struct kvm_fpu (x87 in ST order, FCW, FSW, abridged tag, FOP, FIP, FDP, XMM0-15, MXCSR). */
  getFpu(): Buffer { const b = Buffer.alloc(KVM_FPU_SIZE); check(ioctlPtrRetry(this.fd, KVM_GET_FPU, b), 'KVM_GET_FPU'); return b; }
  setFpu(b: Buffer): void { check(ioctlPtrRetry(this.fd, KVM_SET_FPU, b), 'KVM_SET_FPU'); }

  close(): void {
    sys(NR.munmap, this.runAddr, this.runSize);
    sys(NR.close, this.fd);
  }
}
