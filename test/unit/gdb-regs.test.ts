/** The x86-64 register map, its encoding to and from KVM's structures, and the target description. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REGISTERS, REG, REG_OFFSETS, G_PACKET_BYTES, CpuState, readReg, writeReg, encodeAll, decodeAll, targetXml, fullTag, abridgedTag, FPU } from '../../src/gdb/regs';
import { REGS, SREGS, KVM_REGS_SIZE, KVM_SREGS_SIZE, KVM_FPU_SIZE } from '../../src/kvm/kvm';
import { gdbSignal, linuxSignal } from '../../src/gdb/signals';
import { parseListenAddress, formatAddress } from '../../src/gdb/socket';

function state(): CpuState {
  const regs = Buffer.alloc(KVM_REGS_SIZE), sregs = Buffer.alloc(KVM_SREGS_SIZE), fpu = Buffer.alloc(KVM_FPU_SIZE);
  const names = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip'] as const;
  names.forEach((n, i) => regs.writeBigUInt64LE(0x1000n + BigInt(i), REGS[n]));
  regs.writeBigUInt64LE(0x246n, REGS.rflags);
  sregs.writeUInt16LE(0x33, SREGS.cs + 12);
  sregs.writeUInt16LE(0x2b, SREGS.ss + 12);
  sregs.writeBigUInt64LE(0x405658n, SREGS.fs);
  fpu.writeUInt16LE(0x37f, FPU.fcw);
  fpu.writeUInt32LE(0x1f80, FPU.mxcsr);
  fpu.fill(0xaa, FPU.xmm, FPU.xmm + 16);
  return { regs, sregs, fpu };
}

test('gdb numbering: amd64 GNU/Linux order, 60 registers, 560 bytes in g', () => {
  assert.equal(REGISTERS.length, 60);
  assert.deepEqual(REGISTERS.slice(0, 8).map((r) => r.name), ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp']);
  assert.equal(REGISTERS[REG.rip]!.name, 'rip');
  assert.equal(REGISTERS[REG.eflags]!.bits, 32);
  assert.equal(REGISTERS[REG.fs_base]!.name, 'fs_base');
  assert.equal(G_PACKET_BYTES, 560);
  assert.equal(REG_OFFSETS[REG.rip], 128);
  assert.equal(REG_OFFSETS[REG.xmm0], 128 + 8 + 4 + 24 + 80 + 32);
});

test('readReg: rbp and rsp swap places against kvm_regs; eflags, selectors, bases', () => {
  const s = state();
  assert.equal(readReg(s, 6)!.readBigUInt64LE(), 0x1007n);     // rbp: kvm_regs index 7
  assert.equal(readReg(s, 7)!.readBigUInt64LE(), 0x1006n);     // rsp: kvm_regs index 6
  assert.equal(readReg(s, REG.rip)!.readBigUInt64LE(), 0x1010n);
  assert.equal(readReg(s, REG.eflags)!.toString('hex'), '46020000');
  assert.equal(readReg(s, REG.cs)!.readUInt32LE(), 0x33);
  assert.equal(readReg(s, REG.ss)!.readUInt32LE(), 0x2b);
  assert.equal(readReg(s, REG.fs_base)!.readBigUInt64LE(), 0x405658n);
  assert.equal(readReg(s, REG.orig_rax)!.readBigInt64LE(), -1n);
  assert.equal(readReg(s, REG.fctrl)!.readUInt32LE(), 0x37f);
  assert.equal(readReg(s, REG.mxcsr)!.readUInt32LE(), 0x1f80);
  assert.equal(readReg(s, REG.xmm0)!.toString('hex'), 'aa'.repeat(16));
  assert.equal(readReg(s, 99), undefined);
});

test('encodeAll / decodeAll round-trip; unavailable x87/SSE state reads as xx', () => {
  const s = state();
  const g = encodeAll(s);
  assert.equal(g.length, G_PACKET_BYTES * 2);
  const t = state();
  t.regs.fill(0); t.fpu!.fill(0);
  const changed = decodeAll(t, Buffer.from(g, 'hex'));
  assert.ok(changed.has('regs') && changed.has('fpu'));
  assert.equal(encodeAll(t), g);
  const noFpu = { ...state(), fpu: undefined };
  const h = encodeAll(noFpu);
  assert.equal(h.slice(REG_OFFSETS[REG.st0]! * 2, REG_OFFSETS[REG.st0]! * 2 + 20), 'x'.repeat(20));
  assert.equal(readReg(noFpu, REG.xmm0), undefined);
});

test('writeReg: sizes are checked, selectors are accepted and ignored', () => {
  const s = state();
  assert.equal(writeReg(s, REG.rip, Buffer.alloc(4)), undefined);
  assert.equal(writeReg(s, REG.rip, Buffer.from('0010400000000000', 'hex')), 'regs');
  assert.equal(s.regs.readBigUInt64LE(REGS.rip), 0x401000n);
  assert.equal(writeReg(s, REG.cs, Buffer.from('10000000', 'hex')), 'none');
  assert.equal(s.sregs.readUInt16LE(SREGS.cs + 12), 0x33);
  assert.equal(writeReg(s, REG.gs_base, Buffer.from('0100000000000000', 'hex')), 'sregs');
  assert.equal(s.sregs.readBigUInt64LE(SREGS.gs), 1n);
});

test('x87 tag word: full from abridged and back', () => {
  const s = state();
  const f = s.fpu!;
  assert.equal(fullTag(f), 0xffff);                           // all empty
  // TOP = 7; ST(0) is physical register 7, holding 1.0 (valid).
  f.writeUInt16LE(7 << 11, FPU.fsw);
  f[FPU.ftwx] = 0x80;
  f.writeUInt32LE(0x80000000, FPU.fpr + 4);
  f.writeUInt16LE(0x3fff, FPU.fpr + 8);
  assert.equal(fullTag(f), 0x3fff);
  // ST(1) (physical 0) holds zero.
  f[FPU.ftwx] = 0x81;
  assert.equal(fullTag(f), 0x3ffd);
  assert.equal(abridgedTag(0x3ffd), 0x81);
  assert.equal(abridgedTag(0xffff), 0);
});

test('target description: the features and registers gdb needs for amd64', () => {
  const x = targetXml();
  assert.match(x, /^<\?xml version="1.0"\?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">/);
  assert.match(x, /<architecture>i386:x86-64<\/architecture>/);
  for (const f of ['org.gnu.gdb.i386.core', 'org.gnu.gdb.i386.sse', 'org.gnu.gdb.i386.linux', 'org.gnu.gdb.i386.segments']) {
    assert.ok(x.includes(`<feature name="${f}">`), f);
  }
  assert.ok(x.includes('<reg name="rip" bitsize="64" type="code_ptr" regnum="16"/>'));
  assert.ok(x.includes('<reg name="eflags" bitsize="32" type="i386_eflags" regnum="17"/>'));
  assert.ok(x.includes('<reg name="xmm15" bitsize="128" type="vec128" regnum="55"/>'));
  assert.ok(x.includes('<reg name="gs_base" bitsize="64" type="int" regnum="59"/>'));
  assert.equal((x.match(/<reg /g) ?? []).length, 60);
  assert.ok(!/[$#}*]/.test(x));                               // nothing to escape in the XML
});

test('signals: gdb numbering differs from Linux for BUS, USR1/2, SYS', () => {
  assert.equal(gdbSignal(11), 11);
  assert.equal(gdbSignal(5), 5);
  assert.equal(gdbSignal(7), 10);                            // SIGBUS
  assert.equal(gdbSignal(31), 12);                           // SIGSYS
  assert.equal(gdbSignal(10), 30);                           // SIGUSR1
  assert.equal(gdbSignal(99), 143);
  assert.equal(linuxSignal(10), 7);
  assert.equal(linuxSignal(12), 31);
  assert.equal(linuxSignal(0), undefined);
});

test('--gdb addresses: loopback unless a host is named', () => {
  assert.deepEqual(parseListenAddress('1234'), { host: '127.0.0.1', port: 1234, family: 4 });
  assert.deepEqual(parseListenAddress(':0'), { host: '127.0.0.1', port: 0, family: 4 });
  assert.deepEqual(parseListenAddress('localhost:9'), { host: '127.0.0.1', port: 9, family: 4 });
  assert.deepEqual(parseListenAddress('0.0.0.0:1234'), { host: '0.0.0.0', port: 1234, family: 4 });
  assert.deepEqual(parseListenAddress('[::1]:1234'), { host: '::1', port: 1234, family: 6 });
  assert.equal(formatAddress(parseListenAddress('[::1]:5')), '[::1]:5');
  for (const bad of ['', 'x', '1.2.3:5', '256.0.0.1:5', '127.0.0.1:65536', 'host:12', '[zz]:1', '1234:']) {
    assert.throws(() => parseListenAddress(bad), /expected|host|IPv6/, bad);
  }
});
