/**
 * The .cllm compressed checkpoint container, defined once here: one file holding a JSON manifest (model config,
 * tokenizer, tensors with their storage, transform, codec and chunk table) and the compressed chunks.
 *
 * Layout (all integers little-endian):
 *
 *   offset  size  field
 *   0       4     magic 'CLLM'
 *   4       4     u32 format version (CLLM_VERSION = 1: this header layout and manifest schema 1)
 *   8       8     u64 manifest length M (1 <= M <= CLLM_LIMITS.manifestBytes)
 *   16      8     u64 XXH64 (seed 0) of the M manifest bytes
 *   24      8     u64 XXH64 (seed 0) of header bytes [0, 24)
 *   32      M     manifest: UTF-8 JSON (schema below)
 *   32+M    D     data region: every chunk of every tensor, back to back in manifest order (D = file size - 32 - M)
 *
 * Manifest (format_version 1; unknown keys are rejected):
 *
 *   { "format_version": 1, "created_by": "codecllm 0.1.0",
 *     "config": {HF config.json object} | null, "tokenizer": {"json": {tokenizer.json}, "config": {tokenizer_config}} | null,
 *     "metadata": {string: string},
 *     "tensors": [ { "name": str, "shape": [int...], "storage": "<dtype>" | "<quant spec>",
 *                    "transform": "none" | "byteplane" | "exponent-split", "codec": "zstd" | ..., "level": int | null,
 *                    "chunk_size": int, "raw_size": int, "raw_xxhash64": "16 hex",
 *                    "chunks": [[offset, compressed_size, raw_size, "16 hex XXH64 of the compressed bytes"], ...] } ] }
 *
 * A tensor's stored bytes ("raw", raw_size bytes):
 *   dtype storage ('f32', 'bf16', 'q4_1', ... from formats/dtypes.ts): the elements as that dtype stores them, LE.
 *   quant storage (a canonical spec string of quant/spec.ts, e.g. 'int8:per-channel'): codes ‖ scales ‖ zero points,
 *     exactly the arrays of a QuantizedTensor (quantSizes gives their lengths; fp32 scales as LE f32, fp16/bf16 as LE
 *     u16 bits). Quant storage needs a 2-D shape.
 * The raw bytes go through the transform (same length), are cut into chunks of chunk_size (the last may be shorter)
 * and each chunk is compressed by the codec. raw_xxhash64 is the XXH64 of the raw bytes (before the transform): an
 * end-to-end check after decoding. Chunk offsets are relative to the data region.
 *
 * Rules the parser enforces (hostile input: one-line CodecLLMError naming the file and problem, never a crash, hang
 * or allocation beyond CLLM_LIMITS):
 *   - magic, version, header checksum, manifest length (bounded, inside the file), manifest checksum;
 *   - manifest: valid UTF-8 JSON object, no duplicate keys, known keys only, format_version 1;
 *   - per tensor: unique name, dims non-negative safe integers (<= 8 dims), known storage/transform/codec, transform
 *     valid for the storage, raw_size = what storage and shape imply, chunk_size in [1, 2^28], chunk count =
 *     ceil(raw_size / chunk_size), each chunk's raw size as the chunking implies, compressed size >= 1 (codec 'none':
 *     equal to the raw size) and raw size <= compressed size * 65536 (no codec expands further; bounds allocation);
 *   - chunks cover the data region exactly, in manifest order: chunk k starts where chunk k-1 ended, the first at 0,
 *     the last ends at D (a truncated file is named by the first chunk that leaves the region; extra bytes too).
 * Reading a tensor checks each chunk's XXH64 before decompressing it, that the codec produces exactly the chunk's
 * raw size, and the raw XXH64 after the inverse transform. `verify()` does that for every tensor.
 *
 * Why hand-written: this is our own format; the container logic is small and no library provides it. Compression
 * goes through src/codec/cpu.ts (libzstd, liblz4, zlib, snappy, libxxhash).
 *
 * @example
 * writeCllm('m.cllm', [{ name: 'w', shape: [2, 2], storage: 'bf16', data: bytes, transform: 'byteplane', codec: 'zstd' }]);
 * const f = openCllm('m.cllm'); f.readStored('w'); f.close();
 */
import fs from 'node:fs';
import path from 'node:path';
import { err, msg } from '../messages.js';
import { ioError } from '../util/files.js';
import { checkOutFile, registerTemp, removeStaleTemps, tempPathFor, unregisterTemp } from '../util/temp-files.js';
import { cpuCompress, cpuDecompress, xxhash64, CPU_CODEC_LEVELS, type CpuCodec } from '../codec/cpu.js';
import { TRANSFORMS, applyTransform, checkTransform, invertTransform, isTransform, transformPlanes, type Plane, type Transform } from '../codec/transforms.js';
import { entropyReport, type EntropyReport } from '../codec/entropy.js';
import { DTYPES, byteSizeOf, decodeToF32, type ElementDType, type GGMLBlockDType, type StorageDType } from '../formats/dtypes.js';
import { dequantizeBlocks } from '../formats/ggml-blocks.js';
import { bufferSource, openFileSource, printable, writeFileAtomic, type ByteSource } from '../formats/binary.js';
import { findDuplicateKey } from '../formats/safetensors.js';
import { QUANT_FORMATS, formatSpec, parseSpec, quantSizes, type QuantSpec } from '../quant/spec.js';
import { quantPlan } from '../quant/plan.js';
import { assertSizes, dequantize, emptyStats, type QuantizedTensor } from '../quant/quantize.js';
import type { TensorInfo } from '../formats/tensor.js';

