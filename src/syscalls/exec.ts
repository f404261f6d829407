/**
 * Processes: execve and execveat, fork and vfork, wait4 and waitid. The process model
 * itself (a VM per guest process, the process tree, zombies, SIGCHLD) is the scheduler's
 * (src/vmm/scheduler.ts); this module reads the guest's arguments and the program's file.
 *
 * An exec reads the program through the VMM's own root, which in the sandbox is the
 * guest's (paths resolve as the guest's open would: its cwd, its dirfd). A `#!` script
 * runs its interpreter (itself found the same way), as Linux's binfmt_script does; an ELF
 * file is checked (src/elf) before the old program is dropped, so that every error
 * (ENOENT, EACCES, ENOEXEC, E2BIG, ELOOP) is the caller's to see, as on Linux.
 */
import { Handler, HandlerTable, Kernel, ChildStatus } from './api';
import { sys, addressOf } from '../host/libc';
import { HOST } from './host-nr';
import { PINNED_PATHS } from './fs';
import { fdLink } from './hostproc';
import { fail, E2BIG, EACCES, EBADF, EINVAL, ELOOP, ENAMETOOLONG, ENOENT, ENOEXEC, ENOTDIR, ESRCH, SysError } from '../linux/errno';
import { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_CLOEXEC, O_RDONLY, O_NOCTTY, O_NOFOLLOW } from '../linux/fcntl';
import { S_IFDIR, S_IFMT, S_IFREG } from '../linux/stat';
import { STAT } from '../linux/structs';
import { CLONE_VFORK, CLONE_VM } from '../linux/sched';
import { isElf } from '../vmm/personality';
import { parseElf, ElfError } from '../elf/elf';

const PATH_MAX = 4096;
/** Linux's limits on exec arguments: one string (MAX_ARG_STRLEN), all of them (a quarter of the default 8 MiB stack). */
const MAX_ARG_STRLEN = 32 * 4096, ARG_MAX = 2 * 1024 * 1024;
/** Linux follows at most this many `#!` interpreters (binfmt_script, BINPRM_MAX_RECURSION). */
export const MAX_INTERP_DEPTH = 4;
/** The largest program file read (larger ones: ENOMEM, as an address space would not hold them). */
const MAX_IMAGE = 1024 * 1024 * 1024;
const SIGCHLD = 17;
const X_OK = 1;

/** Reads a NULL-terminated array of string pointers (argv, envp), with Linux's limits. */
function stringArray(k: Kernel, ptr: number, budget: { left: number }): string[] {
  const out: string[] = [];
  if (ptr === 0) return out;
  for (let i = 0; ; i++) {
    if (i > 0x7fffffff / 8) fail(E2BIG);
    const p = k.mem.readU64(ptr + i * 8);       // GuestFault -> EFAULT
    if (p === 0) return out;
    const s = k.mem.readCString(p, MAX_ARG_STRLEN);
    if (s === null) fail(E2BIG);
    budget.left -= s.length + 1 + 8;
    if (budget.left < 0) fail(E2BIG);
    out.push(s.toString('latin1'));
  }
}

/** The path argument: as the policy's argument check pinned it, else read from the guest. */
function pathArg(k: Kernel, ptr: number): string {
  const pin = PINNED_PATHS[0];
  if (pin !== undefined && pin.ptr === ptr) return pin.text.toString('latin1');
  const b = k.mem.readCString(ptr, PATH_MAX);
  if (b === null) fail(ENAMETOOLONG);
  return b.toString('latin1');
}

/** Folds "//", "." and ".." of an absolute path lexically. */
function fold(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop(); else out.push(part);
  }
  return '/' + out.join('/');
}

/** The guest's cwd (the VMM's: the calling process's, see Dispatcher), for /proc/self/exe of a relative path. */
function cwd(): string {
  const b = Buffer.alloc(PATH_MAX);
  const n = sys(HOST.getcwd, addressOf(b), PATH_MAX);
  return n > 0 ? b.subarray(0, n - 1).toString('latin1') : '/';
}

interface Opened { fd: number; image: Buffer; exe: string }

/**
 * Opens and reads the program at `path` (relative to host dirfd `dfd`): ENOENT, EACCES
 * (not a regular file, no execute permission), ENOEXEC comes later from the content.
 */
