/**
 * Synthetic Llama-family checkpoints: seeded random weights for a given config, written as a Hugging Face folder
 * (config.json + model.safetensors) or a GGUF file. Unit tests use tiny ones so they need no real model; speed work
 * uses full-size ones (random weights are fine for timing, never for compression ratios).
 */
import fs from 'node:fs';
import path from 'node:path';
import { featuresOf, LLAMA_FEATURES, type LlamaConfig } from './config.js';
import { expectedTensors, ggufName } from './names.js';
import { f32ToBf16, f32ToF16, type ElementDType } from '../formats/dtypes.js';
import { writeSafetensors } from '../formats/safetensors.js';
import { writeGGUF, type GGUFType } from '../formats/gguf.js';
import { quantizeBlocks } from '../formats/ggml-blocks.js';
import { mulberry32 } from '../util/random.js';

/**
 * A small Llama config for tests (GQA 4:2, tied embeddings off). Override any field.
 * @example
 * const cfg = tinyConfig({ numLayers: 3, attentionBias: true });
 */
export function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    architecture: 'llama',
    hiddenSize: 64,
    intermediateSize: 128,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 16,
    vocabSize: 256,
    rmsEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: 256,
    tieWordEmbeddings: false,
    attentionBias: false,
    bosTokenId: 1,
    eosTokenId: 2,
    ...over,
  };
}

/**
 * A small Gemma 3 config for tests (as a Hugging Face checkpoint states it: norms stored as w, applied as 1 + w):
 * 6 layers (5 local, 1 global), window 8, head_dim 32 ≠ hidden/heads, MQA, tied embeddings. Override any field.
 * @example
 * const cfg = tinyGemma3Config({ numLayers: 7 });
 */
export function tinyGemma3Config(over: Partial<LlamaConfig> = {}): LlamaConfig {
  const numLayers = over.numLayers ?? 6;
  return tinyConfig({
    architecture: 'gemma3',
    numLayers,
    numHeads: 4,
    numKvHeads: 1,
    headDim: 32,
    ropeTheta: 1000000,
    rmsEps: 1e-6,
    tieWordEmbeddings: true,
    bosTokenId: 2,
    eosTokenId: 1,
    features: {
      ...LLAMA_FEATURES,
      hiddenAct: 'gelu_tanh',
      qkNorm: true,
      sandwichNorms: true,
      normOffset: 1,
      embedScale: Math.fround(Math.sqrt(64)),
      attnScale: 1 / Math.sqrt(32),
      slidingLayers: Array.from({ length: numLayers }, (_, i) => (i + 1) % 6 !== 0),
      slidingWindow: 8,
      ropeThetaLocal: 10000,
    },
    ...over,
  });
}

/**
 * Seeded standard normal generator (mulberry32 + Box–Muller).
 * @example
 * const n = normalRng(7); n(); // a standard normal sample
 */
export function normalRng(seed: number): () => number {
  const next = mulberry32(seed);
  const u = () => (next() + 0.5) / 4294967296;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/**
 * Seeded random weights for every tensor the config implies (canonical names, PyTorch shapes).
 * Norm weights are 1 + 0.1·N(0,1); others N(0, std²) with std = 1/sqrt(fan_in) (embeddings: 1).
 * @example
 * const w = syntheticWeights(tinyConfig(), 42);
 */
export function syntheticWeights(c: LlamaConfig, seed: number): Map<string, { shape: number[]; data: Float32Array }> {
  const rnd = normalRng(seed);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of expectedTensors(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = name.endsWith('norm.weight');
    const std = name.includes('embed_tokens') ? 1 : isNorm || name.endsWith('.bias') ? 0.1 : 1 / Math.sqrt(shape[1] ?? 1);
    for (let i = 0; i < n; i++) data[i] = (isNorm ? 1 : 0) + std * rnd();
    out.set(name, { shape, data });
  }
  return out;
}

function encodeElements(dt: ElementDType, v: Float32Array): Uint8Array {
  if (dt === 'f32') return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  const u = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) u[i] = dt === 'f16' ? f32ToF16(v[i]!) : f32ToBf16(v[i]!);
  return new Uint8Array(u.buffer);
}

/**
 * HF config.json object for a config.
 * @example
 * fs.writeFileSync('m/config.json', JSON.stringify(hfConfigJson(tinyConfig())));
 */
