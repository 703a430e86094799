/**
 * Write a named model shape as a sharded bf16 Hugging Face checkpoint (same as `codecllm make-shape`).
 * Usage: node --import tsx scripts/make-shape.ts <llama3.2-1b|llama3.1-8b|llama3.1-70b|tiny> <out-dir> [layers] [seed]
 * Example: node --import tsx scripts/make-shape.ts llama3.1-70b /data/shapes/70b-2l 2
 */
import { makeShape } from '../src/model/make-shape.js';
import { shapeByName } from '../src/model/shapes.js';

const [name, out, layers, seed] = process.argv.slice(2);
if (!name || !out) {
  process.stderr.write('usage: make-shape.ts <shape> <out-dir> [layers] [seed]\n');
  process.exit(2);
}
const shape = shapeByName(name, { layers: layers ? Number(layers) : undefined });
const t0 = performance.now();
const r = makeShape(shape, out, { seed: seed ? Number(seed) : 0, onProgress: (p) => process.stderr.write(`\r${p.tensors}/${p.totalTensors} tensors, ${(p.bytes / 1e9).toFixed(2)}/${(p.totalBytes / 1e9).toFixed(2)} GB`) });
process.stderr.write('\n');
console.log(JSON.stringify({ ...r, seconds: (performance.now() - t0) / 1000 }));
