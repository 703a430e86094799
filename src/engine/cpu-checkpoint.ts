/**
 * The native CPU engine loaded straight from a checkpoint file, tensor by tensor, with no float32 model in between
 * (createCpuEngine in cpu-native.ts copies a LlamaModel instead). Each tensor is read in its stored form and handed to
 * the engine, which keeps it as stored (bf16 / f16 / f32 / q4_1 / q8_0 / q5_0 / q4_k / q6_k; cpu/weights.cc MakeWeightStored; from
 * safetensors the engine reads the bytes from the file itself, straight into its storage) or, for a patched linear,
 * as int8 codes quantized here on the way in from blocks of rows read from the file. Other stored types (q2_k, q3_k,
 * q5_k, q4_0, q5_1) and other patch formats (nf4, fp8, per-input-channel) go through one float32 copy of that one tensor.
 *
 * Memory: before anything is allocated, the resident bytes (resident.ts) plus one tensor in flight are compared with
 * the memory available (E_MEMORY with needed vs available). Patched tensors are read and quantized in blocks of
 * rows (reused buffers); their codes are built in one reused buffer of the tensor's code size, then copied once. An error part-way
 * (bad shard, interrupted read) disposes the engine, freeing everything it took.
 *
 * @example
 * const e = loadCpuEngine('data/shapes/llama3.2-1b', { patch: { select: 'all', quant: 'int8:per-channel' } });
 * const r = await generateNative(e, 'Hello', { maxTokens: 8 });
 * e.dispose();
 */
import fs from 'node:fs';
import { err, msg } from '../messages.js';
import { quant4Form } from './quant4-form.js';
import { callNative } from '../native/addon.js';
import { openCheckpoint, type Checkpoint } from '../model/checkpoint.js';
import { featuresOf } from '../model/config.js';
import { linearPaths, weightTensorName, type LinearKind } from '../model/names.js';
import { decodeStoredF32 } from '../formats/file-source.js';
import { DTYPES, weightTypeId, type StorageDType } from '../formats/dtypes.js';
import { SafetensorsFile } from '../formats/safetensors.js';
import { resolveSelection } from '../model/select.js';
import { groupLayout, toSpec, type QuantSpec } from '../quant/spec.js';
import { dequantize, quantize, type QuantizedTensor } from '../quant/quantize.js';
import { nativeQuantAvailable, nativeSupports, quantizeNative } from '../quant/native.js';
import {
  BIAS_SLOT,
  GLOBAL_SLOT,
  LAYER_SLOT,
  checkTokens,
  cpuEngineAddon,
  cpuEngineConfig,
  int8Form,
  type CpuEngineInfo,
  type NativeCache,
  type NativeSession,
  type WeightStorage,
} from './cpu-native.js';
import { checkNativeFits, keepsCodes, keepsNf4Codes, KEPT_AS_STORED, residentBytes, type LoadPatch, type ResidentReport } from '../model/resident.js';

export interface CheckpointLoadOptions {
  /** 'auto' (default): keep tensors as stored (or as patch codes); 'f32': widen everything to float32 */
  storage?: WeightStorage;
  /** quantize these linears on the way in (int8 / int4 kept as codes; other formats as dequantized float32) */
  patch?: LoadPatch | null;
  /** after each tensor */
  onProgress?: (p: { tensors: number; totalTensors: number; bytes: number; totalBytes: number }) => void;
  /** skip the memory check (tests of the check itself use CODECLLM_MEMORY_LIMIT instead) */
  noMemoryCheck?: boolean;
}

export interface CheckpointEngine extends NativeSession {
  readonly checkpoint: Checkpoint;
  /** what resident.ts predicted before loading */
  readonly predicted: ResidentReport;
  /** paths of the linears patched on the way in */
  readonly patched: readonly string[];
  /** load wall time and bytes read from the checkpoint */
  readonly load: { seconds: number; bytesRead: number };
}

