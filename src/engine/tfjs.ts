/**
 * The tfjs reference (src/model/llama.ts) behind the {@link Engine} contract: float32 throughout, patched weights
 * exactly as installed, custom linear forwards (fault injection) run as written.
 *
 * @example
 * const e = tfjsEngine(model);
 * const logits = e.forward(ids, undefined, { logitsFrom: 10 }); // (ids.length - 10, V)
 */
import { err, msg } from '../messages.js';
import type { KVCache, LlamaModel } from '../model/llama.js';
import type { Engine, EngineCache } from './engine.js';

interface TfjsCache extends EngineCache {
  readonly kv: KVCache;
  readonly owner: LlamaModel;
}

/**
 * Wrap a loaded model as an Engine (no copy: it runs the model's tensors; dispose() leaves the model alive).
 * @example
 * const e = tfjsEngine(await LlamaModel.load('default'));
 */
export function tfjsEngine(model: LlamaModel): Engine {
  const caches = new Set<TfjsCache>();
  const kvOf = (c: EngineCache | undefined): KVCache | undefined => {
    if (c === undefined) return undefined;
    if (!caches.has(c as TfjsCache)) throw err('E_ENGINE', msg.engineForeignCache());
    return (c as TfjsCache).kv;
  };
  const e: Engine = {
    engine: 'tfjs',
    config: model.config,
    tokenizer: model.tokenizer,
    model,
    forward(tokens, cache, o = {}) {
      const { logits } = model.forward(tokens, kvOf(cache), { lastOnly: o.lastOnly ?? false, logitsFrom: o.logitsFrom ?? 0 });
      const out = logits.dataSync() as Float32Array;
      logits.dispose();
      return out;
    },
    newCache() {
      const kv = model.newCache();
      const c: TfjsCache = {
        kv,
        owner: model,
        get length() {
          return kv.length;
        },
      };
      caches.add(c);
      return c;
    },
    freeCache(c) {
      if (!caches.delete(c as TfjsCache)) return;
      model.disposeCache((c as TfjsCache).kv);
    },
    info() {
      const patched = model.linears().filter((l) => l.patch !== null).length;
      const custom = model.linears().filter((l) => l.forward).length;
      return {
        engine: 'tfjs',
        weights: `float32 (tfjs reference); ${patched} patched linears as their exact dequantized float32 weights${custom ? `, ${custom} with a custom forward` : ''}`,
        roundings: [],
        details: { backend: 'tfjs' },
      };
    },
    dispose() {
      for (const c of [...caches]) e.freeCache(c);
    },
  };
  return e;
}
