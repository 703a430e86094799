/** safetensors: writer -> reader round trips (file, buffer, sharded) and a table of hostile inputs (exact messages). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  encodeSafetensors, findDuplicateKey, openSafetensors, openShardedSafetensors, parseSafetensorsHeader, safetensorsFromBuffer,
  writeSafetensors, type SafetensorsTensorInput,
} from '../src/formats/safetensors.js';
import { f32ToBf16, f32ToF16 } from '../src/formats/dtypes.js';
import { CodecLLMError } from '../src/messages.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-st-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** Seeded xorshift32 in [0, 1). */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 2 ** 32);
}

function sample(): { tensors: SafetensorsTensorInput[]; values: Record<string, number[]> } {
  const r = rng(7);
  const vals = (n: number) => Array.from({ length: n }, () => Math.fround((r() - 0.5) * 8));
  const f32 = vals(6), f16 = vals(8).map((v) => Math.round(v * 4) / 4), bf16 = vals(4).map((v) => Math.round(v)), i32 = [1, -2, 3, -(2 ** 24)];
  const u16 = (xs: number[], f: (v: number) => number) => new Uint8Array(new Uint16Array(xs.map(f)).buffer);
  const tensors: SafetensorsTensorInput[] = [
    { name: 'model.embed.weight', dtype: 'f32', shape: [2, 3], data: new Uint8Array(new Float32Array(f32).buffer) },
    { name: 'h.f16', dtype: 'f16', shape: [2, 2, 2], data: u16(f16, f32ToF16) },
    { name: 'h.bf16', dtype: 'bf16', shape: [4], data: u16(bf16, f32ToBf16) },
    { name: 'ids', dtype: 'i32', shape: [4], data: new Uint8Array(new Int32Array(i32).buffer) },
    { name: 'mask', dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) },
    { name: 'empty', dtype: 'f64', shape: [0, 5], data: new Uint8Array(0) },
    { name: 'scalar', dtype: 'i8', shape: [], data: new Uint8Array([0xfe]) },
  ];
  return { tensors, values: { 'model.embed.weight': f32, 'h.f16': f16, 'h.bf16': bf16, ids: i32, mask: [1, 0, 1], empty: [], scalar: [-2] } };
}

test('round trip: writeSafetensors -> openSafetensors (lazy, all dtypes, metadata)', () => {
  const { tensors, values } = sample();
  const file = path.join(tmp, 'rt.safetensors');
  writeSafetensors(file, tensors, { format: 'pt', note: 'héllo' });
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp')), [], 'no temp file left behind');
  const st = openSafetensors(file);
  assert.deepEqual(st.metadata, { format: 'pt', note: 'héllo' });
  assert.deepEqual(st.list().map((t) => t.name), tensors.map((t) => t.name));
  for (const t of tensors) {
    const info = st.info(t.name);
    assert.equal(info.dtype, t.dtype);
    assert.deepEqual(info.shape, t.shape);
    assert.deepEqual(Buffer.from(st.readRaw(t.name)), Buffer.from(t.data));
    assert.deepEqual(Array.from(st.readF32(t.name)), values[t.name]);
  }
  st.close();
  assert.throws(() => st.readRaw('ids'), { code: 'E_IO', message: `${file}: read after close` });
  // encode == what was written, and the header is padded to 8 bytes
  const bytes = encodeSafetensors(tensors, { format: 'pt', note: 'héllo' });
  assert.deepEqual(Buffer.from(bytes), fs.readFileSync(file));
  assert.equal(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8, 0);
});

test('round trip: safetensorsFromBuffer reads the same as the file path', () => {
  const { tensors, values } = sample();
  const st = safetensorsFromBuffer(encodeSafetensors(tensors), 'mem.safetensors');
  assert.deepEqual(st.metadata, {});
  for (const t of tensors) assert.deepEqual(Array.from(st.readF32(t.name)), values[t.name]);
  assert.throws(() => st.info('nope'), { code: 'E_FORMAT', message: "mem.safetensors: tensor 'nope' not found" });
});

