import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import {
  EAGAIN, EBADF, EHWPOISON, ENOENT, ENOSYS, EOPNOTSUPP, EPERM, ERRNO, EWOULDBLOCK, MAX_ERRNO,
  errnoByName, errnoName, strerror,
} from '../../src/linux/errno';

test('errno constants have the Linux x86-64 values', () => {
  assert.equal(EPERM, 1);
  assert.equal(ENOENT, 2);
  assert.equal(EBADF, 9);
  assert.equal(EAGAIN, 11);
  assert.equal(ENOSYS, 38);
  assert.equal(EOPNOTSUPP, 95);
  assert.equal(EHWPOISON, 133);
  assert.equal(EWOULDBLOCK, EAGAIN);
  assert.equal(MAX_ERRNO, 4095);
});

test('ERRNO covers 1..133 except the alias slots 41 and 58, once each', () => {
  const values = Object.values(ERRNO).sort((a, b) => a - b);
  const expected: number[] = [];
  for (let n = 1; n <= 133; n++) if (n !== 41 && n !== 58) expected.push(n);
  assert.deepEqual(values, expected);
});

test('errnoName and errnoByName', () => {
  assert.equal(errnoName(2), 'ENOENT');
  assert.equal(errnoName(11), 'EAGAIN');
  assert.equal(errnoName(95), 'EOPNOTSUPP');
  assert.equal(errnoName(999), 'E999');
  assert.equal(errnoName(41), 'E41');
  assert.equal(errnoByName('ENOENT'), 2);
  assert.equal(errnoByName('EWOULDBLOCK'), 11);
  assert.equal(errnoByName('EDEADLOCK'), 35);
  assert.equal(errnoByName('ENOTSUP'), 95);
  assert.equal(errnoByName('enoent'), undefined);
  assert.equal(errnoByName('toString'), undefined);
  assert.equal(errnoByName('EFOO'), undefined);
  for (const [name, n] of Object.entries(ERRNO)) {
    assert.equal(errnoName(n), name);
    assert.equal(errnoByName(name), n);
  }
});

test('strerror gives the glibc messages', () => {
  assert.equal(strerror(1), 'Operation not permitted');
  assert.equal(strerror(2), 'No such file or directory');
  assert.equal(strerror(9), 'Bad file descriptor');
  assert.equal(strerror(11), 'Resource temporarily unavailable');
  assert.equal(strerror(14), 'Bad address');
  assert.equal(strerror(38), 'Function not implemented');
  assert.equal(strerror(88), 'Socket operation on non-socket');
  assert.equal(strerror(97), 'Address family not supported by protocol');
  assert.equal(strerror(98), 'Address already in use');
  assert.equal(strerror(110), 'Connection timed out');
  assert.equal(strerror(111), 'Connection refused');
  assert.equal(strerror(133), 'Memory page has hardware error');
  assert.equal(strerror(9999), 'Unknown error 9999');
  for (const n of Object.values(ERRNO)) assert.doesNotMatch(strerror(n), /^Unknown error/, `message for ${errnoName(n)}`);
});

test('matches the installed asm-generic errno headers', (t) => {
  const files = ['/usr/include/asm-generic/errno-base.h', '/usr/include/asm-generic/errno.h'];
  if (!files.every((f) => existsSync(f))) {
    t.skip('asm-generic errno headers not installed');
    return;
  }
  let count = 0;
  for (const f of files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^#define\s+(E[A-Z0-9]+)\s+(\d+|E[A-Z0-9]+)\b/gm)) {
      const [, name, value] = m as unknown as [string, string, string];
      const n = /^\d+$/.test(value) ? Number(value) : errnoByName(value);
      assert.equal(errnoByName(name), n, name);
      count++;
    }
  }
  assert.ok(count >= 130, `parsed ${count} errno definitions`);
});
