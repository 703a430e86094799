/**
 * Canonical tensor names (Hugging Face Llama naming) and the GGUF names they map from.
 * The whole library speaks canonical names; GGUF's `blk.N.attn_q.weight` is translated once, here.
 */
import { featuresOf, type LlamaConfig } from './config.js';

/** The seven linear layers of a block, in module order (as `named_modules()` lists them). */
export const BLOCK_LINEARS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LinearKind = (typeof BLOCK_LINEARS)[number] | 'lm_head';

const HF_LINEAR: Record<(typeof BLOCK_LINEARS)[number], string> = {
  q: 'self_attn.q_proj',
  k: 'self_attn.k_proj',
  v: 'self_attn.v_proj',
  o: 'self_attn.o_proj',
  gate: 'mlp.gate_proj',
  up: 'mlp.up_proj',
  down: 'mlp.down_proj',
};
const GGUF_LINEAR: Record<(typeof BLOCK_LINEARS)[number], string> = {
  q: 'attn_q',
  k: 'attn_k',
  v: 'attn_v',
  o: 'attn_output',
  gate: 'ffn_gate',
  up: 'ffn_up',
  down: 'ffn_down',
};

/**
 * Full module path of a block linear, e.g. `model.layers.3.self_attn.q_proj`.
 * @example
 * linearPath(3, 'q') // 'model.layers.3.self_attn.q_proj'
 */
export function linearPath(layer: number, kind: (typeof BLOCK_LINEARS)[number]): string {
  return `model.layers.${layer}.${HF_LINEAR[kind]}`;
}

/**
 * The checkpoint tensor a linear's weight is read from: the embedding table for a tied lm_head, else `<path>.weight`.
 * @example
 * weightTensorName(cfg, 'lm_head', 'lm_head') // 'model.embed_tokens.weight' when cfg.tieWordEmbeddings
 */
export function weightTensorName(c: LlamaConfig, path: string, kind: LinearKind): string {
  return kind === 'lm_head' && c.tieWordEmbeddings ? 'model.embed_tokens.weight' : path + '.weight';
}

/**
 * Every linear module path in module order, lm_head last (TinyLlama: 22×7+1 = 155).
 * @example
 * linearPaths(cfg).length // 211 for SmolLM2-135M (30 x 7 + lm_head)
 */
export function linearPaths(c: LlamaConfig): { path: string; kind: LinearKind; layer: number | null }[] {
  const out: { path: string; kind: LinearKind; layer: number | null }[] = [];
  for (let l = 0; l < c.numLayers; l++) for (const k of BLOCK_LINEARS) out.push({ path: linearPath(l, k), kind: k, layer: l });
  out.push({ path: 'lm_head', kind: 'lm_head', layer: null });
  return out;
}

/**
 * Expected canonical tensors with PyTorch-order shapes. Tied models have no lm_head.weight.
 * @example
 * expectedTensors(cfg).get('model.layers.0.mlp.down_proj.weight') // [576, 1536]
 */
export function expectedTensors(c: LlamaConfig): Map<string, number[]> {
  const h = c.hiddenSize;
  const qd = c.numHeads * c.headDim;
  const kvd = c.numKvHeads * c.headDim;
  const m = new Map<string, number[]>();
  const f = featuresOf(c);
  m.set('model.embed_tokens.weight', [c.vocabSize, h]);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    m.set(p + 'input_layernorm.weight', [h]);
    m.set(p + 'post_attention_layernorm.weight', [h]);
    if (f.sandwichNorms) {
      m.set(p + 'pre_feedforward_layernorm.weight', [h]);
      m.set(p + 'post_feedforward_layernorm.weight', [h]);
    }
    if (f.qkNorm) {
      m.set(p + 'self_attn.q_norm.weight', [c.headDim]);
      m.set(p + 'self_attn.k_norm.weight', [c.headDim]);
    }
    m.set(p + 'self_attn.q_proj.weight', [qd, h]);
    m.set(p + 'self_attn.k_proj.weight', [kvd, h]);
    m.set(p + 'self_attn.v_proj.weight', [kvd, h]);
    m.set(p + 'self_attn.o_proj.weight', [h, qd]);
    if (c.attentionBias) {
      m.set(p + 'self_attn.q_proj.bias', [qd]);
      m.set(p + 'self_attn.k_proj.bias', [kvd]);
      m.set(p + 'self_attn.v_proj.bias', [kvd]);
    }
    m.set(p + 'mlp.gate_proj.weight', [c.intermediateSize, h]);
    m.set(p + 'mlp.up_proj.weight', [c.intermediateSize, h]);
    m.set(p + 'mlp.down_proj.weight', [h, c.intermediateSize]);
  }
  m.set('model.norm.weight', [h]);
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', [c.vocabSize, h]);
  return m;
}

/**
 * Canonical name -> GGUF name (llama.cpp's tensor naming). With sandwich norms (Gemma 2/3) Hugging Face's
 * `post_attention_layernorm` is the attention-output norm (`post_attention_norm`) and the FFN input norm is
 * `pre_feedforward_layernorm` (`ffn_norm`); pass the config to get those.
 * @example
 * ggufName('model.layers.0.self_attn.o_proj.weight') // 'blk.0.attn_output.weight'
 * ggufName('model.layers.0.post_attention_layernorm.weight', gemmaCfg) // 'blk.0.post_attention_norm.weight'
 */
export function ggufName(canonical: string, c?: LlamaConfig): string | null {
  if (canonical === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (canonical === 'model.norm.weight') return 'output_norm.weight';
  if (canonical === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(canonical);
  if (!m) return null;
  const [, l, mod, kind] = m;
  if (mod === 'input_layernorm') return `blk.${l}.attn_norm.${kind}`;
  const sandwich = c !== undefined && featuresOf(c).sandwichNorms;
  if (mod === 'post_attention_layernorm') return sandwich ? `blk.${l}.post_attention_norm.${kind}` : `blk.${l}.ffn_norm.${kind}`;
  if (mod === 'pre_feedforward_layernorm') return `blk.${l}.ffn_norm.${kind}`;
  if (mod === 'post_feedforward_layernorm') return `blk.${l}.post_ffw_norm.${kind}`;
  if (mod === 'self_attn.q_norm') return `blk.${l}.attn_q_norm.${kind}`;
  if (mod === 'self_attn.k_norm') return `blk.${l}.attn_k_norm.${kind}`;
  for (const k of BLOCK_LINEARS) if (HF_LINEAR[k] === mod) return `blk.${l}.${GGUF_LINEAR[k]}.${kind}`;
  return null;
}
