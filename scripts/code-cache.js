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
spawnSync(process.execPath, [path.join(root, 'bin', 'torov'), 'run', '--no-sandbox', path.join(root, 'examples', 'hello', 'hello')],
  { stdio: 'ignore', timeout: 60_000 });
