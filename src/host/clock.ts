/**
 * The VMM's clock for deadlines and durations: milliseconds of the host's monotonic clock
 * (CLOCK_MONOTONIC, through process.hrtime). Not `performance.now()`: the first use of
 * `performance` loads Node's perf_hooks, about 1 ms of every `torov run`, for a clock
 * that costs the same per call (about 70 ns here).
 */

/** Monotonic milliseconds (fractional); only differences mean anything. */
export function nowMs(): number {
  const t = process.hrtime();
  return t[0] * 1e3 + t[1] / 1e6;
}

/** The wall-clock time (ms since the Unix epoch) of nowMs()'s zero, as of this module's load. */
export const EPOCH_OF_NOW_MS = Date.now() - nowMs();
