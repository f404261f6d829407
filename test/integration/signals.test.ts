/**
 * Linux signals in the guest (issue 10): handlers, siginfo and the signal frame, faults
 * turned into signals, timers, interrupted and restarted calls, masks, sigtimedwait,
 * signalfd, FPU state across handlers, default actions, and signals sent to torov from
 * outside reaching the program (C with musl and glibc, Go's os/signal). Every case runs the
 * same static binary natively and under torov and compares stdout and the exit status (a
 * death by signal N counts as 128+N); the native run must give the expected status too.
 * Most runs use --no-sandbox (the sandbox is not the point); a few use it. Forged signal
 * frames and bad altstacks (test/guests/sigbad) run only under torov.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { guest, TOROV, testRunOptions, spawn, spawnSync } from '../helpers';

/** torov's default guest environment (PATH, HOME, TERM), given to native runs too. */
const ENV: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/', TERM: 'xterm' };
/** A hung guest ends as torov's --timeout (status 124), not as a hung test. */
const LIMIT = '20s';

interface Out { status: number | null; stdout: string; stderr: string }
interface RunOpts { sandbox?: boolean; env?: Record<string, string>; extra?: string[] }

/** The exit status, a death by signal N as 128+N (what torov reports for its guest). */
function statusOf(code: number | null, signal: NodeJS.Signals | null): number | null {
  return signal ? 128 + os.constants.signals[signal] : code;
}

