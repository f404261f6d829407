/**
 * What `create` prepares from a bundle before its VM starts: the run's policy file, and,
 * when torov-oci's native front end (src/launcher/oci-front.c) created the container, the
 * whole of create's work, done by the VMM itself (prepareCreate).
 *
 * Why the VMM. A Node.js start costs 50-60 ms here. The JavaScript runtime's `create`
 * (src/oci/main.ts) is one Node process that reads the config and then starts `torov run`,
 * a second one: two starts in a row for every container. For a plain container (no hooks,
 * no terminal), the front end instead starts `torov run --oci-sync DIR` at once, with
 * DIR/create naming the bundle (and in the network namespace the config names by path, if
 * any); the VMM reads the config, checks the program, writes the policy and the
 * container's record, then goes on as if torov-oci had given it the command line.
 * Anything else (a config this does not take, an error) is handed back: the VMM says
 * `handover` on the ready FIFO, prints nothing, and ends; the front end removes what it
 * made and runs the JavaScript `create`, which does it all again and reports as it always
 * does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OciError, readConfig, readConfigDoc, planRun, torovRunArgs, sandboxFields, makeMountPoints, type RunPlan } from './config';
import { writeState, procStat, same, OCI_VERSION, type Stored } from './state';

/**
 * The run's policy, in torov's format, written to the container's directory: the policy
 * the dev.torov.policy annotation names, else linux.seccomp through torov's Docker/OCI
 * profile import, else torov's default; with the sandbox fields config.json sets (a
 * writable root unless root.readonly, a /tmp tmpfs, rlimits). Checked as `torov run`
 * checks it, so that a bad policy fails here, in the log.
 */
export function writePolicy(plan: RunPlan, dir: string, debug: (msg: string) => void): string {
  const pol = require('../policy') as typeof import('../policy');
  let policy = pol.defaultPolicy();
  let from = 'torov\'s default policy';
  const use = (file: string, what: string): void => {
    const loaded = pol.loadPolicyFile(file);
    if (loaded.kind === 'torov-config') throw new OciError(`${what}: a ToroV configuration names its own program: give a torov policy or a seccomp profile`);
    for (const w of loaded.warnings) debug(`${what}: ${w}`);
    if (loaded.kind === 'docker') for (const w of loaded.approximations) debug(`${what}: ${w}`);
    policy = loaded.policy;
    from = what;
  };
  if (plan.policyFile !== undefined) use(plan.policyFile, `the policy ${plan.policyFile}`);
  else if (plan.seccomp !== undefined) {
    const f = path.join(dir, 'seccomp.json');
    fs.writeFileSync(f, JSON.stringify(plan.seccomp), { mode: 0o600 });
    use(f, 'linux.seccomp');
  }
  const { doc } = pol.toTorovDocument(policy);
  const { root: _r, network: _n, newPid: _p, ...rest } = doc as Record<string, unknown>;
  void _r; void _n; void _p;
  const restRl = (rest['rlimits'] ?? {}) as Record<string, unknown>;
  const sb = sandboxFields(plan);
  const out = { description: `torov-oci: ${from}`, ...rest, ...sb, ...(sb['rlimits'] || rest['rlimits'] ? { rlimits: { ...restRl, ...(sb['rlimits'] as object ?? {}) } } : {}) };
  const file = path.join(dir, 'policy.json');
  fs.writeFileSync(file, JSON.stringify(out, null, 1), { mode: 0o644 });
  const loaded = pol.loadPolicyFile(file);
  pol.validateForRun(loaded, {});
  debug(`policy: ${from}`);
  return file;
}

/** The guest's memory as `torov run` sizes it: the config's limit (rounded as torovRunArgs passes it), else the policy's, else torov's default. */
export function guestMemoryOf(plan: RunPlan, policyFile: string): number {
  const { DEFAULT_MEMORY, MIN_MEMORY } = require('../machine/layout') as typeof import('../machine/layout');
  const step = 2 ** 21;
  let m = plan.memory !== undefined ? Math.max(MIN_MEMORY, Math.floor(plan.memory / step) * step) : undefined;
  if (m === undefined) {
    const loaded = (require('../policy') as typeof import('../policy')).loadPolicyFile(policyFile);
    m = loaded.kind === 'torov' ? loaded.policy.memory : undefined;
  }
  return Math.ceil((m ?? DEFAULT_MEMORY) / step) * step;
}

/**
 * The `torov run` arguments (from `run`) of a plan under torov-oci: its program, policy
 * and sandbox, with `--oci-sync DIR`; and DIR/hostname, the guest's host name the VMM
 * reads there (src/oci/sync.ts). For the JavaScript runtime and the VMM's own preparation.
 */
export function ociRunArgs(plan: RunPlan, dir: string, policyFile: string, words: string[]): string[] {
  if (plan.hostname !== undefined) fs.writeFileSync(path.join(dir, 'hostname'), plan.hostname, { mode: 0o644 });
  const argv = torovRunArgs(plan, policyFile, { args: words });
  argv.splice(1, 0, '--oci-sync', dir);
  return argv;
}

