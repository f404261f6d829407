/**
 * torov's benchmark (npm run bench): everything side by side in one run, medians and
 * ratios, saved as JSON in bench/results/latest.json. Absolute figures are from the
 * machine it runs on (nested KVM through kvm_pvm here); compare ratios across runs.
 *
 * Per-call costs are differences: (time for N calls - time for 0 calls) / N, so process
 * and VM start-up cancel out, for native runs and torov runs alike.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Machine } from '../src/vmm/machine';
import { defaultPolicy } from '../src/policy';
import { sectionServing } from './serving';
import { sectionContainers } from './oci';

const ROOT = path.resolve(__dirname, '..', '..');
const G = (n: string) => path.join(ROOT, 'test', 'guests', n);
const quick = process.argv.includes('--quick');
const REPS = quick ? 3 : 7;

const devnull = fs.openSync('/dev/null', 'r+');
const policy = defaultPolicy();

const PATH_LIST = ['native', 'exit', 'trap', 'cheap', 'fast'] as const;
const PATH_NAMES: Record<string, string> = { native: 'native', exit: 'exit path', trap: 'channel, trap entry', cheap: 'channel, rewritten entry', fast: 'in-guest fast path' };

// `--chart`: only draw bench/results/syscall-paths.svg again from latest.json.
if (process.argv.includes('--chart')) {
  const j = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench', 'results', 'latest.json'), 'utf8')) as { syscallPaths: PathRow[] };
  const ops = [...new Set(j.syscallPaths.map((r) => r.op))];
  const cell = (op: string, p: string) => j.syscallPaths.find((r) => r.op === op && r.path === p);
  fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'syscall-paths.svg'), chart(ops, PATH_LIST.map((p) => ({ key: p, name: PATH_NAMES[p]! })), cell));
  process.exit(0);
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** How syscalls reach torov: the exit path, the channel entered by the trap, the channel entered by a rewritten site. */
type SysPath = 'exit' | 'trap' | 'cheap';
const pathOpts = (p: SysPath) => ({ syscallPath: p === 'exit' ? 'exit' as const : 'ring' as const, rewrite: p === 'cheap', spawnThread: true });

/** An in-process VM for a test guest, its output to /dev/null. */
function newMachine(guest: string, args: string[], opts: { image?: Uint8Array; vdso?: boolean; sysPath?: SysPath } = {}): Machine {
  return new Machine({ path: guest, image: opts.image ?? fs.readFileSync(guest), argv: [guest, ...args], env: [], memory: 64 * 2 ** 20, policy,
    stdio: [devnull, devnull, devnull], log: () => {}, vdso: opts.vdso ?? true, ...pathOpts(opts.sysPath ?? 'exit') });
}

/** Wall time (ns) of one in-process VM: create, run to exit, destroy. */
function vmOnce(guest: string, args: string[], image = fs.readFileSync(guest), vdso = true, sysPath: SysPath = 'exit'): number {
  const t0 = process.hrtime.bigint();
  const m = newMachine(guest, args, { image, vdso, sysPath });
  const status = m.run();
  m.close();
  const t = Number(process.hrtime.bigint() - t0);
  if (status !== 0) throw new Error(`${path.basename(guest)} ${args.join(' ')} exited ${status}`);
  return t;
}

/**
 * Like vmOnce, with the GDB stub attached: a client process connects, sends `vCont;c` and
 * waits for the exit (no breakpoints), so the program runs in the debugger's run loop.
 */
function vmOnceGdb(guest: string, args: string[], image = fs.readFileSync(guest)): number {
  const { GdbStub } = require('../src/gdb') as typeof import('../src/gdb');
  const m = newMachine(guest, args, { image });
  const stub = GdbStub.listen('127.0.0.1:0');
  stub.attach(m, () => {});
  const port = /:(\d+);/.exec(stub.connectHint(''))![1];
  const client = spawn(process.execPath, ['-e', `const s = require('net').connect(${port}, '127.0.0.1', () => s.write('$vCont;c#a8'));
    s.on('data', (d) => { if (/[$]W/.test(d.toString())) s.end(); });`], { stdio: 'ignore' });
  const t0 = process.hrtime.bigint();
  const status = m.run();
  const t = Number(process.hrtime.bigint() - t0);
  m.close();
  client.kill();
  if (status !== 0) throw new Error(`${path.basename(guest)} ${args.join(' ')} exited ${status} under gdb`);
  return t;
}

/** Wall time (ns) of a host command, spawned. */
function spawnOnce(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const t = Number(process.hrtime.bigint() - t0);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return t;
}

/** Median per-call cost (ns) from runs with n calls and with 0 calls. */
function perCall(run: (n: number) => number, n: number): number {
  return perCallCores((k) => ({ wall: run(k), cpu: 0 }), n).ns;
}

/** Like perCall, with the CPU cores busy meanwhile: `run` returns wall and CPU time (ns) of a run. */
function perCallCores(run: (n: number) => { wall: number; cpu: number }, n: number): { ns: number; cores: number } {
  run(Math.min(n, 1000));                       // warm up (JIT, page cache)
  const full: { wall: number; cpu: number }[] = [], empty: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < REPS; i++) { empty.push(run(0)); full.push(run(n)); }
  const w = median(full.map((x) => x.wall)) - median(empty.map((x) => x.wall));
  const c = median(full.map((x) => x.cpu)) - median(empty.map((x) => x.cpu));
  return { ns: w / n, cores: w > 0 ? c / w : 0 };
}

