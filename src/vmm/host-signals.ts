/**
 * Signals sent to the VMM process from the host (by the launcher, bin/torov, which
 * forwards what is sent to it; by the terminal; by the --timeout timer), handed to the
 * run loop.
 *
 * The run loop runs the guest synchronously on Node's main thread, so Node's own signal
 * callbacks (process.on) never run during a run; and when the VMM is PID 1 of its own PID
 * namespace, the kernel drops every signal for which it has no handler. So a handler is
 * installed for each signal of interest: a few bytes of machine code (below), installed
 * with glibc's sigaction (which supplies the restorer), that only counts the signal in a
 * page of memory. The run loop calls takeHostSignal() at each VM exit and each poll of
 * the syscall channel: one read of that page when nothing came.
 *
 * Interruption: the handlers are installed without SA_RESTART for signals whose default
 * action ends a process, so a host call the VMM is blocked in (a read from a terminal,
 * an accept) returns EINTR and the run loop sees the signal at once. A signal the kernel
 * delivered to another of Node's threads is passed on to the main thread by the handler
 * (tgkill; the handler does not count that second delivery, being sent by the process
 * itself). Signals whose default action is to ignore them (SIGWINCH) get SA_RESTART.
 *
 * Signals the VMM sends itself with tgkill(2) to interrupt one of its threads (the
 * syscall channel's and the gdb stub's kicks, SIGUSR2) are not counted either.
 *
 * onHostSignal() hands the signal to the program (src/vmm/scheduler.ts): its handler runs,
 * or its default action applies (128+N for one that ends a process).
 */
import { GuestExit } from '../syscalls/api';
import { sys, addressOf, viewOf, sigaction, NR } from '../host/libc';
import { PROT_READ, PROT_WRITE, PROT_EXEC, MAP_PRIVATE, MAP_ANONYMOUS } from '../linux/mman';

/** Signal numbers (asm-generic/signal.h). */
export const SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGUSR1 = 10, SIGUSR2 = 12, SIGTERM = 15, SIGCONT = 18, SIGWINCH = 28;

/**
 * The host signals a run forwards to the program (what bin/torov forwards). SIGCONT too:
 * after a stop of torov (Ctrl-Z, then `fg`), the program's SIGCONT handler runs, as it
 * would natively (a terminal program redraws there).
 */
export const FORWARDED_SIGNALS: readonly number[] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGCONT, SIGWINCH];

/**
 * The signal of the --timeout timer (a real-time signal no part of Node or libc uses),
 * directed at the main thread.
 */
export const TIMEOUT_SIGNAL = 40;

/** Signals whose default action is to ignore them (signal(7)): no EINTR for them. */
const IGNORED_BY_DEFAULT = new Set([17 /* SIGCHLD */, 18 /* SIGCONT */, 23 /* SIGURG */, SIGWINCH]);


/**
 * The data page, in 32-bit words: the total count, the VMM's pid, the kick timer's id, the
 * mask of signals that arm the kick timer (bits 0-63, words 4-5; all of those installed), the kick timer's itimerspec
 * (bytes 32-63), then one counter per signal (words 64-128).
 */
const TOTAL = 0, OWN_PID = 1, KICK_TIMER = 2, ENDS_RUN = 4, KICK_SPEC = 8, COUNTS = 64;

