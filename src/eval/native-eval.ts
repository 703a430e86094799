/**
 * Perplexity and patch quality on the native CPU engine (any NativeSession: built from a LlamaModel or streamed from
 * a checkpoint), with the same windows and statistics as the tfjs reference (perplexity.ts): strided sliding
 * windows, NLL of each token scored once, summarizeNll. Log-softmax in float64 over each float32 logits row.
 */
import { err, msg } from '../messages.js';
import type { NativeSession } from '../engine/cpu-native.js';
import { summarizeNll, type PerplexityResult } from './perplexity.js';
import { compareLogits } from './compare.js';

/**
 * NLL of `target` under one logits row (float64 log-sum-exp).
 * @example
 * rowNll(new Float32Array([0, 0]), 1) // ln 2
 */
export function rowNll(row: Float32Array, target: number): number {
  let mx = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > mx) mx = row[i]!;
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i]! - mx);
  return mx + Math.log(s) - row[target]!;
}

/**
 * Strided perplexity of token ids on a native engine (window, stride as perplexity.ts; stride default window/2).
 * @example
 * const r = perplexityNative(engine, ids, { window: 512 }); r.ppl
 */
export function perplexityNative(e: NativeSession, ids: readonly number[], o: { window?: number; stride?: number; onProgress?: (done: number, total: number) => void } = {}): PerplexityResult {
  if (ids.length < 2) throw err('E_ARG', msg.badArg('text', 'needs at least 2 tokens to score'));
  const V = e.source.config.vocabSize;
  const window = Math.min(o.window ?? 512, e.source.config.maxPositionEmbeddings);
  const stride = o.stride ?? Math.max(1, Math.floor(window / 2));
  if (!(stride >= 1 && stride <= window)) throw err('E_ARG', msg.badArg('stride', `${stride} must be in [1, window=${window}]`));
  const n = ids.length;
  const nll = new Float32Array(n - 1);
  let scoredUpTo = 0;
  for (let begin = 0; scoredUpTo < n - 1; begin += stride) {
    const end = Math.min(begin + window, n);
    const win = ids.slice(begin, end);
    const firstRow = Math.max(0, scoredUpTo - begin);
    const logits = e.forward(win.slice(0, win.length - 1)); // (T, V)
    for (let r = firstRow; r < win.length - 1; r++) nll[begin + r] = rowNll(logits.subarray(r * V, (r + 1) * V), win[r + 1]!);
    scoredUpTo = end - 1;
    o.onProgress?.(scoredUpTo, n - 1);
  }
  return summarizeNll(nll, window, stride);
}

/**
 * KL(base ‖ patched) per row and top-1 agreement between two (T, V) logits arrays.
 * @example
 * const q = logitsAgreement(baseLogits, patchedLogits, vocab); q.kl_mean
 */
export function logitsAgreement(base: Float32Array, pat: Float32Array, V: number): { kl_mean: number; kl_max: number; top1_agreement: number; rows: number } {
  // one rule for KL and top-1 (compare.ts): a position with a NaN logit never counts as agreeing
  const c = compareLogits(base, pat, V);
  return { kl_mean: c.klMean, kl_max: c.klMax, top1_agreement: c.top1Agreement, rows: c.positions };
}