interface Row { what: string; native?: number; torov?: number; unit: string; note?: string }
const rows: Row[] = [];
const log = (s: string) => process.stderr.write(s + '\n');

// 1. Syscall round trips, native against inside torov.
const N_NATIVE = quick ? 200_000 : 1_000_000, N_VM = quick ? 2_000 : 10_000;
log('syscalls: getppid, write(/dev/null, 1)...');
const nGetppid = perCall((n) => spawnOnce(G('getppid_loop'), [String(n)]), N_NATIVE);
const vGetppid = perCall((n) => vmOnce(G('getppid_loop'), [String(n)]), N_VM);
const nWrite = perCall((n) => spawnOnce(G('getppid_loop'), [String(n), 'write']), N_NATIVE);
const vWrite = perCall((n) => vmOnce(G('getppid_loop'), [String(n), 'write']), N_VM);
log('floors: bare out, syscall entry...');
const floorOut = perCall((n) => vmOnce(G('exitloop'), ['out', String(n)]), N_VM);
const floorSyscall = perCall((n) => vmOnce(G('exitloop'), ['enosys', String(n)]), N_VM);
rows.push({ what: 'getppid round trip', native: nGetppid, torov: vGetppid, unit: 'ns' });
rows.push({ what: 'write(/dev/null, 1 byte)', native: nWrite, torov: vWrite, unit: 'ns' });
rows.push({ what: 'floor: bare VM exit (`out` at CPL3)', torov: floorOut, unit: 'ns' });
rows.push({ what: 'floor: syscall entry + exit, no handler (ENOSYS)', torov: floorSyscall, unit: 'ns' });
// torov's own cost: getppid and the syscall floor measured in alternation, so that both
// see the same machine load (the runs above are minutes apart on a shared machine).
log('own cost: getppid and the syscall floor, interleaved...');
const ownDiff: number[] = [];
vmOnce(G('getppid_loop'), ['1000']); vmOnce(G('exitloop'), ['enosys', '1000']);
for (let i = 0; i < REPS + 4; i++) {
  const g = (vmOnce(G('getppid_loop'), [String(N_VM)]) - vmOnce(G('getppid_loop'), ['0'])) / N_VM;
  const f = (vmOnce(G('exitloop'), ['enosys', String(N_VM)]) - vmOnce(G('exitloop'), ['enosys', '0'])) / N_VM;
  ownDiff.push(g - f);
}
rows.push({ what: 'torov own cost per syscall (getppid - syscall floor)', torov: median(ownDiff), unit: 'ns', note: 'target <= 3000; median of interleaved pairs' });

// 1a. clock_gettime through torov's vDSO (no exit) against the exit path (--no-vdso).
log('clock_gettime: vDSO and exit path...');
const N_CLOCK = quick ? 200_000 : 1_000_000;
const nClock = perCall((n) => spawnOnce(G('vdso_clock'), [String(n)]), N_CLOCK);
const vClock = perCall((n) => vmOnce(G('vdso_clock'), [String(n)]), N_CLOCK);
const vClockExit = perCall((n) => vmOnce(G('vdso_clock'), [String(n)], undefined, false), N_VM);
rows.push({ what: 'clock_gettime(CLOCK_MONOTONIC), vDSO', native: nClock, torov: vClock, unit: 'ns', note: 'in the guest: rdtsc + the clock page' });
rows.push({ what: 'clock_gettime(CLOCK_MONOTONIC), exit path (--no-vdso)', native: nClock, torov: vClockExit, unit: 'ns', note: `${(vClockExit / vClock).toFixed(0)}x the vDSO` });

// 1b. The GDB stub costs nothing when off. torov always has it built in, and Vcpu.run()
// picks its run loop once per run (no debugger test on the exit path), so "stub off" is
// the ordinary loop. The same getppid loop is measured with the stub off and with gdb
// attached and continuing (no breakpoints: the debugger's loop in src/gdb/target.ts),
// interleaved so that both see the same machine load.
log('gdb stub: getppid, stub off and gdb attached, interleaved...');
{
  const off: number[] = [], on: number[] = [], offEmpty: number[] = [], onEmpty: number[] = [];
  vmOnce(G('getppid_loop'), ['1000']); vmOnceGdb(G('getppid_loop'), ['1000']);
  for (let i = 0; i < REPS; i++) {
    offEmpty.push(vmOnce(G('getppid_loop'), ['0'])); off.push(vmOnce(G('getppid_loop'), [String(N_VM)]));
    onEmpty.push(vmOnceGdb(G('getppid_loop'), ['0'])); on.push(vmOnceGdb(G('getppid_loop'), [String(N_VM)]));
  }
  const vOff = (median(off) - median(offEmpty)) / N_VM, vOn = (median(on) - median(onEmpty)) / N_VM;
  rows.push({ what: 'getppid round trip, gdb stub built in but off', torov: vOff, unit: 'ns', note: 'the ordinary loop, measured again here' });
  rows.push({ what: 'getppid round trip, gdb attached, no breakpoints', torov: vOn, unit: 'ns', note: `${(vOn / vOff).toFixed(2)}x the stub-off loop` });
}

