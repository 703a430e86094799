/**
 * Scalar building blocks of the quantizers, shared by quantize.ts (reference), metrics.ts and the fault zoo, and
 * mirrored line for line by native/src/quant.cc:
 *
 *   rne            round half to even (C++: std::nearbyint under the default rounding mode)
 *   SCALE_CODECS   scale dtype <-> bits: fp32 (16 significant bits, see below), fp16, bf16 — reusing dtypes.ts
 *   NF4            the QLoRA NF4 table and its decision midpoints
 *   e4m3*          FP8 E4M3FN encode (round to nearest even, saturating at ±448) / decode
 *
 * Arithmetic convention (TS and C++ alike): weights are float32; every quantity derived from them (range, ideal
 * scale, w / s, zero point) is computed in float64 and rounded once, explicitly, where it is stored: the scale to
 * its dtype (via float32: double -> float -> dtype, the same two steps in both languages), codes by rne, and
 * dequantized weights by a single double -> float32 rounding.
 *
 * Why fp32 scales keep 16 significant bits: a bit-exact round trip (quantize(dequantize(q)) == q) needs the
 * dequantized values code * scale to be exact, so that the requantizer sees absmax = 127 * s exactly and recovers s.
 * A code has at most 8 significant bits; fp16 (11) and bf16 (8) scales fit beside it in float32's 24, a full fp32
 * scale (24) does not. Rounding fp32 scales to 16 significant bits (relative error <= 2^-17, 1000x below the int8
 * step) makes code * scale exact for every format. NF4 table values are full float32, so NF4 dequantization rounds;
 * its round trip holds because the NF4 decision midpoints are far from the table values (see quantize.ts).
 */
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../formats/dtypes.js';
import type { ScaleDType } from './spec.js';

/**
 * Round half to even. `x` is any finite double.
 * @example
 * rne(2.5) // 2
 */
export function rne(x: number): number {
  const f = Math.floor(x);
  const d = x - f; // exact for |x| < 2^52; larger x are already integers (d = 0)
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

// ---- scale dtypes

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A scale storage dtype as bits: positive values only (scales are >= 0). */
export interface ScaleCodec {
  /** Nearest representable positive value (or 0, or the infinity bits) of a non-negative double, as bits. */
  toBits(x: number): number;
  fromBits(bits: number): number;
  /** Bits of the smallest positive (subnormal) value. Adding/subtracting `step` moves one value up/down. */
  readonly minBits: number;
  readonly step: number;
  /** Bits of the largest finite value; bits >= infBits is infinite. */
  readonly maxBits: number;
  readonly infBits: number;
  /** Bits below this are subnormal (reduced precision). */
  readonly normalBits: number;
}

/** float32 bits of fround(x) (x >= 0), rounded to 16 significant bits, nearest-even on the 8 dropped bits. */
function snapF32Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000) return b; // inf (scales are never NaN)
  return ((b + 0x7f + ((b >>> 8) & 1)) & 0xffffff00) >>> 0; // may carry into the exponent, up to +inf: fine
}

function f32FromBits(bits: number): number {
  u32[0] = bits;
  return f32[0]!;
}

export const SCALE_CODECS: Readonly<Record<ScaleDType, ScaleCodec>> = {
  fp32: { toBits: snapF32Bits, fromBits: f32FromBits, minBits: 0x100, step: 0x100, maxBits: 0x7f7fff00, infBits: 0x7f800000, normalBits: 0x00800000 },
  fp16: { toBits: f32ToF16, fromBits: f16ToF32, minBits: 1, step: 1, maxBits: 0x7bff, infBits: 0x7c00, normalBits: 0x0400 },
  bf16: { toBits: f32ToBf16, fromBits: bf16ToF32, minBits: 1, step: 1, maxBits: 0x7f7f, infBits: 0x7f80, normalBits: 0x0080 },
};

/** Spacing of the scale dtype's grid just above the value with these bits. */
export function scaleUlp(dt: ScaleDType, bits: number): number {
  const c = SCALE_CODECS[dt];
  if (bits >= c.maxBits) return c.fromBits(c.maxBits) - c.fromBits(c.maxBits - c.step);
  return c.fromBits(bits + c.step) - c.fromBits(bits);
}

// ---- NF4 (QLoRA, Dettmers et al. 2023; values as bitsandbytes' NF4 table, stored as float32)

export const NF4: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);
/** NF4_MID[i] = (NF4[i] + NF4[i+1]) / 2 in double (exact). */
export const NF4_MID: Float64Array = Float64Array.from({ length: 15 }, (_, i) => (NF4[i]! + NF4[i + 1]!) / 2);

/** NF4 index of x: the number of midpoints strictly below x (ties go to the lower value, as bitsandbytes). */
export function nf4Encode(x: number): number {
  let q = 0;
  while (q < 15 && x > NF4_MID[q]!) q++;
  return q;
}

// ---- FP8 E4M3FN (OCP 8-bit FP): bias 7, 3 mantissa bits, no infinities, 0x7f/0xff NaN, max 448 = 0x7e.

/** Decoded value of every E4M3FN byte (NaN for 0x7f, 0xff). */
export const E4M3: Float64Array = (() => {
  const t = new Float64Array(256);
  for (let b = 0; b < 256; b++) {
    const e = (b >> 3) & 0xf;
    const m = b & 7;
    let v = e === 0 ? m * 2 ** -9 : (1 + m / 8) * 2 ** (e - 7);
    if ((b & 0x7f) === 0x7f) v = NaN;
    t[b] = b & 0x80 ? -v : v;
  }
  return t;
})();
export const E4M3_MAX = 448;

/**
 * E4M3FN bits of x: round to nearest even, saturating to ±448 (no NaN for finite input); -0 keeps its sign.
 * @example
 * e4m3Encode(1.0) // 0x38
 */
export function e4m3Encode(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a >= E4M3_MAX) return sign | 0x7e;
  if (a < 2 ** -6) return sign | rne(a * 512); // subnormals: multiples of 2^-9; 8 -> 0x08 = 2^-6 (carries right)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const bits = ((e + 7) << 3) + rne((a / 2 ** e - 1) * 8); // mantissa 8 carries into the exponent
  return sign | Math.min(bits, 0x7e);
}
