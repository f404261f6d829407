/**
 * Layouts of the Linux x86-64 structs torov reads or writes in guest memory, or hands to
 * the host: each is its size (`SIZE`) and the byte offset of each field, little-endian,
 * named as in the kernel header cited. Nothing else in torov computes these offsets; read
 * and write them through a Buffer or DataView at `base + S.field`.
 * test/unit/linux-structs.test.ts checks every size and offset against values taken from
 * the x86-64 headers with a C compiler (offsetof, sizeof).
 */

/** struct timespec (linux/time_types.h: __kernel_timespec). */
export const TIMESPEC = { SIZE: 16, tv_sec: 0, tv_nsec: 8 } as const;
/** struct timeval (linux/time_types.h: __kernel_old_timeval). */
export const TIMEVAL = { SIZE: 16, tv_sec: 0, tv_usec: 8 } as const;
/** struct timezone (linux/time.h). */
export const TIMEZONE = { SIZE: 8, tz_minuteswest: 0, tz_dsttime: 4 } as const;
/** struct itimerspec (linux/time_types.h: __kernel_itimerspec). */
export const ITIMERSPEC = { SIZE: 32, it_interval: 0, it_value: 16 } as const;
/** struct itimerval (linux/time.h). */
export const ITIMERVAL = { SIZE: 32, it_interval: 0, it_value: 16 } as const;
/** struct utimbuf (linux/utime.h). */
export const UTIMBUF = { SIZE: 16, actime: 0, modtime: 8 } as const;
/** struct tms (linux/times.h). */
export const TMS = { SIZE: 32, tms_utime: 0, tms_stime: 8, tms_cutime: 16, tms_cstime: 24 } as const;

/** struct stat (arch/x86/include/uapi/asm/stat.h, x86-64). */
export const STAT = {
  SIZE: 144, st_dev: 0, st_ino: 8, st_nlink: 16, st_mode: 24, st_uid: 28, st_gid: 32, st_rdev: 40, st_size: 48,
  st_blksize: 56, st_blocks: 64, st_atime: 72, st_atime_nsec: 80, st_mtime: 88, st_mtime_nsec: 96, st_ctime: 104,
  st_ctime_nsec: 112,
} as const;
/** struct statx (linux/stat.h). */
export const STATX = {
  SIZE: 256, stx_mask: 0, stx_blksize: 4, stx_attributes: 8, stx_nlink: 16, stx_uid: 20, stx_gid: 24, stx_mode: 28,
  stx_ino: 32, stx_size: 40, stx_blocks: 48, stx_attributes_mask: 56, stx_atime: 64, stx_btime: 80, stx_ctime: 96,
  stx_mtime: 112,
} as const;
/** struct statfs (asm-generic/statfs.h, 64-bit). */
export const STATFS = { SIZE: 120, f_type: 0, f_bsize: 8, f_blocks: 16, f_bfree: 24, f_bavail: 32, f_files: 40, f_ffree: 48, f_flags: 80 } as const;
/** struct linux_dirent64, the fixed part before d_name (include/linux/dirent.h). */
export const LINUX_DIRENT64 = { d_ino: 0, d_off: 8, d_reclen: 16, d_type: 18, d_name: 19 } as const;
/** struct open_how (linux/openat2.h), version 0. */
export const OPEN_HOW = { SIZE: 24, flags: 0, mode: 8, resolve: 16 } as const;
/** struct flock (asm-generic/fcntl.h, 64-bit). */
export const FLOCK = { SIZE: 32, l_type: 0, l_whence: 2, l_start: 8, l_len: 16, l_pid: 24 } as const;
/** struct winsize (asm-generic/termios.h). */
export const WINSIZE = { SIZE: 8, ws_row: 0, ws_col: 2, ws_xpixel: 4, ws_ypixel: 6 } as const;

