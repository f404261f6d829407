/** Tests for src/policy/torov-config.ts (the original ToroV configuration format). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { isTorovConfig, parseTorovConfig } from '../../src/policy/torov-config';
import { PolicyError } from '../../src/policy/errors';
import { ALLOW, DENY, ALWAYS_ALLOWED, denyErrno, verdict } from '../../src/policy/policy';
import { linuxSyscalls } from '../../src/policy/syscall-table';

const table = linuxSyscalls();
const nr = (name: string): number => table.nrOf(name) as number;
const SRC = '/etc/torov/apps/hello.json';

const example = {
  Binary: 'HelloWorld',
  MountPoint: './mountpoint',
  Newpid: 'False',
  Startaddr: '400200',
  Debug: { Allowed: 'False', Port: '1234' },
  Hypercalls: [{ Name: 'Ioctl', Allowed: 'True' }, { Name: 'Write', Allowed: 'True' }],
};

function errorOf(doc: unknown): string {
  try {
    parseTorovConfig(doc, 'hello.json');
  } catch (e) {
    assert.ok(e instanceof PolicyError, String(e));
    assert.ok(!e.message.includes('\n'));
    assert.ok(e.message.startsWith('hello.json: '), e.message);
    return e.message;
  }
  assert.fail('expected an error');
}

describe('ToroV configuration', () => {
  it('is detected by Binary or Hypercalls', () => {
    assert.ok(isTorovConfig(example));
    assert.ok(isTorovConfig({ Hypercalls: [] }));
    assert.ok(isTorovConfig({ Binary: 'x' }));
    assert.ok(!isTorovConfig({ defaultAction: 'deny' }));
    assert.ok(!isTorovConfig([]));
  });

  it('translates the example from the talk', () => {
    const c = parseTorovConfig(example, SRC);
    assert.equal(c.kind, 'torov-config');
    assert.equal(c.binary, '/etc/torov/apps/HelloWorld');
    assert.equal(c.mountPoint, '/etc/torov/apps/mountpoint');
    assert.equal(c.newPid, false);
    assert.equal(c.startAddr, 0x400200);
    assert.deepEqual(c.debug, { allowed: false, port: 1234 });
    assert.deepEqual(c.warnings, []);
  });

  it('allows exactly the hypercalls marked Allowed, plus ALWAYS_ALLOWED, and denies the rest with EPERM', () => {
    const c = parseTorovConfig(example, SRC);
    const p = c.policy;
    assert.equal(p.defaultAction, 'deny');
    assert.equal(p.defaultErrno, 1);
    const allowed = table.names.filter((n) => verdict(p, nr(n)) === ALLOW).sort();
    assert.deepEqual(allowed, ['ioctl', 'write', ...ALWAYS_ALLOWED].sort());
    assert.equal(verdict(p, nr('read')), DENY);
    assert.equal(denyErrno(p, nr('read')), 1);
    assert.equal(p.source, SRC);
  });

  it('resolves relative paths against the config file, keeps absolute ones', () => {
    const c = parseTorovConfig({ Binary: '../bin/app', MountPoint: '/srv/root' }, 'configs/app.json');
    assert.equal(c.binary, path.resolve('configs/../bin/app'));
    assert.equal(c.mountPoint, '/srv/root');
  });

  it('accepts booleans in any case and as JSON booleans', () => {
    const c = parseTorovConfig({
      Binary: 'x', Newpid: 'TRUE', Debug: { Allowed: true, Port: 4321 },
      Hypercalls: [{ Name: 'read', Allowed: 'true' }, { Name: 'WRITE', Allowed: true }, { Name: 'Close', Allowed: 'fAlSe' }, { Name: 'Openat', Allowed: false }],
    }, SRC);
    assert.equal(c.newPid, true);
    assert.deepEqual(c.debug, { allowed: true, port: 4321 });
    assert.equal(verdict(c.policy, nr('read')), ALLOW);
    assert.equal(verdict(c.policy, nr('write')), ALLOW);
    assert.equal(verdict(c.policy, nr('close')), DENY);
    assert.equal(verdict(c.policy, nr('openat')), DENY);
  });

  it('treats a missing Allowed as not allowed, and later entries override earlier ones', () => {
    const c = parseTorovConfig({
      Binary: 'x',
      Hypercalls: [{ Name: 'Read' }, { Name: 'Write', Allowed: 'True' }, { Name: 'Write', Allowed: 'False' }, { Name: 'Close', Allowed: 'False' }, { Name: 'Close', Allowed: 'True' }],
    }, SRC);
    assert.equal(verdict(c.policy, nr('read')), DENY);
    assert.equal(verdict(c.policy, nr('write')), DENY);
    assert.equal(verdict(c.policy, nr('close')), ALLOW);
  });

  it('a Hypercall marked False cannot block an always-allowed call', () => {
    const c = parseTorovConfig({ Binary: 'x', Hypercalls: [{ Name: 'Exit_group', Allowed: 'False' }] }, SRC);
    assert.equal(verdict(c.policy, nr('exit_group')), ALLOW);
  });

  it('leaves optional fields out and defaults the debug port', () => {
    const c = parseTorovConfig({ Binary: 'x', Debug: { Allowed: 'True' } }, SRC);
    assert.equal(c.mountPoint, undefined);
    assert.equal(c.newPid, undefined);
    assert.equal(c.startAddr, undefined);
    assert.deepEqual(c.debug, { allowed: true, port: 1234 });
    assert.ok(!('mountPoint' in c));
  });

  it('accepts Startaddr with 0x', () => {
    assert.equal(parseTorovConfig({ Binary: 'x', Startaddr: '0x401000' }, SRC).startAddr, 0x401000);
  });

  it('ignores unknown fields with a warning', () => {
    const c = parseTorovConfig({ Binary: 'x', Newpd: 'True', Debug: { Alowed: 'True' }, Hypercalls: [{ Name: 'Read', Allowed: 'True', Note: 'x' }] }, 'h.json');
    assert.deepEqual(c.warnings, [
      'h.json: Newpd: unknown field, ignored (did you mean "Newpid"?)',
      'h.json: Debug.Alowed: unknown field, ignored (did you mean "Allowed"?)',
      'h.json: Hypercalls[0].Note: unknown field, ignored',
    ]);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not an object', 'x', /^hello\.json: the top level must be a JSON object \(got "x"\)$/],
    ['no Binary', { Hypercalls: [] }, /^hello\.json: Binary: required \(the program to run\)$/],
    ['empty Binary', { Binary: '' }, /^hello\.json: Binary: must be a non-empty path \(got ""\)$/],
    ['bad MountPoint', { Binary: 'x', MountPoint: 3 }, /^hello\.json: MountPoint: must be a non-empty path \(got 3\)$/],
    ['bad boolean', { Binary: 'x', Newpid: 'Yes' }, /^hello\.json: Newpid: must be "True" or "False" \(got "Yes"\)$/],
    ['bad Startaddr', { Binary: 'x', Startaddr: '40020g' }, /^hello\.json: Startaddr: must be a hexadecimal address such as "400200" \(got "40020g"\)$/],
    ['numeric Startaddr', { Binary: 'x', Startaddr: 400200 }, /^hello\.json: Startaddr: must be a hexadecimal address/],
    ['bad Debug', { Binary: 'x', Debug: 'yes' }, /^hello\.json: Debug: must be an object/],
    ['bad Debug.Allowed', { Binary: 'x', Debug: { Allowed: 1 } }, /^hello\.json: Debug\.Allowed: must be "True" or "False" \(got 1\)$/],
    ['bad Debug.Port', { Binary: 'x', Debug: { Port: '70000' } }, /^hello\.json: Debug\.Port: must be a TCP port from 1 to 65535 \(got "70000"\)$/],
    ['Hypercalls not array', { Binary: 'x', Hypercalls: {} }, /^hello\.json: Hypercalls: must be an array/],
    ['Hypercall not object', { Binary: 'x', Hypercalls: ['Write'] }, /^hello\.json: Hypercalls\[0\]: must be an object/],
    ['Hypercall without Name', { Binary: 'x', Hypercalls: [{ Allowed: 'True' }] }, /^hello\.json: Hypercalls\[0\]\.Name: must be a syscall name such as "Write" \(got undefined\)$/],
    ['unknown Hypercall', { Binary: 'x', Hypercalls: [{ Name: 'Write', Allowed: 'True' }, { Name: 'Wirte', Allowed: 'True' }] },
      /^hello\.json: Hypercalls\[1\]\.Name: unknown syscall "Wirte" \(did you mean "Write"\?\)$/],
    ['bad Hypercall Allowed', { Binary: 'x', Hypercalls: [{ Name: 'Write', Allowed: 'Maybe' }] }, /^hello\.json: Hypercalls\[0\]\.Allowed: must be "True" or "False" \(got "Maybe"\)$/],
  ];
  for (const [what, doc, re] of bad) it(`error: ${what}`, () => assert.match(errorOf(doc), re));
});
