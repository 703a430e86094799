/**
 * safetensors: reader (lazy, one file or a sharded set) and atomic writer, following the format's own rules
 * (https://github.com/huggingface/safetensors): 8-byte LE header length N (<= 100 MB and inside the file), N bytes of
 * UTF-8 JSON object `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`, then the
 * data section. Offsets are relative to the data section; sorted by offset, tensors must tile it exactly (no holes,
 * no overlap, nothing after the last one) and each must hold numel * dtype size bytes. Duplicate names are rejected.
 *
 * Layout: file = [u64 N][header: N bytes JSON][data: fileSize - 8 - N bytes]
 */
import * as path from 'node:path';
import { err, msg } from '../messages.js';
import { DTYPES, type ElementDType } from './dtypes.js';
import type { TensorInfo, TensorSource } from './tensor.js';
import { IndexedFileSource } from './file-source.js';
import { bufferSource, openFileSource, printable, safeMul, writeFileAtomic, type ByteSource, type ParseCtx } from './binary.js';

/** Largest accepted header (the safetensors reference uses the same bound). */
export const MAX_HEADER_BYTES = 100_000_000;

/** safetensors dtype string <-> our element dtype. Others (U16, F8_E4M3, ...) are unsupported. */
const FROM_ST: Readonly<Record<string, ElementDType>> = {
  F64: 'f64', F32: 'f32', F16: 'f16', BF16: 'bf16', I64: 'i64', I32: 'i32', I16: 'i16', I8: 'i8', U8: 'u8', BOOL: 'bool',
};
const TO_ST = Object.fromEntries(Object.entries(FROM_ST).map(([k, v]) => [v, k])) as Record<ElementDType, string>;

/** One tensor of a safetensors header: its info plus [begin, end) relative to the data section. */
export interface SafetensorsEntry extends TensorInfo {
  readonly dtype: ElementDType;
  readonly begin: number;
  readonly end: number;
}

/** A parsed header: tensors in data order, the `__metadata__` map, and where the data section starts in the file. */
export interface SafetensorsHeader {
  readonly tensors: SafetensorsEntry[];
  readonly metadata: Record<string, string>;
  readonly dataOffset: number;
}

/**
 * First key that occurs twice in one object of JSON `text`, with its depth (1 = top level); null if none.
 * `JSON.parse` silently keeps the last duplicate, so we scan; `text` must already be valid JSON.
 * Hand-written: ~20 lines, and no well-kept JSON library reports duplicates as a plain check.
 *
 * @example
 * findDuplicateKey('{"a":1,"b":{"c":1,"c":2}}'); // { key: 'c', depth: 2 }
 */
