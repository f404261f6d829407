/**
 * The Linux x86-64 syscall table: number, kernel name (as in
 * arch/x86/entry/syscalls/syscall_64.tbl, "common" and "64" entries; the
 * x32-only entries 512+ are left out), the support torov plans for it, a
 * coarse area for policy summaries, and how to print its arguments and
 * result when tracing.
 *
 * Numbers 337–423 are unassigned on x86-64. The table ends at the newest
 * syscall verified against released kernel headers (470, listns).
 */

/**
 * How torov handles a syscall:
 * - `full`: forwarded to the host kernel;
 * - `partial`: forwarded or emulated with restrictions (see `note`);
 * - `vmm`: implemented inside the VMM without a host call;
 * - `none`: returns ENOSYS (or is refused, see `note`).
 */
export type Support = 'full' | 'partial' | 'vmm' | 'none';

/** Coarse classification of a syscall, for policy summaries. */
export type Area = 'file' | 'io' | 'net' | 'mm' | 'time' | 'process' | 'signal' | 'ident' | 'sys' | 'other';

/** Every area, in display order. */
export const AREAS: readonly Area[] = ['file', 'io', 'net', 'mm', 'time', 'process', 'signal', 'ident', 'sys', 'other'];

/**
 * How to print one argument when tracing. Values are raw 64-bit registers;
 * "int" kinds use the low 32 bits. Kinds marked (ref) use `ArgSpec.ref`.
 * Kinds ending in `_out` point to memory the kernel writes: they are shown
 * only after a successful call, otherwise as a pointer.
 *
 * Scalars:
 * - `int` signed 32-bit; `uint` unsigned 32-bit; `long` signed 64-bit;
 *   `ulong`/`len` unsigned 64-bit; `hex` 64-bit hex (0 as `0`);
 *   `ptr` pointer (`NULL` or hex); `fd` descriptor; `dirfd` descriptor or
 *   `AT_FDCWD`; `uid` id (-1 kept as -1); `mode` octal permissions.
 *
 * Enums and flag sets: `open_flags`, `open_mode` (ref: the flags argument;
 * omitted unless O_CREAT/O_TMPFILE), `at_flags`, `statx_flags`,
 * `faccess_flags`, `access_mode`, `mmap_prot`, `mmap_flags`, `mremap_flags`,
 * `msync_flags`, `madvise_advice`, `clockid`, `timer_flags`, `tfd_flags`,
 * `tfd_settime_flags`, `efd_flags`, `epoll_flags`, `in_flags`, `mfd_flags`,
 * `o_flags` (O_CLOEXEC/O_NONBLOCK style), `sock_flags`, `signal`,
 * `sigprocmask_how`, `sockdomain`, `socktype`, `sockproto` (ref: domain),
 * `msg_flags`, `shutdown_how`, `sockopt_level`, `sockopt_name` (ref: level),
 * `fcntl_cmd`, `fcntl_arg` (ref: cmd; omitted for F_GET* commands),
 * `ioctl_req`, `ioctl_arg` (ref: request), `whence`, `epoll_op`,
 * `futex_op`, `futex_val`/`futex_timeout`/`futex_uaddr2`/`futex_val3`
 * (ref: op; omitted when the op does not use them), `arch_prctl_code`,
 * `prlimit_res`, `rusage_who`, `flock_op`, `grnd_flags`, `rename_flags`,
 * `statx_mask`.
 *
 * Memory: `str` NUL-terminated string (a pathname: shown up to 4096
 * bytes, like strace); `str_out` string written by the kernel; `strv` NULL-terminated string array (argv); `envp` (count only);
 * `buf_in`/`buf_out` (ref: length argument; `buf_out` prints `result`
 * bytes); `iovec_in`/`iovec_out` (ref: count); `pollfd` (ref: count);
 * `sockaddr` (ref: length value); `sockaddr_out` (ref: socklen_t pointer);
 * `socklen_ptr`; `sockopt_val` (ref: length) / `sockopt_val_out` (ref:
 * socklen_t pointer); `msghdr`/`msghdr_out`; `timespec`/`timespec_out`;
 * `timeval`/`timeval_out`; `itimerspec`/`itimerspec_out`; `utimens`
 * (timespec[2]); `utimes` (timeval[2]); `statbuf`; `statxbuf`;
 * `rlimit`/`rlimit_out`; `rusage_out`; `tms_out`; `utsname_out`;
 * `sigset`/`sigset_out`; `sigaction`/`sigaction_out`; `stack_t`/
 * `stack_t_out`; `epoll_event`; `epoll_events_out` (count: result);
 * `fdpair_out`; `int_ptr`/`int_ptr_out`; `cpuset_out` (bytes: result);
 * `dirents_out` (bytes: result).
 */
export type ArgKind =
  | 'int' | 'uint' | 'long' | 'ulong' | 'len' | 'hex' | 'ptr' | 'fd' | 'dirfd' | 'uid' | 'mode'
  | 'open_flags' | 'open_mode' | 'at_flags' | 'statx_flags' | 'faccess_flags' | 'access_mode'
  | 'mmap_prot' | 'mmap_flags' | 'mremap_flags' | 'msync_flags' | 'madvise_advice'
  | 'clockid' | 'timer_flags' | 'tfd_flags' | 'tfd_settime_flags' | 'efd_flags' | 'epoll_flags'
  | 'in_flags' | 'mfd_flags' | 'o_flags' | 'sock_flags'
  | 'signal' | 'sigprocmask_how'
  | 'sockdomain' | 'socktype' | 'sockproto' | 'msg_flags' | 'shutdown_how' | 'sockopt_level' | 'sockopt_name'
  | 'fcntl_cmd' | 'fcntl_arg' | 'ioctl_req' | 'ioctl_arg' | 'whence' | 'epoll_op'
  | 'futex_op' | 'futex_val' | 'futex_timeout' | 'futex_uaddr2' | 'futex_val3'
  | 'arch_prctl_code' | 'prlimit_res' | 'rusage_who' | 'flock_op' | 'grnd_flags' | 'rename_flags' | 'statx_mask'
  | 'str' | 'str_out' | 'strv' | 'envp' | 'buf_in' | 'buf_out' | 'iovec_in' | 'iovec_out' | 'pollfd'
  | 'sockaddr' | 'sockaddr_out' | 'socklen_ptr' | 'sockopt_val' | 'sockopt_val_out' | 'msghdr' | 'msghdr_out'
  | 'timespec' | 'timespec_out' | 'timeval' | 'timeval_out' | 'itimerspec' | 'itimerspec_out' | 'utimens' | 'utimes'
  | 'statbuf' | 'statxbuf' | 'rlimit' | 'rlimit_out' | 'rusage_out' | 'tms_out' | 'utsname_out'
  | 'sigset' | 'sigset_out' | 'sigaction' | 'sigaction_out' | 'stack_t' | 'stack_t_out'
  | 'epoll_event' | 'epoll_events_out' | 'fdpair_out' | 'int_ptr' | 'int_ptr_out' | 'cpuset_out' | 'dirents_out';

