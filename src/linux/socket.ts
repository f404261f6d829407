/**
 * Sockets: address families, socket types, protocols, option levels and names, message
 * flags, control messages and shutdown modes. Values from include/linux/socket.h,
 * include/linux/net.h, include/uapi/asm-generic/socket.h, include/uapi/linux/in.h,
 * include/uapi/linux/in6.h, include/uapi/linux/tcp.h and include/uapi/linux/netlink.h.
 */
import { O_CLOEXEC, O_NONBLOCK } from './fcntl';

/** Address families (linux/socket.h; AF_LOCAL is AF_UNIX). */
export const AF_UNSPEC = 0, AF_UNIX = 1, AF_INET = 2, AF_IPX = 4, AF_APPLETALK = 5, AF_BRIDGE = 7, AF_INET6 = 10,
  AF_KEY = 15, AF_NETLINK = 16, AF_PACKET = 17, AF_CAN = 29, AF_BLUETOOTH = 31, AF_ALG = 38, AF_VSOCK = 40,
  AF_XDP = 44, AF_MCTP = 45;

/** Socket types (linux/net.h). */
export const SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_RAW = 3, SOCK_RDM = 4, SOCK_SEQPACKET = 5, SOCK_DCCP = 6,
  SOCK_PACKET = 10;
/** The type bits of socket(2)'s type argument; the rest are flags (linux/net.h). */
export const SOCK_TYPE_MASK = 0xf;
/** socket(2) type flags (linux/net.h: the O_ values). */
export const SOCK_CLOEXEC = O_CLOEXEC, SOCK_NONBLOCK = O_NONBLOCK;

/** IP protocols (linux/in.h, linux/in6.h). */
export const IPPROTO_IP = 0, IPPROTO_ICMP = 1, IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_IPV6 = 41,
  IPPROTO_ICMPV6 = 58, IPPROTO_SCTP = 132, IPPROTO_UDPLITE = 136, IPPROTO_RAW = 255, IPPROTO_MPTCP = 262;
/** Netlink protocols (linux/netlink.h). */
export const NETLINK_ROUTE = 0;

/** Option levels (linux/socket.h; SOL_SOCKET from asm-generic/socket.h). */
export const SOL_IP = 0, SOL_SOCKET = 1, SOL_TCP = 6, SOL_UDP = 17, SOL_IPV6 = 41, SOL_RAW = 255, SOL_PACKET = 263,
  SOL_NETLINK = 270;
/** SOL_SOCKET options (asm-generic/socket.h). */
export const SO_DEBUG = 1, SO_REUSEADDR = 2, SO_TYPE = 3, SO_ERROR = 4, SO_DONTROUTE = 5, SO_BROADCAST = 6,
  SO_SNDBUF = 7, SO_RCVBUF = 8, SO_KEEPALIVE = 9, SO_OOBINLINE = 10, SO_NO_CHECK = 11, SO_PRIORITY = 12,
  SO_LINGER = 13, SO_BSDCOMPAT = 14, SO_REUSEPORT = 15, SO_PASSCRED = 16, SO_PEERCRED = 17, SO_RCVLOWAT = 18,
  SO_SNDLOWAT = 19, SO_RCVTIMEO_OLD = 20, SO_SNDTIMEO_OLD = 21, SO_BINDTODEVICE = 25, SO_ATTACH_FILTER = 26,
  SO_TIMESTAMP_OLD = 29, SO_ACCEPTCONN = 30, SO_SNDBUFFORCE = 32, SO_RCVBUFFORCE = 33, SO_PROTOCOL = 38,
  SO_DOMAIN = 39, SO_ATTACH_BPF = 50, SO_ATTACH_REUSEPORT_CBPF = 51, SO_ATTACH_REUSEPORT_EBPF = 52,
  SO_RCVTIMEO_NEW = 66, SO_SNDTIMEO_NEW = 67, SO_PEERPIDFD = 77;
/** IPPROTO_TCP options (linux/tcp.h). */
export const TCP_NODELAY = 1, TCP_MAXSEG = 2, TCP_CORK = 3, TCP_KEEPIDLE = 4, TCP_KEEPINTVL = 5, TCP_KEEPCNT = 6,
  TCP_SYNCNT = 7, TCP_LINGER2 = 8, TCP_DEFER_ACCEPT = 9, TCP_WINDOW_CLAMP = 10, TCP_INFO = 11, TCP_QUICKACK = 12,
  TCP_CONGESTION = 13, TCP_USER_TIMEOUT = 18, TCP_FASTOPEN = 23, TCP_ZEROCOPY_RECEIVE = 35;
/** IPPROTO_IP options (linux/in.h). */
export const IP_TOS = 1, IP_TTL = 2, IP_HDRINCL = 3, IP_OPTIONS = 4, IP_MTU_DISCOVER = 10, IP_RECVERR = 11,
  IP_MULTICAST_TTL = 33, IP_ADD_MEMBERSHIP = 35;
/** IPPROTO_IPV6 options (linux/in6.h). */
export const IPV6_UNICAST_HOPS = 16, IPV6_MULTICAST_HOPS = 18, IPV6_RECVERR = 25, IPV6_V6ONLY = 26;

/** send/recv flags (linux/socket.h). */
export const MSG_OOB = 1, MSG_PEEK = 2, MSG_DONTROUTE = 4, MSG_CTRUNC = 8, MSG_PROXY = 0x10, MSG_TRUNC = 0x20,
  MSG_DONTWAIT = 0x40, MSG_EOR = 0x80, MSG_WAITALL = 0x100, MSG_FIN = 0x200, MSG_SYN = 0x400, MSG_CONFIRM = 0x800,
  MSG_RST = 0x1000, MSG_ERRQUEUE = 0x2000, MSG_NOSIGNAL = 0x4000, MSG_MORE = 0x8000, MSG_WAITFORONE = 0x10000,
  MSG_BATCH = 0x40000, MSG_ZEROCOPY = 0x4000000, MSG_FASTOPEN = 0x20000000, MSG_CMSG_CLOEXEC = 0x40000000;
/** SOL_SOCKET control message types (linux/socket.h). */
export const SCM_RIGHTS = 0x01, SCM_CREDENTIALS = 0x02, SCM_SECURITY = 0x03, SCM_PIDFD = 0x04;
/** shutdown(2) how (linux/net.h). */
export const SHUT_RD = 0, SHUT_WR = 1, SHUT_RDWR = 2;
