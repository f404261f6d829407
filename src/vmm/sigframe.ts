/**
 * Linux's x86-64 signal frame (arch/x86/kernel/signal_64.c, asm/sigcontext.h), built on
 * the guest's stack when a handler runs and read back by rt_sigreturn. The layout is
 * Linux's exactly, so that code which reads or changes the interrupted context (Go's
 * preemption, libunwind, backtrace(), siglongjmp's callers) works as on Linux:
 *
 *   rt_sigframe:   pretcode (u64: sa_restorer) | ucontext (304 bytes) | siginfo (128 bytes)
 *   ucontext:      uc_flags | uc_link | uc_stack (stack_t, 24) | uc_mcontext (sigcontext, 256) | uc_sigmask (8)
 *   sigcontext:    r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags, cs/gs/fs/ss (u16 each),
 *                  err, trapno, oldmask, cr2, fpstate (pointer), reserved[8]
 *   fpstate:       the XSAVE area (standard format, 64-byte aligned), the fxsave part's
 *                  software bytes saying so (FP_XSTATE_MAGIC1), FP_XSTATE_MAGIC2 after it.
 * The frame sits below the interrupted rsp's red zone (128 bytes) or at the top of the
 * alternate stack, the fpstate first, then the frame, aligned so that rsp + 8 is a multiple
 * of 16 at the handler's entry (as after a call).
 */
import type { GuestMemory } from '../machine/memory';
import { REGS } from '../kvm/kvm';

/** Offsets in struct sigcontext (asm/sigcontext.h, x86-64). */
export const SIGCONTEXT = {
  r8: 0, r9: 8, r10: 16, r11: 24, r12: 32, r13: 40, r14: 48, r15: 56, rdi: 64, rsi: 72, rbp: 80, rbx: 88,
  rdx: 96, rax: 104, rcx: 112, rsp: 120, rip: 128, eflags: 136, cs: 144, gs: 146, fs: 148, ss: 150,
  err: 152, trapno: 160, oldmask: 168, cr2: 176, fpstate: 184, SIZE: 256,
} as const;
/** Offsets in the kernel's struct ucontext. */
export const UCONTEXT = { uc_flags: 0, uc_link: 8, uc_stack: 16, uc_mcontext: 40, uc_sigmask: 296, SIZE: 304 } as const;
/** Offsets in struct rt_sigframe. */
export const RT_SIGFRAME = { pretcode: 0, uc: 8, info: 8 + UCONTEXT.SIZE, SIZE: 8 + UCONTEXT.SIZE + 128 } as const;

/** uc_flags bits (asm/ucontext.h). */
const UC_FP_XSTATE = 0x1, UC_SIGCONTEXT_SS = 0x2, UC_STRICT_RESTORE_SS = 0x4;
/** struct _fpx_sw_bytes magic numbers (asm/sigcontext.h). */
const FP_XSTATE_MAGIC1 = 0x46505853, FP_XSTATE_MAGIC2 = 0x46505845;
/** Where the software bytes sit in the fxsave area (struct _fpstate_64.sw_reserved). */
const SW_BYTES = 464;
/** The x86-64 red zone below rsp that a frame must not overwrite. */
const RED_ZONE = 128;

/** The user segment selectors torov's GDT gives programs (layout.ts SEL). */
const USER_CS = 0x33, USER_DS = 0x2b;

/** sigcontext field of each kvm_regs register (for copying between the two). */
const PAIRS: ReadonlyArray<readonly [number, number]> = [
  [REGS.r8, SIGCONTEXT.r8], [REGS.r9, SIGCONTEXT.r9], [REGS.r10, SIGCONTEXT.r10], [REGS.r11, SIGCONTEXT.r11],
  [REGS.r12, SIGCONTEXT.r12], [REGS.r13, SIGCONTEXT.r13], [REGS.r14, SIGCONTEXT.r14], [REGS.r15, SIGCONTEXT.r15],
  [REGS.rdi, SIGCONTEXT.rdi], [REGS.rsi, SIGCONTEXT.rsi], [REGS.rbp, SIGCONTEXT.rbp], [REGS.rbx, SIGCONTEXT.rbx],
  [REGS.rdx, SIGCONTEXT.rdx], [REGS.rax, SIGCONTEXT.rax], [REGS.rcx, SIGCONTEXT.rcx], [REGS.rsp, SIGCONTEXT.rsp],
  [REGS.rip, SIGCONTEXT.rip], [REGS.rflags, SIGCONTEXT.eflags],
];

/** What a frame is built from. */
export interface FrameInput {
  /** The interrupted context, struct kvm_regs (144 bytes). */
  regs: Buffer;
  /** The FPU/SSE/AVX state (struct kvm_xsave) and how many of its bytes the enabled features use; undefined: none saved. */
  xsave: Buffer | undefined;
  xsaveSize: number;
  xfeatures: bigint;
  /** The siginfo (128 bytes). */
  info: Buffer;
  /** The mask to restore at rt_sigreturn. */
  mask: bigint;
  /** The alternate stack (stack_t, 24 bytes) as it is when the handler starts: saved in uc_stack. */
  ucStack: Buffer;
  /** Where the frame's area ends (exclusive): the interrupted rsp minus the red zone, or the alternate stack's top. */
  top: number;
  restorer: number;
  /** A CPU exception: its vector, error code and faulting address. */
  trap?: { trapno: number; err: number; cr2: number };
}

