/** File-system syscalls: guests compared with native runs, /proc/self/exe, the VMM's /proc refused, bad path pointers. */
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, guest, native } from '../helpers';

/** A fresh, empty directory, removed after the test. */
function scratch(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-fs-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Runs guest `name` under torov and natively, each in its own scratch directory; both must exit 0 with the same lines. */
function sameAsNative(t: TestContext, name: string, args: (dir: string) => string[]): void {
  const mine = scratch(t), theirs = scratch(t);
  const n = native(guest(name), args(theirs));
  assert.equal(n.status, 0, `native ${name}: ${n.stderr}`);
  const r = torov(['run', guest(name), ...args(mine)]);
  assert.equal(r.status, 0, `torov ${name}: ${r.stderr}`);
  assert.deepEqual(r.stdout.split('\n'), n.stdout.split('\n'));
  assert.deepEqual(fs.readdirSync(mine), [], 'the guest leaves its directory empty');
}

test('the files guest prints the same lines under torov as natively', (t) => {
  sameAsNative(t, 'files', (d) => [d]);
});

test('the *at() forms, openat2, getdents, mknod, times, owners and their errors match a native run', (t) => {
  sameAsNative(t, 'fs_extra', (d) => ['ops', d]);
});

test('readlink of /proc/self/exe is the guest program, /proc/self/maps its own, and the VMM\'s own /proc is refused', (t) => {
  // The sandbox's root has no /proc at all; this is the stopgap that guards --no-sandbox runs.
  const r = torov(['run', '--no-sandbox', '--verbose', guest('fs_extra'), 'proc', scratch(t)]);
  assert.equal(r.status, 0, r.stderr);
  const exe = guest('fs_extra');
  assert.deepEqual(r.stdout.split('\n'), [
    `exe=${exe}`,
    `readlinkat exe=${exe}`,
    `pid exe=${exe}`,
    `exe short=${exe.slice(0, 4)}`,
    'open /proc/self/fd/0 EACCES',
    'open /proc/self/mem EACCES',
    'open //proc/./self/../self/mem EACCES',
    'open /proc/thread-self/environ EACCES',
    // The guest's own maps, made up by torov (src/syscalls/synthetic.ts):
    'own maps: [stack] yes, a host path no',
    'stat /proc/self/mem EACCES',
    'readlink /proc/self/cwd EACCES',
    'chdir /proc/self EACCES',
    // Found on what the host opened, not on the path's text:
    'openat /proc self/mem EACCES',
    'open /proc/mounts EACCES',
    'open /dev/fd EACCES',
    'open symlink to /proc/self/mem EACCES',
    // No magic link of the VMM's /proc/<pid>/fd is followed:
    'open symlink to /proc/self/fd, /0 ELOOP',
    'mknod chr EPERM',
    'mknod sock EPERM',
    'statx NULL path AT_EMPTY_PATH 0',
    'done',
    '',
  ]);
  assert.match(r.stderr, /^torov: \/proc\/self\/mem: the VMM's own \/proc is not available to the program: returned EACCES$/m);
});

test('static glibc finds itself through /proc/self/exe', () => {
  const r = torov(['run', '--verbose', guest('hello_glibc')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'hello from torov\n');
  assert.doesNotMatch(r.stderr, /\/proc/);
});

test('a bad path pointer is EFAULT for open and openat', () => {
  const r = torov(['run', guest('badptr')]);
  const lines = r.stdout.split('\n').filter((l) => /^open(at)? /.test(l));
  assert.deepEqual(lines, ['open EFAULT', 'openat EFAULT'], r.stderr);
});
