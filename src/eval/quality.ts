/**
 * Quality of a patched model against its unpatched baseline on the same tokens.
 *
 *   const base = runBaseline(model, tokens);      // BEFORE patching (or after unpatch)
 *   patch(model, { select: 'all', quant: 'int8:per-channel' });
 *   const r = compareToBaseline(model, base);     // { ppl, baselinePpl, klMean, top1Agreement, verdict, … }
 *
 * Metrics (all on the same token sequence, T tokens, vocab V):
 *   ppl / baselinePpl   exp(mean NLL of token t+1 given tokens <= t), t = 0..T-2
 *   klMean              mean over positions of KL(p_base ‖ p_patched), nats (eval/compare.ts, float64)
 *   top1Agreement       fraction of positions whose argmax agrees
 *   firstDivergence     greedy continuation (N tokens) of both; the first index where they differ, or null
 *   stats               llama.cpp's --kl-divergence statistics over the T-1 scored positions (eval/kld.ts): the
 *                        uncertainties (kld.stderr, same_top_p_stderr, ln_ppl_ratio_stderr) of the numbers above
 *   blockTrace          per block l: ||x_l' - x_l||_F / ||x_l||_F, x_l the residual stream after block l — the direct
 *                        test of "error amplification": it would show as a ratio growing block over block
 *   verdict              PERFECT / MINOR / MAJOR (VERDICT_THRESHOLDS, below)
 */
import { compareLogits } from './compare.js';
import { QualityAccumulator, type QualityStats } from './kld.js';
import { logSumExp } from './windows.js';
import { progress } from '../viz/progress.js';

/** Verdict thresholds. PERFECT: indistinguishable. MINOR: normal quantization noise. MAJOR: anything worse. */
export const VERDICT_THRESHOLDS = {
  /** PERFECT needs identical greedy continuation, top-1 agreement 1 and klMean <= this (nats). */
  perfectKl: 1e-4,
  /** MINOR needs klMean <= this (nats) … */
  minorKl: 0.05,
  /** … top-1 agreement >= this … */
  minorTop1: 0.85,
  /** … and ppl / baselinePpl <= this (+5 %). */
  minorPplRatio: 1.05,
} as const;

export type Verdict = 'PERFECT' | 'MINOR' | 'MAJOR';

/**
 * Verdict from the metrics (thresholds above).
 * @example
 * verdict({ klMean: 0.003, top1: 0.97, pplRatio: 1.004, sameGreedy: false }) // 'MINOR'
 */
export function verdict(m: { klMean: number; top1: number; pplRatio: number; sameGreedy: boolean }): Verdict {
  const t = VERDICT_THRESHOLDS;
  if (!Number.isFinite(m.klMean) || !Number.isFinite(m.pplRatio)) return 'MAJOR';
  if (m.sameGreedy && m.top1 === 1 && m.klMean <= t.perfectKl) return 'PERFECT';
  if (m.klMean <= t.minorKl && m.top1 >= t.minorTop1 && m.pplRatio <= t.minorPplRatio) return 'MINOR';
  return 'MAJOR';
}

/** The forward API quality needs (LlamaModel implements it). */
export interface ForwardModel {
  readonly config: { readonly vocabSize: number; readonly eosTokenId?: number | null };
  forward(
    tokens: readonly number[],
    cache?: never,
    opts?: { lastOnly?: boolean; collectResiduals?: boolean },
  ): { logits: { dataSync(): ArrayLike<number>; dispose(): void }; residuals?: Float32Array[] };
}
/** Optional KV-cache API for fast greedy continuation. */
interface CachedModel {
  newCache(): unknown;
  disposeCache(c: unknown): void;
  forward(tokens: readonly number[], cache?: unknown, opts?: { lastOnly?: boolean }): { logits: { dataSync(): ArrayLike<number>; dispose(): void } };
}

export interface Baseline {
  tokens: number[];
  /** (T, V) row-major. */
  logits: Float32Array;
  residuals: Float32Array[];
  ppl: number;
  greedy: number[];
}

export interface QualityReport {
  baselinePpl: number;
  ppl: number;
  pplRatio: number;
  klMean: number;
  klMax: number;
  top1Agreement: number;
  verdict: Verdict;
  /** First index of the greedy continuation where patched differs from baseline, or null. */
  firstDivergence: { index: number; baseline: number; patched: number } | null;
  greedy: number[];
  baselineGreedy: number[];
  /** Relative Frobenius error of the residual stream after each block. */
  blockTrace: number[];
  /**
   * The same comparison with its uncertainties (eval/kld.ts, llama.cpp's rules) over the T-1 positions that have a
   * target: kld.mean ± kld.stderr, same_top_p ± same_top_p_stderr, ln_ppl_ratio ± ln_ppl_ratio_stderr. klMean and
   * top1Agreement above also count the last position (no target), so they differ from these in the last digits.
   */
  stats: QualityStats;
}

/**
 * The eval/kld.ts statistics of patched logits against base logits, both (T, V), on next-token targets `tokens`.
 * @example
 * scoredStats(base.logits, patchedLogits, base.tokens, V).kld.stderr
 */
