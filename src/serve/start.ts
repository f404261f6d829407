/**
 * torov serve's start, inside the VMM process that `torov run` would use (src/cli/run.ts
 * sets up the sandbox, the policy and the program as for a run, then calls these):
 * prepareServing() before the seccomp filter, startServing() after it.
 */
import { sys, addressOf } from '../host/libc';
import { SYS as NRS } from '../linux/syscalls';
import type { MachineConfig } from '../vmm/machine';
import type { ServeRequest } from '../cli/run';
import type { Snapshot } from '../vmm/snapshot';
import { CgiServer, emptyDirExcept, listDir } from './server';
import type { FrontChannel, ServeFigures } from './server';
import type { FrontMessage, WorkerMessage } from './front';
import { Socket } from 'node:net';
import { nowMs } from '../host/clock';

/** Spare environment slots a served program starts with: each request's variables take them (src/vmm/snapshot.ts). */
export const SPARE_ENV_SLOTS = 128;

/** What is made before the seccomp filter: the per-run stdio memfds, the snapshot's memory file, the per-request timer. */
export interface ServingPrep {
  stdinFd: number;
  stdoutFd: number;
  snapshotFd: number;
  timer: import('../vmm/host-signals').RunTimer;
}

function memfd(name: string, flags: number): number {
  const b = Buffer.from(name + '\0');
  const fd = sys(NRS.memfd_create, addressOf(b), flags);
  if (fd < 0) throw new Error(`serve: memfd_create failed (errno ${-fd})`);
  return fd;
}

export function prepareServing(): ServingPrep {
  // V8 finds the host's time zone (ICU reads /etc/localtime's link) on the first use of local
  // time; the HTTP Date header and the access log use dates: done now, before the filter.
  void new Date().toString(); void new Date().getTimezoneOffset(); void new Date().toUTCString();
  const { snapshotMemfd } = require('../vmm/snapshot') as typeof import('../vmm/snapshot');
  const { createRunTimer } = require('../vmm/host-signals') as typeof import('../vmm/host-signals');
  // Write tracking (src/machine/write-track.ts): its userfaultfd and /proc/self/pagemap are
  // opened now, while the host's /proc is in view and before the filter.
  (require('../machine/write-track') as typeof import('../machine/write-track')).openWriteTracking();
  return { stdinFd: memfd('torov-stdin', 1), stdoutFd: memfd('torov-stdout', 1), snapshotFd: snapshotMemfd(), timer: createRunTimer() };
}

/**
 * Runs the program to its capture point, then serves. Returns 0 and leaves the process
 * running (the server exits when it has drained); throws a UsageError-like one-line error
 * when the program cannot be snapshotted.
 */
export function startServing(cfg: MachineConfig, serve: ServeRequest, prep: ServingPrep,
  o: { sandbox: boolean; tmp: boolean; listenFd: number }): number {
  const { Machine } = require('../vmm/machine') as typeof import('../vmm/machine');
  const { say, writeStdout } = require('../cli/main') as typeof import('../cli/main');
  const { tellLauncher } = require('../sandbox/launch') as typeof import('../sandbox/launch');
  const baseEnv = [...cfg.env];
  if (!serve.snapshot) return serveCold(cfg, serve, prep, o, baseEnv);
  let snap: Snapshot | undefined;
  const t0 = nowMs();
  const m = new Machine({ ...cfg, env: [...baseEnv, ...Array<string>(SPARE_ENV_SLOTS).fill('')], stdio: [prep.stdinFd, prep.stdoutFd, 2],
    capture: { at: 'stdin', memfd: prep.snapshotFd, done: (s) => { snap = s; } } });
  let status: number;
  try { status = m.run(); } finally { m.close(); }
  if (!snap) {
    const err = new Error(`serve: ${cfg.path} ended (status ${status}) before its first read of stdin: there is nothing to snapshot (a served program reads its request body from stdin first; --no-snapshot starts it afresh for each request)`);
    err.name = 'UsageError';
    throw err;
  }
  const s = snap;
  const ms = nowMs() - t0;
  const outSize = sys(NRS.lseek, prep.stdoutFd, 0, 2);
  if (outSize > 0) say(`torov: serve: note: the program wrote ${outSize} bytes to stdout before its snapshot: they are not part of any answer`);
  // The private /tmp: what is there at the snapshot stays; what a request adds goes after it.
  let resetTmp: (() => void) | undefined;
  if (o.sandbox && o.tmp) {
    const keep = new Set(listDir('/tmp'));
    resetTmp = () => emptyDirExcept('/tmp', keep);
  } else if (!o.sandbox) {
    say('torov: serve: note: --no-sandbox: the program has no private /tmp; files it writes there stay between requests');
  }
  const restoreCfg: MachineConfig = { ...cfg, env: [], stdio: [prep.stdinFd, prep.stdoutFd, 2], restore: s };
  (globalThis as { __torovServing?: boolean }).__torovServing = true;
  const server = new CgiServer({
    listen: serve.worker ? { front: frontChannel() } : o.listenFd >= 0 ? { fd: o.listenFd } : { host: serve.host, port: serve.port },
    concurrency: serve.concurrency, queueLimit: serve.queueLimit, timeoutMs: serve.timeoutMs, maxBody: serve.maxBody, logFormat: serve.logFormat,
    baseEnv, restore: () => new Machine(restoreCfg), stdinFd: prep.stdinFd, stdoutFd: prep.stdoutFd, timer: prep.timer, resetTmp,
    snapshotBytes: s.bytes, software: 'torov', say, logLine: (l) => writeStdout(l),
    exit: (st) => process.exit(st),
    onListening: (address, port) => {
      const what = `${cfg.argv[0]} snapshotted after ${ms.toFixed(1)} ms (${(s.bytes / 1024).toFixed(0)} KiB of guest memory)`;
      if (serve.worker) { tellFront({ t: 'ready', line: `${what}, ${serve.concurrency} warm VMs per worker` }); tellLauncher('ready'); return; }
      say(`torov: serve: ${what}; listening on http://${address.includes(':') ? `[${address}]` : address}:${port}/ with ${serve.concurrency} warm VMs`);
      // From here the launcher forwards SIGTERM and SIGINT: the server drains on them.
      tellLauncher('ready');
    },
  });
  server.start();
  return 0;
}

