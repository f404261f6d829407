/**
 * torov as a library: `import { VM, serve } from 'torov'`.
 *
 * Runs guests in the calling Node process, as `torov run --no-sandbox` does: the policy
 * applies to every syscall and every guest pointer is checked, but there is no jail,
 * privilege drop or seccomp filter around the VMM (that is the CLI's launcher; use
 * `torov run` or `torov serve` for them). Runs are synchronous: a guest runs on the
 * calling thread until it ends.
 *
 *     const vm = VM.load('./app', { policy: 'app.policy.json' });
 *     const r = vm.run({ argv: ['app', '--x'], stdin: 'input' });       // { status, stdout, stderr }
 *     const snap = vm.snapshot({ env: ['MODE=fast'] });                   // runs it to its first read of stdin
 *     const r2 = snap.run({ stdin: 'request', env: ['QUERY_STRING=a=1'] }); // a VM restored from there
 *     snap.save('app.snap');
 *     const server = await serve('./cgi-program', { port: 8080 });       // CGI over HTTP, in this process
 *     await server.close();
 */
import * as fs from 'node:fs';
import { sys, NR, addressOf } from './host/libc';
import { SYS as NRS } from './linux/syscalls';
import { Machine, MachineConfig, kvmHandle, forgetSnapshot } from './vmm/machine';
import { Snapshot, SnapshotError, snapshotMemfd, releaseSnapshot } from './vmm/snapshot';
import { writeSnapshotFile, readSnapshotFile, cpuIdentity } from './vmm/snapshot-file';
import { cpuFeatures } from './machine/x86';
import { installHostSignals, createRunTimer, RunTimer } from './vmm/host-signals';
import { defaultPolicy, loadPolicyFile, parseSize, Policy } from './policy';
import { CgiServer } from './serve/server';
import { linuxPersonality } from './vmm/personality';

export { SnapshotError } from './vmm/snapshot';
export { cgiEnvironment, parseCgiResponse, type CgiRequest, type CgiResponse } from './serve/cgi';

/** How a program is loaded. */
export interface VMOptions {
  /** Guest memory: bytes, or a size such as "64M" (default 256M). */
  memory?: number | string;
  /** A policy file (torov, Docker/OCI seccomp, ToroV configuration), or the default policy. */
  policy?: string;
  /** Called with torov's own diagnostics (a fault's report, a timeout); default: stderr. */
  log?: (line: string) => void;
}

/** One run's input. */
export interface RunOptions {
  /** argv, argv[0] included (default: [program]). Not for snapshots' runs: theirs is fixed. */
  argv?: readonly string[];
  /** The environment, NAME=value strings (default: none). */
  env?: readonly string[];
  /** Bytes on stdin (default: none, end of file at once). */
  stdin?: string | Uint8Array;
  /** Stop the run after this many ms (status 124). */
  timeoutMs?: number;
}

export interface RunResult {
  /** The exit status: the program's, 128+N for signal N, 124 at the timeout. */
  status: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** Three memfds a run's stdio goes through (made once per VM object). */
class Stdio {
  readonly fds: [number, number, number];
  constructor() {
    const mk = (n: string) => { const b = Buffer.from(n + '\0'); const fd = sys(NRS.memfd_create, addressOf(b), 1); if (fd < 0) throw new Error(`memfd_create failed (errno ${-fd})`); return fd; };
    this.fds = [mk('torov-stdin'), mk('torov-stdout'), mk('torov-stderr')];
  }
  prepare(stdin: string | Uint8Array | undefined): void {
    for (const fd of this.fds) { sys(NR.ftruncate, fd, 0); sys(NR.lseek, fd, 0, 0); }
    if (stdin !== undefined && stdin.length > 0) {
      const b = typeof stdin === 'string' ? Buffer.from(stdin) : stdin;
      sys(NR.pwrite64, this.fds[0], addressOf(b), b.length, 0);
    }
  }
  read(i: 1 | 2): Buffer {
    const size = sys(NR.lseek, this.fds[i], 0, 2);
    const b = Buffer.alloc(Math.max(0, size));
    if (size > 0) sys(NR.pread64, this.fds[i], addressOf(b), size, 0);
    return b;
  }
  close(): void { for (const fd of this.fds) sys(NR.close, fd); }
}

let timer: RunTimer | undefined;
/** Runs `m` with an optional timeout; returns its status. */
function runTimed(m: Machine, timeoutMs: number | undefined): number {
  if (timeoutMs === undefined || timeoutMs <= 0) return m.run();
  if (!timer) { installHostSignals([]); timer = createRunTimer(); }
  timer.arm(timeoutMs, `torov: timeout: the VM was stopped after ${timeoutMs} ms`);
  try { return m.run(); } finally { timer.disarm(); }
}

/** A program loaded for running in micro-VMs. */
export class VM {
  private readonly stdio = new Stdio();
  private constructor(private readonly cfg: MachineConfig) {}

