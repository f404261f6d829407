/** Helpers for integration tests: run bin/torov on real guests, on real KVM. */
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TOROV = path.join(ROOT, 'bin', 'torov');
export const GUESTS = path.join(ROOT, 'test', 'guests');

/** A guest binary's path. */
export const guest = (name: string) => path.join(GUESTS, name);

export interface RunResult { status: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null }

/** Runs `torov ARGS...` and returns its status and output. */
export function torov(args: readonly string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): RunResult {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [TOROV, ...args], {
    encoding: 'utf8', input: opts.input ?? '', cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, timeout: opts.timeout ?? 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** Runs a guest natively (for side-by-side comparisons). */
export function native(file: string, args: readonly string[] = [], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = spawnSync(file, args, { encoding: 'utf8', input: '', cwd: opts.cwd ?? ROOT, env: opts.env ?? {}, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}
