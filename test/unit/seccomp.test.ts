/**
 * The VMM's seccomp filter (src/sandbox/seccomp.ts, seccomp-rules.ts): the BPF program is
 * run here by a small classic-BPF interpreter on seccomp_data of allowed and forbidden
 * syscalls, ioctl requests, other ABIs; and the rules are checked against the source of the
 * handlers and the VMM, so that a new host call cannot be added without a rule.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers';
import {
  buildFilter, compile, describeFilter, filterRules, ResolvedRule, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT,
  SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO, BPF, BPF_MAXINSNS,
} from '../../src/sandbox/seccomp';
import { RUNTIME_GROUPS, GDB_GROUP, SERVE_GROUP, GUEST_RULES, GUEST_IOCTL_REQUESTS, TTY_IOCTLS, IOCTL_NAMES, PTHREAD_CLONE_FLAGS } from '../../src/sandbox/seccomp-rules';
import * as kvm from '../../src/kvm/kvm';
import * as linuxIoctl from '../../src/linux/ioctl';
import { SYS, syscallByName } from '../../src/linux/syscalls';
import { PR_SET_NAME } from '../../src/linux/prctl';
import { implementedNames } from '../../src/syscalls/handlers';
import { buildPolicy, defaultPolicy, Policy, Rule } from '../../src/policy';

// ---------------------------------------------------------------------------------------
// A classic BPF interpreter, for the instructions seccomp filters use.

interface Call { nr: number; arch?: number; args?: ReadonlyArray<number | bigint> }

function seccompData(c: Call): Buffer {
  const d = Buffer.alloc(64);
  d.writeUInt32LE(c.nr >>> 0, 0);
  d.writeUInt32LE((c.arch ?? AUDIT_ARCH_X86_64) >>> 0, 4);
  d.writeBigUInt64LE(0x401000n, 8);
  (c.args ?? []).forEach((v, i) => d.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), 16 + 8 * i));
  return d;
}

/** Runs `prog` (struct sock_filter[]) on the seccomp_data of `c`; returns the filter's verdict. */
function runBpf(prog: Buffer, c: Call): number {
  const data = seccompData(c);
  const n = prog.length / 8;
  let A = 0, pc = 0, steps = 0;
  for (;;) {
    assert.ok(pc >= 0 && pc < n, `pc ${pc} out of the program (${n} instructions)`);
    assert.ok(++steps <= n, 'a loop: BPF jumps only forward');
    const code = prog.readUInt16LE(pc * 8), jt = prog[pc * 8 + 2]!, jf = prog[pc * 8 + 3]!, k = prog.readUInt32LE(pc * 8 + 4);
    pc++;
    switch (code) {
      case BPF.LD_W_ABS:
        assert.ok(k % 4 === 0 && k + 4 <= 64, `load at ${k}`);
        A = data.readUInt32LE(k);
        break;
      case BPF.JEQ_K: pc += A === k ? jt : jf; break;
      case BPF.JGE_K: pc += A >= k ? jt : jf; break;
      case 0x25 /* JGT_K */: pc += A > k ? jt : jf; break;
      case 0x45 /* JSET_K */: pc += (A & k) !== 0 ? jt : jf; break;
      case BPF.JA: pc += k; break;
      case BPF.RET_K: return k;
      default: assert.fail(`unknown BPF opcode 0x${code.toString(16)} at ${pc - 1}`);
    }
  }
}

const ALLOW = SECCOMP_RET_ALLOW, KILL = SECCOMP_RET_KILL_PROCESS;
/** open and openat when no rule lists them: EACCES, not a kill (Node probes files lazily). */
const EACCES_RET = 0x00050000 | 13;
const verdictOf = (p: Buffer, name: keyof typeof SYS, args: ReadonlyArray<number | bigint> = []) => runBpf(p, { nr: SYS[name], args });
const policy = (defaultAction: 'allow' | 'deny', rules: Rule[]): Policy => buildPolicy({ source: 'test.json', defaultAction, rules });
const PID = 4242;

// ---------------------------------------------------------------------------------------

