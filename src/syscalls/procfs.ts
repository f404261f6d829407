/**
 * The text of torov's /proc files and the bytes of its directory listings, from plain data:
 * pure functions, no guest or host access (src/syscalls/synthetic.ts gathers the data).
 * Formats are proc(5)'s and what the kernel prints (fs/proc/array.c, base.c, stat.c):
 * the programs that parse them (ps, top, free, df, glibc, musl) expect exactly these.
 */
import { LINUX_DIRENT64 } from '../linux/structs';

/** Clock ticks per second of /proc's times (USER_HZ, and AT_CLKTCK). */
export const HZ = 100;

/** struct linux_dirent64's d_type values (include/linux/fs_types.h: DT_*). */
export const DT_DIR = 4, DT_REG = 8, DT_LNK = 10;

/** One directory entry: its name, d_type and inode number. */
export interface Dirent { readonly name: string; readonly type: number; readonly ino: number }

const align8 = (n: number) => (n + 7) & ~7;

/**
 * Packs entries[start...] as getdents64 (struct linux_dirent64) or, with `legacy`, as
 * getdents (struct linux_dirent: d_ino, d_off as longs, d_reclen, the name, then d_type in
 * the record's last byte) into at most `size` bytes. d_off is the position after each
 * entry (what lseek takes back). Returns the bytes and the next position; `bytes` is empty
 * when not even entries[start] fits (the caller's EINVAL) or at the end.
 */
export function packDirents(entries: readonly Dirent[], start: number, size: number, legacy = false): { bytes: Buffer; next: number } {
  const parts: Buffer[] = [];
  let used = 0, i = start;
  for (; i < entries.length; i++) {
    const e = entries[i]!;
    const name = Buffer.from(e.name, 'latin1');
    const len = legacy ? align8(18 + name.length + 2) : align8(LINUX_DIRENT64.d_name + name.length + 1);
    if (used + len > size) break;
    const b = Buffer.alloc(len);
    b.writeBigUInt64LE(BigInt(e.ino), 0);
    b.writeBigInt64LE(BigInt(i + 1), 8);
    b.writeUInt16LE(len, 16);
    if (legacy) {
      name.copy(b, 18);
      b[len - 1] = e.type;
    } else {
      b[LINUX_DIRENT64.d_type] = e.type;
      name.copy(b, LINUX_DIRENT64.d_name);
    }
    parts.push(b);
    used += len;
  }
  return { bytes: Buffer.concat(parts, used), next: i };
}

/** A stable inode number for a path of torov's trees (FNV-1a; never 0, 1 or 2). */
export function inodeOf(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) { h ^= path.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h < 3 ? h + 3 : h;
}

/** A CPU list as the kernel prints it: "0" or "0-3". */
export const cpuList = (n: number) => (n === 1 ? '0' : `0-${n - 1}`);

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
const hex16 = (m: bigint) => m.toString(16).padStart(16, '0');
const kB = (bytes: number) => Math.floor(bytes / 1024);
/** A memory line of /proc/PID/status: "VmSize:\t    1234 kB". */
const vmLine = (name: string, bytes: number) => `${name}:\t${String(kB(bytes)).padStart(8)} kB`;

/** A mapping as /proc/PID/maps shows it. */
export interface MapEntry {
  start: number;
  end: number;
  /** PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4. */
  prot: number;
  shared: boolean;
  offset: number;
  /** st_dev and st_ino of a file mapping (0 for anonymous memory). */
  dev: number;
  ino: string;
  /** [stack], [heap], or "". */
  name: string;
}

/** /proc/PID/maps. The device is printed as the kernel's MAJOR:MINOR of st_dev. */
export function mapsText(maps: readonly MapEntry[]): string {
  let out = '';
  for (const v of maps) {
    const perms = `${v.prot & 1 ? 'r' : '-'}${v.prot & 2 ? 'w' : '-'}${v.prot & 4 ? 'x' : '-'}${v.shared ? 's' : 'p'}`;
    const n = v.dev;
    const dev = `${hex((n >>> 8) & 0xfff, 2)}:${hex((n & 0xff) | ((n >>> 12) & 0xfff00), 2)}`;
    const line = `${hex(v.start, 8)}-${hex(v.end, 8)} ${perms} ${hex(v.offset, 8)} ${dev} ${v.ino}`;
    out += `${v.name ? `${line.padEnd(73)}${v.name}` : line}\n`;
  }
  return out;
}

