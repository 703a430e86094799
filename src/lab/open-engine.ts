/**
 * openEngine: the one way to get an {@link Engine} for the lab — from a loaded model or a checkpoint path, on the
 * engine asked for (or the fastest available: src/engine/open.ts defaultEngine), with an optional patch applied first.
 *
 *   engine   'tfjs' | 'native' | 'cuda' | 'auto' (default)
 *   modes    the CUDA engine's storage-mode spec, default 'fp16'
 *   patch    { select, quant } (./patch.ts) applied to the model before the engine copies its weights, with the
 *            quantized codes attached so engines can run the patch's own codes (`engine.patchReport` keeps the report)
 *   load     how a path becomes a model (default LlamaModel.load): swappable, e.g. for a streaming loader
 *
 * An engine opened from a path owns its model (dispose() releases both); one opened from a model leaves it alive.
 * Nothing half-built stays allocated when a step fails.
 *
 * @example
 * const e = await openEngine('default', { engine: 'native', patch: { select: 'all', quant: 'int8:per-channel' } });
 * e.patchReport!.modules.length // 211
 * e.dispose();
 */
import { LlamaModel } from '../model/llama.js';
import type { Engine } from '../engine/engine.js';
import { makeEngine, type EngineOptions } from '../engine/open.js';
import { patch as applyPatch, type PatchOptions, type PatchReport } from './patch.js';

export interface OpenEngineOptions extends EngineOptions {
  /** patch to apply first (attachQuantized is set, so engines can hold the patch's own codes) */
  patch?: Omit<PatchOptions, 'attachQuantized'>;
  /** how a path becomes a model (default LlamaModel.load) */
  load?: (path: string) => Promise<LlamaModel>;
}

/** An Engine with the patch report of `openEngine({ patch })` (null when nothing was patched). */
export type OpenedEngine = Engine & { readonly patchReport: PatchReport | null };

/**
 * Make an engine of a model or a checkpoint path (see the module comment).
 * @example
 * const e = await openEngine(model, { engine: 'tfjs' });
 */
export async function openEngine(modelOrPath: string | LlamaModel, o: OpenEngineOptions = {}): Promise<OpenedEngine> {
  const owned = typeof modelOrPath === 'string';
  const model = owned ? await (o.load ?? ((p: string) => LlamaModel.load(p)))(modelOrPath) : modelOrPath;
  try {
    const patchReport = o.patch ? applyPatch(model, { ...o.patch, attachQuantized: true }) : null;
    const inner = makeEngine(model, o);
    return {
      ...inner,
      patchReport,
      dispose() {
        inner.dispose();
        if (owned) model.dispose();
      },
    };
  } catch (x) {
    if (owned) model.dispose();
    throw x;
  }
}
