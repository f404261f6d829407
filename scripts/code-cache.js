#!/usr/bin/env node
'use strict';
// Prepares dist/torov.cache, the V8 code cache bin/torov loads the CLI bundle with, by
// running one real VM: the bundled hello example, in the sandbox, with --code-cache-out,
// so that the cache holds the code of a sandboxed run (the jail, the privileges, the
// seccomp filter), which is what `torov run` does by default. Where the sandbox cannot
// start (no user namespaces), a --no-sandbox run writes it instead (bin/torov writes the
// cache after such a run when there is none). Without KVM here, the first real run
// outside the sandbox writes it.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
const cache = path.join(root, 'dist', 'torov.cache');
const hello = path.join(root, 'examples', 'hello', 'hello');
fs.rmSync(cache, { force: true });
// bin/torov (the launcher) runs the node found on PATH: this one.
const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
const run = (args) => spawnSync(path.join(root, 'bin', 'torov'), ['run', ...args, hello], { stdio: 'ignore', timeout: 60_000, env });
const tmp = `${cache}.${process.pid}`;
const sandboxed = run(['--code-cache-out', tmp]);
if (sandboxed.status === 0 && fs.existsSync(tmp) && fs.statSync(tmp).size > 0) fs.renameSync(tmp, cache);
else {
  fs.rmSync(tmp, { force: true });
  run(['--no-sandbox']);
}
