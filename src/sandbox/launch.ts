/**
 * The VMM's side of the launcher (bin/torov, built from src/launcher/launcher.c).
 *
 * The launcher creates the sandbox's namespaces before Node starts (Node is threaded and
 * cannot enter a user or mount namespace itself), then runs Node once, inside them, with
 * `--launcher=3` before the user's arguments. Fd 3 is one end of a socket pair:
 *  - the launcher's first message says what it created (LauncherSpec, JSON);
 *  - the VMM tells the launcher: "ready" (it handles forwarded signals: see
 *    src/vmm/host-signals.ts), "timeout MS TEXT" (kill me if I am still running MS ms
 *    after torov started, plus a grace period, and say TEXT), "cgroup DIR..." (the run's
 *    cgroups, src/sandbox/cgroup.ts: the launcher reads why the VMM died there and removes
 *    them at the end), "join DIR..." (move me into these cgroups, named in "cgroup" before:
 *    the launcher answers "joined" and an errno per directory, the only message it sends
 *    after the spec), "limits cpu=SECONDS" (the CPU-time limit, to name it should the VMM
 *    be killed for it), "restart ..." (the namespaces do not
 *    fit the run: start me again with these), and a learned policy for the launcher to
 *    write (policy learn);
 *  - when the launcher dies, the socket reads end-of-file (and the parent-death signal
 *    kills the VMM).
 * Nothing of this goes through the environment: an environment variable could be set by
 * anyone up the process tree, and would reach the guest with --env-inherit. (One exception,
 * Node's own: a worker of `serve --workers N` gets its front's IPC channel as fd 5, named
 * by NODE_CHANNEL_FD, which Node takes out of the environment as it starts; the launcher
 * passes it on only with --serve-worker, and removes any other.)
 * `--launcher=none` (or nothing): Node runs torov directly, without namespaces (every
 * command but `run` and `policy learn`, and their --help).
 */
import * as fs from 'node:fs';

/** What the launcher created around this process (its first message on fd 3). */
export interface LauncherSpec {
  /** Mount, IPC and UTS namespaces (and the user, network and PID ones below). */
  readonly namespaces: boolean;
  /** A user namespace... */
  readonly userns: boolean;
  /** ...whose id map is the identity (torov started by root), or root inside = the user outside ("self"). */
  readonly idmap: 'none' | 'identity' | 'self';
  /** A network namespace of its own (only loopback). */
  readonly net: boolean;
  /** A PID namespace of its own (this process is its PID 1). */
  readonly pid: boolean;
  /** The gdb stub's listening socket on the host's network (fd number), or -1. */
  readonly gdbFd: number;
  /** Why the launcher could not listen for gdb (an errno), or 0. */
  readonly gdbErrno: number;
  /** 0, or 1 after a restart. */
  readonly attempt: number;
  /** /dev/kvm's owner, group and mode as the host sees them (-1: no such file), for advice. */
  readonly kvmUid: number;
  readonly kvmGid: number;
  readonly kvmMode: number;
  /** When `torov run` started: the launcher's CLOCK_MONOTONIC in ms (--timeout counts from it). */
  readonly t0: number;
  /** The launcher's pid on the host (it names the run's cgroup, src/sandbox/cgroup.ts). */
  readonly launcherPid: number;
  /** Standard fds closed when torov started (bit n: fd n): the guest finds them closed too. */
  readonly closedStdio: number;
}

/** The control socket's fd in the VMM. */
export const CTL_FD = 3;

/** A malformed hand-off: torov was not started as its launcher starts it. */
export class LauncherError extends Error {
  override name = 'UsageError';
}

let current: LauncherSpec | undefined;

/**
 * Takes torov's own first argument off `argv` (`--launcher=3` or `--launcher=none`, put
 * there by bin/torov) and reads the launcher's spec. Returns the user's arguments.
 */
export function fromLauncher(argv: readonly string[]): string[] {
  const first = argv[0];
  if (first === undefined || !first.startsWith('--launcher=')) return [...argv];
  const v = first.slice('--launcher='.length);
  if (v === 'none') return argv.slice(1);
  if (v !== String(CTL_FD)) throw new LauncherError(`internal: bad launcher argument ${JSON.stringify(first)}`);
  current = readSpec(CTL_FD);
  return argv.slice(1);
}

/** The spec this VMM was started with, or undefined (no launcher, or not `run`). */
export function launcher(): LauncherSpec | undefined {
  return current;
}