function openProgram(k: Kernel, dfd: number, path: string, flags: number): Opened {
  let p = path;
  // The guest's own /proc: its exe link is the program it runs; the VMM's /proc is never reachable.
  if (p.startsWith('/proc/')) {
    const f = fold(p);
    const m = /^\/proc\/(\d+)\/exe$/.exec(f);
    const other = m ? k.sched.process(Number(m[1])) : undefined;
    if (f === '/proc/self/exe' || f === '/proc/thread-self/exe' || f === `/proc/${k.pid}/exe`) p = k.exe;
    else if (other?.alive) p = other.exe;
    else fail(m ? ENOENT : EACCES);
  }
  if (p === '' && !(flags & AT_EMPTY_PATH)) fail(ENOENT);
  const name = Buffer.from(p + '\0', 'latin1');
  // AT_EMPTY_PATH: the fd's own file, opened anew for reading (the fd may be O_PATH, as
  // fexecve's is), through the VMM's /proc/self/fd as Linux's own open of it would.
  const link = p === '' ? fdLink(dfd) : undefined;
  const fd = link ? sys(HOST.openat, link.dir, link.addr, O_RDONLY | O_CLOEXEC | O_NOCTTY)
    : sys(HOST.openat, dfd, addressOf(name), O_RDONLY | O_CLOEXEC | O_NOCTTY | (flags & AT_SYMLINK_NOFOLLOW ? O_NOFOLLOW : 0));
  if (fd < 0) fail(fd === -ENOTDIR ? ENOTDIR : -fd);
  try {
    const st = Buffer.alloc(STAT.SIZE);
    const r = sys(HOST.fstat, fd, addressOf(st));
    if (r < 0) fail(-r);
    const mode = st.readUInt32LE(STAT.st_mode) & S_IFMT;
    if (mode === S_IFDIR || mode !== S_IFREG) fail(EACCES);
    if (sys(HOST.faccessat2, fd, addressOf(EMPTY), X_OK, AT_EMPTY_PATH) === -EACCES) fail(EACCES);
    const size = Number(st.readBigInt64LE(STAT.st_size));
    if (size > MAX_IMAGE) fail(ENOEXEC);
    const image = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = sys(HOST.pread64, fd, addressOf(image) + done, size - done, done);
      if (n <= 0) break;
      done += n;
    }
    const exe = p.startsWith('/') ? fold(p) : p === '' ? k.exe : fold(`${cwd()}/${p}`);
    return { fd, image: image.subarray(0, done), exe };
  } catch (e) {
    sys(HOST.close, fd);
    throw e;
  }
}
const EMPTY = Buffer.alloc(1);

/** The `#!` line of a script: its interpreter and optional argument (binfmt_script's rules), or undefined. */
export function shebang(image: Uint8Array): { interp: string; arg: string | undefined } | undefined {
  if (image.length < 2 || image[0] !== 0x23 || image[1] !== 0x21) return undefined;
  let end = image.indexOf(0x0a);
  if (end < 0) end = Math.min(image.length, 256);
  const line = Buffer.from(image.subarray(2, end)).toString('latin1').replace(/[ \t]+$/, '').replace(/^[ \t]+/, '');
  if (line === '') fail(ENOEXEC);
  const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line)!;
  return { interp: m[1]!, arg: m[2] === undefined || m[2] === '' ? undefined : m[2] };
}

/** execve(2) and execveat(2): `dfd` a host dirfd (AT_FDCWD), `flags` AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW. */
function exec(k: Kernel, dfd: number, pathPtr: number, argvPtr: number, envPtr: number, flags: number): number {
  if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return -EINVAL;
  let path = pathArg(k, pathPtr);
  const budget = { left: ARG_MAX };
  let argv = stringArray(k, argvPtr, budget);
  const env = stringArray(k, envPtr, budget);
  let prog = openProgram(k, dfd, path, flags);
  try {
    // #! scripts: the interpreter runs with [interp, arg?, script path, argv[1..]].
    for (let depth = 0; ; depth++) {
      const sb = shebang(prog.image);
      if (!sb) break;
      if (depth >= MAX_INTERP_DEPTH) fail(ELOOP);
      const script = prog.exe === k.exe && path.startsWith('/proc/') ? prog.exe : path;
      argv = [sb.interp, ...(sb.arg !== undefined ? [sb.arg] : []), script, ...argv.slice(1)];
      sys(HOST.close, prog.fd);
      prog = { fd: -1, image: Buffer.alloc(0), exe: '' };
      path = sb.interp;
      try {
        prog = openProgram(k, AT_FDCWD, path, 0);
      } catch (e) {
        if (e instanceof SysError && e.errno === ENOENT) k.note(`interp-${path}`, `execve: the script's interpreter ${path} is not in the guest's root: ENOENT`);
        throw e;
      }
    }
    if (!isElf(prog.image)) {
      k.note('exec-not-elf', `execve of ${path}: not an ELF file and no #! line: ENOEXEC`);
      return -ENOEXEC;
    }
    let interp: string | undefined;
    try {
      interp = parseElf(prog.image).interp;
    } catch (e) {
      if (!(e instanceof ElfError)) throw e;
      k.note(`exec-elf-${path}`, `execve of ${path}: ${e.message}: ENOEXEC`);
      return -ENOEXEC;
    }
    // A dynamically linked program's interpreter must be there before the old program goes
    // (Linux: ENOENT, which shells report as "not found" for a program that exists).
    if (interp !== undefined) {
      const b = Buffer.from(interp + '\0', 'latin1');
      const r = sys(HOST.faccessat, AT_FDCWD, addressOf(b), X_OK);
      if (r < 0) {
        k.note(`exec-interp-${interp}`, `execve of ${path}: its ELF interpreter ${interp} is not in the guest's root (${r === -ENOENT ? 'ENOENT' : 'EACCES'}); try --rootfs`);
        return r === -ENOENT ? -ENOENT : -EACCES;
      }
    }
    return k.sched.exec(k, { image: prog.image, path, argv, env, fd: prog.fd, exe: prog.exe });
  } finally {
    if (prog.fd >= 0) sys(HOST.close, prog.fd);
  }
}

