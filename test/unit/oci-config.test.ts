/**
 * torov-oci's reading of config.json (src/oci/config.ts, src/oci/entry.ts): configs like
 * the runtime spec's examples and containerd's, what each becomes for `torov run`, and
 * every refusal, each with its one-line reason. Bundles are temporary directories.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planRun, readConfig, torovRunArgs, sandboxFields, makeMountPoints, OciError, MAX_CONFIG_BYTES, type RunPlan } from '../../src/oci/config';
import { checkEntry, elfProblem } from '../../src/oci/entry';
import { checkId, parseSignal, features } from '../../src/oci/main';

const dirs: string[] = [];
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

/** A bundle with an empty rootfs/ (and whatever `files` adds, relative to the bundle). */
function bundle(files: Record<string, string> = {}): string {
  const b = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-oci-unit-'));
  dirs.push(b);
  fs.mkdirSync(path.join(b, 'rootfs', 'etc'), { recursive: true });
  for (const [f, text] of Object.entries(files)) { fs.mkdirSync(path.dirname(path.join(b, f)), { recursive: true }); fs.writeFileSync(path.join(b, f), text); }
  return b;
}

/** A minimal valid config, with `edit` applied. */
function config(edit: (c: Record<string, any>) => void = () => {}): Record<string, any> {
  const c: Record<string, any> = {
    ociVersion: '1.0.2', root: { path: 'rootfs' },
    process: { args: ['/hello'], env: ['PATH=/bin'], cwd: '/' },
    linux: { namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'mount' }] },
  };
  edit(c);
  return c;
}

/** The runtime spec's example config (its shape: every section it shows), with no terminal. */
function specExample(): Record<string, any> {
  return {
    ociVersion: '1.0.1',
    process: {
      terminal: false,
      user: { uid: 1, gid: 1, additionalGids: [5, 6] },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'], permitted: ['CAP_AUDIT_WRITE'], inheritable: [], effective: [], ambient: [] },
      rlimits: [{ type: 'RLIMIT_CORE', hard: 1024, soft: 1024 }, { type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      apparmorProfile: 'acme_secure_profile',
      oomScoreAdj: 100,
      selinuxLabel: 'system_u:system_r:svirt_lxc_net_t:s0:c124,c675',
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'slartibartfast',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 }],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 32000 }],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 32000 }],
      sysctl: { 'net.ipv4.ip_forward': '1' },
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        memory: { limit: 536870912, reservation: 536870912, swap: 536870912, kernel: -1, swappiness: 0, disableOOMKiller: false },
        cpu: { shares: 1024, quota: 1000000, period: 500000, cpus: '2-3', mems: '0-7' },
        pids: { limit: 32771 },
        blockIO: { weight: 10 },
        hugepageLimits: [{ pageSize: '2MB', limit: 9223372036854772000 }],
        network: { classID: 1048577 },
      },
      cgroupsPath: '/myRuntime/myContainer',
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }, { type: 'cgroup' }],
      maskedPaths: ['/proc/kcore', '/proc/latency_stats'],
      readonlyPaths: ['/proc/asound', '/proc/bus'],
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls: [{ names: ['getcwd', 'chmod'], action: 'SCMP_ACT_ERRNO' }] },
      rootfsPropagation: 'slave',
      mountLabel: 'system_u:object_r:svirt_sandbox_file_t:s0:c715,c811',
    },
    hooks: {
      prestart: [{ path: '/usr/bin/fix-mounts', args: ['fix-mounts', 'arg1', 'arg2'], env: ['key1=value1'] }, { path: '/usr/bin/setup-network' }],
      poststart: [{ path: '/usr/bin/notify-start', timeout: 5 }],
      poststop: [{ path: '/usr/sbin/cleanup.sh', args: ['cleanup.sh', '-f'] }],
    },
    annotations: { 'com.example.key1': 'value1', 'com.example.key2': 'value2' },
  };
}

