/**
 * GGUF (llama.cpp's checkpoint format), versions 2 and 3: lazy reader and atomic writer.
 *
 * Layout (all little-endian; ggml/docs/gguf.md):
 *   u32 magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
 *   kv_count x  { string key | u32 value_type | value }      string = u64 length + UTF-8 bytes
 *   tensor_count x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
 *   padding to `general.alignment` (default 32) | data section (each tensor at an aligned offset)
 * `ne` lists dims innermost first; we return shapes in PyTorch order (ne reversed): a linear weight
 * stored as ne = [in, out] reads as shape [out, in].
 *
 * Hostile input: every count, length and offset is bounded by the bytes that remain (and by fixed limits below)
 * before anything is allocated, arithmetic is checked, and errors are one-line CodecLLMErrors (E_GGUF, or E_DTYPE
 * for an unsupported tensor type) naming the file.
 */
import { err, msg } from '../messages.js';
import { DTYPES, type StorageDType } from './dtypes.js';
import type { TensorInfo } from './tensor.js';
import { IndexedFileSource } from './file-source.js';
import {
  BinaryReader, ByteWriter, alignUp, bufferSource, openFileSource, parseWithGrowingPrefix, printable, safeAdd, safeMul, toSafe,
  writeFileAtomic, type ByteSource, type ParseCtx,
} from './binary.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Limits on hostile input (far above any real model). */
export const GGUF_LIMITS = {
  tensors: 1 << 20,
  kvs: 1 << 20,
  arrayLength: 1 << 24,
  arrayDepth: 8,
  keyBytes: 1 << 16,
  nameBytes: 1 << 16,
  stringBytes: 1 << 26,
  dims: 4,
} as const;

/** Metadata value types; the index in GGUF_TYPE_CODES is the on-disk code (append-only). */
export const GGUFType = {
  UINT8: 'uint8', INT8: 'int8', UINT16: 'uint16', INT16: 'int16', UINT32: 'uint32', INT32: 'int32', FLOAT32: 'float32',
  BOOL: 'bool', STRING: 'string', ARRAY: 'array', UINT64: 'uint64', INT64: 'int64', FLOAT64: 'float64',
} as const;
export type GGUFType = (typeof GGUFType)[keyof typeof GGUFType];
export const GGUF_TYPE_CODES: readonly GGUFType[] = [
  'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64',
];
/** Smallest encoding of one value of each type (bounds array lengths before reading them). */
const MIN_BYTES: Record<GGUFType, number> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, bool: 1, string: 8, array: 12, uint64: 8, int64: 8, float64: 8,
};

/** 64-bit integers are bigints; other numbers are numbers. */
export type GGUFValue = number | bigint | string | boolean | GGUFValue[];

/** One metadata key/value with its stored type (`itemType` for arrays). */
export interface GGUFMetadataEntry {
  readonly key: string;
  readonly type: GGUFType;
  readonly itemType?: GGUFType;
  readonly value: GGUFValue;
}

/** ggml type number -> our dtype, for the types we read. Others are named in errors (GGML_TYPE_NAMES). */
const FROM_GGML: Readonly<Record<number, StorageDType>> = {
  0: 'f32', 1: 'f16', 2: 'q4_0', 3: 'q4_1', 6: 'q5_0', 7: 'q5_1', 8: 'q8_0', 10: 'q2_k', 11: 'q3_k', 12: 'q4_k', 13: 'q5_k', 14: 'q6_k', 24: 'i8', 25: 'i16', 26: 'i32', 27: 'i64', 28: 'f64', 30: 'bf16',
};
const TO_GGML = Object.fromEntries(Object.entries(FROM_GGML).map(([k, v]) => [v, Number(k)])) as Partial<Record<StorageDType, number>>;
/** ggml_type names (ggml.h), for error messages. */
const GGML_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K',
  13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S',
  22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0',
  35: 'TQ2_0', 39: 'MXFP4',
};

/** A GGUF tensor: info (PyTorch-order shape) plus its ggml type and offset in the data section. */
export interface GGUFTensorInfo extends TensorInfo {
  readonly ggmlType: number;
  /** Offset relative to the data section (as stored). */
  readonly offset: number;
  /** GGUF `ne`: dims innermost first. */
  readonly ne: readonly number[];
}

