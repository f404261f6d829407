/**
 * Clocks and timers: clock ids, clock_nanosleep/timer_settime flags, timerfd flags.
 * Values from include/uapi/linux/time.h and include/uapi/linux/timerfd.h.
 */
import { O_CLOEXEC, O_NONBLOCK } from './fcntl';

/** Clock ids (linux/time.h). */
export const CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_PROCESS_CPUTIME_ID = 2, CLOCK_THREAD_CPUTIME_ID = 3,
  CLOCK_MONOTONIC_RAW = 4, CLOCK_REALTIME_COARSE = 5, CLOCK_MONOTONIC_COARSE = 6, CLOCK_BOOTTIME = 7,
  CLOCK_REALTIME_ALARM = 8, CLOCK_BOOTTIME_ALARM = 9, CLOCK_SGI_CYCLE = 10, CLOCK_TAI = 11;
/** An absolute time (linux/time.h). */
export const TIMER_ABSTIME = 0x01;
/** setitimer(2) timers (linux/time.h). */
export const ITIMER_REAL = 0, ITIMER_VIRTUAL = 1, ITIMER_PROF = 2;

/** timerfd_create(2) flags (linux/timerfd.h). */
export const TFD_CLOEXEC = O_CLOEXEC, TFD_NONBLOCK = O_NONBLOCK;
/** timerfd_settime(2) flags (linux/timerfd.h). */
export const TFD_TIMER_ABSTIME = 1 << 0, TFD_TIMER_CANCEL_ON_SET = 1 << 1;

/** Nanoseconds in a second. */
export const NSEC_PER_SEC = 1_000_000_000;
