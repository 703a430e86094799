/**
 * CPU codec benchmark on the default model (SmolLM2-135M-Instruct): per codec and level, on
 *   int8 codes        the INT8 per-channel codes of every 2-D weight (quantizeFast), concatenated;
 *   bf16 weights      every tensor as bf16 (from the GGUF's dequantized values), as stored / byteplane / exponent-split
 *                     (transforms applied per tensor, as the .cllm does);
 * cut into 64 KiB chunks (the .cllm / nvCOMP chunking), one thread: ratio, the order-0 entropy bound beside it,
 * compress and decompress MB/s (MB = 10^6 bytes of raw data). Every configuration is round-tripped and compared
 * byte for byte before it is timed. Compression: best of --reps passes (2); decompression: best of --reps + 1.
 *
 *   node --import tsx scripts/bench-cpu-codecs.ts [--model default] [--chunk-size 65536] [--sample-mb 0 (= all)] [--reps 2] [--json out.json]
 *
 * Prints a markdown table with the date, command, machine and library versions.
 */
import os from 'node:os';
import fs from 'node:fs';
import { openCheckpoint } from '../src/model/checkpoint.js';
import { quantizeFast } from '../src/quant/native.js';
import { cpuCompress, cpuDecompress, cpuCodecVersions, type CpuCodec } from '../src/codec/cpu.js';
import { applyTransform, transformPlanes, type Transform } from '../src/codec/transforms.js';
import { entropyReport } from '../src/codec/entropy.js';
import { f32ToBf16 } from '../src/formats/dtypes.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : def;
};
const MODEL = opt('--model', 'default');
const CHUNK = Number(opt('--chunk-size', '65536'));
const SAMPLE_MB = Number(opt('--sample-mb', '0'));
const JSON_OUT = opt('--json', '');
/** timed passes: compress best of REPS, decompress best of REPS + 1 (machines shared with other work are noisy) */
const REPS = Number(opt('--reps', '2'));

const CONFIGS: { codec: CpuCodec; level?: number }[] = [
  { codec: 'zstd', level: 1 },
  { codec: 'zstd', level: 3 },
  { codec: 'zstd', level: 9 },
  { codec: 'lz4', level: 0 },
  { codec: 'lz4', level: 9 },
  { codec: 'lz4frame', level: 0 },
  { codec: 'deflate', level: 1 },
  { codec: 'deflate', level: 6 },
  { codec: 'snappy' },
];

interface DataSet {
  name: string;
  transform: Transform;
  bytes: Uint8Array;
  boundBytes: number;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Every k-th chunk so that about `mb` MB remain (0: all), keeping the data's mix of tensors. */
function sample(b: Uint8Array, mb: number): Uint8Array {
  if (!mb || b.length <= mb * 1e6) return b;
  const chunks = Math.ceil(b.length / CHUNK);
  const keep = Math.ceil((mb * 1e6) / CHUNK);
  const step = chunks / keep;
  const parts: Uint8Array[] = [];
  for (let k = 0; k < keep; k++) {
    const c = Math.floor(k * step);
    parts.push(b.subarray(c * CHUNK, Math.min((c + 1) * CHUNK, b.length)));
  }
  return concat(parts);
}

function loadData(): DataSet[] {
  const ck = openCheckpoint(MODEL);
  const codes: Uint8Array[] = [];
  const bf: Record<Transform, Uint8Array[]> = { none: [], byteplane: [], 'exponent-split': [] };
  const bound: Record<string, number> = { codes: 0, none: 0, byteplane: 0, 'exponent-split': 0 };
  try {
    for (const t of ck.weights.list()) {
      const w = ck.weights.readF32(t.name);
      if (t.shape.length === 2) {
        const q = quantizeFast(w, t.shape, 'int8:per-channel');
        const c = new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.byteLength);
        codes.push(c);
        bound.codes! += entropyReport(c).boundBytes;
      }
      const u = new Uint16Array(w.length);
      for (let i = 0; i < w.length; i++) u[i] = f32ToBf16(w[i]!);
      const raw = new Uint8Array(u.buffer);
      for (const tr of ['none', 'byteplane', 'exponent-split'] as const) {
        const x = applyTransform(tr, raw, 2, 'bf16');
        bf[tr].push(x);
        bound[tr]! += entropyReport(x, transformPlanes(tr, x.length, 2, 'bf16')).boundBytes;
      }
    }
  } finally {
    ck.close();
  }
  const sets: DataSet[] = [{ name: 'int8 codes (per-channel)', transform: 'none', bytes: concat(codes), boundBytes: bound.codes! }];
  for (const tr of ['none', 'byteplane', 'exponent-split'] as const) sets.push({ name: 'bf16 weights', transform: tr, bytes: concat(bf[tr]), boundBytes: bound[tr]! });
  // the bound is of the full data; a sample keeps the same per-byte bound
  return sets.map((s) => {
    const b = sample(s.bytes, SAMPLE_MB);
    return { ...s, bytes: b, boundBytes: (s.boundBytes * b.length) / s.bytes.length };
  });
}