describe('the BPF program', () => {
  const def = buildFilter(defaultPolicy(), { pid: PID }).program;

  it('allows what the VMM runtime needs', () => {
    for (const name of ['futex', 'mmap', 'munmap', 'mprotect', 'madvise', 'write', 'read', 'close', 'epoll_pwait', 'exit', 'exit_group',
      'rt_sigreturn', 'rt_sigprocmask', 'clock_gettime', 'getpid', 'fsync', 'brk'] as const) {
      assert.equal(verdictOf(def, name), ALLOW, name);
    }
  });

  it('kills what nothing needs, whatever the arguments', () => {
    for (const name of ['ptrace', 'mount', 'personality', 'fork', 'vfork', 'execve', 'execveat', 'unshare', 'setns', 'seccomp',
      'prctl', 'bpf', 'kexec_load', 'init_module', 'reboot', 'process_vm_readv', 'keyctl', 'perf_event_open', 'userfaultfd', 'kill'] as const) {
      assert.equal(verdictOf(def, name), KILL, name);
      assert.equal(verdictOf(def, name, [0, 0, 0, 0, 0, 0]), KILL, name);
    }
  });

  it('lets the VMM start threads (a guest thread\'s vCPU thread), never a process', () => {
    // clone only with pthread_create's exact flags: no fork, no new namespaces, no shared-VM process.
    assert.equal(verdictOf(def, 'clone', [PTHREAD_CLONE_FLAGS, 0x7000, 0, 0, 0]), ALLOW);
    for (const flags of [0x11 /* SIGCHLD: fork */, PTHREAD_CLONE_FLAGS & ~0x10000 /* no CLONE_THREAD */, PTHREAD_CLONE_FLAGS | 0x10000000 /* CLONE_NEWUSER */,
      0x4111 /* vfork */, (1n << 32n) | BigInt(PTHREAD_CLONE_FLAGS)]) {
      assert.equal(verdictOf(def, 'clone', [flags, 0, 0, 0, 0]), KILL, `clone 0x${flags.toString(16)}`);
    }
    // clone3's flags are in memory the filter cannot read: ENOSYS, and glibc falls back to clone.
    assert.equal(verdictOf(def, 'clone3', [0, 88]), SECCOMP_RET_ERRNO | 38);
    // A policy that gives the guest no threads, no processes, no signal waits and no timers
    // gives the VMM no thread creation either (with those, a lone guest thread's vCPU may
    // move to a vCPU thread while the main thread keeps time).
    const waits = ['fork', 'vfork', 'pause', 'rt_sigsuspend', 'rt_sigtimedwait', 'alarm', 'setitimer', 'timer_create', 'signalfd', 'signalfd4'];
    const noThreads = buildFilter(policy('allow', [{ names: ['clone', 'clone3', ...waits], action: 'deny' }]), { pid: PID }).program;
    assert.equal(verdictOf(noThreads, 'clone', [PTHREAD_CLONE_FLAGS, 0, 0, 0, 0]), KILL);
    assert.equal(verdictOf(noThreads, 'clone3', [0, 88]), KILL);
    const timersOnly = buildFilter(policy('allow', [{ names: ['clone', 'clone3', ...waits.filter((w) => w !== 'alarm')], action: 'deny' }]), { pid: PID }).program;
    assert.equal(verdictOf(timersOnly, 'clone', [PTHREAD_CLONE_FLAGS, 0, 0, 0, 0]), ALLOW);
  });

  it('kills syscall numbers that do not exist', () => {
    for (const nr of [335, 463, 511, 512, 1000, 0x3fffffff, 0xffffffff]) assert.equal(runBpf(def, { nr }), KILL, String(nr));
  });

  it('kills any other ABI: i386, x32 numbers', () => {
    const AUDIT_ARCH_I386 = 0x40000003, AUDIT_ARCH_AARCH64 = 0xc00000b7;
    for (const arch of [AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, 0]) {
      assert.equal(runBpf(def, { nr: SYS.futex, arch }), KILL);
      assert.equal(runBpf(def, { nr: SYS.write, arch }), KILL);
    }
    assert.equal(runBpf(def, { nr: X32_SYSCALL_BIT | SYS.write }), KILL);
    assert.equal(runBpf(def, { nr: X32_SYSCALL_BIT | SYS.futex }), KILL);
    assert.equal(runBpf(def, { nr: X32_SYSCALL_BIT | 512 }), KILL);   // x32's own numbers (rt_sigaction...)
  });

  it('allows ioctl only for the listed requests, comparing all 64 bits of the request', () => {
    assert.equal(verdictOf(def, 'ioctl', [5, kvm.KVM_RUN, 0]), ALLOW);
    for (const req of [kvm.KVM_GET_SREGS, kvm.KVM_SET_MSRS, kvm.KVM_SET_USER_MEMORY_REGION, kvm.KVM_CREATE_VM, kvm.KVM_SET_XSAVE, TTY_IOCTLS.TCGETS, TTY_IOCTLS.TIOCGWINSZ]) {
      assert.equal(verdictOf(def, 'ioctl', [5, req, 0]), ALLOW, `0x${req.toString(16)}`);
    }
    const TIOCSTI = 0x5412, TIOCSCTTY = 0x540e, FIGETBSZ = 2;
    for (const req of [kvm.KVM_CHECK_EXTENSION, kvm.KVM_GET_API_VERSION, kvm.KVM_SET_GUEST_DEBUG, TIOCSTI, TIOCSCTTY, FIGETBSZ, 0, 0xffffffff]) {
      assert.equal(verdictOf(def, 'ioctl', [5, req, 0]), KILL, `0x${req.toString(16)}`);
    }
    // The kernel reads the request as 32 bits; the filter wants the high half zero too.
    assert.equal(verdictOf(def, 'ioctl', [5, (1n << 32n) | BigInt(kvm.KVM_RUN), 0]), KILL);
    assert.equal(verdictOf(def, 'ioctl', [5, (0xffffffffn << 32n) | BigInt(TTY_IOCTLS.TCGETS), 0]), KILL);
    // The other arguments do not matter.
    assert.equal(verdictOf(def, 'ioctl', [-1, kvm.KVM_RUN, 0xdeadbeefcafen]), ALLOW);
  });

  it('allows tgkill only at the VMM itself', () => {
    assert.equal(verdictOf(def, 'tgkill', [PID, PID, 2]), ALLOW);
    assert.equal(verdictOf(def, 'tgkill', [PID, 7, 6]), ALLOW);
    assert.equal(verdictOf(def, 'tgkill', [1, 1, 9]), KILL);
    assert.equal(verdictOf(def, 'tgkill', [(1n << 32n) | BigInt(PID), PID, 2]), KILL);
    assert.equal(runBpf(buildFilter(defaultPolicy()).program, { nr: SYS.tgkill, args: [process.pid, process.pid, 2] }), ALLOW);
  });

  it('gives every number exactly the verdict its rules say (all numbers, default policy and an allow-all policy)', () => {
    for (const p of [defaultPolicy(), policy('allow', [])]) {
      const { rules } = filterRules(p, { pid: PID });
      const prog = compile(rules);
      for (let nr = 0; nr < 520; nr++) {
        const mine = rules.filter((r) => r.nr === nr && r.errno === undefined);
        const errno = rules.find((r) => r.nr === nr && r.errno !== undefined)?.errno;
        if (mine.length === 0 && errno !== undefined) { assert.equal(runBpf(prog, { nr, args: [1, 2, 3, 4, 5, 6] }), SECCOMP_RET_ERRNO | errno, `syscall ${nr}`); continue; }
        const always = mine.some((r) => r.args.length === 0);
        if (always || mine.length === 0) {
          const refused = nr === SYS.open || nr === SYS.openat ? EACCES_RET : KILL;
          assert.equal(runBpf(prog, { nr, args: [1, 2, 3, 4, 5, 6] }), always ? ALLOW : refused, `syscall ${nr}`);
          continue;
        }
        for (const r of mine) {
          const args: bigint[] = [7n, 7n, 7n, 7n, 7n, 7n];
          for (const a of r.args) args[a.arg] = a.value;
          assert.equal(runBpf(prog, { nr, args }), ALLOW, `${r.syscall} ${r.args.map((a) => a.name).join(' ')}`);
        }
        assert.equal(runBpf(prog, { nr, args: [7, 7, 7, 7, 7, 7] }), KILL, `syscall ${nr} with other arguments`);
      }
    }
  });

  it('takes the host calls of the guest syscalls the policy allows or logs, never of those it denies or kills', () => {
    const hello = policy('deny', [{ names: ['writev', 'ioctl'], action: 'allow' }]);
    const p = buildFilter(hello, { pid: PID }).program;
    assert.equal(verdictOf(p, 'writev'), ALLOW);
    assert.equal(verdictOf(p, 'ioctl', [1, TTY_IOCTLS.TIOCGWINSZ, 0]), ALLOW);   // the guest's ioctl
    assert.equal(verdictOf(p, 'ioctl', [1, TTY_IOCTLS.FIONBIO, 0]), ALLOW);
    // (nanosleep is the runtime's own: Node 24's V8 sleeps on contended locks; ppoll is writev's with threads.)
    for (const name of ['openat2', 'readlinkat', 'socket', 'connect', 'pipe2', 'unlink', 'getdents64', 'access', 'poll'] as const) {
      assert.equal(verdictOf(p, name), KILL, name);
    }
    for (const name of ['openat', 'open'] as const) assert.equal(verdictOf(p, name), EACCES_RET, name);
    const noIoctl = buildFilter(policy('deny', [{ names: ['writev'], action: 'allow' }]), { pid: PID }).program;
    assert.equal(verdictOf(noIoctl, 'ioctl', [1, TTY_IOCTLS.TIOCGWINSZ, 0]), KILL);   // only the runtime's requests are left
    assert.equal(verdictOf(noIoctl, 'ioctl', [1, TTY_IOCTLS.TCGETS, 0]), ALLOW);
    assert.equal(verdictOf(noIoctl, 'getpgid'), KILL);

    const logged = buildFilter(policy('deny', [{ names: ['openat', 'socket'], action: 'log' }]), { pid: PID }).program;
    assert.equal(verdictOf(logged, 'openat2'), ALLOW);
    assert.equal(verdictOf(logged, 'readlinkat'), ALLOW);
    assert.equal(verdictOf(logged, 'socket'), ALLOW);
    const killed = buildFilter(policy('allow', [{ names: ['socket'], action: 'kill' }, { names: ['openat', 'open', 'openat2', 'creat'], action: 'deny' }]), { pid: PID }).program;
    assert.equal(verdictOf(killed, 'socket'), KILL);
    assert.equal(verdictOf(killed, 'openat2'), KILL);
    assert.equal(verdictOf(killed, 'connect'), ALLOW);
  });

  it('adds the gdb stub\'s rules only when asked', () => {
    const plain = buildFilter(defaultPolicy(), { pid: PID }).program;
    const gdb = buildFilter(defaultPolicy(), { pid: PID, gdb: true }).program;
    assert.equal(verdictOf(plain, 'ioctl', [5, kvm.KVM_SET_GUEST_DEBUG, 0]), KILL);
    assert.equal(verdictOf(gdb, 'ioctl', [5, kvm.KVM_SET_GUEST_DEBUG, 0]), ALLOW);
    assert.equal(verdictOf(gdb, 'process_vm_readv', [PID, 0, 1, 0, 1, 0]), ALLOW);
    assert.equal(verdictOf(gdb, 'process_vm_readv', [1, 0, 1, 0, 1, 0]), KILL);
  });

  it('lets only a serve --workers worker read its front\'s channel (recvmsg on fd 5)', () => {
    const none = policy('deny', []);
    const serve = buildFilter(none, { pid: PID, serve: true }).program;
    const worker = buildFilter(none, { pid: PID, serve: true, serveWorker: true }).program;
    assert.equal(verdictOf(serve, 'recvmsg', [5, 0, 0]), KILL);
    assert.equal(verdictOf(worker, 'recvmsg', [5, 0, 0]), ALLOW);
    assert.equal(verdictOf(worker, 'recvmsg', [6, 0, 0]), KILL);
    assert.equal(verdictOf(buildFilter(none, { pid: PID, serveWorker: true }).program, 'recvmsg', [5, 0, 0]), KILL, 'only with serve');
  });

  it('fits in the kernel\'s limit for every kind of policy', () => {
    for (const p of [defaultPolicy(), policy('allow', []), policy('deny', [])]) {
      for (const gdb of [false, true]) {
        const f = buildFilter(p, { gdb });
        assert.equal(f.instructions * 8, f.program.length);
        assert.ok(f.instructions < BPF_MAXINSNS / 4, `${f.instructions} instructions`);
      }
    }
  });

  it('checks the architecture before anything else, then x32, then ioctl first', () => {
    const p = buildFilter(defaultPolicy()).program;
    const ins = (i: number) => [p.readUInt16LE(i * 8), p[i * 8 + 2], p[i * 8 + 3], p.readUInt32LE(i * 8 + 4)];
    assert.deepEqual(ins(0), [BPF.LD_W_ABS, 0, 0, 4]);
    assert.deepEqual(ins(1), [BPF.JEQ_K, 1, 0, AUDIT_ARCH_X86_64]);
    assert.deepEqual(ins(2), [BPF.RET_K, 0, 0, KILL]);
    assert.deepEqual(ins(3), [BPF.LD_W_ABS, 0, 0, 0]);
    assert.deepEqual(ins(4), [BPF.JGE_K, 0, 1, X32_SYSCALL_BIT]);
    assert.deepEqual(ins(5), [BPF.RET_K, 0, 0, KILL]);
    assert.deepEqual(ins(6).slice(0, 2).concat(ins(6)[3]!), [BPF.JEQ_K, 0, SYS.ioctl]);
    // KVM_RUN is the first request the ioctl block compares (after the high word).
    assert.deepEqual([ins(7)[3], ins(8)[0], ins(9)[0], ins(10)[0], ins(10)[3]], [20 + 8, BPF.JEQ_K, BPF.LD_W_ABS, BPF.JEQ_K, kvm.KVM_RUN]);
  });
});

