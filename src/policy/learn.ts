/**
 * Learn mode (`torov policy learn`): what a run did, and the smallest torov-format policy
 * that lets the same run pass. The VMM records every call through src/syscalls/argcheck.ts
 * (observe), with paths resolved as the argument checks resolve them; this module only
 * aggregates and writes the document.
 *
 * What the policy grants, and nothing more unless a note says so:
 * - each syscall the run made, by name (unimplemented ones are denied with ENOSYS, which is
 *   what the run got);
 * - path syscalls: one rule per path (exact), read-only unless the run wrote, created or
 *   removed it; GENERALISE or more files directly under one directory become that
 *   directory as a prefix (a note in the rule's `why` and on stderr);
 * - socket/socketpair: one rule per (domain, type, protocol) used;
 * - bind/connect/sendto/sendmsg: the addresses used (an address family the format cannot
 *   write, such as netlink, leaves the call unrestricted, with a note);
 * - calls on a descriptor that only ever used 0, 1 and 2 (write to stdout, ioctl on the
 *   terminal): an fd rule for those.
 * In the sandbox the Learner lives in the VMM process; it streams first sightings to the
 * launcher while the run goes on and its summary at the end (src/cli/run.ts).
 */
import { ALLOW, ALWAYS_ALLOWED, CHECK, EPERM, POLICY_TABLE_SIZE, buildPolicy, type ArgRuleSet, type Policy } from './policy';
import { domainName, typeName } from './args';
import { SYSCALL_BY_NR } from '../linux/syscalls';

/**
 * JSON text for a learned policy: two-space indentation, with arrays of plain values
 * (names, paths, fds) on one line, so that each rule reads in a few lines.
 */
