/**
 * codecllm/container: the .cllm container (chunked, checksummed, codec per tensor) and whole-model compression:
 * compress, verify, unpack to a Hugging Face folder, round-trip, open as a checkpoint.
 *
 * @example
 * import { compressModel, verifyCllm } from 'codecllm/container';
 * compressModel('default', 'smol.cllm', { quant: 'int8:per-channel', codec: 'zstd' }); verifyCllm('smol.cllm').ok;
 */
export { CLLM_CODECS, CLLM_VERSION, openCllm, cllmFromBuffer, writeCllm, encodeCllm, quantToBytes, quantFromBytes, parseStorage, storageString } from './cllm.js';
export type { CllmCodec, CllmFile, CllmManifest, CllmTensorInput, CllmWriteOptions, Storage } from './cllm.js';
export { compressModel, verifyCllm, decompressToHF, roundtripModel, openCllmCheckpoint, openAnyCheckpoint, isCllmPath, parseQuantChoice } from './compress-model.js';
export type { CompressModelOptions, CompressReport, VerifyReport, RoundtripReport, TensorReport } from './compress-model.js';
