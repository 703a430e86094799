/**
 * Lossless bf16/fp16 weight streams (CLLW v1, native/src/common/lossless.h; issue 14):
 *   - the TS constants (LOSSLESS_LAYOUT) equal the header's (addon losslessLayout());
 *   - the TS split (losslessSplit) is the native one: the code table has a length exactly for the symbols TS finds;
 *   - bit-exact round trip through the native encoder and reference decoder on seeded random bf16/fp16 tensors of
 *     several shapes and segment sizes, special values, and a skewed symbol distribution that forces the 12-bit
 *     length limit;
 *   - real weights: tensors of the default model (SmolLM2-135M Q4_1 GGUF, so 4-bit-derived values) cast to bf16;
 *   - hostile input: bad magic, truncation, a corrupt code table, flipped code / raw bytes -> E_CODEC, one line.
 * The GPU decoder and GEMV are checked by codecllm_gpu_twins case lossless_gemv (native/test/gpu_twins.cc), run by
 * scripts/gpu/check-engine.ts --part kernels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LOSSLESS_LAYOUT, losslessBound, losslessDecode, losslessEncode, losslessInfo, losslessSplit, type LosslessDtype } from '../src/codec/lossless.js';
import { f32ToBf16, f32ToF16 } from '../src/formats/dtypes.js';
import { loadNative } from '../src/native/addon.js';
import { DEFAULT_MODEL_FILE, openCheckpoint } from '../src/model/checkpoint.js';
import { dataDir } from '../src/util/paths.js';
import { rng } from '../src/util/random.js';

const addon = loadNative();
const skip = addon?.losslessLayout ? false : 'native addon without lossless streams (bash scripts/build-native.sh)';

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
}
function randomWords(dtype: LosslessDtype, n: number, seed: number, scale = 0.02): Uint16Array {
  const r = rng(seed);
  const w = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const v = normal(r) * scale;
    w[i] = dtype === 'bf16' ? f32ToBf16(v) : f32ToF16(v);
  }
  return w;
}
function firstDiff(a: Uint16Array, b: Uint16Array): string {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return `first mismatch at ${i}: ${a[i]} vs ${b[i]}`;
  return a.length === b.length ? 'equal' : `length ${a.length} vs ${b.length}`;
}
function roundTrip(dtype: LosslessDtype, rows: number, cols: number, w: Uint16Array, rps?: number): Uint8Array {
  const s = losslessEncode(dtype, rows, cols, w, rps);
  const back = losslessDecode(s, 'test');
  assert.ok(back.length === w.length && Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(w.buffer, w.byteOffset, w.byteLength)), `${dtype} ${rows}x${cols} rps=${rps}: ${firstDiff(back, w)}`);
  return s;
}

test('LOSSLESS_LAYOUT equals the native header constants', { skip }, () => {
  assert.deepEqual(addon!.losslessLayout!(), { ...LOSSLESS_LAYOUT });
});

test('TS split = native split: code lengths exist exactly for the symbols TS finds', { skip }, () => {
  for (const dtype of ['bf16', 'f16'] as const) {
    const w = randomWords(dtype, 64 * 32, 7, 0.5);
    const seen = new Set<number>();
    for (const x of w) seen.add(losslessSplit(dtype, x).sym);
    const info = losslessInfo(losslessEncode(dtype, 64, 32, w));
    const coded = new Set(info.lengths.flatMap((l, s) => (l > 0 ? [s] : [])));
    assert.deepEqual([...coded].sort((a, b) => a - b), [...seen].sort((a, b) => a - b), dtype);
    assert.ok(info.maxCodeLen <= LOSSLESS_LAYOUT.maxCodeLen);
    assert.equal(info.totalBytes, info.tableBytes + info.codeBytes + info.rawBytes);
  }
});

test('round trip is bit-exact on seeded random bf16/fp16 tensors of several shapes and segment sizes', { skip }, () => {
  const shapes: [number, number][] = [[1, 8], [3, 8], [5, 264], [17, 1024], [33, 2056], [64, 512]];
  let seed = 1;
  for (const dtype of ['bf16', 'f16'] as const)
    for (const [rows, cols] of shapes)
      for (const rps of [1, 4, 7, 64]) roundTrip(dtype, rows, cols, randomWords(dtype, rows * cols, seed++), rps);
});

test('round trip keeps special values and survives the 12-bit length limit', { skip }, () => {
  // every 16-bit pattern once: NaNs, infinities, subnormals, ±0 — 256 symbols, near-uniform
  const all = new Uint16Array(65536).map((_, i) => i);
  for (const dtype of ['bf16', 'f16'] as const) roundTrip(dtype, 256, 256, all, 4);
  // geometric symbol frequencies: plain Huffman would need codes far longer than 12 bits
  const w: number[] = [];
  for (let s = 0; s < 40; s++) for (let k = 0; k < Math.max(1, 1 << Math.max(0, 20 - s)) && w.length < (1 << 21); k++) w.push((s << 7) | (k & 0x7f));
  while (w.length % 64) w.push(0);
  const words = Uint16Array.from(w);
  const s = roundTrip('bf16', words.length / 64, 64, words, 8);
  const info = losslessInfo(s);
  assert.equal(info.maxCodeLen, LOSSLESS_LAYOUT.maxCodeLen, 'the skewed input must hit the length limit');
});

test('ratio on N(0, 0.02) bf16 is near the order-0 bound of the layout', { skip }, () => {
  const rows = 256, cols = 1024;
  const w = randomWords('bf16', rows * cols, 99);
  const b = losslessBound('bf16', w);
  // overhead over the bound = Huffman (~0.05 bit/weight here) + lane padding to the longest lane of a segment (shrinks
  // with rowsPerSeg: measured ~0.1 bit at 64 rows, ~0.2 at 4, ~0.45 at 1) + tables
  for (const [rps, within] of [[64, 1.02], [4, 1.06]] as const) {
    const s = roundTrip('bf16', rows, cols, w, rps);
    assert.ok(s.length <= b.layoutBytes * within, `rowsPerSeg ${rps}: stream ${s.length} B vs layout bound ${b.layoutBytes.toFixed(0)} B (> ${within}×)`);
    assert.ok(s.length < w.byteLength * 0.72, `rowsPerSeg ${rps}: ratio ${(s.length / w.byteLength).toFixed(4)}`);
  }
});

const model = path.join(dataDir(), 'models', DEFAULT_MODEL_FILE);
const modelSkip = skip || (fs.existsSync(model) ? false : `default model not found at ${model}`);
test('round trip is bit-exact on the default model tensors cast to bf16 / fp16 (4-bit-derived values)', { skip: modelSkip }, () => {
  const ck = openCheckpoint(model);
  // four 2-D tensors of different roles and sizes (the 28 M-weight embedding table is left out to keep the test short)
  const names = ck.weights.list().filter((t) => t.shape.length === 2 && t.shape[0]! * t.shape[1]! <= 2_000_000).slice(0, 4);
  assert.ok(names.length > 0);
  for (const t of names) {
    assert.ok(t.shape[1]! % 8 === 0, `${t.name}: columns not a multiple of 8`);
    const cols = t.shape[t.shape.length - 1]!;
    const rows = t.shape.reduce((a, b) => a * b, 1) / cols;
    const f = ck.weights.readF32(t.name);
    for (const dtype of ['bf16', 'f16'] as const) {
      const w = new Uint16Array(f.length);
      for (let i = 0; i < f.length; i++) w[i] = dtype === 'bf16' ? f32ToBf16(f[i]!) : f32ToF16(f[i]!);
      roundTrip(dtype, rows, cols, w, 4);
    }
  }
});

test('hostile streams fail with E_CODEC and one line, never a crash', { skip }, () => {
  const w = randomWords('bf16', 16 * 64, 5);
  const good = losslessEncode('bf16', 16, 64, w);
  const cases: [string, (s: Uint8Array) => Uint8Array, RegExp][] = [
    ['bad magic', (s) => ((s[0] = 0x41), s), /magic/],
    ['truncated', (s) => s.subarray(0, s.length - 1), /size mismatch/],
    ['truncated header', (s) => s.subarray(0, 40), /truncated/],
    ['version', (s) => ((s[4] = 9), s), /version/],
    ['Kraft > 1', (s) => (s.fill(1, LOSSLESS_LAYOUT.headerBytes, LOSSLESS_LAYOUT.headerBytes + 256), s), /code table/],
    ['code byte flipped', (s) => ((s[LOSSLESS_LAYOUT.headerBytes + 256 + 16 * 4 + 3]! ^= 0x10), s), /checksum mismatch in the code area/],
    ['raw byte flipped', (s) => ((s[s.length - 5]! ^= 1), s), /checksum mismatch in the raw area/],
    ['segment offset', (s) => ((s[LOSSLESS_LAYOUT.headerBytes + 256 + 16]! ^= 1), s), /segment table/],
    ['huge codeWords', (s) => ((s[39] = 0x7f), s), /code area too large|size mismatch/],
  ];
  for (const [name, mutate, re] of cases) {
    const s = mutate(Uint8Array.from(good));
    assert.throws(
      () => losslessDecode(s, 'hostile.cllw'),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_CODEC', `${name}: ${e.message}`);
        assert.match(e.message, re, name);
        assert.ok(!e.message.includes('\n'), `${name}: one line`);
        return true;
      },
      name,
    );
  }
  assert.throws(() => losslessEncode('bf16', 3, 12, new Uint16Array(36)), (e: Error & { code?: string }) => e.code === 'E_ARG');
  assert.throws(() => losslessEncode('bf16', 3, 8, new Uint16Array(23)), (e: Error & { code?: string }) => e.code === 'E_ARG');
});
