/**
 * Linux x86-64 errno values, their names and the usual glibc messages.
 *
 * Syscalls return `-errno` in rax on failure; these constants are the
 * positive values (asm-generic/errno-base.h and asm-generic/errno.h).
 */

/** Operation not permitted */
export const EPERM = 1;
/** No such file or directory */
export const ENOENT = 2;
/** No such process */
export const ESRCH = 3;
/** Interrupted system call */
export const EINTR = 4;
/** Input/output error */
export const EIO = 5;
/** No such device or address */
export const ENXIO = 6;
/** Argument list too long */
export const E2BIG = 7;
/** Exec format error */
export const ENOEXEC = 8;
/** Bad file descriptor */
export const EBADF = 9;
/** No child processes */
export const ECHILD = 10;
/** Resource temporarily unavailable (also EWOULDBLOCK) */
export const EAGAIN = 11;
/** Cannot allocate memory */
export const ENOMEM = 12;
/** Permission denied */
export const EACCES = 13;
/** Bad address */
export const EFAULT = 14;
/** Block device required */
export const ENOTBLK = 15;
/** Device or resource busy */
export const EBUSY = 16;
/** File exists */
export const EEXIST = 17;
/** Invalid cross-device link */
export const EXDEV = 18;
/** No such device */
export const ENODEV = 19;
/** Not a directory */
export const ENOTDIR = 20;
/** Is a directory */
export const EISDIR = 21;
/** Invalid argument */
export const EINVAL = 22;
/** Too many open files in system */
export const ENFILE = 23;
/** Too many open files */
export const EMFILE = 24;
/** Inappropriate ioctl for device */
export const ENOTTY = 25;
/** Text file busy */
export const ETXTBSY = 26;
/** File too large */
export const EFBIG = 27;
/** No space left on device */
export const ENOSPC = 28;
/** Illegal seek */
export const ESPIPE = 29;
/** Read-only file system */
export const EROFS = 30;
/** Too many links */
export const EMLINK = 31;
/** Broken pipe */
export const EPIPE = 32;
/** Numerical argument out of domain */
export const EDOM = 33;
/** Numerical result out of range */
export const ERANGE = 34;
/** Resource deadlock avoided (also EDEADLOCK) */
export const EDEADLK = 35;
/** File name too long */
export const ENAMETOOLONG = 36;
/** No locks available */
export const ENOLCK = 37;
/** Function not implemented */
export const ENOSYS = 38;
/** Directory not empty */
export const ENOTEMPTY = 39;
/** Too many levels of symbolic links */
export const ELOOP = 40;
/** No message of desired type */
export const ENOMSG = 42;
/** Identifier removed */
export const EIDRM = 43;
/** Channel number out of range */
export const ECHRNG = 44;
/** Level 2 not synchronized */
export const EL2NSYNC = 45;
/** Level 3 halted */
export const EL3HLT = 46;
/** Level 3 reset */
export const EL3RST = 47;
/** Link number out of range */
export const ELNRNG = 48;
/** Protocol driver not attached */
export const EUNATCH = 49;
/** No CSI structure available */
export const ENOCSI = 50;
/** Level 2 halted */
export const EL2HLT = 51;
/** Invalid exchange */
export const EBADE = 52;
/** Invalid request descriptor */
export const EBADR = 53;
/** Exchange full */
export const EXFULL = 54;
/** No anode */
export const ENOANO = 55;
/** Invalid request code */
export const EBADRQC = 56;
/** Invalid slot */
export const EBADSLT = 57;
/** Bad font file format */
export const EBFONT = 59;
/** Device not a stream */
export const ENOSTR = 60;
/** No data available */
export const ENODATA = 61;
/** Timer expired */
export const ETIME = 62;
/** Out of streams resources */
export const ENOSR = 63;
/** Machine is not on the network */
export const ENONET = 64;
/** Package not installed */
export const ENOPKG = 65;
/** Object is remote */
export const EREMOTE = 66;
/** Link has been severed */
export const ENOLINK = 67;
/** Advertise error */
export const EADV = 68;
/** Srmount error */
export const ESRMNT = 69;
/** Communication error on send */
export const ECOMM = 70;
/** Protocol error */
export const EPROTO = 71;
/** Multihop attempted */
export const EMULTIHOP = 72;
/** RFS specific error */
export const EDOTDOT = 73;
/** Bad message */
export const EBADMSG = 74;
/** Value too large for defined data type */
export const EOVERFLOW = 75;
/** Name not unique on network */
export const ENOTUNIQ = 76;
/** File descriptor in bad state */
export const EBADFD = 77;
/** Remote address changed */
export const EREMCHG = 78;
/** Can not access a needed shared library */
export const ELIBACC = 79;
/** Accessing a corrupted shared library */
export const ELIBBAD = 80;
/** .lib section in a.out corrupted */
export const ELIBSCN = 81;
/** Attempting to link in too many shared libraries */
export const ELIBMAX = 82;
/** Cannot exec a shared library directly */
export const ELIBEXEC = 83;
/** Invalid or incomplete multibyte or wide character */
export const EILSEQ = 84;
/** Interrupted system call should be restarted */
export const ERESTART = 85;
/** Streams pipe error */
export const ESTRPIPE = 86;
/** Too many users */
export const EUSERS = 87;
/** Socket operation on non-socket */
export const ENOTSOCK = 88;
/** Destination address required */
export const EDESTADDRREQ = 89;
/** Message too long */
export const EMSGSIZE = 90;
/** Protocol wrong type for socket */
export const EPROTOTYPE = 91;
/** Protocol not available */
export const ENOPROTOOPT = 92;
/** Protocol not supported */
export const EPROTONOSUPPORT = 93;
/** Socket type not supported */
export const ESOCKTNOSUPPORT = 94;
/** Operation not supported (also ENOTSUP) */
export const EOPNOTSUPP = 95;
/** Protocol family not supported */
export const EPFNOSUPPORT = 96;
/** Address family not supported by protocol */
export const EAFNOSUPPORT = 97;
/** Address already in use */
export const EADDRINUSE = 98;
/** Cannot assign requested address */
export const EADDRNOTAVAIL = 99;
/** Network is down */
export const ENETDOWN = 100;
/** Network is unreachable */
export const ENETUNREACH = 101;
/** Network dropped connection on reset */
export const ENETRESET = 102;
/** Software caused connection abort */
export const ECONNABORTED = 103;
/** Connection reset by peer */
export const ECONNRESET = 104;
/** No buffer space available */
export const ENOBUFS = 105;
/** Transport endpoint is already connected */
export const EISCONN = 106;
/** Transport endpoint is not connected */
export const ENOTCONN = 107;
/** Cannot send after transport endpoint shutdown */
export const ESHUTDOWN = 108;
/** Too many references: cannot splice */
export const ETOOMANYREFS = 109;
/** Connection timed out */
export const ETIMEDOUT = 110;
/** Connection refused */
export const ECONNREFUSED = 111;
/** Host is down */
export const EHOSTDOWN = 112;
/** No route to host */
export const EHOSTUNREACH = 113;
/** Operation already in progress */
export const EALREADY = 114;
/** Operation now in progress */
export const EINPROGRESS = 115;
/** Stale file handle */
export const ESTALE = 116;
/** Structure needs cleaning */
export const EUCLEAN = 117;
/** Not a XENIX named type file */
export const ENOTNAM = 118;
/** No XENIX semaphores available */
export const ENAVAIL = 119;
/** Is a named type file */
export const EISNAM = 120;
/** Remote I/O error */
export const EREMOTEIO = 121;
/** Disk quota exceeded */
export const EDQUOT = 122;
/** No medium found */
export const ENOMEDIUM = 123;
/** Wrong medium type */
export const EMEDIUMTYPE = 124;
/** Operation canceled */
export const ECANCELED = 125;
/** Required key not available */
export const ENOKEY = 126;
/** Key has expired */
export const EKEYEXPIRED = 127;
/** Key has been revoked */
export const EKEYREVOKED = 128;
/** Key was rejected by service */
export const EKEYREJECTED = 129;
/** Owner died */
export const EOWNERDEAD = 130;
/** State not recoverable */
export const ENOTRECOVERABLE = 131;
/** Operation not possible due to RF-kill */
export const ERFKILL = 132;
/** Memory page has hardware error */
export const EHWPOISON = 133;

