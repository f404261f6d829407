/**
 * One torov micro-VM: the boot order, the VM-wide state (memory, address space, fds,
 * policy) and syscall dispatch. It reads top to bottom as the boot does:
 * open KVM -> parse the ELF -> create the VM and its memory -> system tables -> load the
 * program -> build the stack -> vCPU state -> run -> exit status.
 */
import { Kvm, VmFd, VcpuFd, RUN } from '../kvm/kvm';
import { GuestMemory } from '../machine/memory';
import { AddressSpace } from '../machine/mm';
import { writeSystemTables, initVcpu, cpuFeatures, CpuFeatures } from '../machine/x86';
import { FdTable } from '../syscalls/fdtable';
import { windowSize, VDSO_VA, SYS, SYS_VA } from '../machine/layout';
import { setupVdso, tscKhz } from './vdso';
import { Channel, FAST_SYSCALLS } from './channel';
import { SiteRewriter } from './rewrite';
import { STUB_CHAN_CALL } from '../machine/stub';
import { Args, GuestExit, Handler, Kernel, SigAction } from '../syscalls/api';
import { HANDLERS } from '../syscalls/handlers';
import { sys, NR, writeAll, addressOf } from '../host/libc';
import { Vcpu } from './vcpu';
import { Personality, linuxPersonality } from './personality';
import { describeFault, FaultFrame } from './fault';
import { SYSCALL_BY_NR, syscallName } from '../linux/syscalls';
import { errnoName } from '../linux/errno';
import { Policy, verdict, denyErrno, ALLOW, DENY, KILL, LOG, CHECK } from '../policy/policy';
import type { Outcome, Observer } from '../syscalls/argcheck';
import type { TraceMemory, Verdict } from '../syscalls/trace';
import { GuestFault } from '../machine/memory';

const ENOSYS = 38, EFAULT = 14, F_DUPFD_CLOEXEC = 1030;
/** How many distinct refusals by argument rules --verbose reports. */
const REFUSALS_SHOWN = 100;
const NR_CLOCK_GETTIME = 228, NR_GETTIMEOFDAY = 96, NR_TIME = 201;
const NO_ARGS: Args = { i: () => 0, u: () => 0, n: () => 0, ptr: () => 0, big: () => 0n };

/** Everything needed to start a program. */
export interface MachineConfig {
  /** Path of the executable on the host, and its bytes. */
  path: string;
  image: Uint8Array;
  argv: readonly string[];
  env: readonly string[];
  memory: number;
  policy: Policy;
  /** Where --trace lines go (a host fd), or undefined. */
  traceFd?: number;
  verbose?: boolean;
  /** Host fds that become the guest's 0, 1 and 2 (duplicated; default: the VMM's own). */
  stdio?: readonly [number, number, number];
  /** Writes a diagnostic line to the user (stderr). */
  log: (line: string) => void;
  /** How the program is loaded and asks for system calls (default: linux). */
  personality?: Personality;
  /** An entry point that overrides the program's (ToroV's Startaddr). */
  entry?: number;
  /** False: no in-guest fast paths (--no-vdso): the clock calls, getpid and the uid calls then go to the VMM as any syscall. */
  vdso?: boolean;
  /** How syscalls reach the VMM (src/vmm/channel.ts); default exit. */
  syscallPath?: 'exit' | 'ring';
  /** With the ring path: rewrite syscall instructions into calls where provably safe (src/vmm/rewrite.ts); default true. */
  rewrite?: boolean;
  /** With the ring path: the Machine may start the channel's vCPU thread itself when it pays off (not under the sandbox's filter). */
  spawnThread?: boolean;
  /** Learn mode (torov policy learn): every call is recorded here, and allowed. The policy must give every number CHECK. */
  learner?: Observer;
}

/**
 * A VM and vCPU kept from the last Machine of this process, for the next one. Creating
 * and destroying a VM costs about 1.5 ms of kernel work on kvm_pvm; reusing one costs a
 * re-registration of its memory slots (which makes KVM drop every cached translation)
 * and a reset of every piece of vCPU state a guest can change.
 */
