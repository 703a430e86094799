/**
 * Reversible byte transforms applied to a tensor's stored bytes before a lossless codec (and undone after it).
 *
 * Float weights compress badly as they are: the bytes of one element interleave a low-entropy part (sign and
 * exponent: trained weights sit in a few binades) with a near-random part (mantissa). Splitting them into planes lets
 * an LZ/entropy coder see the low-entropy part as its own stream (the ZipNN / DFloat11 observation: the 8 exponent
 * bits of bf16 weights carry only ~2.6 bits of entropy).
 *
 * Transforms (append-only: the index is part of the .cllm format):
 *
 *   none            the bytes as stored.
 *   byteplane       elements of k bytes (f16/bf16: 2, f32: 4), little-endian, are split into k planes of n bytes,
 *                   most significant byte first:  out = [b_{k-1}(e_0..e_{n-1}) | ... | b_0(e_0..e_{n-1})].
 *                     bf16  plane 0 = sign + exponent bits 7..1   plane 1 = exponent bit 0 + 7 mantissa bits
 *                     f16   plane 0 = sign + 5 exponent bits + mantissa bits 9..8   plane 1 = mantissa bits 7..0
 *                   (so for bf16 the high plane holds 7 of the 8 exponent bits, not all of them).
 *   exponent-split  bf16 only: plane 0 = the 8 exponent bits exactly, plane 1 = sign bit << 7 | 7 mantissa bits.
 *                   The exponent plane is the DFloat11 symbol stream; its order-0 entropy is the ~2.6 bits.
 *
 * Every transform is a permutation of bits: the output has exactly the input's length, and `invertTransform`
 * restores it bit for bit (test/transforms-roundtrip.test.ts checks all 2^16 bf16/f16 patterns and random data).
 *
 * @example
 * const t = applyTransform('byteplane', bf16Bytes, 2);
 * invertTransform('byteplane', t, 2); // equals bf16Bytes
 */
import { err, msg } from '../messages.js';

/** Transform names. Append-only (index = id). */
export const TRANSFORMS = ['none', 'byteplane', 'exponent-split'] as const;
export type Transform = (typeof TRANSFORMS)[number];

/** A named byte range of a transformed stream (one plane), for entropy reports. */
export interface Plane {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * Is `t` a transform name?
 * @example
 * isTransform('byteplane'); // true
 */
export function isTransform(t: string): t is Transform {
  return (TRANSFORMS as readonly string[]).includes(t);
}

/**
 * Check that transform `t` applies to `bytes` bytes of elements of `elemSize` bytes of dtype `dtype` (E_ARG
 * transformMisuse otherwise). Quantized streams (elemSize 1) take only 'none'.
 * @example
 * checkTransform('byteplane', 8, 2, 'bf16'); // ok
 */
export function checkTransform(t: Transform, bytes: number, elemSize: number, dtype: string): void {
  if (!isTransform(t)) throw err('E_ARG', msg.transformMisuse(String(t), `is not a transform (known: ${TRANSFORMS.join(', ')})`));
  if (t === 'none') return;
  if (t === 'byteplane' && !(elemSize === 2 || elemSize === 4 || elemSize === 8))
    throw err('E_ARG', msg.transformMisuse(t, `needs elements of 2, 4 or 8 bytes (f16, bf16, f32, f64), got ${dtype}`));
  if (t === 'exponent-split' && dtype !== 'bf16') throw err('E_ARG', msg.transformMisuse(t, `applies to bf16 only, got ${dtype}`));
  if (bytes % elemSize !== 0) throw err('E_ARG', msg.transformMisuse(t, `needs a whole number of ${elemSize}-byte elements, got ${bytes} bytes`));
}

/**
 * Split little-endian elements of k bytes into k planes, most significant byte first. data is (n, k) -> out (k, n).
 * @example
 * byteplaneSplit(new Uint8Array([0x01, 0xa0, 0x02, 0xb0]), 2); // [0xa0, 0xb0, 0x01, 0x02]
 */
export function byteplaneSplit(data: Uint8Array, k: number): Uint8Array {
  const n = data.length / k;
  const out = new Uint8Array(data.length);
  if (k === 2) {
    // the hot case (f16/bf16) without the inner loop
    for (let i = 0; i < n; i++) {
      out[i] = data[2 * i + 1]!;
      out[n + i] = data[2 * i]!;
    }
    return out;
  }
  for (let p = 0; p < k; p++) {
    const b = k - 1 - p;
    const base = p * n;
    for (let i = 0; i < n; i++) out[base + i] = data[i * k + b]!;
  }
  return out;
}

/**
 * Inverse of {@link byteplaneSplit}: planes (k, n) -> little-endian elements (n, k).
 * @example
 * byteplaneMerge(new Uint8Array([0xa0, 0xb0, 0x01, 0x02]), 2); // [0x01, 0xa0, 0x02, 0xb0]
 */
export function byteplaneMerge(planes: Uint8Array, k: number): Uint8Array {
  const n = planes.length / k;
  const out = new Uint8Array(planes.length);
  if (k === 2) {
    for (let i = 0; i < n; i++) {
      out[2 * i + 1] = planes[i]!;
      out[2 * i] = planes[n + i]!;
    }
    return out;
  }
  for (let p = 0; p < k; p++) {
    const b = k - 1 - p;
    const base = p * n;
    for (let i = 0; i < n; i++) out[i * k + b] = planes[base + i]!;
  }
  return out;
}

/**
 * bf16 (n elements, little-endian u16 bits s|eeeeeeee|mmmmmmm) -> [exponents (n) | sign<<7 | mantissa (n)].
 * @example
 * bf16ExponentSplit(new Uint8Array([0x80, 0x3f])); // 1.0 = 0x3f80: exponent 127, sign+mantissa 0 -> [127, 0]
 */
export function bf16ExponentSplit(data: Uint8Array): Uint8Array {
  const n = data.length >> 1;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < n; i++) {
    const lo = data[2 * i]!;
    const hi = data[2 * i + 1]!;
    out[i] = ((hi & 0x7f) << 1) | (lo >> 7); // exponent
    out[n + i] = (hi & 0x80) | (lo & 0x7f); // sign, mantissa
  }
  return out;
}

