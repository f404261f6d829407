/**
 * A small, generic protobuf codec for the CRI tests' gRPC client (test/oci/cri.ts): no
 * schema, no generated code. A message is written from a list of fields, each a field
 * number and a value whose JavaScript type picks the wire type:
 *   number | bigint | boolean  -> varint (wire type 0); negative numbers as 64-bit two's
 *                                 complement (int32/int64's encoding, 10 bytes)
 *   string | Uint8Array         -> length-delimited (wire type 2), strings as UTF-8
 *   Field[]                     -> a nested message (wire type 2)
 * A field given as undefined is left out (proto3 leaves default values out as well), and
 * a repeated field is simply the same number given several times (maps are repeated
 * nested messages {1: key, 2: value}).
 *
 * Reading gives every field number's values in order of appearance (varints as bigint,
 * length-delimited fields and fixed32/fixed64 as their bytes): the caller, which knows the
 * schema, reads them as strings, nested messages or numbers with the helpers below.
 * Malformed input (a truncated field, a varint over 10 bytes, a group or an unknown wire
 * type, field number 0) throws a ProtobufError.
 */

export type Value = number | bigint | boolean | string | Uint8Array | readonly Field[] | undefined;
export type Field = readonly [number, Value];

export class ProtobufError extends Error {}

const MAX_FIELD = 2 ** 29 - 1;

function varint(v: bigint, out: number[]): void {
  let u = BigInt.asUintN(64, v);
  do {
    const b = Number(u & 0x7fn);
    u >>= 7n;
    out.push(u ? b | 0x80 : b);
  } while (u);
}

function key(num: number, wire: number, out: number[]): void {
  if (!Number.isInteger(num) || num < 1 || num > MAX_FIELD) throw new ProtobufError(`bad field number ${num}`);
  varint((BigInt(num) << 3n) | BigInt(wire), out);
}

/** The bytes of a message made of these fields. */
export function encode(fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const [num, v] of fields) {
    if (v === undefined) continue;
    const head: number[] = [];
    if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
      if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new ProtobufError(`field ${num}: ${v} is not a whole number`);
      const b = typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(v);
      if (b < -(2n ** 63n) || b >= 2n ** 64n) throw new ProtobufError(`field ${num}: ${b} does not fit in 64 bits`);
      key(num, 0, head);
      varint(b, head);
      parts.push(Buffer.from(head));
      continue;
    }
    const body = typeof v === 'string' ? Buffer.from(v, 'utf8') : v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : encode(v);
    key(num, 2, head);
    varint(BigInt(body.length), head);
    parts.push(Buffer.from(head), body);
  }
  return Buffer.concat(parts);
}

/** A message read without its schema: each field number's raw values, in order. */
export type Message = Map<number, Array<bigint | Buffer>>;

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let v = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtobufError('truncated varint');
    const b = buf[pos++]!;
    v |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (!(b & 0x80)) return [BigInt.asUintN(64, v), pos];
  }
  throw new ProtobufError('varint longer than 10 bytes');
}

/** Reads a message's fields (not the nested ones: see sub()). */
export function decode(buf: Uint8Array): Message {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const m: Message = new Map();
  let pos = 0;
  while (pos < b.length) {
    let k: bigint;
    [k, pos] = readVarint(b, pos);
    const num = Number(k >> 3n), wire = Number(k & 7n);
    if (num < 1 || num > MAX_FIELD) throw new ProtobufError(`bad field number ${k >> 3n}`);
    let v: bigint | Buffer;
    if (wire === 0) {
      [v, pos] = readVarint(b, pos);
    } else if (wire === 2 || wire === 1 || wire === 5) {
      let len = wire === 1 ? 8 : 4;
      if (wire === 2) {
        let l: bigint;
        [l, pos] = readVarint(b, pos);
        if (l > BigInt(b.length - pos)) throw new ProtobufError(`field ${num}: length ${l} past the end of the message`);
        len = Number(l);
      }
      if (pos + len > b.length) throw new ProtobufError(`field ${num}: truncated`);
      v = b.subarray(pos, pos + len);
      pos += len;
    } else {
      throw new ProtobufError(`field ${num}: wire type ${wire} not supported`);
    }
    let list = m.get(num);
    if (!list) m.set(num, list = []);
    list.push(v);
  }
  return m;
}

function bytesOf(m: Message, num: number, v: bigint | Buffer): Buffer {
  if (typeof v === 'bigint') throw new ProtobufError(`field ${num} is a varint, not length-delimited`);
  return v;
}

/** The last value of a field (proto3: the last one wins), or undefined. */
const last = (m: Message, num: number) => { const l = m.get(num); return l ? l[l.length - 1] : undefined; };

/** A string field ('' when absent). */
export function str(m: Message, num: number): string {
  const v = last(m, num);
  return v === undefined ? '' : bytesOf(m, num, v).toString('utf8');
}

/** Every value of a repeated string field. */
export function strs(m: Message, num: number): string[] {
  return (m.get(num) ?? []).map((v) => bytesOf(m, num, v).toString('utf8'));
}

/** A bytes field (empty when absent). */
export function bytes(m: Message, num: number): Buffer {
  const v = last(m, num);
  return v === undefined ? Buffer.alloc(0) : bytesOf(m, num, v);
}

/** A nested message field (empty when absent). */
export function sub(m: Message, num: number): Message {
  const v = last(m, num);
  return v === undefined ? new Map() : decode(bytesOf(m, num, v));
}

/** Every value of a repeated message field. */
export function subs(m: Message, num: number): Message[] {
  return (m.get(num) ?? []).map((v) => decode(bytesOf(m, num, v)));
}

/** A varint field as an unsigned 64-bit number (0n when absent). */
export function uint(m: Message, num: number): bigint {
  const v = last(m, num);
  if (v === undefined) return 0n;
  if (typeof v !== 'bigint') throw new ProtobufError(`field ${num} is not a varint`);
  return v;
}

/** A varint field as int32/int64 (two's complement), as a Number: enums, exit codes, times in ns lose no precision below 2^53. */
export function int(m: Message, num: number): number {
  return Number(BigInt.asIntN(64, uint(m, num)));
}

/** A map<string, string> field. */
export function map(m: Message, num: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of subs(m, num)) out[str(e, 1)] = str(e, 2);
  return out;
}

/** The fields of a map<string, string> field, for encode(). */
export function mapFields(num: number, entries: Record<string, string>): Field[] {
  return Object.entries(entries).map(([k, v]) => [num, [[1, k], [2, v]]] as const);
}
