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
// Flag and enum tables (x86-64 values)

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

const O_CREAT = 0o100;
const O_TMPFILE_BIT = 0o20000000;
const OPEN_ACCMODE: Names = { 0: 'O_RDONLY', 1: 'O_WRONLY', 2: 'O_RDWR', 3: 'O_ACCMODE' };
const OPEN_FLAGS: Flags = [
  [O_CREAT, 'O_CREAT'], [0o200, 'O_EXCL'], [0o400, 'O_NOCTTY'], [0o1000, 'O_TRUNC'], [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'], [0o4010000, 'O_SYNC'], [0o10000, 'O_DSYNC'], [0o20000, 'O_ASYNC'], [0o40000, 'O_DIRECT'],
  [0o100000, 'O_LARGEFILE'], [0o1000000, 'O_NOATIME'], [0o2000000, 'O_CLOEXEC'], [0o20200000, 'O_TMPFILE'],
  [0o200000, 'O_DIRECTORY'], [0o400000, 'O_NOFOLLOW'], [0o10000000, 'O_PATH'],
];
const O_FLAGS: Flags = [[0o4000, 'O_NONBLOCK'], [0o40000, 'O_DIRECT'], [0o2000000, 'O_CLOEXEC']];

function openFlags(v: bigint): string {
  const f = u32(v);
  return [OPEN_ACCMODE[f & 3] ?? '', ...flagList(f & ~3, OPEN_FLAGS)].join('|');
}

const AT_FDCWD = -100;
const AT_FLAGS: Flags = [
  [0x100, 'AT_SYMLINK_NOFOLLOW'], [0x200, 'AT_REMOVEDIR'], [0x400, 'AT_SYMLINK_FOLLOW'], [0x800, 'AT_NO_AUTOMOUNT'],
  [0x1000, 'AT_EMPTY_PATH'], [0x2000, 'AT_STATX_FORCE_SYNC'], [0x4000, 'AT_STATX_DONT_SYNC'], [0x8000, 'AT_RECURSIVE'],
];
const FACCESS_FLAGS: Flags = [[0x100, 'AT_SYMLINK_NOFOLLOW'], [0x200, 'AT_EACCESS'], [0x1000, 'AT_EMPTY_PATH']];
const ACCESS_MODE: Flags = [[4, 'R_OK'], [2, 'W_OK'], [1, 'X_OK']];

const PROT: Flags = [[1, 'PROT_READ'], [2, 'PROT_WRITE'], [4, 'PROT_EXEC'], [8, 'PROT_SEM'], [0x01000000, 'PROT_GROWSDOWN'], [0x02000000, 'PROT_GROWSUP']];
const MAP_TYPE: Names = { 1: 'MAP_SHARED', 2: 'MAP_PRIVATE', 3: 'MAP_SHARED_VALIDATE' };
const MAP_FLAGS: Flags = [
  [0x10, 'MAP_FIXED'], [0x20, 'MAP_ANONYMOUS'], [0x40, 'MAP_32BIT'], [0x100, 'MAP_GROWSDOWN'], [0x800, 'MAP_DENYWRITE'],
  [0x1000, 'MAP_EXECUTABLE'], [0x2000, 'MAP_LOCKED'], [0x4000, 'MAP_NORESERVE'], [0x8000, 'MAP_POPULATE'],
  [0x10000, 'MAP_NONBLOCK'], [0x20000, 'MAP_STACK'], [0x40000, 'MAP_HUGETLB'], [0x80000, 'MAP_SYNC'],
  [0x100000, 'MAP_FIXED_NOREPLACE'], [0x4000000, 'MAP_UNINITIALIZED'],
];

function mmapFlags(v: bigint): string {
  const f = u32(v);
  const type = MAP_TYPE[f & 0xf];
  const parts = type === undefined ? flagList(f, MAP_FLAGS) : [type, ...flagList(f & ~0xf, MAP_FLAGS)];
  return parts.length === 0 ? '0' : parts.join('|');
}

const MREMAP: Flags = [[1, 'MREMAP_MAYMOVE'], [2, 'MREMAP_FIXED'], [4, 'MREMAP_DONTUNMAP']];
const MSYNC: Flags = [[1, 'MS_ASYNC'], [2, 'MS_INVALIDATE'], [4, 'MS_SYNC']];
const MADVISE: Names = {
  0: 'MADV_NORMAL', 1: 'MADV_RANDOM', 2: 'MADV_SEQUENTIAL', 3: 'MADV_WILLNEED', 4: 'MADV_DONTNEED', 8: 'MADV_FREE',
  9: 'MADV_REMOVE', 10: 'MADV_DONTFORK', 11: 'MADV_DOFORK', 12: 'MADV_MERGEABLE', 13: 'MADV_UNMERGEABLE',
  14: 'MADV_HUGEPAGE', 15: 'MADV_NOHUGEPAGE', 16: 'MADV_DONTDUMP', 17: 'MADV_DODUMP', 18: 'MADV_WIPEONFORK',
  19: 'MADV_KEEPONFORK', 20: 'MADV_COLD', 21: 'MADV_PAGEOUT', 22: 'MADV_POPULATE_READ', 23: 'MADV_POPULATE_WRITE',
  24: 'MADV_DONTNEED_LOCKED', 25: 'MADV_COLLAPSE', 100: 'MADV_HWPOISON', 101: 'MADV_SOFT_OFFLINE',
  102: 'MADV_GUARD_INSTALL', 103: 'MADV_GUARD_REMOVE',
};

const CLOCKS: Names = {
  0: 'CLOCK_REALTIME', 1: 'CLOCK_MONOTONIC', 2: 'CLOCK_PROCESS_CPUTIME_ID', 3: 'CLOCK_THREAD_CPUTIME_ID',
  4: 'CLOCK_MONOTONIC_RAW', 5: 'CLOCK_REALTIME_COARSE', 6: 'CLOCK_MONOTONIC_COARSE', 7: 'CLOCK_BOOTTIME',
  8: 'CLOCK_REALTIME_ALARM', 9: 'CLOCK_BOOTTIME_ALARM', 11: 'CLOCK_TAI',
};
const TIMER_FLAGS: Flags = [[1, 'TIMER_ABSTIME']];
const TFD_FLAGS: Flags = [[0o4000, 'TFD_NONBLOCK'], [0o2000000, 'TFD_CLOEXEC']];
const TFD_SETTIME: Flags = [[1, 'TFD_TIMER_ABSTIME'], [2, 'TFD_TIMER_CANCEL_ON_SET']];
const EFD_FLAGS: Flags = [[1, 'EFD_SEMAPHORE'], [0o4000, 'EFD_NONBLOCK'], [0o2000000, 'EFD_CLOEXEC']];
const EPOLL_CREATE: Flags = [[0o2000000, 'EPOLL_CLOEXEC']];
const IN_FLAGS: Flags = [[0o4000, 'IN_NONBLOCK'], [0o2000000, 'IN_CLOEXEC']];
const MFD_FLAGS: Flags = [[1, 'MFD_CLOEXEC'], [2, 'MFD_ALLOW_SEALING'], [4, 'MFD_HUGETLB'], [8, 'MFD_NOEXEC_SEAL'], [0x10, 'MFD_EXEC']];
const SOCK_FLAGS: Flags = [[0o2000000, 'SOCK_CLOEXEC'], [0o4000, 'SOCK_NONBLOCK']];
const GRND: Flags = [[1, 'GRND_NONBLOCK'], [2, 'GRND_RANDOM'], [4, 'GRND_INSECURE']];
const RENAME: Flags = [[1, 'RENAME_NOREPLACE'], [2, 'RENAME_EXCHANGE'], [4, 'RENAME_WHITEOUT']];
const LOCK_OPS: Flags = [[1, 'LOCK_SH'], [2, 'LOCK_EX'], [4, 'LOCK_NB'], [8, 'LOCK_UN']];
const STATX_MASK: Flags = [
  [0xfff, 'STATX_ALL'], [0x7ff, 'STATX_BASIC_STATS'], [1, 'STATX_TYPE'], [2, 'STATX_MODE'], [4, 'STATX_NLINK'],
  [8, 'STATX_UID'], [0x10, 'STATX_GID'], [0x20, 'STATX_ATIME'], [0x40, 'STATX_MTIME'], [0x80, 'STATX_CTIME'],
  [0x100, 'STATX_INO'], [0x200, 'STATX_SIZE'], [0x400, 'STATX_BLOCKS'], [0x800, 'STATX_BTIME'],
  [0x1000, 'STATX_MNT_ID'], [0x2000, 'STATX_DIOALIGN'], [0x4000, 'STATX_MNT_ID_UNIQUE'], [0x8000, 'STATX_SUBVOL'],
  [0x10000, 'STATX_WRITE_ATOMIC'], [0x20000, 'STATX_DIO_READ_ALIGN'],
];

const SIGNALS: Names = {
  1: 'HUP', 2: 'INT', 3: 'QUIT', 4: 'ILL', 5: 'TRAP', 6: 'ABRT', 7: 'BUS', 8: 'FPE', 9: 'KILL', 10: 'USR1',
  11: 'SEGV', 12: 'USR2', 13: 'PIPE', 14: 'ALRM', 15: 'TERM', 16: 'STKFLT', 17: 'CHLD', 18: 'CONT', 19: 'STOP',
  20: 'TSTP', 21: 'TTIN', 22: 'TTOU', 23: 'URG', 24: 'XCPU', 25: 'XFSZ', 26: 'VTALRM', 27: 'PROF', 28: 'WINCH',
  29: 'IO', 30: 'PWR', 31: 'SYS',
};

/** A signal without the SIG prefix, as in sigset listings: `INT`, `RTMIN`, `RT_1`. */
function sigShort(n: number): string {
  if (n === 32) return 'RTMIN';
  if (n > 32 && n <= 64) return `RT_${n - 32}`;
  return SIGNALS[n] ?? String(n);
}

/** A signal number as an argument: `SIGINT`, `SIGRTMIN`, `SIGRT_2`, or decimal (0 stays `0`). */
function sigName(n: number): string {
  return n >= 1 && n <= 64 ? `SIG${sigShort(n)}` : String(n);
}

const SIGPROCMASK_HOW: Names = { 0: 'SIG_BLOCK', 1: 'SIG_UNBLOCK', 2: 'SIG_SETMASK' };
const SA_FLAGS: Flags = [
  [1, 'SA_NOCLDSTOP'], [2, 'SA_NOCLDWAIT'], [4, 'SA_SIGINFO'], [0x400, 'SA_UNSUPPORTED'], [0x800, 'SA_EXPOSE_TAGBITS'],
  [0x04000000, 'SA_RESTORER'], [0x08000000, 'SA_ONSTACK'], [0x10000000, 'SA_RESTART'], [0x40000000, 'SA_NODEFER'],
  [0x80000000, 'SA_RESETHAND'],
];
const SA_RESTORER = 0x04000000;
const SS_FLAGS: Flags = [[1, 'SS_ONSTACK'], [2, 'SS_DISABLE'], [0x80000000, 'SS_AUTODISARM']];

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const AF: Names = {
  0: 'AF_UNSPEC', [AF_UNIX]: 'AF_UNIX', [AF_INET]: 'AF_INET', 4: 'AF_IPX', 5: 'AF_APPLETALK', 7: 'AF_BRIDGE',
  [AF_INET6]: 'AF_INET6', 15: 'AF_KEY', [AF_NETLINK]: 'AF_NETLINK', 17: 'AF_PACKET', 29: 'AF_CAN', 31: 'AF_BLUETOOTH',
  38: 'AF_ALG', 40: 'AF_VSOCK', 44: 'AF_XDP', 45: 'AF_MCTP',
};
const SOCK_TYPE: Names = { 1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 3: 'SOCK_RAW', 4: 'SOCK_RDM', 5: 'SOCK_SEQPACKET', 6: 'SOCK_DCCP', 10: 'SOCK_PACKET' };
const IPPROTO: Names = {
  0: 'IPPROTO_IP', 1: 'IPPROTO_ICMP', 6: 'IPPROTO_TCP', 17: 'IPPROTO_UDP', 41: 'IPPROTO_IPV6', 58: 'IPPROTO_ICMPV6',
  132: 'IPPROTO_SCTP', 136: 'IPPROTO_UDPLITE', 255: 'IPPROTO_RAW', 262: 'IPPROTO_MPTCP',
};
const MSG_FLAGS: Flags = [
  [1, 'MSG_OOB'], [2, 'MSG_PEEK'], [4, 'MSG_DONTROUTE'], [8, 'MSG_CTRUNC'], [0x10, 'MSG_PROXY'], [0x20, 'MSG_TRUNC'],
  [0x40, 'MSG_DONTWAIT'], [0x80, 'MSG_EOR'], [0x100, 'MSG_WAITALL'], [0x200, 'MSG_FIN'], [0x400, 'MSG_SYN'],
  [0x800, 'MSG_CONFIRM'], [0x1000, 'MSG_RST'], [0x2000, 'MSG_ERRQUEUE'], [0x4000, 'MSG_NOSIGNAL'], [0x8000, 'MSG_MORE'],
  [0x10000, 'MSG_WAITFORONE'], [0x40000, 'MSG_BATCH'], [0x4000000, 'MSG_ZEROCOPY'], [0x20000000, 'MSG_FASTOPEN'],
  [0x40000000, 'MSG_CMSG_CLOEXEC'],
];
const SHUT: Names = { 0: 'SHUT_RD', 1: 'SHUT_WR', 2: 'SHUT_RDWR' };
const SOL_SOCKET = 1;
const SO_ERROR = 4;
const SOL: Names = { 0: 'SOL_IP', [SOL_SOCKET]: 'SOL_SOCKET', 6: 'SOL_TCP', 17: 'SOL_UDP', 41: 'SOL_IPV6', 255: 'SOL_RAW', 263: 'SOL_PACKET', 270: 'SOL_NETLINK' };
const SOCKOPTS: Readonly<Record<number, Names>> = {
  [SOL_SOCKET]: {
    1: 'SO_DEBUG', 2: 'SO_REUSEADDR', 3: 'SO_TYPE', [SO_ERROR]: 'SO_ERROR', 5: 'SO_DONTROUTE', 6: 'SO_BROADCAST',
    7: 'SO_SNDBUF', 8: 'SO_RCVBUF', 9: 'SO_KEEPALIVE', 10: 'SO_OOBINLINE', 11: 'SO_NO_CHECK', 12: 'SO_PRIORITY',
    13: 'SO_LINGER', 14: 'SO_BSDCOMPAT', 15: 'SO_REUSEPORT', 16: 'SO_PASSCRED', 17: 'SO_PEERCRED', 18: 'SO_RCVLOWAT',
    19: 'SO_SNDLOWAT', 20: 'SO_RCVTIMEO_OLD', 21: 'SO_SNDTIMEO_OLD', 25: 'SO_BINDTODEVICE', 29: 'SO_TIMESTAMP_OLD',
    30: 'SO_ACCEPTCONN', 32: 'SO_SNDBUFFORCE', 33: 'SO_RCVBUFFORCE', 38: 'SO_PROTOCOL', 39: 'SO_DOMAIN',
    66: 'SO_RCVTIMEO_NEW', 67: 'SO_SNDTIMEO_NEW',
  },
  6: {
    1: 'TCP_NODELAY', 2: 'TCP_MAXSEG', 3: 'TCP_CORK', 4: 'TCP_KEEPIDLE', 5: 'TCP_KEEPINTVL', 6: 'TCP_KEEPCNT',
    7: 'TCP_SYNCNT', 8: 'TCP_LINGER2', 9: 'TCP_DEFER_ACCEPT', 10: 'TCP_WINDOW_CLAMP', 11: 'TCP_INFO', 12: 'TCP_QUICKACK',
    13: 'TCP_CONGESTION', 18: 'TCP_USER_TIMEOUT', 23: 'TCP_FASTOPEN',
  },
  0: { 1: 'IP_TOS', 2: 'IP_TTL', 3: 'IP_HDRINCL', 4: 'IP_OPTIONS', 10: 'IP_MTU_DISCOVER', 11: 'IP_RECVERR', 33: 'IP_MULTICAST_TTL', 35: 'IP_ADD_MEMBERSHIP' },
  41: { 16: 'IPV6_UNICAST_HOPS', 18: 'IPV6_MULTICAST_HOPS', 25: 'IPV6_RECVERR', 26: 'IPV6_V6ONLY' },
};

const F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7;
const F_SETOWN = 8, F_GETOWN = 9, F_SETSIG = 10, F_GETSIG = 11;
const F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_OFD_SETLKW = 38, F_SETLEASE = 1024, F_GETLEASE = 1025;
const F_DUPFD_CLOEXEC = 1030, F_SETPIPE_SZ = 1031, F_GETPIPE_SZ = 1032, F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
const FCNTL_CMDS: Names = {
  [F_DUPFD]: 'F_DUPFD', [F_GETFD]: 'F_GETFD', [F_SETFD]: 'F_SETFD', [F_GETFL]: 'F_GETFL', [F_SETFL]: 'F_SETFL',
  [F_GETLK]: 'F_GETLK', [F_SETLK]: 'F_SETLK', [F_SETLKW]: 'F_SETLKW', [F_SETOWN]: 'F_SETOWN', [F_GETOWN]: 'F_GETOWN',
  [F_SETSIG]: 'F_SETSIG', [F_GETSIG]: 'F_GETSIG', 15: 'F_SETOWN_EX', 16: 'F_GETOWN_EX', 17: 'F_GETOWNER_UIDS',
  [F_OFD_GETLK]: 'F_OFD_GETLK', [F_OFD_SETLK]: 'F_OFD_SETLK', [F_OFD_SETLKW]: 'F_OFD_SETLKW',
  [F_SETLEASE]: 'F_SETLEASE', [F_GETLEASE]: 'F_GETLEASE', 1026: 'F_NOTIFY', 1027: 'F_DUPFD_QUERY',
  1028: 'F_CREATED_QUERY', [F_DUPFD_CLOEXEC]: 'F_DUPFD_CLOEXEC', [F_SETPIPE_SZ]: 'F_SETPIPE_SZ',
  [F_GETPIPE_SZ]: 'F_GETPIPE_SZ', [F_ADD_SEALS]: 'F_ADD_SEALS', [F_GET_SEALS]: 'F_GET_SEALS',
  1035: 'F_GET_RW_HINT', 1036: 'F_SET_RW_HINT', 1037: 'F_GET_FILE_RW_HINT', 1038: 'F_SET_FILE_RW_HINT',
};
const FD_FLAGS: Flags = [[1, 'FD_CLOEXEC']];
const SEALS: Flags = [[1, 'F_SEAL_SEAL'], [2, 'F_SEAL_SHRINK'], [4, 'F_SEAL_GROW'], [8, 'F_SEAL_WRITE'], [0x10, 'F_SEAL_FUTURE_WRITE'], [0x20, 'F_SEAL_EXEC']];
const LOCK_TYPES: Names = { 0: 'F_RDLCK', 1: 'F_WRLCK', 2: 'F_UNLCK' };
const WHENCE: Names = { 0: 'SEEK_SET', 1: 'SEEK_CUR', 2: 'SEEK_END', 3: 'SEEK_DATA', 4: 'SEEK_HOLE' };

const TCGETS = 0x5401, TIOCGPGRP = 0x540f, TIOCSPGRP = 0x5410, TIOCOUTQ = 0x5411, TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414, TIOCMGET = 0x5415, FIONREAD = 0x541b, FIONBIO = 0x5421, TIOCNOTTY = 0x5422;
const TIOCEXCL = 0x540c, TIOCNXCL = 0x540d, TIOCSCTTY = 0x540e, TCSBRK = 0x5409, TCXONC = 0x540a, TCFLSH = 0x540b;
const TIOCGSID = 0x5429, FIONCLEX = 0x5450, FIOCLEX = 0x5451, FIOASYNC = 0x5452;
const TIOCGPTN = 0x80045430, TIOCSPTLCK = 0x40045431;
const IOCTLS: Names = {
  [TCGETS]: 'TCGETS', 0x5402: 'TCSETS', 0x5403: 'TCSETSW', 0x5404: 'TCSETSF', 0x5405: 'TCGETA', 0x5406: 'TCSETA',
  0x5407: 'TCSETAW', 0x5408: 'TCSETAF', [TCSBRK]: 'TCSBRK', [TCXONC]: 'TCXONC', [TCFLSH]: 'TCFLSH',
  [TIOCEXCL]: 'TIOCEXCL', [TIOCNXCL]: 'TIOCNXCL', [TIOCSCTTY]: 'TIOCSCTTY', [TIOCGPGRP]: 'TIOCGPGRP',
  [TIOCSPGRP]: 'TIOCSPGRP', [TIOCOUTQ]: 'TIOCOUTQ', 0x5412: 'TIOCSTI', [TIOCGWINSZ]: 'TIOCGWINSZ',
  [TIOCSWINSZ]: 'TIOCSWINSZ', [TIOCMGET]: 'TIOCMGET', [FIONREAD]: 'FIONREAD', 0x541c: 'TIOCLINUX',
  0x541d: 'TIOCCONS', [FIONBIO]: 'FIONBIO', [TIOCNOTTY]: 'TIOCNOTTY', [TIOCGSID]: 'TIOCGSID',
  0x802c542a: 'TCGETS2', 0x402c542b: 'TCSETS2', 0x5441: 'TIOCGPTPEER', [FIONCLEX]: 'FIONCLEX',
  [FIOCLEX]: 'FIOCLEX', [FIOASYNC]: 'FIOASYNC', 0x5460: 'FIOQSIZE', [TIOCGPTN]: 'TIOCGPTN',
  [TIOCSPTLCK]: 'TIOCSPTLCK', 0x40049409: 'FICLONE',
};

const EPOLL_OPS: Names = { 1: 'EPOLL_CTL_ADD', 2: 'EPOLL_CTL_DEL', 3: 'EPOLL_CTL_MOD' };
const EPOLL_EVENTS: Flags = [
  [1, 'EPOLLIN'], [2, 'EPOLLPRI'], [4, 'EPOLLOUT'], [8, 'EPOLLERR'], [0x10, 'EPOLLHUP'], [0x20, 'EPOLLNVAL'],
  [0x40, 'EPOLLRDNORM'], [0x80, 'EPOLLRDBAND'], [0x100, 'EPOLLWRNORM'], [0x200, 'EPOLLWRBAND'], [0x400, 'EPOLLMSG'],
  [0x2000, 'EPOLLRDHUP'], [0x10000000, 'EPOLLEXCLUSIVE'], [0x20000000, 'EPOLLWAKEUP'], [0x40000000, 'EPOLLONESHOT'],
  [0x80000000, 'EPOLLET'],
];
const POLL_EVENTS: Flags = [
  [1, 'POLLIN'], [2, 'POLLPRI'], [4, 'POLLOUT'], [8, 'POLLERR'], [0x10, 'POLLHUP'], [0x20, 'POLLNVAL'],
  [0x40, 'POLLRDNORM'], [0x80, 'POLLRDBAND'], [0x100, 'POLLWRNORM'], [0x200, 'POLLWRBAND'], [0x400, 'POLLMSG'],
  [0x1000, 'POLLREMOVE'], [0x2000, 'POLLRDHUP'],
];

const FUTEX_PRIVATE = 128, FUTEX_CLOCK_REALTIME = 256;
const FUTEX_WAIT = 0, FUTEX_CMP_REQUEUE = 4, FUTEX_WAKE_OP = 5, FUTEX_LOCK_PI = 6, FUTEX_WAIT_BITSET = 9;
const FUTEX_WAKE_BITSET = 10, FUTEX_WAIT_REQUEUE_PI = 11, FUTEX_CMP_REQUEUE_PI = 12, FUTEX_LOCK_PI2 = 13;
const FUTEX_CMDS: Names = {
  [FUTEX_WAIT]: 'FUTEX_WAIT', 1: 'FUTEX_WAKE', 2: 'FUTEX_FD', 3: 'FUTEX_REQUEUE', [FUTEX_CMP_REQUEUE]: 'FUTEX_CMP_REQUEUE',
  [FUTEX_WAKE_OP]: 'FUTEX_WAKE_OP', [FUTEX_LOCK_PI]: 'FUTEX_LOCK_PI', 7: 'FUTEX_UNLOCK_PI', 8: 'FUTEX_TRYLOCK_PI',
  [FUTEX_WAIT_BITSET]: 'FUTEX_WAIT_BITSET', [FUTEX_WAKE_BITSET]: 'FUTEX_WAKE_BITSET',
  [FUTEX_WAIT_REQUEUE_PI]: 'FUTEX_WAIT_REQUEUE_PI', [FUTEX_CMP_REQUEUE_PI]: 'FUTEX_CMP_REQUEUE_PI',
  [FUTEX_LOCK_PI2]: 'FUTEX_LOCK_PI2',
};
/** How many futex arguments each command uses (index = command). */
const FUTEX_ARITY: readonly number[] = [4, 3, 3, 5, 6, 6, 4, 2, 2, 6, 6, 5, 6, 4];
const FUTEX_TIMED: ReadonlySet<number> = new Set([FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI]);

function futexOp(v: bigint): string {
  const op = u32(v);
  const name = FUTEX_CMDS[op & 0x7f];
  if (name === undefined) return hex(op);
  const parts = [op & FUTEX_PRIVATE ? `${name}_PRIVATE` : name];
  if (op & FUTEX_CLOCK_REALTIME) parts.push('FUTEX_CLOCK_REALTIME');
  const rest = op & ~(0x7f | FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME);
  if (rest !== 0) parts.push(hex(rest));
  return parts.join('|');
}

const ARCH_PRCTL: Names = {
  0x1001: 'ARCH_SET_GS', 0x1002: 'ARCH_SET_FS', 0x1003: 'ARCH_GET_FS', 0x1004: 'ARCH_GET_GS',
  0x1011: 'ARCH_GET_CPUID', 0x1012: 'ARCH_SET_CPUID', 0x1021: 'ARCH_GET_XCOMP_SUPP', 0x1022: 'ARCH_GET_XCOMP_PERM',
  0x1023: 'ARCH_REQ_XCOMP_PERM', 0x1024: 'ARCH_GET_XCOMP_GUEST_PERM', 0x1025: 'ARCH_REQ_XCOMP_GUEST_PERM',
  0x2001: 'ARCH_MAP_VDSO_X32', 0x2002: 'ARCH_MAP_VDSO_32', 0x2003: 'ARCH_MAP_VDSO_64',
  0x4001: 'ARCH_GET_UNTAG_MASK', 0x4002: 'ARCH_ENABLE_TAGGED_ADDR', 0x4003: 'ARCH_GET_MAX_TAG_BITS',
  0x4004: 'ARCH_FORCE_TAGGED_SVA', 0x5001: 'ARCH_SHSTK_ENABLE', 0x5002: 'ARCH_SHSTK_DISABLE',
  0x5003: 'ARCH_SHSTK_LOCK', 0x5004: 'ARCH_SHSTK_UNLOCK', 0x5005: 'ARCH_SHSTK_STATUS',
};
const RLIMITS: Names = {
  0: 'RLIMIT_CPU', 1: 'RLIMIT_FSIZE', 2: 'RLIMIT_DATA', 3: 'RLIMIT_STACK', 4: 'RLIMIT_CORE', 5: 'RLIMIT_RSS',
  6: 'RLIMIT_NPROC', 7: 'RLIMIT_NOFILE', 8: 'RLIMIT_MEMLOCK', 9: 'RLIMIT_AS', 10: 'RLIMIT_LOCKS',
  11: 'RLIMIT_SIGPENDING', 12: 'RLIMIT_MSGQUEUE', 13: 'RLIMIT_NICE', 14: 'RLIMIT_RTPRIO', 15: 'RLIMIT_RTTIME',
};
const RUSAGE_WHO: Names = { 0: 'RUSAGE_SELF', [-1]: 'RUSAGE_CHILDREN', 1: 'RUSAGE_THREAD' };

const S_IFMT = 0o170000;
const S_IFCHR = 0o020000, S_IFBLK = 0o060000;
const FILE_TYPES: Names = {
  0o140000: 'S_IFSOCK', 0o120000: 'S_IFLNK', 0o100000: 'S_IFREG', [S_IFBLK]: 'S_IFBLK', 0o040000: 'S_IFDIR',
  [S_IFCHR]: 'S_IFCHR', 0o010000: 'S_IFIFO',
};

/** `S_IFREG|0644`. */
function fileMode(m: number): string {
  const type = m & S_IFMT;
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

const UTIME_NOW = (1n << 30n) - 1n;
const UTIME_OMIT = (1n << 30n) - 2n;
const RLIM_INFINITY = (1n << 64n) - 1n;

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
  return `{tv_sec=${dv.getBigInt64(off, true)}, tv_nsec=${dv.getBigInt64(off + 8, true)}}`;
}

function timevalAt(dv: DataView, off: number): string {
  return `{tv_sec=${dv.getBigInt64(off, true)}, tv_usec=${dv.getBigInt64(off + 8, true)}}`;
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
    const nsec = dv.getBigInt64(off + 8, true);
    if (nsec === UTIME_NOW) return 'UTIME_NOW';
    if (nsec === UTIME_OMIT) return 'UTIME_OMIT';
    return timespecAt(dv, off);
  };
  return `[${one(0)}, ${one(16)}]`;
}

