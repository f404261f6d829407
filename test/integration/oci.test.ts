/**
 * torov-oci (issue 14), on real KVM:
 *  - the runtime's own commands on a bundle (create, state, start, kill, delete, run), its
 *    refusals of hostile configs, and what it leaves behind (nothing);
 *  - containerd's runc shim driving it: `ctr run --runc-binary bin/torov-oci` against the
 *    same run with runc, exit statuses, `ctr task kill`, a server reached through its
 *    network namespace and the host's, /dev/kvm held by the container's process, Docker's
 *    default seccomp profile as the guest's policy;
 *  - Docker's daemon with torov-oci as a runtime (`docker run --runtime torov`).
 * The containerd tests use the containerd at TOROV_CONTAINERD_SOCKET (.ci/run starts one
 * with test/oci/containerd.sh), or start a private one the same way; without containerd,
 * ctr and runc installed they are skipped, with the reason shown.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, guest, scratchDir, LIMIT } from '../helpers';

const RUNTIME = path.join(ROOT, 'bin', 'torov-oci');
const IMAGE = 'docker.io/torov/guests:latest';
const NS = 'torov-oci-test';

/** torov-oci with a private state root; returns status and output. */
function oci(stateRoot: string, args: string[], opts: { log?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const argv = ['--root', stateRoot, ...(opts.log ? ['--log', opts.log, '--log-format', 'json'] : []), ...args];
  if (args[0] !== 'create' && !(args[0] === 'exec' && args.includes('--detach'))) {
    const r = cp.spawnSync(RUNTIME, argv, { encoding: 'utf8', ...LIMIT, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}), ...(opts.input !== undefined ? { input: opts.input } : {}) });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  // create (and exec --detach) leaves the container's process with its stdio: files, not pipes this process would stop reading.
  const dir = scratchDir('torov-oci-stdio-');
  const out = fs.openSync(path.join(dir, 'out'), 'w'), err = fs.openSync(path.join(dir, 'err'), 'w');
  const r = cp.spawnSync(RUNTIME, argv, { stdio: ['ignore', out, err], ...LIMIT, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  fs.closeSync(out); fs.closeSync(err);
  return { status: r.status, stdout: fs.readFileSync(path.join(dir, 'out'), 'utf8'), stderr: fs.readFileSync(path.join(dir, 'err'), 'utf8') };
}

/** A bundle: rootfs/ with the test guests, and config.json from `edit` applied to a ctr-like config. */
function makeBundle(edit: (c: Record<string, any>, bundle: string) => void = () => {}): string {
  const b = scratchDir('torov-oci-bundle-');
  const rootfs = path.join(b, 'rootfs');
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  for (const g of ['hello', 'fault', 'oci_probe']) fs.copyFileSync(guest(g), path.join(rootfs, g));
  fs.writeFileSync(path.join(rootfs, 'not-a-program'), 'just text\n', { mode: 0o755 });
  const c: Record<string, any> = {
    ociVersion: '1.0.2-dev',
    process: { user: { uid: 0, gid: 0 }, args: ['/hello'], env: ['PATH=/usr/bin:/bin'], cwd: '/', rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }], noNewPrivileges: true },
    root: { path: 'rootfs' },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs' }],
    linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }], resources: { memory: { limit: 128 * 2 ** 20 } } },
  };
  edit(c, b);
  fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(c));
  return b;
}

/** The process and its descendants. */
function tree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const t of fs.readdirSync(`/proc/${out[i]}/task`, { withFileTypes: false }).map(String)) {
      try { out.push(...fs.readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)); } catch { /* gone */ }
    }
  }
  return out;
}

const exists = (pid: number) => { try { const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); return !/^\d+ \(.*\) [ZX]/.test(s); } catch { return false; } };
const holdsKvm = (pid: number) => { try { return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === '/dev/kvm'; } catch { return false; } }); } catch { return false; } };

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  for (const t0 = Date.now(); !cond(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
  }
}

// ---- The runtime alone --------------------------------------------------------------

const state = scratchDir('torov-oci-state-');
after(() => {
  // Whatever a failed test left: kill and remove it (never anything outside this root).
  for (const id of fs.existsSync(state) ? fs.readdirSync(state) : []) oci(state, ['delete', '--force', id]);
});

test('create stops before the first instruction; start runs it; state tells; delete leaves nothing', async () => {
  const b = makeBundle((c) => { c.process.args = ['/oci_probe', 'args', 'a', 'b c']; });
  const out = path.join(b, 'out');
  const pidFile = path.join(b, 'pid');
  const fd = fs.openSync(out, 'w');
  const r = cp.spawnSync(RUNTIME, ['--root', state, 'create', '--bundle', b, '--pid-file', pidFile, 'c1'], { stdio: ['ignore', fd, fd], ...LIMIT });
  fs.closeSync(fd);
  assert.equal(r.status, 0, fs.readFileSync(out, 'utf8'));
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  const st = JSON.parse(oci(state, ['state', 'c1']).stdout);
  assert.deepEqual({ ...st, created: undefined }, { ociVersion: '1.0.2', id: 'c1', pid, status: 'created', bundle: b, rootfs: fs.realpathSync(path.join(b, 'rootfs')), created: undefined, owner: '', annotations: {} });
  // The container's process exists, its VM is built (the VMM holds /dev/kvm), and the program has not run.
  assert.ok(exists(pid));
  assert.ok(tree(pid).some(holdsKvm), 'the container process is a torov VM');
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(fs.readFileSync(out, 'utf8'), '', 'nothing ran before start');
  assert.equal(oci(state, ['delete', 'c1']).status, 1, 'a created container is not deleted without --force');
  assert.equal(oci(state, ['start', 'c1']).status, 0);
  await until('the program to end', () => !exists(pid));
  assert.equal(fs.readFileSync(out, 'utf8'), '[a]\n[b c]\n');
  assert.equal(JSON.parse(oci(state, ['state', 'c1']).stdout).status, 'stopped');
  assert.match(oci(state, ['start', 'c1']).stderr, /stopped/);
  assert.equal(oci(state, ['delete', 'c1']).status, 0);
  assert.deepEqual(fs.readdirSync(state), []);
  assert.match(oci(state, ['state', 'c1']).stderr, /container "c1" does not exist/);
  assert.equal(oci(state, ['delete', '--force', 'c1']).status, 0, 'delete --force of a missing container succeeds (the shim calls it twice)');
});

test('kill: a signal reaches the program; ps lists the run; delete --force ends a running one', async () => {
  const b = makeBundle((c) => { c.process.args = ['/oci_probe', 'sleep']; });
  assert.equal(oci(state, ['create', '--bundle', b, 'k1']).status, 0);
  assert.equal(oci(state, ['start', 'k1']).status, 0);
  const st = JSON.parse(oci(state, ['state', 'k1']).stdout);
  assert.equal(st.status, 'running');
  const pids = JSON.parse(oci(state, ['ps', '--format', 'json', 'k1']).stdout) as number[];
  assert.equal(pids[0], st.pid);
  assert.ok(pids.length >= 2, 'the launcher and its VMM');
  assert.equal(oci(state, ['kill', 'k1', 'TERM']).status, 0);
  await until('SIGTERM to end the program', () => !exists(st.pid));
  assert.match(oci(state, ['kill', 'k1', 'KILL']).stderr, /container not running/);
  assert.equal(oci(state, ['delete', 'k1']).status, 0);
  // delete --force of a running container
  assert.equal(oci(state, ['create', '--bundle', b, 'k2']).status, 0);
  const pid2 = JSON.parse(oci(state, ['state', 'k2']).stdout).pid as number;
  const all = tree(pid2);
  assert.equal(oci(state, ['start', 'k2']).status, 0);
  assert.equal(oci(state, ['delete', '--force', 'k2']).status, 0);
  await until('every process of the run to end', () => !all.some(exists));
  assert.deepEqual(fs.readdirSync(state), []);
});

