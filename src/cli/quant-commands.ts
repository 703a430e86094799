/**
 * `codecllm eval --patch --quant`, `codecllm sweep`, `codecllm diagnose`: the quantization lab on the command line.
 */
import type { Command } from 'commander';
import { patch, runBaseline, compareToBaseline, progressiveSweep, parseLayerList, diagnose, diagnoseFault, toFault, selectionSummary, type Diagnosis } from '../quant/index.js';
import { openCheckpoint } from '../model/checkpoint.js';
import { linearPaths } from '../model/names.js';
import { perplexity } from '../eval/perplexity.js';
import type { LlamaModel } from '../model/llama.js';
import { err, msg } from '../messages.js';
import { loadWithProgress, output, readText, intOpt } from './common.js';
import { progressBar } from './progress.js';

/** Tokens of a text file for quality metrics (first n). */
function evalTokens(m: LlamaModel, file: string, n: number): number[] {
  if (!m.tokenizer) throw err('E_TOKENIZER', msg.noTokenizer(m.checkpoint.file));
  const ids = m.tokenizer.encode(readText(file));
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
    ratio_vs_fp16: report.ratio,
    ppl: pat.ppl,
    ppl_ci95: pat.pplCI95,
    baseline_ppl: base.ppl,
    baseline_ppl_ci95: base.pplCI95,
    ppl_change: pat.ppl / base.ppl - 1,
    tokens: pat.tokens,
    window: pat.window,
    stride: pat.stride,
    quality_tokens: qTokens.length,
    kl_mean: q.kl_mean,
    kl_max: q.kl_max,
    top1_agreement: q.top1_agreement,
    verdict: q.verdict,
    first_divergence: q.first_divergence,
    baseline_output: m.tokenizer!.decode(q.baseline_greedy),
    output: m.tokenizer!.decode(q.greedy),
    block_trace: q.block_trace,
    time_s: (performance.now() - t0) / 1000,
  };
}

export function registerQuantCommands(program: Command): void {
  const evalCmd = program.commands.find((c) => c.name() === 'eval');
  if (evalCmd) {
    evalCmd
      .option('--patch <select>', "layers to patch: all | first:N | blocks:a-b | type:q,k,… | re:REGEX | a full module path")
      .option('--quant <spec>', "quantization spec for --patch, e.g. int8:per-channel, int4:group=64, nf4:group=64, fp8")
      .option('--quality-tokens <n>', 'tokens for KL / top-1 / verdict / block trace (first window)', '256');
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
    .option('--layers <list>', 'comma-separated N values or all', '1,5,10,20,all')
    .requiredOption('--quant <spec>', 'quantization spec, e.g. int8:per-channel')
    .option('--text <file>', 'evaluation text', 'data/texts/eval.txt')
    .option('--tokens <n>', 'tokens of the text to evaluate on', '128')
    .option('--json', 'JSON output')
    .action(async (model: string, o: Record<string, string | boolean | undefined>) => {
      const layers = parseLayerList(o.layers as string);
      const m = await loadWithProgress(model);
      try {
        const tokens = evalTokens(m, o.text as string, intOpt('--tokens', o.tokens as string, 2));
        const bar = progressBar('sweep', layers.length);
        let done = 0;
        const rows = progressiveSweep(m, { layers, quant: o.quant as string, tokens, onRow: () => bar.update(++done) });
        bar.stop();
        output(!!o.json, { model: m.checkpoint.file, quant: o.quant, tokens: tokens.length, rows }, () =>
          [
            `layers   ratio   ppl (base ${rows[0]?.baseline_ppl.toFixed(2)})   KL        top-1   verdict  output`,
            ...rows.map((r) => `${String(r.layers).padEnd(8)} ${r.ratio.toFixed(2).padStart(5)}  ${r.ppl.toFixed(2).padStart(8)}   ${r.kl_mean.toExponential(2)}  ${r.top1_agreement.toFixed(3)}   ${r.verdict.padEnd(7)}  ${JSON.stringify(r.output)}`),
          ].join('\n'),
        );
      } finally {
        m.dispose();
      }
    });

  program
    .command('diagnose <model>')
    .description('find the first linear whose installed weight leaves its scheme bound, and name the likely cause')
    .option('--fault <name>', 'inject a named fault first: scale-axis | scale-fp16-underflow | uint8-as-int8 | transposed | stale-buffer | wrong-layer')
    .option('--patch <select>', 'patch these layers first (a user patch to check)', 'all')
    .option('--quant <spec>', 'quantization spec of the patch', 'int8:per-channel')
    .option('--json', 'JSON output')
    .action(async (model: string, o: Record<string, string | boolean | undefined>) => {
      const m = await loadWithProgress(model);
      try {
        let d: Diagnosis;
        if (o.fault) d = diagnoseFault(m, toFault(o.fault as string), { select: o.patch as string, quant: o.quant as string });
        else {
          patchWithProgress(m, o.patch as string, o.quant as string);
          d = diagnose(m);
        }
        const res = { model: m.checkpoint.file, fault: o.fault ?? null, first_bad_layer: d.first_bad_layer, cause: d.cause, evidence: d.evidence, bad: d.bad };
        output(!!o.json, res, () => (d.first_bad_layer ? `first bad layer: ${d.first_bad_layer}\ncause: ${d.cause}\nevidence: ${d.evidence}` : 'every patched module is within its scheme bound'));
      } finally {
        m.dispose();
      }
    });
}