describe('the BPF assembler', () => {
  const rule = (syscall: string, args: Array<[number, bigint]> = []): ResolvedRule =>
    ({ syscall, nr: SYS[syscall as keyof typeof SYS], args: args.map(([arg, value]) => ({ arg, value, name: String(value) })), why: 'test', origin: 'runtime', group: 'test' });

  it('turns jumps beyond 255 instructions into jumps over a `ja` (hundreds of ioctl requests)', () => {
    const reqs = Array.from({ length: 400 }, (_, i) => BigInt(0x1000 + i * 3));
    const hiReqs = Array.from({ length: 40 }, (_, i) => (BigInt(i + 1) << 32n) | 5n);
    const rules = [...reqs, ...hiReqs].map((v) => rule('ioctl', [[1, v]]));
    rules.push(rule('read'), rule('write'), ...Object.keys(SYS).slice(20, 300).filter((n) => n !== 'ioctl').map((n) => rule(n)));
    const p = compile(rules);
    assert.ok(p.length / 8 > 600);
    for (const v of [...reqs, ...hiReqs]) assert.equal(runBpf(p, { nr: SYS.ioctl, args: [0, v] }), ALLOW, String(v));
    for (const v of [0x1001n, 0x1000n + 400n * 3n, 5n, (41n << 32n) | 5n, (1n << 32n) | 6n]) assert.equal(runBpf(p, { nr: SYS.ioctl, args: [0, v] }), KILL, String(v));
    assert.equal(runBpf(p, { nr: SYS.read }), ALLOW);
    assert.equal(runBpf(p, { nr: SYS.open }), EACCES_RET);   // number 2: not in the list (an open: EACCES)
    assert.equal(runBpf(p, { nr: SYS.close }), KILL);         // number 3: not in the list
    for (const name of Object.keys(SYS).slice(20, 300)) assert.equal(runBpf(p, { nr: SYS[name as keyof typeof SYS] }), ALLOW, name);
  });

  it('ANDs the conditions of one rule and ORs the rules of one syscall', () => {
    const p = compile([rule('fcntl', [[1, 3n], [2, 0n]]), rule('fcntl', [[1, 4n]]), rule('fcntl', [[0, 1n << 40n], [1, 1030n]])]);
    const fcntl = (...args: bigint[]) => runBpf(p, { nr: SYS.fcntl, args });
    assert.equal(fcntl(9n, 3n, 0n), ALLOW);
    assert.equal(fcntl(9n, 3n, 1n), KILL);
    assert.equal(fcntl(9n, 4n, 77n), ALLOW);
    assert.equal(fcntl(1n << 40n, 1030n), ALLOW);
    assert.equal(fcntl(0n, 1030n), KILL);
    assert.equal(fcntl(9n, 5n), KILL);
    // An unconditional rule wins over conditional ones.
    const q = compile([rule('fcntl', [[1, 3n]]), rule('fcntl')]);
    assert.equal(runBpf(q, { nr: SYS.fcntl, args: [0n, 99n] }), ALLOW);
  });

  it('allows nothing for no rules', () => {
    const p = compile([]);
    for (const nr of [0, 1, 16, 60, 231]) assert.equal(runBpf(p, { nr }), KILL);
  });
});

