/**
 * `torov run`: resolve the program and the policy, then either launch the sandboxed VMM
 * (the default: see src/sandbox/launch.ts) or, in the sandboxed child or with
 * --no-sandbox, boot the VM here: jail, privileges, then run it; return its status.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Options, UsageError, parseVolumes, parseUser, parseDuration, formatDuration, VolumeSpec } from './args';
import { say } from './main';
import { DEFAULT_MEMORY, MIN_MEMORY, MAX_MEMORY, MAX_VCPUS, DEFAULT_THREADS } from '../machine/layout';
import { RANGES } from '../policy/sandbox-settings';
import { O_PATH } from '../linux/fcntl';
import { launcher, tellLauncher, requestRestart, sendLearned, launcherAlive, readJoined } from '../sandbox/launch';
import { checkInputPath, readInputFd, InputError, MAX_PROGRAM_BYTES } from './input';
import { printable } from '../policy/errors';
import { nowMs } from '../host/clock';

/** `torov policy learn`: where the learned policy goes. */
export interface LearnRequest {
  /** The policy file to write (by the launcher, outside the sandbox). */
  readonly out: string;
}

/** `torov serve`: where to listen and how to serve (src/serve/server.ts). */
export interface ServeRequest {
  host: string;
  port: number;
  concurrency: number;
  queueLimit: number;
  /** Per request (ms; 0: none). */
  timeoutMs: number;
  maxBody: number;
  logFormat: 'text' | 'json';
  /** False (--no-snapshot): every request starts the program afresh (CGI programs that read their variables before stdin). */
  snapshot: boolean;
  /** A worker of `serve --workers N` (--serve-worker): no listening socket, connections from the front (src/serve/front.ts). */
  worker?: boolean;
}

/**
 * Runs `program` with `args`; returns the exit status. With `learn`, records the run and
 * writes its policy. With `serve`, snapshots the program at its first read of stdin and
 * serves HTTP from restores of it (the process then keeps running: see startServing).
 */