/** A parsed GGUF header. */
export interface GGUFHeader {
  readonly version: number;
  readonly entries: GGUFMetadataEntry[];
  readonly alignment: number;
  readonly tensors: GGUFTensorInfo[];
  /** Absolute file offset of the data section. */
  readonly dataOffset: number;
}

function readValue(r: BinaryReader, type: GGUFType, key: string, depth: number): GGUFValue {
  const what = `value of '${key}'`;
  switch (type) {
    case 'uint8': return r.u8(what);
    case 'int8': return r.i8(what);
    case 'uint16': return r.u16(what);
    case 'int16': return r.i16(what);
    case 'uint32': return r.u32(what);
    case 'int32': return r.i32(what);
    case 'float32': return r.f32(what);
    case 'uint64': return r.u64(what);
    case 'int64': return r.i64(what);
    case 'float64': return r.f64(what);
    case 'bool': {
      const b = r.u8(what);
      if (b > 1) throw err('E_GGUF', msg.badHeader(r.ctx.file, `metadata '${key}' has bool value ${b}`));
      return b === 1;
    }
    case 'string': return r.string(GGUF_LIMITS.stringBytes, what);
    case 'array': {
      if (depth >= GGUF_LIMITS.arrayDepth) throw err('E_GGUF', msg.badHeader(r.ctx.file, `metadata '${key}' nests arrays deeper than ${GGUF_LIMITS.arrayDepth}`));
      const itemType = readType(r, key);
      const n = toSafe(r.ctx, r.u64(`length of '${key}'`), `array length of '${key}'`, GGUF_LIMITS.arrayLength);
      if (n * MIN_BYTES[itemType] > r.remaining) throw err('E_GGUF', msg.truncated(r.ctx.file, `array '${key}'`, n * MIN_BYTES[itemType], r.remaining));
      const out: GGUFValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(r, itemType, key, depth + 1);
      return out;
    }
  }
}

function readType(r: BinaryReader, key: string): GGUFType {
  const code = r.u32(`type of '${key}'`);
  const t = GGUF_TYPE_CODES[code];
  if (t === undefined) throw err('E_GGUF', msg.badHeader(r.ctx.file, `metadata '${key}' has unknown value type ${code}`));
  return t;
}

/**
 * Parse a GGUF header from `bytes`, the first `bytes.length` of a `fileSize`-byte file. Throws NeedMoreBytes (internal)
 * when the prefix is too short, or a one-line CodecLLMError.
 */
