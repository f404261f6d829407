/**
 * The VMM's seccomp filter on the real kernel: a child Node process loads torov, boots a
 * guest, installs the filter (enableSeccomp, as the sandbox does right before the guest
 * runs), runs guests, and then either exits normally or makes a host syscall outside the
 * filter. Proves that the filter really kills (SIGSYS), and that it is complete enough for
 * real runs: files, sockets, a VM reused in the same process and a new VM created under it,
 * Node's exit on a terminal, Ctrl-C.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { guest, torov, ROOT, spawn, spawnSync } from '../helpers';

/**
 * These children install the VMM's filter themselves, without bin/torov, whose first filter
 * keeps libuv off io_uring (Node 22 and later use it for epoll_ctl, whatever
 * UV_USE_IO_URING says; the VMM's filter forbids it). They are started the same way: a
 * parent Node installs that first filter on its main thread (io_uring_setup fails with
 * ENOSYS), which the child inherits, and ends as the child ended.
 */
const NO_IO_URING = { ...process.env, UV_USE_IO_URING: '0' };
const PREFILTER = (() => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'torov-prefilter-')), 'prefilter.js');
  fs.writeFileSync(f, `
    const { sys, addressOf } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'host', 'libc.js'))});
    const code = [[0x20, 0, 0, 4], [0x15, 1, 0, 0xc000003e], [0x06, 0, 0, 0x7fff0000], [0x20, 0, 0, 0],
      [0x15, 0, 1, 425 /* io_uring_setup */], [0x06, 0, 0, 0x00050000 | 38 /* ENOSYS */], [0x06, 0, 0, 0x7fff0000]];
    const filter = Buffer.alloc(code.length * 8);
    code.forEach(([c, jt, jf, k], i) => { filter.writeUInt16LE(c, i * 8); filter[i * 8 + 2] = jt; filter[i * 8 + 3] = jf; filter.writeUInt32LE(k, i * 8 + 4); });
    const prog = Buffer.alloc(16);
    prog.writeUInt16LE(code.length, 0);
    prog.writeBigUInt64LE(BigInt(addressOf(filter)), 8);
    if (sys(157, 38, 1, 0, 0, 0) !== 0 || sys(157, 22, 2, addressOf(prog), 0, 0) !== 0) throw new Error('prefilter');
    const r = require('node:child_process').spawnSync(process.execPath, process.argv.slice(2), { stdio: 'inherit' });
    if (r.signal) process.kill(process.pid, r.signal);
    process.exit(r.status ?? 1);
  `);
  after(() => fs.rmSync(path.dirname(f), { recursive: true, force: true }));
  return f;
})();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-seccomp-'));
/** A policy that lets through only writev: the filter is the runtime's rules and writev. */
const WRITEV_ONLY = path.join(tmp, 'writev-only.json');
fs.writeFileSync(WRITEV_ONLY, JSON.stringify({ defaultAction: 'deny', syscalls: [{ names: ['writev'], action: 'allow' }] }));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const dist = (rel: string) => JSON.stringify(path.join(ROOT, 'dist', 'src', rel));

/**
 * A child script: `runs` are [guest, memory MiB, ...args]; each guest runs in a new Machine,
 * the filter (for `policy`: a file, or the default policy) is installed after the first
 * Machine is built and before it runs. Each status goes to stderr as `status NAME N`.
 * `after` is JavaScript run once all guests are done (with sys and SYS in scope).
 */
function script(runs: Array<[string, number, ...string[]]>, after = '', policy?: string): string {
  const file = path.join(tmp, `child-${Math.random().toString(36).slice(2)}.js`);
  fs.writeFileSync(file, `
    'use strict';
    const fs = require('fs'), path = require('path');
    const { Machine } = require(${dist('vmm/machine')});
    const { defaultPolicy, loadPolicyFile } = require(${dist('policy')});
    const { enableSeccomp } = require(${dist('sandbox/seccomp')});
    const { sys, addressOf } = require(${dist('host/libc')});
    const { SYS } = require(${dist('linux/syscalls')});
    const say = (l) => fs.writeSync(2, l + '\\n');
    // No core dump when the filter kills the process (RLIMIT_CORE = 0).
    const lim = Buffer.alloc(16);
    sys(SYS.prlimit64, 0, 4 /* RLIMIT_CORE */, addressOf(lim), 0);
    const policy = ${policy ? `loadPolicyFile(${JSON.stringify(policy)}).policy` : 'defaultPolicy()'};
    const runs = ${JSON.stringify(runs)};
    const images = runs.map(([g]) => fs.readFileSync(g));
    let filtered = false;
    runs.forEach(([g, mib, ...args], i) => {
      const m = new Machine({ path: g, image: images[i], argv: [g, ...args], env: [], memory: mib * 2 ** 20, policy, log: say });
      if (!filtered) { const f = enableSeccomp(policy); filtered = true; say('filter ' + f.instructions); }
      const status = m.run();
      m.close();
      say('status ' + path.basename(g) + ' ' + status);
    });
    ${after}
    say('survived');
  `);
  return file;
}

