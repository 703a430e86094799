/**
 * Named model shapes for scale tests: the architecture hyper-parameters of real Llama checkpoints (and a tiny one for
 * CI), as Hugging Face config.json objects. The weights of a shape are random (see make-shape.ts); the shape is what
 * decides memory, load time and decode speed.
 */
import { err, msg } from '../messages.js';

export interface ModelShape {
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: number;
  readonly tied: boolean;
  readonly ropeTheta: number;
  readonly rmsEps: number;
  readonly maxPositions: number;
  /** Llama 3.x rope scaling (factor, low/high freq factor, original context) or null */
  readonly ropeScaling: { factor: number; low: number; high: number; original: number } | null;
  /** what the shape copies */
  readonly note: string;
}

const LLAMA3_VOCAB = 128256;

/** The named shapes (`codecllm make-shape <name>`). */
export const SHAPES: Readonly<Record<string, ModelShape>> = Object.freeze({
  'llama3.2-1b': {
    hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, vocab: LLAMA3_VOCAB, tied: true,
    ropeTheta: 500000, rmsEps: 1e-5, maxPositions: 131072, ropeScaling: { factor: 32, low: 1, high: 4, original: 8192 },
    note: 'meta-llama/Llama-3.2-1B (1.24 B parameters, tied embeddings)',
  },
  'llama3.1-8b': {
    hidden: 4096, intermediate: 14336, layers: 32, heads: 32, kvHeads: 8, vocab: LLAMA3_VOCAB, tied: false,
    ropeTheta: 500000, rmsEps: 1e-5, maxPositions: 131072, ropeScaling: { factor: 8, low: 1, high: 4, original: 8192 },
    note: 'meta-llama/Llama-3.1-8B (8.03 B parameters)',
  },
  'llama3.1-70b': {
    hidden: 8192, intermediate: 28672, layers: 80, heads: 64, kvHeads: 8, vocab: LLAMA3_VOCAB, tied: false,
    ropeTheta: 500000, rmsEps: 1e-5, maxPositions: 131072, ropeScaling: { factor: 8, low: 1, high: 4, original: 8192 },
    note: 'meta-llama/Llama-3.1-70B (70.6 B parameters; use --layers to keep the width with few layers)',
  },
  tiny: {
    hidden: 64, intermediate: 160, layers: 2, heads: 4, kvHeads: 2, vocab: 49152, tied: false,
    ropeTheta: 10000, rmsEps: 1e-5, maxPositions: 2048, ropeScaling: null,
    note: 'CI: SmolLM2 vocabulary, 2 layers of width 64',
  },
});

/**
 * A named shape, optionally with another layer count.
 * @example
 * shapeByName('llama3.1-70b', { layers: 2 }).hidden // 8192
 */
export function shapeByName(name: string, o: { layers?: number } = {}): ModelShape {
  const s = Object.hasOwn(SHAPES, name) ? SHAPES[name]! : null;
  if (!s) throw err('E_ARG', msg.badArg('shape', `'${name}' (expected one of ${Object.keys(SHAPES).join(', ')})`));
  if (o.layers === undefined) return s;
  if (!Number.isSafeInteger(o.layers) || o.layers < 1 || o.layers > 1024) throw err('E_ARG', msg.badArg('--layers', `${o.layers} (expected an integer in [1, 1024])`));
  return { ...s, layers: o.layers };
}

/**
 * The Hugging Face config.json object of a shape (LlamaForCausalLM, bfloat16).
 * @example
 * JSON.stringify(hfConfigOf(SHAPES['tiny']!, { bos: 1, eos: 2 }))
 */
export function hfConfigOf(s: ModelShape, ids: { bos: number | null; eos: number | null }): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    head_dim: s.hidden / s.heads,
    vocab_size: s.vocab,
    tie_word_embeddings: s.tied,
    rope_theta: s.ropeTheta,
    rope_scaling: s.ropeScaling
      ? { rope_type: 'llama3', factor: s.ropeScaling.factor, low_freq_factor: s.ropeScaling.low, high_freq_factor: s.ropeScaling.high, original_max_position_embeddings: s.ropeScaling.original }
      : null,
    rms_norm_eps: s.rmsEps,
    max_position_embeddings: s.maxPositions,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    initializer_range: INIT_STD,
    bos_token_id: ids.bos,
    eos_token_id: ids.eos,
    torch_dtype: 'bfloat16',
  };
}

/** Standard deviation of every linear / embedding weight (Hugging Face Llama's `initializer_range`). */
export const INIT_STD = 0.02;

/**
 * The tensors of a shape in module order: name, shape (HF layout, (out, in) for linears) and how they are filled.
 * @example
 * shapeTensors(SHAPES['tiny']!)[0] // { name: 'model.embed_tokens.weight', shape: [49152, 64], fill: 'normal' }
 */
export function shapeTensors(s: ModelShape): { name: string; shape: [number] | [number, number]; fill: 'normal' | 'ones' }[] {
  const hd = s.hidden / s.heads;
  const out: { name: string; shape: [number] | [number, number]; fill: 'normal' | 'ones' }[] = [];
  out.push({ name: 'model.embed_tokens.weight', shape: [s.vocab, s.hidden], fill: 'normal' });
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    out.push({ name: p + 'input_layernorm.weight', shape: [s.hidden], fill: 'ones' });
    out.push({ name: p + 'self_attn.q_proj.weight', shape: [s.heads * hd, s.hidden], fill: 'normal' });
    out.push({ name: p + 'self_attn.k_proj.weight', shape: [s.kvHeads * hd, s.hidden], fill: 'normal' });
    out.push({ name: p + 'self_attn.v_proj.weight', shape: [s.kvHeads * hd, s.hidden], fill: 'normal' });
    out.push({ name: p + 'self_attn.o_proj.weight', shape: [s.hidden, s.heads * hd], fill: 'normal' });
    out.push({ name: p + 'post_attention_layernorm.weight', shape: [s.hidden], fill: 'ones' });
    out.push({ name: p + 'mlp.gate_proj.weight', shape: [s.intermediate, s.hidden], fill: 'normal' });
    out.push({ name: p + 'mlp.up_proj.weight', shape: [s.intermediate, s.hidden], fill: 'normal' });
    out.push({ name: p + 'mlp.down_proj.weight', shape: [s.hidden, s.intermediate], fill: 'normal' });
  }
  out.push({ name: 'model.norm.weight', shape: [s.hidden], fill: 'ones' });
  if (!s.tied) out.push({ name: 'lm_head.weight', shape: [s.vocab, s.hidden], fill: 'normal' });
  return out;
}
