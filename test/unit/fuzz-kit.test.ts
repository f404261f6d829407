/**
 * The fuzz kit's judgement and generators (test/fuzz/kit.ts), as pure logic: what counts as
 * a torov failure, a guest death or a timeout, and that a seed repeats its input exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, craftElf, craftPolicy, Rng } from '../fuzz/kit';

test('judge: torov failures, guest deaths, timeouts and normal ends', () => {
  const o = (status: number | null, stderr: string, done?: boolean) => judge(status, stderr, { torovLines: true, ...(done !== undefined ? { done } : {}) }).outcome;
  assert.equal(o(0, '', true), 'ok');
  assert.equal(o(0, '', false), 'guest-death');                                   // exited before its last call
  assert.equal(o(139, 'torov: SIGSEGV: page fault at rip=0x401000 addr=0x0 (write, not mapped)\n'), 'guest-death');
  assert.equal(o(159, 'torov: SIGSYS: mount (syscall 165) is not allowed by the policy: killed\n'), 'guest-death');
  assert.equal(o(124, 'torov: timeout: the VM was stopped after 20s\n'), 'timeout');
  assert.equal(o(137, 'torov: the VMM was killed by SIGKILL (out of memory: the run\'s cgroup limit)\n'), 'guest-death');
  assert.equal(o(162, ''), 'guest-death');                                        // a signal it sent itself (34), silent as natively
  // Anything else is torov's failure.
  assert.equal(o(125, 'torov: internal error: KVM_RUN failed: errno 14\n'), 'torov-failure');
  assert.equal(o(135, 'torov: the VMM was killed by SIGBUS\n'), 'torov-failure');
  assert.equal(o(null, ''), 'torov-failure');                                      // hung past --timeout
  assert.equal(o(124, ''), 'torov-failure');
  assert.equal(o(1, 'TypeError: x is not a function\n    at f (/torov.js:1:2)\n'), 'torov-failure');
  assert.equal(o(0, 'torov: note\nsomething else\n', true), 'torov-failure');      // a line that is not torov's
  assert.equal(o(0, 'torov: a \x1b[31m red line\n', true), 'torov-failure');        // control bytes
  assert.equal(o(125, 'torov: policy: p.json: memory: must be from 16M to 32G\n'), 'torov-failure');   // the harness's options are valid
});

test('a seed repeats its ELF file and its policy exactly; seeds differ', () => {
  assert.deepEqual(craftElf(7).bytes, craftElf(7).bytes);
  assert.deepEqual(craftPolicy(7).bytes, craftPolicy(7).bytes);
  const elfs = new Set(Array.from({ length: 50 }, (_, i) => craftElf(i).bytes.toString('hex')));
  const pols = new Set(Array.from({ length: 50 }, (_, i) => craftPolicy(i).bytes.toString('hex')));
  assert.ok(elfs.size >= 45 && pols.size >= 45, `${elfs.size} ELF files, ${pols.size} policies`);
  const g = new Rng(1), h = new Rng(1);
  assert.equal(g.u64(), h.u64());
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[g.below(4)]!++;
  assert.ok(counts.every((c) => c > 800 && c < 1200), counts.join(' '));
});
