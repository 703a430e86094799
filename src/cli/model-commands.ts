/** `codecllm info | generate | eval`: the foundation commands. */
import type { Command } from 'commander';
import { openAnyCheckpoint } from '../container/compress-model.js';
import { paramCount } from '../model/config.js';
import { linearPaths } from '../model/names.js';
import { generate } from '../model/generate.js';
import { perplexity } from '../eval/perplexity.js';
import { loadWithProgress, output, readText, intOpt, numOpt } from './common.js';
import { progressBar } from './progress.js';
import { evalPatched } from './quant-commands.js';
import { resolveEngine, generateOn } from './engine-commands.js';
import { openEngine } from '../lab/open-engine.js';
import type { EngineName } from '../engine/engine.js';
import { err, msg } from '../messages.js';

/** Facts about a checkpoint without loading its weights. */
export function modelInfo(path: string) {
  const ck = openAnyCheckpoint(path);
  try {
    const c = ck.config;
    const dtypes: Record<string, number> = {};
    let bytes = 0;
    let elems = 0;
    for (const t of ck.weights.list()) {
      dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
      bytes += t.byteLength;
      elems += t.shape.reduce((a, b) => a * b, 1);
    }
    return {
      file: ck.file,
      format: ck.format,
      architecture: c.architecture,
      layers: c.numLayers,
      hidden_size: c.hiddenSize,
      intermediate_size: c.intermediateSize,
      heads: c.numHeads,
      kv_heads: c.numKvHeads,
      head_dim: c.headDim,
      vocab_size: c.vocabSize,
      params: paramCount(c),
      linear_layers: linearPaths(c).length,
      tied_embeddings: c.tieWordEmbeddings,
      rope_theta: c.ropeTheta,
      rms_eps: c.rmsEps,
      context_length: c.maxPositionEmbeddings,
      tensor_dtypes: dtypes,
      weight_bytes: bytes,
      bits_per_weight: (bytes * 8) / elems,
      metadata: ck.metadata,
    };
  } finally {
    ck.close();
  }
}

