/**
 * The syscall channel (--syscall-path ring): syscalls without VM exits. This module is
 * the host side of one vCPU's channel page (a Slot) and of the host threads that run
 * vCPUs (HostThread); src/vmm/scheduler.ts runs them.
 *
 * On the exit path every syscall leaves the VM: about 65-90 µs on kvm_pvm, 1-2 µs on VMX.
 * The channel is a request/response page in guest memory (SYS.CHAN, one per vCPU; stub.S
 * has the guest's side). The guest posts the number and arguments and spins; a host
 * thread polling the page performs the call and writes the result. Nothing leaves the VM.
 *
 * Threads. All VMM state (fds, memory map, policy) lives in JavaScript on Node's main
 * thread, so that thread serves requests, and each vCPU runs on a host thread of its own
 * (src/vmm/vcpu-thread.ts) that loops on KVM_RUN and hands every VM exit back to the main
 * thread. A program with one thread may also run its vCPU on the main thread ("direct":
 * the exit path plus the channel's kick), which it does until its host thread is ready
 * (30-50 ms of Node worker start-up) and while polling does not pay (see Scheduler).
 *
 * Not burning CPU for nothing:
 *  - The main thread polls only while requests keep coming; after IDLE_NS without one it
 *    clears C_POLL in every page and sleeps on the bell. A guest then posts and kicks
 *    (`out` to PORT_KICK), which its host thread turns into a ring of the bell.
 *  - A call that blocks makes its guest thread spin for its budget (C_BUDGET, SPIN_US) and
 *    then sleep in its host thread (`out` to PORT_WAIT) until the result is written.
 * Races between "post and look at C_POLL" (guest) and "clear C_POLL and look at C_STATE"
 * (host) are decided as in Dekker's algorithm: both sides store, fence, then load (the
 * guest's xchg, the host's Atomics operations), so at least one of them sees the other.
 *
 * Security: the page is guest-writable. The host copies the request once before serving
 * it, so a guest that rewrites the page while its call is served changes nothing, and the
 * request goes through the same dispatch (policy, pointer checks, trace) as an exit.
 */
import { Args } from '../syscalls/api';
import { CHAN, CHAN_DONE, CHAN_REQUEST, CHAN_BUSY, SYS } from '../machine/layout';
import { STUB_CHANNEL_ON } from '../machine/stub';
import type { GuestMemory } from '../machine/memory';
import { viewOf, sys } from '../host/libc';
import { RUN } from '../kvm/kvm';
import { SYS as NRS } from '../linux/syscalls';
import { bell, startVcpuWorker, VcpuWorker, S, GO, EXIT, RC, QUIT, WAKE, WAITING, IDLE, READY, TID, VCPU_FD, RUN_LO, RUN_HI,
  CHAN_LO, CHAN_HI, KICKS, STOP, HOST_REQ, HOST_DONE, HOST_NR, HOST_ARGS, HOST_RES_LO, HOST_RES_HI } from './vcpu-thread';

/** How a run reaches the VMM for syscalls (--syscall-path). */
export type SyscallPath = 'exit' | 'ring' | 'auto';

/** How long the guest spins for a result before sleeping in the VMM (PORT_WAIT). */
export const SPIN_US = 100;

/** Syscalls answered in the guest from values published at start (stub.S's C_FASTVAL). */
export const FAST_SYSCALLS: readonly (readonly [number, string])[] = [
  [NRS.getpid, 'getpid'], [NRS.gettid, 'gettid'], [NRS.getuid, 'getuid'], [NRS.geteuid, 'geteuid'], [NRS.getgid, 'getgid'], [NRS.getegid, 'getegid'],
];

/**
 * The signal that kicks a host thread out of KVM_RUN or out of a blocking host call
 * (SIGRTMIN+4; glibc keeps 32 and 33 for itself). Its handler does nothing and is
 * installed without SA_RESTART, so an interrupted host call returns EINTR instead of
 * being restarted by the host kernel: the VMM decides what the guest sees.
 */
export const SIG_KICK = 38;

