/**
 * Comparing two sets of logits (T, V): max |Δlogit|, and the mean over positions of KL(p_ref ‖ p_test) computed
 * from log-softmax in float64. Used to check the TS reference against PyTorch, and the GPU engine against the TS
 * reference.
 */

export interface LogitComparison {
  positions: number;
  vocab: number;
  maxAbsDiff: number;
  /** Position and vocab index of the largest difference. */
  argMaxDiff: [number, number];
  /** mean_t KL(softmax(ref_t) ‖ softmax(test_t)), nats. */
  klMean: number;
  klMax: number;
  /** Fraction of positions where argmax agrees. */
  top1Agreement: number;
}

function logSoftmax(x: Float32Array | Float64Array, off: number, n: number, out: Float64Array): void {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, x[off + i]!);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[off + i]! - m);
  const lse = m + Math.log(s);
  for (let i = 0; i < n; i++) out[i] = x[off + i]! - lse;
}

/**
 * Compare test logits against reference logits, both (T, V) row-major.
 * @example
 * const c = compareLogits(refLogits, tsLogits, 49152);
 * console.log(c.maxAbsDiff, c.klMean);
 */
export function compareLogits(ref: Float32Array, test: Float32Array, vocab: number): LogitComparison {
  if (ref.length !== test.length || ref.length % vocab !== 0) throw new RangeError(`logit sizes differ: ${ref.length} vs ${test.length} (vocab ${vocab})`);
  const T = ref.length / vocab;
  const lp = new Float64Array(vocab);
  const lq = new Float64Array(vocab);
  let maxAbs = 0;
  let arg: [number, number] = [0, 0];
  let klSum = 0;
  let klMax = 0;
  let agree = 0;
  for (let t = 0; t < T; t++) {
    const off = t * vocab;
    let ar = 0;
    let at = 0;
    let nan = false; // a NaN logit: argmax is meaningless there, so the position never counts as agreeing
    for (let i = 0; i < vocab; i++) {
      if (Number.isNaN(ref[off + i]!) || Number.isNaN(test[off + i]!)) nan = true;
      const d = Math.abs(ref[off + i]! - test[off + i]!);
      if (!(d <= maxAbs)) {
        maxAbs = Number.isNaN(d) ? Infinity : d;
        arg = [t, i];
      }
      if (ref[off + i]! > ref[off + ar]!) ar = i;
      if (test[off + i]! > test[off + at]!) at = i;
    }
    if (ar === at && !nan) agree++;
    logSoftmax(ref, off, vocab, lp);
    logSoftmax(test, off, vocab, lq);
    let kl = 0;
    for (let i = 0; i < vocab; i++) kl += Math.exp(lp[i]!) * (lp[i]! - lq[i]!);
    klSum += kl;
    klMax = Math.max(klMax, kl);
  }
  return { positions: T, vocab, maxAbsDiff: maxAbs, argMaxDiff: arg, klMean: klSum / T, klMax, top1Agreement: agree / T };
}
