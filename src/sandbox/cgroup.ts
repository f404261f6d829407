/**
 * The run's cgroup: every resource a run consumes on the host is charged to it and
 * bounded there, whatever the guest does.
 *
 * The guest's own memory is a commit limit inside the VMM (src/machine/mm.ts), but a run
 * also holds host memory the VMM never maps: memfd and tmpfs pages, pipe and socket
 * buffers, the VMM's own heap. Without a cgroup a guest with `--memory 64M` could fill the
 * host's memory through `memfd_create` + `fallocate`, and the host's OOM killer would then
 * kill unrelated processes. So each run gets a cgroup of its own, below the one torov runs
 * in, named `torov-<launcher pid>`:
 *  - memory: the guest's memory + its in-memory files (the tmpfs budget, see
 *    `shmBudget`) + the kernel buffers its files may hold (pipes, sockets) + an allowance
 *    for the VMM itself; no swap beyond it;
 *  - pids: torov's own threads plus the guest's (`--pids`, `rlimits.pids`);
 *  - cpu: with `--cpus N`, a quota of N CPUs plus one for the VMM;
 *  - cpuacct, where cgroup v1 mounts it apart from cpu: no limit, the run's CPU time
 *    counted apart (v2's cpu.stat and a co-mounted cpu,cpuacct count it anyway), for
 *    whoever reports the run's figures (torov-oci events, containerd's shim).
 * The guest meets its own limits first (ENOMEM from mmap at --memory, ENOSPC from the
 * tmpfs), so the cgroup's limit is a last line: a run that still reaches it (a leak in the
 * VMM, kernel memory torov does not bound) is killed by the kernel inside its cgroup,
 * never a process outside it, and the launcher reports it (src/launcher/launcher.c).
 *
 * cgroup v2 where its controllers are, v1 otherwise (per controller: hosts that mount both,
 * as systemd's "hybrid" layout, keep the controllers in v1). The VMM makes the cgroup and
 * moves itself in before it reads any input, then writes the limits once it knows them
 * (before the jail, which hides /sys/fs/cgroup from it for good). The launcher, which
 * outlives it, removes the cgroup at the end and reads why the VMM died there.
 *
 * Where no cgroup can be made (rootless without a delegated cgroup, a container without
 * cgroupfs) torov says so once and falls back to rlimits (src/sandbox/privileges.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The controllers a run is limited by. */
export type Controller = 'memory' | 'pids' | 'cpu';
export const CONTROLLERS: readonly Controller[] = ['memory', 'pids', 'cpu'];
/** A controller a run's cgroup may have: those it is limited by, and v1's cpuacct (CPU time, counted only). */
export type Accounted = Controller | 'cpuacct';

/** The host memory the VMM itself may use besides the guest's: Node (about 60 MiB), V8's heap as it grows, koffi. */
export const VMM_ALLOWANCE = 256 * 1024 * 1024;
/** More per guest thread the run may have: its host thread is a Node worker with a V8 isolate (about 10 MiB measured). */
export const VMM_ALLOWANCE_PER_THREAD = 12 * 1024 * 1024;
/**
 * Kernel memory the guest holds through its files: pipe buffers (the kernel stops an
 * unprivileged user at fs.pipe-user-pages-soft, 64 MiB by default) and socket buffers
 * (at most SOCKET_BUFFER_MAX per socket, src/syscalls/net.ts: about 220 MiB for a
 * thousand sockets, the default fd table full of socket pairs).
 */
export const KERNEL_BUFFERS = 256 * 1024 * 1024;
/** Tasks (processes and threads) torov's own VMM runs besides one per guest thread: Node's, V8's, libuv's. */
export const VMM_TASKS = 64;
/** Socket buffers (v1 counts TCP's apart, in memory.kmem.tcp). */
export const TCP_BUFFERS = 64 * 1024 * 1024;

/** Where a controller of the run lives. */
export interface CgroupDir { readonly version: 1 | 2; readonly dir: string; readonly controllers: readonly Accounted[] }

/** The run's cgroup: its directories (one per v1 hierarchy, or one for v2), and the controllers it could not have. */
export interface RunCgroup {
  readonly dirs: readonly CgroupDir[];
  readonly missing: ReadonlyMap<Accounted, string>;
  /** Directories the launcher is moving this process into, until joined() has its answer. */
  readonly joining?: readonly CgroupDir[];
}

/** One line of /proc/self/mountinfo that mounts a cgroup hierarchy. */
interface CgroupMount { version: 1 | 2; root: string; mountPoint: string; options: string[] }

