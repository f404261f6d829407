/**
 * `torov serve --workers N` (N > 1): one listening socket, N VMM processes.
 *
 * One VMM runs its guests one at a time (its JavaScript is one thread), so a single
 * `torov serve` answers concurrent requests one after the other. The front runs guests in
 * parallel: it listens, and hands each accepted connection to one of N workers, each a
 * whole `torov serve` (its own sandbox, launcher, snapshot and pool of warm VMs) started
 * with `--serve-worker`. A worker does not listen: it takes its connections from the front
 * over Node's IPC channel (the socket itself passes, SCM_RIGHTS), then serves them as
 * serve always does, keep-alive included. So no request pays a hop through the front.
 *
 * The front runs as the user, without namespaces, as bin/torov runs every command but the
 * ones that run a program (src/launcher/launcher.c: `serve --workers N` is such a command;
 * its workers are not). It holds no guest and no program data: it accepts, and passes on.
 *
 * Balancing: a connection goes to the live worker with the fewest open connections (a
 * worker says when one closes), the earliest started on a tie. With as many connections as
 * workers, each worker has one: a keep-alive client's requests never wait behind another's.
 *
 * Lifecycle:
 *  - worker 1 starts first; once it is ready (its snapshot taken), the others start
 *    together. A program that cannot be served fails once, with one message.
 *  - "listening on http://..." is printed when every worker is ready; connections that
 *    come before are held until then.
 *  - a worker that dies while serving is said so and replaced (its open connections are
 *    lost with it), after a growing delay if its slot's worker died shortly before too
 *    (RESTART_WINDOW_MS); connections wait while no worker is up. One that dies before
 *    the front first listens ends the front with its status.
 *  - SIGTERM or SIGINT: the front stops accepting and passes the signal on; each worker
 *    answers what it has taken in and exits; the front exits 0 when all exited 0.
 *  - GET /-/metrics, answered by whichever worker has the connection, sums every worker's
 *    figures (each worker asks the front, which asks them all).
 */
import { spawn, ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';

/** Messages between the front and its workers (Node's IPC channel, JSON). */
export type WorkerMessage =
  | { t: 'ready'; line: string }
  | { t: 'closed' }
  | { t: 'gather'; id: number }
  | { t: 'figures'; id: number; figures: unknown };
export type FrontMessage =
  | { t: 'conn' }
  | { t: 'figures?'; id: number }
  | { t: 'gathered'; id: number; figures: unknown[]; workers: number };

export interface FrontOptions {
  workers: number;
  host: string;
  port: number;
  /** serve's arguments for a worker: the user's, less --workers. */
  args: readonly string[];
  say: (line: string) => void;
  exit: (status: number) => void;
}

interface Worker {
  n: number;
  child: ChildProcess;
  ready: boolean;
  open: number;
  gone: boolean;
  /** Its channel closed: it is dying. */
  lost: boolean;
}

/** Most connections held while the workers start, or while none is up (each is an fd of the front's). */
const MAX_HELD = 1024;

/**
 * A worker that ends within RESTART_WINDOW_MS of its slot's last restart is started again
 * only after a delay, doubled at each such end from RESTART_FIRST_MS up to RESTART_MAX_MS:
 * a program (or request) that kills its worker again and again costs a snapshot now and
 * then, not a busy loop of them. The first end in a while is replaced at once.
 */
const RESTART_WINDOW_MS = 30_000, RESTART_FIRST_MS = 250, RESTART_MAX_MS = 10_000;

/** How long the front waits for a worker's figures for /-/metrics (a worker in a guest's run answers after it). */
const GATHER_MS = 1000;

/** The launcher beside this file's package (dist/torov.js or dist/src/serve/front.js). */
function torovBinary(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'bin', 'torov');
    try { require('node:fs').accessSync(candidate, 1); return candidate; } catch { dir = path.dirname(dir); }
  }
  return path.resolve(__dirname, '..', 'bin', 'torov');
}

