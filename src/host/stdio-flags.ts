/**
 * The file status flags of the standard streams as torov was given them, read before
 * anything can change them.
 *
 * Loading koffi copies the properties of a Node built-in module; on Node 24 that touches a
 * lazy getter which creates `process.stderr`, and Node makes a piped stream non-blocking
 * (O_NONBLOCK on the open file, which the guest and the shell behind the pipe share). torov
 * writes its messages and --trace lines with blocking writes, and the guest must see its
 * stdio as its parent made it; so src/host/libc.ts, right after loading koffi, puts back
 * what was here. This module must be imported before koffi (libc.ts imports it first).
 */
import * as fs from 'node:fs';
import { O_NONBLOCK } from '../linux/fcntl';

/** fd -> whether O_NONBLOCK was set at start (undefined: not open, or not known). */
const nonblockAtStart: ReadonlyArray<boolean | undefined> = [0, 1, 2].map((fd) => {
  try {
    const m = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m ? (parseInt(m[1]!, 8) & O_NONBLOCK) !== 0 : undefined;
  } catch {
    return undefined;
  }
});

/**
 * Clears O_NONBLOCK on each standard stream that did not have it at start. `getfl` and
 * `setfl` are fcntl(fd, F_GETFL) and fcntl(fd, F_SETFL, flags) (negative: failed).
 */
export function restoreStdioFlags(getfl: (fd: number) => number, setfl: (fd: number, flags: number) => number): void {
  nonblockAtStart.forEach((was, fd) => {
    if (was !== false) return;
    const now = getfl(fd);
    if (now >= 0 && (now & O_NONBLOCK)) setfl(fd, now & ~O_NONBLOCK);
  });
}
