/**
 * Files torov makes up for the guest instead of taking the host's: what the guest must
 * see of its own machine (its CPUs), never the host's. Opened read-only, each is a new
 * memfd holding the text, sealed so neither side can change it afterwards.
 *
 * This is the start of the synthetic /proc and /sys (the processes issue grows it).
 */
import { Kernel } from './api';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { MFD_ALLOW_SEALING, MFD_CLOEXEC, F_ADD_SEALS, O_ACCMODE, O_RDONLY, O_PATH, SEEK_SET } from '../linux/fcntl';
import { EACCES } from '../linux/errno';

/** F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE (linux/fcntl.h). */
const SEALS = 0x1 | 0x2 | 0x4 | 0x8;

/** A CPU list as the kernel prints it: "0" or "0-3". */
const cpuList = (n: number) => (n === 1 ? '0\n' : `0-${n - 1}\n`);

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');

/**
 * /proc/self/maps of the guest's address space as Linux prints it. File mappings show the
 * host file's device and inode, not its path (torov does not keep it); the stack and the
 * heap are named, as glibc's pthread_getattr_np (Rust, GC runtimes) needs for the main
 * thread's stack.
 */
function maps(k: Kernel): string {
  const out: string[] = [];
  for (const v of k.as.vmas) {
    const perms = `${v.prot & 1 ? 'r' : '-'}${v.prot & 2 ? 'w' : '-'}${v.prot & 4 ? 'x' : '-'}${v.kind === 'shared' || v.kind === 'shmem' ? 's' : 'p'}`;
    let dev = '00:00', ino = '0', off = 0;
    if (v.file) {
      const [d, i] = v.file.id.split(':');
      const n = Number(d ?? 0);
      dev = `${hex((n >>> 8) & 0xfff, 2)}:${hex((n & 0xff) | ((n >>> 12) & 0xfff00), 2)}`;
      ino = i ?? '0';
      off = v.file.offset;
    }
    const name = v.kind === 'stack' ? '[stack]' : v.kind === 'heap' ? '[heap]' : '';
    const line = `${hex(v.start, 8)}-${hex(v.end, 8)} ${perms} ${hex(off, 8)} ${dev} ${ino}`;
    out.push(name ? `${line.padEnd(73)}${name}` : line);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** Guest path -> its contents. */
const FILES: ReadonlyMap<string, (k: Kernel) => string> = new Map([
  ['/proc/self/maps', maps],
  ['/proc/thread-self/maps', maps],
  ['/sys/devices/system/cpu/online', (k: Kernel) => cpuList(k.sched.cpus)],
  ['/sys/devices/system/cpu/possible', (k: Kernel) => cpuList(k.sched.cpus)],
  ['/sys/devices/system/cpu/present', (k: Kernel) => cpuList(k.sched.cpus)],
]);

const name = Buffer.from('torov-synthetic\0');

/** An absolute path with "//", "." and ".." folded lexically. */
function fold(p: string): string {
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop(); else out.push(c);
  }
  return `/${out.join('/')}`;
}

/**
 * If absolute, folded guest path `p` is a synthetic file: a host fd of its contents
 * (or -errno: writing to it is EACCES, as for a read-only file); else undefined.
 */
export function openSynthetic(k: Kernel, p: string, flags: number): number | undefined {
  const path = fold(p);
  const f = FILES.get(path) ?? (path === `/proc/${k.pid}/maps` ? maps : undefined);
  if (!f) return undefined;
  if ((flags & O_ACCMODE) !== O_RDONLY && !(flags & O_PATH)) return -EACCES;
  const text = Buffer.from(f(k));
  const h = sys(HOST.memfd_create, addressOf(name), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (h < 0) return h;
  const w = sys(HOST.write, h, addressOf(text), text.length);
  if (w !== text.length) { sys(HOST.close, h); return w < 0 ? w : -EACCES; }
  sys(HOST.lseek, h, 0, SEEK_SET);
  sys(HOST.fcntl, h, F_ADD_SEALS, SEALS);
  return h;
}
