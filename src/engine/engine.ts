/**
 * The one engine contract (issue 12): what every inference engine — the tfjs reference (src/engine/tfjs.ts), the
 * native CPU engine (src/engine/cpu-native.ts) and the CUDA engine (src/engine/cuda-engine.ts) — offers the lab:
 * tokens in, float32 logits out, with a KV cache. `generate`, `perplexity`, the quality report, sweeps and benches
 * are written against this interface only; `openEngine` (src/engine/open.ts) makes one.
 *
 * Shapes: T = tokens of one call, V = vocab size. Logits are row-major float32, (T, V), or (1, V) with lastOnly,
 * or (T - logitsFrom, V) with logitsFrom.
 *
 * @example
 * const e = await openEngine('default', { engine: 'native' });
 * const cache = e.newCache();
 * const logits = e.forward([1, 2, 3], cache, { lastOnly: true }); // (1, V)
 * e.freeCache(cache);
 * e.dispose();
 */
import type { LlamaConfig } from '../model/config.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { LlamaModel } from '../model/llama.js';

export const ENGINE_NAMES = ['tfjs', 'native', 'cuda'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** A KV cache of one engine; `length` = positions it holds. Only the engine that made it can use it. */
export interface EngineCache {
  readonly length: number;
}

export interface EngineForwardOptions {
  /** Logits of the last position only, (1, V). Default false. */
  lastOnly?: boolean;
  /** Logits of positions >= logitsFrom only, (T - logitsFrom, V) (a perplexity window scores a suffix). Default 0. */
  logitsFrom?: number;
}

/** What an engine says about itself (printed by the CLI, carried in results). */
export interface EngineInfo {
  engine: EngineName;
  /** Numeric format the weights run in and how patched weights are held, one line. */
  weights: string;
  /** Roundings the engine applies beyond the patch's own (e.g. fp16 of dequantized weights on the GPU); [] = none. */
  roundings: string[];
  /** Engine-specific details (threads, storage formats, VRAM ledger, …). */
  details: Record<string, unknown>;
}

export interface Engine {
  /** Which engine this is. */
  readonly engine: EngineName;
  readonly config: LlamaConfig;
  readonly tokenizer: TextTokenizer | null;
  /** The model the engine was made from (its patches are the ones the engine runs). */
  readonly model: LlamaModel;
  /**
   * Run tokens, appending to `cache` when given (prefill when several, a decode step when one); without a cache the
   * tokens are a fresh sequence. Returns float32 logits, row-major (see the module comment for the shape).
   */
  forward(tokens: readonly number[], cache?: EngineCache, opts?: EngineForwardOptions): Float32Array;
  newCache(): EngineCache;
  freeCache(cache: EngineCache): void;
  info(): EngineInfo;
  /** Release everything the engine holds (idempotent). */
  dispose(): void;
}

/**
 * Whether x is an Engine (rather than a LlamaModel): engines carry an `engine` name.
 * @example
 * isEngine(model) // false
 */
export function isEngine(x: unknown): x is Engine {
  return typeof x === 'object' && x !== null && typeof (x as Engine).engine === 'string' && typeof (x as Engine).forward === 'function' && typeof (x as Engine).info === 'function';
}

/**
 * The logits row range [from, T) an engine must return for the options, and the row count.
 * @example
 * outputRows(5, { lastOnly: true }) // { from: 4, rows: 1 }
 */
export function outputRows(T: number, o: EngineForwardOptions = {}): { from: number; rows: number } {
  const from = o.lastOnly ? T - 1 : Math.min(Math.max(0, o.logitsFrom ?? 0), T - 1);
  return { from, rows: T - from };
}
