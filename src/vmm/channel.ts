/**
 * The syscall channel (--syscall-path ring): syscalls without VM exits.
 *
 * On the exit path every syscall leaves the VM: about 65-90 µs on kvm_pvm, 1-2 µs on VMX.
 * The channel is a request/response page in guest memory (SYS.CHAN; stub.S has the guest's
 * side). The guest posts the number and arguments and spins; a host thread polling the
 * page performs the call and writes the result. Nothing leaves the VM.
 *
 * Threads. All VMM state (fds, memory map, policy) lives in JavaScript on Node's main
 * thread, so that thread serves requests, and the vCPU runs on a second thread: a worker
 * (worker_threads) that loops on KVM_RUN and hands every VM exit back to the main thread
 * through a shared control block. The worker needs its own koffi; it must start before
 * the sandbox takes the host's files away, and it takes about 50 ms to start here, so the
 * vCPU starts on the main thread (the exit path, with the channel's kick) and moves to the
 * worker once it is ready ("handover").
 *
 * Not burning CPU for nothing:
 *  - The main thread polls only while requests keep coming; after IDLE_NS without one it
 *    clears C_POLL and sleeps (Atomics.wait). The guest then posts and kicks (`out` to
 *    PORT_KICK), which reaches the sleeping main thread through the worker.
 *  - A call that blocks on the host (accept, read on a socket, poll, nanosleep) blocks the
 *    main thread; the guest spins for its budget (C_BUDGET, SPIN_US) and then sleeps in
 *    the VMM (`out` to PORT_WAIT): the worker waits on the control block until the result
 *    is written. A guest blocked for 10 s costs one spin budget of CPU.
 * Races between "post and look at C_POLL" (guest) and "clear C_POLL and look at C_STATE"
 * (host) are decided as in Dekker's algorithm: both sides store, fence, then load (the
 * guest's xchg, the host's Atomics operations), so at least one of them sees the other.
 *
 * Security: the page is guest-writable. The host copies the request once before serving
 * it, so a guest that rewrites the page while its call is served changes nothing, and the
 * request goes through the same dispatch (policy, pointer checks, trace) as an exit.
 */
import type { Vcpu } from './vcpu';
import type { Machine } from './machine';
import { Args } from '../syscalls/api';
import { CHAN, CHAN_DONE, CHAN_REQUEST, CHAN_BUSY, CHAN_BLOCKING, PORT_KICK, SYS } from '../machine/layout';
import { STUB_CHANNEL_ON } from '../machine/stub';
import { viewOf, sys } from '../host/libc';
import { takeHostSignal, onHostSignal, hostSignalInstalled } from './host-signals';
import { RUN } from '../kvm/kvm';
import { startVcpuWorker, VcpuWorker, S, GO, EXIT, RC, MAIN_SLEEPING, WORKER_WAITING, DONE_SEQ, READY, TID, VCPU_FD, RUN_LO, RUN_HI,
  CHAN_LO, CHAN_HI, WORKER_IDLE } from './vcpu-thread';

const EINTR = 4, EAGAIN = 11, SIGUSR2 = 12, SYS_tgkill = 234, SYS_sched_yield = 24;

/** How a run reaches the VMM for syscalls (--syscall-path). */
export type SyscallPath = 'exit' | 'ring' | 'auto';

/** How long the guest spins for a result before sleeping in the VMM (PORT_WAIT). */
export const SPIN_US = 100;
/**
 * Without a sandbox the vCPU thread is started only after this many exits: about as much
 * time in exits (30-90 µs each on kvm_pvm) as the thread takes to start, so that a short
 * run never pays for it.
 */
const LAZY_EXITS = 500;
/** How long the main thread polls without a request before it sleeps. */
const IDLE_NS = 200_000n;
/** A call that took this long (ms) blocked: twice in a row, and the guest sleeps at once next time. */
const SLOW_MS = 1;
/** Syscalls that may block on the host (reads and writes of pipes and sockets, waits, sleeps, polls). */
const MAY_BLOCK = (() => {
  const t = new Uint8Array(512);
  for (const nr of [0, 1, 7, 16, 17, 18, 19, 20, 23, 34, 35, 42, 43, 44, 45, 46, 47, 61, 202, 230, 232, 247, 270, 271, 281, 288, 295, 296, 299, 307, 441]) t[nr] = 1;
  return t;
})();
/** Requests per health check of the polling (see Channel.poll). */
const WINDOW = 256;

