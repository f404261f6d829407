/**
 * Which pages of a guest window were written, whoever wrote them: the guest (through KVM),
 * the host kernel on its behalf (a read(2) into a guest buffer) or the VMM itself.
 *
 * A restored VM whose run left its mappings as the snapshot had them is put back in place
 * (src/vmm/snapshot.ts, resetInPlace): only the pages written since the restore get the
 * snapshot's contents again (read back from the snapshot's memfd, which reads zero where the
 * snapshot had no page; or, after a run that wrote many, dropped and protected again). Every
 * other page, and KVM's translations of it, stays mapped: the next run does not fault it in
 * again, which on kvm_pvm (shadow paging) costs a trap out of the guest per page.
 *
 * The kernel keeps the record: a userfaultfd in asynchronous write-protect mode (Linux 6.7,
 * UFFD_FEATURE_WP_ASYNC) over the window, and PAGEMAP_SCAN on /proc/self/pagemap to list
 * the pages written since they were last write-protected. A write to a protected page is
 * resolved by the kernel itself (no thread handles faults), from user or kernel mode, so
 * nothing can write a page without it being listed. UFFD_USER_MODE_ONLY is enough for that
 * (and needs no privilege): it only keeps kernel-mode faults from being *delivered*, which
 * asynchronous mode never does.
 *
 * Without these (an older kernel, a seccomp filter of another tool), tracking is off and
 * every restore maps the snapshot afresh, as before.
 */
import { sys, NR, ioctlPtr, addressOf } from '../host/libc';

/** <linux/userfaultfd.h>, <linux/fs.h> (Linux 6.7; Debian 12's headers predate them). */
const UFFDIO_API = 0xc018aa3f, UFFDIO_REGISTER = 0xc020aa00, UFFDIO_WRITEPROTECT = 0xc018aa06, PAGEMAP_SCAN = 0xc0606610;
const UFFD_API = 0xaa, UFFD_USER_MODE_ONLY = 1, UFFDIO_REGISTER_MODE_WP = 2, UFFDIO_WRITEPROTECT_MODE_WP = 1;
const UFFD_FEATURE_WP_HUGETLBFS_SHMEM = 1 << 12, UFFD_FEATURE_WP_UNPOPULATED = 1 << 13, UFFD_FEATURE_WP_ASYNC = 1 << 15;
const PAGE_IS_WRITTEN = 1 << 1;
const O_RDONLY = 0, O_CLOEXEC = 0o2000000, O_NONBLOCK = 0o4000;

/** The ioctl request numbers, for the seccomp filter's rules (src/sandbox/seccomp-rules.ts). */
export const WRITE_TRACK_IOCTLS = { UFFDIO_REGISTER, UFFDIO_WRITEPROTECT, PAGEMAP_SCAN } as const;

let uffd = -1, pagemap = -1;
let tried = false;
/** Why tracking is off (for --verbose and the benchmark), once tried. */
export let writeTrackingOff: string | undefined;

/**
 * Opens the userfaultfd and /proc/self/pagemap, once per process; true if write tracking
 * works here. Call it before the sandbox's filter and jail (torov serve does: src/serve/start.ts).
 */
export function openWriteTracking(): boolean {
  if (tried) return uffd >= 0;
  tried = true;
  const fd = sys(NR.userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd < 0) { writeTrackingOff = `userfaultfd: errno ${-fd}`; return false; }
  const api = Buffer.alloc(24);
  api.writeBigUInt64LE(BigInt(UFFD_API), 0);
  api.writeBigUInt64LE(BigInt(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM), 8);
  if (ioctlPtr(fd, UFFDIO_API, api) < 0) { sys(NR.close, fd); writeTrackingOff = 'userfaultfd: no asynchronous write protection (Linux 6.7)'; return false; }
  const path = Buffer.from('/proc/self/pagemap\0');
  const pm = sys(NR.openat, -100, addressOf(path), O_RDONLY | O_CLOEXEC);
  if (pm < 0) { sys(NR.close, fd); writeTrackingOff = `/proc/self/pagemap: errno ${-pm}`; return false; }
  uffd = fd; pagemap = pm;
  return true;
}

