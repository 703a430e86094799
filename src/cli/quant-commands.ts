/**
 * `codecllm eval --patch --quant`, `codecllm sweep`, `codecllm diagnose`: the quantization lab on the command line.
 */
import type { Command } from 'commander';
import { patch, parseLayerList, diagnose, diagnoseFault, toFault, selectionSummary, type Diagnosis } from '../lab/index.js';
import { runBaseline, compareToBaseline, verdict } from '../eval/quality.js';
import { openCheckpoint } from '../model/checkpoint.js';
import { linearPaths } from '../model/names.js';
import path from 'node:path';
import { scoringIds } from '../eval/perplexity.js';
import { baselineLogits } from '../eval/base-logits.js';
import { scoreAgainstBaseline } from '../eval/quality-report.js';
import { generate } from '../model/generate.js';
import { openEngine } from '../lab/open-engine.js';
import type { EngineName } from '../engine/engine.js';
import { packageRoot } from '../util/paths.js';
import { resolveEngine } from './engine-commands.js';
import { engineSweep } from '../lab/engine-sweep.js';
import type { LlamaModel } from '../model/llama.js';
import { err, msg } from '../messages.js';
import { checkThenLoad, output, readText } from './common.js';
import { int, oneOf, text } from './args.js';
import { checkLayerCounts, checkQuantSpec, checkSelection, checkTfjsMemory, checkTokensFit } from './preflight.js';
import { FAULTS } from '../lab/faults.js';
import { TEXT_ENCODINGS, type TextEncoding } from '../util/files.js';
import { progressBar } from './progress.js';

/** Tokens of a text for quality metrics (first n). */
function evalTokens(m: LlamaModel, text: string, n: number): number[] {
  if (!m.tokenizer) throw err('E_TOKENIZER', msg.noTokenizer(m.checkpoint.file));
  const ids = m.tokenizer.encode(text);
  if (ids.length < 2) throw err('E_ARG', msg.badArg('--text', 'needs at least 2 tokens'));
  return ids.slice(0, n);
}

/** Patch with a progress bar; returns the report. */
function patchWithProgress(m: LlamaModel, select: string, quant: string) {
  const bar = progressBar('patching', m.linears().length);
  try {
    return patch(m, { select, quant, onProgress: (d, t) => bar.update(d, t) });
  } finally {
    bar.stop();
  }
}

/** Default folder of the on-disk baseline cache (git-ignored). */
export function defaultBaseCacheDir(): string {
  return process.env.CODECLLM_BASE_CACHE ?? path.join(packageRoot(), '.cache', 'base-logits');
}

export interface EvalPatchedOptions {
  select: string;
  quant: string;
  window: number;
  stride?: number;
  maxTokens?: number;
  /** tokens of the greedy-continuation prompt (and of the block trace) */
  qualityTokens: number;
  engine?: EngineName | 'auto';
  /** CUDA storage modes */
  modes?: string;
  /** folder of the baseline cache; null = no cache */
  baseCacheDir?: string | null;
  /** residual-stream trace per block (tfjs reference; default only on --engine tfjs) */
  blockTrace?: boolean;
  /** list the patched module paths */
  listModules?: boolean;
}

/**
 * Patched-model evaluation on any engine: the baseline (cached on disk by default) and the patched model are scored on
 * the same strided windows of the whole text, with llama.cpp's --kl-divergence statistics (src/eval/kld.ts); plus the
 * greedy continuation of both from the first `qualityTokens` tokens, the verdict, and (tfjs) the per-block trace.
 * @example
 * const r = await evalPatched(model, text, { select: 'all', quant: 'int8:per-channel', window: 512, qualityTokens: 256, engine: 'native' });
 * r.kld.mean, r.same_top_p, r.ppl_ratio
 */