/** Where a built frame is, for the handler's registers. */
export interface FrameOut { rsp: number; info: number; uc: number }

/** The stack top a frame goes under for an interrupted rsp (below its red zone). */
export const belowRedZone = (rsp: number) => rsp - RED_ZONE;

/**
 * Writes a signal frame into guest memory below `f.top`; returns where it is. Throws
 * GuestFault when the memory is not writable (Linux then forces SIGSEGV).
 */
export function writeFrame(mem: GuestMemory, f: FrameInput): FrameOut {
  let sp = f.top;
  let fpstate = 0;
  if (f.xsave) {
    const size = f.xsaveSize + 4;                             // + FP_XSTATE_MAGIC2
    sp = Math.floor((sp - size) / 64) * 64;
    fpstate = sp;
    const area = Buffer.alloc(size);
    f.xsave.copy(area, 0, 0, f.xsaveSize);
    area.writeUInt32LE(FP_XSTATE_MAGIC1, SW_BYTES);
    area.writeUInt32LE(size, SW_BYTES + 4);                    // extended_size
    area.writeBigUInt64LE(f.xfeatures, SW_BYTES + 8);
    area.writeUInt32LE(f.xsaveSize, SW_BYTES + 16);            // xstate_size
    area.writeUInt32LE(FP_XSTATE_MAGIC2, f.xsaveSize);
    mem.write(fpstate, area);
  }
  sp -= RT_SIGFRAME.SIZE;
  sp = Math.floor((sp + 8) / 16) * 16 - 8;                     // align_sigframe: rsp + 8 is 16-aligned at entry
  const b = Buffer.alloc(RT_SIGFRAME.SIZE);
  b.writeBigUInt64LE(BigInt(f.restorer), RT_SIGFRAME.pretcode);
  const uc = RT_SIGFRAME.uc, mc = uc + UCONTEXT.uc_mcontext;
  b.writeBigUInt64LE(BigInt(UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | (f.xsave ? UC_FP_XSTATE : 0)), uc + UCONTEXT.uc_flags);
  f.ucStack.copy(b, uc + UCONTEXT.uc_stack);
  for (const [r, s] of PAIRS) b.writeBigUInt64LE(f.regs.readBigUInt64LE(r), mc + s);
  b.writeUInt16LE(USER_CS, mc + SIGCONTEXT.cs);
  b.writeUInt16LE(USER_DS, mc + SIGCONTEXT.ss);
  if (f.trap) {
    b.writeBigUInt64LE(BigInt(f.trap.err), mc + SIGCONTEXT.err);
    b.writeBigUInt64LE(BigInt(f.trap.trapno), mc + SIGCONTEXT.trapno);
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(f.trap.cr2)), mc + SIGCONTEXT.cr2);   // (a kernel address read as a number may round to 2^64)
  }
  b.writeBigUInt64LE(f.mask, mc + SIGCONTEXT.oldmask);
  b.writeBigUInt64LE(BigInt(fpstate), mc + SIGCONTEXT.fpstate);
  b.writeBigUInt64LE(f.mask, uc + UCONTEXT.uc_sigmask);
  f.info.copy(b, RT_SIGFRAME.info);
  mem.write(sp, b);
  return { rsp: sp, info: sp + RT_SIGFRAME.info, uc: sp + RT_SIGFRAME.uc };
}

/** What rt_sigreturn restores. */
export interface FrameRestore {
  /** The registers to resume with (struct kvm_regs); rflags not yet filtered. */
  regs: Buffer;
  mask: bigint;
  /** The FPU state to load (a full struct kvm_xsave), or null: the initial state (no fpstate in the frame). */
  xsave: Buffer | null;
  /** uc_stack: the alternate stack to set again. */
  ucStack: Buffer;
}

/**
 * Reads the frame of rt_sigreturn, whose ucontext is at `uc` (the rsp of the call: the
 * handler's `ret` popped pretcode). Throws GuestFault for memory the guest cannot read.
 */
export function readFrame(mem: GuestMemory, uc: number, xsaveSize: number): FrameRestore {
  const b = mem.read(uc, UCONTEXT.SIZE);
  const mc = UCONTEXT.uc_mcontext;
  const regs = Buffer.alloc(144);
  for (const [r, s] of PAIRS) regs.writeBigUInt64LE(b.readBigUInt64LE(mc + s), r);
  const fp = Number(b.readBigUInt64LE(mc + SIGCONTEXT.fpstate));
  let xsave: Buffer | null = null;
  if (fp !== 0) {
    xsave = Buffer.alloc(4096);
    mem.read(fp, xsaveSize).copy(xsave);
    // The software bytes are the kernel's to the program, not CPU state: clear them.
    xsave.fill(0, SW_BYTES, 512);
  }
  return { regs, mask: b.readBigUInt64LE(UCONTEXT.uc_sigmask), xsave, ucStack: b.subarray(UCONTEXT.uc_stack, UCONTEXT.uc_stack + 24) };
}
