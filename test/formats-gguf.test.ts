/** GGUF: writer -> reader round trips, a gguf-py-written fixture, and a table of hostile inputs (exact messages). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeGGUF, openGGUF, parseGGUF, writeGGUF, GGUFType, type GGUFWriteSpec, type GGUFFile } from '../src/formats/gguf.js';
import { ByteWriter } from '../src/formats/binary.js';
import { dequantizeBlocks, quantizeBlocks } from '../src/formats/ggml-blocks.js';
import { f32ToBf16, f32ToF16, type StorageDType } from '../src/formats/dtypes.js';
import { CodecLLMError } from '../src/messages.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-gguf-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 2 ** 32);
}
const r = rng(11);
const randF32 = (n: number) => Float32Array.from({ length: n }, () => (r() - 0.5) * 4);
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
/** Random K-quant blocks with small finite fp16 scales at the given offsets. */
function kBlocks(nb: number, bs: number, f16At: number[]): Uint8Array {
  const b = Uint8Array.from({ length: nb * bs }, () => Math.floor(r() * 256));
  for (let i = 0; i < nb; i++) for (const o of f16At) new DataView(b.buffer).setUint16(i * bs + o, f32ToF16(r() * 0.01), true);
  return b;
}

/** Tensors of every readable dtype, with the float32 values we expect back. */
function sampleSpec(): { spec: GGUFWriteSpec; expect: Record<string, Float32Array> } {
  const expect: Record<string, Float32Array> = {};
  const tensors: GGUFWriteSpec['tensors'][number][] = [];
  const add = (name: string, dtype: StorageDType, shape: number[], data: Uint8Array, values: Float32Array) => {
    tensors.push({ name, dtype, shape, data });
    expect[name] = values;
  };
  const f = randF32(6);
  add('f32', 'f32', [2, 3], bytesOf(f), f);
  const h = Float32Array.from(randF32(8), (v) => Math.round(v * 8) / 8);
  add('f16', 'f16', [8], bytesOf(Uint16Array.from(h, f32ToF16)), h);
  const b = Float32Array.from(randF32(4), (v) => Math.round(v * 2) / 2);
  add('bf16', 'bf16', [1, 2, 2], bytesOf(Uint16Array.from(b, f32ToBf16)), b);
  const d = Float64Array.from(randF32(3));
  add('f64', 'f64', [3], bytesOf(d), Float32Array.from(d));
  add('i8', 'i8', [4], bytesOf(Int8Array.from([-128, -1, 0, 127])), Float32Array.from([-128, -1, 0, 127]));
  add('i16', 'i16', [2], bytesOf(Int16Array.from([-32768, 32767])), Float32Array.from([-32768, 32767]));
  add('i32', 'i32', [2], bytesOf(Int32Array.from([-(2 ** 24), 5])), Float32Array.from([-(2 ** 24), 5]));
  add('i64', 'i64', [1], bytesOf(BigInt64Array.from([-7n])), Float32Array.from([-7]));
  for (const dt of ['q8_0', 'q4_0', 'q4_1'] as const) {
    const q = quantizeBlocks(dt, randF32(3 * 64));
    add(`blk.${dt}.weight`, dt, [3, 64], q, dequantizeBlocks(dt, q, 192));
  }
  const q4k = kBlocks(2, 144, [0, 2]);
  add('blk.q4_k.weight', 'q4_k', [1, 2, 256], q4k, dequantizeBlocks('q4_k', q4k, 512));
  const q6k = kBlocks(2, 210, [208]);
  add('blk.q6_k.weight', 'q6_k', [2, 256], q6k, dequantizeBlocks('q6_k', q6k, 512));
  const metadata: GGUFWriteSpec['metadata'] = [
    { key: 'general.architecture', type: GGUFType.STRING, value: 'llama' },
    { key: 'u8', type: 'uint8', value: 255 },
    { key: 'i8', type: 'int8', value: -128 },
    { key: 'u16', type: 'uint16', value: 65535 },
    { key: 'i16', type: 'int16', value: -32768 },
    { key: 'u32', type: 'uint32', value: 4294967295 },
    { key: 'i32', type: 'int32', value: -2147483648 },
    { key: 'f32', type: 'float32', value: 0.5 },
    { key: 'b', type: 'bool', value: true },
    { key: 'u64', type: 'uint64', value: (1n << 64n) - 1n },
    { key: 'i64', type: 'int64', value: -(1n << 63n) },
    { key: 'f64', type: 'float64', value: Math.PI },
    { key: 'tokens', type: 'array', itemType: 'string', value: ['<s>', 'héllo', '世界', ''] },
    { key: 'scores', type: 'array', itemType: 'float32', value: [0.5, -1.25] },
    { key: 'empty', type: 'array', itemType: 'int32', value: [] },
  ];
  return { spec: { metadata, tensors }, expect };
}

