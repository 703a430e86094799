/**
 * Compress a whole checkpoint into a .cllm (src/container/cllm.ts), verify one, unpack one to a Hugging Face folder,
 * and round-trip a model in memory. `openAnyCheckpoint()` opens a .cllm or any format model/ reads (no import side
 * effect: `load()` in src/load.ts and the CLI call it explicitly).
 *
 * Per tensor (canonical names, PyTorch shapes, GGUF's q/k row permutation already undone by the checkpoint):
 *
 *   quant 'none'          stored as the source stores it (f32, bf16, f16, or GGML blocks such as q4_1): bit-exact
 *   quant 'f32'|'f16'|'bf16'   every tensor cast to that dtype (round to nearest even)
 *   quant <spec>          2-D tensors (linears, embeddings, lm_head) quantized with quantizeFast (native when built,
 *                         the identical TS reference otherwise); 1-D tensors (norms, biases) kept as the source stores them
 *   -> transform (default 'auto': byteplane for f16/bf16/f32 storage, none otherwise; an explicit transform applies
 *      where the storage allows it, auto elsewhere) -> chunks (default 64 KiB) -> codec -> XXH64 per chunk.
 *
 * Ratios: `ratio` = stored (raw) bytes / compressed chunk bytes (the lossless codec's gain on what is stored);
 * `ratioVsFp16` = 2 bytes x parameters / file bytes (the whole file, manifest included, against an fp16 copy);
 * `entropyBoundRatio` = raw bytes / Σ order-0 bound of every section/plane (codec/entropy.ts).
 *
 * @example
 * const r = compressModel('default', 'smol.cllm', { quant: 'int8:per-channel', codec: 'zstd' });
 * r.ratioVsFp16; // ~2.5
 * const m = await LlamaModel.load(openAnyCheckpoint('smol.cllm'));
 */
import fs from 'node:fs';
import path from 'node:path';
import { err, msg } from '../messages.js';
import { openCheckpoint, resolveModelPath, type Checkpoint } from '../model/checkpoint.js';
import { configFromHF } from '../model/config.js';
import { expectedTensors } from '../model/names.js';
import { hfConfigJson } from '../model/synthetic.js';
import { gguf2TokenizerJson, tokenizerFromHFJson, type TextTokenizer } from '../model/tokenizer.js';
import { openGGUF } from '../formats/gguf.js';
import { writeSafetensors } from '../formats/safetensors.js';
import {
  CLLM_CODECS,
  cllmFromBuffer,
  concatParts,
  elementSize,
  encodeCllmParts,
  openCllm,
  parseStorage,
  quantFromBytes,
  quantToBytes,
  storageSections,
  CllmFile,
  type CllmCodec,
  type CllmEncoded,
  type CllmTensorInput,
  type CllmTensorStats,
  type CllmTokenizer,
  type CllmWriteOptions,
  writeCllm,
  writeCllmAsync,
  CLLM_LIMITS,
  DEFAULT_CHUNK_SIZE,
} from './cllm.js';
import { assertFinite, castChecked, type AllowOverflow } from '../codec/cast.js';
import { writeFileAtomic } from '../formats/binary.js';
import { ioError, readRegularFile } from '../util/files.js';
import { checkOutDir } from '../util/temp-files.js';
import { applyTransform, checkTransform, isTransform, TRANSFORMS, type Transform } from '../codec/transforms.js';
import { entropyReport, mergePlanes, type PlaneEntropy } from '../codec/entropy.js';
import { CPU_CODEC_LEVELS } from '../codec/cpu.js';
import { quantizeFast } from '../quant/native.js';
import { formatSpec, parseSpec } from '../quant/spec.js';
import type { TensorInfo, TensorSource } from '../formats/tensor.js';

/** Cast dtypes accepted by `quant`. */
export const CAST_DTYPES = ['f32', 'f16', 'bf16'] as const;