function statbuf(dv: DataView): string {
  const mode = dv.getUint32(24, true);
  const type = mode & S_IFMT;
  const tail = type === S_IFCHR || type === S_IFBLK
    ? `st_rdev=${makedev(dv.getBigUint64(40, true))}`
    : `st_size=${dv.getBigInt64(48, true)}`;
  return `{st_mode=${fileMode(mode)}, ${tail}, ...}`;
}

function statxbuf(dv: DataView): string {
  const attrs = dv.getBigUint64(8, true);
  return `{stx_mask=${flags(dv.getUint32(0, true), STATX_MASK)}, stx_attributes=${hex(attrs)}, `
    + `stx_mode=${fileMode(dv.getUint16(28, true))}, stx_size=${dv.getBigUint64(40, true)}, ...}`;
}

function rlim(v: bigint): string {
  if (v === RLIM_INFINITY) return 'RLIM64_INFINITY';
  if (v > 1024n && v % 1024n === 0n) return `${v / 1024n}*1024`;
  return v.toString();
}

function rlimit(dv: DataView): string {
  return `{rlim_cur=${rlim(dv.getBigUint64(0, true))}, rlim_max=${rlim(dv.getBigUint64(8, true))}}`;
}

function sigset(dv: DataView): string {
  const mask = dv.getBigUint64(0, true);
  const set: string[] = [];
  const unset: string[] = [];
  for (let n = 1; n <= 64; n++) ((mask >> BigInt(n - 1)) & 1n ? set : unset).push(sigShort(n));
  return set.length > 32 ? `~[${unset.join(' ')}]` : `[${set.join(' ')}]`;
}