export function hfConfigJson(c: LlamaConfig): Record<string, unknown> {
  const f = featuresOf(c);
  const gemma = c.architecture === 'gemma2' || c.architecture === 'gemma3';
  const names: Record<LlamaConfig['architecture'], [string, string]> = {
    llama: ['LlamaForCausalLM', 'llama'],
    qwen2: ['Qwen2ForCausalLM', 'qwen2'],
    qwen3: ['Qwen3ForCausalLM', 'qwen3'],
    gemma2: ['Gemma2ForCausalLM', 'gemma2'],
    gemma3: ['Gemma3ForCausalLM', 'gemma3_text'],
  };
  const extra: Record<string, unknown> = gemma
    ? {
        hidden_activation: 'gelu_pytorch_tanh',
        query_pre_attn_scalar: Math.round(1 / (f.attnScale * f.attnScale)),
        sliding_window: f.slidingWindow,
        layer_types: f.slidingLayers?.map((s) => (s ? 'sliding_attention' : 'full_attention')),
        attn_logit_softcapping: f.attnSoftcap,
        final_logit_softcapping: f.finalSoftcap,
        ...(c.architecture === 'gemma3' ? { rope_local_base_freq: f.ropeThetaLocal } : {}),
      }
    : { hidden_act: 'silu' };
  return {
    architectures: [names[c.architecture][0]],
    model_type: names[c.architecture][1],
    ...extra,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    vocab_size: c.vocabSize,
    rms_norm_eps: c.rmsEps,
    rope_theta: c.ropeTheta,
    rope_scaling: c.ropeScaling ? { rope_type: c.ropeScaling.type, ...ropeScalingJson(c) } : null,
    max_position_embeddings: c.maxPositionEmbeddings,
    tie_word_embeddings: c.tieWordEmbeddings,
    attention_bias: c.attentionBias,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    torch_dtype: 'float32',
  };
}

function ropeScalingJson(c: LlamaConfig): Record<string, number> {
  const r = c.ropeScaling!;
  return r.type === 'linear'
    ? { factor: r.factor }
    : { factor: r.factor, low_freq_factor: r.lowFreqFactor, high_freq_factor: r.highFreqFactor, original_max_position_embeddings: r.originalMaxPositionEmbeddings };
}

/**
 * Write an HF folder: config.json + model.safetensors in `dtype`.
 * @example
 * writeHFModel('/tmp/tiny', tinyConfig(), syntheticWeights(tinyConfig(), 1), 'f32');
 */
export function writeHFModel(dir: string, c: LlamaConfig, w: Map<string, { shape: number[]; data: Float32Array }>, dtype: ElementDType = 'f32'): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(hfConfigJson(c), null, 1));
  writeSafetensors(
    path.join(dir, 'model.safetensors'),
    [...w].map(([name, t]) => ({ name, dtype: name.includes('norm') ? 'f32' : dtype, shape: t.shape, data: encodeElements(name.includes('norm') ? 'f32' : dtype, t.data) })),
    { format: 'pt' },
  );
}

/**
 * Apply llama.cpp's convert-time q/k permutation (HF -> GGUF rows); the inverse of checkpoint.unpermuteRows.
 * @example
 * const ggufQ = permuteRows(hfQ, 576, 9);
 */
export function permuteRows(w: Float32Array, rows: number, nHead: number): Float32Array {
  const rowLen = w.length / rows;
  const hd = rows / nHead;
  const half = hd / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHead; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) out.set(w.subarray((h * hd + j * half + i) * rowLen, (h * hd + j * half + i + 1) * rowLen), (h * hd + 2 * i + j) * rowLen);
  return out;
}

/**
 * Write a GGUF (v3) with llama.cpp naming and metadata; 2-D weights in `dtype` (f32, f16, q8_0, q4_0, q4_1), norms f32.
 * A minimal byte-level vocab is embedded when `tokens` is given.
 * @example
 * writeGGUFModel('/tmp/tiny.gguf', tinyConfig(), syntheticWeights(tinyConfig(), 1), 'q8_0');
 */
