/**
 * All handlers, indexed by syscall number. Each area module exports its handlers by
 * syscall name; this is the only place that joins them, and it fails loudly at start if a
 * name is not a Linux x86-64 syscall or is claimed twice.
 */
import { Handler, HandlerTable } from './api';
import { syscallByName } from '../linux/syscalls';
import { processHandlers } from './process';
import { threadHandlers } from './thread';
import { signalHandlers } from './signal';
import { mmHandlers } from './mm';
import { ioHandlers } from './io';
import { timeHandlers } from './time';
import { fsHandlers } from './fs';
import { netHandlers } from './net';
import { pollHandlers } from './poll';
import { execHandlers } from './exec';

const AREAS: readonly HandlerTable[] = [processHandlers, threadHandlers, signalHandlers, mmHandlers, ioHandlers, timeHandlers, fsHandlers, netHandlers, pollHandlers, execHandlers];

function build(): (Handler | undefined)[] {
  const table: (Handler | undefined)[] = new Array(512).fill(undefined);
  for (const area of AREAS) {
    for (const [name, h] of Object.entries(area)) {
      const info = syscallByName(name);
      if (!info) throw new Error(`handler for unknown syscall "${name}"`);
      if (table[info.nr]) throw new Error(`two handlers for syscall "${name}"`);
      table[info.nr] = h;
    }
  }
  return table;
}

/** Handler by syscall number (undefined: ENOSYS). */
export const HANDLERS: readonly (Handler | undefined)[] = build();

/** Names of the syscalls that have a handler. */
export function implementedNames(): string[] {
  const out: string[] = [];
  for (const area of AREAS) out.push(...Object.keys(area));
  return out.sort();
}