function checkSample(g: GGUFFile, spec: GGUFWriteSpec, expect: Record<string, Float32Array>) {
  assert.equal(g.version, 3);
  assert.equal(g.alignment, 32);
  assert.deepEqual(g.entries, spec.metadata);
  assert.equal(g.metadata.get('u64'), (1n << 64n) - 1n);
  assert.deepEqual(g.list().map((t) => t.name), spec.tensors.map((t) => t.name));
  for (const t of spec.tensors) {
    const info = g.info(t.name);
    assert.equal(info.dtype, t.dtype, t.name);
    assert.deepEqual(info.shape, t.shape, `${t.name}: PyTorch order`);
    assert.deepEqual(info.ne, [...t.shape].reverse(), `${t.name}: ne is reversed`);
    assert.equal(info.offset % 32, 0);
    assert.deepEqual(Buffer.from(g.readRaw(t.name)), Buffer.from(t.data), t.name);
    assert.deepEqual(g.readF32(t.name), expect[t.name], t.name);
  }
}

test('round trip: writeGGUF -> openGGUF, every dtype and metadata type', () => {
  const { spec, expect } = sampleSpec();
  const file = path.join(tmp, 'rt.gguf');
  writeGGUF(file, spec);
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp')), [], 'no temp file left behind');
  assert.deepEqual(Buffer.from(encodeGGUF(spec)), fs.readFileSync(file));
  const g = openGGUF(file);
  checkSample(g, spec, expect);
  g.close();
  assert.throws(() => g.readRaw('f32'), { code: 'E_IO', message: `${file}: read after close` });
  checkSample(parseGGUF(encodeGGUF(spec), 'mem.gguf'), spec, expect);
});

test('a Buffer view at a non-zero byteOffset reads correctly', () => {
  const { spec, expect } = sampleSpec();
  const view = Buffer.concat([Buffer.alloc(5), encodeGGUF(spec)]).subarray(5);
  assert.notEqual(view.byteOffset, 0);
  checkSample(parseGGUF(view, 'view.gguf'), spec, expect);
});

test('round trip: entries of a read file can be written back unchanged', () => {
  const { spec } = sampleSpec();
  const g = parseGGUF(encodeGGUF(spec));
  const copy = encodeGGUF({ metadata: g.entries, tensors: g.list().map((t) => ({ ...t, data: g.readRaw(t.name) })) });
  assert.deepEqual(Buffer.from(copy), Buffer.from(encodeGGUF(spec)));
});

test('v2 files read like v3; a non-default general.alignment is honoured', () => {
  const { spec, expect } = sampleSpec();
  const bytes = encodeGGUF(spec);
  new DataView(bytes.buffer).setUint32(4, 2, true);
  assert.equal(parseGGUF(bytes).version, 2);
  const spec64 = { ...spec, metadata: [...spec.metadata, { key: 'general.alignment', type: 'uint32' as const, value: 64 }] };
  const g = parseGGUF(encodeGGUF(spec64));
  assert.equal(g.alignment, 64);
  assert.equal(g.dataOffset % 64, 0);
  for (const t of g.list()) assert.equal(t.offset % 64, 0);
  for (const t of spec.tensors) assert.deepEqual(g.readF32(t.name), expect[t.name]);
});

test('a file written by gguf-py (independent writer) reads as gguf-py says', () => {
  const fx = new URL('./fixtures/formats/', import.meta.url);
  const want = JSON.parse(fs.readFileSync(new URL('gguf-py-tiny.json', fx), 'utf8')).tensors;
  const g = openGGUF(new URL('gguf-py-tiny.gguf', fx).pathname);
  assert.equal(g.metadata.get('general.architecture'), 'llama');
  assert.equal(g.metadata.get('llama.block_count'), 2);
  assert.equal(g.metadata.get('llama.rope.freq_base'), 10000.5);
  assert.equal(g.metadata.get('tokenizer.ggml.add_bos_token'), true);
  assert.equal(g.metadata.get('test.int64'), -(1n << 40n));
  assert.equal(g.metadata.get('test.uint64'), (1n << 63n) + 5n);
  assert.deepEqual(g.metadata.get('tokenizer.ggml.tokens'), ['<s>', 'héllo', '世界', '']);
  assert.deepEqual(g.metadata.get('test.int32s'), [1, -2, 3]);
  assert.deepEqual(g.list().map((t) => t.name), Object.keys(want));
  for (const [name, w] of Object.entries<{ shape: number[]; dtype: string; f32: string }>(want)) {
    assert.deepEqual(g.info(name).shape, w.shape, name);
    assert.equal(g.info(name).dtype, w.dtype, name);
    const b = Buffer.from(w.f32, 'base64');
    assert.deepEqual(g.readF32(name), new Float32Array(b.buffer, b.byteOffset, b.length / 4), name);
  }
  g.close();
});

