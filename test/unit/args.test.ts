/** CLI parsing: options before the program, everything after it belongs to the program. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptions, RUN_OPTIONS, UsageError, buildEnv, DEFAULT_ENV, parseDuration, formatDuration, suggest, editDistance } from '../../src/cli/args';

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
  // As docker: `-e NAME` takes the host's value, and is skipped when the host has none.
  assert.deepEqual(buildEnv({ env: ['UNSET_HERE'] }, {}), [...DEFAULT_ENV]);
  assert.deepEqual(buildEnv({ env: ['EMPTY'] }, { EMPTY: '' }), [...DEFAULT_ENV, 'EMPTY=']);
  assert.throws(() => buildEnv({ env: ['=1'] }, {}), UsageError);
  assert.throws(() => buildEnv({ env: [''] }, {}), UsageError);
  // --env-clear (torov-oci): only the -e variables.
  assert.deepEqual(buildEnv({ 'env-clear': true, env: ['A=1'] }, { SECRET: 'x' }), ['A=1']);
  assert.deepEqual(buildEnv({ 'env-clear': true }, {}), []);
});

test('a mistyped option gets "did you mean"', () => {
  assert.throws(() => parseOptions(['--memroy', '64M', 'p'], RUN_OPTIONS, true), /^UsageError: unknown option --memroy \(did you mean --memory\?\)$/);
  assert.throws(() => parseOptions(['--envinherit', 'p'], RUN_OPTIONS, true), /did you mean --env-inherit\?/);
  assert.throws(() => parseOptions(['--sandbox', 'p'], RUN_OPTIONS, true), /did you mean --no-sandbox\?/);
  assert.equal(suggest('completely-different', RUN_OPTIONS), '');
  assert.equal(editDistance('memroy', 'memory'), 1);          // a swap of neighbours is one edit
  assert.equal(editDistance('', 'abc'), 3);
});

test('durations: seconds, units in decreasing order, 0 for none', () => {
  const cases: Array<[string, number]> = [['30', 30_000], ['1.5', 1500], ['500ms', 500], ['30s', 30_000], ['2m', 120_000],
    ['1h', 3_600_000], ['1h30m', 5_400_000], ['1h30m15s', 5_415_000], ['1m500ms', 60_500], ['0', 0], ['0s', 0], [' 10s ', 10_000]];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  for (const bad of ['', 'x', '1x', '30m1h', '1h1h', '-5s', '1 h', 'ms', '1e3', '5s ', '1h30']) {
    if (bad === '5s ') continue;                             // trimmed: valid
    assert.throws(() => parseDuration(bad), RangeError, JSON.stringify(bad));
  }
  assert.equal(formatDuration(1000), '1s');
  assert.equal(formatDuration(1500), '1.5s');
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(250), '250ms');
  for (const ms of [1, 999, 1000, 61_500, 5_415_000]) assert.equal(parseDuration(formatDuration(ms)), ms);
});
