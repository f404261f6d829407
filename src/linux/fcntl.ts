/**
 * Linux x86-64 file flags: open(2) flags, the *at(2) flags, fcntl(2) commands, locks,
 * lseek whence, access(2) modes, openat2 resolve flags, renameat2 and close_range flags,
 * and the creation flags of the calls that make a new fd (eventfd, inotify, memfd).
 * Values from include/uapi/asm-generic/fcntl.h (x86-64 uses the generic values) and
 * include/uapi/linux/fcntl.h unless a comment says otherwise.
 */

/** The access mode bits of open flags (asm-generic/fcntl.h). */
export const O_ACCMODE = 0o3;
/** Access modes (asm-generic/fcntl.h). */
export const O_RDONLY = 0o0, O_WRONLY = 0o1, O_RDWR = 0o2;
/** Create the file (asm-generic/fcntl.h). */
export const O_CREAT = 0o100;
/** With O_CREAT: fail if it exists (asm-generic/fcntl.h). */
export const O_EXCL = 0o200;
/** Do not make a terminal the controlling terminal (asm-generic/fcntl.h). */
export const O_NOCTTY = 0o400;
/** Truncate to length 0 (asm-generic/fcntl.h). */
export const O_TRUNC = 0o1000;
/** Writes append (asm-generic/fcntl.h). */
export const O_APPEND = 0o2000;
/** Non-blocking I/O (asm-generic/fcntl.h; O_NDELAY is the same). */
export const O_NONBLOCK = 0o4000;
/** Synchronised data writes (asm-generic/fcntl.h). */
export const O_DSYNC = 0o10000;
/** Signal-driven I/O (asm-generic/fcntl.h: FASYNC). */
export const O_ASYNC = 0o20000;
/** Direct I/O (asm-generic/fcntl.h). */
export const O_DIRECT = 0o40000;
/** Large files (asm-generic/fcntl.h; implied on 64-bit). */
export const O_LARGEFILE = 0o100000;
/** Fail unless a directory (asm-generic/fcntl.h). */
export const O_DIRECTORY = 0o200000;
/** Do not follow a final symlink (asm-generic/fcntl.h). */
export const O_NOFOLLOW = 0o400000;
/** Do not update the access time (asm-generic/fcntl.h). */
export const O_NOATIME = 0o1000000;
/** Close on exec (asm-generic/fcntl.h). */
export const O_CLOEXEC = 0o2000000;
/** The bit O_SYNC adds to O_DSYNC (asm-generic/fcntl.h: __O_SYNC). */
export const __O_SYNC = 0o4000000;
/** Synchronised file writes (asm-generic/fcntl.h: __O_SYNC | O_DSYNC). */
export const O_SYNC = __O_SYNC | O_DSYNC;
/** A handle on a path, not a file's contents (asm-generic/fcntl.h). */
export const O_PATH = 0o10000000;
/** The bit O_TMPFILE adds to O_DIRECTORY (asm-generic/fcntl.h: __O_TMPFILE). */
export const __O_TMPFILE = 0o20000000;
/** An unnamed temporary file in a directory (asm-generic/fcntl.h: __O_TMPFILE | O_DIRECTORY). */
export const O_TMPFILE = __O_TMPFILE | O_DIRECTORY;
/** Every flag open(2) and openat(2) keep; others are dropped (include/linux/fcntl.h: VALID_OPEN_FLAGS). */
export const VALID_OPEN_FLAGS = O_RDONLY | O_WRONLY | O_RDWR | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND
  | O_NONBLOCK | __O_SYNC | O_DSYNC | O_ASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME
  | O_CLOEXEC | O_PATH | __O_TMPFILE;

/** The dirfd meaning "the working directory" (linux/fcntl.h). */
export const AT_FDCWD = -100;
/** Do not follow a final symlink (linux/fcntl.h). */
export const AT_SYMLINK_NOFOLLOW = 0x100;
/** unlinkat: remove a directory (linux/fcntl.h). */
export const AT_REMOVEDIR = 0x200;
/** faccessat: check with the effective ids (linux/fcntl.h; the same bit as AT_REMOVEDIR). */
export const AT_EACCESS = 0x200;
/** linkat: follow a final symlink (linux/fcntl.h). */
export const AT_SYMLINK_FOLLOW = 0x400;
/** Do not automount the final component (linux/fcntl.h). */
export const AT_NO_AUTOMOUNT = 0x800;
/** An empty path means the dirfd itself (linux/fcntl.h). */
export const AT_EMPTY_PATH = 0x1000;
/** statx synchronisation (linux/fcntl.h). */
export const AT_STATX_SYNC_AS_STAT = 0x0000, AT_STATX_FORCE_SYNC = 0x2000, AT_STATX_DONT_SYNC = 0x4000;
/** Apply to the whole subtree (linux/fcntl.h). */
export const AT_RECURSIVE = 0x8000;

