/**
 * `torov policy check` and `torov policy convert`: a risk-first summary of a
 * loaded policy (any format), and a compiled policy written out as torov's
 * format or as an original ToroV configuration (the Docker profile writer is
 * in docker-profile.ts).
 */
import * as path from 'node:path';
import { oneLine } from './errors';
import { errnoName } from './errno';
import { ACTION_NAMES, ALLOW, ALWAYS_ALLOWED, CHECK, DENY, KILL, LOG, argumentRules, denyErrno, plainVerdict, verdict, type Policy } from './policy';
import { conditionsText, conditionsToJson } from './args';
import { AREAS, linuxSyscalls, syscallArea, type SyscallTable } from './syscall-table';
import type { LoadedPolicy } from './load';
import type { JsonObject } from './json';

/**
 * Syscalls that reach the host (or the VMM's own state) broadly when allowed,
 * with why; `policy check` lists the allowed ones among its risks. Severity:
 * 1 is the worst.
 */
export const RISKY_SYSCALLS: Readonly<Record<string, readonly [number, string]>> = Object.freeze({
  ptrace: [2, 'inspects and controls other processes'],
  process_vm_readv: [2, 'reads other processes\' memory'],
  process_vm_writev: [2, 'writes other processes\' memory'],
  mount: [2, 'changes the filesystem tree; mounts can escape the guest\'s root'],
  umount2: [2, 'changes the filesystem tree'],
  pivot_root: [2, 'changes the root filesystem'],
  chroot: [3, 'changes the root directory'],
  move_mount: [2, 'changes the filesystem tree'],
  open_tree: [2, 'changes the filesystem tree'],
  fsopen: [2, 'creates filesystems'],
  fsmount: [2, 'creates mounts'],
  bpf: [2, 'loads programs into the host kernel'],
  perf_event_open: [3, 'observes the host kernel and other processes'],
  kexec_load: [1, 'replaces the running host kernel'],
  kexec_file_load: [1, 'replaces the running host kernel'],
  init_module: [1, 'loads host kernel modules'],
  finit_module: [1, 'loads host kernel modules'],
  delete_module: [1, 'unloads host kernel modules'],
  reboot: [1, 'reboots or halts the host'],
  unshare: [3, 'creates namespaces (the usual first step of kernel exploits)'],
  setns: [3, 'joins other namespaces'],
  userfaultfd: [3, 'a common kernel exploitation aid'],
  keyctl: [3, 'the host kernel keyring is not namespaced'],
  add_key: [3, 'the host kernel keyring is not namespaced'],
  request_key: [3, 'the host kernel keyring is not namespaced'],
  open_by_handle_at: [2, 'opens files by handle, bypassing the guest\'s root'],
  name_to_handle_at: [4, 'exposes file handles'],
  iopl: [1, 'raw I/O port access'],
  ioperm: [1, 'raw I/O port access'],
  swapon: [2, 'changes the host\'s swap'],
  swapoff: [2, 'changes the host\'s swap'],
  settimeofday: [3, 'sets the host clock'],
  clock_settime: [3, 'sets the host clock'],
  adjtimex: [3, 'adjusts the host clock'],
  clock_adjtime: [3, 'adjusts the host clock'],
  syslog: [4, 'reads the host kernel log'],
  acct: [3, 'switches process accounting on the host'],
  quotactl: [3, 'changes disk quotas'],
  fanotify_init: [4, 'watches the host filesystem'],
  lookup_dcookie: [4, 'reads kernel internals'],
  vhangup: [4, 'hangs up the terminal'],
  io_uring_setup: [3, 'io_uring bypasses syscall filtering'],
  io_uring_enter: [3, 'io_uring bypasses syscall filtering'],
  mknod: [4, 'creates device files'],
  mknodat: [4, 'creates device files'],
  execve: [5, 'runs another program (execve-like)'],
  execveat: [5, 'runs another program (execve-like)'],
  socket: [6, 'opens sockets (AF_UNIX, AF_INET/6, netlink route)'],
  socketpair: [7, 'opens connected socket pairs'],
});

