/**
 * torov's command line: `torov run`, `torov policy`, `torov syscalls`, `torov version`.
 * Every failure the user can cause ends in one line on stderr and a non-zero status,
 * never a stack trace: 125 for torov's own errors (bad options, no KVM), 126 for a program
 * that cannot be executed (not ELF, wrong architecture, dynamic), 127 for one not found,
 * and otherwise the program's own status (128+signal when it died of one).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseOptions, RUN_OPTIONS, SERVE_OPTIONS, SNAPSHOT_OPTIONS, UsageError, buildEnv, Options, editDistance, parseDuration } from './args';
import { fromLauncher, launcher } from '../sandbox/launch';
import { RUN_HELP, MAIN_HELP, POLICY_HELP, SYSCALLS_HELP, LEARN_HELP, SERVE_HELP, SNAPSHOT_HELP } from './help';
import { oneLine } from '../policy/errors';

/** torov's version, from package.json (next to dist/, whether this runs bundled or not). */
export function version(): string {
  for (const rel of ['../package.json', '../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, rel), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'torov' && pkg.version) return pkg.version;
    } catch { /* next */ }
  }
  return 'unknown';
}

/** Writes a line to stderr synchronously (stderr may be a pipe; process.exit must not lose it). */
export function say(line: string): void { sayLine(line); }

function sayLine(line: string): void {
  try { fs.writeSync(2, line.endsWith('\n') ? line : line + '\n'); } catch { /* stderr closed */ }
}

/**
 * Writes torov's own output to stdout, synchronously. process.stdout is never used: Node
 * would make a piped stdout non-blocking, and the guest shares that open file (its
 * writes would fail with EAGAIN whenever the reader is slow).
 * `torov policy show | head`: a closed stdout ends torov quietly, as for any Unix tool.
 */
export function writeStdout(text: string): void {
  try { fs.writeSync(1, text); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
    throw e;
  }
}

/**
 * Ends the process at once after a program's run (runProgram: run, snapshot, policy learn),
 * or when a vCPU thread (src/vmm/channel.ts) exists: Node's own exit would stop and join
 * that worker first, which costs tens of milliseconds if it is still starting, and it
 * joins its own platform threads (about 1.5 ms here). Everything a run writes is written
 * synchronously, so nothing is left to flush; other commands may write asynchronously
 * (process.stdout to a pipe) and end as Node ends them.
 */
export function exitNow(status: number): void {
  // bin/torov's early thread, unused when the run ended before the VM (a bad program or
  // policy), counts too: Node's exit would stop it in the middle of loading koffi, which
  // aborts the process with a fatal error instead of the run's status.
  const early = (globalThis as { __torovEarlyWorker?: unknown }).__torovEarlyWorker !== undefined;
  if (process.env["TOROV_PROFILE_EXIT"]) return;
  // torov serve keeps the process: its server exits when it has drained.
  if ((globalThis as { __torovServing?: boolean }).__torovServing) return;
  const ran = (globalThis as { __torovRanProgram?: boolean }).__torovRanProgram === true;
  if (!early && !ran && !(require('../vmm/channel') as typeof import('../vmm/channel')).HostThread.anyStarted()) return;
  const { sys, NR } = require('../host/libc') as typeof import('../host/libc');
  sys(NR.exit_group, status);
}

/**
 * Runs the CLI; returns the exit status. `argv` starts with the launcher's own argument
 * (`--launcher=...`, see src/sandbox/launch.ts) when bin/torov started this process.
 */
export function main(argv: readonly string[]): number {
  try {
    const [cmd, ...rest] = fromLauncher(argv);
    return command(cmd, rest);
  } catch (e) {
    return reportError(e);
  }
}

function command(cmd: string | undefined, rest: readonly string[]): number {
  try {
    switch (cmd) {
      case undefined: case '-h': case '--help': case 'help':
        if (cmd === 'help' && rest[0]) return command(rest[0], ['--help']);
        writeStdout(MAIN_HELP);
        return 0;
      case '-V': case '--version': case 'version':
        writeStdout(`torov ${version()}\n`);
        return 0;
      case 'run': return cmdRun(rest);
      case 'serve': return cmdServe(rest);
      case 'snapshot': return cmdSnapshot(rest);
      case 'policy': return cmdPolicy(rest);
      case 'syscalls': return cmdSyscalls(rest);
      default: {
        const known = ['run', 'serve', 'snapshot', 'policy', 'syscalls', 'version', 'help'];
        const near = known.map((k) => [k, editDistance(cmd, k)] as const).sort((a, b) => a[1] - b[1])[0]!;
        throw new UsageError(`unknown command "${cmd}"${near[1] <= 2 ? ` (did you mean "${near[0]}"?)` : ''} (try: torov --help)`);
      }
    }
  } catch (e) {
    return reportError(e);
  }
}

