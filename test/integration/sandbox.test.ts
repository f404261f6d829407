/**
 * The sandbox around the VMM: a real guest tries to break out in every way the issue
 * lists, and each attempt must fail; plus the jail's contents, privileges, limits,
 * --timeout and volumes. These runs use torov's defaults (no test options).
 */
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, guest, TOROV, spawn, spawnSync } from '../helpers';

const BUSYBOX = '/bin/busybox';
const NO_BUSYBOX = fs.existsSync(BUSYBOX) ? false : 'busybox-static is not installed';

/** A directory the sandboxed guest (running as nobody) may write to. */
function volume(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-sandbox-'));
  fs.chmodSync(d, 0o777);
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function policyFile(t: TestContext, doc: unknown): string {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'torov-sandbox-p-')), 'policy.json');
  fs.writeFileSync(f, JSON.stringify(doc));
  t.after(() => fs.rmSync(path.dirname(f), { recursive: true, force: true }));
  return f;
}

test('a guest that tries every way out stays in (even under an allow-everything policy)', async (t) => {
  const vol = volume(t);
  fs.symlinkSync('/etc/shadow', path.join(vol, 'host-symlink'));
  // A port the host listens on: unreachable from the guest's own network namespace.
  const server = net.createServer((c) => c.end('secret')).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  // A host process that kill(-1, SIGKILL) must not reach.
  const sentinel = spawn('sleep', ['60']);
  t.after(() => sentinel.kill());
  const hostname = os.hostname();
  // A file open in the launcher at fd 3 must not be readable by the guest.
  const secret = path.join(vol, 'secret.txt');
  fs.writeFileSync(secret, 'do not leak');
  const fd = fs.openSync(secret, 'r');
  t.after(() => fs.closeSync(fd));

  const allowAll = policyFile(t, { defaultAction: 'allow' });
  const r = spawnSync(TOROV, ['run', '--policy', allowAll, '-v', `${vol}:/data`, guest('escape'), String(port), '/data'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', fd], timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const get = (k: string) => lines.find((l) => l.startsWith(k + ' '))?.slice(k.length + 1);
  for (const k of ['shadow', 'dotdot', 'dotdot-volume', 'symlink-host', 'symlink-guest']) assert.equal(get(k), 'ENOENT', k);
  // No /proc in the jail; the VMM's /proc is also refused by name.
  for (const k of ['proc-self-root', 'proc-1-root']) assert.match(get(k) ?? '', /^(ENOENT|EACCES)$/, k);
  assert.equal(get('inherited-fds'), 'EBADF');
  for (const k of ['mount', 'ptrace', 'unshare', 'setns', 'kexec_load', 'bpf', 'init_module', 'reboot', 'sethostname']) {
    assert.match(get(k) ?? 'missing', /^E[A-Z]+$/, `${k} must fail: ${get(k)}`);
  }
  assert.match(get('kill-all') ?? '', /^(EPERM|ESRCH)$/);
  assert.equal(sentinel.exitCode, null, 'the host process survived kill(-1, SIGKILL)');
  assert.equal(spawnSync('kill', ['-0', String(sentinel.pid)]).status, 0);
  assert.equal(os.hostname(), hostname);
  assert.equal(get('connect-host'), 'ECONNREFUSED');
  // Nothing is lost: the file written in the volume is on the host.
  assert.equal(get('volume-write'), 'done');
  assert.equal(fs.readFileSync(path.join(vol, 'from-guest.txt'), 'utf8'), 'written by the guest\n');
  assert.ok(!lines.some((l) => / OK/.test(l)), r.stdout);
});

test('without a writable volume the VMM runs as nobody, without capabilities, with no_new_privs', () => {
  const r = torov(['run', '--verbose', guest('hello')], { plain: true });
  assert.equal(r.status, 0, r.stderr);
  if ((process.getuid?.() ?? 0) === 0) assert.match(r.stderr, /^torov: sandbox: uid=65534 gid=65534 \(nobody: no writable volume\) capabilities=0x0 no_new_privs=1 network=none root=\(minimal\)$/m);
  else assert.match(r.stderr, /^torov: sandbox: uid=\d+ gid=\d+ capabilities=0x0 no_new_privs=1 /m);
  const u = torov(['run', '--verbose', '--user', '1234:4321', guest('hello')], { plain: true });
  if ((process.getuid?.() ?? 0) === 0) assert.match(u.stderr, /uid=1234 gid=4321 \(--user\) capabilities=0x0/);
});

test('the default root is minimal: /dev with five device nodes and shm, a synthetic /etc, nothing of the host', { skip: NO_BUSYBOX }, () => {
  const r = torov(['run', BUSYBOX, 'ls', '-a', '/', '/dev', '/etc'], { plain: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '/:\n.\n..\ndev\netc\n\n/dev:\n.\n..\nfull\nnull\nrandom\nshm\nurandom\nzero\n\n/etc:\n.\n..\ngroup\nhostname\nhosts\npasswd\n');
  // /dev/shm is writable (POSIX shared memory), and empty at the start of each run.
  const empty = torov(['run', BUSYBOX, 'ls', '-A', '/dev/shm'], { plain: true });
  assert.deepEqual([empty.status, empty.stdout], [0, ''], empty.stderr);
  const shm = torov(['run', BUSYBOX, 'sh', '-c', 'echo x > /dev/shm/f && read l < /dev/shm/f && echo "read $l"'], { plain: true });
  assert.deepEqual([shm.status, shm.stdout], [0, 'read x\n'], shm.stderr);
  const w = torov(['run', BUSYBOX, 'dd', 'if=/dev/urandom', 'of=/dev/null', 'bs=16', 'count=1'], { plain: true });
  assert.equal(w.status, 0, w.stderr);
  const ro = torov(['run', BUSYBOX, 'touch', '/newfile'], { plain: true });
  assert.notEqual(ro.status, 0);
  assert.match(ro.stderr, /Read-only file system/);
});

test('a policy root is read-only unless marked writable; /tmp when asked; volumes :ro', { skip: NO_BUSYBOX }, (t) => {
  const root = volume(t);
  fs.mkdirSync(path.join(root, 'data'));
  fs.chmodSync(path.join(root, 'data'), 0o777);
  fs.writeFileSync(path.join(root, 'hello.txt'), 'from the root\n');
  const ro = policyFile(t, { defaultAction: 'allow', root, tmp: true });
  assert.equal(torov(['run', '--policy', ro, BUSYBOX, 'cat', '/hello.txt'], { plain: true }).stdout, 'from the root\n');
  const denied = torov(['run', '--policy', ro, BUSYBOX, 'touch', '/data/x'], { plain: true });
  assert.match(denied.stderr, /Read-only file system/);
  const tmp = torov(['run', '--policy', ro, BUSYBOX, 'sh', '-c', 'echo ok > /tmp/f && read l < /tmp/f && echo $l'], { plain: true });
  assert.equal(tmp.stdout, 'ok\n', tmp.stderr);
  const rw = policyFile(t, { defaultAction: 'allow', root, writable: ['/data'] });
  const ok = torov(['run', '--policy', rw, BUSYBOX, 'sh', '-c', 'echo saved > /data/x'], { plain: true });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(fs.readFileSync(path.join(root, 'data', 'x'), 'utf8'), 'saved\n');
  const vol = volume(t);
  const rov = torov(['run', '-v', `${vol}:/v:ro`, BUSYBOX, 'touch', '/v/x'], { plain: true });
  assert.match(rov.stderr, /Read-only file system/);
});

test('--timeout stops the VM with status 124 and says so', { skip: NO_BUSYBOX }, () => {
  const t0 = Date.now();
  const r = torov(['run', '--timeout', '1s', BUSYBOX, 'sleep', '30'], { plain: true });
  assert.equal(r.status, 124);
  assert.match(r.stderr, /^torov: timeout: the VM was stopped after 1s$/m);
  assert.ok(Date.now() - t0 < 20_000);
});

test('rlimits: a write past the file-size limit is EFBIG for the guest, not a dead VMM', { skip: NO_BUSYBOX }, (t) => {
  const vol = volume(t);
  const p = policyFile(t, { defaultAction: 'allow', rlimits: { fileSize: '8K' } });
  const r = torov(['run', '--policy', p, '-v', `${vol}:/data`, BUSYBOX, 'dd', 'if=/dev/zero', 'of=/data/big', 'bs=4096', 'count=4'], { plain: true });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /File too large/);
  assert.equal(fs.statSync(path.join(vol, 'big')).size, 8192);
});

test('started as root, a volume root can write is writable, and what the guest creates belongs to the volume\'s owner', { skip: NO_BUSYBOX }, (t) => {
  if ((process.getuid?.() ?? 1) !== 0) { t.skip('needs root'); return; }
  // A temporary directory of this test's own (torov's earlier launcher made its jail there).
  const tmpdir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-tmpdir-'));
  t.after(() => fs.rmSync(tmpdir, { recursive: true, force: true }));
  const env = { ...process.env, TMPDIR: tmpdir };
  // A root-owned directory, 0755 (as /srv/data usually is): the guest acts as root, without capabilities.
  const own = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-vol-root-'));
  t.after(() => fs.rmSync(own, { recursive: true, force: true }));
  fs.chmodSync(own, 0o755);
  const r = torov(['run', '--verbose', '-v', `${own}:/data`, BUSYBOX, 'sh', '-c', 'echo saved > /data/f && id -u'], { plain: true, env });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '0\n');
  assert.match(r.stderr, new RegExp(`^torov: sandbox: uid=0 gid=0 \\(the owner of ${own}\\) capabilities=0x0 no_new_privs=1 `, 'm'));
  const st = fs.statSync(path.join(own, 'f'));
  assert.deepEqual([st.uid, st.gid], [0, 0]);
  // Another user's directory: the guest acts as that user, and its files are that user's.
  const theirs = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-vol-user-'));
  t.after(() => fs.rmSync(theirs, { recursive: true, force: true }));
  fs.chmodSync(theirs, 0o755);
  fs.chownSync(theirs, 1234, 4321);
  const u = torov(['run', '--verbose', '-v', `${theirs}:/data`, BUSYBOX, 'sh', '-c', 'echo saved > /data/f'], { plain: true });
  assert.equal(u.status, 0, u.stderr);
  assert.match(u.stderr, /^torov: sandbox: uid=1234 gid=4321 \(the owner of /m);
  const su = fs.statSync(path.join(theirs, 'f'));
  assert.deepEqual([su.uid, su.gid], [1234, 4321]);
  // Still no capability: a file of another owner in that volume stays closed to it.
  fs.writeFileSync(path.join(theirs, 'roots'), 'secret\n', { mode: 0o600 });
  const deny = torov(['run', '-v', `${theirs}:/data`, BUSYBOX, 'cat', '/data/roots'], { plain: true });
  assert.notEqual(deny.status, 0);
  assert.match(deny.stderr, /Permission denied/);
  // SQLite in a root-owned volume (it failed with EACCES as nobody).
  const q = torov(['run', '-v', `${own}:${own}`, guest('sqlite_demo'), own], { plain: true });
  assert.equal(q.status, 0, q.stderr);
  // The jail is built over an existing directory: nothing is created on the host.
  assert.deepEqual(fs.readdirSync(tmpdir), []);
});

test('--no-sandbox warns on stderr', () => {
  const r = torov(['run', '--no-sandbox', guest('hello')]);
  assert.equal(r.status, 0);
  assert.match(r.stderr, /^torov: warning: --no-sandbox: /);
});

test('rootless: a user who may open /dev/kvm gets the sandbox through a user namespace', (t) => {
  if ((process.getuid?.() ?? 1) !== 0) { t.skip('needs root to set up a test user'); return; }
  const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  if (!have('setfacl') || !have('useradd') || !have('runuser')) { t.skip('setfacl, useradd or runuser missing'); return; }
  const user = 'torov-rootless';
  if (spawnSync('id', [user]).status !== 0) spawnSync('useradd', ['-M', '-s', '/bin/sh', user]);
  // Give the user /dev/kvm for the length of the test, as the kvm group would.
  assert.equal(spawnSync('setfacl', ['-m', `u:${user}:rw`, '/dev/kvm']).status, 0);
  t.after(() => spawnSync('setfacl', ['-x', `u:${user}`, '/dev/kvm']));
  const r = spawnSync('timeout', ['-s', 'KILL', '60s', 'runuser', '-u', user, '--', TOROV, 'run', '--verbose', guest('hello')], { encoding: 'utf8', cwd: '/', timeout: 70_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello from torov\n');
  // Root inside its own user namespace, without any capability.
  assert.match(r.stderr, /^torov: sandbox: uid=0 gid=0 capabilities=0x0 no_new_privs=1 /m);
  // No cgroup for a user who was not delegated one: said once, in one line, and the run goes on.
  const notes = r.stderr.match(/^torov: note: no cgroup for this run \(.*\): only the guest's memory and in-memory files are bounded, threads by RLIMIT_NPROC$/gm) ?? [];
  const delegated = ((): boolean => {
    for (const l of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, ctrl, p] = l.split(':');
      if (ctrl !== 'memory' && ctrl !== '') continue;
      const d = path.join('/sys/fs/cgroup', ctrl === '' ? 'unified' : 'memory', p ?? '');
      try { if (fs.statSync(d).uid !== 0 || (fs.statSync(d).mode & 0o002)) return true; } catch { /* no such hierarchy */ }
    }
    return false;
  })();
  if (!delegated) assert.equal(notes.length, 1, r.stderr);
  else assert.ok(notes.length <= 1, r.stderr);
});

test('without user namespaces, a rootless run says what is missing in one line', (t) => {
  if ((process.getuid?.() ?? 1) !== 0) { t.skip('needs root to build the nested namespaces'); return; }
  // A user namespace whose limit allows exactly one more: the non-root user inside it
  // (mapped to root outside, so /dev/kvm opens) cannot create the sandbox's own.
  const script = 'echo 1 > /proc/sys/user/max_user_namespaces && exec unshare --user --map-user=1000 --map-group=1000 "$@"';
  const r = spawnSync('timeout', ['-s', 'KILL', '60s', 'unshare', '--user', '--map-root-user', 'sh', '-c', script, 'sh', TOROV, 'run', guest('hello')],
    { encoding: 'utf8', cwd: '/', timeout: 70_000 });
  if (/unshare failed|cannot/.test(r.stderr) && !r.stderr.includes('torov:')) { t.skip(`nested user namespaces unavailable here: ${r.stderr.trim()}`); return; }
  assert.equal(r.status, 125, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^torov: cannot create the sandbox's namespaces \(no user namespace for this user\)\. Unprivileged user namespaces must be enabled.*--no-sandbox/);
});