/** What /proc/PID/stat and status show of a process (or of one of its threads, under task/). */
export interface ProcState {
  pid: number;
  /** The thread's id (== pid for the process's own files). */
  tid: number;
  ppid: number;
  pgid: number;
  sid: number;
  comm: string;
  /** 'R' running, 'S' sleeping, 'T' stopped (a stop signal), 'Z' zombie. */
  state: 'R' | 'S' | 'T' | 'Z';
  uid: number;
  gid: number;
  umask: number;
  threads: number;
  /** Bytes of memory mapped (virtual size; torov counts all of it as resident). */
  vm: number;
  /** Start time, ms after the guest's boot. */
  startMs: number;
  /** CPU time, ms. */
  userMs: number;
  systemMs: number;
  pending: bigint;
  shared: bigint;
  blocked: bigint;
  ignored: bigint;
  caught: bigint;
  cpus: number;
  /** The argument and environment strings in memory (0 when unknown). */
  argStart: number;
  argEnd: number;
  envStart: number;
  envEnd: number;
  exitSignal: number;
  /** The wait status's exit code, for a zombie (stat's last field). */
  exitCode: number;
}

const STATE_NAME = { R: 'R (running)', S: 'S (sleeping)', T: 'T (stopped)', Z: 'Z (zombie)' } as const;
const ticks = (ms: number) => Math.max(0, Math.round(ms / (1000 / HZ)));
/** Signal masks in stat are the low 31 bits, as decimals (the kernel's legacy fields). */
const low31 = (m: bigint) => m & 0x7fffffffn;

/** /proc/PID/stat (and task/TID/stat): the 52 fields of proc(5), one line. */
export function statLine(s: ProcState): string {
  const zombie = s.state === 'Z';
  const vm = zombie ? 0 : s.vm;
  const f: Array<string | number | bigint> = [
    s.tid, `(${s.comm})`, s.state, s.ppid, s.pgid, s.sid,
    0, -1,                                   // tty_nr, tpgid
    0x400000,                                // flags: PF_RANDOMIZE, as an ordinary process shows
    0, 0, 0, 0,                              // minflt, cminflt, majflt, cmajflt
    ticks(s.userMs), ticks(s.systemMs), 0, 0, // utime, stime, cutime, cstime
    20, 0, s.threads, 0,                     // priority, nice, num_threads, itrealvalue
    ticks(s.startMs), vm, Math.floor(vm / 4096), '18446744073709551615', // starttime, vsize, rss, rsslim
    0, 0, 0, 0, 0,                           // startcode, endcode, startstack, kstkesp, kstkeip
    low31(s.pending), low31(s.blocked), low31(s.ignored), low31(s.caught),
    0, 0, 0, s.exitSignal, 0, 0, 0, 0, 0, 0, // wchan, nswap, cnswap, exit_signal, processor, rt_priority, policy, blkio, guest, cguest
    0, 0, 0,                                 // start_data, end_data, start_brk
    zombie ? 0 : s.argStart, zombie ? 0 : s.argEnd, zombie ? 0 : s.envStart, zombie ? 0 : s.envEnd,
    zombie ? s.exitCode : 0,
  ];
  return `${f.join(' ')}\n`;
}

/** /proc/PID/status (and task/TID/status). A zombie has no memory lines, as on Linux. */
export function statusText(s: ProcState): string {
  const ids = (n: number) => `${n}\t${n}\t${n}\t${n}`;
  const lines = [
    `Name:\t${s.comm}`, `Umask:\t${s.umask.toString(8).padStart(4, '0')}`, `State:\t${STATE_NAME[s.state]}`,
    `Tgid:\t${s.pid}`, 'Ngid:\t0', `Pid:\t${s.tid}`, `PPid:\t${s.ppid}`, 'TracerPid:\t0',
    `Uid:\t${ids(s.uid)}`, `Gid:\t${ids(s.gid)}`, 'FDSize:\t64', 'Groups:\t',
    `NStgid:\t${s.pid}`, `NSpid:\t${s.tid}`, `NSpgid:\t${s.pgid}`, `NSsid:\t${s.sid}`,
  ];
  if (s.state !== 'Z') {
    lines.push(vmLine('VmPeak', s.vm), vmLine('VmSize', s.vm), vmLine('VmLck', 0), vmLine('VmPin', 0), vmLine('VmHWM', s.vm),
      vmLine('VmRSS', s.vm), vmLine('RssAnon', s.vm), vmLine('RssFile', 0), vmLine('RssShmem', 0), vmLine('VmSwap', 0));
  }
  lines.push(`Threads:\t${s.threads}`, 'SigQ:\t0/0', `SigPnd:\t${hex16(s.pending)}`, `ShdPnd:\t${hex16(s.shared)}`,
    `SigBlk:\t${hex16(s.blocked)}`, `SigIgn:\t${hex16(s.ignored)}`, `SigCgt:\t${hex16(s.caught)}`,
    'CapInh:\t0000000000000000', 'CapPrm:\t0000000000000000', 'CapEff:\t0000000000000000', 'CapBnd:\t0000000000000000',
    'CapAmb:\t0000000000000000', 'NoNewPrivs:\t1', 'Seccomp:\t0',
    `Cpus_allowed:\t${((1n << BigInt(Math.min(s.cpus, 64))) - 1n).toString(16)}`, `Cpus_allowed_list:\t${cpuList(s.cpus)}`,
    'voluntary_ctxt_switches:\t0', 'nonvoluntary_ctxt_switches:\t0');
  return `${lines.join('\n')}\n`;
}

