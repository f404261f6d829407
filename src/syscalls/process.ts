/**
 * Process identity, limits and lifetime: exit, the get*id family, uname, arch_prctl,
 * robust lists, rseq, rlimits, getrandom and kill (threads are in thread.ts).
 * torov runs one process per VM; identity is what was published at start.
 */
import { release } from 'node:os';
import { Handler, HandlerTable, Kernel, ProcessInfo } from './api';
import { rusageOf } from './exec';
import { SYSINFO } from '../linux/structs';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { EINVAL, ENOSYS, EPERM, ESRCH, EACCES } from '../linux/errno';
import {
  ARCH_GET_CPUID, ARCH_GET_FS, ARCH_GET_GS, ARCH_SET_FS, ARCH_SET_GS, PR_GET_DUMPABLE, PR_GET_NAME, PR_GET_NO_NEW_PRIVS,
  PR_GET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NAME, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER,
} from '../linux/prctl';
import { RLIMIT_NOFILE, RLIM_NLIMITS } from '../linux/resource';


/** struct utsname: six fields of 65 bytes (<sys/utsname.h>). */
/** When this VMM started (ms since the epoch): the guest's boot, for sysinfo, /proc/uptime and /proc/stat's btime. */
export const BOOT_MS = Date.now();
/** Milliseconds since the guest's boot. */
export const uptimeMs = () => Date.now() - BOOT_MS;

export const UTS = ['Linux', 'torov', release(), '#1 torov', 'x86_64', '(none)'];

const sysUname: Handler = (k, a) => {
  const b = Buffer.alloc(6 * 65);
  UTS.forEach((s, i) => b.write(s.slice(0, 64), i * 65, 'latin1'));
  k.mem.write(a.ptr(0), b);
  return 0;
};

/** The end of the user half of the address space on x86-64 (4-level paging). */
const TASK_SIZE_MAX = 0x7ffffffff000;

const sysArchPrctl: Handler = (k, a) => {
  const code = a.i(0), addr = a.ptr(1);
  switch (code) {
    // Like Linux, only user addresses (below TASK_SIZE_MAX); anything else is EPERM.
    case ARCH_SET_FS: if (!(addr < TASK_SIZE_MAX)) return -EPERM; k.fsBase = addr; k.fsBaseDirty = true; return 0;
    case ARCH_SET_GS: if (!(addr < TASK_SIZE_MAX)) return -EPERM; k.gsBase = addr; k.fsBaseDirty = true; return 0;
    case ARCH_GET_FS: k.mem.writeU64(addr, k.fsBase); return 0;
    case ARCH_GET_GS: k.mem.writeU64(addr, k.gsBase); return 0;
    case ARCH_GET_CPUID: return 1;
    default: return -EINVAL;
  }
};

/** Implements set_robust_list(2): recorded (sizeof(struct robust_list_head) is 24). */
const sysSetRobustList: Handler = (k, a) => {
  if (a.n(1) !== 24) return -EINVAL;
  k.robustList = a.ptr(0);
  return 0;
};

const sysGetRobustList: Handler = (k, a) => {
  if (a.i(0) !== 0 && a.i(0) !== k.tid) {
    // Another thread's list: torov keeps each thread's, but reads only the caller's.
    if (!k.sched.hasThread(a.i(0))) return -ESRCH;
  }
  k.mem.writeU64(a.ptr(1), k.robustList);
  k.mem.writeU64(a.ptr(2), 24);
  return 0;
};

const self = (k: { pid: number }, pid: number) => pid === 0 || pid === k.pid;


/** Every limit of `k` in resource order, as getrlimit reads them (/proc/PID/limits); -errno where the host's cannot be read. */
export function limitsOf(k: Kernel): Array<readonly [bigint, bigint] | number> {
  const out: Array<readonly [bigint, bigint] | number> = [];
  for (let res = 0; res < RLIM_NLIMITS; res++) out.push(getLimit(k, res));
  return out;
}

