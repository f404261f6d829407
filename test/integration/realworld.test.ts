/**
 * Real programs nobody wrote for torov, compared with native runs of the same binary:
 * BusyBox applets (the static /bin/busybox of Debian's busybox-static; skipped when it is
 * not installed) and SQLite (test/guests/sqlite_demo, committed; always runs).
 *
 * Each BusyBox case runs the applet twice, natively and under torov, each in its own fresh
 * directory holding the same fixture files (same names, contents, modes and mtimes), with
 * the same environment and standard input; stdout (as bytes), stderr and the exit status
 * must match. Applets that start other programs (sh pipelines, tar -z, timeout, xargs) are
 * tested in processes.test.ts, and those that read /proc (df, ps, top) in procfs.test.ts.
 */
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, guest, native, TOROV, testRunOptions, spawnSync, spawn as spawnChild } from '../helpers';


const BUSYBOX = '/bin/busybox';
const HAVE_BUSYBOX = fs.existsSync(BUSYBOX);
const SKIP = HAVE_BUSYBOX ? false : `${BUSYBOX} is missing (apt-get install busybox-static)`;

/** torov's default guest environment, given to native runs too. */
const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/', TERM: 'xterm' };

/** A fresh, empty directory, removed after the test. */
function scratch(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-rw-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed: string): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; out.length * 32 < n; i++) out.push(crypto.createHash('sha256').update(`${seed}${i}`).digest());
  return Buffer.concat(out).subarray(0, n);
}

const FRUITS = 'banana\napple\ncherry\napple\nbanana\ndate\n';
const NUMS = Array.from({ length: 2000 }, (_, i) => `${i + 1}\n`).join('');
const BIN = bytes(5000, 'bin');
/** 2001-02-03 04:05:06 UTC: every fixture entry's mtime and atime. */
const STAMP = new Date(Date.UTC(2001, 1, 3, 4, 5, 6));

/** Fills `d` with the fixture: files, a subtree, a symlink, all with fixed modes and times. */
function populate(d: string): void {
  const file = (rel: string, data: string | Buffer, mode = 0o644) => {
    fs.writeFileSync(path.join(d, rel), data);
    fs.chmodSync(path.join(d, rel), mode);
  };
  file('fruits', FRUITS);
  file('nums', NUMS);
  file('colon', 'a:b:c\nd:e:f\n1:2:3\n');
  file('bin', BIN);
  file('script.sh', '#!/bin/sh\necho hi\n', 0o755);
  fs.mkdirSync(path.join(d, 'dir', 'sub'), { recursive: true });
  file('dir/g', 'yy\n');
  file('dir/sub/f', 'x\n');
  fs.symlinkSync('fruits', path.join(d, 'link'));
  for (const rel of ['fruits', 'nums', 'colon', 'bin', 'script.sh', 'dir/g', 'dir/sub/f', 'dir/sub', 'dir', '.']) {
    fs.utimesSync(path.join(d, rel), STAMP, STAMP);
  }
  fs.chmodSync(path.join(d, 'dir'), 0o755);
  fs.chmodSync(path.join(d, 'dir', 'sub'), 0o755);
  fs.lutimesSync(path.join(d, 'link'), STAMP, STAMP);
  fs.utimesSync(d, STAMP, STAMP);
}

interface Out { status: number | null; signal: string | null; stdout: Buffer; stderr: string }

