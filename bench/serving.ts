/**
 * `npm run bench`'s serving section (issue 15), side by side in one run:
 * - restore of a snapshot (hello_cgi after its start, in this process): median time, and
 *   the run that follows;
 * - host memory per warm VM in a pool (restored, not yet run), beyond the guest pages the
 *   snapshot holds (shared by every restored VM);
 * - `torov serve` with hello_cgi (sandbox on), with one VMM and with one per CPU
 *   (--workers): p50, p99 and requests per second with 1 connection and with one per CPU, against a native CGI baseline (a Node HTTP server in
 *   its own process that forks and executes the same binary per request: bench/native-cgi.ts)
 *   and Hyperlight's published ~0.9 ms per call in a fresh micro-VM;
 * - where a request's time goes, from serve's own metrics (restore, guest run, the rest:
 *   HTTP, queueing, the reply).
 *
 * Also runnable alone, briefly, as a check that it works (not a measurement):
 *   node dist/bench/serving.js --smoke
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Machine, MachineConfig } from '../src/vmm/machine';
import { defaultPolicy } from '../src/policy';
import { Snapshot, snapshotMemfd } from '../src/vmm/snapshot';
import { openWriteTracking, writeTrackingOff } from '../src/machine/write-track';

const ROOT = path.resolve(__dirname, '..', '..');
const HELLO = path.join(ROOT, 'test', 'guests', 'hello_cgi');
const TOROV = path.join(ROOT, 'bin', 'torov');

export interface ServingRow { what: string; native?: number; torov?: number; unit: string; note?: string }

const log = (s: string) => process.stderr.write(s + '\n');
const median = (v: number[]) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

/** The VMM's resident bytes (this process). */
function rss(): number {
  return Number(fs.readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
}

/** Snapshot and restores in this process: restore time, run time, memory per warm VM. */
function inProcess(rows: ServingRow[], n: number, pool: number): void {
  const devnull = fs.openSync('/dev/null', 'r+');
  const base: MachineConfig = { path: HELLO, image: fs.readFileSync(HELLO), argv: [HELLO], env: ['PATH_INFO=/'], memory: 64 * 2 ** 20,
    policy: defaultPolicy(), log: () => {}, syscallPath: 'exit', stdio: [devnull, devnull, devnull] };
  let snap: Snapshot | undefined;
  const cap = new Machine({ ...base, env: [...base.env, ...Array<string>(16).fill('')], capture: { at: 'stdin', memfd: snapshotMemfd(), done: (s) => { snap = s; } } });
  cap.run(); cap.close();
  if (!snap) throw new Error('hello_cgi: no snapshot');
  openWriteTracking();
  const cfg: MachineConfig = { ...base, restore: snap };
  // Restores as serve makes them (in place from the second on, where the kernel can track
  // writes: only the pages the last run wrote are put back), then into a fresh window each
  // time (the window emptied after each run, as when a run changed its mappings), alternating.
  const M = { inPlace: { restore: [] as number[], run: [] as number[], release: [] as number[], count: 0 },
    fresh: { restore: [] as number[], run: [] as number[], release: [] as number[], count: 0 } };
  for (let round = 0; round < 2 * Math.ceil(n / 50); round++) {
    const mode = round % 2 === 0 ? 'inPlace' : 'fresh', r = M[mode];
    for (let i = 0; i < 60; i++) {
      const t0 = process.hrtime.bigint();
      const m = new Machine(cfg);
      const t1 = process.hrtime.bigint();
      m.prepareRestored(['PATH_INFO=/x']);
      const st = m.run();
      const t2 = process.hrtime.bigint();
      m.close();
      const t3 = process.hrtime.bigint();
      if (mode === 'fresh' && m.mem.held !== undefined) m.mem.scrub();
      if (st !== 0) throw new Error(`restored hello_cgi exited ${st}`);
      if (i >= 10) {
        r.restore.push(Number(t1 - t0)); r.run.push(Number(t2 - t1)); r.release.push(Number(t3 - t2));
        if (m.restoredInPlace) r.count++;
      }
    }
  }
  const ms = (v: number[]) => (median(v) / 1e6).toFixed(3);
  for (const [mode, what] of [['inPlace', 'restore of a snapshot (hello_cgi after start), as serve does'], ['fresh', 'restore of a snapshot into a fresh window']] as const) {
    const r = M[mode];
    rows.push({ what, torov: median(r.restore), unit: 'ns',
      note: `goal <= 0.1 ms; then its run ${ms(r.run)} ms, release ${ms(r.release)} ms; ${r.count} of ${r.restore.length} in place (${writeTrackingOff ?? 'write tracking on'}); snapshot ${(snap.bytes / 1024).toFixed(0)} KiB` });
  }
  // A pool of restored VMs: the host memory each costs beyond the snapshot's (shared) pages.
  const before = rss();
  const vms: Machine[] = [];
  for (let i = 0; i < pool; i++) vms.push(new Machine(cfg));
  const per = (rss() - before) / pool;
  for (const m of vms) m.close();
  rows.push({ what: `host memory per warm VM (pool of ${pool})`, torov: per / 2 ** 20, unit: 'MiB', note: 'goal <= 0.5 MiB beyond the guest pages touched (the snapshot\'s pages are shared, mapped copy-on-write)' });
  fs.closeSync(devnull);
}

interface Load { requests: number; errors: number; rps: number; p50: number; p99: number }

/** bench/httpload.ts (its own process) with `conns` connections for `ms` against PATH. */
function load(port: number, conns: number, ms: number): Promise<Load> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, [path.join(__dirname, 'httpload.js'), String(port), String(conns), String(ms), '/bench'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout!.on('data', (d) => { out += d; });
    c.on('close', (code) => (code === 0 ? res(JSON.parse(out) as Load) : rej(new Error(`httpload exited ${code}`))));
  });
}

