/**
 * strace-like formatting of guest syscalls (pure functions).
 *
 * A trace line looks like strace's default output:
 *
 *     openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 3
 *     read(3, "abc", 4096) = 3
 *     close(99) = -1 EBADF (Bad file descriptor)
 *     exit_group(0) = ?
 *
 * Arguments are decoded from the raw registers using the `args`
 * description in the syscall table (src/linux/syscalls); structures the
 * guest points to are read through a {@link TraceMemory}. Unreadable
 * pointers are shown in hex, as strace does. Nothing here throws on bad
 * guest data.
 *
 * Lines are formatted once, after the call: arguments the kernel both reads
 * and writes (socklen_t pointers, for example) show their value after the
 * call.
 */
import { MAX_ERRNO, errnoName, strerror } from '../linux/errno';
import { syscallName } from '../linux/syscalls';
import type { ArgKind, ArgSpec, RetKind, SyscallInfo } from '../linux/syscalls';
import * as fcntl from '../linux/fcntl';
import * as futex from '../linux/futex';
import * as ioctl from '../linux/ioctl';
import * as mman from '../linux/mman';
import * as poll from '../linux/poll';
import * as prctl from '../linux/prctl';
import * as resource from '../linux/resource';
import * as signal from '../linux/signal';
import * as socket from '../linux/socket';
import * as stat from '../linux/stat';
import * as time from '../linux/time';
import { AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, SOL_SOCKET, SO_ERROR } from '../linux/socket';
import {
  AT_FDCWD, F_ADD_SEALS, F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_GETLEASE, F_GETLK, F_GETOWN, F_GETPIPE_SZ, F_GETSIG,
  F_GET_SEALS, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETFD, F_SETFL, F_SETLEASE, F_SETLK, F_SETLKW, F_SETOWN, F_SETPIPE_SZ,
  F_SETSIG, O_CREAT, __O_TMPFILE,
} from '../linux/fcntl';
import {
  FIOASYNC, FIOCLEX, FIONBIO, FIONCLEX, FIONREAD, TCFLSH, TCSBRK, TCXONC, TIOCEXCL, TIOCGPGRP, TIOCGPTN, TIOCGSID, TIOCGWINSZ,
  TIOCMGET, TIOCNOTTY, TIOCNXCL, TIOCOUTQ, TIOCSCTTY, TIOCSPGRP, TIOCSPTLCK, TIOCSWINSZ,
} from '../linux/ioctl';
import { FUTEX_BITSET_MATCH_ANY, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET, FUTEX_WAKE_OP } from '../linux/futex';
import { SA_RESTORER } from '../linux/signal';
import { S_IFBLK, S_IFCHR, S_IFMT } from '../linux/stat';
import {
  EPOLL_EVENT, FLOCK, IOVEC, ITIMERSPEC, KERNEL_SIGACTION, LINUX_DIRENT64, MSGHDR, POLLFD, RLIMIT, RUSAGE, SIGSET, SOCKADDR,
  SOCKADDR_IN, SOCKADDR_IN6, SOCKADDR_NL, SOCKADDR_STORAGE, SOCKADDR_UN, STACK_T, STAT, STATX, TIMESPEC, TIMEVAL, TMS, UTSNAME,
  WINSIZE,
} from '../linux/structs';

/** Read access to guest memory, provided by the VMM. Both methods return null when the guest range is not readable. */
export interface TraceMemory {
  /**
   * Reads a NUL-terminated string of at most `max` bytes at `addr`; `s`
   * holds one character per byte (latin1), `truncated` is true when no NUL
   * was found within the limit.
   */
  readString(addr: number, max: number): { s: string; truncated: boolean } | null;
  /** Reads exactly `len` bytes at `addr`. */
  readBytes(addr: number, len: number): Uint8Array | null;
}

/** What the policy decided for a call: run it, refuse it with an errno, end the VM, or run it and flag the line. */
export type Verdict = 'allow' | 'deny' | 'kill' | 'log';

/** Bytes of a string or buffer shown before `...` (strace's default `-s 32`). */
export const STRING_LIMIT = 32;
/** Elements of an array shown before `...`. */
export const ARRAY_LIMIT = 16;
/** Bytes of a pathname shown before `...`: like strace, paths are not cut at STRING_LIMIT. */
export const PATH_LIMIT = 4096;

// ---------------------------------------------------------------------------
// Numbers