export interface CompressModelOptions {
  /** 'none' (keep source storage), 'f32' | 'f16' | 'bf16' (cast), or a quant spec string such as 'int8:per-channel'. */
  readonly quant: string;
  readonly codec: CllmCodec;
  readonly level?: number;
  /** bytes per chunk (default 65536) */
  readonly chunkSize?: number;
  /** 'auto' (default) or a transform name */
  readonly transform?: Transform | 'auto';
  /** what to do with values a cast cannot hold (default: refuse with E_NUMERIC; see codec/cast.ts) */
  readonly allowOverflow?: AllowOverflow;
  /** quantizer threads (native) */
  readonly threads?: number;
  /** called after each tensor: (done, total, stats) */
  readonly onProgress?: (done: number, total: number, s: CllmTensorStats) => void;
}

/** One row of a compression report. */
export interface TensorReport {
  name: string;
  shape: number[];
  storage: string;
  transform: Transform;
  codec: CllmCodec;
  chunks: number;
  rawBytes: number;
  compressedBytes: number;
  ratio: number;
  entropyBits: number;
  entropyBoundBytes: number;
  entropyBoundRatio: number;
  planes: PlaneEntropy[];
}

/** The size totals of a .cllm that compress and verify both report (one definition of the ratios' names). */
export interface CllmTotals {
  tensors: number;
  params: number;
  rawBytes: number;
  compressedBytes: number;
  fileBytes: number;
  /** rawBytes / compressedBytes */
  ratio: number;
  ratioVsFp16: number;
  /** Σ order-0 entropy bound of every tensor's stream (per section / plane), and raw / that */
  entropyBoundBytes: number;
  entropyBoundRatio: number;
}

/** Totals of a compression (compress and roundtrip print this). */
export interface CompressReport extends CllmTotals {
  model: string;
  out: string | null;
  quant: string;
  codec: CllmCodec;
  level: number | null;
  chunkSize: number;
  /** order-0 entropy per plane / section kind, over all tensors */
  planes: PlaneEntropy[];
  compressS: number;
  compressMBps: number;
  perTensor: TensorReport[];
}

/**
 * Parse the `quant` option: 'none', a cast dtype, or a canonical quant spec. Throws E_ARG compressBadQuant.
 * @example
 * parseQuantChoice('int8'); // { kind: 'quant', spec: 'int8:per-channel' }
 */
export function parseQuantChoice(q: string): { kind: 'none' } | { kind: 'cast'; dtype: (typeof CAST_DTYPES)[number] } | { kind: 'quant'; spec: string } {
  if (q === 'none') return { kind: 'none' };
  if ((CAST_DTYPES as readonly string[]).includes(q)) return { kind: 'cast', dtype: q as (typeof CAST_DTYPES)[number] };
  if (!/^[a-z0-9]+(:|$)/.test(q) || !['int8', 'int4', 'nf4', 'fp8'].includes(q.split(':')[0]!)) throw err('E_ARG', msg.compressBadQuant(q));
  return { kind: 'quant', spec: formatSpec(parseSpec(q)) }; // parseSpec raises the quant lab's exact E_QUANT messages
}

function chooseTransform(want: Transform | 'auto', storage: string): Transform {
  const s = parseStorage(storage)!;
  const es = elementSize(s);
  const dt = s.kind === 'dtype' ? s.dtype : 'quantized';
  const auto: Transform = s.kind === 'dtype' && (dt === 'f16' || dt === 'bf16' || dt === 'f32') ? 'byteplane' : 'none';
  if (want === 'auto') return auto;
  try {
    checkTransform(want, es * 2, es, dt);
    return want;
  } catch {
    return auto;
  }
}

/**
 * The tensors of a checkpoint as .cllm inputs (a lazy generator: one tensor's data in memory at a time).
 * @example
 * for (const t of planTensors(ck, { quant: 'int8:per-channel', codec: 'zstd' })) console.log(t.name, t.storage);
 */
