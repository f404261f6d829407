/**
 * Dropping privileges once the jail is set up: an unprivileged user (when torov runs as
 * root), no capabilities at all, no_new_privs, the policy's resource limits, and
 * SIGXFSZ ignored so that a write past the file-size limit is EFBIG for the guest
 * instead of a signal that kills the VMM.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sys, addressOf, allThreads } from '../host/libc';
import { SYS } from '../linux/syscalls';
import { errnoName } from '../linux/errno';
import { PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG } from '../linux/prctl';
import { RLIMIT_CORE, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_NPROC } from '../linux/resource';
import { SIGKILL, SIGXFSZ, SIG_IGN } from '../linux/signal';
import { KERNEL_SIGACTION, SIGSET } from '../linux/structs';
import { SandboxError } from './jail';

/** The user torov runs guests as when started as root with no writable volume: nobody/nogroup. */
export const DEFAULT_UID = 65534, DEFAULT_GID = 65534;

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

function check(step: string, r: number): number {
  if (r < 0) throw new SandboxError(`${step}: ${errnoName(-r)}`);
  return r;
}

/** Resource limits to apply (absent: unchanged). */
export interface Limits { openFiles?: number; fileSize?: number; cpuSeconds?: number; core?: number; processes?: number }

/**
 * Applies resource limits to the VMM process. The guest never reaches setrlimit on the
 * host (torov answers its prlimit itself), and without capabilities the VMM can only lower
 * them, never above the limits it was started with: a wish above those is capped there.
 */
export function applyLimits(l: Limits): void {
  const set = (res: number, soft: number, what: string, hard = soft) => {
    const b = Buffer.alloc(16);
    check(`rlimit ${what}`, sys(SYS.prlimit64, 0, res, 0, addressOf(b)));
    const max = b.readBigUInt64LE(8);
    const cap = (v: number) => (BigInt(v) > max ? max : BigInt(v));
    b.writeBigUInt64LE(cap(soft), 0);
    b.writeBigUInt64LE(cap(hard), 8);
    check(`rlimit ${what}`, sys(SYS.prlimit64, 0, res, addressOf(b), 0));
  };
  // The VMM itself holds a few dozen fds (Node, KVM); the guest's own table is limited
  // separately, to exactly openFiles (src/syscalls/fdtable.ts).
  if (l.openFiles !== undefined) set(RLIMIT_NOFILE, l.openFiles + 64, 'openFiles');
  if (l.fileSize !== undefined) {
    ignoreSignal(SIGXFSZ);
    set(RLIMIT_FSIZE, l.fileSize, 'fileSize');
  }
  // Soft = hard: at the limit the kernel kills the VMM (SIGKILL), and the launcher, which
  // was told the limit, reports "CPU-time limit reached" (src/launcher/launcher.c).
  if (l.cpuSeconds !== undefined) set(RLIMIT_CPU, l.cpuSeconds, 'cpuSeconds');
  if (l.core !== undefined) set(RLIMIT_CORE, l.core, 'core');
  // Without a pids cgroup (src/sandbox/cgroup.ts): the run's threads. In the VMM's own user
  // namespace this counts the tasks of that namespace only.
  if (l.processes !== undefined) set(RLIMIT_NPROC, l.processes, 'processes');
}

/** rt_sigaction(sig, SIG_IGN): a raw kernel sigaction (handler 1, no restorer needed). */
function ignoreSignal(sig: number): void {
  const act = Buffer.alloc(KERNEL_SIGACTION.SIZE);
  act.writeBigUInt64LE(BigInt(SIG_IGN), KERNEL_SIGACTION.sa_handler);
  check(`ignore signal ${sig}`, sys(SYS.rt_sigaction, sig, addressOf(act), 0, SIGSET.SIZE));
}

/** Who the VMM is on the host's files when torov was started by root, and why. */
export interface RunIdentity { uid: number; gid: number; why: string }

/**
 * The identity of a run started by root: --user when given; else the owner of the first
 * writable place the run exposes (a writable policy root or ToroV MountPoint, then the
 * writable volumes, in order), so that the guest can write there and what it creates
 * belongs to that owner (for a root-owned directory: root, as with `docker run -v`);
 * else nobody. The VMM holds no capability in any case (dropPrivileges).
 */