export const CLLM_MAGIC = 'CLLM';
/** Header layout + manifest schema version. Readers reject any other. */
export const CLLM_VERSION = 1;
export const CLLM_HEADER_BYTES = 32;
export const CLLM_CREATED_BY = 'codecllm 0.1.0';

/** Codecs a .cllm may name (append-only; the CPU codecs of src/codec/cpu.ts, which also decode nvCOMP's outputs). */
export const CLLM_CODECS = ['none', 'zstd', 'lz4', 'deflate', 'snappy', 'lz4frame'] as const;
export type CllmCodec = (typeof CLLM_CODECS)[number];

export const CLLM_LIMITS = {
  /** largest manifest (a 70B model in 64 KiB chunks needs ~150 MB of chunk table) */
  manifestBytes: 512 * 1024 * 1024,
  tensors: 1 << 20,
  dims: 8,
  nameChars: 4096,
  /** largest chunk_size (nvCOMP caps chunks far lower; 64 KiB is the default) */
  chunkSize: 1 << 28,
  /** a chunk's raw size may be at most this many times its compressed size (zstd peaks near 32768) */
  expansion: 1 << 16,
} as const;

export const DEFAULT_CHUNK_SIZE = 65536;

// ---- storage: a dtype or a quant spec

/** How a tensor's raw bytes are to be read. */
export type Storage = { readonly kind: 'dtype'; readonly dtype: StorageDType } | { readonly kind: 'quant'; readonly spec: QuantSpec };

/**
 * Canonical storage string: the dtype name, or formatSpec() of the spec.
 * @example
 * storageString({ kind: 'dtype', dtype: 'bf16' }); // 'bf16'
 */
export function storageString(s: Storage): string {
  return s.kind === 'dtype' ? s.dtype : formatSpec(s.spec);
}

/**
 * Parse a storage string; null when it is neither a dtype of formats/dtypes.ts nor a canonical quant spec.
 * @example
 * parseStorage('int8:per-channel'); // { kind: 'quant', spec: {...} }
 */
export function parseStorage(s: string): Storage | null {
  if (Object.hasOwn(DTYPES, s)) return { kind: 'dtype', dtype: s as StorageDType };
  if (!s.includes(':')) return null;
  try {
    const spec = parseSpec(s);
    return formatSpec(spec) === s ? { kind: 'quant', spec } : null;
  } catch {
    return null;
  }
}

/**
 * Bytes of one element for transforms (1 for block and quant storage, which take only 'none').
 * @example
 * elementSize(parseStorage('f32')!); // 4
 */
export function elementSize(s: Storage): number {
  return s.kind === 'dtype' && DTYPES[s.dtype].blockElems === 1 ? DTYPES[s.dtype].blockBytes : 1;
}

/**
 * Stored byte size of a tensor, or null when the shape does not fit the storage (or overflows).
 * @example
 * storedSize(parseStorage('int8:per-channel')!, [4, 32]); // 128 codes + 4 fp32 scales = 144
 */
export function storedSize(s: Storage, shape: readonly number[]): number | null {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return null;
  }
  if (s.kind === 'dtype') return byteSizeOf(s.dtype, n);
  if (shape.length !== 2 || shape[0]! <= 0 || shape[1]! <= 0) return null;
  const t = quantSizes(s.spec, shape[0]!, shape[1]!).totalBytes;
  return Number.isSafeInteger(t) ? t : null;
}

/**
 * The sections of a raw stream for entropy reports: quant codes / scales / zeros, else the transform's planes.
 * @example
 * storageSections(parseStorage('bf16')!, 'byteplane', [8], 16).map((p) => p.name); // high byte, low byte
 */
export function storageSections(s: Storage, t: Transform, shape: readonly number[], rawSize: number): Plane[] {
  if (s.kind === 'quant') {
    const z = quantSizes(s.spec, shape[0]!, shape[1]!);
    const out: Plane[] = [
      { name: `${s.spec.format} codes`, offset: 0, length: z.codeBytes },
      { name: `${s.spec.scaleDType} scales`, offset: z.codeBytes, length: z.scaleBytes },
    ];
    if (z.zeroBytes) out.push({ name: 'zero points', offset: z.codeBytes + z.scaleBytes, length: z.zeroBytes });
    return out;
  }
  return transformPlanes(t, rawSize, elementSize(s), s.dtype, `${s.dtype} bytes`);
}

/**
 * The raw bytes of a quantized tensor: codes ‖ scales ‖ zero points (a copy).
 * @example
 * const raw = quantToBytes(quantize(w, [4, 64], 'int8:per-channel'));
 */
export function quantToBytes(q: QuantizedTensor): Uint8Array {
  assertSizes(q);
  const parts = [q.codes, q.scales, ...(q.zeros ? [q.zeros] : [])];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), o); // little-endian hosts (x86-64, arm64)
    o += p.byteLength;
  }
  return out;
}

/**
 * Inverse of {@link quantToBytes} (stats are empty: they describe quantization, not storage).
 * @example
 * const q = quantFromBytes(parseSpec('int8:per-channel'), [4, 64], raw);
 */
