/**
 * The pure parts of torov-oci's pause, update and events (src/oci/update.ts,
 * src/oci/cgroups.ts): runc's update flags and resources documents, and every refusal;
 * a process's cgroup directories from /proc/PID/cgroup and mountinfo; the stats object
 * from cgroup files (read through a fake reader: the files' formats as the kernel writes
 * them, v1 and v2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { updateFromFlags, updateFromResources, parseBytes, sharesToWeight, isEmpty } from '../../src/oci/update';
import { cgroupDirs, buildStats, statsJson, keyValues, oomKills, runCgroups, type CgDir, type CgReader } from '../../src/oci/cgroups';
import { OciError } from '../../src/oci/config';

const throwsOci = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof OciError && re.test(e.message) && !e.message.includes('\n'));

test('parseBytes: bytes, binary units as docker reads them, -1', () => {
  assert.equal(parseBytes('1048576', 'x'), 1048576);
  assert.equal(parseBytes('512m', 'x'), 512 * 2 ** 20);
  assert.equal(parseBytes('512M', 'x'), 512 * 2 ** 20);
  assert.equal(parseBytes('1.5g', 'x'), 1.5 * 2 ** 30);
  assert.equal(parseBytes('64MiB', 'x'), 64 * 2 ** 20);
  assert.equal(parseBytes('64mb', 'x'), 64 * 2 ** 20);
  assert.equal(parseBytes('2k', 'x'), 2048);
  assert.equal(parseBytes('100b', 'x'), 100);
  assert.equal(parseBytes('-1', 'x'), -1);
  for (const bad of ['', 'm', '1x', '-2', '1 2', '0x10', '1e9', '99999999999p']) throwsOci(() => parseBytes(bad, '--memory'), /--memory/);
});

test('update flags: what runc\'s take, 0 as unset, --cpu-shares for --cpu-share', () => {
  assert.deepEqual(updateFromFlags({ memory: '256m', 'pids-limit': '100', 'cpu-quota': '50000', 'cpu-period': '100000', 'cpu-share': '512', 'cpu-burst': '1000' }),
    { notes: [], memory: 256 * 2 ** 20, pids: 100, cpuShares: 512, cpuQuota: 50000, cpuPeriod: 100000, cpuBurst: 1000 });
  assert.deepEqual(updateFromFlags({ memory: '-1', 'pids-limit': '-1', 'cpu-quota': '-1' }), { notes: [], memory: -1, pids: -1, cpuQuota: -1 });
  // 0 leaves a value as it is (runc's "unset")
  assert.ok(isEmpty(updateFromFlags({ 'pids-limit': '0', 'cpu-share': '0', 'cpu-quota': '0', 'cpu-period': '0', memory: '0', 'blkio-weight': '0' })));
  assert.ok(isEmpty(updateFromFlags({})));
  // no swap: equal to the memory limit (what containerd sends) or 0
  assert.deepEqual(updateFromFlags({ memory: '1g', 'memory-swap': '1g' }), { notes: [], memory: 2 ** 30 });
  assert.deepEqual(updateFromFlags({ 'kernel-memory': '1g' }).notes, ['--kernel-memory: ignored (kernel memory limits are obsolete; runc ignores them too)']);
});

test('update flags: what a torov run cannot change is one line each', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ 'blkio-weight': '500' }, /--blkio-weight cannot be changed: a torov run has no blkio cgroup/],
    [{ 'cpuset-cpus': '0' }, /--cpuset-cpus cannot be changed/],
    [{ 'cpuset-mems': '0-1' }, /--cpuset-mems cannot be changed/],
    [{ 'cpu-rt-runtime': '950000' }, /realtime/],
    [{ 'cpu-rt-period': '1000000' }, /realtime/],
    [{ 'memory-reservation': '64m' }, /--memory-reservation cannot be changed/],
    [{ 'l3-cache-schema': 'L3:0=ff' }, /Intel RDT/],
    [{ 'cpu-idle': '1' }, /--cpu-idle cannot be changed/],
    [{ 'memory-swap': '2g' }, /memory swap 2147483648 cannot be set: a torov run has no swap/],
    [{ memory: '1g', 'memory-swap': '2g' }, /no swap/],
    [{ 'pids-limit': '32' }, /pids limit 32 is too small: .* at least 33/],
    [{ 'pids-limit': 'many' }, /invalid --pids-limit "many"/],
    [{ 'pids-limit': '-2' }, /invalid --pids-limit/],
    [{ 'cpu-share': '1' }, /cpu shares 1 out of range/],
    [{ 'cpu-share': '300000' }, /out of range/],
    [{ 'cpu-period': '500' }, /cpu period 500 out of range/],
    [{ 'cpu-quota': '999' }, /cpu quota 999 too small/],
    [{ 'cpu-quota': '1.5' }, /invalid --cpu-quota/],
    [{ memory: '8m' }, /memory limit 8388608 bytes is too small/],
    [{ memory: 'lots' }, /invalid --memory "lots"/],
  ];
  for (const [flags, why] of cases) throwsOci(() => updateFromFlags(flags), why);
});

test('update -r: linux.resources as containerd sends it; what create ignores is ignored; the rest refused', () => {
  // What containerd's CRI sends for a Kubernetes resize: the whole linux.resources again.
  const cri = {
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }],
    memory: { limit: 268435456, swap: 268435456 },
    cpu: { shares: 256, quota: 50000, period: 100000 },
    hugepageLimits: [{ pageSize: '2MB', limit: 0 }, { pageSize: '1GB', limit: 0 }],
  };
  assert.deepEqual(updateFromResources(JSON.stringify(cri)),
    { notes: ['devices: ignored, as at create', 'hugepageLimits: ignored, as at create'], memory: 268435456, cpuShares: 256, cpuQuota: 50000, cpuPeriod: 100000 });
  // What ctr / runc's own help shows, zeros meaning unchanged.
  assert.ok(isEmpty(updateFromResources(JSON.stringify({ memory: { limit: 0, reservation: 0, swap: 0 }, cpu: { shares: 0, quota: 0, period: 0, realtimeRuntime: 0, realtimePeriod: 0, cpus: '', mems: '' }, blockIO: { weight: 0 } }))));
  assert.deepEqual(updateFromResources('{"pids":{"limit":200},"memory":{"limit":-1}}'), { notes: [], pids: 200, memory: -1 });
  assert.deepEqual(updateFromResources('{"futureThing":{"x":1}}').notes, ['futureThing: unknown, ignored']);
  const cases: Array<[string, RegExp]> = [
    ['{"cpu":{"cpus":"0-1"}}', /cpu.cpus cannot be changed: a torov run has no cpuset cgroup/],
    ['{"cpu":{"mems":"0"}}', /cpu.mems cannot be changed/],
    ['{"cpu":{"realtimeRuntime":1000}}', /realtime/],
    ['{"blockIO":{"weight":300}}', /blockIO cannot be changed/],
    ['{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1000}]}}', /blockIO cannot be changed/],
    ['{"unified":{"memory.high":"100M"}}', /unified .* cannot be changed/],
    ['{"memory":{"reservation":1000000}}', /memory.reservation cannot be changed/],
    ['{"memory":{"limit":"256m"}}', /memory.limit must be a whole number/],
    ['{"memory":{"limit":1.5}}', /memory.limit must be a whole number/],
    ['{"memory":{"limit":268435456,"swap":536870912}}', /no swap/],
    ['{"pids":{"limit":5}}', /too small/],
    ['{"memory":[]}', /memory must be an object/],
    ['[]', /must be a JSON object/],
    ['{"memory":', /not JSON/],
    ['', /not JSON/],
  ];
  for (const [text, why] of cases) throwsOci(() => updateFromResources(text), why);
  throwsOci(() => updateFromResources(' '.repeat(1024 * 1024 + 1)), /over 1 MiB/);
});

test('sharesToWeight: cgroup v1 shares onto v2 weight (2 -> 1, 1024 -> 39, 262144 -> 10000)', () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(262144), 10000);
});

const MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
  '39 31 0:36 /outer /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

test('cgroupDirs: each hierarchy of /proc/PID/cgroup where this process mounts it', () => {
  const proc = ['9:name=systemd:/', '8:pids:/outer/torov-41', '6:freezer:/', '4:memory:/a b/torov-41', '2:cpu,cpuacct:/torov-41', '1:blkio:/', '0::/user.slice'].join('\n');
  assert.deepEqual(cgroupDirs(proc, MOUNTINFO), [
    { version: 1, dir: '/sys/fs/cgroup/systemd', controllers: [] },
    { version: 1, dir: '/sys/fs/cgroup/pids/torov-41', controllers: ['pids'] },
    { version: 1, dir: '/sys/fs/cgroup/freezer', controllers: ['freezer'] },
    { version: 1, dir: '/sys/fs/cgroup/memory/a b/torov-41', controllers: ['memory'] },
    { version: 1, dir: '/sys/fs/cgroup/cpu,cpuacct/torov-41', controllers: ['cpu', 'cpuacct'] },
    { version: 2, dir: '/sys/fs/cgroup/unified/user.slice', controllers: [] },
  ], 'blkio is not mounted here: left out; the pids mount shows /outer as its root');
  // A cgroup outside what the mount shows is left out.
  assert.deepEqual(cgroupDirs('8:pids:/elsewhere/torov-1', MOUNTINFO), []);
});

test('runCgroups: a process that no longer exists has none', () => {
  assert.deepEqual(runCgroups(2 ** 22 + 7, 2 ** 22 + 8), []);
});

/** A fake cgroup filesystem: dir/file -> text. */
const reader = (files: Record<string, string>): CgReader => (dir, file) => files[`${dir}/${file}`];

