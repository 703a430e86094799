/**
 * Reference quantizer (readable; native/src/quant.cc is its fast twin and must give identical codes and scales).
 *
 * w is (rows, cols) = (out_features, in_features), row-major float32. The spec is resolved once into a QuantPlan
 * (plan.ts: layout, sizes, encoder/decoder); everything below takes the plan. For every group g:
 *
 *   lo = min(0, min w), hi = max(0, max w)                        (the range always contains 0)
 *   sym:   ideal = max(-lo, hi) / M          M = 127 (int8), 7 (int4), 1 (nf4), 448 (fp8)
 *   asym:  ideal = (hi - lo) / A             A = 255 (int8), 15 (int4)
 *   s     = nearest scale-dtype value of ideal                     (numerics.ts SCALE_CODECS)
 *   z     = clamp(rne(-lo / s), 0, A)                              (asym only)
 *   code  = clamp(rne(w / s), -M, M)  |  clamp(rne(w / s) + z, 0, A)  |  nf4Encode(w / s)  |  e4m3Encode(w / s)
 *   w'    = fround(value(code) * s)   value = q | q - z | NF4[q] | E4M3[q]
 *
 * Scale dtype limits (reported in `stats`, documented here):
 *   overflow   ideal above the dtype's largest finite value (fp16: 65504): s = largest finite; the extreme codes
 *              saturate (stats.clipped counts them). The bound of errorBound() is infinite for such groups.
 *   underflow  ideal > 0 but rounds to 0 (fp16: below 2^-25): s = the smallest positive value (fp16: 2^-24,
 *              a subnormal), so small weights still quantize to small codes instead of dividing by 0; when
 *              even that scale gives every weight of the group the code of 0, the group is flushed: s = 0.
 *   subnormal  s lands on a subnormal value (fp16: below 2^-14, i.e. group absmax below ~0.0078 for int8): fewer
 *              significant bits in the scale; counted in stats.scaleSubnormal, values kept.
 *
 * Bit-exact round trip, by construction. quantize(dequantize(q)) == q needs the requantizer to find the same s
 * (and z) from the dequantized values. Two properties give it:
 *   (1) dequantized values are exact: value(code) * s has <= 8 + 16 significant bits (numerics.ts), so w' =
 *       value * s exactly, and w' / s = value exactly;
 *   (2) the group's extreme weight maps to the end code ("the span is reached"): sym, the weight of largest
 *       magnitude gets code ±M, so absmax(w') = M * s exactly and ideal' = M*s / M = s, already on the dtype grid;
 *       asym, the codes of lo and hi (with z) cover [0, A], so hi' - lo' = A * s, ideal' = s, and z' = z.
 *   With a scale rounded to nearest, (2) normally holds by itself (|ideal - s| <= s * 2^-9 even for bf16, so the
 *   extreme lands within 0.25 of M). It can fail for asym (two independent roundings at lo and hi) and for
 *   subnormal scales; then s is lowered one dtype step at a time until it holds ("nudge", stats.scaleNudged; at
 *   most a few steps). A scale at the dtype's smallest positive value that still misses the span (underflow) is a
 *   fixed point too: the requantizer's ideal' <= s rounds to 0 or to s, and 0 is raised to s again.
 *   NF4 values are full float32, so w' = fround(NF4[q] * s) is rounded, but only by 2^-24 relative; the nearest
 *   table entry stays q (entries are >= 0.08 apart) and the extreme entries ±1.0 are exact.
 */
import { err, msg } from '../messages.js';
import { E4M3_MAX } from './numerics.js';
import { type QuantSpec, formatSpec, toSpec, validateSpec } from './spec.js';
import { type QuantPlan, planOf, quantPlan } from './plan.js';

