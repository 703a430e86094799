/**
 * Mutation fuzzer for the .cllm container (in memory, no disk).
 *
 * Seeds: small valid containers (every storage kind, every CPU codec, chunks of a few dozen bytes). Two families:
 *
 *   corrupt   1-3 stacked raw mutations of the file bytes (bit flips, random / interesting bytes, u32 / u64 values at
 *             header fields, truncation, appended / inserted / deleted / duplicated runs). Oracle: whenever the bytes
 *             differ from the seed, opening + reading every tensor MUST fail with a CodecLLMError (corruption is
 *             never decoded silently).
 *   hostile   the manifest JSON edited (shapes, storage, transform, codec, chunk table entries, sizes, names, keys,
 *             versions, interesting numbers) and/or a chunk's bytes replaced, then the checksums recomputed, so the
 *             structural checks and the codecs themselves are reached. Oracle: a CodecLLMError or a clean decode of
 *             every tensor; nothing else (no other exception, no hang, no allocation beyond the parser's limits).
 *
 *   node --import tsx scripts/fuzz-cllm.ts [inputs=1000000] [seed=1]
 *
 * Prints inputs, wall time, throughput, the slowest input, outcome classes and failures (first few as base64).
 * Exit code 1 on any failure.
 */
import { pathToFileURL } from 'node:url';
import { CodecLLMError } from '../src/messages.js';
import { CLLM_CODECS, CLLM_HEADER_BYTES, cllmFromBuffer, encodeCllm, quantToBytes, type CllmTensorInput, type CllmCodec } from '../src/container/cllm.js';
import { xxhash64 } from '../src/codec/cpu.js';
import { quantize } from '../src/quant/quantize.js';
import { quantizeBlocks } from '../src/formats/ggml-blocks.js';
import { f32ToBf16 } from '../src/formats/dtypes.js';

export interface CllmFuzzStats {
  inputs: number;
  corrupt: number;
  hostile: number;
  ms: number;
  maxMs: number;
  classes: Map<string, number>;
  failures: { input: Uint8Array; family: string; error: string }[];
}

/** Seeded xorshift32. */
function makeRng(seed: number) {
  let s = seed >>> 0 || 0x9e3779b9;
  const next = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
  return { u32: next, int: (n: number) => next() % n, f: () => next() / 2 ** 32 };
}
type Rng = ReturnType<typeof makeRng>;

const hex = (h: bigint) => h.toString(16).padStart(16, '0');

function tensorsFor(codec: CllmCodec, chunkSize: number): CllmTensorInput[] {
  const f = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i * 1.7) * 0.05);
  const bf = Uint16Array.from(f, f32ToBf16);
  return [
    { name: 'model.layers.0.self_attn.q_proj.weight', shape: [16, 8], storage: 'bf16', data: new Uint8Array(bf.buffer), transform: 'byteplane', codec, chunkSize },
    { name: 'b', shape: [4, 32], storage: 'int8:per-channel', data: quantToBytes(quantize(f, [4, 32], 'int8:per-channel')), codec, chunkSize },
    { name: 'n', shape: [8], storage: 'f32', data: new Uint8Array(f.slice(0, 8).buffer), transform: 'byteplane', codec, chunkSize },
    { name: 'q', shape: [2, 32], storage: 'q8_0', data: quantizeBlocks('q8_0', f.subarray(0, 64)), codec, chunkSize },
    { name: 'e', shape: [4], storage: 'bf16', data: new Uint8Array(bf.slice(0, 4).buffer), transform: 'exponent-split', codec, chunkSize },
    { name: 'i4', shape: [2, 64], storage: 'int4:group=32:asym:scale=fp16', data: quantToBytes(quantize(f, [2, 64], 'int4:group=32:asym:scale=fp16')), codec, chunkSize },
  ];
}

/** Valid seed containers: every CPU codec, two chunk sizes. */
export function cllmSeeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const codec of CLLM_CODECS) for (const cs of [40, 100]) out.push(encodeCllm(tensorsFor(codec, cs), { metadata: { k: 'v' } }));
  return out;
}