const noop = () => {};

/**
 * The thread that runs KVM_RUN for the channel. One per process, started early (before
 * the sandbox's jail and seccomp filter) and kept for every Machine of the process.
 */
export class VcpuThread {
  readonly ctl: Int32Array;
  private static instance: VcpuThread | undefined;

  private constructor(w: VcpuWorker) {
    this.ctl = w.ctl;
    // The SIGUSR2 that stops a running KVM_RUN (stop()) must not kill the process.
    if (!hostSignalInstalled(12)) process.on('SIGUSR2', noop);   // else the host-signal handler takes it (src/vmm/host-signals.ts)
  }

  /** Starts the process's vCPU thread if it is not running yet (or adopts the one bin/torov started); it becomes ready() later. */
  static start(): VcpuThread {
    if (!VcpuThread.instance) {
      const early = (globalThis as { __torovEarlyWorker?: VcpuWorker }).__torovEarlyWorker;
      VcpuThread.instance = new VcpuThread(early ?? startVcpuWorker());
    }
    return VcpuThread.instance;
  }

  static get started(): VcpuThread | undefined { return VcpuThread.instance; }

  ready(): boolean { return Atomics.load(this.ctl, READY) === 1; }

  /** Waits until the thread is ready (at most `ms`); true if it is. */
  waitReady(ms: number): boolean {
    for (let waited = 0; !this.ready() && waited < ms; waited += 10) Atomics.wait(this.ctl, READY, 0, 10);
    return this.ready();
  }

  bind(vcpuFd: number, runAddr: number, chanAddr: number): void {
    this.ctl[VCPU_FD] = vcpuFd;
    this.ctl[RUN_LO] = runAddr % 4294967296; this.ctl[RUN_HI] = Math.floor(runAddr / 4294967296);
    this.ctl[CHAN_LO] = chanAddr % 4294967296; this.ctl[CHAN_HI] = Math.floor(chanAddr / 4294967296);
  }

  /** Lets the thread run the vCPU once more (KVM_RUN until the next exit it does not handle itself). */
  go(): void {
    Atomics.add(this.ctl, GO, 1);
    if (Atomics.load(this.ctl, WORKER_IDLE)) Atomics.notify(this.ctl, GO);
  }

  /** Wakes the thread if it sleeps waiting for a result (PORT_WAIT). */
  resultReady(): void {
    Atomics.add(this.ctl, DONE_SEQ, 1);
    if (Atomics.load(this.ctl, WORKER_WAITING)) Atomics.notify(this.ctl, DONE_SEQ);
  }

  /**
   * Takes the vCPU back from a thread still in KVM_RUN (the guest ended while the vCPU
   * ran): immediate_exit plus a signal that kicks KVM_RUN out with EINTR, repeated until the
   * thread reports the exit. Returns the exit count it reported.
   */
  stop(runU8: Uint8Array, seen: number): number {
    runU8[RUN.immediate_exit] = 1;
    for (let tries = 0; Atomics.load(this.ctl, EXIT) === seen; tries++) {
      // MAIN_SLEEPING first: a vCPU thread woken in its PORT_WAIT wait must see it to hand the exit over.
      Atomics.store(this.ctl, MAIN_SLEEPING, 1);
      Atomics.add(this.ctl, DONE_SEQ, 1); Atomics.notify(this.ctl, DONE_SEQ);
      sys(SYS_tgkill, process.pid, this.ctl[TID]!, SIGUSR2);
      Atomics.wait(this.ctl, EXIT, seen, tries < 10 ? 1 : 20);
      Atomics.store(this.ctl, MAIN_SLEEPING, 0);
      if (tries > 1000) throw new Error('the vCPU thread does not stop');
    }
    runU8[RUN.immediate_exit] = 0;
    return Atomics.load(this.ctl, EXIT);
  }
}

