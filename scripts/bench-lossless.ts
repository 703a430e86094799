/**
 * Lossless bf16/fp16 ratios on REAL float-trained weights (issue 14, item 4): all-mpnet-base-v2 (fp32 safetensors, an
 * encoder — sentence embeddings, 110 M parameters — fetched by scripts/fetch-mpnet.sh; the LLMs of this repo are
 * 4-bit-derived, so their rows say nothing about float weights). Every float tensor is cast to bf16 / fp16
 * (round to nearest even) and measured, all tensors together, as:
 *   lossless (ours)   CLLW v1 streams (native/src/common/lossless.h), rowsPerSeg 4 and 1, each round-tripped
 *                     bit-exactly through the reference decoder before it counts;
 *   order-0 bounds    of the layout (H(symbol) + 8 raw bits per weight) and of the whole 16-bit words;
 *   zstd-3            on the bytes as stored / byteplane / exponent-split (64 KiB chunks, as the .cllm);
 *   ZipNN             zipnn (pinned, scripts/setup-zipnn.sh: a venv under .cache/, never in CI) on the same bytes,
 *                     round-tripped, same run (skipped with a note when the venv is absent).
 * Ratios = compressed bytes / 16-bit bytes. Writes the table to stdout and, with --write, into BENCHMARKS.md between
 * the markers <!-- lossless-mpnet:begin --> / <!-- lossless-mpnet:end --> with date, machine, load average, command.
 *
 *   bash scripts/fetch-mpnet.sh && bash scripts/setup-zipnn.sh
 *   node --import tsx scripts/bench-lossless.ts [--model data/models/all-mpnet-base-v2/model.safetensors] [--write]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { losslessBound, losslessDecode, losslessEncode, type LosslessDtype } from '../src/codec/lossless.js';
import { cpuCompress } from '../src/codec/cpu.js';
import { applyTransform, type Transform } from '../src/codec/transforms.js';
import { f32ToBf16, f32ToF16 } from '../src/formats/dtypes.js';
import { openSafetensors } from '../src/formats/safetensors.js';

const args = process.argv.slice(2);
const opt = (k: string, d: string) => (args.includes(k) ? args[args.indexOf(k) + 1]! : d);
const MODEL = opt('--model', 'data/models/all-mpnet-base-v2/model.safetensors');
const WRITE = args.includes('--write');
const ZIPNN_PY = opt('--zipnn-python', '.cache/zipnn-venv/bin/python');
const CHUNK = 65536;

if (!fs.existsSync(MODEL)) {
  console.error(`codecllm: ${MODEL}: not found (bash scripts/fetch-mpnet.sh) [E_IO]`);
  process.exit(1);
}
const st = openSafetensors(MODEL);
const tensors = st.list().filter((t) => t.dtype === 'f32');
const notFloat = st.list().filter((t) => t.dtype !== 'f32');
const oddCols = tensors.filter((t) => (t.shape.at(-1) ?? 1) % 8 !== 0);
let params = 0;
for (const t of tensors) params += t.shape.reduce((a, b) => a * b, 1);
console.error(`${MODEL}: ${tensors.length} fp32 tensors, ${(params / 1e6).toFixed(1)} M parameters`);

interface Row {
  method: string;
  bf16: number;
  f16: number;
  note: string;
}
const sums: Record<string, Record<LosslessDtype, number>> = {};
const add = (k: string, d: LosslessDtype, v: number) => ((sums[k] ??= { bf16: 0, f16: 0 })[d] += v);
const ms: Record<string, number> = {};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'codecllm-lossless-'));
const zipIndex: { name: string; dtype: LosslessDtype; offset: number; bytes: number }[] = [];
const dumps: Record<LosslessDtype, number> = { bf16: 0, f16: 0 };
const fds: Record<LosslessDtype, number> = { bf16: fs.openSync(path.join(tmp, 'bf16.bin'), 'w'), f16: fs.openSync(path.join(tmp, 'f16.bin'), 'w') };

for (const t of tensors) {
  const f = st.readF32(t.name);
  const cols = t.shape.length ? t.shape[t.shape.length - 1]! : 1;
  const rows = f.length / cols;
  for (const dtype of ['bf16', 'f16'] as const) {
    const w = new Uint16Array(f.length);
    for (let i = 0; i < f.length; i++) w[i] = dtype === 'bf16' ? f32ToBf16(f[i]!) : f32ToF16(f[i]!);
    const bytes = new Uint8Array(w.buffer);
    add('raw', dtype, bytes.length);
    const b = losslessBound(dtype, w);
    add('bound-layout', dtype, b.layoutBytes);
    add('bound-word', dtype, b.wordBytes);
    if (cols % 8 === 0) {
      for (const rps of [4, 1, 16]) {
        const t0 = performance.now();
        const s = losslessEncode(dtype, rows, cols, w, rps);
        const t1 = performance.now();
        const back = losslessDecode(s, t.name);
        const t2 = performance.now();
        if (!Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(bytes))) throw new Error(`${t.name} ${dtype}: lossless round trip differs`);
        add(`lossless-rps${rps}`, dtype, s.length);
        ms[`enc-${rps}-${dtype}`] = (ms[`enc-${rps}-${dtype}`] ?? 0) + (t1 - t0);
        ms[`dec-${rps}-${dtype}`] = (ms[`dec-${rps}-${dtype}`] ?? 0) + (t2 - t1);
      }
    } else {
      for (const rps of [4, 1, 16]) add(`lossless-rps${rps}`, dtype, bytes.length); // stored as is (cols % 8 != 0)
    }
    const transforms: Transform[] = dtype === 'bf16' ? ['none', 'byteplane', 'exponent-split'] : ['none', 'byteplane'];
    for (const tr of transforms) {
      const x = applyTransform(tr, bytes, 2, dtype);
      let z = 0;
      for (let o = 0; o < x.length; o += CHUNK) z += Math.min(cpuCompress('zstd', x.subarray(o, o + CHUNK), { level: 3 }).length, Math.min(CHUNK, x.length - o));
      add(`zstd3-${tr}`, dtype, z);
    }
    fs.writeSync(fds[dtype], bytes);
    zipIndex.push({ name: t.name, dtype, offset: dumps[dtype], bytes: bytes.length });
    dumps[dtype] += bytes.length;
  }
}
fs.closeSync(fds.bf16);
fs.closeSync(fds.f16);

// ZipNN on the very same bytes, same run
let zipnnNote = '';
let zipnnVersion = '';
if (fs.existsSync(ZIPNN_PY)) {
  fs.writeFileSync(path.join(tmp, 'index.json'), JSON.stringify(zipIndex));
  const out = execFileSync(ZIPNN_PY, ['scripts/zipnn_ratio.py', tmp], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as { version: string; bf16: number; f16: number; msBf16: number; msF16: number };
  add('zipnn', 'bf16', r.bf16);
  add('zipnn', 'f16', r.f16);
  zipnnVersion = r.version;
} else zipnnNote = `ZipNN not measured: ${ZIPNN_PY} absent (bash scripts/setup-zipnn.sh)`;
fs.rmSync(tmp, { recursive: true, force: true });

const raw = sums.raw!;
const ratio = (k: string, d: LosslessDtype) => (sums[k] ? sums[k]![d] / raw[d] : NaN);
const mbps = (k: string, d: LosslessDtype) => ((raw[d] / 1e6) / ((ms[k] ?? NaN) / 1e3)).toFixed(0);
const rows: Row[] = [
  { method: 'lossless (ours, CLLW v1, rowsPerSeg 4)', bf16: ratio('lossless-rps4', 'bf16'), f16: ratio('lossless-rps4', 'f16'), note: `encode ${mbps('enc-4-bf16', 'bf16')} / reference decode ${mbps('dec-4-bf16', 'bf16')} MB/s (bf16, 1 thread, C++)` },
  { method: 'lossless (ours, CLLW v1, rowsPerSeg 1)', bf16: ratio('lossless-rps1', 'bf16'), f16: ratio('lossless-rps1', 'f16'), note: 'one warp per row: more GPU parallelism, more lane padding' },
  { method: 'lossless (ours, CLLW v1, rowsPerSeg 16)', bf16: ratio('lossless-rps16', 'bf16'), f16: ratio('lossless-rps16', 'f16'), note: 'taller segments: less lane padding, fewer warps' },
  { method: 'order-0 bound of the layout (H(symbol) + 8 raw bits)', bf16: ratio('bound-layout', 'bf16'), f16: ratio('bound-layout', 'f16'), note: 'what any order-0 coder of this symbol split can reach' },
  { method: 'order-0 bound of the 16-bit words', bf16: ratio('bound-word', 'bf16'), f16: ratio('bound-word', 'f16'), note: 'H(w) over 65536 symbols' },
  { method: 'ZipNN', bf16: ratio('zipnn', 'bf16'), f16: ratio('zipnn', 'f16'), note: zipnnNote || `zipnn ${zipnnVersion}, per tensor, round-tripped` },
  { method: 'zstd -3, bytes as stored (64 KiB chunks)', bf16: ratio('zstd3-none', 'bf16'), f16: ratio('zstd3-none', 'f16'), note: '' },
  { method: 'zstd -3, byteplane', bf16: ratio('zstd3-byteplane', 'bf16'), f16: ratio('zstd3-byteplane', 'f16'), note: '' },
  { method: 'zstd -3, exponent-split (bf16 only)', bf16: ratio('zstd3-exponent-split', 'bf16'), f16: NaN, note: '' },
];
const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '—');
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const cpu = os.cpus()[0]?.model ?? 'cpu';
const table = [
  `Model: all-mpnet-base-v2 (an ENCODER, float-trained, fp32 safetensors cast to bf16 / fp16; ${(params / 1e6).toFixed(1)} M parameters in ${tensors.length} tensors; not float, left out: ${notFloat.map((t) => t.name).join(', ') || 'none'}; columns not a multiple of 8, counted as stored in the lossless rows: ${oddCols.map((t) => `${t.name} [${t.shape.join(', ')}]`).join(', ') || 'none'}).`,
  `The LLM rows elsewhere in this file remain 4-bit-derived. Ratio = compressed / 16-bit bytes (lower is better); target for \`lossless\` bf16: ≤ 0.72.`,
  `Machine: ${cpu}, ${os.cpus().length} cores; ${date} UTC; load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}.`,
  `Command: \`bash scripts/fetch-mpnet.sh && bash scripts/setup-zipnn.sh && node --import tsx scripts/bench-lossless.ts --write\``,
  '',
  '| method | bf16 ratio | fp16 ratio | note |',
  '|---|---:|---:|---|',
  ...rows.map((r) => `| ${r.method} | ${fmt(r.bf16)} | ${fmt(r.f16)} | ${r.note} |`),
].join('\n');
console.log(table);
if (WRITE) {
  const file = 'BENCHMARKS.md';
  const begin = '<!-- lossless-mpnet:begin -->';
  const end = '<!-- lossless-mpnet:end -->';
  let md = fs.readFileSync(file, 'utf8');
  const block = `${begin}\n${table}\n${end}`;
  if (md.includes(begin) && md.includes(end)) md = md.slice(0, md.indexOf(begin)) + block + md.slice(md.indexOf(end) + end.length);
  else md += `\n## Lossless bf16/fp16 on real float weights (issue 14, item 4)\n\n${block}\n`;
  fs.writeFileSync(file, md);
  console.error(`written to ${file}`);
}