export function scoredStats(baseLogits: Float32Array, logits: Float32Array, tokens: readonly number[], vocab: number): QualityStats {
  const acc = new QualityAccumulator(vocab);
  const lp = new Float64Array(vocab);
  for (let t = 0; t + 1 < tokens.length; t++) {
    const row = baseLogits.subarray(t * vocab, (t + 1) * vocab);
    const lse = logSumExp(row);
    for (let i = 0; i < vocab; i++) lp[i] = row[i]! - lse;
    acc.add(lp, logits.subarray(t * vocab, (t + 1) * vocab), tokens[t + 1]!, lse - row[tokens[t + 1]!]!);
  }
  return acc.finish();
}

/** Perplexity of next-token prediction from (T, V) logits. */
export function perplexityFromLogits(logits: Float32Array, tokens: readonly number[], vocab: number): number {
  let nll = 0;
  const T = tokens.length;
  for (let t = 0; t + 1 < T; t++) {
    const off = t * vocab;
    let m = -Infinity;
    for (let i = 0; i < vocab; i++) m = Math.max(m, logits[off + i]!);
    let s = 0;
    for (let i = 0; i < vocab; i++) s += Math.exp(logits[off + i]! - m);
    nll += m + Math.log(s) - logits[off + tokens[t + 1]!]!;
  }
  return T < 2 ? NaN : Math.exp(nll / (T - 1));
}

function argmax(x: ArrayLike<number>, off: number, n: number): number {
  let a = 0;
  for (let i = 1; i < n; i++) if (x[off + i]! > x[off + a]!) a = i;
  return a;
}

/** Greedy continuation of `tokens` by `n` tokens (KV cache when the model has one). */
export function greedyContinuation(model: ForwardModel, tokens: readonly number[], n: number, onToken?: () => void): number[] {
  const V = model.config.vocabSize;
  const out: number[] = [];
  const cm = model as unknown as CachedModel;
  if (typeof cm.newCache === 'function') {
    const cache = cm.newCache();
    try {
      let step: readonly number[] = tokens;
      for (let i = 0; i < n; i++) {
        const { logits } = cm.forward(step, cache, { lastOnly: true });
        const next = argmax(logits.dataSync(), 0, V);
        logits.dispose();
        out.push(next);
        onToken?.();
        step = [next];
      }
    } finally {
      cm.disposeCache(cache);
    }
    return out;
  }
  const seq = [...tokens];
  for (let i = 0; i < n; i++) {
    const { logits } = model.forward(seq, undefined, { lastOnly: true });
    const next = argmax(logits.dataSync(), 0, V);
    logits.dispose();
    out.push(next);
    onToken?.();
    seq.push(next);
  }
  return out;
}

function run(model: ForwardModel, tokens: readonly number[]): { logits: Float32Array; residuals: Float32Array[] } {
  const r = model.forward(tokens, undefined, { collectResiduals: true });
  const logits = Float32Array.from(r.logits.dataSync());
  r.logits.dispose();
  return { logits, residuals: r.residuals ?? [] };
}

/**
 * Baseline logits, residuals, perplexity and greedy continuation of the model as it is now (unpatched).
 * @example
 * const base = runBaseline(model, tokenizer.encode(text), { greedyTokens: 16 });
 */
export function runBaseline(model: ForwardModel, tokens: readonly number[], opts: { greedyTokens?: number } = {}): Baseline {
  const n = opts.greedyTokens ?? 16;
  const task = progress.start('baseline', 1 + n, 'passes');
  const { logits, residuals } = run(model, tokens);
  task.tick();
  const base = {
    tokens: [...tokens],
    logits,
    residuals,
    ppl: perplexityFromLogits(logits, tokens, model.config.vocabSize),
    greedy: greedyContinuation(model, tokens, n, () => task.tick()),
  };
  task.done();
  return base;
}

/** Relative Frobenius error of b against a. */
function relErr(a: Float32Array, b: Float32Array): number {
  let ee = 0;
  let aa = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    ee += d * d;
    aa += a[i]! * a[i]!;
  }
  return aa === 0 ? (ee === 0 ? 0 : Infinity) : Math.sqrt(ee / aa);
}

/**
 * Compare the model as it is now (patched) with a baseline taken on the same tokens.
 * @example
 * compareToBaseline(model, base).verdict // 'MINOR' for int8 per-channel on every linear
 */
export function compareToBaseline(model: ForwardModel, base: Baseline): QualityReport {
  const V = model.config.vocabSize;
  const task = progress.start('compare to baseline', 1 + base.greedy.length, 'passes');
  const { logits, residuals } = run(model, base.tokens);
  task.tick();
  const cmp = compareLogits(base.logits, logits, V);
  const ppl = perplexityFromLogits(logits, base.tokens, V);
  const greedy = greedyContinuation(model, base.tokens, base.greedy.length, () => task.tick());
  task.done();
  const d = greedy.findIndex((t, i) => t !== base.greedy[i]);
  const pplRatio = ppl / base.ppl;
  return {
    baselinePpl: base.ppl,
    ppl,
    pplRatio: pplRatio,
    klMean: cmp.klMean,
    klMax: cmp.klMax,
    top1Agreement: cmp.top1Agreement,
    verdict: verdict({ klMean: cmp.klMean, top1: cmp.top1Agreement, pplRatio, sameGreedy: d < 0 }),
    firstDivergence: d < 0 ? null : { index: d, baseline: base.greedy[d]!, patched: greedy[d]! },
    greedy,
    baselineGreedy: base.greedy,
    blockTrace: base.residuals.map((r, l) => (residuals[l] ? relErr(r, residuals[l]!) : NaN)),
    stats: scoredStats(base.logits, logits, base.tokens, V),
  };
}
