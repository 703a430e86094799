/**
 * codecllm — the verbs a notebook needs, readable in one file: load, patch/unpatch, quantize, evaluate, compare,
 * generate, compress/verify, engine, charts/tables. Everything else lives under subpath exports, one per room of
 * src/ (package.json "exports"):
 *
 *   codecllm/formats    dtypes, GGML blocks, GGUF, safetensors, TensorSource
 *   codecllm/quant      quant specs and plans, reference + native quantizers, error metrics
 *   codecllm/lab        selection, patch, sweeps, faults, diagnosis
 *   codecllm/eval       perplexity, logit comparison, quality verdicts
 *   codecllm/codec      CPU codecs, nvCOMP, transforms, entropy
 *   codecllm/container  the .cllm container, compress / verify / unpack
 *   codecllm/model      checkpoints, config, names, tokenizers, the tfjs reference model, generation
 *   codecllm/engine     the native CPU and CUDA engines, storage modes
 *   codecllm/native     the addon, device buffers, the VRAM ledger
 *   codecllm/viz        charts, tables, display (the root re-exports the common ones)
 *   codecllm/testing    fixtures: tiny configs, synthetic weights, model writers
 *
 * The same rooms are reachable from the root as namespaces (`import { codec } from 'codecllm'; codec.cpuCompress`),
 * which is how a notebook (whose kernel maps the root only) reaches them.
 *
 * @example
 * import { load, patch, runBaseline, compareToBaseline, display, table } from 'codecllm';
 * const model = await load('default');
 * const base = runBaseline(model, model.tokenizer!.encode('The capital of France is'));
 * patch(model, { select: 'all', quant: 'int8:per-channel' });
 * await display(table([compareToBaseline(model, base)]));
 */

// errors
export { CodecLLMError, isCodecError } from './messages.js';
export type { ErrorCode } from './messages.js';

// load: any checkpoint (.gguf, Hugging Face folder, .cllm, 'default')
export { load } from './load.js';
export { openAnyCheckpoint } from './container/compress-model.js';
export { LlamaModel } from './model/llama.js';
export type { LoadOptions } from './model/llama.js';
export type { Checkpoint } from './model/checkpoint.js';
export { resolveModelPath } from './model/checkpoint.js';

// generate
export { generate } from './model/generate.js';
export type { GenerateOptions, GenerateResult } from './model/generate.js';

// quantize
export { parseSpec, quantize, dequantize, quantizeFast, errorStats } from './quant/index.js';
export type { QuantSpec, QuantizedTensor } from './quant/index.js';

// patch / unpatch, diagnose
export { patch, unpatch, diagnose } from './lab/index.js';
export type { PatchOptions, PatchReport } from './lab/index.js';

// evaluate, compare
export { perplexity, runBaseline, compareToBaseline } from './eval/index.js';
export type { PerplexityResult, QualityReport, Baseline } from './eval/index.js';

// compress / verify
export { compressModel, verifyCllm } from './container/compress-model.js';
export type { CompressReport, VerifyReport } from './container/compress-model.js';

// engine: one Engine for tfjs / native / cuda (issue 12), made by openEngine
export { openEngine } from './lab/open-engine.js';
export type { OpenEngineOptions } from './lab/open-engine.js';
export type { Engine, EngineName } from './engine/index.js';
export { cudaAvailable } from './native/device.js';

// charts and tables
export { display, table, chart, lineChart, barChart, scatter, histogram, badge, progress, tensorSummary } from './viz/index.js';

// the rooms, as namespaces (the same modules as the subpath exports)
export * as formats from './formats/index.js';
export * as quant from './quant/index.js';
export * as lab from './lab/index.js';
export * as evaluation from './eval/index.js';
export * as codec from './codec/index.js';
export * as container from './container/index.js';
export * as model from './model/index.js';
export * as engine from './engine/index.js';
export * as native from './native/index.js';
