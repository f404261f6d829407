/**
 * The cgroups of a container's run, as torov-oci sees them from the host: `pause` and
 * `resume` (the freezer), `update` (the run's limits) and `events` (its statistics).
 *
 * A container is one `torov run`: its launcher (bin/torov, the process the shim knows)
 * and the VMM it starts. The VMM makes the run's cgroups, `torov-<launcher pid>`, for the
 * memory, pids and cpu controllers (and v1's cpuacct), and the launcher moves it and
 * itself in (src/sandbox/cgroup.ts, --oci-sync): containerd's shim reads the launcher's
 * cgroups for `ctr task metrics`. Its other cgroups (freezer, ...) stay where it was
 * started (the shim's). They are found here from
 * /proc/<VMM>/cgroup and this process's mount table, not remembered: what `update` writes
 * and `events` reads is what the kernel says the run is in.
 *
 * Freezing. A run has no freezer cgroup of its own until it is first paused: `pause`
 * then makes one next to where the launcher is, `torov-<launcher pid>.freezer` (in the
 * cgroup v1 freezer hierarchy, else in the v2 hierarchy), moves the launcher and the VMM
 * into it (the move changes no limit: the other controllers' cgroups stay as they were)
 * and freezes it; `delete` removes it. In v2, a cgroup that holds only the run's processes
 * (the VMM's `torov-<pid>` when controllers are delegated there) is frozen where it is.
 * Where no such cgroup can be made or frozen (no cgroupfs, not root), the fallback is
 * SIGSTOP and SIGCONT to the run's host processes: the guest stops as well, but a stopped
 * process can be continued by anyone who may signal it, and its parent sees it stop.
 * TOROV_OCI_FREEZER=v1|v2|signal forces one way (for tests).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cgroupMounts } from '../sandbox/cgroup';
import { OciError } from './config';
import { sharesToWeight, type UpdateRequest } from './update';

/** One cgroup a process is in: its directory as this process sees it. */
export interface CgDir { version: 1 | 2; dir: string; controllers: string[] }

/**
 * The directories of the cgroups in `procCgroup` (a /proc/PID/cgroup), through the cgroup
 * mounts of `mountinfo` (this process's /proc/self/mountinfo). Pure. A hierarchy that is
 * not mounted here, or whose mount does not show the process's cgroup, is left out. v1
 * lines carry their controllers (a named hierarchy, name=..., has none); v2's are read
 * from cgroup.controllers by the caller when needed.
 */
export function cgroupDirs(procCgroup: string, mountinfo: string): CgDir[] {
  const mounts = cgroupMounts(mountinfo);
  const out: CgDir[] = [];
  for (const line of procCgroup.split('\n')) {
    if (!line) continue;
    const i = line.indexOf(':'), j = line.indexOf(':', i + 1);
    if (i < 0 || j < 0) continue;
    const id = line.slice(0, i), cgPath = line.slice(j + 1);
    const controllers = line.slice(i + 1, j).split(',').filter((c) => c);
    const v2 = id === '0' && controllers.length === 0;
    const m = v2 ? mounts.find((x) => x.version === 2)
      : mounts.find((x) => x.version === 1 && controllers.length > 0 && controllers.every((c) => x.options.includes(c)));
    if (!m) continue;
    const rel = m.root === '/' ? cgPath : cgPath === m.root ? '/' : cgPath.startsWith(m.root + '/') ? cgPath.slice(m.root.length) : undefined;
    if (rel === undefined) continue;
    out.push({ version: v2 ? 2 : 1, dir: path.posix.join(m.mountPoint, rel).replace(/(.)\/$/, '$1'), controllers: controllers.filter((c) => !c.startsWith('name=')) });
  }
  return out;
}

function read(file: string): string | undefined {
  try { return fs.readFileSync(file, 'utf8'); } catch { return undefined; }
}

/** Writes a cgroup file; '' or the errno code. */
function put(file: string, value: string): string {
  try { fs.writeFileSync(file, value); return ''; } catch (e) { return (e as NodeJS.ErrnoException).code ?? 'EIO'; }
}

function dirsOf(pid: number): CgDir[] {
  const pc = read(`/proc/${pid}/cgroup`), mi = read('/proc/self/mountinfo');
  return pc === undefined || mi === undefined ? [] : cgroupDirs(pc, mi);
}

