/**
 * Llama-family model configuration, read from a Hugging Face config.json or from GGUF metadata, validated once.
 * Covers Llama 1/2/3, Mistral (sliding window), SmolLM, TinyLlama, Qwen2 (attention bias), Qwen3 (q/k norm),
 * Gemma 2 (soft-capping) and Gemma 3: GQA, rope theta and scaling, RMSNorm eps, tied embeddings, and the
 * architecture features (`ArchFeatures`) that set those apart from Llama. Anything else is refused before loading
 * with E_ARCH naming the missing feature.
 */
import { err, msg } from '../messages.js';
import type { GGUFValue } from '../formats/gguf.js';

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

/**
 * What sets an architecture apart from plain Llama (absent on a config = plain Llama: SiLU, two norms, no caps).
 * Gemma 3: GeGLU (tanh GELU), four norms per block, q/k RMSNorm, embedding × √hidden, local (sliding-window) and
 * global layers with their own rope bases.
 */
export interface ArchFeatures {
  /** MLP activation on the gate: SiLU (SwiGLU) or tanh-approximated GELU (GeGLU). */
  hiddenAct: 'silu' | 'gelu_tanh';
  /** RMSNorm on each query/key head (over head_dim) before rope: weights `self_attn.{q,k}_norm.weight`. */
  qkNorm: boolean;
  /**
   * Gemma 2/3 "sandwich" norms: `post_attention_layernorm` normalizes the attention OUTPUT (not the FFN input),
   * `pre_feedforward_layernorm` / `post_feedforward_layernorm` wrap the MLP.
   */
  sandwichNorms: boolean;
  /** Added to every RMSNorm weight at load: 1 for Hugging Face Gemma checkpoints (they store w, apply 1 + w); 0 for
   * GGUF (llama.cpp's converter already stored 1 + w) and for non-Gemma models. */
  normOffset: number;
  /** Multiplier on the token embeddings (Gemma: √hidden, as float32). */
  embedScale: number;
  /** Multiplier on q·kᵀ (1/√head_dim unless the config says otherwise: Gemma's query_pre_attn_scalar^-½). */
  attnScale: number;
  /** Per layer: true = local (sliding-window) attention; null = every layer global. */
  slidingLayers: boolean[] | null;
  /** Window of the local layers: a query at p sees keys at p - window < s <= p. */
  slidingWindow: number | null;
  /** Rope base of the local layers (Gemma 3: 10000, never scaled); null = same as global. */
  ropeThetaLocal: number | null;
  /** tanh soft-capping of attention scores / final logits (Gemma 2): x -> cap·tanh(x/cap); null = none. */
  attnSoftcap: number | null;
  finalSoftcap: number | null;
}

/** The features of plain Llama (what a config without `features` means). */
export const LLAMA_FEATURES: Readonly<Omit<ArchFeatures, 'attnScale'>> = Object.freeze({
  hiddenAct: 'silu',
  qkNorm: false,
  sandwichNorms: false,
  normOffset: 0,
  embedScale: 1,
  slidingLayers: null,
  slidingWindow: null,
  ropeThetaLocal: null,
  attnSoftcap: null,
  finalSoftcap: null,
});

/**
 * A config's features with Llama's defaults filled in.
 * @example
 * featuresOf(cfg).hiddenAct // 'silu' for SmolLM2, 'gelu_tanh' for Gemma 3
 */
export function featuresOf(c: LlamaConfig): ArchFeatures {
  return c.features ?? { ...LLAMA_FEATURES, attnScale: 1 / Math.sqrt(c.headDim) };
}

