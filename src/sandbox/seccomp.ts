/**
 * The VMM's own seccomp filter: the last step of the sandbox, right before the guest's first
 * instruction. From then on the host kernel accepts from the torov process only the host
 * syscalls that the VMM runtime needs and that the handlers of the guest syscalls the policy
 * lets through make; any other syscall, from any thread, kills the whole process
 * (SECCOMP_RET_KILL_PROCESS: it dies of SIGSYS, status 159 for a shell).
 *
 * What is allowed (the rules, each with its reason, are data: src/sandbox/seccomp-rules.ts):
 * - RUNTIME: what Node.js, V8, libuv, glibc, koffi and the VM loop need once a guest runs:
 *   the KVM ioctls, memory management (V8's GC, malloc, the guest window), futexes, thread
 *   and process exit, signal returns, I/O on the VMM's own fds, Node's stdio reset at exit.
 *   It has no clone, execve, open, socket, mount, ptrace, prctl or seccomp: whatever the
 *   policy, no thread or process can be created and the filter cannot be changed or added
 *   to; files and sockets can be opened only if the policy lets the guest open them.
 * - GUEST: for every guest syscall the policy allows or logs (`log` runs the handler too),
 *   the host syscalls its handler makes (guest openat -> host openat2, openat, readlinkat,
 *   access, close; guest getpid -> nothing). A guest syscall the policy denies or kills never
 *   reaches a handler, so its host calls are not added: a policy without sockets gives a VMM
 *   that cannot make one either, even if a bug in torov tried.
 *
 * The BPF program (classic BPF, as seccomp takes it; at most 4096 instructions):
 *   1. seccomp_data.arch must be AUDIT_ARCH_X86_64, else kill (no i386 or other ABI entry);
 *   2. numbers with the x32 bit (nr >= 0x40000000) are killed (x32 is another ABI);
 *   3. ioctl is tested first (KVM_RUN is the hot path: one ioctl per guest syscall);
 *   4. then a binary search over the allowed numbers, ending in ALLOW, in argument checks,
 *      or in KILL_PROCESS (the default).
 * Argument conditions are equalities on seccomp_data.args[i], which are 64 bits wide while
 * BPF loads 32: both halves are compared (low word at offset 16+8i, high word at 20+8i,
 * little-endian), so an ioctl request with stray high bits does not match. An ioctl is
 * allowed only for listed request numbers (args[1]: KVM_RUN, KVM_SET_MSRS, TCGETS...);
 * tgkill only at the VMM's own pid (filled in when the filter is built: build it in the
 * process that installs it). Syscalls whose verdict does not depend on arguments are
 * cached by the kernel (Linux 5.11+), so the filter costs nothing on them.
 *
 * When: the sandbox calls enableSeccomp(policy) last, after the jail and the privilege drop,
 * once the first Machine exists (/dev/kvm opened, the VM, its memory and vCPU created, every
 * module loaded: opening files and starting threads are over) and right before its run().
 * Later Machines in the same process (a reused VM, or a new one of another size) are built
 * under the filter: their KVM ioctls, mmaps and identity queries are runtime rules.
 *
 * Threads: installFilter() uses SECCOMP_FILTER_FLAG_TSYNC, so the filter applies at once to
 * every thread of the process (V8's platform workers, libuv's threads, a gdb watcher), not
 * only the caller; threads created later would inherit it, but clone is not allowed. It
 * needs no_new_privs, which installFilter() sets if the sandbox has not already. A filter
 * can never be removed; the process keeps it until it exits.
 */
import { sys, addressOf } from '../host/libc';
import { SYS, syscallName } from '../linux/syscalls';
import { EACCES, EEXIST, EINVAL, errnoName } from '../linux/errno';
import { PR_GET_NO_NEW_PRIVS, PR_SET_NO_NEW_PRIVS } from '../linux/prctl';
import { Policy, verdict, widestVerdict, ACTION_NAMES, ALLOW, LOG, CHECK } from '../policy/policy';
import { RUNTIME_GROUPS, GDB_GROUP, SERVE_GROUP, SERVE_WORKER_GROUP, GUEST_RULES, ArgEq, HostRule, RuleGroup } from './seccomp-rules';
import { SandboxError } from './jail';

