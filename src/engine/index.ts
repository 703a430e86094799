/**
 * codecllm/engine: the one engine contract (Engine: tfjs / native / cuda, makeEngine; openEngine with a patch is in codecllm/lab), the native engines — CPU fast
 * path and CUDA — and the GPU engine's storage modes.
 *
 * @example
 * import { createCpuEngine } from 'codecllm/engine';
 * const eng = createCpuEngine(model); eng.forward([1, 2, 3]);
 */
export { createCpuEngine, generateNative } from './cpu-native.js';
export type { CpuEngine, CpuEngineOptions, CpuEngineInfo } from './cpu-native.js';
export { CudaEngine } from './cuda.js';
export type { CudaEngineOptions, CudaLedger, CudaBatchResult, CudaGenerateResult, CudaForwardResult } from './cuda.js';
export { STORAGE_MODES, COMPRESSED_MODES, ENGINE_CODECS, GGUF_BLOCK_BYTES, parseModeSpec, resolveModes, accountBytes } from './modes.js';
export type { StorageMode, ModeSpec, ModePlan, ByteAccount, GgufBlockType } from './modes.js';
export { makeEngine, defaultEngine, parseEngineName } from './open.js';
export type { EngineOptions } from './open.js';
export { ENGINE_NAMES, isEngine, outputRows } from './engine.js';
export type { Engine, EngineName, EngineCache, EngineInfo, EngineForwardOptions } from './engine.js';
export { tfjsEngine } from './tfjs.js';
export { nativeEngine } from './native.js';
export { cudaEngine } from './cuda-engine.js';
export { planPatchedLinears, int8KernelForm, refuseCustomForwards } from './cuda-patches.js';
export type { PatchedPlan, Int8Rows } from './cuda-patches.js';
export { loadCpuEngine } from './cpu-checkpoint.js';
export type { CheckpointEngine, CheckpointLoadOptions } from './cpu-checkpoint.js';