  /** Reads and checks the program (a static or static-PIE x86-64 ELF); throws on a bad one. */
  static load(program: string, options: VMOptions = {}): VM {
    const image = fs.readFileSync(program);
    let policy: Policy = defaultPolicy();
    if (options.policy !== undefined) policy = loadPolicyFile(options.policy).policy;
    let memory = typeof options.memory === 'string' ? parseSize(options.memory) : options.memory ?? policy.memory ?? 256 * 2 ** 20;
    memory = Math.ceil(memory / 2 ** 21) * 2 ** 21;
    const log = options.log ?? ((l: string) => { try { fs.writeSync(2, l + '\n'); } catch { /* closed */ } });
    linuxPersonality.validate(image);          // a bad ELF is refused now (ElfError)
    return new VM({ path: program, image, argv: [program], env: [], memory, policy, log, syscallPath: 'exit' });
  }

  /** Runs the program in a new VM to its end. */
  run(o: RunOptions = {}): RunResult {
    this.stdio.prepare(o.stdin);
    const m = new Machine({ ...this.cfg, argv: o.argv ?? this.cfg.argv, env: o.env ?? [], stdio: this.stdio.fds });
    let status: number;
    try { status = runTimed(m, o.timeoutMs); } finally { m.close(); }
    return { status, stdout: this.stdio.read(1), stderr: this.stdio.read(2) };
  }

  /**
   * Runs the program until its first read of stdin (or first accept, `at: 'accept'`) and
   * returns its snapshot there. `spareEnv` empty environment slots are added so that each
   * restored run can be given variables (default 64). Throws SnapshotError when the program
   * ends before, or cannot be snapshotted.
   */
  snapshot(o: Omit<RunOptions, 'stdin' | 'timeoutMs'> & { at?: 'stdin' | 'accept'; spareEnv?: number } = {}): VMSnapshot {
    this.stdio.prepare(undefined);
    const env = [...(o.env ?? []), ...Array<string>(o.spareEnv ?? 64).fill('')];
    let snap: Snapshot | undefined;
    const memfd = snapshotMemfd();
    const m = new Machine({ ...this.cfg, argv: o.argv ?? this.cfg.argv, env, stdio: this.stdio.fds,
      capture: { at: o.at ?? 'stdin', memfd, done: (s) => { snap = s; } } });
    let status: number;
    try { status = m.run(); } finally { m.close(); }
    if (!snap) { sys(NR.close, memfd); throw new SnapshotError(`the program ended (status ${status}) before its first ${o.at === 'accept' ? 'accept' : 'read of stdin'}`); }
    return new VMSnapshot({ ...this.cfg, env: o.env ?? [], restore: snap }, snap);
  }

  /** Releases the VM object's host resources (its stdio memfds). */
  close(): void { this.stdio.close(); }
}

/** A program snapshotted after its initialisation: each run is a VM restored from it. */
export class VMSnapshot {
  private readonly stdio = new Stdio();
  private readonly pool: Machine[] = [];
  /** @internal */
  constructor(readonly cfg: MachineConfig, private readonly snap: Snapshot) {}

  /** Bytes of guest memory the snapshot holds (shared by every restored VM, copy-on-write). */
  get bytes(): number { return this.snap.bytes; }

  /** Restores `n` VMs ahead of time (a warm pool): run() takes them first. */
  warm(n: number): void {
    while (this.pool.length < n) this.pool.push(new Machine({ ...this.cfg, stdio: this.stdio.fds }));
  }

  /**
   * Runs a VM restored from the snapshot: the program makes its snapshotted call (its read
   * of stdin) again, on `stdin`. `env` is its environment from there (at most the spare slots).
   */
  run(o: Omit<RunOptions, 'argv'> = {}): RunResult {
    this.stdio.prepare(o.stdin);
    const m = this.pool.pop() ?? new Machine({ ...this.cfg, stdio: this.stdio.fds });
    let status: number;
    try {
      m.prepareRestored(o.env ?? this.cfg.env);
      status = runTimed(m, o.timeoutMs);
    } finally { m.close(); }
    return { status, stdout: this.stdio.read(1), stderr: this.stdio.read(2) };
  }

