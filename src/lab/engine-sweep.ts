/**
 * Sweeps on any engine: one baseline (cached on disk when asked), then for each configuration — a selection and a
 * quant spec — unpatch, patch, open the engine on the patched model, score it against the baseline with the
 * llama.cpp-grade statistics (src/eval/kld.ts) and compare greedy continuations. Rows are independent (every step
 * starts from the checkpoint's weights).
 *
 * @example
 * const rows = await engineSweep(model, { engine: 'native', ids, configs: [{ select: 'first:10', quant: 'int8:per-channel' }] });
 * rows[0].kld.mean
 */
import type { LlamaModel } from '../model/llama.js';
import { generate } from '../model/generate.js';
import { openEngine } from './open-engine.js';
import type { EngineName } from '../engine/engine.js';
import { unpatch } from './patch.js';
import { verdict, type Verdict } from '../eval/quality.js';
import { baselineLogits } from '../eval/base-logits.js';
import { scoreAgainstBaseline } from '../eval/quality-report.js';
import type { KldSummary } from '../eval/kld.js';

export interface EngineSweepConfig {
  select: string;
  quant: string;
  /** row label (default the selection) */
  label?: string | number;
}

export interface EngineSweepRow {
  layers: string | number;
  select: string;
  quant: string;
  engine: EngineName;
  patched_modules: number;
  ratio: number;
  tokens: number;
  baseline_ppl: number;
  ppl: number;
  ppl_ratio: number;
  ln_ppl_ratio: number;
  kld: KldSummary;
  kl_mean: number;
  same_top_p: number;
  top1_agreement: number;
  rms_dp: number;
  verdict: Verdict;
  first_divergence: number | null;
  output: string;
  roundings: string[];
  time_s: number;
}

export interface EngineSweepOptions {
  engine: EngineName;
  modes?: string;
  /** token ids scored (strided windows) */
  ids: number[];
  configs: EngineSweepConfig[];
  window?: number;
  stride?: number;
  /** greedy continuation length from the first min(window, 64) tokens (default 12) */
  greedyTokens?: number;
  baseCacheDir?: string;
  onRow?: (row: EngineSweepRow) => void;
}

/**
 * Run the configurations (see the module comment); the model is left unpatched.
 * @example
 * await engineSweep(model, { engine: 'tfjs', ids, configs: [{ select: 'all', quant: 'nf4:group=64' }] });
 */
export async function engineSweep(model: LlamaModel, o: EngineSweepOptions): Promise<{ rows: EngineSweepRow[]; baselineCached: boolean }> {
  const window = Math.min(o.window ?? 512, model.config.maxPositionEmbeddings);
  const stride = o.stride ?? Math.max(1, Math.floor(window / 2));
  const prompt = o.ids.slice(0, Math.min(window, 64));
  const n = o.greedyTokens ?? 12;
  const decode = (ids: number[]) => (model.tokenizer ? model.tokenizer.decode(ids) : ids.join(' '));
  unpatch(model);
  const be = await openEngine(model, { engine: o.engine, modes: o.modes });
  let base: Awaited<ReturnType<typeof baselineLogits>>;
  let baseGreedy: number[];
  try {
    base = await baselineLogits(be, o.ids, { window, stride, cacheDir: o.baseCacheDir });
    baseGreedy = (await generate(be, prompt, { maxTokens: n, stopIds: [] })).ids;
  } finally {
    be.dispose();
  }
  const rows: EngineSweepRow[] = [];
  for (const c of o.configs) {
    const t0 = performance.now();
    unpatch(model);
    const e = await openEngine(model, { engine: o.engine, modes: o.modes, patch: { select: c.select, quant: c.quant } });
    try {
      const s = await scoreAgainstBaseline(e, base.base);
      const greedy = (await generate(e, prompt, { maxTokens: n, stopIds: [] })).ids;
      const d = greedy.findIndex((t, i) => t !== baseGreedy[i]);
      const r = e.patchReport!;
      const row: EngineSweepRow = {
        layers: c.label ?? c.select,
        select: c.select,
        quant: r.quant,
        engine: o.engine,
        patched_modules: r.modules.length,
        ratio: r.ratio,
        tokens: s.tokens,
        baseline_ppl: s.baseline_ppl,
        ppl: s.ppl,
        ppl_ratio: s.ppl_ratio,
        ln_ppl_ratio: s.ln_ppl_ratio,
        kld: s.kld,
        kl_mean: s.kld.mean,
        same_top_p: s.same_top_p,
        top1_agreement: s.same_top_p,
        rms_dp: s.rms_dp,
        verdict: verdict({ klMean: s.kld.mean, top1: s.same_top_p, pplRatio: s.ppl_ratio, sameGreedy: d < 0 }),
        first_divergence: d < 0 ? null : d,
        output: decode(greedy),
        roundings: e.info().roundings,
        time_s: (performance.now() - t0) / 1000,
      };
      rows.push(row);
      o.onRow?.(row);
    } finally {
      e.dispose();
    }
  }
  unpatch(model);
  return { rows, baselineCached: base.cached };
}
