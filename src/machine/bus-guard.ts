/**
 * The VMM survives guest memory that loses its backing.
 *
 * A guest file mapping is the host file mapped into the window (src/machine/mm.ts), so the
 * guest can take the backing away from under the VMM: map a file or a memfd, truncate it,
 * then hand a pointer into the mapping to a syscall. The pointer checks pass (the page is
 * mapped), and the VMM's own load or store there (a path string, an iovec, a pollfd, a
 * --trace of the buffer) raises SIGBUS, which kills it. The same happens with a page of a
 * full tmpfs, or a file another process truncates. Linux gives the guest EFAULT for the
 * syscall's pointer and SIGBUS for its own access; the VMM must do the same and survive.
 *
 * Why recovery, and not the alternatives:
 *  - copies of shared file mappings would break what MAP_SHARED means (writes reaching
 *    the file, other processes seeing them);
 *  - seals fit memfds only, and would refuse the guest's own ftruncate, which Linux allows;
 *    pinning pages does not stop truncation;
 *  - checking the file's size before each access races with a truncation by another thread
 *    or process between the check and the access.
 * A SIGBUS handler catches every case, races included, and costs nothing until it fires.
 * torov has no C addon, so the handler is a page of machine code (sigbus.S) that this
 * module copies into executable memory and installs with rt_sigaction. On a SIGBUS from a
 * guest window (BUS_ADRERR) it parks the page's mapping aside (mremap with
 * MREMAP_DONTUNMAP: the address never becomes a hole another thread's mmap could take),
 * replaces the page with a zero page, and returns, so the VMM's access completes. Syscall
 * dispatch (src/vmm/dispatch.ts) then asks `busFaults()`: a syscall during which a guest
 * page faulted returns EFAULT, and `restoreParked()` moves the parked mappings back, so the
 * guest finds its mapping as Linux would leave it (still past the end of the file: its own
 * access then gets SIGBUS, src/vmm/exits.ts).
 *
 * Without MREMAP_DONTUNMAP for file mappings (Linux before 5.13), or when more pages
 * fault during one syscall than there are parking slots, a page is replaced without being
 * parked: the VMM still survives, and that guest page reads zeros from then on (counted in
 * `lostPages()`).
 */
import { sys, NR, viewOf } from '../host/libc';
import {
  MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE,
  PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE,
} from '../linux/mman';
import { SIGBUS_CODE, SIGBUS_HANDLER, SIGBUS_RESTORER } from './sigbus-code';
import { EAGAIN, SysError } from '../linux/errno';

const PAGE = 4096;
/** The data page's layout (sigbus.S). */
const BUS = { NWIN: 0x000, WIN: 0x900, MAX_WIN: 112, PENDING: 0x200, PARK: 0x208, NSLOTS: 0x210, FLAGS: 0x218, LOST: 0x220, TOTAL: 0x228, SLOTS: 0x400, MAX_SLOTS: 128, DFL_ACT: 0x800 } as const;

const SA_SIGINFO = 4, SA_ONSTACK = 0x08000000, SA_RESTORER = 0x04000000, SA_NODEFER = 0x40000000;
const SIGBUS = 7;

interface Guard {
  readonly code: number;
  readonly data: number;
  readonly u32: Int32Array;
  readonly u64: BigUint64Array;
  readonly park: number;
  readonly nslots: number;
}

let guard: Guard | undefined;

