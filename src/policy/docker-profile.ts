/**
 * Docker/OCI seccomp profiles (the JSON format Docker, containerd, runc and
 * Kubernetes use), translated into a torov Policy, and torov policies
 * written back out in that format.
 *
 * ```json
 * { "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
 *   "architectures": ["SCMP_ARCH_X86_64"],
 *   "syscalls": [
 *     { "names": ["read", "write"], "action": "SCMP_ACT_ALLOW" },
 *     { "names": ["personality"], "action": "SCMP_ACT_ALLOW",
 *       "args": [{ "index": 0, "value": 0, "op": "SCMP_CMP_EQ" }] },
 *     { "names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": { "caps": ["CAP_SYS_ADMIN"] } } ] }
 * ```
 *
 * A document is a Docker profile when its `defaultAction` is a string that
 * starts with "SCMP_ACT_".
 *
 * Actions:
 * - SCMP_ACT_ALLOW -> allow; SCMP_ACT_LOG -> log;
 * - SCMP_ACT_ERRNO -> deny with `errnoRet` (else the profile's
 *   `defaultErrnoRet`, else EPERM);
 * - SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS -> kill;
 * - SCMP_ACT_TRAP -> kill (approximation: torov delivers no SIGSYS to the guest);
 * - SCMP_ACT_TRACE -> deny with EPERM (approximation: there is no tracer);
 * - SCMP_ACT_NOTIFY -> deny with EPERM (approximation: there is no listener).
 *
 * Conditions on an entry (`includes` / `excludes`), evaluated once at load time:
 * - `caps`: torov gives the guest no capabilities, so `includes.caps` is never
 *   satisfied (the entry is skipped) and `excludes.caps` always is;
 * - `arches`: the entry applies to x86-64 when `includes.arches` names
 *   "amd64" or "x86_64" (or is empty), and `excludes.arches` does not;
 * - `minKernel`: compared with the host kernel's release (uname -r).
 *
 * Argument conditions (`args`) become torov argument rules (`compare`) when
 * that is exact: every applicable entry with conditions for the syscall has
 * the same action and no entry without conditions names it (Docker's own
 * pattern: `personality` allowed for a few values, `clone` for flags without
 * namespaces). The call then gets that action when one entry's conditions
 * all hold, else the default. Otherwise the syscall gets the MOST RESTRICTIVE
 * of: the profile's default action, the actions of its entries with
 * arguments, and the action of its entry without arguments (kill > deny >
 * log > allow), never more permissive than the profile, and is listed in
 * `approximations`.
 *
 * Otherwise, as with torov's format, a later entry overrides an earlier one
 * for the same name. Unknown syscall names (profiles list names of every
 * architecture and kernel) are ignored with a warning; so are unknown fields.
 * Malformed fields are errors naming the field.
 */
import * as os from 'node:os';
import { PolicyError, fieldPath, showValue } from './errors';
import { MAX_ERRNO, errnoName } from './errno';
import { isJsonObject, mustBe, type JsonObject } from './json';
import {
  ALWAYS_ALLOWED,
  EPERM,
  buildPolicy,
  ACTION_NAMES,
  DENY,
  argumentRules,
  plainVerdict,
  type Action,
  type Policy,
  type Rule,
} from './policy';
import { compareText, conditionsText, numericAlternatives, numericOnly, type CmpOp, type Compare } from './args';
import { linuxSyscalls, type SyscallTable } from './syscall-table';

/** A Docker seccomp profile, translated. */
export interface DockerProfileFile {
  readonly kind: 'docker';
  readonly policy: Policy;
  /** Ignored things (unknown names and fields, foreign architectures), one line each. */
  readonly warnings: readonly string[];
  /** Where the translation is not exact (argument conditions, TRAP/TRACE/NOTIFY), one line each. */
  readonly approximations: readonly string[];
}

/** Options for `parseDockerProfile`. */
export interface DockerProfileOptions {
  /** The host kernel release to compare `minKernel` with (default: os.release()). */
  readonly kernelRelease?: string;
}

/** The seccomp actions of the format. */
export const DOCKER_ACTIONS: readonly string[] = Object.freeze([
  'SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_TRAP', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE', 'SCMP_ACT_NOTIFY',
]);

/** The comparison operators of `args[].op`. */
export const DOCKER_OPS: readonly string[] = Object.freeze([
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
]);

