/**
 * The original ToroV configuration format, accepted as it is:
 *
 * ```json
 * { "Binary": "HelloWorld", "MountPoint": "./mountpoint", "Newpid": "False", "Startaddr": "400200",
 *   "Debug": { "Allowed": "False", "Port": "1234" },
 *   "Hypercalls": [ { "Name": "Ioctl", "Allowed": "True" }, { "Name": "Write", "Allowed": "True" } ] }
 * ```
 *
 * - Booleans are the strings "True"/"False"; any case and JSON booleans are accepted too.
 * - Hypercall names are Linux syscall names with a capital first letter; they
 *   are matched case-insensitively.
 * - The policy allows exactly the hypercalls marked Allowed (plus
 *   ALWAYS_ALLOWED) and denies everything else with EPERM. Note: the original
 *   returned -1 for a blocked call (so guests saw errno 1 whether the call was
 *   blocked or failed on the host); torov returns -EPERM for blocked calls and
 *   the host's own -errno for failed ones.
 * - Paths (Binary, MountPoint) are relative to the config file's directory.
 * - Fields the original did not know are ignored, as the original ignored
 *   them, but reported in `warnings`.
 */
import * as path from 'node:path';
import { PolicyError, didYouMean, fieldPath, showValue } from './errors';
import { isJsonObject, mustBe, type JsonObject } from './json';
import { EPERM, buildPolicy, type Policy, type Rule } from './policy';
import { linuxSyscalls, type SyscallTable } from './syscall-table';

/** A ToroV configuration, translated. */
export interface TorovConfig {
  readonly kind: 'torov-config';
  /** Absolute path of the program (Binary, resolved against the config's directory). */
  readonly binary: string;
  /** Absolute path of the root directory for the VMM (MountPoint), if set. */
  readonly mountPoint?: string;
  /** Run the VMM in a new PID namespace (Newpid). */
  readonly newPid?: boolean;
  /** Entry point override (Startaddr, hexadecimal in the file). */
  readonly startAddr?: number;
  /** GDB stub (Debug.Allowed, Debug.Port). */
  readonly debug?: { readonly allowed: boolean; readonly port: number };
  readonly policy: Policy;
  /** Things that were accepted but ignored (unknown fields), one line each. */
  readonly warnings: readonly string[];
}

/** The top-level fields of a ToroV configuration. */
export const TOROV_CONFIG_FIELDS: readonly string[] = Object.freeze(['Binary', 'MountPoint', 'Newpid', 'Startaddr', 'Debug', 'Hypercalls']);

/** True if a parsed JSON document looks like a ToroV configuration (it has "Binary" or "Hypercalls"). */
export function isTorovConfig(doc: unknown): boolean {
  return isJsonObject(doc) && (Object.hasOwn(doc, 'Binary') || Object.hasOwn(doc, 'Hypercalls'));
}

/**
 * Translates a parsed ToroV configuration. `source` is the config file's
 * path: it names the file in errors and its directory anchors relative paths.
 * Throws PolicyError.
 */