/** A container from a manifest (object or text) and a data region, with valid checksums. */
export function assembleCllm(manifest: unknown, data: Uint8Array, version = 1, mlen?: bigint): Uint8Array {
  const m = Buffer.from(typeof manifest === 'string' ? manifest : JSON.stringify(manifest), 'utf8');
  const out = new Uint8Array(CLLM_HEADER_BYTES + m.length + data.length);
  const dv = new DataView(out.buffer);
  out.set(Buffer.from('CLLM', 'latin1'), 0);
  dv.setUint32(4, version, true);
  dv.setBigUint64(8, mlen ?? BigInt(m.length), true);
  dv.setBigUint64(16, xxhash64(m), true);
  dv.setBigUint64(24, xxhash64(out.subarray(0, 24)), true);
  out.set(m, CLLM_HEADER_BYTES);
  out.set(data, CLLM_HEADER_BYTES + m.length);
  return out;
}

function splitCllm(b: Uint8Array): { manifest: Record<string, unknown>; data: Uint8Array } {
  const mlen = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(8, true));
  return { manifest: JSON.parse(Buffer.from(b.subarray(CLLM_HEADER_BYTES, CLLM_HEADER_BYTES + mlen)).toString('utf8')), data: b.slice(CLLM_HEADER_BYTES + mlen) };
}

const INTERESTING_U32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];
const INTERESTING_U64 = [0n, 1n, 31n, 32n, 33n, 0xffffffffn, 1n << 32n, (1n << 53n) + 1n, (1n << 63n), (1n << 64n) - 1n, 512n * 1024n * 1024n, 512n * 1024n * 1024n + 1n];
const INTERESTING_JSON: unknown[] = [0, -1, 1, 2, 3, 7, 8, 47, 48, 255, 256, 65536, 1 << 28, (1 << 28) + 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e308, -0, 0.5, NaN, null, true, '', 'x', '0', [], {}, [0], [[0, 1, 2, 'z']], 'none', 'zstd', 'lz4', 'deflate', 'snappy', 'lz4frame', 'brotli', 'byteplane', 'exponent-split', 'bf16', 'f32', 'q4_1', 'int8:per-channel', 'int4:group=32', 'fp8:per-tensor', '0000000000000000', 'ffffffffffffffff', '__proto__', 'a\u0000b', '\u2028'];

/** 1-3 raw mutations of the bytes. */
function corrupt(rng: Rng, seed: Uint8Array): Uint8Array {
  let b: Uint8Array = seed.slice();
  const n = 1 + rng.int(3);
  for (let k = 0; k < n; k++) {
    const pos = () => (b.length ? (rng.f() < 0.3 ? rng.int(Math.min(b.length, 40)) : rng.int(b.length)) : 0);
    switch (rng.int(9)) {
      case 0:
      case 1:
        if (b.length) b[pos()]! ^= 1 << rng.int(8);
        break;
      case 2:
        if (b.length) b[pos()] = rng.int(256);
        break;
      case 3: {
        const p = [4, 8, 12, 16, 20, 24, 28][rng.int(7)]!;
        if (p + 4 <= b.length) new DataView(b.buffer).setUint32(p, INTERESTING_U32[rng.int(INTERESTING_U32.length)]!, true);
        break;
      }
      case 4: {
        const p = [8, 16, 24][rng.int(3)]!;
        if (p + 8 <= b.length) new DataView(b.buffer).setBigUint64(p, INTERESTING_U64[rng.int(INTERESTING_U64.length)]!, true);
        break;
      }
      case 5:
        b = b.slice(0, rng.int(b.length + 1));
        break;
      case 6: {
        const extra = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
        const p = rng.int(b.length + 1);
        const o = new Uint8Array(b.length + extra.length);
        o.set(b.subarray(0, p));
        o.set(extra, p);
        o.set(b.subarray(p), p + extra.length);
        b = o;
        break;
      }
      case 7: {
        if (!b.length) break;
        const p = rng.int(b.length);
        const len = 1 + rng.int(Math.min(16, b.length - p));
        const o = new Uint8Array(b.length - len);
        o.set(b.subarray(0, p));
        o.set(b.subarray(p + len), p);
        b = o;
        break;
      }
      case 8: {
        if (!b.length) break;
        const p = rng.int(b.length);
        const len = 1 + rng.int(Math.min(32, b.length - p));
        const q = rng.int(b.length + 1);
        const run = b.slice(p, p + len);
        const o = new Uint8Array(b.length + len);
        o.set(b.subarray(0, q));
        o.set(run, q);
        o.set(b.subarray(q), q + len);
        b = o;
        break;
      }
    }
  }
  return b;
}