const TOP_FIELDS = ['defaultAction', 'defaultErrnoRet', 'architectures', 'archMap', 'syscalls', 'listenerPath', 'listenerMetadata', 'flags', 'comment'];
const ENTRY_FIELDS = ['names', 'name', 'action', 'errnoRet', 'args', 'includes', 'excludes', 'comment'];
const FILTER_FIELDS = ['caps', 'arches', 'minKernel'];
const ARG_FIELDS = ['index', 'value', 'valueTwo', 'op'];
/** Architecture names that mean x86-64, in `architectures`/`archMap` (SCMP_ARCH_*) and in `includes.arches` (Go names). */
const X86_64_NAMES = new Set(['SCMP_ARCH_X86_64', 'amd64', 'x86_64']);

/** True if a parsed JSON document is a Docker seccomp profile (its defaultAction starts with "SCMP_ACT_"). */
export function isDockerProfile(doc: unknown): boolean {
  return isJsonObject(doc) && typeof doc.defaultAction === 'string' && doc.defaultAction.startsWith('SCMP_ACT_');
}

/** Restrictiveness of a torov action: kill > deny > log > allow. */
export function strictness(a: Action): number {
  return a === 'kill' ? 3 : a === 'deny' ? 2 : a === 'log' ? 1 : 0;
}

interface Verdict { readonly action: Action; readonly errno?: number }

/**
 * Validates a parsed Docker profile and translates it into a Policy (see the
 * file comment for the rules). Throws PolicyError for malformed fields.
 */
