/**
 * Signal numbers in the GDB remote protocol. gdb numbers signals its own way
 * (include/gdb/signals.def): most match Linux x86-64, but not SIGBUS (gdb 10, Linux 7),
 * SIGUSR1/2 (30/31 against 10/12), SIGSYS (12 against 31) and the rest above 15.
 */
import { SIGCHLD, SIGCONT, SIGURG, SIGWINCH } from '../linux/signal';

/** Linux signal number -> gdb's. */
const LINUX_TO_GDB: Readonly<Record<number, number>> = {
  1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 10, 8: 8, 9: 9, 10: 30, 11: 11, 12: 31, 13: 13, 14: 14, 15: 15,
  16: 0, 17: 20, 18: 19, 19: 17, 20: 18, 21: 21, 22: 22, 23: 16, 24: 24, 25: 25, 26: 26, 27: 27, 28: 28, 29: 23, 30: 32, 31: 12,
};

export const GDB_SIGINT = 2, GDB_SIGTRAP = 5, GDB_SIGKILL = 9;

/** gdb's number for a Linux signal (143, "unknown", for one it has no name for). */
export function gdbSignal(linux: number): number {
  return LINUX_TO_GDB[linux] || 143;
}

/** The Linux signal for gdb's number, or undefined. */
export function linuxSignal(gdb: number): number | undefined {
  for (const [l, g] of Object.entries(LINUX_TO_GDB)) if (g === gdb && g !== 0) return Number(l);
  return undefined;
}

/** Linux signals whose default action is to ignore them (a `continue` with one changes nothing). */
export const IGNORED_BY_DEFAULT: ReadonlySet<number> = new Set([SIGCHLD, SIGCONT, SIGURG, SIGWINCH]);
