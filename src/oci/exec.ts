/**
 * `torov-oci exec`'s command line and the process it runs (src/oci/main.ts: cmdExec).
 *
 * runc's command line: `exec [OPTIONS] ID COMMAND [ARG...]` or `exec --process FILE ID`.
 * Options stop at the container id: what follows it is the command, dashes and all.
 * containerd's runc shim calls `exec --process FILE --detach --pid-file F [--console-socket
 * S] ID`, FILE a process.json (the runtime spec's `process` object). Without --process,
 * the process is the container's own (its config.json's) with the command as its args and
 * the options applied: --cwd, --env (added), --tty, --user, --additional-gids.
 *
 * The process is then checked exactly as config.json's is: it replaces `process` in the
 * container's config and goes through planRun (src/oci/config.ts), so an exec'd process
 * gets the container's root, mounts, host name, policy and limits.
 */
import * as fs from 'node:fs';
import { OciError, MAX_CONFIG_BYTES } from './config';

/** What `exec` was asked. */
export interface ExecRequest {
  id: string;
  /** --process: a process.json; then `command` is ignored, as runc ignores it. */
  processFile?: string;
  /** The words after the id. */
  command: string[];
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  tty: boolean;
  cwd?: string;
  env: string[];
  user?: { uid: number; gid?: number };
  additionalGids: number[];
  ignorePaused: boolean;
  /** Options accepted and without effect, one line each (for the debug log). */
  notes: string[];
}

type Spec = { value: boolean; repeat?: boolean; alias?: string };
const FLAGS: Record<string, Spec> = {
  'console-socket': { value: true }, 'pidfd-socket': { value: true }, cwd: { value: true },
  env: { value: true, repeat: true, alias: 'e' }, tty: { value: false, alias: 't' }, user: { value: true, alias: 'u' },
  'additional-gids': { value: true, repeat: true, alias: 'g' }, process: { value: true, alias: 'p' },
  detach: { value: false, alias: 'd' }, 'pid-file': { value: true }, 'process-label': { value: true },
  apparmor: { value: true }, 'no-new-privs': { value: false }, cap: { value: true, repeat: true, alias: 'c' },
  'preserve-fds': { value: true }, cgroup: { value: true, repeat: true }, 'ignore-paused': { value: false },
  help: { value: false, alias: 'h' },
};

/** A whole number id (uid, gid) as runc reads it. */
function id32(v: string, what: string): number {
  if (!/^\d{1,10}$/.test(v) || Number(v) > 2 ** 32 - 2) throw new OciError(`exec: bad ${what} ${JSON.stringify(v.slice(0, 40))}: expected a number from 0 to ${2 ** 32 - 2}`);
  return Number(v);
}

/** Parses exec's words (after `exec`). Throws OciError, one line. */
export function parseExecArgs(argv: string[]): ExecRequest & { help: boolean } {
  const byAlias = new Map<string, string>();
  for (const [k, v] of Object.entries(FLAGS)) if (v.alias) byAlias.set(v.alias, k);
  const one: Record<string, string | boolean> = {};
  const many: Record<string, string[]> = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { i++; break; }
    if (!a.startsWith('-') || a === '-') break;
    const eq = a.indexOf('=');
    const raw = eq > 0 ? a.slice(0, eq) : a;
    const name = byAlias.get(raw.replace(/^--?/, '')) ?? raw.replace(/^--?/, '');
    const s = FLAGS[name];
    if (!s) throw new OciError(`exec: unknown option ${raw}`);
    if (s.value) {
      let v: string;
      if (eq > 0) v = a.slice(eq + 1);
      else if (i + 1 < argv.length) v = argv[++i]!;
      else throw new OciError(`exec: option ${raw} needs a value`);
      if (s.repeat) (many[name] ??= []).push(v);
      else one[name] = v;
    } else one[name] = eq > 0 ? !/^(false|0)$/i.test(a.slice(eq + 1)) : true;
  }
  const words = argv.slice(i);
  const str = (k: string) => typeof one[k] === 'string' ? one[k] as string : undefined;
  if (one['help'] === true) return { id: '', command: [], detach: false, tty: false, env: [], additionalGids: [], ignorePaused: false, notes: [], help: true };
  const id = words[0];
  if (id === undefined || id === '') throw new OciError('exec: missing the container id (usage: exec [OPTIONS] ID COMMAND [ARG...], or exec --process FILE ID)');
  const notes: string[] = [];
  if (str('pidfd-socket') !== undefined) throw new OciError('exec: --pidfd-socket is not supported by torov-oci (the pid file names the process)');
  if (str('preserve-fds') !== undefined && str('preserve-fds') !== '0') throw new OciError('exec: --preserve-fds: torov-oci passes only fds 0, 1 and 2 to the process');
  if (many['cgroup']?.length) throw new OciError('exec: --cgroup: an exec\'d process runs in a torov VM with a cgroup of its own, not in a sub-cgroup of the container');
  if (many['cap']?.length) notes.push('--cap: ignored (the guest runs in a VM: it has no host capabilities)');
  for (const k of ['process-label', 'apparmor']) if (str(k) !== undefined) notes.push(`--${k}: ignored`);
  if (one['no-new-privs'] === false) notes.push('--no-new-privs=false: torov always sets no_new_privs on its VMM');
  let user: ExecRequest['user'];
  const u = str('user');
  if (u !== undefined && u !== '') {
    const [uid, gid] = u.split(':', 2) as [string, string | undefined];
    user = { uid: id32(uid, 'uid'), ...(u.includes(':') ? { gid: id32(gid ?? '', 'gid') } : {}) };
  }
  const additionalGids = (many['additional-gids'] ?? []).map((x) => id32(x, 'additional gid'));
  const processFile = str('process');
  const command = words.slice(1);
  if (processFile === undefined && command.length === 0) throw new OciError('exec: the command is missing (exec [OPTIONS] ID COMMAND [ARG...], or exec --process FILE ID)');
  if (processFile !== undefined && command.length) notes.push(`the words after the id (${command.length}) are ignored with --process, as runc ignores them`);
  const r: ExecRequest & { help: boolean } = {
    id, command, detach: one['detach'] === true, tty: one['tty'] === true, env: many['env'] ?? [], additionalGids,
    ignorePaused: one['ignore-paused'] === true, notes, help: false,
  };
  if (processFile !== undefined) r.processFile = processFile;
  if (str('pid-file') !== undefined) r.pidFile = str('pid-file')!;
  if (str('console-socket') !== undefined) r.consoleSocket = str('console-socket')!;
  if (str('cwd') !== undefined && str('cwd') !== '') r.cwd = str('cwd')!;
  if (user) r.user = user;
  return r;
}

