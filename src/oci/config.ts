/**
 * A bundle's config.json (the OCI runtime spec) translated into a `torov run`: what
 * torov-oci (src/oci/main.ts) starts as the container process. Everything is checked here,
 * before anything is created, so that a bad or hostile config fails `create` with one line
 * in the runtime's log: paths that leave the bundle, absurd limits, unknown namespaces, a
 * missing root. What torov cannot honour is refused; what it provides in its own way (the
 * guest's /proc, /dev, /sys, capabilities, cgroup paths) is listed in `notes` and ignored.
 * docs/oci.md says which is which.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A config.json that torov cannot run as asked: one line, for the runtime's log. */
export class OciError extends Error {
  override name = 'OciError';
}

/** How the guest reaches the network. */
export type NetworkPlan = { mode: 'none' } | { mode: 'host' } | { mode: 'join'; path: string };

/** What `torov run` is asked to do for a container. */
export interface RunPlan {
  /** The guest's root (absolute, real path). */
  root: string;
  readonly: boolean;
  /** process.args: the program (found in the root) and its arguments. */
  args: string[];
  env: string[];
  cwd: string;
  user?: { uid: number; gid: number };
  terminal: boolean;
  /** process.consoleSize, for the terminal. */
  consoleSize?: { width: number; height: number };
  volumes: Array<{ host: string; guest: string; readOnly: boolean }>;
  network: NetworkPlan;
  /** Guest memory in bytes (linux.resources.memory.limit), undefined: torov's default. */
  memory?: number;
  /** linux.resources.pids.limit. */
  pids?: number;
  rlimits: { openFiles?: number; fileSize?: number; cpuSeconds?: number };
  /** A tmpfs at /tmp: its size in bytes, or true for the default size. */
  tmp?: true | number;
  /** The policy file named by the dev.torov.policy annotation (absolute). */
  policyFile?: string;
  /** linux.seccomp, as given: read by torov's Docker/OCI profile import. */
  seccomp?: unknown;
  annotations: Record<string, string>;
  /** The guest's host name (uname's nodename), when the config gives one. */
  hostname?: string;
  /** The hooks the runtime runs, by kind. */
  hooks: Partial<Record<HookKind, Hook[]>>;
  /** What is ignored, one line each (logged at create). */
  notes: string[];
}

/** The kinds of hooks torov-oci runs (on the host, as the spec says of these). */
export const HOOK_KINDS = ['prestart', 'createRuntime', 'poststart', 'poststop'] as const;
export type HookKind = typeof HOOK_KINDS[number];
/** One hook: a program, its argv (argv[0] included), environment and time limit in seconds. */
export interface Hook { path: string; args: string[]; env: string[]; timeout?: number }

/** The annotation that names a torov policy file (absolute, or relative to the bundle). */
export const POLICY_ANNOTATION = 'dev.torov.policy';

/** Limits on a config.json: it is input from whoever writes the bundle. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const MAX_LIST = 65536;
/** torov's guest memory range (src/machine/layout.ts: MIN_MEMORY, MAX_MEMORY). */
const MIN_MEMORY = 16 * 2 ** 20, MAX_MEMORY = 32 * 2 ** 30;
/** torov's own threads count against a pids limit (src/sandbox/cgroup.ts: VMM_TASKS / 2). */
const TOROV_TASKS = 32;
const MAX_PIDS = 4194304;

