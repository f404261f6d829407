/**
 * The fuzz kit (issue 13): hostile inputs for torov, and how each run is judged.
 *
 * Three generators, all deterministic from a seed (a failure names the seed that repeats it):
 *  - the syscall fuzzer, a guest (test/guests/fuzz.c): random syscalls with hostile
 *    pointers, forged syscall-channel requests, random code, inside torov;
 *  - crafted ELF files (craftElf): headers and program headers bent every way, truncated,
 *    with hostile interpreters;
 *  - hostile policies (craftPolicy): torov, Docker and ToroV formats with wrong types,
 *    out-of-range numbers, escaping paths, control bytes, broken encodings.
 * and the resource probes (test/guests/hog.c), which try to take more of the host than
 * --memory allows.
 *
 * Every run is judged the same way (judge): it may end normally, with a guest death (a
 * signal torov reports, a policy kill, the program exiting early), or at its --timeout;
 * a torov failure is anything else: "internal error", a VMM killed or crashed, a stack
 * trace, a hang past --timeout, an error of more than one line or with control bytes.
 * After each run the host is checked (hostLeftovers): no process of the run left, no
 * cgroup of the run left, no set-id file in its volume, nothing changed outside it.
 *
 * Used by test/integration/fuzz.test.ts (a short run inside `npm test`) and by
 * test/fuzz/soak.ts (`npm run soak`, a million calls and more). HOSTILE: the guests and
 * files made here run only inside torov, never natively.
 */
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const TOROV = path.join(ROOT, 'bin', 'torov');
export const FUZZ_GUEST = path.join(ROOT, 'test', 'guests', 'fuzz');
export const HOG_GUEST = path.join(ROOT, 'test', 'guests', 'hog');
export const HELLO = path.join(ROOT, 'test', 'guests', 'hello');

// The launcher runs the `node` found on PATH: the one running this.
process.env['PATH'] = `${path.dirname(process.execPath)}:${process.env['PATH'] ?? ''}`;