/** Arguments of a posted request, from the host's private copy of it. */
class CopyArgs implements Args {
  constructor(private readonly w: Uint32Array) {}
  i(n: number): number { return this.w[2 + 2 * n]! | 0; }
  u(n: number): number { return this.w[2 + 2 * n]!; }
  n(n: number): number { return (this.w[3 + 2 * n]! | 0) * 4294967296 + this.w[2 + 2 * n]!; }
  ptr(n: number): number { return this.w[3 + 2 * n]! * 4294967296 + this.w[2 + 2 * n]!; }
  big(n: number): bigint { return (BigInt(this.w[3 + 2 * n]!) << 32n) | BigInt(this.w[2 + 2 * n]!); }
}

/** Syscalls answered in the guest from values published at start (stub.S's C_FASTVAL). */
export const FAST_SYSCALLS: readonly (readonly [number, string])[] = [
  [39, 'getpid'], [186, 'gettid'], [102, 'getuid'], [107, 'geteuid'], [104, 'getgid'], [108, 'getegid'],
];

/** Counters for -v and the benchmark. */
export interface ChannelStats { served: number; kicks: number; waits: number; exits: number; sleeps: number; handedOver: boolean; handoverAt: number; backoffs: number }

/** The host side of one Machine's channel. */
export class Channel {
  /** The channel page as 32-bit words (guest-writable: read with care). */
  readonly page: Int32Array;
  private readonly pageU32: Uint32Array;
  private readonly req = new Uint32Array(16);
  /** Per syscall number: how many of its last calls blocked long (0-2), for adaptive spinning. */
  private readonly slow = new Uint8Array(512);
  private readonly args = new CopyArgs(this.req);
  private thread: VcpuThread | undefined;
  private seenExit = 0;
  private running = false;
  readonly stats: ChannelStats = { served: 0, kicks: 0, waits: 0, exits: 0, sleeps: 0, handedOver: false, handoverAt: 0, backoffs: 0 };
  /** Polling's health (see poll()): requests served in this window, and how many found the host late. */
  private windowServed = 0;
  private late = 0;
  private backoffLevel = 0;
  private backoffChecks = 0;
  /** While nonzero, the vCPU runs on this thread until this time (hrtime ns). */
  private directUntil = 0n;
  private siteHook: ((retAddr: number, nr: number) => void) | undefined;
  /** Called with the return address of each trapped `syscall` served (site rewriting, src/vmm/rewrite.ts). */
  get onSite(): ((retAddr: number, nr: number) => void) | undefined { return this.siteHook; }
  set onSite(f: ((retAddr: number, nr: number) => void) | undefined) {
    this.siteHook = f;
    // With sites rewritten, fast-path calls must reach the host once per site to be rewritten.
    Atomics.store(this.page, S(CHAN.TRAPFAST), f ? 0 : 1);
  }

  /** True: this Machine may start the vCPU thread itself (no sandbox whose filter would forbid it). */
  private readonly spawn: boolean;

  constructor(private readonly machine: Machine, private readonly vcpu: Vcpu, opts: { tscKhz: number; fast: ReadonlyMap<number, number>; spawnThread: boolean }) {
    this.spawn = opts.spawnThread;
    const ab = viewOf(machine.mem.sysHost + SYS.CHAN, 4096);
    this.page = new Int32Array(ab);
    this.pageU32 = new Uint32Array(ab);
    // The page starts zeroed: GuestMemory maps the system slot afresh for every VM.
    const budget = Math.max(1, Math.round(opts.tscKhz * SPIN_US / 1000));
    this.pageU32[S(CHAN.BUDGET)] = budget % 4294967296;
    this.pageU32[S(CHAN.BUDGET) + 1] = Math.floor(budget / 4294967296);
    for (const [nr, value] of opts.fast) {
      this.pageU32[S(CHAN.FASTMASK) + (nr >> 5)]! |= 1 << (nr & 31);
      this.pageU32[S(CHAN.FASTVAL) + 2 * nr] = value >>> 0;
      this.pageU32[S(CHAN.FASTVAL) + 2 * nr + 1] = Math.floor(value / 4294967296) >>> 0;
    }
    machine.mem.sysDv.setUint32(SYS.STUB + STUB_CHANNEL_ON, 1, true);
    Atomics.store(this.page, S(CHAN.TRAPFAST), 1);
    this.thread = VcpuThread.started;
  }

