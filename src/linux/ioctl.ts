/**
 * ioctl(2) requests on terminals and fds torov knows (include/uapi/asm-generic/ioctls.h,
 * x86-64 values; FICLONE from include/uapi/linux/fs.h).
 */

/** Terminal ioctls (asm-generic/ioctls.h). */
export const TCGETS = 0x5401, TCSETS = 0x5402, TCSETSW = 0x5403, TCSETSF = 0x5404, TCGETA = 0x5405, TCSETA = 0x5406,
  TCSETAW = 0x5407, TCSETAF = 0x5408, TCSBRK = 0x5409, TCXONC = 0x540a, TCFLSH = 0x540b, TIOCEXCL = 0x540c,
  TIOCNXCL = 0x540d, TIOCSCTTY = 0x540e, TIOCGPGRP = 0x540f, TIOCSPGRP = 0x5410, TIOCOUTQ = 0x5411, TIOCSTI = 0x5412,
  TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, TIOCMGET = 0x5415, FIONREAD = 0x541b, TIOCLINUX = 0x541c,
  TIOCCONS = 0x541d, FIONBIO = 0x5421, TIOCNOTTY = 0x5422, TIOCGSID = 0x5429, TCGETS2 = 0x802c542a,
  TCSETS2 = 0x402c542b, TIOCGPTN = 0x80045430, TIOCSPTLCK = 0x40045431, TIOCGPTPEER = 0x5441;
/** fd ioctls (asm-generic/ioctls.h). */
export const FIONCLEX = 0x5450, FIOCLEX = 0x5451, FIOASYNC = 0x5452, FIOQSIZE = 0x5460;
/** Share a file's extents (linux/fs.h: _IOW(0x94, 9, int)). */
export const FICLONE = 0x40049409;
