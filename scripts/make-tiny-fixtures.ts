/**
 * Writes the tiny random-weight HF fixtures whose PyTorch logits are stored in data/reference/ (see
 * scripts/reference/torch_logits.py). Deterministic: the same seeds give the same bytes.
 * Usage: node --import tsx scripts/make-tiny-fixtures.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { tinyConfig, syntheticWeights, writeHFModel } from '../src/model/synthetic.js';
import { packageRoot } from '../src/util/paths.js';

const root = path.join(packageRoot(), 'data', 'reference');
const cases = [
  { name: 'tiny-llama', config: tinyConfig({ ropeTheta: 10000 }), seed: 11 },
  {
    name: 'tiny-qwen2',
    config: tinyConfig({ architecture: 'qwen2', attentionBias: true, tieWordEmbeddings: true, numKvHeads: 1, ropeTheta: 1000000, rmsEps: 1e-6 }),
    seed: 12,
  },
];
for (const c of cases) {
  const dir = path.join(root, c.name);
  writeHFModel(dir, c.config, syntheticWeights(c.config, c.seed), 'f32');
  const ids = Array.from({ length: 12 }, (_, i) => (i * 37 + c.seed) % c.config.vocabSize);
  fs.writeFileSync(path.join(dir, 'ids.json'), JSON.stringify(ids));
  console.log(`wrote ${dir}`);
}
