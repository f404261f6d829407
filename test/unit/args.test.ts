/** CLI parsing: options before the program, everything after it belongs to the program. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions, RUN_OPTIONS, UsageError, buildEnv, DEFAULT_ENV } from '../../src/cli/args';

test('options stop at the program path', () => {
  const { opts, rest } = parseOptions(['--memory', '64M', './prog', '-v', '--flag'], RUN_OPTIONS, true);
  assert.equal(opts['memory'], '64M');
  assert.deepEqual(rest, ['./prog', '-v', '--flag']);
});

test('--opt=value, short options, repeats and --', () => {
  const { opts, rest } = parseOptions(['-m64M', '--env=A=1', '-e', 'B=2', '--trace', '--', '-prog'], RUN_OPTIONS, true);
  assert.equal(opts['memory'], '64M');
  assert.deepEqual(opts['env'], ['A=1', 'B=2']);
  assert.equal(opts['trace'], true);
  assert.deepEqual(rest, ['-prog']);
});

test('bad options are UsageErrors with one line', () => {
  for (const argv of [['--nope', 'p'], ['--memory'], ['--trace=yes', 'p'], ['-q']]) {
    assert.throws(() => parseOptions(argv, RUN_OPTIONS, true), (e: Error) => e instanceof UsageError && !e.message.includes('\n'));
  }
});

test('the guest environment: defaults, --env, --env-inherit, -e NAME', () => {
  assert.deepEqual(buildEnv({}, { SECRET: 'x' }), [...DEFAULT_ENV]);
  assert.deepEqual(buildEnv({ env: ['HOME=/root', 'X=1'] }, {}), ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/root', 'TERM=xterm', 'X=1']);
  assert.ok(buildEnv({ 'env-inherit': true }, { SECRET: 'x' }).includes('SECRET=x'));
  assert.ok(buildEnv({ env: ['SECRET'] }, { SECRET: 'x' }).includes('SECRET=x'));
  assert.throws(() => buildEnv({ env: ['=1'] }, {}), UsageError);
});
