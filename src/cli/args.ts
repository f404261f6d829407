/**
 * Command-line parsing for `torov run` and friends, docker-style: options come first, and
 * everything from the program path on belongs to the program (`torov run --memory 64M
 * ./prog -v --flag` passes `-v --flag` to prog). Pure, so it is unit-tested directly.
 */

/** A bad command line: one line for the user, exit status 125 (as docker run). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** How an option takes its value. */
interface OptSpec { name: string; short?: string; value: boolean; repeat?: boolean }

/** Parsed options: flags are true, valued options a string, repeated ones a list. */
export type Options = Record<string, string | boolean | string[]>;

/**
 * Parses `argv` against `specs`. Stops at the first non-option (or `--`) when
 * `stopAtPositional`, returning the rest untouched.
 */
export function parseOptions(argv: readonly string[], specs: readonly OptSpec[], stopAtPositional: boolean): { opts: Options; rest: string[] } {
  const opts: Options = {};
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  let i = 0;
  const positional: string[] = [];
  while (i < argv.length) {
    const arg = argv[i]!;
    if (arg === '--') { i++; break; }
    if (!arg.startsWith('-') || arg === '-') {
      if (stopAtPositional) break;
      positional.push(arg); i++; continue;
    }
    let spec: OptSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      if (eq >= 0) inline = arg.slice(eq + 1);
      spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown option --${name}${suggest(name, specs)}`);
    } else {
      spec = byShort.get(arg.slice(1, 2));
      if (!spec) throw new UsageError(`unknown option ${arg}${arg.length > 2 ? suggest(arg.slice(1), specs) : ''}`);
      if (arg.length > 2) inline = arg.slice(2);
    }
    i++;
    let value: string | boolean = true;
    if (spec.value) {
      if (inline !== undefined) value = inline;
      else {
        if (i >= argv.length) throw new UsageError(`option --${spec.name} needs a value`);
        value = argv[i++]!;
      }
    } else if (inline !== undefined) {
      throw new UsageError(`option --${spec.name} takes no value`);
    }
    if (spec.repeat) {
      const list = (opts[spec.name] as string[] | undefined) ?? [];
      list.push(value as string);
      opts[spec.name] = list;
    } else {
      opts[spec.name] = value;
    }
  }
  return { opts, rest: [...positional, ...argv.slice(i)] };
}

/** " (did you mean --x?)" for the option closest to a mistyped one, or "". */
export function suggest(name: string, specs: readonly OptSpec[]): string {
  if (specs.some((s) => s.name === `no-${name}`)) return ` (did you mean --no-${name}?)`;
  let best: string | undefined, bestD = Infinity;
  for (const s of specs) {
    const d = editDistance(name, s.name);
    if (d < bestD) { best = s.name; bestD = d; }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(name.length / 3)) ? ` (did you mean --${best}?)` : '';
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * Parses a duration: a number of seconds ("30", "1.5"), or amounts with units in
 * decreasing order ("500ms", "30s", "2m", "1h30m", "1h30m15s"). Returns milliseconds;
 * 0 ("0", "0s") means no limit. Throws RangeError with a one-line message.
 */
export function parseDuration(s: string): number {
  const t = s.trim();
  const bad = () => new RangeError(`invalid duration ${JSON.stringify(s)}: expected seconds or e.g. 500ms, 30s, 2m, 1h30m (0: no limit)`);
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(t)) ms = Number(t) * 1000;
  else {
    const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
    const order = ['h', 'm', 's', 'ms'];
    const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
    ms = 0;
    let last = -1, m: RegExpExecArray | null;
    re.lastIndex = 0;
    while (re.lastIndex < t.length && (m = re.exec(t)) !== null) {
      const k = order.indexOf(m[2]!);
      if (k <= last) throw bad();
      last = k;
      ms += Number(m[1]) * units[m[2]!]!;
    }
    if (last < 0 || re.lastIndex !== t.length) throw bad();
  }
  if (!Number.isFinite(ms) || ms > 2 ** 31 * 1000) throw bad();
  if (ms === 0) return 0;
  return Math.max(1, Math.round(ms));
}

/** Formats milliseconds as parseDuration reads them (90000 -> "1m30s", 1500 -> "1.5s"). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000), m = Math.floor((ms % 3_600_000) / 60_000), s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

/** The options of `torov run`. */
export const RUN_OPTIONS: readonly OptSpec[] = [
  { name: 'memory', short: 'm', value: true },
  { name: 'cpus', value: true },
  { name: 'threads', value: true },
  { name: 'pids', value: true },
  { name: 'allow-host-root', value: false },
  { name: 'policy', short: 'p', value: true },
  { name: 'env', short: 'e', value: true, repeat: true },
  { name: 'env-inherit', value: false },
  { name: 'env-clear', value: false },
  { name: 'oci-sync', value: true },
  { name: 'code-cache-out', value: true },
  { name: 'trace', value: false },
  { name: 'trace-file', value: true },
  { name: 'verbose', value: false },
  { name: 'volume', short: 'v', value: true, repeat: true },
  { name: 'user', short: 'u', value: true },
  { name: 'timeout', value: true },
  { name: 'no-sandbox', value: false },
  { name: 'no-vdso', value: false },
  { name: 'syscall-path', value: true },
  { name: 'no-rewrite', value: false },
  { name: 'network', value: true },
  { name: 'workdir', short: 'w', value: true },
  { name: 'rootfs', value: true },
  { name: 'gdb', value: true },
  { name: 'restore', value: true },
  { name: 'help', short: 'h', value: false },
];

/** `torov serve`'s own options (beyond run's, less --gdb; its --timeout is per request). */
export const SERVE_ONLY_OPTIONS: readonly OptSpec[] = [
  { name: 'port', value: true },
  { name: 'host', value: true },
  { name: 'concurrency', value: true },
  { name: 'queue', value: true },
  { name: 'max-body', value: true },
  { name: 'log-format', value: true },
  { name: 'no-snapshot', value: false },
  { name: 'workers', value: true },
  /** Internal: how `serve --workers N` starts its workers (src/serve/front.ts). */
  { name: 'serve-worker', value: false },
];

/** `torov snapshot`'s own options. */
export const SNAPSHOT_ONLY_OPTIONS: readonly OptSpec[] = [
  { name: 'at', value: true },
  { name: 'output', short: 'o', value: true },
];

/** Every option of `torov snapshot`: run's, less --gdb and --restore. */
export const SNAPSHOT_OPTIONS: readonly OptSpec[] = [...RUN_OPTIONS.filter((o) => o.name !== 'gdb' && o.name !== 'restore' && o.name !== 'oci-sync' && o.name !== 'code-cache-out'), ...SNAPSHOT_ONLY_OPTIONS];

/** Every option of `torov serve`. */
export const SERVE_OPTIONS: readonly OptSpec[] = [...RUN_OPTIONS.filter((o) => o.name !== 'gdb' && o.name !== 'restore' && o.name !== 'oci-sync' && o.name !== 'code-cache-out'), ...SERVE_ONLY_OPTIONS];

/** The guest's default environment: small and explicit, never the host's by surprise. */
export const DEFAULT_ENV: readonly string[] = ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/', 'TERM=xterm'];

/**
 * Builds the guest environment from the defaults (none with --env-clear), --env-inherit
 * and --env K=V (later wins).
 */
export function buildEnv(opts: Options, hostEnv: NodeJS.ProcessEnv): string[] {
  const env = new Map<string, string>();
  if (!opts['env-clear']) for (const kv of DEFAULT_ENV) { const eq = kv.indexOf('='); env.set(kv.slice(0, eq), kv.slice(eq + 1)); }
  if (opts['env-inherit']) for (const [k, v] of Object.entries(hostEnv)) if (v !== undefined) env.set(k, v);
  for (const kv of (opts['env'] as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 0 && kv !== '' && !kv.includes('\0')) {
      // docker's `-e NAME`: the host's value, and nothing when the host has none.
      if (hostEnv[kv] !== undefined) env.set(kv, hostEnv[kv]!);
      continue;
    }
    if (eq <= 0 || kv.includes('\0')) throw new UsageError(`--env ${JSON.stringify(kv)}: expected NAME=VALUE or NAME`);
    env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** One --volume HOST:GUEST[:ro|:rw]: both paths absolute after resolution. */
export interface VolumeSpec { host: string; guest: string; readOnly: boolean }

/** Parses --volume values (docker's syntax): HOST:GUEST[:ro|:rw]; HOST may be relative. */
export function parseVolumes(values: readonly string[], cwd: string): VolumeSpec[] {
  return values.map((v) => {
    const parts = v.split(':');
    let mode = 'rw';
    if (parts.length === 3) mode = parts.pop()!;
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new UsageError(`--volume ${JSON.stringify(v)}: expected HOST:GUEST[:ro]`);
    if (mode !== 'ro' && mode !== 'rw') throw new UsageError(`--volume ${JSON.stringify(v)}: the mode must be ro or rw`);
    const guest = parts[1]!;
    if (!guest.startsWith('/') || guest.split('/').includes('..')) throw new UsageError(`--volume ${JSON.stringify(v)}: the guest path must be absolute, without ".."`);
    const host = parts[0]!.startsWith('/') ? parts[0]! : `${cwd}/${parts[0]}`;
    return { host, guest, readOnly: mode === 'ro' };
  });
}

/** Parses --user UID[:GID] (numbers). */
export function parseUser(v: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(v);
  if (!m) throw new UsageError(`--user ${JSON.stringify(v)}: expected UID or UID:GID (numbers)`);
  const uid = Number(m[1]);
  return { uid, gid: m[2] !== undefined ? Number(m[2]) : uid };
}
