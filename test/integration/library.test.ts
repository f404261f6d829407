/**
 * The library API (`import { VM, serve } from 'torov'`, src/index.ts), through the
 * package's own entry point, in a child process (it runs guests in the calling process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guest, ROOT, scratchDir, spawnSync } from '../helpers';

test('library: VM.run, VM.snapshot then runs restored from it, a snapshot file, serve()', () => {
  const dir = scratchDir('torov-lib-');
  const script = `
    const torov = require(${JSON.stringify(ROOT)});
    const http = require('http');
    const out = {};
    const vm = torov.VM.load(${JSON.stringify(guest('cgi'))}, { memory: '64M' });
    const env = (q) => ['CGI_DIR=${dir}', 'REQUEST_METHOD=POST', 'QUERY_STRING=' + q];
    const r = vm.run({ stdin: 'abc', env: env('plain') });
    out.plain = { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    require('fs').rmSync('${dir}/cgi-count');
    const snap = vm.snapshot({ env: ['CGI_DIR=${dir}'] });
    out.bytes = snap.bytes;
    snap.warm(2);
    out.restored = [1, 2, 3].map((i) => { const x = snap.run({ stdin: 'abc', env: env('plain') }); require('fs').rmSync('${dir}/cgi-count'); return x.stdout.toString(); });
    out.loop = snap.run({ env: env('loop'), timeoutMs: 200 }).status;
    require('fs').rmSync('${dir}/cgi-count');
    snap.save('${dir}/app.snap');
    const again = torov.VMSnapshot.load('${dir}/app.snap');
    out.fromFile = again.run({ stdin: 'abc', env: env('plain') }).stdout.toString();
    again.close();
    torov.serve(${JSON.stringify(guest('hello_cgi'))}, { concurrency: 1 }).then((s) => {
      http.get({ host: '127.0.0.1', port: s.port, path: '/lib' }, (res) => {
        let b = ''; res.on('data', (d) => b += d);
        res.on('end', async () => { out.served = [res.statusCode, b]; await s.close(); snap.close(); vm.close(); process.stdout.write(JSON.stringify(out)); });
      });
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout) as { plain: { status: number; stdout: string; stderr: string }; bytes: number; restored: string[]; loop: number; fromFile: string; served: [number, string] };
  assert.equal(o.plain.status, 0);
  assert.match(o.plain.stdout, /^Content-Type: text\/plain\r\n\r\ncount=1 file=1 method=POST path= query=plain .*body=abc sum=133693440\n$/);
  assert.ok(o.bytes > 1 << 20);
  for (const x of o.restored) assert.equal(x, o.plain.stdout);
  assert.equal(o.loop, 124);
  assert.equal(o.fromFile, o.plain.stdout);
  assert.deepEqual(o.served, [200, 'hello /lib\n']);
});
