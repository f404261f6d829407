/**
 * torov-oci: an OCI runtime with runc's command line, so that containerd's runc shim
 * (io.containerd.runc.v2 with BinaryName), Docker, Podman and Kubernetes (a RuntimeClass)
 * run images as torov VMs. See docs/oci.md.
 *
 * A container is one `torov run` (bin/torov, the launcher, and its sandboxed VMM): the
 * bundle's config.json becomes its command line and policy (src/oci/config.ts), so the
 * sandbox, policy, cgroup and seccomp filter are exactly those of `torov run`.
 *  - `create` checks the config and the entry program, writes the run's policy in the
 *    container's state directory (ROOT/ID), starts `torov run` with the caller's fds 0-2
 *    and waits until its VM is built and stopped before the program's first instruction
 *    (src/oci/sync.ts); the pid file names the launcher, the process the shim reaps and
 *    signals: it relays the program's exit status (128+N for a signal) and forwards
 *    SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH to the guest.
 *  - `start` lets it run; `state` reads what is true of that process; `kill` signals it;
 *    `delete` removes the state directory (with --force, after SIGKILL).
 *  - `pause`/`resume` freeze and thaw the run's host processes, `update` changes its
 *    cgroups' limits, `events` reports their statistics (src/oci/cgroups.ts).
 * Every error is one line, in the log (--log, text or json as runc writes it, where the
 * shim looks for it) and on stderr, with exit status 1.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { OciError, readConfig, makeMountPoints, type RunPlan, type HookKind } from './config';
import { writeState, procStat, same, descendants, removeRunCgroups, OCI_VERSION, type Stored } from './state';
import { writePolicy, guestMemoryOf, ociRunArgs } from './prepare';

export { OCI_VERSION } from './state';
const DEFAULT_ROOT = '/run/torov-oci';
/** How long `create` waits for the VM to be ready. */
const CREATE_TIMEOUT_MS = 60_000;

/** The global options. */
interface Global { root: string; log?: string; logFormat: 'text' | 'json'; debug: boolean; systemdCgroup: boolean }

class Logger {
  constructor(private readonly g: Global) {}
  write(level: 'debug' | 'info' | 'warning' | 'error', msg: string): void {
    if (level === 'debug' && !this.g.debug) return;
    const line = msg.replace(/[\x00-\x1f\x7f]/g, ' ');
    if (this.g.log === undefined) {
      if (level !== 'debug' || this.g.debug) writeFd(2, `torov-oci: ${level === 'error' ? '' : level + ': '}${line}\n`);
      return;
    }
    const time = new Date().toISOString();
    const text = this.g.logFormat === 'json' ? JSON.stringify({ level, msg: line, time }) + '\n'
      : `time="${time}" level=${level} msg=${JSON.stringify(line)}\n`;
    try { fs.appendFileSync(this.g.log, text, { mode: 0o600 }); } catch { /* the log's directory is gone */ }
  }
}

function writeFd(fd: number, s: string): void {
  try { fs.writeSync(fd, s); } catch { /* closed */ }
}

/** Parses argv as runc does (urfave/cli): global flags, the command, its flags, its words. */
interface Parsed { flags: Record<string, string | boolean>; words: string[] }
type FlagSpec = Record<string, { value: boolean; alias?: string }>;

function parseFlags(argv: string[], spec: FlagSpec, stopAtWord: boolean): Parsed & { rest: string[] } {
  const flags: Record<string, string | boolean> = {};
  const words: string[] = [];
  const byAlias = new Map<string, string>();
  for (const [k, v] of Object.entries(spec)) if (v.alias) byAlias.set(v.alias, k);
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { i++; break; }
    if (!a.startsWith('-') || a === '-') {
      if (stopAtWord) break;
      words.push(a); continue;
    }
    const eq = a.indexOf('=');
    let name = (eq > 0 ? a.slice(0, eq) : a).replace(/^--?/, '');
    name = byAlias.get(name) ?? name;
    const s = spec[name];
    if (!s) throw new OciError(`unknown option ${eq > 0 ? a.slice(0, eq) : a}`);
    if (s.value) {
      if (eq > 0) flags[name] = a.slice(eq + 1);
      else if (i + 1 < argv.length) flags[name] = argv[++i]!;
      else throw new OciError(`option ${a} needs a value`);
    } else {
      if (eq > 0) flags[name] = !/^(false|0)$/i.test(a.slice(eq + 1));
      else flags[name] = true;
    }
  }
  return { flags, words, rest: argv.slice(i) };
}

const GLOBAL_FLAGS: FlagSpec = {
  root: { value: true }, log: { value: true }, 'log-format': { value: true }, debug: { value: false },
  'systemd-cgroup': { value: false }, criu: { value: true }, rootless: { value: true },
  help: { value: false, alias: 'h' }, version: { value: false, alias: 'v' },
};

const COMMAND_FLAGS: Record<string, FlagSpec> = {
  create: { bundle: { value: true, alias: 'b' }, 'pid-file': { value: true }, 'console-socket': { value: true }, 'no-pivot': { value: false }, 'no-new-keyring': { value: false }, 'preserve-fds': { value: true } },
  run: { bundle: { value: true, alias: 'b' }, 'pid-file': { value: true }, 'console-socket': { value: true }, 'no-pivot': { value: false }, 'no-new-keyring': { value: false }, 'preserve-fds': { value: true }, detach: { value: false, alias: 'd' }, keep: { value: false } },
  start: {}, state: {},
  kill: { all: { value: false, alias: 'a' } },
  delete: { force: { value: false, alias: 'f' } },
  ps: { format: { value: true, alias: 'f' } },
  features: {}, list: { format: { value: true, alias: 'f' }, quiet: { value: false, alias: 'q' } },
  pause: {}, resume: {},
  events: { interval: { value: true }, stats: { value: false } },
  update: updateFlagSpec(),
};

function updateFlagSpec(): FlagSpec {
  const { UPDATE_FLAGS } = require('./update') as typeof import('./update');
  const spec: FlagSpec = {};
  for (const f of UPDATE_FLAGS) spec[f] = { value: true };
  spec['resources'] = { value: true, alias: 'r' };
  spec['cpu-share'] = { value: true, alias: 'cpu-shares' };
  return spec;
}