/** The cgroup mounts of /proc/self/mountinfo (proc(5)): v1 ones with their controllers (super options). */
export function cgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const a = line.slice(0, sep).split(' '), b = line.slice(sep + 3).split(' ');
    const fstype = b[0], root = a[3], mountPoint = a[4];
    if ((fstype !== 'cgroup' && fstype !== 'cgroup2') || root === undefined || mountPoint === undefined) continue;
    out.push({ version: fstype === 'cgroup2' ? 2 : 1, root: unescapeMount(root), mountPoint: unescapeMount(mountPoint), options: (b[2] ?? '').split(',') });
  }
  return out;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Where each controller's cgroup for the run goes: `name` below the cgroup this process is
 * in, in the hierarchy that has the controller (v1), or in the v2 hierarchy. Pure: takes
 * /proc/self/cgroup and /proc/self/mountinfo. Controllers found nowhere are left out.
 */
export function planCgroups(procCgroup: string, mountinfo: string, name: string): CgroupDir[] {
  const mounts = cgroupMounts(mountinfo);
  const membership = procCgroup.split('\n').filter((l) => l).map((l) => {
    const i = l.indexOf(':'), j = l.indexOf(':', i + 1);
    return { id: l.slice(0, i), controllers: l.slice(i + 1, j).split(',').filter((c) => c), path: l.slice(j + 1) };
  });
  const dirs: CgroupDir[] = [];
  const under = (m: CgroupMount, cgPath: string): string | undefined => {
    // The hierarchy's root as this mount shows it: our cgroup must be inside it.
    const rel = m.root === '/' ? cgPath : cgPath === m.root ? '/' : cgPath.startsWith(m.root + '/') ? cgPath.slice(m.root.length) : undefined;
    return rel === undefined ? undefined : path.posix.join(m.mountPoint, rel, name);
  };
  const v2left: Controller[] = [];
  for (const c of CONTROLLERS) {
    const m = mounts.find((x) => x.version === 1 && x.options.includes(c));
    const mine = membership.find((x) => x.id !== '0' && x.controllers.includes(c));
    if (!m || !mine) { v2left.push(c); continue; }
    const dir = under(m, mine.path);
    if (dir === undefined) continue;
    const same = dirs.find((d) => d.dir === dir);
    if (same) (same.controllers as Controller[]).push(c);
    else dirs.push({ version: 1, dir, controllers: [c] });
  }
  // v1's cpuacct in a hierarchy of its own (not with cpu, whose directory counts the time
  // already): a directory there too, only to count the run's CPU time.
  const acct = mounts.find((x) => x.version === 1 && x.options.includes('cpuacct'));
  const mineAcct = membership.find((x) => x.id !== '0' && x.controllers.includes('cpuacct'));
  if (acct && mineAcct && !acct.options.includes('cpu')) {
    const dir = under(acct, mineAcct.path);
    if (dir !== undefined && !dirs.some((d) => d.dir === dir)) dirs.push({ version: 1, dir, controllers: ['cpuacct'] });
  }
  const v2 = mounts.find((x) => x.version === 2);
  const mine2 = membership.find((x) => x.id === '0' && x.controllers.length === 0);
  if (v2left.length && v2 && mine2) {
    const dir = under(v2, mine2.path);
    if (dir !== undefined) dirs.push({ version: 2, dir, controllers: v2left });
  }
  return dirs;
}

/** Writes a cgroup file; returns '' or the errno code. */
function put(dir: string, file: string, value: string): string {
  try { fs.writeFileSync(path.join(dir, file), value); return ''; }
  catch (e) { return (e as NodeJS.ErrnoException).code ?? 'EIO'; }
}

/**
 * Makes the run's cgroup (`torov-<launcherPid>`) in every hierarchy that has one of the
 * controllers, and removes stale ones of earlier runs whose launcher is gone (an empty
 * cgroup only: rmdir refuses any other). `tell` receives the directories before this
 * process moves in, so the launcher can remove them whatever happens next.
 *
 * With `join`, the launcher moves this process in, while it goes on: the first move into
 * a cgroup waits for an RCU grace period (10-20 ms here), which then overlaps with the
 * VMM's start. The run is not in its cgroups until joined() has read the launcher's answer
 * (`joining` lists them); its limits can be written before. With `launcherJoins` (an OCI
 * run: the launcher is the container's process, whose cgroups containerd's shim reports)
 * the launcher is asked to join every one of them too, and moves itself back at the end.
 */