/** Rows per quantization block: about 4 Mi weights (16 MiB of float32, in one reused buffer). */
const BLOCK_WEIGHTS = 1 << 22;

/** Where a safetensors tensor's bytes lie, to read them into a reused buffer; null for other containers. */
function locator(ck: Checkpoint): ((name: string) => { file: string; offset: number; bytes: number }) | null {
  const w = ck.weights as unknown;
  const shards: SafetensorsFile[] = w instanceof SafetensorsFile ? [w] : Array.isArray((w as { shards?: unknown }).shards) ? ((w as { shards: SafetensorsFile[] }).shards) : [];
  if (shards.length === 0 || !shards.every((s) => s instanceof SafetensorsFile)) return null;
  const byName = new Map<string, SafetensorsFile>();
  for (const s of shards) for (const t of s.list()) if (!byName.has(t.name) && ck.weights.has(t.name)) byName.set(t.name, s);
  return (name) => {
    const s = byName.get(name);
    if (!s) throw err('E_FORMAT', msg.missingTensor(ck.file, name));
    const t = s.info(name);
    return { file: s.file, offset: s.dataOffset + t.begin, bytes: t.byteLength };
  };
}

/**
 * Load the native CPU engine from a checkpoint path ('default', HF folder, .gguf, .cllm) or an open Checkpoint
 * (closed by dispose() when opened here).
 * @example
 * const e = loadCpuEngine('default'); e.forward([1, 2, 3]); e.dispose();
 */