function parseHeader(bytes: Uint8Array, fileSize: number, file: string): GGUFHeader {
  const ctx: ParseCtx = { file, code: 'E_GGUF' };
  const bad = (detail: string) => err('E_GGUF', msg.badHeader(file, detail));
  const r = new BinaryReader(bytes, ctx, fileSize);
  if (fileSize < 4 || r.u32('magic') !== GGUF_MAGIC) throw err('E_GGUF', msg.badMagic(file, 'GGUF'));
  const version = r.u32('version');
  if (version !== 2 && version !== 3) throw err('E_GGUF', msg.unsupportedVersion(file, 'GGUF', version));
  const nTensors = toSafe(ctx, r.u64('tensor count'), 'tensor count', GGUF_LIMITS.tensors);
  const nKv = toSafe(ctx, r.u64('metadata count'), 'metadata count', GGUF_LIMITS.kvs);
  if (nKv * 13 > r.remaining) throw err('E_GGUF', msg.truncated(file, 'metadata', nKv * 13, r.remaining));

  const entries: GGUFMetadataEntry[] = [];
  const keys = new Set<string>();
  for (let i = 0; i < nKv; i++) {
    const key = r.string(GGUF_LIMITS.keyBytes, `metadata key ${i}`);
    const shown = printable(key); // the key as messages show it
    if (keys.has(key)) throw bad(`duplicate metadata key '${shown}'`);
    keys.add(key);
    const type = readType(r, shown);
    if (type === 'array') {
      const save = r.pos;
      const itemType = readType(r, shown);
      r.pos = save;
      entries.push({ key, type, itemType, value: readValue(r, type, shown, 0) });
    } else entries.push({ key, type, value: readValue(r, type, shown, 0) });
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const al = entries.find((e) => e.key === 'general.alignment');
  if (al) {
    const v = al.value;
    const ok = (al.type === 'uint32' || al.type === 'uint64' || al.type === 'uint16' || al.type === 'uint8') && (typeof v === 'number' || typeof v === 'bigint');
    const a = ok && BigInt(v as number | bigint) <= 0x40000000n ? Number(v) : 0;
    if (a <= 0 || (a & (a - 1)) !== 0) throw bad(`general.alignment ${printable(String(v))} is not a power of two`);
    alignment = a;
  }

  if (nTensors * 24 > r.remaining) throw err('E_GGUF', msg.truncated(file, 'tensor infos', nTensors * 24, r.remaining));
  const tensors: GGUFTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = r.string(GGUF_LIMITS.nameBytes, `name of tensor ${i}`);
    const nm = printable(name); // the name as messages show it
    if (names.has(name)) throw err('E_GGUF', msg.duplicateTensor(file, nm));
    names.add(name);
    const nDims = r.u32(`dims of '${nm}'`);
    if (nDims > GGUF_LIMITS.dims) throw bad(`tensor '${nm}' has ${nDims} dimensions (at most ${GGUF_LIMITS.dims})`);
    const ne: number[] = [];
    let n = 1;
    for (let j = 0; j < nDims; j++) {
      const d = r.i64(`dims of '${nm}'`);
      if (d <= 0n || d > BigInt(Number.MAX_SAFE_INTEGER)) throw err('E_GGUF', msg.badDim(file, nm, `ne[${j}] = ${d}`));
      ne.push(Number(d));
      n = safeMul(ctx, n, Number(d), `element count of tensor '${nm}'`);
    }
    const ggmlType = r.u32(`type of '${nm}'`);
    const dtype = FROM_GGML[ggmlType];
    if (dtype === undefined) {
      const tn = GGML_TYPE_NAMES[ggmlType];
      const why = tn?.startsWith('IQ') ? '; IQ codebook types are not supported' : tn?.startsWith('TQ') ? '; ternary types are not supported' : '';
      throw err('E_DTYPE', msg.unknownDtype(file, nm, tn ? `${tn} (ggml type ${ggmlType}${why})` : `ggml type ${ggmlType}`));
    }
    const { blockElems, blockBytes } = DTYPES[dtype];
    if ((ne[0] ?? 1) % blockElems !== 0) {
      throw err('E_GGUF', msg.badDim(file, nm, `ne[0] = ${ne[0] ?? 1} (not a multiple of the ${dtype} block of ${blockElems})`));
    }
    const byteLength = safeMul(ctx, n / blockElems, blockBytes, `byte size of tensor '${nm}'`);
    const offset = toSafe(ctx, r.u64(`offset of '${nm}'`), `offset of tensor '${nm}'`);
    if (offset % alignment !== 0) throw err('E_GGUF', msg.badAlignment(file, nm, alignment));
    tensors.push({ name, dtype, shape: [...ne].reverse(), byteLength, ggmlType, offset, ne });
  }

  // The data section starts at the next aligned offset; every tensor must lie inside the file, none overlapping.
  const dataOffset = alignUp(ctx, r.pos, alignment, 'data section offset');
  const dataSize = Math.max(0, fileSize - dataOffset);
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  let cursor = 0;
  for (const t of sorted) {
    const nm = printable(t.name);
    const end = safeAdd(ctx, t.offset, t.byteLength, `end of tensor '${nm}'`);
    if (end > dataSize) throw err('E_GGUF', msg.outOfBounds(file, nm, t.offset, end, dataSize));
    if (t.offset < cursor) throw err('E_GGUF', msg.dataNotCovered(file, `tensor '${nm}' at ${t.offset} overlaps data up to ${cursor}`));
    cursor = end;
  }
  return { version, entries, alignment, tensors, dataOffset };
}

/**
 * A lazily read GGUF file: header parsed at open, tensor bytes read (and dequantized) on demand.
 *
 * @example
 * const g = openGGUF('m.gguf'); g.info('blk.0.attn_q.weight').shape; // [576, 576] (PyTorch order)
 */
