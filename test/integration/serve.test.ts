/**
 * Snapshots and torov serve (issue 15), on real KVM with the CGI test guest
 * (test/guests/cgi.c): it counts requests in a global and in a file under /tmp, so any
 * state surviving from one request to the next shows as a count above 1.
 *
 * The request counts are modest for npm test (200 sequential, 200 concurrent with 8
 * clients); TOROV_SERVE_REQUESTS=1000 runs the issue's 1,000 of each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cp from 'node:child_process';
import * as http from 'node:http';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { guest, ROOT, TOROV, scratchDir, spawnSync } from '../helpers';

const CGI = guest('cgi');
const POLICY = path.join(ROOT, 'test', 'fixtures', 'cgi-policy.json');
const N = Number(process.env['TOROV_SERVE_REQUESTS'] ?? 200);

interface Server { port: number; proc: cp.ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }

/** Starts `torov serve ARGS... cgi` on a free port; resolves once it listens. */
function startServer(args: readonly string[], program: readonly string[] = [CGI]): Promise<Server> {
  const proc = cp.spawn(TOROV, ['serve', '--port', '0', ...args, ...program], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`serve did not start: ${err}`)); }, 30_000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
      if (m) { clearTimeout(timer); resolve({ port: Number(m[1]), proc, stdout: () => out, stderr: () => err, exited }); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited (${code}) before listening: ${err}`)); });
  });
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(port: number, agent: http.Agent, p: string, o: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method: o.method ?? 'GET', agent, headers: o.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** What the guest answers for a request: its fields by name. */
function fields(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of body.trim().matchAll(/(\w+)=(\S*)/g)) out[m[1]!] = m[2]!;
  return out;
}

/**
 * `clients` keep-alive clients at once, each sending `each` requests one after the other
 * (its id in the path, the query and the body); every answer must be a fresh program's
 * (count 1) with its own request. Resolves with the number of requests answered.
 */
async function concurrentClients(port: number, clients: number, each: number, method: string, prefix: string): Promise<number> {
  let answered = 0;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < each; i++) {
      const id = `${c}-${i}`;
      const r = await request(port, a, `${prefix}/${id}?id=${id}`, { method, body: `body-${id}` });
      assert.equal(r.status, 200, r.body);
      const f = fields(r.body);
      assert.deepEqual([f['count'], f['file'], f['method'], f['path'], f['query'], f['body']], ['1', '1', method, `${prefix}/${id}`, `id=${id}`, `body-${id}`], r.body);
      answered++;
    }
    a.destroy();
  }));
  return answered;
}

async function stop(s: Server): Promise<number | null> {
  s.proc.kill('SIGTERM');
  return s.exited;
}

test('serve: sequential and concurrent requests each see a fresh program (count 1) with their own method, path, query and body', async () => {
  const s = await startServer(['--policy', POLICY, '--concurrency', '2']);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < N; i++) {
      const post = i % 3 === 0;
      const r = await request(s.port, agent, `/seq/${i}?n=${i}`, post ? { method: 'POST', body: `b${i}`, headers: { 'Content-Type': 'text/x-test' } } : {});
      assert.equal(r.status, 200, r.body);
      const f = fields(r.body);
      assert.deepEqual([f['count'], f['file'], f['method'], f['path'], f['query'], f['body'], f['gateway']],
        ['1', '1', post ? 'POST' : 'GET', `/seq/${i}`, `n=${i}`, post ? `b${i}` : '', 'CGI/1.1'], r.body);
      if (post) assert.deepEqual([f['type'], f['length']], ['text/x-test', String(`b${i}`.length)]);
      assert.equal(r.headers['content-type'], 'text/plain');
    }
    // Most of those VMs were restored in place (the window of an earlier request put back:
    // only the pages it wrote), and still every request saw count 1.
    const inPlace = await restoresInPlace(s, agent);
    if (kernelAtLeast(6, 7)) assert.ok(inPlace >= N / 2, `${inPlace} of ${N} restores in place`);
    agent.destroy();
    // 8 clients at once, each on its own keep-alive connection.
    const clients = 8, each = Math.ceil(N / clients);
    assert.equal(await concurrentClients(s.port, clients, each, 'PUT', '/c'), clients * each);
  } finally {
    assert.equal(await stop(s), 0, s.stderr());
  }
  // One access-log line per request.
  const lines = s.stdout().trim().split('\n');
  assert.equal(lines.length, N + Math.ceil(N / 8) * 8 + 1);     // (and the metrics request)
  assert.match(lines[0]!, /^127\.0\.0\.1 - - \[[^\]]+\] "(GET|POST) \/seq\/0\?n=0 HTTP\/1\.1" 200 \d+ [\d.]+ms$/);
});

test('serve: a crash answers 502, an endless loop 504 at --timeout, a non-CGI answer 502, a large body 413; the server goes on', async () => {
  const s = await startServer(['--policy', POLICY, '--concurrency', '1', '--timeout', '500ms', '--max-body', '1k', '--log-format', 'json']);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const okAfter = async () => {
      const r = await request(s.port, agent, '/after?x');
      assert.equal(r.status, 200);
      assert.equal(fields(r.body)['count'], '1');
    };
    assert.equal((await request(s.port, agent, '/?crash')).status, 502);
    await okAfter();
    const t0 = performance.now();
    assert.equal((await request(s.port, agent, '/?loop')).status, 504);
    const took = performance.now() - t0;
    assert.ok(took >= 450 && took < 10_000, `504 after ${took} ms`);
    await okAfter();
    assert.equal((await request(s.port, agent, '/?bad')).status, 502);
    await okAfter();
    assert.equal((await request(s.port, new http.Agent(), '/big', { method: 'POST', body: 'x'.repeat(2000) })).status, 413);
    await okAfter();
    // The program's Status and its own header fields; a large answer.
    const st = await request(s.port, agent, '/?status');
    assert.equal(st.status, 201);
    assert.equal(st.headers['x-test'], 'yes');
    const big = await request(s.port, agent, '/?big');
    assert.equal(big.status, 200);
    assert.equal(big.body.length, 200 * 1024);
    assert.equal(big.body.slice(0, 30), 'abcdefghijklmnopqrstuvwxyzabcd');
    // Health and metrics are the server's own.
    const h = await request(s.port, agent, '/-/health');
    assert.deepEqual([h.status, h.body], [200, 'ok\n']);
    const m = (await request(s.port, agent, '/-/metrics')).body;
    for (const re of [/^torov_serve_requests_total\{code="200"\} [5-9]$/m, /^torov_serve_requests_total\{code="502"\} 2$/m, /^torov_serve_requests_total\{code="504"\} 1$/m,
      /^torov_serve_requests_total\{code="413"\} 1$/m, /^torov_serve_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m,
      /^torov_serve_pool_size 1$/m, /^torov_serve_restores_total \d+$/m, /^torov_serve_timeouts_total 1$/m, /^torov_serve_crashes_total 1$/m,
      /^torov_serve_snapshot_bytes \d+$/m, /^torov_serve_resident_bytes [1-9]\d+$/m]) assert.match(m, re);
    agent.destroy();
    // --log-format json: one object per line.
    const first = JSON.parse(s.stdout().split('\n')[0]!) as Record<string, unknown>;
    assert.deepEqual([first['method'], first['url'], first['status']], ['GET', '/?crash', 502]);
    assert.match(s.stderr(), /SIGSEGV/);
    assert.match(s.stderr(), /stopped after 500 ms/);
  } finally {
    assert.equal(await stop(s), 0, s.stderr());
  }
});

for (const workers of [1, 2]) test(`serve${workers > 1 ? ` --workers ${workers}` : ''}: SIGTERM during load answers every request the server took in, then exits 0`, async () => {
  const s = await startServer(['--policy', POLICY, '--concurrency', '2', ...(workers > 1 ? ['--workers', String(workers)] : [])]);
  let ok = 0, refused = 0, other = 0;
  let stopping = false;
  const clients = Array.from({ length: 8 }, async (_, c) => {
    const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 200; i++) {
      try {
        const r = await request(s.port, a, `/term/${c}/${i}`);
        if (r.status === 200 && fields(r.body)['count'] === '1') ok++; else other++;
        if (ok >= 40 && !stopping) { stopping = true; s.proc.kill('SIGTERM'); }
      } catch (e) {
        // After SIGTERM: new connections are refused, and an idle keep-alive connection may
        // be closed as a request is sent on it (the server never read that request).
        assert.ok(stopping, `a request failed before SIGTERM: ${(e as Error).message}`);
        refused++;
        break;
      }
    }
    a.destroy();
  });
  await Promise.all(clients);
  assert.equal(await s.exited, 0, s.stderr());
  assert.equal(other, 0, 'every answer was a 200 with count 1');
  // Every request the server logged (it read it and answered) reached its client.
  const logged = s.stdout().trim().split('\n').filter(Boolean).length;
  assert.equal(logged, ok, `${logged} logged, ${ok} received`);
  assert.ok(ok >= 40 && refused > 0, `${ok} answered, ${refused} refused`);
  assert.equal(s.stderr().match(/draining/g)?.length, workers, s.stderr());
});

test('serve: a request that writes 1 MiB of the program\'s memory leaves none of it to the next, and the window is still reset in place', async () => {
  await withKeepAlive(['--policy', POLICY, '--concurrency', '1'], async (s, agent) => {
    // Scribbles (256 pages: dropped), plain requests (a few hot pages: read back), again.
    for (const q of ['scribble', 'scribble', 'x', 'x', 'scribble', 'x', 'scribble']) {
      const r = await request(s.port, agent, `/m?${q}`);
      assert.equal(r.status, 200, r.body);
      const f = fields(r.body);
      assert.equal(f['count'], '1', r.body);
      if (q === 'scribble') assert.equal(f['table'], '133693440', `the table as the snapshot had it: ${r.body}`);
    }
    if (kernelAtLeast(6, 7)) { const n = await restoresInPlace(s, agent); assert.ok(n >= 5, `${n} restores in place`); }
  });
});

test('serve: a request that maps more memory (brk, mmap) and gives some back leaves none of it to the next, and the window is still reset in place', async () => {
  await withKeepAlive(['--concurrency', '1'], async (s, agent) => {
    const grown: Record<string, string>[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await request(s.port, agent, '/g?grow');
      assert.equal(r.status, 200, r.body);
      grown.push(fields(r.body));
    }
    // Each request finds the memory the one before mapped gone: mapped again at the same
    // addresses (as it was at the snapshot), zero, counters at 1. The restores after the
    // first two were made in place (the one after the third may still be pending).
    for (const g of grown) assert.deepEqual([g['count'], g['brk'], g['mmap'], g['nonzero']], ['1', grown[0]!['brk'], grown[0]!['mmap'], '0,0'], JSON.stringify(grown));
    if (kernelAtLeast(6, 7)) { const n = await restoresInPlace(s, agent); assert.ok(n >= 2, `${n} restores in place: the windows of runs that grew their memory are reset in place`); }
    // And the guest cannot reach it any more: reading where it was faults (the VMM dropped
    // KVM's translations along with the pages), 502; then the program runs as before.
    for (const base of [grown[0]!['mmap']!, grown[0]!['brk']!]) {
      // The first byte of each (the half kept to the end of the run), and the last (the half given back).
      for (const off of [0, 256 * 1024 - 1]) {
        const at = (parseInt(base, 16) + off).toString(16);
        assert.equal((await request(s.port, agent, `/g?probe=${at}`)).status, 502, `a read at 0x${at}`);
      }
    }
    const r = await request(s.port, agent, '/g?x');
    assert.equal(r.status, 200, r.body);
    assert.equal(fields(r.body)['count'], '1', r.body);
  });
});

test('serve: status flags a request sets on its stdin and stdout (F_SETFL) are gone at the next', async () => {
  await withKeepAlive(['--concurrency', '1'], async (s, agent) => {
    for (let i = 0; i < 3; i++) {
      const r = await request(s.port, agent, '/f?flags');
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body.trim(), 'flags in=0 out=0', `request ${i + 1}`);
    }
  });
});

test('serve: a request that changes its fd table, working directory or umask leaves none of them to the next; one that does not keeps its fds for the next restore', async () => {
  await withKeepAlive(['--policy', path.join(ROOT, 'test', 'fixtures', 'cgi-fds-policy.json'), '--concurrency', '1'], async (s, agent) => {
    // Plain requests leave the restored fds as they were (kept with the window); an "fds"
    // or "cwd" request reports the table and cwd it found, then changes the table or the cwd.
    const seen: string[] = [];
    for (const q of ['x', 'fds', 'fds', 'x', 'cwd', 'cwd', 'x', 'fds', 'x', 'cwd']) {
      const r = await request(s.port, agent, `/d?${q}`);
      assert.equal(r.status, 200, r.body);
      if (q !== 'x') seen.push(r.body.trim()); else assert.equal(fields(r.body)['count'], '1', r.body);
    }
    assert.match(seen[0]!, /^fds 0:0 1:0 2:0 3:-1 4:-1 5:-1 6:-1 7:-1 8:-1 9:-1 cwd=\/\S* proc=\/\S*$/, seen[0]);
    assert.ok(!seen[0]!.includes('/tmp') && !seen[0]!.includes('errno'), seen[0]);
    for (const [i, b] of seen.entries()) assert.equal(b, seen[0], `fds request ${i + 1}`);
    // The umask a request sets (the VMM process's own) is the snapshot's again at the next.
    for (let i = 0; i < 2; i++) assert.equal((await request(s.port, agent, '/d?umask')).body.trim(), 'umask=022', `umask request ${i + 1}`);
    if (kernelAtLeast(6, 7)) { const n = await restoresInPlace(s, agent); assert.ok(n >= 11, `${n} restores in place`); }
  });
});

/** Starts serve with `args` and one keep-alive client, runs `body`, then stops serve (which must exit 0). */
async function withKeepAlive(args: readonly string[], body: (s: Server, agent: http.Agent) => Promise<void>): Promise<void> {
  const s = await startServer(args);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await body(s, agent);
  } finally {
    agent.destroy();
    assert.equal(await stop(s), 0, s.stderr());
  }
}

/** How many restores serve made in place so far (its metrics). */
async function restoresInPlace(s: Server, agent: http.Agent): Promise<number> {
  return metric((await request(s.port, agent, '/-/metrics')).body, 'torov_serve_restores_in_place_total');
}

/** The value of metric `name` (a line `name value`) in a /-/metrics answer. */
function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} in ${text}`);
  return Number(m[1]);
}

