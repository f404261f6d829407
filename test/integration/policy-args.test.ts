/** Argument rules and learn mode on real guests (test/guests/policy_args.c), on real KVM. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { torov, guest, testRunOptions, scratchDir } from '../helpers';

const tmp = fs.realpathSync(scratchDir('torov-args-'));
function policy(name: string, doc: unknown): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, JSON.stringify(doc));
  return f;
}
const PA = guest('policy_args');
/** The result line of one operation in the guest's output. */
const line = (out: string, prefix: string): string => out.split('\n').find((l) => l.startsWith(`${prefix}: `))?.slice(prefix.length + 2) ?? `(no line for ${prefix})`;

// A tree: allowed/ (read-write), ro/ (read-only), and a secret outside both.
const allowed = path.join(tmp, 'allowed'), ro = path.join(tmp, 'ro'), secret = path.join(tmp, 'secret');
fs.mkdirSync(allowed);
fs.mkdirSync(ro);
fs.writeFileSync(secret, 'secret\n');
fs.writeFileSync(path.join(allowed, 'a'), 'a\n');
fs.writeFileSync(path.join(ro, 'f'), 'f\n');
fs.symlinkSync(secret, path.join(allowed, 'old-link'));

const PATH_CALLS = ['open', 'openat', 'newfstatat', 'stat', 'lstat', 'unlink', 'mkdir', 'rmdir', 'rename', 'symlink', 'access', 'readlink', 'chdir'];
const pathPolicy = policy('paths.json', {
  defaultAction: 'allow',
  syscalls: [
    { names: PATH_CALLS, action: 'deny', errno: 'EACCES', why: 'no files but those below' },
    { names: PATH_CALLS, action: 'allow', args: { paths: [`${allowed}/`], access: 'read-write' }, why: 'the work directory' },
    { names: PATH_CALLS, action: 'allow', args: { paths: [`${ro}/`], access: 'read-only' }, why: 'reference data' },
  ],
});