export class GGUFFile extends IndexedFileSource<GGUFTensorInfo> {
  readonly version: number;
  readonly metadata: Map<string, GGUFValue>;
  /** Metadata with stored types, in file order (feed to `writeGGUF` to copy a file). */
  readonly entries: readonly GGUFMetadataEntry[];
  readonly alignment: number;

  constructor(src: ByteSource, h: GGUFHeader) {
    super(src, h.tensors, h.dataOffset);
    this.version = h.version;
    this.entries = h.entries;
    this.metadata = new Map(h.entries.map((e) => [e.key, e.value]));
    this.alignment = h.alignment;
  }
  protected offsetOf(t: GGUFTensorInfo): number {
    return t.offset;
  }
}

/**
 * Open a GGUF v2/v3 file lazily: reads only as much of the file as the header needs.
 *
 * @example
 * const g = openGGUF('data/models/smollm2-135m-q4_1.gguf');
 * g.metadata.get('general.architecture'); // 'llama'
 * const emb = g.readF32('token_embd.weight'); g.close();
 */
export function openGGUF(file: string): GGUFFile {
  const src = openFileSource(file);
  try {
    return new GGUFFile(src, parseWithGrowingPrefix(src, 1 << 20, (prefix) => parseHeader(prefix, src.size, file)));
  } catch (e) {
    src.close();
    throw e;
  }
}

/**
 * Parse a GGUF file held in memory (no disk): same checks and API as `openGGUF`. Used by the fuzzer and tests.
 *
 * @example
 * const g = parseGGUF(encodeGGUF({ metadata: [], tensors: [] }), 'empty.gguf'); g.version; // 3
 */
export function parseGGUF(bytes: Uint8Array, file = '<buffer>'): GGUFFile {
  return new GGUFFile(bufferSource(bytes, file), parseHeader(bytes, bytes.length, file));
}

/** What `writeGGUF` writes: metadata entries and tensors with PyTorch-order shapes (stored as reversed `ne`). */
export interface GGUFWriteSpec {
  readonly metadata: readonly { key: string; type: GGUFType; itemType?: GGUFType; value: GGUFValue }[];
  readonly tensors: readonly { name: string; dtype: StorageDType; shape: readonly number[]; data: Uint8Array }[];
}

function writeValue(w: ByteWriter, type: GGUFType, v: GGUFValue, key: string, itemType?: GGUFType): void {
  const bad = (d: string) => err('E_ARG', msg.badArg(`GGUF metadata '${key}'`, d));
  const int = (lo: number, hi: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw bad(`${String(v)} is not a ${type}`);
    return v;
  };
  const big = (lo: bigint, hi: bigint) => {
    const b = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined;
    if (b === undefined || b < lo || b > hi) throw bad(`${String(v)} is not a ${type}`);
    return b;
  };
  switch (type) {
    case 'uint8': w.u8(int(0, 0xff)); break;
    case 'int8': w.i8(int(-0x80, 0x7f)); break;
    case 'uint16': w.u16(int(0, 0xffff)); break;
    case 'int16': w.i16(int(-0x8000, 0x7fff)); break;
    case 'uint32': w.u32(int(0, 0xffffffff)); break;
    case 'int32': w.i32(int(-0x80000000, 0x7fffffff)); break;
    case 'uint64': w.u64(big(0n, (1n << 64n) - 1n)); break;
    case 'int64': w.i64(big(-(1n << 63n), (1n << 63n) - 1n)); break;
    case 'float32':
    case 'float64':
      if (typeof v !== 'number') throw bad(`${String(v)} is not a ${type}`);
      type === 'float32' ? w.f32(v) : w.f64(v);
      break;
    case 'bool':
      if (typeof v !== 'boolean') throw bad(`${String(v)} is not a bool`);
      w.u8(v ? 1 : 0);
      break;
    case 'string':
      if (typeof v !== 'string') throw bad('value is not a string');
      w.string(v);
      break;
    case 'array':
      if (!Array.isArray(v) || itemType === undefined || itemType === 'array' || !GGUF_TYPE_CODES.includes(itemType)) {
        throw bad('an array needs an array value and a non-array itemType');
      }
      w.u32(GGUF_TYPE_CODES.indexOf(itemType)).u64(v.length);
      for (const x of v) writeValue(w, itemType, x, key);
      break;
    default:
      throw bad(`unknown type ${String(type)}`);
  }
}