function sigaction(dv: DataView): string {
  const handler = dv.getBigUint64(0, true);
  const saFlags = dv.getBigUint64(8, true);
  const h = handler === 0n ? 'SIG_DFL' : handler === 1n ? 'SIG_IGN' : hex(handler);
  const mask = sigset(new DataView(dv.buffer, dv.byteOffset + 24, 8));
  const restorer = saFlags & BigInt(SA_RESTORER) ? `, sa_restorer=${ptr(dv.getBigUint64(16, true))}` : '';
  return `{sa_handler=${h}, sa_mask=${mask}, sa_flags=${flags(saFlags, SA_FLAGS)}${restorer}}`;
}

function stackT(dv: DataView): string {
  return `{ss_sp=${ptr(dv.getBigUint64(0, true))}, ss_flags=${flags(dv.getUint32(8, true), SS_FLAGS)}, ss_size=${dv.getBigUint64(16, true)}}`;
}

function epollEventAt(dv: DataView, off: number): string {
  const data = dv.getBigUint64(off + 4, true);
  return `{events=${flags(dv.getUint32(off, true), EPOLL_EVENTS)}, data={u32=${u32(data)}, u64=${data}}}`;
}

function winsize(dv: DataView): string {
  return `{ws_row=${dv.getUint16(0, true)}, ws_col=${dv.getUint16(2, true)}, ws_xpixel=${dv.getUint16(4, true)}, ws_ypixel=${dv.getUint16(6, true)}}`;
}