export function* planTensors(ck: Checkpoint, o: CompressModelOptions): Generator<CllmTensorInput> {
  const q = parseQuantChoice(o.quant);
  const transform = o.transform ?? 'auto';
  if (transform !== 'auto' && !isTransform(transform)) throw err('E_ARG', msg.transformMisuse(String(transform), `is not a transform (known: ${TRANSFORMS.join(', ')})`));
  if (!(CLLM_CODECS as readonly string[]).includes(o.codec)) throw err('E_ARG', msg.unknownCodec(String(o.codec), CLLM_CODECS));
  for (const info of ck.weights.list()) {
    const { name, shape } = info;
    let storage: string;
    let data: Uint8Array;
    if (q.kind === 'quant' && shape.length === 2) {
      const w = ck.weights.readF32(name);
      assertFinite(ck.file, name, w); // the quantizer's own message has no tensor name
      const qt = quantizeFast(w, shape, q.spec, o.threads ? { threads: o.threads } : {});
      storage = q.spec;
      data = quantToBytes(qt);
    } else if (q.kind === 'cast') {
      ({ storage, data } = castChecked(ck.file, name, q.dtype, ck.weights.readF32(name), o.allowOverflow));
    } else {
      storage = info.dtype;
      data = ck.weights.readRaw(name);
    }
    yield { name, shape, storage, data, transform: chooseTransform(transform, storage), codec: o.codec, level: o.level, chunkSize: o.chunkSize };
  }
}

/**
 * The tokenizer of a checkpoint as tokenizer.json + tokenizer_config.json objects (null when it has none).
 * @example
 * const tok = checkpointTokenizer(openCheckpoint('default')); Object.keys(tok!.json);
 */
export function checkpointTokenizer(ck: Checkpoint): CllmTokenizer | null {
  if (ck.format === 'gguf') {
    const g = openGGUF(ck.file);
    try {
      if (!g.metadata.has('tokenizer.ggml.tokens')) return null;
      const { json, bosId, eosId, addBos } = gguf2TokenizerJson(g.metadata, ck.file);
      const tokens = g.metadata.get('tokenizer.ggml.tokens') as string[];
      const config: Record<string, unknown> = { add_bos_token: addBos, clean_up_tokenization_spaces: false };
      if (bosId !== null) config.bos_token = tokens[bosId];
      if (eosId !== null) config.eos_token = tokens[eosId];
      return { json, config };
    } finally {
      g.close();
    }
  }
  if (ck.format === 'hf') {
    const tj = path.join(ck.file, 'tokenizer.json');
    if (!fs.existsSync(tj)) return null;
    const tc = path.join(ck.file, 'tokenizer_config.json');
    return { json: JSON.parse(readRegularFile(tj).toString('utf8')), config: fs.existsSync(tc) ? JSON.parse(readRegularFile(tc).toString('utf8')) : {} };
  }
  const f = openCllm(ck.file);
  try {
    return f.manifest.tokenizer;
  } finally {
    f.close();
  }
}

function paramsOf(ck: Checkpoint): number {
  return ck.weights.list().reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
}

function tensorRow(s: CllmTensorStats): TensorReport {
  return {
    name: s.name,
    shape: [...s.shape],
    storage: s.storage,
    transform: s.transform,
    codec: s.codec,
    chunks: s.chunks,
    rawBytes: s.rawBytes,
    compressedBytes: s.compressedBytes,
    ratio: s.rawBytes / Math.max(1, s.compressedBytes),
    entropyBits: s.rawBytes ? (8 * s.entropy.boundBytes) / s.rawBytes : 0,
    entropyBoundBytes: s.entropy.boundBytes,
    entropyBoundRatio: s.rawBytes / Math.max(1e-9, s.entropy.boundBytes),
    planes: s.entropy.planes,
  };
}

