/**
 * Linux file types and statx(2) masks. Values from include/uapi/linux/stat.h; UTIME_*
 * from include/linux/time.h (utimensat(2)). The structs themselves are in structs.ts.
 */

/** The file type bits of a mode, and the types (linux/stat.h). */
export const S_IFMT = 0o170000, S_IFSOCK = 0o140000, S_IFLNK = 0o120000, S_IFREG = 0o100000, S_IFBLK = 0o060000,
  S_IFDIR = 0o040000, S_IFCHR = 0o020000, S_IFIFO = 0o010000;

/** The set-user-ID, set-group-ID and sticky bits of a mode (linux/stat.h). */
export const S_ISUID = 0o4000, S_ISGID = 0o2000, S_ISVTX = 0o1000;

/** statx(2) mask bits (linux/stat.h). */
export const STATX_TYPE = 0x1, STATX_MODE = 0x2, STATX_NLINK = 0x4, STATX_UID = 0x8, STATX_GID = 0x10,
  STATX_ATIME = 0x20, STATX_MTIME = 0x40, STATX_CTIME = 0x80, STATX_INO = 0x100, STATX_SIZE = 0x200,
  STATX_BLOCKS = 0x400, STATX_BASIC_STATS = 0x7ff, STATX_BTIME = 0x800, STATX_ALL = 0xfff, STATX_MNT_ID = 0x1000,
  STATX_DIOALIGN = 0x2000, STATX_MNT_ID_UNIQUE = 0x4000, STATX_SUBVOL = 0x8000, STATX_WRITE_ATOMIC = 0x10000,
  STATX_DIO_READ_ALIGN = 0x20000;

/** utimensat(2) tv_nsec values: set to now, leave unchanged (include/linux/time.h). */
export const UTIME_NOW = (1 << 30) - 1, UTIME_OMIT = (1 << 30) - 2;

/** statfs(2) f_flags bits (include/linux/statfs.h): how the file system holding a file is mounted. */
export const ST_RDONLY = 0x0001, ST_NOSUID = 0x0002, ST_NODEV = 0x0004, ST_NOEXEC = 0x0008;
