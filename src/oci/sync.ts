/**
 * The VMM's side of `torov-oci create` and `start` (src/oci/main.ts). The OCI runtime
 * starts `torov run --oci-sync DIR`, DIR its container's state directory, which holds two
 * FIFOs the runtime made (an option, not the environment: an environment variable could be
 * set by anyone up the process tree, and would reach the guest with --env-inherit):
 *  - `ready`: the VMM writes one line once the VM is built, jailed and filtered, so that
 *    `create` can return with the container process in existence;
 *  - `start`: the VMM then blocks reading it, before the program's first instruction,
 *    until `torov-oci start` writes a byte.
 * Both are opened before the jail hides the host's files (a FIFO opened O_RDWR never
 * blocks; `ready` has a reader, the waiting `create`). The directory may also hold
 * `hostname`, the guest's host name. Outside the OCI runtime nothing here happens. The
 * guest never sees either fd.
 */
import * as fs from 'node:fs';
import { UsageError } from '../cli/args';

/** The two FIFOs of a created container, open. */
export interface OciSync { readonly ready: number; readonly start: number }

/** Opens the FIFOs in `dir` (torov run --oci-sync DIR). */
export function openOciSync(dir: string): OciSync {
  const open = (name: string, flags: number): number => {
    const fd = fs.openSync(`${dir}/${name}`, flags | fs.constants.O_NONBLOCK);
    if (!fs.fstatSync(fd).isFIFO()) { fs.closeSync(fd); throw new UsageError(`--oci-sync: ${dir}/${name} is not a FIFO (--oci-sync is for torov-oci only)`); }
    return fd;
  };
  const start = open('start', fs.constants.O_RDWR);
  const ready = open('ready', fs.constants.O_WRONLY);
  // config.json's hostname, which torov-oci checked: the guest's uname nodename.
  let name: string | undefined;
  try { name = fs.readFileSync(`${dir}/hostname`, 'utf8'); } catch { /* none given */ }
  if (name !== undefined && name !== '' && Buffer.byteLength(name) <= 64) (require('../syscalls/process') as typeof import('../syscalls/process')).UTS[1] = name;
  return { ready, start };
}

/**
 * A create by torov-oci's native front end (src/oci/prepare.ts): the ready FIFO, open from
 * the start, so that any error before the VM is ready is handed back to the JavaScript
 * runtime (handOver) instead of being reported here.
 */
let handoverFd = -1;

/** From now until the VM is ready, errors are handed back (see handoverFd). */
export function beginHandover(dir: string): void {
  const fd = fs.openSync(`${dir}/ready`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  if (!fs.fstatSync(fd).isFIFO()) { fs.closeSync(fd); throw new UsageError(`--oci-sync: ${dir}/ready is not a FIFO (--oci-sync is for torov-oci only)`); }
  handoverFd = fd;
}

/** Hands an error back to the front end, which then runs the JavaScript `create`; false when no create of the front end is preparing. */
export function handOver(why: string): boolean {
  if (handoverFd < 0) return false;
  try { fs.writeSync(handoverFd, `handover ${why.replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 200)}\n`); } catch { /* the front end gave up: it kills this process */ }
  endHandover();
  return true;
}

function endHandover(): void {
  if (handoverFd >= 0) fs.closeSync(handoverFd);
  handoverFd = -1;
}

/**
 * Tells `create` that the VM is ready, then waits until `start` (or the end of the
 * process: `delete --force` and `kill` of a created container end it with a signal).
 */
export function waitForStart(s: OciSync): void {
  endHandover();
  try { fs.writeSync(s.ready, `ready ${process.pid}\n`); } catch { /* create gave up: it kills this process */ }
  fs.closeSync(s.ready);
  // Blocking now: the start FIFO was opened non-blocking so that its open could not wait.
  const { sys, NR } = require('../host/libc') as typeof import('../host/libc');
  const byte = Buffer.alloc(1);
  const { F_GETFL, F_SETFL } = require('../linux/fcntl') as typeof import('../linux/fcntl');
  sys(NR.fcntl, s.start, F_SETFL, sys(NR.fcntl, s.start, F_GETFL) & ~fs.constants.O_NONBLOCK);
  for (;;) {
    let n: number;
    try { n = fs.readSync(s.start, byte, 0, 1, null); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EINTR' || (e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw e;
    }
    if (n === 1) break;
  }
  fs.closeSync(s.start);
}
