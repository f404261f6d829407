/**
 * torov serve: an HTTP/1.1 server (Node's http, keep-alive) that answers each request by
 * running the program as a CGI/1.1 program in a VM restored from its snapshot
 * (src/vmm/snapshot.ts), taken at the program's first read of stdin.
 *
 * Request flow (docs/serving.md):
 *   accept, parse (Node) -> body read (413 past --max-body) -> queue (503 past --queue)
 *   -> a warm VM from the pool (restored ahead of time; restored now if the pool is empty)
 *   -> the request's meta-variables written as its environment, the body as its stdin
 *   -> the VM runs (504 past --timeout) -> its stdout parsed as CGI (502 if invalid or if it
 *   crashed) -> the reply -> access log; the used VM is released and the pool refilled in
 *   the background, between requests.
 *
 * The VMM's JavaScript is one thread, and a guest runs on it synchronously: runs never
 * overlap. That keeps per-run host state simple (one stdin and one stdout memfd, files'
 * offsets put back before each run, the private /tmp emptied after each) and is what one
 * VMM process can do; --concurrency sizes the pool of ready VMs and how many requests are
 * taken in at once, not parallel guests. `--workers N` runs N such VMM processes behind one
 * listening socket (src/serve/front.ts).
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { getHeapStatistics } from 'node:v8';
import { residentBytes } from '../syscalls/hostproc';
import { cgiEnvironment, parseCgiResponse } from './cgi';
import { sys, NR, addressOf } from '../host/libc';
import { STAT } from '../linux/structs';
import type { RunTimer } from '../vmm/host-signals';
import { nowMs } from '../host/clock';

/** What the server needs of a restored VM (src/vmm/machine.ts's Machine). */
export interface WarmVm {
  prepareRestored(env: readonly string[]): number;
  run(): number;
  close(): void;
  readonly stop: { requested: boolean; status: number; reason: string | undefined };
  /** Its window held the snapshot's state already: only the pages the last run wrote were put back. */
  readonly restoredInPlace?: boolean;
}

/** A worker of `torov serve --workers N` (src/serve/front.ts): it takes its connections from the front. */
export interface FrontChannel {
  /** Calls `take` with each connection the front hands over. */
  connections(take: (s: Socket) => void): void;
  /** A connection it handed over closed. */
  closed(): void;
  /** Every worker's figures() for /-/metrics (this one's included), and how many workers there are. */
  gather(done: (figures: ServeFigures[], workers: number) => void): void;
  /** Answers the front's requests for this worker's figures. */
  answer(figures: () => ServeFigures): void;
}

/** One server's counters and gauges, summed over workers for /-/metrics. */
export interface ServeFigures {
  byStatus: Array<[number, number]>;
  hist: number[];
  sum: number;
  count: number;
  restores: number; restoresInPlace: number; restoreSeconds: number; runSeconds: number;
  timeouts: number; crashes: number; invalid: number; rejected: number;
  warm: number; poolSize: number; queue: number; inflight: number; snapshotBytes: number; heap: number; resident: number;
  /** Which worker (1..N) of a --workers front, set by the front. */
  worker?: number;
}

export interface ServeConfig {
  /** A listening socket to adopt (the launcher's, on the host's network), where to listen, or the front's connections. */
  listen: { fd: number } | { host: string; port: number } | { front: FrontChannel };
  /** How many ready VMs the pool keeps, and how many requests are taken in at once. */
  concurrency: number;
  /** Requests waiting beyond the ones taken in: past it, 503. */
  queueLimit: number;
  /** Per request, ms (0: none). */
  timeoutMs: number;
  /** Request bodies over this many bytes get 413. */
  maxBody: number;
  logFormat: 'text' | 'json';
  /** The program's own environment (-e), before the request's variables. */
  baseEnv: readonly string[];
  /** Restores a VM from the snapshot, its stdio the two memfds below and the VMM's stderr. */
  restore: () => WarmVm;
  /** The memfds every run's stdin and stdout are (created before the sandbox's filter). */
  stdinFd: number;
  stdoutFd: number;
  timer: RunTimer;
  /** Empties the guest's private /tmp back to its state at the snapshot (undefined: no private /tmp). */
  resetTmp: (() => void) | undefined;
  /** Bytes of guest memory in the snapshot. */
  snapshotBytes: number;
  software: string;
  say: (line: string) => void;
  /** Writes an access-log line (stdout). */
  logLine: (line: string) => void;
  /** Called once the server drained after SIGTERM/SIGINT, with the exit status. */
  exit: (status: number) => void;
  /** Drain on SIGTERM and SIGINT (default true; the library's serve() leaves the process's signals alone). */
  signals?: boolean;
  /** Called once listening, with the bound address. */
  onListening?: (address: string, port: number) => void;
}

