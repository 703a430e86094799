/**
 * Reference quantizer (readable; native/src/quant.cc is its fast twin and must give identical codes and scales).
 *
 * w is (rows, cols) = (out_features, in_features), row-major float32. For every group g (spec.ts, groupLayout):
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
import { E4M3, E4M3_MAX, NF4, SCALE_CODECS, e4m3Encode, nf4Encode, rne } from './numerics.js';
import { FORMAT_INFO, type GroupLayout, type QuantSpec, formatSpec, groupLayout, groupOf, quantSizes, toSpec, validateSpec } from './spec.js';

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

// ---- per-format code arithmetic (int codes are the unpacked, signed q for sym, q in [0, A] for asym)

/** Code of x = w / s (z: zero point, asym only). Returns the code and whether it saturated. */
function encode(spec: QuantSpec, x: number, z: number): number {
  switch (spec.format) {
    case 'int8':
    case 'int4': {
      const r = rne(x);
      if (spec.asym) return r + z; // caller clamps to [0, A]
      return r; // caller clamps to [-M, M]
    }
    case 'nf4':
      return nf4Encode(x);
    case 'fp8':
      return e4m3Encode(x);
  }
}

/** Multiplier of s for a code (value(code) * s = dequantized weight). */
export function codeValue(spec: QuantSpec, code: number, z: number): number {
  switch (spec.format) {
    case 'int8':
    case 'int4':
      return spec.asym ? code - z : code;
    case 'nf4':
      return NF4[code]!;
    case 'fp8':
      return E4M3[code]!;
  }
}

const NF4_CLIP = 1 + (NF4[15]! - NF4[14]!) / 2;
const E4M3_CLIP = E4M3_MAX + 16; // the step below 448 is 32

/** The code of x after clamping, and whether x lay beyond the end codes (clipped). */
function clampedCode(spec: QuantSpec, x: number, z: number): { code: number; clipped: boolean } {
  const info = FORMAT_INFO[spec.format];
  let code = encode(spec, x, z);
  let clipped = false;
  if (spec.format === 'int8' || spec.format === 'int4') {
    const lo = spec.asym ? 0 : -info.symMax;
    const hi = spec.asym ? info.asymMax : info.symMax;
    if (code < lo) (code = lo), (clipped = true);
    else if (code > hi) (code = hi), (clipped = true);
  } else {
    // beyond the end value by more than half the last step (as an int code beyond M + 0.5)
    clipped = Math.abs(x) > (spec.format === 'nf4' ? NF4_CLIP : E4M3_CLIP);
  }
  return { code, clipped };
}

/** Zero point of an asym group: z = clamp(rne(-lo / s), 0, A). */
function zeroPoint(spec: QuantSpec, lo: number, s: number): number {
  const z = rne(-lo / s);
  return Math.min(Math.max(z, 0), FORMAT_INFO[spec.format].asymMax);
}

/** Does the group's extreme weight reach the end code at scale s? (property (2) of the header) */
function spanReached(spec: QuantSpec, lo: number, hi: number, s: number): boolean {
  const info = FORMAT_INFO[spec.format];
  if (spec.asym) {
    const z = zeroPoint(spec, lo, s);
    const qlo = clampedCode(spec, lo / s, z).code;
    const qhi = clampedCode(spec, hi / s, z).code;
    return Math.min(qlo, z) === 0 && Math.max(qhi, z) === info.asymMax;
  }
  const ext = -lo > hi ? lo : hi; // the weight of largest magnitude (positive on ties)
  const q = clampedCode(spec, ext / s, 0).code;
  return Math.abs(codeValue(spec, q, 0)) === info.symMax;
}

/** Do all weights of the group (range [lo, hi]) get codes whose value is 0 at scale s? */
function allZeroCodes(spec: QuantSpec, lo: number, hi: number, s: number): boolean {
  const z = spec.asym ? zeroPoint(spec, lo, s) : 0;
  const vlo = codeValue(spec, clampedCode(spec, lo / s, z).code, z);
  const vhi = codeValue(spec, clampedCode(spec, hi / s, z).code, z);
  return vlo === 0 && vhi === 0;
}

