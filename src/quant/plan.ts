/**
 * A quant spec resolved once for one (rows, cols) weight: layout, sizes, array types, the code range and the
 * encoder / decoder. quantize(), dequantize(), the native fast path, the error metrics, the .cllm container and the
 * lab all take a plan instead of re-deriving these facts from the spec (spec.ts holds the tables: FORMAT_INFO,
 * SCALE_BITS, groupLayout, quantSizes; numerics.ts the code tables).
 *
 * Codes: an int code is the signed q for sym, q in [0, A] for asym; nf4 / fp8 codes are table indices. The stored
 * byte (8-bit formats) or nibble (4-bit) is code + nibbleBias (int4 sym: q + 8), int8 sym stored as a signed byte.
 *
 * @example
 * const p = quantPlan('int4:group=64', 576, 1536);
 * p.layout.nGroups;   // 576 * 24
 * p.sizes.totalBytes; // codes + fp32 scales
 * p.value(p.encode(0.4 / 0.1, 0).code, 0); // 4
 */
import { E4M3, E4M3_MAX, NF4, SCALE_CODECS, e4m3Encode, nf4Encode, rne, type ScaleCodec } from './numerics.js';
import {
  FORMAT_INFO,
  type FormatInfo,
  type GroupLayout,
  type QuantSizes,
  type QuantSpec,
  groupLayout,
  groupOf,
  quantSizes,
  toSpec,
} from './spec.js';

export interface QuantPlan {
  readonly spec: QuantSpec;
  readonly rows: number;
  readonly cols: number;
  readonly layout: GroupLayout;
  readonly sizes: QuantSizes;
  readonly info: FormatInfo;
  /** The scale is range / levels: symMax (sym) or asymMax (asym). */
  readonly levels: number;
  /** Stored byte / nibble = code + nibbleBias (8 for int4 sym, else 0). */
  readonly nibbleBias: number;
  /** Distinct stored values: 256 (8-bit codes) or 16 (4-bit). */
  readonly storedValues: 256 | 16;
  readonly scaleCodec: ScaleCodec;
  /** Array type of the codes: Int8Array for int8 sym, Uint8Array otherwise (4-bit codes packed). */
  readonly codesArray: Int8ArrayConstructor | Uint8ArrayConstructor;
  /** Array type of the scales: Float32Array for fp32, Uint16Array of fp16 / bf16 bits otherwise. */
  readonly scalesArray: Float32ArrayConstructor | Uint16ArrayConstructor;
  /** Group index of weight (r, c). */
  groupOf(r: number, c: number): number;
  /** Code of x = w / s (z: zero point, asym only) after clamping, and whether x lay beyond the end codes. */
  encode(x: number, z: number): { code: number; clipped: boolean };
  /** Multiplier of s for a code: value(code) * s = dequantized weight. */
  value(code: number, z: number): number;
  /** Code of a stored byte (as unsigned) or nibble. */
  codeOfStored(u: number): number;
  /** Zero point of an asym group: z = clamp(rne(-lo / s), 0, A). */
  zeroPoint(lo: number, s: number): number;
  /** Value of every stored byte / nibble (sym), or null (asym ints: value = code - z). */
  readonly valueTable: Float64Array | null;
}

const NF4_CLIP = 1 + (NF4[15]! - NF4[14]!) / 2;
const E4M3_CLIP = E4M3_MAX + 16; // the step below 448 is 32

/**
 * Resolve `spec` for a (rows, cols) weight.
 * @example
 * quantPlan('int8:per-channel', 4, 64).codesArray === Int8Array; // true
 */
export function quantPlan(specIn: QuantSpec | string, rows: number, cols: number): QuantPlan {
  const spec = toSpec(specIn);
  const info = FORMAT_INFO[spec.format];
  const layout = groupLayout(spec, rows, cols);
  const isInt = spec.format === 'int8' || spec.format === 'int4';
  const lo = spec.asym ? 0 : -info.symMax;
  const hi = spec.asym ? info.asymMax : info.symMax;
  const clip = spec.format === 'nf4' ? NF4_CLIP : E4M3_CLIP;
  const nibbleBias = spec.format === 'int4' && !spec.asym ? 8 : 0;
  const signedBytes = spec.format === 'int8' && !spec.asym;

  const value = (code: number, z: number): number => {
    switch (spec.format) {
      case 'int8':
      case 'int4':
        return spec.asym ? code - z : code;
      case 'nf4':
        return NF4[code]!;
      case 'fp8':
        return E4M3[code]!;
    }
  };
  const encode = (x: number, z: number): { code: number; clipped: boolean } => {
    if (isInt) {
      const code = rne(x) + (spec.asym ? z : 0);
      if (code < lo) return { code: lo, clipped: true };
      if (code > hi) return { code: hi, clipped: true };
      return { code, clipped: false };
    }
    // beyond the end value by more than half the last step (as an int code beyond M + 0.5)
    return { code: spec.format === 'nf4' ? nf4Encode(x) : e4m3Encode(x), clipped: Math.abs(x) > clip };
  };
  const codeOfStored = (u: number): number => (signedBytes ? (u << 24) >> 24 : u - nibbleBias);
  const storedValues = info.codeBits === 8 ? 256 : 16;
  let valueTable: Float64Array | null = null;
  if (!spec.asym) {
    valueTable = new Float64Array(storedValues);
    for (let u = 0; u < storedValues; u++) valueTable[u] = value(codeOfStored(u), 0);
  }
  return {
    spec,
    rows,
    cols,
    layout,
    sizes: quantSizes(spec, rows, cols),
    info,
    levels: spec.asym ? info.asymMax : info.symMax,
    nibbleBias,
    storedValues,
    scaleCodec: SCALE_CODECS[spec.scaleDType],
    codesArray: signedBytes ? Int8Array : Uint8Array,
    scalesArray: spec.scaleDType === 'fp32' ? Float32Array : Uint16Array,
    groupOf: (r, c) => groupOf(spec, layout, r, c),
    encode,
    value,
    codeOfStored,
    zeroPoint: (l, s) => Math.min(Math.max(rne(-l / s), 0), info.asymMax),
    valueTable,
  };
}

const plans = new WeakMap<object, QuantPlan>();

/**
 * The plan of a quantized tensor (made once per tensor object, then cached).
 * @example
 * planOf(quantize(w, [4, 64], 'int8:per-channel')).layout.nGroups; // 4
 */
export function planOf(q: { readonly spec: QuantSpec; readonly shape: readonly [number, number] }): QuantPlan {
  let p = plans.get(q);
  if (!p || p.spec !== q.spec || p.rows !== q.shape[0] || p.cols !== q.shape[1]) {
    p = quantPlan(q.spec, q.shape[0], q.shape[1]);
    plans.set(q, p);
  }
  return p;
}
