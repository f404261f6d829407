/**
 * The VMM's view of its own /proc (its fd links and cwd), which torov needs to name a host
 * fd (readlink of /proc/PID/fd/N, the policy's path checks) and to reopen one (/dev/fd/N,
 * /proc/PID/fd/N). The guest never reaches it (src/syscalls/fs.ts guards every path): in
 * the sandbox it is a directory fd opened before the jail hid the host's /proc.
 */
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { AT_FDCWD, PATH_MAX } from '../linux/fcntl';

/** The host's /proc: a directory fd (useProcDir), or the path /proc itself without a sandbox. */
let procDir = AT_FDCWD;
let procPrefix = '/proc/';

/**
 * VMM buffers for the link's name and its target, permanent so that the host reads them at
 * a fixed address (handlers run one at a time).
 */
const NAME = Buffer.alloc(64), NAME_ADDR = addressOf(NAME);
const TARGET = Buffer.alloc(PATH_MAX + 1), TARGET_ADDR = addressOf(TARGET);

/** Puts `${procPrefix}self/${rel}` with its NUL into NAME; returns its address. */
function name(rel: string): number {
  const n = NAME.write(`${procPrefix}self/${rel}`, 'latin1');
  NAME[n] = 0;
  return NAME_ADDR;
}

/**
 * Makes the VMM reach its own /proc through `fd` (an O_PATH directory fd of the host's
 * /proc, opened before entering the jail): the guest's root has no /proc, but torov
 * still needs its own fd links to check opens and to reopen /dev/fd/N.
 */
export function useProcDir(fd: number): void {
  procDir = fd;
  procPrefix = '';
}

/** The host's name for the VMM's working directory (the guest's), or "". */
export function cwdPath(): string {
  const n = sys(HOST.readlinkat, procDir, name('cwd'), TARGET_ADDR, PATH_MAX);
  return n > 0 ? TARGET.toString('latin1', 0, n) : '';
}

/** The host's name for host fd h (its /proc/self/fd link), or "". */
export function hostFdPath(h: number): string {
  const n = sys(HOST.readlinkat, procDir, name(`fd/${h}`), TARGET_ADDR, PATH_MAX);
  return n > 0 ? TARGET.toString('latin1', 0, n) : '';
}

/**
 * The VMM's link to host fd `h` as a host dirfd and the address of a path under it (valid
 * until the next call here): an open of it makes a new open file of the same object,
 * as Linux's open of /proc/self/fd/N does.
 */
export function fdLink(h: number): { dir: number; addr: number } {
  return { dir: procDir, addr: name(`fd/${h}`) };
}

const STATM = Buffer.alloc(128);
/** The VMM's resident memory in bytes (/proc/self/statm), or -1 (torov serve's metrics). */
export function residentBytes(): number {
  const fd = sys(HOST.openat, procDir, name('statm'), 0o2000000 /* O_RDONLY | O_CLOEXEC */);
  if (fd < 0) return -1;
  const n = sys(HOST.read, fd, addressOf(STATM), STATM.length - 1);
  sys(HOST.close, fd);
  if (n <= 0) return -1;
  const pages = Number(STATM.toString('latin1', 0, n).split(' ')[1]);
  return Number.isFinite(pages) ? pages * 4096 : -1;
}