/** Lay out the file as chunks: [header+kv+infos+padding, tensor0, pad0, tensor1, pad1, ...]. */
function plan(spec: GGUFWriteSpec): Uint8Array[] {
  const al = spec.metadata.find((m) => m.key === 'general.alignment');
  const alignment = al ? Number(al.value) : GGUF_DEFAULT_ALIGNMENT;
  if (al && (al.type !== 'uint32' || !(alignment > 0) || (alignment & (alignment - 1)) !== 0)) {
    throw err('E_ARG', msg.badArg('general.alignment', `${String(al.value)} must be a uint32 power of two`));
  }
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC).u32(3).u64(spec.tensors.length).u64(spec.metadata.length);
  const keys = new Set<string>();
  for (const m of spec.metadata) {
    if (keys.has(m.key)) throw err('E_ARG', msg.badArg(`GGUF metadata '${m.key}'`, 'duplicate key'));
    keys.add(m.key);
    if (!GGUF_TYPE_CODES.includes(m.type)) throw err('E_ARG', msg.badArg(`GGUF metadata '${m.key}'`, `unknown type ${String(m.type)}`));
    w.string(m.key).u32(GGUF_TYPE_CODES.indexOf(m.type));
    writeValue(w, m.type, m.value, m.key, m.itemType);
  }
  const chunks: Uint8Array[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const t of spec.tensors) {
    const bad = (d: string) => err('E_ARG', msg.badArg(`tensor '${t.name}'`, d));
    if (names.has(t.name)) throw bad('duplicate name');
    names.add(t.name);
    const code = TO_GGML[t.dtype];
    if (code === undefined) throw bad(`dtype ${t.dtype} cannot be stored in GGUF`);
    if (t.shape.length > GGUF_LIMITS.dims || t.shape.some((d) => !Number.isSafeInteger(d) || d <= 0)) {
      throw bad(`shape [${t.shape.join(', ')}] must have at most 4 positive dims`);
    }
    const { blockElems, blockBytes } = DTYPES[t.dtype];
    const ne = [...t.shape].reverse();
    const n = ne.reduce((a, b) => a * b, 1);
    if ((ne[0] ?? 1) % blockElems !== 0) throw bad(`last dim ${ne[0] ?? 1} is not a multiple of the ${t.dtype} block of ${blockElems}`);
    const need = (n / blockElems) * blockBytes;
    if (t.data.length !== need) throw bad(`${t.data.length} bytes of data, dtype ${t.dtype} and shape [${t.shape.join(', ')}] need ${need}`);
    w.string(t.name).u32(ne.length);
    for (const d of ne) w.u64(d);
    w.u32(code).u64(offset);
    const padded = Math.ceil(need / alignment) * alignment;
    chunks.push(t.data, new Uint8Array(padded - need));
    offset += padded;
  }
  w.pad(alignment);
  return [w.finish(), ...chunks];
}

/**
 * Encode a GGUF v3 file in memory (alignment 32 unless `general.alignment` says otherwise).
 *
 * @example
 * const bytes = encodeGGUF({
 *   metadata: [{ key: 'general.architecture', type: GGUFType.STRING, value: 'llama' }],
 *   tensors: [{ name: 'w', dtype: 'f32', shape: [2, 3], data: new Uint8Array(24) }],
 * });
 */
export function encodeGGUF(spec: GGUFWriteSpec): Uint8Array {
  const chunks = plan(spec);
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Write a GGUF v3 file atomically (temp file in the same folder, fsync, rename).
 *
 * @example
 * writeGGUF('tiny.gguf', { metadata: [{ key: 'general.architecture', type: 'string', value: 'llama' }], tensors: [] });
 */
export function writeGGUF(file: string, spec: GGUFWriteSpec): void {
  writeFileAtomic(file, plan(spec));
}
