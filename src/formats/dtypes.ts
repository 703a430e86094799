/**
 * Storage dtypes, defined once: plain element types and GGML block-quantized types, with their block geometry
 * (elements per block, bytes per block) and bits per weight. Both parsers and the quant lab use these tables.
 */

/** Plain element dtypes. */
export type ElementDType = 'f32' | 'f16' | 'bf16' | 'f64' | 'i8' | 'u8' | 'i16' | 'i32' | 'i64' | 'bool';
/** GGML block-quantized dtypes supported for reading (dequantized exactly as llama.cpp's reference). */
export type GGMLBlockDType = 'q8_0' | 'q4_0' | 'q4_1' | 'q4_k' | 'q6_k';
export type StorageDType = ElementDType | GGMLBlockDType;

export interface DTypeInfo {
  /** Elements per block (1 for plain types). */
  readonly blockElems: number;
  /** Bytes per block. */
  readonly blockBytes: number;
}

export const DTYPES: Readonly<Record<StorageDType, DTypeInfo>> = {
  f64: { blockElems: 1, blockBytes: 8 },
  f32: { blockElems: 1, blockBytes: 4 },
  f16: { blockElems: 1, blockBytes: 2 },
  bf16: { blockElems: 1, blockBytes: 2 },
  i8: { blockElems: 1, blockBytes: 1 },
  u8: { blockElems: 1, blockBytes: 1 },
  i16: { blockElems: 1, blockBytes: 2 },
  i32: { blockElems: 1, blockBytes: 4 },
  i64: { blockElems: 1, blockBytes: 8 },
  bool: { blockElems: 1, blockBytes: 1 },
  // GGML blocks (ggml-common.h): QK8_0 = 32: fp16 d + 32 int8            = 34 bytes
  q8_0: { blockElems: 32, blockBytes: 34 },
  // QK4_0 = 32: fp16 d + 16 bytes of nibbles                            = 18 bytes
  q4_0: { blockElems: 32, blockBytes: 18 },
  // QK4_1 = 32: fp16 d, fp16 m + 16 bytes of nibbles                    = 20 bytes
  q4_1: { blockElems: 32, blockBytes: 20 },
  // QK_K = 256: fp16 d, fp16 dmin, 12 bytes scales, 128 bytes nibbles   = 144 bytes
  q4_k: { blockElems: 256, blockBytes: 144 },
  // QK_K = 256: 128 bytes ql, 64 bytes qh, 16 int8 scales, fp16 d       = 210 bytes
  q6_k: { blockElems: 256, blockBytes: 210 },
};

/**
 * Bits per weight of a storage dtype.
 * @example
 * bitsPerWeight('q4_1') // 5
 */
export function bitsPerWeight(dt: StorageDType): number {
  const i = DTYPES[dt];
  return (i.blockBytes * 8) / i.blockElems;
}

/**
 * Byte size of `n` elements of `dt`, or null when n is not a whole number of blocks or overflows.
 * @example
 * byteSizeOf('q8_0', 64) // 68 (two 34-byte blocks)
 */
export function byteSizeOf(dt: StorageDType, n: number): number | null {
  const i = DTYPES[dt];
  if (!Number.isSafeInteger(n) || n < 0 || n % i.blockElems !== 0) return null;
  const b = (n / i.blockElems) * i.blockBytes;
  return Number.isSafeInteger(b) ? b : null;
}

// ---- half-precision conversions (exact, round-to-nearest-even on the way down)

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/**
 * IEEE fp16 bits -> float.
 * @example
 * f16ToF32(0x3c00) // 1
 */
export function f16ToF32(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  let v: number;
  if (e === 0) v = f * 2 ** -24;
  else if (e === 0x1f) v = f === 0 ? Infinity : NaN;
  else v = (1 + f / 1024) * 2 ** (e - 15);
  return s ? -v : v;
}

/**
 * float -> IEEE fp16 bits, round-to-nearest-even, overflow to ±Inf, NaN preserved.
 * @example
 * f32ToF16(1) // 0x3c00; f32ToF16(70000) // 0x7c00 (+Inf)
 */
export function f32ToF16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/**
 * bf16 bits -> float.
 * @example
 * bf16ToF32(0x3f80) // 1
 */
export function bf16ToF32(b: number): number {
  u32buf[0] = (b & 0xffff) << 16;
  return f32buf[0]!;
}

/**
 * float -> bf16 bits, round-to-nearest-even, NaN kept quiet.
 * @example
 * f32ToBf16(1) // 0x3f80
 */
export function f32ToBf16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  const r = x + 0x7fff + ((x >>> 16) & 1);
  return (r >>> 16) & 0xffff;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decode a plain-dtype little-endian byte buffer to float32.
 * @example
 * decodeToF32('f16', new Uint8Array([0x00, 0x3c]), 1) // Float32Array [1]
 */
export function decodeToF32(dt: ElementDType, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dt) {
    case 'f32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'f64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case 'f16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
      break;
    case 'bf16':
      if (bytes.byteOffset % 2 === 0 && LITTLE_ENDIAN) {
        // fast path (checkpoint loads): bf16 bits are the high half of the float32 bits
        const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
        const o = new Uint32Array(out.buffer);
        for (let i = 0; i < n; i++) o[i] = h[i]! << 16;
      } else for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(i * 2, true));
      break;
    case 'i8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    case 'u8':
    case 'bool':
      for (let i = 0; i < n; i++) out[i] = dv.getUint8(i);
      break;
    case 'i16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
      break;
    case 'i32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      break;
    case 'i64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      break;
  }
  return out;
}
