/**
 * The native CPU engine (src/engine/cpu-native.ts) behind the {@link Engine} contract. A multi-token call is one
 * batched prefill (native/src/cpu_engine.cc runs the T tokens through every layer together); `logitsFrom` selects
 * rows of its (T, V) output. Patched weights run exactly: int8/int4 patches as their own int8 codes + scales where
 * they reproduce the installed weight bit for bit, every other scheme (nf4, fp8, per-input-channel) as its exact
 * dequantized float32 weight — never re-quantized. A linear with a custom forward is refused (E_ENGINE).
 *
 * @example
 * const e = nativeEngine(model);
 * const logits = e.forward(ids, undefined, { logitsFrom: 100 });
 * e.dispose();
 */
import type { LlamaModel } from '../model/llama.js';
import { createCpuEngine, type CpuEngineOptions, type NativeCache } from './cpu-native.js';
import { outputRows, type Engine } from './engine.js';

/**
 * Copy a model's current weights (patched ones as patched) into a native CPU engine, as an Engine.
 * @example
 * const e = nativeEngine(model, { storage: 'auto' });
 */
export function nativeEngine(model: LlamaModel, o: CpuEngineOptions = {}): Engine {
  const cpu = createCpuEngine(model, o);
  const V = model.config.vocabSize;
  const e: Engine = {
    engine: 'native',
    config: model.config,
    tokenizer: model.tokenizer,
    model,
    forward(tokens, cache, fo = {}) {
      const { from, rows } = outputRows(tokens.length, fo);
      const logits = cpu.forward(tokens, cache as NativeCache | undefined, { lastOnly: fo.lastOnly ?? false });
      return fo.lastOnly || from === 0 ? logits : logits.subarray(from * V, (from + rows) * V);
    },
    newCache: () => cpu.newCache(),
    freeCache: (c) => cpu.freeCache(c as NativeCache),
    info() {
      const i = cpu.info();
      const patched = model.linears().filter((l) => l.patch !== null);
      const kept = patched.map((l) => cpu.formats.get(l.path) ?? '?');
      const byFormat: Record<string, number> = {};
      for (const f of kept) byFormat[f] = (byFormat[f] ?? 0) + 1;
      return {
        engine: 'native',
        weights: `exact: float32 activations; ${patched.length} patched linears held as ${Object.entries(byFormat).map(([k, v]) => `${k}×${v}`).join(', ') || 'none'} (codes + scales reproduce the patched weights bit for bit; otherwise float32)`,
        roundings: [],
        details: { ...i },
      };
    },
    dispose: () => cpu.dispose(),
  };
  return e;
}