/**
 * The run's own cgroups (`torov-<launcher pid>`, the VMM's), each with the controllers it
 * has (memory, pids, cpu, cpuacct where v1 mounts it with cpu). Empty where the run has none.
 */
export function runCgroups(launcherPid: number, vmmPid: number): CgDir[] {
  const name = `torov-${launcherPid}`;
  return dirsOf(vmmPid).filter((d) => path.posix.basename(d.dir) === name).map((d) => d.version === 1 ? d
    : { ...d, controllers: (read(path.join(d.dir, 'cgroup.controllers')) ?? '').trim().split(/\s+/).filter((c) => c) });
}

/** The run's cgroup that has `controller`, if any. */
export function cgroupWith(dirs: readonly CgDir[], controller: string): CgDir | undefined {
  return dirs.find((d) => d.controllers.includes(controller));
}

// ---- The freezer -------------------------------------------------------------------

export type FreezeHow = 'v1' | 'v2' | 'signal';
/** How a run is frozen: the cgroups to freeze (none for signals), and those torov-oci made (removed at delete). */
export interface Freezer { how: FreezeHow; dirs: string[]; made: string[] }

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Removes empty `torov-<pid>.freezer` cgroups in `parent` whose launcher is gone. */
function removeStale(parent: string): void {
  let names: string[];
  try { names = fs.readdirSync(parent); } catch { return; }
  for (const n of names) {
    const m = /^torov-(\d+)\.freezer$/.exec(n);
    if (!m || fs.existsSync(`/proc/${m[1]}`)) continue;
    try { fs.rmdirSync(path.join(parent, n)); } catch { /* in use */ }
  }
}

