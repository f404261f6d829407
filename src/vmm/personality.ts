/**
 * Guest personalities: how a kind of program is loaded and how it asks for system calls.
 * A Machine runs exactly one. Each says how to check and load its image, whether a
 * hypercall `out` from the program's own code (not from torov's syscall stub) is a system
 * call, and may add hypercalls or turn a CPU exception into something else. A third
 * personality plugs in here without touching the others or the VMM's run loop.
 *
 * - `linux`: unmodified Linux x86-64 ELF programs, static or dynamically linked (their ELF
 *   interpreter is loaded from the guest's root, as execve does); system calls through
 *   `syscall`.
 * - `torov`: programs built for the original ToroV (FOSDEM 2022): a flat binary copied to
 *   0x400200 in 8 MiB of identity-mapped memory, system calls as `out %eax, $0x10` with the
 *   Linux number in eax and arguments in rdi, rsi, rdx, r10, r8, r9, the result in rax;
 *   hypercall 499 writes a NUL-terminated string (rcx) to the debug console; `hlt` ends
 *   the program. The original ran these at CPL0; torov runs them at CPL3 (native speed),
 *   where `out` goes through the TSS I/O bitmap and `hlt` raises #GP, which this
 *   personality turns into the program's exit.
 */
import { ElfError, parseElf, ET_DYN } from '../elf/elf';
import { AddressSpace } from '../machine/mm';
import { buildStack, loadSegments, openExec, shownPath, AT } from '../machine/loader';
import { elfDynBase } from '../machine/layout';
import { sys, NR } from '../host/libc';
import { PROT_R, PROT_W, PROT_X } from '../machine/memory';
import { GuestExit, Kernel } from '../syscalls/api';
import { FaultFrame } from './fault';
import { EINVAL } from '../linux/errno';

/** What a personality needs to load a program. */
export interface LoadContext {
  readonly as: AddressSpace;
  readonly image: Uint8Array;
  /** The program's path (AT_EXECFN) and its argv and environment. */
  readonly path: string;
  readonly argv: readonly string[];
  readonly env: readonly string[];
  readonly kernel: Kernel;
  /** CPUID.1:EDX, for AT_HWCAP. */
  readonly hwcap: number;
  /** 16 random bytes (AT_RANDOM). */
  readonly random: Uint8Array;
  /** An entry point that overrides the image's (ToroV's Startaddr). */
  readonly entry?: number;
  /** Guest address of the vDSO image (AT_SYSINFO_EHDR), when the VMM provides one. */
  readonly vdso?: number;
  /** How the program's file is reached and where its interpreter is looked up (LoaderOptions). */
  readonly loader?: LoaderOptions;
}

/** What the Linux loader needs beyond the image's bytes (MachineConfig.loader). */
export interface LoaderOptions {
  /**
   * A host fd of the program's file, opened before the jail: its segments are then mapped
   * from it (lazily, sharing the host's page cache) instead of copied. The Machine does
   * not close it.
   */
  readonly fd?: number;
  /**
   * The guest's root in words, for "interpreter not found" messages: "the guest's root
   * /srv/rootfs", "the minimal root (no --rootfs)". The interpreter itself is always
   * opened through the VMM's own root, which in the sandbox is the guest's.
   */
  readonly root?: string;
}

/** What a dynamically linked program was loaded with (for the debugger: AT_BASE, the auxv). */
export interface DynamicInfo {
  /** The interpreter's path (PT_INTERP) and load bias (AT_BASE). */
  interp: string;
  interpBase: number;
}

/** Where the program starts. */
export interface EntryState {
  rip: number;
  rsp: number;
  /** Where a Linux program was loaded relative to its link addresses (0 unless PIE). */
  bias?: number;
  /** The auxiliary vector the program got (type, value pairs, AT_NULL excluded). */
  auxv?: ReadonlyArray<readonly [number, number]>;
  /** Set for a program with an ELF interpreter. */
  dynamic?: DynamicInfo;
}

export interface Personality {
  readonly name: string;
  /** Checks the image before any VM exists; throws ElfError (one line, exit 126). */
  validate(image: Uint8Array): void;
  /** Maps the program and its stack into a fresh address space. */
  load(ctx: LoadContext): EntryState;
  /** True if a hypercall `out` from the program's own code is a system call. */
  readonly directHypercalls: boolean;
  /** True if its programs may get torov's vDSO (AT_SYSINFO_EHDR). */
  readonly vdso?: boolean;
  /** Serves a hypercall that is not a Linux system call (before the policy); undefined: not one. */
  hypercall?(nr: number, k: Kernel, rcx: number): number | undefined;
  /** Turns a CPU exception into another outcome (a GuestExit), or undefined for the usual report. */
  fault?(f: FaultFrame, k: Kernel): GuestExit | undefined;
}

