/**
 * The readable Llama-family reference forward on tfjs (CPU): embeddings, RMSNorm, rotary embeddings (rotate-half,
 * Hugging Face layout), grouped-query attention with a KV cache, SwiGLU MLP, lm_head. float32 throughout.
 * The features of config.ts's `ArchFeatures` switch on what Qwen3, Mistral, Gemma 2 and Gemma 3 add: q/k RMSNorm,
 * sandwich norms, GeGLU, embedding scale, sliding-window (local) layers with their own rope base, soft-capping.
 *
 * Every layer is a plain object: a notebook can inspect `model.blocks[3].q.weightT`, or replace a linear's weight with
 * `model.setWeight('model.layers.3.self_attn.q_proj', w)`; the quant lab's `patch()` does exactly that.
 *
 * Shapes: T = tokens in this call, P = tokens already in the cache, h = hidden, H/Hkv = heads, D = head dim.
 */
import { tf, initBackend, type BackendName } from './backend.js';
import { err, msg } from '../messages.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { featuresOf, type ArchFeatures, type LlamaConfig } from './config.js';
import { linearPaths, type LinearKind } from './names.js';
import { progress } from '../viz/progress.js';
import type { TextTokenizer } from './tokenizer.js';
import { checkTfjsFits } from './resident.js';

/** What a patch installed into a linear (set by the quant lab). */
export interface PatchInfo {
  /** Quantization spec string, e.g. 'int8:per-channel'. */
  quant: string;
  codec?: string;
  mode?: string;
  [k: string]: unknown;
}

/** One linear layer y = x Wᵀ + b. The weight is kept transposed, (in, out), for a fast x·Wᵀ on tfjs. */
export interface LinearLayer {
  /** Full module path, e.g. `model.layers.3.self_attn.q_proj` (lm_head: `lm_head`). */
  readonly path: string;
  readonly kind: LinearKind;
  /** Block index, null for lm_head. */
  readonly layer: number | null;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Wᵀ, (in, out), float32. */
  weightT: tf.Tensor2D;
  bias: tf.Tensor1D | null;
  /** null while the original weight is installed. */
  patch: PatchInfo | null;
  /** Optional replacement forward, x (T, in) -> (T, out): fault injection, activation quantization, … */
  forward?: (x: tf.Tensor2D) => tf.Tensor2D;
}

export interface Block {
  readonly index: number;
  inputNorm: tf.Tensor1D;
  /** Llama: the FFN input norm. Sandwich norms (Gemma): the attention-output norm (HF post_attention_layernorm). */
  postNorm: tf.Tensor1D;
  /** Sandwich norms only: FFN input and output norms. */
  preFfnNorm?: tf.Tensor1D;
  postFfnNorm?: tf.Tensor1D;
  /** q/k norm only: RMSNorm weights over head_dim. */
  qNorm?: tf.Tensor1D;
  kNorm?: tf.Tensor1D;
  /** Local (sliding-window) attention layer. */
  readonly sliding: boolean;
  q: LinearLayer;
  k: LinearLayer;
  v: LinearLayer;
  o: LinearLayer;
  gate: LinearLayer;
  up: LinearLayer;
  down: LinearLayer;
}

/** Per-layer KV cache: k[l] holds Kᵀ as (Hkv, D, P), v[l] holds V as (Hkv, P, D). */
export interface KVCache {
  length: number;
  k: (tf.Tensor3D | null)[];
  v: (tf.Tensor3D | null)[];
}

export interface ForwardOptions {
  /** Compute logits only for the last position (generation). Default false. */
  lastOnly?: boolean;
  /** Compute logits only for positions >= logitsFrom (perplexity windows score a suffix). Default 0. */
  logitsFrom?: number;
  /** Also return the residual stream after every block, (T, h) each, as Float32Arrays. */
  collectResiduals?: boolean;
}

export interface ForwardResult {
  /** (T - logitsFrom, vocab), or (1, vocab) with lastOnly. Caller disposes. */
  logits: tf.Tensor2D;
  /** residuals[l] is the residual stream after block l, (T, h) row-major; only with collectResiduals. */
  residuals?: Float32Array[];
}

