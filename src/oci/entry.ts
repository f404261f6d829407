/**
 * The container's entry program, checked at `create` so that an image torov cannot run
 * fails there, with one line naming the file: it must be an x86-64 ELF program (static, or
 * dynamic with its interpreter in the image), or a `#!` script whose interpreter is one.
 * A script is started as the kernel would start it: the interpreter, its optional
 * argument, the script's path, then the arguments.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OciError, type RunPlan } from './config';

const EM_X86_64 = 62, ET_EXEC = 2, ET_DYN = 3;

/** What is wrong with an executable's first bytes, or undefined for an x86-64 ELF program. */
export function elfProblem(head: Buffer): string | undefined {
  if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF program';
  if (head[4] !== 2 || head[5] !== 1) return 'not a 64-bit little-endian ELF program';
  const machine = head.readUInt16LE(18), type = head.readUInt16LE(16);
  if (machine !== EM_X86_64) return `an ELF program for another architecture (e_machine ${machine}; torov runs x86-64)`;
  if (type !== ET_EXEC && type !== ET_DYN) return `an ELF file that is not a program (e_type ${type})`;
  return undefined;
}

/** The first bytes of a file found in the container's root, by its guest path. */
type Opener = (guest: string) => { head: Buffer; guestPath: string };

/**
 * Finds process.args[0] in the plan's root (on the guest's PATH when it has no slash) and
 * checks it; returns the words to run (rewritten for a `#!` script).
 */
export function checkEntry(plan: RunPlan, opener: Opener = rootOpener(plan)): string[] {
  const first = opener(plan.args[0]!);
  if (first.head.subarray(0, 2).toString('latin1') === '#!') {
    const line = first.head.subarray(2).toString('latin1').split('\n')[0]!;
    if (first.head.indexOf(0x0a) < 0 && first.head.length >= 256) throw new OciError(`${plan.args[0]}: its #! line is longer than 256 bytes`);
    const m = /^[ \t]*(\S+)(?:[ \t]+(.*?))?[ \t]*$/.exec(line);
    if (!m) throw new OciError(`${plan.args[0]}: a #! script that names no interpreter`);
    const interp = opener(m[1]!);
    if (interp.head.subarray(0, 2).toString('latin1') === '#!') throw new OciError(`${plan.args[0]}: its interpreter ${m[1]} is itself a script (torov-oci starts one level of #!)`);
    const why = elfProblem(interp.head);
    if (why !== undefined) throw new OciError(`${plan.args[0]}: its #! interpreter ${m[1]} is ${why}`);
    return [m[1]!, ...(m[2] ? [m[2]] : []), first.guestPath, ...plan.args.slice(1)];
  }
  const why = elfProblem(first.head);
  if (why !== undefined) throw new OciError(`${plan.args[0]}: the container's program is ${why} (torov runs x86-64 ELF programs and #! scripts run by one)`);
  return plan.args;
}

/** Opens guest paths inside the plan's root as the guest will see them (src/sandbox/jail.ts: openInRoot). */
function rootOpener(plan: RunPlan): Opener {
  const jail = require('../sandbox/jail') as typeof import('../sandbox/jail');
  const pathVar = plan.env.filter((e) => e.startsWith('PATH=')).pop()?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return (file) => {
    let f: { fd: number; guestPath: string };
    try { f = jail.openInRoot(file, { root: plan.root, volumes: plan.volumes, cwd: plan.cwd, pathVar }); }
    catch (e) { throw new OciError(`${file}: ${(e as Error).message.replace(/^.*?: /, '')} (in the container's root ${plan.root})`); }
    try {
      const head = Buffer.alloc(256);
      const n = fs.readSync(f.fd, head, 0, head.length, 0);
      return { head: head.subarray(0, n), guestPath: path.posix.normalize(f.guestPath) };
    } finally { fs.closeSync(f.fd); }
  };
}