test('openGGUF reads a header larger than its first 1 MiB read', () => {
  const tokens = Array.from({ length: 60000 }, (_, i) => `token-${i}-${'x'.repeat(i % 17)}`);
  const spec: GGUFWriteSpec = {
    metadata: [{ key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: tokens }],
    tensors: [{ name: 'w', dtype: 'f32', shape: [2], data: bytesOf(Float32Array.from([1, 2])) }],
  };
  const file = path.join(tmp, 'big-header.gguf');
  writeGGUF(file, spec);
  assert.ok(fs.statSync(file).size > 1 << 20);
  const g = openGGUF(file);
  assert.deepEqual(g.metadata.get('tokenizer.ggml.tokens'), tokens);
  assert.deepEqual(Array.from(g.readF32('w')), [1, 2]);
  g.close();
  // truncated on disk past the first read: same error as in memory (the re-read signal never leaks)
  const bytes = fs.readFileSync(file);
  const cut = path.join(tmp, 'big-header-cut.gguf');
  fs.writeFileSync(cut, bytes.subarray(0, 1_500_000));
  const inMem = (() => { try { parseGGUF(bytes.subarray(0, 1_500_000), cut); } catch (e) { return e as Error; } })();
  assert.ok(inMem instanceof CodecLLMError);
  assert.throws(() => openGGUF(cut), { code: inMem.code, message: inMem.message });
});

test('writer rejects inconsistent input', () => {
  const t = (o: object) => ({ metadata: [], tensors: [{ name: 'w', dtype: 'f32' as StorageDType, shape: [2], data: new Uint8Array(8), ...o }] });
  assert.throws(() => encodeGGUF(t({ shape: [3] })), { code: 'E_ARG', message: "invalid tensor 'w': 8 bytes of data, dtype f32 and shape [3] need 12" });
  assert.throws(() => encodeGGUF(t({ dtype: 'q8_0', shape: [2, 16], data: new Uint8Array(34) })), {
    code: 'E_ARG', message: "invalid tensor 'w': last dim 16 is not a multiple of the q8_0 block of 32",
  });
  assert.throws(() => encodeGGUF(t({ dtype: 'bool', data: new Uint8Array(2) })), { code: 'E_ARG', message: "invalid tensor 'w': dtype bool cannot be stored in GGUF" });
  assert.throws(() => encodeGGUF(t({ shape: [1, 1, 1, 1, 2] })), { code: 'E_ARG', message: "invalid tensor 'w': shape [1, 1, 1, 1, 2] must have at most 4 positive dims" });
  assert.throws(() => encodeGGUF({ metadata: [{ key: 'k', type: 'uint8', value: 256 }], tensors: [] }), { code: 'E_ARG', message: "invalid GGUF metadata 'k': 256 is not a uint8" });
  assert.throws(() => encodeGGUF({ metadata: [{ key: 'k', type: 'array', value: [1] }], tensors: [] }), {
    code: 'E_ARG', message: "invalid GGUF metadata 'k': an array needs an array value and a non-array itemType",
  });
});

// ---- hostile inputs