export interface LoadOptions {
  backend?: BackendName;
  /** Called after each tensor is loaded: (done, total). */
  onProgress?: (done: number, total: number) => void;
}

const BLOCK_KINDS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;

/**
 * Transpose a row-major (rows, cols) matrix.
 * @example
 * transpose2d(Float32Array.of(1, 2, 3, 4, 5, 6), 2, 3) // [1, 4, 2, 5, 3, 6]
 */
export function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  // 64 x 64 tiles: both sides stay in cache (a plain double loop strides one side by rows·4 bytes)
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(r0 + B, rows);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(c0 + B, cols);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = w[base + c]!;
      }
    }
  }
  return out;
}

export class LlamaModel {
  readonly blocks: Block[] = [];
  /**
   * The token embedding table, (vocab, hidden) row-major, float32 — in JS memory, NOT a tfjs tensor: a forward only
   * gathers T rows of it, and on tfjs-wasm a tensor would take vocab × hidden × 4 bytes of the 4 GiB heap (Gemma 3's
   * 262,144 × 640 table: 0.63 GiB, beside its lm_head copy and XNNPACK's packed copy of that).
   */
  embedTable!: Float32Array;
  norm!: tf.Tensor1D;
  lmHead!: LinearLayer;
  private readonly byPath = new Map<string, LinearLayer>();
  private ropeCos: Float32Array;
  private ropeSin: Float32Array;
  /** Tables of the local (sliding-window) layers when their rope base differs. */
  private ropeCosLocal: Float32Array | null = null;
  private ropeSinLocal: Float32Array | null = null;
  private ropeLen = 0;
  private readonly feat: ArchFeatures;

  private constructor(
    readonly config: LlamaConfig,
    readonly tokenizer: TextTokenizer | null,
    /** The checkpoint the weights came from (kept open: originals are re-read from it, not kept in memory). */
    readonly checkpoint: Checkpoint,
  ) {
    this.ropeCos = new Float32Array(0);
    this.ropeSin = new Float32Array(0);
    this.feat = featuresOf(config);
  }

