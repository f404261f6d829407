/**
 * torov-oci under containerd's CRI plugin: the path kubelet takes to a pod whose
 * RuntimeClass handler is torov (docs/oci.md, Kubernetes), on real KVM.
 *
 * A private containerd with the CRI plugin (test/oci/containerd.sh start DIR --cri): the
 * handler "torov" is io.containerd.runc.v2 with bin/torov-oci as its runc binary, the pod
 * sandbox image is oci_probe pause (so the pause container runs in torov too), and pods
 * get their network from Debian's CNI plugins (bridge, host-local, loopback) on a private
 * bridge and subnet. There is no kubelet and no crictl: the tests speak CRI (gRPC) to
 * containerd themselves (test/oci/cri.ts), with the calls kubelet makes for a pod:
 * RunPodSandbox, CreateContainer, StartContainer, ContainerStatus, ExecSync (kubectl exec),
 * ContainerStats (kubectl top), StopContainer, StopPodSandbox, RemovePodSandbox.
 *
 * Skipped, with the reason on stderr, without root, containerd, ctr, runc's shim, ip
 * (iproute2) or the CNI plugins (containernetworking-plugins). The tests share one pod and
 * run in order.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ROOT, scratchDir, LIMIT } from '../helpers';
import { CriClient, GrpcError, ContainerState, SandboxState, type PodConfig, type ContainerStatus } from '../oci/cri';

const RUNTIME = path.join(ROOT, 'bin', 'torov-oci');
const CONTAINERD_SH = path.join(ROOT, 'test', 'oci', 'containerd.sh');
const IMAGE = 'docker.io/torov/guests:latest';
const CNI = '/usr/lib/cni';

const have = (cmd: string) => cp.spawnSync('sh', ['-c', `command -v ${cmd}`], LIMIT).status === 0;
const missing = [...['containerd', 'ctr', 'containerd-shim-runc-v2', 'runc', 'ip'].filter((c) => !have(c)),
  ...['bridge', 'host-local', 'loopback'].map((p) => path.join(CNI, p)).filter((p) => !fs.existsSync(p))];
const SKIP = process.getuid?.() !== 0 ? 'CRI tests skipped: they need root (containerd and CNI run as root)'
  : missing.length ? `CRI tests skipped: ${missing.join(', ')} missing (apt-get install containerd runc iproute2 containernetworking-plugins; see .ci/run)`
    : undefined;
if (SKIP) process.stderr.write(`cri.test: ${SKIP}\n`);

let dir = '';                      // the private containerd's directory (under /run: see before())
let sock = '';
let env: Record<string, string> = {};
let cri: CriClient | undefined;
let stopped = false;

function ctr(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = cp.spawnSync('ctr', ['--address', sock, '--namespace', 'k8s.io', ...args], { encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  if (SKIP) return;
  // Not under /tmp: other torov runs bind /tmp into their guests, and the CRI plugin mounts
  // each pod's /dev/shm (a tmpfs) in its state directory.
  dir = fs.mkdtempSync('/run/torov-cri-');
  const r = cp.spawnSync(CONTAINERD_SH, ['start', dir, '--cri'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `could not start containerd with the CRI plugin: ${r.stderr}`);
  sock = r.stdout.trim();
  env = Object.fromEntries(fs.readFileSync(path.join(dir, 'cri.env'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  // The test guests, imported (no registry) where the CRI plugin finds images, unpacked for its snapshotter.
  const tar = path.join(scratchDir('torov-cri-image-'), 'image.tar');
  const m = cp.spawnSync(process.execPath, [path.join(ROOT, 'test', 'oci', 'make-image.js'), tar, IMAGE], { encoding: 'utf8', ...LIMIT });
  assert.equal(m.status, 0, m.stderr);
  const i = ctr(['images', 'import', '--snapshotter', 'native', tar]);
  assert.equal(i.status, 0, i.stderr);
  cri = new CriClient(sock);
});

after(() => {
  cri?.close();
  // (The last test stops it and checks; this is for a run that failed before.)
  if (dir && !stopped) cp.spawnSync(CONTAINERD_SH, ['stop', dir], LIMIT);
});

// ---- helpers ------------------------------------------------------------------------

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  for (const t0 = Date.now(); !(await cond()); await sleepMs(50)) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
  }
}

/** The process and its descendants. */
function tree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks: string[] = [];
    try { tasks = fs.readdirSync(`/proc/${out[i]}/task`); } catch { continue; }
    for (const t of tasks) {
      try { out.push(...fs.readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)); } catch { /* gone */ }
    }
  }
  return out;
}
const exists = (pid: number) => { try { return !/^\d+ \(.*\) [ZX]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } };
const holdsKvm = (pid: number) => { try { return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === '/dev/kvm'; } catch { return false; } }); } catch { return false; } };
const netnsOf = (p: string) => { const s = fs.statSync(p); return `${s.dev}:${s.ino}`; };