interface WarmVm { vm: VmFd; vcpu: VcpuFd; memSize: number; resetSregs: Buffer }
let warm: WarmVm | undefined;

let sharedKvm: Kvm | undefined;
/** The process-wide /dev/kvm handle (opened once; creating VMs is cheaper while it stays open). */
export function kvmHandle(): Kvm {
  if (!sharedKvm) sharedKvm = Kvm.open(process.env['TOROV_KVM_DEVICE'] || '/dev/kvm');
  return sharedKvm;
}

/** The per-VM kernel state handlers see. */
class KernelState implements Kernel {
  readonly sigactions = new Map<number, SigAction>();
  sigmask = 0n;
  altstack: Uint8Array = new Uint8Array(24);
  clearTid = 0;
  robustList = 0;
  fsBase = 0;
  gsBase = 0;
  fsBaseDirty = false;
  readonly pid = process.pid;
  readonly ppid = process.ppid;
  readonly uid = process.getuid?.() ?? 0;
  readonly gid = process.getgid?.() ?? 0;
  private readonly noted = new Set<string>();
  constructor(readonly exe: string, readonly mem: GuestMemory, readonly as: AddressSpace, readonly fds: FdTable,
    private readonly verbose: boolean, private readonly log: (l: string) => void) {}
  console(text: Uint8Array): void {
    this.log(`torov: console: ${printable(Buffer.from(text).toString('utf8'))}`);
  }
  note(key: string, message: string): void {
    if (!this.verbose || this.noted.has(key)) return;
    this.noted.add(key);
    this.log(`torov: ${printable(message)}`);
  }
}

export class Machine {
  readonly kvm: Kvm;
  readonly vm: VmFd;
  readonly mem: GuestMemory;
  readonly as: AddressSpace;
  readonly fds: FdTable;
  readonly kernel: KernelState;
  readonly vcpu: Vcpu;
  readonly policy: Policy;
  readonly features: CpuFeatures;
  /** The guest ABI (src/vmm/personality.ts). */
  readonly personality: Personality;
  private readonly handlers: readonly (Handler | undefined)[];
  private readonly traceFd: number | undefined;
  /** The trace formatter, loaded at boot only when tracing (it is large; and under the sandbox's seccomp filter a later require could not read its file). */
  private readonly formatTraceLine: typeof import('../syscalls/trace').formatTraceLine | undefined;
  private readonly log: (l: string) => void;
  /** Argument checks (src/syscalls/argcheck.ts), loaded only when the policy has argument rules or learns. */
  private readonly argcheck: typeof import('../syscalls/argcheck') | undefined;
  private readonly learner: Observer | undefined;
  private readonly verbose: boolean;
  /** Refusals by argument rules reported so far (with --verbose). */
  private readonly refused = new Set<string>();
  /** The vCPU's special registers as KVM made them (the template for a reset on reuse). */
  private resetSregs!: Buffer;
  /** Rewrites syscall sites into calls of the channel (ring path only). */
  rewriter: SiteRewriter | undefined;
  /** True once the guest ended through an exit torov understood (exit, fault, policy kill). */
  cleanExit = false;
  /** Set when the vCPU stopped in a way that rules out reusing it (triple fault, KVM errors). */
  tainted = false;
  stopRequested = false;
  stopStatus = 0;
  stopReason: string | undefined;
  private closed = false;