export function registerModelCommands(program: Command): void {
  program
    .command('info <model>')
    .description("show a checkpoint's architecture and tensors ('default' = SmolLM2-135M-Instruct)")
    .option('--json', 'JSON output')
    .action((model: string, o: { json?: boolean }) => {
      const i = modelInfo(model);
      output(!!o.json, i, () =>
        [
          `${i.file} (${i.format})`,
          `architecture   ${i.architecture}, ${i.layers} layers, hidden ${i.hidden_size}, mlp ${i.intermediate_size}`,
          `attention      ${i.heads} heads, ${i.kv_heads} kv heads, head dim ${i.head_dim}, rope theta ${i.rope_theta}`,
          `vocab          ${i.vocab_size}${i.tied_embeddings ? ' (tied embeddings)' : ''}`,
          `parameters     ${(i.params / 1e6).toFixed(1)} M, ${i.linear_layers} linear layers`,
          `stored as      ${Object.entries(i.tensor_dtypes).map(([k, v]) => `${k}×${v}`).join(', ')}; ${(i.weight_bytes / 2 ** 20).toFixed(1)} MiB, ${i.bits_per_weight.toFixed(2)} bits/weight`,
        ].join('\n'),
      );
    });

  program
    .command('generate <model>')
    .description('continue a prompt (any engine: --engine tfjs|native|cuda|auto)')
    .requiredOption('--prompt <text>', 'prompt text')
    .option('--max-tokens <n>', 'tokens to generate', '32')
    .option('--temperature <t>', '0 = greedy', '0')
    .option('--top-k <k>', 'top-k sampling', '0')
    .option('--top-p <p>', 'nucleus sampling', '1')
    .option('--seed <s>', 'sampling seed', '0')
    .option('--backend <b>', 'tfjs backend: wasm | cpu')
    .option('--json', 'JSON output')
    .action(async (model: string, o: Record<string, string | boolean | undefined>) => {
      const m = await loadWithProgress(model, o.backend as 'wasm' | 'cpu' | undefined);
      try {
        const maxTokens = intOpt('--max-tokens', o.maxTokens as string, 1);
        const bar = progressBar('generating', maxTokens);
        const { engine, reason } = resolveEngine(o.engine as string | undefined);
        const opts = {
          maxTokens,
          temperature: numOpt('--temperature', o.temperature as string),
          topK: intOpt('--top-k', o.topK as string),
          topP: numOpt('--top-p', o.topP as string),
          seed: intOpt('--seed', o.seed as string),
          onToken: (_id: number, i: number) => bar.update(i + 1),
        };
        const r = await generateOn(m, engine, o.prompt as string, opts, o.modes as string);
        bar.stop();
        const decodeTokS = r.decodeMs.length ? (1000 * r.decodeMs.length) / r.decodeMs.reduce((a, b) => a + b, 0) : null;
        const res = {
          model: m.checkpoint.file,
          engine,
          engine_reason: reason,
          prompt: o.prompt,
          text: r.text,
          prompt_tokens: r.promptIds.length,
          tokens: r.ids,
          prefill_ms: r.prefillMs,
          decode_tokens_per_s: decodeTokS,
        };
        output(!!o.json, res, () => `${o.prompt}${r.text}\n\n[${r.ids.length} tokens; prefill ${r.prefillMs.toFixed(0)} ms; decode ${decodeTokS?.toFixed(1) ?? '-'} tok/s; engine ${engine} (${reason})]`);
      } finally {
        m.dispose();
      }
    });

  program
    .command('eval <model>')
    .description('perplexity of a text file (strided sliding window; see README)')
    .requiredOption('--text <file>', 'text file to score')
    .option('--window <n>', 'tokens per window', '512')
    .option('--stride <n>', 'window stride (default window/2)')
    .option('--max-tokens <n>', 'score at most n tokens')
    .option('--backend <b>', 'tfjs backend: wasm | cpu')
    .option('--json', 'JSON output')
    .action(async (model: string, o: Record<string, string | boolean | undefined>) => {
      const text = readText(o.text as string);
      const m = await loadWithProgress(model, o.backend as 'wasm' | 'cpu' | undefined);
      try {
        const window = intOpt('--window', o.window as string, 2);
        const stride = o.stride ? intOpt('--stride', o.stride as string, 1) : undefined;
        const maxTokens = o.maxTokens ? intOpt('--max-tokens', o.maxTokens as string, 1) : undefined;
        if (o.patch || o.quant) {
          if (!o.patch || !o.quant) throw err('E_ARG', msg.badArg('--patch/--quant', 'give both (e.g. --patch all --quant int8:per-channel)'));
          if (!m.tokenizer) throw err('E_TOKENIZER', msg.noTokenizer(m.checkpoint.file));
          const baseCache = o.baseCache === false ? null : (o.baseCache as string) || undefined;
          const r = await evalPatched(m, text, {
            select: o.patch as string,
            quant: o.quant as string,
            window,
            stride,
            maxTokens,
            qualityTokens: intOpt('--quality-tokens', o.qualityTokens as string, 2),
            engine: o.engine as EngineName | 'auto',
            modes: o.modes as string,
            baseCacheDir: baseCache,
            blockTrace: o.blockTrace ? true : undefined,
            listModules: !!o.listModules,
          });
          const pc = (x: number) => (100 * x).toFixed(3);
          output(!!o.json, r, () =>
            [
              `patched ${r.patched_modules} linears with ${r.quant} (${r.ratio_vs_fp16.toFixed(2)}x smaller than fp16); engine ${r.engine} (${r.engine_reason})`,
              ...(r.patched_module_paths ?? []).map((p) => `  ${p}`),
              ...r.roundings.map((x) => `  rounding: ${x}`),
              `${r.tokens} tokens scored (window ${r.window}, stride ${r.stride}); baseline ${r.base_logits.cached ? 'from cache' : 'computed'}${r.base_logits.file ? ` (${r.base_logits.file})` : ''}`,
              `PPL(Q)    ${r.ppl.toFixed(4)} (95% CI ${r.ppl_ci95[0].toFixed(3)}–${r.ppl_ci95[1].toFixed(3)})`,
              `PPL(base) ${r.baseline_ppl.toFixed(4)} (95% CI ${r.baseline_ppl_ci95[0].toFixed(3)}–${r.baseline_ppl_ci95[1].toFixed(3)})`,
              `PPL ratio ${r.ppl_ratio.toFixed(5)}; ln ratio ${r.ln_ppl_ratio.toFixed(6)} ± ${r.ln_ppl_ratio_stderr.toFixed(6)}; Cor(ln PPL) ${pc(r.nll_correlation)}%`,
              `KLD mean ${r.kld.mean.toFixed(6)} ± ${r.kld.stderr.toFixed(6)}; median ${r.kld.median.toFixed(6)}, p90 ${r.kld.p90.toFixed(6)}, p99 ${r.kld.p99.toFixed(6)}, p99.9 ${r.kld.p999.toFixed(6)}, max ${r.kld.max.toFixed(6)}`,
              `same top p ${pc(r.same_top_p)} ± ${pc(r.same_top_p_stderr)}%; mean Δp ${pc(r.mean_dp)} ± ${pc(r.mean_dp_stderr)}%; RMS Δp ${pc(r.rms_dp)} ± ${pc(r.rms_dp_stderr)}%; Cor(p) ${pc(r.p_correlation)}%`,
              `verdict ${r.verdict}; greedy: ${r.first_divergence ? `diverges at token ${r.first_divergence.index}` : 'identical'}; baseline ${JSON.stringify(r.baseline_output)}, patched ${JSON.stringify(r.output)}`,
              `time ${r.time_s.toFixed(2)} s (baseline ${r.baseline_s.toFixed(2)} s, patched ${r.patched_s.toFixed(2)} s)`,
            ].join('\n'),
          );
          return;
        }
        const { engine, reason } = resolveEngine(o.engine as string | undefined);
        const e = await openEngine(m, { engine, modes: o.modes as string });
        const bar = progressBar('scoring', 1);
        const t0 = performance.now();
        let r: Awaited<ReturnType<typeof perplexity>>;
        try {
          r = await perplexity(e, text, { window, stride, maxTokens, onProgress: (d, t) => bar.update(d, t) });
        } finally {
          e.dispose();
        }
        bar.stop();
        const res = { model: m.checkpoint.file, engine, engine_reason: reason, text: o.text, ppl: r.ppl, ppl_ci95: r.pplCI95, nll_mean: r.nllMean, nll_stderr: r.nllStdErr, tokens: r.tokens, window: r.window, stride: r.stride, time_s: (performance.now() - t0) / 1000 };
        output(!!o.json, res, () => `perplexity ${r.ppl.toFixed(3)} (95% CI ${r.pplCI95[0].toFixed(3)}–${r.pplCI95[1].toFixed(3)}) over ${r.tokens} tokens, window ${r.window}, stride ${r.stride}; engine ${engine} (${reason})`);
      } finally {
        m.dispose();
      }
    });
}