/** The cgroup directories a process is in (as torov-oci finds them). */
function cgroupsOf(pid: number): string[] {
  const { cgroupDirs } = require('../../src/oci/cgroups') as typeof import('../../src/oci/cgroups');
  try { return cgroupDirs(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'), fs.readFileSync('/proc/self/mountinfo', 'utf8')).map((d) => d.dir); } catch { return []; }
}

/**
 * Every process of this containerd but containerd itself: its shims, and what they run
 * (torov's launchers and VMMs, exec guards), all of which name DIR on their command line.
 */
function ours(): number[] {
  const daemon = Number(fs.readFileSync(path.join(dir, 'containerd.pid'), 'utf8'));
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === daemon || Number(p) === process.pid) continue;
    try { if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir + '/') && exists(Number(p))) pids.push(Number(p)); } catch { /* gone */ }
  }
  return pids;
}

/** What the tests saw of the pod's processes: every pid, and every run cgroup (torov-PID) they were in. */
const seen = { pids: new Set<number>(), cgroups: new Set<string>() };
function sample(): void {
  for (const p of ours()) {
    seen.pids.add(p);
    for (const d of cgroupsOf(p)) if (/^torov-\d+/.test(path.basename(d))) seen.cgroups.add(d);
  }
}
/** Samples every 20 ms while `work` runs (an exec's processes live only that long). */
async function sampling<T>(work: Promise<T>): Promise<T> {
  let done = false;
  const loop = (async () => { while (!done) { sample(); await sleepMs(20); } })();
  try { return await work; } finally { done = true; await loop; }
}

/** The pod (shared by the tests, in order) and its config. */
const logDir = scratchDir('torov-cri-logs-');
const POD: PodConfig = { name: 'torov-pod', uid: 'f2c1e0d4-torov-cri-test', namespace: 'default', hostname: 'torov-pod', logDirectory: logDir };
let podId = '';
let podIp = '';
let podNetns = '';
let pausePid = 0;                  // the sandbox (pause) container's launcher

async function create(name: string, command: string[]): Promise<string> {
  assert.ok(podId, 'the pod runs (first test)');
  return cri!.createContainer(podId, { name, image: IMAGE, command, logPath: `${name}.log` }, POD);
}
async function statusOf(id: string): Promise<ContainerStatus> { return (await cri!.containerStatus(id)).status; }
async function exited(id: string): Promise<ContainerStatus> {
  let s: ContainerStatus | undefined;
  await until(`container ${id.slice(0, 12)} to exit`, async () => (s = await statusOf(id)).state === ContainerState.EXITED);
  return s!;
}
/** The launcher pid of a running container (ContainerStatus verbose: containerd's task pid). */
async function pidOf(id: string): Promise<number> {
  return Number(JSON.parse((await cri!.containerStatus(id, true)).info['info'] ?? '{}').pid);
}
/** The lines of a CRI log file: "TIME STREAM P|F TEXT". */
function logLines(name: string): Array<{ time: string; stream: string; tag: string; text: string }> {
  const f = path.join(logDir, `${name}.log`);
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => {
    const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/.exec(l);
    assert.ok(m, `a CRI log line: ${JSON.stringify(l)}`);
    return { time: m[1]!, stream: m[2]!, tag: m[3]!, text: m[4]! };
  });
}
/** What a TCP server at HOST:PORT says to a client that only reads ('' when nothing answers). */
function fetchFrom(host: string, port: number): Promise<string> {
  return new Promise((res) => {
    const s = net.connect(port, host);
    let d = '';
    s.setTimeout(2000, () => s.destroy());
    s.on('data', (b) => { d += b; });
    s.on('end', () => res(d));
    s.on('error', () => res(''));
    s.on('close', () => res(d));
  });
}

