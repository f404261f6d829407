/** The /proc formatters (src/syscalls/procfs.ts) and the path tests of the trees (synthetic.ts): pure functions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DT_DIR, DT_LNK, DT_REG, fdinfoText, fsTypeName, inodeOf, limitsText, mapsText, mountinfoText, mountsText, packDirents, ProcState,
  procStatText, statLine, statmText, statusText,
} from '../../src/syscalls/procfs';
import { fold, mayBeInTrees } from '../../src/syscalls/synthetic';

/** Reads linux_dirent64 records back: [ino, off, type, name]. */
function parse64(b: Buffer): Array<[number, number, number, string]> {
  const out: Array<[number, number, number, string]> = [];
  for (let at = 0; at < b.length;) {
    const len = b.readUInt16LE(at + 16);
    assert.equal(len % 8, 0, 'records are 8-byte aligned');
    const name = b.subarray(at + 19, at + len);
    out.push([Number(b.readBigUInt64LE(at)), Number(b.readBigInt64LE(at + 8)), b[at + 18]!, name.subarray(0, name.indexOf(0)).toString()]);
    at += len;
  }
  return out;
}

const ENTRIES = [{ name: '.', type: DT_DIR, ino: 5 }, { name: 'self', type: DT_LNK, ino: 6 }, { name: 'cpuinfo', type: DT_REG, ino: 7 }];

test('packDirents: getdents64 records, d_off the next position, as many as fit', () => {
  const all = packDirents(ENTRIES, 0, 4096);
  assert.equal(all.next, 3);
  assert.deepEqual(parse64(all.bytes), [[5, 1, DT_DIR, '.'], [6, 2, DT_LNK, 'self'], [7, 3, DT_REG, 'cpuinfo']]);
  // ".": 19 + 2 = 21 -> 24 bytes; "self": 19 + 5 -> 24: two fit in 48, not three.
  const two = packDirents(ENTRIES, 0, 48);
  assert.equal(two.next, 2);
  assert.equal(two.bytes.length, 48);
  const rest = packDirents(ENTRIES, two.next, 4096);
  assert.deepEqual(parse64(rest.bytes), [[7, 3, DT_REG, 'cpuinfo']]);
  // Not even one fits: nothing (the caller's EINVAL); at the end: nothing.
  assert.equal(packDirents(ENTRIES, 0, 23).bytes.length, 0);
  assert.equal(packDirents(ENTRIES, 3, 4096).bytes.length, 0);
});

test('packDirents legacy: struct linux_dirent, d_type in the last byte of each record', () => {
  const { bytes } = packDirents(ENTRIES.slice(1, 2), 0, 4096, true);
  // d_ino, d_off (longs), d_reclen, "self\0", padding, d_type: 18 + 5 + 1 -> 24.
  assert.equal(bytes.length, 24);
  assert.equal(bytes.readUInt16LE(16), 24);
  assert.equal(bytes.subarray(18, 22).toString(), 'self');
  assert.equal(bytes[22], 0);
  assert.equal(bytes[23], DT_LNK);
});

const STATE: ProcState = {
  pid: 7, tid: 7, ppid: 1, pgid: 1, sid: 1, comm: 'my prog (x)', state: 'S', uid: 1000, gid: 100, umask: 0o027, threads: 2,
  vm: 8 << 20, startMs: 1500, userMs: 250, systemMs: 30, pending: 0n, shared: 0n, blocked: 1n << 9n, ignored: 1n << 12n, caught: 1n << 1n,
  cpus: 4, argStart: 0x1000, argEnd: 0x1010, envStart: 0x1010, envEnd: 0x1040, exitSignal: 17, exitCode: 0,
};

/** stat's fields after the comm (field 3 on), as ps splits them. */
const fieldsAfterComm = (line: string) => line.slice(line.lastIndexOf(')') + 2).trim().split(' ');

test('statLine: the 52 fields of proc(5), comm in parentheses, times in ticks', () => {
  const line = statLine(STATE);
  assert.ok(line.startsWith('7 (my prog (x)) S 1 1 1 '), line);
  assert.ok(line.endsWith('\n'));
  const f = fieldsAfterComm(line);
  assert.equal(f.length, 50, 'fields 3 to 52');
  const field = (n: number) => f[n - 3];
  assert.equal(field(14), '25');                  // utime: 250 ms at 100 Hz
  assert.equal(field(15), '3');
  assert.equal(field(20), '2');                   // num_threads
  assert.equal(field(22), '150');                 // starttime
  assert.equal(field(23), String(8 << 20));       // vsize, bytes
  assert.equal(field(24), '2048');                // rss, pages
  assert.equal(field(32), String(1 << 9));        // blocked
  assert.equal(field(38), '17');                  // exit_signal
  assert.deepEqual([field(48), field(49), field(50), field(51)], [String(0x1000), String(0x1010), String(0x1010), String(0x1040)]);
  // A zombie: no memory, no argument areas, its exit code last.
  const z = fieldsAfterComm(statLine({ ...STATE, state: 'Z', exitCode: 3 }));
  assert.equal(z[0], 'Z');
  assert.equal(z[23 - 3], '0');
  assert.equal(z[48 - 3], '0');
  assert.equal(z[52 - 3], '3');
});