/** Alias of EAGAIN. */
export const EWOULDBLOCK = EAGAIN;
/** Alias of EDEADLK. */
export const EDEADLOCK = EDEADLK;
/** Alias of EOPNOTSUPP. */
export const ENOTSUP = EOPNOTSUPP;

/** Largest errno a syscall can return: results in [-MAX_ERRNO, -1] are errors. */
export const MAX_ERRNO = 4095;

/** Every canonical errno by name (aliases excluded), e.g. `ERRNO.ENOENT === 2`. */
export const ERRNO = {
  EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, ENOEXEC, EBADF, ECHILD,
  EAGAIN, ENOMEM, EACCES, EFAULT, ENOTBLK, EBUSY, EEXIST, EXDEV, ENODEV, ENOTDIR,
  EISDIR, EINVAL, ENFILE, EMFILE, ENOTTY, ETXTBSY, EFBIG, ENOSPC, ESPIPE, EROFS,
  EMLINK, EPIPE, EDOM, ERANGE, EDEADLK, ENAMETOOLONG, ENOLCK, ENOSYS, ENOTEMPTY, ELOOP,
  ENOMSG, EIDRM, ECHRNG, EL2NSYNC, EL3HLT, EL3RST, ELNRNG, EUNATCH, ENOCSI, EL2HLT,
  EBADE, EBADR, EXFULL, ENOANO, EBADRQC, EBADSLT, EBFONT, ENOSTR, ENODATA, ETIME,
  ENOSR, ENONET, ENOPKG, EREMOTE, ENOLINK, EADV, ESRMNT, ECOMM, EPROTO, EMULTIHOP,
  EDOTDOT, EBADMSG, EOVERFLOW, ENOTUNIQ, EBADFD, EREMCHG, ELIBACC, ELIBBAD, ELIBSCN, ELIBMAX,
  ELIBEXEC, EILSEQ, ERESTART, ESTRPIPE, EUSERS, ENOTSOCK, EDESTADDRREQ, EMSGSIZE, EPROTOTYPE, ENOPROTOOPT,
  EPROTONOSUPPORT, ESOCKTNOSUPPORT, EOPNOTSUPP, EPFNOSUPPORT, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ENETDOWN, ENETUNREACH, ENETRESET,
  ECONNABORTED, ECONNRESET, ENOBUFS, EISCONN, ENOTCONN, ESHUTDOWN, ETOOMANYREFS, ETIMEDOUT, ECONNREFUSED, EHOSTDOWN,
  EHOSTUNREACH, EALREADY, EINPROGRESS, ESTALE, EUCLEAN, ENOTNAM, ENAVAIL, EISNAM, EREMOTEIO, EDQUOT,
  ENOMEDIUM, EMEDIUMTYPE, ECANCELED, ENOKEY, EKEYEXPIRED, EKEYREVOKED, EKEYREJECTED, EOWNERDEAD, ENOTRECOVERABLE, ERFKILL,
  EHWPOISON,
} as const;