/** While a create of torov-oci's front end prepares: hands an error back to it (src/oci/sync.ts). */
let ociHandover: ((why: string) => boolean) | undefined;

/** Maps an error to its one-line message and exit status. */
function reportError(e: unknown): number {
  const err = e as Error;
  // A create of torov-oci's front end: the JavaScript runtime reports it (src/oci/prepare.ts).
  if (ociHandover?.(err?.message ?? String(e))) return 125;
  // One line, whatever the message quotes (a file name, bytes of a file): no control characters.
  const say = (line: string) => sayLine(oneLine(line));
  switch (err?.name) {
    case 'UsageError': say(`torov: ${err.message}`); return (err as Error & { status?: number }).status ?? 125;
    case 'PolicyError': say(`torov: policy: ${err.message}`); return 125;
    case 'ElfError': say(`torov: ${err.message}`); return (err as Error & { status?: number }).status ?? 126;
    case 'SandboxError': say(`torov: sandbox: ${err.message}`); return 125;
    case 'SnapshotError': say(`torov: snapshot: ${err.message}`); return 125;
    case 'KvmError': say(`torov: ${kvmAdvice(err as Error & { errno?: number; what?: string })}`); return 125;
    default:
      say(`torov: internal error: ${err?.message ?? String(e)}`);
      if (process.env['TOROV_DEBUG']) sayLine(String(err?.stack));
      return 125;
  }
}

/** One line that says what to do when KVM is not usable. */
function kvmAdvice(e: { errno?: number; what?: string; message: string }): string {
  if (e.what?.startsWith('open')) {
    const dev = e.what.slice(5);
    if (e.errno === 2) return `cannot use KVM: ${dev} does not exist (enable virtualization in the firmware or the VM, or load the module: modprobe kvm_intel or kvm_amd)`;
    if (e.errno === 13 || e.errno === 1) {
      // In the sandbox's user namespace, owners that are not mapped read as nobody: the launcher looked from outside.
      const l = launcher();
      const stat = l !== undefined && dev === '/dev/kvm' && l.kvmUid >= 0 ? () => ({ uid: l.kvmUid, gid: l.kvmGid, mode: l.kvmMode }) : fs.statSync;
      return `cannot use KVM: no permission on ${dev} (${kvmAccessHint(dev, stat)})`;
    }
    return `cannot use KVM: cannot open ${dev} (errno ${e.errno})`;
  }
  return `KVM: ${e.message}`;
}

/** What to do about /dev/kvm's permissions, from its real owner and mode. */
export function kvmAccessHint(dev: string, stat: (p: string) => { uid: number; gid: number; mode: number } = fs.statSync,
  groupFile = '/etc/group', passwdFile = '/etc/passwd'): string {
  let st: { uid: number; gid: number; mode: number };
  try { st = stat(dev); } catch { return 'it cannot be read: ask your administrator'; }
  const name = (file: string, id: number) => {
    try {
      for (const l of fs.readFileSync(file, 'utf8').split('\n')) { const f = l.split(':'); if (f[2] === String(id)) return f[0]!; }
    } catch { /* no such file */ }
    return String(id);
  };
  const group = name(groupFile, st.gid), owner = name(passwdFile, st.uid);
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  const what = `it is ${owner}:${group}, mode ${mode}`;
  if ((st.mode & 0o060) === 0o060 && st.gid !== 0) {
    return `${what}: add yourself to the ${group} group (sudo usermod -aG ${group} $USER), then log in again`;
  }
  return `${what}, so only ${owner} may use it: give your user access (e.g. sudo setfacl -m u:$USER:rw ${dev}, or a udev rule with a group), or run torov as root`;
}

