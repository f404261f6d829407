/** File-system syscalls: guests compared with native runs, torov's /proc links, the VMM's /proc refused, bad path pointers. */
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

test('torov\'s /proc: the exe, fd and cwd links, a cwd inside /proc, and the VMM\'s own /proc refused', (t) => {
  // Without a sandbox the host's /proc exists: every route to it must still be refused.
  const r = torov(['run', '--no-sandbox', '--verbose', guest('fs_extra'), 'proc', scratch(t)]);
  assert.equal(r.status, 0, r.stderr);
  const exe = guest('fs_extra');
  assert.deepEqual(r.stdout.split('\n'), [
    `exe=${exe}`,
    `readlinkat exe=${exe}`,
    `pid exe=${exe}`,
    `exe short=${exe.slice(0, 4)}`,
    'open /proc/self/fd/N ok',
    // Not provided by torov (src/syscalls/synthetic.ts), so not there at all:
    'open /proc/self/mem ENOENT',
    'open //proc/./self/../self/mem ENOENT',
    'open /proc/thread-self/auxv ENOENT',
    'own maps: [stack] yes, a host path no',
    'stat /proc/self/mem ENOENT',
    'readlink /proc/self/cwd is the cwd: yes',
    'chdir /proc/self: getcwd is /proc/PID: yes',
    'open status from there ok',
    'mkdir there EACCES',
    'openat /proc self/mem ENOENT',
    'openat /proc self/status ok',
    'open /proc/mounts ok',
    'unlink /proc/cpuinfo EACCES',
    // Found on what the host opened, not on the path's text:
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
  assert.match(r.stderr, /^torov: \/proc\/\d+\/mem: the VMM's own \/proc is not available to the program: returned EACCES$/m);
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

test('synthetic /proc and /sys show the guest\'s machine (its memory, CPUs, threads, uptime), never the host\'s', { skip: fs.existsSync('/bin/busybox') ? false : 'busybox-static is not installed' }, () => {
  const bb = (args: string[], opts: string[] = []) => {
    const r = torov(['run', '--memory', '64M', '--cpus', '3', ...opts, '/bin/busybox', ...args]);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  assert.match(bb(['cat', '/proc/meminfo']), /^MemTotal:\s+65536 kB\nMemFree:\s+\d+ kB\n/);
  assert.equal(bb(['grep', '-c', '^processor', '/proc/cpuinfo']), '3\n');
  assert.equal(bb(['nproc']), '3\n');
  // sysinfo(2): free's total is the guest's memory, uptime starts at the VM's start, no load.
  assert.match(bb(['free']), /^Mem:\s+65536\s/m);
  assert.match(bb(['uptime']), /up 0 min,.*load average: 0\.00, 0\.00, 0\.00/);
  const st = bb(['cat', '/proc/self/status']);
  for (const line of ['Name:\tbusybox', 'Pid:\t1', 'PPid:\t0', 'Threads:\t1', 'Cpus_allowed_list:\t0-2']) assert.ok(st.includes(`${line}\n`), `${line} in:\n${st}`);
  assert.match(bb(['cat', '/proc/1/stat']), /^1 \(busybox\) R 0 /);
  assert.equal(bb(['cat', '/proc/sys/kernel/osrelease']), `${os.release()}\n`);
  assert.equal(bb(['cat', '/proc/loadavg']), '0.00 0.00 0.00 1/1 1\n');
  // stat and access: read-only regular files, whose size is what a read gives.
  const meminfo = bb(['cat', '/proc/meminfo']);
  assert.match(bb(['stat', '-c', '%a %F %s', '/proc/meminfo']), new RegExp(`^444 regular file ${meminfo.length}\n$`));
  assert.equal(bb(['sh', '-c', '[ -r /proc/self/status ] && echo r; [ -x /proc/cpuinfo ] || echo not-x; [ -w /proc/meminfo ] || echo not-w'], ['--user', '1000:1000']), 'r\nnot-x\nnot-w\n');
  // Writing one is refused; the host's own /proc stays out of reach.
  const w = torov(['run', '/bin/busybox', 'sh', '-c', 'echo 1 > /proc/sys/kernel/pid_max']);
  assert.notEqual(w.status, 0);
  // cmdline and environ are the program's own strings, in order, as in its memory.
  assert.equal(bb(['cat', '/proc/self/cmdline']), '/bin/busybox\0cat\0/proc/self/cmdline\0');
  const env = bb(['cat', '/proc/self/environ'], ['-e', 'TOROV_TEST=a b']).split('\0');
  assert.ok(env.includes('TOROV_TEST=a b') && !env.some((e) => e.startsWith('TOROV_SANDBOX')), env.join(' | '));
  // The host's /proc stays out of reach: the fds are the guest's own (0-2, and 3, the listed directory), none of the VMM's.
  assert.equal(bb(['ls', '/proc/self/fd/']), '0\n1\n2\n3\n');
});
