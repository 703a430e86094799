/**
 * The CUDA Llama engine (native/src/gpu_engine.cc + native/src/cuda/engine_*.cu), driven from TypeScript.
 *
 * Weights come from a {@link LlamaModel}'s *installed* weights (model.getWeight(path): patched models run as
 * patched) or are generated on the device from a seed ({@link CudaEngine.synthetic}, for speed work on full-size
 * shapes; random weights are meaningless for compression ratios). Each linear is stored in the mode the spec (and
 * `patch.mode`) picks: fp16, int8 (per-output-channel codes from src/quant, dequantized in the GEMV), or compressed
 * int8 codes (nvCOMP, src/codec/nvcomp.ts) decoded per forward, per sequence, or fused one layer ahead
 * (src/engine/modes.ts). A *patched* linear is never re-quantized to another scheme: in an int8 mode it keeps the
 * patch's own codes when the int8 kernel computes exactly that scheme, else it runs as fp16 of its exact dequantized
 * weight and {@link CudaEngine.roundings} says so (src/engine/cuda-patches.ts); a custom forward is refused (E_ENGINE).
 * Every byte the engine holds is a tagged device buffer in the VRAM ledger
 * (`engine<id>:<category>`); {@link CudaEngine.ledger} sums them by category.
 *
 * Decode (one token) runs as a captured CUDA graph whose argmax feeds the next step on the device; prefill runs
 * eagerly with tensor-core GEMMs. Times are CUDA-event times.
 *
 * @example
 * const model = await LlamaModel.load('default');
 * const eng = CudaEngine.fromModel(model, { modes: 'fp16' });
 * const { next, logits } = eng.forward(model.tokenizer!.encode('Hello'), { logits: true });
 * const { tokens, msPerToken } = eng.generate(32);
 * console.log(eng.ledger().categories, msPerToken);
 * eng.dispose();
 */
import fs from 'node:fs';
import { err, msg, type ErrorCode } from '../messages.js';
import { callNative, type NativeAddon } from '../native/addon.js';
import { requireDevice } from '../native/device.js';
import { runTwins, twinBinary } from '../native/twins.js';
import { ropeCosSin, ropeInvFreq, ropeInvFreqLocal, type LlamaModel } from '../model/llama.js';
import { featuresOf, modelDims, type LlamaConfig } from '../model/config.js';
import { ggmlBlocks } from '../model/checkpoint.js';
import { weightTensorName } from '../model/names.js';
import { quantizeFast } from '../quant/native.js';
import { accountBytes, parseModeSpec, resolveModes, type ByteAccount, type GgufBlockType, type ModePlan, type ModeSpec } from './modes.js';
import { dequantizeBlocks } from '../formats/ggml-blocks.js';
import { DTYPES, ENGINE_LAYOUTS } from '../formats/dtypes.js';
import { planPatchedLinears, refuseCustomForwards } from './cuda-patches.js';

/** The compressed schedule of a mode list (the resolved one, unless every compressed linear left it). */
function scheduleOf(modes: readonly string[], resolved: ModePlan['schedule']): ModePlan['schedule'] {
  return modes.some((m) => m === resolved) ? resolved : 'none';
}

/** The engine's native functions (present in CUDA builds). */
interface EngineAddon {
  engineCreate(cfg: Record<string, unknown>): number;
  engineSetEmbedding(id: number, w: Float32Array): void;
  engineSetNorm(id: number, layer: number, which: number, w: Float32Array): void;
  engineSetLinearF32(id: number, index: number, mode: 'fp16' | 'int8', w: Float32Array, bias: Float32Array | null): void;
  engineSetLinearInt8(id: number, index: number, codes: Int8Array, scales: Float32Array, bias: Float32Array | null): void;
  engineSetLinearQ4(id: number, index: number, type: number, codes: Uint8Array, scales: Float32Array, zeros: Uint8Array | null, group: number, bias: Float32Array | null): void;
  engineShareEmbedding(id: number): void;
  /** type: weight type id (dtypes.ts DTYPES[t].id; native common/weight_types.h) */
  engineSetLinearBlocks(id: number, index: number, type: number, blocks: Uint8Array, bias: Float32Array | null): void;
  engineSetEmbeddingBlocks(id: number, type: number, blocks: Uint8Array): void;
  engineRandomize(id: number, seed: number, modes: Int32Array): void;
  engineLinearCodes(id: number, index: number): { id: number; bytes: number };
  engineSetCompressed(id: number, index: number, codec: string, packedId: number, offs: Float64Array, sizes: Float64Array, chunk: number): void;
  engineFinalize(id: number, schedule: string): void;
  engineReset(id: number): { cacheDecodeMs: number };
  engineForward(id: number, tokens: Int32Array, wantLogits: boolean): { next: number; logits?: Float32Array; ms: number; position: number };
  engineGenerate(id: number, n: number, useGraph: boolean): { tokens: Int32Array; ms: number; graph: boolean; graphError?: string };
  engineGenerateBatch(
    id: number,
    prompts: Int32Array[],
    n: number,
    useGraph: boolean,
  ): { tokens: Int32Array; prefillMs: number; ms: number; graph: boolean; graphError?: string };
  engineProfileDecode(id: number, batch: number): { op: string; ms: number }[];
  engineLedger(id: number): { categories: Record<string, number>; totalBytes: number; modes: Record<string, number>; schedule: string };
  engineDestroy(id: number): boolean;
}