const F = 'bad.gguf';
const TYPE = { uint32: 4, bool: 7, string: 8, array: 9, uint64: 10 } as const;
interface Raw {
  magic?: number;
  version?: number;
  nTensors?: bigint;
  nKv?: bigint;
  kv?: (w: ByteWriter) => void;
  infos?: (w: ByteWriter) => void;
  data?: number;
}
/** Hand-built GGUF bytes: header, kvs, tensor infos, padding to 32, `data` zero bytes. */
function raw(o: Raw): Uint8Array {
  const w = new ByteWriter().u32(o.magic ?? 0x46554747).u32(o.version ?? 3).u64(o.nTensors ?? 0n).u64(o.nKv ?? 0n);
  o.kv?.(w);
  o.infos?.(w);
  w.pad(32);
  w.bytes(new Uint8Array(o.data ?? 0));
  return w.finish();
}
const kvStr = (key: string, v: string) => (w: ByteWriter) => w.string(key).u32(TYPE.string).string(v);
/** One tensor info: name, ne (GGUF order), ggml type, offset. */
const info = (name: string, ne: (number | bigint)[], type: number, offset: bigint | number) => (w: ByteWriter) => {
  w.string(name).u32(ne.length);
  for (const d of ne) w.i64(BigInt(d));
  w.u32(type).u64(offset);
};
const infos = (...fs: ((w: ByteWriter) => void)[]) => (w: ByteWriter) => fs.forEach((f) => f(w));

