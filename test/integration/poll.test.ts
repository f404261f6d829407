/**
 * Polling: poll, ppoll, select, pselect6 and epoll, compared line by line with a native
 * run of the same guest (guests print no times, only comparisons, so runs are stable).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vmAndNative, torov, guest } from '../helpers';


test('poll, ppoll, select, pselect6 and epoll on a pipe behave as natively', () => {
  const { vm, host } = vmAndNative('poll');
  assert.deepEqual(vm, host);
  assert.ok(vm.includes('epoll_pwait ready 1 data=0xfeedfacecafebeef'));
  assert.ok(vm.includes('poll done'));
});

test('polling corners: POLLNVAL, limits, time left, signal-mask sizes, epoll checks', () => {
  const { vm, host } = vmAndNative('poll_more');
  assert.deepEqual(vm, host);
  // Guest fds that are not open, among them numbers the VMM's own host fds have: all
  // POLLNVAL, none reaches a host fd of the VMM.
  assert.ok(vm.includes('poll 32 closed fds: 32 ready, 32 POLLNVAL, fast=1'));
  assert.ok(vm.includes('select closed fd EBADF'));
  assert.ok(vm.includes('select exceptfds waited=1 bit=0'));
  assert.ok(vm.includes('ppoll read-only timeout returned 0'));
  assert.ok(vm.includes('epoll_pwait2 no timeout ready returned 1'));
  assert.ok(vm.includes('poll_more done'));
});

test('poll with a bad pollfd array is EFAULT', () => {
  const r = torov(['run', guest('badptr')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^poll EFAULT$/m);
});
