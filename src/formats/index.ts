/**
 * codecllm/formats: the storage dtypes (defined once), GGML blocks, GGUF, safetensors, and the lazy TensorSource
 * contract every checkpoint reader implements.
 *
 * @example
 * import { openGGUF, bitsPerWeight } from 'codecllm/formats';
 * const f = openGGUF('model.gguf'); f.list().length; bitsPerWeight('q4_1'); // 5
 */
export { DTYPES, ENGINE_LAYOUTS, weightTypeId, bitsPerWeight, byteSizeOf, f16ToF32, f32ToF16, bf16ToF32, f32ToBf16, decodeToF32 } from './dtypes.js';
export type { StorageDType, ElementDType, GGMLBlockDType, DTypeInfo, EngineLayout } from './dtypes.js';
export { dequantizeBlocks, quantizeBlocks } from './ggml-blocks.js';
export type { QuantizableBlockDType } from './ggml-blocks.js';
export { GGUFType, openGGUF, parseGGUF, writeGGUF, encodeGGUF } from './gguf.js';
export type { GGUFFile, GGUFValue, GGUFTensorInfo, GGUFWriteSpec } from './gguf.js';
export { openSafetensors, openShardedSafetensors, safetensorsFromBuffer, writeSafetensors, encodeSafetensors } from './safetensors.js';
export type { SafetensorsFile, SafetensorsTensorInput } from './safetensors.js';
export { numel } from './tensor.js';
export type { TensorInfo, TensorSource, F32Tensor } from './tensor.js';
