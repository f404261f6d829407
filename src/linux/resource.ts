/**
 * Resource limits and usage (include/uapi/asm-generic/resource.h,
 * include/uapi/linux/resource.h).
 */

/** Resources of getrlimit(2)/prlimit64(2) (asm-generic/resource.h). */
export const RLIMIT_CPU = 0, RLIMIT_FSIZE = 1, RLIMIT_DATA = 2, RLIMIT_STACK = 3, RLIMIT_CORE = 4, RLIMIT_RSS = 5,
  RLIMIT_NPROC = 6, RLIMIT_NOFILE = 7, RLIMIT_MEMLOCK = 8, RLIMIT_AS = 9, RLIMIT_LOCKS = 10, RLIMIT_SIGPENDING = 11,
  RLIMIT_MSGQUEUE = 12, RLIMIT_NICE = 13, RLIMIT_RTPRIO = 14, RLIMIT_RTTIME = 15;
/** The number of resources (asm-generic/resource.h). */
export const RLIM_NLIMITS = 16;
/** No limit (asm-generic/resource.h: RLIM_INFINITY, all ones in 64 bits). */
export const RLIM_INFINITY = (1n << 64n) - 1n;
/** getrusage(2) who (linux/resource.h). */
export const RUSAGE_SELF = 0, RUSAGE_CHILDREN = -1, RUSAGE_THREAD = 1;