/** AUDIT_ARCH_X86_64 (<linux/audit.h>): EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** __X32_SYSCALL_BIT: x32 syscalls are x86-64 numbers with this bit set. */
export const X32_SYSCALL_BIT = 0x40000000;
/** Filter return values (<linux/seccomp.h>). */
export const SECCOMP_RET_KILL_PROCESS = 0x80000000, SECCOMP_RET_ALLOW = 0x7fff0000, SECCOMP_RET_ERRNO = 0x00050000;
/** seccomp(2) operation and flag; prctl options. */
const SECCOMP_SET_MODE_FILTER = 1, SECCOMP_FILTER_FLAG_TSYNC = 1;
/** BPF_MAXINSNS: the longest program the kernel accepts. */
export const BPF_MAXINSNS = 4096;

/** struct seccomp_data offsets: nr (u32), arch (u32), instruction_pointer (u64), args[6] (u64). */
export const SECCOMP_DATA = { nr: 0, arch: 4, ip: 8, args: 16 } as const;

/** Classic BPF opcodes used here (<linux/bpf_common.h>). */
export const BPF = {
  LD_W_ABS: 0x20,   // BPF_LD | BPF_W | BPF_ABS
  JEQ_K: 0x15,      // BPF_JMP | BPF_JEQ | BPF_K
  JGE_K: 0x35,      // BPF_JMP | BPF_JGE | BPF_K
  JA: 0x05,         // BPF_JMP | BPF_JA
  RET_K: 0x06,      // BPF_RET | BPF_K
} as const;

/** An argument condition with its value resolved: args[arg] == value. */
export interface ResolvedArg { readonly arg: number; readonly value: bigint; readonly name: string }

/** One rule of the filter, with the syscall number and where it comes from. */
export interface ResolvedRule {
  readonly syscall: string;
  readonly nr: number;
  /** Refused with this errno instead of allowed. */
  readonly errno?: number;
  /** All must hold; empty: any arguments. */
  readonly args: readonly ResolvedArg[];
  readonly why: string;
  /** 'runtime', 'gdb', or 'guest' (then `group` is the guest syscall it serves). */
  readonly origin: 'runtime' | 'gdb' | 'guest';
  /** The runtime group's name, or the guest syscall's. */
  readonly group: string;
}

/** A guest syscall with a handler, and what the filter does for it. */
export interface GuestEntry {
  readonly name: string;
  readonly action: 'allow' | 'deny' | 'kill' | 'log';
  /** Host syscalls of its handler (names), whether or not the policy lets them in. */
  readonly host: readonly string[];
  readonly why: string;
}

export interface FilterOptions {
  /** Add the gdb stub's rules (a debugger is attached). */
  readonly gdb?: boolean;
  /** Add torov serve's rules (src/sandbox/seccomp-rules.ts, SERVE_GROUP). */
  readonly serve?: boolean;
  /** Add a serve --workers worker's rule too (SERVE_WORKER_GROUP: its front's channel). */
  readonly serveWorker?: boolean;
  /** The VMM's process id, for rules limited to the process itself (default: this process). */
  readonly pid?: number;
}

/** A built filter: the program to install and what it is made of. */
export interface SeccompFilter {
  /** struct sock_filter[] (8 bytes each: u16 code, u8 jt, u8 jf, u32 k; little-endian). */
  readonly program: Buffer;
  readonly instructions: number;
  readonly rules: readonly ResolvedRule[];
  /** Every guest syscall that has a handler, with the policy's action. */
  readonly guest: readonly GuestEntry[];
  readonly groups: readonly RuleGroup[];
  readonly policySource: string;
}

// ---------------------------------------------------------------------------------------
// Rules