/** What the quantizer had to do about dtype limits; counts of groups (scale*) or weights (clipped). */
export interface QuantStats {
  /** Number of groups (= scales). */
  groups: number;
  /** Groups whose weights are all zero (scale 0). */
  zeroGroups: number;
  /** Groups whose ideal scale rounded to 0 in the scale dtype (raised to its smallest positive value). */
  scaleUnderflow: number;
  /** Groups whose ideal scale exceeded the dtype's largest finite value (clamped to it; codes saturate). */
  scaleOverflow: number;
  /** Groups whose final scale is subnormal in its dtype (precision loss). */
  scaleSubnormal: number;
  /** Groups whose scale was lowered below the nearest value so that the extreme weight reaches the end code. */
  scaleNudged: number;
  /** Weights whose code saturated at the end of the code range. */
  clipped: number;
}

/** A quantized (rows, cols) weight. Layouts: spec.ts header. */
export interface QuantizedTensor {
  readonly spec: QuantSpec;
  readonly shape: readonly [number, number];
  /** int8 sym: Int8Array(n); int8 asym and fp8: Uint8Array(n); int4 / nf4: Uint8Array(ceil(n/2)) packed. */
  readonly codes: Int8Array | Uint8Array;
  /** One per group: Float32Array for fp32, else Uint16Array of fp16 / bf16 bits. */
  readonly scales: Float32Array | Uint16Array;
  /** asym only, one per group: int8 Uint8Array(nGroups); int4 Uint8Array(ceil(nGroups/2)) packed. */
  readonly zeros?: Uint8Array;
  readonly stats: QuantStats;
}

export function emptyStats(groups: number): QuantStats {
  return { groups, zeroGroups: 0, scaleUnderflow: 0, scaleOverflow: 0, scaleSubnormal: 0, scaleNudged: 0, clipped: 0 };
}

/** Check a (rows, cols) shape against n weights; throws E_QUANT quantShape. */
export function checkShape(shape: readonly number[], n: number): [number, number] {
  const ok =
    Array.isArray(shape) &&
    shape.length === 2 &&
    shape.every((d) => Number.isSafeInteger(d) && d > 0) &&
    shape[0]! * shape[1]! === n;
  if (!ok) throw err('E_QUANT', msg.quantShape(Array.isArray(shape) ? shape : [], n));
  return [shape[0]!, shape[1]!];
}

/** Does the group's extreme weight reach the end code at scale s? (property (2) of the header) */
function spanReached(p: QuantPlan, lo: number, hi: number, s: number): boolean {
  if (p.spec.asym) {
    const z = p.zeroPoint(lo, s);
    const qlo = p.encode(lo / s, z).code;
    const qhi = p.encode(hi / s, z).code;
    return Math.min(qlo, z) === 0 && Math.max(qhi, z) === p.levels;
  }
  const ext = -lo > hi ? lo : hi; // the weight of largest magnitude (positive on ties)
  return Math.abs(p.value(p.encode(ext / s, 0).code, 0)) === p.levels;
}

/** Do all weights of the group (range [lo, hi]) get codes whose value is 0 at scale s? */
function allZeroCodes(p: QuantPlan, lo: number, hi: number, s: number): boolean {
  const z = p.spec.asym ? p.zeroPoint(lo, s) : 0;
  return p.value(p.encode(lo / s, z).code, z) === 0 && p.value(p.encode(hi / s, z).code, z) === 0;
}

/** Scale bits and zero point of one group from its range [lo, hi] (lo <= 0 <= hi). Updates stats. */
export function chooseGroupParams(p: QuantPlan, lo: number, hi: number, stats: QuantStats): { bits: number; z: number } {
  const dt = p.scaleCodec;
  const range = p.spec.asym ? hi - lo : Math.max(-lo, hi);
  if (range === 0) {
    stats.zeroGroups++;
    return { bits: 0, z: 0 };
  }
  const ideal = range / p.levels;
  let bits = dt.toBits(ideal);
  if (bits >= dt.infBits) {
    bits = dt.maxBits;
    stats.scaleOverflow++;
  } else if (bits === 0) {
    stats.scaleUnderflow++;
    // raise to the smallest positive scale; if even that encodes every weight of the group as 0, the group is
    // flushed to zero (s = 0), exactly what requantizing its all-zero dequantized values gives
    bits = dt.minBits;
    if (allZeroCodes(p, lo, hi, dt.fromBits(bits))) return { bits: 0, z: 0 };
  }
  let nudged = false;
  while (bits > dt.minBits && !spanReached(p, lo, hi, dt.fromBits(bits))) {
    bits -= dt.step;
    nudged = true;
  }
  if (nudged) stats.scaleNudged++;
  if (bits < dt.normalBits) stats.scaleSubnormal++;
  return { bits, z: p.spec.asym ? p.zeroPoint(lo, dt.fromBits(bits)) : 0 };
}