// 2. VM lifecycle inside one process.
log('VM lifecycle: create, run hello, destroy...');
const helloImg = fs.readFileSync(G('hello'));
for (let i = 0; i < 5; i++) vmOnce(G('hello'), [], helloImg);
const life: number[] = [];
for (let i = 0; i < (quick ? 30 : 200); i++) life.push(vmOnce(G('hello'), [], helloImg));
rows.push({ what: 'create + run hello + destroy, in process (median)', torov: median(life), unit: 'ns', note: 'target <= 1.5 ms' });

// 3. End to end, spawned like a user would: the default (sandboxed: a launcher and the
// VMM in its namespaces and jail) and --no-sandbox, against Node's own start-up.
log('end to end: torov run hello (sandbox on and off), native hello, node -e ""...');
// Round robin (one run of each command in turn), so that the machine's drift during the
// measurement (other tenants, here) weighs on every command alike; medians of 41 rounds.
const e2e = (cmds: Array<[string, string[]]>): number[] => {
  for (const [cmd, args] of cmds) spawnOnce(cmd, args);
  const v: number[][] = cmds.map(() => []);
  for (let i = 0; i < (quick ? 7 : 41); i++) cmds.forEach(([cmd, args], k) => v[k]!.push(spawnOnce(cmd, args)));
  return v.map(median);
};
// bin/torov is the launcher (src/launcher/launcher.c): it runs the node found on PATH, this one.
const torovCli = path.join(ROOT, 'bin', 'torov');
process.env['PATH'] = `${path.dirname(process.execPath)}:${process.env['PATH'] ?? ''}`;
const [tNode, tTorov, tBare, tExitPath] = e2e([[process.execPath, ['-e', '']], [torovCli, ['run', G('hello')]],
  [torovCli, ['run', '--no-sandbox', G('hello')]], [torovCli, ['run', '--syscall-path', 'exit', G('hello')]]]) as [number, number, number, number];
// Where a sandboxed start-up goes: `torov run --verbose` prints its steps (src/cli/run.ts).
const split = new Map<string, number[]>();
for (let i = 0; i < (quick ? 5 : 20); i++) {
  const r = spawnSync(torovCli, ['run', '--verbose', G('hello')], { encoding: 'utf8' });
  const m = /^torov: start-up \(ms\): (.*); guest starts at ([\d.]+)$/m.exec(r.stderr);
  if (!m) throw new Error(`no start-up line from torov run --verbose: ${r.stderr}`);
  for (const part of m[1]!.split(', ')) {
    const mm = /^(.*?) \+?([\d.]+)$/.exec(part)!;
    const key = mm[1]!;
    if (!split.has(key)) split.set(key, []);
    split.get(key)!.push(Number(mm[2]) * 1e6);
  }
}
const [tNative] = e2e([[G('hello'), []]]) as [number];
rows.push({ what: 'torov run hello, end to end (sandbox on: the default)', native: tNative, torov: tTorov, unit: 'ns' });
rows.push({ what: 'torov run --no-sandbox hello, end to end', native: tNative, torov: tBare, unit: 'ns' });
rows.push({ what: "node -e '' (Node's own start-up)", native: tNode, unit: 'ns' });
rows.push({ what: "torov run --no-sandbox hello - node -e ''", torov: tBare - tNode, unit: 'ns', note: 'target <= 25 ms' });
rows.push({ what: "torov run hello (sandbox on) - node -e ''", torov: tTorov - tNode, unit: 'ns', note: 'target <= 40 ms (one Node start-up: the launcher makes the namespaces first)' });
rows.push({ what: 'torov run --syscall-path exit hello (sandbox on), end to end', native: tNative, torov: tExitPath, unit: 'ns', note: 'without the syscall channel\'s thread' });
rows.push({ what: 'what the sandbox adds to a start (on - off)', torov: tTorov - tBare, unit: 'ns', note: 'namespaces, jail, privileges, seccomp filter, the channel\'s thread' });
for (const [what, v] of split) rows.push({ what: `  start-up split (torov run --verbose, median): ${what}`, torov: median(v), unit: 'ns', note: what === 'Node' ? 'Node\'s own bootstrap, from the process start' : 'after the step before' });

// 3a. Dynamically linked programs (issue 16): the machine's own Python and ls, natively
// and in torov with --rootfs / (the host's files, read-only), end to end as a user runs
// them. Goals: python3 -c pass within 2x native plus torov's own start-up (torov run
// hello above), ls -la /usr/bin within 2x native. Then, in this process (no sandbox, no
// second Node start-up), the run alone, and what the program's memory is made of: pages
// mapped from files (the host's page cache, shared with every other process mapping
// them), pages copied (written copy-on-write, or copied by torov), anonymous pages.
sectionDynamic();

