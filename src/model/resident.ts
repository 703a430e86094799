/**
 * Memory truth before loading: the bytes each engine would keep resident for a checkpoint under a storage / patch
 * spec, the memory available to this process, and the refusals that compare the two (one line: needed vs available
 * and a way out, before anything is allocated).
 *
 * Native CPU engine (cpu-checkpoint.ts, cpu_engine.cc MakeWeightStored): bf16 / f16 / q4_1 / q8_0 tensors kept as
 * stored; f32 and other GGML block types as float32 (an upper bound: values exact in bf16 / f16 are kept as such);
 * a patched linear with an int8 / int4 spec (not per-input-channel) as int8 codes + float32 scales (+ uint8 zero
 * points); other patch formats as float32; norms float32; a tied lm_head is a second copy of the embedding.
 * tfjs reference (llama.ts): every weight as float32, the tied lm_head as its own transposed copy.
 */
import fs from 'node:fs';
import os from 'node:os';
import { err } from '../messages.js';
import { CPU_BLOCK_TYPES, type Checkpoint } from '../model/checkpoint.js';
import { linearPaths, weightTensorName, type LinearKind } from '../model/names.js';
import { resolveSelection } from '../model/select.js';
import { groupLayout, toSpec, type QuantSpec } from '../quant/spec.js';

/** A patch applied on the way in: which linears, which quantization. */
export interface LoadPatch {
  select: string;
  quant: string;
}

/** Does the native engine keep this spec as int8 codes (int8Form in cpu-native.ts)? */
export function keepsCodes(spec: QuantSpec): boolean {
  return (spec.format === 'int8' || spec.format === 'int4') && spec.granularity !== 'per-input-channel';
}

/** Does the native engine keep this spec as packed 4-bit NF4 codes + group scales (quant4Form, nf4_group)? The
 *  group (or the row, per-channel / per-tensor) must be even and divide the row. */
export function keepsNf4Codes(spec: QuantSpec, cols: number): boolean {
  if (spec.format !== 'nf4' || spec.granularity === 'per-input-channel') return false;
  const g = spec.granularity === 'group' ? spec.groupSize : cols;
  return g % 2 === 0 && cols % g === 0;
}

/** Element count of a shape. */
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Stored types the native engine keeps as they are. */
export const KEPT_AS_STORED: ReadonlySet<string> = new Set(['bf16', 'f16', 'f32', ...CPU_BLOCK_TYPES]);

/** Bytes of a (rows, cols) matrix in the native engine, stored as `dtype` with `storedBytes`, optionally patched. */
function nativeMatrixBytes(dtype: string, storedBytes: number, rows: number, cols: number, storage: 'auto' | 'f32', spec: QuantSpec | null): { bytes: number; format: string } {
  const n = rows * cols;
  if (spec) {
    if (storage === 'auto' && keepsCodes(spec)) {
      // the engine keeps a per-tensor scale once per row
      const ng = spec.granularity === 'per-tensor' ? rows : groupLayout(spec, rows, cols).nGroups;
      return { bytes: n + 4 * ng + (spec.asym ? ng : 0), format: spec.granularity === 'group' ? 'i8_group' : 'i8_channel' };
    }
    if (storage === 'auto' && keepsNf4Codes(spec, cols)) {
      const ng = rows * (spec.granularity === 'group' ? cols / spec.groupSize : 1);
      return { bytes: n / 2 + 4 * ng, format: 'nf4_group' };
    }
    return { bytes: 4 * n, format: 'f32' };
  }
  if (storage === 'f32') return { bytes: 4 * n, format: 'f32' };
  if (dtype === 'bf16' || dtype === 'f16') return { bytes: 2 * n, format: dtype };
  if ((CPU_BLOCK_TYPES as readonly string[]).includes(dtype)) return { bytes: storedBytes, format: dtype };
  return { bytes: 4 * n, format: 'f32' };
}

export interface ResidentReport {
  /** native CPU engine: weight bytes, by storage format, and KV cache bytes per token (float32 K and V) */
  native: { weight_bytes: number; by_format: Record<string, number>; kv_bytes_per_token: number; patched_linears: number };
  /** tfjs reference: float32 weights (tied lm_head counted twice) */
  tfjs: { weight_bytes: number };
  /** the largest tensor as stored: what a streaming load holds beside the resident weights (plus its converted copy) */
  largest_tensor_bytes: number;
  storage: 'auto' | 'f32';
  patch: LoadPatch | null;
}

/**
 * Bytes each engine would keep resident for checkpoint `ck` (nothing is read but the headers).
 * @example
 * residentBytes(openCheckpoint(dir), { patch: { select: 'all', quant: 'int8:per-channel' } }).native.weight_bytes
 */