export function parseTorovConfig(doc: unknown, source: string, table: SyscallTable = linuxSyscalls()): TorovConfig {
  if (!isJsonObject(doc)) throw new PolicyError(source, undefined, `the top level must be a JSON object (got ${showValue(doc)})`);
  const warnings: string[] = [];
  warnUnknown(source, [], doc, TOROV_CONFIG_FIELDS, warnings);
  const dir = path.dirname(path.resolve(source));

  if (doc.Binary === undefined) throw new PolicyError(source, 'Binary', 'required (the program to run)');
  if (typeof doc.Binary !== 'string' || doc.Binary === '') mustBe(source, ['Binary'], 'a non-empty path', doc.Binary);
  const binary = path.resolve(dir, doc.Binary);

  let mountPoint: string | undefined;
  if (doc.MountPoint !== undefined) {
    if (typeof doc.MountPoint !== 'string' || doc.MountPoint === '') mustBe(source, ['MountPoint'], 'a non-empty path', doc.MountPoint);
    mountPoint = path.resolve(dir, doc.MountPoint);
  }

  const newPid = doc.Newpid === undefined ? undefined : parseBool(source, ['Newpid'], doc.Newpid);

  let startAddr: number | undefined;
  if (doc.Startaddr !== undefined) {
    const s = doc.Startaddr;
    if (typeof s !== 'string' || !/^\s*(0x)?[0-9a-f]{1,13}\s*$/i.test(s)) {
      mustBe(source, ['Startaddr'], 'a hexadecimal address such as "400200"', s);
    }
    startAddr = parseInt(s.trim().replace(/^0x/i, ''), 16);
  }

  let debug: { allowed: boolean; port: number } | undefined;
  if (doc.Debug !== undefined) {
    const d = doc.Debug;
    if (!isJsonObject(d)) mustBe(source, ['Debug'], 'an object with "Allowed" and "Port"', d);
    warnUnknown(source, ['Debug'], d, ['Allowed', 'Port'], warnings);
    const allowed = d.Allowed === undefined ? false : parseBool(source, ['Debug', 'Allowed'], d.Allowed);
    let port = 1234; // the original's default, and gdb's habit
    if (d.Port !== undefined) {
      const p = typeof d.Port === 'string' && /^\s*\d+\s*$/.test(d.Port) ? Number(d.Port) : d.Port;
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
        mustBe(source, ['Debug', 'Port'], 'a TCP port from 1 to 65535', d.Port);
      }
      port = p;
    }
    debug = { allowed, port };
  }

  const allowed: string[] = [];
  const refused: string[] = [];
  if (doc.Hypercalls !== undefined) {
    if (!Array.isArray(doc.Hypercalls)) mustBe(source, ['Hypercalls'], 'an array of {"Name", "Allowed"}', doc.Hypercalls);
    (doc.Hypercalls as unknown[]).forEach((h, i) => {
      const at = ['Hypercalls', i] as const;
      if (!isJsonObject(h)) mustBe(source, at, 'an object with "Name" and "Allowed"', h);
      warnUnknown(source, at, h, ['Name', 'Allowed'], warnings);
      if (typeof h.Name !== 'string') mustBe(source, [...at, 'Name'], 'a syscall name such as "Write"', h.Name);
      const name = h.Name.toLowerCase();
      if (table.nrOf(name) === undefined) {
        throw new PolicyError(source, fieldPath(...at, 'Name'), `unknown syscall ${JSON.stringify(h.Name)}${didYouMean(name, table.names.map(capitalize))}`);
      }
      // The original treats a hypercall without "Allowed" as not allowed.
      const ok = h.Allowed === undefined ? false : parseBool(source, [...at, 'Allowed'], h.Allowed);
      // A later entry for the same name overrides an earlier one.
      const other = ok ? refused : allowed;
      const k = other.indexOf(name);
      if (k >= 0) other.splice(k, 1);
      (ok ? allowed : refused).push(name);
    });
  }

  const rules: Rule[] = [];
  if (allowed.length > 0) rules.push({ names: allowed, action: 'allow', why: 'marked "Allowed": "True" in the ToroV configuration' });
  if (refused.length > 0) rules.push({ names: refused, action: 'deny', why: 'marked "Allowed": "False" in the ToroV configuration' });
  const policy = buildPolicy(
    {
      source,
      description: `ToroV configuration for ${doc.Binary}`,
      defaultAction: 'deny',
      defaultErrno: EPERM,
      // MountPoint becomes the guest's root, writable as under the original's chroot;
      // Newpid chooses the PID namespace. The network stays torov's default ("none").
      ...(mountPoint !== undefined || newPid !== undefined
        ? { sandbox: { ...(mountPoint !== undefined ? { root: mountPoint, writable: true } : {}), ...(newPid !== undefined ? { newPid } : {}) } }
        : {}),
      rules,
    },
    table,
  );

  return {
    kind: 'torov-config',
    binary,
    ...(mountPoint !== undefined ? { mountPoint } : {}),
    ...(newPid !== undefined ? { newPid } : {}),
    ...(startAddr !== undefined ? { startAddr } : {}),
    ...(debug !== undefined ? { debug } : {}),
    policy,
    warnings: Object.freeze(warnings),
  };
}

/** "True"/"False" in any case, or a JSON boolean. */
function parseBool(source: string, at: readonly (string | number)[], v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true') return true;
    if (s === 'false') return false;
  }
  return mustBe(source, at, '"True" or "False"', v);
}

function warnUnknown(source: string, at: readonly (string | number)[], obj: JsonObject, known: readonly string[], warnings: string[]): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    warnings.push(`${source}: ${fieldPath(...at, key)}: unknown field, ignored${didYouMean(key, known)}`);
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