// ---- the tests ----------------------------------------------------------------------

test('CRI: containerd knows the torov handler; RunPodSandbox runs the pause container in torov, in the pod\'s network namespace', { skip: SKIP }, async () => {
  const v = await cri!.version();
  assert.equal(v.runtimeName, 'containerd');
  assert.equal(v.runtimeApiVersion, 'v1');
  const st = await cri!.status();
  for (const c of ['RuntimeReady', 'NetworkReady']) assert.ok(st.conditions.find((x) => x.type === c)?.status, `${c}: ${JSON.stringify(st.conditions)}`);
  assert.ok(await cri!.imageStatus(env['SANDBOX_IMAGE']!), 'the pause image is there (no registry)');

  podId = await cri!.runPodSandbox(POD, env['HANDLER']!);
  sample();
  const ps = await cri!.podSandboxStatus(podId, true);
  assert.equal(ps.state, SandboxState.READY);
  assert.equal(ps.runtimeHandler, 'torov');
  podIp = ps.ip;
  assert.ok(podIp.startsWith(env['SUBNET']!.replace(/0\/24$/, '')), `the pod's IP ${podIp} is in ${env['SUBNET']}`);
  const info = JSON.parse(ps.info['info'] ?? '{}') as { pid: number; runtimeOptions: { binary_name?: string; root?: string }; runtimeSpec: { root: { readonly?: boolean }; linux: { namespaces: Array<{ type: string; path?: string }> }; mounts: Array<{ destination: string; type: string }> } };
  assert.equal(info.runtimeOptions.binary_name, RUNTIME, 'the handler\'s runc binary is torov-oci');
  // What a pod's sandbox container is: a read-only root with /etc/resolv.conf bound into it
  // (pause images have none: torov-oci makes the mount point), the pod's netns by path.
  assert.equal(info.runtimeSpec.root.readonly, true);
  assert.ok(info.runtimeSpec.mounts.some((m) => m.destination === '/etc/resolv.conf' && m.type === 'bind'));
  pausePid = info.pid;
  podNetns = info.runtimeSpec.linux.namespaces.find((n) => n.type === 'network')?.path ?? '';
  assert.match(podNetns, /^\/var\/run\/netns\/cni-/);
  // The pause container is a torov VM (its VMM holds /dev/kvm) in that namespace, with torov-oci's state under the handler's root.
  const vmm = tree(info.pid).find(holdsKvm);
  assert.ok(vmm, 'the pause container\'s process is a torov VM');
  assert.equal(netnsOf(`/proc/${vmm}/ns/net`), netnsOf(podNetns), 'the pause VM is in the pod\'s network namespace');
  assert.ok(fs.existsSync(path.join(env['RUNTIME_ROOT']!, 'k8s.io', podId, 'state.json')), 'torov-oci\'s state for the sandbox');
  // The host reaches the pod's namespace through the bridge.
  assert.match(cp.spawnSync('ip', ['route', 'get', podIp], { encoding: 'utf8', ...LIMIT }).stdout, new RegExp(`dev ${env['BRIDGE']} `));
});

