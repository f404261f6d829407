/**
 * torov's /proc and /sys: trees of files, directories and links that torov makes up for
 * the guest from its own state (its processes and threads, their memory, fds and limits,
 * the CPUs it sees, what its jail mounted), never from the host's /proc. Both trees are
 * torov's alone: a path under /proc or /sys that is not here does not exist for the guest.
 *
 * - /proc: cpuinfo, meminfo, uptime, loadavg, version, stat, mounts, a few sysctls under
 *   sys/, self and thread-self, and a directory per guest process (and, unlisted, per
 *   thread id, as Linux has): status, stat, statm, comm, cmdline, environ, maps, limits,
 *   mounts, mountinfo, the links exe, cwd and root, fd/ (a link per open fd), fdinfo/ and
 *   task/ (a directory per thread).
 * - /sys: devices/system/cpu (online, possible, present, cpuN) and the huge page size.
 *
 * Contents are generated when a file is opened (or stat'ed, for its size) into a sealed
 * memfd, so reading it is an ordinary host read; a directory's entries are made at its
 * first getdents (src/syscalls/fs.ts serves them). Paths are looked up lexically ("." and
 * ".." folded), links followed as Linux follows them: self, thread-self and mounts inside
 * the tree; exe, cwd, root and fd/N out of it (to the guest path they name, or to the open
 * host file itself). Another process's environ, maps, fds and links follow Linux's rule
 * for the same user: readable unless it made itself non-dumpable (PR_SET_DUMPABLE 0).
 */
import { Kernel, ProcessInfo } from './api';
import { BOOT_MS, commOf, dumpableOf, guestMemory, limitsOf, uptimeMs, UTS } from './process';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { cwdPath, hostFdPath } from './hostproc';
import {
  MFD_ALLOW_SEALING, MFD_CLOEXEC, F_ADD_SEALS, F_GETFL, O_ACCMODE, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_PATH,
  RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, SEEK_CUR, SEEK_SET,
} from '../linux/fcntl';
import { EACCES, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR } from '../linux/errno';
import { STAT, STATFS, STATX } from '../linux/structs';
import { S_IFDIR, S_IFLNK, S_IFREG, STATX_BASIC_STATS } from '../linux/stat';
import type { SyntheticFile } from './fdtable';
import {
  cpuList, Dirent, DT_DIR, DT_LNK, DT_REG, fdinfoText, inodeOf, limitsText, MapEntry, mapsText, MountEntry, mountinfoText,
  mountsText, ProcState, procStatText, statLine, statmText, statusText,
} from './procfs';
import { EPOCH_OF_NOW_MS } from '../host/clock';

// ---------------------------------------------------------------------------------------
// The nodes

/** What a link leads to: a guest path (looked up again, in the trees or not), or an open host file. */
export type Follow = { path: string } | { fd: number };

/** A node of the trees. `owner`: the process whose directory it is in (its uid and gid own it), else root. */
export type SynNode =
  | { t: 'file'; owner?: ProcessInfo; mode: number; text(): string | number }
  | { t: 'dir'; owner?: ProcessInfo; list(): Array<{ name: string; type: number }> | number; child(name: string): SynNode | undefined }
  | { t: 'link'; owner?: ProcessInfo; magic: boolean; target(): string | number; follow(): Follow | number; mode?: number; size?: number };

const file = (text: () => string | number, owner?: ProcessInfo, mode = 0o444): SynNode => ({ t: 'file', owner, mode, text });

/** A directory of fixed entries (each made on lookup). */
function dir(entries: ReadonlyMap<string, () => SynNode>, owner?: ProcessInfo): SynNode {
  return {
    t: 'dir', owner,
    list: () => [...entries].map(([name, make]) => ({ name, type: typeOf(make()) })),
    child: (name) => entries.get(name)?.(),
  };
}

const typeOf = (n: SynNode) => (n.t === 'dir' ? DT_DIR : n.t === 'link' ? DT_LNK : DT_REG);

// ---------------------------------------------------------------------------------------
// The machine's files

/** One line of /proc/meminfo: the name padded as Linux pads it, the value in kB. */
const memLine = (name: string, bytes: number) => `${`${name}:`.padEnd(16)}${String(Math.floor(bytes / 1024)).padStart(8)} kB`;

