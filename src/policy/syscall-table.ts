/**
 * The policy loaders' view of the syscall table: name <-> number, plus the
 * list of names for did-you-mean suggestions.
 *
 * Everything in src/policy takes a `SyscallTable` parameter that defaults to
 * `linuxSyscalls()`, the x86-64 table from src/linux/syscalls. This is the
 * only file in src/policy that imports it, so tests (or another ABI) can pass
 * their own table.
 */
import { SYSCALLS } from '../linux/syscalls';

/** Name <-> number lookups over one syscall ABI. */
export interface SyscallTable {
  /** The number of a syscall name (exact, lower-case kernel spelling), or undefined. */
  nrOf(name: string): number | undefined;
  /** The name of a syscall number, or undefined for holes and out-of-range numbers. */
  nameOf(nr: number): string | undefined;
  /** Every name, in number order (for suggestions and listings). */
  readonly names: readonly string[];
}

/** Builds a `SyscallTable` from `{ nr, name }` entries (holes may be undefined). */
export function makeSyscallTable(entries: Iterable<{ readonly nr: number; readonly name: string } | undefined>): SyscallTable {
  const byName = new Map<string, number>();
  const byNr = new Map<number, string>();
  for (const e of entries) {
    if (e === undefined) continue;
    if (!byName.has(e.name)) byName.set(e.name, e.nr);
    if (!byNr.has(e.nr)) byNr.set(e.nr, e.name);
  }
  const names = Object.freeze([...byNr.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n));
  return {
    nrOf: (name) => byName.get(name),
    nameOf: (nr) => byNr.get(nr),
    names,
  };
}

let linux: SyscallTable | undefined;

/** The Linux x86-64 syscall table (src/linux/syscalls), built once on first use. */
export function linuxSyscalls(): SyscallTable {
  linux ??= makeSyscallTable(SYSCALLS);
  return linux;
}

/** The coarse area of a syscall name (file, io, net, mm, time, process, signal, ident, sys, other) for summaries. */
export function syscallArea(name: string): string {
  return SYSCALLS.find((s) => s.name === name)?.area ?? 'other';
}

/** The areas in display order. */
export { AREAS } from '../linux/syscalls';
