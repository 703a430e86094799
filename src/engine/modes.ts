/**
 * Storage modes of the GPU engine's linears (issue 5), the mode-spec mini language, and the byte accounting every
 * engine's VRAM ledger is checked against.
 *
 * Modes (per linear; the compressed ones share one schedule per engine):
 *   fp16                W (out, in) as IEEE half: 2 bytes a weight.
 *   int8                int8 codes (out, in) + one fp32 scale per output row ('int8:per-channel', symmetric),
 *                       dequantized inside the GEMV/GEMM: 1 byte a weight + 4 bytes a row.
 *   decode-per-forward  the int8 codes nvCOMP-compressed; every forward decodes each layer (one batched call) into
 *                       one pooled buffer just before the layer runs (the original CodecLLM design, done properly).
 *   cached              compressed; decoded once per sequence (engine.reset()) into a resident int8 cache.
 *   fused               compressed; a second stream decodes layer l+1 into a double buffer while layer l computes.
 *   Compressed linears keep no fp16 or int8 copy besides the decode buffer their schedule implies.
 *   gguf                the checkpoint's own GGML blocks (q4_1: 20 bytes / 32 weights, q8_0: 34, q5_0: 22; q4_k: 144 /
 *                       256, q6_k: 210 / 256 — the last three raw, native/src/cuda/gemv_blocks.cu), dequantized inside
 *                       the GEMV — lossless with respect to the file (the engine checks the blocks reproduce the
 *                       installed weights bit for bit); the tied embedding / lm_head table too when it is q8_0.
 *
 * Spec strings: `<default>[,<selector>=<mode>]*[:codec=<nvcomp codec>][:chunk=<bytes>]`. Selectors: a linear kind
 * (q, k, v, o, gate, up, down, lm_head), `attn` (q,k,v,o), `mlp` (gate,up,down), or `layers.<a>-<b>` (blocks a..b).
 * Later selectors win. A linear patched by the quant lab with `patch.mode` set to a storage mode uses that mode.
 *
 * @example
 * const plan = resolveModes(parseModeSpec('fused,lm_head=int8:codec=ans'), model.config);
 * plan.modes.length // numLayers * 7 + 1
 */
import { err, msg } from '../messages.js';
import { featuresOf, type LlamaConfig } from '../model/config.js';
import type { GgmlBlockType } from '../model/checkpoint.js';
import { DTYPES } from '../formats/dtypes.js';
import { BLOCK_LINEARS, linearPaths, type LinearKind } from '../model/names.js';

export const STORAGE_MODES = ['fp16', 'int8', 'decode-per-forward', 'cached', 'fused', 'gguf'] as const;
export type StorageMode = (typeof STORAGE_MODES)[number];
/** The compressed modes (nvCOMP-coded int8 codes). */
export const COMPRESSED_MODES: readonly StorageMode[] = ['decode-per-forward', 'cached', 'fused'];
export type Schedule = 'none' | 'decode-per-forward' | 'cached' | 'fused';
/** nvCOMP codecs the engine can decode (src/codec/nvcomp.ts names). */
export const ENGINE_CODECS = ['ans', 'bitcomp', 'cascaded', 'deflate', 'gdeflate', 'lz4', 'snappy', 'zstd'] as const;
export type EngineCodec = (typeof ENGINE_CODECS)[number];
/** Default codec for compressed int8 codes and its chunk size (nvCOMP's preferred ~64 KiB). */
export const DEFAULT_ENGINE_CODEC: EngineCodec = 'ans';
export const DEFAULT_ENGINE_CHUNK = 65536;
/** The engine's device buffers are 256-byte aligned slices (device.h Carver): decode areas round each linear up. */
export const ENGINE_ALIGN = 256;

export interface ModeSpec {
  /** the spec as written */
  text: string;
  default: StorageMode;
  overrides: { selector: string; mode: StorageMode }[];
  codec: EngineCodec;
  chunkSize: number;
}

