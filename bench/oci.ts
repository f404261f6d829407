/**
 * The containers section of `npm run bench` (issue 14): `ctr run --rm` of hello through
 * containerd's runc shim, with runc and with bin/torov-oci, side by side in one run
 * (goal: torov <= runc + 100 ms), and the split of a container's start-up as the runtime
 * alone gives it: `create` (the VM built and waiting before its first instruction),
 * `start`, and `delete` once the program ended, for both runtimes on the same bundle (the
 * shim's own share is what `ctr run` takes beyond them).
 *
 * It needs containerd, ctr and runc (Debian: containerd, runc) and root; it starts a
 * private containerd (test/oci/containerd.sh) under /run and stops it at the end. Without
 * them it says so and adds nothing.
 */
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const RUNTIME = path.join(ROOT, 'bin', 'torov-oci');
const IMAGE = 'docker.io/torov/guests:latest';
const NS = 'torov-bench';

interface Row { what: string; native?: number; torov?: number; unit?: string; note?: string }

const has = (cmd: string) => cp.spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (v: number[]) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

/** Runs `cmd args` and returns its wall time (ms); throws on a non-zero status. */
function timed(cmd: string, args: string[], opts: cp.SpawnSyncOptions = {}): number {
  const t0 = process.hrtime.bigint();
  const r = cp.spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...opts });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: status ${r.status}: ${String(r.stderr ?? '').trim()}`);
  return t;
}

/** A bundle with hello as its program (as oci.test makes them). */
function makeBundle(dir: string): string {
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'test', 'guests', 'hello'), path.join(rootfs, 'hello'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    ociVersion: '1.0.2-dev',
    process: { user: { uid: 0, gid: 0 }, args: ['/hello'], env: ['PATH=/usr/bin:/bin'], cwd: '/', noNewPrivileges: true },
    root: { path: 'rootfs' },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs' }],
    linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }] },
  }));
  return dir;
}

export function sectionContainers(rows: Row[], quick: boolean, log: (s: string) => void): void {
  const missing = ['containerd', 'ctr', 'runc'].filter((c) => !has(c));
  if (missing.length || process.getuid?.() !== 0) {
    log(`containers: skipped (${missing.length ? `not installed: ${missing.join(', ')}` : 'needs root'})`);
    return;
  }
  const work = fs.mkdtempSync(path.join('/run', 'torov-bench-oci-'));
  const ctd = path.join(work, 'containerd');
  let sock: string | undefined;
  try {
    log('containers: starting a private containerd...');
    sock = cp.execFileSync(path.join(ROOT, 'test', 'oci', 'containerd.sh'), ['start', ctd], { encoding: 'utf8' }).trim();
    const ctr = (args: string[]) => ['--address', sock!, '--namespace', NS, ...args];
    const tar = path.join(work, 'image.tar');
    cp.execFileSync(process.execPath, [path.join(ROOT, 'test', 'oci', 'make-image.js'), tar, IMAGE]);
    timed('ctr', ctr(['images', 'import', tar]));
    const n = quick ? 5 : 15;
    // 1. ctr run --rm, alternating the runtimes so that both see the same machine.
    log(`containers: ctr run --rm hello, runc and torov-oci, ${n} each...`);
    const runc: number[] = [], torov: number[] = [];
    for (let i = 0; i < n + 1; i++) {
      const a = timed('ctr', ctr(['run', '--rm', IMAGE, `bench-runc-${i}`, '/hello']));
      const b = timed('ctr', ctr(['run', '--rm', '--runc-binary', RUNTIME, IMAGE, `bench-torov-${i}`, '/hello']));
      if (i > 0) { runc.push(a); torov.push(b); }            // the first of each warms caches
    }
    rows.push({ what: 'containers: ctr run --rm hello (runc | torov-oci)', native: median(runc) * 1e6, torov: median(torov) * 1e6, unit: 'ns',
      note: `goal: torov <= runc + 100 ms; here +${(median(torov) - median(runc)).toFixed(0)} ms (the native column is runc)` });
    // 2. ctr task exec of hello in a running sleeper, as kubectl exec and exec probes do.
    log(`containers: ctr task exec hello, runc and torov-oci, ${n} each...`);
    const execs: Record<'runc' | 'torov', number[]> = { runc: [], torov: [] };
    try {
      timed('ctr', ctr(['run', '-d', IMAGE, 'bench-exec-runc', '/oci_probe', 'sleep']));
      timed('ctr', ctr(['run', '-d', '--runc-binary', RUNTIME, IMAGE, 'bench-exec-torov', '/oci_probe', 'sleep']));
      for (let i = 0; i < n + 1; i++) {
        for (const k of ['runc', 'torov'] as const) {
          const t = timed('ctr', ctr(['task', 'exec', '--exec-id', `e${i}`, `bench-exec-${k}`, '/hello']));
          if (i > 0) execs[k].push(t);
        }
      }
      rows.push({ what: 'containers: ctr task exec hello (runc | torov-oci)', native: median(execs.runc) * 1e6, torov: median(execs.torov) * 1e6, unit: 'ns',
        note: 'in a running container; the native column is runc' });
    } finally {
      for (const k of ['runc', 'torov']) {
        cp.spawnSync('ctr', ctr(['task', 'kill', '-s', 'SIGKILL', `bench-exec-${k}`]), { timeout: 30_000 });
        for (let w = 0; w < 50 && /RUNNING/.test(cp.spawnSync('ctr', ctr(['task', 'ls']), { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes(`bench-exec-${k}`)).join('')); w++) cp.spawnSync('sleep', ['0.1']);
        cp.spawnSync('ctr', ctr(['task', 'delete', `bench-exec-${k}`]), { timeout: 30_000 });
        cp.spawnSync('ctr', ctr(['container', 'delete', `bench-exec-${k}`]), { timeout: 30_000 });
      }
    }
    // 3. The runtime alone on one bundle: create, start to the program's end, delete.
    log(`containers: the runtime alone (create, start, delete), ${n} each...`);
    const bundle = makeBundle(path.join(work, 'bundle'));
    const split = (bin: string, state: string) => {
      const c: number[] = [], s: number[] = [], d: number[] = [];
      for (let i = 0; i < n; i++) {
        const id = `split-${i}`;
        const out = fs.openSync('/dev/null', 'w');
        c.push(timed(bin, ['--root', state, 'create', '--bundle', bundle, id], { stdio: ['ignore', out, out] }));
        fs.closeSync(out);
        s.push(timed(bin, ['--root', state, 'start', id]));
        // Untimed: until the program has ended (state says "stopped").
        for (let k = 0; k < 500; k++) {
          const st = cp.spawnSync(bin, ['--root', state, 'state', id], { encoding: 'utf8' });
          if (/"status":\s*"stopped"/.test(st.stdout)) break;
        }
        d.push(timed(bin, ['--root', state, 'delete', id]));
      }
      return { create: median(c), start: median(s), del: median(d) };
    };
    const r = split('runc', path.join(work, 'runc-state'));
    const t = split(RUNTIME, path.join(work, 'torov-state'));
    for (const [k, what] of [['create', 'create (to before the first instruction)'], ['start', 'start'], ['del', 'delete (after the program ended)']] as const) {
      rows.push({ what: `containers: runtime ${what}`, native: r[k] * 1e6, torov: t[k] * 1e6, unit: 'ns', note: 'the native column is runc' });
    }
  } catch (e) {
    log(`containers: failed: ${(e as Error).message}`);
  } finally {
    if (sock) cp.spawnSync(path.join(ROOT, 'test', 'oci', 'containerd.sh'), ['stop', ctd], { stdio: 'ignore' });
    fs.rmSync(work, { recursive: true, force: true });
  }
}
