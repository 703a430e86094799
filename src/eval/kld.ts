/**
 * The quality report of a patched model against its baseline, with llama.cpp's `perplexity --kl-divergence`
 * statistics (tools/perplexity/perplexity.cpp), per scored token t of the same token sequence (n tokens scored):
 *
 *   nll_q(t), nll_b(t)    −ln p(target) under the patched (Q) and base distributions
 *   kld(t)                Σ_i p_b(i)·(ln p_b(i) − ln p_q(i))  (float64 over the full vocabulary; llama.cpp drops base
 *                         log-probs below −16 and rounds them to 16 bits, we keep them all: differences of that order)
 *   Δp(t)                 p_q(target) − p_b(target)
 *   same top              argmax p_q == argmax p_b (first index on ties, as llama.cpp; never at a NaN logit)
 *
 * and over the tokens ("± x" is llama.cpp's mean_and_uncertainty: sqrt((mean(x²) − mean(x)²) / (n − 1))):
 *
 *   kld.mean ± kld.stderr, kld.median / p90 / p99 / p999 / max   (percentile: linear interpolation at f·(n−1))
 *   same_top_p ± sqrt(p(1−p)/(n−1))
 *   mean_dp ± stderr, rms_dp = sqrt(mean(Δp²)) ± 0.5/rms_dp · stderr(Δp²)
 *   ppl = exp(mean nll_q) with its 95% interval exp(mean ± 1.96·se), the same for baseline_ppl
 *   ln_ppl_ratio = mean(nll_q − nll_b) ± stderr of the paired differences; ppl_ratio = exp(ln_ppl_ratio)
 *   nll_correlation   Pearson r of nll_q and nll_b (llama.cpp's Cor(ln(PPL(Q)), ln(PPL(base))))
 *   p_correlation     Pearson r of p_q(target) and p_b(target)
 *
 * @example
 * const acc = new QualityAccumulator(vocab);
 * acc.add(baseLogProbs, patchedLogits, target, baseNll); // per scored token
 * const s = acc.finish(); // { kld: { mean, stderr, median, p90, p99, p999, max }, same_top_p, … }
 */
import { logSumExp, nllStats } from './windows.js';

export interface KldSummary {
  mean: number;
  stderr: number;
  median: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface QualityStats {
  /** tokens scored */
  tokens: number;
  kld: KldSummary;
  same_top_p: number;
  same_top_p_stderr: number;
  mean_dp: number;
  mean_dp_stderr: number;
  rms_dp: number;
  rms_dp_stderr: number;
  ppl: number;
  ppl_ci95: [number, number];
  baseline_ppl: number;
  baseline_ppl_ci95: [number, number];
  ppl_ratio: number;
  ln_ppl_ratio: number;
  ln_ppl_ratio_stderr: number;
  nll_correlation: number;
  p_correlation: number;
}

/**
 * llama.cpp's mean_and_uncertainty: mean and sqrt((Σx²/n − mean²)/(n − 1)) (0 for n < 2, never NaN from rounding).
 * @example
 * meanAndUncertainty(6, 14, 3) // [2, 0.577…]
 */
export function meanAndUncertainty(sum: number, sum2: number, n: number): [number, number] {
  const mean = sum / n;
  const v = sum2 / n - mean * mean;
  return [mean, n > 1 ? Math.sqrt(Math.max(0, v) / (n - 1)) : 0];
}

/**
 * Percentile of sorted values by linear interpolation at fraction·(n − 1) (llama.cpp's rule).
 * @example
 * percentileSorted([1, 2, 3, 4], 0.5) // 2.5
 */
export function percentileSorted(sorted: ArrayLike<number>, fraction: number): number {
  const n = sorted.length;
  if (fraction <= 0) return sorted[0]!;
  if (fraction >= 1) return sorted[n - 1]!;
  const p = fraction * (n - 1);
  const i = Math.floor(p);
  const f = p - i;
  return (1 - f) * sorted[i]! + f * sorted[Math.min(i + 1, n - 1)]!;
}

function pearson(sx: number, sy: number, sxx: number, syy: number, sxy: number, n: number): number {
  const cov = sxy / n - (sx / n) * (sy / n);
  const vx = sxx / n - (sx / n) ** 2;
  const vy = syy / n - (sy / n) ** 2;
  return vx > 0 && vy > 0 ? cov / Math.sqrt(vx * vy) : NaN;
}

/** Streaming accumulator of the statistics above (one add() per scored token). */
export class QualityAccumulator {
  readonly #V: number;
  readonly #kld: number[] = [];
  readonly #lq: Float64Array;
  #n = 0;
  #sumKld = 0;
  #sumKld2 = 0;
  #same = 0;
  #sumDp = 0;
  #sumDp2 = 0;
  #sumDp4 = 0;
  #nllQ: number[] = [];
  #nllB: number[] = [];
  #sq = [0, 0, 0, 0, 0]; // Σpq, Σpb, Σpq², Σpb², Σpq·pb
  #sn = [0, 0, 0, 0, 0]; // the same for nll

