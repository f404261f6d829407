/**
 * Every fixed guest address torov uses, in one place.
 *
 * Guest memory is one linear window: guest virtual address == guest physical address for
 * all application memory, [0, memSize). The ELF image, the brk heap, mmap regions and the
 * stack all live inside it, so any guest range inside the window is also one contiguous
 * host range (hostBase + va) and syscalls are forwarded without copying. Page tables give
 * each 4 KiB page its permissions (present, writable, user, no-execute).
 *
 * The "system area" (page tables, GDT, IDT, TSS, the syscall/exception stub and the
 * exception stack) is a second memory slot placed after the window in guest physical
 * space and mapped at SYS_VA, outside the window, so no guest pointer check can ever
 * accept it.
 */

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/** Lowest address the guest may map (Linux's default vm.mmap_min_addr): NULL stays a fault. */
export const MMAP_MIN_ADDR = 0x10000;

/** Where a static PIE given to the loader directly (loadSegments' 'pie') is loaded. */
export const PIE_BASE = 0x400000;

/**
 * torov's ELF_ET_DYN_BASE: a third of the way up to the top of the mmap area. A PIE with
 * an interpreter is loaded here, and a program loaded high in the mmap area (an ET_DYN
 * program without PT_INTERP: a static PIE, or an ELF interpreter run directly) gets its
 * break here, as Linux does with both. Below it stays free for ET_EXEC images, which are
 * linked low (from 0x400000): an ET_EXEC interpreter, or the program `ld.so PROGRAM`
 * loads; above it the break has room before mmap's top-down allocations.
 */
export function elfDynBase(mmapTop: number): number {
  return Math.ceil(mmapTop / 3 / PAGE_SIZE) * PAGE_SIZE;
}

/** Default, smallest and largest guest memory (--memory: the commit limit). */
export const DEFAULT_MEMORY = 256 * 1024 * 1024;
export const MIN_MEMORY = 16 * 1024 * 1024;
export const MAX_MEMORY = 32 * 1024 * 1024 * 1024;
/** The largest window: the page tables' PD level is sized for it. */
export const MAX_WINDOW = 64 * 1024 * 1024 * 1024;

/**
 * The virtual window for a memory limit: the memory plus room for PROT_NONE reservations
 * and sparse layouts (three times the memory, at most 4 GiB more), 2 MiB-aligned.
 * Untouched window costs no host memory, but KVM sizes per-slot metadata by it (about
 * 2 MiB per GiB, zeroed at VM creation), so the extra room is bounded.
 */
export function windowSize(memory: number): number {
  const w = Math.min(MAX_WINDOW, memory + Math.min(3 * memory, 4 * 1024 * 1024 * 1024));
  return Math.ceil(w / 2 ** 21) * 2 ** 21;
}

/** Stack: an 8 MiB region (Linux's default RLIMIT_STACK) at the top of the window, with a guard gap below it. */
export const STACK_SIZE = 8 * 1024 * 1024;
export const STACK_GUARD = 64 * 1024;

/** Guest virtual address of the system area: PML4[255], PDPT[511], PD[511] (top 2 MiB below 0x7fffffffffff+1 - 2 MiB). */
export const SYS_VA = 0x7fffffe00000;

/** Offsets of the system area's pages (from its guest physical / virtual start). */
export const SYS = {
  PML4: 0x0000,
  PDPT_LOW: 0x1000,      // PML4[0]: covers the window (0 .. 512 GiB)
  PDPT_SYS: 0x2000,      // PML4[255]
  PD_SYS: 0x3000,
  PT_SYS: 0x4000,        // maps the pages below at SYS_VA + offset
  GDT: 0x5000,
  IDT: 0x6000,
  TSS: 0x7000,
  STUB: 0x8000,          // user-executable: the syscall entry (LSTAR) and exception entries
  XSTACK: 0x9000,        // exception stack, 2 pages (supervisor only)
  XSTACK_TOP: 0xb000,
  VVAR: 0xb000,          // user read-only, no-execute: the vDSO's clock page (src/vmm/vdso.ts); VVAR_VA
  VDSO: 0xc000,          // user read+execute: the vDSO image (AT_SYSINFO_EHDR); VDSO_VA
  CHAN: 0xd000,          // user read-write, no-execute: the syscall channel (stub.S, src/vmm/channel.ts)
  MAPPED_END: 0xe000,    // pages [0, MAPPED_END) are mapped at SYS_VA
  PD_WINDOW: 0x10000,    // one PD page per GiB of window, then one PT page per 2 MiB, then the vCPU blocks
} as const;

/**
 * Each vCPU after the first has a block of its own system pages in the system slot, after
 * the window's page tables: its page-table root (a PML4 whose entry 0 shares the window's
 * tables and whose system-area branch is its own), a TSS and exception stack (so two
 * vCPUs can take exceptions at once) and a syscall channel page. Its own page tables map
 * those pages at the same virtual addresses as the first vCPU's (SYS_VA + SYS.TSS, .XSTACK,
 * .CHAN), so the stub, the GDT and the IDT are the same code and tables for every vCPU.
 * vCPU 0 uses the pages at the offsets of SYS.
 */
export const VCPU_BLOCK = {
  PML4: 0x0000,
  PDPT_SYS: 0x1000,
  PD_SYS: 0x2000,
  PT_SYS: 0x3000,
  TSS: 0x4000,
  XSTACK: 0x5000,        // 2 pages
  CHAN: 0x7000,
  SIZE: 0x8000,
} as const;

/** The most vCPUs (guest threads) a VM can have: KVM_CAP_MAX_VCPUS is 1024 on the hosts torov knows. */
export const MAX_VCPUS = 1024;
/** The default limit on guest threads (--threads). */
export const DEFAULT_THREADS = 256;

