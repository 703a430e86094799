/**
 * codecllm/eval: perplexity with a confidence interval, logit comparison, and quality verdicts against a baseline.
 *
 * @example
 * import { runBaseline, compareToBaseline } from 'codecllm/eval';
 * const base = runBaseline(model, tokens); compareToBaseline(model, base).verdict;
 */
export { perplexity, tokenNll, summarizeNll, summarizeNll64, scoringIds } from './perplexity.js';
export type { PerplexityResult, PerplexityOptions } from './perplexity.js';
export { compareLogits } from './compare.js';
export type { LogitComparison } from './compare.js';
export { VERDICT_THRESHOLDS, verdict, runBaseline, compareToBaseline, greedyContinuation, perplexityFromLogits } from './quality.js';
export type { Verdict, Baseline, QualityReport, ForwardModel } from './quality.js';
export { windowPlan, forEachScoredRow, logSumExp, rowNll } from './windows.js';
export type { ScoreWindow } from './windows.js';
export { QualityAccumulator, meanAndUncertainty, percentileSorted } from './kld.js';
export type { QualityStats, KldSummary } from './kld.js';
export { baselineLogits, computeBaseline, saveBaseline, loadBaseline, baseCacheKey, BASE_CACHE_VERSION } from './base-logits.js';
export type { BaseLogits } from './base-logits.js';
export { scoreAgainstBaseline } from './quality-report.js';
