/**
 * The in-memory policy and its evaluation.
 *
 * A policy is compiled once, at load time, from an ordered list of rules
 * into flat per-syscall-number tables, so that the hot path (one lookup per
 * guest syscall exit) is a single typed-array read: no Map, no string, no
 * allocation.
 */
import { PolicyError } from './errors';
import { MAX_ERRNO } from './errno';
import { linuxSyscalls, type SyscallTable } from './syscall-table';
import type { SandboxSettings } from './sandbox-settings';
import type { ArgConditions } from './args';
import { EPERM } from '../linux/errno';

/**
 * What to do with a syscall:
 * - `allow`: hand it to the VMM's handler (which may still fail it, e.g.
 *   ENOSYS for calls torov does not implement);
 * - `deny`: do not run it; the guest gets `-errno` (EPERM unless set);
 * - `kill`: stop the guest at once, as seccomp's SECCOMP_RET_KILL_PROCESS does;
 * - `log`: allow it, and report it (name, arguments) on the VMM's log.
 */
export type Action = 'allow' | 'deny' | 'kill' | 'log';

/** Action code of `allow` in `Policy.actions`. */
export const ALLOW = 0;
/** Action code of `deny` in `Policy.actions`. */
export const DENY = 1;
/** Action code of `kill` in `Policy.actions`. */
export const KILL = 2;
/** Action code of `log` in `Policy.actions`. */
export const LOG = 3;

/**
 * Code in `Policy.actions` of a syscall whose verdict depends on its arguments: the
 * dispatcher then evaluates `Policy.argRules[nr]` (only these calls pay for it).
 */
export const CHECK = 4;

/** One of ALLOW, DENY, KILL, LOG. */
export type ActionCode = typeof ALLOW | typeof DENY | typeof KILL | typeof LOG;

/** Action names indexed by action code. */
export const ACTION_NAMES: readonly Action[] = Object.freeze(['allow', 'deny', 'kill', 'log'] as const);

/** The actions in the order error messages and docs list them (most restrictive first). */
export const ACTIONS_FOR_HUMANS: readonly Action[] = Object.freeze(['deny', 'kill', 'log', 'allow'] as const);

/** The code of an action name. */
export function actionCode(a: Action): ActionCode {
  switch (a) {
    case 'allow': return ALLOW;
    case 'deny': return DENY;
    case 'kill': return KILL;
    case 'log': return LOG;
  }
}

/** True if `s` is an action name. */
export function isAction(s: unknown): s is Action {
  return s === 'allow' || s === 'deny' || s === 'kill' || s === 'log';
}

/**
 * Size of the per-number tables. x86-64 syscall numbers end at 462 today;
 * 512 leaves room for new ones without a bounds check on the hot path (an
 * index past the end of a typed array simply reads undefined).
 */
export const POLICY_TABLE_SIZE = 512;

/** EPERM: what `deny` returns unless the policy says otherwise (seccomp and Docker's convention). */
export { EPERM };

/**
 * Syscalls every program needs, which bypass the policy: whatever the rules
 * and the default action say, they are allowed (a rule may still ask to `log`
 * them). Each only changes the guest's own state, which the VMM keeps, and
 * never reaches the host kernel on the guest's behalf, so allowing them
 * gives the guest nothing it does not already have.
 */
export const ALWAYS_ALLOWED_WHY: Readonly<Record<string, string>> = Object.freeze({
  exit: 'a thread must always be able to end; denying it leaves libc spinning in its exit loop',
  exit_group: 'a program must always be able to end; denying it leaves libc spinning in its exit loop',
  rt_sigreturn: 'returns from a signal handler; without it the program crashes after any handled signal',
  arch_prctl: 'static libcs set the TLS base (ARCH_SET_FS) before main; no static program starts without it',
  set_tid_address: 'libc startup registers its thread-exit futex word; it only records an address in the VM',
  brk: 'malloc\'s heap; libc startup calls it, and it only moves the break inside the guest\'s own memory',
});

/** The names in ALWAYS_ALLOWED_WHY: exit, exit_group, rt_sigreturn, arch_prctl, set_tid_address, brk. */
export const ALWAYS_ALLOWED: ReadonlySet<string> = new Set(Object.keys(ALWAYS_ALLOWED_WHY));

/** One rule: these syscalls get this action. Later rules override earlier ones for the same name. */
export interface Rule {
  /** Syscall names, kernel spelling (`openat`, `exit_group`). */
  readonly names: readonly string[];
  readonly action: Action;
  /** Errno returned by `deny` (a number); the policy's defaultErrno if absent. */
  readonly errno?: number;
  /** Why the rule is there; shown by `torov policy show` and in denial messages. */
  readonly why?: string;
  /** Argument conditions (src/policy/args.ts): the rule applies only to calls that meet them all. */
  readonly args?: ArgConditions;
}

