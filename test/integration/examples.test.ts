/**
 * The README's examples run exactly as it shows them, each with its own policy: the
 * commands and their output are read from the README's "The examples" section.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ROOT, TOROV, spawn, spawnSync } from '../helpers';

/** The "$ torov run ..." lines of the README's examples section, each with the output under it. */
function readmeExamples(): Array<{ args: string[]; output: string }> {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = /### The examples\n([\s\S]*?)\n##/.exec(readme);
  assert.ok(section, 'the README has a section "The examples"');
  const block = /```sh\n([\s\S]*?)```/.exec(section[1]!)![1]!;
  const out: Array<{ args: string[]; output: string }> = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('$ torov run ')) out.push({ args: line.slice(8).replace(/ &$/, '').split(' '), output: '' });
    else if (line.startsWith('$ ')) out.push({ args: [], output: '' });
    else if (out.length > 0 && line !== '') out[out.length - 1]!.output += `${line}\n`;
  }
  return out.filter((e) => e.args.length > 0);
}

const examples = readmeExamples();

test('the README shows the three examples, each with its policy', () => {
  assert.deepEqual(examples.map((e) => e.args.slice(0, 4)), [
    ['run', '--policy', 'examples/hello/policy.json', 'examples/hello/hello'],
    ['run', '--policy', 'examples/writefile/policy.json', 'examples/writefile/writefile'],
    ['run', '--policy', 'examples/echo/policy.json', 'examples/echo/echo'],
  ]);
});

for (const e of examples.filter((x) => !x.args[3]!.endsWith('/echo'))) {
  test(`README: torov ${e.args.join(' ')}`, () => {
    const r = spawnSync(TOROV, e.args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, e.output);
  });
}

test('README: the echo example serves a client with its policy and ends after it', async () => {
  const e = examples.find((x) => x.args[3]!.endsWith('/echo'))!;
  assert.deepEqual(e.args.slice(4), ['8080', '1']);
  // Port 0 instead of 8080 (a free one): the rest as shown.
  const child = spawn(TOROV, [...e.args.slice(0, 4), '0', '1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "listening" line: ${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /echo: listening on 127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
  });
  assert.equal(out.replace(/:\d+\n/, ':8080\n'), e.output.split('\n')[0] + '\n');
  const back = await new Promise<string>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end('hi\n'));
    let got = '';
    s.on('data', (d) => { got += d.toString(); });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
  assert.equal(back, 'hi\n');
  const status = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(status, 0, err);
});
