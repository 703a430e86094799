/**
 * Perplexity with one stated windowing rule on every engine (src/eval/windows.ts: Hugging Face's strided sliding
 * window; every token after the first is scored exactly once; a result says how many tokens it scored).
 * Reported with the standard error of the mean token NLL and a 95% interval on ppl = exp(mean NLL).
 */
import { tf } from '../model/backend.js';
import { err, msg } from '../messages.js';
import type { LlamaModel } from '../model/llama.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { isEngine, type Engine } from '../engine/engine.js';
import { tfjsEngine } from '../engine/tfjs.js';
import { forEachScoredRow, nllStats, rowNll } from './windows.js';
import { progress } from '../viz/progress.js';

export interface PerplexityOptions {
  /** Tokens per window (default 512, capped at the model's context). */
  window?: number;
  /** Step between window starts (default window/2). */
  stride?: number;
  /** Score at most this many tokens of the text (default all). */
  maxTokens?: number;
  /** Prepend BOS when the tokenizer defines one and the text does not start with it (default false: SmolLM adds none). */
  addBos?: boolean;
  onProgress?: (scored: number, total: number) => void;
}

export interface PerplexityResult {
  ppl: number;
  /** Mean negative log-likelihood per scored token (nats). */
  nllMean: number;
  /** Standard error of nllMean. */
  nllStdErr: number;
  /** 95% interval of ppl: exp(nllMean ± 1.96·se). */
  pplCI95: [number, number];
  /** Number of scored tokens. */
  tokens: number;
  window: number;
  stride: number;
  /** Per-token NLL, in text order (token 1..n). */
  nll: Float32Array;
}

/**
 * Token NLLs of `targets` given logits rows (T, V): row t predicts targets[t]. Works through the rows in blocks so
 * the log-softmax temporaries stay small (a 512 x 49152 block would need 100 MB each in the wasm heap).
 * @example
 * const nll = tokenNll(logits, ids.slice(1)); // NLL of each next token
 */
export function tokenNll(logits: tf.Tensor2D, targets: number[], rowsPerBlock = 64): Float32Array {
  const [T, V] = logits.shape;
  const out = new Float32Array(T);
  for (let r0 = 0; r0 < T; r0 += rowsPerBlock) {
    const n = Math.min(rowsPerBlock, T - r0);
    const v = tf.tidy(() => {
      const block = tf.slice(logits, [r0, 0], [n, V]);
      const lp = tf.reshape(tf.logSoftmax(block, -1), [n * V]);
      const idx = tf.tensor1d(targets.slice(r0, r0 + n).map((t, i) => i * V + t), 'int32');
      return tf.neg(tf.gather(lp, idx)).dataSync() as Float32Array;
    });
    out.set(v, r0);
  }
  return out;
}

/**
 * Summary statistics of per-token NLLs.
 * @example
 * summarizeNll(nll, 512, 256).ppl
 */
export function summarizeNll(nll: Float32Array | Float64Array, window: number, stride: number): PerplexityResult {
  const st = nllStats(nll);
  return { ppl: st.ppl, nllMean: st.mean, nllStdErr: st.se, pplCI95: st.ci95, tokens: nll.length, window, stride, nll: nll instanceof Float32Array ? nll : Float32Array.from(nll) };
}

/**
 * Token ids of a text (or ids as given) for scoring: BOS prepended on request, cut to maxTokens + 1.
 * @example
 * scoringIds(model.tokenizer, 'Hello world', { maxTokens: 100 })
 */
export function scoringIds(tokenizer: TextTokenizer | null, file: string, text: string | readonly number[], o: { addBos?: boolean; maxTokens?: number } = {}): number[] {
  let ids: number[];
  if (typeof text === 'string') {
    if (!tokenizer) throw err('E_TOKENIZER', msg.noTokenizer(file));
    ids = tokenizer.encode(text);
    const bos = tokenizer.bosId;
    if (o.addBos && bos !== null && ids[0] !== bos) ids.unshift(bos);
  } else ids = [...text];
  if (o.maxTokens !== undefined) ids = ids.slice(0, o.maxTokens + 1);
  if (ids.length < 2) throw err('E_ARG', msg.badArg('text', 'needs at least 2 tokens to score'));
  return ids;
}

/**
 * Perplexity of a text (or token ids) on any engine (src/engine/engine.ts), or on a model's tfjs reference, with the
 * one windowing rule (src/eval/windows.ts). Token NLLs are computed in float64 from each scored logits row.
 * @example
 * const r = await perplexity(model, fs.readFileSync('data/texts/eval.txt', 'utf8'), { window: 256 });
 * const n = await perplexity(await openEngine(model, { engine: 'native' }), text);
 * console.log(`${r.ppl.toFixed(2)} ± ${(r.pplCI95[1] - r.ppl).toFixed(2)} over ${r.tokens} tokens`);
 */
export async function perplexity(modelOrEngine: LlamaModel | Engine, text: string | number[], o: PerplexityOptions = {}): Promise<PerplexityResult> {
  const engine = isEngine(modelOrEngine) ? modelOrEngine : tfjsEngine(modelOrEngine);
  const ids = scoringIds(engine.tokenizer, engine.model.checkpoint.file, text, o);
  const window = Math.min(o.window ?? 512, engine.config.maxPositionEmbeddings);
  const stride = o.stride ?? Math.max(1, Math.floor(window / 2));
  const nll = new Float32Array(ids.length - 1);
  const nll64 = new Float64Array(ids.length - 1);
  const task = progress.start('perplexity', ids.length - 1, 'tokens');
  await forEachScoredRow(engine, ids, window, stride, (row, target, i) => {
    nll64[i - 1] = rowNll(row, target);
  }, (d, t) => {
    task.update(d);
    o.onProgress?.(d, t);
  });
  task.done();
  nll.set(nll64);
  return { ...summarizeNll64(nll64, window, stride), nll };
}

/**
 * Summary statistics of per-token NLLs kept in float64 (what perplexity() and the quality report use); the same
 * rule as summarizeNll (JavaScript sums in float64 either way), with the NLLs returned as float32.
 * @example
 * summarizeNll64(Float64Array.of(1, 2, 3), 512, 256).ppl // e^2
 */
export function summarizeNll64(nll: Float64Array, window: number, stride: number): PerplexityResult {
  return summarizeNll(nll, window, stride);
}
