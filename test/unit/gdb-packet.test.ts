/** GDB remote protocol framing: checksums, escaping, the packet reader, hex helpers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checksum, framePacket, escapeBinary, unescapeBinary, PacketReader, toHex, fromHex, parseHexNumber, parseHexBig, MAX_PACKET } from '../../src/gdb/packet';

test('checksum is the byte sum modulo 256', () => {
  assert.equal(checksum(Buffer.from('')), 0);
  assert.equal(checksum(Buffer.from('OK')), 0x9a);
  assert.equal(checksum(Buffer.from('qSupported')), 0x37);
  assert.equal(checksum(Buffer.alloc(300, 0xff)), (300 * 0xff) & 0xff);
});

test('framePacket: $payload#cc, the checksum over the escaped bytes', () => {
  assert.equal(framePacket('OK').toString(), '$OK#9a');
  assert.equal(framePacket('').toString(), '$#00');
  // '#' inside a payload is sent as '}' followed by '#' ^ 0x20 ('\x03').
  const f = framePacket('a#b');
  assert.deepEqual([...f.subarray(1, f.length - 3)], [0x61, 0x7d, 0x03, 0x62]);
  assert.equal(f.subarray(f.length - 2).toString(), checksum(Buffer.from([0x61, 0x7d, 0x03, 0x62])).toString(16).padStart(2, '0'));
});

test('escapeBinary / unescapeBinary round-trip every byte value', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const esc = escapeBinary(all);
  assert.equal(esc.length, 256 + 4);                       // $ # } * are escaped
  for (const raw of [0x23, 0x24, 0x2a]) assert.equal(esc.indexOf(raw), -1);   // no raw # $ *
  assert.deepEqual([...esc.subarray(esc.indexOf(0x7d), esc.indexOf(0x7d) + 2)], [0x7d, 0x23 ^ 0x20]);
  assert.deepEqual(unescapeBinary(esc), all);
  assert.deepEqual(unescapeBinary(Buffer.from([0x41, 0x7d])), Buffer.from([0x41]));   // a trailing lone '}' is dropped
});

test('PacketReader: packets, acks, interrupts, noise, split reads', () => {
  const r = new PacketReader();
  const items = r.feed(Buffer.from('+$g#67-\x03junk$m0,4#fd'));
  assert.deepEqual(items.map((i) => i.kind), ['ack', 'packet', 'nack', 'interrupt', 'packet']);
  assert.equal((items[1] as { data: Buffer }).data.toString(), 'g');
  assert.equal((items[1] as { ok: boolean }).ok, true);
  assert.equal((items[4] as { ok: boolean }).ok, true);
  // A packet split anywhere, including inside the checksum.
  const whole = framePacket('qSupported:swbreak+');
  const out = [];
  for (const b of whole) out.push(...r.feed(Buffer.from([b])));
  assert.equal(out.length, 1);
  assert.equal(out[0]!.kind, 'packet');
  assert.equal(r.pending, false);
});

test('PacketReader: a bad checksum is reported, an escaped # does not end the packet', () => {
  const r = new PacketReader();
  const [bad] = r.feed(Buffer.from('$g#00'));
  assert.deepEqual(bad, { kind: 'packet', data: Buffer.from('g'), ok: false });
  const body = Buffer.from([0x58, 0x7d, 0x03, 0x31]);      // X } (#^0x20) 1
  const pkt = Buffer.concat([Buffer.from('$'), body, Buffer.from('#' + checksum(body).toString(16).padStart(2, '0'))]);
  const [p] = r.feed(pkt);
  assert.equal(p!.kind, 'packet');
  assert.equal((p as { ok: boolean }).ok, true);
  assert.deepEqual(unescapeBinary((p as { data: Buffer }).data), Buffer.from('X#1'));
});

test('PacketReader: a runaway packet without an end is dropped, not kept forever', () => {
  const r = new PacketReader();
  assert.deepEqual(r.feed(Buffer.concat([Buffer.from('$'), Buffer.alloc(MAX_PACKET + 100, 0x61)])), []);
  assert.equal(r.pending, false);
  const [p] = r.feed(framePacket('?'));
  assert.equal(p!.kind, 'packet');
});

test('hex helpers', () => {
  assert.equal(toHex(Buffer.from([0, 0xab, 0x10])), '00ab10');
  assert.deepEqual(fromHex('00AB10'), Buffer.from([0, 0xab, 0x10]));
  assert.equal(fromHex('abc'), undefined);
  assert.equal(fromHex('zz'), undefined);
  assert.equal(parseHexNumber('7fffffe08000'), 0x7fffffe08000);
  assert.equal(parseHexNumber(''), undefined);
  assert.equal(parseHexNumber('-1'), undefined);
  assert.equal(parseHexNumber('ffffffffffffffff'), undefined);   // beyond 2^53
  assert.equal(parseHexBig('ffffffffffffffff'), 0xffffffffffffffffn);
});
