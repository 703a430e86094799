/**
 * Every error and user-facing message of codecllm, in one place.
 *
 * Errors are `CodecLLMError`s with a stable `code` (tests assert both code and text). A parser error always
 * names the file and the problem on one line: `<file>: <problem>`.
 *
 * @example
 * throw err('E_GGUF', msg.badMagic('model.gguf', 'GGUF'));
 */

/** Stable error codes. Append-only: codes are part of the public API. */
export type ErrorCode =
  | 'E_IO' // file missing / unreadable
  | 'E_FORMAT' // generic malformed input
  | 'E_GGUF' // GGUF parser
  | 'E_SAFETENSORS' // safetensors parser
  | 'E_CONFIG' // model config missing / unsupported
  | 'E_ARCH' // unsupported architecture
  | 'E_DTYPE' // unknown / unsupported dtype
  | 'E_SHAPE' // shape mismatch
  | 'E_TOKENIZER'
  | 'E_MODEL' // model-level misuse
  | 'E_ARG' // bad argument from a user / CLI
  | 'E_NATIVE' // native addon missing or failed
  | 'E_CUDA' // CUDA runtime status
  | 'E_NVCOMP' // nvCOMP status
  | 'E_CODEC' // CPU codec failure
  | 'E_CONTAINER' // .cllm container
  | 'E_CHECKSUM' // checksum mismatch
  | 'E_QUANT' // quantizer
  | 'E_PATCH' // layer patching / verification
  | 'E_DEFAULT_MODEL' // default model missing / hash mismatch
  | 'E_OOM'
  | 'E_KERNEL' // notebook kernel extension
  | 'E_REPORT' // notebook report (nbclient / nbconvert)
  | 'E_ENGINE' // inference engines (native CPU engine; misuse, validation against the tfjs reference)
  | 'E_NUMERIC' // a value the target type cannot hold (fp16 overflow / underflow), or a non-finite weight
  | 'E_INTERNAL' // a bug: an unexpected exception (reported on one line; CODECLLM_DEBUG=1 prints the stack)
  | 'E_JOB' // sweep plans and job results: malformed, duplicated, missing, or not matching their hash
  | 'E_MEMORY'; // a model that does not fit (RAM, wasm heap), refused before allocation with needed vs available

export class CodecLLMError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'CodecLLMError';
  }
}

/**
 * Create a CodecLLMError.
 * @example
 * throw err('E_ARG', msg.badArg('--window', 'must be >= 2'));
 */
export function err(code: ErrorCode, message: string, cause?: unknown): CodecLLMError {
  return new CodecLLMError(code, message, cause === undefined ? undefined : { cause });
}

/**
 * True when `e` is a CodecLLMError, optionally with the given code.
 * @example
 * try { openGGUF(f); } catch (e) { if (isCodecError(e, 'E_GGUF')) console.log(e.message); }
 */
export function isCodecError(e: unknown, code?: ErrorCode): e is CodecLLMError {
  return e instanceof CodecLLMError && (code === undefined || e.code === code);
}

