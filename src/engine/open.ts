/**
 * Choosing and making an engine: `defaultEngine()` (the fastest available, and why), `parseEngineName`, and
 * `makeEngine(model, { engine, modes })` — an {@link Engine} over a loaded model as it is now.
 *
 *   engine   'tfjs' (the readable reference), 'native' (C++ CPU engine), 'cuda' (GPU engine), or 'auto' (default):
 *            cuda where a GPU is visible and the addon has the CUDA engine, else native where the addon has the
 *            CPU engine, else tfjs.
 *   modes    the CUDA engine's storage-mode spec (src/engine/modes.ts), default 'fp16'
 *
 * `openEngine` (src/lab/open-engine.ts) adds loading from a path and patching first. Bad input — an unknown engine,
 * `cuda` without a GPU, the native engine without the addon — is one E_ARG / E_CUDA / E_NATIVE line.
 *
 * @example
 * const e = makeEngine(model, { engine: 'native' });
 * e.forward([1, 2, 3]);
 * e.dispose();
 */
import { err, msg } from '../messages.js';
import type { LlamaModel } from '../model/llama.js';
import { cudaAvailable } from '../native/device.js';
import { loadNative } from '../native/addon.js';
import { ENGINE_NAMES, type Engine, type EngineName } from './engine.js';
import { tfjsEngine } from './tfjs.js';
import { nativeEngine } from './native.js';
import { cudaEngine } from './cuda-engine.js';
import type { CpuEngineOptions } from './cpu-native.js';
import type { CudaEngineOptions } from './cuda.js';

export interface EngineOptions {
  /** default 'auto' (the fastest available; see defaultEngine) */
  engine?: EngineName | 'auto';
  /** CUDA storage-mode spec, default 'fp16' */
  modes?: string;
  /** native engine options (storage, validate) */
  native?: CpuEngineOptions;
  /** CUDA engine options besides modes */
  cuda?: Omit<CudaEngineOptions, 'modes'>;
}

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
 * Make an engine of a loaded model as it is now (patched linears as patched). The model stays the caller's.
 * Patching first and loading from a path: openEngine (src/lab/open-engine.ts).
 * @example
 * const e = makeEngine(model, { engine: 'native' });
 */
export function makeEngine(model: LlamaModel, o: EngineOptions = {}): Engine {
  const name = o.engine === undefined || o.engine === 'auto' ? defaultEngine().engine : parseEngineName(o.engine);
  if (name === 'cuda' && !cudaAvailable()) throw err('E_CUDA', msg.cudaUnavailable('--engine cuda'));
  return name === 'tfjs' ? tfjsEngine(model) : name === 'native' ? nativeEngine(model, o.native) : cudaEngine(model, { ...o.cuda, modes: o.modes ?? 'fp16' });
}