/** fcntl(2) commands (asm-generic/fcntl.h). */
export const F_DUPFD = 0, F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, F_GETLK = 5, F_SETLK = 6, F_SETLKW = 7,
  F_SETOWN = 8, F_GETOWN = 9, F_SETSIG = 10, F_GETSIG = 11, F_SETOWN_EX = 15, F_GETOWN_EX = 16, F_GETOWNER_UIDS = 17,
  F_OFD_GETLK = 36, F_OFD_SETLK = 37, F_OFD_SETLKW = 38;
/** Linux-specific fcntl(2) commands (linux/fcntl.h: F_LINUX_SPECIFIC_BASE + n). */
export const F_SETLEASE = 1024, F_GETLEASE = 1025, F_NOTIFY = 1026, F_DUPFD_QUERY = 1027, F_CREATED_QUERY = 1028,
  F_CANCELLK = 1029, F_DUPFD_CLOEXEC = 1030, F_SETPIPE_SZ = 1031, F_GETPIPE_SZ = 1032, F_ADD_SEALS = 1033,
  F_GET_SEALS = 1034, F_GET_RW_HINT = 1035, F_SET_RW_HINT = 1036, F_GET_FILE_RW_HINT = 1037, F_SET_FILE_RW_HINT = 1038;
/** The fd flag of F_GETFD/F_SETFD (asm-generic/fcntl.h). */
export const FD_CLOEXEC = 1;
/** Lock types of struct flock (asm-generic/fcntl.h). */
export const F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
/** File seals (linux/fcntl.h). */
export const F_SEAL_SEAL = 0x0001, F_SEAL_SHRINK = 0x0002, F_SEAL_GROW = 0x0004, F_SEAL_WRITE = 0x0008,
  F_SEAL_FUTURE_WRITE = 0x0010, F_SEAL_EXEC = 0x0020;
/** flock(2) operations (asm-generic/fcntl.h). */
export const LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;

/** lseek(2) whence (linux/fs.h). */
export const SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2, SEEK_DATA = 3, SEEK_HOLE = 4;
/** access(2) modes (unistd.h; F_OK is 0). */
export const F_OK = 0, X_OK = 1, W_OK = 2, R_OK = 4;

/** sizeof(struct open_how), version 0 (linux/openat2.h: OPEN_HOW_SIZE_VER0). */
export const OPEN_HOW_SIZE_VER0 = 24;
/** openat2(2) resolve flags (linux/openat2.h). */
export const RESOLVE_NO_XDEV = 0x01, RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_NO_SYMLINKS = 0x04, RESOLVE_BENEATH = 0x08,
  RESOLVE_IN_ROOT = 0x10, RESOLVE_CACHED = 0x20;
/** renameat2(2) flags (linux/fs.h). */
export const RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
/** close_range(2) flags (linux/close_range.h). */
export const CLOSE_RANGE_UNSHARE = 1 << 1, CLOSE_RANGE_CLOEXEC = 1 << 2;

/** eventfd2(2) flags (linux/eventfd.h: O_CLOEXEC and O_NONBLOCK, plus EFD_SEMAPHORE). */
export const EFD_SEMAPHORE = 1, EFD_CLOEXEC = O_CLOEXEC, EFD_NONBLOCK = O_NONBLOCK;
/** inotify_init1(2) flags (linux/inotify.h). */
export const IN_CLOEXEC = O_CLOEXEC, IN_NONBLOCK = O_NONBLOCK;
/** memfd_create(2) flags (linux/memfd.h). */
export const MFD_CLOEXEC = 0x0001, MFD_ALLOW_SEALING = 0x0002, MFD_HUGETLB = 0x0004, MFD_NOEXEC_SEAL = 0x0008, MFD_EXEC = 0x0010;
/** getrandom(2) flags (linux/random.h). */
export const GRND_NONBLOCK = 0x0001, GRND_RANDOM = 0x0002, GRND_INSECURE = 0x0004;

/** The longest path, with its NUL (linux/limits.h). */
export const PATH_MAX = 4096;
/** The longest file name (linux/limits.h). */
export const NAME_MAX = 255;
/** The most iovecs one call takes (linux/uio.h: UIO_MAXIOV, IOV_MAX in libc). */
export const IOV_MAX = 1024;
/** The most bytes one read or write moves: INT_MAX rounded down to a page (include/linux/fs.h: MAX_RW_COUNT). */
export const MAX_RW_COUNT = 0x7ffff000;

/** preadv2/pwritev2 flags (linux/fs.h). RWF_NOWAIT: fail with EAGAIN instead of waiting. */
export const RWF_HIPRI = 0x1, RWF_DSYNC = 0x2, RWF_SYNC = 0x4, RWF_NOWAIT = 0x8, RWF_APPEND = 0x10;