function flock(dv: DataView): string {
  return `{l_type=${named(LOCK_TYPES, dv.getInt16(0, true))}, l_whence=${named(WHENCE, dv.getInt16(2, true))}, `
    + `l_start=${dv.getBigInt64(8, true)}, l_len=${dv.getBigInt64(16, true)}}`;
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
  const n = Math.min(len, 128);
  if (n < 2) return hex(v);
  const b = readRaw(ctx.mem, v, n);
  if (b === null) return hex(v);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const family = dv.getUint16(0, true);
  const fam = `sa_family=${named(AF, family)}`;
  switch (family) {
    case AF_UNIX: {
      if (n === 2) return `{${fam}}`;
      const path = b.subarray(2);
      if (path[0] === 0) return `{${fam}, sun_path=@${quote(path.subarray(1), false)}}`;
      return `{${fam}, sun_path=${quote(untilNul(path), false)}}`;
    }
    case AF_INET:
      if (n < 8) break;
      return `{${fam}, sin_port=htons(${dv.getUint16(2, false)}), sin_addr=inet_addr("${b[4]}.${b[5]}.${b[6]}.${b[7]}")}`;
    case AF_INET6: {
      if (n < 24) break;
      const scope = n >= 28 ? `, sin6_scope_id=${dv.getUint32(24, true)}` : '';
      return `{${fam}, sin6_port=htons(${dv.getUint16(2, false)}), sin6_flowinfo=htonl(${dv.getUint32(4, false)}), `
        + `inet_pton(AF_INET6, "${ipv6(b.subarray(8, 24))}", &sin6_addr)${scope}}`;
    }
    case AF_NETLINK:
      if (n < 12) break;
      return `{${fam}, nl_pid=${dv.getUint32(4, true)}, nl_groups=${dv.getUint32(8, true).toString(16).padStart(8, '0')}}`;
    default:
      break;
  }
  const data = b.subarray(2);
  return `{${fam}, sa_data=${quote(data.subarray(0, STRING_LIMIT), data.length > STRING_LIMIT)}}`;
}