/** /proc/PID/statm: sizes in pages (what is mapped counts as resident: torov does not know better). */
export function statmText(vm: number): string {
  const pages = Math.floor(vm / 4096);
  return `${pages} ${pages} 0 0 0 ${pages} 0\n`;
}

/** The names and units of /proc/PID/limits, in resource order (RLIMIT_CPU ... RLIMIT_RTTIME). */
const LIMITS: ReadonlyArray<readonly [string, string]> = [
  ['Max cpu time', 'seconds'], ['Max file size', 'bytes'], ['Max data size', 'bytes'], ['Max stack size', 'bytes'],
  ['Max core file size', 'bytes'], ['Max resident set', 'bytes'], ['Max processes', 'processes'], ['Max open files', 'files'],
  ['Max locked memory', 'bytes'], ['Max address space', 'bytes'], ['Max file locks', 'locks'], ['Max pending signals', 'signals'],
  ['Max msgqueue size', 'bytes'], ['Max nice priority', ''], ['Max realtime priority', ''], ['Max realtime timeout', 'us'],
];
const RLIM_INFINITY = (1n << 64n) - 1n;

/** /proc/PID/limits: soft and hard limit of each resource (`undefined`: unknown, shown as unlimited). */
export function limitsText(limits: ReadonlyArray<readonly [bigint, bigint] | undefined>): string {
  const v = (n: bigint | undefined) => (n === undefined || n === RLIM_INFINITY ? 'unlimited' : n.toString());
  let out = `${'Limit'.padEnd(25)} ${'Soft Limit'.padEnd(20)} ${'Hard Limit'.padEnd(20)} ${'Units'.padEnd(10)}\n`;
  LIMITS.forEach(([name, unit], i) => {
    const l = limits[i];
    out += `${name.padEnd(25)} ${v(l?.[0]).padEnd(20)} ${v(l?.[1]).padEnd(20)} ${unit ? `${unit.padEnd(10)}\n` : '\n'}`;
  });
  return out;
}

/** What /proc/stat says of the guest's CPUs and processes. */
export interface MachineStat {
  cpus: number;
  /** CPU time the guest's machine used (ms), and how long it has run (ms). */
  userMs: number;
  systemMs: number;
  uptimeMs: number;
  /** The boot time, seconds since the epoch. */
  btime: number;
  processes: number;
  running: number;
}

/**
 * /proc/stat: the cpu lines (the time used spread evenly over the CPUs, the rest idle),
 * boot time and process counts. Counters torov does not keep (interrupts, context
 * switches) are 0.
 */
export function procStatText(m: MachineStat): string {
  const n = Math.max(1, m.cpus);
  const user = ticks(m.userMs), system = ticks(m.systemMs);
  const idle = Math.max(0, ticks(m.uptimeMs) * n - user - system);
  const line = (name: string, u: number, s: number, i: number) => `${name} ${u} 0 ${s} ${i} 0 0 0 0 0 0`;
  const lines = [line('cpu ', user, system, idle)];
  for (let c = 0; c < n; c++) lines.push(line(`cpu${c}`, Math.floor(user / n), Math.floor(system / n), Math.floor(idle / n)));
  lines.push('intr 0', 'ctxt 0', `btime ${m.btime}`, `processes ${m.processes}`, `procs_running ${m.running}`, 'procs_blocked 0',
    'softirq 0 0 0 0 0 0 0 0 0 0 0');
  return `${lines.join('\n')}\n`;
}