  constructor(vocab: number) {
    this.#V = vocab;
    this.#lq = new Float64Array(vocab);
  }

  /**
   * One scored token: the base log-probabilities (V, normalized: ln p_b), the patched logits (V, any offset), the
   * target token, and the base NLL exactly as the baseline perplexity computed it (so baseline_ppl equals it).
   */
  add(baseLogProbs: ArrayLike<number>, patchedLogits: ArrayLike<number>, target: number, baseNll: number): void {
    const V = this.#V;
    const lse = logSumExp(patchedLogits);
    let kld = 0;
    let aq = 0;
    let ab = 0;
    let nan = false; // a NaN logit: argmax means nothing there, so the position never counts as the same top token
    for (let i = 0; i < V; i++) {
      const lq = patchedLogits[i]! - lse;
      const lb = baseLogProbs[i]!;
      if (Number.isNaN(patchedLogits[i]!) || Number.isNaN(lb)) nan = true;
      if (lb > -Infinity) kld += Math.exp(lb) * (lb - lq);
      if (patchedLogits[i]! > patchedLogits[aq]!) aq = i;
      if (lb > baseLogProbs[ab]!) ab = i;
    }
    const nllQ = lse - patchedLogits[target]!;
    const pq = Math.exp(-nllQ);
    const pb = Math.exp(-baseNll);
    const dp = pq - pb;
    this.#n++;
    this.#kld.push(kld);
    this.#sumKld += kld;
    this.#sumKld2 += kld * kld;
    if (aq === ab && !nan) this.#same++;
    this.#sumDp += dp;
    this.#sumDp2 += dp * dp;
    this.#sumDp4 += dp * dp * dp * dp;
    this.#nllQ.push(nllQ);
    this.#nllB.push(baseNll);
    const acc = (s: number[], x: number, y: number) => {
      s[0]! += x;
      s[1]! += y;
      s[2]! += x * x;
      s[3]! += y * y;
      s[4]! += x * y;
    };
    acc(this.#sq, pq, pb);
    acc(this.#sn, nllQ, baseNll);
  }

  /** The statistics over every token added. */
  finish(): QualityStats {
    const n = this.#n;
    const sorted = Float64Array.from(this.#kld).sort();
    const [kMean, kErr] = meanAndUncertainty(this.#sumKld, this.#sumKld2, n);
    const same = this.#same / n;
    const [dpMean, dpErr] = meanAndUncertainty(this.#sumDp, this.#sumDp2, n);
    const [mse, mseErr] = meanAndUncertainty(this.#sumDp2, this.#sumDp4, n);
    const rms = Math.sqrt(mse);
    const q = nllStats(this.#nllQ);
    const b = nllStats(this.#nllB);
    let sd = 0;
    let sd2 = 0;
    for (let i = 0; i < n; i++) {
      const d = this.#nllQ[i]! - this.#nllB[i]!;
      sd += d;
      sd2 += d * d;
    }
    const [lnRatio, lnErr] = meanAndUncertainty(sd, sd2, n);
    const [a, c, e, f, g] = this.#sq as [number, number, number, number, number];
    const [a2, c2, e2, f2, g2] = this.#sn as [number, number, number, number, number];
    return {
      tokens: n,
      kld: {
        mean: kMean,
        stderr: kErr,
        median: percentileSorted(sorted, 0.5),
        p90: percentileSorted(sorted, 0.9),
        p99: percentileSorted(sorted, 0.99),
        p999: percentileSorted(sorted, 0.999),
        max: sorted[n - 1]!,
      },
      same_top_p: same,
      same_top_p_stderr: n > 1 ? Math.sqrt((same * (1 - same)) / (n - 1)) : 0,
      mean_dp: dpMean,
      mean_dp_stderr: dpErr,
      rms_dp: rms,
      rms_dp_stderr: rms > 0 ? (0.5 / rms) * mseErr : 0,
      ppl: q.ppl,
      ppl_ci95: q.ci95,
      baseline_ppl: b.ppl,
      baseline_ppl_ci95: b.ci95,
      ppl_ratio: Math.exp(lnRatio),
      ln_ppl_ratio: lnRatio,
      ln_ppl_ratio_stderr: lnErr,
      nll_correlation: pearson(a2, c2, e2, f2, g2, n),
      p_correlation: pearson(a, c, e, f, g, n),
    };
  }
}
