/**
 * Loading a policy file (either format) and describing a policy for humans.
 */
import { PolicyError, oneLine } from './errors';
import { readInputFile, InputError, MAX_POLICY_BYTES } from '../cli/input';
import { errnoName } from './errno';
import { parseJsonText } from './json';
import { ACTION_NAMES, ALLOW, CHECK, DENY, KILL, LOG, denyErrno, verdict, type Policy } from './policy';
import { conditionsText } from './args';
import { linuxSyscalls, type SyscallTable } from './syscall-table';
import { isTorovConfig, parseTorovConfig, type TorovConfig } from './torov-config';
import { parseTorovPolicy } from './torov-format';
import { isDockerProfile, parseDockerProfile, type DockerProfileFile } from './docker-profile';

/** A torov-format policy file. */
export interface TorovPolicyFile {
  readonly kind: 'torov';
  readonly policy: Policy;
  /** Always empty for this format (it is strict: problems are errors). */
  readonly warnings: readonly string[];
}

/**
 * What `loadPolicyFile` returns: a torov policy, a Docker/OCI seccomp profile
 * (with its warnings and approximations), or a ToroV configuration (program,
 * options and policy).
 */
export type LoadedPolicy = TorovPolicyFile | DockerProfileFile | TorovConfig;

/**
 * Reads, parses and validates a policy file. A document whose
 * "defaultAction" starts with "SCMP_ACT_" is read as a Docker/OCI seccomp
 * profile; one with a "Binary" or "Hypercalls" field as an original ToroV
 * configuration; anything else as torov's own format. Throws PolicyError with a one-line message
 * (`app.json: ...`) for an unreadable file, bad JSON or a bad policy.
 */
export function loadPolicyFile(file: string, table: SyscallTable = linuxSyscalls()): LoadedPolicy {
  let bytes: Buffer;
  try {
    // Only a regular file, of bounded size: a FIFO, a device or a /proc file is refused unread.
    bytes = readInputFile(file, MAX_POLICY_BYTES);
  } catch (e) {
    if (e instanceof InputError) throw new PolicyError(file, undefined, `cannot read the policy file: ${e.message}`);
    throw new PolicyError(file, undefined, `cannot read the policy file: ${describeFsError(e)}`);
  }
  return parsePolicyText(decodeText(bytes, file), file, table);
}

/**
 * A policy file's bytes as text: UTF-8 (a byte-order mark is allowed). Anything else gets
 * one line that says what the file looks like, never its bytes: UTF-16, binary data.
 */
export function decodeText(bytes: Uint8Array, source: string): string {
  const b = bytes;
  // A byte-order mark, or ASCII text in UTF-16 (every other byte NUL, little or big endian).
  const le = b.length >= 4 && b[0] !== 0 && b[1] === 0 && b[2] !== 0 && b[3] === 0;
  const be = b.length >= 4 && b[0] === 0 && b[1] !== 0 && b[2] === 0 && b[3] !== 0;
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff) || le || be) {
    throw new PolicyError(source, undefined, 'not valid JSON: the file is UTF-16 text; save it as UTF-8');
  }
  const nul = b.indexOf(0);
  if (nul >= 0) throw new PolicyError(source, undefined, `not valid JSON: the file is binary (a NUL byte at offset ${nul}), not JSON text`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    throw new PolicyError(source, undefined, 'not valid JSON: the file is not UTF-8 text');
  }
}

/** Like `loadPolicyFile`, for text already in hand; `source` names it in errors and anchors relative paths. */
export function parsePolicyText(text: string, source: string, table: SyscallTable = linuxSyscalls()): LoadedPolicy {
  const doc = parseJsonText(text, source);
  if (isDockerProfile(doc)) return parseDockerProfile(doc, source, table);
  if (isTorovConfig(doc)) return parseTorovConfig(doc, source, table);
  return { kind: 'torov', policy: parseTorovPolicy(doc, source, table), warnings: Object.freeze([]) };
}

function describeFsError(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': return 'permission denied';
    case 'EISDIR': return 'it is a directory';
    case 'ENOTDIR': return 'a component of the path is not a directory';
    default: return oneLine(e instanceof Error ? e.message : String(e));
  }
}