/** A rule with argument conditions, compiled for one syscall. */
export interface ArgRule {
  /** Index of the rule in the policy's rules (`syscalls[index]` in torov's format). */
  readonly index: number;
  readonly code: ActionCode;
  readonly errno: number;
  readonly why?: string;
  readonly args: ArgConditions;
}

/**
 * How a syscall with argument rules is decided: the last rule whose conditions all hold
 * decides; if none does, the fallback (the last plain rule before them, or the default).
 */
export interface ArgRuleSet {
  /** In policy order. */
  readonly rules: readonly ArgRule[];
  readonly fallbackCode: ActionCode;
  readonly fallbackErrno: number;
  readonly fallbackWhy?: string;
}

/** A compiled policy. Build one with `buildPolicy`. */
export interface Policy {
  /** The file it came from, or '<default>'. */
  readonly source: string;
  readonly description?: string;
  /** Action for syscalls no rule names (and for numbers outside the table). */
  readonly defaultAction: Action;
  /** `actionCode(defaultAction)`, precomputed for `verdict`. */
  readonly defaultCode: ActionCode;
  /** Errno for `deny` when the deciding rule gives none (EPERM=1 unless set). */
  readonly defaultErrno: number;
  /** Index = syscall number (POLICY_TABLE_SIZE entries), value = action code. */
  readonly actions: Uint8Array;
  /** Index = syscall number: the errno `deny` returns. */
  readonly errnos: Uint16Array;
  /** Index = syscall number: the `why` of the rule that decided it, if any. */
  readonly why: readonly (string | undefined)[];
  /** Index = syscall number: its argument rules, where `actions[nr]` is CHECK. */
  readonly argRules: readonly (ArgRuleSet | undefined)[];
  /** Guest memory size in bytes, if the policy sets one ("memory": "256M"). */
  readonly memory?: number;
  /** Sandbox settings (root, network, ...), if the policy sets any. */
  readonly sandbox?: SandboxSettings;
  /** The rules it was compiled from, in order (for `torov policy show`). */
  readonly rules: readonly Rule[];
}

/**
 * The action code for syscall `nr`: one typed-array read. Numbers outside
 * the table (negative, too large, not an integer) get the default action.
 */
export function verdict(p: Policy, nr: number): number {
  const a = p.actions[nr];
  return a === undefined ? p.defaultCode : a;
}

/**
 * The verdict of `nr` without looking at arguments, as an ALLOW/DENY/KILL/LOG code: for a
 * syscall with argument rules, the most permissive outcome any of its rules (or its
 * fallback) can give (allow > log > deny > kill). What the VMM's seccomp filter and the
 * converters use to ask "can this syscall ever run?".
 */
export function widestVerdict(p: Policy, nr: number): ActionCode {
  const a = verdict(p, nr);
  if (a !== CHECK) return a as ActionCode;
  const set = p.argRules[nr]!;
  const codes = [set.fallbackCode, ...set.rules.map((r) => r.code)];
  for (const c of [ALLOW, LOG, DENY, KILL] as const) if (codes.includes(c)) return c;
  return DENY;
}

/**
 * The plain verdict of `nr`: its action code, or for a syscall with argument rules the
 * fallback's (what applies when none of its rules matches), with errno and reason.
 */
export function plainVerdict(p: Policy, nr: number): { code: ActionCode; errno: number; why: string | undefined } {
  const a = verdict(p, nr);
  if (a === CHECK) {
    const s = p.argRules[nr]!;
    return { code: s.fallbackCode, errno: s.fallbackErrno, why: s.fallbackWhy };
  }
  return { code: a as ActionCode, errno: denyErrno(p, nr), why: p.why[nr] };
}

/** Every argument rule of a policy, once per rule (by its index), with the syscall names it applies to. */
export function argumentRules(p: Policy): { rule: ArgRule; names: string[] }[] {
  const byIndex = new Map<number, { rule: ArgRule; names: string[] }>();
  p.argRules.forEach((set, nr) => {
    if (set === undefined) return;
    for (const r of set.rules) {
      let e = byIndex.get(r.index);
      if (e === undefined) byIndex.set(r.index, (e = { rule: r, names: [] }));
      const name = p.rules[r.index]?.names.find((n) => linuxSyscalls().nrOf(n) === nr);
      if (name !== undefined) e.names.push(name);
    }
  });
  return [...byIndex.values()].sort((a, b) => a.rule.index - b.rule.index);
}

/** The errno (positive) that `deny` returns for syscall `nr`. */
export function denyErrno(p: Policy, nr: number): number {
  const e = p.errnos[nr];
  return e === undefined ? p.defaultErrno : e;
}

