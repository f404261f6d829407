/**
 * Dynamically linked programs (issue 16): the machine's own Debian binaries and the test
 * suite's shared library, run with `--rootfs /` (the host's files, read-only) and compared
 * with native runs of the same binaries: same stdout, same status, nothing on stderr.
 *
 * Native runs get torov's default guest environment (PATH, HOME, TERM), so both sides see
 * the same variables. The guest runs as the invoking user (helpers' testRunOptions), with
 * the host's temporary directory as a writable volume at the same path.
 */
import { test, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torov, guest, TOROV, testRunOptions, RunResult, spawn, spawnSync } from '../helpers';
import { parseElf } from '../../src/elf/elf';

const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/', TERM: 'xterm' };
const ROOT = ['--rootfs', '/'];

/** Runs `cmd` natively with the guest's environment. */
function host(cmd: readonly string[], input = ''): RunResult {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', input, env: ENV, timeout: 60_000, maxBuffer: 64 * 2 ** 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/** Runs `cmd` under torov with --rootfs / (and `extra` options). */
function vm(cmd: readonly string[], input = '', extra: readonly string[] = []): RunResult {
  return torov(['run', ...ROOT, ...extra, ...cmd], { input });
}

/** The same command natively and in torov: equal stdout and status, no stderr under torov. Returns torov's stdout. */
function same(cmd: readonly string[], o: { input?: string; extra?: readonly string[]; norm?: (s: string) => string; status?: number } = {}): string {
  const n = host(cmd, o.input), v = vm(cmd, o.input, o.extra);
  const norm = o.norm ?? ((s: string) => s);
  assert.equal(n.status, o.status ?? 0, `natively: ${cmd.join(' ')}: ${n.stderr}`);
  assert.equal(v.stderr, '', `under torov: ${cmd.join(' ')}`);
  assert.equal(v.status, n.status, `${cmd.join(' ')}: ${v.stderr}`);
  assert.equal(norm(v.stdout), norm(n.stdout), cmd.join(' '));
  return v.stdout;
}

/** A fresh directory under the host's temporary directory (the tests' volume), removed afterwards. */
function scratch(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'torov-dyn-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const isDynamic = (p: string) => { try { return parseElf(fs.readFileSync(p)).interp !== undefined; } catch { return false; } };

// ---- the machine's own binaries --------------------------------------------------------------

test('coreutils: ls -la /etc, cat, sort, env, date -u', () => {
  for (const p of ['/bin/ls', '/bin/cat', '/usr/bin/sort', '/usr/bin/env', '/usr/bin/date', '/usr/bin/sha256sum', '/usr/bin/find']) {
    assert.ok(isDynamic(p), `${p} is dynamically linked`);
  }
  // The guest's "/" is its own (a read-only tmpfs holding the root's entries), so /etc/..
  // and the total that counts it differ from the host's by design.
  same(['/bin/ls', '-la', '/etc'], { norm: (s) => s.split('\n').filter((l) => !/^total /.test(l) && !/ \.\.$/.test(l)).join('\n') });
  same(['/bin/ls', '-l', '--time-style=+%s', '/usr/bin/perl', '/usr/lib/x86_64-linux-gnu/libc.so.6']);
  same(['/bin/cat'], { input: 'one\ntwo\n' });
  same(['/usr/bin/sort', '-n'], { input: '10\n9\n100\n-1\n' });
  same(['/usr/bin/env']);
  same(['/usr/bin/date', '-u', '+%Y']);
});

test('sha256sum of a 20 MiB file', (t) => {
  const d = scratch(t), f = path.join(d, 'big');
  const b = Buffer.alloc(20 * 2 ** 20);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i);
  fs.writeFileSync(f, b);
  const out = same(['/usr/bin/sha256sum', f]);
  assert.match(out, /^[0-9a-f]{64} {2}/);
});

test("find /usr/share -name '*.txt' | head", () => {
  // Through a shell pipe, as a user types it: head closes the pipe early, and find then
  // ends as natively (SIGPIPE: 141, or 0 when it had finished writing).
  const sh = (prefix: string) => spawnSync('timeout', ['-s', 'KILL', '60s', 'bash', '-c', `${prefix} /usr/bin/find /usr/share -name '*.txt' | head; echo "status \${PIPESTATUS[0]}" >&2`],
    { encoding: 'utf8', env: { ...ENV, PATH: process.env['PATH'] ?? ENV.PATH }, timeout: 70_000 });
  const n = sh('');
  const v = sh(`'${TOROV}' run ${testRunOptions().join(' ')} --rootfs /`);
  assert.equal(v.stdout, n.stdout);
  assert.equal(v.stdout.split('\n').length, 11, v.stdout);
  assert.match(v.stderr, /^status (0|141)\n$/, v.stderr);
});

test('python3 -c: arithmetic, json, hashlib, re, a file in a volume, sqlite3', (t) => {
  assert.ok(isDynamic('/usr/bin/python3'));
  same(['/usr/bin/python3', '-c', 'print(2**100, 7/2, divmod(17, 5), sum(range(10**6)))']);
  same(['/usr/bin/python3', '-c', 'import json; d = json.loads(\'{"a": [1, 2.5, null, "\\\\u00e9"]}\'); print(json.dumps(d, sort_keys=True), len(json.dumps(list(range(1000)))))']);
  same(['/usr/bin/python3', '-c', 'import hashlib; print(hashlib.sha256(b"torov" * 1000).hexdigest(), hashlib.md5(b"x").hexdigest())']);
  same(['/usr/bin/python3', '-c', 'import re; print(re.findall(r"(\\w+)@(\\w+)\\.com", "a@b.com c@d.com"), re.sub(r"\\d+", "#", "a1b22c333"))']);
  // The volume is the host's temporary directory, writable: a file written and read back.
  const d = scratch(t);
  const script = `import os; p = os.path.join(${JSON.stringify(d)}, "f.txt"); open(p, "w").write("written\\n" * 3); print(open(p).read().count("written"), os.path.getsize(p))`;
  same(['/usr/bin/python3', '-c', script]);
  // sqlite3 (the _sqlite3 extension module and libsqlite3.so.0, loaded with dlopen), a file database.
  const db = (tag: string) => `import sqlite3; c = sqlite3.connect(${JSON.stringify(path.join(d, 'x'))} + "${tag}.db"); c.execute("create table t(a, b)"); c.executemany("insert into t values (?, ?)", [(i, str(i) * 3) for i in range(500)]); c.commit(); print(c.execute("select count(*), sum(a), max(b) from t").fetchone()); print(c.execute("pragma integrity_check").fetchone())`;
  const n = host(['/usr/bin/python3', '-c', db('n')]), v = vm(['/usr/bin/python3', '-c', db('v')]);
  assert.equal(v.stderr, '');
  assert.equal(v.status, 0);
  assert.equal(v.stdout, n.stdout);
  assert.equal(v.stdout, "(500, 124750, '999999')\n('ok',)\n");
});

test('python3: a socketserver echo server on loopback answers a native client', async () => {
  const script = [
    'import socketserver',
    'class H(socketserver.StreamRequestHandler):',
    '    def handle(self):',
    '        self.wfile.write(b"echo: " + self.rfile.readline())',
    'with socketserver.TCPServer(("127.0.0.1", 0), H) as s:',
    '    print(s.server_address[1], flush=True)',
    '    s.handle_request()',
    'print("served", flush=True)',
  ].join('\n');
  // The host's network, so that a client outside the VM reaches it.
  const child = spawn(TOROV, ['run', ...testRunOptions(), ...ROOT, '--network', 'host', '/usr/bin/python3', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (b) => { out += b; });
  child.stderr.on('data', (b) => { err += b; });
  const done = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  const port = await new Promise<number>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no port: ${out} ${err}`)), 30_000);
    child.stdout.on('data', () => { const m = /^(\d+)\n/.exec(out); if (m) { clearTimeout(t); res(Number(m[1])); } });
  });
  const reply = await new Promise<string>((res, rej) => {
    const s = require('node:net').connect(port, '127.0.0.1', () => s.write('hello from outside\n'));
    let got = '';
    s.on('data', (b: Buffer) => { got += b; });
    s.on('end', () => res(got));
    s.on('error', rej);
  });
  assert.equal(reply, 'echo: hello from outside\n');
  assert.equal(await done, 0, err);
  assert.equal(out, `${port}\nserved\n`);
  assert.equal(err, '');
});

test('perl -e', () => {
  same(['/usr/bin/perl', '-e', 'my %h = map { $_ => $_ ** 2 } 1..5; print join(",", map { "$_=$h{$_}" } sort keys %h), "\\n"; printf("%.3f\\n", atan2(1, 1) * 4)']);
  same(['/usr/bin/perl', '-MPOSIX', '-e', 'print POSIX::floor(7.9), " ", scalar(reverse("abc")), "\\n"']);
});

test('sqlite3 with a file database', { skip: fs.existsSync('/usr/bin/sqlite3') ? false : '/usr/bin/sqlite3 is not installed (apt-get install sqlite3)' }, (t) => {
  const d = scratch(t);
  const sql = 'create table t(a integer, b text); insert into t values (1, "x"), (2, "y"), (3, "z"); select sum(a), group_concat(b) from t; pragma integrity_check;';
  const n = host(['/usr/bin/sqlite3', path.join(d, 'n.db'), sql]), v = vm(['/usr/bin/sqlite3', path.join(d, 'v.db'), sql]);
  assert.equal(v.stderr, '');
  assert.equal(v.status, 0);
  assert.equal(v.stdout, n.stdout);
  assert.equal(v.stdout, '6|x,y,z\nok\n');
  // The database file is a real SQLite file on the host.
  assert.equal(fs.readFileSync(path.join(d, 'v.db')).subarray(0, 15).toString(), 'SQLite format 3');
});

test('busybox, dynamically linked', { skip: isDynamic('/bin/busybox') ? false : 'the machine\'s busybox is statically linked (busybox-static): no dynamic build to run' }, () => {
  same(['/bin/busybox', 'echo', 'hello']);
});

// ---- the test suite's shared library -----------------------------------------------------------

test('a program linked against a shared library built here, and dlopen + dlsym at run time (glibc and musl)', () => {
  for (const g of ['dl_demo', 'dl_demo_musl']) {
    const linked = same([guest(g), 'linked']);
    assert.equal(linked, 'add 5\nname one three\nconstructed 1\ntls 41 42\ncallback 42\nbss 0 1\n', g);
    const opened = same([guest(g), 'dlopen']);
    assert.equal(opened, 'dlsym add 42\ndlsym name two\ndlsym tls 41\ndlsym missing null\ndlclose 0\nlibm sqrt 42.0\n', g);
    same([guest(g), 'missing'], { status: 3 });
  }
});

test('a missing library: the loader\'s own message and status 127, as natively', () => {
  const n = host([guest('dl_missing')]), v = vm([guest('dl_missing')]);
  assert.equal(n.status, 127);
  assert.equal(v.status, 127);
  assert.equal(v.stdout, '');
  assert.equal(v.stderr, n.stderr);
  assert.match(v.stderr, /error while loading shared libraries: libtorovgone\.so: cannot open shared object file: No such file or directory/);
});

test('the interpreter run directly: ld.so PROGRAM (PIE and not), and musl\'s', () => {
  assert.equal(same(['/lib64/ld-linux-x86-64.so.2', guest('dl_demo'), 'linked']).split('\n')[0], 'add 5');
  // A program linked at 0x400000: ld.so itself must have been put elsewhere.
  assert.equal(same(['/lib64/ld-linux-x86-64.so.2', guest('hello_dyn_nopie')]), 'hello from torov\n');
  assert.equal(same([guest('hello_dyn_nopie')]), 'hello from torov\n');
  assert.equal(same(['/lib/ld-musl-x86_64.so.1', guest('dl_demo_musl'), 'linked']).split('\n')[0], 'add 5');
  same(['/lib64/ld-linux-x86-64.so.2', '--version'], { norm: (s) => s.split('\n')[0]! });
});

test('the auxiliary vector of a dynamic program: AT_BASE is the interpreter, AT_ENTRY and AT_PHDR the program', () => {
  // LD_SHOW_AUXV makes glibc's loader print the auxiliary vector it got.
  const v = torov(['run', ...ROOT, '-e', 'LD_SHOW_AUXV=1', guest('hello_dyn')]);
  assert.equal(v.status, 0, v.stderr);
  const aux = new Map(v.stdout.split('\n').filter((l) => l.startsWith('AT_')).map((l) => { const [k, ...r] = l.split(':'); return [k!, r.join(':').trim()]; }));
  const base = Number(aux.get('AT_BASE')), entry = Number(aux.get('AT_ENTRY')), phdr = Number(aux.get('AT_PHDR'));
  assert.ok(base > 0x400000, `AT_BASE ${aux.get('AT_BASE')}`);
  const elf = parseElf(fs.readFileSync(guest('hello_dyn')));
  // A PIE: loaded at a bias; entry and program headers at that bias.
  assert.equal(entry - elf.entry, phdr - elf.phoff);
  assert.equal(aux.get('AT_PHENT'), '56');
  assert.equal(Number(aux.get('AT_PHNUM')), elf.phnum);
  assert.match(aux.get('AT_SYSINFO_EHDR') ?? '', /^0x7fffffe/);
  assert.match(aux.get('AT_EXECFN') ?? '', /\/test\/guests\/hello_dyn$/);
  assert.match(v.stdout, /hello from torov\n$/);
});

test('without a root holding it, the interpreter is named with the root it was looked up in (127)', (t) => {
  const r = torov(['run', guest('hello_dyn')]);
  assert.equal(r.status, 127);
  assert.equal(r.stderr, `torov: ${guest('hello_dyn')}: the interpreter /lib64/ld-linux-x86-64.so.2 not found in the guest's minimal root (no --rootfs; try --rootfs /)\n`);
  const empty = scratch(t);
  fs.writeFileSync(path.join(empty, 'prog'), fs.readFileSync(guest('hello_dyn')), { mode: 0o755 });
  const e = torov(['run', '--rootfs', empty, '/prog']);
  assert.equal(e.status, 127);
  assert.equal(e.stderr, `torov: /prog: the interpreter /lib64/ld-linux-x86-64.so.2 not found in the guest's root ${empty}\n`);
  // PROGRAM itself is looked up in the root.
  const missing = torov(['run', '--rootfs', empty, '/bin/ls']);
  assert.equal(missing.status, 127);
  assert.equal(missing.stderr, `torov: /bin/ls: no such file in the guest's root ${empty}\n`);
});

test('--rootfs: PROGRAM is found on the guest\'s PATH and from its working directory; the root is read-only', () => {
  assert.equal(same(['ls', '/usr/share/doc/bash']), host(['/bin/ls', '/usr/share/doc/bash']).stdout);
  // The working directory defaults to the host's when the root shows it (--rootfs /).
  const r = torov(['run', ...ROOT, './test/guests/hello_dyn'], {});
  assert.equal(r.stdout, 'hello from torov\n', r.stderr);
  const w = torov(['run', ...ROOT, '-w', '/usr/bin', './env']);
  assert.equal(w.status, 0, w.stderr);
  assert.match(w.stdout, /^PATH=/);
  // Read-only: the guest cannot write the host's files.
  const ro = torov(['run', ...ROOT, '/usr/bin/python3', '-c', 'import errno\ntry:\n  open("/etc/torov-test", "w")\nexcept OSError as e:\n  print(errno.errorcode[e.errno])']);
  assert.equal(ro.stdout, 'EROFS\n', ro.stderr);
  assert.equal(fs.existsSync('/etc/torov-test'), false);
});

test('threads in a dynamic program: Python\'s ThreadPoolExecutor', () => {
  same(['/usr/bin/python3', '-c', 'from concurrent.futures import ThreadPoolExecutor\nwith ThreadPoolExecutor(4) as ex: print(sum(ex.map(lambda x: x * x, range(1000))))']);
});

test('processes in a dynamic program: Python\'s subprocess', () => {
  same(['/usr/bin/python3', '-c', 'import subprocess; print(subprocess.run(["/bin/echo", "hi"], capture_output=True).stdout)']);
});

test('static programs and static PIEs run as before, with --rootfs or without', () => {
  for (const g of ['hello', 'hello_pie', 'hello_glibc']) {
    for (const extra of [[], ROOT]) {
      const r = torov(['run', ...extra, guest(g)]);
      assert.equal(r.stdout, 'hello from torov\n', `${g} ${extra.join(' ')}: ${r.stderr}`);
      assert.equal(r.status, 0);
    }
  }
});

// ---- trace, policy path rules, learn mode ------------------------------------------------------

test('--trace shows the loader\'s openat and mmap of libraries as strace shows them', { skip: fs.existsSync('/usr/bin/strace') ? false : 'strace is not installed' }, (t) => {
  const d = scratch(t);
  const st = path.join(d, 'strace.txt'), tv = path.join(d, 'torov.txt');
  assert.equal(spawnSync('/usr/bin/strace', ['-o', st, guest('hello_dyn')], { env: ENV }).status, 0);
  const r = torov(['run', ...ROOT, '--trace-file', tv, guest('hello_dyn')]);
  assert.equal(r.status, 0, r.stderr);
  // The loader's file work, line by line: the same calls with the same arguments and
  // results; only addresses (another layout) and strace's column padding differ.
  const norm = (f: string) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => /^(openat|mmap|close|read|pread64|newfstatat|access)\(/.test(l))
    .map((l) => l.replace(/\s+= /, ' = ').replace(/0x[0-9a-f]+/g, 'ADDR'));
  const lines = norm(tv);
  assert.deepEqual(lines, norm(st));
  assert.ok(lines.includes('openat(AT_FDCWD, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3'), lines.join('\n'));
  assert.ok(lines.some((l) => /^mmap\(ADDR, \d+, PROT_READ\|PROT_EXEC, MAP_PRIVATE\|MAP_FIXED\|MAP_DENYWRITE, 3, ADDR\) = ADDR$/.test(l)), lines.join('\n'));
});

test('policy path rules apply to the loader\'s opens: a library the policy refuses is the loader\'s error', (t) => {
  const d = scratch(t), pol = path.join(d, 'nolibc.json');
  fs.writeFileSync(pol, JSON.stringify({
    defaultAction: 'allow',
    syscalls: [
      { names: ['openat'], action: 'deny', why: 'no file but these' },
      { names: ['openat'], action: 'allow', args: { paths: ['/etc/ld.so.cache', '/etc/ld.so.preload'], access: 'read-only' }, why: 'the loader\'s cache, no library' },
    ],
  }));
  const r = torov(['run', ...ROOT, '--policy', pol, guest('hello_dyn')]);
  assert.equal(r.status, 127);
  assert.match(r.stderr, /hello_dyn: error while loading shared libraries: libc\.so\.6: cannot open shared object file: Operation not permitted/);
});

test('policy learn on a dynamic program: the learned policy runs it again and refuses anything new', (t) => {
  const d = scratch(t), out = path.join(d, 'py.json');
  const script = 'import json, hashlib; print(json.dumps({"h": hashlib.sha1(b"x").hexdigest()[:6]}))';
  const l = torov(['policy', 'learn', '--out', out, ...ROOT, '--', '/usr/bin/python3', '-c', script]);
  assert.equal(l.status, 0, l.stderr);
  assert.equal(l.stdout, '{"h": "11f6ad"}\n');
  const doc = JSON.parse(fs.readFileSync(out, 'utf8')) as { syscalls: Array<{ names: string[]; args?: { paths?: string[] } }> };
  const paths = doc.syscalls.flatMap((s) => s.args?.paths ?? []);
  assert.ok(paths.some((p) => p.includes('/lib/x86_64-linux-gnu/')), paths.join(' '));
  assert.ok(doc.syscalls.some((s) => s.names.includes('mmap')));
  const again = torov(['run', '--policy', out, ...ROOT, '/usr/bin/python3', '-c', script]);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, l.stdout);
  // (Its traceback goes nowhere: the learned policy lets the program write to fd 1 only.)
  const other = torov(['run', '--policy', out, '--verbose', ...ROOT, '/usr/bin/python3', '-c', 'print(open("/etc/hostname").read())']);
  assert.notEqual(other.status, 0);    // Python: an exception (its traceback could not be written: 1 or 120)
  assert.match(other.stderr, /^torov: policy: openat: path "\/etc\/hostname" \(read-only\) is allowed by no rule of /m);
});
