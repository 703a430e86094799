/**
 * Perplexity with a stated windowing rule (Hugging Face's strided sliding window):
 * windows of `window` tokens start every `stride` tokens; in each window only the tokens not scored by an earlier
 * window are scored, so every token after the first is scored exactly once, with at least `window - stride` tokens
 * of context (except near the start). The first token is never scored (nothing predicts it).
 * Reported with the standard error of the mean token NLL and a 95% interval on ppl = exp(mean NLL).
 */
import { tf } from '../model/backend.js';
import { err, msg } from '../messages.js';
import type { LlamaModel } from '../model/llama.js';
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
export function summarizeNll(nll: Float32Array, window: number, stride: number): PerplexityResult {
  const n = nll.length;
  let s = 0;
  for (const v of nll) s += v;
  const mean = s / n;
  let ss = 0;
  for (const v of nll) ss += (v - mean) ** 2;
  const se = n > 1 ? Math.sqrt(ss / (n - 1) / n) : 0;
  return { ppl: Math.exp(mean), nllMean: mean, nllStdErr: se, pplCI95: [Math.exp(mean - 1.96 * se), Math.exp(mean + 1.96 * se)], tokens: n, window, stride, nll };
}

/**
 * Perplexity of a text (or token ids) under the model.
 * @example
 * const r = await perplexity(model, fs.readFileSync('data/texts/eval.txt', 'utf8'), { window: 256 });
 * console.log(`${r.ppl.toFixed(2)} ± ${(r.pplCI95[1] - r.ppl).toFixed(2)} over ${r.tokens} tokens`);
 */
export async function perplexity(model: LlamaModel, text: string | number[], o: PerplexityOptions = {}): Promise<PerplexityResult> {
  let ids: number[];
  if (typeof text === 'string') {
    if (!model.tokenizer) throw err('E_TOKENIZER', msg.noTokenizer(model.checkpoint.file));
    ids = model.tokenizer.encode(text);
    const bos = model.tokenizer.bosId;
    if (o.addBos && bos !== null && ids[0] !== bos) ids.unshift(bos);
  } else ids = [...text];
  if (o.maxTokens !== undefined) ids = ids.slice(0, o.maxTokens + 1);
  if (ids.length < 2) throw err('E_ARG', msg.badArg('text', 'needs at least 2 tokens to score'));
  const window = Math.min(o.window ?? 512, model.config.maxPositionEmbeddings);
  const stride = o.stride ?? Math.max(1, Math.floor(window / 2));
  if (!(stride >= 1 && stride <= window)) throw err('E_ARG', msg.badArg('stride', `${stride} must be in [1, window=${window}]`));
  const n = ids.length;
  const nll = new Float32Array(n - 1);
  let scoredUpTo = 0; // tokens [1, scoredUpTo] scored
  const task = progress.start('perplexity', n - 1, 'tokens');
  for (let begin = 0; scoredUpTo < n - 1; begin += stride) {
    const end = Math.min(begin + window, n);
    const win = ids.slice(begin, end);
    // window rows r predict token begin+r+1; score rows whose target index > scoredUpTo
    const firstRow = Math.max(0, scoredUpTo - begin);
    const { logits } = model.forward(win.slice(0, win.length - 1), undefined, { logitsFrom: firstRow });
    const v = tokenNll(logits, win.slice(firstRow + 1));
    logits.dispose();
    nll.set(v, begin + firstRow);
    scoredUpTo = end - 1;
    task.update(scoredUpTo);
    o.onProgress?.(scoredUpTo, n - 1);
    await new Promise((r) => setImmediate(r));
  }
  task.done();
  return summarizeNll(nll, window, stride);
}
