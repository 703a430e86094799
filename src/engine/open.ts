/**
 * openEngine: the one way to get an {@link Engine} — from a loaded model or a checkpoint path, on the engine asked
 * for (or the fastest available), with an optional patch applied first.
 *
 *   engine   'tfjs' (the readable reference), 'native' (C++ CPU engine), 'cuda' (GPU engine), or 'auto' (default):
 *            cuda where a GPU is visible and the addon has the CUDA engine, else native where the addon has the
 *            CPU engine, else tfjs. `defaultEngine()` says which and why.
 *   modes    the CUDA engine's storage-mode spec (src/engine/modes.ts), default 'fp16'
 *   patch    { select, quant } (src/quant/patch.ts) applied to the model before the engine copies its weights, with
 *            the quantized codes attached so engines can run the patch's own codes (`engine.patchReport` keeps the
 *            report)
 *   load     how a path becomes a model (default LlamaModel.load): swappable, e.g. for a streaming loader
 *
 * An engine opened from a path owns its model (dispose() releases both); one opened from a model leaves it alive.
 * Bad input — an unknown engine, `cuda` without a GPU, the native engine without the addon — is one E_ENGINE / E_CUDA
 * line, and nothing half-built stays allocated.
 *
 * @example
 * const e = await openEngine('default', { engine: 'native', patch: { select: 'all', quant: 'int8:per-channel' } });
 * e.patchReport!.modules.length // 211
 * e.dispose();
 */
import { err, msg } from '../messages.js';
import { LlamaModel } from '../model/llama.js';
import { patch as applyPatch, type PatchOptions, type PatchReport } from '../lab/patch.js';
import { cudaAvailable } from '../native/device.js';
import { loadNative } from '../native/addon.js';
import { ENGINE_NAMES, type Engine, type EngineName } from './engine.js';
import { tfjsEngine } from './tfjs.js';
import { nativeEngine } from './native.js';
import { cudaEngine } from './cuda-engine.js';
import type { CpuEngineOptions } from './cpu-native.js';
import type { CudaEngineOptions } from './cuda.js';

export interface OpenEngineOptions {
  /** default 'auto' (the fastest available; see defaultEngine) */
  engine?: EngineName | 'auto';
  /** CUDA storage-mode spec, default 'fp16' */
  modes?: string;
  /** patch to apply first (attachQuantized is set, so engines can hold the patch's own codes) */
  patch?: Omit<PatchOptions, 'attachQuantized'>;
  /** native engine options (storage, validate) */
  native?: CpuEngineOptions;
  /** CUDA engine options besides modes */
  cuda?: Omit<CudaEngineOptions, 'modes'>;
  /** how a path becomes a model (default LlamaModel.load) */
  load?: (path: string) => Promise<LlamaModel>;
}

/** An Engine with the patch report of `openEngine({ patch })` (null when nothing was patched). */
export type OpenedEngine = Engine & { readonly patchReport: PatchReport | null };

/**
 * The fastest engine available on this machine, and why.
 * @example
 * defaultEngine() // { engine: 'native', reason: 'no GPU visible; the native CPU engine is built' }
 */
export function defaultEngine(): { engine: EngineName; reason: string } {
  const a = loadNative() as Record<string, unknown> | null;
  const hasCudaEngine = !!a && typeof a.engineCreate === 'function';
  if (hasCudaEngine && cudaAvailable()) return { engine: 'cuda', reason: 'a GPU is visible and the addon has the CUDA engine' };
  const gpu = hasCudaEngine ? 'no GPU visible' : 'the addon has no CUDA engine';
  if (a && typeof a.cpuEngineCreate === 'function') return { engine: 'native', reason: `${gpu}; the native CPU engine is built` };
  return { engine: 'tfjs', reason: 'the native addon is not built (npm run build:native): the tfjs reference' };
}

/**
 * Parse an engine name ('tfjs' | 'native' | 'cuda' | 'auto'); E_ARG otherwise.
 * @example
 * parseEngineName('native') // 'native'
 */
export function parseEngineName(v: string, what = 'engine'): EngineName | 'auto' {
  if (v === 'auto' || (ENGINE_NAMES as readonly string[]).includes(v)) return v as EngineName | 'auto';
  throw err('E_ARG', msg.badArg(what, `'${v}' (expected ${ENGINE_NAMES.join(', ')} or auto)`));
}

/**
 * Make an engine of a model (see the module comment).
 * @example
 * const e = await openEngine(model, { engine: 'tfjs' });
 */
export async function openEngine(modelOrPath: string | LlamaModel, o: OpenEngineOptions = {}): Promise<OpenedEngine> {
  const name = o.engine === undefined || o.engine === 'auto' ? defaultEngine().engine : parseEngineName(o.engine);
  if (name === 'cuda' && !cudaAvailable()) throw err('E_CUDA', msg.cudaUnavailable('--engine cuda'));
  const owned = typeof modelOrPath === 'string';
  const model = owned ? await (o.load ?? ((p: string) => LlamaModel.load(p)))(modelOrPath) : modelOrPath;
  try {
    const patchReport = o.patch ? applyPatch(model, { ...o.patch, attachQuantized: true }) : null;
    const inner = name === 'tfjs' ? tfjsEngine(model) : name === 'native' ? nativeEngine(model, o.native) : cudaEngine(model, { ...o.cuda, modes: o.modes ?? 'fp16' });
    const e: OpenedEngine = {
      ...inner,
      patchReport,
      dispose() {
        inner.dispose();
        if (owned) model.dispose();
      },
    };
    return e;
  } catch (x) {
    if (owned) model.dispose();
    throw x;
  }
}