function cmdRun(argv: readonly string[]): number {
  let { opts, rest } = parseOptions(argv, RUN_OPTIONS, true);
  if (opts['help']) { writeStdout(RUN_HELP); return 0; }
  // torov-oci's native front end created a container or an exec: this VMM does that work (src/oci/prepare.ts).
  const ociDir = opts['oci-sync'];
  const ociWork = typeof ociDir === 'string' && rest.length === 0 ? ['create', 'exec'].find((w) => fs.existsSync(`${ociDir}/${w}`)) : undefined;
  if (ociWork !== undefined) {
    const sync = require('../oci/sync') as typeof import('../oci/sync');
    sync.beginHandover(ociDir as string);
    ociHandover = sync.handOver;
    const l = launcher();
    if (l === undefined) throw new UsageError('--oci-sync: a container is created in the sandbox only');
    const prep = require('../oci/prepare') as typeof import('../oci/prepare');
    ({ opts, rest } = parseOptions((ociWork === 'create' ? prep.prepareCreate : prep.prepareExec)(ociDir as string, l.launcherPid, l.net), RUN_OPTIONS, true));
  }
  const { runProgram } = require('./run') as typeof import('./run');
  if (typeof opts['restore'] === 'string') {
    // The program, its arguments and environment are the snapshot's.
    if (rest.length > 0) throw new UsageError('run: --restore takes no PROGRAM: the snapshot file names it (torov run [OPTIONS] --restore FILE)');
    for (const o of ['gdb', 'env', 'env-inherit']) if (opts[o] !== undefined) throw new UsageError(`run: --${o} cannot be used with --restore (the snapshot has its program's state)`);
    return runProgram('', [], opts as Options, []);
  }
  if (rest.length === 0) throw new UsageError('run: missing the program to run (torov run [OPTIONS] PROGRAM [ARGS...])');
  return runProgram(rest[0]!, rest.slice(1), opts as Options, buildEnv(opts, process.env));
}

/** `torov snapshot [OPTIONS] [--at stdin|accept] -o FILE PROGRAM [ARGS...]`. */
function cmdSnapshot(argv: readonly string[]): number {
  const { opts, rest } = parseOptions(argv, SNAPSHOT_OPTIONS, true);
  if (opts['help']) { writeStdout(SNAPSHOT_HELP); return 0; }
  const at = opts['at'] ?? 'stdin';
  if (at !== 'stdin' && at !== 'accept') throw new UsageError(`snapshot: --at must be stdin or accept (got ${JSON.stringify(at)})`);
  if (typeof opts['output'] !== 'string') throw new UsageError('snapshot: missing -o FILE (torov snapshot [OPTIONS] -o FILE PROGRAM [ARGS...])');
  if (rest.length === 0) throw new UsageError('snapshot: missing the program (torov snapshot [OPTIONS] -o FILE PROGRAM [ARGS...])');
  const { runProgram } = require('./run') as typeof import('./run');
  return runProgram(rest[0]!, rest.slice(1), opts as Options, buildEnv(opts, process.env), undefined, undefined, { at, out: opts['output'] });
}

