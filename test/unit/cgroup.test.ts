/**
 * The run's cgroup, its pure parts: where each controller's cgroup goes (cgroup v1, v2, the
 * hybrid layout), and the limits derived from a run's memory, files, threads and CPUs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planCgroups, cgroupMounts, runLimits, shmBudget, joined, VMM_ALLOWANCE, VMM_ALLOWANCE_PER_THREAD, KERNEL_BUFFERS, VMM_TASKS } from '../../src/sandbox/cgroup';
import type { RunCgroup } from '../../src/sandbox/cgroup';

const MiB = 2 ** 20;

// The hybrid layout of the machines torov is developed on: v1 controllers, an empty v2.
const HYBRID_MOUNTS = `
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const HYBRID_CGROUP = '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/4de0\n2:cpuacct:/\n1:cpu:/\n0::/\n';

test('cgroup v1 (and the hybrid layout): one cgroup per controller\'s hierarchy, below the one torov is in', () => {
  assert.deepEqual(planCgroups(HYBRID_CGROUP, HYBRID_MOUNTS, 'torov-42'), [
    { version: 1, dir: '/sys/fs/cgroup/memory/process_api/4de0/torov-42', controllers: ['memory'] },
    { version: 1, dir: '/sys/fs/cgroup/pids/torov-42', controllers: ['pids'] },
    { version: 1, dir: '/sys/fs/cgroup/cpu/torov-42', controllers: ['cpu'] },
    // cpuacct mounted apart from cpu: a directory too, which only counts the run's CPU time.
    { version: 1, dir: '/sys/fs/cgroup/cpuacct/torov-42', controllers: ['cpuacct'] },
  ]);
  // Co-mounted controllers (cpu,cpuacct) share one directory, which counts the time already.
  const co = HYBRID_MOUNTS.replace('rw,cpu\n', 'rw,cpu,cpuacct\n').replace(/^.*rw,cpuacct\n/m, '');
  const plan = planCgroups('4:memory:/\n2:cpu,cpuacct:/user.slice\n8:pids:/\n', co, 'x');
  assert.deepEqual(plan.find((d) => d.controllers.includes('cpu')), { version: 1, dir: '/sys/fs/cgroup/cpu/user.slice/x', controllers: ['cpu'] });
  assert.equal(plan.length, 3, 'no cpuacct directory of its own');
});

test('cgroup v2: one cgroup for every controller, below the one torov is in; a mount of a subtree maps paths', () => {
  const mounts = '30 23 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n';
  assert.deepEqual(planCgroups('0::/user.slice/user-1000.slice/session-2.scope\n', mounts, 'torov-7'), [
    { version: 2, dir: '/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/torov-7', controllers: ['memory', 'pids', 'cpu'] },
  ]);
  // A container that sees only its own subtree, mounted at /sys/fs/cgroup.
  const sub = '30 23 0:27 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
  assert.deepEqual(planCgroups('0::/docker/abc/app\n', sub, 't')[0]!.dir, '/sys/fs/cgroup/app/t');
  // Our cgroup outside what the mount shows: nowhere to go.
  assert.deepEqual(planCgroups('0::/elsewhere\n', sub, 't'), []);
  // No cgroup file system at all.
  assert.deepEqual(planCgroups('0::/\n', '22 27 0:21 / /proc rw - proc proc rw\n', 't'), []);
});

test('mountinfo escapes (a space in a mount point) are read back', () => {
  const m = cgroupMounts('41 31 0:38 / /sys/fs/cgroup/with\\040space rw - cgroup2 cgroup2 rw\n');
  assert.equal(m[0]!.mountPoint, '/sys/fs/cgroup/with space');
});

test('a run\'s limits: its memory, its in-memory files, kernel buffers and the VMM; threads; CPUs plus one', () => {
  assert.equal(shmBudget(64 * MiB), 32 * MiB);
  assert.equal(shmBudget(64 * MiB, 8 * MiB), 8 * MiB);
  assert.equal(shmBudget(1 * MiB), 1 * MiB);             // never below 1 MiB
  const l = runLimits({ guestMemory: 64 * MiB, shm: 32 * MiB, threads: 4 });
  assert.equal(l.memory, 64 * MiB + 32 * MiB + VMM_ALLOWANCE + 4 * VMM_ALLOWANCE_PER_THREAD + KERNEL_BUFFERS);
  assert.equal(l.pids, VMM_TASKS + 4);
  assert.equal(l.cpus, undefined);
  assert.equal(runLimits({ guestMemory: 64 * MiB, shm: 0, threads: 1, pids: 40, cpus: 2 }).pids, 40);
  assert.equal(runLimits({ guestMemory: 64 * MiB, shm: 0, threads: 1, cpus: 2 }).cpus, 3);
});

test('the launcher\'s answer to "join": a directory it could not enter is dropped, its controllers missing with the errno', () => {
  const mem = { version: 1 as const, dir: '/sys/fs/cgroup/memory/torov-7', controllers: ['memory' as const] };
  const pids = { version: 1 as const, dir: '/sys/fs/cgroup/pids/torov-7', controllers: ['pids' as const] };
  const cg: RunCgroup = { dirs: [mem, pids], missing: new Map([['cpu', 'no cgroup hierarchy has this controller']]), joining: [mem, pids] };
  const both = joined(cg, 'joined 0 0');
  assert.deepEqual(both.dirs, [mem, pids]);
  assert.deepEqual([...both.missing.keys()], ['cpu']);
  assert.equal(both.joining, undefined);
  const one = joined(cg, 'joined 0 13');
  assert.deepEqual(one.dirs, [mem]);
  assert.equal(one.missing.get('pids'), 'cannot enter /sys/fs/cgroup/pids/torov-7 (EACCES)');
  // No answer (the launcher closed the socket), or a short one: nothing was entered that it did not confirm.
  for (const reply of ['', 'joined 0', 'something else']) {
    const r = joined(cg, reply);
    assert.ok(!r.dirs.includes(pids), reply);
    assert.match(r.missing.get('pids') ?? '', /the launcher did not answer/);
  }
  // Nothing to move: as it was.
  const none: RunCgroup = { dirs: [mem], missing: new Map(), joining: [] };
  assert.equal(joined(none, ''), none);
});
