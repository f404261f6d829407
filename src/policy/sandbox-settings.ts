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
import { parseSize } from './torov-format';   // (a call-time use: the import cycle is harmless)

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
  /** Mount an empty writable tmpfs at /tmp. */
  readonly tmp?: boolean;
  /** Resource limits for the VMM process (and so the guest). */
  readonly rlimits?: { readonly openFiles?: number; readonly fileSize?: number; readonly cpuSeconds?: number };
}

/** Fields of torov's format that belong to the sandbox. */
export const SANDBOX_FIELDS: readonly string[] = Object.freeze(['network', 'newPid', 'root', 'writable', 'tmp', 'rlimits']);

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
    else if (Array.isArray(w) && w.every((p) => typeof p === 'string' && p.startsWith('/'))) out.writable = w as string[];
    else mustBe(source, ['writable'], 'true, false, or a list of absolute guest paths', w);
    any = true;
  }
  if (doc.tmp !== undefined) {
    if (typeof doc.tmp !== 'boolean') mustBe(source, ['tmp'], 'true or false', doc.tmp);
    out.tmp = doc.tmp as boolean; any = true;
  }
  if (doc.rlimits !== undefined) {
    const r = doc.rlimits;
    if (!isJsonObject(r)) mustBe(source, ['rlimits'], 'an object with openFiles, fileSize, cpuSeconds', r);
    rejectUnknownKeys(source, ['rlimits'], r, ['openFiles', 'fileSize', 'cpuSeconds']);
    const lim: { openFiles?: number; fileSize?: number; cpuSeconds?: number } = {};
    for (const k of ['openFiles', 'cpuSeconds'] as const) {
      const v = r[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) mustBe(source, ['rlimits', k], 'a positive integer', v);
      lim[k] = v as number;
    }
    if (r.fileSize !== undefined) {
      try { lim.fileSize = parseSize(r.fileSize as string | number); }
      catch (e) { throw new PolicyError(source, 'rlimits.fileSize', e instanceof Error ? e.message : String(e)); }
    }
    out.rlimits = lim; any = true;
  }
  return any ? out : undefined;
}
