/**
 * `torov run`: resolve the program and the policy, then either launch the sandboxed VMM
 * (the default: see src/sandbox/launch.ts) or, in the sandboxed child or with
 * --no-sandbox, boot the VM here: jail, privileges, then run it; return its status.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Options, UsageError, parseVolumes, parseUser } from './args';
import { say } from './main';
import { DEFAULT_MEMORY, MIN_MEMORY, MAX_MEMORY, MAX_VCPUS } from '../machine/layout';
import { O_PATH } from '../linux/fcntl';
import { CHILD_ENV, ChildSpec, signalReady } from '../sandbox/child';

/** `torov policy learn`: where the learned policy goes. */
export interface LearnRequest {
  /** The policy file to write (by the launcher, outside the sandbox). */
  readonly out: string;
}

/** Runs `program` with `args`; returns the exit status. With `learn`, records the run and writes its policy. */
export function runProgram(program: string, args: readonly string[], opts: Options, env: string[], learn?: LearnRequest): number {
  // Only what this run needs is loaded: start-up time is part of every run.
  const { defaultPolicy } = require('../policy/default') as typeof import('../policy/default');
  const load = () => require('../policy/load') as typeof import('../policy/load');
  let policy = defaultPolicy();
  let file = program;
  let torovConfig = false;
  let startAddr: number | undefined;
  // --gdb [HOST:]PORT, or Debug.Allowed in a ToroV configuration: the GDB stub (src/gdb).
  let gdbSpec = typeof opts['gdb'] === 'string' ? opts['gdb'] : undefined;
  // `torov run app.json`: an original ToroV configuration names the binary and its policy.
  if (/\.json$/i.test(program) && !learn) {
    const loaded = load().loadPolicyFile(program);
    if (loaded.kind !== 'torov-config') throw new UsageError(`${program} is a torov policy, not a program: use torov run --policy ${program} PROGRAM`);
    file = loaded.binary;
    policy = loaded.policy;
    torovConfig = true;
    startAddr = loaded.startAddr;
    if (loaded.debug?.allowed) gdbSpec ??= `127.0.0.1:${loaded.debug.port}`;
  }
  if (typeof opts['policy'] === 'string') {
    if (learn) throw new UsageError('policy learn: --policy has no meaning here (learn mode allows and records every call)');
    const loaded = load().loadPolicyFile(opts['policy']);
    policy = loaded.policy;
  }
  const learning = learn ? require('../policy/learn') as typeof import('../policy/learn') : undefined;
  if (learning) policy = learning.learningPolicy();
  const learnOptions = (partial: boolean): import('../policy/learn').LearnOptions => {
    const { HANDLERS } = require('../syscalls/handlers') as typeof import('../syscalls/handlers');
    const { SYS } = require('../linux/syscalls') as typeof import('../linux/syscalls');
    return {
      command: [file, ...args],
      implemented: (n) => HANDLERS[SYS[n as keyof typeof SYS]] !== undefined,
      ...(typeof opts['memory'] === 'string' ? { memory: opts['memory'] } : {}),
      ...(opts['network'] === 'host' ? { network: 'host' as const } : {}),
      ...(partial ? { partial } : {}),
    };
  };
  let memory = policy.memory ?? DEFAULT_MEMORY;
  if (typeof opts['memory'] === 'string') {
    try { memory = (require('../policy/torov-format') as typeof import('../policy/torov-format')).parseSize(opts['memory']); } catch (e) { throw new UsageError(`--memory: ${(e as Error).message}`); }
  }
  if (memory < MIN_MEMORY || memory > MAX_MEMORY) throw new UsageError(`--memory must be between ${MIN_MEMORY >> 20}M and ${MAX_MEMORY / 2 ** 30}G`);
  memory = Math.ceil(memory / 2 ** 21) * 2 ** 21;
  const count = (name: string, max: number): number | undefined => {
    const v = opts[name];
    if (typeof v !== 'string') return undefined;
    if (!/^[0-9]+$/.test(v) || +v < 1 || +v > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max} (got ${JSON.stringify(v)})`);
    return +v;
  };
  const cpus = count('cpus', 1024), threads = count('threads', MAX_VCPUS);

  const volumes = parseVolumes((opts['volume'] as string[] | undefined) ?? [], process.cwd());
  // --rootfs DIR: the guest's root (read-only unless the policy says otherwise); PROGRAM is
  // found in it as the guest sees it (src/sandbox/jail.ts: openInRoot).
  const rootfs = typeof opts['rootfs'] === 'string' ? path.resolve(opts['rootfs']) : undefined;
  if (rootfs !== undefined && opts['no-sandbox']) throw new UsageError('--rootfs needs the sandbox (it has no meaning with --no-sandbox)');
  let prog: { fd: number; guestPath: string };
  let image: Buffer;
  try {
    prog = openProgram(file, rootfs, volumes, typeof opts['workdir'] === 'string' ? opts['workdir'] : undefined, env, policy.sandbox?.root);
    image = fs.readFileSync(prog.fd);
  } catch (e) {
    if ((e as Error).name === 'UsageError') throw e;
    const code = (e as NodeJS.ErrnoException).code;
    say(`torov: ${file}: ${code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
    return 126;
  }
  // The guest ABI: a ToroV configuration may name a flat ToroV binary (not ELF).
  const personalities = require('../vmm/personality') as typeof import('../vmm/personality');
  const personality = torovConfig && !personalities.isElf(image) ? personalities.torovPersonality : personalities.linuxPersonality;
  // Refuse what cannot run before any VM or sandbox exists.
  try {
    personality.validate(image);
  } catch (e) {
    if ((e as Error).name === 'ElfError') (e as Error).message = `${file}: ${(e as Error).message}`;
    throw e;
  }

  const user = typeof opts['user'] === 'string' ? parseUser(opts['user']) : undefined;
  let timeoutMs: number | undefined;
  if (typeof opts['timeout'] === 'string') {
    const { parseDuration } = require('../sandbox/launch') as typeof import('../sandbox/launch');
    try { timeoutMs = parseDuration(opts['timeout']); } catch (e) { throw new UsageError(`--timeout: ${(e as Error).message}`); }
  }
  const sb = { ...(policy.sandbox ?? {}), ...(rootfs !== undefined ? { root: rootfs } : {}) };
  if (opts['network'] !== undefined) {
    if (opts['network'] !== 'none' && opts['network'] !== 'host') throw new UsageError(`--network must be none or host (got ${JSON.stringify(opts['network'])})`);
    sb.network = opts['network'];
  }
  const syscallPath = chooseSyscallPath(opts['syscall-path'], { gdb: gdbSpec !== undefined, linux: personality === personalities.linuxPersonality });
  const childEnv = process.env[CHILD_ENV];
  const sandbox = !opts['no-sandbox'];
  if (!childEnv) {
    if (!sandbox) {
      if (volumes.length) throw new UsageError('--volume needs the sandbox (it has no meaning with --no-sandbox)');
      say('torov: warning: --no-sandbox: the VMM runs without its namespaces, jail, privilege drop and seccomp filter (for debugging only)');
    }
    if (sandbox || timeoutMs !== undefined) {
      const { launch } = require('../sandbox/launch') as typeof import('../sandbox/launch');
      // The stub listens here, on the host's network, and the VMM inherits the socket.
      const gdb = gdbSpec !== undefined ? listenGdb(gdbSpec, file) : undefined;
      // Learn mode: the sandboxed VMM sends what it learned back through a pipe (see
      // launch.ts), and this process, outside the jail and with the user's rights, writes
      // the file. The jail has no view of the output path, and giving the VMM a writable
      // volume for it would widen the sandbox for the guest too.
      return launch({ sandbox, network: sb.network ?? 'none', newPid: sb.newPid ?? true, timeoutMs, argv: process.argv.slice(1), say, gdbFd: gdb?.fd,
        vcpuThread: syscallPath === 'ring' && sandbox,
        ...(learn ? { learn: (text: string) => writeLearned(learn, text, learnOptions) } : {}) });
    }
  }
  const child = childEnv ? JSON.parse(childEnv) as ChildSpec : undefined;
  // The channel's vCPU thread takes tens of milliseconds to start. Under the sandbox it must
  // be up before the jail hides koffi's files and the seccomp filter forbids new threads:
  // bin/torov started it first thing (ChildSpec.vcpuThread), and the jail waits for it.
  // Without the sandbox, the channel starts it only once the guest has made enough
  // syscalls for it to pay off (Channel.run), so a short run never pays for it.
  const vcpuThread = syscallPath === 'ring' && child?.sandbox ? (require('../vmm/channel') as typeof import('../vmm/channel')).HostThread : undefined;
  vcpuThread?.prestart();
  const gdb = child?.gdbFd !== undefined ? (require('../gdb') as typeof import('../gdb')).GdbStub.adopt(child.gdbFd)
    : gdbSpec !== undefined && !child ? listenGdb(gdbSpec, file) : undefined;
  gdb?.prepare();

  let traceFd: number | undefined;
  if (opts['trace-file']) traceFd = fs.openSync(opts['trace-file'] as string, 'w');
  else if (opts['trace']) traceFd = 2;

  const { Machine, kvmHandle } = require('../vmm/machine') as typeof import('../vmm/machine');
  if (child?.sandbox) {
    // Everything the VMM needs from the host is opened or loaded before the host's files
    // disappear: /dev/kvm, the program (read above), the trace file, every module.
    kvmHandle();
    require('../syscalls/handlers');
    // The VMM's own /proc stays reachable to torov (not to the guest) through a dirfd.
    (require('../syscalls/fs') as typeof import('../syscalls/fs')).useProcDir(fs.openSync('/proc', fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | O_PATH));
    if (traceFd !== undefined) require('../syscalls/trace');
    // The vCPU thread loads koffi from the host's files and makes syscalls the filter does not allow while it starts.
    if (vcpuThread && !vcpuThread.waitReady(10_000)) throw new Error('the channel\'s vCPU thread did not start');
    const { enterJail } = require('../sandbox/jail') as typeof import('../sandbox/jail');
    const { dropPrivileges, applyLimits } = require('../sandbox/privileges') as typeof import('../sandbox/privileges');
    enterJail({ dir: child.dir, root: sb.root, writable: sb.writable, tmp: sb.tmp, volumes, network: sb.network ?? 'none',
      ...(typeof opts['workdir'] === 'string' ? { workdir: opts['workdir'] } : {}) });
    const ids = dropPrivileges({ uid: user?.uid, gid: user?.gid, inUserNamespace: child.userNamespace });
    // No core dump of the VMM's large mappings if the seccomp filter kills it.
    applyLimits({ ...(sb.rlimits ?? {}), core: 0 });
    if (opts['verbose']) {
      const { effectiveCaps } = require('../sandbox/privileges') as typeof import('../sandbox/privileges');
      say(`torov: sandbox: uid=${ids.uid} gid=${ids.gid} capabilities=0x${effectiveCaps().toString(16)} no_new_privs=1 network=${sb.network ?? 'none'} root=${sb.root ?? '(minimal)'}`);
    }
  }
  if (child) signalReady();
  let m: InstanceType<typeof Machine>;
  // In the sandbox, each first sighting also goes to the launcher at once ("L" lines), so
  // that a run stopped by --timeout or a kill still gives a policy; "D" is the full result.
  const learnFd = child?.learnFd;
  const learner = learning ? new learning.Learner(learnFd !== undefined ? (l) => { fs.writeSync(learnFd, `L ${l}\n`); } : undefined) : undefined;
  try {
    const root = sb.root !== undefined ? `the guest's root ${sb.root}` : child?.sandbox ? 'the guest\'s minimal root (no --rootfs; try --rootfs /)' : 'the host\'s root (--no-sandbox)';
    m = new Machine({ path: prog.guestPath, image, argv: [file, ...args], env, memory, policy, traceFd, verbose: !!opts['verbose'], log: say,
      personality, vdso: !opts['no-vdso'], syscallPath, rewrite: !opts['no-rewrite'], spawnThread: !child?.sandbox, loader: { fd: prog.fd, root },
      ...(cpus !== undefined ? { cpus } : {}), ...(threads !== undefined ? { threads } : {}),
      ...(startAddr !== undefined ? { entry: startAddr } : {}), ...(learner ? { learner } : {}) });
  } catch (e) {
    if ((e as Error).name === 'ElfError') (e as Error).message = `${file}: ${(e as Error).message}`;
    throw e;
  }
  gdb?.attach(m, say);
  if (child?.sandbox) {
    // Last: the VMM's own seccomp filter, on every thread. From here the VMM can make only
    // the host syscalls its runtime needs and those behind the guest syscalls the policy
    // allows (torov policy show --seccomp prints them); anything else kills it.
    const { enableSeccomp } = require('../sandbox/seccomp') as typeof import('../sandbox/seccomp');
    enableSeccomp(policy, { gdb: gdb !== undefined, pid: process.pid });
  }
  try {
    return m.run();
  } finally {
    m.close();
    if (traceFd !== undefined && traceFd !== 2) fs.closeSync(traceFd);
    if (learner && learn) {
      const text = `D ${JSON.stringify(learner.policy(learnOptions(false)))}\n`;
      // In the sandbox: to the launcher's pipe. Without one: the file, from here.
      if (learnFd !== undefined) fs.writeSync(learnFd, text);
      else writeLearned(learn, text, learnOptions);
    }
  }
}

/**
 * --syscall-path: ring only where it can work (see src/vmm/channel.ts): it needs a second
 * CPU for the polling thread, and neither the debugger's run loop nor the ToroV ABI's
 * direct hypercalls go through the channel.
 */
function chooseSyscallPath(opt: Options[string] | undefined, c: { gdb: boolean; linux: boolean }): 'exit' | 'ring' {
  if (opt !== undefined && opt !== 'exit' && opt !== 'ring' && opt !== 'auto') {
    throw new UsageError(`--syscall-path must be exit, ring or auto (got ${JSON.stringify(opt)})`);
  }
  if (opt === 'exit') return 'exit';
  if (c.gdb) {
    if (opt === 'ring') throw new UsageError('--syscall-path ring cannot be used with --gdb (the debugger runs the vCPU itself)');
    return 'exit';
  }
  if (!c.linux) {
    if (opt === 'ring') throw new UsageError('--syscall-path ring needs a Linux program (a ToroV binary makes its own hypercalls)');
    return 'exit';
  }
  if (opt === 'ring') return 'ring';
  return require('node:os').availableParallelism() >= 2 ? 'ring' : 'exit';
}

/**
 * Writes a learned policy to its file, with the notes and a summary on stderr. `text` is
 * what the VMM sent: "L <observation>" lines as the run went, then "D <LearnedPolicy>"
 * when it ended. Without "D" the run was cut short: the policy is rebuilt from the lines.
 */
function writeLearned(learn: LearnRequest, text: string, options: (partial: boolean) => import('../policy/learn').LearnOptions): void {
  const learning = require('../policy/learn') as typeof import('../policy/learn');
  const lines = text.split('\n');
  const done = lines.find((l) => l.startsWith('D '));
  let l: import('../policy/learn').LearnedPolicy | undefined;
  if (done !== undefined) {
    try { l = JSON.parse(done.slice(2)) as import('../policy/learn').LearnedPolicy; } catch { /* cut short */ }
  }
  if (l === undefined) {
    const seen = lines.filter((x) => x.startsWith('L ')).map((x) => x.slice(2));
    if (seen.length === 0) { say(`torov: policy learn: the run did not get far enough to learn anything; ${learn.out} is not written`); return; }
    l = learning.Learner.replay(seen).policy(options(true));
    l.notes.unshift('the run was cut short (--timeout or a kill): the policy covers what it did until then, and its counts are first sightings only');
  }
  // Notes quote paths the guest chose: control characters are shown, never sent to the terminal.
  for (const n of l.notes) say(`torov: policy learn: note: ${n.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`);
  try { fs.writeFileSync(learn.out, learning.formatPolicy(l.doc)); }
  catch (e) { throw new UsageError(`policy learn: cannot write ${learn.out}: ${(e as Error).message}`); }
  say(`torov: policy learn: wrote ${learn.out}: ${l.syscalls} syscalls, ${l.argRules} argument rules; run it with: torov run --policy ${learn.out} ...`);
}
/** Opens the GDB stub's socket and says how to connect. */
function listenGdb(spec: string, program: string): import('../gdb').GdbStub {
  const { GdbStub } = require('../gdb') as typeof import('../gdb');
  let stub: import('../gdb').GdbStub;
  try { stub = GdbStub.listen(spec); } catch (e) { throw new UsageError(`--gdb: ${(e as Error).message}`); }
  say(stub.connectHint(program));
  return stub;
}

/**
 * Opens the program (kept open: the VMM maps its segments from the fd after the jail) and
 * names it as the guest will see it (AT_EXECFN, /proc/self/exe). With --rootfs it is found
 * inside the root (src/sandbox/jail.ts); otherwise on the host, and its guest path is its
 * host path as a volume or the policy's root shows it, or the host path itself.
 */
function openProgram(file: string, rootfs: string | undefined, volumes: readonly import('../sandbox/jail').Volume[], workdir: string | undefined,
  env: readonly string[], policyRoot: string | undefined): { fd: number; guestPath: string } {
  const jail = require('../sandbox/jail') as typeof import('../sandbox/jail');
  if (rootfs !== undefined) {
    const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/bin:/usr/bin:/bin';
    const cwd = jail.guestCwdCandidates({ ...(workdir !== undefined ? { workdir } : {}), volumes, root: rootfs }, process.cwd())[0]!;
    try { return jail.openInRoot(file, { root: rootfs, volumes, cwd, pathVar }); }
    catch (e) { throw Object.assign(new UsageError((e as Error).message), { status: (e as { status?: number }).status ?? 126 }); }
  }
  const resolved = path.resolve(resolveProgram(file));
  const fd = fs.openSync(resolved, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  return { fd, guestPath: jail.guestPathOfHost(resolved, volumes, policyRoot) ?? resolved };
}

/** Finds the program like a shell does: a path with a slash as is, otherwise on $PATH. */
function resolveProgram(file: string): string {
  if (file.includes('/')) {
    if (!fs.existsSync(file)) throw Object.assign(new UsageError(`${file}: no such file`), { status: 127 });
    return file;
  }
  if (fs.existsSync(file) && fs.statSync(file).isFile()) return file;
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const p = path.join(dir || '.', file);
    try { if (fs.statSync(p).isFile()) return p; } catch { /* next */ }
  }
  throw Object.assign(new UsageError(`${file}: not found (give a path, or put it on PATH)`), { status: 127 });
}