/** Limits the program set, by resource (read back by getrlimit; not enforced yet). Per process. */
const rlimits = new WeakMap<Kernel, Map<number, readonly [bigint, bigint]>>();
const rlimScratch = Buffer.alloc(16);
const rlimScratchAddr = addressOf(rlimScratch);

/**
 * The program's limit for `res`: what it set, else the VMM's own (the host's), except
 * RLIMIT_NOFILE, which is the size of the guest's fd table. Returns -errno on failure.
 */
function getLimit(k: Kernel, res: number): readonly [bigint, bigint] | number {
  const set = rlimits.get(k)?.get(res);
  if (set) return set;
  if (res === RLIMIT_NOFILE) return [BigInt(k.fds.limit), BigInt(k.fds.limit)];
  const r = sys(HOST.prlimit64, 0, res, 0, rlimScratchAddr);
  return r < 0 ? r : [rlimScratch.readBigUInt64LE(0), rlimScratch.readBigUInt64LE(8)];
}

/**
 * Records a new limit (struct rlimit at guest address `ptr`) as Linux would accept it:
 * soft above hard is EINVAL; raising the hard limit needs root (CAP_SYS_RESOURCE); the fd
 * limit cannot go above the fd table (as Linux refuses one above nr_open).
 */
function setLimit(k: Kernel, res: number, ptr: number): number {
  const b = k.mem.read(ptr, 16);
  const cur = b.readBigUInt64LE(0), max = b.readBigUInt64LE(8);
  if (cur > max) return -EINVAL;
  const old = getLimit(k, res);
  if (typeof old === 'number') return old;
  if ((max > old[1] && k.uid !== 0) || (res === RLIMIT_NOFILE && max > BigInt(k.fds.limit))) return -EPERM;
  let m = rlimits.get(k);
  if (!m) rlimits.set(k, m = new Map());
  m.set(res, [cur, max]);
  return 0;
}

function putLimit(k: Kernel, ptr: number, lim: readonly [bigint, bigint]): void {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(lim[0], 0);
  b.writeBigUInt64LE(lim[1], 8);
  k.mem.write(ptr, b);
}

/** Implements prlimit64(2) for the program itself: the old limit is returned, then the new one recorded. */
const sysPrlimit64: Handler = (k, a) => {
  if (!self(k, a.i(0))) return -ESRCH;
  const res = a.u(1), newp = a.ptr(2), oldp = a.ptr(3);
  if (res >= RLIM_NLIMITS) return -EINVAL;
  const old = getLimit(k, res);
  if (typeof old === 'number') return old;
  if (newp) { const r = setLimit(k, res, newp); if (r < 0) return r; }
  if (oldp) putLimit(k, oldp, old);
  return 0;
};

const sysGetrlimit: Handler = (k, a) => {
  const res = a.u(0);
  if (res >= RLIM_NLIMITS) return -EINVAL;
  const lim = getLimit(k, res);
  if (typeof lim === 'number') return lim;
  putLimit(k, a.ptr(1), lim);
  return 0;
};

const sysSetrlimit: Handler = (k, a) => (a.u(0) >= RLIM_NLIMITS ? -EINVAL : setLimit(k, a.u(0), a.ptr(1)));

/** Implements getrandom(2) from the host's generator. */
const sysGetrandom: Handler = (k, a) => {
  const len = Math.min(a.n(1), 33554431);
  if (len < 0) return -EINVAL;
  return sys(HOST.getrandom, k.mem.host(a.ptr(0), len, true), len, a.u(2));
};

