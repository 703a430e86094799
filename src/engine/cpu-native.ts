/**
 * The native CPU engine: the Llama-family forward of src/model/llama.ts in C++ (native/src/cpu_engine.cc),
 * multi-threaded, on a copy of a {@link LlamaModel}'s current weights (patched ones included), with the architecture
 * features of config.ts ArchFeatures (Gemma 2/3's GeGLU, sandwich and q/k norms, embedding scale, sliding-window
 * layers with their own rope, soft-capping; Qwen2's biases; Qwen3's q/k norm) passed by cpuEngineConfig.
 *
 * Weights keep their exact float32 values. With `storage: 'auto'` (default) a linear whose checkpoint tensor is a
 * GGML q4_1 / q8_0 block tensor is kept as those blocks when dequantizing them reproduces the model's float32 weight
 * bit for bit (checked natively on every copy; also q5_0 / q4_k / q6_k, the blocks of Gemma 3's Q4_K_M file), and a weight whose values are all exactly fp16 / bf16 is kept as
 * such; a patched linear given with its int8/int4 quantized form (engine.setWeight(path, w, { quantized }), or a
 * `quantized` field on the layer's PatchInfo) is kept as int8 codes + scales when they dequantize to exactly w;
 * anything else stays float32. Decode is memory bound, so this is what makes it fast; the logits are those of
 * the same float32 weights (only summation order differs from tfjs). `storage: 'f32'` keeps plain float32.
 *
 * Env switches: CODECLLM_VALIDATE_WITH_TFJS=1 reruns every forward on the tfjs reference (with its own KV cache) and
 * throws E_ENGINE when max |Δlogit| > CODECLLM_VALIDATE_ATOL (default 1e-3) + 1e-3·|ref|; CODECLLM_THREADS=n sets
 * the native thread pool size (default: all cores; 1 can be faster while other processes load the cores);
 * CODECLLM_SPIN_US (default 50) is how long pool threads spin before sleeping; CODECLLM_NO_AVX2=1 forces the plain
 * (non-AVX2) kernels.
 *
 * @example
 * const model = await LlamaModel.load('default');
 * const engine = createCpuEngine(model);
 * const r = await generateNative(engine, model.tokenizer!.encode('Hello'), { maxTokens: 16 });
 * engine.dispose();
 */
import { tf } from '../model/backend.js';
import { err, msg } from '../messages.js';
import { callNative, requireNative } from '../native/addon.js';
import { ropeInvFreq, ropeInvFreqLocal, type KVCache, type LlamaModel, type LinearLayer } from '../model/llama.js';
import { generateWith, type GenerateOptions, type GenerateResult, type GenerationModel } from '../model/generate.js';
import type { LlamaConfig } from '../model/config.js';
import { scaleValues, storedByte, zeroAt, type QuantizedTensor } from '../quant/quantize.js';
import { planOf } from '../quant/plan.js';
import { engineDims, featuresOf, type EngineDims } from '../model/config.js';
import { ggmlBlocks } from '../model/checkpoint.js';
import { weightTypeId } from '../formats/dtypes.js';
import { quant4Form } from './quant4-form.js';
import { weightTensorName } from '../model/names.js';

/** Storage choice for linear weights (see the module comment). */
export type WeightStorage = 'auto' | 'f32';

export interface CpuEngineOptions {
  /** 'auto' (default): exact compact storage where verified; 'f32': plain float32. */
  storage?: WeightStorage;
  /** Rerun each forward on tfjs and compare (default: env CODECLLM_VALIDATE_WITH_TFJS=1). */
  validate?: boolean;
}

export interface CpuForwardOptions {
  /** Logits of the last position only, (1, V). Default false: (T, V). */
  lastOnly?: boolean;
  /** Run the single-threaded reference ops (native/src/engine/ops_ref.h) instead of the fast kernels. */
  reference?: boolean;
}