/** /proc/meminfo: the guest's memory (--memory) and what its processes have not mapped of it. */
function meminfo(k: Kernel): string {
  const { total, used } = guestMemory(k), free = total - used;
  return [
    memLine('MemTotal', total), memLine('MemFree', free), memLine('MemAvailable', free), memLine('Buffers', 0),
    memLine('Cached', 0), memLine('SwapCached', 0), memLine('Active', used), memLine('Inactive', 0),
    memLine('SwapTotal', 0), memLine('SwapFree', 0), memLine('Shmem', 0), memLine('SReclaimable', 0), memLine('CommitLimit', total),
    memLine('Committed_AS', used), memLine('Hugepagesize', 2 << 20),
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

/** The highest pid or tid in use, and the lowest pid (the first process's). */
function idRange(k: Kernel): { first: number; last: number } {
  let first = Infinity, last = 0;
  for (const p of k.sched.processes()) {
    first = Math.min(first, p.pid);
    last = Math.max(last, p.pid);
    for (const t of p.tasks) last = Math.max(last, t.tid);
  }
  return { first: first === Infinity ? k.pid : first, last: Math.max(last, k.tid) };
}

/** CPU time of the guest's machine: the VMM's (the guest's work and torov's on its behalf), ms. */
function machineCpu(): { userMs: number; systemMs: number } {
  const c = process.cpuUsage();
  return { userMs: c.user / 1000, systemMs: c.system / 1000 };
}

/** /proc/stat: CPU time, boot time, and processes ("processes" counts the ids handed out, threads included, as Linux's forks). */
function procStat(k: Kernel): string {
  const { first, last } = idRange(k);
  return procStatText({ cpus: k.sched.cpus, ...machineCpu(), uptimeMs: uptimeMs(), btime: Math.floor(BOOT_MS / 1000),
    processes: last - first + 1, running: 1 });
}

/** /proc/uptime: seconds since the guest's boot, and the CPUs' idle seconds (what /proc/stat's cpu line does not use). */
function uptime(k: Kernel): string {
  const up = uptimeMs(), c = machineCpu();
  const idle = Math.max(0, up * k.sched.cpus - c.userMs - c.systemMs);
  return `${(up / 1000).toFixed(2)} ${(idle / 1000).toFixed(2)}\n`;
}

/** statfs(2) of a path, into a scratch struct; -errno. */
const statfsBuf = Buffer.alloc(STATFS.SIZE), statfsAddr = addressOf(statfsBuf);
const statBuf = Buffer.alloc(STAT.SIZE), statAddr = addressOf(statBuf);

/** What the guest has mounted (src/sandbox/jail.ts: guestMounts; "/" alone without a jail), each as the kernel reports it now, and torov's /proc and /sys. */
function mounts(): MountEntry[] {
  const { guestMounts } = require('../sandbox/jail') as typeof import('../sandbox/jail');
  const out: MountEntry[] = [];
  for (const path of guestMounts.length ? guestMounts : ['/']) {
    const p = Buffer.from(`${path}\0`, 'latin1');
    if (sys(HOST.statfs, addressOf(p), statfsAddr) < 0) continue;
    const dev = sys(HOST.stat, addressOf(p), statAddr) < 0 ? 0 : Number(statBuf.readBigUInt64LE(STAT.st_dev));
    out.push({ path, magic: Number(statfsBuf.readBigUInt64LE(STATFS.f_type)), flags: Number(statfsBuf.readBigUInt64LE(STATFS.f_flags)), dev });
  }
  // proc rw and sysfs ro, both nosuid,nodev,noexec,relatime, as a container has them.
  out.push({ path: '/proc', magic: PROC_MAGIC, flags: 2 | 4 | 8 | 4096, dev: PROC_DEV });
  out.push({ path: '/sys', magic: SYSFS_MAGIC, flags: 1 | 2 | 4 | 8 | 4096, dev: SYS_DEV });
  return out;
}

/** Guest path -> contents, for the fixed files of both trees. */
const FILES: ReadonlyMap<string, (k: Kernel) => string> = new Map([
  ['/proc/cpuinfo', cpuinfo],
  ['/proc/meminfo', meminfo],
  ['/proc/uptime', uptime],
  ['/proc/loadavg', (k: Kernel) => `0.00 0.00 0.00 1/${k.sched.threadCount} ${idRange(k).last}\n`],
  ['/proc/version', () => `Linux version ${UTS[2]} (torov) ${UTS[3]}\n`],
  ['/proc/stat', procStat],
  ['/proc/sys/kernel/ostype', () => 'Linux\n'],
  ['/proc/sys/kernel/osrelease', () => `${UTS[2]}\n`],
  ['/proc/sys/kernel/hostname', () => `${UTS[1]}\n`],
  ['/proc/sys/kernel/pid_max', () => '4194304\n'],
  // Every mapping is charged against --memory, and one past it fails: strict accounting.
  ['/proc/sys/vm/overcommit_memory', () => '2\n'],
  ['/sys/kernel/mm/transparent_hugepage/hpage_pmd_size', () => `${2 << 20}\n`],
  ['/sys/devices/system/cpu/online', (k: Kernel) => `${cpuList(k.sched.cpus)}\n`],
  ['/sys/devices/system/cpu/possible', (k: Kernel) => `${cpuList(k.sched.cpus)}\n`],
  ['/sys/devices/system/cpu/present', (k: Kernel) => `${cpuList(k.sched.cpus)}\n`],
]);

/** The fixed directories: path -> its entries' names, whether each is a directory (made once from FILES). */
const DIRS: ReadonlyMap<string, ReadonlyMap<string, boolean>> = (() => {
  const dirs = new Map<string, Map<string, boolean>>();
  for (const f of FILES.keys()) {
    const parts = f.split('/').slice(1);
    for (let i = 0; i < parts.length; i++) {
      const at = `/${parts.slice(0, i).join('/')}`;
      if (!dirs.has(at)) dirs.set(at, new Map());
      dirs.get(at)!.set(parts[i]!, i < parts.length - 1);
    }
  }
  return dirs;
})();

/** The fixed node at folded path `path` (a FILES file or a DIRS directory, with the dynamic entries of /proc and the CPU directory). */
function fixed(k: Kernel, path: string): SynNode | undefined {
  const f = FILES.get(path);
  if (f) return file(() => f(k));
  const entries = DIRS.get(path);
  if (!entries) return undefined;
  const sub = (name: string) => (path === '/' ? `/${name}` : `${path}/${name}`);
  const base = {
    list: () => [...entries].map(([name, isDir]) => ({ name, type: isDir ? DT_DIR : DT_REG })),
    child: (name: string) => (entries.has(name) ? fixed(k, sub(name)) : undefined),
  };
  if (path === '/proc') return procRoot(k, base);
  if (path === '/sys/devices/system/cpu') {
    // cpu0 ... cpuN-1, empty directories: glibc and busybox's nproc --all count them.
    const cpu = /^cpu(0|[1-9]\d{0,3})$/;
    return {
      t: 'dir',
      list: () => [...base.list(), ...Array.from({ length: k.sched.cpus }, (_, i) => ({ name: `cpu${i}`, type: DT_DIR }))],
      child: (name) => base.child(name) ?? (cpu.test(name) && Number(name.slice(3)) < k.sched.cpus ? dir(new Map()) : undefined),
    };
  }
  return { t: 'dir', ...base };
}

/** A link inside the trees: to `target`, relative to the directory it is in (/proc). */
function innerLink(target: string, from: string): SynNode {
  return { t: 'link', magic: false, target: () => target, follow: () => ({ path: `${from}/${target}` }) };
}

/** /proc: the fixed entries, self, thread-self, mounts, and a directory per process (and per thread id, unlisted). */
function procRoot(k: Kernel, base: { list(): Array<{ name: string; type: number }>; child(name: string): SynNode | undefined }): SynNode {
  return {
    t: 'dir',
    list: () => {
      const pids = [...k.sched.processes()].map((p) => p.pid).sort((a, b) => a - b);
      return [...base.list(), { name: 'self', type: DT_LNK }, { name: 'thread-self', type: DT_LNK }, { name: 'mounts', type: DT_LNK },
        ...pids.map((pid) => ({ name: String(pid), type: DT_DIR }))];
    },
    child: (name) => {
      if (name === 'self') return innerLink(String(k.pid), '/proc');
      if (name === 'thread-self') return innerLink(`${k.pid}/task/${k.tid}`, '/proc');
      if (name === 'mounts') return innerLink('self/mounts', '/proc');
      if (!/^[1-9]\d{0,9}$/.test(name)) return base.child(name);
      const id = Number(name), p = k.sched.process(id);
      if (p) return processDir(k, p, undefined);
      // A thread's id: its own view of the process (not listed, as on Linux).
      for (const q of k.sched.processes()) {
        const t = q.tasks.find((u) => u.tid === id);
        if (t) return processDir(k, q, t);
      }
      return undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------
// A process's files

/** Whether `k` may read `p`'s private files (environ, maps, fds, links): Linux's ptrace read check for the same user. */
function mayRead(k: Kernel, p: ProcessInfo): boolean {
  if (p === k.process) return true;
  const leader = p.tasks[0];
  return leader === undefined || dumpableOf(leader);
}

/** Signals `p` ignores (SIG_IGN) and catches (a handler). */
function dispositions(p: ProcessInfo): { ign: bigint; cgt: bigint } {
  let ign = 0n, cgt = 0n;
  for (const [sig, act] of p.sigactions) {
    if (act.handler === 1n) ign |= 1n << BigInt(sig - 1);
    else if (act.handler !== 0n) cgt |= 1n << BigInt(sig - 1);
  }
  return { ign, cgt };
}

/** The comm of process `p`'s thread `t` (or of its first thread): prctl's name, else the executable's. */
function commFor(p: ProcessInfo, t: Kernel | undefined): string {
  if (t) return commOf(t);
  return p.exe.slice(p.exe.lastIndexOf('/') + 1).slice(0, 15);
}

/**
 * What stat and status show of process `p` (its thread `t`, under task/ or /proc/TID).
 * CPU time is not counted per process (0); the caller's process is running (R), a
 * stopped one T, the others sleeping (S): torov does not follow each thread's state.
 */
function procState(k: Kernel, p: ProcessInfo, t: Kernel | undefined): ProcState {
  const who = t ?? p.tasks[0];
  const { ign, cgt } = dispositions(p);
  const alive = p.alive;
  const state = !alive ? 'Z' : p.stopped ? 'T' : (t ? t === k : p === k.process) ? 'R' : 'S';
  return {
    pid: p.pid, tid: who?.tid ?? p.pid, ppid: p.ppid, pgid: p.pgid, sid: p.sid, comm: commFor(p, who), state,
    uid: p.uid, gid: p.gid, umask: p.umask, threads: Math.max(1, p.tasks.length), vm: alive ? p.as.committed : 0,
    // CPU time: what its threads' host threads spent for it (all as user time; 0 for a lone
    // program whose vCPU runs on the VMM's main thread).
    startMs: Math.max(0, EPOCH_OF_NOW_MS + p.started - BOOT_MS), userMs: k.sched.processCpuNs(p.pid) / 1e6, systemMs: 0,
    pending: who?.pendingMask ?? 0n, shared: 0n, blocked: who?.sigmask ?? 0n, ignored: ign, caught: cgt, cpus: k.sched.cpus,
    argStart: alive ? p.as.argArea.start : 0, argEnd: alive ? p.as.argArea.end : 0,
    envStart: alive ? p.as.envArea.start : 0, envEnd: alive ? p.as.envArea.end : 0,
    exitSignal: 17, exitCode: (p.waitStatus >> 8) & 0xff,
  };
}

/** The bytes of `p`'s argument or environment strings, as they are in its memory now ("" once it ended). */
function area(p: ProcessInfo, a: { start: number; end: number }): string {
  if (!p.alive || a.end <= a.start) return '';
  try { return Buffer.from(p.mem.read(a.start, a.end - a.start)).toString('latin1'); } catch { return ''; }
}

/** `p`'s mappings for maps: file mappings show the host file's device and inode, not its path (torov does not keep it). */
function mapEntries(p: ProcessInfo): MapEntry[] {
  if (!p.alive) return [];
  return p.as.vmas.map((v) => {
    const [d, i] = v.file ? v.file.id.split(':') : [];
    return { start: v.start, end: v.end, prot: v.prot, shared: v.kind === 'shared' || v.kind === 'shmem', offset: v.file?.offset ?? 0,
      dev: Number(d ?? 0), ino: i ?? '0', name: v.kind === 'stack' ? '[stack]' : v.kind === 'heap' ? '[heap]' : '' };
  });
}

/** `p`'s working directory: what readlink shows, and where following it leads. */
function cwdOf(k: Kernel, p: ProcessInfo): { text: string; follow: Follow } | number {
  if (!p.alive) return -ENOENT;
  const syn = p.fds.synCwd;
  if (syn !== undefined) return { text: syn, follow: { path: syn } };
  if (p === k.process) { const c = cwdPath(); return { text: c, follow: { path: c } }; }
  return p.cwdFd >= 0 ? { text: hostFdPath(p.cwdFd), follow: { fd: p.cwdFd } } : -ENOENT;
}

/** A link out of the trees, readable (and followed) only when `k` may read `p`'s private files. */
function magic(k: Kernel, p: ProcessInfo, target: () => string | number, follow: () => Follow | number): SynNode {
  return {
    t: 'link', owner: p, magic: true,
    target: () => (!mayRead(k, p) ? -EACCES : target()),
    follow: () => (!mayRead(k, p) ? -EACCES : follow()),
  };
}

/** fd/: a link per open fd of `p`, to the file it has open (a /proc file by its path). */
function fdDir(k: Kernel, p: ProcessInfo): SynNode {
  const fds = () => (!mayRead(k, p) ? -EACCES : p.alive ? p.fds.list() : []);
  return {
    t: 'dir', owner: p,
    list: () => { const l = fds(); return typeof l === 'number' ? l : l.map((n) => ({ name: String(n), type: DT_LNK })); },
    child: (name) => {
      if (!/^(0|[1-9]\d{0,8})$/.test(name) || !p.alive) return undefined;
      const n = Number(name), h = p.fds.get(n);
      if (h < 0) return undefined;
      const syn = p.fds.synthetic.get(n);
      const link = magic(k, p, () => syn?.path ?? (hostFdPath(h) || -ENOENT), () => (syn ? { path: syn.path } : { fd: h }));
      // lr-x------, l-wx------ or lrwx------ as the fd was opened, and size 64, as Linux shows them.
      const acc = (syn ? syn.flags : sys(HOST.fcntl, h, F_GETFL)) & O_ACCMODE;
      return { ...link, mode: acc === O_RDONLY ? 0o500 : acc === 1 ? 0o300 : 0o700, size: 64 } as SynNode;
    },
  };
}

/** fdinfo/: a file per open fd of `p`: its position, its flags (as opened, with close-on-exec), the root's mount id, its inode. */
function fdinfoDir(k: Kernel, p: ProcessInfo): SynNode {
  const fds = () => (!mayRead(k, p) ? -EACCES : p.alive ? p.fds.list() : []);
  return {
    t: 'dir', owner: p,
    list: () => { const l = fds(); return typeof l === 'number' ? l : l.map((n) => ({ name: String(n), type: DT_REG })); },
    child: (name) => {
      if (!/^(0|[1-9]\d{0,8})$/.test(name) || !p.alive || p.fds.get(Number(name)) < 0) return undefined;
      const n = Number(name);
      return file(() => {
        const h = p.fds.get(n);
        if (h < 0 || !mayRead(k, p)) return h < 0 ? -ENOENT : -EACCES;
        const pos = sys(HOST.lseek, h, 0, SEEK_CUR);
        const syn = p.fds.synthetic.get(n);
        const fl = syn ? syn.flags : sys(HOST.fcntl, h, F_GETFL);
        const ino = sys(HOST.fstat, h, statAddr) < 0 ? 0 : Number(statBuf.readBigUInt64LE(STAT.st_ino));
        return fdinfoText(Math.max(0, pos), (Math.max(0, fl) & ~O_CLOEXEC) | (p.fds.getFlags(n) & 1 ? O_CLOEXEC : 0), 21, ino);
      }, p, 0o400);
    },
  };
}

/**
 * /proc/PID (t undefined), /proc/PID/task/TID and /proc/TID (t the thread): the files
 * of process `p`, seen from thread `t` where a file is per thread (stat, status, comm).
 */
function processDir(k: Kernel, p: ProcessInfo, t: Kernel | undefined): SynNode {
  const entries = new Map<string, () => SynNode>([
    ['stat', () => file(() => statLine(procState(k, p, t)), p)],
    ['status', () => file(() => statusText(procState(k, p, t)), p)],
    ['statm', () => file(() => statmText(p.alive ? p.as.committed : 0), p)],
    ['comm', () => file(() => `${commFor(p, t ?? p.tasks[0])}\n`, p, 0o644)],
    ['cmdline', () => file(() => area(p, p.as.argArea), p)],
    ['environ', () => file(() => (mayRead(k, p) ? area(p, p.as.envArea) : -EACCES), p, 0o400)],
    ['maps', () => file(() => (mayRead(k, p) ? mapsText(mapEntries(p)) : -EACCES), p)],
    ['limits', () => file(() => {
      const who = t ?? p.tasks[0];
      return limitsText(who ? limitsOf(who).map((l) => (typeof l === 'number' ? undefined : l)) : []);
    }, p)],
    ['mounts', () => file(() => mountsText(mounts()), p)],
    ['mountinfo', () => file(() => mountinfoText(mounts()), p)],
    ['exe', () => magic(k, p, () => (p.alive ? p.exe : -ENOENT), () => (p.alive ? { path: p.exe } : -ENOENT))],
    ['cwd', () => magic(k, p, () => { const c = cwdOf(k, p); return typeof c === 'number' ? c : c.text; },
      () => { const c = cwdOf(k, p); return typeof c === 'number' ? c : c.follow; })],
    ['root', () => magic(k, p, () => (p.alive ? '/' : -ENOENT), () => (p.alive ? { path: '/' } : -ENOENT))],
    ['fd', () => fdDir(k, p)],
    ['fdinfo', () => fdinfoDir(k, p)],
  ]);
  if (!t) entries.set('task', () => taskDir(k, p));
  return {
    t: 'dir', owner: p,
    // Listed without making the nodes (each would be made only to tell its type).
    list: () => [...entries.keys()].map((name) => ({ name, type: name === 'fd' || name === 'fdinfo' || name === 'task' ? DT_DIR
      : name === 'exe' || name === 'cwd' || name === 'root' ? DT_LNK : DT_REG })),
    child: (name) => entries.get(name)?.(),
  };
}

/** task/: a directory per thread of `p` (a zombie keeps its first thread's). */
function taskDir(k: Kernel, p: ProcessInfo): SynNode {
  return {
    t: 'dir', owner: p,
    list: () => (p.tasks.length ? p.tasks.map((t) => t.tid) : [p.pid]).map((tid) => ({ name: String(tid), type: DT_DIR })),
    child: (name) => {
      if (!/^[1-9]\d{0,9}$/.test(name)) return undefined;
      const t = p.tasks.find((u) => u.tid === Number(name));
      if (t) return processDir(k, p, t);
      return !p.alive && Number(name) === p.pid ? processDir(k, p, undefined) : undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Looking paths up

/** An absolute path with "//", "." and ".." folded lexically. */
export function fold(p: string): string {
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop(); else out.push(c);
  }
  return `/${out.join('/')}`;
}

/** Whether folded path `f` is in the trees (/proc, /sys, or below). */
const inTrees = (f: string) => f === '/proc' || f === '/sys' || f.startsWith('/proc/') || f.startsWith('/sys/');

/**
 * A cheap first test on an absolute path's text: false when it cannot be in the trees
 * whatever folding does ("/usr/...", "/home/..."); true for "/proc", "/sys" and below,
 * and for a path that starts with "//" or "/." (folded to know).
 */
export function mayBeInTrees(text: string): boolean {
  if (text.charCodeAt(0) !== 0x2f) return false;
  const c = text.charCodeAt(1);
  if (c === 0x70 /* p */) return text.startsWith('/proc') && (text.length === 5 || text.charCodeAt(5) === 0x2f);
  if (c === 0x73 /* s */) return text.startsWith('/sys') && (text.length === 4 || text.charCodeAt(4) === 0x2f);
  return c === 0x2f || c === 0x2e;
}

/**
 * What a path names in the trees: a node (with its canonical path, links resolved), an
 * open host file (a followed fd/N or cwd link), a guest path out of the trees (a followed
 * exe or root link, or "/proc/.."), or -errno (ENOENT, ENOTDIR, ELOOP, EACCES).
 */
export type Found = { node: SynNode; path: string } | { fd: number } | { outside: string } | number;

/** Links followed in one lookup at most (Linux's MAXSYMLINKS). */
const MAX_LINKS = 40;

/**
 * Looks up absolute guest path `text` in the trees; undefined when it is not in them.
 * `follow`: whether a link as the last component is followed (stat vs lstat, O_NOFOLLOW).
 * `resolve`: openat2's RESOLVE_NO_SYMLINKS and RESOLVE_NO_MAGICLINKS, honoured here.
 */
export function lookup(k: Kernel, text: string, follow: boolean, resolve = 0): Found | undefined {
  if (!mayBeInTrees(text)) return undefined;
  const f = fold(text);
  if (!inTrees(f)) return text.startsWith('/proc/') || text.startsWith('/sys/') ? { outside: f } : undefined;
  // A trailing "/" (or "/.") names a directory: a link there is followed, and a file is ENOTDIR.
  const dirOnly = /\/\.?$/.test(text);
  const r = walk(k, f, follow || dirOnly, resolve, 0);
  return dirOnly && typeof r === 'object' && 'node' in r && r.node.t !== 'dir' ? -ENOTDIR : r;
}

function walk(k: Kernel, f: string, follow: boolean, resolve: number, depth: number): Found {
  const parts = f.split('/').slice(1);
  let node = fixed(k, `/${parts[0]}`)!;
  let canon = `/${parts[0]}`;
  for (let i = 1; i < parts.length; i++) {
    if (node.t !== 'dir') return -ENOTDIR;
    const c = node.child(parts[i]!);
    if (!c) return -ENOENT;
    const last = i === parts.length - 1;
    if (c.t === 'link' && (!last || follow)) {
      if (resolve & RESOLVE_NO_SYMLINKS || (c.magic && resolve & RESOLVE_NO_MAGICLINKS) || depth >= MAX_LINKS) return -ELOOP;
      const to = c.follow();
      if (typeof to === 'number') return to;
      const rest = parts.slice(i + 1).join('/');
      if ('fd' in to) {
        if (last) return to;
        const at = hostFdPath(to.fd);
        return at.startsWith('/') ? { outside: fold(`${at}/${rest}`) } : -ENOTDIR;
      }
      const next = fold(`${to.path}/${rest}`);
      return inTrees(next) ? walk(k, next, follow, resolve, depth + 1) : { outside: next };
    }
    node = c;
    canon += `/${parts[i]}`;
  }
  return { node, path: canon };
}

// ---------------------------------------------------------------------------------------
// What fs.ts does with a node

/** F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE (linux/fcntl.h). */
const SEALS = 0x1 | 0x2 | 0x4 | 0x8;
const memfdName = Buffer.from('torov-synthetic\0');

/** A sealed memfd holding `text` (empty for a directory), or -errno. */
function sealed(text: string): number {
  const b = Buffer.from(text, 'latin1');
  const h = sys(HOST.memfd_create, addressOf(memfdName), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (h < 0) return h;
  const w = b.length ? sys(HOST.write, h, addressOf(b), b.length) : 0;
  if (w !== b.length) { sys(HOST.close, h); return w < 0 ? w : -EACCES; }
  sys(HOST.lseek, h, 0, SEEK_SET);
  sys(HOST.fcntl, h, F_ADD_SEALS, SEALS);
  return h;
}

/** S_IFDIR|0555, S_IFLNK with the link's permissions (0777 unless an fd's), or S_IFREG with the file's. */
const modeOf = (n: SynNode) => (n.t === 'dir' ? S_IFDIR | 0o555 : n.t === 'link' ? S_IFLNK | (n.mode ?? 0o777) : S_IFREG | n.mode);

/**
 * Opens node `n` (found at canonical path `path`) with open flags `flags`: a host fd of a
 * sealed memfd and what the fd table keeps of it, or -errno. Writing is EACCES (EISDIR for
 * a directory, as O_CREAT is), O_DIRECTORY of a file ENOTDIR, O_CREAT|O_EXCL EEXIST; a link
 * not followed (O_NOFOLLOW) is ELOOP.
 */
export function openNode(k: Kernel, n: SynNode, path: string, flags: number): { h: number; file: SyntheticFile } | number {
  if (n.t === 'link') return -ELOOP;
  if ((flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) return -EEXIST;
  const write = (flags & O_ACCMODE) !== O_RDONLY && !(flags & O_PATH);
  if (n.t === 'dir') {
    if (write || flags & O_CREAT) return -EISDIR;
    const l = n.list();
    if (typeof l === 'number') return l;
  } else {
    if (flags & O_DIRECTORY) return -ENOTDIR;
    if (write) return -EACCES;
  }
  let text = '';
  if (n.t === 'file') {
    const t = n.text();
    if (typeof t === 'number') return t;
    text = t;
  }
  const h = sealed(text);
  if (h < 0) return h;
  return { h, file: { path, mode: modeOf(n), uid: n.owner?.uid ?? 0, gid: n.owner?.gid ?? 0, flags: flags & ~O_CLOEXEC,
    ...(n.t === 'dir' ? { dir: { entries: undefined, pos: 0 } } : {}) } };
}

/** /proc's and /sys's device numbers as stat shows them (small anonymous devices of their own). */
const PROC_DEV = 0x17, SYS_DEV = 0x16;
/** statfs f_type of proc and sysfs (linux/magic.h). */
const PROC_MAGIC = 0x9fa0, SYSFS_MAGIC = 0x62656572;

const devOf = (path: string) => (path.startsWith('/sys') ? SYS_DEV : PROC_DEV);

/**
 * struct stat (or, with `statx`, struct statx) of a file of the trees at canonical path
 * `path`: its device (proc's or sysfs's), an inode number made from the path, the times
 * now (as /proc's are), and the rest from `info`.
 */
export function statOf(path: string, info: { mode: number; uid: number; gid: number; size: number; nlink: number }, statx: boolean): Buffer {
  const now = Date.now(), sec = BigInt(Math.floor(now / 1000)), nsec = (now % 1000) * 1e6;
  const ino = BigInt(inodeOf(path)), dev = devOf(path);
  if (!statx) {
    const b = Buffer.alloc(STAT.SIZE);
    b.writeBigUInt64LE(BigInt(dev), STAT.st_dev);
    b.writeBigUInt64LE(ino, STAT.st_ino);
    b.writeBigUInt64LE(BigInt(info.nlink), STAT.st_nlink);
    b.writeUInt32LE(info.mode, STAT.st_mode);
    b.writeUInt32LE(info.uid, STAT.st_uid);
    b.writeUInt32LE(info.gid, STAT.st_gid);
    b.writeBigInt64LE(BigInt(info.size), STAT.st_size);
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
  b.writeUInt32LE(info.nlink, STATX.stx_nlink);
  b.writeUInt32LE(info.uid, STATX.stx_uid);
  b.writeUInt32LE(info.gid, STATX.stx_gid);
  b.writeUInt16LE(info.mode, STATX.stx_mode);
  b.writeBigUInt64LE(ino, STATX.stx_ino);
  b.writeBigUInt64LE(BigInt(info.size), STATX.stx_size);
  for (const t of [STATX.stx_atime, STATX.stx_ctime, STATX.stx_mtime]) {
    b.writeBigInt64LE(sec, t);
    b.writeUInt32LE(nsec, t + 8);
  }
  b.writeUInt32LE(0, 136);                         // stx_dev_major
  b.writeUInt32LE(dev, 140);                       // stx_dev_minor
  return b;
}

/**
 * stat of node `n` at canonical path `path`: a file's size is the length of what a read
 * gives now; a link's is 0 (64 for an fd's), as /proc's are; a directory has 2 links and
 * one per subdirectory (a file the caller may not read, another's environ, shows size 0).
 */
export function statNode(n: SynNode, path: string, statx: boolean): Buffer {
  let size = 0, nlink = 1;
  if (n.t === 'file') {
    const t = n.text();
    size = typeof t === 'number' ? 0 : Buffer.byteLength(t, 'latin1');
  } else if (n.t === 'link') {
    size = n.size ?? 0;
  } else {
    const l = n.list();
    nlink = 2 + (typeof l === 'number' ? 0 : l.filter((e) => e.type === DT_DIR).length);
  }
  return statOf(path, { mode: modeOf(n), uid: n.owner?.uid ?? 0, gid: n.owner?.gid ?? 0, size, nlink }, statx);
}

/** fstat of an open file of the trees (`size`: its memfd's, what reads give). */
export function statOpen(f: SyntheticFile, size: number, statx: boolean): Buffer {
  return statOf(f.path, { mode: f.mode, uid: f.uid, gid: f.gid, size: f.dir ? 0 : size, nlink: f.dir ? 2 : 1 }, statx);
}

/** access(2) of node `n`: read and search by anyone its mode lets; writing for root only (its open then fails), as Linux answers. */
export function accessNode(k: Kernel, n: SynNode, mode: number): number {
  if (mode & ~7) return -EINVAL;
  const perm = modeOf(n) & 0o777;
  const mine = n.owner === undefined ? k.uid === 0 : n.owner.uid === k.uid;
  const bits = mine ? perm >> 6 : perm & 7;
  if (mode & 4 && !(bits & 4) && k.uid !== 0) return -EACCES;
  if (mode & 1 && !(bits & 1)) return -EACCES;
  if (mode & 2 && k.uid !== 0) return -EACCES;
  return 0;
}

/** readlink of node `n`: its target, or EINVAL for what is not a link. */
export function readlinkNode(n: SynNode): string | number {
  return n.t === 'link' ? n.target() : -EINVAL;
}

/** The entries of open directory `f` (".", "..", then its own), made now; -errno when it is gone. */
export function listing(k: Kernel, f: SyntheticFile): Dirent[] | number {
  const found = walk(k, f.path, true, 0, 0);
  if (typeof found === 'number') return found;
  if (!('node' in found) || found.node.t !== 'dir') return -ENOENT;
  const l = found.node.list();
  if (typeof l === 'number') return l;
  const up = f.path.slice(0, f.path.lastIndexOf('/')) || '/';
  return [{ name: '.', type: DT_DIR, ino: inodeOf(f.path) }, { name: '..', type: DT_DIR, ino: inodeOf(up) },
    ...l.map((e) => ({ name: e.name, type: e.type, ino: inodeOf(`${f.path}/${e.name}`) }))];
}

/** statfs(2) of a path in the trees: proc's or sysfs's (no blocks, as theirs). */
export function statfsOf(path: string): Buffer {
  const b = Buffer.alloc(STATFS.SIZE);
  const sysfs = path === '/sys' || path.startsWith('/sys/');
  b.writeBigInt64LE(BigInt(sysfs ? SYSFS_MAGIC : PROC_MAGIC), STATFS.f_type);
  b.writeBigInt64LE(4096n, STATFS.f_bsize);
  b.writeBigInt64LE(255n, 64);                      // f_namelen
  b.writeBigInt64LE(4096n, 72);                     // f_frsize
  b.writeBigInt64LE(BigInt((sysfs ? 1 : 0) | 2 | 4 | 8 | 4096), STATFS.f_flags);
  return b;
}
