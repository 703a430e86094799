import assert from 'node:assert/strict';
import { test } from 'node:test';

import { f32ToF16 } from '../src/formats/dtypes.js';
import { isCodecError } from '../src/messages.js';
import { E4M3, NF4, e4m3Encode, nf4Encode, rne } from '../src/quant/numerics.js';
import { type QuantizedTensor, dequantize, quantize, scaleBits, scaleValues, storedCode, zeroAt } from '../src/quant/quantize.js';
import { formatSpec, parseSpec } from '../src/quant/spec.js';
import { KINDS, SHAPES, allSpecs, makeWeights } from './quant-helpers.js';

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** quantize(dequantize(q)) must give the same codes, scale bits and zero points. */
function assertRoundTrip(q: QuantizedTensor, label: string): void {
  const q2 = quantize(dequantize(q), q.shape, q.spec);
  const dc = firstDiff(q.codes, q2.codes);
  const ds = firstDiff(scaleBits(q), scaleBits(q2));
  const dz = firstDiff(q.zeros ?? [], q2.zeros ?? []);
  if (dc !== -1 || ds !== -1 || dz !== -1) {
    const g = ds >= 0 ? ds : 0;
    assert.fail(
      `${label}: round trip differs: code@${dc} (${q.codes[dc]} vs ${q2.codes[dc]}), scale@${ds} ` +
        `(${scaleValues(q)[g]} vs ${scaleValues(q2)[g]}), zero@${dz}`,
    );
  }
}

test('rne, e4m3Encode, nf4Encode: known values', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, -3.5000001].map(rne), [0, 2, 2, 0, -2, -2, 2, -4]);
  assert.equal(e4m3Encode(1), 0x38);
  assert.equal(e4m3Encode(448), 0x7e);
  assert.equal(e4m3Encode(1e9), 0x7e);
  assert.equal(e4m3Encode(-1e9), 0xfe);
  assert.equal(e4m3Encode(17), 0x58); // 17 = 16 * 1.0625: tie between 16 and 18 -> even mantissa (16)
  assert.equal(e4m3Encode(19), 0x5a); // tie between 18 and 20 -> 20 (m=2)
  assert.equal(e4m3Encode(2 ** -9), 0x01);
  assert.equal(e4m3Encode(2 ** -10), 0x00); // tie to even: 0
  assert.equal(e4m3Encode(-0), 0x80);
  assert.equal(e4m3Encode(0.0175), 0x09); // subnormal-normal boundary region: 0.0175 ~ 2^-6 * 1.12 -> m=1
  for (let b = 0; b < 256; b++) if ((b & 0x7f) !== 0x7f) assert.equal(e4m3Encode(E4M3[b]!), b, `E4M3 byte ${b}`);
  for (let q = 0; q < 16; q++) assert.equal(nf4Encode(NF4[q]!), q);
  assert.equal(nf4Encode(0.04), 8);
  assert.equal(nf4Encode(0.039), 7);
  assert.equal(nf4Encode(-5), 0);
  assert.equal(nf4Encode(5), 15);
});

test('quantize int8 per-channel: hand-computed codes and scales', () => {
  // row 0: absmax 1.27 -> s = 0.01 (rounded to 16 significant bits); row 1: all zero
  const w = Float32Array.from([1.27, -0.635, 0.004, 0.006, 0, 0, 0, 0]);
  const q = quantize(w, [2, 4], 'int8:per-channel');
  assert.deepEqual(Array.from(q.codes), [127, -64, 0, 1, 0, 0, 0, 0]); // -63.5 -> -64 (even), 0.4 -> 0, 0.6 -> 1
  const s = scaleValues(q);
  assert.ok(Math.abs(s[0]! - 0.01) < 1e-6);
  assert.equal(s[1], 0);
  assert.equal(q.stats.zeroGroups, 1);
  // fp16 scales: the bits are f32ToF16(1.27 / 127)
  const q16 = quantize(w, [2, 4], 'int8:per-channel:scale=fp16');
  assert.equal(q16.scales[0], f32ToF16(Math.fround(1.27) / 127));
  // asym: row [0.1, 0.2, 0.3, 0.4] -> lo = 0 (range includes 0), s = 0.4/255, z = 0
  const qa = quantize(Float32Array.from([0.1, 0.2, 0.3, 0.4]), [1, 4], 'int8:per-tensor:asym');
  assert.equal(zeroAt(qa, 0), 0);
  assert.deepEqual(Array.from(qa.codes), [64, 128, 191, 255]);
  // int4 sym packing: q + 8, low nibble first
  const q4 = quantize(Float32Array.from([0.7, -0.7, 0.1, 0]), [1, 4], 'int4:per-tensor');
  assert.deepEqual(Array.from(q4.codes), [(1 << 4) | 15, (8 << 4) | 9]);
  assert.deepEqual([0, 1, 2, 3].map((i) => storedCode(q4, i) - 8), [7, -7, 1, 0]);
});

