/**
 * Dropping privileges once the jail is set up: an unprivileged user (when torov runs as
 * root), no capabilities at all, no_new_privs, the policy's resource limits, and
 * SIGXFSZ ignored so that a write past the file-size limit is EFBIG for the guest
 * instead of a signal that kills the VMM.
 */
import { sys, addressOf, allThreads } from '../host/libc';
import { SYS } from '../linux/syscalls';
import { errnoName } from '../linux/errno';
import { PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG } from '../linux/prctl';
import { RLIMIT_CORE, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE } from '../linux/resource';
import { SIGKILL, SIGXFSZ, SIG_IGN } from '../linux/signal';
import { KERNEL_SIGACTION, SIGSET } from '../linux/structs';
import { SandboxError } from './jail';

/** The user torov runs guests as when started as root: nobody/nogroup. */
export const DEFAULT_UID = 65534, DEFAULT_GID = 65534;

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

function check(step: string, r: number): number {
  if (r < 0) throw new SandboxError(`${step}: ${errnoName(-r)}`);
  return r;
}

/** Resource limits to apply (absent: unchanged). */
export interface Limits { openFiles?: number; fileSize?: number; cpuSeconds?: number; core?: number }

/** Applies resource limits to the VMM process (soft = hard, so the guest cannot raise them). */
export function applyLimits(l: Limits): void {
  const set = (res: number, v: number, what: string) => {
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(BigInt(v), 0);
    b.writeBigUInt64LE(BigInt(v), 8);
    check(`rlimit ${what}`, sys(SYS.prlimit64, 0, res, addressOf(b), 0));
  };
  // The VMM itself holds a few dozen fds (Node, KVM); the guest's own table is limited separately.
  if (l.openFiles !== undefined) set(RLIMIT_NOFILE, l.openFiles + 64, 'openFiles');
  if (l.fileSize !== undefined) {
    ignoreSignal(SIGXFSZ);
    set(RLIMIT_FSIZE, l.fileSize, 'fileSize');
  }
  if (l.cpuSeconds !== undefined) set(RLIMIT_CPU, l.cpuSeconds, 'cpuSeconds');
  if (l.core !== undefined) set(RLIMIT_CORE, l.core, 'core');
}

/** rt_sigaction(sig, SIG_IGN): a raw kernel sigaction (handler 1, no restorer needed). */
function ignoreSignal(sig: number): void {
  const act = Buffer.alloc(KERNEL_SIGACTION.SIZE);
  act.writeBigUInt64LE(BigInt(SIG_IGN), KERNEL_SIGACTION.sa_handler);
  check(`ignore signal ${sig}`, sys(SYS.rt_sigaction, sig, addressOf(act), 0, SIGSET.SIZE));
}

/**
 * Becomes `uid`/`gid` when the process is really root (no user namespace), then drops
 * every capability from every set, and sets no_new_privs. In a user namespace the process
 * keeps its mapped id (nothing else is mapped) and loses its capabilities the same way.
 */
export function dropPrivileges(opts: { uid?: number; gid?: number; inUserNamespace: boolean }): { uid: number; gid: number } {
  let uid = process.getuid?.() ?? 0, gid = process.getgid?.() ?? 0;
  // The bounding set first, while CAP_SETPCAP is still held (leaving root below clears it,
  // and the drops would then fail with EPERM). It is per thread: this is the main thread's.
  for (let cap = 0; cap < 64; cap++) {
    const r = sys(SYS.prctl, PR_CAPBSET_DROP, cap);
    if (r < 0 && r !== -22 /* EINVAL: no such capability */ && r !== -1 /* EPERM: already without CAP_SETPCAP */) check(`drop capability ${cap}`, r);
  }
  if (!opts.inUserNamespace && uid === 0) {
    const u = opts.uid ?? DEFAULT_UID, g = opts.gid ?? DEFAULT_GID;
    // Credentials are per thread in Linux: Node's threads (V8's platform workers, libuv's
    // pool, the syscall channel's vCPU thread) exist already, and all of them must change.
    // glibc's wrappers do that; the raw syscalls would leave every other thread root, with
    // its capabilities (leaving root clears the capabilities of each thread that changes).
    check('setgroups', allThreads.clearGroups());
    check('setresgid', allThreads.setresgid(g));
    check('setresuid', allThreads.setresuid(u));
    uid = u; gid = g;
  }
  // Then the ambient and the permitted/effective/inheritable sets. In a user namespace
  // (rootless) only this thread loses them: capset is per thread and uid 0 is the only id
  // mapped, so Node's other threads keep their capabilities inside the namespace (over its
  // own mounts and network only; the seccomp filter still covers every thread).
  sys(SYS.prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  const hdr = Buffer.alloc(8), data = Buffer.alloc(24);
  hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  check('capset', sys(SYS.capset, addressOf(hdr), addressOf(data)));
  check('no_new_privs', sys(SYS.prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  // Changing credentials clears the parent-death signal that unshare --kill-child set:
  // set it again, so that the VMM dies with its launcher (a --timeout, a killed torov).
  const parent = process.ppid;
  check('parent-death signal', sys(SYS.prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
  if (sys(SYS.getppid) !== parent) process.exit(137);   // the parent is already gone
  return { uid, gid };
}

/** The effective capability set (CapEff), for checks and tests. */
export function effectiveCaps(): bigint {
  const hdr = Buffer.alloc(8), data = Buffer.alloc(24);
  hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  check('capget', sys(SYS.capget, addressOf(hdr), addressOf(data)));
  return BigInt(data.readUInt32LE(0)) | (BigInt(data.readUInt32LE(12)) << 32n);
}
