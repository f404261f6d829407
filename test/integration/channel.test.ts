/**
 * The syscall channel (--syscall-path ring, src/vmm/channel.ts) and syscall-site rewriting
 * (src/vmm/rewrite.ts), with real guests on real KVM. The rest of the suite runs under the
 * default path (auto, which is ring on these 2-CPU machines), so every other integration
 * test exercises the channel as well; these tests check what is specific to it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, native, guest, TOROV, testRunOptions, spawn, spawnSync, inGroup } from '../helpers';

const CH = guest('channel');

test('a rewritten syscall site leaves the red zone below rsp intact (no push on the stack)', () => {
  const r = torov(['run', '--verbose', '--syscall-path', 'ring', CH, 'redzone', '20000']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, native(CH, ['redzone', '20000']).stdout);
  assert.equal(r.stdout, 'redzone: 0 words changed in 20000 calls\n');
  // The site was rewritten (else this test would only have checked the trap entry).
  const m = /syscall sites rewritten into calls: (\d+)/.exec(r.stderr);
  assert.ok(m && Number(m[1]) >= 1, r.stderr);
});

test('a syscall instruction that a branch jumps to still works once its site is rewritten', () => {
  const r = torov(['run', '--syscall-path', 'ring', CH, 'branch', '20000']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'branch: 0 wrong results in 20000 calls\n');
});

test('a `mov; syscall; ret` leaf wrapper (musl\'s shape) works rewritten, without the sandbox too', () => {
  // --no-sandbox: the vCPU thread is started lazily, after 500 exits (the handover).
  const r = torov(['run', '--no-sandbox', '--verbose', '--syscall-path', 'ring', CH, 'leaf', '20000'], { plain: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'leaf: ok\nleaf: 0 wrong results in 20000 calls\n');
  assert.match(r.stderr, /syscall channel: \d+ served, \d+ exits after the handover \(at exit \d+\)/);
});

test('--no-rewrite keeps every syscall instruction (the trap entry), with the same results', () => {
  const r = torov(['run', '--verbose', '--syscall-path', 'ring', '--no-rewrite', CH, 'redzone', '3000']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'redzone: 0 words changed in 3000 calls\n');
  assert.doesNotMatch(r.stderr, /syscall sites rewritten/);
});

test('getpid and the uid calls are answered in the guest, and a policy that denies them still applies', () => {
  const ring = torov(['run', '--syscall-path', 'ring', CH, 'ids']);
  const exit = torov(['run', '--syscall-path', 'exit', CH, 'ids']);
  assert.equal(ring.status, 0, ring.stderr);
  assert.equal(ring.stdout, exit.stdout);                       // the same values either way
  assert.match(ring.stdout, /^pid=1 tid=1 uid=\d+ euid=\d+ gid=\d+ egid=\d+ ppid=0\n$/);
  const getpids = (args: string[]) => {
    const r = torov(['run', ...args, '--trace', guest('getppid_loop'), '1000', 'getpid']);
    assert.equal(r.status, 0, r.stderr);
    return (r.stderr.match(/^getpid\(\) = 1$/gm) ?? []).length;
  };
  // Rewritten sites: the first two calls reach torov (the second rewrites the site), no later one.
  assert.equal(getpids(['--syscall-path', 'ring']), 2);
  // Without rewriting the trapped call is answered in the guest at once.
  assert.equal(getpids(['--syscall-path', 'ring', '--no-rewrite']), 0);
  assert.equal(getpids(['--syscall-path', 'exit']), 1000);
  assert.equal(getpids(['--syscall-path', 'ring', '--no-vdso']), 1000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-chan-'));
  try {
    const pol = path.join(dir, 'p.json');
    fs.writeFileSync(pol, JSON.stringify({ defaultAction: 'allow', syscalls: [{ names: ['getuid'], action: 'deny', errno: 'EACCES' }] }));
    const denied = torov(['run', '--syscall-path', 'ring', '--policy', pol, CH, 'ids']);
    assert.match(denied.stdout, / uid=4294967283 euid=\d+ /);   // -EACCES as a uid_t
  } finally { fs.rmSync(dir, { recursive: true }); }
});

test('a request a program forges in the channel page goes through the policy like any syscall', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-chan-'));
  try {
    const pol = path.join(dir, 'p.json');
    fs.writeFileSync(pol, JSON.stringify({ defaultAction: 'allow', syscalls: [{ names: ['getppid'], action: 'deny', errno: 'EACCES' }] }));
    const ok = torov(['run', '--syscall-path', 'ring', CH, 'forge', '110']);
    assert.equal(ok.stdout, 'forge 110: 0\n', ok.stderr);
    const denied = torov(['run', '--syscall-path', 'ring', '--policy', pol, CH, 'forge', '110']);
    assert.equal(denied.stdout, 'forge 110: -13\n', denied.stderr);
    // open(NULL): the pointer check applies (EFAULT), nothing reaches the host.
    assert.equal(torov(['run', '--syscall-path', 'ring', CH, 'forge', '2']).stdout, 'forge 2: -14\n');
    // A wait or a kick with nothing posted is no call of the stub's: the program ends (it
    // would loop there otherwise, with the VMM serving its exits), as natively, where `out` is SIGSEGV.
    for (const [mode, what] of [['forge-wait', 'wait'], ['forge-kick', 'kick']]) {
      const r = torov(['run', '--syscall-path', 'ring', CH, mode!]);
      assert.equal(r.status, 139, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^torov: SIGSEGV: channel ${what} without a request at rip=0x[0-9a-f]+$`, 'm'));
    }
    // The channel's ports mean nothing on the exit path.
    const exit = torov(['run', '--syscall-path', 'exit', CH, 'forge', '110']);
    assert.equal(exit.status, 139);
    assert.match(exit.stderr, /SIGSEGV: I\/O to port 0x14/);
  } finally { fs.rmSync(dir, { recursive: true }); }
});

test('a syscall site in a file the program mapped over its own code is never rewritten (the file is not written, the VMM does not crash)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-chan-'));
  try {
    // The same bytes as the guest's victim(): mov $110,%eax; syscall; ret; nops.
    const code = Buffer.alloc(4096, 0x90);
    Buffer.from([0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05, 0xc3]).copy(code);
    for (const mode of [0o444, 0o644]) {
      const f = path.join(dir, `text-${mode.toString(8)}`);
      fs.writeFileSync(f, code);
      fs.chmodSync(f, mode);
      const r = torov(['run', '--verbose', '--syscall-path', 'ring', CH, 'sharedtext', f]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'sharedtext: the file is unchanged, sum right\n');
      assert.match(r.stderr, /the function is no longer the loaded program's memory/);
      assert.deepEqual(fs.readFileSync(f), code);
    }
  } finally { fs.rmSync(dir, { recursive: true }); }
});

test('a TCP echo server in the guest serves a native client through the channel (the benchmark\'s guest)', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = spawn(TOROV, ['run', ...testRunOptions(), '--network', 'host', '--syscall-path', 'ring', '--verbose',
    guest('tcp_echo'), 'server', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr!.on('data', (d) => { stderr += d; });
  const status = new Promise<number | null>((res) => server.on('close', (c) => res(c)));
  // The client retries its connect while the server starts; 2000 round trips of 16 bytes.
  const client = spawnSync(guest('tcp_echo'), ['client', String(port), '2000', '16'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(client.status, 0, client.stderr);
  assert.match(client.stdout, /^median \d+ p90 \d+\n$/);
  assert.equal(await status, 0, stderr);
  assert.match(stderr, /syscall channel: \d+ served/);
});

test('a guest blocked on the host (a 2 s sleep) does not keep a CPU busy', () => {
  // CPU time of the whole torov run (launcher, VMM, its threads) from bash's `times` for
  // its children, with a 2 s sleep and with none. A spinning guest or poller would add
  // close to 2 s per spinning thread; the bound leaves room for start-up noise.
  const cpu = (ms: number) => {
    const [cmd, ...args] = inGroup(60, ['bash', '-c', `"$@" >/dev/null; times | tail -1`, 'sh', TOROV, 'run', ...testRunOptions(), '--syscall-path', 'ring', CH, 'sleep', String(ms)]);
    const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 70_000 });
    const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(r.stdout.trim());
    assert.ok(m, r.stdout + r.stderr);
    return Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
  };
  const idle = cpu(0), blocked = cpu(2000);
  assert.ok(blocked - idle < 0.5, `blocked 2 s: ${blocked.toFixed(2)} s of CPU, against ${idle.toFixed(2)} s without the sleep`);
});

test('every thread of the sandboxed VMM runs as the unprivileged user, without capabilities', { skip: (process.getuid?.() ?? 0) !== 0 && 'needs root (the VMM changes user only when started as root)' }, async () => {
  const child = spawn(TOROV, ['run', '--user', '65534:65534', '--syscall-path', 'ring', CH, 'sleep', '3000'], { stdio: 'ignore' });
  try {
    let vmm: string | undefined;
    for (let i = 0; i < 100 && !vmm; i++) {
      await new Promise((r) => setTimeout(r, 50));
      for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          // Found once it is fully set up: its own user, and its seccomp filter (installed
          // last; the second: bin/torov installs a first one before Node starts).
          const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
          if (cmd.includes('channel\x00sleep\x003000') && /^Uid:\t65534\t/m.test(st) && /^Seccomp_filters:\t2$/m.test(st)) vmm = pid;
        } catch { /* gone */ }
      }
    }
    assert.ok(vmm, 'the sandboxed VMM was not found');
    const tasks = fs.readdirSync(`/proc/${vmm}/task`);
    assert.ok(tasks.length >= 3, `only ${tasks.length} threads`);
    for (const t of tasks) {
      const st = fs.readFileSync(`/proc/${vmm}/task/${t}/status`, 'utf8');
      assert.match(st, /^Uid:\t65534\t65534\t65534\t65534$/m, `thread ${t}`);
      assert.match(st, /^Gid:\t65534\t65534\t65534\t65534$/m, `thread ${t}`);
      assert.match(st, /^CapEff:\t0000000000000000$/m, `thread ${t}`);
      assert.match(st, /^CapPrm:\t0000000000000000$/m, `thread ${t}`);
      assert.match(st, /^NoNewPrivs:\t1$/m, `thread ${t}`);
      assert.match(st, /^Seccomp:\t2$/m, `thread ${t}`);
      // The main thread also emptied its bounding set (before leaving root, while it could).
      if (t === vmm) assert.match(st, /^CapBnd:\t0000000000000000$/m, 'main thread');
    }
  } finally {
    child.kill('SIGKILL');
  }
});