export function quantFromBytes(spec: QuantSpec, shape: readonly [number, number], raw: Uint8Array): QuantizedTensor {
  const [rows, cols] = shape;
  const plan = quantPlan(spec, rows, cols);
  const z = plan.sizes;
  const { nGroups } = plan.layout;
  const copy = (o: number, n: number) => raw.slice(o, o + n).buffer; // aligned fresh buffer
  const codes = new plan.codesArray(copy(0, z.codeBytes));
  const scales = new plan.scalesArray(copy(z.codeBytes, z.scaleBytes), 0, nGroups);
  const zeros = spec.asym ? new Uint8Array(copy(z.codeBytes + z.scaleBytes, z.zeroBytes)) : undefined;
  const q: QuantizedTensor = { spec, shape: [rows, cols], codes, scales, ...(zeros ? { zeros } : {}), stats: emptyStats(nGroups) };
  assertSizes(q);
  return q;
}

/**
 * float32 values of raw stored bytes.
 * @example
 * decodeStored(parseStorage('bf16')!, [2], bytes);
 */
export function decodeStored(s: Storage, shape: readonly number[], raw: Uint8Array): Float32Array {
  if (s.kind === 'quant') return dequantize(quantFromBytes(s.spec, [shape[0]!, shape[1]!], raw));
  const n = shape.reduce((a, b) => a * b, 1);
  if (DTYPES[s.dtype].blockElems > 1) return dequantizeBlocks(s.dtype as GGMLBlockDType, raw, n);
  return decodeToF32(s.dtype as ElementDType, raw, n);
}

// ---- manifest types

export type ChunkEntry = readonly [offset: number, compressedSize: number, rawSize: number, xxhash64: string];

export interface CllmTensorEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly storage: string;
  readonly transform: Transform;
  readonly codec: CllmCodec;
  readonly level: number | null;
  readonly chunk_size: number;
  readonly raw_size: number;
  readonly raw_xxhash64: string;
  readonly chunks: readonly ChunkEntry[];
}

export interface CllmTokenizer {
  /** tokenizer.json object */
  readonly json: Record<string, unknown>;
  /** tokenizer_config.json object (bos_token, eos_token, add_bos_token, ...) */
  readonly config: Record<string, unknown>;
}

export interface CllmManifest {
  readonly format_version: number;
  readonly created_by: string;
  /** Hugging Face config.json object, or null for a bare tensor container. */
  readonly config: Record<string, unknown> | null;
  readonly tokenizer: CllmTokenizer | null;
  readonly metadata: Record<string, string>;
  readonly tensors: readonly CllmTensorEntry[];
}

const hex = (h: bigint) => h.toString(16).padStart(16, '0');
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const HEX16 = /^[0-9a-f]{16}$/;
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

const TOP_KEYS = ['format_version', 'created_by', 'config', 'tokenizer', 'metadata', 'tensors'];
const TENSOR_KEYS = ['name', 'shape', 'storage', 'transform', 'codec', 'level', 'chunk_size', 'raw_size', 'raw_xxhash64', 'chunks'];

/** A validated tensor entry with what reading needs. */
export interface CllmTensor extends CllmTensorEntry {
  readonly parsedStorage: Storage;
  /** Offset of the first chunk in the data region, and the bytes of all its chunks. */
  readonly dataBegin: number;
  readonly dataBytes: number;
}

/** A parsed header + manifest. */
export interface CllmHeader {
  readonly manifest: CllmManifest;
  readonly tensors: readonly CllmTensor[];
  /** Absolute offset of the data region, and its size. */
  readonly dataOffset: number;
  readonly dataSize: number;
  readonly manifestBytes: number;
}

/**
 * Parse and validate the header and manifest of a .cllm of `fileSize` bytes whose first bytes are `head` (at least
 * 32 + manifest length of them, or the whole file). Memory only: the fuzzer calls it directly.
 * @example
 * const h = parseCllmHeader(bytes, bytes.length, 'm.cllm');
 */
export function parseCllmHeader(head: Uint8Array, fileSize: number, file: string): CllmHeader {
  const C = 'E_CONTAINER';
  if (fileSize < CLLM_HEADER_BYTES) {
    if (fileSize >= 4 && Buffer.from(head.subarray(0, 4)).toString('latin1') !== CLLM_MAGIC) throw err(C, msg.badMagic(file, 'CLLM'));
    throw err(C, msg.truncated(file, 'header', CLLM_HEADER_BYTES, fileSize));
  }
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (Buffer.from(head.subarray(0, 4)).toString('latin1') !== CLLM_MAGIC) throw err(C, msg.badMagic(file, 'CLLM'));
  const version = dv.getUint32(4, true);
  if (version !== CLLM_VERSION) throw err(C, msg.unsupportedVersion(file, 'CLLM', version));
  const headerHash = dv.getBigUint64(24, true);
  const headerComputed = xxhash64(head.subarray(0, 24));
  if (headerHash !== headerComputed) throw err('E_CHECKSUM', msg.cllmHeaderChecksum(file, hex(headerHash), hex(headerComputed)));
  const mlen64 = dv.getBigUint64(8, true);
  if (mlen64 === 0n || mlen64 > BigInt(CLLM_LIMITS.manifestBytes)) throw err(C, msg.tooLarge(file, 'manifest length', mlen64, CLLM_LIMITS.manifestBytes));
  const mlen = Number(mlen64);
  if (mlen > fileSize - CLLM_HEADER_BYTES) throw err(C, msg.truncated(file, 'manifest', mlen, fileSize - CLLM_HEADER_BYTES));
  if (head.length < CLLM_HEADER_BYTES + mlen) throw err(C, msg.truncated(file, 'manifest', mlen, head.length - CLLM_HEADER_BYTES));
  const mbytes = head.subarray(CLLM_HEADER_BYTES, CLLM_HEADER_BYTES + mlen);
  const mhash = dv.getBigUint64(16, true);
  const mcomputed = xxhash64(mbytes);
  if (mhash !== mcomputed) throw err('E_CHECKSUM', msg.cllmManifestChecksum(file, hex(mhash), hex(mcomputed)));
  const dataOffset = CLLM_HEADER_BYTES + mlen;
  const dataSize = fileSize - dataOffset;
  const manifest = parseManifest(mbytes, file);
  const tensors = validateTensors(manifest, dataSize, file);
  return { manifest, tensors, dataOffset, dataSize, manifestBytes: mlen };
}

