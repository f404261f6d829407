import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import {
  AREAS, MAX_SYSCALL_NR, SYS, SYSCALLS, SYSCALL_BY_NR, syscallByName, syscallByNr, syscallName,
} from '../../src/linux/syscalls';
import type { ArgKind } from '../../src/linux/syscalls';

const HEADER = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';

test('sorted by number, no duplicate numbers or names', () => {
  const nrs = new Set<number>();
  const names = new Set<string>();
  let prev = -1;
  for (const s of SYSCALLS) {
    assert.ok(s.nr > prev, `${s.name} (${s.nr}) after ${prev}`);
    prev = s.nr;
    assert.ok(!nrs.has(s.nr), `duplicate number ${s.nr}`);
    assert.ok(!names.has(s.name), `duplicate name ${s.name}`);
    nrs.add(s.nr);
    names.add(s.name);
  }
  assert.equal(MAX_SYSCALL_NR, prev);
});

test('covers 0-336 and 424-470 without holes; 337-423 unassigned', () => {
  for (let nr = 0; nr <= MAX_SYSCALL_NR; nr++) {
    const assigned = nr <= 336 || nr >= 424;
    assert.equal(SYSCALL_BY_NR[nr] !== undefined, assigned, `syscall ${nr}`);
  }
  assert.ok(MAX_SYSCALL_NR >= 462);
  assert.equal(SYSCALL_BY_NR.length, MAX_SYSCALL_NR + 1);
});

test('spot checks of numbers and names', () => {
  const expected: Record<string, number> = {
    read: 0, write: 1, open: 2, close: 3, mmap: 9, ioctl: 16, clone: 56, execve: 59, exit: 60,
    arch_prctl: 158, gettid: 186, futex: 202, exit_group: 231, openat: 257, newfstatat: 262,
    getrandom: 318, statx: 332, rseq: 334, pidfd_send_signal: 424, clone3: 435, epoll_pwait2: 441,
    futex_waitv: 449, mseal: 462,
  };
  for (const [name, nr] of Object.entries(expected)) {
    assert.equal(syscallByName(name)?.nr, nr, name);
    assert.equal(syscallName(nr), name);
    assert.equal(SYSCALL_BY_NR[nr]?.name, name);
    assert.equal((SYS as Record<string, number>)[name], nr);
  }
  assert.equal(SYS.openat, 257);
  assert.equal(SYS.exit_group, 231);
});

test('lookups of unknown syscalls', () => {
  assert.equal(syscallName(400), 'syscall_400');
  assert.equal(syscallName(9999), 'syscall_9999');
  assert.equal(syscallName(-1), 'syscall_-1');
  assert.equal(syscallByNr(1.5), undefined);
  assert.equal(syscallByNr(-1), undefined);
  assert.equal(syscallByNr(100000), undefined);
  assert.equal(syscallByName('nosuchcall'), undefined);
  assert.equal(syscallByName('toString'), undefined);
});

test('every __NR_ in the installed unistd_64.h matches the table', (t) => {
  if (!existsSync(HEADER)) {
    t.skip(`${HEADER} not installed`);
    return;
  }
  const defs = [...readFileSync(HEADER, 'utf8').matchAll(/^#define __NR_(\w+)\s+(\d+)\s*$/gm)];
  assert.ok(defs.length > 300, `parsed ${defs.length} definitions`);
  let max = 0;
  for (const m of defs) {
    const [, name, value] = m as unknown as [string, string, string];
    assert.equal(syscallByName(name)?.nr, Number(value), `__NR_${name}`);
    max = Math.max(max, Number(value));
  }
  // And the reverse, up to what the header knows. uretprobe (6.11) and uprobe (6.18) took
  // free numbers below 424 after the older calls above them, so older headers lack them.
  const inHeader = new Set(defs.map((m) => m[1]));
  const late = new Set(['uretprobe', 'uprobe']);
  for (const s of SYSCALLS) {
    if (s.nr <= max && !late.has(s.name)) assert.ok(inHeader.has(s.name), `${s.name} (${s.nr}) missing from ${HEADER}`);
  }
});

const REF_KINDS: ReadonlySet<ArgKind> = new Set<ArgKind>([
  'open_mode', 'sockproto', 'sockopt_name', 'fcntl_arg', 'ioctl_arg', 'futex_val', 'futex_timeout', 'futex_uaddr2',
  'futex_val3', 'buf_in', 'buf_out', 'iovec_in', 'iovec_out', 'pollfd', 'sockaddr', 'sockaddr_out', 'sockopt_val',
  'sockopt_val_out', 'dirents_out',
]);

test('argument descriptions are well formed', () => {
  for (const s of SYSCALLS) {
    assert.ok(s.args.length <= 6, `${s.name} has ${s.args.length} args`);
    assert.ok(AREAS.includes(s.area), `${s.name} area ${s.area}`);
    s.args.forEach((a, i) => {
      if (REF_KINDS.has(a.kind)) {
        assert.ok(a.ref !== undefined, `${s.name} arg ${i} (${a.kind}) needs ref`);
      }
      if (a.ref !== undefined) {
        assert.ok(Number.isInteger(a.ref) && a.ref >= 0 && a.ref < s.args.length && a.ref !== i, `${s.name} arg ${i} ref ${a.ref}`);
      }
    });
  }
});

test('planned support', () => {
  const support = (name: string) => syscallByName(name)?.support;
  for (const n of ['read', 'write', 'openat', 'close', 'newfstatat', 'statx', 'socket', 'connect', 'getrandom', 'clock_gettime', 'prlimit64', 'getxattr', 'flistxattr']) {
    assert.equal(support(n), 'full', n);
  }
  for (const n of ['mmap', 'munmap', 'brk', 'arch_prctl', 'set_tid_address', 'exit_group', 'getpid', 'gettid', 'uname', 'rseq']) {
    assert.equal(support(n), 'vmm', n);
  }
  for (const n of ['ioctl', 'futex', 'rt_sigaction', 'kill', 'setuid', 'copy_file_range', 'clone', 'clone3']) assert.equal(support(n), 'partial', n);
  for (const n of ['fork', 'vfork', 'execve', 'execveat']) assert.equal(support(n), 'full', n);
  for (const n of ['wait4', 'waitid']) assert.equal(support(n), 'partial', n);
  for (const n of ['mount', 'umount2', 'ptrace', 'bpf', 'kexec_load', 'init_module', 'reboot', 'unshare', 'setns', 'swapon']) {
    assert.equal(support(n), 'none', n);
    assert.equal(syscallByName(n)?.note, 'refused: not available to guests', n);
  }
  assert.match(syscallByName('rseq')?.note ?? '', /ENOSYS/);
  for (const n of ['signalfd', 'signalfd4', 'rt_sigtimedwait']) assert.equal(support(n), 'vmm', n);
  for (const n of ['mincore', 'setxattr', 'io_uring_setup', 'mseal']) assert.equal(support(n), 'none', n);
});

test('return kinds', () => {
  assert.equal(syscallByName('mmap')?.ret, 'hex');
  assert.equal(syscallByName('brk')?.ret, 'hex');
  assert.equal(syscallByName('exit')?.ret, 'none');
  assert.equal(syscallByName('exit_group')?.ret, 'none');
  assert.equal(syscallByName('openat')?.ret, 'fd');
  assert.equal(syscallByName('read')?.ret, 'int');
});