export function runFront(o: FrontOptions): void {
  const workers: Worker[] = [];
  const held: net.Socket[] = [];
  let draining = false, listening = false, firstLine = '';
  let nextGather = 1;
  const gathers = new Map<number, { asker: Worker; id: number; want: Set<Worker>; figures: unknown[]; timer: NodeJS.Timeout }>();
  const bin = torovBinary();
  /** Per worker slot: its last restart and the delay before it (see RESTART_WINDOW_MS). */
  const restarts = new Map<number, { at: number; delay: number; timer?: NodeJS.Timeout }>();

  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (sock) => {
    sock.on('error', () => { /* the client went away before a worker took it */ });
    if (draining) { sock.destroy(); return; }
    // Connections before every worker is ready wait (at most MAX_HELD: the rest are closed).
    if (!listening) { if (held.length < MAX_HELD) held.push(sock); else sock.destroy(); return; }
    handOver(sock);
  });
  server.on('error', (e: NodeJS.ErrnoException) => {
    o.say(`torov: serve: cannot listen on ${o.host}:${o.port}: ${e.code === 'EADDRINUSE' ? 'address in use' : e.code === 'EACCES' ? 'permission denied' : e.message}`);
    for (const w of workers) if (!w.gone) w.child.kill('SIGKILL');
    o.exit(125);
  });

  function handOver(sock: net.Socket): void {
    let best: Worker | undefined;
    for (const w of workers) if (w.ready && !w.gone && !w.lost && (best === undefined || w.open < best.open)) best = w;
    if (best === undefined) {
      // No worker is up (they are being replaced): the connection waits for one.
      if (held.length < MAX_HELD) held.push(sock); else sock.destroy();
      return;
    }
    const w = best;
    w.open++;
    w.child.send({ t: 'conn' } satisfies FrontMessage, sock, { keepOpen: false }, (err) => {
      if (err) { w.open = Math.max(0, w.open - 1); sock.destroy(); }
    });
  }

  function start(n: number): Worker {
    const child = spawn(bin, ['serve', '--serve-worker', ...o.args], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
    const w: Worker = { n, child, ready: false, open: 0, gone: false, lost: false };
    child.on('message', (m: WorkerMessage) => onMessage(w, m));
    child.on('error', (e) => { o.say(`torov: serve: cannot start worker ${n}: ${e.message}`); });
    child.on('exit', (code, signal) => onExit(w, code, signal));
    // Its channel closes as it dies, usually before its exit is reaped: no connection goes there from now.
    child.on('disconnect', () => { w.lost = true; });
    return w;
  }

  function onMessage(w: Worker, m: WorkerMessage): void {
    if (typeof m !== 'object' || m === null) return;
    switch (m.t) {
      case 'ready':
        w.ready = true;
        if (!firstLine) firstLine = m.line;
        if (w.n === 1 && workers.length === 1) for (let i = 2; i <= o.workers; i++) workers.push(start(i));
        if (!listening && workers.length === o.workers && workers.every((x) => x.ready)) {
          listening = true;
          const a = server.address() as net.AddressInfo;
          const host = a.address.includes(':') ? `[${a.address}]` : a.address;
          o.say(`torov: serve: ${firstLine}; listening on http://${host}:${a.port}/ with ${o.workers} workers`);
          for (const s of held.splice(0)) handOver(s);
        } else if (listening) for (const s of held.splice(0)) handOver(s);
        break;
      case 'closed':
        w.open = Math.max(0, w.open - 1);
        break;
      case 'gather': {
        // A worker was asked for /-/metrics: every live worker's figures, itself included.
        const id = nextGather++;
        const want = new Set(workers.filter((x) => x.ready && !x.gone));
        const g = { asker: w, id: m.id, want, figures: [] as unknown[], timer: setTimeout(() => finishGather(id), GATHER_MS) };
        gathers.set(id, g);
        for (const x of want) send(x, { t: 'figures?', id });
        if (want.size === 0) finishGather(id);
        break;
      }
      case 'figures': {
        const g = gathers.get(m.id);
        if (!g || !g.want.delete(w)) break;
        g.figures.push({ ...(m.figures as object), worker: w.n });
        if (g.want.size === 0) finishGather(m.id);
        break;
      }
    }
  }

  function finishGather(id: number): void {
    const g = gathers.get(id);
    if (!g) return;
    gathers.delete(id);
    clearTimeout(g.timer);
    if (!g.asker.gone) send(g.asker, { t: 'gathered', id: g.id, figures: g.figures, workers: workers.filter((x) => x.ready && !x.gone).length });
  }

  function send(w: Worker, m: FrontMessage): void {
    try { w.child.send(m); } catch { /* it died: its exit is handled */ }
  }

  function onExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    w.gone = true;
    for (const [id, g] of gathers) if (g.want.delete(w) && g.want.size === 0) finishGather(id);
    const status = code ?? 128 + (signal ? (require('node:os').constants.signals[signal] as number) : 0);
    if (draining) {
      if (workers.every((x) => x.gone)) o.exit(workers.reduce((s, x) => s || (x.child.exitCode ?? (x.child.signalCode ? 128 : 0)), 0));
      return;
    }
    if (!w.ready && !listening) {
      // Before it could serve: the program or its options cannot be served (the worker said why).
      draining = true;
      server.close();
      for (const s of held.splice(0)) s.destroy();
      for (const x of workers) if (!x.gone) x.child.kill('SIGTERM');
      if (workers.every((x) => x.gone)) o.exit(status === 0 ? 125 : status);
      else {
        const first = status === 0 ? 125 : status;
        const wait = () => { if (workers.every((x) => x.gone)) o.exit(first); else setTimeout(wait, 50); };
        wait();
      }
      return;
    }
    const now = Date.now(), last = restarts.get(w.n);
    const delay = last && now - last.at < RESTART_WINDOW_MS ? Math.min(Math.max(2 * last.delay, RESTART_FIRST_MS), RESTART_MAX_MS) : 0;
    const r: { at: number; delay: number; timer?: NodeJS.Timeout } = { at: now + delay, delay };
    restarts.set(w.n, r);
    o.say(`torov: serve: worker ${w.n} (pid ${w.child.pid}) ended (${signal ? `killed by ${signal}` : `status ${code}`})${w.ready ? '' : ' before it was ready'}`
      + ` with ${w.open} open connection${w.open === 1 ? '' : 's'}; starting another${delay > 0 ? ` in ${delay / 1000} s (it ended again within ${RESTART_WINDOW_MS / 1000} s)` : ''}`);
    const replace = () => {
      r.timer = undefined;
      if (draining) return;
      const i = workers.indexOf(w);
      if (i >= 0) workers[i] = start(w.n);
    };
    if (delay > 0) r.timer = setTimeout(replace, delay); else replace();
  }

  function drain(sig: NodeJS.Signals): void {
    if (draining) return;
    draining = true;
    for (const r of restarts.values()) if (r.timer) clearTimeout(r.timer);
    server.close();
    for (const s of held.splice(0)) s.destroy();
    for (const w of workers) if (!w.gone) w.child.kill(sig);
    if (workers.every((x) => x.gone)) o.exit(0);
  }
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGTERM'));
  process.on('SIGHUP', () => drain('SIGTERM'));

  server.listen(o.port, o.host, () => { workers.push(start(1)); });
}

/** serve's arguments less --workers (and its value), up to the program (`programAt`: its index). */
export function workerArgs(argv: readonly string[], programAt: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (i < programAt) {
      if (a === '--workers') { i++; continue; }
      if (a.startsWith('--workers=')) continue;
    }
    out.push(a);
  }
  return out;
}