/** Latency histogram buckets (seconds). */
const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Job {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  body: Buffer;
  t0: number;
  /** The program's environment for this request (set when it runs). */
  env?: string[];
}

const statBuf = Buffer.alloc(STAT.SIZE);
const F_SETFL = 4;
/** Most bytes of program output read back (a larger answer is 502). */
const MAX_OUTPUT = 64 * 1024 * 1024;

export class CgiServer {
  private readonly pool: WarmVm[] = [];
  private readonly queue: Job[] = [];
  private running = false;
  private pumping = false;
  private refilling = false;
  private draining = false;
  private inflight = 0;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly m = {
    byStatus: new Map<number, number>(), hist: new Array<number>(BUCKETS.length + 1).fill(0), sum: 0, count: 0,
    restores: 0, restoresInPlace: 0, restoreSeconds: 0, runSeconds: 0, timeouts: 0, crashes: 0, invalid: 0, rejected: 0,
  };

  constructor(private readonly c: ServeConfig) {
    this.server = http.createServer({ keepAlive: true }, (req, res) => this.onRequest(req, res));
    this.server.keepAliveTimeout = 5000;
    this.server.on('connection', (s: Socket) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    this.server.on('clientError', (_e, s: Socket) => { if (s.writable) s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'); else s.destroy(); });
  }

  /** Fills the pool, then listens. */
  start(): void {
    while (this.pool.length < this.c.concurrency) this.pool.push(this.restoreOne());
    const onListen = () => {
      const a = this.server.address();
      if (a && typeof a === 'object') this.c.onListening?.(a.address, a.port);
    };
    this.server.on('error', (e: NodeJS.ErrnoException) => { this.c.say(`torov: serve: ${e.message}`); this.shutdown(125); });
    if ('front' in this.c.listen) {
      const front = this.c.listen.front;
      front.answer(() => this.figures());
      front.connections((s) => {
        s.once('close', () => front.closed());
        if (this.draining) { s.destroy(); return; }
        this.server.emit('connection', s);
        s.resume();
      });
      this.c.onListening?.('', 0);
    } else if ('fd' in this.c.listen) this.server.listen({ fd: this.c.listen.fd }, onListen);
    else this.server.listen(this.c.listen.port, this.c.listen.host, onListen);
    if (this.c.signals !== false) for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => this.drain());
  }

  private restoreOne(): WarmVm {
    const t = nowMs();
    const vm = this.c.restore();
    this.m.restores++;
    if (vm.restoredInPlace) this.m.restoresInPlace++;
    this.m.restoreSeconds += (nowMs() - t) / 1000;
    return vm;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const t0 = nowMs();
    if (this.draining) res.setHeader('Connection', 'close');
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/-/health') { this.reply(req, res, t0, this.draining ? 503 : 200, this.draining ? 'draining\n' : 'ok\n'); return; }
    if (path === '/-/metrics') {
      const type = 'text/plain; version=0.0.4';
      if ('front' in this.c.listen) this.c.listen.front.gather((f, n) => this.reply(req, res, t0, 200, metricsText(f, n), type));
      else this.reply(req, res, t0, 200, this.metrics(), type);
      return;
    }
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
    if (declared !== undefined && declared > this.c.maxBody) { this.tooLarge(req, res, t0); return; }
    if (this.inflight >= this.c.concurrency + this.c.queueLimit) {
      this.m.rejected++;
      res.setHeader('Retry-After', '1');
      this.reply(req, res, t0, 503, 'busy: too many requests waiting\n');
      req.resume();
      return;
    }
    this.inflight++;
    const chunks: Buffer[] = [];
    let size = 0, over = false;
    req.on('data', (b: Buffer) => {
      if (over) return;
      size += b.length;
      if (size > this.c.maxBody) { over = true; chunks.length = 0; return; }
      chunks.push(b);
    });
    req.on('end', () => {
      if (over) { this.inflight--; this.tooLarge(req, res, t0); this.maybeExit(); return; }
      this.queue.push({ req, res, body: Buffer.concat(chunks, size), t0 });
      this.schedule();
    });
    req.on('error', () => { this.inflight--; this.maybeExit(); });
  }

  private tooLarge(req: http.IncomingMessage, res: http.ServerResponse, t0: number): void {
    res.setHeader('Connection', 'close');
    this.reply(req, res, t0, 413, `request body over ${this.c.maxBody} bytes\n`);
    req.resume();
  }

  private schedule(): void {
    if (this.pumping) return;
    this.pumping = true;
    setImmediate(() => { this.pumping = false; this.pump(); });
  }

  /** Runs one queued request, then yields to the event loop (new connections, other replies). */
  private pump(): void {
    if (this.running) return;
    const job = this.queue.shift();
    if (!job) { this.refill(); return; }
    this.running = true;
    try {
      this.runJob(job);
    } catch (e) {
      // A restore that failed (host memory, fds): this request gets 500, the server goes on.
      this.c.say(`torov: serve: ${job.req.method} ${job.req.url}: ${(e as Error).message}`);
      this.reply(job.req, job.res, job.t0, 500, 'internal error\n');
    } finally {
      this.running = false;
      this.inflight--;
    }
    this.c.resetTmp?.();
    if (this.queue.length > 0) this.schedule(); else this.refill();
    this.maybeExit();
  }

  /** Restores VMs into the pool, one per turn of the event loop, while no request waits. */
  private refill(): void {
    if (this.refilling || this.draining || this.pool.length >= this.c.concurrency) return;
    this.refilling = true;
    setImmediate(() => {
      this.refilling = false;
      if (this.queue.length > 0 || this.draining || this.pool.length >= this.c.concurrency) { this.schedule(); return; }
      try { this.pool.push(this.restoreOne()); } catch (e) { this.c.say(`torov: serve: restore failed: ${(e as Error).message}`); return; }
      this.refill();
    });
  }

  private runJob(job: Job): void {
    const { req, res, body } = job;
    if (res.destroyed || req.socket.destroyed) return;
    const vm = this.pool.pop() ?? this.restoreOne();
    // stdin: the body, from offset 0; stdout: empty. Both with no status flag a run may
    // have set on them (F_SETFL: O_NONBLOCK, O_APPEND...): every run's stdio shares these
    // two open files, and the flags are the open file's, not the fd's.
    sys(NR.fcntl, this.c.stdinFd, F_SETFL, 0);
    sys(NR.fcntl, this.c.stdoutFd, F_SETFL, 0);
    sys(NR.ftruncate, this.c.stdinFd, 0);
    if (body.length > 0) sys(NR.pwrite64, this.c.stdinFd, addressOf(body), body.length, 0);
    sys(NR.lseek, this.c.stdinFd, 0, 0);
    sys(NR.ftruncate, this.c.stdoutFd, 0);
    sys(NR.lseek, this.c.stdoutFd, 0, 0);
    const sock = req.socket;
    const local = sock.localPort ?? 0;
    job.env = [...this.c.baseEnv, ...cgiEnvironment({
      method: req.method ?? 'GET', url: req.url ?? '/', httpVersion: req.httpVersion, rawHeaders: req.rawHeaders,
      remoteAddress: sock.remoteAddress ?? '', remotePort: sock.remotePort ?? 0,
      serverName: (req.headers.host ?? '').replace(/:\d+$/, '') || (sock.localAddress ?? 'localhost'), serverPort: local,
      bodyLength: body.length > 0 || req.headers['content-length'] !== undefined ? body.length : undefined, software: this.c.software,
    })];
    const t1 = nowMs();
    try {
      this.answer(job, vm);
    } finally {
      // Released after the reply is on its way: its cost (dropping the pages the run wrote) is off the request's path.
      try { vm.close(); } catch (e) { this.c.say(`torov: serve: releasing a VM: ${(e as Error).message}`); }
      this.m.runSeconds += (nowMs() - t1) / 1000;
    }
  }

  /** Runs the restored VM for the request and replies. */
  private answer(job: Job, vm: WarmVm): void {
    const { req, res, t0 } = job;
    let status: number;
    try {
      const dropped = vm.prepareRestored(job.env!);
      if (dropped > 0) this.c.say(`torov: serve: ${dropped} request variables did not fit the program's environment (more header fields than its spare slots)`);
      if (this.c.timeoutMs > 0) this.c.timer.arm(this.c.timeoutMs, `torov: serve: ${req.method} ${req.url}: stopped after ${this.c.timeoutMs} ms (--timeout)`);
      try { status = vm.run(); } finally { if (this.c.timeoutMs > 0) this.c.timer.disarm(); }
    } catch (e) {
      this.c.say(`torov: serve: internal error: ${(e as Error).message}`);
      this.reply(req, res, t0, 500, 'internal error\n');
      return;
    }
    if (vm.stop.requested && vm.stop.status === 124) { this.m.timeouts++; this.reply(req, res, t0, 504, 'the program did not answer in time\n'); return; }
    if (status >= 128) { this.m.crashes++; this.reply(req, res, t0, 502, `the program failed (status ${status})\n`); return; }
    const out = this.readOutput();
    if (out === undefined) { this.m.invalid++; this.reply(req, res, t0, 502, 'the program\'s answer is too large\n'); return; }
    const r = parseCgiResponse(out);
    if (typeof r === 'string') {
      this.m.invalid++;
      this.c.say(`torov: serve: ${req.method} ${req.url}: invalid CGI answer: ${r}${status !== 0 ? ` (exit status ${status})` : ''}`);
      this.reply(req, res, t0, 502, 'the program\'s answer is not valid CGI\n');
      return;
    }
    for (const [k, v] of r.headers) { try { res.appendHeader(k, v); } catch { /* a value Node refuses: dropped */ } }
    this.send(req, res, t0, r.status, r.body, r.reason);
  }

  private readOutput(): Buffer | undefined {
    if (sys(NR.fstat, this.c.stdoutFd, addressOf(statBuf)) < 0) return Buffer.alloc(0);
    const size = Number(statBuf.readBigInt64LE(STAT.st_size));
    if (size > MAX_OUTPUT) return undefined;
    const b = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = sys(NR.pread64, this.c.stdoutFd, addressOf(b) + done, size - done, done);
      if (n <= 0) break;
      done += n;
    }
    return b.subarray(0, done);
  }

  private reply(req: http.IncomingMessage, res: http.ServerResponse, t0: number, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
    res.setHeader('Content-Type', type);
    this.send(req, res, t0, status, Buffer.from(text));
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, t0: number, status: number, body: Buffer, reason?: string): void {
    if (res.headersSent || res.destroyed) return;
    if (this.draining) res.setHeader('Connection', 'close');
    res.setHeader('Content-Length', body.length);
    if (reason !== undefined) res.writeHead(status, reason); else res.writeHead(status);
    res.end(req.method === 'HEAD' ? undefined : body);
    const ms = nowMs() - t0;
    this.m.byStatus.set(status, (this.m.byStatus.get(status) ?? 0) + 1);
    this.m.sum += ms / 1000;
    this.m.count++;
    let i = 0;
    while (i < BUCKETS.length && ms / 1000 > BUCKETS[i]!) i++;
    this.m.hist[i]!++;
    this.log(req, status, body.length, ms);
  }

  private log(req: http.IncomingMessage, status: number, bytes: number, ms: number): void {
    const remote = req.socket.remoteAddress ?? '-';
    if (this.c.logFormat === 'json') {
      this.c.logLine(JSON.stringify({ time: new Date().toISOString(), remote, method: req.method, url: req.url, protocol: `HTTP/${req.httpVersion}`,
        status, bytes, ms: Math.round(ms * 1000) / 1000, agent: req.headers['user-agent'] ?? null }) + '\n');
      return;
    }
    const safe = (s: string) => s.replace(/[\x00-\x1f\x7f"\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    this.c.logLine(`${remote} - - [${clfDate(new Date())}] "${safe(req.method ?? '')} ${safe(req.url ?? '')} HTTP/${req.httpVersion}" ${status} ${bytes} ${ms.toFixed(3)}ms\n`);
  }

  /** This server's figures (for /-/metrics; a --workers front sums them over its workers). */
  figures(): ServeFigures {
    const m = this.m;
    return {
      byStatus: [...m.byStatus], hist: [...m.hist], sum: m.sum, count: m.count,
      restores: m.restores, restoresInPlace: m.restoresInPlace, restoreSeconds: m.restoreSeconds, runSeconds: m.runSeconds,
      timeouts: m.timeouts, crashes: m.crashes, invalid: m.invalid, rejected: m.rejected,
      warm: this.pool.length, poolSize: this.c.concurrency, queue: this.queue.length, inflight: this.inflight,
      snapshotBytes: this.c.snapshotBytes, heap: getHeapStatistics().used_heap_size, resident: residentBytes(),
    };
  }

  /** Prometheus text format (version 0.0.4). */
  metrics(): string {
    return metricsText([this.figures()], 1);
  }

  /** SIGTERM/SIGINT: no new connections; requests taken in are answered; then exit 0. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.c.say('torov: serve: draining (no new connections; answering the requests taken in)');
    this.server.close();
    this.maybeExit();
  }

  private maybeExit(): void {
    if (!this.draining || this.inflight > 0 || this.queue.length > 0 || this.running) return;
    // Idle keep-alive connections are closed; a reply still being written finishes first.
    this.server.closeIdleConnections();
    const done = () => this.shutdown(0);
    if (this.sockets.size === 0) { setImmediate(done); return; }
    for (const s of this.sockets) s.once('close', () => { if (this.sockets.size === 0) done(); });
    setTimeout(() => { for (const s of this.sockets) s.destroy(); }, 2000).unref();
  }

  private exited = false;
  private shutdown(status: number): void {
    if (this.exited) return;
    this.exited = true;
    for (const vm of this.pool.splice(0)) { try { vm.close(); } catch { /* exiting */ } }
    this.c.exit(status);
  }
}