export const HELP = `torov-oci: an OCI runtime that runs containers as torov micro-VMs (runc's command line)

usage: torov-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID ...

commands:
  create --bundle DIR [--pid-file F] [--console-socket SOCK] [--no-pivot] ID
                 prepare the container's VM, stopped before its program's first instruction
  start ID       run the program of a created container
  run [--bundle DIR] [--detach] [--pid-file F] ID
                 create and start; without --detach, wait and exit with its status
  state ID       the container's state (OCI state JSON)
  kill [--all] ID [SIGNAL]   send SIGNAL (name or number, default SIGTERM)
  delete [--force] ID        remove a stopped container (--force: kill it first)
  pause ID       freeze the container's host processes (the launcher and its VMM): the
                 program stops where it is; state says "paused"
  resume ID      thaw a paused container
  update [--memory SIZE] [--memory-swap SIZE] [--pids-limit N] [--cpu-share N]
         [--cpu-quota US] [--cpu-period US] [--cpu-burst US] [-r FILE|-] ID
                 change the run's cgroup limits (-r: linux.resources as JSON, from a
                 file or stdin; then the other options are ignored). --memory sets the
                 run's cgroup limit (SIZE plus torov's own share, as at create); the
                 guest's own memory is fixed when the VM starts. Limits a torov run has
                 no cgroup for (cpuset, realtime, blkio, ...) fail with one line
  events [--stats] [--interval D] ID
                 the run's statistics from its cgroups as runc prints them: one JSON
                 object and exit with --stats; else one each D (default 5s), and OOM
                 kills, until the container stops
  ps [--format table|json] ID   the container's host processes
  list [--format table|json] [--quiet]   the containers under --root
  features       what this runtime supports (JSON)
  exec [--detach] [--pid-file F] [--console-socket SOCK] [--tty] [--cwd DIR] [--env K=V]...
       [--user UID[:GID]] [--additional-gids GID]... ID COMMAND [ARG...]
  exec [--detach] [--pid-file F] [--console-socket SOCK] --process FILE ID
                 run another process in a running container (what ctr task exec,
                 docker exec and kubectl exec call): a torov VM of its own with the
                 container's root, mounts, host name, policy and limits, in its network
                 namespace; without --detach, wait and exit with its status. It does not
                 share the container's /proc, pids or /tmp (docs/oci.md). Its own
                 failures exit with 255
  (checkpoint, restore and spec are not supported: each fails with one line)

global options:
  --root DIR            state directory (default ${DEFAULT_ROOT})
  --log FILE            write messages and errors to FILE (default: stderr)
  --log-format FORMAT   text (default) or json, as runc writes them
  --debug               also log what config.json asks that torov ignores
  --systemd-cgroup      accepted for compatibility; torov makes its own cgroup for the
                        run (cgroupsPath is ignored), so it has no effect
  -v, --version         print the version
  -h, --help            this help

See docs/oci.md for the containerd, Kubernetes, Docker and Podman configurations, and for
what of config.json torov honours, ignores or refuses.
`;

function version(): string {
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, rel), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'torov' && pkg.version) return pkg.version;
    } catch { /* next */ }
  }
  return 'unknown';
}

/** The package's bin/torov (this file is dist/src/oci/main.js). */
function torovBinary(): string {
  return path.resolve(__dirname, '..', '..', '..', 'bin', 'torov');
}

/** Runs the CLI; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let g: Global = { root: DEFAULT_ROOT, logFormat: 'text', debug: false, systemdCgroup: false };
  let log = new Logger(g);
  // exec fails with 255, as runc's: its own status is the program's.
  let failStatus = 1;
  try {
    const top = parseFlags(argv, GLOBAL_FLAGS, true);
    const f = top.flags;
    const fmt = f['log-format'] ?? 'text';
    if (fmt !== 'text' && fmt !== 'json') throw new OciError(`--log-format must be text or json (got ${JSON.stringify(fmt)})`);
    g = { root: path.resolve(typeof f['root'] === 'string' ? f['root'] : DEFAULT_ROOT), logFormat: fmt, debug: f['debug'] === true, systemdCgroup: f['systemd-cgroup'] === true,
      ...(typeof f['log'] === 'string' ? { log: path.resolve(f['log']) } : {}) };
    log = new Logger(g);
    if (f['version']) { writeFd(1, `torov-oci version ${version()}\nspec: ${OCI_VERSION}\n`); return 0; }
    const [cmd, ...rest] = top.rest;
    if (f['help'] || cmd === undefined || cmd === 'help') { writeFd(1, HELP); return cmd === undefined && !f['help'] ? 1 : 0; }
    if (cmd === 'exec') { failStatus = 255; return await cmdExec(g, log, rest); }
    const spec = COMMAND_FLAGS[cmd];
    if (!spec) {
      if (['checkpoint', 'restore', 'spec'].includes(cmd)) throw new OciError(`${cmd}: not supported by torov-oci (see docs/oci.md)`);
      throw new OciError(`unknown command ${JSON.stringify(cmd)} (try: torov-oci --help)`);
    }
    const p = parseFlags(rest, { ...spec, help: { value: false, alias: 'h' } }, false);
    if (p.flags['help']) { writeFd(1, HELP); return 0; }
    if (g.systemdCgroup) log.write('debug', '--systemd-cgroup: torov makes its own cgroup for the run; the flag has no effect');
    switch (cmd) {
      case 'create': return await cmdCreate(g, log, p, false);
      case 'run': return await cmdCreate(g, log, p, true);
      case 'start': return cmdStart(g, log, oneId(p, 'start'));
      case 'state': writeFd(1, JSON.stringify(stateOf(g, oneId(p, 'state')), null, 2) + '\n'); return 0;
      case 'kill': return cmdKill(g, p);
      case 'delete': return await cmdDelete(g, log, p);
      case 'ps': return cmdPs(g, p);
      case 'list': return cmdList(g, p);
      case 'features': writeFd(1, JSON.stringify(features(), null, 2) + '\n'); return 0;
      case 'pause': return cmdPause(g, log, oneId(p, 'pause'));
      case 'resume': return cmdResume(g, oneId(p, 'resume'));
      case 'update': return cmdUpdate(g, log, p);
      case 'events': return await cmdEvents(g, p);
    }
    return 1;
  } catch (e) {
    const msg = e instanceof OciError || ['PolicyError', 'SandboxError', 'UsageError', 'ElfError'].includes((e as Error)?.name)
      ? (e as Error).message : `internal error: ${(e as Error)?.message ?? String(e)}`;
    log.write('error', msg);
    if (g.log !== undefined) writeFd(2, `torov-oci: ${msg.replace(/[\x00-\x1f\x7f]/g, ' ')}\n`);
    if (process.env['TOROV_DEBUG']) writeFd(2, String((e as Error)?.stack) + '\n');
    return failStatus;
  }
}

/** A container id: what runc accepts, so that it names a directory under --root and nothing else. */
export function checkId(id: string | undefined): string {
  if (id === undefined || id === '') throw new OciError('missing the container id');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,1023}$/.test(id) || id === '.' || id === '..') throw new OciError(`invalid container id ${JSON.stringify(id.slice(0, 80))}: letters, digits, and _ . + - after the first`);
  return id;
}