export function runProgram(program: string, programArgs: readonly string[], opts: Options, env: string[], learn?: LearnRequest, serve?: ServeRequest,
  snapshot?: { at: 'stdin' | 'accept'; out: string }): number {
  const marks: Array<[string, number]> = [['torov loaded', nowMs()]];
  // The program's arguments (a #! script's interpreter gets the script's path before them).
  let args = programArgs;
  // bin/torov ends the process directly after this (src/cli/main.ts: exitNow).
  (globalThis as { __torovRanProgram?: boolean }).__torovRanProgram = true;
  // --timeout counts from the start of `torov run` (the launcher's start, or this process's
  // without one): it is parsed and handed to the launcher before any input is read, so a
  // slow or stuck input cannot delay it. The launcher kills the VMM a grace period after
  // the deadline should it still run then; the VMM's own timer stops the VM at the deadline.
  let timeoutMs = 0;
  if (typeof opts['timeout'] === 'string' && !serve) {
    try { timeoutMs = parseDuration(opts['timeout']); } catch (e) { throw new UsageError(`--timeout: ${(e as Error).message}`); }
  }
  const startMs = launcher()?.t0 ?? monotonicMs() - process.uptime() * 1000;
  const timeoutText = `torov: timeout: the VM was stopped after ${formatDuration(timeoutMs)}`;
  if (timeoutMs > 0) tellLauncher(`timeout ${timeoutMs} ${timeoutText}`);
  // The run's cgroup (src/sandbox/cgroup.ts): made before any input is read (the inputs
  // are bounded in size: src/cli/input.ts), and the launcher moves this process in
  // meanwhile (a move waits for an RCU grace period); its limits are written below, once
  // the memory and threads are known, and settleCgroups() waits for the move.
  const cgroups = require('../sandbox/cgroup') as typeof import('../sandbox/cgroup');
  // Under torov-oci the launcher joins them too: it is the container's process, whose
  // cgroups containerd's shim reads for the container's statistics (`ctr task metrics`).
  // A plain run's launcher stays where it was started, as `runc run` does.
  const launched = launcher();
  const ociRun = typeof opts['oci-sync'] === 'string';
  let cg = launched !== undefined
    ? cgroups.makeRunCgroup(launched.launcherPid, (dirs) => {
      tellLauncher(`cgroup ${dirs.join(' ')}`);
      // And to torov-oci, in the container's state directory: its delete removes them when
      // the launcher could not (ended by SIGKILL), as runc's delete removes a container's.
      if (ociRun) { try { fs.writeFileSync(`${opts['oci-sync'] as string}/cgroups`, dirs.join('\n') + '\n', { mode: 0o600 }); } catch { /* best effort */ } }
    }, (dirs) => tellLauncher(`${ociRun ? 'join-oci' : 'join'} ${dirs.join(' ')}`), ociRun)
    : undefined;
  const allowHostRoot = !!opts['allow-host-root'];
  // Only what this run needs is loaded: start-up time is part of every run.
  const { defaultPolicy } = require('../policy/default') as typeof import('../policy/default');
  const load = () => require('../policy/load') as typeof import('../policy/load');
  const validate = () => require('../policy/validate') as typeof import('../policy/validate');
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
    validate().validateForRun(loaded, { allowHostRoot });
    file = loaded.binary;
    policy = loaded.policy;
    torovConfig = true;
    startAddr = loaded.startAddr;
    if (loaded.debug?.allowed) gdbSpec ??= `127.0.0.1:${loaded.debug.port}`;
  }
  if (typeof opts['policy'] === 'string') {
    if (learn) throw new UsageError('policy learn: --policy has no meaning here (learn mode allows and records every call)');
    const loaded = load().loadPolicyFile(opts['policy']);
    validate().validateForRun(loaded, { allowHostRoot });
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
  // torov run --restore FILE: the program and its state come from the file, checked whole
  // before anything else is done (src/vmm/snapshot-file.ts).
  // (torov's version is read now: the jail hides package.json.)
  const torovVersion = snapshot || typeof opts['restore'] === 'string' ? (require('./main') as typeof import('./main')).version() : '';
  const restored = typeof opts['restore'] === 'string' ? loadSnapshotFile(opts['restore'], torovVersion) : undefined;
  if (restored) { file = restored.exe; program = restored.exe; }
  let memory = restored?.memory ?? policy.memory ?? DEFAULT_MEMORY;
  if (typeof opts['memory'] === 'string' && restored) throw new UsageError('run: --memory cannot be used with --restore (the snapshot has its memory size)');
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
  const pidsLimit = count('pids', RANGES.pids[1]) ?? policy.sandbox?.rlimits?.pids;
  // The guest's in-memory files (its /tmp and its memfds share one tmpfs): bounded.
  const tmpOpt = policy.sandbox?.tmp;
  const shm = cgroups.shmBudget(memory, typeof tmpOpt === 'number' ? tmpOpt : undefined);
  // Real memfds (sealable ones, and all of them without the sandbox) share that budget.
  (require('../syscalls/memfd-budget') as typeof import('../syscalls/memfd-budget')).setMemfdBudget(shm);
  const limits = cgroups.runLimits({ guestMemory: memory, shm, threads: threads ?? DEFAULT_THREADS, ...(pidsLimit !== undefined ? { pids: pidsLimit } : {}), ...(cpus !== undefined ? { cpus } : {}) });
  if (pidsLimit !== undefined && pidsLimit < cgroups.VMM_TASKS / 2) throw new UsageError(`--pids ${pidsLimit} is too small: torov's own threads need about ${cgroups.VMM_TASKS / 2}`);
  // Said once, when the run starts (not before an error that ends it anyway).
  let cgroupNote: string | undefined;
  const failedLimits = cg !== undefined ? cgroups.applyCgroupLimits(cg, limits) : undefined;
  if (cg !== undefined) {
    const cpuSeconds = policy.sandbox?.rlimits?.cpuSeconds;
    if (cpuSeconds !== undefined) tellLauncher(`limits cpu=${cpuSeconds}`);
  }
  /** Waits until the launcher has moved this process into the run's cgroups: before the guest runs, and before the limits that depend on them. */
  const settleCgroups = () => {
    if (cg === undefined || failedLimits === undefined || cg.joining === undefined) return;
    cg = cgroups.joined(cg, cg.joining.length ? readJoined() : '');
    const failed = new Map(failedLimits);
    for (const [c, why] of cg.missing) if (!failed.has(c)) failed.set(c, why);
    const mem = failed.get('memory') ?? failed.get('pids');
    if (mem !== undefined) cgroupNote = `torov: note: no cgroup for this run (${mem}): only the guest's memory and in-memory files are bounded, threads by RLIMIT_NPROC`;
  };

  /**
   * Reads a program's file (bounded, a regular file only). A large one only once this
   * process is in the run's cgroup: the image stays in memory for the whole run, and
   * before the launcher's move it would be charged outside the run's limits.
   */
  const readProgram = (fd: number): Buffer => {
    if (fs.fstatSync(fd).size > READ_BEFORE_CGROUP) settleCgroups();
    return readInputFd(fd, MAX_PROGRAM_BYTES);
  };
  const volumes = parseVolumes((opts['volume'] as string[] | undefined) ?? [], process.cwd());
  checkVolumes(volumes, policy.sandbox ?? {}, allowHostRoot);
  // --rootfs DIR: the guest's root (read-only unless the policy says otherwise); PROGRAM is
  // found in it as the guest sees it (src/sandbox/jail.ts: openInRoot).
  const rootfs = typeof opts['rootfs'] === 'string' ? path.resolve(opts['rootfs']) : undefined;
  if (rootfs !== undefined && opts['no-sandbox']) throw new UsageError('--rootfs needs the sandbox (it has no meaning with --no-sandbox)');
  let prog: { fd: number; guestPath: string; inGuest: boolean };
  let image: Buffer;
  try {
    prog = openProgram(file, rootfs, volumes, typeof opts['workdir'] === 'string' ? opts['workdir'] : undefined, env, policy.sandbox?.root);
    // Bounded, and only a regular file: a FIFO, a device or a /proc file is refused unread.
    image = readProgram(prog.fd);
  } catch (e) {
    if ((e as Error).name === 'UsageError') throw e;
    if (e instanceof InputError) { say(`torov: ${printable(file)}: ${e.message}`); return e.code === 'ENOENT' ? 127 : 126; }
    const code = (e as NodeJS.ErrnoException).code;
    say(`torov: ${printable(file)}: ${code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
    return 126;
  }
  // A #! script, as execve runs one (binfmt_script, src/syscalls/exec.ts): its interpreter
  // runs, found as the program is (in --rootfs, else on the host), with the optional
  // argument of the #! line and the script's path as the guest sees it before the arguments.
  const { shebang, MAX_INTERP_DEPTH } = require('../syscalls/exec') as typeof import('../syscalls/exec');
  for (let depth = 0; !torovConfig && image.length >= 2 && image[0] === 0x23 && image[1] === 0x21; depth++) {
    const script = file;
    let sb: ReturnType<typeof shebang>;
    try { sb = shebang(image); } catch { say(`torov: ${printable(script)}: its #! line names no interpreter`); return 126; }
    if (depth >= MAX_INTERP_DEPTH || !sb) { say(`torov: ${printable(script)}: too many levels of #! interpreters`); return 126; }
    // The interpreter opens the script by its path, which only the guest's files can give.
    const scriptInGuest = prog.inGuest || !!opts['no-sandbox'];
    args = [...(sb.arg !== undefined ? [sb.arg] : []), prog.guestPath, ...args];
    fs.closeSync(prog.fd);
    // Opened as execve opens it: relative to the working directory, never searched on PATH.
    file = sb.interp.includes('/') ? sb.interp : `./${sb.interp}`;
    try {
      prog = openProgram(file, rootfs, volumes, typeof opts['workdir'] === 'string' ? opts['workdir'] : undefined, env, policy.sandbox?.root);
      image = readProgram(prog.fd);
    } catch (e) {
      const code = e instanceof InputError ? e.code : (e as NodeJS.ErrnoException).code ?? ((e as { status?: number }).status === 127 ? 'ENOENT' : undefined);
      say(`torov: ${printable(script)}: its interpreter ${printable(sb.interp)}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
      return code === 'ENOENT' ? 127 : 126;
    }
    if (!scriptInGuest) {
      const dir = path.dirname(path.resolve(script));
      say(`torov: note: ${printable(script)} is not in the guest's files, where its interpreter ${printable(sb.interp)} will look for it: give the guest its directory (-v "${dir}:${dir}:ro") or use --rootfs`);
    }
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
  const sb = { ...(policy.sandbox ?? {}), ...(rootfs !== undefined ? { root: rootfs } : {}) };
  if (rootfs !== undefined && sb.writable === true && !allowHostRoot && fs.realpathSync(rootfs) === '/') {
    throw new UsageError('--rootfs /: the policy makes the root writable ("writable": true), which gives the guest every host file: add --allow-host-root to mean it');
  }
  if (opts['network'] !== undefined) {
    if (opts['network'] !== 'none' && opts['network'] !== 'host') throw new UsageError(`--network must be none or host (got ${JSON.stringify(opts['network'])})`);
    sb.network = opts['network'];
  }
  const snapshots = serve !== undefined || snapshot !== undefined || restored !== undefined;
  if (snapshots && opts['syscall-path'] === 'ring') throw new UsageError('--syscall-path ring cannot be used with snapshots (they need the exit path)');
  const syscallPath = snapshots ? 'exit' : chooseSyscallPath(opts['syscall-path'], { gdb: gdbSpec !== undefined, linux: personality === personalities.linuxPersonality });
  const sandbox = !opts['no-sandbox'];
  const spec = launcher();
  if (sandbox && spec === undefined) throw new UsageError('the sandbox needs torov\'s launcher: run bin/torov, not node bin/torov.js (or add --no-sandbox to debug)');
  if (sandbox && !spec!.namespaces) throw new Error('the launcher created no namespaces for a sandboxed run');
  if (!sandbox) {
    if (volumes.length) throw new UsageError('--volume needs the sandbox (it has no meaning with --no-sandbox)');
    say('torov: warning: --no-sandbox: the VMM runs without its namespaces, jail, privilege drop and seccomp filter (for debugging only)');
  }
  const network = sb.network ?? 'none';
  if (sandbox) {
    // The launcher made the namespaces before this process started, from the command line
    // alone. When the policy (or a ToroV configuration) needs others, or gdb needs a socket
    // on the host's network, it starts this process again with them, once.
    const net = network === 'none', pid = sb.newPid ?? true;
    // torov serve's listening socket comes the same way as gdb's: made by the launcher on the host's network.
    const listenSpec = serve ? (serve.worker ? undefined : `${serve.host.includes(':') ? `[${serve.host}]` : serve.host}:${serve.port}`) : gdbSpec;
    const gdb = listenSpec !== undefined && net && spec!.gdbFd < 0 && spec!.gdbErrno === 0 ? gdbSocketAddress(listenSpec) : undefined;
    if (net !== spec!.net || pid !== spec!.pid || gdb !== undefined) {
      if (spec!.attempt > 0) throw new Error(`the launcher did not provide the namespaces this run needs (network ${net ? 'own' : 'host'}, PID namespace ${pid ? 'own' : 'host'})`);
      requestRestart({ net, pid, ...(gdb ? { gdb } : {}) });
      return 0;
    }
    if (spec!.gdbErrno !== 0) throw new UsageError(serve ? `serve: cannot listen on ${serve.host}:${serve.port}: ${errnoText(spec!.gdbErrno)}` : `--gdb: cannot listen on ${gdbSpec}: ${errnoText(spec!.gdbErrno)}`);
  }
  marks.push(['policy and program checked', nowMs()]);

  // The channel's vCPU thread takes tens of milliseconds to start. Under a policy file, whose
  // seccomp filter may forbid new threads, bin/torov.js started it first thing, and the jail
  // waits for it to be up (koffi loaded from the host's files). Otherwise the scheduler
  // starts one once the program makes enough syscalls for it to pay (src/vmm/scheduler.ts):
  // after the jail, a thread loads koffi by the name the main thread loaded it under.
  const earlyThread = (globalThis as { __torovEarlyWorker?: unknown }).__torovEarlyWorker !== undefined;
  const vcpuThread = syscallPath === 'ring' && sandbox && earlyThread ? (require('../vmm/channel') as typeof import('../vmm/channel')).HostThread : undefined;
  vcpuThread?.prestart();
  let gdb: import('../gdb').GdbStub | undefined;
  if (spec !== undefined && spec.gdbFd >= 0 && !serve) {
    gdb = (require('../gdb') as typeof import('../gdb')).GdbStub.adopt(spec.gdbFd);
    say(gdb.connectHint(file));
  } else if (gdbSpec !== undefined) gdb = listenGdb(gdbSpec, file);
  gdb?.prepare();
  // Host signals (forwarded by the launcher, from the terminal, the --timeout timer) are
  // counted from here on and taken by the run loop (src/vmm/host-signals.ts).
  const hostSignals = require('../vmm/host-signals') as typeof import('../vmm/host-signals');
  // serve: SIGTERM and SIGINT are the server's (it drains); only the per-request timer is counted.
  hostSignals.installHostSignals(serve ? [] : hostSignals.FORWARDED_SIGNALS);
  const serving = serve ? (require('../serve/start') as typeof import('../serve/start')).prepareServing() : undefined;
  if (timeoutMs > 0) hostSignals.armTimeout(Math.max(1, Math.ceil(startMs + timeoutMs - monotonicMs())), timeoutText);

  let traceFd: number | undefined;
  if (opts['trace-file']) traceFd = fs.openSync(opts['trace-file'] as string, 'w');
  // --code-cache-out (npm run build: scripts/code-cache.js): bin/torov.js writes its code
  // cache there after the run, through this fd (the jail hides the file's directory). The
  // cache then holds the sandbox's code too, which a --no-sandbox run never compiles.
  if (typeof opts['code-cache-out'] === 'string') {
    try { (globalThis as { __torovCodeCacheFd?: number }).__torovCodeCacheFd = fs.openSync(opts['code-cache-out'], 'w', 0o644); }
    catch (e) { throw new UsageError(`--code-cache-out: cannot write ${opts['code-cache-out']}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  }
  // torov snapshot: the file is opened now (the jail hides the host's files), written at the capture point.
  let snapOut: { fd: number; memfd: number } | undefined;
  if (snapshot) {
    let fd: number;
    try { fd = fs.openSync(snapshot.out, 'w', 0o644); } catch (e) { throw new UsageError(`snapshot: cannot write ${snapshot.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
    snapOut = { fd, memfd: (require('../vmm/snapshot') as typeof import('../vmm/snapshot')).snapshotMemfd() };
  }
  else if (opts['trace']) traceFd = 2;

  const { Machine, kvmHandle } = require('../vmm/machine') as typeof import('../vmm/machine');
  // Under torov-oci (src/oci): its FIFOs, opened while the host's files are in view.
  const ociSync = require('../oci/sync') as typeof import('../oci/sync');
  const oci = typeof opts['oci-sync'] === 'string' ? ociSync.openOciSync(opts['oci-sync']) : undefined;
  if (sandbox) {
    // Everything the VMM needs from the host is opened or loaded before the host's files
    // disappear: /dev/kvm, the program (read above), the trace file, every module.
    kvmHandle();
    require('../syscalls/handlers');
    // The VMM's own /proc stays reachable to torov (not to the guest) through a dirfd.
    (require('../syscalls/fs') as typeof import('../syscalls/fs')).useProcDir(fs.openSync('/proc', fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | O_PATH));
    if (traceFd !== undefined) require('../syscalls/trace');
    if (snapshot) require('../vmm/snapshot-file');
    // Loaded now: the filter is installed after the jail, when no module file can be read.
    require('../sandbox/seccomp');
    // The vCPU thread loads koffi from the host's files and makes syscalls the filter does not allow while it starts.
    if (vcpuThread && !vcpuThread.waitReady(10_000)) throw new Error('the channel\'s vCPU thread did not start');
    // One bin/torov.js started for nothing (it guessed from the command line alone) must
    // be past its start too, then it idles: else it would load koffi inside the jail,
    // under the seccomp filter, which kills the VMM for the files it opens.
    const early = (globalThis as { __torovEarlyWorker?: { ctl: Int32Array } }).__torovEarlyWorker;
    if (!vcpuThread && early) {
      const { READY } = require('../vmm/vcpu-thread') as typeof import('../vmm/vcpu-thread');
      for (let waited = 0; Atomics.load(early.ctl, READY) === 0 && waited < 10_000; waited += 10) Atomics.wait(early.ctl, READY, 0, 10);
    }
    const { enterJail } = require('../sandbox/jail') as typeof import('../sandbox/jail');
    const priv = require('../sandbox/privileges') as typeof import('../sandbox/privileges');
    // Who the VMM is on the host's files: see privileges.ts, runIdentity().
    const id = spec!.idmap === 'self' ? undefined : priv.runIdentity({ user, volumes, root: sb.root, writable: sb.writable });
    marks.push(['VMM ready for the jail', nowMs()]);
    (globalThis as { __torovJailed?: boolean }).__torovJailed = true;    // bin/torov.js: no code cache written from here
    enterJail({ root: sb.root, writable: sb.writable, tmp: sb.tmp !== undefined && sb.tmp !== false, shmSize: shm, volumes, network,
      ...(typeof opts['workdir'] === 'string' ? { workdir: opts['workdir'] } : {}) });
    const ids = priv.dropPrivileges({ ...(id ? { uid: id.uid, gid: id.gid } : {}), idmap: spec!.idmap, alive: launcherAlive });
    // No core dump of the VMM's large mappings if the seccomp filter kills it.
    const { pids: _pids, ...rlimits } = sb.rlimits ?? {};
    void _pids;
    settleCgroups();
    priv.applyLimits({ ...rlimits, core: 0, ...(cg === undefined || cg.missing.has('pids') ? { processes: limits.pids } : {}) });
    marks.push(['jail and privileges', nowMs()]);
    if (opts['verbose']) {
      say(`torov: sandbox: uid=${ids.uid} gid=${ids.gid}${id ? ` (${id.why})` : ''} capabilities=0x${priv.effectiveCaps().toString(16)} no_new_privs=1 network=${network} root=${sb.root ?? '(minimal)'}`);
    }
  }
  settleCgroups();
  let m: InstanceType<typeof Machine>;
  let taken: import('../vmm/snapshot').Snapshot | undefined;
  /**
   * Last: the VMM's own seccomp filter, on every thread. From here the VMM can make only
   * the host syscalls its runtime needs and those behind the guest syscalls the policy
   * allows (torov policy show --seccomp prints them); anything else kills it.
   */
  const enableFilter = (forServe: boolean) => {
    const { enableSeccomp } = require('../sandbox/seccomp') as typeof import('../sandbox/seccomp');
    const filter = enableSeccomp(policy, { gdb: gdb !== undefined, serve: forServe, serveWorker: forServe && serve?.worker === true, pid: process.pid });
    // Without guest threads in the policy the filter forbids new host threads too: the VMM
    // must not try to start one (the early thread, if any, is all it gets).
    if (!filter.rules.some((r) => r.syscall === 'clone' && r.errno === undefined)) {
      (require('../vmm/channel') as typeof import('../vmm/channel')).HostThread.forbidNew();
    }
  };
  const learner = learning ? new learning.Learner() : undefined;
  try {
    const root = sb.root !== undefined ? `the guest's root ${sb.root}` : sandbox ? 'the guest\'s minimal root (no --rootfs; try --rootfs /)' : 'the host\'s root (--no-sandbox)';
    const machineCfg: import('../vmm/machine').MachineConfig = { path: prog.guestPath, image, argv: [file, ...args], env, memory, policy, traceFd, verbose: !!opts['verbose'], log: say,
      personality, vdso: !opts['no-vdso'], syscallPath, rewrite: !opts['no-rewrite'], spawnThread: true, loader: { fd: prog.fd, root },
      ...(cpus !== undefined ? { cpus } : {}), ...(threads !== undefined ? { threads } : {}),
      // Each guest thread of every process has a host thread: the run's pid limit minus torov's own.
      tasks: limits.pids - cgroups.VMM_TASKS / 2,
      ...(sb.rlimits?.openFiles !== undefined ? { openFiles: sb.rlimits.openFiles } : {}),
      // Standard fds the user closed stay closed for the guest (EBADF, as natively).
      ...(spec?.closedStdio ? { stdio: [0, 1, 2].map((fd) => (spec.closedStdio & (1 << fd) ? -1 : fd)) as [number, number, number] } : {}),
      ...(startAddr !== undefined ? { entry: startAddr } : {}), ...(learner ? { learner } : {}),
      ...(restored ? { restore: restored.snapshot } : {}),
      ...(snapshot && snapOut ? { capture: { at: snapshot.at, memfd: snapOut.memfd, done: (s: import('../vmm/snapshot').Snapshot) => { taken = s; } } } : {}) };
    if (serve && serving) {
      if (sandbox) enableFilter(true);
      if (cgroupNote !== undefined) say(cgroupNote);
      return (require('../serve/start') as typeof import('../serve/start')).startServing(machineCfg, serve, serving, { sandbox, tmp: sb.tmp !== undefined && sb.tmp !== false, listenFd: spec?.gdbFd ?? -1 });
    }
    m = new Machine(machineCfg);
  } catch (e) {
    if ((e as Error).name === 'ElfError') (e as Error).message = `${file}: ${(e as Error).message}`;
    throw e;
  }
  gdb?.attach(m, say);
  if (sandbox) enableFilter(snapshot !== undefined);      // a snapshot's capture needs the serve group's memory-file calls
  if (cgroupNote !== undefined) say(cgroupNote);
  // Forwarded signals now reach the run loop.
  tellLauncher('ready');
  if (opts['verbose']) say(startupNote(marks));
  // torov-oci create: the VM exists; its program starts at torov-oci start.
  if (oci !== undefined) ociSync.waitForStart(oci);
  try {
    const status = m.run();
    if (snapshot && snapOut) return writeSnapshot(snapshot, snapOut.fd, taken, status, memory, file, torovVersion);
    return status;
  } finally {
    m.close();
    if (traceFd !== undefined && traceFd !== 2) fs.closeSync(traceFd);
    if (learner && learn) {
      const stopped = m.stop.requested;
      const l = learner.policy(learnOptions(stopped));
      if (stopped) l.notes.unshift('the run was stopped (--timeout or a signal) before the program ended: the policy covers what it did until then');
      writeLearned(learn, l);
    }
  }
}

/** Reads and checks a snapshot file for torov run --restore (one line and status 125 if it is refused). */
function loadSnapshotFile(name: string, torovVersion: string): import('../vmm/snapshot-file').SnapshotFileInfo {
  const { readSnapshotFile, cpuIdentity } = require('../vmm/snapshot-file') as typeof import('../vmm/snapshot-file');
  const { kvmHandle } = require('../vmm/machine') as typeof import('../vmm/machine');
  const { cpuFeatures } = require('../machine/x86') as typeof import('../machine/x86');
  let bytes: Buffer;
  try {
    if (!fs.statSync(name).isFile()) throw new UsageError(`run: --restore ${name}: not a regular file`);
    bytes = fs.readFileSync(name);
  } catch (e) {
    if ((e as Error).name === 'UsageError') throw e;
    throw new UsageError(`run: --restore ${name}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return readSnapshotFile(name, bytes, { torov: torovVersion, cpu: cpuIdentity(cpuFeatures(kvmHandle())) });
}

/** torov snapshot: writes the snapshot taken at the capture point, or says why there is none. */
function writeSnapshot(req: { at: 'stdin' | 'accept'; out: string }, fd: number, s: import('../vmm/snapshot').Snapshot | undefined, status: number, memory: number, file: string,
  torovVersion: string): number {
  const where = req.at === 'stdin' ? 'its first read of stdin' : 'its first accept';
  if (!s) {
    fs.closeSync(fd);
    say(`torov: snapshot: ${printable(file)} ended (status ${status}) before ${where}: nothing written (${req.out} is left empty)`);
    return 125;
  }
  const { writeSnapshotFile, cpuIdentity } = require('../vmm/snapshot-file') as typeof import('../vmm/snapshot-file');
  const { kvmHandle } = require('../vmm/machine') as typeof import('../vmm/machine');
  const { cpuFeatures } = require('../machine/x86') as typeof import('../machine/x86');
  writeSnapshotFile(fd, s, { torov: torovVersion, cpu: cpuIdentity(cpuFeatures(kvmHandle())), memory });
  fs.closeSync(fd);
  say(`torov: snapshot: wrote ${req.out}: ${printable(file)} at ${where}, ${(s.bytes / 1024).toFixed(0)} KiB of guest memory`);
  return 0;
}

/** The largest program read before this process is in the run's cgroup (see readProgram). */
const READ_BEFORE_CGROUP = 16 * 1024 * 1024;

/**
 * --verbose: where the start-up went, in ms since the process started (Node's own
 * bootstrap, then each of torov's steps), as `npm run bench` reports it.
 */
function startupNote(marks: Array<[string, number]>): string {
  marks.push(['VM built', nowMs()]);
  // The marks are nowMs(); Node's bootstrap is on the performance timeline (loaded only here).
  const shift = performance.now() - nowMs();
  for (const m of marks) m[1] += shift;
  let last = performance.nodeTiming.bootstrapComplete;
  const parts = [`Node ${last.toFixed(1)}`];
  for (const [what, t] of marks) { parts.push(`${what} +${(t - last).toFixed(1)}`); last = t; }
  return `torov: start-up (ms): ${parts.join(', ')}; guest starts at ${last.toFixed(1)}`;
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
 * Writes a learned policy: its notes on stderr, then the file. Under the launcher, the
 * launcher writes the file (outside the sandbox, with the user's rights: the jail has no
 * view of the output path, and the VMM may run as another user), then prints the summary.
 */
function writeLearned(learn: LearnRequest, l: import('../policy/learn').LearnedPolicy): void {
  const learning = require('../policy/learn') as typeof import('../policy/learn');
  // Notes quote paths the guest chose: control characters are shown, never sent to the terminal.
  for (const n of l.notes) say(`torov: policy learn: note: ${n.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`);
  const text = learning.formatPolicy(l.doc);
  const summary = `torov: policy learn: wrote ${learn.out}: ${l.syscalls} syscalls, ${l.argRules} argument rules; run it with: torov run --policy ${learn.out} ...`;
  if (launcher() !== undefined) { sendLearned(text, summary); return; }
  try { fs.writeFileSync(learn.out, text); }
  catch (e) { throw new UsageError(`policy learn: cannot write ${learn.out}: ${(e as Error).message}`); }
  say(summary);
}

/** The address `--gdb SPEC` listens on, as the launcher needs it (family, raw address, port). */
function gdbSocketAddress(spec: string): { family: 4 | 6; address: Buffer; port: number } {
  const { parseListenAddress } = require('../gdb/socket') as typeof import('../gdb/socket');
  let a: import('../gdb/socket').ListenAddress;
  try { a = parseListenAddress(spec); } catch (e) { throw new UsageError(`--gdb: ${(e as Error).message}`); }
  return { family: a.family, address: a.family === 4 ? Buffer.from(a.host.split('.').map(Number)) : ipv6Bytes(a.host), port: a.port };
}

/** The 16 bytes of an IPv6 address (already checked by parseListenAddress). */
function ipv6Bytes(s: string): Buffer {
  const [head = '', tail] = s.split('::');
  const h = head ? head.split(':') : [], t = tail ? tail.split(':') : [];
  const words = [...h, ...Array<string>(tail === undefined ? 0 : 8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(parseInt(w, 16), i * 2));
  return b;
}

function errnoText(e: number): string {
  return e === 98 ? 'address already in use' : e === 99 ? 'address not available' : e === 13 ? 'permission denied' : `errno ${e}`;
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
 * --volume checks that need the host: the host's / needs --allow-host-root, and in a root
 * that is writable as a whole (the guest's / is the user's directory) the guest path must
 * resolve inside that root, as the guest would resolve it.
 */
function checkVolumes(volumes: readonly VolumeSpec[], sb: import('../policy/sandbox-settings').SandboxSettings, allowHostRoot: boolean): void {
  const { resolveInRoot, ALLOW_HOST_ROOT } = require('../policy/validate') as typeof import('../policy/validate');
  for (const v of volumes) {
    let real: string;
    try { real = fs.realpathSync(v.host); } catch { continue; }    // the jail reports a missing volume
    if (real === '/' && !allowHostRoot) throw new UsageError(`--volume ${v.host}:${v.guest}: the host's / as a volume gives the guest every host file: add ${ALLOW_HOST_ROOT} to mean it`);
    if (sb.root !== undefined && sb.writable === true) {
      try { resolveInRoot(fs.realpathSync(sb.root), v.guest); }
      catch (e) { throw new UsageError(`--volume ${v.host}:${v.guest}: ${(e as Error).message} (torov does not create it in your directory)`); }
    }
  }
}

/** CLOCK_MONOTONIC in milliseconds (the launcher's clock for --timeout). */
function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/**
 * Opens the program (kept open: the VMM maps its segments from the fd after the jail) and
 * names it as the guest will see it (AT_EXECFN, /proc/self/exe). With --rootfs it is found
 * inside the root (src/sandbox/jail.ts); otherwise on the host, and its guest path is its
 * host path as a volume or the policy's root shows it, or the host path itself.
 */
function openProgram(file: string, rootfs: string | undefined, volumes: readonly import('../sandbox/jail').Volume[], workdir: string | undefined,
  env: readonly string[], policyRoot: string | undefined): { fd: number; guestPath: string; inGuest: boolean } {
  const jail = require('../sandbox/jail') as typeof import('../sandbox/jail');
  if (rootfs !== undefined) {
    const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/bin:/usr/bin:/bin';
    const cwd = jail.guestCwdCandidates({ ...(workdir !== undefined ? { workdir } : {}), volumes, root: rootfs }, process.cwd())[0]!;
    try { return { ...jail.openInRoot(file, { root: rootfs, volumes, cwd, pathVar }), inGuest: true }; }
    catch (e) { throw Object.assign(new UsageError((e as Error).message), { status: (e as { status?: number }).status ?? 126 }); }
  }
  const resolved = path.resolve(resolveProgram(file));
  checkInputPath(resolved, MAX_PROGRAM_BYTES);          // a FIFO or a device is refused before any open
  const fd = fs.openSync(resolved, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const inGuest = jail.guestPathOfHost(resolved, volumes, policyRoot);
  return { fd, guestPath: inGuest ?? resolved, inGuest: inGuest !== undefined };
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