/** Asserts that planRun refuses `doc` with a message matching `why`. */
function refuses(doc: unknown, why: RegExp, b = bundle()): void {
  assert.throws(() => planRun(doc, b), (e: Error) => {
    assert.ok(e instanceof OciError, `not an OciError: ${e}`);
    assert.match(e.message, why);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

test('the runtime spec\'s example config: what torov honours and what it notes as ignored', () => {
  const b = bundle();
  const plan = planRun(specExample(), b);
  assert.equal(plan.root, fs.realpathSync(path.join(b, 'rootfs')));
  assert.equal(plan.readonly, true);
  assert.deepEqual(plan.args, ['sh']);
  assert.deepEqual(plan.user, { uid: 1, gid: 1 });
  assert.equal(plan.memory, 536870912);
  assert.equal(plan.pids, 32771);
  assert.deepEqual(plan.rlimits, { openFiles: 1024 });
  assert.deepEqual(plan.network, { mode: 'none' });
  assert.equal(plan.terminal, false);
  assert.deepEqual(plan.annotations, { 'com.example.key1': 'value1', 'com.example.key2': 'value2' });
  assert.ok(plan.seccomp !== undefined);
  assert.deepEqual(plan.hooks, {
    prestart: [{ path: '/usr/bin/fix-mounts', args: ['fix-mounts', 'arg1', 'arg2'], env: ['key1=value1'] }, { path: '/usr/bin/setup-network', args: [], env: [] }],
    poststart: [{ path: '/usr/bin/notify-start', args: [], env: [], timeout: 5 }],
    poststop: [{ path: '/usr/sbin/cleanup.sh', args: ['cleanup.sh', '-f'], env: [] }],
  });
  const notes = plan.notes.join('\n');
  assert.equal(plan.hostname, 'slartibartfast');
  for (const ignored of ['RLIMIT_CORE', 'capabilities', 'apparmorProfile', 'oomScoreAdj', 'selinuxLabel', 'additionalGids',
    'mount /proc', 'mount /sys/fs/cgroup', 'linux.resources.cpu', 'linux.resources.blockIO', 'linux.cgroupsPath', 'linux.devices',
    'linux.uidMappings', 'linux.sysctl', 'linux.maskedPaths', 'linux.rootfsPropagation']) {
    assert.ok(notes.includes(ignored), `a note for ${ignored}`);
  }
  const args = torovRunArgs(plan, '/state/policy.json');
  assert.deepEqual(args.slice(0, 10), ['run', '--rootfs', plan.root, '--policy', '/state/policy.json', '--network', 'none', '--workdir', '/', '--env-clear']);
  assert.deepEqual(args.slice(args.indexOf('--')), ['--', 'sh']);
  const pairs = (flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
  assert.deepEqual(pairs('--env'), ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm', 'HOME=/']);
  assert.deepEqual(pairs('--user'), ['1:1']);
  assert.deepEqual(pairs('--memory'), ['512M']);
  assert.deepEqual(pairs('--pids'), ['32771']);
  assert.deepEqual(sandboxFields(plan), { writable: false, rlimits: { openFiles: 1024 } });
});

test('containerd\'s default config (ctr run): a writable root, its own network namespace, /run and /dev noted', () => {
  const b = bundle();
  const plan = planRun(config((c) => {
    c['process'].rlimits = [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }];
    c['mounts'] = [
      { destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['size=65536k'] },
      { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] },
      { destination: '/data', type: 'none', source: b, options: ['rbind', 'rw'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=64m'] },
      { destination: '/dev/shm', type: 'bind', source: b, options: ['bind', 'private'] },
    ];
    c['linux'].resources = { memory: { limit: 100 * 2 ** 20 + 12345 }, pids: { limit: -1 } };
  }), b);
  assert.equal(plan.readonly, false);
  assert.deepEqual(plan.volumes, [{ host: '/etc/hosts', guest: '/etc/hosts', readOnly: true }, { host: fs.realpathSync(b), guest: '/data', readOnly: false }]);
  assert.equal(plan.tmp, 64 * 2 ** 20);
  assert.equal(plan.pids, undefined, 'pids -1 is no limit');
  assert.deepEqual(sandboxFields(plan), { writable: true, tmp: 64 * 2 ** 20, rlimits: { openFiles: 1024 } });
  const args = torovRunArgs(plan, 'p.json');
  assert.ok(args.includes('/etc/hosts:/etc/hosts:ro') && args.includes(`${fs.realpathSync(b)}:/data`));
  // The memory limit is rounded down to torov's 2M steps: the guest never gets more.
  assert.equal(args[args.indexOf('--memory') + 1], '100M');
  assert.ok(plan.notes.some((n) => n.startsWith('mount /run')));
  assert.ok(plan.notes.some((n) => n.startsWith('mount /dev/shm (bind)')), 'a bound /dev/shm (Podman, Docker) is torov\'s own');
});

test('namespaces: no network namespace is the host\'s network; a path is joined', () => {
  const b = bundle();
  assert.deepEqual(planRun(config((c) => { c['linux'].namespaces = [{ type: 'pid' }]; }), b).network, { mode: 'host' });
  const plan = planRun(config((c) => { c['linux'].namespaces = [{ type: 'network', path: '/proc/self/ns/net' }, { type: 'ipc', path: '/proc/self/ns/ipc' }]; }), b);
  assert.deepEqual(plan.network, { mode: 'join', path: '/proc/self/ns/net' });
  assert.ok(plan.notes.some((n) => n.includes('namespace ipc')));
  assert.equal(torovRunArgs(plan, 'p')[6], 'host', 'a joined namespace is entered before torov starts; torov uses it as its network');
});

test('the dev.torov.policy annotation names the policy; linux.seccomp is then ignored', () => {
  const b = bundle({ 'guest.policy.json': '{"defaultAction":"allow"}' });
  const plan = planRun(config((c) => {
    c['annotations'] = { 'dev.torov.policy': 'guest.policy.json' };
    c['linux'].seccomp = { defaultAction: 'SCMP_ACT_ALLOW' };
  }), b);
  assert.equal(plan.policyFile, fs.realpathSync(path.join(b, 'guest.policy.json')));
  assert.equal(plan.seccomp, undefined);
  assert.ok(plan.notes.some((n) => n.includes('linux.seccomp: ignored')));
});

test('refused: malformed configs', () => {
  refuses([], /top level must be an object/);
  refuses(config((c) => { c['ociVersion'] = '0.9'; }), /ociVersion/);
  refuses(config((c) => { delete c['ociVersion']; }), /ociVersion must be a string/);
  refuses(config((c) => { delete c['process']; }), /process is missing/);
  refuses(config((c) => { c['process'].args = []; }), /process.args is empty/);
  refuses(config((c) => { c['process'].args = ['/a', 3]; }), /process.args\[1\] must be a string/);
  refuses(config((c) => { c['process'].args = ['/a\0b']; }), /NUL/);
  refuses(config((c) => { c['process'].env = ['NOEQUALS']; }), /process.env\[0\] must be NAME=VALUE/);
  refuses(config((c) => { c['process'].cwd = 'relative'; }), /process.cwd must be an absolute path/);
  refuses(config((c) => { c['process'].cwd = '/a/../..'; }), /process.cwd must not contain "\.\."/);
  refuses(config((c) => { c['process'].terminal = 'yes'; }), /process.terminal must be true or false/);
  refuses(config((c) => { c['process'].user = { uid: -1, gid: 0 }; }), /process.user.uid is -1/);
  refuses(config((c) => { c['process'].user = { uid: 1.5 }; }), /process.user.uid must be a whole number/);
  refuses(config((c) => { c['process'].rlimits = [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }]; }), /soft 10 is above hard 5/);
  refuses(config((c) => { c['process'].rlimits = [{ type: 'nofile', soft: 10, hard: 10 }]; }), /not an RLIMIT_ name/);
  refuses(config((c) => { c['process'].rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }]; }), /RLIMIT_NOFILE is 1: torov needs at least 3/);
  refuses(config((c) => { c['process'].rlimits = {}; }), /process.rlimits must be a list/);
  refuses(config((c) => { c['hooks'] = { createContainer: [{ path: '/bin/true' }] }; }), /hooks.createContainer run inside the container's namespaces/);
  refuses(config((c) => { c['hooks'] = { startContainer: [{ path: '/bin/true' }] }; }), /hooks.startContainer/);
  refuses(config((c) => { c['hooks'] = { prestop: [{ path: '/bin/true' }] }; }), /hooks.prestop: unknown kind of hook/);
  refuses(config((c) => { c['hooks'] = { prestart: [{ path: 'true' }] }; }), /hooks.prestart\[0\].path must be absolute/);
  refuses(config((c) => { c['hooks'] = { prestart: [{ path: '/bin/true', timeout: 0 }] }; }), /hooks.prestart\[0\].timeout is 0/);
  refuses(config((c) => { c['hooks'] = { poststop: {} }; }), /hooks.poststop must be a list/);
  refuses(config((c) => { c['process'].args = Array(70000).fill('x'); }), /at most 65536/);
  refuses(config((c) => { c['hostname'] = 'h'.repeat(65); }), /is not a host name/);
  refuses(config((c) => { c['hostname'] = 'a b'; }), /is not a host name/);
  refuses(config((c) => { c['hostname'] = 'a\nb'; }), /is not a host name/);
});

test('refused: roots that are missing or leave the bundle', () => {
  refuses(config((c) => { delete c['root']; }), /root is missing/);
  refuses(config((c) => { c['root'] = { path: 'nothere' }; }), /root.path: nothere does not exist/);
  refuses(config((c) => { c['root'] = { path: '../' }; }), /root.path: \.\.\/ leaves the bundle/);
  const b = bundle({ 'afile': 'x' });
  fs.symlinkSync('/usr', path.join(b, 'escape'));
  refuses(config((c) => { c['root'] = { path: 'escape' }; }), /leaves the bundle/, b);
  refuses(config((c) => { c['root'] = { path: 'afile' }; }), /is not a directory/, b);
  refuses(config((c) => { c['root'] = { path: '/' }; }), /host's \/ \(every host file\)/);
  refuses(config((c) => { c['root'] = { path: 'rootfs', readonly: 'no' }; }), /root.readonly must be true or false/);
});

test('refused: mounts torov cannot make, or that leave the bundle', () => {
  const bind = (m: Record<string, unknown>) => config((c) => { c['mounts'] = [m]; });
  refuses(bind({ destination: 'data', type: 'bind', source: '/etc' }), /mounts\[0\].destination must be an absolute path/);
  refuses(bind({ destination: '/data/../..', type: 'bind', source: '/etc' }), /must not contain "\.\."/);
  refuses(bind({ destination: '/data', type: 'bind', source: '/no/such/dir' }), /does not exist/);
  refuses(bind({ destination: '/data', type: 'bind', source: '../../etc' }), /leaves the bundle/);
  refuses(bind({ destination: '/data', type: 'bind', source: '/' }), /host's \/ as a bind mount/);
  refuses(bind({ destination: '/', type: 'bind', source: '/etc' }), /a bind mount on \//);
  refuses(bind({ destination: '/a:b', type: 'bind', source: '/etc' }), /with ":" in it/);
  refuses(bind({ destination: '/data', type: 'tmpfs', source: 'tmpfs' }), /cannot mount tmpfs at \/data/);
  refuses(bind({ destination: '/mnt', type: 'nfs', source: 'server:/x' }), /cannot mount nfs at \/mnt/);
  refuses(bind({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=1k'] }), /from 1M to 32G/);
  refuses(bind({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=lots'] }), /is not a size/);
  refuses(config((c) => { c['mounts'] = {}; }), /mounts must be a list/);
});

test('refused: unknown or repeated namespaces, namespace paths that are not there', () => {
  refuses(config((c) => { c['linux'].namespaces = [{ type: 'galaxy' }]; }), /unknown namespace type "galaxy"/);
  refuses(config((c) => { c['linux'].namespaces = [{ type: 'pid' }, { type: 'pid' }]; }), /pid is given twice/);
  refuses(config((c) => { c['linux'].namespaces = [{ type: 'network', path: 'netns/x' }]; }), /path must be absolute/);
  refuses(config((c) => { c['linux'].namespaces = [{ type: 'network', path: '/run/netns/not-there-torov' }]; }), /does not exist/);
  refuses(config((c) => { c['linux'].namespaces = [{ type: 'network', path: '/proc' }]; }), /is not a namespace file/);
});

test('refused: absurd limits', () => {
  const res = (r: Record<string, unknown>) => config((c) => { c['linux'].resources = r; });
  refuses(res({ memory: { limit: 4096 } }), /memory.limit is 4096 bytes: a torov VM needs at least 16M/);
  refuses(res({ memory: { limit: -2 } }), /memory.limit is -2/);
  refuses(res({ memory: { limit: 1e300 } }), /must be a whole number/);
  refuses(res({ memory: { limit: '1G' } }), /must be a whole number/);
  refuses(res({ pids: { limit: 5 } }), /pids.limit is 5: torov's own threads need 32/);
  // Above torov's largest guest: the limit is a bound, and a smaller guest keeps within it.
  const b = bundle();
  const plan = planRun(res({ memory: { limit: 2 ** 50 } }), b);
  assert.equal(plan.memory, 32 * 2 ** 30);
});

test('refused: policy annotations and seccomp sections that are not there or not objects', () => {
  refuses(config((c) => { c['annotations'] = { 'dev.torov.policy': 'none.json' }; }), /none.json does not exist/);
  refuses(config((c) => { c['annotations'] = { 'dev.torov.policy': '../../../etc/passwd' }; }), /leaves the bundle/);
  refuses(config((c) => { c['annotations'] = { 'dev.torov.policy': 7 }; }), /must be a string/);
  refuses(config((c) => { c['linux'].seccomp = 'default'; }), /linux.seccomp must be an object/);
});

test('readConfig: a missing, oversized or malformed config.json', () => {
  const b = bundle();
  assert.throws(() => readConfig(b), /cannot read .*config.json: no such file/);
  fs.writeFileSync(path.join(b, 'config.json'), '{"ociVersion": ');
  assert.throws(() => readConfig(b), /config.json: not valid JSON/);
  fs.writeFileSync(path.join(b, 'config.json'), ' '.repeat(MAX_CONFIG_BYTES + 1));
  assert.throws(() => readConfig(b), /bytes \(at most/);
  fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(config()));
  assert.deepEqual(readConfig(b).args, ['/hello']);
});

test('mount points: made inside the root, never through a symbolic link', () => {
  const b = bundle();
  const plan = planRun(config((c) => {
    c['mounts'] = [{ destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] },
      { destination: '/srv/data', type: 'bind', source: os.tmpdir(), options: ['rbind'] }];
  }), b);
  const made = makeMountPoints(plan);
  assert.deepEqual(made.map((m) => path.relative(plan.root, m)), ['etc/hosts', 'srv', 'srv/data']);
  assert.ok(fs.statSync(path.join(plan.root, 'etc/hosts')).isFile());
  assert.ok(fs.statSync(path.join(plan.root, 'srv/data')).isDirectory());
  assert.deepEqual(makeMountPoints(plan), [], 'nothing to make the second time');
  const b2 = bundle();
  fs.symlinkSync('/tmp', path.join(b2, 'rootfs', 'out'));
  const p2 = planRun(config((c) => { c['mounts'] = [{ destination: '/out/x', type: 'bind', source: '/etc/hosts' }]; }), b2);
  assert.throws(() => makeMountPoints(p2), /out in the container's root is a symbolic link/);
  // A read-only root is read-only for the guest: its mount points are made, as runc makes
  // them (a pod's pause container: a read-only root, /etc/resolv.conf bound into it).
  const p3 = { ...planRun(config((c) => { c['mounts'] = [{ destination: '/etc/resolv.conf', type: 'bind', source: '/etc/hosts' }]; }), bundle()), readonly: true } as RunPlan;
  assert.deepEqual(makeMountPoints(p3).map((m) => path.relative(p3.root, m)), ['etc/resolv.conf']);
  // What the host cannot make is one line (here: the mount's source went away after create read the config).
  fs.writeFileSync(path.join(b, 'gone'), '');
  const p4 = planRun(config((c) => { c['mounts'] = [{ destination: '/etc/gone', type: 'bind', source: path.join(b, 'gone') }]; }), bundle());
  fs.rmSync(path.join(b, 'gone'));
  assert.throws(() => makeMountPoints(p4), /mount point \/etc\/gone: cannot make \/etc\/gone in the container's root \(ENOENT on the mount's source /);
});

test('the entry program: x86-64 ELF, or a #! script run by one; else one line naming the file', () => {
  const guests = path.join(__dirname, '..', '..', '..', 'test', 'guests');
  const head = (f: string) => fs.readFileSync(path.join(guests, f)).subarray(0, 256);
  assert.equal(elfProblem(head('hello')), undefined);
  assert.equal(elfProblem(head('hello_dyn')), undefined, 'dynamic: torov loads its interpreter from the image');
  assert.match(elfProblem(head('arm64_elf'))!, /another architecture/);
  assert.match(elfProblem(head('not_elf'))!, /not an ELF program/);
  assert.match(elfProblem(Buffer.alloc(10))!, /not an ELF program/);
  const files: Record<string, Buffer> = {
    '/bin/sh': head('hello'), '/app.sh': Buffer.from('#!/bin/sh -e\necho hi\n'), '/nested.sh': Buffer.from('#!/app.sh\n'),
    '/text': Buffer.from('hello\n'), '/arm': head('arm64_elf'), '/bad.sh': Buffer.from('#!/text\n'), '/empty.sh': Buffer.from('#!\n'),
  };
  const opener = (f: string) => {
    if (!files[f]) throw new OciError(`${f}: no such file (in the container's root /r)`);
    return { head: files[f]!, guestPath: f };
  };
  const plan = (args: string[]) => ({ ...planRun(config(), bundle()), args });
  assert.deepEqual(checkEntry(plan(['/bin/sh', '-c', 'x']), opener), ['/bin/sh', '-c', 'x']);
  assert.deepEqual(checkEntry(plan(['/app.sh', 'a']), opener), ['/bin/sh', '-e', '/app.sh', 'a']);
  assert.throws(() => checkEntry(plan(['/text']), opener), /^OciError: \/text: the container's program is not an ELF program/);
  assert.throws(() => checkEntry(plan(['/arm']), opener), /\/arm: the container's program is an ELF program for another architecture/);
  assert.throws(() => checkEntry(plan(['/nested.sh']), opener), /its interpreter \/app.sh is itself a script/);
  assert.throws(() => checkEntry(plan(['/bad.sh']), opener), /its #! interpreter \/text is not an ELF program/);
  assert.throws(() => checkEntry(plan(['/empty.sh']), opener), /names no interpreter/);
  assert.throws(() => checkEntry(plan(['/missing']), opener), /\/missing: no such file/);
  // With the real root: the file is found on the guest's PATH, inside the root.
  const b = bundle();
  fs.mkdirSync(path.join(b, 'rootfs', 'bin'));
  fs.copyFileSync(path.join(guests, 'hello'), path.join(b, 'rootfs', 'bin', 'hello'));
  assert.deepEqual(checkEntry({ ...planRun(config(), b), args: ['hello'] }), ['hello']);
  assert.throws(() => checkEntry({ ...planRun(config(), b), args: ['/bin/nothere'] }), /\/bin\/nothere: .*in the container's root/);
});

test('runtime CLI pieces: container ids, signals, features', () => {
  assert.equal(checkId('abc-1.2_x'), 'abc-1.2_x');
  for (const bad of ['', '../x', 'a/b', '.', '..', '-x', 'x'.repeat(1025), 'a b']) assert.throws(() => checkId(bad), OciError, bad);
  assert.equal(parseSignal(undefined), 15);
  assert.equal(parseSignal('9'), 9);
  assert.equal(parseSignal('SIGKILL'), 9);
  assert.equal(parseSignal('term'), 15);
  assert.equal(parseSignal('SIGRTMIN'), 34);
  assert.equal(parseSignal('RTMIN+2'), 36);
  assert.equal(parseSignal('SIGRTMAX'), 64);
  for (const bad of ['0', '65', 'SIGNOPE', '-9', 'SIGRTMAX+1']) assert.throws(() => parseSignal(bad), OciError, bad);
  const f = features() as { ociVersionMax: string; linux: { namespaces: string[] } };
  assert.equal(f.ociVersionMax, '1.0.2');
  assert.ok(f.linux.namespaces.includes('network'));
});
