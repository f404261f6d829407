/**
 * Memory: brk, mmap, munmap, mprotect, mremap, madvise, msync and the mlock family, served
 * inside the VMM by the address space (src/machine/mm.ts); file mappings map the host file
 * into the guest window. memfd_create makes an anonymous host file for such mappings.
 */
import { Handler, HandlerTable, Kernel } from './api';
import { pageUp, pageDown } from '../machine/mm';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { EBADF, EINVAL, ENODEV, ENOMEM } from '../linux/errno';

import { MADV_DONTNEED, MADV_FREE, MADV_REMOVE, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_DONTFORK, MADV_DOFORK, MAP_ANONYMOUS, MAP_HUGETLB, MLOCK_ONFAULT } from '../linux/mman';
import { MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_EXEC, MFD_NOEXEC_SEAL, NAME_MAX, O_CLOEXEC, O_RDWR, O_TMPFILE } from '../linux/fcntl';
import { shmDirFd } from '../sandbox/jail';
import { noteRealMemfd } from './memfd-budget';
import { PAGE_SIZE } from '../machine/layout';

const sysBrk: Handler = (k, a) => k.as.brk(a.ptr(0));

/** Implements mmap(2). A file mapping takes the host fd behind the guest fd. */
const sysMmap: Handler = (k, a) => {
  const flags = a.i(3);
  if (flags & MAP_HUGETLB) return -EINVAL;
  let hostFd = -1;
  if (!(flags & MAP_ANONYMOUS)) {
    hostFd = k.fds.get(a.i(4));
    if (hostFd < 0) return -EBADF;
  }
  const r = k.as.mmap(a.ptr(0), a.n(1), a.i(2), flags, hostFd, a.n(5));
  return r === -ENODEV ? -ENODEV : r;
};

const sysMunmap: Handler = (k, a) => k.as.munmap(a.ptr(0), a.n(1));
const sysMprotect: Handler = (k, a) => k.as.mprotect(a.ptr(0), a.n(1), a.i(2));
const sysMremap: Handler = (k, a) => k.as.mremap(a.ptr(0), a.n(1), a.n(2), a.i(3), a.ptr(4));

/** Implements madvise(2): DONTNEED/FREE/REMOVE give pages back; the fork advice is kept for fork; the rest are hints. */
const sysMadvise: Handler = (k, a) => {
  const adv = a.i(2);
  if (adv === MADV_DONTNEED || adv === MADV_FREE || adv === MADV_REMOVE) return k.as.dontneed(a.ptr(0), a.n(1));
  if (adv === MADV_WIPEONFORK || adv === MADV_KEEPONFORK) return k.as.forkAdvice(a.ptr(0), a.n(1), 'wipe', adv === MADV_WIPEONFORK);
  if (adv === MADV_DONTFORK || adv === MADV_DOFORK) return k.as.forkAdvice(a.ptr(0), a.n(1), 'dontfork', adv === MADV_DONTFORK);
  return 0;
};

/** True if mappings cover every page of [addr, addr+len) (whatever their protection). */
function mapped(k: Kernel, addr: number, len: number): boolean {
  const end = pageUp(addr + len);
  for (let p = pageDown(addr); p < end;) {
    const v = k.as.find(p);
    if (!v) return false;
    p = v.end;
  }
  return true;
}

/**
 * Implements msync(2): shared file mappings are the host's page cache, so the host syncs
 * them. Like Linux, the range must be mapped (ENOMEM), not accessible: PROT_NONE pages and
 * a file mapping's pages past the end of its file (never present) are fine.
 */
const sysMsync: Handler = (k, a) => {
  const addr = a.ptr(0), len = a.n(1);
  if (addr % PAGE_SIZE) return -EINVAL;
  if (!mapped(k, addr, len)) return -ENOMEM;
  return sys(HOST.msync, k.mem.host(addr, 0, false), len, a.i(2));
};

/** memfd_create flags: MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL, MFD_EXEC (MFD_HUGETLB is refused). */
const MFD_KNOWN = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC;
/** The name's longest length (NAME_MAX minus the "memfd:" prefix), and a VMM copy of it for the host. */
const MFD_NAME_MAX = NAME_MAX - 'memfd:'.length;
const mfdName = Buffer.alloc(MFD_NAME_MAX + 1);
const mfdNameAddr = addressOf(mfdName);

/** "." for openat(shmDirFd, ".", O_TMPFILE). */
const dot = Buffer.from('.\0');
const dotAddr = addressOf(dot);

/**
 * Implements memfd_create(2): an anonymous host file (the name is copied into a VMM buffer
 * first) installed in the guest's fd table; mmap of it is an ordinary file mapping.
 *
 * Its pages are host memory the guest's --memory does not count, so under the sandbox it is
 * an unnamed file (O_TMPFILE) in the run's tmpfs (src/sandbox/jail.ts, shmDirFd), which the
 * guest's /tmp shares and whose size bounds them: past it, writes and fallocate are ENOSPC
 * (and a store into a mapping past it SIGBUS, as Linux does on a full tmpfs). A tmpfs file
 * behaves as a memfd (unlinked, shared, truncatable) except that it takes no seals, so a
 * memfd made with MFD_ALLOW_SEALING is a real one, whose size the VMM bounds by the same
 * budget (src/syscalls/memfd-budget.ts).
 */
const sysMemfdCreate: Handler = (k, a) => {
  const flags = a.u(1);
  if (flags & ~MFD_KNOWN) return -EINVAL;
  const name = k.mem.readCString(a.ptr(0), MFD_NAME_MAX + 1);
  if (name === null) return -EINVAL;
  mfdName.set(name); mfdName[name.length] = 0;
  const shm = shmDirFd;
  const h = shm >= 0 && !(flags & MFD_ALLOW_SEALING)
    ? sys(HOST.openat, shm, dotAddr, O_TMPFILE | O_RDWR | O_CLOEXEC, 0o600)
    : sys(HOST.memfd_create, mfdNameAddr, flags | MFD_CLOEXEC);
  if (h < 0) return h;
  if (shm < 0 || (flags & MFD_ALLOW_SEALING)) noteRealMemfd(h);      // bounded from now on (memfd-budget.ts)
  const g = k.fds.add(h, (flags & MFD_CLOEXEC) !== 0);
  if (g < 0) sys(HOST.close, h);
  return g;
};

/**
 * mlock(2)/mlock2(2): accepted when mappings cover the whole range (ENOMEM otherwise, as in
 * Linux); guest memory is never swapped out by torov, so there is nothing more to do.
 */
const sysMlock: Handler = (k, a) => {
  const addr = a.ptr(0), len = a.n(1);
  if (len < 0) return -EINVAL;
  return mapped(k, addr, len) ? 0 : -ENOMEM;
};

export const mmHandlers: HandlerTable = {
  brk: sysBrk,
  mmap: sysMmap,
  munmap: sysMunmap,
  mprotect: sysMprotect,
  mremap: sysMremap,
  madvise: sysMadvise,
  msync: sysMsync,
  mlock: sysMlock,
  mlock2: (k, a) => (a.u(2) & ~MLOCK_ONFAULT ? -EINVAL : sysMlock(k, a)),
  memfd_create: sysMemfdCreate,
  munlock: () => 0,
  mlockall: () => 0,
  munlockall: () => 0,
};
