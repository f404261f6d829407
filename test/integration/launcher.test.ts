/**
 * The launcher (bin/torov, src/launcher/launcher.c) and the VM it owns: whatever signals
 * or kills `torov` reaches the VM, --timeout is enforced, nothing is left running, and
 * nothing passes through the environment. Real guests (BusyBox's shell) on real KVM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TOROV, torov, guest, spawn, spawnSync, runCgroups } from '../helpers';

const BUSYBOX = '/bin/busybox';
const NO_BUSYBOX = fs.existsSync(BUSYBOX) ? false : 'busybox-static is not installed';

/** Guests that print "ready" and then wait: in a host call (a read from stdin), or spinning in guest code. */
const WAIT_READ = ['sh', '-c', 'echo ready; read x; echo "got $x"'];
const WAIT_SPIN = ['sh', '-c', 'echo ready; while :; do :; done'];

interface Running {
  child: ChildProcess;
  /** The launcher's child, the VMM (its host pid). */
  vmm: number;
  stdout: () => string;
  stderr: () => string;
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
}

const alive = (pid: number) => { try { process.kill(pid, 0); return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '); } catch { return false; } };

/** Starts `torov run ARGS...` and waits until the guest printed "ready". */
async function start(args: readonly string[]): Promise<Running> {
  const child = spawn(TOROV, ['run', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (status, signal) => resolve({ status, signal })));
  for (let waited = 0; !out.includes('ready'); waited += 20) {
    if (waited > 30_000) { child.kill('SIGKILL'); throw new Error(`the guest did not start: ${err}`); }
    if (child.exitCode !== null) throw new Error(`torov ended before the guest was ready (${child.exitCode}): ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const kids = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.equal(kids.length, 1, 'the launcher has one child, the VMM');
  return { child, vmm: kids[0]!, stdout: () => out, stderr: () => err, done };
}

/** Waits until `pid` is gone; returns how long that took (ms), or fails after `ms`. */
async function gone(pid: number, ms: number): Promise<number> {
  const t0 = Date.now();
  while (alive(pid)) {
    if (Date.now() - t0 > ms) assert.fail(`process ${pid} still runs after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

// Not SIGQUIT: the program (BusyBox sh -c) ignores it itself, as it does natively: signals
// reach the program's own dispositions now (test/integration/signals.test.ts).
const SIGNALS: Array<[NodeJS.Signals, number]> = [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1], ['SIGUSR1', 10], ['SIGUSR2', 12]];

for (const p of ['exit', 'ring'] as const) {
  test(`each signal sent to torov ends a program without handlers for it with 128+N (--syscall-path ${p}, guest blocked in a host call)`, { skip: NO_BUSYBOX }, async () => {
    for (const [sig, n] of SIGNALS) {
      const r = await start(['--syscall-path', p, BUSYBOX, ...WAIT_READ]);
      r.child.kill(sig);
      const { status } = await r.done;
      assert.equal(status, 128 + n, `${sig}: ${r.stderr()}`);
      assert.equal(r.stderr(), '', sig);
      assert.equal(r.stdout(), 'ready\n', `${sig}: the guest saw no EINTR and went no further`);
      await gone(r.vmm, 1000);
    }
  });

  test(`a signal reaches a guest that never leaves the VM (--syscall-path ${p}, spinning)`, { skip: NO_BUSYBOX }, async () => {
    const r = await start(['--syscall-path', p, BUSYBOX, ...WAIT_SPIN]);
    r.child.kill('SIGTERM');
    const { status } = await r.done;
    assert.equal(status, 143, r.stderr());
    await gone(r.vmm, 1000);
  });
}

test('torov leaves its standard streams blocking, as its parent gave them (Node makes piped stdio non-blocking)', { skip: NO_BUSYBOX }, async () => {
  const r = await start([BUSYBOX, ...WAIT_READ]);
  try {
    for (const fd of [0, 1, 2]) {
      const flags = parseInt(/^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/${r.vmm}/fdinfo/${fd}`, 'utf8'))![1]!, 8);
      assert.equal(flags & 0o4000, 0, `fd ${fd} is O_NONBLOCK in the VMM (the guest shares it)`);
    }
  } finally {
    r.child.stdin!.end('x\n');
    await r.done;
  }
});

test('SIGWINCH reaches the VMM and, as its default action, changes nothing', { skip: NO_BUSYBOX }, async () => {
  const r = await start(['--verbose', BUSYBOX, ...WAIT_READ]);
  r.child.kill('SIGWINCH');
  for (let waited = 0; !r.stderr().includes('SIGWINCH'); waited += 20) {
    if (waited > 10_000) assert.fail(`no note of SIGWINCH: ${r.stderr()}`);
    await new Promise((res) => setTimeout(res, 20));
  }
  r.child.stdin!.end('line\n');
  const { status } = await r.done;
  assert.equal(status, 0, r.stderr());
  assert.equal(r.stdout(), 'ready\ngot line\n');
  assert.match(r.stderr(), /^torov: SIGWINCH from the host: ignored/m);
});

test('SIGTSTP (Ctrl-Z) stops torov and its VM, SIGCONT resumes both, and the run goes on', { skip: NO_BUSYBOX }, async () => {
  for (const p of ['exit', 'ring']) {
    const r = await start(['--syscall-path', p, BUSYBOX, ...WAIT_READ]);
    const state = (pid: number) => /^State:\s+(\S)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
    r.child.kill('SIGTSTP');
    for (let waited = 0; state(r.vmm) !== 'T' || state(r.child.pid!) !== 'T'; waited += 10) {
      if (waited > 5000) assert.fail(`not stopped: launcher ${state(r.child.pid!)}, VMM ${state(r.vmm)}`);
      await new Promise((res) => setTimeout(res, 10));
    }
    r.child.kill('SIGCONT');
    await new Promise((res) => setTimeout(res, 300));
    r.child.stdin!.end('line\n');
    const { status } = await r.done;
    assert.equal(status, 0, `${p}: ${r.stderr()}`);
    assert.equal(r.stdout(), 'ready\ngot line\n');
  }
});

test('kill -9 of torov ends the VMM within a second', { skip: NO_BUSYBOX }, async () => {
  for (const guestArgs of [WAIT_READ, WAIT_SPIN]) {
    const r = await start([BUSYBOX, ...guestArgs]);
    r.child.kill('SIGKILL');
    await r.done;
    const ms = await gone(r.vmm, 1000);
    assert.ok(ms < 1000, `${ms} ms`);
  }
});

test('timeout(1) stops torov and its VM (SIGTERM, then its status 124)', { skip: NO_BUSYBOX }, async () => {
  const t0 = Date.now();
  const r = spawnSync('timeout', ['2', TOROV, 'run', BUSYBOX, ...WAIT_SPIN], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 124, r.stderr);
  assert.ok(Date.now() - t0 < 10_000);
  assert.equal(r.stderr, '');
  // Its process group is gone: no VMM left behind (they share torov's process group).
  const left = spawnSync('pgrep', ['-f', `${BUSYBOX} sh -c echo ready; while`], { encoding: 'utf8' });
  assert.equal(left.stdout.trim(), '', 'a VMM is left running');
});

test('--timeout is enforced by the VMM itself, on a guest blocked in a host call or spinning, on both paths', { skip: NO_BUSYBOX }, async () => {
  for (const p of ['exit', 'ring']) {
    for (const g of [WAIT_READ, WAIT_SPIN]) {
      const t0 = Date.now();
      const r = await start(['--syscall-path', p, '--timeout', '1s', BUSYBOX, ...g]);   // its stdin stays open
      const { status } = await r.done;
      assert.equal(status, 124, `${p} ${g.join(' ')}: ${r.stderr()}`);
      assert.equal(r.stderr(), 'torov: timeout: the VM was stopped after 1s\n');
      assert.equal(r.stdout(), 'ready\n');
      assert.ok(Date.now() - t0 < 8_000, `${Date.now() - t0} ms`);
      await gone(r.vmm, 1000);
    }
  }
});

test('--timeout takes 1h30m, and 0 means no limit', { skip: NO_BUSYBOX }, () => {
  const r = torov(['run', '--timeout', '0', BUSYBOX, 'echo', 'done'], { plain: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'done\n');
  const long = torov(['run', '--timeout', '1h30m', BUSYBOX, 'echo', 'done'], { plain: true });
  assert.equal(long.status, 0, long.stderr);
  const bad = torov(['run', '--timeout', '1x', BUSYBOX, 'true'], { plain: true });
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /^torov: --timeout: invalid duration "1x"/);
});

test('the VM outlives a parent of torov that dies, as any process does, and still ends cleanly', { skip: NO_BUSYBOX }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-orphan-'));
  try {
    const out = path.join(dir, 'out');
    // The shell starts torov in the background and is killed at once: torov is re-parented.
    const sh = spawn('sh', ['-c', `"$0" run ${BUSYBOX} sh -c 'echo ready; i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done; echo finished' > ${out} 2>&1 & echo $!; exec sleep 60`, TOROV],
      { stdio: ['ignore', 'pipe', 'ignore'] });
    const launcherPid = await new Promise<number>((resolve) => sh.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    for (let waited = 0; !(fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('ready')); waited += 20) {
      if (waited > 30_000) assert.fail('the guest did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const vmm = Number(fs.readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, 'utf8').trim());
    sh.kill('SIGKILL');
    await gone(launcherPid, 60_000);
    assert.equal(fs.readFileSync(out, 'utf8'), 'ready\nfinished\n');
    await gone(vmm, 1000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an environment variable cannot turn the sandbox off, and nothing internal reaches the guest', { skip: NO_BUSYBOX }, () => {
  const env = { ...process.env, TOROV_SANDBOX_CHILD: '{"sandbox":false}' };
  const r = torov(['run', BUSYBOX, 'ls', '/'], { env, plain: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'dev\netc\n', 'the jail\'s minimal root, not the host\'s');
  // --env-inherit hands the guest exactly the environment torov was given.
  const e = torov(['run', '--env-inherit', BUSYBOX, 'env'], { env, plain: true });
  assert.equal(e.status, 0, e.stderr);
  const seen = new Map(e.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const given = new Map(Object.entries(env).filter(([, v]) => v !== undefined && !v.includes('\n')) as [string, string][]);
  for (const k of seen.keys()) assert.ok(given.has(k) || k === 'PWD' || k === 'SHLVL', `the guest got ${k}, which torov was not given`);
  assert.equal(seen.get('TOROV_SANDBOX_CHILD'), '{"sandbox":false}');
});

test('the hand-off is the launcher\'s: a forged --launcher argument or a stray fd 3 is refused', () => {
  // Given by hand, the launcher's argument comes after its own and is an unknown command.
  const r = torov(['--launcher=3', 'run', guest('hello')], { plain: true });
  assert.equal(r.status, 125);
  assert.match(r.stderr, /^torov: unknown command "--launcher=3"/);
  // Node started directly with it: fd 3 is no launcher's socket (here: nothing).
  const d = spawnSync(process.execPath, [path.join(path.dirname(TOROV), 'torov.js'), '--launcher=3', 'run', guest('hello')], { encoding: 'utf8' });
  assert.equal(d.status, 125);
  assert.match(d.stderr, /^torov: internal: (cannot read the launcher's socket|bad message from the launcher)/);
  // And without the launcher, a sandboxed run says how to start torov.
  const n = spawnSync(process.execPath, [path.join(path.dirname(TOROV), 'torov.js'), 'run', guest('hello')], { encoding: 'utf8' });
  assert.equal(n.status, 125);
  assert.match(n.stderr, /^torov: the sandbox needs torov's launcher: run bin\/torov/);
});

test('a VMM that ends while the launcher is not looking still has its cgroups removed (its last messages are read)', { skip: (process.getuid?.() ?? 1) === 0 && fs.existsSync('/sys/fs/cgroup') ? false : 'needs root and cgroupfs' }, async (t) => {
  // The VMM says "timeout ..." then "cgroup ..." and fails on the policy at once. The
  // launcher, stopped meanwhile, wakes to its child's end and both messages together:
  // it read one message per wake-up, so the cgroups were never removed (found by the soak).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-launch-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const policy = path.join(dir, 'policy.json');
  fs.writeFileSync(policy, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"defaultAction":"allow"}', 'utf16le')]));
  const child = spawn(TOROV, ['run', '--timeout', '10s', '--policy', policy, guest('hello')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const done = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  const launcher = child.pid!;
  // Stopped once its VMM runs Node, before the VMM has said anything. (Not as soon as the
  // child exists: the launcher lets it go only after writing its id maps, and a launcher
  // stopped before that leaves it waiting for ever.)
  let vmm = 0;
  const runsNode = (pid: number) => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--launcher=3'); } catch { return false; } };
  for (let i = 0; i < 1000 && !(vmm && runsNode(vmm)); i++) {
    try { vmm = Number(fs.readFileSync(`/proc/${launcher}/task/${launcher}/children`, 'utf8').trim().split(/\s+/)[0]) || 0; } catch { /* not yet */ }
    if (!(vmm && runsNode(vmm))) await new Promise((r) => setTimeout(r, 2));
  }
  assert.ok(vmm, 'the launcher started a VMM');
  process.kill(launcher, 'SIGSTOP');
  try {
    // The VMM made its cgroups, said so, and ended (a zombie until the launcher reaps it).
    for (let i = 0; i < 1500 && alive(vmm); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!alive(vmm), 'the VMM ended while the launcher was stopped');
  } finally {
    process.kill(launcher, 'SIGCONT');
  }
  assert.equal(await done, 125, stderr);
  assert.match(stderr, /UTF-16/, stderr);
  const left = runCgroups(launcher);
  assert.deepEqual(left, [], 'the run\'s cgroups are removed');
});

test('--code-cache-out writes torov\'s code cache from a sandboxed run (npm run build); a path it cannot write is refused', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-cache-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'torov.cache');
  const r = torov(['run', '--code-cache-out', out, guest('hello')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello from torov\n');
  // V8's code cache: a header then the compiled code of every function the run used.
  assert.ok(fs.statSync(out).size > 100_000, `${fs.statSync(out).size} bytes`);
  // The VMM dropped its privileges and entered its jail meanwhile: the file was opened before.
  const bad = torov(['run', '--code-cache-out', path.join(dir, 'no', 'such', 'dir', 'c'), guest('hello')]);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /^torov: --code-cache-out: cannot write .*: ENOENT\n$/);
});