function oneId(p: Parsed, cmd: string): string {
  if (p.words.length !== 1) throw new OciError(`${cmd}: expected exactly one container id (got ${p.words.length})`);
  return checkId(p.words[0]);
}

const dirOf = (g: Global, id: string) => path.join(g.root, id);

function load(g: Global, id: string): Stored {
  let text: string;
  try { text = fs.readFileSync(path.join(dirOf(g, id), 'state.json'), 'utf8'); } catch {
    throw new OciError(`container "${id}" does not exist`);
  }
  const s = JSON.parse(text) as Stored;
  // bin/torov-oci's native `start` marks a start with this file (src/launcher/oci-front.c).
  if (!s.started && fs.existsSync(path.join(dirOf(g, id), 'started'))) s.started = true;
  return s;
}

function save(g: Global, s: Stored): void {
  writeState(dirOf(g, s.id), s);
}

/** True when the container's process exists (the same process: its start time matches) and is not a zombie. */
function alive(s: Stored): boolean {
  return same(s.pid, s.pidStart);
}

function status(s: Stored): 'created' | 'running' | 'paused' | 'stopped' {
  if (!alive(s)) return 'stopped';
  if (s.freezer !== undefined && (require('./cgroups') as typeof import('./cgroups')).isFrozen(s.freezer, s.pid, s.paused === true)) return 'paused';
  return s.started ? 'running' : 'created';
}

/** The OCI state of a container. */
function stateOf(g: Global, id: string): Record<string, unknown> {
  const s = load(g, id);
  const st = status(s);
  return { ociVersion: OCI_VERSION, id: s.id, pid: st === 'stopped' ? 0 : s.pid, status: st, bundle: s.bundle, rootfs: s.rootfs,
    created: s.created, owner: '', annotations: s.annotations };
}

/** makes a FIFO (Node has no mkfifo). */
function mkfifo(file: string): void {
  const { sys, NR, addressOf } = require('../host/libc') as typeof import('../host/libc');
  const name = Buffer.from(file + '\0');
  const r = sys(NR.mknodat, -100 /* AT_FDCWD */, addressOf(name), 0o010600 /* S_IFIFO | 0600 */, 0);
  if (r < 0) throw new OciError(`cannot make the FIFO ${file} (errno ${-r})`);
}