export function makeRunCgroup(launcherPid: number, tell: (dirs: readonly string[]) => void, join?: (dirs: readonly string[]) => void, launcherJoins = false): RunCgroup {
  const missing = new Map<Accounted, string>();
  let planned: CgroupDir[];
  try {
    planned = planCgroups(fs.readFileSync('/proc/self/cgroup', 'utf8'), fs.readFileSync('/proc/self/mountinfo', 'utf8'), `torov-${launcherPid}`);
  } catch (e) {
    for (const c of CONTROLLERS) missing.set(c, `no cgroup information (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return { dirs: [], missing };
  }
  const made: CgroupDir[] = [];
  const movedIn = new Set<string>();
  for (const d of planned) {
    removeStale(path.dirname(d.dir));
    let controllers = d.controllers;
    if (d.version === 2) {
      // A v2 cgroup has a controller only if its parent delegates it (cgroup.subtree_control).
      const parent = path.dirname(d.dir);
      const delegated = (): string[] => { try { return fs.readFileSync(path.join(parent, 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/); } catch { return []; } };
      let have = delegated();
      const want = controllers.filter((c) => !have.includes(c));
      let busy = false;
      if (want.length) {
        const enable = () => put(parent, 'cgroup.subtree_control', want.map((c) => `+${c}`).join(' '));
        let err = enable();
        // cgroup v2 enables controllers only below a cgroup without processes of its own (the
        // root excepted). Where the only processes in it are this run's (torov started in a
        // scope of its own: systemd-run --scope -p Delegate=yes), they move into leaves: the
        // VMM into the run's cgroup, the launcher into torov-<pid>.launcher, emptied when it
        // exits (and removed by a later run, or with the scope).
        if (err === 'EBUSY' && onlyRunIn(parent, launcherPid)) {
          const leaf = path.join(parent, `torov-${launcherPid}.launcher`);
          for (const dir of [leaf, d.dir]) { try { fs.mkdirSync(dir); } catch { /* exists, or fails below */ } }
          if (!put(leaf, 'cgroup.procs', String(launcherPid)) && !put(d.dir, 'cgroup.procs', '0')) { movedIn.add(d.dir); err = enable(); }
        }
        busy = err === 'EBUSY';
        have = delegated();
      }
      for (const c of controllers) {
        if (have.includes(c)) continue;
        missing.set(c, busy
          ? `cgroup v2: ${parent} holds other processes, and v2 gives controllers only below a cgroup without processes of its own (start torov in a scope of its own that delegates them: systemd-run --scope -p Delegate=yes torov run ...)`
          : `cgroup v2: ${parent} does not delegate the ${c} controller (start torov in a cgroup that does: systemd-run --scope -p Delegate=yes torov run ...)`);
      }
      controllers = controllers.filter((c) => have.includes(c));
      // (The VMM already in the run's cgroup: the launcher must remove it all the same.)
      if (controllers.length === 0 && !movedIn.has(d.dir)) continue;
    }
    try { fs.mkdirSync(d.dir); }
    catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        for (const c of controllers) missing.set(c, code === 'EACCES' || code === 'EROFS' || code === 'EPERM' ? `cgroups are not delegated to this user: cannot create ${d.dir}` : `cannot create ${d.dir}: ${code}`);
        continue;
      }
    }
    made.push({ version: d.version, dir: d.dir, controllers });
  }
  for (const c of CONTROLLERS) if (!made.some((d) => d.controllers.includes(c)) && !missing.has(c)) missing.set(c, 'no cgroup hierarchy has this controller');
  if (made.length) tell(made.map((d) => d.dir));
  if (join !== undefined) {
    // (Those the v2 set-up above moved this process into already need no move, unless the
    // launcher is to join them.)
    const toMove = launcherJoins ? made : made.filter((d) => !movedIn.has(d.dir));
    if (toMove.length) join(toMove.map((d) => d.dir));
    return { dirs: made, missing, joining: toMove };
  }
  // Moves this process (all its threads) in: "0" is the writer itself.
  const joined = made.filter((d) => {
    const err = put(d.dir, 'cgroup.procs', '0');
    if (err) for (const c of d.controllers) missing.set(c, `cannot enter ${d.dir} (${err})`);
    return !err;
  });
  return { dirs: joined, missing };
}

/**
 * The run's cgroups once the launcher has moved this process in: `reply` is its answer to
 * "join" ("joined" and an errno per directory, in order; '' if none came). A directory it
 * could not enter is dropped, and its controllers are missing with the reason.
 */
export function joined(cg: RunCgroup, reply: string): RunCgroup {
  const joining = cg.joining ?? [];
  if (joining.length === 0) return cg;
  const words = reply.split(' ');
  const errs = words[0] === 'joined' ? words.slice(1).map(Number) : [];
  const missing = new Map(cg.missing);
  const failed = new Set<CgroupDir>();
  joining.forEach((d, i) => {
    const e = errs[i];
    if (e === 0) return;
    failed.add(d);
    const why = e === undefined || !Number.isInteger(e) ? 'the launcher did not answer' : errnoName(e);
    for (const c of d.controllers) missing.set(c, `cannot enter ${d.dir} (${why})`);
  });
  return { dirs: cg.dirs.filter((d) => !failed.has(d)), missing };
}

/** EACCES for 13, and so on (errno n where unnamed). */
function errnoName(e: number): string {
  const names = os.constants.errno as Record<string, number>;
  return Object.keys(names).find((k) => names[k] === e) ?? `errno ${e}`;
}

/** True if every process in cgroup `dir` is this run's: its launcher, or this VMM. */
function onlyRunIn(dir: string, launcherPid: number): boolean {
  let procs: string[];
  try { procs = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l); } catch { return false; }
  return procs.every((p) => Number(p) === launcherPid || Number(p) === process.pid);
}

/** Removes empty `torov-<pid>` (and `torov-<pid>.launcher`) cgroups in `parent` whose launcher no longer exists. */
function removeStale(parent: string): void {
  let names: string[];
  try { names = fs.readdirSync(parent); } catch { return; }
  for (const n of names) {
    const m = /^torov-(\d+)(\.launcher)?$/.exec(n);
    if (!m || fs.existsSync(`/proc/${m[1]}`)) continue;
    try { fs.rmdirSync(path.join(parent, n)); } catch { /* in use, or not ours */ }
  }
}

/** The limits of one run. */
export interface RunLimits {
  /** Host memory of the whole run (guest, in-memory files, VMM), bytes. */
  readonly memory: number;
  /** Processes and threads of the run. */
  readonly pids: number;
  /** CPUs of time per period (a quota), or undefined for none. */
  readonly cpus?: number;
}

/**
 * The size of the guest's in-memory files (its /tmp tmpfs and its memfds, which share one
 * tmpfs): half the guest's memory unless the policy says (`"tmp": "128M"`), as Linux sizes
 * a tmpfs by default (half the RAM).
 */
export function shmBudget(guestMemory: number, tmpSize?: number): number {
  return tmpSize ?? Math.max(1024 * 1024, Math.floor(guestMemory / 2 / 4096) * 4096);
}

/** The run's limits, from the guest's memory, its tmpfs budget, its threads, --pids and --cpus. */
export function runLimits(o: { guestMemory: number; shm: number; threads: number; pids?: number; cpus?: number }): RunLimits {
  return {
    memory: o.guestMemory + o.shm + VMM_ALLOWANCE + o.threads * VMM_ALLOWANCE_PER_THREAD + KERNEL_BUFFERS,
    pids: o.pids ?? VMM_TASKS + o.threads,
    ...(o.cpus !== undefined ? { cpus: o.cpus + 1 } : {}),
  };
}

/**
 * Writes the limits into the run's cgroup. Returns the controllers whose limits could not
 * be written (with why); the others are in force from here on.
 */
export function applyCgroupLimits(cg: RunCgroup, l: RunLimits): Map<Accounted, string> {
  const failed = new Map<Accounted, string>();
  const must = (d: CgroupDir, c: Controller, file: string, value: string) => {
    const err = put(d.dir, file, value);
    if (err && !failed.has(c)) failed.set(c, `cannot write ${path.join(d.dir, file)} (${err})`);
  };
  for (const d of cg.dirs) {
    for (const c of d.controllers) {
      if (c === 'memory' && d.version === 1) {
        // memsw (memory + swap) must stay at or above the memory limit: set memory first.
        must(d, c, 'memory.limit_in_bytes', String(l.memory));
        put(d.dir, 'memory.memsw.limit_in_bytes', String(l.memory));        // absent without swap accounting
        put(d.dir, 'memory.kmem.tcp.limit_in_bytes', String(TCP_BUFFERS));  // v1 charges TCP buffers only once set
      } else if (c === 'memory') {
        must(d, c, 'memory.max', String(l.memory));
        put(d.dir, 'memory.swap.max', '0');
      } else if (c === 'pids') {
        must(d, c, 'pids.max', String(l.pids));
      } else if (c === 'cpu' && l.cpus !== undefined) {
        const period = 100_000;
        if (d.version === 1) { must(d, c, 'cpu.cfs_period_us', String(period)); must(d, c, 'cpu.cfs_quota_us', String(Math.round(l.cpus * period))); }
        else must(d, c, 'cpu.max', `${Math.round(l.cpus * period)} ${period}`);
      }
    }
  }
  return failed;
}