/** Scale bits and zero point of one group from its range [lo, hi] (lo <= 0 <= hi). Updates stats. */
export function chooseGroupParams(spec: QuantSpec, lo: number, hi: number, stats: QuantStats): { bits: number; z: number } {
  const info = FORMAT_INFO[spec.format];
  const dt = SCALE_CODECS[spec.scaleDType];
  const range = spec.asym ? hi - lo : Math.max(-lo, hi);
  if (range === 0) {
    stats.zeroGroups++;
    return { bits: 0, z: 0 };
  }
  const ideal = range / (spec.asym ? info.asymMax : info.symMax);
  let bits = dt.toBits(ideal);
  if (bits >= dt.infBits) {
    bits = dt.maxBits;
    stats.scaleOverflow++;
  } else if (bits === 0) {
    stats.scaleUnderflow++;
    // raise to the smallest positive scale; if even that encodes every weight of the group as 0, the group is
    // flushed to zero (s = 0), exactly what requantizing its all-zero dequantized values gives
    bits = dt.minBits;
    if (allZeroCodes(spec, lo, hi, dt.fromBits(bits))) return { bits: 0, z: 0 };
  }
  let nudged = false;
  while (bits > dt.minBits && !spanReached(spec, lo, hi, dt.fromBits(bits))) {
    bits -= dt.step;
    nudged = true;
  }
  if (nudged) stats.scaleNudged++;
  if (bits < dt.normalBits) stats.scaleSubnormal++;
  return { bits, z: spec.asym ? zeroPoint(spec, lo, dt.fromBits(bits)) : 0 };
}

/** Group ranges: lo[g] = min(0, min w), hi[g] = max(0, max w). Throws E_QUANT on a non-finite weight. */
function groupRanges(w: Float32Array, spec: QuantSpec, layout: GroupLayout) {
  const { rows, cols, nGroups } = layout;
  const lo = new Float64Array(nGroups);
  const hi = new Float64Array(nGroups);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = w[r * cols + c]!;
      if (!Number.isFinite(v)) throw err('E_QUANT', msg.quantNonFinite(v, r, c));
      const g = groupOf(spec, layout, r, c);
      if (v < lo[g]!) lo[g] = v;
      if (v > hi[g]!) hi[g] = v;
    }
  }
  return { lo, hi };
}

/** Unpacked code i of a quantized tensor (4-bit: the nibble as stored, e.g. q + 8 for int4 sym). */
export function storedCode(q: QuantizedTensor, i: number): number {
  if (FORMAT_INFO[q.spec.format].codeBits === 8) return q.codes[i]!;
  const b = q.codes[i >> 1]!;
  return i & 1 ? b >> 4 : b & 15;
}

/** Zero point of group g (0 when sym). */
export function zeroAt(q: QuantizedTensor, g: number): number {
  if (!q.spec.asym || !q.zeros) return 0;
  if (FORMAT_INFO[q.spec.format].codeBits === 8) return q.zeros[g]!;
  const b = q.zeros[g >> 1]!;
  return g & 1 ? b >> 4 : b & 15;
}

