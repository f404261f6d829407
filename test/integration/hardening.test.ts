/** Attempts that once reached past torov's checks (from a security review): each must now fail safely. */
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, guest, TOROV, spawn, spawnSync } from '../helpers';

test('signal-driven I/O never reaches the host: no SIGIO to a host process, nor to the VMM', (t: TestContext) => {
  // Without a PID namespace the guest can name host pids; the victim runs as the VMM's user.
  const victim = (process.getuid?.() ?? 1) === 0
    ? spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '60'])
    : spawn('sleep', ['60']);
  t.after(() => victim.kill('SIGKILL'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-hard-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const p = path.join(dir, 'nopid.json');
  fs.writeFileSync(p, JSON.stringify({ defaultAction: 'allow', newPid: false }));
  const r = torov(['run', '--policy', p, guest('hardening'), 'sigio', String(victim.pid)], { plain: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'setown=0 setfl=0 fioasync=0 getown_matches=1 async=1\nstill running\n');
  assert.equal(victim.exitCode, null);
  assert.equal(spawnSync('kill', ['-0', String(victim.pid)]).status, 0, 'the host process is alive');
});

test('a host directory as stdin gives the guest no handle outside its root', () => {
  const r = spawnSync(TOROV, ['run', guest('hardening'), 'stdin-dir'], { encoding: 'utf8', stdio: [fs.openSync(os.tmpdir(), 'r'), 'pipe', 'pipe'] });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'openat(0) EBADF\nfchdir(0) EBADF\n');
});

test('FS/GS bases outside user space are EPERM, and the VMM survives', () => {
  const r = torov(['run', guest('hardening'), 'fsbase']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ARCH_SET_GS 0xffffffffffffffff EPERM\nARCH_SET_GS 0x800000000000 EPERM\nARCH_SET_GS 0x7ffffffff000 EPERM\n');
});

test('an `in` from torov\'s ports ends the program, it reads nothing', () => {
  const r = torov(['run', guest('exitloop'), 'in', '1']);
  assert.equal(r.status, 139);
  assert.match(r.stderr, /^torov: SIGSEGV: in from port 0x10 at rip=0x[0-9a-f]+$/m);
});