/**
 * Inverse of {@link bf16ExponentSplit}.
 * @example
 * bf16ExponentMerge(new Uint8Array([127, 0])); // [0x80, 0x3f]
 */
export function bf16ExponentMerge(planes: Uint8Array): Uint8Array {
  const n = planes.length >> 1;
  const out = new Uint8Array(planes.length);
  for (let i = 0; i < n; i++) {
    const e = planes[i]!;
    const sm = planes[n + i]!;
    out[2 * i] = ((e & 1) << 7) | (sm & 0x7f);
    out[2 * i + 1] = (sm & 0x80) | (e >> 1);
  }
  return out;
}

/**
 * Apply transform `t` to the stored bytes of elements of `elemSize` bytes (`dtype` names them in errors).
 * The result is a new array of the same length ('none' returns `data` itself).
 * @example
 * const planes = applyTransform('exponent-split', bf16Bytes, 2, 'bf16');
 */
export function applyTransform(t: Transform, data: Uint8Array, elemSize: number, dtype = `${elemSize}-byte`): Uint8Array {
  checkTransform(t, data.length, elemSize, dtype);
  switch (t) {
    case 'none':
      return data;
    case 'byteplane':
      return byteplaneSplit(data, elemSize);
    case 'exponent-split':
      return bf16ExponentSplit(data);
  }
}

/**
 * Undo {@link applyTransform}: bit-exact.
 * @example
 * invertTransform('byteplane', applyTransform('byteplane', b, 4, 'f32'), 4, 'f32'); // equals b
 */
export function invertTransform(t: Transform, data: Uint8Array, elemSize: number, dtype = `${elemSize}-byte`): Uint8Array {
  checkTransform(t, data.length, elemSize, dtype);
  switch (t) {
    case 'none':
      return data;
    case 'byteplane':
      return byteplaneMerge(data, elemSize);
    case 'exponent-split':
      return bf16ExponentMerge(data);
  }
}

/**
 * The planes of a transformed stream of `bytes` bytes, for entropy reports ('none': one plane named `whole`).
 * @example
 * transformPlanes('byteplane', 8, 2, 'bf16'); // [{name:'bf16 high byte (sign, exponent 7..1)', offset:0, length:4}, ...]
 */
export function transformPlanes(t: Transform, bytes: number, elemSize: number, dtype: string, whole = 'bytes'): Plane[] {
  if (t === 'none') return [{ name: whole, offset: 0, length: bytes }];
  const n = bytes / elemSize;
  if (t === 'exponent-split')
    return [
      { name: 'bf16 exponent', offset: 0, length: n },
      { name: 'bf16 sign+mantissa', offset: n, length: n },
    ];
  const named: Record<string, string[]> = {
    bf16: ['bf16 high byte (sign, exponent 7..1)', 'bf16 low byte (exponent 0, mantissa)'],
    f16: ['f16 high byte (sign, exponent, mantissa 9..8)', 'f16 low byte (mantissa 7..0)'],
    f32: ['f32 byte 3 (sign, exponent 7..1)', 'f32 byte 2 (exponent 0, mantissa 22..16)', 'f32 byte 1', 'f32 byte 0'],
  };
  const names = named[dtype] ?? Array.from({ length: elemSize }, (_, p) => `${dtype} byte ${elemSize - 1 - p}`);
  return names.map((name, p) => ({ name, offset: p * n, length: n }));
}
