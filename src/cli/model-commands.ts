/** `codecllm info | generate | eval`: the foundation commands. */
import type { Command } from 'commander';
import { openAnyCheckpoint } from '../container/compress-model.js';
import { featuresOf, paramCount } from '../model/config.js';
import { linearPaths } from '../model/names.js';
import { perplexity } from '../eval/perplexity.js';
import { checkThenLoad, output, readText } from './common.js';
import { int, num, oneOf, text } from './args.js';
import { checkSelection, checkTfjsMemory, checkTokensFit } from './preflight.js';
import { TEXT_ENCODINGS, type TextEncoding } from '../util/files.js';
import { progressBar } from './progress.js';
import { evalPatched } from './quant-commands.js';
import { resolveEngine, generateOn } from './engine-commands.js';
import { openEngine } from '../lab/open-engine.js';
import type { EngineName } from '../engine/engine.js';
import { err, msg } from '../messages.js';
import { availableMemory, residentBytes, type LoadPatch } from '../model/resident.js';
import { evalFromCheckpoint, evalNativeText, generateFromCheckpoint } from './native-run.js';

/**
 * Whether the checkpoint's float32 copy fits the tfjs reference's wasm heap (then the lab runs on a loaded model);
 * otherwise the native engine streams the checkpoint tensor by tensor.
 * @example
 * fitsFloat32Model('default') // true (135M parameters)
 */
function fitsFloat32Model(model: string): boolean {
  const ck = openAnyCheckpoint(model);
  try {
    checkTfjsMemory(ck, 1, 1, 'wasm');
    return true;
  } catch {
    return false;
  } finally {
    ck.close();
  }
}

/** What the architecture adds to plain Llama, in words (empty for Llama). */
function archFeatureList(c: Parameters<typeof featuresOf>[0]): string[] {
  const f = featuresOf(c);
  const out: string[] = [];
  if (f.hiddenAct === 'gelu_tanh') out.push('GeGLU (tanh GELU)');
  if (f.sandwichNorms) out.push('pre/post-attention and pre/post-FFN RMSNorm');
  if (f.qkNorm) out.push('q/k RMSNorm');
  if (f.embedScale !== 1) out.push(`embedding × ${f.embedScale.toFixed(3)}`);
  const local = f.slidingLayers?.filter((x) => x).length ?? 0;
  if (local) out.push(`${local}/${c.numLayers} layers sliding-window ${f.slidingWindow}${f.ropeThetaLocal !== null ? ` (rope theta ${f.ropeThetaLocal})` : ''}`);
  if (f.attnSoftcap !== null) out.push(`attention soft-cap ${f.attnSoftcap}`);
  if (f.finalSoftcap !== null) out.push(`logit soft-cap ${f.finalSoftcap}`);
  if (Math.abs(f.attnScale * Math.sqrt(c.headDim) - 1) > 1e-6) out.push(`attention scale ${f.attnScale.toPrecision(4)}`);
  return out;
}

/**
 * Facts about a checkpoint without loading its weights, with the bytes each engine would keep resident for the
 * given storage / patch (src/engine/resident.ts) and the memory available now.
 * @example
 * modelInfo('default', { patch: { select: 'all', quant: 'int8:per-channel' } }).resident.native.weight_bytes
 */