export function residentBytes(ck: Checkpoint, o: { storage?: 'auto' | 'f32'; patch?: LoadPatch | null } = {}): ResidentReport {
  const c = ck.config;
  const storage = o.storage ?? 'auto';
  const spec = o.patch ? toSpec(o.patch.quant) : null;
  const linears = linearPaths(c);
  const patched = new Set(o.patch ? resolveSelection(linears, o.patch.select).map((l: { path: string }) => l.path) : []);
  const byFormat: Record<string, number> = {};
  let native = 0;
  const add = (format: string, b: number) => {
    byFormat[format] = (byFormat[format] ?? 0) + b;
    native += b;
  };
  let largest = 0;
  const mat = (tensor: string, path: string | null) => {
    const t = ck.weights.info(tensor);
    largest = Math.max(largest, t.byteLength);
    const [rows, cols] = t.shape as [number, number];
    const r = nativeMatrixBytes(String(t.dtype), t.byteLength, rows, cols, storage, path !== null && patched.has(path) ? spec : null);
    add(r.format, r.bytes);
  };
  mat('model.embed_tokens.weight', null);
  for (const l of linears) mat(weightTensorName(c, l.path, l.kind as LinearKind), l.path);
  let vec = 0;
  for (const t of ck.weights.list()) if (t.shape.length === 1) vec += 4 * numel(t.shape);
  add('f32', vec);
  let tfjs = 0;
  for (const t of ck.weights.list()) tfjs += 4 * numel(t.shape);
  if (c.tieWordEmbeddings) tfjs += 4 * c.vocabSize * c.hiddenSize;
  return {
    native: { weight_bytes: native, by_format: byFormat, kv_bytes_per_token: 2 * c.numLayers * c.numKvHeads * c.headDim * 4, patched_linears: patched.size },
    tfjs: { weight_bytes: tfjs },
    largest_tensor_bytes: largest,
    storage,
    patch: o.patch ?? null,
  };
}

/**
 * Bytes of memory this process may still take: MemAvailable (/proc/meminfo, else os.freemem()), capped by the
 * cgroup limit (process.constrainedMemory) and by CODECLLM_MEMORY_LIMIT (bytes) when set.
 * @example
 * availableMemory() // e.g. 23_500_000_000
 */
export function availableMemory(): number {
  let avail = os.freemem();
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) avail = Number(m[1]) * 1024;
  } catch {
    // not Linux: os.freemem() it is
  }
  const cg = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  if (cg && cg > 0 && cg < Number.MAX_SAFE_INTEGER) avail = Math.min(avail, cg - process.memoryUsage.rss());
  const lim = Number(process.env.CODECLLM_MEMORY_LIMIT);
  if (process.env.CODECLLM_MEMORY_LIMIT && Number.isFinite(lim) && lim > 0) avail = Math.min(avail, lim);
  return avail;
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/**
 * E_MEMORY unless the native engine's resident weights plus one tensor in flight (its stored size: the most a
 * streaming load holds beside the resident weights) fit the available memory.
 * @example
 * checkNativeFits(ck, residentBytes(ck)); // throws `<file>: the native engine needs … [E_MEMORY]` when it cannot fit
 */
export function checkNativeFits(ck: Checkpoint, r: ResidentReport, available = availableMemory()): void {
  const need = r.native.weight_bytes + r.largest_tensor_bytes;
  if (need <= available) return;
  const way = r.patch
    ? 'free memory, or patch fewer layers'
    : `try --patch all --quant int8:per-channel (${gib(residentBytes(ck, { patch: { select: 'all', quant: 'int8:per-channel' } }).native.weight_bytes)} resident), or free memory`;
  throw err('E_MEMORY', `${ck.file}: the native engine needs ${gib(r.native.weight_bytes)} resident + ${gib(r.largest_tensor_bytes)} while loading, ${gib(available)} available; ${way}`);
}

/** The tfjs wasm backend's heap (wasm32: 4 GiB), of which 0.5 GiB is kept for activations and the KV cache. */
export const WASM_HEAP_BYTES = 2 ** 32;
const WASM_RESERVE = 2 ** 29;

/**
 * E_MEMORY unless the tfjs reference's float32 weights fit its backend: the wasm heap (4 GiB less 0.5 GiB for
 * activations) or, on the 'cpu' backend, the available memory (with one float32 tensor of slack for the transpose).
 * @example
 * checkTfjsFits(ck, 'wasm'); // a Llama-3.2-1B shape: `needs 5.59 GiB of float32 weights, the wasm heap holds 3.50 GiB; use --engine native`
 */
export function checkTfjsFits(ck: Checkpoint, backend: 'wasm' | 'cpu', available = availableMemory()): void {
  const r = residentBytes(ck);
  const need = r.tfjs.weight_bytes;
  if (backend === 'wasm') {
    if (need <= WASM_HEAP_BYTES - WASM_RESERVE) return;
    throw err('E_MEMORY', `${ck.file}: the tfjs reference (wasm) needs ${gib(need)} of float32 weights, its heap holds ${gib(WASM_HEAP_BYTES - WASM_RESERVE)}; use --engine native (${gib(r.native.weight_bytes)} resident)`);
  }
  let largest = 0;
  for (const t of ck.weights.list()) largest = Math.max(largest, numel(t.shape));
  const slack = 2 * 4 * largest; // the float32 read and its transposed copy
  if (need + slack <= available) return;
  throw err('E_MEMORY', `${ck.file}: the tfjs reference (cpu backend) needs ${gib(need)} of float32 weights, ${gib(available)} available; use --engine native (${gib(r.native.weight_bytes)} resident)`);
}