test('a Buffer view at a non-zero byteOffset (e.g. from a pooled Buffer) reads correctly', () => {
  const { tensors, values } = sample();
  const view = Buffer.concat([Buffer.alloc(3), encodeSafetensors(tensors)]).subarray(3);
  assert.notEqual(view.byteOffset, 0);
  const st = safetensorsFromBuffer(view, 'view.safetensors');
  for (const t of tensors) assert.deepEqual(Array.from(st.readF32(t.name)), values[t.name]);
});

test('round trip: sharded checkpoint via model.safetensors.index.json', () => {
  const { tensors, values } = sample();
  const dir = fs.mkdtempSync(path.join(tmp, 'shard-'));
  writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), tensors.slice(0, 3));
  writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), tensors.slice(3));
  const weight_map = Object.fromEntries(tensors.map((t, i) => [t.name, `model-0000${i < 3 ? 1 : 2}-of-00002.safetensors`]));
  const index = path.join(dir, 'model.safetensors.index.json');
  fs.writeFileSync(index, JSON.stringify({ metadata: { total_size: 123 }, weight_map }));
  const src = openShardedSafetensors(index);
  assert.deepEqual(src.list().map((t) => t.name), tensors.map((t) => t.name));
  for (const t of tensors) assert.deepEqual(Array.from(src.readF32(t.name)), values[t.name]);
  assert.equal(src.has('nope'), false);
  assert.throws(() => src.info('nope'), { code: 'E_FORMAT', message: `${index}: tensor 'nope' not found` });
  src.close();

  const bad = (obj: unknown, message: string, code = 'E_SAFETENSORS') => {
    fs.writeFileSync(index, typeof obj === 'string' ? obj : JSON.stringify(obj));
    assert.throws(() => openShardedSafetensors(index), (e: unknown) => {
      assert.ok(e instanceof CodecLLMError);
      assert.equal(e.message, message);
      assert.equal(e.code, code);
      return true;
    });
  };
  bad('{', `${index}: malformed safetensors index: not valid JSON`);
  bad({ metadata: {} }, `${index}: malformed safetensors index: no 'weight_map' object`);
  bad({ weight_map: { a: 3 } }, `${index}: malformed safetensors index: weight_map entry 'a' is not a file name`);
  bad({ weight_map: { a: '../x.safetensors' } }, `${index}: malformed safetensors index: shard '../x.safetensors' lies outside the model folder`);
  bad('{"weight_map":{"a":"x","a":"y"}}', `${index}: malformed safetensors index: duplicate key 'a'`);
  bad({ weight_map: { ids: 'missing.safetensors' } }, `${path.join(dir, 'missing.safetensors')}: no such file or directory`, 'E_IO');
  bad({ weight_map: { ids: 'model-00001-of-00002.safetensors' } }, `${path.join(dir, 'model-00001-of-00002.safetensors')}: tensor 'ids' not found`, 'E_FORMAT');
});

test('writer rejects inconsistent input', () => {
  const d = new Uint8Array(8);
  assert.throws(() => encodeSafetensors([{ name: 'w', dtype: 'f32', shape: [3], data: d }]), {
    code: 'E_ARG', message: "invalid tensor 'w': 8 bytes of data, dtype f32 and shape [3] need 12",
  });
  assert.throws(() => encodeSafetensors([{ name: 'w', dtype: 'f32', shape: [2], data: d }, { name: 'w', dtype: 'f32', shape: [2], data: d }]), {
    code: 'E_ARG', message: "invalid tensor 'w': duplicate name",
  });
  assert.throws(() => encodeSafetensors([{ name: 'w', dtype: 'q8_0' as 'f32', shape: [2], data: d }]), {
    code: 'E_ARG', message: "invalid tensor 'w': dtype q8_0 cannot be stored in safetensors",
  });
});

test('findDuplicateKey sees duplicates at any depth, not in strings or arrays', () => {
  assert.deepEqual(findDuplicateKey('{"a":1,"b":{"c":1,"c":2}}'), { key: 'c', depth: 2 });
  assert.deepEqual(findDuplicateKey('{"a\\"":1 , "a\\"" :2}'), { key: 'a"', depth: 1 });
  assert.equal(findDuplicateKey('{"a":["a","a"],"b":"a:","c":{"a":1}}'), null);
});

// ---- hostile inputs: each a (file bytes, exact message, code)