/** What `buildPolicy` compiles. */
export interface PolicySpec {
  readonly source: string;
  readonly description?: string;
  readonly defaultAction: Action;
  /** EPERM if absent. */
  readonly defaultErrno?: number;
  readonly memory?: number;
  readonly sandbox?: SandboxSettings;
  readonly rules: readonly Rule[];
}

/**
 * Compiles rules into a Policy. Rules apply in order, so a later rule
 * overrides an earlier one for the same name. ALWAYS_ALLOWED syscalls end up
 * allowed whatever the rules say, except that a `log` rule is honoured (it
 * still allows them).
 *
 * The format loaders validate names, actions and errnos first and report
 * problems with their field paths; this function only re-checks them and
 * throws a PolicyError naming the rule if one slips through.
 */
export function buildPolicy(spec: PolicySpec, table: SyscallTable = linuxSyscalls()): Policy {
  const defaultErrno = spec.defaultErrno ?? EPERM;
  checkErrno(spec.source, 'defaultErrno', defaultErrno);
  if (!isAction(spec.defaultAction)) throw new PolicyError(spec.source, 'defaultAction', `unknown action ${JSON.stringify(spec.defaultAction)}`);
  const defaultCode = actionCode(spec.defaultAction);

  const actions = new Uint8Array(POLICY_TABLE_SIZE).fill(defaultCode);
  const errnos = new Uint16Array(POLICY_TABLE_SIZE).fill(defaultErrno);
  const why = new Array<string | undefined>(POLICY_TABLE_SIZE).fill(undefined);
  const named = new Uint8Array(POLICY_TABLE_SIZE); // 1 = some rule named this number
  const pending = new Map<number, ArgRule[]>();       // argument rules since the last plain rule

  spec.rules.forEach((rule, i) => {
    if (!isAction(rule.action)) throw new PolicyError(spec.source, `rules[${i}].action`, `unknown action ${JSON.stringify(rule.action)}`);
    const code = actionCode(rule.action);
    const errno = rule.errno ?? defaultErrno;
    checkErrno(spec.source, `rules[${i}].errno`, errno);
    rule.names.forEach((name, j) => {
      const nr = table.nrOf(name);
      if (nr === undefined || nr < 0 || nr >= POLICY_TABLE_SIZE) {
        throw new PolicyError(spec.source, `rules[${i}].names[${j}]`, `unknown syscall ${JSON.stringify(name)}`);
      }
      named[nr] = 1;
      if (rule.args !== undefined) {
        if (ALWAYS_ALLOWED.has(name)) throw new PolicyError(spec.source, `rules[${i}].names[${j}]`, `${name} is always allowed: it cannot have argument rules`);
        let l = pending.get(nr);
        if (l === undefined) pending.set(nr, (l = []));
        l.push({ index: i, code, errno, ...(rule.why !== undefined ? { why: rule.why } : {}), args: rule.args });
        return;
      }
      // A plain rule decides every call: argument rules before it no longer matter.
      pending.delete(nr);
      actions[nr] = code;
      errnos[nr] = errno;
      why[nr] = rule.why;
    });
  });
  const argRules = new Array<ArgRuleSet | undefined>(POLICY_TABLE_SIZE).fill(undefined);
  for (const [nr, l] of pending) {
    const fw = why[nr];
    argRules[nr] = Object.freeze({ rules: Object.freeze(l), fallbackCode: actions[nr] as ActionCode, fallbackErrno: errnos[nr]!, ...(fw !== undefined ? { fallbackWhy: fw } : {}) });
    actions[nr] = CHECK;
  }

  for (const name of ALWAYS_ALLOWED) {
    const nr = table.nrOf(name);
    if (nr === undefined || nr >= POLICY_TABLE_SIZE) continue; // not in this ABI
    if (actions[nr] === LOG && named[nr] === 1) continue; // an explicit log rule: still allowed
    actions[nr] = ALLOW;
    why[nr] = `always allowed: ${ALWAYS_ALLOWED_WHY[name] ?? ''}`;
  }

  const p: Policy = {
    source: spec.source,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    defaultAction: spec.defaultAction,
    defaultCode,
    defaultErrno,
    actions,
    errnos,
    why: Object.freeze(why),
    argRules: Object.freeze(argRules),
    ...(spec.memory !== undefined ? { memory: spec.memory } : {}),
    ...(spec.sandbox !== undefined ? { sandbox: Object.freeze({ ...spec.sandbox }) } : {}),
    rules: Object.freeze(spec.rules.slice()),
  };
  return Object.freeze(p);
}

function checkErrno(source: string, field: string, e: number): void {
  if (!Number.isInteger(e) || e < 1 || e > MAX_ERRNO) {
    throw new PolicyError(source, field, `errno must be an integer from 1 to ${MAX_ERRNO} (got ${e})`);
  }
}
