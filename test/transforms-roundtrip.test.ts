/**
 * Transforms are exact inverses (every 16-bit pattern, random f32 data), put the bits where the header says, and
 * entropy / bound arithmetic is right on inputs whose entropy is known by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyTransform,
  bf16ExponentMerge,
  bf16ExponentSplit,
  byteplaneMerge,
  byteplaneSplit,
  invertTransform,
  transformPlanes,
  TRANSFORMS,
} from '../src/codec/transforms.js';
import { byteHistogram, entropyBoundBytes, entropyOfHistogram, entropyReport, mergePlanes, shannonEntropy } from '../src/codec/entropy.js';
import { CodecLLMError } from '../src/messages.js';
import { f32ToBf16 } from '../src/formats/dtypes.js';
import { normalRng } from '../src/model/synthetic.js';

function throwsExact(fn: () => unknown, code: string, message: string) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CodecLLMError, `expected CodecLLMError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.message, message);
    return true;
  });
}

/** Every 16-bit pattern, little-endian. */
const all16 = new Uint8Array(new Uint16Array(Array.from({ length: 65536 }, (_, i) => i)).buffer);

test('byteplane (k=2) and exponent-split invert exactly on all 65536 16-bit patterns', () => {
  for (const t of ['byteplane', 'exponent-split'] as const) {
    const fwd = applyTransform(t, all16, 2, 'bf16');
    assert.equal(fwd.length, all16.length);
    assert.notDeepEqual(fwd, all16, `${t} must move bytes`);
    assert.deepEqual(invertTransform(t, fwd, 2, 'bf16'), all16, t);
  }
  assert.deepEqual(byteplaneMerge(byteplaneSplit(all16, 2), 2), all16);
  assert.deepEqual(bf16ExponentMerge(bf16ExponentSplit(all16)), all16);
});

test('byteplane k=4 and k=8 invert exactly on random bytes of several lengths', () => {
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24) & 255;
  for (const k of [4, 8]) {
    for (const n of [0, 1, 7, 1000]) {
      const d = Uint8Array.from({ length: n * k }, rnd);
      const f = applyTransform('byteplane', d, k, k === 4 ? 'f32' : 'f64');
      assert.deepEqual(invertTransform('byteplane', f, k, k === 4 ? 'f32' : 'f64'), d, `k=${k} n=${n}`);
    }
  }
});

test('byteplane puts the most significant byte first; exponent-split isolates the 8 exponent bits', () => {
  // two bf16 values: 1.0 = 0x3f80 and -2.5 = 0xc020 (little-endian bytes 80 3f 20 c0)
  const b = new Uint8Array([0x80, 0x3f, 0x20, 0xc0]);
  assert.deepEqual([...byteplaneSplit(b, 2)], [0x3f, 0xc0, 0x80, 0x20]);
  // exponents: 1.0 -> 127, -2.5 -> 128; sign+mantissa: 0x00 and 0x80 | 0x20
  assert.deepEqual([...bf16ExponentSplit(b)], [127, 128, 0x00, 0xa0]);
  // f32 1.0 = 0x3f800000 -> planes [3f][80][00][00]
  const f = new Uint8Array(new Float32Array([1]).buffer);
  assert.deepEqual([...byteplaneSplit(f, 4)], [0x3f, 0x80, 0x00, 0x00]);
  // exponent plane of every bf16 pattern equals (bits >> 7) & 0xff
  const e = bf16ExponentSplit(all16);
  for (let i = 0; i < 65536; i += 97) assert.equal(e[i], (i >> 7) & 0xff);
});

