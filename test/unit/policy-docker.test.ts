/** Tests for src/policy/docker-profile.ts and src/policy/convert.ts: Docker profiles, check reports, conversions. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDockerProfile, parseDockerProfile, toDockerProfile } from '../../src/policy/docker-profile';
import { policyReport, toTorovConfigDocument, toTorovDocument } from '../../src/policy/convert';
import { parsePolicyText } from '../../src/policy/load';
import { parseTorovPolicy } from '../../src/policy/torov-format';
import { parseTorovConfig } from '../../src/policy/torov-config';
import { defaultPolicy } from '../../src/policy/default';
import { PolicyError } from '../../src/policy/errors';
import { ALLOW, CHECK, DENY, KILL, LOG, denyErrno, plainVerdict, verdict, type Policy } from '../../src/policy/policy';
import { linuxSyscalls } from '../../src/policy/syscall-table';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURE = path.join(ROOT, 'test/fixtures/docker-default-style.json');
const table = linuxSyscalls();
const nr = (n: string): number => table.nrOf(n)!;
const docker = (doc: unknown, kernelRelease = '6.8.0-generic') => parseDockerProfile(doc, 'p.json', table, { kernelRelease });

/** True if two policies give every syscall of the table the same verdict (and errno for deny). */
function sameVerdicts(a: Policy, b: Policy): void {
  for (const name of table.names) {
    const n = nr(name);
    assert.equal(verdict(b, n), verdict(a, n), `verdict of ${name}`);
    if (verdict(a, n) === DENY) assert.equal(denyErrno(b, n), denyErrno(a, n), `errno of ${name}`);
  }
  assert.equal(b.defaultCode, a.defaultCode);
}