/** Moves `pids` into `dir` (made if need be, below the launcher's cgroup there); throws with why not. */
function moveInto(dir: string, pids: readonly number[], made: string[]): void {
  removeStale(path.dirname(dir));
  try { fs.mkdirSync(dir); made.push(dir); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create ${dir} (${(e as NodeJS.ErrnoException).code})`);
    if (!made.includes(dir)) made.push(dir);
  }
  for (const pid of pids) {
    const err = put(path.join(dir, 'cgroup.procs'), String(pid));
    if (err && err !== 'ESRCH') throw new Error(`cannot move pid ${pid} into ${dir} (${err})`);
  }
}

/**
 * Puts the run's processes (`pids`, the launcher first; with those of its exec'd processes,
 * whose launchers are `execLaunchers`) in a freezer cgroup and returns how to freeze them:
 * v1's freezer hierarchy where it is mounted, else v2, else signals.
 * `made` lists the cgroups made earlier for this run (reused).
 */
export function prepareFreezer(launcherPid: number, pids: readonly number[], made: readonly string[], log: (m: string) => void, execLaunchers: readonly number[] = []): Freezer {
  const force = process.env['TOROV_OCI_FREEZER'];
  const name = `torov-${launcherPid}.freezer`;
  const mine = [...made];
  const tryV1 = (): Freezer | undefined => {
    const d = dirsOf(launcherPid).find((x) => x.version === 1 && x.controllers.includes('freezer'));
    if (!d) { log('no cgroup v1 freezer hierarchy'); return undefined; }
    const dir = path.posix.basename(d.dir) === name ? d.dir : path.join(d.dir, name);
    try { moveInto(dir, pids, mine); } catch (e) { log((e as Error).message); return undefined; }
    return { how: 'v1', dirs: [dir], made: mine };
  };
  const tryV2 = (): Freezer | undefined => {
    const dirs: string[] = [];
    for (const pid of pids) {
      const d = dirsOf(pid).find((x) => x.version === 2);
      if (!d) { log('no cgroup v2 hierarchy'); return undefined; }
      const base = path.posix.basename(d.dir);
      // The run's own cgroups (only its processes are in them), and those of its exec'd
      // processes' runs, are frozen where they are.
      const own = [launcherPid, ...execLaunchers].some((l) => base === `torov-${l}` || base === `torov-${l}.launcher`) || base === name;
      const dir = own ? d.dir : path.join(d.dir, name);
      if (dir !== d.dir) { try { moveInto(dir, [pid], mine); } catch (e) { log((e as Error).message); return undefined; } }
      if (!fs.existsSync(path.join(dir, 'cgroup.freeze'))) { log(`${dir} has no cgroup.freeze (a kernel before 5.2?)`); return undefined; }
      if (!dirs.includes(dir)) dirs.push(dir);
    }
    return { how: 'v2', dirs, made: mine };
  };
  if (force === 'signal') return { how: 'signal', dirs: [], made: mine };
  const fz = force === 'v2' ? tryV2() : force === 'v1' ? tryV1() : tryV1() ?? tryV2();
  return fz ?? { how: 'signal', dirs: [], made: mine };
}

/** True if the freezer says the run is frozen (or freezing), or, for signals, its launcher is stopped. */
export function isFrozen(fz: Freezer, launcherPid: number, flagged: boolean): boolean {
  if (fz.how === 'v1') return fz.dirs.some((d) => /^(FROZEN|FREEZING)/.test(read(path.join(d, 'freezer.state')) ?? ''));
  if (fz.how === 'v2') return fz.dirs.some((d) => (read(path.join(d, 'cgroup.freeze')) ?? '').trim() === '1');
  if (!flagged) return false;
  const st = read(`/proc/${launcherPid}/stat`);
  return st !== undefined && st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) === 'T';
}

/** Freezes (or thaws) the run and waits until the kernel says it is done. Throws an OciError with why not. */
export function setFrozen(fz: Freezer, pids: readonly number[], frozen: boolean): void {
  const deadline = Date.now() + 10_000;
  if (fz.how === 'signal') {
    for (const pid of pids) { try { process.kill(pid, frozen ? 'SIGSTOP' : 'SIGCONT'); } catch { /* ended */ } }
    if (!frozen) return;
    const stopped = (pid: number) => { const s = read(`/proc/${pid}/stat`); return s === undefined || /^[TZX]/.test(s.slice(s.lastIndexOf(')') + 2)); };
    while (!pids.every(stopped)) {
      if (Date.now() > deadline) throw new OciError('pause: the run\'s processes did not stop within 10s');
      sleep(5);
    }
    return;
  }
  for (const d of fz.dirs) {
    const err = fz.how === 'v1' ? put(path.join(d, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED') : put(path.join(d, 'cgroup.freeze'), frozen ? '1' : '0');
    if (err) throw new OciError(`${frozen ? 'pause' : 'resume'}: cannot write ${path.join(d, fz.how === 'v1' ? 'freezer.state' : 'cgroup.freeze')} (${err})`);
  }
  const done = (d: string) => fz.how === 'v1' ? (read(path.join(d, 'freezer.state')) ?? '').trim() === (frozen ? 'FROZEN' : 'THAWED')
    : new RegExp(`^frozen ${frozen ? 1 : 0}$`, 'm').test(read(path.join(d, 'cgroup.events')) ?? '');
  while (!fz.dirs.every(done)) {
    if (Date.now() > deadline) throw new OciError(`${frozen ? 'pause' : 'resume'}: the run's cgroup ${fz.dirs.find((d) => !done(d))} did not ${frozen ? 'freeze' : 'thaw'} within 10s`);
    // v1 can stay FREEZING when a task was busy: asking again is what the kernel expects.
    if (fz.how === 'v1' && frozen) for (const d of fz.dirs) put(path.join(d, 'freezer.state'), 'FROZEN');
    sleep(5);
  }
}

/** Removes the freezer cgroups torov-oci made, once empty (the run's processes gone). Returns those left. */
export function removeFreezer(fz: Freezer, waitMs: number): string[] {
  const left: string[] = [];
  for (const d of [...fz.made].reverse()) {
    for (const t0 = Date.now(); ; sleep(20)) {
      try { fs.rmdirSync(d); break; } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || Date.now() - t0 > waitMs) { left.push(d); break; }
      }
    }
  }
  return left;
}

// ---- update ------------------------------------------------------------------------

/** The parts of a run `update` needs: its cgroups, and torov's own share of its memory limit. */
export interface UpdateTarget { dirs: readonly CgDir[]; memoryOverhead?: number }

/**
 * Writes an update into the run's cgroups. Every requested change is checked to have a
 * cgroup first, so that an update the run cannot take changes nothing; then written.
 * Throws an OciError naming the first that fails.
 */