test('path rules: allowed paths work, others are refused before the host sees them, whatever the spelling', () => {
  const r = torov(['run', '--verbose', '--policy', pathPolicy, PA,
    'read', `${allowed}/a`,
    'read', secret,
    'read', `${allowed}/../secret`,
    'read', `${allowed}/./../allowed/../secret`,
    'read', `${allowed}/old-link`,
    'symlink', secret, `${allowed}/planted`,
    'read', `${allowed}/planted`,
    'lstat', `${allowed}/planted`,
    'readat', allowed, 'a',
    'readat', allowed, '../secret',
    'read', `${ro}/f`,
    'write', `${ro}/f`,
    'append', `${ro}/f`,
    'unlink', `${ro}/f`,
    'write', `${allowed}/new`,
    'mkdir', `${allowed}/d`,
    'rename', `${allowed}/new`, `${tmp}/moved`,
    'rename', `${allowed}/new`, `${allowed}/d/moved`,
    'stat', `${tmp}/missing`,
    'stat', `${allowed}/missing`,
    'stat', `${allowed}/missing/../../secret`,
    'chdir', allowed,
    'read', 'a',
    'read', '../secret',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const o = r.stdout;
  assert.equal(line(o, `read ${allowed}/a`), 'ok 2');
  assert.equal(line(o, `read ${secret}`), 'EACCES');
  assert.equal(line(o, `read ${allowed}/../secret`), 'EACCES');
  assert.equal(line(o, `read ${allowed}/./../allowed/../secret`), 'EACCES');
  assert.equal(line(o, `read ${allowed}/old-link`), 'EACCES', 'a symlink out of the allowed directory');
  assert.equal(line(o, `symlink ${secret} ${allowed}/planted`), 'ok 0', 'creating the link is allowed (its name is inside)');
  assert.equal(line(o, `read ${allowed}/planted`), 'EACCES', 'but following it is not');
  assert.equal(line(o, `lstat ${allowed}/planted`), 'ok 0', 'lstat looks at the link itself');
  assert.equal(line(o, `readat ${allowed} a`), 'ok 2');
  assert.equal(line(o, `readat ${allowed} ../secret`), 'EACCES', 'relative to a dirfd');
  assert.equal(line(o, `read ${ro}/f`), 'ok 2');
  assert.equal(line(o, `write ${ro}/f`), 'EACCES', 'read-only: no O_TRUNC|O_CREAT');
  assert.equal(line(o, `append ${ro}/f`), 'EACCES', 'read-only: no O_APPEND');
  assert.equal(line(o, `unlink ${ro}/f`), 'EACCES', 'read-only: no unlink');
  assert.equal(line(o, `write ${allowed}/new`), 'ok 1');
  assert.equal(line(o, `mkdir ${allowed}/d`), 'ok 0');
  assert.equal(line(o, `rename ${allowed}/new ${tmp}/moved`), 'EACCES', 'both names of a rename must be allowed');
  assert.equal(line(o, `rename ${allowed}/new ${allowed}/d/moved`), 'ok 0');
  assert.equal(line(o, `stat ${tmp}/missing`), 'EACCES', 'a path outside the rules is refused, existing or not');
  assert.equal(line(o, `stat ${allowed}/missing`), 'ENOENT');
  assert.equal(line(o, `stat ${allowed}/missing/../../secret`), 'EACCES', 'an unresolvable path is checked lexically');
  assert.equal(line(o, `chdir ${allowed}`), 'ok 0');
  assert.equal(line(o, 'read a'), 'ok 2', 'relative to the cwd');
  assert.equal(line(o, 'read ../secret'), 'EACCES');
  // The host never saw the refused calls.
  assert.equal(fs.readFileSync(path.join(ro, 'f'), 'utf8'), 'f\n');
  assert.ok(!fs.existsSync(path.join(tmp, 'moved')));
  assert.ok(fs.existsSync(path.join(allowed, 'd', 'moved')));
  // --verbose names the syscall, the argument and what was lacking.
  assert.match(r.stderr, new RegExp(`^torov: policy: open: path "${secret}" \\(read-only\\) is allowed by no rule of ${pathPolicy}: syscalls\\[2\\] allows only paths ${ro}/ \\(read-only\\), not "${secret}"; syscalls\\[1\\] allows only paths ${allowed}/ \\(read-write\\), not "${secret}": denied with EACCES$`, 'm'));
  assert.match(r.stderr, new RegExp(`^torov: policy: open: path "${ro}/f" \\(read-write\\) is allowed by no rule .*syscalls\\[2\\] allows "${ro}/f" read-only, and this call writes`, 'm'));
});

test('without --verbose a refused call is silent; a kill rule stops the VM and always says why', () => {
  const quiet = torov(['run', '--policy', pathPolicy, PA, 'read', secret]);
  assert.equal(quiet.stdout, `read ${secret}: EACCES\n`);
  assert.equal(quiet.stderr, '');
  const p = policy('kill.json', { defaultAction: 'allow', syscalls: [
    { names: ['open'], action: 'kill', why: 'only allowed/' },
    { names: ['open'], action: 'allow', args: { paths: [`${allowed}/`], access: 'read-only' } },
  ] });
  const r = torov(['run', '--policy', p, PA, 'read', `${allowed}/a`, 'read', secret, 'read', `${allowed}/a`]);
  assert.equal(r.status, 159);
  assert.equal(r.stdout, `read ${allowed}/a: ok 2\n`);
  assert.match(r.stderr, new RegExp(`^torov: policy: open: path "${secret}" \\(read-only\\) is allowed by no rule of ${p}: syscalls\\[1\\] allows only paths ${allowed}/ \\(read-only\\), not "${secret}": killed$`, 'm'));
});

test('fd rules: write only to fd 1', () => {
  const p = policy('fd.json', { defaultAction: 'allow', syscalls: [
    { names: ['write'], action: 'deny', errno: 'EBADF' },
    { names: ['write'], action: 'allow', args: { fd: [1] }, why: 'stdout only' },
  ] });
  const r = torov(['run', '--verbose', '--policy', p, PA, 'fdwrite', '1', 'fdwrite', '2']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'fd\nfdwrite 1: ok 3\nfdwrite 2: EBADF\n');
  assert.match(r.stderr, /^torov: policy: write: fd 2 is allowed by no rule of .*fd\.json: syscalls\[1\] allows only fd 1 \(not 2\): denied with EBADF$/m);
});

test('socket rules: domain and type, bind/connect/sendto/sendmsg addresses', () => {
  const p = policy('net.json', { defaultAction: 'allow', syscalls: [
    { names: ['socket', 'bind', 'connect', 'sendto', 'sendmsg'], action: 'deny', errno: 'EPERM' },
    { names: ['socket'], action: 'allow', args: { domain: ['inet', 'unix'], type: ['stream', 'dgram'] } },
    { names: ['bind'], action: 'allow', args: { addresses: ['127.0.0.1:0'] } },
    { names: ['connect'], action: 'allow', args: { addresses: ['127.0.0.1:1', `unix:${allowed}/`] } },
    { names: ['sendto', 'sendmsg'], action: 'allow', args: { addresses: ['127.0.0.0/8:9'] } },
  ] });
  const r = torov(['run', '--verbose', '--policy', p, PA,
    'socket', 'inet', 'stream', 'socket', 'inet6', 'stream', 'socket', 'unix', 'dgram',
    'bind', '127.0.0.1:0', 'bind', '0.0.0.0:0',
    'connect', '127.0.0.1:1', 'connect', '127.0.0.1:2', 'connect', `unix:${allowed}/nosock`, 'connect', `unix:${tmp}/nosock`,
    'sendto', '127.0.0.1:9', 'sendto', '127.0.0.1:10', 'sendmsg', '127.0.0.2:9', 'sendmsg', '127.0.0.1:10',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const o = r.stdout;
  assert.match(line(o, 'socket inet stream'), /^ok \d+$/);
  assert.equal(line(o, 'socket inet6 stream'), 'EPERM');
  assert.match(line(o, 'socket unix dgram'), /^ok \d+$/);
  assert.equal(line(o, 'bind 127.0.0.1:0'), 'ok 0');
  assert.equal(line(o, 'bind 0.0.0.0:0'), 'EPERM');
  assert.equal(line(o, 'connect 127.0.0.1:1'), 'ECONNREFUSED', 'allowed: the host refused it');
  assert.equal(line(o, 'connect 127.0.0.1:2'), 'EPERM');
  assert.equal(line(o, `connect unix:${allowed}/nosock`), 'ENOENT');
  assert.equal(line(o, `connect unix:${tmp}/nosock`), 'EPERM');
  assert.equal(line(o, 'sendto 127.0.0.1:9'), 'ok 1');
  assert.equal(line(o, 'sendto 127.0.0.1:10'), 'EPERM');
  assert.equal(line(o, 'sendmsg 127.0.0.2:9'), 'ok 1', 'a CIDR');
  assert.equal(line(o, 'sendmsg 127.0.0.1:10'), 'EPERM');
  assert.match(r.stderr, /^torov: policy: connect: address 127\.0\.0\.1:2, fd \d+ is allowed by no rule of .*net\.json: syscalls\[3\] allows only addresses 127\.0\.0\.1:1 unix:.*\/allowed\/, not 127\.0\.0\.1:2: denied with EPERM$/m);
  assert.match(r.stderr, /^torov: policy: socket: domain inet6 type stream protocol 0 is allowed by no rule .*: syscalls\[1\] allows only domain inet unix \(not inet6\)/m);
});

test('numeric comparisons: == and masked equality on an ioctl request', () => {
  const p = policy('ioctl.json', { defaultAction: 'allow', syscalls: [
    { names: ['ioctl'], action: 'deny', errno: 'EPERM' },
    { names: ['ioctl'], action: 'allow', args: { compare: [{ arg: 1, op: '&==', mask: '0xff00', value: '0x5400' }] }, why: 'terminal ioctls' },
    { names: ['ioctl'], action: 'deny', errno: 'EACCES', args: { compare: [{ arg: 1, op: '==', value: 0x5401 }, { arg: 0, op: '>=', value: 1 }] } },
  ] });
  const r = torov(['run', '--policy', p, PA, 'ioctl', '1', '0x5413', 'ioctl', '0', '0x5401', 'ioctl', '1', '0x5401', 'ioctl', '1', '0x8912']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(line(r.stdout, 'ioctl 1 0x5413'), 'ENOTTY', 'allowed: the host answered');
  assert.equal(line(r.stdout, 'ioctl 0 0x5401'), 'ENOTTY', 'the later deny rule needs fd >= 1');
  assert.equal(line(r.stdout, 'ioctl 1 0x5401'), 'EACCES', 'the later rule decides');
  assert.equal(line(r.stdout, 'ioctl 1 0x8912'), 'EPERM', 'outside the mask: the fallback');
});

test('torov policy check shows argument rules; convert says what a format cannot carry', () => {
  const c = torov(['policy', 'check', pathPolicy]);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /^decided by argument rules \(13\): .*\bopenat\b/m);
  assert.match(c.stdout, new RegExp(`^  syscalls\\[1\\] allow open stat .*openat newfstatat when paths ${allowed}/ \\(read-write\\)$`, 'm'));
  assert.match(c.stdout, /^  when none matches, deny with EACCES: open stat .*openat newfstatat$/m);
  const d = torov(['policy', 'convert', pathPolicy, '--to', 'docker']);
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stderr, /note: syscalls\[1\] \(allow open stat .*\) cannot be expressed in a Docker profile \(seccomp cannot read paths or addresses\): left out/);
  const back = torov(['policy', 'convert', pathPolicy, '--to', 'torov']);
  assert.equal(back.status, 0, back.stderr);
  const doc = JSON.parse(back.stdout) as { syscalls: { args?: { paths?: string[] } }[] };
  assert.deepEqual(doc.syscalls.filter((r) => r.args).map((r) => r.args!.paths), [[`${allowed}/`], [`${ro}/`]]);
  const t = torov(['policy', 'convert', pathPolicy, '--to', 'toroV', '--binary', PA]);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stderr, /note: argument rules cannot be expressed: .*openat.* get the action they have when no argument rule matches/);
});

test('torov policy learn: the learned policy passes the same run and refuses a new file or port', () => {
  const work = path.join(tmp, 'learn');
  fs.mkdirSync(work);
  fs.writeFileSync(path.join(work, 'in.txt'), 'in\n');
  fs.writeFileSync(path.join(work, 'other.txt'), 'other\n');
  const out = path.join(tmp, 'learned.json');
  const ops = ['read', `${work}/in.txt`, 'write', `${work}/out.txt`, 'stat', `${work}/missing`, 'fdwrite', '1',
    'socket', 'inet', 'dgram', 'connect', '127.0.0.1:1', 'sendto', '127.0.0.1:9'];
  const l = torov(['policy', 'learn', '--out', out, ...testRunOptions(), '--', PA, ...ops]);
  assert.equal(l.status, 0, l.stderr);
  assert.match(l.stderr, new RegExp(`^torov: policy learn: wrote ${out}: \\d+ syscalls, \\d+ argument rules`, 'm'));
  const learned = JSON.parse(fs.readFileSync(out, 'utf8')) as { defaultAction: string; syscalls: { names: string[]; args?: Record<string, unknown>; why: string }[] };
  assert.equal(learned.defaultAction, 'deny');
  assert.ok(learned.syscalls.some((r) => r.why === `open read-only of ${work}/in.txt, once`), JSON.stringify(learned.syscalls));
  assert.ok(learned.syscalls.some((r) => (r.args?.['paths'] as string[] | undefined)?.[0] === `${work}/out.txt` && r.args?.['access'] === 'read-write'));
  assert.ok(learned.syscalls.some((r) => JSON.stringify(r.args) === '{"addresses":["127.0.0.1:1"]}'));
  // printf wrote to fd 1 only; fd 2 stays allowed for the program's error messages.
  assert.ok(learned.syscalls.some((r) => r.names.includes('writev') && JSON.stringify(r.args) === '{"fd":[1,2]}'), 'printf writes to fd 1, and fd 2 stays allowed');
  assert.ok(learned.syscalls.some((r) => r.names.includes('write') && r.args === undefined), 'write went to fd 1 and to a file: no fd rule');
  const check = torov(['policy', 'check', out]);
  assert.equal(check.status, 0, check.stderr);

  // The same run under the learned policy: the same output.
  const again = torov(['run', '--policy', out, PA, ...ops]);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, l.stdout);
  assert.equal(again.stderr, '');

  // Something new is refused, and --verbose names the rule it lacked.
  const file = torov(['run', '--verbose', '--policy', out, PA, ...ops, 'read', `${work}/other.txt`]);
  assert.equal(line(file.stdout, `read ${work}/other.txt`), 'EPERM');
  assert.match(file.stderr, new RegExp(`^torov: policy: open: path "${work}/other.txt" \\(read-only\\) is allowed by no rule of ${out}: syscalls\\[\\d+\\] allows only paths `, 'm'));
  const port = torov(['run', '--verbose', '--policy', out, PA, ...ops, 'connect', '127.0.0.1:2']);
  assert.equal(line(port.stdout, 'connect 127.0.0.1:2'), 'EPERM');
  assert.match(port.stderr, /^torov: policy: connect: address 127\.0\.0\.1:2, fd \d+ is allowed by no rule of .*: syscalls\[\d+\] allows only addresses 127\.0\.0\.1:1, not 127\.0\.0\.1:2: denied with EPERM$/m);
});

test('torov policy learn generalises a crowded directory and says so; options are checked', () => {
  const dir = path.join(tmp, 'many');
  fs.mkdirSync(dir);
  const ops: string[] = [];
  for (const f of ['1', '2', '3', '4', '5']) { fs.writeFileSync(path.join(dir, f), f); ops.push('read', `${dir}/${f}`); }
  const out = path.join(tmp, 'many.json');
  const l = torov(['policy', 'learn', '-o', out, '--no-sandbox', PA, ...ops]);
  assert.equal(l.status, 0, l.stderr);
  assert.match(l.stderr, new RegExp(`^torov: policy learn: note: generalised 5 paths under ${dir}/ to the prefix ${dir}/ \\(read-only\\)`, 'm'));
  const doc = JSON.parse(fs.readFileSync(out, 'utf8')) as { syscalls: { args?: { paths?: string[] }; why: string }[] };
  const r = doc.syscalls.find((x) => x.args?.paths?.[0] === `${dir}/`);
  assert.match(r?.why ?? '', /^generalised: the run touched 5 entries under /);
  fs.writeFileSync(path.join(dir, '6'), '6');
  const six = torov(['run', '--policy', out, PA, 'read', `${dir}/6`, 'read', `${tmp}/secret`]);
  assert.equal(six.stdout, `read ${dir}/6: ok 1\nread ${tmp}/secret: EPERM\n`);

  const bad = torov(['policy', 'learn', '--policy', out, PA]);
  assert.equal(bad.status, 125);
  assert.equal(bad.stderr, 'torov: policy learn: --policy has no meaning here (learn mode allows and records every call; try: torov policy learn --help)\n');
  const none = torov(['policy', 'learn']);
  assert.equal(none.status, 125);
  assert.match(none.stderr, /^torov: policy learn: missing the program to run/);
  const help = torov(['policy', 'learn', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: torov policy learn \[--out FILE\]/);
});

test('torov policy learn: a run stopped by --timeout still leaves a policy of what it did until then', () => {
  const work = path.join(tmp, 'cut');
  fs.mkdirSync(work);
  fs.writeFileSync(path.join(work, 'in.txt'), 'in\n');
  const out = path.join(tmp, 'cut.json');
  const l = torov(['policy', 'learn', '-o', out, '--timeout', '1500ms', ...testRunOptions(), PA, 'read', `${work}/in.txt`, 'sleep', '30']);
  assert.equal(l.status, 124, l.stderr);
  assert.match(l.stderr, /^torov: policy learn: note: the run was stopped \(--timeout or a signal\) before the program ended/m);
  assert.match(l.stderr, new RegExp(`^torov: policy learn: wrote ${out}: `, 'm'));
  const doc = JSON.parse(fs.readFileSync(out, 'utf8')) as { description: string; syscalls: { why: string }[] };
  assert.match(doc.description, /\(a run cut short: what it did until then\)$/);
  assert.ok(doc.syscalls.some((r) => r.why === `open read-only of ${work}/in.txt, at least once`), JSON.stringify(doc.syscalls));
  const again = torov(['run', '--policy', out, PA, 'read', `${work}/in.txt`, 'sleep', '0']);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, `read ${work}/in.txt: ok 3\nsleep 0: ok 0\n`);
});

test('torov policy learn: a learned policy lets the program\'s own error message through', { skip: fs.existsSync('/bin/busybox') ? false : 'busybox-static is not installed' }, () => {
  const work = path.join(tmp, 'stderr');
  fs.mkdirSync(work);
  fs.writeFileSync(path.join(work, 'in.txt'), 'in\n');
  const out = path.join(tmp, 'stderr.json');
  // The learned run succeeds and writes only to stdout...
  const l = torov(['policy', 'learn', '-o', out, ...testRunOptions(), '/bin/busybox', 'cat', `${work}/in.txt`]);
  assert.equal(l.status, 0, l.stderr);
  assert.equal(l.stdout, 'in\n');
  // ...and a failing run under its policy still says why on stderr.
  const r = torov(['run', '--policy', out, ...testRunOptions(), '/bin/busybox', 'cat', `${work}/in.txt`]);
  assert.equal(r.stdout, 'in\n', r.stderr);
  fs.rmSync(path.join(work, 'in.txt'));
  const f = torov(['run', '--policy', out, ...testRunOptions(), '/bin/busybox', 'cat', `${work}/in.txt`]);
  assert.equal(f.status, 1);
  assert.match(f.stderr, /cat: can't open '.*in\.txt': No such file or directory/);
});