/** getrusage(2): RUSAGE_CHILDREN is the guest's reaped children's CPU time; SELF and THREAD the VMM's own usage until a process is forked, then the guest's accounting. */
const sysGetrusage: Handler = (k, a) => {
  const who = a.i(0);
  if (who !== 0 && who !== -1 && who !== 1) return -EINVAL;
  if (who === -1) { k.mem.write(a.ptr(1), rusageOf(k.process.childCpuNs)); return 0; }
  // Once processes exist, the VMM's usage is all of theirs: the guest's own accounting.
  const own = k.sched.cpuTime(k, who === 1);
  if (own !== undefined) { k.mem.write(a.ptr(1), rusageOf(own)); return 0; }
  return sys(HOST.getrusage, 0, k.mem.host(a.ptr(1), 144, true));
};
/**
 * times(2): the process's own CPU time as getrusage counts it (the guest's own accounting
 * once processes exist, the VMM's times before), the guest's reaped children's as
 * tms_cutime; clock ticks of 100 Hz. The return value is the host's.
 */
const sysTimes: Handler = (k, a) => {
  const r = sys(HOST.times, a.ptr(0) ? k.mem.host(a.ptr(0), 32, true) : 0);
  if (r >= 0 && a.ptr(0)) {
    const own = k.sched.cpuTime(k, false);
    if (own !== undefined) {
      k.mem.writeU64(a.ptr(0), Math.floor(own / 1e7));
      k.mem.writeU64(a.ptr(0) + 8, 0);
    }
    k.mem.writeU64(a.ptr(0) + 16, Math.floor(k.process.childCpuNs / 1e7));
    k.mem.writeU64(a.ptr(0) + 24, 0);
  }
  return r;
};
/**
 * The guest machine's memory: its size (--memory, which bounds the whole run) and what its
 * live processes have mapped of it (at most the size), for sysinfo and /proc/meminfo.
 */
export function guestMemory(k: Kernel): { total: number; used: number } {
  let used = 0;
  for (const p of k.sched.processes()) if (p.alive) used += p.as.committed;
  const total = k.as.limit;
  return { total, used: Math.min(total, used) };
}

/**
 * sysinfo(2) about the guest's machine, never the host's: the time since the VM started,
 * no load, its memory limit (--memory) and what is not mapped of it, no swap, its threads.
 */
const sysSysinfo: Handler = (k, a) => {
  const b = Buffer.alloc(SYSINFO.SIZE);
  const m = guestMemory(k);
  b.writeBigInt64LE(BigInt(Math.floor(uptimeMs() / 1000)), SYSINFO.uptime);
  b.writeBigUInt64LE(BigInt(m.total), SYSINFO.totalram);
  b.writeBigUInt64LE(BigInt(m.total - m.used), SYSINFO.freeram);
  b.writeUInt16LE(Math.min(0xffff, k.sched.threadCount), SYSINFO.procs);
  b.writeUInt32LE(1, SYSINFO.mem_unit);
  k.mem.write(a.ptr(0), b);
  return 0;
};
const sysUmask: Handler = (k, a) => {
  const old = sys(HOST.umask, a.u(0) & 0o777);
  if (old >= 0) k.process.umask = a.u(0) & 0o777;
  return old;
};

/** setuid and friends: only to the ids the program already has. */
const sameId = (k: { uid: number; gid: number }, ids: number[], gid: boolean) =>
  ids.every((id) => id === -1 || id === (gid ? k.gid : k.uid)) ? 0 : -EPERM;

/**
 * Implements getgroups(2): the VMM's supplementary groups (the program runs with the VMM's
 * uid and gid). Only the entries the host will write are checked: a size larger than the
 * group count needs no more guest memory, as in Linux.
 */
const sysGetgroups: Handler = (k, a) => {
  const size = a.i(0);
  if (size < 0) return -EINVAL;
  const n = sys(HOST.getgroups, 0, 0);
  if (n < 0 || size === 0) return n;
  if (size < n) return -EINVAL;
  return sys(HOST.getgroups, n, n === 0 ? 0 : k.mem.host(a.ptr(1), n * 4, true));
};

/**
 * prctl(2) state of one thread: its name (comm: 16 bytes with the NUL) and the flags torov
 * keeps. `as` is the address space it was made for: an exec replaces that, and resets the
 * name to the new program's and the dumpable flag (execve(2)).
 */