export interface LlamaConfig {
  /** 'llama' (also Mistral), 'qwen2' (attention bias on q/k/v), 'qwen3' (q/k norm), 'gemma2', 'gemma3'. */
  architecture: 'llama' | 'qwen2' | 'qwen3' | 'gemma2' | 'gemma3';
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
  /** Architecture features beyond Llama; absent = plain Llama (see `featuresOf`). */
  features?: ArchFeatures;
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
  Qwen3ForCausalLM: 'qwen3',
  Gemma2ForCausalLM: 'gemma2',
  Gemma3ForCausalLM: 'gemma3',
};
const HF_MODEL_TYPES: Record<string, LlamaConfig['architecture']> = {
  llama: 'llama', mistral: 'llama', qwen2: 'qwen2', qwen3: 'qwen3', gemma2: 'gemma2', gemma3_text: 'gemma3',
};
/** Architectures we know and refuse, with the feature they would need (E_ARCH names it). */
const HF_MISSING_FEATURE: Record<string, string> = {
  Phi3ForCausalLM: 'fused qkv_proj / gate_up_proj weights and partial/longrope rotary embeddings (Phi-3)',
  phi3: 'fused qkv_proj / gate_up_proj weights and partial/longrope rotary embeddings (Phi-3)',
  Gemma3ForConditionalGeneration: 'the vision tower and multimodal wrapper (load the text-only Gemma3ForCausalLM)',
  GemmaForCausalLM: 'Gemma 1 (GeGLU without sandwich norms)',
  MixtralForCausalLM: 'mixture-of-experts MLPs',
  Qwen2MoeForCausalLM: 'mixture-of-experts MLPs',
};

/** Rope parameters of one attention type: transformers 5 `rope_parameters` ({rope_theta, rope_type, ...}, or per
 * layer type {full_attention: {...}, sliding_attention: {...}}) or the older top-level rope_theta / rope_scaling. */
function ropeOf(file: string, j: Record<string, unknown>, layerType: 'full_attention' | 'sliding_attention'): { theta: number | undefined; scaling: RopeScaling | null } {
  const rp = j.rope_parameters;
  if (rp && typeof rp === 'object' && !Array.isArray(rp)) {
    const o = rp as Record<string, unknown>;
    const sub = (o[layerType] ?? (o.full_attention || o.sliding_attention ? undefined : o)) as Record<string, unknown> | undefined;
    if (sub && typeof sub === 'object') {
      const typed = sub.rope_type !== undefined || sub.type !== undefined;
      return { theta: sub.rope_theta === undefined ? undefined : posNum(file, `rope_parameters.rope_theta`, sub.rope_theta), scaling: typed ? ropeScalingFromHF(file, sub) : null };
    }
  }
  if (layerType === 'sliding_attention') {
    return { theta: j.rope_local_base_freq === undefined ? undefined : posNum(file, 'rope_local_base_freq', j.rope_local_base_freq), scaling: null };
  }
  return { theta: j.rope_theta === undefined ? undefined : posNum(file, 'rope_theta', j.rope_theta), scaling: ropeScalingFromHF(file, j.rope_scaling) };
}

function optCap(file: string, field: string, v: unknown): number | null {
  return v === undefined || v === null ? null : posNum(file, field, v);
}

