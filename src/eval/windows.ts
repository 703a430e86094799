/**
 * The one perplexity rule (Hugging Face's strided sliding window), used by perplexity, the quality report and the
 * base-logit cache on every engine: windows of `window` tokens start every `stride` tokens; each window scores only
 * the tokens no earlier window scored, so every token after the first is scored exactly once, with at least
 * `window - stride` tokens of context (except near the start). The first token is never scored (nothing predicts it).
 * A window starts at most at the last token already scored, so stride = window steps by window − 1 (no token skipped).
 * Each window is one engine call (a batched prefill on the native and tfjs engines) asking only for the rows it scores.
 *
 * @example
 * windowPlan(1000, 512, 256) // [{ begin: 0, end: 512, firstRow: 0 }, { begin: 256, end: 768, firstRow: 255 }, …]
 */
import { err, msg } from '../messages.js';
import type { Engine } from '../engine/engine.js';

export interface ScoreWindow {
  /** tokens [begin, end) are fed (the last one only as a target) */
  begin: number;
  end: number;
  /** first logits row of the window that is scored: row r predicts token begin + r + 1 */
  firstRow: number;
}

/**
 * The windows that score tokens 1..n-1 of n tokens.
 * @example
 * windowPlan(10, 4, 2).length // 5
 */
export function windowPlan(n: number, window: number, stride: number): ScoreWindow[] {
  if (!(Number.isInteger(window) && window >= 2)) throw err('E_ARG', msg.badArg('window', `${window} must be an integer >= 2`));
  if (!(Number.isInteger(stride) && stride >= 1 && stride <= window)) throw err('E_ARG', msg.badArg('stride', `${stride} must be in [1, window=${window}]`));
  const out: ScoreWindow[] = [];
  let scoredUpTo = 0; // tokens [1, scoredUpTo] scored
  for (let begin = 0; scoredUpTo < n - 1; ) {
    const end = Math.min(begin + window, n);
    out.push({ begin, end, firstRow: Math.max(0, scoredUpTo - begin) });
    scoredUpTo = end - 1;
    // the next window must contain the last scored token (it predicts the first unscored one): with stride = window
    // the step is window - 1, else a token per window would go unscored
    begin = Math.min(begin + stride, scoredUpTo);
  }
  return out;
}

/**
 * Run every window on the engine and hand each scored logits row (V values) to `onRow` with its target token and
 * the target's index in `ids` (1..n-1, increasing). Yields to the event loop between windows.
 * @example
 * await forEachScoredRow(engine, ids, 512, 256, (row, target, i) => { nll[i - 1] = tokenNllOfRow(row, target); });
 */
export async function forEachScoredRow(
  engine: Engine,
  ids: readonly number[],
  window: number,
  stride: number,
  onRow: (row: Float32Array, target: number, index: number) => void,
  onProgress?: (scored: number, total: number) => void,
): Promise<void> {
  const V = engine.config.vocabSize;
  for (const w of windowPlan(ids.length, window, stride)) {
    const input = ids.slice(w.begin, w.end - 1);
    const logits = engine.forward(input, undefined, { logitsFrom: w.firstRow });
    const rows = input.length - w.firstRow;
    if (logits.length !== rows * V) throw err('E_ENGINE', msg.badArg('logits', `${engine.engine} engine returned ${logits.length} values for ${rows} rows of ${V}`));
    for (let r = 0; r < rows; r++) {
      const index = w.begin + w.firstRow + r + 1;
      onRow(logits.subarray(r * V, (r + 1) * V), ids[index]!, index);
    }
    onProgress?.(w.end - 1, ids.length - 1);
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * log Σ exp(row), in float64 with the max subtracted.
 * @example
 * logSumExp(Float32Array.of(0, 0)) // Math.LN2
 */
export function logSumExp(row: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > m) m = row[i]!;
  if (m === -Infinity || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i]! - m);
  return m + Math.log(s);
}

/**
 * Negative log-likelihood (nats, float64) of `target` under softmax(row).
 * @example
 * rowNll(Float32Array.of(0, 0), 1) // Math.LN2
 */
export function rowNll(row: ArrayLike<number>, target: number): number {
  return logSumExp(row) - row[target]!;
}

/**
 * The one perplexity rule over per-token NLLs: mean, its standard error, perplexity = e^mean and its 95% interval
 * e^(mean ± 1.96·se) (summed in float64).
 * @example
 * nllStats([1, 2, 3]).ppl // e^2
 */
export function nllStats(nll: ArrayLike<number>): { mean: number; se: number; ppl: number; ci95: [number, number] } {
  const n = nll.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += nll[i]!;
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (nll[i]! - mean) ** 2;
  const se = n > 1 ? Math.sqrt(ss / (n - 1) / n) : 0;
  return { mean, se, ppl: Math.exp(mean), ci95: [Math.exp(mean - 1.96 * se), Math.exp(mean + 1.96 * se)] };
}
