/**
 * Writes samples of the default model's weights for the GPU runs (run HERE, where data/models has the model):
 *   <out>/default-bf16.zst   bf16 of the first linear weights (GGUF Q4_1 dequantized exactly, rounded to bf16)
 *   <out>/default-int8.zst   int8 per-channel codes of the same weights (src/quant quantize 'int8:per-channel')
 *   <out>/samples.json       manifest (tensors, sizes)
 * The files are zstd-compressed with the CPU codec so that they travel cheaply (64 MiB limit on the carry).
 * Usage: node --import tsx scripts/gpu/make-samples.ts [--out .gpubuild/samples] [--mib 8]
 */
import fs from 'node:fs';
import path from 'node:path';
import { cpuCompress } from '../../src/codec/cpu.js';
import { f32ToBf16 } from '../../src/formats/dtypes.js';
import { openCheckpoint } from '../../src/model/checkpoint.js';
import { quantize } from '../../src/quant/quantize.js';
import { parseArgs, type SampleManifest } from './common.js';

const args = parseArgs(process.argv.slice(2));
const out = args.out ?? '.gpubuild/samples';
const budget = Number(args.mib ?? 8) * 2 ** 20; // bf16 bytes
fs.mkdirSync(out, { recursive: true });

const ck = openCheckpoint('default');
const names = ck.weights
  .list()
  .map((t) => t.name)
  .filter((n) => /^model\.layers\.\d+\..*_proj\.weight$/.test(n));
const bf: Uint8Array[] = [];
const i8: Uint8Array[] = [];
const used: string[] = [];
let bytes = 0;
for (const name of names) {
  if (bytes >= budget) break;
  const info = ck.weights.info(name);
  const w = ck.weights.readF32(name);
  const b = new Uint8Array(w.length * 2);
  for (let i = 0; i < w.length; i++) {
    const h = f32ToBf16(w[i]!);
    b[2 * i] = h & 0xff;
    b[2 * i + 1] = h >>> 8;
  }
  const q = quantize(w, [info.shape[0]!, info.shape[1]!], 'int8:per-channel');
  bf.push(b);
  i8.push(new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.byteLength));
  used.push(name);
  bytes += b.length;
}
ck.close();
const cat = (xs: Uint8Array[]) => {
  const o = new Uint8Array(xs.reduce((n, x) => n + x.length, 0));
  let off = 0;
  for (const x of xs) {
    o.set(x, off);
    off += x.length;
  }
  return o;
};
const bfAll = cat(bf);
const i8All = cat(i8);
fs.writeFileSync(path.join(out, 'default-bf16.zst'), cpuCompress('zstd', bfAll, { level: 19 }));
fs.writeFileSync(path.join(out, 'default-int8.zst'), cpuCompress('zstd', i8All, { level: 19 }));
const manifest: SampleManifest = {
  model: 'SmolLM2-135M-Instruct (Q4_1 GGUF, 4-bit-derived weights)',
  tensors: used,
  files: [
    { name: 'default-bf16', kind: 'bf16', file: 'default-bf16.zst', rawBytes: bfAll.length, codec: 'zstd', note: `${used.length} linear weights dequantized to bf16` },
    { name: 'default-int8', kind: 'int8', file: 'default-int8.zst', rawBytes: i8All.length, codec: 'zstd', note: `int8:per-channel codes of the same ${used.length} weights` },
  ],
};
fs.writeFileSync(path.join(out, 'samples.json'), JSON.stringify(manifest, null, 2));
console.log(`make-samples: ${used.length} tensors, bf16 ${bfAll.length} B, int8 ${i8All.length} B -> ${out}`);
