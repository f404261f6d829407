/** Tests for src/policy/torov-format.ts, src/policy/json.ts and src/policy/errors.ts. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RULE_FIELDS, TOP_LEVEL_FIELDS, parseSize, parseTorovPolicy } from '../../src/policy/torov-format';
import { parsePolicyText } from '../../src/policy/load';
import { PolicyError, closest, editDistance, fieldPath } from '../../src/policy/errors';
import { lineColumn, locateJsonError } from '../../src/policy/json';
import { ACTIONS_FOR_HUMANS, ALLOW, DENY, KILL, LOG, denyErrno, verdict } from '../../src/policy/policy';
import { errorOf, nr } from './policy-testing';



function textErrorOf(text: string): string {
  try {
    parsePolicyText(text, 'app.json');
  } catch (e) {
    assert.ok(e instanceof PolicyError);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    return e.message;
  }
  assert.fail('expected an error');
}

describe('torov format: parsing', () => {
  it('parses the example from the docs', () => {
    const p = parseTorovPolicy(
      {
        $schema: 'https://example.com/policy.schema.json',
        torov: 1,
        description: 'hello world',
        defaultAction: 'deny',
        defaultErrno: 'EPERM',
        memory: '64M',
        syscalls: [
          { names: ['write', 'writev'], action: 'allow', why: 'print the greeting' },
          { names: ['mount'], action: 'kill', why: 'never legitimate here' },
          { names: ['openat'], action: 'deny', errno: 'EACCES', why: 'no files' },
          { names: ['getpid'], action: 'log' },
        ],
      },
      'app.json',
    );
    assert.equal(p.source, 'app.json');
    assert.equal(p.description, 'hello world');
    assert.equal(p.memory, 64 * 1024 * 1024);
    assert.equal(verdict(p, nr('write')), ALLOW);
    assert.equal(verdict(p, nr('writev')), ALLOW);
    assert.equal(verdict(p, nr('mount')), KILL);
    assert.equal(verdict(p, nr('openat')), DENY);
    assert.equal(denyErrno(p, nr('openat')), 13);
    assert.equal(verdict(p, nr('getpid')), LOG);
    assert.equal(verdict(p, nr('read')), DENY);
    assert.equal(denyErrno(p, nr('read')), 1);
    assert.equal(p.why[nr('write')], 'print the greeting');
    assert.equal(p.rules.length, 4);
  });

  it('defaults: deny, EPERM, no memory, no rules', () => {
    const p = parseTorovPolicy({}, 'app.json');
    assert.equal(p.defaultAction, 'deny');
    assert.equal(p.defaultErrno, 1);
    assert.equal(p.memory, undefined);
    assert.equal(verdict(p, nr('read')), DENY);
    assert.equal(verdict(p, nr('exit_group')), ALLOW, 'always allowed under an empty policy');
  });

  it('accepts errnos by number and in any case', () => {
    const p = parseTorovPolicy({ defaultErrno: 38, syscalls: [{ names: ['openat'], action: 'deny', errno: 'enoent' }] }, 'a');
    assert.equal(p.defaultErrno, 38);
    assert.equal(denyErrno(p, nr('openat')), 2);
  });

  it('later rules override earlier ones', () => {
    const p = parseTorovPolicy({
      defaultAction: 'allow',
      syscalls: [
        { names: ['openat'], action: 'deny', errno: 'EACCES' },
        { names: ['openat'], action: 'kill' },
        { names: ['read'], action: 'kill' },
        { names: ['read'], action: 'allow' },
      ],
    }, 'a');
    assert.equal(verdict(p, nr('openat')), KILL);
    assert.equal(verdict(p, nr('read')), ALLOW);
    assert.equal(verdict(p, nr('mount')), ALLOW);
  });

  it('every default action works', () => {
    for (const [a, code] of [['allow', ALLOW], ['deny', DENY], ['kill', KILL], ['log', LOG]] as const) {
      assert.equal(verdict(parseTorovPolicy({ defaultAction: a }, 'a'), nr('read')), code);
    }
  });

  it('memory accepts sizes and byte counts', () => {
    assert.equal(parseTorovPolicy({ memory: '1G' }, 'a').memory, 1 << 30);
    assert.equal(parseTorovPolicy({ memory: 64 * 2 ** 20 }, 'a').memory, 64 * 2 ** 20);
    assert.equal(parseTorovPolicy({ memory: '32G' }, 'a').memory, 32 * 2 ** 30);
  });
});

describe('torov format: error messages', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [], /^app\.json: the top level must be a JSON object \(got an array\)$/],
    ['unknown top-level key', { defualtAction: 'deny' }, /^app\.json: defualtAction: unknown field \(did you mean "defaultAction"\?\)$/],
    ['unknown key, no suggestion', { zzz: 1 }, /^app\.json: zzz: unknown field \(known fields: \$schema, torov, description/],
    ['bad defaultAction', { defaultAction: 'block' }, /^app\.json: defaultAction: must be one of deny, kill, log, allow \(got "block"\)$/],
    ['defaultAction typo', { defaultAction: 'alow' }, /^app\.json: defaultAction: must be one of deny, kill, log, allow \(got "alow"\) \(did you mean "allow"\?\)$/],
    ['bad defaultErrno', { defaultErrno: 'EPRM' }, /^app\.json: defaultErrno: unknown errno "EPRM" \(did you mean "EPERM"\?\)$/],
    ['defaultErrno out of range', { defaultErrno: 0 }, /^app\.json: defaultErrno: must be an errno name such as "EPERM" or a number from 1 to 4095 \(got 0\)$/],
    ['bad version', { torov: 2 }, /^app\.json: torov: unsupported format version 2/],
    ['bad description', { description: 5 }, /^app\.json: description: must be a string \(got 5\)$/],
    ['memory garbage', { memory: 'lots' }, /^app\.json: memory: invalid size "lots": expected a number of bytes/],
    ['memory zero', { memory: '0M' }, /^app\.json: memory: invalid size "0M": must be more than 0 bytes$/],
    ['memory object', { memory: {} }, /^app\.json: memory: must be a size such as "256M" or a number of bytes \(got an object\)$/],
    // What a run accepts, checked when the policy is read (policy check says what run says).
    ['memory of 1 byte', { memory: 1 }, /^app\.json: memory: must be from 16M to 32G \(got 1\)$/],
    ['memory of half a KiB', { memory: '0.5K' }, /^app\.json: memory: must be from 16M to 32G \(got "0\.5K"\)$/],
    ['memory above the largest', { memory: '33G' }, /^app\.json: memory: must be from 16M to 32G \(got "33G"\)$/],
    ['openFiles out of range', { rlimits: { openFiles: 1e20 } }, /^app\.json: rlimits\.openFiles: must be a whole number from 3 to 1048576 \(got 100000000000000000000\)$/],
    ['cpuSeconds 0', { rlimits: { cpuSeconds: 0 } }, /^app\.json: rlimits\.cpuSeconds: must be a whole number from 1 to 2147483647 \(got 0\)$/],
    ['pids negative', { rlimits: { pids: -1 } }, /^app\.json: rlimits\.pids: must be a whole number from 1 to 4194304 \(got -1\)$/],
    ['fileSize too large', { rlimits: { fileSize: '1e20' } }, /^app\.json: rlimits\.fileSize: invalid size/],
    ['tmp too small', { tmp: '4K' }, /^app\.json: tmp: must be from 1M to 32G \(got "4K"\)$/],
    ['tmp a word', { tmp: 'yes' }, /^app\.json: tmp: invalid size "yes"/],
    ['writable with ..', { root: '/srv', writable: ['/../../'] }, /^app\.json: writable\[0\]: must not contain "\.\." \(got "\/\.\.\/\.\.\/"\): paths stay inside the root$/],
    ['writable relative', { root: '/srv', writable: ['data'] }, /^app\.json: writable\[0\]: must be an absolute guest path \(got "data"\)$/],
    ['writable the root', { root: '/srv', writable: ['/'] }, /^app\.json: writable\[0\]: is the whole root: say "writable": true instead$/],
    ['syscalls not array', { syscalls: {} }, /^app\.json: syscalls: must be an array of rules \(got an object\)$/],
    ['rule not object', { syscalls: ['write'] }, /^app\.json: syscalls\[0\]: must be an object/],
    ['names missing', { syscalls: [{ action: 'allow' }] }, /^app\.json: syscalls\[0\]\.names: required/],
    ['names empty', { syscalls: [{ names: [], action: 'allow' }] }, /^app\.json: syscalls\[0\]\.names: must be a non-empty array of syscall names \(got an array\)$/],
    ['names a string', { syscalls: [{ names: 'write', action: 'allow' }] }, /^app\.json: syscalls\[0\]\.names: must be a non-empty array of syscall names \(got "write"\)$/],
    ['name not a string', { syscalls: [{ names: [1], action: 'allow' }] }, /^app\.json: syscalls\[0\]\.names\[0\]: must be a syscall name \(got 1\)$/],
    ['unknown syscall', { syscalls: [{ names: ['write'], action: 'allow' }, { names: ['wirte'], action: 'allow' }] },
      /^app\.json: syscalls\[1\]\.names\[0\]: unknown syscall "wirte" \(did you mean "write"\?\)$/],
    ['wrong case', { syscalls: [{ names: ['Openat'], action: 'allow' }] }, /unknown syscall "Openat" \(did you mean "openat"\?\)$/],
    ['no suggestion', { syscalls: [{ names: ['qqqqqqqqqqqqqqqq'], action: 'allow' }] }, /unknown syscall "qqqqqqqqqqqqqqqq"$/],
    ['action missing', { syscalls: [{ names: ['write'] }] }, /^app\.json: syscalls\[0\]\.action: required \(one of deny, kill, log, allow\)$/],
    ['bad action', { syscalls: [{ names: ['write'], action: 'permit' }] }, /^app\.json: syscalls\[0\]\.action: must be one of deny, kill, log, allow \(got "permit"\)$/],
    ['errno without deny', { syscalls: [{ names: ['write'], action: 'allow', errno: 'EPERM' }] },
      /^app\.json: syscalls\[0\]\.errno: only allowed with action "deny" \(this rule's action is "allow"\)$/],
    ['bad rule errno', { syscalls: [{ names: ['write'], action: 'deny', errno: 'EACCESS' }] },
      /^app\.json: syscalls\[0\]\.errno: unknown errno "EACCESS" \(did you mean "EACCES"\?\)$/],
    ['bad why', { syscalls: [{ names: ['write'], action: 'allow', why: ['x'] }] }, /^app\.json: syscalls\[0\]\.why: must be a string \(got an array\)$/],
    ['unknown rule key', { syscalls: [{ names: ['write'], acton: 'allow' }] }, /^app\.json: syscalls\[0\]\.acton: unknown field \(did you mean "action"\?\)$/],
    ['args not an object', { syscalls: [{ names: ['read'], action: 'allow' }, { names: ['write'], action: 'allow' }, { names: ['ioctl'], action: 'allow', args: [] }] },
      /^app\.json: syscalls\[2\]\.args: must be an object of conditions \(paths, access, fd, domain, type, protocol, addresses, compare\) \(got an array\)$/],
    ['deny an always-allowed call', { syscalls: [{ names: ['read', 'exit_group'], action: 'deny' }] },
      /^app\.json: syscalls\[0\]\.names\[1\]: exit_group is always allowed and cannot be given action "deny" \(/],
    ['long value is cut', { defaultAction: 'x'.repeat(200) }, /\(got "x{40}…"\)$/],
    ['newline in value stays on one line', { defaultAction: 'a\nb' }, /\(got "a\\nb"\)$/],
  ];
  for (const [what, doc, re] of cases) {
    it(what, () => assert.match(errorOf(doc), re));
  }

  it('PolicyError carries file, field and problem', () => {
    try {
      parseTorovPolicy({ defaultAction: 'block' }, 'app.json');
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof PolicyError);
      assert.ok(e instanceof Error);
      assert.equal(e.file, 'app.json');
      assert.equal(e.field, 'defaultAction');
      assert.match(e.problem, /^must be one of/);
    }
  });
});

describe('JSON syntax errors', () => {
  it('report line and column', () => {
    const m = textErrorOf('{\n  "defaultAction": "deny",\n  }\n');
    assert.match(m, /^app\.json: not valid JSON: .* at line 3 column 3$/);
  });

  it('report a position even when V8 does not give one', () => {
    const m = textErrorOf('{\n  "a":\n    }');
    assert.match(m, /^app\.json: not valid JSON: Unexpected token '}' at line 3 column 5$/);
    assert.ok(!m.includes('is not valid JSON'), 'the quoted input is dropped');
  });

  it('report truncated input at its end', () => {
    assert.match(textErrorOf('{"a": [1,'), /^app\.json: not valid JSON: Unexpected end of JSON input at line 1 column 10$/);
  });

  it('report an empty file', () => {
    assert.equal(textErrorOf('  \n'), 'app.json: not valid JSON: the file is empty');
  });

  it('accept a byte-order mark', () => {
    const r = parsePolicyText('\ufeff{"defaultAction": "allow"}', 'a.json');
    assert.equal(r.kind, 'torov');
  });

  it('locateJsonError finds the first bad character', () => {
    assert.equal(locateJsonError('{"a":1}'), undefined);
    assert.equal(locateJsonError('[1, 2, {"x": [true, false, null, -1.5e3, "\\u00e9\\n"]}]'), undefined);
    assert.equal(locateJsonError('{"a":}'), 5);
    assert.equal(locateJsonError('[1 2]'), 3);
    assert.equal(locateJsonError('"ab'), 3);
    assert.equal(locateJsonError('{"a":1} x'), 8);
    assert.equal(locateJsonError('[01]'), 2);
    assert.equal(locateJsonError('"\\x"'), 2);
  });

  it('lineColumn is 1-based', () => {
    assert.equal(lineColumn('ab\ncd', 0), 'line 1 column 1');
    assert.equal(lineColumn('ab\ncd', 4), 'line 2 column 2');
  });
});

describe('parseSize', () => {
  const K = 1024, M = K * K, G = M * K;
  const good: [string | number, number][] = [
    ['512K', 512 * K], ['256M', 256 * M], ['1G', G], ['1g', G], ['64m', 64 * M], ['64MiB', 64 * M], ['64MB', 64 * M],
    ['64mib', 64 * M], ['64Mi', 64 * M], ['4k', 4 * K], ['4KiB', 4 * K], ['2 G', 2 * G], [' 8M ', 8 * M],
    ['4096', 4096], ['4096B', 4096], ['4096b', 4096], ['1.5G', 1.5 * G], ['0.5K', 512], [4096, 4096], [1, 1],
  ];
  for (const [s, n] of good) it(`${JSON.stringify(s)} -> ${n}`, () => assert.equal(parseSize(s), n));

  const bad: [string | number, RegExp][] = [
    ['0', /must be more than 0 bytes/], ['0M', /must be more than 0 bytes/], [0, /must be more than 0 bytes/],
    ['-1M', /must be more than 0 bytes/], [-5, /must be more than 0 bytes/],
    ['abc', /^invalid size "abc": expected a number of bytes with an optional K, M or G suffix \(e\.g\. 512K, 64M, 1G\)$/],
    ['', /invalid size ""/], ['M', /invalid size "M"/], ['12X', /invalid size "12X"/], ['1iB', /invalid size/],
    ['1.1K', /not a whole number of bytes/], [1.5, /not a whole number of bytes/],
    [Infinity, /not a finite number/], [NaN, /not a finite number/], ['99999999999G', /too large/],
  ];
  for (const [s, re] of bad) {
    it(`rejects ${JSON.stringify(s) ?? String(s)}`, () => assert.throws(() => parseSize(s), (e: unknown) => e instanceof RangeError && re.test(e.message)));
  }
});

describe('helpers', () => {
  it('editDistance', () => {
    assert.equal(editDistance('wirte', 'write'), 2);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('same', 'same'), 0);
  });
  it('closest ignores case and gives up on far words', () => {
    assert.equal(closest('OPENAT', ['openat', 'open']), 'openat');
    assert.equal(closest('zzzzzz', ['read', 'write']), undefined);
  });
  it('fieldPath', () => {
    assert.equal(fieldPath('syscalls', 1, 'names', 0), 'syscalls[1].names[0]');
    assert.equal(fieldPath('$schema'), '$schema');
    assert.equal(fieldPath('a b'), '["a b"]');
  });
});

describe('policy.schema.json', () => {
  // The repo root holds it; from dist/test/unit, walk up until it is found.
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'policy.schema.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const schemaPath = path.join(dir, 'policy.schema.json');
  const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8')) as {
    $schema: string;
    properties: Record<string, { description?: string }>;
    $defs: { action: { enum: string[] }; rule: { properties: Record<string, { description?: string }>; required: string[] } };
  };

  it('is draft 2020-12 and describes every field the loader accepts', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.deepEqual(Object.keys(schema.properties).sort(), [...TOP_LEVEL_FIELDS].sort());
    assert.deepEqual(Object.keys(schema.$defs.rule.properties).sort(), [...RULE_FIELDS].sort());
    assert.deepEqual(schema.$defs.rule.required, ['names', 'action']);
    assert.deepEqual(schema.$defs.action.enum, [...ACTIONS_FOR_HUMANS]);
    for (const [k, v] of [...Object.entries(schema.properties), ...Object.entries(schema.$defs.rule.properties)]) {
      assert.ok((v.description ?? '').length > 0, `${k} has a description`);
    }
  });

  it('its memory pattern agrees with parseSize', () => {
    const memory = schema.properties.memory as unknown as { oneOf: [unknown, { pattern: string }] };
    const re = new RegExp(memory.oneOf[1].pattern);
    for (const s of ['512K', '64MiB', '1.5g', '4096', '4096B', ' 8 M ']) assert.ok(re.test(s) && parseSize(s) > 0, s);
    for (const s of ['abc', '1iB', '12X', '-1M']) assert.ok(!re.test(s), s);
  });
});