/** One CUDA kernel compared with its ops_ref.h twin (see scripts/gpu/check-engine.ts). */
export interface KernelTestResult {
  name: string;
  n: number;
  maxAbs: number;
  /** max |got − want| / (atol + rtol·|want|): ≤ 1 passes */
  maxErrOverTol: number;
  fails: number;
  atol: number;
  rtol: number;
  pass: boolean;
  /** the first mismatches, 'what[i] got … want …' */
  first: string[];
}

export interface CudaEngineOptions {
  /** storage-mode spec (src/engine/modes.ts), default 'fp16' */
  modes?: string | ModeSpec;
  /** KV cache capacity in positions (default min(2048, config.maxPositionEmbeddings)) */
  maxSeq?: number;
  /** largest prefill chunk (longer prompts run in chunks), default 512 */
  maxPrefill?: number;
  /** KV cache dtype, default 'f16' */
  kvDtype?: 'f16' | 'f32';
  /** sequence slots for {@link CudaEngine.generateBatch} (one KV cache each, 1 to 64), default 1 */
  maxBatch?: number;
  /**
   * programmatic dependent launch (sm_90: each kernel starts its weight loads while the previous one drains), default
   * true; used only where no kernel of the forward writes weights (fp16 / int8 / cached), and never when the
   * environment sets CODECLLM_PDL=0. Results are identical either way; only the timing moves.
   */
  pdl?: boolean;
  /** called after each linear is installed: (done, total) */
  onProgress?: (done: number, total: number) => void;
}

export interface CudaForwardResult {
  /** greedy next token (argmax of the last position's logits) */
  next: number;
  /** last position's logits (V), when asked for */
  logits?: Float32Array;
  /** CUDA-event time of the call, ms */
  ms: number;
}

export interface CudaGenerateResult {
  tokens: Int32Array;
  ms: number;
  msPerToken: number;
  /** whether the steps ran as CUDA graph replays */
  graph: boolean;
  graphError?: string;
}

export interface CudaBatchResult {
  /** per sequence: the prefill's greedy token, then the n decoded ones (n + 1 tokens) */
  tokens: Int32Array[];
  /** CUDA-event time of the B prefills (one after another), ms */
  prefillMs: number;
  /** CUDA-event time of the n batched decode steps, ms */
  ms: number;
  /** ms per batched step (B tokens each) */
  msPerStep: number;
  /** decoded tokens per second over all sequences (B · n / time) */
  tokensPerSecond: number;
  graph: boolean;
  graphError?: string;
}

export interface CudaLedger {
  /** bytes by category: weights_fp16, weights_int8, weights_compressed, scales, embed, norms, kv_cache, activations, cublas_workspace and gemm_scratch (the cuBLAS prefill GEMM, native/src/gpu/prefill_gemm.h), … */
  categories: Record<string, number>;
  totalBytes: number;
  /** bytes that hold weights (weights_*, scales, bias, embed, norms, and the cached schedule's decode cache) */
  weightBytes: number;
  modes: Record<string, number>;
  schedule: string;
}

