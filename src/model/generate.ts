/**
 * Text generation over the reference model: greedy or seeded sampling (temperature, top-k, top-p), KV-cached decode.
 */
import { tf } from './backend.js';
import { err, msg } from '../messages.js';
import type { LlamaModel } from './llama.js';
import { rng } from '../util/random.js';

export interface GenerateOptions {
  maxTokens?: number;
  /** 0 (default) = greedy argmax. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Stop at these ids (default: the tokenizer's eos). */
  stopIds?: number[];
  /** Called for every new token. */
  onToken?: (id: number, index: number) => void;
}

export interface GenerateResult {
  promptIds: number[];
  ids: number[];
  text: string;
  /** Time of the prompt prefill and of each decode step, ms. */
  prefillMs: number;
  decodeMs: number[];
}


/**
 * Index of the largest value (first one on ties, as torch.argmax).
 * @example
 * argmax(Float32Array.of(0.1, 2, 2)) // 1
 */
export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/**
 * Pick the next token from logits (vocab,) under the options.
 * @example
 * sampleToken(logits, { temperature: 0.8, topP: 0.9 }, rng(1))
 */
export function sampleToken(logits: Float32Array, o: GenerateOptions, rand: () => number): number {
  const temp = o.temperature ?? 0;
  if (temp <= 0) return argmax(logits);
  let idx = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
  if (o.topK && o.topK > 0) idx = idx.slice(0, o.topK);
  const max = logits[idx[0]!]!;
  let probs = idx.map((i) => Math.exp((logits[i]! - max) / temp));
  let sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / sum);
  if (o.topP && o.topP < 1) {
    let acc = 0;
    let n = 0;
    while (n < probs.length && acc < o.topP) acc += probs[n++]!;
    idx = idx.slice(0, n);
    probs = probs.slice(0, n);
    sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / sum);
  }
  let r = rand();
  for (let i = 0; i < probs.length; i++) if ((r -= probs[i]!) <= 0) return idx[i]!;
  return idx[idx.length - 1]!;
}

/** One generation session of some engine: feed tokens, get the last position's logits (vocab,). */
export interface DecodeSession {
  step(input: readonly number[]): Float32Array | Promise<Float32Array>;
  end(): void;
}

/** What generation needs of a model besides its forward pass. */
export interface GenerationModel {
  readonly tokenizer: LlamaModel['tokenizer'];
  readonly config: Pick<LlamaModel['config'], 'bosTokenId' | 'eosTokenId'>;
  readonly checkpoint: { readonly file: string };
}

/**
 * The generation loop shared by every engine: tokenize, prefill, then sample and feed back one token at a time until
 * maxTokens or a stop id, timing the prefill and each decode step.
 * @example
 * const r = await generateWith(model, 'Hello', { maxTokens: 8 }, () => mySession());
 */
export async function generateWith(model: GenerationModel, prompt: string | readonly number[], o: GenerateOptions, open: () => DecodeSession): Promise<GenerateResult> {
  const tok = model.tokenizer;
  let promptIds: number[];
  if (typeof prompt === 'string') {
    if (!tok) throw err('E_TOKENIZER', msg.noTokenizer(model.checkpoint.file));
    promptIds = tok.encode(prompt);
  } else promptIds = [...prompt];
  if (promptIds.length === 0 && model.config.bosTokenId !== null) promptIds = [model.config.bosTokenId];
  const maxTokens = o.maxTokens ?? 32;
  const stop = new Set(o.stopIds ?? (tok?.eosId !== null && tok?.eosId !== undefined ? [tok.eosId] : model.config.eosTokenId !== null ? [model.config.eosTokenId] : []));
  const rand = rng(o.seed ?? 0);
  const session = open();
  const ids: number[] = [];
  const decodeMs: number[] = [];
  let prefillMs = 0;
  try {
    let input: readonly number[] = promptIds;
    for (let i = 0; i < maxTokens; i++) {
      const t0 = performance.now();
      const row = await session.step(input);
      const next = sampleToken(row, o, rand);
      const dt = performance.now() - t0;
      if (i === 0) prefillMs = dt;
      else decodeMs.push(dt);
      if (stop.has(next)) break;
      ids.push(next);
      o.onToken?.(next, i);
      input = [next];
    }
  } finally {
    session.end();
  }
  return { promptIds, ids, text: tok ? tok.decode(ids) : ids.join(' '), prefillMs, decodeMs };
}

/**
 * What generate() needs of an engine (src/engine/engine.ts's Engine has it): last-position logits with a KV cache.
 * Declared here, structurally, so the model room does not import the engine room.
 */
export interface GenerationEngine {
  readonly engine: string;
  readonly tokenizer: LlamaModel['tokenizer'];
  readonly config: Pick<LlamaModel['config'], 'bosTokenId' | 'eosTokenId'>;
  readonly model: { readonly checkpoint: { readonly file: string } };
  forward(tokens: readonly number[], cache?: never, opts?: { lastOnly?: boolean }): Float32Array;
  newCache(): unknown;
  freeCache(cache: never): void;
}

function isGenerationEngine(x: unknown): x is GenerationEngine {
  return typeof x === 'object' && x !== null && typeof (x as GenerationEngine).engine === 'string' && typeof (x as GenerationEngine).newCache === 'function';
}

/**
 * Continue a prompt (text or token ids) on any engine (src/engine/engine.ts), or on a model's tfjs reference: the one
 * generation loop (generateWith) for all of them — stop ids (default the tokenizer's EOS, else the config's), sampling,
 * onToken, and a measured time for every decode step.
 * @example
 * const r = await generate(model, 'The capital of France is', { maxTokens: 16 });
 * const n = await generate(await openEngine(model, { engine: 'native' }), 'Hello', { maxTokens: 8 });
 * console.log(r.text);
 */
export async function generate(modelOrEngine: LlamaModel | GenerationEngine, prompt: string | readonly number[], o: GenerateOptions = {}): Promise<GenerateResult> {
  if (isGenerationEngine(modelOrEngine)) {
    const e = modelOrEngine;
    const info = { tokenizer: e.tokenizer, config: e.config, checkpoint: { file: e.model.checkpoint.file } };
    return generateWith(info, prompt, o, () => {
      const cache = e.newCache() as never;
      return { step: (input) => e.forward(input, cache, { lastOnly: true }), end: () => e.freeCache(cache) };
    });
  }
  const model = modelOrEngine;
  return generateWith(model, prompt, o, () => {
    const cache = model.newCache();
    return {
      step(input) {
        const { logits } = model.forward(input, cache, { lastOnly: true });
        const row = logits.dataSync() as Float32Array;
        logits.dispose();
        return row;
      },
      end: () => model.disposeCache(cache),
    };
  });
}

export { tf };
export { rng };
