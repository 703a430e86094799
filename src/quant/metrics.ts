/**
 * Error of a quantized weight against its original, and the scheme's theoretical error bound.
 *
 * errorStats(w, w')   mean/max abs error, relative Frobenius error, SQNR (dB), cosine similarity
 * errorBound(q)       per group: the largest |w - w'| any weight of that group can have after quantize()
 * checkBound(q, w)    per weight: does w' = dequantize(q) lie within the bound of *this* w? Patch verification uses
 *                     it ("the dequantized weight installed in a module must match that same module's original
 *                     within the scheme's error bound"): a weight from another layer, a transposed weight or a
 *                     scale on the wrong axis violates it almost everywhere.
 *
 * The bound, for a weight whose code is q in a group with scale s (quantize.ts header for the arithmetic):
 *   |w - w'| <= s * halfStep(q)  +  [q is an end code] * L * c * ulp(s)  +  |w'| * 2^-23
 *   halfStep   0.5 for int codes; half the larger gap to the neighbouring value for nf4 / fp8 codes
 *   end term   the extreme weight may lie beyond the end value because s was rounded (or nudged) below the
 *              ideal range / L: by at most L * (ideal - s), and ideal - s <= ulp(s) / 2 for a scale rounded to
 *              nearest (c = 0.5, sym with a normal scale), <= 3 ulp(s) once nudged (c = 3: asym, subnormal)
 *   last term  float rounding of w' (only NF4 dequantization rounds at all; 2^-23 covers it with margin)
 *   L = M (sym: 127, 7, 1, 448) or A (asym: 255, 15); ulp(s) = spacing of the scale dtype just above s.
 * Groups whose scale overflowed (s = the dtype's largest value) have no bound (Infinity). Groups with s = 0 are all
 * zero or were flushed by scale underflow (quantize.ts): their weights are within s_min * halfStep(code of 0) of 0,
 * s_min the dtype's smallest positive value (fp16: 2^-25 for int codes).
 */
import { E4M3, NF4, NF4_MID, SCALE_CODECS, scaleUlp } from './numerics.js';
import { type QuantizedTensor, dequantize, scaleBits, scaleValues, storedByte } from './quantize.js';
import { planOf } from './plan.js';

/** Error of an approximation w' of w. */
export interface ErrorStats {
  readonly n: number;
  readonly meanAbsErr: number;
  readonly maxAbsErr: number;
  /** ||w - w'||_F / ||w||_F (0 when both are 0, Infinity when only w is 0). */
  readonly relFrobenius: number;
  /** 10 log10(sum w^2 / sum (w - w')^2); Infinity for an exact copy. */
  readonly sqnrDb: number;
  /** <w, w'> / (|w| |w'|); 1 when both are 0, 0 when exactly one is. */
  readonly cosine: number;
}

/**
 * Error statistics of `approx` against `original` (same length).
 * @example
 * errorStats(w, dequantize(quantize(w, [64, 64], 'int8:per-channel'))).sqnrDb // ~ 40 dB for Gaussian weights
 */
export function errorStats(original: Float32Array, approx: Float32Array): ErrorStats {
  if (original.length !== approx.length) throw new RangeError(`errorStats: lengths ${original.length} and ${approx.length} differ`);
  let sumAbs = 0;
  let maxAbs = 0;
  let ee = 0;
  let ww = 0;
  let aa = 0;
  let wa = 0;
  for (let i = 0; i < original.length; i++) {
    const w = original[i]!;
    const a = approx[i]!;
    const e = w - a;
    sumAbs += Math.abs(e);
    if (Math.abs(e) > maxAbs) maxAbs = Math.abs(e);
    ee += e * e;
    ww += w * w;
    aa += a * a;
    wa += w * a;
  }
  const n = original.length;
  return {
    n,
    meanAbsErr: n === 0 ? 0 : sumAbs / n,
    maxAbsErr: maxAbs,
    relFrobenius: ww === 0 ? (ee === 0 ? 0 : Infinity) : Math.sqrt(ee / ww),
    sqnrDb: ee === 0 ? Infinity : 10 * Math.log10(ww / ee),
    cosine: ww === 0 && aa === 0 ? 1 : ww === 0 || aa === 0 ? 0 : wa / Math.sqrt(ww * aa),
  };
}

// ---- half steps of the table formats

/** NF4_HALF[q]: the farthest x = w/s that still encodes to q lies this far from NF4[q] (end codes: inner side). */
const NF4_HALF: Float64Array = Float64Array.from({ length: 16 }, (_, q) =>
  Math.max(q > 0 ? NF4[q]! - NF4_MID[q - 1]! : 0, q < 15 ? NF4_MID[q]! - NF4[q]! : 0),
);
/** E4M3_HALF[b]: half the larger gap between E4M3[b] and its neighbouring magnitudes. */
const E4M3_HALF: Float64Array = Float64Array.from({ length: 256 }, (_, b) => {
  const m = b & 0x7f;
  if (m === 0x7f) return NaN;
  const v = E4M3[m]!;
  const below = m > 0 ? v - E4M3[m - 1]! : 0;
  const above = m < 0x7e ? E4M3[m + 1]! - v : 0;
  return Math.max(below, above) / 2;
});

function isEndCode(q: QuantizedTensor, code: number): boolean {
  switch (q.spec.format) {
    case 'int8':
    case 'int4':
      return q.spec.asym ? code === 0 || code === planOf(q).levels : Math.abs(code) === planOf(q).levels;
    case 'nf4':
      return code === 0 || code === 15;
    case 'fp8':
      return (code & 0x7f) === 0x7e;
  }
}