function resolveArgs(args: readonly ArgEq[] | undefined, pid: number): ResolvedArg[] {
  return (args ?? []).map((a) => ({ arg: a.arg, value: BigInt(a.value === 'pid' ? pid : a.value), name: a.name }));
}

function resolve(r: HostRule, origin: ResolvedRule['origin'], group: string, pid: number): ResolvedRule {
  return { syscall: r.syscall, nr: SYS[r.syscall], args: resolveArgs(r.args, pid), why: r.why, origin, group, ...(r.errno !== undefined ? { errno: r.errno } : {}) };
}

/** What the argument checks (src/syscalls/argcheck.ts) ask of the host to resolve a path. */
const ARG_CHECK_HOST = ['openat2', 'readlinkat', 'close'] as const;
const ARG_CHECK_WHY = 'argument rules: paths are resolved by O_PATH opens (openat2), named through /proc/self/fd (readlinkat), then closed';

/** The rules of the filter for `policy`: runtime, [gdb,] then the guest's, in that order. */
export function filterRules(policy: Policy, opts: FilterOptions = {}): { rules: ResolvedRule[]; guest: GuestEntry[]; groups: RuleGroup[] } {
  const pid = opts.pid ?? process.pid;
  const groups = [...RUNTIME_GROUPS, ...(opts.gdb ? [GDB_GROUP] : []), ...(opts.serve ? [SERVE_GROUP] : []), ...(opts.serve && opts.serveWorker ? [SERVE_WORKER_GROUP] : [])];
  const rules: ResolvedRule[] = [];
  for (const g of groups) for (const r of g.rules) rules.push(resolve(r, g === GDB_GROUP ? 'gdb' : 'runtime', g.name, pid));
  const guest: GuestEntry[] = [];
  for (const [name, g] of Object.entries(GUEST_RULES).sort(([a], [b]) => SYS[a as keyof typeof SYS] - SYS[b as keyof typeof SYS])) {
    const nr = SYS[name as keyof typeof SYS];
    // A syscall with argument rules may run when any of its rules (or the fallback) allows.
    const checked = verdict(policy, nr) === CHECK;
    const code = widestVerdict(policy, nr);
    const action = ACTION_NAMES[code] ?? 'deny';
    guest.push({ name, action, host: [...new Set([...g.host.map((h) => (typeof h === 'string' ? h : h.syscall)), ...(checked ? ARG_CHECK_HOST : [])])],
      why: checked ? `${g.why}; ${ARG_CHECK_WHY}` : g.why });
    if (code !== ALLOW && code !== LOG) continue;
    for (const h of g.host) {
      const r: HostRule = typeof h === 'string' ? { syscall: h, why: g.why }
        : 'errno' in h ? { syscall: h.syscall, errno: h.errno, why: g.why } : { syscall: h.syscall, args: h.args, why: g.why };
      rules.push(resolve(r, 'guest', name, pid));
    }
    if (checked) for (const h of ARG_CHECK_HOST) rules.push(resolve({ syscall: h, why: ARG_CHECK_WHY }, 'guest', name, pid));
  }
  return { rules, guest, groups };
}

/**
 * For one syscall number: unconditional, or allowed when one of the alternatives holds (each
 * an AND of equalities), or refused with an errno (when no rule allows it).
 */
interface Entry { nr: number; always: boolean; alternatives: ResolvedArg[][]; errno?: number }

function entries(rules: readonly ResolvedRule[]): Entry[] {
  const byNr = new Map<number, Entry>();
  for (const r of rules) {
    let e = byNr.get(r.nr);
    if (!e) byNr.set(r.nr, e = { nr: r.nr, always: false, alternatives: [] });
    if (r.errno !== undefined) { e.errno = r.errno; continue; }
    if (r.args.length === 0) { e.always = true; continue; }
    const key = (a: readonly ResolvedArg[]) => a.map((x) => `${x.arg}=${x.value}`).sort().join(',');
    if (!e.alternatives.some((alt) => key(alt) === key(r.args))) e.alternatives.push([...r.args]);
  }
  for (const e of byNr.values()) {
    if (e.always) { e.alternatives = []; delete e.errno; }
    else if (e.alternatives.length > 0) delete e.errno;
  }
  return [...byNr.values()].sort((a, b) => a.nr - b.nr);
}

