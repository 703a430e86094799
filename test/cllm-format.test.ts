/**
 * The .cllm container: bit-exact round trips with every CPU codec and storage kind, lazy reads, exact one-line
 * errors for every structural rule, corruption detected at every byte (bit flips and truncations), atomic writes
 * (a failure mid-write and a killed writer leave the old file intact).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  CLLM_CODECS,
  CLLM_HEADER_BYTES,
  CllmFile,
  cllmFromBuffer,
  decodeStored,
  encodeCllm,
  openCllm,
  parseStorage,
  quantFromBytes,
  writeCllm,
} from '../src/container/cllm.js';
import { bufferSource, type ByteSource } from '../src/formats/binary.js';
import { xxhash64 } from '../src/codec/cpu.js';
import { parseSpec } from '../src/quant/spec.js';
import { CodecLLMError } from '../src/messages.js';
import { assemble, hex, smallFile, smallTensors, split, throwsExact } from './cllm-helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-cllm-'));
const F = 'mem.cllm';

test('every CPU codec round-trips every storage kind bit-exactly (stored bytes, quantized codes+scales, f32 values)', () => {
  for (const codec of CLLM_CODECS) {
    const tensors = smallTensors(codec);
    const f = cllmFromBuffer(encodeCllm(tensors), F);
    assert.equal(f.tensors().length, tensors.length);
    for (const t of tensors) {
      const e = f.entry(t.name);
      assert.ok(e.chunks.length >= 2 || t.data.length <= 48, `${t.name} has several chunks`);
      assert.deepEqual(f.readStored(t.name), t.data, `${codec} ${t.name}`);
      assert.deepEqual(f.readF32(t.name), decodeStored(parseStorage(e.storage)!, t.shape, t.data));
    }
    const q = f.readQuantized('f');
    const want = quantFromBytes(parseSpec('int4:group=32:asym:scale=fp16'), [2, 64], tensors[5]!.data);
    assert.deepEqual(q.codes, want.codes);
    assert.deepEqual(q.scales, want.scales);
    assert.deepEqual(q.zeros, want.zeros);
    assert.equal(f.verify().length, tensors.length);
  }
});

test('chunk sizes: one chunk, many chunks and a chunk of 1 byte all round-trip', () => {
  for (const cs of [1, 7, 65536]) {
    const tensors = smallTensors('lz4', cs);
    const f = cllmFromBuffer(encodeCllm(tensors), F);
    for (const t of tensors) assert.deepEqual(f.readStored(t.name), t.data);
  }
});

test('manifest content: names, storage canonicalised, chunk table tiles the data region', () => {
  const bytes = encodeCllm([{ ...smallTensors('zstd')[1]!, storage: 'int8' }]); // 'int8' -> canonical 'int8:per-channel'
  const { manifest, data } = split(bytes);
  const t = (manifest.tensors as Record<string, unknown>[])[0]!;
  assert.equal(t.storage, 'int8:per-channel');
  assert.equal(manifest.format_version, 1);
  assert.equal(manifest.created_by, 'codecllm 0.1.0');
  const chunks = t.chunks as [number, number, number, string][];
  let at = 0;
  for (const [off, cs, , h] of chunks) {
    assert.equal(off, at);
    assert.equal(h, hex(xxhash64(data.subarray(off, off + cs))));
    at += cs;
  }
  assert.equal(at, data.length);
});

test('lazy: opening reads only the header and manifest; a tensor read reads only its chunks', () => {
  const bytes = smallFile();
  let read = 0;
  const inner = bufferSource(bytes, F);
  const counting: ByteSource = { file: F, size: bytes.length, read: (o, n) => ((read += n), inner.read(o, n)), close: () => inner.close() };
  const f = new CllmFile(counting);
  assert.ok(read <= Math.min(bytes.length, 1 << 16) + CLLM_HEADER_BYTES + f.header.manifestBytes);
  const before = read;
  f.readStored('c');
  assert.equal(read - before, f.entry('c').dataBytes);
});

test('files on disk: writeCllm then openCllm; verify decodes all', () => {
  const file = path.join(tmp, 'small.cllm');
  const tensors = smallTensors('deflate');
  writeCllm(file, tensors);
  const f = openCllm(file);
  try {
    assert.deepEqual(f.readStored('a'), tensors[0]!.data);
    assert.deepEqual(f.verify().map((t) => t.name), ['a', 'b', 'c', 'd', 'e', 'f']);
  } finally {
    f.close();
  }
  throwsExact(() => openCllm(path.join(tmp, 'nope.cllm')), 'E_IO', `${path.join(tmp, 'nope.cllm')}: no such file or directory`);
});

// ---- exact errors

test('header errors: magic, version, header checksum, manifest length and checksum, truncation', () => {
  const good = smallFile();
  const { manifest, mlen, data } = split(good);
  const bad = good.slice();
  bad[0] = 0x58; // 'XLLM'
  throwsExact(() => cllmFromBuffer(bad, F), 'E_CONTAINER', 'mem.cllm: not a CLLM file (bad magic)');
  throwsExact(() => cllmFromBuffer(assemble(manifest, data, { version: 2 }), F), 'E_CONTAINER', 'mem.cllm: unsupported CLLM version 2');
  const h = good.slice();
  h[9]! ^= 1; // manifest length: caught by the header checksum
  const stored = new DataView(h.buffer).getBigUint64(24, true);
  throwsExact(() => cllmFromBuffer(h, F), 'E_CHECKSUM', `mem.cllm: header checksum mismatch (stored ${hex(stored)}, computed ${hex(xxhash64(h.subarray(0, 24)))})`);
  const m = good.slice();
  m[CLLM_HEADER_BYTES + 5]! ^= 0x20;
  const ms = new DataView(m.buffer).getBigUint64(16, true);
  const mc = xxhash64(m.subarray(CLLM_HEADER_BYTES, CLLM_HEADER_BYTES + mlen));
  throwsExact(() => cllmFromBuffer(m, F), 'E_CHECKSUM', `mem.cllm: manifest checksum mismatch (stored ${hex(ms)}, computed ${hex(mc)})`);
  throwsExact(() => cllmFromBuffer(assemble(manifest, data, { mlen: 1n << 40n }), F), 'E_CONTAINER', 'mem.cllm: manifest length 1099511627776 exceeds limit 536870912');
  throwsExact(() => cllmFromBuffer(assemble(manifest, data, { mlen: 0n }), F), 'E_CONTAINER', 'mem.cllm: manifest length 0 exceeds limit 536870912');
  throwsExact(() => cllmFromBuffer(good.subarray(0, 20), F), 'E_CONTAINER', 'mem.cllm: truncated: header needs 32 bytes at offset, only 20 available');
  throwsExact(() => cllmFromBuffer(good.subarray(0, CLLM_HEADER_BYTES + 10), F), 'E_CONTAINER', `mem.cllm: truncated: manifest needs ${mlen} bytes at offset, only 10 available`);
  throwsExact(() => cllmFromBuffer(new Uint8Array(0), F), 'E_CONTAINER', 'mem.cllm: truncated: header needs 32 bytes at offset, only 0 available');
});

test('manifest errors (consistent checksums: a hostile file): exact one-line messages', () => {
  const { manifest, data } = split(smallFile());
  const M = () => structuredClone(manifest) as Record<string, unknown> & { tensors: Record<string, unknown>[] };
  const expectErr = (m: unknown, code: string, message: string, d = data) => throwsExact(() => cllmFromBuffer(assemble(m, d), F), code, message);
  expectErr('not json', 'E_CONTAINER', 'mem.cllm: malformed manifest: not valid JSON');
  expectErr('[1]', 'E_CONTAINER', 'mem.cllm: malformed manifest: not a JSON object');
  expectErr('{"a":1,"a":2}', 'E_CONTAINER', "mem.cllm: malformed manifest: duplicate key 'a'");
  let m = M();
  m.format_version = 2;
  expectErr(m, 'E_CONTAINER', 'mem.cllm: unsupported manifest format_version 2');
  m = M();
  m.extra = 1;
  expectErr(m, 'E_CONTAINER', "mem.cllm: malformed manifest: unknown key 'extra'");
  m = M();
  delete m.tokenizer;
  expectErr(m, 'E_CONTAINER', "mem.cllm: malformed manifest: missing key 'tokenizer'");
  m = M();
  m.tensors[1]!.codec = 'brotli';
  expectErr(m, 'E_CONTAINER', `mem.cllm: tensor 'b' has unknown codec "brotli" (known: none, zstd, lz4, deflate, snappy, lz4frame)`);
  m = M();
  m.tensors[0]!.transform = 'xor';
  expectErr(m, 'E_CONTAINER', `mem.cllm: tensor 'a' has unknown transform "xor" (known: none, byteplane, exponent-split)`);
  m = M();
  m.tensors[0]!.storage = 'q9_9';
  expectErr(m, 'E_DTYPE', "mem.cllm: tensor 'a' has unknown or unsupported dtype q9_9");
  m = M();
  m.tensors[1]!.storage = 'int8'; // not canonical
  expectErr(m, 'E_DTYPE', "mem.cllm: tensor 'b' has unknown or unsupported dtype int8");
  m = M();
  m.tensors[1]!.transform = 'byteplane'; // quantized streams take only 'none'
  expectErr(m, 'E_CONTAINER', "mem.cllm: tensor 'b': transform 'byteplane' needs elements of 2, 4 or 8 bytes (f16, bf16, f32, f64), got quantized");
  m = M();
  m.tensors[0]!.shape = [16, -8];
  expectErr(m, 'E_CONTAINER', "mem.cllm: tensor 'a' has invalid dimension -8");
  m = M();
  m.tensors[0]!.shape = [16, 9];
  expectErr(m, 'E_CONTAINER', "mem.cllm: tensor 'a': raw_size 256 does not match storage bf16 and shape [16, 9] (288 bytes)");
  m = M();
  m.tensors[2]!.name = 'a';
  expectErr(m, 'E_CONTAINER', "mem.cllm: duplicate tensor name 'a'");
  m = M();
  m.tensors[0]!.chunk_size = 0;
  expectErr(m, 'E_CONTAINER', "mem.cllm: tensor 'a': chunk_size must be an integer in [1, 268435456]");
  m = M();
  (m.tensors[0]!.chunks as unknown[]).pop();
  expectErr(m, 'E_CONTAINER', "mem.cllm: tensor 'a': chunk table must have 6 entries (raw_size 256, chunk_size 48)");
  m = M();
  (m.tensors[0]!.chunks as unknown[][])[2]![3] = 'XYZ';
  expectErr(m, 'E_CONTAINER', `mem.cllm: tensor 'a' chunk 2 of 6: entry must be [offset, compressed size, raw size, "16 hex digits"]`);
  m = M();
  (m.tensors[0]!.chunks as number[][])[1]![0]! += 1;
  const c1 = (manifest.tensors as Record<string, number[][]>[])[0]!.chunks![1]!;
  expectErr(m, 'E_CONTAINER', `mem.cllm: tensor 'a' chunk 1 of 6: starts at ${c1[0]! + 1}, expected ${c1[0]} (chunks must cover the data region exactly, in order)`);
  m = M();
  (m.tensors[0]!.chunks as number[][])[0]![2] = 47;
  expectErr(m, 'E_CONTAINER', "mem.cllm: tensor 'a' chunk 0 of 6: raw size 47, expected 48");
  m = M();
  m.tensors[0]!.raw_xxhash64 = '0000000000000000';
  const got = hex(xxhash64(smallTensors('zstd')[0]!.data));
  throwsExact(() => cllmFromBuffer(assemble(m, data), F).readStored('a'), 'E_CHECKSUM', `mem.cllm: tensor 'a': decoded data checksum mismatch (stored 0000000000000000, computed ${got})`);
  // a tensor whose chunk claims an impossible expansion (bounded allocation)
  const n = data.length * 16384 + 1024; // f32: 4n bytes > 65536 x the whole data region
  const big = { ...M(), tensors: [{ ...M().tensors[2]!, name: 'z', shape: [n], raw_size: 4 * n, chunk_size: 4 * n, chunks: [[0, data.length, 4 * n, '0000000000000000']] }] };
  expectErr(big, 'E_CONTAINER', `mem.cllm: tensor 'z' chunk 0 of 1: compressed size ${data.length} cannot expand to ${4 * n} bytes with codec zstd`);
  // extra bytes after the last chunk
  const more = new Uint8Array(data.length + 3);
  more.set(data);
  expectErr(M(), 'E_CONTAINER', 'mem.cllm: tensor data offsets do not cover the data section exactly (3 bytes after the last chunk)', more);
});

test('chunk data errors name the tensor and chunk; a hostile chunk with a valid hash fails in the codec, named', () => {
  const good = smallFile();
  const { manifest, mlen, data } = split(good);
  const tb = (manifest.tensors as { chunks: [number, number, number, string][] }[])[1]!;
  const [off, cs, , h] = tb.chunks[1]!;
  const bad = good.slice();
  bad[CLLM_HEADER_BYTES + mlen + off + 1]! ^= 4;
  const f = cllmFromBuffer(bad, F); // opening succeeds: chunk data is checked when read
  const computed = hex(xxhash64(bad.subarray(CLLM_HEADER_BYTES + mlen + off, CLLM_HEADER_BYTES + mlen + off + cs)));
  throwsExact(() => f.readStored('b'), 'E_CHECKSUM', `mem.cllm: tensor 'b' chunk 1 of 3: checksum mismatch (stored ${h}, computed ${computed})`);
  throwsExact(() => f.verify(), 'E_CHECKSUM', `mem.cllm: tensor 'b' chunk 1 of 3: checksum mismatch (stored ${h}, computed ${computed})`);
  assert.deepEqual(f.readStored('a'), smallTensors('zstd')[0]!.data); // other tensors still read
  // garbage with a matching hash: zstd rejects it, and the error names tensor and chunk
  const d2 = data.slice();
  d2.fill(0x55, off, off + cs);
  const m2 = structuredClone(manifest) as { tensors: { chunks: [number, number, number, string][] }[] };
  m2.tensors[1]!.chunks[1]![3] = hex(xxhash64(d2.subarray(off, off + cs)));
  throwsExact(() => cllmFromBuffer(assemble(m2, d2), F).readStored('b'), 'E_CONTAINER', /^mem\.cllm: tensor 'b' chunk 1 of 3: zstd decompress failed: .+$/);
  throwsExact(() => f.readQuantized('a'), 'E_ARG', "invalid tensor: 'a' is stored as bf16, not quantized");
  throwsExact(() => f.readStored('nope'), 'E_FORMAT', "mem.cllm: tensor 'nope' not found");
});

/** Open + read everything; returns the error or null. */
function check(bytes: Uint8Array): CodecLLMError | null {
  try {
    const f = cllmFromBuffer(bytes, F);
    f.verify();
    return null;
  } catch (e) {
    if (!(e instanceof CodecLLMError)) throw new Error(`not a CodecLLMError: ${String(e)}`, { cause: e });
    return e;
  }
}