  constructor(cfg: MachineConfig) {
    this.log = cfg.log;
    this.policy = cfg.policy;
    this.traceFd = cfg.traceFd;
    this.formatTraceLine = cfg.traceFd !== undefined ? (require('../syscalls/trace') as typeof import('../syscalls/trace')).formatTraceLine : undefined;
    this.personality = cfg.personality ?? linuxPersonality;
    this.learner = cfg.learner;
    this.verbose = !!cfg.verbose;
    this.argcheck = cfg.learner !== undefined || cfg.policy.argRules.some((s) => s !== undefined)
      ? require('../syscalls/argcheck') as typeof import('../syscalls/argcheck') : undefined;
    this.personality.validate(cfg.image);          // ElfError -> exit 126, before any VM exists
    this.kvm = kvmHandle();
    this.features = cpuFeatures(this.kvm);
    const winSize = windowSize(cfg.memory);
    const reuse = warm !== undefined && warm.memSize === winSize ? warm : undefined;
    if (warm && !reuse) { warm.vcpu.close(); warm.vm.close(); }
    warm = undefined;
    this.vm = reuse ? reuse.vm : this.kvm.createVm();
    let created: VcpuFd | undefined;
    try {
      this.mem = GuestMemory.acquire(winSize);
      if (reuse) {
        // Deleting the slots makes KVM zap every shadow page and cached translation of the
        // last guest before the new memory is registered at the same addresses.
        this.vm.setMemoryRegion(0, 0, 0, this.mem.hostBase);
        this.vm.setMemoryRegion(1, this.mem.layout.sysGpa, 0, this.mem.sysHost);
      }
      this.vm.setMemoryRegion(0, 0, this.mem.memSize, this.mem.hostBase);
      this.vm.setMemoryRegion(1, this.mem.layout.sysGpa, this.mem.layout.sysSize, this.mem.sysHost);
      writeSystemTables(this.mem);
      this.as = new AddressSpace(this.mem, cfg.memory);
      this.fds = new FdTable();
      for (let fd = 0; fd <= 2; fd++) {
        const h = sys(NR.fcntl, cfg.stdio?.[fd] ?? fd, F_DUPFD_CLOEXEC, 3);
        const safe = h >= 0 ? safeStdio(h) : -1;
        if (safe >= 0) this.fds.set(fd, safe);
      }
      this.kernel = new KernelState(resolvePath(cfg.path), this.mem, this.as, this.fds, !!cfg.verbose, cfg.log);
      const vfd = reuse ? reuse.vcpu : (created = this.vm.createVcpu(0));
      // The vDSO (in-guest clock_gettime/gettimeofday/time) only when the policy lets all
      // three through unlogged: a denied, killed or logged clock call must still exit.
      const vdso = cfg.vdso !== false && this.personality.vdso === true
        && [NR_CLOCK_GETTIME, NR_GETTIMEOFDAY, NR_TIME].every((nr) => verdict(this.policy, nr) === ALLOW)
        && setupVdso(this.mem, vfd);
      const start = this.personality.load({ as: this.as, image: cfg.image, path: cfg.path, argv: cfg.argv, env: cfg.env,
        kernel: this.kernel, hwcap: this.features.hwcap, random: hostRandom(16), ...(cfg.entry !== undefined ? { entry: cfg.entry } : {}),
        ...(vdso ? { vdso: VDSO_VA } : {}) });
      this.handlers = HANDLERS;
      this.resetSregs = reuse ? reuse.resetSregs : vfd.getSregs();
      // Everything of the last guest a program could observe: FPU/SSE/AVX registers,
      // pending events, debug registers; then special registers, MSRs and general registers.
      if (reuse) { vfd.run.setUint8(RUN.immediate_exit, 0); vfd.resetFpu(); vfd.resetEvents(); vfd.resetDebugRegs(); }
      initVcpu(vfd, this.kvm, this.mem, this.features, reuse ? this.resetSregs : undefined);
      this.vcpu = new Vcpu(this, vfd, 0);
      this.vcpu.setEntry(start.rip, start.rsp);  // every general register: zero but rip, rsp, rflags
      // The channel page starts zeroed (GuestMemory maps the system slot afresh): the channel is off.
      if (cfg.syscallPath === 'ring') {
        const ch = this.vcpu.channel = this.openChannel(cfg, vfd);
        if (cfg.rewrite !== false && start.bias !== undefined) {
          const rw = this.rewriter = new SiteRewriter(this.mem, this.as, cfg.image, start.bias, SYS_VA + SYS.STUB + STUB_CHAN_CALL);
          ch.onSite = (ret) => rw.consider(ret - 2);
        }
      }
    } catch (e) {
      if (reuse) reuse.vcpu.close();
      created?.close();
      this.vm.close();
      (this as { mem?: GuestMemory }).mem?.release();
      throw e;
    }
  }

