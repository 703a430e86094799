/** `codecllm info | generate | eval`: the foundation commands. */
import type { Command } from 'commander';
import { openCheckpoint } from '../model/checkpoint.js';
import { paramCount } from '../model/config.js';
import { linearPaths } from '../model/names.js';
import { generate } from '../model/generate.js';
import { perplexity } from '../eval/perplexity.js';
import { loadWithProgress, output, readText, intOpt, numOpt } from './common.js';
import { progressBar } from './progress.js';
import { evalPatched } from './quant-commands.js';
import { engineOpt, generateOn } from './engine-commands.js';
import { err, msg } from '../messages.js';
import type { GenerateResult } from '../model/generate.js';
import { availableMemory, residentBytes, type LoadPatch } from '../engine/resident.js';
import { evalFromCheckpoint, evalNativeText, generateFromCheckpoint } from './native-run.js';

/**
 * Facts about a checkpoint without loading its weights, with the bytes each engine would keep resident for the
 * given storage / patch (resident.ts) and the memory available now.
 * @example
 * modelInfo('default', { patch: { select: 'all', quant: 'int8:per-channel' } }).resident.native.weight_bytes
 */
export function modelInfo(path: string, o: { storage?: 'auto' | 'f32'; patch?: LoadPatch | null } = {}) {
  const ck = openCheckpoint(path);
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
      resident: residentBytes(ck, o),
      memory_available_bytes: availableMemory(),
    };
  } finally {
    ck.close();
  }
}