/**
 * /-/metrics from one or more servers' figures (a --workers front's workers): counters,
 * the histogram and the gauges are summed; the snapshot's size is one worker's (each holds
 * its own copy).
 */
export function metricsText(figs: readonly ServeFigures[], workers: number): string {
  const out: string[] = [];
  const total = (k: keyof ServeFigures) => figs.reduce((a, f) => a + (typeof f[k] === 'number' ? f[k] as number : 0), 0);
  const byStatus = new Map<number, number>();
  for (const f of figs) for (const [code, n] of f.byStatus) byStatus.set(code, (byStatus.get(code) ?? 0) + n);
  out.push('# HELP torov_serve_requests_total Requests answered, by HTTP status.', '# TYPE torov_serve_requests_total counter');
  for (const [code, n] of [...byStatus].sort((a, b) => a[0] - b[0])) out.push(`torov_serve_requests_total{code="${code}"} ${n}`);
  out.push('# HELP torov_serve_request_duration_seconds Time from the request\'s arrival to its reply.', '# TYPE torov_serve_request_duration_seconds histogram');
  let acc = 0;
  const hist = (i: number) => figs.reduce((a, f) => a + (f.hist[i] ?? 0), 0);
  BUCKETS.forEach((b, i) => { acc += hist(i); out.push(`torov_serve_request_duration_seconds_bucket{le="${b}"} ${acc}`); });
  acc += hist(BUCKETS.length);
  out.push(`torov_serve_request_duration_seconds_bucket{le="+Inf"} ${acc}`, `torov_serve_request_duration_seconds_sum ${total('sum')}`, `torov_serve_request_duration_seconds_count ${total('count')}`);
  const gauge = (name: string, help: string, v: number, type = 'gauge') => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${v}`);
  gauge('torov_serve_workers', 'VMM processes serving (--workers).', workers);
  gauge('torov_serve_workers_reporting', 'Workers whose figures are in this answer (one in a long guest run answers too late to count).', figs.length);
  if (figs.some((f) => f.worker !== undefined)) {
    out.push('# HELP torov_serve_worker_requests_total Requests answered by each worker (how the front spreads connections).', '# TYPE torov_serve_worker_requests_total counter');
    for (const f of [...figs].sort((a, b) => (a.worker ?? 0) - (b.worker ?? 0))) out.push(`torov_serve_worker_requests_total{worker="${f.worker ?? 0}"} ${f.count}`);
  }
  gauge('torov_serve_pool_warm', 'VMs restored and ready in the pool.', total('warm'));
  gauge('torov_serve_pool_size', 'The pool\'s target size (--concurrency, per worker).', total('poolSize'));
  gauge('torov_serve_queue_length', 'Requests waiting for a VM.', total('queue'));
  gauge('torov_serve_inflight', 'Requests taken in and not answered yet.', total('inflight'));
  gauge('torov_serve_restores_total', 'VMs restored from the snapshot.', total('restores'), 'counter');
  gauge('torov_serve_restores_in_place_total', 'Restores into a window kept after its last run: only the pages that run wrote were put back (see docs/serving.md).', total('restoresInPlace'), 'counter');
  gauge('torov_serve_restore_seconds_total', 'Time spent restoring VMs.', total('restoreSeconds'), 'counter');
  gauge('torov_serve_run_seconds_total', 'Time guests ran (request path).', total('runSeconds'), 'counter');
  gauge('torov_serve_timeouts_total', 'Runs stopped at --timeout (504).', total('timeouts'), 'counter');
  gauge('torov_serve_crashes_total', 'Runs that ended with a signal (502).', total('crashes'), 'counter');
  gauge('torov_serve_invalid_total', 'Runs whose answer was not valid CGI (502).', total('invalid'), 'counter');
  gauge('torov_serve_rejected_total', 'Requests refused with 503 (queue full).', total('rejected'), 'counter');
  gauge('torov_serve_snapshot_bytes', 'Guest memory held by the snapshot (shared by every restored VM of a worker).', figs[0]?.snapshotBytes ?? 0);
  gauge('torov_serve_heap_bytes', 'The VMMs\' JavaScript heap in use.', total('heap'));
  gauge('torov_serve_resident_bytes', 'The VMM processes\' resident memory (guest pages of the warm VMs included; -1: unknown).', figs.some((f) => f.resident < 0) ? -1 : total('resident'));
  return out.join('\n') + '\n';
}

function clfDate(d: Date): string {
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** The names in directory `dir` (raw getdents64: Node's fs calls more than the sandbox's filter allows). */
export function listDir(dir: string): string[] {
  const fd = sys(NR.openat, AT_FDCWD, addressOf(Buffer.from(dir + '\0')), O_RDONLY_DIR);
  if (fd < 0) return [];
  try { return namesIn(fd); } finally { sys(NR.close, fd); }
}

const AT_FDCWD = -100, O_RDONLY_DIR = 0o200000 | 0o2000000 | 0o400000;   // O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW
const AT_REMOVEDIR = 0x200, EISDIR = 21, ENOTEMPTY = 39;
const dents = Buffer.alloc(32768);

function namesIn(fd: number): string[] {
  const out: string[] = [];
  for (;;) {
    const n = sys(NR.getdents64, fd, addressOf(dents), dents.length);
    if (n <= 0) return out;
    for (let off = 0; off < n;) {
      const reclen = dents.readUInt16LE(off + 16);
      const end = dents.indexOf(0, off + 19);
      const name = dents.toString('utf8', off + 19, end);
      if (name !== '.' && name !== '..') out.push(name);
      off += reclen;
    }
  }
}

/** Removes `name` under directory fd `dfd`, a directory with everything in it (never following a link). */
function removeAt(dfd: number, name: string): void {
  const p = Buffer.from(name + '\0');
  const r = sys(NR.unlinkat, dfd, addressOf(p), 0);
  if (r !== -EISDIR && r !== -1 /* EPERM: a directory on some file systems */) return;
  const sub = sys(NR.openat, dfd, addressOf(p), O_RDONLY_DIR);
  if (sub >= 0) {
    try { for (const n of namesIn(sub)) removeAt(sub, n); } finally { sys(NR.close, sub); }
  }
  const d = sys(NR.unlinkat, dfd, addressOf(p), AT_REMOVEDIR);
  void d; void ENOTEMPTY;
}

/** Empties directory `dir` but for the names in `keep` (the private /tmp after a request). */
export function emptyDirExcept(dir: string, keep: ReadonlySet<string>): void {
  const fd = sys(NR.openat, AT_FDCWD, addressOf(Buffer.from(dir + '\0')), O_RDONLY_DIR);
  if (fd < 0) return;
  try {
    for (const n of namesIn(fd)) if (!keep.has(n)) removeAt(fd, n);
  } finally { sys(NR.close, fd); }
}