export function parseDockerProfile(
  doc: unknown, source: string, table: SyscallTable = linuxSyscalls(), opts: DockerProfileOptions = {},
): DockerProfileFile {
  if (!isJsonObject(doc)) throw new PolicyError(source, undefined, `the top level must be a JSON object (got ${showValue(doc)})`);
  const warnings: string[] = [];
  const approximations: string[] = [];
  const warn = (at: readonly (string | number)[], msg: string): void => { warnings.push(`${source}: ${fieldPath(...at)}: ${msg}`); };
  for (const k of Object.keys(doc)) if (!TOP_FIELDS.includes(k)) warn([k], 'unknown field, ignored');
  const kernel = parseKernel(opts.kernelRelease ?? os.release());

  let defaultErrno: number | undefined;
  if (doc.defaultErrnoRet !== undefined) defaultErrno = parseErrnoRet(source, ['defaultErrnoRet'], doc.defaultErrnoRet);
  const approx = new Set<string>();
  const mapAction = (at: readonly (string | number)[], v: unknown, errnoRet: number | undefined): Verdict => {
    if (typeof v !== 'string' || !DOCKER_ACTIONS.includes(v)) mustBe(source, at, `one of ${DOCKER_ACTIONS.join(', ')}`, v);
    switch (v) {
      case 'SCMP_ACT_ALLOW': return { action: 'allow' };
      case 'SCMP_ACT_LOG': return { action: 'log' };
      case 'SCMP_ACT_ERRNO': return { action: 'deny', errno: errnoRet ?? defaultErrno ?? EPERM };
      case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': case 'SCMP_ACT_KILL_PROCESS': return { action: 'kill' };
      default: {
        const what = v === 'SCMP_ACT_TRAP' ? 'kill (torov delivers no SIGSYS to the guest)'
          : v === 'SCMP_ACT_TRACE' ? 'deny with EPERM (there is no tracer)'
            : 'deny with EPERM (there is no user-space listener)';
        if (!approx.has(v)) approximations.push(`${v} becomes ${what}`);
        approx.add(v);
        return v === 'SCMP_ACT_TRAP' ? { action: 'kill' } : { action: 'deny', errno: EPERM };
      }
    }
  };
  // defaultErrnoRet applies to the default action too.
  const def = mapAction(['defaultAction'], doc.defaultAction, undefined);

  // architectures / archMap: the profile should cover x86-64.
  const arches: string[] = [];
  if (doc.architectures !== undefined) {
    if (!Array.isArray(doc.architectures) || !doc.architectures.every((a) => typeof a === 'string')) {
      mustBe(source, ['architectures'], 'an array of SCMP_ARCH_* names', doc.architectures);
    }
    arches.push(...(doc.architectures as string[]));
  }
  if (doc.archMap !== undefined) {
    if (!Array.isArray(doc.archMap)) mustBe(source, ['archMap'], 'an array of {"architecture", "subArchitectures"}', doc.archMap);
    (doc.archMap as unknown[]).forEach((m, i) => {
      if (!isJsonObject(m) || typeof m.architecture !== 'string') mustBe(source, ['archMap', i], 'an object with "architecture"', m);
      arches.push(m.architecture as string);
      if (m.subArchitectures !== undefined) {
        if (!Array.isArray(m.subArchitectures) || !m.subArchitectures.every((a) => typeof a === 'string')) {
          mustBe(source, ['archMap', i, 'subArchitectures'], 'an array of SCMP_ARCH_* names', m.subArchitectures);
        }
        arches.push(...(m.subArchitectures as string[]));
      }
    });
  }
  if (arches.length > 0 && !arches.some((a) => X86_64_NAMES.has(a))) {
    warn(doc.architectures !== undefined ? ['architectures'] : ['archMap'], 'does not list SCMP_ARCH_X86_64; the profile is applied to the x86-64 guest anyway');
  }

  // Per syscall number: the last arg-less verdict, and the verdicts of entries with arguments.
  const plain = new Map<number, Verdict>();
  const withArgs = new Map<number, { v: Verdict; entry: number; conds: string; cmps: Compare[] }[]>();
  const unknown = new Set<string>();

  if (doc.syscalls !== undefined) {
    if (!Array.isArray(doc.syscalls)) mustBe(source, ['syscalls'], 'an array of entries', doc.syscalls);
    (doc.syscalls as unknown[]).forEach((e, i) => {
      const at = ['syscalls', i] as const;
      if (!isJsonObject(e)) mustBe(source, at, 'an object with "names" and "action"', e);
      for (const k of Object.keys(e)) if (!ENTRY_FIELDS.includes(k)) warn([...at, k], 'unknown field, ignored');
      const names: string[] = [];
      if (e.names !== undefined) {
        if (!Array.isArray(e.names) || !e.names.every((n) => typeof n === 'string')) mustBe(source, [...at, 'names'], 'an array of syscall names', e.names);
        names.push(...(e.names as string[]));
      }
      if (e.name !== undefined) {
        if (typeof e.name !== 'string') mustBe(source, [...at, 'name'], 'a syscall name', e.name);
        names.push(e.name);
      }
      if (e.names === undefined && e.name === undefined) throw new PolicyError(source, fieldPath(...at, 'names'), 'required (the syscalls this entry is about)');
      if (e.action === undefined) throw new PolicyError(source, fieldPath(...at, 'action'), `required (one of ${DOCKER_ACTIONS.join(', ')})`);
      const errnoRet = e.errnoRet === undefined ? undefined : parseErrnoRet(source, [...at, 'errnoRet'], e.errnoRet);
      const v = mapAction([...at, 'action'], e.action, errnoRet);
      const conds = e.args === undefined ? [] : parseArgs(source, [...at, 'args'], e.args);
      const applies = filterHolds(source, [...at, 'includes'], e.includes, true, kernel)
        && filterHolds(source, [...at, 'excludes'], e.excludes, false, kernel);
      if (e.comment !== undefined && typeof e.comment !== 'string') mustBe(source, [...at, 'comment'], 'a string', e.comment);
      if (!applies) return;
      for (const name of names) {
        const nr = table.nrOf(name);
        if (nr === undefined) { unknown.add(name); continue; }
        if ((v.action === 'deny' || v.action === 'kill') && ALWAYS_ALLOWED.has(name)) {
          warn([...at, 'action'], `${name} is always allowed in torov; its action "${v.action}" is ignored`);
        }
        if (conds.length === 0) plain.set(nr, v);
        else {
          let l = withArgs.get(nr);
          if (l === undefined) withArgs.set(nr, (l = []));
          l.push({ v, entry: i, conds: conds.map((c) => c.text).join(' && '), cmps: conds.map((c) => c.cmp) });
        }
      }
    });
  }
  if (unknown.size > 0) {
    warnings.push(`${source}: ${unknown.size} syscall name(s) unknown on x86-64, ignored: ${[...unknown].sort().join(' ')}`);
  }

  // Decide each syscall.
  const decided = new Map<number, { v: Verdict; why: string }>();
  for (const [nr, v] of plain) decided.set(nr, { v, why: 'from the Docker seccomp profile' });
  // Entries with conditions: exact argument rules when they cannot conflict (every entry
  // for the syscall has the same action, and no entry without conditions names it): the
  // call gets that action when any entry's conditions all hold, else the default, as
  // under libseccomp. Otherwise the most restrictive action, as an approximation.
  const exact = new Map<number, { names: string[]; v: Verdict; conds: string; cmps: Compare[] }>();
  for (const [nr, list] of withArgs) {
    const name = table.nameOf(nr) ?? String(nr);
    const v0 = list[0]!.v;
    if (plain.get(nr) === undefined && !ALWAYS_ALLOWED.has(name) && list.every((x) => x.v.action === v0.action && x.v.errno === v0.errno)) {
      for (const x of list) {
        let e = exact.get(x.entry);
        if (e === undefined) exact.set(x.entry, (e = { names: [], v: x.v, conds: x.conds, cmps: x.cmps }));
        e.names.push(name);
      }
      continue;
    }
    let best: Verdict = def;
    const p = plain.get(nr);
    for (const c of [...list.map((x) => x.v), ...(p !== undefined ? [p] : [])]) {
      if (strictness(c.action) > strictness(best.action)) best = c;
    }
    const rules = list.map((x) => `syscalls[${x.entry}] ${actionText(x.v)} if ${x.conds}`).join('; ');
    approximations.push(`${name}: argument conditions are not supported (${rules}); the whole syscall gets ${actionText(best)}`);
    decided.set(nr, { v: best, why: 'argument conditions in the Docker profile: the most restrictive action applies' });
  }

  // Group into rules by (action, errno, why), in syscall-number order.
  const groups = new Map<string, { names: string[]; v: Verdict; why: string }>();
  for (const nr of [...decided.keys()].sort((a, b) => a - b)) {
    const d = decided.get(nr)!;
    const name = table.nameOf(nr);
    if (name === undefined) continue;
    const key = `${d.v.action}:${d.v.errno ?? ''}:${d.why}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { names: [], v: d.v, why: d.why }));
    g.names.push(name);
  }
  const rules: Rule[] = [...groups.values()].map((g) => ({
    names: g.names,
    action: g.v.action,
    ...(g.v.errno !== undefined ? { errno: g.v.errno } : {}),
    why: g.why,
  }));
  for (const [entry, e] of [...exact].sort(([a], [b]) => a - b)) {
    rules.push({ names: e.names, action: e.v.action, ...(e.v.errno !== undefined ? { errno: e.v.errno } : {}),
      args: { compare: e.cmps }, why: `from the Docker seccomp profile's syscalls[${entry}]: ${e.conds}` });
  }

  const policy = buildPolicy(
    {
      source,
      description: 'Docker seccomp profile',
      defaultAction: def.action,
      ...(def.errno !== undefined ? { defaultErrno: def.errno } : defaultErrno !== undefined ? { defaultErrno } : {}),
      rules,
    },
    table,
  );
  return { kind: 'docker', policy, warnings: Object.freeze(warnings), approximations: Object.freeze(approximations) };
}