function parseManifest(bytes: Uint8Array, file: string): CllmManifest {
  const bad = (d: string) => err('E_CONTAINER', msg.cllmBadManifest(file, d));
  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch {
    throw bad('not valid UTF-8');
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw bad('not valid JSON');
  }
  if (!isObj(j)) throw bad('not a JSON object');
  const dup = findDuplicateKey(text);
  if (dup) throw bad(`duplicate key '${printable(dup.key)}'`);
  for (const k of Object.keys(j)) if (!TOP_KEYS.includes(k)) throw bad(`unknown key '${printable(k)}'`);
  for (const k of TOP_KEYS) if (!Object.hasOwn(j, k)) throw bad(`missing key '${k}'`);
  if (j.format_version !== CLLM_VERSION) throw err('E_CONTAINER', msg.cllmManifestVersion(file, printable(JSON.stringify(j.format_version) ?? 'undefined')));
  if (typeof j.created_by !== 'string') throw bad("'created_by' is not a string");
  if (j.config !== null && !isObj(j.config)) throw bad("'config' is not an object or null");
  if (j.tokenizer !== null) {
    if (!isObj(j.tokenizer) || !isObj(j.tokenizer.json) || !isObj(j.tokenizer.config) || Object.keys(j.tokenizer).length !== 2)
      throw bad("'tokenizer' must be null or {json: object, config: object}");
  }
  if (!isObj(j.metadata) || !Object.values(j.metadata).every((v) => typeof v === 'string')) throw bad("'metadata' must map strings to strings");
  if (!Array.isArray(j.tensors)) throw bad("'tensors' is not an array");
  if (j.tensors.length > CLLM_LIMITS.tensors) throw err('E_CONTAINER', msg.tooLarge(file, 'tensor count', j.tensors.length, CLLM_LIMITS.tensors));
  return j as unknown as CllmManifest;
}

function validateTensors(m: CllmManifest, dataSize: number, file: string): CllmTensor[] {
  const C = 'E_CONTAINER';
  const bad = (d: string) => err(C, msg.cllmBadManifest(file, d));
  const seen = new Set<string>();
  const out: CllmTensor[] = [];
  let cursor = 0;
  for (let ti = 0; ti < m.tensors.length; ti++) {
    const t = m.tensors[ti] as unknown;
    if (!isObj(t)) throw bad(`tensor entry ${ti} is not an object`);
    if (typeof t.name !== 'string' || t.name === '' || t.name.length > CLLM_LIMITS.nameChars) throw bad(`tensor entry ${ti} has no valid name`);
    const name = t.name;
    const nm = printable(name);
    const tbad = (d: string) => err(C, msg.cllmBadTensor(file, nm, d));
    for (const k of Object.keys(t)) if (!TENSOR_KEYS.includes(k)) throw tbad(`unknown key '${printable(k)}'`);
    for (const k of TENSOR_KEYS) if (!Object.hasOwn(t, k)) throw tbad(`missing key '${k}'`);
    if (seen.has(name)) throw err(C, msg.duplicateTensor(file, nm));
    seen.add(name);
    if (!Array.isArray(t.shape) || t.shape.length > CLLM_LIMITS.dims) throw tbad(`shape must be an array of at most ${CLLM_LIMITS.dims} dimensions`);
    for (const d of t.shape) if (!isUint(d)) throw err(C, msg.badDim(file, nm, printable(JSON.stringify(d) ?? String(d))));
    const shape = t.shape as number[];
    if (typeof t.storage !== 'string') throw tbad('storage is not a string');
    const storage = parseStorage(t.storage);
    if (!storage) throw err('E_DTYPE', msg.unknownDtype(file, nm, printable(t.storage)));
    if (typeof t.transform !== 'string' || !isTransform(t.transform))
      throw err(C, msg.cllmUnknownEnum(file, nm, 'transform', printable(JSON.stringify(t.transform) ?? '?'), TRANSFORMS));
    if (typeof t.codec !== 'string' || !(CLLM_CODECS as readonly string[]).includes(t.codec))
      throw err(C, msg.cllmUnknownEnum(file, nm, 'codec', printable(JSON.stringify(t.codec) ?? '?'), CLLM_CODECS));
    if (t.level !== null && !(typeof t.level === 'number' && Number.isSafeInteger(t.level))) throw tbad('level must be an integer or null');
    const want = storedSize(storage, shape);
    if (want === null) throw tbad(`shape [${shape.join(', ')}] does not fit storage ${t.storage}`);
    if (t.raw_size !== want) throw tbad(`raw_size ${printable(JSON.stringify(t.raw_size) ?? '?')} does not match storage ${t.storage} and shape [${shape.join(', ')}] (${want} bytes)`);
    try {
      checkTransform(t.transform, want, elementSize(storage), storage.kind === 'dtype' ? storage.dtype : 'quantized');
    } catch (e) {
      throw tbad((e as Error).message);
    }
    if (typeof t.raw_xxhash64 !== 'string' || !HEX16.test(t.raw_xxhash64)) throw tbad('raw_xxhash64 must be 16 lowercase hex digits');
    if (!isUint(t.chunk_size) || t.chunk_size < 1 || t.chunk_size > CLLM_LIMITS.chunkSize) throw tbad(`chunk_size must be an integer in [1, ${CLLM_LIMITS.chunkSize}]`);
    const n = Math.ceil(want / t.chunk_size);
    if (!Array.isArray(t.chunks) || t.chunks.length !== n) throw tbad(`chunk table must have ${n} entries (raw_size ${want}, chunk_size ${t.chunk_size})`);
    const begin = cursor;
    for (let c = 0; c < n; c++) {
      const e = t.chunks[c] as unknown;
      const cbad = (d: string) => err(C, msg.cllmChunk(file, nm, c, n, d));
      if (!Array.isArray(e) || e.length !== 4 || !isUint(e[0]) || !isUint(e[1]) || !isUint(e[2]) || typeof e[3] !== 'string' || !HEX16.test(e[3]))
        throw cbad('entry must be [offset, compressed size, raw size, "16 hex digits"]');
      const [off, csize, rsize] = e as [number, number, number, string];
      const expectRaw = Math.min(t.chunk_size, want - c * t.chunk_size);
      if (rsize !== expectRaw) throw cbad(`raw size ${rsize}, expected ${expectRaw}`);
      if (csize < 1) throw cbad('compressed size 0');
      if (t.codec === 'none' ? csize !== rsize : rsize > csize * CLLM_LIMITS.expansion)
        throw cbad(`compressed size ${csize} cannot expand to ${rsize} bytes with codec ${t.codec}`);
      if (off !== cursor) throw cbad(`starts at ${off}, expected ${cursor} (chunks must cover the data region exactly, in order)`);
      if (off + csize > dataSize) throw cbad(`[${off}, ${off + csize}) lies outside the data region of ${dataSize} bytes`);
      cursor += csize;
    }
    out.push({ ...(t as unknown as CllmTensorEntry), parsedStorage: storage, dataBegin: begin, dataBytes: cursor - begin });
  }
  if (cursor !== dataSize) throw err(C, msg.dataNotCovered(file, `${dataSize - cursor} bytes after the last chunk`));
  return out;
}