/** One argument's trace description. */
export interface ArgSpec {
  /** How to print the argument. */
  readonly kind: ArgKind;
  /**
   * Index of a related argument: the length or count for buffers and
   * arrays, the flags for `open_mode`, the level for `sockopt_name`, the
   * domain for `sockproto`, the command/request/op for `fcntl_arg`,
   * `ioctl_arg` and the `futex_*` kinds.
   */
  readonly ref?: number;
}

/** How to print a syscall's result: decimal, descriptor, hex (addresses), octal (umask), or `?` (never returns). */
export type RetKind = 'int' | 'fd' | 'hex' | 'octal' | 'none';

/** Everything torov knows about one syscall. */
export interface SyscallInfo {
  /** Syscall number (rax). */
  readonly nr: number;
  /** Kernel name, e.g. `'openat'`. */
  readonly name: string;
  /** Planned support. */
  readonly support: Support;
  /** Restrictions or the reason for refusing it. */
  readonly note?: string;
  /** Coarse area, for policy summaries. */
  readonly area: Area;
  /** Trace description of each argument, in order (at most 6). */
  readonly args: readonly ArgSpec[];
  /** How to print the result. */
  readonly ret: RetKind;
}

type ArgDef = ArgKind | ArgSpec;

/** Builds a table entry; the literal name type lets {@link SyscallName} list every name. */
function def<N extends string>(
  nr: number, name: N, area: Area, support: Support, args: readonly ArgDef[], ret: RetKind = 'int', note?: string,
): SyscallInfo & { readonly name: N } {
  const specs = args.map((a): ArgSpec => (typeof a === 'string' ? { kind: a } : a));
  return note === undefined
    ? { nr, name, support, area, args: specs, ret }
    : { nr, name, support, note, area, args: specs, ret };
}

/** An argument whose printing depends on argument `ref` (see {@link ArgSpec.ref}). */
function r(kind: ArgKind, ref: number): ArgSpec {
  return { kind, ref };
}

const H6: readonly ArgDef[] = ['hex', 'hex', 'hex', 'hex', 'hex', 'hex'];
const N_PROC = 'a process is a VM of its own in the same VMM: fork copies the memory it has touched; vfork and CLONE_VM|CLONE_VFORK share the memory of the parent (on a vCPU of its VM, until exec) and suspend the caller';
const N_EXEC = 'a static or dynamically linked ELF, or a #! script, read through the guest\'s root';
const N_WAIT = 'exits, deaths by signal, stops (WUNTRACED, WSTOPPED) and continues (WCONTINUED); rusage holds only the CPU time';
const N_THREAD = 'threads (CLONE_THREAD): a vCPU each; without CLONE_THREAD a new process (see fork); CLONE_VM without CLONE_VFORK or CLONE_THREAD is EINVAL';
const N_REFUSED = 'refused: not available to guests';
const N_SIG = 'delivered to handlers with Linux\'s rt_sigframe (SA_SIGINFO, SA_RESTART, SA_ONSTACK, SA_NODEFER, SA_RESETHAND)';
const N_KILL = 'to the guest\'s processes and threads, by guest pid; no host process is reachable (ESRCH)';
const N_IOCTL = 'terminal ioctls only: TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX';
const N_ID = 'only to the current id';
const N_ITIMER = 'VIRTUAL and PROF count wall time while the program runs, not CPU time';
const N_FUTEX = 'WAIT, WAKE, their BITSET forms, REQUEUE, CMP_REQUEUE, WAKE_OP; the PI operations are ENOSYS';
const N_RSEQ = 'returns ENOSYS: glibc and musl fall back';
const N_UNIMPL = 'not implemented by Linux';