  /**
   * The syscall channel, with the values of the in-guest fast paths: each is what its
   * handler answers, published only if the policy allows the call plainly.
   */
  private openChannel(cfg: MachineConfig, vfd: VcpuFd): Channel {
    const fast = new Map<number, number>();
    if (cfg.vdso !== false && this.personality.vdso === true) {
      for (const [nr] of FAST_SYSCALLS) {
        const h = this.handlers[nr];
        if (h && verdict(this.policy, nr) === ALLOW) fast.set(nr, h(this.kernel, NO_ARGS));
      }
    }
    return new Channel(this, this.vcpu, { tscKhz: tscKhz(vfd) || 1_000_000, fast, spawnThread: cfg.spawnThread === true });
  }

  /** Runs the program to its end; returns its exit status. */
  run(): number {
    return this.vcpu.run();
  }

  /** Called by the vCPU loop with the program's end. */
  finish(e: GuestExit): number {
    this.cleanExit = true;
    const ch = this.vcpu.channel;
    if (ch) {
      const s = ch.stats;
      this.kernel.note('channel', `syscall channel: ${s.served} served, ${s.exits} exits after the handover${s.handedOver ? ` (at exit ${s.handoverAt})` : ' (no handover: the vCPU thread was not needed or not ready)'}, ${s.kicks} kicks, ${s.waits} waits, ${s.sleeps} sleeps, ${s.backoffs} back-offs to the exit path`);
      const r = this.rewriter?.stats;
      if (r) {
        const why = [...r.reasons].map(([k, n]) => `${n}: ${k}`).join('; ');
        this.kernel.note('rewrite', `syscall sites rewritten into calls: ${r.rewritten}, left as they are: ${r.refused}${why ? ` (${why})` : ''}`);
      }
    }
    if (e.reason) this.log(e.reason);
    return e.status;
  }

  /** Stops the VM from outside the run loop (timeouts, signals): the loop ends at its next exit. */
  requestStop(status: number, reason?: string): void {
    this.stopRequested = true;
    this.stopStatus = status;
    this.stopReason = reason;
  }

  /**
   * Dispatches one syscall: policy verdict, then the handler. Returns the value for rax.
   * The policy is checked first, so a denied call never reaches a handler or the host.
   */
  dispatch(nr: number, a: Args): number {
    const act = verdict(this.policy, nr);
    if (this.traceFd !== undefined) return this.dispatchTraced(nr, a, act);
    if (act === ALLOW) return this.call(nr, a);
    if (act === DENY) return this.denied(nr);
    if (act === LOG) {
      const r = this.call(nr, a);
      this.log(`torov: policy log: ${syscallName(nr)} = ${r}`);
      return r;
    }
    if (act === CHECK) return this.dispatchChecked(nr, a, this.checkArgs(nr, a));
    throw this.killed(nr);
  }

  /** The verdict of a call with argument rules (or in learn mode): src/syscalls/argcheck.ts. */
  private checkArgs(nr: number, a: Args): Outcome {
    const ac = this.argcheck!;
    return this.learner ? ac.observe(this.kernel, nr, a, this.learner) : ac.evaluate(this.kernel, nr, a, this.policy.argRules[nr]!, this.policy.source);
  }

