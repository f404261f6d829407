/**
 * Programs built for the original ToroV run unmodified from their configuration: a flat
 * binary at 0x400200 making system calls with `out`, hypercall 499 for the debug console,
 * `hlt` to end (src/vmm/personality.ts).
 */
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, GUESTS } from '../helpers';

/** A copy of test/guests/torov-abi with its MountPoint writable by the sandbox's user. */
function fixture(t: TestContext, hypercalls?: Array<{ Name: string; Allowed: string }>): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-abi-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  fs.copyFileSync(path.join(GUESTS, 'torov-abi', 'app.bin'), path.join(d, 'app.bin'));
  const config = JSON.parse(fs.readFileSync(path.join(GUESTS, 'torov-abi', 'config.json'), 'utf8')) as { Hypercalls: unknown };
  if (hypercalls) config.Hypercalls = hypercalls;
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(config));
  fs.mkdirSync(path.join(d, 'mountpoint'), { mode: 0o777 });
  fs.chmodSync(path.join(d, 'mountpoint'), 0o777);
  return d;
}

test('a ToroV-ABI guest writes a message, creates a file in its MountPoint, and stops with hlt', (t) => {
  const d = fixture(t);
  const r = torov(['run', path.join(d, 'config.json')], { plain: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello from a ToroV guest\n');
  assert.match(r.stderr, /^torov: console: toroV guest done$/m);
  assert.equal(fs.readFileSync(path.join(d, 'mountpoint', 'out.txt'), 'utf8'), 'written through ToroV hypercalls\n');
});

test('a root-owned MountPoint (0755) is writable when torov runs as root, and gets no dev/ from torov', (t) => {
  if ((process.getuid?.() ?? 1) !== 0) { t.skip('needs root'); return; }
  const d = fixture(t);
  const mp = path.join(d, 'mountpoint');
  fs.chmodSync(mp, 0o755);
  const r = torov(['run', path.join(d, 'config.json')], { plain: true });
  assert.equal(r.status, 0, r.stderr);
  const st = fs.statSync(path.join(mp, 'out.txt'));
  assert.deepEqual([st.uid, st.gid], [0, 0]);
  assert.deepEqual(fs.readdirSync(mp), ['out.txt'], 'torov left nothing of its own in the MountPoint');
});

test('its Hypercalls list is its policy: a hypercall marked "False" returns EPERM', (t) => {
  const d = fixture(t, [{ Name: 'Write', Allowed: 'True' }, { Name: 'Open', Allowed: 'False' }]);
  const r = torov(['run', '--trace', path.join(d, 'config.json')], { plain: true });
  assert.match(r.stderr, /^open\("\/out\.txt", O_WRONLY\|O_CREAT\|O_TRUNC, 0644\) = -1 EPERM \(Operation not permitted\) <denied by policy>$/m);
  assert.match(r.stderr, /^torov: console: toroV guest failed$/m);
  assert.equal(r.status, 132);                  // the guest's ud2 after a failure
  assert.ok(!fs.existsSync(path.join(d, 'mountpoint', 'out.txt')));
});