interface PrctlState { comm: Buffer; pdeathsig: number; dumpable: number; noNewPrivs: number; as: Kernel['as'] }
const prctlStates = new WeakMap<Kernel, PrctlState>();

/** Whether thread `k`'s process lets others read its /proc files (PR_SET_DUMPABLE, as Linux's ptrace access check). */
export function dumpableOf(k: Kernel): boolean {
  return prctlState(k).dumpable !== 0;
}
/** The thread's name (comm), as prctl(PR_SET_NAME) set it: the executable's name at first. */
export function commOf(k: Kernel): string {
  const c = prctlState(k).comm;
  const end = c.indexOf(0);
  return c.subarray(0, end < 0 ? c.length : end).toString('latin1');
}

/**
 * A new thread or a fork's child starts with its creator's name, dumpable flag and
 * no_new_privs, as on Linux; its parent-death signal is cleared.
 */
export function inheritPrctl(parent: Kernel, child: Kernel): void {
  const p = prctlStates.get(parent);
  if (!p || p.as !== parent.as) return;            // never asked for: the child's default is the same
  prctlStates.set(child, { comm: Buffer.from(p.comm), pdeathsig: 0, dumpable: p.dumpable, noNewPrivs: p.noNewPrivs, as: child.as });
}

function prctlState(k: Kernel): PrctlState {
  let st = prctlStates.get(k);
  if (!st || st.as !== k.as) {
    // Linux starts comm as the last component of the path execve was given, cut to 15
    // bytes ("exe" for /proc/self/exe: BusyBox then names itself after the applet).
    const comm = Buffer.alloc(16);
    const name = k.as.execFn || k.exe;
    Buffer.from(name.slice(name.lastIndexOf('/') + 1)).subarray(0, 15).copy(comm);
    st = { comm, pdeathsig: st?.pdeathsig ?? 0, dumpable: 1, noNewPrivs: st?.noNewPrivs ?? 0, as: k.as };
    prctlStates.set(k, st);
  }
  return st;
}


/**
 * Implements prctl(2) for the options ordinary programs use on themselves: the process name
 * (stored; PR_GET_NAME returns it), the parent-death signal, the dumpable flag and
 * no_new_privs (recorded: torov runs no other program). Anything else is EINVAL.
 */
const sysPrctl: Handler = (k, a) => {
  const st = prctlState(k);
  switch (a.i(0)) {
    case PR_SET_NAME: {
      // Like Linux: at most 15 bytes are taken, and the name always ends with a NUL.
      const name = k.mem.readCString(a.ptr(1), 16) ?? k.mem.read(a.ptr(1), 15);
      st.comm.fill(0);
      name.subarray(0, 15).copy(st.comm);
      return 0;
    }
    case PR_GET_NAME: k.mem.write(a.ptr(1), st.comm); return 0;
    case PR_SET_PDEATHSIG: {
      const sig = a.n(1);
      if (sig < 0 || sig > 64) return -EINVAL;
      st.pdeathsig = sig;
      return 0;
    }
    case PR_GET_PDEATHSIG: k.mem.writeU32(a.ptr(1), st.pdeathsig); return 0;
    case PR_SET_CHILD_SUBREAPER: k.process.subreaper = a.n(1) !== 0; return 0;
    case PR_GET_CHILD_SUBREAPER: k.mem.writeU32(a.ptr(1), k.process.subreaper ? 1 : 0); return 0;
    case PR_GET_DUMPABLE: return st.dumpable;
    case PR_SET_DUMPABLE: {
      const v = a.n(1);
      if (v !== 0 && v !== 1) return -EINVAL;
      st.dumpable = v;
      return 0;
    }
    case PR_SET_NO_NEW_PRIVS:
      if (a.n(1) !== 1 || a.n(2) || a.n(3) || a.n(4)) return -EINVAL;
      st.noNewPrivs = 1;
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (a.n(1) || a.n(2) || a.n(3) || a.n(4)) return -EINVAL;
      return st.noNewPrivs;
    default:
      k.note(`prctl-${a.i(0)}`, `prctl option ${a.i(0)} is not supported: returned EINVAL`);
      return -EINVAL;
  }
};