function pick<T>(rng: Rng, a: readonly T[]): T {
  return a[rng.int(a.length)]!;
}

/** Edit the manifest and/or chunk bytes, keep every checksum consistent. */
function hostile(rng: Rng, seed: Uint8Array): Uint8Array {
  const { manifest, data } = splitCllm(seed);
  const m = manifest as Record<string, unknown> & { tensors: Record<string, unknown>[] };
  const edits = 1 + rng.int(3);
  let d = data;
  let version = 1;
  let text: string | null = null;
  for (let k = 0; k < edits; k++) {
    const ts = Array.isArray(m.tensors) ? m.tensors : [];
    const cand = ts.length ? pick(rng, ts) : null;
    const t = cand !== null && typeof cand === 'object' && !Array.isArray(cand) ? cand : null;
    const v = pick(rng, INTERESTING_JSON);
    switch (rng.int(12)) {
      case 0: // a tensor field
        if (t) t[pick(rng, ['name', 'shape', 'storage', 'transform', 'codec', 'level', 'chunk_size', 'raw_size', 'raw_xxhash64', 'chunks', 'extra'])] = v;
        break;
      case 1: // a dimension
        if (t && Array.isArray(t.shape) && t.shape.length) (t.shape as unknown[])[rng.int(t.shape.length)] = rng.f() < 0.5 ? v : (t.shape as number[])[0]! * 2;
        break;
      case 2: // a chunk entry field
        if (t && Array.isArray(t.chunks) && t.chunks.length) {
          const c = pick(rng, t.chunks as unknown[][]);
          if (Array.isArray(c)) c[rng.int(5)] = rng.f() < 0.5 ? v : (typeof c[0] === 'number' ? c[0] + pick(rng, [-1, 1, 7]) : 0);
        }
        break;
      case 3: // drop / duplicate / swap chunks or tensors
        if (t && Array.isArray(t.chunks) && t.chunks.length) {
          const ch = t.chunks as unknown[];
          if (rng.f() < 0.5) ch.splice(rng.int(ch.length), 1);
          else ch.push(ch[rng.int(ch.length)]);
        } else if (ts.length > 1) ts.reverse();
        break;
      case 4:
        if (ts.length) ts.splice(rng.int(ts.length), 1);
        break;
      case 5:
        if (t) ts.push({ ...t });
        break;
      case 6: // top-level fields
        m[pick(rng, ['format_version', 'created_by', 'config', 'tokenizer', 'metadata', 'tensors', 'other'])] = v;
        break;
      case 7: // a chunk's bytes replaced, its hash recomputed: reaches the codec
        if (t && Array.isArray(t.chunks) && t.chunks.length) {
          const c = pick(rng, t.chunks as [number, number, number, string][]);
          if (Array.isArray(c) && typeof c[0] === 'number' && typeof c[1] === 'number' && c[0] >= 0 && c[0] + c[1] <= d.length) {
            d = d.slice();
            const n = 1 + rng.int(4);
            for (let i = 0; i < n; i++) d[c[0] + rng.int(Math.max(1, c[1]))] = rng.int(256);
            c[3] = hex(xxhash64(d.subarray(c[0], c[0] + c[1])));
          }
        }
        break;
      case 8: // raw_xxhash64 consistent with a different stored value is impossible without decoding: garble it
        if (t) t.raw_xxhash64 = hex(BigInt(rng.u32()) << 32n | BigInt(rng.u32()));
        break;
      case 9:
        version = pick(rng, [0, 1, 2, 0xffffffff]);
        break;
      case 10: // raw JSON text edits (duplicates, garbage, deep nesting)
        text = pick(rng, [
          JSON.stringify(m).replace('"tensors"', '"tensors":[],"tensors"'),
          JSON.stringify(m).slice(0, rng.int(JSON.stringify(m).length)),
          '['.repeat(100000),
          '{"format_version":1}',
          JSON.stringify(m) + ' ',
          '\ufeff' + JSON.stringify(m),
        ]);
        break;
      case 11: // data region appended / truncated with a consistent manifest
        d = rng.f() < 0.5 ? d.slice(0, rng.int(d.length + 1)) : Uint8Array.from([...d, ...Array.from({ length: 1 + rng.int(8) }, () => rng.int(256))]);
        break;
    }
  }
  return assembleCllm(text ?? m, d, version);
}