const NAMESPACES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];
/** Mount destinations torov provides itself (its /proc, /dev, /sys, /run): ignored. */
const OWN_MOUNTS = ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/run'];
/** rlimits torov maps; others are noted and ignored. */
const RLIMITS: Record<string, 'openFiles' | 'fileSize' | 'cpuSeconds'> = { RLIMIT_NOFILE: 'openFiles', RLIMIT_FSIZE: 'fileSize', RLIMIT_CPU: 'cpuSeconds' };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON value shown in an error: short, on one line. */
function show(v: unknown): string {
  let s: string;
  try { s = JSON.stringify(v) ?? String(v); } catch { s = String(v); }
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function str(v: unknown, at: string, opt = false): string | undefined {
  if (v === undefined && opt) return undefined;
  if (typeof v !== 'string') throw new OciError(`config.json: ${at} must be a string (got ${show(v)})`);
  if (v.includes('\0')) throw new OciError(`config.json: ${at} must not contain a NUL byte`);
  return v;
}

function list(v: unknown, at: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new OciError(`config.json: ${at} must be a list (got ${show(v)})`);
  if (v.length > MAX_LIST) throw new OciError(`config.json: ${at} has ${v.length} entries (at most ${MAX_LIST})`);
  return v;
}

function obj(v: unknown, at: string): Obj {
  if (v === undefined) return {};
  if (!isObj(v)) throw new OciError(`config.json: ${at} must be an object (got ${show(v)})`);
  return v;
}

/** A whole number in [min, max], or undefined when absent. */
function int(v: unknown, at: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new OciError(`config.json: ${at} must be a whole number (got ${show(v)})`);
  if (v < min || v > max) throw new OciError(`config.json: ${at} is ${v}: it must be from ${min} to ${max}`);
  return v;
}

/** A guest path: absolute, without "..", normalized. */
function guestPath(v: unknown, at: string): string {
  const p = str(v, at)!;
  if (!p.startsWith('/')) throw new OciError(`config.json: ${at} must be an absolute path in the container (got ${show(p)})`);
  if (p.split('/').includes('..')) throw new OciError(`config.json: ${at} must not contain ".." (got ${show(p)})`);
  return path.posix.normalize(p).replace(/(.)\/+$/, '$1');
}

/**
 * A host path the config names: absolute as it is, else relative to the bundle and then it
 * must stay inside the bundle (after symbolic links). It must exist.
 */
function hostPath(v: unknown, at: string, bundle: string): string {
  const p = str(v, at)!;
  if (p === '') throw new OciError(`config.json: ${at} is empty`);
  const abs = path.isAbsolute(p) ? p : path.resolve(bundle, p);
  let real: string;
  try { real = fs.realpathSync(abs); } catch { throw new OciError(`config.json: ${at}: ${p} does not exist`); }
  if (!path.isAbsolute(p)) {
    const b = fs.realpathSync(bundle);
    if (real !== b && !real.startsWith(b.endsWith('/') ? b : b + '/')) throw new OciError(`config.json: ${at}: ${p} leaves the bundle ${bundle}`);
  }
  return real;
}

/** Reads and parses BUNDLE/config.json (bounded), then plans the run. */
export function readConfig(bundle: string): RunPlan {
  return planRun(readConfigDoc(bundle), bundle);
}

/** Reads and parses BUNDLE/config.json (bounded): the document, unchecked. */
export function readConfigDoc(bundle: string): unknown {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new OciError(`${file} is not a regular file`);
    if (st.size > MAX_CONFIG_BYTES) throw new OciError(`${file} is ${st.size} bytes (at most ${MAX_CONFIG_BYTES})`);
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof OciError) throw e;
    throw new OciError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try { return JSON.parse(text); } catch (e) { throw new OciError(`${file}: not valid JSON (${(e as Error).message})`); }
}