/** Installs the handler (once per process). Throws if the host refuses. */
function install(): Guard {
  if (guard) return guard;
  // Code page + data page, then the parking area (reserved address space, no memory).
  const code = sys(NR.mmap, 0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code < 0) throw new Error(`SIGBUS guard: cannot map its pages (errno ${-code})`);
  new Uint8Array(viewOf(code, PAGE)).set(SIGBUS_CODE);
  let r = sys(NR.mprotect, code, PAGE, PROT_READ | PROT_EXEC);
  if (r < 0) throw new Error(`SIGBUS guard: cannot make its code executable (errno ${-r})`);
  const data = code + PAGE;
  const buf = viewOf(data, PAGE);
  const u32 = new Int32Array(buf), u64 = new BigUint64Array(buf);
  const nslots = BUS.MAX_SLOTS;
  const park = sys(NR.mmap, 0, nslots * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (park < 0) throw new Error(`SIGBUS guard: cannot reserve its parking area (errno ${-park})`);
  u64[BUS.PARK / 8] = BigInt(park);
  u64[BUS.NSLOTS / 8] = BigInt(nslots);
  u32[BUS.FLAGS / 4] = dontunmapWorks(park) ? 1 : 0;
  // struct kernel_sigaction: handler, flags, restorer, mask (8 bytes: the kernel's sigset).
  const act = Buffer.alloc(32);
  act.writeBigUInt64LE(BigInt(code + SIGBUS_HANDLER), 0);
  act.writeBigUInt64LE(BigInt(SA_SIGINFO | SA_RESTORER | SA_NODEFER | SA_ONSTACK), 8);
  act.writeBigUInt64LE(BigInt(code + SIGBUS_RESTORER), 16);
  r = sys(NR.rt_sigaction, SIGBUS, addressOfBuffer(act), 0, 8);
  if (r < 0) throw new Error(`SIGBUS guard: rt_sigaction failed (errno ${-r})`);
  guard = { code, data, u32, u64, park, nslots };
  return guard;
}

function addressOfBuffer(b: Buffer): number {
  return (require('../host/libc') as typeof import('../host/libc')).addressOf(b);
}

/**
 * True if mremap(MREMAP_DONTUNMAP) moves a shared mapping here (Linux 5.13+; before, only
 * private anonymous ones). A shared anonymous mapping is a shmem file mapping, as a file's.
 */
function dontunmapWorks(park: number): boolean {
  const m = sys(NR.mmap, 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m < 0) return false;
  const moved = sys(NR.mremap, m, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, park);
  sys(NR.munmap, m, PAGE);
  if (moved < 0) return false;
  sys(NR.mmap, park, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  return true;
}

/**
 * Guards a guest window [base, base+size) of host memory: a SIGBUS there is recovered
 * (see above). Installs the handler on first use.
 */
export function guardWindow(base: number, size: number): void {
  const g = install();
  const n = Number(g.u64[BUS.NWIN / 8]);
  for (let i = 0; i < n; i++) if (Number(g.u64[(BUS.WIN + i * 16) / 8]) === base) return;
  // One window per live guest process: past the table, a new one (a fork, a restore) is
  // refused as the host refuses a process it has no room for, EAGAIN.
  if (n >= BUS.MAX_WIN) throw new SysError(EAGAIN, `SIGBUS guard: more than ${BUS.MAX_WIN} guest windows`);
  // The window's entry is complete before the count makes the handler read it.
  g.u64[(BUS.WIN + n * 16) / 8] = BigInt(base);
  g.u64[(BUS.WIN + n * 16 + 8) / 8] = BigInt(size);
  Atomics.store(g.u64, BUS.NWIN / 8, BigInt(n + 1));
}

/** Stops guarding a window (its host memory is unmapped). */
export function unguardWindow(base: number): void {
  const g = guard;
  if (!g) return;
  const n = Number(g.u64[BUS.NWIN / 8]);
  for (let i = 0; i < n; i++) {
    if (Number(g.u64[(BUS.WIN + i * 16) / 8]) !== base) continue;
    // Move the last entry here, then shorten the list.
    const last = n - 1;
    g.u64[(BUS.WIN + i * 16) / 8] = g.u64[(BUS.WIN + last * 16) / 8]!;
    g.u64[(BUS.WIN + i * 16 + 8) / 8] = g.u64[(BUS.WIN + last * 16 + 8) / 8]!;
    Atomics.store(g.u64, BUS.NWIN / 8, BigInt(last));
    return;
  }
}

/** Guest pages that faulted since the last restoreParked() (0 almost always: one memory read). */
export function busFaults(): number {
  return guard === undefined ? 0 : Atomics.load(guard.u32, BUS.PENDING / 4);
}

/** Guest pages recovered since the process started (for tests and --verbose). */
export function busFaultsTotal(): number {
  return guard === undefined ? 0 : Atomics.load(guard.u32, BUS.TOTAL / 4);
}

/** Guest pages that were replaced without being parked (they read as zeros since). */
export function lostPages(): number {
  return guard === undefined ? 0 : Atomics.load(guard.u32, BUS.LOST / 4);
}

/**
 * Moves every parked mapping back to its guest page (the zero page there is replaced) and
 * frees the slots. Called by dispatch when busFaults() is not 0, on the VMM's main thread.
 * `stillFile(hostAddr)` says whether the guest still maps a file there: a page the guest
 * unmapped meanwhile (mremap moves a mapping within one syscall) keeps its fresh zero page,
 * as every unmapped page of the window must (src/machine/mm.ts).
 */
export function restoreParked(stillFile: (hostAddr: number) => boolean): void {
  const g = guard;
  if (!g) return;
  const P = BUS.PENDING / 4, S = BUS.SLOTS / 8;
  let from = 0;
  for (;;) {
    const n = Atomics.load(g.u32, P);
    for (let i = from; i < Math.min(n, g.nslots); i++) {
      // A slot is written right after its number was taken: wait for it (a few instructions).
      let e = Atomics.load(g.u64, S + i);
      for (let spin = 0; e === 0n && spin < 1_000_000; spin++) e = Atomics.load(g.u64, S + i);
      const page = Number(e & ~0xfffn), parked = (e & 1n) === 0n && e !== 0n;
      const slot = g.park + i * PAGE;
      if (parked) {
        const r = stillFile(page) ? sys(NR.mremap, slot, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, page) : 0;
        if (r < 0) Atomics.add(g.u32, BUS.LOST / 4, 1);
        // The slot's page goes back to reserved address space (dropping what mremap left there).
        sys(NR.mmap, slot, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
      }
      Atomics.store(g.u64, S + i, 0n);
    }
    from = n;
    if (Atomics.compareExchange(g.u32, P, n, 0) === n) return;
  }
}

/** How many guest windows are guarded now (for leak checks). */
export function guardedWindows(): number {
  return guard ? Number(guard.u64[BUS.NWIN / 8]) : 0;
}