function actionText(v: Verdict): string {
  return v.action === 'deny' ? `deny (${errnoName(v.errno ?? EPERM) ?? v.errno})` : v.action;
}

function parseErrnoRet(source: string, at: readonly (string | number)[], v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_ERRNO) return v;
  return mustBe(source, at, `an errno number from 1 to ${MAX_ERRNO}`, v);
}

/** Validates `args`: each condition as torov's comparison and rendered for messages ("arg0 == 0x0"). */
function parseArgs(source: string, at: readonly (string | number)[], v: unknown): { text: string; cmp: Compare }[] {
  if (!Array.isArray(v)) mustBe(source, at, 'an array of {"index", "value", "op"}', v);
  return (v as unknown[]).map((a, k) => {
    const p = [...at, k];
    if (!isJsonObject(a)) mustBe(source, p, 'an object with "index", "value" and "op"', a);
    for (const f of Object.keys(a)) if (!ARG_FIELDS.includes(f)) throw new PolicyError(source, fieldPath(...p, f), `unknown field (expected ${ARG_FIELDS.join(', ')})`);
    if (typeof a.index !== 'number' || !Number.isInteger(a.index) || a.index < 0 || a.index > 5) mustBe(source, [...p, 'index'], 'an argument index from 0 to 5', a.index);
    const num = (f: 'value' | 'valueTwo'): number => {
      const x = a[f];
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) mustBe(source, [...p, f], 'a non-negative integer', x);
      return x as number;
    };
    const value = num('value');
    const valueTwo = a.valueTwo === undefined ? 0 : num('valueTwo');
    if (typeof a.op !== 'string' || !DOCKER_OPS.includes(a.op)) mustBe(source, [...p, 'op'], `one of ${DOCKER_OPS.join(', ')}`, a.op);
    const hex = (n: number): string => `0x${BigInt(n).toString(16)}`;
    const arg = `arg${a.index as number}`;
    const index = a.index as number;
    const c = (op: CmpOp, text: string): { text: string; cmp: Compare } => ({ text, cmp: { arg: index, op, value: BigInt(value) } });
    switch (a.op) {
      case 'SCMP_CMP_MASKED_EQ': return { text: `(${arg} & ${hex(value)}) == ${hex(valueTwo)}`, cmp: { arg: index, op: '&==', mask: BigInt(value), value: BigInt(valueTwo) } };
      case 'SCMP_CMP_NE': return c('!=', `${arg} != ${hex(value)}`);
      case 'SCMP_CMP_LT': return c('<', `${arg} < ${hex(value)}`);
      case 'SCMP_CMP_LE': return c('<=', `${arg} <= ${hex(value)}`);
      case 'SCMP_CMP_GE': return c('>=', `${arg} >= ${hex(value)}`);
      case 'SCMP_CMP_GT': return c('>', `${arg} > ${hex(value)}`);
      default: return c('==', `${arg} == ${hex(value)}`);
    }
  });
}