function torovArgv(file: string, args: readonly string[], o: RunOpts = {}): string[] {
  const env = Object.entries(o.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  return [TOROV, 'run', ...(o.sandbox ? testRunOptions() : ['--no-sandbox']), '--timeout', LIMIT,
    ...env, ...(o.extra ?? []), file, ...args];
}

function run(argv: readonly string[], env: Record<string, string>): Out {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', input: '', env, timeout: 120_000, maxBuffer: 16 << 20 });
  return { status: statusOf(r.status, r.signal), stdout: r.stdout, stderr: r.stderr };
}

const runNative = (name: string, args: readonly string[], o: RunOpts = {}) => run([guest(name), ...args], { ...ENV, ...o.env });
const runTorov = (name: string, args: readonly string[], o: RunOpts = {}) => run(torovArgv(guest(name), args, o), process.env as Record<string, string>);

/**
 * Runs `name args` natively (which must exit with `status`) and under torov; stdout and
 * status must be the same. Returns the torov run.
 */
function same(name: string, args: readonly string[], status = 0, o: RunOpts = {}): Out {
  const n = runNative(name, args, o);
  assert.equal(n.status, status, `natively, ${name} ${args.join(' ')}: ${n.stderr}`);
  const v = runTorov(name, args, o);
  assert.deepEqual({ status: v.status, stdout: v.stdout }, { status: n.status, stdout: n.stdout },
    `${name} ${args.join(' ')} under torov${o.sandbox ? ' (sandbox)' : ''}; its stderr:\n${v.stderr}`);
  return v;
}

/** No sign on stderr that the VMM itself broke (a JavaScript stack trace, an internal error). */
function vmmWell(r: Out, what: string): void {
  assert.notEqual(r.status, 125, `${what}: torov failed itself: ${r.stderr}`);
  assert.notEqual(r.status, 124, `${what}: hung until --timeout: ${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+\(.+:\d+:\d+\)$/m, `${what}: a stack trace from the VMM`);
  assert.doesNotMatch(r.stderr, /internal error|TypeError|RangeError|ReferenceError/, `${what}: ${r.stderr}`);
}

const LIBCS = ['sig', 'sig_glibc'];

// ---------------------------------------------------------------------------------------
// test/guests/sig.c, built with musl (sig) and glibc (sig_glibc).

const CASES: { args: string[]; status?: number; what: string }[] = [
  { args: ['raise'], what: 'a handler runs for raise, kill, tgkill, tkill and sigqueue, with the signal blocked inside' },
  { args: ['siginfo'], what: 'SA_SIGINFO fields (SI_USER, SI_TKILL, SI_QUEUE, si_pid) and the rt_sigframe layout' },
  { args: ['segv'], what: 'SIGSEGV recovered with siglongjmp: si_addr, SEGV_MAPERR/SEGV_ACCERR, RIP, trapno, err; a retried store' },
  { args: ['fpe'], what: 'SIGFPE FPE_INTDIV from a division by zero, the handler skips the div' },
  { args: ['ill'], what: 'SIGILL from ud2, SIGTRAP from int3, the handler moves RIP on' },
  { args: ['altstack'], what: 'a stack overflow caught on a sigaltstack (SA_ONSTACK), in main and in a thread' },
  { args: ['itimer'], what: 'setitimer(ITIMER_REAL) ticks counted with pause, getitimer, alarm' },
  { args: ['itimer-spin'], what: 'ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF reach a loop without syscalls' },
  { args: ['itimer-io'], what: 'a 1 ms timer without SA_RESTART never fails a write or read of a pipe with room (EINTR)' },
  { args: ['eintr'], what: 'alarm interrupts a blocked read on a pipe: EINTR' },
  { args: ['interrupt'], what: 'SA_RESTART restarts read, accept and a futex wait; nanosleep, poll, epoll_wait give EINTR' },
  { args: ['restart-thread'], what: 'a read restarted under SA_RESTART completes when another thread writes' },
  { args: ['sigtimedwait'], what: 'sigtimedwait/sigwaitinfo on a blocked signal, its timeout (EAGAIN), queued RT signals' },
  { args: ['mask'], what: 'sigprocmask: pending while blocked, rt_sigpending, delivered at unblock, RT signals queue' },
  { args: ['suspend'], what: 'sigsuspend and pause' },
  { args: ['resethand'], status: 138, what: 'SA_RESETHAND: the handler once, then the default action (138)' },
  { args: ['nodefer'], what: 'SA_NODEFER nests the handler; without it, and for sa_mask, the signal waits' },
  { args: ['signalfd'], what: 'signalfd reads a blocked signal' },
  { args: ['timer'], what: 'timer_create with SIGEV_SIGNAL, SIGEV_THREAD_ID and SIGEV_NONE' },
  { args: ['fpu'], what: 'xmm, MXCSR, x87 (and ymm) survive a handler that clobbers them' },
  { args: ['threads'], what: 'signals and threads: pthread_kill, process signals, masks per thread, a spinning thread' },
  { args: ['errors'], what: 'bad arguments to the signal, futex and timer calls give Linux\'s errors' },
  { args: ['default', 'ignored'], what: 'ignored and blocked signals do not end the program' },
  { args: ['default', 'abort'], status: 134, what: 'abort() ends it with 134' },
  { args: ['default', 'term'], status: 143, what: 'raise(SIGTERM) without a handler ends it with 143' },
  { args: ['default', 'kill'], status: 137, what: 'SIGKILL to itself: 137' },
  { args: ['default', 'segv-blocked'], status: 139, what: 'a fault with SIGSEGV blocked kills (139), its handler notwithstanding' },
  { args: ['default', 'segv-ignored'], status: 139, what: 'a fault with SIGSEGV ignored kills (139)' },
  { args: ['default', 'thread-segv'], status: 139, what: 'a fault in a thread without a handler kills the whole process (139)' },
];

for (const c of CASES) {
  test(`signals ${c.args.join(' ')}: ${c.what} (musl and glibc)`, () => {
    for (const g of LIBCS) same(g, c.args, c.status ?? 0);
  });
}

test('signals in the sandbox: handlers, a recovered SIGSEGV, timers, a thread\'s fault (musl and glibc)', () => {
  for (const g of LIBCS) {
    same(g, ['raise'], 0, { sandbox: true });
    same(g, ['segv'], 0, { sandbox: true });
    same(g, ['timer'], 0, { sandbox: true });
    same(g, ['default', 'thread-segv'], 139, { sandbox: true });
  }
});

// ---------------------------------------------------------------------------------------
// Signals sent from outside: to the native program, and to the torov process.

/** A started program; its stdout and stderr are collected as they come. */
class Proc {
  readonly child;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(argv: readonly string[], env: Record<string, string>) {
    // A process group of its own, so that kill() ends torov's sandbox processes too.
    this.child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => { this.stdout += d; });
    this.child.stderr.on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.child.on('close', (code, sig) => resolve(statusOf(code, sig))));
  }
  /** Resolves when `re` matches stdout; rejects at exit or after `ms`. */
  async waitFor(re: RegExp, ms = 30_000): Promise<void> {
    const end = Date.now() + ms;
    let done = false;
    void this.exited.then(() => { done = true; });
    for (;;) {
      if (re.test(this.stdout)) return;
      if (done) throw new Error(`exited before ${re} appeared; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      if (Date.now() > end) throw new Error(`${re} did not appear within ${ms} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  async status(ms = 30_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no exit within ${ms} ms; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`)), ms); });
    try { return await Promise.race([this.exited, t]); } finally { clearTimeout(timer); }
  }
  /** Whether every process of its group has ended, waiting up to `ms`. */
  async groupGone(ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    for (;;) {
      try { process.kill(-this.child.pid!, 0); } catch { return true; }
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  /** Kills whatever of its process group is left. */
  kill(): void {
    try { process.kill(-this.child.pid!, 'SIGKILL'); } catch { /* all gone */ }
  }
}

/**
 * One step: a signal to send, and what to wait for on stdout after it (nothing: the program
 * may ignore it, so the next step comes after a pause).
 */
interface Step { send: NodeJS.Signals; then?: RegExp }

/**
 * Starts the program (natively, then under torov), waits for `ready` on stdout, sends the
 * steps' signals from outside (to the program, or to the torov process), then waits for
 * the exit, and for nothing of the run (torov's sandbox processes) to be left. Returns both
 * outcomes.
 */
async function signalled(name: string, args: readonly string[], ready: RegExp, steps: Step[], o: RunOpts = {}) {
  const results: { status: number | null; stdout: string }[] = [];
  for (const argv of [[guest(name), ...args], torovArgv(guest(name), args, o)]) {
    const p = new Proc(argv, argv[0] === process.execPath ? process.env as Record<string, string> : { ...ENV, ...o.env });
    try {
      await p.waitFor(ready);
      for (const s of steps) {
        p.child.kill(s.send);
        if (s.then) await p.waitFor(s.then, 10_000);
        else await new Promise((r) => setTimeout(r, 300));
      }
      results.push({ status: await p.status(10_000), stdout: p.stdout });
      // "Nothing is left running on the host either way" (issue 10): torov's sandbox too.
      assert.ok(await p.groupGone(3000), 'processes of the run are still there after its exit');
    } catch (e) {
      throw new Error(`${argv[0] === process.execPath ? 'under torov' : 'natively'}: ${(e as Error).message}`);
    } finally { p.kill(); }
  }
  return { native: results[0]!, vm: results[1]! };
}

const READY = /^ready$/m;

test('SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGSTOP + SIGCONT then SIGTERM sent to torov run the program\'s handlers; it exits 0', async () => {
  for (const g of LIBCS) {
    const { native, vm } = await signalled(g, ['wait', 'handler'], READY, [
      { send: 'SIGHUP', then: /^got SIGHUP$/m }, { send: 'SIGUSR1', then: /^got SIGUSR1$/m },
      { send: 'SIGUSR2', then: /^got SIGUSR2$/m }, { send: 'SIGWINCH', then: /^got SIGWINCH$/m },
      { send: 'SIGSTOP' }, { send: 'SIGCONT', then: /^got SIGCONT$/m }, { send: 'SIGTERM' }]);
    assert.deepEqual(native, { status: 0, stdout: 'ready\ngot SIGHUP\ngot SIGUSR1\ngot SIGUSR2\ngot SIGWINCH\ngot SIGCONT\ngot SIGTERM, exiting 0\n' });
    assert.deepEqual(vm, native, g);
  }
});

test('SIGINT and SIGTERM sent to torov with its sandbox reach the program\'s handlers, and SIGCONT after a stop', async () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const { native, vm } = await signalled('sig', ['wait', 'handler'], READY, [{ send: sig }], { sandbox: true });
    assert.deepEqual(native, { status: 0, stdout: `ready\ngot ${sig}, exiting 0\n` });
    assert.deepEqual(vm, native, sig);
  }
  // Ctrl-Z then fg: the launcher stops (SIGSTOP), and SIGCONT reaches the program's handler.
  const { native, vm } = await signalled('sig', ['wait', 'handler'], READY, [{ send: 'SIGSTOP' }, { send: 'SIGCONT', then: /^got SIGCONT$/m }, { send: 'SIGTERM' }], { sandbox: true });
  assert.deepEqual(native, { status: 0, stdout: 'ready\ngot SIGCONT\ngot SIGTERM, exiting 0\n' });
  assert.deepEqual(vm, native);
});

