/*
 * Prints the size and field offsets of the Linux structs in src/linux/structs.ts, from the
 * x86-64 kernel headers (linux-libc-dev): the values test/unit/linux-structs.test.ts expects.
 *   gcc -o /tmp/linux-structs test/tools/linux-structs.c && /tmp/linux-structs
 * Structs the uapi headers do not export (user_msghdr, mmsghdr, cmsghdr, kernel_sigaction,
 * linux_dirent64) are declared below as the kernel declares them.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <linux/time_types.h>
#include <linux/time.h>
#include <linux/utime.h>
#include <linux/times.h>
#include <asm/stat.h>
#include <linux/stat.h>
#include <asm/statfs.h>
#include <linux/openat2.h>
#include <asm/termbits.h>
#include <linux/uio.h>
#include <linux/socket.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/un.h>
#include <linux/netlink.h>
#include <linux/eventpoll.h>
#include <linux/resource.h>
#include <linux/sysinfo.h>
#include <linux/utsname.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <asm-generic/poll.h>
#include <asm/signal.h>
#include <asm/siginfo.h>
#include <asm/fcntl.h>
#include <asm/termios.h>
struct linux_dirent64 { unsigned long long d_ino; long long d_off; unsigned short d_reclen; unsigned char d_type; char d_name[]; };
struct user_msghdr { void *msg_name; int msg_namelen; struct iovec *msg_iov; unsigned long msg_iovlen; void *msg_control; unsigned long msg_controllen; unsigned int msg_flags; };
struct mmsghdr { struct user_msghdr msg_hdr; unsigned int msg_len; };
struct cmsghdr { unsigned long cmsg_len; int cmsg_level; int cmsg_type; };
struct ksigaction { void *sa_handler; unsigned long sa_flags; void *sa_restorer; unsigned long sa_mask; };
#define S(t) printf("%s SIZE %zu\n", #t, sizeof(struct t));
#define O(t,f) printf("%s %s %zu\n", #t, #f, offsetof(struct t, f));
#define T(t) printf("%s SIZE %zu\n", #t, sizeof(t));
#define OT(t,f) printf("%s %s %zu\n", #t, #f, offsetof(t, f));
int main(void){
S(__kernel_timespec) O(__kernel_timespec,tv_sec) O(__kernel_timespec,tv_nsec)
S(__kernel_old_timeval) O(__kernel_old_timeval,tv_sec) O(__kernel_old_timeval,tv_usec)
S(timezone) O(timezone,tz_minuteswest) O(timezone,tz_dsttime)
S(__kernel_itimerspec) O(__kernel_itimerspec,it_interval) O(__kernel_itimerspec,it_value)
S(itimerval) O(itimerval,it_interval) O(itimerval,it_value)
S(utimbuf) O(utimbuf,actime) O(utimbuf,modtime)
S(tms) O(tms,tms_utime) O(tms,tms_stime) O(tms,tms_cutime) O(tms,tms_cstime)
S(stat) O(stat,st_dev) O(stat,st_ino) O(stat,st_nlink) O(stat,st_mode) O(stat,st_uid) O(stat,st_gid) O(stat,st_rdev) O(stat,st_size) O(stat,st_blksize) O(stat,st_blocks) O(stat,st_atime) O(stat,st_atime_nsec) O(stat,st_mtime) O(stat,st_mtime_nsec) O(stat,st_ctime) O(stat,st_ctime_nsec)
S(statx) O(statx,stx_mask) O(statx,stx_blksize) O(statx,stx_attributes) O(statx,stx_nlink) O(statx,stx_uid) O(statx,stx_gid) O(statx,stx_mode) O(statx,stx_ino) O(statx,stx_size) O(statx,stx_blocks) O(statx,stx_attributes_mask) O(statx,stx_atime) O(statx,stx_btime) O(statx,stx_ctime) O(statx,stx_mtime)
S(statfs) O(statfs,f_type) O(statfs,f_bsize) O(statfs,f_blocks) O(statfs,f_bfree) O(statfs,f_bavail) O(statfs,f_files) O(statfs,f_ffree) O(statfs,f_flags)
O(linux_dirent64,d_ino) O(linux_dirent64,d_off) O(linux_dirent64,d_reclen) O(linux_dirent64,d_type) O(linux_dirent64,d_name)
S(open_how) O(open_how,flags) O(open_how,mode) O(open_how,resolve)
S(flock) O(flock,l_type) O(flock,l_whence) O(flock,l_start) O(flock,l_len) O(flock,l_pid)
S(winsize) O(winsize,ws_row) O(winsize,ws_col) O(winsize,ws_xpixel) O(winsize,ws_ypixel)
S(iovec) O(iovec,iov_base) O(iovec,iov_len)
S(user_msghdr) O(user_msghdr,msg_name) O(user_msghdr,msg_namelen) O(user_msghdr,msg_iov) O(user_msghdr,msg_iovlen) O(user_msghdr,msg_control) O(user_msghdr,msg_controllen) O(user_msghdr,msg_flags)
S(mmsghdr) O(mmsghdr,msg_hdr) O(mmsghdr,msg_len)
S(cmsghdr) O(cmsghdr,cmsg_len) O(cmsghdr,cmsg_level) O(cmsghdr,cmsg_type)
S(__kernel_sockaddr_storage) O(__kernel_sockaddr_storage,ss_family)
S(sockaddr_in) O(sockaddr_in,sin_family) O(sockaddr_in,sin_port) O(sockaddr_in,sin_addr)
S(sockaddr_in6) O(sockaddr_in6,sin6_family) O(sockaddr_in6,sin6_port) O(sockaddr_in6,sin6_flowinfo) O(sockaddr_in6,sin6_addr) O(sockaddr_in6,sin6_scope_id)
S(sockaddr_un) O(sockaddr_un,sun_family) O(sockaddr_un,sun_path)
S(sockaddr_nl) O(sockaddr_nl,nl_family) O(sockaddr_nl,nl_pad) O(sockaddr_nl,nl_pid) O(sockaddr_nl,nl_groups)
S(pollfd) O(pollfd,fd) O(pollfd,events) O(pollfd,revents)
S(epoll_event) O(epoll_event,events) O(epoll_event,data)
S(rlimit) O(rlimit,rlim_cur) O(rlimit,rlim_max)
S(rlimit64)
S(rusage) O(rusage,ru_utime) O(rusage,ru_stime) O(rusage,ru_maxrss)
S(sysinfo) O(sysinfo,uptime) O(sysinfo,loads) O(sysinfo,totalram) O(sysinfo,freeram) O(sysinfo,procs) O(sysinfo,mem_unit)
S(new_utsname) O(new_utsname,sysname) O(new_utsname,nodename) O(new_utsname,release) O(new_utsname,version) O(new_utsname,machine) O(new_utsname,domainname)
S(robust_list_head) O(robust_list_head,list) O(robust_list_head,futex_offset) O(robust_list_head,list_op_pending)
S(clone_args) O(clone_args,flags) O(clone_args,pidfd) O(clone_args,child_tid) O(clone_args,parent_tid) O(clone_args,exit_signal) O(clone_args,stack) O(clone_args,stack_size) O(clone_args,tls) O(clone_args,set_tid) O(clone_args,set_tid_size) O(clone_args,cgroup)
printf("sigset_t_kernel SIZE %zu\n", sizeof(sigset_t));
S(ksigaction) O(ksigaction,sa_handler) O(ksigaction,sa_flags) O(ksigaction,sa_restorer) O(ksigaction,sa_mask)
T(stack_t) OT(stack_t,ss_sp) OT(stack_t,ss_flags) OT(stack_t,ss_size)
T(siginfo_t) OT(siginfo_t,si_signo) OT(siginfo_t,si_errno) OT(siginfo_t,si_code) OT(siginfo_t,si_pid) OT(siginfo_t,si_uid) OT(siginfo_t,si_addr) OT(siginfo_t,si_value)
T(sigevent_t) OT(sigevent_t,sigev_value) OT(sigevent_t,sigev_signo) OT(sigevent_t,sigev_notify) OT(sigevent_t,_sigev_un._tid)
return 0;}
