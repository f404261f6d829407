/**
 * torov-oci exec's command line and process (src/oci/exec.ts): the shim's call and
 * runc's own forms, the process it builds from the container's, and every refusal with
 * its one-line reason. The process is checked by planRun as config.json's is.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseExecArgs, parseProcessJson, execProcess, execConfig, execError } from '../../src/oci/exec';
import { planRun, OciError } from '../../src/oci/config';

const dirs: string[] = [];
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

test('exec: containerd\'s shim call (go-runc: --process FILE, --detach, --pid-file, --console-socket, then the id)', () => {
  const r = parseExecArgs(['--process', '/run/runc-process123', '--console-socket', '/tmp/pty.sock', '--detach', '--pid-file', '/run/ctd/x.pid', 'ctr1']);
  assert.equal(r.id, 'ctr1');
  assert.equal(r.processFile, '/run/runc-process123');
  assert.equal(r.consoleSocket, '/tmp/pty.sock');
  assert.equal(r.pidFile, '/run/ctd/x.pid');
  assert.equal(r.detach, true);
  assert.deepEqual(r.command, []);
  assert.deepEqual(r.notes, []);
});

test('exec: runc\'s own form: options stop at the id; the command keeps its dashes; repeated --env and -g', () => {
  const r = parseExecArgs(['-e', 'A=1', '--env=B=2', '-t', '-u', '10:20', '--cwd', '/w', '-g', '5', '--additional-gids=6', 'c', '/bin/ls', '-l', '--all', '--', 'x']);
  assert.equal(r.id, 'c');
  assert.deepEqual(r.command, ['/bin/ls', '-l', '--all', '--', 'x']);
  assert.deepEqual(r.env, ['A=1', 'B=2']);
  assert.equal(r.tty, true);
  assert.deepEqual(r.user, { uid: 10, gid: 20 });
  assert.equal(r.cwd, '/w');
  assert.deepEqual(r.additionalGids, [5, 6]);
  assert.equal(r.detach, false);
  assert.deepEqual(parseExecArgs(['--detach=false', '--user', '7', '--', 'c', 'p']).user, { uid: 7 });
  assert.equal(parseExecArgs(['--detach=false', 'c', 'p']).detach, false);
  assert.equal(parseExecArgs(['--ignore-paused', 'c', 'p']).ignorePaused, true);
  assert.equal(parseExecArgs(['-h']).help, true);
  // Accepted without effect, noted for the debug log.
  assert.equal(parseExecArgs(['--cap', 'CAP_NET_ADMIN', '--apparmor', 'x', '--process-label', 'l', '--no-new-privs=false', 'c', 'p']).notes.length, 4);
  assert.match(parseExecArgs(['-p', 'f.json', 'c', 'ignored']).notes[0]!, /ignored with --process/);
});

test('exec: refusals, one line each', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /missing the container id/],
    [['--detach'], /missing the container id/],
    [['c'], /the command is missing/],
    [['--frobnicate', 'c', 'p'], /unknown option --frobnicate/],
    [['--pid-file'], /--pid-file needs a value/],
    [['--pidfd-socket', '/s', 'c', 'p'], /--pidfd-socket is not supported/],
    [['--preserve-fds', '2', 'c', 'p'], /--preserve-fds: torov-oci passes only fds 0, 1 and 2/],
    [['--cgroup', 'memory:/x', 'c', 'p'], /--cgroup: an exec'd process runs in a torov VM/],
    [['-u', 'root', 'c', 'p'], /bad uid "root"/],
    [['-u', '1:x', 'c', 'p'], /bad gid "x"/],
    [['-u', '4294967295', 'c', 'p'], /bad uid/],
    [['-g', '-1', 'c', 'p'], /unknown option -1|bad additional gid/],
  ];
  for (const [argv, why] of cases) {
    assert.throws(() => parseExecArgs(argv), (e: Error) => e instanceof OciError && why.test(e.message) && !e.message.includes('\n'), argv.join(' '));
  }
  assert.equal(parseExecArgs(['--preserve-fds', '0', 'c', 'p']).id, 'c');
});

test('exec: process.json is read as an object, bounded', () => {
  assert.deepEqual(parseProcessJson('{"args":["/x"],"cwd":"/"}', 'p.json'), { args: ['/x'], cwd: '/' });
  assert.throws(() => parseProcessJson('{"args":', 'p.json'), /p.json: not valid JSON/);
  assert.throws(() => parseProcessJson('["/x"]', 'p.json'), /a process must be a JSON object/);
  assert.throws(() => parseProcessJson(' '.repeat(4 * 1024 * 1024 + 1), 'p.json'), /over 4 MiB/);
});

test('exec: without --process, the container\'s process with the command and options applied (as runc)', () => {
  const base = { args: ['/server'], env: ['PATH=/bin', 'A=1'], cwd: '/srv', terminal: true, consoleSize: { width: 80, height: 24 }, user: { uid: 1, gid: 2, additionalGids: [3] }, rlimits: [{ type: 'RLIMIT_NOFILE', soft: 64, hard: 64 }] };
  const p = execProcess(parseExecArgs(['-e', 'B=2', '--cwd', '/w', '-u', '10', '-g', '4', 'c', '/client', 'x']), base);
  assert.deepEqual(p, { args: ['/client', 'x'], env: ['PATH=/bin', 'A=1', 'B=2'], cwd: '/w', terminal: false, user: { uid: 10, gid: 2, additionalGids: [3, 4] }, rlimits: base.rlimits });
  assert.deepEqual(base.env, ['PATH=/bin', 'A=1'], 'the container\'s process is not changed');
  const t = execProcess(parseExecArgs(['-t', 'c', '/sh']), base);
  assert.equal(t['terminal'], true);
  assert.deepEqual(t['consoleSize'], base.consoleSize);
  assert.deepEqual(t['env'], base.env);
  // With --process, the file's process as it is.
  const file = { args: ['/other'], cwd: '/' };
  assert.equal(execProcess(parseExecArgs(['-p', 'f', 'c']), base, file), file);
});

test('exec: the process goes through planRun in the container\'s config (its root, mounts, policy); errors are named for exec', () => {
  const b = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-oci-exec-unit-'));
  dirs.push(b);
  fs.mkdirSync(path.join(b, 'rootfs'));
  fs.mkdirSync(path.join(b, 'data'));
  const config = {
    ociVersion: '1.0.2', root: { path: 'rootfs', readonly: true }, hostname: 'h1',
    process: { args: ['/server'], env: ['PATH=/bin'], cwd: '/' },
    mounts: [{ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] }, { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=8m'] }],
    hooks: { prestart: [{ path: '/bin/true' }] },
    linux: { namespaces: [{ type: 'network' }], resources: { memory: { limit: 64 * 2 ** 20 }, pids: { limit: 100 } } },
  };
  const proc = execProcess(parseExecArgs(['-e', 'X=1', 'c', '/client', 'arg']), config.process);
  const plan = planRun(execConfig(config, proc), b);
  assert.deepEqual(plan.args, ['/client', 'arg']);
  assert.deepEqual(plan.env, ['PATH=/bin', 'X=1']);
  assert.equal(plan.hostname, 'h1');
  assert.equal(plan.readonly, true);
  assert.deepEqual(plan.volumes, [{ host: fs.realpathSync(path.join(b, 'data')), guest: '/data', readOnly: true }]);
  assert.equal(plan.tmp, 8 * 2 ** 20);
  assert.equal(plan.memory, 64 * 2 ** 20);
  assert.equal(plan.pids, 100);
  assert.deepEqual(plan.hooks, {}, 'an exec runs no hooks');
  const bad = (p: Record<string, unknown>) => { try { planRun(execConfig(config, p), b); } catch (e) { throw execError(e); } };
  assert.throws(() => bad({ args: [], cwd: '/' }), /^OciError: exec: process.args is empty/);
  assert.throws(() => bad({ args: ['/x'], cwd: 'rel' }), /^OciError: exec: process.cwd must be an absolute path/);
  assert.throws(() => bad({ args: ['/x'], env: ['NOEQUALS'] }), /^OciError: exec: process.env\[0\] must be NAME=VALUE/);
  assert.throws(() => bad({ args: ['/x'], rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }] }), /exec: process.rlimits\[0\] \(RLIMIT_NOFILE\): soft 10 is above hard 5/);
});