/** Plans the run of a parsed config.json whose bundle is `bundle`. Throws OciError. */
export function planRun(doc: unknown, bundle: string): RunPlan {
  if (!isObj(doc)) throw new OciError(`config.json: the top level must be an object (got ${show(doc)})`);
  const notes: string[] = [];
  const ver = str(doc['ociVersion'], 'ociVersion')!;
  if (!/^1\.\d+\.\d+/.test(ver)) throw new OciError(`config.json: ociVersion ${show(ver)} is not a 1.x version of the runtime spec`);

  // root
  const rootObj = doc['root'];
  if (!isObj(rootObj)) throw new OciError('config.json: root is missing (the container\'s root file system)');
  const root = hostPath(rootObj['path'], 'root.path', bundle);
  if (!fs.statSync(root).isDirectory()) throw new OciError(`config.json: root.path ${root} is not a directory`);
  if (root === '/') throw new OciError('config.json: root.path is the host\'s / (every host file): refused');
  const ro = rootObj['readonly'];
  if (ro !== undefined && typeof ro !== 'boolean') throw new OciError(`config.json: root.readonly must be true or false (got ${show(ro)})`);

  // process
  const proc = doc['process'];
  if (!isObj(proc)) throw new OciError('config.json: process is missing (torov-oci runs a process; it has no "create without process")');
  const args = list(proc['args'], 'process.args').map((a, i) => str(a, `process.args[${i}]`)!);
  if (args.length === 0 || args[0] === '') throw new OciError('config.json: process.args is empty: there is no program to run');
  const env = list(proc['env'], 'process.env').map((e, i) => {
    const s = str(e, `process.env[${i}]`)!;
    if (s.indexOf('=') <= 0) throw new OciError(`config.json: process.env[${i}] must be NAME=VALUE (got ${show(s)})`);
    return s;
  });
  const cwd = guestPath(proc['cwd'] ?? '/', 'process.cwd');
  const terminal = proc['terminal'];
  if (terminal !== undefined && typeof terminal !== 'boolean') throw new OciError(`config.json: process.terminal must be true or false (got ${show(terminal)})`);
  let consoleSize: RunPlan['consoleSize'];
  if (proc['consoleSize'] !== undefined) {
    const c = obj(proc['consoleSize'], 'process.consoleSize');
    consoleSize = { width: int(c['width'], 'process.consoleSize.width', 0, 65535) ?? 80, height: int(c['height'], 'process.consoleSize.height', 0, 65535) ?? 24 };
  }
  let user: RunPlan['user'];
  if (proc['user'] !== undefined) {
    const u = obj(proc['user'], 'process.user');
    const uid = int(u['uid'], 'process.user.uid', 0, 2 ** 32 - 2) ?? 0, gid = int(u['gid'], 'process.user.gid', 0, 2 ** 32 - 2) ?? 0;
    if (uid !== 0 || gid !== 0) user = { uid, gid };
    if (list(u['additionalGids'], 'process.user.additionalGids').some((g) => g !== gid)) notes.push('process.user.additionalGids: ignored (the guest acts with its uid and gid)');
    if (u['umask'] !== undefined) notes.push('process.user.umask: ignored');
  }
  const rlimits: RunPlan['rlimits'] = {};
  list(proc['rlimits'], 'process.rlimits').forEach((r, i) => {
    const o = obj(r, `process.rlimits[${i}]`);
    const type = str(o['type'], `process.rlimits[${i}].type`)!;
    if (!/^RLIMIT_[A-Z]+$/.test(type)) throw new OciError(`config.json: process.rlimits[${i}].type ${show(type)} is not an RLIMIT_ name`);
    const soft = int(o['soft'], `process.rlimits[${i}].soft`, 0, Number.MAX_SAFE_INTEGER);
    const hard = int(o['hard'], `process.rlimits[${i}].hard`, 0, Number.MAX_SAFE_INTEGER);
    if (soft !== undefined && hard !== undefined && soft > hard) throw new OciError(`config.json: process.rlimits[${i}] (${type}): soft ${soft} is above hard ${hard}`);
    const key = RLIMITS[type];
    const v = soft ?? hard;
    if (key === undefined || v === undefined) { notes.push(`process.rlimits ${type}: ignored (torov applies RLIMIT_NOFILE, RLIMIT_FSIZE and RLIMIT_CPU)`); return; }
    const range = key === 'openFiles' ? [3, 1048576] : key === 'cpuSeconds' ? [1, 2 ** 31 - 1] : [1, 2 ** 53 - 1];
    if (v < range[0]! || v > range[1]!) {
      if (v > range[1]!) { notes.push(`process.rlimits ${type}: ${v} is above what torov sets (${range[1]}): no limit`); return; }
      throw new OciError(`config.json: process.rlimits ${type} is ${v}: torov needs at least ${range[0]}`);
    }
    rlimits[key] = v;
  });
  if (proc['noNewPrivileges'] === false) notes.push('process.noNewPrivileges false: torov always sets no_new_privs on its VMM');
  for (const k of ['capabilities', 'apparmorProfile', 'selinuxLabel', 'oomScoreAdj', 'consoleSize', 'ioPriority', 'scheduler']) {
    if (proc[k] !== undefined && !(k === 'consoleSize' && terminal)) notes.push(`process.${k}: ignored (the guest runs in a VM: ${k === 'capabilities' ? 'it has no host capabilities' : 'the host process is torov\'s'})`);
  }

  // hooks: those the runtime runs on the host (src/oci/main.ts: runHooks); the two the spec
  // runs inside the container's namespaces have no meaning for a VM and are refused.
  const hooks: RunPlan['hooks'] = {};
  for (const [kind, v] of Object.entries(obj(doc['hooks'], 'hooks'))) {
    const entries = list(v, `hooks.${kind}`);
    if (entries.length === 0) continue;
    if (kind === 'createContainer' || kind === 'startContainer') throw new OciError(`config.json: hooks.${kind} run inside the container's namespaces, which a torov VM does not have: not supported`);
    if (!(HOOK_KINDS as readonly string[]).includes(kind)) throw new OciError(`config.json: hooks.${kind}: unknown kind of hook (known: ${HOOK_KINDS.join(', ')})`);
    hooks[kind as HookKind] = entries.map((e, i) => {
      const at = `hooks.${kind}[${i}]`;
      const o = obj(e, at);
      const p = str(o['path'], `${at}.path`)!;
      if (!path.isAbsolute(p)) throw new OciError(`config.json: ${at}.path must be absolute (got ${show(p)})`);
      const args = list(o['args'], `${at}.args`).map((x, j) => str(x, `${at}.args[${j}]`)!);
      const env = list(o['env'], `${at}.env`).map((x, j) => str(x, `${at}.env[${j}]`)!);
      const timeout = int(o['timeout'], `${at}.timeout`, 1, 3600);
      return { path: p, args, env, ...(timeout !== undefined ? { timeout } : {}) };
    });
  }

  // mounts
  const volumes: RunPlan['volumes'] = [];
  let tmp: RunPlan['tmp'];
  list(doc['mounts'], 'mounts').forEach((m, i) => {
    const o = obj(m, `mounts[${i}]`);
    const at = `mounts[${i}]`;
    const dest = guestPath(o['destination'], `${at}.destination`);
    const type = str(o['type'], `${at}.type`, true) ?? '';
    const options = list(o['options'], `${at}.options`).map((x, j) => str(x, `${at}.options[${j}]`)!);
    const bind = type === 'bind' || options.includes('bind') || options.includes('rbind');
    if (bind && (dest === '/dev/shm' || dest === '/dev/mqueue' || dest === '/sys/fs/cgroup')) {
      // Podman and Docker bind a per-container /dev/shm: the guest's is torov's own.
      notes.push(`mount ${dest} (bind): torov's own ${dest} serves it`);
      return;
    }
    if (bind) {
      const src = hostPath(o['source'], `${at}.source`, bundle);
      if (src === '/') throw new OciError(`config.json: ${at}: the host's / as a bind mount (every host file): refused`);
      if (src.includes(':') || dest.includes(':')) throw new OciError(`config.json: ${at}: torov cannot bind a path with ":" in it (${show(src.includes(':') ? src : dest)})`);
      if (dest === '/') throw new OciError(`config.json: ${at}: a bind mount on / (use root.path)`);
      volumes.push({ host: src, guest: dest, readOnly: options.includes('ro') });
      return;
    }
    if (type === 'tmpfs' && dest === '/tmp') {
      const size = options.find((x) => x.startsWith('size='));
      tmp = size ? tmpfsSize(size.slice(5), `${at}.options`) : true;
      return;
    }
    if (OWN_MOUNTS.includes(dest) || dest.startsWith('/sys/') || dest.startsWith('/proc/')) {
      notes.push(`mount ${dest} (${type || 'no type'}): torov's own ${dest.split('/')[1]} serves it`);
      return;
    }
    throw new OciError(`config.json: ${at}: torov cannot mount ${type || 'this'} at ${dest} (it mounts bind mounts, a tmpfs at /tmp, and its own /proc, /dev and /sys)`);
  });

  // linux
  const linux = obj(doc['linux'], 'linux');
  let network: NetworkPlan = { mode: 'host' };        // no network namespace: the host's network, as runc
  const seen = new Set<string>();
  list(linux['namespaces'], 'linux.namespaces').forEach((n, i) => {
    const o = obj(n, `linux.namespaces[${i}]`);
    const type = str(o['type'], `linux.namespaces[${i}].type`)!;
    if (!NAMESPACES.includes(type)) throw new OciError(`config.json: linux.namespaces[${i}]: unknown namespace type ${show(type)} (known: ${NAMESPACES.join(', ')})`);
    if (seen.has(type)) throw new OciError(`config.json: linux.namespaces: ${type} is given twice`);
    seen.add(type);
    const p = str(o['path'], `linux.namespaces[${i}].path`, true);
    if (type === 'network') {
      if (p === undefined || p === '') { network = { mode: 'none' }; return; }
      if (!path.isAbsolute(p)) throw new OciError(`config.json: linux.namespaces[${i}].path must be absolute (got ${show(p)})`);
      let st: fs.Stats;
      try { st = fs.statSync(p); } catch { throw new OciError(`config.json: linux.namespaces[${i}]: the network namespace ${p} does not exist`); }
      if (!st.isFile()) throw new OciError(`config.json: linux.namespaces[${i}]: ${p} is not a namespace file`);
      network = { mode: 'join', path: p };
      return;
    }
    if (p !== undefined && p !== '') notes.push(`namespace ${type} ${p}: not joined (the guest's ${type === 'user' ? 'ids' : type} ${type === 'pid' ? 'space is its VM\'s' : 'is torov\'s own'})`);
  });
  const res = obj(linux['resources'], 'linux.resources');
  let memory: number | undefined;
  const mem = obj(res['memory'], 'linux.resources.memory');
  const limit = int(mem['limit'], 'linux.resources.memory.limit', -1, Number.MAX_SAFE_INTEGER);
  if (limit !== undefined && limit !== -1 && limit !== 0) {
    if (limit < MIN_MEMORY) throw new OciError(`config.json: linux.resources.memory.limit is ${limit} bytes: a torov VM needs at least ${MIN_MEMORY >> 20}M`);
    if (limit > MAX_MEMORY) notes.push(`linux.resources.memory.limit ${limit}: above torov's largest guest (${MAX_MEMORY / 2 ** 30}G), which it gets`);
    memory = Math.min(limit, MAX_MEMORY);
  }
  const pidsLimit = int(obj(res['pids'], 'linux.resources.pids')['limit'], 'linux.resources.pids.limit', -1, Number.MAX_SAFE_INTEGER);
  let pids: number | undefined;
  if (pidsLimit !== undefined && pidsLimit > 0) {
    if (pidsLimit < TOROV_TASKS + 1) throw new OciError(`config.json: linux.resources.pids.limit is ${pidsLimit}: torov's own threads need ${TOROV_TASKS}, so at least ${TOROV_TASKS + 1}`);
    pids = Math.min(pidsLimit, MAX_PIDS);
  }
  for (const k of Object.keys(res)) if (k !== 'memory' && k !== 'pids') notes.push(`linux.resources.${k}: ignored`);
  for (const k of ['cgroupsPath', 'devices', 'maskedPaths', 'readonlyPaths', 'sysctl', 'uidMappings', 'gidMappings', 'rootfsPropagation', 'mountLabel', 'intelRdt', 'personality']) {
    if (linux[k] !== undefined) notes.push(`linux.${k}: ignored (torov's guest has its own /proc, /dev and ids)`);
  }
  let hostname: string | undefined;
  if (doc['hostname'] !== undefined) {
    hostname = str(doc['hostname'], 'hostname')!;
    if (hostname.length > 64 || /[^\x21-\x7e]/.test(hostname)) throw new OciError(`config.json: hostname ${show(hostname)} is not a host name (at most 64 printable ASCII characters, no spaces)`);
    if (hostname === '') hostname = undefined;
  }

  // annotations
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(doc['annotations'], 'annotations'))) annotations[k] = str(v, `annotations[${show(k)}]`)!;
  const plan: RunPlan = {
    root, readonly: ro === true, args, env, cwd, terminal: terminal === true, volumes, network, rlimits, annotations, notes, hooks,
    ...(user ? { user } : {}), ...(memory !== undefined ? { memory } : {}), ...(pids !== undefined ? { pids } : {}),
    ...(tmp !== undefined ? { tmp } : {}), ...(consoleSize ? { consoleSize } : {}), ...(hostname !== undefined ? { hostname } : {}),
  };
  const pol = annotations[POLICY_ANNOTATION];
  if (pol !== undefined) {
    plan.policyFile = hostPath(pol, `annotations["${POLICY_ANNOTATION}"]`, bundle);
    if (linux['seccomp'] !== undefined) notes.push(`linux.seccomp: ignored, the ${POLICY_ANNOTATION} annotation names the policy`);
  } else if (linux['seccomp'] !== undefined) {
    if (!isObj(linux['seccomp'])) throw new OciError(`config.json: linux.seccomp must be an object (got ${show(linux['seccomp'])})`);
    plan.seccomp = linux['seccomp'];
  }
  return plan;
}

