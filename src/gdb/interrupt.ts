/**
 * Ctrl-C while the guest runs: gdb sends a 0x03 byte, but the only thread that could read
 * it is blocked in KVM_RUN (the vCPU loop is synchronous on Node's main thread), and a
 * guest in a loop without syscalls never leaves the VM by itself.
 *
 * Design: a worker thread (worker_threads, started only when a debugger is attached)
 * watches the gdb socket with poll(2) while the guest runs. When bytes arrive it sets
 * kvm_run.immediate_exit and sends SIGUSR2 to the main thread with tgkill(2):
 *  - the signal kicks a running KVM_RUN out with EINTR (KVM_EXIT_INTR);
 *  - immediate_exit covers the race where the signal lands just before the main thread
 *    enters KVM_RUN: KVM then returns EINTR at once instead of running the guest;
 *  - the main thread has a (no-op) SIGUSR2 listener, so libuv's handler runs and the
 *    signal neither kills the process nor is lost; it is SA_RESTART, so a host syscall the
 *    VMM is in for the guest (a blocking read) is restarted, and the stop happens when it
 *    returns.
 * The worker never reads the socket: the main thread reads the 0x03 itself once stopped.
 * A shared state word says whether the guest is running; compare-and-swap on it decides
 * who wins when a stop and a Ctrl-C race, and an eventfd wakes the worker's poll when the
 * guest stops. A timer signal was the alternative; it would interrupt KVM_RUN and the
 * guest's blocking syscalls many times a second for nothing. Node has no synchronous poll
 * of its own, so the worker calls libc through koffi as the main thread does.
 *
 * Nothing of this exists when no debugger is attached.
 */
import { Worker } from 'node:worker_threads';
import { sys, addressOf, NR } from '../host/libc';
import { EFD_CLOEXEC, EFD_NONBLOCK } from '../linux/fcntl';
import { POLLIN } from '../linux/poll';
import { SIGUSR2 } from '../linux/signal';
import { POLLFD } from '../linux/structs';
import { RUN } from '../kvm/kvm';

/** The worker's two pollfds (the socket, the eventfd): byte offsets of their fields. */
const P0 = 0, P1 = POLLFD.SIZE;
import { hostSignalInstalled } from '../vmm/host-signals';

const STOPPED = 0, RUNNING = 1, KICKED = 2, QUIT = 3;
/** Words of the shared control block. */
const STATE = 0, SOCK = 1, RUN_LO = 2, RUN_HI = 3, READY = 4, DONE = 5;

/** The worker's code (plain JavaScript: it is evaluated, so it works from the bundle as from dist/). */
const WORKER = `
const { workerData: d } = require('node:worker_threads');
const koffi = require(d.koffi);
const sc = koffi.load('libc.so.6').func('long syscall(long, long, long, long, long, long, long)');
const ctl = new Int32Array(d.ctl);
const pfd = Buffer.alloc(${2 * POLLFD.SIZE}), ev = Buffer.alloc(8);
const pa = Number(koffi.address(pfd)), ea = Number(koffi.address(ev));
let run, runAddr = 0;
Atomics.store(ctl, ${READY}, 1); Atomics.notify(ctl, ${READY});
for (;;) {
  const s = Atomics.load(ctl, ${STATE});
  if (s === ${QUIT}) break;
  if (s !== ${RUNNING}) { Atomics.wait(ctl, ${STATE}, s); continue; }
  const addr = (ctl[${RUN_HI}] >>> 0) * 4294967296 + (ctl[${RUN_LO}] >>> 0);
  if (addr !== runAddr) { runAddr = addr; run = new Uint8Array(koffi.view(addr, 8)); }
  pfd.writeInt32LE(ctl[${SOCK}], ${P0 + POLLFD.fd}); pfd.writeInt16LE(${POLLIN}, ${P0 + POLLFD.events}); pfd.writeInt16LE(0, ${P0 + POLLFD.revents});
  pfd.writeInt32LE(d.efd, ${P1 + POLLFD.fd}); pfd.writeInt16LE(${POLLIN}, ${P1 + POLLFD.events}); pfd.writeInt16LE(0, ${P1 + POLLFD.revents});
  if (sc(${NR.poll}, pa, 2, -1, 0, 0, 0) <= 0) continue;
  if (pfd.readInt16LE(${P1 + POLLFD.revents}) !== 0) { sc(${NR.read}, d.efd, ea, 8, 0, 0, 0); continue; }
  if (pfd.readInt16LE(${P0 + POLLFD.revents}) !== 0 && Atomics.compareExchange(ctl, ${STATE}, ${RUNNING}, ${KICKED}) === ${RUNNING}) {
    run[${RUN.immediate_exit}] = 1;
    sc(${NR.tgkill}, process.pid, process.pid, ${SIGUSR2}, 0, 0, 0);
  }
}
Atomics.store(ctl, ${DONE}, 1); Atomics.notify(ctl, ${DONE});
`;