test('CRI: a container runs to its end: EXITED with its exit code, its output in the CRI log file', { skip: SKIP }, async () => {
  const id = await create('args', ['/oci_probe', 'args', 'one', 'two words']);
  assert.equal((await statusOf(id)).state, ContainerState.CREATED);
  await cri!.startContainer(id);
  sample();
  const s = await exited(id);
  assert.equal(s.exitCode, 0);
  assert.equal(s.reason, 'Completed');
  assert.equal(s.logPath, path.join(logDir, 'args.log'));
  assert.ok(s.finishedAt >= s.startedAt && s.startedAt > 0);
  const lines = logLines('args');
  assert.deepEqual(lines.map((l) => [l.stream, l.tag, l.text]), [['stdout', 'F', '[one]'], ['stdout', 'F', '[two words]']]);
  for (const l of lines) assert.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  await cri!.removeContainer(id);
  assert.ok(!fs.existsSync(path.join(env['RUNTIME_ROOT']!, 'k8s.io', id)), 'RemoveContainer leaves no state directory');

  // stderr, and a status other than 0.
  const bad = await create('bogus', ['/oci_probe', 'bogus']);
  await cri!.startContainer(bad);
  const b = await exited(bad);
  assert.equal(b.exitCode, 2);
  assert.equal(b.reason, 'Error');
  assert.deepEqual(logLines('bogus').map((l) => [l.stream, l.text]), [['stderr', 'oci_probe: unknown mode bogus']]);
  await cri!.removeContainer(bad);
});

let server = '';
const PORT = 8940;

test('CRI: a server container joins the pod\'s network namespace; the host reaches it at the pod\'s IP through the bridge', { skip: SKIP }, async () => {
  server = await create('server', ['/oci_probe', 'serve', String(PORT)]);
  await cri!.startContainer(server);
  sample();
  assert.equal((await statusOf(server)).state, ContainerState.RUNNING);
  const pid = await pidOf(server);
  const vmm = tree(pid).find(holdsKvm);
  assert.ok(vmm, 'the container is a torov VM');
  assert.equal(netnsOf(`/proc/${vmm}/ns/net`), netnsOf(podNetns), 'its VMM is in the pod\'s network namespace');
  let got = '';
  await until('the server to answer at the pod\'s IP', async () => (got = await fetchFrom(podIp, PORT)) !== '');
  assert.equal(got, 'hello from oci_probe\n');
  await until('the server to say it listens', () => logLines('server').some((l) => l.text === `listening on ${PORT}`));
});

