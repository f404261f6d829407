import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as S from '../../src/linux/structs';

/**
 * Sizes and field offsets printed by test/tools/linux-structs.c (sizeof and offsetof on the
 * x86-64 kernel headers). UTSNAME.FIELD is __NEW_UTS_LEN + 1; SOCKADDR is struct sockaddr's
 * family and data (linux/socket.h), whose size depends on the family.
 */
const EXPECTED: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  TIMESPEC: { SIZE: 16, tv_sec: 0, tv_nsec: 8 },
  TIMEVAL: { SIZE: 16, tv_sec: 0, tv_usec: 8 },
  TIMEZONE: { SIZE: 8, tz_minuteswest: 0, tz_dsttime: 4 },
  ITIMERSPEC: { SIZE: 32, it_interval: 0, it_value: 16 },
  ITIMERVAL: { SIZE: 32, it_interval: 0, it_value: 16 },
  UTIMBUF: { SIZE: 16, actime: 0, modtime: 8 },
  TMS: { SIZE: 32, tms_utime: 0, tms_stime: 8, tms_cutime: 16, tms_cstime: 24 },
  STAT: { SIZE: 144, st_dev: 0, st_ino: 8, st_nlink: 16, st_mode: 24, st_uid: 28, st_gid: 32, st_rdev: 40, st_size: 48, st_blksize: 56, st_blocks: 64, st_atime: 72, st_atime_nsec: 80, st_mtime: 88, st_mtime_nsec: 96, st_ctime: 104, st_ctime_nsec: 112 },
  STATX: { SIZE: 256, stx_mask: 0, stx_blksize: 4, stx_attributes: 8, stx_nlink: 16, stx_uid: 20, stx_gid: 24, stx_mode: 28, stx_ino: 32, stx_size: 40, stx_blocks: 48, stx_attributes_mask: 56, stx_atime: 64, stx_btime: 80, stx_ctime: 96, stx_mtime: 112 },
  STATFS: { SIZE: 120, f_type: 0, f_bsize: 8, f_blocks: 16, f_bfree: 24, f_bavail: 32, f_files: 40, f_ffree: 48, f_flags: 80 },
  LINUX_DIRENT64: { d_ino: 0, d_off: 8, d_reclen: 16, d_type: 18, d_name: 19 },
  OPEN_HOW: { SIZE: 24, flags: 0, mode: 8, resolve: 16 },
  FLOCK: { SIZE: 32, l_type: 0, l_whence: 2, l_start: 8, l_len: 16, l_pid: 24 },
  WINSIZE: { SIZE: 8, ws_row: 0, ws_col: 2, ws_xpixel: 4, ws_ypixel: 6 },
  IOVEC: { SIZE: 16, iov_base: 0, iov_len: 8 },
  MSGHDR: { SIZE: 56, msg_name: 0, msg_namelen: 8, msg_iov: 16, msg_iovlen: 24, msg_control: 32, msg_controllen: 40, msg_flags: 48 },
  MMSGHDR: { SIZE: 64, msg_hdr: 0, msg_len: 56 },
  CMSGHDR: { SIZE: 16, cmsg_len: 0, cmsg_level: 8, cmsg_type: 12 },
  SOCKADDR_STORAGE: { SIZE: 128, ss_family: 0 },
  SOCKADDR_IN: { SIZE: 16, sin_family: 0, sin_port: 2, sin_addr: 4 },
  SOCKADDR_IN6: { SIZE: 28, sin6_family: 0, sin6_port: 2, sin6_flowinfo: 4, sin6_addr: 8, sin6_scope_id: 24 },
  SOCKADDR_UN: { SIZE: 110, sun_family: 0, sun_path: 2 },
  SOCKADDR_NL: { SIZE: 12, nl_family: 0, nl_pad: 2, nl_pid: 4, nl_groups: 8 },
  POLLFD: { SIZE: 8, fd: 0, events: 4, revents: 6 },
  EPOLL_EVENT: { SIZE: 12, events: 0, data: 4 },
  RLIMIT: { SIZE: 16, rlim_cur: 0, rlim_max: 8 },
  RUSAGE: { SIZE: 144, ru_utime: 0, ru_stime: 16, ru_maxrss: 32 },
  SYSINFO: { SIZE: 112, uptime: 0, loads: 8, totalram: 32, freeram: 40, procs: 80, mem_unit: 104 },
  UTSNAME: { SIZE: 390, FIELD: 65, sysname: 0, nodename: 65, release: 130, version: 195, machine: 260, domainname: 325 },
  ROBUST_LIST_HEAD: { SIZE: 24, list: 0, futex_offset: 8, list_op_pending: 16 },
  CLONE_ARGS: { SIZE: 88, flags: 0, pidfd: 8, child_tid: 16, parent_tid: 24, exit_signal: 32, stack: 40, stack_size: 48, tls: 56, set_tid: 64, set_tid_size: 72, cgroup: 80 },
  SIGSET: { SIZE: 8 },
  KERNEL_SIGACTION: { SIZE: 32, sa_handler: 0, sa_flags: 8, sa_restorer: 16, sa_mask: 24 },
  STACK_T: { SIZE: 24, ss_sp: 0, ss_flags: 8, ss_size: 16 },
  SIGINFO: { SIZE: 128, si_signo: 0, si_errno: 4, si_code: 8, si_pid: 16, si_uid: 20, si_addr: 16, si_value: 24 },
  SIGEVENT: { SIZE: 64, sigev_value: 0, sigev_signo: 8, sigev_notify: 12, sigev_notify_thread_id: 16 },
  SOCKADDR: { sa_family: 0, sa_data: 2 },
};

for (const [name, layout] of Object.entries(EXPECTED)) {
  test(`struct layout ${name} matches the x86-64 kernel headers`, () => {
    assert.deepEqual({ ...(S as unknown as Record<string, object>)[name] }, layout);
  });
}

test('every layout in src/linux/structs.ts is checked here', () => {
  assert.deepEqual(Object.keys(S).sort(), Object.keys(EXPECTED).sort());
});
