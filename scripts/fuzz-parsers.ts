/**
 * Mutation fuzzer for the safetensors and GGUF parsers (in memory, no disk).
 *
 * Each input is a valid seed file with 1-3 stacked mutations: bit flips, interesting bytes / u32 / u64 values
 * (biased to the header), truncation, inserted / deleted / duplicated chunks, and for safetensors JSON-aware edits
 * of the header (dtypes, shapes, offsets, duplicate keys, metadata). A parsed input is then read in full (every
 * tensor through readF32). The only acceptable failure is a one-line CodecLLMError; anything else is a crash.
 *
 *   node --import tsx scripts/fuzz-parsers.ts [inputsPerParser=1000000] [seed=1]
 *
 * Prints, per parser: inputs, wall time, throughput, slowest input, outcome classes (ok / error code + message
 * shape) and crashes (the first few as base64). Exit code 1 on any crash.
 */
import { pathToFileURL } from 'node:url';
import { CodecLLMError } from '../src/messages.js';
import { encodeSafetensors, safetensorsFromBuffer, type SafetensorsTensorInput } from '../src/formats/safetensors.js';
import { encodeGGUF, parseGGUF, type GGUFWriteSpec } from '../src/formats/gguf.js';
import { quantizeBlocks } from '../src/formats/ggml-blocks.js';
import { f32ToF16 } from '../src/formats/dtypes.js';
import type { TensorSource } from '../src/formats/tensor.js';

export type Parser = 'safetensors' | 'gguf';

export interface FuzzStats {
  parser: Parser;
  inputs: number;
  ms: number;
  /** Slowest single input (parse + full read), ms. */
  maxMs: number;
  classes: Map<string, number>;
  crashes: { input: Uint8Array; error: string }[];
}

/** Seeded xorshift32. */
function makeRng(seed: number) {
  let s = seed >>> 0 || 0x9e3779b9;
  const next = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
  return { u32: next, int: (n: number) => next() % n, f: () => next() / 2 ** 32 };
}
type Rng = ReturnType<typeof makeRng>;

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Valid seed files: a few dtypes and metadata kinds each. */
function seeds(parser: Parser): Uint8Array[] {
  const f = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
  if (parser === 'safetensors') {
    const t: SafetensorsTensorInput[] = [
      { name: 'model.embed_tokens.weight', dtype: 'f32', shape: [4, 8], data: bytesOf(f.subarray(0, 32)) },
      { name: 'layers.0.attn.q.weight', dtype: 'f16', shape: [2, 8], data: bytesOf(Uint16Array.from(f.subarray(0, 16), f32ToF16)) },
      { name: 'b', dtype: 'bf16', shape: [4], data: new Uint8Array(8) },
      { name: 'ids', dtype: 'i64', shape: [2], data: new Uint8Array(16) },
      { name: 'm', dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) },
      { name: 'z', dtype: 'f64', shape: [0], data: new Uint8Array(0) },
    ];
    return [encodeSafetensors(t, { format: 'pt' }), encodeSafetensors(t.slice(0, 2)), encodeSafetensors([t[2]!, t[3]!], { a: 'b', c: '' })];
  }
  const spec: GGUFWriteSpec = {
    metadata: [
      { key: 'general.architecture', type: 'string', value: 'llama' },
      { key: 'llama.block_count', type: 'uint32', value: 2 },
      { key: 'llama.rope.freq_base', type: 'float32', value: 10000 },
      { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: ['<s>', 'a', 'bé', 'Ġt'] },
      { key: 'tokenizer.ggml.scores', type: 'array', itemType: 'float32', value: [0, -1, -2, -3] },
      { key: 'flag', type: 'bool', value: true },
      { key: 'big', type: 'uint64', value: 1n << 40n },
    ],
    tensors: [
      { name: 'token_embd.weight', dtype: 'q8_0', shape: [2, 32], data: quantizeBlocks('q8_0', f) },
      { name: 'blk.0.attn_q.weight', dtype: 'q4_0', shape: [1, 32], data: quantizeBlocks('q4_0', f.subarray(0, 32)) },
      { name: 'blk.0.ffn.weight', dtype: 'q4_1', shape: [32], data: quantizeBlocks('q4_1', f.subarray(32)) },
      { name: 'norm', dtype: 'f32', shape: [8], data: bytesOf(f.subarray(0, 8)) },
      { name: 'h', dtype: 'f16', shape: [2, 2], data: new Uint8Array(8) },
    ],
  };
  const k = (dt: 'q4_k' | 'q6_k', bytes: number) => ({ name: `k.${dt}`, dtype: dt, shape: [256], data: new Uint8Array(bytes).fill(0x11) });
  return [encodeGGUF(spec), encodeGGUF({ metadata: spec.metadata.slice(0, 2), tensors: [spec.tensors[3]!, k('q4_k', 144), k('q6_k', 210)] })];
}

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x22, 0x2c, 0x7b, 0x7d];
const INTERESTING_64 = [0n, 1n, 2n, 4n, 5n, 13n, 31n, 32n, 33n, 0x7fn, 0xffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 24n,
  1n << 32n, (1n << 53n) - 1n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

/** Header length of a seed (where mutations matter most). */
function headerEnd(parser: Parser, b: Uint8Array): number {
  if (parser === 'safetensors') return Math.min(b.length, 8 + Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true)));
  try {
    return parseGGUF(b).dataOffset;
  } catch {
    return b.length;
  }
}

