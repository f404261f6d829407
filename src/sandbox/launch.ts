/**
 * Starting the sandboxed VMM. Linux only lets a single-threaded process enter a new user
 * namespace or mount namespace, and Node.js always runs several threads, so torov cannot
 * unshare itself. Instead the torov process you start (the *launcher*) checks the command
 * line, the policy and the program, then runs the VMM as a child through util-linux
 * unshare(1), which creates the namespaces in a fresh single-threaded process before it
 * executes Node again:
 *
 *   torov run ...  ──spawn──►  unshare --mount --ipc --uts [--net] [--pid --fork]
 *   (launcher: waits,                  [--user --map-root-user] -- node torov run ...
 *    enforces --timeout,                 (the VMM: jail, privileges, seccomp, then the VM)
 *    relays the status)
 *
 * The cost is a second Node.js start-up (measured by `npm run bench`). The launcher
 * enforces --timeout by killing the child, which works whatever the guest is blocked in.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { CHILD_ENV, ChildSpec } from './child';
export { CHILD_ENV, ChildSpec };

/** How to run the child. */
export interface LaunchOptions {
  sandbox: boolean;
  network: 'none' | 'host';
  newPid: boolean;
  timeoutMs?: number;
  /** The launcher's own argv after `node` (bin/torov and its arguments). */
  argv: readonly string[];
  say: (line: string) => void;
  /** The GDB stub's listening socket, passed to the child as its fd 4. */
  gdbFd?: number;
  /** The child will need the syscall channel's vCPU thread. */
  vcpuThread?: boolean;
  /**
   * Learn mode: the child writes the learned policy to a pipe (its fd 4, or 5 with gdb)
   * at the end of the run; this gets the text ('' if the child wrote none) before the
   * status is returned.
   */
  learn?: (text: string) => void;
}

/** The outcome of a launch: the exit status to use. */
export function launch(o: LaunchOptions): number {
  const root = (process.getuid?.() ?? 0) === 0;
  const dir = o.sandbox ? fs.mkdtempSync(path.join(os.tmpdir(), 'torov-jail-')) : '';
  const learnFd = o.learn ? (o.gdbFd !== undefined ? 5 : 4) : undefined;
  const spec: ChildSpec = { sandbox: o.sandbox, dir, userNamespace: o.sandbox && !root, ...(o.gdbFd !== undefined ? { gdbFd: 4 } : {}),
    ...(learnFd !== undefined ? { learnFd } : {}), ...(o.vcpuThread ? { vcpuThread: true } : {}) };
  let cmd = process.execPath;
  let args = [...o.argv];
  if (o.sandbox && !root) {
    // Rootless: find out first whether a user namespace can be had at all (a few ms), so a
    // missing one is one line of advice instead of unshare's error and a failed child.
    const probe = spawnSync(unsharePath(), ['--user', '--map-root-user', 'true'], { stdio: 'ignore' });
    if (probe.status !== 0) {
      if (dir) try { fs.rmdirSync(dir); } catch { /* nothing */ }
      o.say(`torov: cannot create the sandbox's namespaces (no user namespace for this user). ${advice(root)}`);
      return 125;
    }
  }
  if (o.sandbox) {
    const flags = ['--mount', '--ipc', '--uts', '--propagation', 'private'];
    if (o.network === 'none') flags.push('--net');
    if (o.newPid) flags.push('--pid', '--fork', '--kill-child');
    if (!root) flags.push('--user', '--map-root-user');
    args = [...flags, '--', process.execPath, ...o.argv];
    cmd = unsharePath();
  }
  const env = { ...process.env, [CHILD_ENV]: JSON.stringify(spec) };
  const r = spawnSync(cmd, args, {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe', ...(o.gdbFd !== undefined ? [o.gdbFd] : []), ...(learnFd !== undefined ? ['pipe' as const] : [])],
    env,
    timeout: o.timeoutMs,
    killSignal: 'SIGKILL',
    // A learned policy can exceed spawnSync's 1 MiB default (it covers every pipe).
    ...(learnFd !== undefined ? { maxBuffer: 1 << 30 } : {}),
  });
  if (dir) try { fs.rmdirSync(dir); } catch { /* still mounted in a dying namespace */ }
  if (o.learn && learnFd !== undefined) o.learn(r.output?.[learnFd]?.toString() ?? '');
  const ready = r.output?.[3]?.toString() === 'ready';
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') {
    o.say(`torov: timeout: the VM was stopped after ${formatMs(o.timeoutMs!)}`);
    return 124;
  }
  if (r.error) {
    o.say(`torov: cannot start the sandbox: ${(r.error as Error).message}`);
    return 125;
  }
  if (!ready && o.sandbox && r.status !== null && r.status !== 0 && r.status !== 125) {
    // unshare itself failed (it printed why); say what to do about it.
    o.say(`torov: cannot create the sandbox's namespaces. ${advice(root)}`);
    return 125;
  }
  if (r.signal) {
    const sig = os.constants.signals[r.signal as keyof typeof os.constants.signals] ?? 0;
    if (r.signal === 'SIGSYS') o.say('torov: the VMM was killed by its seccomp filter (a host syscall outside the filter): this is a bug in torov, please report it');
    else if (r.signal === 'SIGXCPU') o.say('torov: the CPU-time limit (rlimits.cpuSeconds) was reached');
    else o.say(`torov: the VMM was killed by ${r.signal}`);
    return 128 + sig;
  }
  return r.status ?? 125;
}

function unsharePath(): string {
  for (const p of ['/usr/bin/unshare', '/bin/unshare']) if (fs.existsSync(p)) return p;
  return 'unshare';
}

function advice(root: boolean): string {
  if (root) return 'Is torov running inside a container that forbids namespaces? Run it with --no-sandbox to debug only.';
  let why = '';
  try {
    if (fs.readFileSync('/proc/sys/kernel/unprivileged_userns_clone', 'utf8').trim() === '0') why = ' (sysctl kernel.unprivileged_userns_clone=1)';
  } catch { /* not a Debian-patched kernel */ }
  try {
    if (fs.readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim() === '0') why = ' (sysctl user.max_user_namespaces=10000)';
  } catch { /* no such file */ }
  return `Unprivileged user namespaces must be enabled${why}, or run torov as root; --no-sandbox turns the sandbox off (debugging only).`;
}

/** Parses --timeout: "30", "30s", "500ms", "2m", "1h". */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new RangeError(`invalid duration "${s}": expected a number of seconds or e.g. 500ms, 30s, 2m, 1h`);
  const v = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2] ?? 's']!;
  if (!(v > 0)) throw new RangeError(`invalid duration "${s}": must be more than 0`);
  return Math.round(v);
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