/** A KV cache living in native memory; `length` = positions held. Free with engine.freeCache (or engine.dispose). */
export interface NativeCache {
  readonly id: number;
  length: number;
  /** the tfjs reference's cache, kept alongside when validating */
  tfjs?: KVCache;
}

/** What the engine holds. */
export interface CpuEngineInfo {
  threads: number;
  /** times the thread pool fell back to the calling thread alone because workers were descheduled (busy machine) */
  soloPeriods: number;
  /** 'avx2+fma' or 'scalar' */
  isa: string;
  /** bytes of all weights in native memory */
  weightBytes: number;
  /** bytes of linear weights a batch-1 decode step reads */
  decodeBytesPerToken: number;
  embedFormat: string;
  /** number of linears per storage format */
  linearFormats: Record<string, number>;
}

/**
 * What every native CPU engine offers, however it was built: from a LlamaModel (createCpuEngine) or streamed from a
 * checkpoint file (loadCpuEngine in cpu-checkpoint.ts).
 */
export interface NativeSession {
  /** config, tokenizer and checkpoint of the weights (what generate needs) */
  readonly source: GenerationModel & { readonly config: LlamaConfig };
  /** storage format chosen per linear path ('f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_1' | 'i8_channel' | 'i8_group' | 'nf4_group') */
  readonly formats: Map<string, string>;
  /** Run tokens, appending to `cache` when given; logits (T, V) row-major, or (1, V) with lastOnly. */
  forward(tokens: readonly number[], cache?: NativeCache, opts?: CpuForwardOptions): Float32Array;
  newCache(): NativeCache;
  freeCache(cache: NativeCache): void;
  info(): CpuEngineInfo;
  dispose(): void;
}

export interface CpuEngine extends NativeSession {
  readonly model: LlamaModel;
  /**
   * Run tokens, appending to `cache` when given; logits (T, V) row-major, or (1, V) with lastOnly.
   * Linears whose model weight was replaced since the last copy (model.setWeight) are re-copied first.
   */
  forward(tokens: readonly number[], cache?: NativeCache, opts?: CpuForwardOptions): Float32Array;
  newCache(): NativeCache;
  freeCache(cache: NativeCache): void;
  /**
   * Replace one linear's weight, (out, in) row-major, in the engine only; returns the storage format chosen.
   * With `quantized` (int8 / int4, per-tensor, per-channel or group; the tensor `w` was dequantized from), the
   * engine keeps int8 codes + scales when they reproduce `w` exactly ('i8_channel' | 'i8_group').
   */
  setWeight(path: string, w: Float32Array, opts?: { quantized?: QuantizedTensor }): string;
  /** Re-copy linears whose model weight changed; returns how many. forward() does this itself. */
  sync(): number;
  info(): CpuEngineInfo;
  dispose(): void;
}

/** The architecture features as cpuEngineCreate takes them (native/src/cpu_engine.cc ReadFeatures; absent = Llama). */
export interface CpuEngineFeatures {
  hiddenAct: 'silu' | 'gelu_tanh';
  sandwichNorms: boolean;
  qkNorm: boolean;
  embedScale: number;
  attnScale: number;
  /** per layer 1 = local (sliding-window) layer; absent: every layer global */
  slidingLayers?: Uint8Array;
  slidingWindow?: number;
  /** rope of the local layers when their base differs (Gemma 3) */
  invFreqLocal?: Float32Array;
  /** 0 = none */
  attnSoftcap: number;
  finalSoftcap: number;
}

/**
 * A config's dimensions, rope and architecture features for cpuEngineCreate (one definition for both loaders); E_ARCH
 * naming the feature when the CPU engine lacks one (config.ts nativeEngineGap).
 * @example
 * cpuEngineConfig(gemma.config).hiddenAct // 'gelu_tanh'
 */