/** A tmpfs size= option: bytes with an optional k, m or g. */
function tmpfsSize(v: string, at: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(v);
  if (!m) throw new OciError(`config.json: ${at}: size=${v} is not a size (e.g. 65536k)`);
  const n = Number(m[1]) * ({ '': 1, k: 1024, m: 2 ** 20, g: 2 ** 30 } as Record<string, number>)[m[2]!.toLowerCase()]!;
  if (n < 2 ** 20 || n > 32 * 2 ** 30) throw new OciError(`config.json: ${at}: size=${v}: a tmpfs at /tmp must be from 1M to 32G`);
  return n;
}

/**
 * The command line of `torov run` for a plan whose policy is `policyFile` (written by
 * torov-oci from the plan: see policyDocument). The program's own words follow `--`.
 */
export function torovRunArgs(plan: RunPlan, policyFile: string, program: { args: string[] } = plan): string[] {
  const a = ['run', '--rootfs', plan.root, '--policy', policyFile, '--network', plan.network.mode === 'none' ? 'none' : 'host', '--workdir', plan.cwd, '--env-clear'];
  // Exactly the config's environment, and HOME=/ when it has none (as runc does for a user without a home).
  for (const e of plan.env) a.push('--env', e);
  if (!plan.env.some((e) => e.startsWith('HOME='))) a.push('--env', 'HOME=/');
  for (const v of plan.volumes) a.push('--volume', `${v.host}:${v.guest}${v.readOnly ? ':ro' : ''}`);
  if (plan.user) a.push('--user', `${plan.user.uid}:${plan.user.gid}`);
  // torov rounds guest memory up to 2M: round the limit down to stay within it.
  if (plan.memory !== undefined) a.push('--memory', `${Math.max(MIN_MEMORY, Math.floor(plan.memory / 2 ** 21) * 2 ** 21) / 2 ** 20}M`);
  if (plan.pids !== undefined) a.push('--pids', String(plan.pids));
  a.push('--', ...program.args);
  return a;
}