function report(model: string, out: string | null, o: CompressModelOptions, enc: Omit<CllmEncoded, 'parts'>, params: number, seconds: number): CompressReport {
  const raw = enc.stats.reduce((s, t) => s + t.rawBytes, 0);
  const comp = enc.stats.reduce((s, t) => s + t.compressedBytes, 0);
  const bound = enc.stats.reduce((s, t) => s + t.entropy.boundBytes, 0);
  const lv = CPU_CODEC_LEVELS[o.codec];
  return {
    model,
    out,
    quant: o.quant === 'none' || (CAST_DTYPES as readonly string[]).includes(o.quant) ? o.quant : formatSpec(parseSpec(o.quant)),
    codec: o.codec,
    level: lv === null ? null : (o.level ?? lv.default),
    chunkSize: enc.manifest.tensors[0]?.chunk_size ?? o.chunkSize ?? 65536,
    tensors: enc.stats.length,
    params,
    rawBytes: raw,
    compressedBytes: comp,
    fileBytes: enc.bytes,
    ratio: raw / Math.max(1, comp),
    ratioVsFp16: (2 * params) / enc.bytes,
    entropyBoundBytes: bound,
    entropyBoundRatio: raw / Math.max(1e-9, bound),
    planes: mergePlanes(enc.stats.map((s) => s.entropy.planes)),
    compressS: seconds,
    compressMBps: raw / 1e6 / Math.max(1e-9, seconds),
    perTensor: enc.stats.map(tensorRow),
  };
}

/** The .cllm inputs and write options of a checkpoint (tensors are produced lazily, `tee` keeps their raw bytes). */
function checkpointInputs(ck: Checkpoint, o: CompressModelOptions, tee?: Map<string, Uint8Array>): { inputs: Iterable<CllmTensorInput>; opts: CllmWriteOptions } {
  const total = ck.weights.list().length;
  let done = 0;
  const inputs = planTensors(ck, o);
  const teed = tee
    ? (function* () {
        for (const t of inputs) {
          tee.set(t.name, t.data);
          yield t;
        }
      })()
    : inputs;
  return {
    inputs: teed,
    opts: {
      config: hfConfigJson(ck.config),
      tokenizer: checkpointTokenizer(ck),
      metadata: { 'source.file': path.basename(ck.file), 'source.format': ck.format, quant: o.quant },
      onTensor: (s) => o.onProgress?.(++done, total, s),
    },
  };
}

const withCheckpoint = <T>(model: string | Checkpoint, f: (ck: Checkpoint) => T): T => {
  const ck = typeof model === 'string' ? openAnyCheckpoint(model) : model;
  try {
    return f(ck);
  } finally {
    if (typeof model === 'string') ck.close();
  }
};

/** Bytes one chunk-table entry takes in the manifest at least: `[o,c,r,"<16 hex>"],`. */
const MIN_CHUNK_ENTRY_BYTES = 27;

/**
 * Check before any work that the chunk size is valid and the chunk table it implies fits the manifest limit
 * (CLLM_LIMITS.manifestBytes): E_ARG naming the chunk size, the chunk count and the limit.
 * @example
 * checkChunkPlan(openCheckpoint('default'), { quant: 'none', codec: 'zstd', chunkSize: 1 }); // throws
 */
export function checkChunkPlan(ck: Checkpoint, o: CompressModelOptions): void {
  const cs = o.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(cs) || cs < 1 || cs > CLLM_LIMITS.chunkSize) throw err('E_ARG', msg.badArg('chunk size', `${cs} is not an integer in [1, ${CLLM_LIMITS.chunkSize}]`));
  const q = parseQuantChoice(o.quant);
  const bitsOf = (t: TensorInfo): number => {
    if (q.kind === 'cast') return q.dtype === 'f32' ? 32 : 16;
    if (q.kind === 'quant' && t.shape.length === 2) return q.spec.startsWith('int4') || q.spec.startsWith('nf4') ? 4 : 8;
    const el = t.shape.reduce((a, b) => a * b, 1);
    return el ? (8 * t.byteLength) / el : 0;
  };
  let chunks = 0;
  for (const t of ck.weights.list()) chunks += Math.ceil((t.shape.reduce((a, b) => a * b, 1) * bitsOf(t)) / 8 / cs);
  if (chunks * MIN_CHUNK_ENTRY_BYTES > CLLM_LIMITS.manifestBytes)
    throw err('E_ARG', msg.badArg('chunk size', `${cs} bytes makes ${chunks} chunks, whose table (at least ${chunks * MIN_CHUNK_ENTRY_BYTES} bytes) exceeds the manifest limit of ${CLLM_LIMITS.manifestBytes} bytes; use a larger chunk size`));
}

