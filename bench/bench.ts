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

const ROOT = path.resolve(__dirname, '..', '..');
const G = (n: string) => path.join(ROOT, 'test', 'guests', n);
const quick = process.argv.includes('--quick');
const REPS = quick ? 3 : 7;

const devnull = fs.openSync('/dev/null', 'r+');
const policy = defaultPolicy();

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Wall time (ns) of one in-process VM: create, run to exit, destroy. */
function vmOnce(guest: string, args: string[], image = fs.readFileSync(guest), vdso = true): number {
  const t0 = process.hrtime.bigint();
  const m = new Machine({ path: guest, image, argv: [guest, ...args], env: [], memory: 64 * 2 ** 20, policy,
    stdio: [devnull, devnull, devnull], log: () => {}, vdso });
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
  const m = new Machine({ path: guest, image, argv: [guest, ...args], env: [], memory: 64 * 2 ** 20, policy,
    stdio: [devnull, devnull, devnull], log: () => {} });
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
  run(Math.min(n, 1000));                       // warm up (JIT, page cache)
  const full: number[] = [], empty: number[] = [];
  for (let i = 0; i < REPS; i++) { empty.push(run(0)); full.push(run(n)); }
  return (median(full) - median(empty)) / n;
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
const e2e = (cmd: string, args: string[]) => { spawnOnce(cmd, args); const v: number[] = []; for (let i = 0; i < (quick ? 5 : 20); i++) v.push(spawnOnce(cmd, args)); return median(v); };
const torovCli = path.join(ROOT, 'bin', 'torov');
const tNode = e2e(process.execPath, ['-e', '']);
const tTorov = e2e(process.execPath, [torovCli, 'run', G('hello')]);
const tBare = e2e(process.execPath, [torovCli, 'run', '--no-sandbox', G('hello')]);
const tNative = e2e(G('hello'), []);
rows.push({ what: 'torov run hello, end to end (sandbox on: the default)', native: tNative, torov: tTorov, unit: 'ns' });
rows.push({ what: 'torov run --no-sandbox hello, end to end', native: tNative, torov: tBare, unit: 'ns' });
rows.push({ what: "node -e '' (Node's own start-up)", native: tNode, unit: 'ns' });
rows.push({ what: "torov run --no-sandbox hello - node -e ''", torov: tBare - tNode, unit: 'ns', note: 'target <= 25 ms' });
rows.push({ what: 'what the sandbox adds to a start (on - off)', torov: tTorov - tBare, unit: 'ns', note: 'a second Node start-up, namespaces, jail' });

// 3b. What the sandbox adds to a forwarded syscall: the same getppid and write loops run
// through the CLI with the sandbox (namespaces, jail, seccomp filter) on and off.
log('sandbox cost per syscall: torov run getppid_loop, sandbox on and off...');
const N_CLI = quick ? 2_000 : 10_000;
const cliCall = (extra: string[], mode: string[]) => perCall((n) => spawnOnce(process.execPath, [torovCli, 'run', ...extra, G('getppid_loop'), String(n), ...mode]), N_CLI);
const sOn = cliCall([], []), sOff = cliCall(['--no-sandbox'], []);
const wOn = cliCall([], ['write']), wOff = cliCall(['--no-sandbox'], ['write']);
rows.push({ what: 'getppid round trip, sandbox on / off', native: sOff, torov: sOn, unit: 'ns', note: 'native column: --no-sandbox' });
rows.push({ what: 'write(/dev/null, 1 byte), sandbox on / off', native: wOff, torov: wOn, unit: 'ns', note: 'native column: --no-sandbox; includes the seccomp filter' });

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

// Report.
const fmt = (ns: number | undefined) => ns === undefined ? '' : ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`;
const lines = [
  `torov benchmark, ${new Date().toISOString()}, ${process.platform} ${process.arch}, node ${process.version}, ${kvmKind()}`,
  '',
  `${'what'.padEnd(56)} ${'native'.padStart(11)} ${'torov'.padStart(11)} ${'ratio'.padStart(8)}  note`,
  ...rows.map((r) => `${r.what.padEnd(56)} ${fmt(r.native).padStart(11)} ${fmt(r.torov).padStart(11)} ${(r.native && r.torov ? (r.torov / r.native).toFixed(2) + 'x' : '').padStart(8)}  ${r.note ?? ''}`),
];
process.stdout.write(lines.join('\n') + '\n');
const out = path.join(ROOT, 'bench', 'results', 'latest.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), host: kvmKind(), reps: REPS, rows }, null, 2) + '\n');
log(`saved ${path.relative(process.cwd(), out)}`);

function kvmKind(): string {
  try { return fs.readdirSync('/sys/module').includes('kvm_pvm') ? 'nested KVM (kvm_pvm)' : 'KVM'; } catch { return 'KVM'; }
}