test('native front end: a plain container is created by its VMM, and started, killed and deleted without Node; the rest is Node\'s, with its errors', async () => {
  // Without node on PATH, bin/torov-oci can only do what it does itself (src/launcher/oci-front.c).
  const noNode = { PATH: '/nonexistent' };
  const noNodeMsg = /cannot find node on PATH/;
  const b = makeBundle((c) => { c.process.args = ['/oci_probe', 'sleep']; });
  assert.equal(oci(state, ['create', '--bundle', b, 'n1']).status, 0);
  assert.match(fs.readFileSync(path.join(state, 'n1', 'fast'), 'utf8'), /^torov-oci-fast 1\n\d+ \d+ \d+\n$/);
  // Created by the VMM itself (src/oci/prepare.ts): the front end's request is there, and the record is the JavaScript side's.
  assert.ok(fs.existsSync(path.join(state, 'n1', 'create')));
  const rec = JSON.parse(fs.readFileSync(path.join(state, 'n1', 'state.json'), 'utf8')) as { pid: number; vmmPid: number; bundle: string };
  assert.equal(rec.bundle, b);
  assert.ok(holdsKvm(rec.vmmPid), 'the record names the VMM by its host pid');
  assert.ok(tree(rec.pid).includes(rec.vmmPid));
  assert.match(oci(state, ['delete', 'n1'], { env: noNode }).stderr, noNodeMsg, 'a created container\'s delete is Node\'s (it refuses)');
  assert.match(oci(state, ['kill', 'n1', 'SIGNOPE'], { env: noNode }).stderr, noNodeMsg, 'an unknown signal is Node\'s to report');
  const started = oci(state, ['--log', path.join(b, 'log'), '--log-format=json', 'start', 'n1'], { env: noNode });
  assert.equal(started.status, 0, started.stderr);
  const st = JSON.parse(oci(state, ['state', 'n1']).stdout) as { pid: number; status: string };
  assert.equal(st.status, 'running', 'Node\'s state sees the native start');
  assert.match(oci(state, ['start', 'n1']).stderr, /already running/);
  assert.match(oci(state, ['start', 'n1'], { env: noNode }).stderr, noNodeMsg, 'a second start is Node\'s (it refuses)');
  // exec as the shim runs it (--process FILE --detach --pid-file): the VMM builds it (its request is in its directory),
  // the pid file names its launcher, a native guard watches it, and it prints as the same exec through Node does.
  const procFile = path.join(b, 'process.json');
  fs.writeFileSync(procFile, JSON.stringify({ args: ['/oci_probe', 'args', 'x y'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } }));
  const execOut = path.join(b, 'exec-out');
  const outFd = fs.openSync(execOut, 'w');
  const ex = cp.spawnSync(RUNTIME, ['--root', state, 'exec', '--process', procFile, '--detach', '--pid-file', path.join(b, 'exec.pid'), 'n1'], { stdio: ['ignore', outFd, outFd], ...LIMIT });
  fs.closeSync(outFd);
  assert.equal(ex.status, 0, fs.readFileSync(execOut, 'utf8'));
  const execPid = Number(fs.readFileSync(path.join(b, 'exec.pid'), 'utf8'));
  assert.ok(execPid > 0);
  await until('the exec to end', () => !exists(execPid));
  assert.equal(fs.readFileSync(execOut, 'utf8'), '[x y]\n');
  await until('its guard to remove its directory', () => fs.readdirSync(path.join(state, 'n1')).every((f) => !f.startsWith('exec-')));
  const sleeper = path.join(b, 'sleep.json');
  fs.writeFileSync(sleeper, JSON.stringify({ args: ['/oci_probe', 'sleep'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } }));
  assert.equal(oci(state, ['exec', '--process', sleeper, '-d', '--pid-file', path.join(b, 'sleep.pid'), 'n1']).status, 0);
  const execDir = fs.readdirSync(path.join(state, 'n1')).find((f) => f.startsWith('exec-'))!;
  assert.equal(fs.readFileSync(path.join(state, 'n1', execDir, 'exec'), 'utf8'), sleeper, 'built by its VMM (src/oci/prepare.ts prepareExec)');
  const sleepPid = Number(fs.readFileSync(path.join(b, 'sleep.pid'), 'utf8'));
  assert.ok(tree(sleepPid).some(holdsKvm));
  assert.equal(oci(state, ['kill', 'n1', '15'], { env: noNode }).status, 0);
  await until('the exec to end with its container', () => !exists(sleepPid));
  // (delete of a container with exec'd processes left is Node's: the guard removes the exec's directory first.)
  await until('the guard to remove the exec\'s directory', () => fs.readdirSync(path.join(state, 'n1')).every((f) => !f.startsWith('exec-')));
  await until('SIGTERM to end the program', () => !exists(st.pid));
  assert.match(oci(state, ['kill', 'n1'], { env: noNode }).stderr, noNodeMsg, 'a kill of a stopped container is Node\'s (it refuses)');
  assert.match(oci(state, ['kill', 'n1']).stderr, /container not running/);
  assert.equal(oci(state, ['delete', 'n1'], { env: noNode }).status, 0);
  assert.deepEqual(fs.readdirSync(state), []);
  assert.equal(oci(state, ['delete', '--force', 'n1'], { env: noNode }).status, 0, 'delete --force of a missing container');
  assert.match(oci(state, ['delete', 'n1'], { env: noNode }).stderr, noNodeMsg);
  assert.match(oci(state, ['delete', 'n1']).stderr, /container "n1" does not exist/);
  // What the VMM's create does not take is handed back, and the JavaScript runtime reports it once, with nothing left made.
  const missing = makeBundle((c) => { c.process.args = ['/missing']; });
  const bad = oci(state, ['create', '--bundle', missing, 'n4']);
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, `torov-oci: /missing: no such file in the guest's root ${fs.realpathSync(path.join(missing, 'rootfs'))} (in the container's root ${fs.realpathSync(path.join(missing, 'rootfs'))})\n`);
  assert.equal(bad.stdout, '');
  assert.deepEqual(fs.readdirSync(state), []);
  // The front end reads the network only from linux.namespaces: a "network" and a "path" elsewhere (an annotation) join nothing.
  assert.equal(oci(state, ['create', '--bundle', b, 'n7']).status, 0);
  const otherVmm = (JSON.parse(fs.readFileSync(path.join(state, 'n7', 'state.json'), 'utf8')) as { vmmPid: number }).vmmPid;
  assert.notEqual(fs.readlinkSync(`/proc/${otherVmm}/ns/net`), fs.readlinkSync('/proc/self/ns/net'));
  const hostNet = makeBundle((c) => { c.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }]; c.annotations = { a: 'network', path: `/proc/${otherVmm}/ns/net` }; });
  assert.equal(oci(state, ['create', '--bundle', hostNet, 'n5']).status, 0);
  const n5 = JSON.parse(fs.readFileSync(path.join(state, 'n5', 'state.json'), 'utf8')) as { vmmPid: number };
  assert.equal(fs.readlinkSync(`/proc/${n5.vmmPid}/ns/net`), fs.readlinkSync('/proc/self/ns/net'), 'the host\'s network, as the config says');
  for (const id of ['n5', 'n7']) assert.equal(oci(state, ['delete', '--force', id]).status, 0);
  // A config.json that is a FIFO is refused at once (never waited on), as the JavaScript runtime refuses it.
  const fifo = makeBundle();
  fs.rmSync(path.join(fifo, 'config.json'));
  assert.equal(cp.spawnSync('mkfifo', [path.join(fifo, 'config.json')]).status, 0);
  const fr = oci(state, ['create', '--bundle', fifo, 'n6']);
  assert.equal(fr.status, 1);
  assert.match(fr.stderr, /config\.json is not a regular file/);
  // Not plain: a container with hooks has no `fast`, and every command of it is Node's.
  const h = makeBundle((c) => { c.process.args = ['/oci_probe', 'sleep']; c.hooks = { poststop: [{ path: '/bin/true' }] }; });
  assert.equal(oci(state, ['create', '--bundle', h, 'n2']).status, 0);
  assert.ok(!fs.existsSync(path.join(state, 'n2', 'fast')));
  assert.ok(!fs.existsSync(path.join(state, 'n2', 'create')), 'a container with hooks is the JavaScript runtime\'s to create');
  assert.match(oci(state, ['start', 'n2'], { env: noNode }).stderr, noNodeMsg);
  assert.equal(oci(state, ['start', 'n2']).status, 0);
  // Nor is a paused one, ever after.
  assert.equal(oci(state, ['create', '--bundle', b, 'n3']).status, 0);
  assert.equal(oci(state, ['pause', 'n3']).status, 0);
  assert.ok(!fs.existsSync(path.join(state, 'n3', 'fast')));
  assert.equal(oci(state, ['resume', 'n3']).status, 0);
  assert.match(oci(state, ['start', 'n3'], { env: noNode }).stderr, noNodeMsg);
  for (const id of ['n2', 'n3']) assert.equal(oci(state, ['delete', '--force', id]).status, 0);
  assert.deepEqual(fs.readdirSync(state), []);
});

// ---- pause, resume, update, events ----------------------------------------------------

/** How many lines the tick guest (0, 1, 2, ... every 10 ms) has printed. */
const ticks = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates a container of the tick guest (and starts it, until it ticks); its output file and launcher pid. */
async function ticker(id: string, o: { env?: NodeJS.ProcessEnv; start?: boolean } = {}): Promise<{ out: string; pid: number }> {
  const b = makeBundle((c) => { c.process.args = ['/oci_probe', 'tick']; });
  const out = path.join(b, 'out');
  const fd = fs.openSync(out, 'w');
  const r = cp.spawnSync(RUNTIME, ['--root', state, 'create', '--bundle', b, id], { stdio: ['ignore', fd, fd], ...LIMIT, env: { ...process.env, ...o.env } });
  fs.closeSync(fd);
  assert.equal(r.status, 0, fs.readFileSync(out, 'utf8'));
  const pid = JSON.parse(oci(state, ['state', id]).stdout).pid as number;
  if (o.start !== false) {
    assert.equal(oci(state, ['start', id]).status, 0);
    await until('the guest to tick', () => ticks(out) > 3);
  }
  return { out, pid };
}

/** The count stays the same for `ms` while paused, and it did advance over as long before (so the check can fail). */
async function stands(out: string, ms: number): Promise<boolean> {
  const a = ticks(out);
  await sleepMs(ms);
  return ticks(out) === a;
}

