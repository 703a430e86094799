/**
 * Checked casts of float32 weights to f32 / f16 / bf16 storage. A value the target cannot hold is never stored
 * silently: fp16 overflows above 65504 (to Inf) and underflows below 2^-24 (to 0); bf16 keeps the f32 exponent
 * range but still overflows within half an ulp of the f32 maximum. Such a tensor is refused (E_NUMERIC, naming the
 * tensor, the count and the largest |value|) unless the caller says what to do:
 *
 *   allowOverflow 'saturate'   clamp to ±max and flush underflows to ±0
 *   allowOverflow 'keep-bf16'  store that tensor as bf16 instead (same exponent range as f32)
 *
 * Non-finite source values (NaN, ±Inf) are always refused, with the tensor and the first offending element named.
 *
 * @example
 * castChecked('m.gguf', 'w', 'f16', new Float32Array([1, 2]))            // { storage: 'f16', data: <4 bytes> }
 * castChecked('m.gguf', 'w', 'f16', new Float32Array([1e6]))             // throws E_NUMERIC
 * castChecked('m.gguf', 'w', 'f16', new Float32Array([1e6]), 'keep-bf16') // { storage: 'bf16', ... }
 */
import { err, msg } from '../messages.js';
import { f32ToBf16, f32ToF16 } from '../formats/dtypes.js';

export const ALLOW_OVERFLOW = ['saturate', 'keep-bf16'] as const;
export type AllowOverflow = (typeof ALLOW_OVERFLOW)[number];
export type CastDType = 'f32' | 'f16' | 'bf16';

/** Largest finite value of each cast dtype. */
export const CAST_MAX: Readonly<Record<CastDType, number>> = { f32: 3.4028234663852886e38, f16: 65504, bf16: 3.3895313892515355e38 };

/**
 * First non-finite element of `v` (-1 when all finite), and how many there are.
 * @example
 * nonFinite(new Float32Array([1, NaN])) // { first: 1, count: 1 }
 */
export function nonFinite(v: Float32Array): { first: number; count: number } {
  let first = -1;
  let count = 0;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { first, count };
}

/**
 * Refuse a tensor with a non-finite value (E_NUMERIC naming file, tensor, count, first element).
 * @example
 * assertFinite('m.gguf', 'w', data);
 */
export function assertFinite(file: string, tensor: string, v: Float32Array): void {
  const { first, count } = nonFinite(v);
  if (count) throw err('E_NUMERIC', msg.nonFiniteWeight(file, tensor, count, first, v[first]!));
}

/**
 * Cast `v` to `dt` little-endian bytes, refusing (or handling, per `allow`) values the target cannot hold.
 * @example
 * castChecked('m.gguf', 'w', 'bf16', new Float32Array([1.5])).data // Uint8Array [192, 63]
 */
export function castChecked(file: string, tensor: string, dt: CastDType, v: Float32Array, allow?: AllowOverflow): { storage: CastDType; data: Uint8Array } {
  assertFinite(file, tensor, v);
  if (dt === 'f32') return { storage: 'f32', data: new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)) };
  const enc = dt === 'f16' ? f32ToF16 : f32ToBf16;
  const inf = dt === 'f16' ? 0x7c00 : 0x7f80;
  const u = new Uint16Array(v.length);
  let bad = 0;
  let largest = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    let h = enc(x);
    const mag = h & 0x7fff;
    if (mag === inf || (mag === 0 && x !== 0)) {
      bad++;
      largest = Math.max(largest, Math.abs(x));
      if (allow === 'saturate') h = mag === 0 ? h : (h & 0x8000) | (inf - 1); // ±max (0x7bff / 0x7f7f)
    }
    u[i] = h;
  }
  if (bad) {
    if (allow === 'keep-bf16' && dt === 'f16') return castChecked(file, tensor, 'bf16', v, 'saturate');
    if (allow === undefined) throw err('E_NUMERIC', msg.castOverflow(file, tensor, dt, bad, largest, CAST_MAX[dt]));
  }
  return { storage: dt, data: new Uint8Array(u.buffer) };
}
