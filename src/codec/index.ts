/**
 * codecllm/codec: lossless codecs — CPU (zstd, lz4, deflate, snappy, lz4frame) and xxhash64, nvCOMP on the GPU,
 * byte transforms (byteplane, bf16 exponent split) and order-0 entropy bounds.
 *
 * @example
 * import { cpuCompress, cpuDecompress } from 'codecllm/codec';
 * const z = cpuCompress(bytes, 'zstd'); cpuDecompress(z, 'zstd', bytes.length);
 */
export { CPU_CODECS, CPU_CODEC_LEVELS, cpuCompress, cpuDecompress, cpuCompressChunks, cpuDecompressChunks, cpuCodecVersions, xxhash64 } from './cpu.js';
export type { CpuCodec, CpuCompressOptions } from './cpu.js';
export { NVCOMP_CODECS, nvcompAvailable, nvcompInfo, nvcompCompress, nvcompDecompress, nvcompCompressHost, nvcompDecompressHost } from './nvcomp.js';
export type { NvcompCodec, NvcompOptions, NvcompCompressed } from './nvcomp.js';
export { TRANSFORMS, transformPlanes, applyTransform, invertTransform, byteplaneSplit, byteplaneMerge, bf16ExponentSplit, bf16ExponentMerge } from './transforms.js';
export type { Transform, Plane } from './transforms.js';
export { shannonEntropy, entropyBoundBytes, entropyReport, byteHistogram, entropyOfHistogram, huffmanCodeLengths } from './entropy.js';
export type { EntropyReport, PlaneEntropy } from './entropy.js';
export { LOSSLESS_LAYOUT, losslessEncode, losslessDecode, losslessInfo, losslessSplit, losslessBound } from './lossless.js';
export type { LosslessDtype, LosslessInfo } from './lossless.js';
