/**
 * Time: clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep.
 * Forwarded to the host with checked pointers.
 */
import { Handler, HandlerTable } from './api';
import { sys } from '../host/libc';
import { HOST } from './host-nr';
import { EINVAL } from '../linux/errno';
import { CLOCK_REALTIME, CLOCK_TAI } from '../linux/time';
import { TIMESPEC, TIMEVAL, TIMEZONE } from '../linux/structs';


/** Clocks a guest may read: REALTIME..TAI (linux/time.h); the CPU-time clocks are the VMM's. */
const validClock = (c: number) => c >= CLOCK_REALTIME && c <= CLOCK_TAI;

const sysClockGettime: Handler = (k, a) => {
  if (!validClock(a.i(0))) return -EINVAL;
  return sys(HOST.clock_gettime, a.i(0), k.mem.host(a.ptr(1), TIMESPEC.SIZE, true));
};
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
const sysNanosleep: Handler = (k, a) =>
  sys(HOST.nanosleep, k.mem.host(a.ptr(0), TIMESPEC.SIZE, false), a.ptr(1) ? k.mem.host(a.ptr(1), TIMESPEC.SIZE, true) : 0);
const sysClockNanosleep: Handler = (k, a) => {
  if (!validClock(a.i(0))) return -EINVAL;
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