/** Reads a --process file (at most MAX_CONFIG_BYTES). */
export function readProcessFile(file: string): string {
  let st: fs.Stats;
  try { st = fs.statSync(file); } catch (e) { throw new OciError(`exec: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  if (!st.isFile()) throw new OciError(`exec: ${file} is not a regular file`);
  if (st.size > MAX_CONFIG_BYTES) throw new OciError(`exec: ${file} is ${st.size} bytes (at most ${MAX_CONFIG_BYTES})`);
  return fs.readFileSync(file, 'utf8');
}

/** Reads a process.json's text (at most MAX_CONFIG_BYTES) into the object it holds. */
export function parseProcessJson(text: string, file: string): Record<string, unknown> {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new OciError(`exec: ${file} is over ${MAX_CONFIG_BYTES >> 20} MiB`);
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) { throw new OciError(`exec: ${file}: not valid JSON (${(e as Error).message})`); }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new OciError(`exec: ${file}: a process must be a JSON object`);
  return doc as Record<string, unknown>;
}

/**
 * The process to run: process.json's (from --process), else the container's own process
 * (config.json's `process`) with the command and the options applied, as runc makes it.
 */
export function execProcess(req: ExecRequest, containerProcess: unknown, processJson?: Record<string, unknown>): Record<string, unknown> {
  if (processJson !== undefined) return processJson;
  const base = typeof containerProcess === 'object' && containerProcess !== null && !Array.isArray(containerProcess) ? containerProcess as Record<string, unknown> : {};
  const p: Record<string, unknown> = { ...base, args: req.command, terminal: req.tty };
  if (req.cwd !== undefined) p['cwd'] = req.cwd;
  if (req.env.length) p['env'] = [...(Array.isArray(base['env']) ? base['env'] : []), ...req.env];
  if (req.user !== undefined || req.additionalGids.length) {
    const bu = typeof base['user'] === 'object' && base['user'] !== null ? base['user'] as Record<string, unknown> : {};
    const nu: Record<string, unknown> = { ...bu };
    if (req.user) { nu['uid'] = req.user.uid; if (req.user.gid !== undefined) nu['gid'] = req.user.gid; }
    if (req.additionalGids.length) nu['additionalGids'] = [...(Array.isArray(bu['additionalGids']) ? bu['additionalGids'] : []), ...req.additionalGids];
    p['user'] = nu;
  }
  if (!req.tty) delete p['consoleSize'];
  return p;
}

/** The container's config with `process` replaced: what planRun checks for an exec. */
export function execConfig(containerConfig: Record<string, unknown>, proc: Record<string, unknown>): Record<string, unknown> {
  // Hooks belong to the container's life, not to an exec'd process.
  const { hooks: _h, ...rest } = containerConfig;
  void _h;
  return { ...rest, process: proc };
}

/** planRun's message about `process` named for exec (its process is not config.json's). */
export function execError(e: unknown): unknown {
  if (e instanceof OciError) return new OciError(e.message.replace(/^config\.json: process/, 'exec: process'));
  return e;
}
