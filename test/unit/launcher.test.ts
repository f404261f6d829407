/**
 * The launcher's pure parts: what it tells the VMM (parseSpec), the option table it shares
 * with src/cli/args.ts, its committed binary against its source, and the KVM advice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from '../helpers';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSpec } from '../../src/sandbox/launch';
import { RUN_OPTIONS, SERVE_ONLY_OPTIONS, SNAPSHOT_ONLY_OPTIONS } from '../../src/cli/args';
import { kvmAccessHint } from '../../src/cli/main';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SOURCE = path.join(ROOT, 'src', 'launcher', 'launcher.c');

const spec = { v: 1, namespaces: true, userns: true, idmap: 'self', net: true, pid: false, gdbFd: -1, gdbErrno: 0, attempt: 0, kvmUid: 0, kvmGid: 0, kvmMode: 0o600, t0: 12345678, launcherPid: 4242, closedStdio: 2 };

test('the launcher\'s spec is read strictly: every field, typed, nothing else', () => {
  assert.deepEqual(parseSpec(JSON.stringify(spec)), spec);
  const bad: unknown[] = [
    'not json', '[]', 'null', { ...spec, v: 2 }, { ...spec, sandbox: false }, { ...spec, net: 'yes' }, { ...spec, idmap: 'all' },
    { ...spec, gdbFd: 1.5 }, { ...spec, namespaces: false }, { ...spec, userns: false },
    { ...spec, pid: true },                          // this test process is not PID 1 of a namespace
    { ...spec, t0: -1 }, { ...spec, launcherPid: 0 }, { ...spec, t0: 1.5 }, { ...spec, closedStdio: 8 },
  ];
  for (const b of bad) {
    assert.throws(() => parseSpec(typeof b === 'string' ? b : JSON.stringify(b)), /^UsageError: internal: bad message from the launcher/, JSON.stringify(b));
  }
  const { gdbErrno: _omitted, ...missing } = spec;
  void _omitted;
  assert.throws(() => parseSpec(JSON.stringify(missing)), /gdbErrno/);
});

test('the launcher knows which run options take a value (to find where the program starts)', () => {
  const c = fs.readFileSync(SOURCE, 'utf8');
  const block = /launcher-options: begin \*\/([\s\S]*?)\/\* launcher-options: end/.exec(c);
  assert.ok(block, 'the option table in launcher.c');
  const long = [...block[1]!.matchAll(/"([a-z-]+)"/g)].map((m) => m[1]!).sort();
  const short = /VALUE_SHORT\[\] = "([a-z]*)"/.exec(c)![1]!.split('').sort();
  const all = [...RUN_OPTIONS, { name: 'out', short: 'o', value: true }, ...SERVE_ONLY_OPTIONS, ...SNAPSHOT_ONLY_OPTIONS];      // + policy learn's --out, serve's and snapshot's own
  assert.deepEqual(long, all.filter((o) => o.value).map((o) => o.name).sort());
  assert.deepEqual(short, [...new Set(all.filter((o) => o.value && o.short).map((o) => o.short!))].sort());   // -o: learn's --out, snapshot's --output
  // bin/torov.js's guess whether a run needs the channel's thread reads the same table.
  const js = fs.readFileSync(path.join(ROOT, 'bin', 'torov.js'), 'utf8');
  const jsLong = JSON.parse(/value-options: \*\/ (\[[^\]]*\])/.exec(js)![1]!.replace(/'/g, '"')) as string[];
  assert.deepEqual(jsLong.sort(), long);
  assert.deepEqual(/value-short: \*\/ '([a-z]*)'/.exec(js)![1]!.split('').sort(), short);
});

test('bin/torov and bin/torov-oci are built from src/launcher', (t) => {
  if (spawnSync('sh', ['-c', 'command -v musl-gcc']).status !== 0) { t.skip('musl-gcc is not installed (apt-get install musl-tools)'); return; }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-launcher-'));
  try {
    const r = spawnSync('make', ['-s', '-C', path.dirname(SOURCE), `OUT=${dir}/torov`, `OCI_OUT=${dir}/torov-oci`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const name of ['torov', 'torov-oci']) {
      assert.ok(fs.readFileSync(path.join(dir, name)).equals(fs.readFileSync(path.join(ROOT, 'bin', name))), `the committed bin/${name} differs from a build of its source: run make -C src/launcher`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the KVM advice follows /dev/kvm\'s real owner and mode', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-kvm-'));
  try {
    fs.writeFileSync(path.join(dir, 'group'), 'root:x:0:\nkvm:x:993:alice\n');
    fs.writeFileSync(path.join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    const hint = (st: { uid: number; gid: number; mode: number }) => kvmAccessHint('/dev/kvm', () => st, path.join(dir, 'group'), path.join(dir, 'passwd'));
    assert.equal(hint({ uid: 0, gid: 993, mode: 0o20660 }),
      'it is root:kvm, mode 0660: add yourself to the kvm group (sudo usermod -aG kvm $USER), then log in again');
    assert.match(hint({ uid: 0, gid: 0, mode: 0o20600 }), /^it is root:root, mode 0600, so only root may use it: give your user access \(e\.g\. sudo setfacl -m u:\$USER:rw \/dev\/kvm/);
    assert.match(hint({ uid: 0, gid: 1234, mode: 0o20600 }), /^it is root:1234, mode 0600/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
