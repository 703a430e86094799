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

/** What every row of a sweep is scored against: the baseline log-probabilities and greedy continuation. */
export interface SweepBaseline {
  base: Awaited<ReturnType<typeof baselineLogits>>['base'];
  cached: boolean;
  prompt: number[];
  greedy: number[];
  greedyTokens: number;
}

/**
 * The baseline of a sweep (unpatched model on the engine): computed once, then shared by every row — in one sweep,
 * or by every point a job worker runs on the same model, text and engine (src/jobs/run.ts).
 * @example
 * const b = await sweepBaseline(model, { engine: 'native', ids });
 * const row = await sweepRow(model, b, { engine: 'native' }, { select: 'all', quant: 'int8' });
 */
export async function sweepBaseline(model: LlamaModel, o: Omit<EngineSweepOptions, 'configs' | 'onRow'>): Promise<SweepBaseline> {
  const window = Math.min(o.window ?? 512, model.config.maxPositionEmbeddings);
  const stride = o.stride ?? Math.max(1, Math.floor(window / 2));
  const prompt = o.ids.slice(0, Math.min(window, 64));
  const greedyTokens = o.greedyTokens ?? 12;
  unpatch(model);
  const be = await openEngine(model, { engine: o.engine, modes: o.modes });
  try {
    const base = await baselineLogits(be, o.ids, { window, stride, cacheDir: o.baseCacheDir });
    const greedy = (await generate(be, prompt, { maxTokens: greedyTokens, stopIds: [] })).ids;
    return { base: base.base, cached: base.cached, prompt, greedy, greedyTokens };
  } finally {
    be.dispose();
  }
}

/**
 * One row: unpatch, patch with `c`, open the engine, score against the baseline, compare greedy continuations; the
 * model is left unpatched.
 * @example
 * await sweepRow(model, baseline, { engine: 'native' }, { select: 'first:5', quant: 'int8:per-channel', label: 5 });
 */
export async function sweepRow(model: LlamaModel, b: SweepBaseline, o: { engine: EngineName; modes?: string }, c: EngineSweepConfig): Promise<EngineSweepRow> {
  const decode = (ids: number[]) => (model.tokenizer ? model.tokenizer.decode(ids) : ids.join(' '));
  const t0 = performance.now();
  unpatch(model);
  const e = await openEngine(model, { engine: o.engine, modes: o.modes, patch: { select: c.select, quant: c.quant } });
  try {
    const s = await scoreAgainstBaseline(e, b.base);
    const greedy = (await generate(e, b.prompt, { maxTokens: b.greedyTokens, stopIds: [] })).ids;
    const d = greedy.findIndex((t, i) => t !== b.greedy[i]);
    const r = e.patchReport!;
    return {
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
  } finally {
    e.dispose();
    unpatch(model);
  }
}

/**
 * Run the configurations (see the module comment); the model is left unpatched.
 * @example
 * await engineSweep(model, { engine: 'tfjs', ids, configs: [{ select: 'all', quant: 'nf4:group=64' }] });
 */
export async function engineSweep(model: LlamaModel, o: EngineSweepOptions): Promise<{ rows: EngineSweepRow[]; baselineCached: boolean }> {
  const b = await sweepBaseline(model, o);
  const rows: EngineSweepRow[] = [];
  for (const c of o.configs) {
    const row = await sweepRow(model, b, o, c);
    rows.push(row);
    o.onRow?.(row);
  }
  return { rows, baselineCached: b.cached };
}
