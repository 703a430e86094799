/**
 * Score a (patched) engine against a baseline taken on the same tokens with the same windows: the llama.cpp-grade
 * statistics of src/eval/kld.ts over every scored token.
 *
 * @example
 * const { base } = await baselineLogits(baseEngine, ids, { window: 512, stride: 256 });
 * const s = await scoreAgainstBaseline(patchedEngine, base); // s.kld.mean, s.same_top_p, s.ppl_ratio, …
 */
import { err, msg } from '../messages.js';
import type { Engine } from '../engine/engine.js';
import type { BaseLogits } from './base-logits.js';
import { QualityAccumulator, type QualityStats } from './kld.js';
import { forEachScoredRow } from './windows.js';

/**
 * Run the baseline's windows on `engine` and compare every scored row with the baseline's.
 * @example
 * (await scoreAgainstBaseline(engine, base)).kld.p99
 */
export async function scoreAgainstBaseline(engine: Engine, base: BaseLogits, onProgress?: (d: number, t: number) => void): Promise<QualityStats> {
  const V = engine.config.vocabSize;
  if (V !== base.vocab) throw err('E_ARG', msg.badArg('baseline', `vocab ${base.vocab} differs from the engine's ${V}`));
  const acc = new QualityAccumulator(V);
  await forEachScoredRow(engine, base.ids, base.window, base.stride, (row, target, i) => {
    acc.add(base.logProbs.subarray((i - 1) * V, i * V), row, target, base.nll[i - 1]!);
  }, onProgress);
  return acc.finish();
}