describe('Docker seccomp profiles', () => {
  it('detects the format by its SCMP_ACT_ default action', () => {
    assert.equal(isDockerProfile({ defaultAction: 'SCMP_ACT_ERRNO' }), true);
    assert.equal(isDockerProfile({ defaultAction: 'deny' }), false);
    assert.equal(isDockerProfile({ Binary: 'x' }), false);
    const r = parsePolicyText(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW' }), 'p.json');
    assert.equal(r.kind, 'docker');
  });

  it('reads a default-style profile of several hundred names', () => {
    const r = parseDockerProfile(JSON.parse(fs.readFileSync(FIXTURE, 'utf8')), FIXTURE, table, { kernelRelease: '6.8.0' });
    const p = r.policy;
    assert.equal(verdict(p, nr('read')), ALLOW);
    assert.equal(verdict(p, nr('writev')), ALLOW);
    assert.equal(verdict(p, nr('mount')), DENY, 'includes.caps CAP_SYS_ADMIN is never granted');
    assert.equal(denyErrno(p, nr('mount')), 1);
    assert.equal(verdict(p, nr('personality')), CHECK, 'allowed for a few values: exact argument rules');
    assert.equal(plainVerdict(p, nr('personality')).code, DENY, 'other values: the default');
    assert.equal(p.argRules[nr('personality')]!.rules.length, 4);
    assert.equal(verdict(p, nr('clone')), CHECK);
    assert.equal(verdict(p, nr('clone3')), DENY);
    assert.equal(denyErrno(p, nr('clone3')), 38, 'errnoRet ENOSYS, excludes.caps satisfied');
    assert.equal(verdict(p, nr('modify_ldt')), ALLOW, 'includes.arches amd64 holds');
    assert.equal(verdict(p, nr('ptrace')), ALLOW, 'minKernel 4.8 holds on 6.8');
    assert.equal(verdict(p, nr('io_uring_setup')), DENY, 'excludes.minKernel 4.1 holds on 6.8');
    assert.ok(!r.approximations.some((a) => a.startsWith('personality:') || a.startsWith('clone:')), r.approximations.join('\n'));
    assert.ok(r.warnings.some((w) => /unknown on x86-64.*\b_llseek\b/.test(w)), r.warnings.join('\n'));
    // An older kernel: ptrace's entry no longer applies, io_uring's does.
    const old = parseDockerProfile(JSON.parse(fs.readFileSync(FIXTURE, 'utf8')), FIXTURE, table, { kernelRelease: '4.0.9' });
    assert.equal(verdict(old.policy, nr('ptrace')), DENY);
    assert.equal(verdict(old.policy, nr('io_uring_setup')), ALLOW);
  });

  it('maps every action', () => {
    const r = docker({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['ptrace'], action: 'SCMP_ACT_KILL' },
        { names: ['bpf'], action: 'SCMP_ACT_KILL_THREAD' },
        { name: 'reboot', action: 'SCMP_ACT_TRAP' },
        { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['unshare'], action: 'SCMP_ACT_TRACE', errnoRet: 5 },
        { names: ['setns'], action: 'SCMP_ACT_NOTIFY' },
        { names: ['getpid'], action: 'SCMP_ACT_LOG' },
      ],
    });
    const p = r.policy;
    assert.equal(verdict(p, nr('ptrace')), KILL);
    assert.equal(verdict(p, nr('bpf')), KILL);
    assert.equal(verdict(p, nr('reboot')), KILL);
    assert.equal(verdict(p, nr('mount')), DENY);
    assert.equal(denyErrno(p, nr('mount')), 13);
    assert.equal(denyErrno(p, nr('unshare')), 1);
    assert.equal(denyErrno(p, nr('setns')), 1);
    assert.equal(verdict(p, nr('getpid')), LOG);
    assert.equal(verdict(p, nr('read')), ALLOW);
    assert.equal(r.approximations.length, 3, r.approximations.join('\n'));
  });

  it('uses defaultErrnoRet for the default and for errno entries without errnoRet', () => {
    const p = docker({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }] }).policy;
    assert.equal(denyErrno(p, nr('read')), 38);
    assert.equal(denyErrno(p, nr('mount')), 38);
  });

  it('entries with conditions become exact argument rules when they cannot conflict', () => {
    const r = docker({
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    });
    assert.deepEqual(r.approximations, []);
    const set = r.policy.argRules[nr('clone')]!;
    assert.deepEqual(set.rules[0]!.args.compare, [{ arg: 0, op: '&==', mask: 0x7e020000n, value: 0n }]);
    assert.equal(set.fallbackCode, DENY);
    assert.deepEqual(r.policy.argRules[nr('personality')]!.rules.map((x) => x.args.compare![0]!.value), [0n, 8n]);
  });

  it('entries that could conflict (a plain entry too): the most restrictive action, as an approximation', () => {
    const r = docker({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['socket'], action: 'SCMP_ACT_LOG' },
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 40, op: 'SCMP_CMP_EQ' }] },
      ],
    });
    assert.equal(verdict(r.policy, nr('socket')), DENY);
    assert.equal(denyErrno(r.policy, nr('socket')), 97);
    assert.match(r.approximations[0] ?? '', /^socket: .*arg0 == 0x28.*gets deny \(EAFNOSUPPORT\)$/);
  });

  it('rejects malformed fields with one line naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [{ defaultAction: 'SCMP_ACT_BOGUS' }, /^p\.json: defaultAction: must be one of/],
      [{ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 0 }, /^p\.json: defaultErrnoRet: /],
      [{ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }, /^p\.json: syscalls\[0\]\.names: required/],
      [{ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 7, value: 0, op: 'SCMP_CMP_EQ' }] }] }, /syscalls\[0\]\.args\[0\]\.index/],
      [{ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'EQ' }] }] }, /syscalls\[0\]\.args\[0\]\.op/],
      [{ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'new' } }] }, /syscalls\[0\]\.includes\.minKernel/],
    ];
    for (const [doc, re] of bad) {
      assert.throws(() => docker(doc), (e: unknown) => e instanceof PolicyError && re.test(e.message) && !e.message.includes('\n'));
    }
  });

  it('warns about unknown fields and a profile without x86-64', () => {
    const r = docker({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_AARCH64'], extra: 1, syscalls: [{ names: ['nosuchcall'], action: 'SCMP_ACT_ERRNO' }] });
    assert.equal(r.warnings.length, 3, r.warnings.join('\n'));
  });
});