// ---------------------------------------------------------------------------------------
// The rules against the code

const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const sourceFiles = (dir: string) => fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.ts')).map((f) => `${dir}/${f}`);
const runtimeNames = new Set<string>(RUNTIME_GROUPS.flatMap((g) => g.rules.map((r) => r.syscall)));
const serveNames = new Set<string>(SERVE_GROUP.rules.map((r) => r.syscall));
const guestHostNames = new Set<string>(Object.values(GUEST_RULES).flatMap((g) => g.host.filter((h) => typeof h === 'string' || !(h.syscall === 'clone' || h.syscall === 'clone3')).map((h) => (typeof h === 'string' ? h : h.syscall))));
const allRules = [...RUNTIME_GROUPS, GDB_GROUP].flatMap((g) => g.rules);

describe('the rules', () => {
  it('name real syscalls and give a reason for each', () => {
    for (const r of allRules) {
      assert.ok(syscallByName(r.syscall), r.syscall);
      assert.ok(r.why.length > 10, `${r.syscall}: a reason`);
    }
    for (const [name, g] of Object.entries(GUEST_RULES)) {
      assert.ok(syscallByName(name), name);
      assert.ok(g.why.length > 3, `${name}: a reason`);
      for (const h of g.host) assert.ok(syscallByName(typeof h === 'string' ? h : h.syscall), `${name} -> ${JSON.stringify(h)}`);
    }
  });

  it('cover every guest syscall that has a handler, and only those', () => {
    const handlers = implementedNames();
    assert.deepEqual(handlers.filter((n) => !(n in GUEST_RULES)), [], 'handlers without a guest rule in seccomp-rules.ts');
    assert.deepEqual(Object.keys(GUEST_RULES).filter((n) => !handlers.includes(n)).sort(), [], 'guest rules without a handler');
  });

  it('list every HOST.<name> a handler file calls', () => {
    const missing: string[] = [];
    for (const f of sourceFiles('src/syscalls')) {
      for (const m of read(f).matchAll(/\bHOST\.([a-z0-9_]+)/g)) {
        if (!guestHostNames.has(m[1]!) && !runtimeNames.has(m[1]!)) missing.push(`${f}: HOST.${m[1]}`);
      }
    }
    assert.deepEqual([...new Set(missing)], [], 'host syscalls used by handlers but in no rule of src/sandbox/seccomp-rules.ts');
  });

  it('know every way a handler file reaches the host besides HOST.<name>', () => {
    // Node APIs make host syscalls of their own: existsSync is access(2) (the /proc guard of
    // fs.ts, listed with every path call); os.release() runs at module load, before the filter.
    const known: Record<string, string[]> = { 'node:fs': ['existsSync'], 'node:os': ['release'] };
    for (const f of sourceFiles('src/syscalls')) {
      for (const m of read(f).matchAll(/import\s+(?:\{([^}]*)\}|\*\s+as\s+(\w+)|(\w+))\s+from\s+'(node:[^']+|fs|os|child_process|net|dgram|crypto)'/g)) {
        const mod = m[4]!, names = (m[1] ?? `* as ${m[2] ?? m[3]}`).split(',').map((s) => s.trim()).filter(Boolean);
        for (const n of names) assert.ok(known[mod]?.includes(n), `${f} imports ${n} from ${mod}: which host syscalls does it make? Add them to seccomp-rules.ts, then here`);
      }
      assert.doesNotMatch(read(f), /\bsys\(\s*\d/, `${f}: a host call by bare number; use HOST.<name>`);
    }
    for (const [name, g] of Object.entries(GUEST_RULES)) {
      const pathCall = g.host.includes('access') || name === 'access';
      if (/^(stat|lstat|newfstatat|statx|statfs|chdir|mkdir|mkdirat|rmdir|unlink|unlinkat|rename|renameat2?|link|linkat|symlink|symlinkat|readlink|readlinkat|chmod|fchmodat2?|chown|lchown|fchownat|utimensat|futimesat|utimes?|truncate|mknodat?|open|openat2?|creat|faccessat2?)$/.test(name)) {
        assert.ok(pathCall, `${name}: a path call goes through fs.ts's /proc guard (access)`);
      }
    }
  });

  it('list every host syscall the VMM itself makes (src/vmm, src/machine, src/kvm, src/host)', () => {
    const missing: string[] = [];
    // The ELF loader opens and reads the interpreter while the Machine is built, which is
    // before the filter (src/cli/run.ts); no guest call loads a program yet.
    // The scheduler's main-thread tick is a timer made once per process when its module
    // loads, which is before the filter too (only timer_settime is a runtime rule).
    const beforeFilter: Record<string, readonly string[]> = { 'src/machine/loader.ts': ['openat', 'pread64', 'fstatfs', 'faccessat2'], 'src/vmm/scheduler.ts': ['timer_create'], 'src/machine/write-track.ts': ['userfaultfd', 'openat'] };
    for (const f of [...sourceFiles('src/vmm'), ...sourceFiles('src/machine'), ...sourceFiles('src/kvm'), ...sourceFiles('src/host')]) {
      const text = read(f);
      // Snapshots are taken and written only under torov serve's and torov snapshot's filter, which adds SERVE_GROUP.
      const extra = /^src\/vmm\/snapshot(-file)?\.ts$/.test(f) ? serveNames : new Set<string>();
      for (const m of text.matchAll(/\bNR\.([a-z0-9_]+)/g)) {
        // NR.open: Kvm.open, before the filter; the rest happen while guests run.
        if (m[1] !== 'open' && !runtimeNames.has(m[1]!) && !extra.has(m[1]!) && !beforeFilter[f]?.includes(m[1]!)) missing.push(`${f}: NR.${m[1]}`);
      }
      for (const m of text.matchAll(/\bsys\(\s*(\d+)/g)) {
        const info = Object.entries(SYS).find(([, nr]) => nr === Number(m[1]));
        if (!info || !runtimeNames.has(info[0])) missing.push(`${f}: sys(${m[1]})`);
      }
      if (/\bioctl(Int|Ptr)\b/.test(text) && !runtimeNames.has('ioctl')) missing.push(`${f}: ioctl`);
    }
    assert.deepEqual(missing, [], 'host syscalls of the VMM in no runtime rule');
  });

  it('list every KVM ioctl the VMM makes once a guest runs', () => {
    const text = read('src/kvm/kvm.ts');
    const used = new Set([...text.matchAll(/ioctl\w*\([^,]+,\s*(KVM_[A-Z0-9_]+)/g)].map((m) => m[1]!));
    const beforeFilter = new Set(['KVM_GET_API_VERSION', 'KVM_CHECK_EXTENSION', 'KVM_GET_VCPU_MMAP_SIZE']);   // Kvm.open only
    const allowed = new Set(allRules.filter((r) => r.syscall === 'ioctl').map((r) => r.args![0]!.name));
    const missing = [...used].filter((n) => !beforeFilter.has(n) && !allowed.has(n));
    assert.deepEqual(missing, [], 'KVM ioctls in src/kvm/kvm.ts without a rule');
    assert.ok(used.has('KVM_RUN') && used.size > 10, [...used].join(' '));
  });

  it('name ioctl requests by their kvm.ts and asm-generic values', () => {
    for (const r of allRules.filter((x) => x.syscall === 'ioctl')) {
      const a = r.args![0]!;
      assert.equal(a.arg, 1);
      const expected = (kvm as unknown as Record<string, number>)[a.name] ?? (TTY_IOCTLS as Record<string, number>)[a.name];
      assert.equal(a.value, expected, a.name);
      assert.equal(IOCTL_NAMES.get(a.value as number), a.name);
    }
  });

  it('forward exactly the ioctl requests of the guest\'s ioctl handler', () => {
    const io = read('src/syscalls/io.ts');
    // The IOCTLS table's entries, `[NAME, { size...`, and the job-control requests ttyJobIoctl forwards.
    const table = [...io.matchAll(/^\s*\[([A-Z_]+),\s*\{\s*size/gm)].map((m) => m[1]!);
    assert.ok(table.length >= 5, 'IOCTLS of io.ts not found');
    const job = ['TIOCGPGRP', 'TIOCGSID'];
    for (const n of job) assert.match(io, new RegExp(`req === ${n}\\b`), `${n} in io.ts`);
    const byName = linuxIoctl as unknown as Record<string, number>;
    const forwarded = [...table, ...job].map((n) => { assert.ok(byName[n] !== undefined, n); return byName[n]!; });
    const listed = GUEST_IOCTL_REQUESTS.map((n) => TTY_IOCTLS[n]);
    assert.deepEqual(forwarded.sort(), [...listed].sort());
  });

  it('do not let the VMM create threads or processes, run programs, change its filter or its privileges', () => {
    const names = new Set([...runtimeNames, ...guestHostNames]);
    // clone is there for threads only (pthread_create's flags, tested above); clone3 only as ENOSYS.
    const threadOnly = Object.values(GUEST_RULES).flatMap((g) => g.host).filter((h) => typeof h !== 'string' && (h.syscall === 'clone' || h.syscall === 'clone3'));
    assert.ok(threadOnly.every((h) => typeof h !== 'string' && ('errno' in h || h.args.every((a) => a.arg === 0 && a.value === PTHREAD_CLONE_FLAGS))));
    assert.ok(![...runtimeNames].includes('clone') && ![...runtimeNames].includes('clone3'));
    for (const n of ['fork', 'vfork', 'execve', 'execveat', 'seccomp', 'ptrace', 'mount', 'umount2', 'pivot_root',
      'chroot', 'unshare', 'setns', 'setuid', 'setresuid', 'setgroups', 'capset', 'bpf', 'kill', 'open_by_handle_at', 'userfaultfd']) {
      assert.ok(!names.has(n), n);
    }
    // prctl only to name a new thread (Node 24); io_uring_setup only refused (libuv falls back).
    const rulesOf = (n: string) => [...RUNTIME_GROUPS.flatMap((g) => g.rules), ...Object.values(GUEST_RULES).flatMap((g) => g.host)]
      .filter((h) => (typeof h === 'string' ? h : h.syscall) === n);
    assert.ok(rulesOf('prctl').length > 0 && rulesOf('prctl').every((h) => typeof h !== 'string' && 'args' in h && h.args?.length === 1 && h.args[0]!.arg === 0 && h.args[0]!.value === PR_SET_NAME));
    assert.ok(rulesOf('io_uring_setup').every((h) => typeof h !== 'string' && 'errno' in h && h.errno !== undefined));
  });
});

describe('describeFilter (torov policy show --seccomp)', () => {
  it('prints the runtime rules, the guest\'s host calls with reasons, and the instruction count', () => {
    const f = buildFilter(defaultPolicy());
    const text = describeFilter(f);
    assert.match(text, /for <default>/);
    assert.match(text, /ioctl KVM_RUN \(0xae80\)\s+runs the vCPU/);
    assert.match(text, /^ {4}futex\s+every lock/m);
    assert.match(text, /^ {2}openat\s+-> openat2, openat, readlinkat, access, close, memfd_create, write, lseek, fcntl,/m);
    assert.match(text, /^ {2}ioctl\s+-> ioctl\(TCGETS .*TIOCGWINSZ/m);
    assert.match(text, /served inside the VMM, no host syscall: .*getpid/s);
    assert.match(text, new RegExp(`BPF program: ${f.instructions} instructions`));
    assert.match(text, /tgkill args\[0\] == own pid/);
    for (const g of RUNTIME_GROUPS) for (const r of g.rules) assert.ok(text.includes(r.why.split(' ').slice(0, 3).join(' ')), r.why);
  });

  it('leaves out what the policy denies', () => {
    const text = describeFilter(buildFilter(policy('deny', [{ names: ['writev', 'ioctl'], action: 'allow' }, { names: ['socket'], action: 'log' }])));
    assert.match(text, /^ {2}writev\s+-> writev, preadv2/m);
    assert.match(text, /^ {2}socket \(log\)\s+-> socket, close/m);
    assert.doesNotMatch(text, /^ {2}openat /m);
    assert.match(text, /denies or kills[^\n]*\n {2}[^]*\bopenat\b/);
  });
});