/**
 * The handler, void handler(int sig, siginfo_t *si, void *uc) (x86-64 SysV ABI). PAGE is
 * the data page's address; siginfo_t: si_code at 8, si_pid at 16.
 *
 *     mov    edi, edi                     ; the signal number, zero-extended
 *     mov    eax, [rsi+8]                 ; si_code
 *     cmp    eax, -6                      ; SI_TKILL: sent with tkill/tgkill...
 *     jne    1f
 *     movabs rcx, PAGE
 *     mov    eax, [rsi+16]                ; ...by this process itself: a kick, not a host signal
 *     cmp    eax, [rcx+4]
 *     je     3f
 * 1:  movabs rcx, PAGE
 *     lock inc dword [rcx+rdi*4+256]      ; this signal's counter
 *     lock inc dword [rcx]                ; the total, which the run loop reads first
 *     mov    r8d, edi
 *     bt     dword [rcx+16], edi          ; one that arms the kick timer?
 *     jnc    2f
 *     mov    edi, [rcx+8]                 ; timer_settime(kick timer, 0, &spec, NULL):
 *     xor    esi, esi                     ; kick the main thread every few ms until
 *     lea    rdx, [rcx+32]                ; the run loop has taken the signal
 *     xor    r10d, r10d
 *     mov    eax, 223
 *     syscall
 * 2:  mov    eax, 186                     ; gettid()
 *     syscall
 *     movabs rcx, PAGE                    ; (syscall clobbers rcx and r11)
 *     cmp    eax, [rcx+4]                 ; on the main thread (tid == pid)?
 *     je     3f
 *     mov    edx, r8d                     ; else interrupt the main thread's host call now:
 *     mov    esi, [rcx+4]                 ; tgkill(pid, pid, sig)
 *     mov    edi, esi
 *     mov    eax, 234
 *     syscall
 * 3:  ret
 *
 * Why the kick timer: a signal that comes while the main thread runs JavaScript, after the
 * run loop looked and before it enters a blocking host call (a read, an accept), would
 * otherwise wait for that call to return. The timer (SIGEV_THREAD_ID, KICK_SIGNAL, whose
 * handler is the final `ret`) interrupts whatever call the main thread is in, until
 * takeHostSignal() disarms it.
 *
 * Only caller-saved registers are used, and raw syscalls leave errno alone.
 */
const HANDLER_CODE = [
  0x89, 0xff, 0x8b, 0x46, 0x08, 0x83, 0xf8, 0xfa, 0x75, 0x12, 0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0x8b, 0x46, 0x10,
  0x3b, 0x41, 0x04, 0x74, 0x56, 0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0xff, 0x84, 0xb9, 0x00, 0x01, 0x00, 0x00,
  0xf0, 0xff, 0x01, 0x41, 0x89, 0xf8, 0x0f, 0xa3, 0x79, 0x10, 0x73, 0x13, 0x8b, 0x79, 0x08, 0x31, 0xf6, 0x48, 0x8d,
  0x51, 0x20, 0x45, 0x31, 0xd2, 0xb8, 0xdf, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xb8, 0xba, 0x00, 0x00, 0x00, 0x0f, 0x05,
  0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0x3b, 0x41, 0x04, 0x74, 0x0f, 0x44, 0x89, 0xc2, 0x8b, 0x71, 0x04, 0x89, 0xf7,
  0xb8, 0xea, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3,
];
/** Offsets of the three 8-byte PAGE immediates in HANDLER_CODE, and of its final `ret` (the kick's handler). */
const PAGE_IMMEDIATES = [12, 30, 86], RET = HANDLER_CODE.length - 1;

/** The kick timer's signal (a real-time signal no part of Node or libc uses). */
export const KICK_SIGNAL = 41;
/** The kick timer's period (ns): the longest a taken signal waits for a blocking call to end. */
const KICK_NS = 5_000_000;

const SA_SIGINFO = 4, SA_RESTART = 0x10000000;
const SYS_timer_create = 222, SYS_timer_settime = 223, SYS_gettid = 186, CLOCK_MONOTONIC = 1, SIGEV_THREAD_ID = 4;

let page: Int32Array | undefined;
let seenTotal = 0;
const seen = new Int32Array(65);
const installed = new Set<number>();
let timeoutReason = 'torov: timeout';

