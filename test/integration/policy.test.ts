/** Policies on real guests: deny, kill, log, the default policy, ToroV configurations, traces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { torov, guest, ROOT, scratchDir } from '../helpers';

const tmp = scratchDir('torov-policy-');
function policy(name: string, doc: unknown): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return f;
}

test('the default policy refuses dangerous calls with EPERM and allows ordinary ones', () => {
  const r = torov(['run', guest('enosys')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^mount EPERM$/m);
  assert.match(r.stdout, /^reboot EPERM$/m);
  // Numbers that are no Linux syscall are ENOSYS, as in Linux, whatever the policy.
  assert.match(r.stdout, /^syscall1000 ENOSYS$/m);
  assert.match(r.stdout, /^syscall400 ENOSYS$/m);
});

test('a denied syscall never runs: the program gets EPERM (or the rule\'s errno)', () => {
  const p = policy('deny.json', { defaultAction: 'allow', syscalls: [{ names: ['writev'], action: 'deny', errno: 'EACCES', why: 'test' }] });
  const r = torov(['run', '--trace', '--policy', p, guest('hello')]);
  assert.equal(r.stdout, '');          // the greeting was never written
  assert.equal(r.status, 0);
  assert.match(r.stderr, /^writev\(1, .*\) = -1 EACCES \(Permission denied\) <denied by policy>$/m);
});

test('kill stops the VM with 159 and names the syscall', () => {
  const p = policy('kill.json', { defaultAction: 'allow', syscalls: [{ names: ['writev'], action: 'kill', why: 'test' }] });
  const r = torov(['run', '--policy', p, guest('hello')]);
  assert.equal(r.status, 159);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^torov: SIGSYS: writev \(syscall 20\) is not allowed by the policy .*kill\.json.*: killed$/m);
});

test('log allows the call and reports it', () => {
  const p = policy('log.json', { defaultAction: 'allow', syscalls: [{ names: ['writev'], action: 'log', why: 'test' }] });
  const r = torov(['run', '--policy', p, guest('hello')]);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, 'hello from torov\n');
  assert.match(r.stderr, /^torov: policy log: writev = 17$/m);
});

test('the bundled examples run under their own policies', () => {
  const r = torov(['run', '--policy', path.join(ROOT, 'examples/hello/policy.json'), path.join(ROOT, 'examples/hello/hello')]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.length > 0);
  const w = path.join(tmp, 'out.txt');
  const r2 = torov(['run', '--policy', path.join(ROOT, 'examples/writefile/policy.json'), path.join(ROOT, 'examples/writefile/writefile'), w]);
  assert.equal(r2.status, 0, r2.stderr);
  assert.ok(fs.existsSync(w));
});

test('an original ToroV configuration runs as it is, and torov leaves nothing in its MountPoint', () => {
  const before = fs.readdirSync(path.join(ROOT, 'test/fixtures')).sort();
  // No test volume: the MountPoint is the guest's root, and it has no directory for one.
  const r = torov(['run', path.join(ROOT, 'test/fixtures/torov-hello.json')], { plain: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello from torov\n');
  assert.deepEqual(fs.readdirSync(path.join(ROOT, 'test/fixtures')).sort(), before, 'no dev/ or tmp/ made in the MountPoint');
  const off = torov(['run', '--trace', path.join(ROOT, 'test/fixtures/torov-hello-nowrite.json')], { plain: true });
  assert.equal(off.stdout, '');
  assert.match(off.stderr, /^writev\(.*<denied by policy>$/m);
});

test('a malformed policy gets one line that names the field, and status 125', () => {
  const cases: Array<[string, RegExp]> = [
    [policy('typo.json', { syscalls: [{ names: ['wirte'], action: 'allow' }] }), /syscalls\[0\]\.names\[0\]: unknown syscall "wirte" \(did you mean "write"\?\)/],
    [policy('action.json', { defaultAction: 'block' }), /defaultAction: /],
    [policy('json.json', '{ "syscalls": [ }'), /not valid JSON/],
    [path.join(tmp, 'missing.json'), /cannot read the policy file/],
  ];
  for (const [file, msg] of cases) {
    const r = torov(['run', '--policy', file, guest('hello')]);
    assert.equal(r.status, 125, file);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('--trace prints strace-style lines; --trace-file writes them to a file', () => {
  const r = torov(['run', '--trace', guest('hello')]);
  assert.equal(r.stdout, 'hello from torov\n');
  assert.match(r.stderr, /^writev\(1, \[\{iov_base="hello from torov", iov_len=16\}, \{iov_base="\\n", iov_len=1\}\], 2\) = 17$/m);
  assert.match(r.stderr, /^exit_group\(0\) = \?$/m);
  const f = path.join(tmp, 'trace.txt');
  const r2 = torov(['run', '--trace-file', f, guest('hello')]);
  assert.equal(r2.stderr, '');
  assert.match(fs.readFileSync(f, 'utf8'), /^arch_prctl\(ARCH_SET_FS, 0x[0-9a-f]+\) = 0$/m);
});

test('--verbose names an unimplemented syscall once', () => {
  const r = torov(['run', '--verbose', guest('enosys')]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^inotify_init1 ENOSYS$/m);
  const notes = r.stderr.split('\n').filter((l) => l.includes('inotify_init1 (syscall 294) is not implemented'));
  assert.equal(notes.length, 1, r.stderr);
  assert.equal(torov(['run', guest('enosys')]).stderr, '');
});

test('torov policy show and check', () => {
  const show = torov(['policy', 'show']);
  assert.equal(show.status, 0);
  assert.match(show.stdout, /mount/);
  const check = torov(['policy', 'check', path.join(ROOT, 'examples/echo/policy.json')]);
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /ok/);
});
