/**
 * What a policy asks of the host, checked before a run: the checks `torov run` makes and
 * `torov policy check` reports, the same function for both (a policy that checks "ok"
 * must not be refused by the run).
 *
 * Parsing (torov-format.ts, sandbox-settings.ts, torov-config.ts) checks each field alone:
 * types and ranges. This checks the host paths the policy names: the root must be a
 * directory; every `writable` path must exist inside it, resolved as the guest would
 * resolve it (symbolic links stay inside the root, as under chroot), so that no path of a
 * policy can name a host file outside its root; a ToroV Binary must be a regular file and
 * its MountPoint a directory. The host's own `/` as a writable root or a MountPoint needs
 * an explicit `--allow-host-root`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolicyError } from './errors';
import type { LoadedPolicy } from './load';
import { InputError, MAX_PROGRAM_BYTES, fileKind } from '../cli/input';

/** What the command line adds to the checks. */
export interface RunChecks {
  /** --allow-host-root: the host's / may be a writable root, a ToroV MountPoint or a volume. */
  readonly allowHostRoot?: boolean;
}

/** The flag that lets the host's / in (README, "Volumes"). */
export const ALLOW_HOST_ROOT = '--allow-host-root';

/** Most symbolic links followed in one path (Linux's MAXSYMLINKS). */
const MAX_LINKS = 40;

/**
 * Resolves guest path `p` inside host directory `root` as the guest (or a chroot) would:
 * ".." stops at the root, and a symbolic link's target, absolute or relative, is taken
 * inside the root too. Returns the host path, which is inside `root`, or throws an Error
 * whose message says why (a missing component, a loop). `mustExist`: the last component too.
 */
export function resolveInRoot(root: string, p: string, mustExist = true): string {
  const parts = p.split('/').filter((c) => c && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const c = parts.shift()!;
    if (c === '..') { done.pop(); continue; }
    const host = path.join(root, ...done, c);
    let st: fs.Stats;
    try { st = fs.lstatSync(host); }
    catch (e) {
      if (!mustExist && parts.length === 0) { done.push(c); break; }
      throw new Error(`${path.posix.join('/', ...done, c)} does not exist in the root ${root}${(e as NodeJS.ErrnoException).code === 'ENOENT' ? '' : ` (${(e as NodeJS.ErrnoException).code})`}`);
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new Error(`${p}: too many levels of symbolic links in the root ${root}`);
      const target = fs.readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    if (parts.length && !st.isDirectory()) throw new Error(`${path.posix.join('/', ...done, c)} is not a directory in the root ${root}`);
    done.push(c);
  }
  return path.join(root, ...done);
}

/** The real path of a host directory, or a PolicyError naming the field. */
function directory(source: string, field: string, p: string): string {
  let real: string;
  try { real = fs.realpathSync(p); }
  catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PolicyError(source, field, `${p}: ${code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : code}`);
  }
  const st = fs.statSync(real);
  if (!st.isDirectory()) throw new PolicyError(source, field, `${p}: not a directory (${st.isFile() ? 'a regular file' : fileKind(st)})`);
  return real;
}

/**
 * Checks a loaded policy against the host, as a run would. Throws PolicyError (one line,
 * naming the file and the field) for the first problem.
 */
export function validateForRun(loaded: LoadedPolicy, checks: RunChecks = {}): void {
  const p = loaded.policy, src = p.source, sb = p.sandbox ?? {};
  const configRoot = loaded.kind === 'torov-config' ? 'MountPoint' : 'root';
  if (sb.root !== undefined) {
    const real = directory(src, configRoot, sb.root);
    if (real === '/' && sb.writable === true && !checks.allowHostRoot) {
      throw new PolicyError(src, configRoot, `the host's / as a writable root (${loaded.kind === 'torov-config' ? 'a MountPoint is always writable' : '"writable": true'}) gives the guest every host file: add ${ALLOW_HOST_ROOT} to mean it`);
    }
    if (Array.isArray(sb.writable)) {
      (sb.writable as readonly string[]).forEach((g, i) => {
        try { resolveInRoot(real, g); }
        catch (e) { throw new PolicyError(src, `writable[${i}]`, (e as Error).message); }
      });
    }
  }
  if (loaded.kind === 'torov-config') {
    // The program a ToroV configuration names: a regular file, as torov run reads it.
    try {
      const st = fs.statSync(loaded.binary);
      if (!st.isFile()) throw new InputError(`not a regular file (${fileKind(st)})`, 'KIND');
      if (st.size > MAX_PROGRAM_BYTES) throw new InputError(`too large (${st.size} bytes; at most ${MAX_PROGRAM_BYTES})`, 'SIZE');
    } catch (e) {
      const why = e instanceof InputError ? e.message : (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as NodeJS.ErrnoException).code ?? String(e);
      throw new PolicyError(src, 'Binary', `${loaded.binary}: ${why}`);
    }
  }
}