/** Which tensor/chunk covers absolute file offset p (null outside the data region). */
function chunkAt(manifest: Record<string, unknown>, dataOffset: number, p: number): { name: string; chunk: number; n: number } | null {
  for (const t of manifest.tensors as { name: string; chunks: [number, number][] }[])
    for (let c = 0; c < t.chunks.length; c++) {
      const [o, s] = t.chunks[c]!;
      if (p >= dataOffset + o && p < dataOffset + o + s) return { name: t.name, chunk: c, n: t.chunks.length };
    }
  return null;
}

test('a flipped bit at EVERY byte position is detected; in chunk data the error names the right tensor and chunk', () => {
  for (const codec of ['zstd', 'none'] as const) {
    const good = smallFile(codec);
    const { manifest, mlen } = split(good);
    const dataOffset = CLLM_HEADER_BYTES + mlen;
    assert.equal(check(good), null);
    for (let p = 0; p < good.length; p++) {
      const bad = good.slice();
      bad[p]! ^= 1 << (p % 8);
      const e = check(bad);
      assert.ok(e, `${codec}: flip at byte ${p} of ${good.length} went undetected`);
      assert.ok(e.message.startsWith('mem.cllm: '), e.message);
      assert.ok(!e.message.includes('\n'), 'one line');
      const at = chunkAt(manifest, dataOffset, p);
      if (at) assert.ok(e.message.startsWith(`mem.cllm: tensor '${at.name}' chunk ${at.chunk} of ${at.n}: `), `${p}: ${e.message}`);
      else if (p < 24) assert.ok(/header checksum|bad magic|unsupported CLLM version/.test(e.message), `${p}: ${e.message}`);
      else if (p < 32) assert.ok(/header checksum/.test(e.message), `${p}: ${e.message}`);
      else assert.ok(/manifest checksum/.test(e.message), `${p}: ${e.message}`);
    }
  }
});