/** Message texts. Each takes the file (or subject) first when there is one. */
export const msg = {
  // --- I/O
  fileNotFound: (file: string) => `${file}: no such file or directory`,
  notAFile: (file: string) => `${file}: not a regular file`,
  notAFileKind: (file: string, kind: string) => `${file}: not a regular file (it is a ${kind})`,
  ioFailed: (file: string, detail: string) => `${file}: ${detail}`,
  textNotText: (file: string, detail: string) =>
    `${file}: not a UTF-8 text: ${detail} (pass --text-encoding latin1 to read it byte by byte)`,
  outNotFile: (file: string, kind: string) => `${file}: --out names a ${kind}; it must be a regular file or not exist`,
  outNotDir: (dir: string, kind: string) => `${dir}: --out names a ${kind}; it must be a folder or not exist`,
  outNoFolder: (file: string, dir: string) => `${file}: folder ${dir} does not exist (or is not a folder)`,
  // --- numerics (casts, quantization)
  castOverflow: (file: string, tensor: string, dtype: string, count: number, largest: number, limit: number) =>
    `${file}: tensor '${tensor}': ${count} value(s) that ${dtype} cannot hold (beyond ±${limit}, or nonzero below its smallest subnormal; largest |value| ${largest}); pass --allow-overflow saturate or keep-bf16`,
  nonFiniteWeight: (file: string, tensor: string, count: number, first: number, value: number) =>
    `${file}: tensor '${tensor}' has ${count} non-finite value(s) (first at element ${first}: ${value})`,
  // --- context / memory
  contextExceeded: (file: string, what: string, need: number, ctx: number) =>
    `${file}: ${what} ${need} tokens exceeds the model's context of ${ctx} tokens`,
  wasmMemory: (file: string, need: number, have: number) =>
    `${file}: the tfjs reference would need ${(need / 2 ** 30).toFixed(2)} GiB for this prompt, its wasm backend holds ${(have / 2 ** 30).toFixed(2)} GiB; use --engine native (or a shorter prompt)`,
  // --- tokenizer validation
  tokenizerMergeMissing: (file: string, index: number, merge: string, piece: string) =>
    `${file}: invalid tokenizer: merge ${index} (${merge}) makes '${piece}', which is not in the vocabulary`,
  tokenizerSpecialMissing: (file: string, what: string, id: string) => `${file}: invalid tokenizer: ${what} ${id} is not in the vocabulary`,
  truncated: (file: string, what: string, need: bigint | number, have: bigint | number) =>
    `${file}: truncated: ${what} needs ${need} bytes at offset, only ${have} available`,
  // --- generic parser
  badMagic: (file: string, fmt: string) => `${file}: not a ${fmt} file (bad magic)`,
  unsupportedVersion: (file: string, fmt: string, v: number) => `${file}: unsupported ${fmt} version ${v}`,
  overflow: (file: string, what: string) => `${file}: arithmetic overflow computing ${what}`,
  tooLarge: (file: string, what: string, value: bigint | number, limit: bigint | number) =>
    `${file}: ${what} ${value} exceeds limit ${limit}`,
  unknownDtype: (file: string, tensor: string, dtype: string | number) =>
    `${file}: tensor '${tensor}' has unknown or unsupported dtype ${dtype}`,
  badDim: (file: string, tensor: string, dim: string) => `${file}: tensor '${tensor}' has invalid dimension ${dim}`,
  sizeMismatch: (file: string, tensor: string, expected: bigint | number, got: bigint | number) =>
    `${file}: tensor '${tensor}' byte size ${got} does not match its dtype and shape (${expected})`,
  outOfBounds: (file: string, tensor: string, begin: bigint | number, end: bigint | number, size: bigint | number) =>
    `${file}: tensor '${tensor}' data [${begin}, ${end}) lies outside the data section of ${size} bytes`,
  dataNotCovered: (file: string, detail: string) => `${file}: tensor data offsets do not cover the data section exactly (${detail})`,
  badBlocks: (file: string, tensor: string, detail: string) => `${file}: tensor '${tensor}' has impossible block data: ${detail}`,
  duplicateTensor: (file: string, tensor: string) => `${file}: duplicate tensor name '${tensor}'`,
  badHeader: (file: string, detail: string) => `${file}: malformed header: ${detail}`,
  badAlignment: (file: string, tensor: string, alignment: number) =>
    `${file}: tensor '${tensor}' offset is not a multiple of the alignment ${alignment}`,
  missingTensor: (file: string, tensor: string) => `${file}: tensor '${tensor}' not found`,
  // --- models
  missingConfig: (dir: string) => `${dir}: no config.json (not a Hugging Face model folder)`,
  missingWeights: (dir: string) => `${dir}: no model.safetensors or model.safetensors.index.json`,
  missingTokenizer: (dir: string) => `${dir}: no tokenizer.json`,
  unsupportedArch: (file: string, arch: string) =>
    `${file}: unsupported architecture '${arch}' (supported: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM; GGUF 'llama', 'qwen2', 'gemma3')`,
  forwardOom: (rows: number, vocab: number, modelBytes: number, cause: string) =>
    `tfjs ran out of memory (${cause}): ${rows} rows of ${vocab} logits need ${((rows * vocab * 4) / 2 ** 30).toFixed(2)} GiB (several copies while scoring) beside the model's ${(modelBytes / 2 ** 30).toFixed(2)} GiB of float32 tensors; score fewer positions at once (a smaller eval --window)`,
  setWeightOom: (path: string, bytes: number, cause: string) =>
    `tfjs ran out of memory (${cause}) installing ${path}'s ${(bytes / 2 ** 30).toFixed(2)} GiB weight; the linear has no weight now: reload the model (or patch with --engine native)`,
  archMissingFeature: (file: string, arch: string, feature: string) => `${file}: architecture '${arch}' needs ${feature}, which codecllm does not implement`,
  badConfig: (file: string, field: string, detail: string) => `${file}: config field '${field}' ${detail}`,
  shapeMismatch: (file: string, tensor: string, expected: readonly number[], got: readonly number[]) =>
    `${file}: tensor '${tensor}' has shape [${got.join(', ')}], expected [${expected.join(', ')}]`,
  cllmNeedsContainerOpener: (p: string) =>
    `${p}: a .cllm container; open it with openAnyCheckpoint() or load() (src/container/compress-model.ts, src/load.ts)`,
  unknownModelPath: (p: string) => `${p}: not a model (expected a .gguf file, a .cllm file, a Hugging Face folder, or a named model: 'default', 'gemma3-270m')`,
  defaultModelMissing: (p: string) =>
    `default model not found at ${p}: run 'make setup' (or 'bash scripts/fetch-default-model.sh') to fetch SmolLM2-135M-Instruct`,
  namedModelMissing: (name: string, p: string, script: string, what: string) =>
    `${name} model not found at ${p}: run 'make setup' (or 'bash ${script}') to fetch ${what}`,
  defaultModelHash: (p: string, want: string, got: string) => `${p}: sha256 ${got} does not match the pinned ${want}`,
  // --- tokenizer
  tokenizerMissingVocab: (file: string) => `${file}: GGUF has no tokenizer.ggml.tokens`,
  tokenizerUnsupported: (file: string, model: string) => `${file}: unsupported tokenizer model '${model}' (supported: gpt2 byte-level BPE, llama SentencePiece)`,
  tokenizerUnsupportedPre: (file: string, pre: string, supported: readonly string[]) =>
    `${file}: unsupported pre-tokenizer '${pre}' (tokenizer.ggml.pre; supported: ${supported.join(', ')})`,
  tokenizerBadField: (file: string, key: string, detail: string) => `${file}: tokenizer metadata '${key}' ${detail}`,
  tokenizerBadJson: (file: string, detail: string) => `${file}: invalid tokenizer: ${detail}`,
  // --- model layer
  unknownLinear: (p: string) => `no linear layer at module path '${p}'`,
  weightSize: (p: string, out: number, inp: number, got: number) =>
    `weight for '${p}' has ${got} elements, expected ${out}x${inp} = ${out * inp}`,
  noTokenizer: (file: string) => `${file}: the checkpoint carries no tokenizer; pass token ids instead of text`,
  // --- args
  jobBad: (file: string, detail: string) => `${file}: ${detail}`,
  badArg: (name: string, detail: string) => `invalid ${name}: ${detail}`,
  cliUsage: (cmd: string, detail: string) => `${cmd}: ${detail}`,
  internal: (detail: string) => `internal error: ${detail} (please report it; CODECLLM_DEBUG=1 prints the stack)`,
  // --- native
  nativeMissing: (what: string) =>
    `native addon not built (needed for ${what}): run 'npm run build:native' (see README, 'Native addon')`,
  cudaUnavailable: (what: string) => `CUDA is not available (needed for ${what}): the native addon was built without CUDA or no GPU is visible`,
  // --- formats (binary reader, safetensors, gguf)
  readFailed: (file: string, detail: string) => `${file}: read failed: ${detail}`,
  closedSource: (file: string) => `${file}: read after close`,
  badIndex: (file: string, detail: string) => `${file}: malformed safetensors index: ${detail}`,
  // --- viz / kernel / report (issue 6)
  vizNoField: (field: string, have: readonly string[]) => `chart: no field '${field}' in the data (fields: ${have.join(', ') || 'none'})`,
  vizTensorSize: (shape: readonly number[], len: number) =>
    `tensorSummary: shape [${shape.join(', ')}] has ${shape.reduce((a, b) => a * b, 1)} elements but the data has ${len}`,
  vizNotTensor: (what: string) => `tensorSummary: expected a Float32Array, number[], {shape, data} or tfjs Tensor, got ${what}`,
  kernelNotBuilt: (entry: string) => `codecllm kernel: ${entry} not found: run 'npm run build' first`,
  kernelNoTslab: (root: string) => `codecllm kernel: tslab not found from ${root}: run 'npm ci'`,
  kernelInstalled: (dir: string) => `Installed kernelspec 'codecllm' (CodecLLM (TypeScript)) in ${dir}`,
  reportNoPython: (python: string, detail: string) =>
    `report: ${python} cannot run nbclient/nbconvert (${detail}): run 'bash scripts/setup-report.sh'`,
  reportCellError: (notebook: string, cell: number, detail: string) => `${notebook}: cell ${cell} failed: ${detail}`,
  reportCellTimeout: (notebook: string, cell: number, seconds: number) => `${notebook}: cell ${cell} timed out after ${seconds} s`,
  reportNoNotebooks: () => `report: no notebooks given and none found in notebooks/`,
  reportWrote: (dir: string, pages: number) => `report: wrote ${pages} page(s) and index.html to ${dir}`,
  // --- quant lab (issue 3): spec strings, quantizer, native fast path
  quantSpecEmpty: () =>
    `invalid quant spec '': empty (expected e.g. int8:per-channel, int8:group=128:asym, int4:group=64, nf4:group=64, fp8)`,
  quantSpecFormat: (spec: string, fmt: string) =>
    `invalid quant spec '${spec}': unknown format '${fmt}' (expected int8, int4, nf4, fp8)`,
  quantSpecOption: (spec: string, opt: string) =>
    `invalid quant spec '${spec}': unknown option '${opt}' (expected per-tensor, per-channel, per-input-channel, group=N, sym, asym, scale=fp32|fp16|bf16)`,
  quantSpecGroup: (spec: string, g: string) => `invalid quant spec '${spec}': group size '${g}' is not one of 32, 64, 128, 256`,
  quantSpecScale: (spec: string, dt: string) =>
    `invalid quant spec '${spec}': unknown scale dtype '${dt}' (expected fp32, fp16, bf16)`,
  quantSpecTwice: (spec: string, what: string) => `invalid quant spec '${spec}': ${what} given twice`,
  quantSpecAsym: (spec: string, fmt: string) => `invalid quant spec '${spec}': ${fmt} is symmetric only (asym needs int8 or int4)`,
  quantSpecObject: (detail: string) => `invalid quant spec object: ${detail}`,
  quantShape: (shape: readonly number[], n: number) =>
    `quantize: shape [${shape.join(', ')}] is not a 2-D (rows, cols) shape of positive integers covering the ${n} weights`,
  quantNonFinite: (value: number, row: number, col: number) =>
    `quantize: non-finite weight ${value} at [${row}, ${col}] (only finite weights can be quantized)`,
  quantBadTensor: (detail: string) => `quantized tensor is inconsistent: ${detail}`,
  quantNativeUnsupported: (spec: string) =>
    `native quantizer does not support '${spec}' (native: int8 with any granularity, int4; nf4 and fp8 run in TS)`,
  // --- quant lab: layer selection, patching, faults (issue 3)
  selectEmpty: () =>
    `invalid selection '': empty (expected all, first:N, blocks:a-b, type:q,k,v,o,gate,up,down,lm_head, re:REGEX or a full module path)`,
  selectUnknown: (sel: string) =>
    `invalid selection '${sel}': expected all, first:N, blocks:a-b, type:q,k,v,o,gate,up,down,lm_head, re:REGEX or a full module path`,
  selectShortName: (sel: string, n: number, first: string) =>
    `invalid selection '${sel}': a short module name matching ${n} modules (first ${first}); select by full path, type: or re: (a short name silently resolves to one layer)`,
  selectFirst: (sel: string, total: number) => `invalid selection '${sel}': first:N needs an integer 1 <= N <= ${total} (linear layers in the model)`,
  selectBlocks: (sel: string, layers: number) => `invalid selection '${sel}': blocks:a-b needs integers 0 <= a <= b < ${layers}`,
  selectType: (sel: string, kind: string) =>
    `invalid selection '${sel}': unknown type '${kind}' (expected q, k, v, o, gate, up, down, lm_head)`,
  selectRegex: (sel: string, detail: string) => `invalid selection '${sel}': bad regular expression (${detail})`,
  selectNone: (sel: string) => `selection '${sel}' matches no linear layer`,
  patchVerify: (path: string, spec: string, bad: number, n: number, r: number, c: number, orig: number, got: number, bound: number) =>
    `patch verification failed for ${path} (${spec}): ${bad} of ${n} weights differ from this module's original by more than the scheme's error bound; first at [${r}, ${c}]: original ${orig}, installed ${got}, bound ${bound}`,
  patchCodecUnsupported: (codec: string) => `patch: codec '${codec}' is not available in patch() yet (quantization only)`,
  faultUnknown: (name: string) =>
    `unknown fault '${name}' (expected scale-axis, scale-fp16-underflow, uint8-as-int8, transposed, stale-buffer, wrong-layer)`,
  faultNeedsSpec: (name: string, spec: string, need: string) => `fault '${name}' cannot be injected with '${spec}': it needs ${need}`,
  // --- native addon, CPU codecs, nvCOMP, device memory (issue 4: codec lab)
  nativeFailed: (detail: string, site: string) => `native addon error: ${detail} (at ${site})`,
  nativeArg: (detail: string) => `invalid argument to the native addon: ${detail}`,
  unknownCodec: (codec: string, known: readonly string[]) => `unknown codec '${codec}' (known: ${known.join(', ')})`,
  codecFailed: (codec: string, op: 'compress' | 'decompress', detail: string) => `${codec} ${op} failed: ${detail}`,
  cudaFailed: (detail: string, site: string) => `CUDA error: ${detail} (at ${site})`,
  deviceOom: (detail: string, site: string) => `out of GPU memory: ${detail} (at ${site})`,
  nvcompFailed: (codec: string, tensor: string, detail: string, site: string) =>
    `nvCOMP ${codec} failed on tensor '${tensor}': ${detail} (at ${site})`,
  nvcompChunkFailed: (codec: string, op: string, tensor: string, chunk: string, chunks: string, status: string) =>
    `nvCOMP ${codec} ${op} failed on tensor '${tensor}', chunk ${chunk} of ${chunks}: ${status}`,
  nvcompChunkSize: (codec: string, tensor: string, chunk: string, chunks: string, got: string, want: string) =>
    `nvCOMP ${codec} decompress of tensor '${tensor}', chunk ${chunk} of ${chunks}: produced ${got} bytes, expected ${want}`,
  nvcompMissing: (what: string) =>
    `nvCOMP is not available (needed for ${what}): the native addon was built without it (pip install nvidia-libnvcomp-cu13, or set CODECLLM_NVCOMP_ROOT, then rebuild)`,
  bufferDisposed: (tag: string) => `device buffer '${tag}' was already disposed`,
  bufferRange: (tag: string, offset: number, length: number, size: number) =>
    `device buffer '${tag}': range [${offset}, ${offset + length}) lies outside its ${size} bytes`,
  // --- native CPU engine (src/engine/cpu-native.ts)
  engineDisposed: () => `native CPU engine was already disposed`,
  engineForeignCache: () => `KV cache does not belong to this engine (or was freed): create it with engine.newCache()`,
  engineCustomForward: (path: string) =>
    `linear '${path}' has a custom forward function; the native CPU engine runs weights only (remove .forward or use the tfjs model)`,
  engineCustomForwardOn: (engine: string, path: string) =>
    `linear '${path}' has a custom forward function (fault injection?); ${engine} runs weights only: remove .forward or use --engine tfjs`,
  engineUnavailable: (engine: string, why: string) => `engine '${engine}' is not available here: ${why}`,
  engineOneSequence: () => `the CUDA engine holds one sequence at a time: free the other cache (or start a new one) before using this one`,
  baseCacheBad: (file: string, why: string) => `${file}: base-logit cache is unusable (${why}); delete it to recompute the baseline`,
  engineValidate: (diff: number, tol: number, row: number, index: number, position: number) =>
    `native CPU engine disagrees with the tfjs reference (CODECLLM_VALIDATE_WITH_TFJS): |Δlogit| ${diff.toExponential(3)} above ${tol} + 1e-3·|ref| at row ${row}, token ${index} (cache position ${position})`,
  // --- .cllm container, transforms, compress/verify/decompress/roundtrip (issue 4: codec lab, items 4-5)
  cllmHeaderChecksum: (file: string, stored: string, computed: string) =>
    `${file}: header checksum mismatch (stored ${stored}, computed ${computed})`,
  cllmManifestChecksum: (file: string, stored: string, computed: string) =>
    `${file}: manifest checksum mismatch (stored ${stored}, computed ${computed})`,
  cllmBadManifest: (file: string, detail: string) => `${file}: malformed manifest: ${detail}`,
  cllmManifestVersion: (file: string, v: string) => `${file}: unsupported manifest format_version ${v}`,
  cllmBadTensor: (file: string, tensor: string, detail: string) => `${file}: tensor '${tensor}': ${detail}`,
  cllmUnknownEnum: (file: string, tensor: string, what: string, value: string, known: readonly string[]) =>
    `${file}: tensor '${tensor}' has unknown ${what} ${value} (known: ${known.join(', ')})`,
  cllmChunk: (file: string, tensor: string, chunk: number, chunks: number, detail: string) =>
    `${file}: tensor '${tensor}' chunk ${chunk} of ${chunks}: ${detail}`,
  cllmChunkChecksum: (file: string, tensor: string, chunk: number, chunks: number, stored: string, computed: string) =>
    `${file}: tensor '${tensor}' chunk ${chunk} of ${chunks}: checksum mismatch (stored ${stored}, computed ${computed})`,
  cllmRawChecksum: (file: string, tensor: string, stored: string, computed: string) =>
    `${file}: tensor '${tensor}': decoded data checksum mismatch (stored ${stored}, computed ${computed})`,
  cllmNoConfig: (file: string) => `${file}: the container carries no model config (not loadable as a model)`,
  transformMisuse: (transform: string, detail: string) => `transform '${transform}' ${detail}`,
  compressBadQuant: (q: string) =>
    `invalid --quant '${q}': expected 'none' (keep source storage), a cast dtype (f32, f16, bf16) or a quant spec such as int8:per-channel`,
  // --- GPU engine (issue 5: src/engine/cuda.ts, src/engine/modes.ts)
  gpuModeSpec: (spec: string, detail: string) =>
    `invalid storage mode spec '${spec}': ${detail} (modes: fp16, int8, decode-per-forward, cached, fused, gguf; e.g. 'fp16', 'int8,lm_head=fp16', 'fused:codec=ans')`,
  gpuMixedSchedules: (a: string, b: string) =>
    `one GPU engine runs one compressed schedule: '${a}' and '${b}' were both requested (use one of decode-per-forward, cached, fused)`,
  gpuEngineDisposed: () => `GPU engine was already disposed`,
  gpuEngineCapacity: (need: number, maxSeq: number) => `GPU engine: ${need} positions exceed the KV cache capacity ${maxSeq} (raise maxSeq)`,
  gpuGgufUnavailable: (path: string, dtype: string) =>
    `GPU engine: ${path} is stored as ${dtype} in the checkpoint; storage mode gguf needs q4_1 or q8_0 blocks (use fp16 or int8)`,
  gpuGgufNotExact: (path: string) =>
    `GPU engine: ${path}: the checkpoint's blocks do not reproduce the installed weight (patched?); storage mode gguf keeps the file's blocks only`,
  gpuEngineBatch: (got: number, maxBatch: number) =>
    `GPU engine: ${got} sequences in one batch, but the engine was created with maxBatch ${maxBatch} (1 to ${maxBatch})`,
} as const;
