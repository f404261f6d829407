/**
 * The default policy, used when no --policy is given. In the spirit of
 * Docker's default seccomp profile (moby profiles/seccomp/default.json).
 *
 * The choice: an explicit allow-list of the groups ordinary programs use,
 * default action `deny` (EPERM) for everything else, and the dangerous
 * syscalls listed explicitly as `deny` with a reason.
 * - Allow-list + default deny, like Docker, so a syscall added to Linux (or
 *   to torov's table) later is refused until someone decides it is safe.
 * - The dangerous ones are also listed, although the default would deny them
 *   anyway, so that `torov policy show` and denial messages can say *why*,
 *   and so that a test can check none of them is ever allowed by accident.
 * - Allowing a syscall here only means the VMM's handler gets to run it; the
 *   handler still refuses what torov does not implement (ENOSYS) and checks
 *   arguments (socket families, ioctl requests, paths, ...).
 *
 * Like the JSON format, the policy is data: `DEFAULT_RULES` is printed as it
 * is by `torov policy show`.
 */
import { buildPolicy, type Policy, type Rule } from './policy';
import { linuxSyscalls, type SyscallTable } from './syscall-table';

/** The source name of the default policy. */
export const DEFAULT_SOURCE = '<default>';

/** The rules of the default policy, in order. */
export const DEFAULT_RULES: readonly Rule[] = Object.freeze([
  {
    action: 'allow',
    why: 'I/O on open file descriptors',
    names: [
      'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2',
      'lseek', 'sendfile', 'splice', 'tee', 'vmsplice', 'copy_file_range',
      'close', 'close_range', 'dup', 'dup2', 'dup3', 'fcntl', 'ioctl', 'flock',
      'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range', 'fadvise64', 'fallocate', 'ftruncate', 'readahead',
      'io_setup', 'io_destroy', 'io_submit', 'io_cancel', 'io_getevents', 'io_pgetevents',
    ],
  },
  {
    action: 'allow',
    why: 'files and directories by path',
    names: [
      'open', 'openat', 'openat2', 'creat', 'stat', 'fstat', 'lstat', 'newfstatat', 'statx', 'statfs', 'fstatfs',
      'access', 'faccessat', 'faccessat2', 'readlink', 'readlinkat', 'getdents', 'getdents64',
      'getcwd', 'chdir', 'fchdir', 'mkdir', 'mkdirat', 'rmdir', 'rename', 'renameat', 'renameat2',
      'link', 'linkat', 'unlink', 'unlinkat', 'symlink', 'symlinkat',
      'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'fchown', 'lchown', 'fchownat', 'truncate', 'umask',
      'utime', 'utimes', 'utimensat', 'futimesat', 'mknod', 'mknodat',
      'getxattr', 'lgetxattr', 'fgetxattr', 'setxattr', 'lsetxattr', 'fsetxattr',
      'listxattr', 'llistxattr', 'flistxattr', 'removexattr', 'lremovexattr', 'fremovexattr',
      'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch',
    ],
  },
  {
    action: 'allow',
    why: 'memory management inside the guest\'s own memory',
    names: [
      'mmap', 'munmap', 'mprotect', 'mremap', 'msync', 'mincore', 'madvise',
      'mlock', 'mlock2', 'munlock', 'mlockall', 'munlockall', 'membarrier', 'memfd_create',
      'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'remap_file_pages',
      'get_mempolicy', 'set_mempolicy', 'mbind',
    ],
  },
  {
    action: 'allow',
    why: 'clocks, sleeping and timers (reading the time, not setting it)',
    names: [
      'clock_gettime', 'clock_getres', 'clock_nanosleep', 'gettimeofday', 'time', 'nanosleep', 'times',
      'alarm', 'getitimer', 'setitimer',
      'timer_create', 'timer_settime', 'timer_gettime', 'timer_getoverrun', 'timer_delete',
      'timerfd_create', 'timerfd_settime', 'timerfd_gettime',
    ],
  },
  {
    action: 'allow',
    why: 'waiting for file descriptors, pipes and event descriptors',
    names: [
      'poll', 'ppoll', 'select', 'pselect6',
      'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2',
      'eventfd', 'eventfd2', 'pipe', 'pipe2',
    ],
  },
  {
    action: 'allow',
    why: 'sockets (which address families work is up to the VMM\'s handlers, not the policy)',
    names: [
      'socket', 'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'getsockname', 'getpeername',
      'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'shutdown', 'setsockopt', 'getsockopt',
    ],
  },
  {
    action: 'allow',
    why: 'identity of the process and of the system',
    names: [
      'getpid', 'getppid', 'gettid', 'getuid', 'geteuid', 'getgid', 'getegid', 'getgroups',
      'getresuid', 'getresgid', 'getpgid', 'getpgrp', 'getsid', 'setsid', 'setpgid',
      'setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid', 'setgroups', 'setfsuid', 'setfsgid',
      'capget', 'capset', 'uname', 'sysinfo', 'getcpu', 'getrandom',
    ],
  },
  {
    action: 'allow',
    why: 'resource limits, usage and scheduling of the guest itself',
    names: [
      'getrlimit', 'setrlimit', 'prlimit64', 'getrusage', 'getpriority', 'setpriority',
      'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getparam', 'sched_setparam',
      'sched_getscheduler', 'sched_setscheduler', 'sched_get_priority_max', 'sched_get_priority_min',
      'sched_rr_get_interval', 'sched_getattr', 'sched_setattr', 'ioprio_get', 'ioprio_set',
    ],
  },
  {
    action: 'allow',
    why: 'signal handlers, masks and delivery',
    names: [
      'rt_sigaction', 'rt_sigprocmask', 'rt_sigpending', 'rt_sigtimedwait', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo',
      'rt_sigsuspend', 'sigaltstack', 'signalfd', 'signalfd4', 'kill', 'tkill', 'tgkill', 'pause', 'restart_syscall',
      'pidfd_open', 'pidfd_send_signal',
    ],
  },
  {
    action: 'allow',
    why: 'threads, futexes and the C library\'s per-thread setup',
    names: ['futex', 'futex_waitv', 'set_robust_list', 'get_robust_list', 'rseq'],
  },
  {
    action: 'allow',
    why: 'processes: creating, running programs, waiting, prctl',
    names: ['clone', 'clone3', 'fork', 'vfork', 'execve', 'execveat', 'wait4', 'waitid', 'prctl'],
  },
  {
    action: 'allow',
    why: 'System V and POSIX inter-process communication',
    names: [
      'shmget', 'shmat', 'shmdt', 'shmctl', 'semget', 'semop', 'semtimedop', 'semctl',
      'msgget', 'msgsnd', 'msgrcv', 'msgctl',
      'mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedreceive', 'mq_notify', 'mq_getsetattr',
    ],
  },

  // Refused, with reasons. Most need privileges on a normal host; here the
  // guest has none to speak of, so any of them is either a way out of the
  // VM's confinement or a large piece of kernel attack surface.
  { action: 'deny', why: 'changes the filesystem tree (mounts escape the guest\'s root)', names: ['mount', 'umount2', 'pivot_root', 'chroot', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'open_tree', 'mount_setattr'] },
  { action: 'deny', why: 'reads or writes another process\'s memory', names: ['ptrace', 'process_vm_readv', 'process_vm_writev'] },
  { action: 'deny', why: 'replaces the running kernel', names: ['kexec_load', 'kexec_file_load'] },
  { action: 'deny', why: 'loads code into the kernel (BPF programs, modules)', names: ['bpf', 'init_module', 'finit_module', 'delete_module', 'create_module'] },
  { action: 'deny', why: 'reboots or powers off the machine', names: ['reboot'] },
  { action: 'deny', why: 'enters or creates namespaces (container escapes start here)', names: ['unshare', 'setns'] },
  { action: 'deny', why: 'turns swap devices on or off', names: ['swapon', 'swapoff'] },
  { action: 'deny', why: 'process accounting is host-wide', names: ['acct'] },
  { action: 'deny', why: 'the kernel keyring is not namespaced and holds host secrets', names: ['add_key', 'request_key', 'keyctl'] },
  { action: 'deny', why: 'performance counters leak host-wide information and are a frequent source of kernel bugs', names: ['perf_event_open'] },
  { action: 'deny', why: 'lets a program stall the kernel on page faults, a classic exploit helper', names: ['userfaultfd'] },
  { action: 'deny', why: 'disk quotas are host administration', names: ['quotactl'] },
  { action: 'deny', why: 'opens files by handle, bypassing directory permissions (the "shocker" container escape)', names: ['open_by_handle_at', 'name_to_handle_at'] },
  { action: 'deny', why: 'raw access to I/O ports', names: ['iopl', 'ioperm'] },
  { action: 'deny', why: 'reads or clears the host kernel\'s log', names: ['syslog'] },
  { action: 'deny', why: 'sets the host\'s clocks', names: ['settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex'] },
  { action: 'deny', why: 'renames the host', names: ['sethostname', 'setdomainname'] },
  { action: 'deny', why: 'obsolete interfaces with a history of vulnerabilities', names: ['lookup_dcookie', 'personality', 'uselib', 'nfsservctl'] },
  { action: 'deny', why: 'hangs up the controlling terminal', names: ['vhangup'] },
  { action: 'deny', why: 'watches the whole filesystem (needs CAP_SYS_ADMIN)', names: ['fanotify_init'] },
] satisfies Rule[]);

let cached: Policy | undefined;

/**
 * The default policy: DEFAULT_RULES with default action `deny` (EPERM).
 * Built once per table and cached for the Linux table.
 */
export function defaultPolicy(table?: SyscallTable): Policy {
  if (table !== undefined) return build(table);
  cached ??= build(linuxSyscalls());
  return cached;
}

function build(table: SyscallTable): Policy {
  return buildPolicy(
    {
      source: DEFAULT_SOURCE,
      description: 'ordinary calls allowed, dangerous ones refused (after Docker\'s default seccomp profile)',
      defaultAction: 'deny',
      rules: DEFAULT_RULES,
    },
    table,
  );
}