export function modelInfo(path: string, o: { storage?: 'auto' | 'f32'; patch?: LoadPatch | null } = {}) {
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
      features: archFeatureList(c),
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

/**
 * The eval window when none is given: 512 tokens, fewer when the scored rows' logits would pass 2^25 floats (128 MiB;
 * tfjs-wasm aborts around a 2 GiB heap with several copies of them): 128 for Gemma 3's 262,144-token vocabulary.
 * @example
 * defaultEvalWindow(49152) // 512 (SmolLM2); defaultEvalWindow(262144) // 128
 */
export function defaultEvalWindow(vocab: number): number {
  return Math.max(32, Math.min(512, 2 ** Math.floor(Math.log2((1 << 25) / vocab))));
}

export function registerModelCommands(program: Command): void {
  program
    .command('info <model>')
    .description("show a checkpoint's architecture and tensors ('default' = SmolLM2-135M-Instruct, 'gemma3-270m' = Gemma 3 270M)")
    .option('--patch <select>', 'resident bytes with these linears quantized on the way in (with --quant)')
    .option('--quant <spec>', 'quantization spec for --patch, e.g. int8:per-channel')
    .option('--storage <s>', 'native engine storage: auto (as stored) | f32', oneOf('--storage', ['auto', 'f32'] as const), 'auto')
    .option('--json', 'JSON output')
    .action((model: string, o: { json?: boolean; patch?: string; quant?: string; storage?: 'auto' | 'f32' }) => {
      if ((o.patch === undefined) !== (o.quant === undefined)) throw err('E_ARG', msg.badArg('--patch/--quant', 'give both (e.g. --patch all --quant int8:per-channel)'));
      const i = modelInfo(model, { storage: o.storage, patch: o.patch !== undefined ? { select: o.patch, quant: o.quant! } : null });
      const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
      output(!!o.json, i, () =>
        [
          `${i.file} (${i.format})`,
          `architecture   ${i.architecture}, ${i.layers} layers, hidden ${i.hidden_size}, mlp ${i.intermediate_size}`,
          `attention      ${i.heads} heads, ${i.kv_heads} kv heads, head dim ${i.head_dim}, rope theta ${i.rope_theta}`,
          ...(i.features.length ? [`features       ${i.features.join('; ')}`] : []),
          `vocab          ${i.vocab_size}${i.tied_embeddings ? ' (tied embeddings)' : ''}`,
          `parameters     ${(i.params / 1e6).toFixed(1)} M, ${i.linear_layers} linear layers`,
          `stored as      ${Object.entries(i.tensor_dtypes).map(([k, v]) => `${k}×${v}`).join(', ')}; ${(i.weight_bytes / 2 ** 20).toFixed(1)} MiB, ${i.bits_per_weight.toFixed(2)} bits/weight`,
          `resident       native ${gib(i.resident.native.weight_bytes)} (${Object.entries(i.resident.native.by_format).map(([k, v]) => `${k} ${gib(v)}`).join(', ')}${i.resident.patch ? `; ${i.resident.native.patched_linears} linears ${i.resident.patch.quant}` : ''}) + ${(i.resident.native.kv_bytes_per_token / 1024).toFixed(0)} KiB KV/token; tfjs ${gib(i.resident.tfjs.weight_bytes)}; ${gib(i.memory_available_bytes)} available`,
        ].join('\n'),
      );
    });

  program
    .command('generate <model>')
    .description('continue a prompt (any engine: --engine tfjs|native|cuda|auto)')
    .requiredOption('--prompt <text>', 'prompt text', text('--prompt', undefined, true))
    .option('--max-tokens <n>', 'tokens to generate (prompt + n <= the context length)', int('--max-tokens', 1), 32)
    .option('--temperature <t>', '0 = greedy', num('--temperature', { min: 0, max: 1000 }), 0)
    .option('--top-k <k>', 'top-k sampling (0 = off)', int('--top-k', 0), 0)
    .option('--top-p <p>', 'nucleus sampling, in (0, 1]', num('--top-p', { min: 0, minOpen: true, max: 1 }), 1)
    .option('--seed <s>', 'sampling seed', int('--seed', 0, 2 ** 32 - 1), 0)
    .option('--backend <b>', 'tfjs backend: wasm | cpu', oneOf('--backend', BACKENDS))
    .option('--patch <select>', 'with --engine native: quantize these linears on the way in (with --quant)')
    .option('--quant <spec>', 'quantization spec for --patch, e.g. int8:per-channel')
    .option('--json', 'JSON output')
    .action(async (model: string, o: GenerateCliOptions) => {
      const { engine, reason } = resolveEngine(o.engine);
      if ((o.patch === undefined) !== (o.quant === undefined)) throw err('E_ARG', msg.badArg('--patch/--quant', 'give both (e.g. --patch all --quant int8:per-channel)'));
      if (o.patch !== undefined && engine !== 'native') throw err('E_ARG', msg.badArg('--patch', 'generate applies a patch on the way in with --engine native only'));
      if (engine === 'native' && (o.patch !== undefined || !fitsFloat32Model(model))) {
        // streamed from the checkpoint, no float32 model (src/engine/cpu-checkpoint.ts); memory checked before loading
        const bar = progressBar('generating', o.maxTokens);
        const patch = o.patch !== undefined ? { select: o.patch, quant: o.quant! } : null;
        const opts = { maxTokens: o.maxTokens, temperature: o.temperature, topK: o.topK, topP: o.topP, seed: o.seed, onToken: (_id: number, i: number) => bar.update(i + 1) };
        const { file, result: r, load } = await generateFromCheckpoint(model, o.prompt, opts, patch);
        bar.stop();
        const decodeTokS = r.decodeMs.length ? (1000 * r.decodeMs.length) / r.decodeMs.reduce((a, b) => a + b, 0) : null;
        const res = { model: file, engine, engine_reason: `${reason}; streamed from the checkpoint`, prompt: o.prompt, text: r.text, prompt_tokens: r.promptIds.length, tokens: r.ids, prefill_ms: r.prefillMs, decode_tokens_per_s: decodeTokS, load_s: load.seconds, resident_bytes: load.residentBytes };
        output(!!o.json, res, () => `${o.prompt}${r.text}\n\n[${r.ids.length} tokens; prefill ${r.prefillMs.toFixed(0)} ms; decode ${decodeTokS?.toFixed(1) ?? '-'} tok/s; load ${load.seconds.toFixed(1)} s, ${(load.residentBytes / 2 ** 30).toFixed(2)} GiB resident; engine native, streamed]`);
        return;
      }
      const m = await checkThenLoad(
        model,
        (ck) => {
          if (!ck.tokenizer) throw err('E_TOKENIZER', msg.noTokenizer(ck.file));
          if (o.topK > ck.config.vocabSize) throw err('E_ARG', msg.badArg('--top-k', `${o.topK} exceeds the vocabulary of ${ck.config.vocabSize}`));
          const n = Math.max(1, ck.tokenizer.encode(o.prompt).length);
          checkTokensFit(ck, 'prompt + --max-tokens', n + o.maxTokens, ck.config.maxPositionEmbeddings);
          if (engine === 'tfjs') {
            checkTfjsMemory(ck, n, n, o.backend); // prefill
            checkTfjsMemory(ck, 1, n + o.maxTokens, o.backend); // last decode step
          }
        },
        o.backend,
      );
      try {
        const bar = progressBar('generating', o.maxTokens);
        const opts = {
          maxTokens: o.maxTokens,
          temperature: o.temperature,
          topK: o.topK,
          topP: o.topP,
          seed: o.seed,
          onToken: (_id: number, i: number) => bar.update(i + 1),
        };
        const r = await generateOn(m, engine, o.prompt, opts, o.modes);
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
    .requiredOption('--text <file>', 'text file to score (UTF-8)', text('--text'))
    .option('--text-encoding <e>', `how to read --text: ${TEXT_ENCODINGS.join(' | ')}`, oneOf('--text-encoding', TEXT_ENCODINGS), 'utf8')
    .option('--window <n>', 'tokens per window (<= the context length; default 512, fewer for a large vocabulary so the logits fit the tfjs heap: 128 for Gemma 3)', int('--window', 2))
    .option('--stride <n>', 'window stride (default window/2; <= window)', int('--stride', 1))
    .option('--max-tokens <n>', 'score at most n tokens', int('--max-tokens', 1))
    .option('--backend <b>', 'tfjs backend: wasm | cpu', oneOf('--backend', BACKENDS))
    .option('--no-baseline', 'with the streamed native engine (--patch): score the patched model only (one engine in memory)')
    .option('--json', 'JSON output')
    .action(async (model: string, o: EvalCliOptions) => {
      if ((o.patch === undefined) !== (o.quant === undefined)) throw err('E_ARG', msg.badArg('--patch/--quant', 'give both (e.g. --patch all --quant int8:per-channel)'));
      const txt = readText(o.text, o.textEncoding);
      if (resolveEngine(o.engine).engine === 'native' && (o.baseline === false || !fitsFloat32Model(model))) {
        // a model whose float32 copy does not fit (or --no-baseline): the native engine streamed from the checkpoint
        const window = o.window ?? 512;
        if (o.stride !== undefined && o.stride > window) throw err('E_ARG', msg.badArg('--stride', `${o.stride} exceeds --window ${window}`));
        const patch = o.patch !== undefined ? { select: o.patch, quant: o.quant! } : null;
        const r = await evalFromCheckpoint(model, txt, { window, stride: o.stride, maxTokens: o.maxTokens, patch, baseline: o.baseline !== false, qualityTokens: o.qualityTokens });
        output(!!o.json, r, () => evalNativeText(r));
        return;
      }
      const m = await checkThenLoad(
        model,
        (ck) => {
          o.window ??= defaultEvalWindow(ck.config.vocabSize);
          if (o.stride !== undefined && o.stride > o.window) throw err('E_ARG', msg.badArg('--stride', `${o.stride} exceeds --window ${o.window}`));
          if (!ck.tokenizer) throw err('E_TOKENIZER', msg.noTokenizer(ck.file));
          checkTokensFit(ck, '--window', o.window, ck.config.maxPositionEmbeddings);
          if (o.patch !== undefined) checkSelection(ck.config, o.patch); // before the baseline, not after it
          if (resolveEngine(o.engine).engine === 'tfjs') checkTfjsMemory(ck, o.window, o.window, o.backend);
        },
        o.backend,
      );
      try {
        const { stride, maxTokens } = o;
        const window = o.window!;
        if (o.patch !== undefined && o.quant !== undefined) {
          const r = await evalPatched(m, txt, {
            select: o.patch,
            quant: o.quant,
            window,
            stride,
            maxTokens,
            qualityTokens: o.qualityTokens,
            engine: o.engine as EngineName | 'auto' | undefined,
            modes: o.modes,
            baseCacheDir: o.baseCache === false ? null : o.baseCache || undefined,
            blockTrace: o.blockTrace ? true : undefined,
            listModules: !!o.listModules,
          });
          const pc = (x: number) => (100 * x).toFixed(3);
          output(!!o.json, r, () =>
            [
              `patched ${r.patched_modules} linears with ${r.quant} (${r.ratio_vs_fp16.toFixed(2)}x smaller than fp16); engine ${r.engine} (${r.engine_reason})`,
              ...(r.patched_module_paths ?? []).map((p: string) => `  ${p}`),
              ...r.roundings.map((x: string) => `  rounding: ${x}`),
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
        const bar = progressBar('scoring', 1);
        const t0 = performance.now();
        const { engine, reason } = resolveEngine(o.engine);
        const e = await openEngine(m, { engine, modes: o.modes });
        let r: Awaited<ReturnType<typeof perplexity>>;
        try {
          r = await perplexity(e, txt, { window, stride, maxTokens, onProgress: (d, t) => bar.update(d, t) });
        } finally {
          e.dispose();
        }
        bar.stop();
        const res = { model: m.checkpoint.file, engine, engine_reason: reason, text: o.text, ppl: r.ppl, ppl_ci95: r.pplCI95, nll_mean: r.nllMean, nll_stderr: r.nllStdErr, tokens: r.tokens, window: r.window, stride: r.stride, timeS: (performance.now() - t0) / 1000 };
        output(!!o.json, res, () => `perplexity ${r.ppl.toFixed(3)} (95% CI ${r.pplCI95[0].toFixed(3)}–${r.pplCI95[1].toFixed(3)}) over ${r.tokens} tokens, window ${r.window}, stride ${r.stride}; engine ${engine} (${reason})`);
      } finally {
        m.dispose();
      }
    });
}

const BACKENDS = ['wasm', 'cpu'] as const;

interface GenerateCliOptions {
  prompt: string;
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  backend?: 'wasm' | 'cpu';
  engine?: string;
  modes?: string;
  /** --engine native: quantize on the way in */
  patch?: string;
  quant?: string;
  json?: boolean;
}

interface EvalCliOptions {
  text: string;
  textEncoding: TextEncoding;
  /** absent: defaultEvalWindow(vocab) */
  window?: number;
  stride?: number;
  maxTokens?: number;
  backend?: 'wasm' | 'cpu';
  patch?: string;
  quant?: string;
  qualityTokens: number;
  engine?: string;
  modes?: string;
  baseCache?: string | false;
  blockTrace?: boolean;
  listModules?: boolean;
  /** --no-baseline sets false */
  baseline?: boolean;
  json?: boolean;
}