interface Risk { readonly severity: number; readonly text: string }

/**
 * The lines `torov policy check` prints for a loaded policy: the kind, the
 * riskiest grants first, the allowed syscalls by area, action counts,
 * approximations and warnings. One item per line.
 */
export function policyReport(loaded: LoadedPolicy, table: SyscallTable = linuxSyscalls()): string[] {
  const p = loaded.policy;
  const lines: string[] = [];
  const kind = loaded.kind === 'docker' ? 'Docker seccomp profile' : loaded.kind === 'torov-config' ? 'ToroV configuration' : 'torov policy';
  lines.push(`format: ${kind}${p.description !== undefined && loaded.kind === 'torov' ? ` — ${oneLine(p.description)}` : ''}`);
  const errnoText = (n: number): string => errnoName(n) ?? String(n);
  lines.push(`default: ${p.defaultAction}${p.defaultCode === DENY ? ` (${errnoText(p.defaultErrno)})` : ''}`);

  const byCode = new Map<number, string[]>();
  for (const name of table.names) {
    const nr = table.nrOf(name)!;
    const c = verdict(p, nr);
    let l = byCode.get(c);
    if (l === undefined) byCode.set(c, (l = []));
    l.push(name);
  }
  const allowed = [...(byCode.get(ALLOW) ?? []), ...(byCode.get(LOG) ?? [])];
  const checked = byCode.get(CHECK) ?? [];
  const argRules = argumentRules(p);

  // Risks, worst first.
  const risks: Risk[] = [];
  if (p.defaultCode === ALLOW || p.defaultCode === LOG) {
    risks.push({ severity: 0, text: `default action ${p.defaultAction}: every syscall not listed is allowed, including ones added to Linux later` });
  }
  const sb = p.sandbox ?? {};
  const cfgRoot = loaded.kind === 'torov-config' ? loaded.mountPoint : undefined;
  if (sb.network === 'host') risks.push({ severity: 1, text: 'network: "host": the guest shares the host\'s network (no network namespace)' });
  if (sb.writable === true) risks.push({ severity: 1, text: `writable root: the guest can change every file under ${sb.root ?? cfgRoot ?? 'its root'}` });
  else if (Array.isArray(sb.writable) && sb.writable.length > 0) risks.push({ severity: 4, text: `writable paths: ${sb.writable.join(' ')}` });
  if (sb.newPid === false) risks.push({ severity: 3, text: 'newPid: false: the VMM shares the host\'s PID namespace (it can see and signal host processes)' });
  for (const name of allowed) {
    const r = RISKY_SYSCALLS[name];
    if (r !== undefined) risks.push({ severity: r[0], text: `allows ${name}: ${r[1]}` });
  }
  // openat2 cannot have path rules: allowing it next to path rules opens any path.
  if (argRules.some((r) => r.rule.args.paths !== undefined) && allowed.includes('openat2')) {
    risks.push({ severity: 2, text: 'allows openat2, which cannot have path rules: it opens any path the path rules of open/openat would refuse (deny it; libcs fall back to openat)' });
  }
  for (const { rule, names } of argRules) {
    if (rule.code !== ALLOW && rule.code !== LOG) continue;
    const risky = names.filter((n) => RISKY_SYSCALLS[n] !== undefined);
    if (risky.length > 0) risks.push({ severity: 5, text: `allows ${risky.join(' ')} under argument rules (syscalls[${rule.index}]: ${conditionsText(rule.args)})` });
    if (rule.args.paths?.some((e) => e.path === '/')) {
      risks.push({ severity: 2, text: `syscalls[${rule.index}] allows every path ("/") ${rule.args.access} for ${names.join(' ')}` });
    }
  }
  risks.sort((a, b) => a.severity - b.severity);
  lines.push(`risks (${risks.length}, riskiest first):`);
  if (risks.length === 0) lines.push('  none found');
  for (const r of risks) lines.push(`  ! ${r.text}`);

  // Allowed syscalls by area.
  const ordinary = allowed.filter((n) => !ALWAYS_ALLOWED.has(n));
  lines.push(`allowed (${allowed.length}, of which ${allowed.length - ordinary.length} always allowed):`);
  for (const area of AREAS) {
    const names = allowed.filter((n) => syscallArea(n) === area).sort();
    if (names.length > 0) lines.push(`  ${area} (${names.length}): ${names.join(' ')}`);
  }
  const log = byCode.get(LOG) ?? [];
  const kill = byCode.get(KILL) ?? [];
  const deny = byCode.get(DENY) ?? [];
  lines.push(`log (${log.length})${log.length ? `: ${log.join(' ')}` : ''}`);
  lines.push(`kill (${kill.length})${kill.length ? `: ${kill.join(' ')}` : ''}`);
  lines.push(`deny (${deny.length})`);
  lines.push(`decided by argument rules (${checked.length})${checked.length ? `: ${checked.join(' ')}` : ''}`);
  lines.push(`argument rules (${argRules.length}):`);
  for (const { rule, names } of argRules) {
    const action = rule.code === DENY ? `deny with ${errnoText(rule.errno)}` : ACTION_NAMES[rule.code] ?? 'deny';
    lines.push(`  syscalls[${rule.index}] ${action} ${names.join(' ')} when ${conditionsText(rule.args)}`);
  }
  const otherwise = new Map<string, string[]>();
  for (const name of checked) {
    const f = plainVerdict(p, table.nrOf(name)!);
    const action = f.code === DENY ? `deny with ${errnoText(f.errno)}` : ACTION_NAMES[f.code] ?? 'deny';
    otherwise.set(action, [...(otherwise.get(action) ?? []), name]);
  }
  for (const [action, names] of otherwise) lines.push(`  when none matches, ${action}: ${names.join(' ')}`);

  if (loaded.kind === 'docker') {
    lines.push(`approximations (${loaded.approximations.length}):`);
    for (const a of loaded.approximations) lines.push(`  ~ ${a}`);
  }
  lines.push(`warnings (${loaded.warnings.length}):`);
  for (const w of loaded.warnings) lines.push(`  ? ${w}`);
  return lines;
}