/** `torov serve [OPTIONS] PROGRAM [ARGS...]`: HTTP, each request a CGI run of PROGRAM restored from its snapshot. */
function cmdServe(argv: readonly string[]): number {
  const { opts, rest } = parseOptions(argv, SERVE_OPTIONS, true);
  if (opts['help']) { writeStdout(SERVE_HELP); return 0; }
  if (rest.length === 0) throw new UsageError('serve: missing the program to serve (torov serve [OPTIONS] PROGRAM [ARGS...])');
  const int = (name: string, def: number, min: number, max: number): number => {
    const v = opts[name];
    if (v === undefined) return def;
    if (typeof v !== 'string' || !/^[0-9]+$/.test(v) || +v < min || +v > max) throw new UsageError(`serve: --${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(v)})`);
    return +v;
  };
  const cpus = require('node:os').availableParallelism() as number;
  let timeoutMs = 30_000;
  if (typeof opts['timeout'] === 'string') {
    try { timeoutMs = parseDuration(opts['timeout']); } catch (e) { throw new UsageError(`serve: --timeout: ${(e as Error).message}`); }
  }
  let maxBody = 1 << 20;
  if (typeof opts['max-body'] === 'string') {
    try { maxBody = (require('../policy/torov-format') as typeof import('../policy/torov-format')).parseSize(opts['max-body']); }
    catch (e) { throw new UsageError(`serve: --max-body: ${(e as Error).message}`); }
    if (maxBody > 64 * 2 ** 20) throw new UsageError('serve: --max-body is at most 64M');
  }
  const logFormat = opts['log-format'] ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`serve: --log-format must be text or json (got ${JSON.stringify(logFormat)})`);
  const host = typeof opts['host'] === 'string' ? opts['host'] : '127.0.0.1';
  if (!/^[0-9.]+$|^[0-9a-fA-F:]+$/.test(host)) throw new UsageError(`serve: --host must be an IPv4 or IPv6 address (got ${JSON.stringify(host)})`);
  const workers = int('workers', 1, 1, 64);
  const worker = opts['serve-worker'] === true;
  if (worker && (workers > 1 || typeof process.send !== 'function')) throw new UsageError('serve: --serve-worker is internal: it is how torov serve --workers N starts its workers');
  const serve = { host, port: int('port', 8080, 0, 65535), concurrency: int('concurrency', cpus, 1, 256), queueLimit: int('queue', 256, 0, 100_000),
    timeoutMs, maxBody, logFormat: logFormat as 'text' | 'json', snapshot: !opts['no-snapshot'], worker };
  if (workers > 1) {
    // The front: it listens, and starts the workers through bin/torov (src/serve/front.ts).
    const front = require('../serve/front') as typeof import('../serve/front');
    (globalThis as { __torovServing?: boolean }).__torovServing = true;
    front.runFront({ workers, host, port: serve.port, args: front.workerArgs(argv, argv.length - rest.length), say, exit: (st) => process.exit(st) });
    return 0;
  }
  const { runProgram } = require('./run') as typeof import('./run');
  return runProgram(rest[0]!, rest.slice(1), opts as Options, buildEnv(opts, process.env), undefined, serve);
}

function cmdPolicy(argv: readonly string[]): number {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') { writeStdout(POLICY_HELP); return sub ? 0 : 125; }
  if (sub === 'learn') return cmdPolicyLearn(rest);
  const pol = require('../policy') as typeof import('../policy');
  const { opts, rest: files } = parseOptions(rest, [
    { name: 'help', short: 'h', value: false }, { name: 'seccomp', value: false },
    { name: 'to', value: true }, { name: 'output', short: 'o', value: true }, { name: 'binary', value: true },
    { name: 'allow-host-root', value: false },
  ], false);
  if (opts['help']) { writeStdout(POLICY_HELP); return 0; }
  if (opts['seccomp'] && sub !== 'show') throw new UsageError('policy: --seccomp goes with show (torov policy show --seccomp [FILE...])');
  if (opts['allow-host-root'] && sub !== 'check') throw new UsageError('policy: --allow-host-root goes with check (torov policy check --allow-host-root FILE)');
  if (sub !== 'convert') {
    for (const o of ['to', 'output', 'binary']) if (opts[o] !== undefined) throw new UsageError(`policy: --${o} goes with convert (torov policy convert IN --to FORMAT)`);
  }
  switch (sub) {
    case 'show': case 'check': {
      if (opts['seccomp']) {
        // The VMM's own seccomp filter for each policy (src/sandbox/seccomp.ts), rule by rule.
        const { buildFilter, describeFilter } = require('../sandbox/seccomp') as typeof import('../sandbox/seccomp');
        const policies = files.length === 0 ? [pol.defaultPolicy()] : files.map((f) => pol.loadPolicyFile(f).policy);
        writeStdout(policies.map((p) => describeFilter(buildFilter(p)) + '\n').join('\n'));
        return 0;
      }
      if (files.length === 0) {
        if (sub === 'check') throw new UsageError('policy check: missing the policy file');
        const p = pol.defaultPolicy();
        writeStdout(pol.describePolicy(p) + '\n' + pol.describeRules(p) + '\n');
        return 0;
      }
      for (const f of files) {
        const loaded = pol.loadPolicyFile(f);
        if (sub === 'check') {
          // Exactly the validation `torov run` makes (src/policy/validate.ts), then a
          // risk-first summary (src/policy/convert.ts).
          pol.validateForRun(loaded, { allowHostRoot: !!opts['allow-host-root'] });
          writeStdout(`${oneLine(f)}: ok\n` + pol.policyReport(loaded).join('\n') + '\n');
          continue;
        }
        writeStdout(pol.describePolicy(loaded.policy) + '\n');
        writeStdout(pol.describeRules(loaded.policy) + '\n');
      }
      return 0;
    }
    case 'convert': return cmdPolicyConvert(files, opts);
    default:
      throw new UsageError(`policy: unknown subcommand "${sub}" (try: torov policy --help)`);
  }
}

