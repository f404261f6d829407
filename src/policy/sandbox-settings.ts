/**
 * The sandbox part of a torov policy: where the guest's files come from and what the VMM
 * process may reach on the host. Parsed from top-level fields of torov's format:
 *
 * ```json
 * { "root": "./rootfs", "writable": ["/data"], "tmp": true, "network": "none", "newPid": true,
 *   "rlimits": { "openFiles": 256, "fileSize": "64M", "cpuSeconds": 30 } }
 * ```
 */
import * as path from 'node:path';
import { PolicyError, showValue } from './errors';
import { mustBe, isJsonObject, rejectUnknownKeys } from './json';
import { parseSize } from './size';

/** Sandbox settings; every field optional (see DEFAULT_SANDBOX for the defaults). */
export interface SandboxSettings {
  /** "none": a network namespace with only loopback; "host": the host's network. */
  readonly network?: 'none' | 'host';
  /** Run the VMM in a new PID namespace (default true). */
  readonly newPid?: boolean;
  /** Host directory that becomes the guest's "/" (absolute; resolved against the policy file). */
  readonly root?: string;
  /** true: the whole root is writable; a list: these guest paths inside it are. Default: read-only. */
  readonly writable?: boolean | readonly string[];
  /**
   * Mount an empty writable tmpfs at /tmp: true (its size is half the guest's memory, as
   * Linux sizes a tmpfs by default), or its size in bytes. The guest's memfds share it.
   */
  readonly tmp?: boolean | number;
  /** Resource limits for the run (the VMM process, and so the guest). */
  readonly rlimits?: { readonly openFiles?: number; readonly fileSize?: number; readonly cpuSeconds?: number; readonly pids?: number };
}

/** Fields of torov's format that belong to the sandbox. */
export const SANDBOX_FIELDS: readonly string[] = Object.freeze(['network', 'newPid', 'root', 'writable', 'tmp', 'rlimits']);

/**
 * The ranges of the numeric settings: what the host can give (fs.nr_open for open files,
 * RLIMIT_CPU in seconds, the cgroup's pids), and never 0 (which would be "nothing" here,
 * not "no limit").
 */
export const RANGES = Object.freeze({
  openFiles: [3, 1048576] as const,      // the guest's fd table: 0, 1 and 2 count
  cpuSeconds: [1, 2 ** 31 - 1] as const,
  pids: [1, 4194304] as const,
  fileSize: [1, 2 ** 53 - 1] as const,
  tmp: [1024 * 1024, 32 * 1024 * 1024 * 1024] as const,
});

/** A guest path in `writable`: absolute, normalized, without "..", not the root itself (that is `"writable": true`). */
function checkGuestPath(source: string, at: string, p: string): string {
  if (!p.startsWith('/')) throw new PolicyError(source, at, `must be an absolute guest path (got ${showValue(p)})`);
  if (p.includes('\0')) throw new PolicyError(source, at, 'must not contain a NUL byte');
  if (p.split('/').includes('..')) throw new PolicyError(source, at, `must not contain ".." (got ${showValue(p)}): paths stay inside the root`);
  const n = path.posix.normalize(p).replace(/\/+$/, '');
  if (n === '' || n === '/') throw new PolicyError(source, at, 'is the whole root: say "writable": true instead');
  return n;
}

/** Parses the sandbox fields of a torov-format document (paths relative to the policy file). */
export function parseSandboxSettings(doc: Readonly<Record<string, unknown>>, source: string): SandboxSettings | undefined {
  const out: { -readonly [K in keyof SandboxSettings]: SandboxSettings[K] } = {};
  let any = false;
  if (doc.network !== undefined) {
    if (doc.network !== 'none' && doc.network !== 'host') throw new PolicyError(source, 'network', `must be "none" or "host" (got ${showValue(doc.network)})`);
    out.network = doc.network; any = true;
  }
  if (doc.newPid !== undefined) {
    if (typeof doc.newPid !== 'boolean') mustBe(source, ['newPid'], 'true or false', doc.newPid);
    out.newPid = doc.newPid as boolean; any = true;
  }
  if (doc.root !== undefined) {
    if (typeof doc.root !== 'string' || doc.root === '') mustBe(source, ['root'], 'a directory path', doc.root);
    out.root = path.resolve(path.dirname(source), doc.root as string); any = true;
  }
  if (doc.writable !== undefined) {
    const w = doc.writable;
    if (typeof w === 'boolean') out.writable = w;
    else if (Array.isArray(w) && w.every((p) => typeof p === 'string')) out.writable = w.map((p, i) => checkGuestPath(source, `writable[${i}]`, p as string));
    else mustBe(source, ['writable'], 'true, false, or a list of absolute guest paths', w);
    any = true;
  }
  if (doc.tmp !== undefined) {
    if (typeof doc.tmp === 'boolean') out.tmp = doc.tmp;
    else if (typeof doc.tmp === 'string' || typeof doc.tmp === 'number') out.tmp = sizeIn(source, 'tmp', doc.tmp, RANGES.tmp);
    else mustBe(source, ['tmp'], 'true, false, or a size such as "64M"', doc.tmp);
    any = true;
  }
  if (doc.rlimits !== undefined) {
    const r = doc.rlimits;
    if (!isJsonObject(r)) mustBe(source, ['rlimits'], 'an object with openFiles, fileSize, cpuSeconds, pids', r);
    rejectUnknownKeys(source, ['rlimits'], r, ['openFiles', 'fileSize', 'cpuSeconds', 'pids']);
    const lim: { openFiles?: number; fileSize?: number; cpuSeconds?: number; pids?: number } = {};
    for (const k of ['openFiles', 'cpuSeconds', 'pids'] as const) {
      const v = r[k];
      if (v === undefined) continue;
      const [lo, hi] = RANGES[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) mustBe(source, ['rlimits', k], `a whole number from ${lo} to ${hi}`, v);
      lim[k] = v as number;
    }
    if (r.fileSize !== undefined) lim.fileSize = sizeIn(source, 'rlimits.fileSize', r.fileSize, RANGES.fileSize);
    out.rlimits = lim; any = true;
  }
  return any ? out : undefined;
}

/** A size field (a string such as "64M", or bytes) within [lo, hi]. */
function sizeIn(source: string, field: string, v: unknown, [lo, hi]: readonly [number, number]): number {
  let n: number;
  try { n = parseSize(v as string | number); }
  catch (e) { throw new PolicyError(source, field, e instanceof Error ? e.message : String(e)); }
  if (n < lo || n > hi) throw new PolicyError(source, field, `must be from ${sizeText(lo)} to ${sizeText(hi)} (got ${showValue(v)})`);
  return n;
}

/** 1048576 -> "1M", 34359738368 -> "32G", else bytes. */
export function sizeText(n: number): string {
  for (const [u, k] of [['G', 2 ** 30], ['M', 2 ** 20], ['K', 1024]] as const) if (n % k === 0 && n >= k) return `${n / k}${u}`;
  return `${n} bytes`;
}