const i32 = (v: bigint): number => Number(BigInt.asIntN(32, v));
const u32 = (v: bigint): number => Number(BigInt.asUintN(32, v));
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** `0x1f` style hex of the unsigned 64-bit value; zero is `0` (C's `%#lx`). */
function hex(v: bigint | number): string {
  const u = u64(BigInt(v));
  return u === 0n ? '0' : `0x${u.toString(16)}`;
}

/** A pointer: `NULL` or hex. */
function ptr(v: bigint): string {
  return u64(v) === 0n ? 'NULL' : hex(v);
}

/** Octal like C's `%#03o`: `0644`, `022`, `000`. */
function octal(n: number): string {
  return n === 0 ? '000' : `0${n.toString(8)}`.padStart(3, '0');
}

/** The errno of a raw result, or undefined when it is not an error. */
function errnoOf(result: bigint): number | undefined {
  const s = s64(result);
  return s < 0n && s >= -BigInt(MAX_ERRNO) ? Number(-s) : undefined;
}

// ---------------------------------------------------------------------------
// Flag and enum tables, from the constants of src/linux

type Flags = readonly (readonly [number, string])[];
type Names = Readonly<Record<number, string>>;

/** The names of the bits set in `value` (multi-bit entries first when listed first), plus leftover bits in hex. */
function flagList(value: bigint | number, table: Flags): string[] {
  let rest = u64(BigInt(value));
  const out: string[] = [];
  for (const [bits, name] of table) {
    const b = BigInt(bits);
    if (b !== 0n && (rest & b) === b) {
      out.push(name);
      rest &= ~b;
    }
  }
  if (rest !== 0n) out.push(hex(rest));
  return out;
}

/** `A|B|0x40`, or `zero` when no bit is set. */
function flags(value: bigint | number, table: Flags, zero = '0'): string {
  const l = flagList(value, table);
  return l.length === 0 ? zero : l.join('|');
}

/** The name of `n` in `table`, or `n` in decimal. */
function named(table: Names, n: number): string {
  return table[n] ?? String(n);
}

/** [value, name] pairs of the named constants of `m`, in the order given (multi-bit entries first). */
function flagTable<M extends object>(m: M, names: readonly (keyof M & string)[]): Flags {
  return names.map((n) => [m[n] as unknown as number, n] as const);
}

/** The named constants of `m` by value. */
function nameTable<M extends object>(m: M, names: readonly (keyof M & string)[]): Names {
  const t: Record<number, string> = {};
  for (const n of names) t[m[n] as unknown as number] = n;
  return t;
}

const OPEN_ACCMODE = nameTable(fcntl, ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE']);
const OPEN_FLAGS = flagTable(fcntl, [
  'O_CREAT', 'O_EXCL', 'O_NOCTTY', 'O_TRUNC', 'O_APPEND', 'O_NONBLOCK', 'O_SYNC', 'O_DSYNC', 'O_ASYNC', 'O_DIRECT',
  'O_LARGEFILE', 'O_NOATIME', 'O_CLOEXEC', 'O_TMPFILE', 'O_DIRECTORY', 'O_NOFOLLOW', 'O_PATH',
]);
const O_FLAGS = flagTable(fcntl, ['O_NONBLOCK', 'O_DIRECT', 'O_CLOEXEC']);

function openFlags(v: bigint): string {
  const f = u32(v);
  return [OPEN_ACCMODE[f & fcntl.O_ACCMODE] ?? '', ...flagList(f & ~fcntl.O_ACCMODE, OPEN_FLAGS)].join('|');
}

const AT_FLAGS = flagTable(fcntl, [
  'AT_SYMLINK_NOFOLLOW', 'AT_REMOVEDIR', 'AT_SYMLINK_FOLLOW', 'AT_NO_AUTOMOUNT', 'AT_EMPTY_PATH', 'AT_STATX_FORCE_SYNC',
  'AT_STATX_DONT_SYNC', 'AT_RECURSIVE',
]);
const FACCESS_FLAGS = flagTable(fcntl, ['AT_SYMLINK_NOFOLLOW', 'AT_EACCESS', 'AT_EMPTY_PATH']);
const ACCESS_MODE = flagTable(fcntl, ['R_OK', 'W_OK', 'X_OK']);

const PROT = flagTable(mman, ['PROT_READ', 'PROT_WRITE', 'PROT_EXEC', 'PROT_SEM', 'PROT_GROWSDOWN', 'PROT_GROWSUP']);
const MAP_TYPES = nameTable(mman, ['MAP_SHARED', 'MAP_PRIVATE', 'MAP_SHARED_VALIDATE']);
const MAP_FLAGS = flagTable(mman, [
  'MAP_FIXED', 'MAP_ANONYMOUS', 'MAP_32BIT', 'MAP_GROWSDOWN', 'MAP_DENYWRITE', 'MAP_EXECUTABLE', 'MAP_LOCKED', 'MAP_NORESERVE',
  'MAP_POPULATE', 'MAP_NONBLOCK', 'MAP_STACK', 'MAP_HUGETLB', 'MAP_SYNC', 'MAP_FIXED_NOREPLACE', 'MAP_UNINITIALIZED',
]);

function mmapFlags(v: bigint): string {
  const f = u32(v);
  const type = MAP_TYPES[f & mman.MAP_TYPE];
  const parts = type === undefined ? flagList(f, MAP_FLAGS) : [type, ...flagList(f & ~mman.MAP_TYPE, MAP_FLAGS)];
  return parts.length === 0 ? '0' : parts.join('|');
}

const MREMAP = flagTable(mman, ['MREMAP_MAYMOVE', 'MREMAP_FIXED', 'MREMAP_DONTUNMAP']);
const MSYNC = flagTable(mman, ['MS_ASYNC', 'MS_INVALIDATE', 'MS_SYNC']);
const MADVISE = nameTable(mman, [
  'MADV_NORMAL', 'MADV_RANDOM', 'MADV_SEQUENTIAL', 'MADV_WILLNEED', 'MADV_DONTNEED', 'MADV_FREE', 'MADV_REMOVE',
  'MADV_DONTFORK', 'MADV_DOFORK', 'MADV_MERGEABLE', 'MADV_UNMERGEABLE', 'MADV_HUGEPAGE', 'MADV_NOHUGEPAGE',
  'MADV_DONTDUMP', 'MADV_DODUMP', 'MADV_WIPEONFORK', 'MADV_KEEPONFORK', 'MADV_COLD', 'MADV_PAGEOUT',
  'MADV_POPULATE_READ', 'MADV_POPULATE_WRITE', 'MADV_DONTNEED_LOCKED', 'MADV_COLLAPSE', 'MADV_HWPOISON',
  'MADV_SOFT_OFFLINE', 'MADV_GUARD_INSTALL', 'MADV_GUARD_REMOVE',
]);

const CLOCKS = nameTable(time, [
  'CLOCK_REALTIME', 'CLOCK_MONOTONIC', 'CLOCK_PROCESS_CPUTIME_ID', 'CLOCK_THREAD_CPUTIME_ID', 'CLOCK_MONOTONIC_RAW',
  'CLOCK_REALTIME_COARSE', 'CLOCK_MONOTONIC_COARSE', 'CLOCK_BOOTTIME', 'CLOCK_REALTIME_ALARM', 'CLOCK_BOOTTIME_ALARM',
  'CLOCK_TAI',
]);
const TIMER_FLAGS = flagTable(time, ['TIMER_ABSTIME']);
const TFD_FLAGS = flagTable(time, ['TFD_NONBLOCK', 'TFD_CLOEXEC']);
const TFD_SETTIME = flagTable(time, ['TFD_TIMER_ABSTIME', 'TFD_TIMER_CANCEL_ON_SET']);
const EFD_FLAGS = flagTable(fcntl, ['EFD_SEMAPHORE', 'EFD_NONBLOCK', 'EFD_CLOEXEC']);
const EPOLL_CREATE = flagTable(poll, ['EPOLL_CLOEXEC']);
const IN_FLAGS = flagTable(fcntl, ['IN_NONBLOCK', 'IN_CLOEXEC']);
const MFD_FLAGS = flagTable(fcntl, ['MFD_CLOEXEC', 'MFD_ALLOW_SEALING', 'MFD_HUGETLB', 'MFD_NOEXEC_SEAL', 'MFD_EXEC']);
const SOCK_FLAGS = flagTable(socket, ['SOCK_CLOEXEC', 'SOCK_NONBLOCK']);
const GRND = flagTable(fcntl, ['GRND_NONBLOCK', 'GRND_RANDOM', 'GRND_INSECURE']);
const RENAME = flagTable(fcntl, ['RENAME_NOREPLACE', 'RENAME_EXCHANGE', 'RENAME_WHITEOUT']);
const LOCK_OPS = flagTable(fcntl, ['LOCK_SH', 'LOCK_EX', 'LOCK_NB', 'LOCK_UN']);
const STATX_MASK = flagTable(stat, [
  'STATX_ALL', 'STATX_BASIC_STATS', 'STATX_TYPE', 'STATX_MODE', 'STATX_NLINK', 'STATX_UID', 'STATX_GID', 'STATX_ATIME',
  'STATX_MTIME', 'STATX_CTIME', 'STATX_INO', 'STATX_SIZE', 'STATX_BLOCKS', 'STATX_BTIME', 'STATX_MNT_ID', 'STATX_DIOALIGN',
  'STATX_MNT_ID_UNIQUE', 'STATX_SUBVOL', 'STATX_WRITE_ATOMIC', 'STATX_DIO_READ_ALIGN',
]);

/** A signal without the SIG prefix, as in sigset listings: `INT`, `RTMIN`, `RT_1`. */
function sigShort(n: number): string {
  if (n === signal.SIGRTMIN) return 'RTMIN';
  if (n > signal.SIGRTMIN && n <= signal.SIGRTMAX) return `RT_${n - signal.SIGRTMIN}`;
  return signal.standardSignalName(n)?.slice(3) ?? String(n);
}

/** A signal number as an argument: `SIGINT`, `SIGRTMIN`, `SIGRT_2`, or decimal (0 stays `0`). */
function sigName(n: number): string {
  return n >= 1 && n <= signal._NSIG ? `SIG${sigShort(n)}` : String(n);
}

const SIGPROCMASK_HOW = nameTable(signal, ['SIG_BLOCK', 'SIG_UNBLOCK', 'SIG_SETMASK']);
const SA_FLAGS = flagTable(signal, [
  'SA_NOCLDSTOP', 'SA_NOCLDWAIT', 'SA_SIGINFO', 'SA_UNSUPPORTED', 'SA_EXPOSE_TAGBITS', 'SA_RESTORER', 'SA_ONSTACK',
  'SA_RESTART', 'SA_NODEFER', 'SA_RESETHAND',
]);
const SS_FLAGS = flagTable(signal, ['SS_ONSTACK', 'SS_DISABLE', 'SS_AUTODISARM']);

const AF = nameTable(socket, [
  'AF_UNSPEC', 'AF_UNIX', 'AF_INET', 'AF_IPX', 'AF_APPLETALK', 'AF_BRIDGE', 'AF_INET6', 'AF_KEY', 'AF_NETLINK', 'AF_PACKET',
  'AF_CAN', 'AF_BLUETOOTH', 'AF_ALG', 'AF_VSOCK', 'AF_XDP', 'AF_MCTP',
]);
const SOCK_TYPE = nameTable(socket, ['SOCK_STREAM', 'SOCK_DGRAM', 'SOCK_RAW', 'SOCK_RDM', 'SOCK_SEQPACKET', 'SOCK_DCCP', 'SOCK_PACKET']);
const IPPROTO = nameTable(socket, [
  'IPPROTO_IP', 'IPPROTO_ICMP', 'IPPROTO_TCP', 'IPPROTO_UDP', 'IPPROTO_IPV6', 'IPPROTO_ICMPV6', 'IPPROTO_SCTP',
  'IPPROTO_UDPLITE', 'IPPROTO_RAW', 'IPPROTO_MPTCP',
]);
const MSG_FLAGS = flagTable(socket, [
  'MSG_OOB', 'MSG_PEEK', 'MSG_DONTROUTE', 'MSG_CTRUNC', 'MSG_PROXY', 'MSG_TRUNC', 'MSG_DONTWAIT', 'MSG_EOR', 'MSG_WAITALL',
  'MSG_FIN', 'MSG_SYN', 'MSG_CONFIRM', 'MSG_RST', 'MSG_ERRQUEUE', 'MSG_NOSIGNAL', 'MSG_MORE', 'MSG_WAITFORONE', 'MSG_BATCH',
  'MSG_ZEROCOPY', 'MSG_FASTOPEN', 'MSG_CMSG_CLOEXEC',
]);
const SHUT = nameTable(socket, ['SHUT_RD', 'SHUT_WR', 'SHUT_RDWR']);
const SOL = nameTable(socket, ['SOL_IP', 'SOL_SOCKET', 'SOL_TCP', 'SOL_UDP', 'SOL_IPV6', 'SOL_RAW', 'SOL_PACKET', 'SOL_NETLINK']);
const SOCKOPTS: Readonly<Record<number, Names>> = {
  [socket.SOL_SOCKET]: nameTable(socket, [
    'SO_DEBUG', 'SO_REUSEADDR', 'SO_TYPE', 'SO_ERROR', 'SO_DONTROUTE', 'SO_BROADCAST', 'SO_SNDBUF', 'SO_RCVBUF',
    'SO_KEEPALIVE', 'SO_OOBINLINE', 'SO_NO_CHECK', 'SO_PRIORITY', 'SO_LINGER', 'SO_BSDCOMPAT', 'SO_REUSEPORT',
    'SO_PASSCRED', 'SO_PEERCRED', 'SO_RCVLOWAT', 'SO_SNDLOWAT', 'SO_RCVTIMEO_OLD', 'SO_SNDTIMEO_OLD', 'SO_BINDTODEVICE',
    'SO_TIMESTAMP_OLD', 'SO_ACCEPTCONN', 'SO_SNDBUFFORCE', 'SO_RCVBUFFORCE', 'SO_PROTOCOL', 'SO_DOMAIN',
    'SO_RCVTIMEO_NEW', 'SO_SNDTIMEO_NEW',
  ]),
  [socket.SOL_TCP]: nameTable(socket, [
    'TCP_NODELAY', 'TCP_MAXSEG', 'TCP_CORK', 'TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_KEEPCNT', 'TCP_SYNCNT', 'TCP_LINGER2',
    'TCP_DEFER_ACCEPT', 'TCP_WINDOW_CLAMP', 'TCP_INFO', 'TCP_QUICKACK', 'TCP_CONGESTION', 'TCP_USER_TIMEOUT',
    'TCP_FASTOPEN',
  ]),
  [socket.SOL_IP]: nameTable(socket, [
    'IP_TOS', 'IP_TTL', 'IP_HDRINCL', 'IP_OPTIONS', 'IP_MTU_DISCOVER', 'IP_RECVERR', 'IP_MULTICAST_TTL', 'IP_ADD_MEMBERSHIP',
  ]),
  [socket.SOL_IPV6]: nameTable(socket, ['IPV6_UNICAST_HOPS', 'IPV6_MULTICAST_HOPS', 'IPV6_RECVERR', 'IPV6_V6ONLY']),
};

const FCNTL_CMDS = nameTable(fcntl, [
  'F_DUPFD', 'F_GETFD', 'F_SETFD', 'F_GETFL', 'F_SETFL', 'F_GETLK', 'F_SETLK', 'F_SETLKW', 'F_SETOWN', 'F_GETOWN',
  'F_SETSIG', 'F_GETSIG', 'F_SETOWN_EX', 'F_GETOWN_EX', 'F_GETOWNER_UIDS', 'F_OFD_GETLK', 'F_OFD_SETLK', 'F_OFD_SETLKW',
  'F_SETLEASE', 'F_GETLEASE', 'F_NOTIFY', 'F_DUPFD_QUERY', 'F_CREATED_QUERY', 'F_DUPFD_CLOEXEC', 'F_SETPIPE_SZ',
  'F_GETPIPE_SZ', 'F_ADD_SEALS', 'F_GET_SEALS', 'F_GET_RW_HINT', 'F_SET_RW_HINT', 'F_GET_FILE_RW_HINT',
  'F_SET_FILE_RW_HINT',
]);
const FD_FLAGS = flagTable(fcntl, ['FD_CLOEXEC']);
const SEALS = flagTable(fcntl, ['F_SEAL_SEAL', 'F_SEAL_SHRINK', 'F_SEAL_GROW', 'F_SEAL_WRITE', 'F_SEAL_FUTURE_WRITE', 'F_SEAL_EXEC']);
const LOCK_TYPES = nameTable(fcntl, ['F_RDLCK', 'F_WRLCK', 'F_UNLCK']);
const WHENCE = nameTable(fcntl, ['SEEK_SET', 'SEEK_CUR', 'SEEK_END', 'SEEK_DATA', 'SEEK_HOLE']);

const IOCTLS = nameTable(ioctl, [
  'TCGETS', 'TCSETS', 'TCSETSW', 'TCSETSF', 'TCGETA', 'TCSETA', 'TCSETAW', 'TCSETAF', 'TCSBRK', 'TCXONC', 'TCFLSH',
  'TIOCEXCL', 'TIOCNXCL', 'TIOCSCTTY', 'TIOCGPGRP', 'TIOCSPGRP', 'TIOCOUTQ', 'TIOCSTI', 'TIOCGWINSZ', 'TIOCSWINSZ',
  'TIOCMGET', 'FIONREAD', 'TIOCLINUX', 'TIOCCONS', 'FIONBIO', 'TIOCNOTTY', 'TIOCGSID', 'TCGETS2', 'TCSETS2', 'TIOCGPTPEER',
  'FIONCLEX', 'FIOCLEX', 'FIOASYNC', 'FIOQSIZE', 'TIOCGPTN', 'TIOCSPTLCK', 'FICLONE',
]);

const EPOLL_OPS = nameTable(poll, ['EPOLL_CTL_ADD', 'EPOLL_CTL_DEL', 'EPOLL_CTL_MOD']);
const EPOLL_EVENTS = flagTable(poll, [
  'EPOLLIN', 'EPOLLPRI', 'EPOLLOUT', 'EPOLLERR', 'EPOLLHUP', 'EPOLLNVAL', 'EPOLLRDNORM', 'EPOLLRDBAND', 'EPOLLWRNORM',
  'EPOLLWRBAND', 'EPOLLMSG', 'EPOLLRDHUP', 'EPOLLEXCLUSIVE', 'EPOLLWAKEUP', 'EPOLLONESHOT', 'EPOLLET',
]);
const POLL_EVENTS = flagTable(poll, [
  'POLLIN', 'POLLPRI', 'POLLOUT', 'POLLERR', 'POLLHUP', 'POLLNVAL', 'POLLRDNORM', 'POLLRDBAND', 'POLLWRNORM', 'POLLWRBAND',
  'POLLMSG', 'POLLREMOVE', 'POLLRDHUP',
]);

/** The bits of a futex op that name its command here (the flags are shown apart). */
const FUTEX_CMD_BITS = 0x7f;
const FUTEX_CMDS = nameTable(futex, [
  'FUTEX_WAIT', 'FUTEX_WAKE', 'FUTEX_FD', 'FUTEX_REQUEUE', 'FUTEX_CMP_REQUEUE', 'FUTEX_WAKE_OP', 'FUTEX_LOCK_PI',
  'FUTEX_UNLOCK_PI', 'FUTEX_TRYLOCK_PI', 'FUTEX_WAIT_BITSET', 'FUTEX_WAKE_BITSET', 'FUTEX_WAIT_REQUEUE_PI',
  'FUTEX_CMP_REQUEUE_PI', 'FUTEX_LOCK_PI2',
]);
/** How many futex arguments each command uses (index = command). */
const FUTEX_ARITY: readonly number[] = [4, 3, 3, 5, 6, 6, 4, 2, 2, 6, 6, 5, 6, 4];
const FUTEX_TIMED: ReadonlySet<number> = new Set([
  futex.FUTEX_WAIT, futex.FUTEX_LOCK_PI, futex.FUTEX_LOCK_PI2, futex.FUTEX_WAIT_BITSET, futex.FUTEX_WAIT_REQUEUE_PI,
]);

function futexOp(v: bigint): string {
  const op = u32(v);
  const name = FUTEX_CMDS[op & FUTEX_CMD_BITS];
  if (name === undefined) return hex(op);
  const parts = [op & futex.FUTEX_PRIVATE_FLAG ? `${name}_PRIVATE` : name];
  if (op & futex.FUTEX_CLOCK_REALTIME) parts.push('FUTEX_CLOCK_REALTIME');
  const rest = op & ~(FUTEX_CMD_BITS | futex.FUTEX_PRIVATE_FLAG | futex.FUTEX_CLOCK_REALTIME);
  if (rest !== 0) parts.push(hex(rest));
  return parts.join('|');
}

const ARCH_PRCTL = nameTable(prctl, [
  'ARCH_SET_GS', 'ARCH_SET_FS', 'ARCH_GET_FS', 'ARCH_GET_GS', 'ARCH_GET_CPUID', 'ARCH_SET_CPUID', 'ARCH_GET_XCOMP_SUPP',
  'ARCH_GET_XCOMP_PERM', 'ARCH_REQ_XCOMP_PERM', 'ARCH_GET_XCOMP_GUEST_PERM', 'ARCH_REQ_XCOMP_GUEST_PERM',
  'ARCH_MAP_VDSO_X32', 'ARCH_MAP_VDSO_32', 'ARCH_MAP_VDSO_64', 'ARCH_GET_UNTAG_MASK', 'ARCH_ENABLE_TAGGED_ADDR',
  'ARCH_GET_MAX_TAG_BITS', 'ARCH_FORCE_TAGGED_SVA', 'ARCH_SHSTK_ENABLE', 'ARCH_SHSTK_DISABLE', 'ARCH_SHSTK_LOCK',
  'ARCH_SHSTK_UNLOCK', 'ARCH_SHSTK_STATUS',
]);
const RLIMITS = nameTable(resource, [
  'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_DATA', 'RLIMIT_STACK', 'RLIMIT_CORE', 'RLIMIT_RSS', 'RLIMIT_NPROC', 'RLIMIT_NOFILE',
  'RLIMIT_MEMLOCK', 'RLIMIT_AS', 'RLIMIT_LOCKS', 'RLIMIT_SIGPENDING', 'RLIMIT_MSGQUEUE', 'RLIMIT_NICE', 'RLIMIT_RTPRIO',
  'RLIMIT_RTTIME',
]);
const RUSAGE_WHO = nameTable(resource, ['RUSAGE_SELF', 'RUSAGE_CHILDREN', 'RUSAGE_THREAD']);

const FILE_TYPES = nameTable(stat, ['S_IFSOCK', 'S_IFLNK', 'S_IFREG', 'S_IFBLK', 'S_IFDIR', 'S_IFCHR', 'S_IFIFO']);

/** `S_IFREG|0644`. */
function fileMode(m: number): string {
  const type = m & stat.S_IFMT;
  const perms = octal(m & 0o7777);
  if (type === 0) return perms;
  return `${FILE_TYPES[type] ?? octal(type)}|${perms}`;
}

/** `makedev(0x1, 0x3)` from a Linux dev_t. */
function makedev(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return `makedev(${hex(major)}, ${hex(minor)})`;
}

const UTIME_NOW = BigInt(stat.UTIME_NOW);
const UTIME_OMIT = BigInt(stat.UTIME_OMIT);
const RLIM_INFINITY = resource.RLIM_INFINITY;

// ---------------------------------------------------------------------------
// Strings

/** Escapes bytes like strace: `\n \t \r \v \f \" \\`, other non-printables in octal (3 digits when a digit follows). */
function escapeBytes(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    switch (c) {
      case 0x22: out += '\\"'; break;
      case 0x5c: out += '\\\\'; break;
      case 0x0a: out += '\\n'; break;
      case 0x09: out += '\\t'; break;
      case 0x0d: out += '\\r'; break;
      case 0x0b: out += '\\v'; break;
      case 0x0c: out += '\\f'; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += String.fromCharCode(c);
        } else {
          const next = b[i + 1];
          const digitFollows = next !== undefined && next >= 0x30 && next <= 0x37;
          out += '\\' + (digitFollows ? c.toString(8).padStart(3, '0') : c.toString(8));
        }
    }
  }
  return out;
}