/** `torov policy learn [RUN OPTIONS] [--out FILE] [--] PROGRAM [ARGS...]`: run with everything allowed and recorded, write the policy. */
function cmdPolicyLearn(argv: readonly string[]): number {
  const specs = [...RUN_OPTIONS.filter((o) => !['policy', 'trace', 'trace-file', 'gdb'].includes(o.name)), { name: 'out', short: 'o', value: true }];
  let parsed;
  try { parsed = parseOptions(argv, specs, true); }
  catch (e) {
    const m = /^unknown option (?:--)?-?(policy|trace|trace-file|gdb|p)$/.exec((e as Error).message);
    if (m) throw new UsageError(`policy learn: --${m[1] === 'p' ? 'policy' : m[1]} has no meaning here (learn mode allows and records every call; try: torov policy learn --help)`);
    throw e;
  }
  const { opts, rest } = parsed;
  if (opts['help']) { writeStdout(LEARN_HELP); return 0; }
  if (rest.length === 0) throw new UsageError('policy learn: missing the program to run (torov policy learn [--out FILE] [OPTIONS] [--] PROGRAM [ARGS...])');
  const out = typeof opts['out'] === 'string' ? opts['out'] : `${path.basename(rest[0]!)}.policy.json`;
  const { runProgram } = require('./run') as typeof import('./run');
  return runProgram(rest[0]!, rest.slice(1), opts as Options, buildEnv(opts, process.env), { out });
}

/** `torov policy convert IN --to torov|docker|toroV [-o OUT] [--binary PATH]`. */
function cmdPolicyConvert(files: readonly string[], opts: Record<string, unknown>): number {
  const pol = require('../policy') as typeof import('../policy');
  if (files.length !== 1) throw new UsageError('policy convert: give exactly one input file (torov policy convert IN --to torov|docker|toroV [-o OUT])');
  const to = opts['to'];
  if (to !== 'torov' && to !== 'docker' && to !== 'toroV' && to !== 'torov-config') {
    throw new UsageError(`policy convert: --to must be torov, docker or toroV (got ${to === undefined ? 'nothing' : JSON.stringify(to)})`);
  }
  const out = typeof opts['output'] === 'string' ? opts['output'] : undefined;
  const binary = typeof opts['binary'] === 'string' ? opts['binary'] : undefined;
  if ((to === 'toroV' || to === 'torov-config') && binary === undefined) {
    throw new UsageError('policy convert: a ToroV configuration names its program: add --binary PATH');
  }
  if (binary !== undefined && to !== 'toroV' && to !== 'torov-config') throw new UsageError('policy convert: --binary goes with --to toroV');
  const loaded = pol.loadPolicyFile(files[0]!);
  const notes: string[] = [...loaded.warnings];
  if (loaded.kind === 'docker') notes.push(...loaded.approximations.map((a) => `approximation: ${a}`));
  const r = to === 'docker' ? (() => { const d = pol.toDockerProfile(loaded.policy); return { doc: d.profile, notes: d.notes }; })()
    : to === 'torov' ? pol.toTorovDocument(loaded.policy)
      : pol.toTorovConfigDocument(loaded.policy, binary!, out === undefined ? undefined : path.dirname(path.resolve(out)));
  notes.push(...r.notes);
  for (const n of notes) say(`torov: policy convert: note: ${n}`);
  const text = JSON.stringify(r.doc, null, 2) + '\n';
  if (out === undefined) writeStdout(text);
  else {
    try { fs.writeFileSync(out, text); } catch (e) { throw new UsageError(`policy convert: cannot write ${out}: ${(e as Error).message}`); }
  }
  return 0;
}

function cmdSyscalls(argv: readonly string[]): number {
  const { opts } = parseOptions(argv, [{ name: 'help', short: 'h', value: false }, { name: 'markdown', value: false }], false);
  if (opts['help']) { writeStdout(SYSCALLS_HELP); return 0; }
  const { syscallTableText } = require('./syscalls-doc') as typeof import('./syscalls-doc');
  writeStdout(syscallTableText(!!opts['markdown']));
  return 0;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