/** The process `pid` names for the process-group calls (0: the caller). */
function procOf(k: Kernel, pid: number): ProcessInfo | undefined {
  if (pid < 0) return undefined;
  return k.sched.process(pid === 0 ? k.pid : pid);
}

/** Implements setpgid(2), with Linux's checks: the caller or a child of it, in its session, not a session leader. */
const sysSetpgid: Handler = (k, a) => {
  const pidArg = a.i(0), pgidArg = a.i(1);
  if (pgidArg < 0) return -EINVAL;
  const me = k.sched.process(k.pid)!;
  const p = procOf(k, pidArg);
  if (!p || !p.alive || (p !== me && p.ppid !== k.pid)) return -ESRCH;
  const pgid = pgidArg === 0 ? p.pid : pgidArg;
  if (p.sid !== me.sid) return -EPERM;
  if (p !== me && p.execed) return -EACCES;                // a child that has exec'd
  if (p.sid === p.pid) return -EPERM;                     // a session leader stays in its group
  if (pgid !== p.pid) {
    let found = false;
    for (const q of k.sched.processes()) if (q.alive && q.pgid === pgid && q.sid === me.sid) { found = true; break; }
    if (!found) return -EPERM;
  }
  p.pgid = pgid;
  return 0;
};

/** Implements setsid(2): EPERM for a process group leader (a group with its pid exists). */
const sysSetsid: Handler = (k) => {
  const me = k.sched.process(k.pid)!;
  for (const q of k.sched.processes()) if (q.alive && q.pgid === me.pid) return -EPERM;
  me.sid = me.pid;
  me.pgid = me.pid;
  return me.pid;
};

export const processHandlers: HandlerTable = {
  getpid: (k) => k.pid,
  getppid: (k) => k.ppid,
  getuid: (k) => k.uid,
  geteuid: (k) => k.uid,
  getgid: (k) => k.gid,
  getegid: (k) => k.gid,
  getpgrp: (k) => k.sched.process(k.pid)!.pgid,
  getpgid: (k, a) => { const p = procOf(k, a.i(0)); return p ? p.pgid : -ESRCH; },
  getsid: (k, a) => { const p = procOf(k, a.i(0)); return p ? p.sid : -ESRCH; },
  setpgid: sysSetpgid,
  setsid: sysSetsid,
  setuid: (k, a) => sameId(k, [a.i(0)], false),
  setgid: (k, a) => sameId(k, [a.i(0)], true),
  setreuid: (k, a) => sameId(k, [a.i(0), a.i(1)], false),
  setregid: (k, a) => sameId(k, [a.i(0), a.i(1)], true),
  setresuid: (k, a) => sameId(k, [a.i(0), a.i(1), a.i(2)], false),
  setresgid: (k, a) => sameId(k, [a.i(0), a.i(1), a.i(2)], true),
  getresuid: (k, a) => { for (let i = 0; i < 3; i++) k.mem.writeU32(a.ptr(i), k.uid); return 0; },
  getresgid: (k, a) => { for (let i = 0; i < 3; i++) k.mem.writeU32(a.ptr(i), k.gid); return 0; },
  getgroups: sysGetgroups,
  uname: sysUname,
  arch_prctl: sysArchPrctl,
  set_robust_list: sysSetRobustList,
  get_robust_list: sysGetRobustList,
  rseq: () => -ENOSYS,
  prlimit64: sysPrlimit64,
  getrlimit: sysGetrlimit,
  setrlimit: sysSetrlimit,
  getrandom: sysGetrandom,
  getrusage: sysGetrusage,
  times: sysTimes,
  sysinfo: sysSysinfo,
  umask: sysUmask,
  getpriority: () => 20,
  setpriority: () => 0,
  prctl: sysPrctl,
};