/**
 * Unmodified Linux x86-64 programs: static (ET_EXEC and static-PIE) and dynamically linked
 * (PT_INTERP). Placement follows Linux's load_elf_binary: an ET_EXEC program at its own
 * addresses; a PIE with an interpreter at elfDynBase (ELF_ET_DYN_BASE); an ET_DYN program
 * without one (a static PIE, or an ELF interpreter run directly as in `ld.so ./prog`)
 * high in the mmap area with its break at elfDynBase, so that what it loads can have the
 * low addresses; the interpreter of a dynamic program high in the mmap area too. The program
 * starts at the interpreter's entry, with AT_BASE, AT_PHDR, AT_ENTRY and the rest of the
 * auxiliary vector as Linux gives them.
 */
export const linuxPersonality: Personality = {
  name: 'linux',
  directHypercalls: false,
  vdso: true,
  validate(image) {
    parseElf(image);
  },
  load(c) {
    const elf = parseElf(c.image);
    const as = c.as;
    const dynamic = elf.interp !== undefined;
    const dynBase = elfDynBase(as.mmapTop);
    const img = loadSegments(as, elf, c.image, { ...(c.loader?.fd !== undefined ? { fd: c.loader.fd } : {}), place: dynamic ? { at: dynBase } : 'high' });
    // The break: after the program, except for a program loaded high (see above).
    as.brkStart = as.brkEnd = elf.type === ET_DYN && !dynamic ? dynBase : img.end;
    as.mapStack();
    const k = c.kernel;
    const progEntry = c.entry ?? elf.entry + img.base;
    let rip = progEntry, interp: DynamicInfo | undefined;
    if (dynamic) {
      const what = `the interpreter ${shownPath(elf.interp!)}`;
      const f = openExec(elf.interp!, what, c.loader?.root ?? 'the host\'s root');
      try {
        const ii = loadSegments(as, f.elf, undefined, { fd: f.fd, size: f.size, place: 'high', withStack: false, what });
        interp = { interp: elf.interp!, interpBase: ii.base };
        rip = f.elf.entry + ii.base;
      } finally {
        sys(NR.close, f.fd);      // its mappings keep the file
      }
    }
    const auxv: Array<readonly [number, number]> = [
      [AT.PHDR, img.phdrAddr], [AT.PHENT, elf.phentsize], [AT.PHNUM, elf.phnum], [AT.PAGESZ, 4096],
      [AT.BASE, interp?.interpBase ?? 0], [AT.FLAGS, 0], [AT.ENTRY, progEntry],
      [AT.UID, k.uid], [AT.EUID, k.uid], [AT.GID, k.gid], [AT.EGID, k.gid], [AT.SECURE, 0],
      [AT.HWCAP, c.hwcap], [AT.CLKTCK, 100], [AT.HWCAP2, 0], [AT.MINSIGSTKSZ, 2048],
    ];
    if (c.vdso !== undefined) auxv.push([AT.SYSINFO_EHDR, c.vdso]);
    const stack = buildStack(c.as, c.argv, c.env, c.path, auxv, c.random);
    return { rip, rsp: stack.rsp, bias: img.base, auxv: stack.auxv, ...(interp ? { dynamic: interp } : {}) };
  },
};

/** The original ToroV's guest ABI (see the module comment; ../shared/docs/torov.md). */
export const TOROV = {
  LOAD_ADDR: 0x400200,
  MEMORY: 8 * 1024 * 1024,
  STACK_TOP: 0x7fff00,
  CONSOLE_HYPERCALL: 499,
} as const;

/** Programs built for the original ToroV: flat binaries with `out`-based system calls. */
export const torovPersonality: Personality = {
  name: 'torov',
  directHypercalls: true,
  validate(image) {
    if (image.length === 0) throw new ElfError('an empty ToroV binary');
    if (image.length > TOROV.MEMORY - TOROV.LOAD_ADDR - 0x10000) throw new ElfError(`a ToroV binary of ${image.length} bytes does not fit below its stack (ToroV guests have 8 MiB)`);
  },
  load(c) {
    const as = c.as;
    // The original identity-maps 8 MiB, readable, writable and executable; torov maps the
    // same range (above the NULL guard) with the same permissions, the stack included.
    const start = 0x100000;
    as.map(start, TOROV.MEMORY - start, PROT_R | PROT_W | PROT_X, 'elf');
    as.mem.bytes(TOROV.LOAD_ADDR, c.image.length).set(c.image);
    as.brkStart = as.brkEnd = Math.ceil((TOROV.LOAD_ADDR + c.image.length) / 4096) * 4096;
    return { rip: c.entry ?? TOROV.LOAD_ADDR, rsp: TOROV.STACK_TOP };
  },
  hypercall(nr, k, rcx) {
    if (nr !== TOROV.CONSOLE_HYPERCALL) return undefined;
    const s = k.mem.readCString(rcx, 4096);
    if (s === null) return -EINVAL;
    k.console(s);
    return 0;
  },
  fault(f, k) {
    // `hlt` (0xF4) at CPL3 raises #GP(0): in a ToroV guest it is the end of the program.
    if (f.vector === 13 && f.error === 0) {
      try { if (k.mem.view(f.rip, 1, false)[0] === 0xf4) return new GuestExit(0); } catch { /* not readable */ }
    }
    return undefined;
  },
};

/** True if the image is an ELF file (else, in a ToroV configuration, a flat ToroV binary). */
export function isElf(image: Uint8Array): boolean {
  return image.length >= 4 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46;
}