/**
 * A short human summary of a policy, for `torov policy show`:
 *
 * ```
 * policy: app.json — hello world
 * default: deny (EPERM), 431 syscalls
 * allow (8): arch_prctl brk exit exit_group rt_sigreturn set_tid_address write writev
 * kill (1): mount
 * deny with EACCES (1): openat
 * memory: 64 MiB
 * ```
 *
 * Names are listed for every action except the default one, and always for
 * `allow` (counts cover the syscalls of `table`).
 */
export function describePolicy(p: Policy, table: SyscallTable = linuxSyscalls()): string {
  const lines: string[] = [];
  lines.push(`policy: ${p.source}${p.description !== undefined ? ` — ${oneLine(p.description)}` : ''}`);

  // Group the known syscalls by action (and errno, for deny).
  const groups = new Map<string, string[]>();
  const keyOf = (nr: number): string => {
    const code = verdict(p, nr);
    return code === DENY ? `deny:${denyErrno(p, nr)}` : code === CHECK ? 'check' : (ACTION_NAMES[code] ?? String(code));
  };
  for (let nr = 0; nr < 4096; nr++) {
    const name = table.nameOf(nr);
    if (name === undefined) continue;
    const k = keyOf(nr);
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = []));
    g.push(name);
  }
  const defaultKey = p.defaultCode === DENY ? `deny:${p.defaultErrno}` : p.defaultAction;
  const errnoText = (n: number): string => errnoName(n) ?? String(n);
  lines.push(
    `default: ${p.defaultAction}${p.defaultCode === DENY ? ` (${errnoText(p.defaultErrno)})` : ''}, ` +
      `${groups.get(defaultKey)?.length ?? 0} syscalls`,
  );

  const order = [ALLOW, LOG, KILL, DENY, CHECK];
  for (const code of order) {
    const keys = [...groups.keys()].filter((k) => k === (code === CHECK ? 'check' : ACTION_NAMES[code]) || (code === DENY && k.startsWith('deny:'))).sort();
    for (const k of keys) {
      if (k === defaultKey && code !== ALLOW) continue;
      const names = [...(groups.get(k) ?? [])].sort();
      const label = k.startsWith('deny:') ? `deny with ${errnoText(Number(k.slice(5)))}` : k === 'check' ? 'decided by argument rules' : k;
      lines.push(wrap(`${label} (${names.length}): `, names));
    }
  }
  if (p.memory !== undefined) lines.push(`memory: ${formatSize(p.memory)}`);
  return lines.join('\n');
}

/**
 * The rules of a policy in order (later rules override earlier ones), each
 * as a line with the action and the reason, then its names, indented:
 *
 * ```
 * deny: changes the filesystem tree (mounts escape the guest's root)
 *   mount umount2 pivot_root chroot ...
 * deny with EACCES: no files
 *   openat
 * ```
 */
export function describeRules(p: Policy): string {
  return p.rules
    .map((r) => {
      const action = r.action === 'deny' && r.errno !== undefined ? `deny with ${errnoName(r.errno) ?? r.errno}` : r.action;
      return `${action}${r.why !== undefined ? `: ${oneLine(r.why)}` : ''}\n${wrap('  ', r.names)}${r.args !== undefined ? `\n  when ${conditionsText(r.args)}` : ''}`;
    })
    .join('\n');
}

/** 67108864 -> "64 MiB", 1536 -> "1.5 KiB", 1000 -> "1000 bytes". */
export function formatSize(bytes: number): string {
  const units: readonly [number, string][] = [[1024 ** 3, 'GiB'], [1024 ** 2, 'MiB'], [1024, 'KiB']];
  for (const [size, unit] of units) {
    if (bytes >= size) {
      const v = bytes / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} bytes`;
}

function wrap(head: string, words: readonly string[], width = 100): string {
  const out: string[] = [];
  let line = head;
  const indent = '  ';
  for (const w of words) {
    if (line.length + w.length + 1 > width && line.trim() !== '' && line !== head) {
      out.push(line.trimEnd());
      line = indent;
    }
    line += (line === head || line === indent ? '' : ' ') + w;
  }
  out.push(line.trimEnd());
  return out.join('\n');
}