/**
 * {@link compressModel} that returns to the event loop between tensors (so SIGINT/SIGTERM/SIGHUP remove the temp
 * files promptly): the CLI's compress.
 * @example
 * const r = await compressModelAsync('default', 'smol.cllm', { quant: 'none', codec: 'zstd' });
 */
export async function compressModelAsync(model: string, out: string, o: CompressModelOptions): Promise<CompressReport> {
  const ck = openCheckpoint(model);
  try {
    checkChunkPlan(ck, o);
    const t0 = performance.now();
    const { inputs, opts } = checkpointInputs(ck, o);
    const enc = await writeCllmAsync(out, inputs, opts);
    return report(ck.file, out, o, enc, paramsOf(ck), (performance.now() - t0) / 1000);
  } finally {
    ck.close();
  }
}

/**
 * Compress a checkpoint ('default', .gguf, HF folder, .cllm) to a .cllm file, written atomically.
 * @example
 * compressModel('default', 'smol.cllm', { quant: 'none', codec: 'zstd' }).ratio;
 */
export function compressModel(model: string | Checkpoint, out: string, o: CompressModelOptions): CompressReport {
  return withCheckpoint(model, (ck) => {
    checkChunkPlan(ck, o);
    const t0 = performance.now();
    const { inputs, opts } = checkpointInputs(ck, o);
    const enc = writeCllm(out, inputs, opts); // streamed; temp file + fsync + rename: a failure leaves any old `out` intact
    return report(ck.file, out, o, enc, paramsOf(ck), (performance.now() - t0) / 1000);
  });
}

/** Result of {@link verifyCllm}. */
export interface VerifyReport extends CllmTotals {
  file: string;
  ok: boolean;
  /** the first problem (one line) when not ok */
  error: string | null;
  errorCode: string | null;
  chunks: number;
  decompressS: number;
  decompressMBps: number;
}

/**
 * Open a .cllm, check every checksum and decode every tensor. Never throws for a bad file: `ok` is false and `error`
 * names the problem (file, tensor, chunk).
 * @example
 * verifyCllm('smol.cllm').ok; // true
 */
export function verifyCllm(file: string, onProgress?: (done: number, total: number) => void): VerifyReport {
  const r: VerifyReport = {
    file, ok: false, error: null, errorCode: null, tensors: 0, chunks: 0, params: 0, rawBytes: 0, compressedBytes: 0,
    fileBytes: 0, ratio: 0, ratioVsFp16: 0, entropyBoundBytes: 0, entropyBoundRatio: 0, decompressS: 0, decompressMBps: 0,
  };
  let f: CllmFile | null = null;
  try {
    f = openCllm(file);
    r.fileBytes = f.size;
    r.tensors = f.tensors().length;
    const all = f.tensors();
    let seconds = 0;
    let done = 0;
    for (const t of all) {
      const t0 = performance.now();
      const raw = f.readStored(t.name); // every chunk checksum, exact sizes, the raw checksum
      const s = t.parsedStorage;
      if (s.kind === 'quant') quantFromBytes(s.spec, [t.shape[0]!, t.shape[1]!], raw); // size asserts
      seconds += (performance.now() - t0) / 1000;
      const stream = applyTransform(t.transform, raw, elementSize(s), s.kind === 'dtype' ? s.dtype : 'quantized');
      r.entropyBoundBytes += entropyReport(stream, storageSections(s, t.transform, t.shape, stream.length)).boundBytes;
      r.chunks += t.chunks.length;
      r.rawBytes += t.raw_size;
      r.compressedBytes += t.dataBytes;
      onProgress?.(++done, all.length);
    }
    r.decompressS = seconds;
    r.entropyBoundRatio = r.rawBytes / Math.max(1e-9, r.entropyBoundBytes);
    r.params = f.tensors().reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    r.ratio = r.rawBytes / Math.max(1, r.compressedBytes);
    r.ratioVsFp16 = (2 * r.params) / Math.max(1, r.fileBytes);
    r.decompressMBps = r.rawBytes / 1e6 / Math.max(1e-9, r.decompressS);
    r.ok = true;
  } catch (e) {
    r.error = (e as Error).message;
    r.errorCode = (e as { code?: string }).code ?? null;
  } finally {
    f?.close();
  }
  return r;
}