function sectionDynamic(): void {
  const PY = '/usr/bin/python3', LS = '/bin/ls';
  if (!fs.existsSync(PY) || !fs.existsSync(LS)) { log('dynamic programs: /usr/bin/python3 or /bin/ls missing, skipped'); return; }
  log('dynamic programs: python3 -c pass, ls -la /usr/bin, natively and in torov --rootfs /...');
  const [nPy, vPy] = e2e([[PY, ['-c', 'pass']], [torovCli, ['run', '--rootfs', '/', PY, '-c', 'pass']]]) as [number, number];
  rows.push({ what: 'python3 -c pass, end to end (--rootfs /)', native: nPy, torov: vPy, unit: 'ns',
    note: `minus torov run hello: ${((vPy - tTorov) / 1e6).toFixed(1)} ms, ${((vPy - tTorov) / nPy).toFixed(2)}x native (goal <= 2x)` });
  const [nLs, vLs] = e2e([[LS, ['-la', '/usr/bin']], [torovCli, ['run', '--rootfs', '/', LS, '-la', '/usr/bin']]]) as [number, number];
  rows.push({ what: 'ls -la /usr/bin, end to end (--rootfs /)', native: nLs, torov: vLs, unit: 'ns', note: 'goal <= 2x' });
  for (const [what, prog, args] of [['python3 -c pass', PY, ['-c', 'pass']], ['ls -la /usr/bin', LS, ['-la', '/usr/bin']]] as const) {
    for (const p of ['exit', 'cheap'] as const) {
      const runs: number[] = [];
      let pages: WindowPages | undefined;
      for (let i = 0; i < REPS; i++) {
        const fd = fs.openSync(prog, 'r');
        const m = new Machine({ path: prog, image: fs.readFileSync(fd), argv: [prog, ...args], env: ['PATH=/usr/local/bin:/usr/bin:/bin'], memory: 256 * 2 ** 20,
          policy, stdio: [devnull, devnull, devnull], log: () => {}, loader: { fd }, ...pathOpts(p) });
        const t0 = process.hrtime.bigint();
        const status = m.run();
        runs.push(Number(process.hrtime.bigint() - t0));
        pages ??= windowPages(m);
        const served = m.scheduler.stats.served;
        m.close();
        fs.closeSync(fd);
        if (status !== 0) throw new Error(`${what} exited ${status} in process`);
        if (i === 0) log(`  ${what}, ${PATH_NAMES[p]}: ${served} syscalls through the channel, sites rewritten: ${pages.rewritten}`);
      }
      rows.push({ what: `${what}, the run in process (${PATH_NAMES[p]})`, torov: median(runs), unit: 'ns', note: 'no start-up: Machine.run()' });
      if (p === 'exit') {
        const k = (n: number) => `${Math.round(n / 1024)} KiB`;
        rows.push({ what: `${what}: memory from files, mapped / copied`, torov: pages!.fileMapped / 4096, unit: 'pages',
          note: `${k(pages!.fileMapped)} mapped from files and resident (${k(pages!.fileShared)} of it shared with other mappings), ${k(pages!.fileCopied)} copied on write, ${k(pages!.torovCopied)} copied by torov's loader, ${k(pages!.anon)} anonymous` });
      }
    }
  }
}

interface WindowPages { fileMapped: number; fileShared: number; fileCopied: number; torovCopied: number; anon: number; rewritten: number }

/** What the guest's window is made of on the host, from /proc/self/smaps (bytes), before the VM is closed. */
function windowPages(m: Machine): WindowPages {
  const lo = m.mem.hostBase, hi = lo + m.mem.memSize;
  const out: WindowPages = { fileMapped: 0, fileShared: 0, fileCopied: 0, torovCopied: m.as.fileStats.copied, anon: 0, rewritten: m.rewriter?.stats.rewritten ?? 0 };
  let inside = false, file = false;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      const a = parseInt(head[1]!, 16), b = parseInt(head[2]!, 16);
      inside = a >= lo && b <= hi;
      file = head[3] !== '0' && head[4] !== '';
      continue;
    }
    if (!inside) continue;
    const f = /^(Rss|Shared_Clean|Shared_Dirty|Private_Clean|Private_Dirty):\s+(\d+) kB/.exec(line);
    if (!f) continue;
    const v = Number(f[2]) * 1024;
    if (!file) { if (f[1] === 'Rss') out.anon += v; continue; }
    if (f[1] === 'Shared_Clean' || f[1] === 'Shared_Dirty') { out.fileShared += v; out.fileMapped += v; }
    if (f[1] === 'Private_Clean') out.fileMapped += v;
    if (f[1] === 'Private_Dirty') out.fileCopied += v;
  }
  return out;
}

// 3b. What the sandbox adds to a forwarded syscall: the same getppid and write loops run
// through the CLI with the sandbox (namespaces, jail, seccomp filter) on and off.
log('sandbox cost per syscall: torov run getppid_loop, sandbox on and off...');
const N_CLI = quick ? 2_000 : 10_000;
// On the exit path, where every call makes host syscalls (KVM_RUN) that the filter sees; a
// call through the channel makes none, and its few µs would drown in start-up noise here.
const cliCall = (extra: string[], mode: string[]) => perCall((n) => spawnOnce(torovCli, ['run', '--syscall-path', 'exit', ...extra, G('getppid_loop'), String(n), ...mode]), N_CLI);
const sOn = cliCall([], []), sOff = cliCall(['--no-sandbox'], []);
const wOn = cliCall([], ['write']), wOff = cliCall(['--no-sandbox'], ['write']);
rows.push({ what: 'getppid round trip, sandbox on / off (exit path)', native: sOff, torov: sOn, unit: 'ns', note: 'native column: --no-sandbox' });
rows.push({ what: 'write(/dev/null, 1 byte), sandbox on / off (exit path)', native: wOff, torov: wOn, unit: 'ns', note: 'native column: --no-sandbox; includes the seccomp filter' });