/** "6.8.0-45-generic" -> [6, 8]. */
function parseKernel(release: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function kernelAtLeast(k: [number, number] | undefined, min: [number, number]): boolean {
  if (k === undefined) return true; // unknown host kernel: assume a recent one
  return k[0] !== min[0] ? k[0] > min[0] : k[1] >= min[1];
}

/**
 * Whether an `includes` (include=true) or `excludes` filter lets the entry
 * apply: all its present conditions must hold (includes) / none may (excludes).
 */
function filterHolds(source: string, at: readonly (string | number)[], f: unknown, include: boolean, kernel: [number, number] | undefined): boolean {
  if (f === undefined) return true;
  if (!isJsonObject(f)) mustBe(source, at, 'an object with "caps", "arches" or "minKernel"', f);
  const o: JsonObject = f;
  for (const k of Object.keys(o)) if (!FILTER_FIELDS.includes(k)) throw new PolicyError(source, fieldPath(...at, k), `unknown field (expected ${FILTER_FIELDS.join(', ')})`);
  const strings = (k: 'caps' | 'arches'): string[] => {
    const v = o[k];
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) mustBe(source, [...at, k], 'an array of strings', v);
    return v as string[];
  };
  const caps = strings('caps');
  const arches = strings('arches');
  let minKernel: [number, number] | undefined;
  if (o.minKernel !== undefined) {
    if (typeof o.minKernel !== 'string' || (minKernel = parseKernel(o.minKernel)) === undefined) mustBe(source, [...at, 'minKernel'], 'a kernel version such as "4.8"', o.minKernel);
  }
  if (include) {
    if (caps.length > 0) return false; // the guest has no capabilities
    if (arches.length > 0 && !arches.some((a) => X86_64_NAMES.has(a))) return false;
    if (minKernel !== undefined && !kernelAtLeast(kernel, minKernel)) return false;
    return true;
  }
  // excludes: caps are never held, so they never exclude.
  if (arches.some((a) => X86_64_NAMES.has(a))) return false;
  if (minKernel !== undefined && kernelAtLeast(kernel, minKernel)) return false;
  return true;
}

/** The Docker action for a torov action. */
function dockerAction(a: Action): string {
  switch (a) {
    case 'allow': return 'SCMP_ACT_ALLOW';
    case 'deny': return 'SCMP_ACT_ERRNO';
    case 'kill': return 'SCMP_ACT_KILL_PROCESS';
    case 'log': return 'SCMP_ACT_LOG';
  }
}