export function cpuEngineConfig(c: LlamaConfig): Parameters<CpuEngineAddon['cpuEngineCreate']>[0] {
  const dims = engineDims(c, 'native');
  const f = featuresOf(c);
  const local = f.slidingLayers?.some((x) => x) ?? false;
  const invLocal = ropeInvFreqLocal(c);
  return {
    ...dims,
    invFreq: ropeInvFreq(c),
    hiddenAct: f.hiddenAct,
    sandwichNorms: f.sandwichNorms,
    qkNorm: f.qkNorm,
    embedScale: f.embedScale,
    attnScale: f.attnScale,
    ...(local ? { slidingLayers: Uint8Array.from(f.slidingLayers!, (x) => (x ? 1 : 0)), slidingWindow: f.slidingWindow! } : {}),
    // local layers: their own base, never scaled (llama.ts ropeInvFreqLocal, as the tfjs reference and the CUDA engine)
    ...(invLocal ? { invFreqLocal: invLocal } : {}),
    attnSoftcap: f.attnSoftcap ?? 0,
    finalSoftcap: f.finalSoftcap ?? 0,
  };
}

/** The addon functions this module uses (native/src/cpu_engine.cc). */
export interface CpuEngineAddon {
  cpuEngineCreate(cfg: EngineDims & { invFreq: Float32Array } & Partial<CpuEngineFeatures>): number;
  cpuEngineSetTensor(
    id: number,
    layer: number,
    slot: number,
    /** null: the tensor comes as stored bytes in `raw` (rawType bf16 | f16 | f32 | q4_1 | q8_0 | i8_*), no float32 copy */
    data: Float32Array | null,
    raw: Uint8Array | null,
    /** weight type id of raw (dtypes.ts weightTypeId; native common/weight_types.h), null when raw is null */
    rawType: number | null,
    storage: WeightStorage,
    scale?: Float32Array,
    zero?: Uint8Array | null,
    group?: number,
  ): string;
  /** a matrix slot read from the checkpoint file by the engine (stored type bf16 | f16 | f32 | q4_1 | q8_0); absent in older builds */
  cpuEngineSetTensorFile?(id: number, layer: number, slot: number, path: string, offset: number, bytes: number, storedType: number, storage: WeightStorage): string;
  cpuEngineNewCache(id: number): number;
  cpuEngineFreeCache(id: number, cache: number): boolean;
  cpuEngineCacheLength(id: number, cache: number): number;
  cpuEngineForward(id: number, cache: number, tokens: Int32Array, lastOnly: boolean, reference: boolean): Float32Array;
  cpuEngineInfo(id: number): CpuEngineInfo;
  cpuEngineDispose(id: number): boolean;
  cpuThreads(): number;
}

/**
 * The addon's CPU engine functions, or E_NATIVE when the addon is not built.
 * @example
 * const a = cpuEngineAddon(); a.cpuThreads();
 */
export function cpuEngineAddon(): CpuEngineAddon {
  const a = requireNative('the native CPU engine') as unknown as Partial<CpuEngineAddon>;
  if (typeof a.cpuEngineCreate !== 'function') throw err('E_NATIVE', msg.nativeMissing('the native CPU engine (addon built without cpu_engine.cc: rebuild it)'));
  return a as CpuEngineAddon;
}

// slots of cpuEngineSetTensor (append-only; mirrored in cpu_engine.cc)
export const GLOBAL_SLOT = { embed: 0, norm: 1, lm_head: 2 } as const;
export const LAYER_SLOT = {
  inputNorm: 0, postNorm: 1, q: 2, k: 3, v: 4, o: 5, gate: 6, up: 7, down: 8, qBias: 9, kBias: 10, vBias: 11,
  preFfnNorm: 12, postFfnNorm: 13, qNorm: 14, kNorm: 15,
} as const;
export const BIAS_SLOT = { q: LAYER_SLOT.qBias, k: LAYER_SLOT.kBias, v: LAYER_SLOT.vBias } as Record<string, number>;

