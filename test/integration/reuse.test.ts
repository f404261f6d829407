/**
 * Reusing a VM inside one process (what a serving process does): the next program must
 * start exactly as on a fresh VM and as on Linux, whatever the last one left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { guest, native, ROOT, spawnSync } from '../helpers';

/** Runs guests one after another in one Node process; returns each one's stdout (base64) and status. */
function inOneProcess(runs: string[][]): Array<{ status: number; out: Buffer }> {
  const script = `
    const fs = require('fs'), os = require('os'), path = require('path');
    const { Machine } = require(${JSON.stringify(path.join(ROOT, 'dist/src/vmm/machine'))});
    const { defaultPolicy } = require(${JSON.stringify(path.join(ROOT, 'dist/src/policy'))});
    const runs = ${JSON.stringify(runs)};
    const results = [];
    for (const [g, ...args] of runs) {
      const outFile = path.join(os.tmpdir(), 'torov-reuse-' + process.pid);
      const out = fs.openSync(outFile, 'w+');
      const m = new Machine({ path: g, image: fs.readFileSync(g), argv: [g, ...args], env: [], memory: 256 * 2 ** 20,
        policy: defaultPolicy(), stdio: [0, out, 2], log: (l) => process.stderr.write(l + '\\n') });
      const status = m.run(); m.close(); fs.closeSync(out);
      results.push({ status, out: fs.readFileSync(outFile).toString('base64') });
      fs.unlinkSync(outFile);
    }
    process.stdout.write(JSON.stringify(results));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as Array<{ status: number; out: string }>).map((x) => ({ status: x.status, out: Buffer.from(x.out, 'base64') }));
}

test('a reused VM starts the next program with clean registers, FPU and SSE state', () => {
  const g = guest('regs');
  const res = inOneProcess([[g, 'dump'], [g, 'clobber'], [g, 'dump'], [guest('fault'), 'ill'], [g, 'dump']]);
  const nat = native(g, ['dump']);
  assert.equal(res[0]!.status, 0);
  assert.equal(res[1]!.status, 0);
  assert.equal(res[3]!.status, 132);
  const fresh = res[0]!.out;
  assert.equal(fresh.length, 390);
  // General registers are zero, as Linux starts a program; MXCSR and FCW are the defaults.
  assert.ok(fresh.subarray(0, 120).every((b) => b === 0), 'general registers zero');
  assert.equal(fresh.readUInt32LE(384), 0x1f80);
  assert.equal(fresh.readUInt16LE(388), 0x37f);
  assert.ok(fresh.subarray(128, 384).every((b) => b === 0), 'xmm registers zero');
  // The same after a program that dirtied everything, and after one that faulted.
  assert.deepEqual(res[2]!.out, fresh);
  assert.deepEqual(res[4]!.out, fresh);
  // And as on Linux (rflags may differ only in bits Linux and torov set differently: none expected).
  assert.deepEqual(fresh.subarray(0, 120), Buffer.from(nat.stdout, 'latin1').subarray(0, 120));
});

test('a reused VM does not see the last program\'s memory', () => {
  // mm writes patterns all over its memory; the next mm run checks fresh mappings read as zero.
  const res = inOneProcess([[guest('mm')], [guest('mm')], [guest('hello')]]);
  assert.equal(res[0]!.status, 0, res[0]!.out.toString());
  assert.equal(res[1]!.status, 0, res[1]!.out.toString());
  assert.equal(res[1]!.out.toString(), res[0]!.out.toString());
  assert.equal(res[2]!.out.toString(), 'hello from torov\n');
});