  /** Writes the snapshot to a file for `torov run --restore` (stdio-only snapshots). */
  save(file: string, torovVersion = packageVersion()): void {
    const fd = fs.openSync(file, 'w', 0o644);
    try { writeSnapshotFile(fd, this.snap, { torov: torovVersion, cpu: cpuIdentity(cpuFeatures(kvmHandle())), memory: this.cfg.memory }); } finally { fs.closeSync(fd); }
  }

  /** Reads a snapshot file (checked whole: version, CPU, checksum); `policy` as in VM.load. */
  static load(file: string, options: Omit<VMOptions, 'memory'> = {}): VMSnapshot {
    const info = readSnapshotFile(file, fs.readFileSync(file), { torov: packageVersion(), cpu: cpuIdentity(cpuFeatures(kvmHandle())) });
    const policy = options.policy !== undefined ? loadPolicyFile(options.policy).policy : defaultPolicy();
    const log = options.log ?? ((l: string) => { try { fs.writeSync(2, l + '\n'); } catch { /* closed */ } });
    const image = fs.readFileSync(info.exe);
    // A file does not hold the working directory: each run starts in this process's, as now
    // (an fd of it, which every run goes back to before it starts: Machine.prepareRestored).
    const snap: Snapshot = { ...info.snapshot, group: { ...info.snapshot.group, cwdFd: fs.openSync('.', fs.constants.O_RDONLY | fs.constants.O_DIRECTORY) } };
    return new VMSnapshot({ path: info.exe, image, argv: [info.exe], env: [], memory: info.memory, policy, log, syscallPath: 'exit', restore: snap }, snap);
  }

  /** Releases the warm VMs and the snapshot's memory. */
  close(): void {
    for (const m of this.pool.splice(0)) m.close();
    this.stdio.close();
    forgetSnapshot(this.snap);
    releaseSnapshot(this.snap);
  }
}

export interface ServeOptions extends VMOptions {
  port?: number;
  host?: string;
  /** Warm VMs kept ready (default 2). */
  concurrency?: number;
  queueLimit?: number;
  timeoutMs?: number;
  maxBody?: number;
  logFormat?: 'text' | 'json';
  /** The program's own environment. */
  env?: readonly string[];
  argv?: readonly string[];
  /** Access-log lines (default: none). */
  accessLog?: (line: string) => void;
}

export interface Server {
  readonly port: number;
  /** Stops accepting, answers the requests taken in, releases the VMs. */
  close(): Promise<void>;
}

/** Serves HTTP with `program` as a CGI program, in this process (see docs/serving.md; no sandbox). */
export function serve(program: string, o: ServeOptions = {}): Promise<Server> {
  const vm = VM.load(program, o);
  const snap = vm.snapshot({ ...(o.argv ? { argv: o.argv } : {}), env: o.env ?? [], spareEnv: 128 });
  if (!timer) { installHostSignals([]); timer = createRunTimer(); }
  const io = new Stdio();
  const cfg = snap.cfg;
  return new Promise((resolve, reject) => {
    let closed: (() => void) | undefined;
    const server: CgiServer = new CgiServer({
      listen: { host: o.host ?? '127.0.0.1', port: o.port ?? 0 }, concurrency: o.concurrency ?? 2, queueLimit: o.queueLimit ?? 256,
      timeoutMs: o.timeoutMs ?? 30_000, maxBody: o.maxBody ?? 1 << 20, logFormat: o.logFormat ?? 'text', baseEnv: o.env ?? [],
      restore: () => new Machine({ ...cfg, stdio: [io.fds[0], io.fds[1], 2] }), stdinFd: io.fds[0], stdoutFd: io.fds[1], timer: timer!,
      resetTmp: undefined, snapshotBytes: snap.bytes, software: 'torov', say: o.log ?? ((l) => { try { fs.writeSync(2, l + '\n'); } catch { /* closed */ } }),
      logLine: o.accessLog ?? (() => {}), signals: false,
      exit: (st) => { vm.close(); snap.close(); io.close(); if (st !== 0) reject(new Error('serve: the server failed')); closed?.(); },
      onListening: (_a, port) => resolve({ port, close: () => new Promise<void>((r) => { closed = r; server.drain(); }) }),
    });
    server.start();
  });
}

function packageVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try { const p = JSON.parse(fs.readFileSync(require('node:path').join(__dirname, rel), 'utf8')) as { name?: string; version?: string }; if (p.name === 'torov' && p.version) return p.version; } catch { /* next */ }
  }
  return 'unknown';
}
