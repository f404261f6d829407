/** Helpers for integration tests: run bin/torov on real guests, on real KVM. */
import assert from 'node:assert/strict';
import * as cp from 'node:child_process';
import { SpawnSyncReturns, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';

export const ROOT = path.resolve(__dirname, '..', '..');
/** The torov command: the launcher (src/launcher/launcher.c), which runs the `node` found on PATH. */
export const TOROV = path.join(ROOT, 'bin', 'torov');

// The launcher must run the Node that runs the tests (CI runs them on several versions).
process.env['PATH'] = `${path.dirname(process.execPath)}:${process.env['PATH'] ?? ''}`;
export const GUESTS = path.join(ROOT, 'test', 'guests');

/** The processes this test process started that still run (its children, from every thread). */
function childrenLeft(): number[] {
  const pids: number[] = [];
  for (const t of fs.readdirSync('/proc/self/task')) {
    try { pids.push(...fs.readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)); } catch { /* ended */ }
  }
  return pids;
}

/** Temporary directories made by scratchDir, removed after the file's last test. */
const scratch: string[] = [];

/** A new temporary directory (os.tmpdir()/PREFIXxxxxxx), removed with its contents after the file's tests. */
export function scratchDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratch.push(d);
  return d;
}

// After a file's last test, nothing it started may still run: a test that failed half-way
// (or forgot a server) would keep this process alive, and the test runner waits for it for
// ever. Such leftovers are killed and named, so the file ends and the culprit shows.
after(() => {
  for (const pid of childrenLeft()) {
    let cmd = '?';
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim(); } catch { /* gone */ }
    try { process.kill(pid, 'SIGKILL'); } catch { continue; }
    process.stderr.write(`test/helpers: killed process ${pid} left running by this file's tests: ${cmd}\n`);
  }
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A guest binary's path. */
export const guest = (name: string) => path.join(GUESTS, name);

export interface RunResult { status: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null }

/**
 * The options most tests add to `torov run`, so that a guest can be compared with a native
 * run of the same binary: the host's temporary directory as a volume at the same path
 * (tests keep their files there), and the guest running as the invoking user instead of
 * nobody. Tests of the sandbox itself pass `plain: true` and get none of this.
 */
export function testRunOptions(): string[] {
  const uid = process.getuid?.() ?? 0, gid = process.getgid?.() ?? 0;
  return ['--user', `${uid}:${gid}`, '--volume', `${os.tmpdir()}:${os.tmpdir()}`];
}

/** Runs `torov ARGS...` and returns its status and output. */
export function torov(args: readonly string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number; plain?: boolean } = {}): RunResult {
  if (args[0] === 'run' && !opts.plain && !args.includes('--no-sandbox') && !args.includes('--help')) {
    args = ['run', ...testRunOptions(), ...args.slice(1)];
  }
  const env = opts.env ? { ...opts.env, PATH: process.env['PATH'] } : process.env;
  const r: SpawnSyncReturns<string> = cp.spawnSync(TOROV, args, {
    encoding: 'utf8', input: opts.input ?? '', cwd: opts.cwd ?? ROOT, env, timeout: opts.timeout ?? 60_000,
    // SIGKILL: a guest may handle SIGTERM (signals reach its handlers), and a run that
    // outlives its time must not hold the test's pipes open for ever.
    killSignal: 'SIGKILL',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** Runs a guest natively (for side-by-side comparisons). */
export function native(file: string, args: readonly string[] = [], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = cp.spawnSync(file, args, { encoding: 'utf8', input: '', cwd: opts.cwd ?? ROOT, env: opts.env ?? {}, timeout: 60_000, killSignal: 'SIGKILL' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/**
 * Runs a guest under torov and natively; both must exit 0 with nothing on stderr under
 * torov. Returns their stdout lines, for a line-by-line comparison.
 */
export function vmAndNative(name: string, args: readonly string[] = []): { vm: string[]; host: string[] } {
  const r = torov(['run', guest(name), ...args]);
  assert.equal(r.status, 0, `${name} under torov: ${r.stderr}`);
  assert.equal(r.stderr, '', name);
  const n = native(guest(name), args);
  assert.equal(n.status, 0, `${name} natively: ${n.stderr}`);
  return { vm: r.stdout.split('\n'), host: n.stdout.split('\n') };
}

// ---- Every process a test starts ends with it -------------------------------------------
//
// A test that hangs holds CI until its budget runs out, and a process left behind that
// holds the test runner's pipes keeps the runner waiting after the test file ended. So
// every spawn in a test has a time limit at which it is killed with SIGKILL (a guest may
// handle SIGTERM: signals reach its handlers), and a command that starts others (a shell,
// runuser, script) is run in a process group of its own that is killed whole.

/** spawnSync options every synchronous spawn in a test takes: a time limit, SIGKILL at it. */
export const LIMIT = { timeout: 60_000, killSignal: 'SIGKILL' } as const;

/**
 * `argv` run by timeout(1) in a process group of its own, all of which gets SIGKILL after
 * `seconds` (for commands that start others: killing only the first would leave the rest
 * holding the pipes). Exit statuses and signals pass through as the command's own.
 */
export function inGroup(seconds: number, argv: readonly string[]): string[] {
  return ['timeout', '-s', 'KILL', `${seconds}s`, ...argv];
}

const started = new Set<{ child: ChildProcess; group: boolean }>();

function killHard(e: { child: ChildProcess; group: boolean }): void {
  const pid = e.child.pid;
  if (pid === undefined) return;
  if (e.group) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
  try { e.child.kill('SIGKILL'); } catch { /* gone */ }
}

// Whatever a test file started is killed when it ends, however it ends.
process.on('exit', () => { for (const e of started) killHard(e); });

/**
 * Registers an asynchronously spawned child: it is killed with SIGKILL (its process group
 * too when it was spawned `detached`) after `ms`, and when the test file ends.
 */
export function limited<T extends ChildProcess>(child: T, ms = 60_000, o: { group?: boolean } = {}): T {
  const e = { child, group: o.group ?? false };
  started.add(e);
  const timer = setTimeout(() => killHard(e), ms);
  timer.unref();
  child.once('exit', () => { clearTimeout(timer); if (!e.group) started.delete(e); });
  return child;
}

/**
 * child_process.spawnSync for tests: 60 s unless the call says otherwise, and always
 * SIGKILL at the limit. (For a command that starts others, wrap it in inGroup().)
 */
export const spawnSync = ((cmd: string, args: readonly string[], opts?: cp.SpawnSyncOptions) =>
  cp.spawnSync(cmd, args, { timeout: 60_000, ...opts, killSignal: 'SIGKILL' })) as unknown as typeof cp.spawnSync;

/**
 * child_process.spawn for tests: killed with SIGKILL (its process group when `detached`)
 * after `timeout` (default 120 s) and when the test file ends.
 */
export const spawn = ((cmd: string, args: readonly string[], opts: cp.SpawnOptions = {}) => {
  const { timeout, ...rest } = opts;
  return limited(cp.spawn(cmd, args, rest), timeout ?? 120_000, { group: rest.detached === true });
}) as unknown as typeof cp.spawn;

/** The run's cgroup directories (torov-<launcher pid>) in every hierarchy, found from outside. */
export function runCgroups(launcher: number): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    let names: string[];
    try { names = fs.readdirSync(d); } catch { return; }
    for (const n of names) {
      const p = path.join(d, n);
      if (n === `torov-${launcher}`) out.push(p);
      else if (depth < 4 && !n.includes('.') && fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return out;
}