export async function evalPatched(m: LlamaModel, text: string, o: EvalPatchedOptions) {
  const t0 = performance.now();
  const { engine, reason } = resolveEngine(o.engine);
  const ids = scoringIds(m.tokenizer, m.checkpoint.file, text, { maxTokens: o.maxTokens });
  const window = Math.min(o.window, m.config.maxPositionEmbeddings);
  const stride = o.stride ?? Math.max(1, Math.floor(window / 2));
  const qTokens = ids.slice(0, Math.min(o.qualityTokens, window));
  const greedyN = 16;
  const cacheDir = o.baseCacheDir === undefined ? defaultBaseCacheDir() : o.baseCacheDir;
  const trace = o.blockTrace ?? engine === 'tfjs';
  // baseline: the unpatched model on the same engine
  const be = await openEngine(m, { engine, modes: o.modes });
  let baseRun: Awaited<ReturnType<typeof baselineLogits>>;
  let baseGreedy: number[];
  const tb = performance.now();
  try {
    const bar = progressBar('baseline', ids.length - 1);
    baseRun = await baselineLogits(be, ids, { window, stride, cacheDir: cacheDir ?? undefined, onProgress: (d, t) => bar.update(d, t) });
    bar.stop();
    baseGreedy = (await generate(be, qTokens, { maxTokens: greedyN, stopIds: [] })).ids;
  } finally {
    be.dispose();
  }
  const baselineS = (performance.now() - tb) / 1000;
  const traceBase = trace ? runBaseline(m, qTokens, { greedyTokens: 0 }) : null;
  // patched: the same engine, the patch's own codes attached
  const bar = progressBar('patching', m.linears().length);
  const pe = await openEngine(m, { engine, modes: o.modes, patch: { select: o.select, quant: o.quant, onProgress: (d, t) => bar.update(d, t) } });
  bar.stop();
  let s: Awaited<ReturnType<typeof scoreAgainstBaseline>>;
  let greedy: number[];
  let info: ReturnType<typeof pe.info>;
  const report = pe.patchReport!;
  const tp = performance.now();
  try {
    const sbar = progressBar('scoring', ids.length - 1);
    s = await scoreAgainstBaseline(pe, baseRun.base, (d, t) => sbar.update(d, t));
    sbar.stop();
    greedy = (await generate(pe, qTokens, { maxTokens: greedyN, stopIds: [] })).ids;
    info = pe.info();
  } finally {
    pe.dispose();
  }
  const patchedS = (performance.now() - tp) / 1000;
  const blockTrace = traceBase ? compareToBaseline(m, { ...traceBase, greedy: [] }).blockTrace : null;
  const d = greedy.findIndex((t, i) => t !== baseGreedy[i]);
  const tok = m.tokenizer;
  return {
    model: m.checkpoint.file,
    engine,
    engine_reason: reason,
    engine_weights: info.weights,
    roundings: info.roundings,
    patch: o.select,
    quant: report.quant,
    patched_modules: report.modules.length,
    ...(o.listModules ? { patched_module_paths: report.modules.map((x) => x.path) } : {}),
    ratio_vs_fp16: report.ratio,
    tokens: s.tokens,
    window,
    stride,
    ppl: s.ppl,
    ppl_ci95: s.ppl_ci95,
    baseline_ppl: s.baseline_ppl,
    baseline_ppl_ci95: s.baseline_ppl_ci95,
    ppl_ratio: s.ppl_ratio,
    ln_ppl_ratio: s.ln_ppl_ratio,
    ln_ppl_ratio_stderr: s.ln_ppl_ratio_stderr,
    ppl_change: s.ppl_ratio - 1,
    kld: s.kld,
    same_top_p: s.same_top_p,
    same_top_p_stderr: s.same_top_p_stderr,
    mean_dp: s.mean_dp,
    mean_dp_stderr: s.mean_dp_stderr,
    rms_dp: s.rms_dp,
    rms_dp_stderr: s.rms_dp_stderr,
    nll_correlation: s.nll_correlation,
    p_correlation: s.p_correlation,
    base_logits: { storage: baseRun.base.storage, cached: baseRun.cached, file: baseRun.file },
    kl_mean: s.kld.mean,
    kl_max: s.kld.max,
    top1_agreement: s.same_top_p,
    verdict: verdict({ klMean: s.kld.mean, top1: s.same_top_p, pplRatio: s.ppl_ratio, sameGreedy: d < 0 }),
    quality_tokens: qTokens.length,
    first_divergence: d < 0 ? null : { index: d, baseline: baseGreedy[d]!, patched: greedy[d]! },
    baseline_output: tok ? tok.decode(baseGreedy) : baseGreedy.join(' '),
    output: tok ? tok.decode(greedy) : greedy.join(' '),
    block_trace: blockTrace,
    baseline_s: baselineS,
    patched_s: patchedS,
    time_s: (performance.now() - t0) / 1000,
  };
}