/** torov's comparison operators as libseccomp's (SCMP_CMP_MASKED_EQ: value is the mask, valueTwo the value). */
const SCMP_OPS: Readonly<Record<CmpOp, string>> = {
  '==': 'SCMP_CMP_EQ', '!=': 'SCMP_CMP_NE', '<': 'SCMP_CMP_LT', '<=': 'SCMP_CMP_LE', '>': 'SCMP_CMP_GT', '>=': 'SCMP_CMP_GE', '&==': 'SCMP_CMP_MASKED_EQ',
};

/**
 * A compiled policy as a Docker seccomp profile (x86-64 only): the default
 * action, then one entry per (action, errno) for every syscall of `table`
 * whose verdict differs from the default. Verdicts survive a round trip;
 * `notes` lists what the format cannot carry (memory, sandbox settings, reasons).
 */
export function toDockerProfile(p: Policy, table: SyscallTable = linuxSyscalls()): { profile: JsonObject; notes: string[] } {
  const notes: string[] = [];
  if (p.memory !== undefined) notes.push('"memory" has no equivalent in a Docker profile: dropped');
  if (p.sandbox !== undefined) notes.push(`sandbox settings (${Object.keys(p.sandbox).join(', ')}) have no equivalent in a Docker profile: dropped`);
  const groups = new Map<string, { action: Action; errno?: number; names: string[] }>();
  for (const name of table.names) {
    const nr = table.nrOf(name)!;
    const v = plainVerdict(p, nr);
    const code = v.code;
    const errno = code === DENY ? v.errno : undefined;
    if (code === p.defaultCode && (code !== DENY || errno === p.defaultErrno)) continue;
    const action = ACTION_NAMES[code] ?? 'deny';
    const key = `${action}:${errno ?? ''}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { action, ...(errno !== undefined ? { errno } : {}), names: [] }));
    g.names.push(name);
  }
  // Argument rules: numeric ones become SCMP args (one entry per alternative: the entries
  // of a profile are alternatives, the args of one entry all hold); paths and addresses
  // have no seccomp form (seccomp sees pointers, not what they point to).
  const conditional: Record<string, unknown>[] = [];
  for (const { rule, names } of argumentRules(p)) {
    const action = ACTION_NAMES[rule.code] ?? 'deny';
    if (!numericOnly(rule.args)) {
      const fb = names.map((n) => `${n}: ${ACTION_NAMES[plainVerdict(p, table.nrOf(n)!).code] ?? 'deny'}`).join(', ');
      notes.push(`syscalls[${rule.index}] (${action} ${names.join(' ')} when ${conditionsText(rule.args)}) cannot be expressed in a Docker profile (seccomp cannot read paths or addresses): left out, so those calls get the action they have without it (${fb})`);
      continue;
    }
    for (const alt of numericAlternatives(rule.args)) {
      const args = alt.map((c) => {
        const big = (v: bigint) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined);
        const value = big(c.op === '&==' ? c.mask! : c.value), valueTwo = c.op === '&==' ? big(c.value) : 0;
        if (value === undefined || valueTwo === undefined) notes.push(`syscalls[${rule.index}]: ${compareText(c)} has a value above 2^53, which JSON numbers cannot carry exactly`);
        return { index: c.arg, value: value ?? Number(c.op === '&==' ? c.mask! : c.value), valueTwo: valueTwo ?? Number(c.value), op: SCMP_OPS[c.op] };
      });
      conditional.push({ names, action: dockerAction(action), ...(rule.code === DENY ? { errnoRet: rule.errno } : {}), args,
        ...(rule.why !== undefined ? { comment: rule.why } : {}) });
    }
    const plainToo = names.filter((n) => { const v = plainVerdict(p, table.nrOf(n)!); return v.code !== p.defaultCode; });
    if (plainToo.length > 0) {
      notes.push(`syscalls[${rule.index}]: ${plainToo.join(' ')} also have a plain action of their own; in torov the last matching rule wins, in libseccomp the precedence between an unconditional and a conditional entry differs: check the result`);
    }
  }
  const profile: Record<string, unknown> = {
    defaultAction: dockerAction(p.defaultAction),
    ...(p.defaultCode === DENY ? { defaultErrnoRet: p.defaultErrno } : {}),
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [...[...groups.values()].map((g) => ({
      names: g.names,
      action: dockerAction(g.action),
      ...(g.errno !== undefined ? { errnoRet: g.errno } : {}),
    })), ...conditional],
  };
  return { profile, notes };
}
