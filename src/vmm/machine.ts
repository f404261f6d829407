/**
 * One torov micro-VM: the boot order, the VM-wide state (memory, address space, fds,
 * policy) and syscall dispatch. It reads top to bottom as the boot does:
 * open KVM -> parse the ELF -> create the VM and its memory -> system tables -> load the
 * program -> build the stack -> vCPU state -> run -> exit status.
 */
import { Kvm, VmFd, VcpuFd, RUN, REGS, KVM_SYNC_X86_REGS, KVM_SYNC_X86_SREGS, KVM_SYNC_X86_EVENTS } from '../kvm/kvm';
import { GuestMemory } from '../machine/memory';
import { AddressSpace } from '../machine/mm';
import { writeSystemTables, initVcpu, cpuFeatures, CpuFeatures, frameXfeatures, xsaveSize } from '../machine/x86';
import { FdTable } from '../syscalls/fdtable';
import { windowSize, VDSO_VA, SYS, SYS_VA, DEFAULT_THREADS, MAX_VCPUS, VcpuPages } from '../machine/layout';
import { setupVdso, tscKhz } from './vdso';
import { Slot, FAST_SYSCALLS } from './channel';
import { Scheduler, SchedulerHost } from './scheduler';
import { SiteRewriter } from './rewrite';
import { STUB_CHAN_CALL } from '../machine/stub';
import { GuestExit, SignalInfo, ExecImage } from '../syscalls/api';
import { SysError, EINTR, ENOMEM, EAGAIN } from '../linux/errno';
import { SEGV_ACCERR, SEGV_MAPERR, FPE_INTDIV, FPE_FLTDIV, ILL_ILLOPN, BUS_ADRALN, BUS_ADRERR, SI_KERNEL } from './sigstate';
import { SIGBUS } from '../linux/signal';
import { memoryCandidates } from '../machine/x86-decode';
import { HANDLERS } from '../syscalls/handlers';
import { sys, NR, addressOf } from '../host/libc';
import { nowMs } from '../host/clock';
import { Vcpu, StopState } from './vcpu';
import { Personality, linuxPersonality, LoaderOptions, EntryState } from './personality';
import { describeFault, FaultFrame } from './fault';
import { Policy, verdict, ALLOW } from '../policy/policy';
import { Dispatcher, NO_ARGS } from './dispatch';
import { ThreadGroup, Task } from './task';
import type { Observer } from '../syscalls/argcheck';
import { Snapshot, CapturePoint, capture, isCapturePoint, restoreMemory, restoreFds, setEnvironment, rewindFiles, SnapshotError, resetInPlace, KeptFds, takeKeptFds } from './snapshot';

import { F_DUPFD_CLOEXEC, F_GETFL, O_PATH, AT_FDCWD, O_DIRECTORY, O_CLOEXEC } from '../linux/fcntl';

const DOT = Buffer.from('.\0');
import { S_IFDIR, S_IFMT } from '../linux/stat';
import { STAT } from '../linux/structs';
import { HOST } from '../syscalls/host-nr';

/** The host's CPUs (sched_getaffinity), read once when torov loads: the sandbox's filter may not allow it later. */
const HOST_CPUS: number = require('node:os').availableParallelism();
const NR_CLOCK_GETTIME = HOST.clock_gettime, NR_GETTIMEOFDAY = HOST.gettimeofday, NR_TIME = HOST.time;

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
  /**
   * Host fds that become the guest's 0, 1 and 2 (duplicated; default: the VMM's own). A
   * restore in place may take the duplicates an earlier restore of the same snapshot made
   * from the same fd numbers (KeptFds): while a snapshot is in use, these numbers must name
   * the same open files (serve and VMSnapshot keep one set of memfds for their life).
   */
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
  /** With the ring path: the Machine may start the channel's vCPU thread itself when it pays off (unless the sandbox's filter forbids new threads: HostThread.forbidNew). */
  spawnThread?: boolean;
  /** Learn mode (torov policy learn): every call is recorded here, and allowed. The policy must give every number CHECK. */
  learner?: Observer;
  /** The most threads the program may have at once (--threads; clone fails with EAGAIN past it). */
  threads?: number;
  /** The most threads of all guest processes at once (from --pids; fork and clone fail with EAGAIN past it). */
  tasks?: number;
  /** How many CPUs the guest sees (--cpus; default the host's). */
  cpus?: number;
  /** The size of the guest's fd table, its RLIMIT_NOFILE (the policy's rlimits.openFiles; default 1024). */
  openFiles?: number;
  /** The program's file and the guest's root, for the Linux loader (src/vmm/personality.ts). */
  loader?: LoaderOptions;
  /** Start from this snapshot instead of loading the program (src/vmm/snapshot.ts): exit path only. */
  restore?: Snapshot;
  /**
   * Take a snapshot at the program's first read of stdin (or accept): `done` gets it and
   * the run ends there with status 0. `memfd` is an empty memfd (made before any seccomp filter).
   */
  capture?: { at: CapturePoint; memfd: number; done: (s: Snapshot) => void };
}

/**
 * A VM and vCPU kept from the last Machine of this process, for the next one. Creating
 * and destroying a VM costs about 1.5 ms of kernel work on kvm_pvm; reusing one costs a
 * re-registration of its memory slots (which makes KVM drop every cached translation)
 * and a reset of every piece of vCPU state a guest can change.
 */
interface WarmVm {
  vm: VmFd; vcpu: VcpuFd; memSize: number; resetSregs: Buffer; maxVcpus: number;
  /**
   * The VM's memory, scrubbed and still registered in its slots (a guest process's VM): the
   * next guest gets it without KVM_SET_USER_MEMORY_REGION (half a millisecond per call on
   * kvm_pvm). Scrubbing fired KVM's MMU notifier for every page, as an munmap does.
   */
  mem?: GuestMemory;
}
/** VMs kept for reuse: the last program's, and the VMs of guest processes that ended (a shell's children). */
const warmVms: WarmVm[] = [];
/** How many ended VMs are kept (a pipeline's worth). */
const WARM_MAX = 4;

/** A snapshot's FS or GS base, which a snapshot file could forge: refused unless a canonical user address (as arch_prctl requires). */
function canonicalBase(v: number): bigint {
  if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** 47) throw new SnapshotError('restore: the snapshot\'s FS/GS base is not a user address');
  return BigInt(v);
}

/** The XSAVE area of signal frames for these CPU features: the same for every Machine (a few µs of BigInt work each time). */
function signalXsave(feat: CpuFeatures): { readonly size: number; readonly features: bigint } {
  let x = SIGNAL_XSAVE.get(feat);
  if (!x) {
    const features = frameXfeatures(feat);
    SIGNAL_XSAVE.set(feat, x = { size: xsaveSize(feat, features), features });
  }
  return x;
}
const SIGNAL_XSAVE = new WeakMap<CpuFeatures, { readonly size: number; readonly features: bigint }>();