function runChild(file: string, timeout = 60_000) {
  const r = spawnSync('timeout', ['-s', 'KILL', `${Math.ceil(timeout / 1000)}s`, process.execPath, PREFILTER, file], { encoding: 'utf8', timeout: timeout + 10_000, input: '', env: NO_IO_URING });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const statuses = (stderr: string) => [...stderr.matchAll(/^status (\S+) (\d+)$/gm)].map((m) => `${m[1]} ${m[2]}`);

test('a host syscall outside the filter kills the VMM with SIGSYS, after a guest ran under it', () => {
  const forbidden: Array<[string, string]> = [
    ['personality (never used)', 'sys(SYS.personality, 0xffffffff)'],
    ['uname (the guest\'s is served in the VMM)', 'sys(SYS.uname, addressOf(Buffer.alloc(390)))'],
    ['ptrace', 'sys(SYS.ptrace, 3 /* PTRACE_PEEKUSER */, 1, 0, 0)'],
    ['an x32 syscall number', 'sys(0x40000000 | SYS.getpid)'],
    ['an ioctl request not in the list', `sys(SYS.ioctl, 0, ${0xae03} /* KVM_CHECK_EXTENSION */, 0)`],
    ['a listed ioctl request with high bits set', `sys(SYS.ioctl, 0, 2 ** 32 + 0x5401 /* TCGETS */, addressOf(Buffer.alloc(64)))`],
    ['tgkill at another process', 'sys(SYS.tgkill, 1, 1, 0)'],
  ];
  for (const [what, call] of forbidden) {
    const r = runChild(script([[guest('hello'), 256]], `say('calling'); ${call};`));
    assert.equal(r.signal, 'SIGSYS', `${what}: ${r.status} ${r.stderr}`);
    assert.equal(r.stdout, 'hello from torov\n', what);
    assert.deepEqual(statuses(r.stderr), ['hello 0'], what);
    assert.match(r.stderr, /^calling$/m, what);
    assert.doesNotMatch(r.stderr, /survived/, what);
  }
});

test('the same child exits normally without the forbidden call (the filter is not killing everything)', () => {
  const again = 'try { enableSeccomp(policy); say(\'installed twice\'); } catch (e) { say(e.name + \': \' + e.message); }';
  const r = runChild(script([[guest('hello'), 256]], `say('pid ' + sys(SYS.getpid)); ${again}`));
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^filter \d+$/m);
  assert.match(r.stderr, /^pid \d+$/m);
  assert.match(r.stderr, /^SandboxError: seccomp: this process has its filter already/m);   // not a second seccomp() call
  assert.match(r.stderr, /^survived$/m);
});

