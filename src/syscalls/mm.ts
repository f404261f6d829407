/**
 * Memory: brk, mmap, munmap, mprotect, mremap, madvise, msync and the mlock family,
 * served inside the VMM by the address space (src/machine/mm.ts); file mappings map the
 * host file into the guest window.
 */
import { Handler, HandlerTable } from './api';
import { MAP } from '../machine/mm';
import { sys } from '../host/libc';
import { HOST } from './host-nr';

const EBADF = 9, EINVAL = 22, ENODEV = 19;
const MADV_DONTNEED = 4, MADV_FREE = 8, MADV_REMOVE = 9;

const sysBrk: Handler = (k, a) => k.as.brk(a.ptr(0));

/** Implements mmap(2). A file mapping takes the host fd behind the guest fd. */
const sysMmap: Handler = (k, a) => {
  const flags = a.i(3);
  if (flags & MAP.HUGETLB) return -EINVAL;
  let hostFd = -1;
  if (!(flags & MAP.ANONYMOUS)) {
    hostFd = k.fds.get(a.i(4));
    if (hostFd < 0) return -EBADF;
  }
  const r = k.as.mmap(a.ptr(0), a.n(1), a.i(2), flags, hostFd, a.n(5));
  return r === -ENODEV ? -ENODEV : r;
};

const sysMunmap: Handler = (k, a) => k.as.munmap(a.ptr(0), a.n(1));
const sysMprotect: Handler = (k, a) => k.as.mprotect(a.ptr(0), a.n(1), a.i(2));
const sysMremap: Handler = (k, a) => k.as.mremap(a.ptr(0), a.n(1), a.n(2), a.i(3), a.ptr(4));

/** Implements madvise(2): DONTNEED/FREE/REMOVE give pages back; the rest are hints. */
const sysMadvise: Handler = (k, a) => {
  const adv = a.i(2);
  if (adv === MADV_DONTNEED || adv === MADV_FREE || adv === MADV_REMOVE) return k.as.dontneed(a.ptr(0), a.n(1));
  return 0;
};

/** Implements msync(2): shared file mappings are the host's page cache, so the host syncs them. */
const sysMsync: Handler = (k, a) => {
  const len = a.n(1);
  if (a.ptr(0) % 4096) return -EINVAL;
  return sys(HOST.msync, k.mem.host(a.ptr(0), len, false), len, a.i(2));
};

export const mmHandlers: HandlerTable = {
  brk: sysBrk,
  mmap: sysMmap,
  munmap: sysMunmap,
  mprotect: sysMprotect,
  mremap: sysMremap,
  madvise: sysMadvise,
  msync: sysMsync,
  mlock: (k, a) => { k.mem.host(a.ptr(0), a.n(1), false); return 0; },
  munlock: () => 0,
  mlockall: () => 0,
  munlockall: () => 0,
};