  /**
   * Load a model from a checkpoint path ('default', a .gguf, an HF folder) or an open Checkpoint (a .cllm: pass
   * `openAnyCheckpoint(path)`, or use `load()` from src/load.ts, which opens every format).
   * @example
   * const m = await LlamaModel.load('default');
   * const { logits } = m.forward([1, 2, 3]); logits.dispose();
   */
  static async load(source: string | Checkpoint, opts: LoadOptions = {}): Promise<LlamaModel> {
    const backend = await initBackend(opts.backend);
    const ck = typeof source === 'string' ? openCheckpoint(source) : source;
    try {
      checkTfjsFits(ck, backend); // refuse before allocating: needed vs available, and `--engine native`
    } catch (e) {
      if (typeof source === 'string') ck.close();
      throw e;
    }
    const m = new LlamaModel(ck.config, ck.tokenizer, ck);
    const c = ck.config;
    const f = featuresOf(c);
    const perLayer = 9 + (c.attentionBias ? 3 : 0) + (f.sandwichNorms ? 2 : 0) + (f.qkNorm ? 2 : 0);
    const total = 2 + c.numLayers * perLayer + (c.tieWordEmbeddings ? 0 : 1);
    let done = 0;
    // A failed load leaves its task open; the kernel resets progress nesting at every cell.
    const task = progress.start(`load ${ck.file.split(/[\\/]/).pop()}`, total, 'tensors');
    const tick = () => (task.tick(), opts.onProgress?.(++done, total));
    const vec = (name: string) => {
      const t = tf.tensor1d(ck.weights.readF32(name));
      tick();
      return t;
    };
    // RMSNorm weights as applied: Hugging Face Gemma stores w and applies 1 + w (normOffset 1)
    const norm = (name: string) => {
      const w = ck.weights.readF32(name);
      if (f.normOffset) for (let i = 0; i < w.length; i++) w[i] = Math.fround(w[i]! + f.normOffset);
      const t = tf.tensor1d(w);
      tick();
      return t;
    };
    const embed = ck.weights.readF32('model.embed_tokens.weight');
    m.embedTable = embed;
    tick();
    const paths = linearPaths(c);
    for (let l = 0; l < c.numLayers; l++) {
      const p = `model.layers.${l}.`;
      const lin = {} as Record<(typeof BLOCK_KINDS)[number], LinearLayer>;
      for (const kind of BLOCK_KINDS) {
        const entry = paths[l * 7 + BLOCK_KINDS.indexOf(kind)]!;
        const w = ck.weights.readF32(entry.path + '.weight');
        const [out, inp] = ck.weights.info(entry.path + '.weight').shape as [number, number];
        const hasBias = ck.weights.has(entry.path + '.bias');
        lin[kind] = {
          path: entry.path,
          kind,
          layer: l,
          inFeatures: inp,
          outFeatures: out,
          weightT: tf.tensor2d(transpose2d(w, out, inp), [inp, out]),
          bias: hasBias ? tf.tensor1d(ck.weights.readF32(entry.path + '.bias')) : null,
          patch: null,
        };
        tick();
        if (hasBias) tick();
      }
      m.blocks.push({
        index: l,
        inputNorm: norm(p + 'input_layernorm.weight'),
        postNorm: norm(p + 'post_attention_layernorm.weight'),
        ...(f.sandwichNorms ? { preFfnNorm: norm(p + 'pre_feedforward_layernorm.weight'), postFfnNorm: norm(p + 'post_feedforward_layernorm.weight') } : {}),
        ...(f.qkNorm ? { qNorm: norm(p + 'self_attn.q_norm.weight'), kNorm: norm(p + 'self_attn.k_norm.weight') } : {}),
        sliding: f.slidingLayers?.[l] ?? false,
        ...lin,
      });
    }
    m.norm = norm('model.norm.weight');
    const head = c.tieWordEmbeddings ? embed : ck.weights.readF32('lm_head.weight');
    m.lmHead = {
      path: 'lm_head',
      kind: 'lm_head',
      layer: null,
      inFeatures: c.hiddenSize,
      outFeatures: c.vocabSize,
      weightT: tf.tensor2d(transpose2d(head, c.vocabSize, c.hiddenSize), [c.hiddenSize, c.vocabSize]),
      bias: null,
      patch: null,
    };
    if (!c.tieWordEmbeddings) tick();
    for (const b of m.blocks) for (const k of BLOCK_KINDS) m.byPath.set(b[k].path, b[k]);
    m.byPath.set('lm_head', m.lmHead);
    task.done();
    return m;
  }

  /** All linear layers in module order (blocks' q,k,v,o,gate,up,down, then lm_head). */
  linears(): LinearLayer[] {
    return [...this.byPath.values()];
  }

  /** The linear at a full module path; throws E_MODEL naming the path when absent. */
  linear(path: string): LinearLayer {
    const l = this.byPath.get(path);
    if (!l) throw err('E_MODEL', msg.unknownLinear(path));
    return l;
  }

  /** The installed weight of a linear, (out, in) row-major. */
  getWeight(path: string): Float32Array {
    const l = this.linear(path);
    return transpose2d(l.weightT.dataSync() as Float32Array, l.inFeatures, l.outFeatures);
  }

  /** The original weight of a linear as stored in the checkpoint, (out, in) — re-read, never cached. */
  originalWeight(path: string): Float32Array {
    const l = this.linear(path);
    return this.checkpoint.weights.readF32(l.kind === 'lm_head' && this.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : path + '.weight');
  }