/** One mount as /proc/mounts and mountinfo show it. */
export interface MountEntry {
  /** Where the guest sees it. */
  path: string;
  /** The file system type (statfs f_type). */
  magic: number;
  /** statfs f_flags (ST_RDONLY, ST_NOSUID, ...). */
  flags: number;
  /** st_dev of the mount point. */
  dev: number;
}

/** statfs f_type -> the file system's name (include/uapi/linux/magic.h and the file systems' own). */
const FS_TYPES: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext4'], [0x58465342, 'xfs'], [0x9123683e, 'btrfs'], [0x01021994, 'tmpfs'], [0x794c7630, 'overlay'],
  [0x9fa0, 'proc'], [0x62656572, 'sysfs'], [0x6969, 'nfs'], [0x65735546, 'fuse'], [0x2fc12fc1, 'zfs'],
  [0x73717368, 'squashfs'], [0x01021997, '9p'], [0xf2f52010, 'f2fs'], [0x4d44, 'vfat'], [0x858458f6, 'ramfs'],
  [0x1cd1, 'devpts'], [0x63677270, 'cgroup2'], [0x27e0eb, 'cgroup'], [0x3153464a, 'jfs'], [0x52654973, 'reiserfs'],
  [0x5346544e, 'ntfs'], [0x2011bab0, 'exfat'], [0xff534d42, 'cifs'], [0xfe534d42, 'smb2'], [0x6e736673, 'nsfs'],
  [0xcafe4a11, 'bpf'], [0x958458f6, 'hugetlbfs'], [0x137d, 'ext'], [0xef51, 'ext2'],
]);

/** The name of file system type `magic` ("unknown" for one torov does not know). */
export const fsTypeName = (magic: number) => FS_TYPES.get(magic >>> 0) ?? 'unknown';

/** statfs f_flags -> mount options (ST_RDONLY 1, ST_NOSUID 2, ST_NODEV 4, ST_NOEXEC 8, ST_NOATIME 1024, ST_NODIRATIME 2048, ST_RELATIME 4096). */
function mountOptions(flags: number): string {
  const o = [flags & 1 ? 'ro' : 'rw'];
  if (flags & 2) o.push('nosuid');
  if (flags & 4) o.push('nodev');
  if (flags & 8) o.push('noexec');
  if (flags & 1024) o.push('noatime');
  if (flags & 2048) o.push('nodiratime');
  if (flags & 4096) o.push('relatime');
  return o.join(',');
}

/** Spaces, tabs, newlines and backslashes in a mount path, escaped as the kernel escapes them (\040). */
const mangle = (p: string) => p.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);

/** /proc/PID/mounts (and /proc/mounts): "SOURCE PATH TYPE OPTIONS 0 0"; the source is the type's name (no host device names). */
export function mountsText(mounts: readonly MountEntry[]): string {
  return mounts.map((m) => { const t = fsTypeName(m.magic); return `${t} ${mangle(m.path)} ${t} ${mountOptions(m.flags)} 0 0\n`; }).join('');
}

/**
 * /proc/PID/mountinfo: mount ids from 21 in order, each one's parent the closest mount
 * above it (the root's is itself), the mount point's device, and every mount shown from
 * the root of what it mounts ("/").
 */
export function mountinfoText(mounts: readonly MountEntry[]): string {
  const id = (i: number) => 21 + i;
  const within = (p: string, dir: string) => dir === '/' ? p !== '/' : p.startsWith(`${dir}/`);
  return mounts.map((m, i) => {
    let parent = id(0);
    for (let j = i - 1; j >= 0; j--) if (within(m.path, mounts[j]!.path)) { parent = id(j); break; }
    const major = (m.dev >>> 8) & 0xfff, minor = (m.dev & 0xff) | ((m.dev >>> 12) & 0xfff00);
    const t = fsTypeName(m.magic), opts = mountOptions(m.flags);
    return `${id(i)} ${parent} ${major}:${minor} / ${mangle(m.path)} ${opts} - ${t} ${t} ${opts.split(',')[0]}\n`;
  }).join('');
}

/** /proc/PID/fdinfo/N: the position, flags (octal, O_CLOEXEC included) and mount id. */
export function fdinfoText(pos: number, flags: number, mntId: number, ino: number): string {
  return `pos:\t${pos}\nflags:\t0${flags.toString(8)}\nmnt_id:\t${mntId}\nino:\t${ino}\n`;
}