interface Row {
  data: string;
  transform: Transform;
  codec: CpuCodec;
  level: number | null;
  raw_MB: number;
  compressed_MB: number;
  ratio: number;
  entropy_bound_ratio: number;
  compress_MBps: number;
  decompress_MBps: number;
}

function benchOne(d: DataSet, c: { codec: CpuCodec; level?: number }): Row {
  const b = d.bytes;
  const n = Math.ceil(b.length / CHUNK);
  const opts = c.level === undefined ? {} : { level: c.level };
  const comp: Uint8Array[] = new Array(n);
  let t = 0;
  let cs = Infinity;
  for (let rep = 0; rep < REPS; rep++) {
    t = performance.now();
    for (let i = 0; i < n; i++) comp[i] = cpuCompress(c.codec, b.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, b.length)), opts);
    cs = Math.min(cs, (performance.now() - t) / 1000);
  }
  // round trip before timing
  for (let i = 0; i < n; i++) {
    const want = b.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, b.length));
    const got = cpuDecompress(c.codec, comp[i]!, want.length);
    if (!Buffer.from(got).equals(Buffer.from(want.buffer, want.byteOffset, want.length))) throw new Error(`${c.codec} chunk ${i}: round trip mismatch`);
  }
  let best = Infinity;
  for (let rep = 0; rep < REPS + 1; rep++) {
    t = performance.now();
    for (let i = 0; i < n; i++) cpuDecompress(c.codec, comp[i]!, Math.min(CHUNK, b.length - i * CHUNK));
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  const csize = comp.reduce((s, x) => s + x.length, 0);
  return {
    data: d.name,
    transform: d.transform,
    codec: c.codec,
    level: c.level ?? null,
    raw_MB: b.length / 1e6,
    compressed_MB: csize / 1e6,
    ratio: b.length / csize,
    entropy_bound_ratio: b.length / d.boundBytes,
    compress_MBps: b.length / 1e6 / cs,
    decompress_MBps: b.length / 1e6 / best,
  };
}

const t0 = Date.now();
const data = loadData();
const rows: Row[] = [];
for (const d of data)
  for (const c of CONFIGS) {
    const r = benchOne(d, c);
    rows.push(r);
    process.stderr.write(`${r.data} ${r.transform} ${r.codec}${r.level === null ? '' : ` ${r.level}`}: ratio ${r.ratio.toFixed(3)}, ${r.compress_MBps.toFixed(0)} / ${r.decompress_MBps.toFixed(0)} MB/s\n`);
  }

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const v = cpuCodecVersions();
const lines = [
  `### CPU codecs on ${MODEL === 'default' ? 'SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized)' : MODEL}`,
  '',
  `- date: ${new Date().toISOString()}`,
  `- command: \`node --import tsx scripts/bench-cpu-codecs.ts ${args.join(' ')}\``,
  `- machine: ${cpu}, ${os.availableParallelism()} cores, load average at end ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')} (other processes were running), Node ${process.version}`,
  `- libraries: zstd ${v.zstd}, lz4 ${v.lz4}, zlib ${v.zlib}, xxhash ${v.xxhash}; one thread; ${CHUNK}-byte chunks; best of ${REPS} (compress) / ${REPS + 1} (decompress) passes; MB = 10^6 raw bytes${SAMPLE_MB ? `; a ${SAMPLE_MB} MB sample (every k-th chunk) per data set` : ''}`,
  `- entropy bound = raw / Σ order-0 bound (per tensor${'; per plane for byteplane / exponent-split'}); ratio = raw / compressed chunks`,
  `- wall time ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  '',
  '| data | transform | codec | level | raw MB | compressed MB | ratio | entropy bound | compress MB/s | decompress MB/s |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.data} | ${r.transform} | ${r.codec} | ${r.level ?? '-'} | ${r.raw_MB.toFixed(1)} | ${r.compressed_MB.toFixed(1)} | ${r.ratio.toFixed(3)} | ${r.entropy_bound_ratio.toFixed(3)} | ${r.compress_MBps.toFixed(0)} | ${r.decompress_MBps.toFixed(0)} |`,
  ),
];
console.log(lines.join('\n'));
if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify({ date: new Date().toISOString(), args, rows }, null, 1));