// ---- reading

/** Per-tensor result of {@link CllmFile.verify}. */
export interface CllmVerifyTensor {
  readonly name: string;
  readonly storage: string;
  readonly codec: CllmCodec;
  readonly transform: Transform;
  readonly chunks: number;
  readonly raw_bytes: number;
  readonly compressed_bytes: number;
}

/**
 * A .cllm opened lazily: header and manifest parsed and validated at open, a tensor's chunks read, checked and
 * decoded on demand.
 *
 * @example
 * const f = openCllm('m.cllm');
 * const q = f.readQuantized('model.layers.0.mlp.up_proj.weight'); // codes, scales exactly as written
 * f.close();
 */
export class CllmFile {
  readonly file: string;
  readonly manifest: CllmManifest;
  readonly header: CllmHeader;
  private readonly byName = new Map<string, CllmTensor>();

  constructor(private readonly src: ByteSource) {
    this.file = src.file;
    const first = Math.min(src.size, 1 << 16);
    let head = src.read(0, first);
    if (src.size >= CLLM_HEADER_BYTES && head.length >= 16) {
      // read exactly header + manifest (bounded by the parser's limits before any large read)
      const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
      const mlen = dv.getBigUint64(8, true);
      const need = BigInt(CLLM_HEADER_BYTES) + mlen;
      if (Buffer.from(head.subarray(0, 4)).toString('latin1') === CLLM_MAGIC && mlen <= BigInt(CLLM_LIMITS.manifestBytes) && need > BigInt(head.length) && need <= BigInt(src.size))
        head = src.read(0, Number(need));
    }
    this.header = parseCllmHeader(head, src.size, src.file);
    this.manifest = this.header.manifest;
    for (const t of this.header.tensors) this.byName.set(t.name, t);
  }