/** The cgroup directories a process is in (as torov-oci finds them; cgroupDirs is unit-tested). */
function cgroupsOf(pid: number): Array<{ version: 1 | 2; dir: string; controllers: string[] }> {
  const { cgroupDirs } = require('../../src/oci/cgroups') as typeof import('../../src/oci/cgroups');
  try { return cgroupDirs(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'), fs.readFileSync('/proc/self/mountinfo', 'utf8')); } catch { return []; }
}

const ROOT_SKIP = process.getuid?.() !== 0 ? 'needs root (cgroups are made by root here)' : undefined;
const haveV2 = fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(' - cgroup2 ');
const haveV1Freezer = /- cgroup cgroup \S*freezer/.test(fs.readFileSync('/proc/self/mountinfo', 'utf8'));

for (const how of ['default', 'v2', 'signal'] as const) {
  const skip = how === 'signal' ? false : ROOT_SKIP ?? (how === 'v2' && !haveV2 ? 'no cgroup v2 hierarchy' : how === 'default' && !haveV1Freezer && !haveV2 ? 'no freezer' : false);
  test(`pause (${how === 'default' ? 'the host\'s freezer' : how === 'v2' ? 'cgroup v2 cgroup.freeze' : 'the SIGSTOP fallback'}): the guest stops where it is; state says paused; resume goes on; a signal waits for resume`, { skip }, async () => {
    const env = how === 'default' ? {} : { TOROV_OCI_FREEZER: how };
    const id = `pz-${how}`;
    const { out, pid } = await ticker(id, { env });
    const all = tree(pid);
    assert.ok(!(await stands(out, 400)), 'it ticks while running');
    const p = oci(state, ['pause', id], { env });
    assert.equal(p.status, 0, p.stderr);
    assert.equal(JSON.parse(oci(state, ['state', id]).stdout).status, 'paused');
    assert.ok(await stands(out, 600), 'a paused guest does not run');
    assert.ok(all.every(exists), 'its processes are still there');
    const frozenIn = (pid: number) => cgroupsOf(pid).filter((d) => d.dir.endsWith(`/torov-${all[0]}.freezer`)).map((d) => d.version);
    if (how === 'signal') for (const q of all) assert.match(fs.readFileSync(`/proc/${q}/stat`, 'utf8'), /\) T /, `pid ${q} stopped`);
    else for (const q of all) assert.deepEqual(frozenIn(q), [how === 'v2' || !haveV1Freezer ? 2 : 1], `pid ${q} in the run's freezer cgroup`);
    const fzDirs = cgroupsOf(pid).filter((d) => d.dir.endsWith('.freezer')).map((d) => d.dir);
    assert.match(oci(state, ['pause', id]).stderr, /container already paused/);
    assert.match(oci(state, ['start', id]).stderr, /cannot start a container in the paused state/);
    const r = oci(state, ['resume', id]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(oci(state, ['state', id]).stdout).status, 'running');
    const n = ticks(out);
    await until('the guest to tick again', () => ticks(out) > n + 5);
    assert.match(oci(state, ['resume', id]).stderr, /container not paused/);
    // A signal to a paused container waits: SIGTERM ends the guest only once it is resumed.
    assert.equal(oci(state, ['pause', id], { env }).status, 0);
    assert.equal(oci(state, ['kill', id, 'TERM']).status, 0);
    await sleepMs(400);
    assert.equal(JSON.parse(oci(state, ['state', id]).stdout).status, 'paused');
    assert.ok(all.every(exists));
    assert.equal(oci(state, ['resume', id]).status, 0);
    await until('SIGTERM to end the guest after resume', () => !all.some(exists));
    assert.match(oci(state, ['pause', id]).stderr, /container not running/);
    assert.equal(oci(state, ['delete', id]).status, 0);
    for (const d of fzDirs) assert.ok(!fs.existsSync(d), `delete removed the freezer cgroup ${d}`);
    assert.deepEqual(fs.readdirSync(state), []);
  });
}

test('pause: a created container stays before its first instruction until resume and start; kill -9 and delete --force end a paused one', async () => {
  const c = await ticker('pz-created', { start: false });
  assert.equal(oci(state, ['pause', 'pz-created']).status, 0);
  assert.equal(JSON.parse(oci(state, ['state', 'pz-created']).stdout).status, 'paused');
  assert.match(oci(state, ['start', 'pz-created']).stderr, /paused state/);
  assert.equal(oci(state, ['resume', 'pz-created']).status, 0);
  assert.equal(JSON.parse(oci(state, ['state', 'pz-created']).stdout).status, 'created', 'runc\'s answer too');
  assert.equal(ticks(c.out), 0, 'nothing ran');
  assert.equal(oci(state, ['start', 'pz-created']).status, 0);
  await until('the guest to tick', () => ticks(c.out) > 3);
  // kill -9 of a paused container: it ends (a frozen process cannot die until thawed).
  assert.equal(oci(state, ['pause', 'pz-created']).status, 0);
  const all = tree(c.pid);
  assert.equal(oci(state, ['kill', 'pz-created', 'KILL']).status, 0);
  await until('SIGKILL to end the paused run', () => !all.some(exists));
  assert.equal(JSON.parse(oci(state, ['state', 'pz-created']).stdout).status, 'stopped');
  assert.equal(oci(state, ['delete', 'pz-created']).status, 0);
  // delete --force of a paused one.
  const d = await ticker('pz-force');
  const all2 = tree(d.pid);
  assert.equal(oci(state, ['pause', 'pz-force']).status, 0);
  const fz = cgroupsOf(d.pid).filter((x) => x.dir.endsWith('.freezer')).map((x) => x.dir);
  assert.equal(oci(state, ['delete', '--force', 'pz-force']).status, 0);
  await until('every process of the paused run to end', () => !all2.some(exists));
  for (const f of fz) assert.ok(!fs.existsSync(f), `no freezer cgroup left: ${f}`);
  assert.deepEqual(fs.readdirSync(state), []);
  assert.match(oci(state, ['pause', 'nothere']).stderr, /container "nothere" does not exist/);
});

test('update: memory, pids and CPU limits reach the run\'s cgroups; -r - takes linux.resources; what cannot change is one line and changes nothing', { skip: ROOT_SKIP }, async () => {
  const { pid, out } = await ticker('up1');
  const vmm = tree(pid).find(holdsKvm)!;
  const own = cgroupsOf(vmm).filter((d) => path.basename(d.dir) === `torov-${pid}`);
  const dirOf = (c: string) => own.find((d) => d.controllers.includes(c) || (d.version === 2 && fs.readFileSync(path.join(d.dir, 'cgroup.controllers'), 'utf8').includes(c)));
  const mem = dirOf('memory'), pids = dirOf('pids'), cpu = dirOf('cpu');
  if (!mem || !pids || !cpu) { process.stderr.write('oci.test: update test skipped: the run has no memory, pids and cpu cgroups of its own here\n'); oci(state, ['delete', '--force', 'up1']); return; }
  const read = (d: { dir: string }, f: string) => fs.readFileSync(path.join(d.dir, f), 'utf8').trim();
  const memFile = mem.version === 1 ? 'memory.limit_in_bytes' : 'memory.max';
  const before = Number(read(mem, memFile));
  // The config asked for 128M: the cgroup holds that plus torov's own share; 256M raises it by 128M.
  let r = oci(state, ['update', '--memory', '256m', '--pids-limit', '100', '--cpu-quota', '50000', '--cpu-period', '100000', '--cpu-shares', '512', 'up1']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(Number(read(mem, memFile)), before + 128 * 2 ** 20);
  if (mem.version === 1 && fs.existsSync(path.join(mem.dir, 'memory.memsw.limit_in_bytes'))) assert.equal(read(mem, 'memory.memsw.limit_in_bytes'), read(mem, memFile), 'no swap');
  assert.equal(read(pids, 'pids.max'), '100');
  if (cpu.version === 1) { assert.equal(read(cpu, 'cpu.cfs_quota_us'), '50000'); assert.equal(read(cpu, 'cpu.shares'), '512'); }
  else { assert.equal(read(cpu, 'cpu.max'), '50000 100000'); assert.equal(read(cpu, 'cpu.weight'), '20'); }
  // What containerd's shim writes on stdin (ctr task update, a Kubernetes resize).
  r = oci(state, ['update', '-r', '-', 'up1'], { input: JSON.stringify({ devices: [{ allow: false, access: 'rwm' }], memory: { limit: 128 * 2 ** 20, swap: 128 * 2 ** 20 }, cpu: { shares: 1024, quota: -1, period: 100000 }, pids: { limit: -1 } }) });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(Number(read(mem, memFile)), before);
  assert.equal(read(pids, 'pids.max'), 'max');
  assert.equal(cpu.version === 1 ? read(cpu, 'cpu.cfs_quota_us') : read(cpu, 'cpu.max'), cpu.version === 1 ? '-1' : 'max 100000');
  // Refusals: one line, status 1, nothing written (the memory asked with them is not applied either).
  for (const [args, why] of [[['--cpuset-cpus', '0', '--memory', '512m'], /--cpuset-cpus cannot be changed/], [['--blkio-weight', '300'], /blkio/],
    [['--memory-swap', '1g'], /no swap/], [['--pids-limit', '8'], /too small/], [['--memory', 'huge'], /invalid --memory/]] as Array<[string[], RegExp]>) {
    r = oci(state, ['update', ...args, 'up1']);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, why);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  assert.equal(Number(read(mem, memFile)), before);
  r = oci(state, ['update', '-r', '-', 'up1'], { input: '{"cpu":{"cpus":"0"}}' });
  assert.match(r.stderr, /cpu.cpus cannot be changed/);
  const n = ticks(out);
  await until('the guest to go on ticking under its new limits', () => ticks(out) > n + 3);
  assert.equal(oci(state, ['delete', '--force', 'up1']).status, 0);
  assert.match(oci(state, ['update', '--memory', '256m', 'up1']).stderr, /does not exist/);
});

test('cgroups: the container\'s process (the launcher) is in the run\'s cgroups from create on, as containerd\'s shim reads them; its end removes them', { skip: ROOT_SKIP }, async () => {
  const b = makeBundle((c) => { c.process.args = ['/oci_probe', 'sleep']; });
  assert.equal(oci(state, ['create', '--bundle', b, 'cg1']).status, 0);
  try {
    const pid = JSON.parse(oci(state, ['state', 'cg1']).stdout).pid as number;
    const vmm = tree(pid).find(holdsKvm)!;
    const run = cgroupsOf(vmm).filter((d) => path.basename(d.dir) === `torov-${pid}`);
    if (run.length === 0) { process.stderr.write('oci.test: cgroups test skipped: the run has no cgroups of its own here\n'); return; }
    // As soon as create returns (the shim loads the cgroups of the pid file's process then).
    const launcher = cgroupsOf(pid).map((d) => d.dir);
    for (const d of run) assert.ok(launcher.includes(d.dir), `the launcher is in ${d.dir} (it is in ${launcher.join(' ')})`);
    // The run's memory and pids figures are the launcher's cgroups'; on a v1 host that
    // mounts cpuacct apart from cpu, its CPU time too.
    const has = (c: string) => run.some((d) => d.controllers.includes(c) || (d.version === 2 && fs.readFileSync(path.join(d.dir, 'cgroup.controllers'), 'utf8').split(/\s+/).includes(c)));
    for (const c of ['memory', 'pids']) assert.ok(has(c), `the run has a ${c} cgroup`);
    const mi = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    if (/ - cgroup cgroup \S*\bcpuacct\b/.test(mi)) assert.ok(has('cpuacct'), 'the run has a cpuacct cgroup (v1)');
    assert.equal(oci(state, ['start', 'cg1']).status, 0);
    assert.equal(oci(state, ['kill', 'cg1', 'TERM']).status, 0);
    await until('the run to end', () => !exists(pid));
    // The launcher left them before it removed them (a cgroup with a process cannot go).
    for (const d of run) assert.ok(!fs.existsSync(d.dir), `${d.dir} is removed`);
    assert.equal(oci(state, ['delete', 'cg1']).status, 0);
  } finally { oci(state, ['delete', '--force', 'cg1']); }
});

test('cgroups: a run ended by SIGKILL (kill KILL, delete --force) leaves no cgroup after delete, native or not', { skip: ROOT_SKIP }, async () => {
  const b = makeBundle((c) => { c.process.args = ['/oci_probe', 'sleep']; });
  for (const [id, how] of [['ck1', 'kill'], ['ck2', 'force']] as const) {
    assert.equal(oci(state, ['create', '--bundle', b, id]).status, 0);
    const pid = JSON.parse(oci(state, ['state', id]).stdout).pid as number;
    const run = cgroupsOf(tree(pid).find(holdsKvm)!).filter((d) => path.basename(d.dir) === `torov-${pid}`).map((d) => d.dir);
    if (run.length === 0) { process.stderr.write('oci.test: cgroups test skipped: the run has no cgroups of its own here\n'); oci(state, ['delete', '--force', id]); return; }
    assert.equal(oci(state, ['start', id]).status, 0);
    if (how === 'kill') {
      // The launcher cannot clean up after SIGKILL; the native delete does (no node on PATH: it is the front end's).
      assert.equal(oci(state, ['kill', id, 'KILL']).status, 0);
      await until('the run to end', () => !exists(pid));
      assert.ok(run.some((d) => fs.existsSync(d)), 'the launcher, killed, left its cgroups (so this test can fail)');
      assert.equal(oci(state, ['delete', id], { env: { PATH: '/nonexistent' } }).status, 0);
    } else assert.equal(oci(state, ['delete', '--force', id]).status, 0);
    for (const d of run) assert.ok(!fs.existsSync(d), `${d} is removed (${how})`);
  }
  assert.deepEqual(fs.readdirSync(state), []);
});

test('events: --stats prints runc\'s stats object from the run\'s cgroups; without it, one per interval until the container stops', async () => {
  const { pid } = await ticker('ev1');
  const r = oci(state, ['events', '--stats', 'ev1']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  const e = JSON.parse(r.stdout) as { type: string; id: string; data: Record<string, any> };
  assert.equal(e.type, 'stats');
  assert.equal(e.id, 'ev1');
  assert.ok(e.data['cpu'].usage.total > 0, 'CPU time used');
  assert.ok(e.data['cpu'].usage.user + e.data['cpu'].usage.kernel > 0);
  if (!ROOT_SKIP) {
    assert.ok(e.data['memory'].usage.usage > 0, 'memory in use');
    assert.ok(e.data['memory'].usage.limit > 128 * 2 ** 20, 'the run\'s limit: the guest\'s 128M and torov\'s share');
    assert.ok(e.data['pids'].current >= 2, 'the VMM\'s threads');
  }
  // The stream: a line each 200ms, and the end (status 0) when the container stops.
  const child = cp.spawn(RUNTIME, ['--root', state, 'events', '--interval', '200ms', 'ev1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.on('data', (b: Buffer) => { text += b.toString(); });
  const ended = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  await until('three stats lines', () => text.split('\n').filter(Boolean).length >= 3);
  assert.equal(oci(state, ['kill', 'ev1', 'KILL']).status, 0);
  assert.equal(await ended, 0);
  for (const l of text.trim().split('\n')) assert.equal(JSON.parse(l).type, 'stats');
  await until('the run to end', () => !exists(pid));
  assert.match(oci(state, ['events', '--stats', 'ev1']).stderr, /container with id ev1 is not running/);
  assert.match(oci(state, ['events', '--interval', '0s', 'ev1']).stderr, /--interval must be greater than 0/);
  assert.match(oci(state, ['events', '--interval', 'soon', 'ev1']).stderr, /invalid duration "soon"/);
  assert.equal(oci(state, ['delete', 'ev1']).status, 0);
});

test('run: the exit status is the program\'s (139 for a segfault)', () => {
  const b = makeBundle((c) => { c.process.args = ['/fault', 'segv-null-write']; });
  const r = oci(state, ['run', '--bundle', b, 'r1']);
  assert.equal(r.status, 139, r.stderr);
  assert.match(r.stderr, /SIGSEGV/);
  assert.deepEqual(fs.readdirSync(state), []);
});

test('policy: linux.seccomp and the dev.torov.policy annotation reach the guest', () => {
  const probe = (edit: (c: Record<string, any>, b: string) => void) => {
    const b = makeBundle((c, bundle) => { c.process.args = ['/oci_probe', 'denied']; edit(c, bundle); });
    const r = oci(state, ['run', '--bundle', b, 'p1']);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.equal(probe(() => {}), 'get_mempolicy: Function not implemented', 'torov\'s default policy allows it (torov has no NUMA)');
  assert.equal(probe((c) => { c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['get_mempolicy'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }; }), 'get_mempolicy: Permission denied');
  // A torov policy named by the annotation (relative to the bundle) wins over linux.seccomp.
  assert.equal(probe((c, b) => {
    fs.writeFileSync(path.join(b, 'guest.policy.json'), JSON.stringify({ defaultAction: 'allow', syscalls: [{ names: ['get_mempolicy'], action: 'deny', errno: 'EXDEV' }] }));
    c.annotations = { 'dev.torov.policy': 'guest.policy.json' };
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' };
  }), 'get_mempolicy: Cross-device link');
});

test('hostname: the config\'s, as uname shows it; torov without one', () => {
  const uname = (edit: (c: Record<string, any>) => void) => {
    const r = oci(state, ['run', '--bundle', makeBundle((c) => { c.process.args = ['/oci_probe', 'uname']; edit(c); }), 'u1']);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  assert.equal(uname((c) => { c.hostname = 'box-1.example'; }), 'nodename box-1.example\n');
  assert.equal(uname(() => {}), 'nodename torov\n');
});

test('hooks: prestart and createRuntime before create returns, with the VMM\'s pid; poststart; poststop; a failing one fails create', async () => {
  const b = makeBundle((c, bundle) => {
    const hook = path.join(bundle, 'hook.sh');
    fs.writeFileSync(hook, '#!/bin/sh\nstate=$(cat)\npid=$(echo "$state" | sed \'s/.*"pid":\\([0-9]*\\).*/\\1/\')\necho "$1 $pid $(readlink /proc/$pid/ns/net) $state" >> "$0.log"\n', { mode: 0o755 });
    c.process.args = ['/oci_probe', 'sleep'];
    c.hooks = { prestart: [{ path: hook, args: ['hook.sh', 'prestart'] }], createRuntime: [{ path: hook, args: ['hook.sh', 'createRuntime'] }],
      poststart: [{ path: hook, args: ['hook.sh', 'poststart'] }], poststop: [{ path: hook, args: ['hook.sh', 'poststop'] }] };
  });
  const log = path.join(b, 'hook.sh.log');
  assert.equal(oci(state, ['create', '--bundle', b, 'h1']).status, 0);
  const lines = () => fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' '));
  assert.deepEqual(lines().map((l) => l[0]), ['prestart', 'createRuntime']);
  const [, pid, netns, json] = lines()[0]!;
  const st = JSON.parse(json!) as { id: string; status: string; pid: number; bundle: string };
  assert.deepEqual([st.id, st.status, st.bundle], ['h1', 'created', b]);
  assert.ok(holdsKvm(Number(pid)), 'the hooks\' pid is the VMM');
  assert.notEqual(netns, fs.readlinkSync('/proc/self/ns/net'), 'in the container\'s network namespace');
  assert.equal(oci(state, ['start', 'h1']).status, 0);
  assert.equal(lines()[2]![0], 'poststart');
  assert.equal(oci(state, ['delete', '--force', 'h1']).status, 0);
  assert.deepEqual(lines().map((l) => l[0]), ['prestart', 'createRuntime', 'poststart', 'poststop']);
  // A failing prestart hook: create fails with its message, and leaves no VM and no state.
  const seen = path.join(scratchDir('torov-oci-hook-'), 'state.json');
  const bad = makeBundle((c) => { c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > "$0"; echo no network >&2; exit 3', seen] }] }; });
  const r = oci(state, ['create', '--bundle', bad, 'h2']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /hook prestart\[0\] \/bin\/sh failed: exit status 3: no network/);
  assert.deepEqual(fs.readdirSync(state), []);
  const vmm = (JSON.parse(fs.readFileSync(seen, 'utf8')) as { pid: number }).pid;
  await until('the VM of the failed create to end', () => !exists(vmm));
});

test('refused: hostile or unrunnable configs fail create with one line in the log; nothing is created', () => {
  const cases: Array<[(c: Record<string, any>) => void, RegExp]> = [
    [(c) => { c.root.path = '../../..'; }, /root.path: \.\.\/\.\.\/\.\. leaves the bundle/],
    [(c) => { c.root.path = 'missing'; }, /root.path: missing does not exist/],
    [(c) => { c.linux.namespaces.push({ type: 'galaxy' }); }, /unknown namespace type "galaxy"/],
    [(c) => { c.linux.resources.memory.limit = 1000; }, /memory.limit is 1000 bytes/],
    [(c) => { c.mounts.push({ destination: '/x', type: 'bind', source: '../../../etc' }); }, /leaves the bundle/],
    [(c) => { c.process.args = ['/not-a-program']; }, /\/not-a-program: the container's program is not an ELF program/],
    [(c) => { c.process.args = ['/nothere']; }, /\/nothere: .*container's root/],
    [(c) => { c.process.terminal = true; }, /no --console-socket/],
  ];
  for (const [edit, why] of cases) {
    const b = makeBundle(edit);
    const before = fs.readdirSync(b).sort();
    const log = path.join(b, 'log.json');
    const r = oci(state, ['create', '--bundle', b, 'bad'], { log });
    assert.equal(r.status, 1, String(why));
    const last = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop()!) as { level: string; msg: string };
    assert.equal(last.level, 'error');
    assert.match(last.msg, why);
    assert.match(r.stderr, why);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    assert.deepEqual(fs.readdirSync(state), [], 'no state directory');
    assert.deepEqual(fs.readdirSync(b).sort(), [...before, 'log.json'].sort(), 'nothing new in the bundle but the log');
  }
  assert.match(oci(state, ['create', '--bundle', '/nonexistent-bundle', 'bad']).stderr, /cannot read \/nonexistent-bundle\/config.json: no such file/);
  assert.match(oci(state, ['state', '../etc']).stderr, /invalid container id/);
  assert.match(oci(state, ['kill', 'x', 'SIGNOPE']).stderr, /invalid signal/);
  assert.equal(oci(state, ['--version']).status, 0);
  assert.equal(JSON.parse(oci(state, ['features']).stdout).ociVersionMax, '1.0.2');
});

// ---- exec ---------------------------------------------------------------------------

/** Creates and starts a container of `/oci_probe serve PORT` (its own network namespace); its launcher pid. */
async function server(id: string, port: number, edit: (c: Record<string, any>) => void = () => {}): Promise<{ pid: number; bundle: string; out: string }> {
  const b = makeBundle((c) => { c.process.args = ['/oci_probe', 'serve', String(port)]; c.hostname = 'box-1'; c.process.env.push('FROM_CONFIG=1'); edit(c); });
  const out = path.join(b, 'out');
  const fd = fs.openSync(out, 'w');
  const r = cp.spawnSync(RUNTIME, ['--root', state, 'create', '--bundle', b, id], { stdio: ['ignore', fd, fd], ...LIMIT });
  fs.closeSync(fd);
  assert.equal(r.status, 0, fs.readFileSync(out, 'utf8'));
  assert.equal(oci(state, ['start', id]).status, 0);
  await until('the server to listen', () => fs.readFileSync(out, 'utf8').includes('listening'));
  return { pid: JSON.parse(oci(state, ['state', id]).stdout).pid as number, bundle: b, out };
}

/** The run cgroups (torov-PID) of a launcher that exist. */
const runCgroupsOf = (pid: number) => cgroupsOf(pid).map((d) => path.join(path.dirname(d.dir), `torov-${pid}`)).filter((d, i, a) => a.indexOf(d) === i && fs.existsSync(d));

test('exec: a program in a running container prints and ends as in a run of the same bundle (args, env, cwd, host name, status)', async () => {
  const { bundle } = await server('x1', 8951);
  try {
    for (const args of [['/oci_probe', 'args', 'a', 'b c', ''], ['/oci_probe', 'env'], ['/oci_probe', 'uname'], ['/hello']]) {
      const e = oci(state, ['exec', 'x1', ...args]);
      // The same program as the container's own process, from the same config.
      const ref = makeBundle((c) => { c.process.args = args; c.hostname = 'box-1'; c.process.env.push('FROM_CONFIG=1'); });
      const r = oci(state, ['run', '--bundle', ref, 'x1-ref']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(e.status, 0, e.stderr);
      assert.equal(e.stdout, r.stdout, args.join(' '));
      assert.ok(e.stdout.length > 0);
    }
    assert.match(oci(state, ['exec', 'x1', '/oci_probe', 'env']).stdout, /env FROM_CONFIG=1\n/, 'the container\'s environment');
    // runc's options: --env adds, --cwd, --user.
    const o = oci(state, ['exec', '--env', 'EXTRA=2', '--cwd', '/tmp', '--user', '1000:1000', 'x1', '/oci_probe', 'env']);
    assert.equal(o.status, 0, o.stderr);
    assert.match(o.stdout, /env FROM_CONFIG=1\nenv EXTRA=2\n/);
    assert.match(o.stdout, /cwd \/tmp\nuid 1000 gid 1000\n/);
    // A process.json (what containerd's shim passes), with its own args, env and cwd.
    const pj = path.join(bundle, 'process.json');
    fs.writeFileSync(pj, JSON.stringify({ args: ['/oci_probe', 'env'], env: ['ONLY=this'], cwd: '/etc', user: { uid: 0, gid: 0 } }));
    assert.equal(oci(state, ['exec', '--process', pj, 'x1']).stdout, 'env ONLY=this\nenv HOME=/\ncwd /etc\nuid 0 gid 0\n');
    // The exit status is the program's; a signal's is 128+N.
    assert.equal(oci(state, ['exec', 'x1', '/oci_probe', 'exit', '7']).status, 7);
    const segv = oci(state, ['exec', 'x1', '/fault', 'segv-null-write']);
    assert.equal(segv.status, 139, segv.stderr);
    assert.match(segv.stderr, /torov: SIGSEGV/);
    assert.equal(JSON.parse(oci(state, ['state', 'x1']).stdout).status, 'running', 'the container goes on');
    assert.deepEqual(fs.readdirSync(path.join(state, 'x1')).filter((f) => f.startsWith('exec-')), [], 'no exec state left');
  } finally { oci(state, ['delete', '--force', 'x1']); }
});

test('exec: the process is in the container\'s network namespace: it reaches the server on localhost', async () => {
  await server('x2', 8952);
  try {
    const e = oci(state, ['exec', 'x2', '/oci_probe', 'fetch', '8952']);
    assert.equal(e.status, 0, e.stderr);
    assert.equal(e.stdout, 'hello from oci_probe\n');
    // The same client in a container of its own (its own namespace) finds nothing there.
    const alone = oci(state, ['run', '--bundle', makeBundle((c) => { c.process.args = ['/oci_probe', 'fetch', '8952']; }), 'x2-alone']);
    assert.equal(alone.status, 1);
    assert.match(alone.stderr, /connect: Connection refused/);
  } finally { oci(state, ['delete', '--force', 'x2']); }
});

test('exec: files of the container\'s root are shared with it; its /tmp (a tmpfs) and its processes are not', async () => {
  const { bundle } = await server('x3', 8953, (c) => { c.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=8m'] }); });
  try {
    assert.equal(oci(state, ['exec', 'x3', '/oci_probe', 'write', '/shared.txt', 'from exec 1']).status, 0);
    assert.equal(fs.readFileSync(path.join(bundle, 'rootfs', 'shared.txt'), 'utf8'), 'from exec 1\n', 'written in the root on the host');
    fs.writeFileSync(path.join(bundle, 'rootfs', 'from-host.txt'), 'host\n');
    assert.equal(oci(state, ['exec', 'x3', '/oci_probe', 'cat', '/shared.txt']).stdout, 'from exec 1\n', 'seen by another exec');
    assert.equal(oci(state, ['exec', 'x3', '/oci_probe', 'cat', '/from-host.txt']).stdout, 'host\n');
    assert.equal(oci(state, ['exec', 'x3', '/oci_probe', 'write', '/tmp/t.txt', 'x']).status, 0);
    const t = oci(state, ['exec', 'x3', '/oci_probe', 'cat', '/tmp/t.txt']);
    assert.equal(t.status, 1, 'each VM has a /tmp of its own');
    assert.match(t.stderr, /No such file or directory/);
    // Nor its processes: in the exec's VM, pid 1 is the exec'd program, and the server is not there.
    assert.equal(oci(state, ['exec', 'x3', '/oci_probe', 'cat', '/proc/1/cmdline']).stdout, '/oci_probe\0cat\0/proc/1/cmdline\0');
    assert.equal(oci(state, ['exec', 'x3', '/oci_probe', 'cat', '/proc/2/cmdline']).status, 1);
  } finally { oci(state, ['delete', '--force', 'x3']); }
});

test('exec: failures are one line with status 255 and leave nothing: a missing program, a stopped, paused or unknown container', async () => {
  const { pid } = await server('x4', 8954);
  try {
    const log = path.join(scratchDir('torov-oci-exec-log-'), 'log.json');
    for (const [args, why] of [[['/nothere'], /\/nothere: .*container's root/], [['/not-a-program'], /not an ELF program/], [[], /the command is missing/]] as Array<[string[], RegExp]>) {
      const r = oci(state, ['exec', 'x4', ...args], { log });
      assert.equal(r.status, 255, args.join(' '));
      assert.match(r.stderr, why);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      const last = JSON.parse(fs.readFileSync(log, 'utf8').trim().split('\n').pop()!) as { level: string; msg: string };
      assert.deepEqual([last.level, why.test(last.msg)], ['error', true]);
    }
    assert.match(oci(state, ['exec', 'nothere', '/hello']).stderr, /container "nothere" does not exist/);
    assert.deepEqual(fs.readdirSync(path.join(state, 'x4')).filter((f) => f.startsWith('exec-')), []);
    if (!ROOT_SKIP) {
      assert.equal(oci(state, ['pause', 'x4']).status, 0);
      assert.match(oci(state, ['exec', 'x4', '/hello']).stderr, /cannot exec in a paused container/);
      assert.equal(oci(state, ['resume', 'x4']).status, 0);
    }
    assert.equal(oci(state, ['kill', 'x4', 'KILL']).status, 0);
    await until('the container to stop', () => !exists(pid));
    const r = oci(state, ['exec', 'x4', '/hello']);
    assert.equal(r.status, 255);
    assert.match(r.stderr, /cannot exec in a stopped container/);
  } finally { oci(state, ['delete', '--force', 'x4']); }
});

for (const how of ['default', 'v2', 'signal'] as const) {
  const skip = how === 'signal' ? false : ROOT_SKIP ?? (how === 'v2' && !haveV2 ? 'no cgroup v2 hierarchy' : how === 'default' && !haveV1Freezer && !haveV2 ? 'no freezer' : false);
  test(`exec: pause (${how}) stops the exec'd processes with the container; resume goes on; SIGKILL to the paused container ends them`, { skip }, async () => {
    const env = how === 'default' ? {} : { TOROV_OCI_FREEZER: how };
    const id = `xp-${how}`;
    const { out, pid } = await ticker(id);
    try {
      const xout = path.join(scratchDir('torov-oci-exec-tick-'), 'out');
      const fd = fs.openSync(xout, 'w');
      const r = cp.spawnSync(RUNTIME, ['--root', state, 'exec', '--detach', '--pid-file', `${xout}.pid`, id, '/oci_probe', 'tick'], { stdio: ['ignore', fd, fd], ...LIMIT });
      fs.closeSync(fd);
      assert.equal(r.status, 0, fs.readFileSync(xout, 'utf8'));
      const xpid = Number(fs.readFileSync(`${xout}.pid`, 'utf8'));
      await until('the exec to tick', () => ticks(xout) > 3);
      const all = [...tree(pid), ...tree(xpid)];
      assert.ok(!(await stands(xout, 300)), 'the exec ticks while running');
      const p = oci(state, ['pause', id], { env });
      assert.equal(p.status, 0, p.stderr);
      assert.ok(await stands(xout, 500), 'a paused container\'s exec does not run');
      assert.ok(await stands(out, 100));
      assert.match(oci(state, ['exec', id, '/hello']).stderr, /cannot exec in a paused container/);
      assert.equal(oci(state, ['resume', id]).status, 0);
      const n = ticks(xout);
      await until('the exec to tick again', () => ticks(xout) > n + 5);
      assert.equal(oci(state, ['pause', id], { env }).status, 0);
      const fz = cgroupsOf(pid).filter((d) => d.dir.endsWith('.freezer')).map((d) => d.dir);
      const cgx = runCgroupsOf(xpid);
      assert.equal(oci(state, ['kill', id, 'KILL']).status, 0);
      await until('the container and its exec to end', () => !all.some(exists));
      assert.equal(oci(state, ['delete', id]).status, 0);
      for (const f of [...fz, ...cgx]) await until(`no cgroup left: ${f}`, () => !fs.existsSync(f));
      assert.deepEqual(fs.readdirSync(state), []);
    } finally { oci(state, ['delete', '--force', id]); }
  });
}

test('exec --detach: the pid file names its launcher; the exec ends with its container (137), and delete --force ends it; nothing is left', async () => {
  const { pid } = await server('x5', 8955);
  const dir = scratchDir('torov-oci-exec-');
  try {
    const start = (id: string, name: string) => {
      const pidFile = path.join(dir, `${name}.pid`);
      const r = oci(state, ['exec', '--detach', '--pid-file', pidFile, id, '/oci_probe', 'sleep']);
      assert.equal(r.status, 0, r.stderr);
      const p = Number(fs.readFileSync(pidFile, 'utf8'));
      assert.ok(exists(p) && tree(p).some(holdsKvm), 'the pid file names a torov run (its VMM holds /dev/kvm)');
      return p;
    };
    const e1 = start('x5', 'e1');
    const all1 = tree(e1);
    const ps = JSON.parse(oci(state, ['ps', '--format', 'json', 'x5']).stdout) as number[];
    for (const p of [pid, ...all1]) assert.ok(ps.includes(p), `ps lists ${p}`);
    const cg1 = runCgroupsOf(e1);
    // kill --all forwards a signal to the exec'd process as well: SIGTERM ends both.
    assert.equal(oci(state, ['kill', '--all', 'x5', 'TERM']).status, 0);
    await until('SIGTERM to end the container and its exec', () => !exists(pid) && !all1.some(exists));
    for (const d of cg1) await until(`the exec's cgroup ${d} to go`, () => !fs.existsSync(d));
    assert.equal(oci(state, ['delete', 'x5']).status, 0);
    assert.deepEqual(fs.readdirSync(state), []);

    // The container's process ends (SIGKILL, not forwarded): the exec's guard ends it, 137.
    const s2 = await server('x6', 8956);
    const e2 = start('x6', 'e2');
    const all2 = tree(e2);
    // (And an attached exec: its status is the exec'd launcher's, 137.)
    const attached = cp.spawn(RUNTIME, ['--root', state, 'exec', 'x6', '/oci_probe', 'sleep'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    attached.stdout.on('data', (b: Buffer) => { said += b.toString(); });
    const attachedStatus = new Promise<number | null>((res) => attached.on('exit', (c) => res(c)));
    await until('the attached exec to run', () => said.includes('sleeping'));
    // Its guard: bin/torov-oci --exec-guard, small and static (src/launcher/oci-front.c).
    const guards = cp.spawnSync('pgrep', ['-f', `torov-oci --exec-guard ${s2.pid} `], { encoding: 'utf8', ...LIMIT }).stdout.trim().split('\n').filter(Boolean).map(Number);
    assert.equal(guards.length, 2, 'one guard per exec');
    for (const gp of guards) assert.ok(Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${gp}/status`, 'utf8'))![1]) < 4096, 'a guard holds less than 4 MiB');
    assert.equal(oci(state, ['kill', 'x6', 'KILL']).status, 0);
    assert.equal(await attachedStatus, 137);
    await until('the exec to end with its container', () => !all2.some(exists));
    await until('the exec\'s directory to go', () => fs.readdirSync(path.join(state, 'x6')).every((f) => !f.startsWith('exec-')));
    assert.ok(!exists(s2.pid));
    assert.equal(oci(state, ['delete', 'x6']).status, 0);

    // delete --force of a running container ends its exec'd processes.
    const s3 = await server('x7', 8957);
    const e3 = start('x7', 'e3');
    const all3 = [...tree(s3.pid), ...tree(e3)];
    const cg3 = runCgroupsOf(e3);
    assert.equal(oci(state, ['delete', '--force', 'x7']).status, 0);
    await until('every process of the container and its exec to end', () => !all3.some(exists));
    for (const d of cg3) await until(`the exec's cgroup ${d} to go`, () => !fs.existsSync(d));
    assert.deepEqual(fs.readdirSync(state), []);
    await until('no guard left', () => !cp.spawnSync('pgrep', ['-f', `torov-oci --exec-guard ${s3.pid} `], LIMIT).stdout?.toString().trim());
  } finally { for (const id of ['x5', 'x6', 'x7']) oci(state, ['delete', '--force', id]); }
});

// ---- containerd -------------------------------------------------------------------

const have = (cmd: string) => cp.spawnSync('sh', ['-c', `command -v ${cmd}`], LIMIT).status === 0;
const missing = ['containerd', 'ctr', 'runc'].filter((c) => !have(c));
const SKIP = missing.length ? `containerd tests skipped: ${missing.join(', ')} not installed (apt-get install containerd runc; see .ci/run)`
  : process.getuid?.() !== 0 ? 'containerd tests skipped: they need root (containerd runs as root)' : undefined;
if (SKIP) process.stderr.write(`oci.test: ${SKIP}\n`);

let sock = process.env['TOROV_CONTAINERD_SOCKET'] ?? '';
let ownDir: string | undefined;
before(() => {
  if (SKIP || sock) return;
  ownDir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-containerd-'));
  const r = cp.spawnSync(path.join(ROOT, 'test', 'oci', 'containerd.sh'), ['start', ownDir], { encoding: 'utf8', ...LIMIT });
  assert.equal(r.status, 0, `could not start containerd: ${r.stderr}`);
  sock = r.stdout.trim();
});
after(() => {
  if (SKIP || !sock) return;
  ctr(['tasks', 'ls']);    // (nothing: each test deletes what it made; containerd.sh stop kills any leftover)
  for (const id of ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
    ctr(['tasks', 'kill', '-s', 'SIGKILL', id]); ctr(['tasks', 'delete', '-f', id]); ctr(['containers', 'delete', id]);
  }
  if (ownDir) cp.spawnSync(path.join(ROOT, 'test', 'oci', 'containerd.sh'), ['stop', ownDir], LIMIT);
});

function ctr(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = cp.spawnSync('ctr', ['--address', sock, '--namespace', NS, ...args], { encoding: 'utf8', timeout, killSignal: 'SIGKILL' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `ctr run --rm` of the test image with torov-oci (or runc), and the image imported once. */
let imported = false;
function ctrRun(id: string, args: string[], o: { runc?: boolean; flags?: string[] } = {}) {
  if (!imported) {
    const tar = path.join(scratchDir('torov-oci-image-'), 'image.tar');
    const m = cp.spawnSync(process.execPath, [path.join(ROOT, 'test', 'oci', 'make-image.js'), tar, IMAGE], { encoding: 'utf8', ...LIMIT });
    assert.equal(m.status, 0, m.stderr);
    const r = ctr(['images', 'import', tar]);
    assert.equal(r.status, 0, r.stderr);
    imported = true;
  }
  return ctr(['run', '--rm', ...(o.runc ? [] : ['--runc-binary', RUNTIME]), ...(o.flags ?? []), IMAGE, id, ...args]);
}

/** The state directory containerd's shim gives a runtime for the test namespace. */
const shimState = (id: string) => path.join('/run/containerd/runc', NS, id);

test('containerd: ctr run prints what runc\'s run prints, with the same status', { skip: SKIP }, () => {
  for (const args of [['/hello', 'a', 'b c'], ['/oci_probe', 'args', 'a', 'b c', ''], ['/oci_probe', 'env']]) {
    const t = ctrRun('torov-args', args), n = ctrRun('runc-args', args, { runc: true });
    assert.equal(n.status, 0, n.stderr);
    assert.equal(t.status, 0, t.stderr);
    assert.equal(t.stdout, n.stdout, args.join(' '));
    assert.ok(t.stdout.length > 0);
  }
  assert.ok(!fs.existsSync(shimState('torov-args')));
});

test('containerd: a segfault is status 139', { skip: SKIP }, () => {
  const r = ctrRun('torov-segv', ['/fault', 'segv-null-write']);
  assert.equal(r.status, 139, r.stderr);
  assert.match(r.stderr, /torov: SIGSEGV/);
});

test('containerd: a detached sleeper is a torov VM; ctr task kill -s SIGTERM ends it; delete leaves nothing', { skip: SKIP }, async () => {
  ctrRun('never', ['/hello']);   // (imports the image)
  const r = ctr(['run', '-d', '--runc-binary', RUNTIME, IMAGE, 'torov-sleep', '/oci_probe', 'sleep']);
  assert.equal(r.status, 0, r.stderr);
  let pid = 0;
  await until('the task to run', () => {
    const m = /^torov-sleep\s+(\d+)\s+RUNNING/m.exec(ctr(['tasks', 'ls']).stdout);
    pid = m ? Number(m[1]) : 0;
    return pid > 0;
  });
  const all = tree(pid);
  assert.ok(all.some(holdsKvm), 'a process of the container holds /dev/kvm');
  assert.ok(fs.existsSync(shimState('torov-sleep')));
  assert.equal(ctr(['tasks', 'kill', '-s', 'SIGTERM', 'torov-sleep']).status, 0);
  await until('the task to stop', () => /^torov-sleep\s+\d+\s+STOPPED/m.test(ctr(['tasks', 'ls']).stdout));
  const d = ctr(['tasks', 'delete', 'torov-sleep']);
  assert.equal(d.status, 0, d.stderr);
  assert.equal(ctr(['containers', 'delete', 'torov-sleep']).status, 0);
  await until('every process of the container to end', () => !all.some(exists));
  assert.ok(!fs.existsSync(shimState('torov-sleep')), 'no state directory left');
});

test('containerd: ctr task metrics (kubectl top) are the run\'s cgroups\': its memory and pids limits, its CPU time; none left after', { skip: SKIP }, async () => {
  ctrRun('never', ['/hello']);
  const r = ctr(['run', '-d', '--runc-binary', RUNTIME, IMAGE, 'torov-metrics', '/oci_probe', 'tick']);
  assert.equal(r.status, 0, r.stderr);
  try {
    let pid = 0;
    await until('the task to run', () => {
      const m = /^torov-metrics\s+(\d+)\s+RUNNING/m.exec(ctr(['tasks', 'ls']).stdout);
      pid = m ? Number(m[1]) : 0;
      return pid > 0;
    });
    const vmm = tree(pid).find(holdsKvm)!;
    const run = cgroupsOf(vmm).filter((d) => path.basename(d.dir) === `torov-${pid}`);
    const dirOf = (c: string) => run.find((d) => d.controllers.includes(c) || (d.version === 2 && fs.readFileSync(path.join(d.dir, 'cgroup.controllers'), 'utf8').split(/\s+/).includes(c)));
    const mem = dirOf('memory'), pids = dirOf('pids');
    assert.ok(mem && pids, 'the run has memory and pids cgroups of its own');
    const read = (d: { dir: string }, f: string) => fs.readFileSync(path.join(d.dir, f), 'utf8').trim();
    const m = ctr(['tasks', 'metrics', '--format', 'json', 'torov-metrics']);
    assert.equal(m.status, 0, m.stderr);
    // The shim's JSON: cgroup v1's Metrics (memory.usage.limit), or v2's (memory.usage_limit).
    const j = JSON.parse(m.stdout) as Record<string, any>;
    const memLimit = Number(j['memory']?.usage?.limit ?? j['memory']?.usage_limit);
    assert.equal(memLimit, Number(read(mem, mem.version === 1 ? 'memory.limit_in_bytes' : 'memory.max')), 'the run\'s memory limit (the guest\'s and torov\'s share)');
    assert.equal(Number(j['pids']?.limit), Number(read(pids, 'pids.max')), 'the run\'s pids limit');
    assert.ok(j['pids'].current >= 2 && j['pids'].current <= Number(read(pids, 'pids.max')), `the run's tasks (${j['pids'].current})`);
    // CPU time: the run's, a fraction of a second, not the shim's (here the host's root cgroup).
    const acct = dirOf('cpuacct');
    const cpuNs = Number(j['cpu']?.usage?.total ?? (j['cpu']?.usage_usec ?? NaN) * 1000);
    if (acct?.version === 1 || mem.version === 2) assert.ok(cpuNs > 0 && cpuNs < 60e9, `the run's CPU time (${cpuNs} ns)`);
    assert.equal(ctr(['tasks', 'kill', '-s', 'SIGTERM', 'torov-metrics']).status, 0);
    await until('the task to stop', () => /^torov-metrics\s+\d+\s+STOPPED/m.test(ctr(['tasks', 'ls']).stdout));
    for (const d of run) await until(`${d.dir} to be removed`, () => !fs.existsSync(d.dir));
  } finally {
    ctr(['tasks', 'kill', '-s', 'SIGKILL', 'torov-metrics']); ctr(['tasks', 'delete', '-f', 'torov-metrics']); ctr(['containers', 'delete', 'torov-metrics']);
  }
});

test('containerd: ctr task pause stops the guest (PAUSED), ctr task resume goes on; SIGKILL ends a paused task', { skip: SKIP }, async () => {
  ctrRun('never', ['/hello']);
  const log = path.join(scratchDir('torov-oci-ctr-log-'), 'out');
  const r = ctr(['run', '-d', '--log-uri', `file://${log}`, '--runc-binary', RUNTIME, IMAGE, 'torov-pause', '/oci_probe', 'tick']);
  assert.equal(r.status, 0, r.stderr);
  try {
    let pid = 0;
    await until('the task to tick', () => {
      const m = /^torov-pause\s+(\d+)\s+RUNNING/m.exec(ctr(['tasks', 'ls']).stdout);
      pid = m ? Number(m[1]) : 0;
      return pid > 0 && fs.existsSync(log) && ticks(log) > 3;
    });
    const all = tree(pid);
    assert.ok(!(await stands(log, 400)), 'it ticks');
    const p = ctr(['tasks', 'pause', 'torov-pause']);
    assert.equal(p.status, 0, p.stderr);
    assert.match(ctr(['tasks', 'ls']).stdout, /^torov-pause\s+\d+\s+PAUSED/m);
    assert.ok(await stands(log, 600), 'a paused task does not run');
    const fz = cgroupsOf(pid).filter((x) => x.dir.endsWith('.freezer')).map((x) => x.dir);
    assert.equal(ctr(['tasks', 'resume', 'torov-pause']).status, 0);
    assert.match(ctr(['tasks', 'ls']).stdout, /^torov-pause\s+\d+\s+RUNNING/m);
    const n = ticks(log);
    await until('the task to tick again', () => ticks(log) > n + 5);
    assert.equal(ctr(['tasks', 'pause', 'torov-pause']).status, 0);
    assert.equal(ctr(['tasks', 'kill', '-s', 'SIGKILL', 'torov-pause']).status, 0);
    await until('the paused task to stop', () => /^torov-pause\s+\d+\s+STOPPED/m.test(ctr(['tasks', 'ls']).stdout));
    await until('every process of the task to end', () => !all.some(exists));
    assert.equal(ctr(['tasks', 'delete', 'torov-pause']).status, 0);
    for (const f of fz) assert.ok(!fs.existsSync(f), `no freezer cgroup left: ${f}`);
  } finally {
    ctr(['tasks', 'kill', '-s', 'SIGKILL', 'torov-pause']); ctr(['tasks', 'delete', '-f', 'torov-pause']); ctr(['containers', 'delete', 'torov-pause']);
  }
  assert.ok(!fs.existsSync(shimState('torov-pause')));
});

test('containerd: a server in its own network namespace, reached through it; and on the host\'s network', { skip: SKIP }, async () => {
  ctrRun('never', ['/hello']);
  const fetchLine = (argv: string[]) => cp.spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', ...LIMIT });
  // Its own namespace (ctr's default): entered from the host with nsenter.
  assert.equal(ctr(['run', '-d', '--runc-binary', RUNTIME, IMAGE, 'torov-srv', '/oci_probe', 'serve', '8931']).status, 0);
  try {
    let vmm = 0;
    await until('the server\'s VM', () => {
      const m = /^torov-srv\s+(\d+)\s+RUNNING/m.exec(ctr(['tasks', 'ls']).stdout);
      vmm = m ? tree(Number(m[1])).find(holdsKvm) ?? 0 : 0;
      return vmm > 0;
    });
    assert.notEqual(fs.readlinkSync(`/proc/${vmm}/ns/net`), fs.readlinkSync('/proc/self/ns/net'), 'a network namespace of its own');
    let got = '';
    await until('the server to answer', () => {
      got = fetchLine(['nsenter', `--net=/proc/${vmm}/ns/net`, 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/8931 && cat <&3']).stdout;
      return got !== '';
    });
    assert.equal(got, 'hello from oci_probe\n');
  } finally {
    ctr(['tasks', 'kill', '-s', 'SIGKILL', 'torov-srv']);
    await until('the server to stop', () => !/torov-srv\s+\d+\s+RUNNING/.test(ctr(['tasks', 'ls']).stdout));
    ctr(['tasks', 'delete', 'torov-srv']); ctr(['containers', 'delete', 'torov-srv']);
  }
  // The host's network (--net-host): reached directly.
  assert.equal(ctr(['run', '-d', '--net-host', '--runc-binary', RUNTIME, IMAGE, 'torov-srv-host', '/oci_probe', 'serve', '8932']).status, 0);
  try {
    let got = '';
    await until('the server on the host\'s network', () => {
      got = fetchLine([process.execPath, '-e', `const s=require('net').connect(8932,'127.0.0.1');let d='';s.on('data',(b)=>d+=b);s.on('end',()=>process.stdout.write(d));s.on('error',()=>{})`]).stdout;
      return got !== '';
    });
    assert.equal(got, 'hello from oci_probe\n');
  } finally {
    ctr(['tasks', 'kill', '-s', 'SIGKILL', 'torov-srv-host']);
    await until('the server to stop', () => !/torov-srv-host\s+\d+\s+RUNNING/.test(ctr(['tasks', 'ls']).stdout));
    ctr(['tasks', 'delete', 'torov-srv-host']); ctr(['containers', 'delete', 'torov-srv-host']);
  }
  void net;
});

test('containerd: a network namespace given by path (as a Kubernetes pod\'s) is joined', { skip: SKIP || (!have('unshare') || !have('nsenter') || !have('ip') ? 'needs unshare, nsenter and ip (util-linux, iproute2)' : false) }, async () => {
  // Not under /tmp: other torov runs bind /tmp into their guests, and a tree holding a
  // namespace file (an nsfs mount) cannot be bound from a user namespace.
  const dir = fs.mkdtempSync('/run/torov-oci-netns-');
  const nsFile = path.join(dir, 'net');
  fs.writeFileSync(nsFile, '');
  assert.equal(cp.spawnSync('unshare', [`--net=${nsFile}`, 'ip', 'link', 'set', 'lo', 'up'], LIMIT).status, 0);
  try {
    assert.equal(ctr(['run', '-d', '--with-ns', `network:${nsFile}`, '--runc-binary', RUNTIME, IMAGE, 'torov-pod', '/oci_probe', 'serve', '8933']).status, 0);
    let got = '';
    await until('the server in the given namespace', () => {
      got = cp.spawnSync('nsenter', [`--net=${nsFile}`, 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/8933 && cat <&3'], { encoding: 'utf8', ...LIMIT }).stdout;
      return got !== '';
    });
    assert.equal(got, 'hello from oci_probe\n');
    // Created by the VMM (src/oci/prepare.ts), in the namespace the native front end joined.
    assert.ok(fs.existsSync(path.join(shimState('torov-pod'), 'create')));
  } finally {
    ctr(['tasks', 'kill', '-s', 'SIGKILL', 'torov-pod']);
    await until('the server to stop', () => !/torov-pod\s+\d+\s+RUNNING/.test(ctr(['tasks', 'ls']).stdout));
    ctr(['tasks', 'delete', 'torov-pod']); ctr(['containers', 'delete', 'torov-pod']);
    cp.spawnSync('umount', [nsFile], LIMIT);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('containerd: ctr task exec runs a process in the container, as runc\'s: output, status, its localhost; a detached one ends with the task', { skip: SKIP }, async () => {
  ctrRun('never', ['/hello']);
  const ids = ['torov-exec', 'runc-exec'];
  try {
    assert.equal(ctr(['run', '-d', '--runc-binary', RUNTIME, IMAGE, 'torov-exec', '/oci_probe', 'serve', '8961']).status, 0);
    assert.equal(ctr(['run', '-d', IMAGE, 'runc-exec', '/oci_probe', 'serve', '8962']).status, 0);
    for (const id of ids) await until(`${id} to run`, () => new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, 'm').test(ctr(['tasks', 'ls']).stdout));
    let n = 0;
    const exec = (id: string, args: string[], flags: string[] = []) => ctr(['tasks', 'exec', ...flags, '--exec-id', `e${n++}`, id, ...args]);
    for (const args of [['/oci_probe', 'args', 'a', 'b c'], ['/oci_probe', 'env'], ['/hello']]) {
      const t = exec('torov-exec', args), r = exec('runc-exec', args);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(t.status, 0, t.stderr);
      assert.equal(t.stdout, r.stdout, args.join(' '));
      assert.ok(t.stdout.length > 0);
    }
    assert.equal(exec('torov-exec', ['/oci_probe', 'exit', '7']).status, 7);
    assert.equal(exec('runc-exec', ['/oci_probe', 'exit', '7']).status, 7);
    assert.equal(exec('torov-exec', ['/oci_probe', 'env'], ['--cwd', '/etc']).stdout, exec('runc-exec', ['/oci_probe', 'env'], ['--cwd', '/etc']).stdout);
    // The server of the container, on its localhost.
    const f = exec('torov-exec', ['/oci_probe', 'fetch', '8961']);
    assert.equal(f.status, 0, f.stderr);
    assert.equal(f.stdout, 'hello from oci_probe\n');
    // A missing program fails the exec, as with runc (containerd reports the runtime's error line).
    const bad = exec('torov-exec', ['/nothere']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /OCI runtime exec failed: .*\/nothere/);
    assert.notEqual(exec('runc-exec', ['/nothere']).status, 0);
    // With a terminal (ctr task exec -t, under script(1)): the pty's master through the console socket.
    if (have('script')) {
      const viaTerminal = (id: string) => cp.spawnSync('script', ['-qec', `ctr --address ${sock} --namespace ${NS} tasks exec -t --exec-id et${n++} ${id} /oci_probe args x 'y z'`, '/dev/null'], { encoding: 'utf8', ...LIMIT });
      // (Not compared byte for byte: ctr may add a line about a resize that raced with the
      // end, and the terminal may echo a NUL, "^@", that reached its input through the shim.)
      for (const id of ['torov-exec', 'runc-exec']) {
        const t = viaTerminal(id);
        assert.equal(t.status, 0, t.stdout);
        assert.match(t.stdout.replaceAll('^@', ''), /^\[x\]\r\r?\n\[y z\]\r\r?\n/, `${id}: the terminal turns \\n into \\r\\n: ${JSON.stringify(t.stdout)}`);
      }
    }
    // A detached exec is a torov VM; it ends when the task is killed; nothing is left.
    assert.equal(exec('torov-exec', ['/oci_probe', 'sleep'], ['-d']).status, 0);
    const task = Number(/^torov-exec\s+(\d+)/m.exec(ctr(['tasks', 'ls']).stdout)![1]);
    let execPids: number[] = [];
    await until('the detached exec to be listed', () => {
      execPids = (JSON.parse(cp.spawnSync(RUNTIME, ['--root', shimState('').replace(/\/$/, ''), 'ps', '--format', 'json', 'torov-exec'], { encoding: 'utf8', ...LIMIT }).stdout || '[]') as number[])
        .filter((p) => !tree(task).includes(p));
      return execPids.some(holdsKvm);
    });
    assert.equal(ctr(['tasks', 'kill', '-s', 'SIGKILL', 'torov-exec']).status, 0);
    await until('the task to stop', () => /^torov-exec\s+\d+\s+STOPPED/m.test(ctr(['tasks', 'ls']).stdout));
    await until('the exec to end with the task', () => !execPids.some(exists));
  } finally {
    for (const id of ids) {
      ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
      await until(`${id} to stop`, () => !new RegExp(`^${id}\\s+\\d+\\s+RUNNING`, 'm').test(ctr(['tasks', 'ls']).stdout)).catch(() => {});
      ctr(['tasks', 'delete', '-f', id]); ctr(['containers', 'delete', id]);
    }
  }
  assert.ok(!fs.existsSync(shimState('torov-exec')), 'no state directory left');
});

test('containerd: Docker\'s default seccomp profile (ctr run --seccomp) is the guest\'s policy; dev.torov.policy overrides it', { skip: SKIP }, () => {
  const plain = ctrRun('torov-sc', ['/oci_probe', 'denied']);
  assert.equal(plain.stdout, 'get_mempolicy: Function not implemented\n', plain.stderr);
  const docker = ctrRun('torov-sc', ['/oci_probe', 'denied'], { flags: ['--seccomp'] });
  assert.equal(docker.stdout, 'get_mempolicy: Operation not permitted\n', docker.stderr);
  // runc with the same profile refuses it the same way.
  assert.equal(ctrRun('runc-sc', ['/oci_probe', 'denied'], { runc: true, flags: ['--seccomp'] }).stdout, docker.stdout);
  // A torov policy named by the dev.torov.policy annotation (ctr run --annotation) wins.
  const pol = path.join(scratchDir('torov-oci-policy-'), 'guest.policy.json');
  fs.writeFileSync(pol, JSON.stringify({ defaultAction: 'allow', syscalls: [{ names: ['get_mempolicy'], action: 'deny', errno: 'EXDEV' }] }));
  const annotated = ctrRun('torov-sc', ['/oci_probe', 'denied'], { flags: ['--seccomp', '--annotation', `dev.torov.policy=${pol}`] });
  assert.equal(annotated.stdout, 'get_mempolicy: Cross-device link\n', annotated.stderr);
});

test('containerd: ctr run -t gives the program a terminal (the console socket), as runc does', { skip: SKIP || (!have('script') ? 'needs script (bsdutils) for a terminal' : false) }, () => {
  ctrRun('never', ['/hello']);
  // script(1) gives ctr a terminal; ctr gives the shim a console socket, the runtime sends the pty's master there.
  const viaTerminal = (runtime: string[], id: string, args: string) => cp.spawnSync('script',
    ['-qec', `ctr --address ${sock} --namespace ${NS} run -t --rm ${runtime.join(' ')} ${IMAGE} ${id} ${args}`, '/dev/null'], { encoding: 'utf8', ...LIMIT });
  const t = viaTerminal(['--runc-binary', RUNTIME], 'torov-tty', "/oci_probe args x 'y z'");
  const n = viaTerminal([], 'runc-tty', "/oci_probe args x 'y z'");
  assert.equal(t.status, 0, t.stdout);
  assert.equal(t.stdout, n.stdout);
  assert.match(t.stdout, /\[x\]\r\r?\n\[y z\]\r\r?\n/, 'the container\'s terminal turns \\n into \\r\\n');
  const segv = viaTerminal(['--runc-binary', RUNTIME], 'torov-tty', '/fault segv-null-write');
  assert.equal(segv.status, 139, segv.stdout);
  assert.match(segv.stdout, /torov: SIGSEGV/);
});

// ---- Docker ------------------------------------------------------------------------

const DOCKER_SKIP = !have('dockerd') || !have('docker') ? 'Docker tests skipped: dockerd and docker not installed (apt-get install docker.io; see .ci/run)'
  : process.getuid?.() !== 0 ? 'Docker tests skipped: they need root' : undefined;
if (DOCKER_SKIP) process.stderr.write(`oci.test: ${DOCKER_SKIP}\n`);

test('Docker: docker run --runtime torov, against runc: output, statuses, docker exec, docker stop, the default seccomp profile', { skip: DOCKER_SKIP }, async () => {
  // Under /run, not /tmp (see test/oci/dockerd.sh).
  const dir = fs.mkdtempSync('/run/torov-dockerd-');
  const script = path.join(ROOT, 'test', 'oci', 'dockerd.sh');
  try {
    const started = cp.spawnSync(script, ['start', dir], { encoding: 'utf8', ...LIMIT });
    assert.equal(started.status, 0, started.stderr);
    const host = started.stdout.trim();
    const docker = (args: string[]) => cp.spawnSync('docker', ['-H', host, ...args], { encoding: 'utf8', ...LIMIT });
    const tar = path.join(scratchDir('torov-oci-image-'), 'image.tar');
    assert.equal(cp.spawnSync(process.execPath, [path.join(ROOT, 'test', 'oci', 'make-image.js'), tar, IMAGE], LIMIT).status, 0);
    const load = docker(['load', '-i', tar]);
    assert.equal(load.status, 0, load.stderr);
    const img = 'torov/guests:latest';
    for (const args of [['/oci_probe', 'args', 'a', 'b c'], ['/oci_probe', 'env'], ['/oci_probe', 'uname'], ['/oci_probe', 'denied']]) {
      const t = docker(['run', '--rm', '--runtime', 'torov', '--hostname', 'h', img, ...args]);
      const n = docker(['run', '--rm', '--hostname', 'h', img, ...args]);
      assert.equal(t.status, 0, t.stderr);
      assert.equal(t.stdout, n.stdout, args.join(' '));
    }
    assert.equal(docker(['run', '--rm', '--runtime', 'torov', img, '/oci_probe', 'denied']).stdout, 'get_mempolicy: Operation not permitted\n', 'Docker\'s default profile');
    const segv = docker(['run', '--rm', '--runtime', 'torov', img, '/fault', 'segv-null-write']);
    assert.equal(segv.status, 139, segv.stderr);
    assert.equal(docker(['run', '-d', '--name', 'torov-sleep', '--runtime', 'torov', img, '/oci_probe', 'sleep']).status, 0);
    const pid = Number(docker(['inspect', '-f', '{{.State.Pid}}', 'torov-sleep']).stdout);
    assert.ok(pid > 0 && tree(pid).some(holdsKvm), 'a torov VM');
    const all = tree(pid);
    // docker exec: a torov VM in the container's network namespace; the program's status.
    const ex = docker(['exec', 'torov-sleep', '/oci_probe', 'args', 'a', 'b c']);
    assert.equal(ex.status, 0, ex.stderr);
    assert.equal(ex.stdout, '[a]\n[b c]\n');
    assert.equal(docker(['exec', 'torov-sleep', '/oci_probe', 'exit', '3']).status, 3);
    const stop = docker(['stop', '-t', '10', 'torov-sleep']);
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(docker(['inspect', '-f', '{{.State.ExitCode}}', 'torov-sleep']).stdout.trim(), '143', 'docker stop\'s SIGTERM reached the program');
    assert.equal(docker(['rm', 'torov-sleep']).status, 0);
    await until('the container\'s processes to end', () => !all.some(exists));
  } finally {
    cp.spawnSync(script, ['stop', dir], LIMIT);
  }
});

// ---- Podman ------------------------------------------------------------------------

const PODMAN_SKIP = !have('podman') ? 'Podman test skipped: podman not installed (apt-get install podman; see .ci/run)'
  : process.getuid?.() !== 0 ? 'Podman test skipped: it needs root' : undefined;
if (PODMAN_SKIP) process.stderr.write(`oci.test: ${PODMAN_SKIP}\n`);

test('Podman: podman --runtime bin/torov-oci run (through conmon)', { skip: PODMAN_SKIP }, () => {
  // Private storage (vfs: no overlay mounts) and run directories, under /run (see test/oci/dockerd.sh).
  const dir = fs.mkdtempSync('/run/torov-podman-');
  const podman = (args: string[]) => cp.spawnSync('podman', ['--root', path.join(dir, 'storage'), '--runroot', path.join(dir, 'run'), '--tmpdir', path.join(dir, 'tmp'),
    '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', ...args], { encoding: 'utf8', ...LIMIT });
  try {
    const tar = path.join(dir, 'image.tar');
    assert.equal(cp.spawnSync(process.execPath, [path.join(ROOT, 'test', 'oci', 'make-image.js'), tar, IMAGE], LIMIT).status, 0);
    const load = podman(['load', '-i', tar]);
    assert.equal(load.status, 0, load.stderr);
    const run = (args: string[]) => podman(['run', '--rm', '--network', 'none', '--hostname', 'h', '--runtime', RUNTIME, IMAGE, ...args]);
    const a = run(['/oci_probe', 'args', 'a', 'b c']);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.stdout, '[a]\n[b c]\n');
    assert.equal(run(['/oci_probe', 'uname']).stdout, 'nodename h\n');
    const segv = run(['/fault', 'segv-null-write']);
    assert.equal(segv.status, 139, segv.stderr);
    assert.match(segv.stderr, /torov: SIGSEGV/);
  } finally {
    podman(['rm', '-af']);
    for (const m of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir + '/')).reverse()) {
      cp.spawnSync('umount', ['-l', m], LIMIT);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
