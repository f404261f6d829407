/** Tests for src/policy/policy.ts (model, evaluation, ALWAYS_ALLOWED) and src/policy/default.ts. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALLOW, DENY, KILL, LOG, ALWAYS_ALLOWED, ALWAYS_ALLOWED_WHY, POLICY_TABLE_SIZE,
  actionCode, buildPolicy, denyErrno, verdict,
} from '../../src/policy/policy';
import { DEFAULT_RULES, DEFAULT_SOURCE, defaultPolicy } from '../../src/policy/default';
import { linuxSyscalls, makeSyscallTable } from '../../src/policy/syscall-table';
import { PolicyError } from '../../src/policy/errors';

const table = linuxSyscalls();
const nr = (name: string): number => {
  const n = table.nrOf(name);
  assert.notEqual(n, undefined, `syscall ${name} missing from the table`);
  return n as number;
};

describe('action codes', () => {
  it('are the documented constants', () => {
    assert.deepEqual([ALLOW, DENY, KILL, LOG], [0, 1, 2, 3]);
    assert.equal(actionCode('allow'), ALLOW);
    assert.equal(actionCode('deny'), DENY);
    assert.equal(actionCode('kill'), KILL);
    assert.equal(actionCode('log'), LOG);
  });
});

describe('buildPolicy / verdict', () => {
  it('precomputes a 512-entry table with the default action', () => {
    const p = buildPolicy({ source: 't', defaultAction: 'kill', rules: [] });
    assert.equal(p.actions.length, POLICY_TABLE_SIZE);
    assert.equal(p.errnos.length, POLICY_TABLE_SIZE);
    assert.equal(p.why.length, POLICY_TABLE_SIZE);
    assert.equal(verdict(p, nr('openat')), KILL);
    assert.equal(p.defaultErrno, 1);
  });

  it('gives the default action to numbers outside the table', () => {
    const p = buildPolicy({ source: 't', defaultAction: 'log', rules: [{ names: ['read'], action: 'allow' }] });
    for (const n of [-1, 512, 4096, 1e9, 1.5, NaN]) assert.equal(verdict(p, n), LOG, String(n));
    assert.equal(verdict(p, nr('read')), ALLOW);
  });

  it('lets later rules override earlier ones, errno and why included', () => {
    const p = buildPolicy({
      source: 't',
      defaultAction: 'allow',
      defaultErrno: 13,
      rules: [
        { names: ['openat', 'read'], action: 'deny', errno: 2, why: 'first' },
        { names: ['openat'], action: 'allow', why: 'second' },
        { names: ['read'], action: 'deny', why: 'third' },
      ],
    });
    assert.equal(verdict(p, nr('openat')), ALLOW);
    assert.equal(p.why[nr('openat')], 'second');
    assert.equal(verdict(p, nr('read')), DENY);
    assert.equal(denyErrno(p, nr('read')), 13, 'a later rule without errno uses defaultErrno');
    assert.equal(p.why[nr('read')], 'third');
    assert.equal(p.why[nr('write')], undefined);
  });

  it('returns the rule errno for deny', () => {
    const p = buildPolicy({ source: 't', defaultAction: 'deny', rules: [{ names: ['openat'], action: 'deny', errno: 13 }] });
    assert.equal(denyErrno(p, nr('openat')), 13);
    assert.equal(denyErrno(p, nr('read')), 1);
    assert.equal(denyErrno(p, 100000), 1);
  });

  it('rejects unknown names and bad errnos with a PolicyError', () => {
    assert.throws(() => buildPolicy({ source: 't', defaultAction: 'deny', rules: [{ names: ['nope'], action: 'allow' }] }), PolicyError);
    assert.throws(() => buildPolicy({ source: 't', defaultAction: 'deny', defaultErrno: 0, rules: [] }), PolicyError);
    assert.throws(() => buildPolicy({ source: 't', defaultAction: 'deny', defaultErrno: 4096, rules: [] }), PolicyError);
  });

  it('works with another syscall table', () => {
    const t = makeSyscallTable([{ nr: 0, name: 'a' }, undefined, { nr: 2, name: 'b' }]);
    const p = buildPolicy({ source: 't', defaultAction: 'deny', rules: [{ names: ['b'], action: 'kill' }] }, t);
    assert.equal(verdict(p, 2), KILL);
    assert.equal(verdict(p, 0), DENY);
    assert.deepEqual(t.names, ['a', 'b']);
    assert.equal(t.nameOf(2), 'b');
  });
});

describe('ALWAYS_ALLOWED', () => {
  it('is exactly the documented set, each with a reason', () => {
    assert.deepEqual([...ALWAYS_ALLOWED].sort(), ['arch_prctl', 'brk', 'exit', 'exit_group', 'rt_sigreturn', 'set_tid_address']);
    for (const n of ALWAYS_ALLOWED) assert.ok((ALWAYS_ALLOWED_WHY[n] ?? '').length > 10, n);
  });

  it('bypasses an empty deny-all (and kill-all) policy', () => {
    for (const defaultAction of ['deny', 'kill'] as const) {
      const p = buildPolicy({ source: 't', defaultAction, rules: [] });
      for (const n of ALWAYS_ALLOWED) assert.equal(verdict(p, nr(n)), ALLOW, `${n} under ${defaultAction}`);
      assert.match(p.why[nr('exit_group')] ?? '', /^always allowed: /);
      assert.notEqual(verdict(p, nr('mmap')), ALLOW, 'mmap follows the policy');
    }
  });

  it('stays allowed even if a rule denies it, but a log rule is honoured', () => {
    const p = buildPolicy({
      source: 't',
      defaultAction: 'deny',
      rules: [{ names: ['brk'], action: 'kill' }, { names: ['exit_group'], action: 'log' }],
    });
    assert.equal(verdict(p, nr('brk')), ALLOW);
    assert.equal(verdict(p, nr('exit_group')), LOG);
  });
});

describe('default policy', () => {
  const p = defaultPolicy();

  it('is named <default>, denies with EPERM by default, and is cached', () => {
    assert.equal(p.source, DEFAULT_SOURCE);
    assert.equal(p.defaultAction, 'deny');
    assert.equal(p.defaultErrno, 1);
    assert.equal(defaultPolicy(), p);
  });

  it('allows ordinary calls', () => {
    for (const n of ['read', 'write', 'openat', 'close', 'fstat', 'newfstatat', 'mmap', 'munmap', 'clock_gettime',
      'futex', 'ioctl', 'getrlimit', 'socket', 'epoll_wait', 'rt_sigaction', 'getrandom', 'exit_group', 'brk']) {
      assert.equal(verdict(p, nr(n)), ALLOW, n);
    }
  });

  it('denies the dangerous calls with EPERM and a reason', () => {
    const dangerous = ['mount', 'umount2', 'pivot_root', 'chroot', 'ptrace', 'process_vm_readv', 'process_vm_writev',
      'kexec_load', 'kexec_file_load', 'bpf', 'init_module', 'finit_module', 'delete_module', 'reboot', 'unshare',
      'setns', 'swapon', 'swapoff', 'acct', 'add_key', 'request_key', 'keyctl', 'perf_event_open', 'userfaultfd',
      'quotactl', 'open_by_handle_at', 'name_to_handle_at', 'iopl', 'ioperm', 'create_module', 'syslog',
      'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'sethostname', 'setdomainname', 'lookup_dcookie',
      'personality', 'uselib', 'vhangup', 'nfsservctl', 'fanotify_init', 'move_mount', 'fsopen', 'fsconfig',
      'fsmount', 'fspick', 'open_tree', 'mount_setattr'];
    for (const n of dangerous) {
      assert.equal(verdict(p, nr(n)), DENY, n);
      assert.equal(denyErrno(p, nr(n)), 1, n);
      assert.ok((p.why[nr(n)] ?? '').length > 0, `${n} has a reason`);
    }
  });

  it('denies unlisted syscalls', () => {
    assert.equal(verdict(p, nr('io_uring_setup')), DENY);
    assert.equal(p.why[nr('io_uring_setup')], undefined);
  });

  it('is data: every rule has names, an action and a reason, and no name is listed twice', () => {
    const seen = new Set<string>();
    for (const r of DEFAULT_RULES) {
      assert.ok(r.names.length > 0);
      assert.ok((r.why ?? '').length > 0);
      assert.ok(r.action === 'allow' || r.action === 'deny');
      for (const n of r.names) {
        assert.ok(!seen.has(n), `${n} listed twice`);
        assert.ok(!ALWAYS_ALLOWED.has(n), `${n} is always allowed; no need to list it`);
        seen.add(n);
        nr(n);
      }
    }
    assert.deepEqual(p.rules, DEFAULT_RULES);
  });
});
