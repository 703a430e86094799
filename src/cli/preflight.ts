/**
 * Checks against the model that run before its weights are loaded: a checkpoint is opened lazily (header, config,
 * tokenizer: cheap), the request is checked, and only then are the weights read. Everything here throws one-line
 * E_ARG / E_PATCH / E_QUANT / E_OOM errors naming the model file.
 *
 *   tokens vs context    prompt + --max-tokens, --window, --tokens, --prompt-tokens + --tokens <= context length
 *   tfjs memory          the reference's wasm heap (4 GiB, wasm32) must hold weights + one forward's tensors
 *   selectors, specs     --patch / --quant / --layers resolved against the model's linear layers
 *
 * @example
 * const ck = openCheckpoint('default');
 * checkTokensFit(ck, 'prompt + --max-tokens', 700, ck.config.maxPositionEmbeddings);
 * checkTfjsMemory(ck, 641, 641, 'wasm');   // E_OOM: needs 4.4 GiB, the wasm heap holds 4 GiB; use --engine native
 */
import { err, msg } from '../messages.js';
import type { Checkpoint } from '../model/checkpoint.js';
import type { LlamaConfig } from '../model/config.js';
import { linearPaths } from '../model/names.js';
import { resolveSelection } from '../model/select.js';
import { formatSpec, parseSpec } from '../quant/spec.js';

/** The wasm32 heap of tfjs-backend-wasm: at most 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;
/** Share of the wasm heap a forward may plan to use (allocator overhead and fragmentation take the rest). */
export const WASM_USABLE = 0.85;
/** Score-sized (heads x T x S float32) tensors one attention layer keeps alive until its forward's tidy ends. */
const ATTN_COPIES = 6;
/** Activation floats per token per layer besides attention scores, in units of (hidden, intermediate). */
const ACT_HIDDEN = 8;
const ACT_INTER = 5;

/**
 * Refuse `need` tokens beyond the model's context (E_ARG naming the file, what and both numbers).
 * @example
 * checkTokensFit(ck, 'prompt + --max-tokens', 9000, 8192); // throws
 */
export function checkTokensFit(ck: Pick<Checkpoint, 'file'>, what: string, need: number, ctx: number): void {
  if (need > ctx) throw err('E_ARG', msg.contextExceeded(ck.file, what, need, ctx));
}

/**
 * Bytes the tfjs reference holds at the peak of one forward of T new tokens over S positions: every weight as
 * float32, and per layer the attention scores (ATTN_COPIES x heads x T x S) and activations, all kept until the
 * forward's tf.tidy ends; plus the causal mask and the logits.
 * @example
 * tfjsForwardBytes(cfg, 512, 512) / 2 ** 30 // ~3 for SmolLM2-135M
 */
export function tfjsForwardBytes(c: LlamaConfig, T: number, S: number, paramCount: number): number {
  const perLayer = ATTN_COPIES * c.numHeads * T * S + T * (ACT_HIDDEN * c.hiddenSize + ACT_INTER * c.intermediateSize);
  const mask = (c.numHeads / c.numKvHeads) * T * S;
  const kv = 2 * c.numLayers * c.numKvHeads * c.headDim * S;
  return 4 * (paramCount + c.numLayers * perLayer + mask + kv + c.vocabSize);
}

/**
 * Refuse a forward the wasm backend cannot hold (E_OOM: needed vs available bytes, naming --engine native).
 * No check on the 'cpu' backend (plain JS typed arrays, bounded by RAM).
 * @example
 * checkTfjsMemory(ck, 20000, 20000, 'wasm'); // throws
 */
export function checkTfjsMemory(ck: Pick<Checkpoint, 'file' | 'config' | 'weights'>, T: number, S: number, backend: string | undefined): void {
  const b = backend ?? process.env.CODECLLM_BACKEND ?? 'wasm';
  if (b !== 'wasm') return;
  const params = ck.weights.list().reduce((s, t) => s + t.shape.reduce((a, d) => a * d, 1), 0);
  const need = tfjsForwardBytes(ck.config, T, S, params);
  if (need > WASM_USABLE * WASM_HEAP_BYTES) throw err('E_OOM', msg.wasmMemory(ck.file, need, WASM_USABLE * WASM_HEAP_BYTES));
}

/**
 * Resolve a --patch selector against the model's linear layers before any work (E_PATCH on a bad one).
 * @example
 * checkSelection(ck.config, 'type:q,k') // 60 on SmolLM2-135M
 */
export function checkSelection(c: LlamaConfig, select: string): number {
  return resolveSelection(linearPaths(c), select).length;
}

/**
 * Parse a quant spec before any work (E_QUANT on a bad one); returns its canonical form.
 * @example
 * checkQuantSpec('int8') // 'int8:per-channel'
 */
export function checkQuantSpec(spec: string): string {
  return formatSpec(parseSpec(spec));
}

/**
 * Refuse sweep layer counts beyond the model's linear layers (E_ARG).
 * @example
 * checkLayerCounts(ck, [1, 999], 22); // throws: 999 > 22
 */
export function checkLayerCounts(ck: Pick<Checkpoint, 'file'>, layers: readonly (number | 'all')[], linears: number): void {
  for (const n of layers)
    if (n !== 'all' && n > linears)
      throw err('E_ARG', msg.badArg('--layers', `${n} exceeds the ${linears} linear layers of ${ck.file} (use 'all' for every one)`));
}
