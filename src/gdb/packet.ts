/**
 * GDB remote serial protocol: packet framing, checksums, binary escaping and hex
 * helpers. Pure (no I/O), so it is unit-tested directly.
 *
 * A packet is `$payload#cc`: cc is the sum of the payload bytes modulo 256, in two hex
 * digits. Inside a payload, `}` escapes the next byte (sent XOR 0x20); `$`, `#`, `}` and
 * `*` (run-length encoding) are escaped in replies. The receiver answers `+` (good
 * checksum) or `-` (resend), until QStartNoAckMode turns acknowledgements off. Between
 * packets, a single 0x03 byte is an interrupt request (Ctrl-C in gdb).
 */

/** Checksum of a payload as it is sent (after escaping). */
export function checksum(payload: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < payload.length; i++) s = (s + payload[i]!) & 0xff;
  return s;
}

/** Bytes that must be escaped inside a payload. */
const needsEscape = (b: number) => b === 0x23 /* # */ || b === 0x24 /* $ */ || b === 0x7d /* } */ || b === 0x2a /* * */;

/** Escapes binary data for a payload (qXfer replies, and anything that may hold `$#}*`). */
export function escapeBinary(data: Uint8Array): Buffer {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (needsEscape(data[i]!)) n++;
  if (n === 0) return Buffer.from(data);
  const out = Buffer.alloc(data.length + n);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (needsEscape(b)) { out[o++] = 0x7d; out[o++] = b ^ 0x20; } else out[o++] = b;
  }
  return out;
}

/** Undoes escaping (the X packet's binary data). A trailing lone `}` is dropped. */
export function unescapeBinary(data: Uint8Array): Buffer {
  const out = Buffer.alloc(data.length);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 0x7d) { if (i + 1 < data.length) out[o++] = data[++i]! ^ 0x20; } else out[o++] = b;
  }
  return out.subarray(0, o);
}

/** Frames a reply: `$` + escaped payload + `#` + checksum. */
export function framePacket(payload: string | Uint8Array): Buffer {
  const body = escapeBinary(typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);
  const out = Buffer.alloc(body.length + 4);
  out[0] = 0x24;
  body.copy(out, 1);
  out[body.length + 1] = 0x23;
  out.write(checksum(body).toString(16).padStart(2, '0'), body.length + 2, 'latin1');
  return out;
}

/** What the reader found in the byte stream. */
export type Incoming =
  | { kind: 'packet'; data: Buffer; ok: boolean }   // ok: the checksum matched
  | { kind: 'interrupt' }                           // 0x03 outside a packet
  | { kind: 'ack' } | { kind: 'nack' };

/** Longest payload accepted; anything longer is dropped as garbage (PacketSize tells gdb). */
export const MAX_PACKET = 0x4000;

/**
 * Splits the incoming byte stream into packets, acks and interrupts. Bytes outside a
 * packet that are none of these (noise, a stray `#`) are skipped, as gdbserver does.
 */
export class PacketReader {
  private buf: Buffer = Buffer.alloc(0);

  /** Adds received bytes; returns everything complete so far, in order. */
  feed(bytes: Uint8Array): Incoming[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, bytes]) : Buffer.from(bytes);
    const out: Incoming[] = [];
    let i = 0;
    const b = this.buf;
    while (i < b.length) {
      const c = b[i]!;
      if (c === 0x2b) { out.push({ kind: 'ack' }); i++; continue; }
      if (c === 0x2d) { out.push({ kind: 'nack' }); i++; continue; }
      if (c === 0x03) { out.push({ kind: 'interrupt' }); i++; continue; }
      if (c !== 0x24) { i++; continue; }
      // A packet: find the unescaped '#' and two checksum digits.
      let j = i + 1;
      while (j < b.length && b[j] !== 0x23) j += b[j] === 0x7d ? 2 : 1;
      if (j + 2 >= b.length) {
        if (b.length - i > MAX_PACKET + 4) { i = b.length; break; }   // runaway: drop it
        break;                                                        // incomplete: wait
      }
      const body = b.subarray(i + 1, j);
      const want = parseInt(b.subarray(j + 1, j + 3).toString('latin1'), 16);
      out.push({ kind: 'packet', data: Buffer.from(body), ok: want === checksum(body) });
      i = j + 3;
    }
    this.buf = i >= b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(i));
    return out;
  }

  /** True while part of a packet is buffered. */
  get pending(): boolean { return this.buf.length > 0; }
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Bytes of an even-length hex string; undefined if it is not hex. */
export function fromHex(s: string): Buffer | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  return Buffer.from(s, 'hex');
}

/** A hex number as the protocol writes it (no prefix, any case); undefined if malformed. */
export function parseHexNumber(s: string): number | undefined {
  if (!/^[0-9a-fA-F]{1,16}$/.test(s)) return undefined;
  const v = parseInt(s, 16);
  return Number.isSafeInteger(v) ? v : undefined;
}

/** A hex string as a 64-bit bigint; undefined if malformed. */
export function parseHexBig(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F]{1,16}$/.test(s)) return undefined;
  return BigInt('0x' + s);
}

/** Text as hex (qRcmd output, `O` packets). */
export function hexText(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex');
}