/** Runs `argv` (a host command line) in `cwd` with `input` on stdin. */
function spawn(argv: readonly string[], cwd: string, input: string | Buffer = ''): Out {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, input, env: ENV, timeout: 30_000, maxBuffer: 64 << 20 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

const viaTorov = (args: readonly string[]) => [TOROV, 'run', ...testRunOptions(), BUSYBOX, ...args];
const viaHost = (args: readonly string[]) => [BUSYBOX, ...args];

interface Case {
  /** Applet and arguments (paths are relative to the fixture directory). */
  args: string[];
  /** Standard input; a function is called when the case runs (for inputs busybox makes). */
  input?: string | Buffer | (() => Buffer);
  /** Compare stderr too (default: yes). */
  stderr?: boolean;
}

/** Runs one applet natively and under torov in two fresh fixture directories; returns both. */
function both(t: TestContext, c: Case): { n: Out; v: Out; nd: string; vd: string } {
  const nd = scratch(t), vd = scratch(t);
  populate(nd); populate(vd);
  const input = typeof c.input === 'function' ? c.input() : c.input;
  const n = spawn(viaHost(c.args), nd, input);
  const v = spawn(viaTorov(c.args), vd, input);
  return { n, v, nd, vd };
}

/** The case's output: the run's directory spelled <dir>, so that paths compare. */
function show(o: Out, dir: string, withStderr: boolean) {
  const fix = (s: string) => s.split(dir).join('<dir>');
  // A native run killed by signal N is torov's exit status 128+N.
  const sig = o.signal ? os.constants.signals[o.signal as NodeJS.Signals] : 0;
  return {
    status: sig ? 128 + sig : o.status,
    stdout: fix(o.stdout.toString('latin1')),
    ...(withStderr ? { stderr: fix(o.stderr) } : {}),
  };
}

function same(t: TestContext, c: Case): Out {
  const { n, v, nd, vd } = both(t, c);
  assert.deepEqual(show(v, vd, c.stderr !== false), show(n, nd, c.stderr !== false), `busybox ${c.args.join(' ')}\ntorov stderr: ${v.stderr}`);
  return v;
}

/** Cases by group: each group is one test, its cases run in order. */
const GROUPS: Record<string, Case[]> = {
  'text: echo, cat, wc, head, tail, rev, tac, nl, tr, cut, fold, paste, expand': [
    { args: ['echo', 'hello', 'world'] },
    { args: ['echo', '-n', '-e', 'a\\tb\\n\\x41'] },
    { args: ['cat', 'fruits', 'colon'] },
    { args: ['cat'], input: FRUITS },
    { args: ['cat', '-n', '-', 'colon'], input: 'from stdin\n' },
    { args: ['wc', 'nums', 'fruits', 'bin'] },
    { args: ['wc', '-l'], input: NUMS },
    { args: ['head', '-n', '5', 'nums'] },
    { args: ['head', '-c', '100', 'bin'] },
    { args: ['tail', '-n', '3', 'nums'] },
    { args: ['tail', '-c', '50', 'nums'] },
    { args: ['tail', '-n', '+1995'], input: NUMS },
    { args: ['rev', 'fruits'] },
    { args: ['tac', 'fruits'] },
    { args: ['nl', 'fruits'] },
    { args: ['tr', 'a-z', 'A-Z'], input: FRUITS },
    { args: ['tr', '-d', 'an'], input: FRUITS },
    { args: ['cut', '-d:', '-f2,3', 'colon'] },
    { args: ['cut', '-c', '1-3', 'fruits'] },
    { args: ['fold', '-w', '3', 'fruits'] },
    { args: ['paste', 'colon', 'fruits'] },
    { args: ['expand', 'fruits'] },
  ],
  'sorting and searching: sort, uniq, grep, sed, awk': [
    { args: ['sort', 'fruits'] },
    { args: ['sort', '-rn', 'nums'] },
    { args: ['sort', '-t:', '-k2', 'colon'] },
    { args: ['sort', '-u'], input: FRUITS },
    { args: ['uniq', '-c'], input: 'a\na\nb\nc\nc\nc\n' },
    { args: ['grep', '-n', 'an', 'fruits'] },
    { args: ['grep', '-c', '7', 'nums'] },
    { args: ['grep', '-q', 'zzz', 'fruits'] },
    { args: ['grep', '-r', 'x', 'dir'] },
    { args: ['grep', '-E', '^(12|99)3$', 'nums'] },
    { args: ['grep', '-w', '-i', 'APPLE'], input: FRUITS },
    { args: ['sed', '-e', 's/an/AN/g', '-e', '2d', 'fruits'] },
    { args: ['sed', '-n', '/apple/{=;p}', 'fruits'] },
    { args: ['sed', '-n', '$p', 'nums'] },
    { args: ['awk', '-F:', '{ print $3, NR }', 'colon'] },
    { args: ['awk', '{ s += $1 } END { print s, NR }', 'nums'] },
    { args: ['awk', 'BEGIN { printf "%.5f %d %s %s\\n", atan2(1, 1) * 4, 2^31, toupper("x"), substr("hello", 2, 3) }'] },
  ],
  'files and directories: ls, stat, find, du, readlink, realpath': [
    { args: ['ls'] },
    { args: ['ls', '-la', 'dir'] },
    { args: ['ls', '-lR'] },
    { args: ['ls', '-l', 'link', 'fruits', 'script.sh'] },
    { args: ['ls', '-1', '-a', '-F'] },
    { args: ['stat', '-c', '%n %s %a %F %h %Y %U', 'fruits', 'dir', 'link', 'script.sh'] },
    { args: ['stat', '-L', '-c', '%n %s %F', 'link'] },
    { args: ['find', '.', '-type', 'f'] },
    { args: ['find', 'dir', '-name', 'f', '-print'] },
    { args: ['find', '.', '-size', '+1k'] },
    { args: ['du', '-a', 'dir'] },
    { args: ['du', '-s', '.'] },
    { args: ['readlink', 'link'] },
    { args: ['readlink', '-f', 'link'] },
    { args: ['realpath', 'dir/../fruits'] },
    { args: ['ls', 'nonexistent'] },
    { args: ['cat', 'nonexistent'] },
    { args: ['test', '-d', 'dir'] },
    { args: ['test', '-x', 'fruits'] },
  ],
  'checksums and encodings: md5sum, sha*sum, cksum, base64, od, hexdump, xxd': [
    { args: ['md5sum', 'fruits', 'nums', 'bin'] },
    { args: ['sha1sum', 'bin'] },
    { args: ['sha256sum', 'bin', 'nums'] },
    { args: ['sha512sum', 'fruits'] },
    { args: ['sha256sum'], input: bytes(1 << 20, 'stdin') },
    { args: ['cksum', 'fruits'] },
    { args: ['base64', 'bin'] },
    { args: ['base64', '-d'], input: BIN.toString('base64') },
    { args: ['od', '-A', 'x', '-t', 'x1z', '-N', '64', 'bin'] },
    { args: ['od', '-c', 'fruits'] },
    { args: ['hexdump', '-C', '-n', '128', 'bin'] },
    { args: ['xxd', '-l', '64', 'bin'] },
    { args: ['cmp', 'fruits', 'nums'] },
    { args: ['diff', 'fruits', 'colon'] },
  ],
  'compression and archives: gzip, gunzip, bzip2, bunzip2, tar': [
    { args: ['gzip', '-c', 'nums'] },
    { args: ['gzip', '-c'], input: bytes(200_000, 'gz') },
    { args: ['gunzip', '-c'], input: () => bb(['gzip', '-c'], NUMS) },
    { args: ['gunzip', '-c'], input: () => bb(['gzip', '-c'], bytes(300_000, 'gunzip')) },
    { args: ['bzip2', '-c', 'nums'] },
    { args: ['bunzip2', '-c'], input: () => bb(['bzip2', '-c'], NUMS) },
    { args: ['tar', '-cf', '-', 'dir', 'fruits', 'link'] },
    { args: ['tar', '-tvf', '-'], input: () => bb(['tar', '-cf', '-', '.'], '', fixture()) },
  ],
  'small tools: seq, expr, printf, basename, dirname, env, id, uname, date, true/false, sh': [
    { args: ['seq', '1', '3', '20'] },
    { args: ['seq', '-w', '8', '11'] },
    { args: ['expr', '3', '+', '4'] },
    { args: ['expr', 'length', 'hello'] },
    { args: ['expr', '1', '=', '2'] },
    { args: ['printf', '%05d|%s|%x|%5.2f\\n', '42', 'hi', '255', '3.14159'] },
    { args: ['basename', '/a/b/c.txt', '.txt'] },
    { args: ['dirname', '/a/b/c.txt'] },
    { args: ['env'] },
    { args: ['id'] },
    { args: ['id', '-u'] },
    { args: ['whoami'] },
    { args: ['uname', '-s', '-m', '-r'] },
    { args: ['date', '-u', '-d', '@1000000000'] },
    { args: ['date', '-u', '-d', '2020-01-02 03:04:05', '+%s %A %j'] },
    { args: ['cal', '2', '2000'] },
    { args: ['factor', '1234567890'] },
    { args: ['true'] },
    { args: ['false'] },
    { args: ['sh', '-c', 'exit 3'] },
    { args: ['sh', '-c', 'for i in 1 2 3; do echo $i; done; x=$((6 * 7)); echo $x; f() { echo fn $1; }; f a; echo ${#PWD} > /dev/null; umask 027; umask'] },
    { args: ['sh', '-c', 'read a b; echo "$b $a"; while read l; do echo "got $l"; done'], input: 'hello world\none\ntwo\n' },
    // torov ends with 128+15 and says why on stderr; the native run dies of the signal.
    { args: ['sh', '-c', 'kill -TERM $$; echo survived'], stderr: false },
    { args: ['sleep', '0.05'] },
  ],
};

/** What native busybox prints for `args` (inputs of the cases above). */
function bb(args: string[], input: string | Buffer, cwd?: string): Buffer {
  const r = spawnSync(BUSYBOX, args, { input, cwd, env: ENV, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `busybox ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A fixture directory of its own (for inputs made when a case runs), removed at exit. */
function fixture(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-rw-in-'));
  populate(d);
  process.once('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

for (const [name, cases] of Object.entries(GROUPS)) {
  test(`busybox ${name} match a native run`, { skip: SKIP }, (t) => {
    for (const c of cases) same(t, c);
  });
}

test('busybox date prints the local date in the same format as natively', { skip: SKIP }, (t) => {
  const { n, v } = both(t, { args: ['date', '+%Y-%m-%d %Z'] });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout.toString(), /^\d{4}-\d\d-\d\d \S+\n$/);
  assert.equal(v.stdout.toString().slice(-5), n.stdout.toString().slice(-5), 'same time zone');
});

/** A directory tree as text: type, mode, size, link count, old mtimes, contents' hash, link targets. */
function snapshot(root: string): string {
  const lines: string[] = [];
  const recent = Date.now() - 24 * 3600 * 1000;
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = path.join(rel, name), p = path.join(root, r);
      const st = fs.lstatSync(p);
      const mt = st.mtimeMs < recent ? new Date(st.mtimeMs).toISOString() : 'now';
      const kind = st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : st.isDirectory() ? 'dir' : st.isFIFO() ? 'fifo'
        : crypto.createHash('md5').update(fs.readFileSync(p)).digest('hex');
      lines.push(`${r} ${(st.mode & 0o7777).toString(8)} ${st.isDirectory() ? '' : st.size} ${st.nlink} ${mt} ${kind}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('.');
  return lines.join('\n');
}

test('busybox file operations leave the same tree as natively: cp, mv, rm, mkdir, ln, mkfifo, touch, chmod, truncate, tar, gzip, sed -i, dd', { skip: SKIP }, (t) => {
  const steps: string[][] = [
    ['cp', 'fruits', 'f2'], ['mv', 'f2', 'f3'], ['ln', '-s', 'f3', 'l3'], ['ln', 'f3', 'h3'],
    ['mkdir', '-p', 'p/q/r'], ['rmdir', 'p/q/r'], ['touch', '-d', '2010-05-06 07:08:09', 'f3'],
    ['chmod', '600', 'f3'], ['truncate', '-s', '100', 'colon'], ['rm', 'nums'],
    ['cp', '-a', 'dir', 'dir2'], ['rm', '-r', 'dir'], ['mkfifo', 'ff'],
    ['tar', '-cf', 'a.tar', 'dir2', 'fruits'], ['mkdir', 'x'], ['tar', '-xf', 'a.tar', '-C', 'x'],
    ['gzip', 'bin'], ['gunzip', '-c', 'bin.gz'], ['sed', '-i', 's/apple/APPLE/', 'fruits'],
    ['dd', 'if=fruits', 'of=dd.out', 'bs=7', 'skip=1', 'count=3'], ['dd', 'if=colon', 'of=fruits', 'bs=1', 'seek=5', 'conv=notrunc'],
    ['cp', '-p', 'colon', 'inst'], ['chmod', '640', 'inst'], ['mv', 'x', 'y'],
  ];
  const nd = scratch(t), vd = scratch(t);
  populate(nd); populate(vd);
  for (const s of steps) {
    const n = spawn(viaHost(s), nd), v = spawn(viaTorov(s), vd);
    assert.equal(n.status, 0, `native ${s.join(' ')}: ${n.stderr}`);
    assert.equal(v.status, 0, `torov ${s.join(' ')}: ${v.stderr}`);
    if (s[0] !== 'dd') assert.deepEqual(v.stdout, n.stdout, s.join(' '));
  }
  assert.equal(snapshot(vd), snapshot(nd));
});

test('busybox yes | head: yes dies of SIGPIPE (141) under torov as natively', { skip: SKIP }, () => {
  const sh = (yes: string) => spawnSync('timeout', ['-s', 'KILL', '60s', 'bash', '-c', `${yes} | head -3; echo "status=\${PIPESTATUS[0]}"`], { encoding: 'utf8', env: ENV, timeout: 70_000 });
  const n = sh(`${BUSYBOX} yes`);
  const v = sh(`'${TOROV}' run ${BUSYBOX} yes`);
  assert.equal(n.stdout, 'y\ny\ny\nstatus=141\n');
  assert.equal(v.stdout, n.stdout);
  assert.equal(v.stderr, n.stderr);
});

test('busybox sh -i on a terminal: job control set-up, then commands, as natively', { skip: SKIP || (!fs.existsSync('/usr/bin/script') && 'script(1) is missing') }, (t) => {
  // script(1) runs the shell on a new pseudo-terminal and types stdin into it. An
  // interactive ash waits until tcgetpgrp(tty) == getpgrp() before reading commands.
  const input = 'echo hi $((1 + 2))\ncd /tmp\npwd\nexit 3\n';
  const d = scratch(t);
  const run = (cmd: string) => spawnSync('timeout', ['-s', 'KILL', '20s', 'script', '-qec', cmd, '/dev/null'], { input, cwd: d, env: ENV, encoding: 'utf8', timeout: 25_000 });
  const n = run(`${BUSYBOX} sh -i`);
  const v = run(`'${TOROV}' run ${testRunOptions().join(' ')} ${BUSYBOX} sh -i`);
  assert.equal(n.status, 3, n.stderr);
  assert.equal(v.status, 3, `torov: ${v.stdout}${v.stderr}`);
  // script(1) types the input at once: the terminal echoes it (cooked mode) wherever the
  // shell has got to by then, before or after its banner, by timing alone. That one echo
  // is taken out of both before they are compared; the shell's own output stays.
  const echoed = input.replace(/\n/g, '\r\n');
  const norm = (out: string) => out.replace(echoed, '');
  assert.equal(norm(v.stdout), norm(n.stdout));
  assert.match(v.stdout, /hi 3\r\n/);
});

test('busybox wget and nc talk TCP to a native peer on 127.0.0.1', { skip: SKIP }, async (t) => {
  // The guest uses the host's network ("--network host"; the default is loopback only,
  // in a namespace of its own). The peer runs in a child process: this one blocks in
  // spawnSync while torov runs.
  // It answers HTTP on one port, and on another sends back each line it gets, reversed,
  // then closes.
  const peer = `const fs=require('fs'),h=require('http'),net=require('net');
    const w=h.createServer((q,r)=>r.end(q.url==='/hello'?'hello over http\\n':'?'));
    const e=net.createServer((c)=>{let b='';c.on('data',(d)=>{b+=d;if(b.includes('\\n'))c.end([...b].reverse().join(''));});});
    w.listen(0,'127.0.0.1',()=>e.listen(0,'127.0.0.1',()=>console.log(w.address().port+' '+e.address().port)));
    setTimeout(()=>process.exit(0),30000);`;
  const child = spawnChild(process.execPath, ['-e', peer], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  t.after(() => child.kill('SIGKILL'));
  const ports = await new Promise<string[]>((resolve) => child.stdout!.once('data', (b: Buffer) => resolve(b.toString().trim().split(' '))));
  const [http, echo] = ports as [string, string];

  const w = torov(['run', '--network', 'host', BUSYBOX, 'wget', '-q', '-O', '-', `http://127.0.0.1:${http}/hello`]);
  assert.equal(w.stdout, 'hello over http\n', w.stderr);
  assert.equal(w.status, 0);
  const d = scratch(t);
  const f = torov(['run', '--network', 'host', BUSYBOX, 'wget', '-q', '-O', 'got.html', `http://127.0.0.1:${http}/hello`], { cwd: d });
  assert.equal(f.status, 0, f.stderr);
  assert.equal(fs.readFileSync(path.join(d, 'got.html'), 'utf8'), 'hello over http\n');

  const n = torov(['run', '--network', 'host', BUSYBOX, 'nc', '127.0.0.1', echo], { input: 'abc\n' });
  assert.equal(n.stdout, '\ncba', n.stderr);
  assert.equal(n.status, 0);
});

test('sqlite: a file database and :memory: give the same results under torov as natively', (t) => {
  const nd = scratch(t), vd = scratch(t);
  const n = native(guest('sqlite_demo'), [nd]);
  assert.equal(n.status, 0, `native: ${n.stderr}`);
  const v = torov(['run', guest('sqlite_demo'), vd]);
  assert.equal(v.status, 0, `torov: ${v.stderr}`);
  assert.equal(v.stderr, '');
  assert.equal(v.stdout, n.stdout);
  assert.match(v.stdout, /^count: 1000$/m);
  assert.match(v.stdout, /^plan: .*USING COVERING INDEX items_name/m);
  assert.match(v.stdout, /^journal: wal$/m);
  assert.match(v.stdout, /^done$/m);
  assert.deepEqual(fs.readdirSync(vd), [], 'the database and its journal files are removed');
});
