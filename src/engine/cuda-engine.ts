/**
 * The CUDA engine (src/engine/cuda.ts) behind the {@link Engine} contract. The GPU engine holds one sequence (one KV
 * cache) and returns the last position's logits of a call; so a call asking for several rows runs the prefix up to
 * the first wanted row as one prefill and each further row as a decode step (the logits are those of the same
 * weights; only the kernel — GEMM vs GEMV — differs). Patched weights: see src/engine/cuda-patches.ts; the
 * roundings it applies are in info().roundings.
 *
 * @example
 * const e = cudaEngine(model, { modes: 'int8' });
 * const cache = e.newCache();
 * const row = e.forward(ids, cache, { lastOnly: true }); // (1, V)
 * e.dispose();
 */
import { err, msg } from '../messages.js';
import type { LlamaModel } from '../model/llama.js';
import { CudaEngine, type CudaEngineOptions } from './cuda.js';
import { outputRows, type Engine, type EngineCache } from './engine.js';

interface CudaCache extends EngineCache {
  length: number;
}

/**
 * Upload a model's current weights to the GPU engine, as an Engine.
 * @example
 * const e = cudaEngine(model, { modes: 'fp16' });
 */
export function cudaEngine(model: LlamaModel, o: CudaEngineOptions = {}): Engine {
  const g = CudaEngine.fromModel(model, o);
  const V = model.config.vocabSize;
  const caches = new Set<CudaCache>();
  let active: CudaCache | null = null;
  let dirty = true; // the device KV cache holds positions no live cache owns
  const begin = (cache: CudaCache | undefined) => {
    if (cache === undefined) {
      g.reset();
      active = null;
      dirty = true;
      return;
    }
    if (!caches.has(cache)) throw err('E_ENGINE', msg.engineForeignCache());
    if (active === cache) return;
    if (cache.length > 0) throw err('E_ENGINE', msg.engineOneSequence());
    if (dirty || active !== null) g.reset();
    active = cache;
    dirty = false;
  };
  const e: Engine = {
    engine: 'cuda',
    config: model.config,
    tokenizer: model.tokenizer,
    model,
    forward(tokens, cache, fo = {}) {
      const T = tokens.length;
      if (T === 0) throw err('E_ARG', msg.badArg('tokens', 'empty sequence'));
      begin(cache as CudaCache | undefined);
      const { from, rows } = outputRows(T, fo);
      const out = new Float32Array(rows * V);
      const first = g.forward(tokens.slice(0, from + 1), { logits: true });
      out.set(first.logits!, 0);
      for (let t = from + 1; t < T; t++) out.set(g.forward([tokens[t]!], { logits: true }).logits!, (t - from) * V);
      if (cache) (cache as CudaCache).length += T;
      return out;
    },
    newCache() {
      const c: CudaCache = { length: 0 };
      caches.add(c);
      return c;
    },
    freeCache(c) {
      caches.delete(c as CudaCache);
      if (active === c) {
        active = null;
        dirty = true;
      }
    },
    info() {
      const led = g.ledger();
      const patched = model.linears().filter((l) => l.patch !== null).length;
      return {
        engine: 'cuda',
        weights: `storage modes ${JSON.stringify(led.modes)}; ${patched} patched linears (own int8 codes where the kernel matches, else fp16 of the exact dequantized weights)`,
        roundings: [...g.roundings],
        details: { schedule: led.schedule, weight_bytes: led.weightBytes, vram: led.categories },
      };
    },
    dispose: () => g.dispose(),
  };
  return e;
}