export function loadCpuEngine(source: string | Checkpoint, o: CheckpointLoadOptions = {}): CheckpointEngine {
  const t0 = performance.now();
  const ck = typeof source === 'string' ? openCheckpoint(source) : source;
  const ownCk = typeof source === 'string';
  const storage: WeightStorage = o.storage ?? 'auto';
  if (storage !== 'auto' && storage !== 'f32') throw err('E_ARG', msg.badArg('storage', `'${String(storage)}' (expected auto or f32)`));
  const c = ck.config;
  const spec = o.patch ? toSpec(o.patch.quant) : null;
  const linears = linearPaths(c);
  let predicted: ResidentReport;
  let patched: string[];
  try {
    patched = o.patch ? resolveSelection(linears, o.patch.select).map((l: { path: string }) => l.path) : [];
    predicted = residentBytes(ck, { storage, patch: o.patch ?? null });
    if (!o.noMemoryCheck) checkNativeFits(ck, predicted);
  } catch (e) {
    if (ownCk) ck.close();
    throw e;
  }
  const patchSet = new Set(patched);
  const addon = cpuEngineAddon();
  const call = <T>(fn: () => T): T => callNative(fn);
  const id = call(() => addon.cpuEngineCreate(cpuEngineConfig(c)));
  const formats = new Map<string, string>();
  const locate = locator(ck);
  const fds = new Map<string, number>();
  let scratch: Uint8Array | null = null;
  // reused buffers of the quantize-on-the-way-in path: one block of float32 rows, one tensor's int8 codes
  let f32Block: Float32Array | null = null;
  let codesScratch: Uint8Array | null = null;
  /** Rows [r0, r0 + n) of a stored (rows, cols) tensor as float32, in the reused block buffer when bf16. */
  const decodeRows = (dt: StorageDType, bytes: Uint8Array, n: number, cols: number): Float32Array => {
    if (dt !== 'bf16' || bytes.byteOffset % 2 !== 0) return decodeStoredF32(dt, bytes);
    if (!f32Block || f32Block.length < n * cols) f32Block = new Float32Array(Math.max(n * cols, BLOCK_WEIGHTS));
    const out = f32Block.subarray(0, n * cols);
    const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n * cols);
    const o32 = new Uint32Array(out.buffer, out.byteOffset, n * cols);
    for (let i = 0; i < h.length; i++) o32[i] = h[i]! << 16; // bf16 bits are the high half of the float32 bits
    return out;
  };
  let bytesRead = 0;

  /** The stored bytes of a tensor (a view of the reused scratch buffer for safetensors: valid until the next read). */
  const fdOf = (file: string): number => {
    let fd = fds.get(file);
    if (fd === undefined) {
      try {
        fd = fs.openSync(file, 'r');
      } catch (e) {
        throw err('E_IO', msg.fileNotFound(file), e);
      }
      fds.set(file, fd);
    }
    return fd;
  };
  const readAt = (file: string, offset: number, out: Uint8Array): void => {
    const fd = fdOf(file);
    let done = 0;
    while (done < out.byteLength) {
      const n = fs.readSync(fd, out, done, Math.min(out.byteLength - done, 1 << 30), offset + done);
      if (n === 0) throw err('E_IO', msg.readFailed(file, `unexpected end of file at offset ${offset + done}`));
      done += n;
    }
    bytesRead += out.byteLength;
  };
  let rowBuf: Uint8Array | null = null;
  /** A reader of row blocks of a (rows, ·) stored tensor: from the file at its offset (safetensors), else from memory. */
  const rowReader = (name: string, rowBytes: number): ((r0: number, n: number) => Uint8Array) => {
    if (!locate) {
      const raw = ck.weights.readRaw(name);
      bytesRead += raw.byteLength;
      return (r0, n) => raw.subarray(r0 * rowBytes, (r0 + n) * rowBytes);
    }
    const loc = locate(name);
    return (r0, n) => {
      if (!rowBuf || rowBuf.byteLength < n * rowBytes) rowBuf = new Uint8Array(n * rowBytes);
      const out = rowBuf.subarray(0, n * rowBytes);
      readAt(loc.file, loc.offset + r0 * rowBytes, out);
      return out;
    };
  };
  const readStored = (name: string): Uint8Array => {
    if (!locate) {
      const r = ck.weights.readRaw(name);
      bytesRead += r.byteLength;
      return r;
    }
    const loc = locate(name);
    if (!scratch || scratch.byteLength < loc.bytes) {
      scratch = null;
      scratch = new Uint8Array(loc.bytes);
    }
    readAt(loc.file, loc.offset, scratch.subarray(0, loc.bytes));
    return scratch.subarray(0, loc.bytes);
  };
  const dtypeOf = (name: string) => String(ck.weights.info(name).dtype) as StorageDType;

  /** A vector (norm, bias) as float32 (small); `offset` is added to each value (norms: ArchFeatures.normOffset). */
  const setVec = (layer: number, slot: number, name: string, offset = 0) => {
    const f = decodeStoredF32(dtypeOf(name), readStored(name));
    if (offset) for (let i = 0; i < f.length; i++) f[i] = Math.fround(f[i]! + offset); // as llama.ts load(): w + 1 in float32
    call(() => addon.cpuEngineSetTensor(id, layer, slot, f, null, null, storage));
  };
  const feat = featuresOf(c);
  /** An RMSNorm weight as applied (Hugging Face Gemma stores w, applies 1 + w). */
  const setNorm = (layer: number, slot: number, name: string) => {
    setVec(layer, slot, name, feat.normOffset);
    tick(name);
  };

  /** A (rows, cols) matrix as stored, or quantized with `q` on the way in. Returns the format kept. */
  const setMat = (layer: number, slot: number, name: string, q: QuantSpec | null): string => {
    const info = ck.weights.info(name);
    const [rows, cols] = info.shape as [number, number];
    const dt = dtypeOf(name);
    if (!q) {
      if (KEPT_AS_STORED.has(dt) && locate && typeof addon.cpuEngineSetTensorFile === 'function') {
        // read by the engine straight into its own storage: no JS buffer at all
        const loc = locate(name);
        bytesRead += loc.bytes;
        return call(() => addon.cpuEngineSetTensorFile!(id, layer, slot, loc.file, loc.offset, loc.bytes, weightTypeId(dt), storage));
      }
      const raw = readStored(name);
      if (KEPT_AS_STORED.has(dt)) return call(() => addon.cpuEngineSetTensor(id, layer, slot, null, raw, weightTypeId(dt), storage));
      const f = decodeStoredF32(dt, raw); // a k-quant (or other) tensor: one float32 copy of this tensor
      return call(() => addon.cpuEngineSetTensor(id, layer, slot, f, null, null, storage));
    }
    const quant = (w: Float32Array, r: number): QuantizedTensor => (nativeSupports(q) && nativeQuantAvailable() ? quantizeNative(w, [r, cols], q) : quantize(w, [r, cols], q));
    if (storage === 'auto' && keepsNf4Codes(q, cols)) {
      // nf4: packed NF4 indices + fp32 group scales (native common/quant4.h), the whole tensor at once
      const f = quant4Form(quant(decodeStoredF32(dt, readStored(name)), rows), rows, cols);
      if (!f) throw err('E_ENGINE', `${name}: ${q.format} ${q.granularity} cannot be kept as 4-bit codes`);
      return call(() => addon.cpuEngineSetTensor(id, layer, slot, null, f.codes, weightTypeId(f.type), storage, f.scale, f.zero, f.group));
    }
    if (!(storage === 'auto' && keepsCodes(q))) {
      // nf4 / fp8 / per-input-channel (or storage f32): quantize -> dequantize, the whole tensor as float32
      const w = quant(decodeStoredF32(dt, readStored(name)), rows);
      return call(() => addon.cpuEngineSetTensor(id, layer, slot, dequantize(w), null, null, storage));
    }
    // int8 / int4 codes: a block of rows at a time (per-tensor scale needs the whole tensor at once)
    const d = DTYPES[dt];
    const rowBytes = (cols / d.blockElems) * d.blockBytes;
    const blockRows = q.granularity === 'per-tensor' ? rows : Math.max(1, Math.floor(BLOCK_WEIGHTS / cols));
    const readRows = rowReader(name, rowBytes);
    const { nGroups } = groupLayout(q, rows, cols);
    const groupsPerRow = nGroups / rows;
    if (!codesScratch || codesScratch.length < rows * cols) codesScratch = new Uint8Array(rows * cols);
    const codes = codesScratch.subarray(0, rows * cols);
    const scale = new Float32Array(q.granularity === 'per-tensor' ? rows : nGroups);
    const zero = q.asym ? new Uint8Array(scale.length) : null;
    let type: 'i8_channel' | 'i8_group' = 'i8_channel';
    let group = 0;
    for (let r0 = 0; r0 < rows; r0 += blockRows) {
      const n = Math.min(blockRows, rows - r0);
      const w = decodeRows(dt, readRows(r0, n), n, cols);
      const form = int8Form(quant(w, n), n, cols);
      if (!form) throw err('E_ENGINE', `${name}: ${q.format} ${q.granularity} cannot be kept as int8 codes`);
      type = form.type;
      group = form.group;
      codes.set(form.codes, r0 * cols);
      const g0 = q.granularity === 'per-tensor' ? r0 : r0 * groupsPerRow;
      scale.set(form.scale, g0);
      if (zero && form.zero) zero.set(form.zero, g0);
    }
    return call(() => addon.cpuEngineSetTensor(id, layer, slot, null, codes, weightTypeId(type), storage, scale, zero, group));
  };

  const tensorsTotal = ck.weights.list().length + (c.tieWordEmbeddings ? 1 : 0);
  const bytesTotal = ck.weights.list().reduce((s, t) => s + t.byteLength, 0) + (c.tieWordEmbeddings ? ck.weights.info('model.embed_tokens.weight').byteLength : 0);
  let tensorsDone = 0;
  let bytesDone = 0;
  const tick = (name: string) => {
    tensorsDone++;
    bytesDone += ck.weights.info(name).byteLength;
    o.onProgress?.({ tensors: tensorsDone, totalTensors: tensorsTotal, bytes: bytesDone, totalBytes: bytesTotal });
  };
  const closeFds = () => {
    for (const fd of fds.values()) fs.closeSync(fd);
    fds.clear();
    scratch = null;
    f32Block = null;
    codesScratch = null;
    rowBuf = null;
  };
  try {
    const emb = 'model.embed_tokens.weight';
    setMat(-1, GLOBAL_SLOT.embed, emb, null);
    tick(emb);
    for (let l = 0; l < c.numLayers; l++) {
      const p = `model.layers.${l}.`;
      setNorm(l, LAYER_SLOT.inputNorm, p + 'input_layernorm.weight');
      setNorm(l, LAYER_SLOT.postNorm, p + 'post_attention_layernorm.weight');
      if (feat.sandwichNorms) {
        setNorm(l, LAYER_SLOT.preFfnNorm, p + 'pre_feedforward_layernorm.weight');
        setNorm(l, LAYER_SLOT.postFfnNorm, p + 'post_feedforward_layernorm.weight');
      }
      if (feat.qkNorm) {
        setNorm(l, LAYER_SLOT.qNorm, p + 'self_attn.q_norm.weight');
        setNorm(l, LAYER_SLOT.kNorm, p + 'self_attn.k_norm.weight');
      }
      for (const lin of linears) {
        if (lin.layer !== l) continue;
        const name = weightTensorName(c, lin.path, lin.kind as LinearKind);
        formats.set(lin.path, setMat(l, LAYER_SLOT[lin.kind as keyof typeof LAYER_SLOT], name, patchSet.has(lin.path) ? spec : null));
        tick(name);
        const bias = lin.path + '.bias';
        if (ck.weights.has(bias) && BIAS_SLOT[lin.kind] !== undefined) {
          setVec(l, BIAS_SLOT[lin.kind]!, bias);
          tick(bias);
        }
      }
    }
    setNorm(-1, GLOBAL_SLOT.norm, 'model.norm.weight');
    const head = weightTensorName(c, 'lm_head', 'lm_head');
    formats.set('lm_head', setMat(-1, GLOBAL_SLOT.lm_head, head, patchSet.has('lm_head') ? spec : null));
    tick(head);
  } catch (e) {
    closeFds();
    addon.cpuEngineDispose(id);
    if (ownCk) ck.close();
    throw e;
  }
  closeFds();
  const load = { seconds: (performance.now() - t0) / 1000, bytesRead };

  let disposed = false;
  const caches = new Set<NativeCache>();
  const alive = () => {
    if (disposed) throw err('E_ENGINE', msg.engineDisposed());
  };
  const engine: CheckpointEngine = {
    source: { tokenizer: ck.tokenizer, config: c, checkpoint: ck },
    checkpoint: ck,
    predicted,
    patched,
    load,
    formats,
    forward(tokens, cache, fo = {}) {
      alive();
      checkTokens(tokens, c.vocabSize);
      if (cache && !caches.has(cache)) throw err('E_ENGINE', msg.engineForeignCache());
      const logits = call(() => addon.cpuEngineForward(id, cache ? cache.id : -1, Int32Array.from(tokens), fo.lastOnly ?? false, fo.reference ?? false));
      if (cache) cache.length += tokens.length;
      return logits;
    },
    newCache() {
      alive();
      const cache: NativeCache = { id: call(() => addon.cpuEngineNewCache(id)), length: 0 };
      caches.add(cache);
      return cache;
    },
    freeCache(cache) {
      if (!caches.delete(cache)) return;
      if (!disposed) addon.cpuEngineFreeCache(id, cache.id);
    },
    info(): CpuEngineInfo {
      alive();
      return call(() => addon.cpuEngineInfo(id));
    },
    dispose() {
      if (disposed) return;
      for (const cache of [...caches]) engine.freeCache(cache);
      disposed = true;
      addon.cpuEngineDispose(id);
      if (ownCk) ck.close();
    },
  };
  return engine;
}