async function cmdCreate(g: Global, log: Logger, p: Parsed, andRun: boolean): Promise<number> {
  const id = oneId(p, andRun ? 'run' : 'create');
  const bundle = path.resolve(typeof p.flags['bundle'] === 'string' ? p.flags['bundle'] : '.');
  if (typeof p.flags['preserve-fds'] === 'string' && p.flags['preserve-fds'] !== '0') throw new OciError('--preserve-fds: torov-oci passes only fds 0, 1 and 2 to the container');
  if (p.flags['no-pivot']) log.write('debug', '--no-pivot: torov\'s jail always uses pivot_root inside its own mount namespace; ignored');
  const plan = readConfig(bundle);
  for (const n of plan.notes) log.write('debug', `config.json: ${n}`);
  const consoleSocket = typeof p.flags['console-socket'] === 'string' ? path.resolve(p.flags['console-socket']) : undefined;
  if (plan.terminal && consoleSocket === undefined && !andRun) throw new OciError('process.terminal is true but no --console-socket was given');
  if (!plan.terminal && consoleSocket !== undefined) throw new OciError('--console-socket was given but process.terminal is false');
  const { checkEntry } = require('./entry') as typeof import('./entry');
  const words = checkEntry(plan);
  for (const m of makeMountPoints(plan)) log.write('debug', `made the mount point ${m}`);

  fs.mkdirSync(g.root, { recursive: true, mode: 0o711 });
  const dir = dirOf(g, id);
  try { fs.mkdirSync(dir, { mode: 0o711 }); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new OciError(`container "${id}" already exists`);
    throw e;
  }
  const run: { child?: ChildProcess } = {};
  let child: ChildProcess;
  try {
    const policyFile = writePolicy(plan, dir, (m) => log.write('debug', m));
    child = await startRun(dir, plan, policyFile, words, consoleSocket, log, run, 'container');
    const pid = child.pid!;
    const st = procStat(pid);
    if (st === undefined) throw new OciError('the container\'s process ended before it was created');
    const vmmPid = childrenOf(pid)[0] ?? pid;
    const guestMemory = guestMemoryOf(plan, policyFile);
    const memoryOverhead = memoryOverheadOf(pid, vmmPid, guestMemory);
    if (memoryOverhead === undefined) log.write('debug', 'the run has no memory cgroup of its own: update --memory will be refused');
    const stored: Stored = { ociVersion: OCI_VERSION, id, pid, pidStart: st.start, bundle, rootfs: plan.root, created: new Date().toISOString(), started: false,
      annotations: plan.annotations, vmmPid, hooks: plan.hooks, guestMemory, ...(memoryOverhead !== undefined ? { memoryOverhead } : {}) };
    save(g, stored);
    runHooks('prestart', stored, log, true);
    runHooks('createRuntime', stored, log, true);
    if (typeof p.flags['pid-file'] === 'string') {
      const pf = path.resolve(p.flags['pid-file']);
      fs.writeFileSync(pf + '.tmp', String(pid), { mode: 0o644 });
      fs.renameSync(pf + '.tmp', pf);
    }
    log.write('debug', `created ${id}: pid ${pid}`);
  } catch (e) {
    const c = run.child;
    if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  if (!andRun) { child.unref(); return 0; }
  cmdStart(g, log, id);
  if (p.flags['detach']) { child.unref(); return 0; }
  const code = await new Promise<number>((resolve) => {
    const done = (c: number | null, s: NodeJS.Signals | null) => resolve(c ?? 128 + (s ? os.constants.signals[s] : 9));
    if (child!.exitCode !== null || child!.signalCode !== null) done(child!.exitCode, child!.signalCode);
    else child!.on('exit', done);
  });
  if (!p.flags['keep']) fs.rmSync(dir, { recursive: true, force: true });
  return code;
}

/**
 * Starts `torov run --oci-sync DIR` for a plan (a container's, or an exec'd process's) and
 * resolves once its VM is built and waits for the start FIFO; `run.child` holds the
 * process as soon as it exists, so that the caller can kill it if anything fails.
 * DIR gets the FIFOs and the host name file the VMM reads (src/oci/sync.ts).
 */
async function startRun(dir: string, plan: RunPlan, policyFile: string, words: string[], consoleSocket: string | undefined, log: Logger,
  run: { child?: ChildProcess }, what: 'container' | 'exec'): Promise<ChildProcess> {
  let readyFd = -1;
  let pty: import('./console').Pty | undefined;
  try {
    mkfifo(path.join(dir, 'start'));
    mkfifo(path.join(dir, 'ready'));
    readyFd = fs.openSync(path.join(dir, 'ready'), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    if (plan.network.mode === 'join') joinNetwork(plan.network.path);
    // --oci-sync: the VMM opens this directory's FIFOs, says when it is ready, and waits for start.
    const argv = ociRunArgs(plan, dir, policyFile, words);
    log.write('debug', `starting: bin/torov ${argv.map((a) => JSON.stringify(a)).join(' ')}`);
    const cp = require('node:child_process') as typeof import('node:child_process');
    // A terminal: the pty's slave is the process's stdio and, through setsid -c (a new
    // session whose controlling terminal is its stdin), its controlling terminal; the
    // master goes to --console-socket (or, for `run` without one, stays on ours).
    let cmd = torovBinary();
    let stdio: number[] = [0, 1, 2];
    if (plan.terminal) {
      if (consoleSocket === undefined) log.write('debug', `process.terminal without --console-socket: the ${what} uses this terminal`);
      else {
        const con = require('./console') as typeof import('./console');
        pty = con.openPty(plan.consoleSize);
        con.sendFd(consoleSocket, pty.master, pty.path);
        stdio = [pty.slave, pty.slave, pty.slave];
      }
      argv.unshift('-c', cmd);
      cmd = 'setsid';
    }
    const child = cp.spawn(cmd, argv, {
      stdio, cwd: '/',
      env: { PATH: `${path.dirname(process.execPath)}:${process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'}` },
    });
    run.child = child;
    const ready = await waitReady(child, readyFd);
    if (ready !== true) throw new OciError(`the ${what === 'exec' ? 'exec\'d process\'s' : 'container\'s'} VM did not start: ${ready} (torov's message, if any, is on the ${what === 'exec' ? 'process\'s' : 'container\'s'} stderr)`);
    return child;
  } finally {
    if (readyFd >= 0) fs.closeSync(readyFd);
    if (pty) { fs.closeSync(pty.master); fs.closeSync(pty.slave); }
  }
}

/**
 * What the run's memory cgroup allows besides the guest's memory (its in-memory files,
 * kernel buffers, the VMM itself: src/sandbox/cgroup.ts runLimits), read from the cgroup
 * the VMM wrote before it said it was ready; undefined without one.
 */
function memoryOverheadOf(pid: number, vmmPid: number, guestMemory: number): number | undefined {
  const cg = require('./cgroups') as typeof import('./cgroups');
  const mem = cg.cgroupWith(cg.runCgroups(pid, vmmPid), 'memory');
  if (!mem) return undefined;
  const v = cg.readCgroupFile(mem.dir, mem.version === 1 ? 'memory.limit_in_bytes' : 'memory.max')?.trim();
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < guestMemory || Number(v) >= 2 ** 62) return undefined;
  return Number(v) - guestMemory;
}

/** Resolves to true once the VM says it is ready, or to why it will not be. */
function waitReady(child: ChildProcess, fd: number): Promise<true | string> {
  return new Promise((resolve) => {
    const buf = Buffer.alloc(64);
    const t0 = Date.now();
    let exited: string | undefined;
    child.on('error', (e) => { exited = `cannot start bin/torov: ${e.message}`; });
    child.on('exit', (code, sig) => { exited = sig ? `it was killed by ${sig}` : `torov exited with status ${code}`; });
    const poll = (): void => {
      let n = 0;
      try { n = fs.readSync(fd, buf, 0, buf.length, null); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') { resolve(`reading its FIFO: ${(e as Error).message}`); return; } }
      if (n > 0 && buf.subarray(0, n).toString().startsWith('ready')) { resolve(true); return; }
      if (exited !== undefined) { resolve(exited); return; }
      if (Date.now() - t0 > CREATE_TIMEOUT_MS) { resolve(`not ready after ${CREATE_TIMEOUT_MS / 1000}s`); return; }
      setTimeout(poll, 3);
    };
    poll();
  });
}

/** Moves this (single JS) thread into a network namespace: the torov it spawns runs there, with --network host. */
function joinNetwork(nsPath: string): void {
  const { sys, NR } = require('../host/libc') as typeof import('../host/libc');
  const { O_PATH } = require('../linux/fcntl') as typeof import('../linux/fcntl');
  // Only a namespace file (nsfs), looked at without opening it: a FIFO or a device swapped
  // in after config.ts's check is never opened (nor waited on).
  const pathFd = fs.openSync(nsPath, O_PATH);
  try {
    const via = `/proc/self/fd/${pathFd}`;
    if (fs.statfsSync(via).type !== 0x6e736673 /* NSFS_MAGIC */) throw new OciError(`${nsPath} is not a namespace file`);
    const fd = fs.openSync(via, fs.constants.O_RDONLY);
    try {
      const r = sys(NR.setns, fd, 0x40000000 /* CLONE_NEWNET */);
      if (r < 0) throw new OciError(`cannot join the network namespace ${nsPath} (errno ${-r})`);
    } finally { fs.closeSync(fd); }
  } finally { fs.closeSync(pathFd); }
}

/** The children of a process (from every thread). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      try { out.push(...fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)); } catch { /* ended */ }
    }
  } catch { /* gone */ }
  return out;
}

