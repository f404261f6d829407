/**
 * Threads: clone and clone3 with CLONE_THREAD, exit and exit_group, gettid,
 * set_tid_address, futex, the scheduling calls (affinity, yield, getcpu) and membarrier.
 * The thread model itself (a vCPU and a host thread per guest thread, the futex queues,
 * the timers) is the scheduler's (src/vmm/scheduler.ts), reached through k.sched.
 */
import { Handler, HandlerTable, GuestExit, Kernel, CloneSpec } from './api';
import { EAGAIN, EINVAL, ENOSYS, EPERM, ESRCH, E2BIG, ETIMEDOUT } from '../linux/errno';
import {
  FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET,
  FUTEX_CLOCK_REALTIME, FUTEX_PRIVATE_FLAG, FUTEX_BITSET_MATCH_ANY,
} from '../linux/futex';
import {
  CLONE_VM, CLONE_SIGHAND, CLONE_THREAD, CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_SETTID, CLONE_CHILD_CLEARTID,
  CLONE_VFORK, CLONE_PIDFD, CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
  CSIGNAL, CLONE_ARGS_SIZE_VER0, CLONE_FS, CLONE_FILES,
} from '../linux/sched';
import { NSEC_PER_SEC, CLOCK_REALTIME, CLOCK_MONOTONIC } from '../linux/time';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { newPidfd } from './exec';
import { nowMs } from '../host/clock';

/** The end of the user half of the address space on x86-64 (4-level paging). */
const TASK_SIZE_MAX = 0x7ffffffff000;

/** Namespaces a program cannot make inside torov (it is in torov's own already). */
const CLONE_NEW = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

/** Checks clone's flags as Linux does (kernel/fork.c, copy_process) and starts the thread. */
function cloneWith(k: Kernel, spec: CloneSpec, exitSignal: number): number {
  const f = spec.flags;
  // copy_process()'s checks, in its order.
  if ((f & (CLONE_NEWNS | CLONE_FS)) === (CLONE_NEWNS | CLONE_FS)) return -EINVAL;
  if ((f & (CLONE_NEWUSER | CLONE_FS)) === (CLONE_NEWUSER | CLONE_FS)) return -EINVAL;
  if ((f & CLONE_THREAD) && !(f & CLONE_SIGHAND)) return -EINVAL;
  if ((f & CLONE_SIGHAND) && !(f & CLONE_VM)) return -EINVAL;
  if ((f & (CLONE_NEWUSER | CLONE_NEWPID)) && (f & CLONE_THREAD)) return -EINVAL;
  if (f & CLONE_NEW) {
    k.note('clone-ns', 'clone: new namespaces are not available inside torov: EPERM');
    return -EPERM;                                 // as for an unprivileged caller
  }
  if (!(f & CLONE_THREAD)) {
    // A new process. Its memory is a copy in a VM of its own: CLONE_VM is kept only with
    // CLONE_VFORK (posix_spawn), where the parent waits until the child execs or ends and
    // so cannot see the difference, unless it reads what the child wrote before its exec.
    if ((f & CLONE_VM) && !(f & CLONE_VFORK)) {
      k.note('clone-vm', 'clone with CLONE_VM but neither CLONE_THREAD nor CLONE_VFORK (a process sharing memory) is not supported: EINVAL');
      return -EINVAL;
    }
    if (f & (CLONE_FILES | CLONE_FS | CLONE_SIGHAND)) {
      k.note('clone-share', 'clone of a process with CLONE_FILES, CLONE_FS or CLONE_SIGHAND: the child gets copies instead');
    }
    if (exitSignal > 64) return -EINVAL;
    if ((f & CLONE_PIDFD) && (!spec.pidfd || (f & CLONE_VFORK))) return -EINVAL;
    if (f & CLONE_PIDFD) k.mem.check(spec.pidfd!, 4, true);   // EFAULT before the child exists
    const pid = k.sched.fork(k, spec, exitSignal);
    if (pid > 0 && (f & CLONE_PIDFD)) {
      const pfd = newPidfd(k, pid, false);
      k.mem.writeU32(spec.pidfd!, pfd >= 0 ? pfd : -1);
    }
    return pid;
  }
  if (exitSignal !== 0 || (f & (CLONE_VFORK | CLONE_PIDFD))) return -EINVAL;
  // Like Linux (arch/x86 copy_thread): a TLS base must be a user address.
  if ((f & CLONE_SETTLS) && !(spec.tls < TASK_SIZE_MAX)) return -EPERM;
  return k.sched.cloneThread(k, spec);
}