const HOSTILE: [string, Uint8Array, string, string][] = [
  ['bad magic', raw({ magic: 0x58554747 }), `${F}: not a GGUF file (bad magic)`, 'E_GGUF'],
  ['two bytes', new Uint8Array([0x47, 0x47]), `${F}: not a GGUF file (bad magic)`, 'E_GGUF'],
  ['empty file', new Uint8Array(0), `${F}: not a GGUF file (bad magic)`, 'E_GGUF'],
  ['version 1', raw({ version: 1 }), `${F}: unsupported GGUF version 1`, 'E_GGUF'],
  ['version 4', raw({ version: 4 }), `${F}: unsupported GGUF version 4`, 'E_GGUF'],
  ['big-endian file', raw({ version: 0x03000000 }), `${F}: unsupported GGUF version 50331648`, 'E_GGUF'],
  ['absurd tensor count', raw({ nTensors: 1n << 63n }), `${F}: tensor count 9223372036854775808 exceeds limit 1048576`, 'E_GGUF'],
  ['absurd kv count', raw({ nKv: (1n << 64n) - 1n }), `${F}: metadata count 18446744073709551615 exceeds limit 1048576`, 'E_GGUF'],
  ['kv count past EOF', raw({ nKv: 1000n }), `${F}: truncated: metadata needs 13000 bytes at offset, only 8 available`, 'E_GGUF'],
  ['tensor count past EOF', raw({ nTensors: 1000n }), `${F}: truncated: tensor infos needs 24000 bytes at offset, only 8 available`, 'E_GGUF'],
  ['absurd key length', raw({ nKv: 1n, kv: (w) => w.u64(1n << 62n).u32(0).u8(0) }), `${F}: metadata key 0 length 4611686018427387904 exceeds limit 65536`, 'E_GGUF'],
  ['key past EOF', raw({ nKv: 1n, kv: (w) => w.u64(60).u32(0).u8(0) }), `${F}: truncated: metadata key 0 needs 60 bytes at offset, only 32 available`, 'E_GGUF'],
  ['absurd string length', raw({ nKv: 1n, kv: (w) => w.string('k').u32(TYPE.string).u64(1n << 40n) }), `${F}: value of 'k' length 1099511627776 exceeds limit 67108864`, 'E_GGUF'],
  ['string past EOF', raw({ nKv: 1n, kv: (w) => w.string('k').u32(TYPE.string).u64(1000n) }), `${F}: truncated: value of 'k' needs 1000 bytes at offset, only 19 available`, 'E_GGUF'],
  ['absurd array length', raw({ nKv: 1n, kv: (w) => w.string('k').u32(TYPE.array).u32(TYPE.uint32).u64(1n << 40n) }), `${F}: array length of 'k' 1099511627776 exceeds limit 16777216`, 'E_GGUF'],
  ['array past EOF', raw({ nKv: 1n, kv: (w) => w.string('k').u32(TYPE.array).u32(TYPE.uint32).u64(1000000n) }), `${F}: truncated: array 'k' needs 4000000 bytes at offset, only 15 available`, 'E_GGUF'],
  ['array of strings past EOF', raw({ nKv: 1n, kv: (w) => w.string('k').u32(TYPE.array).u32(TYPE.string).u64(1n << 20n) }), `${F}: truncated: array 'k' needs 8388608 bytes at offset, only 15 available`, 'E_GGUF'],
  ['unknown value type', raw({ nKv: 1n, kv: (w) => w.string('k').u32(13).u64(0) }), `${F}: malformed header: metadata 'k' has unknown value type 13`, 'E_GGUF'],
  ['unknown array item type', raw({ nKv: 1n, kv: (w) => w.string('k').u32(TYPE.array).u32(99).u64(0) }), `${F}: malformed header: metadata 'k' has unknown value type 99`, 'E_GGUF'],
  ['duplicate key', raw({ nKv: 2n, kv: (w) => (kvStr('k', 'a')(w), kvStr('k', 'b')(w)) }), `${F}: malformed header: duplicate metadata key 'k'`, 'E_GGUF'],
  ['bool not 0/1', raw({ nKv: 1n, kv: (w) => w.string('k').u32(TYPE.bool).u8(2) }), `${F}: malformed header: metadata 'k' has bool value 2`, 'E_GGUF'],
  ['arrays nested too deep', raw({ nKv: 1n, kv: (w) => { w.string('k').u32(TYPE.array); for (let i = 0; i < 9; i++) w.u32(TYPE.array).u64(1); w.u32(TYPE.uint32).u64(0); } }),
    `${F}: malformed header: metadata 'k' nests arrays deeper than 8`, 'E_GGUF'],
  ['alignment not a power of two', raw({ nKv: 1n, kv: (w) => w.string('general.alignment').u32(TYPE.uint32).u32(48) }), `${F}: malformed header: general.alignment 48 is not a power of two`, 'E_GGUF'],
  ['alignment zero', raw({ nKv: 1n, kv: (w) => w.string('general.alignment').u32(TYPE.uint32).u32(0) }), `${F}: malformed header: general.alignment 0 is not a power of two`, 'E_GGUF'],
  ['alignment a string', raw({ nKv: 1n, kv: kvStr('general.alignment', '32') }), `${F}: malformed header: general.alignment 32 is not a power of two`, 'E_GGUF'],
  ['five dims', raw({ nTensors: 1n, infos: info('w', [1, 1, 1, 1, 1], 0, 0) }), `${F}: malformed header: tensor 'w' has 5 dimensions (at most 4)`, 'E_GGUF'],
  ['zero dim', raw({ nTensors: 1n, infos: info('w', [0], 0, 0) }), `${F}: tensor 'w' has invalid dimension ne[0] = 0`, 'E_GGUF'],
  ['negative dim', raw({ nTensors: 1n, infos: info('w', [4, -1], 0, 0) }), `${F}: tensor 'w' has invalid dimension ne[1] = -1`, 'E_GGUF'],
  ['huge dim', raw({ nTensors: 1n, infos: info('w', [1n << 60n], 0, 0) }), `${F}: tensor 'w' has invalid dimension ne[0] = 1152921504606846976`, 'E_GGUF'],
  ['element count overflow', raw({ nTensors: 1n, infos: info('w', [1 << 30, 1 << 30, 1 << 30], 0, 0) }), `${F}: arithmetic overflow computing element count of tensor 'w'`, 'E_GGUF'],
  ['byte size overflow', raw({ nTensors: 1n, infos: info('w', [2 ** 26, 2 ** 26], 0, 0) }), `${F}: arithmetic overflow computing byte size of tensor 'w'`, 'E_GGUF'],
  ['unknown ggml type (named)', raw({ nTensors: 1n, infos: info('w', [32], 9, 0) }), `${F}: tensor 'w' has unknown or unsupported dtype Q8_1 (ggml type 9)`, 'E_DTYPE'],
  ['IQ type refused by name', raw({ nTensors: 1n, infos: info('w', [256], 16, 0) }), `${F}: tensor 'w' has unknown or unsupported dtype IQ2_XXS (ggml type 16; IQ codebook types are not supported)`, 'E_DTYPE'],
  ['IQ4_NL refused by name', raw({ nTensors: 1n, infos: info('w', [32], 20, 0) }), `${F}: tensor 'w' has unknown or unsupported dtype IQ4_NL (ggml type 20; IQ codebook types are not supported)`, 'E_DTYPE'],
  ['unknown ggml type (number)', raw({ nTensors: 1n, infos: info('w', [32], 99, 0) }), `${F}: tensor 'w' has unknown or unsupported dtype ggml type 99`, 'E_DTYPE'],
  ['partial quant block', raw({ nTensors: 1n, infos: info('w', [16, 2], 8, 0) }), `${F}: tensor 'w' has invalid dimension ne[0] = 16 (not a multiple of the q8_0 block of 32)`, 'E_GGUF'],
  ['misaligned offset', raw({ nTensors: 1n, infos: info('w', [2], 0, 4), data: 64 }), `${F}: tensor 'w' offset is not a multiple of the alignment 32`, 'E_GGUF'],
  ['absurd offset', raw({ nTensors: 1n, infos: info('w', [2], 0, 1n << 63n) }), `${F}: offset of tensor 'w' 9223372036854775808 exceeds limit 9007199254740991`, 'E_GGUF'],
  ['data past EOF', raw({ nTensors: 1n, infos: info('w', [16], 0, 32), data: 64 }), `${F}: tensor 'w' data [32, 96) lies outside the data section of 64 bytes`, 'E_GGUF'],
  ['no data at all', raw({ nTensors: 1n, infos: info('w', [16], 0, 0) }), `${F}: tensor 'w' data [0, 64) lies outside the data section of 0 bytes`, 'E_GGUF'],
  ['overlapping tensors', raw({ nTensors: 2n, infos: infos(info('a', [16], 0, 0), info('b', [16], 0, 32)), data: 96 }),
    `${F}: tensor data offsets do not cover the data section exactly (tensor 'b' at 32 overlaps data up to 64)`, 'E_GGUF'],
  ['duplicate tensor', raw({ nTensors: 2n, infos: infos(info('a', [8], 0, 0), info('a', [8], 0, 32)), data: 64 }), `${F}: duplicate tensor name 'a'`, 'E_GGUF'],
  ['newline in a tensor name is escaped (one-line message)', raw({ nTensors: 1n, infos: info('a\nb\u2028', [32], 9, 0) }), `${F}: tensor 'a\\u000ab\\u2028' has unknown or unsupported dtype Q8_1 (ggml type 9)`, 'E_DTYPE'],
  ['control chars in a key are escaped', raw({ nKv: 1n, kv: (w) => w.string('k\r\x00').u32(13) }), `${F}: malformed header: metadata 'k\\u000d\\u0000' has unknown value type 13`, 'E_GGUF'],
  ['absurd tensor name', raw({ nTensors: 1n, infos: (w) => w.u64(1n << 33n).bytes(new Uint8Array(24)) }), `${F}: name of tensor 0 length 8589934592 exceeds limit 65536`, 'E_GGUF'],
];