/** A canonical errno name such as `'ENOENT'`. */
export type ErrnoName = keyof typeof ERRNO;

const ALIASES: Readonly<Record<string, number>> = { EWOULDBLOCK, EDEADLOCK, ENOTSUP };

const NAME_BY_NUMBER: ReadonlyMap<number, string> = new Map(
  Object.entries(ERRNO).map(([name, n]) => [n, name] as const),
);

const MESSAGES: Readonly<Record<number, string>> = {
  [EPERM]: 'Operation not permitted',
  [ENOENT]: 'No such file or directory',
  [ESRCH]: 'No such process',
  [EINTR]: 'Interrupted system call',
  [EIO]: 'Input/output error',
  [ENXIO]: 'No such device or address',
  [E2BIG]: 'Argument list too long',
  [ENOEXEC]: 'Exec format error',
  [EBADF]: 'Bad file descriptor',
  [ECHILD]: 'No child processes',
  [EAGAIN]: 'Resource temporarily unavailable',
  [ENOMEM]: 'Cannot allocate memory',
  [EACCES]: 'Permission denied',
  [EFAULT]: 'Bad address',
  [ENOTBLK]: 'Block device required',
  [EBUSY]: 'Device or resource busy',
  [EEXIST]: 'File exists',
  [EXDEV]: 'Invalid cross-device link',
  [ENODEV]: 'No such device',
  [ENOTDIR]: 'Not a directory',
  [EISDIR]: 'Is a directory',
  [EINVAL]: 'Invalid argument',
  [ENFILE]: 'Too many open files in system',
  [EMFILE]: 'Too many open files',
  [ENOTTY]: 'Inappropriate ioctl for device',
  [ETXTBSY]: 'Text file busy',
  [EFBIG]: 'File too large',
  [ENOSPC]: 'No space left on device',
  [ESPIPE]: 'Illegal seek',
  [EROFS]: 'Read-only file system',
  [EMLINK]: 'Too many links',
  [EPIPE]: 'Broken pipe',
  [EDOM]: 'Numerical argument out of domain',
  [ERANGE]: 'Numerical result out of range',
  [EDEADLK]: 'Resource deadlock avoided',
  [ENAMETOOLONG]: 'File name too long',
  [ENOLCK]: 'No locks available',
  [ENOSYS]: 'Function not implemented',
  [ENOTEMPTY]: 'Directory not empty',
  [ELOOP]: 'Too many levels of symbolic links',
  [ENOMSG]: 'No message of desired type',
  [EIDRM]: 'Identifier removed',
  [ECHRNG]: 'Channel number out of range',
  [EL2NSYNC]: 'Level 2 not synchronized',
  [EL3HLT]: 'Level 3 halted',
  [EL3RST]: 'Level 3 reset',
  [ELNRNG]: 'Link number out of range',
  [EUNATCH]: 'Protocol driver not attached',
  [ENOCSI]: 'No CSI structure available',
  [EL2HLT]: 'Level 2 halted',
  [EBADE]: 'Invalid exchange',
  [EBADR]: 'Invalid request descriptor',
  [EXFULL]: 'Exchange full',
  [ENOANO]: 'No anode',
  [EBADRQC]: 'Invalid request code',
  [EBADSLT]: 'Invalid slot',
  [EBFONT]: 'Bad font file format',
  [ENOSTR]: 'Device not a stream',
  [ENODATA]: 'No data available',
  [ETIME]: 'Timer expired',
  [ENOSR]: 'Out of streams resources',
  [ENONET]: 'Machine is not on the network',
  [ENOPKG]: 'Package not installed',
  [EREMOTE]: 'Object is remote',
  [ENOLINK]: 'Link has been severed',
  [EADV]: 'Advertise error',
  [ESRMNT]: 'Srmount error',
  [ECOMM]: 'Communication error on send',
  [EPROTO]: 'Protocol error',
  [EMULTIHOP]: 'Multihop attempted',
  [EDOTDOT]: 'RFS specific error',
  [EBADMSG]: 'Bad message',
  [EOVERFLOW]: 'Value too large for defined data type',
  [ENOTUNIQ]: 'Name not unique on network',
  [EBADFD]: 'File descriptor in bad state',
  [EREMCHG]: 'Remote address changed',
  [ELIBACC]: 'Can not access a needed shared library',
  [ELIBBAD]: 'Accessing a corrupted shared library',
  [ELIBSCN]: '.lib section in a.out corrupted',
  [ELIBMAX]: 'Attempting to link in too many shared libraries',
  [ELIBEXEC]: 'Cannot exec a shared library directly',
  [EILSEQ]: 'Invalid or incomplete multibyte or wide character',
  [ERESTART]: 'Interrupted system call should be restarted',
  [ESTRPIPE]: 'Streams pipe error',
  [EUSERS]: 'Too many users',
  [ENOTSOCK]: 'Socket operation on non-socket',
  [EDESTADDRREQ]: 'Destination address required',
  [EMSGSIZE]: 'Message too long',
  [EPROTOTYPE]: 'Protocol wrong type for socket',
  [ENOPROTOOPT]: 'Protocol not available',
  [EPROTONOSUPPORT]: 'Protocol not supported',
  [ESOCKTNOSUPPORT]: 'Socket type not supported',
  [EOPNOTSUPP]: 'Operation not supported',
  [EPFNOSUPPORT]: 'Protocol family not supported',
  [EAFNOSUPPORT]: 'Address family not supported by protocol',
  [EADDRINUSE]: 'Address already in use',
  [EADDRNOTAVAIL]: 'Cannot assign requested address',
  [ENETDOWN]: 'Network is down',
  [ENETUNREACH]: 'Network is unreachable',
  [ENETRESET]: 'Network dropped connection on reset',
  [ECONNABORTED]: 'Software caused connection abort',
  [ECONNRESET]: 'Connection reset by peer',
  [ENOBUFS]: 'No buffer space available',
  [EISCONN]: 'Transport endpoint is already connected',
  [ENOTCONN]: 'Transport endpoint is not connected',
  [ESHUTDOWN]: 'Cannot send after transport endpoint shutdown',
  [ETOOMANYREFS]: 'Too many references: cannot splice',
  [ETIMEDOUT]: 'Connection timed out',
  [ECONNREFUSED]: 'Connection refused',
  [EHOSTDOWN]: 'Host is down',
  [EHOSTUNREACH]: 'No route to host',
  [EALREADY]: 'Operation already in progress',
  [EINPROGRESS]: 'Operation now in progress',
  [ESTALE]: 'Stale file handle',
  [EUCLEAN]: 'Structure needs cleaning',
  [ENOTNAM]: 'Not a XENIX named type file',
  [ENAVAIL]: 'No XENIX semaphores available',
  [EISNAM]: 'Is a named type file',
  [EREMOTEIO]: 'Remote I/O error',
  [EDQUOT]: 'Disk quota exceeded',
  [ENOMEDIUM]: 'No medium found',
  [EMEDIUMTYPE]: 'Wrong medium type',
  [ECANCELED]: 'Operation canceled',
  [ENOKEY]: 'Required key not available',
  [EKEYEXPIRED]: 'Key has expired',
  [EKEYREVOKED]: 'Key has been revoked',
  [EKEYREJECTED]: 'Key was rejected by service',
  [EOWNERDEAD]: 'Owner died',
  [ENOTRECOVERABLE]: 'State not recoverable',
  [ERFKILL]: 'Operation not possible due to RF-kill',
  [EHWPOISON]: 'Memory page has hardware error',
};