/** Implements clone(2) (x86-64 order: flags, stack, parent_tid, child_tid, tls). */
const sysClone: Handler = (k, a) => {
  const flags = a.n(0);
  return cloneWith(k, {
    flags: flags & ~CSIGNAL, stack: a.ptr(1),
    parentTid: flags & CLONE_PARENT_SETTID ? a.ptr(2) : 0,
    childTid: flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID) ? a.ptr(3) : 0,
    tls: flags & CLONE_SETTLS ? a.ptr(4) : 0,
    // clone(2) returns the pidfd where parent_tid points (the two cannot be combined).
    ...(flags & CLONE_PIDFD ? { pidfd: flags & CLONE_PARENT_SETTID ? 0 : a.ptr(2) } : {}),
  }, flags & CSIGNAL);
};

/** Implements clone3(2): struct clone_args (flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, ...). */
const sysClone3: Handler = (k, a) => {
  const size = a.n(1);
  if (size < CLONE_ARGS_SIZE_VER0) return -EINVAL;
  if (size > 4096) return -E2BIG;
  const b = k.mem.read(a.ptr(0), size);
  // A larger struct than torov knows must have zeros where the fields it does not know would be.
  for (let i = 88; i < size; i++) if (b[i] !== 0) return -E2BIG;
  const u = (off: number) => (off + 8 <= size ? Number(b.readBigUInt64LE(off)) : 0);
  const flags = u(0), exitSignal = u(32), stack = u(40), stackSize = u(48);
  if (b.readBigUInt64LE(0) >> 32n) return -EINVAL;     // clone_into_cgroup, clear_sighand: not for threads
  if ((stack === 0) !== (stackSize === 0)) return -EINVAL;
  return cloneWith(k, {
    flags, stack: stack ? stack + stackSize : 0,
    parentTid: flags & CLONE_PARENT_SETTID ? u(24) : 0,
    childTid: flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID) ? u(16) : 0,
    tls: flags & CLONE_SETTLS ? u(56) : 0,
    ...(flags & CLONE_PIDFD ? { pidfd: u(8) } : {}),
  }, exitSignal);
};

/** Implements exit(2): the calling thread ends (the program, when it is the last one). */
const sysExit: Handler = (k, a) => k.sched.exitThread(k, a.i(0));

/** Implements exit_group(2): every thread ends; the status becomes torov's own. */
const sysExitGroup: Handler = (_k, a) => { throw new GuestExit(a.i(0) & 0xff); };

/** Implements set_tid_address(2): cleared and woken when the thread ends; returns its tid. */
const sysSetTidAddress: Handler = (k, a) => { k.clearTid = a.ptr(0); return k.tid; };

/**
 * A futex timeout as a deadline in nowMs() milliseconds (Infinity: none).
 * `absolute`: a point on CLOCK_MONOTONIC, or CLOCK_REALTIME with `realtime`; otherwise a
 * duration. Returns -EINVAL for a bad timespec.
 */
export function deadlineOf(k: Kernel, ts: number, absolute: boolean, realtime: boolean): number {
  if (ts === 0) return Infinity;
  const sec = k.mem.readI64(ts), nsec = k.mem.readI64(ts + 8);
  if (sec < 0 || nsec < 0 || nsec >= NSEC_PER_SEC) return -EINVAL;
  const ms = sec * 1000 + nsec / 1e6;
  const now = nowMs();
  if (!absolute) return now + ms;
  // An absolute time already past is due now (and never below 0, which would read as -errno).
  return now + Math.max(0, ms - clockMs(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC));
}

const tsBuf = Buffer.alloc(16);
const tsAddr = addressOf(tsBuf);
/** The host's clock `clock` now, in milliseconds (to the nanosecond). */
export function clockMs(clock: number): number {
  if (sys(HOST.clock_gettime, clock, tsAddr) < 0) return clock === CLOCK_REALTIME ? Date.now() : Number(process.hrtime.bigint()) / 1e6;
  return Number(tsBuf.readBigInt64LE(0)) * 1000 + Number(tsBuf.readBigInt64LE(8)) / 1e6;
}

/** How late a timer may fire (ms): as the scheduler's (src/vmm/scheduler.ts), never early for the guest's vDSO clock. */
const TIMER_SLACK_MS = 0.25;