test('transform misuse: one-line errors', () => {
  throwsExact(() => applyTransform('exponent-split', new Uint8Array(4), 2, 'f16'), 'E_ARG', "transform 'exponent-split' applies to bf16 only, got f16");
  throwsExact(() => applyTransform('byteplane', new Uint8Array(4), 1, 'i8'), 'E_ARG', "transform 'byteplane' needs elements of 2, 4 or 8 bytes (f16, bf16, f32, f64), got i8");
  throwsExact(() => applyTransform('byteplane', new Uint8Array(5), 2, 'bf16'), 'E_ARG', "transform 'byteplane' needs a whole number of 2-byte elements, got 5 bytes");
  throwsExact(() => applyTransform('rot13' as never, new Uint8Array(4), 2, 'bf16'), 'E_ARG', "transform 'rot13' is not a transform (known: none, byteplane, exponent-split)");
  assert.deepEqual(TRANSFORMS, ['none', 'byteplane', 'exponent-split']); // append-only: ids are in files
});

test('planes of each transform cover the stream', () => {
  assert.deepEqual(transformPlanes('none', 10, 2, 'bf16'), [{ name: 'bytes', offset: 0, length: 10 }]);
  const p = transformPlanes('byteplane', 16, 4, 'f32');
  assert.deepEqual(p.map((x) => [x.offset, x.length]), [[0, 4], [4, 4], [8, 4], [12, 4]]);
  assert.deepEqual(transformPlanes('exponent-split', 8, 2, 'bf16').map((x) => x.name), ['bf16 exponent', 'bf16 sign+mantissa']);
});

test('entropy: known values by hand', () => {
  assert.equal(shannonEntropy(new Uint8Array(100)), 0);
  assert.equal(shannonEntropy(new Uint8Array([0, 1, 2, 3])), 2);
  assert.equal(shannonEntropy(Uint8Array.from({ length: 256 }, (_, i) => i)), 8);
  // p = (1/2, 1/4, 1/4): H = 1.5
  assert.equal(shannonEntropy(new Uint8Array([7, 7, 8, 9])), 1.5);
  assert.equal(entropyBoundBytes(new Uint8Array([7, 7, 8, 9])), (4 * 1.5) / 8);
  assert.equal(entropyOfHistogram([]), 0);
  assert.equal(byteHistogram(new Uint8Array([1, 1, 2]))[1], 2);
  // planes: [0,0,0,0 | 0,1,2,3] -> plane bounds 0 and 1 byte; the whole stream (one histogram) has H = 1.5488...
  const r = entropyReport(new Uint8Array([0, 0, 0, 0, 0, 1, 2, 3]), [
    { name: 'a', offset: 0, length: 4 },
    { name: 'b', offset: 4, length: 4 },
  ]);
  assert.equal(r.planes[0]!.bits, 0);
  assert.equal(r.planes[1]!.bits, 2);
  assert.equal(r.boundBytes, 1);
  const p0 = 5 / 8, p1 = 1 / 8;
  assert.ok(Math.abs(r.bits - -(p0 * Math.log2(p0) + 3 * p1 * Math.log2(p1))) < 1e-12);
  const m = mergePlanes([r.planes, r.planes]);
  assert.deepEqual(m.map((x) => [x.name, x.bytes, x.bits, x.boundBytes]), [['a', 8, 0, 0], ['b', 8, 2, 2]]);
});

test('bf16 of Gaussian weights: exponent plane entropy ~2.6-2.8 bits, far below the sign+mantissa plane', () => {
  const rnd = normalRng(3);
  const n = 1 << 16;
  const u = new Uint16Array(n);
  for (let i = 0; i < n; i++) u[i] = f32ToBf16(0.02 * rnd());
  const planes = applyTransform('exponent-split', new Uint8Array(u.buffer), 2, 'bf16');
  const r = entropyReport(planes, transformPlanes('exponent-split', planes.length, 2, 'bf16'));
  // a Gaussian's exponent: ~2.6-2.7 bits (DFloat11's observation on trained weights, which are near Gaussian)
  assert.ok(r.planes[0]!.bits > 2.4 && r.planes[0]!.bits < 2.9, `exponent H = ${r.planes[0]!.bits}`);
  assert.ok(r.planes[1]!.bits > 7.9, `sign+mantissa H = ${r.planes[1]!.bits}`);
});
