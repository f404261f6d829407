/**
 * `torov run`: resolve the program and the policy, boot the VM, run it, return its status.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Options, UsageError } from './args';
import { say } from './main';
import { DEFAULT_MEMORY, MIN_MEMORY, MAX_MEMORY } from '../machine/layout';

/** Runs `program` with `args`; returns the exit status. */
export function runProgram(program: string, args: readonly string[], opts: Options, env: string[]): number {
  // Only what this run needs is loaded: start-up time is part of every run.
  const { defaultPolicy } = require('../policy/default') as typeof import('../policy/default');
  const load = () => require('../policy/load') as typeof import('../policy/load');
  let policy = defaultPolicy();
  let file = program;
  // `torov run app.json`: an original ToroV configuration names the binary and its policy.
  if (/\.json$/i.test(program)) {
    const loaded = load().loadPolicyFile(program);
    if (loaded.kind !== 'torov-config') throw new UsageError(`${program} is a torov policy, not a program: use torov run --policy ${program} PROGRAM`);
    file = loaded.binary;
    policy = loaded.policy;
  }
  if (typeof opts['policy'] === 'string') {
    const loaded = load().loadPolicyFile(opts['policy']);
    policy = loaded.policy;
  }
  let memory = policy.memory ?? DEFAULT_MEMORY;
  if (typeof opts['memory'] === 'string') {
    try { memory = (require('../policy/torov-format') as typeof import('../policy/torov-format')).parseSize(opts['memory']); } catch (e) { throw new UsageError(`--memory: ${(e as Error).message}`); }
  }
  if (memory < MIN_MEMORY || memory > MAX_MEMORY) throw new UsageError(`--memory must be between ${MIN_MEMORY >> 20}M and ${MAX_MEMORY / 2 ** 30}G`);
  memory = Math.ceil(memory / 2 ** 21) * 2 ** 21;

  const resolved = resolveProgram(file);
  let image: Buffer;
  try { image = fs.readFileSync(resolved); }
  catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    say(`torov: ${file}: ${code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
    return 126;
  }

  let traceFd: number | undefined;
  if (opts['trace-file']) traceFd = fs.openSync(opts['trace-file'] as string, 'w');
  else if (opts['trace']) traceFd = 2;

  const { Machine } = require('../vmm/machine') as typeof import('../vmm/machine');
  let m: InstanceType<typeof Machine>;
  try {
    m = new Machine({ path: resolved, image, argv: [file, ...args], env, memory, policy, traceFd, verbose: !!opts['verbose'], log: say });
  } catch (e) {
    if ((e as Error).name === 'ElfError') (e as Error).message = `${file}: ${(e as Error).message}`;
    throw e;
  }
  try {
    return m.run();
  } finally {
    m.close();
    if (traceFd !== undefined && traceFd !== 2) fs.closeSync(traceFd);
  }
}

/** Finds the program like a shell does: a path with a slash as is, otherwise on $PATH. */
function resolveProgram(file: string): string {
  if (file.includes('/')) {
    if (!fs.existsSync(file)) throw Object.assign(new UsageError(`${file}: no such file`), { status: 127 });
    return file;
  }
  if (fs.existsSync(file) && fs.statSync(file).isFile()) return file;
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const p = path.join(dir || '.', file);
    try { if (fs.statSync(p).isFile()) return p; } catch { /* next */ }
  }
  throw Object.assign(new UsageError(`${file}: not found (give a path, or put it on PATH)`), { status: 127 });
}