/** An iovec array; with `remaining`, buffers show only that many bytes in total (data the kernel wrote). */
function iovec(ctx: Ctx, v: bigint, count: number, remaining?: bigint): string {
  if (u64(v) === 0n) return 'NULL';
  if (count <= 0) return '[]';
  const shown = Math.min(count, ARRAY_LIMIT);
  const dv = readView(ctx.mem, v, shown * 16);
  if (dv === null) return hex(v);
  const items: string[] = [];
  let left = remaining;
  for (let i = 0; i < shown; i++) {
    const base = dv.getBigUint64(i * 16, true);
    const len = dv.getBigUint64(i * 16 + 8, true);
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
  const dv = readView(ctx.mem, v, shown * 8);
  if (dv === null) return hex(v);
  const items: string[] = [];
  for (let i = 0; i < shown; i++) {
    const fd = dv.getInt32(i * 8, true);
    if (revents) {
      const re = dv.getUint16(i * 8 + 6, true);
      if (re !== 0) items.push(`{fd=${fd}, revents=${flags(re, POLL_EVENTS)}}`);
    } else {
      items.push(`{fd=${fd}, events=${flags(dv.getUint16(i * 8 + 4, true), POLL_EVENTS)}}`);
    }
  }
  return revents ? `[${items.join(', ')}]` : list(items, count);
}

function msghdr(ctx: Ctx, v: bigint, remaining?: bigint): string {
  return struct(ctx, v, 56, (dv) => {
    const name = dv.getBigUint64(0, true);
    const namelen = dv.getUint32(8, true);
    const iov = dv.getBigUint64(16, true);
    const iovlen = dv.getBigUint64(24, true);
    const control = dv.getBigUint64(32, true);
    const controllen = dv.getBigUint64(40, true);
    const count = iovlen > 1024n ? 1024 : Number(iovlen);
    const ctl = controllen > 0n ? `msg_control=${ptr(control)}, ` : '';
    return `{msg_name=${sockaddr(ctx, name, namelen)}, msg_namelen=${namelen}, msg_iov=${iovec(ctx, iov, count, remaining)}, `
      + `msg_iovlen=${iovlen}, ${ctl}msg_controllen=${controllen}, msg_flags=${flags(dv.getUint32(48, true), MSG_FLAGS)}}`;
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

/** The number of directory entries in `len` bytes of getdents output (d_reclen at offset 16). */
function direntCount(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let count = 0;
  for (let off = 0; off + 18 <= b.length;) {
    const reclen = dv.getUint16(off + 16, true);
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
      return f & O_CREAT || f & O_TMPFILE_BIT ? octal(u32(v)) : null;
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
      const name = SOCK_TYPE[t & 0xf];
      const parts = name === undefined ? flagList(t, SOCK_FLAGS) : [name, ...flagList(t & ~0xf, SOCK_FLAGS)];
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
    case 'timespec': return struct(ctx, v, 16, (dv) => timespecAt(dv, 0));
    case 'timespec_out': return outStruct(ctx, v, 16, (dv) => timespecAt(dv, 0));
    case 'timeval': return struct(ctx, v, 16, (dv) => timevalAt(dv, 0));
    case 'timeval_out': return outStruct(ctx, v, 16, (dv) => timevalAt(dv, 0));
    case 'itimerspec': return struct(ctx, v, 32, (dv) => `{it_interval=${timespecAt(dv, 0)}, it_value=${timespecAt(dv, 16)}}`);
    case 'itimerspec_out': return outStruct(ctx, v, 32, (dv) => `{it_interval=${timespecAt(dv, 0)}, it_value=${timespecAt(dv, 16)}}`);
    case 'utimens': return struct(ctx, v, 32, utimens);
    case 'utimes': return struct(ctx, v, 32, (dv) => `[${timevalAt(dv, 0)}, ${timevalAt(dv, 16)}]`);
    case 'statbuf': return outStruct(ctx, v, 144, statbuf);
    case 'statxbuf': return outStruct(ctx, v, 48, statxbuf);
    case 'rlimit': return struct(ctx, v, 16, rlimit);
    case 'rlimit_out': return outStruct(ctx, v, 16, rlimit);
    case 'rusage_out': return outStruct(ctx, v, 32, (dv) => `{ru_utime=${timevalAt(dv, 0)}, ru_stime=${timevalAt(dv, 16)}, ...}`);
    case 'tms_out': return outStruct(ctx, v, 32, (dv) =>
      `{tms_utime=${dv.getBigInt64(0, true)}, tms_stime=${dv.getBigInt64(8, true)}, tms_cutime=${dv.getBigInt64(16, true)}, tms_cstime=${dv.getBigInt64(24, true)}}`);
    case 'utsname_out': return outStruct(ctx, v, 130, (dv) => {
      const b = new Uint8Array(dv.buffer, dv.byteOffset, 130);
      return `{sysname=${quote(untilNul(b.subarray(0, 65)), false)}, nodename=${quote(untilNul(b.subarray(65, 130)), false)}, ...}`;
    });
    case 'sigset': return struct(ctx, v, 8, sigset);
    case 'sigset_out': return outStruct(ctx, v, 8, sigset);
    case 'sigaction': return struct(ctx, v, 32, sigaction);
    case 'sigaction_out': return outStruct(ctx, v, 32, sigaction);
    case 'stack_t': return struct(ctx, v, 24, stackT);
    case 'stack_t_out': return outStruct(ctx, v, 24, stackT);
    case 'epoll_event': return struct(ctx, v, 12, (dv) => epollEventAt(dv, 0));
    case 'epoll_events_out': {
      if (!ctx.ok) return ptr(v);
      const count = resultLen(1024n);
      const shown = Math.min(count, ARRAY_LIMIT);
      return struct(ctx, v, shown * 12, (dv) => {
        const items: string[] = [];
        for (let i = 0; i < shown; i++) items.push(epollEventAt(dv, i * 12));
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
      return struct(ctx, v, 32, flock);
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
    case TIOCGWINSZ: return outStruct(ctx, v, 8, winsize);
    case TIOCSWINSZ: return struct(ctx, v, 8, winsize);
    case TCSBRK: case TCXONC: case TCFLSH: case TIOCSCTTY:
      return String(i32(v));
    default: return hex(v);
  }
}

function futexArg(ctx: Ctx, kind: 'futex_val' | 'futex_timeout' | 'futex_uaddr2' | 'futex_val3', op: number, v: bigint): string | null {
  const cmd = op & 0x7f;
  const arity = FUTEX_ARITY[cmd] ?? 6;
  switch (kind) {
    case 'futex_val': return arity > 2 ? String(u32(v)) : null;
    case 'futex_timeout':
      if (arity <= 3) return null;
      return FUTEX_TIMED.has(cmd) ? struct(ctx, v, 16, (dv) => timespecAt(dv, 0)) : String(u32(v));
    case 'futex_uaddr2': return arity > 4 ? ptr(v) : null;
    case 'futex_val3':
      if (arity <= 5) return null;
      if (cmd === FUTEX_WAIT_BITSET || cmd === FUTEX_WAKE_BITSET) {
        return u32(v) === 0xffffffff ? 'FUTEX_BITSET_MATCH_ANY' : hex(u32(v));
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