/** Starts a server process; resolves with its port (from "listening on http://127.0.0.1:PORT/" on stderr). */
function startServer(argv: string[]): Promise<{ port: number; stop: () => Promise<void>; get: (p: string) => Promise<string> }> {
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((res) => proc.on('close', () => res()));
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr!.on('data', (d) => {
      err += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
      if (m) {
        const port = Number(m[1]);
        resolve({ port, stop: async () => { proc.kill('SIGTERM'); await exited; },
          get: (p) => new Promise((r, j) => http.get({ host: '127.0.0.1', port, path: p }, (res) => { let b = ''; res.on('data', (x) => { b += x; }); res.on('end', () => r(b)); }).on('error', j)) });
      }
    });
    proc.on('close', (code) => reject(new Error(`${argv.join(' ')} exited ${code}: ${err}`)));
  });
}

/** torov serve against the native CGI baseline, at 1 connection and at the CPU count. */
async function served(rows: ServingRow[], ms: number): Promise<void> {
  const cpus = os.availableParallelism();
  const policy = path.join(ROOT, 'test', 'fixtures', 'cgi-policy.json');
  const torov = await startServer([TOROV, 'serve', '--port', '0', '--policy', policy, '--concurrency', String(cpus), HELLO]);
  // One VMM process runs its guests one after the other; --workers N runs N VMMs behind one socket.
  const workers = await startServer([TOROV, 'serve', '--port', '0', '--policy', policy, '--workers', String(cpus), '--concurrency', '1', HELLO]);
  const native = await startServer([process.execPath, path.join(__dirname, 'native-cgi.js'), HELLO]);
  try {
    for (const conns of [1, cpus]) {
      log(`serving: hello_cgi, ${conns} connection(s): native CGI, then torov serve, then torov serve --workers ${cpus}...`);
      await load(native.port, conns, 500); await load(torov.port, conns, 500); await load(workers.port, conns, 500);          // warm up
      const n = await load(native.port, conns, ms), t = await load(torov.port, conns, ms), w = await load(workers.port, conns, ms);
      for (const [name, r] of [['serve', t], [`serve --workers ${cpus}`, w]] as const) {
        rows.push({ what: `${name} hello-CGI, ${conns} conn: p50 latency`, native: n.p50 * 1000, torov: r.p50 * 1000, unit: 'ns',
          note: `goal p50 <= 1 ms (Hyperlight: ~0.9 ms per call in a fresh micro-VM); p99: native ${(n.p99 / 1000).toFixed(2)} ms, torov ${(r.p99 / 1000).toFixed(2)} ms; errors: native ${n.errors}, torov ${r.errors}` });
        rows.push({ what: `${name} hello-CGI, ${conns} conn: requests per second`, native: n.rps, torov: r.rps, unit: 'req/s', note: 'goal: torov >= native CGI' });
      }
    }
    // Where a request's time goes, from serve's own counters.
    const m = await torov.get('/-/metrics');
    const v = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(m)?.[1] ?? NaN);
    const count = v('torov_serve_request_duration_seconds_count'), total = v('torov_serve_request_duration_seconds_sum');
    const restores = v('torov_serve_restores_total'), restoreS = v('torov_serve_restore_seconds_total'), runS = v('torov_serve_run_seconds_total');
    const ms1 = (s: number) => (s * 1000).toFixed(3);
    rows.push({ what: 'serve: where a request\'s time goes', torov: (total / count) * 1e9, unit: 'ns',
      note: `per request: guest run and release ${ms1(runS / count)} ms; a restore ${ms1(restoreS / restores)} ms (between requests, ${restores} for ${count} requests); the rest (HTTP parse, queueing behind other requests, reply) ${ms1((total - runS) / count)} ms` });
  } finally {
    await torov.stop();
    await workers.stop();
    await native.stop();
  }
}

export async function sectionServing(rows: ServingRow[], quick: boolean): Promise<void> {
  log('serving: snapshot restores in process...');
  inProcess(rows, quick ? 100 : 500, quick ? 8 : 32);
  await served(rows, quick ? 3000 : 10_000);
}

if (require.main === module && process.argv.includes('--smoke')) {
  const rows: ServingRow[] = [];
  void (async () => {
    inProcess(rows, 20, 4);
    await served(rows, 300);
    for (const r of rows) process.stdout.write(`${r.what}: native ${r.native ?? '-'} torov ${r.torov} ${r.unit} ${r.note ?? ''}\n`);
  })().catch((e) => { log(String((e as Error).stack ?? e)); process.exit(1); });
}
