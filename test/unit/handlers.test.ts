/** The syscall table's support levels tell the truth about the handlers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SYSCALLS } from '../../src/linux/syscalls';
import { HANDLERS, implementedNames } from '../../src/syscalls/handlers';
import { ALWAYS_ALLOWED } from '../../src/policy/policy';

test('every syscall the table supports has a handler, and every handler is in the table as supported', () => {
  const claimed = SYSCALLS.filter((s) => s.support !== 'none' && !HANDLERS[s.nr]).map((s) => s.name);
  const hidden = SYSCALLS.filter((s) => s.support === 'none' && HANDLERS[s.nr]).map((s) => s.name);
  assert.deepEqual(claimed, [], 'supported in the table but no handler');
  assert.deepEqual(hidden, [], 'a handler exists but the table says none');
});

test('the calls every program needs have handlers', () => {
  for (const name of ALWAYS_ALLOWED) assert.ok(implementedNames().includes(name), name);
  for (const name of ['read', 'write', 'openat', 'close', 'mmap', 'munmap', 'mprotect', 'brk', 'exit_group', 'writev', 'ioctl',
    'clock_gettime', 'statx', 'newfstatat', 'getdents64', 'socket', 'epoll_wait', 'poll', 'prlimit64', 'getrandom']) {
    assert.ok(implementedNames().includes(name), name);
  }
});