test('CRI: ExecSync (kubectl exec) runs a command in the running container: output, exit code, the pod\'s localhost', { skip: SKIP }, async () => {
  assert.ok(server, 'the server runs (previous test)');
  // A client in the exec reaches the container's server on localhost: the exec is in the pod's network namespace.
  assert.deepEqual(await sampling(cri!.execSync(server, ['/oci_probe', 'fetch', String(PORT)], 60)), { stdout: 'hello from oci_probe\n', stderr: '', exitCode: 0 });
  assert.deepEqual(await sampling(cri!.execSync(server, ['/oci_probe', 'exit', '3'], 60)), { stdout: '', stderr: '', exitCode: 3 });
  assert.deepEqual(await sampling(cri!.execSync(server, ['/oci_probe', 'bogus'], 60)), { stdout: '', stderr: 'oci_probe: unknown mode bogus\n', exitCode: 2 });
  // A missing program: the runtime's one line reaches the caller, as kubectl shows it.
  await assert.rejects(sampling(cri!.execSync(server, ['/nothere'], 60)), (e: unknown) => e instanceof GrpcError && /OCI runtime exec failed: \/nothere: no such file in the guest's root/.test(e.details));
  assert.equal((await statusOf(server)).state, ContainerState.RUNNING, 'the container runs on');
});

test('CRI: ContainerStats (kubectl top) are the run\'s cgroups\' figures', { skip: SKIP }, async () => {
  assert.ok(server, 'the server runs');
  const pid = await pidOf(server);
  const s = await cri!.containerStats(server);
  assert.equal(s.id, server);
  assert.ok(s.cpu.timestamp > 0 && s.cpu.usageCoreNanoSeconds !== undefined && s.cpu.usageCoreNanoSeconds > 0n, `CPU usage: ${JSON.stringify(s.cpu, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  assert.ok(s.memory.workingSetBytes !== undefined && s.memory.workingSetBytes > 0n, 'a memory working set');
  // Which cgroups these figures are: containerd's shim reads the cgroups of the task's first
  // process, torov's launcher, which joins the run's own (torov-<pid>) before create returns.
  const launcher = cgroupsOf(pid), run = cgroupsOf(tree(pid).find(holdsKvm) ?? pid);
  assert.deepEqual(launcher, run, 'the launcher is in the run\'s cgroups');
  assert.ok(run.some((d) => path.basename(d) === `torov-${pid}`), `the run has cgroups of its own: ${run.join(' ')}`);
  const readNum = (dirs: string[], file: string) => { for (const d of dirs) { try { return BigInt(fs.readFileSync(path.join(d, file), 'utf8').trim()); } catch { /* not this one */ } } return undefined; };
  // The shim's figure is the run's cgroup's, read a moment earlier: the host's root cpuacct or the shim's memory would be far larger.
  const cpuNow = readNum(run, 'cpuacct.usage');
  if (cpuNow !== undefined) assert.ok(s.cpu.usageCoreNanoSeconds! <= cpuNow && cpuNow - s.cpu.usageCoreNanoSeconds! < 10_000_000_000n, `CPU ${s.cpu.usageCoreNanoSeconds} ns against the run's ${cpuNow} ns`);
  const limit = readNum(run, 'memory.limit_in_bytes') ?? readNum(run, 'memory.max');
  if (limit !== undefined) assert.ok(s.memory.usageBytes !== undefined && s.memory.usageBytes <= limit, `memory ${s.memory.usageBytes} bytes within the run's limit ${limit}`);
});

test('CRI: UpdateContainerResources (a pod resize) reaches the run\'s cgroups through torov-oci update', { skip: SKIP }, async () => {
  assert.ok(server, 'the server runs');
  const pid = await pidOf(server);
  const run = cgroupsOf(tree(pid).find(holdsKvm) ?? pid).filter((d) => path.basename(d) === `torov-${pid}`);
  const file = (name: string) => run.map((d) => path.join(d, name)).find((f) => fs.existsSync(f));
  const quota = file('cpu.cfs_quota_us'), memLimit = file('memory.limit_in_bytes');
  if (!quota || !memLimit) { process.stderr.write('cri.test: update test skipped: the run has no v1 cpu and memory cgroups here\n'); return; }
  const before = BigInt(fs.readFileSync(memLimit, 'utf8').trim());
  const guest = 256n * 2n ** 20n;                              // torov's default guest memory (the pod sets no limit)
  await cri!.updateContainerResources(server, { cpuPeriod: 100_000, cpuQuota: 50_000, cpuShares: 512, memoryLimitInBytes: 384 * 2 ** 20 });
  assert.equal(fs.readFileSync(quota, 'utf8').trim(), '50000');
  assert.equal(fs.readFileSync(file('cpu.cfs_period_us')!, 'utf8').trim(), '100000');
  assert.equal(fs.readFileSync(file('cpu.shares')!, 'utf8').trim(), '512');
  // The container's limit, plus torov's own share (what the run's limit held besides the guest's memory).
  assert.equal(BigInt(fs.readFileSync(memLimit, 'utf8').trim()), 384n * 2n ** 20n + (before - guest));
  assert.equal(await fetchFrom(podIp, PORT), 'hello from oci_probe\n', 'the server still answers');
});

test('CRI: StopContainer sends SIGTERM: a handler runs and the program exits 0; a program without one ends of it (143)', { skip: SKIP }, async () => {
  const id = await create('waiter', ['/oci_probe', 'pause']);
  await cri!.startContainer(id);
  sample();
  await until('the program to wait', () => logLines('waiter').some((l) => l.text === 'waiting'));
  // A long grace period: an end by SIGKILL would take it all, and be 137.
  await cri!.stopContainer(id, 60);
  const s = await statusOf(id);
  assert.equal(s.state, ContainerState.EXITED);
  assert.equal(s.exitCode, 0, 'the program\'s SIGTERM handler ran and it exited 0');
  assert.deepEqual(logLines('waiter').map((l) => l.text), ['waiting', 'stopping on SIGTERM']);
  await cri!.removeContainer(id);

  assert.ok(server, 'the server runs');
  const pids = tree(await pidOf(server));
  await cri!.stopContainer(server, 60);
  const t = await statusOf(server);
  assert.equal(t.state, ContainerState.EXITED);
  assert.equal(t.exitCode, 143, 'SIGTERM ended the server (no handler)');
  await until('the server\'s processes to end', () => !pids.some(exists));
});

test('CRI: StopPodSandbox and RemovePodSandbox leave no process, no state directory, no cgroup, no network namespace', { skip: SKIP }, async () => {
  assert.ok(podId, 'the pod runs');
  sample();
  await cri!.stopPodSandbox(podId);
  assert.equal((await cri!.podSandboxStatus(podId)).state, SandboxState.NOTREADY);
  await cri!.removePodSandbox(podId);
  await assert.rejects(cri!.podSandboxStatus(podId), (e: unknown) => e instanceof GrpcError && e.code === 5 /* NOT_FOUND */);
  await assert.rejects(cri!.containerStatus(server), (e: unknown) => e instanceof GrpcError && e.code === 5, 'the pod\'s containers went with it');
  assert.deepEqual(await cri!.listContainers(), []);
  assert.ok(seen.pids.size >= 4, `the test saw the pod's processes (${seen.pids.size})`);
  await until('every process of the pod to end (shim, launchers, VMMs, exec guards)', () => ours().length === 0);
  for (const p of seen.pids) assert.ok(!exists(p), `process ${p} ended`);
  const runtimeState = path.join(env['RUNTIME_ROOT']!, 'k8s.io');
  assert.deepEqual(fs.existsSync(runtimeState) ? fs.readdirSync(runtimeState) : [], [], 'no state directory under the handler\'s root');
  // The run cgroups of the containers and execs (each ended by itself or by SIGTERM: its launcher removes them).
  const others = [...seen.cgroups].filter((d) => path.basename(d) !== `torov-${pausePid}`);
  assert.ok(others.length > 0 || cgroupsOf(process.pid).length === 0, 'the runs had cgroups of their own');
  for (const d of others) await until(`the run cgroup ${d} to go`, () => !fs.existsSync(d));
  assert.ok(!fs.existsSync(podNetns), `the pod's network namespace ${podNetns} is gone`);
  assert.deepEqual(fs.readdirSync(`/sys/class/net/${env['BRIDGE']}/brif`), [], 'no veth left on the bridge');
});

// StopPodSandbox ends the pause container with SIGKILL (containerd's CRI plugin always does;
// so does StopContainer after its grace period): `torov-oci kill ID KILL` sends it to the
// launcher, which cannot remove its run's cgroups then: torov-oci's delete does, from the
// list the VMM left in the state directory.
test('CRI: the pause container\'s run cgroups are gone after RemovePodSandbox (it ended by SIGKILL)', { skip: SKIP }, () => {
  assert.ok(pausePid > 0, 'the pod ran');
  const mine = [...seen.cgroups].filter((d) => path.basename(d) === `torov-${pausePid}`);
  assert.ok(mine.length > 0, 'the pause run had cgroups');
  const left = mine.filter((d) => fs.existsSync(d));
  // (Remove them, empty as they are, so that a failed run leaves nothing behind.)
  for (const d of left) { try { fs.rmdirSync(d); } catch { /* in use, or gone meanwhile */ } }
  assert.deepEqual(left, [], 'the pause run\'s cgroups');
});

test('CRI: the private containerd stops with nothing left: no shim, no bridge, no network namespace of the subnet', { skip: SKIP }, () => {
  const bridge = env['BRIDGE']!, prefix = env['SUBNET']!.replace(/0\/24$/, '');
  const r = cp.spawnSync(CONTAINERD_SH, ['stop', dir], { encoding: 'utf8', ...LIMIT });
  stopped = true;
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!fs.existsSync(dir));
  assert.ok(!fs.existsSync(`/sys/class/net/${bridge}`), `no bridge ${bridge}`);
  const left: string[] = [];
  for (const n of fs.existsSync('/var/run/netns') ? fs.readdirSync('/var/run/netns') : []) {
    const a = cp.spawnSync('ip', ['-n', n, '-4', 'addr', 'show'], { encoding: 'utf8', ...LIMIT }).stdout ?? '';
    if (a.includes(` inet ${prefix}`)) left.push(n);
  }
  assert.deepEqual(left, [], 'no network namespace with an address of the pods\' subnet');
  assert.ok(!cp.spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8', ...LIMIT }).stdout.split('\n').some((l) => l.includes(dir + '/')), 'no process names the containerd\'s directory');
});