/** Open + decode everything; 'ok' or the error class; throws on anything but a CodecLLMError. */
function run(input: Uint8Array): string {
  try {
    const f = cllmFromBuffer(input, 'fuzz.cllm');
    for (const t of f.tensors()) f.readF32(t.name);
    f.verify();
    return 'ok';
  } catch (e) {
    if (!(e instanceof CodecLLMError)) throw e;
    if (e.message.includes('\n')) throw new Error(`multi-line message: ${e.message}`);
    if (!e.message.startsWith('fuzz.cllm: ') && e.code !== 'E_ARG') throw new Error(`message does not name the file: ${e.message}`);
    // class = code + the message with numbers and quoted text blanked
    return `${e.code} ${e.message.replace(/'[^']*'|"[^"]*"|[0-9a-f]{16}|\d+/g, '#').slice(0, 90)}`;
  }
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));

/**
 * Run `n` mutated inputs (half corrupt, half hostile).
 * @example
 * const s = fuzzCllm(10000, 1); s.failures.length; // 0
 */
export function fuzzCllm(n: number, seed = 1): CllmFuzzStats {
  const rng = makeRng(seed);
  const seeds = cllmSeeds();
  for (const s of seeds) if (run(s) !== 'ok') throw new Error('a seed does not decode');
  const stats: CllmFuzzStats = { inputs: 0, corrupt: 0, hostile: 0, ms: 0, maxMs: 0, classes: new Map(), failures: [] };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = seeds[rng.int(seeds.length)]!;
    const family = rng.f() < 0.5 ? 'corrupt' : 'hostile';
    const input = family === 'corrupt' ? corrupt(rng, s) : hostile(rng, s);
    const a = performance.now();
    let cls: string;
    try {
      cls = run(input);
      if (family === 'corrupt' && cls === 'ok' && !same(input, s)) throw new Error('corrupted input decoded silently');
    } catch (e) {
      if (stats.failures.length < 5) stats.failures.push({ input, family, error: String((e as Error).stack ?? e) });
      cls = 'FAIL';
    }
    const ms = performance.now() - a;
    if (ms > stats.maxMs) stats.maxMs = ms;
    stats.classes.set(`${family} ${cls}`, (stats.classes.get(`${family} ${cls}`) ?? 0) + 1);
    stats.inputs++;
    if (family === 'corrupt') stats.corrupt++;
    else stats.hostile++;
  }
  stats.ms = performance.now() - t0;
  return stats;
}

/** Text summary of a run. */
export function reportCllmFuzz(s: CllmFuzzStats, top = 25): string {
  const lines = [
    `.cllm fuzz: ${s.inputs} inputs (${s.corrupt} corrupt, ${s.hostile} hostile) in ${(s.ms / 1000).toFixed(1)} s (${((s.inputs / s.ms) * 1000).toFixed(0)}/s), slowest ${s.maxMs.toFixed(1)} ms, failures ${s.failures.length ? 'YES' : 0}`,
    ...[...s.classes].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `  ${String(v).padStart(8)}  ${k}`),
  ];
  for (const f of s.failures) lines.push(`FAILURE (${f.family}): ${f.error}\n  input (base64): ${Buffer.from(f.input).toString('base64').slice(0, 4000)}`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = Number(process.argv[2] ?? 1_000_000);
  const seed = Number(process.argv[3] ?? 1);
  console.log(`# node --import tsx scripts/fuzz-cllm.ts ${n} ${seed}   (${new Date().toISOString()})`);
  const s = fuzzCllm(n, seed);
  console.log(reportCllmFuzz(s));
  if (s.failures.length) process.exitCode = 1;
}