/** Arguments of a posted request, from the host's private copy of it. */
export class CopyArgs implements Args {
  constructor(private readonly w: Uint32Array) {}
  i(n: number): number { return this.w[2 + 2 * n]! | 0; }
  u(n: number): number { return this.w[2 + 2 * n]!; }
  n(n: number): number { return (this.w[3 + 2 * n]! | 0) * 4294967296 + this.w[2 + 2 * n]!; }
  ptr(n: number): number { return this.w[3 + 2 * n]! * 4294967296 + this.w[2 + 2 * n]!; }
  big(n: number): bigint { return (BigInt(this.w[3 + 2 * n]!) << 32n) | BigInt(this.w[2 + 2 * n]!); }
}

/** Counters for -v and the benchmark. */
export interface ChannelStats { served: number; kicks: number; waits: number; exits: number; sleeps: number; handedOver: boolean; handoverAt: number; backoffs: number }

/** The host side of one vCPU's channel page. */
export class Slot {
  /** The channel page as 32-bit words (guest-writable: read with care). */
  readonly page: Int32Array;
  readonly pageU32: Uint32Array;
  /** Host address of the page (the vCPU's host thread watches it during PORT_WAIT). */
  readonly addr: number;
  /** The host's copy of the request being served: number, six arguments, site. */
  readonly req = new Uint32Array(16);
  readonly args = new CopyArgs(this.req);
  /** Per syscall number: how many of its last calls blocked long (0-2), for adaptive spinning. */
  readonly slow = new Uint8Array(512);

  constructor(mem: GuestMemory, chanOffset: number, opts: { tscKhz: number; fast: ReadonlyMap<number, number>; trapFast: boolean }) {
    this.addr = mem.sysHost + chanOffset;
    const ab = viewOf(this.addr, 4096);
    this.page = new Int32Array(ab);
    this.pageU32 = new Uint32Array(ab);
    // The page starts zeroed: GuestMemory maps the system slot afresh for every VM, and a
    // vCPU's own pages are cleared when they are set up.
    const budget = Math.max(1, Math.round(opts.tscKhz * SPIN_US / 1000));
    this.pageU32[S(CHAN.BUDGET)] = budget % 4294967296;
    this.pageU32[S(CHAN.BUDGET) + 1] = Math.floor(budget / 4294967296);
    for (const [nr, value] of opts.fast) this.publish(nr, value);
    mem.sysDv.setUint32(SYS.STUB + STUB_CHANNEL_ON, 1, true);
    Atomics.store(this.page, S(CHAN.TRAPFAST), opts.trapFast ? 1 : 0);
    Atomics.store(this.page, S(CHAN.POLL), 0);
  }

  /** Publishes the value a fast-path syscall answers in the guest (getpid, gettid, the uid calls). */
  publish(nr: number, value: number): void {
    this.pageU32[S(CHAN.FASTMASK) + (nr >> 5)]! |= 1 << (nr & 31);
    this.pageU32[S(CHAN.FASTVAL) + 2 * nr] = value >>> 0;
    this.pageU32[S(CHAN.FASTVAL) + 2 * nr + 1] = Math.floor(value / 4294967296) >>> 0;
  }

  /** Changes the value of a syscall already answered in the guest (an exec's new leader's gettid); others stay off. */
  republish(nr: number, value: number): void {
    if (this.pageU32[S(CHAN.FASTMASK) + (nr >> 5)]! & (1 << (nr & 31))) this.publish(nr, value);
  }

  /** True if a request is posted and not yet taken. */
  posted(): boolean { return Atomics.load(this.page, S(CHAN.STATE)) === CHAN_REQUEST; }

  /**
   * Takes the posted request, if there is one: marks it busy and copies it once (the
   * guest may rewrite the page while its call is served). Returns its number, or -2.
   */
  take(): number {
    const p = this.page;
    if (Atomics.compareExchange(p, S(CHAN.STATE), CHAN_REQUEST, CHAN_BUSY) !== CHAN_REQUEST) return -2;
    const w = this.pageU32, r = this.req, base = S(CHAN.NR);
    for (let i = 0; i < 16; i++) r[i] = w[base + i]!;
    return r[1] === 0 ? r[0]! : -1;
  }

