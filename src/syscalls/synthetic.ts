/**
 * Files torov makes up for the guest instead of taking the host's: what the guest must
 * see of its own machine (its CPUs), never the host's. Opened read-only, each is a new
 * memfd holding the text, sealed so neither side can change it afterwards.
 *
 * This is the start of the synthetic /proc and /sys (the processes issue grows it with
 * other processes and directory listings): the machine's files (cpuinfo, meminfo, uptime,
 * loadavg, version, a few sysctls) and the program's own (maps, status, stat, statm).
 * Figures are torov's: the guest's memory limit and what it has mapped, its CPUs and
 * threads, the time since the VM started; none is read from the host.
 */
import { Kernel } from './api';
import { commOf, uptimeMs, UTS } from './process';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { MFD_ALLOW_SEALING, MFD_CLOEXEC, F_ADD_SEALS, O_ACCMODE, O_RDONLY, O_PATH, SEEK_SET } from '../linux/fcntl';
import { EACCES } from '../linux/errno';
import { STAT, STATX } from '../linux/structs';
import { S_IFREG } from '../linux/stat';
import { STATX_BASIC_STATS } from '../linux/stat';

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

/** Clock ticks per second of /proc's times (USER_HZ, and AT_CLKTCK). */
const HZ = 100;

const kB = (bytes: number) => Math.floor(bytes / 1024);
const hex16 = (m: bigint) => m.toString(16).padStart(16, '0');
const secs = (ms: number) => (ms / 1000).toFixed(2);

/** One line of /proc/meminfo: the name padded as Linux pads it, the value in kB. */
const memLine = (name: string, bytes: number) => `${`${name}:`.padEnd(16)}${String(kB(bytes)).padStart(8)} kB`;

/** /proc/meminfo: the guest's memory limit (--memory) and what is not mapped of it. */
function meminfo(k: Kernel): string {
  const total = k.as.limit, free = Math.max(0, total - k.as.committed);
  return [
    memLine('MemTotal', total), memLine('MemFree', free), memLine('MemAvailable', free), memLine('Buffers', 0),
    memLine('Cached', 0), memLine('SwapCached', 0), memLine('Active', k.as.committed), memLine('Inactive', 0),
    memLine('SwapTotal', 0), memLine('SwapFree', 0), memLine('Shmem', 0), memLine('CommitLimit', total),
    memLine('Committed_AS', k.as.committed), memLine('Hugepagesize', 2 << 20),
  ].join('\n') + '\n';
}

/** /proc/cpuinfo: one entry per CPU the guest sees (--cpus), without the host's model. */
function cpuinfo(k: Kernel): string {
  const n = k.sched.cpus, out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push([`processor\t: ${i}`, 'model name\t: torov virtual CPU', 'physical id\t: 0', `siblings\t: ${n}`, `core id\t\t: ${i}`,
      `cpu cores\t: ${n}`, `apicid\t\t: ${i}`, 'fpu\t\t: yes', 'wp\t\t: yes', 'clflush size\t: 64', 'cache_alignment\t: 64',
      'address sizes\t: 48 bits physical, 48 bits virtual'].join('\n') + '\n');
  }
  return out.join('\n');
}

/** Signals the program ignores (SIG_IGN) and catches (a handler), as /proc/PID/status shows them. */
function dispositions(k: Kernel): { ign: bigint; cgt: bigint } {
  let ign = 0n, cgt = 0n;
  for (const [sig, act] of k.sigactions) {
    if (act.handler === 1n) ign |= 1n << BigInt(sig - 1);
    else if (act.handler !== 0n) cgt |= 1n << BigInt(sig - 1);
  }
  return { ign, cgt };
}