/** Sleeps on the host until nowMs() reaches `deadline` (a single-threaded program's timed wait). */
function sleepUntil(deadline: number): void {
  for (;;) {
    const ms = deadline - nowMs();
    if (ms <= 0) return;
    tsBuf.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
    tsBuf.writeBigInt64LE(BigInt(Math.floor((ms % 1000) * 1e6)), 8);
    sys(HOST.nanosleep, tsAddr, 0);
  }
}

/** FUTEX_WAKE_OP: the operation on *uaddr2 and the comparison (linux/futex.h's FUTEX_OP encoding). */
function wakeOp(k: Kernel, addr2: number, val3: number): number | boolean {
  const field = (val3 >>> 28) & 15, op = field & 7;
  const cmp = (val3 >>> 24) & 15;
  let oparg = ((val3 >>> 12) & 0xfff) << 20 >> 20;      // sign-extended 12-bit fields
  const cmparg = (val3 & 0xfff) << 20 >> 20;
  if (field & 8) oparg = 1 << (oparg & 31);             // FUTEX_OP_OPARG_SHIFT (Linux masks a bad shift too)
  if ((addr2 & 3) !== 0) return -EINVAL;
  // Atomic against the other vCPUs, which run while this is served: a compare-exchange loop
  // on the guest's word (checked for write first).
  const view = k.mem.view(addr2, 4, true);
  const word = new Int32Array(view.buffer, view.byteOffset, 1);
  let old: number;
  for (;;) {
    old = Atomics.load(word, 0);
    let nv: number;
    switch (op) {
      case 0: nv = oparg; break;                   // SET
      case 1: nv = old + oparg; break;             // ADD
      case 2: nv = old | oparg; break;             // OR
      case 3: nv = old & ~oparg; break;            // ANDN
      case 4: nv = old ^ oparg; break;             // XOR
      default: return -ENOSYS;
    }
    if (Atomics.compareExchange(word, 0, old, nv | 0) === old) break;
  }
  const o = old >>> 0, c = cmparg >>> 0;
  switch (cmp) {
    case 0: return o === c;
    case 1: return o !== c;
    case 2: return (old | 0) < cmparg;
    case 3: return (old | 0) <= cmparg;
    case 4: return (old | 0) > cmparg;
    case 5: return (old | 0) >= cmparg;
    default: return -ENOSYS;
  }
}

/**
 * Implements futex(2): WAIT, WAKE, their BITSET forms, REQUEUE, CMP_REQUEUE and WAKE_OP,
 * with the PRIVATE and CLOCK_REALTIME flags. Without FUTEX_PRIVATE_FLAG, a futex in shared
 * memory (a MAP_SHARED file: shm_open, sem_open; or shared anonymous memory across fork)
 * is the same futex in every process that maps it (process-shared mutexes, semaphores).
 * The PI operations and FUTEX_FD are ENOSYS; futex_waitv is not provided.
 */
const sysFutex: Handler = (k, a) => {
  const addr = a.ptr(0), opFull = a.i(1), val = a.u(2);
  const shared = (opFull & FUTEX_PRIVATE_FLAG) === 0;
  const cmd = opFull & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  const realtime = (opFull & FUTEX_CLOCK_REALTIME) !== 0;
  if (realtime && cmd !== FUTEX_WAIT && cmd !== FUTEX_WAIT_BITSET) return -ENOSYS;
  switch (cmd) {
    case FUTEX_WAIT: case FUTEX_WAIT_BITSET: {
      const bitset = cmd === FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : a.u(5);
      const deadline = deadlineOf(k, a.ptr(3), cmd === FUTEX_WAIT_BITSET, realtime);
      if (deadline < 0) return deadline;
      const r = k.sched.futexWait(k, addr, val, bitset, deadline, shared);
      // Alone, a timed wait that nobody can end times out: sleep until then, as Linux would.
      if (r === -ETIMEDOUT && !k.sched.concurrent) sleepUntil(deadline + TIMER_SLACK_MS);
      return r;
    }
    case FUTEX_WAKE: case FUTEX_WAKE_BITSET:
      return k.sched.futexWake(k, addr, Math.min(val, 0x7fffffff), cmd === FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : a.u(5), shared);
    case FUTEX_REQUEUE: case FUTEX_CMP_REQUEUE: {
      const move = a.n(3);
      if ((val | 0) < 0 || move < 0) return -EINVAL;
      if (cmd === FUTEX_CMP_REQUEUE && k.mem.readU32(addr) !== a.u(5)) return -EAGAIN;
      return k.sched.futexRequeue(k, addr, val, a.ptr(4), Math.min(move, 0x7fffffff), true, shared);
    }
    case FUTEX_WAKE_OP: {
      const addr2 = a.ptr(4), n2 = Math.min(a.n(3), 0x7fffffff);
      const r = wakeOp(k, addr2, a.u(5));
      if (typeof r === 'number') return r;
      let woken = k.sched.futexWake(k, addr, Math.min(val, 0x7fffffff), FUTEX_BITSET_MATCH_ANY, shared);
      if (woken < 0) return woken;
      if (r) { const w2 = k.sched.futexWake(k, addr2, n2, FUTEX_BITSET_MATCH_ANY, shared); if (w2 > 0) woken += w2; }
      return woken;
    }
    default:
      k.note(`futex-${cmd}`, `futex operation ${cmd} (priority inheritance, FUTEX_FD) is not supported: ENOSYS`);
      return -ENOSYS;
  }
};