  /** Tensor entries in file order. */
  tensors(): readonly CllmTensor[] {
    return this.header.tensors;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The entry of a tensor; E_FORMAT missingTensor when absent. */
  entry(name: string): CllmTensor {
    const t = this.byName.get(name);
    if (!t) throw err('E_FORMAT', msg.missingTensor(this.file, printable(name)));
    return t;
  }

  /** File size in bytes. */
  get size(): number {
    return this.src.size;
  }

  /**
   * The raw stored bytes of a tensor: every chunk's XXH64 checked, decompressed to exactly its raw size, the
   * transform undone, the raw XXH64 checked. E_CHECKSUM / E_CONTAINER name the tensor and chunk.
   */
  readStored(name: string): Uint8Array {
    const t = this.entry(name);
    const nm = printable(t.name);
    const n = t.chunks.length;
    const data = this.src.read(this.header.dataOffset + t.dataBegin, t.dataBytes);
    const stream = new Uint8Array(t.raw_size);
    let rawPos = 0;
    for (let c = 0; c < n; c++) {
      const [off, csize, rsize, h] = t.chunks[c]!;
      const comp = data.subarray(off - t.dataBegin, off - t.dataBegin + csize);
      const got = hex(xxhash64(comp));
      if (got !== h) throw err('E_CHECKSUM', msg.cllmChunkChecksum(this.file, nm, c, n, h, got));
      let raw: Uint8Array;
      try {
        raw = t.codec === 'none' ? comp : cpuDecompress(t.codec as CpuCodec, comp, rsize);
      } catch (e) {
        throw err('E_CONTAINER', msg.cllmChunk(this.file, nm, c, n, (e as Error).message), e);
      }
      stream.set(raw, rawPos);
      rawPos += rsize;
    }
    const s = t.parsedStorage;
    const raw = invertTransform(t.transform, stream, elementSize(s), s.kind === 'dtype' ? s.dtype : 'quantized');
    const rh = hex(xxhash64(raw));
    if (rh !== t.raw_xxhash64) throw err('E_CHECKSUM', msg.cllmRawChecksum(this.file, nm, t.raw_xxhash64, rh));
    return raw;
  }

  /** A quantized tensor exactly as written (codes, scales, zero points); E_ARG when the tensor is not quantized. */
  readQuantized(name: string): QuantizedTensor {
    const t = this.entry(name);
    const s = t.parsedStorage;
    if (s.kind !== 'quant') throw err('E_ARG', msg.badArg('tensor', `'${printable(name)}' is stored as ${t.storage}, not quantized`));
    return quantFromBytes(s.spec, [t.shape[0]!, t.shape[1]!], this.readStored(name));
  }

  /** float32 values: dequantized, or decoded from the stored dtype. */
  readF32(name: string): Float32Array {
    const t = this.entry(name);
    return decodeStored(t.parsedStorage, t.shape, this.readStored(name));
  }

  /** Metadata as a TensorSource shows it: quantized tensors appear as f32 (their decoded values). */
  info(name: string): TensorInfo {
    const t = this.entry(name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.parsedStorage.kind === 'quant') return { name: t.name, dtype: 'f32', shape: t.shape, byteLength: n * 4 };
    return { name: t.name, dtype: t.parsedStorage.dtype, shape: t.shape, byteLength: t.raw_size };
  }

  /** Read and check every tensor (all checksums, full decode); throws on the first problem. */
  verify(onTensor?: (t: CllmVerifyTensor, done: number, total: number) => void): CllmVerifyTensor[] {
    const out: CllmVerifyTensor[] = [];
    const all = this.tensors();
    for (const t of all) {
      if (t.parsedStorage.kind === 'quant') this.readQuantized(t.name);
      else this.readStored(t.name);
      const r = { name: t.name, storage: t.storage, codec: t.codec, transform: t.transform, chunks: t.chunks.length, raw_bytes: t.raw_size, compressed_bytes: t.dataBytes };
      out.push(r);
      onTensor?.(r, out.length, all.length);
    }
    return out;
  }

  close(): void {
    this.src.close();
  }
}

/**
 * Open a .cllm file lazily.
 * @example
 * const f = openCllm('model.cllm'); f.manifest.tensors.length; f.close();
 */
export function openCllm(file: string): CllmFile {
  const src = openFileSource(file);
  try {
    return new CllmFile(src);
  } catch (e) {
    src.close();
    throw e;
  }
}

/**
 * A .cllm held in memory (tests, fuzzing, round trips without disk).
 * @example
 * const f = cllmFromBuffer(encodeCllm(tensors), 'mem.cllm');
 */
export function cllmFromBuffer(bytes: Uint8Array, file = '<buffer>'): CllmFile {
  return new CllmFile(bufferSource(bytes, file));
}

// ---- writing

/** One tensor to write: its raw stored bytes and how to compress them. */
export interface CllmTensorInput {
  readonly name: string;
  readonly shape: readonly number[];
  /** a dtype ('bf16', 'f32', 'q4_1', ...) or a quant spec (canonicalised) */
  readonly storage: string;
  /** raw stored bytes (see the header) */
  readonly data: Uint8Array;
  readonly transform?: Transform;
  readonly codec: CllmCodec;
  /** codec level (default: the codec's default; null for codecs without levels) */
  readonly level?: number | null;
  readonly chunkSize?: number;
}

/** What writing one tensor achieved, with the entropy bound of its stream. */
export interface CllmTensorStats {
  readonly name: string;
  readonly shape: readonly number[];
  readonly storage: string;
  readonly transform: Transform;
  readonly codec: CllmCodec;
  readonly chunks: number;
  readonly rawBytes: number;
  readonly compressedBytes: number;
  /** order-0 entropy of the raw stream by section / plane (after the transform for float storage) */
  readonly entropy: EntropyReport;
  /** seconds spent in transform + codec + hashing */
  readonly seconds: number;
}

export interface CllmWriteOptions {
  readonly config?: Record<string, unknown> | null;
  readonly tokenizer?: CllmTokenizer | null;
  readonly metadata?: Record<string, string>;
  /** called after each tensor is compressed */
  readonly onTensor?: (s: CllmTensorStats) => void;
  /** compute entropy reports (default true; a histogram pass per tensor) */
  readonly entropy?: boolean;
}

/**
 * Compress one tensor: transform, chunk, compress, hash.
 * @example
 * const { entry, chunks } = encodeTensor({ name: 'w', shape: [4], storage: 'f32', data, codec: 'zstd' });
 */
export function encodeTensor(t: CllmTensorInput, withEntropy = true): { entry: Omit<CllmTensorEntry, 'chunks'> & { chunks: ChunkEntry[] }; chunks: Uint8Array[]; stats: CllmTensorStats } {
  const t0 = performance.now();
  const nm = printable(t.name);
  const bad = (d: string) => err('E_ARG', msg.badArg(`tensor '${nm}'`, d));
  if (typeof t.name !== 'string' || t.name === '') throw bad('empty name');
  const storage = parseStorage(t.storage) ?? ((QUANT_FORMATS as readonly string[]).includes(t.storage.split(':')[0]!) ? toQuantStorage(t.storage) : null);
  if (!storage) throw err('E_DTYPE', msg.unknownDtype('<write>', nm, printable(t.storage)));
  const want = storedSize(storage, t.shape);
  if (want === null || want !== t.data.length) throw bad(`${t.data.length} bytes of data, storage ${t.storage} and shape [${t.shape.join(', ')}] need ${want}`);
  if (!(CLLM_CODECS as readonly string[]).includes(t.codec)) throw err('E_ARG', msg.unknownCodec(String(t.codec), CLLM_CODECS));
  const transform = t.transform ?? 'none';
  const es = elementSize(storage);
  const dtName = storage.kind === 'dtype' ? storage.dtype : 'quantized';
  const chunkSize = t.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1 || chunkSize > CLLM_LIMITS.chunkSize)
    throw err('E_ARG', msg.badArg('chunk size', `${chunkSize} is not an integer in [1, ${CLLM_LIMITS.chunkSize}]`));
  const lv = CPU_CODEC_LEVELS[t.codec];
  const level = lv === null ? null : (t.level ?? lv.default);
  const stream = applyTransform(transform, t.data, es, dtName);
  const entropy = withEntropy ? entropyReport(stream, storageSections(storage, transform, t.shape, stream.length)) : entropyReport(new Uint8Array(0));
  const n = Math.ceil(stream.length / chunkSize);
  const chunks: Uint8Array[] = [];
  const table: ChunkEntry[] = [];
  for (let c = 0; c < n; c++) {
    const raw = stream.subarray(c * chunkSize, Math.min((c + 1) * chunkSize, stream.length));
    const comp = t.codec === 'none' ? raw.slice() : cpuCompress(t.codec as CpuCodec, raw, level === null ? {} : { level });
    chunks.push(comp);
    table.push([0, comp.length, raw.length, hex(xxhash64(comp))]);
  }
  const compressedBytes = chunks.reduce((s, c) => s + c.length, 0);
  const sName = storageString(storage);
  const entry = {
    name: t.name,
    shape: [...t.shape],
    storage: sName,
    transform,
    codec: t.codec,
    level,
    chunk_size: chunkSize,
    raw_size: t.data.length,
    raw_xxhash64: hex(xxhash64(t.data)),
    chunks: table,
  };
  const stats: CllmTensorStats = {
    name: t.name,
    shape: [...t.shape],
    storage: sName,
    transform,
    codec: t.codec,
    chunks: n,
    rawBytes: t.data.length,
    compressedBytes,
    entropy,
    seconds: (performance.now() - t0) / 1000,
  };
  return { entry, chunks, stats };
}