/** /proc/self/status: identity, memory, threads and signals of the program, torov's view. */
function status(k: Kernel): string {
  const { ign, cgt } = dispositions(k);
  const vm = kB(k.as.committed);
  const cpus = cpuList(k.sched.cpus).trim();
  return [
    `Name:\t${commOf(k)}`, 'Umask:\t0022', 'State:\tR (running)', `Tgid:\t${k.pid}`, 'Ngid:\t0', `Pid:\t${k.pid}`, `PPid:\t${k.ppid}`,
    'TracerPid:\t0', `Uid:\t${k.uid}\t${k.uid}\t${k.uid}\t${k.uid}`, `Gid:\t${k.gid}\t${k.gid}\t${k.gid}\t${k.gid}`,
    'FDSize:\t64', 'Groups:\t', `VmPeak:\t${String(vm).padStart(8)} kB`, `VmSize:\t${String(vm).padStart(8)} kB`,
    `VmRSS:\t${String(vm).padStart(8)} kB`, `Threads:\t${k.sched.threadCount}`, 'SigQ:\t0/0',
    `SigPnd:\t${hex16(k.pendingMask)}`, `ShdPnd:\t${hex16(0n)}`, `SigBlk:\t${hex16(k.sigmask)}`, `SigIgn:\t${hex16(ign)}`, `SigCgt:\t${hex16(cgt)}`,
    'CapInh:\t0000000000000000', 'CapPrm:\t0000000000000000', 'CapEff:\t0000000000000000', 'CapBnd:\t0000000000000000',
    'CapAmb:\t0000000000000000', 'NoNewPrivs:\t1', 'Seccomp:\t0', `Cpus_allowed_list:\t${cpus}`,
  ].join('\n') + '\n';
}