// 4. CPU-bound code: 100 million loop iterations, native and torov runs interleaved so
// that both see the same machine load; the loop's time is a run minus a 0-iteration run.
log('CPU loop: 1e8 iterations...');
const N_LOOP = 100_000_000;
const loopN: number[] = [], loopV: number[] = [];
for (let i = 0; i < REPS + 2; i++) {
  loopN.push(spawnOnce(G('cpuloop'), [String(N_LOOP)]) - spawnOnce(G('cpuloop'), ['0']));
  loopV.push(vmOnce(G('cpuloop'), [String(N_LOOP)]) - vmOnce(G('cpuloop'), ['0']));
}
rows.push({ what: 'CPU loop, 1e8 iterations', native: median(loopN), torov: median(loopV), unit: 'ns', note: 'target: within 5%' });

// 5. Syscall paths (issue 6): native, the exit path, the channel entered by the `syscall`
// trap, the channel entered by a rewritten site, and the in-guest fast path, side by side.
// Each per-call figure is (N calls - 0 calls) / N; "cores" is the process's user+sys CPU
// time over the same difference of wall time (spinning is not free: a polling host thread
// and a spinning guest count), for native runs from the children's times in /proc/self/stat.
interface PathRow { op: string; path: 'native' | SysPath | 'fast'; ns: number; cores: number }
const pathRows: PathRow[] = [];
const ticks = () => { const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' '); return (Number(f[13]) + Number(f[14])) * 1e7; }; // cutime+cstime, ns (100 Hz)
const cpuNs = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
function measured(run: () => number, cpu: () => number): { wall: number; cpu: number } {
  const c0 = cpu(); const wall = run(); return { wall, cpu: cpu() - c0 };
}
const readFile = path.join(require('node:os').tmpdir(), `torov-bench-4k-${process.pid}`);
fs.writeFileSync(readFile, Buffer.alloc(4096, 7));
const OPS: { op: string; args: (n: number) => string[] }[] = [
  { op: 'getppid', args: (n) => [String(n)] },
  { op: 'write 1 B to /dev/null', args: (n) => [String(n), 'write'] },
  { op: 'read 4 KiB (cached file)', args: (n) => [String(n), 'read', readFile] },
];
const N_PATH = { native: quick ? 100_000 : 500_000, exit: quick ? 2_000 : 10_000, trap: quick ? 10_000 : 50_000, cheap: quick ? 100_000 : 500_000 };
log('syscall paths: getppid, write, read 4 KiB: native, exit, channel (trap entry), channel (rewritten entry)...');
for (const { op, args } of OPS) {
  const nat = perCallCores((n) => measured(() => spawnOnce(G('getppid_loop'), args(n)), ticks), N_PATH.native);
  pathRows.push({ op, path: 'native', ...nat });
  for (const p of ['exit', 'trap', 'cheap'] as const) {
    const r = perCallCores((n) => measured(() => vmOnce(G('getppid_loop'), args(n), undefined, true, p), cpuNs), N_PATH[p]);
    pathRows.push({ op, path: p, ...r });
  }
}
{
  log('in-guest fast path: getpid...');
  const nat = perCallCores((n) => measured(() => spawnOnce(G('getppid_loop'), [String(n), 'getpid']), ticks), N_PATH.native);
  pathRows.push({ op: 'getpid', path: 'native', ...nat });
  pathRows.push({ op: 'getpid', path: 'exit', ...perCallCores((n) => measured(() => vmOnce(G('getppid_loop'), [String(n), 'getpid'], undefined, true, 'exit'), cpuNs), N_PATH.exit) });
  pathRows.push({ op: 'getpid', path: 'fast', ...perCallCores((n) => measured(() => vmOnce(G('getppid_loop'), [String(n), 'getpid'], undefined, true, 'cheap'), cpuNs), N_PATH.native) });
}
fs.rmSync(readFile, { force: true });

// 5b. Calls that block: 1 ms nanosleeps. The guest spins for its budget (SPIN_US), then
// sleeps in the VMM until the result is there: the CPU per call is about the budget, and
// the latency over native is the wake-up of the vCPU thread.
log('blocking calls: nanosleep(1 ms)...');
const N_SLEEP = quick ? 100 : 500;
const sleepNative = perCallCores((n) => measured(() => spawnOnce(G('getppid_loop'), [String(n), 'sleep', '1000']), ticks), N_SLEEP);
pathRows.push({ op: 'nanosleep 1 ms', path: 'native', ...sleepNative });
for (const p of ['exit', 'trap', 'cheap'] as const) {
  pathRows.push({ op: 'nanosleep 1 ms', path: p, ...perCallCores((n) => measured(() => vmOnce(G('getppid_loop'), [String(n), 'sleep', '1000'], undefined, true, p), cpuNs), N_SLEEP) });
}