/**
 * Unpack a .cllm (or any checkpoint) to a Hugging Face folder: config.json, model.safetensors (every tensor as f32,
 * or f16), tokenizer.json + tokenizer_config.json when the container has a tokenizer. Quantized tensors are written
 * dequantized. Python's `safetensors` loads the result.
 * @example
 * decompressToHF('smol.cllm', 'out/smol', 'f32');
 */
export function decompressToHF(model: string, outDir: string, dtype: 'f32' | 'f16' = 'f32', allowOverflow?: AllowOverflow): { dir: string; tensors: number; bytes: number } {
  if (dtype !== 'f32' && dtype !== 'f16') throw err('E_ARG', msg.badArg('--dtype', `'${String(dtype)}' is not f32 or f16`));
  checkOutDir(outDir);
  return withCheckpoint(model, (ck) => {
    const tensors = ck.weights.list().map((t) => {
      const c = castChecked(ck.file, t.name, dtype, ck.weights.readF32(t.name), allowOverflow);
      return { name: t.name, dtype: c.storage, shape: t.shape, data: c.data };
    });
    try {
      fs.mkdirSync(outDir, { recursive: true });
    } catch (e) {
      throw ioError(outDir, e);
    }
    const cfg = { ...hfConfigJson(ck.config), torch_dtype: dtype === 'f32' ? 'float32' : 'float16' };
    writeFileAtomic(path.join(outDir, 'config.json'), [Buffer.from(JSON.stringify(cfg, null, 1))]);
    writeSafetensors(path.join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
    const tok = checkpointTokenizer(ck);
    if (tok) {
      writeFileAtomic(path.join(outDir, 'tokenizer.json'), [Buffer.from(JSON.stringify(tok.json))]);
      writeFileAtomic(path.join(outDir, 'tokenizer_config.json'), [Buffer.from(JSON.stringify(tok.config, null, 1))]);
    }
    return { dir: outDir, tensors: tensors.length, bytes: tensors.reduce((s, t) => s + t.data.length, 0) };
  });
}

/** Result of {@link roundtripModel}. */
export interface RoundtripReport extends CompressReport {
  /** every tensor's stored bytes (codes, scales, zero points; or source values) came back identical */
  bitExact: boolean;
  /** tensors that did not (empty when bitExact) */
  mismatches: { name: string; firstByte: number }[];
  decompressS: number;
  decompressMBps: number;
}

/**
 * Compress a checkpoint in memory, read it back through the .cllm reader (every checksum checked) and compare each
 * tensor's stored bytes with what was written.
 * @example
 * roundtripModel('default', { quant: 'int8:per-channel', codec: 'zstd' }).bitExact; // true
 */
export function roundtripModel(model: string | Checkpoint, o: CompressModelOptions): RoundtripReport {
  return withCheckpoint(model, (ck) => {
    checkChunkPlan(ck, o);
    const originals = new Map<string, Uint8Array>();
    const t0 = performance.now();
    const { inputs, opts } = checkpointInputs(ck, o, originals);
    const enc = encodeCllmParts(inputs, opts);
    const rep = report(ck.file, null, o, enc, paramsOf(ck), (performance.now() - t0) / 1000);
    const f = cllmFromBuffer(concatParts(enc.parts), `${path.basename(ck.file)}.cllm`);
    const mismatches: { name: string; firstByte: number }[] = [];
    const t1 = performance.now();
    try {
      for (const t of f.tensors()) {
        const back = f.readStored(t.name);
        const want = originals.get(t.name)!;
        if (back.length !== want.length || !Buffer.from(back.buffer, back.byteOffset, back.length).equals(Buffer.from(want.buffer, want.byteOffset, want.length))) {
          let i = 0;
          while (i < Math.min(back.length, want.length) && back[i] === want[i]) i++;
          mismatches.push({ name: t.name, firstByte: i });
        }
      }
    } finally {
      f.close();
    }
    const ds = (performance.now() - t1) / 1000;
    return { ...rep, bitExact: mismatches.length === 0 && originals.size === f.tensors().length, mismatches, decompressS: ds, decompressMBps: rep.rawBytes / 1e6 / Math.max(1e-9, ds) };
  });
}

// ---- a .cllm as a Checkpoint

/** The decoded tensors of a .cllm under their (canonical) names: quantized ones dequantized to f32. */
class CllmTensorSource implements TensorSource {
  readonly file: string;
  constructor(readonly cllm: CllmFile) {
    this.file = cllm.file;
  }
  list(): TensorInfo[] {
    return this.cllm.tensors().map((t) => this.cllm.info(t.name));
  }
  has(name: string): boolean {
    return this.cllm.has(name);
  }
  info(name: string): TensorInfo {
    return this.cllm.info(name);
  }
  readRaw(name: string): Uint8Array {
    if (this.cllm.entry(name).parsedStorage.kind === 'quant') {
      const v = this.cllm.readF32(name);
      return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    }
    return this.cllm.readStored(name);
  }
  readF32(name: string): Float32Array {
    return this.cllm.readF32(name);
  }
  close(): void {
    this.cllm.close();
  }
}

/**
 * Open a .cllm as a model checkpoint (config and tokenizer from the manifest; tokenizer built on first use).
 * @example
 * const ck = openCllmCheckpoint('smol.cllm'); ck.config.numLayers; ck.close();
 */
export function openCllmCheckpoint(file: string): Checkpoint {
  const f = openCllm(file);
  try {
    const m = f.manifest;
    if (m.config === null) throw err('E_CONFIG', msg.cllmNoConfig(file));
    const config = configFromHF(m.config, `${file} (manifest config)`);
    for (const [name, shape] of expectedTensors(config)) {
      if (!f.has(name)) throw err('E_SHAPE', msg.missingTensor(file, name));
      const got = f.entry(name).shape;
      if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) throw err('E_SHAPE', msg.shapeMismatch(file, name, shape, got));
    }
    const weights = new CllmTensorSource(f);
    let tok: TextTokenizer | null | undefined;
    return {
      file,
      format: 'cllm',
      config,
      get tokenizer(): TextTokenizer | null {
        if (tok === undefined) tok = m.tokenizer ? tokenizerFromHFJson(m.tokenizer.json, `${file} (manifest tokenizer)`, m.tokenizer.config) : null;
        return tok;
      },
      weights,
      metadata: { ...m.metadata, 'cllm.created_by': m.created_by },
      close: () => f.close(),
    };
  } catch (e) {
    f.close();
    throw e;
  }
}

/**
 * Is `p` a .cllm (by extension, or by magic for a regular file)? Never throws.
 * @example
 * isCllmPath('model.cllm'); // true
 */
export function isCllmPath(p: string): boolean {
  if (p.endsWith('.cllm')) return true;
  try {
    const st = fs.statSync(p);
    if (!st.isFile() || st.size < 4) return false;
    const fd = fs.openSync(p, 'r');
    try {
      const b = Buffer.alloc(4);
      fs.readSync(fd, b, 0, 4, 0);
      return b.toString('latin1') === 'CLLM';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * Open any checkpoint: a .cllm container (by extension or magic), else a Hugging Face folder or GGUF file
 * (model/checkpoint.ts; 'default' resolved). The one explicit opener the CLI and `load()` use.
 * @example
 * openAnyCheckpoint('smol.cllm').format; // 'cllm'
 * openAnyCheckpoint('default').format;   // 'gguf'
 */
export function openAnyCheckpoint(p: string): Checkpoint {
  const file = resolveModelPath(p);
  return isCllmPath(file) ? openCllmCheckpoint(file) : openCheckpoint(file);
}

