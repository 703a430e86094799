/**
 * Llama-family model configuration, read from a Hugging Face config.json or from GGUF metadata, validated once.
 * Covers Llama 1/2/3, Mistral-style, SmolLM, TinyLlama and Qwen2 (attention bias): GQA, rope theta and scaling,
 * RMSNorm eps, tied embeddings.
 */
import { err, msg } from '../messages.js';
import type { GGUFValue } from '../formats/gguf.js';

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

export interface LlamaConfig {
  /** 'llama' or 'qwen2' (attention bias on q/k/v). */
  architecture: 'llama' | 'qwen2';
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  attentionBias: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

const LIMITS = { hidden: 1 << 16, layers: 1024, heads: 1024, vocab: 1 << 22, intermediate: 1 << 18, positions: 1 << 24 };

function posInt(file: string, field: string, v: unknown, limit: number): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) throw err('E_CONFIG', msg.badConfig(file, field, `must be a positive integer (got ${JSON.stringify(String(v))})`));
  if (n > limit) throw err('E_CONFIG', msg.badConfig(file, field, `is ${n}, above the limit ${limit}`));
  return n;
}

function posNum(file: string, field: string, v: unknown): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw err('E_CONFIG', msg.badConfig(file, field, `must be a positive number (got ${JSON.stringify(String(v))})`));
  return n;
}

function optId(v: unknown): number | null {
  if (Array.isArray(v)) v = v[0];
  const n = typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** Cross-field checks shared by both sources. */
function validate(file: string, c: LlamaConfig): LlamaConfig {
  if (c.numHeads % c.numKvHeads !== 0) throw err('E_CONFIG', msg.badConfig(file, 'num_key_value_heads', `(${c.numKvHeads}) must divide num_attention_heads (${c.numHeads})`));
  if (c.headDim % 2 !== 0) throw err('E_CONFIG', msg.badConfig(file, 'head_dim', `(${c.headDim}) must be even for rotary embeddings`));
  if (c.headDim > 1024) throw err('E_CONFIG', msg.badConfig(file, 'head_dim', `is ${c.headDim}, above the limit 1024`));
  return c;
}

function ropeScalingFromHF(file: string, rs: unknown): RopeScaling | null {
  if (rs === null || rs === undefined) return null;
  if (typeof rs !== 'object') throw err('E_CONFIG', msg.badConfig(file, 'rope_scaling', 'must be an object or null'));
  const o = rs as Record<string, unknown>;
  const type = (o.rope_type ?? o.type) as string;
  if (type === 'default') return null;
  if (type === 'linear') return { type: 'linear', factor: posNum(file, 'rope_scaling.factor', o.factor) };
  if (type === 'llama3')
    return {
      type: 'llama3',
      factor: posNum(file, 'rope_scaling.factor', o.factor),
      lowFreqFactor: posNum(file, 'rope_scaling.low_freq_factor', o.low_freq_factor),
      highFreqFactor: posNum(file, 'rope_scaling.high_freq_factor', o.high_freq_factor),
      originalMaxPositionEmbeddings: posInt(file, 'rope_scaling.original_max_position_embeddings', o.original_max_position_embeddings, LIMITS.positions),
    };
  throw err('E_CONFIG', msg.badConfig(file, 'rope_scaling', `type '${type}' is not supported (supported: linear, llama3)`));
}

const HF_ARCHS: Record<string, LlamaConfig['architecture']> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
};

/**
 * Parse a Hugging Face config.json object.
 * @example
 * const cfg = configFromHF(JSON.parse(fs.readFileSync('m/config.json', 'utf8')), 'm/config.json');
 */
export function configFromHF(json: unknown, file: string): LlamaConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw err('E_CONFIG', msg.badHeader(file, 'config.json is not a JSON object'));
  const j = json as Record<string, unknown>;
  const archs = Array.isArray(j.architectures) ? (j.architectures as unknown[]) : [];
  const archName = String(archs[0] ?? j.model_type ?? 'unknown');
  const arch = HF_ARCHS[archName] ?? (j.model_type === 'llama' ? 'llama' : j.model_type === 'qwen2' ? 'qwen2' : undefined);
  if (!arch) throw err('E_ARCH', msg.unsupportedArch(file, archName));
  const hiddenSize = posInt(file, 'hidden_size', j.hidden_size, LIMITS.hidden);
  const numHeads = posInt(file, 'num_attention_heads', j.num_attention_heads, LIMITS.heads);
  const numKvHeads = j.num_key_value_heads === undefined || j.num_key_value_heads === null ? numHeads : posInt(file, 'num_key_value_heads', j.num_key_value_heads, LIMITS.heads);
  const headDim = j.head_dim === undefined || j.head_dim === null ? hiddenSize / numHeads : posInt(file, 'head_dim', j.head_dim, 1024);
  if (!Number.isInteger(headDim)) throw err('E_CONFIG', msg.badConfig(file, 'num_attention_heads', `(${numHeads}) must divide hidden_size (${hiddenSize})`));
  return validate(file, {
    architecture: arch,
    hiddenSize,
    intermediateSize: posInt(file, 'intermediate_size', j.intermediate_size, LIMITS.intermediate),
    numLayers: posInt(file, 'num_hidden_layers', j.num_hidden_layers, LIMITS.layers),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: posInt(file, 'vocab_size', j.vocab_size, LIMITS.vocab),
    rmsEps: posNum(file, 'rms_norm_eps', j.rms_norm_eps ?? 1e-6),
    ropeTheta: posNum(file, 'rope_theta', j.rope_theta ?? 10000),
    ropeScaling: ropeScalingFromHF(file, j.rope_scaling),
    maxPositionEmbeddings: posInt(file, 'max_position_embeddings', j.max_position_embeddings ?? 2048, LIMITS.positions),
    tieWordEmbeddings: j.tie_word_embeddings === true,
    attentionBias: arch === 'qwen2' ? true : j.attention_bias === true,
    bosTokenId: optId(j.bos_token_id),
    eosTokenId: optId(j.eos_token_id),
  });
}