test('serve --workers 2: two keep-alive clients go to two VMMs; every request sees count 1; /-/metrics sums the workers', async () => {
  const s = await startServer(['--policy', POLICY, '--workers', '2', '--concurrency', '1']);
  assert.match(s.stderr(), /with 2 workers/);
  const each = Math.ceil(N / 2);
  try {
    // Both connections are open at once: the front gives each to the worker with fewer.
    assert.equal(await concurrentClients(s.port, 2, each, 'POST', '/w'), 2 * each);
    const text = (await request(s.port, new http.Agent(), '/-/metrics')).body;
    assert.equal(metric(text, 'torov_serve_workers'), 2);
    assert.equal(metric(text, 'torov_serve_workers_reporting'), 2);
    assert.equal(metric(text, 'torov_serve_requests_total{code="200"}'), 2 * each);
    assert.equal(metric(text, 'torov_serve_worker_requests_total{worker="1"}'), each, text);
    assert.equal(metric(text, 'torov_serve_worker_requests_total{worker="2"}'), each, text);
    assert.equal(metric(text, 'torov_serve_pool_size'), 2);

    // A worker that dies is replaced; the other goes on serving meanwhile.
    const children = fs.readFileSync(`/proc/${s.proc.pid}/task/${s.proc.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    assert.equal(children.length, 2, `the front's children: ${children.join(' ')}`);
    process.kill(children[0]!, 'SIGKILL');
    // (A connection handed over as the worker dies is lost with it: once the front knows.)
    await until(() => /worker \d \(pid \d+\) ended \(killed by SIGKILL\) with \d+ open connections?; starting another/.test(s.stderr()), s.stderr);
    const a = new http.Agent({ keepAlive: false });
    for (let i = 0; i < 20; i++) {
      const r = await request(s.port, a, `/after-kill/${i}`);
      assert.equal(r.status, 200, r.body);
      assert.equal(fields(r.body)['count'], '1');
    }
    let reporting = 0;
    for (let t = 0; t < 100 && reporting < 2; t++) {
      await new Promise((r) => setTimeout(r, 100));
      reporting = metric((await request(s.port, a, '/-/metrics')).body, 'torov_serve_workers_reporting');
    }
    assert.equal(reporting, 2, 'the new worker serves');

    // Its replacement dies too, soon after: the next one starts after a delay, and requests
    // made meanwhile are answered (by the other worker, or held for the new one).
    const now = fs.readFileSync(`/proc/${s.proc.pid}/task/${s.proc.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    const replacement = now.find((p) => p !== children[1]);
    assert.ok(replacement !== undefined && now.length === 2, `the front's children: ${now.join(' ')}`);
    process.kill(replacement, 'SIGKILL');
    await until(() => new RegExp(`\\(pid ${replacement}\\) ended \\(killed by SIGKILL\\) with \\d+ open connections?; starting another in 0\\.25 s \\(it ended again within 30 s\\)`).test(s.stderr()), s.stderr);
    for (let i = 0; i < 10; i++) assert.equal(fields((await request(s.port, a, `/after-second-kill/${i}`)).body)['count'], '1');
    reporting = 0;
    for (let t = 0; t < 100 && reporting < 2; t++) {
      await new Promise((r) => setTimeout(r, 100));
      reporting = metric((await request(s.port, a, '/-/metrics')).body, 'torov_serve_workers_reporting');
    }
    assert.equal(reporting, 2, 'the third worker of that slot serves');
  } finally {
    assert.equal(await stop(s), 0, s.stderr());
  }
});

async function until(cond: () => boolean, why: () => string): Promise<void> {
  for (let t = 0; t < 100; t++) { if (cond()) return; await new Promise((r) => setTimeout(r, 100)); }
  assert.fail(why());
}

for (const workers of [1, 3]) test(`serve${workers > 1 ? ` --workers ${workers}` : ''}: a program that ends before reading stdin cannot be served (one line, status 125)`, () => {
  const r = spawnSync(TOROV, ['serve', '--port', '0', ...(workers > 1 ? ['--workers', String(workers)] : []), guest('hello')], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  assert.equal(r.status, 125, r.stderr);
  assert.match(r.stderr, /^torov: serve: .*hello ended \(status 0\) before its first read of stdin: there is nothing to snapshot/m);
  assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('hello from')).length, 1, r.stderr);
});

test('serve: bad options get one line and status 125', () => {
  for (const [args, re] of [[['--port', 'x'], /--port must be a whole number/], [['--log-format', 'xml'], /--log-format must be text or json/],
    [['--concurrency', '0'], /--concurrency must be a whole number from 1/], [['--gdb', '1234'], /unknown option/], [[], /missing the program/],
    [['--workers', '0'], /--workers must be a whole number from 1 to 64/], [['--workers', '2', '--port', '99999'], /--port must be a whole number/],
    [['--serve-worker'], /--serve-worker is internal/]] as const) {
    const r = spawnSync(TOROV, ['serve', ...args, ...(args.length ? [CGI] : [])], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
    assert.equal(r.status, 125, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

/** True if the host kernel is version major.minor or newer. */
function kernelAtLeast(major: number, minor: number): boolean {
  const [a = 0, b = 0] = os.release().split('.').map((x) => parseInt(x, 10));
  return a > major || (a === major && b >= minor);
}

/**
 * In one Node process (as serve does): the CGI guest run from its start, and restored
 * from its snapshot several times, with the same request. The outputs must be the same.
 */
test('snapshot: a restored program gives the same output as a run without snapshot, every time', () => {
  const dir = scratchDir('torov-snap-');
  const script = `
    const fs = require('fs'), path = require('path');
    const D = ${JSON.stringify(path.join(ROOT, 'dist/src'))};
    const { Machine } = require(D + '/vmm/machine');
    const { defaultPolicy } = require(D + '/policy');
    const S = require(D + '/vmm/snapshot');
    const g = ${JSON.stringify(CGI)}, dir = ${JSON.stringify(dir)};
    const base = { path: g, image: fs.readFileSync(g), argv: [g], memory: 64 * 2 ** 20, policy: defaultPolicy(),
      log: (l) => process.stderr.write(l + '\\n'), syscallPath: 'exit' };
    const env = (i, q) => ['CGI_DIR=' + dir + '/' + i, 'REQUEST_METHOD=POST', 'PATH_INFO=/p', 'QUERY_STRING=' + (q ?? 'q=' + i), 'CONTENT_LENGTH=4'];
    const run = (i, extra, q) => {
      fs.mkdirSync(dir + '/' + i);
      fs.writeFileSync(dir + '/in', 'body');
      const inp = fs.openSync(dir + '/in', 'r'), out = fs.openSync(dir + '/out', 'w+');
      const m = new Machine({ ...base, env: env(i, q), stdio: [inp, out, 2], ...extra });
      if (extra.restore) m.prepareRestored(env(i, q));
      const status = m.run(); m.close();
      fs.closeSync(inp); fs.closeSync(out);
      return { status, out: fs.readFileSync(dir + '/out', 'utf8'), inPlace: m.restoredInPlace };
    };
    const results = [run(0, {})];
    let snap;
    const cap = new Machine({ ...base, env: [...env(0), ...Array(16).fill('')], stdio: [0, 1, 2],
      capture: { at: 'stdin', memfd: S.snapshotMemfd(), done: (s) => { snap = s; } } });
    const capStatus = cap.run(); cap.close();
    for (let i = 1; i <= 5; i++) results.push(run(i, { restore: snap }));
    // Memory given back by madvise, and the memory of a new image after execve, reads zero
    // in a restored VM too (not the snapshot's contents, which its memory file holds).
    const fresh = {};
    for (const q of ['dontneed', 'exec']) fresh[q] = [run(q + '-fresh', {}, q), run(q + '-restored', { restore: snap }, q)];
    const tracking = require(D + '/machine/write-track').openWriteTracking();
    process.stdout.write(JSON.stringify({ capStatus, bytes: snap.bytes, ranges: snap.ranges.length, results, fresh, tracking }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  type Out = { status: number; out: string; inPlace: boolean };
  const res = JSON.parse(r.stdout) as { capStatus: number; bytes: number; ranges: number; results: Out[]; fresh: Record<string, [Out, Out]>; tracking: boolean };
  assert.equal(res.capStatus, 0);
  // The touched memory only: the 1 MiB table, the program's pages and stack, not the 64 MiB.
  assert.ok(res.bytes > 1 << 20 && res.bytes < 4 << 20, `snapshot of ${res.bytes} bytes`);
  const fresh = res.results[0]!;
  assert.equal(fresh.status, 0);
  assert.match(fresh.out, /count=1 file=1 method=POST path=\/p query=q=0 .*body=body sum=133693440\n$/);
  res.results.slice(1).forEach((x, i) => {
    assert.equal(x.status, 0);
    assert.equal(x.out, fresh.out.replace('query=q=0', `query=q=${i + 1}`), `restore ${i + 1}`);
  });
  // From the second restore on, the window of the run before is put back in place (Linux
  // 6.7's asynchronous write protection): the same outputs, counters at 1 again.
  if (kernelAtLeast(6, 7)) assert.ok(res.tracking, 'write tracking is available on this kernel');
  assert.deepEqual(res.results.slice(1).map((x) => x.inPlace), [false, ...Array(4).fill(res.tracking)]);
  for (let i = 0; i <= 5; i++) assert.equal(fs.readFileSync(path.join(dir, String(i), 'cgi-count'), 'utf8'), '1\n');
  const [dn, dnRestored] = res.fresh['dontneed']!, [ex, exRestored] = res.fresh['exec']!;
  assert.match(dn.out, /\ndontneed=0 nonzero before=[1-9]\d* after=0\n$/);
  assert.deepEqual({ ...dnRestored, inPlace: false }, { ...dn, inPlace: false }, 'madvise(MADV_DONTNEED) in a restored VM');
  assert.match(ex.out, /\nbss nonzero=0\n$/);
  assert.deepEqual({ ...exRestored, inPlace: false }, { ...ex, inPlace: false }, 'execve in a restored VM');
});

/**
 * A reset in place puts back the system pages (page tables, descriptor tables, exception
 * stack) whoever wrote them: here the VMM itself scribbles over a page-table page, the GDT
 * and the exception stack after a run, as a stray write would. The next restore in place
 * must find them as the first restore made them, and the program must run as before.
 */
test('snapshot: a reset in place puts back the system pages a run wrote', { skip: !kernelAtLeast(6, 7) && 'no asynchronous write protection (Linux 6.7)' }, () => {
  const script = `
    const fs = require('fs');
    const D = ${JSON.stringify(path.join(ROOT, 'dist/src'))};
    const { Machine } = require(D + '/vmm/machine');
    const { defaultPolicy } = require(D + '/policy');
    const { SYS, PAGE_SIZE } = require(D + '/machine/layout');
    const S = require(D + '/vmm/snapshot');
    require(D + '/machine/write-track').openWriteTracking();
    const g = ${JSON.stringify(CGI)};
    const devnull = fs.openSync('/dev/null', 'r+');
    const base = { path: g, image: fs.readFileSync(g), argv: [g], env: ['QUERY_STRING=x'], memory: 64 * 2 ** 20, policy: defaultPolicy(),
      log: (l) => process.stderr.write(l + '\\n'), syscallPath: 'exit', stdio: [devnull, devnull, devnull] };
    let snap;
    const cap = new Machine({ ...base, capture: { at: 'stdin', memfd: S.snapshotMemfd(), done: (s) => { snap = s; } } });
    cap.run(); cap.close();
    // The system pages below the vCPU blocks after a restore, but the clock page (its TSC pairing may be renewed).
    const pages = (m) => { const b = Buffer.from(m.mem.sys8.subarray(0, m.mem.layout.vcpuOffset)); b.fill(0, SYS.VVAR, SYS.VVAR + PAGE_SIZE); return b; };
    const out = [];
    let first;
    for (let i = 0; i < 4; i++) {
      const m = new Machine({ ...base, restore: snap });
      const now = pages(m);
      first ??= now;
      let diff = -1;
      for (let p = 0; p < now.length / PAGE_SIZE && diff < 0; p++) if (now.compare(first, p * PAGE_SIZE, (p + 1) * PAGE_SIZE, p * PAGE_SIZE, (p + 1) * PAGE_SIZE) !== 0) diff = p;
      m.prepareRestored(base.env);
      const status = m.run();
      // Stray writes: a page-table page (a window PD entry no mapping uses), the GDT, the exception stack.
      m.mem.sys8.fill(0xab, SYS.PD_WINDOW + 4000, SYS.PD_WINDOW + 4008);
      m.mem.sys8.fill(0xcd, SYS.GDT + 3000, SYS.GDT + 3008);
      m.mem.sys8.fill(0xef, SYS.XSTACK, SYS.XSTACK + 64);
      m.close();
      out.push({ inPlace: m.restoredInPlace, diff, status });
    }
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { inPlace: boolean; diff: number; status: number }[];
  assert.deepEqual(out.map((o) => o.inPlace), [false, true, true, true]);
  assert.deepEqual(out.map((o) => o.diff), [-1, -1, -1, -1], 'the first system page that differs from the first restore\'s, per restore');
  assert.deepEqual(out.map((o) => o.status), [0, 0, 0, 0]);
});

test('snapshot file: torov snapshot then torov run --restore gives the output of a run without snapshot', () => {
  const dir = scratchDir('torov-snapfile-');
  const snap = path.join(dir, 'app.snap');
  const common = ['--policy', POLICY, '-e', 'QUERY_STRING=file', '-e', 'REQUEST_METHOD=PUT'];
  const s = spawnSync(TOROV, ['snapshot', ...common, '-o', snap, CGI], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stderr, /^torov: snapshot: wrote .*app\.snap: .*cgi at its first read of stdin, \d+ KiB of guest memory\n$/);
  assert.ok(fs.statSync(snap).size > 1 << 20 && fs.statSync(snap).size < 4 << 20);
  const plain = spawnSync(TOROV, ['run', ...common, CGI], { encoding: 'utf8', cwd: ROOT, input: 'the body', timeout: 60_000 });
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /count=1 file=1 method=PUT .*query=file .*body=the body sum=133693440/);
  for (let i = 0; i < 2; i++) {
    const r = spawnSync(TOROV, ['run', '--policy', POLICY, '--restore', snap], { encoding: 'utf8', cwd: ROOT, input: 'the body', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, plain.stdout);
    assert.equal(r.stderr, '');
  }
  // The read it was captured in waits for a body that comes later (a pipe), as without snapshot.
  const late = spawnSync('sh', ['-c', `(sleep 0.3; printf 'the body') | "$0" run --policy "$1" --restore "$2"`, TOROV, POLICY, snap],
    { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  assert.equal(late.status, 0, late.stderr);
  assert.equal(late.stdout, plain.stdout);
});

test('snapshot file: a truncated, changed, other-version, other-torov or other-CPU file is refused with one line', () => {
  const dir = scratchDir('torov-snapbad-');
  const snap = path.join(dir, 'app.snap');
  const s = spawnSync(TOROV, ['snapshot', '--policy', POLICY, '-o', snap, CGI], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  assert.equal(s.status, 0, s.stderr);
  const good = fs.readFileSync(snap);
  /** The file with its JSON header changed by `f`, its checksum made right again. */
  const reheader = (f: (h: Record<string, unknown>) => void): Buffer => {
    const hlen = good.readUInt32LE(12);
    const h = JSON.parse(good.toString('utf8', 16, 16 + hlen)) as Record<string, unknown>;
    f(h);
    const hb = Buffer.from(JSON.stringify(h));
    const head = Buffer.from(good.subarray(0, 16));
    head.writeUInt32LE(hb.length, 12);
    const body = Buffer.concat([head, hb, good.subarray(16 + hlen, good.length - 32)]);
    return Buffer.concat([body, require('node:crypto').createHash('sha256').update(body).digest() as Buffer]);
  };
  const flipped = Buffer.from(good); flipped[flipped.length >> 1]! ^= 0x10;
  const version = Buffer.from(good); version.writeUInt32LE(99, 8);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['truncated', good.subarray(0, good.length - 4096), /corrupt \(its checksum does not match/],
    ['flipped', flipped, /corrupt \(its checksum does not match/],
    ['version', version, /snapshot format version 99; this torov reads version 1/],
    ['torov', reheader((h) => { h['torov'] = '0.0.0-other'; }), /made by torov 0\.0\.0-other; this is torov/],
    ['cpu', reheader((h) => { h['cpu'] = 'hwcap=0 xsave=false'; }), /made on a CPU with other features/],
    ['empty', Buffer.alloc(0), /not a torov snapshot file/],
  ];
  for (const [name, bytes, re] of cases) {
    const f = path.join(dir, `${name}.snap`);
    fs.writeFileSync(f, bytes);
    const r = spawnSync(TOROV, ['run', '--policy', POLICY, '--restore', f], { encoding: 'utf8', cwd: ROOT, input: 'x', timeout: 60_000 });
    assert.equal(r.status, 125, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, '', name);
    assert.match(r.stderr, re, name);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('snapshot file --at accept: a server saved at its first accept listens again on its address when restored', async () => {
  const dir = scratchDir('torov-snapaccept-');
  const snap = path.join(dir, 'echo.snap');
  const echo = path.join(ROOT, 'examples', 'echo', 'echo'), policy = path.join(ROOT, 'examples', 'echo', 'policy.json');
  const s = spawnSync(TOROV, ['snapshot', '--at', 'accept', '--policy', policy, '-o', snap, echo, '0', '1'], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stderr, /at its first accept/);
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(s.stdout)![1]);
  const server = cp.spawn(TOROV, ['run', '--policy', policy, '--restore', snap], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  server.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  server.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  // The restored program is in accept() on the socket made again: connect until it is there.
  const net = await import('node:net');
  let got = '';
  for (let i = 0; i < 100 && got === ''; i++) {
    got = await new Promise<string>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => c.end('ping\n'));
      let b = '', failed = false;
      c.on('data', (d) => { b += d.toString(); });
      c.on('error', () => { failed = true; });
      c.on('close', () => (failed ? setTimeout(() => resolve(''), 50) : resolve(b)));
    });
  }
  assert.equal(got, 'ping\n');
  assert.equal(await exited, 0, err);
  assert.equal(out, 'echo: client 1 connected\necho: client 1 done, 5 bytes echoed\necho: served 1 clients, bye\n');
});

test('serve: the policy and --trace apply to every request\'s run', async () => {
  const dir = scratchDir('torov-servepol-');
  // The test policy without open: the counter file cannot be opened (file=-1), the rest works.
  const doc = JSON.parse(fs.readFileSync(POLICY, 'utf8')) as { syscalls: Array<{ names: string[] }> };
  for (const r of doc.syscalls) r.names = r.names.filter((n) => n !== 'open');
  const noOpen = path.join(dir, 'no-open.json');
  fs.writeFileSync(noOpen, JSON.stringify(doc));
  const s = await startServer(['--policy', noOpen, '--concurrency', '1', '--trace']);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 3; i++) {
      const r = await request(s.port, agent, `/t${i}`);
      assert.equal(r.status, 200);
      assert.deepEqual([fields(r.body)['count'], fields(r.body)['file']], ['1', '-1'], r.body);
    }
    agent.destroy();
  } finally {
    assert.equal(await stop(s), 0, s.stderr());
  }
  // Each request's run is traced: its restarted read of stdin, the refused open, its exit.
  const after = s.stderr().slice(s.stderr().indexOf('listening on'));
  assert.equal([...after.matchAll(/^read\(0, /gm)].length >= 3, true, after);
  assert.equal([...after.matchAll(/^open\("\/tmp\/cgi-count", .*\) = -1 EPERM .*denied by policy/gm)].length, 3, after);
  assert.equal([...after.matchAll(/^exit_group\(0\)/gm)].length, 3, after);
});

test('serve --no-snapshot: each request starts the program afresh, its variables in its initial environment', async () => {
  const s = await startServer(['--no-snapshot', '--policy', POLICY, '--concurrency', '1']);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 5; i++) {
      const r = await request(s.port, agent, `/cold/${i}?i=${i}`, { method: 'POST', body: `b${i}` });
      assert.equal(r.status, 200, r.body);
      const f = fields(r.body);
      assert.deepEqual([f['count'], f['file'], f['method'], f['path'], f['query'], f['body']], ['1', '1', 'POST', `/cold/${i}`, `i=${i}`, `b${i}`], r.body);
    }
    assert.equal((await request(s.port, agent, '/?crash')).status, 502);
    assert.equal((await request(s.port, agent, '/ok?x')).status, 200);
    agent.destroy();
  } finally {
    assert.equal(await stop(s), 0, s.stderr());
  }
  assert.match(s.stderr(), /without snapshot \(--no-snapshot/);
});