/** A deterministic random source (xorshift64*), so a seed repeats a run exactly. */
export class Rng {
  private s: bigint;
  constructor(seed: number) { this.s = (BigInt(seed) * 0x9e3779b97f4a7c15n + 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn || 1n; }
  /** 64 random bits. */
  u64(): bigint {
    let s = this.s;
    s ^= s >> 12n; s ^= (s << 25n) & 0xffffffffffffffffn; s ^= s >> 27n;
    this.s = s;
    return (s * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
  }
  /** An integer in [0, n). */
  below(n: number): number { return n <= 0 ? 0 : Number(this.u64() % BigInt(n)); }
  chance(percent: number): boolean { return this.below(100) < percent; }
  pick<T>(a: readonly T[]): T { return a[this.below(a.length)]!; }
  bytes(n: number): Buffer { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = this.below(256); return b; }
}

// ---- Judging a run ----------------------------------------------------------------------------

export type Outcome = 'ok' | 'guest-death' | 'timeout' | 'torov-failure';

export interface Verdict { outcome: Outcome; why: string }

/** What marks a torov failure in its stderr, whatever the status. */
const FAILURE_TEXT = /internal error|the VMM was killed|KVM_RUN failed|unexpected VM exit|KVM could not enter|FATAL ERROR|Segmentation fault|Aborted|koffi|napi_|^\s+at .+\(.*:\d+:\d+\)|^[A-Za-z]*Error: /m;

/**
 * Judges one `torov run`: `status` (null: it had to be killed), its stderr, and whether
 * the guest reported that it got through (`done`; undefined when the guest does not say).
 * `torovLines`: stderr holds only torov's own lines (the guest's output went elsewhere).
 */
export function judge(status: number | null, stderr: string, o: { done?: boolean; torovLines?: boolean } = {}): Verdict {
  // The run reached its cgroup's memory limit (a sealed memfd is bounded there only, as a
  // memfd is on Linux): the kernel killed it inside its cgroup, and torov said so. Contained.
  if (status === 137 && stderr === 'torov: the VMM was killed by SIGKILL (out of memory: the run\'s cgroup limit)\n') {
    return { outcome: 'guest-death', why: stderr.trim() };
  }
  const fail = FAILURE_TEXT.exec(stderr);
  if (fail) return { outcome: 'torov-failure', why: `stderr: ${oneLineOf(stderr, fail.index)}` };
  if (status === null) return { outcome: 'torov-failure', why: 'still running past its --timeout: killed by the harness' };
  if (status === 125) return { outcome: 'torov-failure', why: `torov failed (125): ${firstLine(stderr)}` };
  if (o.torovLines) {
    for (const l of stderr.split('\n').filter((x) => x)) {
      if (!l.startsWith('torov: ')) return { outcome: 'torov-failure', why: `a line that is not torov's: ${JSON.stringify(l.slice(0, 200))}` };
      if (/[\x00-\x08\x0b-\x1f\x7f]/.test(l)) return { outcome: 'torov-failure', why: `control bytes in: ${JSON.stringify(l.slice(0, 200))}` };
    }
  }
  if (status === 124) {
    return /^torov: timeout: the VM was stopped after /m.test(stderr) ? { outcome: 'timeout', why: '--timeout' } : { outcome: 'torov-failure', why: `status 124 without the timeout line: ${firstLine(stderr)}` };
  }
  if (status > 128 && status < 128 + 65) {
    // The program died of a signal: a fault, reported by torov in one line, or a signal's
    // default action (it sent itself one), silent as natively. (The VMM dying would have
    // made the launcher say "the VMM was killed by", a failure above.)
    return { outcome: 'guest-death', why: firstLine(stderr) || `status ${status}: the program's signal ${status - 128}` };
  }
  if (status === 0 && o.done !== false) return { outcome: 'ok', why: '' };
  return { outcome: 'guest-death', why: status === 0 ? 'ended before its last call' : `exit status ${status}` };
}

function firstLine(s: string): string { return (s.split('\n').find((l) => l.trim()) ?? '').slice(0, 300); }
function oneLineOf(s: string, at: number): string {
  const a = s.lastIndexOf('\n', at) + 1, b = s.indexOf('\n', at);
  return s.slice(a, b < 0 ? undefined : b).slice(0, 300);
}

// ---- The host after a run ---------------------------------------------------------------------

/** The cgroup directories a run of launcher `pid` would have (torov-<pid>), wherever they are. */
export function runCgroupDirs(pid: number): string[] {
  const out: string[] = [];
  let own: string;
  try { own = fs.readFileSync('/proc/self/cgroup', 'utf8'); } catch { return out; }
  for (const line of own.split('\n').filter((l) => l)) {
    const [, ctrl, p] = line.split(':') as [string, string, string];
    const names = ctrl === '' ? ['unified', ''] : ctrl.split(',');
    for (const n of names) {
      const base = n === '' ? '/sys/fs/cgroup' : path.join('/sys/fs/cgroup', n.replace(/^name=/, ''));
      const d = path.join(base, p, `torov-${pid}`);
      if (fs.existsSync(d)) out.push(d);
    }
  }
  return out;
}

/** Processes whose command line contains `marker` (a run's unique volume path). */
export function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try { if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker)) pids.push(Number(p)); } catch { /* gone */ }
  }
  return pids;
}