  /**
   * Applies an argument check's outcome. The handler runs with the checked copies pinned
   * (paths, addresses) and they are dropped after it. A denial is reported with --verbose
   * (once per message; plain denials are silent too), a kill always.
   */
  private dispatchChecked(nr: number, a: Args, o: Outcome): number {
    if (o.result !== undefined) { this.argcheck!.unpin(); return o.result; }
    if (o.code === DENY) {
      // Each distinct refusal once, and at most REFUSALS_SHOWN of them: a guest must not
      // be able to grow the VMM's memory or flood the terminal through these messages.
      if (this.verbose && o.message && this.refused.size <= REFUSALS_SHOWN && !this.refused.has(o.message)) {
        this.refused.add(o.message);
        this.log(this.refused.size > REFUSALS_SHOWN ? `torov: policy: more than ${REFUSALS_SHOWN} kinds of refused calls; no more are reported` : printable(o.message));
      }
      return nr >= 0 && SYSCALL_BY_NR[nr] !== undefined ? -o.errno : -ENOSYS;
    }
    if (o.code === KILL) throw new GuestExit(159, printable(o.message ?? `torov: SIGSYS: ${syscallName(nr)} (syscall ${nr}) is not allowed by the policy (${this.policy.source}): killed`));
    try {
      const r = this.call(nr, a);
      if (o.code === LOG) this.log(`torov: policy log: ${syscallName(nr)} = ${r}`);
      return r;
    } finally {
      this.argcheck!.unpin();
    }
  }

  /** A denied call returns the policy's errno; a number that is no Linux syscall is ENOSYS, as in Linux. */
  private denied(nr: number): number {
    const known = nr >= 0 && SYSCALL_BY_NR[nr] !== undefined;
    // --verbose: each refused syscall once (kernel.note keeps one per key).
    if (this.verbose) this.kernel.note(`deny-${nr}`, `policy: ${syscallName(nr)} (syscall ${nr}) is not allowed by the policy (${this.policy.source}): denied with ${known ? `${errnoName(denyErrno(this.policy, nr))}` : 'ENOSYS'}`);
    return known ? -denyErrno(this.policy, nr) : -ENOSYS;
  }

  private killed(nr: number): GuestExit {
    return new GuestExit(159, `torov: SIGSYS: ${syscallName(nr)} (syscall ${nr}) is not allowed by the policy (${this.policy.source}): killed`);
  }

  private call(nr: number, a: Args): number {
    const h = this.handlers[nr];
    if (h === undefined) {
      this.kernel.note(`enosys-${nr}`, `${syscallName(nr)} (syscall ${nr}) is not implemented: returned ENOSYS`);
      return -ENOSYS;
    }
    try {
      return h(this.kernel, a);
    } catch (e) {
      if (e instanceof GuestFault) return -EFAULT;
      throw e;
    }
  }

  private dispatchTraced(nr: number, a: Args, act: number): number {
    const info = nr >= 0 ? SYSCALL_BY_NR[nr] : undefined;
    const args = [0, 1, 2, 3, 4, 5].map((i) => a.big(i));
    const tm = this.traceMemory();
    const o = act === CHECK ? this.checkArgs(nr, a) : undefined;
    const code = o ? (o.result !== undefined ? ALLOW : o.code) : act;
    const v: Verdict = code === ALLOW ? 'allow' : code === DENY ? 'deny' : code === KILL ? 'kill' : 'log';
    const formatTraceLine = this.formatTraceLine!;
    const out = (result: bigint) => writeAll(this.traceFd!, formatTraceLine(info, nr, args, tm, result, v) + '\n');
    if (code === KILL) { out(0n); if (o) this.dispatchChecked(nr, a, o); throw this.killed(nr); }
    let r: number;
    if (code === DENY) r = o ? this.dispatchChecked(nr, a, o) : this.denied(nr);
    else {
      try { r = o ? this.dispatchChecked(nr, a, o) : this.call(nr, a); } catch (e) { if (e instanceof GuestExit) out(0n); throw e; }
    }
    out(BigInt.asUintN(64, BigInt(r)));
    return r;
  }