/** A TCP echo server in a torov VM (in this process) or natively, against the native client; the client's median and p90 round trip. */
async function tcpEcho(server: 'native' | SysPath, n: number): Promise<{ median: number; p90: number; cores: number }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const client = spawn(G('tcp_echo'), ['client', String(port), String(n), '16'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  client.stdout!.on('data', (d) => { out += d; });
  const done = new Promise<void>((res) => client.on('close', () => res()));
  const t0 = process.hrtime.bigint(), c0 = cpuNs();
  if (server === 'native') {
    const r = spawnSync(G('tcp_echo'), ['server', String(port)], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error('native tcp_echo server failed');
  } else {
    const m = newMachine(G('tcp_echo'), ['server', String(port)], { sysPath: server });
    const st = m.run(); m.close();
    if (st !== 0) throw new Error(`tcp_echo server exited ${st} under torov`);
  }
  const wall = Number(process.hrtime.bigint() - t0), cpu = cpuNs() - c0;
  await done;
  const m = /median (\d+) p90 (\d+)/.exec(out);
  if (!m) throw new Error(`tcp_echo client: ${out}`);
  return { median: Number(m[1]), p90: Number(m[2]), cores: server === 'native' ? NaN : cpu / wall };
}

/** A guest blocked in accept() for `ms`: the share of one CPU torov uses meanwhile. */
async function blockedAccept(ms: number, p: SysPath): Promise<number> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const client = spawn('bash', ['-c', `sleep ${ms / 1000}; exec "$0" client ${port} 1 16`, G('tcp_echo')], { stdio: 'ignore' });
  const done = new Promise<void>((res) => client.on('close', () => res()));
  const m = newMachine(G('tcp_echo'), ['accept', String(port)], { sysPath: p });
  const t0 = process.hrtime.bigint(), c0 = cpuNs();
  m.run(); m.close();
  const share = (cpuNs() - c0) / Number(process.hrtime.bigint() - t0);
  await done;
  return share;
}

async function sectionTcp(): Promise<void> {
  log('TCP echo, 16-byte messages, native client: native server, then torov on each path...');
  const N_TCP = quick ? 2_000 : 10_000;
  for (const p of ['native', 'exit', 'trap', 'cheap'] as const) {
    await tcpEcho(p, 500);                                      // warm up
    const runs: { median: number; p90: number; cores: number }[] = [];
    for (let i = 0; i < (quick ? 2 : 3); i++) runs.push(await tcpEcho(p, p === 'exit' ? Math.min(N_TCP, 3000) : N_TCP));
    pathRows.push({ op: 'TCP echo round trip (median)', path: p, ns: median(runs.map((r) => r.median)), cores: median(runs.map((r) => r.cores)) });
    pathRows.push({ op: 'TCP echo round trip (p90)', path: p, ns: median(runs.map((r) => r.p90)), cores: median(runs.map((r) => r.cores)) });
  }
  const ms = quick ? 2000 : 10_000;
  log(`a guest blocked in accept() for ${ms / 1000} s...`);
  const share = await blockedAccept(ms, 'cheap');
  rows.push({ what: `guest blocked in accept() for ${ms / 1000} s, channel: CPU used`, torov: share * 100, unit: '%', note: 'target < 1% of one CPU' });
}

// 6. Threads and signals (issue 10): thread create + join, a futex round trip between two
// threads, a signal round trip (tgkill, handler, rt_sigreturn), natively and in torov (in
// process, the default channel path with rewritten sites), per call, with the CPU cores
// busy; then a Go net/http server's throughput and p99 under a native load generator
// (bench/httpload.ts), natively and under `torov run --network host` (sandbox on). Goals on
// these 2-CPU kvm_pvm machines: create + join <= 10x native, futex round trip <= 5x, signal
// round trip <= 10x, Go HTTP throughput >= 50% of native.
async function sectionThreads(): Promise<void> {
  const MODES = [
    { mode: 'create', what: 'thread create + join', goal: 'goal <= 10x', n: quick ? 300 : 1500 },
    { mode: 'futex', what: 'futex round trip between 2 threads', goal: 'goal <= 5x', n: quick ? 3000 : 20_000 },
    { mode: 'signal', what: 'signal round trip (tgkill, handler, sigreturn)', goal: 'goal <= 10x', n: quick ? 3000 : 20_000 },
  ];
  const c = (x: number) => `${x.toFixed(2)}c`;
  for (const { mode, what, goal, n } of MODES) {
    log(`threads: ${what}...`);
    const nat = perCallCores((k) => measured(() => spawnOnce(G('thread_bench'), [mode, String(k)]), ticks), n * 10);
    const vm = perCallCores((k) => measured(() => vmOnce(G('thread_bench'), [mode, String(k)], undefined, true, 'cheap'), cpuNs), n);
    rows.push({ what, native: nat.ns, torov: vm.ns, unit: 'ns', note: `${goal}; cores busy: native ${c(nat.cores)}, torov ${c(vm.cores)}` });
  }
  if (!fs.existsSync(G('gothreads'))) { log('Go HTTP: test/guests/gothreads missing, skipped'); return; }
  log('Go net/http server, 16 keep-alive connections from a native load generator: native, then torov run --network host...');
  const nat = await goHttp(false), vm = await goHttp(true);
  rows.push({ what: 'Go net/http: requests per second', native: nat.rps, torov: vm.rps, unit: 'req/s',
    note: `goal >= 50% of native; errors: native ${nat.errors}, torov ${vm.errors}; server cores busy: native ${c(nat.cores)}, torov ${c(vm.cores)}` });
  rows.push({ what: 'Go net/http: p99 latency', native: nat.p99 * 1000, torov: vm.p99 * 1000, unit: 'ns', note: `median: native ${(nat.p50 / 1000).toFixed(2)} ms, torov ${(vm.p50 / 1000).toFixed(2)} ms` });
}

interface HttpLoad { requests: number; errors: number; rps: number; p50: number; p99: number; cores: number }

/** The Go HTTP server natively or under torov, loaded for a while by bench/httpload.ts; its figures and the server's CPU cores. */
async function goHttp(underTorov: boolean): Promise<HttpLoad> {
  const argv = underTorov ? [torovCli, 'run', '--network', 'host', G('gothreads'), 'http'] : [G('gothreads'), 'http'];
  const server = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((res) => server.on('close', (code) => res(code)));
  try {
    const port = await new Promise<number>((res, rej) => {
      let err = '';
      server.stderr!.on('data', (d) => { err += d; const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err); if (m) res(Number(m[1])); });
      server.on('close', () => rej(new Error(`gothreads http ended before listening: ${err}`)));
    });
    await httpLoad(port, 1000);                               // warm up
    const c0 = treeCpuNs(server.pid!), t0 = process.hrtime.bigint();
    const r = await httpLoad(port, quick ? 3000 : 10_000);
    const cores = (treeCpuNs(server.pid!) - c0) / Number(process.hrtime.bigint() - t0);
    await httpLoad(port, 1, '/quit');
    const code = await Promise.race([exited, new Promise<null>((res) => setTimeout(() => res(null), 10_000))]);
    if (code !== 0) throw new Error(`gothreads http ${underTorov ? 'under torov' : 'natively'} ended with ${code}`);
    return { ...r, cores };
  } finally {
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}

// 7. Processes (issue 11): fork + exit + wait, fork + exec + wait of a static hello,
// posix_spawn of it, a BusyBox sh loop that starts a program 100 times, and a three-stage
// pipeline, natively and in torov (in process, the default channel path). Goal on these
// machines: fork+exec+wait and a script starting 100 programs <= 3x native.
function sectionProcesses(): void {
  const hello = G('hello'), bb = '/bin/busybox';
  const c = (x: number) => `${x.toFixed(2)}c`;
  const MODES = [
    { mode: 'fork', what: 'fork + exit + wait', n: quick ? 30 : 100 },
    { mode: 'exec', what: 'fork + exec + wait of a static hello', n: quick ? 30 : 100, goal: 'goal <= 3x' },
    { mode: 'spawn', what: 'posix_spawn + wait of a static hello', n: quick ? 30 : 100 },
  ];
  for (const { mode, what, n, goal } of MODES) {
    log(`processes: ${what}...`);
    const nat = perCallCores((k) => measured(() => spawnOnce(G('proc_bench'), [mode, String(k), hello]), ticks), n * 10);
    const vm = perCallCores((k) => measured(() => vmOnce(G('proc_bench'), [mode, String(k), hello], undefined, true, 'cheap'), cpuNs), n);
    rows.push({ what, native: nat.ns, torov: vm.ns, unit: 'ns', note: `${goal ? goal + '; ' : ''}cores busy: native ${c(nat.cores)}, torov ${c(vm.cores)}` });
  }
  if (!fs.existsSync(bb)) { log('processes: /bin/busybox missing, shell cases skipped'); return; }
  const SH = [
    { what: 'sh: a loop starting a static program (per program)', script: (k: number) => `i=0; while [ $i -lt ${k} ]; do ${hello} >/dev/null; i=$((i+1)); done`, n: quick ? 20 : 100, goal: 'goal <= 3x' },
    { what: 'sh: a three-stage pipeline (per pipeline)', script: (k: number) => `i=0; while [ $i -lt ${k} ]; do echo x | ${bb} cat | ${bb} wc -l >/dev/null; i=$((i+1)); done`, n: quick ? 10 : 50 },
  ];
  for (const { what, script, n, goal } of SH) {
    log(`processes: ${what}...`);
    const nat = perCallCores((k) => measured(() => spawnOnce(bb, ['sh', '-c', script(k)]), ticks), n);
    const vm = perCallCores((k) => measured(() => vmOnce(bb, ['sh', '-c', script(k)], undefined, true, 'cheap'), cpuNs), n);
    rows.push({ what, native: nat.ns, torov: vm.ns, unit: 'ns', note: `${goal ? goal + '; ' : ''}cores busy: native ${c(nat.cores)}, torov ${c(vm.cores)}` });
  }
}

/** Runs bench/httpload.ts (16 connections) against the port for `ms`. */
function httpLoad(port: number, ms: number, urlPath?: string): Promise<Omit<HttpLoad, 'cores'>> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, [path.join(__dirname, 'httpload.js'), String(port), urlPath ? '1' : '16', String(ms), ...(urlPath ? [urlPath] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout!.on('data', (d) => { out += d; });
    c.on('close', (code) => (code === 0 ? res(JSON.parse(out) as Omit<HttpLoad, 'cores'>) : rej(new Error(`httpload exited ${code}`))));
  });
}