/** Per-layer local/global flags from `layer_types`, else Gemma's pattern (every `pattern`-th layer global). */
function slidingFromHF(file: string, j: Record<string, unknown>, layers: number, pattern: number): boolean[] {
  if (Array.isArray(j.layer_types)) {
    if (j.layer_types.length !== layers) throw err('E_CONFIG', msg.badConfig(file, 'layer_types', `has ${j.layer_types.length} entries for ${layers} layers`));
    return j.layer_types.map((t, i) => {
      if (t === 'sliding_attention') return true;
      if (t === 'full_attention') return false;
      throw err('E_CONFIG', msg.badConfig(file, `layer_types[${i}]`, `'${String(t)}' is not sliding_attention or full_attention`));
    });
  }
  const p = j.sliding_window_pattern === undefined ? pattern : posInt(file, 'sliding_window_pattern', j.sliding_window_pattern, LIMITS.layers);
  return Array.from({ length: layers }, (_, i) => (i + 1) % p !== 0);
}

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
  const missing = HF_MISSING_FEATURE[archName] ?? HF_MISSING_FEATURE[String(j.model_type)];
  if (missing && !HF_ARCHS[archName]) throw err('E_ARCH', msg.archMissingFeature(file, archName, missing));
  const arch = HF_ARCHS[archName] ?? HF_MODEL_TYPES[String(j.model_type)];
  if (!arch) throw err('E_ARCH', msg.unsupportedArch(file, archName));
  if (arch === 'qwen2' && j.use_sliding_window === true) throw err('E_ARCH', msg.archMissingFeature(file, archName, "Qwen2's use_sliding_window (max_window_layers)"));
  const hiddenSize = posInt(file, 'hidden_size', j.hidden_size, LIMITS.hidden);
  const numHeads = posInt(file, 'num_attention_heads', j.num_attention_heads, LIMITS.heads);
  const numKvHeads = j.num_key_value_heads === undefined || j.num_key_value_heads === null ? numHeads : posInt(file, 'num_key_value_heads', j.num_key_value_heads, LIMITS.heads);
  const headDim = j.head_dim === undefined || j.head_dim === null ? hiddenSize / numHeads : posInt(file, 'head_dim', j.head_dim, 1024);
  if (!Number.isInteger(headDim)) throw err('E_CONFIG', msg.badConfig(file, 'num_attention_heads', `(${numHeads}) must divide hidden_size (${hiddenSize})`));
  const numLayers = posInt(file, 'num_hidden_layers', j.num_hidden_layers, LIMITS.layers);
  const gemma = arch === 'gemma2' || arch === 'gemma3';
  const global = ropeOf(file, j, 'full_attention');
  let features: ArchFeatures | undefined;
  if (gemma) {
    const act = j.hidden_activation ?? j.hidden_act ?? 'gelu_pytorch_tanh';
    if (act !== 'gelu_pytorch_tanh' && act !== 'gelu_tanh') throw err('E_ARCH', msg.archMissingFeature(file, archName, `hidden activation '${String(act)}' (only gelu_pytorch_tanh)`));
    const window = posInt(file, 'sliding_window', j.sliding_window ?? 4096, LIMITS.positions);
    const local = ropeOf(file, j, 'sliding_attention');
    if (local.scaling) throw err('E_ARCH', msg.archMissingFeature(file, archName, 'rope scaling on the sliding-window layers'));
    features = {
      hiddenAct: 'gelu_tanh',
      qkNorm: arch === 'gemma3',
      sandwichNorms: true,
      normOffset: 1,
      embedScale: Math.fround(Math.sqrt(hiddenSize)),
      attnScale: 1 / Math.sqrt(j.query_pre_attn_scalar === undefined ? headDim : posNum(file, 'query_pre_attn_scalar', j.query_pre_attn_scalar)),
      slidingLayers: slidingFromHF(file, j, numLayers, arch === 'gemma2' ? 2 : 6),
      slidingWindow: window,
      ropeThetaLocal: arch === 'gemma3' ? (local.theta ?? 10000) : null,
      attnSoftcap: optCap(file, 'attn_logit_softcapping', j.attn_logit_softcapping),
      finalSoftcap: optCap(file, 'final_logit_softcapping', j.final_logit_softcapping),
    };
  } else {
    const act = j.hidden_act ?? 'silu';
    if (act !== 'silu') throw err('E_ARCH', msg.archMissingFeature(file, archName, `hidden activation '${String(act)}' (only silu)`));
    const sw = j.sliding_window;
    const sliding = archName === 'MistralForCausalLM' || j.model_type === 'mistral' ? (sw === undefined || sw === null ? null : posInt(file, 'sliding_window', sw, LIMITS.positions)) : null;
    if (arch === 'qwen3' || sliding !== null) {
      features = {
        ...LLAMA_FEATURES,
        qkNorm: arch === 'qwen3',
        attnScale: 1 / Math.sqrt(headDim),
        slidingLayers: sliding === null ? null : new Array(numLayers).fill(true),
        slidingWindow: sliding,
      };
    }
  }
  return validate(file, {
    architecture: arch,
    hiddenSize,
    intermediateSize: posInt(file, 'intermediate_size', j.intermediate_size, LIMITS.intermediate),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: posInt(file, 'vocab_size', j.vocab_size, LIMITS.vocab),
    rmsEps: posNum(file, 'rms_norm_eps', j.rms_norm_eps ?? 1e-6),
    ropeTheta: global.theta ?? 10000,
    ropeScaling: global.scaling,
    maxPositionEmbeddings: posInt(file, 'max_position_embeddings', j.max_position_embeddings ?? 2048, LIMITS.positions),
    tieWordEmbeddings: j.tie_word_embeddings === true || (gemma && j.tie_word_embeddings === undefined),
    attentionBias: arch === 'qwen2' ? true : j.attention_bias === true,
    bosTokenId: optId(j.bos_token_id),
    eosTokenId: optId(j.eos_token_id),
    ...(features ? { features } : {}),
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
  const missing = GGUF_MISSING_FEATURE[archName];
  if (missing) throw err('E_ARCH', msg.archMissingFeature(file, archName, missing));
  if (archName !== 'llama' && archName !== 'qwen2' && archName !== 'gemma3') throw err('E_ARCH', msg.unsupportedArch(file, archName));
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
  const numLayers = posInt(file, `${a}.block_count`, need('block_count'), LIMITS.layers);
  let features: ArchFeatures | undefined;
  if (a === 'gemma3') {
    const vl = get('attention.value_length');
    if (vl !== undefined && posInt(file, `${a}.attention.value_length`, vl, 1024) !== headDim) {
      throw err('E_ARCH', msg.archMissingFeature(file, a, `value head size ${String(vl)} != key head size ${headDim}`));
    }
    // What llama.cpp hard-codes for gemma3 (llama-model.cpp: LLM_ARCH_GEMMA3): every 6th layer global (swa pattern 6),
    // local rope base 10000 unscaled, attention scale 1/√head_dim (1/√(hidden/heads) for the 62-layer 27B), embedding
    // × √hidden. The GGUF's norm weights already hold 1 + w (convert_hf_to_gguf adds the 1): normOffset 0.
    const cap = get('final_logit_softcapping');
    const acap = get('attn_logit_softcapping');
    features = {
      hiddenAct: 'gelu_tanh',
      qkNorm: true,
      sandwichNorms: true,
      normOffset: 0,
      embedScale: Math.fround(Math.sqrt(hiddenSize)),
      attnScale: 1 / Math.sqrt(numLayers === 62 ? hiddenSize / numHeads : headDim),
      slidingLayers: Array.from({ length: numLayers }, (_, i) => i % 6 < 5),
      slidingWindow: posInt(file, `${a}.attention.sliding_window`, need('attention.sliding_window'), LIMITS.positions),
      ropeThetaLocal: 10000,
      attnSoftcap: acap === undefined ? null : posNum(file, `${a}.attn_logit_softcapping`, acap),
      finalSoftcap: cap === undefined ? null : posNum(file, `${a}.final_logit_softcapping`, cap),
    };
  }
  return validate(file, {
    architecture: a,
    hiddenSize,
    intermediateSize: posInt(file, `${a}.feed_forward_length`, need('feed_forward_length'), LIMITS.intermediate),
    numLayers,
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
    ...(features ? { features } : {}),
  });
}

/** GGUF architectures we know and refuse, with the feature they would need. */
const GGUF_MISSING_FEATURE: Record<string, string> = {
  gemma: 'Gemma 1 (GeGLU without sandwich norms)',
  gemma2: 'Gemma 2 from GGUF (logit soft-capping keys; load its Hugging Face folder instead)',
  gemma3n: 'Gemma 3n (per-layer embeddings, AltUp, LAuReL)',
  qwen3: 'Qwen3 from GGUF (q/k norm tensor names; load its Hugging Face folder instead)',
  phi3: 'fused qkv / gate_up weights (Phi-3)',
  qwen2moe: 'mixture-of-experts MLPs',
};

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

/** The native engines: 'native' (C++ CPU engine) and 'cuda' (GPU engine). */
export type NativeEngineKind = 'native' | 'cuda';

/**
 * Every architecture feature beyond plain Llama, in the order gaps are reported, with the native engines that run
 * it: the CPU engine (native/src/cpu_engine.cc ReadFeatures) and the CUDA engine (src/engine/cuda.ts cudaArchConfig;
 * implemented, its GPU check pending) run them all. A feature added to ArchFeatures lands here first, with the
 * engines that implement it; the others refuse it with E_ARCH naming it.
 */
const ENGINE_FEATURES: readonly { name: string; uses: (f: ArchFeatures, c: LlamaConfig) => boolean; engines: readonly NativeEngineKind[] }[] = [
  { name: 'GeGLU (tanh GELU) MLP', uses: (f) => f.hiddenAct !== 'silu', engines: ['native', 'cuda'] },
  { name: 'sandwich norms (post-attention / pre- and post-FFN RMSNorm)', uses: (f) => f.sandwichNorms, engines: ['native', 'cuda'] },
  { name: 'q/k RMSNorm', uses: (f) => f.qkNorm, engines: ['native', 'cuda'] },
  { name: 'embedding scale', uses: (f) => f.embedScale !== 1, engines: ['native', 'cuda'] },
  { name: 'sliding-window attention', uses: (f) => f.slidingLayers?.some((x) => x) ?? false, engines: ['native', 'cuda'] },
  { name: 'logit soft-capping', uses: (f) => f.attnSoftcap !== null || f.finalSoftcap !== null, engines: ['native', 'cuda'] },
  { name: 'attention scale other than 1/sqrt(head_dim)', uses: (f, c) => Math.abs(f.attnScale * Math.sqrt(c.headDim) - 1) > 1e-6, engines: ['native', 'cuda'] },
];

/**
 * The first architecture feature a native engine ('cuda' by default, or 'native': the CPU engine) lacks for `c`, or
 * null when it runs `c` (ENGINE_FEATURES).
 * @example
 * nativeEngineGap(gemmaCfg, 'native') // null: the CPU engine runs Gemma 3
 */
export function nativeEngineGap(c: LlamaConfig, engine: NativeEngineKind = 'cuda'): string | null {
  const f = featuresOf(c);
  for (const x of ENGINE_FEATURES) if (x.uses(f, c) && !x.engines.includes(engine)) return x.name;
  return null;
}

/**
 * A config's dimensions for a native engine's create call; E_ARCH naming the missing feature when that engine
 * (default the CUDA engine) cannot run the architecture (the tfjs reference can).
 * @example
 * engineDims(cfg).kvHeads // cfg.numKvHeads
 * engineDims(gemmaCfg, 'native').headDim // 256
 */
export function engineDims(c: LlamaConfig, engine: NativeEngineKind = 'cuda'): EngineDims {
  const gap = nativeEngineGap(c, engine);
  if (gap) throw err('E_ARCH', msg.archMissingFeature(engine === 'native' ? 'native CPU engine' : 'CUDA engine', c.architecture, gap));
  return modelDims(c);
}

/**
 * A config's dimensions as the native create calls take them, whatever its architecture features (an engine that runs
 * them passes the features beside: the CUDA engine, src/engine/cuda.ts).
 * @example
 * modelDims(gemmaCfg).headDim // 256 (≠ hidden / heads)
 */
export function modelDims(c: LlamaConfig): EngineDims {
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
  const f = featuresOf(c);
  const perLayer = attn + mlp + (f.sandwichNorms ? 4 : 2) * h + (f.qkNorm ? 2 * c.headDim : 0);
  return c.numLayers * perLayer + c.vocabSize * h * (c.tieWordEmbeddings ? 1 : 2) + h;
}