function toQuantStorage(s: string): Storage {
  return { kind: 'quant', spec: parseSpec(s) }; // throws the quant lab's exact E_QUANT message
}

/** A file's parts: [header, manifest, ...chunks], and the stats of every tensor. */
export interface CllmEncoded {
  readonly parts: Uint8Array[];
  readonly manifest: CllmManifest;
  readonly stats: CllmTensorStats[];
  readonly bytes: number;
}

/**
 * Compress tensors (streamed: one raw tensor in memory at a time) and lay out the file's parts.
 * @example
 * const { parts } = encodeCllmParts([{ name: 'w', shape: [4], storage: 'f32', data, codec: 'zstd' }]);
 */
export function encodeCllmParts(tensors: Iterable<CllmTensorInput>, opts: CllmWriteOptions = {}): CllmEncoded {
  const chunks: Uint8Array[] = [];
  const r = encodeInto(tensors, opts, (c) => chunks.push(c));
  return { parts: [...r.head, ...chunks], manifest: r.manifest, stats: r.stats, bytes: r.bytes };
}

/**
 * Streaming encoder: `add` compresses one tensor and hands its chunks to `sink` in file order; `finish` lays out
 * header + manifest. (encodeInto runs it over an iterable; writeCllmAsync over an async one.)
 */
class CllmEncoder {
  private readonly entries: CllmTensorEntry[] = [];
  private readonly stats: CllmTensorStats[] = [];
  private readonly seen = new Set<string>();
  private cursor = 0;
  constructor(
    private readonly opts: CllmWriteOptions,
    private readonly sink: (chunk: Uint8Array) => void,
  ) {}

  add(t: CllmTensorInput): void {
    if (this.seen.has(t.name)) throw err('E_ARG', msg.badArg(`tensor '${printable(t.name)}'`, 'duplicate name'));
    this.seen.add(t.name);
    const e = encodeTensor(t, this.opts.entropy ?? true);
    for (let c = 0; c < e.chunks.length; c++) {
      const [, cs, rs, h] = e.entry.chunks[c]!;
      e.entry.chunks[c] = [this.cursor, cs, rs, h];
      this.cursor += cs;
      this.sink(e.chunks[c]!);
    }
    this.entries.push(e.entry);
    this.stats.push(e.stats);
    this.opts.onTensor?.(e.stats);
  }

