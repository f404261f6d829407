/**
 * Time: clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep.
 * Forwarded to the host with checked pointers.
 */
import { Handler, HandlerTable, Kernel } from './api';
import { sys } from '../host/libc';
import { HOST } from './host-nr';
import { EINVAL } from '../linux/errno';
import { CLOCK_REALTIME, CLOCK_TAI, CLOCK_MONOTONIC, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, TIMER_ABSTIME, NSEC_PER_SEC } from '../linux/time';
import { clockMs } from './thread';
import { TIMESPEC, TIMEVAL, TIMEZONE } from '../linux/structs';
import { nowMs } from '../host/clock';


/** Clocks a guest may read: REALTIME..TAI (linux/time.h); the CPU-time clocks are the VMM's. */
const validClock = (c: number) => c >= CLOCK_REALTIME && c <= CLOCK_TAI;

const sysClockGettime: Handler = (k, a) => {
  const c = a.i(0);
  if (!validClock(c)) return -EINVAL;
  if (c === CLOCK_PROCESS_CPUTIME_ID || c === CLOCK_THREAD_CPUTIME_ID) {
    // With several processes the VMM's clocks are everybody's: the guest's own accounting.
    const ns = k.sched.cpuTime(k, c === CLOCK_THREAD_CPUTIME_ID);
    if (ns !== undefined) {
      const ts = Buffer.alloc(TIMESPEC.SIZE);
      ts.writeBigInt64LE(BigInt(Math.floor(ns / 1e9)), 0);
      ts.writeBigInt64LE(BigInt(Math.floor(ns % 1e9)), 8);
      k.mem.write(a.ptr(1), ts);
      return 0;
    }
  }
  return sys(HOST.clock_gettime, c, k.mem.host(a.ptr(1), TIMESPEC.SIZE, true));
};
const CLOCK_PROCESS_CPUTIME_ID = 2, CLOCK_THREAD_CPUTIME_ID = 3;
const sysClockGetres: Handler = (k, a) => {
  if (!validClock(a.i(0))) return -EINVAL;
  return sys(HOST.clock_getres, a.i(0), a.ptr(1) ? k.mem.host(a.ptr(1), TIMESPEC.SIZE, true) : 0);
};
const sysGettimeofday: Handler = (k, a) =>
  sys(HOST.gettimeofday, a.ptr(0) ? k.mem.host(a.ptr(0), TIMEVAL.SIZE, true) : 0, a.ptr(1) ? k.mem.host(a.ptr(1), TIMEZONE.SIZE, true) : 0);
const sysTime: Handler = (k, a) => {
  const t = Math.floor(Date.now() / 1000);
  if (a.ptr(0)) k.mem.writeU64(a.ptr(0), t);
  return t;
};
/**
 * A sleep of the guest: with one thread, the host sleeps (the VMM has nothing else to do);
 * with several, the scheduler's timer wakes the thread, and the others run meanwhile.
 * `clock`/`abs`: clock_nanosleep's clock and TIMER_ABSTIME.
 */
function sleepFor(k: Kernel, clock: number, abs: boolean, req: number, rem: number): number {
  const sec = k.mem.readI64(req), nsec = k.mem.readI64(req + 8);
  if (sec < 0 || nsec < 0 || nsec >= NSEC_PER_SEC) return -EINVAL;
  if (rem) k.mem.check(rem, TIMESPEC.SIZE, true);
  const ms = sec * 1000 + nsec / 1e6;
  let deadline = nowMs() + ms;
  if (abs) deadline = nowMs() + (ms - clockMs(clock === CLOCK_REALTIME_ALARM ? CLOCK_REALTIME : clock === CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME : clock));
  return k.sched.sleep(k, deadline, abs ? 0 : rem);
}

const sysNanosleep: Handler = (k, a) => {
  if (k.sched.concurrent) return sleepFor(k, CLOCK_MONOTONIC, false, a.ptr(0), a.ptr(1));
  return sys(HOST.nanosleep, k.mem.host(a.ptr(0), TIMESPEC.SIZE, false), a.ptr(1) ? k.mem.host(a.ptr(1), TIMESPEC.SIZE, true) : 0);
};
const sysClockNanosleep: Handler = (k, a) => {
  if (!validClock(a.i(0))) return -EINVAL;
  if (k.sched.concurrent && (a.i(1) & ~TIMER_ABSTIME) === 0) return sleepFor(k, a.i(0), (a.i(1) & TIMER_ABSTIME) !== 0, a.ptr(2), a.ptr(3));
  return sys(HOST.clock_nanosleep, a.i(0), a.i(1), k.mem.host(a.ptr(2), TIMESPEC.SIZE, false), a.ptr(3) ? k.mem.host(a.ptr(3), TIMESPEC.SIZE, true) : 0);
};

export const timeHandlers: HandlerTable = {
  clock_gettime: sysClockGettime,
  clock_getres: sysClockGetres,
  gettimeofday: sysGettimeofday,
  time: sysTime,
  nanosleep: sysNanosleep,
  clock_nanosleep: sysClockNanosleep,
};