test('buildStats: cgroup v1 (cpuacct with cpu, memory with memsw and kmem, pids) in runc\'s shape; counters past 2^53 exact', () => {
  const dirs: CgDir[] = [
    { version: 1, dir: '/m', controllers: ['memory'] }, { version: 1, dir: '/c', controllers: ['cpu', 'cpuacct'] }, { version: 1, dir: '/p', controllers: ['pids'] },
  ];
  const rd = reader({
    '/c/cpuacct.usage': '15461234\n', '/c/cpuacct.usage_percpu': '10816446 4644788 \n', '/c/cpuacct.stat': 'user 3\nsystem 1\n',
    '/c/cpu.stat': 'nr_periods 10\nnr_throttled 2\nthrottled_time 5000\nnr_bursts 0\nburst_time 0\n',
    '/m/memory.limit_in_bytes': '268435456\n', '/m/memory.usage_in_bytes': '454656\n', '/m/memory.max_usage_in_bytes': '2768896\n', '/m/memory.failcnt': '0\n',
    '/m/memory.memsw.limit_in_bytes': '268435456\n', '/m/memory.memsw.usage_in_bytes': '454656\n', '/m/memory.memsw.max_usage_in_bytes': '2768896\n', '/m/memory.memsw.failcnt': '0\n',
    '/m/memory.kmem.limit_in_bytes': '9223372036854771712\n', '/m/memory.kmem.usage_in_bytes': '405504\n', '/m/memory.kmem.max_usage_in_bytes': '581632\n', '/m/memory.kmem.failcnt': '0\n',
    '/m/memory.stat': 'cache 12288\nrss 4096\nhierarchical_memory_limit 9223372036854771712\n',
    '/m/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    '/p/pids.current': '9\n', '/p/pids.max': 'max\n',
  });
  const s = buildStats(dirs, rd, { user: 999, system: 999 }, 100);
  assert.equal(statsJson({ type: 'stats', id: 'x', data: s }), '{"type":"stats","id":"x","data":{'
    + '"cpu":{"usage":{"total":15461234,"percpu":[10816446,4644788],"kernel":10000000,"user":30000000},"throttling":{"periods":10,"throttledPeriods":2,"throttledTime":5000}},'
    + '"memory":{"cache":12288,"usage":{"limit":268435456,"usage":454656,"max":2768896,"failcnt":0},"swap":{"limit":268435456,"usage":454656,"max":2768896,"failcnt":0},'
    + '"kernel":{"limit":9223372036854771712,"usage":405504,"max":581632,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0},'
    + '"raw":{"cache":12288,"rss":4096,"hierarchical_memory_limit":9223372036854771712}},'
    + '"pids":{"current":9},"blkio":{},"hugetlb":{},"intel_rdt":{},"network_interfaces":null}}');
  assert.equal(oomKills(dirs, rd), 2);
});

