/** ELF parsing: real guests and hand-made malformed headers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseElf, ElfError, ET_EXEC, ET_DYN, PT_LOAD, MAX_PHDRS_SIZE } from '../../src/elf/elf';

const G = (n: string) => path.resolve(__dirname, '..', '..', '..', 'test', 'guests', n);

/** A minimal valid ELF64 x86-64 header with one PT_LOAD, to mutate. */
function header(): Buffer {
  const b = Buffer.alloc(64 + 56 + 16);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeUInt16LE(ET_EXEC, 16); b.writeUInt16LE(62, 18); b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(0x401000n, 24); b.writeBigUInt64LE(64n, 32);
  b.writeUInt16LE(64, 52); b.writeUInt16LE(56, 54); b.writeUInt16LE(1, 56);
  b.writeUInt32LE(PT_LOAD, 64); b.writeUInt32LE(5, 68); b.writeBigUInt64LE(0n, 72);
  b.writeBigUInt64LE(0x400000n, 80); b.writeBigUInt64LE(BigInt(b.length), 96); b.writeBigUInt64LE(BigInt(b.length), 104);
  return b;
}

test('parses the static test guests', () => {
  const e = parseElf(fs.readFileSync(G('hello')));
  assert.equal(e.type, ET_EXEC);
  assert.equal(e.interp, undefined);
  assert.ok(e.phdrs.some((p) => p.type === PT_LOAD));
  assert.equal(parseElf(fs.readFileSync(G('hello_pie'))).type, ET_DYN);
  assert.match(parseElf(fs.readFileSync(G('hello_dyn'))).interp ?? '', /ld-linux/);
});

test('a minimal header parses', () => {
  const e = parseElf(header());
  assert.equal(e.entry, 0x401000);
  assert.equal(e.phnum, 1);
});

test('malformed files get one-line errors', () => {
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.from('#!/bin/sh\necho hi\n'), /not an ELF executable/],
    [header().subarray(0, 40), /truncated ELF file/],
    [header().subarray(0, 100), /program headers past the end/],
    [(() => { const b = header(); b[4] = 1; return b; })(), /32-bit/],
    [(() => { const b = header(); b[5] = 2; return b; })(), /big-endian/],
    [(() => { const b = header(); b.writeUInt16LE(183, 18); return b; })(), /built for AArch64, not x86-64/],
    [(() => { const b = header(); b.writeUInt16LE(1, 16); return b; })(), /relocatable object/],
    [(() => { const b = header(); b.writeUInt16LE(0, 56); return b; })(), /no program headers/],
    [(() => { const b = header(); b.writeBigUInt64LE(1000n, 96); return b; })(), /segment 0 past the end/],
    [(() => { const b = header(); b.writeBigUInt64LE(0xffffffffffffffffn, 24); return b; })(), /out of range/],
  ];
  for (const [bytes, msg] of cases) {
    assert.throws(() => parseElf(bytes), (e: Error) => e instanceof ElfError && msg.test(e.message) && !e.message.includes('\n'), String(msg));
  }
});

test('the program header table is capped at 64 KiB, as Linux does', () => {
  const max = Math.floor(MAX_PHDRS_SIZE / 56);
  // One header too many is refused before anything is read (the file is not even that long).
  const over = header();
  over.writeUInt16LE(max + 1, 56);
  assert.throws(() => parseElf(over), (e: Error) => e instanceof ElfError && /too many program headers \(1171; at most 1170/.test(e.message));
  assert.throws(() => { const b = header(); b.writeUInt16LE(65535, 56); parseElf(b); }, /too many program headers/);
  // The largest table accepted parses: one PT_LOAD then PT_NULL entries.
  const b = Buffer.alloc(64 + max * 56);
  header().copy(b, 0, 0, 64 + 56);
  b.writeUInt16LE(max, 56);
  b.writeBigUInt64LE(BigInt(b.length), 96); b.writeBigUInt64LE(BigInt(b.length), 104);
  const e = parseElf(b);
  assert.equal(e.phdrs.length, max);
});

test('.eh_frame gives the same function ranges as the symbol table, and survives strip', () => {
  const { parseEhFrame, parseSymbols, STT_FUNC } = require('../../src/elf/elf') as typeof import('../../src/elf/elf');
  const image = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'test', 'guests', 'hello'));
  const fdes = parseEhFrame(image);
  const funcs = new Map(parseSymbols(image).filter((s) => s.type === STT_FUNC).map((s) => [s.value, s.size]));
  // musl is built without unwind tables: only the program's own functions have FDEs.
  assert.ok(fdes.length >= 1, `${fdes.length} FDEs`);
  // Every FDE is a function of the symbol table, with its size.
  for (const f of fdes) assert.equal(funcs.get(f.value), f.size, `FDE at 0x${f.value.toString(16)}`);
  const stripped = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'test', 'guests', 'hello_glibc'));
  assert.deepEqual(parseSymbols(stripped), []);
  assert.ok(parseEhFrame(stripped).length > 500);
  assert.deepEqual(parseEhFrame(new Uint8Array(64)), []);
});
