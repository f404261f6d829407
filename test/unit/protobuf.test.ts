/**
 * The protobuf codec and gRPC framing of the CRI tests' client (test/oci/protobuf.ts,
 * test/oci/cri.ts), on their own: the encodings of the protobuf documentation's examples,
 * negative numbers, nesting, repeated and map fields, and malformed input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode, decode, str, strs, sub, subs, uint, int, bytes, map, mapFields, ProtobufError, type Field } from '../oci/protobuf';
import { frame, unframe } from '../oci/cri';

const hex = (b: Buffer) => b.toString('hex');

test('encode: the documentation\'s examples (varint 150, a string, a nested message)', () => {
  assert.equal(hex(encode([[1, 150]])), '089601');
  assert.equal(hex(encode([[2, 'testing']])), '120774657374696e67');
  assert.equal(hex(encode([[3, [[1, 150]]]])), '1a03089601');
  assert.equal(hex(encode([[1, 0], [2, '']])), '08001200', 'explicit zero values are written');
  assert.equal(hex(encode([[1, undefined], [2, 'x']])), '120178', 'undefined fields are left out');
  assert.equal(hex(encode([[1, true], [2, false]])), '08011000');
  assert.equal(hex(encode([[16, 1]])), '800101', 'a field number past 15 takes two bytes of key');
  assert.equal(hex(encode([[1, Buffer.from([0, 255])]])), '0a0200ff');
  assert.equal(hex(encode([[1, []]])), '0a00', 'an empty nested message');
});

test('varints: 64-bit values, negative numbers as two\'s complement (10 bytes)', () => {
  assert.equal(hex(encode([[1, -1]])), '08ffffffffffffffffff01');
  assert.equal(hex(encode([[1, 2n ** 64n - 1n]])), '08ffffffffffffffffff01');
  assert.equal(hex(encode([[1, 300]])), '08ac02');
  for (const v of [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, -(2 ** 31), 2 ** 53 - 1, -(2 ** 53) + 1, -1, -150]) {
    assert.equal(int(decode(encode([[7, v]])), 7), v, String(v));
  }
  assert.equal(uint(decode(encode([[7, 2n ** 64n - 1n]])), 7), 2n ** 64n - 1n);
  assert.equal(uint(decode(encode([[7, -1]])), 7), 2n ** 64n - 1n);
  assert.throws(() => encode([[1, 2n ** 64n]]), ProtobufError);
  assert.throws(() => encode([[1, -(2n ** 63n) - 1n]]), ProtobufError);
  assert.throws(() => encode([[1, 1.5]]), ProtobufError);
  assert.throws(() => encode([[0, 1]]), /bad field number 0/);
  assert.throws(() => encode([[2 ** 29, 1]]), /bad field number/);
});

test('decode: nested, repeated and map fields, in order; the last of a scalar wins', () => {
  const msg: Field[] = [
    [1, 'id-1'],
    [2, [[1, 'name'], [2, 3]]],
    [3, 'a'], [3, 'b c'], [3, ''],
    [4, [[1, 'x']]], [4, [[1, 'y']]],
    ...mapFields(5, { k1: 'v1', 'k 2': '' }),
    [6, Buffer.from('\x00\x01\xff', 'latin1')],
    [7, -143], [7, 2],
    [8, 'é ✓'],
  ];
  const m = decode(encode(msg));
  assert.equal(str(m, 1), 'id-1');
  assert.equal(str(sub(m, 2), 1), 'name');
  assert.equal(int(sub(m, 2), 2), 3);
  assert.deepEqual(strs(m, 3), ['a', 'b c', '']);
  assert.deepEqual(subs(m, 4).map((s) => str(s, 1)), ['x', 'y']);
  assert.deepEqual(map(m, 5), { k1: 'v1', 'k 2': '' });
  assert.deepEqual([...bytes(m, 6)], [0, 1, 255]);
  assert.equal(int(m, 7), 2);
  assert.equal(str(m, 8), 'é ✓');
  // Absent fields read as proto3's defaults.
  assert.equal(str(m, 99), '');
  assert.equal(int(m, 99), 0);
  assert.equal(bytes(m, 99).length, 0);
  assert.equal(sub(m, 99).size, 0);
  assert.deepEqual(strs(m, 99), []);
});

test('decode: fixed32 and fixed64 fields are kept as bytes (skipped by readers that do not ask)', () => {
  const m = decode(Buffer.from('0d0100000011020000000000000018 05'.replace(/ /g, ''), 'hex'));
  assert.equal(hex(m.get(1)![0] as Buffer), '01000000');
  assert.equal(hex(m.get(2)![0] as Buffer), '0200000000000000');
  assert.equal(int(m, 3), 5);
});

test('decode: malformed input is a ProtobufError, never a crash or a read past the end', () => {
  const bad: Array<[string, RegExp]> = [
    ['08', /truncated varint/],
    ['08ffffffffffffffffffff01', /longer than 10 bytes/],
    ['0a05616263', /past the end/],
    ['0affffffffffffffffff01', /past the end/],
    ['0d0100', /truncated/],
    ['110102', /truncated/],
    ['0b', /wire type 3/],
    ['0c', /wire type 4/],
    ['0e00', /wire type 6/],
    ['00', /bad field number 0/],
  ];
  for (const [h, re] of bad) assert.throws(() => decode(Buffer.from(h, 'hex')), (e: unknown) => e instanceof ProtobufError && re.test((e as Error).message), h);
  // A string field read as a number, or a number as a string: an error, not a guess.
  assert.throws(() => int(decode(encode([[1, 'x']])), 1), ProtobufError);
  assert.throws(() => str(decode(encode([[1, 5]])), 1), ProtobufError);
  assert.throws(() => sub(decode(encode([[1, 'x']])), 1), ProtobufError, 'a string that is not a valid message');
  assert.equal(decode(Buffer.alloc(0)).size, 0);
});

test('gRPC framing: a flag byte and a 32-bit big-endian length before each message', () => {
  const m = encode([[1, 'v1']]);
  const f = frame(m);
  assert.equal(hex(f), '0000000004' + hex(m));
  assert.deepEqual(unframe(Buffer.concat([f, frame(Buffer.alloc(0))])).map(hex), [hex(m), '']);
  assert.deepEqual(unframe(Buffer.alloc(0)), []);
  assert.throws(() => unframe(f.subarray(0, 3)), /truncated message prefix/);
  assert.throws(() => unframe(f.subarray(0, f.length - 1)), /truncated message$/);
  assert.throws(() => unframe(Buffer.from('0100000000', 'hex')), /compressed/);
});
