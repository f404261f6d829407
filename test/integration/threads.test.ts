/**
 * Guest threads (issue 10): pthreads with musl and glibc, Go, Rust, and a thread blocked in
 * accept() while another runs. Every case runs the same static binary natively and under
 * torov and compares stdout and the exit status (a death by signal N counts as 128+N). The
 * native run must give the expected status too, so a broken guest fails here and not as a
 * torov bug. Most runs use --no-sandbox (the sandbox is not the point); a few use it.
 * Programs forging bad thread state (test/guests/sigbad clone-*) run only under torov.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import { guest, TOROV, testRunOptions, spawn, spawnSync } from '../helpers';

/** torov's default guest environment (PATH, HOME, TERM), given to native runs too. */
const ENV: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/', TERM: 'xterm' };
/** A hung guest ends as torov's --timeout (status 124), not as a hung test. */
const LIMIT = '30s';

interface Out { status: number | null; stdout: string; stderr: string }
interface RunOpts { sandbox?: boolean; env?: Record<string, string>; extra?: string[] }

/** The exit status, a death by signal N as 128+N (what torov reports for its guest). */
function statusOf(code: number | null, signal: NodeJS.Signals | null): number | null {
  return signal ? 128 + os.constants.signals[signal] : code;
}

function nativeArgv(file: string, args: readonly string[]): string[] { return [file, ...args]; }

function torovArgv(file: string, args: readonly string[], o: RunOpts = {}): string[] {
  const env = Object.entries(o.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  return [TOROV, 'run', ...(o.sandbox ? testRunOptions() : ['--no-sandbox']), '--timeout', LIMIT,
    ...env, ...(o.extra ?? []), file, ...args];
}

function run(argv: readonly string[], env: Record<string, string>): Out {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input: '', env, timeout: 120_000, maxBuffer: 16 << 20 });
  return { status: statusOf(r.status, r.signal), stdout: r.stdout, stderr: r.stderr };
}

const runNative = (name: string, args: readonly string[], o: RunOpts = {}) => run(nativeArgv(guest(name), args), { ...ENV, ...o.env });
const runTorov = (name: string, args: readonly string[], o: RunOpts = {}) => run(torovArgv(guest(name), args, o), process.env as Record<string, string>);

/**
 * Runs `name args` natively (which must exit with `status`) and under torov; stdout and
 * status must be the same. Returns the torov run.
 */
function same(name: string, args: readonly string[], status = 0, o: RunOpts = {}): Out {
  const n = runNative(name, args, o);
  assert.equal(n.status, status, `natively, ${name} ${args.join(' ')}: ${n.stderr}`);
  const v = runTorov(name, args, o);
  assert.deepEqual({ status: v.status, stdout: v.stdout }, { status: n.status, stdout: n.stdout },
    `${name} ${args.join(' ')} under torov${o.sandbox ? ' (sandbox)' : ''}; its stderr:\n${v.stderr}`);
  return v;
}

