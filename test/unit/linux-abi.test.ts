import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SIGKILL, SIGSEGV, SIGSYS, SIGUSR1, defaultAction, signalName, standardSignalName } from '../../src/linux/signal';
import { EFAULT, EINVAL, SysError, fail } from '../../src/linux/errno';
import { GuestFault } from '../../src/machine/memory';
import { VALID_OPEN_FLAGS, O_SYNC, O_TMPFILE } from '../../src/linux/fcntl';

test('signal names are the kernel names; others are numbered', () => {
  assert.equal(signalName(SIGSEGV), 'SIGSEGV');
  assert.equal(signalName(SIGUSR1), 'SIGUSR1');
  assert.equal(signalName(SIGSYS), 'SIGSYS');
  assert.equal(signalName(40), 'signal 40');
  assert.equal(standardSignalName(0), undefined);
  assert.equal(standardSignalName(32), undefined);
});

test('default actions as signal(7) lists them', () => {
  // The signals whose default action ends the process (term or core).
  const fatal = [];
  for (let s = 1; s <= 31; s++) if (defaultAction(s) === 'term' || defaultAction(s) === 'core') fatal.push(s);
  assert.deepEqual(fatal, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 25, 26, 27, 29, 30, 31]);
  assert.equal(defaultAction(SIGKILL), 'term');
  assert.equal(defaultAction(17), 'ign');
  assert.equal(defaultAction(18), 'cont');
  assert.equal(defaultAction(19), 'stop');
  assert.equal(defaultAction(34), 'term');
});

test('SysError: one shared instance per errno', () => {
  assert.equal(SysError.of(EINVAL), SysError.of(EINVAL));
  assert.equal(SysError.of(EINVAL).errno, EINVAL);
  assert.throws(() => fail(EFAULT), (e: unknown) => e instanceof SysError && e.errno === EFAULT);
});

test('GuestFault is the EFAULT case of SysError, with its range', () => {
  const f = new GuestFault(0x1000, 8);
  assert.ok(f instanceof SysError);
  assert.equal(f.errno, EFAULT);
  assert.deepEqual([f.addr, f.len], [0x1000, 8]);
});

test('composite open flags have the kernel values', () => {
  // include/linux/fcntl.h's VALID_OPEN_FLAGS, and O_SYNC / O_TMPFILE as asm-generic/fcntl.h composes them.
  assert.equal(VALID_OPEN_FLAGS, 0o37777703);
  assert.equal(O_SYNC, 0o4010000);
  assert.equal(O_TMPFILE, 0o20200000);
});