/** The addon's engine functions, or E_CUDA naming what needed them. */
function engineAddon(what: string): EngineAddon & Required<NativeAddon> {
  const n = requireDevice(what) as unknown as EngineAddon & Required<NativeAddon>;
  if (typeof n.engineCreate !== 'function') throw err('E_CUDA', msg.cudaUnavailable(what));
  return n;
}

/**
 * Run one CUDA kernel beside its C++ reference twin (native/src/engine/ops_ref.h) on seeded random inputs, through
 * the twin test binary `codecllm_gpu_twins` (native/test/gpu_twins.cc; not part of the addon). E_CUDA where the
 * binary finds no device (or the build has no CUDA), E_NATIVE where it is not built.
 * @example
 * kernelTest('gemv', { K: 576, N: 1536, i8: 1, prologue: 1, seed: 3 }).pass
 */
export function kernelTest(name: string, params: Record<string, number> = {}): KernelTestResult {
  if (!fs.existsSync(twinBinary('gpu'))) throw err('E_CUDA', msg.cudaUnavailable('GPU kernel tests (no codecllm_gpu_twins: build with CUDA)'));
  const r = runTwins('gpu', [name, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)]);
  const row = r.rows[0];
  if (!row) throw err(/no CUDA device/.test(r.stderr) ? 'E_CUDA' : 'E_NATIVE', `codecllm: gpu_twins.cc: ${r.stderr.trim() || `exit ${r.status}`}`);
  const threw = row.first.find((f) => f.startsWith('threw: '));
  if (threw) {
    const m = /^threw: (E_[A-Z_]+) (.*)$/.exec(threw);
    throw err((m?.[1] as ErrorCode) ?? 'E_NATIVE', m?.[2] ?? threw);
  }
  return { name: row.op, n: row.n, maxAbs: row.maxAbs, maxErrOverTol: row.ratio, fails: row.fails, atol: row.atol, rtol: row.rtol, pass: row.pass, first: row.first };
}

/** cos/sin tables (maxSeq, D/2): the reference's rule (ropeCosSin), not a copy of it. */
export function ropeTables(c: LlamaConfig, maxSeq: number): { cos: Float32Array; sin: Float32Array } {
  return ropeCosSin(ropeInvFreq(c), maxSeq);
}

/**
 * The architecture features as engineCreate takes them (config.ts ArchFeatures field names; gpu_engine.cc parses
 * them): empty for plain Llama (the kernels' own defaults, so Llama results stay as they were), else the activation,
 * sandwich / q-k norms, embedding and attention scales, soft-caps, the local layers (Uint8Array) with their window,
 * and the local layers' own rope tables when their base differs (Gemma 3).
 * @example
 * cudaArchConfig(gemma3Config, 2048).hiddenAct // 'gelu_tanh'
 */
export function cudaArchConfig(c: LlamaConfig, maxSeq: number): Record<string, unknown> {
  if (!c.features) return {};
  const f = featuresOf(c);
  const sliding = f.slidingLayers?.some((x) => x) ? Uint8Array.from(f.slidingLayers, (x) => (x ? 1 : 0)) : null;
  const local = ropeInvFreqLocal(c);
  const tables = local ? ropeCosSin(local, maxSeq) : null;
  return {
    hiddenAct: f.hiddenAct,
    qkNorm: f.qkNorm,
    sandwichNorms: f.sandwichNorms,
    embedScale: f.embedScale,
    attnScale: f.attnScale,
    attnSoftcap: f.attnSoftcap,
    finalSoftcap: f.finalSoftcap,
    ...(sliding ? { slidingLayers: sliding, slidingWindow: f.slidingWindow } : {}),
    ...(tables ? { ropeCosLocal: tables.cos, ropeSinLocal: tables.sin } : {}),
  };
}

/** engineSetNorm's slots (gpu/engine.h NormSlot). */
const NORM_SLOT = { input: 0, post: 1, preFfn: 2, postFfn: 3, q: 4, k: 5 } as const;

const MODE_CODE = { fp16: 0, int8: 1, gguf: 3 } as const;

/**
 * The checkpoint's GGML blocks of tensor `name` when they are a type the CUDA GEMVs read (q4_1, q8_0: split; q5_0, q4_k, q6_k: raw) and dequantize to `installed` bit for bit;
 * E_ARG naming the tensor otherwise (storage mode gguf keeps the file's blocks, never re-quantizes).
 */