/**
 * Runs the config's hooks of one kind, in order, each with the container's state on its
 * stdin. Their `pid` is the VMM's: the process in the container's network and mount
 * namespaces, which is what a hook such as Docker's libnetwork-setkey configures.
 * A failing prestart or createRuntime hook fails `create` (`fatal`); the others are logged.
 */
function runHooks(kind: HookKind, s: Stored, log: Logger, fatal: boolean, status = 'created'): void {
  const cp = require('node:child_process') as typeof import('node:child_process');
  const state = JSON.stringify({ ociVersion: OCI_VERSION, id: s.id, status, pid: s.vmmPid, bundle: s.bundle, annotations: s.annotations });
  (s.hooks[kind] ?? []).forEach((h, i) => {
    const env: Record<string, string> = {};
    for (const e of h.env) { const eq = e.indexOf('='); if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1); }
    const r = cp.spawnSync(h.path, h.args.slice(1), { ...(h.args[0] !== undefined ? { argv0: h.args[0] } : {}), env, input: state, encoding: 'utf8',
      timeout: (h.timeout ?? 60) * 1000, killSignal: 'SIGKILL', stdio: ['pipe', 'pipe', 'pipe'] });
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}${r.signal === 'SIGKILL' ? ` (its timeout, ${h.timeout ?? 60}s?)` : ''}` : r.status !== 0 ? `exit status ${r.status}` : undefined;
    if (why === undefined) { log.write('debug', `hook ${kind}[${i}] ${h.path}: ok`); return; }
    const msg = `hook ${kind}[${i}] ${h.path} failed: ${why}${r.stderr ? `: ${r.stderr.trim().split('\n')[0]}` : ''}`;
    if (fatal) throw new OciError(msg);
    log.write('warning', msg);
  });
}

function cmdStart(g: Global, log: Logger, id: string): number {
  const s = load(g, id);
  const st = status(s);
  if (st === 'paused') throw new OciError('cannot start a container in the paused state (resume it first)');
  if (st !== 'created') throw new OciError(`cannot start a container that is ${st === 'stopped' ? 'stopped (container not running)' : 'already running'}`);
  let fd: number;
  try { fd = fs.openSync(path.join(dirOf(g, id), 'start'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK); }
  catch { throw new OciError(`cannot start container "${id}": its VM is not waiting (container not running)`); }
  try { fs.writeSync(fd, 's'); } finally { fs.closeSync(fd); }
  s.started = true;
  save(g, s);
  runHooks('poststart', s, log, false, 'running');
  return 0;
}

// ---- exec ---------------------------------------------------------------------------

/** An exec'd process of a container: its launcher, and its directory (ROOT/ID/exec-XXXXXX). */
interface ExecRecord { pid: number; pidStart: string; dir: string }

/** The exec'd processes of a container that still run. */
function execRecords(g: Global, id: string): ExecRecord[] {
  const out: ExecRecord[] = [];
  let entries: string[] = [];
  try { entries = fs.readdirSync(dirOf(g, id)).filter((e) => e.startsWith('exec-')); } catch { return out; }
  for (const e of entries) {
    const dir = path.join(dirOf(g, id), e);
    try {
      const r = JSON.parse(fs.readFileSync(path.join(dir, 'exec.json'), 'utf8')) as { pid: number; pidStart: string };
      if (Number.isSafeInteger(r.pid) && r.pid > 0 && typeof r.pidStart === 'string' && same(r.pid, r.pidStart)) out.push({ pid: r.pid, pidStart: r.pidStart, dir });
    } catch { /* starting, or ended */ }
  }
  return out;
}

/** The host processes of a container's exec'd processes: each launcher and its VMM. */
function execProcesses(g: Global, id: string): number[] {
  return execRecords(g, id).flatMap((r) => [r.pid, ...descendants(r.pid)]);
}

/**
 * Ends a container's exec'd processes: SIGKILL to each one's VMM, so that its launcher
 * ends (status 137) and removes the run's cgroup as it does after any end of its VMM;
 * the launchers still there after `waitMs` get SIGKILL too.
 */
async function killExecs(g: Global, id: string, waitMs: number): Promise<void> {
  const recs = execRecords(g, id);
  for (const r of recs) for (const p of descendants(r.pid)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  for (let waited = 0; recs.some((r) => same(r.pid, r.pidStart)) && waited < waitMs; waited += 20) await new Promise((res) => setTimeout(res, 20));
  for (const r of recs) if (same(r.pid, r.pidStart)) { try { process.kill(r.pid, 'SIGKILL'); } catch { /* gone */ } }
}


/**
 * `exec`: another process in a running container, as a torov VM of its own (a second
 * `torov run`) with the container's root, mounts, host name, policy and limits (its
 * config.json, read again from the bundle as runc does, with this process in it), in the
 * network namespace of the container's VMM. The pid file names its launcher (bin/torov),
 * the process containerd's shim reaps and signals: its exit status is the program's.
 * A guard (bin/torov-oci --exec-guard) ends it when the container's process ends, as the kernel
 * ends runc's exec'd processes with the container's PID namespace.
 */
async function cmdExec(g: Global, log: Logger, argv: string[]): Promise<number> {
  const ex = require('./exec') as typeof import('./exec');
  const req = ex.parseExecArgs(argv);
  if (req.help) { writeFd(1, HELP); return 0; }
  const id = checkId(req.id);
  for (const n of req.notes) log.write('debug', `exec: ${n}`);
  const s = load(g, id);
  const st = status(s);
  if (st === 'stopped') throw new OciError('cannot exec in a stopped container (container not running)');
  if (st === 'paused' && !req.ignorePaused) throw new OciError('cannot exec in a paused container (use --ignore-paused to override)');
  const processJson = req.processFile !== undefined ? ex.parseProcessJson(ex.readProcessFile(path.resolve(req.processFile)), req.processFile) : undefined;
  const { readConfigDoc, planRun } = require('./config') as typeof import('./config');
  const doc = readConfigDoc(s.bundle);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new OciError(`${s.bundle}/config.json: the top level must be an object`);
  const proc = ex.execProcess(req, (doc as Record<string, unknown>)['process'], processJson);
  let plan: RunPlan;
  try { plan = planRun(ex.execConfig(doc as Record<string, unknown>, proc), s.bundle); } catch (e) { throw ex.execError(e); }
  for (const n of plan.notes) log.write('debug', `exec: ${n}`);
  const consoleSocket = req.consoleSocket !== undefined ? path.resolve(req.consoleSocket) : undefined;
  if (plan.terminal && consoleSocket === undefined && req.detach) throw new OciError('exec: a terminal (--tty, process.terminal) with --detach needs --console-socket');
  if (!plan.terminal && consoleSocket !== undefined) throw new OciError('exec: --console-socket was given but the process has no terminal (--tty, process.terminal)');
  // The container's network: its VMM's namespace (the host's, for a container without one).
  const kids = childrenOf(s.pid);
  const vmm = kids.includes(s.vmmPid) ? s.vmmPid : kids[0];
  if (vmm === undefined) throw new OciError('cannot exec in a stopped container (its VM is gone)');
  plan.network = { mode: 'join', path: `/proc/${vmm}/ns/net` };
  const { checkEntry } = require('./entry') as typeof import('./entry');
  const words = checkEntry(plan);

  const dir = fs.mkdtempSync(path.join(dirOf(g, id), 'exec-'));
  const run: { child?: ChildProcess } = {};
  let child: ChildProcess;
  try {
    const policyFile = writePolicy(plan, dir, (m) => log.write('debug', m));
    child = await startRun(dir, plan, policyFile, words, consoleSocket, log, run, 'exec');
    const pid = child.pid!;
    const pst = procStat(pid);
    if (pst === undefined) throw new OciError('the exec\'d process ended before it started');
    if (!alive(s)) throw new OciError('cannot exec in a stopped container (it ended meanwhile)');
    fs.writeFileSync(path.join(dir, 'exec.json'), JSON.stringify({ pid, pidStart: pst.start }), { mode: 0o600 });
    const cp = require('node:child_process') as typeof import('node:child_process');
    // The guard: bin/torov-oci's (src/launcher/oci-front.c), a small static process.
    cp.spawn(path.resolve(__dirname, '..', '..', '..', 'bin', 'torov-oci'), ['--exec-guard', String(s.pid), s.pidStart, String(pid), pst.start, dir],
      { stdio: 'ignore', detached: true, cwd: '/', env: {} }).unref();
    const fd = fs.openSync(path.join(dir, 'start'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    try { fs.writeSync(fd, 's'); } finally { fs.closeSync(fd); }
    if (req.pidFile !== undefined) {
      const pf = path.resolve(req.pidFile);
      fs.writeFileSync(pf + '.tmp', String(pid), { mode: 0o644 });
      fs.renameSync(pf + '.tmp', pf);
    }
    log.write('debug', `exec in ${id}: pid ${pid}`);
  } catch (e) {
    const c = run.child;
    if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  if (req.detach) { child.unref(); return 0; }
  // Attached: signals sent to this process reach the exec'd one (its launcher forwards them).
  const relay = (sig: NodeJS.Signals) => { try { child.kill(sig); } catch { /* ended */ } };
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
  for (const sg of sigs) process.on(sg, relay);
  const code = await new Promise<number>((resolve) => {
    const done = (c: number | null, sg: NodeJS.Signals | null) => resolve(c ?? 128 + (sg ? os.constants.signals[sg] : 9));
    if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode, child.signalCode);
    else child.on('exit', done);
  });
  for (const sg of sigs) process.off(sg, relay);
  fs.rmSync(dir, { recursive: true, force: true });
  return code;
}

/** A signal name (TERM, SIGTERM, sigterm) or number; the default is SIGTERM. */
export function parseSignal(v: string | undefined): number {
  if (v === undefined) return os.constants.signals.SIGTERM;
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1 || n > 64) throw new OciError(`invalid signal ${v}: expected 1 to 64 or a name`);
    return n;
  }
  const name = v.toUpperCase().startsWith('SIG') ? v.toUpperCase() : `SIG${v.toUpperCase()}`;
  // Real-time signals as glibc numbers them (34 to 64): RTMIN, RTMIN+N, RTMAX, RTMAX-N.
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt) {
    const n = (rt[1] === 'MIN' ? 34 : 64) + (rt[2] === '+' ? 1 : rt[2] === '-' ? -1 : 0) * Number(rt[3] ?? 0);
    if (n >= 34 && n <= 64) return n;
  }
  const n = (os.constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new OciError(`invalid signal ${JSON.stringify(v)}`);
  return n;
}

/** The container's process and its descendants (host pids). */
function processes(s: Stored): number[] {
  if (!alive(s)) return [];
  const parent = new Map<number, number>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(Number(e));
    if (st) parent.set(Number(e), st.ppid);
  }
  const out = [s.pid];
  for (let i = 0; i < out.length; i++) for (const [pid, pp] of parent) if (pp === out[i] && !out.includes(pid)) out.push(pid);
  return out;
}

function cmdKill(g: Global, p: Parsed): number {
  if (p.words.length < 1 || p.words.length > 2) throw new OciError('kill: expected ID [SIGNAL]');
  const id = checkId(p.words[0]);
  const sig = parseSignal(p.words[1]);
  const s = load(g, id);
  if (!alive(s)) throw new OciError('container not running');
  // The launcher forwards the signals a program handles to the guest; SIGKILL (and --all)
  // ends the whole run: the launcher, then its VMM with it.
  // --all reaches the exec'd processes too: their launchers forward the signal; SIGKILL
  // goes to their VMMs, and each launcher then ends and removes its cgroup.
  const execs = p.flags['all'] ? execRecords(g, id).map((r) => r.pid) : [];
  const targets = p.flags['all'] && sig === os.constants.signals.SIGKILL ? [...processes(s), ...execs.flatMap((e) => descendants(e))] : [s.pid, ...execs];
  const paused = status(s) === 'paused';
  for (const pid of targets) { try { process.kill(pid, sig); } catch { /* ended meanwhile */ } }
  // A frozen process cannot die: after SIGKILL, thaw the run (as runc does). Other
  // signals wait, pending, until `resume`.
  if (paused && sig === os.constants.signals.SIGKILL) thaw(g, s);
  return 0;
}

/** Thaws a paused run (best effort: it is being killed). */
function thaw(g: Global, s: Stored): void {
  if (s.freezer === undefined) return;
  try { (require('./cgroups') as typeof import('./cgroups')).setFrozen(s.freezer, [...processes(s), ...execProcesses(g, s.id)], false); } catch { /* ended meanwhile */ }
  if (s.paused) { s.paused = false; try { save(g, s); } catch { /* removed meanwhile */ } }
}

async function cmdDelete(g: Global, log: Logger, p: Parsed): Promise<number> {
  const id = oneId(p, 'delete');
  const dir = dirOf(g, id);
  if (!fs.existsSync(dir)) {
    if (p.flags['force']) return 0;
    throw new OciError(`container "${id}" does not exist`);
  }
  let s: Stored | undefined;
  try { s = load(g, id); } catch { /* a create that failed half-way: remove what is there */ }
  if (s !== undefined && alive(s)) {
    if (!p.flags['force']) throw new OciError(`cannot delete container "${id}" that is ${status(s)} (use --force)`);
    const paused = status(s) === 'paused';
    for (const pid of processes(s)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    if (paused) thaw(g, s);
    for (let waited = 0; alive(s) && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    if (alive(s)) log.write('warning', `delete: pid ${s.pid} still exists after SIGKILL`);
  }
  // Exec'd processes do not outlive their container (with runc, the kernel ends them
  // with its PID namespace; here their guard does, and this, should the guard be gone).
  await killExecs(g, id, 3000);
  if (s?.freezer !== undefined) {
    // The freezer cgroups `pause` made: empty once the run's processes are gone.
    const left = (require('./cgroups') as typeof import('./cgroups')).removeFreezer(s.freezer, 3000);
    for (const d of left) log.write('warning', `delete: cannot remove the cgroup ${d} (still in use)`);
  }
  // The run's cgroups, which its launcher leaves when it ends by SIGKILL (kill KILL, --force).
  if (s !== undefined) for (const d of removeRunCgroups(dir, s.pid, 1000)) log.write('warning', `delete: cannot remove the cgroup ${d} (still in use)`);
  fs.rmSync(dir, { recursive: true, force: true });
  if (s !== undefined) runHooks('poststop', s, log, false, 'stopped');
  return 0;
}

/**
 * `pause`: freezes every host process of the run (src/oci/cgroups.ts says how), so the
 * guest stops where it is. As runc, a created container can be paused (it stays before
 * its first instruction; `start` then waits for `resume`); a stopped one cannot.
 */
function cmdPause(g: Global, log: Logger, id: string): number {
  const cg = require('./cgroups') as typeof import('./cgroups');
  const s = load(g, id);
  const st = status(s);
  if (st === 'stopped') throw new OciError('container not running');
  if (st === 'paused') throw new OciError('container already paused');
  // Its exec'd processes stop with it, as runc's (in the container's cgroup) do.
  const pids = [...processes(s), ...execProcesses(g, id)];
  const fz = cg.prepareFreezer(s.pid, pids, s.freezer?.made ?? [], (m) => log.write('debug', `pause: ${m}`), execRecords(g, id).map((r) => r.pid));
  if (fz.how === 'signal') log.write('debug', 'pause: no freezer cgroup for the run: stopping its processes with SIGSTOP');
  else log.write('debug', `pause: freezing ${fz.dirs.join(' ')}`);
  // Recorded first: whatever happens next, delete removes the cgroups made.
  s.freezer = fz;
  s.paused = true;
  save(g, s);
  try { cg.setFrozen(fz, pids, true); } catch (e) {
    try { cg.setFrozen(fz, pids, false); } catch { /* reported below */ }
    s.paused = false;
    save(g, s);
    throw e;
  }
  return 0;
}

function cmdResume(g: Global, id: string): number {
  const s = load(g, id);
  if (status(s) !== 'paused' || s.freezer === undefined) throw new OciError('container not paused');
  (require('./cgroups') as typeof import('./cgroups')).setFrozen(s.freezer, [...processes(s), ...execProcesses(g, id)], false);
  s.paused = false;
  save(g, s);
  return 0;
}

/** Reads `update -r`: a file, or '-' for stdin; at most MAX_RESOURCES_BYTES. */
function readResources(from: string): string {
  const { MAX_RESOURCES_BYTES } = require('./update') as typeof import('./update');
  const fd = from === '-' ? 0 : (() => {
    try { return fs.openSync(path.resolve(from), fs.constants.O_RDONLY); } catch (e) { throw new OciError(`update: cannot read ${from}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  })();
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const b = Buffer.alloc(65536);
      let n: number;
      try { n = fs.readSync(fd, b, 0, b.length, null); } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); continue; }
        throw new OciError(`update: cannot read ${from === '-' ? 'the standard input' : from}: ${code ?? (e as Error).message}`);
      }
      if (n === 0) break;
      chunks.push(b.subarray(0, n));
      total += n;
      if (total > MAX_RESOURCES_BYTES) throw new OciError(`update: the resources document is over ${MAX_RESOURCES_BYTES >> 20} MiB`);
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally { if (fd !== 0) fs.closeSync(fd); }
}