/**
 * A snapshot is released (VMSnapshot.close): the warm windows kept in its state are emptied,
 * which also closes the fds kept with them (KeptFds) and frees its pages they held.
 */
export function forgetSnapshot(s: Snapshot): void {
  for (const w of warmVms) if (w.mem?.held === s) w.mem.scrub();
}

/** A kept VM for a window of `memSize` bytes and `maxVcpus` vCPUs, if there is one. */
function takeWarm(memSize: number, maxVcpus: number, snap?: Snapshot): WarmVm | undefined {
  // A restore takes first a window that holds its snapshot's state (reset in place).
  const held = snap ? warmVms.findIndex((w) => w.mem?.held === snap && w.maxVcpus === maxVcpus) : -1;
  const i = held >= 0 ? held : warmVms.findIndex((w) => w.memSize === memSize && w.maxVcpus === maxVcpus);
  if (i >= 0) return warmVms.splice(i, 1)[0];
  // Kept for another size: not needed by this process's guests.
  for (const w of warmVms.splice(0)) { w.vcpu.close(); w.vm.close(); w.mem?.release(); }
  return undefined;
}

/** What a forked process's VM is made from (Machine's constructor). */
export interface ForkOrigin {
  parent: Machine;
  /** The forking thread, its registers (struct kvm_regs: the child's, rax already 0) and FPU state. */
  task: Task;
  regs: Buffer;
  fpu: Buffer | undefined;
  pid: number;
  /**
   * A vfork child that execs (Loan.adopt): the new VM is for process `task.group` and its
   * thread `task`, which exist already; nothing of the parent's memory is copied (empty
   * window, fresh page tables: an exec loads the program next).
   */
  adopt?: boolean;
}

/**
 * A new process's identity and inherited state from the process of thread `pt` (fork and
 * vfork): a copy of its handlers, process group, session, umask, and the VMM's working
 * directory (the parent's, which runs now) as its own.
 */
function childProcess(pt: Task, pid: number, mem: GuestMemory, as: AddressSpace, fds: FdTable): { group: ThreadGroup; task: Task } {
  const pg = pt.group;
  const group = new ThreadGroup(pg.exe, mem, as, fds, pg.diagnostics, { pid, ppid: pg.pid, uid: pg.uid, gid: pg.gid }, pg.notedKeys);
  for (const [sig, act] of pg.sigactions) group.sigactions.set(sig, { ...act });
  group.pgid = pg.pgid;
  group.sid = pg.sid;
  group.umask = pg.umask;
  group.cwdFd = sys(HOST.openat, AT_FDCWD, addressOf(DOT), O_PATH | O_DIRECTORY | O_CLOEXEC);
  const task = new Task(group, pid, pt.sched);
  task.sigmask = pt.sigmask;
  task.altstack = pt.altstack.slice();
  task.fsBase = pt.fsBase;
  task.gsBase = pt.gsBase;
  task.fsBaseDirty = true;
  group.tasks.push(task);
  return { group, task };
}