for (const [what, bytes, message, code] of HOSTILE) {
  test(`hostile GGUF: ${what}`, () => {
    assert.throws(() => parseGGUF(bytes, F), (e: unknown) => {
      assert.ok(e instanceof CodecLLMError, `not a CodecLLMError: ${String(e)}`);
      assert.equal(e.message, message);
      assert.equal(e.code, code);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
  });
}

test('hostile GGUF: the same bytes on disk give the same error; missing file is E_IO', () => {
  const p = path.join(tmp, 'bad.gguf');
  fs.writeFileSync(p, HOSTILE.find((h) => h[0] === 'data past EOF')![1]);
  assert.throws(() => openGGUF(p), { code: 'E_GGUF', message: `${p}: tensor 'w' data [32, 96) lies outside the data section of 64 bytes` });
  assert.throws(() => openGGUF(path.join(tmp, 'none.gguf')), { code: 'E_IO', message: `${path.join(tmp, 'none.gguf')}: no such file or directory` });
});

test('hostile GGUF: truncated at every position of a valid file', () => {
  const { spec } = sampleSpec();
  const full = encodeGGUF(spec);
  const g = parseGGUF(full);
  const lastEnd = g.dataOffset + Math.max(...g.list().map((t) => t.offset + t.byteLength));
  const headerEnd = g.dataOffset - ((g.dataOffset - 0) % 32 === 0 ? 0 : 0);
  for (let n = 0; n < full.length; n++) {
    const cut = full.subarray(0, n);
    if (n >= lastEnd) {
      assert.equal(parseGGUF(cut, F).list().length, spec.tensors.length, `only padding cut at ${n}`);
      continue;
    }
    assert.throws(() => parseGGUF(cut, F), (e: unknown) => {
      assert.ok(e instanceof CodecLLMError && e.code === 'E_GGUF', `cut at ${n}: ${String(e)}`);
      const ok = n < 4 ? e.message === `${F}: not a GGUF file (bad magic)`
        : n < headerEnd ? e.message.startsWith(`${F}: truncated: `) || / lies outside the data section of 0 bytes$/.test(e.message)
        : / lies outside the data section of \d+ bytes$/.test(e.message);
      assert.ok(ok, `cut at ${n}: ${e.message}`);
      return true;
    });
  }
});