/**
 * `update`: new limits for the run's cgroups (src/oci/update.ts says what can change).
 * The guest's own memory and thread limits inside the VM are fixed when it starts; what
 * changes is what the kernel enforces on the whole run.
 */
function cmdUpdate(g: Global, log: Logger, p: Parsed): number {
  const up = require('./update') as typeof import('./update');
  const cg = require('./cgroups') as typeof import('./cgroups');
  const id = oneId(p, 'update');
  const s = load(g, id);
  if (status(s) === 'stopped') throw new OciError('container not running');
  let req: import('./update').UpdateRequest;
  if (typeof p.flags['resources'] === 'string') {
    const others = Object.keys(p.flags).filter((k) => k !== 'resources' && k !== 'help');
    if (others.length) log.write('debug', `update: with -r, ${others.map((k) => `--${k}`).join(' ')} ignored (as runc)`);
    req = up.updateFromResources(readResources(p.flags['resources']));
  } else req = up.updateFromFlags(p.flags);
  for (const n of req.notes) log.write('debug', `update: ${n}`);
  if (up.isEmpty(req)) return 0;
  // A container the native front end created has its memory share recorded here, at its
  // first update (only an update changes the limit, and it records the share first).
  if (s.memoryOverhead === undefined && s.guestMemory !== undefined) {
    const o = memoryOverheadOf(s.pid, s.vmmPid, s.guestMemory);
    if (o !== undefined) { s.memoryOverhead = o; save(g, s); }
  }
  const done = cg.applyUpdate({ dirs: cg.runCgroups(s.pid, s.vmmPid), ...(s.memoryOverhead !== undefined ? { memoryOverhead: s.memoryOverhead } : {}) }, req);
  log.write('debug', `update ${id}: ${done.join(' ')}`);
  return 0;
}

