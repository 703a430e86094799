/** binary.ts: bounds-checked reads, checked arithmetic, printable names, growing-prefix parsing, atomic writes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BinaryReader, ByteWriter, NeedMoreBytes, addU64, alignUp, bufferSource, mulU64, parseWithGrowingPrefix, printable, safeAdd, safeMul,
  toSafe, writeFileAtomic, type ParseCtx,
} from '../src/formats/binary.js';
import { CodecLLMError } from '../src/messages.js';

const ctx: ParseCtx = { file: 'x.bin', code: 'E_FORMAT' };

test('reader: little-endian values, then a one-line truncation error naming the file', () => {
  const b = new ByteWriter().u8(0xfe).i8(-2).u16(0xbeef).i16(-3).u32(0xdeadbeef).i32(-4).u64((1n << 64n) - 1n).i64(-5n).f32(1.5).f64(-2.25).string('héllo').finish();
  const r = new BinaryReader(b, ctx);
  assert.deepEqual(
    [r.u8('a'), r.i8('a'), r.u16('a'), r.i16('a'), r.u32('a'), r.i32('a'), r.u64('a'), r.i64('a'), r.f32('a'), r.f64('a'), r.string(100, 's')],
    [0xfe, -2, 0xbeef, -3, 0xdeadbeef, -4, (1n << 64n) - 1n, -5n, 1.5, -2.25, 'héllo'],
  );
  assert.equal(r.remaining, 0);
  assert.throws(() => r.u32('tensor count'), { code: 'E_FORMAT', message: 'x.bin: truncated: tensor count needs 4 bytes at offset, only 0 available' });
  const s = new BinaryReader(new ByteWriter().string('toolong').finish(), ctx);
  assert.throws(() => s.string(3, 'name'), { code: 'E_FORMAT', message: 'x.bin: name length 7 exceeds limit 3' });
  const t = new BinaryReader(new ByteWriter().u64(1n << 62n).finish(), ctx);
  assert.throws(() => t.bytesN(-1, 'n'), { message: 'x.bin: truncated: n needs -1 bytes at offset, only 8 available' });
});

test('reader: a read past the in-memory prefix but inside the file asks for more bytes', () => {
  const r = new BinaryReader(new Uint8Array(4), ctx, 100);
  r.u32('a');
  assert.throws(() => r.u32('b'), (e: unknown) => e instanceof NeedMoreBytes && e.need === 8);
  assert.throws(() => new BinaryReader(new Uint8Array(4), ctx, 6).u64('c'), { message: 'x.bin: truncated: c needs 8 bytes at offset, only 6 available' });
  const data = new ByteWriter().u32(3).bytes(new Uint8Array(5000).fill(7)).finish();
  const src = bufferSource(data, 'y.bin');
  let calls = 0;
  const out = parseWithGrowingPrefix(src, 16, (prefix) => {
    calls++;
    const rr = new BinaryReader(prefix, ctx, src.size);
    rr.u32('n');
    return rr.bytesN(5000, 'body').every((v) => v === 7);
  });
  assert.equal(out, true);
  assert.ok(calls >= 2 && calls <= 10, `re-parsed ${calls} times`);
});

test('checked arithmetic', () => {
  assert.equal(safeAdd(ctx, 2 ** 52, 2 ** 52 - 1, 'x'), 2 ** 53 - 1);
  assert.throws(() => safeAdd(ctx, 2 ** 53, 1, 'end of w'), { message: 'x.bin: arithmetic overflow computing end of w' });
  assert.throws(() => safeMul(ctx, 2 ** 27, 2 ** 27, 'n'), { message: 'x.bin: arithmetic overflow computing n' });
  assert.equal(addU64(ctx, (1n << 64n) - 2n, 1n, 'x'), (1n << 64n) - 1n);
  assert.throws(() => addU64(ctx, (1n << 64n) - 1n, 1n, 'x'), CodecLLMError);
  assert.throws(() => mulU64(ctx, 1n << 32n, 1n << 32n, 'x'), CodecLLMError);
  assert.equal(toSafe(ctx, 5n, 'c', 10), 5);
  assert.throws(() => toSafe(ctx, 11n, 'count', 10), { message: 'x.bin: count 11 exceeds limit 10' });
  assert.equal(alignUp(ctx, 33, 32, 'x'), 64);
  assert.equal(alignUp(ctx, 64, 32, 'x'), 64);
});

test('printable escapes line breaks and control characters and cuts long names', () => {
  assert.equal(printable('model.layers.0.weight'), 'model.layers.0.weight');
  assert.equal(printable('a\nb\u2028c\u0000\u202e'), 'a\\u000ab\\u2028c\\u0000\\u202e');
  assert.equal(printable('x'.repeat(100), 10), `${'x'.repeat(10)}…`);
  assert.ok(!/\s/.test(printable('\r\n\t\v\f\u0085').replace(/ /g, '')));
});

test('writeFileAtomic replaces the file whole and leaves no temp file; a failed write keeps the old file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-bin-'));
  const f = path.join(dir, 'out.bin');
  fs.writeFileSync(f, 'old');
  writeFileAtomic(f, [new Uint8Array([1, 2]), new Uint8Array([3])]);
  assert.deepEqual([...fs.readFileSync(f)], [1, 2, 3]);
  const boom: Iterable<Uint8Array> = { *[Symbol.iterator]() { yield new Uint8Array([9]); throw new Error('boom'); } };
  assert.throws(() => writeFileAtomic(f, boom), /boom/);
  assert.deepEqual([...fs.readFileSync(f)], [1, 2, 3]);
  assert.deepEqual(fs.readdirSync(dir), ['out.bin']);
  fs.rmSync(dir, { recursive: true });
});