test('files, sockets, polling, SQLite, memory and a reused and a new VM all run under the filter (default policy)', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'files-'));
  const r = runChild(script([
    [guest('hello'), 256],
    [guest('files'), 256, dir],                // the kept VM and window are reused
    [guest('sockets'), 256],
    [guest('poll'), 256],
    [guest('net_msg'), 256],                   // SCM_RIGHTS: host fds received and installed
    [guest('sqlite_demo'), 256, dir],          // file I/O, locks, a MAP_SHARED file mapping
    [guest('mmloop'), 256, '16', '4'],         // munmap gives guest memory back to the host
    [guest('fdkinds'), 256, dir],
    [guest('hello'), 64],                      // another size: a new VM and vCPU under the filter
    [guest('fault'), 64, 'segv-null-write'],
    [guest('time'), 64],
  ]), 120_000);
  assert.equal(r.signal, null, `killed: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(statuses(r.stderr), ['hello 0', 'files 0', 'sockets 0', 'poll 0', 'net_msg 0', 'sqlite_demo 0', 'mmloop 0', 'fdkinds 0', 'hello 0', 'fault 139', 'time 0']);
  assert.doesNotMatch(r.stdout + r.stderr, /FAIL/);
  assert.match(r.stdout, /^cleanup ok$/m);
  assert.match(r.stderr, /^survived$/m);
});

test('a restrictive policy gives a VMM that cannot make the calls it denies, and runs what it allows', () => {
  const policy = path.join(ROOT, 'examples', 'hello', 'policy.json');
  const ok = runChild(script([[path.join(ROOT, 'examples', 'hello', 'hello'), 64]], '', policy));
  assert.equal(ok.signal, null, ok.stderr);
  assert.deepEqual(statuses(ok.stderr), ['hello 0']);
  assert.match(ok.stdout, /Hello World/);
  // files is denied everything it tries: it fails, but through the policy (EPERM), not the filter.
  const dir = fs.mkdtempSync(path.join(tmp, 'denied-'));
  const denied = runChild(script([[guest('files'), 64, dir]], '', policy));
  assert.equal(denied.signal, null, denied.stderr);
  assert.equal(denied.status, 0, denied.stderr);
  assert.match(denied.stderr, /^status files [1-9]\d*$/m);
  // And the VMM itself cannot open a file any more: the guest rules for open were not added.
  // Opens fail with EACCES (Node probes files lazily; the filter does not kill for them)...
  const r = runChild(script([[path.join(ROOT, 'examples', 'hello', 'hello'), 64]],
    'try { fs.readFileSync("/proc/self/status"); say("opened"); } catch (e) { say("open: " + e.code); }', policy));
  assert.equal(r.signal, null, r.stderr);
  assert.match(r.stderr, /^open: EACCES$/m);
  assert.doesNotMatch(r.stderr, /^opened$/m);
  // ...and any other call outside the filter still kills.
  const k = runChild(script([[path.join(ROOT, 'examples', 'hello', 'hello'), 64]], 'fs.mkdirSync("/tmp/x-" + process.pid);', policy));
  assert.equal(k.signal, 'SIGSYS', k.stderr);
});

test('Ctrl-C ends a VMM under the filter as SIGINT (Node re-raises it), and every thread has the filter', async () => {
  const file = script([[guest('cpuloop'), 64, '100000000000']], '', WRITEV_ONLY);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: NO_IO_URING });
  let err = '';
  const started = new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => { err += d.toString(); if (/filter \d+/.test(err)) resolve(); }));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    await started;
    const tasks = fs.readdirSync(`/proc/${child.pid}/task`);
    assert.ok(tasks.length > 1, 'Node runs several threads');
    for (const t of tasks) {
      const status = fs.readFileSync(`/proc/${child.pid}/task/${t}/status`, 'utf8');
      assert.match(status, /^Seccomp:\s+2$/m, `thread ${t} is filtered (TSYNC)`);
      assert.match(status, /^NoNewPrivs:\s+1$/m, `thread ${t}`);
    }
    child.kill('SIGINT');
    const end = await ended;
    assert.deepEqual(end, { code: null, signal: 'SIGINT' }, err);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('Node\'s exit on a terminal (it restores the terminal mode) passes the filter', { skip: !fs.existsSync('/usr/bin/script') && 'needs script(1) for a pseudo-terminal' }, () => {
  const file = script([[guest('hello'), 64], [guest('hello'), 64]], '', WRITEV_ONLY);
  const r = spawnSync('timeout', ['-s', 'KILL', '60s', '/usr/bin/script', '-qec', `${process.execPath} ${PREFILTER} ${file}; echo "rc=$?"`, '/dev/null'], { encoding: 'utf8', timeout: 70_000, input: '', env: NO_IO_URING });
  const out = r.stdout.replace(/\r/g, '');
  assert.match(out, /^status hello 0$/m, out);
  assert.match(out, /^survived$/m, out);
  assert.match(out, /^rc=0$/m, out);
});

test('torov policy show --seccomp prints the filter of a policy with reasons and its size', () => {
  const r = torov(['policy', 'show', '--seccomp', 'examples/hello/policy.json']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^seccomp filter of the torov VMM for examples\/hello\/policy\.json$/m);
  assert.match(r.stdout, /^ {4}ioctl KVM_RUN \(0xae80\) +runs the vCPU/m);
  assert.match(r.stdout, /^ {2}writev +-> writev, preadv2, pwritev2, readv, fcntl, ppoll, fstat, lseek: /m);
  assert.doesNotMatch(r.stdout, /^ {2}openat /m);
  assert.match(r.stdout, /^BPF program: \d+ instructions/m);
  const d = torov(['policy', 'show', '--seccomp']);
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stdout, /for <default>/);
  assert.match(d.stdout, /^ {2}openat +-> openat2, openat, readlinkat, access, close, memfd_create, write, lseek, fcntl,/m);
  const bad = torov(['policy', 'check', '--seccomp', 'examples/hello/policy.json']);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr, /--seccomp goes with show/);
});