export interface ModePlan {
  /** one mode per linear in module order (block l kind k at l*7+k, lm_head last) */
  modes: StorageMode[];
  schedule: Schedule;
  codec: EngineCodec;
  chunkSize: number;
}

function isMode(s: string): s is StorageMode {
  return (STORAGE_MODES as readonly string[]).includes(s);
}

const SELECTOR_KINDS: Record<string, readonly LinearKind[]> = {
  attn: ['q', 'k', 'v', 'o'],
  mlp: ['gate', 'up', 'down'],
  ...Object.fromEntries([...BLOCK_LINEARS, 'lm_head'].map((k) => [k, [k as LinearKind]])),
};

/**
 * Parse a storage-mode spec string.
 * @example
 * parseModeSpec('int8,lm_head=fp16').overrides // [{ selector: 'lm_head', mode: 'fp16' }]
 */
export function parseModeSpec(text: string): ModeSpec {
  const bad = (d: string) => err('E_ARG', msg.gpuModeSpec(text, d));
  const [main, ...opts] = text.trim().split(':');
  if (!main) throw bad('empty spec');
  let codec: EngineCodec = DEFAULT_ENGINE_CODEC;
  let chunkSize = DEFAULT_ENGINE_CHUNK;
  for (const o of opts) {
    const [k, v] = o.split('=');
    if (k === 'codec') {
      if (!(ENGINE_CODECS as readonly string[]).includes(v ?? '')) throw bad(`unknown codec '${v}' (${ENGINE_CODECS.join(', ')})`);
      codec = v as EngineCodec;
    } else if (k === 'chunk') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 4096 || n > 1 << 24 || n % ENGINE_ALIGN !== 0) throw bad(`chunk must be a multiple of ${ENGINE_ALIGN} in [4096, 16777216]`);
      chunkSize = n;
    } else throw bad(`unknown option '${o}' (codec=, chunk=)`);
  }
  const parts = main.split(',').map((s) => s.trim());
  const def = parts[0]!;
  if (!isMode(def)) throw bad(`unknown default mode '${def}'`);
  const overrides: ModeSpec['overrides'] = [];
  for (const p of parts.slice(1)) {
    const [sel, mode] = p.split('=');
    if (!sel || !mode) throw bad(`'${p}' is not selector=mode`);
    if (!isMode(mode)) throw bad(`unknown mode '${mode}'`);
    if (!(sel in SELECTOR_KINDS) && !/^layers\.\d+-\d+$/.test(sel)) throw bad(`unknown selector '${sel}' (q, k, v, o, gate, up, down, lm_head, attn, mlp, layers.A-B)`);
    overrides.push({ selector: sel, mode });
  }
  return { text, default: def, overrides, codec, chunkSize };
}

function selects(sel: string, kind: LinearKind, layer: number | null): boolean {
  const kinds = SELECTOR_KINDS[sel];
  if (kinds) return kinds.includes(kind);
  const m = /^layers\.(\d+)-(\d+)$/.exec(sel)!;
  return layer !== null && layer >= Number(m[1]) && layer <= Number(m[2]);
}

/**
 * One storage mode per linear (module order), honouring `patch.mode` from `patchMode(path)` when it names a mode.
 * Throws E_ARG (msg.gpuMixedSchedules) when two different compressed modes would share one engine.
 * @example
 * resolveModes(parseModeSpec('fp16'), cfg).schedule // 'none'
 */