test('SIGTERM sent to torov reaches a program spinning without system calls', async () => {
  const { native, vm } = await signalled('sig', ['wait', 'spin'], READY, [{ send: 'SIGTERM' }]);
  assert.equal(native.status, 0);
  assert.deepEqual(vm, native);
});

test('SIGINT and SIGTERM sent to torov end a program without handlers with 130 and 143', async () => {
  for (const [sig, status, o] of [['SIGINT', 130, {}], ['SIGTERM', 143, {}], ['SIGTERM', 143, { sandbox: true }]] as const) {
    for (const g of LIBCS) {
      const { native, vm } = await signalled(g, ['wait', 'nohandler'], READY, [{ send: sig }], o);
      assert.deepEqual(native, { status, stdout: 'ready\n' });
      assert.deepEqual(vm, native, `${g} ${sig}`);
    }
  }
});

test('a SIGINT the program ignores does not end it; its SIGTERM handler then does', async () => {
  const { native, vm } = await signalled('sig', ['wait', 'ignore'], READY, [{ send: 'SIGINT' }, { send: 'SIGTERM' }]);
  assert.deepEqual(native, { status: 0, stdout: 'ready\ngot SIGTERM, exiting 0\n' });
  assert.deepEqual(vm, native);
});

test('Go: os/signal catches SIGTERM and SIGINT sent to torov (with and without the sandbox)', async () => {
  for (const [sig, o] of [['SIGTERM', {}], ['SIGTERM', { sandbox: true }], ['SIGINT', {}]] as const) {
    const { native, vm } = await signalled('gothreads', ['sigterm'], READY, [{ send: sig }], o);
    assert.deepEqual(native, { status: 0, stdout: `ready\ngot ${sig === 'SIGTERM' ? 'terminated' : 'interrupt'}\n` });
    assert.deepEqual(vm, native, `${sig} ${JSON.stringify(o)}`);
  }
});