  /** Serves the posted request, if there is one (from the poll loop, a kick, or a wait). */
  serve(): boolean {
    const p = this.page;
    if (Atomics.compareExchange(p, S(CHAN.STATE), CHAN_REQUEST, CHAN_BUSY) !== CHAN_REQUEST) return false;
    // One copy of the request: the guest may rewrite the page while its call is served.
    const w = this.pageU32, r = this.req, base = S(CHAN.NR);
    for (let i = 0; i < 16; i++) r[i] = w[base + i]!;
    const nr = r[1] === 0 ? r[0]! : -1;
    this.stats.served++;
    const site = r[14]! + r[15]! * 4294967296;
    if (site !== 0 && this.siteHook) this.siteHook(site, nr);
    // Adaptive spinning: a call that may block and blocked long the last two times is
    // expected to block again, and the guest is told to sleep at once instead of spending
    // its spin budget; one quick return makes it spin again.
    const timed = nr >= 0 && nr < MAY_BLOCK.length && MAY_BLOCK[nr] === 1;
    let t0 = 0;
    if (timed) {
      if (this.slow[nr]! >= 2) Atomics.store(p, S(CHAN.STATE), CHAN_BLOCKING);
      t0 = performance.now();
    }
    const result = this.machine.dispatch(nr, this.args);
    // A host call interrupted by a host signal that stops the run: the guest never sees the EINTR.
    if (result === -EINTR) { const sig = takeHostSignal(); if (sig !== 0) onHostSignal(this.machine, sig); if (this.machine.stopRequested) this.vcpu.stopNow(); }
    if (timed) {
      const ms = performance.now() - t0;
      this.slow[nr] = ms >= SLOW_MS ? Math.min(this.slow[nr]! + 1, 2) : 0;
    }
    w[S(CHAN.RESULT)] = result >>> 0;
    w[S(CHAN.RESULT) + 1] = Math.floor(result / 4294967296) >>> 0;
    let resume = false;
    if (this.machine.kernel.fsBaseDirty) {
      // arch_prctl: the FS/GS base is set with a vCPU ioctl, which would wait for a vCPU that
      // runs on the other thread (forever, if the program does not spin): park it first.
      if (this.running) { this.seenExit = this.thread!.stop(this.vcpu.fd.runU8, this.seenExit); this.running = false; resume = true; }
      this.vcpu.applyBasesNow();
    }
    Atomics.store(p, S(CHAN.STATE), CHAN_DONE);
    this.thread?.resultReady();
    if (resume) this.go();
    return true;
  }

  /** An I/O exit to one of the channel's ports, on whichever thread ran the vCPU. */
  port(port: number): void {
    if (port === PORT_KICK) { this.stats.kicks++; this.late++; } else this.stats.waits++;
    this.serve();
  }

  /**
   * Runs the guest until it ends. The vCPU runs on this thread (the exit path plus kicks)
   * until the vCPU thread is ready, then on that thread while this one serves the channel.
   */
  run(step: () => void): void {
    let t = this.thread;
    let exits = 0;
    for (;;) {
      // Direct: this thread runs the vCPU (the exit path; the guest kicks), until the vCPU
      // thread is ready and any back-off is over.
      while (!t || !t.ready() || this.inBackoff()) {
        if (!t && this.spawn && exits === LAZY_EXITS) t = this.thread = VcpuThread.start();
        step();
        exits++;
      }
      if (!this.stats.handedOver) { this.stats.handedOver = true; this.stats.handoverAt = exits; }
      this.poll(t);
    }
  }

  /** True while polling has been given up for a while (see poll()); checks the clock every 64 calls. */
  private inBackoff(): boolean {
    if (this.directUntil === 0n) return false;
    if ((++this.backoffChecks & 63) !== 0) return true;
    if (process.hrtime.bigint() < this.directUntil) return true;
    this.directUntil = 0n;
    return false;
  }

