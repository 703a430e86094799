/**
 * Storage dtypes, defined once for TypeScript: plain element types and GGML block-quantized types, with their
 * numeric id (the id crossing N-API; append-only, never renumbered), block geometry (elements per block, bytes per
 * block) and bits per weight. Both parsers and the quant lab use these tables.
 *
 * The native twin is native/src/common/weight_types.h (ids, names) + common/blocks.h (block structs);
 * test/native-blocks.test.ts asserts DTYPES and ENGINE_LAYOUTS equal the addon's blockFormats().
 */

/** Plain element dtypes. */
export type ElementDType = 'f32' | 'f16' | 'bf16' | 'f64' | 'i8' | 'u8' | 'i16' | 'i32' | 'i64' | 'bool';
/** GGML block-quantized dtypes (llama.cpp ggml-common.h): every format llama.cpp writes for LLM weights. */
export type GGMLBlockDType = 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'q8_0' | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k';
export type StorageDType = ElementDType | GGMLBlockDType;

export interface DTypeInfo {
  /** Numeric id (native WeightType; append-only). */
  readonly id: number;
  /** Elements per block (1 for plain types). */
  readonly blockElems: number;
  /** Bytes per block. */
  readonly blockBytes: number;
}

export const DTYPES: Readonly<Record<StorageDType, DTypeInfo>> = {
  f32: { id: 0, blockElems: 1, blockBytes: 4 },
  f16: { id: 1, blockElems: 1, blockBytes: 2 },
  bf16: { id: 2, blockElems: 1, blockBytes: 2 },
  f64: { id: 3, blockElems: 1, blockBytes: 8 },
  i8: { id: 4, blockElems: 1, blockBytes: 1 },
  u8: { id: 5, blockElems: 1, blockBytes: 1 },
  i16: { id: 6, blockElems: 1, blockBytes: 2 },
  i32: { id: 7, blockElems: 1, blockBytes: 4 },
  i64: { id: 8, blockElems: 1, blockBytes: 8 },
  bool: { id: 9, blockElems: 1, blockBytes: 1 },
  // GGML blocks (ggml-common.h). QK4_0 = 32: fp16 d + 16 bytes of nibbles                        = 18 bytes
  q4_0: { id: 10, blockElems: 32, blockBytes: 18 },
  // QK4_1 = 32: fp16 d, fp16 m + 16 bytes of nibbles                                             = 20 bytes
  q4_1: { id: 11, blockElems: 32, blockBytes: 20 },
  // QK5_0 = 32: fp16 d + 4 bytes of fifth bits + 16 bytes of nibbles                              = 22 bytes
  q5_0: { id: 12, blockElems: 32, blockBytes: 22 },
  // QK5_1 = 32: fp16 d, fp16 m + 4 bytes of fifth bits + 16 bytes of nibbles                      = 24 bytes
  q5_1: { id: 13, blockElems: 32, blockBytes: 24 },
  // QK8_0 = 32: fp16 d + 32 int8                                                                 = 34 bytes
  q8_0: { id: 14, blockElems: 32, blockBytes: 34 },
  // QK_K = 256: 16 bytes scales|mins, 64 bytes 2-bit q, fp16 d, fp16 dmin                          = 84 bytes
  q2_k: { id: 15, blockElems: 256, blockBytes: 84 },
  // QK_K = 256: 32 bytes hmask, 64 bytes 2-bit q, 12 bytes 6-bit scales, fp16 d                    = 110 bytes
  q3_k: { id: 16, blockElems: 256, blockBytes: 110 },
  // QK_K = 256: fp16 d, fp16 dmin, 12 bytes scales, 128 bytes nibbles                              = 144 bytes
  q4_k: { id: 17, blockElems: 256, blockBytes: 144 },
  // QK_K = 256: fp16 d, fp16 dmin, 12 bytes scales, 32 bytes fifth bits, 128 bytes nibbles         = 176 bytes
  q5_k: { id: 18, blockElems: 256, blockBytes: 176 },
  // QK_K = 256: 128 bytes ql, 64 bytes qh, 16 int8 scales, fp16 d                                  = 210 bytes
  q6_k: { id: 19, blockElems: 256, blockBytes: 210 },
};

/**
 * Weight layouts of the native engines that are not storage dtypes: int8 codes with per-row ('i8_channel') or
 * per-group ('i8_group') scales (src/quant/quantize.ts layout). Ids share the DTYPES id space (native WeightType).
 */
export type EngineLayout = 'i8_channel' | 'i8_group' | 'i4_group' | 'nf4_group';
export const ENGINE_LAYOUTS: Readonly<Record<EngineLayout, DTypeInfo>> = {
  i8_channel: { id: 20, blockElems: 1, blockBytes: 1 },
  i8_group: { id: 21, blockElems: 1, blockBytes: 1 },
  /** int4 group (sym / asym) and nf4 group: two packed 4-bit codes per byte + fp32 group scales (native common/quant4.h) */
  i4_group: { id: 22, blockElems: 2, blockBytes: 1 },
  nf4_group: { id: 23, blockElems: 2, blockBytes: 1 },
};

/**
 * Numeric id of a storage dtype or engine layout: what crosses N-API to the native engines.
 * @example
 * weightTypeId('q4_1') // 11
 */
export function weightTypeId(t: StorageDType | EngineLayout): number {
  return Object.hasOwn(DTYPES, t) ? DTYPES[t as StorageDType].id : ENGINE_LAYOUTS[t as EngineLayout].id;
}

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
