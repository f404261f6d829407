/**
 * The fuzz kit's short run (issue 13; test/fuzz/kit.ts): a few thousand hostile syscalls of
 * every class (random numbers and arguments, pointers into, around and outside guest
 * memory, forged syscall-channel requests, random code) under both policies and both
 * syscall paths, crafted ELF files and hostile policies, all inside torov. Guests may die
 * or time out; torov may not fail, and nothing of a run may stay on the host. The seeds
 * are fixed (TOROV_FUZZ_SEED moves them); the long run is `npm run soak`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz, runElf, runPolicy, HostCanary, FuzzRun, FileResult } from '../fuzz/kit';

const SEED = Number(process.env['TOROV_FUZZ_SEED'] ?? 13);

test('syscall fuzzer: random syscalls, forged channel requests and random code, both policies and paths, with --trace; no torov failure, nothing left', (t) => {
  const canary = new HostCanary();
  try {
    const plans: Array<Omit<FuzzRun, 'seed' | 'timeout'>> = [
      { classes: 's', policy: 'default', path: 'ring', trace: false, calls: 1500 },
      { classes: 's', policy: 'allow', path: 'exit', trace: false, calls: 1500 },
      { classes: 'sx', policy: 'allow', path: 'ring', trace: true, calls: 600 },
      { classes: 'scx', policy: 'default', path: 'exit', trace: false, calls: 600 },
      { classes: 'sc', policy: 'allow', path: 'ring', trace: false, calls: 300 },
      { classes: 'c', policy: 'default', path: 'ring', trace: false, calls: 100 },
      { classes: 'x', policy: 'allow', path: 'exit', trace: false, calls: 100 },
    ];
    let calls = 0, ended = 0;
    const seen = new Set<string>();
    plans.forEach((p, i) => {
      const r = runFuzz({ ...p, seed: SEED * 1000 + i, timeout: 20 });
      calls += r.callsMade;
      if (r.outcome === 'ok') ended++;
      seen.add(r.outcome);
      assert.notEqual(r.outcome, 'torov-failure', `${r.why} [last: ${r.last}]\n  repeat: ${r.command}`);
      assert.deepEqual(r.leftovers, [], r.command);
    });
    t.diagnostic(`${plans.length} runs, ${calls} calls, ${ended} ended normally`);
    // It made a few thousand calls, and most runs got through (the fuzzer is not just dying).
    assert.ok(calls >= 2500, `${calls} calls`);
    assert.ok(ended >= 3, `${ended} runs of ${plans.length} ended normally (${[...seen].join(', ')})`);
    assert.deepEqual(canary.changes(), []);
  } finally {
    canary.remove();
  }
});

function checkAll(results: FileResult[]): void {
  for (const r of results) {
    assert.notEqual(r.outcome, 'torov-failure', `${r.why}\n  repeat: ${r.command}`);
    assert.deepEqual(r.leftovers, [], r.command);
  }
}

test('crafted ELF files: a one-line refusal (126, 127) or a run inside torov, never a torov failure', () => {
  const results = Array.from({ length: 24 }, (_, i) => runElf(SEED * 1000 + i));
  checkAll(results);
  // Most are refused, with a line naming what is wrong; a few still run.
  assert.ok(results.filter((r) => r.why.startsWith('torov: ')).length >= 12, results.map((r) => r.why).join('\n'));
});

test('hostile policies: policy check and run refuse the same way in one line, or both accept; never a torov failure', () => {
  const results = Array.from({ length: 24 }, (_, i) => runPolicy(SEED * 1000 + i));
  checkAll(results);
  assert.ok(results.some((r) => r.why.startsWith('torov: policy: ')), 'some were refused');
  assert.ok(results.some((r) => r.why === ''), 'some were accepted and ran');
});