export function resolveModes(spec: ModeSpec, c: LlamaConfig, patchMode?: (path: string) => string | undefined): ModePlan {
  const modes: StorageMode[] = [];
  for (const { path, kind, layer } of linearPaths(c)) {
    let m = spec.default;
    for (const o of spec.overrides) if (selects(o.selector, kind, layer)) m = o.mode;
    const pm = patchMode?.(path);
    if (pm !== undefined && isMode(pm)) m = pm;
    modes.push(m);
  }
  let schedule: Schedule = 'none';
  for (const m of modes)
    if (COMPRESSED_MODES.includes(m)) {
      if (schedule !== 'none' && schedule !== m) throw err('E_ARG', msg.gpuMixedSchedules(schedule, m));
      schedule = m as Schedule;
    }
  return { modes, schedule, codec: spec.codec, chunkSize: spec.chunkSize };
}

/** (out, in) of every linear in module order. */
export function linearShapes(c: LlamaConfig): [number, number][] {
  const qd = c.numHeads * c.headDim;
  const kvd = c.numKvHeads * c.headDim;
  const h = c.hiddenSize;
  const I = c.intermediateSize;
  const block: [number, number][] = [
    [qd, h],
    [kvd, h],
    [kvd, h],
    [h, qd],
    [I, h],
    [I, h],
    [h, I],
  ];
  const out: [number, number][] = [];
  for (let l = 0; l < c.numLayers; l++) out.push(...block);
  out.push([c.vocabSize, h]);
  return out;
}

const align = (n: number) => Math.ceil(n / ENGINE_ALIGN) * ENGINE_ALIGN;

export interface ByteAccount {
  /** resident weight bytes by storage: fp16, int8 codes, compressed packed chunks */
  weights_fp16: number;
  weights_int8: number;
  weights_compressed: number;
  /** GGML blocks of gguf linears (codes or nibbles + their fp16 block scales) */
  weights_gguf: number;
  /** packed 4-bit codes of int4 / nf4 patched linears held as such (storage mode int8; their scales count in `scales`) */
  weights_q4: number;
  /** fp32 per-row scales of int8 and compressed linears (and group scales + zero points of 4-bit linears) */
  scales: number;
  /** fp16 embedding table (also lm_head when tied and fp16) */
  embed: number;
  norms: number;
  kv_cache: number;
  /** decode area of the schedule: one pooled layer (decode-per-forward), two (fused), every layer (cached) */
  decode: number;
  /** everything that holds weights: weights_* + scales + embed + norms (+ the cached schedule's int8 cache) */
  weightTotal: number;
  /** bytes the decode step must read from weights per token (resident weight bytes, incl. lm_head) */
  bytesPerToken: number;
}

export interface AccountOptions {
  maxSeq: number;
  kvDtype: 'f16' | 'f32';
  /** packed bytes of each compressed linear (module order); required for compressed modes */
  compressedBytes?: readonly number[];
  /** lm_head reads the embedding table (tied, fp16, unpatched) */
  sharedHead?: boolean;
  /** sequence slots for batched decode (one KV cache each), default 1 */
  maxBatch?: number;
  /** GGML block type of each gguf linear (module order); required for gguf modes */
  blockTypes?: readonly (GgufBlockType | null)[];
  /** the embedding table is held as q8_0 blocks (and lm_head shares it when sharedHead) */
  embedBlocks?: 'q8_0';
  /** linears (module index, storage mode int8) held as 4-bit codes + group scales (cuda-patches.ts quant4) */
  quant4?: ReadonlyMap<number, { codeBytes: number; scaleBytes: number }>;
}

/** GGML block types the gguf storage mode keeps as they are. */
export type GgufBlockType = GgmlBlockType;
/** Bytes of one block (DTYPES[t].blockElems weights: 32, or 256 for the k-quants). */
export const GGUF_BLOCK_BYTES: Readonly<Record<GgufBlockType, number>> = {
  q4_1: DTYPES.q4_1.blockBytes,
  q8_0: DTYPES.q8_0.blockBytes,
  q5_0: DTYPES.q5_0.blockBytes,
  q4_k: DTYPES.q4_k.blockBytes,
  q6_k: DTYPES.q6_k.blockBytes,
};

