/**
 * torov's own policy format (JSON; schema in policy.schema.json):
 *
 * ```json
 * {
 *   "description": "hello world",
 *   "defaultAction": "deny",
 *   "defaultErrno": "EPERM",
 *   "memory": "64M",
 *   "syscalls": [
 *     { "names": ["write", "writev"], "action": "allow", "why": "print the greeting" },
 *     { "names": ["openat"], "action": "deny", "errno": "EACCES", "why": "no files" }
 *   ]
 * }
 * ```
 *
 * Strict on purpose: an unknown field is an error (a typo in a security
 * policy should not be silently ignored), and every error names the file and
 * the field.
 */
import { PolicyError, didYouMean, fieldPath, showValue } from './errors';
import { ERRNO_NAMES, MAX_ERRNO, errnoByName } from './errno';
import { isJsonObject, mustBe, rejectUnknownKeys } from './json';
import {
  ACTIONS_FOR_HUMANS,
  ALWAYS_ALLOWED,
  ALWAYS_ALLOWED_WHY,
  buildPolicy,
  isAction,
  type Action,
  type Policy,
  type Rule,
} from './policy';
import { linuxSyscalls, type SyscallTable } from './syscall-table';
import { SANDBOX_FIELDS, parseSandboxSettings, sizeText } from './sandbox-settings';
import { parseSize } from './size';

export { parseSize };
import { MIN_MEMORY, MAX_MEMORY } from '../machine/layout';
import { parseArgConditions, type ArgConditions } from './args';

/** The version marker this torov understands in `"torov": 1`. */
export const TOROV_FORMAT_VERSION = 1;

/** Top-level fields of the format. */
export const TOP_LEVEL_FIELDS: readonly string[] = Object.freeze([
  '$schema', 'torov', 'description', 'defaultAction', 'defaultErrno', 'memory', 'syscalls', ...SANDBOX_FIELDS,
]);

/** Fields of one entry of `syscalls`; `args` holds argument conditions (src/policy/args.ts). */
export const RULE_FIELDS: readonly string[] = Object.freeze(['names', 'action', 'errno', 'why', 'args']);

/**
 * Validates a parsed torov-format document and compiles it into a Policy.
 * `source` is the file name used in error messages and `Policy.source`.
 * Throws PolicyError.
 */
export function parseTorovPolicy(doc: unknown, source: string, table: SyscallTable = linuxSyscalls()): Policy {
  if (!isJsonObject(doc)) {
    throw new PolicyError(source, undefined, `the top level must be a JSON object (got ${showValue(doc)})`);
  }
  rejectUnknownKeys(source, [], doc, TOP_LEVEL_FIELDS);

  if (doc.$schema !== undefined && typeof doc.$schema !== 'string') mustBe(source, ['$schema'], 'a string (the schema URL)', doc.$schema);
  if (doc.torov !== undefined && doc.torov !== TOROV_FORMAT_VERSION) {
    throw new PolicyError(source, 'torov', `unsupported format version ${showValue(doc.torov)} (this torov reads version ${TOROV_FORMAT_VERSION})`);
  }

  let description: string | undefined;
  if (doc.description !== undefined) {
    if (typeof doc.description !== 'string') mustBe(source, ['description'], 'a string', doc.description);
    description = doc.description;
  }

  const defaultAction = doc.defaultAction === undefined ? 'deny' : parseAction(source, ['defaultAction'], doc.defaultAction);
  const defaultErrno = doc.defaultErrno === undefined ? undefined : parseErrno(source, ['defaultErrno'], doc.defaultErrno);

  let memory: number | undefined;
  if (doc.memory !== undefined) {
    if (typeof doc.memory !== 'string' && typeof doc.memory !== 'number') {
      mustBe(source, ['memory'], 'a size such as "256M" or a number of bytes', doc.memory);
    }
    try {
      memory = parseSize(doc.memory);
    } catch (e) {
      throw new PolicyError(source, 'memory', e instanceof Error ? e.message : String(e));
    }
    // What a run accepts (the same range as --memory).
    if (memory < MIN_MEMORY || memory > MAX_MEMORY) {
      throw new PolicyError(source, 'memory', `must be from ${sizeText(MIN_MEMORY)} to ${sizeText(MAX_MEMORY)} (got ${showValue(doc.memory)})`);
    }
  }

  const rules: Rule[] = [];
  if (doc.syscalls !== undefined) {
    if (!Array.isArray(doc.syscalls)) mustBe(source, ['syscalls'], 'an array of rules', doc.syscalls);
    (doc.syscalls as unknown[]).forEach((r, i) => rules.push(parseRule(source, i, r, table)));
  }

  const sandbox = parseSandboxSettings(doc, source);
  return buildPolicy(
    {
      source,
      ...(description !== undefined ? { description } : {}),
      defaultAction,
      ...(defaultErrno !== undefined ? { defaultErrno } : {}),
      ...(memory !== undefined ? { memory } : {}),
      ...(sandbox !== undefined ? { sandbox } : {}),
      rules,
    },
    table,
  );
}