function halfStep(q: QuantizedTensor, code: number): number {
  switch (q.spec.format) {
    case 'int8':
    case 'int4':
      return 0.5;
    case 'nf4':
      return NF4_HALF[code]!;
    case 'fp8':
      return E4M3_HALF[code]!;
  }
}

/** The end term L * c * ulp(s) of group g (Infinity when the scale overflowed; 0 for a zero group). */
function endTerm(q: QuantizedTensor, bits: number): number {
  const dt = SCALE_CODECS[q.spec.scaleDType];
  if (bits === 0) return 0;
  if (bits >= dt.maxBits) return Infinity;
  const L = planOf(q).levels;
  const c = !q.spec.asym && bits >= dt.normalBits ? 0.5 : 3;
  return L * c * scaleUlp(q.spec.scaleDType, bits);
}

/** Bound of a group with s = 0 (all zero, or flushed by underflow): s_min * halfStep(code of 0). */
function zeroGroupBound(q: QuantizedTensor): number {
  const dt = SCALE_CODECS[q.spec.scaleDType];
  const zeroCode = q.spec.format === 'nf4' ? 7 : 0;
  return dt.fromBits(dt.minBits) * halfStep(q, zeroCode);
}

const MAX_HALF: Record<string, number> = {
  int8: 0.5,
  int4: 0.5,
  nf4: Math.max(...NF4_HALF),
  fp8: 16, // the step below 448 is 32
};

/**
 * Per-group worst-case |w - w'| of q (header). Index with groupOfWeight(q, r, c).
 * @example
 * const b = errorBound(q); // b[g] ~ s_g / 2 for int8
 */
export function errorBound(q: QuantizedTensor): Float64Array {
  const s = scaleValues(q);
  const bits = scaleBits(q);
  const L = planOf(q).levels;
  const out = new Float64Array(s.length);
  for (let g = 0; g < s.length; g++) {
    out[g] = s[g] === 0 ? zeroGroupBound(q) : s[g]! * MAX_HALF[q.spec.format]! + endTerm(q, bits[g]!) + L * s[g]! * 2 ** -23;
  }
  return out;
}

/** One weight that breaks the bound. */
export interface BoundViolation {
  readonly index: number;
  readonly row: number;
  readonly col: number;
  readonly original: number;
  readonly dequantized: number;
  readonly error: number;
  readonly bound: number;
}

/** Result of checkBound. */
export interface BoundCheck {
  readonly ok: boolean;
  /** Weights with |w - w'| above their bound. */
  readonly violations: number;
  readonly n: number;
  /** max over weights of |w - w'| / bound (0/0 counts as 0); <= 1 when ok. */
  readonly maxRatio: number;
  /** The first few violations in row-major order (at most 5). */
  readonly first: readonly BoundViolation[];
}

/**
 * Check that dequantize(q) matches `original` (the weight q claims to encode) within the per-weight bound.
 * With `dequantized` (what a module actually holds) that tensor is checked instead, and — unless
 * `consistency: false` (a tensor from another quantizer, e.g. a user's own) — its distance to dequantize(q) is
 * added to the error, so a module holding anything but q's own dequantization fails.
 * @example
 * checkBound(quantize(w, [8, 64], 'int8:per-channel'), w).ok // true
 * checkBound(quantize(w, [8, 64], 'int8:per-channel'), otherLayersW).ok // false
 */
export function checkBound(
  q: QuantizedTensor,
  original: Float32Array,
  dequantized?: Float32Array,
  opts: { consistency?: boolean; /** dequantize(q), when the caller has it already (patch verification does) */ reference?: Float32Array } = {},
): BoundCheck {
  const consistency = opts.consistency ?? true;
  const [rows, cols] = q.shape;
  if (original.length !== rows * cols)
    throw new RangeError(`checkBound: original has ${original.length} weights, q is [${rows}, ${cols}]`);
  const dq = opts.reference && opts.reference.length === rows * cols ? opts.reference : dequantize(q);
  if (dequantized && dequantized.length !== dq.length) throw new RangeError('checkBound: dequantized length differs');
  const s = scaleValues(q);
  const bits = scaleBits(q);
  const ends = new Float64Array(s.length);
  for (let g = 0; g < s.length; g++) ends[g] = endTerm(q, bits[g]!);
  // per stored byte / nibble: half step and whether it is an end code (asym: the code itself, 0..A)
  const p = planOf(q);
  const half = new Float64Array(p.storedValues);
  const end = new Uint8Array(p.storedValues);
  for (let u = 0; u < p.storedValues; u++) {
    const code = p.codeOfStored(u);
    half[u] = halfStep(q, code);
    end[u] = isEndCode(q, code) ? 1 : 0;
  }
  const zeroBound = zeroGroupBound(q);
  let violations = 0;
  let maxRatio = 0;
  const first: BoundViolation[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const g = p.groupOf(r, c);
      const u = storedByte(q, i);
      const w2 = dequantized ? dequantized[i]! : dq[i]!;
      let bound = s[g]! * half[u]! + Math.abs(w2) * 2 ** -23;
      if (s[g] === 0) bound = zeroBound;
      else if (end[u]) bound += ends[g]!;
      // `dequantized` (when given) is what a module holds; it must also equal dequantize(q) itself
      const e = Math.abs(original[i]! - w2) + (dequantized && consistency ? Math.abs(w2 - dq[i]!) : 0);
      const ratio = e === 0 ? 0 : e / bound;
      if (ratio > maxRatio) maxRatio = ratio;
      if (e > bound) {
        violations++;
        if (first.length < 5) first.push({ index: i, row: r, col: c, original: original[i]!, dequantized: w2, error: e, bound });
      }
    }
  }
  return { ok: violations === 0, violations, n: rows * cols, maxRatio, first };
}
