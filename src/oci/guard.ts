/**
 * The guard of an exec'd process (`torov-oci exec`, src/oci/main.ts): a small detached
 * process that ends the exec'd VM when its container's process ends.
 *
 * Why. runc puts an exec'd process in the container's PID namespace, so the kernel kills
 * it when the container's first process dies, and containerd's shim counts on that (it
 * kills the rest itself only for a container without a PID namespace). A torov exec is a
 * VM of its own, started by a launcher of its own (bin/torov) outside the container's
 * processes: nothing in the kernel ties it to the container. This process does: it waits
 * (poll on two pidfds, no CPU) for either the container's launcher or the exec's launcher
 * to end. If the container's ends first, it kills the exec's VMM with SIGKILL; the exec's
 * launcher then ends with status 137 (as runc's exec'd process killed by the kernel) and
 * removes its own cgroup; should it not within 5 s, it is killed too. When the exec ends,
 * the guard removes its directory in the container's state (policy, FIFOs) and exits.
 *
 * Usage (by torov-oci only): node guard.js CONTAINER_PID CONTAINER_START EXEC_PID EXEC_START DIR
 * (START: the process's start time, field 22 of /proc/PID/stat: a reused pid is not it).
 */
import * as fs from 'node:fs';

const POLLIN = 1, SIGKILL = 9;

/** State, parent and start time of a process, or undefined when it is gone. */
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

/** Blocks until one of `fds` is readable (a pidfd is when its process ended); their indexes. */
function waitAny(fds: number[], timeoutMs: number): number[] {
  const { sys, NR, addressOf } = require('../host/libc') as typeof import('../host/libc');
  const b = Buffer.alloc(8 * fds.length);
  fds.forEach((fd, i) => { b.writeInt32LE(fd, 8 * i); b.writeInt16LE(POLLIN, 8 * i + 4); });
  for (;;) {
    const r = sys(NR.poll, addressOf(b), fds.length, timeoutMs);
    if (r === -4 /* EINTR */) continue;
    if (r < 0) return fds.map((_, i) => i);
    return fds.map((_, i) => i).filter((i) => b.readInt16LE(8 * i + 6) !== 0);
  }
}

function pidfd(pid: number): number {
  const { sys, NR } = require('../host/libc') as typeof import('../host/libc');
  return sys(NR.pidfd_open, pid, 0);
}

/** Runs the guard; resolves when the exec has ended. */
export function guard(containerPid: number, containerStart: string, execPid: number, execStart: string, dir: string): void {
  const efd = pidfd(execPid);
  if (efd >= 0 && same(execPid, execStart)) {
    const cfd = pidfd(containerPid);
    // The container already gone (or its pid now another process's): end the exec at once.
    const containerGone = cfd < 0 || !same(containerPid, containerStart);
    const ready = containerGone ? [0] : waitAny([cfd, efd], -1);
    if (ready.includes(0) && same(execPid, execStart)) {
      for (const p of descendants(execPid)) { try { process.kill(p, SIGKILL); } catch { /* gone */ } }
      if (waitAny([efd], 5000).length === 0 && same(execPid, execStart)) {
        const { sys, NR } = require('../host/libc') as typeof import('../host/libc');
        sys(NR.pidfd_send_signal, efd, SIGKILL, 0, 0);
        waitAny([efd], 5000);
      }
    }
  }
  // Its launcher has ended: its directory (policy, FIFOs) goes. The container's delete
  // removes it as well, should this process be killed first.
  if (/\/exec-[A-Za-z0-9]+$/.test(dir)) fs.rmSync(dir, { recursive: true, force: true });
}

if (require.main === module) {
  const [c, cs, e, es, dir] = process.argv.slice(2);
  if (!c || !cs || !e || !es || !dir) { process.stderr.write('torov-oci guard: for torov-oci exec only\n'); process.exit(2); }
  try { guard(Number(c), cs, Number(e), es, dir); } catch { /* nothing to report to: detached */ }
}