test('bit-exact round trip quantize(dequantize(q)) == q: every scheme x weight kind x shape', () => {
  let seed = 1;
  // groups on the construction's hard paths that the round trip held on (the sweep must reach every one of them)
  const hard = { zeroGroups: 0, scaleUnderflow: 0, scaleOverflow: 0, scaleSubnormal: 0, scaleNudged: 0, clipped: 0 };
  for (const spec of allSpecs()) {
    for (const kind of KINDS) {
      for (const [rows, cols] of SHAPES) {
        const w = makeWeights(kind, rows, cols, seed++);
        const q = quantize(w, [rows, cols], spec);
        assertRoundTrip(q, `${formatSpec(spec)} ${kind} [${rows}, ${cols}] seed ${seed - 1}`);
        for (const k of Object.keys(hard) as (keyof typeof hard)[]) hard[k] += q.stats[k];
      }
    }
  }
  for (const [k, v] of Object.entries(hard)) assert.ok(v > 0, `no ${k} group in the sweep: the round trip is untested there (${JSON.stringify(hard)})`);
});

test('round trip holds where the construction is stressed: asym ties at both ends, nudged scales', () => {
  // lo = -100.5, hi = 154.5: range 255, s = 1; z = rne(100.5) = 100, lo -> 0 but hi -> rne(154.5) + 100 = 254:
  // the span is missed, so the scale is nudged one step down.
  const w = Float32Array.from([-100.5, 154.5, 0, 3.5, -2.5, 77.5]);
  for (const dt of ['fp32', 'fp16', 'bf16']) {
    const q = quantize(w, [1, 6], `int8:per-tensor:asym:scale=${dt}`);
    assert.equal(q.stats.scaleNudged, 1, dt);
    assert.ok(scaleValues(q)[0]! < 1, dt);
    assertRoundTrip(q, `ties ${dt}`);
  }
  // many random asym groups with bf16 scales nudge often; all round-trip
  let nudged = 0;
  for (let seed = 0; seed < 40; seed++) {
    const q = quantize(makeWeights('normal', 16, 256, 1000 + seed), [16, 256], 'int8:group=32:asym:scale=bf16');
    nudged += q.stats.scaleNudged;
    assertRoundTrip(q, `bf16 asym seed ${seed}`);
  }
  assert.ok(nudged > 0);
});