/**
 * The VMM's side of a create by the native front end (see above): from DIR/create, the
 * bundle's path, to the `torov run` arguments the JavaScript runtime would have given
 * (after `run`), with the container's record written. Throws OciError (handed back) for
 * what the JavaScript runtime must do itself. `net`: whether the launcher made this run a
 * network namespace of its own.
 */
export function prepareCreate(dir: string, launcherPid: number, net: boolean): string[] {
  // The front end's request: the bundle, and the network it gave the launcher (its own
  // namespace, the host's, or one it joined by the config's path).
  const [bundleLine, netLine] = fs.readFileSync(path.join(dir, 'create'), 'utf8').split('\n');
  const bundle = path.resolve(bundleLine!);
  const plan = readConfig(bundle);
  if (Object.values(plan.hooks).some((h) => h !== undefined && h.length > 0)) throw new OciError('hooks');
  if (plan.terminal) throw new OciError('a terminal');
  const want = plan.network.mode === 'none' ? 'own' : plan.network.mode;
  if (netLine !== `network ${want}` || (want === 'own') !== net) throw new OciError('another network');
  // A namespace given by path: the front end joined it before the launcher started (which then made none).
  if (plan.network.mode === 'join' && !inNetns(plan.network.path)) throw new OciError('another network namespace');
  const { checkEntry } = require('./entry') as typeof import('./entry');
  const words = checkEntry(plan);
  makeMountPoints(plan);
  const policyFile = writePolicy(plan, dir, () => {});
  const argv = ociRunArgs(plan, dir, policyFile, words);
  // Before the jail, /proc is still the host's: the launcher's start time, and this process's host pid.
  const st = procStat(launcherPid);
  if (st === undefined) throw new OciError('the launcher is gone');
  writeState(dir, { ociVersion: OCI_VERSION, id: path.basename(dir), pid: launcherPid, pidStart: st.start, bundle, rootfs: plan.root,
    created: new Date().toISOString(), started: false, annotations: plan.annotations, vmmPid: Number(fs.readlinkSync('/proc/self')),
    hooks: {}, guestMemory: guestMemoryOf(plan, policyFile) });
  return argv.slice(1);
}

/** True when this process is in the network namespace `file` names. */
function inNetns(file: string): boolean {
  const want = fs.statSync(file), have = fs.statSync('/proc/self/ns/net');
  return want.dev === have.dev && want.ino === have.ino;
}

/**
 * The VMM's side of an exec by the native front end (`exec --process FILE --detach
 * --pid-file F ID` of a plain container, what containerd's shim runs): DIR is the exec's
 * directory in the container's (ROOT/ID/exec-XXXXXX) and DIR/exec names the process file;
 * the front end joined the container VMM's network namespace. As `torov-oci exec`
 * (src/oci/main.ts) builds it: the `torov run` arguments, with the policy, the host name
 * and exec.json (the launcher, for kill --all and delete) written. Throws OciError (handed
 * back) for what the JavaScript runtime must do itself.
 */
export function prepareExec(dir: string, launcherPid: number, net: boolean): string[] {
  const cdir = path.dirname(dir);
  if (!/^exec-[A-Za-z0-9]+$/.test(path.basename(dir)) || !fs.existsSync(path.join(cdir, 'fast'))) throw new OciError('not a plain container');
  const s = JSON.parse(fs.readFileSync(path.join(cdir, 'state.json'), 'utf8')) as Stored;
  if (!same(s.pid, s.pidStart)) throw new OciError('the container is stopped');
  // (The front end joined the VMM's namespace, having checked that the VMM is the container's.
  // From this user namespace, another process's /proc/PID/ns cannot be looked at.)
  if (net) throw new OciError('another network namespace');
  const file = fs.readFileSync(path.join(dir, 'exec'), 'utf8');
  const ex = require('./exec') as typeof import('./exec');
  const proc = ex.parseProcessJson(ex.readProcessFile(file), file);
  const doc = readConfigDoc(s.bundle);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new OciError('config.json');
  const plan = planRun(ex.execConfig(doc as Record<string, unknown>, proc), s.bundle);
  if (plan.terminal) throw new OciError('a terminal');
  plan.network = { mode: 'join', path: `/proc/${s.vmmPid}/ns/net` };
  const { checkEntry } = require('./entry') as typeof import('./entry');
  const words = checkEntry(plan);
  const argv = ociRunArgs(plan, dir, writePolicy(plan, dir, () => {}), words);
  const lst = procStat(launcherPid);
  if (lst === undefined) throw new OciError('the launcher is gone');
  fs.writeFileSync(path.join(dir, 'exec.json'), JSON.stringify({ pid: launcherPid, pidStart: lst.start }), { mode: 0o600 });
  return argv.slice(1);
}