const noop = () => {};

export class InterruptWatcher {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(32));
  private readonly efd: number;
  private readonly worker: Worker;
  private readonly one = Buffer.alloc(8);
  private runU8: Uint8Array | undefined;

  /**
   * Starts the watcher thread and waits until it has loaded what it needs (koffi), so it
   * can be started before a sandbox takes the host's files away.
   */
  constructor() {
    this.efd = sys(NR.eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.efd < 0) throw new Error(`eventfd failed (errno ${-this.efd})`);
    this.one.writeBigUInt64LE(1n, 0);
    if (!hostSignalInstalled(12)) process.on('SIGUSR2', noop);   // else the host-signal handler takes it (src/vmm/host-signals.ts)
    this.worker = new Worker(WORKER, { eval: true, stdout: true, stderr: true, workerData: { koffi: require.resolve('koffi'), ctl: this.ctl.buffer, efd: this.efd } });
    this.worker.unref();
    for (let waited = 0; Atomics.load(this.ctl, READY) === 0 && waited < 10_000; waited += 50) Atomics.wait(this.ctl, READY, 0, 50);
    if (Atomics.load(this.ctl, READY) === 0) throw new Error('the Ctrl-C watcher thread did not start');
  }

  /** Watches gdb's connection `sockFd` for the vCPU whose kvm_run page is at host address `runAddr`. */
  bind(sockFd: number, runU8: Uint8Array, runAddr: number): void {
    this.runU8 = runU8;
    this.ctl[SOCK] = sockFd;
    this.ctl[RUN_LO] = runAddr % 4294967296;
    this.ctl[RUN_HI] = Math.floor(runAddr / 4294967296);
  }

  /** The guest is about to run: watch for Ctrl-C. */
  running(): void {
    Atomics.store(this.ctl, STATE, RUNNING);
    Atomics.notify(this.ctl, STATE);
  }

  /**
   * KVM_RUN returned EINTR: true if it was this watcher's kick. immediate_exit is cleared
   * either way (a kick that lost the race with a stop may have set it late).
   */
  kicked(): boolean {
    this.runU8![RUN.immediate_exit] = 0;
    return Atomics.load(this.ctl, STATE) === KICKED;
  }

  /** True if Ctrl-C kicked since the guest was last let run (no side effect). */
  pending(): boolean { return Atomics.load(this.ctl, STATE) === KICKED; }

  /** The guest stopped: stop watching (the stub reads the socket now). */
  stopped(): void {
    if (Atomics.compareExchange(this.ctl, STATE, RUNNING, STOPPED) === RUNNING) {
      sys(NR.write, this.efd, addressOf(this.one), 8);      // wake the worker's poll
    } else {
      Atomics.store(this.ctl, STATE, STOPPED);              // it had kicked: the stop wins
    }
    if (this.runU8) this.runU8[RUN.immediate_exit] = 0;
  }

  /**
   * Stops the watcher thread and waits for it to end, so that no late kick can leave
   * immediate_exit set on a vCPU that is reused for the next VM, nor a SIGUSR2 arrive
   * once the listener is gone (its default action would kill torov).
   */
  close(): void {
    Atomics.store(this.ctl, STATE, QUIT);
    Atomics.notify(this.ctl, STATE);
    sys(NR.write, this.efd, addressOf(this.one), 8);
    for (let waited = 0; Atomics.load(this.ctl, DONE) === 0 && waited < 5_000; waited += 50) Atomics.wait(this.ctl, DONE, 0, 50);
    if (this.runU8) this.runU8[RUN.immediate_exit] = 0;
    void this.worker.terminate();
    process.removeListener('SIGUSR2', noop);
    sys(NR.close, this.efd);
  }
}