const range = Buffer.alloc(32);

/**
 * Registers [host, host+len) for write tracking and protects `ranges` ([start, len] pairs
 * of host addresses inside it: the only pages anything can write, the caller knows); true on
 * success. (Protecting a page never touched leaves a marker in the host's page table that
 * PAGEMAP_SCAN then walks: the whole window would cost a scan of every one of its pages.)
 */
export function trackWrites(host: number, len: number, ranges: ReadonlyArray<readonly [number, number]>): boolean {
  if (uffd < 0) return false;
  range.fill(0);
  range.writeBigUInt64LE(BigInt(host), 0);
  range.writeBigUInt64LE(BigInt(len), 8);
  range.writeBigUInt64LE(BigInt(UFFDIO_REGISTER_MODE_WP), 16);
  if (ioctlPtr(uffd, UFFDIO_REGISTER, range) < 0) return false;
  for (const [s, l] of ranges) if (!protect(s, l)) return false;
  return true;
}

/** Write-protects [host, host+len) again (its pages then count as not written). */
export function protect(host: number, len: number): boolean {
  range.writeBigUInt64LE(BigInt(host), 0);
  range.writeBigUInt64LE(BigInt(len), 8);
  range.writeBigUInt64LE(BigInt(UFFDIO_WRITEPROTECT_MODE_WP), 16);
  return ioctlPtr(uffd, UFFDIO_WRITEPROTECT, range.subarray(0, 24)) >= 0;
}

const REGIONS = 256;
// The scan's argument and result, as 32-bit words: host addresses fit in 53 bits, and
// BigInt conversions cost µs at every release of a served VM.
const scanArg = new Uint32Array(24), regions = new Uint32Array(6 * REGIONS);
const scanAddr = addressOf(new Uint8Array(scanArg.buffer)), regionsAddr = addressOf(new Uint8Array(regions.buffer));

/** Stores a non-negative integer below 2^53 at 64-bit word `i` of `a`. */
function put64(a: Uint32Array, i: number, v: number): void {
  a[2 * i] = v >>> 0;
  a[2 * i + 1] = Math.floor(v / 2 ** 32);
}

/** The 64-bit word `i` of `a` as a number (below 2^53 here: host addresses). */
function get64(a: Uint32Array, i: number): number {
  return a[2 * i]! + a[2 * i + 1]! * 2 ** 32;
}

/**
 * Calls `f(host, len)` for each run of pages of [host, host+len) written since it was
 * protected. Returns false if the scan failed (the caller must then not trust the memory).
 */
export function forWritten(host: number, len: number, f: (start: number, len: number) => void): boolean {
  const end = host + len;
  let at = host;
  while (at < end) {
    scanArg.fill(0);
    put64(scanArg, 0, 96);                 // size
    put64(scanArg, 2, at);                 // start
    put64(scanArg, 3, end);                // end
    put64(scanArg, 5, regionsAddr);        // vec
    put64(scanArg, 6, REGIONS);            // vec_len
    put64(scanArg, 9, PAGE_IS_WRITTEN);    // category_mask
    put64(scanArg, 11, PAGE_IS_WRITTEN);   // return_mask
    const n = sys(NR.ioctl, pagemap, PAGEMAP_SCAN, scanAddr);
    if (n < 0) return false;
    for (let i = 0; i < n; i++) {
      const s = get64(regions, 3 * i), e = get64(regions, 3 * i + 1);
      f(s, e - s);
    }
    const walkEnd = get64(scanArg, 4);     // walk_end
    if (n < REGIONS || walkEnd >= end) break;
    at = walkEnd;
  }
  return true;
}
