/**
 * poll(2) and epoll(7) constants. Values from include/uapi/asm-generic/poll.h and
 * include/uapi/linux/eventpoll.h.
 */
import { O_CLOEXEC } from './fcntl';

/** poll events (asm-generic/poll.h). */
export const POLLIN = 0x0001, POLLPRI = 0x0002, POLLOUT = 0x0004, POLLERR = 0x0008, POLLHUP = 0x0010,
  POLLNVAL = 0x0020, POLLRDNORM = 0x0040, POLLRDBAND = 0x0080, POLLWRNORM = 0x0100, POLLWRBAND = 0x0200,
  POLLMSG = 0x0400, POLLREMOVE = 0x1000, POLLRDHUP = 0x2000;

/** epoll_create1(2) flag (linux/eventpoll.h). */
export const EPOLL_CLOEXEC = O_CLOEXEC;
/** epoll_ctl(2) operations (linux/eventpoll.h). */
export const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
/** epoll events (linux/eventpoll.h). */
export const EPOLLIN = 0x00000001, EPOLLPRI = 0x00000002, EPOLLOUT = 0x00000004, EPOLLERR = 0x00000008,
  EPOLLHUP = 0x00000010, EPOLLNVAL = 0x00000020, EPOLLRDNORM = 0x00000040, EPOLLRDBAND = 0x00000080,
  EPOLLWRNORM = 0x00000100, EPOLLWRBAND = 0x00000200, EPOLLMSG = 0x00000400, EPOLLRDHUP = 0x00002000,
  EPOLLEXCLUSIVE = 1 << 28, EPOLLWAKEUP = 1 << 29, EPOLLONESHOT = 1 << 30, EPOLLET = 2 ** 31;
/** The most events one epoll_wait returns: INT_MAX / sizeof(struct epoll_event) (fs/eventpoll.c: EP_MAX_EVENTS). */
export const EP_MAX_EVENTS = Math.floor(0x7fffffff / 12);