  /**
   * Install a new weight, (out, in) row-major, into a linear; the previous tensor is released first.
   *
   * Released BEFORE the new one is uploaded: on tfjs-wasm a weight that has been through a matMul lives twice in the
   * 4 GiB heap (the tensor and XNNPACK's packed copy of it, made at the first matMul and freed with the tensor; not
   * counted by tf.memory()), so uploading first needed three copies at the peak — for Gemma 3's tied lm_head
   * (262,144 × 640) three times 0.63 GiB beside the rest of the model, which ran the quant lab out of the heap.
   * @example
   * m.setWeight('model.layers.0.mlp.down_proj', dequantized, { quant: 'int8:per-channel' });
   */
  setWeight(path: string, w: Float32Array, patch: PatchInfo | null = null): void {
    const l = this.linear(path);
    if (w.length !== l.inFeatures * l.outFeatures) throw err('E_SHAPE', msg.weightSize(path, l.outFeatures, l.inFeatures, w.length));
    const wT = transpose2d(w, l.outFeatures, l.inFeatures); // JS memory, outside the wasm heap
    l.weightT.dispose();
    try {
      l.weightT = tf.tensor2d(wT, [l.inFeatures, l.outFeatures]);
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      throw err('E_OOM', msg.setWeightOom(path, wT.length * 4, text.split('\n')[0]!), e);
    }
    l.patch = patch;
  }

  /** An empty KV cache. */
  newCache(): KVCache {
    const n = this.config.numLayers;
    return { length: 0, k: new Array(n).fill(null), v: new Array(n).fill(null) };
  }

  /** Release every cached tensor of a KV cache. */
  disposeCache(cache: KVCache): void {
    for (const t of [...cache.k, ...cache.v]) t?.dispose();
    cache.k.fill(null);
    cache.v.fill(null);
    cache.length = 0;
  }

  private ensureRope(n: number): void {
    if (n <= this.ropeLen) return;
    const c = this.config;
    const D = c.headDim;
    const len = Math.max(n, 2 * this.ropeLen, 256);
    const table = (invFreq: Float32Array): [Float32Array, Float32Array] => {
      // emb = cat(freqs, freqs) (HF): each half-table row written twice
      const { cos: ch, sin: sh } = ropeCosSin(invFreq, len);
      const cos = new Float32Array(len * D);
      const sin = new Float32Array(len * D);
      for (let p = 0; p < len; p++) {
        const row = ch.subarray(p * (D / 2), (p + 1) * (D / 2));
        const srow = sh.subarray(p * (D / 2), (p + 1) * (D / 2));
        cos.set(row, p * D);
        cos.set(row, p * D + D / 2);
        sin.set(srow, p * D);
        sin.set(srow, p * D + D / 2);
      }
      return [cos, sin];
    };
    [this.ropeCos, this.ropeSin] = table(ropeInvFreq(c));
    const local = ropeInvFreqLocal(c);
    if (local) [this.ropeCosLocal, this.ropeSinLocal] = table(local);
    this.ropeLen = len;
  }

  /** x (T, in) -> (T, out) */
  private lin(l: LinearLayer, x: tf.Tensor2D): tf.Tensor2D {
    if (l.forward) return l.forward(x);
    const y = tf.matMul(x, l.weightT) as tf.Tensor2D;
    return l.bias ? (tf.add(y, l.bias) as tf.Tensor2D) : y;
  }