/** The thread `pid` names for the scheduling calls: 0 or a thread of the program; else ESRCH. */
const isOwnThread = (k: Kernel, pid: number) => pid === 0 || pid === k.pid || pid === k.tid || k.sched.hasThread(pid);

/** Implements sched_getaffinity(2): the --cpus CPUs; returns the mask's size (a multiple of 8 bytes). */
const sysSchedGetaffinity: Handler = (k, a) => {
  if (!isOwnThread(k, a.i(0))) return -ESRCH;
  const len = a.n(1), cpus = k.sched.cpus;
  const size = Math.ceil(cpus / 64) * 8;
  if (len < size || len % 8) return -EINVAL;
  const mask = Buffer.alloc(size);
  for (let c = 0; c < cpus; c++) mask[c >> 3]! |= 1 << (c & 7);
  k.mem.write(a.ptr(2), mask);
  return size;
};

/** Implements sched_setaffinity(2): accepted when the mask names one of the guest's CPUs (torov does not pin vCPUs). */
const sysSchedSetaffinity: Handler = (k, a) => {
  if (!isOwnThread(k, a.i(0))) return -ESRCH;
  const len = Math.min(a.n(1), 1024);
  if (len < 0) return -EINVAL;
  const m = k.mem.read(a.ptr(2), len);
  const cpus = k.sched.cpus;
  for (let c = 0; c < cpus && (c >> 3) < len; c++) if (m[c >> 3]! & (1 << (c & 7))) return 0;
  return -EINVAL;
};

/** Implements getcpu(2): the CPU a thread "runs on" is its vCPU's index modulo --cpus; one NUMA node. */
const sysGetcpu: Handler = (k, a) => {
  if (a.ptr(0)) k.mem.writeU32(a.ptr(0), k.sched.cpuOf(k));
  if (a.ptr(1)) k.mem.writeU32(a.ptr(1), 0);
  return 0;
};

/** membarrier(2) commands (linux/membarrier.h). */
const MEMBARRIER_CMD_QUERY = 0, MEMBARRIER_CMD_GLOBAL = 1, MEMBARRIER_CMD_GLOBAL_EXPEDITED = 2,
  MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED = 4, MEMBARRIER_CMD_PRIVATE_EXPEDITED = 8, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED = 16;
const MEMBARRIER_SUPPORTED = MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
  | MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;

/**
 * Implements membarrier(2) for the program's own threads: every other thread's vCPU is
 * taken out of the guest and put back (a VM exit and entry are serialising), so each has
 * passed a full barrier before the call returns. The sync-core and rseq commands are EINVAL.
 */
const sysMembarrier: Handler = (k, a) => {
  const cmd = a.i(0), flags = a.i(1);
  if (flags !== 0) return -EINVAL;
  if (cmd === MEMBARRIER_CMD_QUERY) return MEMBARRIER_SUPPORTED;
  if (!(cmd & MEMBARRIER_SUPPORTED) || (cmd & (cmd - 1))) return -EINVAL;
  if (cmd === MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED || cmd === MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) return 0;
  k.sched.barrier(k);
  return 0;
};

export const threadHandlers: HandlerTable = {
  clone: sysClone,
  clone3: sysClone3,
  exit: sysExit,
  exit_group: sysExitGroup,
  gettid: (k) => k.tid,
  set_tid_address: sysSetTidAddress,
  futex: sysFutex,
  sched_yield: () => 0,
  sched_getaffinity: sysSchedGetaffinity,
  sched_setaffinity: sysSchedSetaffinity,
  getcpu: sysGetcpu,
  membarrier: sysMembarrier,
};