/** Group ranges: lo[g] = min(0, min w), hi[g] = max(0, max w). Throws E_QUANT on a non-finite weight. */
function groupRanges(w: Float32Array, p: QuantPlan) {
  const { rows, cols, nGroups } = p.layout;
  const lo = new Float64Array(nGroups);
  const hi = new Float64Array(nGroups);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = w[r * cols + c]!;
      if (!Number.isFinite(v)) throw err('E_QUANT', msg.quantNonFinite(v, r, c));
      const g = p.groupOf(r, c);
      if (v < lo[g]!) lo[g] = v;
      if (v > hi[g]!) hi[g] = v;
    }
  }
  return { lo, hi };
}

/** Unpacked code i of a quantized tensor (4-bit: the nibble as stored, e.g. q + 8 for int4 sym). */
export function storedCode(q: QuantizedTensor, i: number): number {
  if (planOf(q).info.codeBits === 8) return q.codes[i]!;
  const b = q.codes[i >> 1]!;
  return i & 1 ? b >> 4 : b & 15;
}

/** Zero point of group g (0 when sym). */
export function zeroAt(q: QuantizedTensor, g: number): number {
  if (!q.spec.asym || !q.zeros) return 0;
  if (planOf(q).info.codeBits === 8) return q.zeros[g]!;
  const b = q.zeros[g >> 1]!;
  return g & 1 ? b >> 4 : b & 15;
}

/** Scale values of every group, as float64. */
export function scaleValues(q: QuantizedTensor): Float64Array {
  const dt = planOf(q).scaleCodec;
  const out = new Float64Array(q.scales.length);
  for (let g = 0; g < out.length; g++) out[g] = q.spec.scaleDType === 'fp32' ? q.scales[g]! : dt.fromBits(q.scales[g]!);
  return out;
}

/** Scale bits of every group (fp32: the float32 bit pattern). */
export function scaleBits(q: QuantizedTensor): Uint32Array {
  if (q.spec.scaleDType !== 'fp32') return Uint32Array.from(q.scales);
  const f = q.scales as Float32Array;
  return new Uint32Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength));
}

/**
 * Quantize a (rows, cols) float32 weight.
 * @example
 * const q = quantize(w, [576, 576], 'int8:per-channel:scale=fp16');
 * q.codes.length // 576 * 576
 */
export function quantize(w: Float32Array, shape: readonly number[], specIn: QuantSpec | string): QuantizedTensor {
  const spec = toSpec(specIn);
  const [rows, cols] = checkShape(shape, w.length);
  const p = quantPlan(spec, rows, cols);
  const { nGroups } = p.layout;
  const dt = p.scaleCodec;
  const stats = emptyStats(nGroups);

  // 1. ranges, 2. scale and zero point per group
  const { lo, hi } = groupRanges(w, p);
  const sv = new Float64Array(nGroups);
  const zv = new Int32Array(nGroups);
  const scales = new p.scalesArray(nGroups);
  for (let g = 0; g < nGroups; g++) {
    const { bits, z } = chooseGroupParams(p, lo[g]!, hi[g]!, stats);
    sv[g] = dt.fromBits(bits);
    zv[g] = z;
    scales[g] = spec.scaleDType === 'fp32' ? sv[g]! : bits;
  }

  // 3. codes (4-bit formats: stored nibble = q + 8 for int4 sym, q otherwise; packed low nibble first)
  const n = rows * cols;
  const unpacked = p.info.codeBits === 8 ? new p.codesArray(n) : new Uint8Array(n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const g = p.groupOf(r, c);
      const s = sv[g]!;
      const x = s === 0 ? 0 : w[i]! / s;
      const { code, clipped } = p.encode(x, zv[g]!);
      if (clipped) stats.clipped++;
      unpacked[i] = code + p.nibbleBias;
    }
  }
  let codes: Int8Array | Uint8Array = unpacked;
  let zeros: Uint8Array | undefined;
  if (p.info.codeBits === 4) codes = packNibbles(unpacked as Uint8Array);
  if (spec.asym) zeros = p.info.codeBits === 8 ? Uint8Array.from(zv) : packNibbles(Uint8Array.from(zv));

  const q: QuantizedTensor = { spec, shape: [rows, cols], codes, scales, ...(zeros ? { zeros } : {}), stats };
  assertSizes(q);
  return q;
}