/** Reads and checks the launcher's first message. */
export function readSpec(fd: number): LauncherSpec {
  const buf = Buffer.alloc(1024);
  let n: number;
  try { n = fs.readSync(fd, buf, 0, buf.length, null); }
  catch (e) { throw new LauncherError(`internal: cannot read the launcher's socket (${(e as Error).message})`); }
  return parseSpec(buf.subarray(0, n).toString('utf8'));
}

/** Parses a spec strictly: every field, of the right type, and nothing else. */
export function parseSpec(text: string): LauncherSpec {
  const bad = (why: string): never => { throw new LauncherError(`internal: bad message from the launcher (${why})`); };
  let o: unknown;
  try { o = JSON.parse(text); } catch { return bad('not JSON'); }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return bad('not an object');
  const r = o as Record<string, unknown>;
  const bools = ['namespaces', 'userns', 'net', 'pid'] as const, ints = ['gdbFd', 'gdbErrno', 'attempt', 'kvmUid', 'kvmGid', 'kvmMode', 't0', 'launcherPid', 'closedStdio'] as const;
  for (const k of Object.keys(r)) if (k !== 'v' && k !== 'idmap' && !(bools as readonly string[]).includes(k) && !(ints as readonly string[]).includes(k)) bad(`unknown field ${k}`);
  if (r['v'] !== 1) bad('version');
  for (const k of bools) if (typeof r[k] !== 'boolean') bad(k);
  for (const k of ints) if (!Number.isInteger(r[k])) bad(k);
  if (r['idmap'] !== 'none' && r['idmap'] !== 'identity' && r['idmap'] !== 'self') bad('idmap');
  const s = r as unknown as LauncherSpec;
  if (!s.namespaces && (s.userns || s.net || s.pid)) bad('namespaces');
  if (s.userns !== (s.idmap !== 'none')) bad('idmap');
  if (s.pid && process.pid !== 1) bad('not PID 1 of a new PID namespace');
  if (s.t0 < 0 || s.launcherPid < 1) bad('t0 or launcherPid');
  if (s.closedStdio < 0 || s.closedStdio > 7) bad('closedStdio');
  return s;
}

/** Sends one message to the launcher (nothing without one). */
export function tellLauncher(message: string): void {
  if (current === undefined) return;
  try { fs.writeSync(CTL_FD, message); } catch { /* the launcher is gone: its death kills this process */ }
}

/**
 * Waits for the launcher's answer to "join" (src/sandbox/cgroup.ts): '' if there is no
 * launcher, or it closed the socket.
 */
export function readJoined(): string {
  if (current === undefined) return '';
  const buf = Buffer.alloc(256);
  for (;;) {
    try { return buf.subarray(0, fs.readSync(CTL_FD, buf, 0, buf.length, null)).toString('latin1'); }
    catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EINTR') return ''; }
  }
}

/** What the run needs that this VMM was not started with. */
export interface RestartRequest { net: boolean; pid: boolean; gdb?: { family: 4 | 6; address: Buffer; port: number } }

/** Asks the launcher to start the VMM again with other namespaces (it does so once). */
export function requestRestart(r: RestartRequest): void {
  let m = `restart net=${r.net ? 1 : 0} pid=${r.pid ? 1 : 0}`;
  if (r.gdb) m += ` gdb=${r.gdb.family},${r.gdb.address.toString('hex')},${r.gdb.port}`;
  tellLauncher(m);
}

/**
 * Hands a learned policy to the launcher, which writes it (with the user's rights, outside
 * the sandbox) to the file it was asked for on the command line, then prints `summary`.
 */
export function sendLearned(text: string, summary: string): void {
  const data = Buffer.from(text);
  tellLauncher('learn-begin');
  const CHUNK = 32 * 1024;
  for (let off = 0; off < data.length; off += CHUNK) {
    try { fs.writeSync(CTL_FD, Buffer.concat([Buffer.from('learn-data:'), data.subarray(off, off + CHUNK)])); } catch { return; }
  }
  tellLauncher(`learn-end ${summary}`);
}

/**
 * Checks that the launcher is still alive (its socket not hung up): after a change of
 * credentials re-arms the parent-death signal, the launcher may have died in between.
 */
export function launcherAlive(): boolean {
  if (current === undefined) return true;
  const { sys, addressOf } = require('../host/libc') as typeof import('../host/libc');
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(CTL_FD, 0);
  pfd.writeInt16LE(0x2000 /* POLLRDHUP */, 4);
  const r = sys(7 /* poll */, addressOf(pfd), 1, 0);
  return !(r > 0 && (pfd.readInt16LE(6) & (0x2000 | 0x10 /* POLLHUP */ | 0x8 /* POLLERR */)) !== 0);
}
