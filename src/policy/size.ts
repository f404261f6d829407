/**
 * Memory sizes as policies and the command line write them ("64M", "1G", bytes).
 */
import { showValue } from './errors';

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Parses a memory size: a number of bytes, or a string such as "512K",
 * "256M", "1G", "64MiB", "2gb", "1.5G", "4096". Suffixes K, M and G are
 * case-insensitive, may be followed by "i" and/or "B", and are all binary
 * (1M = 1 MiB = 1048576 bytes, as in Docker's --memory). A bare "B" means
 * bytes. The result must be a whole number of bytes, more than 0 and at most
 * Number.MAX_SAFE_INTEGER. Throws a RangeError with a one-line message
 * otherwise (also used by the CLI's --memory).
 */
export function parseSize(s: string | number): number {
  const shown = typeof s === 'string' ? JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s) : String(s);
  let bytes: number;
  if (typeof s === 'number') {
    bytes = s;
  } else if (typeof s === 'string') {
    const m = /^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:([kmg])(i?))?(b?)\s*$/i.exec(s);
    if (m === null) {
      throw new RangeError(`invalid size ${shown}: expected a number of bytes with an optional K, M or G suffix (e.g. 512K, 64M, 1G)`);
    }
    const unit = SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1;
    bytes = Number(m[1]) * unit;
  } else {
    throw new RangeError(`invalid size ${showValue(s)}: expected a string such as "64M" or a number of bytes`);
  }
  if (!Number.isFinite(bytes)) throw new RangeError(`invalid size ${shown}: not a finite number`);
  if (bytes <= 0) throw new RangeError(`invalid size ${shown}: must be more than 0 bytes`);
  if (!Number.isInteger(bytes)) throw new RangeError(`invalid size ${shown}: not a whole number of bytes`);
  if (bytes > Number.MAX_SAFE_INTEGER) throw new RangeError(`invalid size ${shown}: too large`);
  return bytes;
}