/** `"escaped"`, followed by `...` when the data was cut. */
function quote(b: Uint8Array, truncated: boolean): string {
  return `"${escapeBytes(b)}"${truncated ? '...' : ''}`;
}

/** The bytes of a TraceMemory string (one char per byte; anything wider is taken as UTF-8). */
function stringBytes(s: string): Uint8Array {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return Buffer.from(s, 'utf8');
  return Buffer.from(s, 'latin1');
}

/** The bytes up to the first NUL. */
function untilNul(b: Uint8Array): Uint8Array {
  const z = b.indexOf(0);
  return z < 0 ? b : b.subarray(0, z);
}

// ---------------------------------------------------------------------------
// Guest memory

/** State shared by the argument formatters of one call. */
interface Ctx {
  readonly mem: TraceMemory;
  readonly args: readonly bigint[];
  /** The call has run and `result` is its return value. */
  readonly exit: boolean;
  readonly result: bigint;
  /** The call has run and succeeded: memory it writes can be shown. */
  readonly ok: boolean;
}

const arg = (ctx: Ctx, i: number | undefined): bigint => (i === undefined ? 0n : ctx.args[i] ?? 0n);

/** A guest address usable as a JS number, or null for NULL and out-of-range values. */
function addrOf(v: bigint): number | null {
  const a = u64(v);
  return a === 0n || a > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(a);
}

