/** Tests for src/policy/load.ts: reading files, format detection, describePolicy. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describePolicy, describeRules, formatSize, loadPolicyFile } from '../../src/policy/load';
import { PolicyError } from '../../src/policy/errors';
import { defaultPolicy } from '../../src/policy/default';
import { parseTorovPolicy } from '../../src/policy/torov-format';
import { ALLOW, verdict } from '../../src/policy/policy';
import { linuxSyscalls } from '../../src/policy/syscall-table';

let dir = '';
const write = (name: string, text: string): string => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

describe('loadPolicyFile', () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-policy-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loads the torov format', () => {
    const f = write('app.json', JSON.stringify({ defaultAction: 'deny', syscalls: [{ names: ['write'], action: 'allow' }] }));
    const r = loadPolicyFile(f);
    assert.equal(r.kind, 'torov');
    assert.equal(r.policy.source, f);
    assert.equal(verdict(r.policy, 1), ALLOW);
    assert.deepEqual(r.warnings, []);
  });

  it('detects a ToroV configuration and resolves Binary next to it', () => {
    const f = write('hello.json', JSON.stringify({ Binary: 'HelloWorld', Hypercalls: [{ Name: 'Write', Allowed: 'True' }] }));
    const r = loadPolicyFile(f);
    assert.equal(r.kind, 'torov-config');
    if (r.kind !== 'torov-config') return;
    assert.equal(r.binary, path.join(dir, 'HelloWorld'));
    assert.equal(verdict(r.policy, 1), ALLOW);
  });

  it('reports a missing file on one line', () => {
    const f = path.join(dir, 'missing.json');
    assert.throws(() => loadPolicyFile(f), (e: unknown) => e instanceof PolicyError && e.message === `${f}: cannot read the policy file: no such file`);
  });

  it('reports a directory', () => {
    assert.throws(() => loadPolicyFile(dir), (e: unknown) => e instanceof PolicyError && e.message === `${dir}: cannot read the policy file: it is a directory`);
  });

  it('reports bad JSON with the file name and position', () => {
    const f = write('bad.json', '{\n  "defaultAction": "deny"\n  "syscalls": []\n}\n');
    assert.throws(() => loadPolicyFile(f), (e: unknown) => e instanceof PolicyError && e.message.startsWith(`${f}: not valid JSON: `) && /at line 3 column 3$/.test(e.message));
  });

  it('reports bad policies with the file name', () => {
    const f = write('typo.json', '{"syscalls": [{"names": ["wirte"], "action": "allow"}]}');
    assert.throws(() => loadPolicyFile(f), { name: 'PolicyError', message: `${f}: syscalls[0].names[0]: unknown syscall "wirte" (did you mean "write"?)` });
  });
});

describe('describePolicy', () => {
  it('summarises default action, counts and allowed names', () => {
    const p = parseTorovPolicy({
      description: 'hello world',
      memory: '64M',
      syscalls: [
        { names: ['write', 'writev'], action: 'allow' },
        { names: ['mount'], action: 'kill' },
        { names: ['openat'], action: 'deny', errno: 'EACCES' },
        { names: ['getpid'], action: 'log' },
      ],
    }, 'app.json');
    const text = describePolicy(p);
    const lines = text.split('\n');
    assert.equal(lines[0], 'policy: app.json — hello world');
    const total = linuxSyscalls().names.length;
    assert.equal(lines[1], `default: deny (EPERM), ${total - 8 - 1 - 1 - 1} syscalls`);
    assert.equal(lines[2], 'allow (8): arch_prctl brk exit exit_group rt_sigreturn set_tid_address write writev');
    assert.ok(lines.includes('log (1): getpid'), text);
    assert.ok(lines.includes('kill (1): mount'), text);
    assert.ok(lines.includes('deny with EACCES (1): openat'), text);
    assert.equal(lines.at(-1), 'memory: 64 MiB');
  });

  it('wraps long lists and always lists allowed names', () => {
    const text = describePolicy(defaultPolicy());
    assert.match(text, /^policy: <default> — /);
    assert.match(text, /\nallow \(\d+\): /);
    for (const line of text.split('\n').slice(1)) assert.ok(line.length <= 100, line);
    assert.ok(!/deny with EPERM/.test(text), 'the default action is not listed name by name');
  });

  it('lists every name when allow is the default', () => {
    const p = parseTorovPolicy({ defaultAction: 'allow', syscalls: [{ names: ['mount'], action: 'deny' }] }, 'a');
    const text = describePolicy(p);
    assert.match(text, /^default: allow, \d+ syscalls$/m);
    assert.match(text, /^deny with EPERM \(1\): mount$/m);
  });

  it('describeRules prints rules with reasons', () => {
    const text = describeRules(defaultPolicy());
    assert.match(text, /^deny: changes the filesystem tree.*\n  mount umount2 /m);
    for (const line of text.split('\n')) assert.ok(line.length <= 100 || !line.startsWith('  '), line);
    const p = parseTorovPolicy({ syscalls: [{ names: ['openat'], action: 'deny', errno: 'EACCES', why: 'no files' }] }, 'a');
    assert.equal(describeRules(p), 'deny with EACCES: no files\n  openat');
  });

  it('formatSize', () => {
    assert.equal(formatSize(64 * 1024 * 1024), '64 MiB');
    assert.equal(formatSize(1536), '1.5 KiB');
    assert.equal(formatSize(1000), '1000 bytes');
    assert.equal(formatSize(2 * 1024 ** 3), '2 GiB');
  });
});