const sysExecve: Handler = (k, a) => exec(k, AT_FDCWD, a.ptr(0), a.ptr(1), a.ptr(2), 0);

const sysExecveat: Handler = (k, a) => {
  const fd = a.i(0);
  let dfd = AT_FDCWD;
  if (fd !== AT_FDCWD) { dfd = k.fds.get(fd); if (dfd < 0) return -EBADF; }
  return exec(k, dfd, a.ptr(1), a.ptr(2), a.ptr(3), a.i(4));
};

/** fork(2): clone with SIGCHLD and nothing shared. */
const sysFork: Handler = (k) => k.sched.fork(k, { flags: 0, stack: 0, parentTid: 0, childTid: 0, tls: 0 }, SIGCHLD);

/** vfork(2): the child shares the parent's memory, and the parent waits until it execs or ends (Machine.lend). */
const sysVfork: Handler = (k) => k.sched.fork(k, { flags: CLONE_VM | CLONE_VFORK, stack: 0, parentTid: 0, childTid: 0, tls: 0 }, SIGCHLD);

const WNOHANG = 1, WUNTRACED = 2, WEXITED = 4, WCONTINUED = 8, WNOWAIT = 0x01000000, __WNOTHREAD = 0x20000000, __WALL = 0x40000000, __WCLONE = 0x80000000;
const P_ALL = 0, P_PID = 1, P_PGID = 2, P_PIDFD = 3;
const RUSAGE_SIZE = 144, SIGINFO_SIZE = 128;
/** si_code of SIGCHLD (asm-generic/siginfo.h). */
const CLD_EXITED = 1, CLD_KILLED = 2, CLD_STOPPED = 5, CLD_CONTINUED = 6;
const SIGCONT = 18;

/** Writes struct rusage when `p` is not NULL: the CPU time as user time (torov does not split it), the rest zero. */
function writeRusage(k: Kernel, p: number, cpuNs: number): void {
  if (!p) return;
  k.mem.write(p, rusageOf(cpuNs));
}

/** struct rusage with ru_utime = `cpuNs`. */
export function rusageOf(cpuNs: number): Buffer {
  const b = Buffer.alloc(RUSAGE_SIZE);
  const us = Math.floor(cpuNs / 1000);
  b.writeBigInt64LE(BigInt(Math.floor(us / 1e6)), 0);
  b.writeBigInt64LE(BigInt(us % 1e6), 8);
  return b;
}

/** Implements wait4(2). */
const sysWait4: Handler = (k, a) => {
  const pid = a.i(0), statusPtr = a.ptr(1), options = a.u(2), rusage = a.ptr(3);
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WALL | __WCLONE)) return -EINVAL;
  if (pid === -2147483648) return -ESRCH;
  // As Linux: the child is reaped first; a bad pointer then fails the call with EFAULT.
  const which = pid === -1 ? 'any' : pid > 0 ? 'pid' : 'pgid';
  const id = pid > 0 ? pid : pid === 0 ? k.sched.process(k.pid)!.pgid : -pid;
  // wait4 always looks for ended children (WEXITED); WUNTRACED and WCONTINUED add stopped and continued ones.
  const r = k.sched.waitChild(k, { which, id, options: (options & (WNOHANG | WUNTRACED | WCONTINUED | __WALL | __WCLONE)) | WEXITED });
  if (r === null) return 0;
  if (typeof r === 'number') return r;
  if (statusPtr) k.mem.writeU32(statusPtr, r.status);
  writeRusage(k, rusage, r.cpuNs);
  return r.pid;
};