describe('policy check report', () => {
  it('lists the riskiest grants first, allowed syscalls by area and the approximations', () => {
    const doc = { defaultAction: 'allow', network: 'host', writable: true, newPid: false, syscalls: [{ names: ['ptrace'], action: 'kill' }] };
    const lines = policyReport({ kind: 'torov', policy: parseTorovPolicy(doc, '/x/p.json'), warnings: [] });
    const risks = lines.filter((l) => l.startsWith('  ! '));
    assert.match(risks[0] ?? '', /default action allow/);
    assert.ok(risks.some((l) => /network: "host"/.test(l)));
    assert.ok(risks.some((l) => /writable root/.test(l)));
    assert.ok(risks.some((l) => /newPid: false/.test(l)));
    assert.ok(risks.some((l) => /allows mount/.test(l)));
    assert.ok(!risks.some((l) => /allows ptrace/.test(l)));
    assert.ok(lines.includes('kill (1): ptrace'));
    assert.ok(lines.some((l) => /^ {2}file \(\d+\): .*\bopenat\b/.test(l)));
  });

  it('reports nothing risky for a tight policy', () => {
    const lines = policyReport({ kind: 'torov', policy: parseTorovPolicy({ syscalls: [{ names: ['writev'], action: 'allow' }] }, 'p.json'), warnings: [] });
    assert.ok(lines.includes('  none found'), lines.join('\n'));
    assert.ok(lines.some((l) => /^ {2}io \(1\): writev$/.test(l)));
  });
});

describe('policy conversion', () => {
  const policies: [string, Policy][] = [
    ['default', defaultPolicy()],
    ['mixed', parseTorovPolicy({ defaultAction: 'deny', defaultErrno: 'EACCES', syscalls: [
      { names: ['read', 'write'], action: 'allow' }, { names: ['mount'], action: 'kill' }, { names: ['getpid'], action: 'log' },
      { names: ['openat'], action: 'deny', errno: 'ENOENT' }] }, 'p.json')],
    ['allow-default', parseTorovPolicy({ defaultAction: 'allow', syscalls: [{ names: ['ptrace'], action: 'kill' }, { names: ['bpf'], action: 'deny' }] }, 'p.json')],
    ['log-default', parseTorovPolicy({ defaultAction: 'log', syscalls: [{ names: ['ptrace'], action: 'deny', errno: 'EIO' }] }, 'p.json')],
  ];
  for (const [name, p] of policies) {
    it(`torov -> docker -> torov keeps the verdicts (${name})`, () => {
      const d = toDockerProfile(p);
      const back = docker(JSON.parse(JSON.stringify(d.profile)));
      assert.deepEqual(back.approximations, []);
      sameVerdicts(p, back.policy);
      const t = toTorovDocument(back.policy);
      sameVerdicts(p, parseTorovPolicy(JSON.parse(JSON.stringify(t.doc)), 'q.json'));
    });
  }

  it('keeps memory and sandbox settings in torov\'s format, and drops them (with a note) in Docker\'s', () => {
    const p = parseTorovPolicy({ memory: '64M', network: 'host', tmp: true, syscalls: [{ names: ['read'], action: 'allow', why: 'r' }] }, '/a/p.json');
    const t = toTorovDocument(p).doc as Record<string, unknown>;
    assert.equal(t.memory, 64 * 2 ** 20);
    assert.equal(t.network, 'host');
    assert.equal(t.tmp, true);
    const again = parseTorovPolicy(JSON.parse(JSON.stringify(t)), '/a/q.json');
    assert.equal(again.why[nr('read')], 'r');
    assert.equal(toDockerProfile(p).notes.length, 2);
  });

  it('writes a ToroV configuration and says what is lost', () => {
    const p = parseTorovPolicy({ defaultAction: 'deny', root: '/srv/root', syscalls: [
      { names: ['write'], action: 'allow' }, { names: ['getpid'], action: 'log' }, { names: ['mount'], action: 'kill' }] }, '/a/p.json');
    const r = toTorovConfigDocument(p, '/srv/bin/app', '/srv');
    const doc = r.doc as { Binary: string; MountPoint: string; Hypercalls: { Name: string }[] };
    assert.equal(doc.Binary, 'bin/app');
    assert.equal(doc.MountPoint, 'root');
    assert.ok(doc.Hypercalls.some((h) => h.Name === 'Write'));
    assert.ok(doc.Hypercalls.some((h) => h.Name === 'Getpid'));
    assert.ok(r.notes.some((n) => /log/.test(n)));
    assert.ok(r.notes.some((n) => /kill/.test(n)));
    const back = parseTorovConfig(JSON.parse(JSON.stringify(doc)), '/srv/app.json');
    assert.equal(verdict(back.policy, nr('write')), ALLOW);
    assert.equal(verdict(back.policy, nr('getpid')), ALLOW);
    assert.equal(verdict(back.policy, nr('mount')), DENY);
    assert.equal(back.binary, '/srv/bin/app');
  });
});