  /** x (..., n) -> (..., n): RMSNorm over the last axis, times the weight as applied (n) */
  private rmsNorm<T extends tf.Tensor>(x: T, w: tf.Tensor1D): T {
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, this.config.rmsEps))), w) as T;
  }

  /** The MLP activation on the gate: SiLU (SwiGLU) or tanh-approximated GELU (GeGLU, PyTorch's approximate='tanh'). */
  private act(g: tf.Tensor2D): tf.Tensor2D {
    if (this.feat.hiddenAct === 'silu') return tf.mul(g, tf.sigmoid(g)) as tf.Tensor2D;
    const inner = tf.mul(tf.add(g, tf.mul(tf.mul(tf.mul(g, g), g), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(g, 0.5), tf.add(tf.tanh(inner), 1)) as tf.Tensor2D;
  }

  /** cap · tanh(x / cap) */
  private static softcap<T extends tf.Tensor>(x: T, cap: number | null): T {
    return cap === null ? x : (tf.mul(tf.tanh(tf.div(x, cap)), cap) as T);
  }

  /** x (n, T, D) with cos/sin (T, D): x*cos + rotate_half(x)*sin */
  private rope(x: tf.Tensor3D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor3D {
    const D = this.config.headDim;
    const [x1, x2] = tf.split(x, [D / 2, D / 2], 2);
    const rot = tf.concat([tf.neg(x2!), x1!], 2);
    return tf.add(tf.mul(x, cos), tf.mul(rot, sin));
  }

  /**
   * Run `tokens` through the model, appending to `cache` when given (prefill when the cache is empty, decode after).
   * @example
   * const cache = m.newCache();
   * const { logits } = m.forward(ids, cache, { lastOnly: true });
   */
  forward(tokens: readonly number[], cache?: KVCache, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const T = tokens.length;
    if (T === 0) throw err('E_ARG', msg.badArg('tokens', 'empty sequence'));
    for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw err('E_ARG', msg.badArg('tokens', `token id ${t} outside [0, ${c.vocabSize})`));
    const P = cache?.length ?? 0;
    const S = P + T;
    const { numHeads: H, numKvHeads: Hkv, headDim: D } = c;
    const G = H / Hkv;
    this.ensureRope(S);
    const residuals: Float32Array[] | undefined = opts.collectResiduals ? [] : undefined;
    const f = this.feat;
    // additive causal mask for the (G*T, S) score rows of one kv head: row g*T+t sees columns s <= P+t; the local
    // (sliding-window) layers' mask also hides s <= P+t - window
    const makeMask = (window: number | null) => {
      const m = new Float32Array(G * T * S);
      for (let g = 0; g < G; g++)
        for (let t = 0; t < T; t++)
          for (let s = 0; s < S; s++) if (s > P + t || (window !== null && P + t - s >= window)) m[(g * T + t) * S + s] = -Infinity;
      return m;
    };
    const maskData = makeMask(null);
    const anyLocal = this.blocks.some((b) => b.sliding);
    const localMaskData = anyLocal ? makeMask(f.slidingWindow) : null;
    const logits = this.guardOom(T, opts, () => tf.tidy(() => {
      const cos = tf.tensor2d(this.ropeCos.subarray(P * D, S * D), [T, D]);
      const sin = tf.tensor2d(this.ropeSin.subarray(P * D, S * D), [T, D]);
      const cosL = this.ropeCosLocal ? tf.tensor2d(this.ropeCosLocal.subarray(P * D, S * D), [T, D]) : cos;
      const sinL = this.ropeSinLocal ? tf.tensor2d(this.ropeSinLocal.subarray(P * D, S * D), [T, D]) : sin;
      const mask = tf.tensor2d(maskData, [G * T, S]);
      const localMask = localMaskData ? tf.tensor2d(localMaskData, [G * T, S]) : mask;
      const scale = f.attnScale;
      let x = tf.tensor2d(this.embedRows(tokens), [T, c.hiddenSize]); // (T, h): the gathered rows
      if (f.embedScale !== 1) x = tf.mul(x, f.embedScale);
      for (const b of this.blocks) {
        const [bc, bs, bm] = b.sliding ? [cosL, sinL, localMask] : [cos, sin, mask];
        const hn = this.rmsNorm(x, b.inputNorm);
        let q = tf.transpose(tf.reshape(this.lin(b.q, hn), [T, H, D]), [1, 0, 2]) as tf.Tensor3D; // (H, T, D)
        let k = tf.transpose(tf.reshape(this.lin(b.k, hn), [T, Hkv, D]), [1, 0, 2]) as tf.Tensor3D; // (Hkv, T, D)
        if (b.qNorm && b.kNorm) {
          q = this.rmsNorm(q, b.qNorm);
          k = this.rmsNorm(k, b.kNorm);
        }
        q = this.rope(q, bc, bs);
        k = this.rope(k, bc, bs);
        // the cache keeps Kᵀ as (Hkv, D, S) and V as (Hkv, S, D): attention then runs as plain 2-D matmuls, which
        // tfjs-wasm sends to XNNPACK (batched or transposed-B matmuls take a path ~6x slower there)
        let kT = tf.transpose(k, [0, 2, 1]) as tf.Tensor3D; // (Hkv, D, T)
        let v = tf.transpose(tf.reshape(this.lin(b.v, hn), [T, Hkv, D]), [1, 0, 2]) as tf.Tensor3D; // (Hkv, T, D)
        if (cache) {
          const pk = cache.k[b.index];
          const pv = cache.v[b.index];
          if (pk && pv) {
            kT = tf.concat([pk, kT], 2);
            v = tf.concat([pv, v], 1);
          }
          pk?.dispose();
          pv?.dispose();
          cache.k[b.index] = tf.keep(kT);
          cache.v[b.index] = tf.keep(v);
        }
        // GQA: query heads h = kv*G + g share kv head `kv`; per kv head the queries form a (G*T, D) matrix
        const qg = tf.unstack(tf.reshape(q, [Hkv, G * T, D])) as tf.Tensor2D[];
        const kTs = tf.unstack(kT) as tf.Tensor2D[];
        const vs = tf.unstack(v) as tf.Tensor2D[];
        const heads = qg.map((qh, h) => {
          const raw = LlamaModel.softcap(tf.mul(tf.matMul(qh, kTs[h]!), scale), f.attnSoftcap);
          const scores = tf.add(raw, bm); // (G*T, S)
          return tf.matMul(tf.softmax(scores, -1), vs[h]!); // (G*T, D)
        });
        const att = tf.stack(heads); // (Hkv, G*T, D)
        const merged = tf.reshape(tf.transpose(tf.reshape(att, [H, T, D]), [1, 0, 2]), [T, H * D]) as tf.Tensor2D;
        if (b.preFfnNorm && b.postFfnNorm) {
          // Gemma: x += norm(attn(x)); x += norm(mlp(norm(x)))
          x = tf.add(x, this.rmsNorm(this.lin(b.o, merged), b.postNorm));
          const hn2 = this.rmsNorm(x, b.preFfnNorm);
          const mlp = this.lin(b.down, tf.mul(this.act(this.lin(b.gate, hn2)), this.lin(b.up, hn2)) as tf.Tensor2D);
          x = tf.add(x, this.rmsNorm(mlp, b.postFfnNorm));
        } else {
          x = tf.add(x, this.lin(b.o, merged));
          const hn2 = this.rmsNorm(x, b.postNorm);
          const mlp = this.lin(b.down, tf.mul(this.act(this.lin(b.gate, hn2)), this.lin(b.up, hn2)) as tf.Tensor2D);
          x = tf.add(x, mlp);
        }
        if (residuals) residuals.push(x.dataSync() as Float32Array);
      }
      const from = opts.lastOnly ? T - 1 : Math.min(Math.max(0, opts.logitsFrom ?? 0), T - 1);
      const last = from > 0 ? (tf.slice(x, [from, 0], [T - from, c.hiddenSize]) as tf.Tensor2D) : x;
      return LlamaModel.softcap(this.lin(this.lmHead, this.rmsNorm(last, this.norm)), f.finalSoftcap);
    }));
    if (cache) cache.length = S;
    return residuals ? { logits, residuals } : { logits };
  }

  /** The embedding rows of `tokens`, (T, hidden) row-major: what tf.gather on the table would return. */
  private embedRows(tokens: readonly number[]): Float32Array {
    const h = this.config.hiddenSize;
    const out = new Float32Array(tokens.length * h);
    tokens.forEach((t, i) => out.set(this.embedTable.subarray(t * h, (t + 1) * h), i * h));
    return out;
  }

  /** Run a forward; tfjs-wasm's abort on an exhausted heap (4 GiB) becomes one E_OOM line with the sizes involved. */
  private guardOom<R>(T: number, opts: ForwardOptions, run: () => R): R {
    try {
      return run();
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      if (!/^Aborted\(|out of memory|memory access out of bounds|Cannot enlarge memory|Array buffer allocation failed/i.test(text)) throw e;
      const rows = opts.lastOnly ? 1 : T - Math.min(Math.max(0, opts.logitsFrom ?? 0), T - 1);
      throw err('E_OOM', msg.forwardOom(rows, this.config.vocabSize, this.memory().total, text.split('\n')[0]!), e);
    }
  }

  /** Bytes of float32 weights held by this model (the embedding table in JS memory, norms and linears as tfjs tensors). */
  memory(): { total: number; byKind: Record<string, number> } {
    const byKind: Record<string, number> = { embed: this.embedTable.length * 4, norm: this.norm.size * 4 };
    for (const b of this.blocks) for (const t of [b.inputNorm, b.postNorm, b.preFfnNorm, b.postFfnNorm, b.qNorm, b.kNorm]) if (t) byKind.norm! += t.size * 4;
    for (const l of this.linears()) byKind[l.kind] = (byKind[l.kind] ?? 0) + l.weightT.size * 4 + (l.bias ? l.bias.size * 4 : 0);
    return { total: Object.values(byKind).reduce((a, b) => a + b, 0), byKind };
  }

  /** Release all tensors and the checkpoint. */
  dispose(): void {
    this.norm.dispose();
    for (const b of this.blocks) for (const t of [b.inputNorm, b.postNorm, b.preFfnNorm, b.postFfnNorm, b.qNorm, b.kNorm]) t?.dispose();
    for (const l of this.linears()) {
      l.weightT.dispose();
      l.bias?.dispose();
    }
    this.checkpoint.close();
  }
}

/**
 * The one rotary angle rule: cos/sin of pos·invFreq[i] for pos < len, (len, D/2) row-major, with the product rounded to
 * float32 as Hugging Face computes `freqs` (then cos/sin in double, stored float32). The tfjs reference expands each
 * row to (D) as cat(freqs, freqs); the CUDA engine takes the half tables as they are.
 * @example
 * const { cos } = ropeCosSin(ropeInvFreq(model.config), 2048); cos[0] // 1 (position 0)
 */
export function ropeCosSin(invFreq: Float32Array, len: number): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(len * half);
  const sin = new Float32Array(len * half);
  for (let p = 0; p < len; p++)
    for (let i = 0; i < half; i++) {
      const f = Math.fround(p * invFreq[i]!);
      cos[p * half + i] = Math.cos(f);
      sin[p * half + i] = Math.sin(f);
    }
  return { cos, sin };
}

/**
 * Rotary inverse frequencies of the local (sliding-window) layers when they have their own rope base (Gemma 3's
 * rotary_emb_local; llama.cpp's rope_freq_base_train_swa): that base, never scaled. null: every layer uses
 * {@link ropeInvFreq}.
 * @example
 * ropeInvFreqLocal(gemma3Config)![1] // 10000^(-2/256)
 */
export function ropeInvFreqLocal(c: LlamaConfig): Float32Array | null {
  const f = featuresOf(c);
  if (f.ropeThetaLocal === null || !f.slidingLayers?.some((x) => x)) return null;
  return ropeInvFreq({ ...c, ropeTheta: f.ropeThetaLocal, ropeScaling: null });
}

/**
 * Rotary inverse frequencies (D/2), with linear or llama3 scaling, computed as Hugging Face does (float32).
 * @example
 * ropeInvFreq(model.config)[0] // 1 (theta^0)
 */
export function ropeInvFreq(c: LlamaConfig): Float32Array {
  const D = c.headDim;
  const inv = new Float32Array(D / 2);
  for (let i = 0; i < D / 2; i++) inv[i] = 1 / Math.pow(c.ropeTheta, (2 * i) / D);
  const rs = c.ropeScaling;
  if (rs?.type === 'linear') for (let i = 0; i < inv.length; i++) inv[i] = inv[i]! / rs.factor;
  if (rs?.type === 'llama3') {
    const lowWl = rs.originalMaxPositionEmbeddings / rs.lowFreqFactor;
    const highWl = rs.originalMaxPositionEmbeddings / rs.highFreqFactor;
    for (let i = 0; i < inv.length; i++) {
      const wl = (2 * Math.PI) / inv[i]!;
      if (wl > lowWl) inv[i] = inv[i]! / rs.factor;
      else if (wl >= highWl) {
        const smooth = (rs.originalMaxPositionEmbeddings / wl - rs.lowFreqFactor) / (rs.highFreqFactor - rs.lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i]! / rs.factor) + smooth * inv[i]!;
      }
    }
  }
  return inv;
}