export function runIdentity(o: { user?: { uid: number; gid: number }; volumes: readonly { host: string; readOnly: boolean }[];
  root?: string; writable?: boolean | readonly string[] }): RunIdentity {
  if (o.user) return { ...o.user, why: '--user' };
  const places: string[] = [];
  if (o.root !== undefined && o.writable === true) places.push(o.root);
  if (o.root !== undefined && Array.isArray(o.writable)) for (const w of o.writable as readonly string[]) places.push(path.join(o.root, w));
  for (const v of o.volumes) if (!v.readOnly) places.push(v.host);
  for (const p of places) {
    try {
      const st = fs.statSync(p);
      return { uid: st.uid, gid: st.gid, why: `the owner of ${p}` };
    } catch { /* the jail reports it */ }
  }
  return { uid: DEFAULT_UID, gid: DEFAULT_GID, why: 'nobody: no writable volume' };
}

/**
 * Takes the run's identity and drops every capability from every set, then sets
 * no_new_privs. `idmap` is the launcher's user namespace (src/sandbox/launch.ts):
 *  - "self" (torov started by a user): root inside is that user outside, the only id
 *    mapped; the VMM keeps it.
 *  - "identity" (started by root): ids mean what they mean on the host, and the VMM
 *    becomes `uid`/`gid`; its capabilities were only ever over its own namespaces.
 *  - "none" (started by root on a host without user namespaces): the VMM is really root
 *    and becomes `uid`/`gid`, which may not be 0 (see below).
 * Leaving root (to a non-zero uid) clears the capabilities of every thread, as glibc's
 * set*id wrappers change all of Node's threads. Staying uid 0 (a root-owned volume) drops
 * them from the thread that runs the guest; Node's other threads (V8's workers, the vCPU
 * thread) keep theirs inside the user namespace, over its own mounts and network and over
 * files of mapped ids, as in the rootless case; the seccomp filter covers every thread.
 */
export function dropPrivileges(opts: { uid?: number; gid?: number; idmap: 'none' | 'identity' | 'self'; alive?: () => boolean }): { uid: number; gid: number } {
  let uid = process.getuid?.() ?? 0, gid = process.getgid?.() ?? 0;
  // The bounding set first, while CAP_SETPCAP is still held (leaving root below clears it,
  // and the drops would then fail with EPERM). It is per thread: this is the main thread's.
  for (let cap = 0; cap < 64; cap++) {
    const r = sys(SYS.prctl, PR_CAPBSET_DROP, cap);
    if (r < 0 && r !== -22 /* EINVAL: no such capability */ && r !== -1 /* EPERM: already without CAP_SETPCAP */) check(`drop capability ${cap}`, r);
  }
  if (opts.idmap !== 'self') {
    const u = opts.uid ?? DEFAULT_UID, g = opts.gid ?? DEFAULT_GID;
    if (opts.idmap === 'none' && u === 0) {
      throw new SandboxError('this host gives no user namespace, and the run would stay root (a root-owned volume, or --user 0): give another owner with --user UID:GID');
    }
    // Credentials are per thread in Linux: Node's threads (V8's platform workers, libuv's
    // pool, the syscall channel's vCPU thread) exist already, and all of them must change.
    // glibc's wrappers do that; the raw syscalls would leave every other thread as it was.
    check('setgroups', allThreads.clearGroups());
    check('setresgid', allThreads.setresgid(g));
    check('setresuid', allThreads.setresuid(u));
    uid = u; gid = g;
  }
  // Then the ambient and the permitted/effective/inheritable sets of this thread.
  sys(SYS.prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  const hdr = Buffer.alloc(8), data = Buffer.alloc(24);
  hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  check('capset', sys(SYS.capset, addressOf(hdr), addressOf(data)));
  check('no_new_privs', sys(SYS.prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  // Changing credentials clears the parent-death signal the launcher set: set it again, so
  // that the VMM dies with its launcher; and if the launcher died in between, end here.
  check('parent-death signal', sys(SYS.prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
  if (opts.alive && !opts.alive()) process.exit(137);
  return { uid, gid };
}

/** The effective capability set (CapEff), for checks and tests. */
export function effectiveCaps(): bigint {
  const hdr = Buffer.alloc(8), data = Buffer.alloc(24);
  hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  check('capget', sys(SYS.capget, addressOf(hdr), addressOf(data)));
  return BigInt(data.readUInt32LE(0)) | (BigInt(data.readUInt32LE(12)) << 32n);
}
