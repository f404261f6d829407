/**
 * torov's GDB remote stub: `torov run --gdb [HOST:]PORT PROGRAM` (or a ToroV configuration
 * with Debug.Allowed) stops the program before its first instruction and waits for gdb.
 *
 *   packet.ts    framing, checksums, escaping (pure)
 *   regs.ts      x86-64 register map and target description (pure)
 *   signals.ts   gdb's signal numbers (pure)
 *   socket.ts    the listening socket and the connection (blocking host calls)
 *   server.ts    the protocol: requests -> Target calls, stop replies, resume requests
 *   target.ts    the debugged program: run loop with a debugger (one thread), the
 *                scheduler's DebugHook (threads, all-stop), registers, memory,
 *                breakpoints, steps, watchpoints, signals
 *   interrupt.ts Ctrl-C while the guest runs (a watcher thread kicks KVM_RUN)
 *
 * When no debugger is attached none of this is loaded and the vCPU's run loop is the
 * ordinary one (Vcpu.run() checks once per run whether a debugger is attached).
 */
import type { Machine } from '../vmm/machine';
import { parseListenAddress, formatAddress, Listener } from './socket';
import { InterruptWatcher } from './interrupt';
import { DebugSession } from './target';

export { parseListenAddress, formatAddress };

/** The stub before its VM exists: the listening socket and the Ctrl-C watcher. */
export class GdbStub {
  private watcher: InterruptWatcher | undefined;
  private constructor(private readonly listener: Listener) {}

  /** Listens on `spec` ([HOST:]PORT). Throws Error (bad address, port in use) with a one-line message. */
  static listen(spec: string): GdbStub {
    return new GdbStub(new Listener(parseListenAddress(spec)));
  }

  /** A listening socket inherited from torov's launcher (the sandboxed VMM cannot reach the host's network). */
  static adopt(fd: number): GdbStub {
    return new GdbStub(Listener.adopt(fd));
  }

  get fd(): number { return this.listener.fd; }

  /** What to tell the user. */
  connectHint(program: string): string {
    const where = formatAddress(this.listener.address);
    return `torov: waiting for gdb on ${where}; connect with: gdb ${shellWord(program)} -ex 'target remote ${where}'`;
  }

  /** Starts what the stub needs from the host's files (the Ctrl-C watcher loads koffi), before a jail. */
  prepare(): void {
    this.watcher ??= new InterruptWatcher();
  }

  /** Attaches to machine `m`: its next run() waits for gdb before the program's first instruction. */
  attach(m: Machine, log: (line: string) => void): void {
    this.prepare();
    const trace = process.env['TOROV_GDB_TRACE'] ? log : undefined;
    m.vcpu.debugger = new DebugSession(m, m.vcpu, this.listener, this.watcher, log, trace);
  }

  close(): void { this.listener.close(); }
}

/** A path as one shell word. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