/** Implements waitid(2). */
const sysWaitid: Handler = (k, a) => {
  const idtype = a.i(0), id = a.i(1), infop = a.ptr(2), options = a.u(3), rusage = a.ptr(4);
  if (options & ~(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | __WNOTHREAD | __WALL | __WCLONE)) return -EINVAL;
  if (!(options & (WEXITED | WUNTRACED | WCONTINUED))) return -EINVAL;
  let which: 'any' | 'pid' | 'pgid';
  let wid = id;
  if (idtype === P_ALL) which = 'any';
  else if (idtype === P_PID) { if (id <= 0) return -EINVAL; which = 'pid'; }
  else if (idtype === P_PGID) { if (id < 0) return -EINVAL; which = 'pgid'; if (id === 0) wid = k.sched.process(k.pid)!.pgid; }
  else if (idtype === P_PIDFD) {
    const pid = k.fds.pidfds.get(id);
    if (pid === undefined) return -EBADF;
    which = 'pid';
    wid = pid;
  } else return -EINVAL;
  // (WSTOPPED is WUNTRACED's value.)
  const r = k.sched.waitChild(k, { which, id: wid, options: options & (WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | __WALL | __WCLONE) });
  if (typeof r === 'number') return r;
  if (infop) k.mem.write(infop, siginfoOf(r));
  writeRusage(k, rusage, r ? r.cpuNs : 0);
  return 0;
};

/** The siginfo waitid reports (all zero when WNOHANG found nothing). */
function siginfoOf(r: ChildStatus | null): Buffer {
  const b = Buffer.alloc(SIGINFO_SIZE);
  if (!r) return b;
  let code: number, status: number;
  if (r.status === 0xffff) { code = CLD_CONTINUED; status = SIGCONT; }                       // WIFCONTINUED
  else if ((r.status & 0xff) === 0x7f) { code = CLD_STOPPED; status = (r.status >> 8) & 0xff; }  // WIFSTOPPED
  else if ((r.status & 0x7f) !== 0) { code = CLD_KILLED; status = r.status & 0x7f; }
  else { code = CLD_EXITED; status = (r.status >> 8) & 0xff; }
  b.writeInt32LE(SIGCHLD, 0);
  b.writeInt32LE(code, 8);
  b.writeInt32LE(r.pid, 16);
  b.writeUInt32LE(r.uid, 20);
  b.writeInt32LE(status, 24);
  return b;
}

/** Implements pidfd_open(2): flags 0 or PIDFD_NONBLOCK. */
const sysPidfdOpen: Handler = (k, a) => {
  const pid = a.i(0), flags = a.u(1);
  if (pid <= 0 || (flags & ~O_NONBLOCK_) !== 0) return -EINVAL;
  return newPidfd(k, pid, (flags & O_NONBLOCK_) !== 0);
};
const O_NONBLOCK_ = 0o4000, O_CLOEXEC_ = 0o2000000;

/** A pidfd for process `pid` (pidfd_open, CLONE_PIDFD): a host eventfd the scheduler signals at its end. */
export function newPidfd(k: Kernel, pid: number, nonblock: boolean): number {
  if (!k.sched.process(pid)) return -ESRCH;
  const efd = sys(HOST.eventfd2, 0, O_CLOEXEC_ | (nonblock ? O_NONBLOCK_ : 0));
  return efd < 0 ? efd : k.sched.pidfdOpen(k, pid, efd);
}

/** Implements pidfd_send_signal(2) (as kill: the siginfo argument must be NULL here). */
const sysPidfdSendSignal: Handler = (k, a) => {
  const pid = k.fds.pidfds.get(a.i(0)), sig = a.i(1);
  if (a.u(3) !== 0) return -EINVAL;
  if (pid === undefined) return -EBADF;                  // not a pidfd (or not open)
  if (sig < 0 || sig > 64) return -EINVAL;
  if (a.ptr(2) !== 0) { k.note('pidfd-siginfo', 'pidfd_send_signal with a siginfo is not supported: EINVAL'); return -EINVAL; }
  if (!k.sched.process(pid)) return -ESRCH;              // reaped
  return k.sched.killProcesses(k, pid, { signo: sig, code: 0 /* SI_USER */, pid: k.pid, uid: k.uid });
};

export const execHandlers: HandlerTable = {
  pidfd_open: sysPidfdOpen,
  pidfd_send_signal: sysPidfdSendSignal,
  execve: sysExecve,
  execveat: sysExecveat,
  fork: sysFork,
  vfork: sysVfork,
  wait4: sysWait4,
  waitid: sysWaitid,
};