/** The sandbox fields the plan sets in the run's policy (torov's format). */
export function sandboxFields(plan: RunPlan): Record<string, unknown> {
  return {
    writable: !plan.readonly,
    ...(plan.tmp !== undefined ? { tmp: plan.tmp } : {}),
    ...(Object.keys(plan.rlimits).length ? { rlimits: { ...plan.rlimits } } : {}),
  };
}

/**
 * Makes the mount points of the plan's bind mounts that the root lacks, as runc does: an
 * empty file for a file, a directory for a directory, with missing parent directories.
 * Only plain directories are walked: a symbolic link on the way (which could lead out of
 * the root) is refused, never followed. Returns the paths it made.
 *
 * A read-only root (`root.readonly`) is read-only for the guest, not for the runtime: its
 * mount points are made too, as runc makes them before it remounts the root read-only.
 * Kubernetes needs it: the CRI plugin gives a pod's sandbox (pause) container a read-only
 * root and binds /etc/resolv.conf into it, and pause images have no /etc/resolv.conf.
 * Where the host cannot write (a root on a read-only file system), it is one line.
 */
export function makeMountPoints(plan: RunPlan): string[] {
  const made: string[] = [];
  for (const v of plan.volumes) {
    const parts = v.guest.split('/').filter(Boolean);
    let cur = plan.root;
    for (let i = 0; i < parts.length; i++) {
      cur = path.join(cur, parts[i]!);
      const last = i === parts.length - 1;
      let st: fs.Stats | undefined;
      try { st = fs.lstatSync(cur); } catch { /* missing */ }
      if (st?.isSymbolicLink()) throw new OciError(`mount point ${v.guest}: ${path.relative(plan.root, cur)} in the container's root is a symbolic link: torov-oci does not follow it`);
      if (st !== undefined) {
        if (!last && !st.isDirectory()) throw new OciError(`mount point ${v.guest}: /${path.relative(plan.root, cur)} in the container's root is not a directory`);
        continue;
      }
      try {
        if (last && !fs.statSync(v.host).isDirectory()) fs.writeFileSync(cur, '', { flag: 'wx', mode: 0o644 });
        else fs.mkdirSync(cur, { mode: 0o755 });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (typeof err.code !== 'string') throw e;
        throw new OciError(`mount point ${v.guest}: cannot make /${path.relative(plan.root, cur)} in the container's ${plan.readonly ? 'read-only ' : ''}root (${err.code}${err.path === v.host ? ` on the mount's source ${v.host}` : ''})`);
      }
      made.push(cur);
    }
  }
  return made;
}