/** User + system CPU time (ns) of process `pid` and all its descendants alive now (100 Hz ticks). */
function treeCpuNs(pid: number): number {
  const procs: { pid: number; ppid: number; cpu: number }[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ');
      procs.push({ pid: Number(d), ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) * 1e7 });
    } catch { /* gone */ }
  }
  const inTree = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (!inTree.has(p.pid) && inTree.has(p.ppid)) { inTree.add(p.pid); grew = true; }
  }
  return procs.filter((p) => inTree.has(p.pid)).reduce((a, p) => a + p.cpu, 0);
}

function report(): void {
  const fmt = (v: number | undefined, unit = 'ns') => v === undefined || Number.isNaN(v) ? '' : unit !== 'ns' ? `${v.toFixed(2)} ${unit}`
    : v >= 1e6 ? `${(v / 1e6).toFixed(2)} ms` : v >= 1e3 ? `${(v / 1e3).toFixed(2)} µs` : `${v.toFixed(0)} ns`;
  const PATHS = PATH_LIST;
  const ops = [...new Set(pathRows.map((r) => r.op))];
  const cell = (op: string, p: string) => pathRows.find((r) => r.op === op && r.path === p);
  const lines = [
    `torov benchmark, ${new Date().toISOString()}, ${process.platform} ${process.arch}, node ${process.version}, ${kvmKind()}`,
    '',
    `${'what'.padEnd(56)} ${'native'.padStart(11)} ${'torov'.padStart(11)} ${'ratio'.padStart(8)}  note`,
    ...rows.map((r) => `${r.what.padEnd(56)} ${fmt(r.native, r.unit).padStart(11)} ${fmt(r.torov, r.unit).padStart(11)} ${(r.native && r.torov ? (r.torov / r.native).toFixed(2) + 'x' : '').padStart(8)}  ${r.note ?? ''}`),
    '',
    'Syscall paths (issue 6): time per call, ratio to native, and CPU cores busy while calling',
    `${'operation'.padEnd(30)} ${PATHS.map((p) => PATH_NAMES[p]!.padStart(26)).join('')}`,
    ...ops.map((op) => `${op.padEnd(30)} ${PATHS.map((p) => {
      const c = cell(op, p), n = cell(op, 'native');
      if (!c) return ''.padStart(26);
      const ratio = n && p !== 'native' ? ` ${(c.ns / n.ns).toFixed(1)}x` : '';
      const cores = Number.isNaN(c.cores) ? '' : ` ${c.cores.toFixed(2)}c`;
      return `${fmt(c.ns)}${ratio}${cores}`.padStart(26);
    }).join('')}`),
    '',
    '(c: CPU cores busy during the calls, from user+sys time: 1.00c is one CPU; the channel\'s polling thread and spinning guest count.)',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  const dir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify({ date: new Date().toISOString(), host: kvmKind(), reps: REPS, rows, syscallPaths: pathRows }, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'latest.txt'), lines.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'syscall-paths.svg'), chart(ops, PATHS.map((p) => ({ key: p, name: PATH_NAMES[p]! })), cell));
  log(`saved bench/results/latest.json, latest.txt and syscall-paths.svg`);
}

