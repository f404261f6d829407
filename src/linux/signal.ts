/**
 * Linux x86-64 signals: numbers, names, default actions, and the flags of the signal
 * syscalls (rt_sigaction, rt_sigprocmask, sigaltstack, timer_create). Values from
 * arch/x86/include/uapi/asm/signal.h and include/uapi/asm-generic/signal-defs.h unless a
 * comment says otherwise.
 */

/** Hangup (asm/signal.h). */
export const SIGHUP = 1;
/** Interrupt from the keyboard (asm/signal.h). */
export const SIGINT = 2;
/** Quit from the keyboard (asm/signal.h). */
export const SIGQUIT = 3;
/** Illegal instruction (asm/signal.h). */
export const SIGILL = 4;
/** Trace or breakpoint trap (asm/signal.h). */
export const SIGTRAP = 5;
/** Abort (asm/signal.h; SIGIOT is the same number). */
export const SIGABRT = 6;
/** Bus error (asm/signal.h). */
export const SIGBUS = 7;
/** Arithmetic exception (asm/signal.h). */
export const SIGFPE = 8;
/** Kill, cannot be caught or blocked (asm/signal.h). */
export const SIGKILL = 9;
/** User-defined signal 1 (asm/signal.h). */
export const SIGUSR1 = 10;
/** Invalid memory reference (asm/signal.h). */
export const SIGSEGV = 11;
/** User-defined signal 2 (asm/signal.h). */
export const SIGUSR2 = 12;
/** Write to a pipe with no reader (asm/signal.h). */
export const SIGPIPE = 13;
/** Timer signal from alarm(2) (asm/signal.h). */
export const SIGALRM = 14;
/** Termination (asm/signal.h). */
export const SIGTERM = 15;
/** Coprocessor stack fault, unused (asm/signal.h). */
export const SIGSTKFLT = 16;
/** Child stopped or terminated (asm/signal.h). */
export const SIGCHLD = 17;
/** Continue if stopped (asm/signal.h). */
export const SIGCONT = 18;
/** Stop, cannot be caught or blocked (asm/signal.h). */
export const SIGSTOP = 19;
/** Stop typed at the terminal (asm/signal.h). */
export const SIGTSTP = 20;
/** Terminal input for a background process (asm/signal.h). */
export const SIGTTIN = 21;
/** Terminal output for a background process (asm/signal.h). */
export const SIGTTOU = 22;
/** Urgent condition on a socket (asm/signal.h). */
export const SIGURG = 23;
/** CPU time limit exceeded (asm/signal.h). */
export const SIGXCPU = 24;
/** File size limit exceeded (asm/signal.h). */
export const SIGXFSZ = 25;
/** Virtual alarm clock (asm/signal.h). */
export const SIGVTALRM = 26;
/** Profiling timer expired (asm/signal.h). */
export const SIGPROF = 27;
/** Window resize (asm/signal.h). */
export const SIGWINCH = 28;
/** I/O now possible (asm/signal.h; SIGPOLL is the same number). */
export const SIGIO = 29;
/** Power failure (asm/signal.h). */
export const SIGPWR = 30;
/** Bad system call (asm/signal.h). */
export const SIGSYS = 31;
/** The first real-time signal as the kernel numbers them (asm/signal.h; glibc and musl keep 32-34 for themselves). */
export const SIGRTMIN = 32;
/** The last real-time signal (asm/signal.h: _NSIG). */
export const SIGRTMAX = 64;
/** The number of signals, and the highest signal number (asm/signal.h). */
export const _NSIG = 64;
/** sizeof(sigset_t) as the kernel takes it (the sigsetsize argument of rt_sig*: _NSIG / 8). */
export const SIGSET_SIZE = 8;

/** Names of the standard signals, by number (1-31). */
const NAMES: readonly string[] = [
  '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1', 'SIGSEGV',
  'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN',
  'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

/** The kernel name of a standard signal (`11` → `'SIGSEGV'`), or undefined outside 1-31. */
export function standardSignalName(sig: number): string | undefined {
  return sig >= 1 && sig < NAMES.length ? NAMES[sig] : undefined;
}

/** A signal's name for messages: `SIGSEGV`, or `signal 40` for a real-time or unknown one. */
export function signalName(sig: number): string {
  return standardSignalName(sig) ?? `signal ${sig}`;
}

/** What a signal does when its disposition is SIG_DFL (signal(7)). */
export type DefaultAction = 'term' | 'core' | 'ign' | 'stop' | 'cont';

/** The default action of signal `sig` (1-64; real-time signals terminate). */
export function defaultAction(sig: number): DefaultAction {
  switch (sig) {
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV:
    case SIGXCPU: case SIGXFSZ: case SIGSYS:
      return 'core';
    case SIGCHLD: case SIGURG: case SIGWINCH:
      return 'ign';
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
      return 'stop';
    case SIGCONT:
      return 'cont';
    default:
      return 'term';
  }
}

/** The bit of signal `sig` in a sigset_t. */
export const sigmaskBit = (sig: number): bigint => 1n << BigInt(sig - 1);

/** Default handler (asm-generic/signal-defs.h: SIG_DFL). */
export const SIG_DFL = 0;
/** Ignore the signal (asm-generic/signal-defs.h: SIG_IGN). */
export const SIG_IGN = 1;

/** rt_sigprocmask how (asm-generic/signal-defs.h). */
export const SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;

/** sa_flags of struct sigaction (asm/signal.h, x86-64 values). */
export const SA_NOCLDSTOP = 0x00000001, SA_NOCLDWAIT = 0x00000002, SA_SIGINFO = 0x00000004,
  SA_UNSUPPORTED = 0x00000400, SA_EXPOSE_TAGBITS = 0x00000800, SA_RESTORER = 0x04000000, SA_ONSTACK = 0x08000000,
  SA_RESTART = 0x10000000, SA_NODEFER = 0x40000000, SA_RESETHAND = 0x80000000;

/** ss_flags of stack_t (asm-generic/signal-defs.h, linux/signal.h: SS_AUTODISARM). */
export const SS_ONSTACK = 1, SS_DISABLE = 2, SS_AUTODISARM = 0x80000000;
/** The smallest alternate signal stack the kernel accepts (asm/signal.h), and the usual size. */
export const MINSIGSTKSZ = 2048, SIGSTKSZ = 8192;

/** sigev_notify of struct sigevent (asm-generic/siginfo.h). */
export const SIGEV_SIGNAL = 0, SIGEV_NONE = 1, SIGEV_THREAD = 2, SIGEV_THREAD_ID = 4;