/** utime and stime (clock ticks) of processes, from /proc/PID/stat. */
function procTimes(pids: readonly number[]): { user: number; system: number } {
  let user = 0, system = 0;
  for (const pid of pids) {
    try {
      const t = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
      user += Number(f[11]) || 0; system += Number(f[12]) || 0;
    } catch { /* ended */ }
  }
  return { user, system };
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on x86-64 Linux). */
const USER_HZ = 100;

/**
 * `events`: with --stats, the run's statistics once ({"type":"stats",...}); without, one
 * such line each --interval, and {"type":"oom"} when the kernel kills in the run's memory
 * cgroup, until the container stops (then exit 0), as runc does.
 */
async function cmdEvents(g: Global, p: Parsed): Promise<number> {
  const cg = require('./cgroups') as typeof import('./cgroups');
  const id = oneId(p, 'events');
  let interval = 5000;
  if (typeof p.flags['interval'] === 'string') {
    const { parseDuration } = require('../cli/args') as typeof import('../cli/args');
    try { interval = parseDuration(p.flags['interval']); } catch (e) { throw new OciError(`events: --interval: ${(e as Error).message}`); }
    if (interval <= 0) throw new OciError('events: --interval must be greater than 0');
  }
  const s = load(g, id);
  if (status(s) === 'stopped') throw new OciError(`container with id ${id} is not running`);
  const dirs = cg.runCgroups(s.pid, s.vmmPid);
  let closed = false;
  const emit = (o: unknown): void => {
    try { fs.writeSync(1, cg.statsJson(o) + '\n'); } catch { closed = true; }
  };
  const stats = () => ({ type: 'stats', id, data: cg.buildStats(dirs, cg.readCgroupFile, procTimes(processes(s)), USER_HZ) });
  if (p.flags['stats']) { emit(stats()); return 0; }
  let ooms = cg.oomKills(dirs, cg.readCgroupFile) ?? 0;
  let next = Date.now() + interval;
  while (!closed && alive(s)) {
    await new Promise((r) => setTimeout(r, Math.max(1, Math.min(200, next - Date.now()))));
    const o = cg.oomKills(dirs, cg.readCgroupFile);
    if (o !== undefined && o > ooms) { ooms = o; emit({ type: 'oom', id }); }
    if (Date.now() >= next) {
      if (!alive(s)) break;
      emit(stats());
      next += interval * Math.max(1, Math.ceil((Date.now() - next) / interval));
    }
  }
  return 0;
}