/** The canonical name of errno `n` (`2` → `'ENOENT'`); unknown values give `E${n}`. */
export function errnoName(n: number): string {
  return NAME_BY_NUMBER.get(n) ?? `E${n}`;
}

/** The errno value for a name, aliases included (`'EWOULDBLOCK'` → 11); undefined when unknown. */
export function errnoByName(name: string): number | undefined {
  if (Object.prototype.hasOwnProperty.call(ERRNO, name)) return ERRNO[name as ErrnoName];
  if (Object.prototype.hasOwnProperty.call(ALIASES, name)) return ALIASES[name];
  return undefined;
}

/** The glibc message for errno `n` (`2` → `'No such file or directory'`); unknown values give `Unknown error ${n}`. */
export function strerror(n: number): string {
  return MESSAGES[n] ?? `Unknown error ${n}`;
}

/**
 * A syscall error found inside a handler's helpers, thrown up to dispatch, which returns
 * `-errno` for it (src/vmm/machine.ts; the convention is in src/syscalls/api.ts). Throw
 * the shared instance of an errno (`SysError.of`, or `fail`): a guest making a call fail
 * is not exceptional, so no error object (and no stack trace) is made per failure.
 */
export class SysError extends Error {
  override name = 'SysError';
  constructor(readonly errno: number, message?: string) {
    super(message ?? `${errnoName(errno)} (${strerror(errno)})`);
  }

  private static readonly shared: SysError[] = [];
  /** The shared instance for `errno` (made on first use). */
  static of(errno: number): SysError {
    return SysError.shared[errno] ??= new SysError(errno);
  }
}

/** Throws the shared SysError of `errno`: for helpers whose result type has no room for -errno. */
export function fail(errno: number): never {
  throw SysError.of(errno);
}