  finish(): Omit<CllmEncoded, 'parts'> & { head: Uint8Array[] } {
    const opts = this.opts;
    const manifest: CllmManifest = {
      format_version: CLLM_VERSION,
      created_by: CLLM_CREATED_BY,
      config: opts.config ?? null,
      tokenizer: opts.tokenizer ?? null,
      metadata: { ...(opts.metadata ?? {}) },
      tensors: this.entries,
    };
    const mbytes = Buffer.from(JSON.stringify(manifest), 'utf8');
    if (mbytes.length > CLLM_LIMITS.manifestBytes) throw err('E_ARG', msg.tooLarge('<write>', 'manifest length', mbytes.length, CLLM_LIMITS.manifestBytes));
    const header = new Uint8Array(CLLM_HEADER_BYTES);
    const dv = new DataView(header.buffer);
    header.set(Buffer.from(CLLM_MAGIC, 'latin1'), 0);
    dv.setUint32(4, CLLM_VERSION, true);
    dv.setBigUint64(8, BigInt(mbytes.length), true);
    dv.setBigUint64(16, xxhash64(mbytes), true);
    dv.setBigUint64(24, xxhash64(header.subarray(0, 24)), true);
    return { head: [header, new Uint8Array(mbytes.buffer, mbytes.byteOffset, mbytes.length)], manifest, stats: this.stats, bytes: CLLM_HEADER_BYTES + mbytes.length + this.cursor };
  }
}

/** Compress every tensor, handing each compressed chunk to `sink` in file order; returns header + manifest. */
function encodeInto(tensors: Iterable<CllmTensorInput>, opts: CllmWriteOptions, sink: (chunk: Uint8Array) => void): Omit<CllmEncoded, 'parts'> & { head: Uint8Array[] } {
  const enc = new CllmEncoder(opts, sink);
  for (const t of tensors) enc.add(t);
  return enc.finish();
}

/**
 * Encode to one buffer.
 * @example
 * const bytes = encodeCllm([{ name: 'w', shape: [4], storage: 'f32', data, codec: 'lz4' }]);
 */
export function encodeCllm(tensors: Iterable<CllmTensorInput>, opts: CllmWriteOptions = {}): Uint8Array {
  return concatParts(encodeCllmParts(tensors, opts).parts);
}

/**
 * Concatenate byte arrays.
 * @example
 * concatParts([new Uint8Array([1]), new Uint8Array([2, 3])]); // [1, 2, 3]
 */
export function concatParts(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Write a .cllm atomically (temp file in the same folder, fsync, rename, fsync the folder): a crash or a failure
 * mid-write leaves the previous file untouched. Streams: compressed chunks go to a scratch file beside the target
 * as they are produced (the manifest, which comes first, is only known at the end), so memory holds one tensor,
 * not the whole compressed model. Both temp files are removed on failure and on SIGINT/SIGTERM/SIGHUP (see
 * util/temp-files.ts); the target must be a regular file or absent, and keeps its mode and owner when replaced.
 * @example
 * writeCllm('m.cllm', tensors, { config: hfConfigJson(cfg) });
 */
export function writeCllm(file: string, tensors: Iterable<CllmTensorInput>, opts: CllmWriteOptions = {}): Omit<CllmEncoded, 'parts'> {
  const s = openScratch(file);
  try {
    return s.commit(encodeInto(tensors, opts, s.sink));
  } finally {
    s.close();
  }
}

/**
 * {@link writeCllm} over an async (or plain) iterable, returning to the event loop between tensors so that a
 * signal (Ctrl-C) is handled within one tensor's work: the CLI's compress runs this.
 * @example
 * await writeCllmAsync('m.cllm', tensors, { config });
 */
export async function writeCllmAsync(file: string, tensors: AsyncIterable<CllmTensorInput> | Iterable<CllmTensorInput>, opts: CllmWriteOptions = {}): Promise<Omit<CllmEncoded, 'parts'>> {
  const s = openScratch(file);
  try {
    const enc = new CllmEncoder(opts, s.sink);
    for await (const t of tensors) {
      enc.add(t);
      await new Promise<void>((r) => setImmediate(r));
    }
    return s.commit(enc.finish());
  } finally {
    s.close();
  }
}

/** The scratch file of a streamed write: `sink` appends chunks, `commit` writes header + manifest + chunks atomically. */
function openScratch(file: string) {
  checkOutFile(file, 'output');
  const dir = path.dirname(path.resolve(file));
  removeStaleTemps(dir);
  const scratch = tempPathFor(file, 'data-tmp');
  registerTemp(scratch); // before it exists: a signal between the open and the registration would leave it behind
  let fd: number;
  try {
    fd = fs.openSync(scratch, 'wx+', 0o600);
  } catch (e) {
    unregisterTemp(scratch);
    throw ioError(file, e);
  }
  let size = 0;
  return {
    sink(c: Uint8Array): void {
      let done = 0;
      try {
        while (done < c.length) done += fs.writeSync(fd, c, done, c.length - done, size + done);
      } catch (e) {
        throw ioError(file, e);
      }
      size += c.length;
    },
    commit(r: Omit<CllmEncoded, 'parts'> & { head: Uint8Array[] }): Omit<CllmEncoded, 'parts'> {
      function* parts(): Generator<Uint8Array> {
        for (const h of r.head) yield h;
        const block = new Uint8Array(Math.min(Math.max(size, 1), 1 << 24));
        for (let off = 0; off < size; ) {
          const n = fs.readSync(fd, block, 0, Math.min(block.length, size - off), off);
          if (n <= 0) throw err('E_IO', msg.readFailed(scratch, `unexpected end of file at offset ${off}`));
          yield block.subarray(0, n); // writeFileAtomic writes it before asking for the next
          off += n;
        }
      }
      writeFileAtomic(file, parts());
      return { manifest: r.manifest, stats: r.stats, bytes: r.bytes };
    },
    close(): void {
      fs.closeSync(fd);
      fs.rmSync(scratch, { force: true });
      unregisterTemp(scratch);
    },
  };
}