function parseRule(source: string, i: number, r: unknown, table: SyscallTable): Rule {
  const at = ['syscalls', i] as const;
  if (!isJsonObject(r)) mustBe(source, at, 'an object with "names" and "action"', r);
  rejectUnknownKeys(source, at, r, RULE_FIELDS);

  if (r.names === undefined) throw new PolicyError(source, fieldPath(...at, 'names'), 'required (the syscalls this rule is about)');
  if (!Array.isArray(r.names) || r.names.length === 0) mustBe(source, [...at, 'names'], 'a non-empty array of syscall names', r.names);

  if (r.action === undefined) {
    throw new PolicyError(source, fieldPath(...at, 'action'), `required (one of ${ACTIONS_FOR_HUMANS.join(', ')})`);
  }
  const action = parseAction(source, [...at, 'action'], r.action);

  const names: string[] = [];
  (r.names as unknown[]).forEach((n, j) => {
    const p = [...at, 'names', j];
    if (typeof n !== 'string') mustBe(source, p, 'a syscall name', n);
    if (table.nrOf(n) === undefined) {
      throw new PolicyError(source, fieldPath(...p), `unknown syscall ${JSON.stringify(n)}${didYouMean(n, table.names)}`);
    }
    if ((action === 'deny' || action === 'kill') && ALWAYS_ALLOWED.has(n)) {
      throw new PolicyError(
        source,
        fieldPath(...p),
        `${n} is always allowed and cannot be given action "${action}" (${ALWAYS_ALLOWED_WHY[n] ?? ''})`,
      );
    }
    names.push(n);
  });

  let errno: number | undefined;
  if (r.errno !== undefined) {
    if (action !== 'deny') {
      throw new PolicyError(source, fieldPath(...at, 'errno'), `only allowed with action "deny" (this rule's action is "${action}")`);
    }
    errno = parseErrno(source, [...at, 'errno'], r.errno);
  }

  let why: string | undefined;
  if (r.why !== undefined) {
    if (typeof r.why !== 'string') mustBe(source, [...at, 'why'], 'a string', r.why);
    why = r.why;
  }

  let args: ArgConditions | undefined;
  if (r.args !== undefined) {
    names.forEach((n, j) => {
      if (ALWAYS_ALLOWED.has(n)) throw new PolicyError(source, fieldPath(...at, 'names', j), `${n} is always allowed: it cannot have argument rules`);
    });
    args = parseArgConditions(source, [...at, 'args'], r.args, names);
  }

  return {
    names,
    action,
    ...(args !== undefined ? { args } : {}),
    ...(errno !== undefined ? { errno } : {}),
    ...(why !== undefined ? { why } : {}),
  };
}

function parseAction(source: string, path: readonly (string | number)[], v: unknown): Action {
  if (isAction(v)) return v;
  const hint = typeof v === 'string' ? didYouMean(v, ACTIONS_FOR_HUMANS) : '';
  throw new PolicyError(source, fieldPath(...path), `must be one of ${ACTIONS_FOR_HUMANS.join(', ')} (got ${showValue(v)})${hint}`);
}

/** An errno given by name ("EACCES", any case) or number (1..4095). */
function parseErrno(source: string, path: readonly (string | number)[], v: unknown): number {
  if (typeof v === 'string') {
    const n = errnoByName(v);
    if (n !== undefined) return n;
    throw new PolicyError(source, fieldPath(...path), `unknown errno ${JSON.stringify(v)}${didYouMean(v.toUpperCase(), ERRNO_NAMES)}`);
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_ERRNO) return v;
  return mustBe(source, path, `an errno name such as "EPERM" or a number from 1 to ${MAX_ERRNO}`, v);
}
