/**
 * codecllm — the public surface, readable in one file (formats → tensors → quant → codec → model → engine → eval →
 * viz → kernel). Notebooks and scripts import from here: `import { LlamaModel, generate } from 'codecllm'`.
 */

// errors and messages
export { CodecLLMError, err, isCodecError, msg } from './messages.js';
export type { ErrorCode } from './messages.js';

// formats
export { DTYPES, bitsPerWeight, byteSizeOf, f16ToF32, f32ToF16, bf16ToF32, f32ToBf16 } from './formats/dtypes.js';
export type { StorageDType, ElementDType, GGMLBlockDType } from './formats/dtypes.js';
export { openGGUF, parseGGUF, writeGGUF, encodeGGUF } from './formats/gguf.js';
export type { GGUFFile, GGUFValue } from './formats/gguf.js';
export { openSafetensors, openShardedSafetensors, writeSafetensors, encodeSafetensors } from './formats/safetensors.js';
export { dequantizeBlocks, quantizeBlocks } from './formats/ggml-blocks.js';

// tensors
export type { TensorInfo, TensorSource, F32Tensor } from './tensors/tensor.js';
export { numel } from './tensors/tensor.js';

// quantization lab: specs, quantizers, metrics, selection, patch(), quality, sweeps, faults, diagnose()
export * from './quant/index.js';

// codecs
export { cpuCompress, cpuDecompress, cpuCompressChunks, cpuDecompressChunks, xxhash64, CPU_CODECS } from './codec/cpu.js';
export type { CpuCodec } from './codec/cpu.js';
export { nvcompAvailable, nvcompCompress, nvcompDecompress, NVCOMP_CODECS } from './codec/nvcomp.js';
export { DeviceBuffer, vramLedger, copyBandwidth, cudaAvailable } from './codec/device.js';
export { TRANSFORMS, transformPlanes, applyTransform, invertTransform, byteplaneSplit, byteplaneMerge, bf16ExponentSplit, bf16ExponentMerge } from './codec/transforms.js';
export type { Transform } from './codec/transforms.js';
export { shannonEntropy, entropyBoundBytes, entropyReport, byteHistogram } from './codec/entropy.js';
export { openCllm, writeCllm, encodeCllm, cllmFromBuffer, CLLM_CODECS } from './formats/cllm.js';
// importing compress-model registers the .cllm checkpoint opener: a .cllm path loads anywhere a model path does
export { compressModel, verifyCllm, decompressToHF, roundtripModel, openCllmCheckpoint } from './codec/compress-model.js';

// model
export { openCheckpoint, resolveModelPath, DEFAULT_MODEL_FILE } from './model/checkpoint.js';
export type { Checkpoint } from './model/checkpoint.js';
export { configFromHF, configFromGGUF, paramCount } from './model/config.js';
export type { LlamaConfig } from './model/config.js';
export { linearPaths, linearPath } from './model/names.js';
export { LlamaModel } from './model/llama.js';
export type { LinearLayer, Block, KVCache, PatchInfo } from './model/llama.js';
export { initBackend } from './model/backend.js';
export { generate, sampleToken } from './model/generate.js';
export type { GenerateOptions, GenerateResult } from './model/generate.js';
export { tokenizerFromGGUF, tokenizerFromHFJson } from './model/tokenizer.js';
export type { TextTokenizer } from './model/tokenizer.js';
export { tinyConfig, syntheticWeights, writeHFModel, writeGGUFModel } from './model/synthetic.js';

// engines: the one contract (issue 12) and its three implementations
export { openEngine, defaultEngine, parseEngineName } from './engine/open.js';
export type { OpenEngineOptions, OpenedEngine } from './engine/open.js';
export { ENGINE_NAMES, isEngine } from './engine/engine.js';
export type { Engine, EngineName, EngineCache, EngineInfo, EngineForwardOptions } from './engine/engine.js';
export { tfjsEngine } from './engine/tfjs.js';
export { nativeEngine } from './engine/native.js';
export { cudaEngine } from './engine/cuda-engine.js';
export { planPatchedLinears } from './engine/cuda-patches.js';
export { createCpuEngine, generateNative } from './engine/cpu-native.js';
export type { CpuEngine, CpuEngineOptions } from './engine/cpu-native.js';
export { CudaEngine } from './engine/cuda.js';
export type { CudaEngineOptions, CudaLedger, CudaBatchResult, CudaGenerateResult, CudaForwardResult } from './engine/cuda.js';
export { STORAGE_MODES, GGUF_BLOCK_BYTES, parseModeSpec } from './engine/modes.js';
export type { StorageMode, GgufBlockType } from './engine/modes.js';

// evaluation
export { perplexity } from './eval/perplexity.js';
export type { PerplexityResult, PerplexityOptions } from './eval/perplexity.js';
export { compareLogits } from './eval/compare.js';
export { windowPlan, forEachScoredRow } from './eval/windows.js';
export { QualityAccumulator, meanAndUncertainty, percentileSorted } from './eval/kld.js';
export type { QualityStats, KldSummary } from './eval/kld.js';
export { baselineLogits, computeBaseline, saveBaseline, loadBaseline } from './eval/base-logits.js';
export type { BaseLogits } from './eval/base-logits.js';
export { scoreAgainstBaseline } from './eval/quality-report.js';
export { engineSweep } from './eval/engine-sweep.js';
export type { EngineSweepRow, EngineSweepOptions, EngineSweepConfig } from './eval/engine-sweep.js';

// visualisation and notebooks
export * from './viz/index.js';
export { installKernel } from './kernel/install.js';
export { runReport } from './report/report.js';

// native addon
export { nativeInfo, loadNative } from './native.js';