test('buildStats: cgroup v2 (cpu.stat in µs, memory.max "max" as 2^64-1, memory+swap); no cpuacct: the processes\' times', () => {
  const v2: CgDir[] = [{ version: 2, dir: '/r', controllers: ['memory', 'pids', 'cpu'] }];
  const rd = reader({
    '/r/cpu.stat': 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n',
    '/r/memory.max': 'max\n', '/r/memory.current': '1000\n', '/r/memory.peak': '5000\n', '/r/memory.swap.current': '0\n', '/r/memory.swap.max': '0\n',
    '/r/memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n', '/r/memory.stat': 'anon 100\nfile 200\n',
    '/r/pids.current': '4\n', '/r/pids.max': '100\n',
  });
  const s = JSON.parse(statsJson(buildStats(v2, rd, { user: 0, system: 0 }, 100).valueOf())) as Record<string, any>;
  assert.deepEqual(s['cpu'], { usage: { total: 2000000, kernel: 500000, user: 1500000 }, throttling: {} });
  assert.deepEqual(s['memory'].usage, { limit: 18446744073709552000, usage: 1000, max: 5000, failcnt: 3 });
  assert.match(statsJson(buildStats(v2, rd, { user: 0, system: 0 }, 100)), /"usage":\{"limit":18446744073709551615,"usage":1000/);
  assert.deepEqual(s['memory'].swap, { limit: 18446744073709552000, usage: 1000, failcnt: 0 });
  assert.equal(s['memory'].cache, 200);
  assert.deepEqual(s['pids'], { current: 4, limit: 100 });
  assert.equal(oomKills(v2, rd), 1);
  // v1 without cpuacct in the run's cpu cgroup: user and system ticks of its processes.
  const noAcct = buildStats([{ version: 1, dir: '/c', controllers: ['cpu'] }], reader({ '/c/cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n' }), { user: 14, system: 4 }, 100);
  assert.deepEqual((noAcct['cpu'] as Record<string, unknown>)['usage'], { total: 180000000, kernel: 40000000, user: 140000000 });
  // No cgroups at all: empty sections, not an error.
  assert.deepEqual(buildStats([], reader({}), { user: 0, system: 0 }, 100)['memory'], {});
  assert.equal(oomKills([], reader({})), undefined);
});

test('keyValues: numbers only, big ones as bigints', () => {
  assert.deepEqual(keyValues('a 1\nb x\n c 18446744073709551615\n\nd\n'), { a: 1, c: 18446744073709551615n });
});
