/**
 * The memory in the guest's real memfds, bounded.
 *
 * A memfd's pages are host memory that --memory does not count (a mapping of it is
 * MAP_SHARED, the host's page cache). Under the sandbox most memfds are unnamed files of
 * the run's tmpfs (src/syscalls/mm.ts), whose size bounds them. One made with
 * MFD_ALLOW_SEALING must be a real memfd (a tmpfs file takes no seals), and so is every
 * memfd without the sandbox: those live on the kernel's internal shmem mount, where nothing
 * bounds them but the run's cgroup, whose limit also leaves room for the VMM's own threads
 * (gigabytes by default). Without this, a guest with `--memory 64M` could hold gigabytes in
 * sealed memfds before the cgroup ended the whole run.
 *
 * So the VMM bounds them as a tmpfs bounds its files: the bytes a real memfd may hold are
 * its size (no page exists past the end of a shmem file, whether written or touched through
 * a mapping), or its allocated blocks where FALLOC_FL_KEEP_SIZE put some past it, and the sizes
 * of all the run's real memfds together stay within the same budget as its tmpfs. Every
 * call that can make a file larger (write and its vectored and positioned forms, ftruncate,
 * fallocate, copy_file_range, splice, sendfile) is checked before it reaches the host when
 * its target is a real memfd (the fd's host file is on the memfd device): past the budget
 * it fails with ENOSPC (EFBIG for ftruncate), as on a full tmpfs.
 *
 * The sizes are kept per file (st_dev:st_ino): every check refreshes the target's own size,
 * and each file is counted at the largest size a check allowed it, so two memfds growing in
 * turn cannot both pass on stale figures. A file the guest no longer holds (every fd closed,
 * no mapping left) is forgotten when the budget would be exceeded: then the fds and shared
 * mappings of every guest process are looked at, and only those files count.
 *
 * Nothing is checked until the run makes its first real memfd, so other programs pay nothing.
 */
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { STAT } from '../linux/structs';
import { EFBIG, ENOSPC } from '../linux/errno';
import { F_GETFL, O_APPEND, SEEK_CUR } from '../linux/fcntl';
import type { Kernel, ProcessInfo } from './api';

/** The bytes all real memfds of the run may hold together (the run's tmpfs budget). */
let budget = Infinity;
/** st_dev of the kernel's memfd mount, once the run made a real memfd (-1: none yet, nothing to check). */
let memfdDev = -1;
/** Per real memfd (st_dev:st_ino): the largest size a check allowed it. */
const sizes = new Map<string, number>();

const st = Buffer.alloc(STAT.SIZE);
const stAddr = addressOf(st);

/** Sets the budget (bytes) for the run; called once at start. */
export function setMemfdBudget(bytes: number): void { budget = bytes; }

/** A real memfd was made (host fd `h`): learns the device its files live on. */
export function noteRealMemfd(h: number): void {
  if (memfdDev >= 0 || sys(HOST.fstat, h, stAddr) < 0) return;
  memfdDev = Number(st.readBigUInt64LE(STAT.st_dev));
}

/**
 * fstat of a host fd: its file id and the bytes it may hold (its size, or its allocated
 * blocks where fallocate's FALLOC_FL_KEEP_SIZE put some past the end), or undefined if it
 * is not on the memfd device.
 */
function statMemfd(h: number): { id: string; size: number } | undefined {
  if (sys(HOST.fstat, h, stAddr) < 0) return undefined;
  const dev = st.readBigUInt64LE(STAT.st_dev);
  if (Number(dev) !== memfdDev) return undefined;
  const size = Math.max(Number(st.readBigInt64LE(STAT.st_size)), Number(st.readBigInt64LE(STAT.st_blocks)) * 512);
  return { id: `${dev}:${st.readBigUInt64LE(STAT.st_ino)}`, size };
}

/** The total of the recorded sizes. */
function total(): number {
  let n = 0;
  for (const v of sizes.values()) n += v;
  return n;
}

/** Forgets the files no guest process holds any more (no fd, no shared mapping); refreshes the sizes of those with an fd. */
function collect(procs: Iterable<ProcessInfo>): void {
  const live = new Map<string, number>();
  for (const p of procs) {
    for (const fd of p.fds.list()) {
      if (!p.fds.onDevice(fd, memfdDev)) continue;
      const s = statMemfd(p.fds.get(fd));
      if (s) live.set(s.id, s.size);
    }
    for (const v of p.as.vmas) {
      const id = v.kind === 'shared' ? v.file?.id : undefined;
      if (id !== undefined && !live.has(id) && sizes.has(id)) live.set(id, sizes.get(id)!);
    }
  }
  sizes.clear();
  for (const [id, n] of live) sizes.set(id, n);
}

/**
 * Before a call that may make guest fd `fd` (host fd `h`) hold bytes up to `offset + len`
 * (`offset` undefined: where a write without one starts): 0 if it may, else -ENOSPC (or
 * -EFBIG for `truncate`). Only real memfds are checked, and only once the run has one.
 */
export function mayGrow(k: Kernel, fd: number, h: number, offset: number | undefined, len: number, truncate = false): number {
  if (memfdDev < 0 || len <= 0 || !k.fds.onDevice(fd, memfdDev)) return 0;
  const s = statMemfd(h);
  if (!s) return 0;
  const end = (offset ?? writePosition(h, s.size)) + len;
  sizes.set(s.id, s.size);
  if (end <= s.size) return 0;
  if (total() - s.size + end > budget) {
    collect(k.sched.processes());
    sizes.set(s.id, s.size);
    if (total() - s.size + end > budget) return truncate ? -EFBIG : -ENOSPC;
  }
  sizes.set(s.id, end);
  return 0;
}

/** Where a write without an offset starts on host fd `h` (of `size` bytes): the end for O_APPEND, else the file position. */
function writePosition(h: number, size: number): number {
  const fl = sys(HOST.fcntl, h, F_GETFL, 0);
  if (fl >= 0 && (fl & O_APPEND)) return size;
  const pos = sys(HOST.lseek, h, 0, SEEK_CUR);
  return pos < 0 ? 0 : pos;
}