  /** Return address of a trapped `syscall` (for site rewriting), or 0 for a rewritten site. */
  site(): number { return this.req[14]! + this.req[15]! * 4294967296; }

  /** Writes the result and the new state (CHAN_DONE; CHAN_EXIT to make the guest leave to the VMM). */
  post(result: number, state = CHAN_DONE): void {
    const w = this.pageU32;
    w[S(CHAN.RESULT)] = result >>> 0;
    w[S(CHAN.RESULT) + 1] = Math.floor(result / 4294967296) >>> 0;
    Atomics.store(this.page, S(CHAN.STATE), state);
  }

  /** The result posted last. */
  result(): number { return (this.page[S(CHAN.RESULT) + 1]! | 0) * 4294967296 + this.pageU32[S(CHAN.RESULT)]!; }

  /** Sets the state alone (CHAN_BLOCKING: the guest should sleep at once). */
  setState(state: number): void { Atomics.store(this.page, S(CHAN.STATE), state); }
  state(): number { return Atomics.load(this.page, S(CHAN.STATE)); }

  /** A u64 of the page (the program's rip, flags and rsp that the stub saved). */
  u64(off: number): number { return this.pageU32[S(off)]! + this.pageU32[S(off) + 1]! * 4294967296; }

  setPolling(on: boolean): void { Atomics.store(this.page, S(CHAN.POLL), on ? 1 : 0); }
}

/** A no-op handler for SIG_KICK: libc's abs(), which touches nothing; installed once per process. */
let kickInstalled = false;
export function installKick(): void {
  if (kickInstalled) return;
  kickInstalled = true;
  const koffi = (require('../host/koffi') as typeof import('../host/koffi')).loadKoffi();
  const libc = koffi.load('libc.so.6');
  const dlsym = libc.func('void *dlsym(void *, const char *)') as (h: null, name: string) => unknown;
  const sigaction = libc.func('int sigaction(int, void *, void *)') as (sig: number, act: Buffer, old: null) => number;
  const abs = Number(koffi.address(dlsym(null, 'abs')));
  // struct sigaction (glibc, x86-64): handler, sa_mask (128 bytes), sa_flags, restorer;
  // glibc adds SA_RESTORER and its own restorer. No SA_RESTART: see SIG_KICK.
  const act = Buffer.alloc(152);
  act.writeBigUInt64LE(BigInt(abs), 0);
  act.writeInt32LE(0, 136);
  if (!abs || sigaction(SIG_KICK, act, null) !== 0) throw new Error('cannot install the vCPU threads\' kick signal handler');
}

/**
 * A host thread that runs one vCPU (and its guest thread's blocking host calls). Threads
 * are kept for the process: a finished guest thread's host thread and vCPU go back to a
 * free list together (KVM_RUN on a vCPU from a thread other than its last costs an RCU
 * grace period), and the next VM of the process reuses them.
 */
/** How long fork and clone wait for a host thread that is starting (ms). */
const SPARE_WAIT_MS = 3000;

export class HostThread {
  readonly ctl: Int32Array;
  /** EXIT count already handled. */
  seen = 0;
  /** True between go() and the exit report. */
  running = false;
  private static readonly idle: HostThread[] = [];
  private static starting: HostThread | undefined;

  private constructor(w: VcpuWorker) {
    this.ctl = w.ctl;
  }

  /** A started thread from bin/torov (the sandboxed VMM's first), if there is one. */
  private static early(): HostThread | undefined {
    const g = globalThis as { __torovEarlyWorker?: VcpuWorker };
    const w = g.__torovEarlyWorker;
    if (!w) return undefined;
    g.__torovEarlyWorker = undefined;
    // It was started by bin/torov.js from another copy of vcpu-thread's module: it must
    // ring the bell this copy waits on, or the main thread would sleep through its calls.
    if (w.bell !== bell) throw new Error('the early vCPU thread rings another bell than the scheduler\'s (two copies of vcpu-thread)');
    return new HostThread(w);
  }