// ---------------------------------------------------------------------------------------
// A small BPF assembler: forward jumps to labels; a conditional jump whose target is too far
// for its 8-bit offset becomes a short one over an unconditional `ja` (32-bit offset).

type Label = number;
type Ins =
  | { t: 'ld'; off: number }
  | { t: 'ret'; k: number }
  | { t: 'jmp'; code: number; k: number; jt: Label | null; jf: Label | null; long: boolean }
  | { t: 'ja'; to: Label }
  | { t: 'label'; id: Label };

class Asm {
  readonly code: Ins[] = [];
  private next = 0;
  label(): Label { return this.next++; }
  place(id: Label): void { this.code.push({ t: 'label', id }); }
  ld(off: number): void { this.code.push({ t: 'ld', off }); }
  ret(k: number): void { this.code.push({ t: 'ret', k }); }
  ja(to: Label): void { this.code.push({ t: 'ja', to }); }
  /** Jumps to jt if A <op> k, to jf otherwise; null means the next instruction. */
  jmp(code: number, k: number, jt: Label | null, jf: Label | null): void {
    this.code.push({ t: 'jmp', code, k: k >>> 0, jt, jf, long: false });
  }

  /** The program as struct sock_filter[]. */
  assemble(): Buffer {
    const size = (i: Ins) => (i.t === 'label' ? 0 : i.t === 'jmp' && i.long ? 1 + (i.jt !== null ? 1 : 0) + (i.jf !== null ? 1 : 0) : 1);
    let pos: number[] = [];
    const where = new Map<Label, number>();
    for (;;) {
      pos = [];
      where.clear();
      let p = 0;
      for (const i of this.code) { pos.push(p); if (i.t === 'label') where.set(i.id, p); p += size(i); }
      let grew = false;
      this.code.forEach((i, n) => {
        if (i.t !== 'jmp' || i.long) return;
        for (const l of [i.jt, i.jf]) {
          if (l === null) continue;
          const d = where.get(l)! - pos[n]! - 1;
          if (d > 255) { i.long = true; grew = true; }
        }
      });
      if (!grew) break;
    }
    const out: Array<[number, number, number, number]> = [];
    const off = (from: number, l: Label) => {
      const d = where.get(l)! - from - 1;
      if (!(d >= 0)) throw new Error('seccomp: backward or unplaced jump');
      return d;
    };
    this.code.forEach((i, n) => {
      const p = pos[n]!;
      switch (i.t) {
        case 'label': return;
        case 'ld': out.push([BPF.LD_W_ABS, 0, 0, i.off]); return;
        case 'ret': out.push([BPF.RET_K, 0, 0, i.k]); return;
        case 'ja': out.push([BPF.JA, 0, 0, off(p, i.to)]); return;
        case 'jmp':
          if (!i.long) { out.push([i.code, i.jt === null ? 0 : off(p, i.jt), i.jf === null ? 0 : off(p, i.jf), i.k]); return; }
          // Long form: the condition jumps over (or onto) the `ja`s that follow it.
          if (i.jt !== null && i.jf !== null) {
            out.push([i.code, 0, 1, i.k]); out.push([BPF.JA, 0, 0, off(p + 1, i.jt)]); out.push([BPF.JA, 0, 0, off(p + 2, i.jf)]);
          } else if (i.jt !== null) {
            out.push([i.code, 0, 1, i.k]); out.push([BPF.JA, 0, 0, off(p + 1, i.jt)]);
          } else {
            out.push([i.code, 1, 0, i.k]); out.push([BPF.JA, 0, 0, off(p + 1, i.jf!)]);
          }
      }
    });
    const b = Buffer.alloc(out.length * 8);
    out.forEach(([code, jt, jf, k], n) => { b.writeUInt16LE(code, n * 8); b[n * 8 + 2] = jt; b[n * 8 + 3] = jf; b.writeUInt32LE(k >>> 0, n * 8 + 4); });
    return b;
  }
}