/** /proc/self/stat: the fields ps and top read; CPU times are the VMM's (the guest's, with torov's share). */
function stat(k: Kernel): string {
  const { ign, cgt } = dispositions(k);
  const cpu = process.cpuUsage();
  const ticks = (us: number) => Math.round(us / (1e6 / HZ));
  const f: Array<string | number | bigint> = [k.pid, `(${commOf(k)})`, 'R', k.ppid, k.pid, k.pid, 0, -1, 0x400000, 0, 0, 0, 0,
    ticks(cpu.user), ticks(cpu.system), 0, 0, 20, 0, k.sched.threadCount, 0, 0 /* started at boot */, k.as.committed, Math.floor(k.as.committed / 4096),
    '18446744073709551615', 0, 0, 0, 0, 0, k.pendingMask & 0x7fffffffn, k.sigmask & 0x7fffffffn, ign & 0x7fffffffn, cgt & 0x7fffffffn,
    0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  return f.join(' ') + '\n';
}

/** /proc/self/statm: sizes in pages (what is mapped counts as resident: torov does not know better). */
function statm(k: Kernel): string {
  const pages = Math.floor(k.as.committed / 4096);
  return `${pages} ${pages} 0 0 0 ${pages} 0\n`;
}

/** The bytes of the program's argument or environment strings, as they are in its memory now. */
function area(k: Kernel, a: { start: number; end: number }): string {
  try { return Buffer.from(k.mem.read(a.start, a.end - a.start)).toString('latin1'); } catch { return ''; }
}

/** The program's own files, under /proc/self, /proc/thread-self and /proc/PID. */
const OWN: ReadonlyMap<string, (k: Kernel) => string> = new Map([
  ['maps', maps], ['status', status], ['stat', stat], ['statm', statm],
  ['cmdline', (k: Kernel) => area(k, k.as.argArea)], ['environ', (k: Kernel) => area(k, k.as.envArea)],
]);

/** Guest path -> its contents. */
const FILES: ReadonlyMap<string, (k: Kernel) => string> = new Map([
  ['/proc/cpuinfo', cpuinfo],
  ['/proc/meminfo', meminfo],
  ['/proc/uptime', () => `${secs(uptimeMs())} 0.00\n`],
  ['/proc/loadavg', (k: Kernel) => `0.00 0.00 0.00 1/${k.sched.threadCount} ${k.pid}\n`],
  ['/proc/version', () => `Linux version ${UTS[2]} (torov) ${UTS[3]}\n`],
  ['/proc/sys/kernel/ostype', () => 'Linux\n'],
  ['/proc/sys/kernel/osrelease', () => `${UTS[2]}\n`],
  ['/proc/sys/kernel/pid_max', () => '4194304\n'],
  // Every mapping is charged against --memory, and one past it fails: strict accounting.
  ['/proc/sys/vm/overcommit_memory', () => '2\n'],
  ['/sys/kernel/mm/transparent_hugepage/hpage_pmd_size', () => `${2 << 20}\n`],
  ['/sys/devices/system/cpu/online', (k: Kernel) => cpuList(k.sched.cpus)],
  ['/sys/devices/system/cpu/possible', (k: Kernel) => cpuList(k.sched.cpus)],
  ['/sys/devices/system/cpu/present', (k: Kernel) => cpuList(k.sched.cpus)],
]);

/** The generator of folded guest path `path`, if it is a synthetic file. */
function generator(k: Kernel, path: string): ((k: Kernel) => string) | undefined {
  const f = FILES.get(path);
  if (f) return f;
  const m = /^\/proc\/(self|thread-self|\d+)\/([a-z]+)$/.exec(path);
  if (!m || (m[1] !== 'self' && m[1] !== 'thread-self' && Number(m[1]) !== k.pid)) return undefined;
  return OWN.get(m[2]!);
}

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
  const f = generator(k, path);
  if (!f) return undefined;
  if ((flags & O_ACCMODE) !== O_RDONLY && !(flags & O_PATH)) return -EACCES;
  const text = Buffer.from(f(k), 'latin1');
  const h = sys(HOST.memfd_create, addressOf(name), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (h < 0) return h;
  const w = sys(HOST.write, h, addressOf(text), text.length);
  if (w !== text.length) { sys(HOST.close, h); return w < 0 ? w : -EACCES; }
  sys(HOST.lseek, h, 0, SEEK_SET);
  sys(HOST.fcntl, h, F_ADD_SEALS, SEALS);
  return h;
}

/** True if absolute guest path `p` is a synthetic file (nothing is generated). */
export function isSynthetic(k: Kernel, p: string): boolean {
  return generator(k, fold(p)) !== undefined;
}

/** /proc's device number as stat shows it (its own small anonymous device). */
const PROC_DEV = 0x17;

/**
 * If absolute guest path `p` is a synthetic file, its stat: a read-only regular file of
 * root's, its size the length of what a read gives now, times now (as /proc's are); else
 * undefined. `statx` selects struct statx instead of struct stat.
 */
export function statSynthetic(k: Kernel, p: string, statx = false): Buffer | undefined {
  const f = generator(k, fold(p));
  if (!f) return undefined;
  const size = Buffer.byteLength(f(k), 'latin1');
  const now = Date.now(), sec = BigInt(Math.floor(now / 1000)), nsec = (now % 1000) * 1e6;
  if (!statx) {
    const b = Buffer.alloc(STAT.SIZE);
    b.writeBigUInt64LE(BigInt(PROC_DEV), STAT.st_dev);
    b.writeBigUInt64LE(1n, STAT.st_nlink);
    b.writeUInt32LE(S_IFREG | 0o444, STAT.st_mode);
    b.writeBigInt64LE(BigInt(size), STAT.st_size);
    b.writeBigInt64LE(4096n, STAT.st_blksize);
    for (const [t, n] of [[STAT.st_atime, STAT.st_atime_nsec], [STAT.st_mtime, STAT.st_mtime_nsec], [STAT.st_ctime, STAT.st_ctime_nsec]] as const) {
      b.writeBigInt64LE(sec, t);
      b.writeBigInt64LE(BigInt(nsec), n);
    }
    return b;
  }
  const b = Buffer.alloc(STATX.SIZE);
  b.writeUInt32LE(STATX_BASIC_STATS, STATX.stx_mask);
  b.writeUInt32LE(4096, STATX.stx_blksize);
  b.writeUInt32LE(1, STATX.stx_nlink);
  b.writeUInt16LE(S_IFREG | 0o444, STATX.stx_mode);
  b.writeBigUInt64LE(BigInt(size), STATX.stx_size);
  for (const t of [STATX.stx_atime, STATX.stx_ctime, STATX.stx_mtime]) {
    b.writeBigInt64LE(sec, t);
    b.writeUInt32LE(nsec, t + 8);
  }
  b.writeUInt32LE(0, 136);                         // stx_dev_major
  b.writeUInt32LE(PROC_DEV, 140);                  // stx_dev_minor
  return b;
}