const TABLE = [
  def(0, 'read', 'io', 'full', ['fd', r('buf_out', 2), 'len']),
  def(1, 'write', 'io', 'full', ['fd', r('buf_in', 2), 'len']),
  def(2, 'open', 'file', 'full', ['str', 'open_flags', r('open_mode', 1)], 'fd'),
  def(3, 'close', 'io', 'full', ['fd']),
  def(4, 'stat', 'file', 'full', ['str', 'statbuf']),
  def(5, 'fstat', 'file', 'full', ['fd', 'statbuf']),
  def(6, 'lstat', 'file', 'full', ['str', 'statbuf']),
  def(7, 'poll', 'io', 'full', [r('pollfd', 1), 'uint', 'int']),
  def(8, 'lseek', 'io', 'full', ['fd', 'long', 'whence']),
  def(9, 'mmap', 'mm', 'vmm', ['ptr', 'len', 'mmap_prot', 'mmap_flags', 'fd', 'hex'], 'hex'),
  def(10, 'mprotect', 'mm', 'vmm', ['ptr', 'len', 'mmap_prot']),
  def(11, 'munmap', 'mm', 'vmm', ['ptr', 'len']),
  def(12, 'brk', 'mm', 'vmm', ['ptr'], 'hex'),
  def(13, 'rt_sigaction', 'signal', 'partial', ['signal', 'sigaction', 'sigaction_out', 'len'], 'int', N_SIG),
  def(14, 'rt_sigprocmask', 'signal', 'partial', ['sigprocmask_how', 'sigset', 'sigset_out', 'len'], 'int', N_SIG),
  def(15, 'rt_sigreturn', 'signal', 'partial', [], 'int', N_SIG),
  def(16, 'ioctl', 'io', 'partial', ['fd', 'ioctl_req', r('ioctl_arg', 1)], 'int', N_IOCTL),
  def(17, 'pread64', 'io', 'full', ['fd', r('buf_out', 2), 'len', 'long']),
  def(18, 'pwrite64', 'io', 'full', ['fd', r('buf_in', 2), 'len', 'long']),
  def(19, 'readv', 'io', 'full', ['fd', r('iovec_out', 2), 'int']),
  def(20, 'writev', 'io', 'full', ['fd', r('iovec_in', 2), 'int']),
  def(21, 'access', 'file', 'full', ['str', 'access_mode']),
  def(22, 'pipe', 'io', 'full', ['fdpair_out']),
  def(23, 'select', 'io', 'full', ['int', 'ptr', 'ptr', 'ptr', 'timeval']),
  def(24, 'sched_yield', 'process', 'vmm', []),
  def(25, 'mremap', 'mm', 'vmm', ['ptr', 'len', 'len', 'mremap_flags', 'ptr'], 'hex'),
  def(26, 'msync', 'mm', 'partial', ['ptr', 'len', 'msync_flags'], 'int', 'implemented in the VMM'),
  def(27, 'mincore', 'mm', 'none', ['ptr', 'len', 'ptr']),
  def(28, 'madvise', 'mm', 'vmm', ['ptr', 'len', 'madvise_advice']),
  def(29, 'shmget', 'other', 'none', ['hex', 'len', 'hex']),
  def(30, 'shmat', 'other', 'none', ['int', 'ptr', 'hex'], 'hex'),
  def(31, 'shmctl', 'other', 'none', ['int', 'int', 'ptr']),
  def(32, 'dup', 'io', 'full', ['fd'], 'fd'),
  def(33, 'dup2', 'io', 'full', ['fd', 'fd'], 'fd'),
  def(34, 'pause', 'signal', 'vmm', [], 'int'),
  def(35, 'nanosleep', 'time', 'full', ['timespec', 'ptr']),
  def(36, 'getitimer', 'time', 'partial', ['int', 'ptr'], 'int', N_ITIMER),
  def(37, 'alarm', 'time', 'vmm', ['uint']),
  def(38, 'setitimer', 'time', 'partial', ['int', 'ptr', 'ptr'], 'int', N_ITIMER),
  def(39, 'getpid', 'ident', 'vmm', []),
  def(40, 'sendfile', 'io', 'full', ['fd', 'fd', 'ptr', 'len']),
  def(41, 'socket', 'net', 'full', ['sockdomain', 'socktype', r('sockproto', 0)], 'fd'),
  def(42, 'connect', 'net', 'full', ['fd', r('sockaddr', 2), 'uint']),
  def(43, 'accept', 'net', 'full', ['fd', r('sockaddr_out', 2), 'socklen_ptr'], 'fd'),
  def(44, 'sendto', 'net', 'full', ['fd', r('buf_in', 2), 'len', 'msg_flags', r('sockaddr', 5), 'uint']),
  def(45, 'recvfrom', 'net', 'full', ['fd', r('buf_out', 2), 'len', 'msg_flags', r('sockaddr_out', 5), 'socklen_ptr']),
  def(46, 'sendmsg', 'net', 'full', ['fd', 'msghdr', 'msg_flags']),
  def(47, 'recvmsg', 'net', 'full', ['fd', 'msghdr_out', 'msg_flags']),
  def(48, 'shutdown', 'net', 'full', ['fd', 'shutdown_how']),
  def(49, 'bind', 'net', 'full', ['fd', r('sockaddr', 2), 'uint']),
  def(50, 'listen', 'net', 'full', ['fd', 'int']),
  def(51, 'getsockname', 'net', 'full', ['fd', r('sockaddr_out', 2), 'socklen_ptr']),
  def(52, 'getpeername', 'net', 'full', ['fd', r('sockaddr_out', 2), 'socklen_ptr']),
  def(53, 'socketpair', 'net', 'full', ['sockdomain', 'socktype', r('sockproto', 0), 'fdpair_out']),
  def(54, 'setsockopt', 'net', 'full', ['fd', 'sockopt_level', r('sockopt_name', 1), r('sockopt_val', 4), 'uint']),
  def(55, 'getsockopt', 'net', 'full', ['fd', 'sockopt_level', r('sockopt_name', 1), r('sockopt_val_out', 4), 'socklen_ptr']),
  def(56, 'clone', 'process', 'partial', ['hex', 'ptr', 'ptr', 'ptr', 'hex'], 'int', N_THREAD),
  def(57, 'fork', 'process', 'full', [], 'int', N_PROC),
  def(58, 'vfork', 'process', 'full', [], 'int', N_PROC),
  def(59, 'execve', 'process', 'full', ['str', 'strv', 'envp'], 'int', N_EXEC),
  def(60, 'exit', 'process', 'vmm', ['int'], 'none'),
  def(61, 'wait4', 'process', 'partial', ['int', 'ptr', 'hex', 'ptr'], 'int', N_WAIT),
  def(62, 'kill', 'signal', 'partial', ['int', 'signal'], 'int', N_KILL),
  def(63, 'uname', 'sys', 'vmm', ['utsname_out']),
  def(64, 'semget', 'other', 'none', ['hex', 'int', 'hex']),
  def(65, 'semop', 'other', 'none', ['int', 'ptr', 'uint']),
  def(66, 'semctl', 'other', 'none', ['int', 'int', 'int', 'hex']),
  def(67, 'shmdt', 'other', 'none', ['ptr']),
  def(68, 'msgget', 'other', 'none', ['hex', 'hex']),
  def(69, 'msgsnd', 'other', 'none', ['int', 'ptr', 'len', 'hex']),
  def(70, 'msgrcv', 'other', 'none', ['int', 'ptr', 'len', 'long', 'hex']),
  def(71, 'msgctl', 'other', 'none', ['int', 'int', 'ptr']),
  def(72, 'fcntl', 'io', 'full', ['fd', 'fcntl_cmd', r('fcntl_arg', 1)]),
  def(73, 'flock', 'file', 'full', ['fd', 'flock_op']),
  def(74, 'fsync', 'file', 'full', ['fd']),
  def(75, 'fdatasync', 'file', 'full', ['fd']),
  def(76, 'truncate', 'file', 'full', ['str', 'long']),
  def(77, 'ftruncate', 'file', 'full', ['fd', 'long']),
  def(78, 'getdents', 'file', 'full', ['fd', r('dirents_out', 2), 'uint']),
  def(79, 'getcwd', 'file', 'full', ['str_out', 'len']),
  def(80, 'chdir', 'file', 'full', ['str']),
  def(81, 'fchdir', 'file', 'full', ['fd']),
  def(82, 'rename', 'file', 'full', ['str', 'str']),
  def(83, 'mkdir', 'file', 'full', ['str', 'mode']),
  def(84, 'rmdir', 'file', 'full', ['str']),
  def(85, 'creat', 'file', 'full', ['str', 'mode'], 'fd'),
  def(86, 'link', 'file', 'full', ['str', 'str']),
  def(87, 'unlink', 'file', 'full', ['str']),
  def(88, 'symlink', 'file', 'full', ['str', 'str']),
  def(89, 'readlink', 'file', 'full', ['str', r('buf_out', 2), 'len']),
  def(90, 'chmod', 'file', 'full', ['str', 'mode']),
  def(91, 'fchmod', 'file', 'full', ['fd', 'mode']),
  def(92, 'chown', 'file', 'full', ['str', 'uid', 'uid']),
  def(93, 'fchown', 'file', 'full', ['fd', 'uid', 'uid']),
  def(94, 'lchown', 'file', 'full', ['str', 'uid', 'uid']),
  def(95, 'umask', 'file', 'full', ['mode'], 'octal'),
  def(96, 'gettimeofday', 'time', 'full', ['timeval_out', 'ptr']),
  def(97, 'getrlimit', 'process', 'full', ['prlimit_res', 'rlimit_out']),
  def(98, 'getrusage', 'process', 'full', ['rusage_who', 'rusage_out']),
  def(99, 'sysinfo', 'sys', 'vmm', ['ptr']),
  def(100, 'times', 'process', 'full', ['tms_out']),
  def(101, 'ptrace', 'process', 'none', ['hex', 'int', 'ptr', 'ptr'], 'int', N_REFUSED),
  def(102, 'getuid', 'ident', 'full', []),
  def(103, 'syslog', 'sys', 'none', ['int', 'ptr', 'int']),
  def(104, 'getgid', 'ident', 'full', []),
  def(105, 'setuid', 'ident', 'partial', ['uid'], 'int', N_ID),
  def(106, 'setgid', 'ident', 'partial', ['uid'], 'int', N_ID),
  def(107, 'geteuid', 'ident', 'full', []),
  def(108, 'getegid', 'ident', 'full', []),
  def(109, 'setpgid', 'ident', 'partial', ['int', 'int'], 'int', 'only for the process itself'),
  def(110, 'getppid', 'ident', 'full', []),
  def(111, 'getpgrp', 'ident', 'full', []),
  def(112, 'setsid', 'ident', 'partial', []),
  def(113, 'setreuid', 'ident', 'partial', ['uid', 'uid'], 'int', 'only to the current ids'),
  def(114, 'setregid', 'ident', 'partial', ['uid', 'uid'], 'int', 'only to the current ids'),
  def(115, 'getgroups', 'ident', 'full', ['int', 'ptr'], 'int'),
  def(116, 'setgroups', 'ident', 'none', ['int', 'ptr']),
  def(117, 'setresuid', 'ident', 'partial', ['uid', 'uid', 'uid'], 'int', 'only to the current ids'),
  def(118, 'getresuid', 'ident', 'vmm', ['int_ptr_out', 'int_ptr_out', 'int_ptr_out']),
  def(119, 'setresgid', 'ident', 'partial', ['uid', 'uid', 'uid'], 'int', 'only to the current ids'),
  def(120, 'getresgid', 'ident', 'vmm', ['int_ptr_out', 'int_ptr_out', 'int_ptr_out']),
  def(121, 'getpgid', 'ident', 'vmm', ['int']),
  def(122, 'setfsuid', 'ident', 'none', ['uid']),
  def(123, 'setfsgid', 'ident', 'none', ['uid']),
  def(124, 'getsid', 'ident', 'vmm', ['int']),
  def(125, 'capget', 'ident', 'none', ['ptr', 'ptr']),
  def(126, 'capset', 'ident', 'none', ['ptr', 'ptr']),
  def(127, 'rt_sigpending', 'signal', 'vmm', ['sigset_out', 'len']),
  def(128, 'rt_sigtimedwait', 'signal', 'vmm', ['sigset', 'ptr', 'timespec', 'len']),
  def(129, 'rt_sigqueueinfo', 'signal', 'partial', ['int', 'signal', 'ptr'], 'int', N_KILL),
  def(130, 'rt_sigsuspend', 'signal', 'vmm', ['sigset', 'len']),
  def(131, 'sigaltstack', 'signal', 'partial', ['stack_t', 'stack_t_out'], 'int', N_SIG),
  def(132, 'utime', 'file', 'full', ['str', 'ptr']),
  def(133, 'mknod', 'file', 'full', ['str', 'mode', 'hex']),
  def(134, 'uselib', 'other', 'none', ['str']),
  def(135, 'personality', 'process', 'none', ['hex']),
  def(136, 'ustat', 'file', 'none', ['hex', 'ptr']),
  def(137, 'statfs', 'file', 'full', ['str', 'ptr']),
  def(138, 'fstatfs', 'file', 'full', ['fd', 'ptr']),
  def(139, 'sysfs', 'sys', 'none', ['int', 'hex', 'hex']),
  def(140, 'getpriority', 'process', 'partial', ['int', 'int'], 'int', 'always the default priority'),
  def(141, 'setpriority', 'process', 'partial', ['int', 'int', 'int'], 'int', 'accepted, not applied'),
  def(142, 'sched_setparam', 'process', 'none', ['int', 'ptr']),
  def(143, 'sched_getparam', 'process', 'none', ['int', 'ptr']),
  def(144, 'sched_setscheduler', 'process', 'none', ['int', 'int', 'ptr']),
  def(145, 'sched_getscheduler', 'process', 'none', ['int']),
  def(146, 'sched_get_priority_max', 'process', 'none', ['int']),
  def(147, 'sched_get_priority_min', 'process', 'none', ['int']),
  def(148, 'sched_rr_get_interval', 'process', 'none', ['int', 'timespec_out']),
  def(149, 'mlock', 'mm', 'partial', ['ptr', 'len'], 'int', 'accepted (checks the range); guest memory is never swapped by torov'),
  def(150, 'munlock', 'mm', 'partial', ['ptr', 'len'], 'int', 'accepted'),
  def(151, 'mlockall', 'mm', 'partial', ['hex'], 'int', 'accepted'),
  def(152, 'munlockall', 'mm', 'partial', [], 'int', 'accepted'),
  def(153, 'vhangup', 'sys', 'none', []),
  def(154, 'modify_ldt', 'process', 'none', ['int', 'ptr', 'len']),
  def(155, 'pivot_root', 'sys', 'none', ['str', 'str'], 'int', N_REFUSED),
  def(156, '_sysctl', 'sys', 'none', ['ptr']),
  def(157, 'prctl', 'process', 'partial', ['int', 'hex', 'hex', 'hex', 'hex'], 'int', 'PR_SET/GET_NAME, _PDEATHSIG, _DUMPABLE, _NO_NEW_PRIVS (recorded); others EINVAL'),
  def(158, 'arch_prctl', 'process', 'vmm', ['arch_prctl_code', 'hex']),
  def(159, 'adjtimex', 'time', 'none', ['ptr']),
  def(160, 'setrlimit', 'process', 'partial', ['prlimit_res', 'rlimit'], 'int', 'recorded (getrlimit reads it back), not enforced yet'),
  def(161, 'chroot', 'file', 'none', ['str'], 'int', N_REFUSED),
  def(162, 'sync', 'file', 'full', []),
  def(163, 'acct', 'sys', 'none', ['str']),
  def(164, 'settimeofday', 'time', 'none', ['timeval', 'ptr']),
  def(165, 'mount', 'sys', 'none', ['str', 'str', 'str', 'hex', 'ptr'], 'int', N_REFUSED),
  def(166, 'umount2', 'sys', 'none', ['str', 'hex'], 'int', N_REFUSED),
  def(167, 'swapon', 'sys', 'none', ['str', 'hex'], 'int', N_REFUSED),
  def(168, 'swapoff', 'sys', 'none', ['str'], 'int', N_REFUSED),
  def(169, 'reboot', 'sys', 'none', ['hex', 'hex', 'hex', 'ptr'], 'int', N_REFUSED),
  def(170, 'sethostname', 'sys', 'none', [r('buf_in', 1), 'len']),
  def(171, 'setdomainname', 'sys', 'none', [r('buf_in', 1), 'len']),
  def(172, 'iopl', 'sys', 'none', ['int']),
  def(173, 'ioperm', 'sys', 'none', ['ulong', 'ulong', 'int']),
  def(174, 'create_module', 'other', 'none', ['str', 'len'], 'int', N_UNIMPL),
  def(175, 'init_module', 'sys', 'none', ['ptr', 'len', 'str'], 'int', N_REFUSED),
  def(176, 'delete_module', 'sys', 'none', ['str', 'hex'], 'int', N_REFUSED),
  def(177, 'get_kernel_syms', 'other', 'none', ['ptr'], 'int', N_UNIMPL),
  def(178, 'query_module', 'other', 'none', ['str', 'int', 'ptr', 'len', 'ptr'], 'int', N_UNIMPL),
  def(179, 'quotactl', 'sys', 'none', ['hex', 'str', 'int', 'ptr']),
  def(180, 'nfsservctl', 'other', 'none', ['int', 'ptr', 'ptr'], 'int', N_UNIMPL),
  def(181, 'getpmsg', 'other', 'none', H6, 'int', N_UNIMPL),
  def(182, 'putpmsg', 'other', 'none', H6, 'int', N_UNIMPL),
  def(183, 'afs_syscall', 'other', 'none', H6, 'int', N_UNIMPL),
  def(184, 'tuxcall', 'other', 'none', H6, 'int', N_UNIMPL),
  def(185, 'security', 'other', 'none', H6, 'int', N_UNIMPL),
  def(186, 'gettid', 'ident', 'vmm', []),
  def(187, 'readahead', 'io', 'full', ['fd', 'long', 'len']),
  def(188, 'setxattr', 'file', 'none', ['str', 'str', r('buf_in', 3), 'len', 'hex']),
  def(189, 'lsetxattr', 'file', 'none', ['str', 'str', r('buf_in', 3), 'len', 'hex']),
  def(190, 'fsetxattr', 'file', 'none', ['fd', 'str', r('buf_in', 3), 'len', 'hex']),
  def(191, 'getxattr', 'file', 'full', ['str', 'str', r('buf_out', 3), 'len'], 'int', 'reads the host file\'s attributes (SELinux labels, ACLs)'),
  def(192, 'lgetxattr', 'file', 'full', ['str', 'str', r('buf_out', 3), 'len'], 'int', 'reads the host file\'s attributes (SELinux labels, ACLs)'),
  def(193, 'fgetxattr', 'file', 'full', ['fd', 'str', r('buf_out', 3), 'len'], 'int', 'reads the host file\'s attributes (SELinux labels, ACLs)'),
  def(194, 'listxattr', 'file', 'full', ['str', r('buf_out', 2), 'len'], 'int', 'reads the host file\'s attributes (SELinux labels, ACLs)'),
  def(195, 'llistxattr', 'file', 'full', ['str', r('buf_out', 2), 'len'], 'int', 'reads the host file\'s attributes (SELinux labels, ACLs)'),
  def(196, 'flistxattr', 'file', 'full', ['fd', r('buf_out', 2), 'len'], 'int', 'reads the host file\'s attributes (SELinux labels, ACLs)'),
  def(197, 'removexattr', 'file', 'none', ['str', 'str']),
  def(198, 'lremovexattr', 'file', 'none', ['str', 'str']),
  def(199, 'fremovexattr', 'file', 'none', ['fd', 'str']),
  def(200, 'tkill', 'signal', 'partial', ['int', 'signal'], 'int', N_KILL),
  def(201, 'time', 'time', 'full', ['ptr']),
  def(202, 'futex', 'process', 'partial', ['ptr', 'futex_op', r('futex_val', 1), r('futex_timeout', 1), r('futex_uaddr2', 1), r('futex_val3', 1)], 'int', N_FUTEX),
  def(203, 'sched_setaffinity', 'process', 'partial', ['int', 'len', 'ptr'], 'int', 'accepted for the guest\'s CPUs; vCPUs are not pinned'),
  def(204, 'sched_getaffinity', 'process', 'vmm', ['int', 'len', 'cpuset_out']),
  def(205, 'set_thread_area', 'process', 'none', ['ptr']),
  def(206, 'io_setup', 'io', 'none', ['uint', 'ptr']),
  def(207, 'io_destroy', 'io', 'none', ['hex']),
  def(208, 'io_getevents', 'io', 'none', ['hex', 'long', 'long', 'ptr', 'timespec']),
  def(209, 'io_submit', 'io', 'none', ['hex', 'long', 'ptr']),
  def(210, 'io_cancel', 'io', 'none', ['hex', 'ptr', 'ptr']),
  def(211, 'get_thread_area', 'process', 'none', ['ptr']),
  def(212, 'lookup_dcookie', 'other', 'none', ['hex', 'ptr', 'len']),
  def(213, 'epoll_create', 'io', 'full', ['int'], 'fd'),
  def(214, 'epoll_ctl_old', 'other', 'none', ['hex', 'hex', 'hex', 'hex'], 'int', N_UNIMPL),
  def(215, 'epoll_wait_old', 'other', 'none', ['hex', 'hex', 'hex', 'hex'], 'int', N_UNIMPL),
  def(216, 'remap_file_pages', 'mm', 'none', ['ptr', 'len', 'hex', 'hex', 'hex']),
  def(217, 'getdents64', 'file', 'full', ['fd', r('dirents_out', 2), 'uint']),
  def(218, 'set_tid_address', 'process', 'vmm', ['ptr']),
  def(219, 'restart_syscall', 'signal', 'none', []),
  def(220, 'semtimedop', 'other', 'none', ['int', 'ptr', 'uint', 'timespec']),
  def(221, 'fadvise64', 'io', 'full', ['fd', 'long', 'long', 'int']),
  def(222, 'timer_create', 'time', 'partial', ['clockid', 'ptr', 'ptr'], 'int', 'SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_NONE on REALTIME, MONOTONIC, BOOTTIME, TAI'),
  def(223, 'timer_settime', 'time', 'vmm', ['int', 'timer_flags', 'itimerspec', 'itimerspec_out']),
  def(224, 'timer_gettime', 'time', 'vmm', ['int', 'itimerspec_out']),
  def(225, 'timer_getoverrun', 'time', 'vmm', ['int']),
  def(226, 'timer_delete', 'time', 'vmm', ['int']),
  def(227, 'clock_settime', 'time', 'none', ['clockid', 'timespec']),
  def(228, 'clock_gettime', 'time', 'full', ['clockid', 'timespec_out']),
  def(229, 'clock_getres', 'time', 'full', ['clockid', 'timespec_out']),
  def(230, 'clock_nanosleep', 'time', 'full', ['clockid', 'timer_flags', 'timespec', 'ptr']),
  def(231, 'exit_group', 'process', 'vmm', ['int'], 'none'),
  def(232, 'epoll_wait', 'io', 'full', ['fd', 'epoll_events_out', 'int', 'int']),
  def(233, 'epoll_ctl', 'io', 'full', ['fd', 'epoll_op', 'fd', 'epoll_event']),
  def(234, 'tgkill', 'signal', 'partial', ['int', 'int', 'signal'], 'int', N_KILL),
  def(235, 'utimes', 'file', 'full', ['str', 'utimes']),
  def(236, 'vserver', 'other', 'none', H6, 'int', N_UNIMPL),
  def(237, 'mbind', 'mm', 'none', ['ptr', 'len', 'int', 'ptr', 'ulong', 'hex']),
  def(238, 'set_mempolicy', 'mm', 'none', ['int', 'ptr', 'ulong']),
  def(239, 'get_mempolicy', 'mm', 'none', ['ptr', 'ptr', 'ulong', 'ptr', 'hex']),
  def(240, 'mq_open', 'other', 'none', ['str', 'open_flags', 'mode', 'ptr'], 'fd'),
  def(241, 'mq_unlink', 'other', 'none', ['str']),
  def(242, 'mq_timedsend', 'other', 'none', ['fd', r('buf_in', 2), 'len', 'uint', 'timespec']),
  def(243, 'mq_timedreceive', 'other', 'none', ['fd', r('buf_out', 2), 'len', 'ptr', 'timespec']),
  def(244, 'mq_notify', 'other', 'none', ['fd', 'ptr']),
  def(245, 'mq_getsetattr', 'other', 'none', ['fd', 'ptr', 'ptr']),
  def(246, 'kexec_load', 'sys', 'none', ['hex', 'ulong', 'ptr', 'hex'], 'int', N_REFUSED),
  def(247, 'waitid', 'process', 'partial', ['int', 'int', 'ptr', 'hex', 'ptr'], 'int', N_WAIT),
  def(248, 'add_key', 'sys', 'none', ['str', 'str', r('buf_in', 3), 'len', 'int']),
  def(249, 'request_key', 'sys', 'none', ['str', 'str', 'str', 'int']),
  def(250, 'keyctl', 'sys', 'none', ['int', 'hex', 'hex', 'hex', 'hex']),
  def(251, 'ioprio_set', 'process', 'none', ['int', 'int', 'int']),
  def(252, 'ioprio_get', 'process', 'none', ['int', 'int']),
  def(253, 'inotify_init', 'file', 'none', [], 'fd'),
  def(254, 'inotify_add_watch', 'file', 'none', ['fd', 'str', 'hex']),
  def(255, 'inotify_rm_watch', 'file', 'none', ['fd', 'int']),
  def(256, 'migrate_pages', 'mm', 'none', ['int', 'ulong', 'ptr', 'ptr']),
  def(257, 'openat', 'file', 'full', ['dirfd', 'str', 'open_flags', r('open_mode', 2)], 'fd'),
  def(258, 'mkdirat', 'file', 'full', ['dirfd', 'str', 'mode']),
  def(259, 'mknodat', 'file', 'full', ['dirfd', 'str', 'mode', 'hex']),
  def(260, 'fchownat', 'file', 'full', ['dirfd', 'str', 'uid', 'uid', 'at_flags']),
  def(261, 'futimesat', 'file', 'full', ['dirfd', 'str', 'utimes']),
  def(262, 'newfstatat', 'file', 'full', ['dirfd', 'str', 'statbuf', 'at_flags']),
  def(263, 'unlinkat', 'file', 'full', ['dirfd', 'str', 'at_flags']),
  def(264, 'renameat', 'file', 'full', ['dirfd', 'str', 'dirfd', 'str']),
  def(265, 'linkat', 'file', 'full', ['dirfd', 'str', 'dirfd', 'str', 'at_flags']),
  def(266, 'symlinkat', 'file', 'full', ['str', 'dirfd', 'str']),
  def(267, 'readlinkat', 'file', 'full', ['dirfd', 'str', r('buf_out', 3), 'len']),
  def(268, 'fchmodat', 'file', 'full', ['dirfd', 'str', 'mode']),
  def(269, 'faccessat', 'file', 'full', ['dirfd', 'str', 'access_mode']),
  def(270, 'pselect6', 'io', 'full', ['int', 'ptr', 'ptr', 'ptr', 'timespec', 'ptr']),
  def(271, 'ppoll', 'io', 'full', [r('pollfd', 1), 'uint', 'timespec', 'sigset', 'len']),
  def(272, 'unshare', 'process', 'none', ['hex'], 'int', N_REFUSED),
  def(273, 'set_robust_list', 'process', 'vmm', ['ptr', 'len']),
  def(274, 'get_robust_list', 'process', 'vmm', ['int', 'ptr', 'ptr']),
  def(275, 'splice', 'io', 'full', ['fd', 'ptr', 'fd', 'ptr', 'len', 'hex']),
  def(276, 'tee', 'io', 'full', ['fd', 'fd', 'len', 'hex']),
  def(277, 'sync_file_range', 'file', 'full', ['fd', 'long', 'long', 'hex']),
  def(278, 'vmsplice', 'io', 'none', ['fd', r('iovec_in', 2), 'ulong', 'hex']),
  def(279, 'move_pages', 'mm', 'none', ['int', 'ulong', 'ptr', 'ptr', 'ptr', 'hex']),
  def(280, 'utimensat', 'file', 'full', ['dirfd', 'str', 'utimens', 'at_flags']),
  def(281, 'epoll_pwait', 'io', 'full', ['fd', 'epoll_events_out', 'int', 'int', 'sigset', 'len']),
  def(282, 'signalfd', 'signal', 'vmm', ['fd', 'sigset', 'len'], 'fd'),
  def(283, 'timerfd_create', 'time', 'full', ['clockid', 'tfd_flags'], 'fd'),
  def(284, 'eventfd', 'io', 'full', ['uint'], 'fd'),
  def(285, 'fallocate', 'file', 'full', ['fd', 'hex', 'long', 'long']),
  def(286, 'timerfd_settime', 'time', 'full', ['fd', 'tfd_settime_flags', 'itimerspec', 'itimerspec_out']),
  def(287, 'timerfd_gettime', 'time', 'full', ['fd', 'itimerspec_out']),
  def(288, 'accept4', 'net', 'full', ['fd', r('sockaddr_out', 2), 'socklen_ptr', 'sock_flags'], 'fd'),
  def(289, 'signalfd4', 'signal', 'vmm', ['fd', 'sigset', 'len', 'o_flags'], 'fd'),
  def(290, 'eventfd2', 'io', 'full', ['uint', 'efd_flags'], 'fd'),
  def(291, 'epoll_create1', 'io', 'full', ['epoll_flags'], 'fd'),
  def(292, 'dup3', 'io', 'full', ['fd', 'fd', 'o_flags'], 'fd'),
  def(293, 'pipe2', 'io', 'full', ['fdpair_out', 'o_flags']),
  def(294, 'inotify_init1', 'file', 'none', ['in_flags'], 'fd'),
  def(295, 'preadv', 'io', 'full', ['fd', r('iovec_out', 2), 'int', 'long']),
  def(296, 'pwritev', 'io', 'full', ['fd', r('iovec_in', 2), 'int', 'long']),
  def(297, 'rt_tgsigqueueinfo', 'signal', 'partial', ['int', 'int', 'signal', 'ptr'], 'int', N_KILL),
  def(298, 'perf_event_open', 'sys', 'none', ['ptr', 'int', 'int', 'fd', 'hex'], 'fd'),
  def(299, 'recvmmsg', 'net', 'full', ['fd', 'ptr', 'uint', 'msg_flags', 'timespec']),
  def(300, 'fanotify_init', 'file', 'none', ['hex', 'hex'], 'fd'),
  def(301, 'fanotify_mark', 'file', 'none', ['fd', 'hex', 'hex', 'dirfd', 'str']),
  def(302, 'prlimit64', 'process', 'full', ['int', 'prlimit_res', 'rlimit', 'rlimit_out']),
  def(303, 'name_to_handle_at', 'file', 'none', ['dirfd', 'str', 'ptr', 'ptr', 'at_flags']),
  def(304, 'open_by_handle_at', 'file', 'none', ['fd', 'ptr', 'open_flags'], 'fd'),
  def(305, 'clock_adjtime', 'time', 'none', ['clockid', 'ptr']),
  def(306, 'syncfs', 'file', 'full', ['fd']),
  def(307, 'sendmmsg', 'net', 'full', ['fd', 'ptr', 'uint', 'msg_flags']),
  def(308, 'setns', 'process', 'none', ['fd', 'hex'], 'int', N_REFUSED),
  def(309, 'getcpu', 'process', 'vmm', ['int_ptr_out', 'int_ptr_out', 'ptr']),
  def(310, 'process_vm_readv', 'process', 'none', ['int', 'ptr', 'ulong', 'ptr', 'ulong', 'hex']),
  def(311, 'process_vm_writev', 'process', 'none', ['int', 'ptr', 'ulong', 'ptr', 'ulong', 'hex']),
  def(312, 'kcmp', 'process', 'none', ['int', 'int', 'int', 'ulong', 'ulong']),
  def(313, 'finit_module', 'sys', 'none', ['fd', 'str', 'hex'], 'int', N_REFUSED),
  def(314, 'sched_setattr', 'process', 'none', ['int', 'ptr', 'hex']),
  def(315, 'sched_getattr', 'process', 'none', ['int', 'ptr', 'uint', 'hex']),
  def(316, 'renameat2', 'file', 'full', ['dirfd', 'str', 'dirfd', 'str', 'rename_flags']),
  def(317, 'seccomp', 'process', 'none', ['uint', 'hex', 'ptr']),
  def(318, 'getrandom', 'sys', 'full', [r('buf_out', 1), 'len', 'grnd_flags']),
  def(319, 'memfd_create', 'file', 'partial', ['str', 'mfd_flags'], 'fd', 'MFD_HUGETLB refused (EINVAL)'),
  def(320, 'kexec_file_load', 'sys', 'none', ['fd', 'fd', 'ulong', 'str', 'hex'], 'int', N_REFUSED),
  def(321, 'bpf', 'sys', 'none', ['int', 'ptr', 'uint'], 'int', N_REFUSED),
  def(322, 'execveat', 'process', 'full', ['dirfd', 'str', 'strv', 'envp', 'at_flags'], 'int', N_EXEC),
  def(323, 'userfaultfd', 'mm', 'none', ['o_flags'], 'fd'),
  def(324, 'membarrier', 'process', 'partial', ['int', 'hex', 'int'], 'int', 'global and private expedited: every other vCPU leaves the guest once; no sync-core or rseq'),
  def(325, 'mlock2', 'mm', 'partial', ['ptr', 'len', 'hex'], 'int', 'accepted (checks the range); guest memory is never swapped by torov'),
  def(326, 'copy_file_range', 'io', 'partial', ['fd', 'ptr', 'fd', 'ptr', 'len', 'hex']),
  def(327, 'preadv2', 'io', 'full', ['fd', r('iovec_out', 2), 'int', 'long', 'hex']),
  def(328, 'pwritev2', 'io', 'full', ['fd', r('iovec_in', 2), 'int', 'long', 'hex']),
  def(329, 'pkey_mprotect', 'mm', 'none', ['ptr', 'len', 'mmap_prot', 'int']),
  def(330, 'pkey_alloc', 'mm', 'none', ['hex', 'hex']),
  def(331, 'pkey_free', 'mm', 'none', ['int']),
  def(332, 'statx', 'file', 'full', ['dirfd', 'str', 'statx_flags', 'statx_mask', 'statxbuf']),
  def(333, 'io_pgetevents', 'io', 'none', ['hex', 'long', 'long', 'ptr', 'timespec', 'ptr']),
  def(334, 'rseq', 'process', 'vmm', ['ptr', 'hex', 'hex', 'hex'], 'int', N_RSEQ),
  def(335, 'uretprobe', 'process', 'none', []),
  def(336, 'uprobe', 'process', 'none', []),
  def(424, 'pidfd_send_signal', 'signal', 'partial', ['fd', 'signal', 'ptr', 'hex'], 'int', 'to a guest process, as kill; a siginfo argument is EINVAL'),
  def(425, 'io_uring_setup', 'io', 'none', ['uint', 'ptr'], 'fd'),
  def(426, 'io_uring_enter', 'io', 'none', ['fd', 'uint', 'uint', 'hex', 'ptr', 'len']),
  def(427, 'io_uring_register', 'io', 'none', ['fd', 'uint', 'ptr', 'uint']),
  def(428, 'open_tree', 'sys', 'none', ['dirfd', 'str', 'hex'], 'fd'),
  def(429, 'move_mount', 'sys', 'none', ['dirfd', 'str', 'dirfd', 'str', 'hex']),
  def(430, 'fsopen', 'sys', 'none', ['str', 'hex'], 'fd'),
  def(431, 'fsconfig', 'sys', 'none', ['fd', 'uint', 'str', 'ptr', 'int']),
  def(432, 'fsmount', 'sys', 'none', ['fd', 'hex', 'hex'], 'fd'),
  def(433, 'fspick', 'sys', 'none', ['dirfd', 'str', 'hex'], 'fd'),
  def(434, 'pidfd_open', 'process', 'partial', ['int', 'hex'], 'fd', 'a guest process: poll says when it ended, waitid(P_PIDFD) waits for it; read is not EINVAL'),
  def(435, 'clone3', 'process', 'partial', ['ptr', 'len'], 'int', N_THREAD),
  def(436, 'close_range', 'io', 'vmm', ['uint', 'uint', 'hex']),
  def(437, 'openat2', 'file', 'full', ['dirfd', 'str', 'ptr', 'len'], 'fd'),
  def(438, 'pidfd_getfd', 'process', 'none', ['fd', 'int', 'hex'], 'fd'),
  def(439, 'faccessat2', 'file', 'full', ['dirfd', 'str', 'access_mode', 'faccess_flags']),
  def(440, 'process_madvise', 'mm', 'none', ['fd', 'ptr', 'len', 'madvise_advice', 'hex']),
  def(441, 'epoll_pwait2', 'io', 'full', ['fd', 'epoll_events_out', 'int', 'timespec', 'sigset', 'len']),
  def(442, 'mount_setattr', 'sys', 'none', ['dirfd', 'str', 'hex', 'ptr', 'len']),
  def(443, 'quotactl_fd', 'sys', 'none', ['fd', 'hex', 'int', 'ptr']),
  def(444, 'landlock_create_ruleset', 'sys', 'none', ['ptr', 'len', 'hex'], 'fd'),
  def(445, 'landlock_add_rule', 'sys', 'none', ['fd', 'int', 'ptr', 'hex']),
  def(446, 'landlock_restrict_self', 'sys', 'none', ['fd', 'hex']),
  def(447, 'memfd_secret', 'mm', 'none', ['hex'], 'fd'),
  def(448, 'process_mrelease', 'process', 'none', ['fd', 'hex']),
  def(449, 'futex_waitv', 'process', 'none', ['ptr', 'uint', 'hex', 'timespec', 'clockid']),
  def(450, 'set_mempolicy_home_node', 'mm', 'none', ['ptr', 'len', 'ulong', 'hex']),
  def(451, 'cachestat', 'file', 'none', ['fd', 'ptr', 'ptr', 'hex']),
  def(452, 'fchmodat2', 'file', 'full', ['dirfd', 'str', 'mode', 'at_flags']),
  def(453, 'map_shadow_stack', 'mm', 'none', ['ptr', 'len', 'hex'], 'hex'),
  def(454, 'futex_wake', 'process', 'none', ['ptr', 'hex', 'int', 'hex']),
  def(455, 'futex_wait', 'process', 'none', ['ptr', 'hex', 'hex', 'hex', 'timespec', 'clockid']),
  def(456, 'futex_requeue', 'process', 'none', ['ptr', 'hex', 'int', 'int']),
  def(457, 'statmount', 'sys', 'none', ['ptr', 'ptr', 'len', 'hex']),
  def(458, 'listmount', 'sys', 'none', ['ptr', 'ptr', 'len', 'hex']),
  def(459, 'lsm_get_self_attr', 'sys', 'none', ['uint', 'ptr', 'ptr', 'hex']),
  def(460, 'lsm_set_self_attr', 'sys', 'none', ['uint', 'ptr', 'len', 'hex']),
  def(461, 'lsm_list_modules', 'sys', 'none', ['ptr', 'ptr', 'hex']),
  def(462, 'mseal', 'mm', 'none', ['ptr', 'len', 'hex']),
  def(463, 'setxattrat', 'file', 'none', ['dirfd', 'str', 'at_flags', 'str', 'ptr', 'len']),
  def(464, 'getxattrat', 'file', 'none', ['dirfd', 'str', 'at_flags', 'str', 'ptr', 'len']),
  def(465, 'listxattrat', 'file', 'none', ['dirfd', 'str', 'at_flags', r('buf_out', 4), 'len']),
  def(466, 'removexattrat', 'file', 'none', ['dirfd', 'str', 'at_flags', 'str']),
  def(467, 'open_tree_attr', 'sys', 'none', ['dirfd', 'str', 'hex', 'ptr', 'len'], 'fd'),
  def(468, 'file_getattr', 'file', 'none', ['dirfd', 'str', 'ptr', 'len', 'at_flags']),
  def(469, 'file_setattr', 'file', 'none', ['dirfd', 'str', 'ptr', 'len', 'at_flags']),
  def(470, 'listns', 'process', 'none', ['ptr', 'ptr', 'len', 'hex']),
] as const;