function mutateBytes(r: Rng, b: Uint8Array, hdr: number): Uint8Array {
  const pos = (n = 1) => r.int(Math.max(1, Math.min(b.length, r.f() < 0.85 ? hdr : b.length) - n + 1));
  const out = (x: Uint8Array) => x;
  switch (r.int(9)) {
    case 0: { // bit flips
      const c = new Uint8Array(b); // a copy (Buffer#slice would be a view)
      for (let i = 1 + r.int(4); i > 0; i--) c[pos()]! ^= 1 << r.int(8);
      return out(c);
    }
    case 1: { // interesting byte
      const c = new Uint8Array(b); // a copy (Buffer#slice would be a view)
      c[pos()] = INTERESTING_8[r.int(INTERESTING_8.length)]!;
      return out(c);
    }
    case 2: { // interesting u32/u64 (+-1)
      const c = new Uint8Array(b); // a copy (Buffer#slice would be a view)
      const w = r.f() < 0.5 ? 4 : 8;
      if (c.length < w) return c;
      const p = pos(w);
      let v = INTERESTING_64[r.int(INTERESTING_64.length)]! + BigInt(r.int(3) - 1);
      v = BigInt.asUintN(64, v);
      const dv = new DataView(c.buffer);
      if (w === 4) dv.setUint32(p, Number(BigInt.asUintN(32, v)), true);
      else dv.setBigUint64(p, v, true);
      return c;
    }
    case 3: // truncate
      return b.subarray(0, r.int(b.length + 1));
    case 4: { // insert random bytes
      const p = pos(), n = 1 + r.int(16);
      const ins = Uint8Array.from({ length: n }, () => r.int(256));
      return Buffer.concat([b.subarray(0, p), ins, b.subarray(p)]);
    }
    case 5: { // delete a chunk
      const p = pos(), n = 1 + r.int(16);
      return Buffer.concat([b.subarray(0, p), b.subarray(p + n)]);
    }
    case 6: { // duplicate a chunk elsewhere
      const p = pos(), n = 1 + r.int(32), q = pos();
      return Buffer.concat([b.subarray(0, q), b.subarray(p, p + n), b.subarray(q)]);
    }
    case 7: { // tweak a decimal digit (keeps JSON valid, moves shapes and offsets)
      const c = new Uint8Array(b);
      for (let p = pos(), i = 0; i < c.length; i++, p = (p + 1) % c.length) {
        if (c[p]! >= 0x30 && c[p]! <= 0x39) {
          c[p] = 0x30 + r.int(10);
          break;
        }
      }
      return c;
    }
    default: { // random byte
      const c = new Uint8Array(b); // a copy (Buffer#slice would be a view)
      c[pos()] = r.int(256);
      return c;
    }
  }
}

const JSON_VALUES: unknown[] = [-1, 0, 1, 2, 3, 7, 8, 1.5, 2 ** 31, 2 ** 53, 2 ** 64, 1e308, -0, null, true, 'F32', 'I8', 'F8_E4M3', 'XX', '', [], [0], [1, 2, 3], {}];

/** JSON-aware safetensors mutation: edit one field of the header object and re-encode (length usually right). */
function mutateSafetensorsJson(r: Rng, b: Uint8Array): Uint8Array {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  const h = JSON.parse(Buffer.from(b.subarray(8, 8 + n)).toString()) as Record<string, Record<string, unknown>>;
  const names = Object.keys(h);
  const name = names[r.int(names.length)]!;
  const e = h[name]!;
  const pick = () => JSON_VALUES[r.int(JSON_VALUES.length)];
  switch (r.int(7)) {
    case 0: e.dtype = pick(); break;
    case 1: if (Array.isArray(e.shape) && e.shape.length) e.shape[r.int(e.shape.length)] = pick(); else e.shape = pick(); break;
    case 2: if (Array.isArray(e.data_offsets)) e.data_offsets[r.int(2)] = (e.data_offsets[r.int(2)] as number) + r.int(17) - 8; break;
    case 3: e.data_offsets = pick(); break;
    case 4: delete h[name]; break;
    case 5: h[names[r.int(names.length)]!] = h[names[r.int(names.length)]!]!; break; // same entry under two names
    default: (h as Record<string, unknown>)[r.f() < 0.5 ? '__metadata__' : name] = pick();
  }
  let text = JSON.stringify(h);
  // sometimes rename the first key to another entry's name: a duplicate key in the text
  if (r.f() < 0.2 && names.length > 1) text = text.replace(/^\{"(?:[^"\\]|\\.)*"/, `{${JSON.stringify(names[1])}`);
  const hb = Buffer.from(text);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length) + (r.f() < 0.1 ? BigInt(r.int(5)) - 2n : 0n));
  return Buffer.concat([len, hb, b.subarray(8 + n)]);
}