function exactBlocks(model: LlamaModel, name: string, path: string, installed: Float32Array): { type: GgufBlockType; raw: Uint8Array } {
  const b = ggmlBlocks(model.checkpoint, name);
  if (!b) {
    const ws = model.checkpoint.weights;
    throw err('E_ARG', msg.gpuGgufUnavailable(path, ws.has(name) ? String(ws.info(name).dtype) : 'missing'));
  }
  const f = dequantizeBlocks(b.type, b.raw, installed.length);
  for (let i = 0; i < f.length; i++) if (!Object.is(f[i], installed[i])) throw err('E_ARG', msg.gpuGgufNotExact(path));
  return b;
}

export class CudaEngine {
  readonly config: LlamaConfig;
  readonly plan: ModePlan;
  readonly maxSeq: number;
  readonly kvDtype: 'f16' | 'f32';
  /** sequence slots for generateBatch */
  readonly maxBatch: number;
  /** packed nvCOMP bytes of each compressed linear (module order; 0 for others) */
  readonly compressedBytes: number[];
  /** lm_head reads the embedding table */
  readonly sharedHead: boolean;
  /** GGML block type of each gguf linear (module order; null for others) */
  readonly blockTypes: (GgufBlockType | null)[];
  /** the embedding table is held as q8_0 blocks (gguf lm_head on a tied q8_0 checkpoint) */
  readonly embedBlocks: 'q8_0' | undefined;
  /** roundings applied to patched linears beyond their own scheme (fp16 of dequantized weights), one line each */
  roundings: string[] = [];
  /** linears held as 4-bit codes + group scales (int4 / nf4 patches; module index -> device bytes) */
  readonly quant4Bytes = new Map<number, { codeBytes: number; scaleBytes: number }>();
  #id: number;
  #n: EngineAddon;
  #disposed = false;
  #position = 0;