  private traceMemory(): TraceMemory {
    const mem = this.mem;
    return {
      readString(addr: number, max: number) {
        try {
          let n = 0;
          const bytes: number[] = [];
          while (n < max + 1) { const v = mem.view(addr + n, 1, false)[0]!; if (v === 0) return { s: Buffer.from(bytes).toString('latin1'), truncated: false }; bytes.push(v); n++; }
          return { s: Buffer.from(bytes.slice(0, max)).toString('latin1'), truncated: true };
        } catch { return null; }
      },
      readBytes(addr: number, len: number) {
        try { return mem.read(addr, len); } catch { return null; }
      },
    };
  }

  /** Decides what a CPU exception does: resume (spurious) or end the program with a signal. */
  onFault(f: FaultFrame): 'resume' | { status: number; message: string } {
    const own = this.personality.fault?.(f, this.kernel);
    if (own) return { status: own.status, message: own.reason ?? '' };
    if (f.vector === 14) {
      // A page whose PTE now allows the access (it was raised after the CPU cached the old
      // one) faults once more on VMX hosts: retry it.
      const write = (f.error & 2) !== 0, exec = (f.error & 16) !== 0;
      if (f.cr2 < this.mem.memSize) {
        const prot = this.mem.pageProt(f.cr2);
        if (prot && (!write || prot & 2) && (!exec || prot & 4) && (f.error & 1)) {
          if (++this.spurious < 64) return 'resume';
        }
      }
    }
    const { signal, message } = describeFault(f);
    return { status: 128 + signal, message };
  }
  private spurious = 0;

  /** Releases the VM, its memory and the guest's host fds. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const reusable = this.cleanExit && !this.tainted && !warm;
    if (reusable) {
      // The guest ended on an I/O exit whose completion KVM still holds (it would apply it
      // to the next guest's first instruction, and a string IN writes guest memory): complete
      // it now, against this guest and before its memory is released, with one KVM_RUN that
      // returns at once (immediate_exit).
      const run = this.vcpu.fd.run;
      run.setUint8(RUN.immediate_exit, 1);
      this.vcpu.fd.runOnce();
      run.setUint8(RUN.immediate_exit, 0);
    }
    this.fds.closeAll();
    this.mem.release();
    // Keep the VM for the next Machine of this process, unless its guest ended in a state
    // torov did not see through (a triple fault, an internal error, a VMM error).
    if (reusable) {
      this.vcpu.fd.run.setBigUint64(RUN.kvm_valid_regs, 0n, true);
      this.vcpu.fd.run.setBigUint64(RUN.kvm_dirty_regs, 0n, true);
      warm = { vm: this.vm, vcpu: this.vcpu.fd, memSize: this.mem.memSize, resetSregs: this.resetSregs };
      return;
    }
    this.vcpu.fd.close();
    this.vm.close();
  }
}


/** Random bytes from the host kernel (getrandom(2)); node:crypto costs milliseconds to load. */
function hostRandom(n: number): Uint8Array {
  const b = new Uint8Array(n);
  if (sys(318 /* getrandom */, addressOf(b), n, 0) !== n) throw new Error('getrandom failed');
  return b;
}

/** Absolute form of a path, as the guest's /proc/self/exe reports it. */
function resolvePath(p: string): string {
  return p.startsWith('/') ? p : `${process.cwd()}/${p}`.replace(/\/(\.\/)+/g, '/');
}

/**
 * A stdio fd the guest may have: a directory or an O_PATH fd would be a handle on the host's
 * filesystem outside the jail (openat(0, "../..."), fchdir), so the guest gets none there
 * (as if it had been closed). Returns the host fd, or -1.
 */
function safeStdio(h: number): number {
  const st = new Uint8Array(144);
  const fl = sys(NR.fcntl, h, 3 /* F_GETFL */);
  const isDir = sys(5 /* fstat */, h, addressOf(st)) === 0 && (new DataView(st.buffer).getUint32(24, true) & 0o170000) === 0o040000;
  if (!isDir && !(fl >= 0 && fl & 0o10000000 /* O_PATH */)) return h;
  sys(NR.close, h);
  return -1;
}

/** Text from a guest, made safe for a terminal: control characters (escape sequences) as \xNN. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
