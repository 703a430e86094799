/**
 * `codecllm eval --patch --quant`, `codecllm sweep`, `codecllm diagnose`: the quantization lab on the command line.
 */
import type { Command } from 'commander';
import { patch, progressiveSweep, parseLayerList, diagnose, diagnoseFault, toFault, type Diagnosis } from '../lab/index.js';
import { runBaseline, compareToBaseline } from '../eval/quality.js';
import { perplexity } from '../eval/perplexity.js';
import type { LlamaModel } from '../model/llama.js';
import { err, msg } from '../messages.js';
import { checkThenLoad, output, readText } from './common.js';
import { int, oneOf, text } from './args.js';
import { checkLayerCounts, checkQuantSpec, checkSelection, checkTfjsMemory, checkTokensFit } from './preflight.js';
import { linearPaths } from '../model/names.js';
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

/**
 * Patched-model evaluation: strided perplexity of the whole text for baseline and patched (same windows), plus the
 * quality metrics of the quant lab (KL, top-1 agreement, verdict, first greedy divergence, per-block residual trace)
 * on the first `qualityTokens` tokens.
 */
export async function evalPatched(m: LlamaModel, text: string, o: { select: string; quant: string; window: number; stride?: number; maxTokens?: number; qualityTokens: number }) {
  const t0 = performance.now();
  const ids = m.tokenizer!.encode(text);
  const scored = o.maxTokens !== undefined ? ids.slice(0, o.maxTokens + 1) : ids;
  const qTokens = ids.slice(0, Math.min(o.qualityTokens, o.window));
  const pOpts = { window: o.window, stride: o.stride };
  const base = await perplexity(m, scored, pOpts);
  const baseline = runBaseline(m, qTokens, { greedyTokens: 16 });
  const report = patchWithProgress(m, o.select, o.quant);
  const pat = await perplexity(m, scored, pOpts);
  const q = compareToBaseline(m, baseline);
  return {
    model: m.checkpoint.file,
    patch: o.select,
    quant: report.quant,
    patched_modules: report.modules.length,
    ratioVsFp16: report.ratio,
    ppl: pat.ppl,
    ppl_ci95: pat.pplCI95,
    baselinePpl: base.ppl,
    baseline_ppl_ci95: base.pplCI95,
    ppl_change: pat.ppl / base.ppl - 1,
    tokens: pat.tokens,
    window: pat.window,
    stride: pat.stride,
    quality_tokens: qTokens.length,
    klMean: q.klMean,
    klMax: q.klMax,
    top1Agreement: q.top1Agreement,
    verdict: q.verdict,
    firstDivergence: q.firstDivergence,
    baseline_output: m.tokenizer!.decode(q.baselineGreedy),
    output: m.tokenizer!.decode(q.greedy),
    blockTrace: q.blockTrace,
    timeS: (performance.now() - t0) / 1000,
  };
}

export function registerQuantCommands(program: Command): void {
  const evalCmd = program.commands.find((c) => c.name() === 'eval');
  if (evalCmd) {
    evalCmd
      .option('--patch <select>', "layers to patch: all | first:N | blocks:a-b | type:q,k,… | re:REGEX | a full module path", text('--patch'))
      .option('--quant <spec>', "quantization spec for --patch, e.g. int8:per-channel, int4:group=64, nf4:group=64, fp8", text('--quant', checkQuantSpec))
      .option('--quality-tokens <n>', 'tokens for KL / top-1 / verdict / block trace (first window)', int('--quality-tokens', 2), 256);
  }

  program
    .command('sweep <model>')
    .description("the seed's progressive compression: patch the first N linear layers for each N and measure quality")
    .option('--layers <list>', 'comma-separated N values (<= the linear layers) or all', layerList, parseLayerList('1,5,10,20,all'))
    .requiredOption('--quant <spec>', 'quantization spec, e.g. int8:per-channel', text('--quant', checkQuantSpec))
    .option('--text <file>', 'evaluation text (UTF-8)', text('--text'), 'data/texts/eval.txt')
    .option('--text-encoding <e>', `how to read --text: ${TEXT_ENCODINGS.join(' | ')}`, oneOf('--text-encoding', TEXT_ENCODINGS), 'utf8')
    .option('--tokens <n>', 'tokens of the text to evaluate on (<= the context length)', int('--tokens', 2), 128)
    .option('--json', 'JSON output')
    .action(async (model: string, o: { layers: (number | 'all')[]; quant: string; text: string; textEncoding: TextEncoding; tokens: number; json?: boolean }) => {
      const layers = o.layers;
      const txt = readText(o.text, o.textEncoding);
      const m = await checkThenLoad(model, (ck) => {
        checkLayerCounts(ck, layers, linearPaths(ck.config).length);
        checkTokensFit(ck, '--tokens', o.tokens, ck.config.maxPositionEmbeddings);
        checkTfjsMemory(ck, o.tokens, o.tokens, undefined);
      });
      try {
        const tokens = evalTokens(m, txt, o.tokens);
        const bar = progressBar('sweep', layers.length);
        let done = 0;
        const rows = progressiveSweep(m, { layers, quant: o.quant, tokens, onRow: () => bar.update(++done) });
        bar.stop();
        output(!!o.json, { model: m.checkpoint.file, quant: o.quant, tokens: tokens.length, rows }, () =>
          [
            `layers   ratio   ppl (base ${rows[0]?.baselinePpl.toFixed(2)})   KL        top-1   verdict  output`,
            ...rows.map((r) => `${String(r.layers).padEnd(8)} ${r.ratio.toFixed(2).padStart(5)}  ${r.ppl.toFixed(2).padStart(8)}   ${r.klMean.toExponential(2)}  ${r.top1Agreement.toFixed(3)}   ${r.verdict.padEnd(7)}  ${JSON.stringify(r.output)}`),
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
    .action(async (model: string, o: { fault?: (typeof FAULTS)[number]; patch: string; quant: string; json?: boolean }) => {
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
        const res = { model: m.checkpoint.file, fault: o.fault ?? null, firstBadLayer: d.firstBadLayer, cause: d.cause, evidence: d.evidence, bad: d.bad };
        output(!!o.json, res, () => (d.firstBadLayer ? `first bad layer: ${d.firstBadLayer}\ncause: ${d.cause}\nevidence: ${d.evidence}` : 'every patched module is within its scheme bound'));
      } finally {
        m.dispose();
      }
    });
}

/** --layers parser: '1,5,all' (an empty list or a non-number is E_ARG). */
const layerList = (v: string) => parseLayerList(v);