// ---------------------------------------------------------------------------------------
// Forged signal frames and bad altstacks: torov only (test/guests/sigbad is hostile).

const BAD: { mode: string; ok: (r: Out) => boolean; want: string }[] = [
  ...['sigreturn-garbage', 'sigreturn-zero', 'sigreturn-unmapped', 'sigreturn-kernel-rip', 'sigreturn-noncanonical-rip',
    'sigreturn-bad-fpstate', 'sigreturn-kernel-fpstate', 'sigreturn-thread', 'altstack-unmapped', 'altstack-readonly',
    'altstack-kernel', 'altstack-wrap', 'stack-unmapped-signal'].map((mode) => ({ mode, ok: (r: Out) => r.status === 139, want: 'SIGSEGV (139)' })),
  {
    mode: 'sigreturn-rflags', want: 'exit 0 with IOPL, NT, VM, VIF, VIP and ID cleared, in ring 3',
    ok: (r) => r.status === 0 && /^rflags: IOPL 0 NT 0 VM 0 VIF 0 VIP 0 ID 0$/m.test(r.stdout) && /^CPL 3$/m.test(r.stdout),
  },
  {
    mode: 'sigreturn-kernel-cs', want: 'SIGSEGV (139), or going on in ring 3 (exit 0, CPL 3)',
    ok: (r) => r.status === 139 || (r.status === 0 && /^CPL 3$/m.test(r.stdout) && !/^CPL 0$/m.test(r.stdout)),
  },
];

test('forged rt_sigreturn frames and bad altstacks end the program with SIGSEGV, never the VMM; rflags and CS are filtered', () => {
  const failures: string[] = [];
  for (const c of BAD) {
    const r = run(torovArgv(guest('sigbad'), [c.mode], { sandbox: true }), process.env as Record<string, string>);
    try {
      vmmWell(r, c.mode);
      assert.ok(r.stdout.startsWith(`sigbad: ${c.mode}\n`), `${c.mode}: ${r.stdout}`);
      assert.ok(c.ok(r), `${c.mode}: want ${c.want}, got status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    } catch (e) { failures.push((e as Error).message); }
  }
  assert.deepEqual(failures, []);
});