function readRaw(mem: TraceMemory, v: bigint, len: number): Uint8Array | null {
  const a = addrOf(v);
  if (a === null) return null;
  if (len === 0) return new Uint8Array(0);
  try {
    const b = mem.readBytes(a, len);
    return b !== null && b.length >= len ? b : null;
  } catch {
    return null;
  }
}

function readView(mem: TraceMemory, v: bigint, len: number): DataView | null {
  const b = readRaw(mem, v, len);
  return b === null ? null : new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function readU32(mem: TraceMemory, v: bigint): number | null {
  const dv = readView(mem, v, 4);
  return dv === null ? null : dv.getUint32(0, true);
}

/** A NUL-terminated guest string, cut at `limit` bytes. */
function cstr(ctx: Ctx, v: bigint, limit = STRING_LIMIT): string {
  const a = addrOf(v);
  if (a === null) return ptr(v);
  let r: { s: string; truncated: boolean } | null;
  try {
    // One byte more than shown, so that a string of exactly `limit` bytes is not taken as cut.
    r = ctx.mem.readString(a, limit + 1);
  } catch {
    r = null;
  }
  if (r === null) return hex(v);
  let b = stringBytes(r.s);
  let truncated = r.truncated;
  if (b.length > limit) {
    b = b.subarray(0, limit);
    truncated = true;
  }
  return quote(b, truncated);
}

/** A guest buffer of `len` bytes, cut at STRING_LIMIT. */
function buf(ctx: Ctx, v: bigint, len: bigint): string {
  if (u64(v) === 0n) return 'NULL';
  const n = len > BigInt(STRING_LIMIT) ? STRING_LIMIT : Number(len < 0n ? 0n : len);
  const b = readRaw(ctx.mem, v, n);
  return b === null ? hex(v) : quote(b, len > BigInt(STRING_LIMIT));
}

/** `[a, b, ...]` with at most ARRAY_LIMIT items. */
function list(items: readonly string[], total: number): string {
  return `[${items.join(', ')}${total > items.length ? (items.length > 0 ? ', ...' : '...') : ''}]`;
}

// ---------------------------------------------------------------------------
// Structures

function timespecAt(dv: DataView, off: number): string {
  return `{tv_sec=${dv.getBigInt64(off + TIMESPEC.tv_sec, true)}, tv_nsec=${dv.getBigInt64(off + TIMESPEC.tv_nsec, true)}}`;
}

function timevalAt(dv: DataView, off: number): string {
  return `{tv_sec=${dv.getBigInt64(off + TIMEVAL.tv_sec, true)}, tv_usec=${dv.getBigInt64(off + TIMEVAL.tv_usec, true)}}`;
}

/** Reads `size` bytes at `v` and formats them, or shows the pointer. */
function struct(ctx: Ctx, v: bigint, size: number, fmt: (dv: DataView) => string): string {
  if (u64(v) === 0n) return 'NULL';
  const dv = readView(ctx.mem, v, size);
  return dv === null ? hex(v) : fmt(dv);
}

/** Like {@link struct} for memory the kernel writes: shown only after success. */
function outStruct(ctx: Ctx, v: bigint, size: number, fmt: (dv: DataView) => string): string {
  return ctx.ok ? struct(ctx, v, size, fmt) : ptr(v);
}

function utimens(dv: DataView): string {
  const one = (off: number): string => {
    const nsec = dv.getBigInt64(off + TIMESPEC.tv_nsec, true);
    if (nsec === UTIME_NOW) return 'UTIME_NOW';
    if (nsec === UTIME_OMIT) return 'UTIME_OMIT';
    return timespecAt(dv, off);
  };
  return `[${one(0)}, ${one(TIMESPEC.SIZE)}]`;
}

function statbuf(dv: DataView): string {
  const mode = dv.getUint32(STAT.st_mode, true);
  const type = mode & S_IFMT;
  const tail = type === S_IFCHR || type === S_IFBLK
    ? `st_rdev=${makedev(dv.getBigUint64(STAT.st_rdev, true))}`
    : `st_size=${dv.getBigInt64(STAT.st_size, true)}`;
  return `{st_mode=${fileMode(mode)}, ${tail}, ...}`;
}

function statxbuf(dv: DataView): string {
  const attrs = dv.getBigUint64(STATX.stx_attributes, true);
  return `{stx_mask=${flags(dv.getUint32(STATX.stx_mask, true), STATX_MASK)}, stx_attributes=${hex(attrs)}, `
    + `stx_mode=${fileMode(dv.getUint16(STATX.stx_mode, true))}, stx_size=${dv.getBigUint64(STATX.stx_size, true)}, ...}`;
}

function rlim(v: bigint): string {
  if (v === RLIM_INFINITY) return 'RLIM64_INFINITY';
  if (v > 1024n && v % 1024n === 0n) return `${v / 1024n}*1024`;
  return v.toString();
}

function rlimit(dv: DataView): string {
  return `{rlim_cur=${rlim(dv.getBigUint64(RLIMIT.rlim_cur, true))}, rlim_max=${rlim(dv.getBigUint64(RLIMIT.rlim_max, true))}}`;
}

function sigset(dv: DataView): string {
  const mask = dv.getBigUint64(0, true);
  const set: string[] = [];
  const unset: string[] = [];
  for (let n = 1; n <= signal._NSIG; n++) ((mask >> BigInt(n - 1)) & 1n ? set : unset).push(sigShort(n));
  return set.length > 32 ? `~[${unset.join(' ')}]` : `[${set.join(' ')}]`;
}

function sigaction(dv: DataView): string {
  const handler = dv.getBigUint64(KERNEL_SIGACTION.sa_handler, true);
  const saFlags = dv.getBigUint64(KERNEL_SIGACTION.sa_flags, true);
  const h = handler === BigInt(signal.SIG_DFL) ? 'SIG_DFL' : handler === BigInt(signal.SIG_IGN) ? 'SIG_IGN' : hex(handler);
  const mask = sigset(new DataView(dv.buffer, dv.byteOffset + KERNEL_SIGACTION.sa_mask, SIGSET.SIZE));
  const restorer = saFlags & BigInt(SA_RESTORER) ? `, sa_restorer=${ptr(dv.getBigUint64(KERNEL_SIGACTION.sa_restorer, true))}` : '';
  return `{sa_handler=${h}, sa_mask=${mask}, sa_flags=${flags(saFlags, SA_FLAGS)}${restorer}}`;
}

function itimerspec(dv: DataView): string {
  return `{it_interval=${timespecAt(dv, ITIMERSPEC.it_interval)}, it_value=${timespecAt(dv, ITIMERSPEC.it_value)}}`;
}

function stackT(dv: DataView): string {
  return `{ss_sp=${ptr(dv.getBigUint64(STACK_T.ss_sp, true))}, ss_flags=${flags(dv.getUint32(STACK_T.ss_flags, true), SS_FLAGS)}, ss_size=${dv.getBigUint64(STACK_T.ss_size, true)}}`;
}

function epollEventAt(dv: DataView, off: number): string {
  const data = dv.getBigUint64(off + EPOLL_EVENT.data, true);
  return `{events=${flags(dv.getUint32(off + EPOLL_EVENT.events, true), EPOLL_EVENTS)}, data={u32=${u32(data)}, u64=${data}}}`;
}

function winsize(dv: DataView): string {
  return `{ws_row=${dv.getUint16(WINSIZE.ws_row, true)}, ws_col=${dv.getUint16(WINSIZE.ws_col, true)}, ws_xpixel=${dv.getUint16(WINSIZE.ws_xpixel, true)}, ws_ypixel=${dv.getUint16(WINSIZE.ws_ypixel, true)}}`;
}

function flock(dv: DataView): string {
  return `{l_type=${named(LOCK_TYPES, dv.getInt16(FLOCK.l_type, true))}, l_whence=${named(WHENCE, dv.getInt16(FLOCK.l_whence, true))}, `
    + `l_start=${dv.getBigInt64(FLOCK.l_start, true)}, l_len=${dv.getBigInt64(FLOCK.l_len, true)}}`;
}

/** An IPv6 address the way inet_ntop writes it (longest zero run as `::`, embedded IPv4 for v4-mapped/compatible). */
function ipv6(b: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) best = -1;
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
    return `::${bestLen === 5 ? 'ffff:' : ''}${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  const h = w.map((x) => x.toString(16));
  if (best < 0) return h.join(':');
  return `${h.slice(0, best).join(':')}::${h.slice(best + bestLen).join(':')}`;
}

/** A socket address of `len` bytes at `v`. */
function sockaddr(ctx: Ctx, v: bigint, len: number): string {
  if (u64(v) === 0n) return 'NULL';
  const n = Math.min(len, SOCKADDR_STORAGE.SIZE);
  if (n < SOCKADDR.sa_data) return hex(v);
  const b = readRaw(ctx.mem, v, n);
  if (b === null) return hex(v);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = dv.getUint16(SOCKADDR.sa_family, true);
  const fam = `sa_family=${named(AF, family)}`;
  switch (family) {
    case AF_UNIX: {
      if (n === SOCKADDR_UN.sun_path) return `{${fam}}`;
      const path = b.subarray(SOCKADDR_UN.sun_path);
      if (path[0] === 0) return `{${fam}, sun_path=@${quote(path.subarray(1), false)}}`;
      return `{${fam}, sun_path=${quote(untilNul(path), false)}}`;
    }
    case AF_INET:
      if (n < SOCKADDR_IN.sin_addr + 4) break;
      return `{${fam}, sin_port=htons(${dv.getUint16(SOCKADDR_IN.sin_port, false)}), sin_addr=inet_addr("${[...b.subarray(SOCKADDR_IN.sin_addr, SOCKADDR_IN.sin_addr + 4)].join('.')}")}`;
    case AF_INET6: {
      if (n < SOCKADDR_IN6.sin6_scope_id) break;
      const scope = n >= SOCKADDR_IN6.SIZE ? `, sin6_scope_id=${dv.getUint32(SOCKADDR_IN6.sin6_scope_id, true)}` : '';
      return `{${fam}, sin6_port=htons(${dv.getUint16(SOCKADDR_IN6.sin6_port, false)}), sin6_flowinfo=htonl(${dv.getUint32(SOCKADDR_IN6.sin6_flowinfo, false)}), `
        + `inet_pton(AF_INET6, "${ipv6(b.subarray(SOCKADDR_IN6.sin6_addr, SOCKADDR_IN6.sin6_addr + 16))}", &sin6_addr)${scope}}`;
    }
    case AF_NETLINK:
      if (n < SOCKADDR_NL.SIZE) break;
      return `{${fam}, nl_pid=${dv.getUint32(SOCKADDR_NL.nl_pid, true)}, nl_groups=${dv.getUint32(SOCKADDR_NL.nl_groups, true).toString(16).padStart(8, '0')}}`;
    default:
      break;
  }
  const data = b.subarray(SOCKADDR.sa_data);
  return `{${fam}, sa_data=${quote(data.subarray(0, STRING_LIMIT), data.length > STRING_LIMIT)}}`;
}

/** An iovec array; with `remaining`, buffers show only that many bytes in total (data the kernel wrote). */
function iovec(ctx: Ctx, v: bigint, count: number, remaining?: bigint): string {
  if (u64(v) === 0n) return 'NULL';
  if (count <= 0) return '[]';
  const shown = Math.min(count, ARRAY_LIMIT);
  const dv = readView(ctx.mem, v, shown * IOVEC.SIZE);
  if (dv === null) return hex(v);
  const items: string[] = [];
  let left = remaining;
  for (let i = 0; i < shown; i++) {
    const base = dv.getBigUint64(i * IOVEC.SIZE + IOVEC.iov_base, true);
    const len = dv.getBigUint64(i * IOVEC.SIZE + IOVEC.iov_len, true);
    let n = len;
    if (left !== undefined) {
      n = left < len ? left : len;
      left -= n;
    }
    items.push(`{iov_base=${buf(ctx, base, n)}, iov_len=${len}}`);
  }
  return list(items, count);
}

function pollfds(ctx: Ctx, v: bigint, count: number, revents: boolean): string {
  if (u64(v) === 0n) return 'NULL';
  const shown = Math.min(count, ARRAY_LIMIT);
  const dv = readView(ctx.mem, v, shown * POLLFD.SIZE);
  if (dv === null) return hex(v);
  const items: string[] = [];
  for (let i = 0; i < shown; i++) {
    const e = i * POLLFD.SIZE;
    const fd = dv.getInt32(e + POLLFD.fd, true);
    if (revents) {
      const re = dv.getUint16(e + POLLFD.revents, true);
      if (re !== 0) items.push(`{fd=${fd}, revents=${flags(re, POLL_EVENTS)}}`);
    } else {
      items.push(`{fd=${fd}, events=${flags(dv.getUint16(e + POLLFD.events, true), POLL_EVENTS)}}`);
    }
  }
  return revents ? `[${items.join(', ')}]` : list(items, count);
}

function msghdr(ctx: Ctx, v: bigint, remaining?: bigint): string {
  return struct(ctx, v, MSGHDR.SIZE, (dv) => {
    const name = dv.getBigUint64(MSGHDR.msg_name, true);
    const namelen = dv.getUint32(MSGHDR.msg_namelen, true);
    const iov = dv.getBigUint64(MSGHDR.msg_iov, true);
    const iovlen = dv.getBigUint64(MSGHDR.msg_iovlen, true);
    const control = dv.getBigUint64(MSGHDR.msg_control, true);
    const controllen = dv.getBigUint64(MSGHDR.msg_controllen, true);
    const count = iovlen > 1024n ? 1024 : Number(iovlen);
    const ctl = controllen > 0n ? `msg_control=${ptr(control)}, ` : '';
    return `{msg_name=${sockaddr(ctx, name, namelen)}, msg_namelen=${namelen}, msg_iov=${iovec(ctx, iov, count, remaining)}, `
      + `msg_iovlen=${iovlen}, ${ctl}msg_controllen=${controllen}, msg_flags=${flags(dv.getUint32(MSGHDR.msg_flags, true), MSG_FLAGS)}}`;
  });
}

/** A NULL-terminated array of string pointers (argv). */
function strv(ctx: Ctx, v: bigint): string {
  if (u64(v) === 0n) return 'NULL';
  const items: string[] = [];
  for (let i = 0; i <= ARRAY_LIMIT; i++) {
    const dv = readView(ctx.mem, v + BigInt(i * 8), 8);
    if (dv === null) return hex(v);
    const p = dv.getBigUint64(0, true);
    if (p === 0n) return `[${items.join(', ')}]`;
    if (i === ARRAY_LIMIT) return `[${items.join(', ')}, ...]`;
    items.push(cstr(ctx, p));
  }
  return hex(v);
}

/** An environment pointer: `0x... /* N vars *\/`. */
function envp(ctx: Ctx, v: bigint): string {
  if (u64(v) === 0n) return 'NULL';
  for (let i = 0; i < 4096; i++) {
    const dv = readView(ctx.mem, v + BigInt(i * 8), 8);
    if (dv === null) return hex(v);
    if (dv.getBigUint64(0, true) === 0n) return `${hex(v)} /* ${i} vars */`;
  }
  return hex(v);
}

/** The number of directory entries in `len` bytes of getdents output. */
function direntCount(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let count = 0;
  for (let off = 0; off + LINUX_DIRENT64.d_reclen + 2 <= b.length;) {
    const reclen = dv.getUint16(off + LINUX_DIRENT64.d_reclen, true);
    if (reclen === 0) break;
    count++;
    off += reclen;
  }
  return count;
}

// ---------------------------------------------------------------------------
// Arguments

/** The printed form of one argument, or null when strace would leave it out. */
function formatArg(spec: ArgSpec, v: bigint, ctx: Ctx): string | null {
  const kind: ArgKind = spec.kind;
  const refv = arg(ctx, spec.ref);
  const resultLen = (cap: bigint): number => Number(ctx.result < cap ? ctx.result : cap);
  switch (kind) {
    case 'int': return String(i32(v));
    case 'uint': return String(u32(v));
    case 'long': return s64(v).toString();
    case 'ulong':
    case 'len': return u64(v).toString();
    case 'hex': return hex(v);
    case 'ptr': return ptr(v);
    case 'fd': return String(i32(v));
    case 'dirfd': return i32(v) === AT_FDCWD ? 'AT_FDCWD' : String(i32(v));
    case 'uid': return u32(v) === 0xffffffff ? '-1' : String(u32(v));
    case 'mode': return octal(u32(v));

    case 'open_flags': return openFlags(v);
    case 'open_mode': {
      const f = u32(refv);
      return f & O_CREAT || f & __O_TMPFILE ? octal(u32(v)) : null;
    }
    case 'at_flags': return flags(u32(v), AT_FLAGS);
    case 'statx_flags': return flags(u32(v), AT_FLAGS, 'AT_STATX_SYNC_AS_STAT');
    case 'faccess_flags': return flags(u32(v), FACCESS_FLAGS);
    case 'access_mode': return flags(u32(v), ACCESS_MODE, 'F_OK');
    case 'mmap_prot': return flags(u32(v), PROT, 'PROT_NONE');
    case 'mmap_flags': return mmapFlags(v);
    case 'mremap_flags': return flags(u32(v), MREMAP);
    case 'msync_flags': return flags(u32(v), MSYNC);
    case 'madvise_advice': return named(MADVISE, i32(v));
    case 'clockid': return named(CLOCKS, i32(v));
    case 'timer_flags': return flags(u32(v), TIMER_FLAGS);
    case 'tfd_flags': return flags(u32(v), TFD_FLAGS);
    case 'tfd_settime_flags': return flags(u32(v), TFD_SETTIME);
    case 'efd_flags': return flags(u32(v), EFD_FLAGS);
    case 'epoll_flags': return flags(u32(v), EPOLL_CREATE);
    case 'in_flags': return flags(u32(v), IN_FLAGS);
    case 'mfd_flags': return flags(u32(v), MFD_FLAGS);
    case 'o_flags': return flags(u32(v), O_FLAGS);
    case 'sock_flags': return flags(u32(v), SOCK_FLAGS);
    case 'signal': return sigName(i32(v));
    case 'sigprocmask_how': return named(SIGPROCMASK_HOW, i32(v));
    case 'sockdomain': return named(AF, i32(v));
    case 'socktype': {
      const t = u32(v);
      const name = SOCK_TYPE[t & socket.SOCK_TYPE_MASK];
      const parts = name === undefined ? flagList(t, SOCK_FLAGS) : [name, ...flagList(t & ~socket.SOCK_TYPE_MASK, SOCK_FLAGS)];
      return parts.length === 0 ? '0' : parts.join('|');
    }
    case 'sockproto': {
      const domain = i32(refv);
      return domain === AF_INET || domain === AF_INET6 ? named(IPPROTO, i32(v)) : String(i32(v));
    }
    case 'msg_flags': return flags(u32(v), MSG_FLAGS);
    case 'shutdown_how': return named(SHUT, i32(v));
    case 'sockopt_level': return named(SOL, i32(v));
    case 'sockopt_name': {
      const names = SOCKOPTS[i32(refv)];
      return names === undefined ? String(i32(v)) : named(names, i32(v));
    }
    case 'fcntl_cmd': return named(FCNTL_CMDS, i32(v));
    case 'fcntl_arg': return fcntlArg(ctx, i32(refv), v);
    case 'ioctl_req': return IOCTLS[u32(v)] ?? hex(u32(v));
    case 'ioctl_arg': return ioctlArg(ctx, u32(refv), v);
    case 'whence': return named(WHENCE, i32(v));
    case 'epoll_op': return named(EPOLL_OPS, i32(v));
    case 'futex_op': return futexOp(v);
    case 'futex_val':
    case 'futex_timeout':
    case 'futex_uaddr2':
    case 'futex_val3': return futexArg(ctx, kind, u32(refv), v);
    case 'arch_prctl_code': return ARCH_PRCTL[i32(v)] ?? hex(u32(v));
    case 'prlimit_res': return named(RLIMITS, i32(v));
    case 'rusage_who': return named(RUSAGE_WHO, i32(v));
    case 'flock_op': return flags(u32(v), LOCK_OPS);
    case 'grnd_flags': return flags(u32(v), GRND);
    case 'rename_flags': return flags(u32(v), RENAME);
    case 'statx_mask': return flags(u32(v), STATX_MASK);

    case 'str': return cstr(ctx, v, PATH_LIMIT);
    case 'str_out': return ctx.ok ? cstr(ctx, v, PATH_LIMIT) : ptr(v);
    case 'strv': return strv(ctx, v);
    case 'envp': return envp(ctx, v);
    case 'buf_in': return buf(ctx, v, u64(refv));
    case 'buf_out': {
      if (!ctx.ok) return ptr(v);
      const len = u64(refv);
      return buf(ctx, v, ctx.result < len ? ctx.result : len);
    }
    case 'iovec_in': return iovec(ctx, v, i32(refv));
    case 'iovec_out': return ctx.ok ? iovec(ctx, v, i32(refv), ctx.result) : ptr(v);
    case 'pollfd': return pollfds(ctx, v, u32(refv), false);
    case 'sockaddr': return sockaddr(ctx, v, u32(refv));
    case 'sockaddr_out': {
      if (u64(v) === 0n || !ctx.ok) return ptr(v);
      const len = readU32(ctx.mem, refv);
      return len === null ? hex(v) : sockaddr(ctx, v, len);
    }
    case 'socklen_ptr': {
      if (u64(v) === 0n) return 'NULL';
      const len = readU32(ctx.mem, v);
      return len === null ? hex(v) : `[${len}]`;
    }
    case 'sockopt_val': {
      const len = u32(refv);
      return len === 4 ? struct(ctx, v, 4, (dv) => `[${dv.getInt32(0, true)}]`) : buf(ctx, v, BigInt(len));
    }
    case 'sockopt_val_out': {
      if (u64(v) === 0n || !ctx.ok) return ptr(v);
      const len = readU32(ctx.mem, refv);
      if (len === null) return hex(v);
      if (len !== 4) return buf(ctx, v, BigInt(len));
      const soError = i32(arg(ctx, 1)) === SOL_SOCKET && i32(arg(ctx, 2)) === SO_ERROR;
      return struct(ctx, v, 4, (dv) => {
        const n = dv.getInt32(0, true);
        return `[${soError && n > 0 ? errnoName(n) : n}]`;
      });
    }
    case 'msghdr': return msghdr(ctx, v);
    case 'msghdr_out': return ctx.ok ? msghdr(ctx, v, ctx.result) : ptr(v);
    case 'timespec': return struct(ctx, v, TIMESPEC.SIZE, (dv) => timespecAt(dv, 0));
    case 'timespec_out': return outStruct(ctx, v, TIMESPEC.SIZE, (dv) => timespecAt(dv, 0));
    case 'timeval': return struct(ctx, v, TIMEVAL.SIZE, (dv) => timevalAt(dv, 0));
    case 'timeval_out': return outStruct(ctx, v, TIMEVAL.SIZE, (dv) => timevalAt(dv, 0));
    case 'itimerspec': return struct(ctx, v, ITIMERSPEC.SIZE, itimerspec);
    case 'itimerspec_out': return outStruct(ctx, v, ITIMERSPEC.SIZE, itimerspec);
    case 'utimens': return struct(ctx, v, 2 * TIMESPEC.SIZE, utimens);
    case 'utimes': return struct(ctx, v, 2 * TIMEVAL.SIZE, (dv) => `[${timevalAt(dv, 0)}, ${timevalAt(dv, TIMEVAL.SIZE)}]`);
    case 'statbuf': return outStruct(ctx, v, STAT.SIZE, statbuf);
    // Only up to stx_size is shown, so only that much is read.
    case 'statxbuf': return outStruct(ctx, v, STATX.stx_size + 8, statxbuf);
    case 'rlimit': return struct(ctx, v, RLIMIT.SIZE, rlimit);
    case 'rlimit_out': return outStruct(ctx, v, RLIMIT.SIZE, rlimit);
    case 'rusage_out': return outStruct(ctx, v, RUSAGE.ru_stime + TIMEVAL.SIZE, (dv) =>
      `{ru_utime=${timevalAt(dv, RUSAGE.ru_utime)}, ru_stime=${timevalAt(dv, RUSAGE.ru_stime)}, ...}`);
    case 'tms_out': return outStruct(ctx, v, TMS.SIZE, (dv) =>
      `{tms_utime=${dv.getBigInt64(TMS.tms_utime, true)}, tms_stime=${dv.getBigInt64(TMS.tms_stime, true)}, tms_cutime=${dv.getBigInt64(TMS.tms_cutime, true)}, tms_cstime=${dv.getBigInt64(TMS.tms_cstime, true)}}`);
    case 'utsname_out': return outStruct(ctx, v, UTSNAME.nodename + UTSNAME.FIELD, (dv) => {
      const b = new Uint8Array(dv.buffer, dv.byteOffset, UTSNAME.nodename + UTSNAME.FIELD);
      const field = (off: number) => quote(untilNul(b.subarray(off, off + UTSNAME.FIELD)), false);
      return `{sysname=${field(UTSNAME.sysname)}, nodename=${field(UTSNAME.nodename)}, ...}`;
    });
    case 'sigset': return struct(ctx, v, SIGSET.SIZE, sigset);
    case 'sigset_out': return outStruct(ctx, v, SIGSET.SIZE, sigset);
    case 'sigaction': return struct(ctx, v, KERNEL_SIGACTION.SIZE, sigaction);
    case 'sigaction_out': return outStruct(ctx, v, KERNEL_SIGACTION.SIZE, sigaction);
    case 'stack_t': return struct(ctx, v, STACK_T.SIZE, stackT);
    case 'stack_t_out': return outStruct(ctx, v, STACK_T.SIZE, stackT);
    case 'epoll_event': return struct(ctx, v, EPOLL_EVENT.SIZE, (dv) => epollEventAt(dv, 0));
    case 'epoll_events_out': {
      if (!ctx.ok) return ptr(v);
      const count = resultLen(1024n);
      const shown = Math.min(count, ARRAY_LIMIT);
      return struct(ctx, v, shown * EPOLL_EVENT.SIZE, (dv) => {
        const items: string[] = [];
        for (let i = 0; i < shown; i++) items.push(epollEventAt(dv, i * EPOLL_EVENT.SIZE));
        return list(items, count);
      });
    }
    case 'fdpair_out': return outStruct(ctx, v, 8, (dv) => `[${dv.getInt32(0, true)}, ${dv.getInt32(4, true)}]`);
    case 'int_ptr': return struct(ctx, v, 4, (dv) => `[${dv.getInt32(0, true)}]`);
    case 'int_ptr_out': return outStruct(ctx, v, 4, (dv) => `[${dv.getInt32(0, true)}]`);
    case 'cpuset_out': {
      if (!ctx.ok) return ptr(v);
      const n = resultLen(1024n);
      return struct(ctx, v, n, (dv) => {
        const cpus: number[] = [];
        for (let i = 0; i < n * 8; i++) if ((dv.getUint8(i >> 3) >> (i & 7)) & 1) cpus.push(i);
        return `[${cpus.join(' ')}]`;
      });
    }
    case 'dirents_out': {
      if (!ctx.ok) return ptr(v);
      const b = readRaw(ctx.mem, v, resultLen(1n << 20n));
      return b === null ? hex(v) : `${hex(v)} /* ${direntCount(b)} entries */`;
    }
  }
}

function fcntlArg(ctx: Ctx, cmd: number, v: bigint): string | null {
  switch (cmd) {
    case F_GETFD: case F_GETFL: case F_GETOWN: case F_GETSIG: case F_GETLEASE: case F_GETPIPE_SZ: case F_GET_SEALS:
      return null;
    case F_SETFD: return flags(u32(v), FD_FLAGS);
    case F_SETFL: return openFlags(v);
    case F_GETLK: case F_SETLK: case F_SETLKW: case F_OFD_GETLK: case F_OFD_SETLK: case F_OFD_SETLKW:
      return struct(ctx, v, FLOCK.SIZE, flock);
    case F_SETSIG: return sigName(i32(v));
    case F_ADD_SEALS: return flags(u32(v), SEALS);
    case F_SETLEASE: return named(LOCK_TYPES, i32(v));
    case F_DUPFD: case F_DUPFD_CLOEXEC: case F_SETOWN: case F_SETPIPE_SZ:
      return String(i32(v));
    default: return hex(v);
  }
}

function ioctlArg(ctx: Ctx, req: number, v: bigint): string | null {
  const intIn = (): string => struct(ctx, v, 4, (dv) => `[${dv.getInt32(0, true)}]`);
  const intOut = (): string => outStruct(ctx, v, 4, (dv) => `[${dv.getInt32(0, true)}]`);
  switch (req) {
    case FIOCLEX: case FIONCLEX: case TIOCNOTTY: case TIOCEXCL: case TIOCNXCL:
      return null;
    case FIONBIO: case FIOASYNC: case TIOCSPGRP: case TIOCSPTLCK:
      return intIn();
    case FIONREAD: case TIOCOUTQ: case TIOCGPGRP: case TIOCGPTN: case TIOCMGET: case TIOCGSID:
      return intOut();
    case TIOCGWINSZ: return outStruct(ctx, v, WINSIZE.SIZE, winsize);
    case TIOCSWINSZ: return struct(ctx, v, WINSIZE.SIZE, winsize);
    case TCSBRK: case TCXONC: case TCFLSH: case TIOCSCTTY:
      return String(i32(v));
    default: return hex(v);
  }
}

function futexArg(ctx: Ctx, kind: 'futex_val' | 'futex_timeout' | 'futex_uaddr2' | 'futex_val3', op: number, v: bigint): string | null {
  const cmd = op & FUTEX_CMD_BITS;
  const arity = FUTEX_ARITY[cmd] ?? 6;
  switch (kind) {
    case 'futex_val': return arity > 2 ? String(u32(v)) : null;
    case 'futex_timeout':
      if (arity <= 3) return null;
      return FUTEX_TIMED.has(cmd) ? struct(ctx, v, TIMESPEC.SIZE, (dv) => timespecAt(dv, 0)) : String(u32(v));
    case 'futex_uaddr2': return arity > 4 ? ptr(v) : null;
    case 'futex_val3':
      if (arity <= 5) return null;
      if (cmd === FUTEX_WAIT_BITSET || cmd === FUTEX_WAKE_BITSET) {
        return u32(v) === FUTEX_BITSET_MATCH_ANY ? 'FUTEX_BITSET_MATCH_ANY' : hex(u32(v));
      }
      return cmd === FUTEX_WAKE_OP ? hex(u32(v)) : String(u32(v));
  }
}

// ---------------------------------------------------------------------------
// Public API

function makeCtx(args: readonly bigint[], mem: TraceMemory, phase: 'enter' | 'exit', result: bigint | undefined): Ctx {
  const exit = phase === 'exit' && result !== undefined;
  const r = result ?? 0n;
  return { mem, args, exit, result: s64(r), ok: exit && errnoOf(r) === undefined };
}

function argsText(info: SyscallInfo | undefined, ctx: Ctx): string {
  if (info === undefined) return [0, 1, 2, 3, 4, 5].map((i) => hex(arg(ctx, i))).join(', ');
  const parts: string[] = [];
  info.args.forEach((spec, i) => {
    const v = arg(ctx, i);
    let s: string | null;
    try {
      s = formatArg(spec, v, ctx);
    } catch {
      s = hex(v);
    }
    if (s !== null) parts.push(s);
  });
  return parts.join(', ');
}

/**
 * The comma-separated arguments of a call, as inside strace's parentheses.
 * `info` undefined (unknown syscall) prints all six registers in hex.
 * In the `enter` phase, or when `result` is an error, memory the kernel
 * writes is shown as pointers; in the `exit` phase with a successful
 * `result` it is decoded (`buf_out` shows `result` bytes).
 * @param nr syscall number (only used when `info` is undefined)
 * @param args the six raw argument registers (missing ones read as 0)
 */
export function formatArgs(
  info: SyscallInfo | undefined, nr: number, args: readonly bigint[], mem: TraceMemory, phase: 'enter' | 'exit', result?: bigint,
): string {
  return argsText(info, makeCtx(args, mem, phase, result));
}

function resultText(kind: RetKind, result: bigint): string {
  if (kind === 'none') return '?';
  const e = errnoOf(result);
  if (e !== undefined) return `-1 ${errnoName(e)} (${strerror(e)})`;
  switch (kind) {
    case 'hex': return hex(result);
    case 'octal': return octal(Number(u64(result) & 0xffffffffn));
    case 'int':
    case 'fd': return s64(result).toString();
  }
}

/**
 * The result as strace prints it after ` = `: `3`, `0x7f0000000000`,
 * `-1 ENOENT (No such file or directory)`, or `?` for calls that do not
 * return. `result` is the raw rax value (signed or unsigned 64-bit).
 */
export function formatResult(info: SyscallInfo | undefined, result: bigint): string {
  return resultText(info?.ret ?? 'int', result);
}

const TIMED_WAITS: ReadonlySet<string> = new Set(['poll', 'ppoll', 'select', 'pselect6']);

/** The result plus strace's decoded extras: poll revents, `(Timeout)`, fcntl F_GETFL/F_GETFD flags. */
function resultWithDetail(info: SyscallInfo | undefined, ctx: Ctx): string {
  const base = formatResult(info, ctx.result);
  if (info === undefined || !ctx.ok) return base;
  if (ctx.result === 0n && TIMED_WAITS.has(info.name)) return `${base} (Timeout)`;
  try {
    const pollSpec = info.args[0];
    if (pollSpec?.kind === 'pollfd' && ctx.result > 0n) {
      return `${base} (${pollfds(ctx, arg(ctx, 0), u32(arg(ctx, pollSpec.ref)), true)})`;
    }
    if (info.args[1]?.kind === 'fcntl_cmd' && ctx.result > 0n) {
      const cmd = i32(arg(ctx, 1));
      if (cmd === F_GETFL) return `${hex(ctx.result)} (flags ${openFlags(ctx.result)})`;
      if (cmd === F_GETFD) return `${hex(ctx.result)} (flags ${flags(ctx.result, FD_FLAGS)})`;
    }
  } catch {
    // fall through to the plain result
  }
  return base;
}

/**
 * One complete strace-like line (without newline) for a call and the
 * policy verdict:
 * - `allow`: `name(args) = result`;
 * - `log`: the same followed by ` <logged>`;
 * - `deny`: arguments as at entry, then ` = -1 EPERM (Operation not permitted) <denied by policy>`
 *   (`result` is the errno result the guest receives, normally -EPERM);
 * - `kill`: arguments as at entry, then ` = ? <killed by policy>` (`result` is ignored).
 */
export function formatTraceLine(
  info: SyscallInfo | undefined, nr: number, args: readonly bigint[], mem: TraceMemory, result: bigint, verdict: Verdict,
): string {
  const name = info?.name ?? syscallName(nr);
  const ran = verdict === 'allow' || verdict === 'log';
  const ctx = makeCtx(args, mem, ran ? 'exit' : 'enter', result);
  const head = `${name}(${argsText(info, ctx)}) = `;
  switch (verdict) {
    case 'kill': return `${head}? <killed by policy>`;
    case 'deny': return `${head}${resultText('int', result)} <denied by policy>`;
    case 'log': return `${head}${resultWithDetail(info, ctx)} <logged>`;
    case 'allow': return head + resultWithDetail(info, ctx);
  }
}