/** System-slot offsets of one vCPU's own pages. */
export interface VcpuPages { pml4: number; pdptSys: number; pdSys: number; ptSys: number; tss: number; xstack: number; chan: number }

/** Fixed guest addresses of the vDSO's clock page (vdso.c's VVAR_VA) and of the vDSO image. */
export const VVAR_VA = SYS_VA + SYS.VVAR;
export const VDSO_VA = SYS_VA + SYS.VDSO;

/** I/O ports of the hypercall interface (`out %al, $port`). */
export const PORT_SYSCALL = 0x10;
export const PORT_FAULT = 0x11;
/** A no-op port: the VMM resumes at once. The benchmark's floor (a bare VM exit) uses it. */
export const PORT_NOP = 0x12;
/** The syscall channel (stub.S): serve the posted request now (no host thread polls), and sleep until its result is there. */
export const PORT_KICK = 0x14;
export const PORT_WAIT = 0x15;
/** The syscall channel (stub.S): the VMM asked for the vCPU (C_STATE 5) to change the program's registers. */
export const PORT_CTX = 0x16;

/** Byte offsets in the syscall channel page (SYS.CHAN); stub.S has the same list. */
export const CHAN = {
  STATE: 0x000,      // u32: IDLE, REQUEST, BUSY, DONE, BLOCKING, EXIT
  POLL: 0x044,       // u32: nonzero while a host thread polls STATE
  TRAPFAST: 0x048,   // u32: nonzero: fast paths also answer trapped syscalls (no site rewriting)
  NR: 0x080,         // u64, then six u64 arguments
  ARGS: 0x088,
  SITE: 0x0b8,       // u64: return address of a trapped `syscall` (0: from a rewritten site)
  RESULT: 0x0c0,     // u64
  RET: 0x100,
  FLAGS: 0x108,
  RSP: 0x110,
  BUDGET: 0x118,     // u64: spin budget in TSC ticks before PORT_WAIT
  FASTMASK: 0x140,   // 256 bits
  FASTVAL: 0x200,    // u64[256]
} as const;
/** C_STATE values; BLOCKING: being served, and expected to block (the guest sleeps at once). */
export const CHAN_IDLE = 0, CHAN_REQUEST = 1, CHAN_BUSY = 2, CHAN_DONE = 3, CHAN_BLOCKING = 4;
/** C_STATE: the guest must leave the VM at PORT_CTX; the VMM then sets its registers itself. */
export const CHAN_EXIT = 5;

/** GDT selectors, Linux-like (see platform.md): STAR's layout depends on their order. */
export const SEL = {
  KERNEL_CS: 0x10,
  KERNEL_DS: 0x18,
  USER_CS32: 0x23,
  USER_DS: 0x2b,
  USER_CS: 0x33,
  TSS: 0x40,
} as const;

/** Layout of the system slot for a given window size. */
export interface SystemLayout {
  /** Window size in bytes (multiple of 2 MiB). */
  memSize: number;
  /** Guest physical address of the system slot. */
  sysGpa: number;
  /** Number of PD pages (one per GiB of window) and PT pages (one per 2 MiB). */
  nPd: number;
  nPt: number;
  /** Offset of the first PT page inside the system slot. */
  ptOffset: number;
  /** Offset of vCPU 1's block of system pages (VCPU_BLOCK); vCPU i's is at vcpuOffset + (i - 1) * VCPU_BLOCK.SIZE. */
  vcpuOffset: number;
  /** How many vCPUs the slot has pages for. */
  maxVcpus: number;
  /** Size of the system slot. */
  sysSize: number;
}

/** Computes the system slot layout for a window of memSize bytes and up to maxVcpus vCPUs. */
export function systemLayout(memSize: number, maxVcpus = 1): SystemLayout {
  const nPd = Math.ceil(memSize / 2 ** 30);
  const nPt = Math.ceil(memSize / 2 ** 21);
  const ptOffset = SYS.PD_WINDOW + nPd * PAGE_SIZE;
  const vcpuOffset = ptOffset + nPt * PAGE_SIZE;
  const sysSize = vcpuOffset + Math.max(0, maxVcpus - 1) * VCPU_BLOCK.SIZE;
  // The system slot sits right after the window, aligned to 2 MiB.
  const sysGpa = Math.ceil(memSize / 2 ** 21) * 2 ** 21;
  return { memSize, sysGpa, nPd, nPt, ptOffset, vcpuOffset, maxVcpus, sysSize };
}

/** The system-slot offsets of vCPU `i`'s own pages. */
export function vcpuPages(L: SystemLayout, i: number): VcpuPages {
  if (i === 0) return { pml4: SYS.PML4, pdptSys: SYS.PDPT_SYS, pdSys: SYS.PD_SYS, ptSys: SYS.PT_SYS, tss: SYS.TSS, xstack: SYS.XSTACK, chan: SYS.CHAN };
  if (!(i > 0 && i < L.maxVcpus)) throw new RangeError(`vCPU ${i} is outside the ${L.maxVcpus} the system slot has pages for`);
  const b = L.vcpuOffset + (i - 1) * VCPU_BLOCK.SIZE;
  return { pml4: b + VCPU_BLOCK.PML4, pdptSys: b + VCPU_BLOCK.PDPT_SYS, pdSys: b + VCPU_BLOCK.PD_SYS, ptSys: b + VCPU_BLOCK.PT_SYS,
    tss: b + VCPU_BLOCK.TSS, xstack: b + VCPU_BLOCK.XSTACK, chan: b + VCPU_BLOCK.CHAN };
}