/** Pack 4-bit values (each < 16): element i -> nibble (i & 1) of byte i >> 1. */
export function packNibbles(u: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(u.length / 2));
  for (let i = 0; i < u.length; i++) out[i >> 1]! |= (u[i]! & 15) << ((i & 1) * 4);
  return out;
}

/** Size assert: the arrays of q have exactly the sizes quantSizes() states for its spec and shape. */
export function assertSizes(q: QuantizedTensor): void {
  validateSpec(q.spec);
  checkShape(q.shape, Array.isArray(q.shape) && q.shape.length === 2 ? q.shape[0]! * q.shape[1]! : NaN);
  const [rows, cols] = q.shape;
  const p = planOf(q);
  const sz = p.sizes;
  const scaleBytes = q.scales.length * p.scalesArray.BYTES_PER_ELEMENT;
  const wantCodes = p.codesArray;
  const wantScales = p.scalesArray;
  const bad = (d: string) => err('E_QUANT', msg.quantBadTensor(`${formatSpec(q.spec)} [${rows}, ${cols}]: ${d}`));
  if (!(q.codes instanceof wantCodes)) throw bad(`codes must be a ${wantCodes.name}`);
  if (!(q.scales instanceof wantScales)) throw bad(`scales must be a ${wantScales.name}`);
  if (q.codes.byteLength !== sz.codeBytes) throw bad(`codes have ${q.codes.byteLength} bytes, expected ${sz.codeBytes}`);
  if (scaleBytes !== sz.scaleBytes) throw bad(`scales have ${scaleBytes} bytes, expected ${sz.scaleBytes}`);
  const zb = q.zeros?.byteLength ?? 0;
  if (zb !== sz.zeroBytes) throw bad(`zero points have ${zb} bytes, expected ${sz.zeroBytes}`);
}

/**
 * Dequantize to float32 (rows, cols): w'[i] = fround(value(code_i) * s_g).
 * @example
 * const w2 = dequantize(quantize(w, [4, 64], 'int4:group=64'));
 */
export function dequantize(q: QuantizedTensor): Float32Array {
  assertSizes(q);
  const [rows, cols] = q.shape;
  const p = planOf(q);
  const sv = scaleValues(q);
  const zv = zeroValues(q);
  const vt = p.valueTable; // value of each stored byte / nibble (sym); asym ints use code - z
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const g = p.groupOf(r, c);
      const u = storedByte(q, i);
      out[i] = Math.fround((vt ? vt[u]! : u - zv[g]!) * sv[g]!);
    }
  }
  return out;
}

/** Stored byte (8-bit formats, as unsigned) or nibble (4-bit) of weight i. */
export function storedByte(q: QuantizedTensor, i: number): number {
  if (planOf(q).info.codeBits === 8) return q.codes[i]! & 0xff;
  const b = q.codes[i >> 1]!;
  return i & 1 ? b >> 4 : b & 15;
}

/** Zero point of every group (zeros for sym). */
export function zeroValues(q: QuantizedTensor): Int32Array {
  const z = new Int32Array(q.scales.length);
  if (q.spec.asym) for (let g = 0; g < z.length; g++) z[g] = zeroAt(q, g);
  return z;
}

/** Group index of weight (r, c) of q (exported for metrics and patch verification). */
export function groupOfWeight(q: QuantizedTensor, r: number, c: number): number {
  return planOf(q).groupOf(r, c);
}

export { E4M3_MAX };