/** A grouped bar chart of latency per path (log scale), as a standalone SVG. */
function chart(ops: string[], paths: { key: string; name: string }[], cell: (op: string, p: string) => PathRow | undefined): string {
  const COLORS: Record<string, string> = { native: '#4d4d4d', exit: '#d62728', trap: '#ff7f0e', cheap: '#2ca02c', fast: '#1f77b4' };
  const W = 920, H = 420, left = 70, right = 20, top = 40, bottom = 110;
  const values = ops.flatMap((op) => paths.map((p) => cell(op, p.key)?.ns).filter((v): v is number => v !== undefined && v > 0));
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values)))), hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values))));
  const y = (v: number) => top + (H - top - bottom) * (1 - (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)));
  const groupW = (W - left - right) / ops.length, barW = Math.min(24, (groupW - 16) / paths.length);
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const label = (ns: number) => ns >= 1e6 ? `${+(ns / 1e6).toPrecision(3)} ms` : ns >= 1e3 ? `${+(ns / 1e3).toPrecision(3)} µs` : `${+ns.toPrecision(3)} ns`;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">torov: time per syscall by path (log scale; ${esc(kvmKind())}, ${new Date().toISOString().slice(0, 10)})</text>`];
  for (let d = lo; d <= hi; d *= 10) {
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y(d)}" y2="${y(d)}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${y(d) + 4}" text-anchor="end">${label(d)}</text>`);
  }
  ops.forEach((op, i) => {
    const present = paths.filter((p) => cell(op, p.key));
    const x0 = left + i * groupW + (groupW - present.length * barW) / 2;
    present.forEach((p, k) => {
      const v = cell(op, p.key)!.ns, x = x0 + k * barW, yy = y(Math.max(v, lo));
      out.push(`<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(H - bottom - yy).toFixed(1)}" fill="${COLORS[p.key]}"><title>${esc(op)}, ${esc(p.name)}: ${label(v)}</title></rect>`);
    });
    const lx = (left + i * groupW + groupW / 2).toFixed(1), ly = H - bottom + 14;
    out.push(`<text x="${lx}" y="${ly}" text-anchor="end" transform="rotate(-20 ${lx} ${ly})">${esc(op)}</text>`);
  });
  paths.forEach((p, k) => {
    const x = left + k * 170;
    out.push(`<rect x="${x}" y="${H - 40}" width="12" height="12" fill="${COLORS[p.key]}"/>`, `<text x="${x + 16}" y="${H - 30}">${esc(p.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function kvmKind(): string {
  try { return fs.readdirSync('/sys/module').includes('kvm_pvm') ? 'nested KVM (kvm_pvm)' : 'KVM'; } catch { return 'KVM'; }
}

// 8. Serving (issue 15): snapshot restores, warm VMs' memory, torov serve against a native
// CGI server (bench/serving.ts).
const serving = () => sectionServing(rows, quick);
const containers = () => sectionContainers(rows, quick, log);
void sectionTcp().then(sectionThreads).then(sectionProcesses).then(serving).then(containers).then(report, (e) => { log(String(e && e.stack || e)); process.exit(1); });