const F = 'bad.safetensors';
/** A file with the given header (object -> JSON, or raw text/bytes) and `dataLen` zero bytes of data. */
function file(header: unknown, dataLen = 0, lenOverride?: bigint): Uint8Array {
  const hb = header instanceof Uint8Array ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + hb.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, lenOverride ?? BigInt(hb.length), true);
  out.set(hb, 8);
  return out;
}
const T = (dtype: string, shape: unknown[], offs: unknown[]) => ({ dtype, shape, data_offsets: offs });

const HOSTILE: [string, Uint8Array, string, string][] = [
  ['shorter than the length field', new Uint8Array(3), `${F}: truncated: header length needs 8 bytes at offset, only 3 available`, 'E_SAFETENSORS'],
  ['header length past EOF', file('{}', 2, 1000n), `${F}: truncated: header needs 1000 bytes at offset, only 4 available`, 'E_SAFETENSORS'],
  ['absurd header length', file('{}', 0, 1n << 63n), `${F}: header length 9223372036854775808 exceeds limit 100000000`, 'E_SAFETENSORS'],
  ['header not JSON', file('{"a":'), `${F}: malformed header: header is not valid JSON`, 'E_SAFETENSORS'],
  ['header not an object', file('[1,2]'), `${F}: malformed header: header is not a JSON object`, 'E_SAFETENSORS'],
  ['header not UTF-8', file(new Uint8Array([0x7b, 0xff, 0x7d])), `${F}: malformed header: header is not valid UTF-8`, 'E_SAFETENSORS'],
  ['entry not an object', file({ w: 3 }), `${F}: malformed header: entry 'w' is not an object`, 'E_SAFETENSORS'],
  ['unknown dtype', file({ w: T('F8_E4M3', [2], [0, 2]) }, 2), `${F}: tensor 'w' has unknown or unsupported dtype F8_E4M3`, 'E_DTYPE'],
  ['dtype from the prototype', file({ w: T('constructor', [2], [0, 2]) }, 2), `${F}: tensor 'w' has unknown or unsupported dtype constructor`, 'E_DTYPE'],
  ['shape/size mismatch', file({ w: T('F32', [3], [0, 8]) }, 8), `${F}: tensor 'w' byte size 8 does not match its dtype and shape (12)`, 'E_SAFETENSORS'],
  ['negative dim', file({ w: T('F32', [-1], [0, 0]) }), `${F}: tensor 'w' has invalid dimension -1`, 'E_SAFETENSORS'],
  ['huge dim', file({ w: T('F32', [1e20], [0, 0]) }), `${F}: tensor 'w' has invalid dimension 100000000000000000000`, 'E_SAFETENSORS'],
  ['fractional dim', file({ w: T('F32', [1.5], [0, 6]) }), `${F}: tensor 'w' has invalid dimension 1.5`, 'E_SAFETENSORS'],
  ['element count overflow', file({ w: T('U8', [2 ** 40, 2 ** 40], [0, 0]) }), `${F}: arithmetic overflow computing element count of tensor 'w'`, 'E_SAFETENSORS'],
  ['byte size overflow', file({ w: T('F64', [2 ** 51], [0, 0]) }), `${F}: arithmetic overflow computing byte size of tensor 'w'`, 'E_SAFETENSORS'],
  ['shape not an array', file({ w: T('F32', 3 as unknown as [], [0, 12]) }), `${F}: malformed header: tensor 'w' shape is not an array`, 'E_SAFETENSORS'],
  ['offsets reversed', file({ w: T('F32', [1], [8, 4]) }, 8), `${F}: malformed header: tensor 'w' data_offsets must be [begin, end] with 0 <= begin <= end`, 'E_SAFETENSORS'],
  ['offsets huge', file({ w: T('U8', [1], [2 ** 64, 2 ** 64 + 1]) }, 8), `${F}: malformed header: tensor 'w' data_offsets must be [begin, end] with 0 <= begin <= end`, 'E_SAFETENSORS'],
  ['offsets outside data', file({ w: T('F32', [4], [0, 16]) }, 8), `${F}: tensor 'w' data [0, 16) lies outside the data section of 8 bytes`, 'E_SAFETENSORS'],
  ['hole between tensors', file({ a: T('F32', [1], [0, 4]), b: T('F32', [1], [8, 12]) }, 12), `${F}: tensor data offsets do not cover the data section exactly (hole [4, 8) before tensor 'b')`, 'E_SAFETENSORS'],
  ['hole at start', file({ a: T('F32', [1], [4, 8]) }, 8), `${F}: tensor data offsets do not cover the data section exactly (hole [0, 4) before tensor 'a')`, 'E_SAFETENSORS'],
  ['overlap', file({ a: T('F32', [2], [0, 8]), b: T('F32', [2], [4, 12]) }, 12), `${F}: tensor data offsets do not cover the data section exactly (tensor 'b' at 4 overlaps data up to 8)`, 'E_SAFETENSORS'],
  ['bytes after last tensor', file({ a: T('F32', [2], [0, 8]) }, 16), `${F}: tensor data offsets do not cover the data section exactly (8 bytes after the last tensor)`, 'E_SAFETENSORS'],
  ['duplicate tensor', file('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1), `${F}: duplicate tensor name 'w'`, 'E_SAFETENSORS'],
  ['metadata not strings', file({ __metadata__: { a: 1 } }), `${F}: malformed header: __metadata__ must map strings to strings`, 'E_SAFETENSORS'],
  ['newline in a name and dtype is escaped', file({ 'w\n': T('X\nY', [1], [0, 1]) }, 1), `${F}: tensor 'w\\u000a' has unknown or unsupported dtype X\\u000aY`, 'E_DTYPE'],
  ['long names are cut', file({ ['n'.repeat(200)]: T('F32', [-1], [0, 0]) }), `${F}: tensor '${'n'.repeat(80)}…' has invalid dimension -1`, 'E_SAFETENSORS'],
  ['dtype missing', file({ w: { shape: [1], data_offsets: [0, 1] } }, 1), `${F}: malformed header: tensor 'w' has no dtype string`, 'E_SAFETENSORS'],
];

for (const [what, bytes, message, code] of HOSTILE) {
  test(`hostile safetensors: ${what}`, () => {
    assert.throws(() => safetensorsFromBuffer(bytes, F), (e: unknown) => {
      assert.ok(e instanceof CodecLLMError, `not a CodecLLMError: ${String(e)}`);
      assert.equal(e.message, message);
      assert.equal(e.code, code);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    });
  });
}

test('hostile safetensors: the same bytes on disk give the same error with the path', () => {
  const p = path.join(tmp, 'overlap.safetensors');
  fs.writeFileSync(p, HOSTILE.find((h) => h[0] === 'overlap')![1]);
  assert.throws(() => openSafetensors(p), { code: 'E_SAFETENSORS', message: `${p}: tensor data offsets do not cover the data section exactly (tensor 'b' at 4 overlaps data up to 8)` });
  assert.throws(() => openSafetensors(path.join(tmp, 'nope.safetensors')), { code: 'E_IO', message: `${path.join(tmp, 'nope.safetensors')}: no such file or directory` });
  assert.throws(() => openSafetensors(tmp), { code: 'E_IO', message: `${tmp}: not a regular file (it is a directory)` });
});

test('hostile safetensors: every truncation of a valid file is rejected with a CodecLLMError', () => {
  const full = encodeSafetensors(sample().tensors, { format: 'pt' });
  for (let n = 0; n < full.length; n++) {
    assert.throws(() => safetensorsFromBuffer(full.subarray(0, n), F), (e: unknown) => e instanceof CodecLLMError && e.code === 'E_SAFETENSORS' && e.message.startsWith(`${F}: `), `truncated at ${n}`);
  }
});

test('parseSafetensorsHeader works on text and bytes alike', () => {
  const h = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const a = parseSafetensorsHeader(h, 8 + h.length + 8, 'x');
  const b = parseSafetensorsHeader(Buffer.from(h), 8 + h.length + 8, 'x');
  assert.deepEqual(a, b);
  assert.equal(a.dataOffset, 8 + h.length);
  assert.deepEqual(a.tensors[0], { name: 'w', dtype: 'f32', shape: [2], byteLength: 8, begin: 0, end: 8 });
});
