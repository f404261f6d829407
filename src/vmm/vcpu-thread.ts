/**
 * The syscall channel's vCPU thread (see channel.ts): a worker_threads Worker that loops on
 * KVM_RUN. Kept apart, with no import that loads koffi, so that bin/torov can start it
 * before it loads the rest of torov (a Node worker takes about 50 ms to start here).
 */
import { Worker } from 'node:worker_threads';
import { CHAN, CHAN_BUSY, CHAN_BLOCKING, CHAN_REQUEST, PORT_WAIT } from '../machine/layout';

/** From src/kvm/kvm.ts (not imported: it loads koffi); test/unit/channel.test.ts checks they agree. */
export const K = { KVM_RUN: 0xae80, KVM_EXIT_IO: 2, exit_reason: 8, io_direction: 32, io_port: 34 } as const;
/**
 * Host syscall numbers the thread uses, from src/linux/syscalls.ts (not imported: loading the
 * table would delay the thread's start by milliseconds); test/unit/channel.test.ts checks them.
 */
export const NR_WORKER = { gettid: 186 } as const;

/** Words of the control block shared with the vCPU thread. */
export const GO = 0, EXIT = 1, RC = 2, QUIT = 3, MAIN_SLEEPING = 4, WORKER_WAITING = 5, DONE_SEQ = 6, READY = 7, TID = 8,
  VCPU_FD = 9, RUN_LO = 10, RUN_HI = 11, CHAN_LO = 12, CHAN_HI = 13, WORKER_IDLE = 14;
export const CTL_WORDS = 16;
export const S = (off: number) => off >> 2;

/** The vCPU thread's code (plain JavaScript, evaluated: it works from the bundle as from dist/). */
const WORKER = `
const { workerData: d } = require('node:worker_threads');
const koffi = require(d.koffi);
const libc = koffi.load('libc.so.6');
const ioctl = libc.func('int ioctl(int, unsigned long, unsigned long)');
const sc = libc.func('long syscall(long, long, long, long, long, long, long)');
const ctl = new Int32Array(d.ctl);
ctl[${TID}] = Number(sc(${NR_WORKER.gettid} /* gettid */, 0, 0, 0, 0, 0, 0));
Atomics.store(ctl, ${READY}, 1); Atomics.notify(ctl, ${READY});
let runAddr = 0, chanAddr = 0, run8, run32, chan, go = 0;
function pending() { const s = Atomics.load(chan, ${S(CHAN.STATE)}); return s === ${CHAN_REQUEST} || s === ${CHAN_BUSY} || s === ${CHAN_BLOCKING}; }
/* The guest spun out its budget (PORT_WAIT): sleep until the result is there. False: the
   main thread sleeps and has not seen the request, so the exit must go to it. */
function waitDone() {
  for (;;) {
    const seq = Atomics.load(ctl, ${DONE_SEQ});
    if (!pending() || Atomics.load(ctl, ${QUIT})) return true;
    if (Atomics.load(ctl, ${MAIN_SLEEPING})) return false;
    Atomics.store(ctl, ${WORKER_WAITING}, 1);
    if (pending()) Atomics.wait(ctl, ${DONE_SEQ}, seq, 20);
    Atomics.store(ctl, ${WORKER_WAITING}, 0);
  }
}
for (;;) {
  for (let spins = 0; Atomics.load(ctl, ${GO}) === go; spins++) {
    if (spins < 20000) continue;
    Atomics.store(ctl, ${WORKER_IDLE}, 1);
    if (Atomics.load(ctl, ${GO}) === go) Atomics.wait(ctl, ${GO}, go, 1000);
    Atomics.store(ctl, ${WORKER_IDLE}, 0);
  }
  go = Atomics.load(ctl, ${GO});
  if (Atomics.load(ctl, ${QUIT})) break;
  const ra = (ctl[${RUN_HI}] >>> 0) * 4294967296 + (ctl[${RUN_LO}] >>> 0);
  if (ra !== runAddr) { runAddr = ra; const ab = koffi.view(ra, 4096); run8 = new Uint8Array(ab); run32 = new Uint32Array(ab); }
  const ca = (ctl[${CHAN_HI}] >>> 0) * 4294967296 + (ctl[${CHAN_LO}] >>> 0);
  if (ca !== chanAddr) { chanAddr = ca; chan = new Int32Array(koffi.view(ca, 4096)); }
  const fd = ctl[${VCPU_FD}];
  let rc;
  for (;;) {
    rc = ioctl(fd, ${K.KVM_RUN}, 0);
    if (rc < 0) { rc = -koffi.errno(); break; }
    if (run32[${K.exit_reason >> 2}] === ${K.KVM_EXIT_IO} && run8[${K.io_direction}] === 1
        && (run8[${K.io_port}] | (run8[${K.io_port + 1}] << 8)) === ${PORT_WAIT} && waitDone()) continue;
    break;
  }
  ctl[${RC}] = rc;
  Atomics.add(ctl, ${EXIT}, 1);
  if (Atomics.load(ctl, ${MAIN_SLEEPING})) Atomics.notify(ctl, ${EXIT});
}
`;


/** A started vCPU thread: the worker and its control block. */
export interface VcpuWorker { worker: Worker; ctl: Int32Array }

/** Starts the thread (it becomes ready when ctl[READY] is 1). */
export function startVcpuWorker(): VcpuWorker {
  const ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
  // stdout/stderr: true keeps Node from wiring the worker's output to process.stdout and
  // process.stderr, whose set-up would make the host's stdio non-blocking (the guest shares
  // those open files and would get EAGAIN).
  const worker = new Worker(WORKER, { eval: true, stdout: true, stderr: true, workerData: { koffi: require.resolve('koffi'), ctl: ctl.buffer } });
  worker.unref();
  return { worker, ctl };
}