test('truncation at EVERY length is detected; inside the data region it names the first chunk that leaves it', () => {
  const good = smallFile('lz4');
  const { manifest, mlen } = split(good);
  const dataOffset = CLLM_HEADER_BYTES + mlen;
  for (let n = 0; n < good.length; n++) {
    const e = check(good.subarray(0, n));
    assert.ok(e, `truncation to ${n} bytes went undetected`);
    if (n > dataOffset) {
      const at = chunkAt(manifest, dataOffset, n)!; // the chunk holding the first missing byte
      assert.match(e.message, new RegExp(`^mem\\.cllm: tensor '${at.name}' chunk ${at.chunk} of ${at.n}: \\[\\d+, \\d+\\) lies outside the data region of ${n - dataOffset} bytes$`));
    } else if (n < CLLM_HEADER_BYTES) assert.match(e.message, /truncated: header needs 32 bytes|bad magic/);
    else if (n < dataOffset) assert.equal(e.message, `mem.cllm: truncated: manifest needs ${mlen} bytes at offset, only ${n - CLLM_HEADER_BYTES} available`);
  }
});

// ---- atomic writes

test('a failure mid-write (while compressing, or while assembling the file) leaves the old file intact and no temp file', () => {
  const file = path.join(tmp, 'atomic.cllm');
  const old = smallTensors('zstd');
  writeCllm(file, old);
  const before = fs.readFileSync(file);
  const realWrite = fs.writeSync;
  // scratch writes pass a position (5 arguments); the final file's writes (writeFileAtomic) do not
  for (const phase of ['scratch', 'final'] as const) {
    let calls = 0;
    (fs as { writeSync: unknown }).writeSync = (...args: unknown[]) => {
      const isScratch = args.length >= 5;
      if ((phase === 'scratch') === isScratch && ++calls === 3) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return (realWrite as (...a: unknown[]) => number)(...args);
    };
    syncBuiltinESMExports();
    try {
      assert.throws(() => writeCllm(file, smallTensors('lz4')), /ENOSPC/);
    } finally {
      (fs as { writeSync: unknown }).writeSync = realWrite;
      syncBuiltinESMExports();
    }
    assert.equal(calls, 3, `${phase}: the write really failed mid-way`);
    assert.deepEqual(fs.readFileSync(file), before, phase);
    assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.includes('atomic.cllm') && n.endsWith('.tmp')), [], phase);
  }
  const f = openCllm(file);
  assert.deepEqual(f.readStored('b'), old[1]!.data);
  f.close();
});