/**
 * A compiled policy in torov's format: the default, then one rule per
 * (action, errno, reason) for every syscall whose verdict differs from the
 * default, with memory and sandbox settings. Verdicts survive a round trip.
 */
export function toTorovDocument(p: Policy, table: SyscallTable = linuxSyscalls()): { doc: JsonObject; notes: string[] } {
  const notes: string[] = [];
  const groups = new Map<string, { action: string; errno?: number; why?: string; names: string[] }>();
  for (const name of table.names) {
    const nr = table.nrOf(name)!;
    // A syscall with argument rules: its fallback here, its rules after the plain ones.
    const v = plainVerdict(p, nr);
    const code = v.code;
    const errno = code === DENY ? v.errno : undefined;
    if (ALWAYS_ALLOWED.has(name) && code === ALLOW) continue; // always allowed anyway
    if (code === p.defaultCode && (code !== DENY || errno === p.defaultErrno)) continue;
    const action = ACTION_NAMES[code] ?? 'deny';
    const why = v.why;
    const key = `${action}:${errno ?? ''}:${why ?? ''}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { action, ...(errno !== undefined ? { errno } : {}), ...(why !== undefined ? { why } : {}), names: [] }));
    g.names.push(name);
  }
  const sb = p.sandbox;
  const doc: Record<string, unknown> = {
    ...(p.description !== undefined ? { description: p.description } : {}),
    defaultAction: p.defaultAction,
    defaultErrno: errnoName(p.defaultErrno) ?? p.defaultErrno,
    ...(p.memory !== undefined ? { memory: p.memory } : {}),
    ...(sb ?? {}),
    syscalls: [
      ...[...groups.values()].map((g) => ({
        names: g.names,
        action: g.action,
        ...(g.errno !== undefined && g.errno !== p.defaultErrno ? { errno: errnoName(g.errno) ?? g.errno } : {}),
        ...(g.why !== undefined ? { why: g.why } : {}),
      })),
      // Argument rules keep their order, after every plain rule (which they refine).
      ...argumentRules(p).map(({ rule, names }) => ({
        names,
        action: ACTION_NAMES[rule.code] ?? 'deny',
        ...(rule.code === DENY && rule.errno !== p.defaultErrno ? { errno: errnoName(rule.errno) ?? rule.errno } : {}),
        args: conditionsToJson(rule.args),
        ...(rule.why !== undefined ? { why: rule.why } : {}),
      })),
    ],
  };
  return { doc, notes };
}

/**
 * A compiled policy as an original ToroV configuration for `binary`. The
 * format only says allowed or not per hypercall, so: log becomes allowed,
 * kill and every errno become a blocked call (EPERM), and network, writable
 * lists, tmp, rlimits and memory are dropped; `notes` says which of these
 * happened. Paths are written relative to `outDir` when given.
 */
export function toTorovConfigDocument(
  p: Policy, binary: string, outDir: string | undefined, table: SyscallTable = linuxSyscalls(),
): { doc: JsonObject; notes: string[] } {
  const notes: string[] = [];
  const rel = (f: string): string => (outDir === undefined ? path.resolve(f) : path.relative(outDir, path.resolve(f)) || '.');
  const hypercalls: { Name: string; Allowed: string }[] = [];
  let logs = 0, kills = 0, errnos = 0;
  const conditional: string[] = [];
  for (const name of table.names) {
    const nr = table.nrOf(name)!;
    let code = verdict(p, nr);
    if (code === CHECK) {
      // Per hypercall only: a call with argument rules gets its fallback (never broader).
      code = plainVerdict(p, nr).code;
      conditional.push(name);
    }
    if (code === LOG) logs++;
    if (code === KILL) kills++;
    if (code === DENY && denyErrno(p, nr) !== 1) errnos++;
    if (code === ALLOW || code === LOG) hypercalls.push({ Name: name.charAt(0).toUpperCase() + name.slice(1), Allowed: 'True' });
  }
  if (p.defaultCode === ALLOW || p.defaultCode === LOG) notes.push(`default action ${p.defaultAction} cannot be expressed: only the ${hypercalls.length} syscalls torov knows are listed as allowed`);
  if (conditional.length > 0) notes.push(`argument rules cannot be expressed: ${conditional.join(' ')} get the action they have when no argument rule matches`);
  if (logs > 0) notes.push(`${logs} "log" syscall(s) become plainly allowed (no logging)`);
  if (kills > 0) notes.push(`${kills} "kill" syscall(s) become blocked (EPERM) instead of stopping the VM`);
  if (errnos > 0 || (p.defaultCode === DENY && p.defaultErrno !== 1)) notes.push('deny errnos other than EPERM are lost: every blocked call returns EPERM');
  if (p.memory !== undefined) notes.push('"memory" is dropped (a ToroV configuration has no memory size)');
  const sb = p.sandbox ?? {};
  const dropped = (['network', 'tmp', 'rlimits'] as const).filter((k) => sb[k] !== undefined);
  if (Array.isArray(sb.writable) || sb.writable === false) dropped.push('writable' as never);
  if (dropped.length > 0) notes.push(`sandbox settings ${dropped.join(', ')} are dropped (a MountPoint is always writable)`);
  if (sb.root !== undefined && sb.writable !== true) notes.push('the root becomes MountPoint, which is writable (the policy had it read-only or partly writable)');
  const doc: Record<string, unknown> = {
    Binary: rel(binary),
    ...(sb.root !== undefined ? { MountPoint: rel(sb.root) } : {}),
    ...(sb.newPid !== undefined ? { Newpid: sb.newPid ? 'True' : 'False' } : {}),
    Hypercalls: hypercalls,
  };
  return { doc, notes };
}
