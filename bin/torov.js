#!/usr/bin/env node
'use strict';
// torov's JavaScript entry point. bin/torov (the launcher, src/launcher/launcher.c) runs
// Node with this file: inside the sandbox's namespaces for `torov run` and `torov policy
// learn`, with `--launcher=3` and a socket on fd 3 (src/sandbox/launch.ts), else with
// `--launcher=none`. `npm run build` compiles src/ to dist/src and bundles the CLI into
// dist/torov.js; this loads the bundle with a V8 code cache (dist/torov.cache, written
// after the first run), since start-up time is part of every `torov run`. Without a
// bundle it falls back to dist/src/cli/main.js.
const path = require('node:path');
const fs = require('node:fs');
// A sandboxed run with the syscall channel and a policy file: start its vCPU thread (a
// Node worker takes tens of milliseconds to start) now, so that it overlaps with loading
// torov and booting the VM (src/vmm/channel.ts). A policy that allows the program no
// threads gets a seccomp filter that allows the VMM none either: the channel's thread must
// exist before it. Under the default policy the VMM starts the thread only once a program
// makes enough syscalls for it to pay (src/vmm/scheduler.ts): a worker costs a short run
// about 15 ms (starting it, the CPU it takes, and its memory at exit).
if (process.argv[2] === '--launcher=3' && wantsVcpuThread(process.argv.slice(3))) {
  const early = require(path.join(__dirname, '..', 'dist', 'src', 'vmm', 'vcpu-thread.js')).startVcpuWorker();
  // Unused (the guess was wrong), it fails to load koffi once the jail is up: that is no error.
  early.worker.on('error', () => {});
  globalThis.__torovEarlyWorker = early;
}

/**
 * A guess from the command line alone (the run decides: src/cli/run.ts): a sandboxed run
 * with a policy file, on the channel's default path, with two or more CPUs. A wrong guess
 * costs a thread.
 */
function wantsVcpuThread(argv) {
  // The run options that take a value (src/cli/args.ts; test/unit/launcher.test.ts checks them).
  const VALUE = /* value-options: */ ['memory', 'policy', 'env', 'trace-file', 'volume', 'user', 'timeout', 'syscall-path', 'network', 'workdir', 'rootfs', 'gdb', 'out', 'cpus', 'threads', 'pids', 'oci-sync', 'port', 'host', 'concurrency', 'queue', 'max-body', 'log-format', 'restore', 'at', 'output', 'code-cache-out', 'workers'];
  const SHORT = /* value-short: */ 'mpevuwo';
  if (argv[0] === 'serve' || argv[0] === 'snapshot') return false;      // snapshots need the exit path
  if (argv.includes('--restore') || argv.some((a) => a.startsWith('--restore='))) return false;
  let i = argv[0] === 'policy' ? 2 : 1;
  let policyFile = false;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { i++; break; }
    if (!a.startsWith('-') || a === '-') break;
    if (a === '--policy' || a.startsWith('--policy=') || a.startsWith('-p')) policyFile = true;
    if (a === '--no-sandbox' || a === '--gdb' || a.startsWith('--gdb=') || a === '--syscall-path=exit') return false;
    if (a === '--syscall-path' && argv[i + 1] === 'exit') return false;
    if (a.startsWith('--') ? !a.includes('=') && VALUE.includes(a.slice(2)) : a.length === 2 && SHORT.includes(a[1])) i++;
  }
  // A ToroV configuration (most name a ToroV binary, which makes its own hypercalls).
  if (/\.json$/i.test(argv[i] || '')) return false;
  return policyFile && argv[0] === 'run' && require('node:os').availableParallelism() >= 2;
}

const dist = path.join(__dirname, '..', 'dist');
const bundle = path.join(dist, 'torov.js');

function loadBundle() {
  const vm = require('node:vm');
  const Module = require('node:module');
  const cacheFile = path.join(dist, 'torov.cache');
  let cachedData;
  try { cachedData = fs.readFileSync(cacheFile); } catch { /* first run */ }
  // esbuild writes ASCII (non-ASCII characters escaped): read as latin1, the same text for
  // less work than decoding UTF-8.
  const bytes = fs.readFileSync(bundle);
  const text = require('node:buffer').isAscii(bytes) ? bytes.latin1Slice(0, bytes.length) : bytes.toString('utf8');
  const script = new vm.Script(Module.wrap(text), { filename: bundle, cachedData });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, dist);
  // A run writes it once its VM has ended (the code it compiled is then in the cache),
  // except in the sandbox, whose filter and jail forbid it: other commands and
  // --no-sandbox runs do (`npm run build` runs one).
  const saveCache = !cachedData || script.cachedDataRejected;
  return { cli: mod.exports, done: () => {
    // torov run --code-cache-out FILE (npm run build): to the fd the run opened before its jail.
    const out = globalThis.__torovCodeCacheFd;
    if (typeof out === 'number') { try { fs.writeSync(out, script.createCachedData()); } finally { fs.closeSync(out); } return; }
    if (saveCache && !globalThis.__torovJailed) try { const tmp = `${cacheFile}.${process.pid}`; fs.writeFileSync(tmp, script.createCachedData()); fs.renameSync(tmp, cacheFile); } catch { /* read-only install */ }
  } };
}

let loaded;
if (fs.existsSync(bundle)) {
  loaded = loadBundle();
} else {
  try {
    loaded = { cli: require(path.join(dist, 'src', 'cli', 'main.js')), done() {} };
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND') {
      process.stderr.write('torov: not built yet: run npm install (or npm run build) in ' + path.join(__dirname, '..') + '\n');
      process.exit(125);
    }
    throw e;
  }
}
process.exitCode = loaded.cli.main(process.argv.slice(2));
loaded.done();
if (loaded.cli.exitNow) loaded.cli.exitNow(process.exitCode);