/**
 * --no-snapshot: each request starts the program afresh in a new VM (kept VMs and windows
 * are reused, as for torov run), its variables in its initial environment as a classic CGI
 * server gives them. For CGI programs that read their variables before stdin.
 */
function serveCold(cfg: MachineConfig, serve: ServeRequest, prep: ServingPrep, o: { sandbox: boolean; tmp: boolean; listenFd: number }, baseEnv: string[]): number {
  const { Machine } = require('../vmm/machine') as typeof import('../vmm/machine');
  const { say, writeStdout } = require('../cli/main') as typeof import('../cli/main');
  const { tellLauncher } = require('../sandbox/launch') as typeof import('../sandbox/launch');
  const keep = o.sandbox && o.tmp ? new Set(listDir('/tmp')) : undefined;
  const stdio: [number, number, number] = [prep.stdinFd, prep.stdoutFd, 2];
  /** A VM made when its request's environment is known. */
  const cold = () => {
    let m: InstanceType<typeof Machine> | undefined;
    const idle = { requested: false, status: 0, reason: undefined as string | undefined };
    return {
      prepareRestored(env: readonly string[]): number { m = new Machine({ ...cfg, env, stdio }); return 0; },
      run(): number { return m!.run(); },
      close(): void { m?.close(); },
      get stop() { return m?.stop ?? idle; },
    };
  };
  (globalThis as { __torovServing?: boolean }).__torovServing = true;
  const server = new CgiServer({
    listen: serve.worker ? { front: frontChannel() } : o.listenFd >= 0 ? { fd: o.listenFd } : { host: serve.host, port: serve.port },
    concurrency: serve.concurrency, queueLimit: serve.queueLimit, timeoutMs: serve.timeoutMs, maxBody: serve.maxBody, logFormat: serve.logFormat,
    baseEnv, restore: cold, stdinFd: prep.stdinFd, stdoutFd: prep.stdoutFd, timer: prep.timer,
    resetTmp: keep ? () => emptyDirExcept('/tmp', keep) : undefined, snapshotBytes: 0, software: 'torov', say, logLine: (l) => writeStdout(l),
    exit: (st) => process.exit(st),
    onListening: (address, port) => {
      if (serve.worker) { tellFront({ t: 'ready', line: `${cfg.argv[0]} without snapshot (--no-snapshot: a new VM per request)` }); tellLauncher('ready'); return; }
      say(`torov: serve: ${cfg.argv[0]} without snapshot (--no-snapshot: a new VM per request); listening on http://${address.includes(':') ? `[${address}]` : address}:${port}/`);
      tellLauncher('ready');
    },
  });
  server.start();
  return 0;
}

/** Sends a message to the front of `serve --workers N` (src/serve/front.ts). */
function tellFront(m: WorkerMessage): void {
  try { process.send?.(m); } catch { /* the front is gone: 'disconnect' drains */ }
}

/**
 * A worker's side of the front's IPC channel (Node's, on fd 5: the launcher passed it on):
 * connections arrive with a { t: 'conn' } message, each a socket of its own; the front asks
 * for this worker's figures and hands back everyone's for /-/metrics. If the front goes
 * away, the worker drains and exits as on SIGTERM.
 */
function frontChannel(): FrontChannel {
  let take: ((s: Socket) => void) | undefined, figures: (() => ServeFigures) | undefined;
  let nextId = 1;
  const waiting = new Map<number, (figures: ServeFigures[], workers: number) => void>();
  process.on('message', (m: FrontMessage, handle?: unknown) => {
    if (typeof m !== 'object' || m === null) return;
    if (m.t === 'conn' && handle instanceof Socket) { if (take) take(handle); else handle.destroy(); }
    else if (m.t === 'figures?' && figures) tellFront({ t: 'figures', id: m.id, figures: figures() });
    else if (m.t === 'gathered') {
      const done = waiting.get(m.id);
      waiting.delete(m.id);
      done?.(m.figures as ServeFigures[], m.workers);
    }
  });
  process.on('disconnect', () => process.emit('SIGTERM' as never));
  return {
    connections(f) { take = f; },
    closed() { tellFront({ t: 'closed' }); },
    gather(done) {
      const id = nextId++;
      waiting.set(id, done);
      tellFront({ t: 'gather', id });
    },
    answer(f) { figures = f; },
  };
}