  /**
   * Polling: the vCPU thread runs the guest, this thread serves the channel. Returns (with
   * the vCPU thread parked) when polling does not pay: when, over a window of requests, a
   * quarter or more found this thread asleep or late (the guest had to kick it, or had
   * given up spinning before the request was picked up). That happens when the guest makes
   * syscalls rarely (nothing to gain) or when the machine has no CPU to spare for a
   * polling thread (its CPUs are oversubscribed, and spinning makes everything slower).
   * The vCPU then runs on this thread for a back-off period (50 ms, doubling up to 1.6 s
   * while it keeps happening), the exit path's cost, before polling is tried again.
   */
  private poll(t: VcpuThread): void {
    t.bind(this.vcpu.fd.fd, this.vcpu.fd.runAddr, this.machine.mem.sysHost + SYS.CHAN);
    const ctl = t.ctl, p = this.page;
    this.seenExit = Atomics.load(ctl, EXIT);
    Atomics.store(p, S(CHAN.POLL), 1);
    this.windowServed = 0; this.late = 0;
    let giveUp = false;
    try {
      this.go();
      let idleSince = process.hrtime.bigint(), n = 0;
      for (;;) {
        const sig = takeHostSignal();
        if (sig !== 0) { onHostSignal(this.machine, sig); if (this.machine.stopRequested) this.vcpu.stopNow(); }
        if (Atomics.load(p, S(CHAN.STATE)) === CHAN_REQUEST) {
          if (Atomics.load(ctl, WORKER_WAITING)) this.late++;
          this.serve();
          if (++this.windowServed >= WINDOW) {
            if (this.late * 4 >= WINDOW) { giveUp = true; Atomics.store(p, S(CHAN.POLL), 0); }
            else this.backoffLevel = 0;
            this.windowServed = 0; this.late = 0;
          }
          n = 0;
          idleSince = 0n;
          continue;
        }
        if (Atomics.load(ctl, EXIT) !== this.seenExit) {
          this.seenExit = (this.seenExit + 1) | 0;       // EXIT is an Int32 and wraps
          this.running = false;
          this.exit(ctl[RC]!);
          if (giveUp) {
            this.stats.backoffs++;
            this.directUntil = process.hrtime.bigint() + (50_000_000n << BigInt(this.backoffLevel));
            this.backoffLevel = Math.min(this.backoffLevel + 1, 5);
            return;
          }
          this.go();
          n = 0;
          idleSince = 0n;
          continue;
        }
        if ((++n & 255) === 0) {
          // Let another thread that wants this CPU run (the guest's peer, a client): a
          // polling thread must not make the machine oversubscribed. Free when nothing waits.
          sys(SYS_sched_yield);
          if ((n & 1023) !== 0) continue;
          const now = process.hrtime.bigint();
          if (idleSince === 0n) idleSince = now;
          else if (now - idleSince > IDLE_NS) { this.sleep(ctl); idleSince = 0n; }
        }
      }
    } finally {
      Atomics.store(p, S(CHAN.POLL), 0);
      if (this.running) { this.seenExit = t.stop(this.vcpu.fd.runU8, this.seenExit); this.running = false; }
    }
  }

  private go(): void {
    if (this.machine.stopRequested) this.vcpu.stopNow();
    this.running = true;
    this.thread!.go();
  }

  /** Handles an exit the vCPU thread reported (the vCPU stays parked until go()). */
  private exit(rc: number): void {
    this.stats.exits++;
    if (rc < 0) {
      if (rc !== -EINTR && rc !== -EAGAIN) throw new Error(`KVM_RUN failed: errno ${-rc}`);
    } else {
      this.vcpu.handleExit();
    }
  }

  /** Nothing to do for a while: stop polling and sleep until the vCPU thread reports an exit. */
  private sleep(ctl: Int32Array): void {
    const p = this.page;
    Atomics.store(p, S(CHAN.POLL), 0);
    Atomics.store(ctl, MAIN_SLEEPING, 1);
    // Dekker: the guest posts then reads C_POLL; this side clears C_POLL then reads C_STATE.
    if (Atomics.load(p, S(CHAN.STATE)) !== CHAN_REQUEST && Atomics.load(ctl, EXIT) === this.seenExit) {
      this.stats.sleeps++;
      Atomics.wait(ctl, EXIT, this.seenExit, 1000);
    }
    Atomics.store(ctl, MAIN_SLEEPING, 0);
    Atomics.store(p, S(CHAN.POLL), 1);
  }
}
