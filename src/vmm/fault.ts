/**
 * CPU exceptions, reported the way a kernel reports them: the signal Linux would send for
 * each vector (arch/x86/kernel/traps.c), and a one-line description.
 */

/** The frame the stub's exception entry leaves on torov's exception stack, plus CR2. */
export interface FaultFrame {
  vector: number; error: number; rip: number; cs: number; rflags: number; rsp: number; cr2: number;
}

import { SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP, signalName } from '../linux/signal';

/** Vector -> [signal, description] (Intel SDM Vol. 3A, 6.15; signals as Linux sends them). */
const VECTORS: Readonly<Record<number, readonly [number, string]>> = {
  0: [SIGFPE, 'divide error'],
  1: [SIGTRAP, 'debug exception'],
  3: [SIGTRAP, 'breakpoint'],
  4: [SIGSEGV, 'overflow'],
  5: [SIGSEGV, 'bound range exceeded'],
  6: [SIGILL, 'invalid opcode'],
  7: [SIGSEGV, 'device not available'],
  8: [SIGSEGV, 'double fault'],
  10: [SIGSEGV, 'invalid TSS'],
  11: [SIGBUS, 'segment not present'],
  12: [SIGBUS, 'stack-segment fault'],
  13: [SIGSEGV, 'general protection fault'],
  14: [SIGSEGV, 'page fault'],
  16: [SIGFPE, 'x87 floating-point error'],
  17: [SIGBUS, 'alignment check'],
  18: [SIGBUS, 'machine check'],
  19: [SIGFPE, 'SIMD floating-point exception'],
  21: [SIGSEGV, 'control protection fault'],
};

/** The signal and message for a fault the program does not survive. */
export function describeFault(f: FaultFrame): { signal: number; message: string } {
  const [signal, what] = VECTORS[f.vector] ?? [SIGSEGV, `exception ${f.vector}`];
  let msg = `torov: ${signalName(signal)}: ${what} at rip=0x${f.rip.toString(16)}`;
  if (f.vector === 14) {
    const access = f.error & 16 ? 'exec' : f.error & 2 ? 'write' : 'read';
    const why = f.error & 1 ? 'protection' : 'not mapped';
    msg += ` addr=0x${f.cr2.toString(16)} (${access}, ${why})`;
  } else if (f.vector === 13 && f.error) {
    msg += ` error=0x${f.error.toString(16)}`;
  }
  return { signal, message: msg };
}