export function writeGGUFModel(
  file: string,
  c: LlamaConfig,
  w: Map<string, { shape: number[]; data: Float32Array }>,
  dtype: 'f32' | 'f16' | 'q8_0' | 'q4_0' | 'q4_1' = 'f32',
  extraMetadata: { key: string; type: GGUFType; itemType?: GGUFType; value: unknown }[] = [],
): void {
  const a = c.architecture;
  const f = featuresOf(c);
  const u32 = 'uint32' as GGUFType;
  const f32 = 'float32' as GGUFType;
  const metadata: { key: string; type: GGUFType; itemType?: GGUFType; value: unknown }[] = [
    { key: 'general.architecture', type: 'string' as GGUFType, value: a },
    { key: 'general.name', type: 'string' as GGUFType, value: 'synthetic' },
    { key: `${a}.block_count`, type: u32, value: c.numLayers },
    { key: `${a}.context_length`, type: u32, value: c.maxPositionEmbeddings },
    { key: `${a}.embedding_length`, type: u32, value: c.hiddenSize },
    { key: `${a}.feed_forward_length`, type: u32, value: c.intermediateSize },
    { key: `${a}.attention.head_count`, type: u32, value: c.numHeads },
    { key: `${a}.attention.head_count_kv`, type: u32, value: c.numKvHeads },
    { key: `${a}.rope.freq_base`, type: f32, value: c.ropeTheta },
    { key: `${a}.attention.layer_norm_rms_epsilon`, type: f32, value: c.rmsEps },
    { key: `${a}.vocab_size`, type: u32, value: c.vocabSize },
    { key: `${a}.attention.key_length`, type: u32, value: c.headDim },
    { key: `${a}.attention.value_length`, type: u32, value: c.headDim },
    ...(f.slidingWindow !== null ? [{ key: `${a}.attention.sliding_window`, type: u32, value: f.slidingWindow }] : []),
    ...extraMetadata,
  ];
  const tensors = [...w].map(([name, t]) => {
    let data = t.data;
    // llama.cpp's converter stores Gemma's norms as 1 + w
    if (f.normOffset && name.endsWith('norm.weight')) data = data.map((v) => Math.fround(v + f.normOffset));
    if (a === 'llama' && /self_attn\.q_proj\.weight$/.test(name)) data = permuteRows(data, t.shape[0]!, c.numHeads);
    if (a === 'llama' && /self_attn\.k_proj\.weight$/.test(name)) data = permuteRows(data, t.shape[0]!, c.numKvHeads);
    const dt = t.shape.length === 2 ? dtype : 'f32';
    const bytes = dt === 'f32' || dt === 'f16' ? encodeElements(dt, data) : quantizeBlocks(dt, data);
    return { name: ggufName(name, c)!, dtype: dt, shape: t.shape, data: bytes };
  });
  writeGGUF(file, { metadata: metadata as never, tensors });
}

/**
 * GGUF tokenizer metadata for a plain byte-level BPE vocabulary of exactly 256 tokens (GPT-2's byte-to-unicode map,
 * no merges): every text encodes to its UTF-8 bytes. Lets tiny synthetic models take text prompts.
 * @example
 * writeGGUFModel('/tmp/tiny.gguf', cfg, w, 'f32', byteLevelVocabMetadata());
 */
export function byteLevelVocabMetadata(): { key: string; type: GGUFType; itemType?: GGUFType; value: unknown }[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const map = new Map<number, number>(bs.map((b) => [b, b]));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!map.has(b)) map.set(b, 256 + n++);
  const tokens = Array.from({ length: 256 }, (_, b) => String.fromCodePoint(map.get(b)!));
  return [
    { key: 'tokenizer.ggml.model', type: 'string' as GGUFType, value: 'gpt2' },
    { key: 'tokenizer.ggml.pre', type: 'string' as GGUFType, value: 'gpt-2' },
    { key: 'tokenizer.ggml.tokens', type: 'array' as GGUFType, itemType: 'string' as GGUFType, value: tokens },
    { key: 'tokenizer.ggml.merges', type: 'array' as GGUFType, itemType: 'string' as GGUFType, value: [] },
    { key: 'tokenizer.ggml.token_type', type: 'array' as GGUFType, itemType: 'int32' as GGUFType, value: tokens.map(() => 1) },
    { key: 'tokenizer.ggml.eos_token_id', type: 'uint32' as GGUFType, value: 0 },
    { key: 'tokenizer.ggml.add_bos_token', type: 'bool' as GGUFType, value: false },
  ];
}
