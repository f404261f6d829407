/**
 * A container's record in its state directory ROOT/ID (state.json), and `fast`, what
 * torov-oci's native front end (src/launcher/oci-front.c) needs to start, kill and delete
 * the container without Node. Written by `create` (src/oci/main.ts, or the VMM itself
 * when the front end created the container: src/oci/prepare.ts) and by every command that
 * changes the record.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Hook, HookKind } from './config';
import type { Freezer } from './cgroups';

/** The runtime spec's version torov-oci follows. */
export const OCI_VERSION = '1.0.2';

export interface Stored {
  ociVersion: string; id: string; pid: number; pidStart: string; bundle: string; rootfs: string;
  created: string; started: boolean; annotations: Record<string, string>;
  /** The VMM: the process in the container's namespaces, whose pid hooks get. */
  vmmPid: number;
  hooks: Partial<Record<HookKind, Hook[]>>;
  /**
   * The guest's memory, and what the run's memory cgroup allowed besides it before any
   * `update` (torov's own share): for `update --memory`. Recorded at create by the
   * JavaScript runtime, at the first update otherwise.
   */
  guestMemory?: number; memoryOverhead?: number;
  /** How the run is frozen, since its first `pause` (the freezer cgroups made are removed at delete). */
  freezer?: Freezer;
  /** Paused with SIGSTOP (the freezer's fallback): what `state` cannot read from a cgroup. */
  paused?: boolean;
}

/**
 * Writes a container's record in `dir`; and `fast` while the container is plain: no hooks
 * (which only the JavaScript side runs) and never paused (the freezer's cgroups are
 * removed at delete, by the JavaScript side). Otherwise `fast` is removed, so that every
 * command of the container goes to the JavaScript side.
 */
export function writeState(dir: string, s: Stored): void {
  const f = path.join(dir, 'state.json');
  fs.writeFileSync(f + '.tmp', JSON.stringify(s), { mode: 0o600 });
  fs.renameSync(f + '.tmp', f);
  const fast = path.join(dir, 'fast');
  const plain = s.freezer === undefined && !s.paused && Object.values(s.hooks).every((h) => h === undefined || h.length === 0);
  if (!plain) { fs.rmSync(fast, { force: true }); return; }
  if (!/^\d+$/.test(s.pidStart)) throw new Error(`internal: the start time of pid ${s.pid} is ${JSON.stringify(s.pidStart)}`);
  fs.writeFileSync(fast + '.tmp', `torov-oci-fast 1\n${s.pid} ${s.pidStart} ${s.vmmPid}\n`, { mode: 0o600 });
  fs.renameSync(fast + '.tmp', fast);
}

/** /proc/PID/stat: the process's state letter, parent and start time, or undefined when it is gone. */
export function procStat(pid: number): { state: string; start: string; ppid: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]), start: f[19]! };
  } catch { return undefined; }
}

/** True when `pid` is still the process that started at `start`, and not a zombie. */
export function same(pid: number, start: string): boolean {
  const st = procStat(pid);
  return st !== undefined && st.start === start && st.state !== 'Z' && st.state !== 'X';
}

/** The descendants of a process (its children, theirs, ...), without it. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    let tasks: string[] = [];
    try { tasks = fs.readdirSync(`/proc/${p}/task`); } catch { continue; }
    for (const t of tasks) {
      let kids: number[] = [];
      try { kids = fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { /* ended */ }
      for (const k of kids) if (!out.includes(k)) { out.push(k); queue.push(k); }
    }
  }
  return out;
}

/**
 * Removes the run cgroups a container's VMM recorded in DIR/cgroups (src/cli/run.ts): those
 * its launcher leaves when it ends by SIGKILL. Only `torov-<launcher pid>` directories (and
 * their v2 `.launcher` leaves), empty ones (rmdir), waiting up to `waitMs` for the last
 * threads of the run to leave them. Returns those left.
 */
export function removeRunCgroups(dir: string, launcherPid: number, waitMs: number): string[] {
  let listed: string[];
  try { listed = fs.readFileSync(path.join(dir, 'cgroups'), 'utf8').split('\n').filter(Boolean); } catch { return []; }
  // Only a cgroup (v1 or v2): never a directory elsewhere that the list names.
  const onCgroupFs = (d: string) => { try { const t = fs.statfsSync(d).type; return t === 0x27e0eb || t === 0x63677270; } catch { return false; } };
  const mine = (d: string) => path.isAbsolute(d) && path.basename(d) === `torov-${launcherPid}` && !d.split('/').includes('..') && onCgroupFs(d);
  const left: string[] = [];
  for (const d of listed.filter(mine).flatMap((d) => [`${d}.launcher`, d])) {
    for (const t0 = Date.now(); ;) {
      try { fs.rmdirSync(d); break; } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || Date.now() - t0 > waitMs) { left.push(d); break; }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  }
  return left;
}
