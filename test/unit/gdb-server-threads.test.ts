/** The GDB server's thread packets (qfThreadInfo, qC, T, H, vCont per thread, QPassSignals) against a fake target. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GdbServer, Target, Resume, parseThreadId } from '../../src/gdb/server';
import { framePacket, PacketReader } from '../../src/gdb/packet';
import type { Connection } from '../../src/gdb/socket';

/** A target with threads 1, 2 and 0x1a, whose selected thread (Hg) shows in its registers. */
function fakeTarget(): Target & { selected: number; passed: number[] | undefined } {
  return {
    selected: 1, passed: undefined,
    readRegisters() { return this.selected.toString(16).padStart(2, '0'); },
    writeRegisters: () => true, readRegister: () => '00', writeRegister: () => true,
    readMemory: () => Buffer.alloc(0), writeMemory: () => false,
    insertPoint: () => 'ok', removePoint: () => 'ok', setPc: () => {},
    threads: () => [1, 2, 0x1a],
    currentThread: () => 2,
    selectThread(tid: number) { this.selected = tid; return true; },
    threadInfo: (tid: number) => (tid === 2 ? 'in a syscall' : undefined),
    passSignals(s: number[]) { this.passed = s; },
  };
}

/** Runs the server over `packets` (no-ack mode) until it resumes; the replies and the resume. */
function serve(packets: string[], target = fakeTarget()): { replies: string[]; resume: Resume } {
  const input = [framePacket('QStartNoAckMode'), Buffer.from('+'), ...packets.map((p) => framePacket(p))];
  const reader = new PacketReader();
  const replies: string[] = [];
  const conn: Connection = {
    fd: -1, closed: false,
    recv: () => input.shift(),
    send: (b: Uint8Array) => { for (const it of reader.feed(Buffer.from(b))) if (it.kind === 'packet') replies.push(it.data.toString('latin1')); return true; },
    close() { (conn as { closed: boolean }).closed = true; },
  } as unknown as Connection;
  const resume = new GdbServer(conn, target).stopped('T05thread:2;');
  return { replies: replies.slice(2), resume };                 // past the stop reply and QStartNoAckMode's OK
}

test('parseThreadId: hex, -1, 0, the multiprocess form; junk is undefined', () => {
  assert.equal(parseThreadId('1a'), 0x1a);
  assert.equal(parseThreadId('-1'), -1);
  assert.equal(parseThreadId('0'), 0);
  assert.equal(parseThreadId('p1.3'), 3);
  assert.equal(parseThreadId('p-1.-1'), -1);
  for (const bad of ['', 'x', '1.2', 'p1', '123456789']) assert.equal(parseThreadId(bad), undefined, bad);
});

test('thread list, current thread, liveness, extra info, Hg selects the registers', () => {
  const t = fakeTarget();
  const { replies } = serve(['qfThreadInfo', 'qsThreadInfo', 'qC', 'T1a', 'T-1', 'T5', 'Tzz', 'qThreadExtraInfo,2', 'qThreadExtraInfo,1',
    'Hg1a', 'g', 'Hg5', 'Hg0', 'Hc-1', 'Hcq', 'c'], t);
  assert.deepEqual(replies, ['m1,2,1a', 'l', 'QC2', 'OK', 'OK', 'E01', 'E01', Buffer.from('in a syscall').toString('hex'), '',
    'OK', '1a', 'E01', 'OK', 'OK', 'E16']);
});

test('vCont: per-thread actions, the others continue or stay stopped', () => {
  const cases: Array<[string, Resume]> = [
    ['vCont;c', { kind: 'continue', signal: 0, tid: undefined, others: true }],
    ['vCont;s:2', { kind: 'step', signal: 0, tid: 2, others: false }],
    ['vCont;s:2;c', { kind: 'step', signal: 0, tid: 2, others: true }],
    ['vCont;c:1a', { kind: 'continue', signal: 0, tid: 0x1a, others: false }],
    ['vCont;C1e:2;c', { kind: 'continue', signal: 0x1e, tid: 2, others: true }],
    ['vCont;s:p1.2;c:-1', { kind: 'step', signal: 0, tid: 2, others: true }],
    ['vCont;s:9;c', { kind: 'continue', signal: 0, tid: undefined, others: true }],   // thread 9 is gone
    ['vCont;s', { kind: 'step', signal: 0, tid: undefined, others: false }],
  ];
  for (const [p, want] of cases) assert.deepEqual(serve([p]).resume, want, p);
  assert.deepEqual(serve(['vCont;s:9', 'vCont;x', 'vCont;c:zz', 'c']).replies, ['E16', 'E16', 'E16']);
});

test('c and s follow Hc: s steps that thread alone, c lets every thread run', () => {
  assert.deepEqual(serve(['Hc1a', 's']).resume, { kind: 'step', signal: 0, tid: 0x1a, others: false });
  assert.deepEqual(serve(['Hc1a', 'c']).resume, { kind: 'continue', signal: 0, tid: 0x1a, others: true });
  assert.deepEqual(serve(['S05']).resume, { kind: 'step', signal: 5, tid: undefined, others: false });
});

test('QPassSignals: the list reaches the target; malformed is E16; qSupported offers it', () => {
  const t = fakeTarget();
  const { replies } = serve(['QPassSignals:e;14;1e;', 'QPassSignals:zz', 'qSupported:swbreak+', 'c'], t);   // gdb's own form: a trailing ';'
  assert.deepEqual(replies.slice(0, 2), ['OK', 'E16']);
  assert.match(replies[2]!, /;QPassSignals\+/);
  assert.deepEqual(t.passed, [0xe, 0x14, 0x1e]);
  serve(['QPassSignals:', 'c'], t);
  assert.deepEqual(t.passed, []);
});