/** The kernel name of every syscall in the table, e.g. `'openat'`. */
export type SyscallName = (typeof TABLE)[number]['name'];

/** Every syscall, sorted by number. */
export const SYSCALLS: readonly SyscallInfo[] = TABLE;

/** The highest syscall number in the table. */
export const MAX_SYSCALL_NR: number = TABLE.reduce((max, s) => Math.max(max, s.nr), 0);

/** Lookup by number: `SYSCALL_BY_NR[nr]`; undefined for unassigned numbers and beyond the table. */
export const SYSCALL_BY_NR: readonly (SyscallInfo | undefined)[] = (() => {
  const byNr: (SyscallInfo | undefined)[] = new Array<SyscallInfo | undefined>(MAX_SYSCALL_NR + 1).fill(undefined);
  for (const s of TABLE) byNr[s.nr] = s;
  return byNr;
})();

const BY_NAME: ReadonlyMap<string, SyscallInfo> = new Map(TABLE.map((s) => [s.name, s] as const));

/** Syscall numbers by name, so that code can write `SYS.openat` (257). */
export const SYS: Readonly<Record<SyscallName, number>> = Object.freeze(
  Object.fromEntries(TABLE.map((s) => [s.name, s.nr])) as Record<SyscallName, number>,
);

/** The syscall named `name` (kernel spelling), or undefined. */
export function syscallByName(name: string): SyscallInfo | undefined {
  return BY_NAME.get(name);
}

/** The syscall numbered `nr`, or undefined (also for negative, fractional or huge numbers). */
export function syscallByNr(nr: number): SyscallInfo | undefined {
  return Number.isInteger(nr) && nr >= 0 ? SYSCALL_BY_NR[nr] : undefined;
}

/** The kernel name of syscall `nr`; unknown numbers give `syscall_${nr}`. */
export function syscallName(nr: number): string {
  return syscallByNr(nr)?.name ?? `syscall_${nr}`;
}
