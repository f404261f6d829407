/** Tests for argument rules: src/policy/args.ts (parsing, matching), their compilation (policy.ts), path resolution (argcheck.ts), learn mode's policy (learn.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseTorovPolicy } from '../../src/policy/torov-format';
import { ALLOW, CHECK, DENY, LOG, argumentRules, plainVerdict, verdict, widestVerdict } from '../../src/policy/policy';
import {
  addressMatches, compareHolds, decodeSockaddr, numericAlternatives, parseAddress, parseIpv6, pathEntry, pathMatches, type Compare,
} from '../../src/policy/args';
import { toTorovDocument } from '../../src/policy/convert';
import { toDockerProfile } from '../../src/policy/docker-profile';
import { Learner, formatPolicy } from '../../src/policy/learn';
import { foldPath, resolvePath } from '../../src/syscalls/argcheck';
import type { Kernel } from '../../src/syscalls/api';
import { errorOf, nr } from './policy-testing';
import { scratchDir } from '../helpers';


const rule = (names: string[], args: unknown, action = 'allow') => ({ syscalls: [{ names, action, args }] });

describe('argument rules: parsing errors name the field', () => {
  const cases: [string, unknown, RegExp][] = [
    ['args not an object', rule(['read'], []), /^app\.json: syscalls\[0\]\.args: must be an object of conditions .*\(got an array\)$/],
    ['empty args', rule(['read'], {}), /^app\.json: syscalls\[0\]\.args: empty: give at least one condition/],
    ['unknown condition', rule(['openat'], { path: ['/etc'] }), /^app\.json: syscalls\[0\]\.args\.path: unknown field \(did you mean "paths"\?\)$/],
    ['paths without access', rule(['openat'], { paths: ['/etc/passwd'] }), /^app\.json: syscalls\[0\]\.args\.access: required with "paths" \("read-only" or "read-write"\)$/],
    ['access without paths', rule(['openat'], { access: 'read-only' }), /^app\.json: syscalls\[0\]\.args\.access: only allowed with "paths"$/],
    ['bad access', rule(['openat'], { paths: ['/x'], access: 'read-onyl' }), /^app\.json: syscalls\[0\]\.args\.access: must be "read-only" or "read-write" \(got "read-onyl"\) \(did you mean "read-only"\?\)$/],
    ['relative path', rule(['openat'], { paths: ['etc/passwd'], access: 'read-only' }), /^app\.json: syscalls\[0\]\.args\.paths\[0\]: must be an absolute path \(got "etc\/passwd"\)$/],
    ['dot-dot in a path', rule(['openat'], { paths: ['/data/../etc'], access: 'read-only' }), /^app\.json: syscalls\[0\]\.args\.paths\[0\]: must not contain "\.\."/],
    ['path not a string', rule(['openat'], { paths: [1], access: 'read-only' }), /^app\.json: syscalls\[0\]\.args\.paths\[0\]: must be an absolute path \(got 1\)$/],
    ['paths on a call without paths', rule(['openat', 'read'], { paths: ['/x'], access: 'read-only' }), /^app\.json: syscalls\[0\]\.args\.paths: read takes no path torov checks/],
    ['paths on openat2', rule(['openat2'], { paths: ['/x'], access: 'read-only' }), /^app\.json: syscalls\[0\]\.args\.paths: openat2 cannot have path rules/],
    ['fd on a call without an fd', rule(['write', 'openat'], { fd: [1] }), /^app\.json: syscalls\[0\]\.args\.fd: openat has no file descriptor as its first argument; put it in a rule of its own$/],
    ['negative fd', rule(['write'], { fd: [-1] }), /^app\.json: syscalls\[0\]\.args\.fd\[0\]: must be a file descriptor number \(0 to 2147483647\) \(got -1\)$/],
    ['empty fd list', rule(['write'], { fd: [] }), /^app\.json: syscalls\[0\]\.args\.fd: must be a non-empty array of file descriptor numbers/],
    ['unknown domain', rule(['socket'], { domain: ['inet4'] }), /^app\.json: syscalls\[0\]\.args\.domain\[0\]: unknown domain "inet4" \(did you mean "inet"\?\)/],
    ['domain on connect', rule(['connect'], { domain: ['inet'] }), /^app\.json: syscalls\[0\]\.args\.domain: connect is not socket or socketpair/],
    ['type out of range', rule(['socket'], { type: [16] }), /^app\.json: syscalls\[0\]\.args\.type\[0\]: must be a type name such as "stream" or a number \(got 16\)$/],
    ['bad address', rule(['connect'], { addresses: ['localhost:80'] }), /^app\.json: syscalls\[0\]\.args\.addresses\[0\]: invalid address "localhost:80": "localhost" is not an IPv4 or IPv6 address/],
    ['bad port', rule(['connect'], { addresses: ['127.0.0.1:70000'] }), /^app\.json: syscalls\[0\]\.args\.addresses\[0\]: invalid address "127\.0\.0\.1:70000": port 70000/],
    ['ipv6 without brackets', rule(['connect'], { addresses: ['::1:80'] }), /addresses\[0\]: invalid address "::1:80"/],
    ['relative unix path', rule(['connect'], { addresses: ['unix:run/x'] }), /addresses\[0\]: invalid address "unix:run\/x": a unix path must be absolute/],
    ['addresses on socket', rule(['socket'], { addresses: ['127.0.0.1:80'] }), /^app\.json: syscalls\[0\]\.args\.addresses: socket takes no socket address/],
    ['compare: arg out of range', rule(['ioctl'], { compare: [{ arg: 6, op: '==', value: 1 }] }), /^app\.json: syscalls\[0\]\.args\.compare\[0\]\.arg: must be an argument index from 0 to 5 \(got 6\)$/],
    ['compare: bad op', rule(['ioctl'], { compare: [{ arg: 1, op: '=', value: 1 }] }), /^app\.json: syscalls\[0\]\.args\.compare\[0\]\.op: must be one of == != < <= > >= &== \(got "="\)$/],
    ['compare: value missing', rule(['ioctl'], { compare: [{ arg: 1, op: '==' }] }), /compare\[0\]\.value: required/],
    ['compare: value not a number', rule(['ioctl'], { compare: [{ arg: 1, op: '==', value: '0xZZ' }] }), /compare\[0\]\.value: must be a 64-bit integer/],
    ['compare: value too big', rule(['ioctl'], { compare: [{ arg: 1, op: '==', value: '0x10000000000000000' }] }), /compare\[0\]\.value: must be a 64-bit integer/],
    ['compare: mask without &==', rule(['ioctl'], { compare: [{ arg: 1, op: '==', value: 1, mask: 1 }] }), /compare\[0\]\.mask: only allowed with "&==" \(this comparison's op is "=="\)$/],
    ['compare: &== without mask', rule(['mmap'], { compare: [{ arg: 2, op: '&==', value: 0 }] }), /compare\[0\]\.mask: required with "&=="/],
    ['compare: value outside mask', rule(['mmap'], { compare: [{ arg: 2, op: '&==', mask: 4, value: 8 }] }), /compare\[0\]\.value: has bits outside the mask .*could never match$/],
    ['compare: unknown key', rule(['mmap'], { compare: [{ arg: 2, op: '==', value: 0, vlaue: 1 }] }), /compare\[0\]\.vlaue: unknown field \(did you mean "value"\?\)$/],
    ['args on an always-allowed call', rule(['brk'], { compare: [{ arg: 0, op: '==', value: 0 }] }), /^app\.json: syscalls\[0\]\.names\[0\]: brk is always allowed: it cannot have argument rules$/],
  ];
  for (const [what, doc, re] of cases) it(what, () => assert.match(errorOf(doc), re));
});

describe('argument rules: compilation', () => {
  const p = parseTorovPolicy({
    defaultAction: 'deny',
    syscalls: [
      { names: ['read'], action: 'allow' },
      { names: ['openat'], action: 'deny', errno: 'EACCES' },
      { names: ['openat'], action: 'allow', args: { paths: ['/etc/passwd'], access: 'read-only' }, why: 'passwd' },
      { names: ['write'], action: 'allow', args: { fd: [1, 2] } },
      { names: ['ioctl'], action: 'allow', args: { compare: [{ arg: 1, op: '==', value: 0x5413 }] } },
      { names: ['ioctl'], action: 'allow' },
    ],
  }, 'app.json');

  it('only syscalls with argument rules are CHECK; the rest stay one table read', () => {
    assert.equal(verdict(p, nr('read')), ALLOW);
    assert.equal(verdict(p, nr('openat')), CHECK);
    assert.equal(verdict(p, nr('write')), CHECK);
    assert.equal(verdict(p, nr('close')), DENY);
    assert.equal(p.argRules[nr('read')], undefined);
  });
  it('a later plain rule overrides earlier argument rules', () => {
    assert.equal(verdict(p, nr('ioctl')), ALLOW);
    assert.equal(p.argRules[nr('ioctl')], undefined);
  });
  it('the fallback is the plain rule before the argument rules, or the default', () => {
    assert.deepEqual(plainVerdict(p, nr('openat')), { code: DENY, errno: 13, why: undefined });
    assert.equal(plainVerdict(p, nr('write')).code, DENY);
    assert.equal(widestVerdict(p, nr('openat')), ALLOW);
    assert.deepEqual(argumentRules(p).map((r) => [r.rule.index, r.names]), [[2, ['openat']], [3, ['write']]]);
  });
  it('convert to torov keeps the rules; to docker turns numeric ones into SCMP args and names what it leaves out', () => {
    const back = parseTorovPolicy(toTorovDocument(p).doc, 'back.json');
    assert.equal(verdict(back, nr('openat')), CHECK);
    assert.deepEqual(back.argRules[nr('openat')]!.rules[0]!.args.paths, [{ path: '/etc/passwd', prefix: false }]);
    assert.deepEqual(plainVerdict(back, nr('openat')), { code: DENY, errno: 13, why: undefined });
    const d = toDockerProfile(p);
    const entries = (d.profile['syscalls'] as { names: string[]; args?: { index: number; value: number; op: string }[] }[]);
    const write = entries.filter((e) => e.names.includes('write'));
    assert.deepEqual(write.map((e) => e.args), [[{ index: 0, value: 1, valueTwo: 0, op: 'SCMP_CMP_EQ' }], [{ index: 0, value: 2, valueTwo: 0, op: 'SCMP_CMP_EQ' }]]);
    assert.ok(!entries.some((e) => e.names.includes('openat') && e.args), 'no path rule in the profile');
    assert.ok(d.notes.some((n) => /syscalls\[2\] \(allow openat when paths \/etc\/passwd \(read-only\)\) cannot be expressed in a Docker profile/.test(n)), d.notes.join('\n'));
  });
  it('policy check flags openat2 allowed next to path rules', () => {
    const { policyReport } = require('../../src/policy/convert') as typeof import('../../src/policy/convert');
    const loaded = (q: unknown) => ({ kind: 'torov', policy: parseTorovPolicy(q, 'app.json'), warnings: [] }) as unknown as import('../../src/policy/load').LoadedPolicy;
    const rules = [{ names: ['openat'], action: 'allow', args: { paths: ['/data/'], access: 'read-only' } }];
    const risky = policyReport(loaded({ defaultAction: 'allow', syscalls: rules }));
    assert.ok(risky.some((l) => /! allows openat2, which cannot have path rules/.test(l)), risky.join('\n'));
    const safe = policyReport(loaded({ defaultAction: 'deny', syscalls: rules }));
    assert.ok(!safe.some((l) => /openat2/.test(l)), safe.join('\n'));
  });
  it('numericAlternatives: one alternative per value, types masked', () => {
    const alts = numericAlternatives({ domain: [2, 10], type: [1] });
    assert.equal(alts.length, 2);
    assert.deepEqual(alts[1], [{ arg: 0, op: '==', value: 10n }, { arg: 1, op: '&==', mask: 15n, value: 1n }]);
  });
});

describe('argument rules: numeric comparisons', () => {
  const c = (op: Compare['op'], value: bigint, mask?: bigint): Compare => ({ arg: 0, op, value, ...(mask !== undefined ? { mask } : {}) });
  it('compare as unsigned 64-bit, like seccomp', () => {
    assert.ok(compareHolds(c('==', 5n), 5n));
    assert.ok(!compareHolds(c('==', 5n), 6n));
    assert.ok(compareHolds(c('!=', 5n), 6n));
    assert.ok(compareHolds(c('<', 5n), 4n) && !compareHolds(c('<', 5n), 5n));
    assert.ok(compareHolds(c('<=', 5n), 5n) && !compareHolds(c('<=', 5n), 6n));
    assert.ok(compareHolds(c('>', 5n), 6n) && !compareHolds(c('>', 5n), 5n));
    assert.ok(compareHolds(c('>=', 5n), 5n) && !compareHolds(c('>=', 5n), 4n));
    // -1 in a register is the largest unsigned value.
    assert.ok(compareHolds(c('>', 5n), 0xffffffffffffffffn));
  });
  it('masked equality', () => {
    assert.ok(compareHolds(c('&==', 0n, 4n), 3n));      // PROT_EXEC bit clear
    assert.ok(!compareHolds(c('&==', 0n, 4n), 7n));
    assert.ok(compareHolds(c('&==', 4n, 6n), 0xfcn));
  });
  it('negative and hex values in a policy become their 64-bit patterns', () => {
    const p = parseTorovPolicy(rule(['ioctl'], { compare: [{ arg: 0, op: '==', value: -100 }, { arg: 1, op: '&==', mask: '0xff00', value: '0x5400' }] }), 'app.json');
    const cmp = p.argRules[nr('ioctl')]!.rules[0]!.args.compare!;
    assert.equal(cmp[0]!.value, 0xffffffffffffff9cn);
    assert.equal(cmp[1]!.mask, 0xff00n);
  });
});

describe('argument rules: paths', () => {
  it('exact entries and directory prefixes', () => {
    assert.ok(pathMatches(pathEntry('/etc/passwd'), '/etc/passwd'));
    assert.ok(!pathMatches(pathEntry('/etc/passwd'), '/etc/passwd2'));
    assert.ok(!pathMatches(pathEntry('/etc/passwd'), '/etc/passwd/x'));
    assert.ok(pathMatches(pathEntry('/data/'), '/data'));
    assert.ok(pathMatches(pathEntry('/data/'), '/data/a/b'));
    assert.ok(!pathMatches(pathEntry('/data/'), '/database'));
    assert.ok(pathMatches(pathEntry('/'), '/anything'));
    assert.deepEqual(pathEntry('//data/./x//'), { path: '/data/x', prefix: true });
  });
  it('lexical folding', () => {
    assert.equal(foldPath('/a/b/../../../etc/./shadow'), '/etc/shadow');
    assert.equal(foldPath('/allowed/../etc/shadow'), '/etc/shadow');
  });

  // Real resolution on the host's filesystem (as the VMM does it, without a sandbox).
  const dir = fs.realpathSync(scratchDir('torov-resolve-'));
  fs.mkdirSync(path.join(dir, 'allowed'));
  fs.writeFileSync(path.join(dir, 'secret'), 's');
  fs.writeFileSync(path.join(dir, 'allowed', 'a'), 'a');
  fs.symlinkSync(path.join(dir, 'secret'), path.join(dir, 'allowed', 'link'));
  fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'allowed', 'dangling'));
  fs.symlinkSync('..', path.join(dir, 'allowed', 'up'));
  const dirFd = fs.openSync(path.join(dir, 'allowed'), 'r');
  const k = { fds: { get: (fd: number) => (fd === 7 ? dirFd : -1) } } as unknown as Kernel;
  const AT_FDCWD = -100;

  it('resolves ".." and symlinks before matching', () => {
    assert.equal(resolvePath(k, AT_FDCWD, `${dir}/allowed/../secret`, true).check, `${dir}/secret`);
    assert.equal(resolvePath(k, AT_FDCWD, `${dir}/allowed/link`, true).check, `${dir}/secret`);
    assert.equal(resolvePath(k, AT_FDCWD, `${dir}/allowed/up/secret`, true).check, `${dir}/secret`);
    const r = resolvePath(k, AT_FDCWD, `${dir}/allowed/a`, true);
    assert.deepEqual(r, { check: `${dir}/allowed/a`, host: `${dir}/allowed/a` });
  });
  it('a call that does not follow the last symlink checks the link itself', () => {
    assert.equal(resolvePath(k, AT_FDCWD, `${dir}/allowed/link`, false).check, `${dir}/allowed/link`);
  });
  it('relative to a dirfd; a new file is its real directory plus its name', () => {
    assert.equal(resolvePath(k, 7, 'a', true).check, `${dir}/allowed/a`);
    assert.equal(resolvePath(k, 7, '../secret', true).check, `${dir}/secret`);
    assert.deepEqual(resolvePath(k, 7, 'new', true), { check: `${dir}/allowed/new`, host: `${dir}/allowed/new` });
    assert.equal(resolvePath(k, 9, 'a', true).errno, 9);   // EBADF
  });
  it('a dangling symlink or a missing directory fails with the errno, checked lexically', () => {
    const d = resolvePath(k, AT_FDCWD, `${dir}/allowed/dangling`, true);
    assert.equal(d.errno, 2);
    assert.equal(d.check, `${dir}/allowed/dangling`);
    const m = resolvePath(k, AT_FDCWD, `${dir}/allowed/missing/../../secret`, true);
    assert.equal(m.errno, 2);
    assert.equal(m.check, `${dir}/secret`);
  });
  it('a trailing slash stays for the host', () => {
    assert.equal(resolvePath(k, AT_FDCWD, `${dir}/allowed/`, true).host, `${dir}/allowed/`);
  });
});

describe('argument rules: socket addresses', () => {
  const inet = (a: string, port: number) => decodeSockaddr(Uint8Array.from([2, 0, port >> 8, port & 0xff, ...a.split('.').map(Number), 0, 0, 0, 0, 0, 0, 0, 0]), 16);
  it('IPv4: exact, CIDR, port ranges, any port', () => {
    assert.ok(addressMatches(parseAddress('127.0.0.1:8080'), inet('127.0.0.1', 8080)));
    assert.ok(!addressMatches(parseAddress('127.0.0.1:8080'), inet('127.0.0.1', 8081)));
    assert.ok(!addressMatches(parseAddress('127.0.0.1:8080'), inet('127.0.0.2', 8080)));
    assert.ok(addressMatches(parseAddress('10.0.0.0/8:443'), inet('10.200.3.4', 443)));
    assert.ok(!addressMatches(parseAddress('10.0.0.0/8:443'), inet('11.0.0.1', 443)));
    assert.ok(addressMatches(parseAddress('192.168.0.0/23:*'), inet('192.168.1.9', 1)));
    assert.ok(!addressMatches(parseAddress('192.168.0.0/23:*'), inet('192.168.2.9', 1)));
    assert.ok(addressMatches(parseAddress('0.0.0.0/0:8000-8999'), inet('1.2.3.4', 8500)));
    assert.ok(!addressMatches(parseAddress('0.0.0.0/0:8000-8999'), inet('1.2.3.4', 9000)));
  });
  it('IPv6, and families never mix', () => {
    const six = new Uint8Array(28);
    six[0] = 10; six[2] = 0x1f; six[3] = 0x90; six[23] = 1;   // [::1]:8080
    const a = decodeSockaddr(six, 28);
    assert.ok(addressMatches(parseAddress('[::1]:8080'), a));
    assert.ok(addressMatches(parseAddress('[::]/0:*'), a));
    assert.ok(!addressMatches(parseAddress('127.0.0.1:8080'), a));
    assert.ok(!addressMatches(parseAddress('[::1]:8080'), inet('127.0.0.1', 8080)));
    assert.deepEqual(Array.from(parseIpv6('::ffff:1.2.3.4')!), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
    assert.deepEqual(Array.from(parseIpv6('fe80::1:2')!.subarray(0, 2)), [0xfe, 0x80]);
    assert.equal(parseIpv6('1::2::3'), undefined);
  });
  it('unix: exact, prefix, abstract, unnamed', () => {
    const un = (p: string) => { const b = Buffer.alloc(110); b.writeUInt16LE(1, 0); b.write(p, 2, 'latin1'); return decodeSockaddr(b, 2 + p.length + 1); };
    assert.deepEqual(un('/run/app.sock'), { family: 'unix', path: '/run/app.sock' });
    assert.ok(addressMatches(parseAddress('unix:/run/app.sock'), un('/run/app.sock')));
    assert.ok(!addressMatches(parseAddress('unix:/run/app.sock'), un('/run/other.sock')));
    assert.ok(addressMatches(parseAddress('unix:/run/'), un('/run/other.sock')));
    const abstract = decodeSockaddr(Buffer.from('\x01\x00\x00name', 'latin1'), 7);
    assert.deepEqual(abstract, { family: 'unix', path: '@name' });
    assert.ok(addressMatches(parseAddress('unix:@name'), abstract));
    assert.ok(!addressMatches(parseAddress('unix:/run/'), abstract));
    assert.ok(addressMatches(parseAddress('unix:'), decodeSockaddr(Buffer.from([1, 0]), 2)));
  });
});

describe('learn mode: the learned policy', () => {
  const l = new Learner();
  for (let i = 0; i < 3; i++) { l.call('openat'); l.path('openat', '/etc/passwd', false, false); }
  for (const f of ['a', 'b', 'c', 'd']) { l.call('openat'); l.path('openat', `/srv/data/${f}`, f === 'd', false); }
  l.call('newfstatat'); l.path('newfstatat', '', false, true);
  l.call('write'); l.fd('write', 1);
  l.call('writev'); l.fd('writev', 1); l.fd('writev', 4);
  l.call('socket'); l.socket('socket', 2, 1, 0);
  l.call('connect'); l.address('connect', '127.0.0.1:8080');
  l.call('rseq');
  l.call('exit_group');
  const out = l.policy({ command: ['./prog', 'x'], implemented: (n) => n !== 'rseq' });
  const doc = out.doc as { syscalls: { names: string[]; action: string; errno?: string; args?: Record<string, unknown>; why: string }[] };
  const find = (pred: (r: (typeof doc.syscalls)[number]) => boolean) => doc.syscalls.find(pred);

  it('is a valid torov policy that says why for every rule', () => {
    const p = parseTorovPolicy(JSON.parse(formatPolicy(out.doc)), 'learned.json');
    assert.equal(p.defaultAction, 'deny');
    for (const r of doc.syscalls) assert.ok(r.why.length > 5, JSON.stringify(r));
  });
  it('exact paths with their use', () => {
    const r = find((x) => (x.args?.['paths'] as string[] | undefined)?.[0] === '/etc/passwd');
    assert.deepEqual(r?.args, { paths: ['/etc/passwd'], access: 'read-only' });
    assert.equal(r?.why, 'openat read-only of /etc/passwd, 3 times');
  });
  it('many files in one directory become a prefix, said in the why and a note', () => {
    const r = find((x) => (x.args?.['paths'] as string[] | undefined)?.[0] === '/srv/data/');
    assert.equal(r?.args?.['access'], 'read-write');
    assert.match(r!.why, /^generalised: the run touched 4 entries under \/srv\/data\/ \(a, b, c, d\)/);
    assert.ok(out.notes.some((n) => n.startsWith('generalised 4 paths under /srv/data/')), out.notes.join('\n'));
  });
  it('fd-only uses, sockets, addresses, fds, ENOSYS', () => {
    assert.deepEqual(find((x) => x.names.includes('newfstatat'))?.args, { paths: [], access: 'read-only' });
    assert.deepEqual(find((x) => x.names.includes('socket'))?.args, { domain: ['inet'], type: ['stream'], protocol: [0] });
    assert.deepEqual(find((x) => x.names.includes('connect'))?.args, { addresses: ['127.0.0.1:8080'] });
    // fd 2 too: a failing program's own error messages must still reach stderr.
    assert.deepEqual(find((x) => x.names.includes('write'))?.args, { fd: [1, 2] });
    assert.match(find((x) => x.names.includes('write'))!.why, /and fd 2 for the program's error messages/);
    const wv = find((x) => x.names.includes('writev'));
    assert.equal(wv?.args, undefined, 'fd 4 is not a standard fd: no fd rule');
    assert.deepEqual(find((x) => x.names.includes('rseq')), { names: ['rseq'], action: 'deny', errno: 'ENOSYS', why: 'not implemented by torov: the run got ENOSYS (rseq once)' });
  });
  it('never generalises to a top-level directory', () => {
    const t = new Learner();
    for (const f of ['a', 'b', 'c', 'd', 'e']) { t.call('openat'); t.path('openat', `/etc/${f}`, false, false); }
    const d = t.policy({ command: ['p'], implemented: () => true }).doc as { syscalls: { args?: { paths?: string[] } }[] };
    assert.equal(d.syscalls.filter((r) => r.args?.paths).length, 5);
  });
});

describe('argument rules: a deny rule refines an allow', () => {
  it('the last matching rule decides', () => {
    const p = parseTorovPolicy({ defaultAction: 'allow', syscalls: [
      { names: ['openat'], action: 'log', args: { paths: ['/'], access: 'read-write' } },
      { names: ['openat'], action: 'deny', errno: 'EACCES', args: { paths: ['/etc/shadow'], access: 'read-write' } },
    ] }, 'app.json');
    const rules = p.argRules[nr('openat')]!;
    assert.equal(rules.fallbackCode, ALLOW);
    assert.deepEqual(rules.rules.map((r) => r.code), [LOG, DENY]);
  });
});

describe('argument rules: the host gets the copy that was checked (no time-of-check/time-of-use gap)', () => {
  // A guest whose path changes between two reads of its memory (as another thread could
  // change it): the first read says an allowed file, every later one the secret.
  const dir = fs.realpathSync(scratchDir('torov-toctou-'));
  const ok = path.join(dir, 'ok'), secret = path.join(dir, 'secret');
  fs.writeFileSync(ok, 'ok');
  fs.writeFileSync(secret, 'secret');
  const { HANDLERS } = require('../../src/syscalls/handlers') as typeof import('../../src/syscalls/handlers');
  const { evaluate, unpin } = require('../../src/syscalls/argcheck') as typeof import('../../src/syscalls/argcheck');
  const p = parseTorovPolicy({ defaultAction: 'deny', syscalls: [{ names: ['openat'], action: 'allow', args: { paths: [ok], access: 'read-only' } }] }, 'app.json');
  const opened: number[] = [];
  let reads = 0;
  const k = {
    mem: { readCString: () => Buffer.from(reads++ === 0 ? ok : secret) },
    fds: { get: () => -1, add: (h: number) => { opened.push(h); return 3; } },
    note: () => undefined, pid: process.pid, exe: '/prog',
  } as unknown as Kernel;
  const regs = [-100, 0x1000, 0, 0, 0, 0];
  const a = { i: (n: number) => regs[n]!, u: (n: number) => regs[n]! >>> 0, n: (n: number) => regs[n]!, ptr: (n: number) => regs[n]!, big: (n: number) => BigInt.asUintN(64, BigInt(regs[n]!)) };
  const nameOf = (fd: number) => fs.readlinkSync(`/proc/self/fd/${fd}`);

  it('the handler opens the checked path, not what guest memory says now', () => {
    const o = evaluate(k, nr('openat'), a, p.argRules[nr('openat')]!, 'app.json');
    assert.equal(o.code, ALLOW);
    assert.equal(reads, 1, 'the path was read once for the check');
    try {
      assert.equal(HANDLERS[nr('openat')]!(k, a), 3);
    } finally { unpin(); }
    assert.equal(reads, 1, 'the handler did not read guest memory again');
    assert.equal(nameOf(opened[0]!), ok);
    fs.closeSync(opened[0]!);
  });
  it('(without the pinned copy the handler would have opened the secret: the test can fail)', () => {
    assert.equal(HANDLERS[nr('openat')]!(k, a), 3);
    assert.equal(nameOf(opened[1]!), secret);
    fs.closeSync(opened[1]!);
  });
});

describe('argument rules: a call that fails after its checks leaves nothing pinned', () => {
  it('rename whose second path cannot be resolved', () => {
    const { evaluate } = require('../../src/syscalls/argcheck') as typeof import('../../src/syscalls/argcheck');
    const { PINNED_PATHS } = require('../../src/syscalls/fs') as typeof import('../../src/syscalls/fs');
    const dir = fs.realpathSync(scratchDir('torov-pin-'));
    fs.writeFileSync(path.join(dir, 'a'), 'a');
    const p = parseTorovPolicy({ defaultAction: 'deny', syscalls: [{ names: ['rename'], action: 'allow', args: { paths: [`${dir}/`], access: 'read-write' } }] }, 'app.json');
    const mem: Record<number, string> = { 0x1000: `${dir}/a`, 0x2000: `${dir}/missing/b` };
    const k = { mem: { readCString: (ptr: number) => Buffer.from(mem[ptr]!) }, fds: { get: () => -1 } } as unknown as Kernel;
    const regs = [0x1000, 0x2000, 0, 0, 0, 0];
    const a = { i: (n: number) => regs[n]!, u: (n: number) => regs[n]!, n: (n: number) => regs[n]!, ptr: (n: number) => regs[n]!, big: (n: number) => BigInt(regs[n]!) };
    const o = evaluate(k, nr('rename'), a, p.argRules[nr('rename')]!, 'app.json');
    assert.equal(o.result, -2, 'ENOENT, without running the handler');
    assert.deepEqual(PINNED_PATHS, [undefined, undefined]);
  });
});