/** No sign on stderr that the VMM itself broke (a JavaScript stack trace, an internal error). */
function vmmWell(r: Out, what: string): void {
  assert.notEqual(r.status, 125, `${what}: torov failed itself: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+\(.+:\d+:\d+\)$/m, `${what}: a stack trace from the VMM`);
  assert.doesNotMatch(r.stderr, /internal error|TypeError|RangeError|ReferenceError/, `${what}: ${r.stderr}`);
}

// ---------------------------------------------------------------------------------------
// pthreads, musl (threads) and glibc (threads_glibc): one source, test/guests/threads.c.

const PTHREADS: { mode: string[]; status?: number; what: string }[] = [
  { mode: ['mutex'], what: '16 threads x 100,000 mutex-protected increments, distinct tids' },
  { mode: ['cond'], what: 'producer/consumer on condition variables, broadcast, timedwait ETIMEDOUT' },
  { mode: ['tls'], what: '__thread variables and pthread keys per thread, destructors' },
  { mode: ['exit'], what: 'a thread calls pthread_exit while two others run on' },
  { mode: ['mainexit'], what: 'main calls pthread_exit, a worker joins it and the process exits 0' },
  { mode: ['exitgroup'], status: 3, what: 'exit(3) from a thread ends the process while another is blocked in read' },
  { mode: ['detach'], what: '100 detached threads' },
  { mode: ['join'], what: 'pthread_join return values, a thread that finished before the join' },
  { mode: ['stack'], what: 'a caller-provided 64 KiB stack, a 16 KiB stack, a 4 MiB stack' },
  { mode: ['cancel'], what: 'pthread_cancel of a thread blocked in read (a signal from the C library)' },
  { mode: ['sync'], what: 'barrier, rwlock, semaphores, atomics' },
  { mode: ['many'], what: '64 threads alive at once' },
  { mode: ['shootdown'], what: 'a page unmapped (then made read-only) by one thread faults in another at once' },
  { mode: ['cpus'], what: 'the CPU count (affinity, sysconf) is the host\'s by default' },
  { mode: ['robust'], what: 'robust futex lists at thread death: EOWNERDEAD, a looping list, an unmapped list' },
  { mode: ['clone-errors'], what: 'clone and clone3 refused with Linux\'s errors' },
];

for (const c of PTHREADS) {
  test(`pthreads ${c.mode.join(' ')}: ${c.what} (musl and glibc)`, () => {
    for (const g of ['threads', 'threads_glibc']) same(g, c.mode, c.status ?? 0);
  });
}

test('pthreads in the sandbox: mutex counter, cancel and a thread exiting the process (musl and glibc)', () => {
  for (const g of ['threads', 'threads_glibc']) {
    same(g, ['mutex', '16', '20000'], 0, { sandbox: true });
    same(g, ['cancel'], 0, { sandbox: true });
    same(g, ['exitgroup'], 3, { sandbox: true });
  }
});

test('--cpus 1: the program sees one CPU, and 16 threads still run on it', () => {
  for (const g of ['threads', 'threads_glibc']) {
    const r = runTorov(g, ['cpus'], { extra: ['--cpus', '1'] });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^cpus: sched_getaffinity 1$/m);
    assert.match(r.stdout, /^cpus: sysconf online 1$/m);
    const m = runTorov(g, ['mutex', '16', '10000'], { extra: ['--cpus', '1'] });
    assert.equal(m.status, 0, m.stderr);
    assert.match(m.stdout, /^mutex: 16 threads x 10000 increments: total 160000$/m);
  }
});

test('--threads 4: thread creation past the limit fails with EAGAIN, the program reports it', () => {
  for (const g of ['threads', 'threads_glibc']) {
    const r = runTorov(g, ['many', '8'], { extra: ['--threads', '4'] });
    vmmWell(r, `${g} many 8 --threads 4`);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^FAIL threads\.c:\d+: pthread_create.*\(errno=EAGAIN\)$/m);
  }
});

// ---------------------------------------------------------------------------------------
// Child processes the test talks to.

/** A started program; its stdout and stderr are collected as they come. */
class Proc {
  readonly child;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(argv: readonly string[], env: Record<string, string>) {
    // A process group of its own, so that kill() ends torov's sandbox processes too.
    this.child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => { this.stdout += d; });
    this.child.stderr.on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.child.on('close', (code, sig) => resolve(statusOf(code, sig))));
  }
  /** Resolves with the first match of `re` in stdout or stderr; rejects at exit or after `ms`. */
  async waitFor(re: RegExp, where: 'stdout' | 'stderr', ms = 30_000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    let done = false;
    void this.exited.then(() => { done = true; });
    for (;;) {
      const m = re.exec(this[where]);
      if (m) return m;
      if (done) throw new Error(`exited before ${re} appeared on ${where}; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      if (Date.now() > end) throw new Error(`${re} did not appear on ${where} within ${ms} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  async status(ms = 30_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no exit within ${ms} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`)), ms); });
    try { return await Promise.race([this.exited, t]); } finally { clearTimeout(timer); }
  }
  /** Kills whatever of its process group is left. */
  kill(): void {
    try { process.kill(-this.child.pid!, 'SIGKILL'); } catch { /* all gone */ }
  }
}

/** Runs `body` on the program natively and under torov (each killed if still running after). */
async function bothWays<T>(name: string, args: readonly string[], o: RunOpts,
  body: (p: Proc) => Promise<T>): Promise<{ native: T; vm: T }> {
  const results: T[] = [];
  for (const argv of [nativeArgv(guest(name), args), torovArgv(guest(name), args, o)]) {
    const where = argv[0] === process.execPath ? 'under torov' : 'natively';
    const p = new Proc(argv, argv[0] === process.execPath ? process.env as Record<string, string> : { ...ENV, ...o.env });
    try {
      results.push(await body(p));
    } catch (e) {
      throw new Error(`${name} ${args.join(' ')} ${where}: ${(e as Error).message}\nstdout:\n${p.stdout}\nstderr:\n${p.stderr}`);
    } finally { p.kill(); }
  }
  return { native: results[0]!, vm: results[1]! };
}