export function applyUpdate(t: UpdateTarget, r: UpdateRequest): string[] {
  const done: string[] = [];
  const need = (c: string, what: string): CgDir => {
    const d = cgroupWith(t.dirs, c);
    if (!d) throw new OciError(`update: ${what} cannot be changed: the run has no ${c} cgroup of its own (see \`torov run --verbose\`)`);
    return d;
  };
  const mem = r.memory !== undefined ? need('memory', 'the memory limit') : undefined;
  const pids = r.pids !== undefined ? need('pids', 'the pids limit') : undefined;
  const cpu = r.cpuShares !== undefined || r.cpuQuota !== undefined || r.cpuPeriod !== undefined || r.cpuBurst !== undefined ? need('cpu', 'the CPU limits') : undefined;
  if (mem && r.memory !== -1 && t.memoryOverhead === undefined) throw new OciError('update: the memory limit cannot be changed: torov\'s share of the run\'s memory was not recorded at create');
  const write = (d: CgDir, file: string, value: string, what: string) => {
    const err = put(path.join(d.dir, file), value);
    if (err) throw new OciError(`update: cannot set ${what} (${path.join(d.dir, file)}: ${err === 'EBUSY' ? 'EBUSY, the run uses more than that' : err})`);
    done.push(`${file}=${value}`);
  };
  if (mem) {
    // The run's limit: the container's, plus what torov itself holds besides the guest's
    // memory (the same sum `torov run` makes at start).
    const limit = r.memory === -1 ? -1 : r.memory! + t.memoryOverhead!;
    if (mem.version === 1) {
      // memory+swap must stay at or above memory: raise it first, lower it after.
      const cur = Number((read(path.join(mem.dir, 'memory.limit_in_bytes')) ?? '0').trim());
      const hasSw = fs.existsSync(path.join(mem.dir, 'memory.memsw.limit_in_bytes'));
      const up = limit === -1 || limit > cur;
      if (hasSw && up) write(mem, 'memory.memsw.limit_in_bytes', String(limit), 'the memory+swap limit');
      write(mem, 'memory.limit_in_bytes', String(limit), 'the memory limit');
      if (hasSw && !up) write(mem, 'memory.memsw.limit_in_bytes', String(limit), 'the memory+swap limit');
    } else {
      write(mem, 'memory.max', limit === -1 ? 'max' : String(limit), 'the memory limit');
    }
  }
  if (pids) write(pids, 'pids.max', r.pids === -1 ? 'max' : String(r.pids), 'the pids limit');
  if (cpu) {
    if (cpu.version === 1) {
      if (r.cpuShares !== undefined) write(cpu, 'cpu.shares', String(r.cpuShares), 'the CPU shares');
      // A quota must fit the period: set the period first when the quota is also given.
      if (r.cpuPeriod !== undefined) write(cpu, 'cpu.cfs_period_us', String(r.cpuPeriod), 'the CPU period');
      if (r.cpuQuota !== undefined) write(cpu, 'cpu.cfs_quota_us', String(r.cpuQuota), 'the CPU quota');
      if (r.cpuBurst !== undefined) write(cpu, 'cpu.cfs_burst_us', String(r.cpuBurst), 'the CPU burst');
    } else {
      if (r.cpuShares !== undefined) write(cpu, 'cpu.weight', String(sharesToWeight(r.cpuShares)), 'the CPU weight');
      if (r.cpuQuota !== undefined || r.cpuPeriod !== undefined) {
        const [q0, p0] = (read(path.join(cpu.dir, 'cpu.max')) ?? 'max 100000').trim().split(/\s+/);
        const q = r.cpuQuota === undefined ? q0 : r.cpuQuota === -1 ? 'max' : String(r.cpuQuota);
        write(cpu, 'cpu.max', `${q} ${r.cpuPeriod ?? p0}`, 'the CPU quota and period');
      }
      if (r.cpuBurst !== undefined) write(cpu, 'cpu.max.burst', String(r.cpuBurst), 'the CPU burst');
    }
  }
  return done;
}

// ---- statistics --------------------------------------------------------------------

/** Reads a file of a cgroup directory; undefined when absent. */
export type CgReader = (dir: string, file: string) => string | undefined;
export const readCgroupFile: CgReader = (dir, file) => read(path.join(dir, file));