/** Files below `dir` with a set-user-ID or set-group-ID bit. */
export function setIdFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    let names: string[];
    try { names = fs.readdirSync(d); } catch { return; }
    for (const n of names) {
      const p = path.join(d, n);
      let st: fs.Stats;
      try { st = fs.lstatSync(p); } catch { continue; }
      if (st.mode & 0o6000 && !st.isSymbolicLink()) out.push(`${p} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory() && depth < 8) walk(p, depth + 1);
    }
  };
  walk(dir, 0);
  return out;
}

/** What is left on the host of one run: its processes, its cgroups, set-id files in its volume. */
export function hostLeftovers(launcherPid: number | undefined, volume: string): string[] {
  const left: string[] = [];
  // The launcher waits for the VMM; allow a second for the kernel to reap a killed one.
  let procs = processesWith(volume);
  for (let i = 0; i < 20 && procs.length; i++) { cp.spawnSync('sleep', ['0.05']); procs = processesWith(volume); }
  for (const p of procs) {
    let cmd = '?';
    try { cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 200); } catch { /* gone */ }
    left.push(`process ${p} still runs: ${cmd}`);
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  if (launcherPid !== undefined) for (const d of runCgroupDirs(launcherPid)) left.push(`cgroup ${d} left`);
  for (const f of setIdFiles(volume)) left.push(`set-id file in the volume: ${f}`);
  return left;
}

/** A snapshot of what no run may change: files outside any volume (a canary), the jail's mount point, /tmp's torov-jail entries. */
export class HostCanary {
  readonly dir: string;
  private readonly before: string;
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-canary-'));
    fs.writeFileSync(path.join(this.dir, 'canary'), 'untouched\n', { mode: 0o644 });
    this.before = this.state();
  }
  private state(): string {
    const ls = (d: string) => { try { return fs.readdirSync(d).sort().join(','); } catch { return '-'; } };
    const st = fs.statSync(path.join(this.dir, 'canary'));
    return JSON.stringify({ canary: fs.readFileSync(path.join(this.dir, 'canary'), 'utf8'), mode: st.mode, mtime: st.mtimeMs, mnt: ls('/mnt'), devnull: fs.statSync('/dev/null').mode });
  }
  /** What changed since the snapshot (empty: nothing). */
  changes(): string[] {
    const now = this.state();
    return now === this.before ? [] : [`host state changed: ${this.before} -> ${now}`];
  }
  remove(): void { fs.rmSync(this.dir, { recursive: true, force: true }); }
}

// ---- The syscall fuzzer -------------------------------------------------------------------------

/** The default policy, or one that allows every syscall (torov still implements each one itself). */
export const ALLOW_ALL = { defaultAction: 'allow', tmp: true };

export interface FuzzRun {
  seed: number; calls: number;
  /** s: random syscalls, c: forged channel requests, x: random code. */
  classes: string;
  policy: 'default' | 'allow';
  path: 'exit' | 'ring';
  trace: boolean;
  /** torov's --timeout, seconds. */
  timeout: number;
}

export interface FuzzResult extends Verdict {
  run: FuzzRun;
  /** Calls the guest made (steps started), and the last syscall it made. */
  callsMade: number;
  last: string;
  leftovers: string[];
  ms: number;
  command: string;
}

/** The progress page the fuzz guest keeps (test/guests/fuzz.c: struct progress). */
function readProgress(file: string): { calls: number; nr: bigint; args: bigint[]; step: number; done: boolean } | undefined {
  let b: Buffer;
  try { b = fs.readFileSync(file); } catch { return undefined; }
  if (b.length < 120) return undefined;
  const q = (i: number) => b.readBigUInt64LE(i * 8);
  return { calls: Number(q(0)), nr: q(1), args: [2, 3, 4, 5, 6, 7].map(q), step: Number(q(8)), done: q(9) === 1n };
}

/** Runs the syscall fuzzer once inside torov and judges it. */
export function runFuzz(r: FuzzRun): FuzzResult {
  const vol = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-fuzz-'));
  try {
    const args = ['run', '--timeout', `${r.timeout}s`, '--memory', '128M', '--syscall-path', r.path, '-v', `${vol}:/data`];
    if (r.policy === 'allow') {
      fs.writeFileSync(path.join(vol, '.policy.json'), JSON.stringify(ALLOW_ALL));
      args.push('--policy', path.join(vol, '.policy.json'));
    }
    if (r.trace) args.push('--trace-file', '/dev/null');
    args.push(FUZZ_GUEST, String(r.seed), String(r.calls), r.classes, '/data/progress');
    const t0 = Date.now();
    const p = cp.spawnSync(TOROV, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: (r.timeout + 30) * 1000, killSignal: 'SIGKILL', maxBuffer: 4 << 20 });
    const ms = Date.now() - t0;
    const prog = readProgress(path.join(vol, 'progress'));
    const v = judge(p.status, p.stderr ?? '', { done: prog?.done ?? false, torovLines: true });
    const last = prog ? `step ${prog.step}, syscall ${prog.nr}(${prog.args.map((a) => '0x' + a.toString(16)).join(', ')})` : 'no progress';
    const leftovers = hostLeftovers(p.pid, vol);
    return { ...v, run: r, callsMade: prog?.calls ?? 0, last, leftovers, ms, command: `${TOROV} ${args.join(' ').replace(vol, 'DIR')}` };
  } finally {
    fs.rmSync(vol, { recursive: true, force: true });
  }
}

// ---- Crafted ELF files --------------------------------------------------------------------------

const PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_NOTE = 4, PT_PHDR = 6, PT_TLS = 7, PT_GNU_STACK = 0x6474e551;

/** A static x86-64 executable: one PT_LOAD at 0x400000 whose code is exit(0). */
export function minimalElf(): Buffer {
  const code = Buffer.from([0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]);
  const b = Buffer.alloc(0x1000 + code.length);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeUInt16LE(2, 16); b.writeUInt16LE(62, 18); b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(0x401000n, 24); b.writeBigUInt64LE(64n, 32);
  b.writeUInt16LE(64, 52); b.writeUInt16LE(56, 54); b.writeUInt16LE(1, 56);
  b.writeUInt32LE(PT_LOAD, 64); b.writeUInt32LE(5, 68); b.writeBigUInt64LE(0n, 72);
  b.writeBigUInt64LE(0x400000n, 80); b.writeBigUInt64LE(0x400000n, 88);
  b.writeBigUInt64LE(BigInt(b.length), 96); b.writeBigUInt64LE(BigInt(b.length), 104); b.writeBigUInt64LE(0x1000n, 112);
  code.copy(b, 0x1000);
  return b;
}

/** Interpreter paths a crafted PT_INTERP may name. */
const INTERPS = ['/lib64/ld-linux-x86-64.so.2', '/nonexistent/ld.so', '/dev/zero', '/proc/self/exe', '/', '', 'relative/ld.so',
  '/lib64/../../../../etc/passwd', 'x'.repeat(5000), '/tmp/\x1b[31mred', '/dev/null', '/etc'];

const BIG = [0n, 1n, 0x40n, 0xfffn, 0x1000n, 0x7fffffffn, 0xffffffffn, 0x7fffffffffffn, 0x800000000000n, 0x7fffffffffffffffn, 0xffffffffffffffffn, 0xfffffffffffff000n];

/**
 * A crafted ELF file from `seed`: a valid program (the minimal one, or a real test guest)
 * with one to four of: header fields bent, program headers bent (types, offsets,
 * addresses, sizes, alignments, flags), more or fewer program headers, a hostile
 * PT_INTERP, a truncation, random bytes flipped.
 */
export function craftElf(seed: number): { what: string; bytes: Buffer } {
  const g = new Rng(seed);
  let b: Buffer = g.chance(70) ? minimalElf() : Buffer.from(fs.readFileSync(HELLO));
  const what: string[] = [];
  const phoff = () => Number(b.readBigUInt64LE(32) & 0xffffn);
  const phnum = () => b.readUInt16LE(56);
  const ph = (i: number) => phoff() + 56 * i;
  const n = 1 + g.below(4);
  for (let k = 0; k < n; k++) {
    // (A field past the end of a file truncated before is left alone.)
    try { mutate(g.below(9)); } catch (e) { if (!(e instanceof RangeError)) throw e; }
  }
  return { what: what.join(', ') || 'unchanged', bytes: b };

  function mutate(m: number): void {
    switch (m) {
      case 0: { // a header field
        const f = g.pick([[4, 1], [5, 1], [6, 1], [16, 2], [18, 2], [20, 4], [24, 8], [32, 8], [52, 2], [54, 2], [56, 2]] as const);
        const v = f[1] === 8 ? g.pick(BIG) : BigInt(g.chance(50) ? g.below(4) : g.below(2 ** (8 * f[1])));
        if (f[1] === 8) b.writeBigUInt64LE(v, f[0]); else if (f[1] === 4) b.writeUInt32LE(Number(v & 0xffffffffn), f[0]);
        else if (f[1] === 2) b.writeUInt16LE(Number(v & 0xffffn), f[0]); else b[f[0]] = Number(v & 0xffn);
        what.push(`header@${f[0]}=0x${v.toString(16)}`);
        break;
      }
      case 1: case 2: { // a program header field
        if (phnum() === 0 || ph(phnum()) > b.length) break;
        const i = g.below(phnum()), o = ph(i);
        const f = g.pick([0, 4, 8, 16, 24, 32, 40, 48]);
        if (o + f + 8 > b.length) break;
        if (f === 0) { const t = g.pick([PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE, PT_PHDR, PT_TLS, PT_GNU_STACK, 0x70000000, 0xffffffff]); b.writeUInt32LE(t, o); what.push(`ph${i}.type=0x${t.toString(16)}`); }
        else if (f === 4) { const fl = g.below(16); b.writeUInt32LE(fl, o + 4); what.push(`ph${i}.flags=${fl}`); }
        else { const v = g.chance(60) ? g.pick(BIG) : g.u64() & (g.chance(50) ? 0xffffffn : 0xffffffffffffffffn); b.writeBigUInt64LE(v, o + f); what.push(`ph${i}@${f}=0x${v.toString(16)}`); }
        break;
      }
      case 3: { // a PT_INTERP naming something
        const s = Buffer.from(g.pick(INTERPS) + (g.chance(80) ? '\0' : ''), 'latin1');
        const at = b.length;
        b = Buffer.concat([b, s]);
        if (phnum() > 0 && ph(0) + 56 <= b.length) {
          const o = ph(g.below(phnum()));
          if (o + 56 <= b.length) {
            b.writeUInt32LE(PT_INTERP, o); b.writeBigUInt64LE(BigInt(at), o + 8); b.writeBigUInt64LE(BigInt(s.length), o + 32);
            what.push(`interp=${JSON.stringify(s.toString('latin1').slice(0, 40))}`);
          }
        }
        break;
      }
      case 4: { // many or no program headers
        const num = g.pick([0, 2, 64, 0xffff]);
        b.writeUInt16LE(num, 56); what.push(`phnum=${num}`);
        break;
      }
      case 5: { // truncated
        const len = g.below(b.length);
        b = b.subarray(0, len); what.push(`truncated at ${len}`);
        break;
      }
      case 6: { // bytes flipped
        const m = 1 + g.below(16);
        for (let j = 0; j < m && b.length; j++) b[g.below(b.length)] = g.below(256);
        what.push(`${m} random bytes`);
        break;
      }
      case 7: { // program headers past the end, or overlapping the header
        const v = g.pick([0n, 8n, BigInt(b.length - 8), BigInt(b.length + 4096), 0xffffffffffffffc0n]);
        b.writeBigUInt64LE(v, 32); what.push(`phoff=0x${v.toString(16)}`);
        break;
      }
      default: { // two overlapping loads, one writable and huge
        if (phnum() !== 1 || ph(1) + 56 > 0x1000) break;
        b.writeUInt16LE(2, 56);
        const o = ph(1);
        b.writeUInt32LE(PT_LOAD, o); b.writeUInt32LE(6, o + 4); b.writeBigUInt64LE(0n, o + 8);
        b.writeBigUInt64LE(0x400000n + BigInt(g.below(3)) * 0x1000n, o + 16); b.writeBigUInt64LE(0x400000n, o + 24);
        b.writeBigUInt64LE(16n, o + 32); b.writeBigUInt64LE(g.pick([0x1000n, 1n << 32n, 1n << 40n, 0xfffffffffffff000n]), o + 40); b.writeBigUInt64LE(0x1000n, o + 48);
        what.push('overlapping loads');
      }
    }
  }
}

export interface FileResult extends Verdict { seed: number; what: string; leftovers: string[]; command: string }

/** Runs a crafted ELF file inside torov (it may run: what it does stays inside) and judges it. */
export function runElf(seed: number, timeout = 10): FileResult {
  const vol = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-elf-'));
  try {
    const { what, bytes } = craftElf(seed);
    const file = path.join(vol, 'prog');
    fs.writeFileSync(file, bytes, { mode: 0o755 });
    const args = ['run', '--timeout', `${timeout}s`, '--memory', '64M', file];
    const p = cp.spawnSync(TOROV, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: (timeout + 30) * 1000, killSignal: 'SIGKILL', maxBuffer: 4 << 20 });
    const stderr = p.stderr ?? '';
    let v = judge(p.status, stderr, { torovLines: false });
    // Refused (126, 127): exactly one line, torov's, without control bytes.
    if (v.outcome !== 'torov-failure' && (p.status === 126 || p.status === 127)) {
      if (!/^torov: [^\n]*\n$/.test(stderr) || /[\x00-\x1f\x7f]/.test(stderr.slice(0, -1))) v = { outcome: 'torov-failure', why: `refusal not one clean line: ${JSON.stringify(stderr.slice(0, 300))}` };
      else v = { outcome: 'ok', why: stderr.trim() };
    }
    return { ...v, seed, what, leftovers: hostLeftovers(p.pid, vol), command: `craftElf(${seed}): ${what}` };
  } finally {
    fs.rmSync(vol, { recursive: true, force: true });
  }
}

// ---- Hostile policies ---------------------------------------------------------------------------

const STRINGS = ['', '/', '..', '/../../etc', '/tmp', './x', 'allow', 'deny', 'kill', 'log', 'errno', 'EPERM', 'write', 'openat', 'none', 'host',
  '64M', '0.5K', '1e20', '-1', 'NaN', '\u0000', '\u001b[31m', 'é', 'x'.repeat(3000), '/dev/zero', '/proc/self/mem', 'True', 'False', '400200'];
const NUMBERS = [0, 1, -1, 3, 100, 1e20, -1e20, 2 ** 53, 2 ** 63, 0.5, 1e-9, 65536, 1048576, 1048577, 17179869184, 34359738369];

/** A random JSON value, `depth` levels deep at most. */
function anyValue(g: Rng, depth: number): unknown {
  switch (g.below(depth > 0 ? 7 : 4)) {
    case 0: return g.pick(STRINGS);
    case 1: return g.pick(NUMBERS);
    case 2: return g.pick([true, false, null]);
    case 3: return g.chance(50) ? g.below(4096) : `${g.below(4096)}${g.pick(['', 'K', 'M', 'G', 'T', 'k', 'MiB', 'x'])}`;
    case 4: return Array.from({ length: g.below(4) }, () => anyValue(g, depth - 1));
    case 5: { const o: Record<string, unknown> = {}; for (let i = 0; i < g.below(4); i++) o[g.pick([...FIELDS, ...STRINGS.slice(0, 8)])] = anyValue(g, depth - 1); return o; }
    default: return Array.from({ length: 1 + g.below(3) }, () => anyValue(g, 0));
  }
}

const FIELDS = ['description', 'defaultAction', 'memory', 'syscalls', 'network', 'newPid', 'root', 'writable', 'tmp', 'rlimits', 'defaultErrno', 'why'];
const RLIMITS = ['openFiles', 'cpuSeconds', 'fileSize', 'pids', 'stack', 'bogus'];
const SYSCALL_NAMES = ['write', 'writev', 'ioctl', 'exit_group', 'openat', 'mmap', 'nosuch', 'WRITE', 'Write', '', 'arch_prctl'];

/** A torov-format policy, mostly well-formed, with some fields given hostile values. */
function torovPolicy(g: Rng): unknown {
  const p: Record<string, unknown> = { defaultAction: g.pick(['allow', 'deny', 'kill', 'log', 'deny']) };
  if (g.chance(40)) p['memory'] = g.chance(50) ? g.pick(['16M', '64M', '1G', '32G', '33G', '15M']) : anyValue(g, 1);
  if (g.chance(60)) {
    p['syscalls'] = Array.from({ length: g.below(5) }, () => {
      const r: Record<string, unknown> = { names: g.chance(80) ? Array.from({ length: 1 + g.below(3) }, () => g.pick(SYSCALL_NAMES)) : anyValue(g, 1), action: g.pick(['allow', 'deny', 'kill', 'log', 'errno', 'bogus']) };
      if (g.chance(30)) r['errno'] = g.chance(50) ? g.pick(['EPERM', 'ENOENT', 'EBOGUS', 'eperm']) : g.pick(NUMBERS);
      if (g.chance(30)) r['args'] = g.chance(50) ? { paths: [g.pick(STRINGS)], access: g.pick(['read-only', 'read-write', 'x']) } : anyValue(g, 2);
      if (g.chance(20)) r['why'] = anyValue(g, 0);
      return r;
    });
  }
  if (g.chance(25)) p['rlimits'] = Object.fromEntries(Array.from({ length: 1 + g.below(3) }, () => [g.pick(RLIMITS), g.chance(50) ? g.pick(NUMBERS) : anyValue(g, 1)]));
  if (g.chance(20)) p['root'] = g.pick(['/', '/tmp', '/nonexistent', '.', '/dev/null', '/proc', ...STRINGS.slice(0, 6)]);
  if (g.chance(20)) p['writable'] = g.chance(50) ? g.pick([true, false]) : [g.pick(STRINGS)];
  if (g.chance(20)) p['tmp'] = g.pick([true, false, '8M', '0', '1T', -1, 'x']);
  if (g.chance(15)) p['network'] = g.pick(['none', 'host', 'bridge', '', 1]);
  if (g.chance(10)) p['newPid'] = anyValue(g, 0);
  if (g.chance(15)) p[g.pick([...FIELDS, 'bogus', '$schema'])] = anyValue(g, 3);
  return p;
}

/** A Docker/OCI seccomp profile with hostile parts. */
function dockerProfile(g: Rng): unknown {
  return {
    defaultAction: g.pick(['SCMP_ACT_ERRNO', 'SCMP_ACT_ALLOW', 'SCMP_ACT_KILL', 'SCMP_ACT_TRAP', 'SCMP_ACT_BOGUS']),
    ...(g.chance(50) ? { defaultErrnoRet: g.pick(NUMBERS) } : {}),
    architectures: g.chance(70) ? ['SCMP_ARCH_X86_64'] : anyValue(g, 1),
    syscalls: Array.from({ length: g.below(4) }, () => ({
      names: Array.from({ length: 1 + g.below(3) }, () => g.pick(SYSCALL_NAMES)),
      action: g.pick(['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY', 'x']),
      ...(g.chance(40) ? { args: [{ index: g.pick(NUMBERS), value: g.pick(NUMBERS), op: g.pick(['SCMP_CMP_EQ', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_BOGUS']) }] } : {}),
    })),
  };
}

/** An original ToroV configuration with hostile parts. */
function torovConfig(g: Rng): unknown {
  const c: Record<string, unknown> = {
    Binary: g.chance(60) ? HELLO : g.pick(['/dev/zero', '/nonexistent', '', '/', '/proc/self/status', ...STRINGS.slice(0, 4)]),
    Hypercalls: Array.from({ length: g.below(4) }, () => ({ Name: g.pick(['Write', 'Ioctl', 'Open', 'Bogus', '', 'write']), Allowed: g.pick(['True', 'False', true, 'maybe']) })),
  };
  if (g.chance(30)) c['MountPoint'] = g.pick(['/', '.', '/nonexistent', '/tmp', '/dev/null']);
  if (g.chance(30)) c['Newpid'] = g.pick(['True', 'False', 'x', 1]);
  if (g.chance(20)) c['Startaddr'] = g.pick(['400200', 'zz', '-1', 'ffffffffffffffff', '0']);
  if (g.chance(20)) c['Debug'] = { Allowed: g.pick(['True', 'False']), Port: g.pick(['1234', '0', '70000', 'x']) };
  return c;
}

/**
 * A hostile policy file from `seed`: a torov policy, a Docker profile or a ToroV
 * configuration with hostile values, sometimes then broken at the byte level (truncated,
 * random bytes, a BOM, UTF-16, binary).
 */
export function craftPolicy(seed: number): { what: string; bytes: Buffer } {
  const g = new Rng(seed);
  const kind = g.pick(['torov', 'torov', 'torov', 'docker', 'toroV']);
  const doc = kind === 'torov' ? torovPolicy(g) : kind === 'docker' ? dockerProfile(g) : torovConfig(g);
  let bytes: Buffer = Buffer.from(JSON.stringify(doc, null, g.chance(50) ? 2 : undefined));
  let how = kind;
  if (g.chance(15)) {
    switch (g.below(5)) {
      case 0: bytes = bytes.subarray(0, g.below(bytes.length)); how += ', truncated'; break;
      case 1: for (let i = 0; i < 1 + g.below(8); i++) bytes[g.below(bytes.length)] = g.below(256); how += ', bytes flipped'; break;
      case 2: bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]); how += ', UTF-8 BOM'; break;
      case 3: bytes = Buffer.from('\ufeff' + bytes.toString(), 'utf16le'); how += ', UTF-16'; break;
      default: bytes = g.bytes(1 + g.below(512)); how = 'binary';
    }
  }
  return { what: how, bytes };
}

/**
 * Checks one hostile policy: `torov policy check` and `torov run --policy` (of the hello
 * guest) must agree (the same validation: ok and a run, or the same one-line refusal),
 * and neither may fail any other way.
 */
export function runPolicy(seed: number, timeout = 10): FileResult {
  const vol = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-pol-'));
  try {
    const { what, bytes } = craftPolicy(seed);
    const file = path.join(vol, 'policy.json');
    fs.writeFileSync(file, bytes);
    const opts = { encoding: 'utf8' as const, stdio: ['ignore', 'pipe', 'pipe'] as cp.StdioOptions, timeout: (timeout + 30) * 1000, killSignal: 'SIGKILL' as const, maxBuffer: 4 << 20, cwd: vol };
    const check = cp.spawnSync(TOROV, ['policy', 'check', file], opts);
    const isConfig = /"Binary"/.test(bytes.toString('latin1'));
    const runArgs = isConfig ? ['run', '--timeout', `${timeout}s`, file] : ['run', '--timeout', `${timeout}s`, '--policy', file, HELLO];
    const run = cp.spawnSync(TOROV, runArgs, opts);
    const cmd = `craftPolicy(${seed}): ${what}`;
    const done = (v: Verdict): FileResult => ({ ...v, seed, what, leftovers: hostLeftovers(run.pid, vol), command: cmd });
    const cErr = check.stderr ?? '', rErr = run.stderr ?? '';
    for (const [who, st, err] of [['policy check', check.status, cErr], ['run', run.status, rErr]] as const) {
      const f = FAILURE_TEXT.exec(err);
      if (f) return done({ outcome: 'torov-failure', why: `${who}: ${oneLineOf(err, f.index)}` });
      if (st === null) return done({ outcome: 'torov-failure', why: `${who}: still running: killed by the harness` });
      if (st === 125 && (!/^torov: [^\n]*\n$/.test(err) || /[\x00-\x1f\x7f]/.test(err.slice(0, -1)))) {
        return done({ outcome: 'torov-failure', why: `${who}: refusal not one clean line: ${JSON.stringify(err.slice(0, 300))}` });
      }
    }
    if (check.status !== 0 && check.status !== 125) return done({ outcome: 'torov-failure', why: `policy check: status ${check.status}: ${firstLine(cErr)}` });
    if (check.status === 125) {
      // run must refuse it the same way (a ToroV config's Binary problem may show as 126/127 there).
      if (run.status !== 125 || rErr !== cErr) {
        if (!(isConfig && (run.status === 126 || run.status === 127))) {
          return done({ outcome: 'torov-failure', why: `policy check refused (${cErr.trim()}) but run said ${run.status}: ${firstLine(rErr)}` });
        }
      }
      return done({ outcome: 'ok', why: cErr.trim() });
    }
    // check said ok: run must not refuse the policy.
    if (run.status === 125 && /^torov: policy: /.test(rErr)) return done({ outcome: 'torov-failure', why: `policy check said ok, run refused: ${rErr.trim()}` });
    const v = judge(run.status, rErr, { torovLines: false });
    return done(v.outcome === 'torov-failure' && run.status === 125 ? { outcome: 'ok', why: `run refused outside the policy: ${rErr.trim()}` } : v);
  } finally {
    fs.rmSync(vol, { recursive: true, force: true });
  }
}

// ---- Resource probes ------------------------------------------------------------------------------

/** Shmem of /proc/meminfo, bytes. */
export function hostShmem(): number {
  return Number(/^Shmem:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) * 1024;
}

/** The host's OOM kills so far (/proc/vmstat). */
export function oomKills(): number {
  return Number(/^oom_kill (\d+)$/m.exec(fs.readFileSync('/proc/vmstat', 'utf8'))?.[1] ?? 0);
}

/**
 * One resource probe (test/guests/hog.c MODE) with --memory 64M: it must end normally,
 * stopped by its bound, with the host's Shmem grown by no more than the run's tmpfs
 * (checked after the run: the soak's cheap form of the containment test's sampling).
 */
export function runProbe(mode: string, timeout = 60): FileResult {
  const vol = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-probe-'));
  try {
    fs.writeFileSync(path.join(vol, 'p.json'), JSON.stringify({ defaultAction: 'allow', tmp: true }));
    const before = hostShmem(), oom = oomKills();
    const args = ['run', '--timeout', `${timeout}s`, '--memory', '64M', '--threads', '8', '--policy', path.join(vol, 'p.json'), '-v', `${vol}:/data`, HOG_GUEST, mode];
    const p = cp.spawnSync(TOROV, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: (timeout + 30) * 1000, killSignal: 'SIGKILL' });
    let v = judge(p.status, p.stderr ?? '', { torovLines: true });
    const grown = hostShmem() - before;
    if (v.outcome === 'ok' && !/stopped by (ENOSPC|ENOMEM|EMFILE|EAGAIN|0)$/m.test(p.stdout ?? '')) v = { outcome: 'torov-failure', why: `not stopped by a bound: ${p.stdout}` };
    if (grown > 48 * 2 ** 20) v = { outcome: 'torov-failure', why: `the host's Shmem grew by ${grown >> 20} MiB` };
    if (oomKills() !== oom) v = { outcome: 'torov-failure', why: 'the OOM killer ran' };
    return { ...v, seed: 0, what: `hog ${mode}`, leftovers: hostLeftovers(p.pid, vol), command: `${TOROV} ${args.join(' ')}` };
  } finally {
    fs.rmSync(vol, { recursive: true, force: true });
  }
}