/** Maps one page; throws on failure. */
function mapPage(): number {
  const addr = sys(NR.mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (addr < 0) throw new Error(`host signals: mmap failed (errno ${-addr})`);
  return addr;
}

/**
 * Installs the counting handler for `signals` (and for TIMEOUT_SIGNAL). Called once at VMM
 * start, before the seccomp filter (it maps pages and makes one executable). The launcher
 * forwards signals only once the VMM says it is ready, after this.
 */
export function installHostSignals(signals: readonly number[]): void {
  if (page !== undefined) return;
  const data = mapPage();
  const code = mapPage();
  const words = new Int32Array(viewOf(data, 4096));
  words[OWN_PID] = process.pid;
  // The kick timer: created now (the seccomp filter allows arming it, not creating it).
  const ev = Buffer.alloc(64);                   // struct sigevent: value, signo, notify, tid
  ev.writeInt32LE(KICK_SIGNAL, 8);
  ev.writeInt32LE(SIGEV_THREAD_ID, 12);
  ev.writeInt32LE(sys(SYS_gettid), 16);
  const id = Buffer.alloc(4);
  const t = sys(SYS_timer_create, CLOCK_MONOTONIC, addressOf(ev), addressOf(id));
  if (t < 0) throw new Error(`host signals: timer_create failed (errno ${-t})`);
  words[KICK_TIMER] = id.readInt32LE(0);
  const spec = new BigInt64Array(words.buffer, KICK_SPEC * 4, 4);   // it_interval, it_value
  spec[1] = BigInt(KICK_NS); spec[3] = 1_000_000n;
  const bytes = Buffer.from(HANDLER_CODE);
  for (const at of PAGE_IMMEDIATES) bytes.writeBigUInt64LE(BigInt(data), at);
  new Uint8Array(viewOf(code, 4096)).set(bytes);
  const r = sys(NR.mprotect, code, 4096, PROT_READ | PROT_EXEC);
  if (r < 0) throw new Error(`host signals: mprotect failed (errno ${-r})`);
  page = words;
  const act = Buffer.alloc(152);                 // glibc's struct sigaction: handler, sa_mask[128], sa_flags, restorer
  const install = (sig: number, handler: number, flags: number) => {
    act.writeBigUInt64LE(BigInt(handler), 0);
    act.writeInt32LE(flags, 136);
    const e = sigaction(sig, act);
    if (e < 0) throw new Error(`host signals: sigaction(${sig}) failed (errno ${-e})`);
    installed.add(sig);
  };
  for (const sig of [...signals, TIMEOUT_SIGNAL]) {
    // Every one kicks the main thread until the run loop takes it: even a signal ignored by
    // default may have a handler in the program (SIGWINCH in a terminal program), which
    // must not wait for the main thread's blocking call to end. Those are restarted by the
    // kernel (SA_RESTART): only the kick interrupts the call.
    const endsRun = !IGNORED_BY_DEFAULT.has(sig);
    words[ENDS_RUN + (sig >> 5)]! |= 1 << (sig & 31);
    install(sig, code, SA_SIGINFO | (endsRun ? 0 : SA_RESTART));
  }
  install(KICK_SIGNAL, code + RET, 0);
}

/**
 * A host signal that came since the last call (one per call, in signal-number order), or 0.
 * Cheap enough for every VM exit: one read of the counter page when nothing came.
 */
export function takeHostSignal(): number {
  const p = page;
  if (p === undefined || p[TOTAL] === seenTotal) return 0;
  for (let sig = 1; sig <= 64; sig++) {
    if (p[COUNTS + sig] !== seen[sig]) {
      seen[sig] = (seen[sig]! + 1) | 0;
      seenTotal = (seenTotal + 1) | 0;
      // Taken: no more kicks (the run loop acts on it now).
      if (p[ENDS_RUN + (sig >> 5)]! & (1 << (sig & 31))) sys(SYS_timer_settime, p[KICK_TIMER]!, 0, disarm(), 0);
      return sig;
    }
  }
  return 0;
}

let disarmSpec: Buffer | undefined;
/** A zero itimerspec (its address), to disarm the kick timer. */
function disarm(): number {
  disarmSpec ??= Buffer.alloc(32);
  return addressOf(disarmSpec);
}

/**
 * Stops the run after `ms` milliseconds: a POSIX timer on CLOCK_MONOTONIC sends
 * TIMEOUT_SIGNAL to the main thread, and onHostSignal() stops the program with status 124
 * and `reason`. Call after installHostSignals().
 */
export function armTimeout(ms: number, reason: string): void {
  timeoutReason = reason;
  const tid = sys(SYS_gettid);
  const ev = Buffer.alloc(64);                   // struct sigevent: value, signo, notify, tid
  ev.writeInt32LE(TIMEOUT_SIGNAL, 8);
  ev.writeInt32LE(SIGEV_THREAD_ID, 12);
  ev.writeInt32LE(tid, 16);
  const id = Buffer.alloc(4);
  let r = sys(SYS_timer_create, CLOCK_MONOTONIC, addressOf(ev), addressOf(id));
  if (r < 0) throw new Error(`--timeout: timer_create failed (errno ${-r})`);
  const spec = Buffer.alloc(32);                 // struct itimerspec: interval, value
  spec.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 16);
  spec.writeBigInt64LE(BigInt((ms % 1000) * 1_000_000), 24);
  r = sys(SYS_timer_settime, id.readInt32LE(0), 0, addressOf(spec), 0);
  if (r < 0) throw new Error(`--timeout: timer_settime failed (errno ${-r})`);
}

