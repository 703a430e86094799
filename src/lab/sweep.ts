/**
 * The seed's experiments as library functions, each returning plain rows (and arquero tables via toTable):
 *
 *   progressiveSweep   patch the first 1, 5, 10, 20, … all linear layers (module order, as the seed counted them)
 *                      and compare each with the unpatched baseline on the same tokens
 *   partialVsAll       the same scheme on each block alone vs all blocks: does error in one place amplify?
 *   debugMatrix        granularity x scale dtype x symmetry on all layers (the quantization-debug matrix)
 *
 * Every step starts from the original weights (unpatch), so the rows are independent. Row fields: layers, ratio, ppl,
 * klMean, top1Agreement, verdict, output, timeS (`codecllm sweep … --json` prints them in snake_case, cli/json.ts).
 */
import * as aq from 'arquero';

import { err, msg } from '../messages.js';
import { type PatchableModel, patch, unpatch } from './patch.js';
import { type Baseline, type ForwardModel, type QualityReport, compareToBaseline, runBaseline } from '../eval/quality.js';
import { GRANULARITIES, type QuantSpec, SCALE_DTYPES, formatSpec, toSpec } from '../quant/spec.js';
import { progress, type ProgressTask } from '../viz/progress.js';

/** A model the experiments can patch and run (LlamaModel). */
export type LabModel = PatchableModel & ForwardModel & { tokenizer?: { decode(ids: number[]): string } | null };

export interface SweepRow {
  /** N of first:N, or 'all'. */
  layers: number | 'all';
  select: string;
  quant: string;
  /** fp16 bytes / quantized bytes of the patched modules. */
  ratio: number;
  baselinePpl: number;
  ppl: number;
  klMean: number;
  top1Agreement: number;
  /** Uncertainties over the scored positions (QualityReport.stats): KL stderr, top-1 stderr, ln(ppl ratio) ± stderr. */
  klStderr: number;
  top1Stderr: number;
  lnPplRatio: number;
  lnPplRatioStderr: number;
  /** Relative residual error after each block (QualityReport.blockTrace). */
  blockTrace: number[];
  verdict: QualityReport['verdict'];
  firstDivergence: number | null;
  /** Greedy continuation of the patched model, decoded when the model has a tokenizer. */
  output: string;
  /** Max relative residual error over blocks, and its value after the last block. */
  traceMax: number;
  traceLast: number;
  timeS: number;
}

export interface SweepOptions {
  quant: string | QuantSpec;
  /** Token ids of the evaluation text (the same for baseline and every step). */
  tokens: number[];
  greedyTokens?: number;
  /** Reuse a baseline taken on the same tokens (else one is run first, on the unpatched model). */
  baseline?: Baseline;
  onRow?: (row: SweepRow) => void;
}

function decode(model: LabModel, ids: number[]): string {
  return model.tokenizer ? model.tokenizer.decode(ids) : ids.join(' ');
}

/**
 * Token ids a sweep evaluates on: the first `n` tokens of `text` (E_TOKENIZER without a tokenizer, E_ARG below 2).
 * @example
 * sweepTokens(model, text, 128).length // <= 128
 */
export function sweepTokens(m: { tokenizer?: { encode(s: string): number[] } | null; checkpoint: { file: string } }, text: string, n: number): number[] {
  if (!m.tokenizer) throw err('E_TOKENIZER', msg.noTokenizer(m.checkpoint.file));
  const ids = m.tokenizer.encode(text);
  if (ids.length < 2) throw err('E_ARG', msg.badArg('--text', 'needs at least 2 tokens'));
  return ids.slice(0, n);
}

/**
 * The selection of step N of a progressive sweep: first:N, or 'all' for 'all' and for N >= the linear count.
 * @example
 * progressiveSelect(5, 22) // 'first:5'
 */
export function progressiveSelect(n: number | 'all', linears: number): string {
  return n === 'all' || n >= linears ? 'all' : `first:${n}`;
}

/** Patch `select`, compare with the baseline, restore. */
export function runStep(model: LabModel, base: Baseline, select: string, quant: string | QuantSpec, layers: number | 'all'): SweepRow {
  const t0 = performance.now();
  unpatch(model);
  const p = patch(model, { select, quant });
  const r = compareToBaseline(model, base);
  unpatch(model);
  const finite = r.blockTrace.filter(Number.isFinite);
  return {
    layers,
    select,
    quant: p.quant,
    ratio: p.ratio,
    baselinePpl: r.baselinePpl,
    ppl: r.ppl,
    klMean: r.klMean,
    top1Agreement: r.top1Agreement,
    klStderr: r.stats.kld.stderr,
    top1Stderr: r.stats.same_top_p_stderr,
    lnPplRatio: r.stats.ln_ppl_ratio,
    lnPplRatioStderr: r.stats.ln_ppl_ratio_stderr,
    blockTrace: r.blockTrace,
    verdict: r.verdict,
    firstDivergence: r.firstDivergence?.index ?? null,
    output: decode(model, r.greedy),
    traceMax: finite.length ? Math.max(...finite) : NaN,
    traceLast: r.blockTrace.at(-1) ?? NaN,
    timeS: (performance.now() - t0) / 1000,
  };
}

