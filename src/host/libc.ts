/**
 * The VMM's only door to libc, through koffi (no C addon).
 *
 * Everything the VMM asks of the host kernel goes through `sys()`: glibc's syscall(3)
 * declared with a fixed prototype. syscall(3) is variadic in C, but on x86-64 a fixed
 * prototype with seven integer arguments produces the same register assignment, and
 * glibc's implementation (assembly) never reads %al, so the cheaper non-variadic call is
 * safe. Pointers are passed as plain numbers (host addresses fit in 47 bits).
 */
import { restoreStdioFlags } from './stdio-flags';        // first: before koffi (see there)
import { loadKoffi } from './koffi';
import { EINTR } from '../linux/errno';
import { SYS as NR } from '../linux/syscalls';
import { F_GETFL, F_SETFL } from '../linux/fcntl';

const koffi = loadKoffi();
const libc = koffi.load('libc.so.6');

const rawSyscall = libc.func('long syscall(long, long, long, long, long, long, long)') as (
  nr: number, a: number, b: number, c: number, d: number, e: number, f: number) => number;

/**
 * Performs host syscall `nr`. Returns the result, or `-errno` on failure, like the raw
 * kernel ABI (glibc's -1/errno convention is undone here, in one place).
 */
export function sys(nr: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0): number {
  const r = rawSyscall(nr, a, b, c, d, e, f);
  return r === -1 ? -koffi.errno() : r;
}

restoreStdioFlags((fd) => sys(NR.fcntl, fd, F_GETFL), (fd, flags) => sys(NR.fcntl, fd, F_SETFL, flags));

/** ioctl(2) with a pointer argument (a Buffer or ArrayBuffer-backed view). */
export const ioctlPtr = libc.func('int ioctl(int fd, unsigned long req, void *arg)') as (
  fd: number, req: number, arg: Buffer | Uint8Array | null) => number;

/** ioctl(2) with an integer argument. */
export const ioctlInt = libc.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']) as (
  fd: number, req: number, arg: number) => number;

/**
 * glibc's set*id wrappers. Unlike the raw syscalls, which change only the calling thread's
 * credentials, these change every thread of the process (glibc signals each one to do the
 * same call), so no thread Node or torov started earlier keeps the old identity. Each
 * returns 0, or -errno.
 */
const setresuidFn = libc.func('int setresuid(uint32_t, uint32_t, uint32_t)') as (a: number, b: number, c: number) => number;
const setresgidFn = libc.func('int setresgid(uint32_t, uint32_t, uint32_t)') as (a: number, b: number, c: number) => number;
const setgroupsFn = libc.func('int setgroups(size_t, void *)') as (n: number, list: null) => number;
export const allThreads = {
  setresuid: (u: number) => (setresuidFn(u, u, u) === 0 ? 0 : -koffi.errno()),
  setresgid: (g: number) => (setresgidFn(g, g, g) === 0 ? 0 : -koffi.errno()),
  clearGroups: () => (setgroupsFn(0, null) === 0 ? 0 : -koffi.errno()),
};

const sigactionFn = libc.func('int sigaction(int, const void *, void *)') as (sig: number, act: Buffer, old: null) => number;
/**
 * glibc's sigaction(2) wrapper (it adds SA_RESTORER and its own restorer): `act` is glibc's
 * struct sigaction (152 bytes). Returns 0, or -errno. For src/vmm/host-signals.ts.
 */
export function sigaction(sig: number, act: Buffer): number {
  return sigactionFn(sig, act, null) === 0 ? 0 : -koffi.errno();
}

/** The calling thread's errno after a failed libc call. */
export function errno(): number {
  return koffi.errno();
}

const memcpyFn = libc.func('memcpy', 'void *', ['uintptr_t', 'uintptr_t', 'size_t']) as (d: number, s: number, n: number) => unknown;
/** Copies n bytes between host addresses (guest memory of two VMs: a fork's copy). */
export function memcpy(dest: number, src: number, n: number): void {
  if (n > 0) memcpyFn(dest, src, n);
}

/** Host address of an ArrayBuffer-backed byte view (for passing VMM buffers to `sys`). */
export function addressOf(buf: Uint8Array): number {
  return Number(koffi.address(buf)) ;
}

/**
 * Wraps host memory at `addr` (from mmap) as an ArrayBuffer, without copying.
 * The caller keeps the mapping alive as long as the view is used.
 */
export function viewOf(addr: number, len: number): ArrayBuffer {
  return koffi.view(addr as unknown as object, len) as ArrayBuffer;
}

/** Host syscall numbers by name: the host is x86-64 too, so they are the guest's (src/linux/syscalls.ts). */
export { NR };

/** Writes a whole string to a host fd (synchronously; for traces and messages). */
export function writeAll(fd: number, text: string): void {
  const b = Buffer.from(text);
  let off = 0;
  while (off < b.length) {
    const r = sys(NR.write, fd, addressOf(b) + off, b.length - off);
    if (r === -EINTR) continue;
    if (r <= 0) return;
    off += r;
  }
}