/**
 * The bytes an engine with this plan must hold, computed from the config alone (plus packed sizes). The GPU check
 * compares it with engine.ledger() byte for byte.
 * @example
 * const a = accountBytes(cfg, plan, { maxSeq: 2048, kvDtype: 'f16', sharedHead: true });
 * a.weights_fp16 // 2 * (weights of all fp16 linears)
 */
export function accountBytes(c: LlamaConfig, plan: ModePlan, o: AccountOptions): ByteAccount {
  const shapes = linearShapes(c);
  const a: ByteAccount = {
    weights_fp16: 0,
    weights_int8: 0,
    weights_compressed: 0,
    weights_gguf: 0,
    weights_q4: 0,
    scales: 0,
    embed: o.embedBlocks ? (c.vocabSize * c.hiddenSize / DTYPES[o.embedBlocks].blockElems) * GGUF_BLOCK_BYTES[o.embedBlocks] : 2 * c.vocabSize * c.hiddenSize,
    // per layer: input + post norms (+ pre/post-FFN with sandwich norms) of hidden, q/k norms of head_dim; final norm
    norms: 4 * (c.hiddenSize * ((featuresOf(c).sandwichNorms ? 4 : 2) * c.numLayers + 1) + (featuresOf(c).qkNorm ? 2 * c.headDim * c.numLayers : 0)),
    kv_cache: (o.maxBatch ?? 1) * 2 * c.numLayers * c.numKvHeads * o.maxSeq * c.headDim * (o.kvDtype === 'f16' ? 2 : 4),
    decode: 0,
    weightTotal: 0,
    bytesPerToken: 0,
  };
  const groups = new Array<number>(c.numLayers + 1).fill(0);
  plan.modes.forEach((m, i) => {
    const [out, inp] = shapes[i]!;
    const n = out * inp;
    const isHead = i === shapes.length - 1;
    if (m === 'fp16') {
      if (!(isHead && o.sharedHead)) a.weights_fp16 += 2 * n;
      a.bytesPerToken += 2 * n;
      return;
    }
    if (m === 'gguf') {
      const t = isHead && o.sharedHead ? o.embedBlocks : o.blockTypes?.[i];
      if (!t) throw err('E_ARG', msg.badArg('blockTypes', `missing for linear ${i} (mode gguf)`));
      const bytes = (n / DTYPES[t].blockElems) * GGUF_BLOCK_BYTES[t];
      if (!(isHead && o.sharedHead)) a.weights_gguf += bytes;
      a.bytesPerToken += bytes;
      return;
    }
    const q4 = m === 'int8' ? o.quant4?.get(i) : undefined;
    if (q4) {
      a.weights_q4 += q4.codeBytes;
      a.scales += q4.scaleBytes;
      a.bytesPerToken += q4.codeBytes + q4.scaleBytes;
      return;
    }
    a.scales += 4 * out;
    a.bytesPerToken += 4 * out;
    if (m === 'int8') {
      a.weights_int8 += n;
      a.bytesPerToken += n;
      return;
    }
    const cb = o.compressedBytes?.[i];
    if (cb === undefined) throw err('E_ARG', msg.badArg('compressedBytes', `missing for linear ${i} (mode ${m})`));
    a.weights_compressed += cb;
    a.bytesPerToken += cb;
    groups[Math.min(Math.floor(i / 7), c.numLayers)] += align(n);
  });
  const maxGroup = Math.max(0, ...groups);
  if (plan.schedule === 'decode-per-forward') a.decode = maxGroup;
  if (plan.schedule === 'fused') a.decode = 2 * maxGroup;
  if (plan.schedule === 'cached') a.decode = groups.reduce((x, y) => x + y, 0);
  a.weightTotal =
    a.weights_fp16 + a.weights_int8 + a.weights_compressed + a.weights_gguf + a.weights_q4 + a.scales + a.embed + a.norms + (plan.schedule === 'cached' ? a.decode : 0);
  return a;
}