/** Connects to 127.0.0.1:port, sends `msg`, resolves with everything read until the peer closes. */
function exchange(port: number, msg: string | Buffer, ms = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port }, () => s.end(msg));
    s.setTimeout(ms, () => s.destroy(new Error(`no answer within ${ms} ms`)));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------
// A thread blocked in accept() while another prints a counter every 10 ms.

/**
 * accept_tick listens on a free port (stderr names it), blocks one thread in accept() and
 * prints "tick 1" .. "tick 10" from another, 10 ms apart. The test connects only once
 * "tick 10" is out (so the ticks came while accept() was blocked), sends "bye\n" and
 * expects "ok\n"; the program then checks its own count and exits 0.
 */
async function acceptTick(o: RunOpts) {
  return bothWays('accept_tick', ['0', '10'], o, async (p) => {
    const port = Number((await p.waitFor(/^accept_tick: listening on 127\.0\.0\.1:(\d+)$/m, 'stderr'))[1]);
    await p.waitFor(/^tick 10$/m, 'stdout');
    const reply = (await exchange(port, 'bye\n')).toString();
    return { reply, status: await p.status(), stdout: p.stdout };
  });
}

test('a thread blocked in accept() does not stop another printing every 10 ms; a native client ends it', async () => {
  const { native, vm } = await acceptTick({});
  assert.equal(native.status, 0);
  assert.equal(native.reply, 'ok\n');
  assert.deepEqual(vm, native);
  assert.match(vm.stdout, /^the ticker counted all 10 ticks while accept\(\) was blocked: yes$/m);
});

test('the same in the sandbox (--network host, so that the test can connect)', async () => {
  const { native, vm } = await acceptTick({ sandbox: true, extra: ['--network', 'host'] });
  assert.deepEqual(vm, native);
});

// ---------------------------------------------------------------------------------------
// Go (CGO_ENABLED=0, Debian's golang-go): test/guests/go/gothreads.go.

test('Go: goroutines and channels, mutex, GC (default GOMAXPROCS: the host\'s CPUs)', () => {
  const r = same('gothreads', ['chan']);
  assert.match(r.stdout, /^chan: mutex counter: 1600000$/m);
});

test('Go: goroutines and channels with GOMAXPROCS=1', () => {
  const r = same('gothreads', ['chan'], 0, { env: { GOMAXPROCS: '1' } });
  assert.match(r.stdout, /^chan: GOMAXPROCS 1 /m);
});

test('Go: a goroutine spinning without calls is preempted, a ticker keeps ticking (GOMAXPROCS 1)', () => {
  // A coarse property, not a count: 5 ticks of a 50 ms ticker within 3 s.
  const r = same('gothreads', ['preempt']);
  assert.match(r.stdout, /: true$/m);
});

/**
 * n GET /hello?i=N requests from Node's http client, 8 at a time: most on keep-alive
 * connections, every 10th on a connection of its own. Returns the failures.
 */
async function hammer(port: number, n: number): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const errors: string[] = [];
  let next = 0;
  const one = (i: number) => new Promise<void>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/hello?i=${i}`, agent: i % 10 === 0 ? false : agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        if (res.statusCode !== 200 || body !== `hello ${i}\n`) errors.push(`#${i}: ${res.statusCode} ${JSON.stringify(body)}`);
        resolve();
      });
      res.on('error', (e) => { errors.push(`#${i}: ${e.message}`); resolve(); });
    });
    req.setTimeout(20_000, () => req.destroy(new Error('no answer in 20 s')));
    req.on('error', (e) => { errors.push(`#${i}: ${e.message}`); resolve(); });
  });
  await Promise.all(Array.from({ length: 8 }, async () => { while (next < n) await one(next++); }));
  agent.destroy();
  return errors;
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

test('Go: a net/http server answers 1,000 requests from a native client with no error, then shuts down (sandbox)', async () => {
  const stderr: string[] = [];
  const { native, vm } = await bothWays('gothreads', ['http'], { sandbox: true, extra: ['--network', 'host'] }, async (p) => {
    const port = Number((await p.waitFor(/^gothreads: listening on 127\.0\.0\.1:(\d+)$/m, 'stderr'))[1]);
    const t0 = Date.now();
    const errors = await hammer(port, 1000);
    const ms = Date.now() - t0;
    const bye = await get(port, '/quit');
    const r = { errors: errors.slice(0, 10), bye, status: await p.status(), stdout: p.stdout };
    stderr.push(`${errors.length} errors, 1,000 requests in ${ms} ms; stderr:\n${p.stderr}`);
    return r;
  });
  // (A failure says how many requests failed, how long they took and what the server printed.)
  assert.deepEqual(native, { errors: [], bye: 'bye\n', status: 0, stdout: 'served 1000 hello requests\n' }, `natively: ${stderr[0]}`);
  assert.deepEqual(vm, native, `under torov: ${stderr[1]}`);
});