let sharedKvm: Kvm | undefined;
/** The ids a new program sees: the VMM's (three host syscalls). */
function hostIds(): { pid: number; ppid: number; uid: number; gid: number } {
  return { pid: process.pid, ppid: process.ppid, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

/**
 * The ids a restored program sees: read at the first restore of its snapshot and kept, so
 * that every restore of it sees the same ones (it may have read them before its capture
 * point) and a restore makes no syscall for them.
 */
const RESTORED_IDS = new WeakMap<Snapshot, { pid: number; ppid: number; uid: number; gid: number }>();
function restoredIds(s: Snapshot): { pid: number; ppid: number; uid: number; gid: number } {
  let ids = RESTORED_IDS.get(s);
  if (ids === undefined) RESTORED_IDS.set(s, ids = hostIds());
  return ids;
}

/** The process-wide /dev/kvm handle (opened once; creating VMs is cheaper while it stays open). */
export function kvmHandle(): Kvm {
  if (!sharedKvm) sharedKvm = Kvm.open(process.env['TOROV_KVM_DEVICE'] || '/dev/kvm');
  return sharedKvm;
}

export class Machine implements SchedulerHost {
  readonly kvm: Kvm;
  readonly vm: VmFd;
  readonly mem: GuestMemory;
  /** The address space (replaced by an exec). */
  as: AddressSpace;
  readonly fds: FdTable;
  /** What the program was started with (a fork's child keeps its parent's). */
  readonly cfg: MachineConfig;
  /** Whether the vDSO is mapped (a fork's child sets up its own clock page). */
  private vdsoOn = false;
  /** The guest process (one per VM today) and its first thread. */
  readonly group: ThreadGroup;
  readonly task: Task;
  readonly vcpu: Vcpu;
  readonly policy: Policy;
  readonly features: CpuFeatures;
  /** The guest ABI (src/vmm/personality.ts). */
  readonly personality: Personality;
  /** Policy, argument rules, learn mode, trace and handlers (src/vmm/dispatch.ts). */
  readonly dispatcher: Dispatcher;
  /** Runs the guest's threads (src/vmm/scheduler.ts). */
  readonly scheduler: Scheduler;
  readonly maxThreads: number;
  readonly cpus: number;
  /** The XSAVE area signal frames save: its size and the features in it. */
  readonly xsave: { readonly size: number; readonly features: bigint };
  /** vCPU fds by index (0 is the first thread's); finished threads' indexes for reuse. */
  private readonly vcpus: VcpuFd[] = [];
  private readonly freeIndexes: number[] = [];
  /** Fresh special registers of each vCPU (the template when it is reused). */
  private readonly freshSregs: Buffer[] = [];
  private readonly chanOpts: { tscKhz: number; fast: Map<number, number>; trapFast: boolean } | undefined;
  private readonly log: (l: string) => void;
  /** The vCPU's special registers as KVM made them (the template for a reset on reuse). */
  private resetSregs!: Buffer;
  /** How the program was loaded: entry, auxv, its interpreter (the debugger's qXfer:auxv and libraries-svr4). */
  loaded!: EntryState;
  /** Rewrites syscall sites into calls of the channel (ring path only). */
  rewriter: SiteRewriter | undefined;
  /** True once the guest ended through an exit torov understood (exit, fault, policy kill). */
  cleanExit = false;
  /** Set when the vCPU stopped in a way that rules out reusing it (triple fault, KVM errors). */
  tainted = false;
  /** The scheduler completed the vCPU's pending I/O exit on its own thread (a process's end). */
  ioCompleted = false;
  /** A stop asked for from outside the run loop (requestStop). */
  readonly stop: StopState = { requested: false, status: 0, reason: undefined };
  private closed = false;
  /** A restored VM whose window held the snapshot's state already (reset in place after an earlier run). */
  restoredInPlace = false;
  /** run() was called (a restore's first run begins with its capture point's call: Vcpu.fakeSyscallExit). */
  private ranOnce = false;
  /** A restored VM: the window's mapping generation once restored (see resetInPlace). */
  private restoreGen = { mapGen: -1, hostGen: -1 };
  /** A restored VM: its fd table's mark, its working directory's fd and the stdio they were made from, as restored (see KeptFds). */
  private restoredFds: { mark: number; cwdFd: number; cwdChanges: number; stdio: readonly number[] } | undefined;

  constructor(cfg: MachineConfig, origin?: ForkOrigin) {
    this.cfg = cfg;
    this.log = cfg.log;
    this.policy = cfg.policy;
    this.personality = cfg.personality ?? linuxPersonality;
    this.dispatcher = origin ? origin.parent.dispatcher : new Dispatcher({ policy: cfg.policy, traceFd: cfg.traceFd, verbose: !!cfg.verbose, log: cfg.log,
      ...(cfg.learner ? { learner: cfg.learner } : {}) });
    if (origin) this.stop = origin.parent.stop;
    else if (!cfg.restore) this.personality.validate(cfg.image);    // ElfError -> exit 126, before any VM exists (a snapshot's was, at capture)
    this.maxThreads = Math.max(1, Math.min(cfg.threads ?? DEFAULT_THREADS, MAX_VCPUS));
    this.cpus = Math.max(1, cfg.cpus ?? HOST_CPUS);
    this.kvm = kvmHandle();
    this.features = cpuFeatures(this.kvm);
    this.xsave = signalXsave(this.features);
    if ((cfg.capture || cfg.restore) && cfg.syscallPath === 'ring') throw new SnapshotError('snapshots need --syscall-path exit');
    const winSize = windowSize(cfg.memory);
    const reuse = takeWarm(winSize, this.maxThreads, origin ? undefined : cfg.restore);
    // A window kept in another snapshot's state is emptied first, as every other kept window was.
    if (reuse?.mem?.held !== undefined && (origin || reuse.mem.held !== cfg.restore)) reuse.mem.scrub();
    this.vm = reuse ? reuse.vm : this.kvm.createVm();
    let created: VcpuFd | undefined;
    let kept: KeptFds | undefined;
    try {
      // (A restore copies the snapshot's system pages, page tables included, over them.)
      this.mem = reuse?.mem ? (cfg.restore && !origin ? reuse.mem : reuse.mem.renew()) : GuestMemory.acquire(winSize, this.maxThreads);
      if (reuse?.mem) {
        // Registered already.
      } else if (reuse) {
        // Deleting the slots makes KVM zap every shadow page and cached translation of the
        // last guest before the new memory is registered at the same addresses.
        this.vm.setMemoryRegion(0, 0, 0, this.mem.hostBase);
        this.vm.setMemoryRegion(1, this.mem.layout.sysGpa, 0, this.mem.sysHost);
      }
      if (!reuse?.mem) {
        this.vm.setMemoryRegion(0, 0, this.mem.memSize, this.mem.hostBase);
        this.vm.setMemoryRegion(1, this.mem.layout.sysGpa, this.mem.layout.sysSize, this.mem.sysHost);
      }
      if (origin?.adopt) {
        // A vfork child's own VM at its exec: fresh tables, an empty window; its process and thread exist.
        writeSystemTables(this.mem);
        this.as = new AddressSpace(this.mem, cfg.memory);
        this.group = origin.task.group;
        this.fds = this.group.fds;
        this.scheduler = origin.parent.scheduler;
        this.task = origin.task;
      } else if (origin) {
        // A fork: the parent's page tables and system pages, a copy of its memory and fds
        // (of the forking process: a vfork child borrowing this VM has fds of its own).
        const P = origin.parent, pg = origin.task.group;
        this.mem.copySystemFrom(P.mem);
        const as = pg.as.forkInto(this.mem);
        if (typeof as === 'number') throw SysError.of(-as);
        this.as = as;
        const fds = pg.fds.fork();
        if (typeof fds === 'number') throw SysError.of(-fds);
        this.fds = fds;
        this.scheduler = P.scheduler;
        ({ group: this.group, task: this.task } = childProcess(origin.task, origin.pid, this.mem, this.as, this.fds));
        P.debugForked?.(this.mem, this.as);
      } else {
        const snap = cfg.restore;
        if (snap) {
          // A restore: the snapshot's system pages, its memory mapped copy-on-write, its mappings and fds.
          this.restoredInPlace = restoreMemory(snap, this.mem);
          this.as = snap.as.cloneInto(this.mem);
          const stdio = [0, 1, 2].map((fd) => cfg.stdio?.[fd] ?? fd);
          kept = this.restoredInPlace ? takeKeptFds(this.mem, cfg.openFiles, stdio) : undefined;
          this.fds = kept?.fds ?? restoreFds(snap, cfg.openFiles, stdio);
          this.restoredFds = { mark: this.fds.mark(), cwdFd: -1, cwdChanges: 0, stdio };
        } else {
          writeSystemTables(this.mem);
          this.as = new AddressSpace(this.mem, cfg.memory);
          this.fds = new FdTable(cfg.openFiles);
          for (let fd = 0; fd <= 2; fd++) {
            const h = sys(NR.fcntl, cfg.stdio?.[fd] ?? fd, F_DUPFD_CLOEXEC, 3);
            const safe = h >= 0 ? safeStdio(h) : -1;
            if (safe >= 0) this.fds.set(fd, safe);
          }
        }
        this.group = new ThreadGroup(snap ? snap.exe : resolvePath(cfg.path), this.mem, this.as, this.fds, { verbose: !!cfg.verbose, log: cfg.log },
          snap ? restoredIds(snap) : hostIds());
        if (snap) {
          for (const [sig, act] of snap.group.sigactions) this.group.sigactions.set(sig, { ...act });
          this.group.umask = snap.group.umask;
          if (snap.group.cwdFd >= 0) this.group.cwdFd = kept ? kept.cwdFd : sys(NR.fcntl, snap.group.cwdFd, F_DUPFD_CLOEXEC, 3);
          this.restoredFds!.cwdFd = this.group.cwdFd;
          this.restoredFds!.cwdChanges = this.group.cwdChanges;
        }
        this.scheduler = new Scheduler(this, cfg.syscallPath === 'ring', cfg.spawnThread === true, this.group.pid);
        this.task = new Task(this.group, this.group.pid, this.scheduler);
        if (cfg.tasks !== undefined) this.scheduler.taskLimit = Math.max(1, cfg.tasks);
      }
      if (!origin) this.group.tasks.push(this.task);
      const vfd = reuse ? reuse.vcpu : (created = this.vm.createVcpu(0));
      this.vcpus.push(vfd);
      // The vDSO (in-guest clock_gettime/gettimeofday/time) only when the policy lets all
      // three through unlogged: a denied, killed or logged clock call must still exit.
      // A fork's child has the parent's vDSO pages; its clock page is its own VM's.
      const vdso = origin ? origin.parent.vdsoOn && setupVdso(this.mem, vfd)
        : cfg.restore ? cfg.restore.vdso && setupVdso(this.mem, vfd)
        : cfg.vdso !== false && this.personality.vdso === true
        && [NR_CLOCK_GETTIME, NR_GETTIMEOFDAY, NR_TIME].every((nr) => verdict(this.policy, nr) === ALLOW)
        && setupVdso(this.mem, vfd);
      this.vdsoOn = vdso;
      const start = origin ? origin.parent.loaded : cfg.restore ? cfg.restore.loaded : this.personality.load({ as: this.as, image: cfg.image, path: cfg.path, argv: cfg.argv, env: cfg.env,
        kernel: this.task, hwcap: this.features.hwcap, random: hostRandom(16), ...(cfg.entry !== undefined ? { entry: cfg.entry } : {}),
        ...(vdso ? { vdso: VDSO_VA } : {}), ...(cfg.loader ? { loader: cfg.loader } : {}) });
      this.loaded = start;
      this.resetSregs = reuse ? reuse.resetSregs : vfd.getSregs();
      // Everything of the last guest a program could observe: FPU/SSE/AVX registers,
      // pending events, debug registers; then special registers, MSRs and general registers.
      // (A fork's or a restore's XSAVE state replaces the whole FPU state below: no reset first.)
      const snap = cfg.restore;
      // A restore on a reused vCPU stages its special registers and the events' reset for
      // the first KVM_RUN (sync regs) instead of two vCPU ioctls now.
      const stage = reuse !== undefined && snap !== undefined && !origin && (this.kvm.syncRegs & (KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)) === (KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS);
      if (reuse) { vfd.run.setUint8(RUN.immediate_exit, 0); if (!(origin?.fpu ?? cfg.restore?.fpu)) vfd.resetFpu(); if (!stage) vfd.resetEvents(); if (vfd.debugTouched) vfd.resetDebugRegs(); }
      this.freshSregs.push(this.resetSregs);
      // A restore's FS/GS bases go with the segments (src/machine/x86.ts: no MSR write).
      const bases = snap && !origin ? { fs: canonicalBase(snap.task.fsBase), gs: canonicalBase(snap.task.gsBase) } : undefined;
      initVcpu(vfd, this.kvm, this.mem, this.features, reuse ? this.resetSregs : undefined, 0, bases, stage);
      this.vcpu = new Vcpu(this, vfd, 0, this.task, this.mem.vcpuPages(0));
      if (snap && !origin) {
        const t = this.task, st = snap.task;
        t.fsBase = st.fsBase; t.gsBase = st.gsBase; t.fsBaseDirty = false;
        t.sigmask = st.sigmask; t.altstack = st.altstack.slice(); t.clearTid = st.clearTid; t.robustList = st.robustList;
      }
      const from = origin ? { mode: origin.parent.vcpu.mode, regs: origin.regs, fpu: origin.fpu } : snap ? { mode: snap.mode, regs: snap.regs, fpu: snap.fpu } : undefined;
      if (from) {
        // A fork: the parent's registers (rax 0), FPU state and FS/GS bases; the entry mode it found.
        // A restore: the snapshot's, rewound to its syscall instruction.
        this.vcpu.mode = from.mode;
        // A restore's registers reach KVM through the kvm_run page alone (sync regs, below),
        // one vCPU ioctl less per restore; a fork's still go through KVM_SET_REGS as well.
        if (origin) vfd.setRegs(from.regs);
        if (from.fpu) vfd.setXsave(from.fpu); else vfd.resetFpu();
        this.vcpu.syncRegs();
        vfd.runU8.set(from.regs.subarray(0, 144), RUN.regs);
        vfd.run.setBigUint64(RUN.kvm_dirty_regs, vfd.run.getBigUint64(RUN.kvm_dirty_regs, true) | BigInt(KVM_SYNC_X86_REGS), true);
        if (origin) this.vcpu.applyBasesNow();
        if (!reuse) {
          // KVM finishes a new VM at its first KVM_RUN, with a kernel thread of its own that
          // counts against the run's pids limit: a VM that cannot get it never runs (KVM_RUN
          // fails with EAGAIN or ENOMEM every time). Found now, it makes the fork fail instead.
          vfd.run.setUint8(RUN.immediate_exit, 1);
          const rc = vfd.runOnce();
          vfd.run.setUint8(RUN.immediate_exit, 0);
          if (rc < 0 && rc !== -EINTR) throw SysError.of(rc === -ENOMEM ? ENOMEM : EAGAIN);
        }
      } else {
        this.vcpu.setEntry(start.rip, start.rsp);  // every general register: zero but rip, rsp, rflags
        this.vcpu.syncRegs();
      }
      // The channel page starts zeroed (GuestMemory maps the system slot afresh): the channel is off.
      // A fork's child traps every syscall (no rewriting of its own): its fast paths answer trapped calls too.
      this.chanOpts = origin ? (origin.parent.chanOpts ? { ...origin.parent.chanOpts, trapFast: true } : undefined)
        : cfg.syscallPath === 'ring' ? this.channelOptions(cfg, vfd) : undefined;
      this.group.vm = this;
      if (origin?.adopt) { this.group.mem = this.mem; this.group.as = this.as; this.group.futexes = new Map(); this.group.borrowing = false; }
      if (origin) return;                        // the scheduler adds the child's thread (Scheduler.fork, moveOut)
      this.scheduler.add(this.task, this.vcpu, this.newSlot(this.vcpu.pages, this.task));
      if (cfg.restore) this.restoreGen = { mapGen: this.mem.mapGen, hostGen: this.mem.hostGen };
      if (cfg.capture) this.armCapture(cfg.capture);
      if (this.chanOpts && cfg.rewrite !== false && start.bias !== undefined) {
        const rw = this.rewriter = new SiteRewriter(this.mem, this.as, cfg.image, start.bias, SYS_VA + SYS.STUB + STUB_CHAN_CALL);
        rw.guard = (s, e, write) => this.scheduler.patchGuard(s, e, write);
        rw.rewriteAt = 2;
        this.scheduler.onSite = (ret) => rw.consider(ret - 2);
        this.chanOpts.trapFast = false;
      }
    } catch (e) {
      if (reuse) reuse.vcpu.close();
      created?.close();
      this.vm.close();
      if (!origin?.adopt) (this as { fds?: FdTable }).fds?.closeAll();
      const g = (this as { group?: ThreadGroup }).group;
      // (A fork's and a restore's working directory fd is their own; so is a kept one not yet given to the group.)
      if (g && g.cwdFd >= 0 && (origin ? !origin.adopt : cfg.restore !== undefined)) sys(NR.close, g.cwdFd);
      else if (kept && kept.cwdFd >= 0) sys(NR.close, kept.cwdFd);
      (this as { mem?: GuestMemory }).mem?.release();
      throw e;
    }
  }

  /**
   * Snapshots the program at its first call of the capture point (src/vmm/snapshot.ts):
   * the call is not made; the snapshot goes to `c.done` and the run ends with status 0.
   */
  private armCapture(c: NonNullable<MachineConfig['capture']>): void {
    const d = this.dispatcher;
    d.intercept = (task, nr, a) => {
      if (!isCapturePoint(c.at, nr, a.i(0))) return;
      d.intercept = undefined;
      const refuse = this.group.tasks.length > 1 ? 'the program has more than one thread'
        : this.scheduler.procs.size > 1 ? 'the program started child processes'
          : this.scheduler.armedTimers > 0 ? 'the program has timers armed'
            : task.pendingMask !== 0n ? 'the program has signals pending' : undefined;
      const snap = capture({ mem: this.mem, as: this.as, fds: this.fds, exe: this.group.exe, regs: this.vcpu.regs(), fpu: this.vcpu.fpuState(),
        mode: this.vcpu.mode, task: { fsBase: task.fsBase, gsBase: task.gsBase, sigmask: task.sigmask, altstack: task.altstack, clearTid: task.clearTid, robustList: task.robustList },
        sigactions: this.group.sigactions, umask: this.group.umask, loaded: this.loaded, vdso: this.vdsoOn, refuse,
        argc: this.cfg.argv.length, envc: this.cfg.env.length }, nr, c.at, c.memfd);
      c.done(snap);
      throw new GuestExit(0);
    };
  }

  /**
   * Before a restored VM runs: the environment it is to see (a CGI request's) and its
   * files' offsets as at capture time. Returns how many variables did not fit.
   */
  prepareRestored(env: readonly string[]): number {
    const snap = this.cfg.restore;
    if (!snap) throw new Error('prepareRestored: not a restored VM');
    rewindFiles(snap);
    // The VMM's working directory is the running guest's: the snapshot's, whatever the last run did.
    if (snap.group.cwdFd >= 0) sys(HOST.fchdir, snap.group.cwdFd);
    return setEnvironment(snap, this.as, this.mem, env);
  }

  /** A fork of process `task.group` (this Machine's) as process `pid`: a new VM with a copy of its memory. */
  fork(task: Task, regs: Buffer, fpu: Buffer | undefined, pid: number): Machine {
    return new Machine(this.cfg, { parent: this, task, regs, fpu, pid });
  }

  /**
   * vfork (CLONE_VM|CLONE_VFORK) of process `task.group` as process `pid`: the child runs on
   * a vCPU of this VM, over the same memory and address space (its stores are its parent's,
   * as on Linux), with a copy of the fds and handlers; its parent's thread waits meanwhile
   * (Scheduler.fork). At its exec it moves to a VM of its own (Loan.adopt); this VM and its
   * memory outlive their process until then (close). A string (why not) when the VM has
   * no vCPU left, or a debugger is attached: its breakpoints are in the shared memory, and
   * a child running into one would stop as if it were the debugged process.
   */
  lend(task: Task, regs: Buffer, fpu: Buffer | undefined, pid: number): Loan | string {
    if (this.debugFault || this.vcpu.debugger) return 'a debugger is attached';
    const fds = task.group.fds.fork();
    if (typeof fds === 'number') throw SysError.of(-fds);
    const { group, task: child } = childProcess(task, pid, this.mem, task.group.as, fds);
    const v = this.newVcpu(child, regs, fpu);
    if (typeof v === 'number') {
      fds.closeAll();
      sys(NR.close, group.cwdFd);
      return `the VM has no vCPU left (--threads ${this.maxThreads})`;
    }
    group.futexes = task.group.futexes;
    group.borrowing = true;
    // Another vCPU runs over these mappings now: a change to them must reach it (mm.ts).
    group.as.shared = true;
    this.borrowers++;
    const loan = new Loan(this, group, child, v, this.newSlot(v.pages, child));
    group.vm = loan;
    return loan;
  }

  /** vfork children running over this VM's memory (lend); when its process ends first, the VM is released after them. */
  private borrowers = 0;
  private releaseDeferred = false;

  /** A vfork child no longer uses this VM (it exec'd or ended). */
  unborrow(): void {
    if (--this.borrowers > 0 || !this.releaseDeferred) return;
    this.releaseDeferred = false;
    this.releaseVm(true);
  }

  /** The channel page of a fork's first thread (Scheduler.fork adds it). */
  firstSlot(): Slot | undefined {
    return this.newSlot(this.vcpu.pages, this.task);
  }

  /**
   * execve: the process (its only thread `task`, whose vCPU is parked with the program's
   * registers) gets a new program. Its window is emptied, the program is loaded as at
   * start, and the thread starts at its entry with fresh registers. Throws SysError before
   * anything changed (a bad ELF: ENOEXEC), or GuestExit after (the process cannot go on).
   */
  exec(task: Task, prog: ExecImage): void {
    this.personality.validate(prog.image);
    const m = this.mem;
    // Code patched for the old image's syscall sites is gone with it.
    if (this.rewriter) { this.rewriter = undefined; if (this.group === this.scheduler.initGroup) this.scheduler.onSite = undefined; }
    // Fresh memory over the whole window fires KVM's MMU notifier for every page of the old
    // image: every cached translation to them is dropped, and the next access walks the
    // new (empty, then loaded) page tables, as after an munmap (docs/architecture.md).
    m.resetWindow(this.as.vmas.map((v) => ({ start: v.start, end: v.end,
      file: v.kind === 'file' || v.kind === 'shared' || v.hostShared === true || m.isFile(v.start, v.end - v.start) })));
    const as = new AddressSpace(m, this.cfg.memory);
    this.as = as;
    this.group.as = as;
    try {
      this.loaded = this.personality.load({ as, image: prog.image, path: prog.path, argv: prog.argv, env: prog.env,
        kernel: task, hwcap: this.features.hwcap, random: hostRandom(16), ...(this.vdsoOn ? { vdso: VDSO_VA } : {}),
        loader: { fd: prog.fd, ...(this.cfg.loader?.root !== undefined ? { root: this.cfg.loader.root } : {}) } });
    } catch (e) {
      if (e instanceof GuestExit) throw e;
      const why = e instanceof SysError ? `errno ${e.errno}` : (e as Error).message;
      throw new GuestExit(128 + 9, `torov: execve of ${prog.path} failed after the old program was gone (${why}): killed`);
    }
    this.group.exe = prog.exe;
    const v = this.vcpuOf(task);
    if (!v) throw new Error('exec: the thread has no vCPU');
    const b = Buffer.alloc(144);
    b.writeBigUInt64LE(BigInt(this.loaded.rip), REGS.rip);
    b.writeBigUInt64LE(BigInt(this.loaded.rsp), REGS.rsp);
    b.writeBigUInt64LE(0x202n, REGS.rflags);
    v.setRegs(b);
    v.fd.resetFpu();
    task.fsBase = 0;
    task.gsBase = 0;
    task.fsBaseDirty = true;
    task.altstack = new Uint8Array(24);
    task.clearTid = 0;
    task.robustList = 0;
    // Handlers go back to the default action; ignored signals stay ignored (execve(2)).
    for (const [sig, act] of this.group.sigactions) {
      if (act.handler > 1n) this.group.sigactions.set(sig, { handler: 0n, flags: 0n, restorer: 0n, mask: 0n });
    }
    this.fds.closeOnExec();
  }

  /** The vCPU of thread `task` of this process (from the scheduler). */
  private vcpuOf(task: Task): Vcpu | undefined {
    return this.scheduler.threadState(task)?.vcpu;
  }

  /**
   * The syscall channel's settings: the spin budget, and the in-guest fast paths (the
   * syscalls whose handler's answer is published, only if the policy allows them plainly).
   */
  private channelOptions(cfg: MachineConfig, vfd: VcpuFd): { tscKhz: number; fast: Map<number, number>; trapFast: boolean } {
    const fast = new Map<number, number>();
    if (cfg.vdso !== false && this.personality.vdso === true) {
      for (const [nr] of FAST_SYSCALLS) if (HANDLERS[nr] && verdict(this.policy, nr) === ALLOW) fast.set(nr, 0);
    }
    return { tscKhz: tscKhz(vfd) || 1_000_000, fast, trapFast: true };
  }

  /** A vCPU's channel page, its fast paths answering for `task` (gettid differs per thread); undefined on the exit path. */
  newSlot(pages: VcpuPages, task: Task): Slot | undefined {
    const o = this.chanOpts;
    if (!o) return undefined;
    const fast = new Map<number, number>();
    for (const nr of o.fast.keys()) fast.set(nr, HANDLERS[nr]!(task, NO_ARGS));
    return new Slot(this.mem, pages.chan, { tscKhz: o.tscKhz, fast, trapFast: o.trapFast });
  }

  /**
   * A vCPU for a new thread: a finished thread's (reset) or a new one, with its own
   * system pages, the registers `regs` (struct kvm_regs), the FPU state `fpu` and the
   * thread's FS/GS bases. Returns -EAGAIN when the VM has no vCPU left.
   */
  newVcpu(task: Task, regs: Buffer, fpu: Buffer | undefined): Vcpu | number {
    const reused = this.freeIndexes.length > 0;
    const index = reused ? this.freeIndexes.pop()! : this.vcpus.length;
    if (index >= this.maxThreads) return -11;
    let fd = this.vcpus[index];
    if (!fd) {
      fd = this.vm.createVcpu(index);
      this.vcpus[index] = fd;
      this.freshSregs[index] = fd.getSregs();
    } else {
      fd.run.setUint8(RUN.immediate_exit, 0);
      fd.resetEvents();
      if (fd.debugTouched) fd.resetDebugRegs();
    }
    this.mem.setupVcpuPages(index);
    initVcpu(fd, this.kvm, this.mem, this.features, reused ? this.freshSregs[index] : undefined, index);
    fd.setRegs(regs);
    if (fpu) fd.setXsave(fpu); else fd.resetFpu();
    const v = new Vcpu(this, fd, index, task, this.mem.vcpuPages(index));
    v.mode = this.vcpu.mode;
    v.syncRegs();
    // The registers in the kvm_run page too: a thread that has not run yet is read there
    // (a signal frame, a debugger), and a write marks them dirty for its first KVM_RUN.
    fd.runU8.set(regs.subarray(0, 144), RUN.regs);
    fd.run.setBigUint64(RUN.kvm_dirty_regs, BigInt(KVM_SYNC_X86_REGS), true);
    if (task.fsBaseDirty) v.applyBasesNow();
    return v;
  }

  /** Takes back a finished thread's vCPU (KVM cannot remove one: it is reused). */
  freeVcpu(v: Vcpu): void {
    if (v.id !== 0) this.freeIndexes.push(v.id);
  }

  /** Runs the program to its end; returns its exit status. */
  run(): number {
    if (this.vcpu.debugger) return this.vcpu.debugger.run();
    // A restore's first run starts with the call it was captured in, served at once.
    if (this.cfg.restore && !this.ranOnce && this.vcpu.fakeSyscallExit()) this.scheduler.run_(this.task).held = 0;
    this.ranOnce = true;
    return this.scheduler.run();
  }

  /** Called by the vCPU loop with the program's end. */
  finish(e: GuestExit): number {
    this.cleanExit = true;
    if (this.dispatcher.tagged) {
      const sig = e.signal ?? (e.reason !== undefined && e.status > 128 && e.status < 128 + 65 ? e.status - 128 : undefined);
      this.dispatcher.traceEnd(this.group.pid, sig !== undefined ? sig : (e.status & 0xff) << 8);
    }
    if (e.tainted) this.tainted = true;
    if (this.chanOpts) {
      const s = this.scheduler.stats;
      this.group.note('channel', `syscall channel: ${s.served} served, ${s.exits} exits after the handover${s.handedOver ? ` (at exit ${s.handoverAt})` : ' (no handover: the vCPU thread was not needed or not ready)'}, ${s.kicks} kicks, ${s.waits} waits, ${s.sleeps} sleeps, ${s.backoffs} back-offs to the exit path`);
      const r = this.rewriter?.stats;
      if (r) {
        const why = [...r.reasons].map(([k, n]) => `${n}: ${k}`).join('; ');
        this.group.note('rewrite', `syscall sites rewritten into calls: ${r.rewritten}, left as they are: ${r.refused}${why ? ` (${why})` : ''}`);
      }
    }
    if (e.reason) this.log(e.reason);
    return e.status;
  }

  /** Stops the VM from outside the run loop (timeouts, signals): the loop ends at its next exit. */
  requestStop(status: number, reason?: string): void {
    this.stop.requested = true;
    this.stop.status = status;
    this.stop.reason = reason;
  }

  restartEintr(task: Task): boolean {
    return this.scheduler.restartEintr(task);
  }

  beforeBlocking(task: Task, nr: number): void {
    this.scheduler.beforeBlocking(task, nr);
  }

  /** A signal sent to torov from the host, for the program (src/vmm/host-signals.ts). */
  hostSignal(sig: number): void {
    this.scheduler.hostSignal(sig);
  }

  /** Dispatches one syscall of the first thread (the debugger's step over `syscall`, one thread). */
  dispatch(nr: number, a: import('../syscalls/api').Args): number {
    return this.dispatcher.dispatch(this.task, nr, a);
  }

  /**
   * A debugger of a program with threads (src/gdb/target.ts) sees every CPU exception
   * first (breakpoints, steps, watchpoints, faults); undefined from it: as without one.
   */
  debugFault: ((task: Task, f: FaultFrame) => 'resume' | { status: number; message: string } | undefined) | undefined;

  /**
   * A debugger attached to this process (src/gdb/target.ts) cleans a fork's copy of its
   * memory: the child is not debugged, and must not run into the debugger's int3 bytes or
   * write-protected watched pages.
   */
  debugForked: ((mem: GuestMemory, as: AddressSpace) => void) | undefined;

  /** Decides what a CPU exception does: resume (spurious) or end the program with a signal. */
  onFault(task: Task, f: FaultFrame): 'resume' | { status: number; message: string } {
    const d = this.debugFault?.(task, f);
    if (d !== undefined) return d;
    return this.faultVerdict(task, f);
  }

  /** What a CPU exception does without a debugger: the program's handler runs ('resume'), or it ends with a signal. */
  faultVerdict(task: Task, f: FaultFrame): 'resume' | { status: number; message: string } {
    const own = this.personality.fault?.(f, task);
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
    if (f.vector === 14 && !(f.error & 1) && f.cr2 < this.mem.memSize) {
      // A file mapping's page past the end of its file (never made present: src/machine/mm.ts):
      // Linux sends SIGBUS there, not SIGSEGV.
      const v = this.as.find(f.cr2);
      if (v?.eof !== undefined && f.cr2 >= v.eof) {
        if (this.scheduler.deliverFault(task, f, SIGBUS, { signo: SIGBUS, code: BUS_ADRERR, addr: f.cr2 })) return 'resume';
        return { status: 128 + SIGBUS, message: `torov: SIGBUS: bus error at rip=0x${f.rip.toString(16)} addr=0x${f.cr2.toString(16)} (past the end of a mapped file)` };
      }
    }
    const { signal, message } = describeFault(f);
    // The program's own handler, if it has one it does not block (Linux forces the
    // default action otherwise: the report below).
    const info = faultInfo(f, signal);
    // Linux tells SEGV_ACCERR from SEGV_MAPERR by whether a mapping holds the address.
    if (f.vector === 14) info.code = f.cr2 < this.mem.memSize && this.as.find(f.cr2) ? SEGV_ACCERR : SEGV_MAPERR;
    if (this.scheduler.deliverFault(task, f, signal, info)) return 'resume';
    return { status: 128 + signal, message };
  }
  private spurious = 0;
  /** EFAULTs from KVM_RUN retried at one instruction, by thread (onBusFault). */
  private readonly busRetry = new WeakMap<Task, { rip: number; n: number; at: number }>();

  /**
   * KVM_RUN failed with EFAULT: the program's own access reached a guest page whose host
   * memory cannot be faulted in (a file or memfd it mapped, then truncated; a page of its
   * full tmpfs). Linux sends SIGBUS (BUS_ADRERR) with the address, so the program's
   * handler runs or it dies with 135. KVM says neither the address nor the access, so it
   * is found here: the candidates of the instruction at rip (its fetch, its memory
   * operands: src/machine/x86-decode.ts) are probed through the kernel
   * (process_vm_readv, which fails where a load would fault), and the first one that
   * cannot be read is it. Unknown (an instruction the decoder does not know): si_addr 0.
   */
  onBusFault(task: Task, v: Vcpu): 'resume' | { status: number; message: string } {
    const regs = v.regs();
    const rip = Number(regs.readBigUInt64LE(REGS.rip));
    const addr = v.inStub() ? undefined : this.unbackedAddress(task, regs);
    const at = addr === undefined ? '' : ` addr=0x${addr.toString(16)}`;
    const message = `torov: SIGBUS: bus error at rip=0x${rip.toString(16)}${at} (guest memory no longer backed: a mapped file was truncated, or its file system is full)`;
    if (addr === undefined && !v.inStub()) {
      // Every page the instruction may reach reads fine now: the access met a host mapping
      // while another thread's mprotect or munmap had its protection flipped for a moment
      // (GuestMemory.invalidate, which makes KVM drop its cached translations). The access is
      // tried again, as Linux would have served it before or after that call; a few times
      // at the same instruction, then SIGBUS (an access the decoder cannot tell).
      // (Retries count as one run of them only while they follow each other closely: a
      // loop that meets such a moment now and then, over a long run, never adds up to 16.)
      const last = this.busRetry.get(task), now = nowMs();
      const n = last !== undefined && last.rip === rip && now - last.at < 100 ? last.n + 1 : 1;
      this.busRetry.set(task, { rip, n, at: now });
      if (n <= 16) return 'resume';
    }
    this.busRetry.delete(task);
    if (v.inStub()) return { status: 128 + SIGBUS, message };
    const frame: FaultFrame = { vector: 14, error: 4, rip, cs: 0, rflags: Number(regs.readBigUInt64LE(REGS.rflags)),
      rsp: Number(regs.readBigUInt64LE(REGS.rsp)), cr2: addr ?? 0 };
    if (this.scheduler.deliverFault(task, frame, SIGBUS, { signo: SIGBUS, code: BUS_ADRERR, addr: addr ?? 0 })) return 'resume';
    return { status: 128 + SIGBUS, message };
  }

  /** The guest address the instruction at rip could not reach (see onBusFault), if found. */
  private unbackedAddress(task: Task, regs: Buffer): number | undefined {
    const mem = this.mem;
    const rip = Number(regs.readBigUInt64LE(REGS.rip));
    const one = new Uint8Array(1);
    const unbacked = (va: number) => va >= 0 && va < mem.memSize && mem.tryRead(va, one) === 0 && this.as.find(va) !== undefined;
    const code = new Uint8Array(15);
    const n = rip >= 0 && rip < mem.memSize ? mem.tryRead(rip, code.subarray(0, Math.min(15, mem.memSize - rip))) : 0;
    if (n === 0) return unbacked(rip) ? rip : undefined;
    // (A fetch that runs into the next page: that page is the fault, if the operands are not.)
    const GPR = [REGS.rax, REGS.rcx, REGS.rdx, REGS.rbx, REGS.rsp, REGS.rbp, REGS.rsi, REGS.rdi,
      REGS.r8, REGS.r9, REGS.r10, REGS.r11, REGS.r12, REGS.r13, REGS.r14, REGS.r15];
    const reg = (i: number) => regs.readBigUInt64LE(GPR[i]!);
    for (const c of memoryCandidates(code.subarray(0, n), rip, reg, BigInt(task.fsBase), BigInt(task.gsBase))) {
      if (c >= BigInt(mem.memSize)) continue;
      const va = Number(c);
      if (unbacked(va)) return va;
      // An access of up to 64 bytes may run into the next page.
      const next = Math.floor(va / 4096) * 4096 + 4096;
      if (next - va < 64 && unbacked(next)) return next;
    }
    if (n < 15 && unbacked(rip + n)) return rip + n;
    return undefined;
  }

  /** Releases the VM, its memory and the guest's host fds. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A VM whose program had more than one thread keeps its other vCPUs (KVM cannot remove
    // them): it is not reused.
    const reusable = (this.cleanExit || this.group !== this.scheduler.initGroup) && !this.tainted && warmVms.length < WARM_MAX && this.vcpus.length === 1;
    if (reusable && !this.ioCompleted) {
      // The guest ended on an I/O exit whose completion KVM still holds (it would apply it
      // to the next guest's first instruction, and a string IN writes guest memory): complete
      // it now, against this guest and before its memory is released, with one KVM_RUN that
      // returns at once (immediate_exit).
      const run = this.vcpu.fd.run;
      run.setUint8(RUN.immediate_exit, 1);
      this.vcpu.fd.runOnce();
      run.setUint8(RUN.immediate_exit, 0);
    }
    // The VMM's umask is the last active guest process's (Dispatcher.activate): a restored
    // program's next run must find the snapshot's. (Only a guest's umask call changes it,
    // which the policy, and so the VMM's filter, then allows.)
    const umask = this.dispatcher.activeGroup?.umask;
    if (this.cfg.restore && this.group === this.scheduler.initGroup && umask !== undefined && umask !== this.cfg.restore.group.umask) sys(HOST.umask, this.cfg.restore.group.umask);
    // A restored VM's fds may stay with its window for the next restore (below).
    const mayKeep = this.restoredFds !== undefined && reusable && this.borrowers === 0;
    if (!mayKeep) this.closeFds();
    // vfork children still run over its memory (their vCPUs are this VM's: it was not reusable).
    if (this.borrowers > 0) { this.releaseDeferred = true; return; }
    // A guest process's VM keeps its memory registered for the next fork (WarmVm.mem), a restored VM for the next restore.
    const keepMem = reusable && (this.group !== this.scheduler.initGroup || this.cfg.restore !== undefined);
    // A restored VM's window goes back to the snapshot's state in place when it can (only
    // the pages the run wrote are dropped), ready for the next restore of that snapshot.
    const inPlace = keepMem && this.cfg.restore !== undefined && resetInPlace(this.cfg.restore, this.mem, this.restoreGen, this.group.as);
    if (!keepMem) this.mem.release();
    else if (!inPlace) this.mem.scrub();
    if (mayKeep) {
      const r = this.restoredFds!;
      // (The cwd fd by its changes, not its number: a chdir closes it, and a later record
      // of the cwd may get the same number for another directory.)
      if (inPlace && this.group.fds === this.fds && this.fds.unchangedSince(r.mark) && this.group.cwdChanges === r.cwdChanges && this.group.cwdFd === r.cwdFd) {
        this.mem.heldFds = new KeptFds(this.fds, this.group.cwdFd, r.stdio);
        this.group.cwdFd = -1;
      } else this.closeFds();
    }
    // Keep the VM for the next Machine of this process, unless its guest ended in a state
    // torov did not see through (a triple fault, an internal error, a VMM error).
    if (reusable) {
      this.vcpu.fd.run.setBigUint64(RUN.kvm_valid_regs, 0n, true);
      this.vcpu.fd.run.setBigUint64(RUN.kvm_dirty_regs, 0n, true);
      warmVms.push({ vm: this.vm, vcpu: this.vcpu.fd, memSize: this.mem.memSize, resetSregs: this.resetSregs, maxVcpus: this.maxThreads,
        ...(keepMem ? { mem: this.mem } : {}) });
      return;
    }
    this.releaseVm(false);
  }

  /** Closes the guest's fds and its working directory's. */
  private closeFds(): void {
    this.fds.closeAll();
    if (this.group.cwdFd >= 0) { sys(NR.close, this.group.cwdFd); this.group.cwdFd = -1; }
  }

  /** Releases the VM for good, and its memory unless that is done (close). */
  private releaseVm(mem: boolean): void {
    if (mem) this.mem.release();
    for (const fd of this.vcpus) fd.close();
    this.vm.close();
  }
}

/**
 * A vfork child's VM while it borrows its parent's (Machine.lend): its vCPU and threads
 * are the lender's, its fds its own. The scheduler moves it out at its exec (adopt).
 */
export class Loan {
  tainted = false;
  ioCompleted = false;
  private done = false;

  constructor(readonly lender: Machine, readonly group: ThreadGroup, readonly task: Task, readonly vcpu: Vcpu, private readonly slot: Slot | undefined) {}

  firstSlot(): Slot | undefined { return this.slot; }
  fork(task: Task, regs: Buffer, fpu: Buffer | undefined, pid: number): Machine { return this.lender.fork(task, regs, fpu, pid); }
  lend(task: Task, regs: Buffer, fpu: Buffer | undefined, pid: number): Loan | string { return this.lender.lend(task, regs, fpu, pid); }
  newVcpu(task: Task, regs: Buffer, fpu: Buffer | undefined): Vcpu | number { return this.lender.newVcpu(task, regs, fpu); }
  newSlot(pages: VcpuPages, task: Task): Slot | undefined { return this.lender.newSlot(pages, task); }
  freeVcpu(v: Vcpu): void { this.lender.freeVcpu(v); }

  exec(): void {
    throw new Error('a vfork child execs in a VM of its own (Scheduler.moveOut)');
  }

  /**
   * The child execs `image`: a VM of its own for its process and thread, with an empty
   * window (Machine.exec loads the program next). Throws before anything changed (a bad
   * ELF, no VM); the caller then moves the thread and calls returned().
   */
  adopt(task: Task, image: Uint8Array): Machine {
    this.lender.personality.validate(image);
    const regs = Buffer.alloc(144);
    regs.writeBigUInt64LE(2n, REGS.rflags);
    return new Machine(this.lender.cfg, { parent: this.lender, task, regs, fpu: undefined, pid: this.group.pid, adopt: true });
  }

  /** The child left the lender's vCPU (after adopt), or ended: the lender may be released. */
  returned(): void {
    if (this.done) return;
    this.done = true;
    if (this.tainted) this.lender.tainted = true;
    this.lender.unborrow();
  }

  /** The child ended while borrowing: its fds and working directory (the scheduler then calls returned()). */
  close(): void {
    if (this.done) return;
    this.group.fds.closeAll();
    if (this.group.cwdFd >= 0) { sys(NR.close, this.group.cwdFd); this.group.cwdFd = -1; }
  }
}


/** The siginfo Linux gives a CPU exception's signal (arch/x86/kernel/traps.c, fault.c). */
function faultInfo(f: FaultFrame, signal: number): SignalInfo {
  switch (f.vector) {
    case 14: return { signo: signal, code: f.error & 1 ? SEGV_ACCERR : SEGV_MAPERR, addr: f.cr2 };
    case 0: return { signo: signal, code: FPE_INTDIV, addr: f.rip };
    case 6: return { signo: signal, code: ILL_ILLOPN, addr: f.rip };
    case 16: case 19: return { signo: signal, code: FPE_FLTDIV, addr: f.rip };
    case 17: return { signo: signal, code: BUS_ADRALN, addr: 0 };
    default: return { signo: signal, code: SI_KERNEL, addr: 0 };
  }
}

/** Random bytes from the host kernel (getrandom(2)); node:crypto costs milliseconds to load. */
function hostRandom(n: number): Uint8Array {
  const b = new Uint8Array(n);
  if (sys(HOST.getrandom, addressOf(b), n, 0) !== n) throw new Error('getrandom failed');
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
  const st = new Uint8Array(STAT.SIZE);
  const fl = sys(NR.fcntl, h, F_GETFL);
  const isDir = sys(HOST.fstat, h, addressOf(st)) === 0 && (new DataView(st.buffer).getUint32(STAT.st_mode, true) & S_IFMT) === S_IFDIR;
  if (!isDir && !(fl >= 0 && fl & O_PATH)) return h;
  sys(NR.close, h);
  return -1;
}