export function formatPolicy(doc: unknown): string {
  return JSON.stringify(doc, null, 2).replace(/\[\n\s*((?:(?:"(?:[^"\\]|\\.)*"|-?[\d.]+|true|false|null),?\n\s*)+)\]/g,
    (_m, body: string) => `[${body.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ')}]`) + '\n';
}

/** Files directly under one directory from which learn mode allows the directory instead. */
export const GENERALISE = 4;

type Counts = Map<string, number>;
/** Adds n to m[k]; true if k is new. */
const bump = (m: Counts, k: string, n = 1): boolean => { const old = m.get(k); m.set(k, (old ?? 0) + n); return old === undefined; };
const timesText = (n: number) => (n === 1 ? 'once' : `${n} times`);

export interface LearnedPolicy {
  /** The torov-format document. */
  readonly doc: Record<string, unknown>;
  /** What a human should know (generalisations, unrestricted calls): one line each. */
  readonly notes: string[];
  /** Counts for the summary line. */
  readonly syscalls: number;
  readonly argRules: number;
}

export interface LearnOptions {
  /** The program and its arguments, for the description. */
  readonly command: readonly string[];
  /** Whether torov has a handler for a syscall (no handler: the run got ENOSYS). */
  readonly implemented: (name: string) => boolean;
  readonly memory?: string;
  readonly network?: 'none' | 'host';
  /** The run was cut short and replayed: counts are first sightings only. */
  readonly partial?: boolean;
}

/** The observations a Learner takes, by method name (what a stream line names). */
const METHODS = ['call', 'path', 'socket', 'address', 'fd'] as const;
/** Most observations streamed while a run goes on (the final summary has them all). */
export const STREAM_MAX = 100_000;

/**
 * Records a run's calls (the Observer of src/syscalls/argcheck.ts). With a `sink`, each
 * observation seen for the first time is also written out at once, as one line, so that
 * a run cut short (--timeout, a kill) still leaves what it did up to then (see replay).
 */
export class Learner {
  private readonly calls: Counts = new Map();
  /** path -> "name:r" / "name:w" -> count. */
  private readonly paths = new Map<string, Counts>();
  /** Path syscalls seen in their fd form (AT_EMPTY_PATH, NULL path). */
  private readonly fdForm: Counts = new Map();
  /** "name domain type protocol" -> count. */
  private readonly sockets: Counts = new Map();
  /** name -> address text ('' = none) -> count. */
  private readonly addresses = new Map<string, Counts>();
  /** name -> fd -> count. */
  private readonly fds = new Map<string, Counts>();
  private streamed = 0;

  constructor(private readonly sink?: (line: string) => void) {}

  /** A Learner fed with the lines a sink received (a run that did not finish). */
  static replay(lines: readonly string[]): Learner {
    const l = new Learner();
    for (const line of lines) {
      let v: unknown;
      try { v = JSON.parse(line); } catch { continue; }   // a line cut by the kill
      if (!Array.isArray(v) || !(METHODS as readonly unknown[]).includes(v[0])) continue;
      const [m, ...a] = v as [typeof METHODS[number], ...unknown[]];
      (l[m] as (...x: unknown[]) => void)(...a);
    }
    return l;
  }

  private seen(isNew: boolean, ...v: unknown[]): void {
    if (isNew && this.sink && this.streamed < STREAM_MAX) { this.streamed++; this.sink(JSON.stringify(v)); }
  }

  call(name: string): void { this.seen(bump(this.calls, name), 'call', name); }
  path(name: string, path: string, write: boolean, fdOnly: boolean): void {
    if (fdOnly) { this.seen(bump(this.fdForm, name), 'path', name, path, write, fdOnly); return; }
    let m = this.paths.get(path);
    if (m === undefined) this.paths.set(path, (m = new Map()));
    this.seen(bump(m, `${name}:${write ? 'w' : 'r'}`), 'path', name, path, write, fdOnly);
  }
  socket(name: string, domain: number, type: number, protocol: number): void {
    this.seen(bump(this.sockets, `${name} ${domain} ${type} ${protocol}`), 'socket', name, domain, type, protocol);
  }
  address(name: string, addr: string | null): void {
    let m = this.addresses.get(name);
    if (m === undefined) this.addresses.set(name, (m = new Map()));
    this.seen(bump(m, addr ?? ''), 'address', name, addr);
  }
  fd(name: string, fd: number): void {
    let m = this.fds.get(name);
    if (m === undefined) this.fds.set(name, (m = new Map()));
    this.seen(bump(m, String(fd)), 'fd', name, fd);
  }

  /** The policy that lets the recorded run pass. */
  policy(o: LearnOptions): LearnedPolicy {
    const notes: string[] = [];
    const times = (n: number) => (o.partial ? 'at least once' : timesText(n));
    const rules: Record<string, unknown>[] = [];
    const covered = new Set<string>();   // names that got argument rules
    let argRules = 0;

    // Paths: generalise crowded directories, then one rule per path (or prefix).
    const byDir = new Map<string, string[]>();
    for (const p of this.paths.keys()) {
      const dir = p.slice(0, p.lastIndexOf('/')) || '/';
      let l = byDir.get(dir);
      if (l === undefined) byDir.set(dir, (l = []));
      l.push(p);
    }
    const entryOf = new Map<string, string>();   // path -> rule entry
    for (const [dir, files] of byDir) {
      // Never "/" or a top-level directory (/etc/, /tmp/): that would be most of the system.
      if (files.length < GENERALISE || dir.split('/').length < 3) continue;
      const entry = `${dir}/`;
      for (const f of files) entryOf.set(f, entry);
      if (this.paths.has(dir)) entryOf.set(dir, entry);
    }
    const groups = new Map<string, { files: string[]; counts: Counts }>();
    for (const [p, counts] of this.paths) {
      const entry = entryOf.get(p) ?? p;
      let g = groups.get(entry);
      if (g === undefined) groups.set(entry, (g = { files: [], counts: new Map() }));
      g.files.push(p);
      for (const [k, n] of counts) bump(g.counts, k, n);
    }
    for (const [entry, g] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      const write = [...g.counts.keys()].some((k) => k.endsWith(':w'));
      const names = [...new Set([...g.counts.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))].sort();
      names.forEach((n) => covered.add(n));
      const uses = [...g.counts].map(([k, n]) => `${k.slice(0, k.lastIndexOf(':'))} ${k.endsWith(':w') ? 'read-write' : 'read-only'} of ${entry}, ${times(n)}`);
      let why: string;
      if (entry.endsWith('/') && entry !== '/') {
        const shown = g.files.map((f) => f.slice(entry.length) || '.').sort();
        why = `generalised: the run touched ${g.files.length} entries under ${entry} (${shown.slice(0, 6).join(', ')}${shown.length > 6 ? ', ...' : ''}), so any file under it is allowed ${write ? 'read-write' : 'read-only'}; ${uses.join('; ')}`;
        notes.push(`generalised ${g.files.length} paths under ${entry} to the prefix ${entry} (${write ? 'read-write' : 'read-only'}): the policy allows any file under it; edit syscalls[].args.paths to narrow it`);
      } else {
        why = uses.join('; ');
      }
      rules.push({ names, action: 'allow', args: { paths: [entry], access: write ? 'read-write' : 'read-only' }, why });
      argRules++;
    }
    // Path syscalls used only on open fds (fstat as newfstatat(fd, "", AT_EMPTY_PATH)).
    const fdOnly = [...this.fdForm.keys()].filter((n) => !covered.has(n)).sort();
    if (fdOnly.length > 0) {
      rules.push({ names: fdOnly, action: 'allow', args: { paths: [], access: 'read-only' },
        why: `only on open descriptors, never by path: ${fdOnly.map((n) => `${n} ${times(this.fdForm.get(n)!)}`).join(', ')}` });
      fdOnly.forEach((n) => covered.add(n));
      argRules++;
    }

    // Sockets.
    for (const [key, n] of [...this.sockets].sort()) {
      const [name, d, t, p] = key.split(' ') as [string, string, string, string];
      rules.push({ names: [name], action: 'allow', args: { domain: [domainName(Number(d))], type: [typeName(Number(t))], protocol: [Number(p)] },
        why: `${name}(${domainName(Number(d))}, ${typeName(Number(t))}, ${p}) ${times(n)}` });
      covered.add(name);
      argRules++;
    }

    // Addresses.
    for (const [name, m] of [...this.addresses].sort(([a], [b]) => a.localeCompare(b))) {
      const addrs = [...m.keys()].filter((a) => a !== '');
      const odd = addrs.filter((a) => a.startsWith('AF_') || a.startsWith('address family'));
      if (odd.length > 0) {
        notes.push(`${name} used ${odd.join(', ')}, which the policy format cannot name: ${name} is allowed with any address`);
        rules.push({ names: [name], action: 'allow', why: `used with ${odd.join(', ')} (no address rule can name it): allowed with any address` });
        covered.add(name);
        continue;
      }
      const none = m.get('') ?? 0;
      const uses = addrs.map((a) => `${a} ${times(m.get(a)!)}`);
      if (none > 0) uses.push(`no address (a connected socket) ${times(none)}`);
      rules.push({ names: [name], action: 'allow', args: { addresses: addrs.sort() }, why: `${name} to ${uses.join(', ')}` });
      covered.add(name);
      argRules++;
    }

    // Descriptors: only where the run used nothing but the standard ones. Writes to stderr
    // stay allowed whatever the run did: a failing program's own error message must show.
    const STDERR_WRITES = ['write', 'writev'];
    for (const [name, m] of [...this.fds].sort(([a], [b]) => a.localeCompare(b))) {
      if (covered.has(name) || ALWAYS_ALLOWED.has(name) || !o.implemented(name)) continue;
      const fds = [...m.keys()].map(Number).sort((a, b) => a - b);
      if (!fds.every((fd) => fd >= 0 && fd <= 2)) continue;
      const why = `${name} on fd ${fds.map((fd) => `${fd} (${times(m.get(String(fd))!)})`).join(', ')} only`;
      const stderr = STDERR_WRITES.includes(name) && !fds.includes(2);
      rules.push({ names: [name], action: 'allow', args: { fd: stderr ? [...fds, 2] : fds }, why: stderr ? `${why}, and fd 2 for the program's error messages` : why });
      covered.add(name);
      argRules++;
    }
    const unused = STDERR_WRITES.filter((n) => !covered.has(n) && !this.calls.has(n) && o.implemented(n));
    if (unused.length > 0) {
      rules.push({ names: unused, action: 'allow', args: { fd: [2] }, why: 'not used by the run: fd 2 only, for the program\'s error messages' });
      argRules++;
    }

    // Everything else, by name.
    const rest = [...this.calls.keys()].filter((n) => !covered.has(n)).sort();
    const always = rest.filter((n) => ALWAYS_ALLOWED.has(n));
    const missing = rest.filter((n) => !ALWAYS_ALLOWED.has(n) && !o.implemented(n));
    const plain = rest.filter((n) => !ALWAYS_ALLOWED.has(n) && o.implemented(n));
    if (plain.includes('openat2')) notes.push('openat2 cannot have path rules: it is allowed for any path (deny it in the policy if the program falls back to openat)');
    const counted = (ns: string[]) => ns.map((n) => `${n} ${times(this.calls.get(n)!)}`).join(', ');
    const head: Record<string, unknown>[] = [];
    if (plain.length > 0) head.push({ names: plain, action: 'allow', why: `used by the run with arguments no rule restricts: ${counted(plain)}` });
    if (missing.length > 0) head.push({ names: missing, action: 'deny', errno: 'ENOSYS', why: `not implemented by torov: the run got ENOSYS (${counted(missing)})` });
    if (always.length > 0) head.push({ names: always, action: 'allow', why: `always allowed anyway; used by the run: ${counted(always)}` });

    const doc: Record<string, unknown> = {
      torov: 1,
      description: `learned by torov policy learn from: ${o.command.join(' ')}${o.partial ? ' (a run cut short: what it did until then)' : ''}`,
      defaultAction: 'deny',
      ...(o.memory !== undefined ? { memory: o.memory } : {}),
      ...(o.network === 'host' ? { network: 'host' } : {}),
      syscalls: [...head, ...rules],
    };
    return { doc, notes, syscalls: this.calls.size, argRules };
  }
}

/**
 * The policy a learning run uses: every Linux syscall is CHECK with nothing but an
 * "allow" fallback, so each one goes through the observer (src/syscalls/argcheck.ts) and
 * then runs. Numbers that are no syscall stay plainly allowed (they get ENOSYS).
 */
export function learningPolicy(): Policy {
  const base = buildPolicy({ source: '<learn mode>', defaultAction: 'allow', rules: [] });
  const actions = new Uint8Array(POLICY_TABLE_SIZE).fill(ALLOW);
  const argRules = new Array<ArgRuleSet | undefined>(POLICY_TABLE_SIZE).fill(undefined);
  const set: ArgRuleSet = Object.freeze({ rules: [], fallbackCode: ALLOW, fallbackErrno: EPERM, fallbackWhy: 'learn mode' });
  SYSCALL_BY_NR.forEach((s, nr) => {
    if (s === undefined || nr >= POLICY_TABLE_SIZE) return;
    actions[nr] = CHECK;
    argRules[nr] = set;
  });
  return Object.freeze({ ...base, actions, argRules: Object.freeze(argRules) });
}