/** A counter of a cgroup file: a number, or a bigint past 2^53 (limits such as 2^63-4096), printed exactly by statsJson. */
export type U64 = number | bigint;
/** "No limit" as runc reports it from cgroup v2's "max": 2^64-1. */
export const U64_MAX = 18446744073709551615n;

function u64(digits: string): U64 {
  const n = Number(digits);
  return Number.isSafeInteger(n) ? n : BigInt(digits);
}

/** "key value" lines as counters (memory.stat, cpu.stat, memory.events). */
export function keyValues(text: string | undefined): Record<string, U64> {
  const out: Record<string, U64> = {};
  for (const l of (text ?? '').split('\n')) {
    const [k, v] = l.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = u64(v);
  }
  return out;
}

/** A cgroup file holding one number ("max": 2^64-1). */
function one(text: string | undefined): U64 | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === 'max') return U64_MAX;
  return /^\d+$/.test(t) ? u64(t) : undefined;
}

/** a + b, exact. */
const add = (a: U64, b: U64): U64 => typeof a === 'number' && typeof b === 'number' && Number.isSafeInteger(a + b) ? a + b : u64(String(BigInt(a) + BigInt(b)));
/** a * k for a nanosecond conversion (k whole). */
const mul = (a: U64, k: number): U64 => typeof a === 'number' && Number.isSafeInteger(a * k) ? a * k : u64(String(BigInt(a) * BigInt(k)));
const n0 = (v: U64 | undefined): U64 => v ?? 0;

/** JSON text of a stats event, with counters past 2^53 printed exactly. */
export function statsJson(o: unknown): string {
  return JSON.stringify(o, (_k, v: unknown) => typeof v === 'bigint' ? `@@u64:${v}@@` : v).replace(/"@@u64:(\d+)@@"/g, '$1');
}

/** Drops the fields runc leaves out when zero (Go's omitempty). */
function omitZero<T extends Record<string, unknown>>(o: T, keys: readonly string[]): T {
  const out: Record<string, unknown> = { ...o };
  for (const k of keys) if (out[k] === 0 || out[k] === undefined || (Array.isArray(out[k]) && (out[k] as unknown[]).length === 0)) delete out[k];
  return out as T;
}

/** CPU times of processes from /proc (user and system clock ticks): where the run has no cpuacct of its own. */
export interface ProcTimes { user: number; system: number }

/**
 * The run's statistics in runc's `events` shape (`data` of {"type":"stats"}): cpu, memory,
 * pids from the run's cgroups; blkio, hugetlb, intel_rdt empty (torov makes no such
 * cgroups). CPU usage comes from cpuacct (v1 mounted with cpu) or cpu.stat (v2); where
 * the run has neither it is the sum of its processes' times from /proc (`procTimes`, in
 * clock ticks of `hz`). Pure given `rd`.
 */