function parseAndRead(parser: Parser, input: Uint8Array): void {
  const src: TensorSource = parser === 'safetensors' ? safetensorsFromBuffer(input, 'fuzz.safetensors') : parseGGUF(input, 'fuzz.gguf');
  for (const t of src.list()) src.readF32(t.name);
  src.close();
}

/** Outcome class: 'ok', or error code + message with the file, names and numbers blanked. */
function classify(e: CodecLLMError): string {
  const m = e.message
    .replace(/^fuzz\.\w+: /, '')
    .replace(/'.*?'(?=$|[\s)])/g, "'*'") // names and keys
    .replace(/(unsupported dtype |general\.alignment ).*?(?= is |$)/, '$1*')
    .replace(/(?<![A-Za-z])-?\d+/g, 'N');
  return `${e.code} ${m.slice(0, 90)}`;
}

/**
 * Run `n` mutated inputs through one parser.
 *
 * @example
 * const s = fuzzParser('gguf', 20000, 1); s.crashes.length; // 0
 */
export function fuzzParser(parser: Parser, n: number, seed: number): FuzzStats {
  const r = makeRng(seed);
  const corpus = seeds(parser).map((b) => ({ b, hdr: headerEnd(parser, b) }));
  const stats: FuzzStats = { parser, inputs: 0, ms: 0, maxMs: 0, classes: new Map(), crashes: [] };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = corpus[r.int(corpus.length)]!;
    let input = s.b;
    if (parser === 'safetensors' && r.f() < 0.5) {
      // structure-aware: 1-3 JSON edits (each needs the previous header to still parse), sometimes a byte mutation on top
      for (let m = 1 + r.int(3); m > 0; m--) {
        try {
          input = mutateSafetensorsJson(r, input);
        } catch {
          break;
        }
      }
      if (r.f() < 0.3) input = mutateBytes(r, input, s.hdr);
    } else {
      for (let m = 1 + r.int(3); m > 0; m--) input = mutateBytes(r, input, s.hdr);
    }
    const t = performance.now();
    let cls = 'ok';
    try {
      parseAndRead(parser, input);
    } catch (e) {
      if (e instanceof CodecLLMError && !e.message.includes('\n')) cls = classify(e);
      else {
        cls = 'CRASH';
        if (stats.crashes.length < 20) stats.crashes.push({ input, error: String((e as Error)?.stack ?? e) });
      }
    }
    const dt = performance.now() - t;
    if (dt > stats.maxMs) stats.maxMs = dt;
    stats.classes.set(cls, (stats.classes.get(cls) ?? 0) + 1);
    stats.inputs++;
  }
  stats.ms = performance.now() - t0;
  return stats;
}

/** Human summary of one run. */
export function report(s: FuzzStats, top = 12): string {
  const lines = [
    `${s.parser}: ${s.inputs} inputs in ${(s.ms / 1000).toFixed(1)} s = ${Math.round(s.inputs / (s.ms / 1000))} inputs/s; ` +
      `slowest input ${s.maxMs.toFixed(1)} ms; crashes ${s.crashes.length}; outcome classes ${s.classes.size}`,
  ];
  const sorted = [...s.classes].sort((a, b) => b[1] - a[1]);
  for (const [k, v] of sorted.slice(0, top)) lines.push(`  ${String(v).padStart(8)}  ${(v / s.inputs * 100).toFixed(2).padStart(6)}%  ${k}`);
  if (sorted.length > top) lines.push(`  ... ${sorted.length - top} more classes`);
  for (const c of s.crashes.slice(0, 3)) lines.push(`  CRASH ${c.error.split('\n')[0]}\n    input(base64)=${Buffer.from(c.input).toString('base64')}`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = Number(process.argv[2] ?? 1_000_000);
  const seed = Number(process.argv[3] ?? 1);
  console.log(`fuzz-parsers: ${n} inputs per parser, seed ${seed}, node ${process.version}, ${new Date().toISOString()}`);
  let crashes = 0;
  for (const p of ['safetensors', 'gguf'] as Parser[]) {
    const s = fuzzParser(p, n, seed);
    crashes += s.crashes.length;
    console.log(report(s));
  }
  process.exit(crashes ? 1 : 0);
}