/**
 * Logits of the model as installed now on `engine` vs the tfjs reference, on the first 32 positions of a fixed token
 * sequence: the engine runs exactly the weights a diagnosis read (max |Δlogit|; 0 on tfjs itself).
 * @example
 * await engineAgreesWithReference(model, 'native') // { engine: 'native', positions: 32, max_abs_diff: 3e-5 }
 */
export async function engineAgreesWithReference(m: LlamaModel, engine: EngineName, modes?: string) {
  const ids = Array.from({ length: Math.min(32, m.config.maxPositionEmbeddings) }, (_, i) => (i * 7919 + 17) % m.config.vocabSize);
  if (engine === 'tfjs') return { engine, positions: ids.length, max_abs_diff: 0 };
  const e = await openEngine(m, { engine, modes });
  try {
    const got = e.forward(ids);
    const { logits } = m.forward(ids);
    const ref = logits.dataSync() as Float32Array;
    logits.dispose();
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i]! - got[i]!));
    return { engine, positions: ids.length, max_abs_diff: worst };
  } finally {
    e.dispose();
  }
}

export function registerQuantCommands(program: Command): void {
  const evalCmd = program.commands.find((c) => c.name() === 'eval');
  if (evalCmd) {
    evalCmd
      .option('--patch <select>', "layers to patch: all | first:N | blocks:a-b | type:q,k,… | re:REGEX | a full module path", text('--patch'))
      .option('--quant <spec>', "quantization spec for --patch, e.g. int8:per-channel, int4:group=64, nf4:group=64, fp8", text('--quant', checkQuantSpec))
      .option('--quality-tokens <n>', 'prompt tokens of the greedy-continuation check and the block trace (first window)', int('--quality-tokens', 2), 256)
      .option('--base-cache <dir>', 'folder of cached baseline log-probabilities (full, float32); env CODECLLM_BASE_CACHE', text('--base-cache'))
      .option('--no-base-cache', 'recompute the baseline, cache nothing')
      .option('--block-trace', 'per-block residual trace on the tfjs reference (default on --engine tfjs only)')
      .option('--list-modules', 'list the patched module paths');
  }

  program
    .command('select <model> <selection>')
    .description("resolve a layer selection (all, first:N, blocks:a-b, type:…, re:…, a full path; A&B intersects, A+B unites) and list the modules it chose")
    .option('--json', 'JSON output')
    .action((model: string, selection: string, o: { json?: boolean }) => {
      const ck = openCheckpoint(model);
      try {
        const s = selectionSummary(linearPaths(ck.config), selection);
        output(!!o.json, { model: ck.file, ...s }, () =>
          [`${s.count} modules (${Object.entries(s.byKind).map(([k, v]) => `${k} ${v}`).join(', ')})`, ...s.paths.map((p) => `  ${p}`)].join('\n'),
        );
      } finally {
        ck.close();
      }
    });

  program
    .command('sweep <model>')
    .description("the seed's progressive compression: patch the first N linear layers for each N and measure quality")
    .option('--layers <list>', 'comma-separated N values (<= the linear layers) or all', layerList, parseLayerList('1,5,10,20,all'))
    .requiredOption('--quant <spec>', 'quantization spec, e.g. int8:per-channel', text('--quant', checkQuantSpec))
    .option('--text <file>', 'evaluation text (UTF-8)', text('--text'), 'data/texts/eval.txt')
    .option('--text-encoding <e>', `how to read --text: ${TEXT_ENCODINGS.join(' | ')}`, oneOf('--text-encoding', TEXT_ENCODINGS), 'utf8')
    .option('--tokens <n>', 'tokens of the text to evaluate on (<= the context length)', int('--tokens', 2), 128)
    .option('--json', 'JSON output')
    .option('--base-cache <dir>', 'folder of cached baseline log-probabilities (default none: one baseline per sweep)', text('--base-cache'))
    .action(async (model: string, o: { layers: (number | 'all')[]; quant: string; text: string; textEncoding: TextEncoding; tokens: number; engine?: string; modes?: string; baseCache?: string; json?: boolean }) => {
      const layers = o.layers;
      const { engine, reason } = resolveEngine(o.engine);
      const txt = readText(o.text, o.textEncoding);
      const m = await checkThenLoad(model, (ck) => {
        checkLayerCounts(ck, layers, linearPaths(ck.config).length);
        checkTokensFit(ck, '--tokens', o.tokens, ck.config.maxPositionEmbeddings);
        if (engine === 'tfjs') checkTfjsMemory(ck, o.tokens, o.tokens, undefined);
      });
      try {
        const tokens = evalTokens(m, txt, o.tokens);
        const total = m.linears().length;
        const bar = progressBar('sweep', layers.length);
        let done = 0;
        const t0 = performance.now();
        const { rows, baselineCached } = await engineSweep(m, {
          engine,
          modes: o.modes,
          ids: tokens,
          configs: layers.map((n) => ({ select: n === 'all' || n >= total ? 'all' : `first:${n}`, quant: o.quant, label: n })),
          baseCacheDir: o.baseCache || undefined,
          onRow: () => bar.update(++done),
        });
        bar.stop();
        const timeS = (performance.now() - t0) / 1000;
        output(!!o.json, { model: m.checkpoint.file, engine, engine_reason: reason, quant: o.quant, tokens: tokens.length, baseline_cached: baselineCached, time_s: timeS, rows }, () =>
          [
            `engine ${engine} (${reason}); ${rows[0]?.tokens ?? 0} tokens scored per row; ${timeS.toFixed(1)} s`,
            `layers   ratio   ppl (base ${rows[0]?.baseline_ppl.toFixed(2)})   KLD mean ± se          p99       same top  verdict  output`,
            ...rows.map((r) => `${String(r.layers).padEnd(8)} ${r.ratio.toFixed(2).padStart(5)}  ${r.ppl.toFixed(2).padStart(8)}   ${r.kld.mean.toExponential(2)} ± ${r.kld.stderr.toExponential(1)}  ${r.kld.p99.toExponential(2)}  ${r.same_top_p.toFixed(3)}    ${r.verdict.padEnd(7)}  ${JSON.stringify(r.output)}`),
          ].join('\n'),
        );
      } finally {
        m.dispose();
      }
    });

  program
    .command('diagnose <model>')
    .description('find the first linear whose installed weight leaves its scheme bound, and name the likely cause')
    .option('--fault <name>', `inject a named fault first: ${FAULTS.join(' | ')}`, oneOf('--fault', FAULTS))
    .option('--patch <select>', 'patch these layers first (a user patch to check)', text('--patch'), 'all')
    .option('--quant <spec>', 'quantization spec of the patch', text('--quant', checkQuantSpec), 'int8:per-channel')
    .option('--json', 'JSON output')
    .action(async (model: string, o: { fault?: (typeof FAULTS)[number]; patch: string; quant: string; engine?: string; modes?: string; json?: boolean }) => {
      const m = await checkThenLoad(model, (ck) => {
        checkSelection(ck.config, o.patch);
      });
      try {
        let d: Diagnosis;
        if (o.fault) d = diagnoseFault(m, toFault(o.fault), { select: o.patch, quant: o.quant });
        else {
          patchWithProgress(m, o.patch, o.quant);
          d = diagnose(m);
        }
        // the diagnosis reads the installed weights; the engine check confirms the chosen engine runs exactly them
        const { engine, reason } = resolveEngine(o.engine as string | undefined);
        const check = await engineAgreesWithReference(m, engine, o.modes as string);
        const res = { model: m.checkpoint.file, engine, engine_reason: reason, engine_check: check, fault: o.fault ?? null, first_bad_layer: d.firstBadLayer, cause: d.cause, evidence: d.evidence, bad: d.bad };
        output(!!o.json, res, () =>
          [
            d.firstBadLayer ? `first bad layer: ${d.firstBadLayer}\ncause: ${d.cause}\nevidence: ${d.evidence}` : 'every patched module is within its scheme bound',
            `engine ${engine} (${reason}) runs these weights: max |Δlogit| vs the tfjs reference ${check.max_abs_diff.toExponential(2)} over ${check.positions} positions`,
          ].join('\n'),
        );
      } finally {
        m.dispose();
      }
    });
}

/** --layers parser: '1,5,all' (an empty list or a non-number is E_ARG). */
const layerList = (v: string) => parseLayerList(v);