test('Go: os/exec from a threaded parent (CLONE_VM|CLONE_VFORK): output, status, stdin, a missing program, 40 children', () => {
  const r = same('gothreads', ['exec']);
  assert.match(r.stdout, /^exec: missing program: fork\/exec \/nonexistent\/prog: no such file or directory$/m);
  assert.match(r.stdout, /^exec: 40 children from 8 goroutines, all right: true$/m);
});

// ---------------------------------------------------------------------------------------
// Rust (std, static glibc): test/guests/rust/rsthreads.rs.

test('Rust: std::process::Command (glibc posix_spawn, the child shares memory): output, a pipe, NotFound, 20 children', () => {
  // glibc's posix_spawn learns of a failed exec through memory it shares with the child.
  const r = same('rsthreads', ['spawn']);
  assert.match(r.stdout, /^spawn: missing program: NotFound$/m);
  assert.match(r.stdout, /^spawn: 20 children from 4 threads, all right: true$/m);
});

test('Rust: std::thread spawn/join, scoped and named threads, a panicking thread', () => {
  same('rsthreads', ['threads']);
});

test('Rust: std::sync::mpsc channels (4 producers, a rendezvous channel, recv_timeout)', () => {
  same('rsthreads', ['mpsc']);
});

test('Rust: Arc<Mutex>, RwLock, Condvar, Barrier', () => {
  const r = same('rsthreads', ['mutex']);
  assert.match(r.stdout, /^mutex: Arc<Mutex<u64>>: 800000$/m);
});

test('Rust: a thread-per-connection TCP echo server serves 8 concurrent native clients', async () => {
  const data = (i: number) => Buffer.from(Array.from({ length: 65536 }, (_, k) => (k * 7 + i * 13) & 0xff));
  const { native, vm } = await bothWays('rsthreads', ['echo', '127.0.0.1:0', '8'], {}, async (p) => {
    const port = Number((await p.waitFor(/^rsthreads: listening on 127\.0\.0\.1:(\d+)$/m, 'stderr'))[1]);
    const back = await Promise.all(Array.from({ length: 8 }, (_, i) => exchange(port, data(i))));
    return { intact: back.map((b, i) => b.equals(data(i))), status: await p.status(), stdout: p.stdout };
  });
  assert.deepEqual(native, { intact: Array(8).fill(true), status: 0, stdout: 'served 8 connections, 524288 bytes\n' });
  assert.deepEqual(vm, native);
});

test('Rust: a stack overflow, on the main thread and on another, is reported by Rust\'s handler (134)', () => {
  for (const mode of ['overflow', 'overflow-thread']) {
    const r = same('rsthreads', [mode], 134);
    assert.match(r.stderr, /has overflowed its stack/, `${mode}: ${r.stderr}`);
  }
});

// ---------------------------------------------------------------------------------------
// Bad thread state the program forged: torov only (test/guests/sigbad is hostile).

const BAD_CLONES: { mode: string; status: number; stdout?: RegExp }[] = [
  { mode: 'clone-bad-stack', status: 139 },
  { mode: 'clone-noncanonical-stack', status: 135 },
  { mode: 'clone-kernel-stack', status: 139 },
  { mode: 'clone-readonly-stack', status: 139 },
  { mode: 'clone-bad-tid-pointers', status: 0, stdout: /^sigbad: clone-bad-tid-pointers\nsurvived\n$/ },
  { mode: 'clone-kernel-tls', status: 0, stdout: /^clone: -1 EPERM$/m },
];

test('clone with a stack outside memory kills the program (SIGSEGV), bad tid and TLS pointers are refused or dropped', () => {
  const failures: string[] = [];
  for (const c of BAD_CLONES) {
    const r = torovRunHostile(c.mode);
    try {
      vmmWell(r, c.mode);
      assert.equal(r.status, c.status, `${c.mode}: status ${r.status}, want ${c.status}\n${r.stdout}${r.stderr}`);
      assert.ok(r.stdout.startsWith(`sigbad: ${c.mode}\n`), r.stdout);
      if (c.stdout) assert.match(r.stdout, c.stdout, c.mode);
    } catch (e) { failures.push((e as Error).message); }
  }
  assert.deepEqual(failures, []);
});

/** A hostile guest under torov with its sandbox; never natively. */
function torovRunHostile(mode: string): Out {
  return run(torovArgv(guest('sigbad'), [mode], { sandbox: true }), process.env as Record<string, string>);
}