function cmdPs(g: Global, p: Parsed): number {
  const id = oneId(p, 'ps');
  const fmt = p.flags['format'] ?? 'table';
  if (fmt !== 'table' && fmt !== 'json') throw new OciError(`ps: --format must be table or json (got ${JSON.stringify(fmt)})`);
  const pids = [...processes(load(g, id)), ...execProcesses(g, id)];
  if (fmt === 'json') { writeFd(1, JSON.stringify(pids) + '\n'); return 0; }
  const lines = ['PID CMD'];
  for (const pid of pids) {
    let cmd = '';
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' '); } catch { /* gone */ }
    lines.push(`${pid} ${cmd}`);
  }
  writeFd(1, lines.join('\n') + '\n');
  return 0;
}

function cmdList(g: Global, p: Parsed): number {
  let ids: string[] = [];
  try { ids = fs.readdirSync(g.root).filter((e) => fs.existsSync(path.join(g.root, e, 'state.json'))).sort(); } catch { /* no root yet */ }
  if (p.flags['quiet']) { writeFd(1, ids.map((i) => i + '\n').join('')); return 0; }
  const states = ids.map((i) => stateOf(g, i));
  if (p.flags['format'] === 'json') { writeFd(1, JSON.stringify(states) + '\n'); return 0; }
  writeFd(1, ['ID PID STATUS BUNDLE CREATED', ...states.map((s) => `${s['id']} ${s['pid']} ${s['status']} ${s['bundle']} ${s['created']}`)].join('\n') + '\n');
  return 0;
}

/** `features`: what this runtime supports (the runtime spec's features document). */
export function features(): Record<string, unknown> {
  return {
    ociVersionMin: '1.0.0', ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'poststart', 'poststop'],
    mountOptions: ['ro', 'rw', 'bind', 'rbind', 'size'],
    linux: {
      namespaces: ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'],
      capabilities: [],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: { enabled: true, actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_LOG', 'SCMP_ACT_TRAP'], archs: ['SCMP_ARCH_X86_64'] },
      apparmor: { enabled: false }, selinux: { enabled: false },
    },
    annotations: { 'dev.torov.policy': 'a torov policy or seccomp profile file for the guest (absolute, or relative to the bundle)', 'org.opencontainers.runtime-spec.features.torov.vm': 'true' },
  };
}
