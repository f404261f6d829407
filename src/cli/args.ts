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
      if (!spec) throw new UsageError(`unknown option --${name}`);
    } else {
      spec = byShort.get(arg.slice(1, 2));
      if (!spec) throw new UsageError(`unknown option ${arg}`);
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

/** The options of `torov run`. */
export const RUN_OPTIONS: readonly OptSpec[] = [
  { name: 'memory', short: 'm', value: true },
  { name: 'cpus', value: true },
  { name: 'threads', value: true },
  { name: 'policy', short: 'p', value: true },
  { name: 'env', short: 'e', value: true, repeat: true },
  { name: 'env-inherit', value: false },
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
  { name: 'help', short: 'h', value: false },
];

/** The guest's default environment: small and explicit, never the host's by surprise. */
export const DEFAULT_ENV: readonly string[] = ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/', 'TERM=xterm'];

/** Builds the guest environment from the defaults, --env-inherit and --env K=V (later wins). */
export function buildEnv(opts: Options, hostEnv: NodeJS.ProcessEnv): string[] {
  const env = new Map<string, string>();
  for (const kv of DEFAULT_ENV) { const eq = kv.indexOf('='); env.set(kv.slice(0, eq), kv.slice(eq + 1)); }
  if (opts['env-inherit']) for (const [k, v] of Object.entries(hostEnv)) if (v !== undefined) env.set(k, v);
  for (const kv of (opts['env'] as string[] | undefined) ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) {
      // docker's `-e NAME` copies NAME from the host environment.
      if (eq < 0 && kv && hostEnv[kv] !== undefined) { env.set(kv, hostEnv[kv]!); continue; }
      throw new UsageError(`--env ${JSON.stringify(kv)}: expected NAME=VALUE`);
    }
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
