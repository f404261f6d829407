/** Memory, time, identity, signals setup, special fds, pointer checks: real guests against native runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { torov, guest, native, ROOT, spawnSync, scratchDir } from '../helpers';

const tmp = scratchDir('torov-proc-');

test('brk, mmap, munmap, mprotect, mremap and file mappings behave as on Linux', () => {
  const file = path.join(tmp, 'mapped.txt');
  fs.writeFileSync(file, 'first line of the mapped file\nsecond\n');
  const r = torov(['run', guest('mm'), file]);
  assert.equal(r.status, 0, r.stderr);
  const n = native(guest('mm'), [file]);
  assert.equal(r.stdout, n.stdout);
  assert.match(r.stdout, /^big mmap ENOMEM$/m);
});

test('out of memory is ENOMEM for the program, never a VMM crash', () => {
  const r = torov(['run', '--memory', '32M', guest('oom')]);
  assert.equal(r.status, 0, r.stderr);
  const m = /^malloc failed after (\d+) MiB$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) > 8 && Number(m[1]) <= 32, r.stdout);
});

test('munmap gives memory back to the host: 1 GiB mapped and freed in a loop stays small', () => {
  // Run the VM inside a Node process of our own to read its peak RSS.
  const script = `
    const fs = require('fs');
    const { Machine } = require(${JSON.stringify(path.join(ROOT, 'dist/src/vmm/machine'))});
    const { defaultPolicy } = require(${JSON.stringify(path.join(ROOT, 'dist/src/policy'))});
    const g = ${JSON.stringify(guest('mmloop'))};
    const m = new Machine({ path: g, image: fs.readFileSync(g), argv: [g, '64', '16'], env: [], memory: 128 * 2 ** 20,
      policy: defaultPolicy(), log: (l) => process.stderr.write(l + '\\n') });
    const status = m.run(); m.close();
    process.stdout.write(JSON.stringify({ status, maxRSS: process.resourceUsage().maxRSS }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120_000 });
  const res = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('{'))) as { status: number; maxRSS: number };
  assert.equal(res.status, 0, r.stderr);
  assert.ok(res.maxRSS < 300 * 1024, `peak RSS ${res.maxRSS} KiB after mapping 1 GiB`);   // KiB
});

test('an idle 1 GiB guest costs only the pages it touched', () => {
  const script = `
    const fs = require('fs');
    const { Machine } = require(${JSON.stringify(path.join(ROOT, 'dist/src/vmm/machine'))});
    const { defaultPolicy } = require(${JSON.stringify(path.join(ROOT, 'dist/src/policy'))});
    const g = ${JSON.stringify(guest('hello'))};
    const before = process.memoryUsage().rss;
    const dn = fs.openSync('/dev/null', 'r+');
    const m = new Machine({ path: g, image: fs.readFileSync(g), argv: [g], env: [], memory: 2 ** 30,
      policy: defaultPolicy(), stdio: [dn, dn, dn], log: () => {} });
    m.run();
    const during = process.memoryUsage().rss;
    m.close();
    process.stdout.write(JSON.stringify({ grew: during - before }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  const { grew } = JSON.parse(r.stdout) as { grew: number };
  assert.ok(grew < 32 * 2 ** 20, `RSS grew by ${grew} bytes for a 1 GiB guest`);
});

test('time, identity and signal setup match a native run', () => {
  for (const g of ['time', 'ident', 'signals']) {
    const r = torov(['run', guest(g)]);
    assert.equal(r.status, 0, `${g}: ${r.stderr}`);
    assert.equal(r.stdout, native(guest(g)).stdout, g);
  }
});

test('eventfd, timerfd and copy_file_range', () => {
  const d1 = fs.mkdtempSync(path.join(tmp, 'a')), d2 = fs.mkdtempSync(path.join(tmp, 'b'));
  const r = torov(['run', guest('fdkinds'), d1]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, native(guest('fdkinds'), [d2]).stdout);
});

test('a write to a closed pipe is EPIPE when SIGPIPE is ignored, and kills the program (141) at its default action', () => {
  const r = torov(['run', guest('epipe')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^write=-1 errno=EPIPE$/m);
  const d = torov(['run', guest('epipe'), 'nosig']);
  const n = native(guest('epipe'), ['nosig']);
  assert.equal(n.signal, 'SIGPIPE');
  assert.equal(d.status, 141, d.stderr);
  assert.equal(d.stdout, n.stdout);
  assert.equal(d.stderr, '', 'dies silently, as natively');
});

test('close_range, memfd_create, splice/tee, sync, mlock, prctl and getgroups match a native run', () => {
  const d1 = fs.mkdtempSync(path.join(tmp, 'm')), d2 = fs.mkdtempSync(path.join(tmp, 'n'));
  const r = torov(['run', guest('sysmisc'), d1]);
  assert.equal(r.status, 0, r.stderr);
  const n = native(guest('sysmisc'), [d2]);
  assert.equal(n.status, 0, n.stderr);
  assert.equal(r.stdout, n.stdout);
  assert.match(r.stdout, /^name now: a-rather-long-p /m);
  assert.deepEqual(fs.readdirSync(d1), []);
});

test('bad pointers are EFAULT, never a host access', () => {
  const r = torov(['run', guest('badptr')]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.length >= 10);
  for (const l of lines.slice(0, -1)) assert.match(l, / EFAULT$/);
});

test('CPU-bound code runs and syscalls interleave correctly in a long loop', () => {
  const r = torov(['run', guest('getppid_loop'), '2000', 'write']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(torov(['run', guest('cpuloop'), '1000000']).stdout, 'done\n');
});
