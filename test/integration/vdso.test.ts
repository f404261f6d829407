/**
 * The vDSO: clock_gettime, gettimeofday and time read in the guest from the clock page,
 * without a VM exit; off with --no-vdso and whenever the policy does not plainly allow them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { torov, guest, native, ROOT, spawnSync, scratchDir } from '../helpers';

const CLOCK_CALL = /^(clock_gettime|gettimeofday|time)\(/m;

test('the time guest prints what it prints natively, and its clock calls no longer exit', () => {
  const nat = native(guest('time'));
  const r = torov(['run', '--trace', guest('time')]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, nat.stdout);
  assert.doesNotMatch(r.stderr, CLOCK_CALL);
  const off = torov(['run', '--trace', '--no-vdso', guest('time')]);
  assert.equal(off.status, 0, off.stderr);
  assert.equal(off.stdout, nat.stdout);
  assert.match(off.stderr, /^clock_gettime\(/m);
});

function realtimeMs(out: string): number {
  const m = /^realtime_ms (\d+)$/m.exec(out);
  assert.ok(m, out);
  return Number(m[1]);
}

test('CLOCK_REALTIME through the vDSO is within 50 ms of the host clock', () => {
  const before = Date.now();
  const r = torov(['run', guest('vdso_clock')]);
  const after = Date.now();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^vdso yes$/m);
  const t = realtimeMs(r.stdout);
  assert.ok(t >= before - 50 && t <= after + 50, `guest ${t}, host ${before}..${after}`);
  assert.match(torov(['run', '--no-vdso', guest('vdso_clock')]).stdout, /^vdso no$/m);
});

test('a policy that denies, kills or logs a clock call turns the vDSO off', () => {
  const tmp = scratchDir('torov-vdso-');
  const p = path.join(tmp, 'deny.json');
  fs.writeFileSync(p, JSON.stringify({ defaultAction: 'allow', syscalls: [{ names: ['clock_gettime'], action: 'deny', errno: 'EPERM', why: 'test' }] }));
  const r = torov(['run', '--policy', p, guest('vdso_clock')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /Operation not permitted/);
  const l = path.join(tmp, 'log.json');
  fs.writeFileSync(l, JSON.stringify({ defaultAction: 'allow', syscalls: [{ names: ['time'], action: 'log', why: 'test' }] }));
  const logged = torov(['run', '--policy', l, guest('vdso_clock')]);
  assert.equal(logged.status, 0, logged.stderr);
  assert.match(logged.stdout, /^vdso no$/m);
});

test('a reused VM refills the clock page for the next guest', () => {
  const g = guest('vdso_clock');
  const script = `
    const fs = require('fs'), os = require('os'), path = require('path');
    const { Machine } = require(${JSON.stringify(path.join(ROOT, 'dist/src/vmm/machine'))});
    const { defaultPolicy } = require(${JSON.stringify(path.join(ROOT, 'dist/src/policy'))});
    const results = [];
    for (let i = 0; i < 3; i++) {
      const outFile = path.join(os.tmpdir(), 'torov-vdso-' + process.pid);
      const out = fs.openSync(outFile, 'w+');
      const before = Date.now();
      const m = new Machine({ path: ${JSON.stringify(g)}, image: fs.readFileSync(${JSON.stringify(g)}), argv: ['vdso_clock'], env: [],
        memory: 256 * 2 ** 20, policy: defaultPolicy(), stdio: [0, out, 2], log: (l) => process.stderr.write(l + '\\n') });
      const status = m.run(); m.close(); fs.closeSync(out);
      results.push({ status, before, after: Date.now(), out: fs.readFileSync(outFile, 'utf8') });
      fs.unlinkSync(outFile);
      const until = Date.now() + 200; while (Date.now() < until) {}
    }
    process.stdout.write(JSON.stringify(results));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  for (const x of JSON.parse(r.stdout) as Array<{ status: number; before: number; after: number; out: string }>) {
    assert.equal(x.status, 0);
    assert.match(x.out, /^vdso yes$/m);
    const t = realtimeMs(x.out);
    assert.ok(t >= x.before - 50 && t <= x.after + 50, `guest ${t}, host ${x.before}..${x.after}`);
  }
});
