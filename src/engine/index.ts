/**
 * codecllm/engine: the native engines — CPU fast path and CUDA — and the GPU engine's storage modes.
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
