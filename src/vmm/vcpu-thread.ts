/**
 * vCPU threads: the host threads that run guest threads' vCPUs. Each is a worker_threads
 * Worker that loops on KVM_RUN for one vCPU at a time and hands every exit that needs
 * the VMM back to Node's main thread (which holds all VMM state in JavaScript and serves
 * every guest thread's syscalls; src/vmm/scheduler.ts). It also performs its guest
 * thread's *blocking host calls* when the main thread asks it to (a read on an empty
 * pipe, an accept, a poll with a timeout): the guest thread waits anyway, its host thread
 * is idle, and the main thread stays free to serve the other guest threads.
 *
 * Kept apart, with no import that loads koffi, so that bin/torov can start the first one
 * before it loads the rest of torov (a Node worker takes 30-50 ms to start here). A worker
 * loads koffi with process.dlopen() of the native module the main thread already loaded:
 * the dynamic linker finds it by name without opening a file, so threads can be started
 * after the sandbox took the host's files away.
 *
 * Protocol (a control block of Int32 words per thread, and one "bell" shared by all):
 *  - GO: the main thread bumps it to make the thread run the vCPU (KVM_RUN until an exit).
 *  - EXIT: the thread bumps it when it stops on an exit the main thread must handle (RC
 *    holds KVM_RUN's return code), then rings the bell.
 *  - HOST_REQ / HOST_DONE: a host syscall to perform (HOST_NR, HOST_ARGS); done when
 *    HOST_DONE equals HOST_REQ, result in HOST_RES; the bell rings.
 *  - WAKE: bumped by the main thread whenever it wants the thread to look again (a result
 *    posted, a host call asked for, a stop); the thread sleeps on it.
 *  - The bell (word 0 of the shared block) wakes the main thread when it sleeps (word 1).
 * Channel exits are handled here without the main thread: PORT_KICK (the guest posted a
 * request and no one polls: ring the bell, run on) and PORT_WAIT (the guest spun out its
 * budget: sleep until the result is posted, doing the host call asked for meanwhile).
 */
import type { Worker } from 'node:worker_threads';
import { koffiNativePath } from '../host/koffi';
import { CHAN, CHAN_BUSY, CHAN_BLOCKING, CHAN_REQUEST, CHAN_EXIT, PORT_WAIT, PORT_KICK } from '../machine/layout';

/** From src/kvm/kvm.ts (not imported: it loads koffi); test/unit/channel.test.ts checks they agree. */
export const K = { KVM_RUN: 0xae80, KVM_EXIT_IO: 2, exit_reason: 8, io_direction: 32, io_port: 34 } as const;
/**
 * Host syscall numbers the thread uses, from src/linux/syscalls.ts (not imported: loading the
 * table would delay the thread's start by milliseconds); test/unit/channel.test.ts checks them.
 */
export const NR_WORKER = { gettid: 186 } as const;

/** Words of a thread's control block. */
export const GO = 0, EXIT = 1, RC = 2, QUIT = 3, WAKE = 4, WAITING = 5, IDLE = 6, READY = 7, TID = 8,
  VCPU_FD = 9, RUN_LO = 10, RUN_HI = 11, CHAN_LO = 12, CHAN_HI = 13, KICKS = 14, STOP = 15,
  HOST_REQ = 16, HOST_DONE = 17, HOST_NR = 18, HOST_ARGS = 19 /* 12 words: 6 x (lo, hi) */, HOST_RES_LO = 31, HOST_RES_HI = 32,
  HOSTCALLS = 33;
export const CTL_WORDS = 40;
/** Words of the shared bell. */
export const BELL = 0, MAIN_SLEEPING = 1;
export const S = (off: number) => off >> 2;

