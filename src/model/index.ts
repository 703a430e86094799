/**
 * codecllm/model: checkpoints (HF folder, GGUF), config, canonical names, tokenizers, the tfjs reference Llama and
 * generation. A .cllm container opens through `openAnyCheckpoint` / `load` (codecllm).
 *
 * @example
 * import { openCheckpoint, linearPaths } from 'codecllm/model';
 * const ck = openCheckpoint('default'); linearPaths(ck.config).length; // 211
 */
export { openCheckpoint, resolveModelPath, ggmlBlocks, DEFAULT_MODEL_FILE, NAMED_MODELS } from './checkpoint.js';
export type { Checkpoint, CheckpointFormat, GgmlBlockType } from './checkpoint.js';
export { configFromHF, configFromGGUF, engineDims, paramCount, featuresOf, nativeEngineGap, LLAMA_FEATURES } from './config.js';
export type { LlamaConfig, EngineDims, ArchFeatures } from './config.js';
export { BLOCK_LINEARS, linearPaths, linearPath, expectedTensors } from './names.js';
export type { LinearKind } from './names.js';
export { LlamaModel } from './llama.js';
export type { LinearLayer, Block, KVCache, PatchInfo, LoadOptions, ForwardOptions, ForwardResult } from './llama.js';
export { initBackend } from './backend.js';
export type { BackendName } from './backend.js';
export { generate, generateWith, sampleToken, argmax } from './generate.js';
export type { GenerateOptions, GenerateResult, GenerationModel, DecodeSession } from './generate.js';
export { tokenizerFromGGUF, tokenizerFromHFJson } from './tokenizer.js';
export { spmTokenizerFromGGUF, SpmTokenizer } from './tokenizer-spm.js';
export type { TextTokenizer } from './tokenizer.js';
export { SHAPES, shapeByName, shapeTensors } from './shapes.js';
export type { ModelShape } from './shapes.js';
export { makeShape, shapeCheckpoint, shapeTensorBf16 } from './make-shape.js';
export type { MakeShapeOptions, MakeShapeResult } from './make-shape.js';
export { residentBytes, availableMemory } from './resident.js';
export type { ResidentReport, LoadPatch } from './resident.js';