/** What the run loop needs of the machine: to stop it, and to give the program a signal (src/vmm/machine.ts). */
export interface Stoppable {
  readonly stop: { requested: boolean; status: number; reason: string | undefined };
  requestStop(status: number, reason?: string): void;
  /** Sends the program signal `sig` from outside: its handler runs, or its default action applies (ending it with 128+N). */
  hostSignal(sig: number): void;
}

/**
 * Applies a host signal the run loop took: the --timeout timer stops the run with 124;
 * any other goes to the program as docker run proxies signals: to its handler, or its
 * default action (a signal that ends a process ends it with 128+N, without a message, as
 * when a native program is killed; one ignored by default changes nothing).
 */
export function onHostSignal(m: Stoppable, sig: number): void {
  if (m.stop.requested) return;                 // the first reason to stop wins
  if (sig === TIMEOUT_SIGNAL) { m.requestStop(124, timeoutReason); return; }
  m.hostSignal(sig);
}

/**
 * For host calls that wait outside the run loop (the gdb stub waiting for its debugger): on
 * EINTR, a host signal that ends the run ends it here too (throws GuestExit).
 */
export function endRunOnHostSignal(): void {
  const sig = takeHostSignal();
  if (sig === 0 || (sig !== TIMEOUT_SIGNAL && IGNORED_BY_DEFAULT.has(sig))) return;
  throw new GuestExit(sig === TIMEOUT_SIGNAL ? 124 : 128 + sig, sig === TIMEOUT_SIGNAL ? timeoutReason : undefined);
}

/** True once installHostSignals() installed a handler for `sig` (for tests and --verbose). */
export function hostSignalInstalled(sig: number): boolean {
  return installed.has(sig);
}

/**
 * A reusable --timeout timer for many runs in one process (torov serve: one per request).
 * Made once, before the sandbox's seccomp filter (which allows timer_settime, not
 * timer_create); arm() before a run, disarm() after it, which also drops a timeout signal
 * that came too late for the run it was armed for.
 */
export interface RunTimer { arm(ms: number, reason: string): void; disarm(): void }

export function createRunTimer(): RunTimer {
  const ev = Buffer.alloc(64);                   // struct sigevent: value, signo, notify, tid
  ev.writeInt32LE(TIMEOUT_SIGNAL, 8);
  ev.writeInt32LE(SIGEV_THREAD_ID, 12);
  ev.writeInt32LE(sys(SYS_gettid), 16);
  const idBuf = Buffer.alloc(4);
  const r = sys(SYS_timer_create, CLOCK_MONOTONIC, addressOf(ev), addressOf(idBuf));
  if (r < 0) throw new Error(`timer_create failed (errno ${-r})`);
  const id = idBuf.readInt32LE(0);
  const spec = Buffer.alloc(32);
  return {
    arm(ms: number, reason: string): void {
      timeoutReason = reason;
      spec.fill(0);
      spec.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 16);
      spec.writeBigInt64LE(BigInt(Math.round((ms % 1000) * 1_000_000)), 24);
      sys(SYS_timer_settime, id, 0, addressOf(spec), 0);
    },
    disarm(): void {
      spec.fill(0);
      sys(SYS_timer_settime, id, 0, addressOf(spec), 0);
      while (takeHostSignal() !== 0) { /* a late timeout belongs to the run that ended */ }
    },
  };
}