/** struct iovec (linux/uio.h). */
export const IOVEC = { SIZE: 16, iov_base: 0, iov_len: 8 } as const;
/** struct user_msghdr (linux/socket.h; msghdr in libc). */
export const MSGHDR = {
  SIZE: 56, msg_name: 0, msg_namelen: 8, msg_iov: 16, msg_iovlen: 24, msg_control: 32, msg_controllen: 40, msg_flags: 48,
} as const;
/** struct mmsghdr (linux/socket.h). */
export const MMSGHDR = { SIZE: 64, msg_hdr: 0, msg_len: 56 } as const;
/** struct cmsghdr (linux/socket.h); the data follows the header, aligned to 8. */
export const CMSGHDR = { SIZE: 16, cmsg_len: 0, cmsg_level: 8, cmsg_type: 12 } as const;
/** struct sockaddr (linux/socket.h): the family, then the data. */
export const SOCKADDR = { sa_family: 0, sa_data: 2 } as const;
/** struct sockaddr_storage (linux/socket.h: __kernel_sockaddr_storage): the largest address. */
export const SOCKADDR_STORAGE = { SIZE: 128, ss_family: 0 } as const;
/** struct sockaddr_in (linux/in.h); port and address in network byte order. */
export const SOCKADDR_IN = { SIZE: 16, sin_family: 0, sin_port: 2, sin_addr: 4 } as const;
/** struct sockaddr_in6 (linux/in6.h); port, flow info and address in network byte order. */
export const SOCKADDR_IN6 = { SIZE: 28, sin6_family: 0, sin6_port: 2, sin6_flowinfo: 4, sin6_addr: 8, sin6_scope_id: 24 } as const;
/** struct sockaddr_un (linux/un.h). */
export const SOCKADDR_UN = { SIZE: 110, sun_family: 0, sun_path: 2 } as const;
/** struct sockaddr_nl (linux/netlink.h). */
export const SOCKADDR_NL = { SIZE: 12, nl_family: 0, nl_pad: 2, nl_pid: 4, nl_groups: 8 } as const;

/** struct pollfd (asm-generic/poll.h). */
export const POLLFD = { SIZE: 8, fd: 0, events: 4, revents: 6 } as const;
/** struct epoll_event (linux/eventpoll.h): packed on x86-64. */
export const EPOLL_EVENT = { SIZE: 12, events: 0, data: 4 } as const;

/** struct rlimit and struct rlimit64 (linux/resource.h). */
export const RLIMIT = { SIZE: 16, rlim_cur: 0, rlim_max: 8 } as const;
/** struct rusage (linux/resource.h). */
export const RUSAGE = { SIZE: 144, ru_utime: 0, ru_stime: 16, ru_maxrss: 32 } as const;
/** struct sysinfo (linux/sysinfo.h). */
export const SYSINFO = { SIZE: 112, uptime: 0, loads: 8, totalram: 32, freeram: 40, procs: 80, mem_unit: 104 } as const;
/** struct new_utsname (linux/utsname.h): six strings of __NEW_UTS_LEN + 1 bytes. */
export const UTSNAME = {
  SIZE: 390, FIELD: 65, sysname: 0, nodename: 65, release: 130, version: 195, machine: 260, domainname: 325,
} as const;
/** struct robust_list_head (linux/futex.h). */
export const ROBUST_LIST_HEAD = { SIZE: 24, list: 0, futex_offset: 8, list_op_pending: 16 } as const;
/** struct clone_args (linux/sched.h), version 2. */
export const CLONE_ARGS = {
  SIZE: 88, flags: 0, pidfd: 8, child_tid: 16, parent_tid: 24, exit_signal: 32, stack: 40, stack_size: 48, tls: 56,
  set_tid: 64, set_tid_size: 72, cgroup: 80,
} as const;

/** sigset_t as the kernel takes it (asm/signal.h): one 64-bit word, bit n-1 for signal n. */
export const SIGSET = { SIZE: 8 } as const;
/** struct sigaction as rt_sigaction(2) takes it (kernel_sigaction; asm/signal.h, x86-64). */
export const KERNEL_SIGACTION = { SIZE: 32, sa_handler: 0, sa_flags: 8, sa_restorer: 16, sa_mask: 24 } as const;
/** stack_t (asm/signal.h: struct sigaltstack). */
export const STACK_T = { SIZE: 24, ss_sp: 0, ss_flags: 8, ss_size: 16 } as const;
/** siginfo_t (asm-generic/siginfo.h): the header, and the fields of the kill and fault forms. */
export const SIGINFO = { SIZE: 128, si_signo: 0, si_errno: 4, si_code: 8, si_pid: 16, si_uid: 20, si_addr: 16, si_value: 24 } as const;
/** struct sigevent (asm-generic/siginfo.h). */
export const SIGEVENT = { SIZE: 64, sigev_value: 0, sigev_signo: 8, sigev_notify: 12, sigev_notify_thread_id: 16 } as const;