export function registerModelCommands(program: Command): void {
  program
    .command('info <model>')
    .description("show a checkpoint's architecture and tensors ('default' = SmolLM2-135M-Instruct)")
    .option('--patch <select>', 'resident bytes with these linears quantized on the way in (with --quant)')
    .option('--quant <spec>', 'quantization spec for --patch, e.g. int8:per-channel')
    .option('--storage <s>', 'native engine storage: auto (as stored) | f32', 'auto')
    .option('--json', 'JSON output')
    .action((model: string, o: { json?: boolean; patch?: string; quant?: string; storage?: string }) => {
      if (!!o.patch !== !!o.quant) throw err('E_ARG', msg.badArg('--patch/--quant', 'give both (e.g. --patch all --quant int8:per-channel)'));
      if (o.storage !== 'auto' && o.storage !== 'f32') throw err('E_ARG', msg.badArg('--storage', `'${o.storage}' (expected auto or f32)`));
      const i = modelInfo(model, { storage: o.storage, patch: o.patch ? { select: o.patch, quant: o.quant! } : null });
      const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
      output(!!o.json, i, () =>
        [
          `${i.file} (${i.format})`,
          `architecture   ${i.architecture}, ${i.layers} layers, hidden ${i.hidden_size}, mlp ${i.intermediate_size}`,
          `attention      ${i.heads} heads, ${i.kv_heads} kv heads, head dim ${i.head_dim}, rope theta ${i.rope_theta}`,
          `vocab          ${i.vocab_size}${i.tied_embeddings ? ' (tied embeddings)' : ''}`,
          `parameters     ${(i.params / 1e6).toFixed(1)} M, ${i.linear_layers} linear layers`,
          `stored as      ${Object.entries(i.tensor_dtypes).map(([k, v]) => `${k}×${v}`).join(', ')}; ${(i.weight_bytes / 2 ** 20).toFixed(1)} MiB, ${i.bits_per_weight.toFixed(2)} bits/weight`,
          `resident       native ${gib(i.resident.native.weight_bytes)} (${Object.entries(i.resident.native.by_format).map(([k, v]) => `${k} ${gib(v)}`).join(', ')}${i.resident.patch ? `; ${i.resident.native.patched_linears} linears ${i.resident.patch.quant}` : ''}) + ${(i.resident.native.kv_bytes_per_token / 1024).toFixed(0)} KiB KV/token; tfjs ${gib(i.resident.tfjs.weight_bytes)}; ${gib(i.memory_available_bytes)} available`,
        ].join('\n'),
      );
    });

  program
    .command('generate <model>')
    .description('continue a prompt with the CPU reference model')
    .requiredOption('--prompt <text>', 'prompt text')
    .option('--max-tokens <n>', 'tokens to generate', '32')
    .option('--temperature <t>', '0 = greedy', '0')
    .option('--top-k <k>', 'top-k sampling', '0')
    .option('--top-p <p>', 'nucleus sampling', '1')
    .option('--seed <s>', 'sampling seed', '0')
    .option('--backend <b>', 'tfjs backend: wasm | cpu')
    .option('--patch <select>', 'with --engine native: quantize these linears on the way in (with --quant)')
    .option('--quant <spec>', 'quantization spec for --patch, e.g. int8:per-channel')
    .option('--json', 'JSON output')
    .action(async (model: string, o: Record<string, string | boolean | undefined>) => {
      const maxTokens = intOpt('--max-tokens', o.maxTokens as string, 1);
      const engine = engineOpt((o.engine as string | undefined) ?? 'tfjs');
      const bar = progressBar('generating', maxTokens);
      const opts = {
        maxTokens,
        temperature: numOpt('--temperature', o.temperature as string),
        topK: intOpt('--top-k', o.topK as string),
        topP: numOpt('--top-p', o.topP as string),
        seed: intOpt('--seed', o.seed as string),
        onToken: (_id: number, i: number) => bar.update(i + 1),
      };
      const report = (file: string, r: GenerateResult, extra: Record<string, unknown> = {}) => {
        bar.stop();
        const decodeTokS = r.decodeMs.length ? (1000 * r.decodeMs.length) / r.decodeMs.reduce((a, b) => a + b, 0) : null;
        const res = {
          model: file,
          engine,
          prompt: o.prompt,
          text: r.text,
          prompt_tokens: r.promptIds.length,
          tokens: r.ids,
          prefill_ms: r.prefillMs,
          decode_tokens_per_s: decodeTokS,
          ...extra,
        };
        output(!!o.json, res, () => `${o.prompt}${r.text}\n\n[${r.ids.length} tokens; prefill ${r.prefillMs.toFixed(0)} ms; decode ${decodeTokS?.toFixed(1) ?? '-'} tok/s]`);
      };
      if (!!o.patch !== !!o.quant) throw err('E_ARG', msg.badArg('--patch/--quant', 'give both (e.g. --patch all --quant int8:per-channel)'));
      if (o.patch && engine !== 'native') throw err('E_ARG', msg.badArg('--patch', 'generate applies a patch on the way in with --engine native only'));
      if (engine === 'native') {
        // streamed from the checkpoint: no float32 model (src/engine/cpu-checkpoint.ts)
        const patch = o.patch ? { select: o.patch as string, quant: o.quant as string } : null;
        const { file, result, load } = await generateFromCheckpoint(model, o.prompt as string, opts, patch);
        report(file, result, { load_s: load.seconds, resident_bytes: load.residentBytes });
        return;
      }
      const m = await loadWithProgress(model, o.backend as 'wasm' | 'cpu' | undefined);
      try {
        if (engine === 'cuda' && opts.temperature > 0) throw err('E_ARG', msg.badArg('--temperature', 'the cuda engine generates greedily (use 0)'));
        const r = await generateOn(m, engine, o.prompt as string, opts, o.modes as string);
        report(m.checkpoint.file, r);
      } finally {
        bar.stop();
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
    .option('--engine <e>', 'tfjs (reference) | native (C++ CPU engine, streamed from the checkpoint)', 'tfjs')
    .option('--no-baseline', 'with --engine native --patch: score the patched model only (one engine in memory)')
    .action(async (model: string, o: Record<string, string | boolean | undefined>) => {
      const text = readText(o.text as string);
      if (engineOpt((o.engine as string | undefined) ?? 'tfjs') === 'native') {
        const window = intOpt('--window', o.window as string, 2);
        const stride = o.stride ? intOpt('--stride', o.stride as string, 1) : undefined;
        const maxTokens = o.maxTokens ? intOpt('--max-tokens', o.maxTokens as string, 1) : undefined;
        if (!!o.patch !== !!o.quant) throw err('E_ARG', msg.badArg('--patch/--quant', 'give both (e.g. --patch all --quant int8:per-channel)'));
        const patch = o.patch ? { select: o.patch as string, quant: o.quant as string } : null;
        const r = await evalFromCheckpoint(model, text, { window, stride, maxTokens, patch, baseline: o.baseline !== false, qualityTokens: intOpt('--quality-tokens', (o.qualityTokens as string | undefined) ?? '256', 2) });
        output(!!o.json, r, () => evalNativeText(r));
        return;
      }
      const m = await loadWithProgress(model, o.backend as 'wasm' | 'cpu' | undefined);
      try {
        const window = intOpt('--window', o.window as string, 2);
        const stride = o.stride ? intOpt('--stride', o.stride as string, 1) : undefined;
        const maxTokens = o.maxTokens ? intOpt('--max-tokens', o.maxTokens as string, 1) : undefined;
        if (o.patch || o.quant) {
          if (!o.patch || !o.quant) throw err('E_ARG', msg.badArg('--patch/--quant', 'give both (e.g. --patch all --quant int8:per-channel)'));
          if (!m.tokenizer) throw err('E_TOKENIZER', msg.noTokenizer(m.checkpoint.file));
          const r = await evalPatched(m, text, { select: o.patch as string, quant: o.quant as string, window, stride, maxTokens, qualityTokens: intOpt('--quality-tokens', o.qualityTokens as string, 2) });
          output(!!o.json, r, () =>
            [
              `patched ${r.patched_modules} linears with ${r.quant} (${r.ratio_vs_fp16.toFixed(2)}x smaller than fp16)`,
              `perplexity ${r.ppl.toFixed(3)} vs baseline ${r.baseline_ppl.toFixed(3)} (${(100 * r.ppl_change).toFixed(2)}%) over ${r.tokens} tokens`,
              `KL ${r.kl_mean.toExponential(3)}, top-1 agreement ${(100 * r.top1_agreement).toFixed(1)}% over ${r.quality_tokens} tokens -> ${r.verdict}`,
              `greedy: ${r.first_divergence ? `diverges at token ${r.first_divergence.index}` : 'identical'}; baseline ${JSON.stringify(r.baseline_output)}, patched ${JSON.stringify(r.output)}`,
            ].join('\n'),
          );
          return;
        }
        const bar = progressBar('scoring', 1);
        const t0 = performance.now();
        const r = await perplexity(m, text, { window, stride, maxTokens, onProgress: (d, t) => bar.update(d, t) });
        bar.stop();
        const res = { model: m.checkpoint.file, text: o.text, ppl: r.ppl, ppl_ci95: r.pplCI95, nll_mean: r.nllMean, nll_stderr: r.nllStdErr, tokens: r.tokens, window: r.window, stride: r.stride, time_s: (performance.now() - t0) / 1000 };
        output(!!o.json, res, () => `perplexity ${r.ppl.toFixed(3)} (95% CI ${r.pplCI95[0].toFixed(3)}–${r.pplCI95[1].toFixed(3)}) over ${r.tokens} tokens, window ${r.window}, stride ${r.stride}`);
      } finally {
        m.dispose();
      }
    });
}