test('fp16 scale underflow, subnormal and overflow: handled, reported, and still round-trip', () => {
  // row 0: absmax 1e-9 (scale 7.9e-12 rounds to 0 in fp16 -> raised to 2^-24); row 1: 1e-4 (subnormal scale);
  // row 2: 1e7 (scale 78740 > 65504 -> clamped, codes saturate); row 3: ordinary
  const cols = 8;
  const mags = [1e-9, 1e-4, 1e7, 0.02];
  const w = new Float32Array(4 * cols);
  for (let r = 0; r < 4; r++) for (let c = 0; c < cols; c++) w[r * cols + c] = mags[r]! * (c % 2 ? -1 : 1) * (1 + c / 8);
  const q = quantize(w, [4, cols], 'int8:per-channel:scale=fp16');
  assert.equal(q.stats.scaleUnderflow, 1);
  assert.equal(q.stats.scaleOverflow, 1);
  assert.equal(q.stats.scaleSubnormal, 1);
  // row 1: ideal = 1.875e-4 / 127 = 24.77 * 2^-24 -> 25 * 2^-24, where the absmax maps to 125.8 -> 126, missing the
  // end code; nudged to 24 * 2^-24 (absmax -> 130.9, saturates at 127)
  assert.equal(f32ToF16(Math.fround(1e-4 * (1 + 7 / 8)) / 127), 25);
  assert.equal(q.stats.scaleNudged, 1);
  assert.equal(q.stats.clipped, 1 + 8); // row 1's absmax; all of row 2 (every |w| >= 1e7 > 127.5 * 65504)
  // row 0 flushed to zero: even the smallest fp16 scale 2^-24 gives all of it code 0
  assert.deepEqual(Array.from(q.scales.slice(0, 3)), [0, 24, 0x7bff]);
  const dq = dequantize(q);
  for (let c = 0; c < cols; c++) assert.equal(dq[c], 0); // 1e-9 / 2^-24 < 0.5
  assertRoundTrip(q, 'fp16 limits');
  // the same weights with fp32 scales need none of it
  const q32 = quantize(w, [4, cols], 'int8:per-channel');
  assert.deepEqual([q32.stats.scaleUnderflow, q32.stats.scaleOverflow, q32.stats.clipped], [0, 0, 0]);
});

test('quantize: E_QUANT on bad shapes, non-finite weights and inconsistent tensors', () => {
  const isQ = (text: string) => (e: unknown) => isCodecError(e, 'E_QUANT') && (e as Error).message === text;
  assert.throws(
    () => quantize(new Float32Array(6), [2, 4], 'int8'),
    isQ('quantize: shape [2, 4] is not a 2-D (rows, cols) shape of positive integers covering the 6 weights'),
  );
  assert.throws(
    () => quantize(new Float32Array(6), [6], 'int8'),
    isQ('quantize: shape [6] is not a 2-D (rows, cols) shape of positive integers covering the 6 weights'),
  );
  const w = new Float32Array(6);
  w[4] = NaN;
  assert.throws(() => quantize(w, [2, 3], 'int8'), isQ('quantize: non-finite weight NaN at [1, 1] (only finite weights can be quantized)'));
  w[4] = -Infinity;
  assert.throws(() => quantize(w, [2, 3], 'int8'), isQ('quantize: non-finite weight -Infinity at [1, 1] (only finite weights can be quantized)'));
  const q = quantize(new Float32Array(6).fill(1), [2, 3], 'int4:per-channel');
  assert.throws(
    () => dequantize({ ...q, codes: new Uint8Array(2) }),
    isQ('quantized tensor is inconsistent: int4:per-channel [2, 3]: codes have 2 bytes, expected 3'),
  );
  assert.throws(() => dequantize({ ...q, shape: [3, 3] }), isQ('quantized tensor is inconsistent: int4:per-channel [3, 3]: codes have 3 bytes, expected 5'));
  assert.throws(
    () => dequantize({ ...q, shape: [0, 3] as unknown as [number, number] }),
    isQ('quantize: shape [0, 3] is not a 2-D (rows, cols) shape of positive integers covering the 0 weights'),
  );
  assert.throws(() => dequantize({ ...q, spec: { ...q.spec, format: 'int3' as 'int4' } }), isQ("invalid quant spec object: format 'int3'"));
  assert.throws(
    () => dequantize({ ...q, scales: new Uint16Array(2) }),
    isQ('quantized tensor is inconsistent: int4:per-channel [2, 3]: scales must be a Float32Array'),
  );
});

test('dequantize error is within s/2 for int8 per-channel on ordinary weights (sanity)', () => {
  const w = makeWeights('normal', 64, 576, 7);
  const q = quantize(w, [64, 576], parseSpec('int8:per-channel'));
  const dq = dequantize(q);
  const s = scaleValues(q);
  for (let r = 0; r < 64; r++)
    for (let c = 0; c < 576; c++) assert.ok(Math.abs(w[r * 576 + c]! - dq[r * 576 + c]!) <= s[r]! / 2 + 1e-12);
});