test('a writer killed (SIGKILL) mid-write leaves the old file intact and readable', async () => {
  const file = path.join(tmp, 'killed.cllm');
  const old = smallTensors('zstd');
  writeCllm(file, old);
  const before = fs.readFileSync(file);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  // the child compresses into its scratch file, then blocks forever on the 3rd write of the final temp file (header
  // and manifest written, chunk data under way), after telling us it is mid-write
  const script = `
    import fs from 'node:fs'; import { syncBuiltinESMExports } from 'node:module';
    import { writeCllm } from ${JSON.stringify(path.join(root, 'src/container/cllm.ts'))};
    const real = fs.writeSync; let n = 0;
    fs.writeSync = (...a) => { if (a.length < 5 && ++n === 3) { process.stdout.write('MID\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); } return real(...a); };
    syncBuiltinESMExports();
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);
    writeCllm(${JSON.stringify(file)}, [{ name: 'x', shape: [1 << 20], storage: 'u8', data: big, codec: 'lz4' }]);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child never reached the middle of the write')), 60_000);
    child.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('MID')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  const temps = fs.readdirSync(tmp).filter((n) => n.startsWith('.killed.cllm.') && n.endsWith('.codecllm-tmp'));
  assert.equal(temps.length, 1, 'the child is writing a temp file in the same folder');
  assert.equal(fs.readdirSync(tmp).filter((n) => n.startsWith('.killed.cllm.') && n.endsWith('.codecllm-data-tmp')).length, 1, 'and has its scratch file');
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  assert.deepEqual(fs.readFileSync(file), before);
  const f = openCllm(file);
  assert.deepEqual(f.readStored('a'), old[0]!.data);
  f.close();
  // the torn temp file (header, manifest, part of the chunks) is itself rejected, naming a chunk, never decoded silently
  const torn = fs.readFileSync(path.join(tmp, temps[0]!));
  assert.match(check(new Uint8Array(torn))?.message ?? 'decoded!', /^mem\.cllm: tensor 'x' chunk \d+ of 16: \[\d+, \d+\) lies outside the data region of \d+ bytes$/);
});