/**
 * Build the config from GGUF metadata (`<arch>.block_count`, `<arch>.embedding_length`, …).
 * `tensorNames` tells whether `output.weight` exists (else embeddings are tied) and whether q has a bias.
 * @example
 * const g = openGGUF('m.gguf'); const cfg = configFromGGUF(g.metadata, new Set(g.list().map(t => t.name)), g.file);
 */
export function configFromGGUF(meta: Map<string, GGUFValue>, tensorNames: Set<string>, file: string, vocabFromEmbedding?: number): LlamaConfig {
  const archName = String(meta.get('general.architecture') ?? 'unknown');
  if (archName !== 'llama' && archName !== 'qwen2') throw err('E_ARCH', msg.unsupportedArch(file, archName));
  const a = archName;
  const get = (k: string) => meta.get(`${a}.${k}`);
  const need = (k: string) => {
    const v = get(k);
    if (v === undefined) throw err('E_CONFIG', msg.badConfig(file, `${a}.${k}`, 'is missing'));
    return v;
  };
  const hiddenSize = posInt(file, `${a}.embedding_length`, need('embedding_length'), LIMITS.hidden);
  const numHeads = posInt(file, `${a}.attention.head_count`, need('attention.head_count'), LIMITS.heads);
  const kv = get('attention.head_count_kv');
  const numKvHeads = kv === undefined ? numHeads : posInt(file, `${a}.attention.head_count_kv`, kv, LIMITS.heads);
  const kl = get('attention.key_length');
  const headDim = kl === undefined ? hiddenSize / numHeads : posInt(file, `${a}.attention.key_length`, kl, 1024);
  if (!Number.isInteger(headDim)) throw err('E_CONFIG', msg.badConfig(file, `${a}.attention.head_count`, `(${numHeads}) must divide embedding_length (${hiddenSize})`));
  const tokens = meta.get('tokenizer.ggml.tokens');
  const vocabMeta = get('vocab_size') ?? (Array.isArray(tokens) ? tokens.length : vocabFromEmbedding);
  let ropeScaling: RopeScaling | null = null;
  const st = get('rope.scaling.type');
  if (st === 'linear') ropeScaling = { type: 'linear', factor: posNum(file, `${a}.rope.scaling.factor`, get('rope.scaling.factor')) };
  else if (st !== undefined && st !== 'none') throw err('E_CONFIG', msg.badConfig(file, `${a}.rope.scaling.type`, `'${String(st)}' is not supported (supported: linear)`));
  return validate(file, {
    architecture: a,
    hiddenSize,
    intermediateSize: posInt(file, `${a}.feed_forward_length`, need('feed_forward_length'), LIMITS.intermediate),
    numLayers: posInt(file, `${a}.block_count`, need('block_count'), LIMITS.layers),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: posInt(file, `${a}.vocab_size`, vocabMeta, LIMITS.vocab),
    rmsEps: posNum(file, `${a}.attention.layer_norm_rms_epsilon`, get('attention.layer_norm_rms_epsilon') ?? 1e-6),
    ropeTheta: posNum(file, `${a}.rope.freq_base`, get('rope.freq_base') ?? 10000),
    ropeScaling,
    maxPositionEmbeddings: posInt(file, `${a}.context_length`, get('context_length') ?? 2048, LIMITS.positions),
    tieWordEmbeddings: !tensorNames.has('output.weight'),
    attentionBias: tensorNames.has('blk.0.attn_q.bias'),
    bosTokenId: optId(meta.get('tokenizer.ggml.bos_token_id')),
    eosTokenId: optId(meta.get('tokenizer.ggml.eos_token_id')),
  });
}

/** The model's dimensions as the native engines' create calls take them (cpu_engine.cc, gpu_engine.cc). */
export interface EngineDims {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  rmsEps: number;
}

/**
 * A config's dimensions for a native engine's create call.
 * @example
 * engineDims(cfg).kvHeads // cfg.numKvHeads
 */
export function engineDims(c: LlamaConfig): EngineDims {
  return {
    hidden: c.hiddenSize,
    intermediate: c.intermediateSize,
    layers: c.numLayers,
    heads: c.numHeads,
    kvHeads: c.numKvHeads,
    headDim: c.headDim,
    vocab: c.vocabSize,
    rmsEps: c.rmsEps,
  };
}

/**
 * Number of parameters implied by a config (embeddings counted once when tied).
 * @example
 * paramCount(openCheckpoint('default').config) // 134515008
 */
export function paramCount(c: LlamaConfig): number {
  const h = c.hiddenSize;
  const qd = c.numHeads * c.headDim;
  const kvd = c.numKvHeads * c.headDim;
  const attn = h * qd + 2 * h * kvd + qd * h + (c.attentionBias ? qd + 2 * kvd : 0);
  const mlp = 3 * h * c.intermediateSize;
  const perLayer = attn + mlp + 2 * h;
  return c.numLayers * perLayer + c.vocabSize * h * (c.tieWordEmbeddings ? 1 : 2) + h;
}