/**
 * E_ARG unless every token id is an integer in [0, vocab) and there is at least one.
 * @example
 * checkTokens([1, 2], 49152);
 */
export function checkTokens(tokens: readonly number[], vocab: number): void {
  if (tokens.length === 0) throw err('E_ARG', msg.badArg('tokens', 'empty sequence'));
  for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= vocab) throw err('E_ARG', msg.badArg('tokens', `token id ${t} outside [0, ${vocab})`));
}

function envFlag(name: string): boolean {
  const v = process.env[name];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/**
 * Copy a model's current weights into a native CPU engine.
 * @example
 * const engine = createCpuEngine(model);            // exact compact storage where verified
 * const cache = engine.newCache();
 * const logits = engine.forward([1, 2, 3], cache);  // (3, vocab)
 * engine.dispose();
 */
export function createCpuEngine(model: LlamaModel, opts: CpuEngineOptions = {}): CpuEngine {
  const addon = cpuEngineAddon();
  const c = model.config;
  const storage: WeightStorage = opts.storage ?? 'auto';
  if (storage !== 'auto' && storage !== 'f32') throw err('E_ARG', msg.badArg('storage', `'${String(storage)}' (expected auto or f32)`));
  const validate = opts.validate ?? envFlag('CODECLLM_VALIDATE_WITH_TFJS');
  const call = <T>(fn: () => T): T => callNative(fn);
  const id = call(() =>
    addon.cpuEngineCreate(cpuEngineConfig(c)),
  );
  let disposed = false;
  const caches = new Set<NativeCache>();
  const formats = new Map<string, string>();
  /** the model's weight tensor each linear was last copied from */
  const copiedFrom = new Map<string, tf.Tensor>();
  const ck = model.checkpoint;

  /** the checkpoint's raw GGML blocks of a tensor, when it is stored that way and storage is 'auto' */
  const rawOf = (name: string): { raw: Uint8Array | null; type: number | null } => {
    const b = storage === 'auto' ? ggmlBlocks(ck, name) : null;
    return b ? { raw: b.raw, type: weightTypeId(b.type) } : { raw: null, type: null };
  };
  const slotOf = (l: LinearLayer): [number, number] => (l.layer === null ? [-1, GLOBAL_SLOT.lm_head] : [l.layer, LAYER_SLOT[l.kind as keyof typeof LAYER_SLOT]]);

  const setLinear = (l: LinearLayer, w: Float32Array, raw: { raw: Uint8Array | null; type: number | null }, q?: QuantizedTensor): string => {
    const [layer, slot] = slotOf(l);
    // int8 / int4: int8 codes (int8Form); nf4: packed NF4 indices + scales (quant4Form), kept only when they reproduce w
    const i8 = storage === 'auto' && q ? (q.spec.format === 'nf4' ? quant4Form(q, l.outFeatures, l.inFeatures) : int8Form(q, l.outFeatures, l.inFeatures)) : null;
    const f = i8
      ? call(() => addon.cpuEngineSetTensor(id, layer, slot, w, i8.codes, weightTypeId(i8.type), storage, i8.scale, i8.zero, i8.group))
      : call(() => addon.cpuEngineSetTensor(id, layer, slot, w, raw.raw, raw.type, storage));
    formats.set(l.path, f);
    return f;
  };
  const copyLinear = (l: LinearLayer): void => {
    if (l.forward) throw err('E_ENGINE', msg.engineCustomForward(l.path));
    // a patched layer: its quantized form when the patch carries one; never the checkpoint's blocks (they would fail
    // the exactness check anyway, after costing a read)
    const q = (l.patch as { quantized?: unknown } | null)?.quantized;
    setLinear(l, model.getWeight(l.path), l.patch ? { raw: null, type: null } : rawOf(weightTensorName(c, l.path, l.kind)), isQuantized(q) ? q : undefined);
    copiedFrom.set(l.path, l.weightT);
  };

  try {
    const emb = model.embedTable;
    call(() => addon.cpuEngineSetTensor(id, -1, GLOBAL_SLOT.embed, emb, ...spread(rawOf('model.embed_tokens.weight')), storage));
    call(() => addon.cpuEngineSetTensor(id, -1, GLOBAL_SLOT.norm, model.norm.dataSync() as Float32Array, null, null, storage));
    for (const b of model.blocks) {
      call(() => addon.cpuEngineSetTensor(id, b.index, LAYER_SLOT.inputNorm, b.inputNorm.dataSync() as Float32Array, null, null, storage));
      call(() => addon.cpuEngineSetTensor(id, b.index, LAYER_SLOT.postNorm, b.postNorm.dataSync() as Float32Array, null, null, storage));
      // sandwich / q-k norms (as applied: the model already added normOffset)
      for (const [t, slot] of [[b.preFfnNorm, LAYER_SLOT.preFfnNorm], [b.postFfnNorm, LAYER_SLOT.postFfnNorm], [b.qNorm, LAYER_SLOT.qNorm], [b.kNorm, LAYER_SLOT.kNorm]] as const)
        if (t) call(() => addon.cpuEngineSetTensor(id, b.index, slot, t.dataSync() as Float32Array, null, null, storage));
      for (const k of ['q', 'k', 'v'] as const) {
        const bias = b[k].bias;
        if (bias) call(() => addon.cpuEngineSetTensor(id, b.index, BIAS_SLOT[k]!, bias.dataSync() as Float32Array, null, null, storage));
      }
    }
    for (const l of model.linears()) copyLinear(l);
  } catch (e) {
    addon.cpuEngineDispose(id);
    throw e;
  }

  const alive = () => {
    if (disposed) throw err('E_ENGINE', msg.engineDisposed());
  };
  const sync = (): number => {
    alive();
    let n = 0;
    for (const l of model.linears()) {
      if (l.forward) throw err('E_ENGINE', msg.engineCustomForward(l.path));
      if (copiedFrom.get(l.path) !== l.weightT) {
        copyLinear(l);
        n++;
      }
    }
    return n;
  };
  const validateTol = Number(process.env.CODECLLM_VALIDATE_ATOL ?? '1e-3');

  const engine: CpuEngine = {
    model,
    source: model,
    formats,
    forward(tokens, cache, fo = {}) {
      alive();
      sync();
      const T = tokens.length;
      checkTokens(tokens, c.vocabSize);
      if (cache && !caches.has(cache)) throw err('E_ENGINE', msg.engineForeignCache());
      const logits = call(() => addon.cpuEngineForward(id, cache ? cache.id : -1, Int32Array.from(tokens), fo.lastOnly ?? false, fo.reference ?? false));
      if (cache) cache.length += T;
      if (validate) {
        const { logits: ref } = model.forward(tokens, cache?.tfjs, { lastOnly: fo.lastOnly ?? false });
        const r = ref.dataSync() as Float32Array;
        ref.dispose();
        let worst = -1;
        let worstExcess = 0;
        for (let i = 0; i < r.length; i++) {
          const excess = Math.abs(logits[i]! - r[i]!) - (validateTol + 1e-3 * Math.abs(r[i]!));
          if (!(excess <= worstExcess)) {
            worst = i;
            worstExcess = excess;
          }
        }
        if (worst >= 0) {
          const row = Math.floor(worst / c.vocabSize);
          throw err('E_ENGINE', msg.engineValidate(Math.abs(logits[worst]! - r[worst]!), validateTol, row, worst % c.vocabSize, cache ? cache.length - T : 0));
        }
      }
      return logits;
    },
    newCache() {
      alive();
      const cache: NativeCache = { id: call(() => addon.cpuEngineNewCache(id)), length: 0 };
      if (validate) cache.tfjs = model.newCache();
      caches.add(cache);
      return cache;
    },
    freeCache(cache) {
      if (!caches.delete(cache)) return;
      if (cache.tfjs) model.disposeCache(cache.tfjs);
      if (!disposed) addon.cpuEngineFreeCache(id, cache.id);
    },
    setWeight(path, w, so = {}) {
      alive();
      const l = model.linear(path);
      if (w.length !== l.inFeatures * l.outFeatures) throw err('E_SHAPE', msg.weightSize(path, l.outFeatures, l.inFeatures, w.length));
      return setLinear(l, w, { raw: null, type: null }, so.quantized);
    },
    sync,
    info() {
      alive();
      return call(() => addon.cpuEngineInfo(id));
    },
    dispose() {
      if (disposed) return;
      for (const cache of [...caches]) engine.freeCache(cache);
      disposed = true;
      addon.cpuEngineDispose(id);
    },
  };
  return engine;
}

function isQuantized(q: unknown): q is QuantizedTensor {
  return typeof q === 'object' && q !== null && 'spec' in q && 'codes' in q && 'scales' in q && 'shape' in q;
}

/**
 * The int8-code form of an int8 / int4 quantized tensor (per-tensor, per-channel or group) for the native engine:
 * codes (rows, cols) as bytes (int8 two's complement when symmetric, uint8 when asymmetric), float scale and zero
 * per row or per (row, group). null for formats / granularities the engine does not keep (nf4, fp8,
 * per-input-channel) or a shape that is not (rows, cols).
 */
export function int8Form(q: QuantizedTensor, rows: number, cols: number): { codes: Uint8Array; type: 'i8_channel' | 'i8_group'; scale: Float32Array; zero: Uint8Array | null; group: number } | null {
  const s = q.spec;
  if ((s.format !== 'int8' && s.format !== 'int4') || s.granularity === 'per-input-channel') return null;
  if (q.shape[0] !== rows || q.shape[1] !== cols) return null;
  const n = rows * cols;
  let codes: Uint8Array;
  if (s.format === 'int8') codes = new Uint8Array(q.codes.buffer, q.codes.byteOffset, n);
  else {
    const p = planOf(q); // int4: the plan knows the stored nibble's code (sym: nibble - 8, as a signed byte here)
    codes = new Uint8Array(n);
    for (let i = 0; i < n; i++) codes[i] = p.codeOfStored(storedByte(q, i)) & 0xff;
  }
  const sv = scaleValues(q); // fp32 / fp16 / bf16 scale values: all exact in float32
  if (s.granularity === 'group') {
    const zero = s.asym ? Uint8Array.from({ length: sv.length }, (_, g) => zeroAt(q, g)) : null;
    return { codes, type: 'i8_group', scale: Float32Array.from(sv), zero, group: s.groupSize };
  }
  const perRow = s.granularity === 'per-channel';
  const scale = perRow ? Float32Array.from(sv) : new Float32Array(rows).fill(sv[0]!);
  const zero = s.asym ? (perRow ? Uint8Array.from({ length: rows }, (_, g) => zeroAt(q, g)) : new Uint8Array(rows).fill(zeroAt(q, 0))) : null;
  return { codes, type: 'i8_channel', scale, zero, group: 0 };
}

function spread(r: { raw: Uint8Array | null; type: number | null }): [Uint8Array | null, number | null] {
  return [r.raw, r.type];
}

/**
 * Greedy or seeded sampling on the native engine, with the options and result of generate() (src/model/generate.ts).
 * @example
 * const r = await generateNative(engine, promptIds, { maxTokens: 32 });
 * console.log(r.ids, r.decodeMs);
 */
export async function generateNative(engine: NativeSession, prompt: string | readonly number[], o: GenerateOptions = {}): Promise<GenerateResult> {
  return generateWith(engine.source, prompt, o, () => {
    const cache = engine.newCache();
    return { step: (input) => engine.forward(input, cache, { lastOnly: true }), end: () => engine.freeCache(cache) };
  });
}
