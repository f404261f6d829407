/** torov run: starting programs, arguments, environment, exit status, ELF refusal, faults. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, guest, native, TOROV, spawnSync } from '../helpers';

test('hello runs in a VM and exits 0', () => {
  const r = torov(['run', guest('hello')]);
  assert.equal(r.stdout, 'hello from torov\n');
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
});

test('static-PIE and static glibc programs run', () => {
  for (const g of ['hello_pie', 'hello_glibc']) {
    const r = torov(['run', guest(g)]);
    assert.equal(r.stdout, 'hello from torov\n', `${g}: ${r.stderr}`);
    assert.equal(r.status, 0);
  }
});

test('everything after the program belongs to the program', () => {
  const r = torov(['run', '--memory', '64M', guest('args'), '-v', '--flag', 'two words']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.ok(lines.includes('argc=4'));
  assert.ok(lines.includes('argv[1]=-v'));
  assert.ok(lines.includes('argv[2]=--flag'));
  assert.ok(lines.includes('argv[3]=two words'));
});

test('the initial stack and auxv match what Linux gives a native run', () => {
  const r = torov(['run', '-e', 'A=1', '--env', 'B=two', guest('args'), 'x']);
  assert.equal(r.status, 0, r.stderr);
  const n = native(guest('args'), ['x'], { env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/', TERM: 'xterm', A: '1', B: 'two' } });
  // argv[0] and AT_EXECFN differ only by the path spelling; compare everything else.
  const norm = (s: string) => s.split('\n').filter((l) => !l.startsWith('argv[0]=') && !l.startsWith('auxv AT_EXECFN=')).join('\n');
  assert.equal(norm(r.stdout), norm(n.stdout));
  assert.match(r.stdout, /^auxv AT_EXECFN=.*args$/m);
  assert.match(r.stdout, /^auxv AT_PLATFORM=x86_64$/m);
});

test('the environment is small by default and never the host one by surprise', () => {
  const env = { ...process.env, TOROV_SECRET: 'leak' };
  const r = torov(['run', guest('args')], { env });
  assert.equal(r.status, 0);
  assert.doesNotMatch(r.stdout, /TOROV_SECRET/);
  assert.deepEqual(r.stdout.split('\n').filter((l) => l.startsWith('env=')), ['env=PATH=/usr/local/bin:/usr/bin:/bin', 'env=HOME=/', 'env=TERM=xterm']);
  const inh = torov(['run', '--env-inherit', guest('args')], { env });
  assert.match(inh.stdout, /^env=TOROV_SECRET=leak$/m);
});

test('the exit status is the program\'s', () => {
  for (const code of [0, 1, 7, 255]) assert.equal(torov(['run', guest('exitcode'), String(code)]).status, code);
});

test('CPU exceptions are reported like a kernel would, with 128+signal', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['segv-null-write', 139, /^torov: SIGSEGV: page fault at rip=0x[0-9a-f]+ addr=0x0 \(write, not mapped\)$/m],
    ['segv-null-read', 139, /^torov: SIGSEGV: page fault at rip=0x[0-9a-f]+ addr=0x0 \(read, not mapped\)$/m],
    ['segv-exec', 139, /SIGSEGV: page fault .*\(exec, protection\)/],
    ['wprot', 139, /SIGSEGV: page fault .*\(write, protection\)/],
    ['stack-overflow', 139, /SIGSEGV: page fault .*\(write, not mapped\)/],
    ['ill', 132, /^torov: SIGILL: invalid opcode at rip=0x/m],
    ['fpe', 136, /^torov: SIGFPE: divide error at rip=0x/m],
  ];
  for (const [mode, status, msg] of cases) {
    const r = torov(['run', guest('fault'), mode]);
    assert.equal(r.status, status, `${mode}: ${r.stderr}`);
    assert.match(r.stderr, msg, mode);
  }
});

test('files that are not runnable get one line and status 126', () => {
  const cases: Array<[string, RegExp]> = [
    ['truncated', /^torov: \S*truncated: truncated ELF file/],
    ['arm64_elf', /^torov: \S*arm64_elf: built for AArch64, not x86-64$/m],
  ];
  for (const [g, msg] of cases) {
    const r = torov(['run', guest(g)]);
    assert.equal(r.status, 126, g);
    assert.match(r.stderr, msg, g);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${g}: one line`);
  }
});

test('a #! script runs its interpreter as execve does: the #! argument, the script\'s path, then its arguments', { skip: fs.existsSync('/bin/busybox') ? false : 'busybox-static is not installed' }, (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-script-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 's.sh');
  fs.writeFileSync(script, '#!/bin/busybox sh\necho "$0: $# args: $1 / $2"\nexit 3\n', { mode: 0o755 });
  const native = spawnSync(script, ['a', 'b c'], { encoding: 'utf8' });
  const r = torov(['run', '-v', `${dir}:${dir}:ro`, script, 'a', 'b c']);
  assert.equal(r.status, native.status, r.stderr);
  assert.equal(r.stdout, native.stdout);
  assert.equal(r.stdout, `${script}: 2 args: a / b c\n`);
  // Linux passes the rest of the #! line as one argument: "sh -e" is no BusyBox applet.
  fs.writeFileSync(script, '#!/bin/busybox sh -e\necho unreached\n', { mode: 0o755 });
  const one = torov(['run', '-v', `${dir}:${dir}:ro`, script]);
  assert.equal(one.status, spawnSync(script, [], { encoding: 'utf8' }).status);
  assert.match(one.stderr, /sh -e: applet not found/);
  // A script the guest cannot see: its interpreter's own error, after a note that says why.
  fs.writeFileSync(script, '#!/bin/busybox sh\necho unreached\n', { mode: 0o755 });
  const hidden = torov(['run', script], { plain: true });     // (torov() gives tests the host's /tmp)
  assert.notEqual(hidden.status, 0);
  assert.match(hidden.stderr, /^torov: note: \S+s\.sh is not in the guest's files, where its interpreter \/bin\/busybox will look for it: give the guest its directory \(-v /);
  // A missing interpreter is 127, an empty #! line 126, with one line each.
  fs.writeFileSync(script, '#!/nonexistent/sh\necho x\n');
  const missing = torov(['run', script]);
  assert.equal(missing.status, 127);
  assert.equal(missing.stderr, `torov: ${script}: its interpreter /nonexistent/sh: no such file\n`);
  // A relative interpreter is opened from the working directory, never searched on PATH
  // (/bin/busybox is on it), as execve does.
  fs.writeFileSync(script, '#!busybox\necho x\n');
  const relative = torov(['run', script]);
  assert.equal(relative.status, 127);
  assert.equal(relative.stderr, `torov: ${script}: its interpreter busybox: no such file\n`);
  fs.writeFileSync(script, '#!  \necho x\n');
  const empty = torov(['run', script]);
  assert.equal(empty.status, 126);
  assert.equal(empty.stderr, `torov: ${script}: its #! line names no interpreter\n`);
});

test('a missing program is 127; bad options are 125 with one line', () => {
  const r = torov(['run', '/nonexistent/prog']);
  assert.equal(r.status, 127);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  for (const args of [['run', '--memory', 'lots', guest('hello')], ['run', '--bogus', guest('hello')], ['run'], ['frobnicate']]) {
    const b = torov(args);
    assert.equal(b.status, 125, args.join(' '));
    assert.equal(b.stderr.trim().split('\n').length, 1, args.join(' '));
    assert.doesNotMatch(b.stderr, /at .*\.js:\d+/);
  }
});

test('--help works on every command', () => {
  for (const args of [['--help'], ['run', '--help'], ['policy', '--help'], ['syscalls', '--help'], ['help', 'run']]) {
    const r = torov(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, /^Usage: torov/);
  }
});

test('torov works from any directory', () => {
  const r = torov(['run', guest('hello')], { cwd: '/' });
  assert.equal(r.stdout, 'hello from torov\n');
});

test('without KVM access, one line says what to do', () => {
  const missing = torov(['run', guest('hello')], { env: { ...process.env, TOROV_KVM_DEVICE: '/nonexistent/kvm' } });
  assert.equal(missing.status, 125);
  assert.match(missing.stderr, /^torov: cannot use KVM: \/nonexistent\/kvm does not exist \(.*modprobe kvm_intel or kvm_amd\)\n$/);
  // A device the user may not open: a root-only file, opened by an unprivileged user.
  if (process.getuid?.() === 0) {
    const r = spawnSync('timeout', ['-s', 'KILL', '60s', 'runuser', '-u', 'nobody', '--', TOROV, 'run', guest('hello')], { encoding: 'utf8', timeout: 70_000 });
    if (r.error === undefined && !/cannot access|Permission denied.*node/.test(r.stderr)) {
      assert.equal(r.status, 125, r.stderr);
      // The advice follows /dev/kvm's real owner and mode, seen from outside the sandbox's user namespace.
      const st = fs.statSync('/dev/kvm');
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      assert.match(r.stderr, new RegExp(`^torov: cannot use KVM: no permission on /dev/kvm \\(it is \\w+:\\w+, mode ${mode}`));
      assert.match(r.stderr, (st.mode & 0o060) === 0o060 && st.gid !== 0 ? /add yourself to the \w+ group/ : /give your user access/);
    }
  }
});
