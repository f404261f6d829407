/**
 * Reading the files a user names (the program, a policy, a ToroV configuration's Binary)
 * without trusting what they are. Each must be a regular file on a real filesystem: a
 * FIFO would block the read (and with it --timeout), a device such as /dev/zero never
 * ends, and /proc or /sys files claim a size of 0 and then produce any amount of data.
 * The read itself is bounded: the file's size is checked before it is read, and no more
 * than that size is read even if the file grows meanwhile.
 *
 * The kind is checked with stat(2) before anything opens the file (opening a device or a
 * FIFO can itself block or have effects), then again on the opened fd (O_NONBLOCK, so a
 * FIFO swapped in between cannot block the open), which must be the same file.
 */
import * as fs from 'node:fs';

/** The largest program torov reads (its bytes are held by the VMM while the VM is built). */
export const MAX_PROGRAM_BYTES = 1024 * 1024 * 1024;
/** The largest policy or ToroV configuration torov reads (JSON; learned policies are far smaller). */
export const MAX_POLICY_BYTES = 16 * 1024 * 1024;

/** Why a file cannot be read as input; `message` is a phrase such as "not a regular file (a FIFO)". */
export class InputError extends Error {
  override name = 'InputError';
  constructor(message: string, readonly code: 'ENOENT' | 'EACCES' | 'EISDIR' | 'KIND' | 'SIZE' | 'IO') {
    super(message);
  }
}

/** Filesystems whose files are not data at rest (statfs f_type, <linux/magic.h>). */
const PSEUDO_FS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, '/proc'], [0x62656572, 'sysfs'], [0x64626720, 'debugfs'], [0x74726163, 'tracefs'],
  [0x27e0eb, 'cgroupfs'], [0x63677270, 'cgroupfs'], [0x73636673, 'securityfs'], [0x62656570, 'configfs'],
  [0xcafe4a11, 'bpffs'], [0xde5e81e4, 'efivarfs'], [0x6e736673, 'nsfs'],
]);

/** What kind of file a stat says, for messages: "a FIFO", "a character device", ... */
export function fileKind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function fsError(e: unknown): InputError {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return new InputError('no such file', 'ENOENT');
    case 'ENOTDIR': return new InputError('a component of the path is not a directory', 'ENOENT');
    case 'EACCES': case 'EPERM': return new InputError('permission denied', 'EACCES');
    case 'EISDIR': return new InputError('it is a directory', 'EISDIR');
    case 'ELOOP': return new InputError('too many levels of symbolic links', 'IO');
    case 'ENAMETOOLONG': return new InputError('the path is too long', 'IO');
    default: return new InputError(`cannot read it (${code ?? (e as Error).message})`, 'IO');
  }
}

/** Checks that `st` is a regular file on a real filesystem of at most `max` bytes (`file`: its path for statfs). */
function checkKind(file: string, st: fs.Stats, max: number): void {
  if (st.isDirectory()) throw new InputError('it is a directory', 'EISDIR');
  if (!st.isFile()) throw new InputError(`not a regular file (${fileKind(st)})`, 'KIND');
  let type: number | undefined;
  try { type = fs.statfsSync(file).type; } catch { /* no statfs: the size checks below still bound the read */ }
  const pseudo = type === undefined ? undefined : PSEUDO_FS.get(type);
  if (pseudo !== undefined) throw new InputError(`not a regular file (a file of ${pseudo})`, 'KIND');
  if (st.size > max) throw new InputError(`too large (${st.size} bytes; at most ${max})`, 'SIZE');
}

/**
 * Checks, without opening it, that `file` is a regular file of at most `max` bytes; throws
 * InputError otherwise (a missing file, a FIFO, a device, a directory, /proc, too large).
 */
export function checkInputPath(file: string, max: number): void {
  let st: fs.Stats;
  try { st = fs.statSync(file); } catch (e) { throw fsError(e); }
  checkKind(file, st, max);
}

/**
 * Reads the whole regular file open at `fd` (opened O_NONBLOCK), at most `max` bytes and no
 * more than its size when checked. Throws InputError for anything else.
 */
export function readInputFd(fd: number, max: number): Buffer {
  const fst = fs.fstatSync(fd);
  checkKind(`/proc/self/fd/${fd}`, fst, max);
  const buf = Buffer.allocUnsafe(fst.size);
  let n = 0;
  while (n < buf.length) {
    let k: number;
    try { k = fs.readSync(fd, buf, n, buf.length - n, n); } catch (e) { throw fsError(e); }
    if (k === 0) break;
    n += k;
  }
  return n === buf.length ? buf : buf.subarray(0, n);
}

/**
 * Reads a whole regular file of at most `max` bytes. Throws InputError for anything else:
 * a missing file, a FIFO, a device, a directory, a /proc or /sys file, a file too large.
 */
export function readInputFile(file: string, max: number): Buffer {
  let st: fs.Stats;
  try { st = fs.statSync(file); } catch (e) { throw fsError(e); }
  checkKind(file, st, max);
  let fd: number;
  try { fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY); }
  catch (e) { throw fsError(e); }
  try {
    const fst = fs.fstatSync(fd);
    if (fst.dev !== st.dev || fst.ino !== st.ino) throw new InputError('it changed while torov opened it', 'IO');
    return readInputFd(fd, max);
  } finally {
    fs.closeSync(fd);
  }
}