/** Scale values of every group, as float64. */
export function scaleValues(q: QuantizedTensor): Float64Array {
  const dt = SCALE_CODECS[q.spec.scaleDType];
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
  const layout = groupLayout(spec, rows, cols);
  const { nGroups } = layout;
  const info = FORMAT_INFO[spec.format];
  const dt = SCALE_CODECS[spec.scaleDType];
  const stats = emptyStats(nGroups);

  // 1. ranges, 2. scale and zero point per group
  const { lo, hi } = groupRanges(w, spec, layout);
  const sv = new Float64Array(nGroups);
  const zv = new Int32Array(nGroups);
  const scales = spec.scaleDType === 'fp32' ? new Float32Array(nGroups) : new Uint16Array(nGroups);
  for (let g = 0; g < nGroups; g++) {
    const { bits, z } = chooseGroupParams(spec, lo[g]!, hi[g]!, stats);
    sv[g] = dt.fromBits(bits);
    zv[g] = z;
    scales[g] = spec.scaleDType === 'fp32' ? sv[g]! : bits;
  }

  // 3. codes (4-bit formats: stored nibble = q + 8 for int4 sym, q otherwise; packed low nibble first)
  const n = rows * cols;
  const unpacked = info.codeBits === 8 && !spec.asym && spec.format === 'int8' ? new Int8Array(n) : new Uint8Array(n);
  const bias = spec.format === 'int4' && !spec.asym ? 8 : 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const g = groupOf(spec, layout, r, c);
      const s = sv[g]!;
      const x = s === 0 ? 0 : w[i]! / s;
      const { code, clipped } = clampedCode(spec, x, zv[g]!);
      if (clipped) stats.clipped++;
      unpacked[i] = code + bias;
    }
  }
  let codes: Int8Array | Uint8Array = unpacked;
  let zeros: Uint8Array | undefined;
  if (info.codeBits === 4) codes = packNibbles(unpacked as Uint8Array);
  if (spec.asym) zeros = info.codeBits === 8 ? Uint8Array.from(zv) : packNibbles(Uint8Array.from(zv));

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
  const sz = quantSizes(q.spec, rows, cols);
  const scaleBytes = q.scales.length * (q.spec.scaleDType === 'fp32' ? 4 : 2);
  const wantCodes = q.spec.format === 'int8' && !q.spec.asym ? Int8Array : Uint8Array;
  const wantScales = q.spec.scaleDType === 'fp32' ? Float32Array : Uint16Array;
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
  const sv = scaleValues(q);
  const zv = zeroValues(q);
  const vt = valueTable(q.spec); // value of each stored byte / nibble (sym); asym ints use code - z
  const out = new Float32Array(rows * cols);
  const groupOf = groupIndexer(q);
  const byte = storedByteReader(q);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const g = groupOf(r, c);
      const u = byte(i);
      out[i] = Math.fround((vt ? vt[u]! : u - zv[g]!) * sv[g]!);
    }
  }
  return out;
}

/** groupOfWeight(q, r, c) specialized to q's granularity (the same value; hoisted out of per-weight loops). */
export function groupIndexer(q: QuantizedTensor): (r: number, c: number) => number {
  switch (q.spec.granularity) {
    case 'per-tensor':
      return () => 0;
    case 'per-channel':
      return (r) => r;
    case 'per-input-channel':
      return (_r, c) => c;
    case 'group': {
      const gs = q.spec.groupSize;
      const perRow = Math.ceil(q.shape[1] / gs);
      return (r, c) => r * perRow + Math.floor(c / gs);
    }
  }
}

/** storedByte(q, i) specialized to q's code width (the same value). */
export function storedByteReader(q: QuantizedTensor): (i: number) => number {
  const codes = q.codes;
  if (FORMAT_INFO[q.spec.format].codeBits === 8) return (i) => codes[i]! & 0xff;
  return (i) => {
    const b = codes[i >> 1]!;
    return i & 1 ? b >> 4 : b & 15;
  };
}

/**
 * Value (multiplier of s) of every stored byte (8-bit formats) or nibble (4-bit), or null for asym int formats,
 * whose value is code - z. Equal to codeValue() of the decoded code; a table keeps dequantize() fast.
 */
export function valueTable(spec: QuantSpec): Float64Array | null {
  if (spec.asym) return null;
  const info = FORMAT_INFO[spec.format];
  const n = info.codeBits === 8 ? 256 : 16;
  const t = new Float64Array(n);
  for (let u = 0; u < n; u++) {
    const code = spec.format === 'int8' ? (u << 24) >> 24 : spec.format === 'int4' ? u - 8 : u; // int8: signed byte
    t[u] = codeValue(spec, code, 0);
  }
  return t;
}

/** Stored byte (8-bit formats, as unsigned) or nibble (4-bit) of weight i. */
export function storedByte(q: QuantizedTensor, i: number): number {
  if (FORMAT_INFO[q.spec.format].codeBits === 8) return q.codes[i]! & 0xff;
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
  switch (q.spec.granularity) {
    case 'per-tensor':
      return 0;
    case 'per-channel':
      return r;
    case 'per-input-channel':
      return c;
    case 'group': {
      const gs = q.spec.groupSize;
      return r * Math.ceil(q.shape[1] / gs) + Math.floor(c / gs);
    }
  }
}

export { E4M3_MAX };
