/**
 * koffi, loaded from its native module directly.
 *
 * `require('koffi')` runs koffi's JavaScript loader: it resolves two packages, reads the
 * ELF headers of Node's own binary to tell glibc from musl, and wraps deprecated calls.
 * That costs about 5 ms of every `torov run` (6.2 ms against 0.9 ms here), for an object
 * the native module already is: its exports are koffi's API. So torov dlopens the native
 * module of the platform package (`@koromix/koffi-linux-x64`, the glibc build: torov calls
 * glibc's libc.so.6 anyway) and checks it has what torov uses; on any doubt it falls back
 * to `require('koffi')`.
 *
 * No import here loads koffi or the rest of torov: src/vmm/vcpu-thread.ts (loaded by
 * bin/torov before the bundle) takes the path from here too, and its threads dlopen the
 * same path string, which the dynamic linker then matches by name without opening a file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

type Koffi = typeof import('koffi');

/** What torov calls on koffi: a native module without them is not the koffi torov knows. */
const USED = ['load', 'errno', 'view', 'address'] as const;

const g = globalThis as { __torovKoffiNative?: string; __torovKoffi?: Koffi };

/**
 * Path of koffi's native module: the one already loaded (the bundle and dist/src share
 * it through globalThis), else where koffi's own loader finds it (glibc build first).
 */
export function koffiNativePath(): string {
  if (g.__torovKoffiNative !== undefined) return g.__torovKoffiNative;
  const cached = Object.keys(require.cache).find((k) => k.endsWith('/koffi.node'));
  if (cached) return (g.__torovKoffiNative = cached);
  const dir = path.dirname(require.resolve(`@koromix/koffi-${process.platform}-${process.arch}`));
  for (const triplet of [`${process.platform}_${process.arch}`, `musl_${process.arch}`]) {
    const p = path.join(dir, triplet, 'koffi.node');
    if (fs.existsSync(p)) return (g.__torovKoffiNative = p);
  }
  throw new Error('cannot find koffi\'s native module');
}

/** koffi's API: its native module, loaded once per process (see above). */
export function loadKoffi(): Koffi {
  if (g.__torovKoffi !== undefined) return g.__torovKoffi;
  let k: Koffi | undefined;
  try {
    const m = { exports: {} as Record<string, unknown> };
    process.dlopen(m, koffiNativePath());
    if (USED.every((f) => typeof m.exports[f] === 'function')) k = m.exports as unknown as Koffi;
  } catch { /* the package's own loader below */ }
  if (k === undefined) {
    k = require('koffi') as Koffi;
    delete g.__torovKoffiNative;       // whatever it loaded is in require.cache now
  }
  return (g.__torovKoffi = k);
}