  /** Starts a thread if none is starting and none is idle (`more`: even with idle ones), so one is ready soon (non-blocking). */
  static prestart(more = false): void {
    installKick();
    if ((HostThread.idle.length > 0 && !more) || HostThread.starting) return;
    let t: HostThread | undefined;
    try {
      t = HostThread.early() ?? (HostThread.noNew ? undefined : new HostThread(startVcpuWorker()));
    } catch (e) {
      // The host refused a thread (the run's pids limit: EAGAIN): none is started, and
      // fork and clone fail with EAGAIN until a thread is free (HostThread.spare).
      HostThread.refused = String((e as Error).message ?? e);
      return;
    }
    if (!t) return;
    HostThread.everStarted = true;
    HostThread.starting = t;
  }

  /**
   * The seccomp filter forbids new host threads (the policy allows no guest threads): from
   * now on only bin/torov's early thread may be taken; a single-threaded program whose
   * thread is gone runs its vCPU on the main thread.
   */
  static forbidNew(): void { HostThread.noNew = true; }
  /** Why the host refused the last thread (undefined: it never did). */
  static refused: string | undefined;

  /**
   * True if a new guest thread or process can have a host thread: one is idle or
   * starting, or one can be started (tried now: the host may refuse it at its pids limit).
   */
  static spare(n = 1): boolean {
    for (;;) {
      const st = HostThread.starting;
      if (st && st.ready()) { HostThread.starting = undefined; HostThread.idle.push(st); }
      if (HostThread.idle.length >= n) return true;
      HostThread.prestart(true);
      // One is starting: wait for it (a Node worker's start-up, tens of milliseconds). One
      // the host let start but that cannot finish (no thread left for its own start-up) is no spare.
      if (!HostThread.starting) return false;
      if (!HostThread.waitReady(SPARE_WAIT_MS)) { HostThread.refused ??= 'a new thread did not start'; return false; }
    }
  }

  /** False if no thread is idle or starting and none may be started. */
  static canStart(): boolean {
    return !HostThread.noNew || HostThread.idle.length > 0 || HostThread.starting !== undefined
      || (globalThis as { __torovEarlyWorker?: unknown }).__torovEarlyWorker !== undefined;
  }
  private static noNew = false;

  /** An idle, ready thread, or undefined (then one is being started: ask again later). */
  static get(vcpuFd = -1): HostThread | undefined {
    const s = HostThread.starting;
    if (s && s.ready()) { HostThread.starting = undefined; HostThread.idle.push(s); }
    // The thread that ran this vCPU last, if it is idle: KVM_RUN from another thread than a
    // vCPU's last costs an RCU grace period (milliseconds), and a shell's children reuse
    // the VMs (and so the vCPUs) of the children before them.
    const i = vcpuFd >= 0 ? HostThread.idle.findIndex((h) => h.ctl[VCPU_FD] === vcpuFd) : -1;
    const t = i >= 0 ? HostThread.idle.splice(i, 1)[0] : HostThread.idle.pop();
    if (!t) HostThread.prestart();
    return t;
  }

  /** True once this process started a vCPU thread (its exit must not wait for Node to join it). */
  static anyStarted(): boolean { return HostThread.everStarted; }
  private static everStarted = false;

  /** True if a thread is idle and ready (get() would return one). */
  static available(): boolean {
    const s = HostThread.starting;
    return HostThread.idle.length > 0 || (s !== undefined && s.ready());
  }

  /** Waits (at most `ms`) until a thread is ready; true if one is. */
  static waitReady(ms: number): boolean {
    HostThread.prestart();
    const s = HostThread.starting;
    if (!s) return true;
    for (let waited = 0; !s.ready() && waited < ms; waited += 10) Atomics.wait(s.ctl, READY, 0, Math.min(10, ms - waited));
    return s.ready();
  }

  /** Puts a thread whose vCPU is parked back on the idle list. */
  static release(t: HostThread): void {
    t.running = false;
    HostThread.idle.push(t);
  }

  ready(): boolean { return Atomics.load(this.ctl, READY) === 1; }
  get tid(): number { return this.ctl[TID]!; }

