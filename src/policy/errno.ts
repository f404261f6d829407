/**
 * Errno names as policies spell them ("EACCES", any case), on top of the
 * Linux errno table in src/linux/errno.
 */
import { ERRNO, MAX_ERRNO, errnoByName as linuxErrnoByName, errnoName as linuxErrnoName } from '../linux/errno';

export { MAX_ERRNO };

/** Aliases a policy may use besides the canonical names (same numbers as EAGAIN, EDEADLK, EOPNOTSUPP). */
const ALIAS_NAMES = ['EWOULDBLOCK', 'EDEADLOCK', 'ENOTSUP'] as const;

/** Every errno name a policy may use, for did-you-mean suggestions. */
export const ERRNO_NAMES: readonly string[] = Object.freeze([...Object.keys(ERRNO), ...ALIAS_NAMES]);

/** The errno number for a name such as "EACCES" or "eacces" (aliases included), or undefined. */
export function errnoByName(name: string): number | undefined {
  return linuxErrnoByName(name.toUpperCase());
}

/** The canonical name of an errno number ("EACCES"), or undefined if it has none. */
export function errnoName(n: number): string | undefined {
  const s = linuxErrnoName(n);
  return s === `E${n}` ? undefined : s;
}
