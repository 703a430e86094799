/**
 * `generate` / `eval` with `--engine native`: the native CPU engine loaded straight from the checkpoint (no float32
 * model; src/engine/cpu-checkpoint.ts), with load progress on the terminal. eval --patch scores the baseline engine,
 * frees it, then loads the patched one (quantized on the way in): one engine in memory at a time.
 */
import { loadCpuEngine, type CheckpointEngine } from '../engine/cpu-checkpoint.js';
import { generateNative } from '../engine/cpu-native.js';
import type { LoadPatch } from '../model/resident.js';
import { logitsAgreement, perplexityNative } from '../eval/native-eval.js';
import type { GenerateOptions, GenerateResult } from '../model/generate.js';
import { err, msg } from '../messages.js';
import { tensorProgress } from './load-progress.js';

/**
 * Load the native engine from a checkpoint with terminal progress.
 * @example
 * const e = loadNativeWithProgress('data/shapes/llama3.2-1b', null); e.dispose();
 */
export function loadNativeWithProgress(model: string, patch: LoadPatch | null): CheckpointEngine {
  const p = tensorProgress(patch ? `loading (${patch.quant} on ${patch.select})` : 'loading');
  try {
    return loadCpuEngine(model, { patch, onProgress: p.update });
  } finally {
    p.stop();
  }
}

/**
 * Generate on the native engine streamed from `model`.
 * @example
 * const { result } = await generateFromCheckpoint('default', 'Hello', { maxTokens: 8 });
 */
export async function generateFromCheckpoint(model: string, prompt: string, o: GenerateOptions, patch: LoadPatch | null = null): Promise<{ file: string; result: GenerateResult; load: { seconds: number; residentBytes: number } }> {
  const e = loadNativeWithProgress(model, patch);
  try {
    const result = await generateNative(e, prompt, o);
    return { file: e.checkpoint.file, result, load: { seconds: e.load.seconds, residentBytes: e.info().weightBytes } };
  } finally {
    e.dispose();
  }
}

export interface NativeEvalOptions {
  window: number;
  stride?: number;
  maxTokens?: number;
  patch: LoadPatch | null;
  /** with a patch: also score the unpatched model (loaded first, freed before the patched load) */
  baseline: boolean;
  qualityTokens: number;
}

/**
 * Perplexity (and with a patch: baseline perplexity, KL and top-1 agreement on the first qualityTokens tokens) on
 * the native engine streamed from `model`.
 * @example
 * const r = await evalFromCheckpoint(dir, text, { window: 512, patch: { select: 'all', quant: 'int8:per-channel' }, baseline: true, qualityTokens: 256 });
 */
export async function evalFromCheckpoint(model: string, text: string, o: NativeEvalOptions) {
  const t0 = performance.now();
  const score = (e: CheckpointEngine, ids: number[]) => {
    const scored = o.maxTokens !== undefined ? ids.slice(0, o.maxTokens + 1) : ids;
    return perplexityNative(e, scored, { window: o.window, stride: o.stride });
  };
  const tokens = (e: CheckpointEngine) => {
    const tok = e.source.tokenizer;
    if (!tok) throw err('E_TOKENIZER', msg.noTokenizer(e.checkpoint.file));
    return tok.encode(text);
  };
  let base: { ppl: number; ci: [number, number]; logits: Float32Array | null; load_s: number; resident: number } | null = null;
  if (!o.patch || o.baseline) {
    const e = loadNativeWithProgress(model, null);
    try {
      const ids = tokens(e);
      const r = score(e, ids);
      const q = ids.slice(0, Math.min(o.qualityTokens, o.window));
      base = { ppl: r.ppl, ci: r.pplCI95, logits: o.patch && q.length ? e.forward(q) : null, load_s: e.load.seconds, resident: e.info().weightBytes };
      if (!o.patch) return { model: e.checkpoint.file, engine: 'native', ppl: r.ppl, ppl_ci95: r.pplCI95, tokens: r.tokens, window: r.window, stride: r.stride, load_s: e.load.seconds, resident_bytes: base.resident, time_s: (performance.now() - t0) / 1000 };
    } finally {
      e.dispose();
    }
  }
  const e = loadNativeWithProgress(model, o.patch);
  try {
    const ids = tokens(e);
    const r = score(e, ids);
    const q = ids.slice(0, Math.min(o.qualityTokens, o.window));
    const agree = base?.logits && q.length ? logitsAgreement(base.logits, e.forward(q), e.source.config.vocabSize) : null;
    return {
      model: e.checkpoint.file,
      engine: 'native',
      patch: o.patch!.select,
      quant: o.patch!.quant,
      patched_modules: e.patched.length,
      ppl: r.ppl,
      ppl_ci95: r.pplCI95,
      baseline_ppl: base?.ppl ?? null,
      baseline_ppl_ci95: base?.ci ?? null,
      ppl_change: base ? r.ppl / base.ppl - 1 : null,
      tokens: r.tokens,
      window: r.window,
      stride: r.stride,
      quality_tokens: agree?.rows ?? 0,
      kl_mean: agree?.kl_mean ?? null,
      kl_max: agree?.kl_max ?? null,
      top1_agreement: agree?.top1_agreement ?? null,
      baseline_load_s: base?.load_s ?? null,
      baseline_resident_bytes: base?.resident ?? null,
      load_s: e.load.seconds,
      resident_bytes: e.info().weightBytes,
      time_s: (performance.now() - t0) / 1000,
    };
  } finally {
    e.dispose();
  }
}

/** Human lines for evalFromCheckpoint's result. */
export function evalNativeText(r: Awaited<ReturnType<typeof evalFromCheckpoint>>): string {
  const gib = (b: number | null) => (b === null ? '-' : `${(b / 2 ** 30).toFixed(2)} GiB`);
  if (!('patch' in r)) return `perplexity ${r.ppl.toFixed(3)} (95% CI ${r.ppl_ci95[0].toFixed(3)}–${r.ppl_ci95[1].toFixed(3)}) over ${r.tokens} tokens, window ${r.window}, stride ${r.stride} [native; load ${r.load_s.toFixed(1)} s, ${gib(r.resident_bytes)} resident, ${r.time_s.toFixed(1)} s total]`;
  return [
    `patched ${r.patched_modules} linears with ${r.quant} on the way in (native engine, ${gib(r.resident_bytes)} resident, load ${r.load_s.toFixed(1)} s)`,
    `perplexity ${r.ppl.toFixed(3)}${r.baseline_ppl == null ? '' : ` vs baseline ${r.baseline_ppl.toFixed(3)} (${(100 * r.ppl_change!).toFixed(2)}%)`} over ${r.tokens} tokens`,
    r.kl_mean == null ? 'no baseline (--no-baseline)' : `KL ${r.kl_mean.toExponential(3)}, top-1 agreement ${(100 * r.top1_agreement!).toFixed(1)}% over ${r.quality_tokens} tokens`,
    `${r.time_s.toFixed(1)} s total`,
  ].join('\n');
}