/** The thread's code (plain JavaScript, evaluated: it works from the bundle as from dist/). */
const WORKER = `
const { workerData: d } = require('node:worker_threads');
const m = { exports: {} };
process.dlopen(m, d.koffiNative);
const koffi = m.exports;
const libc = koffi.load('libc.so.6');
const ioctl = libc.func('int ioctl(int, unsigned long, unsigned long)');
const sc = libc.func('long syscall(long, long, long, long, long, long, long)');
const ctl = new Int32Array(d.ctl), bell = new Int32Array(d.bell);
ctl[${TID}] = Number(sc(${NR_WORKER.gettid} /* gettid */, 0, 0, 0, 0, 0, 0));
Atomics.store(ctl, ${READY}, 1); Atomics.notify(ctl, ${READY});
let runAddr = 0, chanAddr = 0, run8, run32, chan, go = 0;
function ring() { Atomics.add(bell, ${BELL}, 1); if (Atomics.load(bell, ${MAIN_SLEEPING})) Atomics.notify(bell, ${BELL}); }
const arg = (i) => (ctl[${HOST_ARGS} + 2 * i + 1] >>> 0) * 4294967296 + (ctl[${HOST_ARGS} + 2 * i] >>> 0);
function hostCall() {
  const req = Atomics.load(ctl, ${HOST_REQ});
  let r = Number(sc(ctl[${HOST_NR}], arg(0), arg(1), arg(2), arg(3), arg(4), arg(5)));
  if (r === -1) r = -koffi.errno();
  ctl[${HOST_RES_LO}] = r >>> 0; ctl[${HOST_RES_HI}] = Math.floor(r / 4294967296) | 0;
  Atomics.add(ctl, ${HOSTCALLS}, 1);
  Atomics.store(ctl, ${HOST_DONE}, req);
  ring();
}
const hostPending = () => Atomics.load(ctl, ${HOST_REQ}) !== Atomics.load(ctl, ${HOST_DONE});
function pending() { const s = Atomics.load(chan, ${S(CHAN.STATE)}); return s === ${CHAN_REQUEST} || s === ${CHAN_BUSY} || s === ${CHAN_BLOCKING}; }
/* A kick or a wait with no call in flight (C_STATE idle or not a state at all) is never the
   stub's: the program jumped into it or forged the page. The exit goes to the main thread,
   which ends the program, instead of looping here or ringing the bell for nothing. */
function noCall() { const s = Atomics.load(chan, ${S(CHAN.STATE)}); return s <= 0 || s > ${CHAN_EXIT}; }
/* The guest spun out its budget (PORT_WAIT): sleep until its result is posted. False: the
   main thread asked for the vCPU (STOP), so the exit goes to it. */
function waitDone() {
  for (;;) {
    const w = Atomics.load(ctl, ${WAKE});
    if (hostPending()) { hostCall(); continue; }
    if (Atomics.load(ctl, ${QUIT})) return true;
    if (Atomics.load(ctl, ${STOP})) return false;
    if (!pending()) return true;
    Atomics.store(ctl, ${WAITING}, 1);
    if (!hostPending() && pending() && !Atomics.load(ctl, ${STOP})) Atomics.wait(ctl, ${WAKE}, w, 20);
    Atomics.store(ctl, ${WAITING}, 0);
  }
}
for (;;) {
  for (let spins = 0; Atomics.load(ctl, ${GO}) === go; spins++) {
    if (hostPending()) { hostCall(); spins = 0; continue; }
    if (Atomics.load(ctl, ${QUIT})) break;
    if (spins < 20000) continue;
    const w = Atomics.load(ctl, ${WAKE});
    Atomics.store(ctl, ${IDLE}, 1);
    if (Atomics.load(ctl, ${GO}) === go && !hostPending() && !Atomics.load(ctl, ${QUIT})) Atomics.wait(ctl, ${WAKE}, w, 1000);
    Atomics.store(ctl, ${IDLE}, 0);
  }
  if (Atomics.load(ctl, ${QUIT})) break;
  go = Atomics.load(ctl, ${GO});
  const ra = (ctl[${RUN_HI}] >>> 0) * 4294967296 + (ctl[${RUN_LO}] >>> 0);
  if (ra !== runAddr) { runAddr = ra; const ab = koffi.view(ra, 4096); run8 = new Uint8Array(ab); run32 = new Uint32Array(ab); }
  const ca = (ctl[${CHAN_HI}] >>> 0) * 4294967296 + (ctl[${CHAN_LO}] >>> 0);
  if (ca !== chanAddr) { chanAddr = ca; chan = ca ? new Int32Array(koffi.view(ca, 4096)) : undefined; }
  const fd = ctl[${VCPU_FD}];
  let rc;
  for (;;) {
    rc = ioctl(fd, ${K.KVM_RUN}, 0);
    if (rc < 0) { rc = -koffi.errno(); break; }
    if (chan && run32[${K.exit_reason >> 2}] === ${K.KVM_EXIT_IO} && run8[${K.io_direction}] === 1) {
      const port = run8[${K.io_port}] | (run8[${K.io_port + 1}] << 8);
      if ((port === ${PORT_KICK} || port === ${PORT_WAIT}) && noCall()) break;
      if (port === ${PORT_KICK}) { Atomics.add(ctl, ${KICKS}, 1); ring(); continue; }
      if (port === ${PORT_WAIT} && waitDone()) continue;
    }
    break;
  }
  ctl[${RC}] = rc;
  Atomics.add(ctl, ${EXIT}, 1);
  Atomics.notify(ctl, ${EXIT});
  ring();
}
`;

/** A started vCPU thread: the worker and its control block. */
export interface VcpuWorker { worker: Worker; ctl: Int32Array; bell: Int32Array }

/**
 * The bell every vCPU thread of this process rings (one shared block). Kept on globalThis:
 * bin/torov.js starts the early vCPU thread from dist/src (this module, unbundled) before
 * the bundle loads its own copy of this module, and both must ring and wait on one bell
 * (with two, the main thread slept its full 50 ms at each idle wait: a sandboxed
 * `python3 -c pass` took 0.8 s instead of 0.25 s).
 */
export const bell: Int32Array = (() => {
  const g = globalThis as { __torovBell?: Int32Array };
  return (g.__torovBell ??= new Int32Array(new SharedArrayBuffer(8 * 4)));
})();


/** Starts a thread (it becomes ready when ctl[READY] is 1). */
export function startVcpuWorker(): VcpuWorker {
  const nativePath = koffiNativePath();
  const ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
  // stdout/stderr: true keeps Node from wiring the worker's output to process.stdout and
  // process.stderr, whose set-up would make the host's stdio non-blocking (the guest shares
  // those open files and would get EAGAIN).
  // Loaded here: Node compiles worker_threads' internals on first use (about 2 ms), which a
  // run that never starts a thread does not pay.
  const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
  const worker = new Worker(WORKER, { eval: true, stdout: true, stderr: true, workerData: { koffiNative: nativePath, ctl: ctl.buffer, bell: bell.buffer } });
  worker.unref();
  return { worker, ctl, bell };
}