const lo = (v: bigint) => Number(v & 0xffffffffn);
const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
const argLo = (i: number) => SECCOMP_DATA.args + 8 * i;
const argHi = (i: number) => SECCOMP_DATA.args + 8 * i + 4;

/** The checks after the number matched (A is free to clobber): ends in ALLOW or KILL. */
function emitBody(a: Asm, e: Entry): void {
  if (e.always) { a.ret(SECCOMP_RET_ALLOW); return; }
  if (e.errno !== undefined) { a.ret(SECCOMP_RET_ERRNO | e.errno); return; }
  const allow = a.label();
  const single = e.alternatives.every((alt) => alt.length === 1 && alt[0]!.arg === e.alternatives[0]![0]!.arg);
  if (single) {
    // A set of values for one argument (ioctl requests): per high word, the low words.
    const arg = e.alternatives[0]![0]!.arg;
    const byHi = new Map<number, number[]>();
    for (const [c] of e.alternatives as [ResolvedArg][]) {
      const list = byHi.get(hi(c.value)) ?? [];
      list.push(lo(c.value));
      byHi.set(hi(c.value), list);
    }
    for (const [h, lows] of byHi) {
      const next = a.label();
      a.ld(argHi(arg));
      a.jmp(BPF.JEQ_K, h, null, next);
      a.ld(argLo(arg));
      for (const l of lows) a.jmp(BPF.JEQ_K, l, allow, null);
      a.place(next);
    }
  } else {
    for (const alt of e.alternatives) {
      const next = a.label();
      for (const c of alt) {
        a.ld(argLo(c.arg)); a.jmp(BPF.JEQ_K, lo(c.value), null, next);
        a.ld(argHi(c.arg)); a.jmp(BPF.JEQ_K, hi(c.value), null, next);
      }
      a.ja(allow);
      a.place(next);
    }
  }
  a.ret(SECCOMP_RET_KILL_PROCESS);
  a.place(allow);
  a.ret(SECCOMP_RET_ALLOW);
}

/** Binary search over sorted entries (A holds nr); every leaf ends in a return. */
function emitTree(a: Asm, list: readonly Entry[]): void {
  if (list.length <= 3) {
    for (const e of list) {
      const next = a.label();
      a.jmp(BPF.JEQ_K, e.nr, null, next);
      emitBody(a, e);
      a.place(next);
    }
    a.ret(SECCOMP_RET_KILL_PROCESS);
    return;
  }
  const mid = list.length >> 1;
  const right = a.label();
  a.jmp(BPF.JGE_K, list[mid]!.nr, right, null);
  emitTree(a, list.slice(0, mid));
  a.place(right);
  emitTree(a, list.slice(mid));
}

/** The BPF program for `rules`. */
export function compile(rules: readonly ResolvedRule[]): Buffer {
  const a = new Asm();
  const archOk = a.label(), notX32 = a.label();
  a.ld(SECCOMP_DATA.arch);
  a.jmp(BPF.JEQ_K, AUDIT_ARCH_X86_64, archOk, null);
  a.ret(SECCOMP_RET_KILL_PROCESS);
  a.place(archOk);
  a.ld(SECCOMP_DATA.nr);
  a.jmp(BPF.JGE_K, X32_SYSCALL_BIT, null, notX32);
  a.ret(SECCOMP_RET_KILL_PROCESS);
  a.place(notX32);
  const all = entries(rules);
  const ioctl = all.find((e) => e.nr === SYS.ioctl);
  if (ioctl) {
    const other = a.label();
    a.jmp(BPF.JEQ_K, SYS.ioctl, null, other);
    emitBody(a, ioctl);
    a.place(other);
  }
  // Without a guest rule that needs it, opening a file is refused with EACCES instead of
  // killing: Node and the libraries in it probe files lazily (Node 24's V8 reads the TSC
  // frequency from /sys the first time one of its locks is contended, at any time), and a
  // failed probe is harmless. The open happens in neither case.
  for (const nr of [SYS.open, SYS.openat]) {
    if (all.some((e) => e.nr === nr)) continue;
    const next = a.label();
    a.jmp(BPF.JEQ_K, nr, null, next);
    a.ret(SECCOMP_RET_ERRNO | EACCES);
    a.place(next);
  }
  emitTree(a, all.filter((e) => e !== ioctl));
  const program = a.assemble();
  if (program.length / 8 > BPF_MAXINSNS) throw new Error(`seccomp: the filter has ${program.length / 8} instructions (at most ${BPF_MAXINSNS})`);
  return program;
}