function baselineOf(model: LabModel, o: SweepOptions, task?: ProgressTask): Baseline {
  if (o.baseline) return o.baseline;
  unpatch(model);
  const base = runBaseline(model, o.tokens, { greedyTokens: o.greedyTokens ?? 16 });
  task?.tick(1, 'baseline');
  return base;
}

/** The progress task of a sweep of `steps` patched runs (plus the baseline when it is not given). */
function sweepTask(label: string, o: SweepOptions, steps: number): ProgressTask {
  return progress.start(label, steps + (o.baseline ? 0 : 1), 'runs');
}

/**
 * Progressive compression: first:N for each N (or 'all').
 * @example
 * progressiveSweep(model, { layers: [1, 5, 10, 20, 'all'], quant: 'int8:per-channel', tokens })
 */
export function progressiveSweep(model: LabModel, o: SweepOptions & { layers: (number | 'all')[] }): SweepRow[] {
  const task = sweepTask('progressive sweep', o, o.layers.length);
  const base = baselineOf(model, o, task);
  const total = model.linears().length;
  const rows = o.layers.map((n) => {
    const row = runStep(model, base, progressiveSelect(n, total), o.quant, n);
    task.tick(1, row.select);
    o.onRow?.(row);
    return row;
  });
  task.done();
  return rows;
}

/**
 * Each block alone (blocks:i) and all blocks together, same scheme. If errors amplified across a hybrid
 * patched/unpatched model, single blocks would hurt out of proportion; if not, KL grows roughly additively.
 * @example
 * partialVsAll(model, { quant: 'int8:per-tensor', tokens, blocks: [0, 15, 29] })
 */
export function partialVsAll(model: LabModel, o: SweepOptions & { blocks?: number[] }): SweepRow[] {
  const nBlocks = model.linears().reduce((n, m) => (m.layer === null ? n : Math.max(n, m.layer + 1)), 0);
  const blocks = o.blocks ?? Array.from({ length: nBlocks }, (_, i) => i);
  const task = sweepTask('partial vs all', o, blocks.length + 1);
  const base = baselineOf(model, o, task);
  const step = (select: string, layers: number | 'all') => {
    const row = runStep(model, base, select, o.quant, layers);
    task.tick(1, select);
    return row;
  };
  const rows = blocks.map((b) => step(`blocks:${b}`, 7));
  rows.push(step('all', 'all'));
  task.done();
  for (const r of rows) o.onRow?.(r);
  return rows;
}

/**
 * The quantization-debug matrix: every granularity x scale dtype x symmetry of one format, on all layers.
 * @example
 * debugMatrix(model, { tokens, format: 'int8', groupSize: 128 })
 */
export function debugMatrix(
  model: LabModel,
  o: Omit<SweepOptions, 'quant'> & { format?: 'int8' | 'int4'; groupSize?: number; select?: string },
): SweepRow[] {
  const task = sweepTask('debug matrix', { ...o, quant: 'int8' }, GRANULARITIES.length * SCALE_DTYPES.length * 2);
  const base = baselineOf(model, { ...o, quant: 'int8' }, task);
  const rows: SweepRow[] = [];
  for (const granularity of GRANULARITIES)
    for (const scaleDType of SCALE_DTYPES)
      for (const asym of [false, true]) {
        const spec = toSpec({
          format: o.format ?? 'int8',
          granularity,
          groupSize: granularity === 'group' ? (o.groupSize ?? 128) : 0,
          asym,
          scaleDType,
        });
        const row = runStep(model, base, o.select ?? 'all', spec, 'all');
        row.quant = formatSpec(spec);
        rows.push(row);
        task.tick(1, row.quant);
        o.onRow?.(row);
      }
  task.done();
  return rows;
}

/**
 * Rows as an arquero table (for notebooks: table.view(), groupby, rollup), without the blockTrace arrays.
 * @example
 * toTable(progressiveSweep(model, { layers: [1, 'all'], quant: 'int8', tokens })).print()
 */
export function toTable(rows: readonly SweepRow[]): aq.ColumnTable {
  // the per-block trace stays on the rows (an array column would print as one long cell)
  return aq.from(rows.map(({ blockTrace: _trace, ...r }) => ({ ...r, layers: String(r.layers) })));
}

/**
 * Parse the CLI's --layers list: comma-separated positive integers and 'all'. Throws E_ARG.
 * @example
 * parseLayerList('1,5,10,20,all') // [1, 5, 10, 20, 'all']
 */
export function parseLayerList(text: string): (number | 'all')[] {
  const out = text.split(',').map((t) => t.trim());
  if (out.length === 0 || out.some((t) => t !== 'all' && !/^[1-9][0-9]*$/.test(t)))
    throw err('E_ARG', msg.badArg('--layers', `'${text}' is not a comma-separated list of positive integers and 'all'`));
  return out.map((t) => (t === 'all' ? 'all' : Number(t)));
}