  private constructor(n: EngineAddon, c: LlamaConfig, plan: ModePlan, o: CudaEngineOptions) {
    this.#n = n;
    this.config = c;
    this.plan = plan;
    this.maxSeq = o.maxSeq ?? Math.min(2048, c.maxPositionEmbeddings);
    this.kvDtype = o.kvDtype ?? 'f16';
    this.maxBatch = o.maxBatch ?? 1;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1 || this.maxBatch > 64) throw err('E_ARG', msg.badArg('maxBatch', `${o.maxBatch} (1 to 64)`));
    this.compressedBytes = new Array<number>(plan.modes.length).fill(0);
    this.sharedHead = false;
    this.blockTypes = new Array<GgufBlockType | null>(plan.modes.length).fill(null);
    this.embedBlocks = undefined;
    const { cos, sin } = ropeTables(c, this.maxSeq);
    this.#id = callNative(() =>
      n.engineCreate({
        ...modelDims(c),
        ...cudaArchConfig(c, this.maxSeq),
        maxSeq: this.maxSeq,
        maxPrefill: o.maxPrefill ?? 512,
        kvDtype: this.kvDtype,
        maxBatch: this.maxBatch,
        pdl: o.pdl !== false,
        ropeCos: cos,
        ropeSin: sin,
      }),
    );
  }

  /**
   * Upload a model's current weights (patched ones as patched) in the modes the spec picks.
   * @example
   * const eng = CudaEngine.fromModel(model, { modes: 'int8,lm_head=fp16' });
   */
  static fromModel(model: LlamaModel, o: CudaEngineOptions = {}): CudaEngine {
    // refuse what the GPU cannot run before touching the device (a custom forward is fault injection: not weights)
    refuseCustomForwards(model, 'the CUDA engine');
    const c = model.config;
    const spec = typeof o.modes === 'string' || o.modes === undefined ? parseModeSpec(o.modes ?? 'fp16') : o.modes;
    const resolved = resolveModes(spec, c, (p) => {
      const m = model.linear(p).patch?.mode;
      return typeof m === 'string' ? m : undefined;
    });
    // patched linears: the patch's own int8 codes where the kernel computes exactly that, else fp16 of the exact
    // dequantized weight (stated in `roundings`) — never re-quantized to another scheme (src/engine/cuda-patches.ts)
    const patched = planPatchedLinears(model, resolved);
    const plan: ModePlan = { ...resolved, modes: patched.modes, schedule: scheduleOf(patched.modes, resolved.schedule) };
    const n = engineAddon('the CUDA engine');
    const e = new CudaEngine(n, c, plan, o);
    e.roundings = patched.roundings;
    try {
      const id = e.#id;
      const lins = model.linears();
      const head = lins[lins.length - 1]!;
      const embed = model.embedTable;
      // gguf lm_head on a tied checkpoint: the embedding table itself stays q8_0 blocks and the head reads it
      const headBlocks =
        plan.modes[lins.length - 1] === 'gguf' && c.tieWordEmbeddings && head.patch === null && !head.forward
          ? exactBlocks(model, 'model.embed_tokens.weight', 'model.embed_tokens', embed)
          : null;
      if (headBlocks && headBlocks.type !== 'q8_0') throw err('E_ARG', msg.gpuGgufUnavailable('model.embed_tokens', headBlocks.type));
      if (headBlocks) {
        callNative(() => n.engineSetEmbeddingBlocks(id, DTYPES.q8_0.id, headBlocks.raw));
        (e as { embedBlocks: 'q8_0' | undefined }).embedBlocks = 'q8_0';
      } else callNative(() => n.engineSetEmbedding(id, embed));
      // norms as the reference applies them (Gemma's 1 + w already added at load where the checkpoint stores w)
      model.blocks.forEach((b, l) => {
        const set = (slot: number, t: { dataSync(): unknown } | undefined) => {
          if (t) callNative(() => n.engineSetNorm(id, l, slot, t.dataSync() as Float32Array));
        };
        set(NORM_SLOT.input, b.inputNorm);
        set(NORM_SLOT.post, b.postNorm);
        set(NORM_SLOT.preFfn, b.preFfnNorm);
        set(NORM_SLOT.postFfn, b.postFfnNorm);
        set(NORM_SLOT.q, b.qNorm);
        set(NORM_SLOT.k, b.kNorm);
      });
      callNative(() => n.engineSetNorm(id, -1, 0, model.norm.dataSync() as Float32Array));
      lins.forEach((lin, i) => {
        const mode = plan.modes[i]!;
        const bias = lin.bias ? (lin.bias.dataSync() as Float32Array) : null;
        if (i === lins.length - 1 && ((c.tieWordEmbeddings && mode === 'fp16' && lin.patch === null && !lin.forward) || headBlocks)) {
          callNative(() => n.engineShareEmbedding(id));
          (e as { sharedHead: boolean }).sharedHead = true;
        } else {
          const w = model.getWeight(lin.path);
          if (mode === 'gguf') {
            const b = exactBlocks(model, weightTensorName(c, lin.path, lin.kind), lin.path, w);
            callNative(() => n.engineSetLinearBlocks(id, i, DTYPES[b.type].id, b.raw, bias));
            e.blockTypes[i] = b.type;
          } else if (mode === 'fp16') callNative(() => n.engineSetLinearF32(id, i, 'fp16', w, bias));
          else if (patched.quant4.has(i)) {
            // an int4 / nf4 patch in storage mode int8: its own packed codes + group scales (cuda/gemv_blocks.cu)
            const f = patched.quant4.get(i)!;
            callNative(() => n.engineSetLinearQ4(id, i, ENGINE_LAYOUTS[f.type].id, f.codes, f.scale, f.zero, f.group, bias));
            e.quant4Bytes.set(i, { codeBytes: f.codes.length, scaleBytes: 4 * f.scale.length + (f.zero?.length ?? 0) });
          } else {
            // a patched linear: its own codes (or bit-exact re-derived ones); an unpatched one: int8 is its storage mode
            const q = patched.int8.get(i) ?? quantizeFast(w, [lin.outFeatures, lin.inFeatures], 'int8:per-channel:scale=fp32');
            callNative(() => n.engineSetLinearInt8(id, i, q.codes as Int8Array, q.scales as Float32Array, bias));
            if (mode !== 'int8') e.#compress(i, lin.path);
          }
        }
        o.onProgress?.(i + 1, lins.length);
      });
      callNative(() => n.engineFinalize(id, plan.schedule));
    } catch (x) {
      e.dispose();
      throw x;
    }
    return e;
  }

  /**
   * An engine with seeded random weights generated on the device (N(0, 1/fan_in) linears, N(0,1) embeddings,
   * 1 + 0.1·N(0,1) norms; int8 modes quantize them on the device). For timing full-size shapes only.
   * @example
   * const eng = CudaEngine.synthetic(tinyLlamaConfig, 1, { modes: 'fused' });
   */
  static synthetic(c: LlamaConfig, seed: number, o: CudaEngineOptions = {}): CudaEngine {
    const n = engineAddon('the CUDA engine');
    const spec = typeof o.modes === 'string' || o.modes === undefined ? parseModeSpec(o.modes ?? 'fp16') : o.modes;
    const plan = resolveModes(spec, c);
    const e = new CudaEngine(n, c, plan, o);
    try {
      const id = e.#id;
      const codes = Int32Array.from(plan.modes, (m) => (m === 'fp16' ? MODE_CODE.fp16 : m === 'gguf' ? MODE_CODE.gguf : MODE_CODE.int8));
      callNative(() => n.engineRandomize(id, seed, codes));
      // random gguf linears: q4_1 blocks, lm_head q8_0 (native Randomize), as GGUF files commonly store them
      plan.modes.forEach((m, i) => {
        if (m === 'gguf') e.blockTypes[i] = i === plan.modes.length - 1 ? 'q8_0' : 'q4_1';
        else if (m !== 'fp16' && m !== 'int8') e.#compress(i, `linear${i}`);
        o.onProgress?.(i + 1, plan.modes.length);
      });
      callNative(() => n.engineFinalize(id, plan.schedule));
    } catch (x) {
      e.dispose();
      throw x;
    }
    return e;
  }

  /** nvCOMP-compress linear i's int8 codes on the device and hand the packed chunks to the engine. */
  #compress(i: number, tensor: string): void {
    const n = this.#n as EngineAddon & Required<NativeAddon>;
    if (typeof n.nvcompCompress !== 'function') throw err('E_NVCOMP', msg.cudaUnavailable('compressed storage modes (nvCOMP)'));
    const codes = callNative(() => n.engineLinearCodes(this.#id, i));
    const z = callNative(() =>
      n.nvcompCompress(this.plan.codec, codes.id, 0, codes.bytes, `engine${this.#id}:weights:compressed`, { tensor, chunkSize: this.plan.chunkSize }),
    );
    try {
      callNative(() => n.engineSetCompressed(this.#id, i, this.plan.codec, z.id, z.chunkOffsets, z.chunkBytes, z.chunkSize));
    } catch (x) {
      n.deviceFree(z.id);
      throw x;
    }
    this.compressedBytes[i] = z.packedBytes;
  }

  #live(): number {
    if (this.#disposed) throw err('E_ARG', msg.gpuEngineDisposed());
    return this.#id;
  }

  /** Positions held in the KV cache. */
  get position(): number {
    return this.#position;
  }

  /**
   * Start a new sequence (empties the KV cache; the cached schedule decodes every layer here).
   * @example
   * eng.reset().cacheDecodeMs
   */
  reset(): { cacheDecodeMs: number } {
    const id = this.#live();
    const r = callNative(() => this.#n.engineReset(id));
    this.#position = 0;
    return r;
  }

  /**
   * Append tokens to the sequence (prefill when several, one decode step when one).
   * @example
   * const { next, logits } = eng.forward([1, 2, 3], { logits: true });
   */
  forward(tokens: readonly number[] | Int32Array, o: { logits?: boolean } = {}): CudaForwardResult {
    const id = this.#live();
    if (this.#position + tokens.length > this.maxSeq) throw err('E_ARG', msg.gpuEngineCapacity(this.#position + tokens.length, this.maxSeq));
    const t = tokens instanceof Int32Array ? tokens : Int32Array.from(tokens);
    const r = callNative(() => this.#n.engineForward(id, t, o.logits === true));
    this.#position = r.position;
    return { next: r.next, ms: r.ms, ...(r.logits ? { logits: r.logits } : {}) };
  }

  /**
   * n greedy decode steps on the device, each fed the previous step's argmax (graph replays unless graph: false).
   * @example
   * eng.forward(prompt); const { tokens, msPerToken } = eng.generate(64);
   */
  generate(n: number, o: { graph?: boolean } = {}): CudaGenerateResult {
    const id = this.#live();
    if (this.#position + n > this.maxSeq) throw err('E_ARG', msg.gpuEngineCapacity(this.#position + n, this.maxSeq));
    const r = callNative(() => this.#n.engineGenerate(id, n, o.graph !== false));
    this.#position += n;
    return { tokens: r.tokens, ms: r.ms, msPerToken: r.ms / n, graph: r.graph, ...(r.graphError ? { graphError: r.graphError } : {}) };
  }

  /**
   * Batched greedy generation: prompt b is prefilled into KV slot b, then n decode steps run for all sequences at
   * once — each GEMV reads its weights once per step for every sequence. Up to `maxBatch` prompts (engine option).
   * Starts fresh sequences and leaves the single-sequence state reset ({@link CudaEngine.position} = 0).
   * @example
   * const eng = CudaEngine.fromModel(model, { modes: 'int8', maxBatch: 8 });
   * const r = eng.generateBatch(prompts.map((p) => tok.encode(p)), 32);
   * r.tokens[3]; // sequence 3: 33 tokens
   * r.msPerStep; // one step = 8 tokens
   */
  generateBatch(prompts: readonly (readonly number[] | Int32Array)[], n: number, o: { graph?: boolean } = {}): CudaBatchResult {
    const id = this.#live();
    if (prompts.length < 1 || prompts.length > this.maxBatch) throw err('E_ARG', msg.gpuEngineBatch(prompts.length, this.maxBatch));
    for (const p of prompts) if (p.length + n > this.maxSeq) throw err('E_ARG', msg.gpuEngineCapacity(p.length + n, this.maxSeq));
    const ps = prompts.map((p) => (p instanceof Int32Array ? p : Int32Array.from(p)));
    const r = callNative(() => this.#n.engineGenerateBatch(id, ps, n, o.graph !== false));
    this.#position = 0;
    const tokens = ps.map((_, b) => r.tokens.slice(b * (n + 1), (b + 1) * (n + 1)));
    return {
      tokens,
      prefillMs: r.prefillMs,
      ms: r.ms,
      msPerStep: r.ms / n,
      tokensPerSecond: (ps.length * n) / (r.ms / 1000),
      graph: r.graph,
      ...(r.graphError ? { graphError: r.graphError } : {}),
    };
  }

  /**
   * Where a decode step's time goes: one eager step with a CUDA event after every op, per-op time summed over the
   * layers (ms; the last entry is 'total'). The events serialize the ops (no graph, no PDL overlap), so the total is
   * above the graph-replay step time; the split is what the profile is for. The step really runs: batch 0 (default)
   * profiles the single sequence after {@link CudaEngine.forward}, batch B the B sequences of the last
   * {@link CudaEngine.generateBatch}.
   * @example
   * eng.forward(prompt); eng.profileDecode(); // [{ op: 'embedding', ms: 0.004 }, { op: 'qkv gemv (+rmsnorm)', ms: 0.21 }, …]
   */
  profileDecode(batch = 0): { op: string; ms: number }[] {
    const id = this.#live();
    const r = callNative(() => this.#n.engineProfileDecode(id, batch));
    if (batch === 0) this.#position += 1;
    return r;
  }

  /**
   * Device bytes by category (every buffer the engine owns).
   * @example
   * eng.ledger().categories.kv_cache
   */
  ledger(): CudaLedger {
    const id = this.#live();
    const l = callNative(() => this.#n.engineLedger(id));
    const c = l.categories;
    const weightKeys = ['weights_fp16', 'weights_int8', 'weights_compressed', 'weights_gguf', 'weights_q4', 'scales', 'bias', 'embed', 'norms', 'decode_cache'];
    const weightBytes = weightKeys.reduce((s, k) => s + (c[k] ?? 0), 0);
    return { ...l, weightBytes };
  }

  /** What the ledger must say, computed from the config and the packed sizes (src/engine/modes.ts). */
  expectedBytes(): ByteAccount {
    return accountBytes(this.config, this.plan, {
      maxSeq: this.maxSeq,
      kvDtype: this.kvDtype,
      compressedBytes: this.compressedBytes,
      sharedHead: this.sharedHead,
      maxBatch: this.maxBatch,
      blockTypes: this.blockTypes,
      quant4: this.quant4Bytes,
      ...(this.embedBlocks ? { embedBlocks: this.embedBlocks } : {}),
    });
  }

  /** Frees every device buffer of the engine (idempotent). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      this.#n.engineDestroy(this.#id);
    } catch {
      /* already gone */
    }
  }
}
