/**
 * Containment (issue 13): a guest cannot take the host's memory, crash its VMM or plant
 * set-id files, and hostile inputs end fast with one line. Each test reproduces a finding
 * of the security review and checks what torov does now.
 */
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, guest, native } from '../helpers';

function tmpdir(t: TestContext, prefix = 'torov-contain-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

// ---- Guest memory that loses its backing ------------------------------------------------

for (const where of ['memfd', 'file'] as const) {
  for (const p of ['exit', 'ring'] as const) {
    test(`a truncated ${where} mapping: syscall pointers into it are EFAULT and the VMM survives (--syscall-path ${p})`, (t) => {
      const dir = tmpdir(t);
      const arg = where === 'memfd' ? 'memfd' : dir;
      const r = torov(['run', '--syscall-path', p, guest('trunc'), 'syscalls', arg]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      const n = native(guest('trunc'), ['syscalls', arg]);
      assert.equal(n.status, 0, n.stderr);
      assert.deepEqual(r.stdout.split('\n'), n.stdout.split('\n'));
      assert.match(r.stdout, /^open\(path in the mapping\) EFAULT$/m);
      assert.match(r.stdout, /^writev\(iovec in the mapping\) EFAULT$/m);
      assert.match(r.stdout, /^poll\(pollfds in the mapping\) EFAULT$/m);
      assert.match(r.stdout, /^pread after a store through the mapping: through the mapping$/m);
      assert.match(r.stdout, /^trunc syscalls done$/m);
    });
  }
}

test('a truncated mapping under --trace: the trace shows the pointer, the VMM survives', () => {
  const r = torov(['run', '--trace', guest('trunc'), 'syscalls', 'memfd']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^open\(0x[0-9a-f]+, O_RDONLY\) = -1 EFAULT \(Bad address\)$/m);
  assert.match(r.stderr, /^write\(\d+, 0x[0-9a-f]+, 8\) = -1 EFAULT \(Bad address\)$/m);
  assert.doesNotMatch(r.stderr, /internal error|killed/);
});

test('the program\'s own load from a truncated mapping is SIGBUS, as natively', () => {
  const r = torov(['run', guest('trunc'), 'touch', 'memfd']);
  assert.equal(r.status, 135, r.stderr);
  assert.match(r.stdout, /^touching the truncated page$/m);
  assert.match(r.stderr, /^torov: SIGBUS: guest memory at rip=0x[0-9a-f]+ is no longer backed \(a mapped file was truncated, or its file system is full\)$/m);
  assert.equal(native(guest('trunc'), ['touch', 'memfd']).signal, 'SIGBUS');
});
