#!/usr/bin/env node
'use strict';
// Prepares dist/torov.cache, the V8 code cache bin/torov loads the CLI bundle with, by
// running one real VM (the bundled hello example, without the sandbox): bin/torov writes
// the cache after a run when there is none, and a run that boots a VM compiles the code
// every `torov run` needs. Without KVM here, the first real run writes it instead.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
fs.rmSync(path.join(root, 'dist', 'torov.cache'), { force: true });
// bin/torov (the launcher) runs the node found on PATH: this one.
const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
spawnSync(path.join(root, 'bin', 'torov'), ['run', '--no-sandbox', path.join(root, 'examples', 'hello', 'hello')],
  { stdio: 'ignore', timeout: 60_000, env });