test('statusText: names, states, octal umask, masks in hex; a zombie has no memory lines', () => {
  const s = statusText(STATE);
  for (const l of ['Name:\tmy prog (x)', 'Umask:\t0027', 'State:\tS (sleeping)', 'Tgid:\t7', 'Pid:\t7', 'PPid:\t1', 'Uid:\t1000\t1000\t1000\t1000',
    'VmSize:\t    8192 kB', 'Threads:\t2', 'SigBlk:\t0000000000000200', 'SigIgn:\t0000000000001000', 'SigCgt:\t0000000000000002',
    'Cpus_allowed:\tf', 'Cpus_allowed_list:\t0-3']) {
    assert.ok(s.includes(`${l}\n`), `${l} in\n${s}`);
  }
  const z = statusText({ ...STATE, state: 'Z' });
  assert.ok(z.includes('State:\tZ (zombie)\n'));
  assert.ok(!z.includes('VmSize'));
  // A stopped process keeps its memory lines.
  const t = statusText({ ...STATE, state: 'T' });
  assert.ok(t.includes('State:\tT (stopped)\n'), t);
  assert.ok(t.includes('VmSize'));
  assert.equal(fieldsAfterComm(statLine({ ...STATE, state: 'T' }))[0], 'T');
  assert.equal(statmText(8 << 20), '2048 2048 0 0 0 2048 0\n');
});

test('limitsText: the kernel\'s table, unlimited for RLIM_INFINITY and unknown limits', () => {
  const inf = (1n << 64n) - 1n;
  const lims = Array.from({ length: 16 }, (_, i) => (i === 7 ? [1024n, 4096n] as const : i === 3 ? [8388608n, inf] as const : undefined));
  const lines = limitsText(lims).split('\n');
  assert.equal(lines.length, 18);
  assert.equal(lines[0], 'Limit                     Soft Limit           Hard Limit           Units     ');
  assert.equal(lines[4], 'Max stack size            8388608              unlimited            bytes     ');
  assert.equal(lines[8], 'Max open files            1024                 4096                 files     ');
  assert.equal(lines[14], 'Max nice priority         unlimited            unlimited            ');
});

test('procStatText: the time used spread over the CPUs, the rest idle; btime and counts', () => {
  const t = procStatText({ cpus: 2, userMs: 1000, systemMs: 200, uptimeMs: 10_000, btime: 1700000000, processes: 5, running: 1 }).split('\n');
  assert.equal(t[0], 'cpu  100 0 20 1880 0 0 0 0 0 0');
  assert.equal(t[1], 'cpu0 50 0 10 940 0 0 0 0 0 0');
  assert.equal(t[2], 'cpu1 50 0 10 940 0 0 0 0 0 0');
  assert.ok(t.includes('btime 1700000000') && t.includes('processes 5') && t.includes('procs_running 1'));
});

test('mounts and mountinfo: type names, options from statfs flags, parents, escaped paths', () => {
  const m = [
    { path: '/', magic: 0x01021994, flags: 1 | 2 | 4 | 4096, dev: 0x2b },
    { path: '/usr', magic: 0xef53, flags: 1 | 2 | 4, dev: 0xfe00 },
    { path: '/my data', magic: 0x58465342, flags: 2 | 4, dev: 0x801 },
    { path: '/my data/sub', magic: 0x12345, flags: 0, dev: 0 },
  ];
  assert.equal(mountsText(m), 'tmpfs / tmpfs ro,nosuid,nodev,relatime 0 0\next4 /usr ext4 ro,nosuid,nodev 0 0\n'
    + 'xfs /my\\040data xfs rw,nosuid,nodev 0 0\nunknown /my\\040data/sub unknown rw 0 0\n');
  assert.deepEqual(mountinfoText(m).split('\n').slice(0, 4), [
    '21 21 0:43 / / ro,nosuid,nodev,relatime - tmpfs tmpfs ro',
    '22 21 254:0 / /usr ro,nosuid,nodev - ext4 ext4 ro',
    '23 21 8:1 / /my\\040data rw,nosuid,nodev - xfs xfs rw',
    '24 23 0:0 / /my\\040data/sub rw - unknown unknown rw',
  ]);
  assert.equal(fsTypeName(0x9fa0), 'proc');
});

test('maps, fdinfo and inode numbers', () => {
  assert.equal(mapsText([
    { start: 0x400000, end: 0x401000, prot: 5, shared: false, offset: 0, dev: 0xfe01, ino: '1234', name: '' },
    { start: 0x7ff000, end: 0x800000, prot: 3, shared: false, offset: 0, dev: 0, ino: '0', name: '[stack]' },
  ]), `00400000-00401000 r-xp 00000000 fe:01 1234\n${'007ff000-00800000 rw-p 00000000 00:00 0'.padEnd(73)}[stack]\n`);
  assert.equal(fdinfoText(12, 0o2100002, 21, 99), 'pos:\t12\nflags:\t02100002\nmnt_id:\t21\nino:\t99\n');
  assert.equal(inodeOf('/proc/1/stat'), inodeOf('/proc/1/stat'));
  assert.notEqual(inodeOf('/proc/1/stat'), inodeOf('/proc/2/stat'));
  assert.ok(inodeOf('') > 2);
});

test('the trees\' path tests: folding, and the cheap first test that ordinary paths fail', () => {
  assert.equal(fold('//proc/./self/../1//stat'), '/proc/1/stat');
  assert.equal(fold('/proc/../..'), '/');
  for (const p of ['/proc', '/proc/', '/proc/self/maps', '/sys', '/sys/devices', '//proc', '/./proc', '/../sys']) assert.ok(mayBeInTrees(p), p);
  for (const p of ['/usr/lib', '/processes', '/sysroot/x', '/srv', 'proc/self', '', '/']) assert.ok(!mayBeInTrees(p), p);
});
