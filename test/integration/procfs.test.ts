/**
 * torov's /proc and /sys with guest processes (src/syscalls/synthetic.ts): which files
 * exist for a process, a thread, a child and a zombie, compared with a native run; what
 * BusyBox's ps, top, free, df and nproc make of them; /proc listed, and used as a cwd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { torov, vmAndNative, scratchDir } from '../helpers';

const BUSYBOX = '/bin/busybox';
const needBusybox = { skip: fs.existsSync(BUSYBOX) ? false : 'busybox is not installed' };

/** Runs BusyBox with `args` in torov (the host's root, read-only); it must exit 0. Returns its stdout. */
function bb(args: readonly string[], opts: readonly string[] = []): string {
  const r = torov(['run', '--rootfs', '/', ...opts, BUSYBOX, ...args]);
  assert.equal(r.status, 0, `busybox ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The rows of a table printed by ps or df (header dropped), each split on white space. */
const rows = (out: string) => out.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));

test('/proc of a process, its thread, a child and a zombie: the same files exist and the same links read as natively', () => {
  const { vm, host } = vmAndNative('procfs_probe');
  assert.deepEqual(vm, host);
  // The probe's facts, each checked both ways by the comparison; here so a failure says which.
  for (const line of ['child stat: ppid is me: yes, state S: yes', 'zombie stat: state Z: yes', 'zombie status: State Z (zombie): yes',
    'read zombie/cmdline: ok empty', 'readlink zombie/exe: ENOENT', '/proc/self/task has both threads: yes', 'done']) {
    assert.ok(vm.includes(line), `${line}\n${vm.join('\n')}`);
  }
});

test('ps lists the shell and its children with their parent, process group and arguments', needBusybox, () => {
  const out = bb(['sh', '-c', 'sleep 1 & sleep 1 & ps -o pid,ppid,pgid,args; wait']);
  const procs = rows(out).map(([pid, ppid, pgid, ...args]) => ({ pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid), args: args.join(' ') }));
  const shell = procs.find((p) => p.args.startsWith('/bin/busybox sh -c'));
  assert.ok(shell, out);
  assert.equal(shell.ppid, 0, out);
  // "{exe} sleep 1" until BusyBox, started through /proc/self/exe, renames itself (as natively).
  const sleeps = procs.filter((p) => p.args.replace(/^\{\S+\} /, '') === 'sleep 1');
  assert.equal(sleeps.length, 2, out);
  for (const s of sleeps) assert.deepEqual([s.ppid, s.pgid], [shell.pid, shell.pgid], out);
  const ps = procs.find((p) => p !== shell && p.args.includes('ps -o'));
  assert.ok(ps && ps.ppid === shell.pid, out);
  // Nothing else: the guest's processes only, never the host's.
  assert.equal(procs.length, 4, out);
  assert.equal(new Set(procs.map((p) => p.pid)).size, 4, out);
});

test('ps\'s default columns and -o comm: the user and the names', needBusybox, () => {
  const uid = process.getuid?.() ?? 0;
  const user = os.userInfo().username;
  const out = bb(['sh', '-c', 'sleep 1 & sleep 0.3; ps; ps -o pid,comm; wait']);
  assert.match(out, new RegExp(`^\\s*1 ${user.slice(0, 8)}\\s+/bin/busybox sh -c`, 'm'), `uid ${uid}\n${out}`);
  // BusyBox names an applet it started through /proc/self/exe after itself, as it does natively
  // (the name after an exec is the last part of the path execve was given: "exe").
  assert.match(out, /^\s*2 sleep$/m, out);
});

test('/proc lists the guest\'s processes and its own files; /proc/PID lists the process\'s', needBusybox, () => {
  const names = bb(['sh', '-c', 'sleep 1 & ls -a /proc; wait']).trim().split('\n');
  for (const n of ['.', '..', '1', '2', 'self', 'thread-self', 'mounts', 'cpuinfo', 'meminfo', 'stat', 'uptime', 'loadavg', 'version', 'sys']) {
    assert.ok(names.includes(n), `${n} in ${names.join(' ')}`);
  }
  // Numbers are processes (three: the shell, sleep and ls), and nothing of the host's.
  assert.deepEqual(names.filter((n) => /^\d+$/.test(n)), ['1', '2', '3']);
  assert.deepEqual(bb(['ls', '/proc/self/']).trim().split('\n'), ['cmdline', 'comm', 'cwd', 'environ', 'exe', 'fd', 'fdinfo', 'limits',
    'maps', 'mountinfo', 'mounts', 'root', 'stat', 'statm', 'status', 'task']);
  assert.equal(bb(['ls', '/proc/self/task']), '1\n');
  assert.equal(bb(['ls', '/sys/devices/system/cpu'], ['--cpus', '2']), 'cpu0\ncpu1\nonline\npossible\npresent\n');
});

test('a shell can cd into /proc: relative paths resolve there, getcwd names the process\'s directory', needBusybox, () => {
  // self is resolved at the cd: the cwd is the shell's directory (pid 1), which its children inherit.
  assert.equal(bb(['sh', '-c', 'cd /proc/self && cat comm && /bin/busybox pwd -P && cd fd && ls 0 && cd / && pwd']),
    'busybox\n/proc/1\n0\n/\n');
});

test('top -b -n1 shows the guest\'s processes, its memory and CPUs', needBusybox, () => {
  const out = bb(['sh', '-c', 'sleep 1 & top -b -n1; wait'], ['--memory', '128M']);
  assert.match(out, /^Mem: \d+K used, \d+K free/m, out);
  assert.match(out, /^CPU:\s+\d+% usr/m, out);
  const table = out.slice(out.indexOf('  PID'));
  const pids = rows(table).map((r) => Number(r[0]));
  assert.deepEqual(pids.sort(), [1, 2, 3], out);
  const [used, free] = /^Mem: (\d+)K used, (\d+)K free/m.exec(out)!.slice(1).map(Number);
  assert.equal(used! + free!, 128 * 1024, out);
});

test('free and df: the guest\'s memory and its mounts, sensible numbers', needBusybox, () => {
  const mem = rows(bb(['free'], ['--memory', '96M']));
  const [total, used, free] = mem[0]!.slice(1, 4).map(Number);
  assert.equal(mem[0]![0], 'Mem:');
  assert.equal(total, 96 * 1024);
  assert.ok(used! > 0 && used! < total!, `used ${used}`);
  assert.equal(used! + free!, total);
  const vol = scratchDir('torov-procfs-');
  const df = rows(bb(['df', '-k'], ['-v', `${vol}:/data`]));
  const byPath = new Map(df.map((r) => [r[5], r]));
  for (const p of ['/', '/dev', '/data', '/usr']) {
    const r = byPath.get(p);
    assert.ok(r, `${p} in df:\n${df.map((x) => x.join(' ')).join('\n')}`);
    const [blocks, usedK, avail] = r.slice(1, 4).map(Number);
    assert.ok(blocks! > 0 && usedK! >= 0 && avail! >= 0 && usedK! <= blocks!, r.join(' '));
  }
  // The root is torov's small read-only tmpfs; /data is the volume, as the host sees it.
  assert.equal(byPath.get('/')![0], 'tmpfs');
  const mounts = bb(['cat', '/proc/mounts'], ['-v', `${vol}:/data`]);
  assert.match(mounts, /^tmpfs \/ tmpfs ro,/m);
  assert.match(mounts, /^\S+ \/data \S+ rw,/m);
  assert.match(mounts, /^proc \/proc proc rw,/m);
  assert.doesNotMatch(mounts, /\/dev\/(sd|vd|nvme)/, 'no host device names');
});

test('nproc, with and without --all, counts the CPUs the guest sees', needBusybox, () => {
  assert.equal(bb(['nproc'], ['--cpus', '3']), '3\n');
  assert.equal(bb(['nproc', '--all'], ['--cpus', '3']), '3\n');
});