  /** Points the thread at a vCPU (its fd and kvm_run page) and its channel page (0: none). */
  bind(vcpuFd: number, runAddr: number, chanAddr: number): void {
    this.ctl[VCPU_FD] = vcpuFd;
    this.ctl[RUN_LO] = runAddr % 4294967296; this.ctl[RUN_HI] = Math.floor(runAddr / 4294967296);
    this.ctl[CHAN_LO] = chanAddr % 4294967296; this.ctl[CHAN_HI] = Math.floor(chanAddr / 4294967296);
    this.seen = Atomics.load(this.ctl, EXIT);
  }

  /** Lets the thread run the vCPU (KVM_RUN until the next exit it does not handle itself). */
  go(): void {
    Atomics.store(this.ctl, STOP, 0);
    this.running = true;
    Atomics.add(this.ctl, GO, 1);
    this.wake();
  }

  /** Wakes the thread if it sleeps (a result posted, a host call or a stop asked for). */
  wake(): void {
    Atomics.add(this.ctl, WAKE, 1);
    if (Atomics.load(this.ctl, WAITING) || Atomics.load(this.ctl, IDLE)) Atomics.notify(this.ctl, WAKE);
  }

  /** True if the thread reported an exit not yet handled (then its RC is in rc()). */
  exited(): boolean { return Atomics.load(this.ctl, EXIT) !== this.seen; }
  /** Takes the reported exit: KVM_RUN's return code. */
  takeExit(): number {
    this.seen = (this.seen + 1) | 0;             // EXIT is an Int32 and wraps
    this.running = false;
    return this.ctl[RC]!;
  }
  kicks(): number { return Atomics.load(this.ctl, KICKS); }
  /** True while the guest sleeps in PORT_WAIT waiting for its result. */
  waiting(): boolean { return Atomics.load(this.ctl, WAITING) === 1; }

  /** Asks the thread to perform host syscall `nr` (it must have no other host call pending). */
  hostCall(nr: number, a: readonly number[]): void {
    this.ctl[HOST_NR] = nr;
    for (let i = 0; i < 6; i++) {
      const v = a[i] ?? 0;
      this.ctl[HOST_ARGS + 2 * i] = v >>> 0;
      this.ctl[HOST_ARGS + 2 * i + 1] = Math.floor(v / 4294967296) | 0;
    }
    Atomics.add(this.ctl, HOST_REQ, 1);
    this.wake();
  }
  hostDone(): boolean { return Atomics.load(this.ctl, HOST_REQ) === Atomics.load(this.ctl, HOST_DONE); }
  hostResult(): number { return (this.ctl[HOST_RES_HI]! | 0) * 4294967296 + (this.ctl[HOST_RES_LO]! >>> 0); }

  /**
   * Interrupts the thread without waiting: a running KVM_RUN returns EINTR (immediate_exit
   * covers a kick that lands just before it), a blocking host call returns EINTR, a guest
   * asleep in PORT_WAIT is reported. The caller repeats it until the exit or the host
   * call's end shows (a kick that lands between two calls is lost).
   */
  kick(runU8: Uint8Array, stop: boolean): void {
    if (stop) { Atomics.store(this.ctl, STOP, 1); runU8[RUN.immediate_exit] = 1; }
    this.wake();
    sys(NRS.tgkill, process.pid, this.tid, SIG_KICK);
  }

  /**
   * Takes the vCPU back from a thread that may be in KVM_RUN, and waits for it (repeating
   * the kick until the thread reports the exit). Returns KVM_RUN's return code, or
   * undefined if the thread was not running.
   */
  stopSync(runU8: Uint8Array): number | undefined {
    if (!this.running) return undefined;
    for (let tries = 0; !this.exited(); tries++) {
      this.kick(runU8, true);
      Atomics.wait(this.ctl, EXIT, this.seen, tries < 10 ? 1 : 20);
      if (tries > 1000) throw new Error('a vCPU thread does not stop');
    }
    runU8[RUN.immediate_exit] = 0;
    Atomics.store(this.ctl, STOP, 0);
    return this.takeExit();
  }

  /** Ends the thread (at the end of the process). */
  quit(): void {
    Atomics.store(this.ctl, QUIT, 1);
    this.wake();
  }
}