/** Builds the VMM's filter for `policy`. */
export function buildFilter(policy: Policy, opts: FilterOptions = {}): SeccompFilter {
  const { rules, guest, groups } = filterRules(policy, opts);
  const program = compile(rules);
  return { program, instructions: program.length / 8, rules, guest, groups, policySource: policy.source };
}

// ---------------------------------------------------------------------------------------
// Installing

/** Set once a filter is installed: a second seccomp() call would itself be killed by the first filter. */
let installed = false;
/** Whether this process installed its filter already. */
export function filterInstalled(): boolean { return installed; }

/**
 * Installs `program` (struct sock_filter[]) on every thread of this process: no_new_privs
 * (if not set yet), then seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC).
 * Returns 0, -errno, or a positive thread id: the thread TSYNC could not synchronise (it
 * has a filter of its own), in which case nothing was installed. Once per process: a second
 * call returns -EEXIST without asking the kernel (the installed filter forbids seccomp()).
 */
export function installFilter(program: Buffer): number {
  if (program.length === 0 || program.length % 8 !== 0 || program.length / 8 > BPF_MAXINSNS) return -EINVAL;
  if (installed) return -EEXIST;
  const nnp = sys(SYS.prctl, PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (nnp < 0) return nnp;
  if (nnp !== 1) {
    const r = sys(SYS.prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (r < 0) return r;
  }
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (16 bytes with padding).
  const fprog = Buffer.alloc(16);
  fprog.writeUInt16LE(program.length / 8, 0);
  const addr = addressOf(program);
  fprog.writeUInt32LE(addr >>> 0, 8);
  fprog.writeUInt32LE(Math.floor(addr / 2 ** 32), 12);
  const r = sys(SYS.seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, addressOf(fprog));
  // Both buffers stay referenced until the kernel has copied the program.
  keep.fprog = fprog; keep.program = program;
  if (r === 0) installed = true;
  return r;
}
const keep: { fprog?: Buffer; program?: Buffer } = {};

/**
 * What the sandbox calls last, right before the guest runs: builds the filter for `policy`
 * and installs it on every thread. Throws SandboxError when the kernel refuses it.
 */
export function enableSeccomp(policy: Policy, opts: FilterOptions = {}): SeccompFilter {
  const f = buildFilter(policy, opts);
  const r = installFilter(f.program);
  if (r === -EEXIST && installed) throw new SandboxError('seccomp: this process has its filter already (one per process; it cannot be changed)');
  if (r > 0) throw new SandboxError(`seccomp: thread ${r} could not take the filter (SECCOMP_FILTER_FLAG_TSYNC)`);
  if (r < 0) throw new SandboxError(`seccomp: ${errnoName(-r)}${-r === 22 ? ' (a kernel without seccomp filters?)' : ''}`);
  return f;
}

// ---------------------------------------------------------------------------------------
// Describing

const hex = (v: bigint) => `0x${v.toString(16)}`;

function argText(args: readonly ResolvedArg[], syscall: string): string {
  if (args.length === 0) return '';
  if (syscall === 'ioctl' && args.length === 1 && args[0]!.arg === 1) return `${args[0]!.name} (${hex(args[0]!.value)})`;
  return args.map((a) => `args[${a.arg}] == ${a.name === 'this process' ? 'own pid' : `${a.name} (${hex(a.value)})`}`).join(' && ');
}

/** Wraps `text` so that lines end before `width` columns; the first line starts at column `start`, the others at `indent`. */
function wrap(text: string, start: number, indent: number, width = 110): string {
  const lines: string[] = [];
  let cur = '', col = start;
  for (const w of text.split(' ')) {
    if (cur && col + cur.length + 1 + w.length > width) { lines.push(cur); cur = w; col = indent; } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines.join(`\n${' '.repeat(indent)}`);
}

/** `torov policy show --seccomp`: the filter rule by rule with reasons, and its size. */
export function describeFilter(f: SeccompFilter): string {
  const out: string[] = [];
  const pad = (s: string, n: number) => (s.length >= n ? `${s} ` : s.padEnd(n));
  out.push(`seccomp filter of the torov VMM for ${f.policySource}`);
  out.push('Installed on every VMM thread (SECCOMP_FILTER_FLAG_TSYNC) right before the guest runs. Non-x86-64');
  out.push('ABIs, x32 numbers and every host syscall not listed kill the VMM (SECCOMP_RET_KILL_PROCESS, SIGSYS),');
  out.push('but for open and openat when no rule lists them: those fail with EACCES (Node probes files lazily).');
  out.push('');
  out.push('VMM runtime (Node.js, V8, libuv, glibc, koffi, the VM loop): always');
  for (const g of f.groups) {
    out.push(`  ${g.name}: ${g.why}`);
    for (const r of f.rules.filter((x) => x.origin !== 'guest' && x.group === g.name)) {
      const head = `    ${r.syscall}${r.args.length ? ' ' + argText(r.args, r.syscall) : ''}`;
      const h = pad(head, 44);
      out.push(h + wrap(r.why, h.length, 44));
    }
  }
  out.push('');
  out.push('Guest syscalls the policy allows or logs, and the host syscalls of their handlers:');
  const served: string[] = [];
  for (const g of f.guest) {
    if (g.action !== 'allow' && g.action !== 'log') continue;
    if (g.host.length === 0) { served.push(g.name); continue; }
    const rules = f.rules.filter((r) => r.origin === 'guest' && r.group === g.name);
    const ioctls = rules.filter((r) => r.args.length > 0).map((r) => r.args[0]!.name);
    const names = g.host.map((h) => (h === 'ioctl' && ioctls.length ? `ioctl(${ioctls.join(' ')})` : h));
    const h = pad(`  ${g.name}${g.action === 'log' ? ' (log)' : ''}`, 22);
    out.push(h + wrap(`-> ${names.join(', ')}: ${g.why}`, h.length, 25));
  }
  if (served.length) out.push(`  served inside the VMM, no host syscall: ${wrap(served.join(', '), 42, 4)}`);
  const shut = f.guest.filter((g) => (g.action === 'deny' || g.action === 'kill') && g.host.length > 0);
  if (shut.length) {
    out.push('');
    out.push('Guest syscalls the policy denies or kills (the host calls of their handlers are not added):');
    out.push(`  ${wrap(shut.map((g) => g.name).join(', '), 2, 2)}`);
  }
  const nrs = new Set(f.rules.map((r) => r.nr));
  const conditioned = [...nrs].filter((nr) => f.rules.filter((r) => r.nr === nr).every((r) => r.args.length > 0));
  const requests = new Set(f.rules.filter((r) => r.nr === SYS.ioctl && r.args.length > 0).map((r) => r.args[0]!.value));
  out.push('');
  const only = conditioned.map((nr) => (nr === SYS.ioctl ? `ioctl (${requests.size} requests)` : syscallName(nr)));
  out.push(`Host syscalls allowed: ${nrs.size}${only.length ? `; ${only.join(', ')} only with the arguments shown` : ''}`);
  out.push(`BPF program: ${f.instructions} instructions (the kernel takes at most ${BPF_MAXINSNS})`);
  return out.join('\n');
}