export function buildStats(dirs: readonly CgDir[], rd: CgReader, procTimes: ProcTimes, hz: number): Record<string, unknown> {
  // (Counters are numbers, or bigints past 2^53: print the result with statsJson.)
  const cpuDir = cgroupWith(dirs, 'cpu'), acct = cgroupWith(dirs, 'cpuacct'), memDir = cgroupWith(dirs, 'memory'), pidsDir = cgroupWith(dirs, 'pids');
  // cpu
  let usage: Record<string, unknown>;
  const tickNs = Math.round(1e9 / hz);
  if (acct && acct.version === 1 && rd(acct.dir, 'cpuacct.usage') !== undefined) {
    const st = keyValues(rd(acct.dir, 'cpuacct.stat'));
    const percpu = (rd(acct.dir, 'cpuacct.usage_percpu') ?? '').trim().split(/\s+/).filter((x) => /^\d+$/.test(x)).map(u64);
    usage = { total: n0(one(rd(acct.dir, 'cpuacct.usage'))), percpu, kernel: mul(n0(st['system']), tickNs), user: mul(n0(st['user']), tickNs) };
  } else if (cpuDir && cpuDir.version === 2) {
    const st = keyValues(rd(cpuDir.dir, 'cpu.stat'));
    usage = { total: mul(n0(st['usage_usec']), 1000), kernel: mul(n0(st['system_usec']), 1000), user: mul(n0(st['user_usec']), 1000) };
  } else {
    usage = { total: mul(procTimes.user + procTimes.system, tickNs), kernel: mul(procTimes.system, tickNs), user: mul(procTimes.user, tickNs) };
  }
  usage = omitZero(usage, ['total', 'percpu']);
  let throttling: Record<string, unknown> = {};
  if (cpuDir) {
    const st = keyValues(rd(cpuDir.dir, 'cpu.stat'));
    throttling = omitZero({ periods: n0(st['nr_periods']), throttledPeriods: n0(st['nr_throttled']),
      throttledTime: cpuDir.version === 1 ? n0(st['throttled_time']) : mul(n0(st['throttled_usec']), 1000) }, ['periods', 'throttledPeriods', 'throttledTime']);
  }
  // memory
  let memory: Record<string, unknown> = {};
  if (memDir) {
    const entry = (limit?: string, use?: string, max?: string, fail?: U64 | string) => omitZero({
      limit: n0(one(limit)), usage: n0(one(use)), max: n0(one(max)), failcnt: typeof fail === 'string' || fail === undefined ? n0(one(fail)) : fail,
    }, ['usage', 'max']);
    const raw = keyValues(rd(memDir.dir, 'memory.stat'));
    const f = (n: string) => rd(memDir.dir, n);
    if (memDir.version === 1) {
      memory = {
        cache: n0(raw['cache']),
        usage: entry(f('memory.limit_in_bytes'), f('memory.usage_in_bytes'), f('memory.max_usage_in_bytes'), f('memory.failcnt')),
        swap: entry(f('memory.memsw.limit_in_bytes'), f('memory.memsw.usage_in_bytes'), f('memory.memsw.max_usage_in_bytes'), f('memory.memsw.failcnt')),
        kernel: entry(f('memory.kmem.limit_in_bytes'), f('memory.kmem.usage_in_bytes'), f('memory.kmem.max_usage_in_bytes'), f('memory.kmem.failcnt')),
        kernelTCP: entry(f('memory.kmem.tcp.limit_in_bytes'), f('memory.kmem.tcp.usage_in_bytes'), f('memory.kmem.tcp.max_usage_in_bytes'), f('memory.kmem.tcp.failcnt')),
        raw,
      };
    } else {
      const ev = keyValues(f('memory.events'));
      const cur = n0(one(f('memory.current'))), sw = n0(one(f('memory.swap.current')));
      const max = one(f('memory.max')), swMax = one(f('memory.swap.max'));
      memory = {
        cache: n0(raw['file']),
        usage: entry(f('memory.max'), f('memory.current'), f('memory.peak'), n0(ev['max'])),
        // As runc reports v2: memory + swap, as v1's memsw.
        swap: omitZero({ limit: max === undefined || swMax === undefined || max === U64_MAX || swMax === U64_MAX ? U64_MAX : add(max, swMax), usage: add(cur, sw), failcnt: 0 }, ['usage']),
        raw,
      };
    }
    memory = omitZero(memory, ['cache']);
    if (Object.keys(raw).length === 0) delete memory['raw'];
  }
  // pids
  // (pids.max "max": no limit, which runc reports as 0, left out.)
  const pmax = one(rd(pidsDir?.dir ?? '', 'pids.max'));
  const pids = pidsDir ? omitZero({ current: n0(one(rd(pidsDir.dir, 'pids.current'))), limit: pmax === undefined || pmax === U64_MAX ? 0 : pmax }, ['current', 'limit']) : {};
  return {
    cpu: { usage, ...(Object.keys(throttling).length ? { throttling } : { throttling: {} }) },
    memory, pids, blkio: {}, hugetlb: {}, intel_rdt: {}, network_interfaces: null,
  };
}

/** The run's OOM kill count (v1 memory.oom_control, v2 memory.events), or undefined without a memory cgroup. */
export function oomKills(dirs: readonly CgDir[], rd: CgReader): number | undefined {
  const m = cgroupWith(dirs, 'memory');
  if (!m) return undefined;
  const text = rd(m.dir, m.version === 1 ? 'memory.oom_control' : 'memory.events');
  if (text === undefined) return undefined;
  return Number(keyValues(text)['oom_kill'] ?? 0);
}