export function findDuplicateKey(text: string): { key: string; depth: number } | null {
  const stack: (Set<string> | null)[] = []; // per open object: its keys; per open array: null
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      let j = i + 1;
      while (text[j] === ' ' || text[j] === '\n' || text[j] === '\r' || text[j] === '\t') j++;
      const top = stack[stack.length - 1];
      if (top && text[j] === ':') {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.has(key)) return { key, depth: stack.length };
        top.add(key);
      }
    }
  }
  return null;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Validate a safetensors JSON header (bytes or text) against a file of `fileSize` bytes; throws a one-line
 * CodecLLMError (E_SAFETENSORS, or E_DTYPE for an unsupported dtype) naming `file` and the problem.
 * Works on memory only, so the fuzzer needs no disk.
 *
 * @example
 * const h = parseSafetensorsHeader('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 8 + 55 + 8, 'm.safetensors');
 * h.tensors[0].shape; // [2]
 */
export function parseSafetensorsHeader(header: Uint8Array | string, fileSize: number, file: string): SafetensorsHeader {
  const ctx: ParseCtx = { file, code: 'E_SAFETENSORS' };
  const bad = (detail: string) => err('E_SAFETENSORS', msg.badHeader(file, detail));
  let text: string;
  let headerBytes: number;
  if (typeof header === 'string') {
    text = header;
    headerBytes = Buffer.byteLength(header, 'utf8');
  } else {
    headerBytes = header.length;
    try {
      text = fatalUtf8.decode(header);
    } catch {
      throw bad('header is not valid UTF-8');
    }
  }
  const dataOffset = 8 + headerBytes;
  const dataSize = fileSize - dataOffset;
  if (dataSize < 0) throw err('E_SAFETENSORS', msg.truncated(file, 'header', headerBytes, Math.max(0, fileSize - 8)));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('header is not valid JSON');
  }
  if (!isObj(json)) throw bad('header is not a JSON object');
  const dup = findDuplicateKey(text);
  if (dup && dup.depth === 1) throw err('E_SAFETENSORS', msg.duplicateTensor(file, printable(dup.key)));
  if (dup) throw bad(`duplicate key '${printable(dup.key)}'`);

  let metadata: Record<string, string> = {};
  const tensors: SafetensorsEntry[] = [];
  for (const [name, v] of Object.entries(json)) {
    const nm = printable(name); // the name as messages show it
    if (name === '__metadata__') {
      if (!isObj(v) || !Object.values(v).every((s) => typeof s === 'string')) throw bad('__metadata__ must map strings to strings');
      metadata = Object.fromEntries(Object.entries(v)) as Record<string, string>;
      continue;
    }
    if (!isObj(v)) throw bad(`entry '${nm}' is not an object`);
    const { dtype: st, shape, data_offsets: offs } = v;
    if (typeof st !== 'string') throw bad(`tensor '${nm}' has no dtype string`);
    const dtype = Object.hasOwn(FROM_ST, st) ? FROM_ST[st]! : undefined;
    if (!dtype) throw err('E_DTYPE', msg.unknownDtype(file, nm, printable(st)));
    if (!Array.isArray(shape)) throw bad(`tensor '${nm}' shape is not an array`);
    let n = 1;
    for (const d of shape) {
      if (!isUint(d)) throw err('E_SAFETENSORS', msg.badDim(file, nm, printable(JSON.stringify(d) ?? String(d))));
      n = safeMul(ctx, n, d, `element count of tensor '${nm}'`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !isUint(offs[0]) || !isUint(offs[1]) || offs[0] > offs[1]) {
      throw bad(`tensor '${nm}' data_offsets must be [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offs as [number, number];
    const bytes = safeMul(ctx, n, DTYPES[dtype].blockBytes, `byte size of tensor '${nm}'`);
    if (bytes !== end - begin) throw err('E_SAFETENSORS', msg.sizeMismatch(file, nm, bytes, end - begin));
    if (end > dataSize) throw err('E_SAFETENSORS', msg.outOfBounds(file, nm, begin, end, dataSize));
    tensors.push({ name, dtype, shape: shape as number[], byteLength: bytes, begin, end });
  }
  // Sorted by offset, the tensors must tile [0, dataSize) exactly.
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const t of tensors) {
    const nm = printable(t.name);
    if (t.begin > cursor) throw err('E_SAFETENSORS', msg.dataNotCovered(file, `hole [${cursor}, ${t.begin}) before tensor '${nm}'`));
    if (t.begin < cursor) throw err('E_SAFETENSORS', msg.dataNotCovered(file, `tensor '${nm}' at ${t.begin} overlaps data up to ${cursor}`));
    cursor = t.end;
  }
  if (cursor !== dataSize) throw err('E_SAFETENSORS', msg.dataNotCovered(file, `${dataSize - cursor} bytes after the last tensor`));
  return { tensors, metadata, dataOffset };
}

/**
 * A lazily read safetensors file: header parsed at open, tensor bytes read on demand.
 *
 * @example
 * const st = openSafetensors('model.safetensors'); st.metadata.format; // 'pt'
 */
export class SafetensorsFile extends IndexedFileSource<SafetensorsEntry> {
  readonly metadata: Record<string, string>;

  constructor(src: ByteSource, header: SafetensorsHeader) {
    super(src, header.tensors, header.dataOffset);
    this.metadata = header.metadata;
  }
  protected offsetOf(t: SafetensorsEntry): number {
    return t.begin;
  }
}

/** Parse the 8-byte length and the header from a byte source; closes the source on error. */
function openFromSource(src: ByteSource): SafetensorsFile {
  try {
    const { file, size } = src;
    if (size < 8) throw err('E_SAFETENSORS', msg.truncated(file, 'header length', 8, size));
    const lenBytes = src.read(0, 8);
    const n = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER_BYTES)) throw err('E_SAFETENSORS', msg.tooLarge(file, 'header length', n, MAX_HEADER_BYTES));
    if (n > BigInt(size - 8)) throw err('E_SAFETENSORS', msg.truncated(file, 'header', n, size - 8));
    return new SafetensorsFile(src, parseSafetensorsHeader(src.read(8, Number(n)), size, file));
  } catch (e) {
    src.close();
    throw e;
  }
}

/**
 * Open a .safetensors file lazily (reads the 8-byte length and the header only).
 *
 * @example
 * const st = openSafetensors('model.safetensors');
 * const w = st.readF32('model.embed_tokens.weight'); st.close();
 */
export function openSafetensors(file: string): SafetensorsFile {
  return openFromSource(openFileSource(file));
}

/**
 * A safetensors file held in memory (no disk): same checks and API as `openSafetensors`.
 *
 * @example
 * const st = safetensorsFromBuffer(encodeSafetensors([{ name: 'w', dtype: 'f32', shape: [1], data: new Uint8Array(4) }]));
 */
export function safetensorsFromBuffer(bytes: Uint8Array, file = '<buffer>'): SafetensorsFile {
  return openFromSource(bufferSource(bytes, file));
}

/**
 * Open a sharded checkpoint from its `model.safetensors.index.json` (`weight_map`: tensor name -> shard file in the
 * same folder). Every shard header is parsed at open; tensors come in shard order, then file order.
 *
 * @example
 * const src = openShardedSafetensors('Qwen2-7B/model.safetensors.index.json');
 * src.info('lm_head.weight').shape;
 */
export function openShardedSafetensors(indexJsonFile: string): TensorSource & { readonly shards: readonly SafetensorsFile[] } {
  const bad = (detail: string) => err('E_SAFETENSORS', msg.badIndex(indexJsonFile, detail));
  const src = openFileSource(indexJsonFile);
  let text: string;
  try {
    if (src.size > MAX_HEADER_BYTES) throw err('E_SAFETENSORS', msg.tooLarge(indexJsonFile, 'index size', src.size, MAX_HEADER_BYTES));
    text = Buffer.from(src.read(0, src.size)).toString('utf8');
  } finally {
    src.close();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('not valid JSON');
  }
  const dup = findDuplicateKey(text);
  if (dup) throw bad(`duplicate key '${printable(dup.key)}'`);
  if (!isObj(json) || !isObj(json.weight_map)) throw bad("no 'weight_map' object");
  const dir = path.dirname(indexJsonFile);
  const shardOf = new Map<string, string>(); // tensor -> shard path
  for (const [name, rel] of Object.entries(json.weight_map)) {
    if (typeof rel !== 'string' || rel === '') throw bad(`weight_map entry '${printable(name)}' is not a file name`);
    if (path.isAbsolute(rel) || rel.split(/[\\/]/).includes('..')) throw bad(`shard '${printable(rel)}' lies outside the model folder`);
    shardOf.set(name, path.join(dir, rel));
  }
  const shards = new Map<string, SafetensorsFile>();
  try {
    for (const p of new Set(shardOf.values())) shards.set(p, openSafetensors(p));
    for (const [name, p] of shardOf) if (!shards.get(p)!.has(name)) throw err('E_FORMAT', msg.missingTensor(p, printable(name)));
  } catch (e) {
    for (const s of shards.values()) s.close();
    throw e;
  }
  const order = [...shards.values()].flatMap((s) => s.list().filter((t) => shardOf.get(t.name) === s.file));
  const shardFor = (name: string) => {
    const p = shardOf.get(name);
    if (p === undefined) throw err('E_FORMAT', msg.missingTensor(indexJsonFile, printable(name)));
    return shards.get(p)!;
  };
  return {
    file: indexJsonFile,
    shards: [...shards.values()],
    list: () => [...order],
    has: (name) => shardOf.has(name),
    info: (name) => shardFor(name).info(name),
    readRaw: (name) => shardFor(name).readRaw(name),
    readF32: (name) => shardFor(name).readF32(name),
    close: () => shards.forEach((s) => s.close()),
  };
}

/** A tensor to write: raw little-endian bytes of `dtype` with row-major `shape`. */
export interface SafetensorsTensorInput {
  readonly name: string;
  readonly dtype: ElementDType;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** A tensor's header entry before its data exists: name, dtype, shape (the streaming writer's input). */
export interface SafetensorsTensorSpec {
  readonly name: string;
  readonly dtype: ElementDType;
  readonly shape: readonly number[];
}

/**
 * The [u64 length][header JSON padded with spaces to 8 bytes] prefix of a safetensors file holding `tensors` in the
 * given order, and each tensor's byte size. Shared by the in-memory writer and streaming writers (make-shape).
 * @example
 * const { prefix, sizes } = safetensorsPrefix([{ name: 'w', dtype: 'bf16', shape: [4, 8] }]); // sizes [64]
 */
export function safetensorsPrefix(tensors: readonly SafetensorsTensorSpec[], metadata?: Record<string, string>): { prefix: Uint8Array; sizes: number[] } {
  const head: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw err('E_ARG', msg.badArg(`metadata '${k}'`, 'value is not a string'));
    head.__metadata__ = metadata;
  }
  let offset = 0;
  const seen = new Set<string>();
  const sizes: number[] = [];
  for (const t of tensors) {
    const what = `tensor '${t.name}'`;
    if (typeof t.name !== 'string' || t.name === '' || t.name === '__metadata__') throw err('E_ARG', msg.badArg('tensor name', JSON.stringify(t.name)));
    if (seen.has(t.name)) throw err('E_ARG', msg.badArg(what, 'duplicate name'));
    seen.add(t.name);
    if (!Object.hasOwn(TO_ST, t.dtype)) throw err('E_ARG', msg.badArg(what, `dtype ${t.dtype} cannot be stored in safetensors`));
    let n = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw err('E_ARG', msg.badArg(what, `dimension ${d}`));
      n *= d;
    }
    const need = n * DTYPES[t.dtype].blockBytes;
    if (!Number.isSafeInteger(need)) throw err('E_ARG', msg.badArg(what, `shape [${t.shape.join(', ')}] is too large`));
    head[t.name] = { dtype: TO_ST[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + need] };
    sizes.push(need);
    offset += need;
  }
  let json = JSON.stringify(head);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const prefix = new Uint8Array(8 + hb.length);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(hb.length), true);
  prefix.set(hb, 8);
  return { prefix, sizes };
}

/** Validate the inputs and lay out [length + header, ...data] chunks. */
function plan(tensors: readonly SafetensorsTensorInput[], metadata?: Record<string, string>): Uint8Array[] {
  const { prefix, sizes } = safetensorsPrefix(tensors, metadata);
  tensors.forEach((t, i) => {
    if (sizes[i] !== t.data.length) {
      throw err('E_ARG', msg.badArg(`tensor '${t.name}'`, `${t.data.length} bytes of data, dtype ${t.dtype} and shape [${t.shape.join(', ')}] need ${sizes[i]}`));
    }
  });
  return [prefix, ...tensors.map((t) => t.data)];
}

/**
 * Encode tensors (+ optional string metadata) as a safetensors byte buffer, tensors in the given order.
 *
 * @example
 * const bytes = encodeSafetensors([{ name: 'w', dtype: 'f32', shape: [2], data: new Uint8Array(8) }], { format: 'pt' });
 */
export function encodeSafetensors(tensors: readonly SafetensorsTensorInput[], metadata?: Record<string, string>): Uint8Array {
  const chunks = plan(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Write a safetensors file atomically (temp file in the same folder, fsync, rename); never holds a second copy of
 * the tensor data in memory.
 *
 * @example
 * writeSafetensors('tiny.safetensors', [{ name: 'w', dtype: 'f16', shape: [2, 2], data: new Uint8Array(8) }]);
 */
export function writeSafetensors(file: string, tensors: readonly SafetensorsTensorInput[], metadata?: Record<string, string>): void {
  writeFileAtomic(file, plan(tensors, metadata));
}
